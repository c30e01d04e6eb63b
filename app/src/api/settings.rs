//! Server functions of the Settings page: admins only, on the server (the navigation hides
//! the page from others, which is not a check). Saving is a sensitive change (sudo mode).

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::ConsoleError;
use crate::settings::Settings;

/// The settings in force.
#[server(input = Json)]
pub async fn read_settings() -> Result<Settings, ConsoleError> {
    let (backend, _) = super::admin().await?;
    backend.settings().await
}

/// Saves the settings; every process applies them within seconds.
#[server(input = Json)]
pub async fn save_settings(settings: Settings) -> Result<Settings, ConsoleError> {
    let (backend, by) = super::admin().await?;
    super::sudo().await?;
    backend.update_settings(by, settings).await
}

//! Trailkeep's shared crate: the typed model used by server and browser, and the console's
//! Leptos components. `ssr` builds the server half, `hydrate` the browser half. This file only
//! names the modules; the document and the routes are in `shell`.

// The console page's view types nest deeply.
#![recursion_limit = "512"]

pub mod account;
pub mod action;
pub mod alerts;
pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod chips;
pub mod chunks;
pub mod components;
pub mod console_state;
pub mod error;
pub mod exports;
pub mod filter;
pub mod format;
pub mod hydration;
pub mod integrity;
pub mod invitations;
pub mod keys;
pub mod live;
pub mod live_feed;
pub mod model;
pub mod pages;
pub mod patterns;
pub mod session;
pub mod settings;
pub mod shell;
pub mod time_zone;
pub mod two_factor;
pub mod users;

//! Logs go through `tracing`: one line per event on stderr, plain text or JSON
//! (`TRAILKEEP_LOG_FORMAT=json`, for log shippers), at `TRAILKEEP_LOG_LEVEL` (`error`, `warn`,
//! `info` — the default —, `debug`, `trace`). What a command prints as its result (a new key,
//! `verify`'s verdict) is its output, on stdout, not a log. No log line carries a secret: keys,
//! passwords and session ids are never passed to a log macro.

use tracing_subscriber::filter::LevelFilter;

/// Why the logger was not installed.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// `TRAILKEEP_LOG_LEVEL` is not a level (the value as given).
    #[error("TRAILKEEP_LOG_LEVEL={0:?}: one of error, warn, info, debug, trace")]
    Level(String),
    /// `TRAILKEEP_LOG_FORMAT` is not a format (the value as given).
    #[error("TRAILKEEP_LOG_FORMAT={0:?}: text (the default) or json")]
    Format(String),
    /// Another logger is installed already.
    #[error("cannot install the logger: {0}")]
    Install(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// Installs the process's logger from the environment; a bad setting is an error that says
/// which values it takes.
pub fn init() -> Result<(), LoggingError> {
    let level = match std::env::var("TRAILKEEP_LOG_LEVEL") {
        Err(_) => LevelFilter::INFO,
        Ok(v) => match v.trim().parse::<LevelFilter>() {
            Ok(level) => level,
            Err(_) => return Err(LoggingError::Level(v)),
        },
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false);
    let installed = match std::env::var("TRAILKEEP_LOG_FORMAT").as_deref() {
        Err(_) | Ok("text") => builder.try_init(),
        Ok("json") => builder.json().try_init(),
        Ok(other) => return Err(LoggingError::Format(other.to_string())),
    };
    installed.map_err(LoggingError::Install)
}

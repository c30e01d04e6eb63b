//! Logs go through `tracing`: one line per event on stderr, plain text or JSON
//! (`TRAILKEEP_LOG_FORMAT=json`, for log shippers), at `TRAILKEEP_LOG_LEVEL` (`error`, `warn`,
//! `info` — the default —, `debug`, `trace`). What a command prints as its result (a new key,
//! `verify`'s verdict) is its output, on stdout, not a log. No log line carries a secret: keys,
//! passwords and session ids are never passed to a log macro.

use tracing_subscriber::filter::LevelFilter;

/// Installs the process's logger from the environment; a bad setting is an error that says
/// which values it takes.
pub fn init() -> Result<(), String> {
    let level = match std::env::var("TRAILKEEP_LOG_LEVEL") {
        Err(_) => LevelFilter::INFO,
        Ok(v) => v.trim().parse::<LevelFilter>().map_err(|_| {
            format!("TRAILKEEP_LOG_LEVEL={v:?}: one of error, warn, info, debug, trace")
        })?,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false);
    let installed = match std::env::var("TRAILKEEP_LOG_FORMAT").as_deref() {
        Err(_) | Ok("text") => builder.try_init(),
        Ok("json") => builder.json().try_init(),
        Ok(other) => {
            return Err(format!(
                "TRAILKEEP_LOG_FORMAT={other:?}: text (the default) or json"
            ))
        }
    };
    installed.map_err(|e| format!("cannot install the logger: {e}"))
}

//! The log's signing key on disk: a file of two lines (the signing key, then the verifier
//! key), mode 0600, outside the database, created on first start. A key file that others may
//! read is refused, as ssh refuses one; so is a key for another log than the configured one.

use std::io::Write;
use std::path::Path;

use crate::domain::integrity::checkpoint::{SigningKey, VerifierKey};

/// Reads the key at `path`, or creates it for `origin` when there is none. `origin` `None`
/// takes the key's own name (or [`DEFAULT_ORIGIN`] for a new key).
pub fn load_or_create(path: &Path, origin: Option<&str>) -> Result<SigningKey, String> {
    match load(path) {
        Ok(key) => {
            if let Some(origin) = origin {
                if key.verifier().name() != origin {
                    return Err(format!(
                        "the key in {} signs for the log {:?}, but TRAILKEEP_LOG_ORIGIN is {origin:?}: \
                         unset it, or point TRAILKEEP_KEY_FILE at that log's key",
                        path.display(),
                        key.verifier().name()
                    ));
                }
            }
            Ok(key)
        }
        Err(Missing) => create(path, origin.unwrap_or(DEFAULT_ORIGIN)),
        Err(Other(e)) => Err(e),
    }
}

/// The origin of a new key when none is configured.
pub const DEFAULT_ORIGIN: &str = "trailkeep.localhost/log";

pub enum LoadError {
    Missing,
    Other(String),
}
use LoadError::{Missing, Other};

/// Reads an existing key file (refusing one others may read).
pub fn load(path: &Path) -> Result<SigningKey, LoadError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Missing),
        Err(e) => return Err(Other(format!("cannot read {}: {e}", path.display()))),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| Other(format!("{}: {e}", path.display())))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Other(format!(
                "{} may be read by others (mode {:o}): run chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            )));
        }
    }
    SigningKey::from_file(&text).map_err(|e| Other(format!("{}: {e}", path.display())))
}

fn create(path: &Path, origin: &str) -> Result<SigningKey, String> {
    let key = SigningKey::generate(origin, &mut rand_core::OsRng).map_err(|e| e.to_string())?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(key.to_file().as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            tracing::info!(
                path = %path.display(),
                verifier_key = key.verifier().as_str(),
                "created the log's signing key: keep the file safe and give auditors the verifier key"
            );
            Ok(key)
        }
        // Another process created it first: use that one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            load(path).map_err(|e| match e {
                Missing => format!("{} vanished while being created", path.display()),
                Other(e) => e,
            })
        }
        Err(e) => Err(format!(
            "cannot create the log's signing key at {}: {e} (set TRAILKEEP_KEY_FILE to a writable path)",
            path.display()
        )),
    }
}

/// A verifier key given on the command line: the key itself (`name+keyid+base64`), or a file
/// holding it (a key file's last line, or the output of `trailkeep key-info`).
pub fn verifier_arg(value: &str) -> Result<VerifierKey, String> {
    if let Ok(key) = VerifierKey::parse(value) {
        return Ok(key);
    }
    let text = std::fs::read_to_string(value).map_err(|e| {
        format!("--key {value:?} is neither a verifier key (name+keyid+base64) nor a readable file: {e}")
    })?;
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    VerifierKey::parse(last).map_err(|e| format!("{value}: {e}"))
}

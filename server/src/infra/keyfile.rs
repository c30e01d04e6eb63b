//! The log's signing key on disk: a file of two lines (the signing key, then the verifier
//! key), mode 0600, outside the database, created on first start. A key file that others may
//! read is refused, as ssh refuses one; so is a key for another log than the configured one.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::domain::integrity::checkpoint::{CheckpointError, SigningKey, VerifierKey};

/// Why the log's key could not be read, created or taken from the command line. Each message
/// names the file (or the `--key` value) and what to do; none holds the key itself.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The key file is another log's key than the configured origin's.
    #[error(
        "the key in {path} signs for the log {found:?}, but TRAILKEEP_LOG_ORIGIN is \
         {configured:?}: unset it, or point TRAILKEEP_KEY_FILE at that log's key"
    )]
    OtherLog {
        path: PathBuf,
        found: String,
        configured: String,
    },
    /// The key file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The key file's permissions cannot be read.
    #[error("{path}: {source}")]
    Metadata {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Others than its owner may read the key file (`mode`: its permission bits).
    #[error("{path} may be read by others (mode {mode:o}): run chmod 600 {path}")]
    Exposed { path: PathBuf, mode: u32 },
    /// The file does not hold a key (two lines that belong together).
    #[error("{path}: {source}")]
    NotAKeyFile {
        path: PathBuf,
        source: CheckpointError,
    },
    /// A new key cannot be made for the origin (not a valid log name).
    #[error(transparent)]
    Generate(CheckpointError),
    /// The new key file was created but could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Another process created the key file first, and it was gone when read.
    #[error("{path} vanished while being created")]
    Vanished { path: PathBuf },
    /// The key file cannot be created where it is configured.
    #[error(
        "cannot create the log's signing key at {path}: {source} (set TRAILKEEP_KEY_FILE to a \
         writable path)"
    )]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `--key` is not a verifier key, and no file of that name can be read.
    #[error(
        "--key {value:?} is neither a verifier key (name+keyid+base64) nor a readable file: \
         {source}"
    )]
    NotAVerifierKey {
        value: String,
        source: std::io::Error,
    },
    /// The file named by `--key` does not end with a verifier key.
    #[error("{value}: {source}")]
    BadVerifierKey {
        value: String,
        source: CheckpointError,
    },
}

/// Reads the key at `path`, or creates it for `origin` when there is none. `origin` `None`
/// takes the key's own name (or [`DEFAULT_ORIGIN`] for a new key).
pub fn load_or_create(path: &Path, origin: Option<&str>) -> Result<SigningKey, KeyFileError> {
    match load(path) {
        Ok(key) => {
            if let Some(origin) = origin {
                if key.verifier().name() != origin {
                    return Err(KeyFileError::OtherLog {
                        path: path.into(),
                        found: key.verifier().name().to_string(),
                        configured: origin.to_string(),
                    });
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

/// Why [`load`] returned no key: there is none, or the one there cannot be used.
#[derive(Debug)]
pub enum LoadError {
    Missing,
    Other(KeyFileError),
}
use LoadError::{Missing, Other};

/// Reads an existing key file (refusing one others may read).
pub fn load(path: &Path) -> Result<SigningKey, LoadError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Missing),
        Err(source) => {
            return Err(Other(KeyFileError::Read {
                path: path.into(),
                source,
            }))
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|source| {
                Other(KeyFileError::Metadata {
                    path: path.into(),
                    source,
                })
            })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Other(KeyFileError::Exposed {
                path: path.into(),
                mode: mode & 0o777,
            }));
        }
    }
    SigningKey::from_file(&text).map_err(|source| {
        Other(KeyFileError::NotAKeyFile {
            path: path.into(),
            source,
        })
    })
}

fn create(path: &Path, origin: &str) -> Result<SigningKey, KeyFileError> {
    let key =
        SigningKey::generate(origin, &mut rand_core::OsRng).map_err(KeyFileError::Generate)?;
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
                .map_err(|source| KeyFileError::Write {
                    path: path.into(),
                    source,
                })?;
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
                Missing => KeyFileError::Vanished { path: path.into() },
                Other(e) => e,
            })
        }
        Err(source) => Err(KeyFileError::Create {
            path: path.into(),
            source,
        }),
    }
}

/// A verifier key given on the command line: the key itself (`name+keyid+base64`), or a file
/// holding it (a key file's last line, or the output of `trailkeep key-info`).
pub fn verifier_arg(value: &str) -> Result<VerifierKey, KeyFileError> {
    if let Ok(key) = VerifierKey::parse(value) {
        return Ok(key);
    }
    let text = std::fs::read_to_string(value).map_err(|source| KeyFileError::NotAVerifierKey {
        value: value.to_string(),
        source,
    })?;
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    VerifierKey::parse(last).map_err(|source| KeyFileError::BadVerifierKey {
        value: value.to_string(),
        source,
    })
}

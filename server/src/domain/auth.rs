//! Secrets: password hashes (argon2id), session tokens and API keys (random, stored as SHA-256).

use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

pub const API_KEY_PREFIX: &str = "tk_";
pub const MIN_PASSWORD_LEN: usize = 10;

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters cannot fail")
        .to_string()
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Spends the time of a real verification, so an unknown email answers as slowly as a known one.
pub fn verify_password_against_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_password("not a real password"));
    let _ = verify_password(password, hash);
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// A new session token (sent to the browser once, stored only as its hash).
pub fn new_session_token() -> String {
    random_hex(32)
}

/// A new API key `tk_<64 hex>`; `prefix` identifies it in listings without revealing it.
pub struct NewApiKey {
    pub plaintext: String,
    pub prefix: String,
    pub hash: Vec<u8>,
}

pub fn new_api_key() -> NewApiKey {
    let plaintext = format!("{API_KEY_PREFIX}{}", random_hex(32));
    NewApiKey {
        prefix: plaintext[..API_KEY_PREFIX.len() + 8].to_string(),
        hash: sha256(plaintext.as_bytes()),
        plaintext,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Ingest,
    Read,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ingest" => Some(Scope::Ingest),
            "read" => Some(Scope::Read),
            _ => None,
        }
    }
}

/// Parses `ingest,read`.
pub fn parse_scopes(list: &str) -> Result<Vec<Scope>, String> {
    let mut scopes = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let scope =
            Scope::parse(part).ok_or_else(|| format!("unknown scope {part:?} (ingest, read)"))?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if scopes.is_empty() {
        return Err("at least one scope is needed (ingest, read)".into());
    }
    Ok(scopes)
}

/// Whether `next` is a path on this site (no open redirect to another origin).
pub fn is_local_path(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_round_trip() {
        let h = hash_password("correct horse battery");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "garbage"));
    }

    #[test]
    fn api_keys_are_random_and_hashed() {
        let a = new_api_key();
        let b = new_api_key();
        assert_ne!(a.plaintext, b.plaintext);
        assert_eq!(a.plaintext.len(), 3 + 64);
        assert!(a.plaintext.starts_with(&a.prefix));
        assert_eq!(a.hash, sha256(a.plaintext.as_bytes()));
    }

    #[test]
    fn scopes_parse() {
        assert_eq!(
            parse_scopes("ingest, read").unwrap(),
            vec![Scope::Ingest, Scope::Read]
        );
        assert!(parse_scopes("write").is_err());
        assert!(parse_scopes("").is_err());
    }

    #[test]
    fn only_local_redirects() {
        assert!(is_local_path("/audit?action=config.*"));
        for bad in [
            "https://evil.test",
            "//evil.test",
            "/\\evil.test",
            "audit",
            "/a\nb",
        ] {
            assert!(!is_local_path(bad), "{bad}");
        }
    }
}

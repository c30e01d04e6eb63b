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

/// What a key may do: one type with the console's.
pub use app::keys::Scope;

/// Whether an entry says that someone's access may have ended (a key revoked or rotated, a
/// user deactivated or demoted, a session ended by signing out; the password and session
/// actions of the account page to come): live streams then check their credentials at
/// once instead of at the next heartbeat. Only Trailkeep's own entries count: anyone with an
/// ingest key can send an entry named `key.revoked`, and even Trailkeep's is only a cue, never
/// the decision (that is the credentials' check against the database).
pub fn may_end_access(source: Option<&app::model::Source>, action: &str) -> bool {
    matches!(source, Some(app::model::Source::Trailkeep))
        && matches!(
            action,
            "key.revoked"
                | "key.rotated"
                | "user.deactivated"
                | "user.role_changed"
                | "user.password_changed"
                | "user.logout"
                | "session.revoked"
                | "2fa.reset"
                // The settings may now end sessions (shorter, or a second factor required).
                | "settings.updated"
        )
}

/// Parses `ingest,read`.
pub fn parse_scopes(list: &str) -> Result<Vec<Scope>, String> {
    let mut scopes = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let scope = Scope::parse(part)
            .ok_or_else(|| format!("unknown scope {part:?} (ingest, read, admin, import)"))?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if scopes.is_empty() {
        return Err("at least one scope is needed (ingest, read, admin, import)".into());
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
        // A history import sends events; it reads nothing.
        let import = parse_scopes("import").unwrap();
        assert_eq!(import, vec![Scope::Import]);
        assert!(Scope::Import.grants(Scope::Ingest));
        assert!(!Scope::Import.grants(Scope::Read));
        assert!(!Scope::Ingest.grants(Scope::Import));
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

/// What sign-in failures are counted against: the account found (its id), or, when no account
/// has the email typed, that email case-folded. Keyed on the account, the lockout follows
/// whichever account PostgreSQL matched, however the address was spelled (`İ`, upper case).
pub fn sign_in_account_key(account: Option<uuid::Uuid>, typed_email: &str) -> String {
    let key = match account {
        Some(id) => format!("account:{id}"),
        None => format!("email:{}", typed_email.trim().to_lowercase()),
    };
    hex::encode(sha256(key.as_bytes()))
}

/// The block a client's address counts in: the address itself for IPv4, its `/64` for IPv6
/// (one subscriber holds a whole /64, so rotating inside it gains nothing), as `inet` text.
pub fn address_block(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
    }
}

#[cfg(test)]
mod sign_in_keys {
    use super::*;

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let block = |s: &str| address_block(s.parse().unwrap());
        assert_eq!(block("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(block("2001:db8:1:2:ffff::9"), "2001:db8:1:2::/64");
        assert_ne!(block("2001:db8:1:3::1"), "2001:db8:1:2::/64");
        assert_eq!(block("::ffff:198.51.100.7"), "198.51.100.7");
        assert_eq!(block("198.51.100.7"), "198.51.100.7");
    }

    #[test]
    fn the_account_found_decides_not_its_spelling() {
        let id = uuid::Uuid::new_v4();
        assert_eq!(
            sign_in_account_key(Some(id), "victim@company.com"),
            sign_in_account_key(Some(id), "v\u{130}ctim@company.com")
        );
        assert_ne!(
            sign_in_account_key(None, "victim@company.com"),
            sign_in_account_key(Some(id), "victim@company.com")
        );
    }
}

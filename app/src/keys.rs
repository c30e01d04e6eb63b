//! API keys as the console shows and asks for them: one view of a key, its status at a moment,
//! and the rules a request to create or rotate one must meet. The server checks them (the
//! database checks them again, migrations/0022); the page uses the same words.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest key name, in characters.
pub const KEY_NAME_MAX: usize = 200;
/// Longest a rotated key's previous secret stays accepted.
pub const GRACE_MAX_HOURS: u32 = 7 * 24;
/// Furthest an expiry can be set, in days.
pub const EXPIRY_MAX_DAYS: u32 = 3650;

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Send events (`POST /api/v1/events`).
    Ingest,
    /// Read, count, export and watch the log.
    Read,
    /// Configure alerting as code: alert rules, notification channels, deliveries.
    Admin,
    /// Send a history of events that happened before (an import): everything `Ingest` may,
    /// and its entries being recorded long after they occurred is expected, so the detail
    /// panel says "Imported history" plainly instead of warning. Chosen when the key is made
    /// (a key's scopes never change), by an admin, never by what a sender writes.
    Import,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Ingest, Scope::Read, Scope::Admin, Scope::Import];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
            Scope::Import => "import",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ingest" => Some(Scope::Ingest),
            "read" => Some(Scope::Read),
            "admin" => Some(Scope::Admin),
            "import" => Some(Scope::Import),
            _ => None,
        }
    }

    /// Whether a key holding this scope may do what `asked` allows: its own, and for `Import`
    /// also sending events (`Ingest`).
    pub fn grants(self, asked: Scope) -> bool {
        self == asked || (self == Scope::Import && asked == Scope::Ingest)
    }
}

/// One API key as an admin sees it: never its secret, nor the secret's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<Scope>,
    /// The first characters of the current secret (`tk_` and 8 hex), to tell keys apart.
    pub prefix: String,
    /// Who created it (an email, or `trailkeep CLI`); none for keys older than migration 0022.
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When a request last authenticated with it (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub rotated_at: Option<DateTime<Utc>>,
    /// The previous secret's prefix and until when it is accepted, after a rotation.
    pub previous_prefix: Option<String>,
    pub previous_until: Option<DateTime<Utc>>,
}

/// A key's state at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    /// Rotated: the previous secret is still accepted until then.
    Rotating(DateTime<Utc>),
    Expired,
    Revoked,
}

impl KeyStatus {
    pub fn word(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Rotating(_) => "Rotating",
            KeyStatus::Expired => "Expired",
            KeyStatus::Revoked => "Revoked",
        }
    }

    /// Whether it is still accepted (and so can be rotated or revoked).
    pub fn is_live(self) -> bool {
        matches!(self, KeyStatus::Active | KeyStatus::Rotating(_))
    }
}

impl ApiKey {
    pub fn status(&self, now: DateTime<Utc>) -> KeyStatus {
        if self.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|e| e <= now) {
            KeyStatus::Expired
        } else {
            match self.previous_until {
                Some(until) if until > now => KeyStatus::Rotating(until),
                _ => KeyStatus::Active,
            }
        }
    }
}

/// A key with its new secret: the only time the secret is ever shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSecret {
    pub key: ApiKey,
    pub secret: String,
}

/// Why a key could not be created, rotated or revoked, in words that say what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyRefusal {
    NoName,
    NameTooLong,
    /// The name holds a control character (a tab, a line break).
    NameControl,
    NoScope,
    /// An expiry of 0 days, or beyond `EXPIRY_MAX_DAYS`.
    ExpiryOutOfRange,
    /// A grace beyond `GRACE_MAX_HOURS`.
    GraceTooLong,
    NotFound,
    /// Revoked or expired: such a key is never accepted again; create a new one.
    NotLive,
}

impl fmt::Display for KeyRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRefusal::NoName => {
                f.write_str("Give the key a name that says who uses it (\"Billing service\").")
            }
            KeyRefusal::NameTooLong => {
                write!(f, "A key name has at most {KEY_NAME_MAX} characters: shorten it.")
            }
            KeyRefusal::NameControl => {
                f.write_str("A key name is one line of text: remove tabs and line breaks.")
            }
            KeyRefusal::NoScope => f.write_str(
                "Choose what the key may do: ingest (send events), read (read and export the log), or both.",
            ),
            KeyRefusal::ExpiryOutOfRange => write!(
                f,
                "An expiry is 1 to {EXPIRY_MAX_DAYS} days from now, or none."
            ),
            KeyRefusal::GraceTooLong => write!(
                f,
                "The previous secret can stay valid for at most 7 days ({GRACE_MAX_HOURS} hours) after a rotation."
            ),
            KeyRefusal::NotFound => f.write_str("There is no such key: reload the page."),
            KeyRefusal::NotLive => f.write_str(
                "This key is revoked or expired and is never accepted again: create a new key.",
            ),
        }
    }
}

/// A key name as stored: trimmed, one line, 1 to 200 characters.
pub fn key_name(raw: &str) -> Result<String, KeyRefusal> {
    let name = raw.trim();
    if name.is_empty() {
        Err(KeyRefusal::NoName)
    } else if name.chars().count() > KEY_NAME_MAX {
        Err(KeyRefusal::NameTooLong)
    } else if name.contains(|c: char| c.is_control()) {
        Err(KeyRefusal::NameControl)
    } else {
        Ok(name.to_string())
    }
}

/// The scopes asked for, without repeats; at least one.
pub fn key_scopes(asked: &[Scope]) -> Result<Vec<Scope>, KeyRefusal> {
    let scopes: Vec<Scope> = Scope::ALL
        .into_iter()
        .filter(|s| asked.contains(s))
        .collect();
    if scopes.is_empty() {
        Err(KeyRefusal::NoScope)
    } else {
        Ok(scopes)
    }
}

/// When a key asked to expire in `days` expires (none: never).
pub fn key_expiry(
    now: DateTime<Utc>,
    days: Option<u32>,
) -> Result<Option<DateTime<Utc>>, KeyRefusal> {
    match days {
        None => Ok(None),
        Some(d) if (1..=EXPIRY_MAX_DAYS).contains(&d) => Ok(Some(now + Duration::days(d.into()))),
        Some(_) => Err(KeyRefusal::ExpiryOutOfRange),
    }
}

/// Until when a rotated key's previous secret is accepted (0 hours: refused at once).
pub fn grace_until(now: DateTime<Utc>, hours: u32) -> Result<DateTime<Utc>, KeyRefusal> {
    if hours > GRACE_MAX_HOURS {
        Err(KeyRefusal::GraceTooLong)
    } else {
        Ok(now + Duration::hours(hours.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ApiKey {
        ApiKey {
            id: Uuid::nil(),
            name: "k".into(),
            scopes: vec![Scope::Read],
            prefix: "tk_00000000".into(),
            created_by: None,
            created_at: DateTime::UNIX_EPOCH,
            last_used_at: None,
            expires_at: None,
            revoked_at: None,
            rotated_at: None,
            previous_prefix: None,
            previous_until: None,
        }
    }

    #[test]
    fn status_follows_revocation_then_expiry_then_rotation() {
        let now = DateTime::UNIX_EPOCH + Duration::days(10);
        let mut k = key();
        assert_eq!(k.status(now), KeyStatus::Active);
        k.previous_until = Some(now + Duration::hours(1));
        assert_eq!(k.status(now), KeyStatus::Rotating(now + Duration::hours(1)));
        // The grace end itself is past: "until" is exclusive, as the server's check is.
        assert_eq!(k.status(now + Duration::hours(1)), KeyStatus::Active);
        k.expires_at = Some(now);
        assert_eq!(k.status(now), KeyStatus::Expired);
        k.revoked_at = Some(now);
        assert_eq!(k.status(now), KeyStatus::Revoked);
        assert!(!k.status(now).is_live());
    }

    #[test]
    fn requests_are_checked_with_words_that_say_what_to_do() {
        assert_eq!(key_name("  Billing  ").unwrap(), "Billing");
        assert_eq!(key_name(" "), Err(KeyRefusal::NoName));
        assert_eq!(key_name("a\tb"), Err(KeyRefusal::NameControl));
        assert_eq!(key_name(&"é".repeat(200)).unwrap().chars().count(), 200);
        assert_eq!(key_name(&"é".repeat(201)), Err(KeyRefusal::NameTooLong));
        assert_eq!(key_scopes(&[]), Err(KeyRefusal::NoScope));
        assert_eq!(
            key_scopes(&[Scope::Read, Scope::Ingest, Scope::Read]).unwrap(),
            vec![Scope::Ingest, Scope::Read]
        );
        let now = DateTime::UNIX_EPOCH;
        assert_eq!(key_expiry(now, None), Ok(None));
        assert_eq!(key_expiry(now, Some(0)), Err(KeyRefusal::ExpiryOutOfRange));
        assert_eq!(
            key_expiry(now, Some(3651)),
            Err(KeyRefusal::ExpiryOutOfRange)
        );
        assert_eq!(key_expiry(now, Some(1)), Ok(Some(now + Duration::days(1))));
        assert_eq!(grace_until(now, 0), Ok(now));
        assert_eq!(grace_until(now, 168), Ok(now + Duration::days(7)));
        assert_eq!(grace_until(now, 169), Err(KeyRefusal::GraceTooLong));
    }
}

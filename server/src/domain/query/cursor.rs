//! Pagination cursors: opaque to clients, signed so they cannot be forged or edited, and bound
//! to the filter they were issued for. A cursor also pins the page snapshot (the highest `seq`
//! and the clock of the first page), so paging is exact while new entries arrive.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// Key of the last entry returned.
    pub occurred_at: DateTime<Utc>,
    pub seq: i64,
    /// Entries with `seq` at or above this were committed after the first page.
    pub seq_limit: i64,
    /// "now" of the first page, for relative ranges.
    pub now: DateTime<Utc>,
}

fn filter_digest(canonical_filter: &str) -> String {
    hex::encode(&Sha256::digest(canonical_filter.as_bytes())[..12])
}

fn mac(key: &[u8], text: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(text.as_bytes());
    hex::encode(&m.finalize().into_bytes()[..16])
}

impl Cursor {
    pub fn encode(&self, key: &[u8], canonical_filter: &str) -> String {
        let body = format!(
            "1.{}.{}.{}.{}.{}",
            filter_digest(canonical_filter),
            self.occurred_at.timestamp_micros(),
            self.seq,
            self.seq_limit,
            self.now.timestamp_micros()
        );
        let tag = mac(key, &body);
        format!("{body}.{tag}")
    }

    /// The cursor, if it is genuine and was issued for this filter.
    pub fn decode(text: &str, key: &[u8], canonical_filter: &str) -> Result<Cursor, &'static str> {
        let (body, tag) = text.rsplit_once('.').ok_or("is not a cursor")?;
        let expected = mac(key, body);
        // Constant-time comparison of the tags.
        if tag.len() != expected.len()
            || tag
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                != 0
        {
            return Err("is not a cursor this server issued (or it was altered)");
        }
        let parts: Vec<&str> = body.split('.').collect();
        let [version, digest, at, seq, seq_limit, now] = parts.as_slice() else {
            return Err("is not a cursor");
        };
        if *version != "1" {
            return Err("is from another version");
        }
        if *digest != filter_digest(canonical_filter) {
            return Err("belongs to another filter: start again without a cursor");
        }
        let micros = |s: &str| {
            s.parse::<i64>()
                .ok()
                .and_then(DateTime::from_timestamp_micros)
        };
        Ok(Cursor {
            occurred_at: micros(at).ok_or("is not a cursor")?,
            seq: seq.parse().map_err(|_| "is not a cursor")?,
            seq_limit: seq_limit.parse().map_err(|_| "is not a cursor")?,
            now: micros(now).ok_or("is not a cursor")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Cursor {
        Cursor {
            occurred_at: DateTime::from_timestamp_micros(1_764_064_800_123_456).unwrap(),
            seq: 42,
            seq_limit: 1000,
            now: DateTime::from_timestamp_micros(1_764_064_900_000_000).unwrap(),
        }
    }

    #[test]
    fn round_trips_for_its_filter_only() {
        let key = [7u8; 32];
        let text = sample().encode(&key, "status=failure");
        assert_eq!(Cursor::decode(&text, &key, "status=failure"), Ok(sample()));
        assert!(Cursor::decode(&text, &key, "status=success")
            .unwrap_err()
            .contains("another filter"));
        assert!(Cursor::decode(&text, &[8u8; 32], "status=failure").is_err());
    }

    #[test]
    fn edits_are_detected() {
        let key = [7u8; 32];
        let text = sample().encode(&key, "");
        let edited = text.replacen(".42.", ".43.", 1);
        assert_ne!(edited, text);
        assert!(Cursor::decode(&edited, &key, "").is_err());
        for junk in ["", ".", "abc", "1.2.3"] {
            assert!(Cursor::decode(junk, &key, "").is_err());
        }
    }
}

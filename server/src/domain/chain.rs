//! The hashed form of an entry and the chain over all entries.
//!
//! leaf_hash  = SHA-256(0x00 ‖ JCS(entry without its two hashes))
//! chain_hash = SHA-256(previous chain_hash ‖ leaf_hash), 32 zero bytes before seq 0.

use std::net::IpAddr;

use app::model::{ActorType, Status};
use chrono::{DateTime, Timelike, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::canonical;

pub type Hash = [u8; 32];
pub const GENESIS: Hash = [0u8; 32];

/// Every stored field of an entry except its two hashes: exactly what is hashed.
#[derive(Clone, Debug, PartialEq)]
pub struct EntryRecord {
    pub seq: i64,
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub actor_type: ActorType,
    pub actor_id: String,
    pub actor_name: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub status: Status,
    pub details: Value,
}

/// PostgreSQL keeps microseconds: hash what will be stored.
pub fn to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = t.nanosecond();
    t.with_nanosecond(nanos - nanos % 1_000).unwrap_or(t)
}

/// `2026-11-25T10:00:00.000000Z`: UTC, always six fractional digits.
pub fn canonical_timestamp(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl EntryRecord {
    pub fn category(&self) -> &str {
        app::model::action_category(&self.action)
    }

    /// The JSON object whose JCS serialisation is hashed.
    pub fn canonical_json(&self) -> Value {
        json!({
            "seq": self.seq,
            "id": self.id.to_string(),
            "occurred_at": canonical_timestamp(&self.occurred_at),
            "recorded_at": canonical_timestamp(&self.recorded_at),
            "actor_type": self.actor_type.as_str(),
            "actor_id": self.actor_id,
            "actor_name": self.actor_name,
            "actor_email": self.actor_email,
            "action": self.action,
            "category": self.category(),
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "ip": self.ip.map(|ip| ip.to_string()),
            "user_agent": self.user_agent,
            "status": self.status.as_str(),
            "details": self.details,
        })
    }

    pub fn canonical_bytes(&self) -> Vec<u8> {
        canonical::to_vec(&self.canonical_json())
    }

    pub fn leaf_hash(&self) -> Hash {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(self.canonical_bytes());
        h.finalize().into()
    }
}

pub fn chain_hash(previous: &Hash, leaf: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(leaf);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> EntryRecord {
        EntryRecord {
            seq: 0,
            id: Uuid::nil(),
            occurred_at: DateTime::from_timestamp(1_764_064_800, 123_456_789).unwrap(),
            recorded_at: DateTime::from_timestamp(1_764_064_801, 0).unwrap(),
            actor_type: ActorType::User,
            actor_id: "u_42".into(),
            actor_name: Some("Ada Admin".into()),
            actor_email: None,
            action: "config.updated".into(),
            resource_type: Some("config".into()),
            resource_id: Some("cfg_7".into()),
            ip: Some("203.0.113.7".parse().unwrap()),
            user_agent: None,
            status: Status::Success,
            details: json!({}),
        }
    }

    #[test]
    fn canonical_bytes_are_documented_form() {
        let mut r = record();
        r.occurred_at = to_micros(r.occurred_at);
        let text = String::from_utf8(r.canonical_bytes()).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"action":"config.updated","actor_email":null,"actor_id":"u_42","actor_name":"Ada Admin","#,
                r#""actor_type":"user","category":"config","details":{},"id":"00000000-0000-0000-0000-000000000000","#,
                r#""ip":"203.0.113.7","occurred_at":"2025-11-25T10:00:00.123456Z","recorded_at":"2025-11-25T10:00:01.000000Z","#,
                r#""resource_id":"cfg_7","resource_type":"config","seq":0,"status":"success","user_agent":null}"#
            )
        );
    }

    #[test]
    fn any_field_change_changes_leaf() {
        let base = record().leaf_hash();
        let mut r = record();
        r.status = Status::Failure;
        assert_ne!(r.leaf_hash(), base);
        let mut r = record();
        r.details = json!({"a": 1});
        assert_ne!(r.leaf_hash(), base);
        let mut r = record();
        r.seq = 1;
        assert_ne!(r.leaf_hash(), base);
    }

    #[test]
    fn chain_depends_on_order() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        assert_ne!(
            chain_hash(&chain_hash(&GENESIS, &a), &b),
            chain_hash(&chain_hash(&GENESIS, &b), &a)
        );
    }
}

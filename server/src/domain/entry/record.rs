//! An entry's stored fields, listed once. [`with_entry_fields!`] is the one list: the record
//! type and its canonical (hashed) form are generated from it here, and the INSERT, the SELECT
//! and the row decoding in `storage::entries`. A new field is one line below plus the migration
//! (and a [`Canonical`] / `storage::entries::Column` impl if its type is new).
//!
//! The hash covers stored facts only, under a versioned [`Form`]: form 2 (every entry since
//! provenance) is exactly the stored columns, `form` and `source` included; form 1 (entries
//! written before) is the stored columns without those two plus the `category` rule frozen in
//! [`v1_category`]. No hashed value is computed by code that may change later.

use std::net::IpAddr;

use app::model::{Actor, ActorType, AuditEntry, Resource, Source, Status};
use chrono::{DateTime, Timelike, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    canonical,
    chain::{self, Hash},
};

/// Calls `$then! { name: Type, … }` with every stored field of an entry except its two hashes,
/// in column order. Types are written with full paths: they are read where `$then` expands.
macro_rules! with_entry_fields {
    ($then:ident) => {
        $then! {
            seq: i64,
            id: ::uuid::Uuid,
            occurred_at: ::chrono::DateTime<::chrono::Utc>,
            recorded_at: ::chrono::DateTime<::chrono::Utc>,
            actor_type: ::app::model::ActorType,
            actor_id: String,
            actor_name: Option<String>,
            actor_email: Option<String>,
            action: String,
            resource_type: Option<String>,
            resource_id: Option<String>,
            ip: Option<::std::net::IpAddr>,
            user_agent: Option<String>,
            status: ::app::model::Status,
            details: ::serde_json::Value,
            form: crate::domain::entry::record::Form,
            source: Option<::app::model::Source>,
        }
    };
}
pub(crate) use with_entry_fields;

macro_rules! define_record {
    ($($field:ident: $ty:ty),* $(,)?) => {
        /// Every stored field of an entry except its two hashes: exactly what is hashed.
        #[derive(Clone, Debug, PartialEq)]
        pub struct EntryRecord {
            $(pub $field: $ty,)*
        }

        impl EntryRecord {
            /// The stored fields' names, in column order.
            pub const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// The JSON object whose JCS serialisation is hashed. Form 2: every field under
            /// its own name. Form 1: every field but `form` and `source`, and `category`.
            pub fn canonical_json(&self) -> Value {
                let mut object = Map::new();
                $(object.insert(stringify!($field).to_string(), Canonical::canonical(&self.$field));)*
                if self.form == Form::V1 {
                    object.remove("form");
                    object.remove("source");
                    object.insert("category".into(), Value::String(v1_category(&self.action).into()));
                }
                Value::Object(object)
            }
        }
    };
}
with_entry_fields!(define_record);

/// The version of the canonical form an entry's leaf hash covers (stored with the entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Entries written before provenance: no `source`, and a `category` derived by [`v1_category`].
    V1,
    /// Exactly the stored columns, `form` and `source` included.
    V2,
}

impl Form {
    /// The form of every entry appended now.
    pub const CURRENT: Form = Form::V2;

    pub fn number(self) -> i16 {
        match self {
            Form::V1 => 1,
            Form::V2 => 2,
        }
    }

    pub fn from_number(n: i16) -> Option<Form> {
        match n {
            1 => Some(Form::V1),
            2 => Some(Form::V2),
            _ => None,
        }
    }
}

/// The `category` hashed in form 1, frozen as it was when those entries were written (README):
/// `auth` for `2fa.*`, `auth.*`, `session.*`, `user.login`, `user.logout` and
/// `user.login_failed`; otherwise the part of `action` before the first `.`. It must never
/// change: the console's grouping (`app::action::action_category`) is free to.
pub fn v1_category(action: &str) -> &str {
    let first = action.split('.').next().unwrap_or(action);
    match (first, action) {
        ("2fa" | "auth" | "session", _) => "auth",
        (_, "user.login" | "user.logout" | "user.login_failed") => "auth",
        _ => first,
    }
}

/// A field's value in the canonical form (README, "Tamper evidence: the exact encoding").
pub trait Canonical {
    fn canonical(&self) -> Value;
}

impl Canonical for i64 {
    fn canonical(&self) -> Value {
        Value::from(*self)
    }
}

impl Canonical for String {
    fn canonical(&self) -> Value {
        Value::String(self.clone())
    }
}

impl Canonical for Uuid {
    fn canonical(&self) -> Value {
        Value::String(self.to_string())
    }
}

impl Canonical for DateTime<Utc> {
    fn canonical(&self) -> Value {
        Value::String(canonical_timestamp(self))
    }
}

impl Canonical for ActorType {
    fn canonical(&self) -> Value {
        Value::String(self.as_str().into())
    }
}

impl Canonical for Status {
    fn canonical(&self) -> Value {
        Value::String(self.as_str().into())
    }
}

impl Canonical for IpAddr {
    fn canonical(&self) -> Value {
        Value::String(self.to_string())
    }
}

impl Canonical for Value {
    fn canonical(&self) -> Value {
        self.clone()
    }
}

impl Canonical for Form {
    fn canonical(&self) -> Value {
        Value::from(self.number())
    }
}

impl Canonical for Source {
    fn canonical(&self) -> Value {
        Value::String(self.to_string())
    }
}

impl<T: Canonical> Canonical for Option<T> {
    fn canonical(&self) -> Value {
        self.as_ref().map_or(Value::Null, Canonical::canonical)
    }
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
    pub fn canonical_bytes(&self) -> Vec<u8> {
        canonical::to_vec(&self.canonical_json())
    }

    /// SHA-256(0x00 ‖ canonical bytes): see [`chain`].
    pub fn leaf_hash(&self) -> Hash {
        chain::leaf_hash(&self.canonical_bytes())
    }

    /// The API's view of the entry (nested actor and resource, hex leaf hash); `source_name`
    /// is the name of the key that sent it.
    pub fn into_entry(self, leaf_hash: &[u8], source_name: Option<String>) -> AuditEntry {
        let resource = match (self.resource_type, self.resource_id) {
            (Some(kind), Some(id)) => Some(Resource { kind, id }),
            _ => None,
        };
        AuditEntry {
            id: self.id,
            seq: self.seq,
            occurred_at: self.occurred_at,
            recorded_at: self.recorded_at,
            action: self.action,
            actor: Actor {
                kind: self.actor_type,
                id: self.actor_id,
                name: self.actor_name,
                email: self.actor_email,
            },
            resource,
            ip: self.ip.map(|ip| ip.to_string()),
            user_agent: self.user_agent,
            status: self.status,
            details: self.details,
            source: self.source,
            source_name,
            form: self.form.number(),
            leaf_hash: app::integrity::to_hex(leaf_hash),
        }
    }
}

impl EntryRecord {
    /// The record an entry of the API (or of an export) states: the inverse of
    /// [`EntryRecord::into_entry`], so that whoever holds an entry can recompute its leaf hash.
    pub fn from_entry(e: &AuditEntry) -> Result<Self, String> {
        let ip = match &e.ip {
            None => None,
            Some(ip) => Some(
                ip.parse::<IpAddr>()
                    .map_err(|_| format!("ip {ip:?} is not an IP address"))?,
            ),
        };
        let form =
            Form::from_number(e.form).ok_or_else(|| format!("form {} is unknown", e.form))?;
        Ok(EntryRecord {
            seq: e.seq,
            id: e.id,
            occurred_at: e.occurred_at,
            recorded_at: e.recorded_at,
            actor_type: e.actor.kind,
            actor_id: e.actor.id.clone(),
            actor_name: e.actor.name.clone(),
            actor_email: e.actor.email.clone(),
            action: e.action.clone(),
            resource_type: e.resource.as_ref().map(|r| r.kind.clone()),
            resource_id: e.resource.as_ref().map(|r| r.id.clone()),
            ip,
            user_agent: e.user_agent.clone(),
            status: e.status,
            details: e.details.clone(),
            form,
            source: e.source,
        })
    }
}

/// An entry as stored: its record and its two hashes, decoded once from a row
/// (`storage::entries`); a stored value Trailkeep never writes is a decoding error. Beside
/// them, the current name of the key in `source` (not part of the entry).
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEntry {
    pub record: EntryRecord,
    pub leaf_hash: Vec<u8>,
    pub chain_hash: Vec<u8>,
    pub source_name: Option<String>,
}

impl StoredEntry {
    pub fn into_entry(self) -> AuditEntry {
        self.record.into_entry(&self.leaf_hash, self.source_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
            form: Form::V2,
            source: Some(Source::Key(Uuid::from_u128(0xabc))),
        }
    }

    #[test]
    fn an_entry_gives_back_its_record_through_json() {
        let mut r = record();
        r.occurred_at = to_micros(r.occurred_at);
        r.details = json!({"n": 1.5, "list": [1, "two", null], "deep": {"x": true}});
        let entry = r
            .clone()
            .into_entry(&r.leaf_hash(), Some("key name".into()));
        let json = serde_json::to_string(&entry).unwrap();
        let back: AuditEntry = serde_json::from_str(&json).unwrap();
        let again = EntryRecord::from_entry(&back).unwrap();
        assert_eq!(again, r);
        assert_eq!(hex::encode(again.leaf_hash()), entry.leaf_hash);
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
                r#""actor_type":"user","details":{},"form":2,"id":"00000000-0000-0000-0000-000000000000","#,
                r#""ip":"203.0.113.7","occurred_at":"2025-11-25T10:00:00.123456Z","recorded_at":"2025-11-25T10:00:01.000000Z","#,
                r#""resource_id":"cfg_7","resource_type":"config","seq":0,"#,
                r#""source":"00000000-0000-0000-0000-000000000abc","status":"success","user_agent":null}"#
            )
        );
    }

    #[test]
    fn form_1_is_the_old_documented_form() {
        let mut r = record();
        r.occurred_at = to_micros(r.occurred_at);
        r.form = Form::V1;
        r.source = None;
        r.action = "user.login".into();
        let text = String::from_utf8(r.canonical_bytes()).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"action":"user.login","actor_email":null,"actor_id":"u_42","actor_name":"Ada Admin","#,
                r#""actor_type":"user","category":"auth","details":{},"id":"00000000-0000-0000-0000-000000000000","#,
                r#""ip":"203.0.113.7","occurred_at":"2025-11-25T10:00:00.123456Z","recorded_at":"2025-11-25T10:00:01.000000Z","#,
                r#""resource_id":"cfg_7","resource_type":"config","seq":0,"status":"success","user_agent":null}"#
            )
        );
    }

    #[test]
    fn v1_category_is_frozen() {
        for (action, category) in [
            ("user.login", "auth"),
            ("user.logout", "auth"),
            ("user.login_failed", "auth"),
            ("user.invited", "user"),
            ("2fa.enrolled", "auth"),
            ("auth.token_issued", "auth"),
            ("session.revoked", "auth"),
            ("config.updated", "config"),
            ("sessions.x", "sessions"),
        ] {
            assert_eq!(v1_category(action), category, "{action}");
        }
    }

    #[test]
    fn every_field_is_in_the_canonical_form() {
        let json = record().canonical_json();
        for field in EntryRecord::FIELDS {
            assert!(json.get(field).is_some(), "{field}");
        }
        assert_eq!(json.as_object().unwrap().len(), EntryRecord::FIELDS.len());
        let mut old = record();
        old.form = Form::V1;
        let json = old.canonical_json();
        assert!(json.get("source").is_none() && json.get("form").is_none());
        assert_eq!(
            json.as_object().unwrap().len(),
            EntryRecord::FIELDS.len() - 1
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
        let mut r = record();
        r.source = Some(Source::Trailkeep);
        assert_ne!(r.leaf_hash(), base);
        let mut r = record();
        r.form = Form::V1;
        assert_ne!(r.leaf_hash(), base);
    }
}

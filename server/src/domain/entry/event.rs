//! An event as a client sends it, and the rules it must meet before it is appended.

use std::net::IpAddr;

use app::action::validate_action;
use app::model::{ActorType, Source, Status};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    canonical,
    record::{to_micros, EntryRecord, Form},
};

pub const MAX_BATCH: usize = 1000;
pub const MAX_DETAILS_BYTES: usize = 64 * 1024;
pub const MAX_TEXT_LEN: usize = 512;
pub const MAX_USER_AGENT_LEN: usize = 2048;

/// A validated event, ready to be appended: the record it will be stored as, whose `seq`, `id`,
/// `recorded_at`, `source` (and `occurred_at` unless the client gave one) are set when it is
/// appended. Its source comes from whoever appends it, never from the event.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// A client-chosen id: retries with it are idempotent.
    pub id: Option<Uuid>,
    /// When it happened, as the client said; else it is the time it is recorded.
    pub occurred_at: Option<DateTime<Utc>>,
    pub record: EntryRecord,
}

impl NewEvent {
    /// A minimal event: everything optional left out.
    pub fn new(action: &str, actor_type: ActorType, actor_id: &str) -> Self {
        NewEvent {
            id: None,
            occurred_at: None,
            record: EntryRecord {
                seq: 0,
                id: Uuid::nil(),
                occurred_at: DateTime::UNIX_EPOCH,
                recorded_at: DateTime::UNIX_EPOCH,
                actor_type,
                actor_id: actor_id.to_string(),
                actor_name: None,
                actor_email: None,
                action: action.to_string(),
                resource_type: None,
                resource_id: None,
                ip: None,
                user_agent: None,
                status: Status::Success,
                details: Value::Object(Map::new()),
                form: Form::CURRENT,
                source: None,
            },
        }
    }

    /// The resource acted on.
    pub fn on(mut self, kind: &str, id: &str) -> Self {
        self.record.resource_type = Some(kind.to_string());
        self.record.resource_id = Some(id.to_string());
        self
    }

    /// The stored form at position `seq`, recorded at `recorded_at` from `source`.
    pub fn into_record(
        self,
        seq: i64,
        id: Uuid,
        recorded_at: DateTime<Utc>,
        source: Source,
    ) -> EntryRecord {
        EntryRecord {
            seq,
            id,
            occurred_at: to_micros(self.occurred_at.unwrap_or(recorded_at)),
            recorded_at: to_micros(recorded_at),
            form: Form::CURRENT,
            source: Some(source),
            ..self.record
        }
    }

    /// Whether a retry of this event from `source` matches what is stored. An omitted
    /// `occurred_at` defaulted to the first receive time, so it matches any stored time; the
    /// same id from another source is another event. An entry stored before provenance
    /// (form 1) has no source to compare.
    pub fn matches_stored(&self, stored: &EntryRecord, source: Source) -> bool {
        let same_source = match stored.form {
            Form::V1 => true,
            Form::V2 => stored.source == Some(source),
        };
        same_source
            && self
                .occurred_at
                .is_none_or(|t| to_micros(t) == stored.occurred_at)
            && EntryRecord {
                seq: stored.seq,
                id: stored.id,
                occurred_at: stored.occurred_at,
                recorded_at: stored.recorded_at,
                form: stored.form,
                source: stored.source,
                ..self.record.clone()
            } == *stored
    }
}

impl NewEvent {
    /// The event as a client sends it to `POST /api/v1/events`: [`parse_batch`] reads it back
    /// as the same event.
    pub fn to_input(&self) -> Value {
        let r = &self.record;
        let resource = match (&r.resource_type, &r.resource_id) {
            (Some(kind), Some(id)) => serde_json::json!({"type": kind, "id": id}),
            _ => Value::Null,
        };
        serde_json::json!({
            "id": self.id,
            "action": r.action,
            "actor": {"id": r.actor_id, "name": r.actor_name, "email": r.actor_email, "type": r.actor_type},
            "resource": resource,
            "ip": r.ip.map(|ip| ip.to_string()),
            "user_agent": r.user_agent,
            "status": r.status,
            "occurred_at": self.occurred_at.map(|t| t.to_rfc3339()),
            "details": r.details,
        })
    }
}

/// One reason an event of a batch was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub index: usize,
    pub field: String,
    pub message: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum BatchError {
    /// The body is neither an event object nor an array of them.
    Shape(String),
    Invalid(Vec<FieldError>),
}

/// Parses a request body: one event object, or an array of 1..=1000 of them.
pub fn parse_batch(body: &Value) -> Result<Vec<NewEvent>, BatchError> {
    let items: Vec<&Value> = match body {
        Value::Object(_) => vec![body],
        Value::Array(items) if items.is_empty() => {
            return Err(BatchError::Shape("the batch is empty".into()))
        }
        Value::Array(items) if items.len() > MAX_BATCH => {
            return Err(BatchError::Shape(format!(
                "a batch holds at most {MAX_BATCH} events, this one has {}",
                items.len()
            )))
        }
        Value::Array(items) => items.iter().collect(),
        _ => {
            return Err(BatchError::Shape(
                "the body must be an event object or an array of events".into(),
            ))
        }
    };
    let mut errors = Vec::new();
    let mut events = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let mut ctx = Ctx {
            index,
            errors: &mut errors,
        };
        if let Some(event) = parse_event(item, &mut ctx) {
            events.push(event);
        }
    }
    if errors.is_empty() {
        Ok(events)
    } else {
        Err(BatchError::Invalid(errors))
    }
}

struct Ctx<'a> {
    index: usize,
    errors: &'a mut Vec<FieldError>,
}

impl Ctx<'_> {
    fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            index: self.index,
            field: field.to_string(),
            message: message.into(),
        });
    }

    /// An optional string field: absent or null is None.
    fn text(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        field: &str,
        max: usize,
    ) -> Option<String> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                if s.chars().count() > max {
                    self.fail(field, format!("must be at most {max} characters"));
                    None
                } else if s.contains('\0') {
                    self.fail(field, "must not contain NUL characters");
                    None
                } else {
                    Some(s.clone())
                }
            }
            Some(_) => {
                self.fail(field, "must be a string");
                None
            }
        }
    }

    fn unknown_keys(&mut self, obj: &Map<String, Value>, allowed: &[&str], prefix: &str) {
        for key in obj.keys().filter(|k| !allowed.contains(&k.as_str())) {
            self.fail(&format!("{prefix}{key}"), "is not a known field");
        }
    }
}

const EVENT_FIELDS: &[&str] = &[
    "id",
    "action",
    "actor",
    "resource",
    "ip",
    "user_agent",
    "status",
    "occurred_at",
    "details",
];

fn parse_event(value: &Value, ctx: &mut Ctx) -> Option<NewEvent> {
    let Some(obj) = value.as_object() else {
        ctx.fail("", "must be an event object");
        return None;
    };
    let before = ctx.errors.len();
    ctx.unknown_keys(obj, EVENT_FIELDS, "");

    let id = match obj.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match Uuid::parse_str(s) {
            Ok(id) => Some(id),
            Err(_) => {
                ctx.fail("id", "must be a UUID");
                None
            }
        },
        Some(_) => {
            ctx.fail("id", "must be a UUID string");
            None
        }
    };

    let action = match obj.get("action") {
        Some(Value::String(a)) => {
            if let Err(msg) = validate_action(a) {
                ctx.fail("action", msg);
            }
            a.clone()
        }
        None | Some(Value::Null) => {
            ctx.fail("action", "is required");
            String::new()
        }
        Some(_) => {
            ctx.fail("action", "must be a string");
            String::new()
        }
    };

    let (actor_type, actor_id, actor_name, actor_email) = match obj.get("actor") {
        Some(Value::Object(actor)) => {
            ctx.unknown_keys(actor, &["id", "name", "email", "type"], "actor.");
            let actor_id = match actor.get("id") {
                Some(Value::String(s)) if s.trim().is_empty() => {
                    ctx.fail("actor.id", "must not be empty");
                    String::new()
                }
                Some(Value::String(_)) => ctx
                    .text(actor, "id", "actor.id", MAX_TEXT_LEN)
                    .unwrap_or_default(),
                None | Some(Value::Null) => {
                    ctx.fail("actor.id", "is required");
                    String::new()
                }
                Some(_) => {
                    ctx.fail("actor.id", "must be a string");
                    String::new()
                }
            };
            let kind = match actor.get("type") {
                None | Some(Value::Null) => ActorType::User,
                Some(Value::String(s)) => ActorType::parse(s).unwrap_or_else(|| {
                    ctx.fail("actor.type", "must be one of user, api_key, system");
                    ActorType::User
                }),
                Some(_) => {
                    ctx.fail("actor.type", "must be one of user, api_key, system");
                    ActorType::User
                }
            };
            let name = ctx.text(actor, "name", "actor.name", MAX_TEXT_LEN);
            let email = ctx.text(actor, "email", "actor.email", MAX_TEXT_LEN);
            (kind, actor_id, name, email)
        }
        None | Some(Value::Null) => {
            ctx.fail("actor", "is required (an object with at least an id)");
            (ActorType::User, String::new(), None, None)
        }
        Some(_) => {
            ctx.fail("actor", "must be an object");
            (ActorType::User, String::new(), None, None)
        }
    };

    let resource = match obj.get("resource") {
        None | Some(Value::Null) => None,
        Some(Value::Object(r)) => {
            ctx.unknown_keys(r, &["type", "id"], "resource.");
            let kind = ctx.text(r, "type", "resource.type", MAX_TEXT_LEN);
            let rid = ctx.text(r, "id", "resource.id", MAX_TEXT_LEN);
            match (kind, rid) {
                (Some(k), Some(i)) if !k.is_empty() && !i.is_empty() => Some((k, i)),
                _ => {
                    ctx.fail("resource", "needs a non-empty type and id");
                    None
                }
            }
        }
        Some(_) => {
            ctx.fail("resource", "must be an object {\"type\", \"id\"} or null");
            None
        }
    };

    let ip = match ctx.text(obj, "ip", "ip", 64) {
        None => None,
        Some(s) => match s.parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                ctx.fail("ip", "must be an IPv4 or IPv6 address");
                None
            }
        },
    };

    let user_agent = ctx.text(obj, "user_agent", "user_agent", MAX_USER_AGENT_LEN);

    let status = match obj.get("status") {
        None | Some(Value::Null) => Status::Success,
        Some(Value::String(s)) => Status::parse(s).unwrap_or_else(|| {
            ctx.fail("status", "must be success or failure");
            Status::Success
        }),
        Some(_) => {
            ctx.fail("status", "must be success or failure");
            Status::Success
        }
    };

    let occurred_at = match ctx.text(obj, "occurred_at", "occurred_at", 64) {
        None => None,
        Some(s) => match DateTime::parse_from_rfc3339(&s).map(|t| t.with_timezone(&Utc)) {
            Ok(t) => match storable_instant(t) {
                Ok(t) => Some(t),
                Err(why) => {
                    ctx.fail("occurred_at", why);
                    None
                }
            },
            Err(_) => {
                ctx.fail(
                    "occurred_at",
                    "must be an RFC 3339 timestamp, e.g. 2026-11-25T10:00:00Z",
                );
                None
            }
        },
    };

    let details = match obj.get("details") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(d @ Value::Object(_)) => {
            let size = serde_json::to_vec(d).map(|v| v.len()).unwrap_or(usize::MAX);
            if size > MAX_DETAILS_BYTES {
                ctx.fail(
                    "details",
                    format!("must be at most {MAX_DETAILS_BYTES} bytes of JSON, is {size}"),
                );
            } else if !canonical::numbers_are_exact(d) {
                ctx.fail(
                    "details",
                    "integers must lie within ±(2^53−1); send larger ones as strings",
                );
            } else if contains_nul(d) {
                ctx.fail("details", "must not contain NUL characters");
            }
            d.clone()
        }
        Some(_) => {
            ctx.fail("details", "must be a JSON object");
            Value::Null
        }
    };

    let (resource_type, resource_id) = resource.unzip();
    let mut event = NewEvent::new(&action, actor_type, &actor_id);
    event.id = id;
    event.occurred_at = occurred_at;
    event.record = EntryRecord {
        actor_name,
        actor_email,
        resource_type,
        resource_id,
        ip,
        user_agent,
        status,
        details,
        ..event.record
    };
    (ctx.errors.len() == before).then_some(event)
}

/// An instant PostgreSQL stores and returns exactly as it is hashed, or why not: a leap second
/// (chrono keeps second 60, PostgreSQL rolls it into the next minute) and a UTC year outside
/// 0001–9999 (PostgreSQL writes other years as `BC` or with more digits) are refused, so the
/// stored fields always give the leaf hash computed at ingest.
pub fn storable_instant(t: DateTime<Utc>) -> Result<DateTime<Utc>, &'static str> {
    use chrono::{Datelike, Timelike};
    if t.nanosecond() >= 1_000_000_000 {
        return Err(
            "must not be a leap second (second 60): send the next second, :00 of the \
                    next minute, instead",
        );
    }
    if !(1..=9999).contains(&t.year()) {
        return Err("must lie between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z (UTC)");
    }
    Ok(t)
}

fn contains_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}

#[cfg(test)]
#[path = "../../../../app/tests/support/seeded.rs"]
mod seeded;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    mod document {
        use super::*;
        use app::patterns;
        use proptest::prelude::*;

        /// A field's pattern, and where in an event its value goes.
        const FIELDS: &[(&str, &str, usize)] = &[
            ("action", patterns::ACTION, app::action::MAX_ACTION_LEN),
            ("ip", patterns::IP_ADDRESS, 64),
            ("occurred_at", patterns::INSTANT, 64),
            ("id", patterns::EVENT_ID, 36),
            ("user_agent", patterns::EVENT_TEXT, MAX_USER_AGENT_LEN),
            ("actor.id", patterns::ACTOR_ID, MAX_TEXT_LEN),
            ("actor.name", patterns::EVENT_TEXT, MAX_TEXT_LEN),
            ("resource.id", patterns::EVENT_TEXT, MAX_TEXT_LEN),
        ];

        fn event_with(field: &str, value: &str) -> Value {
            let mut event = json!({"action": "user.login", "actor": {"id": "u1"},
                                   "resource": {"type": "doc", "id": "d1"}});
            match field.split_once('.') {
                Some((outer, inner)) => event[outer][inner] = json!(value),
                None => event[field] = json!(value),
            }
            event
        }

        proptest! {
            #![proptest_config(crate::domain::entry::event::seeded::seeded(2048))]

            /// Whatever the document's pattern for a field matches (within its length), ingest
            /// accepts.
            #[test]
            fn ingest_accepts_what_the_document_promises(
                ((field, pattern, max), value) in proptest::sample::select(FIELDS).prop_flat_map(|f| {
                    let inner = &f.1[1..f.1.len() - 1];
                    (Just(f), proptest::string::string_regex(inner).unwrap())
                })
            ) {
                let value: String = value.chars().take(max).collect();
                // A value cut to its length may no longer match: such a case is rejected, and
                // counted (proptest fails past `max_global_rejects`), never passed silently.
                prop_assume!(regex::Regex::new(pattern).unwrap().is_match(&value) && !value.is_empty());
                let parsed = parse_batch(&event_with(field, &value));
                prop_assert!(parsed.is_ok(), "{field}={value:?}: {parsed:?}");
            }
        }
    }

    #[test]
    fn minimal_event_gets_defaults() {
        let events = parse_batch(&json!({"action": "user.login", "actor": {"id": "u1"}})).unwrap();
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert_eq!(e.record.actor_type, ActorType::User);
        assert_eq!(e.record.status, Status::Success);
        assert_eq!(e.record.details, json!({}));
        assert!(e.occurred_at.is_none() && e.id.is_none());
    }

    #[test]
    fn every_bad_field_is_reported_with_its_index() {
        let body = json!([
            {"action": "user.login", "actor": {"id": "u1"}},
            {"action": "nope", "actor": {"id": ""}, "ip": "999.1.1.1", "status": "ok",
             "occurred_at": "yesterday", "details": [1], "extra": 1, "id": "x"},
        ]);
        let Err(BatchError::Invalid(errors)) = parse_batch(&body) else {
            panic!("expected errors")
        };
        let fields: Vec<(usize, &str)> =
            errors.iter().map(|e| (e.index, e.field.as_str())).collect();
        for want in [
            "action",
            "actor.id",
            "ip",
            "status",
            "occurred_at",
            "details",
            "extra",
            "id",
        ] {
            assert!(fields.contains(&(1, want)), "missing {want} in {fields:?}");
        }
        assert!(fields.iter().all(|(i, _)| *i == 1));
    }

    #[test]
    fn batch_shape_rules() {
        assert!(matches!(parse_batch(&json!([])), Err(BatchError::Shape(_))));
        assert!(matches!(
            parse_batch(&json!("x")),
            Err(BatchError::Shape(_))
        ));
        let many: Vec<Value> = (0..1001)
            .map(|_| json!({"action": "a.b", "actor": {"id": "x"}}))
            .collect();
        assert!(matches!(
            parse_batch(&Value::Array(many)),
            Err(BatchError::Shape(_))
        ));
    }

    #[test]
    fn details_limits() {
        let big = "x".repeat(MAX_DETAILS_BYTES);
        let body = json!({"action": "a.b", "actor": {"id": "x"}, "details": {"k": big}});
        assert!(parse_batch(&body).is_err());
        let body =
            json!({"action": "a.b", "actor": {"id": "x"}, "details": {"n": 9007199254740993u64}});
        assert!(parse_batch(&body).is_err());
        let body = json!({"action": "a.b", "actor": {"id": "x\u{0}"}});
        assert!(parse_batch(&body).is_err());
    }

    #[test]
    fn the_input_form_parses_back_to_the_same_event() {
        let until = DateTime::parse_from_rfc3339("2026-11-25T00:00:00Z")
            .unwrap()
            .to_utc();
        let events: Vec<NewEvent> = crate::service::demo::events(2_000, until).collect();
        let inputs = Value::Array(
            events.iter().map(NewEvent::to_input).collect::<Vec<_>>()[..1000].to_vec(),
        );
        assert_eq!(parse_batch(&inputs).unwrap(), events[..1000]);
    }

    #[test]
    fn retry_matches_unless_content_differs() {
        let e = parse_batch(&json!({"action": "a.b", "actor": {"id": "x"}, "details": {"k": 1}}))
            .unwrap()
            .remove(0);
        let key = Source::Key(Uuid::from_u128(7));
        let stored = e.clone().into_record(5, Uuid::nil(), Utc::now(), key);
        assert!(e.matches_stored(&stored, key));
        let mut changed = e.clone();
        changed.record.details = json!({"k": 2});
        assert!(!changed.matches_stored(&stored, key));
        // The same id and content from another key is not a retry.
        assert!(!e.matches_stored(&stored, Source::Key(Uuid::from_u128(8))));
        assert!(!e.matches_stored(&stored, Source::Trailkeep));
    }
}

//! The shared typed model: what an audit entry is, for the server and the browser alike.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Who performed an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    User,
    ApiKey,
    System,
}

impl ActorType {
    pub const ALL: [ActorType; 3] = [ActorType::User, ActorType::ApiKey, ActorType::System];

    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "user",
            ActorType::ApiKey => "api_key",
            ActorType::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Whether the recorded action succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Success,
    Failure,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Failure => "failure",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Status::Success),
            "failure" => Some(Status::Failure),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: ActorType,
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Resource {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

/// One committed entry of the log, in the form the API and the console use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: Uuid,
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub action: String,
    pub actor: Actor,
    pub resource: Option<Resource>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub status: Status,
    /// Free-form JSON object; by convention `changes` = `{field: {before, after}}` and
    /// `request` = request metadata.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub details: serde_json::Value,
    /// SHA-256 leaf hash, lower-case hex.
    pub leaf_hash: String,
}

impl AuditEntry {
    /// The category of the action: the part before the first `.`.
    pub fn category(&self) -> &str {
        action_category(&self.action)
    }

    /// A one-line summary of `details` for the table.
    pub fn details_summary(&self) -> String {
        let Some(map) = self.details.as_object() else {
            return String::new();
        };
        if let Some(changes) = map.get("changes").and_then(|c| c.as_object()) {
            let fields: Vec<&str> = changes.keys().map(String::as_str).collect();
            return format!("changed {}", fields.join(", "));
        }
        map.iter()
            .filter(|(k, _)| k.as_str() != "request")
            .take(3)
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

/// The category of an action name: the part before the first `.`.
pub fn action_category(action: &str) -> &str {
    action.split('.').next().unwrap_or(action)
}

/// A console user's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Compliance,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Compliance => "compliance",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "compliance" => Some(Role::Compliance),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    /// Only admins and compliance officers may read the audit log.
    pub fn can_read_log(self) -> bool {
        matches!(self, Role::Admin | Role::Compliance)
    }
}

/// The signed-in console user, as the pages see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_is_first_segment() {
        assert_eq!(action_category("config.updated"), "config");
        assert_eq!(action_category("2fa.enrolled"), "2fa");
    }

    #[test]
    fn entry_json_has_api_field_names() {
        let e = AuditEntry {
            id: Uuid::nil(),
            seq: 3,
            occurred_at: DateTime::from_timestamp(0, 0).unwrap(),
            recorded_at: DateTime::from_timestamp(1, 0).unwrap(),
            action: "key.created".into(),
            actor: Actor {
                kind: ActorType::ApiKey,
                id: "k1".into(),
                name: None,
                email: None,
            },
            resource: Some(Resource {
                kind: "key".into(),
                id: "k2".into(),
            }),
            ip: None,
            user_agent: None,
            status: Status::Failure,
            details: serde_json::json!({}),
            leaf_hash: "ab".into(),
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["actor"]["type"], "api_key");
        assert_eq!(v["resource"]["type"], "key");
        assert_eq!(v["status"], "failure");
        assert_eq!(v["seq"], 3);
        assert_eq!(v["occurred_at"], "1970-01-01T00:00:00Z");
    }
}

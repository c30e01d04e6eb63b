//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document, generated from the routes'
//! annotations and the model's types. The types below only describe requests for the document
//! (the handlers read them with `app::filter` and `domain::entry::event`).

use serde::Serialize;
use serde_json::{json, Value};
use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi, ToSchema,
};

use app::model::{
    ActionCategory, ActionCount, Actor, ActorFacet, ActorType, ArchivedPart, AuditEntry, EntryPage,
    Resource, Status,
};

use crate::domain::{
    entry::canonical::MAX_SAFE_INTEGER,
    entry::event::{MAX_BATCH, MAX_TEXT_LEN, MAX_USER_AGENT_LEN},
};

/// The document's frame: its info, shared schemas, security schemes and tags. Its paths come
/// from the routes themselves (`super::api`), never from a list kept by hand.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Trailkeep",
        description = "A tamper-evident audit log: ingest events, query them with one shared filter."
    ),
    components(schemas(
        AuditEntry, Actor, ActorType, Resource, Status, ActorFacet, EntryPage, ActionCategory,
        ActionCount, ArchivedPart
    )),
    modifiers(&Security),
    tags((name = "ingest", description = "Appending events"), (name = "query", description = "Reading the log"), (name = "integrity", description = "Signed checkpoints and Merkle proofs: checking the log without trusting its operator"), (name = "exports", description = "Scheduled exports: schedules, the history of runs, and their archive bundles"), (name = "alerts", description = "Alerting as code: rules, notification channels, the alerts decided and the delivery log (admin scope to change)"))
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("tk_…")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("trailkeep_session"))),
        );
    }
}

/// One event to append. Only `action` and `actor.id` are required; no other keys.
#[derive(Serialize, ToSchema)]
pub struct EventInput {
    /// Two or more segments of [a-z0-9_] joined by '.', at most 128 characters.
    action: String,
    actor: ActorInput,
    resource: Option<Resource>,
    /// An IPv4 or IPv6 address.
    ip: Option<String>,
    user_agent: Option<String>,
    status: Option<Status>,
    /// RFC 3339; defaults to the receive time.
    occurred_at: Option<String>,
    /// A JSON object of at most 64 KiB of JSON; integers within ±(2^53−1), no NUL characters.
    #[schema(value_type = Option<Object>)]
    details: Option<serde_json::Value>,
    /// A client-chosen UUID makes retries idempotent.
    #[schema(value_type = Option<String>)]
    id: Option<uuid::Uuid>,
}

/// Who acted. `id` is required and not blank.
#[derive(Serialize, ToSchema)]
pub struct ActorInput {
    #[serde(rename = "type")]
    kind: Option<ActorType>,
    id: String,
    name: Option<String>,
    email: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum IngestBody {
    One(Box<EventInput>),
    Batch(Vec<EventInput>),
}

/// Writes each input's real constraints into the document: the filter parameters and the
/// event's fields get their patterns from `app::patterns` (utoipa's attributes take only
/// literals, and one place should state a rule), `tz` the zones this server's PostgreSQL knows.
/// A client (or a fuzzer) that sends what this document allows is never refused for it.
pub fn constrain(doc: &mut Value, time_zones: &[String]) {
    use app::filter::MAX_VALUES;
    use app::patterns;
    let text = |pattern: &str, max: usize| json!({"type": "string", "pattern": pattern, "minLength": 1, "maxLength": max});
    let many = |item: Value| json!({"type": "array", "items": item, "minItems": 1, "maxItems": MAX_VALUES});
    let mut filter: Vec<(&str, Value)> = patterns::FILTER_VALUES
        .iter()
        .map(|&(name, pattern, max)| {
            let mut schema = text(pattern, max);
            if name == "q" {
                schema["minLength"] = json!(0); // an empty search is no search
            }
            let repeatable = matches!(name, "user" | "action") || name.starts_with("not_");
            (name, if repeatable { many(schema) } else { schema })
        })
        .collect();
    filter.push(("tz", json!({"$ref": "#/components/schemas/TimeZone"})));
    if let Some(paths) = doc["paths"].as_object_mut() {
        for operation in paths.values_mut().filter_map(Value::as_object_mut) {
            for op in operation.values_mut() {
                let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
                    continue;
                };
                // Only the operations that take the filter (they take every filter parameter).
                let takes_filter = app::filter::FILTER_PARAMS
                    .iter()
                    .all(|name| params.iter().any(|p| p["name"] == *name));
                if !takes_filter {
                    continue;
                }
                for p in params.iter_mut().filter(|p| p["in"] == "query") {
                    if let Some((_, schema)) = filter.iter().find(|(n, _)| p["name"] == *n) {
                        p["schema"] = schema.clone();
                    }
                }
            }
        }
    }

    let schemas = &mut doc["components"]["schemas"];
    schemas["TimeZone"] = json!({
        "type": "string",
        "description": "A time zone name from this server's PostgreSQL (pg_timezone_names).",
        "enum": time_zones,
    });
    // Details: any JSON object whose integers are exact as doubles and whose text has no NUL.
    schemas["DetailValue"] = json!({"anyOf": [
        {"type": "null"},
        {"type": "boolean"},
        {"type": "string", "pattern": patterns::EVENT_TEXT},
        {"type": "integer", "minimum": -(MAX_SAFE_INTEGER as i64), "maximum": MAX_SAFE_INTEGER},
        {"type": "number", "not": {"type": "integer"}},
        {"type": "array", "items": {"$ref": "#/components/schemas/DetailValue"}},
        {"$ref": "#/components/schemas/Details"},
    ]});
    schemas["Details"] = json!({
        "type": "object",
        "description": "At most 64 KiB of JSON.",
        "propertyNames": {"pattern": patterns::EVENT_TEXT},
        "additionalProperties": {"$ref": "#/components/schemas/DetailValue"},
    });
    let optional_text = |pattern: &str, max: usize| json!({"type": ["string", "null"], "pattern": pattern, "maxLength": max});
    let event = &mut schemas["EventInput"];
    event["additionalProperties"] = json!(false);
    let fields = &mut event["properties"];
    fields["action"] = text(patterns::ACTION, app::action::MAX_ACTION_LEN);
    fields["ip"] = optional_text(patterns::IP_ADDRESS, 64);
    fields["occurred_at"] = optional_text(patterns::INSTANT, 64);
    fields["id"] = optional_text(patterns::EVENT_ID, 36);
    fields["user_agent"] = optional_text(patterns::EVENT_TEXT, MAX_USER_AGENT_LEN);
    fields["details"] =
        json!({"anyOf": [{"type": "null"}, {"$ref": "#/components/schemas/Details"}]});
    fields["resource"] = json!({"anyOf": [{"type": "null"}, {
        "type": "object",
        "required": ["type", "id"],
        "additionalProperties": false,
        "properties": {
            "type": text(patterns::EVENT_TEXT, MAX_TEXT_LEN),
            "id": text(patterns::EVENT_TEXT, MAX_TEXT_LEN),
        },
    }]});
    if let Some(variants) = schemas["IngestBody"]["oneOf"].as_array_mut() {
        for batch in variants.iter_mut().filter(|v| v["type"] == "array") {
            batch["minItems"] = json!(1);
            batch["maxItems"] = json!(MAX_BATCH);
        }
    }
    let actor = &mut schemas["ActorInput"];
    actor["additionalProperties"] = json!(false);
    actor["properties"]["id"] = text(patterns::ACTOR_ID, MAX_TEXT_LEN);
    actor["properties"]["name"] = optional_text(patterns::EVENT_TEXT, MAX_TEXT_LEN);
    actor["properties"]["email"] = optional_text(patterns::EVENT_TEXT, MAX_TEXT_LEN);
}

#[cfg(test)]
mod tests {
    use app::filter::{FilterQuery, Order, RelativeRange, FILTER_PARAMS};
    use utoipa::{IntoParams, PartialSchema};

    fn values(schema: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>) -> Vec<String> {
        let doc = serde_json::to_value(schema).unwrap();
        doc["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    /// The filter's documented parameters are the ones its parser reads (`FilterQuery::set`
    /// matches on these names), with the values the parser's types accept.
    #[test]
    fn the_documented_filter_is_the_parsed_one() {
        let mut names: Vec<String> = FilterQuery::into_params(|| None)
            .into_iter()
            .map(|p| p.name)
            .collect();
        names.sort();
        assert_eq!(names, FILTER_PARAMS);
        let ranges: Vec<String> = RelativeRange::ALL
            .iter()
            .map(|r| r.as_str().to_string())
            .collect();
        assert_eq!(values(RelativeRange::schema()), ranges);
        assert_eq!(values(Order::schema()), Order::ALL.map(Order::as_str));
    }
}

//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document, generated from the routes'
//! annotations and the model's types. The types below only describe requests for the document
//! (the handlers read them with `app::filter` and `domain::event`).

use serde::Serialize;
use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    IntoParams, Modify, OpenApi, ToSchema,
};

use app::model::{
    ActionCategory, ActionCount, Actor, ActorFacet, ActorType, AuditEntry, EntryPage, Resource,
    Status,
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
        ActionCount
    )),
    modifiers(&Security),
    tags((name = "ingest", description = "Appending events"), (name = "query", description = "Reading the log"))
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

/// The filter's query parameters (see `app::filter`); repeatable ones combine with OR.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FilterParams {
    /// Actor id, email (case-insensitive) or name, exactly. Repeatable.
    user: Option<Vec<String>>,
    /// `user.login`, or `config.*` for every action under `config.`. Repeatable.
    action: Option<Vec<String>>,
    /// RFC 3339 instant or YYYY-MM-DD (inclusive).
    from: Option<String>,
    /// RFC 3339 instant (exclusive) or YYYY-MM-DD (the whole day).
    to: Option<String>,
    /// 15m, 1h, 24h, 7d, 30d or 90d back from now; not with from/to.
    range: Option<String>,
    /// IANA zone for dates (default UTC).
    tz: Option<String>,
    /// Case-insensitive substring of actor, action, resource, IP, user agent and details.
    q: Option<String>,
    /// `type:id`, `type:*` or a bare id.
    resource: Option<String>,
    /// success or failure.
    status: Option<String>,
    /// An address or CIDR block.
    ip: Option<String>,
    /// Who recorded the entry: `trailkeep`, or the id of the API key that ingested it.
    source: Option<String>,
    /// desc (default, newest first) or asc.
    order: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageParams {
    /// 1..1000, default 100.
    limit: Option<i64>,
    /// `next_cursor` of the previous page, with the same filter.
    cursor: Option<String>,
}

/// One event to append. Only `action` and `actor.id` are required.
#[derive(Serialize, ToSchema)]
pub struct EventInput {
    /// Two or more segments of [a-z0-9_] joined by '.', at most 128 characters.
    action: String,
    actor: Actor,
    resource: Option<Resource>,
    ip: Option<String>,
    user_agent: Option<String>,
    status: Option<Status>,
    /// RFC 3339; defaults to the receive time.
    occurred_at: Option<String>,
    /// A JSON object of at most 64 KiB; integers within ±(2^53−1).
    #[schema(value_type = Object)]
    details: Option<serde_json::Value>,
    /// A client-chosen UUID makes retries idempotent.
    id: Option<uuid::Uuid>,
}

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum IngestBody {
    One(Box<EventInput>),
    Batch(Vec<EventInput>),
}

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

/// The filter's query parameters (see `app::filter`); repeatable ones combine with OR. What
/// one parameter alone must be is stated here; rules across parameters (`range` not with
/// `from`/`to`, `from` not after `to`) are checked by the server with a 400 naming the parameter.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FilterParams {
    /// Actor id, email (case-insensitive) or name, exactly. Repeatable, at most 50.
    #[param(min_items = 1, max_items = 50)]
    user: Option<Vec<String>>,
    /// `user.login`, or `config.*` for every action under `config.`. Repeatable, at most 50.
    #[param(min_items = 1, max_items = 50)]
    action: Option<Vec<String>>,
    /// RFC 3339 instant or YYYY-MM-DD (inclusive).
    #[param(min_length = 1)]
    from: Option<String>,
    /// RFC 3339 instant (exclusive) or YYYY-MM-DD (the whole day).
    #[param(min_length = 1)]
    to: Option<String>,
    /// Back from now; not with from/to.
    #[param(inline)]
    range: Option<RangeParam>,
    /// IANA zone for dates (default UTC).
    #[param(min_length = 1)]
    tz: Option<String>,
    /// Case-insensitive substring of actor, action, resource, IP, user agent and details.
    #[param(max_length = 256)]
    q: Option<String>,
    /// `type:id`, `type:*` or a bare id.
    #[param(min_length = 1, max_length = 256)]
    resource: Option<String>,
    #[param(inline)]
    status: Option<Status>,
    /// An address or CIDR block.
    #[param(min_length = 1)]
    ip: Option<String>,
    /// Who recorded the entry: `trailkeep`, or the id of the API key that ingested it.
    #[param(
        pattern = r"^\s*(trailkeep|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\s*$"
    )]
    source: Option<String>,
    /// Newest first (default) or oldest first.
    #[param(inline)]
    order: Option<OrderParam>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum RangeParam {
    #[serde(rename = "15m")]
    Minutes15,
    #[serde(rename = "1h")]
    Hour1,
    #[serde(rename = "24h")]
    Hours24,
    #[serde(rename = "7d")]
    Days7,
    #[serde(rename = "30d")]
    Days30,
    #[serde(rename = "90d")]
    Days90,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum OrderParam {
    Desc,
    Asc,
}

/// `format=` of an export.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ExportFormat {
    Csv,
    Json,
    Ndjson,
    Pdf,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageParams {
    /// Default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page, with the same filter.
    #[param(min_length = 1)]
    cursor: Option<String>,
}

/// One event to append. Only `action` and `actor.id` are required; no other keys.
#[derive(Serialize, ToSchema)]
pub struct EventInput {
    /// Two or more segments of [a-z0-9_] joined by '.', at most 128 characters.
    #[schema(pattern = r"^[a-z0-9_]+(\.[a-z0-9_]+)+$", max_length = 128)]
    action: String,
    actor: ActorInput,
    resource: Option<Resource>,
    /// An IPv4 or IPv6 address.
    #[schema(min_length = 2, max_length = 45)]
    ip: Option<String>,
    #[schema(max_length = 2048)]
    user_agent: Option<String>,
    status: Option<Status>,
    /// RFC 3339; defaults to the receive time.
    #[schema(min_length = 1)]
    occurred_at: Option<String>,
    /// A JSON object of at most 64 KiB; integers within ±(2^53−1).
    #[schema(value_type = Object)]
    details: Option<serde_json::Value>,
    /// A client-chosen UUID makes retries idempotent.
    #[schema(
        value_type = Option<String>,
        pattern = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
    )]
    id: Option<uuid::Uuid>,
}

/// Who acted. `id` is required and not blank.
#[derive(Serialize, ToSchema)]
pub struct ActorInput {
    #[serde(rename = "type")]
    kind: Option<ActorType>,
    #[schema(min_length = 1, max_length = 512, pattern = r"\S")]
    id: String,
    #[schema(max_length = 512)]
    name: Option<String>,
    #[schema(max_length = 512)]
    email: Option<String>,
}

/// `format=json`: what the export is, every entry, and their count.
#[derive(Serialize, ToSchema)]
pub struct JsonExport {
    export: ExportHead,
    entries: Vec<AuditEntry>,
    count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ExportHead {
    format_version: i64,
    generated_at: String,
    /// The filter in its canonical form.
    filter: String,
    /// The user or key that asked for it.
    generated_by: String,
}

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum IngestBody {
    One(Box<EventInput>),
    Batch(Vec<EventInput>),
}

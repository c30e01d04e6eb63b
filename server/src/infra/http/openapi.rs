//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document, generated from the handlers'
//! annotations and the model's types. The types below only describe bodies for the document.

use axum::Json;
use serde::Serialize;
use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    IntoParams, Modify, OpenApi, ToSchema,
};

use app::model::{
    ActionCategory, ActionCount, Actor, ActorFacet, ActorType, AuditEntry, EntryPage, Resource,
    Status,
};

use crate::storage::entries::Appended;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Trailkeep",
        description = "A tamper-evident audit log: ingest events, query them with one shared filter."
    ),
    paths(
        super::ingest::post_events,
        super::query::list,
        super::query::count,
        super::query::one,
        super::query::facet_users,
        super::query::facet_actions,
    ),
    components(schemas(
        AuditEntry, Actor, ActorType, Resource, Status, Appended, ActorFacet, EntryPage,
        ActionCategory, ActionCount
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

pub async fn document(
    axum::extract::State(state): axum::extract::State<super::AppState>,
    headers: axum::http::HeaderMap,
    extensions: axum::http::Extensions,
) -> Result<Json<utoipa::openapi::OpenApi>, super::error::ApiError> {
    super::client::require_known(&state, &headers, &extensions).await?;
    Ok(Json(ApiDoc::openapi()))
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

#[derive(Serialize, ToSchema)]
pub struct Acks {
    entries: Vec<Appended>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    error: String,
    /// The request parameter at fault, when there is one.
    param: Option<String>,
    /// Per-event problems of a refused batch: `{index, field, message}`.
    #[schema(value_type = Option<Vec<Object>>)]
    details: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct Count {
    count: i64,
    /// The canonical form of the filter counted.
    filter: String,
}

#[derive(Serialize, ToSchema)]
pub struct UserFacets {
    users: Vec<ActorFacet>,
}

#[derive(Serialize, ToSchema)]
pub struct ActionFacets {
    categories: Vec<ActionCategory>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_openapi_3_1_with_every_route_and_every_filter_parameter() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        for path in [
            "/api/v1/events",
            "/api/v1/events/count",
            "/api/v1/events/{id}",
            "/api/v1/facets/users",
            "/api/v1/facets/actions",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{path}");
        }
        assert!(doc["paths"]["/api/v1/events"]["post"].is_object());
        // The documented filter parameters are exactly the Filter's.
        let mut documented: Vec<String> = doc["paths"]["/api/v1/events/count"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        documented.sort();
        assert_eq!(
            documented,
            app::filter::FILTER_PARAMS.map(String::from).to_vec()
        );
    }
}

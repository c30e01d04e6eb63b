//! The read API: `GET /api/v1/events` (keyset pages), `/events/count`, `/events/{id}` and the
//! facets for the pickers. Session users need role admin or compliance; keys need scope `read`.

use app::filter::Filter;
use app::model::{ActionCategory, ActorFacet, AuditEntry, EntryPage};
use axum::{
    extract::{Path, RawQuery, State},
    http::StatusCode,
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    auth::Reader,
    error::{ApiError, ErrorBody, Refused},
    params::{self, Params},
    AppState,
};
use crate::storage::query::{self, QueryError};

/// `GET /events/count`.
#[derive(Serialize, ToSchema)]
pub struct Count {
    pub count: i64,
    /// The canonical form of the filter counted.
    pub filter: String,
}

/// `GET /facets/users`.
#[derive(Serialize, ToSchema)]
pub struct UserFacets {
    pub users: Vec<ActorFacet>,
}

/// `GET /facets/actions`.
#[derive(Serialize, ToSchema)]
pub struct ActionFacets {
    pub categories: Vec<ActionCategory>,
}

pub const DEFAULT_LIMIT: i64 = 100;

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Filter(f) => ApiError::from(f),
            QueryError::TooSlow => ApiError::too_slow(),
            QueryError::Db(e) => ApiError::database(e),
        }
    }
}

impl From<app::filter::FilterError> for ApiError {
    fn from(f: app::filter::FilterError) -> Self {
        ApiError::bad_request(f.to_string()).with_param(&f.param)
    }
}

/// A page's size and where it starts, beside the filter.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page, with the same filter.
    #[param(min_length = 1)]
    cursor: Option<String>,
}

/// Entries matching the filter, one keyset page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "query",
    params(app::filter::params::FilterQuery, PageQuery),
    responses(
        (status = 200, description = "A page and the cursor of the next", body = EntryPage),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn list(
    _: Reader,
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<EntryPage>, ApiError> {
    let (filter, extra) =
        Filter::parse_with_extra(raw.as_deref().unwrap_or(""), &["limit", "cursor"])?;
    let PageQuery { limit, cursor } = params::parse_pairs(&extra)?;
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    let page = query::signed_page(
        &state.reads,
        &state.cursor_key,
        &filter,
        limit,
        cursor.as_deref(),
    )
    .await?;
    Ok(Json(page))
}

/// The exact number of entries matching the filter.
#[utoipa::path(
    get,
    path = "/api/v1/events/count",
    tag = "query",
    params(app::filter::params::FilterQuery),
    responses(
        (status = 200, description = "The count and the canonical filter", body = Count),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn count(
    _: Reader,
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Count>, ApiError> {
    let filter = Filter::parse(raw.as_deref().unwrap_or(""))?;
    let count = query::count(&state.reads, &filter).await?;
    Ok(Json(Count {
        count,
        filter: filter.to_query_string(),
    }))
}

/// One entry by id.
#[utoipa::path(
    get,
    path = "/api/v1/events/{id}",
    tag = "query",
    params(("id" = uuid::Uuid, Path, description = "The entry's UUID")),
    responses(
        (status = 200, description = "The entry", body = AuditEntry),
        (status = 404, description = "No such entry", body = ErrorBody),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn one(
    _: Reader,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AuditEntry>, ApiError> {
    let id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::bad_request("id: must be a UUID").with_param("id"))?;
    match query::by_id(&state.reads, id)
        .await
        .map_err(ApiError::database)?
    {
        Some(entry) => Ok(Json(entry)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no entry with id {id}"),
        )),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFacetQuery {
    /// Substring of id, name or email (prefix matches first).
    #[param(max_length = 256)]
    q: Option<String>,
    /// Default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// Actors whose id, name or email contains `q`, with entry counts.
#[utoipa::path(
    get,
    path = "/api/v1/facets/users",
    tag = "query",
    params(UserFacetQuery),
    responses(
        (status = 200, description = "Matching actors", body = UserFacets),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn facet_users(
    _: Reader,
    State(state): State<AppState>,
    Params(UserFacetQuery { q, limit }): Params<UserFacetQuery>,
) -> Result<Json<UserFacets>, ApiError> {
    let q = q.as_deref().unwrap_or("").trim().to_string();
    let limit = limit.unwrap_or(20);
    let users = query::actor_facets(&state.reads, &q, limit)
        .await
        .map_err(ApiError::database)?;
    Ok(Json(UserFacets { users }))
}

/// No parameters: any is refused.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoQuery {}

/// Categories and actions with their entry counts.
#[utoipa::path(
    get,
    path = "/api/v1/facets/actions",
    tag = "query",
    responses(
        (status = 200, description = "Action counts by category", body = ActionFacets),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn facet_actions(
    _: Reader,
    State(state): State<AppState>,
    Params(NoQuery {}): Params<NoQuery>,
) -> Result<Json<ActionFacets>, ApiError> {
    let categories = query::action_facets(&state.reads)
        .await
        .map_err(ApiError::database)?;
    Ok(Json(ActionFacets { categories }))
}

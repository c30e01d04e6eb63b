//! The machine API under `/api/v1`, listed once: each route is registered from its handler's
//! `#[utoipa::path]` (method and path), which is also what the OpenAPI document says, so an
//! undocumented API route cannot exist. JSON in, JSON out, JSON errors even for unknown paths.

use tokio::sync::OnceCell;

use axum::{
    extract::{DefaultBodyLimit, State},
    http::StatusCode,
    Json, Router,
};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    alerting,
    auth::Known,
    error::{ApiError, ErrorBody},
    export, exports, ingest, integrity, live, metrics, openapi, query, AppState,
};
use crate::storage::query as queries;

/// Every API route, with its documentation. Only `routes!` belongs here (the test below
/// refuses a plain `.route`, which would be undocumented).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(query::list))
        .routes(routes!(ingest::post_events))
        .routes(routes!(query::count))
        .routes(routes!(export::download))
        .routes(routes!(query::one))
        .routes(routes!(query::facet_users))
        .routes(routes!(query::facet_actions))
        .routes(routes!(live::subscribe))
        .routes(routes!(metrics::metrics))
        .routes(routes!(integrity::checkpoint))
        .routes(routes!(integrity::inclusion))
        .routes(routes!(integrity::consistency))
        .routes(routes!(integrity::key))
        .routes(routes!(exports::list_schedules))
        .routes(routes!(exports::list_runs))
        .routes(routes!(exports::download_run))
        .routes(routes!(alerting::list_rules))
        .routes(routes!(alerting::create_rule))
        .routes(routes!(alerting::preview_rule))
        .routes(routes!(alerting::get_rule))
        .routes(routes!(alerting::update_rule))
        .routes(routes!(alerting::delete_rule))
        .routes(routes!(alerting::mute_rule))
        .routes(routes!(alerting::list_channels))
        .routes(routes!(alerting::create_channel))
        .routes(routes!(alerting::get_channel))
        .routes(routes!(alerting::update_channel))
        .routes(routes!(alerting::delete_channel))
        .routes(routes!(alerting::rotate_secret))
        .routes(routes!(alerting::test_channel))
        .routes(routes!(alerting::list_alerts))
        .routes(routes!(alerting::list_deliveries))
        .routes(routes!(alerting::redeliver))
        .routes(routes!(document))
}

/// The API as served: [`routes`], a body limit for ingest, and JSON answers for unknown paths
/// and methods.
pub fn router() -> Router<AppState> {
    let (api, _) = routes().split_for_parts();
    let not_found = || async {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no such API endpoint (see /api/v1/openapi.json)",
        )
    };
    api.layer(DefaultBodyLimit::max(ingest::MAX_BODY_BYTES))
        .route("/api/v1", axum::routing::any(not_found))
        .route("/api/v1/", axum::routing::any(not_found))
        .route("/api/v1/{*rest}", axum::routing::any(not_found))
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "this endpoint does not take that method",
            )
        })
}

/// The OpenAPI document, built once from the routes.
/// The document as served: utoipa's, with every input's real constraints written in.
pub fn described(time_zones: &[String]) -> serde_json::Value {
    let mut doc = serde_json::to_value(routes().into_openapi()).expect("the document is JSON");
    openapi::constrain(&mut doc, time_zones);
    doc
}

/// This document: every endpoint, parameter and body of the API.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "query",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document", body = Object),
        (status = 401, description = "Not signed in, no API key", body = ErrorBody),
        (status = 503, description = "The database is unavailable (the document lists its time zones)", body = ErrorBody),
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn document(
    _: Known,
    State(state): State<AppState>,
) -> Result<Json<&'static serde_json::Value>, ApiError> {
    static DOCUMENT: OnceCell<serde_json::Value> = OnceCell::const_new();
    let doc = DOCUMENT
        .get_or_try_init(|| async {
            let zones = queries::time_zones(&state.reads).await?;
            Ok::<_, sqlx::Error>(described(&zones.iter().cloned().collect::<Vec<_>>()))
        })
        .await
        .map_err(ApiError::database)?;
    Ok(Json(doc))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_is_documented_and_every_documented_path_is_routed() {
        // Routes come only from handlers' annotations.
        let source = include_str!("api.rs");
        let list = &source[source.find("pub fn routes()").unwrap()
            ..source.find("/// The API as served").unwrap()];
        assert!(!list.contains(".route("), "an API route outside routes!()");
        assert!(
            !list.contains(".nest"),
            "a nested router would go undocumented"
        );

        let doc = serde_json::to_value(super::routes().into_openapi()).unwrap();
        let mut paths: Vec<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                "/api/v1/alert-rules",
                "/api/v1/alert-rules/preview",
                "/api/v1/alert-rules/{id}",
                "/api/v1/alert-rules/{id}/mute",
                "/api/v1/alerts",
                "/api/v1/deliveries",
                "/api/v1/deliveries/{id}/redeliver",
                "/api/v1/events",
                "/api/v1/events/count",
                "/api/v1/events/export",
                "/api/v1/events/{id}",
                "/api/v1/exports/runs",
                "/api/v1/exports/runs/{id}/download",
                "/api/v1/exports/schedules",
                "/api/v1/facets/actions",
                "/api/v1/facets/users",
                "/api/v1/integrity/checkpoint",
                "/api/v1/integrity/key",
                "/api/v1/integrity/proof/consistency",
                "/api/v1/integrity/proof/inclusion",
                "/api/v1/live",
                "/api/v1/metrics",
                "/api/v1/notification-channels",
                "/api/v1/notification-channels/{id}",
                "/api/v1/notification-channels/{id}/secret",
                "/api/v1/notification-channels/{id}/test",
                "/api/v1/openapi.json",
            ]
        );
        assert!(doc["paths"]["/api/v1/events"]["get"].is_object());
        assert!(doc["paths"]["/api/v1/events"]["post"].is_object());
    }

    #[test]
    fn document_is_openapi_3_1_and_documents_every_filter_parameter() {
        let doc = super::described(&["UTC".to_string()]);
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
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
        // Shared refusals are in every authenticated operation.
        let list = &doc["paths"]["/api/v1/events"]["get"]["responses"];
        for status in ["200", "400", "401", "403", "503"] {
            assert!(list.get(status).is_some(), "{status}");
        }
    }

    #[test]
    fn every_input_carries_its_real_constraints() {
        let doc = super::described(&["Europe/Berlin".to_string(), "UTC".to_string()]);
        let schema_of = |path: &str, name: &str| {
            doc["paths"][path]["get"]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("{path} has no {name}"))["schema"]
                .clone()
        };
        for path in [
            "/api/v1/events",
            "/api/v1/events/count",
            "/api/v1/events/export",
            "/api/v1/live",
        ] {
            for &(name, pattern, max) in app::patterns::FILTER_VALUES {
                let schema = schema_of(path, name);
                let one = if schema["type"] == "array" {
                    assert_eq!(schema["maxItems"], app::filter::MAX_VALUES);
                    &schema["items"]
                } else {
                    &schema
                };
                assert_eq!(one["pattern"], pattern, "{path} {name}");
                assert_eq!(one["maxLength"], max, "{path} {name}");
            }
            assert_eq!(
                schema_of(path, "tz")["$ref"],
                "#/components/schemas/TimeZone"
            );
        }
        assert_eq!(
            doc["components"]["schemas"]["TimeZone"]["enum"],
            serde_json::json!(["Europe/Berlin", "UTC"])
        );
        // The facet search is not the filter's `q`: it keeps its own (length only).
        let facet_q = schema_of("/api/v1/facets/users", "q");
        assert!(facet_q.get("pattern").is_none() && facet_q["maxLength"] == 256);
        let event = &doc["components"]["schemas"]["EventInput"];
        assert_eq!(event["additionalProperties"], false);
        assert_eq!(
            event["properties"]["occurred_at"]["pattern"],
            app::patterns::INSTANT
        );
        assert_eq!(
            doc["components"]["schemas"]["ActorInput"]["properties"]["id"]["pattern"],
            app::patterns::ACTOR_ID
        );
        let batch = doc["components"]["schemas"]["IngestBody"]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["type"] == "array")
            .expect("the batch form");
        assert_eq!(batch["maxItems"], crate::domain::entry::event::MAX_BATCH);
    }
}

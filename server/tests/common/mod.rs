//! Helpers shared by the integration tests (each test has its own database via #[sqlx::test]).

#![allow(dead_code)]

use axum::{body::Body, http::Request, Router};
use http_body_util::BodyExt;
use leptos::prelude::LeptosOptions;
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt;
use trailkeep::{
    domain::{
        accounts::{self, Acting},
        auth::Scope,
    },
    infra::{config::Config, http},
};

pub async fn router(pool: &PgPool) -> Router {
    let leptos_options = LeptosOptions::builder()
        .output_name("trailkeep")
        .site_root("target/site")
        .build();
    http::router(
        http::AppState::new(pool.clone(), leptos_options, Config::default())
            .await
            .unwrap(),
    )
}

pub async fn key(pool: &PgPool, scopes: &[Scope]) -> String {
    accounts::create_key(pool, "test", scopes, &Acting::cli())
        .await
        .unwrap()
        .1
}

pub struct Reply {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
    pub text: String,
}

pub async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).to_string();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

pub fn post_json(key: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut b = Request::post("/api/v1/events").header("content-type", "application/json");
    if let Some(k) = key {
        b = b.header("authorization", format!("Bearer {k}"));
    }
    b.body(body.into()).unwrap()
}

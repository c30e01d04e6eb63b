//! Searching never starves ingest: reads have a pool of their own whose statements stop at a
//! timeout, answered as a 503 JSON error that says to narrow the query.

mod common;

use std::time::{Duration, Instant};

use axum::{body::Body, http::Request};
use common::{post_json, send};
use leptos::prelude::LeptosOptions;
use sqlx::PgPool;
use trailkeep::{
    domain::auth::Scope,
    infra::{config::Config, http},
    service::accounts::{self, Acting},
    storage,
};

async fn app_with_pools(
    pool: &PgPool,
    reads: u32,
    timeout: Duration,
) -> (axum::Router, PgPool, String) {
    let options = (*pool.connect_options()).clone();
    let writes = storage::connect_with(options.clone(), 4).await.unwrap();
    let read_pool = storage::connect_reads(options, reads, timeout)
        .await
        .unwrap();
    let leptos_options = LeptosOptions::builder()
        .output_name("trailkeep")
        .site_root("target/site")
        .build();
    let state = http::AppState::new(
        writes.clone(),
        read_pool.clone(),
        leptos_options,
        Config::default(),
    )
    .await
    .unwrap();
    let (_, key) =
        accounts::create_key(&writes, "t", &[Scope::Ingest, Scope::Read], &Acting::cli())
            .await
            .unwrap();
    (http::router(state), read_pool, key)
}

fn get(path: &str, key: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn sixteen_slow_searches_leave_ingest_untouched(pool: PgPool) {
    let (app, reads, key) = app_with_pools(&pool, 16, Duration::from_secs(30)).await;
    // Every read connection busy with a slow statement.
    let slow: Vec<_> = (0..16)
        .map(|_| {
            let reads = reads.clone();
            tokio::spawn(async move {
                sqlx::query("SELECT pg_sleep(5)")
                    .execute(&reads)
                    .await
                    .unwrap();
            })
        })
        .collect();
    // Every read connection taken: polled, not slept.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(reads.size() == 16 && reads.num_idle() == 0) {
        assert!(
            Instant::now() < deadline,
            "the slow statements never held every read connection"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // A search meanwhile waits for a read connection (it never takes a writer's)...
    let search = {
        let (app, key) = (app.clone(), key.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let r = send(&app, get("/api/v1/events/count", &key)).await;
            (r.status, started.elapsed())
        })
    };
    // ...while ingest answers, every time before the slow statements (5 s) end and the
    // search waiting behind them is answered: it never waits behind searches. (How fast
    // ingest is, is the ingest benchmark's.)
    for i in 0..20 {
        let body =
            serde_json::json!({"action": "config.updated", "actor": {"id": format!("u{i}")}});
        let r = send(&app, post_json(Some(&key), body.to_string())).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert!(
            !search.is_finished() && slow.iter().all(|t| !t.is_finished()),
            "ingest {i} was answered only after the searches"
        );
    }
    let (status, waited) = search.await.unwrap();
    assert_eq!(status, 200);
    assert!(
        waited > Duration::from_millis(1500),
        "the search ran on a connection the slow statements did not hold ({waited:?})"
    );
    for task in slow {
        task.await.unwrap();
    }
    let r = send(&app, get("/api/v1/events/count", &key)).await;
    assert_eq!(
        (r.status, r.body["count"].as_i64()),
        (200, Some(21)),
        "{}",
        r.text
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_search_past_the_statement_timeout_is_a_503_that_says_to_narrow_it(pool: PgPool) {
    let (app, reads, key) = app_with_pools(&pool, 4, Duration::from_millis(500)).await;
    let err = sqlx::query("SELECT pg_sleep(2)")
        .execute(&reads)
        .await
        .unwrap_err();
    assert!(storage::is_statement_timeout(&err), "{err}");

    // The table's owner holds a lock every read waits for: the search runs into its timeout.
    let mut owner = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE audit_entries IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *owner)
        .await
        .unwrap();
    let started = Instant::now();
    let r = send(&app, get("/api/v1/events?q=anything", &key)).await;
    let waited = started.elapsed();
    owner.rollback().await.unwrap();
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(
        r.body["error"].as_str().unwrap().contains("narrow it"),
        "{}",
        r.text
    );
    // The statement timeout (500 ms) is the behaviour: checked against a generous deadline,
    // so that only a search that waits for the lock to go fails it.
    assert!(waited < Duration::from_secs(30), "waited {waited:?}");

    // Once the lock is gone the same search answers.
    let r = send(&app, get("/api/v1/events?q=anything", &key)).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// The console's chart and Top values past the statement timeout: `TooSlow` (the console's
/// `ConsoleError::TooSlow`, which the chart shows as "ran longer than the server allows …
/// narrow"), never stale bars or a 500.
#[sqlx::test(migrations = "../migrations")]
async fn the_chart_and_top_values_past_the_statement_timeout_say_so(pool: PgPool) {
    use storage::query::QueryError;
    let (_, reads, _) = app_with_pools(&pool, 4, Duration::from_millis(500)).await;
    let filter = app::filter::Filter::parse("q=production&range=30d").unwrap();
    let mut owner = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE audit_entries IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *owner)
        .await
        .unwrap();
    let chart = storage::query::volume(&reads, &filter).await;
    let top = storage::query::top_values(&reads, &filter, 10).await;
    owner.rollback().await.unwrap();
    assert!(matches!(chart, Err(QueryError::TooSlow)), "{chart:?}");
    assert!(matches!(top, Err(QueryError::TooSlow)), "{top:?}");
    // Once the lock is gone both answer.
    let chart = storage::query::volume(&reads, &filter)
        .await
        .unwrap()
        .unwrap();
    assert!(chart.buckets.iter().all(|b| b.total() == 0), "{chart:?}");
    assert!(storage::query::top_values(&reads, &filter, 10)
        .await
        .is_ok());
}

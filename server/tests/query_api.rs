//! The query engine against real PostgreSQL: every filter, combination, order and page size
//! gives exactly what a plain in-memory filter gives over the same entries.

mod common;

use std::net::IpAddr;

use app::filter::{Filter, Order, ResourcePattern, TimeWindow};
use app::model::{AuditEntry, Role, TopField};
use axum::{body::Body, http::Request, Router};
use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{key, router, send};
use serde_json::{json, Value};
use sqlx::PgPool;
use trailkeep::{
    domain::query::{top_memo::TopMemoPolicy, volume::MemoPolicy},
    domain::{auth::Scope, entry::event::parse_batch},
    service::accounts::{self, Acting},
    service::demo,
    storage::entries,
};

/// A fixed demo history plus entries placed relative to the real clock (for `range`).
async fn seed(pool: &PgPool) -> Vec<AuditEntry> {
    let until = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let events: Vec<_> = demo::events(700, until).collect();
    entries::append(pool, app::model::Source::Trailkeep, events)
        .await
        .unwrap();
    let now = Utc::now();
    let recent: Vec<Value> = [1i64, 30, 60 * 20, 60 * 24 * 3, 60 * 24 * 10, 60 * 24 * 40]
        .iter()
        .enumerate()
        .map(|(i, minutes_ago)| {
            json!({"action": if i % 2 == 0 { "config.deployed" } else { "user.login_failed" },
                   "actor": {"id": "u_01", "name": "Avery Admin", "email": "Admin@Company.com"},
                   "status": if i % 2 == 0 { "success" } else { "failure" },
                   "resource": {"type": "config", "id": "cfg_7"}, "ip": "203.0.113.99",
                   "occurred_at": (now - Duration::minutes(*minutes_ago)).to_rfc3339(),
                   "details": {"note": "100% sure_thing", "deploy": {"environment": "production"},
                               "marker_key_only": 7}})
        })
        .collect();
    entries::append(
        pool,
        app::model::Source::Trailkeep,
        parse_batch(&Value::Array(recent)).unwrap(),
    )
    .await
    .unwrap();
    // Same instant, several entries: ties are ordered by seq.
    let tied: Vec<Value> = (0..5)
        .map(|i| json!({"action": "kb.bound", "actor": {"id": format!("tie{i}")}, "occurred_at": "2026-11-01T00:00:00Z"}))
        .collect();
    entries::append(
        pool,
        app::model::Source::Trailkeep,
        parse_batch(&Value::Array(tied)).unwrap(),
    )
    .await
    .unwrap();
    stored(pool).await
}

/// Everything stored, in seq order.
async fn stored(pool: &PgPool) -> Vec<AuditEntry> {
    entries::rows_by_seq(pool, 0, i64::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.into_entry())
        .collect()
}

/// The scalar values inside a JSON value, as text (strings unquoted), depth first.
fn detail_values(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Null => {}
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Bool(_) | serde_json::Value::Number(_) => out.push(v.to_string()),
        serde_json::Value::Array(items) => items.iter().for_each(|i| detail_values(i, out)),
        serde_json::Value::Object(map) => map.values().for_each(|i| detail_values(i, out)),
    }
}

/// What a search looks in, field by field: the entry's own fields and each value of its details
/// (not their keys).
fn searched_fields(e: &AuditEntry) -> Vec<String> {
    let mut fields: Vec<String> = [
        Some(e.actor.id.clone()),
        e.actor.name.clone(),
        e.actor.email.clone(),
        Some(e.action.clone()),
        e.resource.as_ref().map(|r| r.kind.clone()),
        e.resource.as_ref().map(|r| r.id.clone()),
        e.ip.clone(),
        e.user_agent.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    detail_values(&e.details, &mut fields);
    fields
}

/// Whether `e`'s actor is the one `u` names: id or name exactly, email in any case.
fn is_actor(e: &AuditEntry, u: &str) -> bool {
    e.actor.id == u
        || e.actor
            .email
            .as_ref()
            .is_some_and(|m| m.to_lowercase() == u.to_lowercase())
        || e.actor.name.as_deref() == Some(u)
}

/// Whether `e`'s resource is what `r` names: the type in any case, the id exactly.
fn is_resource(e: &AuditEntry, r: &ResourcePattern) -> bool {
    let Some(res) = &e.resource else {
        return false;
    };
    let same_type = |k: &str| res.kind.to_lowercase() == k.to_lowercase();
    match r {
        ResourcePattern::Exact { kind, id } => same_type(kind) && res.id == *id,
        ResourcePattern::AnyOfType(kind) => same_type(kind),
        ResourcePattern::AnyType(id) => res.id == *id,
    }
}

fn ip_of(e: &AuditEntry) -> Option<IpAddr> {
    e.ip.as_ref().and_then(|ip| ip.parse::<IpAddr>().ok())
}

/// The reference: a plain filter over all entries, independent of SQL.
/// The bounds of a window given as instants (`from=2026-10-01T10:17:00Z`), for [`reference`].
/// `query` parsed, and the ids of `all` its reference matches, a relative window ending now.
fn matching_now(all: &[AuditEntry], query: &str) -> (Filter, Vec<String>) {
    let filter = Filter::parse(query).unwrap();
    let (from, to) = match filter.time {
        TimeWindow::Last(r) => (Some(Utc::now() - r.duration()), None),
        _ => instants(&filter),
    };
    let matching = reference(all, &filter, from, to);
    (filter, matching)
}

fn instants(f: &Filter) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let instant = |b: &Option<app::filter::TimeBound>| match b {
        Some(app::filter::TimeBound::Instant(t)) => Some(*t),
        _ => None,
    };
    match &f.time {
        TimeWindow::Between { from, to } => (instant(from), instant(to)),
        _ => (None, None),
    }
}

fn reference(
    all: &[AuditEntry],
    f: &Filter,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Vec<String> {
    let x = &f.exclude;
    let mut hits: Vec<&AuditEntry> = all
        .iter()
        .filter(|e| f.users.is_empty() || f.users.iter().any(|u| is_actor(e, u)))
        .filter(|e| f.actions.is_empty() || f.actions.iter().any(|p| p.matches(&e.action)))
        .filter(|e| from.is_none_or(|t| e.occurred_at >= t) && to.is_none_or(|t| e.occurred_at < t))
        .filter(|e| {
            f.q.as_deref().is_none_or(|q| {
                let fields = searched_fields(e);
                app::filter::search::matches(q, fields.iter().map(String::as_str))
            })
        })
        .filter(|e| f.resource.as_ref().is_none_or(|r| is_resource(e, r)))
        .filter(|e| f.status.is_none_or(|s| e.status == s))
        .filter(|e| f.source.is_none_or(|s| e.source == Some(s)))
        .filter(|e| {
            f.ip.is_none_or(|b| ip_of(e).is_some_and(|ip| b.contains(ip)))
        })
        // Left out: any excluded value matches (an entry without the field never does).
        .filter(|e| !x.users.iter().any(|u| is_actor(e, u)))
        .filter(|e| !x.actions.iter().any(|p| p.matches(&e.action)))
        .filter(|e| !x.resources.iter().any(|r| is_resource(e, r)))
        .filter(|e| !ip_of(e).is_some_and(|ip| x.ips.iter().any(|b| b.contains(ip))))
        .filter(|e| !e.source.is_some_and(|s| x.sources.contains(&s)))
        .collect();
    hits.sort_by_key(|e| (e.occurred_at, e.seq));
    if f.order == Order::Desc {
        hits.reverse();
    }
    hits.into_iter().map(|e| e.id.to_string()).collect()
}

/// A filter and the instants its window resolves to: from (inclusive), to (exclusive).
type Case<'a> = (&'a str, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn get(path: &str, key: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap()
}

/// Every id the API returns for `query`, page by page.
async fn all_pages(app: &Router, key: &str, query: &str, limit: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let mut path = format!(
            "/api/v1/events?{query}{}limit={limit}",
            if query.is_empty() { "" } else { "&" }
        );
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = send(app, get(&path, key)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        let page = r.body["entries"].as_array().unwrap();
        assert!(page.len() <= limit);
        ids.extend(page.iter().map(|e| e["id"].as_str().unwrap().to_string()));
        match r.body["next_cursor"].as_str() {
            Some(c) => {
                assert!(!page.is_empty());
                cursor = Some(c.to_string());
            }
            None => return ids,
        }
    }
    panic!("paging did not end");
}

#[sqlx::test(migrations = "../migrations")]
async fn every_filter_matches_the_reference_in_both_orders_and_all_page_sizes(pool: PgPool) {
    let k = key(&pool, &[Scope::Read]).await;
    let all = seed(&pool).await;
    let app = router(&pool).await;
    let now = Utc::now();
    let day = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap();
    // A request id: one entry, found through the identifier probe of `q`.
    let request_id = all
        .iter()
        .find_map(|e| e.details["request"]["request_id"].as_str())
        .expect("demo entries carry request ids")
        .to_string();
    let by_request_id = format!("q={request_id}");
    let by_upper_request_id = format!("q={}", request_id.to_uppercase());
    let by_request_id_part = format!("q={}", &request_id[3..16]);
    // (query, from, to) with the window's instants worked out by hand.
    let cases: Vec<Case> = vec![
        (&by_request_id, None, None),
        (&by_upper_request_id, None, None),
        (&by_request_id_part, None, None),
        ("", None, None),
        ("user=admin@company.com", None, None),
        ("user=ADMIN@COMPANY.COM", None, None),
        ("user=u_03", None, None),
        ("user=Grace%20Hopper", None, None),
        ("user=grace+hopper", None, None),
        (
            "user=u_03&user=ada@company.com&user=key_terraform",
            None,
            None,
        ),
        ("action=config.*", None, None),
        ("action=user.login_failed", None, None),
        (
            "action=config.updated&action=key.*&action=kb.bound",
            None,
            None,
        ),
        ("status=failure", None, None),
        ("status=failure&action=user.login_failed", None, None),
        ("resource=cfg_7", None, None),
        ("resource=config:cfg_7", None, None),
        ("resource=config:*", None, None),
        ("resource=user:*&status=success", None, None),
        // Resource types in any case; ids exactly.
        ("resource=CONFIG:cfg_7", None, None),
        ("resource=Config:*", None, None),
        ("resource=CFG_7", None, None),
        // Exclusions, alone and with what they narrow.
        ("not_action=user.login", None, None),
        (
            "not_action=config.*&not_action=user.login_failed&status=failure",
            None,
            None,
        ),
        ("not_user=u_01", None, None),
        ("not_user=ADMIN@COMPANY.COM&action=config.*", None, None),
        ("not_ip=203.0.113.0/24", None, None),
        (
            "not_ip=203.0.113.0/24&not_ip=2001:db8::/32&not_ip=10.0.0.0/8",
            None,
            None,
        ),
        ("not_resource=config:*&not_resource=cfg_1", None, None),
        ("not_resource=Config:cfg_7&user=u_01", None, None),
        ("source=trailkeep&not_user=u_02", None, None),
        (
            "not_source=0f8a2c1e-5b7d-4e3f-9a6b-1c2d3e4f5a6b&not_action=kb.*",
            None,
            None,
        ),
        ("not_source=trailkeep", None, None),
        (
            "action=config.*&not_action=config.updated&not_user=u_03&q=production",
            None,
            None,
        ),
        ("ip=203.0.113.0/24", None, None),
        ("ip=2001:db8::/32", None, None),
        ("ip=198.51.100.17", None, None),
        ("q=safari", None, None),
        ("q=CFG_1", None, None),
        ("q=100%25%20sure", None, None),
        ("q=production", None, None),
        ("q=2001:db8", None, None),
        ("q=zzz-no-such-text", None, None),
        // Search across fields: words in different fields, phrases as written, values only.
        ("q=sure%20production", None, None),
        ("q=PRODUCTION%20%20100%25", None, None),
        ("q=%22100%25%20sure%22", None, None),
        ("q=%22sure%20production%22", None, None),
        ("q=%22sure_thing%22%20cfg_7%20admin", None, None),
        ("q=marker_key_only", None, None),
        ("q=grace%20hopper%20totp", None, None),
        ("range=24h", Some(now - Duration::hours(24)), None),
        ("range=7d&user=u_01", Some(now - Duration::days(7)), None),
        (
            "range=90d&action=config.*",
            Some(now - Duration::days(90)),
            None,
        ),
        (
            "from=2026-11-01&to=2026-11-10",
            Some(day(2026, 11, 1)),
            Some(day(2026, 11, 11)),
        ),
        (
            "from=2026-11-01T00:00:00Z&to=2026-11-10T06:30:00Z",
            Some(day(2026, 11, 1)),
            Some(day(2026, 11, 10) + Duration::minutes(390)),
        ),
        (
            "from=2026-11-05&to=2026-11-05&tz=Europe/Berlin",
            Some(day(2026, 11, 5) - Duration::hours(1)),
            Some(day(2026, 11, 6) - Duration::hours(1)),
        ),
        (
            "to=2026-09-01&tz=America/New_York",
            None,
            Some(day(2026, 9, 2) + Duration::hours(4)),
        ),
        ("from=2026-11-15", Some(day(2026, 11, 15)), None),
        (
            "from=2025-01-01&to=2025-12-31",
            Some(day(2025, 1, 1)),
            Some(day(2026, 1, 1)),
        ),
        (
            "action=user.*&status=failure&from=2026-10-01&q=45.",
            Some(day(2026, 10, 1)),
            None,
        ),
        (
            "user=admin@company.com&action=config.*&range=30d",
            Some(now - Duration::days(30)),
            None,
        ),
    ];
    for (query, from, to) in cases {
        for order in ["", "order=asc"] {
            let full = [query, order]
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join("&");
            let filter = Filter::parse(&full).unwrap();
            let expected = reference(&all, &filter, from, to);
            let meant_empty = [
                "zzz",
                "grace+hopper",
                "2025-01-01",
                "%22sure%20production%22",
                "marker_key_only",
                "CFG_7",
                "not_source=trailkeep",
            ]
            .iter()
            .any(|m| query.contains(m));
            assert_eq!(
                expected.is_empty(),
                meant_empty,
                "{full}: the data must exercise the filter"
            );
            let sizes: &[usize] = if expected.len() <= 60 {
                &[1, 7, 1000]
            } else {
                &[7, 1000]
            };
            for &limit in sizes {
                let got = all_pages(&app, &k, &full, limit).await;
                assert_eq!(got.len(), expected.len(), "{full} limit {limit}");
                assert_eq!(got, expected, "{full} limit {limit}");
            }
            let count = send(&app, get(&format!("/api/v1/events/count?{full}"), &k)).await;
            assert_eq!(count.body["count"], expected.len(), "count {full}");
        }
    }
    // Relative ranges must have had something to find.
    let filter = Filter::parse("range=7d&user=u_01").unwrap();
    assert!(matches!(filter.time, TimeWindow::Last(_)));
    assert!(!reference(&all, &filter, Some(now - Duration::days(7)), None).is_empty());
}

/// Searches made of random pieces of the stored entries (one to three terms, some quoted, some
/// from different entries, some with a letter changed) count exactly what the reference finds.
#[sqlx::test(migrations = "../migrations")]
async fn random_searches_match_the_reference(pool: PgPool) {
    let k = key(&pool, &[Scope::Read]).await;
    let all = seed(&pool).await;
    let app = router(&pool).await;
    // A fixed seed: a failure names its query and replays.
    let mut state: u64 = 0x2024_7e57_5ea2_c400;
    let mut next = move |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as usize) % n.max(1)
    };
    let mut found = 0;
    for round in 0..80 {
        let mut terms = Vec::new();
        for _ in 0..1 + next(3) {
            let fields = searched_fields(&all[next(all.len())]);
            let field: Vec<char> = fields[next(fields.len())].chars().collect();
            let len = (2 + next(8)).min(field.len());
            let start = next(field.len() - len + 1);
            let mut piece: String = field[start..start + len].iter().collect();
            if round % 7 == 6 {
                piece.push('q'); // most likely found nowhere
            }
            let piece = piece.replace('"', "");
            if piece.trim().is_empty() {
                continue;
            }
            terms.push(if piece.contains(' ') || next(4) == 0 {
                format!("\"{piece}\"")
            } else {
                piece
            });
        }
        if terms.is_empty() {
            continue;
        }
        let q = terms.join(" ");
        let query = format!("q={}", app::filter::percent_encode(&q));
        let filter = Filter::parse(&query).unwrap();
        let expected = reference(&all, &filter, None, None);
        found += usize::from(!expected.is_empty());
        let count = send(&app, get(&format!("/api/v1/events/count?{query}"), &k)).await;
        assert_eq!(count.body["count"], expected.len(), "count of q={q:?}");
        let got = all_pages(&app, &k, &query, 1000).await;
        assert_eq!(got, expected, "rows of q={q:?}");
    }
    assert!(
        found > 40,
        "most random searches must find something ({found} did)"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn paging_is_exact_while_new_entries_arrive(pool: PgPool) {
    let k = key(&pool, &[Scope::Read]).await;
    seed(&pool).await;
    let app = router(&pool).await;
    for query in ["action=config.*", "action=config.*&order=asc"] {
        let all = stored(&pool).await;
        let filter = Filter::parse(query).unwrap();
        let expected = reference(&all, &filter, None, None);
        let mut got = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/events?{query}&limit=50");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let r = send(&app, get(&path, &k)).await;
            got.extend(
                r.body["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].as_str().unwrap().to_string()),
            );
            // Between pages: new matching entries, some dated in the past (inside the range paged).
            let late = json!([{"action": "config.updated", "actor": {"id": "late"}, "occurred_at": "2026-10-01T00:00:00Z"},
                              {"action": "config.created", "actor": {"id": "late"}}]);
            entries::append(
                &pool,
                app::model::Source::Trailkeep,
                parse_batch(&late).unwrap(),
            )
            .await
            .unwrap();
            match r.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(
            got, expected,
            "{query}: exactly the entries committed before the first page, once each"
        );
        // Later pages sneak in nothing: a fresh listing sees the late entries.
        let fresh = all_pages(&app, &k, query, 1000).await;
        assert!(fresh.len() > expected.len());
    }
}

/// The top values of each field under `f`, worked out in memory: (value, label, count), most
/// first, ties by value, and the number of distinct values. An actor's label is the largest of
/// its entries' names (else email, else id); any other value is its own label.
fn top_reference(
    hits: &[&AuditEntry],
    field: TopField,
    limit: usize,
) -> (Vec<(String, String, i64)>, i64) {
    let mut counts: std::collections::BTreeMap<String, (String, i64)> = Default::default();
    for e in hits {
        let value = match field {
            TopField::User => Some(
                e.actor
                    .email
                    .as_ref()
                    .map(|m| m.to_lowercase())
                    .unwrap_or_else(|| e.actor.id.clone()),
            ),
            TopField::Action => Some(e.action.clone()),
            TopField::Resource => e.resource.as_ref().map(|r| format!("{}:{}", r.kind, r.id)),
            TopField::Ip => ip_of(e).map(|ip| ip.to_string()),
        };
        if let Some(v) = value {
            let label = match field {
                TopField::User => e
                    .actor
                    .name
                    .clone()
                    .or_else(|| e.actor.email.clone())
                    .unwrap_or_else(|| e.actor.id.clone()),
                _ => v.clone(),
            };
            let slot = counts.entry(v).or_insert_with(|| (label.clone(), 0));
            if label > slot.0 {
                slot.0 = label;
            }
            slot.1 += 1;
        }
    }
    let distinct = counts.len() as i64;
    let mut list: Vec<(String, String, i64)> = counts
        .into_iter()
        .map(|(value, (label, n))| (value, label, n))
        .collect();
    list.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    list.truncate(limit);
    (list, distinct)
}

/// Top values of `query` (10 per field) under `policy` (`None`: no memo), asserted equal to the
/// in-memory reference over `all`: every field's values, labels, counts and distinct values.
/// Answers how many fields had values.
async fn top_as_reference(
    pool: &PgPool,
    all: &[AuditEntry],
    query: &str,
    policy: Option<&TopMemoPolicy>,
) -> usize {
    let filter = Filter::parse(query).unwrap();
    let (from, to) = instants(&filter);
    let ids = reference(all, &filter, from, to);
    let hits: Vec<&AuditEntry> = all
        .iter()
        .filter(|e| ids.contains(&e.id.to_string()))
        .collect();
    let got = trailkeep::storage::query::top_values_with(pool, &filter, 10, policy)
        .await
        .unwrap();
    assert_eq!(got.len(), TopField::ALL.len());
    let mut nonempty = 0;
    for top in got {
        let (want, distinct) = top_reference(&hits, top.field, 10);
        let values: Vec<(String, String, i64)> = top
            .values
            .iter()
            .map(|v| (v.value.clone(), v.label.clone(), v.count))
            .collect();
        assert_eq!(values, want, "{query}: {:?}", top.field);
        assert_eq!(top.distinct, distinct, "{query}: distinct {:?}", top.field);
        nonempty += usize::from(!values.is_empty());
    }
    nonempty
}

#[sqlx::test(migrations = "../migrations")]
async fn top_values_match_the_reference(pool: PgPool) {
    let all = seed(&pool).await;
    let mut nonempty = 0;
    for query in [
        "",
        "status=failure",
        "action=config.*&not_user=u_01",
        "not_action=user.*&not_ip=203.0.113.0/24",
        "q=production",
        "resource=Config:*",
        "user=nobody-at-all",
        // Windows with partial hours at both ends, one end, none: actors and actions then come
        // from their rollups' whole hours and the log's edges.
        "from=2026-10-01T10:17:00Z&to=2026-11-10T03:41:30.5Z&status=failure",
        "from=2026-11-01T10:17:00Z&not_user=u_01",
        "to=2026-11-19T13:55:00Z&not_action=config.*&source=trailkeep",
        "from=2026-11-19T10:05:00Z&to=2026-11-19T10:55:00Z",
        "from=2026-11-10T00:00:00Z&to=2026-11-11T00:00:00Z&user=u_01",
        // Resources and IPs from theirs.
        "from=2026-10-01T10:17:00Z&to=2026-11-10T03:41:30.5Z&resource=Config:*",
        "from=2026-10-01T10:17:00Z&not_resource=config:*&status=success",
        "from=2026-10-01T10:17:00Z&to=2026-11-19T13:55:00Z&ip=203.0.113.0/24",
        "to=2026-11-19T13:55:00Z&not_ip=198.51.100.0/24&source=trailkeep",
    ] {
        // Without a memo, then as the console reads (building one where it would), then again
        // (reading it).
        for policy in [
            None,
            Some(&TopMemoPolicy::DEFAULT),
            Some(&TopMemoPolicy::DEFAULT),
        ] {
            nonempty += top_as_reference(&pool, &all, query, policy).await;
        }
    }
    assert!(
        nonempty > 45,
        "the data must exercise every field ({nonempty})"
    );
}

async fn top_memo_rows(pool: &PgPool) -> Vec<(Vec<u8>, i64, bool)> {
    sqlx::query_as("SELECT key, below_seq, too_many FROM top_memos ORDER BY key")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Top values of a filter no rollup keeps, read from its memo (migrations/0037), against the
/// in-memory reference: built by the first read of a window open at its start, read back (its whole days, the
/// log's partial days at the window's edges), kept up as entries arrive (some dated in days the
/// memo holds, some at its edges, some later than all), brought up to the head, ignored once a
/// month was archived since, marked as having too many values when it would be too large (at
/// its build, or grown so later), and kept to the cap in memos and in rows. Two processes
/// building it at once both answer exactly and keep one.
#[sqlx::test(migrations = "../migrations")]
async fn top_values_of_a_search_read_their_memo_exactly(pool: PgPool) {
    let mut all = seed(&pool).await;
    let policy = TopMemoPolicy {
        memo: MemoPolicy {
            refresh_after: 5,
            ..MemoPolicy::DEFAULT
        },
        ..TopMemoPolicy::DEFAULT
    };
    let built = [
        "q=production",
        "q=grace totp",
        "q=%22late sure_thing%22",
        "from=2026-10-01T10:17:00Z&to=2026-11-10T03:41:30Z&q=production",
        "from=2026-11-01T00:00:00Z&to=2026-11-15T00:00:00Z&q=production",
        "from=2026-10-01T10:17:00Z&q=production",
        "q=production&status=failure",
        "to=2026-11-10T03:41:30Z&q=production&not_user=u_02",
        "user=u_01&action=config.*",
        // A kept memo's filter over a window without a whole day (from the log), and a short
        // window of a filter without a memo (none is built).
        "from=2026-11-19T10:05:00Z&to=2026-11-20T09:35:00Z&q=production",
        "from=2026-11-19T10:05:00Z&to=2026-11-20T09:35:00Z&q=sure",
    ];
    // A window that starts after the log does is counted from the log, without a memo (one
    // counts the whole log): a short one and a long one.
    for window in [
        "from=2026-11-02T10:17:00Z&to=2026-11-06T03:41:30Z&q=sure",
        "from=2026-09-02T10:17:00Z&to=2026-11-19T03:41:30Z&q=sure",
        "from=2026-09-02T10:17:00Z&q=sure",
    ] {
        top_as_reference(&pool, &all, window, Some(&policy)).await;
    }
    assert!(
        top_memo_rows(&pool).await.is_empty(),
        "a window open at its start builds a memo, no other"
    );
    // Built, then read back.
    for round in 0..2 {
        for query in built {
            top_as_reference(&pool, &all, query, Some(&policy)).await;
        }
        // "late sure_thing" matches nothing yet; its memo says so. Equal filters but for the
        // window share one.
        let memos = top_memo_rows(&pool).await;
        assert_eq!(memos.len(), 6, "round {round}");
        assert!(memos.iter().all(|m| !m.2), "none has too many values");
    }
    // The memo is read: a wrong count in it shows.
    let f = Filter::parse("q=production").unwrap();
    let key = trailkeep::domain::query::top_memo::top_memo_key(&f);
    let (field, value): (i32, String) = sqlx::query_as(
        "UPDATE top_memo_values SET n = n + 1000 WHERE (key, day, field, value) = \
         (SELECT key, day, field, value FROM top_memo_values WHERE key = $1 \
          ORDER BY day, field, value LIMIT 1) RETURNING field, value",
    )
    .bind(&key[..])
    .fetch_one(&pool)
    .await
    .unwrap();
    let shown = trailkeep::storage::query::top_values_with(&pool, &f, 10, Some(&policy))
        .await
        .unwrap();
    let hits: Vec<&AuditEntry> = {
        let ids = reference(&all, &f, None, None);
        all.iter()
            .filter(|e| ids.contains(&e.id.to_string()))
            .collect()
    };
    let top = &shown[field as usize];
    let (want, _) = top_reference(&hits, top.field, 1000);
    let real = want.iter().find(|w| w.0 == value).unwrap().2;
    assert_eq!(top.values[0].value, value, "the bumped value leads");
    assert_eq!(top.values[0].count, real + 1000);
    // Made under another count of archived months: not read, and built again.
    sqlx::query("UPDATE top_memos SET archived = archived + 1")
        .execute(&pool)
        .await
        .unwrap();
    for query in built {
        top_as_reference(&pool, &all, query, Some(&policy)).await;
    }
    // Entries arriving: dated inside the memo's days, at the edge of a window, after all.
    let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    for (n, at) in [
        vec![t("2026-10-15T12:30:00Z"), t("2026-11-10T03:41:29.999999Z")],
        vec![t("2026-10-01T10:17:00Z"), Utc::now()],
        vec![t("2026-09-01T00:00:00Z"), Utc::now() + Duration::days(2)],
        vec![t("2026-11-10T03:00:00Z"), t("2026-11-14T23:59:59.999999Z")],
    ]
    .into_iter()
    .enumerate()
    {
        append_production(&pool, &at).await;
        all = stored(&pool).await;
        for query in built {
            top_as_reference(&pool, &all, query, Some(&policy)).await;
        }
        // After 6 entries (at least `refresh_after`), every memo read was brought to the head.
        if n == 2 {
            let head = all.len() as i64;
            for (_, below, _) in top_memo_rows(&pool).await {
                assert_eq!(below, head, "brought up to the head");
            }
        }
    }
    // Too many values to keep: the memo says so, and the fields are counted from the log,
    // without building again.
    let few = TopMemoPolicy {
        rows_per_memo: 3,
        ..policy
    };
    let sure = "q=sure";
    let sure_key = trailkeep::domain::query::top_memo::top_memo_key(&Filter::parse(sure).unwrap());
    let marker = || async {
        sqlx::query_as::<_, (bool, i64, i64, DateTime<Utc>)>(
            "SELECT too_many, kept_rows, (SELECT count(*) FROM top_memo_values WHERE key = $1), \
             built_at FROM top_memos WHERE key = $1",
        )
        .bind(&sure_key[..])
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    top_as_reference(&pool, &all, sure, Some(&few)).await;
    let first = marker().await;
    assert_eq!(
        (first.0, first.1, first.2),
        (true, 0, 0),
        "too many, none kept"
    );
    top_as_reference(&pool, &all, sure, Some(&few)).await;
    assert_eq!(marker().await, first, "not built again");
    // Grown beyond the rows a memo may keep as entries arrive: from then on, too many.
    let (rows,): (i64,) = sqlx::query_as("SELECT kept_rows FROM top_memos WHERE key = $1")
        .bind(&key[..])
        .fetch_one(&pool)
        .await
        .unwrap();
    let tight = TopMemoPolicy {
        rows_per_memo: rows,
        ..policy
    };
    let new_days: Vec<DateTime<Utc>> = (0..6)
        .map(|d| t("2026-08-01T12:00:00Z") + Duration::days(d))
        .collect();
    append_production(&pool, &new_days).await;
    all = stored(&pool).await;
    top_as_reference(&pool, &all, "q=production", Some(&tight)).await;
    let (too_many,): (bool,) = sqlx::query_as("SELECT too_many FROM top_memos WHERE key = $1")
        .bind(&key[..])
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(too_many, "grown beyond {rows} rows");
    let (kept_rows, values): (i64, i64) = sqlx::query_as(
        "SELECT kept_rows, (SELECT count(*) FROM top_memo_values WHERE key = $1) \
         FROM top_memos WHERE key = $1",
    )
    .bind(&key[..])
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((kept_rows, values), (0, 0), "its values dropped");
    top_as_reference(&pool, &all, "q=production", Some(&tight)).await;
    // Kept to the cap, the oldest built dropped.
    let capped = TopMemoPolicy {
        memo: MemoPolicy {
            cap: 2,
            ..policy.memo
        },
        ..policy
    };
    for query in ["q=alpha", "q=beta", "q=gamma"] {
        top_as_reference(&pool, &all, query, Some(&capped)).await;
    }
    assert_eq!(top_memo_rows(&pool).await.len(), 2);
    // And to the rows of all memos, the oldest built dropped first: with room for `q=config`'s
    // rows, a smaller memo built after it stays and it goes.
    sqlx::query("DELETE FROM top_memos")
        .execute(&pool)
        .await
        .unwrap();
    let kept_rows = |q: &'static str| {
        let key = trailkeep::domain::query::top_memo::top_memo_key(&Filter::parse(q).unwrap());
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT kept_rows FROM top_memos WHERE key = $1")
                .bind(&key[..])
                .fetch_optional(&pool)
                .await
                .unwrap()
        }
    };
    top_as_reference(&pool, &all, "q=config", Some(&policy)).await;
    let config = kept_rows("q=config").await.unwrap();
    let by_rows = TopMemoPolicy {
        rows: config,
        ..policy
    };
    top_as_reference(&pool, &all, "q=%22late sure_thing%22", Some(&by_rows)).await;
    let late = kept_rows("q=%22late sure_thing%22").await.unwrap();
    assert!(0 < late && late <= config, "{late} of {config}");
    assert_eq!(kept_rows("q=config").await, None, "the oldest dropped");
    // One with more rows than all memos may keep is too many (kept, it would drop every other).
    let room_for_late = TopMemoPolicy {
        rows: late,
        ..policy
    };
    top_as_reference(&pool, &all, "q=production", Some(&room_for_late)).await;
    assert_eq!(kept_rows("q=production").await, Some(0));
    assert_eq!(
        kept_rows("q=%22late sure_thing%22").await,
        Some(late),
        "kept"
    );
    // Two processes building one memo at once.
    sqlx::query("DELETE FROM top_memos")
        .execute(&pool)
        .await
        .unwrap();
    tokio::join!(
        top_as_reference(&pool, &all, "q=production", Some(&policy)),
        top_as_reference(&pool, &all, "q=production", Some(&policy)),
    );
    assert_eq!(top_memo_rows(&pool).await.len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_requests_are_400_naming_the_parameter(pool: PgPool) {
    seed(&pool).await;
    let app = router(&pool).await;
    let k = key(&pool, &[Scope::Read]).await;
    let first = send(&app, get("/api/v1/events?status=failure&limit=2", &k)).await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let tampered = {
        let mut parts: Vec<String> = cursor.split('.').map(String::from).collect();
        parts[3] = "1".into();
        parts.join(".")
    };
    for (path, param) in [
        ("/api/v1/events?bogus=1", "bogus"),
        ("/api/v1/events?action=escalation.res*", "action"),
        ("/api/v1/events?from=2026-02-01&to=2026-01-01", "to"),
        ("/api/v1/events?range=7d&to=2026-01-01", "range"),
        ("/api/v1/events?limit=0", "limit"),
        ("/api/v1/events?limit=1001", "limit"),
        ("/api/v1/events?limit=ten", "limit"),
        ("/api/v1/events?tz=Mars/Olympus_Mons&from=2026-01-01", "tz"),
        ("/api/v1/events?ip=300.1.1.1", "ip"),
        ("/api/v1/events?not_ip=10.0.0.0/33", "not_ip"),
        ("/api/v1/events?not_action=Config.x", "not_action"),
        ("/api/v1/events?not_source=key", "not_source"),
        ("/api/v1/events?not_resource=:x", "not_resource"),
        ("/api/v1/events?not_user=", "not_user"),
        (
            &format!("/api/v1/events?status=success&cursor={cursor}"),
            "cursor",
        ),
        (
            &format!("/api/v1/events?status=failure&cursor={tampered}"),
            "cursor",
        ),
        ("/api/v1/events?cursor=garbage", "cursor"),
        ("/api/v1/events/count?order=sideways", "order"),
        ("/api/v1/events/not-a-uuid", "id"),
        ("/api/v1/facets/users?limit=0", "limit"),
        ("/api/v1/facets/users?x=1", "x"),
    ] {
        let r = send(&app, get(path, &k)).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text);
        assert_eq!(r.body["param"], param, "{path}: {}", r.text);
        assert!(
            r.body["error"].as_str().unwrap().contains(param),
            "{path}: {}",
            r.text
        );
    }
    let many = (0..51)
        .map(|i| format!("user=u{i}"))
        .collect::<Vec<_>>()
        .join("&");
    let r = send(&app, get(&format!("/api/v1/events?{many}"), &k)).await;
    assert_eq!((r.status, r.body["param"].as_str()), (400, Some("user")));
    // The genuine cursor with its own filter works.
    let r = send(
        &app,
        get(
            &format!("/api/v1/events?status=failure&limit=2&cursor={cursor}"),
            &k,
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[sqlx::test(migrations = "../migrations")]
async fn single_entries_facets_and_access(pool: PgPool) {
    let reader = key(&pool, &[Scope::Read]).await;
    let ingest_only = key(&pool, &[Scope::Ingest]).await;
    let all = seed(&pool).await;
    let app = router(&pool).await;

    let e = &all[10];
    let r = send(&app, get(&format!("/api/v1/events/{}", e.id), &reader)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, serde_json::to_value(e).unwrap());
    for field in [
        "id",
        "seq",
        "occurred_at",
        "recorded_at",
        "action",
        "actor",
        "resource",
        "ip",
        "user_agent",
        "status",
        "details",
        "leaf_hash",
        "source",
        "source_name",
        "form",
    ] {
        assert!(r.body.get(field).is_some(), "{field}");
    }
    let r = send(
        &app,
        get(
            "/api/v1/events/00000000-0000-0000-0000-000000000000",
            &reader,
        ),
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(r.body["error"].is_string());

    let r = send(&app, get("/api/v1/facets/users?q=ad&limit=5", &reader)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let users = r.body["users"].as_array().unwrap();
    assert!(!users.is_empty() && users.len() <= 5);
    for u in users {
        let hay = format!("{} {} {}", u["id"], u["name"], u["email"]).to_lowercase();
        assert!(hay.contains("ad"), "{u}");
        // One row per actor as `user=` tells them apart: by email when there is one, else id.
        let actor_key =
            |id: &str, email: Option<&str>| email.map_or_else(|| id.to_string(), str::to_lowercase);
        let key = actor_key(u["id"].as_str().unwrap(), u["email"].as_str());
        let expected = all
            .iter()
            .filter(|e| actor_key(&e.actor.id, e.actor.email.as_deref()) == key)
            .count();
        assert_eq!(u["count"], expected, "{u}");
    }
    let keys: Vec<String> = users
        .iter()
        .map(|u| format!("{}|{}", u["email"], u["id"]))
        .collect();
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(keys.len(), unique.len(), "one row per actor: {keys:?}");
    let r = send(&app, get("/api/v1/facets/actions", &reader)).await;
    let categories = r.body["categories"].as_array().unwrap();
    let total: i64 = categories
        .iter()
        .map(|c| c["count"].as_i64().unwrap())
        .sum();
    assert_eq!(total, all.len() as i64);
    let config = categories
        .iter()
        .find(|c| c["category"] == "config")
        .unwrap();
    let expected = all.iter().filter(|e| e.category() == "config").count();
    assert_eq!(config["count"], expected);
    let updated = config["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "config.updated")
        .unwrap();
    assert_eq!(
        updated["count"],
        all.iter().filter(|e| e.action == "config.updated").count()
    );

    // Prefix matches come first, also ahead of actors without a name (NULL must not sort first).
    let nameless = json!({"action": "user.login_failed", "actor": {"id": "radia-ad@example.com"}});
    entries::append(
        &pool,
        app::model::Source::Trailkeep,
        parse_batch(&nameless).unwrap(),
    )
    .await
    .unwrap();
    let r = send(&app, get("/api/v1/facets/users?q=ad&limit=100", &reader)).await;
    let prefix: Vec<bool> = r.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            format!("{} {} {}", u["id"], u["name"], u["email"])
                .to_lowercase()
                .contains("\"ad")
        })
        .collect();
    assert!(prefix[0] && prefix.contains(&false), "{}", r.text);
    assert!(
        prefix.windows(2).all(|w| w[0] || !w[1]),
        "prefix matches first: {}",
        r.text
    );

    // Unknown API paths and methods still answer JSON.
    let r = send(&app, get("/api/v1/nothing-here", &reader)).await;
    assert_eq!(r.status, 404);
    assert!(r.body["error"].is_string());
    let r = send(
        &app,
        Request::delete(format!("/api/v1/events/{}", e.id))
            .header("authorization", format!("Bearer {reader}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 405);
    assert!(r.body["error"].is_string());

    // The OpenAPI document, for anyone known.
    let r = send(&app, get("/api/v1/openapi.json", &ingest_only)).await;
    assert_eq!(r.status, 200);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(r.body["paths"]["/api/v1/events"]["get"].is_object());
    let r = send(
        &app,
        Request::get("/api/v1/openapi.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401);

    // Access: a key needs `read`; a member's session is refused; nobody signed in is 401.
    assert_eq!(
        send(&app, get("/api/v1/events", &ingest_only)).await.status,
        403
    );
    let r = send(
        &app,
        Request::get("/api/v1/events").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(r.status, 401);
    accounts::create_user(
        &pool,
        "mo@example.com",
        "Mo",
        Role::Member,
        "correct horse battery",
        &Acting::cli(),
    )
    .await
    .unwrap();
    let login = send(
        &app,
        Request::post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(
                "email=mo%40example.com&password=correct+horse+battery&next=%2F",
            ))
            .unwrap(),
    )
    .await;
    let cookie = login.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let r = send(
        &app,
        Request::get("/api/v1/events")
            .header("cookie", cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 403);
}

/// The user picker reaches every actor (pages, with the total), counts each under the other
/// filters exactly as the reference does, and keeps sign-in names that match no account apart.
#[sqlx::test(migrations = "../migrations")]
async fn the_user_picker_pages_every_actor_with_faceted_counts(pool: PgPool) {
    use app::model::ActorGroup;
    use trailkeep::storage::query::actor_facet_page;
    let all = seed(&pool).await;
    // A name typed at the sign-in page that no account has.
    let outcome = accounts::sign_in(
        &pool,
        "nobody-here@example.com",
        "wrong",
        None,
        None,
        accounts::SignInLimits::default(),
    )
    .await
    .unwrap();
    assert!(matches!(outcome, accounts::SignIn::BadCredentials { .. }));
    let all = {
        let mut all = all;
        all.extend(stored(&pool).await.into_iter().skip(all.len()));
        all
    };
    let key =
        |id: &str, email: Option<&str>| email.map_or_else(|| id.to_string(), str::to_lowercase);
    for others in [
        "",
        "status=failure",
        "action=config.*&range=90d",
        "q=safari",
        // From the actors' rollup and the log's partial hours at both ends.
        "from=2026-10-01T10:17:00Z&to=2026-11-10T03:41:30.5Z&status=success",
    ] {
        let (filter, matching) = matching_now(&all, others);
        let mut expected: std::collections::BTreeMap<String, i64> = Default::default();
        for e in all.iter().filter(|e| matching.contains(&e.id.to_string())) {
            *expected
                .entry(key(&e.actor.id, e.actor.email.as_deref()))
                .or_default() += 1;
        }
        // Every page, 7 at a time, until the total is reached.
        let mut got: std::collections::BTreeMap<String, i64> = Default::default();
        let mut offset = 0;
        loop {
            let page = actor_facet_page(&pool, "", &filter, 7, offset)
                .await
                .unwrap();
            assert_eq!(page.total, expected.len() as i64, "total under {others:?}");
            if page.actors.is_empty() {
                break;
            }
            for a in &page.actors {
                let k = key(&a.id, a.email.as_deref());
                assert!(
                    got.insert(k, a.count).is_none(),
                    "twice under {others:?}: {a:?}"
                );
            }
            offset += page.actors.len() as i64;
        }
        assert_eq!(got, expected, "counts under {others:?}");
    }
    // The typed name is its own group; people stay people.
    let page = actor_facet_page(&pool, "nobody-here", &Filter::default(), 20, 0)
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.actors[0].group(), ActorGroup::UnknownSignIns);
    let page = actor_facet_page(&pool, "admin@company.com", &Filter::default(), 20, 0)
        .await
        .unwrap();
    assert!(
        page.actors.iter().all(|a| a.group() == ActorGroup::People),
        "{page:?}"
    );
    // A search narrows the total too.
    let page = actor_facet_page(&pool, "ad", &Filter::default(), 2, 0)
        .await
        .unwrap();
    assert!(page.total >= page.actors.len() as i64 && page.actors.len() <= 2);
}

/// The action picker lists every action the log has recorded, counted under the other filters
/// on screen (what is given here: the server function clears the actions), 0 where none
/// matches; with nothing else filtered, every entry of each.
#[sqlx::test(migrations = "../migrations")]
async fn the_action_picker_counts_under_the_other_filters(pool: PgPool) {
    use trailkeep::storage::query::action_facets_under;
    let all = seed(&pool).await;
    let recorded: std::collections::BTreeSet<String> =
        all.iter().map(|e| e.action.clone()).collect();
    for others in [
        "",
        "status=failure",
        "user=admin@company.com",
        "not_action=user.login&range=90d",
        "q=safari",
        "ip=203.0.113.0/24&not_user=admin@company.com",
        // From the actions' rollup and the log's partial hours at both ends.
        "from=2026-10-01T10:17:00Z&to=2026-11-10T03:41:30.5Z&status=success",
    ] {
        let (filter, matching) = matching_now(&all, others);
        let mut expected: std::collections::BTreeMap<String, i64> =
            recorded.iter().map(|a| (a.clone(), 0)).collect();
        for e in all.iter().filter(|e| matching.contains(&e.id.to_string())) {
            *expected.get_mut(&e.action).unwrap() += 1;
        }
        let categories = action_facets_under(&pool, &filter).await.unwrap();
        let mut got: std::collections::BTreeMap<String, i64> = Default::default();
        for c in &categories {
            assert_eq!(
                c.count,
                c.actions.iter().map(|a| a.count).sum::<i64>(),
                "{c:?} under {others:?}"
            );
            for a in &c.actions {
                assert!(got.insert(a.action.clone(), a.count).is_none());
            }
        }
        assert_eq!(got, expected, "counts under {others:?}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn values_no_entry_ever_had_are_named(pool: PgPool) {
    seed(&pool).await;
    let f = Filter::parse(
        "action=nope.nope&action=config.*&action=zz.*&user=u_01&user=nobody&resource=cfg_7&ip=100.64.0.0/24",
    )
    .unwrap();
    let said: Vec<String> = trailkeep::storage::query::never_recorded(&pool, &f)
        .await
        .unwrap()
        .iter()
        .map(|n| n.sentence())
        .collect();
    assert_eq!(
        said,
        [
            "No entry has ever had user nobody.",
            "No entry has ever had action nope.nope.",
            "No entry has ever had action zz.*.",
            "No entry has ever had IP 100.64.0.0/24.",
        ]
    );
    // Resource types in any case; an id never recorded is named.
    let f = Filter::parse("resource=CONFIG:cfg_7").unwrap();
    assert!(trailkeep::storage::query::never_recorded(&pool, &f)
        .await
        .unwrap()
        .is_empty());
    let f = Filter::parse("resource=config:cfg_nope").unwrap();
    assert_eq!(
        trailkeep::storage::query::never_recorded(&pool, &f)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// The chart's buckets of `hits` over `from..to` in buckets of `size`: (start, success,
/// failure), empty buckets included, as `storage::query::volume` must give them.
fn volume_reference(
    hits: &[&AuditEntry],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    size: i64,
) -> Vec<(DateTime<Utc>, i64, i64)> {
    use trailkeep::domain::query::volume::bucket_start;
    let mut buckets = Vec::new();
    let mut start = bucket_start(from, size);
    while start < to {
        buckets.push((start, 0, 0));
        start += Duration::seconds(size);
    }
    for e in hits {
        let at = bucket_start(e.occurred_at, size);
        let b = buckets
            .iter_mut()
            .find(|b| b.0 == at)
            .expect("every entry inside the window");
        if e.status == app::model::Status::Success {
            b.1 += 1;
        } else {
            b.2 += 1;
        }
    }
    buckets
}

/// The chart of `query` under `policy`, asserted equal to the in-memory count over `all` (every
/// bucket, the window's start, the bars' sum); `None` when there is no chart (nothing matches).
async fn chart_as_reference(
    pool: &PgPool,
    all: &[AuditEntry],
    query: &str,
    policy: &MemoPolicy,
) -> Option<app::model::Volume> {
    use trailkeep::domain::query::volume::bucket_seconds;
    let filter = Filter::parse(query).unwrap();
    let got = trailkeep::storage::query::volume_with(pool, &filter, policy)
        .await
        .unwrap();
    let (explicit_from, explicit_to) = instants(&filter);
    let ids = reference(all, &filter, explicit_from, explicit_to);
    let hits: Vec<&AuditEntry> = all
        .iter()
        .filter(|e| ids.contains(&e.id.to_string()))
        .collect();
    let Some(got) = got else {
        assert!(
            hits.is_empty(),
            "{query}: no chart, yet {} entries",
            hits.len()
        );
        return None;
    };
    if let Some(from) = explicit_from {
        assert_eq!(got.from, from, "{query}");
    } else if !matches!(filter.time, TimeWindow::Last(_)) {
        assert_eq!(
            Some(got.from),
            hits.iter().map(|e| e.occurred_at).min(),
            "{query}"
        );
    }
    if explicit_to.is_none() && !matches!(filter.time, TimeWindow::Last(_)) {
        // An open end reaches now or the last entry, whichever is later.
        if let Some(last) = hits.iter().map(|e| e.occurred_at).max() {
            assert!(got.to > last, "{query}");
        }
        assert!(got.to > Utc::now() - Duration::minutes(5), "{query}");
    }
    let size = bucket_seconds(got.from, got.to);
    assert_eq!(got.bucket_seconds, size, "{query}");
    // A relative window moves with the clock: its entries are those inside what it gave.
    let hits: Vec<&AuditEntry> = hits
        .into_iter()
        .filter(|e| e.occurred_at >= got.from && e.occurred_at < got.to)
        .collect();
    let want = volume_reference(&hits, got.from, got.to, size);
    let buckets: Vec<(DateTime<Utc>, i64, i64)> = got
        .buckets
        .iter()
        .map(|b| (b.start, b.success, b.failure))
        .collect();
    assert_eq!(buckets, want, "{query}");
    assert_eq!(
        buckets.iter().map(|b| b.1 + b.2).sum::<i64>(),
        hits.len() as i64,
        "{query}: the bars add up to the count"
    );
    Some(got)
}

/// The chart against an in-memory count, for filters the hourly rollup serves (windows that
/// start and end inside an hour, so both the rollup and the log's edges are read) and filters
/// it cannot serve (text, resource, IP), in every bucket size from a minute to a week.
#[sqlx::test(migrations = "../migrations")]
async fn the_volume_chart_matches_the_reference(pool: PgPool) {
    use trailkeep::domain::query::volume::{rollup_for, whole_hours};
    let all = seed(&pool).await;
    // Each rollup holds every entry once.
    let (rollups, entries) = common::rollup_totals(&pool).await;
    assert_eq!(rollups, vec![entries; 4]);
    let mut from_rollup = std::collections::BTreeSet::new();
    let mut rolled_up = 0;
    for query in [
        "",
        "status=failure",
        "from=2026-10-01T10:17:00Z&to=2026-11-10T03:41:30Z",
        "from=2026-11-01T10:17:00Z&to=2026-11-08T03:41:30.5Z&action=user.*&not_user=u_01",
        "from=2026-11-10T00:00:00Z&to=2026-11-11T00:00:00Z&status=success",
        "from=2026-11-19T10:17:00Z&to=2026-11-20T11:41:30Z&not_action=config.*",
        "from=2026-11-19T10:05:00Z&to=2026-11-19T13:55:00Z",
        "user=u_01",
        "from=2026-10-01T10:17:00Z&to=2026-11-10T03:41:30Z&not_user=u_01&status=failure",
        "from=2026-10-01T10:17:00Z&to=2026-11-10T03:41:30Z&user=u_01&action=config.*",
        "not_source=trailkeep",
        "from=2026-10-01T10:17:00Z&to=2026-11-10T03:41:30Z&q=production",
        "from=2026-10-01T10:17:00Z&to=2026-11-10T03:41:30Z&not_resource=config:*",
        "from=2026-10-01T10:17:00Z&to=2026-11-10T03:41:30Z&ip=10.0.0.0/8",
        "from=2026-10-01T10:17:00Z&to=2026-11-10T03:41:30Z&ip=203.0.113.0/24&status=failure",
        "from=2026-10-01T10:17:00Z&to=2026-11-10T03:41:30Z&not_ip=198.51.100.0/24",
        "from=2026-10-01T10:17:00Z&to=2026-11-10T03:41:30Z&resource=config:*",
        "from=2026-11-01T10:17:00Z&to=2026-11-20T03:41:30.5Z&resource=cfg_7",
        "not_resource=config:*&not_source=trailkeep",
        "range=7d&action=config.deployed",
        "user=nobody-at-all",
    ] {
        let filter = Filter::parse(query).unwrap();
        let Some(got) = chart_as_reference(&pool, &all, query, &MemoPolicy::DEFAULT).await else {
            continue;
        };
        let size = got.bucket_seconds;
        if let (Some(rollup), Some(_)) = (rollup_for(&filter), whole_hours(got.from, got.to, size))
        {
            from_rollup.insert(format!("{rollup:?}"));
            rolled_up += 1;
        }
    }
    assert!(
        rolled_up >= 6,
        "the rollups must be exercised ({rolled_up})"
    );
    assert_eq!(from_rollup.len(), 4, "every rollup: {from_rollup:?}");
}

/// Entries matching `q=production` (and `user=u_01&action=config.*`), dated at `at`.
async fn append_production(pool: &PgPool, at: &[DateTime<Utc>]) {
    let events: Vec<Value> = at
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({"action": "config.deployed",
                   "actor": {"id": "u_01", "name": "Avery Admin", "email": "Admin@Company.com"},
                   "status": if i % 2 == 0 { "success" } else { "failure" },
                   "resource": {"type": "config", "id": "cfg_7"}, "ip": "203.0.113.98",
                   "occurred_at": t.to_rfc3339(),
                   "details": {"deploy": {"environment": "production"}, "note": "late sure_thing"}})
        })
        .collect();
    entries::append(
        pool,
        app::model::Source::Trailkeep,
        parse_batch(&Value::Array(events)).unwrap(),
    )
    .await
    .unwrap();
}

async fn memo_rows(pool: &PgPool) -> Vec<(Vec<u8>, i64)> {
    sqlx::query_as("SELECT key, below_seq FROM volume_memos ORDER BY key")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// The chart of a filter no rollup keeps, read from its memo (migrations/0036), against the
/// in-memory count: built by the first long or open read, read back, kept up as entries arrive
/// (some dated in hours the memo holds, some at its edges, some later than all), brought up to
/// the head, ignored once a month was archived since, and kept to the cap. Two processes
/// building it at once both answer exactly and keep one.
#[sqlx::test(migrations = "../migrations")]
async fn the_chart_of_a_search_reads_its_memo_exactly(pool: PgPool) {
    let mut all = seed(&pool).await;
    let policy = MemoPolicy {
        refresh_after: 5,
        ..MemoPolicy::DEFAULT
    };
    let built = [
        "q=production",
        "q=grace totp",
        "q=%22late sure_thing%22",
        "from=2026-10-01T10:17:00Z&to=2026-11-10T03:41:30Z&q=production",
        "from=2026-10-01T10:17:00Z&q=production&status=failure",
        "to=2026-11-10T03:41:30Z&q=production&not_user=u_02",
        "user=u_01&action=config.*",
        "range=30d&q=production",
        // A kept memo's filter over a window of buckets shorter than an hour (from the log),
        // and a short window of a filter without a memo (none is built).
        "from=2026-11-19T10:05:00Z&to=2026-11-19T11:35:00Z&q=production",
        "range=1h&q=sure",
    ];
    // A short window is counted from the log, without a memo.
    let short = "from=2026-11-02T10:17:00Z&to=2026-11-04T03:41:30Z&q=sure";
    chart_as_reference(&pool, &all, short, &policy).await;
    assert!(
        memo_rows(&pool).await.is_empty(),
        "a two-day window keeps no memo"
    );
    // Built, then read back.
    for round in 0..2 {
        for query in built {
            chart_as_reference(&pool, &all, query, &policy).await;
        }
        // "late sure_thing" matches nothing yet; its memo says so. Equal filters but for the
        // window share one.
        assert_eq!(memo_rows(&pool).await.len(), 6, "round {round}");
    }
    // The memo is read: a wrong count in it shows (and is put right again below).
    let key = trailkeep::domain::query::volume::memo_key(&Filter::parse("q=production").unwrap());
    let bumped = sqlx::query(
        "UPDATE volume_memo_hours SET success = success + 1000 \
         WHERE key = $1 AND hour = \
         (SELECT hour FROM volume_memo_hours WHERE key = $1 ORDER BY hour OFFSET 1 LIMIT 1)",
    )
    .bind(&key[..])
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(bumped.rows_affected(), 1);
    let f = Filter::parse("q=production").unwrap();
    let shown = trailkeep::storage::query::volume_with(&pool, &f, &policy)
        .await
        .unwrap()
        .unwrap();
    let total: i64 = shown.buckets.iter().map(|b| b.success + b.failure).sum();
    let (from, to) = instants(&f);
    assert_eq!(total, reference(&all, &f, from, to).len() as i64 + 1000);
    // Made under another count of archived months: not read, and built again.
    sqlx::query("UPDATE volume_memos SET archived = archived + 1")
        .execute(&pool)
        .await
        .unwrap();
    for query in built {
        chart_as_reference(&pool, &all, query, &policy).await;
    }
    // Entries arriving: dated inside the memo's hours, at the edge of a window, after all.
    let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    for (n, at) in [
        vec![t("2026-10-15T12:30:00Z"), t("2026-11-10T03:41:29.999999Z")],
        vec![t("2026-10-01T10:17:00Z"), Utc::now()],
        vec![t("2026-09-01T00:00:00Z"), Utc::now() + Duration::days(2)],
        vec![t("2026-11-10T03:00:00Z")],
    ]
    .into_iter()
    .enumerate()
    {
        append_production(&pool, &at).await;
        all = stored(&pool).await;
        for query in built {
            chart_as_reference(&pool, &all, query, &policy).await;
        }
        // After 6 entries (at least `refresh_after`), every memo read was brought to the head.
        if n == 2 {
            let head = all.len() as i64;
            for (_, below) in memo_rows(&pool).await {
                assert_eq!(below, head, "brought up to the head");
            }
        }
    }
    // Kept to the cap, the oldest built dropped.
    let capped = MemoPolicy { cap: 2, ..policy };
    for query in ["q=alpha", "q=beta", "q=gamma"] {
        chart_as_reference(&pool, &all, query, &capped).await;
    }
    assert_eq!(memo_rows(&pool).await.len(), 2);
    // Two processes building one memo at once.
    sqlx::query("DELETE FROM volume_memos")
        .execute(&pool)
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        chart_as_reference(&pool, &all, "q=production", &policy),
        chart_as_reference(&pool, &all, "q=production", &policy),
    );
    assert_eq!(a.unwrap().buckets, b.unwrap().buckets);
    assert_eq!(memo_rows(&pool).await.len(), 1);
}

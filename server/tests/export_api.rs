//! `GET /api/v1/events/export` against real PostgreSQL: every format parsed with a real parser
//! and compared with the query API (same entries, same order, same count), tricky content,
//! CSV neutralisation, the audit entry, refusals, and a client that disconnects mid-export.

mod common;

use app::model::AuditEntry;
use axum::{body::Body, http::Request};
use chrono::Utc;
use common::{key, router, send};
use serde_json::{json, Value};
use sqlx::PgPool;
use tower::ServiceExt;
use trailkeep::{
    domain::{auth::Scope, export::format::neutralise},
    service::demo,
    storage::{self, entries},
};

fn get(path: &str, key: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap()
}

/// Every entry the query API returns for `filter`, page by page.
async fn through_query_api(app: &axum::Router, key: &str, filter: &str) -> Vec<AuditEntry> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/events?{filter}&limit=1000");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", app::filter::percent_encode(c)));
        }
        let r = send(app, get(&path, key)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let page: app::model::EntryPage = serde_json::from_value(r.body).unwrap();
        all.extend(page.entries);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return all,
        }
    }
}

/// Sends an export request and waits for its `export.downloaded` record, so that the next
/// request sees a settled log.
async fn export(app: &axum::Router, pool: &PgPool, path: &str, key: &str) -> common::Reply {
    let before = storage::live::head_seq(pool).await.unwrap();
    let r = send(app, get(path, key)).await;
    if r.status == 200 {
        for _ in 0..100 {
            if storage::live::head_seq(pool).await.unwrap() > before {
                return r;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the export of {path} was not recorded");
    }
    r
}

async fn seed(pool: &PgPool, n: u64) {
    let w = storage::connect_with((*pool.connect_options()).clone(), 2)
        .await
        .unwrap();
    let events: Vec<_> = demo::events(n, Utc::now()).collect();
    entries::append(&w, app::model::Source::Trailkeep, events)
        .await
        .unwrap();
}

const FILTERS: [&str; 5] = [
    "",
    "action=config.*",
    "status=failure&order=asc",
    "range=7d&action=user.login_failed",
    "user=nobody@nowhere.example",
];

#[sqlx::test(migrations = "../migrations")]
async fn each_format_holds_exactly_what_the_query_api_returns(pool: PgPool) {
    seed(&pool, 2500).await;
    let app = router(&pool).await;
    let k = key(&pool, &[Scope::Read]).await;
    for filter in FILTERS {
        let expected = through_query_api(&app, &k, filter).await;
        let r = export(
            &app,
            &pool,
            &format!("/api/v1/events/export?format=ndjson&{filter}"),
            &k,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        // Every line is an entry (format 4: no trailer line), with its proof.
        let entries: Vec<&str> = r.text.trim_end().lines().collect();
        for line in &entries {
            let v: Value = serde_json::from_str(line).unwrap();
            assert!(
                v.get("checkpoint_size").is_some() && v.get("trailer").is_none(),
                "{v}"
            );
        }
        let lines: Vec<AuditEntry> = entries
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines, expected, "ndjson, filter {filter:?}");
        assert_eq!(
            r.headers["x-trailkeep-count"].to_str().unwrap(),
            expected.len().to_string()
        );

        let expected = through_query_api(&app, &k, filter).await;
        let r = export(
            &app,
            &pool,
            &format!("/api/v1/events/export?format=json&{filter}"),
            &k,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let doc: Value = serde_json::from_str(&r.text).expect("valid JSON, even when empty");
        let got: Vec<AuditEntry> = serde_json::from_value(doc["entries"].clone()).unwrap();
        assert_eq!(got, expected, "json, filter {filter:?}");
        assert_eq!(doc["count"], expected.len());
        assert_eq!(
            doc["export"]["format_version"],
            trailkeep::domain::export::format::FORMAT_VERSION
        );
        assert!(doc["export"].get("to").is_some(), "the period it covers");
        assert_eq!(
            doc["export"]["filter"],
            app::filter::Filter::parse(filter)
                .unwrap()
                .to_query_string()
        );

        let expected = through_query_api(&app, &k, filter).await;
        let ids: Vec<String> = expected.iter().map(|e| e.id.to_string()).collect();
        let r = export(
            &app,
            &pool,
            &format!("/api/v1/events/export?format=csv&{filter}"),
            &k,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut reader = csv::Reader::from_reader(r.text.as_bytes());
        assert_eq!(
            reader.headers().unwrap().iter().collect::<Vec<_>>(),
            trailkeep::domain::export::format::CSV_COLUMNS
        );
        // Every record is an entry (format 4: no footer record).
        let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        for record in &records {
            assert!(!record[0].starts_with('#'), "{record:?}");
            trailkeep::domain::export::format::csv_entry(record).unwrap();
        }
        let csv_ids: Vec<String> = records.iter().map(|rec| rec[13].to_string()).collect();
        assert_eq!(csv_ids, ids, "csv, filter {filter:?}");
        let disposition = r.headers["content-disposition"].to_str().unwrap();
        assert!(
            disposition.starts_with("attachment; filename=\"trailkeep-audit-")
                && disposition.ends_with(&format!("-{}.csv\"", ids.len())),
            "{disposition}"
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn tricky_content_survives_and_formulas_are_neutralised(pool: PgPool) {
    let app = router(&pool).await;
    let ingest = key(&pool, &[Scope::Ingest]).await;
    let k = key(&pool, &[Scope::Read]).await;
    let name = "Zoë \"Z\" O'Neil, <script>alert(1)</script>\nline two";
    let formula = "=cmd|' /C calc'!A0";
    let event = json!({
        "action": "config.updated",
        "actor": {"id": formula, "name": name, "email": "zoe@example.com"},
        "resource": {"type": "config", "id": "+SUM(1,2)"},
        "details": {"note": "comma, \"quote\"\nnewline ✓ 漢字", "html": "<b>&amp;</b>"}
    });
    let r = send(&app, common::post_json(Some(&ingest), event.to_string())).await;
    assert_eq!(r.status, 201, "{}", r.text);

    let only = "/api/v1/events/export?action=config.updated";
    let r = export(&app, &pool, &format!("{only}&format=json"), &k).await;
    let doc: Value = serde_json::from_str(&r.text).unwrap();
    assert_eq!(doc["count"], 1);
    let e = &doc["entries"][0];
    assert_eq!(e["actor"]["name"], name);
    assert_eq!(e["actor"]["id"], formula);
    assert_eq!(e["details"], event["details"]);

    let r = export(&app, &pool, &format!("{only}&format=csv"), &k).await;
    let mut reader = csv::Reader::from_reader(r.text.as_bytes());
    let rec = reader.records().next().unwrap().unwrap();
    assert_eq!(&rec[2], neutralise(formula));
    assert_eq!(&rec[2], format!("'{formula}"));
    assert_eq!(&rec[3], name);
    assert_eq!(&rec[7], "'+SUM(1,2)");
    let details: Value = serde_json::from_str(&rec[11]).unwrap();
    assert_eq!(details, event["details"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_requests_are_refused_before_any_byte(pool: PgPool) {
    let app = router(&pool).await;
    let k = key(&pool, &[Scope::Read]).await;
    let ingest_only = key(&pool, &[Scope::Ingest]).await;
    for (query, param) in [
        ("", "format"),
        ("format=xlsx", "format"),
        ("format=csv&format=json", "format"),
        ("format=csv&action=nope", "action"),
        ("format=csv&tz=Mars/Olympus", "tz"),
    ] {
        let r = send(&app, get(&format!("/api/v1/events/export?{query}"), &k)).await;
        assert_eq!(r.status, 400, "{query}: {}", r.text);
        assert_eq!(r.body["param"], param, "{query}");
    }
    let r = send(&app, get("/api/v1/events/export?format=csv", &ingest_only)).await;
    assert_eq!(r.status, 403);
    let r = send(
        &app,
        Request::get("/api/v1/events/export?format=csv")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401);
}

/// The `export.downloaded` entries committed after `after` (demo data has its own).
async fn export_records(pool: &PgPool, after: i64) -> Vec<Value> {
    let rows = storage::live::rows_after(pool, after, 1_000_000)
        .await
        .unwrap();
    rows.into_iter()
        .filter(|r| r.entry.action == "export.downloaded")
        .map(|r| r.entry.details)
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn each_export_is_recorded_in_the_log(pool: PgPool) {
    seed(&pool, 300).await;
    let app = router(&pool).await;
    let k = key(&pool, &[Scope::Read]).await;
    let head = storage::live::head_seq(&pool).await.unwrap();
    let r = send(
        &app,
        get("/api/v1/events/export?format=ndjson&action=config.*", &k),
    )
    .await;
    assert_eq!(r.status, 200);
    let n = r.text.lines().count() as i64; // every line an entry
                                           // Recorded after the last byte: give the writer a moment.
    let mut recorded = Vec::new();
    for _ in 0..50 {
        recorded = export_records(&pool, head).await;
        if !recorded.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(recorded.len(), 1);
    // The period as it resolved: open at the start, the snapshot's time at the end.
    let mut record = recorded[0].clone();
    let to = record["to"].take();
    assert!(
        to.as_str()
            .unwrap()
            .parse::<chrono::DateTime<Utc>>()
            .is_ok(),
        "{to}"
    );
    assert_eq!(
        record,
        json!({"format": "ndjson", "filter": "action=config.*", "from": null, "to": null,
            "rows": n, "expected_rows": n, "completed": true})
    );

    // A relative range is recorded as the absolute period it covered.
    let head = storage::live::head_seq(&pool).await.unwrap();
    let r = export(&app, &pool, "/api/v1/events/export?format=csv&range=7d", &k).await;
    assert_eq!(r.status, 200);
    let recorded = export_records(&pool, head).await;
    let at = |k: &str| {
        recorded[0][k]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<Utc>>()
            .unwrap()
    };
    assert_eq!(recorded[0]["filter"], "range=7d");
    assert_eq!(at("to") - at("from"), chrono::Duration::days(7));
}

/// The PDF report: each change's before/after under its entry, the `seq` range on the cover,
/// and a character beyond the Basic Multilingual Plane that a PDF reader extracts as itself
/// (read back with poppler's `pdftotext`, an independent reader).
#[sqlx::test(migrations = "../migrations")]
async fn the_pdf_report_reads_back_as_text(pool: PgPool) {
    // A character outside the BMP that the embedded font draws.
    let font = include_bytes!("../assets/fonts/DejaVuSansMono.ttf");
    let face = owned_ttf_parser::Face::parse(font, 0).unwrap();
    let wide = (0x1_0000u32..0x2_0000)
        .filter_map(char::from_u32)
        .find(|c| face.glyph_index(*c).is_some())
        .expect("the font has a glyph beyond U+FFFF");
    let body = json!([
        {"action": "config.updated", "actor": {"id": "u_1", "name": format!("Ada {wide} Admin")},
         "details": {"changes": {"retention_days": {"before": 30, "after": 90}}}},
        {"action": "user.login", "actor": {"id": "u_2", "email": "grace@example.com"}}
    ]);
    entries::append(
        &pool,
        app::model::Source::Trailkeep,
        trailkeep::domain::entry::event::parse_batch(&body).unwrap(),
    )
    .await
    .unwrap();
    let app = router(&pool).await;
    let k = key(&pool, &[Scope::Read]).await;
    let r = export(&app, &pool, "/api/v1/events/export?format=pdf", &k).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let text = pdf_text(&r.bytes);
    assert!(text.contains("retention_days: 30 → 90"), "{text}");
    let range = text
        .lines()
        .find(|l| l.contains("Sequence:"))
        .unwrap_or_else(|| panic!("no seq range: {text}"));
    assert!(range.contains("seq ") && range.contains(" to "), "{range}");
    // The user column shows the name (truncated to its width, the character kept).
    assert!(
        text.contains(&format!("Ada {wide}")),
        "{wide:?} must extract as itself: {text}"
    );
}

/// The cover states the period and the time of generation in words, in the reader's zone, and
/// the filters as chips say them (exclusions included).
#[sqlx::test(migrations = "../migrations")]
async fn the_pdf_cover_reads_in_words_in_the_readers_zone(pool: PgPool) {
    let app = router(&pool).await;
    let k = key(&pool, &[Scope::Read]).await;
    let r = export(
        &app,
        &pool,
        "/api/v1/events/export?format=pdf&from=2026-11-01&to=2026-11-25&tz=Europe/Berlin&not_action=user.login",
        &k,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let text = pdf_text(&r.bytes);
    let squashed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        squashed.contains(
            "Period: Sunday 1 November 2026 through Wednesday 25 November 2026 (Europe/Berlin)"
        ),
        "{squashed}"
    );
    assert!(squashed.contains("Not action: user.login"), "{squashed}");
    let generated = text
        .lines()
        .find(|l| l.contains("Generated at:"))
        .unwrap_or_else(|| panic!("no generation time: {text}"));
    assert!(
        generated.trim_end().ends_with("(Europe/Berlin)"),
        "{generated}"
    );
    // Words, not an RFC 3339 instant.
    assert!(
        !generated.contains('Z') && generated.contains(" 20"),
        "{generated}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_client_that_disconnects_stops_the_export(pool: PgPool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    seed(&pool, 60_000).await;
    let addr = common::serve(&pool).await;
    let k = key(&pool, &[Scope::Read]).await;
    let head = storage::live::head_seq(&pool).await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!(
                "GET /api/v1/events/export?format=ndjson HTTP/1.1\r\nHost: {addr}\r\n\
                 Authorization: Bearer {k}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut first = vec![0u8; 64 * 1024];
    let n = stream.read(&mut first).await.unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    drop(stream);
    let mut recorded = Vec::new();
    for _ in 0..100 {
        recorded = export_records(&pool, head).await;
        if !recorded.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(recorded.len(), 1, "the export must be recorded");
    assert_eq!(recorded[0]["completed"], false);
    let rows = recorded[0]["rows"].as_i64().unwrap();
    assert!(
        rows < 60_000,
        "the writer must stop querying once the client is gone (it wrote {rows})"
    );
}

/// The text of a PDF as poppler's `pdftotext -layout` reads it (through the font's Unicode
/// map, as any reader would); pages are separated by form feeds.
fn pdf_text(bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("trailkeep-pdf-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("report.pdf");
    std::fs::write(&file, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils, installed by make) must be on PATH");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_pdf_report_has_every_page_and_entry(pool: PgPool) {
    seed(&pool, 500).await;
    let app = router(&pool).await;
    let k = key(&pool, &[Scope::Read]).await;
    for filter in ["action=config.*", "user=nobody@nowhere.example", ""] {
        let expected = through_query_api(&app, &k, filter).await;
        let r = export(
            &app,
            &pool,
            &format!("/api/v1/events/export?format=pdf&{filter}"),
            &k,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.headers["content-type"], "application/pdf");
        let bytes = &r.bytes[..];
        assert!(bytes.starts_with(b"%PDF-"), "a PDF document");
        let pdf = lopdf::Document::load_mem(bytes).expect("a well-formed PDF");
        let pages = trailkeep::domain::export::report::page_count(
            expected
                .iter()
                .map(trailkeep::domain::export::report::entry_lines),
        );
        assert_eq!(pdf.get_pages().len() as i64, pages, "filter {filter:?}");
        let text = pdf_text(bytes);
        let pages_text: Vec<&str> = text
            .split('\u{c}')
            .filter(|p| !p.trim().is_empty())
            .collect();
        assert_eq!(pages_text.len() as i64, pages, "filter {filter:?}");
        // Words as read, whatever the layout's spacing.
        let squash = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        let (first, last) = (
            squash(pages_text[0]),
            squash(pages_text[pages_text.len() - 1]),
        );
        assert!(first.contains("Audit log report"), "{first}");
        assert!(first.contains("Generated by: test"), "{first}");
        for (i, page) in pages_text.iter().enumerate() {
            assert!(
                squash(page).contains(&format!("page {} of {pages}", i + 1)),
                "{page}"
            );
        }
        assert!(
            last.contains("Summary") && last.contains("All entries"),
            "{last}"
        );
        // Every entry is in the table, in order: its user and action on its row.
        let mut at = 0;
        for e in &expected {
            let user = e
                .actor
                .email
                .clone()
                .or(e.actor.name.clone())
                .unwrap_or(e.actor.id.clone());
            // Cells longer than their column end in "…".
            let user: String = user.chars().take(27).collect();
            let action: String = e.action.chars().take(23).collect();
            let found = text[at..]
                .lines()
                .scan(at, |offset, line| {
                    let here = *offset;
                    *offset += line.len() + 1;
                    Some((here, line))
                })
                .find(|(_, line)| line.contains(&user) && line.contains(&action))
                .unwrap_or_else(|| panic!("entry {} ({user}, {action}) missing", e.seq));
            at = found.0 + found.1.len();
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_pdf_over_the_limit_is_refused_up_front(pool: PgPool) {
    let w = storage::connect_with((*pool.connect_options()).clone(), 2)
        .await
        .unwrap();
    let limit = trailkeep::domain::export::report::MAX_ENTRIES as u64;
    for _ in 0..((limit + 1) / 20_000 + 1) {
        let events: Vec<_> = demo::events(20_000, Utc::now()).collect();
        entries::append(&w, app::model::Source::Trailkeep, events)
            .await
            .unwrap();
    }
    let app = router(&pool).await;
    let k = key(&pool, &[Scope::Read]).await;
    let r = send(&app, get("/api/v1/events/export?format=pdf", &k)).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["param"], "format");
    let message = r.body["error"].as_str().unwrap();
    assert!(
        message.contains("100,000") && message.contains("CSV"),
        "{message}"
    );
    // Narrowed under the limit, the same request is served.
    let r = send(
        &app,
        get(
            "/api/v1/events/export?format=pdf&action=config.deployed&range=24h",
            &k,
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Near the limit, the report streams page by page: the process's resident memory grows by
    // far less than the document (measured while the body is read and dropped chunk by chunk).
    // The latest `from` that still leaves at least 95,000 entries, found by halving.
    let count_from = |from: i64| {
        let (app, k) = (app.clone(), k.clone());
        async move {
            let t = chrono::DateTime::from_timestamp(from, 0)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let r = send(&app, get(&format!("/api/v1/events/count?from={t}"), &k)).await;
            (t, r.body["count"].as_i64().unwrap())
        }
    };
    let (mut lo, mut hi) = (
        Utc::now().timestamp() - 200 * 86_400,
        Utc::now().timestamp(),
    );
    for _ in 0..30 {
        let mid = (lo + hi) / 2;
        if count_from(mid).await.1 > limit as i64 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let (from, count) = count_from(hi).await;
    assert!(count > 95_000 && count <= limit as i64, "{count}");
    let rss_kb = || -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap()
    };
    let baseline = rss_kb();
    let response = app
        .clone()
        .oneshot(get(
            &format!("/api/v1/events/export?format=pdf&from={from}"),
            &k,
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body().into_data_stream();
    let (mut bytes, mut peak) = (0usize, baseline);
    let mut head = Vec::new();
    while let Some(chunk) = futures::StreamExt::next(&mut body).await {
        let chunk = chunk.unwrap();
        if head.len() < 8 {
            head.extend_from_slice(&chunk[..chunk.len().min(8)]);
        }
        bytes += chunk.len();
        peak = peak.max(rss_kb());
    }
    let growth_mb = (peak.saturating_sub(baseline)) as f64 / 1024.0;
    eprintln!(
        "PDF of {count} entries: {:.1} MB sent, peak RSS growth {growth_mb:.1} MB",
        bytes as f64 / 1e6
    );
    assert!(head.starts_with(b"%PDF-"));
    assert!(bytes > 5_000_000, "{bytes} bytes");
    assert!(
        growth_mb < 150.0,
        "resident memory grew by {growth_mb:.1} MB"
    );
}

/// Exports hold a connection and memory while their clients read: two at a time per reader
/// and eight in all; past that a 429 with Retry-After, before any work. A finished export
/// frees its place.
#[sqlx::test(migrations = "../migrations")]
async fn exports_beyond_the_caps_get_429_with_retry_after(pool: PgPool) {
    seed(&pool, 20_000).await;
    let app = router(&pool).await;
    let keys = [
        key(&pool, &[Scope::Read]).await,
        key(&pool, &[Scope::Read]).await,
        key(&pool, &[Scope::Read]).await,
        key(&pool, &[Scope::Read]).await,
        key(&pool, &[Scope::Read]).await,
    ];
    // Responses whose bodies nobody reads: their exports stay running.
    let hold = |k: String| {
        let app = app.clone();
        async move {
            let r = app
                .oneshot(get("/api/v1/events/export?format=ndjson", &k))
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r
        }
    };
    let mut held = Vec::new();
    for k in &keys[..2] {
        for _ in 0..2 {
            held.push(hold(k.clone()).await);
        }
    }
    // A third at once for the same key is refused.
    let r = send(&app, get("/api/v1/events/export?format=csv", &keys[0])).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(r.headers.contains_key("retry-after"));
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("already have 2 exports running"));
    for k in &keys[2..4] {
        for _ in 0..2 {
            held.push(hold(k.clone()).await);
        }
    }
    // The ninth, from a key running none, meets the total.
    let r = send(&app, get("/api/v1/events/export?format=json", &keys[4])).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(r.headers.contains_key("retry-after"));
    // A client that goes away frees its place.
    drop(held.pop());
    let mut status = 0;
    for _ in 0..100 {
        let r = app
            .clone()
            .oneshot(get("/api/v1/events/export?format=json", &keys[4]))
            .await
            .unwrap();
        status = r.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200);
}

/// A PDF whose client goes away stops reading and rendering: it is recorded as not completed.
/// How soon, against the time a whole report of the same entries takes, is a benchmark
/// (`trailkeep-bench export-abandon`), not a threshold here.
#[sqlx::test(migrations = "../migrations")]
async fn a_pdf_stops_when_its_client_goes_away(pool: PgPool) {
    use std::time::{Duration, Instant};
    seed(&pool, 20_000).await;
    let app = router(&pool).await;
    let k = key(&pool, &[Scope::Read]).await;
    let r = export(&app, &pool, "/api/v1/events/export?format=pdf", &k).await;
    assert_eq!(r.status, 200);
    assert!(r.bytes.starts_with(b"%PDF"));

    let after = storage::live::head_seq(&pool).await.unwrap();
    let response = app
        .clone()
        .oneshot(get("/api/v1/events/export?format=pdf", &k))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    drop(response);
    // A generous deadline: only an export that never ends fails it.
    let deadline = Instant::now() + Duration::from_secs(120);
    let record = loop {
        if let Some(r) = export_records(&pool, after).await.into_iter().next() {
            break r;
        }
        assert!(Instant::now() < deadline, "never recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(record["completed"], false, "{record}");
}

//! Provenance and the versioned canonical form, against real PostgreSQL: entries written before
//! the provenance migration keep verifying (form 1), every later entry names its source and
//! hashes it (form 2), ingest keys cannot pass for Trailkeep, and the README's recipe, run by an
//! independent RFC 8785 implementation (Python's `rfc8785`), gives every stored leaf hash.

mod common;

use std::borrow::Cow;
use std::path::PathBuf;

use app::model::{AuditEntry, Source};
use axum::{body::Body, http::Request};
use chrono::Utc;
use common::{post_json, send};
use serde_json::{json, Value};
use sqlx::{migrate::Migrator, PgPool};
use trailkeep::{
    domain::{
        auth::Scope,
        entry::chain::{chain_hash, GENESIS},
        entry::event::parse_batch,
        entry::record::Form,
    },
    service::accounts::{self, Acting},
    storage,
};

/// The migration that added provenance.
const PROVENANCE: i64 = 6;

fn get(path: &str, key: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap()
}

/// Events with the content that trips encoders: unicode, escapes, numbers JCS rewrites, and
/// the actions whose form-1 category is `auth`.
fn tricky_events() -> Vec<trailkeep::domain::entry::event::NewEvent> {
    parse_batch(&json!([
        {"action": "user.login", "actor": {"id": "u1", "email": "ada@example.com"}, "ip": "203.0.113.7"},
        {"action": "user.login_failed", "actor": {"id": "u1"}, "status": "failure", "details": {"reason": "bad_password"}},
        {"action": "user.logout", "actor": {"id": "u1"}},
        {"action": "2fa.enrolled", "actor": {"id": "u1"}, "ip": "2001:DB8::1"},
        {"action": "user.invited", "actor": {"id": "u1"}, "resource": {"type": "user", "id": "u2"}},
        {"action": "config.updated", "actor": {"id": "ü-ñ-😀", "name": "Zoë \"Z\" O'Brien"},
         "details": {"n": [1e-21, -0.0, 1.5e-7, 0.1, 9007199254740991i64], "s": "line\n\ttab \u{1} \u{2028}", "é": {"": null}}},
        {"action": "kb.uploaded", "actor": {"id": "k", "type": "api_key"}, "user_agent": "",
         "occurred_at": "2026-03-31T23:59:59.123456789+02:00", "details": {"emoji": "👩‍💻", "rtl": "עברית"}},
    ]))
    .unwrap()
}

/// The schema as it was before provenance, and entries appended as the code of that time did:
/// its INSERT had no `form` and no `source`, and hashed form 1.
async fn log_before_provenance(pool: &PgPool) -> i64 {
    let before = Migrator {
        migrations: Cow::Owned(
            storage::MIGRATOR
                .migrations
                .iter()
                .filter(|m| m.version < PROVENANCE)
                .cloned()
                .collect(),
        ),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    };
    before.run(pool).await.unwrap();
    let now = Utc::now();
    let mut head = GENESIS;
    let mut seq = 0;
    for event in tricky_events() {
        let mut r = event.into_record(seq, uuid::Uuid::new_v4(), now, Source::Trailkeep);
        r.form = Form::V1;
        r.source = None;
        let leaf = r.leaf_hash();
        head = chain_hash(&head, &leaf);
        sqlx::query(
            "INSERT INTO audit_entries (seq, id, occurred_at, recorded_at, actor_type, actor_id, \
             actor_name, actor_email, action, resource_type, resource_id, ip, user_agent, status, \
             details, leaf_hash, chain_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::inet, $13, $14, $15, $16, $17)",
        )
        .bind(r.seq)
        .bind(r.id)
        .bind(r.occurred_at)
        .bind(r.recorded_at)
        .bind(r.actor_type.as_str())
        .bind(&r.actor_id)
        .bind(&r.actor_name)
        .bind(&r.actor_email)
        .bind(&r.action)
        .bind(&r.resource_type)
        .bind(&r.resource_id)
        .bind(r.ip.map(|ip| ip.to_string()))
        .bind(&r.user_agent)
        .bind(r.status.as_str())
        .bind(&r.details)
        .bind(&leaf[..])
        .bind(&head[..])
        .execute(pool)
        .await
        .unwrap();
        seq += 1;
    }
    sqlx::query("UPDATE chain_head SET next_seq = $1, head_hash = $2")
        .bind(seq)
        .bind(&head[..])
        .execute(pool)
        .await
        .unwrap();
    seq
}

/// The Python that has `rfc8785` (`make test` installs it under target/py).
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("TRAILKEEP_PYTHON") {
        return p.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/py/bin/python3");
    assert!(
        venv.exists(),
        "{} is missing: `make py` installs Python's rfc8785 there (make test does)",
        venv.display()
    );
    venv
}

#[sqlx::test(migrations = false)]
async fn old_and_new_entries_match_the_readme_recipe_in_python(pool: PgPool) {
    let old = log_before_provenance(&pool).await;
    storage::MIGRATOR.run(&pool).await.unwrap();
    let writer = storage::connect_with((*pool.connect_options()).clone(), 4)
        .await
        .unwrap();
    assert_eq!(
        trailkeep::service::chain::verify(&writer).await.unwrap(),
        Ok(old),
        "entries written before provenance keep verifying under form 1"
    );

    // New entries: Trailkeep's own (a key created) and a key's, through the ingest API.
    let (key_id, key) = accounts::create_key(
        &writer,
        "Billing platform",
        &[Scope::Ingest, Scope::Read],
        &Acting::cli(),
    )
    .await
    .unwrap();
    let app = common::router(&writer).await;
    let body = Value::Array(tricky_events().iter().map(|e| e.to_input()).collect());
    let r = send(&app, post_json(Some(&key), body.to_string())).await;
    assert_eq!(r.status, 201, "{}", r.text);

    let r = send(
        &app,
        get("/api/v1/events/export?format=json&order=asc", &key),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let doc: Value = serde_json::from_str(&r.text).unwrap();
    let mut got: Vec<AuditEntry> = serde_json::from_value(doc["entries"].clone()).unwrap();
    got.sort_by_key(|e| e.seq);
    let forms: Vec<(i16, Option<Source>)> = got.iter().map(|e| (e.form, e.source)).collect();
    let n = tricky_events().len();
    assert_eq!(got.len(), 2 * n + 1);
    assert!(forms[..n].iter().all(|f| *f == (1, None)), "{forms:?}");
    assert_eq!(forms[n], (2, Some(Source::Trailkeep)), "key.created");
    assert!(forms[n + 1..]
        .iter()
        .all(|f| *f == (2, Some(Source::Key(key_id)))));
    assert_eq!(got[n + 1].source_name.as_deref(), Some("Billing platform"));
    // (The export is recorded too, as `export.downloaded`, once it has been delivered.)
    let verdict = trailkeep::service::chain::verify(&writer).await.unwrap();
    assert!(
        matches!(verdict, Ok(entries) if entries >= (2 * n + 1) as i64),
        "{verdict:?}"
    );

    // The recipe, on the same entries in every format that carries them field by field.
    let mut exports = vec![("json", r.text.clone())];
    for format in ["ndjson", "csv"] {
        let r = send(
            &app,
            get(
                &format!("/api/v1/events/export?format={format}&order=asc"),
                &key,
            ),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        exports.push((format, r.text));
    }
    for (format, text) in exports {
        let file = std::env::temp_dir().join(format!(
            "trailkeep-recipe-{}.{format}",
            uuid::Uuid::new_v4()
        ));
        std::fs::write(&file, &text).unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/recipe.py");
        let out = std::process::Command::new(python())
            .arg(&script)
            .arg(&file)
            .output()
            .expect("python runs");
        let _ = std::fs::remove_file(&file);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{format}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if format == "json" {
            assert_eq!(
                stdout.trim(),
                format!("ok {} (form 1: {n}, form 2: {})", 2 * n + 1, n + 1)
            );
        } else {
            // Each export is recorded once delivered: the later ones may hold the earlier.
            assert!(
                stdout.trim().starts_with("ok ")
                    && stdout.contains(&format!("(form 1: {n}, form 2: ")),
                "{format}: {stdout}"
            );
        }
    }

    // The database admits no new form-1 entry, even from its owner.
    let err = sqlx::query(
        "INSERT INTO audit_entries (seq, id, occurred_at, recorded_at, actor_type, actor_id, action, \
         status, details, form, leaf_hash, chain_hash) \
         VALUES ($1, gen_random_uuid(), now(), now(), 'user', 'x', 'a.b', 'success', '{}', 1, $2, $2)",
    )
    .bind((2 * n + 1) as i64)
    .bind(&[0u8; 32][..])
    .execute(&pool)
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("audit_entries_provenance"),
        "{err}"
    );
}

/// An ingest key can name its event after Trailkeep's own actions, but the entry says which
/// key sent it, and `source=trailkeep` leaves it out, in the API, the count and the export.
#[sqlx::test(migrations = "../migrations")]
async fn a_key_cannot_pass_for_trailkeep(pool: PgPool) {
    let writer = storage::connect_with((*pool.connect_options()).clone(), 4)
        .await
        .unwrap();
    let (key_id, key) =
        accounts::create_key(&writer, "ci", &[Scope::Ingest, Scope::Read], &Acting::cli())
            .await
            .unwrap();
    let app = common::router(&writer).await;
    let forged = json!({"action": "user.role_changed", "actor": {"id": "system", "type": "system", "name": "Trailkeep"},
                        "resource": {"type": "user", "id": "u1"}, "details": {"role": "admin"}});
    let r = send(&app, post_json(Some(&key), forged.to_string())).await;
    assert_eq!(r.status, 201, "{}", r.text);

    let r = send(&app, get("/api/v1/events?action=user.role_changed", &key)).await;
    let e: AuditEntry = serde_json::from_value(r.body["entries"][0].clone()).unwrap();
    assert_eq!(e.source, Some(Source::Key(key_id)));
    assert_eq!(e.source_name.as_deref(), Some("ci"));

    let count = |q: &'static str| {
        let app = app.clone();
        let key = key.clone();
        async move {
            send(&app, get(&format!("/api/v1/events/count?{q}"), &key))
                .await
                .body["count"]
                .clone()
        }
    };
    // Trailkeep's own: the key's creation.
    assert_eq!(count("source=trailkeep").await, 1);
    assert_eq!(count("source=trailkeep&action=user.role_changed").await, 0);
    assert_eq!(
        send(
            &app,
            get(&format!("/api/v1/events/count?source={key_id}"), &key)
        )
        .await
        .body["count"],
        1
    );
    let r = send(
        &app,
        get("/api/v1/events/export?format=csv&source=trailkeep", &key),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        r.text.contains("key.created") && !r.text.contains("user.role_changed"),
        "{}",
        r.text
    );
    let r = send(&app, get("/api/v1/events/count?source=someone", &key)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["param"], "source", "{}", r.text);

    // The same client id from another key is not a retry of the first key's event.
    let (_, other) = accounts::create_key(&writer, "other", &[Scope::Ingest], &Acting::cli())
        .await
        .unwrap();
    let id = uuid::Uuid::new_v4();
    let event = json!({"id": id, "action": "a.b", "actor": {"id": "x"}});
    assert_eq!(
        send(&app, post_json(Some(&key), event.to_string()))
            .await
            .status,
        201
    );
    assert_eq!(
        send(&app, post_json(Some(&key), event.to_string()))
            .await
            .status,
        201
    );
    assert_eq!(
        send(&app, post_json(Some(&other), event.to_string()))
            .await
            .status,
        409
    );
}

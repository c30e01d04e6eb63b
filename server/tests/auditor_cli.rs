//! The auditor's commands run as an auditor runs them: `trailkeep key-info`, `verify`,
//! `verify --checkpoint` and `verify-export` as processes, their exit codes and the lines they
//! print (ok, bad, not checked) asserted.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use app::model::Source;
use axum::{body::Body, http::Request};
use serde_json::json;
use sqlx::PgPool;
use trailkeep::{
    domain::{auth::Scope, entry::event::parse_batch},
    infra::keyfile,
    service::{
        checkpoints::{sign_once, Memory},
        tree::integrate,
    },
    storage::entries,
};

struct Run {
    code: i32,
    out: String,
}

fn trailkeep(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trailkeep"));
    command.args(args).env("TRAILKEEP_LOG_LEVEL", "error");
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().expect("trailkeep runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr),
    }
}

async fn append(pool: &PgPool, n: usize) {
    let batch: Vec<_> = (0..n)
        .map(|i| json!({"action": "doc.viewed", "actor": {"id": format!("u{i}")}}))
        .collect();
    entries::append(pool, Source::Trailkeep, parse_batch(&json!(batch)).unwrap())
        .await
        .unwrap();
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trailkeep-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_auditors_commands_say_ok_bad_and_not_checked(pool: PgPool) {
    let url = common::url_of(&pool).await;
    let dir = temp_dir();
    let key_file = text(&dir.join("log.key"));
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("TRAILKEEP_KEY_FILE", key_file.as_str()),
    ];
    // key-info makes the key and prints the verifier key auditors pin.
    let info = trailkeep(&["key-info"], &env);
    assert_eq!(info.code, 0, "{}", info.out);
    let key = match keyfile::load(Path::new(&key_file)) {
        Ok(key) => key,
        Err(_) => panic!("key-info wrote no key"),
    };
    let vkey = key.verifier().as_str().to_string();
    assert_eq!(info.out.trim(), vkey);

    let writer = common::writer_pool(&pool).await;
    append(&writer, 40).await;
    integrate(&writer).await.unwrap();
    let memory = Memory::beside(Path::new(&key_file));
    sign_once(&writer, &key, Duration::ZERO, Some(&memory))
        .await
        .unwrap();
    let saved = dir.join("cp.txt");
    std::fs::copy(memory.path(), &saved).unwrap();

    // verify: every line ok, the signer's memory checked too.
    let ok = trailkeep(&["verify"], &env);
    assert_eq!(ok.code, 0, "{}", ok.out);
    for line in [
        "ok 40 entries",
        "ok Merkle tree of 40 entries",
        "ok 1 checkpoints",
        "ok the log still holds the 40 entries of",
    ] {
        assert!(ok.out.contains(line), "{line:?} in {}", ok.out);
    }
    let saved_arg = text(&saved);
    let with_saved = trailkeep(
        &["verify", "--checkpoint", &saved_arg, "--key", &vkey],
        &env,
    );
    assert_eq!(with_saved.code, 0, "{}", with_saved.out);
    assert!(
        with_saved.out.contains("of the saved checkpoint"),
        "{}",
        with_saved.out
    );

    // Without a key, the checkpoints could not be checked: exit 2, unless skipped on purpose.
    let nowhere = text(&dir.join("missing.key"));
    let no_key = [
        ("DATABASE_URL", url.as_str()),
        ("TRAILKEEP_KEY_FILE", nowhere.as_str()),
    ];
    let unchecked = trailkeep(&["verify"], &no_key);
    assert_eq!(unchecked.code, 2, "{}", unchecked.out);
    assert!(
        unchecked.out.contains("not checked: checkpoints"),
        "{}",
        unchecked.out
    );
    let skipped = trailkeep(&["verify", "--no-checkpoints"], &no_key);
    assert_eq!(skipped.code, 0, "{}", skipped.out);
    assert!(skipped
        .out
        .contains("checkpoints not checked (--no-checkpoints)"));

    // verify-export: a JSON export of everything, proven; then one changed field.
    let reader = common::key(&pool, &[Scope::Read]).await;
    integrate(&writer).await.unwrap();
    sign_once(&writer, &key, Duration::ZERO, Some(&memory))
        .await
        .unwrap();
    let app = common::router_with_key(&pool, Some(key.verifier())).await;
    let r = common::send(
        &app,
        Request::get("/api/v1/events/export?format=json")
            .header("authorization", format!("Bearer {reader}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let export = dir.join("export.json");
    std::fs::write(&export, &r.text).unwrap();
    let export_arg = text(&export);
    let good = trailkeep(&["verify-export", &export_arg, "--key", &vkey], &[]);
    assert_eq!(good.code, 0, "{}", good.out);
    assert!(
        good.out.contains("ok 41 entries: 41 proven"),
        "{}",
        good.out
    );
    assert!(good.out.contains("complete"), "{}", good.out);
    std::fs::write(&export, r.text.replacen("\"u1\"", "\"u2\"", 1)).unwrap();
    let bad = trailkeep(&["verify-export", &export_arg, "--key", &vkey], &[]);
    assert_eq!(bad.code, 1, "{}", bad.out);
    assert!(bad.out.starts_with("bad: "), "{}", bad.out);

    // The owner cuts the tail and rebuilds everything derived from it: the database agrees
    // with itself, the signer's memory does not.
    common::cut_tail_as_owner(&pool, 30).await;
    integrate(&writer).await.unwrap();
    let cut = trailkeep(&["verify"], &env);
    assert_eq!(cut.code, 1, "{}", cut.out);
    assert!(cut.out.contains("ok 30 entries"), "{}", cut.out);
    assert!(cut.out.contains(".last-checkpoint): "), "{}", cut.out);
    let _ = std::fs::remove_dir_all(&dir);
}

//! Scheduled exports to an S3-compatible bucket under Object Lock, against a real S3 server
//! started here (moto 5.2, `make py` installs it into target/py) on 127.0.0.1, behind a proxy
//! that recomputes every request's SigV4 signature independently (moto checks none) and
//! refuses any `x-amz-*` or `Content-MD5` header that was sent unsigned. The proxy's own check
//! is first held to AWS's published example.
//!
//! What is attacked: credentials (never in an answer, an entry or the table in plain text;
//! never sent to a new endpoint without being typed again), the outbound guard (loopback
//! refused unless allowed, by address and by name; a redirect is not followed), and the lock
//! (a locked version cannot be deleted).

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::exports::{S3Spec, ScheduleSpec};
use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode};
use chrono::Utc;
use hmac::{Hmac, Mac};
use rusty_s3::{Bucket, S3Action, UrlStyle};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use trailkeep::domain::export::bundle;
use trailkeep::domain::export::s3::{Credentials, Target};
use trailkeep::domain::outbound::Policy;
use trailkeep::service::accounts::Acting;
use trailkeep::service::outbound::Outbound;
use trailkeep::service::s3::{S3Error, Store};
use trailkeep::service::scheduler::{Outcome, Scheduler};
use trailkeep::service::schedules;
use trailkeep::storage::entries;
use uuid::Uuid;

const ACCESS_KEY: &str = "AKIATRAILKEEPTEST01";
const SECRET: &str = "s3cr3t/Trailkeep+Test/Key0000000000000";

// ---------------------------------------------------------------------------------------
// An independent SigV4 check of presigned requests (query-string authentication).

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn aws_encode(s: &str) -> String {
    s.bytes()
        .map(|c| match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (c as char).to_string()
            }
            _ => format!("%{c:02X}"),
        })
        .collect()
}

/// Checks a presigned request as S3 would: `Ok` when its signature is `secret`'s over the
/// method, path, query, and every header it names, and no `x-amz-*` or `content-md5` header
/// was sent unsigned.
fn verify_presigned(
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    secret: &str,
) -> Result<(), String> {
    let params: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (pct_decode(k), pct_decode(v))
        })
        .collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .ok_or(format!("{name} missing"))
    };
    if get("X-Amz-Algorithm")? != "AWS4-HMAC-SHA256" {
        return Err("algorithm".into());
    }
    let signature = get("X-Amz-Signature")?;
    let amz_date = get("X-Amz-Date")?;
    let credential = get("X-Amz-Credential")?;
    let signed = get("X-Amz-SignedHeaders")?;
    let signed_names: Vec<&str> = signed.split(';').collect();
    if !signed_names.contains(&"host") {
        return Err("host is not signed".into());
    }
    for name in headers.keys() {
        let n = name.as_str();
        if (n.starts_with("x-amz-") || n == "content-md5") && !signed_names.contains(&n) {
            return Err(format!("{n} was sent unsigned"));
        }
    }
    let mut canonical_query: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (aws_encode(k), aws_encode(v)))
        .collect();
    canonical_query.sort();
    let canonical_query = canonical_query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut canonical_headers = String::new();
    for name in &signed_names {
        let value = headers
            .get(*name)
            .ok_or(format!("signed header {name} was not sent"))?
            .to_str()
            .map_err(|e| e.to_string())?;
        canonical_headers.push_str(&format!("{name}:{}\n", value.trim()));
    }
    let request = format!(
        "{method}\n{path}\n{canonical_query}\n{canonical_headers}\n{signed}\nUNSIGNED-PAYLOAD"
    );
    let parts: Vec<&str> = credential.split('/').collect();
    let [_, date, region, service, "aws4_request"] = parts[..] else {
        return Err(format!("credential {credential}"));
    };
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex::encode(Sha256::digest(request.as_bytes()))
    );
    let key = hmac(
        &hmac(
            &hmac(&hmac(format!("AWS4{secret}").as_bytes(), date), region),
            service,
        ),
        "aws4_request",
    );
    let expected = hex::encode(hmac(&key, &to_sign));
    if expected == signature {
        Ok(())
    } else {
        Err(format!("signature {signature}, expected {expected}"))
    }
}

/// AWS's published example of a presigned GET ("Authenticating Requests: Using Query
/// Parameters", Signature Version 4).
const AWS_EXAMPLE_QUERY: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
const AWS_EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

#[test]
fn the_signer_and_the_check_agree_with_aws_published_example() {
    let mut host = HeaderMap::new();
    host.insert("host", "examplebucket.s3.amazonaws.com".parse().unwrap());
    // The independent check accepts AWS's example, and refuses it altered.
    verify_presigned(
        "GET",
        "/test.txt",
        AWS_EXAMPLE_QUERY,
        &host,
        AWS_EXAMPLE_SECRET,
    )
    .unwrap();
    assert!(verify_presigned("GET", "/test.txt", AWS_EXAMPLE_QUERY, &host, "wrong").is_err());
    assert!(verify_presigned(
        "PUT",
        "/test.txt",
        AWS_EXAMPLE_QUERY,
        &host,
        AWS_EXAMPLE_SECRET
    )
    .is_err());
    let mut unsigned = host.clone();
    unsigned.insert("x-amz-object-lock-mode", "GOVERNANCE".parse().unwrap());
    assert!(verify_presigned(
        "GET",
        "/test.txt",
        AWS_EXAMPLE_QUERY,
        &unsigned,
        AWS_EXAMPLE_SECRET
    )
    .unwrap_err()
    .contains("unsigned"));

    // rusty-s3, the signer Trailkeep uses, produces AWS's exact URL.
    let bucket = Bucket::new(
        "https://s3.amazonaws.com".parse().unwrap(),
        UrlStyle::VirtualHost,
        "examplebucket",
        "us-east-1",
    )
    .unwrap();
    let creds = rusty_s3::Credentials::new("AKIAIOSFODNN7EXAMPLE", AWS_EXAMPLE_SECRET);
    let at: jiff::Timestamp = "2013-05-24T00:00:00Z".parse().unwrap();
    let url = bucket
        .get_object(Some(&creds), "test.txt")
        .sign_with_time(Duration::from_secs(86400), &at);
    assert_eq!(url.host_str(), Some("examplebucket.s3.amazonaws.com"));
    assert_eq!(url.path(), "/test.txt");
    let signature = url
        .query_pairs()
        .find(|(k, _)| k == "X-Amz-Signature")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(
        signature,
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    );

    // A PUT with Object Lock's headers signs each of them (the check recomputes it).
    let mut put = bucket.put_object(Some(&creds), "a/b.tar.gz");
    put.headers_mut()
        .insert("x-amz-object-lock-mode", "COMPLIANCE");
    put.headers_mut().insert(
        "x-amz-object-lock-retain-until-date",
        "2030-01-01T00:00:00Z",
    );
    put.headers_mut()
        .insert("content-md5", "XUFAKrxLKna5cZ2REBfFkg==");
    let url = put.sign_with_time(Duration::from_secs(300), &at);
    let mut sent = host.clone();
    for (k, v) in put.headers_mut().iter() {
        sent.insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    verify_presigned(
        "PUT",
        url.path(),
        url.query().unwrap(),
        &sent,
        AWS_EXAMPLE_SECRET,
    )
    .unwrap();
    sent.insert("x-amz-object-lock-mode", "GOVERNANCE".parse().unwrap());
    assert!(verify_presigned(
        "PUT",
        url.path(),
        url.query().unwrap(),
        &sent,
        AWS_EXAMPLE_SECRET
    )
    .is_err());
}

// ---------------------------------------------------------------------------------------
// moto, and the checking proxy in front of it.

struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn moto() -> Moto {
    // The venv's interpreter (its entry scripts name the path the venv was made at).
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/py/bin/python3");
    assert!(
        python.exists(),
        "{} is missing: `make py` installs moto[server] 5.2.5 into target/py",
        python.display()
    );
    let port = free_port();
    let child = Command::new(&python)
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let moto = Moto { child, port };
    for _ in 0..600 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return moto;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto_server did not start on port {port} within 60 s");
}

/// What the proxy saw: each request's method and path, and each signature it refused.
#[derive(Default)]
struct Seen {
    requests: Vec<String>,
    refused: Vec<String>,
}

/// A proxy on 127.0.0.1 that checks each request's signature, then forwards it to moto.
async fn checking_proxy(upstream: u16, seen: Arc<Mutex<Seen>>) -> u16 {
    let plain = reqwest::Client::builder().no_proxy().build().unwrap();
    let handler = move |request: Request<Body>| {
        let seen = seen.clone();
        let plain = plain.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let path = parts.uri.path().to_string();
            let query = parts.uri.query().unwrap_or("").to_string();
            seen.lock()
                .unwrap()
                .requests
                .push(format!("{} {path}?{query}", parts.method));
            if let Err(e) =
                verify_presigned(parts.method.as_str(), &path, &query, &parts.headers, SECRET)
            {
                seen.lock().unwrap().refused.push(e.clone());
                return Response::builder()
                    .status(StatusCode::FORBIDDEN)
                    .body(Body::from(format!(
                        "<Error><Code>SignatureDoesNotMatch</Code><Message>{e}</Message></Error>"
                    )))
                    .unwrap();
            }
            let mut forward = plain.request(
                parts.method.clone(),
                format!("http://127.0.0.1:{upstream}{path}?{query}"),
            );
            for (k, v) in &parts.headers {
                if k != "host" {
                    forward = forward.header(k, v);
                }
            }
            let answer = forward.body(body).send().await.unwrap();
            let mut out = Response::builder().status(answer.status());
            for (k, v) in answer.headers() {
                out = out.header(k, v);
            }
            out.body(Body::from(answer.bytes().await.unwrap())).unwrap()
        }
    };
    let app = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

/// moto behind the checking proxy, with a bucket (locked or not).
struct S3 {
    _moto: Moto,
    endpoint: String,
    seen: Arc<Mutex<Seen>>,
}

impl S3 {
    async fn start() -> S3 {
        trailkeep::service::outbound::install_tls();
        let moto = moto().await;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let port = checking_proxy(moto.port, seen.clone()).await;
        S3 {
            _moto: moto,
            endpoint: format!("http://127.0.0.1:{port}"),
            seen,
        }
    }

    fn outbound() -> Outbound {
        Outbound::new(Policy::parse("127.0.0.1").unwrap())
    }

    fn target(&self, bucket: &str) -> Target {
        Target::new(
            &self.endpoint,
            "us-east-1",
            bucket,
            "trailkeep/daily",
            true,
            "COMPLIANCE",
            30,
        )
        .unwrap()
    }

    fn store(&self, bucket: &str) -> Store {
        Store::new(
            self.target(bucket),
            &Credentials::new(ACCESS_KEY, SECRET).unwrap(),
            Self::outbound(),
        )
        .unwrap()
    }

    /// `bucket` on this server as rusty-s3 addresses it, with the test's credentials.
    fn raw(&self, bucket: &str) -> (Bucket, rusty_s3::Credentials) {
        let b = Bucket::new(
            self.endpoint.parse().unwrap(),
            UrlStyle::Path,
            bucket.to_string(),
            "us-east-1",
        )
        .unwrap();
        (b, rusty_s3::Credentials::new(ACCESS_KEY, SECRET))
    }

    /// Creates `bucket`, with Object Lock enabled or not.
    async fn bucket(&self, bucket: &str, lock: bool) {
        let (b, creds) = self.raw(bucket);
        let mut create = b.create_bucket(&creds);
        if lock {
            create
                .headers_mut()
                .insert("x-amz-bucket-object-lock-enabled", "true");
        }
        let url = create.sign(Duration::from_secs(60));
        let mut rb = reqwest::Client::new().put(url.as_str());
        for (k, v) in create.headers_mut().iter() {
            rb = rb.header(k, v);
        }
        let r = rb.header("content-length", "0").send().await.unwrap();
        assert!(r.status().is_success(), "{:?}", r.text().await);
    }

    /// DELETE of one version of `key`: the status.
    async fn delete_version(&self, bucket: &str, key: &str, version: &str) -> u16 {
        let (b, creds) = self.raw(bucket);
        let mut delete = b.delete_object(Some(&creds), key);
        delete.query_mut().insert("versionId", version.to_string());
        let url = delete.sign(Duration::from_secs(60));
        reqwest::Client::new()
            .delete(url.as_str())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    fn refused(&self) -> Vec<String> {
        self.seen.lock().unwrap().refused.clone()
    }

    fn requests(&self) -> usize {
        self.seen.lock().unwrap().requests.len()
    }
}

// ---------------------------------------------------------------------------------------
// The database side.

use common::exports::{utc, World};

trait S3World {
    fn seal(&self) -> trailkeep::domain::sealed::SealKey;
    fn s3_scheduler(&self, outbound: Outbound) -> Scheduler;
}

impl S3World for World {
    fn seal(&self) -> trailkeep::domain::sealed::SealKey {
        self.key.seal_key(schedules::SEAL_LABEL)
    }

    /// A scheduler that opens this world's S3 credentials, through `outbound`.
    fn s3_scheduler(&self, outbound: Outbound) -> Scheduler {
        self.scheduler_with(Some(self.seal()), outbound)
    }
}

fn s3_spec(endpoint: &str, bucket: &str) -> ScheduleSpec {
    ScheduleSpec {
        name: "Daily to S3".into(),
        cadence: "daily".into(),
        cron: None,
        zone: "UTC".into(),
        filter: String::new(),
        format: "bundle".into(),
        destination: "s3".into(),
        directory: String::new(),
        s3: Some(S3Spec {
            endpoint: endpoint.into(),
            region: "us-east-1".into(),
            bucket: bucket.into(),
            prefix: "trailkeep/daily".into(),
            path_style: true,
            access_key_id: Some(ACCESS_KEY.into()),
            secret_access_key: Some(SECRET.into()),
            lock_mode: "COMPLIANCE".into(),
            lock_days: 30,
        }),
        enabled: true,
    }
}

#[derive(sqlx::FromRow, Debug)]
struct Done {
    status: String,
    destination: Option<String>,
    object_key: Option<String>,
    object_version: Option<String>,
    sha256: Option<Vec<u8>>,
    error: Option<String>,
}

async fn runs(w: &World, schedule: Uuid) -> Vec<Done> {
    sqlx::query_as(
        "SELECT status, destination, object_key, object_version, sha256, error FROM export_runs \
         WHERE schedule_id = $1 ORDER BY period_start",
    )
    .bind(schedule)
    .fetch_all(&w.owner)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_schedule_writes_locked_verifiable_bundles_to_s3(pool: PgPool) {
    let s3 = S3::start().await;
    s3.bucket("audit-archive", true).await;
    let w = World::new(&pool).await;
    let seal = w.seal();
    let created = schedules::create(
        &w.writer,
        &s3_spec(&s3.endpoint, "audit-archive"),
        Some(&seal),
        &Acting::cli(),
        utc("2027-03-01T00:00:00Z"),
    )
    .await
    .unwrap();
    w.record_at("2027-03-01T10:00:00Z", 25).await;
    w.record_at("2027-03-02T10:00:00Z", 3).await;

    let outcomes = w
        .s3_scheduler(S3::outbound())
        .tick(utc("2027-03-02T00:05:00Z"))
        .await
        .unwrap();
    assert!(
        matches!(outcomes[..], [Outcome::Succeeded { .. }]),
        "{outcomes:?} {:?}",
        runs(&w, created.id).await
    );
    assert!(s3.refused().is_empty(), "{:?}", s3.refused());
    let done = runs(&w, created.id).await;
    let run = &done[0];
    assert_eq!(run.destination.as_deref(), Some("s3"));
    let name = bundle::object_name(
        created.id,
        trailkeep::domain::export::schedule::Period {
            start: utc("2027-03-01T00:00:00Z"),
            end: utc("2027-03-02T00:00:00Z"),
        },
        "tar.gz",
    );
    let key = format!("trailkeep/daily/{name}");
    assert_eq!(
        run.object_key.as_deref(),
        Some(format!("s3://audit-archive/{key}").as_str())
    );
    let version = run.object_version.clone().expect("a version");

    // HEAD shows the lock; the object is the bundle recorded, and it verifies offline.
    let store = s3.store("audit-archive");
    let head = store.head(&key, Some(&version)).await.unwrap();
    assert_eq!(head.headers()["x-amz-object-lock-mode"], "COMPLIANCE");
    let until = head.headers()["x-amz-object-lock-retain-until-date"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        trailkeep::domain::export::s3::parse_lock_date(&until),
        Some(utc("2027-04-01T00:05:00Z"))
    );
    let copy = w.root.join("copy.tar.gz");
    store
        .get_to_file(&key, Some(&version), &copy)
        .await
        .unwrap();
    let bytes = std::fs::read(&copy).unwrap();
    assert_eq!(Sha256::digest(&bytes).to_vec(), run.sha256.clone().unwrap());
    let verified = trailkeep::service::bundle_file::verify(&copy, w.key.verifier())
        .unwrap()
        .expect("the bundle read back from S3 verifies");
    assert_eq!(verified.summary.manifest.count, 25);

    // The locked version cannot be deleted (a delete without a version only adds a marker).
    assert_eq!(
        s3.delete_version("audit-archive", &key, &version).await,
        403
    );
    assert!(store.head(&key, Some(&version)).await.is_ok());

    // The entry names the object and its version; no credential anywhere it could leak.
    let created_entry: serde_json::Value =
        sqlx::query_scalar("SELECT details FROM audit_entries WHERE action = 'export.created'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(created_entry["destination"], "s3");
    assert_eq!(created_entry["object_version"], version.as_str());
    let everything: String =
        sqlx::query_scalar("SELECT string_agg(details::text, ' ') FROM audit_entries")
            .fetch_one(&pool)
            .await
            .unwrap();
    let listed = serde_json::to_string(
        &schedules::list(&w.writer, utc("2027-03-02T00:05:00Z"))
            .await
            .unwrap(),
    )
    .unwrap();
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT s3_credentials FROM export_schedules WHERE id = $1")
            .bind(created.id)
            .fetch_one(&pool)
            .await
            .unwrap();
    for secret in [ACCESS_KEY, SECRET] {
        assert!(!everything.contains(secret), "an entry holds {secret}");
        assert!(
            !listed.contains(secret),
            "the schedule's answer holds {secret}"
        );
        assert!(
            !stored.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the table holds {secret} in plain text"
        );
    }
    assert!(listed.contains("\"credentials_set\":true"), "{listed}");
    // Sealed to this schedule: copied onto another row, it does not open.
    let row = trailkeep::storage::exports::schedule(&w.writer, created.id)
        .await
        .unwrap()
        .unwrap();
    assert!(schedules::credentials_of(&row, &seal).is_some());
    let moved = trailkeep::storage::exports::ScheduleRow {
        id: Uuid::new_v4(),
        ..row
    };
    assert!(schedules::credentials_of(&moved, &seal).is_none());
}

/// Retention reads a month's bundle back from S3 by the version it was given, verifies it and
/// only then drops the month; a newer object put under the same key changes nothing.
#[sqlx::test(migrations = "../migrations")]
async fn a_csv_schedule_writes_its_file_and_its_head_beside_it_both_locked(pool: PgPool) {
    let s3 = S3::start().await;
    s3.bucket("audit-csv", true).await;
    let w = World::new(&pool).await;
    let seal = w.seal();
    let spec = ScheduleSpec {
        format: "csv".into(),
        ..s3_spec(&s3.endpoint, "audit-csv")
    };
    let created = schedules::create(
        &w.writer,
        &spec,
        Some(&seal),
        &Acting::cli(),
        utc("2027-03-01T00:00:00Z"),
    )
    .await
    .unwrap();
    w.record_at("2027-03-01T10:00:00Z", 7).await;
    let outcomes = w
        .s3_scheduler(S3::outbound())
        .tick(utc("2027-03-02T00:05:00Z"))
        .await
        .unwrap();
    assert!(
        matches!(outcomes[..], [Outcome::Succeeded { .. }]),
        "{outcomes:?} {:?}",
        runs(&w, created.id).await
    );
    let run = &runs(&w, created.id).await[0];
    let name = bundle::object_name(
        created.id,
        trailkeep::domain::export::schedule::Period {
            start: utc("2027-03-01T00:00:00Z"),
            end: utc("2027-03-02T00:00:00Z"),
        },
        "csv",
    );
    let key = format!("trailkeep/daily/{name}");
    assert_eq!(
        run.object_key.as_deref(),
        Some(format!("s3://audit-csv/{key}").as_str())
    );
    let store = s3.store("audit-csv");
    let head = store
        .head(&key, run.object_version.as_deref())
        .await
        .unwrap();
    assert_eq!(head.headers()["x-amz-object-lock-mode"], "COMPLIANCE");
    assert_eq!(head.headers()["content-type"], "text/csv; charset=utf-8");
    let beside_key = format!("{key}.head.json");
    let head = store.head(&beside_key, None).await.unwrap();
    assert_eq!(head.headers()["x-amz-object-lock-mode"], "COMPLIANCE");

    // Read back, the file and its checkpoint verify offline as the auditor would.
    let copy = w.root.join(&name);
    store
        .get_to_file(&key, run.object_version.as_deref(), &copy)
        .await
        .unwrap();
    let head = w.root.join(format!("{name}.head.json"));
    store.get_to_file(&beside_key, None, &head).await.unwrap();
    assert_eq!(
        Sha256::digest(std::fs::read(&copy).unwrap()).to_vec(),
        run.sha256.clone().unwrap()
    );
    let beside = trailkeep::infra::verify_export::Beside {
        head: Some(
            trailkeep::infra::verify_export::read_head(&std::fs::read_to_string(&head).unwrap())
                .unwrap(),
        ),
        ..Default::default()
    };
    let summary = trailkeep::infra::verify_export::verify(&copy, w.key.verifier(), false, &beside)
        .unwrap()
        .expect("the CSV read back from S3 verifies with its head");
    assert_eq!(summary.entries, 7);
    assert!(summary.complete && summary.count_checked);
}

#[sqlx::test(migrations = "../migrations")]
async fn retention_reads_the_locked_version_back_from_s3_before_dropping_a_month(pool: PgPool) {
    use trailkeep::service::retention::{self, Retained};
    let s3 = S3::start().await;
    s3.bucket("audit-archive", true).await;
    let w = World::new(&pool).await;
    let seal = w.seal();
    let mut spec = ScheduleSpec {
        name: "Monthly to S3".into(),
        cadence: "monthly".into(),
        ..s3_spec(&s3.endpoint, "audit-archive")
    };
    // Locked long enough for one month kept online (31 days and 7 of margin).
    spec.s3.as_mut().unwrap().lock_days = 40;
    let created = schedules::create(
        &w.writer,
        &spec,
        Some(&seal),
        &Acting::cli(),
        utc("2027-01-01T00:00:00Z"),
    )
    .await
    .unwrap();
    w.record_at("2027-01-10T10:00:00Z", 5).await;
    w.record_at("2027-02-10T10:00:00Z", 3).await;
    w.record_at("2027-03-01T00:01:00Z", 1).await;
    let s = w.s3_scheduler(S3::outbound());
    let outcomes = s.tick(utc("2027-03-01T00:05:00Z")).await.unwrap();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    let done = runs(&w, created.id).await;
    let january = &done[0];
    let key = january
        .object_key
        .as_deref()
        .unwrap()
        .strip_prefix("s3://audit-archive/")
        .unwrap()
        .to_string();
    // Someone with the bucket's keys puts other bytes under the same key: a new version.
    let store = s3.store("audit-archive");
    let other = w.root.join("other.tar.gz");
    std::fs::write(&other, b"not the bundle").unwrap();
    store
        .put_file(&other, &key, utc("2027-03-01T00:06:00Z"))
        .await
        .unwrap();

    // Two months online would drop a month after its 40-day lock ended: refused, saying how
    // long to lock.
    let refused =
        retention::set_policy(&w.writer, Some((2, created.id)), &Acting::cli(), Utc::now())
            .await
            .unwrap_err()
            .to_string();
    assert!(
        refused.contains("lock them for at least 69 days"),
        "{refused}"
    );
    retention::set_policy(&w.writer, Some((1, created.id)), &Acting::cli(), Utc::now())
        .await
        .unwrap();
    let outcomes = s.retain(utc("2027-03-01T01:00:00Z")).await.unwrap();
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Retained::Dropped { month, .. }
            if *month == utc("2027-01-01T00:00:00Z"))),
        "{outcomes:?} {:?}",
        s3.refused()
    );
    let archived = trailkeep::storage::retention::archived(&w.owner)
        .await
        .unwrap();
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0].destination, "s3");
    assert_eq!(archived[0].location, january.object_key.clone().unwrap());
    assert_eq!(archived[0].object_version, january.object_version);
    assert_eq!(archived[0].end_seq - archived[0].first_seq, 5);
    let size = entries::count_all(&w.owner).await.unwrap();
    assert_eq!(
        trailkeep::service::chain::verify(&w.owner).await.unwrap(),
        Ok(size)
    );
    // February is kept by the policy; its bundle stays where it is.
    let feb: bool =
        sqlx::query_scalar("SELECT to_regclass('public.audit_entries_2027m02') IS NOT NULL")
            .fetch_one(&w.owner)
            .await
            .unwrap();
    assert!(feb);
    // The log's entry names the lock that kept January's bundle when the month went.
    let details: serde_json::Value = sqlx::query_scalar(
        "SELECT details FROM audit_entries WHERE action = 'retention.partition_dropped'",
    )
    .fetch_one(&w.owner)
    .await
    .unwrap();
    assert_eq!(details["verified"]["object_lock"]["mode"], "COMPLIANCE");
    assert_eq!(
        details["verified"]["object_lock"]["retain_until"],
        "2027-04-10T00:05:00Z"
    );
    // Two months on, February's bundle (locked for 40 days from 1 March) could be deleted:
    // the month stays online, and the pass says why.
    let outcomes = s.retain(utc("2027-05-02T01:00:00Z")).await.unwrap();
    assert!(
        outcomes.iter().any(|o| matches!(o, Retained::Kept { month, reason }
            if *month == utc("2027-02-01T00:00:00Z") && reason.contains("Object Lock ended at 2027-04-10T00:05:00Z"))),
        "{outcomes:?}"
    );
    let feb: bool =
        sqlx::query_scalar("SELECT to_regclass('public.audit_entries_2027m02') IS NOT NULL")
            .fetch_one(&w.owner)
            .await
            .unwrap();
    assert!(feb, "February stays online");
}

#[tokio::test]
async fn a_large_object_goes_in_parts_and_is_locked_and_confirmed() {
    let s3 = S3::start().await;
    s3.bucket("big-archive", true).await;
    let mut store = s3.store("big-archive");
    store.part_size = 5 * 1024 * 1024;
    let dir = std::env::temp_dir().join(format!("trailkeep-s3-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.tar.gz");
    let data: Vec<u8> = (0..11 * 1024 * 1024 + 7)
        .map(|i: usize| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &data).unwrap();
    let up = store
        .put_file(&path, "trailkeep/big.tar.gz", utc("2027-03-02T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(up.parts, 3);
    assert!(up.etag.ends_with("-3"), "{}", up.etag);
    assert!(s3.refused().is_empty(), "{:?}", s3.refused());
    let head = store
        .head("trailkeep/big.tar.gz", up.version_id.as_deref())
        .await
        .unwrap();
    assert_eq!(head.headers()["x-amz-object-lock-mode"], "COMPLIANCE");
    let copy = dir.join("copy");
    store
        .get_to_file("trailkeep/big.tar.gz", up.version_id.as_deref(), &copy)
        .await
        .unwrap();
    assert!(
        std::fs::read(&copy).unwrap() == data,
        "the object is what was sent"
    );
    assert_eq!(
        s3.delete_version(
            "big-archive",
            "trailkeep/big.tar.gz",
            up.version_id.as_deref().unwrap()
        )
        .await,
        403
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_bucket_without_object_lock_fails_the_run_and_it_is_retried(pool: PgPool) {
    let s3 = S3::start().await;
    s3.bucket("plain-bucket", false).await;
    let w = World::new(&pool).await;
    let created = schedules::create(
        &w.writer,
        &s3_spec(&s3.endpoint, "plain-bucket"),
        Some(&w.seal()),
        &Acting::cli(),
        utc("2027-03-01T00:00:00Z"),
    )
    .await
    .unwrap();
    w.record_at("2027-03-01T10:00:00Z", 2).await;
    let outcomes = w
        .s3_scheduler(S3::outbound())
        .tick(utc("2027-03-02T00:05:00Z"))
        .await
        .unwrap();
    let [Outcome::Failed { retry, error, .. }] = &outcomes[..] else {
        panic!("{outcomes:?}");
    };
    assert!(*retry);
    assert!(error.contains("PutObject"), "{error}");
    let done = runs(&w, created.id).await;
    assert_eq!(done[0].status, "pending");
    assert!(done[0]
        .error
        .as_deref()
        .unwrap()
        .contains("S3 refused PutObject"));
    assert!(s3.refused().is_empty(), "{:?}", s3.refused());
}

#[sqlx::test(migrations = "../migrations")]
async fn the_outbound_guard_refuses_loopback_by_address_and_by_name_and_no_redirect_is_followed(
    pool: PgPool,
) {
    let s3 = S3::start().await;
    s3.bucket("audit-archive", true).await;
    let w = World::new(&pool).await;
    let seal = w.seal();
    let before = s3.requests();
    let port = s3.endpoint.rsplit(':').next().unwrap().to_string();
    for endpoint in [s3.endpoint.clone(), format!("http://localhost:{port}")] {
        let created = schedules::create(
            &w.writer,
            &s3_spec(&endpoint, "audit-archive"),
            Some(&seal),
            &Acting::cli(),
            utc("2027-03-01T00:00:00Z"),
        )
        .await
        .unwrap();
        w.record_at("2027-03-01T10:00:00Z", 1).await;
        // No allow list: 127.0.0.1 is not public.
        let outcomes = w
            .s3_scheduler(Outbound::new(Policy::default()))
            .tick(utc("2027-03-02T00:05:00Z"))
            .await
            .unwrap();
        let [Outcome::Failed { error, .. }] = &outcomes[..] else {
            panic!("{endpoint}: {outcomes:?}");
        };
        assert!(
            error.contains("TRAILKEEP_OUTBOUND_ALLOW"),
            "{endpoint}: {error}"
        );
        // The history and the log never show the presigned URL (its access key ID, its
        // signature).
        assert!(
            !error.contains(ACCESS_KEY) && !error.contains("X-Amz-Signature"),
            "{endpoint}: {error}"
        );
        schedules::delete(
            &w.writer,
            created.id,
            &Acting::cli(),
            utc("2027-03-02T00:06:00Z"),
        )
        .await
        .unwrap();
    }
    assert_eq!(s3.requests(), before, "nothing reached the store");

    // A server that redirects every request to the store: the redirect is not followed.
    let target = s3.endpoint.clone();
    let redirect = axum::Router::new().fallback(move |request: Request<Body>| {
        let to = format!("{target}{}", request.uri());
        async move {
            Response::builder()
                .status(StatusCode::TEMPORARY_REDIRECT)
                .header("location", to)
                .body(Body::empty())
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect_port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, redirect).await.unwrap() });
    let store = Store::new(
        Target::new(
            &format!("http://127.0.0.1:{redirect_port}"),
            "us-east-1",
            "audit-archive",
            "",
            true,
            "COMPLIANCE",
            1,
        )
        .unwrap(),
        &Credentials::new(ACCESS_KEY, SECRET).unwrap(),
        S3::outbound(),
    )
    .unwrap();
    let file = w.root.join("one.tar.gz");
    std::fs::write(&file, b"bundle").unwrap();
    let err = store
        .put_file(&file, "x.tar.gz", utc("2027-03-02T00:00:00Z"))
        .await
        .unwrap_err();
    assert!(matches!(err, S3Error::Refused { status: 307, .. }), "{err}");
    assert_eq!(s3.requests(), before, "the redirect was not followed");
}

#[sqlx::test(migrations = "../migrations")]
async fn stored_credentials_follow_only_their_endpoint_and_bucket_and_changes_never_show_them(
    pool: PgPool,
) {
    let w = World::new(&pool).await;
    let seal = w.seal();
    let now = utc("2027-03-01T00:00:00Z");
    let spec = s3_spec("https://s3.eu-central-1.amazonaws.com", "audit-archive");
    let created = schedules::create(&w.writer, &spec, Some(&seal), &Acting::cli(), now)
        .await
        .unwrap();
    let keep = |mut s: ScheduleSpec| {
        let b = s.s3.as_mut().unwrap();
        b.access_key_id = None;
        b.secret_access_key = None;
        s
    };
    // Same endpoint and bucket, no credentials typed: the stored ones are kept.
    let mut renamed = keep(spec.clone());
    renamed.name = "Renamed".into();
    schedules::update(
        &w.writer,
        created.id,
        &renamed,
        Some(&seal),
        &Acting::cli(),
        now,
    )
    .await
    .unwrap();
    // Another endpoint or bucket without credentials: refused, nothing changed.
    for moved in [
        {
            let mut s = keep(spec.clone());
            s.s3.as_mut().unwrap().endpoint = "https://attacker.example".into();
            s
        },
        {
            let mut s = keep(spec.clone());
            s.s3.as_mut().unwrap().bucket = "other-bucket".into();
            s
        },
        {
            // Virtual-host style sends to bucket.<host>: another host.
            let mut s = keep(spec.clone());
            s.s3.as_mut().unwrap().path_style = false;
            s
        },
    ] {
        let err = schedules::update(
            &w.writer,
            created.id,
            &moved,
            Some(&seal),
            &Acting::cli(),
            now,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("access key"), "{err}");
    }
    // Only one of the two: refused.
    let mut half = spec.clone();
    half.s3.as_mut().unwrap().secret_access_key = None;
    assert!(schedules::update(
        &w.writer,
        created.id,
        &half,
        Some(&seal),
        &Acting::cli(),
        now
    )
    .await
    .is_err());
    // New credentials: the entry says they were replaced, and holds neither.
    let mut rotated = spec.clone();
    rotated.s3.as_mut().unwrap().secret_access_key = Some("n3w-s3cr3t-value".into());
    schedules::update(
        &w.writer,
        created.id,
        &rotated,
        Some(&seal),
        &Acting::cli(),
        now,
    )
    .await
    .unwrap();
    let changes: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT details FROM audit_entries WHERE action = 'export_schedule.updated' ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(changes[0]["changes"].get("s3_credentials").is_none());
    assert_eq!(changes[1]["changes"]["s3_credentials"]["before"], "set");
    assert_eq!(changes[1]["changes"]["s3_credentials"]["after"], "replaced");
    let text = serde_json::to_string(&changes).unwrap();
    assert!(!text.contains("n3w-s3cr3t-value") && !text.contains(SECRET));
    let row = trailkeep::storage::exports::schedule(&w.writer, created.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        schedules::credentials_of(&row, &seal)
            .unwrap()
            .secret_access_key,
        "n3w-s3cr3t-value"
    );
    // Bad settings are refused, each saying how to fix it; the database refuses them too.
    for bad in [
        {
            let mut s = spec.clone();
            s.s3.as_mut().unwrap().endpoint = "ftp://host".into();
            s
        },
        {
            let mut s = spec.clone();
            s.s3.as_mut().unwrap().lock_mode = "NONE".into();
            s
        },
        {
            let mut s = spec.clone();
            s.s3.as_mut().unwrap().lock_days = 0;
            s
        },
        {
            let mut s = spec.clone();
            s.s3 = None;
            s
        },
    ] {
        let err = schedules::create(&w.writer, &bad, Some(&seal), &Acting::cli(), now)
            .await
            .unwrap_err();
        assert!(matches!(err, schedules::ScheduleError::Refused(_)), "{err}");
    }
    // Without the key that seals, credentials are refused rather than stored in the clear.
    assert!(
        schedules::create(&w.writer, &spec, None, &Acting::cli(), now)
            .await
            .is_err()
    );
    let direct =
        sqlx::query("UPDATE export_schedules SET s3_endpoint = 'file:///etc/passwd' WHERE id = $1")
            .bind(created.id)
            .execute(&w.writer)
            .await;
    assert!(
        direct.is_err(),
        "the table's CHECK refuses a non-http endpoint"
    );
    let mixed = sqlx::query("UPDATE export_schedules SET directory = 'x' WHERE id = $1")
        .bind(created.id)
        .execute(&w.writer)
        .await;
    assert!(mixed.is_err(), "a schedule has one destination");
}

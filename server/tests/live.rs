//! Live mode against real PostgreSQL, through real websockets: filter-aware delivery, backfill
//! joined to the live stream with no gap and no duplicate, the error cases, a slow consumer,
//! and the in-memory filter agreeing with the SQL one.

mod common;

use std::time::Duration;

use app::filter::Filter;
use app::live::{LiveMessage, LiveState};
use app::model::Source;
use chrono::Utc;
use common::{entries_through, events, key, live, next_message, serve};
use sqlx::PgPool;
use trailkeep::{
    domain::auth::Scope,
    service::demo,
    service::live as bridge,
    storage::{self, entries, live::rows_after, query},
};

const WAIT: Duration = Duration::from_secs(10);

async fn writer(pool: &PgPool) -> PgPool {
    storage::connect_with((*pool.connect_options()).clone(), 4)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn only_matching_entries_arrive(pool: PgPool) {
    let addr = serve(&pool).await;
    let k = key(&pool, &[Scope::Read]).await;
    let mut socket = live(addr, &k, "action=config.*").await;
    assert_eq!(
        next_message(&mut socket, WAIT).await,
        Some(LiveMessage::Status {
            state: LiveState::Live
        })
    );
    let w = writer(&pool).await;
    for action in [
        "user.login",
        "config.updated",
        "user.logout",
        "config.deleted",
    ] {
        entries::append(&w, Source::Trailkeep, events(action, 2))
            .await
            .unwrap();
    }
    let head = storage::live::head_seq(&pool).await.unwrap();
    let got = entries_through(&mut socket, head, WAIT).await;
    let actions: Vec<&str> = got.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "config.updated",
            "config.updated",
            "config.deleted",
            "config.deleted"
        ]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn backfill_joins_the_live_stream_without_gap_or_duplicate(pool: PgPool) {
    let addr = serve(&pool).await;
    let k = key(&pool, &[Scope::Read]).await;
    let w = writer(&pool).await;
    // More than one backfill batch before the client connects.
    for _ in 0..2 {
        entries::append(&w, Source::Trailkeep, events("config.updated", 600))
            .await
            .unwrap();
    }
    // Ingest keeps going while the client connects and backfills.
    let before = storage::live::head_seq(&pool).await.unwrap();
    let ingest = tokio::spawn({
        let w = w.clone();
        async move {
            for _ in 0..150 {
                entries::append(&w, Source::Trailkeep, events("config.updated", 3))
                    .await
                    .unwrap();
            }
        }
    });
    // Connects once ingest is under way (its first batch committed): polled, not slept.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while storage::live::head_seq(&pool).await.unwrap() == before {
        assert!(std::time::Instant::now() < deadline, "ingest never started");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut socket = live(addr, &k, "after_seq=99").await;
    ingest.await.unwrap();
    let head = storage::live::head_seq(&pool).await.unwrap();
    assert_eq!(
        head,
        1 + 1200 + 450 - 1,
        "the key's own entry, then the events"
    );
    let seqs: Vec<i64> = entries_through(&mut socket, head, WAIT)
        .await
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, (100..=head).collect::<Vec<_>>());
    // And nothing after the last one: no duplicate arrives late.
    loop {
        match next_message(&mut socket, Duration::from_millis(500)).await {
            Some(LiveMessage::Entry { entry }) => panic!("extra entry {}", entry.seq),
            Some(_) => continue,
            None => break,
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn backfill_is_filtered_too(pool: PgPool) {
    let addr = serve(&pool).await;
    let k = key(&pool, &[Scope::Read]).await;
    let w = writer(&pool).await;
    entries::append(&w, Source::Trailkeep, events("user.login", 5))
        .await
        .unwrap();
    entries::append(&w, Source::Trailkeep, events("user.login_failed", 2))
        .await
        .unwrap();
    entries::append(&w, Source::Trailkeep, events("user.login", 1))
        .await
        .unwrap();
    // After the key's own entry (seq 0): logins 1–5, failures 6–7, a login 8.
    let mut socket = live(addr, &k, "action=user.login_failed&after_seq=-1").await;
    let got = entries_through(&mut socket, 7, WAIT).await;
    assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), [6, 7]);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_requests_are_refused_before_the_upgrade(pool: PgPool) {
    let app = common::router(&pool).await;
    let reader = key(&pool, &[Scope::Read]).await;
    let ingest_only = key(&pool, &[Scope::Ingest]).await;
    let get = |query: &str, key: Option<&str>| {
        let mut b = axum::http::Request::get(format!("/api/v1/live?{query}"));
        if let Some(k) = key {
            b = b.header("authorization", format!("Bearer {k}"));
        }
        b.body(axum::body::Body::empty()).unwrap()
    };
    let r = common::send(&app, get("", None)).await;
    assert_eq!(r.status, 401, "{}", r.text);
    let r = common::send(&app, get("", Some(&ingest_only))).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = common::send(&app, get("action=nope", Some(&reader))).await;
    assert_eq!((r.status, r.body["param"].as_str()), (400, Some("action")));
    let r = common::send(&app, get("after_seq=x", Some(&reader))).await;
    assert_eq!(
        (r.status, r.body["param"].as_str()),
        (400, Some("after_seq"))
    );
    let r = common::send(&app, get("after_seq=1&after_seq=2", Some(&reader))).await;
    assert_eq!(r.status, 400, "{}", r.text);
    // Valid, but not a websocket handshake.
    let r = common::send(&app, get("action=config.*", Some(&reader))).await;
    assert_eq!(r.status, 426, "{}", r.text);
    assert!(r.body["error"].as_str().unwrap().contains("websocket"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_cookie_session_from_another_site_is_refused(pool: PgPool) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let addr = serve(&pool).await;
    let token = demo_session(&pool).await;
    let connect = |origin: String| {
        let mut request = format!("ws://{addr}/api/v1/live")
            .into_client_request()
            .unwrap();
        let h = request.headers_mut();
        h.insert(
            "cookie",
            format!("trailkeep_session={token}").parse().unwrap(),
        );
        h.insert("origin", origin.parse().unwrap());
        tokio_tungstenite::connect_async(request)
    };
    let refused = connect("http://evil.example".into()).await;
    assert!(refused.is_err(), "a foreign origin must not connect");
    let (mut ok, _) = connect(format!("http://{addr}")).await.unwrap();
    assert!(matches!(
        next_message(&mut ok, WAIT).await,
        Some(LiveMessage::Status { .. })
    ));
}

async fn demo_session(pool: &PgPool) -> String {
    use trailkeep::service::accounts::{self, Acting};
    accounts::create_user(
        pool,
        "admin@company.com",
        "Avery Admin",
        app::model::Role::Admin,
        "pw-for-tests",
        &Acting::cli(),
    )
    .await
    .unwrap();
    match accounts::sign_in(
        pool,
        "admin@company.com",
        "pw-for-tests",
        None,
        None,
        accounts::SignInLimits::default(),
    )
    .await
    .unwrap()
    {
        trailkeep::service::accounts::SignIn::Ok { token, .. } => token,
        _ => panic!("demo admin cannot sign in"),
    }
}

/// A sink that takes `delay` per message: a client on a slow link (its pace, not a wait).
struct Recorder {
    seqs: std::sync::Arc<std::sync::Mutex<Vec<i64>>>,
    resyncs: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Messages received: the first (the status) comes once the client is subscribed.
    frames: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    delay: Duration,
}

impl bridge::Sink for Recorder {
    async fn send(&mut self, frame: bridge::Frame) -> bool {
        tokio::time::sleep(self.delay).await;
        self.frames
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match serde_json::from_str(&frame).expect("a protocol message") {
            LiveMessage::Entry { entry } => self.seqs.lock().unwrap().push(entry.seq),
            LiveMessage::Status {
                state: LiveState::Resync,
            } => {
                self.resyncs
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            _ => {}
        }
        true
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_slow_consumer_does_not_stall_a_fast_one(pool: PgPool) {
    // A small buffer makes the slow client overflow quickly.
    let live = bridge::Bridge::with_client_buffer(pool.clone(), 4);
    let spawn_client = |delay: Duration| {
        let seqs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let resyncs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let frames = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut sink = Recorder {
            seqs: seqs.clone(),
            resyncs: resyncs.clone(),
            frames: frames.clone(),
            delay,
        };
        let live = live.clone();
        let pool = pool.clone();
        tokio::spawn(async move {
            let filter = query::live_filter(&pool, Filter::default()).await.unwrap();
            bridge::stream(
                &live,
                filter,
                None,
                &mut sink,
                std::future::pending(),
                || async { true },
            )
            .await
            .unwrap();
        });
        (seqs, resyncs, frames)
    };
    let (fast, _, fast_frames) = spawn_client(Duration::ZERO);
    let (slow, slow_resyncs, slow_frames) = spawn_client(Duration::from_millis(20));
    // Both subscribed (each has had its first message): polled, not slept.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while [&fast_frames, &slow_frames]
        .iter()
        .any(|f| f.load(std::sync::atomic::Ordering::SeqCst) == 0)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "a client never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let w = writer(&pool).await;
    let started = std::time::Instant::now();
    for _ in 0..100 {
        entries::append(&w, Source::Trailkeep, events("config.updated", 1))
            .await
            .unwrap();
    }
    // The fast client has everything long before the slow one could (100 × 20 ms = 2 s).
    while fast.lock().unwrap().len() < 100 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "fast client stalled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let fast_done = started.elapsed();
    assert!(
        slow.lock().unwrap().len() < 100,
        "the slow client should still be behind after {fast_done:?}"
    );
    assert_eq!(*fast.lock().unwrap(), (0..100).collect::<Vec<_>>());
    // The slow one was told to resync, and still gets every entry exactly once, in order.
    while slow.lock().unwrap().len() < 100 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "slow client lost entries"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Nothing more comes before a last entry committed after them (none twice): that entry
    // is awaited, not a pause.
    entries::append(&w, Source::Trailkeep, events("config.updated", 1))
        .await
        .unwrap();
    while slow.lock().unwrap().len() < 101 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the last entry never came"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(*slow.lock().unwrap(), (0..101).collect::<Vec<_>>());
    assert!(slow_resyncs.load(std::sync::atomic::Ordering::SeqCst) >= 1);
}

/// The in-memory filter that live clients use must select exactly what the SQL filter
/// selects, over varied demo data and every kind of filter part.
#[sqlx::test(migrations = "../migrations")]
async fn live_filter_agrees_with_sql(pool: PgPool) {
    let w = writer(&pool).await;
    let mut demo_events: Vec<_> = demo::events(3000, Utc::now()).collect();
    let (key, _) = trailkeep::service::accounts::create_key(
        &w,
        "platform",
        &[trailkeep::domain::auth::Scope::Ingest],
        &trailkeep::service::accounts::Acting::cli(),
    )
    .await
    .unwrap();
    let keyed = demo_events.split_off(1500);
    entries::append(&w, Source::Trailkeep, demo_events)
        .await
        .unwrap();
    entries::append(&w, Source::Key(key), keyed).await.unwrap();
    let rows = rows_after(&pool, -1, 10_000).await.unwrap();
    let sample = &rows[1234].entry;
    let cases = [
        String::new(),
        "source=trailkeep".into(),
        format!("source={key}"),
        format!("source={}", uuid::Uuid::from_u128(1)),
        format!("source={key}&action=user.*"),
        "action=config.*".into(),
        "action=user.login&action=key.*".into(),
        "status=failure".into(),
        format!("user={}", sample.actor.id),
        format!(
            "user={}",
            sample
                .actor
                .email
                .clone()
                .unwrap_or_default()
                .to_uppercase()
        ),
        "q=ADMIN".into(),
        format!("q={}", sample.actor.id.to_uppercase()),
        "q=mozilla".into(),
        "ip=10.0.0.0/8".into(),
        "resource=config:*".into(),
        "range=7d".into(),
        format!(
            "from={}",
            (Utc::now() - chrono::Duration::days(3)).date_naive()
        ),
        "from=2026-01-01&to=2026-06-30&tz=Europe/Paris".into(),
        "action=config.*&status=success&range=30d".into(),
        // Exclusions: a value left out, and entries without the field kept.
        "not_action=config.*&not_action=user.login".into(),
        format!("not_source={key}&status=failure"),
        format!("not_user={}", sample.actor.id),
        "not_ip=10.0.0.0/8&not_ip=2001:db8::/32".into(),
        "not_resource=config:*&action=config.*".into(),
        "resource=CONFIG:*".into(),
    ];
    let now = Utc::now();
    // Two empty lists agree too: most filters must select some demo rows for this to compare.
    let (total, mut selecting) = (cases.len(), 0);
    for case in cases {
        let filter = Filter::parse(&case).unwrap();
        let live_filter = query::live_filter(&pool, filter).await.unwrap();
        let in_memory: Vec<i64> = rows
            .iter()
            .filter(|r| live_filter.matches(&r.entry, &r.search_text, now))
            .map(|r| r.entry.seq)
            .collect();
        let in_sql: Vec<i64> = query::matching_after(&pool, &live_filter, -1, 100_000)
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(in_memory, in_sql, "filter {case:?}");
        assert!(
            case.is_empty() || in_sql.len() < rows.len(),
            "filter {case:?} should narrow the demo data"
        );
        selecting += usize::from(!in_sql.is_empty());
    }
    assert!(
        selecting * 2 > total,
        "only {selecting} of {total} filters selected any demo row"
    );
}

/// The same over real websockets with the server's own buffer: a client that stops reading
/// fills its TCP buffers, falls behind the broadcast, and is resynced from the database, while
/// a client that reads keeps getting everything at once.
#[sqlx::test(migrations = "../migrations")]
async fn a_slow_websocket_reader_is_resynced_without_stalling_others(pool: PgPool) {
    let addr = serve(&pool).await;
    let k = key(&pool, &[Scope::Read]).await;
    let start = storage::live::head_seq(&pool).await.unwrap();
    let mut fast = live(addr, &k, "").await;
    let mut slow = live(addr, &k, "").await;
    for socket in [&mut fast, &mut slow] {
        assert!(matches!(
            next_message(socket, WAIT).await,
            Some(LiveMessage::Status { .. })
        ));
    }
    // 800 commits of 50 entries (about 14 MB of messages): far more than the slow reader's
    // socket buffers and the broadcast's 256 batches hold.
    let w = writer(&pool).await;
    let ingest = tokio::spawn(async move {
        for _ in 0..800 {
            entries::append(&w, Source::Trailkeep, events("config.updated", 50))
                .await
                .unwrap();
        }
    });
    let last = start + 800 * 50;
    let got = entries_through(&mut fast, last, Duration::from_secs(30)).await;
    assert_eq!(
        got.iter().map(|e| e.seq).collect::<Vec<_>>(),
        ((start + 1)..=last).collect::<Vec<_>>()
    );
    ingest.await.unwrap();
    // Now the slow reader reads: every entry exactly once, in order, after a resync.
    let mut seqs = Vec::new();
    let mut resynced = false;
    while seqs.last() != Some(&last) {
        match next_message(&mut slow, Duration::from_secs(30)).await {
            Some(LiveMessage::Entry { entry }) => seqs.push(entry.seq),
            Some(LiveMessage::Status {
                state: LiveState::Resync,
            }) => resynced = true,
            Some(_) => {}
            None => panic!("the slow reader stopped at {:?}", seqs.last()),
        }
    }
    assert!(resynced, "the slow reader must have been told to resync");
    assert_eq!(seqs, ((start + 1)..=last).collect::<Vec<_>>());
}

#[sqlx::test(migrations = "../migrations")]
async fn the_resume_point_comes_at_once_and_a_future_one_is_clamped(pool: PgPool) {
    let addr = serve(&pool).await;
    let k = key(&pool, &[Scope::Read]).await;
    let head = storage::live::head_seq(&pool).await.unwrap();
    // Right after the status, a heartbeat says where the stream stands.
    let mut socket = live(addr, &k, "").await;
    assert!(matches!(
        next_message(&mut socket, WAIT).await,
        Some(LiveMessage::Status { .. })
    ));
    assert_eq!(
        next_message(&mut socket, WAIT).await,
        Some(LiveMessage::Heartbeat { seq: head })
    );
    // A resume point past the end of the log (say, after a restore) does not hide what
    // comes next.
    let mut future = live(addr, &k, "after_seq=1000000").await;
    let w = writer(&pool).await;
    entries::append(&w, Source::Trailkeep, events("config.updated", 1))
        .await
        .unwrap();
    let got = entries_through(&mut future, head + 1, WAIT).await;
    assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), [head + 1]);
}

/// One key (or session) holds at most eight live sockets on a process; the ninth is refused
/// with 429 and Retry-After, and a closed socket frees its place.
#[sqlx::test(migrations = "../migrations")]
async fn live_sockets_are_capped_per_reader(pool: PgPool) {
    use tokio_tungstenite::tungstenite::Error;
    let addr = serve(&pool).await;
    let k = key(&pool, &[Scope::Read]).await;
    let mut open = Vec::new();
    for _ in 0..8 {
        open.push(live(addr, &k, "").await);
    }
    let connect = || tokio_tungstenite::connect_async(common::live_request(addr, &k, ""));
    match connect().await {
        Err(Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            assert!(response.headers().contains_key("retry-after"));
        }
        other => panic!("a ninth socket was not refused: {:?}", other.map(|_| ())),
    }
    // Another key is not affected.
    let other = key(&pool, &[Scope::Read]).await;
    let _theirs = live(addr, &other, "").await;
    // Closing one frees its place.
    let mut closed = open.pop().unwrap();
    futures::SinkExt::close(&mut closed).await.unwrap();
    drop(closed);
    let mut reopened = false;
    for _ in 0..100 {
        if connect().await.is_ok() {
            reopened = true;
            break;
        }
        tokio::time::sleep(WAIT / 200).await;
    }
    assert!(reopened);
}

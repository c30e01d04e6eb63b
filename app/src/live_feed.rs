//! The console's side of live mode: one websocket to `/api/v1/live` for the filter on screen,
//! reconnecting by itself with backoff and resuming after the last `seq` it has, so nothing is
//! missed or shown twice. What it receives waits in `arrived` until the table takes it.

use leptos::prelude::*;

#[cfg(feature = "hydrate")]
use crate::chunks::{Chunk, ChunkUnavailable};
use crate::filter::CanonicalFilter;
use crate::model::AuditEntry;

/// What the connection indicator says. It follows what the socket actually hears: a stream
/// that stays silent past the heartbeat limit is treated as dead and reconnected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    Off,
    Connecting,
    Live,
    /// The server is catching this browser up after it fell behind.
    CatchingUp,
    Reconnecting,
    /// Several attempts failed in a row (still retrying).
    Offline,
    /// Live mode's code could not be fetched (see `chunks`): the page needs a reload.
    Unavailable,
    /// The session ended: the stream stopped (the page says how to sign in again).
    SignedOut,
    /// More than [`HELD_CAP`] entries waited unseen: the stream was closed to bound the
    /// browser's memory; Resume reloads the list and streams again from there.
    Stopped,
}

/// Entries held unseen (paused, or scrolled away from the top) before the stream is closed.
pub const HELD_CAP: usize = 5_000;

#[derive(Clone, Copy)]
pub struct LiveFeed {
    pub connection: RwSignal<Connection>,
    /// Received, not yet in the table (in `seq` order).
    pub arrived: RwSignal<Vec<AuditEntry>>,
    /// Rendering held: entries keep arriving into `arrived`.
    pub paused: RwSignal<bool>,
    /// Matching entries received since the stream started (after the listing's snapshot):
    /// what the count above the table grows by.
    pub received: RwSignal<i64>,
    /// Matching entries per ten seconds, averaged over the last few seconds (an integer:
    /// float formatting would cost the bundle more than this whole feature's logic).
    pub rate_tenths: RwSignal<u32>,
    /// Bumped to reload the listing (after [`Connection::Stopped`]).
    reload: RwSignal<u32>,
    #[cfg(feature = "hydrate")]
    socket: StoredValue<Option<socket::LiveSocket>, LocalStorage>,
    /// Counts starts and stops: a socket whose code arrives after a later start or stop is
    /// closed at once.
    #[cfg(feature = "hydrate")]
    generation: StoredValue<u64>,
}

impl LiveFeed {
    /// A feed whose Resume after an overflow bumps `reload` (the listing's refresh).
    pub fn new(reload: RwSignal<u32>) -> Self {
        LiveFeed {
            connection: RwSignal::new(Connection::Off),
            arrived: RwSignal::new(Vec::new()),
            paused: RwSignal::new(false),
            received: RwSignal::new(0),
            rate_tenths: RwSignal::new(0),
            reload,
            #[cfg(feature = "hydrate")]
            socket: StoredValue::new_local(None),
            #[cfg(feature = "hydrate")]
            generation: StoredValue::new(0),
        }
    }

    /// Streams entries matching `filter` committed after
    /// `after_seq` (from now when `None`). Replaces any stream already running.
    pub fn start(&self, filter: CanonicalFilter, after_seq: Option<i64>) {
        self.stop();
        self.connection.set(Connection::Connecting);
        #[cfg(feature = "hydrate")]
        {
            let feed = *self;
            let mine = feed.generation.get_value();
            leptos::task::spawn_local(async move {
                let socket = open_socket(feed, filter, after_seq).await;
                match socket {
                    Ok(socket) if feed.generation.try_get_value() == Some(mine) => {
                        feed.socket.set_value(Some(socket));
                    }
                    Ok(socket) => socket.close(),
                    Err(ChunkUnavailable) => {
                        if feed.generation.try_get_value() == Some(mine) {
                            feed.connection.set(Connection::Unavailable);
                        }
                    }
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (filter, after_seq);
    }

    /// Closes the stream (live mode off costs no bandwidth) and forgets what was not shown.
    pub fn stop(&self) {
        #[cfg(feature = "hydrate")]
        {
            self.generation.update_value(|g| *g += 1);
            self.socket.update_value(|s| {
                if let Some(s) = s.take() {
                    s.close();
                }
            });
        }
        self.arrived.set(Vec::new());
        self.received.set(0);
        self.paused.set(false);
        self.rate_tenths.set(0);
        self.connection.set(Connection::Off);
    }
}

impl LiveFeed {
    /// Pause, or Resume: after the stream stopped for holding too much, Resume reloads the
    /// list (which starts the stream again from its snapshot).
    pub fn toggle_pause(&self) {
        if self.connection.get_untracked() == Connection::Stopped {
            self.reload.update(|n| *n += 1);
        } else {
            self.paused.update(|p| *p = !*p);
        }
    }
}

/// The socket's code is a chunk of its own (with the indicator's), fetched when live mode is
/// first turned on.
#[cfg(feature = "hydrate")]
#[wasm_split_helpers::wasm_split(live_mode, fallible)]
fn open_socket(
    feed: LiveFeed,
    filter: CanonicalFilter,
    after_seq: Option<i64>,
) -> Chunk<socket::LiveSocket> {
    Ok(socket::LiveSocket::open(feed, filter, after_seq))
}

#[cfg(feature = "hydrate")]
mod socket {
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;
    use std::time::Duration;

    use leptos::prelude::*;
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{MessageEvent, WebSocket};

    use super::{Connection, LiveFeed};
    use crate::filter::CanonicalFilter;
    use crate::live::{LiveFrame, LiveMessage, LiveState, AFTER_SEQ, SILENCE_LIMIT_MS};

    const RATE_WINDOW_MS: f64 = 5000.0;

    struct Inner {
        feed: LiveFeed,
        filter: CanonicalFilter,
        /// Everything up to here has been received: the resume point.
        last_seq: Option<i64>,
        ws: Option<WebSocket>,
        handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
        on_message: Option<Closure<dyn FnMut(MessageEvent)>>,
        failures: u32,
        last_heard: f64,
        arrivals: VecDeque<f64>,
        closed: bool,
        ticker: Option<IntervalHandle>,
    }

    pub struct LiveSocket(Rc<RefCell<Inner>>);

    fn now() -> f64 {
        js_sys::Date::now()
    }

    impl LiveSocket {
        pub fn open(feed: LiveFeed, filter: CanonicalFilter, after_seq: Option<i64>) -> Self {
            let inner = Rc::new(RefCell::new(Inner {
                feed,
                filter,
                last_seq: after_seq,
                ws: None,
                handlers: Vec::new(),
                on_message: None,
                failures: 0,
                last_heard: now(),
                arrivals: VecDeque::new(),
                closed: false,
                ticker: None,
            }));
            connect(&inner);
            // Once a second: the rate readout, and the silence watchdog.
            let weak = Rc::downgrade(&inner);
            let ticker = set_interval_with_handle(
                move || {
                    let Some(inner) = weak.upgrade() else { return };
                    let silent = {
                        let mut i = inner.borrow_mut();
                        let t = now();
                        while i.arrivals.front().is_some_and(|a| t - a > RATE_WINDOW_MS) {
                            i.arrivals.pop_front();
                        }
                        let tenths = i.arrivals.len() as f64 * 10_000.0 / RATE_WINDOW_MS;
                        i.feed.rate_tenths.set(tenths.round() as u32);
                        i.ws.is_some() && t - i.last_heard > f64::from(SILENCE_LIMIT_MS)
                    };
                    if silent {
                        // No heartbeat: the stream is dead whatever the socket says. Drop it
                        // now rather than wait for a close event that may come late.
                        drop_socket(&inner);
                        retry_later(&inner);
                    }
                },
                Duration::from_secs(1),
            )
            .ok();
            inner.borrow_mut().ticker = ticker;
            LiveSocket(inner)
        }

        pub fn close(self) {
            {
                let mut i = self.0.borrow_mut();
                i.closed = true;
                if let Some(t) = i.ticker.take() {
                    t.clear();
                }
            }
            drop_socket(&self.0);
        }
    }

    /// Closes the stream for good (until the list is reloaded or Live turned on again), saying
    /// why with `state`.
    fn stop_for_good(inner: &Rc<RefCell<Inner>>, state: Connection) -> LiveFeed {
        let feed = {
            let mut i = inner.borrow_mut();
            i.closed = true;
            if let Some(t) = i.ticker.take() {
                t.clear();
            }
            i.feed
        };
        drop_socket(inner);
        feed.rate_tenths.set(0);
        feed.connection.set(state);
        feed
    }

    /// Held too much: stopped and paused, with the reason shown.
    fn stop_for_overflow(inner: &Rc<RefCell<Inner>>) {
        stop_for_good(inner, Connection::Stopped).paused.set(true);
    }

    /// Closes the socket without hearing from it again.
    fn drop_socket(inner: &Rc<RefCell<Inner>>) {
        if let Some(ws) = inner.borrow_mut().ws.take() {
            ws.set_onopen(None);
            ws.set_onmessage(None);
            ws.set_onclose(None);
            ws.set_onerror(None);
            let _ = ws.close();
        }
    }

    fn url(filter: &CanonicalFilter, after_seq: Option<i64>) -> String {
        let location = window().location();
        let scheme = if location.protocol().ok().as_deref() == Some("https:") {
            "wss"
        } else {
            "ws"
        };
        let host = location.host().unwrap_or_default();
        let mut query = filter.as_str().to_string();
        if let Some(seq) = after_seq {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&format!("{AFTER_SEQ}={seq}"));
        }
        format!("{scheme}://{host}/api/v1/live?{query}")
    }

    fn connect(inner: &Rc<RefCell<Inner>>) {
        let (filter, after) = {
            let i = inner.borrow();
            (i.filter.clone(), i.last_seq)
        };
        let Ok(ws) = WebSocket::new(&url(&filter, after)) else {
            retry_later(inner);
            return;
        };
        let weak = Rc::downgrade(inner);
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let Some(inner) = weak.upgrade() else { return };
            let Some(text) = ev.data().as_string() else {
                return;
            };
            let Some(message) = serde_json::from_slice::<LiveFrame>(text.as_bytes())
                .ok()
                .and_then(LiveFrame::into_message)
            else {
                return;
            };
            let mut i = inner.borrow_mut();
            i.last_heard = now();
            i.failures = 0;
            match message {
                LiveMessage::Entry { entry } => {
                    if i.feed.arrived.with_untracked(Vec::len) >= super::HELD_CAP {
                        // Held too long: stop here rather than grow without bound.
                        drop(i);
                        stop_for_overflow(&inner);
                        return;
                    }
                    i.last_seq = Some(i.last_seq.map_or(entry.seq, |s| s.max(entry.seq)));
                    i.arrivals.push_back(now());
                    i.feed.received.update(|n| *n += 1);
                    i.feed.arrived.update(|a| a.push(*entry));
                }
                LiveMessage::Heartbeat { seq } => {
                    i.last_seq = Some(i.last_seq.map_or(seq, |s| s.max(seq)));
                }
                LiveMessage::Status { state } => i.feed.connection.set(match state {
                    LiveState::Live => Connection::Live,
                    LiveState::Reconnecting => Connection::Reconnecting,
                    LiveState::Resync => Connection::CatchingUp,
                }),
            }
        });
        let weak = Rc::downgrade(inner);
        let on_close = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if let Some(inner) = weak.upgrade() {
                retry_later(&inner);
            }
        });
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        let mut i = inner.borrow_mut();
        i.last_heard = now();
        i.ws = Some(ws);
        i.on_message = Some(on_message);
        i.handlers = vec![on_close];
    }

    /// Reconnects after a backoff (1 s doubling to 15 s), resuming after `last_seq`.
    fn retry_later(inner: &Rc<RefCell<Inner>>) {
        let delay = {
            let mut i = inner.borrow_mut();
            if i.closed {
                return;
            }
            i.ws = None;
            i.failures += 1;
            i.feed.connection.set(if i.failures > 3 {
                Connection::Offline
            } else {
                Connection::Reconnecting
            });
            Duration::from_millis((500u64 << i.failures.min(5)).min(15_000))
        };
        let weak = Rc::downgrade(inner);
        set_timeout(
            move || {
                // A refused socket looks like any dropped one: ask who is signed in first, so
                // an ended session stops the stream (and is reported) instead of retrying.
                leptos::task::spawn_local(async move {
                    let signed_out =
                        crate::api::whoami().await == Err(crate::error::ConsoleError::SignedOut);
                    let Some(inner) = weak.upgrade() else { return };
                    if inner.borrow().closed {
                        return;
                    }
                    if signed_out {
                        stop_for_good(&inner, Connection::SignedOut);
                    } else {
                        connect(&inner);
                    }
                });
            },
            delay,
        );
    }
}

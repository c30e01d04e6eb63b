//! `GET /api/v1/live?<filter>&after_seq=N`: the live tail as a websocket (protocol in
//! `app::live` and the README).

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};
use std::time::Duration;

use app::filter::{Filter, FilterError};
use app::live::AFTER_SEQ;
use axum::{
    extract::{
        ws::{
            close_code, rejection::WebSocketUpgradeRejection, CloseFrame, Message, WebSocket,
            WebSocketUpgrade,
        },
        RawQuery, State,
    },
    http::{header, HeaderMap, StatusCode},
    response::Response,
};
use futures::{stream::SplitSink, SinkExt, StreamExt};

use super::{
    client::{self, Reader},
    error::{ApiError, ErrorBody, Refused},
    session, AppState,
};
use crate::domain::auth::Scope;
use crate::service::live::{self, Frame, Sink};
use crate::storage::query;

/// A client that cannot take a message for this long is disconnected (it resumes with
/// `after_seq` when it comes back).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes a client message may hold (it has nothing to say beyond close and pong).
const INBOUND_LIMIT: usize = 1024;

/// The live tail: a websocket of entries matching the filter as they are committed.
#[utoipa::path(
    get,
    path = "/api/v1/live",
    tag = "query",
    params(
        super::openapi::FilterParams,
        ("after_seq" = Option<i64>, Query, minimum = -1, description = "Resume after this seq: backfill, then live"),
    ),
    responses(
        (status = 101, description = "Websocket: JSON messages as in the README, \"Live mode\""),
        (status = 426, description = "Not a websocket request", body = ErrorBody),
        (status = 429, description = "Too many live connections (per reader or in all); see Retry-After", body = ErrorBody),
        Refused,
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn subscribe(
    reader: Reader,
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let slot = state.live_slots.take(reader.id())?;
    // A page on another site cannot ride the console's cookie into the stream: the origin
    // guard (origin.rs) refuses it before this handler.
    let (filter, extra) = Filter::parse_with_extra(raw.as_deref().unwrap_or(""), &[AFTER_SEQ])?;
    let mut after_seq = None;
    for (_, value) in extra {
        if after_seq.is_some() {
            return Err(FilterError::new(AFTER_SEQ, "may be given only once").into());
        }
        let n = value
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= -1)
            .ok_or_else(|| {
                FilterError::new(AFTER_SEQ, "must be a whole number, -1 or more (a seq)")
            })?;
        after_seq = Some(n);
    }
    let filter = query::live_filter(&state.reads, filter).await?;
    let upgrade = upgrade.map_err(|e| {
        ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            format!("this endpoint is a websocket: {e}"),
        )
    })?;
    let bridge = state.bridge.clone();
    let shutdown = state.shutdown.clone();
    let still_allowed = move || {
        let (state, headers) = (state.clone(), headers.clone());
        async move { allowed(&state, &headers).await }
    };
    // The client sends nothing but control frames: anything larger than this closes it.
    let upgrade = upgrade
        .max_message_size(INBOUND_LIMIT)
        .max_frame_size(INBOUND_LIMIT);
    Ok(upgrade.on_upgrade(move |socket| async move {
        let _slot = slot;
        let (sender, mut receiver) = socket.split();
        let mut sink = SocketSink(sender);
        // The client sends nothing; its side ends when it closes or drops the connection.
        // Shutting down ends it too, and the close frame then says to reconnect.
        let restarting = Arc::new(AtomicBool::new(false));
        let flag = restarting.clone();
        let client_gone = async move {
            let closed = async {
                while let Some(Ok(message)) = receiver.next().await {
                    if matches!(message, Message::Close(_)) {
                        break;
                    }
                }
            };
            tokio::select! {
                () = closed => {}
                () = shutdown.started() => flag.store(true, Ordering::SeqCst),
            }
        };
        if let Err(e) = live::stream(
            &bridge,
            filter,
            after_seq,
            &mut sink,
            client_gone,
            still_allowed,
        )
        .await
        {
            tracing::warn!(error = %e, "live stream ended by a database error");
        }
        if restarting.load(Ordering::SeqCst) {
            let frame = CloseFrame {
                code: close_code::RESTART,
                reason: "Trailkeep is restarting; reconnect in a moment".into(),
            };
            let _ = sink.0.send(Message::Close(Some(frame))).await;
        }
        let _ = sink.0.close().await;
    }))
}

/// Whether the connection's credentials still may read the log (key not revoked, session not
/// ended, role not changed).
async fn allowed(state: &AppState, headers: &HeaderMap) -> bool {
    if headers.contains_key(header::AUTHORIZATION) {
        client::require_key(state, headers, Scope::Read)
            .await
            .is_ok()
    } else {
        session::current_user(state, headers)
            .await
            .is_some_and(|u| u.role.can_read_log())
    }
}

struct SocketSink(SplitSink<WebSocket, Message>);

impl Sink for SocketSink {
    async fn send(&mut self, frame: Frame) -> bool {
        let text = Message::Text(frame.as_ref().into());
        matches!(
            tokio::time::timeout(SEND_TIMEOUT, self.0.send(text)).await,
            Ok(Ok(()))
        )
    }
}

//! `GET /api/v1/live?<filter>&after_seq=N`: the live tail as a websocket (protocol in
//! `app::live` and the README).

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};
use std::time::Duration;

use app::filter::Filter;
use app::live::AFTER_SEQ;
use axum::{
    extract::{
        ws::{
            close_code, rejection::WebSocketUpgradeRejection, CloseFrame, Message, WebSocket,
            WebSocketUpgrade,
        },
        RawQuery, State,
    },
    http::{HeaderMap, StatusCode},
    response::Response,
};
use futures::{stream::SplitSink, SinkExt, StreamExt};

use super::{
    auth,
    auth::Reader,
    error::{ApiError, ErrorBody, Refused},
    params, AppState,
};
use crate::service::live::{self, Frame, Sink};
use crate::storage::query;

/// A client that cannot take a message for this long is disconnected (it resumes with
/// `after_seq` when it comes back).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes a client message may hold (it has nothing to say beyond close and pong).
const INBOUND_LIMIT: usize = 1024;

/// The live socket's own parameter, beside the filter (its name is `app::live::AFTER_SEQ`).
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// Resume after this seq: backfill, then live.
    #[param(minimum = -1)]
    after_seq: Option<i64>,
}

/// The live tail: a websocket of entries matching the filter as they are committed.
#[utoipa::path(
    get,
    path = "/api/v1/live",
    tag = "query",
    params(
        app::filter::params::FilterQuery,
        LiveQuery,
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
    let LiveQuery { after_seq } = params::parse_pairs(&extra)?;
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
        async move { auth::still_reader(&state, &headers).await }
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

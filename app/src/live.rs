//! The live protocol (`GET /api/v1/live?<filter>&after_seq=N`, a websocket): the messages the
//! server sends, shared by the server and the console. Documented in the README.

use serde::{Deserialize, Serialize};

use crate::model::AuditEntry;

/// The query parameter that resumes a stream after the last `seq` the client has.
pub const AFTER_SEQ: &str = "after_seq";

/// How often the server sends a heartbeat; a client that hears nothing for
/// [`SILENCE_LIMIT_MS`] treats the stream as dead and reconnects.
pub const HEARTBEAT_SECS: u64 = 15;
pub const SILENCE_LIMIT_MS: u32 = 40_000;

/// The state of the server's stream, as told to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveState {
    /// Entries arrive as they commit.
    Live,
    /// The server lost its database listener and is reconnecting; nothing is lost, entries
    /// committed meanwhile follow when it is back.
    Reconnecting,
    /// This client fell behind; the server is catching it up from its last `seq`.
    Resync,
}

/// One message from the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveMessage {
    /// A matching entry. Entries come in `seq` order, each once.
    Entry {
        entry: Box<AuditEntry>,
    },
    Status {
        state: LiveState,
    },
    /// Everything up to `seq` has been sent (entries that did not match were skipped):
    /// resume with `after_seq=<seq>`.
    Heartbeat {
        seq: i64,
    },
}

/// A [`LiveMessage`] as the browser decodes it: one flat struct instead of the internally
/// tagged enum, whose decoder buffers every message and compiles a second copy of the entry
/// decoder into the bundle.
#[derive(Deserialize)]
pub struct LiveFrame {
    #[serde(rename = "type")]
    kind: String,
    entry: Option<Box<AuditEntry>>,
    state: Option<LiveState>,
    seq: Option<i64>,
}

impl LiveFrame {
    pub fn into_message(self) -> Option<LiveMessage> {
        match (self.kind.as_str(), self.entry, self.state, self.seq) {
            ("entry", Some(entry), _, _) => Some(LiveMessage::Entry { entry }),
            ("status", _, Some(state), _) => Some(LiveMessage::Status { state }),
            ("heartbeat", _, _, Some(seq)) => Some(LiveMessage::Heartbeat { seq }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_documented_shape() {
        let status = serde_json::to_value(LiveMessage::Status {
            state: LiveState::Reconnecting,
        })
        .unwrap();
        assert_eq!(
            status,
            serde_json::json!({"type": "status", "state": "reconnecting"})
        );
        let beat = serde_json::to_value(LiveMessage::Heartbeat { seq: 42 }).unwrap();
        assert_eq!(beat, serde_json::json!({"type": "heartbeat", "seq": 42}));
        let back: LiveMessage =
            serde_json::from_str(r#"{"type":"status","state":"resync"}"#).unwrap();
        assert_eq!(
            back,
            LiveMessage::Status {
                state: LiveState::Resync
            }
        );
        // The browser's flat decoding reads the same messages.
        for message in [status, beat] {
            let frame: LiveFrame = serde_json::from_value(message.clone()).unwrap();
            let decoded = frame.into_message().unwrap();
            assert_eq!(serde_json::to_value(decoded).unwrap(), message);
        }
    }
}

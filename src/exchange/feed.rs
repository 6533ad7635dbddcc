//! The seam between exchange adapters and the engine: what a connection
//! reports (lines, link state, notices) and what the engine may ask of it.
//! Neutral: no exchange's protocol lives here, so the engine, the screens
//! and the commands depend on this and never on an adapter.

use crate::exchange::recording::RecordLine;
use std::time::{SystemTime, UNIX_EPOCH};

/// The state of a connection, as the screen shows it.
#[derive(Clone, Debug, PartialEq)]
pub enum LinkState {
    Connecting,
    /// Authenticated, subscribed and snapshotted.
    Live,
    Down(String),
    /// The server could not be reached at all (refused, no such host, TLS or
    /// HTTP upgrade failure, connect timeout): retried like `Down`, but a
    /// one-shot command ends on it rather than wait.
    Unreachable(String),
    AuthFailed(String),
}

/// What connections send to the engine.
#[derive(Clone, Debug)]
pub enum Feed {
    Line(RecordLine),
    Link {
        acct: String,
        state: LinkState,
    },
    /// Something the user must know about a connection (e.g. key scope).
    Notice {
        acct: String,
        text: String,
    },
    /// The subaccounts of an account's key: (id, username).
    Subaccounts {
        acct: String,
        subaccounts: Vec<(i64, String)>,
    },
    /// A frame that was not JSON (counted, never fatal).
    Garbage {
        acct: String,
    },
}

/// What the engine can ask of a connection.
#[derive(Clone, Debug)]
pub enum Command {
    /// Subscribe these public channels too (kept across reconnects).
    Subscribe(Vec<String>),
    /// Unsubscribe these channels and never subscribe them again (expired
    /// instruments).
    Unsubscribe(Vec<String>),
    /// Take positions and balances again (and the subaccount list), as
    /// after a reconnect, without reconnecting.
    Resync,
}

/// Local clock in epoch milliseconds (data age and recording `t` only).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

//! Deribit's JSON-RPC 2.0 envelope: requests, responses, notifications, errors.

use serde_json::{json, Value};

/// Error codes the client acts on (Deribit's RPC error table).
pub const TOO_MANY_REQUESTS: i64 = 10028;
pub const INVALID_CREDENTIALS: i64 = 13004;
pub const UNAUTHORIZED: i64 = 13009;

#[derive(Clone, Debug, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

/// A received message, classified.
#[derive(Clone, Debug, PartialEq)]
pub enum Incoming {
    /// A reply to request `id`: its result, or the exchange's error.
    Response {
        id: i64,
        result: Result<Value, RpcError>,
    },
    /// An error with no request id (e.g. -32600 for an oversized request).
    OrphanError(RpcError),
    /// `subscription` data on a channel.
    Subscription { channel: String },
    /// The server asks for `public/test` (heartbeat `test_request`).
    TestRequest,
    /// A plain heartbeat, or anything else: nothing to do.
    Other,
}

/// Build a request message.
pub fn request(id: i64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

fn error(v: &Value) -> RpcError {
    RpcError {
        code: v.get("code").and_then(Value::as_i64).unwrap_or(0),
        message: v
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    }
}

/// Classify a message.
pub fn classify(msg: &Value) -> Incoming {
    if let Some(method) = msg.get("method").and_then(Value::as_str) {
        return match method {
            "subscription" => Incoming::Subscription {
                channel: msg["params"]["channel"].as_str().unwrap_or("").to_string(),
            },
            "heartbeat" if msg["params"]["type"] == "test_request" => Incoming::TestRequest,
            _ => Incoming::Other,
        };
    }
    let id = msg.get("id").and_then(Value::as_i64);
    match (id, msg.get("error"), msg.get("result")) {
        (Some(id), Some(e), _) => Incoming::Response {
            id,
            result: Err(error(e)),
        },
        (Some(id), None, Some(r)) => Incoming::Response {
            id,
            result: Ok(r.clone()),
        },
        (None, Some(e), _) => Incoming::OrphanError(error(e)),
        _ => Incoming::Other,
    }
}

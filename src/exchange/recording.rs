//! Recording lines (FORMATS.md §1): parsing, writing, and redaction.

use serde_json::{json, Value};
use std::io::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// A request the client sent.
    Out,
    /// Anything received.
    In,
}

/// One message sent or received, with local time and account label.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordLine {
    /// Local clock, epoch milliseconds.
    pub t: i64,
    pub dir: Dir,
    pub acct: String,
    pub msg: Value,
}

impl RecordLine {
    /// Parse a line; None if it is not a recording entry.
    pub fn parse(line: &str) -> Option<RecordLine> {
        let v: Value = serde_json::from_str(line).ok()?;
        let dir = match v.get("dir")?.as_str()? {
            "out" => Dir::Out,
            "in" => Dir::In,
            _ => return None,
        };
        Some(RecordLine {
            t: v.get("t")?.as_i64()?,
            dir,
            acct: v
                .get("acct")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_string(),
            msg: v.get("msg")?.clone(),
        })
    }

    /// The line as written to a recording (no newline).
    pub fn to_json(&self) -> String {
        let dir = match self.dir {
            Dir::Out => "out",
            Dir::In => "in",
        };
        json!({"t": self.t, "dir": dir, "acct": self.acct, "msg": self.msg}).to_string()
    }
}

/// Keys whose values are secrets wherever they appear in a message.
const SECRET_KEYS: [&str; 5] = [
    "client_secret",
    "refresh_token",
    "access_token",
    "signature",
    "password",
];
pub const REDACTED: &str = "<redacted>";

/// Replace every secret in a message by `"<redacted>"`, in place.
pub fn redact(msg: &mut Value) {
    match msg {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if SECRET_KEYS.contains(&k.as_str()) && !v.is_null() {
                    *v = Value::String(REDACTED.into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Writes recording lines, redacted, one per line.
pub struct Recorder<W: Write> {
    out: W,
    pub lines: u64,
}

impl<W: Write> Recorder<W> {
    pub fn new(out: W) -> Recorder<W> {
        Recorder { out, lines: 0 }
    }

    pub fn write(&mut self, line: &RecordLine) -> std::io::Result<()> {
        let mut line = line.clone();
        redact(&mut line.msg);
        writeln!(self.out, "{}", line.to_json())?;
        self.lines += 1;
        Ok(())
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_secrets_are_redacted_everywhere() {
        let mut m = json!({"method": "public/auth", "params": {"grant_type": "client_credentials",
            "client_id": "id", "client_secret": "SECRET-1"}, "result": {"access_token": "SECRET-2",
            "refresh_token": "SECRET-3", "nested": [{"client_secret": "SECRET-4"}]}});
        redact(&mut m);
        let text = m.to_string();
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("client_credentials"));
    }

    #[test]
    fn lines_round_trip() {
        let line = RecordLine {
            t: 5,
            dir: Dir::Out,
            acct: "a".into(),
            msg: json!({"id": 1}),
        };
        assert_eq!(RecordLine::parse(&line.to_json()), Some(line));
        assert_eq!(
            RecordLine::parse("{\"t\":1,\"dir\":\"sideways\",\"msg\":{}}"),
            None
        );
    }
}

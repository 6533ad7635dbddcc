//! Recording lines (docs/recording.md): parsing, writing, and redaction.

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
        let mut v: Value = serde_json::from_str(line).ok()?;
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
            // Taken, not cloned: a message can be megabytes.
            msg: v.as_object_mut()?.remove("msg")?,
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

/// Longest recording line read unless configured (`engine.max_line_bytes`);
/// a longer one is skipped as a bad line without being held in memory.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// What stands for a line that cannot be a recording entry (not UTF-8, or
/// too long): it fails to parse and is counted, with its line number.
pub const UNREADABLE_LINE: &str = "\u{0}unreadable line";

/// Read lines of at most `cap` bytes; a longer line or one that is not
/// UTF-8 becomes `UNREADABLE_LINE`, so that line numbers stay true.
pub fn read_capped_lines(
    mut input: impl std::io::BufRead,
    cap: usize,
) -> std::io::Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut too_long = false;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        let (take, end) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        if line.len() + take > cap {
            too_long = true;
            line.clear();
        } else if !too_long {
            line.extend_from_slice(&chunk[..take]);
        }
        input.consume(take + usize::from(end));
        if end {
            lines.push(finish_line(&mut line, &mut too_long));
        }
    }
    if !line.is_empty() || too_long {
        lines.push(finish_line(&mut line, &mut too_long));
    }
    Ok(lines)
}

fn finish_line(line: &mut Vec<u8>, too_long: &mut bool) -> String {
    let bytes = std::mem::take(line);
    let text = match std::mem::take(too_long) {
        true => None,
        false => String::from_utf8(bytes).ok(),
    };
    let text = text.unwrap_or_else(|| UNREADABLE_LINE.to_string());
    text.strip_suffix('\r').map(str::to_string).unwrap_or(text)
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
    fn bad_bytes_and_long_lines_are_lines_of_their_own() {
        let mut data = b"first\n\xff\xfe bad\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 100));
        data.extend(b"\nlast\r\nno newline");
        // A small buffer makes lines cross reads.
        let reader = std::io::BufReader::with_capacity(7, &data[..]);
        let lines = read_capped_lines(reader, 50).unwrap();
        assert_eq!(
            lines,
            vec![
                "first",
                UNREADABLE_LINE,
                UNREADABLE_LINE,
                "last",
                "no newline"
            ]
        );
        assert!(RecordLine::parse(UNREADABLE_LINE).is_none());
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

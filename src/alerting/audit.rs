//! The audit log: every alert raised, repeated and cleared, one JSON line
//! each, in `alerts.jsonl` (the platform's data directory by default),
//! rotated by size so that a monitor left running for months keeps a
//! bounded amount of disk: `alerts.jsonl` → `alerts.1.jsonl` → … up to
//! `KEEP` old files.

use super::evaluate::Fired;
use super::rules::Level;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Old files kept besides the current one.
pub const KEEP: usize = 3;

/// One line of the log (README, "Alerts"). Built-in alerts carry only the
/// time, level and message; a rule's also say what it measured.
#[derive(Debug, Serialize, PartialEq)]
pub struct Entry<'a> {
    pub at_ms: i64,
    /// The same instant, ISO 8601 UTC.
    pub time: String,
    pub level: &'static str,
    /// "raised", "repeated" or "cleared"; None for a built-in alert.
    pub change: Option<&'static str>,
    /// The rule's name; None for a built-in alert.
    pub rule: Option<&'a str>,
    pub exchange: Option<&'a str>,
    pub account: Option<&'a str>,
    pub currency: Option<&'a str>,
    pub metric: Option<&'static str>,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub message: &'a str,
}

impl<'a> Entry<'a> {
    /// A built-in alert's entry.
    pub fn built_in(at_ms: i64, level: Level, message: &'a str) -> Entry<'a> {
        Entry {
            at_ms,
            time: iso_utc(at_ms),
            level: level.name(),
            change: None,
            rule: None,
            exchange: None,
            account: None,
            currency: None,
            metric: None,
            value: None,
            threshold: None,
            message,
        }
    }

    /// A rule's alert entry.
    pub fn rule(f: &'a Fired) -> Entry<'a> {
        let named = |s: &'a str| (!s.is_empty()).then_some(s);
        Entry {
            change: Some(f.change.name()),
            rule: Some(&f.rule),
            exchange: named(&f.subject.exchange),
            account: named(&f.subject.label),
            currency: named(&f.subject.currency),
            metric: Some(f.metric.name()),
            // JSON has no NaN; a NaN never fires, an infinity might.
            value: f.value.is_finite().then_some(f.value),
            threshold: Some(f.threshold),
            ..Entry::built_in(f.at_ms, f.level, &f.message)
        }
    }
}

/// `2026-11-29T01:19:37.250Z`.
pub fn iso_utc(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = crate::model::instrument::civil(days);
    let s = ms_of_day / 1000;
    let (h, min, sec, milli) = (s / 3600, s / 60 % 60, s % 60, ms_of_day % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{sec:02}.{milli:03}Z")
}

/// The log file, appended to and rotated when the next line would take
/// it past `max_bytes`.
pub struct AuditLog {
    dir: PathBuf,
    max_bytes: u64,
    file: Option<File>,
    size: u64,
}

impl AuditLog {
    /// The log in `dir` (created if missing).
    pub fn open(dir: &Path, max_bytes: u64) -> Result<AuditLog, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("audit log: cannot create {}: {e}", dir.display()))?;
        let mut log = AuditLog {
            dir: dir.to_path_buf(),
            max_bytes: max_bytes.max(1),
            file: None,
            size: 0,
        };
        log.reopen()?;
        Ok(log)
    }

    /// The platform's data directory for margintop (Linux:
    /// `~/.local/share/margintop`, or `$XDG_DATA_HOME/margintop`).
    pub fn default_dir() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "margintop").map(|d| d.data_dir().to_path_buf())
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("alerts.jsonl")
    }

    fn old(&self, n: usize) -> PathBuf {
        self.dir.join(format!("alerts.{n}.jsonl"))
    }

    fn reopen(&mut self) -> Result<(), String> {
        let path = self.path();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("audit log: cannot open {}: {e}", path.display()))?;
        self.size = file.metadata().map(|m| m.len()).unwrap_or(0);
        self.file = Some(file);
        Ok(())
    }

    /// Shift the old files up by one (the oldest is dropped) and start a
    /// new current file.
    fn rotate(&mut self) -> Result<(), String> {
        self.file = None;
        let fail = |e: std::io::Error| format!("audit log: cannot rotate: {e}");
        for n in (1..KEEP).rev() {
            if self.old(n).exists() {
                std::fs::rename(self.old(n), self.old(n + 1)).map_err(fail)?;
            }
        }
        std::fs::rename(self.path(), self.old(1)).map_err(fail)?;
        self.reopen()
    }

    /// Append `entries`, one line each, rotating first whenever a line
    /// would take the file past its size.
    pub fn write(&mut self, entries: &[Entry]) -> Result<(), String> {
        for e in entries {
            let mut line = serde_json::to_string(e).map_err(|e| format!("audit log: {e}"))?;
            line.push('\n');
            let len = line.len() as u64;
            if self.size > 0 && self.size + len > self.max_bytes {
                self.rotate()?;
            }
            if self.file.is_none() {
                self.reopen()?;
            }
            let file = self.file.as_mut().ok_or("audit log: not open")?;
            file.write_all(line.as_bytes())
                .map_err(|e| format!("audit log: cannot write {}: {e}", self.path().display()))?;
            self.size += len;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("margintop-audit-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&d).ok();
        d
    }

    #[test]
    fn iso_times() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00.000Z");
        // 2026-11-29 01:19:37.250 UTC: 20,786 days after the epoch
        // (Python's date(2026, 11, 29) - date(1970, 1, 1)).
        let ms = 20_786 * 86_400_000 + ((60 + 19) * 60 + 37) * 1000 + 250;
        assert_eq!(iso_utc(ms), "2026-11-29T01:19:37.250Z");
    }

    #[test]
    fn lines_are_json_and_the_log_rotates_by_size_keeping_three() {
        let d = dir("rotate");
        let mut log = AuditLog::open(&d, 400).unwrap();
        let messages: Vec<String> = (0..20).map(|i| format!("alert number {i:02}")).collect();
        for (i, m) in messages.iter().enumerate() {
            log.write(&[Entry::built_in(i as i64, Level::Warning, m)])
                .unwrap();
        }
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        let mut files: Vec<String> = (1..=KEEP).rev().map(|n| read(log.old(n))).collect();
        files.push(read(log.path()));
        assert!(!log.old(KEEP + 1).exists());
        let mut seen = Vec::new();
        for text in &files {
            assert!(!text.is_empty() && text.len() <= 400, "{text}");
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                assert_eq!(v["level"], "warning");
                assert!(v["rule"].is_null());
                seen.push(v["message"].as_str().unwrap().to_string());
            }
        }
        // The newest alerts, in order, with the oldest rotated away.
        let newest = &messages[messages.len() - seen.len()..];
        assert!(seen.len() < messages.len());
        assert_eq!(seen, newest);
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn reopening_appends() {
        let d = dir("append");
        AuditLog::open(&d, 1 << 20)
            .unwrap()
            .write(&[Entry::built_in(1, Level::Info, "first")])
            .unwrap();
        let mut log = AuditLog::open(&d, 1 << 20).unwrap();
        log.write(&[Entry::built_in(2, Level::Critical, "second")])
            .unwrap();
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.contains("\"critical\"") && text.contains("first"));
        std::fs::remove_dir_all(&d).ok();
    }
}

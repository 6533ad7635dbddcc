//! Where alerts go besides the alert screen: the audit log, the command
//! hook and the webhook. A sink that fails never stops the monitor: its
//! problem is said, on the alert screen or stderr.

use super::audit::{AuditLog, Entry};
use super::hook::Hook;
use super::webhook::Webhook;
use crate::config::AlertingConfig;
use std::time::Duration;

/// The configured sinks.
pub struct Sinks {
    audit: Option<AuditLog>,
    hook: Option<Hook>,
    webhook: Option<Webhook>,
    /// The last problem said, so that a failing sink is not reported on
    /// every alert.
    said: Option<String>,
}

impl Sinks {
    /// Open what `c` asks for; a sink that cannot open is left out and
    /// the second value says why.
    pub fn new(c: &AlertingConfig) -> (Sinks, Option<String>) {
        let mut problem = None;
        let audit = match (
            c.audit_log,
            c.audit_log_dir.clone().or_else(AuditLog::default_dir),
        ) {
            (false, _) => None,
            (true, None) => {
                problem = Some(
                    "audit log: the platform has no data directory; set alerting.audit_log_dir"
                        .into(),
                );
                None
            }
            (true, Some(dir)) => AuditLog::open(&dir, c.audit_log_max_bytes)
                .map_err(|e| problem = Some(e))
                .ok(),
        };
        let hook = (!c.on_alert.is_empty()).then(|| {
            Hook::start(
                c.on_alert.clone(),
                Duration::from_secs_f64(c.on_alert_timeout_s),
            )
        });
        let sinks = Sinks {
            audit,
            hook,
            webhook: c.webhook().map(Webhook::start),
            said: None,
        };
        (sinks, problem)
    }

    /// Let the sinks finish what they hold (at most a few seconds), and
    /// return the problems not yet said.
    pub fn finish(mut self) -> Vec<String> {
        let grace = Duration::from_secs(3);
        let start = std::time::Instant::now();
        let mut out = match self.hook.take() {
            Some(hook) => hook.finish(grace),
            None => Vec::new(),
        };
        if let Some(mut w) = self.webhook.take() {
            while w.pending() > 0 && start.elapsed() < grace {
                std::thread::sleep(Duration::from_millis(10));
            }
            out.extend(w.send(&[]));
        }
        out
    }

    /// Hand `entries` to every sink; returns the problems to say: the
    /// hook's every one (each is an event), the audit log's once until it
    /// works again.
    pub fn deliver(&mut self, entries: &[Entry]) -> Vec<String> {
        let mut out = match self.hook.as_mut() {
            Some(hook) => hook.send(entries),
            None => Vec::new(),
        };
        if let Some(w) = self.webhook.as_mut() {
            out.extend(w.send(entries));
        }
        let written = match self.audit.as_mut() {
            Some(log) if !entries.is_empty() => log.write(entries),
            _ => Ok(()),
        };
        match written {
            Ok(()) => self.said = None,
            Err(e) if self.said.as_ref() == Some(&e) => {}
            Err(e) => {
                self.said = Some(e.clone());
                out.push(e);
            }
        }
        out
    }
}

//! Where alerts go besides the alert screen: the audit log today. A sink
//! that fails never stops the monitor; its problem is said once.

use super::audit::{AuditLog, Entry};
use crate::config::AlertingConfig;

/// The configured sinks.
pub struct Sinks {
    audit: Option<AuditLog>,
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
        (Sinks { audit, said: None }, problem)
    }

    /// Hand `entries` to every sink; returns a problem not said before.
    pub fn deliver(&mut self, entries: &[Entry]) -> Option<String> {
        let result = match self.audit.as_mut() {
            Some(log) if !entries.is_empty() => log.write(entries),
            _ => Ok(()),
        };
        match result {
            Ok(()) => {
                self.said = None;
                None
            }
            Err(e) if self.said.as_ref() == Some(&e) => None,
            Err(e) => {
                self.said = Some(e.clone());
                Some(e)
            }
        }
    }
}

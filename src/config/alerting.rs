//! The `[alerting]` section: where alerts go besides the alert screen
//! (keys documented in config/default.toml).

use super::Secret;
use serde::Deserialize;
use std::path::PathBuf;

/// The `[alerting]` section: where alerts go besides the alert screen.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertingConfig {
    /// Write every alert to `alerts.jsonl` (README, "Alerts").
    pub audit_log: bool,
    /// Where; None: the platform's data directory.
    pub audit_log_dir: Option<PathBuf>,
    /// Rotate the log past this size.
    pub audit_log_max_bytes: u64,
    /// Ring the terminal bell when a warning or critical alert is raised.
    pub bell: bool,
    /// A command run for each alert, without a shell (empty: none).
    pub on_alert: Vec<String>,
    /// How long the command may run before it is stopped.
    pub on_alert_timeout_s: f64,
    /// Where to POST each alert (a secret: chat services put their key in
    /// the path).
    pub webhook_url: Option<Secret>,
    /// "json" (the audit log's line) or "text" ({"text": …}).
    pub webhook_format: String,
    pub webhook_timeout_s: f64,
    /// Attempts after the first failed one.
    pub webhook_retries: u32,
}

impl AlertingConfig {
    /// The webhook's settings (None: no webhook).
    pub fn webhook(&self) -> Option<crate::alerting::webhook::Options> {
        use crate::alerting::webhook::{Format, Options};
        Some(Options {
            url: self.webhook_url.clone()?,
            format: match self.webhook_format.as_str() {
                "text" => Format::Text,
                _ => Format::Json,
            },
            timeout: std::time::Duration::from_secs_f64(self.webhook_timeout_s),
            retries: self.webhook_retries,
            backoff: std::time::Duration::from_millis(500),
        })
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        let max = self.audit_log_max_bytes;
        if !(10_000..=10_000_000_000).contains(&max) {
            return Err(format!(
                "alerting.audit_log_max_bytes = {max} is outside 10000..=10000000000"
            ));
        }
        let seconds = [
            ("on_alert_timeout_s", self.on_alert_timeout_s),
            ("webhook_timeout_s", self.webhook_timeout_s),
        ];
        for (key, v) in seconds {
            if !(v.is_finite() && (0.1..=600.0).contains(&v)) {
                return Err(format!("alerting.{key} = {v} is outside 0.1..=600 seconds"));
            }
        }
        if self.on_alert.first().is_some_and(|p| p.trim().is_empty()) {
            return Err("alerting.on_alert: the first element, the program, is empty".into());
        }
        if !["json", "text"].contains(&self.webhook_format.as_str()) {
            return Err(format!(
                "alerting.webhook_format = {:?}: json or text",
                self.webhook_format
            ));
        }
        if self.webhook_retries > 10 {
            return Err(format!(
                "alerting.webhook_retries = {} is outside 0..=10",
                self.webhook_retries
            ));
        }
        match &self.webhook_url {
            Some(url) => check_webhook_url(url.expose()),
            None => Ok(()),
        }
    }
}

/// An https:// URL, or http:// to this machine only: alerts name accounts
/// and their risk, and do not cross a network in clear text.
fn check_webhook_url(url: &str) -> Result<(), String> {
    let shown = crate::alerting::webhook::redacted(url);
    let host = shown
        .split("://")
        .nth(1)
        .unwrap_or("")
        .trim_end_matches("/…");
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let loopback = ["127.0.0.1", "localhost", "[::1]"].contains(&host);
    match (url.starts_with("https://"), url.starts_with("http://")) {
        _ if host.is_empty() => Err(format!("alerting.webhook_url ({shown}) has no host")),
        (true, _) => Ok(()),
        (false, true) if loopback => Ok(()),
        (false, true) => Err(format!(
            "alerting.webhook_url ({shown}): http:// only to this machine (127.0.0.1, localhost); use https://"
        )),
        _ => Err(format!("alerting.webhook_url ({shown}) must start with https://")),
    }
}

impl Default for AlertingConfig {
    fn default() -> Self {
        AlertingConfig {
            audit_log: true,
            audit_log_dir: None,
            audit_log_max_bytes: 10_000_000,
            bell: false,
            on_alert: Vec::new(),
            on_alert_timeout_s: 10.0,
            webhook_url: None,
            webhook_format: "json".into(),
            webhook_timeout_s: 10.0,
            webhook_retries: 3,
        }
    }
}

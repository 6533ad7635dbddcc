//! The configuration file (`config/default.toml` documents every key) and
//! account credentials.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

mod alerting;
pub use alerting::AlertingConfig;

pub const DEFAULT_CONFIG: &str = include_str!("../../config/default.toml");
pub const DERIBIT_URL: &str = "wss://www.deribit.com/ws/api/v2";
pub const DERIBIT_TESTNET_URL: &str = "wss://test.deribit.com/ws/api/v2";

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub engine: EngineConfig,
    #[serde(default)]
    pub connection: ConnectionConfig,
    #[serde(default)]
    pub check: CheckConfig,
    #[serde(default)]
    pub ui: UiConfig,
    #[serde(default)]
    pub var: VarConfig,
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    /// `[[alerts]]` rules as written; `alert_rules` reads and checks them
    /// (apart, so that an error names the rule).
    #[serde(default)]
    pub alerts: Vec<toml::Table>,
    #[serde(default)]
    pub alerting: AlertingConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
}

/// The `[metrics]` section: where `/metrics` is served (None: nowhere).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    pub listen: Option<String>,
}

impl MetricsConfig {
    /// The address to serve on: `flag` (`--metrics`) over the config's.
    pub fn address(&self, flag: Option<&str>) -> Result<Option<std::net::SocketAddr>, String> {
        let Some(text) = flag.or(self.listen.as_deref()) else {
            return Ok(None);
        };
        text.parse().map(Some).map_err(|_| {
            format!("metrics address {text:?}: write an IP address and a port, as 127.0.0.1:9184")
        })
    }
}

/// The `[var]` section: how VaR and ES are computed (docs in
/// `config/default.toml`, rules in the README).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct VarConfig {
    pub window_days: usize,
    pub horizon_days: u32,
    pub paths: usize,
    pub seed: u64,
    /// normal, or student_t (with `nu` degrees of freedom).
    pub distribution: String,
    pub nu: f64,
    /// Test days (T) of a backtest.
    pub backtest_days: usize,
    /// MC paths of each backtest day's VaR.
    pub backtest_paths: usize,
}

impl Default for VarConfig {
    fn default() -> Self {
        let s = crate::risk::Settings::default();
        VarConfig {
            window_days: s.window_days,
            horizon_days: s.horizon_days,
            paths: s.paths,
            seed: s.seed,
            distribution: "normal".into(),
            nu: 5.0,
            backtest_days: 500,
            backtest_paths: 2_000,
        }
    }
}

impl VarConfig {
    /// The risk core's settings (the section was validated on load).
    pub fn settings(&self) -> crate::risk::Settings {
        use crate::risk::scenarios::Draws;
        crate::risk::Settings {
            window_days: self.window_days,
            horizon_days: self.horizon_days,
            paths: self.paths,
            seed: self.seed,
            draws: match self.distribution.as_str() {
                "student_t" => Draws::StudentT { nu: self.nu },
                _ => Draws::Normal,
            },
        }
    }

    /// A backtest's settings (MC with `backtest_paths`) and test days.
    pub fn backtest(&self) -> (crate::risk::Settings, usize) {
        let s = crate::risk::Settings {
            paths: self.backtest_paths,
            ..self.settings()
        };
        (s, self.backtest_days)
    }

    fn validate(&self) -> Result<(), String> {
        let ints = [
            ("var.window_days", self.window_days as u64, 30, 5_000),
            ("var.horizon_days", u64::from(self.horizon_days), 1, 30),
            ("var.paths", self.paths as u64, 100, 1_000_000),
            ("var.backtest_days", self.backtest_days as u64, 1, 5_000),
            (
                "var.backtest_paths",
                self.backtest_paths as u64,
                100,
                1_000_000,
            ),
        ];
        for (name, v, lo, hi) in ints {
            if !(lo..=hi).contains(&v) {
                return Err(format!("{name} = {v} is outside {lo}..={hi}"));
            }
        }
        if !["normal", "student_t"].contains(&self.distribution.as_str()) {
            return Err(format!(
                "var.distribution = {:?}: normal or student_t",
                self.distribution
            ));
        }
        if !(self.nu > 2.0 && self.nu <= 1_000.0) {
            return Err(format!("var.nu = {} is outside (2, 1000]", self.nu));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    pub stale_after_ms: i64,
    pub clock_step_ms: i64,
    pub queue_capacity: usize,
    pub equity_tolerance: f64,
    pub equity_divergence_ms: i64,
    /// Local and exchange maintenance margin may differ by this share of
    /// the larger of the two ...
    pub mm_tolerance: f64,
    /// ... for this long before the difference is shown and alerted.
    pub mm_divergence_ms: i64,
    pub settlement_resync_delay_ms: i64,
    pub expired_retry_ms: i64,
    pub resync_interval_ms: i64,
    /// Longest recording line read; a longer one is skipped and counted.
    pub max_line_bytes: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            stale_after_ms: 10_000,
            clock_step_ms: 1000,
            queue_capacity: 65_536,
            equity_tolerance: 0.005,
            equity_divergence_ms: 30_000,
            mm_tolerance: 0.05,
            mm_divergence_ms: 60_000,
            settlement_resync_delay_ms: 5_000,
            expired_retry_ms: 30_000,
            resync_interval_ms: 600_000,
            max_line_bytes: crate::exchange::recording::MAX_LINE_BYTES,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionConfig {
    pub heartbeat_interval_s: u64,
    pub request_timeout_ms: u64,
    pub stall_timeout_ms: u64,
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    pub subscribe_chunk: usize,
    pub max_requests_per_s: u32,
    /// Exchange seconds per local second the monitor believes (1 for a
    /// real exchange; a demo server's `--speed` for an accelerated demo).
    pub clock_rate: f64,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            heartbeat_interval_s: 10,
            request_timeout_ms: 10_000,
            stall_timeout_ms: 35_000,
            reconnect_min_ms: 500,
            reconnect_max_ms: 30_000,
            subscribe_chunk: 250,
            max_requests_per_s: 10,
            clock_rate: 1.0,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CheckConfig {
    pub timeout_ms: u64,
    pub warn_mm_ratio: f64,
    pub critical_mm_ratio: f64,
    /// HS VaR 99 % over the margin balance at or above which an account is
    /// a warning (None: VaR is not checked).
    pub warn_var_ratio: Option<f64>,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            timeout_ms: 20_000,
            warn_mm_ratio: 0.5,
            critical_mm_ratio: 0.8,
            warn_var_ratio: None,
        }
    }
}

/// The `[ui]` section: dashboards' settings.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// Capture the mouse: the wheel scrolls, a click picks a desk row.
    pub mouse: bool,
    /// Key overrides: action name → key or keys (see `margintop::ui::keymap`).
    pub keys: BTreeMap<String, Keys>,
}

/// One key ("m") or several (["m", "F2"]).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Keys {
    One(String),
    Many(Vec<String>),
}

impl UiConfig {
    /// The overrides as lists of keys.
    pub fn key_overrides(&self) -> BTreeMap<String, Vec<String>> {
        self.keys
            .iter()
            .map(|(action, keys)| {
                let list = match keys {
                    Keys::One(k) => vec![k.clone()],
                    Keys::Many(ks) => ks.clone(),
                };
                (action.clone(), list)
            })
            .collect()
    }
}

/// One `[[accounts]]` entry (docs/accounts.md).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub label: String,
    #[serde(default = "deribit")]
    pub exchange: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub client_id_env: Option<String>,
    #[serde(default)]
    pub client_secret_env: Option<String>,
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
    #[serde(default)]
    pub currencies: Option<Vec<String>>,
    #[serde(default = "auto")]
    pub model: String,
    #[serde(default)]
    pub subaccounts: bool,
    /// auto (what the exchange reports), cross or segregated.
    #[serde(default = "auto")]
    pub collateral: String,
}

fn deribit() -> String {
    "deribit".into()
}

fn auto() -> String {
    "auto".into()
}

impl AccountConfig {
    /// The collateral mode forced by the config (None: as the exchange says).
    pub fn forced_collateral(&self) -> Option<crate::model::Collateral> {
        match self.collateral.as_str() {
            "cross" => Some(crate::model::Collateral::Cross),
            "segregated" => Some(crate::model::Collateral::Segregated),
            _ => None,
        }
    }

    pub fn url(&self) -> &str {
        self.url.as_deref().unwrap_or(DERIBIT_URL)
    }

    pub fn currencies(&self) -> Vec<String> {
        self.currencies
            .clone()
            .unwrap_or_else(|| vec!["BTC".into(), "ETH".into()])
            .into_iter()
            .map(|c| c.to_ascii_uppercase())
            .collect()
    }
}

/// A secret string: never printed, never in Debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: Secret,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    client_id: String,
    client_secret: String,
}

impl Config {
    /// Parse a configuration file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text)
            .map_err(|e| format!("{origin}: {}", redact_secrets(&e.to_string(), text)))?;
        config.validate().map_err(|e| format!("{origin}: {e}"))?;
        Ok(config)
    }

    /// Every number within what makes sense, the range named when not
    /// (a percent typed where a fraction belongs, a negative time, …).
    fn validate_ranges(&self) -> Result<(), String> {
        const DAY_MS: i64 = 86_400_000;
        let (e, c, k) = (&self.engine, &self.connection, &self.check);
        let wide = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let ints: [(&str, i64, i64, i64); 17] = [
            ("engine.stale_after_ms", e.stale_after_ms, 1, DAY_MS),
            ("engine.clock_step_ms", e.clock_step_ms, 1, 60_000),
            (
                "engine.queue_capacity",
                wide(e.queue_capacity as u64),
                16,
                10_000_000,
            ),
            (
                "engine.equity_divergence_ms",
                e.equity_divergence_ms,
                0,
                DAY_MS,
            ),
            ("engine.mm_divergence_ms", e.mm_divergence_ms, 0, DAY_MS),
            (
                "engine.settlement_resync_delay_ms",
                e.settlement_resync_delay_ms,
                0,
                3_600_000,
            ),
            ("engine.expired_retry_ms", e.expired_retry_ms, 100, DAY_MS),
            // A Deribit message is a few MB at most; 1 GiB bounds the memory.
            (
                "engine.max_line_bytes",
                wide(e.max_line_bytes as u64),
                1024,
                1 << 30,
            ),
            (
                "engine.resync_interval_ms",
                e.resync_interval_ms,
                0,
                7 * DAY_MS,
            ),
            // Deribit's minimum heartbeat is 10 s.
            (
                "connection.heartbeat_interval_s",
                wide(c.heartbeat_interval_s),
                10,
                3_600,
            ),
            (
                "connection.request_timeout_ms",
                wide(c.request_timeout_ms),
                100,
                600_000,
            ),
            (
                "connection.stall_timeout_ms",
                wide(c.stall_timeout_ms),
                100,
                3_600_000,
            ),
            (
                "connection.reconnect_min_ms",
                wide(c.reconnect_min_ms),
                1,
                3_600_000,
            ),
            (
                "connection.reconnect_max_ms",
                wide(c.reconnect_max_ms),
                1,
                3_600_000,
            ),
            (
                "connection.subscribe_chunk",
                wide(c.subscribe_chunk as u64),
                1,
                1_000,
            ),
            (
                "connection.max_requests_per_s",
                i64::from(c.max_requests_per_s),
                1,
                10_000,
            ),
            ("check.timeout_ms", wide(k.timeout_ms), 1, DAY_MS),
        ];
        for (name, v, lo, hi) in ints {
            if !(lo..=hi).contains(&v) {
                return Err(format!("{name} = {v} is outside {lo}..={hi}"));
            }
        }
        let rate = c.clock_rate;
        if !(1.0..=100_000.0).contains(&rate) {
            return Err(format!(
                "connection.clock_rate = {rate} is outside 1..=100000 (exchange seconds per local second)"
            ));
        }
        // Fractions of the margin balance: 1 is liquidation.
        let fractions = [
            ("check.warn_mm_ratio", k.warn_mm_ratio),
            ("check.critical_mm_ratio", k.critical_mm_ratio),
            ("engine.equity_tolerance", e.equity_tolerance),
            ("engine.mm_tolerance", e.mm_tolerance),
        ];
        for (name, v) in fractions {
            if !(v > 0.0 && v <= 1.0) {
                return Err(format!(
                    "{name} = {v} is outside (0, 1]: a fraction (0.5 = 50 %)"
                ));
            }
        }
        Ok(())
    }

    /// The `[[alerts]]` rules, read and checked.
    pub fn alert_rules(&self) -> Result<Vec<crate::alerting::Rule>, String> {
        crate::alerting::parse_rules(&self.alerts)
    }

    fn validate(&self) -> Result<(), String> {
        self.alert_rules()?;
        self.alerting.validate()?;
        self.metrics.address(None)?;
        let mut labels = std::collections::HashSet::new();
        for a in &self.accounts {
            if a.label.trim().is_empty() {
                return Err("an account has an empty label".into());
            }
            if a.label.chars().any(char::is_control) {
                return Err(format!(
                    "account label {:?} holds control characters",
                    a.label
                ));
            }
            if !labels.insert(&a.label) {
                return Err(format!("account label {:?} is used twice", a.label));
            }
            if a.exchange != "deribit" {
                return Err(format!(
                    "account {}: exchange {:?} is not supported (only \"deribit\")",
                    a.label, a.exchange
                ));
            }
            check_url(a.url()).map_err(|e| format!("account {}: {e}", a.label))?;
            if !["auto", "cross", "segregated"].contains(&a.collateral.as_str()) {
                return Err(format!(
                    "account {}: collateral {:?} must be auto, cross or segregated",
                    a.label, a.collateral
                ));
            }
        }
        self.validate_ranges()?;
        self.var.validate()?;
        if let Some(x) = self.check.warn_var_ratio {
            if !(x > 0.0 && x.is_finite()) {
                return Err(format!(
                    "check.warn_var_ratio = {x} must be a positive fraction (0.5 = 50 %)"
                ));
            }
        }
        let (warn, critical) = (self.check.warn_mm_ratio, self.check.critical_mm_ratio);
        if warn > critical {
            return Err(
                "check.warn_mm_ratio must be a number not above check.critical_mm_ratio".into(),
            );
        }
        Ok(())
    }

    /// The user's config file in the platform config directory.
    pub fn user_path() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "margintop")
            .map(|d| d.config_dir().join("config.toml"))
    }

    /// Load `path`, else the user's file if it exists, else the defaults.
    pub fn load(path: Option<&Path>) -> Result<(Config, Option<PathBuf>), String> {
        let path = match path {
            Some(p) => Some(p.to_path_buf()),
            None => Self::user_path().filter(|p| p.exists()),
        };
        match path {
            Some(p) => {
                let text = std::fs::read_to_string(&p)
                    .map_err(|e| format!("cannot read config {}: {e}", p.display()))?;
                Ok((Config::parse(&text, &p.display().to_string())?, Some(p)))
            }
            None => Ok((Config::parse(DEFAULT_CONFIG, "built-in defaults")?, None)),
        }
    }
}

/// The credentials of an account: from the environment or from a file that
/// only its owner can read. `base` resolves a relative credentials_file.
/// Ok(None): the account has none configured (public data only).
pub fn credentials(
    account: &AccountConfig,
    base: Option<&Path>,
) -> Result<Option<Credentials>, String> {
    if let Some(file) = &account.credentials_file {
        let path = match base {
            Some(dir) if file.is_relative() => dir.join(file),
            _ => file.clone(),
        };
        check_private(&path)?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read credentials file {}: {e}", path.display()))?;
        // Do not echo the file's text in errors: it holds the secret.
        let parsed: CredentialsFile = toml::from_str(&text).map_err(|_| {
            format!(
                "credentials file {} must hold client_id = \"…\" and client_secret = \"…\"",
                path.display()
            )
        })?;
        return Ok(Some(Credentials {
            client_id: parsed.client_id,
            client_secret: Secret(parsed.client_secret),
        }));
    }
    match (&account.client_id_env, &account.client_secret_env) {
        (None, None) => Ok(None),
        (Some(id_var), Some(secret_var)) => {
            let get = |var: &str| {
                std::env::var(var).map_err(|_| {
                    format!(
                        "account {}: environment variable {var} is not set",
                        account.label
                    )
                })
            };
            Ok(Some(Credentials {
                client_id: get(id_var)?,
                client_secret: Secret(get(secret_var)?),
            }))
        }
        _ => Err(format!(
            "account {}: set both client_id_env and client_secret_env",
            account.label
        )),
    }
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read credentials file {}: {e}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "credentials file {} can be read by group or others (mode {mode:o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), String> {
    Ok(())
}

/// Keys whose values are secrets, wherever they are written.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["secret", "token", "password", "api_key", "webhook_url"]
        .iter()
        .any(|s| key.contains(s))
}

/// A TOML error quotes the offending line: wherever `text` sets a secret
/// (on a line of its own or inside an inline table), its value never
/// appears in `message`.
fn redact_secrets(message: &str, text: &str) -> String {
    let mut out = message.to_string();
    for part in text.split([',', '{', '}', '\n']) {
        if let Some((key, value)) = part.split_once('=') {
            let bare = value.trim().trim_matches(['"', '\'']);
            if is_secret_key(key.trim()) && bare.len() >= 3 {
                out = out.replace(bare, "<redacted>");
            }
        }
    }
    out
}

/// A WebSocket URL the client can connect to, checked at start so that a
/// typo is reported at once rather than as a failing connection.
fn check_url(url: &str) -> Result<(), String> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    if !(url.starts_with("wss://") || url.starts_with("ws://")) {
        return Err(format!("url {url:?} must start with wss:// or ws://"));
    }
    let request = url
        .into_client_request()
        .map_err(|e| format!("url {url:?} is not a valid WebSocket URL: {e}"))?;
    let uri = request.uri();
    // The URI parser accepts a port it cannot read (and then drops it).
    let authority = uri.authority().map_or("", |a| a.as_str());
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let port = host_port.rsplit_once(':').map(|(_, p)| p);
    if port.is_some_and(|p| !p.contains(']') && p.parse::<u16>().map_or(true, |p| p == 0)) {
        return Err(format!(
            "url {url:?} is not a valid WebSocket URL: the port is not a number in 1..=65535"
        ));
    }
    match uri.host() {
        Some(host) if !host.is_empty() => Ok(()),
        _ => Err(format!("url {url:?} names no host")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_errors_never_echo_a_secret() {
        let planted = "PLANTED-SECRET-1234";
        for text in [
            format!("[[accounts]]\nlabel = \"a\"\nclient_secret = \"{planted}\"\n"),
            format!("[[accounts]]\nlabel = \"a\"\nclient_secret = \"{planted}\nmore"),
            format!("client_id = \"x\"\nclient_secret = \"{planted}\"\n"),
            format!("accounts = [{{ label = \"a\", client_secret = \"{planted}\", bad = 1 }}]\n"),
        ] {
            let e = Config::parse(&text, "t").unwrap_err();
            assert!(!e.contains("PLANTED"), "{e}");
        }
    }

    #[test]
    fn a_webhook_url_is_checked_and_never_shown_whole() {
        let parse = |url: &str| {
            let text = format!("[alerting]\nwebhook_url = \"{url}\"\n");
            Config::parse(&text, "t")
        };
        let ok = parse("https://hooks.example.com/T000/PLANTED").unwrap();
        assert!(!format!("{ok:?}").contains("PLANTED"));
        assert!(parse("http://127.0.0.1:9000/PLANTED").is_ok());
        for bad in [
            "http://hooks.example.com/PLANTED",
            "ftp://hooks.example.com/PLANTED",
            "https:///PLANTED",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("webhook_url") && !e.contains("PLANTED"), "{e}");
        }
        // A TOML error on the line quotes no secret either.
        let e = Config::parse("[alerting]\nwebhook_url = \"https://h/PLANTED\nx", "t").unwrap_err();
        assert!(!e.contains("PLANTED"), "{e}");
        let e = Config::parse("[alerting]\nwebhook_format = \"xml\"\n", "t").unwrap_err();
        assert!(e.contains("json or text"), "{e}");
    }

    #[test]
    fn the_metrics_address_is_the_flags_then_the_configs() {
        let c = Config::parse("[metrics]\nlisten = \"127.0.0.1:9184\"\n", "t").unwrap();
        let addr = |flag| c.metrics.address(flag).unwrap().map(|a| a.to_string());
        assert_eq!(addr(None).as_deref(), Some("127.0.0.1:9184"));
        assert_eq!(addr(Some("[::1]:9000")).as_deref(), Some("[::1]:9000"));
        assert_eq!(MetricsConfig::default().address(None), Ok(None));
        let e = Config::parse("[metrics]\nlisten = \"localhost\"\n", "t").unwrap_err();
        assert!(e.contains("127.0.0.1:9184"), "{e}");
        assert!(Config::parse("[metrics]\nport = 1\n", "t").is_err());
    }

    #[test]
    fn documented_defaults_are_the_code_defaults() {
        assert_eq!(
            Config::parse(DEFAULT_CONFIG, "default.toml").unwrap(),
            Config::default()
        );
    }

    #[test]
    fn numbers_out_of_range_are_refused_with_the_range() {
        let cases = [
            (
                "[check]\nwarn_mm_ratio = 50\n",
                "check.warn_mm_ratio = 50 is outside (0, 1]",
            ),
            (
                "[check]\ncritical_mm_ratio = inf\n",
                "check.critical_mm_ratio = inf",
            ),
            (
                "[check]\nwarn_mm_ratio = nan\n",
                "check.warn_mm_ratio = NaN",
            ),
            (
                "[engine]\nstale_after_ms = -5\n",
                "engine.stale_after_ms = -5 is outside 1..=86400000",
            ),
            (
                "[engine]\nstale_after_ms = 9223372036854775807\n",
                "engine.stale_after_ms = 9223372036854775807 is outside",
            ),
            (
                "[connection]\nheartbeat_interval_s = 5\n",
                "heartbeat_interval_s = 5 is outside 10..=3600",
            ),
            (
                "[engine]\nequity_tolerance = -0.1\n",
                "engine.equity_tolerance = -0.1",
            ),
            ("[var]\nwindow_days = 5\n", "var.window_days = 5 is outside"),
            ("[var]\nnu = 2\n", "var.nu = 2 is outside (2, 1000]"),
            ("[var]\ndistribution = \"cauchy\"\n", "normal or student_t"),
        ];
        for (text, want) in cases {
            let e = Config::parse(text, "t").unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn formats_section_3_example_parses() {
        let text = r#"
[[accounts]]
label = "desk-a"
exchange = "deribit"
url = "wss://www.deribit.com/ws/api/v2"
client_id_env = "DESK_A_CLIENT_ID"
client_secret_env = "DESK_A_CLIENT_SECRET"
currencies = ["BTC", "ETH"]
model = "auto"
subaccounts = false
"#;
        let c = Config::parse(text, "t").unwrap();
        assert_eq!(c.accounts[0].currencies(), vec!["BTC", "ETH"]);
        assert_eq!(c.accounts[0].model, "auto");
    }

    #[test]
    fn bad_configs_say_why() {
        for (text, says) in [
            (
                "[[accounts]]\nlabel = \"a\"\n[[accounts]]\nlabel = \"a\"\n",
                "used twice",
            ),
            (
                "[[accounts]]\nlabel = \"a\"\nexchange = \"okx\"\n",
                "not supported",
            ),
            (
                "[[accounts]]\nlabel = \"a\"\nurl = \"http://x\"\n",
                "wss://",
            ),
            (
                "[[accounts]]\nlabel = \"a\"\nurl = \"wss://\"\n",
                "url \"wss://\"",
            ),
            (
                "[[accounts]]\nlabel = \"a\"\nurl = \"wss://host:99999/ws\"\n",
                "not a valid WebSocket URL",
            ),
            (
                "[[accounts]]\nlabel = \"a\"\nurl = \"wss://de ribit.com\"\n",
                "not a valid WebSocket URL",
            ),
            ("[connection]\nheartbeat_interval_s = 5\n", "10..=3600"),
            ("[engine]\nmax_line_bytes = 100\n", "1024..=1073741824"),
            ("[engine]\nstale_after = 5\n", "unknown field"),
        ] {
            let err = Config::parse(text, "t").unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let c = Credentials {
            client_id: "id".into(),
            client_secret: Secret::new("PLANTED-SECRET"),
        };
        assert!(!format!("{c:?}").contains("PLANTED"));
    }

    #[cfg(unix)]
    #[test]
    fn readable_credentials_files_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("margintop-cred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(
            &path,
            "client_id = \"i\"\nclient_secret = \"PLANTED-SECRET\"\n",
        )
        .unwrap();
        let account = AccountConfig {
            label: "a".into(),
            exchange: "deribit".into(),
            url: None,
            client_id_env: None,
            client_secret_env: None,
            credentials_file: Some(path.clone()),
            currencies: None,
            model: "auto".into(),
            subaccounts: false,
            collateral: "auto".into(),
        };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = credentials(&account, None).unwrap_err();
        assert!(
            err.contains("chmod 600") && !err.contains("PLANTED"),
            "{err}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let c = credentials(&account, None).unwrap().unwrap();
        assert_eq!(c.client_secret.expose(), "PLANTED-SECRET");
        std::fs::write(&path, "client_secret = \"PLANTED-SECRET\"\n").unwrap();
        let err = credentials(&account, None).unwrap_err();
        assert!(!err.contains("PLANTED"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}

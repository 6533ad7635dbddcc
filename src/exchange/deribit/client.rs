//! The Deribit WebSocket client: one connection, kept alive.
//!
//! A connection authenticates (when it has credentials), sets the heartbeat,
//! subscribes (in chunks), takes snapshots of positions and balances, and
//! then forwards every message it sends or receives to the engine as a
//! recording line, so that live data and replay take the same path. On any
//! failure (close, stall, request timeout, rate limit) it reconnects with
//! exponential backoff and jitter, and after a reconnect it authenticates,
//! subscribes and takes the snapshots again: nothing missed while it was
//! away survives as a wrong number.

use super::protocol::{self, Incoming, INVALID_CREDENTIALS, TOO_MANY_REQUESTS};
use crate::config::{ConnectionConfig, Credentials, Secret};
use crate::exchange::feed::{now_ms, Command, Feed, LinkState};
use crate::exchange::recording::{redact, Dir, RecordLine};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep, sleep_until, Instant};
use tokio_tungstenite::tungstenite::Message;

/// What one connection does.
#[derive(Clone, Debug)]
pub struct ConnectionSpec {
    /// Account label (`acct` of its recording lines); "market" for market data.
    pub acct: String,
    pub url: String,
    pub credentials: Option<Credentials>,
    /// Currencies of the account's private data (positions, balances, user channels).
    pub private_currencies: Vec<String>,
    /// Currencies whose instrument lists to fetch (the market connection).
    pub instruments_of: Vec<String>,
    /// Public channels to subscribe from the start.
    pub channels: Vec<String>,
    /// Act as this subaccount (`public/exchange_token` after authenticating).
    pub subject_id: Option<i64>,
    /// Ask for the key's subaccounts (`private/get_subaccounts`) once live.
    pub list_subaccounts: bool,
    pub settings: ConnectionConfig,
}

/// How a session ended.
#[derive(Debug)]
enum End {
    Shutdown,
    Lost(String),
    Unreachable(String),
    AuthFailed(String),
    RateLimited,
}

/// Run a connection until `shutdown` turns true.
pub async fn run(
    spec: ConnectionSpec,
    feed: mpsc::Sender<Feed>,
    mut commands: mpsc::Receiver<Command>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut channels: BTreeSet<String> = spec.channels.iter().cloned().collect();
    let min = Duration::from_millis(spec.settings.reconnect_min_ms.max(1));
    let max = Duration::from_millis(
        spec.settings
            .reconnect_max_ms
            .max(spec.settings.reconnect_min_ms),
    );
    let mut backoff = min;
    let mut jitter = Jitter::new();
    loop {
        if *shutdown.borrow() {
            return;
        }
        link(&feed, &spec.acct, LinkState::Connecting).await;
        let started = Instant::now();
        let end = session(&spec, &feed, &mut commands, &mut channels, &mut shutdown).await;
        let wait = match end {
            End::Shutdown => return,
            End::AuthFailed(why) => {
                link(&feed, &spec.acct, LinkState::AuthFailed(why)).await;
                max
            }
            End::RateLimited => {
                link(
                    &feed,
                    &spec.acct,
                    LinkState::Down("rate limited (10028): waiting for credits".into()),
                )
                .await;
                max.max(Duration::from_secs(1))
            }
            End::Lost(why) => {
                link(&feed, &spec.acct, LinkState::Down(why)).await;
                next_backoff(&mut backoff, min, max, started)
            }
            End::Unreachable(why) => {
                link(&feed, &spec.acct, LinkState::Unreachable(why)).await;
                next_backoff(&mut backoff, min, max, started)
            }
        };
        let wait = jitter.spread(wait);
        tokio::select! {
            _ = sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// The account channels of each currency: its portfolio and its changes.
fn private_channels(currencies: &[String]) -> Vec<String> {
    (currencies.iter())
        .flat_map(|c| {
            [
                format!("user.portfolio.{}", c.to_ascii_lowercase()),
                format!("user.changes.any.{c}.raw"),
            ]
        })
        .collect()
}

/// A summary of a cross-collateral wallet holding something (an empty
/// wallet adds nothing to the account's totals).
fn holds_cross_value(summary: &Value) -> bool {
    let cross = summary
        .get("cross_collateral_enabled")
        .and_then(Value::as_bool)
        == Some(true);
    let some = |k: &str| {
        summary
            .get(k)
            .and_then(Value::as_f64)
            .is_some_and(|v| v != 0.0)
    };
    cross && (some("balance") || some("equity"))
}

/// The wait before reconnecting after a lost session: doubling up to `max`,
/// back to `min` after a session that lived a while.
fn next_backoff(
    backoff: &mut Duration,
    min: Duration,
    max: Duration,
    started: Instant,
) -> Duration {
    if started.elapsed() > Duration::from_secs(30) {
        *backoff = min;
    }
    let wait = *backoff;
    *backoff = (*backoff * 2).min(max);
    wait
}

async fn link(feed: &mpsc::Sender<Feed>, acct: &str, state: LinkState) {
    let _ = feed
        .send(Feed::Link {
            acct: acct.to_string(),
            state,
        })
        .await;
}

/// Why a request was sent, so that its answer can be acted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Auth,
    Refresh,
    /// Switching the session to a subaccount.
    ExchangeToken,
    Setup,
    Subaccounts,
    Test,
    /// A request made once live (re-snapshot, unsubscribe): its answer
    /// reaches the engine like any other, nothing else waits for it.
    Resync,
}

struct Session<'a> {
    spec: &'a ConnectionSpec,
    feed: &'a mpsc::Sender<Feed>,
    next_id: i64,
    pending: HashMap<i64, (Purpose, Instant)>,
    outbox: VecDeque<(String, Value, Purpose)>,
    next_send: Instant,
    send_gap: Duration,
    refresh_token: Option<Secret>,
    refresh_at: Option<Instant>,
    /// Setup requests not answered yet; Live when it reaches zero.
    setup_left: usize,
    /// A re-snapshot was asked for before the connection was live.
    resync_when_live: bool,
    /// Currencies of cross-collateral wallets found beyond the configured ones.
    extra_currencies: BTreeSet<String>,
    /// Setup (with the channel list of that moment) has been queued: later
    /// channels need a subscribe of their own.
    setup_queued: bool,
    ready: bool,
}

async fn session(
    spec: &ConnectionSpec,
    feed: &mpsc::Sender<Feed>,
    commands: &mut mpsc::Receiver<Command>,
    channels: &mut BTreeSet<String>,
    shutdown: &mut watch::Receiver<bool>,
) -> End {
    let timeout = Duration::from_millis(spec.settings.request_timeout_ms);
    let ws =
        match tokio::time::timeout(timeout, tokio_tungstenite::connect_async(spec.url.as_str()))
            .await
        {
            Ok(Ok((ws, _))) => ws,
            Ok(Err(e)) => return End::Unreachable(format!("connect to {} failed: {e}", spec.url)),
            Err(_) => return End::Unreachable(format!("connect to {} timed out", spec.url)),
        };
    let (mut sink, mut stream) = ws.split();
    let mut s = Session {
        spec,
        feed,
        next_id: 1,
        pending: HashMap::new(),
        outbox: VecDeque::new(),
        next_send: Instant::now(),
        send_gap: Duration::from_secs(1) / spec.settings.max_requests_per_s.max(1),
        refresh_token: None,
        refresh_at: None,
        setup_left: 0,
        resync_when_live: false,
        extra_currencies: BTreeSet::new(),
        setup_queued: false,
        ready: false,
    };
    match &spec.credentials {
        Some(c) => s.queue(
            "public/auth",
            json!({"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.client_secret.expose()}),
            Purpose::Auth,
        ),
        None => s.queue_setup(channels),
    }
    let stall = Duration::from_millis(spec.settings.stall_timeout_ms);
    let mut last_rx = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            frame = stream.next() => {
                last_rx = Instant::now();
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                    Some(Ok(Message::Close(_))) | None => return End::Lost("connection closed by the server".into()),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return End::Lost(format!("connection error: {e}")),
                };
                if let Some(end) = s.received(&text, channels).await {
                    return end;
                }
            }
            Some(cmd) = commands.recv() => s.command(cmd, channels),
            _ = sleep_until(s.next_send), if !s.outbox.is_empty() => {
                if let Err(e) = s.send_next(&mut sink).await {
                    return End::Lost(format!("send failed: {e}"));
                }
            }
            _ = tick.tick() => {
                let now = Instant::now();
                if now.duration_since(last_rx) > stall {
                    return End::Lost(format!("no message for {} ms: connection stalled", stall.as_millis()));
                }
                if s.pending.values().any(|(_, sent)| now.duration_since(*sent) > timeout) {
                    return End::Lost(format!("a request had no answer within {} ms", timeout.as_millis()));
                }
                if s.refresh_at.is_some_and(|at| now >= at) {
                    s.refresh_at = None;
                    if let Some(token) = s.refresh_token.clone() {
                        s.queue("public/auth", json!({"grant_type": "refresh_token", "refresh_token": token.expose()}), Purpose::Refresh);
                    }
                }
            }
            _ = shutdown.changed() => {
                let _ = sink.send(Message::Close(None)).await;
                return End::Shutdown;
            }
        }
    }
}

impl Session<'_> {
    fn queue(&mut self, method: &str, params: Value, purpose: Purpose) {
        if !self.ready && matches!(purpose, Purpose::Setup | Purpose::Subaccounts) {
            self.setup_left += 1;
        }
        let item = (method.to_string(), params, purpose);
        // Heartbeat answers and authentication go first: the server waits for them.
        match purpose {
            Purpose::Test | Purpose::Auth | Purpose::Refresh | Purpose::ExchangeToken => {
                self.outbox.push_front(item)
            }
            Purpose::Setup | Purpose::Subaccounts | Purpose::Resync => self.outbox.push_back(item),
        }
    }

    fn command(&mut self, cmd: Command, channels: &mut BTreeSet<String>) {
        match cmd {
            Command::Subscribe(list) => {
                let new: Vec<String> = (list.into_iter())
                    .filter(|c| channels.insert(c.clone()))
                    .collect();
                if self.setup_queued && !new.is_empty() {
                    self.queue_subscribe("public/subscribe", new, Purpose::Setup);
                }
            }
            Command::Unsubscribe(list) => {
                let gone: Vec<String> = list.into_iter().filter(|c| channels.remove(c)).collect();
                if self.setup_queued && !gone.is_empty() {
                    self.queue_subscribe("public/unsubscribe", gone, Purpose::Resync);
                }
            }
            Command::Resync if self.ready => self.queue_snapshots(Purpose::Resync),
            // Setup's own snapshots may already be answered: take them again
            // once live, or an expiry during setup would go unnoticed.
            Command::Resync => self.resync_when_live = true,
        }
    }

    /// Positions and account summary of every currency, and the subaccount
    /// list when this key's subaccounts are watched.
    fn queue_snapshots(&mut self, purpose: Purpose) {
        let spec = self.spec;
        // Every currency at once, first: a cross-collateral account's wallets
        // in currencies not configured (their value backs its positions).
        if !spec.private_currencies.is_empty() {
            let params = json!({"extended": true});
            self.queue("private/get_account_summaries", params, purpose);
        }
        for c in &self.extra_currencies.clone() {
            self.queue("private/get_positions", json!({ "currency": c }), purpose);
        }
        for c in &spec.private_currencies {
            self.queue("private/get_positions", json!({ "currency": c }), purpose);
            self.queue(
                "private/get_account_summary",
                json!({"currency": c, "extended": true}),
                purpose,
            );
        }
        if spec.list_subaccounts {
            self.queue("private/get_subaccounts", json!({}), Purpose::Subaccounts);
        }
    }

    fn queue_subscribe(&mut self, method: &str, list: Vec<String>, purpose: Purpose) {
        for chunk in list.chunks(self.spec.settings.subscribe_chunk.max(1)) {
            self.queue(method, json!({ "channels": chunk }), purpose);
        }
    }

    /// Everything after authentication: heartbeat, subscriptions first (so
    /// that no change falls between snapshot and stream), then snapshots.
    fn queue_setup(&mut self, channels: &BTreeSet<String>) {
        let spec = self.spec;
        self.setup_queued = true;
        self.queue(
            "public/set_heartbeat",
            json!({"interval": spec.settings.heartbeat_interval_s}),
            Purpose::Setup,
        );
        let private = private_channels(&spec.private_currencies);
        if !private.is_empty() {
            self.queue_subscribe("private/subscribe", private, Purpose::Setup);
        }
        if !channels.is_empty() {
            self.queue_subscribe(
                "public/subscribe",
                channels.iter().cloned().collect(),
                Purpose::Setup,
            );
        }
        for c in &spec.instruments_of {
            self.queue(
                "public/get_instruments",
                json!({"currency": c, "expired": false}),
                Purpose::Setup,
            );
        }
        self.queue_snapshots(Purpose::Setup);
    }

    async fn send_next<S>(&mut self, sink: &mut S) -> Result<(), String>
    where
        S: futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
    {
        let Some((method, params, purpose)) = self.outbox.pop_front() else {
            return Ok(());
        };
        let id = self.next_id;
        self.next_id += 1;
        let msg = protocol::request(id, &method, params);
        sink.send(Message::text(msg.to_string()))
            .await
            .map_err(|e| e.to_string())?;
        self.pending.insert(id, (purpose, Instant::now()));
        self.next_send = Instant::now() + self.send_gap;
        self.forward(Dir::Out, msg).await;
        Ok(())
    }

    /// Forward a message to the engine, secrets redacted.
    async fn forward(&self, dir: Dir, mut msg: Value) {
        redact(&mut msg);
        let line = RecordLine {
            t: now_ms(),
            dir,
            acct: self.spec.acct.clone(),
            msg,
        };
        let _ = self.feed.send(Feed::Line(line)).await;
    }

    async fn received(&mut self, text: &str, channels: &BTreeSet<String>) -> Option<End> {
        let Ok(msg) = serde_json::from_str::<Value>(text) else {
            let _ = self
                .feed
                .send(Feed::Garbage {
                    acct: self.spec.acct.clone(),
                })
                .await;
            return None;
        };
        let incoming = protocol::classify(&msg);
        let end = match &incoming {
            Incoming::TestRequest => {
                self.queue("public/test", json!({}), Purpose::Test);
                None
            }
            Incoming::Response { id, result } => self.answered(*id, result, channels).await,
            Incoming::OrphanError(e) if e.code == TOO_MANY_REQUESTS => Some(End::RateLimited),
            _ => None,
        };
        self.forward(Dir::In, msg).await;
        end
    }

    /// One more setup answer; the last one makes the connection live. The
    /// subaccount list is part of setup, so that a check waiting for every
    /// live connection also waits for the subaccounts' own.
    async fn setup_answered(&mut self) {
        self.setup_left = self.setup_left.saturating_sub(1);
        if self.setup_left == 0 && !self.ready {
            self.ready = true;
            link(self.feed, &self.spec.acct, LinkState::Live).await;
            if std::mem::take(&mut self.resync_when_live) {
                self.queue_snapshots(Purpose::Resync);
            }
        }
    }

    async fn answered(
        &mut self,
        id: i64,
        result: &Result<Value, protocol::RpcError>,
        channels: &BTreeSet<String>,
    ) -> Option<End> {
        // Unknown or duplicate ids are ignored: the engine still sees the message.
        let (purpose, _) = self.pending.remove(&id)?;
        if let Err(e) = result {
            if e.code == TOO_MANY_REQUESTS {
                return Some(End::RateLimited);
            }
            // A refused request about one currency (13009 unauthorized,
            // 13021 forbidden, -32602) is that currency's problem: the engine
            // shows it on the currency's row; the other currencies go on.
            let auth = matches!(
                purpose,
                Purpose::Auth | Purpose::Refresh | Purpose::ExchangeToken
            );
            if auth || e.code == INVALID_CREDENTIALS {
                return Some(End::AuthFailed(format!("{} ({})", e.message, e.code)));
            }
        }
        match purpose {
            Purpose::Auth | Purpose::Refresh | Purpose::ExchangeToken => {
                let r = result.as_ref().ok()?;
                self.refresh_token = r
                    .get("refresh_token")
                    .and_then(Value::as_str)
                    .map(Secret::new);
                let scope = r.get("scope").and_then(Value::as_str).unwrap_or("");
                if let Some(text) = scope_warning(scope) {
                    let notice = Feed::Notice {
                        acct: self.spec.acct.clone(),
                        text,
                    };
                    let _ = self.feed.send(notice).await;
                }
                // Refresh at 80 % of the token's life (Deribit gives seconds).
                if let Some(secs) = r.get("expires_in").and_then(Value::as_f64) {
                    self.refresh_at = Some(Instant::now() + token_refresh_after(secs));
                }
                match (purpose, self.spec.subject_id, &self.refresh_token) {
                    (Purpose::Auth, Some(subject), Some(token)) => {
                        let params =
                            json!({"refresh_token": token.expose(), "subject_id": subject});
                        self.queue("public/exchange_token", params, Purpose::ExchangeToken);
                    }
                    (Purpose::Auth, None, _) | (Purpose::ExchangeToken, _, _) => {
                        self.queue_setup(channels)
                    }
                    (Purpose::Auth, Some(_), None) => {
                        return Some(End::AuthFailed(
                            "no refresh token to switch to the subaccount".into(),
                        ));
                    }
                    _ => {}
                }
            }
            Purpose::Setup => {
                self.watch_cross_wallets(result, purpose);
                self.setup_answered().await
            }
            Purpose::Resync => self.watch_cross_wallets(result, purpose),
            Purpose::Subaccounts => {
                let acct = self.spec.acct.clone();
                let list = result.as_ref().ok().and_then(Value::as_array);
                let Some(list) = list else {
                    let text =
                        "could not list the key's subaccounts (does it have subaccount rights?)"
                            .into();
                    let _ = self.feed.send(Feed::Notice { acct, text }).await;
                    self.setup_answered().await;
                    return None;
                };
                self.send_subaccounts(list).await;
                self.setup_answered().await;
            }
            Purpose::Test => {}
        }
        None
    }
}

impl Session<'_> {
    /// A cross-collateral account's wallets that hold value in currencies
    /// not configured (from an all-currencies summary): their positions are
    /// taken and their changes followed too, so that the account's totals
    /// are complete.
    fn watch_cross_wallets(
        &mut self,
        result: &Result<Value, protocol::RpcError>,
        purpose: Purpose,
    ) {
        let summaries = result.as_ref().ok().and_then(|r| r.get("summaries"));
        let Some(list) = summaries.and_then(Value::as_array) else {
            return;
        };
        let mut new = Vec::new();
        for s in list.iter().filter(|s| holds_cross_value(s)) {
            let Some(c) = s.get("currency").and_then(Value::as_str) else {
                continue;
            };
            let c = c.to_ascii_uppercase();
            if !self.spec.private_currencies.contains(&c) && self.extra_currencies.insert(c.clone())
            {
                new.push(c);
            }
        }
        for c in &new {
            self.queue("private/get_positions", json!({ "currency": c }), purpose);
        }
        if !new.is_empty() {
            self.queue_subscribe("private/subscribe", private_channels(&new), purpose);
        }
    }

    /// Tell the engine which subaccounts the key lists now.
    async fn send_subaccounts(&self, list: &[Value]) {
        let subaccounts = list
            .iter()
            .filter(|s| s.get("type").and_then(Value::as_str) != Some("main"))
            .filter_map(|s| {
                Some((
                    s.get("id")?.as_i64()?,
                    s.get("username")?.as_str()?.to_string(),
                ))
            })
            .collect();
        let acct = self.spec.acct.clone();
        let _ = self
            .feed
            .send(Feed::Subaccounts { acct, subaccounts })
            .await;
    }
}

/// When to refresh a token that lives `expires_in` seconds (80 % of its
/// life), bounded: the number comes from the server (1e300 must not panic).
fn token_refresh_after(expires_in: f64) -> Duration {
    const MAX_S: f64 = 30.0 * 86_400.0;
    let secs = if expires_in.is_finite() {
        expires_in * 0.8
    } else {
        MAX_S
    };
    Duration::from_secs_f64(secs.clamp(1.0, MAX_S))
}

/// margintop only reads: a key that can trade or move funds is more power
/// than it needs, and the user should know. Deribit scopes look like
/// `trade:read_write wallet:read_write account:read`.
pub fn scope_warning(scope: &str) -> Option<String> {
    let risky: Vec<&str> = scope
        .split_whitespace()
        .filter(|s| {
            let (area, access) = s.split_once(':').unwrap_or((s, ""));
            access.contains("write")
                && matches!(area, "trade" | "wallet" | "block_trade" | "account")
        })
        .collect();
    (!risky.is_empty()).then(|| {
        format!(
            "API key has {} scope; margintop needs read scope only — consider a read-only key",
            risky.join(" ")
        )
    })
}

/// Spreads retry waits over ±25 % so that many connections do not retry in
/// step. A tiny xorshift: the jitter needs no cryptographic quality.
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        Jitter((now_ms() as u64) | 1)
    }

    fn spread(&mut self, d: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let f = 0.75 + (self.0 % 1000) as f64 / 2000.0;
        d.mul_f64(f)
    }
}

#[cfg(test)]
mod tests {
    use super::{scope_warning, token_refresh_after};
    use std::time::Duration;

    #[test]
    fn token_lifetimes_from_the_server_are_bounded() {
        assert_eq!(token_refresh_after(900.0), Duration::from_secs(720));
        assert_eq!(token_refresh_after(0.0), Duration::from_secs(1));
        assert_eq!(token_refresh_after(-5.0), Duration::from_secs(1));
        for huge in [1e300, 1.9e19, f64::INFINITY, f64::NAN] {
            assert_eq!(token_refresh_after(huge), Duration::from_secs(30 * 86_400));
        }
    }

    #[test]
    fn read_only_scopes_pass_and_write_scopes_warn() {
        assert_eq!(scope_warning("connection mainaccount"), None);
        assert_eq!(scope_warning("account:read trade:read wallet:read"), None);
        let w = scope_warning("account:read trade:read_write wallet:read_write").unwrap();
        assert!(
            w.contains("trade:read_write") && w.contains("wallet:read_write"),
            "{w}"
        );
    }
}

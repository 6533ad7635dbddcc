//! The engine task: sole owner of the desk. It drains what the connections
//! send, applies it, asks the market connection for the instruments that
//! accounts hold, records if asked, and publishes an `Arc<Snapshot>` on a
//! watch channel after each batch (a burst of ticks collapses into one).

use super::desk::{Leg, Matrix};
use super::ingest::{describe_refusals, Ingest, Refusal};
use super::resync::{Resync, ResyncTiming};
use super::tracking::{MmTracking, Pair, Tracker};
use super::AccountId;
use crate::exchange::feed::{now_ms, Command, Feed, LinkState};
use crate::exchange::recording::Recorder;
use crate::margin::account::AccountRisk;
use crate::margin::cross::{exchange_totals, usd_rate};
use crate::margin::inputs::AccountInputs;
use crate::model::{Collateral, ExchangeFigures, Position};
use crate::report::{time_of_day_utc, Health, Thresholds};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

/// Most feed items applied before a snapshot is published.
const BATCH: usize = 4096;

/// An account's risk and book, rebuilt only when it changed.
#[derive(Clone, Debug)]
pub struct AccountBook {
    pub label: String,
    /// The exchange whose protocol the account's data came in (Deribit's,
    /// for the live, demo and replay paths alike).
    pub exchange_name: &'static str,
    pub currency: String,
    pub model: String,
    pub risk: AccountRisk,
    pub positions: Vec<Position>,
    pub exchange: ExchangeFigures,
    /// A balance, a positions snapshot, and a price for every position.
    pub complete: bool,
    pub greeks: BookGreeks,
    /// Each position valued now (Greeks, mark).
    pub legs: Vec<Leg>,
    /// The risk matrix's standard table on the main index (risk-matrix models only).
    pub matrix: Option<Matrix>,
    /// The same on every other index the book holds (multi-index accounts).
    pub other_matrices: Vec<Matrix>,
    /// Greeks of each index the book holds, main index first.
    pub greeks_by_index: Vec<IndexGreeks>,
    /// Local time of the oldest input (held instruments' quotes, else account data).
    pub inputs_t: Option<i64>,
    /// The main index of the book and its price (None without positions).
    pub index: Option<(String, f64)>,
    /// USD per unit of the account currency (None without positions).
    pub usd_per_unit: Option<f64>,
    /// Requests about this account the exchange refused: (method, error).
    pub refused: Vec<(String, Refusal)>,
    /// Why its numbers are not fully known: a rejected value on something
    /// it holds, an unreadable answer, a missing summary or snapshot.
    pub unknown: Option<String>,
    pub has_balance: bool,
    pub has_positions: bool,
}

impl AccountBook {
    /// What the exchange refused about this account, in words.
    pub fn error(&self) -> Option<String> {
        describe_refusals(self.refused.iter().map(|(m, r)| (m, r)))
    }

    /// Local equity minus the exchange's (None until it sent one).
    pub fn equity_gap(&self) -> Option<f64> {
        let gap = self.risk.equity - self.exchange.equity?;
        gap.is_finite().then_some(gap)
    }
}

/// A question to the engine, answered between batches from its state.
#[derive(Debug)]
pub enum Query {
    /// A copy of one account's inputs, with the instruments in `extra` too
    /// (a what-if); the engine subscribes to their tickers if it had not.
    Inputs {
        label: String,
        currency: String,
        extra: Vec<String>,
        reply: oneshot::Sender<Option<AccountInputs>>,
    },
    /// Every instrument the engine knows, sorted.
    Instruments { reply: oneshot::Sender<Vec<String>> },
    /// The inputs of every wallet of a cross-collateral account.
    Wallets {
        label: String,
        reply: oneshot::Sender<Vec<AccountInputs>>,
    },
    /// Every account and its market, for VaR and ES.
    Var {
        reply: oneshot::Sender<crate::risk::DeskInputs>,
    },
}

/// Account Greeks in Deribit's units (delta_total in coin, gamma per USD,
/// vega USD per vol point, theta USD per day). With positions on several
/// indices the coin figures add different coins: `delta_usd` is the sum
/// that means something, and `IndexGreeks` the parts.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BookGreeks {
    pub delta_total: f64,
    pub gamma: f64,
    pub vega: f64,
    pub theta: f64,
    /// Σ over indices of delta_total × index price.
    pub delta_usd: f64,
}

/// The Greeks of the positions on one index.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IndexGreeks {
    pub index_name: String,
    pub index_price: f64,
    /// Net-transaction delta in the index's coin.
    pub delta_total: f64,
    pub gamma: f64,
    pub vega: f64,
    pub theta: f64,
}

impl IndexGreeks {
    fn of(s: &crate::margin::book::IndexSums) -> IndexGreeks {
        IndexGreeks {
            index_name: s.index_name.clone(),
            index_price: s.index_price,
            delta_total: s.net_delta,
            gamma: s.gamma,
            vega: s.vega,
            theta: s.theta,
        }
    }
}

/// One account as every screen and `check` see it: its book (shared
/// between snapshots while unchanged) and how current it is.
#[derive(Clone, Debug)]
pub struct AccountSnapshot {
    pub book: Arc<AccountBook>,
    pub data_age_ms: Option<i64>,
    /// Disconnected, or data older than the limit: never shown as current.
    pub stale: bool,
    /// Why the account is stale or incomplete, in words (None when current).
    pub stale_reason: Option<String>,
    /// Local equity has differed from the exchange's beyond the tolerance
    /// for longer than the allowed time.
    pub equity_divergence: Option<Divergence>,
    /// Local maintenance margin against the exchange's since start (a
    /// cross account's: its USD totals), None before the first report.
    pub mm_tracking: Option<MmTracking>,
    /// The MM gap (a share, `tracking::gap_share`) has exceeded the
    /// tolerance for longer than the allowed time.
    pub mm_divergence: Option<Divergence>,
    /// The totals of the cross-collateral account this wallet belongs to:
    /// its health is the account's, not the wallet's.
    pub cross: Option<CrossView>,
}

/// A cross-collateral account's totals in USD, from its wallets' figures
/// at their USD rates (docs/report.md; `report` adds stress and
/// liquidation with the collateral revalued).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CrossView {
    pub equity_usd: f64,
    pub margin_balance_usd: f64,
    pub maintenance_margin_usd: f64,
    pub initial_margin_usd: f64,
    /// Every wallet complete, current and with a USD rate.
    pub complete: bool,
    pub stale: bool,
    pub refused: bool,
    /// The account's wallets, in the desk's order.
    pub wallets: Vec<CrossWallet>,
    /// The wallet whose row stands for the account on the desk: the one
    /// with the largest requirement (the first, if none has any).
    pub primary: String,
    /// The exchange's totals (`total_*_usd`) from its newest summary.
    pub exchange: Option<crate::model::UsdTotals>,
}

/// One wallet of a cross account, as the collateral panel shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CrossWallet {
    pub currency: String,
    pub balance: f64,
    pub equity: f64,
    /// USD per unit, and where it comes from (index, exchange, par).
    pub usd_rate: Option<f64>,
    pub rate_source: &'static str,
    pub haircut: f64,
    pub collateral_usd: Option<f64>,
    pub maintenance_margin_usd: Option<f64>,
}

impl CrossView {
    /// What the account is judged on: the local totals when complete, else
    /// the exchange's; None when neither is known.
    pub fn judged(&self) -> Option<crate::model::UsdTotals> {
        match (self.complete, self.exchange) {
            (true, _) => Some(crate::model::UsdTotals {
                margin_balance: self.margin_balance_usd,
                equity: self.equity_usd,
                initial_margin: self.initial_margin_usd,
                maintenance_margin: self.maintenance_margin_usd,
            }),
            (false, exchange) => exchange,
        }
    }

    pub fn mm_ratio(&self) -> Option<f64> {
        crate::margin::cross::ratio(self.maintenance_margin_usd, self.margin_balance_usd)
    }
}

/// What a comparison of maintenance margins is kept under: a wallet, or
/// a cross account (its USD totals, whichever wallet stands for it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Tracked {
    Wallet(AccountId),
    Cross(String),
}

/// The local and the exchange's maintenance margin of a current account,
/// when the exchange has reported one: a cross account's USD totals (on
/// the wallet standing for it), else the wallet's own.
fn mm_pair(v: &AccountSnapshot) -> Option<Pair> {
    let current = match &v.cross {
        Some(c) => c.complete && !c.stale,
        None => v.complete,
    };
    if !current || v.stale || v.folded_into_cross() {
        return None;
    }
    let (local, exchange) = match &v.cross {
        Some(c) => (c.maintenance_margin_usd, c.exchange?.maintenance_margin),
        None => (
            v.risk.margin.maintenance_margin,
            v.exchange.maintenance_margin?,
        ),
    };
    Some(Pair {
        local,
        exchange,
        as_of: v.exchange.as_of,
    })
}

/// A lasting difference between the local and the exchange's equity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Divergence {
    /// Local minus exchange: equity in the account's currency, maintenance
    /// margin as a share of the larger of the two.
    pub gap: f64,
    /// Local time since which it has exceeded the tolerance.
    pub since: i64,
}

impl AccountSnapshot {
    /// A cross-collateral wallet that does not stand for its account on
    /// the desk (the account has one row: its primary wallet's).
    pub fn folded_into_cross(&self) -> bool {
        self.cross
            .as_ref()
            .is_some_and(|c| c.primary != self.currency)
    }

    /// USD amounts of the row: a cross account's totals, else the
    /// wallet's (equity, MM, headroom) at its index.
    pub fn usd_figures(&self) -> Option<(f64, f64, f64)> {
        if let Some(c) = &self.cross {
            let headroom = c.margin_balance_usd - c.maintenance_margin_usd;
            return Some((c.equity_usd, c.maintenance_margin_usd, headroom));
        }
        let u = self.usd_per_unit?;
        let r = &self.risk;
        Some((
            r.equity * u,
            r.margin.maintenance_margin * u,
            r.headroom * u,
        ))
    }

    /// The mm_ratio the account is judged on: a cross-collateral wallet's
    /// is its account's total, not its own.
    pub fn judged_mm_ratio(&self) -> Option<f64> {
        match &self.cross {
            Some(c) => c.judged().and_then(|t| t.mm_ratio()),
            None => self.risk.mm_ratio,
        }
    }

    /// The im_ratio the account is judged on (a cross wallet's: its
    /// account's total IM over its total margin balance).
    pub fn judged_im_ratio(&self) -> Option<f64> {
        match &self.cross {
            Some(c) => c.judged().and_then(|t| {
                (t.margin_balance > 0.0).then(|| t.initial_margin / t.margin_balance)
            }),
            None => self.risk.im_ratio,
        }
    }

    /// The account's health as every screen and `check` show it: an
    /// account the exchange refused to describe is in error, whatever else.
    pub fn key(&self) -> crate::model::AccountKey {
        crate::model::AccountKey::new(&self.label, &self.currency)
    }

    /// Is this the account `key` names?
    pub fn is(&self, key: &crate::model::AccountKey) -> bool {
        self.label == key.label && self.currency == key.currency
    }

    pub fn health(&self, t: &Thresholds) -> Health {
        crate::report::verdict(self.standing(), t)
    }

    /// What the health is judged on: a cross account's totals (local, or
    /// the exchange's while the local ones are incomplete), else the book's.
    pub fn standing(&self) -> crate::report::Standing {
        match &self.cross {
            Some(c) => crate::report::Standing {
                refused: c.refused,
                stale: c.stale,
                judged: c.judged().map(|j| (j.maintenance_margin, j.mm_ratio())),
            },
            None => crate::report::Standing {
                refused: !self.refused.is_empty(),
                stale: self.stale,
                judged: (self.complete)
                    .then_some((self.risk.margin.maintenance_margin, self.risk.mm_ratio)),
            },
        }
    }
}

#[cfg(test)]
impl AccountSnapshot {
    /// A complete, current-or-stale account of `risk` for unit tests.
    pub fn for_test(
        label: &str,
        currency: &str,
        risk: AccountRisk,
        stale: bool,
    ) -> AccountSnapshot {
        AccountSnapshot {
            book: Arc::new(AccountBook {
                label: label.into(),
                exchange_name: "deribit",
                currency: currency.into(),
                model: "deribit_pm".into(),
                risk,
                positions: Vec::new(),
                exchange: Default::default(),
                complete: true,
                greeks: Default::default(),
                legs: Vec::new(),
                matrix: None,
                other_matrices: Vec::new(),
                greeks_by_index: Vec::new(),
                inputs_t: None,
                index: None,
                usd_per_unit: None,
                refused: Vec::new(),
                unknown: None,
                has_balance: true,
                has_positions: true,
            }),
            data_age_ms: None,
            stale,
            stale_reason: None,
            equity_divergence: None,
            mm_tracking: None,
            mm_divergence: None,
            cross: None,
        }
    }
}

impl std::ops::Deref for AccountSnapshot {
    type Target = AccountBook;
    fn deref(&self) -> &AccountBook {
        &self.book
    }
}

/// What the engine publishes.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Local clock when published, epoch ms.
    pub as_of: i64,
    /// Pricing clock (exchange time), epoch ms.
    pub pricing_ms: i64,
    pub accounts: Vec<AccountSnapshot>,
    pub links: BTreeMap<String, LinkState>,
    pub messages: u64,
    /// Subscription notifications among `messages` (market and account data).
    pub notifications: u64,
    pub garbage: u64,
    /// Problems with the input (unreadable messages by kind).
    pub warnings: Vec<String>,
    /// Every index price, by index name.
    pub indices: BTreeMap<String, f64>,
    /// Why the recording stopped (disk full, …), when it did.
    pub recording_error: Option<String>,
    /// The engine's own figures (queue, build times, reconnects).
    pub stats: super::stats::EngineStats,
}

/// Subaccounts to start or stop watching, as their parent's key lists them.
#[derive(Debug)]
pub enum SpawnRequest {
    Start {
        parent: String,
        /// `parent/username`: the subaccount's label everywhere.
        label: String,
        subject_id: i64,
        /// What the engine asks of the subaccount's connection (re-snapshots).
        commands: mpsc::Receiver<Command>,
    },
    /// The subaccount is no longer listed: close its connection.
    Stop { label: String },
}

pub struct EngineSettings {
    pub stale_after_ms: i64,
    /// Measure data age on the recording's clock (replay) instead of the local one.
    pub recording_clock: bool,
    /// The market-data connection (its `acct` label) that serves each account.
    pub market_of: HashMap<String, String>,
    /// Local and exchange equity may differ by this fraction of the larger
    /// of the exchange's equity and the local maintenance margin ...
    pub equity_tolerance: f64,
    /// ... for this long before the difference is shown and alerted.
    pub equity_divergence_ms: i64,
    /// Local and exchange maintenance margin may differ by this share of
    /// the larger of the two ...
    pub mm_tolerance: f64,
    /// ... for this long before the difference is shown and alerted.
    pub mm_divergence_ms: i64,
    pub resync: ResyncTiming,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            stale_after_ms: 10_000,
            recording_clock: false,
            market_of: HashMap::new(),
            equity_tolerance: 0.005,
            equity_divergence_ms: 30_000,
            mm_tolerance: 0.05,
            mm_divergence_ms: 60_000,
            resync: ResyncTiming::default(),
        }
    }
}

/// The engine's state between batches.
pub struct Engine<W: Write> {
    pub ingest: Ingest,
    settings: EngineSettings,
    links: BTreeMap<String, LinkState>,
    /// Channels asked of each market connection.
    subscribed: HashSet<(String, String)>,
    /// Market connections by their `acct` label.
    markets: HashMap<String, mpsc::Sender<Command>>,
    recorder: Option<Recorder<W>>,
    /// Each account's book as of its last change.
    books: Vec<Arc<AccountBook>>,
    messages: u64,
    notifications: u64,
    garbage: u64,
    /// Connection notices, once each.
    notices: Vec<String>,
    /// Where subaccounts to watch are sent (the monitor starts their connections).
    spawner: Option<mpsc::UnboundedSender<SpawnRequest>>,
    /// Questions from the screens (taken by `run`).
    queries: Option<mpsc::Receiver<Query>>,
    /// Private connections by account label (re-snapshot requests).
    privates: HashMap<String, mpsc::Sender<Command>>,
    resync: Resync,
    /// Accounts whose equity differs from the exchange's, since when (local).
    diverging: HashMap<AccountId, i64>,
    /// Local against exchange maintenance margin, per wallet or cross account.
    mm: Tracker<Tracked>,
    /// Subaccount labels started for each parent.
    children: HashMap<String, BTreeSet<String>>,
    /// Subaccounts no longer listed: their rows are gone from snapshots.
    removed: HashSet<String>,
    /// Expired instruments' channels, unsubscribed for good.
    retired: HashSet<(String, String)>,
    /// Local time at which re-snapshot schedules are next looked at.
    next_resync_check: i64,
    recording_error: Option<String>,
    /// Snapshot build times and link connections so far (`run` adds the queue).
    stats: super::stats::EngineStats,
}

impl<W: Write> Engine<W> {
    pub fn new(
        ingest: Ingest,
        settings: EngineSettings,
        markets: HashMap<String, mpsc::Sender<Command>>,
        recorder: Option<Recorder<W>>,
    ) -> Engine<W> {
        Engine {
            ingest,
            resync: Resync::new(settings.resync),
            settings,
            links: BTreeMap::new(),
            subscribed: HashSet::new(),
            markets,
            recorder,
            books: Vec::new(),
            messages: 0,
            notifications: 0,
            garbage: 0,
            notices: Vec::new(),
            spawner: None,
            queries: None,
            privates: HashMap::new(),
            diverging: HashMap::new(),
            mm: Tracker::default(),
            children: HashMap::new(),
            removed: HashSet::new(),
            retired: HashSet::new(),
            next_resync_check: 0,
            recording_error: None,
            stats: Default::default(),
        }
    }

    /// Ask these private connections (by account label) for re-snapshots.
    pub fn with_privates(mut self, privates: HashMap<String, mpsc::Sender<Command>>) -> Self {
        self.privates = privates;
        self
    }

    /// Answer the questions sent on `queries` (see `Query`).
    pub fn with_queries(mut self, queries: mpsc::Receiver<Query>) -> Self {
        self.queries = Some(queries);
        self
    }

    /// Answer one question. A gone asker is not an error.
    pub fn answer(&mut self, query: Query) {
        match query {
            Query::Inputs {
                label,
                currency,
                extra,
                reply,
            } => {
                let desk = &self.ingest.desk;
                let inputs = desk
                    .find_account(&label, &currency)
                    .map(|id| desk.inputs(id, &extra));
                self.subscribe(&label, extra.iter().map(|i| format!("ticker.{i}.100ms")));
                let _ = reply.send(inputs);
            }
            Query::Instruments { reply } => {
                let _ = reply.send(self.ingest.desk.instrument_names());
            }
            Query::Wallets { label, reply } => {
                let desk = &self.ingest.desk;
                let wallets = (0..desk.account_count())
                    .filter(|&id| {
                        let a = desk.account(id);
                        a.label == label && a.collateral == Collateral::Cross
                    })
                    .map(|id| desk.inputs(id, &[]))
                    .collect();
                let _ = reply.send(wallets);
            }
            Query::Var { reply } => {
                let _ = reply.send(self.ingest.desk.var_inputs());
            }
        }
    }

    /// Ask the market connection of `label` for the channels it lacks.
    fn subscribe(&mut self, label: &str, channels: impl Iterator<Item = String>) {
        let Some(market) = self.settings.market_of.get(label) else {
            return;
        };
        let wanted: Vec<String> = channels
            .filter(|ch| self.subscribed.insert((market.clone(), ch.clone())))
            .collect();
        if let (false, Some(tx)) = (wanted.is_empty(), self.markets.get(market)) {
            let _ = tx.try_send(Command::Subscribe(wanted));
        }
    }

    /// Send subaccounts found by a connection to `spawner`.
    pub fn with_spawner(mut self, spawner: mpsc::UnboundedSender<SpawnRequest>) -> Self {
        self.spawner = Some(spawner);
        self
    }

    /// Watch the subaccounts of `parent` as `parent/username`: those newly
    /// listed are started, those no longer listed are stopped and leave the
    /// desk (the list is asked again at every re-snapshot).
    fn subaccounts(&mut self, parent: &str, list: Vec<(i64, String)>) {
        let Some(spawner) = self.spawner.clone() else {
            return;
        };
        let listed: BTreeSet<String> = (list.iter())
            .map(|(_, u)| format!("{parent}/{u}"))
            .collect();
        let known = self.children.entry(parent.to_string()).or_default();
        let gone: Vec<String> = known.difference(&listed).cloned().collect();
        *known = listed;
        for label in gone {
            self.drop_subaccount(&label);
            let _ = spawner.send(SpawnRequest::Stop { label });
        }
        for (subject_id, username) in list {
            let label = format!("{parent}/{username}");
            if self.privates.contains_key(&label) {
                continue;
            }
            if let Some(market) = self.settings.market_of.get(parent).cloned() {
                self.settings.market_of.insert(label.clone(), market);
            }
            if let Some(model) = self.ingest.label_models.get(parent).cloned() {
                self.ingest.label_models.insert(label.clone(), model);
            }
            if let Some(c) = self.ingest.label_collateral.get(parent).copied() {
                self.ingest.label_collateral.insert(label.clone(), c);
            }
            self.removed.remove(&label);
            self.links.insert(label.clone(), LinkState::Connecting);
            let (tx, commands) = mpsc::channel(16);
            self.privates.insert(label.clone(), tx);
            let _ = spawner.send(SpawnRequest::Start {
                parent: parent.to_string(),
                label,
                subject_id,
                commands,
            });
        }
    }

    /// A subaccount left its parent's list: its rows and link disappear and
    /// its positions no longer hold subscriptions.
    fn drop_subaccount(&mut self, label: &str) {
        self.privates.remove(label);
        self.links.remove(label);
        self.resync.forget(label);
        self.removed.insert(label.to_string());
        let desk = &mut self.ingest.desk;
        for id in 0..desk.account_count() {
            if desk.account(id).label == label {
                desk.replace_positions(id, Vec::new());
            }
        }
    }

    /// Apply one item from a connection.
    pub fn apply(&mut self, item: Feed) {
        match item {
            Feed::Line(line) => {
                self.messages += 1;
                if line.msg.get("method").and_then(serde_json::Value::as_str)
                    == Some("subscription")
                {
                    self.notifications += 1;
                }
                if let Some(r) = &mut self.recorder {
                    if let Err(e) = r.write(&line) {
                        self.recording_failed(e);
                    }
                }
                self.ingest.entry(&line);
            }
            Feed::Link { acct, state } => {
                if self.removed.contains(&acct) {
                    return; // a stopped subaccount's last word
                }
                if state == LinkState::Live && self.links.get(&acct) != Some(&LinkState::Live) {
                    *self.stats.connects.entry(acct.clone()).or_default() += 1;
                }
                if state == LinkState::Live && self.privates.contains_key(&acct) {
                    // A connection goes live after taking its snapshots.
                    self.resync.snapshotted(&acct, now_ms());
                }
                self.links.insert(acct, state);
            }
            Feed::Garbage { .. } => self.garbage += 1,
            Feed::Subaccounts { acct, subaccounts } => self.subaccounts(&acct, subaccounts),
            Feed::Notice { acct, text } => {
                let text = format!("{acct}: {text}");
                if !self.notices.contains(&text) {
                    self.notices.push(text);
                }
            }
        }
    }

    /// Ask each account's market connection for the channels of what it holds.
    pub fn subscribe_held(&mut self) {
        if !std::mem::take(&mut self.ingest.positions_changed) {
            return;
        }
        let desk = &self.ingest.desk;
        let mut wanted: HashMap<&str, Vec<String>> = HashMap::new();
        for id in 0..desk.account_count() {
            let account = desk.account(id);
            let Some(market) = self.settings.market_of.get(&account.label) else {
                continue;
            };
            for p in &account.positions {
                if desk.is_expired(&p.instrument) {
                    continue; // it will send no more quotes
                }
                let index = desk
                    .instrument(&p.instrument)
                    .map(|i| format!("deribit_price_index.{}", i.index_name));
                for ch in std::iter::once(format!("ticker.{}.100ms", p.instrument)).chain(index) {
                    if self.subscribed.insert((market.clone(), ch.clone())) {
                        wanted.entry(market).or_default().push(ch);
                    }
                }
            }
        }
        for (market, channels) in wanted {
            if let Some(tx) = self.markets.get(market) {
                // If the market connection is gone, the snapshot shows its accounts stale.
                let _ = tx.try_send(Command::Subscribe(channels));
            }
        }
    }

    /// Between batches: ask for re-snapshots that are due (after a
    /// settlement or expiry, while settled positions linger, periodically)
    /// and unsubscribe the tickers of instruments that have expired.
    pub fn maintain(&mut self, now: i64) {
        // Instruments expire at 08:00 UTC only: look for them once a day.
        if self.resync.observe_clock(self.ingest.desk.now_ms(), now) {
            self.retire_expired();
            // What expired at an earlier crossing has been settled by now.
            self.ingest.desk.retire_expired();
        }
        // Schedules are in seconds: twice a second is often enough to look.
        if now < self.next_resync_check {
            return;
        }
        self.next_resync_check = now + IDLE_REPUBLISH.as_millis() as i64;
        let desk = &self.ingest.desk;
        let holding_expired: HashSet<&str> = (0..desk.account_count())
            .map(|id| desk.account(id))
            .filter(|a| a.positions.iter().any(|p| desk.is_expired(&p.instrument)))
            .map(|a| a.label.as_str())
            .collect();
        let holds_expired = |label: &str| holding_expired.contains(label);
        for label in self.resync.take_due(now, holds_expired) {
            let live = self.links.get(&label) == Some(&LinkState::Live);
            if let (true, Some(tx)) = (live, self.privates.get(&label)) {
                let _ = tx.try_send(Command::Resync);
            }
        }
    }

    /// Unsubscribe, once, every ticker of an instrument past expiry; it is
    /// never asked for again (`subscribed` keeps it).
    fn retire_expired(&mut self) {
        let desk = &self.ingest.desk;
        let mut retire: HashMap<String, Vec<String>> = HashMap::new();
        for (market, ch) in &self.subscribed {
            let Some(name) = ch.strip_prefix("ticker.").and_then(|c| c.split('.').next()) else {
                continue;
            };
            if desk.is_expired(name) && self.retired.insert((market.clone(), ch.clone())) {
                retire.entry(market.clone()).or_default().push(ch.clone());
            }
        }
        for (market, channels) in retire {
            if let Some(tx) = self.markets.get(&market) {
                let _ = tx.try_send(Command::Unsubscribe(channels));
            }
        }
    }

    /// A full disk must not stop monitoring: recording stops instead, and
    /// the error is kept for `record` to report.
    fn recording_failed(&mut self, e: std::io::Error) {
        eprintln!("margintop: recording stopped: {e}");
        self.recorder = None;
        self.recording_error.get_or_insert_with(|| e.to_string());
    }

    /// The engine's counts as of now; `run` adds the queue and build times.
    fn stats_now(&self) -> super::stats::EngineStats {
        let replay = &self.ingest.stats;
        let mut parse_errors: BTreeMap<String, u64> = (replay.failures.iter())
            .map(|(kind, (n, _))| (kind.clone(), *n as u64))
            .collect();
        if self.garbage > 0 {
            parse_errors.insert("frame".into(), self.garbage);
        }
        if replay.bad_lines > 0 {
            parse_errors.insert("recording line".into(), replay.bad_lines as u64);
        }
        super::stats::EngineStats {
            connects: self.stats.connects.clone(),
            parse_errors,
            rejected: replay.rejected as u64,
            ..Default::default()
        }
    }

    /// Why the recording stopped early (None: it did not).
    pub fn recording_error(&self) -> Option<&str> {
        self.recording_error.as_deref()
    }

    pub fn snapshot(&mut self, now: i64) -> Snapshot {
        if let Some(Err(e)) = self.recorder.as_mut().map(|r| r.flush()) {
            self.recording_failed(e);
        }
        for id in self.ingest.desk.take_dirty() {
            let book = Arc::new(self.book(id));
            match self.books.get_mut(id) {
                Some(slot) => *slot = book,
                None => self.books.push(book),
            }
        }
        self.track_divergence(now);
        let mut views: Vec<(AccountId, AccountSnapshot)> = (self.books.iter().enumerate())
            .filter(|(_, b)| !self.removed.contains(&b.label))
            .map(|(id, b)| (id, self.view(id, b, now)))
            .collect();
        self.fold_cross(&mut views);
        self.track_mm(&mut views, now);
        let desk = &self.ingest.desk;
        let accounts = views.into_iter().map(|(_, v)| v).collect();
        Snapshot {
            as_of: now,
            pricing_ms: desk.now_ms(),
            accounts,
            links: self.links.clone(),
            messages: self.messages,
            notifications: self.notifications,
            garbage: self.garbage,
            warnings: self
                .notices
                .iter()
                .cloned()
                .chain(self.ingest.stats.warnings())
                .collect(),
            indices: desk
                .market
                .indices
                .iter()
                .map(|(name, i)| (name.clone(), i.price))
                .collect(),
            recording_error: self.recording_error.clone(),
            stats: self.stats_now(),
        }
    }

    /// Start or end each account's equity divergence (local time).
    fn track_divergence(&mut self, now: i64) {
        let tolerance = self.settings.equity_tolerance;
        for (id, b) in self.books.iter().enumerate() {
            let scale = (b.exchange.equity.unwrap_or(0.0).abs())
                .max(b.risk.margin.maintenance_margin.abs());
            let off = b.complete && b.equity_gap().is_some_and(|g| g.abs() > tolerance * scale);
            match off {
                true => {
                    self.diverging.entry(id).or_insert(now);
                }
                false => {
                    self.diverging.remove(&id);
                }
            }
        }
    }

    fn book(&self, id: AccountId) -> AccountBook {
        let desk = &self.ingest.desk;
        let account = desk.account(id);
        let risk = desk.risk(id);
        let legs = desk.legs(id, risk.margin.worst_scenario.as_ref());
        let main = main_index(desk.sums(id));
        let mut matrices = desk.matrices(id).into_iter();
        let unknown = self.ingest.unknown_reason(id);
        AccountBook {
            label: account.label.clone(),
            exchange_name: "deribit",
            currency: account.currency.clone(),
            model: account.model.clone(),
            complete: risk.complete && unknown.is_none(),
            unknown,
            risk,
            positions: account.positions.clone(),
            exchange: account.exchange,
            inputs_t: self.ingest.inputs_t(id),
            refused: (self.ingest.refused.get(&id).into_iter().flatten())
                .map(|(m, r)| (m.clone(), r.clone()))
                .collect(),
            has_balance: self.ingest.has_balance.contains(&id),
            has_positions: self.ingest.has_positions.contains(&id),
            legs,
            matrix: matrices.next(),
            other_matrices: matrices.collect(),
            greeks_by_index: (desk.sums(id).per_index.iter())
                .filter(|s| s.positions > 0)
                .map(IndexGreeks::of)
                .collect(),
            index: main.map(|s| (s.index_name.clone(), s.index_price)),
            usd_per_unit: main.map(|s| s.usd_per_unit),
            greeks: {
                let s = desk.sums(id);
                BookGreeks {
                    delta_total: s.net_delta,
                    gamma: s.gamma,
                    vega: s.vega,
                    theta: s.theta,
                    delta_usd: (s.per_index.iter())
                        .filter(|i| i.positions > 0)
                        .map(|i| i.net_delta * i.index_price)
                        .sum(),
                }
            },
        }
    }

    /// How current a book is at `now`: age of its inputs, and its connections.
    fn view(&self, id: AccountId, book: &Arc<AccountBook>, now: i64) -> AccountSnapshot {
        let data_age_ms = book.inputs_t.map(|t| (now - t).max(0));
        let market = self.settings.market_of.get(&book.label);
        let link_problem = link_problem("link", self.links.get(&book.label)).or_else(|| {
            let market = market.filter(|_| !book.positions.is_empty())?;
            link_problem("market data link", self.links.get(market))
        });
        let too_old = data_age_ms.is_none_or(|age| age > self.settings.stale_after_ms);
        let stale = link_problem.is_some() || too_old;
        let stale_reason = match (&link_problem, stale || !book.complete) {
            (Some(why), _) => Some(why.clone()),
            (None, true) => Some(self.missing(id, book, data_age_ms)),
            (None, false) => None,
        };
        let equity_divergence = self.diverging.get(&id).and_then(|&since| {
            let lasting = now - since >= self.settings.equity_divergence_ms;
            lasting.then(|| Divergence {
                gap: book.equity_gap().unwrap_or(0.0),
                since,
            })
        });
        AccountSnapshot {
            book: book.clone(),
            data_age_ms,
            stale,
            stale_reason,
            equity_divergence,
            mm_tracking: None,
            mm_divergence: None,
            cross: None,
        }
    }

    /// Compare each account's local maintenance margin with the exchange's
    /// newest report, and give every view its account's tracking. The
    /// local figure is the one at this snapshot, at most a snapshot
    /// interval after the report.
    fn track_mm(&mut self, views: &mut [(AccountId, AccountSnapshot)], now: i64) {
        let s = &self.settings;
        for (id, v) in views.iter_mut() {
            let key = match &v.cross {
                Some(_) => Tracked::Cross(v.label.clone()),
                None => Tracked::Wallet(*id),
            };
            if let Some(pair) = mm_pair(v) {
                self.mm.observe(&key, pair, s.mm_tolerance, now);
            }
            v.mm_tracking = self.mm.tracking(&key);
            v.mm_divergence = (self.mm.divergence(&key, s.mm_divergence_ms, now))
                .map(|(gap, since)| Divergence { gap, since });
        }
    }

    /// Give each wallet of a cross-collateral account the account's totals.
    fn fold_cross(&self, views: &mut [(AccountId, AccountSnapshot)]) {
        let desk = &self.ingest.desk;
        let mut totals: HashMap<String, CrossView> = HashMap::new();
        let mut members: HashMap<String, Vec<AccountId>> = HashMap::new();
        for (id, v) in views.iter() {
            let account = desk.account(*id);
            if account.collateral != Collateral::Cross {
                continue;
            }
            members.entry(v.label.clone()).or_default().push(*id);
            let c = totals.entry(v.label.clone()).or_insert(CrossView {
                complete: true,
                ..CrossView::default()
            });
            let rate = usd_rate(account, &desk.market);
            let haircut =
                (desk.models().get(&account.model)).map_or(0.0, |m| m.haircut(&account.currency));
            let r = rate.map_or(0.0, |(r, _)| r);
            let mm_usd = v.risk.margin.maintenance_margin * r;
            c.equity_usd += v.risk.equity * r;
            c.margin_balance_usd += v.risk.margin_balance * r * (1.0 - haircut);
            c.maintenance_margin_usd += mm_usd;
            c.initial_margin_usd += v.risk.margin.initial_margin * r;
            c.complete &= v.complete && v.unknown.is_none() && rate.is_some();
            c.stale |= v.stale;
            c.refused |= !v.refused.is_empty();
            let most = (c.wallets.iter()).map(|w| w.maintenance_margin_usd.unwrap_or(0.0));
            if c.wallets.is_empty() || mm_usd > most.fold(0.0, f64::max) {
                c.primary = v.currency.clone();
            }
            c.wallets.push(CrossWallet {
                currency: v.currency.clone(),
                balance: v.risk.balance,
                equity: v.risk.equity,
                usd_rate: rate.map(|(r, _)| r),
                rate_source: rate.map_or("none", |(_, s)| s.as_str()),
                haircut,
                collateral_usd: rate.map(|_| v.risk.margin_balance * r * (1.0 - haircut)),
                maintenance_margin_usd: rate.map(|_| mm_usd),
            });
        }
        for (label, c) in totals.iter_mut() {
            let ids = members.get(label).into_iter().flatten();
            c.exchange = exchange_totals(ids.map(|id| desk.account(*id)));
        }
        for (_, v) in views.iter_mut() {
            v.cross = totals.get(&v.label).cloned();
        }
    }

    /// Why a connected account is not current: what it lacks, or what is old.
    fn missing(&self, id: AccountId, book: &AccountBook, data_age_ms: Option<i64>) -> String {
        if let Some(e) = book.error() {
            return e;
        }
        if let Some(u) = book
            .unknown
            .as_ref()
            .filter(|_| book.has_balance && book.has_positions)
        {
            return format!("not fully known: {u}");
        }
        if !book.has_balance {
            return "no account summary yet".into();
        }
        if !book.has_positions {
            return "no positions snapshot yet".into();
        }
        if let Some(n) = book.risk.notes.iter().find(|n| n.leaves_out()) {
            return n.to_string();
        }
        let limit_s = self.settings.stale_after_ms as f64 / 1000.0;
        // Only a stale account asks: it costs a look at every position.
        match &self.ingest.oldest_quote(id) {
            Some((name, None)) => format!("no quote for {name} yet"),
            Some((name, Some(t))) => format!(
                "no quote for {name} since {} UTC (limit {limit_s:.0} s)",
                time_of_day_utc(*t)
            ),
            None => match data_age_ms {
                Some(age) => format!(
                    "no account update for {:.0} s (limit {limit_s:.0} s)",
                    age as f64 / 1000.0
                ),
                None => "no data yet".into(),
            },
        }
    }
}

/// A connection that is not live, in words (None when live or unknown).
fn link_problem(what: &str, state: Option<&LinkState>) -> Option<String> {
    match state? {
        LinkState::Live => None,
        LinkState::Connecting => Some(format!("{what} connecting")),
        LinkState::Down(why) => Some(format!("{what} down: {why}")),
        LinkState::Unreachable(why) => Some(format!("{what} unreachable: {why}")),
        LinkState::AuthFailed(why) => Some(format!("{what}: authentication failed: {why}")),
    }
}

/// The first index the book holds positions on.
fn main_index(sums: &crate::margin::BookSums) -> Option<&crate::margin::book::IndexSums> {
    sums.per_index.iter().find(|s| s.positions > 0)
}

/// How often a snapshot is republished without new data, so that age and
/// staleness keep moving when the feed goes quiet.
const IDLE_REPUBLISH: std::time::Duration = std::time::Duration::from_millis(500);

/// Run the engine until every connection has dropped its sender.
pub async fn run<W: Write>(
    mut engine: Engine<W>,
    mut rx: mpsc::Receiver<Feed>,
    tx: watch::Sender<Arc<Snapshot>>,
) -> Engine<W> {
    let mut idle = tokio::time::interval(IDLE_REPUBLISH);
    let mut queries = engine.queries.take();
    loop {
        tokio::select! {
            Some(q) = next_query(&mut queries) => {
                engine.answer(q);
                continue; // nothing changed: no new snapshot
            }
            item = rx.recv() => {
                let Some(first) = item else { break };
                // Lazy repricing: within a batch a tick only queues what it
                // moved; each queued instrument is repriced once at its end,
                // however many ticks moved it.
                engine.ingest.desk.defer_pricing(true);
                engine.apply(first);
                for _ in 0..BATCH {
                    match rx.try_recv() {
                        Ok(item) => engine.apply(item),
                        Err(_) => break,
                    }
                }
                engine.ingest.desk.defer_pricing(false);
                engine.subscribe_held();
            }
            _ = idle.tick() => {}
        }
        let now = match engine.settings.recording_clock {
            true => engine.ingest.stats.last_t.unwrap_or(0),
            false => now_ms(),
        };
        engine.maintain(now);
        let started = std::time::Instant::now();
        let mut snap = engine.snapshot(now);
        engine.stats.build_times.observe(started.elapsed());
        snap.stats.build_times = engine.stats.build_times.clone();
        snap.stats.queue_depth = rx.len();
        snap.stats.queue_capacity = rx.max_capacity();
        if tx.send(Arc::new(snap)).is_err() {
            break; // nobody is watching any more
        }
    }
    engine
}

/// The next question, or never when nobody can ask.
async fn next_query(queries: &mut Option<mpsc::Receiver<Query>>) -> Option<Query> {
    match queries {
        Some(rx) => match rx.recv().await {
            Some(q) => Some(q),
            None => {
                *queries = None;
                None
            }
        },
        None => std::future::pending().await,
    }
}

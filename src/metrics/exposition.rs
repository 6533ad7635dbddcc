//! A snapshot in the Prometheus text exposition format (version 0.0.4),
//! written with the official `prometheus-client` crate. The registry is
//! built afresh for each scrape from the newest snapshot: accounts come
//! and go with subaccounts, and a number the snapshot does not hold (no
//! exchange report yet, a stale book) must be absent, not left at its last
//! value. Engine counts are cumulative in the snapshot, so a scrape that
//! skipped snapshots loses nothing.

use super::Analysed;
use crate::engine::live::{AccountSnapshot, Snapshot};
use crate::engine::stats::{BuildTimes, BUILD_BUCKETS_S};
use crate::exchange::feed::LinkState;
use crate::model::AccountKey;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

/// The content type of what `render` writes.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AccountLabels {
    account: String,
    currency: String,
    exchange: String,
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LinkLabels {
    link: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

type Gauges<L> = Family<L, Gauge<f64, AtomicU64>>;
type Counters<L> = Family<L, Counter<u64>>;

/// A per-account gauge: its name, help, and how to read it from a `T`
/// (None: not known, so not written).
type Figure<T> = (&'static str, &'static str, fn(&T) -> Option<f64>);

/// Figures written only while the account is current (not stale, its
/// book complete): an old number must never read as today's.
const CURRENT_FIGURES: [Figure<AccountSnapshot>; 14] = [
    (
        "equity",
        "Equity, in the account currency (local model)",
        |v| Some(v.risk.equity),
    ),
    (
        "margin_balance",
        "Margin balance, in the account currency",
        |v| Some(v.risk.margin_balance),
    ),
    (
        "initial_margin",
        "Initial margin, in the account currency (local model)",
        |v| Some(v.risk.margin.initial_margin),
    ),
    (
        "maintenance_margin",
        "Maintenance margin, in the account currency (local model)",
        |v| Some(v.risk.margin.maintenance_margin),
    ),
    (
        "mm_ratio",
        "Maintenance margin over margin balance (a cross wallet: its account's)",
        |v| v.judged_mm_ratio(),
    ),
    (
        "im_ratio",
        "Initial margin over margin balance (a cross wallet: its account's)",
        |v| v.judged_im_ratio(),
    ),
    (
        "headroom_usd",
        "Margin balance minus maintenance margin, USD (a cross wallet: its account's)",
        |v| v.usd_figures().map(|(_, _, h)| h),
    ),
    ("delta", "Net delta, in the coin of the main index", |v| {
        Some(v.greeks.delta_total)
    }),
    ("delta_usd", "Net delta in USD, summed over indices", |v| {
        Some(v.greeks.delta_usd)
    }),
    ("gamma", "Gamma, coin per USD of the index", |v| {
        Some(v.greeks.gamma)
    }),
    ("vega_usd", "Vega, USD per volatility point", |v| {
        Some(v.greeks.vega)
    }),
    ("theta_usd", "Theta, USD per day", |v| Some(v.greeks.theta)),
    (
        "exchange_initial_margin",
        "Initial margin the exchange reports, in the account currency",
        |v| v.exchange.initial_margin,
    ),
    (
        "exchange_maintenance_margin",
        "Maintenance margin the exchange reports, in the account currency",
        |v| v.exchange.maintenance_margin,
    ),
];

/// Gauges from the background revaluations (`Analysed`), also only while
/// the account is current.
const ANALYSED_FIGURES: [Figure<Analysed>; 5] = [
    (
        "liquidation_down_pct",
        "Index fall, percent, at which mm_ratio first reaches 1",
        |a| a.liq_down_pct,
    ),
    (
        "liquidation_up_pct",
        "Index rise, percent, at which mm_ratio first reaches 1",
        |a| a.liq_up_pct,
    ),
    (
        "liquidation_distance_sigma",
        "The nearer liquidation move in daily standard deviations of the index",
        |a| a.liq_sigma,
    ),
    (
        "worst_stress_usd",
        "P&L of the worst stress scenario, USD (a loss is negative)",
        |a| a.worst_stress_usd,
    ),
    (
        "var_99_usd",
        "One-day 99 % value at risk, USD (positive: a loss)",
        |a| a.var_99_usd,
    ),
];

/// The whole exposition of `snap`, with the background figures `analysed`
/// (by account) where they are known.
pub fn render(snap: &Snapshot, analysed: &BTreeMap<AccountKey, Analysed>) -> String {
    let mut registry = Registry::with_prefix("margintop");
    accounts(&mut registry, snap, analysed);
    links(&mut registry, snap);
    engine(&mut registry, snap);
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}

fn labels(v: &AccountSnapshot) -> AccountLabels {
    AccountLabels {
        account: v.label.clone(),
        currency: v.currency.clone(),
        exchange: v.exchange_name.to_string(),
        model: v.model.clone(),
    }
}

fn accounts(r: &mut Registry, snap: &Snapshot, analysed: &BTreeMap<AccountKey, Analysed>) {
    let stale: Gauges<AccountLabels> = Family::default();
    let age: Gauges<AccountLabels> = Family::default();
    let current: Vec<Gauges<AccountLabels>> =
        CURRENT_FIGURES.iter().map(|_| Family::default()).collect();
    let background: Vec<Gauges<AccountLabels>> =
        ANALYSED_FIGURES.iter().map(|_| Family::default()).collect();
    for v in &snap.accounts {
        let l = labels(v);
        let standing = v.standing();
        stale
            .get_or_create(&l)
            .set(if standing.stale { 1.0 } else { 0.0 });
        if let Some(ms) = v.data_age_ms {
            age.get_or_create(&l).set(ms as f64 / 1000.0);
        }
        if standing.stale || standing.judged.is_none() {
            continue;
        }
        for ((_, _, read), family) in CURRENT_FIGURES.iter().zip(&current) {
            set(family, &l, read(v));
        }
        if let Some(a) = analysed.get(&v.key()) {
            for ((_, _, read), family) in ANALYSED_FIGURES.iter().zip(&background) {
                set(family, &l, read(a));
            }
        }
    }
    r.register(
        "account_stale",
        "1 while the account's figures are stale or incomplete (they are then left out)",
        stale,
    );
    r.register(
        "account_data_age_seconds",
        "Seconds since the account's newest input",
        age,
    );
    for ((name, help, _), family) in CURRENT_FIGURES.iter().zip(current) {
        r.register(format!("account_{name}"), *help, family);
    }
    for ((name, help, _), family) in ANALYSED_FIGURES.iter().zip(background) {
        r.register(format!("account_{name}"), *help, family);
    }
}

/// Set a gauge when the value is a finite number; anything else is left
/// out, so a NaN never reads as a figure.
fn set<L: Clone + std::hash::Hash + Eq>(family: &Gauges<L>, l: &L, value: Option<f64>) {
    if let Some(x) = value.filter(|x| x.is_finite()) {
        family.get_or_create(l).set(x);
    }
}

fn links(r: &mut Registry, snap: &Snapshot) {
    let up: Gauges<LinkLabels> = Family::default();
    let reconnects: Counters<LinkLabels> = Family::default();
    for (link, state) in &snap.links {
        let l = LinkLabels { link: link.clone() };
        up.get_or_create(&l)
            .set(if *state == LinkState::Live { 1.0 } else { 0.0 });
        let connects = snap.stats.connects.get(link).copied().unwrap_or(0);
        reconnects
            .get_or_create(&l)
            .inc_by(connects.saturating_sub(1));
    }
    r.register(
        "link_up",
        "1 while the connection is live (authenticated, subscribed, snapshotted)",
        up,
    );
    r.register(
        "link_reconnects",
        "Times the connection went live again after its first time",
        reconnects,
    );
}

fn engine(r: &mut Registry, snap: &Snapshot) {
    let s = &snap.stats;
    let counter = |n: u64| {
        let c: Counter<u64> = Counter::default();
        c.inc_by(n);
        c
    };
    let gauge = |x: f64| {
        let g: Gauge<f64, AtomicU64> = Gauge::default();
        g.set(x);
        g
    };
    r.register(
        "messages",
        "Exchange messages received",
        counter(snap.messages),
    );
    r.register(
        "notifications",
        "Subscription notifications among the messages",
        counter(snap.notifications),
    );
    let errors: Counters<KindLabels> = Family::default();
    for (kind, n) in &s.parse_errors {
        errors
            .get_or_create(&KindLabels { kind: kind.clone() })
            .inc_by(*n);
    }
    r.register(
        "parse_errors",
        "Messages that could not be read, by kind (frame: not JSON)",
        errors,
    );
    r.register(
        "rejected_values",
        "Values refused as implausible at the input boundary",
        counter(s.rejected),
    );
    r.register(
        "engine_queue_depth",
        "Feed items waiting for the engine when the snapshot was built",
        gauge(s.queue_depth as f64),
    );
    r.register(
        "engine_queue_capacity",
        "Capacity of the engine's feed queue",
        gauge(s.queue_capacity as f64),
    );
    r.register(
        "snapshot_build_seconds",
        "Time to build a snapshot",
        Histogram(s.build_times.clone()),
    );
    r.register(
        "snapshot_timestamp_seconds",
        "When the newest snapshot was built, Unix time (a scrape of a stuck engine shows it old)",
        gauge(snap.as_of as f64 / 1000.0),
    );
}

/// The engine's cumulative build times, written as a histogram.
#[derive(Debug)]
struct Histogram(BuildTimes);

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let bounds = BUILD_BUCKETS_S.iter().copied().chain([f64::INFINITY]);
        let buckets: Vec<(f64, u64)> = bounds.zip(self.0.buckets).collect();
        encoder.encode_histogram::<NoLabelSet>(self.0.sum_s, self.0.count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::margin::account::AccountRisk;

    fn risk(mb: f64, mm: f64) -> AccountRisk {
        let mut r = AccountRisk {
            equity: mb,
            margin_balance: mb,
            mm_ratio: Some(mm / mb),
            complete: true,
            ..AccountRisk::default()
        };
        r.margin.maintenance_margin = mm;
        r
    }

    /// A snapshot of current (or stale) accounts holding 1 of MM on 4 of
    /// margin balance.
    fn snapshot(accounts: &[(&str, bool)]) -> Snapshot {
        Snapshot {
            accounts: (accounts.iter())
                .map(|(label, stale)| {
                    AccountSnapshot::for_test(label, "BTC", risk(4.0, 1.0), *stale)
                })
                .collect(),
            ..Snapshot::default()
        }
    }

    /// The lines of `text` about `account` for metric `name`.
    fn lines<'a>(text: &'a str, name: &str, account: &str) -> Vec<&'a str> {
        let prefix = format!("margintop_account_{name}{{account=\"{account}\"");
        text.lines().filter(|l| l.starts_with(&prefix)).collect()
    }

    #[test]
    fn a_stale_account_shows_its_staleness_and_no_figures() {
        let snap = snapshot(&[("fresh", false), ("old", true)]);
        let text = render(&snap, &BTreeMap::new());
        assert_eq!(
            lines(&text, "mm_ratio", "fresh"),
            ["margintop_account_mm_ratio{account=\"fresh\",currency=\"BTC\",exchange=\"deribit\",model=\"deribit_pm\"} 0.25"]
        );
        assert!(lines(&text, "stale", "fresh")[0].ends_with(" 0.0"));
        assert!(lines(&text, "stale", "old")[0].ends_with(" 1.0"));
        for name in ["mm_ratio", "equity", "maintenance_margin", "delta"] {
            assert!(
                lines(&text, name, "old").is_empty(),
                "{name} of a stale account"
            );
        }
    }

    #[test]
    fn a_number_that_is_not_finite_is_left_out() {
        let mut r = risk(4.0, 1.0);
        r.equity = f64::NAN;
        r.mm_ratio = Some(f64::INFINITY);
        let snap = Snapshot {
            accounts: vec![AccountSnapshot::for_test("a", "ETH", r, false)],
            ..Snapshot::default()
        };
        let text = render(&snap, &BTreeMap::new());
        assert!(lines(&text, "equity", "a").is_empty());
        assert!(lines(&text, "mm_ratio", "a").is_empty());
        assert_eq!(lines(&text, "margin_balance", "a").len(), 1);
        assert!(!text.contains("NaN") && !text.contains("Inf\n"));
    }

    #[test]
    fn background_figures_appear_for_their_account_only() {
        let snap = snapshot(&[("a", false), ("b", false)]);
        let analysed = [(
            AccountKey::new("a", "BTC"),
            Analysed {
                liq_down_pct: Some(23.5),
                worst_stress_usd: Some(-1200.0),
                ..Analysed::default()
            },
        )]
        .into_iter()
        .collect();
        let text = render(&snap, &analysed);
        assert!(lines(&text, "liquidation_down_pct", "a")[0].ends_with(" 23.5"));
        assert!(lines(&text, "worst_stress_usd", "a")[0].ends_with(" -1200.0"));
        assert!(lines(&text, "liquidation_up_pct", "a").is_empty());
        assert!(lines(&text, "liquidation_down_pct", "b").is_empty());
    }

    #[test]
    fn reconnects_count_every_time_a_link_went_live_after_the_first() {
        let mut snap = Snapshot::default();
        snap.links
            .insert("main".into(), LinkState::Down("reset".into()));
        snap.links.insert("new".into(), LinkState::Connecting);
        snap.stats.connects.insert("main".into(), 3);
        let text = render(&snap, &BTreeMap::new());
        assert!(text.contains("margintop_link_reconnects_total{link=\"main\"} 2\n"));
        assert!(text.contains("margintop_link_reconnects_total{link=\"new\"} 0\n"));
        assert!(text.contains("margintop_link_up{link=\"main\"} 0.0\n"));
    }
}

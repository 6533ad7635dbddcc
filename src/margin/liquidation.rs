//! Distance to liquidation: the smallest move of the underlying, down and
//! up, at which maintenance margin reaches the margin balance, with both
//! recomputed at the shocked state under the account's own model.
//!
//! Option books make the margin curve non-monotone, so a bracket is first
//! found by scanning outward from today on an even grid of the model's
//! `steps`, then narrowed (`narrow`). The scan can look at every
//! `COARSE_STRIDE`-th grid point first and at the points in between only
//! once one breaches; the stride is 1, every grid point, so a liquidation
//! point is missed only if the curve crosses and recovers between two
//! neighbouring grid points.

use super::account::{Instruments, MarginBook, PreparedBook, SharedPrices};
use super::book::PreparedModel;
use super::inputs::{by_model_and_currency, AccountInputs};
use crate::model::valuation::Shock;
use crate::model::{Account, Instrument, MarketState};
use serde::Serialize;

/// Where liquidation starts when every index the book holds moves together
/// by the same fraction. With several indices the prices are per index, in
/// `by_index`, which also has each index's own distance, the others held.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Liquidation {
    /// Fraction of the index (−0.231 = 23.1 % down); None: none within range.
    pub down_move: Option<f64>,
    /// The index price at `down_move` (None when the book spans several indices).
    pub down_price: Option<f64>,
    pub up_move: Option<f64>,
    pub up_price: Option<f64>,
    /// One entry per index when the book holds several (empty otherwise).
    pub by_index: Vec<IndexLiquidation>,
}

impl Liquidation {
    /// The nearer side's distance in daily standard deviations of the
    /// index's log price, `sigma` (a move m is |ln(1 + m)| / σ). None: no
    /// crossing within range, or σ not a positive number.
    pub fn nearer_in_sigmas(&self, sigma: f64) -> Option<f64> {
        if !(sigma.is_finite() && sigma > 0.0) {
            return None;
        }
        let sides = [self.down_move, self.up_move].into_iter().flatten();
        (sides.filter(|m| *m > -1.0))
            .map(|m| m.ln_1p().abs() / sigma)
            .min_by(f64::total_cmp)
    }
}

/// Liquidation distance when one index moves and the others stay.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct IndexLiquidation {
    pub index_name: String,
    pub down_move: Option<f64>,
    pub down_price: Option<f64>,
    pub up_move: Option<f64>,
    pub up_price: Option<f64>,
}

/// How close to the boundary the narrowing goes, as a fraction of the index.
const MOVE_TOLERANCE: f64 = 1e-7;

/// Grid points per scan step: every point of the model's grid. A stride
/// of 4 cost a quarter of the valuations on accounts that never breach,
/// but missed a crossing that recovers within 4 grid steps (13 % up), and
/// the property test against a dense scan found such books: the first
/// crossing on the model's grid is what the search promises.
const COARSE_STRIDE: usize = 1;

/// The scan's grid points, coarse: every stride-th, and the last.
fn coarse_points(steps: usize) -> impl Iterator<Item = usize> {
    let last = (!steps.is_multiple_of(COARSE_STRIDE)).then_some(steps);
    (1..=steps / COARSE_STRIDE)
        .map(|k| k * COARSE_STRIDE)
        .chain(last)
}

/// Grid point `i` of `steps` toward `limit`.
fn grid_point(limit: f64, i: usize, steps: usize) -> f64 {
    limit * i as f64 / steps as f64
}

/// Search both sides for a joint move of every index, and, when the book
/// holds several, for each index alone. `index_price` converts a single
/// index's moves to prices.
pub fn liquidation_distance(
    account: &Account,
    instruments: &Instruments,
    market: &MarketState,
    model: &mut PreparedModel,
    now_ms: i64,
    index_price: Option<f64>,
) -> Liquidation {
    let m = (account, instruments, market);
    liquidation_with(m, model, now_ms, index_price, None)
}

/// The joint move's (down, up) distances, when already found.
pub type Joint = (Option<f64>, Option<f64>);

/// `liquidation_distance`, with the joint move's distances taken from
/// `joint` when given (`joint_distances` found them for the whole desk).
pub fn liquidation_with(
    (account, instruments, market): (&Account, &Instruments, &MarketState),
    model: &mut PreparedModel,
    now_ms: i64,
    index_price: Option<f64>,
    joint: Option<Joint>,
) -> Liquidation {
    let indices = held_indices(account, instruments);
    let (down, up) =
        joint.unwrap_or_else(|| search(account, instruments, market, model, now_ms, None));
    let single = (indices.len() <= 1).then_some(index_price).flatten();
    let price = |m: Option<f64>, p: Option<f64>| m.and_then(|m| p.map(|p| p * (1.0 + m)));
    let by_index = match indices.len() {
        0 | 1 => Vec::new(),
        _ => (indices.iter())
            .map(|name| {
                let only = Some(name.as_str());
                let (down, up) = search(account, instruments, market, model, now_ms, only);
                let p = market.index(name);
                IndexLiquidation {
                    index_name: name.clone(),
                    down_move: down,
                    down_price: price(down, p),
                    up_move: up,
                    up_price: price(up, p),
                }
            })
            .collect(),
    };
    Liquidation {
        down_move: down,
        down_price: price(down, single),
        up_move: up,
        up_price: price(up, single),
        by_index,
    }
}

/// The indices the account's positions follow, in order of first holding.
pub fn held_indices(account: &Account, instruments: &Instruments) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in &account.positions {
        if let Some(i) = instruments.get(&p.instrument) {
            if !out.contains(&i.index_name) {
                out.push(i.index_name.clone());
            }
        }
    }
    out
}

/// The first liquidation move down and up, moving every index (`only` None)
/// or one index with the others held.
fn search(
    account: &Account,
    instruments: &Instruments,
    market: &MarketState,
    model: &mut PreparedModel,
    now_ms: i64,
    only: Option<&str>,
) -> (Option<f64>, Option<f64>) {
    let limits = model.config.liquidation_search();
    // Every position's quote is read once; each step only moves it.
    let prepared = PreparedBook::new(account, instruments, market, now_ms, true);
    let mut book = MarginBook::new(prepared);
    let mut shortfall = |m: f64| {
        let moved = Shock::price_move(m);
        let shock = |inst: &Instrument| match only {
            Some(name) if inst.index_name != name => Shock::NONE,
            _ => moved,
        };
        book.shortfall(account, model, &shock, None, now_ms)
    };
    let down = find_side(&mut shortfall, -limits.down, limits.steps);
    let up = find_side(&mut shortfall, limits.up, limits.steps);
    (down, up)
}

/// One account of a desk-wide search.
struct Member<'a> {
    account: &'a Account,
    book: MarginBook<'a>,
    model: PreparedModel,
    now_ms: i64,
}

impl Member<'_> {
    /// MM minus margin balance after every index moves by `m`.
    fn shortfall(&mut self, m: f64, shared: Option<&mut SharedPrices>) -> f64 {
        let moved = Shock::price_move(m);
        let (account, model) = (self.account, &mut self.model);
        (self.book).shortfall(account, model, &|_| moved, shared, self.now_ms)
    }
}

/// The joint move's liquidation distances of many accounts (None for an
/// account whose model is not loaded). Accounts under one model and
/// currency step through the search grid together, so an instrument that
/// several of them hold is priced once per step; each then narrows its
/// own bracket. The steps and the narrowing are `find_side`'s, so the
/// figures are those of `liquidation_distance`. Each group's two sides
/// are searched apart, on as many cores as there are.
pub fn joint_distances(all: &[&AccountInputs]) -> Vec<Option<Joint>> {
    let groups = by_model_and_currency(all);
    // Up sides first: their accounts seldom breach, so their scans run
    // longest, and the shorter down sides then even out the cores.
    let jobs: Vec<(&Vec<usize>, Side)> = (groups.iter().map(|g| (g, Side::Up)))
        .chain(groups.iter().map(|g| (g, Side::Down)))
        .collect();
    let found = crate::parallel::map(&jobs, |(group, side)| search_group(all, group, *side));
    let mut out: Vec<Option<Joint>> = (all.iter())
        .map(|i| i.model().map(|_| (None, None)))
        .collect();
    for ((_, side), found) in jobs.iter().zip(found) {
        for (n, at) in found {
            if let Some(j) = out[n].as_mut() {
                *match side {
                    Side::Down => &mut j.0,
                    Side::Up => &mut j.1,
                } = at;
            }
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Side {
    Down,
    Up,
}

/// One side's search for the accounts of `group` (ascending indices into
/// `all`, all under one model and currency).
fn search_group(all: &[&AccountInputs], group: &[usize], side: Side) -> Vec<(usize, Option<f64>)> {
    let mut members: Vec<Option<Member>> = (all.iter())
        .enumerate()
        .map(|(n, i)| {
            if group.binary_search(&n).is_err() {
                return None;
            }
            Some(Member {
                account: &i.account,
                book: MarginBook::new(PreparedBook::new(
                    &i.account,
                    &i.instruments,
                    &i.market,
                    i.now_ms,
                    true,
                )),
                model: PreparedModel::new(i.model()?.clone(), &i.account.currency),
                now_ms: i.now_ms,
            })
        })
        .collect();
    let mut numbers = std::collections::HashMap::new();
    for m in members.iter_mut().flatten() {
        m.book.number(&mut numbers);
    }
    let Some(first) = members[group[0]].as_ref() else {
        return Vec::new();
    };
    let limits = first.model.config.liquidation_search();
    let limit = match side {
        Side::Down => -limits.down,
        Side::Up => limits.up,
    };
    lockstep(&mut members, group, limit, limits.steps, numbers.len())
}

/// `find_side` for every account of `group` at once: the first grid step
/// at which each breaches, priced once per instrument and step, then each
/// account's own narrowing. Returns (account, first breach) for every
/// account of the group (None: no breach within the range).
fn lockstep(
    members: &mut [Option<Member>],
    group: &[usize],
    limit: f64,
    steps: usize,
    instruments: usize,
) -> Vec<(usize, Option<f64>)> {
    let mut found = Vec::new();
    // Each active account's shortfall at the last grid point it passed.
    let mut active: Vec<(usize, f64)> = Vec::new();
    for &n in group {
        let today = member(members, n).shortfall(0.0, None);
        match today >= 0.0 {
            true => found.push((n, Some(0.0))),
            false => active.push((n, today)),
        }
    }
    let mut brackets = Vec::new();
    let mut shared = SharedPrices::new(instruments);
    let mut safe = 0;
    for i in coarse_points(steps) {
        if active.is_empty() {
            break;
        }
        let m = grid_point(limit, i, steps);
        shared.clear();
        active.retain_mut(|(n, last)| {
            let here = member(members, *n).shortfall(m, Some(&mut shared));
            if here >= 0.0 {
                brackets.push((*n, (safe, *last), (i, here)));
            }
            *last = here;
            here < 0.0
        });
        safe = i;
    }
    for (n, safe, breach) in brackets {
        let one = member(members, n);
        let mut shortfall = |x| one.shortfall(x, None);
        let grid = (limit, steps);
        found.push((n, Some(refine(&mut shortfall, grid, safe, breach))));
    }
    found.extend(active.into_iter().map(|(n, _)| (n, None)));
    found
}

/// The member at `n` (every grouped account has one).
fn member<'s, 'a>(members: &'s mut [Option<Member<'a>>], n: usize) -> &'s mut Member<'a> {
    members[n].as_mut().expect("grouped accounts have a member")
}

/// First move from 0 toward `limit` where `shortfall ≥ 0`.
pub(crate) fn find_side(
    shortfall: &mut impl FnMut(f64) -> f64,
    limit: f64,
    steps: usize,
) -> Option<f64> {
    let today = shortfall(0.0);
    if today >= 0.0 {
        return Some(0.0);
    }
    let mut safe = (0, today);
    for i in coarse_points(steps) {
        let here = shortfall(grid_point(limit, i, steps));
        if here >= 0.0 {
            return Some(refine(shortfall, (limit, steps), safe, (i, here)));
        }
        safe = (i, here);
    }
    None
}

/// A grid point and the shortfall there.
type Point = (usize, f64);

/// The crossing between grid points `safe` (no breach) and `breach`: the
/// first grid point between them that breaches, then narrowing from the
/// point before it, as a scan of every grid point would have bracketed it.
fn refine(
    shortfall: &mut impl FnMut(f64) -> f64,
    (limit, steps): (f64, usize),
    mut safe: Point,
    breach: Point,
) -> f64 {
    let at = |(i, value): Point| (grid_point(limit, i, steps), value);
    for i in safe.0 + 1..breach.0 {
        let here = shortfall(grid_point(limit, i, steps));
        if here >= 0.0 {
            return narrow(shortfall, at(safe), at((i, here)));
        }
        safe = (i, here);
    }
    narrow(shortfall, at(safe), at(breach))
}

/// Narrow the bracket between `safe` (shortfall < 0) and `breach` (≥ 0),
/// each a move and its shortfall, until it is shorter than the tolerance;
/// returns its breach end. Regula falsi with Anderson and Björck's rule
/// (so that both ends close in), and a bisection whenever three steps have
/// not halved the bracket.
fn narrow(shortfall: &mut impl FnMut(f64) -> f64, safe: (f64, f64), breach: (f64, f64)) -> f64 {
    let ((mut a, mut fa), (mut b, mut fb)) = (safe, breach);
    let mut kept = 0; // +1: `a` stayed last time, −1: `b` did.
    let mut widths = [f64::INFINITY; 3];
    for _ in 0..200 {
        let width = (b - a).abs();
        if width < MOVE_TOLERANCE {
            break;
        }
        // Three steps that have not halved the bracket: bisect.
        let slow = width > 0.5 * widths[0];
        widths = [widths[1], widths[2], width];
        let secant = b - fb * (b - a) / (fb - fa);
        let x = match secant.is_finite() && within(secant, a, b) && !slow {
            // At least half the tolerance from either end: once the
            // estimate is that close to the root, the step lands past it
            // and closes the bracket.
            true => nudge(secant, a, b, 0.5 * MOVE_TOLERANCE),
            false => 0.5 * (a + b),
        };
        let fx = shortfall(x);
        // The end that stays twice running has its value scaled down
        // (Anderson–Björck), so the next secant lands past the boundary.
        let scale = |replaced: f64| match 1.0 - fx / replaced {
            m if m > 0.0 => m,
            _ => 0.5,
        };
        if fx >= 0.0 {
            if kept == 1 {
                fa *= scale(fb);
            }
            (b, fb, kept) = (x, fx, 1);
        } else {
            if kept == -1 {
                fb *= scale(fa);
            }
            // Not a number counts as safe, as it does in the scan.
            (a, fa, kept) = (x, if fx.is_nan() { -1.0 } else { fx }, -1);
        }
    }
    b
}

/// `x` moved, if need be, to at least `gap` from `a` and from `b` (it lies
/// between them, which are more than twice `gap` apart).
fn nudge(x: f64, a: f64, b: f64, gap: f64) -> f64 {
    let toward_b = (b - a).signum();
    if (x - a).abs() < gap {
        a + gap * toward_b
    } else if (b - x).abs() < gap {
        b - gap * toward_b
    } else {
        x
    }
}

/// Whether `x` lies between `a` and `b` (either order).
fn within(x: f64, a: f64, b: f64) -> bool {
    a.min(b) < x && x < a.max(b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_nearer_side_in_sigmas_is_on_log_moves() {
        // -20 % is ln(0.8) = -0.22314; +25 % is ln(1.25) = 0.22314: the same
        // distance in log terms, 0.22314 / 0.04 = 5.5786 σ.
        let l = super::Liquidation {
            down_move: Some(-0.2),
            up_move: Some(0.3),
            ..Default::default()
        };
        let d = l.nearer_in_sigmas(0.04).unwrap();
        assert!((d - 0.8f64.ln().abs() / 0.04).abs() < 1e-12, "{d}");
        let up_only = super::Liquidation {
            up_move: Some(0.25),
            ..Default::default()
        };
        let u = up_only.nearer_in_sigmas(0.04).unwrap();
        assert!((u - 1.25f64.ln() / 0.04).abs() < 1e-12 && (u - d).abs() < 1e-3);
        assert_eq!(l.nearer_in_sigmas(0.0), None);
        assert_eq!(l.nearer_in_sigmas(f64::NAN), None);
        assert_eq!(super::Liquidation::default().nearer_in_sigmas(0.04), None);
    }

    use super::*;

    #[test]
    fn finds_the_first_crossing_not_a_later_one() {
        // Breach between 0.2 and 0.3, safe again after 0.5.
        let mut f = |m: f64| if (0.25..0.5).contains(&m) { 1.0 } else { -1.0 };
        let got = find_side(&mut f, 1.0, 10).unwrap();
        assert!((got - 0.25).abs() < 1e-6, "{got}");
    }

    #[test]
    fn the_scan_visits_every_grid_point_to_the_last() {
        let points = |steps| coarse_points(steps).collect::<Vec<_>>();
        assert_eq!(points(3), [1, 2, 3]);
        assert_eq!(points(120), (1..=120).collect::<Vec<_>>());
    }

    #[test]
    fn the_fine_grid_brackets_the_crossing_the_coarse_pass_found() {
        // Grid points 0.1 apart: 0.3 is the first breach, so narrowing
        // starts from [0.2, 0.3].
        let mut calls = Vec::new();
        let mut f = |m: f64| {
            calls.push(m);
            m - 0.27
        };
        let got = find_side(&mut f, 1.0, 10).unwrap();
        assert!((got - 0.27).abs() < 1e-6, "{got}");
        assert_eq!(calls[..4], [0.0, 0.1, 0.2, 0.3]);
        assert!(calls[4..].iter().all(|m| (0.2..=0.3).contains(m)));
    }

    /// The root within the tolerance, on its breach side, in few valuations
    /// on smooth, kinked and discontinuous curves, rising or falling moves.
    #[test]
    fn narrowing_closes_on_the_boundary_from_the_breach_side() {
        let root = 0.3;
        type Curve = (&'static str, fn(f64) -> f64, usize);
        let curves: [Curve; 5] = [
            // Bisection takes 20 from a bracket of 0.1.
            ("smooth", |m| (10.0 * m).exp() - 3f64.exp(), 8),
            ("kinked", |m| (2.0 * (m - 0.3)).max(0.5 * (m - 0.3)), 20),
            (
                "steeply kinked",
                |m| (8.0 * (m - 0.3)).max(0.5 * (m - 0.3)),
                30,
            ),
            (
                "flat then steep",
                |m| if m < 0.3 { -1e-9 } else { m - 0.3 },
                20,
            ),
            ("a step", |m| if m < 0.3 { -1.0 } else { 1.0 }, 20),
        ];
        for (name, f, most) in curves {
            for (safe, breach) in [(0.25, 0.35), (0.35, 0.25)] {
                // Falling moves: the curve mirrored about the root.
                let g = |m: f64| if safe < breach { f(m) } else { f(0.6 - m) };
                let mut calls = 0;
                let mut counted = |m: f64| {
                    calls += 1;
                    g(m)
                };
                let got = narrow(&mut counted, (safe, g(safe)), (breach, g(breach)));
                assert!((got - root).abs() < MOVE_TOLERANCE, "{name}: {got}");
                assert!(g(got) >= 0.0, "{name}: {got} is not a breach");
                assert!(calls <= most, "{name}: {calls} valuations");
            }
        }
    }

    #[test]
    fn none_within_range() {
        let mut f = |_m: f64| -1.0;
        assert_eq!(find_side(&mut f, -0.9, 20), None);
    }
}

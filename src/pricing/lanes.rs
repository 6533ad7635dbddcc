//! Black-76 over many scenarios at once, written so that the compiler
//! vectorizes it: VaR reprices every option thousands of times, and the
//! C library's `erfc` (one call per value, with branches between its
//! ranges) is most of that time.
//!
//! The normal distribution here has no branch: the upper tail is
//! `Q(z) = φ(z)·g(y)/(z + K)` for z = |x|, where `g` (the Mills ratio times
//! `z + K`, smooth over the whole half line) is one polynomial in
//! `y = (z − K)/(z + K)`, and `φ` uses an exponential built from
//! arithmetic and bit operations only. Its relative error is below 1e-15
//! over the whole range where N(x) is a normal double (tested against the
//! C library and published values).
//!
//! Where the CPU has AVX2 and FMA (checked at run time) the same code runs
//! four lanes wide with fused multiply-adds; elsewhere two lanes with
//! separate ones. The two builds may differ in the last bit, as libm
//! builds do; both are held to the same error bounds by the tests.

use super::OptionType;

/// The mapping constant of `y = (z − K)/(z + K)`.
const K: f64 = 4.0;

/// `g(y)` in powers of y, lowest first: the Chebyshev expansion of
/// `(z + K)·Q(z)/φ(z)` on y ∈ [−1, 1], computed at 40 digits and cut where
/// its terms fall below 3e-17, then written as a plain polynomial.
const G: [f64; 25] = [
    1.893_219_063_308_485_3,
    -1.523_770_910_819_983_5,
    0.970_409_554_867_588_4,
    -0.467_540_962_998_332_5,
    0.151_391_762_312_443_47,
    -0.018_900_450_861_711_257,
    -0.008_722_295_274_260_125,
    0.004_087_855_681_200_072,
    0.000_334_244_616_232_844_1,
    -0.000_579_269_304_647_871_9,
    -4.783_264_259_417_208e-6,
    8.809_573_121_072_337e-5,
    1.796_397_121_404_077_8e-6,
    -1.484_327_767_908_029_4e-5,
    -1.578_766_565_467_737_3e-6,
    2.568_755_311_229_722e-6,
    6.829_633_831_673_466e-7,
    -4.004_939_292_511_71e-7,
    -2.177_419_502_203_932_6e-7,
    4.473_060_051_450_323e-8,
    5.371_103_765_158_957_6e-8,
    -1.472_299_892_374_630_7e-9,
    -9.351_340_444_824_34e-9,
    -3.007_397_967_239_876_6e-10,
    8.530_838_860_260_53e-10,
];

/// Adding then subtracting 1.5·2⁵² rounds a double to an integer, and the
/// sum's low bits are that integer: rounding and conversion without a branch.
const MAGIC: f64 = 6_755_399_441_055_744.0;
/// ln 2 split so that `n·LN2_HI` is exact for the exponents used here.
const LN2_HI: f64 = 0.693_146_705_627_441_4;
const LN2_LO: f64 = 4.749_325_039_031_672_6e-7;
const LOG2_E: f64 = std::f64::consts::LOG2_E;
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
/// Beyond this |x|, N(x) is 0 or 1 in doubles (N(−38.5) < 1e-323).
const Z_MAX: f64 = 40.0;

/// a·b + c: fused (one rounding, one instruction) in the FMA build,
/// a multiply and an add otherwise (a software fma would be slow).
#[inline(always)]
fn madd<const FUSED: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FUSED {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// The polynomial Σ c[i]·x^i by Estrin's scheme: pairs, then pairs of
/// pairs with x², x⁴…, so the dependency chain is log₂(N) steps instead
/// of Horner's N — that chain, not the arithmetic, bounds the speed here.
/// The loops have constant bounds and unroll completely.
#[inline(always)]
fn estrin<const FUSED: bool, const N: usize>(c: &[f64; N], x: f64) -> f64 {
    let mut v = *c;
    let (mut n, mut power) = (N, x);
    while n > 1 {
        let half = n / 2;
        for i in 0..half {
            v[i] = madd::<FUSED>(v[2 * i + 1], power, v[2 * i]);
        }
        if n % 2 == 1 {
            v[half] = v[n - 1];
        }
        n = half + n % 2;
        power = power * power;
    }
    v[0]
}

/// e^r for |r| ≤ 0.35 (ln 2 / 2 and the exponent's small part): the
/// degree-11 Chebyshev interpolant of e^r on that interval, computed at 40
/// digits and written in powers of r (its error, 3e-18, is far below
/// the rounding of the sum).
#[inline(always)]
fn exp_reduced<const FUSED: bool>(r: f64) -> f64 {
    const C: [f64; 12] = [
        1.0,
        1.0,
        0.500_000_000_000_001_9,
        0.166_666_666_666_667_02,
        0.041_666_666_666_487_67,
        0.008_333_333_333_309_47,
        0.001_388_888_895_242_800_5,
        0.000_198_412_699_093_376_3,
        2.480_148_536_154_849_4e-5,
        2.755_722_484_717_99e-6,
        2.763_268_420_249_408_5e-7,
        2.511_490_648_506_909e-8,
    ];
    estrin::<FUSED, 12>(&C, r)
}

/// 2^m for an integer-valued m in [−1022, 1023], from its bits.
#[inline(always)]
fn pow2(m: f64) -> f64 {
    let biased = (m + (1023.0 + MAGIC)).to_bits() - MAGIC.to_bits();
    f64::from_bits(biased << 52)
}

/// The density φ(z) for z in [0, Z_MAX].
#[inline(always)]
fn density<const FUSED: bool>(z: f64) -> f64 {
    // −z²/2 = a + t with a exact: `hi` keeps 26 bits, so hi² is exact,
    // and z² = hi² + lo·(z + hi). Without this the exponent's rounding
    // error (z²·1e-16) would grow into the far tail's relative error.
    let hi = f64::from_bits(z.to_bits() & 0xFFFF_FFFF_F800_0000);
    let a = -0.5 * (hi * hi);
    let t = -0.5 * ((z - hi) * (z + hi));
    // e^(a+t) = 2^n·e^r, n = round(a/ln 2); 2^n in two halves so neither
    // leaves the normal range before the product underflows (a ≥ −800).
    let n = (a * LOG2_E + MAGIC) - MAGIC;
    let r = (a - n * LN2_HI) - n * LN2_LO + t;
    let n1 = (n * 0.5 + MAGIC) - MAGIC;
    exp_reduced::<FUSED>(r) * FRAC_1_SQRT_2PI * pow2(n1) * pow2(n - n1)
}

/// The Mills ratio Q(z)/φ(z) for z in [0, Z_MAX].
#[inline(always)]
fn mills<const FUSED: bool>(z: f64) -> f64 {
    let inv = 1.0 / (z + K);
    estrin::<FUSED, 25>(&G, (z - K) * inv) * inv
}

/// |x| limited to Z_MAX (NaN becomes Z_MAX; callers keep the NaN),
/// as selects rather than min/max so that it compiles to blends.
#[inline(always)]
fn tail_argument(x: f64) -> f64 {
    let z = x.abs();
    if z < Z_MAX {
        z
    } else {
        Z_MAX
    }
}

/// N(x) from its upper tail at |x|.
#[inline(always)]
fn from_tail(x: f64, q: f64) -> f64 {
    if x < 0.0 {
        q
    } else {
        1.0 - q
    }
}

/// Standard normal N(x), NaN for NaN; `FUSED` as in `madd`.
#[inline(always)]
pub fn cdf_with<const FUSED: bool>(x: f64) -> f64 {
    let z = tail_argument(x);
    let p = from_tail(x, density::<FUSED>(z) * mills::<FUSED>(z));
    if x.is_nan() {
        x
    } else {
        p
    }
}

/// Standard normal N(x), without fused multiply-adds.
pub fn cdf(x: f64) -> f64 {
    cdf_with::<false>(x)
}

/// One option across scenarios: what does not change between them.
#[derive(Clone, Copy, Debug)]
pub struct Inputs {
    pub option_type: OptionType,
    pub strike: f64,
    /// Forward before the move, USD.
    pub forward: f64,
    /// ln(F/K) before the move.
    pub ln_fk: f64,
    /// Total volatility σ√T before the vol move; must be > 0.
    pub total_vol: f64,
}

/// The scenarios' moves of one underlying and its volatility, with the
/// reciprocals every option on them shares (a division is the slowest
/// instruction in the loop).
#[derive(Clone, Copy, Debug)]
pub struct Moves<'a> {
    /// ln of the forward's growth.
    pub log: &'a [f64],
    /// The growth e^log, and its reciprocal.
    pub grown: &'a [f64],
    pub inv_grown: &'a [f64],
    /// The volatility's multiplier, and its reciprocal.
    pub vol: &'a [f64],
    pub inv_vol: &'a [f64],
}

impl Moves<'_> {
    pub fn len(&self) -> usize {
        self.log.len()
    }

    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    fn check(&self, n: usize) {
        let lens = [self.grown, self.inv_grown, self.vol, self.inv_vol].map(<[f64]>::len);
        assert!(self.len() == n && lens.iter().all(|l| *l == n));
    }
}

/// USD value of the option in each scenario: the forward grown by
/// `moves.grown[i]` = e^`moves.log[i]` and the volatility multiplied by
/// `moves.vol[i]`. Floored at intrinsic value like `black76::price`.
pub fn values(s: &Inputs, moves: &Moves, out: &mut [f64]) {
    match s.option_type {
        OptionType::Call => run(s, moves, Calls(out)),
        OptionType::Put => run(s, moves, Puts(out)),
    }
}

/// `values` of the call and the put on the same forward, strike and
/// volatility (`s.option_type` is ignored): they share both normal tails,
/// so the pair costs about what one of them does.
pub fn call_and_put_values(s: &Inputs, moves: &Moves, calls: &mut [f64], puts: &mut [f64]) {
    run(s, moves, Both(calls, puts));
}

/// Where a loop puts each scenario's call and put values.
trait Sink {
    fn len(&self) -> usize;
    fn set(&mut self, i: usize, call: f64, put: f64);
}

struct Calls<'a>(&'a mut [f64]);
struct Puts<'a>(&'a mut [f64]);
struct Both<'a>(&'a mut [f64], &'a mut [f64]);

impl Sink for Calls<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    #[inline(always)]
    fn set(&mut self, i: usize, call: f64, _: f64) {
        self.0[i] = call;
    }
}

impl Sink for Puts<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    #[inline(always)]
    fn set(&mut self, i: usize, _: f64, put: f64) {
        self.0[i] = put;
    }
}

impl Sink for Both<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    #[inline(always)]
    fn set(&mut self, i: usize, call: f64, put: f64) {
        self.0[i] = call;
        self.1[i] = put;
    }
}

/// Runs the loop four lanes wide with FMA where the CPU has AVX2 and FMA,
/// else two lanes wide.
fn run<S: Sink>(s: &Inputs, moves: &Moves, sink: S) {
    moves.check(sink.len());
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA, checked just above.
        unsafe { run_avx2_fma(s, moves, sink) };
        return;
    }
    run_with::<false, S>(s, moves, sink);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2_fma<S: Sink>(s: &Inputs, moves: &Moves, sink: S) {
    run_with::<true, S>(s, moves, sink);
}

/// The loop both builds share; inlined into each so that it is compiled
/// for that build's lanes. What the sink does not keep is never computed.
#[inline(always)]
fn run_with<const FUSED: bool, S: Sink>(s: &Inputs, moves: &Moves, mut sink: S) {
    let c = Constants::of(s);
    let n = sink.len();
    // Slices of one checked length: the loop has no bounds checks, and
    // vectorizes.
    let (log, grown, vol, inv_vol) = (
        &moves.log[..n],
        &moves.grown[..n],
        &moves.vol[..n],
        &moves.inv_vol[..n],
    );
    for i in 0..n {
        let sd = c.total_vol * vol[i];
        let d1 = madd::<FUSED>((c.ln_fk + log[i]) * c.inv_total_vol, inv_vol[i], 0.5 * sd);
        let (call, put) = call_put::<FUSED>(&c, c.forward * grown[i], c.fk * grown[i], d1, sd);
        sink.set(i, call, put);
    }
}

/// The call's and the put's values at forward `f` (F/K = `fk`), d1 and
/// total vol `sd`.
#[inline(always)]
fn call_put<const FUSED: bool>(c: &Constants, f: f64, fk: f64, d1: f64, sd: f64) -> (f64, f64) {
    let k = c.strike;
    let d2 = d1 - sd;
    let (z1, z2) = (tail_argument(d1), tail_argument(d2));
    // φ(d2) = φ(d1)·F/K exactly (d1² − d2² = 2 ln(F/K)): one
    // exponential, not two.
    let phi1 = density::<FUSED>(z1);
    let phi2 = phi1 * fk;
    let [m1, m2] = mills_pair::<FUSED>(z1, z2);
    let (t1, t2) = (phi1 * m1, phi2 * m2);
    let call = f * from_tail(d1, t1) - k * from_tail(d2, t2);
    let put = k * from_tail(-d2, t2) - f * from_tail(-d1, t1);
    (floored(call, f - k), floored(put, k - f))
}

/// What every scenario of one option shares, reciprocals included.
struct Constants {
    strike: f64,
    forward: f64,
    ln_fk: f64,
    total_vol: f64,
    inv_total_vol: f64,
    /// F/K before the move.
    fk: f64,
}

impl Constants {
    #[inline(always)]
    fn of(s: &Inputs) -> Constants {
        Constants {
            strike: s.strike,
            forward: s.forward,
            ln_fk: s.ln_fk,
            total_vol: s.total_vol,
            inv_total_vol: 1.0 / s.total_vol,
            fk: s.forward / s.strike,
        }
    }
}

/// The Mills ratios at two points, with one division for both.
#[inline(always)]
fn mills_pair<const FUSED: bool>(z1: f64, z2: f64) -> [f64; 2] {
    let (a1, a2) = (z1 + K, z2 + K);
    let both = 1.0 / (a1 * a2);
    let (inv1, inv2) = (both * a2, both * a1);
    [
        estrin::<FUSED, 25>(&G, (z1 - K) * inv1) * inv1,
        estrin::<FUSED, 25>(&G, (z2 - K) * inv2) * inv2,
    ]
}

/// max(v, intrinsic, 0) as selects, so that it compiles to blends.
#[inline(always)]
fn floored(v: f64, intrinsic: f64) -> f64 {
    let floor = if intrinsic > 0.0 { intrinsic } else { 0.0 };
    if v > floor {
        v
    } else {
        floor
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::{normal, price_with_total_vol};

    /// Both builds: with FMA (emulated exactly where the CPU lacks it) and
    /// without.
    const BUILDS: [fn(f64) -> f64; 2] = [cdf_with::<true>, cdf_with::<false>];

    #[test]
    fn cdf_matches_values_computed_at_40_digits() {
        // N(x) evaluated independently with mpmath at 40 digits.
        let table = [
            (-37.0, 5.725_571_222_524_577e-300),
            (-20.0, 2.753_624_118_606_233_7e-89),
            (-8.5, 9.479_534_822_203_318e-18),
            (-3.3, 4.834_241_423_837_775e-4),
            (-0.7, 0.241_963_652_223_073_03),
            (0.0, 0.5),
            (0.25, 0.598_706_325_682_923_7),
            (1.5, 0.933_192_798_731_141_9),
            (6.0, 0.999_999_999_013_412_4),
        ];
        for (build, cdf) in BUILDS.iter().enumerate() {
            for (x, want) in table {
                let got = cdf(x);
                let err = ((got - want) / want).abs();
                assert!(err < 1e-15, "build {build}: N({x}) = {got}, want {want}");
            }
        }
    }

    #[test]
    fn cdf_agrees_with_the_c_library() {
        // The C library route, erfc(−x/√2)/2, is accurate to an ulp in erfc
        // but rounds −x/√2 first, which costs it about x²·1.1e-16 relative
        // (d ln erfc(u)/du ≈ −2u): the tolerance allows for that, and
        // the 40-digit table above checks the far tail exactly.
        for (build, cdf) in BUILDS.iter().enumerate() {
            let mut worst: f64 = 0.0;
            for i in -38_000..=38_000 {
                let x = i as f64 * 1e-3 + 1.234_567e-7;
                let want = normal::cdf(x);
                if want < 1e-300 {
                    continue;
                }
                let allowed = 1e-15 + 2.5e-16 * x * x;
                worst = worst.max(((cdf(x) - want) / want).abs() / allowed);
            }
            assert!(worst < 1.0, "build {build}: worst {worst} of the allowance");
        }
    }

    #[test]
    fn cdf_edges() {
        for cdf in BUILDS {
            assert!(cdf(f64::NAN).is_nan());
            assert_eq!(cdf(f64::INFINITY), 1.0);
            assert_eq!(cdf(f64::NEG_INFINITY), 0.0);
            assert_eq!(cdf(-39.0), 0.0);
            assert_eq!(cdf(9.0), 1.0);
            // Subnormal results are still right to their coarser precision.
            let far = cdf(-38.0);
            assert!(far > 0.0 && (far / normal::cdf(-38.0) - 1.0).abs() < 1e-6);
        }
    }

    /// Scenarios over ±60 % moves and vol multipliers 0.4–1.3, odd in
    /// number so that no loop divides them evenly.
    struct Grid {
        log: Vec<f64>,
        grown: Vec<f64>,
        inv_grown: Vec<f64>,
        vol: Vec<f64>,
        inv_vol: Vec<f64>,
    }

    impl Grid {
        fn new() -> Grid {
            let log: Vec<f64> = (0..301).map(|i| -0.6 + 0.004 * i as f64).collect();
            let grown: Vec<f64> = log.iter().map(|r| r.exp()).collect();
            let vol: Vec<f64> = (0..301).map(|i| 0.4 + 0.01 * (i % 90) as f64).collect();
            let inverse = |v: &[f64]| v.iter().map(|x| 1.0 / x).collect::<Vec<f64>>();
            let (inv_grown, inv_vol) = (inverse(&grown), inverse(&vol));
            Grid {
                log,
                grown,
                inv_grown,
                vol,
                inv_vol,
            }
        }

        fn moves(&self) -> Moves<'_> {
            Moves {
                log: &self.log,
                grown: &self.grown,
                inv_grown: &self.inv_grown,
                vol: &self.vol,
                inv_vol: &self.inv_vol,
            }
        }
    }

    const F: f64 = 88_000.0;
    const STRIKES: [f64; 5] = [20_000.0, 80_000.0, 88_000.0, 150_000.0, 400_000.0];

    fn inputs(option_type: OptionType, strike: f64) -> Inputs {
        Inputs {
            option_type,
            strike,
            forward: F,
            ln_fk: (F / strike).ln(),
            total_vol: 0.55 * f64::sqrt(0.1),
        }
    }

    /// The one-at-a-time Black-76 (C library normal) in scenario i.
    fn one_at_a_time(s: &Inputs, g: &Grid, i: usize) -> f64 {
        let (f1, sd) = (F * g.grown[i], s.total_vol * g.vol[i]);
        price_with_total_vol(s.option_type, f1, s.strike, s.ln_fk + g.log[i], sd)
    }

    fn assert_close(got: f64, want: f64, what: &str) {
        // Both round d1 and d2, which the tails amplify by about d²:
        // 1e-12 of the value, or of F for values near 0.
        let close = (got - want).abs() <= 1e-12 * want.max(1e-2 * F);
        assert!(close, "{what}: {got} vs {want}");
    }

    #[test]
    fn values_match_the_one_at_a_time_price_in_both_builds() {
        let g = Grid::new();
        for option_type in [OptionType::Call, OptionType::Put] {
            for strike in STRIKES {
                let s = inputs(option_type, strike);
                let mut dispatched = vec![0.0; g.log.len()];
                values(&s, &g.moves(), &mut dispatched);
                let mut portable = vec![0.0; g.log.len()];
                match option_type {
                    OptionType::Call => run_with::<false, _>(&s, &g.moves(), Calls(&mut portable)),
                    OptionType::Put => run_with::<false, _>(&s, &g.moves(), Puts(&mut portable)),
                }
                for i in 0..g.log.len() {
                    let want = one_at_a_time(&s, &g, i);
                    let what = format!("{option_type:?} K={strike} #{i}");
                    assert_close(dispatched[i], want, &what);
                    assert_close(portable[i], want, &format!("{what} portable"));
                }
            }
        }
    }

    #[test]
    fn a_call_and_its_put_priced_together_keep_parity() {
        let g = Grid::new();
        for strike in STRIKES {
            let n = g.log.len();
            let (mut calls, mut puts) = (vec![0.0; n], vec![0.0; n]);
            let s = inputs(OptionType::Put, strike);
            call_and_put_values(&s, &g.moves(), &mut calls, &mut puts);
            for i in 0..n {
                let call = inputs(OptionType::Call, strike);
                assert_close(calls[i], one_at_a_time(&call, &g, i), "call");
                assert_close(puts[i], one_at_a_time(&s, &g, i), "put");
                // C − P = F − K with no discounting (Deribit's zero rate).
                let parity = F * g.grown[i] - strike;
                assert_close(
                    calls[i] - puts[i],
                    parity,
                    &format!("parity K={strike} #{i}"),
                );
            }
        }
    }
}

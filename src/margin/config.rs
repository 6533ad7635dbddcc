//! Margin models as data: the structures behind `config/models/*.toml`.
//!
//! The shipped models are compiled in (so the binary works from any
//! directory) and a user's model directory can add or replace them.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The models shipped with margintop, by file name.
pub const BUILTIN_MODELS: [(&str, &str); 3] = [
    (
        "deribit_pm",
        include_str!("../../config/models/deribit_pm.toml"),
    ),
    (
        "deribit_sm",
        include_str!("../../config/models/deribit_sm.toml"),
    ),
    ("span16", include_str!("../../config/models/span16.toml")),
];

#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelConfig {
    /// Revalue the book on a scenario grid, take the worst loss, add charges.
    RiskMatrix(RiskMatrixModel),
    /// Per-position rates summed over the book (Deribit standard margin).
    Standard(StandardModel),
}

impl ModelConfig {
    pub fn name(&self) -> &str {
        match self {
            ModelConfig::RiskMatrix(m) => &m.name,
            ModelConfig::Standard(m) => &m.name,
        }
    }

    pub fn margin_balance_rule(&self) -> MarginBalanceRule {
        match self {
            ModelConfig::RiskMatrix(m) => m.margin_balance,
            ModelConfig::Standard(m) => m.margin_balance,
        }
    }

    /// The fraction of a currency's value that does not count as collateral
    /// in a cross-collateral account (0 where the model names none).
    pub fn haircut(&self, currency: &str) -> f64 {
        self.haircuts().get(currency).copied().unwrap_or(0.0)
    }

    pub fn haircuts(&self) -> &BTreeMap<String, f64> {
        match self {
            ModelConfig::RiskMatrix(m) => &m.haircuts,
            ModelConfig::Standard(m) => &m.haircuts,
        }
    }

    pub fn liquidation_search(&self) -> LiquidationSearch {
        match self {
            ModelConfig::RiskMatrix(m) => m.liquidation_search,
            ModelConfig::Standard(m) => m.liquidation_search,
        }
    }
}

/// What counts as collateral (docs/design.md).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MarginBalanceRule {
    /// Portfolio margin: the risk matrix measures losses from today's marks,
    /// so today's option value must sit in the collateral.
    Equity,
    /// Standard margin: long options are not collateral; short options are
    /// charged through their "+ mark" margin term.
    EquityMinusOptionsValue,
}

/// How far and how finely to look for the liquidation price.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LiquidationSearch {
    /// Largest fall searched, as a fraction (0.95 = −95 %).
    pub down: f64,
    /// Largest rise searched, as a fraction (4.0 = +400 %).
    pub up: f64,
    /// Scan points on each side before the bracketing root finder.
    pub steps: usize,
}

impl Default for LiquidationSearch {
    fn default() -> Self {
        LiquidationSearch {
            down: 0.95,
            up: 4.0,
            steps: 120,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskMatrixModel {
    /// The file's `kind` tag (read before this struct; kept so that
    /// unknown keys can still be refused).
    #[serde(default, rename = "kind")]
    pub kind_tag: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub margin_balance: MarginBalanceRule,
    /// MM = mm_factor × risk-matrix margin.
    pub mm_factor: f64,
    /// IM = im_factor × risk-matrix margin + order add-ons.
    #[serde(default = "one")]
    pub im_factor: f64,
    pub grid: GridLayout,
    pub vol_shock: VolShockRule,
    #[serde(default)]
    pub roll_shock: RollShockRule,
    #[serde(default)]
    pub delta_shock: DeltaShockRule,
    #[serde(default)]
    pub liquidation_search: LiquidationSearch,
    /// Collateral haircuts of a cross-collateral account, by currency.
    #[serde(default)]
    pub haircuts: BTreeMap<String, f64>,
    /// Parameters per index ("btc_usd"); the entry "default" serves the rest.
    pub pairs: BTreeMap<String, PairParams>,
    /// Parameters per settlement currency ("btc", "usdc"); "default" too.
    pub currencies: BTreeMap<String, CurrencyParams>,
}

fn one() -> f64 {
    1.0
}

#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "layout", rename_all = "snake_case", deny_unknown_fields)]
pub enum GridLayout {
    /// Deribit PM: `2·buckets + 1` price points from −range to +range, each
    /// with the listed vol scenarios, then the extended table.
    Deribit {
        buckets: usize,
        vol_scenarios: Vec<VolMove>,
        extended_moves: Vec<f64>,
        extended_vol: VolMove,
    },
    /// CME SPAN's 16 scenarios: price 0, ±1/3, ±2/3, ±3/3 of the range with
    /// vol up and down, and two extreme moves of `extreme_multiple` × range
    /// at unchanged vol of which `extreme_weight` of the P&L counts.
    Span16 {
        extreme_multiple: f64,
        extreme_weight: f64,
    },
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum VolMove {
    Up,
    Same,
    Down,
}

impl VolMove {
    pub fn label(self) -> &'static str {
        match self {
            VolMove::Up => "up",
            VolMove::Same => "same",
            VolMove::Down => "down",
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum VolShockRule {
    /// Relative shock scaled by time to expiry:
    /// up `max(σ(1 + up·(pivot/DTE)^p), min_up)`, down `max(σ(1 − down·(pivot/DTE)^p), 0)`,
    /// `p` = short-term power below the pivot, long-term power above.
    TimeScaled { pivot_days: f64 },
    /// Absolute shift of `volatility_range_up/down` vol (fractions), floored at 0.
    Absolute,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum RollShockRule {
    #[default]
    None,
    /// `Σ |Q| × max(min_annualised_move, annualised_move_risk × T)` over futures.
    PerPosition,
    /// Per expiry on its net delta: `Σ_e |NΔ_e| × max(e^(annualised_move_risk·T_e) − 1, min_annualised_move)`;
    /// perpetuals at `min_annualised_move`.
    PerExpiryNetDelta,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum DeltaShockRule {
    #[default]
    None,
    /// Deribit publishes `max_delta_shock` and `delta_total_liq_shock_threshold`
    /// but not the formula. Our choice: zero while |delta_total| in USD is
    /// under the threshold, then `max_delta_shock × |delta_total|` phased in
    /// linearly, fully charged at twice the threshold.
    ExcessOverThreshold,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairParams {
    pub price_range: f64,
    pub volatility_range_up: f64,
    pub volatility_range_down: f64,
    #[serde(default)]
    pub min_volatility_for_shock_up: f64,
    #[serde(default)]
    pub short_term_vega_power: f64,
    #[serde(default)]
    pub long_term_vega_power: f64,
    #[serde(default = "one")]
    pub extended_table_factor: f64,
    #[serde(default)]
    pub max_delta_shock: f64,
    #[serde(default)]
    pub delta_total_liq_shock_threshold: f64,
    /// Minimum charge per short option contract in coin, converted at the
    /// index for USDC books (SPAN's short option minimum).
    #[serde(default)]
    pub short_option_minimum: f64,
    /// Sent by Deribit, meaning unpublished; kept so model_params paste in.
    #[serde(default)]
    pub m_inc: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurrencyParams {
    #[serde(default)]
    pub annualised_move_risk: f64,
    #[serde(default)]
    pub min_annualised_move: f64,
    /// USD absorbed from each extended-table loss (scaled by the move).
    #[serde(default)]
    pub extended_dampener: f64,
    /// Fraction of a scenario gain that offsets losses elsewhere (0 = none).
    #[serde(default)]
    pub pnl_offset: f64,
    /// Cap on a scenario's offsetting gain, USD (0 = no cap).
    #[serde(default)]
    pub max_offsetable_pnl: f64,
    /// Cross-collateral fields Deribit sends; not used by a single-currency book.
    #[serde(default)]
    pub haircut: f64,
    #[serde(default)]
    pub equity_side_impact: Option<String>,
    #[serde(default)]
    pub correlation_set: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandardModel {
    /// The file's `kind` tag (read before this struct; kept so that
    /// unknown keys can still be refused).
    #[serde(default, rename = "kind")]
    pub kind_tag: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub margin_balance: MarginBalanceRule,
    pub options: OptionRates,
    /// Futures rates per base currency ("BTC"); "default" serves the rest.
    pub futures: BTreeMap<String, FutureRates>,
    #[serde(default)]
    pub liquidation_search: LiquidationSearch,
    /// Collateral haircuts of a cross-collateral account, by currency.
    #[serde(default)]
    pub haircuts: BTreeMap<String, f64>,
}

/// Per-contract option margin, as fractions of one coin (Deribit SM):
/// short call IM `max(im_base − OTM/U, im_floor) + mark`, MM `mm + mark`;
/// short put IM `max(max(im_base − OTM/U, im_floor) + mark, MM)`,
/// MM `max(mm, mm·mark) + mark`; longs 0.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionRates {
    pub im_base: f64,
    pub im_floor: f64,
    pub mm: f64,
}

/// Futures margin rate `base + |size in coin| × increase_per_coin`, times |size in coin|.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FutureRates {
    pub im_base: f64,
    pub mm_base: f64,
    pub increase_per_coin: f64,
}

impl RiskMatrixModel {
    /// The parameters of an index: its own, else (a linear pair such as
    /// `eth_usdc`) those of its coin's USD index (`eth_usd`), else `default`.
    /// Deribit publishes none for linear pairs: taking the coin's is our choice.
    pub fn pair(&self, index_name: &str) -> Option<&PairParams> {
        let coin_usd = || {
            let coin = index_name.split('_').next()?;
            self.pairs.get(&format!("{coin}_usd"))
        };
        (self.pairs.get(index_name))
            .or_else(coin_usd)
            .or_else(|| self.pairs.get("default"))
    }

    pub fn currency(&self, currency: &str) -> Option<&CurrencyParams> {
        self.currencies
            .get(&currency.to_ascii_lowercase())
            .or_else(|| self.currencies.get("default"))
    }
}

#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Parse one model file; `origin` names it in errors.
pub fn parse_model(text: &str, origin: &str) -> Result<ModelConfig, ConfigError> {
    let err = |e: toml::de::Error| ConfigError(format!("{origin}: {e}"));
    // Read `kind` first, then the model's own struct: deserializing through
    // the tagged enum would lose the line and key of an error.
    #[derive(Deserialize)]
    struct Kind {
        kind: String,
    }
    let kind: Kind = toml::from_str::<toml::Table>(text)
        .map_err(err)
        .and_then(|t| t.try_into().map_err(err))?;
    let model = match kind.kind.as_str() {
        "risk_matrix" => ModelConfig::RiskMatrix(toml::from_str(text).map_err(err)?),
        "standard" => ModelConfig::Standard(toml::from_str(text).map_err(err)?),
        other => {
            return Err(ConfigError(format!(
                "{origin}: unknown kind {other:?}; expected \"risk_matrix\" or \"standard\""
            )))
        }
    };
    validate(&model).map_err(|e| ConfigError(format!("{origin}: {e}")))?;
    Ok(model)
}

fn validate(model: &ModelConfig) -> Result<(), String> {
    let search = model.liquidation_search();
    if !(search.down > 0.0 && search.down < 1.0 && search.up > 0.0 && search.steps >= 2) {
        return Err("liquidation_search needs 0 < down < 1, up > 0, steps ≥ 2".into());
    }
    for (ccy, &h) in model.haircuts() {
        if !(0.0..1.0).contains(&h) {
            return Err(format!("haircuts.{ccy} = {h} must be in [0, 1)"));
        }
    }
    if let ModelConfig::RiskMatrix(m) = model {
        if !m.pairs.contains_key("default") && m.pairs.is_empty() {
            return Err("a risk_matrix model needs at least one [pairs.*] table".into());
        }
        for (name, p) in &m.pairs {
            if !(p.price_range > 0.0 && p.price_range < 1.0) {
                return Err(format!("pairs.{name}.price_range must be in (0, 1)"));
            }
        }
        if let GridLayout::Deribit {
            buckets,
            vol_scenarios,
            extended_moves,
            ..
        } = &m.grid
        {
            if *buckets == 0 || vol_scenarios.is_empty() {
                return Err("grid needs buckets ≥ 1 and at least one vol scenario".into());
            }
            if extended_moves.iter().any(|mv| *mv <= -1.0 || *mv == 0.0) {
                return Err("extended_moves must be non-zero and above -1".into());
            }
        }
    }
    Ok(())
}

/// All models: the built-in ones, then `*.toml` in `dir` (if given), which
/// may replace a built-in model of the same name.
pub fn load_models(dir: Option<&Path>) -> Result<BTreeMap<String, ModelConfig>, ConfigError> {
    let mut models = BTreeMap::new();
    for (file, text) in BUILTIN_MODELS {
        let model = parse_model(text, &format!("built-in model {file}"))?;
        models.insert(model.name().to_string(), model);
    }
    if let Some(dir) = dir {
        let entries =
            std::fs::read_dir(dir).map_err(|e| ConfigError(format!("{}: {e}", dir.display())))?;
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
            let model = parse_model(&text, &path.display().to_string())?;
            models.insert(model.name().to_string(), model);
        }
    }
    Ok(models)
}

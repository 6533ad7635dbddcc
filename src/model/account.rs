//! Accounts and positions as the exchange reports them.

/// Which account: its label and the currency of its wallet. The screens
/// select, open and remember accounts by this, never by a row's position.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountKey {
    pub label: String,
    pub currency: String,
}

impl AccountKey {
    pub fn new(label: impl Into<String>, currency: impl Into<String>) -> AccountKey {
        AccountKey {
            label: label.into(),
            currency: currency.into(),
        }
    }

    /// "desk-a [BTC]", as screens and alerts name an account.
    pub fn name(&self) -> String {
        format!("{} [{}]", self.label, self.currency)
    }
}

/// One position: size in the instrument's own units (USD for inverse
/// futures, coin for options and linear instruments; negative = short).
#[derive(Clone, Debug, PartialEq)]
pub struct Position {
    pub instrument: String,
    pub size: f64,
    /// Price from which the futures session P&L is measured (the last
    /// settlement price; the average price when there was none).
    pub session_ref_price: Option<f64>,
}

/// Margin that comes from orders and exchange settings rather than
/// positions (Deribit's `mmp_margin`, `open_orders_margin`, `spot_margin`).
/// They count towards initial margin only.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AddOns {
    pub mmp: f64,
    pub open_orders: f64,
    pub spot: f64,
}

impl AddOns {
    pub fn total(&self) -> f64 {
        self.mmp + self.open_orders + self.spot
    }
}

/// The exchange's own latest figures for an account, kept beside ours.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ExchangeFigures {
    pub initial_margin: Option<f64>,
    pub maintenance_margin: Option<f64>,
    pub equity: Option<f64>,
    pub margin_balance: Option<f64>,
    /// A cross-collateral account's totals in USD (Deribit's `total_*_usd`);
    /// the amounts above are then those totals in this currency.
    pub totals_usd: Option<UsdTotals>,
    pub as_of: i64,
}

/// The exchange's totals of a cross-collateral account, in USD.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct UsdTotals {
    pub margin_balance: f64,
    pub equity: f64,
    pub initial_margin: f64,
    pub maintenance_margin: f64,
}

impl UsdTotals {
    /// MM over the margin balance (None unless the balance is positive).
    pub fn mm_ratio(&self) -> Option<f64> {
        (self.margin_balance > 0.0).then(|| self.maintenance_margin / self.margin_balance)
    }
}

/// How an account's wallets back its positions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Collateral {
    /// Each currency's wallet margins its own positions.
    #[default]
    Segregated,
    /// Every wallet of the account backs one requirement, compared in USD.
    Cross,
}

/// One watched account in one currency.
#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    pub label: String,
    /// Settlement currency of the account ("BTC", "ETH", "USDC").
    pub currency: String,
    /// Name of the margin model (a `config/models/*.toml` name).
    pub model: String,
    /// Cash balance in `currency`.
    pub balance: f64,
    /// Futures P&L realized this session (since the last settlement).
    pub futures_session_rpl: f64,
    pub positions: Vec<Position>,
    pub add_ons: AddOns,
    pub exchange: ExchangeFigures,
    pub collateral: Collateral,
}

impl Account {
    pub fn new(label: &str, currency: &str, model: &str) -> Account {
        Account {
            label: label.to_string(),
            currency: currency.to_string(),
            model: model.to_string(),
            balance: 0.0,
            futures_session_rpl: 0.0,
            positions: Vec::new(),
            add_ons: AddOns::default(),
            exchange: ExchangeFigures::default(),
            collateral: Collateral::Segregated,
        }
    }

    /// Replace the size of a position, adding or removing it as needed.
    pub fn set_position(&mut self, instrument: &str, size: f64, session_ref_price: Option<f64>) {
        let existing = self
            .positions
            .iter()
            .position(|p| p.instrument == instrument);
        match (existing, size == 0.0) {
            (Some(i), true) => {
                self.positions.remove(i);
            }
            (Some(i), false) => {
                self.positions[i].size = size;
                if session_ref_price.is_some() {
                    self.positions[i].session_ref_price = session_ref_price;
                }
            }
            (None, true) => {}
            (None, false) => self.positions.push(Position {
                instrument: instrument.to_string(),
                size,
                session_ref_price,
            }),
        }
    }
}

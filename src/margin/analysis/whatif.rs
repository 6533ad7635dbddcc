//! A book after hypothetical trades at today's marks: what a trade would
//! do to the margin before it is sent.

use crate::margin::inputs::AccountInputs;
use crate::model::valuation::{futures_ref_term, resolve, unit_value, Shock};

/// A hypothetical trade at today's mark: a size change in the instrument's
/// own units (USD for inverse futures, coin for options), negative = sell.
#[derive(Clone, Debug, PartialEq)]
pub struct Trade {
    pub instrument: String,
    pub size: f64,
}

/// The account after hypothetical trades at today's marks.
pub fn with_trades(inputs: &AccountInputs, trades: &[Trade]) -> AccountInputs {
    let mut after = inputs.clone();
    for t in trades {
        trade(&mut after, t);
    }
    after
}

/// One trade at the mark, merged into the account's position (so that
/// per-position charges, like the short option minimum, see the net size).
/// An option's premium is paid from or to the balance. A futures
/// position's session P&L so far is realized (it stays in equity), and the
/// merged position is measured from today's mark, so that shocks move it.
/// An instrument without a price is added as is; the report then leaves it
/// out and says so.
fn trade(inputs: &mut AccountInputs, t: &Trade) {
    let priced = inputs.instruments.get(&t.instrument).and_then(|inst| {
        resolve(inst, &inputs.market, inputs.now_ms, Shock::NONE)
            .ok()
            .map(|r| (inst, r.mark, unit_value(inst, &r)))
    });
    let acct = &mut inputs.account;
    let held = acct.positions.iter().find(|p| p.instrument == t.instrument);
    let size = held.map_or(0.0, |p| p.size) + t.size;
    let mut reference = held.and_then(|p| p.session_ref_price);
    match priced {
        Some((inst, _, unit)) if inst.is_option() => acct.balance -= t.size * unit.option_value,
        Some((inst, mark, unit)) => {
            if let (Some(p), Some(r)) = (held, reference.filter(|x| x.is_finite() && *x > 0.0)) {
                acct.futures_session_rpl +=
                    p.size * (unit.futures_mark_term - futures_ref_term(inst, r));
            }
            reference = Some(mark);
        }
        None => {}
    }
    acct.set_position(&t.instrument, size, None);
    if let Some(p) = acct
        .positions
        .iter_mut()
        .find(|p| p.instrument == t.instrument)
    {
        p.session_ref_price = reference;
    }
}

//! What a valuation says about positions it could not take as given: one
//! left out of the figures (the margin is then incomplete), or one held
//! past its expiry. Completeness is decided by the kind of note, never by
//! its wording.

use crate::model::Instrument;
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum Note {
    /// Not in the figures: the account's margin is incomplete while it lasts.
    LeftOut { instrument: String, why: Omission },
    /// Held past its expiry: valued at intrinsic (an option) or at its last
    /// mark (a future) until the exchange settles it at 08:00 UTC.
    PastExpiry { instrument: String, option: bool },
}

/// Why a position is left out.
#[derive(Clone, Debug, PartialEq)]
pub enum Omission {
    /// No definition of its instrument has arrived.
    UnknownInstrument,
    /// Its size is NaN or infinite.
    SizeNotANumber,
    /// It could not be priced; the pricing error in words.
    Unpriced(String),
}

impl Note {
    pub fn left_out(instrument: &str, why: Omission) -> Note {
        Note::LeftOut {
            instrument: instrument.to_string(),
            why,
        }
    }

    pub fn past_expiry(inst: &Instrument) -> Note {
        Note::PastExpiry {
            instrument: inst.name.clone(),
            option: inst.is_option(),
        }
    }

    /// True when the note leaves a position out of the figures.
    pub fn leaves_out(&self) -> bool {
        matches!(self, Note::LeftOut { .. })
    }
}

/// True when no note leaves a position out.
pub fn complete(notes: &[Note]) -> bool {
    !notes.iter().any(Note::leaves_out)
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::LeftOut { instrument, why } => match why {
                Omission::UnknownInstrument => {
                    write!(f, "unknown instrument {instrument}: position left out")
                }
                Omission::SizeNotANumber => write!(
                    f,
                    "position {instrument} has a size that is not a number: position left out"
                ),
                Omission::Unpriced(e) => write!(f, "{e}: position left out"),
            },
            Note::PastExpiry { instrument, option } => {
                let how = match option {
                    true => "valued at intrinsic",
                    false => "valued at its last mark",
                };
                write!(
                    f,
                    "{instrument} is past expiry: {how} until the exchange settles it"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_left_out_position_makes_the_margin_incomplete() {
        let expired = Note::PastExpiry {
            instrument: "BTC-1JUN22-30000-C".into(),
            option: true,
        };
        let unpriced = Note::left_out("BTC-PERPETUAL", Omission::Unpriced("no mark".into()));
        assert!(complete(std::slice::from_ref(&expired)));
        assert!(!complete(&[expired, unpriced.clone()]));
        assert_eq!(unpriced.to_string(), "no mark: position left out");
        // The wording can change without changing the verdict.
        let odd = Note::left_out("X", Omission::Unpriced("past expiry".into()));
        assert!(odd.leaves_out());
    }
}

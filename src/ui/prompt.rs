//! A line of text being typed: keys go to it until Enter or Esc.

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prompt {
    /// The desk filter (applied as typed).
    Filter,
    /// A custom stress scenario: "price% vol%".
    Scenario,
    /// Picking a what-if instrument: the text filters the chain.
    Instrument,
    /// The size of a what-if trade in this instrument.
    Size(String),
}

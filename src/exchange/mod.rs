//! Exchange adapters and the recording format.

pub mod deribit;
pub mod recording;
pub mod replay;

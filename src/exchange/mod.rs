//! Exchange adapters and the recording format.

pub mod demo;
pub mod deribit;
pub mod recording;
pub mod replay;

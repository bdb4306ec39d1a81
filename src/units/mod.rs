//! Units every layer shares: durations as written in profiles (one parser, one format, one cap) and
//! how figures are shown to a person. A leaf: it imports nothing from the crate.

pub(crate) mod duration;
pub(crate) mod fmt;

pub use duration::{Dur, MAX_DURATION};
pub use fmt::fmt_us;

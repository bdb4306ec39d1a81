//! Units every layer shares: durations as written in profiles (one parser, one format, one cap), how
//! figures are shown to a person, and HTTP/1.1 message framing (the client's and the simulator's). A
//! leaf: it imports nothing from the crate.

pub(crate) mod duration;
pub(crate) mod fmt;
pub mod http1;
pub mod redact;

pub use duration::{Dur, MAX_DURATION};
pub use fmt::fmt_us;

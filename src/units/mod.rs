//! Units every layer shares: durations as written in profiles (one parser, one format, one cap), how
//! figures are shown to a person, HTTP/1.1 message framing (the client's and the simulator's), percentile
//! names, and redaction of what may carry a credential. A leaf: it imports nothing from the crate.

pub(crate) mod duration;
pub mod env;
pub(crate) mod fmt;
pub mod http1;
pub mod percentile;
pub mod redact;

pub use duration::{Dur, MAX_DURATION, doubling};
pub use env::Env;
pub use fmt::fmt_us;

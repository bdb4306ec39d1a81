//! Units every layer shares: durations as written in profiles (one parser, one format, one cap), how
//! figures are shown to a person, HTTP/1.1 message framing (the client's and the simulator's), percentile
//! names, redaction of what may carry a credential, and the one stop signal (`Shutdown`) that Ctrl-C,
//! `abort_on_fail`, the cost cap and the operator raise. A leaf: it imports nothing from the crate.

pub(crate) mod duration;
pub mod env;
pub(crate) mod fmt;
pub mod http1;
pub mod percentile;
pub mod redact;
pub mod shutdown;

pub use duration::{Dur, MAX_DURATION, doubling};
pub use env::Env;
pub use fmt::fmt_us;
pub use shutdown::Shutdown;

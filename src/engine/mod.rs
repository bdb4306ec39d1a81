//! The load engine: the plan a profile's `[load]` table becomes, the executor that drives one target
//! (one single-threaded event loop per thread, each connection owned by one task, latency from the
//! intended start), the transport, the [`Target`](target::Target) trait the drivers implement, the
//! per-thread recorders and the aggregator that writes per-second intervals. It knows no API.

pub(crate) mod aggregate;
pub(crate) mod conn;
pub mod control;
pub mod dial;
mod error;
pub mod executor;
pub mod h1;
pub mod metrics;
pub(crate) mod plan;
pub(crate) mod retry;
pub mod target;
pub mod trace;

pub use error::EngineError;
pub use executor::{TargetRun, run_target};
pub use plan::Plan;

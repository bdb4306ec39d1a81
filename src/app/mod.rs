//! The application: what each command does, on top of the other layers. A run and the capacity
//! planner share one [`session`] that sets a target up (simulator, webhook receiver, driver) and tears
//! it down; `merge` joins the parts of a sharded run; `import` reads other load testers' results.

mod abort;
pub(crate) mod background;
pub mod binding;
pub mod capacity;
pub mod cli;
pub mod commands;
pub(crate) mod compare;
mod error;
pub(crate) mod forward;
pub mod help;
pub mod import;
pub mod init;
pub mod live;
pub(crate) mod merge;
mod merge_webhooks;
pub mod outputs;
pub mod plan_json;
pub mod preflight;
mod progress;
pub mod quick;
pub mod receive;
pub mod run;
pub(crate) mod session;
pub(crate) mod sizing;
pub mod thresholds;
pub mod validate;
pub use error::AppError;

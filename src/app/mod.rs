//! The application: what each command does, on top of the other layers. A run and the capacity
//! planner share one [`session`] that sets a target up (simulator, webhook receiver, driver) and tears
//! it down; `merge` joins the parts of a sharded run.

mod abort;
pub mod background;
pub mod capacity;
pub mod cli;
pub mod commands;
pub mod live;
pub mod merge;
mod progress;
pub mod run;
pub mod session;
pub mod thresholds;
pub mod validate;

//! wabench's integration tests, in one binary (one link on two cores instead of one per file). Each
//! module is one area; `support` holds the helpers they share.

mod cli;
mod deploy;
mod driver_bodies;
mod drivers;
mod durability;
mod engine;
mod feeders;
mod fuzz;
mod gates;
mod hostile;
mod identities;
mod import;
mod import_formats;
mod layers;
mod old_results;
mod plan;
mod pywa_compat;
mod report;
mod report_browser;
mod schema_cli;
mod secrets;
mod seq;
mod shards;
mod sim_api;
mod sim_conversations;
mod sim_hooks;
mod sim_props;
mod support;
mod webhook_receive;
mod webhook_receiver;
mod webhook_target;
mod webhook_tracker;

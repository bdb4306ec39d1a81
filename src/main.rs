//! The `wabench` binary: parse the command line, carry the command out, map the outcome to an exit code.

use std::process::ExitCode;

use wabench::app::commands::execute;

fn main() -> ExitCode {
    match execute(wabench::app::help::parse().command) {
        Ok(exit) => ExitCode::from(exit.code() as u8),
        Err(e) => {
            eprintln!("wabench: error: {e}");
            ExitCode::from(wabench::EXIT_ERROR as u8)
        }
    }
}

/// A faster allocator for the load path's many small, short-lived allocations (requests, headers).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

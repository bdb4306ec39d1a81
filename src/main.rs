//! The `wabench` binary: parse the command line, carry the command out, map the outcome to an exit code.

use std::process::ExitCode;

use wabench::app::commands::execute;

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    match execute(wabench::app::help::parse().command) {
        Ok(exit) => ExitCode::from(exit.code() as u8),
        Err(e) => {
            eprintln!("wabench: error: {e}");
            ExitCode::from(wabench::EXIT_ERROR as u8)
        }
    }
}

/// A reader that stopped reading (`wabench schema | head`) ends the command quietly: printing to a
/// closed pipe is not an error of wabench's. Any other panic is reported as usual. (The broken-pipe
/// signal stays ignored, as Rust sets it, so a load test's closed sockets never end the process.)
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.starts_with("failed printing to stdout") && text.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// A faster allocator for the load path's many small, short-lived allocations (requests, headers).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

//! Ctrl-C and SIGTERM for the commands that run until stopped (`run`, `plan`, `receive`).

use tokio::signal::unix::{SignalKind, signal};

use crate::units::Shutdown;

/// The first Ctrl-C or SIGTERM stops the returned signal (the command stops and writes its results);
/// a second one exits at once. The handlers are in place when it returns.
pub fn stop_on_signals() -> Shutdown {
    let stop = Shutdown::new();
    let raised = stop.clone();
    let (ready, listening) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        rt.block_on(async move {
            let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
                return;
            };
            drop(ready);
            for n in 0.. {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                if n == 0 {
                    eprintln!(
                        "\nwabench: stopping; finishing requests in flight and writing results (again to quit now)"
                    );
                    raised.stop();
                } else {
                    std::process::exit(crate::EXIT_INTERRUPTED);
                }
            }
        });
    });
    // Ends when the handlers are in place, or when they could not be (the sender dropped either way).
    let _ = listening.recv();
    stop
}

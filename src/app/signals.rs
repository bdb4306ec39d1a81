//! Ctrl-C and SIGTERM for the commands that run until stopped (`run`, `plan`, `receive`).

/// The first Ctrl-C or SIGTERM asks the command to stop and write its results; a second one exits at
/// once.
pub fn stop_on_signals() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        rt.block_on(async move {
            let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
                return;
            };
            for n in 0.. {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                if n == 0 {
                    eprintln!(
                        "\nwabench: stopping; finishing requests in flight and writing results (again to quit now)"
                    );
                    let _ = tx.send(true);
                } else {
                    std::process::exit(crate::EXIT_INTERRUPTED);
                }
            }
        });
    });
    rx
}

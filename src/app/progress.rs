//! Progress of the commands that take long besides `run` (`plan` has its steps' lines): a line on a
//! terminal (standard error), redrawn in place, and nothing when standard error is redirected, so logs
//! and pipes get only the commands' results.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What a bar counts.
#[derive(Clone, Copy)]
pub enum Unit {
    /// Bytes of a file read (import).
    Bytes,
    /// Items of a known number (seconds merged, targets compared), named in the message.
    Items,
}

/// A bar of `len` units labelled `prefix`: drawn on a terminal, hidden otherwise. Finish it with
/// `finish_and_clear` (or drop it) so the line leaves the screen.
pub fn bar(prefix: &str, len: u64, unit: Unit) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr_with_hz(5)
    } else {
        ProgressDrawTarget::hidden()
    };
    let template = match unit {
        Unit::Bytes => "{prefix} [{bar:24}] {bytes}/{total_bytes} {bytes_per_sec} {eta} left {msg}",
        Unit::Items => "{prefix} [{bar:24}] {pos}/{len} {msg} {eta} left",
    };
    let bar = ProgressBar::with_draw_target(Some(len.max(1)), target);
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> "),
    );
    bar.set_prefix(prefix.to_string());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_counts_what_it_is_told_and_draws_nothing_off_a_terminal() {
        // Tests run with standard error captured or redirected: the bar is hidden, its counts kept.
        let b = bar("import", 1000, Unit::Bytes);
        b.inc(400);
        assert_eq!(b.position(), 400);
        if !std::io::stderr().is_terminal() {
            assert!(b.is_hidden());
        }
        b.finish_and_clear();
    }
}

//! What `validate` and `run --dry-run` say of `[tracing]`: which targets' requests carry a
//! `traceparent` and how many, which real WhatsApp targets do not (Meta ignores the header) unless
//! the profile asks, and where the spans go.

use std::fmt::Write as _;

use crate::spec::Loaded;

/// The tracing lines of the plan (none when the profile traces nothing).
pub fn lines(loaded: &Loaded) -> String {
    let p = &loaded.profile;
    let mut s = String::new();
    let Some(t) = p.tracing.as_ref().filter(|t| t.sample > 0.0) else { return s };
    let (on, off): (Vec<_>, Vec<_>) = p.targets.iter().partition(|x| t.applies_to(x));
    let names = |v: &[&crate::spec::TargetSpec]| v.iter().map(|x| x.name.as_str()).collect::<Vec<_>>().join(", ");
    if !on.is_empty() {
        let _ = writeln!(
            s,
            "tracing: a W3C traceparent on {} of the messages (chosen by seed {}) to {}; the slowest 3 of each \
             second kept in <target>.exemplars.csv",
            percent(t.sample),
            p.seed,
            names(&on)
        );
    }
    if !off.is_empty() {
        let _ = writeln!(
            s,
            "tracing: off for the real WhatsApp target(s) {}: Meta ignores traceparent (set [tracing] real_targets = \
             true to send it anyway)",
            names(&off)
        );
    }
    if let (Some(url), false) = (t.traces_url(), on.is_empty()) {
        let _ = writeln!(s, "tracing: spans exported to {url} (OTLP over HTTP, service.name {:?})", t.service());
    }
    s
}

fn percent(f: f64) -> String {
    let p = f * 100.0;
    if p >= 1.0 { format!("{p:.0}%") } else { format!("{p}%") }
}

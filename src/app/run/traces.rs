//! A target's `[tracing]` during `run`: the plan with its tracer (which messages carry a
//! `traceparent`), the OTLP exporter of their spans when the profile names a collector, and what is
//! left once the target ended: `<target>.exemplars.csv` and run.json's account.

use std::path::Path;
use std::sync::Arc;

use super::otlp::{Exporter, Source};
use crate::engine::Plan;
use crate::engine::TargetRun;
use crate::engine::trace::Tracer;
use crate::results::exemplars::TracingResult;
use crate::results::{self, files};
use crate::spec::Loaded;

/// Tracing set up for one target.
pub struct Traced {
    plan: Plan,
    sample: f64,
    exporter: Option<Exporter>,
}

/// The tracing of target `i` under `plan`, when `[tracing]` samples its requests (a real WhatsApp
/// target only with `real_targets = true`). An exporter that cannot start is said on stderr, and the
/// requests are traced all the same.
pub fn start(loaded: &Loaded, i: usize, plan: &Plan) -> Option<Traced> {
    let spec = &loaded.profile.targets[i];
    let t = loaded.profile.tracing.as_ref().filter(|t| t.applies_to(spec))?;
    let mut tracer = Tracer::new(t.sample, loaded.profile.seed, Tracer::fresh_nonce(&spec.name));
    let source =
        || Source { service: t.service().to_string(), target: spec.name.clone(), kind: spec.kind.name().into() };
    let exporter = match t.traces_url().map(|url| Exporter::start(&url, source())) {
        Some(Ok(e)) => {
            tracer = tracer.with_spans(e.queue());
            Some(e)
        }
        Some(Err(e)) => {
            eprintln!("wabench: target {}: spans not exported: {e}", spec.name);
            None
        }
        None => None,
    };
    let plan = Plan { trace: Some(Arc::new(tracer)), ..plan.clone() };
    Some(Traced { plan, sample: t.sample, exporter })
}

impl Traced {
    /// The plan the target runs under.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The target ended: its spans flushed, its slowest traced requests written beside run.json.
    pub fn finish(self, tr: &TargetRun, dir: &Path, name: &str) -> Result<TracingResult, String> {
        let exported = self.exporter.map(Exporter::finish);
        let path = dir.join(files::exemplars_name(name));
        let mut buf = Vec::new();
        tr.written
            .traced
            .write(&mut buf)
            .and_then(|()| results::write_atomic(&path, &buf))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(TracingResult {
            sample: self.sample,
            traced: tr.written.traced.traced,
            exemplars: files::exemplars_name(name),
            spans_exported: exported.map(|e| e.exported),
            spans_dropped: exported.map(|e| e.dropped),
        })
    }
}

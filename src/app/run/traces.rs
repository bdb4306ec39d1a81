//! A target's `[tracing]` during `run`: the plan with its tracer (which messages carry a
//! `traceparent`), the OTLP exporter of their spans when the profile names a collector, and what is
//! left once the target ended: `<target>.exemplars.csv` and run.json's account.

use std::path::Path;
use std::sync::Arc;

use super::otlp::{Exporter, Source};
use crate::engine::Plan;
use crate::engine::TargetRun;
use crate::engine::trace::Tracer;
use crate::results::exemplars::{Rows, TracingResult};
use crate::results::files;
use crate::spec::Loaded;

/// Tracing set up for one target.
pub struct Traced {
    plan: Plan,
    sample: f64,
    exporter: Option<Exporter>,
}

/// The tracing of target `i` under `plan`, when `[tracing]` samples its requests (a real WhatsApp
/// target only with `real_targets = true`), its slowest traced requests written into `dir` as the run
/// goes. An exporter that cannot start is said on stderr, and the requests are traced all the same.
pub fn start(loaded: &Loaded, i: usize, plan: &Plan, dir: &Path) -> Result<Option<Traced>, String> {
    let spec = &loaded.profile.targets[i];
    let Some(t) = loaded.profile.tracing.as_ref().filter(|t| t.applies_to(spec)) else { return Ok(None) };
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
    // Written as `.partial` while the run goes, as the interval log is: a killed run leaves its rows.
    let path = files::partial(&dir.join(files::exemplars_name(&spec.name)));
    let rows = std::fs::File::create(&path)
        .and_then(|f| Rows::new(Box::new(f) as Box<dyn std::io::Write + Send>))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let plan = Plan { trace: Some(Arc::new(tracer.with_rows(rows))), ..plan.clone() };
    Ok(Some(Traced { plan, sample: t.sample, exporter }))
}

impl Traced {
    /// The plan the target runs under.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The target ended: its spans flushed, the file of its slowest traced requests (written second
    /// by second by the aggregator) given its name.
    pub fn finish(self, tr: &TargetRun, dir: &Path, name: &str) -> Result<TracingResult, String> {
        let exported = self.exporter.map(Exporter::finish);
        let path = dir.join(files::exemplars_name(name));
        std::fs::rename(files::partial(&path), &path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(TracingResult {
            sample: Some(self.sample),
            traced: tr.written.traced,
            exemplars: files::exemplars_name(name),
            spans_exported: exported.map(|e| e.exported),
            spans_dropped: exported.map(|e| e.dropped),
        })
    }
}

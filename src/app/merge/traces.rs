//! The traced requests of a target merged from its parts: the parts' `<target>.exemplars.csv` read,
//! shifted onto the merged run's seconds, the slowest of each second kept across all parts and
//! written to the merged folder's; counts of traced attempts and exported spans added up.

use std::path::Path;

use super::Part;
use crate::results::exemplars::{Slowest, TracingResult};
use crate::results::{self, files};

/// The merged account of target `name`, its merged exemplars written into `out`; `None` when no part
/// traced a request.
pub(super) fn merge(name: &str, parts: &[Part<'_>], out: &Path) -> Result<Option<TracingResult>, String> {
    let Some(first) = parts.iter().find_map(|p| p.result.tracing.as_ref()) else { return Ok(None) };
    let mut merged = TracingResult {
        sample: first.sample,
        traced: 0,
        exemplars: files::exemplars_name(name),
        spans_exported: None,
        spans_dropped: None,
    };
    let mut slowest = Slowest::default();
    for p in parts {
        let Some(t) = &p.result.tracing else { continue };
        merged.traced += t.traced;
        let add = |a: Option<u64>, b: Option<u64>| {
            if a.is_none() && b.is_none() { None } else { Some(a.unwrap_or(0) + b.unwrap_or(0)) }
        };
        merged.spans_exported = add(merged.spans_exported, t.spans_exported);
        merged.spans_dropped = add(merged.spans_dropped, t.spans_dropped);
        let path = p.data.dir.join(files::exemplars_name(name));
        if path.exists() {
            slowest.merge(&Slowest::read(&path)?, p.offset);
        }
    }
    let mut buf = Vec::new();
    let path = out.join(files::exemplars_name(name));
    slowest
        .write(&mut buf)
        .and_then(|()| results::write_atomic(&path, &buf))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(merged))
}

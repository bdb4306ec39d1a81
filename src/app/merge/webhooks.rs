//! `wabench merge --webhooks DIR`: the delivery statistics of targets whose statuses went to a
//! standalone receiver, from the shards' sends and the receiver's statuses, replayed through the
//! tracker a single run uses (`webhook::record::replay`), so a sharded run's figures are computed
//! exactly as one process computes them.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::Webhooks;
use crate::results::{self, DeliveryStats, Run, RunData, files};
use crate::spec::webhook::WebhookConfig;
use crate::webhook::replay::{ReplayInput, replay};

/// The receiver folder of each target (by index), checked: every named target exists, and every
/// target given one recorded its sends in every part.
pub(crate) fn assign(runs: &[RunData], names: &[&str], webhooks: &[Webhooks]) -> Result<Vec<Option<PathBuf>>, String> {
    let mut out: Vec<Option<PathBuf>> = vec![None; names.len()];
    let recorded = |i: usize| runs.iter().all(|r| r.dir.join(files::sends_name(names[i])).is_file());
    for w in webhooks {
        let i = match &w.target {
            Some(t) => names.iter().position(|n| n == t).ok_or_else(|| {
                format!(
                    "--webhooks {t}={}: no target {t:?} in the runs (targets: {})",
                    w.dir.display(),
                    names.join(", ")
                )
            })?,
            None => {
                let with: Vec<usize> = (0..names.len()).filter(|&i| recorded(i)).collect();
                match with.as_slice() {
                    [i] => *i,
                    [] => {
                        return Err(format!(
                            "--webhooks {}: no target recorded its sends (<target>.sends.csv) in every folder: \
                             run the shards with [webhooks] receiver_url set",
                            w.dir.display()
                        ));
                    }
                    _ => {
                        return Err(format!(
                            "--webhooks {}: several targets recorded sends ({}): name one, --webhooks TARGET=DIR",
                            w.dir.display(),
                            with.iter().map(|&i| names[i]).collect::<Vec<_>>().join(", ")
                        ));
                    }
                }
            }
        };
        if let Some(r) = runs.iter().find(|r| !r.dir.join(files::sends_name(names[i])).is_file()) {
            return Err(format!(
                "{}: no {} for target {:?}: that part did not send its statuses to a standalone receiver \
                 ([webhooks] receiver_url)",
                r.dir.display(),
                files::sends_name(names[i]),
                names[i]
            ));
        }
        if out[i].replace(w.dir.clone()).is_some() {
            return Err(format!("--webhooks: target {:?} is given two receiver folders", names[i]));
        }
    }
    Ok(out)
}

/// Replay one target's sends and the receiver's statuses; writes `<target>.delivery.hlog` to `out`.
pub(crate) fn delivery(
    first: &Run,
    name: &str,
    sends: &[PathBuf],
    receiver: &Path,
    base: SystemTime,
    duration_s: f64,
    out: &Path,
) -> Result<DeliveryStats, String> {
    // The tracker's limits of the profile the parts ran (its [webhooks] table, recorded in run.json).
    let cfg: WebhookConfig = match first.profile.get("webhooks") {
        Some(v) if !v.is_null() => serde_json::from_value(v.clone())
            .map_err(|e| format!("run.json: profile.webhooks: not a [webhooks] table: {e}"))?,
        _ => WebhookConfig::default(),
    };
    let rec = crate::app::receive::recorded(receiver)?;
    let input =
        ReplayInput { sends: sends.to_vec(), statuses: rec.statuses, inbound: rec.inbound, identities: rec.identities };
    let replayed = replay(&input, cfg.tracker_config())?;
    if replayed.late > 0 {
        eprintln!(
            "wabench merge: {name}: {} status(es) received after the shards stopped waiting for statuses were left out",
            replayed.late
        );
    }
    let path = out.join(files::delivery_hlog_name(name));
    let mut buf = Vec::new();
    replayed
        .stats
        .histograms
        .write_hlog(&mut buf, base, Duration::from_secs_f64(duration_s.max(0.0)))
        .and_then(|()| results::write_atomic(&path, &buf))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(replayed.stats)
}

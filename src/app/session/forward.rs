//! A target whose status webhooks go to a standalone receiver (`[webhooks] receiver_url`, see
//! `wabench receive`) instead of one inside the run: the embedded simulator posts there, and the run
//! writes every accepted send to `<target>.sends.csv` (through a recording [`Tracker`]) for
//! `wabench merge --webhooks` to join with the receiver's statuses. Used by sharded runs, whose
//! shards share one receiver, and by runs against a real API whose callback is such a receiver.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::background::Embedded;
use crate::results::files;
use crate::spec::webhook::WebhookConfig;
use crate::spec::{TargetKind, TargetSpec};
use crate::units::Shutdown;
use crate::webhook::Tracker;
use crate::webhook::record::SendLog;

/// How often the statuses the simulator still owes are counted while the run waits for them.
const POLL: Duration = Duration::from_millis(50);

/// The forwarding side of one target.
pub struct Forward {
    /// Where the embedded simulator posts status webhooks.
    pub url: String,
    /// What it signs them with (Cloud with `verify_signature`); never written anywhere.
    pub secret: Option<Vec<u8>>,
    /// The recording tracker the driver reports accepted sends to (with a results folder).
    pub tracker: Option<Tracker>,
    log: Option<(Arc<SendLog>, PathBuf)>,
    grace: Duration,
}

impl Forward {
    /// Check the URL, resolve the app secret, and open the sends file in `dir` (no file without one:
    /// the capacity planner records nothing).
    pub fn start(cfg: &WebhookConfig, url: &str, spec: &TargetSpec, dir: Option<&Path>) -> Result<Forward, String> {
        crate::spec::endpoint::check_http_url(url).map_err(|r| format!("webhooks.receiver_url: {r}"))?;
        // The embedded On-Premises simulator posts unsigned webhooks, as the real API does.
        let signs = cfg.verify_signature && !(spec.is_embedded() && spec.kind == TargetKind::OnPrem);
        let secret = match signs && spec.is_embedded() {
            true => {
                let rc = cfg.resolve().map_err(|e| {
                    format!("{e} (webhooks.receiver_url: the simulator signs with the secret the receiver checks)")
                })?;
                rc.app_secret
            }
            false => None,
        };
        let log = match dir {
            Some(d) => {
                let path = d.join(files::sends_name(&spec.name));
                let log = SendLog::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                Some((Arc::new(log), path))
            }
            None => None,
        };
        let tracker = log.as_ref().map(|(l, _)| Tracker::recording(l.clone()));
        Ok(Forward { url: url.to_string(), secret, tracker, log, grace: cfg.grace })
    }

    /// End: keep the embedded simulator up until it has posted every status it planned (at most the
    /// grace time, less when the run was stopped), then close the sends file with the time after
    /// which the run no longer waits for statuses: now with a simulator (which stops next), now plus
    /// the grace time without one (the receiver keeps listening). Returns the run.json `extra` entry.
    pub fn finish(self, sim: Option<&Embedded>, stop: &Shutdown) -> Result<Option<serde_json::Value>, String> {
        let end = match sim {
            Some(sim) => {
                let until = Instant::now() + self.grace;
                while Instant::now() < until && sim.statuses_outstanding() > 0 && !stop.wait_timeout(POLL) {}
                Instant::now()
            }
            None => Instant::now() + self.grace,
        };
        let Some((log, path)) = self.log else { return Ok(None) };
        let n = log.close(end)?;
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(Some(serde_json::json!({ "sends_recorded": n, "file": file })))
    }
}

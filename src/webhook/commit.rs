//! Where accepted webhooks go: the [`Sink`] trait (a run's tracker, or a standalone receiver's
//! file) and the one task that applies them in groups, flushes the group, and only then tells each
//! webhook's request whether its statuses were recorded (a group commit: one write for many
//! answers). It knows nothing of HTTP: the receiver turns "recorded" into 200 and "not" into 503.

use std::io;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::model::Status;
use crate::results::delivery::IdentityCounts;

/// Where a receiver hands what accepted webhooks carry: a run's `Tracker`, or a standalone
/// receiver's `record::StatusLog` on disk.
pub trait Sink: Send + Sync + 'static {
    /// One status, received at `received_at` (called from one processing task, in arrival order).
    fn status(&self, status: &Status, received_at: Instant);
    /// `n` inbound user messages.
    fn inbound(&self, n: u64);
    /// How one webhook identified its users.
    fn identities(&self, counts: &IdentityCounts);
    /// Called after each group of statuses: `Ok` once every status given since the last call is
    /// recorded (a file sink writes its buffer out). An error means none of the group's webhooks
    /// is answered 200, so their senders deliver them again.
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink for super::record::StatusLog {
    fn status(&self, status: &Status, received_at: Instant) {
        self.record(status, received_at);
    }
    fn inbound(&self, n: u64) {
        self.add_inbound(n);
    }
    fn identities(&self, counts: &IdentityCounts) {
        self.add_identities(counts);
    }
    fn flush(&self) -> io::Result<()> {
        super::record::StatusLog::flush(self)
    }
}

/// The statuses of one accepted webhook, and where to say whether they were recorded.
pub(crate) struct Batch {
    pub statuses: Vec<Status>,
    pub received_at: Instant,
    pub recorded: oneshot::Sender<bool>,
}

/// Webhooks applied per group (and per flush) at most.
const GROUP: usize = 64;

/// Applies batches to `sink` until every sender of `batches` is gone. The first failed flush of a
/// run of failures is logged (one line), and the first success after it.
pub(crate) async fn process(sink: std::sync::Arc<dyn Sink>, mut batches: mpsc::Receiver<Batch>) {
    let mut group = Vec::with_capacity(GROUP);
    let mut failing: Option<u64> = None;
    while batches.recv_many(&mut group, GROUP).await > 0 {
        for batch in &group {
            for status in &batch.statuses {
                sink.status(status, batch.received_at);
            }
        }
        let flushed = sink.flush();
        let n = group.len() as u64;
        match &flushed {
            Err(e) if failing.is_none() => {
                eprintln!(
                    "wabench receiver: cannot record statuses ({e}): answering 503 so the sender delivers them \
                     again; further failures are counted in the summary, not logged"
                );
                failing = Some(n);
            }
            Err(_) => *failing.get_or_insert(0) += n,
            Ok(()) => {
                if let Some(count) = failing.take() {
                    eprintln!("wabench receiver: recording statuses again, after {count} webhooks answered 503");
                }
            }
        }
        for batch in group.drain(..) {
            // A request that went away no longer waits for its answer.
            let _ = batch.recorded.send(flushed.is_ok());
        }
    }
}

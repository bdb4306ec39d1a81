//! Failed status webhooks as failures.csv rows: the one builder of a `failed` status's row (used by
//! the run's tracker and by a standalone receiver), and a [`Sink`] that lists each message's first
//! `failed` status once it is recorded. It owns no file and writes nothing itself.

use std::collections::HashSet;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::commit::Sink;
use super::model::{Status, StatusKind};
use crate::results::delivery::IdentityCounts;
use crate::results::failure_log::{FailureLog, FailurePath, FailureRow};

/// The failures.csv row of a `failed` status (its first error's code; the recipient's phone, else
/// the user id it was sent to).
pub fn row(status: &Status) -> FailureRow {
    let recipient = match (&status.recipient_id, &status.recipient_user_id) {
        (r, Some(u)) if r.is_empty() => u.clone(),
        (r, _) => r.clone(),
    };
    FailureRow {
        at: std::time::SystemTime::now(),
        recipient,
        code: status.errors.as_deref().and_then(|e| e.first()).map(|e| e.code),
        http_status: None,
        path: FailurePath::InWebhook,
        message_id: status.id.clone(),
    }
}

/// Passes everything to `inner`, and lists in `log` the first `failed` status of each message once
/// `inner` has recorded it (a group whose flush fails is answered 503 and comes again).
pub struct ListingFailures {
    inner: Arc<dyn Sink>,
    log: Arc<FailureLog>,
    staged: Mutex<Vec<FailureRow>>,
    /// Messages listed (bounded like the log's rows: beyond, the log counts what it leaves out).
    listed: Mutex<HashSet<String>>,
}

impl ListingFailures {
    pub fn new(inner: Arc<dyn Sink>, log: Arc<FailureLog>) -> ListingFailures {
        ListingFailures { inner, log, staged: Mutex::default(), listed: Mutex::default() }
    }
}

impl Sink for ListingFailures {
    fn status(&self, status: &Status, received_at: Instant) {
        self.inner.status(status, received_at);
        if status.status == StatusKind::Failed {
            self.staged.lock().unwrap_or_else(|p| p.into_inner()).push(row(status));
        }
    }
    fn inbound(&self, n: u64) {
        self.inner.inbound(n);
    }
    fn identities(&self, counts: &IdentityCounts) {
        self.inner.identities(counts);
    }
    fn flush(&self) -> io::Result<()> {
        let flushed = self.inner.flush();
        let staged = std::mem::take(&mut *self.staged.lock().unwrap_or_else(|p| p.into_inner()));
        if flushed.is_ok() {
            let mut listed = self.listed.lock().unwrap_or_else(|p| p.into_inner());
            for r in staged {
                if listed.contains(&r.message_id) {
                    continue;
                }
                if listed.len() < crate::results::failure_log::DEFAULT_ROWS {
                    listed.insert(r.message_id.clone());
                }
                self.log.record(r);
            }
        }
        flushed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Flaky(std::sync::atomic::AtomicBool);

    impl Sink for Flaky {
        fn status(&self, _: &Status, _: Instant) {}
        fn inbound(&self, _: u64) {}
        fn identities(&self, _: &IdentityCounts) {}
        fn flush(&self) -> io::Result<()> {
            match self.0.load(std::sync::atomic::Ordering::Relaxed) {
                true => Err(io::Error::other("full")),
                false => Ok(()),
            }
        }
    }

    fn failed(id: &str, code: i64) -> Status {
        let mut s = Status::new(id, StatusKind::Failed, 1, "1555");
        s.errors = Some(vec![serde_json::from_value(serde_json::json!({"code": code, "title": "t"})).unwrap()]);
        s
    }

    #[test]
    fn each_message_is_listed_once_when_recorded() {
        let inner = Arc::new(Flaky(false.into()));
        let log = Arc::new(FailureLog::default());
        let sink = ListingFailures::new(inner.clone(), log.clone());
        let now = Instant::now();
        // Not recorded: not listed (it comes again).
        inner.0.store(true, std::sync::atomic::Ordering::Relaxed);
        sink.status(&failed("m1", 131047), now);
        assert!(sink.flush().is_err());
        inner.0.store(false, std::sync::atomic::Ordering::Relaxed);
        for s in [failed("m1", 131047), Status::new("m2", StatusKind::Delivered, 1, "1"), failed("m1", 131047)] {
            sink.status(&s, now);
        }
        sink.status(&failed("m3", 131026), now);
        sink.flush().unwrap();
        let (rows, left_out) = log.rows();
        let got: Vec<(&str, Option<i64>)> = rows.iter().map(|r| (r.message_id.as_str(), r.code)).collect();
        assert_eq!((got, left_out), (vec![("m1", Some(131047)), ("m3", Some(131026))], 0));
    }
}

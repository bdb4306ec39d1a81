//! Retries waiting for their time. A message the API asked to retry waits here, holding neither a
//! connection nor a task: the load thread's workers send it when it is due, between the requests of
//! the schedule, so that a recipient's back-off (131056: 4^X seconds) never stalls messages to
//! other recipients. A retry that would be due after the run's end (its duration + drain) is not
//! queued: the message keeps the answer of its last attempt and is not sent late.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// The next attempt of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pending {
    /// When it may be sent.
    pub due: Instant,
    /// The message's number in this process's schedule.
    pub n: u64,
    /// The attempt it will be (2 = first retry).
    pub attempt: u32,
}

/// One load thread's retries, earliest first.
#[derive(Debug)]
pub struct RetryQueue {
    heap: RefCell<BinaryHeap<Reverse<Pending>>>,
    /// No retry is due after this (`None`: the run has no set length; attempts still bound retries).
    deadline: Option<Instant>,
}

impl RetryQueue {
    /// An empty queue whose retries must be due by `deadline`.
    pub fn new(deadline: Option<Instant>) -> Self {
        RetryQueue { heap: RefCell::new(BinaryHeap::new()), deadline }
    }

    /// Queue `p`; `false` (and nothing queued) when it would be due after the deadline.
    pub fn schedule(&self, p: Pending) -> bool {
        if self.deadline.is_some_and(|d| p.due > d) {
            return false;
        }
        self.heap.borrow_mut().push(Reverse(p));
        true
    }

    /// When the earliest retry is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.borrow().peek().map(|p| p.0.due)
    }

    /// Take the earliest retry if it is due at `now`.
    pub fn pop_due(&self, now: Instant) -> Option<Pending> {
        let mut h = self.heap.borrow_mut();
        if h.peek().is_some_and(|p| p.0.due <= now) { h.pop().map(|p| p.0) } else { None }
    }

    /// Retries waiting.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.borrow().len()
    }

    /// True when no retry waits.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn earliest_first_and_only_when_due() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let q = RetryQueue::new(None);
        assert!(q.schedule(Pending { due: at(300), n: 1, attempt: 2 }));
        assert!(q.schedule(Pending { due: at(100), n: 2, attempt: 3 }));
        assert_eq!(q.next_due(), Some(at(100)));
        assert_eq!(q.pop_due(at(50)), None);
        assert_eq!(q.pop_due(at(100)).map(|p| p.n), Some(2));
        assert_eq!(q.pop_due(at(299)), None);
        assert_eq!(q.pop_due(at(1000)).map(|p| (p.n, p.attempt)), Some((1, 2)));
        assert!(q.is_empty());
    }

    #[test]
    fn a_retry_due_after_the_deadline_is_not_queued() {
        let t0 = Instant::now();
        let q = RetryQueue::new(Some(t0 + Duration::from_secs(10)));
        assert!(q.schedule(Pending { due: t0 + Duration::from_secs(10), n: 1, attempt: 2 }));
        assert!(!q.schedule(Pending { due: t0 + Duration::from_secs(11), n: 2, attempt: 2 }));
        assert_eq!(q.len(), 1);
    }
}

//! Trace context for a sample of the requests: which messages are traced (a pure function of the
//! profile's seed and the message number, so the same ones every run), their W3C `traceparent`
//! (version 00, sampled), and the bounded queue their spans leave the load threads by. It never
//! blocks a load thread and never sends anything itself: an exporter reads the queue.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use ::http::{HeaderValue, Request};

use super::metrics::Outcome;

/// The header's name.
pub const TRACEPARENT: &str = "traceparent";

/// SplitMix64's finaliser: a well-spread 64-bit hash of `z`.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The trace of one attempt: the message's trace id and the attempt's own span id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
}

impl TraceContext {
    /// `00-<trace id>-<span id>-01`: version 00, sampled.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-01", hex::encode(self.trace_id), hex::encode(self.span_id))
    }

    pub fn trace_hex(&self) -> String {
        hex::encode(self.trace_id)
    }

    /// A `traceparent` header value read back (version 00 only; ids not all zero).
    pub fn parse(value: &str) -> Option<TraceContext> {
        let mut parts = value.trim().split('-');
        let (v, t, s, f) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if v != "00" || parts.next().is_some() || f.len() != 2 || u8::from_str_radix(f, 16).is_err() {
            return None;
        }
        let is_lower_hex = |x: &str| x.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !is_lower_hex(t) || !is_lower_hex(s) {
            return None;
        }
        let trace_id: [u8; 16] = hex::decode(t).ok()?.try_into().ok()?;
        let span_id: [u8; 8] = hex::decode(s).ok()?.try_into().ok()?;
        (trace_id != [0; 16] && span_id != [0; 8]).then_some(TraceContext { trace_id, span_id })
    }
}

/// Which messages of a target are traced, and their ids.
#[derive(Debug)]
pub struct Tracer {
    /// A message is traced when the hash of its number falls below this (`None`: every message).
    threshold: Option<u64>,
    seed: u64,
    /// Makes the ids of this run and target unlike those of any other (a trace back-end keys on them).
    nonce: u64,
    /// Where the spans of traced attempts go, when they are exported.
    pub spans: Option<Arc<SpanQueue>>,
    /// Where the aggregator writes the slowest traced attempts of each second as it merges them.
    rows: RowsSlot,
}

/// The file of the slowest traced attempts, until the aggregator takes it.
pub type RowsFile = crate::results::exemplars::Rows<Box<dyn std::io::Write + Send>>;

#[derive(Default)]
struct RowsSlot(Mutex<Option<RowsFile>>);

impl std::fmt::Debug for RowsSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RowsSlot")
    }
}

impl Tracer {
    /// Trace `fraction` (0–1) of the messages, chosen by `seed`; ids made unique by `nonce`.
    pub fn new(fraction: f64, seed: u64, nonce: u64) -> Tracer {
        let fraction = fraction.clamp(0.0, 1.0);
        // 2^64 · fraction, exactly the fraction of the hash's range (f64 → u64 saturates).
        let threshold = (fraction < 1.0).then_some((fraction * 18_446_744_073_709_551_616.0) as u64);
        Tracer { threshold, seed, nonce: mix(nonce), spans: None, rows: RowsSlot::default() }
    }

    /// A nonce from the clock and the process: unlike any other run's.
    pub fn fresh_nonce(target: &str) -> u64 {
        let t = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let name =
            target.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        mix(t ^ mix(u64::from(std::process::id())) ^ name)
    }

    pub fn with_spans(mut self, spans: Arc<SpanQueue>) -> Tracer {
        self.spans = Some(spans);
        self
    }

    /// The slowest traced attempts of each second go to `rows` as the aggregator merges each second.
    pub fn with_rows(self, rows: RowsFile) -> Tracer {
        if let Ok(mut slot) = self.rows.0.lock() {
            *slot = Some(rows);
        }
        self
    }

    /// The rows' file, for the aggregator (once).
    pub fn take_rows(&self) -> Option<RowsFile> {
        self.rows.0.lock().ok().and_then(|mut s| s.take())
    }

    /// Whether message `seq` is traced (the same answer on every run with the same seed).
    #[inline]
    pub fn sampled(&self, seq: u64) -> bool {
        match self.threshold {
            None => true,
            Some(t) => mix(self.seed ^ mix(seq)) < t,
        }
    }

    /// The trace of attempt `attempt` of message `seq`, when the message is traced. Every attempt of a
    /// message is in the same trace, each with a span id of its own.
    #[inline]
    pub fn context(&self, seq: u64, attempt: u32) -> Option<TraceContext> {
        if !self.sampled(seq) {
            return None;
        }
        let hi = mix(self.nonce ^ mix(seq));
        let lo = mix(hi ^ seq.rotate_left(29) ^ 0xA5A5_5A5A_C3C3_3C3C);
        let span = mix(lo ^ mix(u64::from(attempt)) ^ self.nonce.rotate_left(17));
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&hi.to_be_bytes());
        trace_id[8..].copy_from_slice(&lo.max(1).to_be_bytes());
        Some(TraceContext { trace_id, span_id: span.max(1).to_be_bytes() })
    }
}

/// `req` with the `traceparent` of `ctx` (unchanged without one).
pub fn with_traceparent<B>(mut req: Request<B>, ctx: Option<&TraceContext>) -> Request<B> {
    if let Some(c) = ctx
        && let Ok(v) = HeaderValue::from_str(&c.traceparent())
    {
        req.headers_mut().insert(TRACEPARENT, v);
    }
    req
}

/// The pre-serialised HTTP/1.1 bytes of request `seq` (the transport's fast path), when the target
/// has them and the attempt is not traced: a traced request is built by `request`, with its header.
#[inline]
pub fn fixed_bytes(target: &dyn super::target::Target, seq: u64, trace: Option<&TraceContext>) -> Option<bytes::Bytes> {
    match trace {
        Some(_) => None,
        None => target.http1_bytes(seq),
    }
}

/// One traced attempt, as it is exported.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    pub ctx: TraceContext,
    pub seq: u64,
    pub attempt: u32,
    /// When the attempt was due, when it was sent, when its answer ended (or the wait for one).
    pub intended: SystemTime,
    pub start: SystemTime,
    pub end: SystemTime,
    pub http_status: Option<u16>,
    pub outcome: Outcome,
    pub wamid: Option<String>,
}

/// The bounded queue spans leave the load threads by: a full queue drops the span and counts it.
#[derive(Debug)]
pub struct SpanQueue {
    tx: Mutex<Option<SyncSender<SpanRecord>>>,
    pub dropped: AtomicU64,
}

impl SpanQueue {
    /// A queue of `capacity` spans and its reading end.
    pub fn new(capacity: usize) -> (Arc<SpanQueue>, Receiver<SpanRecord>) {
        let (tx, rx) = sync_channel(capacity);
        (Arc::new(SpanQueue { tx: Mutex::new(Some(tx)), dropped: AtomicU64::new(0) }), rx)
    }

    /// Queue a span without waiting; a full (or closed) queue drops it.
    pub fn offer(&self, span: SpanRecord) {
        let sent = match self.tx.lock() {
            Ok(tx) => match tx.as_ref() {
                Some(tx) => match tx.try_send(span) {
                    Ok(()) => true,
                    Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
                },
                None => false,
            },
            Err(_) => false,
        };
        if !sent {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// No more spans: the reader sees the end once it has read those queued.
    pub fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_traces_the_same_messages_near_the_fraction() {
        let a = Tracer::new(0.1, 42, 1);
        let b = Tracer::new(0.1, 42, 2);
        let picked: Vec<u64> = (0..100_000).filter(|&n| a.sampled(n)).collect();
        assert_eq!(picked, (0..100_000).filter(|&n| b.sampled(n)).collect::<Vec<_>>());
        assert!((9_000..11_000).contains(&picked.len()), "{}", picked.len());
        let other_seed = Tracer::new(0.1, 43, 1);
        assert_ne!(picked, (0..100_000).filter(|&n| other_seed.sampled(n)).collect::<Vec<_>>());
        assert!((0..1000).all(|n| Tracer::new(1.0, 1, 1).sampled(n)));
        assert!((0..1000).all(|n| !Tracer::new(0.0, 1, 1).sampled(n)));
    }

    #[test]
    fn attempts_share_the_trace_and_runs_do_not() {
        let t = Tracer::new(1.0, 7, 9);
        let (first, second) = (t.context(5, 1).unwrap(), t.context(5, 2).unwrap());
        assert_eq!(first.trace_id, second.trace_id);
        assert_ne!(first.span_id, second.span_id);
        assert_ne!(first.trace_id, t.context(6, 1).unwrap().trace_id);
        assert_ne!(first.trace_id, Tracer::new(1.0, 7, 10).context(5, 1).unwrap().trace_id);
    }

    #[test]
    fn traceparent_is_w3c_version_00_sampled_and_reads_back() {
        let c = Tracer::new(1.0, 1, 1).context(3, 1).unwrap();
        let h = c.traceparent();
        assert_eq!(h.len(), 55);
        assert!(h.starts_with("00-") && h.ends_with("-01"), "{h}");
        assert_eq!(TraceContext::parse(&h), Some(c));
        assert_eq!(TraceContext::parse("00-00000000000000000000000000000000-0000000000000001-01"), None);
        assert_eq!(TraceContext::parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"), None);
        let req = with_traceparent(Request::new(()), Some(&c));
        assert_eq!(req.headers()[TRACEPARENT], h.as_str());
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let (q, rx) = SpanQueue::new(2);
        let ctx = Tracer::new(1.0, 1, 1).context(1, 1).unwrap();
        let now = SystemTime::now();
        let span = SpanRecord {
            ctx,
            seq: 1,
            attempt: 1,
            intended: now,
            start: now,
            end: now,
            http_status: Some(200),
            outcome: Outcome::Ok,
            wamid: None,
        };
        for _ in 0..5 {
            q.offer(span.clone());
        }
        assert_eq!(q.dropped.load(Ordering::Relaxed), 3);
        q.close();
        assert_eq!(rx.iter().count(), 2);
    }
}

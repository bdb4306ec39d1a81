//! Behaviour model shared by both flavors: latency sampling, token buckets (throughput and request
//! limits; the pair rate limit is `sim::pair`), on-prem shard queues, downtime windows and recipient rules.
//!
//! Determinism: every random choice for a request is derived from the seed and that request's
//! arrival number (or, for per-recipient rules, from the seed and the recipient's digits), so the
//! same seed and the same request sequence give the same responses and latencies.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution as _, LogNormal};
use tokio::time::Instant;

use super::config::{Distribution, DowntimeWindow, RecipientRules, SimConfig, UndeliverableReason};

/// z-score of the 99th percentile of the standard normal distribution.
const Z99: f64 = 2.326_347_874;

/// SplitMix64 finalizer: a fast, well-mixed 64-bit hash step.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Deterministic 64-bit hash of bytes under a seed (FNV-1a folded through SplitMix64).
pub fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ mix64(seed);
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix64(h)
}

/// The random key of one request: seed mixed with the request's arrival number.
pub fn request_key(seed: u64, seq: u64) -> u64 {
    mix64(mix64(seed) ^ seq.wrapping_mul(0xD6E8_FEB8_6659_FD93))
}

/// Sampler of response times.
#[derive(Debug, Clone)]
pub enum LatencyModel {
    /// Always the same delay.
    Constant(Duration),
    /// Uniform in `[min, max]`.
    Uniform(Duration, Duration),
    /// Log-normal, clamped to `[min, max]`.
    LogNormal {
        /// The distribution of seconds.
        dist: LogNormal<f64>,
        /// Lower clamp.
        min: Duration,
        /// Upper clamp.
        max: Duration,
    },
}

impl LatencyModel {
    /// Build the model of a validated configuration.
    pub fn from_config(cfg: &SimConfig) -> Self {
        let l = &cfg.latency;
        Self::new(l.distribution, cfg.latency_median(), cfg.latency_p99(), l.min, l.max)
    }

    /// A model from its parameters: `median` and `p99` shape the log-normal (`median` alone is
    /// the constant), `min..max` bound `uniform` and clamp every sample.
    pub fn new(distribution: Distribution, median: Duration, p99: Duration, min: Duration, max: Duration) -> Self {
        let max = max.max(min);
        match distribution {
            Distribution::Constant => LatencyModel::Constant(median.clamp(min, max)),
            Distribution::Uniform => LatencyModel::Uniform(min, max),
            Distribution::Lognormal => {
                let m = median.as_secs_f64().max(1e-9);
                let p = p99.as_secs_f64().max(m);
                let sigma = (p / m).ln() / Z99;
                // Parameters were validated (median > 0, sigma >= 0); a degenerate pair falls
                // back to a constant median.
                let Ok(dist) = LogNormal::new(m.ln(), sigma) else {
                    return LatencyModel::Constant(median.clamp(min, max));
                };
                LatencyModel::LogNormal { dist, min, max }
            }
        }
    }

    /// True when every sample is zero (no timer needed).
    pub fn is_zero(&self) -> bool {
        matches!(self, LatencyModel::Constant(d) if d.is_zero())
    }

    /// Sample the latency of the request with the given random key.
    pub fn sample(&self, key: u64) -> Duration {
        match self {
            LatencyModel::Constant(d) => *d,
            LatencyModel::Uniform(lo, hi) => {
                if hi <= lo {
                    return *lo;
                }
                let mut rng = ChaCha8Rng::seed_from_u64(key);
                let span = (*hi - *lo).as_nanos() as u64;
                *lo + Duration::from_nanos(rng.random_range(0..=span))
            }
            LatencyModel::LogNormal { dist, min, max } => {
                let mut rng = ChaCha8Rng::seed_from_u64(key);
                let secs: f64 = dist.sample(&mut rng);
                let d = Duration::try_from_secs_f64(secs).unwrap_or(*max);
                d.clamp(*min, *max)
            }
        }
    }
}

/// A token bucket: `capacity` tokens, refilled at `rate` per second.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn full(capacity: f64, now: Instant) -> Self {
        Bucket { tokens: capacity, last: now }
    }

    /// Take one token if available.
    pub fn try_take(&mut self, capacity: f64, rate: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// True when the bucket would be full at `now` (it can be forgotten).
    pub fn is_full(&self, capacity: f64, rate: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * rate >= capacity
    }
}

/// A single token bucket behind a short-held mutex.
#[derive(Debug)]
pub struct RateLimiter {
    capacity: f64,
    rate: f64,
    bucket: Mutex<Bucket>,
}

impl RateLimiter {
    /// `rate` per second with a burst of `capacity`; `rate == 0` means unlimited.
    pub fn new(rate: f64, capacity: f64) -> Self {
        RateLimiter { capacity, rate, bucket: Mutex::new(Bucket::full(capacity, Instant::now())) }
    }

    /// Take one token; always succeeds when unlimited.
    pub fn try_take(&self) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let now = Instant::now();
        let mut b = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        b.try_take(self.capacity, self.rate, now)
    }
}

const KEYED_SHARDS: usize = 32;

/// Per-key state keyed by a 64-bit hash, spread over mutex-protected shards; states that carry no
/// information any more are pruned as a shard grows (so memory stays bounded by the active keys).
#[derive(Debug)]
pub struct KeyedShards<V> {
    shards: Vec<Mutex<ShardMap<V>>>,
}

#[derive(Debug)]
struct ShardMap<V> {
    map: HashMap<u64, V, IdentityHash>,
    prune_at: usize,
}

impl<V> Default for KeyedShards<V> {
    fn default() -> Self {
        KeyedShards {
            shards: (0..KEYED_SHARDS)
                .map(|_| Mutex::new(ShardMap { map: HashMap::with_hasher(IdentityHash), prune_at: 0 }))
                .collect(),
        }
    }
}

impl<V> KeyedShards<V> {
    /// Keys held now (all shards).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).map.len()).sum()
    }

    /// Run `f` on the state of `key` (made by `init` when absent). When the key's shard has grown past
    /// its mark, the states `keep` says no to are dropped first.
    pub fn with<R>(
        &self,
        key: u64,
        keep: impl Fn(&V) -> bool,
        init: impl FnOnce() -> V,
        f: impl FnOnce(&mut V) -> R,
    ) -> R {
        let shard = &self.shards[(key >> 59) as usize % KEYED_SHARDS];
        let mut s = shard.lock().unwrap_or_else(|e| e.into_inner());
        if s.map.len() >= s.prune_at.max(4096) {
            s.map.retain(|_, v| keep(v));
            s.prune_at = s.map.len() * 2;
        }
        f(s.map.entry(key).or_insert_with(init))
    }
}

/// Many token buckets keyed by a 64-bit hash (e.g. of a phone-number-id). Full buckets are pruned.
#[derive(Debug)]
pub struct KeyedLimiter {
    capacity: f64,
    rate: f64,
    buckets: KeyedShards<Bucket>,
}

/// Keys are already well-mixed hashes; use them as they are.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdentityHash;

/// Hasher of [`IdentityHash`].
#[derive(Debug, Default)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl BuildHasher for IdentityHash {
    type Hasher = IdentityHasher;
    fn build_hasher(&self) -> IdentityHasher {
        IdentityHasher(0)
    }
}

impl KeyedLimiter {
    /// `rate` tokens per second per key, burst `capacity`.
    pub fn new(rate: f64, capacity: f64) -> Self {
        KeyedLimiter { capacity, rate, buckets: KeyedShards::default() }
    }

    /// Take one token from the bucket of `key`.
    pub fn try_take(&self, key: u64) -> bool {
        let now = Instant::now();
        let (cap, rate) = (self.capacity, self.rate);
        self.buckets.with(
            key,
            |b| !b.is_full(cap, rate, now),
            || Bucket::full(cap, now),
            |b| b.try_take(cap, rate, now),
        )
    }
}

/// On-prem CoreApp shards: each processes `per_shard_mps` messages per second in arrival order.
/// A message's queueing delay is the time until its shard has processed the backlog ahead of it.
#[derive(Debug)]
pub struct ShardQueues {
    service: Duration,
    bound: Duration,
    next_free: Vec<Mutex<Instant>>,
}

impl ShardQueues {
    /// `shards` queues, each serving `per_shard_mps`; refuse above `bound` of delay.
    pub fn new(shards: u32, per_shard_mps: f64, bound: Duration) -> Self {
        let now = Instant::now();
        ShardQueues {
            service: Duration::try_from_secs_f64(1.0 / per_shard_mps).unwrap_or(Duration::ZERO),
            bound,
            next_free: (0..shards.max(1)).map(|_| Mutex::new(now)).collect(),
        }
    }

    /// Number of shards.
    pub fn len(&self) -> usize {
        self.next_free.len()
    }

    /// Enqueue a message for the recipient hash `key`: `Some(queue delay)` or `None` when the
    /// delay would exceed the bound (overloaded; the message is not enqueued).
    pub fn enqueue(&self, key: u64) -> Option<Duration> {
        let now = Instant::now();
        let idx = (key % self.next_free.len() as u64) as usize;
        let mut next = self.next_free[idx].lock().unwrap_or_else(|e| e.into_inner());
        let start = (*next).max(now);
        let delay = start - now;
        if delay > self.bound {
            return None;
        }
        *next = start + self.service;
        Some(delay)
    }
}

/// True when `elapsed` since server start falls in one of the windows.
pub fn in_downtime(windows: &[DowntimeWindow], elapsed: Duration) -> bool {
    windows.iter().any(|w| elapsed >= w.start && elapsed < w.start.saturating_add(w.duration))
}

/// Outcome of the recipient rules for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientVerdict {
    /// Deliverable.
    Ok,
    /// In a sanctioned region (country calling code given).
    Sanctioned(&'static str),
    /// Undeliverable for the given reason.
    Undeliverable(UndeliverableReason),
    /// Per-user marketing template limit reached.
    MarketingLimit,
    /// The user's number is part of an experiment in which marketing templates are not delivered
    /// (Cloud 130472).
    Experiment,
    /// The user stopped marketing messages from the business (Cloud 131050).
    StoppedMarketing,
}

/// Known names of sanctioned regions by calling code.
fn region_name(cc: &str) -> &'static str {
    match cc {
        "53" => "Cuba",
        "98" => "Iran",
        "850" => "North Korea",
        "963" => "Syria",
        _ => "a sanctioned region",
    }
}

/// Human-readable details of an undeliverable reason.
pub fn undeliverable_details(reason: UndeliverableReason) -> &'static str {
    match reason {
        UndeliverableReason::Offline | UndeliverableReason::Mixed => {
            "Message undeliverable: the recipient has not been online for more than 30 days"
        }
        UndeliverableReason::Blocked => "Message undeliverable: the recipient blocked the business",
        UndeliverableReason::OldClient => {
            "Message undeliverable: the recipient's WhatsApp client is older than the minimum supported version"
        }
        UndeliverableReason::Tos => {
            "Message undeliverable: the recipient has not accepted the latest Terms of Service (wa.me/tos/20210210)"
        }
    }
}

/// Details of a sanctioned-region rejection.
pub fn sanctioned_details(region: &str) -> String {
    format!("Message undeliverable: recipients in {region} cannot receive WhatsApp Business messages")
}

/// Compiled recipient rules.
#[derive(Debug, Clone)]
pub struct Recipients {
    rules: RecipientRules,
    seed: u64,
}

impl Recipients {
    /// Compile the rules with the simulator seed.
    pub fn new(rules: &RecipientRules, seed: u64) -> Self {
        Recipients { rules: rules.clone(), seed }
    }

    /// Region name when `digits` starts with a sanctioned calling code.
    pub fn sanctioned(&self, digits: &str) -> Option<&'static str> {
        self.rules
            .sanctioned_country_codes
            .iter()
            .find(|cc| !cc.is_empty() && digits.starts_with(cc.trim_start_matches('+')))
            .map(|cc| region_name(cc.trim_start_matches('+')))
    }

    /// The undeliverable reason of `digits`, if any (suffix rule or seeded fraction).
    pub fn undeliverable(&self, digits: &str) -> Option<UndeliverableReason> {
        let by_suffix = ends_with_any(digits, &self.rules.undeliverable_suffixes);
        let h = hash_bytes(self.seed ^ 0x5EED_0001, digits.as_bytes());
        let by_fraction = self.rules.undeliverable_fraction > 0.0
            && ((h >> 11) as f64 / (1u64 << 53) as f64) < self.rules.undeliverable_fraction;
        if !(by_suffix || by_fraction) {
            return None;
        }
        Some(match self.rules.undeliverable_reason {
            UndeliverableReason::Mixed => match mix64(h) % 4 {
                0 => UndeliverableReason::Offline,
                1 => UndeliverableReason::Blocked,
                2 => UndeliverableReason::OldClient,
                _ => UndeliverableReason::Tos,
            },
            r => r,
        })
    }

    /// Apply the per-recipient rules to a message to `digits`; `template` tells whether it is a
    /// template. (Customer service windows are `window::Conversations`.)
    pub fn verdict(&self, digits: &str, template: bool) -> RecipientVerdict {
        if let Some(region) = self.sanctioned(digits) {
            return RecipientVerdict::Sanctioned(region);
        }
        if let Some(r) = self.undeliverable(digits) {
            return RecipientVerdict::Undeliverable(r);
        }
        if template && ends_with_any(digits, &self.rules.stopped_marketing_suffixes) {
            return RecipientVerdict::StoppedMarketing;
        }
        if template && ends_with_any(digits, &self.rules.experiment_suffixes) {
            return RecipientVerdict::Experiment;
        }
        if template && ends_with_any(digits, &self.rules.marketing_limit_suffixes) {
            return RecipientVerdict::MarketingLimit;
        }
        RecipientVerdict::Ok
    }
}

fn ends_with_any(digits: &str, suffixes: &[String]) -> bool {
    suffixes.iter().any(|s| !s.is_empty() && digits.ends_with(s.as_str()))
}

/// Digits of a phone number as typed by the sender (`+1 (650) 555-1234` → `16505551234`), or
/// `None` when it contains anything else or has no digit.
pub fn phone_digits(input: &str) -> Option<String> {
    let mut out = String::with_capacity(input.len());
    // A leading `+` and the separators people write (spaces, hyphens, parentheses) are accepted, as the
    // Cloud API accepts them in `to`; anything else (letters, control characters, a `+` inside the
    // number) makes it no phone number.
    let body = input.trim_start().strip_prefix('+').unwrap_or(input.trim_start());
    for c in body.chars() {
        match c {
            '0'..='9' => out.push(c),
            ' ' | '-' | '(' | ')' => {}
            _ => return None,
        }
    }
    if out.is_empty() || out.len() > 20 { None } else { Some(out) }
}

/// A `wamid.` id, unique per request number within a run (the scrambling is a bijection).
pub fn message_id(seed: u64, seq: u64, digits: &str) -> String {
    let mut raw = Vec::with_capacity(digits.len() + 16);
    raw.extend_from_slice(digits.as_bytes());
    raw.extend_from_slice(&[0x15, 0x02, 0x00, 0x11, 0x18, 0x12]);
    raw.extend_from_slice(&mix64(seq ^ mix64(seed)).to_be_bytes());
    let mut id = String::with_capacity(10 + raw.len() * 4 / 3 + 4);
    id.push_str("wamid.HBgL");
    base64url(&raw, &mut id);
    id
}

/// URL-safe base64 without padding, for ids and tokens.
pub fn base64url(bytes: &[u8], out: &mut String) {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(bytes, out);
}

/// A random-looking trace id (like Graph API's `fbtrace_id`) derived from the request key.
pub fn trace_id(key: u64) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&mix64(key ^ 0x7EACE).to_le_bytes());
    bytes[8..].copy_from_slice(&mix64(key ^ 0xFB7).to_le_bytes());
    let mut s = String::with_capacity(24);
    s.push('A');
    base64url(&bytes, &mut s);
    s.truncate(23);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::sim::LatencyConfig;

    #[test]
    fn lognormal_matches_median_and_p99() {
        let cfg = SimConfig::default();
        let m = LatencyModel::from_config(&cfg);
        let mut v: Vec<f64> = (0..20_000).map(|i| m.sample(request_key(9, i)).as_secs_f64()).collect();
        v.sort_by(f64::total_cmp);
        let median = v[v.len() / 2];
        let p99 = v[v.len() * 99 / 100];
        assert!((median - 0.120).abs() < 0.01, "median {median}");
        assert!((p99 - 0.600).abs() < 0.08, "p99 {p99}");
    }

    #[test]
    fn samples_are_deterministic_per_key() {
        let cfg = SimConfig::default();
        let a = LatencyModel::from_config(&cfg);
        let b = LatencyModel::from_config(&cfg);
        for i in 0..100 {
            assert_eq!(a.sample(request_key(3, i)), b.sample(request_key(3, i)));
        }
        assert_ne!(a.sample(request_key(3, 1)), a.sample(request_key(4, 1)));
    }

    #[test]
    fn uniform_and_constant_stay_in_range() {
        let mut cfg = SimConfig {
            latency: LatencyConfig {
                distribution: Distribution::Uniform,
                min: Duration::from_millis(10),
                max: Duration::from_millis(20),
                ..LatencyConfig::default()
            },
            ..SimConfig::default()
        };
        let m = LatencyModel::from_config(&cfg);
        for i in 0..1000 {
            let d = m.sample(i);
            assert!(d >= Duration::from_millis(10) && d <= Duration::from_millis(20));
        }
        cfg.latency = LatencyConfig::zero();
        assert!(LatencyModel::from_config(&cfg).is_zero());
    }

    #[test]
    fn bucket_allows_burst_then_refills() {
        let t0 = Instant::now();
        let mut b = Bucket::full(3.0, t0);
        assert!(b.try_take(3.0, 1.0, t0));
        assert!(b.try_take(3.0, 1.0, t0));
        assert!(b.try_take(3.0, 1.0, t0));
        assert!(!b.try_take(3.0, 1.0, t0));
        assert!(b.try_take(3.0, 1.0, t0 + Duration::from_secs(1)));
        assert!(!b.try_take(3.0, 1.0, t0 + Duration::from_secs(1)));
    }

    #[test]
    fn keyed_limiter_is_per_key() {
        let l = KeyedLimiter::new(0.001, 2.0);
        assert!(l.try_take(1) && l.try_take(1));
        assert!(!l.try_take(1));
        assert!(l.try_take(2));
    }

    #[test]
    fn shard_queue_refuses_beyond_bound() {
        let q = ShardQueues::new(1, 10.0, Duration::from_millis(250));
        let delays: Vec<_> = (0..6).map(|_| q.enqueue(42)).collect();
        assert_eq!(delays[0], Some(Duration::ZERO));
        assert!(delays[1].unwrap() >= Duration::from_millis(90));
        assert!(delays.iter().any(Option::is_none));
    }

    #[test]
    fn recipient_rules() {
        let r = Recipients::new(&RecipientRules::default(), 1);
        assert_eq!(r.verdict("5351234567", false), RecipientVerdict::Sanctioned("Cuba"));
        assert_eq!(r.verdict("905321234567", false), RecipientVerdict::Ok);
        assert!(matches!(r.verdict("16505550000", true), RecipientVerdict::Undeliverable(_)));
        assert_eq!(r.verdict("16505554747", false), RecipientVerdict::Ok, "windows are not a recipient rule");
        assert_eq!(r.verdict("16505554747", true), RecipientVerdict::Ok);
        assert_eq!(r.verdict("16505554949", true), RecipientVerdict::MarketingLimit);
        let rules = RecipientRules {
            experiment_suffixes: vec!["7272".into()],
            stopped_marketing_suffixes: vec!["5050".into()],
            ..RecipientRules::default()
        };
        let r = Recipients::new(&rules, 1);
        assert_eq!(r.verdict("16505557272", true), RecipientVerdict::Experiment);
        assert_eq!(r.verdict("16505555050", true), RecipientVerdict::StoppedMarketing);
        assert_eq!(r.verdict("16505555050", false), RecipientVerdict::Ok, "only marketing templates");
        let rules = RecipientRules { undeliverable_fraction: 0.25, ..RecipientRules::default() };
        let r = Recipients::new(&rules, 5);
        let n = (0..4000).filter(|i| r.undeliverable(&format!("1555{i:06}1")).is_some()).count();
        assert!((800..1200).contains(&n), "{n}");
    }

    #[test]
    fn digits_and_ids() {
        assert_eq!(phone_digits("+1 (650) 555-1234").as_deref(), Some("16505551234"));
        assert_eq!(phone_digits("abc"), None);
        assert_eq!(phone_digits("+"), None);
        assert_eq!(phone_digits("1+650"), None, "a + only leads");
        assert_eq!(phone_digits("1650\u{7}5551234"), None, "control characters");
        assert_eq!(phone_digits("1.650.555.1234"), None);
        let mut s = String::new();
        base64url(b"hello", &mut s);
        assert_eq!(s, "aGVsbG8");
        assert_eq!(trace_id(1).len(), 23);
        assert_ne!(trace_id(1), trace_id(2));
    }
}

//! Conversation rules of the simulator: each user's customer service window and the business
//! portfolio's messaging limit (see `spec::sim::limits` for the sources).
//!
//! Time is passed in as the [`Duration`] since server start, so the rules are pure functions of
//! their inputs and are tested without a clock. Memory is bounded by the users seen in one window
//! length: entries older than it are pruned as the maps grow.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use super::config::{MessagingLimitConfig, RecipientRules, WindowConfig};
use super::model::{IdentityHash, hash_bytes};

/// Salt of the seeded "wrote before the run" choice.
const OPEN_SALT: u64 = 0x0CE4_7A11_0000_0001;

/// Why an accepted message fails later, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Later {
    /// Delivered normally.
    Delivers,
    /// A free-form message outside the user's window (Cloud 131047, on-prem 470).
    ReEngagement,
    /// A template to a new user beyond the portfolio's messaging limit.
    OverLimit,
}

/// Users who opened a window: when each last wrote.
#[derive(Debug)]
pub struct Windows {
    cfg: WindowConfig,
    seed: u64,
    never: Vec<String>,
    last: Mutex<Pruned>,
}

#[derive(Debug, Default)]
struct Pruned {
    map: HashMap<u64, Duration, IdentityHash>,
    prune_at: usize,
}

impl Windows {
    /// The windows of a validated configuration; numbers ending in `rules.reengagement_suffixes`
    /// never open theirs.
    pub fn new(cfg: &WindowConfig, rules: &RecipientRules, seed: u64) -> Self {
        Windows {
            cfg: cfg.clone(),
            seed,
            never: rules.reengagement_suffixes.iter().filter(|s| !s.is_empty()).cloned().collect(),
            last: Mutex::new(Pruned::default()),
        }
    }

    fn never_opens(&self, digits: &str) -> bool {
        self.never.iter().any(|s| digits.ends_with(s.as_str()))
    }

    /// The user `digits` wrote at `now`: their window opens (or is refreshed).
    pub fn user_wrote(&self, digits: &str, now: Duration) {
        if self.never_opens(digits) {
            return;
        }
        let key = hash_bytes(self.seed, digits.as_bytes());
        let mut p = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if p.map.len() >= p.prune_at.max(4096) {
            let d = self.cfg.duration;
            p.map.retain(|_, t| now.saturating_sub(*t) < d);
            p.prune_at = p.map.len() * 2;
        }
        p.map.insert(key, now);
    }

    /// Whether a free-form message to `digits` may be sent at `now`.
    pub fn is_open(&self, digits: &str, now: Duration) -> bool {
        if self.never_opens(digits) {
            return false;
        }
        if !self.cfg.enabled {
            return true;
        }
        let key = hash_bytes(self.seed, digits.as_bytes());
        let wrote = self.last.lock().unwrap_or_else(|e| e.into_inner()).map.get(&key).copied();
        let before_run = fraction(hash_bytes(self.seed ^ OPEN_SALT, digits.as_bytes())) < self.cfg.open_fraction;
        window_open(wrote, before_run, now, self.cfg.duration)
    }
}

/// A uniform number in [0, 1) from a hash.
fn fraction(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Whether a window is open at `now`: the user last wrote at `wrote` (since server start) or,
/// with `before_run`, at server start.
pub fn window_open(wrote: Option<Duration>, before_run: bool, now: Duration, duration: Duration) -> bool {
    let last = match (wrote, before_run) {
        (Some(t), _) => Some(t),
        (None, true) => Some(Duration::ZERO),
        (None, false) => None,
    };
    last.is_some_and(|t| now.saturating_sub(t) < duration)
}

/// Unique users messaged outside their window in a moving period, against a limit.
#[derive(Debug)]
pub struct RollingUsers {
    limit: Option<u64>,
    period: Duration,
    /// When each counted user's business-initiated conversation began.
    started: HashMap<u64, Duration, IdentityHash>,
    order: VecDeque<(Duration, u64)>,
}

impl RollingUsers {
    /// `limit` unique users (`None`: unlimited) per moving `period`.
    pub fn new(limit: Option<u64>, period: Duration) -> Self {
        RollingUsers { limit, period, started: HashMap::default(), order: VecDeque::new() }
    }

    /// A business-initiated message to `user` at `now` (non-decreasing): true when it is within the
    /// limit (the user is already counted in the period, or there is room to count them).
    pub fn admit(&mut self, user: u64, now: Duration) -> bool {
        let Some(limit) = self.limit else {
            return true;
        };
        while let Some(&(t, u)) = self.order.front() {
            if now.saturating_sub(t) < self.period {
                break;
            }
            self.order.pop_front();
            if self.started.get(&u) == Some(&t) {
                self.started.remove(&u);
            }
        }
        if self.started.contains_key(&user) {
            return true;
        }
        if self.started.len() as u64 >= limit {
            return false;
        }
        self.started.insert(user, now);
        self.order.push_back((now, user));
        true
    }

    /// Users counted now.
    #[cfg(test)]
    pub fn counted(&self) -> usize {
        self.started.len()
    }
}

/// The conversation rules of one simulator: windows and the portfolio limit, which every number the
/// simulator serves shares (Meta: limits are set per business portfolio since 2025-10-07).
#[derive(Debug)]
pub struct Conversations {
    pub windows: Windows,
    limit: Mutex<RollingUsers>,
    seed: u64,
}

/// Meta counts messaging limits over a moving 24-hour period (messaging-limits document).
const LIMIT_PERIOD: Duration = Duration::from_secs(24 * 3600);

impl Conversations {
    /// The rules of a validated configuration.
    pub fn new(w: &WindowConfig, m: &MessagingLimitConfig, rules: &RecipientRules, seed: u64) -> Self {
        Conversations {
            windows: Windows::new(w, rules, seed),
            limit: Mutex::new(RollingUsers::new(m.tier.limit(), LIMIT_PERIOD)),
            seed,
        }
    }

    /// What becomes of a message to `digits` accepted at `now`: templates are always allowed but
    /// outside the window they count toward the messaging limit; anything else needs an open window.
    pub fn later(&self, digits: &str, template: bool, now: Duration) -> Later {
        let open = self.windows.is_open(digits, now);
        match (template, open) {
            (_, true) => Later::Delivers,
            (false, false) => Later::ReEngagement,
            (true, false) => {
                let user = hash_bytes(self.seed ^ 0x11A1, digits.as_bytes());
                let mut l = self.limit.lock().unwrap_or_else(|e| e.into_inner());
                if l.admit(user, now) { Later::Delivers } else { Later::OverLimit }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_window_is_open_for_its_duration_after_the_user_wrote() {
        let day = s(86_400);
        assert!(!window_open(None, false, s(5), day), "closed by default");
        assert!(window_open(Some(s(10)), false, s(10), day));
        assert!(window_open(Some(s(10)), false, s(86_409), day));
        assert!(!window_open(Some(s(10)), false, s(86_410), day), "24 h later it closed");
        assert!(window_open(None, true, s(86_399), day), "wrote before the run");
        assert!(!window_open(None, true, s(86_400), day));
    }

    #[test]
    fn windows_open_on_inbound_and_never_for_the_excluded() {
        let rules = RecipientRules::default();
        let w = Windows::new(&WindowConfig::default(), &rules, 7);
        assert!(!w.is_open("15551230001", s(1)));
        w.user_wrote("15551230001", s(2));
        assert!(w.is_open("15551230001", s(3)));
        assert!(!w.is_open("15551230002", s(3)), "another user's window stays closed");
        w.user_wrote("15551234747", s(2));
        assert!(!w.is_open("15551234747", s(3)), "numbers ending 4747 never open theirs");
        let off = Windows::new(&WindowConfig { enabled: false, ..WindowConfig::default() }, &rules, 7);
        assert!(off.is_open("15551230003", s(1)));
        assert!(!off.is_open("15551234747", s(1)));
        let half = Windows::new(&WindowConfig { open_fraction: 0.5, ..WindowConfig::default() }, &rules, 7);
        let open = (0..1000).filter(|i| half.is_open(&format!("1555100{i:04}"), s(1))).count();
        assert!((400..600).contains(&open), "{open}");
    }

    #[test]
    fn the_limit_counts_unique_users_over_a_moving_period() {
        let mut r = RollingUsers::new(Some(2), s(100));
        assert!(r.admit(1, s(0)));
        assert!(r.admit(1, s(1)), "the same user again is not a new one");
        assert!(r.admit(2, s(2)));
        assert!(!r.admit(3, s(3)), "a third unique user is over the limit");
        assert!(!r.admit(3, s(99)));
        assert!(r.admit(3, s(100)), "user 1's period ended");
        assert_eq!(r.counted(), 2);
        let mut none = RollingUsers::new(None, s(100));
        assert!((0..10_000).all(|u| none.admit(u, s(1))));
    }

    #[test]
    fn templates_are_allowed_but_count_toward_the_tier() {
        use super::super::config::MessagingTier;
        let m = MessagingLimitConfig { tier: MessagingTier::T250, ..Default::default() };
        let c = Conversations::new(&WindowConfig::default(), &m, &RecipientRules::default(), 3);
        let users: Vec<String> = (0..300).map(|i| format!("1555200{i:04}")).collect();
        let later: Vec<Later> = users.iter().map(|u| c.later(u, true, s(1))).collect();
        assert_eq!(later.iter().filter(|l| **l == Later::Delivers).count(), 250);
        assert_eq!(later[299], Later::OverLimit);
        assert_eq!(c.later(&users[0], false, s(2)), Later::ReEngagement, "text to a closed window");
        c.windows.user_wrote(&users[299], s(3));
        assert_eq!(c.later(&users[299], true, s(4)), Later::Delivers, "inside the window: not counted");
        assert_eq!(c.later(&users[299], false, s(4)), Later::Delivers);
    }
}

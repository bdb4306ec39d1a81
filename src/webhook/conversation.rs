//! The conversation tracker: the user turns a conversation target posts to a bot, and the bot's
//! replies as the simulated Cloud API sees them. A reply is matched to the turn it answers: the one
//! it quotes (`context.message_id`) when that turn is still waiting, else the user's oldest turn
//! without a reply, else the user's latest turn (a second reply to it). Each turn's time to its
//! first accepted reply is measured from the intended send time of the user's message, so a late post
//! does not hide its own lateness (no coordinated omission).
//!
//! A scripted conversation goes on when a turn is answered: the tracker tells its `on_answer` hook
//! (the driver schedules the next turn), keeps the turn's last interactive reply (for a turn that
//! chooses a button or row) and checks every reply against what the turn expects.
//!
//! Memory is bounded by the turns in flight: a turn leaves the books a little after `reply_timeout`
//! (kept that long to count further replies to it).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::Value;

use crate::results::conversation::{ConversationStats, TurnStats};
use crate::results::{Summary, histogram};
use crate::spec::conversation::{Expect, TurnSpec};

/// One user message waiting for, or answered by, the bot.
#[derive(Debug)]
struct Turn {
    id: String,
    /// The conversation (the request number of its first turn) and the turn's place in it.
    conv: u64,
    index: usize,
    intended: Instant,
    answered: bool,
    /// Its expectation was met by a reply.
    met: bool,
    /// The last interactive message the bot sent in reply.
    interactive: Option<Value>,
}

/// Per turn of the script.
#[derive(Debug)]
struct TurnBooks {
    sent: u64,
    answered: u64,
    late: u64,
    met: u64,
    latency: Histogram<u64>,
}

impl TurnBooks {
    fn new() -> TurnBooks {
        TurnBooks { sent: 0, answered: 0, late: 0, met: 0, latency: histogram() }
    }
}

#[derive(Debug, Default)]
struct Books {
    /// Per user, the turns still kept, oldest first.
    open: HashMap<String, VecDeque<Turn>>,
    /// Turns kept in all (bounds the pruning work).
    kept: usize,
    turns: u64,
    not_delivered: u64,
    answered: u64,
    late: u64,
    replies: u64,
    unsolicited: u64,
    completed: u64,
    failed: BTreeMap<i64, u64>,
    per_turn: Vec<TurnBooks>,
}

/// A turn the bot answered (its first accepted reply): where a script goes on.
#[derive(Debug, Clone)]
pub struct Answered {
    pub user: String,
    pub id: String,
    pub conv: u64,
    pub index: usize,
    pub at: Instant,
}

type Hook = Box<dyn Fn(Answered) + Send + Sync>;

/// Turns and replies of one conversation target.
pub struct ConversationTracker {
    reply_timeout: Duration,
    script: Vec<TurnSpec>,
    /// Each turn's `expect.matches`, compiled (checked valid when the profile was loaded).
    patterns: Vec<Option<regex::Regex>>,
    books: Mutex<Books>,
    latency: Mutex<Histogram<u64>>,
    on_answer: Mutex<Option<Hook>>,
    /// Next turns scheduled and not yet posted.
    pending: AtomicU64,
    closed: AtomicBool,
}

impl std::fmt::Debug for ConversationTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationTracker").field("reply_timeout", &self.reply_timeout).finish_non_exhaustive()
    }
}

impl ConversationTracker {
    /// A tracker of conversations of one turn.
    pub fn new(reply_timeout: Duration) -> ConversationTracker {
        Self::scripted(reply_timeout, vec![TurnSpec::default()])
    }

    /// A tracker of conversations that follow `script` (its expectations are checked here).
    pub fn scripted(reply_timeout: Duration, script: Vec<TurnSpec>) -> ConversationTracker {
        let books = Books { per_turn: script.iter().map(|_| TurnBooks::new()).collect(), ..Books::default() };
        let patterns = script.iter().map(|t| t.expect.as_ref().and_then(|e| e.pattern().ok().flatten())).collect();
        ConversationTracker {
            reply_timeout,
            patterns,
            script,
            books: Mutex::new(books),
            latency: Mutex::new(histogram()),
            on_answer: Mutex::new(None),
            pending: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    pub fn reply_timeout(&self) -> Duration {
        self.reply_timeout
    }

    /// Call `f` with every turn's first accepted reply (in time: within `reply_timeout`).
    pub fn on_answer(&self, f: impl Fn(Answered) + Send + Sync + 'static) {
        *self.on_answer.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Box::new(f));
    }

    /// No more turns: the hook is dropped and [`Self::is_closed`] tells schedulers to stop.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.on_answer.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// A next turn was scheduled (it counts as waiting until [`Self::unscheduled`]).
    pub fn scheduled(&self) {
        self.pending.fetch_add(1, Ordering::SeqCst);
    }

    /// A scheduled turn was posted, or given up.
    pub fn unscheduled(&self) {
        self.pending.fetch_sub(1, Ordering::SeqCst);
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// User `user` sent message `id`, turn `index` of conversation `conv`, intended at `intended`; it
    /// now waits for the bot's reply.
    pub fn turn(&self, user: &str, id: &str, conv: u64, index: usize, intended: Instant) {
        let mut b = self.books();
        b.turns += 1;
        b.kept += 1;
        if let Some(t) = b.per_turn.get_mut(index) {
            t.sent += 1;
        }
        let t = Turn { id: id.to_string(), conv, index, intended, answered: false, met: false, interactive: None };
        b.open.entry(user.to_string()).or_default().push_back(t);
        if b.kept > 4096 && b.kept.is_power_of_two() {
            self.prune(&mut b, Instant::now());
        }
    }

    /// The endpoint did not accept turn `id` of `user` (an error status, no answer): the bot never got
    /// it, so it waits for nothing.
    pub fn not_delivered(&self, user: &str, id: &str) {
        let mut b = self.books();
        let Some(q) = b.open.get_mut(user) else { return };
        let Some(i) = q.iter().position(|t| t.id == id) else { return };
        let index = q[i].index;
        q.remove(i);
        if q.is_empty() {
            b.open.remove(user);
        }
        b.kept -= 1;
        b.turns -= 1;
        b.not_delivered += 1;
        if let Some(t) = b.per_turn.get_mut(index) {
            t.sent -= 1;
        }
    }

    /// The last interactive message the bot sent in reply to turn `id` of `user`.
    pub fn last_interactive(&self, user: &str, id: &str) -> Option<Value> {
        let b = self.books();
        b.open.get(user)?.iter().find(|t| t.id == id)?.interactive.clone()
    }

    /// The bot sent `message` to `to` at `at`, quoting `context`; `error` is the code the API refused
    /// it with or it fails with later.
    pub fn reply(&self, to: &str, context: Option<&str>, at: Instant, error: Option<i64>, message: &Value) {
        let answered = {
            let mut guard = self.books();
            let b = &mut *guard;
            let Some(q) = b.open.get_mut(to) else {
                b.unsolicited += 1;
                return;
            };
            let quoted = context.and_then(|c| q.iter().position(|t| t.id == c && !t.answered));
            let i = quoted.or_else(|| q.iter().position(|t| !t.answered)).unwrap_or(q.len() - 1);
            let turn = &mut q[i];
            let first = error.is_none() && !turn.answered;
            let waited = at.saturating_duration_since(turn.intended);
            let mut newly_met = false;
            if error.is_none() {
                if message.get("type").and_then(Value::as_str) == Some("interactive") {
                    turn.interactive = Some(message.clone());
                }
                let expect = self.script.get(turn.index).and_then(|s| s.expect.as_ref());
                let pattern = self.patterns.get(turn.index).and_then(Option::as_ref);
                newly_met = !turn.met && expect.is_some_and(|e| meets(e, pattern, message));
                turn.met |= newly_met;
            }
            turn.answered |= first;
            let (conv, index, id) = (turn.conv, turn.index, turn.id.clone());
            b.replies += 1;
            let per = b.per_turn.get_mut(index);
            if let Some(code) = error {
                *b.failed.entry(code).or_default() += 1;
                return;
            }
            let Some(per) = per else { return };
            per.met += u64::from(newly_met);
            if !first {
                return;
            }
            if waited > self.reply_timeout {
                b.late += 1;
                per.late += 1;
                return;
            }
            b.answered += 1;
            let us = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX).clamp(1, crate::results::MAX_US);
            per.answered += 1;
            let _ = per.latency.record(us);
            if index + 1 == self.script.len() {
                b.completed += 1;
            }
            let _ = self.latency.lock().unwrap_or_else(std::sync::PoisonError::into_inner).record(us);
            Answered { user: to.to_string(), id, conv, index, at }
        };
        if answered.index + 1 < self.script.len()
            && let Some(f) = self.on_answer.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref()
        {
            f(answered);
        }
    }

    /// Drop the turns older than `reply_timeout` plus a grace (answered or not, they are settled).
    fn prune(&self, b: &mut Books, now: Instant) {
        let keep = self.reply_timeout + self.reply_timeout / 2;
        let mut dropped = 0;
        b.open.retain(|_, q| {
            let before = q.len();
            q.retain(|t| now.saturating_duration_since(t.intended) <= keep);
            dropped += before - q.len();
            !q.is_empty()
        });
        b.kept -= dropped;
    }

    /// Whether a turn is still waiting for its first reply within `reply_timeout` at `now`, or a next
    /// turn is scheduled and not yet posted.
    pub fn waiting(&self, now: Instant) -> bool {
        if self.pending.load(Ordering::SeqCst) > 0 {
            return true;
        }
        let b = self.books();
        b.open
            .values()
            .flatten()
            .any(|t| !t.answered && now.saturating_duration_since(t.intended) <= self.reply_timeout)
    }

    /// The figures so far, and the time-to-first-reply histograms: all turns, then per turn of the
    /// script.
    pub fn stats(&self) -> (ConversationStats, Histogram<u64>, Vec<Histogram<u64>>) {
        let b = self.books();
        let h = self.latency.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let scripted = self.script.len() > 1 || self.script.iter().any(|t| t.expect.is_some());
        let per_turn = match scripted {
            true => self
                .script
                .iter()
                .zip(&b.per_turn)
                .map(|(spec, t)| TurnStats {
                    turn: spec.label(),
                    sent: t.sent,
                    answered: t.answered,
                    unanswered: t.sent - t.answered,
                    unmet: if spec.expect.is_some() { t.sent - t.met } else { 0 },
                    reply_latency_us: Summary::of(&t.latency),
                })
                .collect(),
            false => Vec::new(),
        };
        let started = b.per_turn.first().map_or(0, |t| t.sent);
        let s = ConversationStats {
            turns: b.turns,
            not_delivered: b.not_delivered,
            answered: b.answered,
            unanswered: b.turns - b.answered,
            late: b.late,
            replies: b.replies,
            failed_replies: b.failed.clone(),
            unsolicited: b.unsolicited,
            reply_latency_us: Summary::of(&h),
            reply_timeout_ms: u64::try_from(self.reply_timeout.as_millis()).unwrap_or(u64::MAX),
            conversations: if scripted { started } else { 0 },
            completed: if scripted { b.completed } else { 0 },
            per_turn,
        };
        let turns = b.per_turn.iter().map(|t| t.latency.clone()).collect();
        (s, h, turns)
    }
}

/// Whether the bot's `message` meets every rule of `e` (`pattern`: its `matches`, compiled).
pub fn meets(e: &Expect, pattern: Option<&regex::Regex>, message: &Value) -> bool {
    let kind = message.get("type").and_then(Value::as_str).unwrap_or("text");
    if e.kind.as_deref().is_some_and(|k| k != kind) {
        return false;
    }
    if let Some(i) = &e.interactive
        && message.pointer("/interactive/type").and_then(Value::as_str) != Some(i.as_str())
    {
        return false;
    }
    let text = words(message);
    if let Some(c) = &e.contains
        && !text.to_lowercase().contains(&c.to_lowercase())
    {
        return false;
    }
    pattern.is_none_or(|p| p.is_match(&text))
}

/// The text a person sees in a message: a text body, a caption, or an interactive message's header,
/// body, footer, buttons and rows (one line each).
pub fn words(message: &Value) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut add = |v: Option<&Value>| {
        if let Some(s) = v.and_then(Value::as_str) {
            out.push(s.to_string());
        }
    };
    add(message.pointer("/text/body"));
    for media in ["image", "video", "document"] {
        add(message.pointer(&format!("/{media}/caption")));
    }
    if let Some(i) = message.get("interactive") {
        add(i.pointer("/header/text"));
        add(i.pointer("/body/text"));
        add(i.pointer("/footer/text"));
        for (id, title) in choices(message) {
            add(Some(&Value::String(id)));
            add(Some(&Value::String(title)));
        }
    }
    out.join("\n")
}

/// The buttons and list rows of an interactive message: (id, title), in order.
pub fn choices(message: &Value) -> Vec<(String, String)> {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let mut out = Vec::new();
    if let Some(buttons) = message.pointer("/interactive/action/buttons").and_then(Value::as_array) {
        for b in buttons {
            let r = b.get("reply").unwrap_or(b);
            out.push((s(r, "id"), s(r, "title")));
        }
    }
    if let Some(sections) = message.pointer("/interactive/action/sections").and_then(Value::as_array) {
        for row in sections.iter().filter_map(|x| x.get("rows").and_then(Value::as_array)).flatten() {
            out.push((s(row, "id"), s(row, "title")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ms(t0: Instant, n: u64) -> Instant {
        t0 + Duration::from_millis(n)
    }

    fn text(body: &str) -> Value {
        json!({"type": "text", "text": {"body": body}})
    }

    #[test]
    fn first_replies_are_timed_from_the_intended_time_and_matched_by_quote_then_age() {
        let t = ConversationTracker::new(Duration::from_secs(5));
        let t0 = Instant::now();
        t.turn("1555", "a", 0, 0, t0);
        t.turn("1555", "b", 1, 0, ms(t0, 100));
        t.turn("1666", "c", 2, 0, ms(t0, 200));
        // Quoting b answers b, not the older a.
        t.reply("1555", Some("b"), ms(t0, 300), None, &text("x"));
        // No quote: the oldest unanswered turn of the user (a).
        t.reply("1555", None, ms(t0, 1_000), None, &text("x"));
        // A second reply to a user whose turns are all answered: a reply more, no new answer.
        t.reply("1555", None, ms(t0, 1_100), None, &text("x"));
        // To nobody waiting.
        t.reply("1777", None, ms(t0, 1_200), None, &text("x"));
        let (s, h, _) = t.stats();
        assert_eq!((s.turns, s.answered, s.unanswered, s.replies, s.unsolicited), (3, 2, 1, 3, 1));
        assert!(s.per_turn.is_empty(), "one turn, no expectation: no per-turn rows");
        assert_eq!(h.len(), 2);
        // b waited 200 ms, a 1000 ms.
        assert!(h.min() >= 199_000 && h.min() <= 201_000, "{}", h.min());
        assert!(h.max() >= 999_000 && h.max() <= 1_001_000, "{}", h.max());
    }

    #[test]
    fn failed_and_late_replies_leave_the_turn_unanswered() {
        let t = ConversationTracker::new(Duration::from_millis(500));
        let t0 = Instant::now();
        t.turn("1", "a", 0, 0, t0);
        t.turn("2", "b", 1, 0, t0);
        t.turn("3", "c", 2, 0, t0);
        t.reply("1", Some("a"), ms(t0, 100), Some(131047), &text("x"));
        t.reply("2", Some("b"), ms(t0, 900), None, &text("x"));
        t.reply("3", Some("c"), ms(t0, 100), Some(130429), &text("x"));
        t.reply("3", Some("c"), ms(t0, 200), None, &text("x"));
        let (s, h, _) = t.stats();
        assert_eq!((s.turns, s.answered, s.unanswered, s.late, s.replies), (3, 1, 2, 1, 4));
        assert_eq!(s.failed_replies, [(130429, 1), (131047, 1)].into());
        assert_eq!(h.len(), 1);
        assert!(t.waiting(ms(t0, 400)), "a is still within its timeout");
        assert!(!t.waiting(ms(t0, 600)));
    }

    #[test]
    fn a_turn_the_endpoint_refused_waits_for_nothing() {
        let t = ConversationTracker::new(Duration::from_secs(1));
        let t0 = Instant::now();
        t.turn("1", "a", 0, 0, t0);
        t.not_delivered("1", "a");
        let (s, _, _) = t.stats();
        assert_eq!((s.turns, s.not_delivered, s.unanswered), (0, 1, 0));
        assert!(!t.waiting(t0));
    }

    #[test]
    fn old_turns_are_pruned_and_memory_stays_bounded() {
        let t = ConversationTracker::new(Duration::from_millis(10));
        let t0 = Instant::now() - Duration::from_secs(60);
        for i in 0..20_000u64 {
            t.turn(&format!("u{}", i % 500), &format!("m{i}"), i, 0, t0);
        }
        assert!(t.books().kept < 8192, "{}", t.books().kept);
        let (s, _, _) = t.stats();
        assert_eq!((s.turns, s.unanswered), (20_000, 20_000));
    }

    #[test]
    fn a_script_goes_on_when_a_turn_is_answered_and_expectations_are_counted_per_turn() {
        let menu = TurnSpec {
            text: Some("menu".into()),
            expect: Some(Expect { interactive: Some("button".into()), ..Default::default() }),
            ..Default::default()
        };
        let pick = TurnSpec {
            choose: Some("Orders".into()),
            expect: Some(Expect { contains: Some("no open orders".into()), ..Default::default() }),
            ..Default::default()
        };
        let t = std::sync::Arc::new(ConversationTracker::scripted(Duration::from_secs(5), vec![menu, pick]));
        let next = std::sync::Arc::new(Mutex::new(Vec::new()));
        let seen = next.clone();
        t.on_answer(move |a| seen.lock().unwrap().push((a.conv, a.index)));
        let t0 = Instant::now();
        let buttons = json!({"type": "interactive", "interactive": {"type": "button", "body": {"text": "What?"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "orders", "title": "Orders"}}]}}});
        t.turn("1", "m0", 7, 0, t0);
        t.turn("2", "n0", 8, 0, t0);
        t.reply("1", Some("m0"), ms(t0, 10), None, &buttons);
        t.reply("2", Some("n0"), ms(t0, 10), None, &text("no menu today"));
        assert_eq!(*next.lock().unwrap(), vec![(7, 0), (8, 0)], "both first turns answered: both go on");
        assert_eq!(t.last_interactive("1", "m0"), Some(buttons));
        assert_eq!(t.last_interactive("2", "n0"), None);
        t.turn("1", "m1", 7, 1, ms(t0, 1_000));
        t.reply("1", Some("m1"), ms(t0, 1_050), None, &text("You have no open orders."));
        t.turn("2", "n1", 8, 1, ms(t0, 1_000));
        assert_eq!(next.lock().unwrap().len(), 2, "the last turn's answer schedules nothing");
        let (s, _, per) = t.stats();
        assert_eq!((s.conversations, s.completed), (2, 1));
        assert_eq!(s.per_turn.len(), 2);
        assert_eq!((s.per_turn[0].sent, s.per_turn[0].answered, s.per_turn[0].unmet), (2, 2, 1));
        assert_eq!(
            (s.per_turn[1].sent, s.per_turn[1].answered, s.per_turn[1].unanswered, s.per_turn[1].unmet),
            (2, 1, 1, 1)
        );
        assert_eq!(s.per_turn[1].turn, "choose \"Orders\"");
        assert_eq!(per[1].len(), 1);
        t.close();
        assert!(t.is_closed());
    }

    #[test]
    fn replies_are_read_as_a_person_sees_them() {
        let list = json!({"type": "interactive", "interactive": {"type": "list", "body": {"text": "Pick one"},
            "action": {"button": "Open", "sections": [{"title": "s", "rows": [{"id": "r1", "title": "First"}, {"id": "r2", "title": "Second"}]}]}}});
        assert_eq!(choices(&list), vec![("r1".into(), "First".into()), ("r2".into(), "Second".into())]);
        assert!(meets(&Expect { contains: Some("second".into()), ..Default::default() }, None, &list));
        assert!(meets(&Expect { interactive: Some("list".into()), ..Default::default() }, None, &list));
        assert!(!meets(&Expect { kind: Some("text".into()), ..Default::default() }, None, &list));
        let hello = Expect { kind: Some("text".into()), contains: Some("HELLO".into()), ..Default::default() };
        assert!(meets(&hello, None, &text("hello there")));
        let order = Expect { matches: Some(r"order #\d+".into()), ..Default::default() };
        let re = order.pattern().unwrap();
        assert!(meets(&order, re.as_ref(), &text("Your order #1234 ships today")));
        assert!(!meets(&order, re.as_ref(), &text("Your order ships today")));
    }
}

//! A conversation target's figures merged from its parts: counts added up (failed replies per code),
//! the time-to-first-reply histograms of the parts' `<target>.replies.hlog` added exactly and written
//! to the merged folder's, and the percentiles recomputed from the sum. Parts must have waited as long
//! for a reply (`reply_timeout`): otherwise their unanswered turns would not mean the same thing.

use std::path::Path;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;

use super::Part;
use crate::results::conversation::{self, ConversationStats};
use crate::results::{self, Summary, files, histogram, hlog};

/// The merged figures of target `name`, and its merged replies log written into `out`; `None` when
/// no part is a conversation target.
pub(super) fn merge(
    name: &str,
    parts: &[Part<'_>],
    base: SystemTime,
    length: Duration,
    out: &Path,
) -> Result<Option<ConversationStats>, String> {
    let Some(first) = parts.iter().find_map(|p| p.result.conversation.as_ref()) else { return Ok(None) };
    let mut merged = zeroed(first);
    let mut h: Histogram<u64> = histogram();
    let mut turns: Vec<Histogram<u64>> = merged.per_turn.iter().map(|_| histogram()).collect();
    for p in parts {
        let dir = p.data.dir.display();
        let Some(s) = &p.result.conversation else {
            return Err(format!(
                "{dir}: target {name:?} has no conversation figures, unlike the other parts: only parts of the same \
                 run can be merged"
            ));
        };
        if s.reply_timeout_ms != merged.reply_timeout_ms {
            return Err(format!(
                "{dir}: target {name:?} waited {} ms for a reply (reply_timeout), the other parts {} ms: their \
                 unanswered turns do not count the same thing, so they cannot be added up",
                s.reply_timeout_ms, merged.reply_timeout_ms
            ));
        }
        merged.turns += s.turns;
        merged.not_delivered += s.not_delivered;
        merged.answered += s.answered;
        merged.unanswered += s.unanswered;
        merged.late += s.late;
        merged.replies += s.replies;
        merged.unsolicited += s.unsolicited;
        merged.conversations += s.conversations;
        merged.completed += s.completed;
        if s.per_turn.len() != merged.per_turn.len() {
            return Err(format!(
                "{dir}: target {name:?} ran a script of {} turns, the other parts {}: only parts of the same run \
                 can be merged",
                s.per_turn.len(),
                merged.per_turn.len()
            ));
        }
        for (m, t) in merged.per_turn.iter_mut().zip(&s.per_turn) {
            m.sent += t.sent;
            m.answered += t.answered;
            m.unanswered += t.unanswered;
            m.unmet += t.unmet;
        }
        for (code, n) in &s.failed_replies {
            *merged.failed_replies.entry(*code).or_insert(0) += n;
        }
        let path = p.data.dir.join(files::replies_hlog_name(name));
        let before = h.len();
        add_replies(&path, &mut h, &mut turns)?;
        if h.len() - before != s.reply_latency_us.count {
            return Err(format!(
                "{}: {} first replies in the log, but run.json counts {} for target {name:?}: the merged percentiles \
                 would not be this part's",
                path.display(),
                h.len() - before,
                s.reply_latency_us.count
            ));
        }
    }
    merged.reply_latency_us = Summary::of(&h);
    for (t, th) in merged.per_turn.iter_mut().zip(&turns) {
        t.reply_latency_us = Summary::of(th);
    }
    let mut buf = Vec::new();
    conversation::write_hlog(&mut buf, &h, &turns, base, length).map_err(|e| e.to_string())?;
    let path = out.join(files::replies_hlog_name(name));
    results::write_atomic(&path, &buf).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(merged))
}

/// `first`'s figures with every count at zero, to add the parts up from (a figure added to
/// ConversationStats later is taken from the first part until it is merged here too).
fn zeroed(first: &ConversationStats) -> ConversationStats {
    let mut merged = first.clone();
    merged.turns = 0;
    merged.not_delivered = 0;
    merged.answered = 0;
    merged.unanswered = 0;
    merged.late = 0;
    merged.replies = 0;
    merged.failed_replies.clear();
    merged.unsolicited = 0;
    merged.conversations = 0;
    merged.completed = 0;
    for t in &mut merged.per_turn {
        (t.sent, t.answered, t.unanswered, t.unmet) = (0, 0, 0, 0);
    }
    merged
}

/// Add the first-reply histograms of the replies log at `path` (if any): all turns into `h`, each turn
/// of a script into its own.
fn add_replies(path: &Path, h: &mut Histogram<u64>, turns: &mut [Histogram<u64>]) -> Result<(), String> {
    if !path.is_file() {
        return Ok(());
    }
    for e in hlog::read(path).map_err(|e| e.to_string())?.entries {
        let into = match e.tag.as_deref() {
            Some(conversation::REPLY_TAG) => Some(&mut *h),
            Some(tag) => (0..turns.len()).find(|i| conversation::turn_tag(*i) == tag).map(|i| &mut turns[i]),
            None => None,
        };
        if let Some(into) = into {
            into.add(&e.histogram).map_err(|e| format!("{}: values out of range: {e:?}", path.display()))?;
        }
    }
    Ok(())
}

//! What the simulator posts for one accepted message, decided up front and deterministically:
//! every choice (stage delays, read or not, failure and its code, duplicate, order swap,
//! delivered-and-failed anomaly) is a hash of the seed and the message id, so the same seed and
//! the same message ids give the same statuses with the same delays. What each status carries is
//! `shape`'s.

use std::time::Duration;

use super::super::config::Flavor;
use super::super::model::{LatencyModel, hash_bytes, mix64};
use super::config::{HooksConfig, StageDelay};
use crate::webhook::identity::UserIdentity;

pub use crate::webhook::events::Stage;

/// Position of a stage in sent → delivered → read (0: not part of it).
fn rank(stage: Stage) -> u8 {
    match stage {
        Stage::Sent => 1,
        Stage::Delivered => 2,
        Stage::Read => 3,
        Stage::Failed => 0,
    }
}

/// One status to post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStatus {
    pub stage: Stage,
    /// When it is due, counted from the API's answer.
    pub due: Duration,
    /// Error code of a `failed` status.
    pub code: Option<i64>,
    /// A second copy of an earlier status of the same message.
    pub duplicate: bool,
}

/// Every status of one message, in posting order (due times never decrease), and which
/// anomalies were injected.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub statuses: Vec<PlannedStatus>,
    /// Failed instead of delivered (`failed_fraction`).
    pub failed: bool,
    /// One status posted twice.
    pub duplicate: bool,
    /// The first two lifecycle statuses posted in reverse order.
    pub out_of_order: bool,
    /// Delivered and then also failed.
    pub delivered_and_failed: bool,
}

/// Samplers of one configuration.
#[derive(Debug, Clone)]
pub struct Planner {
    seed: u64,
    send_sent: bool,
    sent: LatencyModel,
    delivered: LatencyModel,
    read: LatencyModel,
    read_fraction: f64,
    failed_fraction: f64,
    failed_codes: Vec<i64>,
    duplicate_fraction: f64,
    out_of_order_fraction: f64,
    delivered_and_failed_fraction: f64,
}

fn model(d: &StageDelay) -> LatencyModel {
    LatencyModel::new(d.distribution, d.median, d.p99_or_default(), d.min, d.max)
}

/// Salt separating these decisions from the simulator's other uses of the seed.
const SALT: u64 = 0x57A7_0500_0000_0001;

impl Planner {
    /// A planner for a validated configuration.
    pub fn new(cfg: &HooksConfig, flavor: Flavor, seed: u64) -> Self {
        Planner {
            seed,
            send_sent: cfg.sends_sent(flavor),
            sent: model(&cfg.sent),
            delivered: model(&cfg.delivered),
            read: model(&cfg.read),
            read_fraction: cfg.read_fraction,
            failed_fraction: cfg.failed_fraction,
            failed_codes: cfg.failed_codes.clone(),
            duplicate_fraction: cfg.duplicate_fraction,
            out_of_order_fraction: cfg.out_of_order_fraction,
            delivered_and_failed_fraction: cfg.delivered_and_failed_fraction,
        }
    }

    /// The statuses of an accepted message: its decided failure, or the seeded lifecycle.
    pub fn plan_for(&self, msg: &Accepted) -> Plan {
        let mut plan = match msg.failure {
            Some(code) => self.plan_failed(&msg.id, code),
            None => self.plan(&msg.id),
        };
        // A held message is sent (or dropped) only when its hold ends.
        if let Some(hold) = msg.held {
            for s in &mut plan.statuses {
                s.due = s.due.saturating_add(hold);
            }
        }
        plan
    }

    /// The statuses of a message that fails with `code` after it was accepted: one `failed`
    /// status (Cloud posts no `sent` for a message it could not send), due after the `sent` delay,
    /// possibly posted twice.
    pub fn plan_failed(&self, id: &str, code: i64) -> Plan {
        let key = hash_bytes(self.seed ^ SALT ^ 0xFA11, id.as_bytes());
        let k = |i: u64| mix64(key ^ i.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        let chance = |i: u64, p: f64| p > 0.0 && ((k(i) >> 11) as f64 / (1u64 << 53) as f64) < p;
        let due = self.sent.sample(k(1));
        let failed = PlannedStatus { stage: Stage::Failed, due, code: Some(code), duplicate: false };
        let mut plan = Plan { failed: true, ..Plan::default() };
        if chance(2, self.duplicate_fraction) {
            plan.duplicate = true;
            let copy =
                PlannedStatus { due: due.saturating_add(self.sent.sample(k(3))), duplicate: true, ..failed.clone() };
            plan.statuses.push(failed);
            plan.statuses.push(copy);
        } else {
            plan.statuses.push(failed);
        }
        plan
    }

    /// The statuses of the message `id`.
    pub fn plan(&self, id: &str) -> Plan {
        let key = hash_bytes(self.seed ^ SALT, id.as_bytes());
        let k = |i: u64| mix64(key ^ i.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        let chance = |i: u64, p: f64| p > 0.0 && ((k(i) >> 11) as f64 / (1u64 << 53) as f64) < p;
        let code = |i: u64| match self.failed_codes.len() {
            0 => 131000,
            n => self.failed_codes[(k(i) % n as u64) as usize],
        };
        let status = |stage, due, code| PlannedStatus { stage, due, code, duplicate: false };

        let mut plan = Plan::default();
        let t_sent = self.sent.sample(k(1));
        let t_final = t_sent.saturating_add(self.delivered.sample(k(2)));
        let v = &mut plan.statuses;
        if self.send_sent {
            v.push(status(Stage::Sent, t_sent, None));
        }
        if chance(3, self.failed_fraction) {
            plan.failed = true;
            v.push(status(Stage::Failed, t_final, Some(code(4))));
        } else {
            v.push(status(Stage::Delivered, t_final, None));
            if chance(5, self.read_fraction) {
                v.push(status(Stage::Read, t_final.saturating_add(self.read.sample(k(6))), None));
            }
            if chance(7, self.delivered_and_failed_fraction) {
                plan.delivered_and_failed = true;
                v.push(status(Stage::Failed, t_final.saturating_add(self.sent.sample(k(8))), Some(code(9))));
            }
        }
        // Stable: equal due times keep the lifecycle order.
        v.sort_by_key(|s| s.due);
        if chance(10, self.out_of_order_fraction)
            && v.len() >= 2
            && rank(v[0].stage) > 0
            && rank(v[0].stage) < rank(v[1].stage)
        {
            plan.out_of_order = true;
            let (a, b) = (v[0].stage, v[1].stage);
            v[0].stage = b;
            v[1].stage = a;
        }
        if chance(11, self.duplicate_fraction) && !v.is_empty() {
            plan.duplicate = true;
            let original = &v[(k(12) % v.len() as u64) as usize];
            let mut copy = original.clone();
            copy.duplicate = true;
            copy.due = copy.due.saturating_add(self.sent.sample(k(13)));
            v.push(copy);
            v.sort_by_key(|s| s.due);
        }
        plan
    }
}

/// An accepted message, as the sender needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The id returned by the send API.
    pub id: String,
    /// The recipient's WhatsApp id (digits).
    pub recipient: String,
    /// Cloud: the phone number id of the request path (empty on-prem).
    pub phone_number_id: String,
    /// A template message (billable, marketing) rather than a customer-service reply.
    pub template: bool,
    /// The code it fails with after being accepted (re-engagement, undeliverable, limits), if any.
    pub failure: Option<i64>,
    /// The recipient's BSUID and username (Cloud with `identity.bsuid`; `None` on-prem, or for a
    /// BSUID this business never issued).
    pub user: Option<UserIdentity>,
    /// The business-scoped user ID the message was addressed to (`recipient`), if it was.
    pub recipient_user_id: Option<String>,
    /// A paced template's message held for the quality signal: its statuses come this much later.
    pub held: Option<Duration>,
    /// The major Graph API version of the send's path (`v24.0` → 24): a Cloud status has the shape
    /// Meta posts for it. `None`: the newest shapes.
    pub api_version: Option<u16>,
    /// Its pricing category: `service` (not a template), or the template's category (`marketing`
    /// unless the simulator knows the template as `utility` or `authentication`).
    pub category: &'static str,
    /// The user's customer service window was open when it was accepted (a utility template in it
    /// is free, Meta's pricing since 2025-07-01).
    pub in_window: bool,
}

impl Accepted {
    /// An accepted message addressed by phone number (or group id), without identity, for the
    /// newest API version; a template is `marketing`, anything else `service`.
    pub fn to_phone(
        id: String,
        recipient: String,
        phone_number_id: String,
        template: bool,
        failure: Option<i64>,
    ) -> Self {
        Accepted {
            id,
            recipient,
            phone_number_id,
            template,
            failure,
            user: None,
            recipient_user_id: None,
            held: None,
            api_version: None,
            category: if template { "marketing" } else { "service" },
            in_window: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::model::message_id;

    fn planner(seed: u64, f: impl FnOnce(&mut HooksConfig)) -> Planner {
        let mut cfg = HooksConfig::default();
        f(&mut cfg);
        Planner::new(&cfg, Flavor::Cloud, seed)
    }

    #[test]
    fn same_seed_same_decisions() {
        let ids: Vec<String> = (0..2000).map(|i| message_id(7, i, "15551230000")).collect();
        let a: Vec<Plan> = ids.iter().map(|id| planner(7, |_| {}).plan(id)).collect();
        let b: Vec<Plan> = ids.iter().map(|id| planner(7, |_| {}).plan(id)).collect();
        assert_eq!(a, b);
        let c: Vec<Plan> = ids.iter().map(|id| planner(8, |_| {}).plan(id)).collect();
        assert_ne!(a, c, "another seed decides otherwise");
        // Defaults: ~30% read, ~1% duplicates, ~1% swapped, statuses in due order.
        let read = a.iter().filter(|p| p.statuses.iter().any(|s| s.stage == Stage::Read)).count();
        assert!((450..750).contains(&read), "{read}");
        let dups = a.iter().filter(|p| p.duplicate).count();
        assert!((5..50).contains(&dups), "{dups}");
        assert!(a.iter().all(|p| p.statuses.windows(2).all(|w| w[0].due <= w[1].due)));
        let first = &a[0].statuses[0];
        assert!(first.due > Duration::from_millis(10) && first.due < Duration::from_secs(60), "{first:?}");
    }

    #[test]
    fn anomalies_have_their_shape() {
        let all = planner(3, |c| {
            c.out_of_order_fraction = 1.0;
            c.duplicate_fraction = 1.0;
            c.delivered_and_failed_fraction = 1.0;
            c.read_fraction = 0.0;
        });
        let p = all.plan("wamid.x");
        assert!(p.out_of_order && p.duplicate && p.delivered_and_failed && !p.failed);
        assert_eq!(p.statuses.len(), 4);
        assert_eq!(p.statuses[0].stage, Stage::Delivered, "delivered goes before sent");
        assert!(p.statuses.iter().any(|s| s.stage == Stage::Failed && s.code.is_some()));
        let failing = planner(3, |c| {
            c.failed_fraction = 1.0;
            c.failed_codes = vec![131049];
        });
        let p = failing.plan("wamid.y");
        assert!(p.failed);
        let stages: Vec<Stage> = p.statuses.iter().filter(|s| !s.duplicate).map(|s| s.stage).collect();
        assert_eq!(stages, vec![Stage::Sent, Stage::Failed]);
        let decided = planner(3, |c| c.duplicate_fraction = 0.0).plan_failed("wamid.z", 131047);
        assert!(decided.failed && decided.statuses.len() == 1, "{decided:?}");
        assert_eq!((decided.statuses[0].stage, decided.statuses[0].code), (Stage::Failed, Some(131047)));
        let onprem = Planner::new(&HooksConfig::default(), Flavor::OnPrem, 3).plan("gBEGx");
        assert!(onprem.statuses.iter().all(|s| s.stage != Stage::Sent), "on-prem sends no `sent` by default");
    }

    #[test]
    fn a_held_message_has_every_status_its_hold_later() {
        let p = planner(3, |_| {});
        let msg = Accepted::to_phone("wamid.h".into(), "15551234567".into(), "1".into(), true, None);
        let held = Accepted { held: Some(Duration::from_secs(90)), ..msg.clone() };
        let (a, b) = (p.plan_for(&msg), p.plan_for(&held));
        assert_eq!(a.statuses.len(), b.statuses.len());
        for (x, y) in a.statuses.iter().zip(&b.statuses) {
            assert_eq!((y.stage, y.due), (x.stage, x.due + Duration::from_secs(90)));
        }
        let dropped = Accepted { failure: Some(132015), ..held };
        assert!(p.plan_for(&dropped).statuses.iter().all(|s| s.due >= Duration::from_secs(90)));
    }
}

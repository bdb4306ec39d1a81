//! Meta-shaped webhook bodies for load-testing a user's endpoint: a seeded, pure function from a POST
//! number to its body, so that load threads build any POST independently and the same seed gives
//! the same bytes.
//!
//! The stream of events: the profile's weights become whole counts per *cycle* (about 100 events), in
//! a seeded order. Each cycle sends, per message slot, `sent` for the messages of this cycle,
//! `delivered` / `failed` for those of the previous cycle and `read` for those of the cycle before,
//! so every message goes sent → delivered → read (or sent → failed) across POSTs with the same
//! id, recipient and conversation, and with timestamps that never go back (read ≥ delivered ≥ sent).
//! A message is never both delivered and failed. POST `n` carries the events after those of the
//! POSTs before it: batch sizes 1..=max_batch follow a seeded cycle too, so where a POST starts is
//! computed, not counted.
//!
//! Shapes (Meta, messages webhook reference
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages>):
//! Cloud bodies are one `whatsapp_business_account` entry whose statuses and inbound messages are two
//! changes (`field = "messages"`), statuses with `contacts` (2026: `user_id`, none on `failed`),
//! `conversation` (`expiration_timestamp` on `sent` only), `pricing` (PMP) on `delivered`, `errors`
//! on `failed`; On-Premises bodies are top-level `{"statuses":[…]}` and `{"contacts":[…],
//! "messages":[…]}` (pricing CBP, errors with code, title and href).

use serde::Serialize;
use serde_json::{Value, json};

use super::identity::{Contact, UserIdentity};
use super::inbound::{self, InboundMessage};
use super::model::{CLOUD_OBJECT, Conversation, ConversationOrigin, Pricing, Status, StatusError, StatusKind};
use crate::spec::webhook_target::{HookFlavor, WebhookTargetSpec};

/// Meta's page on error codes, the `href` of a failed status's error.
pub const ERROR_HREF: &str = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/";

/// Title and details of a failed status's error code (Meta, Cloud API error codes).
pub fn failure_text(code: i64) -> (&'static str, &'static str) {
    match code {
        131049 => (
            "This message was not delivered to maintain healthy ecosystem engagement.",
            "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
        ),
        131026 => (
            "Message undeliverable",
            "Unable to deliver message: the recipient may be offline for more than 30 days, have blocked the business, or use an old client.",
        ),
        131047 => (
            "Re-engagement message",
            "More than 24 hours have passed since the recipient last replied to the sender number.",
        ),
        131000 => ("Something went wrong", "Message failed to send because of an unknown error."),
        // Marketing templates to users in an experiment, or who stopped the business's marketing
        // (Meta: both in a `failed` status webhook, not retried).
        130472 => (
            "User's number is part of an experiment",
            "Failed to send message because this user's phone number is part of an experiment.",
        ),
        131050 => (
            "Unable to deliver the message",
            "This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.",
        ),
        // On-Premises API: re-engagement (Meta error codes; on-prem status errors carry code and title).
        470 => (
            "Message failed to send because more than 24 hours have passed since the customer last replied to this number",
            "Send a template message to re-engage the customer.",
        ),
        131048 => (
            "Spam rate limit hit",
            "Message failed to send because there are restrictions on how many messages can be sent from this phone number (messaging limit reached).",
        ),
        // A media link Meta could not download (Meta's error codes: "Unable to upload the media
        // used in the message"; the details as integrators see them in failed statuses,
        // https://github.com/orgs/chatwoot/discussions/13517).
        131053 => {
            ("Media upload error", "Downloading media from weblink failed with http code 404, status message Not Found")
        }
        _ => ("Message failed to send", "The message could not be delivered to the recipient."),
    }
}

/// The error of a failed status: Cloud errors carry `message` and `error_data.details`, on-prem ones
/// only code, title and href.
pub fn status_error(code: i64, cloud: bool) -> StatusError {
    let (title, details) = failure_text(code);
    let mut e = StatusError::new(code, title);
    e.href = Some(ERROR_HREF.into());
    if cloud {
        e.message = Some(title.into());
        e = e.with_details(details);
    }
    e
}

/// SplitMix64 of `seed` and `n`.
fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seeded permutation of `items` (Fisher–Yates).
fn shuffled<T>(mut items: Vec<T>, seed: u64) -> Vec<T> {
    for i in (1..items.len()).rev() {
        let j = (mix(seed, i as u64) % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
    items
}

/// A type of inbound (user → business) message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InboundKind {
    Text,
    Image,
    Document,
    Audio,
    Sticker,
    Location,
    Interactive,
    Button,
    Reaction,
}

impl InboundKind {
    pub const ALL: [InboundKind; 9] = [
        InboundKind::Text,
        InboundKind::Image,
        InboundKind::Document,
        InboundKind::Audio,
        InboundKind::Sticker,
        InboundKind::Location,
        InboundKind::Interactive,
        InboundKind::Button,
        InboundKind::Reaction,
    ];

    /// The `type` on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            InboundKind::Text => "text",
            InboundKind::Image => "image",
            InboundKind::Document => "document",
            InboundKind::Audio => "audio",
            InboundKind::Sticker => "sticker",
            InboundKind::Location => "location",
            InboundKind::Interactive => "interactive",
            InboundKind::Button => "button",
            InboundKind::Reaction => "reaction",
        }
    }
}

/// A status stage of the lifecycle (also the simulator's webhook sender's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    Sent,
    Delivered,
    Read,
    Failed,
}

impl Stage {
    /// The status kind on the wire.
    pub fn kind(self) -> StatusKind {
        match self {
            Stage::Sent => StatusKind::Sent,
            Stage::Delivered => StatusKind::Delivered,
            Stage::Read => StatusKind::Read,
            Stage::Failed => StatusKind::Failed,
        }
    }

    /// How many cycles after its `sent` a stage is posted.
    fn lag(self) -> u64 {
        match self {
            Stage::Sent => 0,
            Stage::Delivered | Stage::Failed => 1,
            Stage::Read => 2,
        }
    }
}

/// One event of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A status of outgoing message number `message`.
    Status { stage: Stage, message: u64 },
    /// Inbound message number `number`.
    Inbound { kind: InboundKind, number: u64 },
}

/// What a cycle position holds.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Status(Stage, u64),
    Inbound(InboundKind, u64),
}

/// Events per cycle the weights are rounded to.
const CYCLE_EVENTS: f64 = 100.0;
/// The message numbers of cycle `c` start at `(c + LAG_MAX) × messages_per_cycle`, so that the
/// delivered and read statuses of the first cycles name messages "sent before the run".
const LAG_MAX: u64 = 2;
/// Failure codes of failed statuses, Cloud and on-prem (Meta's error codes).
const CLOUD_FAILURES: [i64; 4] = [131026, 131047, 131049, 131000];
const ONPREM_FAILURES: [i64; 2] = [470, 131026];
/// Texts users write (fixed, so bodies need no escaping work per request).
const TEXTS: [&str; 6] = [
    "Hi, where is my order?",
    "Does it come in another color?",
    "Thanks!",
    "Can I change the delivery address?",
    "I need help with my account",
    "ok",
];
/// Conversation categories (pricing categories) of outgoing messages.
const CATEGORIES: [&str; 3] = ["service", "utility", "marketing"];

/// What a body carries, for accounting and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyInfo {
    pub statuses: u32,
    pub inbound: u32,
}

// The envelopes, serialized from borrowed parts (Meta's shapes; see the module doc).
#[derive(Serialize)]
struct CloudBody<'a> {
    object: &'static str,
    entry: [EntryRef<'a>; 1],
}

#[derive(Serialize)]
struct EntryRef<'a> {
    id: &'a str,
    changes: Vec<ChangeRef<'a>>,
}

#[derive(Serialize)]
struct ChangeRef<'a> {
    value: ValueRef<'a>,
    field: &'static str,
}

#[derive(Serialize, Clone, Copy)]
struct MetadataRef<'a> {
    display_phone_number: &'a str,
    phone_number_id: &'a str,
}

#[derive(Serialize)]
struct ValueRef<'a> {
    messaging_product: &'static str,
    metadata: MetadataRef<'a>,
    #[serde(skip_serializing_if = "ContactsRef::is_empty")]
    contacts: ContactsRef<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    statuses: &'a [Status],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    messages: &'a [Value],
}

/// The users of a change: typed for statuses, as built for inbound messages.
#[derive(Serialize)]
#[serde(untagged)]
enum ContactsRef<'a> {
    Status(&'a [Contact]),
    Inbound(&'a [Value]),
}

impl ContactsRef<'_> {
    fn is_empty(&self) -> bool {
        match self {
            ContactsRef::Status(c) => c.is_empty(),
            ContactsRef::Inbound(c) => c.is_empty(),
        }
    }
}

#[derive(Serialize)]
struct OnPremBody<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    contacts: &'a [Value],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    messages: &'a [Value],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    statuses: &'a [Status],
}

/// The body generator of one webhook target.
#[derive(Debug, Clone)]
pub struct Generator {
    flavor: HookFlavor,
    seed: u64,
    waba_id: String,
    phone_number_id: String,
    display_phone: String,
    users: u64,
    cycle: Vec<Slot>,
    /// Outgoing messages per cycle (message slots).
    messages_per_cycle: u64,
    /// Inbound messages per cycle.
    inbound_per_cycle: u64,
    /// Batch sizes in their seeded order and their running sums.
    batches: Vec<u64>,
    batch_starts: Vec<u64>,
    batch_cycle: u64,
    /// Unix seconds of the first cycle and the length of a cycle in seconds.
    base_unix: i64,
    cycle_secs: f64,
    /// Cloud statuses carry `conversation` (webhooks of a version before v24.0).
    conversation: bool,
}

/// Whole counts in proportion to `weights`, summing to about `total`; a positive weight never gets 0.
fn counts(weights: &[f64], total: f64) -> Vec<u64> {
    let sum: f64 = weights.iter().sum();
    weights
        .iter()
        .map(|&w| if w <= 0.0 || sum <= 0.0 { 0 } else { ((w / sum * total).round() as u64).max(1) })
        .collect()
}

impl Generator {
    /// The generator of a validated `[targets.webhook]` table. `events_per_second` dates the events
    /// (a cycle lasts its events over that rate), counted from `base_unix`.
    pub fn new(spec: &WebhookTargetSpec, seed: u64, events_per_second: f64, base_unix: i64) -> Generator {
        let s = &spec.statuses;
        let inbound_w: Vec<f64> = spec.inbound.all().iter().map(|(_, w)| *w).collect();
        let (status_sum, inbound_sum) = (s.sent + s.delivered + s.read + s.failed, inbound_w.iter().sum::<f64>());
        // The sizing shortcut fixes the share of statuses (3 per outgoing message) and inbound messages.
        let (status_total, inbound_total) = match (spec.messages_per_second, spec.inbound_per_second) {
            (None, None) => {
                let all = status_sum + inbound_sum;
                (CYCLE_EVENTS * status_sum / all, CYCLE_EVENTS * inbound_sum / all)
            }
            (m, i) => {
                let (m, i) = (3.0 * m.unwrap_or(0.0), i.unwrap_or(0.0));
                (CYCLE_EVENTS * m / (m + i), CYCLE_EVENTS * i / (m + i))
            }
        };
        let st = counts(&[s.sent, s.delivered, s.read, s.failed], status_total);
        let (sent, delivered, failed) = (st[0], st[1], st[3]);
        let read = st[2].min(delivered);
        let ib = counts(&inbound_w, inbound_total);
        let messages_per_cycle = sent.max(delivered + failed).max(read).max(1);
        let mut cycle = Vec::new();
        cycle.extend((0..sent).map(|k| Slot::Status(Stage::Sent, k)));
        cycle.extend((0..delivered).map(|k| Slot::Status(Stage::Delivered, k)));
        cycle.extend((0..read).map(|k| Slot::Status(Stage::Read, k)));
        cycle.extend((0..failed).map(|k| Slot::Status(Stage::Failed, delivered + k)));
        let mut j = 0;
        for (kind, n) in InboundKind::ALL.into_iter().zip(&ib) {
            for _ in 0..*n {
                cycle.push(Slot::Inbound(kind, j));
                j += 1;
            }
        }
        let cycle = shuffled(cycle, mix(seed, 0xC7C1E));
        let batches = shuffled((1..=u64::from(spec.max_batch.max(1))).collect::<Vec<_>>(), mix(seed, 0xBA7C4));
        let mut batch_starts = Vec::with_capacity(batches.len());
        let mut acc = 0;
        for b in &batches {
            batch_starts.push(acc);
            acc += b;
        }
        let cycle_secs = if events_per_second > 0.0 { cycle.len() as f64 / events_per_second } else { 1.0 };
        Generator {
            flavor: spec.flavor,
            seed,
            waba_id: spec.waba_id.clone(),
            phone_number_id: spec.phone_number_id.clone(),
            display_phone: spec.display_phone_number.clone(),
            users: u64::from(spec.users.max(1)),
            messages_per_cycle,
            inbound_per_cycle: j,
            cycle,
            batches,
            batch_starts,
            batch_cycle: acc,
            base_unix,
            cycle_secs,
            conversation: spec.graph_version().is_none_or(|v| v.major < super::model::CONVERSATION_OMITTED_FROM),
        }
    }

    /// The events of POST `n`: their first index in the stream and their count.
    pub fn batch(&self, n: u64) -> (u64, u64) {
        let k = self.batches.len() as u64;
        let (c, i) = (n / k, (n % k) as usize);
        (c * self.batch_cycle + self.batch_starts[i], self.batches[i])
    }

    /// Event number `e` of the stream.
    pub fn event(&self, e: u64) -> Event {
        let len = self.cycle.len() as u64;
        let (c, pos) = (e / len, (e % len) as usize);
        match self.cycle[pos] {
            Slot::Status(stage, slot) => {
                Event::Status { stage, message: (c + LAG_MAX - stage.lag()) * self.messages_per_cycle + slot }
            }
            Slot::Inbound(kind, j) => Event::Inbound { kind, number: c * self.inbound_per_cycle + j },
        }
    }

    /// The id of outgoing message `m` (Cloud `wamid.…`, on-prem `gBEG…`).
    pub fn message_id(&self, m: u64) -> String {
        let h = mix(self.seed, m);
        match self.flavor {
            HookFlavor::Cloud => format!("wamid.HBgL{:016X}{:08X}AA", h, m & 0xFFFF_FFFF),
            HookFlavor::OnPrem => format!("gBEGkYiEB1VXAglK{:016x}{:06x}", h, m & 0xFF_FFFF),
        }
    }

    /// The user number of outgoing message `m`'s recipient.
    fn recipient(&self, m: u64) -> u64 {
        mix(self.seed ^ 0x5EC1, m) % self.users
    }

    /// User `u`'s phone number (+1 555 01xx xxxx, reserved for fiction) and BSUID.
    fn phone(&self, u: u64) -> String {
        format!("1555{:07}", u % 10_000_000)
    }

    fn bsuid(&self, u: u64) -> String {
        format!("US.{:020}", mix(self.seed ^ 0xB5_01D, u))
    }

    /// Unix seconds of stage `lag` cycles after message `m`'s cycle.
    fn unix_of(&self, m: u64, lag: u64) -> i64 {
        let cycle = (m / self.messages_per_cycle) as f64 - LAG_MAX as f64 + lag as f64;
        self.base_unix + (cycle * self.cycle_secs).floor() as i64
    }

    /// The status object of an event.
    pub fn status(&self, stage: Stage, m: u64) -> Status {
        let cloud = self.flavor == HookFlavor::Cloud;
        let u = self.recipient(m);
        let unix = self.unix_of(m, stage.lag());
        let mut s = Status::new(self.message_id(m), stage.kind(), unix, self.phone(u));
        let category = CATEGORIES[(mix(self.seed ^ 0xCA7, m) % CATEGORIES.len() as u64) as usize];
        if cloud && stage != Stage::Failed {
            // Meta, 2026: the user's BSUID on every sent/delivered/read status.
            s.recipient_user_id = Some(self.bsuid(u));
        }
        if stage != Stage::Failed && (!cloud || self.conversation) {
            let conv = mix(self.seed ^ 0xC0_4E55, u);
            s = s.with_conversation(Conversation {
                id: format!("{:016x}{:016x}", conv, mix(conv, 1)),
                expiration_timestamp: (stage == Stage::Sent).then(|| (self.unix_of(m, 0) + 24 * 3600).to_string()),
                origin: Some(ConversationOrigin { kind: category.into() }),
            });
        }
        // Cloud: `pricing` on sent and on one of delivered/read (Meta's status reference); On-Premises:
        // on delivered.
        if stage == Stage::Delivered || (cloud && stage == Stage::Sent) {
            let marketing = category == "marketing";
            s = s.with_pricing(Pricing {
                billable: category != "service",
                pricing_model: Some(if cloud { "PMP" } else { "CBP" }.into()),
                kind: cloud.then(|| if category == "service" { "free_customer_service" } else { "regular" }.into()),
                category: Some(if marketing { "marketing" } else { category }.into()),
            });
        }
        if stage == Stage::Failed {
            let codes: &[i64] = if cloud { &CLOUD_FAILURES } else { &ONPREM_FAILURES };
            s = s.with_error(status_error(codes[(mix(self.seed ^ 0xFA11, m) % codes.len() as u64) as usize], cloud));
        }
        s
    }

    /// The contact of a sent/delivered/read status (Cloud, 2026: BSUID and phone number).
    fn status_contact(&self, m: u64) -> Contact {
        let u = self.recipient(m);
        let user = UserIdentity::new(self.bsuid(u));
        let phone = self.phone(u);
        let name = super::identity::display_name(None, &phone);
        Contact::of_status(&user, Some(&phone), Some(name), false)
    }

    /// Inbound message `k` of type `kind` as the message object and its contact.
    pub fn inbound(&self, kind: InboundKind, k: u64) -> (Value, Value) {
        let cloud = self.flavor == HookFlavor::Cloud;
        let h = mix(self.seed ^ 0x1B0D, k);
        // Replies and reactions answer an outgoing message of an earlier cycle, from its recipient.
        let replied = (k / self.inbound_per_cycle.max(1)) * self.messages_per_cycle + h % self.messages_per_cycle;
        let answers = matches!(kind, InboundKind::Interactive | InboundKind::Button | InboundKind::Reaction);
        let u = if answers { self.recipient(replied) } else { h % self.users };
        let id = match self.flavor {
            HookFlavor::Cloud => format!("wamid.HBgLIN{:016X}{:08X}AA", h, k & 0xFFFF_FFFF),
            HookFlavor::OnPrem => format!("ABGGFlA5FpafAgo6{:016x}", h),
        };
        let cycle = (k / self.inbound_per_cycle.max(1)) as f64 + LAG_MAX as f64;
        let text = TEXTS[(h % TEXTS.len() as u64) as usize];
        let m = InboundMessage {
            from: self.phone(u),
            id,
            timestamp: self.base_unix + ((cycle - LAG_MAX as f64) * self.cycle_secs).floor() as i64,
            body: text.into(),
            user: cloud.then(|| UserIdentity::new(self.bsuid(u))),
            changed_from: None,
        };
        let mut v = inbound::message(&m);
        let media = |mime: &str| {
            json!({"id": format!("{}", 1_000_000_000_000_000u64 + h % 1_000_000_000_000_000), "mime_type": mime,
                   "sha256": format!("{:016x}{:016x}", h, mix(h, 2))})
        };
        let context = || json!({"from": self.display_phone, "id": self.message_id(replied)});
        if let Some(o) = v.as_object_mut() {
            o.remove("text");
            o.insert("type".into(), json!(kind.as_str()));
            let payload = match kind {
                InboundKind::Text => json!({"body": text}),
                InboundKind::Image => {
                    let mut i = media("image/jpeg");
                    i["caption"] = json!(text);
                    i
                }
                InboundKind::Document => {
                    let mut d = media("application/pdf");
                    d["filename"] = json!(format!("invoice-{k}.pdf"));
                    d["caption"] = json!(text);
                    d
                }
                InboundKind::Audio => {
                    let mut a = media("audio/ogg; codecs=opus");
                    a["voice"] = json!(true);
                    a
                }
                InboundKind::Sticker => {
                    let mut s = media("image/webp");
                    s["animated"] = json!(false);
                    s
                }
                InboundKind::Location => json!({
                    "latitude": 37.0 + (h % 10_000) as f64 / 10_000.0,
                    "longitude": -122.0 - (h / 10_000 % 10_000) as f64 / 10_000.0,
                    "name": "Pickup point", "address": "1 Hacker Way, Menlo Park, CA",
                }),
                InboundKind::Interactive => {
                    o.insert("context".into(), context());
                    if h.is_multiple_of(2) {
                        json!({"type": "button_reply", "button_reply": {"id": format!("btn-{}", h % 3), "title": "Yes"}})
                    } else {
                        json!({"type": "list_reply", "list_reply": {"id": format!("row-{}", h % 5),
                            "title": "Track my order", "description": "Where is my parcel?"}})
                    }
                }
                InboundKind::Button => {
                    o.insert("context".into(), context());
                    json!({"text": "Stop promotions", "payload": format!("opt-out-{}", h % 7)})
                }
                InboundKind::Reaction => json!({"message_id": self.message_id(replied), "emoji": "\u{1F44D}"}),
            };
            o.insert(kind.as_str().into(), payload);
        }
        (v, inbound::contact(&m))
    }

    /// The body of POST `n` into `out` (cleared first), and what it carries.
    pub fn body(&self, n: u64, out: &mut Vec<u8>) -> BodyInfo {
        out.clear();
        let (first, len) = self.batch(n);
        let mut statuses = Vec::new();
        let mut contacts: Vec<Contact> = Vec::new();
        let mut messages = Vec::new();
        let mut users = Vec::new();
        for e in first..first + len {
            match self.event(e) {
                Event::Status { stage, message } => {
                    if self.flavor == HookFlavor::Cloud && stage != Stage::Failed {
                        let c = self.status_contact(message);
                        if !contacts.contains(&c) {
                            contacts.push(c);
                        }
                    }
                    statuses.push(self.status(stage, message));
                }
                Event::Inbound { kind, number } => {
                    let (m, c) = self.inbound(kind, number);
                    if !users.contains(&c) {
                        users.push(c);
                    }
                    messages.push(m);
                }
            }
        }
        let info = BodyInfo { statuses: statuses.len() as u32, inbound: messages.len() as u32 };
        // Serialized straight from borrowed parts: no JSON tree is built for the envelope.
        let _ = match self.flavor {
            HookFlavor::Cloud => {
                let metadata =
                    MetadataRef { display_phone_number: &self.display_phone, phone_number_id: &self.phone_number_id };
                let value = |contacts, statuses, messages| ChangeRef {
                    value: ValueRef { messaging_product: "whatsapp", metadata, contacts, statuses, messages },
                    field: "messages",
                };
                let mut changes = Vec::with_capacity(2);
                if !statuses.is_empty() {
                    changes.push(value(ContactsRef::Status(&contacts), &statuses, &[]));
                }
                if !messages.is_empty() {
                    changes.push(value(ContactsRef::Inbound(&users), &[], &messages));
                }
                let body = CloudBody { object: CLOUD_OBJECT, entry: [EntryRef { id: &self.waba_id, changes }] };
                serde_json::to_writer(&mut *out, &body)
            }
            HookFlavor::OnPrem => {
                let body = OnPremBody { contacts: &users, messages: &messages, statuses: &statuses };
                serde_json::to_writer(&mut *out, &body)
            }
        };
        info
    }
}

#[cfg(test)]
mod tests;

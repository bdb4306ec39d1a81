//! What one status object carries, as Meta posts it: for the Graph API version the message was sent
//! with (Cloud), with the user's identifiers of 2026, and the On-Premises shapes unchanged.
//!
//! Meta, "Status messages webhook reference"
//! (<https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/status/>,
//! updated 2026-05-21):
//! - `conversation` is "only included with sent status, and one of either delivered or read
//!   status", and "omitted entirely for v24.0+ unless webhook is for a free entry point
//!   conversation" (the simulator has no free entry points: v24.0 and later never carry it);
//! - `pricing` (`billable`, `pricing_model`, `type`, `category`) is "only included with sent status,
//!   and one of either delivered or read status", in every version. Since per-message pricing
//!   (2025-07-01) `pricing_model` is `PMP` and `type` is `regular` (charged),
//!   `free_customer_service` (a service message, or a utility template inside an open customer
//!   service window) or `free_entry_point`; `category` is the template's (`marketing`, `utility`,
//!   `authentication`, …) or `service` (Gupshup's copies of Meta's v3 payloads, 2025, show the same
//!   four fields). pywa 4.5 reads `type` as "only available from webhook v24.0^"; Meta's page puts
//!   no version on it, so every version has it here.
//!
//! Identifiers (Meta, "Business-scoped user IDs", 2026-03-18; `spec::sim::identity` for the two
//! readings of `recipient_user_id`): `contacts[]` on sent/delivered/read with `user_id`, `wa_id`
//! where Meta shares the number, `profile.name` and, on delivered/read, `profile.username`;
//! none on `failed` ("the contacts array is omitted", dualhook's summary of Meta's page; pywa 4.5
//! expects one there too).

use super::super::config::Flavor;
use super::super::model::{hash_bytes, mix64};
use super::plan::{Accepted, PlannedStatus, Stage};
use crate::spec::sim::StatusUserId;
use crate::webhook::identity::{Contact, display_name};
use crate::webhook::model::{Conversation, ConversationOrigin, Pricing, Status};

pub use crate::webhook::model::CONVERSATION_OMITTED_FROM;

/// What decides the shapes of one simulator's statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shapes {
    pub flavor: Flavor,
    pub seed: u64,
    /// Which statuses carry `recipient_user_id` (`identity.status_user_id`).
    pub status_user_id: StatusUserId,
}

impl Shapes {
    /// Cloud shapes with the default reading, for `seed`.
    pub fn cloud(seed: u64) -> Self {
        Shapes { flavor: Flavor::Cloud, seed, status_user_id: StatusUserId::default() }
    }
}

/// The status object of one planned status, stamped `unix` (seconds).
pub fn status(sh: &Shapes, msg: &Accepted, planned: &PlannedStatus, unix: i64) -> Status {
    let stage = planned.stage;
    let mut s = match sh.flavor {
        Flavor::Cloud => cloud_status(sh, msg, stage, unix),
        Flavor::OnPrem => onprem_status(sh.seed, msg, stage, unix),
    };
    if let Some(code) = planned.code {
        s = s.with_error(crate::webhook::events::status_error(code, sh.flavor == Flavor::Cloud));
    }
    s
}

fn cloud_status(sh: &Shapes, msg: &Accepted, stage: Stage, unix: i64) -> Status {
    let mut s = Status::new(msg.id.clone(), stage.kind(), unix, recipient_id(sh, msg));
    s.recipient_user_id = recipient_user_id(sh, msg, stage);
    s.recipient_parent_user_id =
        msg.user.as_ref().and_then(|u| u.parent_user_id.clone()).filter(|_| stage != Stage::Failed);
    // Sent, and delivered (the simulator always posts delivered before read): Meta's "sent status,
    // and one of either delivered or read status".
    if matches!(stage, Stage::Sent | Stage::Delivered) {
        if msg.api_version.is_some_and(|v| v < CONVERSATION_OMITTED_FROM) {
            s = s.with_conversation(conversation(sh.seed, msg, stage, unix));
        }
        s = s.with_pricing(pricing(msg));
    }
    s
}

/// The pre-2026, conversation-priced shapes of the On-Premises API (sunset in 2025): conversation
/// on every lifecycle status, pricing (`CBP`) on delivered.
fn onprem_status(seed: u64, msg: &Accepted, stage: Stage, unix: i64) -> Status {
    let mut s = Status::new(msg.id.clone(), stage.kind(), unix, msg.recipient.clone());
    if stage != Stage::Failed {
        s = s.with_conversation(conversation(seed, msg, stage, unix));
    }
    if stage == Stage::Delivered {
        let category = Some(msg.category.into());
        s = s.with_pricing(Pricing { billable: msg.template, pricing_model: Some("CBP".into()), kind: None, category });
    }
    s
}

/// The conversation of the message's user and business number (`expiration_timestamp` on sent).
fn conversation(seed: u64, msg: &Accepted, stage: Stage, unix: i64) -> Conversation {
    let key = hash_bytes(seed ^ 0xC0_4E55, format!("{}/{}", msg.phone_number_id, msg.recipient).as_bytes());
    Conversation {
        id: format!("{:016x}{:016x}", key, mix64(key)),
        expiration_timestamp: (stage == Stage::Sent).then(|| (unix + 24 * 3600).to_string()),
        origin: Some(ConversationOrigin { kind: msg.category.into() }),
    }
}

/// Per-message pricing: a service message, or a utility template in an open window, is free
/// (`free_customer_service`); any other template is charged (`regular`).
fn pricing(msg: &Accepted) -> Pricing {
    let free = msg.category == "service" || (msg.category == "utility" && msg.in_window);
    Pricing {
        billable: !free,
        pricing_model: Some("PMP".into()),
        kind: Some(if free { "free_customer_service" } else { "regular" }.into()),
        category: Some(msg.category.into()),
    }
}

/// The phone number (or group id) the status names: the one the message was sent to, or, for a
/// message sent to a BSUID, the user's number where Meta shares it (with `every_status`).
fn recipient_id(sh: &Shapes, msg: &Accepted) -> String {
    if msg.recipient_user_id.is_none() {
        return msg.recipient.clone();
    }
    let shared = msg.user.as_ref().is_some_and(|u| !u.phone_withheld());
    match (sh.status_user_id, shared) {
        (StatusUserId::EveryStatus, true) => msg.recipient.clone(),
        _ => String::new(),
    }
}

/// The BSUID the status names: the one the message was sent to, else (with `every_status`) the
/// user's on sent, delivered and read.
fn recipient_user_id(sh: &Shapes, msg: &Accepted, stage: Stage) -> Option<String> {
    if msg.recipient_user_id.is_some() {
        return msg.recipient_user_id.clone();
    }
    let every = sh.status_user_id == StatusUserId::EveryStatus && stage != Stage::Failed;
    msg.user.as_ref().filter(|_| every).map(|u| u.user_id.clone())
}

/// The `contacts` entry of one of its statuses: none for `failed` or without identity; the phone
/// number unless a username user was messaged by BSUID; the display name; the username on
/// delivered and read only.
pub fn contact(msg: &Accepted, stage: Stage) -> Option<Contact> {
    let user = msg.user.as_ref().filter(|_| stage != Stage::Failed)?;
    let withheld = msg.recipient_user_id.is_some() && user.phone_withheld();
    let phone = (!withheld).then_some(msg.recipient.as_str());
    let name = display_name(Some(user), &msg.recipient);
    Some(Contact::of_status(user, phone, Some(name), matches!(stage, Stage::Delivered | Stage::Read)))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::webhook::identity::UserIdentity;

    fn at(stage: Stage) -> PlannedStatus {
        PlannedStatus { stage, due: Duration::ZERO, code: None, duplicate: false }
    }

    fn template(version: Option<u16>) -> Accepted {
        let msg = Accepted::to_phone("wamid.1".into(), "15551234567".into(), "106540352242922".into(), true, None);
        Accepted { api_version: version, ..msg }
    }

    #[test]
    fn conversation_until_v24_and_pricing_on_sent_and_delivered() {
        let sh = Shapes::cloud(1);
        let s = status(&sh, &template(Some(23)), &at(Stage::Sent), 1_700_000_000);
        assert_eq!(s.conversation.as_ref().unwrap().expiration_timestamp.as_deref(), Some("1700086400"));
        let p = s.pricing.unwrap();
        assert_eq!((p.billable, p.pricing_model.as_deref(), p.kind.as_deref()), (true, Some("PMP"), Some("regular")));
        assert_eq!(p.category.as_deref(), Some("marketing"));
        let d = status(&sh, &template(Some(23)), &at(Stage::Delivered), 1_700_000_001);
        assert!(d.conversation.as_ref().unwrap().expiration_timestamp.is_none());
        assert!(d.pricing.is_some());
        let r = status(&sh, &template(Some(23)), &at(Stage::Read), 1_700_000_002);
        assert!(r.conversation.is_none() && r.pricing.is_none(), "one of delivered or read: delivered");
        for v in [Some(24), Some(25), None] {
            for stage in [Stage::Sent, Stage::Delivered] {
                let s = status(&sh, &template(v), &at(stage), 1);
                assert!(s.conversation.is_none() && s.pricing.is_some(), "{v:?} {stage:?}");
            }
        }
        let f = status(&sh, &template(Some(23)), &PlannedStatus { code: Some(131049), ..at(Stage::Failed) }, 2);
        assert!(f.conversation.is_none() && f.pricing.is_none());
        let e = &f.errors.as_ref().unwrap()[0];
        assert!(e.code == 131049 && e.error_data.is_some() && e.href.is_some() && e.message.is_some());
    }

    #[test]
    fn service_and_in_window_utility_are_free() {
        let sh = Shapes::cloud(1);
        let price = |m: &Accepted| status(&sh, m, &at(Stage::Delivered), 1).pricing.unwrap();
        let service = Accepted { template: false, category: "service", in_window: true, ..template(None) };
        let p = price(&service);
        assert_eq!(
            (p.billable, p.kind.as_deref(), p.category.as_deref()),
            (false, Some("free_customer_service"), Some("service"))
        );
        let utility = Accepted { category: "utility", in_window: true, ..template(None) };
        assert_eq!(price(&utility).kind.as_deref(), Some("free_customer_service"));
        let outside = Accepted { in_window: false, ..utility };
        assert_eq!((price(&outside).billable, price(&outside).kind.as_deref()), (true, Some("regular")));
        let auth = Accepted { category: "authentication", in_window: true, ..template(None) };
        assert_eq!(price(&auth).category.as_deref(), Some("authentication"));
        assert!(price(&auth).billable, "authentication is charged inside a window too");
    }

    #[test]
    fn onprem_keeps_its_shapes() {
        let sh = Shapes { flavor: Flavor::OnPrem, ..Shapes::cloud(1) };
        let d = status(&sh, &template(None), &at(Stage::Delivered), 1);
        assert!(d.conversation.is_some());
        assert_eq!(d.pricing.unwrap().pricing_model.as_deref(), Some("CBP"));
        let f = status(&sh, &template(None), &PlannedStatus { code: Some(470), ..at(Stage::Failed) }, 2);
        assert!(f.errors.as_ref().unwrap()[0].error_data.is_none());
        assert!(contact(&template(None), Stage::Delivered).is_none(), "no identity, no contact");
    }

    #[test]
    fn identities_follow_the_reading_the_address_and_the_stage() {
        let user = UserIdentity { username: Some("ann".into()), ..UserIdentity::new("US.7") };
        let by_phone = Accepted {
            user: Some(user.clone()),
            category: "service",
            ..Accepted::to_phone("wamid.2".into(), "15551234567".into(), "1".into(), false, None)
        };
        let by_bsuid = Accepted { recipient_user_id: Some("US.7".into()), ..by_phone.clone() };
        let ids = |sh: &Shapes, m: &Accepted, stage| {
            let s = status(sh, m, &at(stage), 1);
            (s.recipient_id, s.recipient_user_id)
        };
        let every = Shapes::cloud(1);
        let phone = || "15551234567".to_string();
        for stage in [Stage::Sent, Stage::Delivered, Stage::Read] {
            assert_eq!(ids(&every, &by_phone, stage), (phone(), Some("US.7".into())), "{stage:?}");
        }
        assert_eq!(ids(&every, &by_phone, Stage::Failed), (phone(), None));
        assert_eq!(ids(&every, &by_bsuid, Stage::Read), (String::new(), Some("US.7".into())), "number withheld");
        let no_username = Accepted { user: Some(UserIdentity::new("US.7")), ..by_bsuid.clone() };
        assert_eq!(ids(&every, &no_username, Stage::Delivered), (phone(), Some("US.7".into())), "number shared");
        assert_eq!(ids(&every, &no_username, Stage::Failed), (phone(), Some("US.7".into())));
        let sdk = Shapes { status_user_id: StatusUserId::BsuidSends, ..every };
        assert_eq!(ids(&sdk, &by_phone, Stage::Delivered), (phone(), None));
        assert_eq!(ids(&sdk, &no_username, Stage::Delivered), (String::new(), Some("US.7".into())));

        let c = contact(&by_phone, Stage::Sent).unwrap();
        assert_eq!((c.wa_id.as_deref(), c.user_id.as_deref()), (Some("15551234567"), Some("US.7")));
        let profile = c.profile.unwrap();
        // A user's display name is theirs whatever the address: a username user's never shows the number.
        assert_eq!((profile.name.as_deref(), profile.username), (Some("User US.7"), None), "no username on sent");
        let c = contact(&by_phone, Stage::Delivered).unwrap();
        assert_eq!(c.profile.unwrap().username.as_deref(), Some("ann"), "username on delivered");
        let c = contact(&by_bsuid, Stage::Read).unwrap();
        assert_eq!(c.wa_id, None, "a username user messaged by BSUID: no phone number");
        assert_eq!(c.profile.unwrap().name.as_deref(), Some("User US.7"), "nor in the name");
        let plain = Accepted { user: Some(UserIdentity::new("US.7")), ..by_phone };
        assert_eq!(contact(&plain, Stage::Sent).unwrap().profile.unwrap().name.as_deref(), Some("User 4567"));
        assert!(contact(&by_bsuid, Stage::Failed).is_none(), "failed statuses carry no contacts");
    }
}

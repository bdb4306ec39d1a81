//! Unit tests of the body generator: determinism, batching, shapes that parse back and verify,
//! lifecycle consistency, sizing.

use super::*;
use crate::spec::webhook_target::InboundWeights;
use crate::webhook::model::{Shape, parse_notification};
use crate::webhook::signature::{sign, verify};

fn spec(f: impl FnOnce(&mut WebhookTargetSpec)) -> WebhookTargetSpec {
    let mut s = WebhookTargetSpec::default();
    s.statuses.failed = 0.2;
    s.inbound = InboundWeights {
        text: 1.0,
        image: 1.0,
        document: 1.0,
        audio: 1.0,
        sticker: 1.0,
        location: 1.0,
        interactive: 1.0,
        button: 1.0,
        reaction: 1.0,
    };
    s.max_batch = 4;
    f(&mut s);
    s.validate().unwrap();
    s
}

#[test]
fn same_seed_same_bytes_and_another_seed_differs() {
    let s = spec(|_| {});
    let (a, b, c) = (
        Generator::new(&s, 7, 100.0, 1_700_000_000),
        Generator::new(&s, 7, 100.0, 1_700_000_000),
        Generator::new(&s, 8, 100.0, 1_700_000_000),
    );
    let (mut x, mut y, mut z) = (Vec::new(), Vec::new(), Vec::new());
    let mut differ = false;
    for n in 0..200 {
        a.body(n, &mut x);
        b.body(n, &mut y);
        c.body(n, &mut z);
        assert_eq!(x, y, "POST {n}");
        differ |= x != z;
    }
    assert!(differ);
}

#[test]
fn batches_tile_the_stream() {
    let g = Generator::new(&spec(|_| {}), 3, 100.0, 0);
    let mut next = 0;
    let mut sizes = std::collections::BTreeSet::new();
    for n in 0..40 {
        let (first, len) = g.batch(n);
        assert_eq!(first, next, "POST {n} starts where the last ended");
        assert!((1..=4).contains(&len));
        sizes.insert(len);
        next += len;
    }
    assert_eq!(sizes.len(), 4, "every batch size occurs");
}

#[test]
fn cloud_bodies_parse_back_sign_and_carry_every_kind() {
    let g = Generator::new(&spec(|_| {}), 11, 50.0, 1_700_000_000);
    let mut body = Vec::new();
    let (mut statuses, mut inbound) = (0, 0);
    let mut kinds = std::collections::BTreeSet::new();
    for n in 0..300 {
        let info = g.body(n, &mut body);
        let parsed = parse_notification(&body).unwrap();
        assert_eq!(parsed.shape, Shape::Cloud);
        assert_eq!(parsed.statuses.len() as u32, info.statuses);
        assert_eq!(parsed.inbound_messages as u32, info.inbound);
        let sig = sign(b"secret", &body);
        assert_eq!(verify(b"secret", &body, Some(&sig)), Ok(()));
        statuses += info.statuses;
        inbound += info.inbound;
        let v: Value = serde_json::from_slice(&body).unwrap();
        for ch in v["entry"][0]["changes"].as_array().unwrap() {
            for m in ch["value"]["messages"].as_array().into_iter().flatten() {
                kinds.insert(m["type"].as_str().unwrap().to_string());
                assert!(m[m["type"].as_str().unwrap()].is_object(), "{m}");
            }
            for s in ch["value"]["statuses"].as_array().into_iter().flatten() {
                kinds.insert(s["status"].as_str().unwrap().to_string());
                match s["status"].as_str().unwrap() {
                    "failed" => assert!(s["errors"][0]["code"].is_i64() && s.get("conversation").is_none()),
                    "delivered" => assert_eq!(s["pricing"]["pricing_model"], "PMP"),
                    "sent" => assert!(s["conversation"]["expiration_timestamp"].is_string()),
                    _ => {}
                }
            }
        }
    }
    assert!(statuses > 0 && inbound > 0);
    for k in ["sent", "delivered", "read", "failed"].into_iter().chain(InboundKind::ALL.map(InboundKind::as_str)) {
        assert!(kinds.contains(k), "{k} missing from {kinds:?}");
    }
}

#[test]
fn lifecycles_are_consistent() {
    let g = Generator::new(&spec(|s| s.inbound = InboundWeights::default()), 5, 30.0, 1_700_000_000);
    let mut seen: std::collections::HashMap<String, Vec<Status>> = Default::default();
    for e in 0..5_000 {
        if let Event::Status { stage, message } = g.event(e) {
            let s = g.status(stage, message);
            seen.entry(s.id.clone()).or_default().push(s);
        }
    }
    let mut complete = 0;
    for (id, list) in &seen {
        let kinds: Vec<_> = list.iter().map(|s| s.status.clone()).collect();
        assert!(!(kinds.contains(&StatusKind::Delivered) && kinds.contains(&StatusKind::Failed)), "{id}");
        assert!(list.iter().all(|s| s.recipient_id == list[0].recipient_id), "{id}");
        // Posted in lifecycle order, with timestamps that never go back.
        let rank = |k: &StatusKind| match k {
            StatusKind::Sent => 0,
            StatusKind::Delivered | StatusKind::Failed => 1,
            _ => 2,
        };
        assert!(list.windows(2).all(|w| rank(&w[0].status) <= rank(&w[1].status)), "{id}: {kinds:?}");
        assert!(list.windows(2).all(|w| w[0].unix_seconds() <= w[1].unix_seconds()), "{id}");
        complete += usize::from(kinds == [StatusKind::Sent, StatusKind::Delivered, StatusKind::Read]);
    }
    assert!(complete > 100, "{complete}");
}

#[test]
fn onprem_bodies_have_their_shape() {
    let g = Generator::new(&spec(|s| s.flavor = HookFlavor::OnPrem), 2, 10.0, 1_700_000_000);
    let mut body = Vec::new();
    let mut both = false;
    for n in 0..100 {
        let info = g.body(n, &mut body);
        let parsed = parse_notification(&body).unwrap();
        assert_eq!(parsed.shape, Shape::OnPrem);
        assert_eq!((parsed.statuses.len() as u32, parsed.inbound_messages as u32), (info.statuses, info.inbound));
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v.get("object").is_none());
        for s in v["statuses"].as_array().into_iter().flatten() {
            assert!(s["id"].as_str().unwrap().starts_with("gBEG"));
            if s["status"] == "delivered" {
                assert_eq!(s["pricing"]["pricing_model"], "CBP");
            }
            if s["status"] == "failed" {
                assert!(s["errors"][0].get("error_data").is_none() && s["errors"][0]["href"].is_string());
            }
        }
        both |= info.statuses > 0 && info.inbound > 0;
    }
    assert!(both, "a batch can mix statuses and inbound messages");
}

#[test]
fn sizing_sets_the_shares() {
    // 3 × 10 status events per 10 inbound: three quarters statuses.
    let g = Generator::new(
        &spec(|s| {
            s.messages_per_second = Some(10.0);
            s.inbound_per_second = Some(10.0);
        }),
        1,
        40.0,
        0,
    );
    let statuses = (0..4000).filter(|e| matches!(g.event(*e), Event::Status { .. })).count();
    assert!((2900..=3100).contains(&statuses), "{statuses}");
}

#[test]
fn cloud_statuses_follow_the_webhook_version() {
    // Before v24.0 `conversation` on sent and delivered; from v24.0 none. In every version `pricing`
    // on sent and delivered, and the user's BSUID on every status but failed.
    for (version, conversation) in [("v23.0", true), ("v24.0", false), ("v25.0", false)] {
        let g = Generator::new(&spec(|s| s.api_version = version.into()), 5, 100.0, 1_700_000_000);
        for stage in [Stage::Sent, Stage::Delivered, Stage::Read, Stage::Failed] {
            let v = serde_json::to_value(g.status(stage, 3)).unwrap();
            let success = stage != Stage::Failed;
            let priced = matches!(stage, Stage::Sent | Stage::Delivered);
            assert_eq!(v.get("conversation").is_some(), conversation && success, "{version} {stage:?}: {v}");
            assert_eq!(v.get("pricing").is_some(), priced, "{version} {stage:?}: {v}");
            if priced {
                assert_eq!(v["pricing"]["pricing_model"], "PMP", "{v}");
            }
            assert_eq!(v.get("recipient_user_id").is_some(), success, "{version} {stage:?}: {v}");
        }
    }
    let bad = WebhookTargetSpec { api_version: "24".into(), ..WebhookTargetSpec::default() };
    assert_eq!(bad.validate().unwrap_err().0, "api_version");
}

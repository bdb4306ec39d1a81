//! The request bodies the Cloud driver builds conform to Meta's OpenAPI schemas (from
//! `../shared/reference/business-messaging-api_v23.0.yaml`; skipped with a note when it is absent).

use crate::support::sim as sim_support;

use serde_json::Value;
use wabench::drivers::whatsapp::MessagesSpec;
use wabench::drivers::whatsapp::body::{self, Kind};

#[test]
fn every_message_kind_matches_its_schema() {
    let spec = MessagesSpec { template_params: 3, ..Default::default() };
    let by_id = MessagesSpec { media_id: Some("1166846181421424".into()), ..Default::default() };
    let cases = [
        (Kind::Text, "TextMessage", &spec),
        (Kind::Template, "TemplateMessage", &spec),
        (Kind::Image, "ImageMessage", &spec),
        (Kind::Image, "ImageMessage", &by_id),
        (Kind::Document, "DocumentMessage", &spec),
        (Kind::Interactive, "InteractiveMessage", &spec),
        (Kind::Reaction, "ReactionMessage", &spec),
    ];
    for (kind, schema, s) in cases {
        let v: Value = serde_json::from_slice(&body::cloud(s, kind, "15550001234", 17)).unwrap();
        assert_eq!(v["type"], kind.name());
        sim_support::assert_spec(&["BaseMessageProperties", schema], &v);
    }
}

//! What a run costs: rate cards read with their errors placed by file, line and column; the estimate
//! of a small profile against figures worked out by hand; `validate` refusing an estimate over
//! `max_cost`; a run on the simulator stopping at its cap, marked in run.json and shown in the report.

use std::path::Path;

use crate::support::common::wabench;

const CARD: &str = "# a test card\n\
Market,Calling codes,Currency,Marketing,Utility,Authentication,Authentication-International,Service\n\
North America,+1,USD,0.025,0.004,0.004,,\n\
United Kingdom,+44,USD,0.05,0.02,0.03,0.04,\n\
Other,*,USD,0.06,0.008,0.008,,\n";

/// Three recipients in three markets: 21 messages give each of them 7 (round robin).
const RECIPIENTS: &str = "phone\n15550000001\n447700900001\n4915100000001\n";

/// Authentication templates only, 3/s for 7 s, priced with authentication-international rates.
fn profile(cap: &str) -> String {
    format!(
        "name = \"cost\"\n[load]\nrate = 3\nduration = \"7s\"\n[messages]\ntext = 0\ntemplate = 1\n\
         template_category = \"authentication\"\n[recipients]\nfile = \"r.csv\"\n[[targets]]\nname = \"c\"\n\
         kind = \"cloud\"\nbase_url = \"embedded\"\n\
         cost = {{ rate_card = \"card.csv\", authentication_international = true{cap} }}\n"
    )
}

fn folder(profile: &str, card: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.toml"), profile).unwrap();
    std::fs::write(dir.path().join("card.csv"), card).unwrap();
    std::fs::write(dir.path().join("r.csv"), RECIPIENTS).unwrap();
    dir
}

fn path(dir: &Path) -> String {
    dir.join("p.toml").display().to_string()
}

#[test]
fn a_bad_rate_card_row_is_refused_with_its_file_line_and_column() {
    let dir = folder(&profile(""), &CARD.replace("0.05,0.02", "0.05,cheap"));
    let (code, _, err) = wabench(&["validate", &path(dir.path())]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("field `targets[0].cost.rate_card`"), "{err}");
    assert!(err.contains("card.csv:4: column \"Utility\": \"cheap\" is not a price"), "{err}");
    let dir = folder(&profile(""), &CARD.replace("Other,*,USD,0.06,0.008,0.008,,\n", ""));
    let (code, _, err) = wabench(&["validate", &path(dir.path())]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("recipient 4915100000001 has no market in card.csv"), "{err}");
}

#[test]
fn the_estimate_prices_each_planned_message_by_category_and_market() {
    let dir = folder(&profile(""), CARD);
    let (code, out, err) = wabench(&["validate", "--json", &path(dir.path())]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["load"]["expected_requests"], 21);
    let e = &v["cost"][0]["estimate"];
    assert_eq!((v["cost"][0]["target"].as_str(), v["cost"][0]["currency"].as_str()), (Some("c"), Some("USD")));
    // By hand: 7 messages to each market. North America has no authentication-international rate
    // (0.004), the United Kingdom has (0.04), Germany falls to Other (0.008): 7 × 0.052 = 0.364.
    let rows: Vec<(String, String, u64, f64)> = e["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (s("category"), s("market"), r["messages"].as_u64().unwrap(), r["cost"].as_f64().unwrap())
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("authentication".into(), "North America".into(), 7, 0.028),
            ("authentication".into(), "Other".into(), 7, 0.056),
            ("authentication_international".into(), "United Kingdom".into(), 7, 0.28),
        ]
    );
    assert_eq!((e["messages"].as_u64(), e["total"].as_f64()), (Some(21), Some(0.364)));
    let (code, text, _) = wabench(&["validate", &path(dir.path())]);
    assert_eq!(code, 0);
    assert!(text.contains("estimate: 0.3640 USD for 21 messages, if every one is delivered"), "{text}");
    let (code, dry, _) = wabench(&["run", "--dry-run", &path(dir.path())]);
    assert_eq!(code, 0);
    assert!(dry.contains("estimate: 0.3640 USD") && dry.contains("United Kingdom"), "{dry}");
}

#[test]
fn validate_refuses_an_estimate_over_max_cost() {
    let dir = folder(&profile(", max_cost = 0.3"), CARD);
    let (code, _, err) = wabench(&["validate", &path(dir.path())]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("target \"c\": the estimated cost 0.3640 USD is above its max_cost 0.3000 USD"),
        "names the target, the estimate and the cap: {err}"
    );
    let dir = folder(&profile(", max_cost = 0.5"), CARD);
    let (code, out, err) = wabench(&["validate", &path(dir.path())]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("max_cost: 0.5000 USD"), "{out}");
}

#[test]
fn a_run_on_the_simulator_stops_sending_at_its_max_cost() {
    // Marketing templates to the United Kingdom at 0.05 each: a cap of 0.5 holds 10 of the 100 planned.
    let text = "name = \"capped\"\n[load]\nrate = 20\nduration = \"5s\"\nconnections = 8\n[messages]\ntext = 0\n\
                template = 1\ntemplate_category = \"marketing\"\n[recipients]\ncountry_code = \"44\"\ncount = 1000\n\
                [[targets]]\nname = \"c\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n\
                cost = { rate_card = \"card.csv\", max_cost = 0.5 }\n";
    let dir = folder(text, CARD);
    let out = dir.path().join("out");
    let (code, stdout, err) = wabench(&["run", &path(dir.path()), "--out", &out.display().to_string()]);
    assert_eq!(code, 99, "a target stopped at its cap exits 99: {stdout}\n{err}");
    assert!(err.contains("stopped sending at their max_cost"), "{err}");
    assert!(stdout.contains("stopped sending at its max_cost 0.5000 USD"), "{stdout}");
    let run: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
    let t = &run["targets"][0];
    assert_eq!(t["stopped"], "max_cost");
    assert_eq!(run["interrupted"], false, "a cap is not an interruption");
    let cost = &t["cost"];
    let accepted = cost["accepted"]["total"].as_f64().unwrap();
    assert!(accepted > 0.0 && accepted <= 0.5 + 1e-9, "accepted sends within the cap: {cost}");
    assert_eq!(cost["accepted"]["rows"][0]["market"], "United Kingdom");
    assert!(t["requests"]["sent"].as_u64().unwrap() < 100, "it stopped sending: {}", t["requests"]);
    assert_eq!(cost["estimate"]["total"].as_f64(), Some(5.0), "100 planned × 0.05");
    assert_eq!(cost["actual"]["basis"], "delivered", "the simulator's status webhooks were tracked");
    assert!(cost["actual"]["total"].as_f64().unwrap() <= accepted);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let section = &html[html.find("<section id=\"cost\">").expect("a cost section")..];
    let section = &section[..section.find("</section>").unwrap()];
    assert!(section.contains("<td>marketing</td><td>United Kingdom</td><td>0.05</td><td>100</td>"), "{section}");
    assert!(section.contains("stopped sending at its max_cost"), "{section}");
}

#[test]
fn shards_of_a_priced_run_merge_into_the_whole_runs_cost() {
    // Two shards of the 21 messages; the merged cost is their rows added, the caps added.
    // Three users at 3 messages/s: the pair rate limit is off, so every message is accepted.
    let text = format!("{}[simulator.cloud]\npair_limit = {{ enabled = false }}\n", profile(", max_cost = 10.0"));
    let dir = folder(&text, CARD);
    let mut parts = Vec::new();
    let mut accepted = 0.0;
    for i in 0..2 {
        let out = dir.path().join(format!("shard{i}"));
        let shard = format!("{i}/2");
        let (code, _, err) = wabench(&["run", &path(dir.path()), "--shard", &shard, "--out", out.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        let run = wabench::results::read_run(&out).unwrap();
        let c = run.targets[0].cost.clone().expect("a priced target");
        assert_eq!(c.max_cost, Some(5.0), "each shard has its share of the cap");
        accepted += c.accepted.total;
        parts.push(out);
    }
    let merged = dir.path().join("merged");
    let c = crate::support::common::merge(&parts, &merged).targets[0].cost.clone().expect("the merged cost");
    assert_eq!(c.max_cost, Some(10.0));
    assert_eq!(c.accepted.messages, 21);
    assert!((c.accepted.total - accepted).abs() < 1e-9, "{} vs {accepted}", c.accepted.total);
    assert_eq!(c.estimate.map(|e| e.messages), Some(21));
}

#[test]
fn the_actual_cost_prices_each_delivered_message_by_its_own_market() {
    // The UK user is undeliverable (suffix 0000: accepted, then failed in a webhook): Meta bills
    // nothing for those, so the actual cost has no UK message, while the other markets are whole.
    let hooks = "[webhooks]\nlisten = \"127.0.0.1:0\"\ngrace = \"10s\"\n[simulator.cloud]\npair_limit = { enabled = false }\n\
                 [simulator.webhooks]\nsent = { distribution = \"constant\", median = \"10ms\" }\n\
                 delivered = { distribution = \"constant\", median = \"10ms\" }\nread_fraction = 0.0\nduplicate_fraction = 0.0\n\
                 out_of_order_fraction = 0.0\ndelivered_and_failed_fraction = 0.0\n";
    let dir = folder(&format!("{}{hooks}", profile("")), CARD);
    std::fs::write(dir.path().join("r.csv"), "phone\n15550000001\n447700900000\n4915100000001\n").unwrap();
    let out = dir.path().join("out");
    let summary = dir.path().join("summary.json");
    let (code, _, err) = wabench(&[
        "run",
        &path(dir.path()),
        "--out",
        out.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 99, "{err}");
    let run = wabench::results::read_run(&out).unwrap();
    let t = &run.targets[0];
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let sc = &s["targets"][0]["cost"];
    assert_eq!(sc["actual_basis"], "delivered", "{s}");
    assert_eq!(sc["actual"].as_f64(), t.cost.as_ref().map(|c| c.actual.total));
    assert_eq!(t.delivery.as_ref().unwrap().messages_failed_by_code.get(&131026), Some(&7), "{:?}", t.delivery);
    let c = t.cost.as_ref().unwrap();
    assert_eq!(c.accepted.messages, 21);
    assert_eq!(c.actual.basis, "delivered");
    let by_market = |m: &str| c.actual.rows.iter().filter(|r| r.market == m).map(|r| r.messages).sum::<u64>();
    assert_eq!((by_market("North America"), by_market("United Kingdom"), by_market("Other")), (7, 0, 7), "{c:?}");
    let expected: f64 = c.actual.rows.iter().map(|r| r.messages as f64 * r.price).sum();
    assert!((c.actual.total - expected).abs() < 1e-9);
}

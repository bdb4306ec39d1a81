//! The deployment files stay true: the profile in the Kubernetes ConfigMap is a valid profile, the
//! Indexed Job's shard count matches its completions, and the example CI workflow runs a real profile.

use std::path::Path;

fn yaml(path: &str) -> serde_norway::Value {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn configmap_profile_is_valid() {
    let cm = yaml("deploy/k8s/configmap.yaml");
    let text = cm["data"]["profile.toml"].as_str().expect("profile.toml in the ConfigMap");
    let p = wabench::spec::parse(Path::new("deploy/k8s/configmap.yaml"), text).unwrap();
    assert_eq!(p.name, "sharded");
}

#[test]
fn indexed_job_shards_match_completions() {
    let job = yaml("deploy/k8s/job.yaml");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let completions = spec["completions"].as_u64().unwrap();
    assert_eq!(spec["parallelism"].as_u64(), Some(completions));
    let env = spec["template"]["spec"]["containers"][0]["env"].as_sequence().unwrap();
    let shards = env.iter().find(|e| e["name"].as_str() == Some("WABENCH_SHARDS")).unwrap()["value"].as_str().unwrap();
    assert_eq!(shards.parse::<u64>().unwrap(), completions);
    // Secrets reach the pod from a Secret, not from literal values.
    assert!(env.iter().filter(|e| e["name"].as_str().unwrap().contains("TOKEN")).all(|e| e.get("value").is_none()));
}

#[test]
fn ci_example_runs_an_existing_profile() {
    let wf =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci/github-actions.yml")).unwrap();
    assert!(wf.contains("wabench run profiles/quickstart.toml"));
    let _: serde_norway::Value = serde_norway::from_str(&wf).unwrap();
    assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/quickstart.toml").exists());
}

/// The exit codes a Job's `podFailurePolicy` turns into `FailJob`.
fn fail_job_codes(job: &serde_norway::Value) -> Vec<u64> {
    let Some(rules) = job["spec"]["podFailurePolicy"]["rules"].as_sequence() else { return Vec::new() };
    rules
        .iter()
        .filter(|r| r["action"].as_str() == Some("FailJob") && r["onExitCodes"]["operator"].as_str() == Some("In"))
        .flat_map(|r| r["onExitCodes"]["values"].as_sequence().cloned().unwrap_or_default())
        .filter_map(|v| v.as_u64())
        .collect()
}

#[test]
fn a_shards_crossed_threshold_does_not_stop_the_others_and_the_merge_decides() {
    // The shards: no rule fails the whole Job on exit 99 (it would stop every other shard mid-run),
    // and no shard is asked to exit 99 on its own verdict.
    let shards = yaml("deploy/k8s/job.yaml");
    assert!(!fail_job_codes(&shards).contains(&99), "job.yaml must not fail the Job on a shard's exit 99");
    let args = shards["spec"]["template"]["spec"]["containers"][0]["args"].as_sequence().unwrap();
    assert_eq!(args[0].as_str(), Some("run"));
    assert!(args.iter().all(|a| a.as_str() != Some("--fail-on-thresholds")));
    // The merge: wabench's own exit code reaches the Job (exec), 99 fails it with a named reason, and
    // the verdict is written for CI.
    let merge = yaml("deploy/k8s/merge-job.yaml");
    let c = &merge["spec"]["template"]["spec"]["containers"][0];
    let script = c["args"][0].as_str().unwrap();
    assert!(script.starts_with("exec wabench merge "), "{script}");
    for flag in ["--out", "--junit", "--summary-json"] {
        assert!(script.contains(flag), "{flag} in {script}");
    }
    assert_eq!(fail_job_codes(&merge), vec![99]);
    let rule = &merge["spec"]["podFailurePolicy"]["rules"][0];
    assert_eq!(rule["onExitCodes"]["containerName"].as_str(), c["name"].as_str());
    assert_eq!(merge["spec"]["template"]["spec"]["restartPolicy"].as_str(), Some("Never"));
}

/// Split a shell command line into words (double quotes group words; nothing else is interpreted).
fn words(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[test]
fn ci_example_gates_on_the_merged_verdict_and_a_baseline_with_real_flags() {
    use clap::Parser;
    let wf = yaml("examples/ci/github-actions.yml");
    let steps = wf["jobs"]["wabench"]["steps"].as_sequence().unwrap();
    let mut commands = Vec::new();
    for step in steps {
        let Some(script) = step["run"].as_str() else { continue };
        for line in script.lines().map(str::trim).filter(|l| l.starts_with("wabench ")) {
            // Every wabench command of the workflow parses with the real command line, with $SAVE as
            // the workflow sets it on main and elsewhere.
            for save in ["--save-baseline main", ""] {
                let args = words(&line.trim_end_matches('&').replace("$SAVE", save));
                if let Err(e) = wabench::app::cli::Cli::try_parse_from(&args) {
                    panic!("{line}: {e}");
                }
                commands.push(args.join(" "));
            }
        }
    }
    let has = |needle: &str| commands.iter().any(|c| c.contains(needle));
    assert!(has("run profiles/quickstart.toml --quiet --shard 0/2") && has("--shard 1/2"), "{commands:?}");
    assert!(has("merge results/ci/shard-0 results/ci/shard-1") && has("--junit"), "{commands:?}");
    assert!(has("compare --baseline main") && has("--fail-if p99 > 1.10"), "{commands:?}");
    assert!(has("--summary-json results/ci/summary.json --save-baseline main"), "{commands:?}");
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci/github-actions.yml")).unwrap();
    assert!(text.contains("'--save-baseline main'") && text.contains("path: results/baselines"));
}

#[test]
fn the_receiver_deployment_service_and_merge_agree() {
    use clap::Parser;
    let dep = yaml("deploy/k8s/receiver-deployment.yaml");
    let svc = yaml("deploy/k8s/receiver-service.yaml");
    let pod = &dep["spec"]["template"];
    // The Service selects the receiver's pods, on the port it names.
    let selector = svc["spec"]["selector"].as_mapping().unwrap();
    for (k, v) in selector {
        assert_eq!(&pod["metadata"]["labels"][k.as_str().unwrap()], v, "selector {k:?}");
        assert_eq!(&dep["spec"]["selector"]["matchLabels"][k.as_str().unwrap()], v);
    }
    let c = &pod["spec"]["containers"][0];
    let port = svc["spec"]["ports"][0]["targetPort"].as_str().unwrap();
    let ports = c["ports"].as_sequence().unwrap();
    let container_port = ports.iter().find(|p| p["name"].as_str() == Some(port)).unwrap()["containerPort"].as_u64();
    // The receiver's arguments parse with the real command line, and listen on that port.
    let args: Vec<String> = c["args"].as_sequence().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
    let cli = wabench::app::cli::Cli::try_parse_from(std::iter::once("wabench".to_string()).chain(args.clone()))
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let wabench::app::cli::Command::Receive(r) = cli.command else { panic!("not `receive`: {args:?}") };
    assert_eq!(Some(u64::from(r.listen.port())), container_port);
    // The profile's receiver_url is the Service, on the receiver's path.
    let cm = yaml("deploy/k8s/configmap.yaml");
    let p = wabench::spec::parse(Path::new("configmap.yaml"), cm["data"]["profile.toml"].as_str().unwrap()).unwrap();
    let url = p.webhooks.as_ref().and_then(|w| w.receiver_url.clone()).expect("receiver_url in the profile");
    let name = svc["metadata"]["name"].as_str().unwrap();
    assert_eq!(url, format!("http://{name}{}", r.path));
    // The merge reads the folder the receiver writes.
    let merge = yaml("deploy/k8s/merge-job.yaml");
    let script = merge["spec"]["template"]["spec"]["containers"][0]["args"][0].as_str().unwrap();
    assert!(script.contains(&format!("--webhooks {}", r.out.display())), "{script} vs {}", r.out.display());
    // Secrets come from the Secret, in the receiver and in the shards that sign.
    let secret = yaml("deploy/k8s/secret.yaml");
    let env = c["env"].as_sequence().unwrap();
    for e in env.iter().filter(|e| e["name"].as_str().unwrap().starts_with("WABENCH_")) {
        let key = e["valueFrom"]["secretKeyRef"]["key"].as_str().unwrap_or_else(|| panic!("{e:?} from a Secret"));
        assert!(secret["stringData"].get(key).is_some(), "{key} in secret.yaml");
    }
    let job = yaml("deploy/k8s/job.yaml");
    let shard_env = job["spec"]["template"]["spec"]["containers"][0]["env"].as_sequence().unwrap();
    assert!(shard_env.iter().any(|e| e["name"].as_str() == Some("WABENCH_APP_SECRET")));
    let kustomization = yaml("deploy/k8s/kustomization.yaml");
    let resources: Vec<&str> =
        kustomization["resources"].as_sequence().unwrap().iter().filter_map(|r| r.as_str()).collect();
    assert!(resources.contains(&"receiver-deployment.yaml") && resources.contains(&"receiver-service.yaml"));
    // The CI validates every manifest offline.
    let ci = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/run")).unwrap();
    for f in ["receiver-deployment.yaml", "receiver-service.yaml", "receiver-ingress.yaml"] {
        assert!(ci.contains(&format!("deploy/k8s/{f}")), "{f} in .ci/run");
    }
}

/// The quickstart's two targets (onprem and cloud, on the embedded simulator) in a few seconds, with
/// no message failing by design (no closed service window, no undeliverable recipient).
const SHORT_QUICKSTART: &str = r#"name = "quickstart"
seed = 42
[load]
model = "open"
rate = 40
duration = "3s"
connections = 8
timeout = "10s"
[recipients]
country_code = "1"
count = 2000
[simulator]
seed = 42
[simulator.service_window]
enabled = false
[simulator.recipients]
undeliverable_suffixes = []
[webhooks]
[[targets]]
name = "onprem"
kind = "onprem"
base_url = "embedded"
[[targets]]
name = "cloud"
kind = "cloud"
base_url = "embedded"
[thresholds]
"latency.p99" = "< 2s"
"error_rate" = "< 5%"
"#;

/// The example workflow's own wabench commands, in order, in a fresh folder whose
/// profiles/quickstart.toml is a short run of the quickstart's two targets: the shards (one after the
/// other, without waiting for an aligned start), the merge that saves the baseline `main`, then the
/// pull request's gate against that baseline. A run against a baseline of itself passes every gate,
/// each target judged against its namesake.
#[test]
fn ci_example_compare_of_a_two_target_run_with_a_baseline_of_itself_passes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("profiles")).unwrap();
    std::fs::write(dir.path().join("profiles/quickstart.toml"), SHORT_QUICKSTART).unwrap();
    let wf = yaml("examples/ci/github-actions.yml");
    let mut ran = Vec::new();
    for step in wf["jobs"]["wabench"]["steps"].as_sequence().unwrap() {
        let Some(script) = step["run"].as_str() else { continue };
        for line in script.lines().map(str::trim).filter(|l| l.starts_with("wabench ")) {
            let mut args = words(&line.trim_end_matches('&').replace("$SAVE", "--save-baseline main"));
            if let Some(i) = args.iter().position(|a| a == "--start-at") {
                args.drain(i..i + 2);
            }
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_wabench"))
                .args(&args[1..])
                .current_dir(dir.path())
                .output()
                .unwrap();
            let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert_eq!(out.status.code(), Some(0), "{}:\n{stdout}\n{stderr}", args.join(" "));
            ran.push(args[1].clone());
        }
    }
    assert_eq!(ran, ["run", "run", "merge", "compare"]);
    assert!(dir.path().join("results/baselines/main/run.json").is_file());
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results/ci/compare.json")).unwrap()).unwrap();
    assert_eq!(doc["passed"], true, "{doc}");
    let subjects: Vec<(&str, &str)> = doc["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["label"].as_str().unwrap(), s["against"].as_str().unwrap_or("-")))
        .collect();
    assert_eq!(subjects, [("merged/onprem", "main/onprem"), ("merged/cloud", "main/cloud")], "{doc}");
    let gates = doc["gates"].as_array().unwrap();
    assert_eq!(gates.len(), 4, "p99 and error_rate on each target: {doc}");
    for g in gates {
        assert_eq!(g["verdict"], "pass", "{g}");
    }
}

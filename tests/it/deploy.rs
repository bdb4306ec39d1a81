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

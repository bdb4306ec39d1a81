//! Named baselines, as criterion keeps them: `run --save-baseline NAME` (or `merge --save-baseline`)
//! stores a run under `<results>/baselines/NAME/`, and `compare --baseline NAME` compares against it.
//!
//! A baseline is a **copy** of the files `compare` reads (run.json, timeline.csv, every interval log),
//! not a pointer to the run's folder: results folders are timestamped, cleaned up, and in CI live in a
//! workspace that the next job does not have, while `results/baselines/` can be cached or uploaded as
//! one self-contained folder. The copy is a few hundred kilobytes (the interval logs are compressed);
//! charts and report.html are left out (`wabench report` redraws them). Saving a name again replaces it,
//! as criterion does, and says which run it replaced.

use std::fs;
use std::path::{Path, PathBuf};

use super::files::{PARTIAL_SUFFIX, RUN_JSON, TIMELINE};

/// The folder of baselines under a results root.
pub const DIR: &str = "baselines";
/// Where a baseline records which folder it was saved from.
pub const ORIGIN: &str = "baseline.json";

/// A baseline name: letters, digits, `.`, `_` and `-`, not starting with `.`, at most 100 characters.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!("baseline name {name:?}: use letters, digits, '.', '_' and '-' (not starting with '.'), e.g. main"))
    }
}

/// The folder of baseline `name` under `root`, which must exist.
pub fn find(root: &Path, name: &str) -> Result<PathBuf, String> {
    check_name(name)?;
    let dir = root.join(DIR).join(name);
    if dir.join(RUN_JSON).is_file() {
        return Ok(dir);
    }
    let mut known: Vec<String> = fs::read_dir(root.join(DIR))
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().join(RUN_JSON).is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    known.sort();
    let have = if known.is_empty() { "none saved yet".to_string() } else { format!("saved: {}", known.join(", ")) };
    Err(format!(
        "no baseline {name:?} in {} ({have}); save one with `wabench run PROFILE --save-baseline {name}`",
        root.join(DIR).display()
    ))
}

/// The files of a results folder a comparison needs.
fn needed(from: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = vec![from.join(RUN_JSON), from.join(TIMELINE)];
    for f in [RUN_JSON, TIMELINE] {
        if !from.join(f).is_file() {
            return Err(format!("{}: no {f}: not a finished run's results folder", from.display()));
        }
    }
    let entries = fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".hlog") && e.path().is_file() {
            files.push(e.path());
        }
    }
    Ok(files)
}

/// Save the results folder `from` as baseline `name` under `root`; returns its folder and the folder
/// the replaced baseline had been saved from, if one was replaced.
pub fn save(root: &Path, name: &str, from: &Path) -> Result<(PathBuf, Option<String>), String> {
    check_name(name)?;
    let files = needed(from)?;
    let base = root.join(DIR);
    let dir = base.join(name);
    let fresh = base.join(format!(".{name}{PARTIAL_SUFFIX}"));
    let old = base.join(format!(".{name}.replaced"));
    let fail = |what: &Path, e: std::io::Error| format!("saving baseline {name:?}: {}: {e}", what.display());
    for stale in [&fresh, &old] {
        if stale.exists() {
            fs::remove_dir_all(stale).map_err(|e| fail(stale, e))?;
        }
    }
    fs::create_dir_all(&fresh).map_err(|e| fail(&fresh, e))?;
    for f in &files {
        let to = fresh.join(f.file_name().unwrap_or_default());
        fs::copy(f, &to).map_err(|e| fail(f, e))?;
    }
    let origin = serde_json::json!({
        "name": name,
        "saved_from": from.display().to_string(),
        "saved_at": chrono::Utc::now().to_rfc3339(),
    });
    fs::write(fresh.join(ORIGIN), format!("{origin:#}\n")).map_err(|e| fail(&fresh.join(ORIGIN), e))?;
    let replaced = if dir.exists() {
        let was = fs::read_to_string(dir.join(ORIGIN))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["saved_from"].as_str().map(str::to_string))
            .unwrap_or_else(|| "an unknown folder".into());
        fs::rename(&dir, &old).map_err(|e| fail(&dir, e))?;
        Some(was)
    } else {
        None
    };
    fs::rename(&fresh, &dir).map_err(|e| fail(&dir, e))?;
    if old.exists() {
        fs::remove_dir_all(&old).map_err(|e| fail(&old, e))?;
    }
    Ok((dir, replaced))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain() {
        for ok in ["main", "v1.2", "pr_42-base"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".hidden", "a/b", "..", "a b", &"x".repeat(101)] {
            assert!(check_name(bad).unwrap_err().contains("baseline name"), "{bad}");
        }
    }

    #[test]
    fn a_saved_baseline_is_a_copy_and_saving_again_replaces_it() {
        let tmp = tempfile::tempdir().unwrap();
        let run = |n: &str, body: &str| {
            let d = tmp.path().join(n);
            fs::create_dir_all(&d).unwrap();
            for f in [RUN_JSON, TIMELINE, "t.hlog", "t.totals.hlog"] {
                fs::write(d.join(f), format!("{body} {f}")).unwrap();
            }
            fs::write(d.join("report.html"), "<html>").unwrap();
            d
        };
        let (a, b) = (run("a", "first"), run("b", "second"));
        let root = tmp.path().join("results");
        assert!(find(&root, "main").unwrap_err().contains("none saved yet"));
        let (dir, replaced) = save(&root, "main", &a).unwrap();
        assert_eq!((dir.clone(), replaced), (root.join("baselines/main"), None));
        assert_eq!(fs::read_to_string(dir.join("t.totals.hlog")).unwrap(), "first t.totals.hlog");
        assert!(!dir.join("report.html").exists(), "only what compare reads");
        fs::remove_dir_all(&a).unwrap();
        assert_eq!(find(&root, "main").unwrap(), dir, "a copy outlives the run's folder");
        let (_, replaced) = save(&root, "main", &b).unwrap();
        assert_eq!(replaced.as_deref(), Some(a.display().to_string().as_str()));
        assert_eq!(fs::read_to_string(dir.join(RUN_JSON)).unwrap(), "second run.json");
        assert!(find(&root, "other").unwrap_err().contains("saved: main"));
        assert!(save(&root, "x", &tmp.path().join("nothing")).unwrap_err().contains("no run.json"));
    }
}

//! What a results folder made by `wabench import` says about where its figures came from: the tool and
//! files it was read from, what the source measured and what it could not give. Both types are optional
//! in `run.json` (absent in a folder a run wrote), so older readers of schema version 1 read imported
//! folders and newer readers read old folders.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Run-level facts of an import (`run.json` → `imported`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Imported {
    /// The tool whose results were read: "jmeter", "hlog", "k6", "vegeta", "wrk2", "locust", "oha".
    pub tool: String,
    /// The files read, as given on the command line.
    pub files: Vec<String>,
    /// Per-request sources (one line per request) give exact per-second histograms; aggregate-only
    /// sources give the percentiles the tool printed and nothing per second.
    pub per_request: bool,
    /// What the source gave ("per-request latency", "per-second counts", …).
    #[serde(default)]
    pub available: Vec<String>,
    /// What it could not give, and so what the reports and `compare` leave out.
    #[serde(default)]
    pub unavailable: Vec<String>,
    /// Anything else a reader of the figures should know (clock, units, filters).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// Where a latency was measured from.
pub const FROM_SEND: &str = "send";
/// Latency from the intended start (open-loop tools that correct for coordinated omission, and wabench).
pub const FROM_INTENDED_START: &str = "intended_start";

/// Target-level facts of an import (`run.json` → `targets[i].imported`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ImportedTarget {
    /// The source's own name for these requests (a JMeter label, a Locust name, a k6 `name` tag), which
    /// may hold characters a target name cannot.
    #[serde(default)]
    pub label: String,
    /// Where the source measured latency from: [`FROM_SEND`] (service time: what a closed-loop tool
    /// measures, from the actual send) or [`FROM_INTENDED_START`].
    pub latency_from: String,
    /// Only aggregates (no per-second histograms): `compare` computes ratios but no intervals.
    #[serde(default)]
    pub aggregate_only: bool,
    /// For aggregate-only sources: the percentiles the tool printed, in µs, by name ("p50", "p90",
    /// "p99", "p99.9", "max", …). Empty for per-request sources, whose histograms hold everything.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub percentiles_us: BTreeMap<String, u64>,
}

impl ImportedTarget {
    /// The source measured from the actual send (service time), not from an intended start.
    pub fn is_service_time(&self) -> bool {
        self.latency_from == FROM_SEND
    }
}

//! `[tracing]`: which requests carry a W3C `traceparent` header (a seeded fraction of the messages),
//! whether real WhatsApp targets get it too, and where the spans of those requests are exported
//! (OTLP over HTTP). Only the table and its rules: the sampling itself is the engine's.

use serde::{Deserialize, Serialize};

use super::TargetSpec;

/// `[tracing]`: trace context on a sample of the requests, the slowest of them kept in the results.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TracingSpec {
    /// Fraction of the messages (0 to 1) sent with a W3C `traceparent` header, chosen from the
    /// profile's seed (the same messages every run). Default 0: no request carries one.
    #[serde(default)]
    pub sample: f64,
    /// Also trace the requests to real WhatsApp targets (not embedded, not on this machine). Off by
    /// default: Meta ignores the header, so it only adds bytes to every sampled request.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub real_targets: bool,
    /// Export a span for every sampled request to this OpenTelemetry collector, OTLP over
    /// HTTP/protobuf (`http://127.0.0.1:4318`; the path `/v1/traces` is added unless given). The
    /// export never holds back the load: spans that do not fit its queue are dropped and counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    /// The `service.name` of the exported spans (default "wabench").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
}

/// The path OTLP/HTTP receives traces on.
pub const OTLP_TRACES_PATH: &str = "/v1/traces";

impl TracingSpec {
    /// Whether requests to `target` are sampled: a fraction above zero, and for a real WhatsApp
    /// target only when `real_targets` asks.
    pub fn applies_to(&self, target: &TargetSpec) -> bool {
        self.sample > 0.0 && (self.real_targets || !target.is_real())
    }

    /// The URL spans are POSTed to: `otlp_endpoint`, with `/v1/traces` added when it has no path.
    pub fn traces_url(&self) -> Option<String> {
        let e = self.otlp_endpoint.as_deref()?.trim_end_matches('/');
        let has_path = e.split_once("://").is_some_and(|(_, rest)| rest.contains('/'));
        Some(if has_path { e.to_string() } else { format!("{e}{OTLP_TRACES_PATH}") })
    }

    /// The service name spans are exported under.
    pub fn service(&self) -> &str {
        self.service_name.as_deref().unwrap_or("wabench")
    }

    /// The table's rules: the fraction between 0 and 1, an `http(s)` collector URL that needs a
    /// sample to export. Errors name the field.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !self.sample.is_finite() || !(0.0..=1.0).contains(&self.sample) {
            return Err(("tracing.sample".into(), format!("must be a fraction from 0 to 1, got {}", self.sample)));
        }
        if let Some(e) = &self.otlp_endpoint {
            let scheme_ok = e.starts_with("http://") || e.starts_with("https://");
            if !scheme_ok || e.parse::<http::Uri>().is_err() {
                return Err((
                    "tracing.otlp_endpoint".into(),
                    format!("{e:?} is not an http:// or https:// URL of an OTLP/HTTP collector"),
                ));
            }
            if self.sample == 0.0 {
                return Err((
                    "tracing.otlp_endpoint".into(),
                    "exports the spans of the sampled requests: set `sample` (e.g. 0.01) too".into(),
                ));
            }
        }
        if self.service_name.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err(("tracing.service_name".into(), "must not be empty".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_added_to_a_bare_endpoint_only() {
        let t = |e: &str| TracingSpec { otlp_endpoint: Some(e.into()), sample: 0.1, ..TracingSpec::default() };
        assert_eq!(t("http://127.0.0.1:4318").traces_url().unwrap(), "http://127.0.0.1:4318/v1/traces");
        assert_eq!(t("http://127.0.0.1:4318/").traces_url().unwrap(), "http://127.0.0.1:4318/v1/traces");
        assert_eq!(
            t("https://otel.example/otlp/v1/traces").traces_url().unwrap(),
            "https://otel.example/otlp/v1/traces"
        );
    }

    #[test]
    fn rules_name_the_field() {
        let bad = TracingSpec { sample: 1.5, ..TracingSpec::default() };
        assert_eq!(bad.validate().unwrap_err().0, "tracing.sample");
        let no_sample = TracingSpec { otlp_endpoint: Some("http://127.0.0.1:4318".into()), ..TracingSpec::default() };
        assert!(no_sample.validate().unwrap_err().1.contains("set `sample`"));
        let ftp = TracingSpec { sample: 0.5, otlp_endpoint: Some("ftp://x".into()), ..TracingSpec::default() };
        assert_eq!(ftp.validate().unwrap_err().0, "tracing.otlp_endpoint");
        assert!(TracingSpec { sample: 0.01, ..TracingSpec::default() }.validate().is_ok());
    }
}

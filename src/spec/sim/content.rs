//! What the simulator knows of message content: the business's message templates
//! (`[[simulator.templates]]`) and how media sent by link fares (`[simulator.media]`).
//!
//! Sources (Meta's developer documentation and Meta's answers as integrators quote them):
//! - Template errors are answered at send, as a Graph API error (Meta, "WhatsApp error codes",
//!   <https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes>,
//!   whose table gives each an HTTP status): 132000 "Number of parameters does not match the expected
//!   number of params" (400), 132001 "Template name does not exist in the translation" (404: the
//!   template does not exist in that language or is not approved), 132012 "Parameter format does not
//!   match format in the created template" (400), 132015 "Template is paused" (400, paused for low
//!   quality), 132016 "Template is disabled" (400, paused too often). Meta's answers as integrators
//!   quote them: `(#132001) Template name does not exist in the translation` with details
//!   `template name (cg_quest_text) does not exist in en_US`
//!   (<https://github.com/tawn33y/whatsapp-cloud-api/issues/57>), `(#132000) Number of parameters
//!   does not match the expected number of params` with details `body: number of
//!   localizable_params (5) does not match the expected number of params (4)`, HTTP 400.
//! - 131062 "Business-scoped User ID recipients are not supported for this message": one-tap,
//!   zero-tap and copy-code authentication templates still need a phone number (Meta,
//!   "Business-scoped user IDs",
//!   <https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids>,
//!   as summarised in <https://dualhook.com/docs/contacts-bsuid-api-changes>; pywa's error classes).
//! - 131053 "Media upload error": a media message sent by `link` is accepted, and when Meta cannot
//!   download the link the message fails in a `failed` status webhook whose details read
//!   `Downloading media from weblink failed with http code …` (the asynchronous path of Meta's
//!   error-codes page; reports in <https://github.com/orgs/chatwoot/discussions/13517>).
//!
//! ```toml
//! [[simulator.templates]]
//! name = "order_update"
//! language = "en_US"
//! params = 2                       # body parameters ({{1}}, {{2}})
//! [[simulator.templates]]
//! name = "login_code"
//! params = 1
//! category = "authentication"      # not sent to business-scoped user IDs (131062)
//! [[simulator.templates]]
//! name = "spring_sale"
//! params = 1
//! param_types = ["currency"]       # a text parameter here gets 132012
//! status = "paused"                # 132015; "disabled" 132016; "pending"/"rejected" 132001
//! [simulator.media]
//! link_failure_fraction = 0.02     # media by link that Meta cannot download: 131053 in a webhook
//! ```

use serde::{Deserialize, Serialize};

use super::primitives::ConfigError;

/// A template's review status (Meta's template statuses).
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TemplateStatus {
    /// Approved: it can be sent.
    #[default]
    Approved,
    /// Paused for low quality: 132015.
    Paused,
    /// Disabled after repeated pauses: 132016.
    Disabled,
    /// Not approved yet: 132001 (Meta: "or the template has not been approved").
    Pending,
    /// Rejected: 132001.
    Rejected,
}

/// A template's category.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TemplateCategory {
    /// Marketing (subject to the per-user marketing limit, 131049).
    #[default]
    Marketing,
    Utility,
    /// Authentication (one-time passwords): never to a business-scoped user ID (131062).
    Authentication,
}

impl TemplateCategory {
    /// Its name as Meta writes it (a status webhook's `pricing.category`).
    pub fn name(self) -> &'static str {
        match self {
            TemplateCategory::Marketing => "marketing",
            TemplateCategory::Utility => "utility",
            TemplateCategory::Authentication => "authentication",
        }
    }
}

/// One `[[simulator.templates]]` entry: a template of the business in one language.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    /// Template name.
    pub name: String,
    /// Language code. Default `en_US`.
    #[serde(default = "default_language")]
    pub language: String,
    /// Number of body parameters. Default 0.
    #[serde(default)]
    pub params: u32,
    /// The type of each body parameter (`text`, `currency`, `date_time`, `image`, `document`,
    /// `video`, …). Empty (default): all `text`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub param_types: Vec<String>,
    /// Review status. Default approved.
    #[serde(default)]
    pub status: TemplateStatus,
    /// Category. Default marketing.
    #[serde(default)]
    pub category: TemplateCategory,
    /// The template is paced (Meta, "Template pacing",
    /// <https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/template-pacing>:
    /// new, unpaused or not-yet-GREEN marketing and utility templates "will be sent normally until an
    /// unspecified threshold is reached", then held for customer feedback; a good signal releases
    /// them, a bad one drops them). Absent (default): not paced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pacing: Option<PacingConfig>,
}

/// How a paced template's messages are held: the threshold and hold are Meta's unspecified figures,
/// settings here.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PacingConfig {
    /// Messages sent normally before the rest are held. Default 100.
    pub after: u64,
    /// How long a held message waits for the quality signal before its statuses come (integrators
    /// report held messages resolved within about an hour). Default 1m.
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub hold: std::time::Duration,
    /// Seeded fraction (0..=1) of held messages dropped on a bad quality signal: a `failed` status
    /// with 132015 (the template paused) after the hold. Default 0.
    pub dropped: f64,
}

impl Default for PacingConfig {
    fn default() -> Self {
        PacingConfig { after: 100, hold: std::time::Duration::from_secs(60), dropped: 0.0 }
    }
}

fn default_language() -> String {
    "en_US".into()
}

impl TemplateConfig {
    /// The declared type of body parameter `i` (`text` unless `param_types` says otherwise).
    pub fn param_type(&self, i: usize) -> &str {
        self.param_types.get(i).map_or("text", String::as_str)
    }
}

/// The `[simulator.media]` table.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// Seeded fraction (0..=1) of Cloud media messages sent by `link` (image, document, audio,
    /// video, sticker) whose link Meta cannot download: accepted, then `failed` with 131053 in a
    /// webhook. Media sent by id is never affected. Default 0 (model: Meta publishes no rate; a
    /// failing link is the sender's, not the API's).
    pub link_failure_fraction: f64,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig { link_failure_fraction: 0.0 }
    }
}

/// Check the templates and the media table.
pub(crate) fn validate(templates: &[TemplateConfig], media: &MediaConfig) -> Result<(), ConfigError> {
    let err = |s: String| Err(ConfigError(s));
    for (i, t) in templates.iter().enumerate() {
        if t.name.trim().is_empty() || t.language.trim().is_empty() {
            return err(format!("templates[{i}]: name and language must not be empty"));
        }
        if !t.param_types.is_empty() && t.param_types.len() != t.params as usize {
            return err(format!(
                "templates[{i}] ({}): param_types has {} entries for params = {}",
                t.name,
                t.param_types.len(),
                t.params
            ));
        }
        if templates[..i].iter().any(|o| o.name == t.name && o.language == t.language) {
            return err(format!("templates[{i}]: {} in {} is listed twice", t.name, t.language));
        }
        if let Some(p) = &t.pacing {
            if !(0.0..=1.0).contains(&p.dropped) {
                return err(format!("templates[{i}].pacing.dropped must be in 0..=1"));
            }
            if p.hold > std::time::Duration::from_secs(6 * 3600) {
                return err(format!("templates[{i}].pacing.hold must be at most 6h"));
            }
        }
    }
    if !(0.0..=1.0).contains(&media.link_failure_fraction) {
        return err("media.link_failure_fraction must be in 0..=1".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Doc {
        templates: Vec<TemplateConfig>,
        media: MediaConfig,
    }

    #[test]
    fn doc_example_parses_and_validates() {
        let text = crate::spec::doc_toml(include_str!("content.rs"), |_| true)
            .replace("[[simulator.", "[[")
            .replace("[simulator.", "[");
        let d: Doc = toml::from_str(&text).unwrap();
        validate(&d.templates, &d.media).unwrap();
        assert_eq!(d.templates.len(), 3);
        assert_eq!(d.templates[1].language, "en_US");
        assert_eq!(d.templates[1].category, TemplateCategory::Authentication);
        assert_eq!(d.templates[2].status, TemplateStatus::Paused);
        assert_eq!(d.templates[2].param_type(0), "currency");
        assert_eq!(d.templates[0].param_type(1), "text");
        assert_eq!(d.media.link_failure_fraction, 0.02);
    }

    #[test]
    fn bad_values_name_the_field() {
        let t = |params, types: &[&str]| TemplateConfig {
            name: "a".into(),
            language: "en".into(),
            params,
            param_types: types.iter().map(|s| s.to_string()).collect(),
            status: TemplateStatus::Approved,
            category: TemplateCategory::Marketing,
            pacing: None,
        };
        let m = MediaConfig::default();
        let mut paced = t(0, &[]);
        paced.pacing = Some(PacingConfig { dropped: 1.5, ..PacingConfig::default() });
        assert!(validate(&[paced], &m).unwrap_err().0.contains("pacing.dropped"));
        assert!(validate(&[t(2, &["text"])], &m).unwrap_err().0.contains("param_types"));
        assert!(validate(&[t(1, &[]), t(2, &[])], &m).unwrap_err().0.contains("twice"));
        assert!(validate(&[], &MediaConfig { link_failure_fraction: 2.0 }).unwrap_err().0.contains("link_failure"));
        assert!(toml::from_str::<TemplateConfig>("name = \"a\"\nstatus = \"gone\"").is_err());
        validate(&[t(1, &["currency"])], &m).unwrap();
    }
}

//! The profile's `[messages]` table (which kinds of message, by weight, and their content) and its
//! `[retry]` table (what to do with answers the API says may be retried).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::units::Dur;

/// Kinds of message the mix can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Text,
    Template,
    Image,
    Document,
    Interactive,
    Reaction,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Template => "template",
            Kind::Image => "image",
            Kind::Document => "document",
            Kind::Interactive => "interactive",
            Kind::Reaction => "reaction",
        }
    }
}

/// The `[messages]` table: which kinds of message to send, by weight, and their content.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MessagesSpec {
    /// Relative weights of each kind (0 = never). Default: text only.
    pub text: u32,
    pub template: u32,
    pub image: u32,
    pub document: u32,
    pub interactive: u32,
    pub reaction: u32,
    /// Body of text messages; `{n}` is replaced by the message number, and placeholders
    /// (`{{column}}` of the recipients file, `{{seq}}`, `{{uuid}}`, `{{now_unix}}`, `{{now_ms}}`) by
    /// their values.
    pub text_body: String,
    /// Template name, language code and the number of body parameters filled per message.
    pub template_name: String,
    pub template_language: String,
    pub template_params: u32,
    /// The category of the template (`marketing`, `utility` or `authentication`), for a target's
    /// `cost`: what each message is priced as. Unset: the category of the `[[simulator.templates]]`
    /// entry of that name, else marketing (the highest rate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_category: Option<super::sim::content::TemplateCategory>,
    /// The body parameters of each template message, as placeholder text: `["{{name}}", "Order
    /// {{order_id}}"]` takes `name` and `order_id` from the columns of the recipients file (the row
    /// of the message's recipient). When given, these are sent instead of `template_params`
    /// generated ones.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub template_body_params: Vec<String>,
    /// On-premises template namespace.
    pub template_namespace: String,
    /// Media sent by link (image/document), or by media id when `media_id` is set.
    pub media_link: String,
    pub media_id: Option<String>,
}

impl Default for MessagesSpec {
    fn default() -> Self {
        MessagesSpec {
            text: 1,
            template: 0,
            image: 0,
            document: 0,
            interactive: 0,
            reaction: 0,
            text_body: "wabench message {n}".into(),
            template_name: "order_update".into(),
            template_language: "en_US".into(),
            template_params: 2,
            template_category: None,
            template_body_params: Vec::new(),
            template_namespace: "wabench_namespace".into(),
            media_link: "https://example.com/media/sample.jpg".into(),
            media_id: None,
        }
    }
}

impl MessagesSpec {
    pub fn validate(&self) -> Result<(), (String, String)> {
        let total = self.weights().iter().map(|(_, w)| u64::from(*w)).sum::<u64>();
        if total == 0 {
            return Err(("messages".into(), "every weight is 0: give at least one kind a weight".into()));
        }
        if self.template > 0 && self.template_name.trim().is_empty() {
            return Err(("messages.template_name".into(), "must not be empty when templates are sent".into()));
        }
        if self.text > 0 && self.text_body.is_empty() {
            return Err(("messages.text_body".into(), "must not be empty".into()));
        }
        if self.text_body.chars().count() > 4096 {
            return Err(("messages.text_body".into(), "is longer than the API's 4096 characters".into()));
        }
        // The placeholders' names are checked against the recipients' columns at load.
        super::template::parse(&self.text_body).map_err(|e| ("messages.text_body".to_string(), e))?;
        for (i, p) in self.template_body_params.iter().enumerate() {
            super::template::parse(p).map_err(|e| (format!("messages.template_body_params[{i}]"), e))?;
        }
        Ok(())
    }

    /// The templated parts of these messages compiled against the recipients' columns; `file` names
    /// the recipients file. Errors are (field, reason).
    pub fn templates(
        &self,
        r: &super::recipients::Recipients,
        file: Option<&std::path::Path>,
    ) -> Result<super::template::MessageTemplates, (String, String)> {
        super::template::MessageTemplates::compile(&self.text_body, &self.template_body_params, r, file)
    }

    pub fn weights(&self) -> [(Kind, u32); 6] {
        use Kind::*;
        [
            (Text, self.text),
            (Template, self.template),
            (Image, self.image),
            (Document, self.document),
            (Interactive, self.interactive),
            (Reaction, self.reaction),
        ]
    }
}

/// The `[retry]` table: what to do with answers the API says may be retried. The wait per error code
/// (see `drivers::whatsapp::codes::retry_after`): 131056 `pair_backoff` × 4^X, 131057 `upgrade_wait`,
/// code 2 `unavailable_wait`, other throttling and transient errors `backoff` doubling up to
/// `max_backoff`. A retry never starts after the run's duration + drain.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySpec {
    /// Attempts per message including the first (1 = never retry). Default 6: five retries, whose
    /// 131056 waits (1 + 4 + 16 + 64 + 256 s = 341 s) outlast the longest pair-limit debt Meta allows
    /// (a burst of 45 at one message per 6 s = 270 s), so a message is not given up while its
    /// recipient is still paying back a burst.
    pub max_attempts: u32,
    /// First back-off for throttling and transient codes (130429, 4, 80007, 131000, 1, 1014, 1015,
    /// 1016, HTTP 429/500/502/503/504 without a code); doubles each attempt.
    pub backoff: Dur,
    /// Longest back-off.
    pub max_backoff: Dur,
    /// Pair rate limit (131056): the X-th retry (X = 0, 1, 2, …) waits this × 4^X. Meta: "retry after
    /// 4^X seconds", X starting at 0 and growing by one after each failure (Cloud API overview, pair
    /// rate limits, code 131056). Default 1s.
    pub pair_backoff: Dur,
    /// Throughput upgrade in progress (131057): wait this long. Meta: "the upgrade process itself can
    /// take up to 1 minute" (Cloud API throughput documentation, code 131057). Default 60s.
    pub upgrade_wait: Dur,
    /// Wait after error code 2 (service unavailable); Meta's advice is 5 minutes (seed document).
    pub unavailable_wait: Dur,
}

impl Default for RetrySpec {
    fn default() -> Self {
        RetrySpec {
            max_attempts: 6,
            backoff: Dur(Duration::from_millis(500)),
            max_backoff: Dur(Duration::from_secs(30)),
            pair_backoff: Dur(Duration::from_secs(1)),
            upgrade_wait: Dur(Duration::from_secs(60)),
            unavailable_wait: Dur(Duration::from_secs(300)),
        }
    }
}

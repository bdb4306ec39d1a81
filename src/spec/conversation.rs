//! The `[targets.conversation]` table of a `kind = "conversation"` target: a load test of a user's
//! WhatsApp bot. wabench posts signed inbound user messages (Meta `messages` webhooks) to the bot's
//! webhook URL (the target's `url`) at the load's rate, and serves the simulated Cloud API the bot
//! replies through on `graph_listen`; every reply is matched to the user turn it answers and timed.
//!
//! ```toml
//! [[targets]]
//! name = "bot"
//! kind = "conversation"
//! url = "http://127.0.0.1:8091/webhook"   # the bot's webhook endpoint
//! [targets.conversation]
//! texts = ["hi", "menu"]                 # what the users write: message n is texts[n mod len]
//! reply_timeout = "10s"                  # a turn without a reply by then is unanswered
//! graph_listen = "127.0.0.1:18080"       # the Cloud API the bot sends through (port 0: any)
//! [targets.conversation.bot]             # optional: wabench starts the bot and stops it after
//! command = ["python3", "bot.py"]
//! ready_timeout = "30s"
//! ```
//!
//! A bot wabench starts gets, in its environment: `WABENCH_BOT_LISTEN` (the `host:port` of `url`),
//! `WABENCH_WEBHOOK_PATH`, `WABENCH_GRAPH_URL` (the simulated Graph API, e.g.
//! `http://127.0.0.1:18080`), `WABENCH_API_VERSION`, `WABENCH_ACCESS_TOKEN`, `WABENCH_APP_SECRET`,
//! `WABENCH_VERIFY_TOKEN` and `WABENCH_PHONE_NUMBER_ID`. Secrets named by `app_secret_env` /
//! `verify_token_env` that are not set are made up for the run when wabench starts the bot.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Dur;

/// The `[targets.conversation]` table.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ConversationSpec {
    /// What the users write: user message `n` of the run is `texts[n mod len]` (default `["hi"]`).
    pub texts: Vec<String>,
    /// How long a user's message waits for the bot's reply before it counts as unanswered.
    pub reply_timeout: Dur,
    /// Where the simulated Cloud API the bot sends its replies through listens: a loopback
    /// `host:port`; port 0 takes any free port (a bot wabench starts is told which).
    pub graph_listen: String,
    /// Environment variable holding the app secret the webhooks are signed with …
    pub app_secret_env: Option<String>,
    /// … or a file holding it (relative to the profile's folder); takes precedence.
    pub app_secret_file: Option<PathBuf>,
    /// Environment variable holding the verify token of the subscription handshake.
    pub verify_token_env: Option<String>,
    /// Check the subscription handshake (`GET ?hub.mode=subscribe…`) before the load.
    pub handshake: bool,
    /// The WhatsApp Business Account id in `entry[].id`.
    pub waba_id: String,
    /// The business number's id: in `metadata.phone_number_id`, and the one the bot sends from.
    pub phone_number_id: String,
    pub display_phone_number: String,
    /// Start the bot for the run (optional).
    pub bot: Option<BotSpec>,
}

impl Default for ConversationSpec {
    fn default() -> Self {
        ConversationSpec {
            texts: vec!["hi".into()],
            reply_timeout: Dur(std::time::Duration::from_secs(10)),
            graph_listen: "127.0.0.1:0".into(),
            app_secret_env: Some(super::webhook::DEFAULT_APP_SECRET_ENV.to_owned()),
            app_secret_file: None,
            verify_token_env: Some(super::webhook::DEFAULT_VERIFY_TOKEN_ENV.to_owned()),
            handshake: true,
            waba_id: "102290129340398".into(),
            phone_number_id: "106540352242922".into(),
            display_phone_number: "15550783881".into(),
            bot: None,
        }
    }
}

/// `[targets.conversation.bot]`: the bot under test, started by wabench.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BotSpec {
    /// The program and its arguments (no shell), run in the profile's folder.
    pub command: Vec<String>,
    /// How long the bot may take to listen on the `url`'s port.
    pub ready_timeout: Dur,
}

impl Default for BotSpec {
    fn default() -> Self {
        BotSpec { command: Vec::new(), ready_timeout: Dur(std::time::Duration::from_secs(30)) }
    }
}

/// Longest user message (Meta's text limit).
pub const MAX_TEXT: usize = 4096;

impl ConversationSpec {
    /// Checks; errors name the field below `targets[i].conversation.` and the reason.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |f: &str, r: String| Err((f.to_string(), r));
        if self.texts.is_empty() {
            return bad("texts", "must list at least one message".into());
        }
        if let Some((i, t)) =
            self.texts.iter().enumerate().find(|(_, t)| t.trim().is_empty() || t.chars().count() > MAX_TEXT)
        {
            return bad(
                &format!("texts[{i}]"),
                format!("must be 1 to {MAX_TEXT} characters and not blank, got {} characters", t.chars().count()),
            );
        }
        if self.reply_timeout.0.is_zero() {
            return bad("reply_timeout", "must be more than 0".into());
        }
        match self.graph_listen.parse::<std::net::SocketAddr>() {
            Ok(a) if a.ip().is_loopback() => {}
            Ok(a) => {
                return bad(
                    "graph_listen",
                    format!("{a} is not a loopback address: the simulated API serves only this machine"),
                );
            }
            Err(_) => {
                return bad("graph_listen", format!("{:?} is not a host:port address", self.graph_listen));
            }
        }
        for (f, v) in [("phone_number_id", &self.phone_number_id), ("display_phone_number", &self.display_phone_number)]
        {
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return bad(f, format!("must be digits, got {v:?}"));
            }
        }
        if let Some(b) = &self.bot {
            if b.command.first().is_none_or(|c| c.trim().is_empty()) {
                return bad("bot.command", "must name the program to start (a list: program, then arguments)".into());
            }
            if b.ready_timeout.0.is_zero() {
                return bad("bot.ready_timeout", "must be more than 0".into());
            }
        }
        Ok(())
    }

    /// The text of user message `n`.
    pub fn text(&self, n: u64) -> &str {
        self.texts.get((n % self.texts.len().max(1) as u64) as usize).map_or("hi", String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_each_rule_names_its_field() {
        assert_eq!(ConversationSpec::default().validate(), Ok(()));
        let field = |f: fn(&mut ConversationSpec)| {
            let mut s = ConversationSpec::default();
            f(&mut s);
            s.validate().unwrap_err().0
        };
        assert_eq!(field(|s| s.texts.clear()), "texts");
        assert_eq!(field(|s| s.texts = vec!["ok".into(), " ".into()]), "texts[1]");
        assert_eq!(field(|s| s.reply_timeout = Dur(std::time::Duration::ZERO)), "reply_timeout");
        assert_eq!(field(|s| s.graph_listen = "0.0.0.0:80".into()), "graph_listen");
        assert_eq!(field(|s| s.graph_listen = "localhost".into()), "graph_listen");
        assert_eq!(field(|s| s.phone_number_id = "12a".into()), "phone_number_id");
        assert_eq!(field(|s| s.bot = Some(BotSpec::default())), "bot.command");
    }

    #[test]
    fn texts_go_round() {
        let s = ConversationSpec { texts: vec!["a".into(), "b".into()], ..Default::default() };
        assert_eq!([s.text(0), s.text(1), s.text(2)], ["a", "b", "a"]);
    }
}

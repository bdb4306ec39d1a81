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
//! graph_proxy = "127.0.0.1:0"            # optional: also as https://graph.facebook.com via a proxy
//! [targets.conversation.bot]             # optional: wabench starts the bot and stops it after
//! command = ["python3", "bot.py"]
//! ready_timeout = "30s"
//! ```
//!
//! Instead of one message per conversation (`texts`), a script of turns: the first turn is sent at the
//! load's rate, each next one `think` after the bot's first reply to the one before, and a turn may
//! check the bot's replies (`expect`) or answer its last interactive message (`choose`):
//!
//! ```toml
//! [[targets.conversation.turns]]
//! text = "menu"
//! expect = { type = "interactive" }
//! [[targets.conversation.turns]]
//! choose = "Orders"                      # a button or list row, by id or title; "random": any
//! think = "2s"
//! expect = { contains = "orders" }
//! ```
//!
//! A bot wabench starts gets, in its environment: `WABENCH_BOT_LISTEN` (the `host:port` of `url`),
//! `WABENCH_WEBHOOK_PATH`, `WABENCH_GRAPH_URL` (the simulated Graph API, e.g.
//! `http://127.0.0.1:18080`), `WABENCH_API_VERSION`, `WABENCH_ACCESS_TOKEN`, `WABENCH_APP_SECRET`,
//! `WABENCH_VERIFY_TOKEN` and `WABENCH_PHONE_NUMBER_ID`. Secrets named by `app_secret_env` /
//! `verify_token_env` that are not set are made up for the run when wabench starts the bot. With
//! `graph_proxy`, `WABENCH_GRAPH_URL` is `https://graph.facebook.com` and the bot also gets
//! `HTTPS_PROXY` (the proxy) and the run's CA certificate (`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`,
//! `NODE_EXTRA_CA_CERTS`, `WABENCH_GRAPH_CA`).

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
    /// Also serve the simulated Cloud API as `https://graph.facebook.com` behind an HTTPS (CONNECT)
    /// proxy listening here (a loopback `host:port`; port 0: any), with a certificate authority made
    /// for the run: for a bot that cannot change its Graph API address. A bot wabench starts gets
    /// `HTTPS_PROXY` and the CA (`SSL_CERT_FILE`, …); anything else asked of the proxy is refused.
    pub graph_proxy: Option<String>,
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
    /// A script: every conversation is these turns, in order (then `texts` is not used).
    pub turns: Vec<TurnSpec>,
}

/// One user turn of a scripted conversation.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TurnSpec {
    /// What the user writes …
    pub text: Option<String>,
    /// … or the button or list row of the bot's last interactive message the user picks: its id or
    /// its title, or "random".
    pub choose: Option<String>,
    /// How long the user waits after the bot's first reply to the turn before (not the first turn).
    pub think: Dur,
    /// What the bot's replies to this turn must show (counted as unmet per turn when none does).
    pub expect: Option<Expect>,
}

impl Default for TurnSpec {
    fn default() -> Self {
        TurnSpec { text: None, choose: None, think: Dur(std::time::Duration::from_secs(1)), expect: None }
    }
}

/// What a turn expects of the bot's replies: one of them must meet every rule given.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Expect {
    /// The reply's message type: "text", "interactive", "image", "template", …
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Text the reply holds (a text body, or an interactive message's body, header, footer, buttons
    /// or rows), compared without regard to case.
    pub contains: Option<String>,
    /// The kind of interactive message: "button" or "list".
    pub interactive: Option<String>,
    /// A regular expression the reply's text must match (the same text as `contains`; `(?i)` makes
    /// it ignore case).
    pub matches: Option<String>,
}

impl TurnSpec {
    /// How the turn reads in results: its text, or what it chooses.
    pub fn label(&self) -> String {
        match (&self.text, &self.choose) {
            (Some(t), _) => format!("{t:?}"),
            (None, Some(c)) => format!("choose {c:?}"),
            (None, None) => String::new(),
        }
    }
}

impl Expect {
    /// `matches`, compiled (`None` when not given).
    pub fn pattern(&self) -> Result<Option<regex::Regex>, String> {
        self.matches
            .as_deref()
            .map(|m| regex::RegexBuilder::new(m).size_limit(1 << 20).build().map_err(|e| e.to_string()))
            .transpose()
    }

    fn validate(&self, at: &str) -> Result<(), (String, String)> {
        if self.kind.is_none() && self.contains.is_none() && self.interactive.is_none() && self.matches.is_none() {
            return Err((at.into(), "names nothing: give type, contains, matches or interactive".into()));
        }
        if let Some(m) = &self.matches {
            self.pattern().map_err(|e| (format!("{at}.matches"), format!("{m:?} is not a regular expression: {e}")))?;
        }
        if let Some(i) = &self.interactive
            && i != "button"
            && i != "list"
        {
            return Err((format!("{at}.interactive"), format!("{i:?}: must be \"button\" or \"list\"")));
        }
        if self.contains.as_deref().is_some_and(|c| c.trim().is_empty()) {
            return Err((format!("{at}.contains"), "must not be blank".into()));
        }
        Ok(())
    }
}

impl Default for ConversationSpec {
    fn default() -> Self {
        ConversationSpec {
            texts: vec!["hi".into()],
            reply_timeout: Dur(std::time::Duration::from_secs(10)),
            graph_listen: "127.0.0.1:0".into(),
            graph_proxy: None,
            app_secret_env: Some(super::webhook::DEFAULT_APP_SECRET_ENV.to_owned()),
            app_secret_file: None,
            verify_token_env: Some(super::webhook::DEFAULT_VERIFY_TOKEN_ENV.to_owned()),
            handshake: true,
            waba_id: "102290129340398".into(),
            phone_number_id: "106540352242922".into(),
            display_phone_number: "15550783881".into(),
            bot: None,
            turns: Vec::new(),
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

/// Most turns in a script (each is a tag in the replies log and a row in the results).
pub const MAX_TURNS: usize = 64;

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
        let listen = loopback("graph_listen", &self.graph_listen, "the simulated API serves only this machine")?;
        if let Some(p) = &self.graph_proxy {
            let proxy = loopback("graph_proxy", p, "the proxy serves only this machine")?;
            if proxy.port() != 0 && proxy == listen {
                return bad("graph_proxy", format!("{proxy} is graph_listen's address: give the proxy its own port"));
            }
        }
        for (f, v) in [("phone_number_id", &self.phone_number_id), ("display_phone_number", &self.display_phone_number)]
        {
            if !super::numbers::is_phone_number_id(v) {
                return bad(f, format!("must be digits, got {v:?}"));
            }
        }
        self.validate_turns()?;
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

    /// The script's rules: a first turn that writes, one of `text` / `choose` per turn, a sane think
    /// time, expectations that name something.
    fn validate_turns(&self) -> Result<(), (String, String)> {
        let bad = |f: String, r: &str| Err((f, r.to_string()));
        if self.turns.is_empty() {
            return Ok(());
        }
        if self.texts != ConversationSpec::default().texts {
            return bad(
                "texts".into(),
                "give either texts (one message per conversation) or turns (a script), not both",
            );
        }
        if self.turns.len() > MAX_TURNS {
            return Err(("turns".into(), format!("at most {MAX_TURNS} turns, got {}", self.turns.len())));
        }
        for (i, t) in self.turns.iter().enumerate() {
            let at = format!("turns[{i}]");
            match (&t.text, &t.choose) {
                (Some(_), Some(_)) => return bad(at, "give either text or choose, not both"),
                (None, None) => return bad(at, "give text (what the user writes) or choose (a button or row to pick)"),
                (None, Some(_)) if i == 0 => {
                    return bad(
                        format!("{at}.choose"),
                        "the first turn writes (text): there is no reply to choose from yet",
                    );
                }
                (Some(text), None) if text.trim().is_empty() || text.chars().count() > MAX_TEXT => {
                    return bad(format!("{at}.text"), "must be 1 to 4096 characters and not blank");
                }
                (None, Some(c)) if c.trim().is_empty() => return bad(format!("{at}.choose"), "must not be blank"),
                _ => {}
            }
            if t.think.0 > std::time::Duration::from_secs(3600) {
                return bad(format!("{at}.think"), "must be at most 1h");
            }
            if let Some(e) = &t.expect {
                e.validate(&format!("{at}.expect"))?;
            }
        }
        Ok(())
    }

    /// The turns of a conversation: the script, or one turn writing `texts[n mod len]`.
    pub fn script(&self, n: u64) -> std::borrow::Cow<'_, [TurnSpec]> {
        if self.turns.is_empty() {
            let t = TurnSpec { text: Some(self.text(n).to_string()), ..TurnSpec::default() };
            std::borrow::Cow::Owned(vec![t])
        } else {
            std::borrow::Cow::Borrowed(&self.turns)
        }
    }

    /// The text of user message `n`.
    pub fn text(&self, n: u64) -> &str {
        self.texts.get((n % self.texts.len().max(1) as u64) as usize).map_or("hi", String::as_str)
    }
}

/// A loopback `host:port` of field `f`, or the field and the reason it is not.
fn loopback(f: &str, v: &str, why: &str) -> Result<std::net::SocketAddr, (String, String)> {
    match v.parse::<std::net::SocketAddr>() {
        Ok(a) if a.ip().is_loopback() => Ok(a),
        Ok(a) => Err((f.into(), format!("{a} is not a loopback address: {why}"))),
        Err(_) => Err((f.into(), format!("{v:?} is not a host:port address"))),
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
        assert_eq!(field(|s| s.graph_proxy = Some("0.0.0.0:8443".into())), "graph_proxy");
        assert_eq!(field(|s| s.graph_proxy = Some("graph.facebook.com:443".into())), "graph_proxy");
        let same = |s: &mut ConversationSpec| {
            s.graph_listen = "127.0.0.1:18080".into();
            s.graph_proxy = Some("127.0.0.1:18080".into());
        };
        assert_eq!(field(same), "graph_proxy");
        let on = ConversationSpec { graph_proxy: Some("127.0.0.1:0".into()), ..Default::default() };
        assert_eq!(on.validate(), Ok(()));
        assert_eq!(field(|s| s.bot = Some(BotSpec::default())), "bot.command");
    }

    #[test]
    fn scripts_are_checked_turn_by_turn() {
        let turn = |text: Option<&str>, choose: Option<&str>| TurnSpec {
            text: text.map(String::from),
            choose: choose.map(String::from),
            ..Default::default()
        };
        let field = |turns: Vec<TurnSpec>| ConversationSpec { turns, ..Default::default() }.validate().map_err(|e| e.0);
        assert_eq!(field(vec![turn(Some("menu"), None), turn(None, Some("Orders"))]), Ok(()));
        assert_eq!(field(vec![turn(None, Some("Orders"))]).unwrap_err(), "turns[0].choose");
        assert_eq!(field(vec![turn(Some("a"), Some("b"))]).unwrap_err(), "turns[0]");
        assert_eq!(field(vec![turn(Some("a"), None), turn(None, None)]).unwrap_err(), "turns[1]");
        let mut e = turn(Some("a"), None);
        e.expect = Some(Expect::default());
        assert_eq!(field(vec![e.clone()]).unwrap_err(), "turns[0].expect");
        e.expect = Some(Expect { interactive: Some("carousel".into()), ..Default::default() });
        assert_eq!(field(vec![e.clone()]).unwrap_err(), "turns[0].expect.interactive");
        e.expect = Some(Expect { matches: Some("orders (".into()), ..Default::default() });
        assert_eq!(field(vec![e]).unwrap_err(), "turns[0].expect.matches");
        let both =
            ConversationSpec { texts: vec!["x".into()], turns: vec![turn(Some("a"), None)], ..Default::default() };
        assert_eq!(both.validate().unwrap_err().0, "texts");
    }

    #[test]
    fn texts_go_round() {
        let s = ConversationSpec { texts: vec!["a".into(), "b".into()], ..Default::default() };
        assert_eq!([s.text(0), s.text(1), s.text(2)], ["a", "b", "a"]);
    }
}

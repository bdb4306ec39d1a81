//! A conversation target's surroundings: the simulated Cloud API the bot replies through (on
//! `graph_listen`, posting the status webhooks of the bot's replies back to the bot, signed), the
//! tracker the simulator tells of every send, the secrets the run and the bot share, and the bot
//! itself when the profile asks wabench to start it.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::background::Embedded;
use super::graph_proxy::RunProxy;
use crate::drivers::conversation::Wiring;
use crate::drivers::webhook::HookSecrets;
use crate::results::conversation::ConversationStats;
use crate::spec::conversation::{BotSpec, ConversationSpec};
use crate::spec::endpoint::Endpoint;
use crate::spec::{Loaded, TargetSpec};
use crate::units::Shutdown;
use crate::webhook::conversation::ConversationTracker;

/// How often the replies still due are looked for while the run waits for them.
const POLL: Duration = Duration::from_millis(20);

/// The parts of a running conversation target that outlive its set-up.
pub struct Conversation {
    pub tracker: Arc<ConversationTracker>,
    /// The token a target beside this one sends with (when the profile has one).
    pub beside_token: Option<String>,
    bot: Option<Bot>,
    /// The proxy serving the simulator as `graph.facebook.com` (`graph_proxy`).
    proxy: Option<RunProxy>,
    /// The longest a conversation started last can still take: every turn's reply timeout and every
    /// next turn's think time.
    longest_rest: Duration,
}

/// What a conversation target leaves: its figures and time-to-first-reply histograms.
pub struct Finished {
    pub stats: ConversationStats,
    pub all: hdrhistogram::Histogram<u64>,
    pub per_turn: Vec<hdrhistogram::Histogram<u64>>,
    /// The `graph_proxy`'s counters (`extra.graph_proxy`).
    pub graph_proxy: Option<serde_json::Value>,
}

/// What the bot is told: where to listen, where the Cloud API is, and the run's secrets.
struct BotEnv {
    listen: String,
    path: String,
    graph_url: String,
    token: String,
    secrets: HookSecrets,
    phone_number_id: String,
    /// The proxy and the CA to trust, with `graph_proxy`.
    proxied: Vec<(&'static str, String)>,
}

/// A random secret for the run (hex), never written anywhere.
fn made_up() -> String {
    let b: [u8; 24] = rand::random();
    hex::encode(b)
}

/// The run's app secret and verify token: from the file or environment the table names; made up for
/// the run when wabench starts the bot (it is told them) and nothing is named or set.
fn secrets(c: &ConversationSpec, base: &Path, started: bool) -> Result<HookSecrets, String> {
    let from_env = |var: &Option<String>| var.as_deref().and_then(|v| std::env::var(v).ok()).filter(|v| !v.is_empty());
    let app_secret = match &c.app_secret_file {
        Some(f) => {
            let path = base.join(f);
            let raw =
                std::fs::read(&path).map_err(|e| format!("conversation.app_secret_file {}: {e}", path.display()))?;
            Some(raw.trim_ascii().to_vec()).filter(|s| !s.is_empty())
        }
        None => from_env(&c.app_secret_env).map(String::into_bytes),
    };
    let app_secret = match (app_secret, started) {
        (Some(s), _) => s,
        (None, true) => made_up().into_bytes(),
        (None, false) => {
            return Err(format!(
                "conversation.app_secret_env: the environment variable {} is not set (the bot checks the webhooks' \
                 signatures with it; or let wabench start the bot: [targets.conversation.bot])",
                c.app_secret_env.as_deref().unwrap_or("(none named)")
            ));
        }
    };
    let verify_token = match (from_env(&c.verify_token_env), started, c.handshake) {
        (Some(t), _, _) => Some(t),
        (None, true, _) => Some(made_up()),
        (None, false, false) => None,
        (None, false, true) => {
            return Err(format!(
                "conversation.verify_token_env: the environment variable {} is not set (the subscription handshake \
                 needs it; or conversation.handshake = false)",
                c.verify_token_env.as_deref().unwrap_or("(none named)")
            ));
        }
    };
    Ok(HookSecrets { app_secret: Some(app_secret), verify_token })
}

impl Conversation {
    /// Start the simulated Cloud API for target `spec` on its `graph_listen`, wire it to a tracker,
    /// and start the bot when asked (waiting until it listens and, when asked, answers the
    /// subscription handshake). `log_dir` keeps the bot's output.
    pub fn start(
        loaded: &Loaded,
        spec: &TargetSpec,
        numbering: (u64, u64),
        log_dir: Option<&Path>,
        timeout: Duration,
    ) -> Result<(Conversation, Embedded, Wiring), String> {
        let p = &loaded.profile;
        let c = spec.conversation_spec();
        // The profile's folder ("." for a profile named without one: an empty path is no folder).
        let base = loaded.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let secrets = secrets(&c, base, c.bot.is_some())?;
        let url = spec.url.as_deref().ok_or("url (the bot's webhook endpoint) is required")?;
        let mut cfg = super::sim_config_for(p, spec);
        // A user who writes to the bot is online, and their window opens as they write: unless the
        // profile sets its own `[simulator.recipients]` rules, none of the bot's users is made
        // undeliverable or kept out of their window by the default number endings.
        if cfg.recipients == crate::spec::sim::RecipientRules::default() {
            cfg.recipients.undeliverable_suffixes.clear();
            cfg.recipients.reengagement_suffixes.clear();
        }
        // The bot's replies get their status webhooks, signed as Meta signs them.
        cfg.webhooks.callback_url = Some(url.to_string());
        cfg.webhooks.app_secret = secrets.app_secret.clone();
        cfg.webhooks.phone_number_id = Some(c.phone_number_id.clone());
        let token = made_up();
        if c.bot.is_some() {
            cfg.cloud.tokens.push(token.clone());
        }
        // A target beside this one sends with a token of its own: its sends are not the bot's replies.
        let beside_token = p.targets.iter().any(|t| t.beside.as_ref() == Some(&spec.name)).then(made_up);
        if let Some(t) = &beside_token {
            cfg.cloud.tokens.push(t.clone());
        }
        let not_replies = beside_token.as_deref().map(crate::sim::caller_of);
        let listen: SocketAddr = c
            .graph_listen
            .parse()
            .map_err(|_| format!("conversation.graph_listen {:?}: not host:port", c.graph_listen))?;
        let sim = Embedded::start_at(cfg, numbering, listen)
            .map_err(|e| format!("conversation.graph_listen {listen}: {e}"))?;
        let proxy = c.graph_proxy.as_deref();
        let proxy = proxy.map(|l| RunProxy::start(l, &sim.url, log_dir, &spec.name, c.bot.is_none())).transpose()?;
        let tracker = Arc::new(ConversationTracker::scripted(c.reply_timeout.0, c.script(0).into_owned()));
        let t = tracker.clone();
        sim.sim().observe_sends(Arc::new(move |s: crate::sim::SendSeen| {
            if Some(s.caller) != not_replies {
                t.reply(&s.to, s.context.as_deref(), s.at, s.error, &s.message);
            }
        }));
        let (for_users, for_ids) = (sim.sim().clone(), sim.sim().clone());
        let wiring = Wiring {
            tracker: tracker.clone(),
            user_wrote: Arc::new(move |from: &str| for_users.user_wrote(from)),
            identity: Arc::new(move |user: &str| for_ids.identity_of(user)),
            secrets: secrets.clone(),
            shard: numbering,
        };
        let bot = match &c.bot {
            Some(b) => {
                let ep = Endpoint::parse(url)?;
                let env = BotEnv {
                    listen: format!("{}:{}", ep.host, ep.port),
                    path: ep.path_and_query.split('?').next().unwrap_or("/").to_string(),
                    graph_url: proxy.as_ref().map_or_else(|| sim.url.clone(), |_| RunProxy::graph_url()),
                    token,
                    secrets: secrets.clone(),
                    phone_number_id: c.phone_number_id.clone(),
                    proxied: proxy.as_ref().map(RunProxy::bot_env).unwrap_or_default(),
                };
                let log = log_dir.map(|d| d.join(crate::results::files::bot_log_name(&spec.name)));
                Some(Bot::start(b, &env, base, log, &ep)?)
            }
            None => None,
        };
        if c.handshake
            && let Some(token) = &secrets.verify_token
        {
            let held = crate::units::redact::Secrets::new()
                .with(token)
                .with(&String::from_utf8_lossy(secrets.app_secret.as_deref().unwrap_or_default()));
            let net = crate::spec::net::Net::shared_direct();
            crate::drivers::webhook::handshake(url, token, p.seed, &net, timeout, &held)?;
        }
        let script = c.script(0);
        let longest_rest =
            script.iter().skip(1).map(|t| t.think.0).sum::<Duration>() + c.reply_timeout.0 * script.len() as u32;
        Ok((Conversation { tracker, beside_token, bot, proxy, longest_rest }, sim, wiring))
    }

    /// Let the conversations under way end: wait for the replies still due and the turns still to
    /// come (at most each remaining turn's `think` and `reply_timeout`), then stop the bot and give
    /// the figures and the time-to-first-reply histograms (all turns, then per turn of a script).
    pub fn finish(self, stop: &Shutdown) -> Finished {
        let end = Instant::now() + self.longest_rest;
        while Instant::now() < end && self.tracker.waiting(Instant::now()) && !stop.wait_timeout(POLL) {}
        self.tracker.close();
        if let Some(b) = self.bot {
            b.stop();
        }
        let graph_proxy = self.proxy.map(RunProxy::finish);
        let (stats, all, per_turn) = self.tracker.stats();
        Finished { stats, all, per_turn, graph_proxy }
    }
}

/// The bot under test, started for the run.
struct Bot {
    child: Child,
}

impl Bot {
    /// Start `spec.command` in `dir` with the run's settings in its environment, its output to `log`,
    /// and wait until it listens on `ep`'s port.
    fn start(spec: &BotSpec, env: &BotEnv, dir: &Path, log: Option<PathBuf>, ep: &Endpoint) -> Result<Bot, String> {
        let program = &spec.command[0];
        let mut cmd = Command::new(program);
        cmd.args(&spec.command[1..])
            .current_dir(dir)
            .stdin(Stdio::null())
            .env("WABENCH_BOT_LISTEN", &env.listen)
            .env("WABENCH_WEBHOOK_PATH", &env.path)
            .env("WABENCH_GRAPH_URL", &env.graph_url)
            .env("WABENCH_API_VERSION", "v23.0")
            .env("WABENCH_ACCESS_TOKEN", &env.token)
            .env("WABENCH_PHONE_NUMBER_ID", &env.phone_number_id)
            .envs(env.proxied.iter().cloned());
        if let Some(s) = &env.secrets.app_secret {
            cmd.env("WABENCH_APP_SECRET", String::from_utf8_lossy(s).as_ref());
        }
        if let Some(t) = &env.secrets.verify_token {
            cmd.env("WABENCH_VERIFY_TOKEN", t);
        }
        match &log {
            Some(path) => {
                let f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
                let g = f.try_clone().map_err(|e| format!("{}: {e}", path.display()))?;
                cmd.stdout(f).stderr(g);
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        let child = cmd.spawn().map_err(|e| format!("conversation.bot.command: cannot start {program:?}: {e}"))?;
        let mut bot = Bot { child };
        let deadline = Instant::now() + spec.ready_timeout.0;
        let addr = format!("{}:{}", ep.host, ep.port);
        loop {
            if let Ok(Some(status)) = bot.child.try_wait() {
                let shown = log.as_ref().map(|l| format!(" (its output: {})", l.display())).unwrap_or_default();
                return Err(format!("conversation.bot.command: {program:?} ended before listening: {status}{shown}"));
            }
            if listening(&addr) {
                return Ok(bot);
            }
            if Instant::now() >= deadline {
                bot.stop();
                return Err(format!(
                    "conversation.bot.command: {program:?} did not listen on {addr} within {} (bot.ready_timeout)",
                    spec.ready_timeout
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ask the bot to stop (SIGTERM), give it a few seconds, then kill it.
    fn stop(mut self) {
        // SIGTERM through the `kill` program (the crate has no signal bindings); a bot that does not
        // end on it is killed below.
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether something accepts connections on `addr` (host:port).
fn listening(addr: &str) -> bool {
    use std::net::ToSocketAddrs;
    addr.to_socket_addrs()
        .into_iter()
        .flatten()
        .any(|a| TcpStream::connect_timeout(&a, Duration::from_millis(200)).is_ok())
}

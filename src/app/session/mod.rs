//! One target set up for measuring and torn down after: its embedded simulator (for
//! `base_url = "embedded"`), its status-webhook receiver (with `[webhooks]`, and by default for an
//! embedded WhatsApp target), the driver and the
//! resolved address. `run` and the capacity planner both go through here, so they cannot drift.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use crate::app::AppError;
use background::{Embedded, Hooks};
use forward::Forward;

pub(crate) mod background;
pub(crate) mod conversation;
pub(crate) mod forward;
pub(crate) mod graph_proxy;
use crate::drivers::{self, BuildCtx};
use crate::engine::target::Target;
use crate::results::DeliveryStats;
use crate::results::failure_log::FailureLog;
use crate::spec::messages::RetrySpec;
use crate::spec::sim::{Flavor, SimConfig};
use crate::spec::webhook::WebhookConfig;
use crate::spec::webhook_target::HookFlavor;
use crate::spec::{Loaded, Profile, TargetKind, TargetSpec};
use crate::units::Shutdown;

/// What may differ between the users of a session.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// Replace the profile's `[retry]` table (the planner sends each message once).
    pub retry: Option<RetrySpec>,
    /// The part of a sharded run this is: the embedded simulator numbers its requests as the shard's
    /// share of the whole run (i, i+N, …), so message ids stay unique across shards.
    pub shard: crate::results::Shard,
    /// The results folder, where a target forwarding its webhooks (`[webhooks] receiver_url`)
    /// writes its sends.
    pub dir: Option<std::path::PathBuf>,
    /// Track the delivery of an embedded WhatsApp target without a `[webhooks]` table (its simulator
    /// posts to a receiver of the run). `run` does; the capacity planner's steps do not.
    pub delivery_by_default: bool,
    /// An embedded target `beside` a conversation target: the URL of that target's simulator, which
    /// this one sends through instead of one of its own (its status webhooks go where that simulator
    /// posts them, to the bot: delivery is not tracked here).
    pub shared_sim: Option<Shared>,
}

/// The simulator of a conversation target, shared with the target beside it: where it listens, and
/// the token the target beside sends with (the bot's replies are told apart from its sends by it).
#[derive(Debug, Clone)]
pub struct Shared {
    pub url: String,
    pub token: String,
}

/// A target ready to be driven.
pub struct Session {
    pub target: Arc<dyn Target>,
    pub addr: SocketAddr,
    /// The URL stored in results: the endpoint's, or "embedded".
    pub url: String,
    hooks: Option<Hooks>,
    forward: Option<Forward>,
    sim: Option<Embedded>,
    /// A webhook target: its receiver's counters are kept, its tracker's delivery accounts are not
    /// (nothing was sent through an API to correlate).
    webhook_target: bool,
    /// A WhatsApp target's failed messages (at send and in webhooks) and error samples.
    failures: Option<Arc<FailureLog>>,
    /// A conversation target's tracker and bot.
    conversation: Option<conversation::Conversation>,
}

/// What a session leaves when it ends.
pub struct Teardown {
    /// Status-webhook delivery accounting, when delivery was tracked.
    pub delivery: Option<DeliveryStats>,
    /// The target's own counters, the simulator's and the receiver's (`extra` in run.json).
    pub extra: Option<serde_json::Value>,
    /// What went wrong ending it (the sends file of a forwarding target could not be written).
    pub error: Option<String>,
    /// A WhatsApp target's failed messages and one error body per code.
    pub failures: Option<Arc<FailureLog>>,
    /// A conversation target's figures and its time-to-first-reply histograms.
    pub conversation: Option<conversation::Finished>,
}

impl Session {
    /// Set target `index` of the profile up. Everything started is stopped again on error.
    pub fn start(
        loaded: &Loaded,
        index: usize,
        setup: &Setup,
        rt: &tokio::runtime::Runtime,
    ) -> Result<Session, AppError> {
        let p = &loaded.profile;
        let spec = &p.targets[index];
        let in_profile = |e: String| format!("{}: target {:?}: {e}", loaded.path.display(), spec.name);
        let (forward, hooks) = receivers(loaded, spec, setup)?;
        let timeout = crate::engine::Plan::from_spec(&p.load).timeout;
        let (sim, conversation) = if spec.kind == TargetKind::Conversation {
            let numbering = (u64::from(setup.shard.index), u64::from(setup.shard.count));
            let (c, sim, wiring) =
                conversation::Conversation::start(loaded, spec, numbering, setup.dir.as_deref(), timeout)
                    .map_err(in_profile)?;
            (Some(sim), Some((c, wiring)))
        } else if spec.is_embedded() && setup.shared_sim.is_none() {
            (Some(start_simulator(loaded, spec, setup, hooks.as_ref(), forward.as_ref())?), None)
        } else {
            (None, None)
        };
        let (conversation, wiring) = conversation.unzip();
        let failures = spec.kind.is_whatsapp_api().then(|| Arc::new(FailureLog::default()));
        if let (Some(h), Some(log)) = (&hooks, &failures) {
            h.tracker.log_failures(log.clone());
        }
        let ctx = BuildCtx {
            base_dir: loaded.path.parent().unwrap_or(Path::new(".")),
            seed: p.seed,
            messages: &p.messages,
            recipients: loaded.recipients.clone(),
            retry: setup.retry.as_ref().unwrap_or(&p.retry),
            body: loaded.bodies.get(index).and_then(|b| b.as_deref()),
            feeder: loaded.feeders.get(index).cloned().flatten(),
            embedded: sim
                .as_ref()
                .map(|s| s.url.clone())
                .or_else(|| setup.shared_sim.as_ref().filter(|_| spec.is_embedded()).map(|s| s.url.clone()))
                .map(|url| (url, &p.simulator)),
            tracker: hooks
                .as_ref()
                .filter(|_| spec.kind.is_whatsapp_api())
                .map(|h| h.tracker.clone())
                .or_else(|| forward.as_ref().and_then(|f| f.tracker.clone())),
            embedded_receiver: hooks.as_ref().filter(|_| spec.is_embedded_receiver()).map(|h| {
                let secrets = drivers::webhook::HookSecrets {
                    app_secret: h.secret.clone(),
                    verify_token: h.verify_token().map(str::to_string),
                };
                (h.url.clone(), secrets)
            }),
            peak_rate: p.load.peak_rate(),
            timeout,
            failures: failures.clone(),
            conversation: wiring,
            token: setup.shared_sim.as_ref().map(|s| s.token.clone()),
        };
        let target =
            drivers::build(spec, &ctx).map_err(|source| AppError::Build { profile: loaded.path.clone(), source })?;
        let ep = target.endpoint().clone();
        let addr = rt
            .block_on(crate::engine::dial::resolve(&ep, target.net()))
            .map_err(|e| format!("target {:?}: cannot reach {}: {e}", target.name(), ep.shown()))?;
        let url = if spec.is_embedded() || spec.is_embedded_receiver() { "embedded".to_string() } else { ep.shown() };
        Ok(Session {
            target,
            addr,
            url,
            hooks,
            forward,
            sim,
            webhook_target: spec.kind == TargetKind::Webhook,
            failures,
            conversation,
        })
    }

    /// A conversation target's simulator, for the target beside it.
    pub fn shared(&self) -> Option<Shared> {
        let url = self.sim.as_ref()?.url.clone();
        Some(Shared { url, token: self.conversation.as_ref()?.beside_token.clone()? })
    }

    /// The tracker that correlates the target's sends with their status webhooks, when delivery is
    /// tracked.
    pub fn tracker(&self) -> Option<crate::webhook::Tracker> {
        self.hooks.as_ref().map(|h| h.tracker.clone()).or_else(|| self.forward.as_ref().and_then(|f| f.tracker.clone()))
    }

    /// End the session: wait for the statuses of the last messages (they arrive after the last answer,
    /// so before the simulator that sends them stops), read the target's own counters while its server
    /// is still up (a token renewal after the simulator stopped is not the target's failure), then stop
    /// the simulator.
    pub fn finish(self, stop: &Shutdown) -> Teardown {
        // The bot's last replies arrive after its last webhook was answered: wait for them (each
        // turn at most `reply_timeout`) while the simulator still serves, then stop the bot.
        let mut conversation = self.conversation.map(|c| c.finish(stop));
        let delivery = self.hooks.map(|h| h.finish(stop));
        let forwarded = self.forward.map(|f| f.finish(self.sim.as_ref(), stop));
        let mut extra = self.target.extra().unwrap_or_else(|| serde_json::json!({}));
        let mut error = None;
        if let Some(v) = conversation.as_mut().and_then(|c| c.graph_proxy.take()) {
            extra["graph_proxy"] = v;
        }
        match forwarded {
            Some(Ok(Some(v))) => extra["webhook_sends"] = v,
            Some(Err(e)) => error = Some(e),
            _ => {}
        }
        if let Some(st) = self.sim.and_then(Embedded::finish) {
            extra["simulator"] = serde_json::to_value(st).unwrap_or_default();
        }
        let delivery = delivery.and_then(|(stats, counters)| {
            if let Some(c) = counters {
                extra["webhook_receiver"] = serde_json::to_value(c).unwrap_or_default();
            }
            (!self.webhook_target).then_some(stats)
        });
        let extra = extra.as_object().is_some_and(|o| !o.is_empty()).then_some(extra);
        Teardown { delivery, extra, error, failures: self.failures, conversation }
    }
}

/// Where target `spec`'s status webhooks are received: a standalone receiver it forwards its sends
/// to (`[webhooks] receiver_url`), or a receiver of the run (`[webhooks]`, an embedded WhatsApp
/// target by default, a webhook target's own). None for a target beside another: its statuses go
/// where that one's simulator posts them.
fn receivers(loaded: &Loaded, spec: &TargetSpec, setup: &Setup) -> Result<(Option<Forward>, Option<Hooks>), AppError> {
    let p = &loaded.profile;
    let in_profile = |e: String| format!("{}: target {:?}: {e}", loaded.path.display(), spec.name);
    let webhooks = WebhookConfig::for_target(p.webhooks.as_ref(), spec, setup.delivery_by_default)
        .filter(|_| setup.shared_sim.is_none());
    let forward = match webhooks.as_deref() {
        Some(cfg) => match &cfg.receiver_url {
            Some(url) => {
                Some(Forward::start(cfg, url, spec, setup.dir.as_deref()).map_err(|e| in_profile(e.to_string()))?)
            }
            None => None,
        },
        _ => None,
    };
    let hooks = match webhooks.as_deref() {
        _ if spec.is_embedded_receiver() => {
            let cfg = p.webhooks.clone().unwrap_or_default();
            let signed = spec.webhook_spec().flavor == HookFlavor::Cloud;
            Some(Hooks::start_for_webhook_target(&cfg, signed).map_err(in_profile)?)
        }
        Some(cfg) if forward.is_none() => {
            Some(Hooks::start(&receiver_config(cfg, spec), spec.is_embedded()).map_err(in_profile)?)
        }
        _ => None,
    };
    Ok((forward, hooks))
}

/// The embedded simulator of target `spec`: the profile's `[simulator]` for it, accepting the token the
/// target sends, its users the run's recipients, posting its status webhooks to the run's receiver
/// (`hooks`) or to the standalone one (`forward`).
fn start_simulator(
    loaded: &Loaded,
    spec: &TargetSpec,
    setup: &Setup,
    hooks: Option<&Hooks>,
    forward: Option<&Forward>,
) -> Result<Embedded, String> {
    let p = &loaded.profile;
    let mut cfg = sim_config_for(p, spec);
    // Unless `[simulator.cloud] tokens` says otherwise, the simulator accepts the token the
    // target sends (from its token_env or token_file).
    if cfg.cloud.tokens == SimConfig::default().cloud.tokens
        && let Some(t) = target_token(spec, loaded.path.parent().unwrap_or(Path::new(".")))
    {
        cfg.cloud.tokens.push(t);
    }
    // The simulated users who write are the run's recipients, to the target's number.
    let r = &loaded.recipients;
    cfg.inbound.users = (0..r.len() as u64).map(|n| r.get(n).to_string()).collect();
    if cfg.inbound.phone_number_id.is_none() && spec.kind == crate::spec::TargetKind::Cloud {
        // Users write to the target's (first) number.
        cfg.inbound.phone_number_id = spec.sending_numbers().into_iter().next();
    }
    // The simulator posts its status webhooks to this target's receiver, signed with its secret.
    if let Some(h) = hooks {
        cfg.webhooks.callback_url = Some(h.url.clone());
        cfg.webhooks.app_secret = h.secret.clone();
    }
    // Or to the standalone receiver of `receiver_url`.
    if let Some(f) = forward {
        cfg.webhooks.callback_url = Some(f.url.clone());
        cfg.webhooks.app_secret = f.secret.clone();
    }
    let numbering = (u64::from(setup.shard.index), u64::from(setup.shard.count));
    Embedded::start(cfg, numbering).map_err(|e| format!("target {:?}: {e}", spec.name))
}

/// The access token a Cloud target names, when it can be read (the driver reports it when it cannot).
fn target_token(spec: &TargetSpec, base: &Path) -> Option<String> {
    if spec.kind != TargetKind::Cloud {
        return None;
    }
    drivers::named_token(spec, base).ok().flatten().filter(|t| !t.is_empty())
}

/// The receiver settings of one target. The embedded On-Premises simulator posts unsigned webhooks,
/// as the real On-Premises API does (it relies on TLS, not on a signature), so the receiver of an
/// embedded on-prem target never requires `X-Hub-Signature-256`. Every other target uses
/// `[webhooks]` as written (set `verify_signature = false` for a real on-prem deployment).
fn receiver_config<'a>(cfg: &'a WebhookConfig, spec: &TargetSpec) -> Cow<'a, WebhookConfig> {
    if spec.is_embedded() && spec.kind == TargetKind::OnPrem && cfg.verify_signature {
        Cow::Owned(WebhookConfig { verify_signature: false, ..cfg.clone() })
    } else {
        Cow::Borrowed(cfg)
    }
}

/// The embedded simulator's configuration for a target: the profile's `[simulator]` table in the
/// target's flavor, each flavor with its own random sequence drawn from the seed.
pub fn sim_config_for(p: &Profile, spec: &TargetSpec) -> SimConfig {
    let mut cfg = p.simulator.clone();
    cfg.flavor = if spec.kind == TargetKind::OnPrem { Flavor::OnPrem } else { Flavor::Cloud };
    if cfg.flavor == Flavor::OnPrem {
        cfg.seed = crate::drivers::whatsapp::body::mix64(cfg.seed, 0x6f6e_7072_656d);
    }
    cfg
}

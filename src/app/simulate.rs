//! `wabench simulate`: the simulator of the Cloud API or On-Premises API served on its own until Ctrl-C,
//! optionally posting its webhooks to a URL.

use std::path::PathBuf;

use super::AppError;
use super::exit::Exit;
use crate::spec;

/// `wabench simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Which API to imitate.
    #[arg(long, value_enum, default_value = "cloud")]
    pub flavor: SimFlavor,
    /// Address to listen on (loopback unless told otherwise).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Take the simulator settings from this profile's [simulator] table.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Serve with zero latency and no throughput limits (for throughput benchmarks).
    #[arg(long)]
    pub benchmark: bool,
    /// Post status webhooks (sent, delivered, read or failed) of every accepted message, and the
    /// inbound messages of [simulator.inbound] / --inbound-rate, to this URL, e.g. a client under
    /// test or `wabench receive`. Cloud webhooks are signed with the app secret of --app-secret-env.
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
    /// Environment variable holding the app secret that signs Cloud webhooks (X-Hub-Signature-256).
    #[arg(long, value_name = "VAR", default_value = "WABENCH_APP_SECRET")]
    pub app_secret_env: String,
    /// Post unsigned Cloud webhooks (no app secret needed).
    #[arg(long)]
    pub unsigned: bool,
    /// Inbound user messages per second to post to --webhook-url (overrides [simulator.inbound] rate).
    #[arg(long, value_name = "PER_SECOND")]
    pub inbound_rate: Option<f64>,
    /// Worker threads serving requests (default: one per core). 1 leaves the other cores to a load
    /// generator on the same machine.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    #[command(flatten)]
    pub server: SimServerArgs,
}

/// The simulator's HTTP server limits; each one given overrides the profile's [simulator.server].
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct SimServerArgs {
    /// A request head must arrive whole within this, or it is answered 408 and the connection closed
    /// (default 30s, as hyper's server).
    #[arg(long, value_name = "DURATION", value_parser = crate::units::duration::parse)]
    pub read_header_timeout: Option<std::time::Duration>,
    /// Close a connection that keeps the simulator waiting this long: no next request on a kept
    /// connection, a request body not whole, an answer not taken (default 30s).
    #[arg(long, value_name = "DURATION", value_parser = crate::units::duration::parse)]
    pub idle_timeout: Option<std::time::Duration>,
    /// Connections served at once; one beyond is closed at once, and one line says the cap was
    /// reached (default 10000).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SimFlavor {
    Cloud,
    Onprem,
}

/// `wabench simulate`'s webhook options.
struct SimHooks {
    url: Option<String>,
    app_secret_env: String,
    unsigned: bool,
    inbound_rate: Option<f64>,
}

impl SimHooks {
    /// Point the simulator's webhooks at `--webhook-url`, signed with the secret from the environment.
    fn apply(self, cfg: &mut crate::spec::sim::SimConfig) -> Result<(), String> {
        if let Some(rate) = self.inbound_rate {
            if !(rate.is_finite() && rate >= 0.0) {
                return Err(format!("--inbound-rate {rate}: must be a number of messages per second, 0 or more"));
            }
            cfg.inbound.rate = rate;
        }
        let Some(url) = self.url else {
            if self.inbound_rate.is_some_and(|r| r > 0.0) {
                return Err("--inbound-rate: inbound messages are posted as webhooks: give --webhook-url".into());
            }
            return Ok(());
        };
        crate::spec::endpoint::check_http_url(&url).map_err(|r| format!("--webhook-url: {r}"))?;
        cfg.webhooks.callback_url = Some(url);
        // On-prem webhooks are never signed (the real API relies on TLS).
        if cfg.flavor == crate::sim::Flavor::Cloud && !self.unsigned {
            let var = &self.app_secret_env;
            let secret = std::env::var(var).map_err(|_| {
                format!("--app-secret-env: environment variable {var} is not set (it signs the webhooks; --unsigned to post them unsigned)")
            })?;
            if secret.is_empty() {
                return Err(format!("--app-secret-env: environment variable {var} is empty"));
            }
            cfg.webhooks.app_secret = Some(secret.into_bytes());
        }
        Ok(())
    }
}

/// Carry out `wabench simulate`.
pub fn command(a: SimulateArgs) -> Result<Exit, AppError> {
    let SimulateArgs {
        flavor,
        listen,
        profile,
        benchmark,
        webhook_url,
        app_secret_env,
        unsigned,
        inbound_rate,
        threads,
        server,
    } = a;
    let hooks = SimHooks { url: webhook_url, app_secret_env, unsigned, inbound_rate };
    let flavor = match flavor {
        SimFlavor::Cloud => crate::sim::Flavor::Cloud,
        SimFlavor::Onprem => crate::sim::Flavor::OnPrem,
    };
    let mut cfg = match (&profile, benchmark) {
        (Some(p), _) => match spec::load(p) {
            Ok(l) => l.profile.simulator,
            Err(e) => return Err(e.into()),
        },
        (None, true) => crate::spec::sim::SimConfig::benchmark(flavor),
        (None, false) => crate::spec::sim::SimConfig::default(),
    };
    cfg.flavor = flavor;
    hooks.apply(&mut cfg)?;
    let s = &mut cfg.server;
    s.read_header_timeout = server.read_header_timeout.unwrap_or(s.read_header_timeout);
    s.idle_timeout = server.idle_timeout.unwrap_or(s.idle_timeout);
    s.max_connections = server.max_connections.unwrap_or(s.max_connections);
    s.validate().map_err(|e| format!("{} (--read-header-timeout, --idle-timeout or [simulator.server])", e.0))?;
    let posting = cfg.webhooks.callback_url.clone();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        builder.worker_threads(n.into());
    }
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return Err(format!("cannot start a runtime: {e}").into()),
    };
    let res: Result<(), String> = rt.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("wabench simulator ({flavor:?}) listening on http://{addr} (Ctrl-C to stop)");
        if let Some(url) = &posting {
            println!("wabench simulator: posting webhooks to {url}");
        }
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        crate::sim::serve(listener, cfg, shutdown).await.map_err(|e| e.to_string())
    });
    Ok(res.map(|()| Exit::Success)?)
}

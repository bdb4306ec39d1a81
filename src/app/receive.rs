//! `wabench receive`: a standalone status-webhook receiver for sharded runs and runs against the real
//! API. It answers the subscription handshake, checks signatures, serves HTTPS itself (certificate
//! and key files: Meta only calls HTTPS callback URLs) or plain HTTP behind a TLS-terminating proxy,
//! and writes every status to `statuses-<start>-<pid>.csv` in its folder (format in
//! `webhook::record`), streaming through a bounded queue and buffer; a webhook is answered 200 only
//! once its statuses are written to the file, 503 when the write fails (the sender delivers it
//! again). When it stops it writes `receiver-<start>-<pid>.json` (request counters, inbound
//! messages, user identities, write failures).
//! `wabench merge --webhooks DIR` joins these with the shards' sends.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::AppError;
use super::exit::Exit;
use crate::results::delivery::IdentityCounts;
use crate::results::{self, files};
use crate::spec::webhook::WebhookConfig;
use crate::webhook::record::StatusLog;
use crate::webhook::{ReceiverConfig, ReceiverCounters};

/// Version of the summary file's format.
pub const SUMMARY_FORMAT: u32 = 1;

/// How to receive.
#[derive(Debug, Clone)]
pub struct Options {
    pub listen: SocketAddr,
    /// Folder of the records (created when missing).
    pub out: PathBuf,
    /// Request path of the endpoint.
    pub path: String,
    /// Certificate chain and private key (PEM): serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Require `X-Hub-Signature-256` (Cloud); off for the On-Premises API, which does not sign.
    pub verify_signature: bool,
    /// Environment variable holding the app secret.
    pub app_secret_env: String,
    /// Environment variable holding the handshake's verify token.
    pub verify_token_env: String,
    /// Largest accepted body, in bytes.
    pub max_body: usize,
    /// Webhooks queued between the HTTP handlers and the file writer.
    pub backlog: usize,
    /// Runtime worker threads serving the requests (at least 1).
    pub threads: usize,
    /// Where `app_secret_env` and `verify_token_env` are looked up: the process environment unless
    /// an embedding program gives the variables.
    pub env: crate::units::Env,
}

impl Options {
    /// Defaults: path /webhook, signatures checked with WABENCH_APP_SECRET, token WABENCH_VERIFY_TOKEN.
    pub fn new(listen: SocketAddr, out: impl Into<PathBuf>) -> Options {
        let d = WebhookConfig::default();
        Options {
            listen,
            out: out.into(),
            path: d.path,
            tls: None,
            verify_signature: true,
            app_secret_env: crate::webhook::DEFAULT_APP_SECRET_ENV.into(),
            verify_token_env: crate::webhook::DEFAULT_VERIFY_TOKEN_ENV.into(),
            max_body: d.max_body,
            backlog: d.backlog,
            threads: 2,
            env: crate::units::Env::default(),
        }
    }

    fn receiver_config(&self) -> Result<ReceiverConfig, String> {
        let cfg = WebhookConfig {
            listen: self.listen,
            path: self.path.clone(),
            verify_signature: self.verify_signature,
            app_secret_env: Some(self.app_secret_env.clone()),
            verify_token_env: Some(self.verify_token_env.clone()),
            max_body: self.max_body,
            backlog: self.backlog,
            ..WebhookConfig::default()
        };
        cfg.resolve_with(|name| self.env.var_os(name)).map_err(|e| {
            e.to_string()
                .replace("webhooks.app_secret_env", "--app-secret-env")
                .replace("webhooks.verify_token_env", "--verify-token-env")
                .replace("webhooks.verify_signature = true", "signature checks (turn them off with --no-signature)")
                .replace("webhooks.", "--")
        })
    }
}

/// What a receiver process did: `receiver-<start>-<pid>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub format: u32,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// The statuses file, in the same folder.
    pub statuses_file: String,
    pub statuses_recorded: u64,
    /// Inbound user messages in accepted webhooks (counted, not recorded one by one).
    pub inbound_messages: u64,
    /// How accepted webhooks identified their users.
    #[serde(default)]
    pub identities: IdentityCounts,
    /// Requests by how they were answered.
    pub requests: ReceiverCounters,
    /// The first error writing the statuses file, when a write failed (the webhooks it held were
    /// answered 503: `requests.write_failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_error: Option<String>,
    /// The failed statuses as failures.csv rows, in the same folder, when one failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures_file: Option<String>,
}

/// A receiver running on its own thread.
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its statuses file.
    pub statuses: PathBuf,
    scheme: &'static str,
    path: String,
    log: Arc<StatusLog>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<Summary, String>>>,
}

impl Receiver {
    /// Bind, open the records and start serving (errors: secrets, certificate, address, folder).
    pub fn start(opts: &Options) -> Result<Receiver, String> {
        let rc = opts.receiver_config()?;
        let tls = match &opts.tls {
            Some((cert, key)) => Some(crate::webhook::tls_config(cert, key)?),
            None => None,
        };
        std::fs::create_dir_all(&opts.out).map_err(|e| format!("--out {}: {e}", opts.out.display()))?;
        let started_at = Utc::now();
        let pid = std::process::id();
        let statuses = opts.out.join(files::statuses_name(started_at, pid));
        if statuses.exists() {
            return Err(format!("{}: already exists (another receiver started this second?)", statuses.display()));
        }
        let log = Arc::new(StatusLog::create(&statuses).map_err(|e| format!("{}: {e}", statuses.display()))?);
        let std_listener = std::net::TcpListener::bind(opts.listen)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| format!("--listen {}: {e}", opts.listen))?;
        let addr = std_listener.local_addr().map_err(|e| e.to_string())?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(opts.threads.max(1))
            .thread_name("wabench-receive")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a runtime: {e}"))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let out = opts.out.clone();
        let file = files::folder_name(&statuses);
        let kept = log.clone();
        let failures = Arc::new(crate::results::failure_log::FailureLog::default());
        let sink = Arc::new(crate::webhook::failed::ListingFailures::new(log.clone(), failures.clone()));
        let thread = std::thread::Builder::new()
            .name("wabench-receive".into())
            .spawn(move || {
                let counters = rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(std_listener)?;
                    let shutdown = async move {
                        let _ = stopped.await;
                    };
                    crate::webhook::serve_with(listener, rc, sink, tls, shutdown).await.map(|c| (c, log))
                });
                let (counters, log) = counters.map_err(|e| format!("receiver: {e}"))?;
                // A failed write was answered 503 and is told in the summary, which is written anyway.
                let write_error = log.close().err();
                let statuses_recorded = log.records();
                let (inbound_messages, identities) = log.seen();
                let failures_file = write_failures(&out, started_at, pid, &failures)?;
                let summary = Summary {
                    format: SUMMARY_FORMAT,
                    started_at,
                    ended_at: Utc::now(),
                    statuses_file: file,
                    statuses_recorded,
                    inbound_messages,
                    identities,
                    requests: counters,
                    write_error,
                    failures_file,
                };
                let path = out.join(files::receiver_summary_name(started_at, pid));
                let json = serde_json::to_vec_pretty(&summary).map_err(|e| e.to_string())?;
                results::write_atomic(&path, &json).map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(summary)
            })
            .map_err(|e| format!("cannot start the receiver thread: {e}"))?;
        let scheme = if opts.tls.is_some() { "https" } else { "http" };
        Ok(Receiver {
            addr,
            statuses,
            scheme,
            path: opts.path.clone(),
            log: kept,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Statuses recorded and inbound user messages counted so far.
    pub fn progress(&self) -> (u64, u64) {
        (self.log.records(), self.log.seen().0)
    }

    /// The callback URL (with the address it listens on).
    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.addr, self.path)
    }

    /// Stop accepting, finish the requests in flight, write every accepted status and the summary.
    pub fn stop(mut self) -> Result<Summary, String> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            _ => Err("the receiver thread failed".into()),
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// The failed statuses as failures.csv rows (target "receiver"), when one failed: the file's name.
fn write_failures(
    out: &Path,
    started_at: DateTime<Utc>,
    pid: u32,
    log: &crate::results::failure_log::FailureLog,
) -> Result<Option<String>, String> {
    let (rows, _) = log.rows();
    if rows.is_empty() {
        return Ok(None);
    }
    let name = files::receiver_failures_name(started_at, pid);
    let path = out.join(&name);
    let mut buf = Vec::new();
    results::failure_log::write_csv(&mut buf, &[("receiver".to_string(), rows)])
        .and_then(|()| results::write_atomic(&path, &buf))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(name))
}

/// What a receiver folder holds: its statuses files and what its summaries add up to.
#[derive(Debug, Default)]
pub struct Recorded {
    pub statuses: Vec<PathBuf>,
    pub inbound: u64,
    pub identities: IdentityCounts,
    /// Summaries found (a receiver that was killed leaves none; its statuses still count).
    pub summaries: usize,
}

/// Read a receiver folder (`wabench receive --out DIR`).
pub fn recorded(dir: &Path) -> Result<Recorded, String> {
    let mut r = Recorded::default();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut names: Vec<String> = entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        if files::is_statuses_file(&name) {
            r.statuses.push(path);
        } else if files::is_receiver_summary(&name) {
            let text = crate::results::bounded::read(&path, crate::results::bounded::MAX_JSON_BYTES)?;
            let s: Summary = serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            r.inbound += s.inbound_messages;
            r.identities.add(&s.identities);
            r.summaries += 1;
        }
    }
    if r.statuses.is_empty() {
        return Err(format!("{}: no statuses-*.csv file: not the folder of `wabench receive --out`", dir.display()));
    }
    Ok(r)
}

/// `wabench receive`.
#[derive(Debug, clap::Args)]
pub struct ReceiveArgs {
    /// Address to listen on, e.g. 0.0.0.0:8443.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: std::net::SocketAddr,
    /// Folder of the records: statuses-<start>-<pid>.csv, and receiver-<start>-<pid>.json when it stops.
    #[arg(long, default_value = "webhooks")]
    pub out: PathBuf,
    /// Request path of the callback URL.
    #[arg(long, default_value = "/webhook")]
    pub path: String,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Environment variable holding the app secret that signs webhooks (X-Hub-Signature-256).
    #[arg(long, value_name = "VAR", default_value = "WABENCH_APP_SECRET")]
    pub app_secret_env: String,
    /// Environment variable holding the verify token of the subscription handshake (unset: every
    /// handshake is refused).
    #[arg(long, value_name = "VAR", default_value = "WABENCH_VERIFY_TOKEN")]
    pub verify_token_env: String,
    /// Accept unsigned webhooks (the On-Premises API does not sign; it relies on TLS).
    #[arg(long)]
    pub no_signature: bool,
    /// Largest accepted body in bytes (larger posts are answered 413).
    #[arg(long, value_name = "BYTES", default_value_t = crate::spec::webhook::DEFAULT_MAX_BODY_BYTES)]
    pub max_body: usize,
    /// Worker threads serving webhooks. 1 leaves the other core of a 2-core machine to whatever posts.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: u16,
}

/// `wabench receive`: record status webhooks until Ctrl-C or SIGTERM.
pub fn command(a: ReceiveArgs) -> Result<Exit, AppError> {
    let mut opts = Options::new(a.listen, a.out);
    opts.path = a.path;
    opts.tls = a.tls_cert.zip(a.tls_key);
    opts.verify_signature = !a.no_signature;
    opts.app_secret_env = a.app_secret_env;
    opts.verify_token_env = a.verify_token_env;
    opts.max_body = a.max_body;
    opts.threads = a.threads.into();
    if !opts.path.starts_with('/') {
        return Err(format!("--path {:?}: must start with '/'", opts.path).into());
    }
    if std::env::var_os(&opts.verify_token_env).is_none_or(|v| v.is_empty()) {
        eprintln!(
            "wabench receive: warning: {} is not set: every subscription handshake will be refused",
            opts.verify_token_env
        );
    }
    let stop = crate::app::signals::stop_on_signals();
    let r = Receiver::start(&opts)?;
    println!("wabench receive: listening on {} (Ctrl-C to stop); recording to {}", r.url(), r.statuses.display());
    stop.wait();
    let s = r.stop()?;
    let q = &s.requests;
    println!(
        "wabench receive: {} statuses recorded, {} inbound messages; {} webhooks accepted, refused: {} unsigned, {} bad signature, {} too large, {} malformed",
        s.statuses_recorded,
        s.inbound_messages,
        q.received,
        q.missing_signature,
        q.bad_signature,
        q.too_large,
        q.malformed
    );
    if !q.errors_by_code.is_empty() {
        let by: Vec<String> =
            q.errors_by_code.iter().map(|(c, n)| format!("{c} {} ×{n}", crate::results::codes::name(*c))).collect();
        println!("wabench receive: errors Meta reported for the account or number (value.errors): {}", by.join(", "));
    }
    if let Some(e) = &s.write_error {
        return Err(format!(
            "wabench receive: {} webhooks were answered 503 because their statuses could not be written (first error: {e}); \
             their senders deliver them again",
            q.write_failed
        )
        .into());
    }
    Ok(Exit::Success)
}

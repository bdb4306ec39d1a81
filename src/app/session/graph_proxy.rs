//! A conversation target's `graph_proxy`: the run's certificate authority (its certificate written as
//! `<target>.graph-ca.pem` in the results, or a temporary file without results), the proxy serving the
//! simulator as `https://graph.facebook.com`, and what a bot wabench starts is told of them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::sim::graph_proxy::{Background, GRAPH_HOST, GraphCa};

/// The proxy of one run, and where its CA certificate is.
pub struct RunProxy {
    proxy: Option<Background>,
    ca_file: PathBuf,
    /// The CA file is a temporary one (no results folder): removed at the end.
    temporary: bool,
}

impl RunProxy {
    /// Make the run's CA, write its certificate, and start the proxy on `listen` (the profile's
    /// `graph_proxy`) in front of the simulator at `sim_url` (`http://host:port`). With `announce` (a bot
    /// wabench does not start), say where the proxy listens and where the CA certificate is.
    pub fn start(
        listen: &str,
        sim_url: &str,
        dir: Option<&Path>,
        target: &str,
        announce: bool,
    ) -> Result<RunProxy, String> {
        let listen: SocketAddr =
            listen.parse().map_err(|_| format!("conversation.graph_proxy {listen:?}: not host:port"))?;
        let sim: SocketAddr = sim_url
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| format!("the simulator's address {sim_url:?} is not http://host:port"))?;
        let ca = GraphCa::generate()?;
        let (ca_file, temporary) = match dir {
            Some(d) => (d.join(crate::results::files::graph_ca_name(target)), false),
            None => {
                let name = format!("wabench-{}-{}", std::process::id(), crate::results::files::graph_ca_name(target));
                (std::env::temp_dir().join(name), true)
            }
        };
        std::fs::write(&ca_file, ca.ca_pem()).map_err(|e| format!("{}: {e}", ca_file.display()))?;
        let mut run = RunProxy { proxy: None, ca_file, temporary };
        let proxy =
            Background::start(listen, &ca, sim).map_err(|e| format!("conversation.graph_proxy {listen}: {e}"))?;
        if announce {
            eprintln!(
                "wabench: {target}: https://{GRAPH_HOST} served through the HTTPS proxy http://{} (trust the CA {})",
                proxy.addr,
                run.ca_file.display()
            );
        }
        run.proxy = Some(proxy);
        Ok(run)
    }

    /// The Graph API's base URL a bot behind the proxy uses.
    pub fn graph_url() -> String {
        format!("https://{GRAPH_HOST}")
    }

    /// What a bot wabench starts is told: the proxy for HTTPS (both spellings) and the CA certificate
    /// under the names Rust (rustls-native-certs), OpenSSL, Python requests and Node read.
    pub fn bot_env(&self) -> Vec<(&'static str, String)> {
        let Some(p) = &self.proxy else { return Vec::new() };
        let proxy = format!("http://{}", p.addr);
        let ca = self.ca_file.display().to_string();
        vec![
            ("HTTPS_PROXY", proxy.clone()),
            ("https_proxy", proxy),
            ("SSL_CERT_FILE", ca.clone()),
            ("REQUESTS_CA_BUNDLE", ca.clone()),
            ("NODE_EXTRA_CA_CERTS", ca.clone()),
            ("WABENCH_GRAPH_CA", ca),
        ]
    }

    /// Stop the proxy; its counters (`extra.graph_proxy`).
    pub fn finish(mut self) -> serde_json::Value {
        let stats = self.proxy.take().map(Background::finish).unwrap_or_default();
        serde_json::to_value(stats).unwrap_or_default()
    }
}

impl Drop for RunProxy {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.ca_file);
        }
    }
}

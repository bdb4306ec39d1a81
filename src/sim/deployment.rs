//! The On-Premises deployment in front of the CoreApp shards: several WebApps, each with its own
//! request limiters, and the cluster's `/v1/health` answer.
//!
//! A multiconnect deployment runs WebApps in front of the CoreApp shards; "the Webapp will know which
//! Docker container to send the message request to" by `hash(recipient-id) % shard-number` (Meta,
//! "Scale Your API Client With Multiconnect", https://developers.facebook.com/docs/whatsapp/multiconnect_mc),
//! and Meta's production set-up puts the Webapp on machines of its own (Meta, "Production Setup: High
//! Availability & Multiconnect", https://developers.facebook.com/docs/whatsapp/installation/prod-multiconnect).
//! The request limits (`/v1/messages` 50 requests/s, burst 150; other endpoints 20, burst 60;
//! Meta's On-Premises documentation) are enforced by each WebApp on the requests it receives (model).
//!
//! Requests are spread over the WebApps **round-robin per request**, as an HTTP (layer 7) load
//! balancer in front of them does. The alternative, pinning each keep-alive connection to one WebApp
//! (a layer 4 balancer), would make the deployment's capacity depend on how many connections the load
//! generator happens to keep open, a property of the client rather than of the deployment being sized.

use serde_json::{Value, json};

use super::config::SimConfig;
use super::model::{RateLimiter, mix64};

/// One WebApp: the request limiters of `/v1/messages` and of the other endpoints.
#[derive(Debug)]
struct WebApp {
    messages: RateLimiter,
    other: RateLimiter,
}

/// Which request limiter a request meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `/v1/messages` (send, mark as read).
    Messages,
    /// Any other endpoint (login, contacts, health).
    Other,
}

/// A request refused by the limiter of one WebApp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    /// Which WebApp (1-based) and how many there are.
    pub webapp: usize,
    pub of: usize,
    /// The limit that refused it, requests/s and burst.
    pub rps: u32,
    pub burst: u32,
}

impl Refused {
    /// The `details` of the 1015 answer.
    pub fn details(&self) -> String {
        format!(
            "WebApp {} of {}: request rate limit of this endpoint ({} requests/s, burst {}) exceeded; retry later.",
            self.webapp, self.of, self.rps, self.burst
        )
    }
}

/// The WebApps of a deployment.
#[derive(Debug)]
pub(crate) struct WebApps {
    apps: Vec<WebApp>,
    limits: [(u32, u32); 2],
}

impl WebApps {
    /// `onprem.webapps` WebApps with the configured limits.
    pub fn new(cfg: &SimConfig) -> Self {
        let o = &cfg.onprem;
        let apps = (0..o.webapps.max(1))
            .map(|_| WebApp {
                messages: RateLimiter::new(f64::from(o.messages_rps), f64::from(o.messages_burst)),
                other: RateLimiter::new(f64::from(o.other_rps), f64::from(o.other_burst)),
            })
            .collect();
        WebApps { apps, limits: [(o.messages_rps, o.messages_burst), (o.other_rps, o.other_burst)] }
    }

    /// The WebApp (0-based) that request number `seq` reaches: round-robin.
    pub fn route(&self, seq: u64) -> usize {
        (seq % self.apps.len() as u64) as usize
    }

    /// Admit request number `seq` at its WebApp's limiter of `endpoint`.
    pub fn admit(&self, seq: u64, endpoint: Endpoint) -> Result<(), Refused> {
        let i = self.route(seq);
        let (limiter, (rps, burst)) = match endpoint {
            Endpoint::Messages => (&self.apps[i].messages, self.limits[0]),
            Endpoint::Other => (&self.apps[i].other, self.limits[1]),
        };
        if limiter.try_take() { Ok(()) } else { Err(Refused { webapp: i + 1, of: self.apps.len(), rps, burst }) }
    }
}

/// A `gateway_status` value: "connected | connecting | disconnected | uninitialized | unregistered"
/// (Meta, "/v1/health", https://developers.facebook.com/docs/whatsapp/on-premises/reference/health).
/// The simulated number is registered, so the simulator answers `connected`, or during a downtime
/// window `connecting` (a single CoreApp trying to reach the WhatsApp servers again) and
/// `disconnected` (a CoreApp of a multiconnect cluster) (model).
fn gateway_status(down: bool, multiconnect: bool) -> &'static str {
    match (down, multiconnect) {
        (false, _) => "connected",
        (true, false) => "connecting",
        (true, true) => "disconnected",
    }
}

/// The `health` object of `GET /v1/health`. One CoreApp (`shards = 1`): `{"gateway_status": …}`.
/// A multiconnect cluster: one entry per node under `"<hostname>:<container id>"` with its
/// `gateway_status` and `role` (`primary_master`, `secondary_master`, `coreapp`), as Meta documents
/// for "a Multiconnect setup" (same page): two Masters (Meta's high availability "requires at least
/// two Master nodes", https://developers.facebook.com/docs/whatsapp/availability-scaling) and one
/// CoreApp per shard. Masters hold no connection to the WhatsApp servers and stay `connected` (model).
pub(crate) fn health(cfg: &SimConfig, down: bool) -> Value {
    let shards = cfg.onprem.shards;
    if shards <= 1 {
        return json!({ "gateway_status": gateway_status(down, false) });
    }
    let mut nodes = serde_json::Map::new();
    let mut node = |name: String, i: u64, status: &str, role: &str| {
        let container = format!("{:012x}", mix64(cfg.seed ^ mix64(i)) >> 16);
        nodes.insert(format!("{name}:{container}"), json!({ "gateway_status": status, "role": role }));
    };
    node("wabench-master-1".into(), 1, "connected", "primary_master");
    node("wabench-master-2".into(), 2, "connected", "secondary_master");
    for s in 0..shards {
        node(format!("wabench-coreapp-{}", s + 1), 100 + u64::from(s), gateway_status(down, true), "coreapp");
    }
    Value::Object(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(webapps: u32, rps: u32, burst: u32) -> SimConfig {
        let mut c = SimConfig::default();
        c.onprem.webapps = webapps;
        c.onprem.messages_rps = rps;
        c.onprem.messages_burst = burst;
        c
    }

    #[test]
    fn each_webapp_has_its_own_limiter_and_requests_go_round_robin() {
        // A burst of 2 per WebApp and a refill too slow to matter: three WebApps admit 6 in a row.
        let w = WebApps::new(&cfg(3, 1, 2));
        let admitted = (0..9).filter(|seq| w.admit(*seq, Endpoint::Messages).is_ok()).count();
        assert_eq!(admitted, 6);
        let refused = w.admit(10, Endpoint::Messages).unwrap_err();
        assert_eq!((refused.webapp, refused.of, refused.rps, refused.burst), (2, 3, 1, 2));
        assert!(refused.details().contains("WebApp 2 of 3"));
        // One WebApp with the same limits admits only its own burst.
        let one = WebApps::new(&cfg(1, 1, 2));
        assert_eq!((0..9).filter(|seq| one.admit(*seq, Endpoint::Messages).is_ok()).count(), 2);
        // The other endpoints have limiters of their own.
        assert!(one.admit(0, Endpoint::Other).is_ok());
    }

    #[test]
    fn health_has_the_single_and_the_multiconnect_shape() {
        let mut c = SimConfig::default();
        c.onprem.shards = 1;
        assert_eq!(health(&c, false), json!({"gateway_status": "connected"}));
        assert_eq!(health(&c, true), json!({"gateway_status": "connecting"}));
        c.onprem.shards = 4;
        let h = health(&c, true);
        let nodes = h.as_object().unwrap();
        assert_eq!(nodes.len(), 6);
        let roles: Vec<&str> = nodes.values().map(|n| n["role"].as_str().unwrap()).collect();
        assert_eq!(roles.iter().filter(|r| **r == "coreapp").count(), 4);
        assert_eq!(roles.iter().filter(|r| **r == "primary_master").count(), 1);
        assert!(
            nodes
                .iter()
                .all(|(k, v)| k.contains(':') && (v["role"] != "coreapp" || v["gateway_status"] == "disconnected"))
        );
    }
}

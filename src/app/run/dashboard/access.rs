//! Who may use the dashboard. Bound to a loopback address it needs no token (only this machine
//! reaches it), but it answers only requests whose `Host` names a loopback address (a page of another
//! site cannot reach it by DNS rebinding) and refuses control calls from a page of another origin.
//! Bound beyond loopback, every request carries the token printed at start: `?token=` in the URL (the
//! page passes its own on to its events and controls), or `Authorization: Bearer` for scripts.

use std::net::SocketAddr;

use subtle::ConstantTimeEq;

/// The access rules of one dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct Access {
    /// Required on every request, when set.
    pub token: Option<String>,
    /// Only a loopback `Host` is answered (no token).
    pub loopback_host_only: bool,
}

/// What a request shows of itself.
#[derive(Debug, Default, Clone)]
pub struct Credentials<'a> {
    pub query_token: Option<&'a str>,
    pub authorization: Option<&'a str>,
    pub host: Option<&'a str>,
    pub origin: Option<&'a str>,
}

impl Access {
    /// The rules for a dashboard bound to `addr`: a random token beyond loopback.
    pub fn for_bind(addr: SocketAddr) -> Access {
        match addr.ip().is_loopback() {
            true => Access { token: None, loopback_host_only: true },
            false => Access::with_token(new_token()),
        }
    }

    /// Every request must carry `token`.
    pub fn with_token(token: String) -> Access {
        Access { token: Some(token), loopback_host_only: false }
    }

    /// Why a request is refused, if it is. `control`: a call that changes the run.
    pub fn check(&self, c: &Credentials<'_>, control: bool) -> Result<(), &'static str> {
        if let Some(want) = &self.token {
            let given = c.query_token.or_else(|| c.authorization.and_then(|a| a.strip_prefix("Bearer ")));
            let ok = given.is_some_and(|g| bool::from(g.trim().as_bytes().ct_eq(want.as_bytes())));
            if !ok {
                return Err("a token is required: add ?token=… (printed at start) or Authorization: Bearer …");
            }
        }
        if self.loopback_host_only && !c.host.is_some_and(is_loopback_host) {
            return Err("this dashboard answers only at a loopback address (127.0.0.1, [::1] or localhost)");
        }
        // A browser says which page sent a call: one of another site may not steer the run.
        if control && let (Some(origin), Some(host)) = (c.origin, c.host) {
            let from = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            if !from.eq_ignore_ascii_case(host) {
                return Err("a control call from a page of another origin is refused");
            }
        }
        Ok(())
    }
}

/// Whether a `Host` header names a loopback address.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// 128 random bits, in hex.
fn new_token() -> String {
    let b: [u8; 16] = rand::random();
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds<'a>(q: Option<&'a str>, auth: Option<&'a str>, host: &'a str) -> Credentials<'a> {
        Credentials { query_token: q, authorization: auth, host: Some(host), origin: None }
    }

    #[test]
    fn beyond_loopback_a_random_token_is_required() {
        let a = Access::for_bind("0.0.0.0:8080".parse().unwrap());
        let t = a.token.clone().expect("a token");
        assert_eq!(t.len(), 32);
        assert_ne!(Access::for_bind("10.1.2.3:1".parse().unwrap()).token, Some(t.clone()), "random");
        let host = "10.1.2.3:8080";
        assert!(a.check(&creds(None, None, host), false).is_err());
        assert!(a.check(&creds(Some("wrong"), None, host), true).is_err());
        assert!(a.check(&creds(Some(&t), None, host), false).is_ok());
        let bearer = format!("Bearer {t}");
        assert!(a.check(&creds(None, Some(&bearer), host), true).is_ok());
        assert!(a.check(&creds(None, Some(&t), host), true).is_err(), "the Bearer scheme is named");
    }

    #[test]
    fn loopback_needs_no_token_but_a_loopback_host_and_origin() {
        let a = Access::for_bind("127.0.0.1:0".parse().unwrap());
        assert_eq!(a.token, None);
        assert!(a.check(&creds(None, None, "127.0.0.1:9000"), true).is_ok());
        assert!(a.check(&creds(None, None, "localhost:9000"), true).is_ok());
        assert!(a.check(&creds(None, None, "[::1]:9000"), true).is_ok());
        assert!(a.check(&creds(None, None, "evil.example:9000"), false).is_err(), "DNS rebinding");
        let mut c = creds(None, None, "127.0.0.1:9000");
        c.origin = Some("http://127.0.0.1:9000");
        assert!(a.check(&c, true).is_ok(), "the page itself");
        c.origin = Some("https://evil.example");
        assert!(a.check(&c, true).is_err(), "another site's page");
        assert!(a.check(&c, false).is_ok(), "reading is not steering");
    }
}

//! Where a target lives: a URL checked once (scheme, host, port, path; no credentials in it), and
//! which header names carry credentials (their values are never stored in results).

/// Where a target lives: scheme, host, port, and the base path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query of the URL, at least "/".
    pub path_and_query: String,
}

impl Endpoint {
    /// Parse an `http://` or `https://` URL strictly; the error says what is wrong. The port is the
    /// one written (1–65535; the scheme's when none is written), never a default instead of a bad one.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let (ep, userinfo) = parse_http_url(url)?;
        if userinfo {
            return Err(format!("{:?}: credentials in the URL are not allowed; use headers_from_env", redact_url(url)));
        }
        Ok(ep)
    }

    /// `host:port` as written in a Host header / HTTP/2 authority.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let default = if self.tls { 443 } else { 80 };
        if self.port == default { host } else { format!("{host}:{}", self.port) }
    }

    /// The URL without userinfo (as requests are made).
    pub fn url(&self) -> String {
        format!("{}://{}{}", if self.tls { "https" } else { "http" }, self.authority(), self.path_and_query)
    }

    /// The URL as results, reports and messages show it: credential-like query values redacted.
    pub fn shown(&self) -> String {
        redact_url(&self.url())
    }

    /// Whether the host is a loopback address (or `localhost`).
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

/// Parse an `http://` or `https://` URL strictly: the endpoint, and whether the URL carries
/// credentials (userinfo). A port out of 1–65535, an empty port or host, another scheme, or an
/// IPv6 address out of brackets is an error saying so.
pub fn parse_http_url(url: &str) -> Result<(Endpoint, bool), String> {
    let shown = redact_url(url);
    let uri: ::http::Uri = url.parse().map_err(|e| format!("{shown:?} is not a valid URL: {e}"))?;
    let tls = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") => false,
        Some(s) if s.eq_ignore_ascii_case("https") => true,
        Some(s) => return Err(format!("{shown:?}: scheme {s:?} is not supported (use http:// or https://)")),
        None => return Err(format!("{shown:?}: the URL needs a scheme (http:// or https://)")),
    };
    let authority = uri.authority().map_or("", |a| a.as_str());
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((_, h)) => (true, h),
        None => (false, authority),
    };
    let (host, port) = host_and_port(hostport).map_err(|r| format!("{shown:?}: {r}"))?;
    let port = port.unwrap_or(if tls { 443 } else { 80 });
    let path_and_query = uri.path_and_query().map_or("/".to_string(), |p| p.as_str().to_string());
    let path_and_query = if path_and_query.is_empty() { "/".to_string() } else { path_and_query };
    Ok((Endpoint { tls, host, port, path_and_query }, userinfo))
}

/// Check that `url` is an `http://` or `https://` URL read strictly (see [`parse_http_url`]);
/// credentials in it are left to the caller.
pub fn check_http_url(url: &str) -> Result<(), String> {
    parse_http_url(url).map(|_| ())
}

/// The host (IPv6 without its brackets) and the port, if one is written, of `host[:port]` or
/// `[v6]:port`. A port is 1 to 5 digits in 1–65535; a host is not empty; an IPv6 address is in
/// brackets.
pub fn host_and_port(s: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or("an IPv6 address misses its closing ']'")?;
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("[{v6}] is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(format!("{p:?} after the IPv6 address is not :port"))?),
        };
        (v6, port)
    } else {
        match s.split_once(':') {
            Some((h, p)) if !p.contains(':') => (h, Some(p)),
            Some(_) => return Err("an IPv6 address must be in brackets, e.g. [::1]:8080".into()),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    let port = match port {
        None => None,
        Some("") => return Err("the port after ':' is empty".into()),
        Some(p) if !p.bytes().all(|b| b.is_ascii_digit()) => return Err(format!("port {p:?} is not a number")),
        Some(p) => match p.parse::<u32>() {
            Ok(n @ 1..=65535) => Some(n as u16),
            _ => return Err(format!("port {p} is out of range (1-65535)")),
        },
    };
    Ok((host.to_string(), port))
}

/// A URL as it may be shown: userinfo and credential-like query values replaced by `<redacted>`
/// (see [`crate::units::redact::url`]).
pub fn redact_url(url: &str) -> String {
    crate::units::redact::url(url)
}

/// Headers whose values are credentials and never appear in results or logs.
pub fn is_sensitive_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "authorization"
        || n == "proxy-authorization"
        || n == "cookie"
        || n.contains("token")
        || n.contains("secret")
        || n.contains("api-key")
        || n.contains("apikey")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_and_print() {
        let e = Endpoint::parse("http://127.0.0.1:8080/v1/messages?x=1").unwrap();
        assert_eq!(
            e,
            Endpoint { tls: false, host: "127.0.0.1".into(), port: 8080, path_and_query: "/v1/messages?x=1".into() }
        );
        assert!(e.is_loopback());
        let e = Endpoint::parse("https://graph.example.com").unwrap();
        assert_eq!((e.port, e.path_and_query.as_str(), e.authority().as_str()), (443, "/", "graph.example.com"));
        assert!(!e.is_loopback());
        let e = Endpoint::parse("http://[::1]:9000/").unwrap();
        assert_eq!(e.authority(), "[::1]:9000");
        assert!(e.is_loopback());
        assert!(Endpoint::parse("ftp://x/").unwrap_err().contains("not supported"));
        assert!(Endpoint::parse("127.0.0.1:80").is_err());
        assert!(Endpoint::parse("http://u:p@host/").unwrap_err().contains("credentials"));
    }

    #[test]
    fn addresses_are_taken_as_written_or_refused() {
        let port = |u: &str| Endpoint::parse(u).map(|e| (e.host, e.port));
        assert_eq!(port("http://127.0.0.1:65535/p"), Ok(("127.0.0.1".into(), 65535)));
        assert_eq!(port("http://[::1]:8080"), Ok(("::1".into(), 8080)));
        assert_eq!(port("https://[::1]"), Ok(("::1".into(), 443)));
        assert_eq!(port("http://h:0080/"), Ok(("h".into(), 80)));
        assert_eq!(port("HTTPS://graph.example.com"), Ok(("graph.example.com".into(), 443)));
        for (url, why) in [
            ("http://127.0.0.1:65616/path", "out of range"),
            ("https://graph.example.com:70000", "out of range"),
            ("http://h:99999999999999999999/", "out of range"),
            ("http://h:0/", "out of range"),
            ("http://h:/p", "port after ':' is empty"),
            ("http://:8080/p", "host is empty"),
            ("http://[::1]:70000/", "out of range"),
            ("http://[::zz]:80/", "not an IPv6 address"),
            ("ftp://h/", "not supported"),
            ("ws://h:80/", "not supported"),
            ("h:80", "scheme"),
        ] {
            let e = Endpoint::parse(url).unwrap_err();
            assert!(e.contains(why) && e.contains(url), "{url}: {e}");
        }
        let e = check_http_url("http://u:s3cret@h:70000/").unwrap_err();
        assert!(e.contains("out of range") && !e.contains("s3cret"), "{e}");
        assert_eq!(check_http_url("http://u:p@h:8080/"), Ok(()), "credentials are the caller's to refuse");
    }

    #[test]
    fn sensitive_headers_are_recognised() {
        assert!(is_sensitive_header("Authorization"));
        assert!(is_sensitive_header("X-Api-Key"));
        assert!(!is_sensitive_header("content-type"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 512, failure_persistence: None, ..Default::default() })]

        /// A written port is the port used, or the URL is refused: never another port.
        #[test]
        fn the_port_written_is_the_port_used(
            port in proptest::prop_oneof![0u64..70_000, proptest::prelude::any::<u64>()],
            host in proptest::prop_oneof![
                proptest::prelude::Just("127.0.0.1"),
                proptest::prelude::Just("[::1]"),
                proptest::prelude::Just("api.example"),
            ],
            tls in proptest::prelude::any::<bool>(),
        ) {
            let url = format!("{}://{host}:{port}/p", if tls { "https" } else { "http" });
            match Endpoint::parse(&url) {
                Ok(ep) => proptest::prop_assert_eq!(u64::from(ep.port), port),
                Err(e) => proptest::prop_assert!(!(1..=65535).contains(&port) && e.contains("out of range"), "{e}"),
            }
        }

        /// Any text: an endpoint or an error, never a panic.
        #[test]
        fn any_text_is_an_endpoint_or_an_error(url in "(https?://)?[ -~]{0,40}") {
            let _ = Endpoint::parse(&url);
            let _ = host_and_port(&url);
        }
    }
}

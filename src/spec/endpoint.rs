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
    /// Parse an `http://` or `https://` URL; the error says what is wrong.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let uri: ::http::Uri = url.parse().map_err(|e| format!("{url:?} is not a valid URL: {e}"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(s) => return Err(format!("{url:?}: scheme {s:?} is not supported (use http or https)")),
            None => return Err(format!("{url:?}: the URL needs a scheme (http:// or https://)")),
        };
        let host = uri.host().ok_or_else(|| format!("{url:?}: the URL has no host"))?;
        if url.contains('@') && uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(format!("{url:?}: credentials in the URL are not allowed; use headers_from_env"));
        }
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let path_and_query = uri.path_and_query().map_or("/".to_string(), |p| p.as_str().to_string());
        Ok(Endpoint { tls, host, port, path_and_query })
    }

    /// `host:port` as written in a Host header / HTTP/2 authority.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let default = if self.tls { 443 } else { 80 };
        if self.port == default { host } else { format!("{host}:{}", self.port) }
    }

    /// The URL without credentials, for results.
    pub fn url(&self) -> String {
        format!("{}://{}{}", if self.tls { "https" } else { "http" }, self.authority(), self.path_and_query)
    }

    /// Whether the host is a loopback address (or `localhost`).
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
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
    fn sensitive_headers_are_recognised() {
        assert!(is_sensitive_header("Authorization"));
        assert!(is_sensitive_header("X-Api-Key"));
        assert!(!is_sensitive_header("content-type"));
    }
}

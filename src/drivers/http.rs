//! The generic HTTP target: a fixed method, URL, headers and body; 2xx and 3xx are successes, any
//! other status is counted by its code.

use std::str::FromStr;
use std::sync::Arc;

use ::http::header::{HeaderMap, HeaderName, HeaderValue};
use ::http::{Method, Request, Uri};
use bytes::Bytes;
use http_body_util::Full;

use crate::engine::metrics::Outcome;
use crate::engine::target::{Answer, Classified, Endpoint, Target};
use crate::spec::net::Net;
use crate::spec::{HttpVersion, TargetSpec};

pub struct HttpTarget {
    name: String,
    endpoint: Endpoint,
    version: HttpVersion,
    net: Arc<Net>,
    max_body: u64,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    /// The request serialised once for HTTP/1.1: every request of this target is the same.
    http1: Option<Bytes>,
}

impl HttpTarget {
    pub fn new(spec: &TargetSpec, body_file: Option<&[u8]>) -> Result<HttpTarget, String> {
        let endpoint = Endpoint::parse(spec.url.as_deref().ok_or("an http target needs `url`")?)?;
        let m = spec.method.as_deref().unwrap_or("GET");
        let method = Method::from_str(m).map_err(|_| format!("{m:?} is not an HTTP method"))?;
        let mut headers = HeaderMap::new();
        add_headers(&mut headers, spec)?;
        let body = match (body_file, &spec.body) {
            (Some(b), _) => Bytes::copy_from_slice(b),
            (None, Some(s)) => Bytes::from(s.clone()),
            (None, None) => Bytes::new(),
        };
        let uri = Uri::from_str(&endpoint.path_and_query).map_err(|e| format!("bad path: {e}"))?;
        let mut t = HttpTarget {
            name: spec.name.clone(),
            endpoint,
            version: spec.http_version,
            net: Net::shared_direct(),
            max_body: spec.max_body.unwrap_or(1 << 20),
            method,
            uri,
            headers,
            body,
            http1: None,
        };
        if t.version == HttpVersion::Http1 && t.method != Method::HEAD {
            let mut out = Vec::new();
            crate::engine::h1::serialize(&mut out, t.request(0), t.endpoint.authority().as_bytes());
            t.http1 = Some(Bytes::from(out));
        }
        Ok(t)
    }

    /// Reach the endpoint with `net` (the profile's TLS, proxy and `connect_to`).
    pub fn with_net(mut self, net: Arc<Net>) -> HttpTarget {
        self.net = net;
        self
    }
}

/// A target's `headers`, and its `headers_from_env` with values read from the environment (marked
/// sensitive: never in results), added to `headers`.
pub(crate) fn add_headers(headers: &mut HeaderMap, spec: &TargetSpec) -> Result<(), String> {
    for (k, v) in &spec.headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| format!("header {k:?}: invalid name"))?;
        headers.insert(name, HeaderValue::from_str(v).map_err(|_| format!("header {k:?}: invalid value"))?);
    }
    for (k, var) in &spec.headers_from_env {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| format!("header {k:?}: invalid name"))?;
        let value = std::env::var(var).map_err(|_| format!("header {k:?}: environment variable {var} is not set"))?;
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| format!("header {k:?}: the value of {var} is not a valid header value"))?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    Ok(())
}

impl Target for HttpTarget {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &str {
        "http"
    }
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
    fn http_version(&self) -> HttpVersion {
        self.version
    }
    fn net(&self) -> &Net {
        &self.net
    }
    fn max_body(&self) -> u64 {
        self.max_body
    }
    fn request(&self, _seq: u64) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }
    fn http1_bytes(&self, _seq: u64) -> Option<Bytes> {
        self.http1.clone()
    }
    fn classify(&self, a: &Answer<'_>) -> Classified {
        let s = a.status;
        Classified::final_(if s.is_success() || s.is_redirection() { Outcome::Ok } else { Outcome::Status(s.as_u16()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(extra: &str) -> HttpTarget {
        let spec: TargetSpec =
            toml::from_str(&format!("name = \"t\"\nkind = \"http\"\nurl = \"http://127.0.0.1:8080/a?b=1\"\n{extra}"))
                .unwrap();
        HttpTarget::new(&spec, None).unwrap()
    }

    #[test]
    fn the_serialised_request_is_what_the_request_would_be_sent_as() {
        for extra in ["", "method = \"POST\"\nbody = \"{}\"\nheaders = { x-key = \"v\" }", "method = \"DELETE\""] {
            let t = target(extra);
            let mut expected = Vec::new();
            crate::engine::h1::serialize(&mut expected, t.request(7), b"127.0.0.1:8080");
            assert_eq!(t.http1_bytes(7).as_deref(), Some(&expected[..]), "{extra}");
        }
        let post =
            String::from_utf8(target("method = \"POST\"\nbody = \"{}\"").http1_bytes(0).unwrap().to_vec()).unwrap();
        assert_eq!(post, "POST /a?b=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\ncontent-length: 2\r\n\r\n{}");
    }

    #[test]
    fn head_and_http2_requests_are_built_per_request() {
        assert!(target("method = \"HEAD\"").http1_bytes(0).is_none());
        assert!(target("http_version = \"2\"").http1_bytes(0).is_none());
    }
}

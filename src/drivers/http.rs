//! The generic HTTP target: a method, URL, headers and body; a 2xx (or the statuses the profile lists
//! in `expect_status`, with the text of `expect_body` when given) is a success, any other status is
//! counted by its code. A target without placeholders sends the same request every time,
//! serialised once; one whose URL path or query, header values or body hold placeholders
//! (`{{column}}` of its feeder, `{{seq}}`, …; see `spec::template`) renders them per request from
//! templates compiled once, into a buffer each load thread reuses.

use std::cell::RefCell;
use std::str::FromStr;
use std::sync::Arc;

use ::http::header::{HeaderMap, HeaderName, HeaderValue};
use ::http::{Method, Request, Uri};
use bytes::{Bytes, BytesMut};
use http_body_util::Full;

use super::base::{Base, target_base_methods};
use crate::engine::metrics::Outcome;
use crate::engine::target::{Answer, Classified, Endpoint, Target};
use crate::spec::feeder::Feeder;
use crate::spec::net::Net;
use crate::spec::template::{HttpTemplates, Sink, Template, Values, itoa, split_url};
use crate::spec::{HttpVersion, TargetKind, TargetSpec};

pub struct HttpTarget {
    base: Base,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    /// The request serialised once for HTTP/1.1, when every request of this target is the same.
    http1: Option<Bytes>,
    /// The per-request parts, when the URL, a header or the body holds placeholders.
    templated: Option<Templated>,
    /// Send a request once more after an unanswered attempt (idempotent methods only; validated).
    resend_unanswered: bool,
    /// The statuses that are ok (`None`: any 2xx), and text an ok body must contain.
    expect_status: Option<Vec<u16>>,
    expect_body: Option<Vec<u8>>,
}

/// A header value: fixed, or rendered per request.
enum HeaderPart {
    Fixed(HeaderValue),
    Rendered(Template),
}

/// The body: fixed, or rendered per request.
enum BodyPart {
    Fixed(Bytes),
    Rendered(Template),
}

/// What a templated target renders per request.
struct Templated {
    feeder: Option<Arc<Feeder>>,
    seed: u64,
    clock: bool,
    /// The path and query.
    path: Template,
    /// Every header, in the order they are sent.
    headers: Vec<(HeaderName, HeaderPart)>,
    body: BodyPart,
    /// `host: <authority>\r\n`, unless the profile gives a Host header.
    host_line: Vec<u8>,
    /// Whether Content-Length is written: not when the profile gives one; else when there is a body
    /// or the method usually has one (as `engine::h1::serialize` does).
    length_given: bool,
    usually_has_body: bool,
    /// Whether requests are serialised here for HTTP/1.1 (not HEAD, not HTTP/2).
    http1: bool,
    /// Capacity hint of the head.
    head_hint: usize,
}

thread_local! {
    /// Each load thread's buffers: the serialised request (split off and frozen per request; its
    /// allocation is reclaimed once the requests sent from it are dropped) and the rendered body.
    static BUFFERS: RefCell<(BytesMut, Vec<u8>)> = RefCell::new((BytesMut::new(), Vec::new()));
}

impl Templated {
    fn values(&self, seq: u64) -> Values<'_> {
        Values::new(seq, self.seed, self.feeder.as_deref().map(|f| (f.table(), f.row(seq))), self.clock)
    }

    /// Request `seq` as HTTP/1.1 bytes: what `engine::h1::serialize` makes of [`Templated::request`].
    fn http1(&self, method: &Method, seq: u64) -> Bytes {
        let v = self.values(seq);
        BUFFERS.with(|cell| {
            let mut bufs = cell.borrow_mut();
            let (head, scratch) = &mut *bufs;
            let body: &[u8] = match &self.body {
                BodyPart::Fixed(b) => b,
                BodyPart::Rendered(t) => {
                    scratch.clear();
                    t.render(scratch, &v);
                    scratch
                }
            };
            let need = self.head_hint + body.len();
            if head.capacity() < need {
                head.reserve(need.max(16 * 1024));
            }
            head.put(method.as_str());
            head.put(" ");
            self.path.render(head, &v);
            head.put(" HTTP/1.1\r\n");
            head.extend_from_slice(&self.host_line);
            for (name, part) in &self.headers {
                head.put(name.as_str());
                head.put(": ");
                match part {
                    HeaderPart::Fixed(value) => head.extend_from_slice(value.as_bytes()),
                    HeaderPart::Rendered(t) => t.render(head, &v),
                }
                head.put("\r\n");
            }
            if (!body.is_empty() || self.usually_has_body) && !self.length_given {
                head.put("content-length: ");
                head.put(itoa(body.len() as u64, &mut [0; 20]));
                head.put("\r\n");
            }
            head.put("\r\n");
            head.extend_from_slice(body);
            head.split().freeze()
        })
    }

    /// Request `seq` (HTTP/2, HEAD).
    fn request(&self, method: &Method, fallback: &Uri, seq: u64) -> Request<Full<Bytes>> {
        let v = self.values(seq);
        let body = match &self.body {
            BodyPart::Fixed(b) => b.clone(),
            BodyPart::Rendered(t) => Bytes::from(t.render_string(&v)),
        };
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = method.clone();
        // The path's values are percent-encoded and its literal text was checked at load, so it parses.
        *req.uri_mut() = Uri::from_maybe_shared(Bytes::from(self.path.render_string(&v))).unwrap_or(fallback.clone());
        let headers = req.headers_mut();
        headers.reserve(self.headers.len());
        for (name, part) in &self.headers {
            let value = match part {
                HeaderPart::Fixed(value) => value.clone(),
                // Column values that cannot go in a header were refused at load.
                HeaderPart::Rendered(t) => HeaderValue::from_maybe_shared(Bytes::from(t.render_string(&v)))
                    .unwrap_or(HeaderValue::from_static("")),
            };
            headers.insert(name.clone(), value);
        }
        req
    }
}

impl HttpTarget {
    /// `body_file`: the content of the target's `body_file`; `feeder`: its feeder's rows; `seed`: the
    /// run's (for `{{uuid}}`).
    pub fn new(
        spec: &TargetSpec,
        body_file: Option<&[u8]>,
        feeder: Option<Arc<Feeder>>,
        seed: u64,
    ) -> Result<HttpTarget, String> {
        let url = spec.url.as_deref().ok_or("an http target needs `url`")?;
        let tpl = HttpTemplates::compile(0, spec, body_file, feeder.as_deref().map(|f| (f.file.as_path(), f.table())))
            .map_err(|(field, reason)| format!("{}: {reason}", field.trim_start_matches("targets[0].")))?;
        let mut endpoint = Endpoint::parse(&crate::spec::template::sample(url))?;
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
        if tpl.path.is_some() {
            // Results show the URL as written, placeholders and all.
            let written = split_url(url).1;
            endpoint.path_and_query = if written.starts_with('?') { format!("/{written}") } else { written.into() };
        }
        let mut t = HttpTarget {
            base: Base::new(TargetKind::Http, spec, endpoint),
            method,
            uri,
            headers,
            body,
            http1: None,
            templated: None,
            resend_unanswered: spec.resend_unanswered,
            expect_status: spec.expect_status.clone(),
            expect_body: spec.expect_body.as_ref().map(|b| b.as_bytes().to_vec()),
        };
        if !tpl.is_empty() {
            t.templated = Some(t.templated(tpl, feeder, seed));
            return Ok(t);
        }
        if t.base.version == HttpVersion::Http1 && t.method != Method::HEAD {
            let mut out = Vec::new();
            crate::engine::h1::serialize(&mut out, t.request(0), t.base.endpoint.authority().as_bytes());
            t.http1 = Some(Bytes::from(out));
        }
        Ok(t)
    }

    /// Reach the endpoint with `net` (the profile's TLS, proxy and `connect_to`).
    pub fn with_net(mut self, net: Arc<Net>) -> HttpTarget {
        self.base.net = net;
        self
    }
}

impl HttpTarget {
    /// The per-request parts of a target with placeholders.
    fn templated(&self, tpl: HttpTemplates, feeder: Option<Arc<Feeder>>, seed: u64) -> Templated {
        let clock = tpl.uses_clock();
        let mut rendered: Vec<(HeaderName, Template)> = tpl
            .headers
            .into_iter()
            .filter_map(|(k, t)| HeaderName::from_bytes(k.as_bytes()).ok().map(|n| (n, t)))
            .collect();
        let headers: Vec<(HeaderName, HeaderPart)> = self
            .headers
            .iter()
            .map(|(name, value)| match rendered.iter().position(|(n, _)| n == name) {
                Some(i) => (name.clone(), HeaderPart::Rendered(rendered.swap_remove(i).1)),
                None => (name.clone(), HeaderPart::Fixed(value.clone())),
            })
            .collect();
        let host_line = if self.headers.contains_key(::http::header::HOST) {
            Vec::new()
        } else {
            format!("host: {}\r\n", self.base.endpoint.authority()).into_bytes()
        };
        let path = tpl.path.unwrap_or_else(|| Template::literal(self.uri.path_and_query().map_or("/", |p| p.as_str())));
        let head_hint = 64
            + path.size_hint()
            + host_line.len()
            + headers
                .iter()
                .map(|(n, p)| {
                    n.as_str().len()
                        + 4
                        + match p {
                            HeaderPart::Fixed(v) => v.len(),
                            HeaderPart::Rendered(t) => t.size_hint(),
                        }
                })
                .sum::<usize>();
        Templated {
            feeder,
            seed,
            clock,
            path,
            headers,
            body: match tpl.body {
                Some(t) => BodyPart::Rendered(t),
                None => BodyPart::Fixed(self.body.clone()),
            },
            host_line,
            length_given: self.headers.contains_key(::http::header::CONTENT_LENGTH),
            usually_has_body: matches!(self.method, Method::POST | Method::PUT | Method::PATCH),
            http1: self.base.version == HttpVersion::Http1 && self.method != Method::HEAD,
            head_hint,
        }
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

/// The values of a target's credential headers (`headers_from_env`, and `headers` whose names say
/// credential), to be removed from any text a server sends back.
pub(crate) fn header_secrets(spec: &TargetSpec) -> crate::units::redact::Secrets {
    let mut s = crate::units::redact::Secrets::new();
    for var in spec.headers_from_env.values() {
        if let Ok(v) = std::env::var(var) {
            s = s.with(&v);
        }
    }
    for (k, v) in &spec.headers {
        if crate::spec::endpoint::is_sensitive_header(k) {
            s = s.with(v);
        }
    }
    s
}

impl HttpTarget {
    /// Whether an answer's status is one the profile counts as ok (any 2xx unless it lists them).
    fn status_ok(&self, status: ::http::StatusCode) -> bool {
        match &self.expect_status {
            Some(codes) => codes.contains(&status.as_u16()),
            None => status.is_success(),
        }
    }
}

/// Whether `want` occurs in `body`.
fn contains(body: &[u8], want: &[u8]) -> bool {
    want.is_empty() || body.windows(want.len()).any(|w| w == want)
}

impl Target for HttpTarget {
    target_base_methods!(base);
    fn request(&self, seq: u64) -> Request<Full<Bytes>> {
        if let Some(t) = &self.templated {
            return t.request(&self.method, &self.uri, seq);
        }
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }
    fn http1_bytes(&self, seq: u64) -> Option<Bytes> {
        match &self.templated {
            Some(t) if t.http1 => Some(t.http1(&self.method, seq)),
            Some(_) => None,
            None => self.http1.clone(),
        }
    }
    fn retry_transport(&self, outcome: Outcome, attempt: u32) -> Classified {
        // One resend at once, only when the profile asks (validation allows it for idempotent methods).
        let again = self.resend_unanswered && attempt == 1 && outcome.resendable();
        Classified { outcome, retry_after: again.then_some(std::time::Duration::ZERO) }
    }
    fn wants_body(&self, status: ::http::StatusCode) -> bool {
        self.expect_body.is_some() && self.status_ok(status)
    }
    fn classify(&self, a: &Answer<'_>) -> Classified {
        let outcome = if !self.status_ok(a.status) {
            Outcome::Status(a.status.as_u16())
        } else if self.expect_body.as_deref().is_some_and(|want| !contains(a.body, want)) {
            Outcome::InvalidResponse
        } else {
            Outcome::Ok
        };
        Classified::final_(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(extra: &str) -> HttpTarget {
        let spec: TargetSpec =
            toml::from_str(&format!("name = \"t\"\nkind = \"http\"\nurl = \"http://127.0.0.1:8080/a?b=1\"\n{extra}"))
                .unwrap();
        HttpTarget::new(&spec, None, None, 1).unwrap()
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
    fn a_fixed_target_sends_its_one_preserialised_request() {
        let t = target("method = \"POST\"\nbody = \"{}\"\nheaders = { x-key = \"v\" }");
        assert!(t.templated.is_none());
        let (a, b) = (t.http1_bytes(0).unwrap(), t.http1_bytes(1).unwrap());
        assert_eq!(a.as_ptr(), b.as_ptr(), "the same bytes, not a copy per request");
    }

    fn templated(extra: &str) -> HttpTarget {
        use crate::spec::feeder::{FeederOrder, Table};
        let spec: TargetSpec = toml::from_str(&format!(
            "name = \"t\"\nkind = \"http\"\nurl = \"http://127.0.0.1:8080/u/{{{{name}}}}?n={{{{seq}}}}\"\n{extra}"
        ))
        .unwrap();
        let table = Table::parse("name,id\n\"Lee, Ann\",7\nBo,8\n".as_bytes()).unwrap();
        let feeder = Feeder::new("u.csv".into(), table, FeederOrder::Sequential, 1);
        HttpTarget::new(&spec, None, Some(Arc::new(feeder)), 5).unwrap()
    }

    #[test]
    fn templated_requests_are_serialised_as_the_request_would_be() {
        for extra in [
            "",
            "method = \"POST\"\nbody = '{\"id\":{{id}},\"u\":\"{{uuid}}\"}'\nheaders = { x-id = \"{{id}}-{{seq}}\", x-fixed = \"f\" }",
            "method = \"PUT\"\nheaders = { host = \"example.test\", x-name = \"{{name}}\" }",
            "method = \"DELETE\"\nbody = \"{{name}}\"",
        ] {
            let t = templated(extra);
            assert!(t.templated.is_some(), "{extra}");
            for seq in 0..4 {
                let mut expected = Vec::new();
                crate::engine::h1::serialize(&mut expected, t.request(seq), b"127.0.0.1:8080");
                let got = t.http1_bytes(seq).unwrap();
                assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&expected), "{extra} #{seq}");
            }
        }
        let t = templated("method = \"POST\"\nbody = '{\"id\":{{id}}}'\nheaders = { x-id = \"{{id}}-{{seq}}\" }");
        let text = |seq| String::from_utf8(t.http1_bytes(seq).unwrap().to_vec()).unwrap();
        assert_eq!(
            text(0),
            "POST /u/Lee%2C%20Ann?n=0 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nx-id: 7-0\r\ncontent-length: 8\r\n\r\n{\"id\":7}"
        );
        assert!(text(3).starts_with("POST /u/Bo?n=3 HTTP/1.1\r\n") && text(3).contains("x-id: 8-3\r\n"), "{}", text(3));
        assert_eq!(t.endpoint().url(), "http://127.0.0.1:8080/u/{{name}}?n={{seq}}", "results show the URL as written");
    }

    #[test]
    fn templated_http2_and_head_requests_are_rendered_per_request() {
        let t =
            templated("http_version = \"2\"\nmethod = \"POST\"\nbody = \"{{name}}\"\nheaders = { x-id = \"{{id}}\" }");
        assert!(t.http1_bytes(0).is_none());
        let r = t.request(1);
        assert_eq!(r.uri().to_string(), "/u/Bo?n=1");
        assert_eq!(r.headers()["x-id"], "8");
        let head = templated("method = \"HEAD\"");
        assert!(head.http1_bytes(0).is_none());
        assert_eq!(head.request(2).uri().to_string(), "/u/Lee%2C%20Ann?n=2");
    }

    #[test]
    fn head_and_http2_requests_are_built_per_request() {
        assert!(target("method = \"HEAD\"").http1_bytes(0).is_none());
        assert!(target("http_version = \"2\"").http1_bytes(0).is_none());
    }
}

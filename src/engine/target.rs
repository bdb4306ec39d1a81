//! The [`Target`] trait: what a request looks like and how a response is classified. The drivers
//! implement it (plain HTTP, the WhatsApp APIs); the transport (connections, TLS, HTTP/1.1 and HTTP/2)
//! is in `engine::conn` and knows nothing of any API.

use ::http::{Request, StatusCode};
use bytes::Bytes;
use http_body_util::Full;

use super::metrics::Outcome;
use crate::spec::HttpVersion;
pub use crate::spec::endpoint::Endpoint;
pub use crate::spec::net::Net;

/// A response as the target sees it.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// The message number and the attempt (1 = first).
    pub seq: u64,
    pub attempt: u32,
    pub status: StatusCode,
    /// The body, when [`Target::wants_body`] asked for it (else empty).
    pub body: &'a [u8],
    /// When the request started and when the response ended.
    pub started: std::time::Instant,
    pub done: std::time::Instant,
}

/// How a response was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified {
    pub outcome: Outcome,
    /// Send the same message again after this wait (counted as a retry, not a new message).
    pub retry_after: Option<std::time::Duration>,
}

impl Classified {
    pub fn final_(outcome: Outcome) -> Classified {
        Classified { outcome, retry_after: None }
    }
}

/// One endpoint under test: builds request `seq` and classifies responses.
/// Implementations are shared by all load threads, so they are `Send + Sync` and cheap per call.
pub trait Target: Send + Sync + 'static {
    /// Name used in results.
    fn name(&self) -> &str;
    /// `http`, `cloud`, `onprem`, …
    fn kind(&self) -> &str;
    fn endpoint(&self) -> &Endpoint;
    fn http_version(&self) -> HttpVersion;
    /// How connections reach the endpoint (TLS trust and identity, proxy, `connect_to`); by default
    /// directly, trusting the system store and the bundled roots.
    fn net(&self) -> &Net {
        static DIRECT: std::sync::OnceLock<std::sync::Arc<Net>> = std::sync::OnceLock::new();
        DIRECT.get_or_init(Net::shared_direct)
    }
    /// Longest response body read; longer is [`Outcome::BodyTooLarge`].
    fn max_body(&self) -> u64 {
        1 << 20
    }
    /// The request to send as number `seq` of the run. The URI is in origin form ("/path?q");
    /// the transport adds the authority for HTTP/2 and the Host header for HTTP/1.1.
    fn request(&self, seq: u64) -> Request<Full<Bytes>>;
    /// Request `seq` already serialised for HTTP/1.1 (request line, headers with Host, body), when
    /// the target can give it more cheaply than [`Target::request`] (e.g. the same bytes every time);
    /// the HTTP/1.1 transport then writes it as is. It must be what `request(seq)` would be sent as,
    /// and never a HEAD request. `None` (the default): the transport serialises `request(seq)`.
    fn http1_bytes(&self, _seq: u64) -> Option<Bytes> {
        None
    }
    /// Whether `classify` needs the body of a response with this status (else it is discarded unread
    /// into memory, only counted against `max_body`).
    fn wants_body(&self, _status: StatusCode) -> bool {
        false
    }
    fn classify(&self, answer: &Answer<'_>) -> Classified;
    /// How attempt `attempt` that got no answer (timeout, connection or TLS failure, broken response)
    /// is judged: by default final, as `outcome`. A target may ask for another attempt.
    fn retry_transport(&self, outcome: Outcome, _attempt: u32) -> Classified {
        Classified::final_(outcome)
    }
    /// Attempt `attempt` of request `seq`, due at `intended`, is about to be sent (called before
    /// [`Target::request`]); a target that times something beyond the answer starts from here.
    fn starting(&self, _seq: u64, _attempt: u32, _intended: std::time::Instant) {}
    /// Request `seq` ended with `outcome` and will not be attempted again.
    fn ended(&self, _seq: u64, _outcome: Outcome) {}
    /// Who request `seq` is addressed to (a WhatsApp message's recipient), for the list of attempts
    /// whose fate is unknown; `None` (the default) for targets without recipients.
    fn recipient(&self, _seq: u64) -> Option<String> {
        None
    }
    /// The id the API gave the message in `answer` (a WhatsApp message id), for a traced request that
    /// was accepted; `None` (the default) for targets without one. Asked only of traced requests.
    fn message_id(&self, _answer: &Answer<'_>) -> Option<String> {
        None
    }
    /// Counters of the target's own (e.g. logins), for results.
    fn extra(&self) -> Option<serde_json::Value> {
        None
    }
}

//! HTTP/1.1 message framing, without I/O: how long a message's body is (RFC 9112, section 6), whether
//! its connection stays open, and a chunked-body decoder with caps. The load path's client
//! (`engine::h1`) and the simulator's server (`sim::h1`) both frame messages here, so they cannot
//! disagree on an edge case; each of them is only an I/O loop around it.
//!
//! Framed as hyper frames it (the tests compare the two): `Content-Length` is digits only, a request's
//! `Transfer-Encoding` must end with `chunked`, it wins over `Content-Length` (and the connection closes
//! after such a message), and an HTTP/1.0 message has none. Chunk sizes are hex digits only (no sign,
//! no `0x`), at most 16 of them, summed with overflow checks; extensions and trailers have caps in all.

/// Longest chunk-size line (size, extensions, CRLF).
pub const MAX_CHUNK_LINE: usize = 4096;
/// Most bytes of chunk extensions in one body, in all (hyper's limit).
pub const MAX_EXTENSIONS: usize = 16 * 1024;
/// Most bytes of trailer fields after the last chunk, and most fields (hyper's limits).
pub const MAX_TRAILERS: usize = 16 * 1024;
pub const MAX_TRAILER_FIELDS: usize = 100;

/// What a message is: a request, or the answer to one (its status, and whether the request was HEAD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Request,
    Response { status: u16, to_head: bool },
}

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding ([`ChunkedDecoder`]).
    Chunked,
    /// Until the connection closes (responses only).
    UntilClose,
}

/// A message's framing: its body and whether its connection may carry another message after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    pub body: Body,
    pub keep_alive: bool,
}

/// Why a message's framing cannot be read: the message must be refused (a server answers 400 and
/// closes; a client drops the connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// A `Content-Length` that is not digits only, or too large.
    BadContentLength,
    /// Several `Content-Length` values that differ.
    ConflictingContentLengths,
    /// A request whose `Transfer-Encoding` does not end with `chunked`.
    BadTransferEncoding,
    /// `Transfer-Encoding` in an HTTP/1.0 message, which has no transfer codings.
    TransferEncodingInHttp10,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FrameError::BadContentLength => "Content-Length is not a number of bytes",
            FrameError::ConflictingContentLengths => "several Content-Length values differ",
            FrameError::BadTransferEncoding => "Transfer-Encoding does not end with chunked",
            FrameError::TransferEncodingInHttp10 => "Transfer-Encoding in an HTTP/1.0 message",
        })
    }
}

/// The framing of a message with these headers (name, value); `http10`: its version is HTTP/1.0.
/// Decided as hyper decides it: `Transfer-Encoding` wins over `Content-Length` (and the connection then
/// closes after the message), a request's codings must end with `chunked`, a response's that do not run
/// until the close, and HTTP/1.0 has no transfer codings.
pub fn framing<'a>(
    role: Role,
    http10: bool,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<Framing, FrameError> {
    let request = role == Role::Request;
    let mut length: Option<u64> = None;
    let (mut te, mut chunked, mut cl_seen) = (false, false, false);
    let (mut close, mut keep_alive_token) = (false, false);
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("content-length") {
            cl_seen = true;
            if te {
                continue;
            }
            // A request's value is one number; a response's may be a list of equal numbers.
            let n = if request {
                digits(value.trim_ascii()).ok_or(FrameError::BadContentLength)?
            } else {
                content_length(value)?
            };
            if length.is_some_and(|l| l != n) {
                return Err(FrameError::ConflictingContentLengths);
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if http10 {
                return Err(FrameError::TransferEncodingInHttp10);
            }
            te = true;
            length = None;
            // Only the final coding decides whether the length is known.
            chunked =
                value.rsplit(|&b| b == b',').next().is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            for t in tokens(value) {
                close |= t.eq_ignore_ascii_case(b"close");
                keep_alive_token |= t.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    // HTTP/1.0 closes unless asked not to; both framings at once close after the message.
    let closes = close || (http10 && !keep_alive_token) || (te && cl_seen);
    let keep_alive = !closes;
    let body = match role {
        Role::Request if te && !chunked => return Err(FrameError::BadTransferEncoding),
        Role::Request if te => Body::Chunked,
        Role::Request => match length {
            None | Some(0) => Body::None,
            Some(n) => Body::Length(n),
        },
        Role::Response { status, to_head } => {
            if to_head || (100..200).contains(&status) || status == 204 || status == 304 {
                Body::None
            } else if te {
                // Codings that do not end with chunked leave only the close to end the body.
                if chunked { Body::Chunked } else { Body::UntilClose }
            } else {
                match length {
                    Some(0) => Body::None,
                    Some(n) => Body::Length(n),
                    None => Body::UntilClose,
                }
            }
        }
    };
    Ok(Framing { keep_alive: keep_alive && body != Body::UntilClose, body })
}

/// Digits only, at most `u64::MAX`.
fn digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(
        0u64,
        |n, &d| if d.is_ascii_digit() { n.checked_mul(10)?.checked_add(u64::from(d - b'0')) } else { None },
    )
}

/// A response's `Content-Length` value: a comma-separated list of equal numbers is that number.
fn content_length(value: &[u8]) -> Result<u64, FrameError> {
    let mut found: Option<u64> = None;
    for part in value.split(|&b| b == b',') {
        let n = digits(part.trim_ascii()).ok_or(FrameError::BadContentLength)?;
        if found.is_some_and(|f| f != n) {
            return Err(FrameError::ConflictingContentLengths);
        }
        found = Some(n);
    }
    found.ok_or(FrameError::BadContentLength)
}

/// The non-empty comma-separated tokens of a header value, trimmed.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(<[u8]>::trim_ascii).filter(|t| !t.is_empty())
}

/// Whether a comma-separated header value holds `token` (case-insensitive).
pub fn has_token(value: &[u8], token: &[u8]) -> bool {
    tokens(value).any(|t| t.eq_ignore_ascii_case(token))
}

/// Why a chunked body cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// A size line that is not hex digits (with optional extensions), or a chunk not followed by CRLF.
    Malformed,
    /// A size line or the trailers beyond their caps.
    TooLong,
    /// The body is larger than the caller's cap (or than 2^64 − 1 bytes).
    TooLarge,
}

/// What the decoder made of the start of the input it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The first n bytes were framing (a size line, a chunk's CRLF, a trailer line): drop them.
    Framing(usize),
    /// The first n bytes are body data: take them, then drop them.
    Data(usize),
    /// Nothing can be decided yet: read more and call again with the input extended.
    NeedMore,
    /// The first n bytes end the body (the last trailer line or the empty line): drop them; done.
    Done(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

/// A chunked body decoded step by step from whatever bytes have arrived (any split reads the same).
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    total: u64,
    max_body: u64,
    extension_bytes: usize,
    trailer_bytes: usize,
    trailer_fields: usize,
}

impl ChunkedDecoder {
    /// A decoder for a body of at most `max_body` bytes.
    pub fn new(max_body: u64) -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size,
            total: 0,
            max_body,
            extension_bytes: 0,
            trailer_bytes: 0,
            trailer_fields: 0,
        }
    }

    /// Body bytes decoded so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Whether the body has ended.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decode from the start of `input` (the bytes not yet dropped).
    pub fn step(&mut self, input: &[u8]) -> Result<Step, ChunkError> {
        match self.state {
            State::Done => Ok(Step::Done(0)),
            State::Size => {
                let Some(end) = line_end(input) else {
                    return if input.len() > MAX_CHUNK_LINE { Err(ChunkError::TooLong) } else { Ok(Step::NeedMore) };
                };
                if end + 2 > MAX_CHUNK_LINE {
                    return Err(ChunkError::TooLong);
                }
                let line = &input[..end];
                let size = chunk_size(line)?;
                self.extension_bytes += line.iter().position(|&b| b == b';').map_or(0, |i| end - i);
                if self.extension_bytes > MAX_EXTENSIONS {
                    return Err(ChunkError::TooLong);
                }
                self.total = self.total.checked_add(size).ok_or(ChunkError::TooLarge)?;
                if self.total > self.max_body {
                    return Err(ChunkError::TooLarge);
                }
                self.state = if size == 0 { State::Trailers } else { State::Data(size) };
                Ok(Step::Framing(end + 2))
            }
            State::Data(left) => {
                if input.is_empty() {
                    return Ok(Step::NeedMore);
                }
                let n = (input.len() as u64).min(left);
                self.state = if n == left { State::DataEnd } else { State::Data(left - n) };
                Ok(Step::Data(n as usize))
            }
            State::DataEnd => match input {
                [b'\r', b'\n', ..] => {
                    self.state = State::Size;
                    Ok(Step::Framing(2))
                }
                [] | [b'\r'] => Ok(Step::NeedMore),
                _ => Err(ChunkError::Malformed),
            },
            State::Trailers => {
                let Some(end) = line_end(input) else {
                    return if self.trailer_bytes + input.len() > MAX_TRAILERS {
                        Err(ChunkError::TooLong)
                    } else {
                        Ok(Step::NeedMore)
                    };
                };
                self.trailer_bytes += end + 2;
                self.trailer_fields += usize::from(end > 0);
                if self.trailer_bytes > MAX_TRAILERS || self.trailer_fields > MAX_TRAILER_FIELDS {
                    return Err(ChunkError::TooLong);
                }
                if end == 0 {
                    self.state = State::Done;
                    return Ok(Step::Done(2));
                }
                if !input[..end].contains(&b':') {
                    return Err(ChunkError::Malformed);
                }
                Ok(Step::Framing(end + 2))
            }
        }
    }
}

/// Where the first CRLF starts.
fn line_end(input: &[u8]) -> Option<usize> {
    input.windows(2).position(|w| w == b"\r\n")
}

/// The size of a chunk-size line (without its CRLF): 1 to 16 hex digits, optional whitespace, then
/// optional `;extensions`.
fn chunk_size(line: &[u8]) -> Result<u64, ChunkError> {
    let digits_end = line.iter().position(|b| !b.is_ascii_hexdigit()).unwrap_or(line.len());
    let (digits, rest) = line.split_at(digits_end);
    if digits.is_empty() || digits.len() > 16 {
        return Err(ChunkError::Malformed);
    }
    let rest = rest.trim_ascii_start();
    if !(rest.is_empty() || rest[0] == b';') || rest.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(ChunkError::Malformed);
    }
    let size = digits.iter().fold(0u64, |n, &d| (n << 4) | u64::from((d as char).to_digit(16).unwrap_or(0)));
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)]) -> Result<Framing, FrameError> {
        framing(Role::Request, false, headers.iter().map(|(n, v)| (*n, v.as_bytes())))
    }

    fn resp(status: u16, headers: &[(&str, &str)]) -> Result<Framing, FrameError> {
        framing(Role::Response { status, to_head: false }, false, headers.iter().map(|(n, v)| (*n, v.as_bytes())))
    }

    #[test]
    fn lengths_are_digits_only() {
        assert_eq!(req(&[("Content-Length", "5")]).unwrap().body, Body::Length(5));
        assert_eq!(req(&[("content-length", "5"), ("Content-Length", "5")]).unwrap().body, Body::Length(5));
        assert_eq!(req(&[("content-length", "5, 5")]), Err(FrameError::BadContentLength), "one number in a request");
        assert_eq!(resp(200, &[("content-length", "5, 5")]).unwrap().body, Body::Length(5));
        assert_eq!(req(&[("Content-Length", "0")]).unwrap().body, Body::None);
        for bad in ["+5", "-1", "0x10", "5 5", "", " ", "1e3", "99999999999999999999"] {
            assert_eq!(req(&[("Content-Length", bad)]), Err(FrameError::BadContentLength), "{bad:?}");
        }
        assert_eq!(
            req(&[("Content-Length", "5"), ("Content-Length", "6")]),
            Err(FrameError::ConflictingContentLengths)
        );
        assert_eq!(resp(200, &[("Content-Length", "5, 6")]), Err(FrameError::ConflictingContentLengths));
    }

    #[test]
    fn transfer_codings_end_with_chunked_and_exclude_a_length() {
        assert_eq!(req(&[("Transfer-Encoding", "chunked")]).unwrap().body, Body::Chunked);
        assert_eq!(req(&[("Transfer-Encoding", "gzip, CHUNKED")]).unwrap().body, Body::Chunked);
        assert_eq!(
            req(&[("Transfer-Encoding", "gzip"), ("Transfer-Encoding", "chunked")]).unwrap().body,
            Body::Chunked
        );
        assert_eq!(req(&[("Transfer-Encoding", "chunked, gzip")]), Err(FrameError::BadTransferEncoding));
        assert_eq!(req(&[("Transfer-Encoding", "gzip")]), Err(FrameError::BadTransferEncoding));
        // Both: the coding wins, and the connection closes after the message.
        let both = req(&[("Transfer-Encoding", "chunked"), ("Content-Length", "3")]).unwrap();
        assert_eq!(both, Framing { body: Body::Chunked, keep_alive: false });
        let both = req(&[("Content-Length", "3"), ("Transfer-Encoding", "chunked")]).unwrap();
        assert_eq!(both, Framing { body: Body::Chunked, keep_alive: false });
        let http10 = framing(Role::Request, true, [("Transfer-Encoding", &b"chunked"[..])]);
        assert_eq!(http10, Err(FrameError::TransferEncodingInHttp10));
        // A response whose codings do not end with chunked runs until the close.
        let r = resp(200, &[("Transfer-Encoding", "gzip")]).unwrap();
        assert_eq!((r.body, r.keep_alive), (Body::UntilClose, false));
    }

    #[test]
    fn responses_without_bodies_and_connection_tokens() {
        assert_eq!(resp(204, &[("Content-Length", "10")]).unwrap().body, Body::None);
        assert_eq!(resp(304, &[]).unwrap().body, Body::None);
        assert_eq!(resp(101, &[]).unwrap().body, Body::None);
        let head = framing(Role::Response { status: 200, to_head: true }, false, [("Content-Length", &b"9"[..])]);
        assert_eq!(head.unwrap().body, Body::None);
        assert_eq!(resp(200, &[]).unwrap(), Framing { body: Body::UntilClose, keep_alive: false });
        assert!(!resp(200, &[("Connection", "keep-alive, Close"), ("Content-Length", "1")]).unwrap().keep_alive);
        assert!(resp(200, &[("Content-Length", "1")]).unwrap().keep_alive);
        let ten = |h: &[(&'static str, &'static [u8])]| framing(Role::Request, true, h.iter().copied()).unwrap();
        assert!(!ten(&[]).keep_alive, "HTTP/1.0 closes unless asked");
        assert!(ten(&[("Connection", b"Keep-Alive")]).keep_alive);
        assert_eq!(req(&[]).unwrap(), Framing { body: Body::None, keep_alive: true });
    }

    /// Decode `input` delivered in pieces of `piece` bytes; the body, or the error.
    fn decode_in_pieces(input: &[u8], piece: usize, max: u64) -> Result<(Vec<u8>, usize), ChunkError> {
        let mut d = ChunkedDecoder::new(max);
        let mut buf: Vec<u8> = Vec::new();
        let mut fed = 0;
        let mut body = Vec::new();
        let mut used = 0;
        loop {
            match d.step(&buf)? {
                Step::Framing(n) => {
                    buf.drain(..n);
                    used += n;
                }
                Step::Data(n) => {
                    body.extend(buf.drain(..n));
                    used += n;
                }
                Step::Done(n) => {
                    buf.drain(..n);
                    return Ok((body, used + n));
                }
                Step::NeedMore => {
                    if fed >= input.len() {
                        return Err(ChunkError::Malformed);
                    }
                    let end = (fed + piece).min(input.len());
                    buf.extend_from_slice(&input[fed..end]);
                    fed = end;
                }
            }
        }
    }

    #[test]
    fn every_split_of_a_chunked_body_reads_the_same() {
        let msg = b"3;ext=\"a b\"\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\nNEXT";
        let whole = decode_in_pieces(msg, msg.len(), 1024).unwrap();
        assert_eq!(whole.0, b"abc0123456789abcdef");
        assert_eq!(&msg[whole.1..], b"NEXT", "the decoder stops at the body's end");
        for piece in 1..msg.len() {
            assert_eq!(decode_in_pieces(msg, piece, 1024).unwrap(), whole, "pieces of {piece}");
        }
    }

    #[test]
    fn hostile_chunks_are_refused_not_wrapped() {
        let err = |m: &[u8]| decode_in_pieces(m, m.len(), u64::MAX).unwrap_err();
        // 2 + fffffffffffffffe overflows a u64.
        assert_eq!(err(b"2\r\nab\r\nfffffffffffffffe\r\n"), ChunkError::TooLarge);
        assert_eq!(err(b"11111111111111111\r\n"), ChunkError::Malformed, "more than 16 digits");
        for bad in [&b"+5\r\n"[..], b"-1\r\n", b"0x5\r\n", b"\r\n", b"zz\r\n", b"5 x\r\n", b"3\r\nabcX"] {
            assert_eq!(err(bad), ChunkError::Malformed, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(err(b"0\r\nno colon\r\n\r\n"), ChunkError::Malformed);
        let long_ext = [b"1;".as_slice(), &vec![b'a'; MAX_CHUNK_LINE], b"\r\n"].concat();
        assert_eq!(err(&long_ext), ChunkError::TooLong);
        let mut trailers = b"0\r\n".to_vec();
        for _ in 0..(MAX_TRAILERS / 10 + 1) {
            trailers.extend_from_slice(b"X-T: 1234\r\n");
        }
        assert_eq!(err(&trailers), ChunkError::TooLong);
        let many: Vec<u8> = [b"0\r\n".as_slice(), &b"A: 1\r\n".repeat(MAX_TRAILER_FIELDS + 1), b"\r\n"].concat();
        assert_eq!(err(&many), ChunkError::TooLong);
        let ext = [b"1;".as_slice(), &[b'e'; 4000], b"\r\nx\r\n"].concat();
        let exts: Vec<u8> = [ext.repeat(MAX_EXTENSIONS / 4000 + 1), b"0\r\n\r\n".to_vec()].concat();
        assert_eq!(err(&exts), ChunkError::TooLong, "extensions are capped in all");
        assert_eq!(decode_in_pieces(b"5\r\nhello\r\n0\r\n\r\n", 3, 4).unwrap_err(), ChunkError::TooLarge);
    }
}

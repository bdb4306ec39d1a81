//! `X-Hub-Signature-256` signing and constant-time verification of webhook bodies.
//!
//! Cloud API webhooks carry `X-Hub-Signature-256: sha256=<hex>` where `<hex>` is the lowercase
//! hexadecimal HMAC-SHA256 of the raw request body keyed with the app secret. The receiver must
//! verify it on the raw bytes before parsing anything.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Name of the HTTP header carrying the body signature.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Scheme prefix of the header value.
pub const PREFIX: &str = "sha256=";

/// Length of an HMAC-SHA256 tag in bytes.
const TAG_LEN: usize = 32;

/// Why a signature header was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The request carried no `X-Hub-Signature-256` header.
    #[error("missing X-Hub-Signature-256 header")]
    Missing,
    /// The header value does not start with `sha256=`.
    #[error("signature header does not start with \"sha256=\"")]
    WrongPrefix,
    /// The part after `sha256=` is not valid hexadecimal.
    #[error("signature is not valid hexadecimal")]
    BadHex,
    /// The signature does not match the body (or has the wrong length).
    #[error("signature does not match the body")]
    Mismatch,
}

/// Signs `body` with `secret`, returning the header value `sha256=<lowercase hex>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    Verifier::new(secret).sign(body)
}

/// Verifies the header value `header` against `body` in constant time.
///
/// `header` is the raw value of `X-Hub-Signature-256`, `None` when the header is absent.
pub fn verify(secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    Verifier::new(secret).verify(body, header)
}

/// A keyed HMAC prepared once and reused for many bodies (the key schedule is computed at
/// construction, so each verification only hashes the body).
#[derive(Clone)]
pub struct Verifier {
    keyed: HmacSha256,
}

impl Verifier {
    /// Prepares a verifier for `secret`. Any key length is accepted.
    pub fn new(secret: &[u8]) -> Self {
        let keyed = <HmacSha256 as KeyInit>::new_from_slice(secret).expect("HMAC accepts keys of any length");
        Self { keyed }
    }

    /// Signs `body`, returning `sha256=<lowercase hex>`.
    pub fn sign(&self, body: &[u8]) -> String {
        let mut mac = self.keyed.clone();
        mac.update(body);
        let tag = mac.finalize().into_bytes();
        let mut out = String::with_capacity(PREFIX.len() + 2 * TAG_LEN);
        out.push_str(PREFIX);
        out.push_str(&hex::encode(tag));
        out
    }

    /// Verifies `header` against `body`. The comparison of the tag is constant time.
    pub fn verify(&self, body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
        let mut check = self.start(header)?;
        check.update(body);
        check.finish()
    }

    /// Starts checking a body that arrives in pieces: the header is decoded now (so a malformed one
    /// is refused before any of the body is read), each piece is hashed as it comes
    /// ([`Check::update`]) and [`Check::finish`] compares the tags.
    pub fn start(&self, header: Option<&str>) -> Result<Check, SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        let hex_part = header.trim().strip_prefix(PREFIX).ok_or(SignatureError::WrongPrefix)?;
        // Decode into a fixed buffer: a valid tag is exactly 64 hex digits.
        let mut tag = [0u8; TAG_LEN];
        if hex_part.len() != 2 * TAG_LEN {
            return if hex_part.bytes().all(|b| b.is_ascii_hexdigit()) && hex_part.len() % 2 == 0 {
                Err(SignatureError::Mismatch)
            } else {
                Err(SignatureError::BadHex)
            };
        }
        hex::decode_to_slice(hex_part, &mut tag).map_err(|_| SignatureError::BadHex)?;
        Ok(Check { mac: self.keyed.clone(), tag })
    }
}

/// The signature check of one body, fed as the body streams in.
pub struct Check {
    mac: HmacSha256,
    tag: [u8; TAG_LEN],
}

impl Check {
    /// Hashes the next piece of the body.
    pub fn update(&mut self, piece: &[u8]) {
        self.mac.update(piece);
    }

    /// Whether the whole body matched the header's tag (compared in constant time).
    pub fn finish(self) -> Result<(), SignatureError> {
        self.mac.verify_slice(&self.tag).map_err(|_| SignatureError::Mismatch)
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier { key: <redacted> }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let sig = sign(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert_eq!(verify(b"Jefe", b"what do ya want for nothing?", Some(&sig)), Ok(()));
    }

    #[test]
    fn uppercase_hex_is_accepted() {
        let sig = sign(b"k", b"body");
        let upper = format!("sha256={}", sig[PREFIX.len()..].to_ascii_uppercase());
        assert_eq!(verify(b"k", b"body", Some(&upper)), Ok(()));
    }

    #[test]
    fn short_and_odd_tags() {
        assert_eq!(verify(b"k", b"body", Some("sha256=abcd")), Err(SignatureError::Mismatch));
        assert_eq!(verify(b"k", b"body", Some("sha256=abc")), Err(SignatureError::BadHex));
        assert_eq!(verify(b"k", b"body", Some("sha256=")), Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_body_checked_in_pieces_is_checked_as_a_whole() {
        let v = Verifier::new(b"k");
        let body = b"{\"entry\":[1,2,3]}";
        let sig = v.sign(body);
        for cut in 0..=body.len() {
            let mut c = v.start(Some(&sig)).unwrap();
            c.update(&body[..cut]);
            c.update(&body[cut..]);
            assert_eq!(c.finish(), Ok(()), "cut at {cut}");
        }
        let mut c = v.start(Some(&sig)).unwrap();
        c.update(&body[1..]);
        assert_eq!(c.finish(), Err(SignatureError::Mismatch));
        assert_eq!(v.start(Some("sha1=00")).err(), Some(SignatureError::WrongPrefix));
        assert_eq!(v.start(None).err(), Some(SignatureError::Missing));
    }
}

//! Outcome keys for imported requests, the same keys a wabench run writes: `ok`, `http_<status>`,
//! `api_<code>` (a WhatsApp error code found in a saved response body), `timeout`, `connect_error`,
//! `tls_error`, `io_error`, and `assertion_failed` (the tool judged a 2xx answer a failure).

/// The outcome of an HTTP answer: `status` as the tool wrote it, `success` when the tool judged it,
/// `text` any saved message or body that may hold a WhatsApp error object.
pub fn http(status: u16, success: Option<bool>, text: &[&str]) -> String {
    let good_status = (200..400).contains(&status);
    match success.unwrap_or(good_status) {
        true => "ok".into(),
        false => match text.iter().find_map(|t| whatsapp_code(t)) {
            Some(code) => format!("api_{code}"),
            None if good_status => "assertion_failed".into(),
            None => format!("http_{status}"),
        },
    }
}

/// The outcome of a request that got no HTTP answer, from the tool's error text.
pub fn failure(text: &str) -> String {
    let t = text.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if has(&["timeout", "timed out", "deadline exceeded"]) {
        "timeout"
    } else if has(&["ssl", "tls", "handshake", "certificate", "x509"]) {
        "tls_error"
    } else if has(&["connect", "refused", "unknownhost", "no route", "no such host", "dial", "unreachable"]) {
        "connect_error"
    } else {
        "io_error"
    }
    .into()
}

/// The `code` of a WhatsApp / Graph API error object (`{"error":{…,"code":131056,…}}`) or of the first
/// entry of an On-Premises `errors` array, when `text` holds one.
pub fn whatsapp_code(text: &str) -> Option<u64> {
    let at = text.find("\"error\"").or_else(|| text.find("\"errors\""))?;
    let rest = &text[at..];
    let k = rest.find("\"code\"")?;
    let after = rest[k + "\"code\"".len()..].trim_start().strip_prefix(':')?.trim_start();
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_like_a_run() {
        assert_eq!(http(200, Some(true), &[]), "ok");
        assert_eq!(http(200, None, &[]), "ok");
        assert_eq!(http(503, None, &[]), "http_503");
        assert_eq!(http(503, Some(false), &["Service Unavailable"]), "http_503");
        assert_eq!(http(200, Some(false), &["Response was null"]), "assertion_failed");
        let body = r#"{"error":{"message":"(#131056) (Business Account, Consumer Account) pair rate limit hit","type":"OAuthException","code": 131056,"fbtrace_id":"A"}}"#;
        assert_eq!(http(400, Some(false), &["", body]), "api_131056");
        let onprem = r#"{"errors":[{"code":1015,"title":"Too many requests"}]}"#;
        assert_eq!(http(429, None, &[onprem]), "api_1015");
    }

    #[test]
    fn failures_are_classified_from_their_text() {
        assert_eq!(failure("Non HTTP response code: java.net.SocketTimeoutException"), "timeout");
        assert_eq!(failure("Get \"http://x\": context deadline exceeded (Client.Timeout exceeded)"), "timeout");
        assert_eq!(failure("Non HTTP response code: java.net.ConnectException"), "connect_error");
        assert_eq!(failure("dial tcp 127.0.0.1:1: connect: connection refused"), "connect_error");
        assert_eq!(failure("Non HTTP response code: javax.net.ssl.SSLHandshakeException"), "tls_error");
        assert_eq!(failure("Non HTTP response code: org.apache.http.NoHttpResponseException"), "io_error");
        assert_eq!(whatsapp_code("no json here"), None);
    }
}

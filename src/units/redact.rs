//! What may be shown of text wabench does not control: one path for every message, result field or
//! report cell that can carry a URL, a server's words or a header. A URL loses its userinfo
//! (`user:password@`) and the values of query parameters that look like credentials
//! (`access_token`, `token`, `key`, `secret`, `password`, `signature` …); a server's text loses every
//! occurrence of the secrets the process holds (and their HTTP Basic and base64 spellings), its
//! control characters, and is cut to a length. It must not decide what a secret is beyond these
//! rules, nor print anything itself.

use base64::Engine;

/// Shown in place of what was removed.
pub const REDACTED: &str = "<redacted>";

/// Longest server-provided text shown in a message, in characters.
pub const MAX_ECHO: usize = 300;

/// Whether a query parameter's name says its value is a credential.
pub fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    const PARTS: [&str; 9] = ["token", "key", "secret", "pass", "pwd", "auth", "signature", "credential", "session"];
    PARTS.iter().any(|p| n.contains(p)) || n == "sig" || n == "code"
}

/// A URL as it may be shown: userinfo replaced by `<redacted>` and the values of credential-like
/// query parameters too. Text that is not a URL is returned unchanged, except that anything before an
/// `@` of what could be its authority is removed.
pub fn url(url: &str) -> String {
    let (head, rest) = match url.split_once("://") {
        Some((scheme, rest)) if !scheme.is_empty() && !scheme.contains(['/', '?', '#', '@']) => {
            (format!("{scheme}://"), rest)
        }
        _ => (String::new(), url),
    };
    let rest = strip_userinfo(rest, !head.is_empty());
    let (before_frag, frag) = match rest.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (rest.as_str(), None),
    };
    let mut out = head;
    match before_frag.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            out.push_str(&redact_query(query));
        }
        None => out.push_str(before_frag),
    }
    if let Some(f) = frag {
        out.push('#');
        out.push_str(&redact_query(f));
    }
    out
}

/// The part after `scheme://` without its userinfo. The authority ends at the first `/`, `?` or `#`;
/// when what precedes that cannot be a `host[:port]` (a password holding a `/`, say) and an `@` comes
/// later, everything up to that `@` is taken for userinfo.
fn strip_userinfo(rest: &str, has_scheme: bool) -> String {
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let auth = &rest[..end];
    if let Some(at) = auth.rfind('@') {
        return format!("{REDACTED}@{}", &rest[at + 1..]);
    }
    let port_ok = match auth.split_once(':') {
        _ if auth.starts_with('[') => true,
        Some((_, p)) => p.bytes().all(|b| b.is_ascii_digit()),
        None => true,
    };
    let has_space = auth.contains(char::is_whitespace);
    if has_scheme
        && (!port_ok || has_space)
        && let Some(at) = rest.find('@')
    {
        return format!("{REDACTED}@{}", &rest[at + 1..]);
    }
    rest.to_string()
}

/// `a=1&access_token=…` with the values of credential-like names replaced.
fn redact_query(q: &str) -> String {
    q.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !v.is_empty() && is_secret_param(&percent_decoded(k)) => format!("{k}={REDACTED}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A query name with `%XX` and `+` decoded (for matching only; invalid escapes stay as written).
fn percent_decoded(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// The secrets this process holds for one purpose (a login's username and passwords, a token), to be
/// removed from any text a server sends back before it is shown.
#[derive(Clone, Default)]
pub struct Secrets {
    values: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} held)", self.values.len())
    }
}

impl Secrets {
    pub fn new() -> Secrets {
        Secrets::default()
    }

    /// Hold `value` (empty values are ignored), with its base64 spelling.
    pub fn with(mut self, value: &str) -> Secrets {
        self.add(value);
        self
    }

    /// Hold the HTTP Basic credentials `user:password` (each part, the pair and its base64 spelling).
    pub fn with_basic(mut self, user: &str, password: &str) -> Secrets {
        self.add(user);
        self.add(password);
        self.add(&format!("{user}:{password}"));
        self
    }

    /// Hold the credentials a URL carries: its userinfo (as with [`with_basic`](Self::with_basic)) and
    /// the values of its credential-like query (and fragment) parameters, as written and decoded.
    pub fn with_url(mut self, url: &str) -> Secrets {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            self = self.with_basic(&percent_decoded(user), &percent_decoded(pass)).with(userinfo);
        }
        let params = rest.split_once(['?', '#']).map_or("", |(_, q)| q);
        for pair in params.split(['&', '#', '?']) {
            if let Some((k, v)) = pair.split_once('=')
                && is_secret_param(&percent_decoded(k))
            {
                self = self.with(v).with(&percent_decoded(v));
            }
        }
        self
    }

    /// These secrets and those of `other`.
    pub fn and(mut self, other: &Secrets) -> Secrets {
        for v in &other.values {
            if !self.values.contains(v) {
                self.values.push(v.clone());
            }
        }
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        self
    }

    fn add(&mut self, value: &str) {
        if value.is_empty() {
            return;
        }
        for v in [value.to_string(), base64::engine::general_purpose::STANDARD.encode(value)] {
            if !self.values.contains(&v) {
                self.values.push(v);
            }
        }
        // Longest first, so that a pair is replaced before its parts.
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// `text` as it may be shown: see [`text`], and every held secret replaced by `<redacted>`.
    pub fn text(&self, text: &str, max: usize) -> String {
        let mut s = text.to_string();
        for v in &self.values {
            if s.contains(v.as_str()) {
                s = s.replace(v.as_str(), REDACTED);
            }
        }
        self::text(&s, max)
    }
}

/// Text from outside (a server's answer, an error that quotes one) as it may be shown: URLs in it
/// redacted as [`url`] does, control characters escaped, and at most `max` characters (then
/// "… (N more bytes)").
pub fn text(text: &str, max: usize) -> String {
    let head_end = text.char_indices().nth(max).map_or(text.len(), |(i, _)| i);
    let (head, more) = (&text[..head_end], text.len() - head_end);
    let mut out = String::with_capacity(head.len() + 16);
    let mut rest = head;
    while let Some(i) = find_url(rest) {
        out.push_str(&escape(&rest[..i]));
        let len = rest[i..]
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '<' | '>'))
            .unwrap_or(rest.len() - i);
        out.push_str(&escape(&url(&rest[i..i + len])));
        rest = &rest[i + len..];
    }
    out.push_str(&escape(rest));
    if more > 0 {
        out.push_str(&format!("… ({more} more bytes)"));
    }
    out
}

/// Where the next `http://` or `https://` starts (any case).
fn find_url(s: &str) -> Option<usize> {
    let lower = s.to_ascii_lowercase();
    [lower.find("http://"), lower.find("https://")].into_iter().flatten().min()
}

/// Control characters (a terminal's escape sequences among them) written as `\u{..}`; line breaks as `\n`.
fn escape(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| match c {
            '\n' => "\\n".to_string(),
            '\r' => "\\r".to_string(),
            '\t' => " ".to_string(),
            c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// `s` cut to `max` characters for a message, with how much was left out (a value quoted in an error).
pub fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => format!("{}… ({} more bytes)", &s[..i], s.len() - i),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_userinfo() {
        assert_eq!(url("http://u:pw@h:1/x"), "http://<redacted>@h:1/x");
        assert_eq!(url("http://u:p/w@h:1/x"), "http://<redacted>@h:1/x", "a password holding a slash");
        assert_eq!(url("http://u:p w@h/"), "http://<redacted>@h/");
        assert_eq!(url("https://u@h"), "https://<redacted>@h");
        assert_eq!(url("http://h:8080/a@b"), "http://h:8080/a@b", "an @ in the path is not userinfo");
        assert_eq!(url("http://[::1]:80/a@b"), "http://[::1]:80/a@b");
        assert_eq!(url("none"), "none");
        assert_eq!(url(""), "");
    }

    #[test]
    fn credential_like_query_values_are_redacted() {
        assert_eq!(url("http://h/x?access_token=abc&n=1"), "http://h/x?access_token=<redacted>&n=1");
        assert_eq!(url("http://h/?n=1&token=abc#f"), "http://h/?n=1&token=<redacted>#f");
        assert_eq!(
            url("http://h/?api_key=1&X-Amz-Signature=2&sig=3"),
            "http://h/?api_key=<redacted>&X-Amz-Signature=<redacted>&sig=<redacted>"
        );
        assert_eq!(url("http://h/?access%5Ftoken=abc"), "http://h/?access%5Ftoken=<redacted>");
        assert_eq!(url("http://h/#access_token=abc"), "http://h/#access_token=<redacted>", "implicit-flow fragments");
        assert_eq!(url("http://h/?user={{id}}&n=1"), "http://h/?user={{id}}&n=1");
        assert_eq!(url("http://h/?token="), "http://h/?token=");
    }

    #[test]
    fn held_secrets_are_removed_from_a_servers_text() {
        let s = Secrets::new().with_basic("alice", "hunter2-long").with("tok-123");
        let b64 = base64::engine::general_purpose::STANDARD.encode("alice:hunter2-long");
        let echoed = format!("bad login alice:hunter2-long (Basic {b64}) token tok-123 at http://x/?key=k");
        let shown = s.text(&echoed, MAX_ECHO);
        for leak in ["alice", "hunter2", &b64, "tok-123", "key=k"] {
            assert!(!shown.contains(leak), "{leak} in {shown}");
        }
        assert!(shown.starts_with("bad login <redacted>"), "{shown}");
        let in_url = Secrets::new().with_url("http://al%40ice:pw-77@h/p?n=1&access_token=a%2Bb-99#key=k-55");
        let echoed = "GET /p?n=1&access_token=a%2Bb-99 as al@ice:pw-77, a+b-99, k-55; n=1";
        assert_eq!(
            in_url.text(echoed, MAX_ECHO),
            "GET /p?n=1&access_token=<redacted> as <redacted>, <redacted>, <redacted>; n=1"
        );
        let both = Secrets::new().with("tok-123").and(&Secrets::new().with("tok-123-and-more"));
        assert_eq!(both.text("a tok-123-and-more b tok-123", MAX_ECHO), "a <redacted> b <redacted>", "longest first");
    }

    #[test]
    fn text_is_cut_and_control_characters_escaped() {
        let long = "x".repeat(10_000);
        let t = text(&long, 100);
        assert!(t.len() < 150 && t.ends_with("(9900 more bytes)"), "{t}");
        assert_eq!(text("a\x1b[2Jb\nc", 100), "a\\u{1b}[2Jb\\nc");
        assert_eq!(clip("héllo", 2), "hé… (3 more bytes)");
        assert_eq!(clip("hi", 2), "hi");
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 256, failure_persistence: None, ..Default::default() })]

        /// Any password in a URL's userinfo, and any value of an `access_token`, is gone.
        #[test]
        fn a_password_never_survives(pw in "[!-~]{6,20}", tok in "[A-Za-z0-9_.-]{6,20}") {
            // `user:12345/…` is host `user`, port 12345 to any URL parser: not a password to find.
            let before = pw.split(['/', '?', '#']).next().unwrap_or("");
            let port_like = pw.contains(['/', '?', '#']) && before.bytes().all(|b| b.is_ascii_digit());
            proptest::prop_assume!(!pw.contains('@') && !port_like);
            let u = format!("http://user:{pw}@127.0.0.1:8080/p?a=1&access_token={tok}");
            let shown = url(&u);
            proptest::prop_assert!(!shown.contains(&pw) || "http://127.0.0.1:8080/p?a=1&access_token=<redacted>".contains(&pw), "{}", shown);
            proptest::prop_assert!(!shown.contains(&tok) || "http://<redacted>@127.0.0.1:8080/p?a=1&access_token=<redacted>".contains(&tok), "{}", shown);
            let _ = text(&u, 50);
        }
    }
}

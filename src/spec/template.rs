//! Per-request templates: text with `{{name}}` placeholders, compiled once at load into literal and
//! placeholder segments, then rendered for each request into a buffer the caller reuses (no parsing
//! per request).
//!
//! A placeholder names a column of the feeder's row (`{{user_id}}`) or one of the built-ins:
//! `{{seq}}` (the request's number in the run, from 0; a retry keeps it), `{{uuid}}` (a version 4
//! UUID drawn from the run's seed and `seq`, so a run with the same seed sends the same ones),
//! `{{now_unix}}` and `{{now_ms}}` (the wall clock when the request is built, in seconds or
//! milliseconds since 1970). Spaces inside the braces are ignored. `{{{{` is a literal `{{`; a lone
//! `{`, and `}}` outside a placeholder, are literal as written.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::feeder::{Table, mix64};

/// The built-in placeholders.
pub const BUILTINS: [&str; 4] = ["seq", "uuid", "now_unix", "now_ms"];

/// Whether `text` holds a placeholder (or the `{{{{` escape): any `{{`.
pub fn has_placeholders(text: &str) -> bool {
    text.contains("{{")
}

/// A piece of template text: literal text, or a placeholder's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Lit(String),
    Name(String),
}

/// Split template text into literal text and placeholder names (trimmed). Errors: a `{{` without its
/// `}}`, or an empty placeholder.
pub fn parse(text: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        lit.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(after) = rest.strip_prefix("{{{{") {
            lit.push_str("{{");
            rest = after;
            continue;
        }
        let inner = &rest[2..];
        let Some(end) = inner.find("}}") else {
            return Err(format!(
                "`{{{{` at {:?} is not closed by `}}}}` (write `{{{{{{{{` for a literal `{{{{`)",
                excerpt(rest)
            ));
        };
        let name = inner[..end].trim();
        if name.is_empty() {
            return Err("`{{}}` names nothing (write `{{{{{{{{` for a literal `{{{{`)".into());
        }
        if name.contains(['{', '}']) {
            return Err(format!("`{{{{{name}}}}}` is not a placeholder name (write `{{{{{{{{` for a literal `{{{{`)"));
        }
        if !lit.is_empty() {
            out.push(Piece::Lit(std::mem::take(&mut lit)));
        }
        out.push(Piece::Name(name.to_string()));
        rest = &inner[end + 2..];
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    Ok(out)
}

/// The first characters of `s`, for an error message.
fn excerpt(s: &str) -> String {
    let mut e: String = s.chars().take(24).collect();
    if e.len() < s.len() {
        e.push('…');
    }
    e
}

/// The text with every placeholder replaced by `x` and `{{{{` by `{{`: a sample rendering, to check
/// that the literal parts make a valid URL or header. Unparseable text is returned as it is.
pub fn sample(text: &str) -> Cow<'_, str> {
    if !has_placeholders(text) {
        return Cow::Borrowed(text);
    }
    match parse(text) {
        Ok(pieces) => Cow::Owned(
            pieces
                .iter()
                .map(|p| match p {
                    Piece::Lit(s) => s.as_str(),
                    Piece::Name(_) => "x",
                })
                .collect(),
        ),
        Err(_) => Cow::Borrowed(text),
    }
}

/// How a column's value is written into the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As it is (bodies, headers).
    Raw,
    /// Percent-encoded except for the unreserved characters `A-Z a-z 0-9 - . _ ~` (URL path and
    /// query), so a value cannot break the request line or split the path.
    Url,
    /// Escaped for the inside of a JSON string (`"`, `\` and control characters), so a value cannot
    /// end its string or break the document: a body that is JSON with its placeholders in strings.
    Json,
}

/// The encoding of a body template: JSON string escaping when the body with every placeholder as `0`
/// is a JSON document (its placeholders stand inside strings, or as numbers, which escaping leaves as
/// they are), the value as it is otherwise (form data, XML, text).
fn body_encoding(text: &str) -> Encoding {
    let Ok(pieces) = parse(text) else { return Encoding::Raw };
    let zeroed: String = pieces
        .iter()
        .map(|p| match p {
            Piece::Lit(s) => s.as_str(),
            Piece::Name(_) => "0",
        })
        .collect();
    match serde_json::from_str::<serde::de::IgnoredAny>(&zeroed) {
        Ok(_) => Encoding::Json,
        Err(_) => Encoding::Raw,
    }
}

/// What placeholders may name: the columns of a feeder (or of the recipients file), described for
/// error messages.
#[derive(Debug, Clone, Copy)]
pub struct Columns<'a> {
    pub table: Option<&'a Table>,
    /// Where the columns come from, e.g. "the feeder users.csv"; what to add when there is no table,
    /// e.g. "the target has no feeder (add `feeder = { file = \"….csv\" }`)".
    pub source: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seg {
    /// `lits[start..end]`.
    Lit(u32, u32),
    Column(u32),
    Seq,
    Uuid,
    NowUnix,
    NowMs,
}

/// A compiled template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segs: Vec<Seg>,
    lits: String,
    encoding: Encoding,
}

impl Template {
    /// Compile `text`, resolving its names against the built-ins and `cols`. With `legacy_n`, `{n}`
    /// in literal text is the request number too (the older syntax of `messages.text_body`).
    pub fn compile(text: &str, cols: Columns<'_>, encoding: Encoding, legacy_n: bool) -> Result<Template, String> {
        let mut t = Template { segs: Vec::new(), lits: String::new(), encoding };
        for piece in parse(text)? {
            match piece {
                Piece::Lit(s) if legacy_n => {
                    let mut parts = s.split("{n}").peekable();
                    while let Some(p) = parts.next() {
                        t.push_lit(p);
                        if parts.peek().is_some() {
                            t.segs.push(Seg::Seq);
                        }
                    }
                }
                Piece::Lit(s) => t.push_lit(&s),
                Piece::Name(n) => t.segs.push(resolve(&n, cols)?),
            }
        }
        Ok(t)
    }

    /// A template that renders `text` as it is.
    pub fn literal(text: &str) -> Template {
        let mut t = Template { segs: Vec::new(), lits: String::new(), encoding: Encoding::Raw };
        t.push_lit(text);
        t
    }

    fn push_lit(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        let start = self.lits.len() as u32;
        self.lits.push_str(s);
        self.segs.push(Seg::Lit(start, self.lits.len() as u32));
    }

    /// Whether any segment is a placeholder (a template without one renders its text as it is).
    pub fn is_fixed(&self) -> bool {
        self.segs.iter().all(|s| matches!(s, Seg::Lit(..)))
    }

    /// Whether rendering reads the clock.
    pub fn uses_clock(&self) -> bool {
        self.segs.iter().any(|s| matches!(s, Seg::NowUnix | Seg::NowMs))
    }

    /// The columns the template reads.
    pub fn columns(&self) -> impl Iterator<Item = usize> + '_ {
        self.segs.iter().filter_map(|s| match s {
            Seg::Column(c) => Some(*c as usize),
            _ => None,
        })
    }

    /// A capacity hint: the literal text's length plus a guess per placeholder.
    pub fn size_hint(&self) -> usize {
        self.lits.len() + 40 * (self.segs.len() - self.segs.iter().filter(|s| matches!(s, Seg::Lit(..))).count())
    }

    /// Append the rendering for `v` to `out`.
    pub fn render<S: Sink + ?Sized>(&self, out: &mut S, v: &Values<'_>) {
        for seg in &self.segs {
            match *seg {
                Seg::Lit(a, b) => out.put(&self.lits[a as usize..b as usize]),
                Seg::Column(c) => {
                    let value = v.row.map_or("", |(t, r)| t.field(r, c as usize));
                    match self.encoding {
                        Encoding::Raw => out.put(value),
                        Encoding::Url => percent_encode(out, value),
                        Encoding::Json => json_escape(out, value),
                    }
                }
                Seg::Seq => put_u64(out, v.seq),
                Seg::Uuid => {
                    let u = uuid(v.seed, v.seq);
                    out.put(std::str::from_utf8(&u).unwrap_or_default());
                }
                Seg::NowUnix => put_u64(out, v.now.as_secs()),
                Seg::NowMs => put_u64(out, v.now.as_millis() as u64),
            }
        }
    }

    /// The rendering for `v` as a new string.
    pub fn render_string(&self, v: &Values<'_>) -> String {
        let mut s = String::with_capacity(self.size_hint());
        self.render(&mut s, v);
        s
    }
}

fn resolve(name: &str, cols: Columns<'_>) -> Result<Seg, String> {
    let builtin = match name {
        "seq" => Some(Seg::Seq),
        "uuid" => Some(Seg::Uuid),
        "now_unix" => Some(Seg::NowUnix),
        "now_ms" => Some(Seg::NowMs),
        _ => None,
    };
    let column = cols.table.and_then(|t| t.column(name));
    match (builtin, column) {
        (Some(_), Some(_)) => Err(format!(
            "`{{{{{name}}}}}` is ambiguous: {} has a column named {name:?}, which is also a built-in placeholder; rename the column",
            cols.source
        )),
        (Some(b), None) => Ok(b),
        (None, Some(c)) => Ok(Seg::Column(c as u32)),
        (None, None) => {
            let known = match cols.table {
                Some(t) => format!("{} has the columns {}", cols.source, t.columns().join(", ")),
                None => cols.source.to_string(),
            };
            Err(format!("unknown placeholder `{{{{{name}}}}}`: {known}; the built-ins are {}", BUILTINS.join(", ")))
        }
    }
}

/// Where rendered text goes.
pub trait Sink {
    fn put(&mut self, s: &str);
}

impl Sink for String {
    fn put(&mut self, s: &str) {
        self.push_str(s);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
}

impl Sink for bytes::BytesMut {
    fn put(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
}

/// What one request's placeholders take: its number, the run's seed, the feeder row and the clock.
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    pub seq: u64,
    pub seed: u64,
    /// The table and the row index.
    pub row: Option<(&'a Table, usize)>,
    /// Time since 1970 (zero when no template reads the clock).
    pub now: Duration,
}

impl<'a> Values<'a> {
    /// The values of request `seq`; the clock is read only when `clock` is true.
    pub fn new(seq: u64, seed: u64, row: Option<(&'a Table, usize)>, clock: bool) -> Values<'a> {
        let now =
            if clock { SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO) } else { Duration::ZERO };
        Values { seq, seed, row, now }
    }
}

const UUID_SALT: [u64; 2] = [0x0D1D_0000_0000_0001, 0x0D1D_0000_0000_0002];

/// The version 4 UUID of request `seq` (RFC 9562 §5.4: version nibble 4, variant bits 10), its 122
/// random bits drawn from the seed and `seq`, in the canonical lower-case 8-4-4-4-12 form.
pub fn uuid(seed: u64, seq: u64) -> [u8; 36] {
    let hi = mix64(seed ^ UUID_SALT[0], seq).to_be_bytes();
    let lo = mix64(seed ^ UUID_SALT[1], seq).to_be_bytes();
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&hi);
    b[8..].copy_from_slice(&lo);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 36];
    let mut o = 0;
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            o += 1;
        }
        out[o] = HEX[(byte >> 4) as usize];
        out[o + 1] = HEX[(byte & 15) as usize];
        o += 2;
    }
    out
}

fn put_u64<S: Sink + ?Sized>(out: &mut S, n: u64) {
    out.put(itoa(n, &mut [0; 20]));
}

/// `n` in decimal, written into `buf` (no allocation).
pub fn itoa(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

/// Write `value` escaped for the inside of a JSON string (RFC 8259 §7): `"` and `\` with a
/// backslash, control characters as `\n`, `\t`, … or `\u00XX`; everything else as it is.
fn json_escape<S: Sink + ?Sized>(out: &mut S, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b = value.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let short: &str = match c {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        // Only ASCII bytes are escaped, so every slice ends on a character boundary.
        if start < i {
            out.put(&value[start..i]);
        }
        if short.is_empty() {
            let e = [b'\\', b'u', b'0', b'0', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]];
            out.put(std::str::from_utf8(&e).unwrap_or_default());
        } else {
            out.put(short);
        }
        start = i + 1;
    }
    out.put(&value[start..]);
}

/// Every byte but the unreserved characters of RFC 3986 (`A-Z a-z 0-9 - . _ ~`).
const URL_VALUE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn percent_encode<S: Sink + ?Sized>(out: &mut S, value: &str) {
    for piece in percent_encoding::utf8_percent_encode(value, URL_VALUE) {
        out.put(piece);
    }
}

/// The templated parts of a `kind = "http"` target: the URL's path and query, header values, the
/// body. Parts without a placeholder are not here (they are sent as written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpTemplates {
    /// The URL's path and query (values percent-encoded).
    pub path: Option<Template>,
    /// Header values, by the header's name as the profile writes it.
    pub headers: Vec<(String, Template)>,
    pub body: Option<Template>,
}

/// A URL split into scheme and authority, and the path and query (which may be empty).
pub fn split_url(url: &str) -> (&str, &str) {
    let from = url.find("://").map_or(0, |i| i + 3);
    match url[from..].find(['/', '?', '#']) {
        Some(i) => url.split_at(from + i),
        None => (url, ""),
    }
}

impl HttpTemplates {
    /// Compile target `i`'s templates against its feeder's columns (`feeder`: the file and its
    /// rows; `None` without one); `body_file` is the content of its `body_file`, when read. Errors
    /// are (field, reason).
    pub fn compile(
        i: usize,
        spec: &super::TargetSpec,
        body_file: Option<&[u8]>,
        feeder: Option<(&std::path::Path, &Table)>,
    ) -> Result<HttpTemplates, (String, String)> {
        let f = |k: &str| format!("targets[{i}].{k}");
        let source = match feeder {
            Some((file, _)) => format!("the feeder {}", file.display()),
            None => "the target has no feeder (add `feeder = { file = \"….csv\" }` for columns)".to_string(),
        };
        let cols = Columns { table: feeder.map(|(_, t)| t), source: &source };
        let mut out = HttpTemplates::default();
        if let Some(url) = spec.url.as_deref().filter(|u| has_placeholders(u)) {
            let (base, path) = split_url(url);
            if has_placeholders(base) {
                return Err((f("url"), "placeholders may stand in the URL's path and query only (the host is resolved once, before the run)".into()));
            }
            let path = if path.starts_with('?') { format!("/{path}") } else { path.to_string() };
            let t = Template::compile(&path, cols, Encoding::Url, false).map_err(|r| (f("url"), r))?;
            let s = sample(&path);
            if s.parse::<::http::uri::PathAndQuery>().is_err() || s.contains('#') {
                return Err((f("url"), format!("{s:?} (placeholders shown as x) is not a valid path and query")));
            }
            out.path = Some(t);
        }
        for (k, v) in spec.headers.iter().filter(|(_, v)| has_placeholders(v)) {
            if spec.headers_from_env.keys().any(|e| e.eq_ignore_ascii_case(k)) {
                continue;
            }
            let field = f(&format!("headers.{k}"));
            let t = Template::compile(v, cols, Encoding::Raw, false).map_err(|r| (field.clone(), r))?;
            if ::http::HeaderValue::from_str(&sample(v)).is_err() {
                return Err((field, "is not a valid header value".into()));
            }
            if let Some((file, table)) = feeder {
                for c in t.columns() {
                    if let Some(r) =
                        (0..table.len()).find(|&r| ::http::HeaderValue::from_str(table.field(r, c)).is_err())
                    {
                        return Err((
                            field,
                            format!(
                                "{} line {}: the value of column `{}` cannot be sent in a header (a line break or another control character)",
                                file.display(),
                                table.line(r),
                                table.columns()[c]
                            ),
                        ));
                    }
                }
            }
            out.headers.push((k.clone(), t));
        }
        if let Some(b) = spec.body.as_deref().filter(|b| has_placeholders(b)) {
            out.body = Some(Template::compile(b, cols, body_encoding(b), false).map_err(|r| (f("body"), r))?);
        }
        // A body file that is not UTF-8 text (an image, protobuf) is sent as it is.
        if let Some(b) = body_file.and_then(|b| std::str::from_utf8(b).ok()).filter(|b| has_placeholders(b)) {
            out.body = Some(Template::compile(b, cols, body_encoding(b), false).map_err(|r| (f("body_file"), r))?);
        }
        Ok(out)
    }

    /// Whether nothing is templated (the target sends the same request every time).
    pub fn is_empty(&self) -> bool {
        self.path.is_none() && self.headers.is_empty() && self.body.is_none()
    }

    /// Whether rendering reads the clock.
    pub fn uses_clock(&self) -> bool {
        self.path.iter().chain(self.headers.iter().map(|(_, t)| t)).chain(self.body.iter()).any(Template::uses_clock)
    }
}

/// The templated parts of WhatsApp messages: `messages.text_body` (when it holds a `{{…}}`) and
/// `messages.template_body_params`, whose columns are those of the recipients file: message `n`
/// goes to recipient `n` and takes the values of that recipient's row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageTemplates {
    pub text: Option<Template>,
    pub params: Vec<Template>,
}

impl MessageTemplates {
    /// Compile the templates of `[messages]` (its `text_body` and `template_body_params`) against the
    /// recipients' columns; `file` names the recipients file for messages. Every row must have every
    /// column used. Errors are (field, reason).
    pub fn compile(
        text_body: &str,
        template_body_params: &[String],
        r: &super::recipients::Recipients,
        file: Option<&std::path::Path>,
    ) -> Result<MessageTemplates, (String, String)> {
        let source = match (file, r.table()) {
            (Some(f), Some(_)) => format!("the recipients file {}", f.display()),
            (Some(f), None) => format!(
                "the recipients file {} has no header row naming columns (its first row holds a recipient)",
                f.display()
            ),
            (None, _) => "[recipients] has no `file` whose header row names columns".to_string(),
        };
        let cols = Columns { table: r.table(), source: &source };
        let mut out = MessageTemplates::default();
        if has_placeholders(text_body) {
            let t = Template::compile(text_body, cols, Encoding::Raw, true)
                .map_err(|e| ("messages.text_body".to_string(), e))?;
            out.text = Some(t);
        }
        for (i, p) in template_body_params.iter().enumerate() {
            let t = Template::compile(p, cols, Encoding::Raw, false)
                .map_err(|e| (format!("messages.template_body_params[{i}]"), e))?;
            out.params.push(t);
        }
        if let Some(table) = r.table() {
            for c in out.text.iter().chain(&out.params).flat_map(Template::columns) {
                if let Some(row) = (0..table.len()).find(|&row| table.width(row) <= c) {
                    return Err((
                        "recipients.file".to_string(),
                        format!(
                            "{}line {}: has {} fields, no value for column `{}` that [messages] uses",
                            file.map(|f| format!("{} ", f.display())).unwrap_or_default(),
                            table.line(row),
                            table.width(row),
                            table.columns()[c]
                        ),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Whether rendering reads the clock.
    pub fn uses_clock(&self) -> bool {
        self.text.iter().chain(&self.params).any(Template::uses_clock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        let mut t = Table::with_columns(vec!["name".into(), "id".into()]);
        t.push(2, ["Ann Lee", "7"]);
        t.push(3, ["Bo/ø&x", "8"]);
        t
    }

    fn cols(t: &Table) -> Columns<'_> {
        Columns { table: Some(t), source: "the feeder users.csv" }
    }

    #[test]
    fn parses_literals_placeholders_and_the_escape() {
        use Piece::*;
        assert_eq!(
            parse("a {{ name }}-{{seq}} {{{{x}} }}").unwrap(),
            [Lit("a ".into()), Name("name".into()), Lit("-".into()), Name("seq".into()), Lit(" {{x}} }}".into())]
        );
        assert_eq!(parse(r#"{"a":{{id}}}"#).unwrap(), [Lit(r#"{"a":"#.into()), Name("id".into()), Lit("}".into())]);
        assert!(parse("x {{name").unwrap_err().contains("is not closed"));
        assert!(parse("{{ }}").unwrap_err().contains("names nothing"));
        assert!(parse("{{{a}}}").unwrap_err().contains("not a placeholder name"));
        assert_eq!(sample("/u/{{name}}?n={{seq}}"), "/u/x?n=x");
    }

    #[test]
    fn values_in_a_json_body_are_escaped_inside_its_strings() {
        let mut t = Table::with_columns(vec!["name".into(), "id".into()]);
        t.push(2, ["say \"hi\"\\ back\nnow\u{1}ø", "12"]);
        let quoted = r#"{"name":"{{name}}","id":{{id}},"tag":"{{id}}-{{seq}}"}"#;
        assert_eq!(body_encoding(quoted), Encoding::Json, "strings and a bare number");
        let tpl = Template::compile(quoted, cols(&t), body_encoding(quoted), false).unwrap();
        let out = tpl.render_string(&Values::new(5, 1, Some((&t, 0)), false));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(v["name"], "say \"hi\"\\ back\nnow\u{1}ø", "{out}");
        assert_eq!((&v["id"], &v["tag"]), (&serde_json::json!(12), &serde_json::json!("12-5")));
        assert!(out.contains(r#"\u0001"#), "{out}");
        assert_eq!(body_encoding("name={{name}}&id={{id}}"), Encoding::Raw, "form data is sent as it is");
    }

    #[test]
    fn renders_columns_and_builtins() {
        let t = table();
        let tpl = Template::compile("{{name}}#{{id}}#{{seq}}", cols(&t), Encoding::Raw, false).unwrap();
        let v = Values::new(42, 1, Some((&t, 1)), false);
        assert_eq!(tpl.render_string(&v), "Bo/ø&x#8#42");
        let url = Template::compile("/u/{{name}}?id={{id}}", cols(&t), Encoding::Url, false).unwrap();
        assert_eq!(url.render_string(&v), "/u/Bo%2F%C3%B8%26x?id=8");
        assert_eq!(url.render_string(&Values::new(0, 1, Some((&t, 0)), false)), "/u/Ann%20Lee?id=7");
        let now = Template::compile("{{now_unix}} {{now_ms}}", cols(&t), Encoding::Raw, false).unwrap();
        assert!(now.uses_clock() && !tpl.uses_clock());
        let s = now.render_string(&Values::new(0, 1, None, true));
        let (secs, ms) = s.split_once(' ').unwrap();
        let (secs, ms): (u64, u64) = (secs.parse().unwrap(), ms.parse().unwrap());
        assert!(secs > 1_700_000_000 && ms / 1000 >= secs && ms / 1000 <= secs + 1, "{s}");
        assert_eq!(tpl.columns().collect::<Vec<_>>(), [0, 1]);
    }

    #[test]
    fn url_values_keep_only_the_unreserved_characters() {
        let mut out = String::new();
        percent_encode(&mut out, "Az09-._~ :/?#[]@!$&'()*+,;=%\u{7f}\n€");
        assert_eq!(out, "Az09-._~%20%3A%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%25%7F%0A%E2%82%AC");
    }

    #[test]
    fn legacy_n_is_the_request_number() {
        let none = Columns { table: None, source: "no feeder" };
        let t = Template::compile("m {n} {{seq}} {n}", none, Encoding::Raw, true).unwrap();
        assert_eq!(t.render_string(&Values::new(5, 1, None, false)), "m 5 5 5");
        let t = Template::compile("m {n}", none, Encoding::Raw, false).unwrap();
        assert!(t.is_fixed());
    }

    #[test]
    fn unknown_names_say_what_is_known() {
        let t = table();
        let e = Template::compile("{{nme}}", cols(&t), Encoding::Raw, false).unwrap_err();
        assert!(e.contains("unknown placeholder `{{nme}}`"), "{e}");
        assert!(e.contains("the feeder users.csv has the columns name, id"), "{e}");
        assert!(e.contains("seq, uuid, now_unix, now_ms"), "{e}");
        let none = Columns { table: None, source: "the target has no feeder" };
        let e = Template::compile("{{name}}", none, Encoding::Raw, false).unwrap_err();
        assert!(e.contains("the target has no feeder"), "{e}");
        let mut clash = Table::with_columns(vec!["seq".into()]);
        clash.push(2, ["1"]);
        let e = Template::compile("{{seq}}", cols(&clash), Encoding::Raw, false).unwrap_err();
        assert!(e.contains("ambiguous"), "{e}");
    }

    #[test]
    fn uuids_are_version_4_reproducible_and_distinct() {
        let u = uuid(1, 0);
        let s = std::str::from_utf8(&u).unwrap();
        assert_eq!(s.len(), 36);
        let groups: Vec<&str> = s.split('-').collect();
        assert_eq!(groups.iter().map(|g| g.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert!(s.chars().all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert!(groups[2].starts_with('4'), "{s}");
        assert!(matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'), "{s}");
        assert_eq!(uuid(1, 0), u);
        assert_ne!(uuid(2, 0), u);
        let all: std::collections::HashSet<_> = (0..10_000).map(|n| uuid(1, n)).collect();
        assert_eq!(all.len(), 10_000);
    }
}

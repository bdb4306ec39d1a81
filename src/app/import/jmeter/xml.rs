//! JMeter results saved as XML (`jmeter.save.saveservice.output_format=xml`, the format of older
//! archives): `<testResults version="1.2">` holding one `<httpSample …>` or `<sample …>` element per
//! sample, with the attributes `ts` (timestamp, ms since the epoch), `t` (elapsed, ms), `lb` (label),
//! `rc` (response code), `rm` (response message), `s` (success), `na` (all threads), and optionally a
//! `<java.net.URL>` and a `<responseData>` child (saved for errors with
//! `jmeter.save.saveservice.response_data.on_error=true`, where a WhatsApp error object can be read).
//! Sub-samples (redirects, embedded resources) nest inside their parent and are not counted again.
//! Sources: Apache JMeter user manual, "Listeners" → "XML Log format 2.1"
//! (<https://jmeter.apache.org/usermanual/listeners.html>): the sample attributes table (`t`, `lt`,
//! `ts`, `s`, `lb`, `rc`, `rm`, `tn`, `dt`, `by`, `na`, …).

use std::path::Path;

use crate::app::import::lines::Lines;
use crate::app::import::sink::{Sample, Sink};
use crate::app::import::{ImportError, Request, classify};

/// Longest response body kept to look for a WhatsApp error code.
const MAX_BODY: usize = 64 << 10;

/// XML's five entities and numeric character references.
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail.find(';').filter(|e| *e <= 10);
        let ent = end.map(|e| &tail[1..e]);
        let ch = match ent {
            Some("amp") => Some('&'),
            Some("lt") => Some('<'),
            Some("gt") => Some('>'),
            Some("quot") => Some('"'),
            Some("apos") => Some('\''),
            Some(n) if n.starts_with("#x") => u32::from_str_radix(&n[2..], 16).ok().and_then(char::from_u32),
            Some(n) if n.starts_with('#') => n[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match (ch, end) {
            (Some(c), Some(e)) => {
                out.push(c);
                rest = &tail[e + 1..];
            }
            _ => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The value of attribute `name` in a start tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag;
    while let Some(i) = rest.find(name) {
        let before = rest[..i].chars().last();
        let after = rest[i + name.len()..].trim_start();
        if before.is_some_and(char::is_whitespace)
            && let Some(v) = after.strip_prefix('=')
        {
            let v = v.trim_start();
            let q = v.chars().next()?;
            let body = &v[1..];
            return body.find(q).map(|e| unescape(&body[..e]));
        }
        rest = &rest[i + name.len()..];
    }
    None
}

/// The sample being read: its start tag's attributes and the body saved with it.
#[derive(Default)]
struct Open {
    tag: String,
    line: u64,
    url: Option<String>,
    /// The saved response body (`<responseData>`).
    body: String,
    /// The text of the child element being read.
    text: String,
}

/// Record one top-level sample from its start tag.
fn record(o: &Open, req: &Request, sink: &mut Sink, skipped: &mut u64) -> Result<(), String> {
    let need = |n: &str| attr(&o.tag, n).ok_or_else(|| format!("a sample without the {n}=\"…\" attribute"));
    let label = need("lb")?;
    if !req.labels.is_empty() && !req.labels.contains(&label) {
        *skipped += 1;
        return Ok(());
    }
    let start_us = super::parse_timestamp(&need("ts")?)?;
    let t = need("t")?;
    let elapsed: u64 = t.trim().parse().map_err(|_| format!("t=\"{t}\" is not a whole number of milliseconds"))?;
    let success = match need("s")?.as_str() {
        "true" => true,
        "false" => false,
        s => return Err(format!("s=\"{s}\" is neither true nor false")),
    };
    let code = attr(&o.tag, "rc").unwrap_or_default();
    let message = attr(&o.tag, "rm").unwrap_or_default();
    let body = unescape(&o.body);
    let outcome = match code.trim().parse::<u16>() {
        Ok(status) => classify::http(status, Some(success), &[&message, &body]),
        Err(_) if success => "ok".into(),
        Err(_) => classify::failure(&format!("{code} {message}")),
    };
    let threads = attr(&o.tag, "na").and_then(|n| n.parse().ok());
    let sample = Sample {
        label: &label,
        start_us,
        latency_us: elapsed * 1000,
        outcome: &outcome,
        url: o.url.as_deref(),
        threads,
    };
    sink.record(&sample)
}

/// Read one XML results file; returns the samples read.
pub fn read_file(path: &Path, req: &Request, sink: &mut Sink, skipped: &mut u64) -> Result<u64, ImportError> {
    let mut lines = Lines::open(path)?;
    let mut open: Option<Open> = None;
    let mut depth = 0u32;
    let mut n = 0u64;
    let (mut seen_root, mut closed_root) = (false, false);
    while let Some(line) = lines.next_line()? {
        let line = line.to_string();
        let mut rest = line.as_str();
        // Text between tags belongs to the open sample's children (its URL or response body).
        while let Some(lt) = rest.find('<') {
            if let Some(o) = open.as_mut()
                && o.text.len() < MAX_BODY
            {
                o.text.push_str(&rest[..lt]);
            }
            let Some(gt) = rest[lt..].find('>') else {
                return Err(lines.bad_line("a tag is not closed on its line"));
            };
            let tag = &rest[lt..lt + gt + 1];
            rest = &rest[lt + gt + 1..];
            let name: String = tag[1..]
                .trim_start_matches('/')
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
                .collect();
            let closing = tag.starts_with("</");
            let self_closing = tag.ends_with("/>");
            seen_root |= name == "testResults";
            closed_root |= closing && name == "testResults";
            match (name.as_str(), closing) {
                ("httpSample" | "sample", false) => {
                    if depth == 0 {
                        open = Some(Open { tag: tag.to_string(), line: lines.number(), ..Open::default() });
                    }
                    if !self_closing {
                        depth += 1;
                    }
                }
                ("httpSample" | "sample", true) => depth = depth.saturating_sub(1),
                ("java.net.URL" | "responseData", true) => {
                    if let Some(o) = open.as_mut().filter(|_| depth == 1) {
                        let text = std::mem::take(&mut o.text);
                        if name == "java.net.URL" {
                            o.url = Some(unescape(text.trim()));
                        } else {
                            o.body = text;
                        }
                    }
                }
                ("java.net.URL" | "responseData", false) => {
                    if let Some(o) = open.as_mut() {
                        o.text.clear();
                    }
                }
                _ => {}
            }
            if depth == 0
                && let Some(o) = open.take()
            {
                record(&o, req, sink, skipped).map_err(|e| ImportError::at(path, o.line, e))?;
                n += 1;
            }
        }
        if let Some(o) = open.as_mut()
            && o.text.len() < MAX_BODY
        {
            o.text.push_str(rest);
            o.text.push('\n');
        }
    }
    if !seen_root {
        return Err(ImportError::file(path, "XML without <testResults>: not a JMeter XML results file"));
    }
    if open.is_some() || depth > 0 {
        return Err(ImportError::at(path, lines.number(), "the file ends inside a sample (truncated?)"));
    }
    if !closed_root {
        return Err(ImportError::at(
            path,
            lines.number(),
            "the file ends before </testResults> (truncated? a JMeter that was killed leaves it out: add the line \
             to import what it wrote)",
        ));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_and_entities_are_read() {
        let tag = r#"<httpSample t="62" ts="1700000000100" s="true" lb="send &quot;text&quot; &amp; more" rc="200">"#;
        assert_eq!(attr(tag, "t").as_deref(), Some("62"));
        assert_eq!(attr(tag, "ts").as_deref(), Some("1700000000100"));
        assert_eq!(attr(tag, "lb").as_deref(), Some("send \"text\" & more"));
        assert_eq!(attr(tag, "rm"), None);
        assert_eq!(unescape("&#123;&#x7d; &bogus"), "{} &bogus");
    }
}

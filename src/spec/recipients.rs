//! Recipients: read from a CSV file (numbers checked, bad ones reported with their line) or generated
//! for a country code, then rotated round-robin so each recipient gets as few messages as the rate
//! allows (the pair rate limit is one message per 6 s per recipient).
//!
//! A file may also hold business-scoped user IDs (BSUIDs, e.g. `US.13491208655302741918`): since
//! 2026 Meta identifies users by them, users who adopted a username may be known by nothing else,
//! and the Cloud API sends to one given in `recipient` (Meta, "Business-scoped user IDs",
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids>).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::feeder::{Lines, Table, describe, join_bad};

/// Country calling codes of sanctioned regions whose users cannot receive messages (Cuba, Iran,
/// North Korea, Syria). Turkey (+90) has been allowed since 2024-05-15.
pub const SANCTIONED: [&str; 4] = ["53", "98", "850", "963"];

/// The pair rate limit: one message to the same recipient per this many seconds.
pub const PAIR_LIMIT_SECS: f64 = 6.0;

/// The `[recipients]` table.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipientsSpec {
    /// CSV file of phone numbers or BSUIDs (first column; a header row is allowed), relative to
    /// the profile.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Generate `count` numbers with this country calling code (digits, no '+').
    #[serde(default)]
    pub country_code: Option<String>,
    #[serde(default)]
    pub count: Option<u64>,
    /// With `file`: the name, in the file's header row, of the column holding the recipients
    /// (default: the first column). The other columns of a file with a header row are values that
    /// `[messages]` placeholders (`{{name}}`) take from each message's recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

impl Default for RecipientsSpec {
    fn default() -> Self {
        RecipientsSpec { file: None, country_code: Some("1".into()), count: Some(10_000), column: None }
    }
}

/// The recipients of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipients {
    numbers: Vec<String>,
    /// A file with a header row: its columns, one row per recipient (row `i` is `numbers[i]`'s).
    table: Option<Table>,
}

/// Country codes (ISO 3166 alpha-2) of the sanctioned regions, as a BSUID's prefix names them.
pub const SANCTIONED_ISO: [&str; 4] = ["CU", "IR", "KP", "SY"];

/// Longest alphanumeric part of a BSUID. Meta gives no length; partners document "up to 128
/// alphanumeric characters" (Webex Connect, "WhatsApp Usernames and Business-Scoped User IDs",
/// <https://help.webexconnect.io/docs/whatsapp-usernames-and-business-scoped-user-ids-bsuid-cce>).
pub const MAX_BSUID_ID: usize = 128;

/// True when `s` has the form of a BSUID: the user's ISO 3166 alpha-2 country code (two capital
/// letters), a dot, for a parent BSUID `ENT.`, then 1 to [`MAX_BSUID_ID`] letters or digits (Meta,
/// "Business-scoped user IDs": `US.13491208655302741918`, parent `US.ENT.…`).
pub fn is_bsuid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 4 || !b[0].is_ascii_uppercase() || !b[1].is_ascii_uppercase() || b[2] != b'.' {
        return false;
    }
    let rest = s[3..].strip_prefix("ENT.").unwrap_or(&s[3..]);
    (1..=MAX_BSUID_ID).contains(&rest.len()) && rest.bytes().all(|c| c.is_ascii_alphanumeric())
}

/// True for a parent BSUID (`CC.ENT.…`).
pub fn is_parent_bsuid(s: &str) -> bool {
    is_bsuid(s) && s[3..].starts_with("ENT.") && s.len() > 7
}

/// A recipient as the APIs take it: the digits of a phone number written with optional '+',
/// spaces, dashes, dots or parentheses, or a business-scoped user ID kept exactly as written.
pub fn normalize(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    // A value quoted in an error is cut short: a field may be 16 KiB.
    let shown = || crate::units::redact::clip(raw, 40);
    if s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return if is_bsuid(s) {
            Ok(s.to_string())
        } else {
            Err(format!(
                "{:?} is neither a phone number nor a business-scoped user ID (a BSUID is the \
                 user's two-letter country code in capitals, a dot, and up to {MAX_BSUID_ID} letters \
                 or digits, e.g. US.13491208655302741918; a parent BSUID has ENT. after the dot)",
                shown()
            ))
        };
    }
    let mut digits = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => {}
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(format!("{:?} is not a phone number (unexpected {c:?})", shown())),
        }
    }
    if !(8..=15).contains(&digits.len()) {
        return Err(format!(
            "{:?} is not a phone number (E.164 numbers have 8 to 15 digits, this has {})",
            shown(),
            digits.len()
        ));
    }
    Ok(digits)
}

impl Recipients {
    /// Build from the spec; `base` is the profile's folder. Errors name the file and line.
    pub fn load(spec: &RecipientsSpec, base: &Path) -> Result<Recipients, (String, String)> {
        if spec.column.is_some() && spec.file.is_none() {
            return Err(("recipients.column".into(), "applies to a recipients `file` only".into()));
        }
        match (&spec.file, &spec.country_code) {
            (Some(_), Some(_)) => {
                Err(("recipients".into(), "give either `file` or `country_code` + `count`, not both".into()))
            }
            (Some(f), None) => {
                let path = base.join(f);
                let bytes = super::csv_bounds::read(&path, true).map_err(|e| ("recipients.file".into(), e))?;
                let text = String::from_utf8(bytes).map_err(|e| {
                    let line = e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
                    ("recipients.file".into(), format!("{}: line {line}: is not valid UTF-8", path.display()))
                })?;
                Recipients::parse_csv_column(&text, spec.column.as_deref())
                    .map_err(|e| ("recipients.file".into(), format!("{}: {e}", path.display())))
            }
            (None, Some(cc)) => {
                if cc.is_empty() || cc.len() > 3 || !cc.chars().all(|c| c.is_ascii_digit()) || cc.starts_with('0') {
                    return Err((
                        "recipients.country_code".into(),
                        format!("{cc:?} is not a country calling code (1 to 3 digits, e.g. \"1\", \"44\", \"852\")"),
                    ));
                }
                let count = spec.count.unwrap_or(10_000);
                if count == 0 || count > 10_000_000 {
                    return Err(("recipients.count".into(), format!("must be between 1 and 10,000,000, got {count}")));
                }
                Ok(Recipients::generate(cc, count))
            }
            (None, None) => Err(("recipients".into(), "give `file`, or `country_code` and `count`".into())),
        }
    }

    /// Numbers `<cc>555<national digits>`, a fictional range, padded to a 10-digit national number.
    pub fn generate(cc: &str, count: u64) -> Recipients {
        let numbers = (0..count).map(|i| format!("{cc}555{i:07}")).collect();
        Recipients { numbers, table: None }
    }

    /// Parse CSV text: numbers or BSUIDs in the first column; a first row without a digit is a header.
    /// All bad lines are reported (up to 10), each with its line number.
    pub fn parse_csv(text: &str) -> Result<Recipients, String> {
        Recipients::parse_csv_column(text, None)
    }

    /// Parse CSV text (quoted fields may hold commas and line breaks; a UTF-8 byte-order mark, blank
    /// lines and lines starting with `#` are skipped). With `column`, the first row is a header and
    /// the recipients are in that column; without, they are in the first column, and a first row
    /// whose first field has no digit is a header. Rows may differ in length. All bad lines are
    /// reported (up to 10), each with its line number; text beyond the bounds of
    /// [`super::csv_bounds`] (long lines or fields, a quote never closed) is refused.
    pub fn parse_csv_column(text: &str, column: Option<&str>) -> Result<Recipients, String> {
        super::csv_bounds::check(text.as_bytes(), true)?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .comment(Some(b'#'))
            .from_reader(text.as_bytes());
        let mut lines = Lines::new(text.as_bytes(), true);
        let mut numbers = Vec::new();
        let mut bad = Vec::new();
        let mut table: Option<Table> = None;
        let mut col = 0;
        let mut first = true;
        for rec in rdr.records() {
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    bad.push(describe(&e, &mut lines));
                    continue;
                }
            };
            let line = rec.position().map_or(0, |p| lines.line_of(p.byte()));
            if rec.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            if std::mem::take(&mut first) {
                let names = || rec.iter().map(|f| f.trim().to_string()).collect::<Vec<_>>();
                match column {
                    Some(name) => {
                        col = rec.iter().position(|f| f.trim() == name).ok_or_else(|| {
                            format!(
                                "line {line}: the header row has no column {name:?} (`recipients.column`); it has {}",
                                names().join(", ")
                            )
                        })?;
                        table = Some(Table::with_columns(names()));
                        continue;
                    }
                    None => {
                        let f0 = rec.get(0).unwrap_or("").trim();
                        if normalize(f0).is_err() && !f0.chars().any(|c| c.is_ascii_digit()) {
                            table = Some(Table::with_columns(names()));
                            continue;
                        }
                    }
                }
            }
            let field = rec.get(col).unwrap_or("").trim();
            if field.is_empty() {
                bad.push(format!("line {line}: no recipient in column {}", col + 1));
                continue;
            }
            match normalize(field) {
                Ok(n) => {
                    numbers.push(n);
                    if let Some(t) = &mut table {
                        t.push(line, rec.iter());
                    }
                }
                Err(e) => bad.push(format!("line {line}: {e}")),
            }
        }
        if !bad.is_empty() {
            return Err(join_bad(bad));
        }
        if numbers.is_empty() {
            return Err("holds no phone numbers or business-scoped user IDs".into());
        }
        Ok(Recipients { numbers, table })
    }

    /// The columns of a recipients file with a header row, one row per recipient.
    pub fn table(&self) -> Option<&Table> {
        self.table.as_ref()
    }

    /// The row of message `n`'s recipient (see [`Recipients::get`]), when the file has columns.
    pub fn row(&self, n: u64) -> Option<(&Table, usize)> {
        self.table.as_ref().map(|t| (t, (n % self.numbers.len() as u64) as usize))
    }

    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }

    /// The recipient of message `n`: round-robin, so a recipient gets one message every `len` messages.
    pub fn get(&self, n: u64) -> &str {
        &self.numbers[(n % self.numbers.len() as u64) as usize]
    }

    /// How many recipients are in sanctioned regions (they will be rejected by the API): numbers
    /// by calling code, BSUIDs by their country prefix.
    pub fn sanctioned(&self) -> usize {
        let hit = |n: &String| {
            if is_bsuid(n) { SANCTIONED_ISO.contains(&&n[..2]) } else { SANCTIONED.iter().any(|cc| n.starts_with(cc)) }
        };
        self.numbers.iter().filter(|n| hit(n)).count()
    }

    /// How many recipients are business-scoped user IDs rather than phone numbers.
    pub fn bsuids(&self) -> usize {
        self.numbers.iter().filter(|n| is_bsuid(n)).count()
    }

    /// Warnings to print before a run at `peak_rate` messages/s.
    pub fn warnings(&self, peak_rate: Option<f64>) -> Vec<String> {
        let mut w = Vec::new();
        let s = self.sanctioned();
        if s > 0 {
            w.push(format!(
                "{s} of {} recipients are in sanctioned regions (+53, +98, +850, +963) and cannot receive messages; expect them to fail",
                self.len()
            ));
        }
        if let Some(r) = peak_rate {
            let need = (r * PAIR_LIMIT_SECS).ceil() as usize;
            if need > self.len() {
                w.push(format!(
                    "at {r:.0} messages/s each of the {} recipients gets a message every {:.1}s, faster than the pair rate limit (1 per 6 s): expect error 131056; use at least {need} recipients",
                    self.len(),
                    self.len() as f64 / r
                ));
            }
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_numbers() {
        assert_eq!(normalize("+1 (555) 123-4567").unwrap(), "15551234567");
        assert!(normalize("12345").unwrap_err().contains("8 to 15 digits"));
        assert!(normalize("+1555abc4567").unwrap_err().contains("unexpected 'a'"));
    }

    #[test]
    fn accepts_bsuids_and_explains_bad_ones() {
        assert_eq!(normalize(" US.13491208655302741918 ").unwrap(), "US.13491208655302741918");
        assert_eq!(normalize("US.ENT.11815799212886844830").unwrap(), "US.ENT.11815799212886844830");
        assert!(is_parent_bsuid("US.ENT.1") && !is_parent_bsuid("US.ENT") && !is_parent_bsuid("US.1"));
        for bad in ["us.1349", "USA.1349", "US.", "US.13-49", "US.ENT.", &format!("US.{}", "1".repeat(129))] {
            let e = normalize(bad).unwrap_err();
            assert!(e.contains("neither a phone number nor a business-scoped user ID"), "{bad}: {e}");
        }
        let r = Recipients::parse_csv("id\nUS.13491208655302741918\n+15551230002\nCU.99\n").unwrap();
        assert_eq!((r.len(), r.bsuids(), r.sanctioned()), (3, 2, 1));
        assert_eq!(r.get(0), "US.13491208655302741918");
        let err = Recipients::parse_csv("id\nUS.1\nUS-1\n").unwrap_err();
        assert!(err.contains("line 3") && err.contains("business-scoped"), "{err}");
    }

    #[test]
    fn csv_reports_bad_lines_with_numbers() {
        let ok = Recipients::parse_csv("phone,name\n+15551230001,Ann\n15551230002\n\n# comment\n").unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok.get(3), "15551230002");
        let err = Recipients::parse_csv("phone\n+15551230001\nnot-a-number\n123\n").unwrap_err();
        assert!(err.contains("line 3") && err.contains("line 4"), "{err}");
        let err = Recipients::parse_csv("phone\r\n# note\r\n+15551230001\r\n\r\n#x\n123\n").unwrap_err();
        assert!(err.starts_with("line 6:"), "comment and blank lines are counted: {err}");
    }

    #[test]
    fn csv_fields_are_parsed_not_split_on_commas() {
        // A quoted first column holding a comma, a byte-order mark, CRLF line ends.
        let r = Recipients::parse_csv("\u{feff}phone,name\r\n\"+1 555 123,0001\",\"Doe, Jane\"\r\n").unwrap_err();
        assert!(r.contains("line 2") && r.contains("unexpected ','"), "{r}");
        let r = Recipients::parse_csv("\u{feff}phone,name\r\n\"+1 (555) 123-0001\",\"Doe, Jane\"\r\n").unwrap();
        assert_eq!(r.get(0), "15551230001");
        let t = r.table().unwrap();
        assert_eq!(t.columns(), ["phone", "name"]);
        assert_eq!(t.field(0, 1), "Doe, Jane");
        // A quoted field with a line break: the next row's line is counted right.
        let e = Recipients::parse_csv("phone,note\n15551230001,\"a\nb\"\nnope,x\n").unwrap_err();
        assert_eq!(
            e,
            "line 4: \"nope\" is neither a phone number nor a business-scoped user ID (a BSUID is the user's two-letter country code in capitals, a dot, and up to 128 letters or digits, e.g. US.13491208655302741918; a parent BSUID has ENT. after the dot)"
        );
    }

    #[test]
    fn a_named_column_holds_the_recipients() {
        let text = "name,phone,order\nAnn,+15551230001,A-1\nBo,US.13491208655302741918,A-2\n";
        let r = Recipients::parse_csv_column(text, Some("phone")).unwrap();
        assert_eq!((r.len(), r.get(1)), (2, "US.13491208655302741918"));
        let (t, row) = r.row(3).unwrap();
        assert_eq!((t.field(row, 0), t.field(row, 2)), ("Bo", "A-2"));
        let e = Recipients::parse_csv_column(text, Some("mobile")).unwrap_err();
        assert!(e.contains("line 1") && e.contains("no column \"mobile\"") && e.contains("name, phone, order"), "{e}");
        let e = Recipients::parse_csv_column("name,phone\nAnn,12\nBo,\n", Some("phone")).unwrap_err();
        assert!(e.contains("line 2") && e.contains("8 to 15 digits") && e.contains("line 3: no recipient"), "{e}");
        assert!(Recipients::parse_csv("15551230001\n").unwrap().table().is_none(), "no header row, no columns");
        let spec =
            RecipientsSpec { country_code: Some("1".into()), column: Some("phone".into()), ..Default::default() };
        assert_eq!(Recipients::load(&spec, Path::new(".")).unwrap_err().0, "recipients.column");
    }

    #[test]
    fn generated_recipients_rotate_and_warn() {
        let r = Recipients::generate("90", 100);
        assert_eq!(r.get(0), "905550000000");
        assert_eq!(r.get(100), r.get(0));
        assert_eq!(r.sanctioned(), 0, "Turkey is allowed");
        assert!(r.warnings(Some(10.0)).is_empty());
        assert!(r.warnings(Some(50.0))[0].contains("131056"));
        let cuba = Recipients::generate("53", 10);
        assert!(cuba.warnings(None)[0].contains("sanctioned"));
    }
}

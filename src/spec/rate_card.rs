//! A rate card: what Meta charges per delivered message, by the recipient's market and the message's
//! pricing category, read from a CSV file a target's `cost` table names.
//!
//! Meta's pricing (developers.facebook.com/documentation/business-messaging/whatsapp/pricing, "Pricing
//! on the WhatsApp Business Platform", read as updated 2026-06-30): since 2025-07-01 Meta charges per
//! delivered template message; the rate depends on the template's category (marketing, utility,
//! authentication, and authentication-international for eligible businesses sending to certain
//! markets from another country) and on the recipient's market, found from the country calling code
//! of the recipient's number. Non-template (service) messages are free and utility templates
//! delivered inside an open customer service window are free — until 2026-10-01, when Meta's
//! "Upcoming pricing updates for Meta Business Agent, service and utility messages" (updated
//! 2026-07-01) says both become charged. The service rate itself was not confirmed on Meta's page:
//! it is the card's `Service` column (empty: free). Volume tiers (lower utility and authentication
//! rates at higher monthly volume) are not applied: a card's figures are the list rates.
//!
//! The file, close to the CSV rate cards Meta publishes (one row per market, one column per
//! category) with the market's calling codes beside it:
//!
//! ```text
//! # lines starting with '#' are comments
//! Market,Calling codes,Currency,Marketing,Utility,Authentication,Authentication-International,Service
//! North America,+1,USD,0.025,0.004,0.004,,
//! United Kingdom,+44,USD,0.0529,0.022,0.0358,0.0358,
//! Other,*,USD,0.0604,0.0077,0.0077,,
//! ```
//!
//! - `Market`: the market's name, unique.
//! - `Calling codes`: country calling codes (prefixes of the number's digits, `+` optional) separated
//!   by spaces; the longest matching prefix wins, so `+1` can be North America while `+1876` goes to
//!   another market. Two capital letters (`US`) match business-scoped user IDs of that country
//!   (`US.…`). `*` matches any recipient no other row matches.
//! - `Currency`: ISO 4217 code, the same on every row.
//! - `Marketing`, `Utility`, `Authentication`: the price of one delivered message (a decimal ≥ 0).
//! - `Authentication-International`, `Service`: optional, empty when the market has none.
//!
//! Column names are matched without regard to case, spaces, `-` and `_`. A bad row is an error naming
//! the file, its line, the column and why.

use std::collections::BTreeMap;
use std::path::Path;

use super::feeder::{Lines, describe, join_bad};

/// What a delivered message is priced as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PriceCategory {
    Marketing,
    Utility,
    Authentication,
    AuthenticationInternational,
    /// Non-template messages (free until Meta's 2026-10-01 change).
    Service,
}

impl PriceCategory {
    /// Every category, in the card's column order.
    pub const ALL: [PriceCategory; 5] = [
        PriceCategory::Marketing,
        PriceCategory::Utility,
        PriceCategory::Authentication,
        PriceCategory::AuthenticationInternational,
        PriceCategory::Service,
    ];

    /// The name results use.
    pub fn name(self) -> &'static str {
        match self {
            PriceCategory::Marketing => "marketing",
            PriceCategory::Utility => "utility",
            PriceCategory::Authentication => "authentication",
            PriceCategory::AuthenticationInternational => "authentication_international",
            PriceCategory::Service => "service",
        }
    }

    /// The column of the card.
    fn column(self) -> &'static str {
        match self {
            PriceCategory::Marketing => "Marketing",
            PriceCategory::Utility => "Utility",
            PriceCategory::Authentication => "Authentication",
            PriceCategory::AuthenticationInternational => "Authentication-International",
            PriceCategory::Service => "Service",
        }
    }

    /// Whether every row must price it.
    fn required(self) -> bool {
        matches!(self, PriceCategory::Marketing | PriceCategory::Utility | PriceCategory::Authentication)
    }
}

/// One market of a card.
#[derive(Debug, Clone, PartialEq)]
pub struct Market {
    pub name: String,
    /// Price per category; a category the market has no rate for is absent.
    prices: BTreeMap<PriceCategory, f64>,
}

impl Market {
    /// Whether the card gives the market a rate of `category`.
    pub fn has(&self, category: PriceCategory) -> bool {
        self.prices.contains_key(&category)
    }

    /// The price of one delivered message of `category`: authentication-international falls back to
    /// authentication where the market has no such rate, and service is free where it has none.
    pub fn price(&self, category: PriceCategory) -> f64 {
        match (self.prices.get(&category), category) {
            (Some(p), _) => *p,
            (None, PriceCategory::AuthenticationInternational) => self.price(PriceCategory::Authentication),
            (None, _) => 0.0,
        }
    }
}

/// A rate card read from its file.
#[derive(Debug, Clone, PartialEq)]
pub struct RateCard {
    /// The file, as the profile names it (for messages).
    pub file: std::path::PathBuf,
    pub currency: String,
    markets: Vec<Market>,
    /// Calling-code prefixes (digits) and ISO country codes to the index of their market.
    prefixes: BTreeMap<String, usize>,
    /// The market of `*`.
    rest: Option<usize>,
}

/// The columns of a card: where each is in the header row.
struct Columns {
    market: usize,
    codes: usize,
    currency: usize,
    prices: Vec<(PriceCategory, usize)>,
}

/// A column name as compared: lowercase, without spaces, `-` and `_`.
fn fold(name: &str) -> String {
    name.chars().filter(|c| !matches!(c, ' ' | '-' | '_')).flat_map(char::to_lowercase).collect()
}

impl Columns {
    fn find(header: &csv::StringRecord) -> Result<Columns, String> {
        let at = |name: &str| header.iter().position(|h| fold(h) == fold(name));
        let need = |name: &str| {
            at(name).ok_or_else(|| {
                format!(
                    "line 1: the header row has no column {name:?}; it has {}",
                    header.iter().map(|h| format!("{:?}", h.trim())).collect::<Vec<_>>().join(", ")
                )
            })
        };
        let mut prices = Vec::new();
        for c in PriceCategory::ALL {
            match at(c.column()) {
                Some(i) => prices.push((c, i)),
                None if c.required() => prices.push((c, need(c.column())?)),
                None => {}
            }
        }
        Ok(Columns { market: need("Market")?, codes: need("Calling codes")?, currency: need("Currency")?, prices })
    }
}

/// A price as written: a decimal number ≥ 0 (`$` and spaces around it allowed).
fn price(text: &str) -> Result<Option<f64>, String> {
    let t = text.trim().trim_start_matches('$').trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && !t.contains(['e', 'E']) => Ok(Some(v)),
        _ => Err(format!(
            "{:?} is not a price (a decimal number of at least 0, e.g. 0.0250)",
            crate::units::redact::clip(text, 40)
        )),
    }
}

/// The prefixes of a `Calling codes` field: digits (a leading `+` dropped), two capital letters, or `*`.
fn codes(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for c in text.split([' ', ';', '/']).map(str::trim).filter(|c| !c.is_empty()) {
        let digits = c.trim_start_matches('+').replace('-', "");
        let ok = c == "*"
            || (!digits.is_empty()
                && digits.len() <= 7
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0'))
            || (c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()));
        if !ok {
            return Err(format!(
                "{:?} is not a calling code (digits such as +44 or +1876, two capital letters for a country's \
                 business-scoped user IDs, or * for every other recipient)",
                crate::units::redact::clip(c, 20)
            ));
        }
        let iso = c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase());
        out.push(if c == "*" || iso { c.to_string() } else { digits });
    }
    if out.is_empty() {
        return Err("is empty: name the market's calling codes (e.g. +44), or * for every other recipient".into());
    }
    Ok(out)
}

impl RateCard {
    /// Read a card from `base`/`file`; the error names the file, the line, the column and why.
    pub fn load(file: &Path, base: &Path) -> Result<RateCard, String> {
        let path = base.join(file);
        let bytes = super::csv_bounds::read(&path, true)?;
        RateCard::parse(file, &bytes).map_err(|e| format!("{}:{e}", path.display()))
    }

    /// Parse a card's text; errors read "LINE: column …: why" (the caller puts the file before them).
    pub fn parse(file: &Path, bytes: &[u8]) -> Result<RateCard, String> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut rdr =
            csv::ReaderBuilder::new().has_headers(true).flexible(false).comment(Some(b'#')).from_reader(bytes);
        let mut lines = Lines::new(bytes, true);
        let header = rdr.headers().map_err(|e| strip_line(&describe(&e, &mut lines)))?.clone();
        if header.iter().all(|h| h.trim().is_empty()) {
            return Err("1: is empty: a rate card needs a header row and one row per market".into());
        }
        let cols = Columns::find(&header).map_err(|e| strip_line(&e))?;
        let mut card = RateCard {
            file: file.to_path_buf(),
            currency: String::new(),
            markets: Vec::new(),
            prefixes: BTreeMap::new(),
            rest: None,
        };
        let mut bad = Vec::new();
        for rec in rdr.records() {
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    bad.push(strip_line(&describe(&e, &mut lines)));
                    continue;
                }
            };
            let line = rec.position().map_or(0, |p| lines.line_of(p.byte()));
            if let Err(e) = card.row(&rec, &cols, &header) {
                bad.push(format!("{line}: {e}"));
            }
        }
        if !bad.is_empty() {
            return Err(join_bad(bad));
        }
        if card.markets.is_empty() {
            return Err("2: holds a header row but no markets".into());
        }
        Ok(card)
    }

    /// Take one row in; the error names the column and why.
    fn row(&mut self, rec: &csv::StringRecord, cols: &Columns, header: &csv::StringRecord) -> Result<(), String> {
        let col = |i: usize| header.get(i).unwrap_or("").trim().to_string();
        let field = |i: usize| rec.get(i).unwrap_or("").trim();
        let name = field(cols.market);
        if name.is_empty() {
            return Err(format!("column {:?}: is empty", col(cols.market)));
        }
        if self.markets.iter().any(|m| m.name == name) {
            return Err(format!("column {:?}: market {name:?} is on an earlier row too", col(cols.market)));
        }
        let currency = field(cols.currency);
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "column {:?}: {currency:?} is not a currency code (three capitals, e.g. USD)",
                col(cols.currency)
            ));
        }
        if self.currency.is_empty() {
            self.currency = currency.to_string();
        } else if self.currency != currency {
            return Err(format!(
                "column {:?}: {currency}, but earlier rows are in {}: a card holds one currency",
                col(cols.currency),
                self.currency
            ));
        }
        let mut prices = BTreeMap::new();
        for &(c, i) in &cols.prices {
            match price(field(i)).map_err(|e| format!("column {:?}: {e}", col(i)))? {
                Some(p) => {
                    prices.insert(c, p);
                }
                None if c.required() => {
                    return Err(format!("column {:?}: is empty; every market needs a {} rate", col(i), c.name()));
                }
                None => {}
            }
        }
        let index = self.markets.len();
        for code in codes(field(cols.codes)).map_err(|e| format!("column {:?}: {e}", col(cols.codes)))? {
            let taken = if code == "*" { self.rest.replace(index) } else { self.prefixes.insert(code.clone(), index) };
            if let Some(other) = taken {
                return Err(format!(
                    "column {:?}: {code} is already the calling code of market {:?}",
                    col(cols.codes),
                    self.markets[other].name
                ));
            }
        }
        self.markets.push(Market { name: name.to_string(), prices });
        Ok(())
    }

    /// The markets, in file order.
    pub fn markets(&self) -> &[Market] {
        &self.markets
    }

    /// The market of a recipient (the digits of a number, or a business-scoped user ID): the longest
    /// calling-code prefix of its number, its country for a BSUID, else the `*` market.
    pub fn market_of(&self, recipient: &str) -> Option<&Market> {
        let by_prefix = if super::recipients::is_bsuid(recipient) {
            self.prefixes.get(&recipient[..2]).copied()
        } else {
            (1..=recipient.len().min(7)).rev().find_map(|n| self.prefixes.get(&recipient[..n]).copied())
        };
        by_prefix.or(self.rest).map(|i| &self.markets[i])
    }
}

/// "line N: why" as "N: why", so that the file goes before it as `file:N: why`.
fn strip_line(e: &str) -> String {
    e.strip_prefix("line ").map_or_else(|| format!("1: {e}"), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD: &str = "# example\nMarket,Calling codes,Currency,Marketing,Utility,Authentication,Authentication-International,Service\n\
North America,+1,USD,0.025,0.004,0.004,,\n\
Jamaica,+1876,USD,0.06,0.01,0.01,,\n\
United Kingdom,+44 GB,USD,0.05,0.02,0.03,0.04,0.001\n\
Other,*,USD,0.06,0.008,0.008,,\n";

    fn parse(text: &str) -> Result<RateCard, String> {
        RateCard::parse(Path::new("card.csv"), text.as_bytes())
    }

    #[test]
    fn the_longest_prefix_names_the_market() {
        let c = parse(CARD).unwrap();
        assert_eq!(c.currency, "USD");
        assert_eq!(c.market_of("15550001111").unwrap().name, "North America");
        assert_eq!(c.market_of("18765550000").unwrap().name, "Jamaica");
        assert_eq!(c.market_of("447700900000").unwrap().name, "United Kingdom");
        assert_eq!(c.market_of("GB.1234").unwrap().name, "United Kingdom");
        assert_eq!(c.market_of("4915123456789").unwrap().name, "Other");
        let uk = c.market_of("44770").unwrap();
        assert_eq!(uk.price(PriceCategory::AuthenticationInternational), 0.04);
        assert_eq!(uk.price(PriceCategory::Service), 0.001);
        let na = c.market_of("1555").unwrap();
        assert_eq!(na.price(PriceCategory::AuthenticationInternational), 0.004, "falls back to authentication");
        assert_eq!(na.price(PriceCategory::Service), 0.0, "no service rate: free");
    }

    #[test]
    fn bad_rows_name_their_line_and_column() {
        let e = parse(&CARD.replace("0.05,0.02", "0.05,abc")).unwrap_err();
        assert!(e.starts_with("5: column \"Utility\": \"abc\" is not a price"), "{e}");
        let e = parse(&CARD.replace("+1876", "+0876")).unwrap_err();
        assert!(e.starts_with("4: column \"Calling codes\":"), "{e}");
        let e = parse(&CARD.replace("Other,*,USD", "Other,*,EUR")).unwrap_err();
        assert!(e.starts_with("6: column \"Currency\": EUR, but earlier rows are in USD"), "{e}");
        let e = parse(&CARD.replace("Jamaica,+1876,USD,0.06,0.01,0.01,,", "Jamaica,+1876,USD,0.06")).unwrap_err();
        assert!(e.starts_with("4: has 4 fields, but the header row has 8"), "{e}");
        let e = parse(&CARD.replace("Jamaica,+1876", "Jamaica,+1")).unwrap_err();
        assert!(e.contains("1 is already the calling code of market \"North America\""), "{e}");
        let e = parse(&CARD.replace(",Utility,", ",Utilities,")).unwrap_err();
        assert!(e.starts_with("1: the header row has no column \"Utility\""), "{e}");
        let e = parse(&CARD.replace("0.025,0.004,0.004", "0.025,,0.004")).unwrap_err();
        assert!(e.starts_with("3: column \"Utility\": is empty"), "{e}");
        let e = parse(&CARD.replace("0.025,", "-0.025,")).unwrap_err();
        assert!(e.starts_with("3: column \"Marketing\": \"-0.025\" is not a price"), "{e}");
    }

    #[test]
    fn the_shipped_example_reads() {
        let c = RateCard::load(Path::new("rate-card-example-2026.csv"), Path::new("profiles")).unwrap();
        assert!(c.markets().len() > 5 && c.market_of("999").is_some(), "a catch-all row");
    }
}

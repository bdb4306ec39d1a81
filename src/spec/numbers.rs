//! The sending phone numbers of a Cloud target: one (`phone_number_id`), a list (`phone_number_ids`)
//! or a file of ids (`phone_numbers_file`), and how messages are spread over them (`spread`).
//!
//! Meta counts throughput and the pair rate limit per business phone number, while the messaging
//! limit (unique users reached outside a window in a moving 24 hours) belongs to the business
//! portfolio and is shared by all its numbers ("Messaging limits", updated 2026-05-08:
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/messaging-limits>).
//! A campaign beyond one number's throughput therefore sends from several.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The id a Cloud target sends from when its profile names none (the simulator accepts any).
pub const DEFAULT_PHONE_NUMBER_ID: &str = "100000000000001";

/// Most sending numbers one target takes (Meta's portfolios hold up to a few dozen numbers; a list
/// longer than this is almost certainly a recipients file given by mistake).
pub const MAX_NUMBERS: usize = 1000;

/// How a target with several numbers chooses the one each message is sent from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Spread {
    /// Message n goes from number n mod N: each number carries an equal share of the rate.
    #[default]
    RoundRobin,
    /// A recipient always hears from the same number (chosen by a hash of the recipient), as a
    /// business keeps each customer's thread in one chat; shares follow the recipients.
    ByRecipient,
}

/// Whether `s` is digits only and not empty: the form of Meta's object ids (a phone number id, a
/// WhatsApp Business Account id) and of a phone number as its webhooks write it
/// (`display_phone_number`, `wa_id`: no `+`, no spaces).
pub fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `id` reads as a phone number id (digits only, not empty).
pub fn is_phone_number_id(id: &str) -> bool {
    is_digits(id)
}

/// Check a list of ids: each all digits, none twice, at most [`MAX_NUMBERS`]. The error names the
/// entry (0-based) and the reason.
pub fn check_ids(ids: &[String]) -> Result<(), (usize, String)> {
    if ids.len() > MAX_NUMBERS {
        return Err((MAX_NUMBERS, format!("lists {} numbers; at most {MAX_NUMBERS} per target", ids.len())));
    }
    for (i, id) in ids.iter().enumerate() {
        if !is_phone_number_id(id) {
            return Err((i, format!("{id:?} is not a phone number id (digits only, e.g. \"106540352242922\")")));
        }
        if ids[..i].contains(id) {
            return Err((i, format!("{id:?} is listed twice: each number sends its own share")));
        }
    }
    Ok(())
}

/// Read a file of phone number ids: one per line, blank lines and `#` comments skipped, a trailing
/// comment allowed. Errors read `file:line: reason`.
pub fn read_file(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut ids: Vec<String> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let id = line.split('#').next().unwrap_or("").trim();
        if id.is_empty() {
            continue;
        }
        let at = || format!("{}:{}", path.display(), n + 1);
        if !is_phone_number_id(id) {
            return Err(format!("{}: {id:?} is not a phone number id (digits only, one per line)", at()));
        }
        if ids.iter().any(|i| i == id) {
            return Err(format!("{}: {id:?} is listed twice", at()));
        }
        ids.push(id.to_string());
        if ids.len() > MAX_NUMBERS {
            return Err(format!("{}: more than {MAX_NUMBERS} numbers; at most {MAX_NUMBERS} per target", at()));
        }
    }
    if ids.is_empty() {
        return Err(format!("{}: lists no phone number id", path.display()));
    }
    Ok(ids)
}

/// The index of the number message `seq` to `recipient` is sent from, of `count` numbers.
pub fn pick(spread: Spread, count: usize, seq: u64, recipient: &str) -> usize {
    if count <= 1 {
        return 0;
    }
    match spread {
        Spread::RoundRobin => (seq % count as u64) as usize,
        Spread::ByRecipient => (fnv1a(recipient.as_bytes()) % count as u64) as usize,
    }
}

/// FNV-1a: a stable hash, the same in every process and version (shards agree on the number).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_webhook_numbers_are_ascii_digits_only() {
        for ok in ["0", "106540352242922", "0015550783881"] {
            assert!(is_digits(ok) && is_phone_number_id(ok), "{ok:?} refused");
        }
        for bad in ["", "+15550783881", "1555 078", "1555-078", "10x", " 1", "1\n", "\u{0661}\u{0662}"] {
            assert!(!is_digits(bad) && !is_phone_number_id(bad), "{bad:?} accepted");
        }
    }

    #[test]
    fn round_robin_gives_each_number_an_equal_share() {
        let mut counts = [0u32; 3];
        for seq in 0..300 {
            counts[pick(Spread::RoundRobin, 3, seq, "15550001")] += 1;
        }
        assert_eq!(counts, [100, 100, 100]);
    }

    #[test]
    fn by_recipient_keeps_a_recipient_on_one_number_and_uses_them_all() {
        let recipients: Vec<String> = (0..300).map(|i| format!("1555{i:07}")).collect();
        let mut used = [0u32; 3];
        for (seq, r) in recipients.iter().enumerate() {
            let first = pick(Spread::ByRecipient, 3, seq as u64, r);
            assert_eq!(first, pick(Spread::ByRecipient, 3, seq as u64 + 17, r), "{r}");
            used[first] += 1;
        }
        assert!(used.iter().all(|n| *n > 50), "{used:?}");
    }

    #[test]
    fn a_file_of_ids_reads_with_comments_and_reports_its_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("numbers.txt");
        std::fs::write(&f, "# the campaign's numbers\n106540352242922\n\n106540352242923  # second\n").unwrap();
        assert_eq!(read_file(&f).unwrap(), ["106540352242922", "106540352242923"]);
        std::fs::write(&f, "106540352242922\n+1 555 0100\n").unwrap();
        let e = read_file(&f).unwrap_err();
        assert!(e.contains("numbers.txt:2:") && e.contains("not a phone number id"), "{e}");
        std::fs::write(&f, "1\n2\n1\n").unwrap();
        assert!(read_file(&f).unwrap_err().contains("numbers.txt:3:"));
        std::fs::write(&f, "# none\n").unwrap();
        assert!(read_file(&f).unwrap_err().contains("lists no phone number id"));
    }

    #[test]
    fn a_list_with_a_bad_or_repeated_id_names_the_entry() {
        assert!(check_ids(&["1".into(), "2".into()]).is_ok());
        assert_eq!(check_ids(&["1".into(), "x2".into()]).unwrap_err().0, 1);
        assert_eq!(check_ids(&["1".into(), "2".into(), "1".into()]).unwrap_err().0, 2);
    }
}

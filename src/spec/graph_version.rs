//! A Graph API version as Meta writes it: `v<major>.<minor>`, both whole numbers in decimal without
//! leading zeros (`v23.0`, `v24.0`, and in the past `v2.12`). The Cloud API's paths start with one
//! (`/v23.0/{phone-number-id}/messages`), and the shape of its status webhooks depends on the major
//! number (from v24.0 no `conversation` object). Every reader of a version in wabench — a target's
//! `api_version`, a webhook target's `api_version`, the simulator's route — uses this one rule, so a
//! version one accepts the others accept too.

use std::fmt;

/// A Graph API version: `v23.0` is `{ major: 23, minor: 0 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GraphVersion {
    pub major: u16,
    pub minor: u16,
}

impl GraphVersion {
    /// Read `v<major>.<minor>`; anything else (no `v`, a missing or third part, signs, spaces,
    /// leading zeros, a number beyond 65535) is not a version.
    pub fn parse(s: &str) -> Option<GraphVersion> {
        let (major, minor) = s.strip_prefix('v')?.split_once('.')?;
        Some(GraphVersion { major: number(major)?, minor: number(minor)? })
    }
}

/// A decimal number as Meta writes one in a version: digits only, no leading zero but for `0` itself.
fn number(s: &str) -> Option<u16> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits && (s == "0" || !s.starts_with('0'))).then(|| s.parse().ok()).flatten()
}

impl fmt::Display for GraphVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_versions_are_read_into_their_numbers_and_written_back_alike() {
        for (text, major, minor) in
            [("v23.0", 23, 0), ("v24.0", 24, 0), ("v2.12", 2, 12), ("v0.0", 0, 0), ("v65535.9", 65535, 9)]
        {
            let v = GraphVersion::parse(text).unwrap_or_else(|| panic!("{text} refused"));
            assert_eq!((v.major, v.minor), (major, minor), "{text}");
            assert_eq!(v.to_string(), text);
        }
        assert!(GraphVersion::parse("v24.0") > GraphVersion::parse("v23.9"));
        assert!(GraphVersion::parse("v2.12") > GraphVersion::parse("v2.9"));
    }

    #[test]
    fn anything_else_is_refused() {
        for text in [
            "", "v", "v.", "v23", "v23.", "v.0", "23.0", "V23.0", "v23.0.1", "v23.0.", "v-1.0", "v+23.0", "v23.-0",
            " v23.0", "v23.0 ", "v 23.0", "v23 .0", "v023.0", "v23.00", "v23.01", "v65536.0", "v1.99999", "v23,0",
            "v23.0/", "vv23.0", "v٢٣.0", "v23.0\n",
        ] {
            assert_eq!(GraphVersion::parse(text), None, "{text:?} accepted");
        }
    }
}

//! Durations written as humantime text ("30s", "2m", "150ms", "1h 30m"): [`Dur`] for profile fields,
//! and [`serde`]/[`serde::option`] for plain `Duration` fields. Both use [`parse`], so every duration a
//! user writes is read the same way and capped at [`MAX_DURATION`].

use std::fmt;
use std::time::Duration;

use ::serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest duration a profile may give (100 years): longer ones overflow clock arithmetic.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Parse a humantime duration; the error says what to write instead.
pub fn parse(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("invalid duration {s:?}: {e} (write e.g. \"30s\", \"2m\", \"150ms\")"))?;
    if d > MAX_DURATION {
        return Err(format!("duration {s:?} is longer than 100 years"));
    }
    Ok(d)
}

/// The wait before the attempt after `attempts` failed ones: `initial`, doubled each time, at most
/// `max` (the drivers' retries and the simulator's webhook re-deliveries).
pub fn doubling(initial: Duration, max: Duration, attempts: u32) -> Duration {
    let factor = 1u32.checked_shl(attempts.saturating_sub(1).min(31)).unwrap_or(u32::MAX);
    initial.checked_mul(factor).unwrap_or(max).min(max)
}

/// A duration as humantime text.
pub fn format(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// A duration written as a humantime string in a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::deserialize(d).map(Dur)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde::serialize(&self.0, s)
    }
}

/// In a JSON Schema of the profile: a string such as "30s", "2m", "150ms" or "1h 30m".
impl schemars::JsonSchema for Dur {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration: a number and a unit, e.g. \"30s\", \"2m\", \"150ms\", \"1h 30m\" (at most 100 years).",
            "pattern": "^\\s*([0-9]+\\s*[a-zA-Zµ]+\\s*)+$",
            "examples": ["30s", "2m", "150ms", "1h 30m"]
        })
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format(self.0))
    }
}

/// `#[serde(with = "crate::units::duration::serde")]` for `Duration` fields.
pub mod serde {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        super::parse(&s).map_err(serde::de::Error::custom)
    }

    /// The same for `Option<Duration>`; an absent field is `None`.
    pub mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            let s = Option::<String>::deserialize(d)?;
            s.map(|s| super::super::parse(&s).map_err(serde::de::Error::custom)).transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubling_up_to_the_cap() {
        let (i, m) = (Duration::from_secs(1), Duration::from_secs(60));
        let waits: Vec<u64> = (1..=8).map(|n| doubling(i, m, n).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(doubling(i, m, u32::MAX), m);
    }

    #[test]
    fn parses_formats_and_caps() {
        assert_eq!(parse(" 1h 30m ").unwrap(), Duration::from_secs(5400));
        assert_eq!(format(Duration::from_millis(1500)), "1s 500ms");
        assert!(parse("soon").unwrap_err().contains("write e.g."));
        assert!(parse("101years").unwrap_err().contains("longer than 100 years"));
        let d: Dur = toml::from_str::<std::collections::BTreeMap<String, Dur>>("x = \"2m\"").unwrap()["x"];
        assert_eq!(d, Dur(Duration::from_secs(120)));
        assert_eq!(d.to_string(), "2m");
    }
}

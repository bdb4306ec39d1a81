//! The simulated users' 2026 identities: a business-scoped user ID (BSUID) per user, a parent BSUID
//! where enabled, and a username for a seeded share of users (`[simulator.identity]`).
//!
//! Meta, "Business-scoped user IDs"
//! (<https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids>):
//! a BSUID is the user's ISO 3166 alpha-2 country code, a dot and an alphanumeric id
//! (`US.13491208655302741918`; parent BSUIDs `US.ENT.…`), unique per user and business portfolio,
//! stable while the user keeps their phone number. Here the id is a keyed bijection of the phone
//! number (with a 10-bit keyed check), written as 20 decimal digits like Meta's example: stable for
//! a seed (one seed, one portfolio), different across seeds, and invertible, so a message addressed
//! to a BSUID reaches the same simulated user (windows, pair limit, failing recipients) as one
//! addressed to the number, while another portfolio's BSUID resolves to nobody.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use super::config::IdentityConfig;
use super::model::{hash_bytes, mix64};
use crate::webhook::UserIdentity;

/// Salts separating BSUIDs, parent BSUIDs and usernames from the simulator's other seeded choices.
const BSUID_SALT: u64 = 0xB5_01D0_0000_0001;
const PARENT_SALT: u64 = 0xB5_01D0_0000_0E27;
const USERNAME_SALT: u64 = 0xB5_01D0_0000_05E2;
const SHARED_SALT: u64 = 0xB5_01D0_0000_5A4E;

/// Identities of one simulator's users.
#[derive(Debug, Clone)]
pub struct Identities {
    cfg: IdentityConfig,
    seed: u64,
    /// How many times each user's BSUID changed (users absent: never), and the most of any user:
    /// generation `g` of a user's BSUID is made with key [`Identities::key`]`(g)`.
    generations: Arc<Mutex<HashMap<String, u32>>>,
    max_generation: Arc<AtomicU32>,
}

impl Identities {
    pub fn new(cfg: &IdentityConfig, seed: u64) -> Self {
        Identities { cfg: cfg.clone(), seed, generations: Arc::default(), max_generation: Arc::default() }
    }

    /// The key of generation `g` of the BSUIDs (generation 0: every user's first).
    fn key(&self, g: u32) -> u64 {
        self.seed ^ BSUID_SALT ^ u64::from(g).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// The generation of the BSUID of `digits` now.
    fn generation(&self, digits: &str) -> u32 {
        if self.max_generation.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        self.generations.lock().unwrap_or_else(|e| e.into_inner()).get(digits).copied().unwrap_or(0)
    }

    /// Give the user `digits` a new BSUID: `(previous, new)`, or `None` with BSUIDs off. The
    /// previous one no longer names anybody (Meta: a new BSUID is generated, e.g. when the user
    /// changes phone number; the business learns of it by a `user_changed_user_id` system message).
    pub fn change_user_id(&self, digits: &str) -> Option<(String, String)> {
        let previous = self.of(digits)?.user_id;
        let g = {
            let mut m = self.generations.lock().unwrap_or_else(|e| e.into_inner());
            let g = m.entry(digits.to_string()).or_insert(0);
            *g += 1;
            *g
        };
        self.max_generation.fetch_max(g, Ordering::Relaxed);
        Some((previous, bsuid(self.key(g), digits, false)))
    }

    /// BSUIDs are on (the 2026 shapes).
    pub fn enabled(&self) -> bool {
        self.cfg.bsuid
    }

    /// The identity of the user with phone digits `digits`, or `None` with BSUIDs off.
    pub fn of(&self, digits: &str) -> Option<UserIdentity> {
        if !self.cfg.bsuid {
            return None;
        }
        let username = self.username(digits);
        let phone_shared = username.is_some() && self.draw(SHARED_SALT, digits) < self.cfg.phone_shared_fraction;
        Some(UserIdentity {
            user_id: bsuid(self.key(self.generation(digits)), digits, false),
            parent_user_id: self.cfg.parent_user_id.then(|| bsuid(self.seed ^ PARENT_SALT, digits, true)),
            username,
            phone_shared,
        })
    }

    /// A uniform draw in [0, 1) for `digits` under `salt`.
    fn draw(&self, salt: u64, digits: &str) -> f64 {
        (hash_bytes(self.seed ^ salt, digits.as_bytes()) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The username of a user who adopted one (a seeded `username_fraction` of users). Meta:
    /// usernames have the business-username format; these are lowercase letters, digits and `_`.
    fn username(&self, digits: &str) -> Option<String> {
        let h = hash_bytes(self.seed ^ USERNAME_SALT, digits.as_bytes());
        let adopted = ((h >> 11) as f64 / (1u64 << 53) as f64) < self.cfg.username_fraction;
        adopted.then(|| format!("user_{:08x}", mix64(h) as u32))
    }

    /// The phone digits of the user a BSUID (or, when enabled, parent BSUID) of this simulator
    /// names; `None` for an id this business portfolio never issued.
    pub fn resolve(&self, id: &str) -> Option<String> {
        if !self.cfg.bsuid {
            return None;
        }
        let parent = id.get(3..).is_some_and(|r| r.starts_with("ENT."));
        if parent && !self.cfg.parent_user_id {
            return None;
        }
        let country = |digits: &String| id.get(..2) == Some(iso_country(digits));
        if parent {
            return unbsuid(self.seed ^ PARENT_SALT, id, true).filter(country);
        }
        // A user's current BSUID only: one of an earlier generation is stale.
        (0..=self.max_generation.load(Ordering::Relaxed))
            .find_map(|g| unbsuid(self.key(g), id, false).filter(|d| country(d) && self.generation(d) == g))
    }
}

/// The BSUID of `digits` under `key`: `CC.` (or `CC.ENT.`) and the keyed permutation of the number,
/// 20 digits. Numbers too long to encode (more than 15 digits: no E.164 number is) get a hash instead.
pub fn bsuid(key: u64, digits: &str, parent: bool) -> String {
    let cc = iso_country(digits);
    let ent = if parent { "ENT." } else { "" };
    let n = encode(key, digits).map_or_else(|| mix64(hash_bytes(key, digits.as_bytes())), |n| permute(key, n));
    format!("{cc}.{ent}{n:020}")
}

/// The phone digits behind a BSUID made by [`bsuid`] with `key`, if it is one.
fn unbsuid(key: u64, id: &str, parent: bool) -> Option<String> {
    let body = id.get(3..)?;
    let body = if parent { body.strip_prefix("ENT.")? } else { body };
    if body.len() != 20 || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    decode(key, unpermute(key, body.parse().ok()?))
}

/// Bits of the number (10^15 < 2^50), of its length in digits, and of the keyed check above them.
const NUM_BITS: u32 = 50;
const LEN_BITS: u32 = 4;

/// The check of `digits` under `key` (10 bits).
fn check(key: u64, digits: &str) -> u64 {
    hash_bytes(key ^ 0xC4EC, digits.as_bytes()) & 0x3FF
}

/// check | length | number, for 1 to 15 digits (the length keeps leading zeros).
fn encode(key: u64, digits: &str) -> Option<u64> {
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some((check(key, digits) << (NUM_BITS + LEN_BITS)) | ((digits.len() as u64) << NUM_BITS) | n)
}

fn decode(key: u64, v: u64) -> Option<String> {
    let n = v & ((1 << NUM_BITS) - 1);
    let len = ((v >> NUM_BITS) & ((1 << LEN_BITS) - 1)) as usize;
    if len == 0 || len > 15 || n >= 10u64.pow(len as u32) {
        return None;
    }
    let digits = format!("{n:0len$}");
    (v >> (NUM_BITS + LEN_BITS) == check(key, &digits)).then_some(digits)
}

const M1: u64 = 0xBF58_476D_1CE4_E5B9;
const M2: u64 = 0x94D0_49BB_1331_11EB;

/// A keyed bijection of `u64` (SplitMix64's finalizer, the key mixed in before and between its
/// rounds): xor-shifts, xors and odd multipliers are each invertible.
fn permute(key: u64, x: u64) -> u64 {
    let mut z = x ^ key;
    z = (z ^ (z >> 30)).wrapping_mul(M1) ^ key.rotate_left(32);
    z = (z ^ (z >> 27)).wrapping_mul(M2);
    z ^ (z >> 31)
}

fn unpermute(key: u64, z: u64) -> u64 {
    let mut x = unshift(z, 31).wrapping_mul(inverse(M2));
    x = unshift(x, 27) ^ key.rotate_left(32);
    unshift(x.wrapping_mul(inverse(M1)), 30) ^ key
}

/// Inverse of `y = x ^ (x >> s)`.
fn unshift(y: u64, s: u32) -> u64 {
    let mut x = y;
    for _ in 0..64 / s + 1 {
        x = y ^ (x >> s);
    }
    x
}

/// Multiplicative inverse of an odd number modulo 2^64 (Newton's iteration doubles the correct bits).
fn inverse(a: u64) -> u64 {
    let mut x = a;
    for _ in 0..5 {
        x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
    }
    x
}

/// Country calling codes and their ISO 3166 alpha-2 codes (ITU-T E.164 assignments). A shared code
/// maps to its largest country (+1 to US, +7 to RU); a code not listed gives `ZZ` (ISO's code for an
/// unknown country).
const CALLING_CODES: &[(&str, &str)] = &[
    ("1", "US"),
    ("7", "RU"),
    ("20", "EG"),
    ("27", "ZA"),
    ("30", "GR"),
    ("31", "NL"),
    ("32", "BE"),
    ("33", "FR"),
    ("34", "ES"),
    ("36", "HU"),
    ("39", "IT"),
    ("40", "RO"),
    ("41", "CH"),
    ("43", "AT"),
    ("44", "GB"),
    ("45", "DK"),
    ("46", "SE"),
    ("47", "NO"),
    ("48", "PL"),
    ("49", "DE"),
    ("51", "PE"),
    ("52", "MX"),
    ("53", "CU"),
    ("54", "AR"),
    ("55", "BR"),
    ("56", "CL"),
    ("57", "CO"),
    ("58", "VE"),
    ("60", "MY"),
    ("61", "AU"),
    ("62", "ID"),
    ("63", "PH"),
    ("64", "NZ"),
    ("65", "SG"),
    ("66", "TH"),
    ("81", "JP"),
    ("82", "KR"),
    ("84", "VN"),
    ("86", "CN"),
    ("90", "TR"),
    ("91", "IN"),
    ("92", "PK"),
    ("93", "AF"),
    ("94", "LK"),
    ("95", "MM"),
    ("98", "IR"),
    ("212", "MA"),
    ("213", "DZ"),
    ("216", "TN"),
    ("234", "NG"),
    ("254", "KE"),
    ("255", "TZ"),
    ("256", "UG"),
    ("351", "PT"),
    ("353", "IE"),
    ("358", "FI"),
    ("380", "UA"),
    ("420", "CZ"),
    ("850", "KP"),
    ("852", "HK"),
    ("853", "MO"),
    ("880", "BD"),
    ("886", "TW"),
    ("963", "SY"),
    ("966", "SA"),
    ("971", "AE"),
    ("972", "IL"),
    ("974", "QA"),
];

/// The ISO 3166 alpha-2 country of a phone number's calling code (longest match), else `ZZ`.
pub fn iso_country(digits: &str) -> &'static str {
    (1..=3)
        .rev()
        .filter_map(|n| digits.get(..n))
        .find_map(|cc| CALLING_CODES.iter().find(|(c, _)| *c == cc).map(|(_, iso)| *iso))
        .unwrap_or("ZZ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::recipients::{is_bsuid, is_parent_bsuid};

    fn ids(f: impl FnOnce(&mut IdentityConfig)) -> Identities {
        let mut cfg = IdentityConfig::default();
        f(&mut cfg);
        Identities::new(&cfg, 7)
    }

    #[test]
    fn bsuids_have_metas_form_and_invert() {
        let i = ids(|c| c.parent_user_id = true);
        let u = i.of("16505551234").unwrap();
        assert!(u.user_id.starts_with("US.") && u.user_id.len() == 23, "{}", u.user_id);
        assert!(is_bsuid(&u.user_id) && !is_parent_bsuid(&u.user_id));
        let p = u.parent_user_id.clone().unwrap();
        assert!(p.starts_with("US.ENT.") && is_parent_bsuid(&p), "{p}");
        assert_eq!(i.resolve(&u.user_id).as_deref(), Some("16505551234"));
        assert_eq!(i.resolve(&p).as_deref(), Some("16505551234"));
        assert_eq!(i.of("16505551234").unwrap().user_id, u.user_id, "stable");
        assert_ne!(ids(|_| {}).of("16505551235").unwrap().user_id, u.user_id);
        let other_portfolio = Identities::new(&IdentityConfig::default(), 8);
        assert_ne!(other_portfolio.of("16505551234").unwrap().user_id, u.user_id, "scoped to the seed");
        assert_eq!(other_portfolio.resolve(&u.user_id), None, "another portfolio's BSUID");
        assert_eq!(i.resolve("US.13491208655302741918"), None);
        assert_eq!(i.resolve(&u.user_id.replacen("US", "GB", 1)), None, "country must match");
        assert_eq!(ids(|_| {}).resolve(&p), None, "parent BSUIDs off");
        for d in ["447700900123", "85212345678", "5351234567", "0123", "999"] {
            let b = bsuid(3, d, false);
            assert_eq!(unbsuid(3, &b, false).as_deref(), Some(d), "{b}");
        }
        assert!(bsuid(3, "447700900123", false).starts_with("GB."));
        assert!(bsuid(3, "85212345678", false).starts_with("HK."));
        assert!(bsuid(3, "999", false).starts_with("ZZ."));
    }

    #[test]
    fn permutation_is_a_bijection() {
        for x in [0, 1, u64::MAX, 0x1234_5678_9ABC_DEF0, 116_505_551_234] {
            assert_eq!(unpermute(42, permute(42, x)), x);
        }
        assert_eq!(inverse(M1).wrapping_mul(M1), 1);
    }

    #[test]
    fn usernames_follow_the_fraction_and_bsuid_off_means_none() {
        assert!((0..1000).all(|n| ids(|_| {}).of(&format!("1555{n:07}")).unwrap().username.is_none()));
        let some = ids(|c| c.username_fraction = 0.3);
        let n = (0..10_000).filter(|n| some.of(&format!("1555{n:07}")).unwrap().username.is_some()).count();
        assert!((2700..3300).contains(&n), "{n}");
        let all = ids(|c| c.username_fraction = 1.0).of("15551230000").unwrap();
        assert!(all.username.unwrap().starts_with("user_"));
        let off = ids(|c| c.bsuid = false);
        assert!(off.of("15551230000").is_none() && !off.enabled());
        // Phone sharing is a share of username users only.
        let shared = ids(|c| {
            c.username_fraction = 1.0;
            c.phone_shared_fraction = 0.5;
        });
        let n = (0..4000).filter(|n| shared.of(&format!("1555{n:07}")).unwrap().phone_shared).count();
        assert!((1800..2200).contains(&n), "{n}");
        let none = ids(|c| c.phone_shared_fraction = 1.0);
        assert!(!none.of("15551230000").unwrap().phone_shared, "no username, nothing withheld to share");
        assert_eq!(off.resolve(&ids(|_| {}).of("15551230000").unwrap().user_id), None);
    }

    #[test]
    fn a_changed_bsuid_replaces_the_old_one() {
        let i = ids(|c| c.parent_user_id = true);
        let before = i.of("16505551234").unwrap();
        let other = i.of("16505559999").unwrap().user_id;
        let (old, new) = i.change_user_id("16505551234").unwrap();
        assert_eq!(old, before.user_id);
        assert!(new != old && new.starts_with("US.") && is_bsuid(&new), "{new}");
        let after = i.of("16505551234").unwrap();
        assert_eq!(after.user_id, new);
        assert_eq!(after.parent_user_id, before.parent_user_id, "the parent BSUID stays");
        assert_eq!(i.resolve(&new).as_deref(), Some("16505551234"));
        assert_eq!(i.resolve(&old), None, "the old BSUID names nobody now");
        assert_eq!(i.resolve(&other).as_deref(), Some("16505559999"), "other users keep theirs");
        let (again_old, newer) = i.change_user_id("16505551234").unwrap();
        assert_eq!(again_old, new);
        assert_eq!(i.resolve(&newer).as_deref(), Some("16505551234"));
        assert_eq!(i.resolve(&new), None);
        assert!(ids(|c| c.bsuid = false).change_user_id("16505551234").is_none());
    }
}

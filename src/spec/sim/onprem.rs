//! The On-Premises deployment as it is sized: CoreApp shards behind WebApps. Meta's published
//! capacity per shard count, the capacity of a configured deployment (its shards, and the request
//! limiters of its WebApps), and the accounts' first-login rule. The simulator (`sim::onprem`,
//! `sim::deployment`) and the capacity planner (`app::plan::binding`) both read these, so that the
//! planner's advice on the embedded simulator agrees with what the simulator does.

use super::{ConfigError, OnPremConfig, UserConfig};

/// Shard counts the On-Premises API supports: "we only support static sharding with a shard number
/// of 1, 2, 4, 8, 16, or 32" (Meta, "Scale Your API Client With Multiconnect",
/// https://developers.facebook.com/docs/whatsapp/multiconnect_mc).
pub const SHARD_COUNTS: [u32; 6] = [1, 2, 4, 8, 16, 32];

/// Meta's published throughput of a deployment, in messages/s, by shard count (Meta's
/// On-Premises API documentation, archived at the API's sunset):
/// - 1 shard: single-connect ≈ 70 messages/s;
/// - 8 shards: "100 - 150" messages/s with "Active shards: 8" (Meta, "Scale Your API Client With
///   Multiconnect", https://developers.facebook.com/docs/whatsapp/multiconnect_mc); the midpoint 125;
/// - 32 shards: "a sustained performance of 250 messages/second" with `NumCoreappInstances` 32
///   (Meta, "High Throughput Recommendations", https://developers.facebook.com/docs/whatsapp/guides/high-throughput).
pub const META_SIZING: [(u32, f64); 3] = [(1, 70.0), (8, 125.0), (32, 250.0)];

/// Requests per second one WebApp admits on `/v1/messages` ("Beginning with v2.25.3, the request
/// rate limit for the messages endpoint is 50 requests per second with bursts allowed up to 150";
/// Meta's "Capacity Rate Limits" as quoted in 360dialog's "Capacity, Quality Rating, and
/// Messaging Limits"). The limiter runs in the WebApp, so each WebApp has its own (model).
pub const WEBAPP_MESSAGES_RPS: f64 = 50.0;

/// Most WebApps a simulated deployment may have (model: a bound on the simulator's memory, far
/// above what 32 shards need at 50 requests/s each).
pub const MAX_WEBAPPS: u32 = 64;

/// Meta's expected throughput of a deployment with `shards` CoreApp shards, in messages/s:
/// [`META_SIZING`] where Meta publishes a figure, and between those points a straight line on
/// log–log axes (model: Meta publishes nothing for 2, 4 and 16 shards): 2 ≈ 85, 4 ≈ 103, 16 ≈ 177.
pub fn meta_capacity_mps(shards: u32) -> f64 {
    let n = f64::from(shards.clamp(1, 32));
    let pairs = META_SIZING.windows(2);
    for w in pairs {
        let ((a, ca), (b, cb)) = (w[0], w[1]);
        if n <= f64::from(b) {
            let t = (n.ln() - f64::from(a).ln()) / (f64::from(b).ln() - f64::from(a).ln());
            return (ca.ln() + t * (cb.ln() - ca.ln())).exp();
        }
    }
    META_SIZING[META_SIZING.len() - 1].1
}

impl OnPremConfig {
    /// Messages per second one shard processes: `per_shard_mps`, or Meta's sizing for this shard
    /// count divided by the shards (8 shards: 15.625; 32 shards: 7.8125).
    pub fn shard_rate(&self) -> f64 {
        self.per_shard_mps.unwrap_or_else(|| meta_capacity_mps(self.shards) / f64::from(self.shards.max(1)))
    }

    /// What the CoreApp shards of a deployment like this one with `shards` shards process, in
    /// messages/s: linear in shards when `per_shard_mps` is set, Meta's sizing otherwise.
    pub fn coreapp_capacity_at(&self, shards: u32) -> f64 {
        match self.per_shard_mps {
            Some(r) => r * f64::from(shards),
            None => meta_capacity_mps(shards),
        }
    }

    /// What this deployment's CoreApp shards process, in messages/s.
    pub fn coreapp_capacity(&self) -> f64 {
        self.coreapp_capacity_at(self.shards)
    }

    /// Requests per second all WebApps together admit on `/v1/messages`; `None` when unlimited.
    pub fn request_capacity(&self) -> Option<f64> {
        (self.messages_rps > 0).then(|| f64::from(self.messages_rps) * f64::from(self.webapps))
    }

    /// Check the deployment's ranges.
    pub fn validate_deployment(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_WEBAPPS).contains(&self.webapps) {
            return Err(ConfigError(format!("onprem.webapps must be in 1..={MAX_WEBAPPS}")));
        }
        if let Some(r) = self.per_shard_mps
            && !(r > 0.0 && r.is_finite())
        {
            return Err(ConfigError("onprem.per_shard_mps must be > 0".into()));
        }
        Ok(())
    }
}

impl UserConfig {
    /// Whether `users` is the default: Meta's default account alone, `admin` / `secret`.
    pub fn are_default(users: &[UserConfig]) -> bool {
        matches!(users, [u] if u.username == "admin" && u.password == "secret" && u.must_change.is_none())
    }

    /// Whether the first login must set `new_password`: as configured, or by default for Meta's
    /// default account: "the username of the account is admin and the password is secret … you are
    /// required to change the admin password on your first login … If you try to log in with the
    /// default password and no new_password field information, the system returns an error"
    /// (Meta, "Login and Authentication", https://developers.facebook.com/docs/whatsapp/api/users/login).
    pub fn must_change_password(&self) -> bool {
        self.must_change.unwrap_or(self.username == "admin" && self.password == "secret")
    }
}

/// Why a new password is refused, or `None` when it meets Meta's rules: "between 8 and 64
/// characters long and have at least one digit, one uppercase character, one lowercase character,
/// one special character" (Meta, "Login and Authentication",
/// https://developers.facebook.com/docs/whatsapp/api/users/login).
pub fn weak_password(p: &str) -> Option<&'static str> {
    let n = p.chars().count();
    if !(8..=64).contains(&n) {
        return Some("must be between 8 and 64 characters long");
    }
    let has = |f: fn(&char) -> bool| p.chars().any(|c| f(&c));
    if !has(char::is_ascii_digit) {
        return Some("needs at least one digit");
    }
    if !has(char::is_ascii_uppercase) {
        return Some("needs at least one uppercase character");
    }
    if !has(char::is_ascii_lowercase) {
        return Some("needs at least one lowercase character");
    }
    if !has(char::is_ascii_punctuation) {
        return Some("needs at least one special character");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_sizing_passes_through_the_published_points() {
        assert!((meta_capacity_mps(1) - 70.0).abs() < 1e-9);
        assert!((meta_capacity_mps(8) - 125.0).abs() < 1e-9);
        assert!((meta_capacity_mps(32) - 250.0).abs() < 1e-9);
        // Between them it grows with every doubling, never faster than the shards.
        let caps: Vec<f64> = SHARD_COUNTS.iter().map(|s| meta_capacity_mps(*s)).collect();
        assert!(caps.windows(2).all(|w| w[1] > w[0] && w[1] < 2.0 * w[0]), "{caps:?}");
        assert!((100.0..=106.0).contains(&caps[2]), "4 shards: {}", caps[2]);
    }

    #[test]
    fn default_deployment_is_metas_eight_shards_behind_enough_webapps() {
        let o = OnPremConfig::default();
        assert_eq!(o.shards, 8);
        assert!((o.shard_rate() - 15.625).abs() < 1e-9);
        assert!((o.coreapp_capacity() - 125.0).abs() < 1e-9);
        assert!(o.request_capacity().unwrap() >= o.coreapp_capacity(), "the WebApps carry the shards");
        assert!((o.coreapp_capacity_at(32) - 250.0).abs() < 1e-9);
        let linear = OnPremConfig { per_shard_mps: Some(50.0), ..OnPremConfig::default() };
        assert!((linear.coreapp_capacity_at(4) - 200.0).abs() < 1e-9);
        let one = OnPremConfig { webapps: 1, ..OnPremConfig::default() };
        assert_eq!(one.request_capacity(), Some(50.0));
        assert!(OnPremConfig { webapps: 0, ..OnPremConfig::default() }.validate_deployment().is_err());
        assert!(OnPremConfig { per_shard_mps: Some(0.0), ..OnPremConfig::default() }.validate_deployment().is_err());
    }

    #[test]
    fn default_admin_must_change_its_password_and_new_ones_must_be_strong() {
        let admin = UserConfig { username: "admin".into(), password: "secret".into(), must_change: None };
        assert!(admin.must_change_password());
        let other = UserConfig { username: "ops".into(), password: "secret".into(), must_change: None };
        assert!(!other.must_change_password());
        assert!(!UserConfig { must_change: Some(false), ..admin }.must_change_password());
        assert_eq!(weak_password("N3w-pass"), None);
        assert!(weak_password("short1A!").is_none());
        assert!(weak_password("Sh0rt!").unwrap().contains("8 and 64"));
        assert!(weak_password("nouppercase1!").unwrap().contains("uppercase"));
        assert!(weak_password("NoSpecial1x").unwrap().contains("special"));
    }
}

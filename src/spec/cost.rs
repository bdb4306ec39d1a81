//! A WhatsApp target's `cost` table: the rate card its messages are priced by, the most it may spend
//! (`max_cost`), and how one message is priced (its category from the message kind and the template's
//! category, its market from the recipient).
//!
//! ```toml
//! [[targets]]
//! name = "cloud"
//! kind = "cloud"
//! base_url = "https://graph.facebook.com"
//! cost = { rate_card = "rate-card-example-2026.csv", max_cost = 25.0 }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::rate_card::{Market, PriceCategory, RateCard};
use super::sim::content::TemplateCategory;

/// The `cost` table of a Cloud or On-Premises target.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CostSpec {
    /// CSV rate card (relative to the profile's folder): one row per market with its calling codes,
    /// currency and the price of a delivered message per category (see
    /// `profiles/rate-card-example-2026.csv`).
    pub rate_card: PathBuf,
    /// The most this target may spend, in the card's currency. `validate` refuses a run whose
    /// estimate is above it, and a run stops sending new messages before the accepted ones would
    /// cost more (results marked `stopped: "max_cost"`, exit 99).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost: Option<f64>,
    /// Price authentication templates at the market's authentication-international rate where the
    /// card has one (Meta: for businesses deemed eligible, sending from another country). Default
    /// false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub authentication_international: bool,
}

impl CostSpec {
    /// The table's own rules; errors are (field under the target, reason).
    pub fn validate(&self) -> Result<(), (String, String)> {
        if let Some(m) = self.max_cost
            && (!m.is_finite() || m <= 0.0)
        {
            return Err(("cost.max_cost".into(), format!("must be a number greater than 0, got {m}")));
        }
        if self.rate_card.as_os_str().is_empty() {
            return Err(("cost.rate_card".into(), "must name a CSV file".into()));
        }
        Ok(())
    }
}

/// Where the category of the `[messages]` template comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CategoryFrom {
    /// `messages.template_category`.
    Messages,
    /// The `[[simulator.templates]]` entry of that name and language.
    Simulator,
    /// Neither says: marketing assumed, the highest rate (an upper bound).
    Assumed,
}

/// The category of the profile's template messages, and where it comes from.
pub fn template_category(p: &super::Profile) -> (TemplateCategory, CategoryFrom) {
    let m = &p.messages;
    if let Some(c) = m.template_category {
        return (c, CategoryFrom::Messages);
    }
    let known = p.simulator.templates.iter().find(|t| t.name == m.template_name && t.language == m.template_language);
    match known {
        Some(t) => (t.category, CategoryFrom::Simulator),
        None => (TemplateCategory::Marketing, CategoryFrom::Assumed),
    }
}

/// How a target's messages are priced: its card, its template category, authentication-international.
#[derive(Debug, Clone)]
pub struct Pricing {
    pub card: Arc<RateCard>,
    pub template: TemplateCategory,
    pub authentication_international: bool,
}

/// One message priced: its category, market and price.
#[derive(Debug, Clone, Copy)]
pub struct Priced<'a> {
    pub category: PriceCategory,
    pub market: &'a Market,
    pub price: f64,
}

impl Pricing {
    /// The pricing of a target with a `cost` table (its card already read).
    pub fn new(p: &super::Profile, spec: &CostSpec, card: Arc<RateCard>) -> Pricing {
        Pricing {
            card,
            template: template_category(p).0,
            authentication_international: spec.authentication_international,
        }
    }

    /// A message to `recipient`, a template or not, priced (`None`: no market of the card matches,
    /// which loading rules out for the run's recipients).
    pub fn price(&self, recipient: &str, template: bool) -> Option<Priced<'_>> {
        let market = self.card.market_of(recipient)?;
        let category = match (template, self.template) {
            (false, _) => PriceCategory::Service,
            (true, TemplateCategory::Marketing) => PriceCategory::Marketing,
            (true, TemplateCategory::Utility) => PriceCategory::Utility,
            (true, TemplateCategory::Authentication)
                if self.authentication_international && market.has(PriceCategory::AuthenticationInternational) =>
            {
                PriceCategory::AuthenticationInternational
            }
            (true, TemplateCategory::Authentication) => PriceCategory::Authentication,
        };
        Some(Priced { category, market, price: market.price(category) })
    }
}

/// Read the rate card of every target with a `cost` table (by target index), and check that each
/// recipient has a market in it. Errors are (field, reason).
pub fn load_cards(
    p: &super::Profile,
    base: &Path,
    recipients: &super::recipients::Recipients,
) -> Result<Vec<Option<Arc<RateCard>>>, (String, String)> {
    let mut out = Vec::with_capacity(p.targets.len());
    for (i, t) in p.targets.iter().enumerate() {
        let Some(spec) = &t.cost else {
            out.push(None);
            continue;
        };
        let field = format!("targets[{i}].cost.rate_card");
        let card = RateCard::load(&spec.rate_card, base).map_err(|e| (field.clone(), e))?;
        if let Some(r) = (0..recipients.len() as u64).map(|n| recipients.get(n)).find(|r| card.market_of(r).is_none()) {
            return Err((
                field,
                format!(
                    "recipient {} has no market in {}: add its calling code to a row, or a row whose calling \
                     codes are * for every other recipient",
                    crate::units::redact::clip(r, 40),
                    spec.rate_card.display()
                ),
            ));
        }
        out.push(Some(Arc::new(card)));
    }
    Ok(out)
}

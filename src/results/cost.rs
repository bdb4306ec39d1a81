//! What a WhatsApp target's messages cost, as run.json keeps it: the estimate made before the run (the
//! planned messages, every one delivered: an upper bound), the actual cost of what was delivered (or,
//! without delivery tracking, accepted), each by pricing category and market, and the target's cap.
//! Figures only: the rate card and the pricing rules are the profile's (`spec::rate_card`).

use serde::{Deserialize, Serialize};

/// Money rounded to a billionth, so that sums of prices read as written.
fn round(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

/// The reason run.json gives for a target stopped by its cost cap (`stopped`).
pub const STOPPED_MAX_COST: &str = "max_cost";

/// Messages of one pricing category to one market, and what they cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostRow {
    /// `marketing`, `utility`, `authentication`, `authentication_international` or `service`.
    pub category: String,
    /// The market's name as the rate card gives it.
    pub market: String,
    pub messages: u64,
    /// The price of one message, in the card's currency.
    pub price: f64,
    pub cost: f64,
}

/// A set of messages priced: what they were (`basis`), the rows and their total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CostFigures {
    /// `planned` (every planned message delivered: the estimate's upper bound), `accepted` (sends the
    /// API accepted) or `delivered` (accepted sends their status webhooks said delivered).
    pub basis: String,
    pub messages: u64,
    pub total: f64,
    pub rows: Vec<CostRow>,
}

impl CostFigures {
    /// Figures on `basis` from rows (each row's cost is messages × price).
    pub fn of(basis: &str, rows: Vec<CostRow>) -> CostFigures {
        CostFigures {
            basis: basis.into(),
            messages: rows.iter().map(|r| r.messages).sum(),
            total: round(rows.iter().map(|r| r.cost).sum()),
            rows,
        }
    }
}

/// The sum of figures on one basis: rows of the same category, market and price added.
fn sum_figures<'a>(all: impl Iterator<Item = &'a CostFigures>) -> Option<CostFigures> {
    let mut basis = None;
    let mut rows: Vec<CostRow> = Vec::new();
    for f in all {
        basis.get_or_insert_with(|| f.basis.clone());
        for r in &f.rows {
            match rows.iter_mut().find(|x| x.category == r.category && x.market == r.market && x.price == r.price) {
                Some(x) => {
                    x.messages += r.messages;
                    x.cost = round(x.cost + r.cost);
                }
                None => rows.push(r.clone()),
            }
        }
    }
    Some(CostFigures::of(&basis?, rows))
}

impl TargetCost {
    /// The cost of a run split into parts (shards): the parts' messages and costs added row by row,
    /// their caps added (each shard has its share of the target's cap). `None` without parts.
    pub fn merged(parts: &[&TargetCost]) -> Option<TargetCost> {
        let first = *parts.first()?;
        let estimate = match parts.iter().all(|p| p.estimate.is_some()) {
            true => sum_figures(parts.iter().filter_map(|p| p.estimate.as_ref())),
            false => None,
        };
        let max_cost = parts.iter().map(|p| p.max_cost).sum::<Option<f64>>().map(round);
        Some(TargetCost {
            max_cost,
            estimate,
            accepted: sum_figures(parts.iter().map(|p| &p.accepted)).unwrap_or_default(),
            actual: sum_figures(parts.iter().map(|p| &p.actual)).unwrap_or_default(),
            ..first.clone()
        })
    }
}

/// A target's cost in run.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetCost {
    /// ISO 4217 code of every figure.
    pub currency: String,
    /// The rate card, as the profile names it.
    pub rate_card: String,
    /// The category its template messages are priced as, and where that came from (`messages`,
    /// `simulator`, `assumed`).
    pub template_category: String,
    pub template_category_from: String,
    /// The cap, when the target has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost: Option<f64>,
    /// Before the run: the planned messages priced as if all were delivered (absent when the count is
    /// not known in advance: a closed loop without `max_requests`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<CostFigures>,
    /// The accepted sends, priced (what the cap counts).
    pub accepted: CostFigures,
    /// What Meta bills: delivered messages when delivery was tracked (`basis` = `delivered`), else the
    /// accepted sends (`basis` = `accepted`).
    pub actual: CostFigures,
}

/// A total in a currency, as the summary and the report show it: 4 decimals below 100, else 2.
pub fn money(total: f64, currency: &str) -> String {
    if total.abs() < 100.0 { format!("{total:.4} {currency}") } else { format!("{total:.2} {currency}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_add_up_row_by_row_with_their_caps() {
        let row = |m: &str, n: u64| CostRow {
            category: "marketing".into(),
            market: m.into(),
            messages: n,
            price: 0.1,
            cost: n as f64 * 0.1,
        };
        let part = |a: Vec<CostRow>| TargetCost {
            currency: "USD".into(),
            rate_card: "card.csv".into(),
            template_category: "marketing".into(),
            template_category_from: "messages".into(),
            max_cost: Some(5.0),
            estimate: Some(CostFigures::of("planned", a.clone())),
            accepted: CostFigures::of("accepted", a.clone()),
            actual: CostFigures::of("delivered", a),
        };
        let (p, q) = (part(vec![row("US", 3), row("BR", 1)]), part(vec![row("US", 2)]));
        let m = TargetCost::merged(&[&p, &q]).unwrap();
        assert_eq!(m.max_cost, Some(10.0));
        assert_eq!((m.accepted.messages, m.accepted.total), (6, 0.6));
        assert_eq!(m.actual.basis, "delivered");
        assert_eq!(m.estimate.unwrap().rows.iter().find(|r| r.market == "US").unwrap().messages, 5);
        assert!(TargetCost::merged(&[]).is_none());
    }

    #[test]
    fn figures_add_their_rows_and_money_reads_as_written() {
        let row = |c: &str, n, p| CostRow {
            category: c.into(),
            market: "M".into(),
            messages: n,
            price: p,
            cost: n as f64 * p,
        };
        let f = CostFigures::of("accepted", vec![row("marketing", 10, 0.5), row("service", 3, 0.0)]);
        assert_eq!((f.messages, f.total), (13, 5.0));
        assert_eq!(money(2.5, "USD"), "2.5000 USD");
        assert_eq!(money(1234.5, "EUR"), "1234.50 EUR");
    }
}

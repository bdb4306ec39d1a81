//! What a WhatsApp target's run costs, for `validate`, `run --dry-run` and `run`: every message of
//! the plan priced by its category (its kind, and the template's category) and its recipient's market,
//! from the target's rate card. Message `n` goes to recipient `n mod len` and its kind is the driver's
//! seeded choice, so the estimate counts exactly the messages a run sends, each as if delivered: an
//! upper bound (a failed message is not billed, and neither are volume-tier discounts nor Meta's free
//! windows counted).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::drivers::whatsapp::body::{Kind, Mix};
use crate::engine::Plan;
use crate::results::cost::{CostFigures, CostRow, TargetCost, money};
use crate::spec::Loaded;
use crate::spec::cost::{CategoryFrom, Pricing, template_category};
use crate::spec::rate_card::PriceCategory;

/// Messages counted one by one, at most; beyond, the counts are scaled up.
const COUNTED: u64 = 10_000_000;

/// One pricing cell: a category in a market, at its price.
#[derive(Debug, Clone)]
pub struct Cell {
    pub category: PriceCategory,
    pub market: String,
    pub price: f64,
}

/// A target's prices per message: each recipient's cell for a template and for any other message.
#[derive(Debug)]
pub struct PriceTable {
    pub cells: Vec<Cell>,
    /// By recipient index: (template cell, other cell).
    by_recipient: Vec<(u32, u32)>,
    mix: Mix,
    pub currency: String,
    pub max_price: f64,
}

impl PriceTable {
    /// The table of target `i`, when it has a `cost` table.
    pub fn of(loaded: &Loaded, i: usize) -> Option<PriceTable> {
        let p = &loaded.profile;
        let spec = p.targets.get(i)?.cost.as_ref()?;
        let card = loaded.rate_cards.get(i)?.clone()?;
        let pricing = Pricing::new(p, spec, card.clone());
        let mut cells: Vec<Cell> = Vec::new();
        let mut index: HashMap<(PriceCategory, String), u32> = HashMap::new();
        let mut cell = |recipient: &str, template: bool| {
            let priced = pricing.price(recipient, template)?;
            let key = (priced.category, priced.market.name.clone());
            Some(*index.entry(key).or_insert_with(|| {
                cells.push(Cell { category: priced.category, market: priced.market.name.clone(), price: priced.price });
                cells.len() as u32 - 1
            }))
        };
        let r = &loaded.recipients;
        let mut by_recipient = Vec::with_capacity(r.len());
        for n in 0..r.len() as u64 {
            // Loading checked that every recipient has a market.
            by_recipient.push((cell(r.get(n), true)?, cell(r.get(n), false)?));
        }
        let max_price = cells.iter().map(|c| c.price).fold(0.0, f64::max);
        Some(PriceTable {
            cells,
            by_recipient,
            mix: Mix::new(&p.messages, p.seed),
            currency: card.currency.clone(),
            max_price,
        })
    }

    /// The cell of message `seq`.
    pub fn cell(&self, seq: u64) -> usize {
        let (template, other) = self.by_recipient[(seq % self.by_recipient.len() as u64) as usize];
        (if self.mix.kind(seq) == Kind::Template { template } else { other }) as usize
    }

    /// Figures on `basis` from counts per cell (rows by category, then market).
    pub fn figures(&self, basis: &str, counts: &[u64]) -> CostFigures {
        let mut rows: Vec<CostRow> = self
            .cells
            .iter()
            .zip(counts)
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| CostRow {
                category: c.category.name().into(),
                market: c.market.clone(),
                messages: *n,
                price: c.price,
                cost: ((*n as f64 * c.price) * 1e9).round() / 1e9,
            })
            .collect();
        rows.sort_by(|a, b| (&a.category, &a.market).cmp(&(&b.category, &b.market)));
        CostFigures::of(basis, rows)
    }

    /// The planned messages `seqs` (`total` of them) priced, every one delivered.
    pub fn estimate(&self, seqs: impl Iterator<Item = u64>, total: u64) -> CostFigures {
        let mut counts = vec![0u64; self.cells.len()];
        let mut counted = 0u64;
        for seq in seqs.take(COUNTED as usize) {
            counts[self.cell(seq)] += 1;
            counted += 1;
        }
        if counted < total && counted > 0 {
            let scale = total as f64 / counted as f64;
            counts.iter_mut().for_each(|c| *c = (*c as f64 * scale).round() as u64);
        }
        self.figures("planned", &counts)
    }
}

/// The estimate of target `i` over the whole plan (all shards), when its count is known.
pub fn estimate(loaded: &Loaded, i: usize) -> Option<(PriceTable, Option<CostFigures>)> {
    let table = PriceTable::of(loaded, i)?;
    let planned = Plan::from_spec(&loaded.profile.load).expected_requests();
    let figures = planned.map(|n| table.estimate(0..n, n));
    Some((table, figures))
}

/// Where the template category came from, as results name it.
fn from_name(f: CategoryFrom) -> &'static str {
    match f {
        CategoryFrom::Messages => "messages",
        CategoryFrom::Simulator => "simulator",
        CategoryFrom::Assumed => "assumed",
    }
}

/// The run.json cost of target `i`, from its estimate, its accepted sends and (when delivery was
/// tracked) its delivered ones, each per cell of the table.
pub fn target_cost(
    loaded: &Loaded,
    i: usize,
    table: &PriceTable,
    estimate: Option<CostFigures>,
    accepted: &[u64],
    delivered: Option<&[u64]>,
) -> Option<TargetCost> {
    let spec = loaded.profile.targets.get(i)?.cost.as_ref()?;
    let (category, from) = template_category(&loaded.profile);
    let accepted = table.figures("accepted", accepted);
    let actual = match delivered {
        Some(d) => table.figures("delivered", d),
        None => accepted.clone(),
    };
    Some(TargetCost {
        currency: table.currency.clone(),
        rate_card: spec.rate_card.display().to_string(),
        template_category: format!("{category:?}").to_lowercase(),
        template_category_from: from_name(from).into(),
        max_cost: spec.max_cost,
        estimate,
        accepted,
        actual,
    })
}

/// Targets whose estimate is above their `max_cost` (by index): what `validate` refuses, and `run`
/// refuses for a real target.
pub fn over_cap(loaded: &Loaded) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, t) in loaded.profile.targets.iter().enumerate() {
        let Some(cap) = t.cost.as_ref().and_then(|c| c.max_cost) else { continue };
        if let Some((table, Some(e))) = estimate(loaded, i)
            && e.total > cap
        {
            out.push((
                i,
                format!(
                    "target {:?}: the estimated cost {} is above its max_cost {} ({} messages, every one delivered; \
                 raise targets[{i}].cost.max_cost or send fewer messages)",
                    t.name,
                    money(e.total, &table.currency),
                    money(cap, &table.currency),
                    e.messages
                ),
            ));
        }
    }
    out
}

/// The cost lines of `validate` and `run --dry-run`: per target with a rate card, the estimate by
/// category and market and the cap.
pub fn lines(loaded: &Loaded) -> String {
    let mut s = String::new();
    for (i, t) in loaded.profile.targets.iter().enumerate() {
        let Some((table, figures)) = estimate(loaded, i) else { continue };
        let spec = t.cost.as_ref().map(|c| (c.rate_card.display().to_string(), c.max_cost));
        let (card, cap) = spec.unwrap_or_default();
        let (category, from) = template_category(&loaded.profile);
        let from = match from {
            CategoryFrom::Messages => "messages.template_category",
            CategoryFrom::Simulator => "[[simulator.templates]]",
            CategoryFrom::Assumed => "assumed: set messages.template_category",
        };
        let _ = writeln!(
            s,
            "cost of {} (rate card {card}; templates priced as {} from {from}):",
            t.name,
            format!("{category:?}").to_lowercase()
        );
        match figures {
            None => {
                let _ = writeln!(s, "  estimate: unknown (a closed loop without max_requests sends as many as it can)");
            }
            Some(f) => {
                let _ = writeln!(
                    s,
                    "  estimate: {} for {} messages, if every one is delivered (an upper bound; service messages \
                     at the card's service rate, free where it has none)",
                    money(f.total, &table.currency),
                    f.messages
                );
                for r in &f.rows {
                    let _ = writeln!(
                        s,
                        "    {:<28} {:<24} {:>9} × {} = {}",
                        r.category,
                        r.market,
                        r.messages,
                        r.price,
                        money(r.cost, &table.currency)
                    );
                }
            }
        }
        if let Some(cap) = cap {
            let _ = writeln!(
                s,
                "  max_cost: {} (the run stops sending before accepted sends pass it)",
                money(cap, &table.currency)
            );
        }
    }
    s
}

/// The estimate of every target with a rate card, for `validate --json`.
pub fn json(loaded: &Loaded) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for (i, t) in loaded.profile.targets.iter().enumerate() {
        let Some((table, figures)) = estimate(loaded, i) else { continue };
        out.push(serde_json::json!({
            "target": t.name,
            "currency": table.currency,
            "max_cost": t.cost.as_ref().and_then(|c| c.max_cost),
            "estimate": figures,
        }));
    }
    out
}

/// A shared handle on a target's prices, for the run's cost meter.
pub type SharedTable = Arc<PriceTable>;

//! Everything the analytics say about one filter, as one value: what `tsur kpi --json` prints
//! (keys documented in the README) and what the app's panels draw.

use super::formula::{Expr, measure};
use super::kpi::{Filter, Kpis, figures_from, is_overdue, previous_period, timeliness};
use super::matrix::{TopicMatrix, topic_by_municipality};
use super::model::NO_CODE;
use super::model::ReadModel;
use super::problems::{ProblemRow, accelerated_share, problem_list};
use super::ranking::{Ranked, rank};
use super::surges::{Surge, surges};
use crate::pack::{RegionPack, TargetDirection};
use serde::Serialize;
use std::collections::BTreeMap;

/// Problems listed in a report (the most pressing).
pub const REPORT_PROBLEMS: usize = 50;

/// The headline figures (shares as fractions in [0, 1], times in hours).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Headline {
    pub total: u64,
    pub open: u64,
    pub overdue: u64,
    pub at_risk_24h: u64,
    pub on_time_share: Option<f64>,
    pub avg_answer_hours: Option<f64>,
    pub median_answer_hours: Option<f64>,
    pub p90_answer_hours: Option<f64>,
    pub satisfaction_share: Option<f64>,
    pub repeat_share: Option<f64>,
    pub merits_share: Option<f64>,
    pub social_first_reaction_hours: Option<f64>,
    pub accelerated_share: Option<f64>,
}

impl Headline {
    fn of(k: &Kpis, accelerated: Option<f64>) -> Headline {
        Headline {
            total: k.total,
            open: k.open,
            overdue: k.overdue,
            at_risk_24h: k.at_risk_24h,
            on_time_share: k.on_time_share,
            avg_answer_hours: k.avg_answer_hours,
            median_answer_hours: k.median_answer_hours,
            p90_answer_hours: k.p90_answer_hours,
            satisfaction_share: k.satisfaction_share,
            repeat_share: k.repeat_share,
            merits_share: k.merits_share,
            social_first_reaction_hours: k.social_first_reaction_hours,
            accelerated_share: accelerated,
        }
    }
}

/// A target with its value, in the target's unit (% for shares, days, hours, pieces).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetValue {
    pub name: String,
    pub unit: String,
    pub target: f64,
    pub value: Option<f64>,
    pub on_target: Option<bool>,
}

/// A slice (a block or a municipality).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slice {
    pub total: u64,
    pub open: u64,
    pub overdue: u64,
    pub on_time_share: Option<f64>,
    /// Appeals per 10,000 residents (municipalities only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_10k: Option<f64>,
}

/// An additional indicator of the pack (a formula) with its value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndicatorValue {
    pub name: String,
    pub unit: String,
    pub formula: String,
    pub value: Option<f64>,
    pub target: Option<f64>,
    pub on_target: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub headline: Headline,
    pub targets: BTreeMap<String, TargetValue>,
    /// The pack's additional indicators (`[[indicators]]` in kpi.toml) by id.
    pub indicators: BTreeMap<String, IndicatorValue>,
    /// The same figures over the period of equal length just before (when a period is given).
    pub previous_period: Option<Headline>,
    /// Every block of the pack by name; every municipality by full name.
    pub by_block: BTreeMap<String, Slice>,
    pub by_municipality: BTreeMap<String, Slice>,
    pub ranking: Vec<Ranked>,
    pub problems: Vec<ProblemRow>,
    pub surges: Vec<Surge>,
    pub matrix: TopicMatrix,
}

impl Report {
    pub fn build(model: &ReadModel, filter: &Filter, now_utc: i64, pack: &RegionPack) -> Report {
        let window = i64::from(pack.region.at_risk_window_hours) * 3_600;
        let problems = problem_list(model, filter, now_utc, pack);
        let accelerated = accelerated_share(&problems).0;
        let kpis = Kpis::compute(model, filter, now_utc, window);
        let headline = Headline::of(&kpis, accelerated);
        let previous_period = previous_period(filter).map(|p| {
            let k = Kpis::compute(model, &p, now_utc, window);
            Headline::of(
                &k,
                accelerated_share(&problem_list(model, &p, now_utc, pack)).0,
            )
        });
        let (by_block_slots, by_municipality_slots) = slices(model, filter, now_utc);
        let slot = |slots: &[SliceTally], codes: &super::model::Codes, code: &str| {
            codes
                .get(code)
                .and_then(|i| slots.get(usize::from(i)))
                .cloned()
                .unwrap_or_default()
        };
        let by_block = pack
            .blocks
            .iter()
            .map(|b| {
                let t = slot(&by_block_slots, &model.blocks, b.code.as_str());
                (b.name.clone(), t.slice(None))
            })
            .collect();
        let by_municipality = pack
            .municipalities
            .iter()
            .map(|m| {
                let t = slot(
                    &by_municipality_slots,
                    &model.municipalities,
                    m.code.as_str(),
                );
                (m.name.clone(), t.slice(Some(m.population)))
            })
            .collect();
        let targets = figures_from(model, filter, now_utc, pack, &kpis, accelerated)
            .into_iter()
            .map(|f| {
                (
                    f.id,
                    TargetValue {
                        name: f.name,
                        unit: f.unit,
                        target: f.target,
                        value: f.value,
                        on_target: f.on_target,
                    },
                )
            })
            .collect();
        let indicators = pack
            .indicators
            .iter()
            .map(|d| {
                let value = Expr::parse(&d.formula)
                    .ok()
                    .and_then(|e| e.eval(&|name| measure(name, &kpis, accelerated)));
                let on_target =
                    d.target
                        .zip(d.direction)
                        .zip(value)
                        .map(|((t, dir), v)| match dir {
                            TargetDirection::AtLeast => v >= t,
                            TargetDirection::AtMost => v <= t,
                        });
                let indicator = IndicatorValue {
                    name: d.name.clone(),
                    unit: d.unit.clone(),
                    formula: d.formula.clone(),
                    value,
                    target: d.target,
                    on_target,
                };
                (d.id.clone(), indicator)
            })
            .collect();
        Report {
            headline,
            targets,
            indicators,
            previous_period,
            by_block,
            by_municipality,
            ranking: rank(model, filter, now_utc, pack),
            problems: problems.into_iter().take(REPORT_PROBLEMS).collect(),
            surges: surges(model, filter, now_utc, pack),
            matrix: topic_by_municipality(model, filter, pack),
        }
    }
}

/// Counts of one slice, gathered in the single pass of [`slices`].
#[derive(Debug, Clone, Default)]
struct SliceTally {
    total: u64,
    open: u64,
    overdue: u64,
    on_time: u64,
    counted: u64,
}

impl SliceTally {
    fn add(&mut self, model: &ReadModel, i: usize, now_utc: i64) {
        self.total += 1;
        self.open += u64::from(model.status[i].is_open());
        self.overdue += u64::from(is_overdue(model, i, now_utc));
        if let Some(on_time) = timeliness(model, i, now_utc) {
            self.counted += 1;
            self.on_time += u64::from(on_time);
        }
    }

    fn slice(&self, population: Option<u32>) -> Slice {
        Slice {
            total: self.total,
            open: self.open,
            overdue: self.overdue,
            on_time_share: (self.counted > 0).then(|| self.on_time as f64 / self.counted as f64),
            per_10k: population
                .filter(|p| *p > 0)
                .map(|p| self.total as f64 * 10_000.0 / f64::from(p)),
        }
    }
}

/// Per block and per municipality slot of the model, in one pass over the filter's rows.
fn slices(model: &ReadModel, filter: &Filter, now_utc: i64) -> (Vec<SliceTally>, Vec<SliceTally>) {
    let mut blocks = vec![SliceTally::default(); model.blocks.len()];
    let mut places = vec![SliceTally::default(); model.municipalities.len()];
    if let Some(rows) = filter.matching_rows(model) {
        for i in rows {
            if model.block[i] != NO_CODE {
                blocks[usize::from(model.block[i])].add(model, i, now_utc);
            }
            if model.municipality[i] != NO_CODE {
                places[usize::from(model.municipality[i])].add(model, i, now_utc);
            }
        }
    }
    (blocks, places)
}

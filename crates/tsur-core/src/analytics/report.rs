//! Everything the analytics say about one filter, as one value: what `tsur kpi --json` prints
//! (keys documented in the README) and what the app's panels draw.

use super::kpi::{Filter, Kpis, figures, previous_period};
use super::matrix::{TopicMatrix, topic_by_municipality};
use super::model::ReadModel;
use super::problems::{ProblemRow, accelerated_share, problem_list};
use super::ranking::{Ranked, rank};
use super::surges::{Surge, surges};
use crate::pack::RegionPack;
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub headline: Headline,
    pub targets: BTreeMap<String, TargetValue>,
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
        let headline_of = |f: &Filter| {
            let k = Kpis::compute(model, f, now_utc, window);
            let problems = problem_list(model, f, now_utc, pack);
            Headline::of(&k, accelerated_share(&problems).0)
        };
        let problems = problem_list(model, filter, now_utc, pack);
        let headline = Headline::of(
            &Kpis::compute(model, filter, now_utc, window),
            accelerated_share(&problems).0,
        );
        let slice = |f: Filter, population: Option<u32>| {
            let k = Kpis::compute(model, &f, now_utc, window);
            Slice {
                total: k.total,
                open: k.open,
                overdue: k.overdue,
                on_time_share: k.on_time_share,
                per_10k: population
                    .filter(|p| *p > 0)
                    .map(|p| k.total as f64 * 10_000.0 / f64::from(p)),
            }
        };
        let by_block = pack
            .blocks
            .iter()
            .map(|b| {
                let f = Filter {
                    block: Some(b.code.as_str().to_string()),
                    ..filter.clone()
                };
                (b.name.clone(), slice(f, None))
            })
            .collect();
        let by_municipality = pack
            .municipalities
            .iter()
            .map(|m| {
                let f = Filter {
                    municipality: Some(m.code.as_str().to_string()),
                    ..filter.clone()
                };
                (m.name.clone(), slice(f, Some(m.population)))
            })
            .collect();
        let targets = figures(model, filter, now_utc, pack)
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
        Report {
            headline,
            targets,
            previous_period: previous_period(filter).map(|p| headline_of(&p)),
            by_block,
            by_municipality,
            ranking: rank(model, filter, now_utc, pack),
            problems: problems.into_iter().take(REPORT_PROBLEMS).collect(),
            surges: surges(model, filter, now_utc, pack),
            matrix: topic_by_municipality(model, filter, pack),
        }
    }
}

//! The topic × municipality matrix (п.14): appeals per cell, per 10,000 residents, and growth
//! against a baseline.
//!
//! The baseline of a period `[from, to)` is seasonal when the replica reaches back a year: the
//! same period a year earlier. Otherwise it is the mean of the (up to four) periods of equal
//! length just before that the replica covers (what the current season has been so far).
//! Without a period, or with no earlier period covered, there is no baseline.

use super::kpi::Filter;
use super::model::{NO_CODE, ReadModel};
use crate::pack::RegionPack;
use serde::Serialize;

const YEAR_SECS: i64 = 365 * 86_400;
/// Periods averaged for the trailing baseline.
const TRAILING_PERIODS: i64 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineKind {
    /// The same period a year earlier.
    YearBefore,
    /// The mean of the four periods of equal length just before.
    Trailing,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatrixCell {
    pub topic: String,
    pub municipality: String,
    pub count: u64,
    pub per_10k: Option<f64>,
    pub baseline: Option<f64>,
    /// `count / baseline − 1`; `None` without a baseline or when it is zero.
    pub growth: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicMatrix {
    pub baseline_kind: Option<BaselineKind>,
    /// Cells with appeals in the period or in the baseline; topic and municipality codes.
    pub cells: Vec<MatrixCell>,
}

/// Counts per (topic, municipality) slot over `[from, to)` with the filter's other conditions.
fn counts(model: &ReadModel, filter: &Filter, from: Option<i64>, to: Option<i64>) -> Vec<u64> {
    let (topics, places) = (model.topics.len(), model.municipalities.len());
    let mut cells = vec![0u64; topics * places];
    let window = Filter {
        from_utc: from,
        to_utc: to,
        ..filter.clone()
    };
    let Some(rows) = window.matching_rows(model) else {
        return cells;
    };
    for i in rows {
        let (t, m) = (model.topic[i], model.municipality[i]);
        if t != NO_CODE && m != NO_CODE {
            cells[usize::from(t) * places + usize::from(m)] += 1;
        }
    }
    cells
}

/// The matrix for the filter (its period is the one compared with the baseline).
pub fn topic_by_municipality(model: &ReadModel, filter: &Filter, pack: &RegionPack) -> TopicMatrix {
    let current = counts(model, filter, filter.from_utc, filter.to_utc);
    let earliest = model.received.iter().copied().min().unwrap_or(i64::MAX);
    let (baseline, baseline_kind) = match (filter.from_utc, filter.to_utc) {
        (Some(from), Some(to)) if to > from => {
            if earliest <= from - YEAR_SECS {
                let year_before =
                    counts(model, filter, Some(from - YEAR_SECS), Some(to - YEAR_SECS));
                let as_f64 = year_before.into_iter().map(|n| n as f64).collect();
                (Some(as_f64), Some(BaselineKind::YearBefore))
            } else {
                // Only periods the replica covers: one before its first appeal would count as
                // zero and overstate the growth.
                let length = to - from;
                let covered: Vec<i64> = (1..=TRAILING_PERIODS)
                    .filter(|k| from - k * length >= earliest)
                    .collect();
                if covered.is_empty() {
                    (None, None)
                } else {
                    let mut sum = vec![0.0; current.len()];
                    for k in &covered {
                        let window = counts(
                            model,
                            filter,
                            Some(from - k * length),
                            Some(to - k * length),
                        );
                        for (s, n) in sum.iter_mut().zip(window) {
                            *s += n as f64;
                        }
                    }
                    let periods = covered.len() as f64;
                    let mean = sum.into_iter().map(|s| s / periods).collect();
                    (Some(mean), Some(BaselineKind::Trailing))
                }
            }
        }
        _ => (None, None),
    };
    let places = model.municipalities.len();
    let mut cells = Vec::new();
    for (slot, &count) in current.iter().enumerate() {
        let base = baseline.as_ref().map(|b: &Vec<f64>| b[slot]);
        if count == 0 && base.is_none_or(|b| b == 0.0) {
            continue;
        }
        let (t, m) = (slot / places.max(1), slot % places.max(1));
        let name = |codes: &super::model::Codes, i: usize| {
            u16::try_from(i)
                .ok()
                .and_then(|i| codes.name(i))
                .unwrap_or_default()
                .to_string()
        };
        let municipality = name(&model.municipalities, m);
        let per_10k = pack
            .municipality(&municipality)
            .filter(|m| m.population > 0)
            .map(|m| count as f64 * 10_000.0 / f64::from(m.population));
        cells.push(MatrixCell {
            topic: name(&model.topics, t),
            municipality,
            count,
            per_10k,
            baseline: base,
            growth: base.filter(|&b| b > 0.0).map(|b| count as f64 / b - 1.0),
        });
    }
    TopicMatrix {
        baseline_kind,
        cells,
    }
}

//! Surges (всплески): a municipality × topic far above its baseline raises an alert with the
//! evidence — the baseline windows, the current count and the appeals behind it.
//!
//! The current window is the last `window_days` before now; the baseline is the counts of the
//! `baseline_windows` windows of the same length just before it, so it follows the season (the
//! heating season raises heating appeals everywhere; a surge is one place far above that).
//! Thresholds are the pack's (`[surges]`): see [`crate::pack::SurgeRules`]. Windows before the
//! replica's first appeal are not part of the baseline; with fewer than two covered, nothing is
//! called a surge.

use super::kpi::Filter;
use super::model::{NO_CODE, ReadModel};
use crate::domain::AppealId;
use crate::pack::{RegionPack, SurgeRules};
use serde::Serialize;
use std::collections::HashMap;

const DAY_SECS: i64 = 86_400;
/// Appeals listed as evidence per surge.
const EVIDENCE_APPEALS: usize = 50;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Surge {
    pub municipality: String,
    pub municipality_name: String,
    pub topic: String,
    pub topic_name: String,
    /// Appeals in the current window.
    pub count: u64,
    /// The baseline windows, oldest first, and their mean and standard deviation.
    pub baseline_counts: Vec<u64>,
    pub baseline_mean: f64,
    pub baseline_sd: f64,
    /// `count / max(mean, 1)`.
    pub ratio: f64,
    pub window_from_utc: i64,
    pub window_to_utc: i64,
    /// The newest appeals of the window (at most 50), by id.
    pub appeals: Vec<AppealId>,
}

/// Surges at `now_utc` among the filter's appeals (its period is ignored: the windows are set by
/// the rules), largest ratio first.
pub fn surges(model: &ReadModel, filter: &Filter, now_utc: i64, pack: &RegionPack) -> Vec<Surge> {
    surges_with(model, filter, now_utc, &pack.surges, pack)
}

/// [`surges`] with explicit rules.
pub fn surges_with(
    model: &ReadModel,
    filter: &Filter,
    now_utc: i64,
    rules: &SurgeRules,
    pack: &RegionPack,
) -> Vec<Surge> {
    let window = i64::from(rules.window_days.max(1)) * DAY_SECS;
    let windows = i64::from(rules.baseline_windows.max(2));
    let earliest = now_utc - (windows + 1) * window;
    let unbounded = Filter {
        from_utc: Some(earliest),
        to_utc: Some(now_utc),
        ..filter.clone()
    };
    let Some(rows) = unbounded.matching_rows(model) else {
        return Vec::new();
    };
    // Per (municipality, topic): counts per window, index 0 the oldest baseline window and the
    // last one the current window.
    let slots = usize::try_from(windows + 1).unwrap_or(2);
    let mut cells: HashMap<(u16, u16), Vec<u64>> = HashMap::new();
    let mut current_rows: HashMap<(u16, u16), Vec<usize>> = HashMap::new();
    for i in rows {
        let (m, t) = (model.municipality[i], model.topic[i]);
        if m == NO_CODE || t == NO_CODE {
            continue;
        }
        let slot = usize::try_from((model.received[i] - earliest) / window)
            .unwrap_or(0)
            .min(slots - 1);
        cells.entry((m, t)).or_insert_with(|| vec![0; slots])[slot] += 1;
        if slot == slots - 1 {
            current_rows.entry((m, t)).or_default().push(i);
        }
    }
    // Baseline windows that begin before the replica's first appeal would count as zero and
    // invent surges in a young replica: only covered windows count, and at least two are needed.
    let first_appeal = model.received.iter().copied().min().unwrap_or(i64::MAX);
    let first_covered = (0..slots - 1)
        .find(|&k| earliest + k as i64 * window >= first_appeal)
        .unwrap_or(slots - 1);
    if slots - 1 - first_covered < 2 {
        return Vec::new();
    }
    let mut found = Vec::new();
    for ((m, t), counts) in cells {
        let count = counts[slots - 1];
        let baseline = &counts[first_covered..slots - 1];
        let n = baseline.len() as f64;
        let mean = baseline.iter().sum::<u64>() as f64 / n;
        let sd = (baseline
            .iter()
            .map(|&c| (c as f64 - mean).powi(2))
            .sum::<f64>()
            / (n - 1.0))
            .sqrt();
        let c = count as f64;
        let surge = count >= u64::from(rules.min_count)
            && c >= rules.factor * mean
            && c >= mean + rules.z * sd
            && c > mean;
        if !surge {
            continue;
        }
        let mut rows = current_rows.remove(&(m, t)).unwrap_or_default();
        rows.sort_by_key(|&i| std::cmp::Reverse(model.received[i]));
        let municipality = model.municipalities.name(m).unwrap_or_default().to_string();
        let topic = model.topics.name(t).unwrap_or_default().to_string();
        found.push(Surge {
            municipality_name: pack
                .municipality(&municipality)
                .map_or_else(|| municipality.clone(), |x| x.name.clone()),
            topic_name: pack
                .topic(&topic)
                .map_or_else(|| topic.clone(), |(_, x)| x.name.clone()),
            municipality,
            topic,
            count,
            baseline_counts: baseline.to_vec(),
            baseline_mean: mean,
            baseline_sd: sd,
            ratio: c / mean.max(1.0),
            window_from_utc: now_utc - window,
            window_to_utc: now_utc,
            appeals: rows
                .into_iter()
                .take(EVIDENCE_APPEALS)
                .map(|i| model.id[i])
                .collect(),
        });
    }
    found.sort_by(|a, b| {
        b.ratio
            .total_cmp(&a.ratio)
            .then_with(|| b.count.cmp(&a.count))
            .then_with(|| a.municipality.cmp(&b.municipality))
            .then_with(|| a.topic.cmp(&b.topic))
    });
    found
}

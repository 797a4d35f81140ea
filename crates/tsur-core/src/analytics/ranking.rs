//! The ranking of responsible bodies and organisations (п.11.3), made fair (PRODUCT §7):
//!
//! - **components**, each a share in [0, 1] where more is better: timeliness (the on-time share,
//!   adjusted for the organisation's mix of topics), answers on the merits, satisfaction, and
//!   the share of appeals that are not repeats;
//! - **topic mix**: some topics are answered late everywhere (heating in a cold snap), so an
//!   organisation's on-time share is compared with what the region achieves on the same topics:
//!   `adjusted = observed − expected + regional`, where `expected` weights the region's on-time
//!   share of each topic by the organisation's counted appeals in it;
//! - **score**: the weighted mean of the components that have data (weights from the pack), × 100;
//! - **minimum sample**: below the pack's `min_sample` appeals an organisation is listed, not
//!   ranked;
//! - **volume**: appeals, their share of the filter's total and, for municipal organisations,
//!   per 10,000 residents of their municipality;
//! - **trend**: the score in the period of equal length just before, when the filter has one;
//! - **explanation**: every component with its value, the regional figure and its points.

use super::kpi::{Filter, previous_period, timeliness};
use super::model::{NO_CODE, ReadModel};
use crate::pack::{RankingRules, RegionPack};
use serde::Serialize;

/// One component of a score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Component {
    pub id: &'static str,
    pub name: &'static str,
    /// The organisation's value (a share); `None` without data (then it does not count).
    pub value: Option<f64>,
    /// The same figure over every organisation in the filter.
    pub regional: Option<f64>,
    /// For timeliness: what the region achieves on this organisation's mix of topics.
    pub expected: Option<f64>,
    pub weight: f64,
    /// Points this component adds to the score (out of 100 over the components with data).
    pub points: Option<f64>,
}

/// One organisation in the ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranked {
    pub organisation: String,
    pub name: String,
    pub appeals: u64,
    pub share_of_volume: f64,
    pub per_10k_residents: Option<f64>,
    /// 1 is best; `None` when the sample is below the minimum.
    pub rank: Option<u32>,
    pub score: Option<f64>,
    pub previous_score: Option<f64>,
    /// Score now minus score in the previous period.
    pub trend: Option<f64>,
    pub components: Vec<Component>,
    pub explanation: String,
}

/// What one organisation (or the region) adds up to; every field is a count, so a change to
/// one appeal is taken out and put back in (see [`super::live`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Tally {
    pub appeals: u64,
    pub on_time: u64,
    pub counted: u64,
    pub satisfied: u64,
    pub rated: u64,
    pub repeats: u64,
    pub answers: u64,
    pub merits: u64,
}

impl Tally {
    fn share(part: u64, whole: u64) -> Option<f64> {
        (whole > 0).then(|| part as f64 / whole as f64)
    }
    fn timeliness(&self) -> Option<f64> {
        Self::share(self.on_time, self.counted)
    }
    fn merits(&self) -> Option<f64> {
        Self::share(self.merits, self.answers)
    }
    fn satisfaction(&self) -> Option<f64> {
        Self::share(self.satisfied, self.rated)
    }
    fn not_repeats(&self) -> Option<f64> {
        Self::share(self.appeals - self.repeats, self.appeals)
    }
}

/// Ranks every organisation with appeals in `filter` at `now_utc`, best first; organisations
/// below the minimum sample follow, by volume.
pub fn rank(model: &ReadModel, filter: &Filter, now_utc: i64, pack: &RegionPack) -> Vec<Ranked> {
    rank_with(model, filter, now_utc, &pack.ranking, pack)
}

/// [`rank`] with explicit rules (the pack's, or a test's).
pub fn rank_with(
    model: &ReadModel,
    filter: &Filter,
    now_utc: i64,
    rules: &RankingRules,
    pack: &RegionPack,
) -> Vec<Ranked> {
    let mut list = rank_period(model, filter, now_utc, rules, pack);
    if let Some(previous) = previous_period(filter) {
        let before = rank_period(model, &previous, now_utc, rules, pack);
        for r in &mut list {
            r.previous_score = before
                .iter()
                .find(|b| b.organisation == r.organisation)
                .and_then(|b| b.score);
            r.trend = r.score.zip(r.previous_score).map(|(now, then)| now - then);
        }
    }
    list
}

fn rank_period(
    model: &ReadModel,
    filter: &Filter,
    now_utc: i64,
    rules: &RankingRules,
    pack: &RegionPack,
) -> Vec<Ranked> {
    let Some(selected) = filter.matching_rows(model) else {
        return Vec::new();
    };
    let orgs = model.organisations.len();
    let topics = model.topics.len() + 1; // the last slot: no topic
    let mut tallies = vec![Tally::default(); orgs];
    // On time and counted per organisation × topic, and per topic over the region.
    let mut by_org_topic = vec![(0u64, 0u64); orgs * topics];
    let mut by_topic = vec![(0u64, 0u64); topics];
    let mut region = Tally::default();
    let mut total = 0u64;
    for i in selected {
        total += 1;
        let org = model.organisation[i];
        if org == NO_CODE {
            continue;
        }
        let (o, t) = (usize::from(org), topic_slot(model.topic[i], topics));
        let judged = timeliness(model, i, now_utc);
        for tally in [&mut tallies[o], &mut region] {
            tally.appeals += 1;
            if let Some(on_time) = judged {
                tally.counted += 1;
                tally.on_time += u64::from(on_time);
            }
            if model.rating[i] > 0 {
                tally.rated += 1;
                tally.satisfied += u64::from(model.rating[i] >= 4);
            }
            tally.repeats += u64::from(model.is_repeat[i]);
            tally.answers += u64::from(model.answers[i]);
            tally.merits += u64::from(model.merits_answers[i]);
        }
        if let Some(on_time) = judged {
            for cell in [&mut by_org_topic[o * topics + t], &mut by_topic[t]] {
                cell.0 += u64::from(on_time);
                cell.1 += 1;
            }
        }
    }
    let expected: Vec<Option<f64>> = (0..orgs)
        .map(|o| {
            // What the region achieves on this organisation's topics, weighted by its counts.
            let (mut expected_sum, mut expected_n) = (0.0, 0u64);
            for t in 0..topics {
                let (_, counted) = by_org_topic[o * topics + t];
                let (region_on_time, region_counted) = by_topic[t];
                if counted > 0 && region_counted > 0 {
                    expected_sum += counted as f64 * region_on_time as f64 / region_counted as f64;
                    expected_n += counted;
                }
            }
            (expected_n > 0).then(|| expected_sum / expected_n as f64)
        })
        .collect();
    score_tallies(&tallies, &region, total, &expected, model, rules, pack)
}

/// The ranking from the counts: `tallies` and `expected` (the region's on-time share on the
/// organisation's mix of topics) by organisation code, `region` over all of them, `total` the
/// filter's appeals.
pub(crate) fn score_tallies(
    tallies: &[Tally],
    region: &Tally,
    total: u64,
    expected: &[Option<f64>],
    model: &ReadModel,
    rules: &RankingRules,
    pack: &RegionPack,
) -> Vec<Ranked> {
    let w = &rules.weights;
    let mut list: Vec<Ranked> = tallies
        .iter()
        .enumerate()
        .filter(|(_, tally)| tally.appeals > 0)
        .map(|(o, tally)| {
            let code = u16::try_from(o)
                .ok()
                .and_then(|c| model.organisations.name(c))
                .unwrap_or_default()
                .to_string();
            let known = pack.organisation(&code);
            let expected = expected.get(o).copied().flatten();
            let regional_timeliness = region.timeliness();
            let adjusted = match (tally.timeliness(), expected, regional_timeliness) {
                (Some(observed), Some(expected), Some(regional)) => {
                    Some((observed - expected + regional).clamp(0.0, 1.0))
                }
                (observed, _, _) => observed,
            };
            let mut components = vec![
                Component {
                    id: "timeliness",
                    name: "Своевременность",
                    value: adjusted,
                    regional: regional_timeliness,
                    expected,
                    weight: w.timeliness,
                    points: None,
                },
                Component {
                    id: "merits",
                    name: "Ответы по существу",
                    value: tally.merits(),
                    regional: region.merits(),
                    expected: None,
                    weight: w.merits,
                    points: None,
                },
                Component {
                    id: "satisfaction",
                    name: "Удовлетворённость",
                    value: tally.satisfaction(),
                    regional: region.satisfaction(),
                    expected: None,
                    weight: w.satisfaction,
                    points: None,
                },
                Component {
                    id: "no_repeats",
                    name: "Без повторных обращений",
                    value: tally.not_repeats(),
                    regional: region.not_repeats(),
                    expected: None,
                    weight: w.repeats,
                    points: None,
                },
            ];
            let weight_with_data: f64 = components
                .iter()
                .filter(|c| c.value.is_some())
                .map(|c| c.weight)
                .sum();
            for c in &mut components {
                c.points = c
                    .value
                    .filter(|_| weight_with_data > 0.0)
                    .map(|v| 100.0 * c.weight * v / weight_with_data);
            }
            let score = (weight_with_data > 0.0)
                .then(|| components.iter().filter_map(|c| c.points).sum::<f64>());
            let per_10k_residents = known
                .and_then(|org| org.municipality.as_ref())
                .and_then(|m| pack.municipality(m.as_str()))
                .filter(|m| m.population > 0)
                .map(|m| tally.appeals as f64 * 10_000.0 / f64::from(m.population));
            Ranked {
                name: known.map_or_else(|| code.clone(), |org| org.name.clone()),
                organisation: code,
                appeals: tally.appeals,
                share_of_volume: tally.appeals as f64 / total.max(1) as f64,
                per_10k_residents,
                rank: None,
                score: score.filter(|_| tally.appeals >= u64::from(rules.min_sample)),
                previous_score: None,
                trend: None,
                explanation: explain(&components, score, tally.appeals, rules.min_sample),
                components,
            }
        })
        .collect();
    list.sort_by(|a, b| match (a.score, b.score) {
        (Some(x), Some(y)) => y.total_cmp(&x).then_with(|| b.appeals.cmp(&a.appeals)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => b.appeals.cmp(&a.appeals),
    });
    for (place, r) in list.iter_mut().filter(|r| r.score.is_some()).enumerate() {
        r.rank = u32::try_from(place + 1).ok();
    }
    list
}

fn topic_slot(topic: u16, slots: usize) -> usize {
    if topic == NO_CODE {
        slots - 1
    } else {
        usize::from(topic).min(slots - 1)
    }
}

/// "72,0 %" with a decimal comma.
fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0).replace('.', ",")
}

fn points(p: f64) -> String {
    format!("{p:.1}").replace('.', ",")
}

/// The score in words: each component, what it is compared with, and what it adds.
fn explain(components: &[Component], score: Option<f64>, appeals: u64, min_sample: u32) -> String {
    let mut parts = Vec::new();
    for c in components {
        let Some(value) = c.value else {
            parts.push(format!("{}: нет данных (не учитывается)", c.name));
            continue;
        };
        let mut part = format!("{} {}", c.name, percent(value));
        let mut context = Vec::new();
        if let Some(expected) = c.expected {
            context.push(format!(
                "ожидалось {} при этом наборе тем",
                percent(expected)
            ));
        }
        if let Some(regional) = c.regional {
            context.push(format!("по региону {}", percent(regional)));
        }
        if !context.is_empty() {
            part += &format!(" ({})", context.join(", "));
        }
        if let Some(p) = c.points {
            part += &format!(" → {} б.", points(p));
        }
        parts.push(part);
    }
    let mut text = parts.join("; ");
    match score {
        _ if appeals < u64::from(min_sample) => {
            text += &format!(". Не ранжируется: {appeals} обращений при минимуме {min_sample}")
        }
        Some(s) => text += &format!(". Итого {} из 100", points(s)),
        None => text += ". Не ранжируется: ни по одной составляющей нет данных",
    }
    text
}

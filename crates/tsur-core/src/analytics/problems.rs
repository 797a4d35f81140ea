//! The regional problem list (п.14): problems ranked by what needs attention now — overdue
//! appeals plus appeals of the last week, then the total — with their growth, the organisations
//! involved, and the share of problems solved through accelerated resolution. Whether a problem
//! is resolved, and how fast, is worked out from its appeals, not taken from its record.

use super::kpi::{Filter, is_overdue};
use super::model::{NO_CODE, NO_ID, NO_TIME, ReadModel};
use crate::pack::RegionPack;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

const WEEK_SECS: i64 = 7 * 86_400;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProblemRow {
    pub id: i64,
    /// The problem's title, or "Проблема №N" when the replica has no record of it.
    pub title: String,
    pub municipality: Option<String>,
    pub appeals: u64,
    pub open: u64,
    pub overdue: u64,
    /// Appeals received in the last 7 days and in the 7 days before.
    pub last_week: u64,
    pub week_before: u64,
    /// `last_week / week_before − 1`; `None` when the week before had none.
    pub growth: Option<f64>,
    /// Appeals that are not repeats: at least this many people are affected.
    pub citizens_at_least: u64,
    /// Residents of the problem's municipality, for scale.
    pub municipality_population: Option<u32>,
    /// Organisations responsible for its appeals, most appeals first (codes).
    pub organisations: Vec<String>,
    /// Every appeal of it (in the filter) is answered and no longer open.
    pub resolved: bool,
    /// Resolved within `accelerated_days` of its first appeal (`[problems]` in kpi.toml).
    pub accelerated: bool,
}

#[derive(Debug)]
struct Tally {
    appeals: u64,
    open: u64,
    overdue: u64,
    last_week: u64,
    week_before: u64,
    not_repeats: u64,
    organisations: BTreeMap<u16, u64>,
    municipalities: BTreeMap<u16, u64>,
    first_received: i64,
    last_answered: i64,
    unanswered: u64,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            appeals: 0,
            open: 0,
            overdue: 0,
            last_week: 0,
            week_before: 0,
            not_repeats: 0,
            organisations: BTreeMap::new(),
            municipalities: BTreeMap::new(),
            first_received: i64::MAX,
            last_answered: NO_TIME,
            unanswered: 0,
        }
    }
}

/// Every problem with appeals in the filter, most pressing first (overdue + last week).
pub fn problem_list(
    model: &ReadModel,
    filter: &Filter,
    now_utc: i64,
    pack: &RegionPack,
) -> Vec<ProblemRow> {
    let Some(rows) = filter.matching_rows(model) else {
        return Vec::new();
    };
    let mut tallies: HashMap<i64, Tally> = HashMap::new();
    for i in rows {
        let id = model.problem[i];
        if id == NO_ID {
            continue;
        }
        let t = tallies.entry(id).or_default();
        t.appeals += 1;
        t.open += u64::from(model.status[i].is_open());
        t.overdue += u64::from(is_overdue(model, i, now_utc));
        let age = now_utc - model.received[i];
        if (0..WEEK_SECS).contains(&age) {
            t.last_week += 1;
        } else if (WEEK_SECS..2 * WEEK_SECS).contains(&age) {
            t.week_before += 1;
        }
        t.not_repeats += u64::from(!model.is_repeat[i]);
        t.first_received = t.first_received.min(model.received[i]);
        if model.answered[i] == NO_TIME {
            t.unanswered += 1;
        } else {
            t.last_answered = t.last_answered.max(model.answered[i]);
        }
        if model.organisation[i] != NO_CODE {
            *t.organisations.entry(model.organisation[i]).or_default() += 1;
        }
        if model.municipality[i] != NO_CODE {
            *t.municipalities.entry(model.municipality[i]).or_default() += 1;
        }
    }
    let accelerated_secs = i64::from(pack.problems.accelerated_days) * 86_400;
    let mut list: Vec<ProblemRow> = tallies
        .into_iter()
        .map(|(id, t)| {
            // Resolved: every appeal closed and answered; accelerated: the last answer came
            // within the pack's days of the first appeal.
            let resolved = t.open == 0 && t.unanswered == 0;
            let info = model.problems.get(&id);
            // The problem's own municipality, else the one most of its appeals come from.
            let municipality = info.and_then(|p| p.municipality.clone()).or_else(|| {
                t.municipalities
                    .iter()
                    .max_by_key(|(_, n)| **n)
                    .and_then(|(m, _)| model.municipalities.name(*m))
                    .map(str::to_string)
            });
            let mut organisations: Vec<(u16, u64)> = t.organisations.into_iter().collect();
            organisations.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            ProblemRow {
                id,
                title: info.map_or_else(|| format!("Проблема №{id}"), |p| p.title.clone()),
                municipality_population: municipality
                    .as_deref()
                    .and_then(|m| pack.municipality(m))
                    .map(|m| m.population),
                municipality,
                appeals: t.appeals,
                open: t.open,
                overdue: t.overdue,
                last_week: t.last_week,
                week_before: t.week_before,
                growth: (t.week_before > 0)
                    .then(|| t.last_week as f64 / t.week_before as f64 - 1.0),
                citizens_at_least: t.not_repeats,
                organisations: organisations
                    .into_iter()
                    .filter_map(|(o, _)| model.organisations.name(o).map(str::to_string))
                    .collect(),
                resolved,
                accelerated: resolved && t.last_answered - t.first_received <= accelerated_secs,
            }
        })
        .collect();
    list.sort_by(|a, b| {
        (b.overdue + b.last_week)
            .cmp(&(a.overdue + a.last_week))
            .then(b.appeals.cmp(&a.appeals))
            .then(a.id.cmp(&b.id))
    });
    list
}

/// Resolved problems solved through accelerated resolution ÷ resolved problems, over the
/// problems with appeals in the filter; with the number of resolved problems.
pub fn accelerated_share(list: &[ProblemRow]) -> (Option<f64>, u64) {
    let resolved = list.iter().filter(|p| p.resolved).count() as u64;
    let accelerated = list.iter().filter(|p| p.resolved && p.accelerated).count() as u64;
    (
        (resolved > 0).then(|| accelerated as f64 / resolved as f64),
        resolved,
    )
}

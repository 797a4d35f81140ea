//! Key indicators (PRODUCT §7) over the read model, for any filter, against the pack's targets.
//!
//! Definitions, each over the appeals the filter selects (the period is on receipt):
//! - **on time**: answered before the deadline ÷ (answered with a deadline + not answered and
//!   past the deadline with the clock running). Appeals without a deadline count neither way.
//! - **time to answer**: calendar hours from registration (receipt when there is none) to the
//!   answer; average, median (the mean of the two middle values for an even count) and the 90th
//!   percentile (nearest rank: the smallest value with at least 90 % of values at or below it).
//! - **satisfaction**: ratings 4–5 ÷ rated appeals.
//! - **overdue now**: open, clock running, deadline passed; **at risk**: open, clock running,
//!   deadline within the pack's window (24 h by default) from now.
//! - **repeat share**: appeals that repeat an earlier one ÷ all.
//! - **merits share**: answers on the merits ÷ answers (first reactions of the centre excluded).
//! - **social first reaction**: average hours from receipt to the first answer of any kind, over
//!   social-media incidents that have one.
//!
//! A share or an average over nothing is `None`, never 0: "no data" is not "0 %".

use super::model::{NO_CODE, NO_TIME, ReadModel};
use crate::domain::{Channel, Regime};
use crate::pack::{RegionPack, TargetDirection};
use serde::Serialize;

const HOUR_SECS: f64 = 3_600.0;

/// Which appeals a figure is about. Codes are the pack's (e.g. block `zhkh`, municipality
/// `75701000`); `None` means any. The period is `[from_utc, to_utc)` on receipt, unix seconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub from_utc: Option<i64>,
    pub to_utc: Option<i64>,
    pub block: Option<String>,
    pub topic: Option<String>,
    pub municipality: Option<String>,
    pub organisation: Option<String>,
    pub regime: Option<Regime>,
    pub channel: Option<Channel>,
}

/// A filter with its codes turned into the model's integers. `None` as a whole: a code the
/// model has never seen, so nothing can match.
pub(crate) struct Resolved {
    from: i64,
    to: i64,
    block: Option<u16>,
    topic: Option<u16>,
    municipality: Option<u16>,
    organisation: Option<u16>,
    regime: Option<Regime>,
    channel: Option<Channel>,
}

impl Filter {
    pub(crate) fn resolve(&self, model: &ReadModel) -> Option<Resolved> {
        fn code(codes: &super::model::Codes, wanted: &Option<String>) -> Option<Option<u16>> {
            match wanted {
                None => Some(None),
                Some(c) => codes.get(c).map(Some),
            }
        }
        Some(Resolved {
            from: self.from_utc.unwrap_or(i64::MIN),
            to: self.to_utc.unwrap_or(i64::MAX),
            block: code(&model.blocks, &self.block)?,
            topic: code(&model.topics, &self.topic)?,
            municipality: code(&model.municipalities, &self.municipality)?,
            organisation: code(&model.organisations, &self.organisation)?,
            regime: self.regime,
            channel: self.channel,
        })
    }
}

impl Filter {
    /// The rows of `model` this filter selects; `None` when it names a code the model has never
    /// seen (nothing can match).
    pub fn matching_rows<'a>(
        &self,
        model: &'a ReadModel,
    ) -> Option<impl Iterator<Item = usize> + 'a> {
        let resolved = self.resolve(model)?;
        Some((0..model.len()).filter(move |&i| resolved.matches(model, i)))
    }
}

/// How row `i` counts for the on-time share: `Some(true)` answered before its deadline,
/// `Some(false)` answered late, or not answered and past the deadline with the clock running;
/// `None` when it is not judged (no deadline, still in time, or paused).
pub fn timeliness(model: &ReadModel, i: usize, now_utc: i64) -> Option<bool> {
    let (due, answered) = (model.due[i], model.answered[i]);
    if due == NO_TIME {
        return None;
    }
    if answered != NO_TIME {
        return Some(answered < due);
    }
    let status = model.status[i];
    (status.is_open() && !status.pauses_clock() && due <= now_utc).then_some(false)
}

/// Whether row `i` is overdue now: open, clock running, deadline passed (as `tsur stats` counts;
/// a reopened appeal runs a new clock even though it was answered once).
pub fn is_overdue(model: &ReadModel, i: usize, now_utc: i64) -> bool {
    let status = model.status[i];
    let due = model.due[i];
    status.is_open() && !status.pauses_clock() && due != NO_TIME && due <= now_utc
}

impl Resolved {
    pub(crate) fn matches(&self, m: &ReadModel, i: usize) -> bool {
        let received = m.received[i];
        received >= self.from
            && received < self.to
            && self.block.is_none_or(|b| m.block[i] == b)
            && self.topic.is_none_or(|t| m.topic[i] == t)
            && self.municipality.is_none_or(|c| m.municipality[i] == c)
            && self.organisation.is_none_or(|o| m.organisation[i] == o)
            && self.regime.is_none_or(|r| m.regime[i] == r)
            && self.channel.is_none_or(|c| m.channel[i] == c)
    }
}

/// The indicators of one filter at one instant, with the counts behind each share.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Kpis {
    pub total: u64,
    pub open: u64,
    pub overdue: u64,
    pub at_risk_24h: u64,
    pub on_time_share: Option<f64>,
    /// Answered before the deadline, and the denominator of the on-time share.
    pub on_time: u64,
    pub on_time_counted: u64,
    pub answered: u64,
    pub avg_answer_hours: Option<f64>,
    pub median_answer_hours: Option<f64>,
    pub p90_answer_hours: Option<f64>,
    pub satisfaction_share: Option<f64>,
    pub rated: u64,
    pub repeat_share: Option<f64>,
    pub repeats: u64,
    pub merits_share: Option<f64>,
    /// Answers counted for the merits share (first reactions excluded).
    pub answers: u64,
    pub social_first_reaction_hours: Option<f64>,
    pub social_reacted: u64,
}

pub(crate) fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Median and nearest-rank 90th percentile; reorders `values`.
pub(crate) fn median_and_p90(values: &mut [f64]) -> (Option<f64>, Option<f64>) {
    let n = values.len();
    if n == 0 {
        return (None, None);
    }
    let by_value = |a: &f64, b: &f64| a.total_cmp(b);
    let upper_mid = *values.select_nth_unstable_by(n / 2, by_value).1;
    let median = if n % 2 == 1 {
        upper_mid
    } else {
        // The lower middle is the largest value below the upper one after the partition.
        let lower_mid = values[..n / 2]
            .iter()
            .copied()
            .max_by(by_value)
            .unwrap_or(upper_mid);
        (lower_mid + upper_mid) / 2.0
    };
    let rank = (n * 9).div_ceil(10).max(1); // ceil(0.9 n), 1-based
    let p90 = *values.select_nth_unstable_by(rank - 1, by_value).1;
    (Some(median), Some(p90))
}

impl Kpis {
    /// Computes every indicator for `filter` at `now_utc` (unix seconds); `at_risk_window_secs`
    /// is the pack's at-risk window.
    pub fn compute(
        model: &ReadModel,
        filter: &Filter,
        now_utc: i64,
        at_risk_window_secs: i64,
    ) -> Kpis {
        let mut k = Kpis::default();
        let Some(f) = filter.resolve(model) else {
            return k;
        };
        let mut answer_hours: Vec<f64> = Vec::new();
        let (mut answer_hours_sum, mut satisfied, mut merits) = (0.0, 0u64, 0u64);
        let mut reaction_hours_sum = 0.0;
        for i in 0..model.len() {
            if !f.matches(model, i) {
                continue;
            }
            k.total += 1;
            let status = model.status[i];
            let (due, answered) = (model.due[i], model.answered[i]);
            let running = status.is_open() && !status.pauses_clock();
            if status.is_open() {
                k.open += 1;
            }
            // Overdue and at risk follow the status, as `tsur stats` does: a reopened appeal
            // runs a new clock even though it was answered once.
            if running && due != NO_TIME {
                if due <= now_utc {
                    k.overdue += 1;
                } else if due - now_utc <= at_risk_window_secs {
                    k.at_risk_24h += 1;
                }
            }
            if let Some(on_time) = timeliness(model, i, now_utc) {
                k.on_time_counted += 1;
                k.on_time += u64::from(on_time);
            }
            if answered != NO_TIME {
                k.answered += 1;
                let hours = (answered - model.registered[i]) as f64 / HOUR_SECS;
                answer_hours_sum += hours;
                answer_hours.push(hours);
            }
            let rating = model.rating[i];
            if rating > 0 {
                k.rated += 1;
                satisfied += u64::from(rating >= 4);
            }
            k.repeats += u64::from(model.is_repeat[i]);
            k.answers += u64::from(model.answers[i]);
            merits += u64::from(model.merits_answers[i]);
            if model.regime[i] == Regime::Social && model.first_reaction[i] != NO_TIME {
                k.social_reacted += 1;
                reaction_hours_sum +=
                    (model.first_reaction[i] - model.received[i]) as f64 / HOUR_SECS;
            }
        }
        k.on_time_share = share(k.on_time, k.on_time_counted);
        k.avg_answer_hours = (k.answered > 0).then(|| answer_hours_sum / k.answered as f64);
        (k.median_answer_hours, k.p90_answer_hours) = median_and_p90(&mut answer_hours);
        k.satisfaction_share = share(satisfied, k.rated);
        k.repeat_share = share(k.repeats, k.total);
        k.merits_share = share(merits, k.answers);
        k.social_first_reaction_hours =
            (k.social_reacted > 0).then(|| reaction_hours_sum / k.social_reacted as f64);
        k
    }
}

/// One indicator against its target from the pack, in the target's unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    pub id: String,
    pub name: String,
    pub unit: String,
    pub value: Option<f64>,
    pub target: f64,
    /// `None` when there is no value to judge.
    pub on_target: Option<bool>,
}

/// Every target of the pack with its value for `filter`. A target bound to a regime (the ПОС
/// answer time, the social first reaction) is computed over that regime within the filter.
/// A target this build does not know has no value (shown as such, never as 0).
pub fn figures(model: &ReadModel, filter: &Filter, now_utc: i64, pack: &RegionPack) -> Vec<Figure> {
    let window = i64::from(pack.region.at_risk_window_hours) * 3_600;
    let all = Kpis::compute(model, filter, now_utc, window);
    let problems = super::problems::problem_list(model, filter, now_utc, pack);
    let accelerated = super::problems::accelerated_share(&problems).0;
    figures_from(model, filter, now_utc, pack, &all, accelerated)
}

/// [`figures`] from the filter's indicators and accelerated share already computed.
pub fn figures_from(
    model: &ReadModel,
    filter: &Filter,
    now_utc: i64,
    pack: &RegionPack,
    all: &Kpis,
    accelerated_share: Option<f64>,
) -> Vec<Figure> {
    let window = i64::from(pack.region.at_risk_window_hours) * 3_600;
    pack.kpi_targets
        .iter()
        .map(|t| {
            let scoped;
            let k = match (t.regime, filter.regime) {
                (Some(regime), None) => {
                    let narrowed = Filter {
                        regime: Some(regime),
                        ..filter.clone()
                    };
                    scoped = Kpis::compute(model, &narrowed, now_utc, window);
                    Some(&scoped)
                }
                // A target of one regime says nothing about a filter of another.
                (Some(regime), Some(other)) if regime != other => None,
                _ => Some(all),
            };
            let percent = |v: Option<f64>| v.map(|s| s * 100.0);
            let days = |v: Option<f64>| v.map(|h| h / 24.0);
            let value = k.and_then(|k| match t.id.as_str() {
                "on_time_share" => percent(k.on_time_share),
                "avg_answer_days" => days(k.avg_answer_hours),
                "median_answer_days" => days(k.median_answer_hours),
                "p90_answer_days" => days(k.p90_answer_hours),
                "satisfaction_share" => percent(k.satisfaction_share),
                "overdue_now" => Some(k.overdue as f64),
                "at_risk_24h" => Some(k.at_risk_24h as f64),
                "repeat_share" => percent(k.repeat_share),
                "merits_share" => percent(k.merits_share),
                "social_first_reaction_hours" => k.social_first_reaction_hours,
                "accelerated_share" => percent(accelerated_share),
                _ => None,
            });
            Figure {
                id: t.id.clone(),
                name: t.name.clone(),
                unit: t.unit.clone(),
                value,
                target: t.target,
                on_target: value.map(|v| match t.direction {
                    TargetDirection::AtLeast => v >= t.target,
                    TargetDirection::AtMost => v <= t.target,
                }),
            }
        })
        .collect()
}

/// The same filter over the period of equal length just before it (for "week over week" and
/// "period over period"). `None` unless the filter has both ends.
pub fn previous_period(filter: &Filter) -> Option<Filter> {
    let (from, to) = (filter.from_utc?, filter.to_utc?);
    let length = to.checked_sub(from)?;
    Some(Filter {
        from_utc: Some(from.checked_sub(length)?),
        to_utc: Some(from),
        ..filter.clone()
    })
}

/// Appeals per code of one column, for the filter (e.g. per block): `(code, count)`, codes in the
/// model's order, appeals without a code under `None`.
pub fn counts_by(
    model: &ReadModel,
    filter: &Filter,
    column: &[u16],
    codes: &super::model::Codes,
) -> Vec<(Option<String>, u64)> {
    let Some(f) = filter.resolve(model) else {
        return Vec::new();
    };
    let mut counts = vec![0u64; codes.len() + 1];
    for (i, &c) in column.iter().enumerate() {
        if f.matches(model, i) {
            let slot = if c == NO_CODE {
                codes.len()
            } else {
                usize::from(c)
            };
            if let Some(n) = counts.get_mut(slot) {
                *n += 1;
            }
        }
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(slot, n)| {
            let code = u16::try_from(slot)
                .ok()
                .and_then(|c| codes.name(c))
                .map(str::to_string);
            (code, n)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p90_by_hand() {
        assert_eq!(median_and_p90(&mut []), (None, None));
        assert_eq!(median_and_p90(&mut [5.0]), (Some(5.0), Some(5.0)));
        // 1..=10: median (5 + 6) / 2; p90 rank ceil(9) = 9 → 9.
        let mut v: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        assert_eq!(median_and_p90(&mut v), (Some(5.5), Some(9.0)));
        // 1..=11: median 6; p90 rank ceil(9.9) = 10 → 10.
        let mut v: Vec<f64> = [7, 1, 11, 3, 9, 5, 2, 10, 4, 8, 6].map(f64::from).to_vec();
        assert_eq!(median_and_p90(&mut v), (Some(6.0), Some(10.0)));
    }

    #[test]
    fn the_previous_period_has_the_same_length() {
        let f = Filter {
            from_utc: Some(1_000),
            to_utc: Some(1_700),
            block: Some("zhkh".into()),
            ..Filter::default()
        };
        let p = previous_period(&f).unwrap();
        assert_eq!((p.from_utc, p.to_utc), (Some(300), Some(1_000)));
        assert_eq!(p.block.as_deref(), Some("zhkh"));
        assert_eq!(previous_period(&Filter::default()), None);
    }
}

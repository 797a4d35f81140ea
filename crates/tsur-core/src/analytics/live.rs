//! The dashboard's views kept up to date change by change: a sync brings a page of changed
//! appeals, and the KPIs, the ranking and the heat grid of the current filter follow without a
//! pass over the whole model (ENGINEERING §6).
//!
//! Each appeal adds counts to the views; a changed appeal's old counts are taken out and its new
//! ones put in. What depends on the clock is kept apart and read at query time: deadlines of
//! open appeals (overdue and at risk now) in an ordered multiset, and the open, unanswered
//! appeals whose timeliness turns from "not yet judged" to "late" as their deadline passes, as a
//! set of rows (a few percent of the model). Medians and percentiles come from an ordered
//! multiset of answer times. The figures equal a full recompute (`Kpis::compute`, `rank_with`,
//! `density`); the tests check that they do after random changes.

use super::heat::{DensityGrid, GridSpec, Kernel, empty_grid};
use super::kpi::{Filter, Kpis, Resolved, previous_period, share};
use super::model::{AppealFacts, NO_CODE, NO_TIME, ReadModel};
use super::ranking::{Ranked, Tally, score_tallies};
use crate::domain::Regime;
use crate::pack::{RankingRules, RegionPack};
use std::collections::{BTreeMap, HashSet};

const HOUR_SECS: i64 = 3_600;

/// A multiset of integers with its k-th smallest found by walking hourly buckets, then one bucket.
#[derive(Debug, Clone, Default)]
struct OrderedCounts {
    exact: BTreeMap<i64, u32>,
    buckets: BTreeMap<i64, u64>,
    len: u64,
}

impl OrderedCounts {
    fn change(&mut self, value: i64, sign: i64) {
        let bucket = value.div_euclid(HOUR_SECS);
        if sign > 0 {
            *self.exact.entry(value).or_default() += 1;
            *self.buckets.entry(bucket).or_default() += 1;
            self.len += 1;
        } else {
            if let Some(n) = self.exact.get_mut(&value) {
                *n -= 1;
                if *n == 0 {
                    self.exact.remove(&value);
                }
            }
            if let Some(n) = self.buckets.get_mut(&bucket) {
                *n -= 1;
                if *n == 0 {
                    self.buckets.remove(&bucket);
                }
            }
            self.len -= 1;
        }
    }

    /// The k-th smallest value (0-based).
    fn kth(&self, k: u64) -> Option<i64> {
        let mut before = 0u64;
        for (&bucket, &n) in &self.buckets {
            if before + n <= k {
                before += n;
                continue;
            }
            let start = bucket * HOUR_SECS;
            for (&value, &m) in self.exact.range(start..start + HOUR_SECS) {
                before += u64::from(m);
                if before > k {
                    return Some(value);
                }
            }
            return None; // the two maps disagree: not reached
        }
        None
    }

    /// How many values are in `range`.
    fn count(&self, range: impl std::ops::RangeBounds<i64>) -> u64 {
        self.exact.range(range).map(|(_, n)| u64::from(*n)).sum()
    }
}

/// The additive part of the KPIs.
#[derive(Debug, Clone, Default)]
struct KpiSums {
    total: u64,
    open: u64,
    /// Judged once and for all: answered appeals with a deadline.
    on_time: u64,
    judged: u64,
    answered: u64,
    answer_secs: i64,
    rated: u64,
    satisfied: u64,
    repeats: u64,
    answers: u64,
    merits: u64,
    social_reacted: u64,
    reaction_secs: i64,
}

/// The ranking's counts; organisations and topics by the model's codes.
#[derive(Debug, Clone, Default)]
struct RankSums {
    by_org: Vec<Tally>,
    region: Tally,
    /// Appeals of the filter, with or without an organisation.
    total: u64,
    /// On time and judged, per organisation × topic and per topic (topic `NO_CODE`: none).
    /// Ordered as the full computation walks them (`NO_CODE` last), so that sums of shares come
    /// out the same to the last bit.
    by_org_topic: BTreeMap<(u16, u16), (u64, u64)>,
    by_topic: BTreeMap<u16, (u64, u64)>,
}

/// The views of one filter, for one heat grid, kept current by [`LiveViews::update`].
pub struct LiveViews {
    filter: Filter,
    resolved: Option<Resolved>,
    kpi: KpiSums,
    answer_times: OrderedCounts,
    /// Deadlines of open appeals whose clock runs.
    running_due: OrderedCounts,
    /// Open, unanswered appeals with a running clock and a deadline: late once it passes.
    pending: HashSet<usize>,
    rank: RankSums,
    kernel: Kernel,
    heat: DensityGrid,
    bins: Vec<u32>,
    heat_values: Vec<f64>,
    /// The same views over the period just before (for the ranking's trend), when the filter
    /// has both ends.
    previous: Option<Box<LiveViews>>,
}

impl LiveViews {
    /// The views of `filter` over everything in `model` (one full pass).
    pub fn new(model: &ReadModel, filter: &Filter, spec: GridSpec) -> LiveViews {
        Self::build(model, filter, spec, true)
    }

    fn build(model: &ReadModel, filter: &Filter, spec: GridSpec, with_previous: bool) -> LiveViews {
        let heat = empty_grid(spec);
        let kernel = Kernel::of(&heat.spec);
        let (bin_rows, bin_cols) = kernel.bins(&heat);
        let mut views = LiveViews {
            filter: filter.clone(),
            resolved: filter.resolve(model),
            kpi: KpiSums::default(),
            answer_times: OrderedCounts::default(),
            running_due: OrderedCounts::default(),
            pending: HashSet::new(),
            rank: RankSums::default(),
            heat_values: vec![0.0; heat.values.len()],
            bins: vec![0; bin_rows * bin_cols],
            kernel,
            heat,
            previous: None,
        };
        if with_previous && let Some(before) = previous_period(filter) {
            views.previous = Some(Box::new(Self::build(model, &before, spec, false)));
        }
        for i in 0..model.len() {
            views.count_row(model, i, 1);
        }
        views
    }

    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// Applies changed appeals to `model` and to the views: each appeal's old counts out, its new
    /// ones in.
    pub fn update(
        &mut self,
        model: &mut ReadModel,
        changed: impl IntoIterator<Item = AppealFacts>,
    ) {
        for facts in changed {
            let old = model.row(facts.id);
            if let Some(i) = old {
                self.count_everywhere(model, i, -1);
            }
            model.upsert(facts.clone());
            if self.code_now_known(model) {
                // The filter names a code the model has only now learnt: count from scratch.
                *self = Self::new(model, &self.filter, self.heat.spec);
                continue;
            }
            if let Some(i) = model.row(facts.id) {
                self.count_everywhere(model, i, 1);
            }
        }
    }

    /// Whether the filter named a code unknown until now (so nothing was counted).
    fn code_now_known(&self, model: &ReadModel) -> bool {
        let here = self.resolved.is_none() && self.filter.resolve(model).is_some();
        here || self
            .previous
            .as_ref()
            .is_some_and(|p| p.code_now_known(model))
    }

    fn count_everywhere(&mut self, model: &ReadModel, i: usize, sign: i64) {
        self.count_row(model, i, sign);
        if let Some(previous) = &mut self.previous {
            previous.count_row(model, i, sign);
        }
    }

    /// Adds (`sign` 1) or takes out (−1) what row `i` counts for.
    fn count_row(&mut self, m: &ReadModel, i: usize, sign: i64) {
        let Some(f) = &self.resolved else {
            return;
        };
        if !f.matches(m, i) {
            return;
        }
        let add = |n: &mut u64, yes: bool| {
            if yes {
                *n = n.wrapping_add_signed(sign);
            }
        };
        let k = &mut self.kpi;
        let status = m.status[i];
        let (due, answered) = (m.due[i], m.answered[i]);
        let running = status.is_open() && !status.pauses_clock();
        add(&mut k.total, true);
        add(&mut k.open, status.is_open());
        if running && due != NO_TIME {
            self.running_due.change(due, sign);
            if answered == NO_TIME {
                if sign > 0 {
                    self.pending.insert(i);
                } else {
                    self.pending.remove(&i);
                }
            }
        }
        // Judged for good: answered with a deadline.
        let settled = (due != NO_TIME && answered != NO_TIME).then_some(answered < due);
        if let Some(on_time) = settled {
            add(&mut k.judged, true);
            add(&mut k.on_time, on_time);
        }
        if answered != NO_TIME {
            add(&mut k.answered, true);
            let secs = answered - m.registered[i];
            k.answer_secs += sign * secs;
            self.answer_times.change(secs, sign);
        }
        let rating = m.rating[i];
        add(&mut k.rated, rating > 0);
        add(&mut k.satisfied, rating >= 4);
        add(&mut k.repeats, m.is_repeat[i]);
        k.answers = k
            .answers
            .wrapping_add_signed(sign * i64::from(m.answers[i]));
        k.merits = k
            .merits
            .wrapping_add_signed(sign * i64::from(m.merits_answers[i]));
        if m.regime[i] == Regime::Social && m.first_reaction[i] != NO_TIME {
            add(&mut k.social_reacted, true);
            k.reaction_secs += sign * (m.first_reaction[i] - m.received[i]);
        }

        // The ranking.
        let r = &mut self.rank;
        add(&mut r.total, true);
        let org = m.organisation[i];
        if org != NO_CODE {
            let o = usize::from(org);
            if r.by_org.len() <= o {
                r.by_org.resize(o + 1, Tally::default());
            }
            for tally in [&mut r.by_org[o], &mut r.region] {
                add(&mut tally.appeals, true);
                if let Some(on_time) = settled {
                    add(&mut tally.counted, true);
                    add(&mut tally.on_time, on_time);
                }
                add(&mut tally.rated, rating > 0);
                add(&mut tally.satisfied, rating >= 4);
                add(&mut tally.repeats, m.is_repeat[i]);
                tally.answers = tally
                    .answers
                    .wrapping_add_signed(sign * i64::from(m.answers[i]));
                tally.merits = tally
                    .merits
                    .wrapping_add_signed(sign * i64::from(m.merits_answers[i]));
            }
            if let Some(on_time) = settled {
                let topic = m.topic[i];
                for cell in [
                    r.by_org_topic.entry((org, topic)).or_default(),
                    r.by_topic.entry(topic).or_default(),
                ] {
                    add(&mut cell.0, on_time);
                    add(&mut cell.1, true);
                }
            }
        }

        // The heat grid.
        if !(m.lat[i].is_finite() && m.lon[i].is_finite()) {
            add(&mut self.heat.without_point, true);
        } else if let Some(b) = self.kernel.bin_of(&self.heat, m.lat[i], m.lon[i]) {
            add(&mut self.heat.points, true);
            self.bins[b] = self.bins[b].wrapping_add_signed(sign as i32);
            let values = &mut self.heat_values;
            self.kernel.spread(&self.heat, b, |cell, weight| {
                values[cell] += sign as f64 * f64::from(weight);
            });
        }
    }

    /// The pending rows that are late at `now`.
    fn late_now<'a>(
        &'a self,
        model: &'a ReadModel,
        now_utc: i64,
    ) -> impl Iterator<Item = usize> + 'a {
        self.pending
            .iter()
            .copied()
            .filter(move |&i| model.due[i] <= now_utc)
    }

    /// The KPIs at `now_utc`, as [`Kpis::compute`] gives them.
    pub fn kpis(&self, model: &ReadModel, now_utc: i64, at_risk_window_secs: i64) -> Kpis {
        let s = &self.kpi;
        let late = self.late_now(model, now_utc).count() as u64;
        let mut k = Kpis {
            total: s.total,
            open: s.open,
            overdue: self.running_due.count(..=now_utc),
            at_risk_24h: self
                .running_due
                .count(now_utc + 1..=now_utc.saturating_add(at_risk_window_secs)),
            on_time: s.on_time,
            on_time_counted: s.judged + late,
            answered: s.answered,
            rated: s.rated,
            repeats: s.repeats,
            answers: s.answers,
            social_reacted: s.social_reacted,
            ..Kpis::default()
        };
        k.on_time_share = share(k.on_time, k.on_time_counted);
        let hours = |secs: i64| secs as f64 / HOUR_SECS as f64;
        k.avg_answer_hours = (s.answered > 0).then(|| hours(s.answer_secs) / s.answered as f64);
        let n = self.answer_times.len;
        if n > 0 {
            let at = |k: u64| self.answer_times.kth(k).map(hours);
            k.median_answer_hours = if n % 2 == 1 {
                at(n / 2)
            } else {
                at(n / 2 - 1).zip(at(n / 2)).map(|(a, b)| (a + b) / 2.0)
            };
            k.p90_answer_hours = at((n * 9).div_ceil(10).max(1) - 1);
        }
        k.satisfaction_share = share(s.satisfied, s.rated);
        k.repeat_share = share(s.repeats, s.total);
        k.merits_share = share(s.merits, s.answers);
        k.social_first_reaction_hours =
            (s.social_reacted > 0).then(|| hours(s.reaction_secs) / s.social_reacted as f64);
        k
    }

    /// The ranking at `now_utc` with the pack's rules, as [`super::ranking::rank`] gives it.
    pub fn ranking(&self, model: &ReadModel, now_utc: i64, pack: &RegionPack) -> Vec<Ranked> {
        self.ranking_with(model, now_utc, &pack.ranking, pack)
    }

    /// [`LiveViews::ranking`] with explicit rules.
    pub fn ranking_with(
        &self,
        model: &ReadModel,
        now_utc: i64,
        rules: &RankingRules,
        pack: &RegionPack,
    ) -> Vec<Ranked> {
        let mut list = self.ranking_period(model, now_utc, rules, pack);
        if let Some(previous) = &self.previous {
            let before = previous.ranking_period(model, now_utc, rules, pack);
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

    fn ranking_period(
        &self,
        model: &ReadModel,
        now_utc: i64,
        rules: &RankingRules,
        pack: &RegionPack,
    ) -> Vec<Ranked> {
        if self.resolved.is_none() {
            return Vec::new();
        }
        let mut by_org = self.rank.by_org.clone();
        let mut region = self.rank.region.clone();
        let mut by_org_topic = self.rank.by_org_topic.clone();
        let mut by_topic = self.rank.by_topic.clone();
        // Appeals whose deadline has passed unanswered count as late from now on.
        for i in self.late_now(model, now_utc) {
            let org = model.organisation[i];
            if org == NO_CODE {
                continue;
            }
            if let Some(tally) = by_org.get_mut(usize::from(org)) {
                tally.counted += 1;
            }
            region.counted += 1;
            by_org_topic.entry((org, model.topic[i])).or_default().1 += 1;
            by_topic.entry(model.topic[i]).or_default().1 += 1;
        }
        let mut expected_parts: Vec<(f64, u64)> = vec![(0.0, 0); by_org.len()];
        for (&(org, topic), &(_, counted)) in &by_org_topic {
            let (region_on_time, region_counted) = by_topic.get(&topic).copied().unwrap_or((0, 0));
            if counted > 0
                && region_counted > 0
                && let Some(part) = expected_parts.get_mut(usize::from(org))
            {
                part.0 += counted as f64 * region_on_time as f64 / region_counted as f64;
                part.1 += counted;
            }
        }
        let expected: Vec<Option<f64>> = expected_parts
            .into_iter()
            .map(|(sum, n)| (n > 0).then(|| sum / n as f64))
            .collect();
        score_tallies(
            &by_org,
            &region,
            self.rank.total,
            &expected,
            model,
            rules,
            pack,
        )
    }

    /// The heat grid, as [`super::heat::density`] gives it.
    pub fn heat(&self) -> DensityGrid {
        let mut grid = self.heat.clone();
        grid.values = self
            .heat_values
            .iter()
            // Taking out what was put in may leave a rounding crumb below zero.
            .map(|v| v.max(0.0) as f32)
            .collect();
        grid.max = grid.values.iter().copied().fold(0.0, f32::max);
        grid
    }

    /// How many open appeals are read at query time (their lateness depends on the clock).
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
}

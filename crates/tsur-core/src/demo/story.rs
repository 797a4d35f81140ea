//! One appeal's life in the demo year: who wrote, where, about what, its deadline, and what the
//! organisation did — told as a history of events that follows the status lifecycle.

use super::DemoError;
use super::model::{CHANNELS, Model, OrgProfile, fill, make_author};
use super::plan::{Hotspot, Planned};
use super::rng::{DemoRng, Weighted};
use crate::deadline::{ClockAdjustment, ClockKind};
use crate::domain::{AnswerKind, Author, Channel, EventKind, InvalidTransition, Regime, Status};
use chrono::{DateTime, TimeZone, Utc};
use std::collections::VecDeque;

/// An event row as the store keeps it.
#[derive(Debug, Clone)]
pub(super) struct EventRow {
    pub at: i64,
    pub kind: EventKind,
    pub actor: String,
    pub from: Option<Status>,
    pub to: Option<Status>,
    pub note: Option<String>,
}

/// An answer row as the store keeps it.
#[derive(Debug, Clone)]
pub(super) struct AnswerRow {
    pub at: i64,
    pub organisation: Option<String>,
    pub kind: AnswerKind,
    pub text: String,
}

/// The appeal's columns as the store keeps them (codes, unix seconds).
#[derive(Debug, Clone)]
pub(super) struct AppealRow {
    pub channel: Channel,
    pub regime: Regime,
    pub received: i64,
    pub registered: i64,
    pub text: String,
    pub author: Author,
    /// "Settlement, street, house".
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub municipality: usize,
    /// Index into the model's topics; `None` for an unclassified appeal.
    pub topic: Option<usize>,
    pub organisation: Option<usize>,
    pub status: Status,
    pub due: Option<i64>,
    pub first_reaction_due: Option<i64>,
    pub first_reaction: Option<i64>,
    pub answered: Option<i64>,
    pub closed: Option<i64>,
    pub rating: Option<i64>,
    pub repeat_of: Option<i64>,
    pub extended: bool,
}

impl AppealRow {
    pub fn updated(&self) -> i64 {
        [Some(self.received), self.answered, self.closed]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(self.received)
    }
}

/// Everything one appeal adds to the replica.
pub(super) struct Story {
    pub appeal: AppealRow,
    pub events: Vec<EventRow>,
    pub answers: Vec<AnswerRow>,
    /// Whether the record is deliberately dirty (no coordinates or no topic).
    pub dirty: bool,
}

/// What a later repeat appeal may copy from an answered one.
#[derive(Clone)]
struct RepeatSource {
    id: i64,
    received: i64,
    answered: i64,
    author: Author,
    street: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    topic: usize,
    muni: usize,
    settlement: Option<usize>,
    org: Option<usize>,
}

/// The state that carries from one appeal to the next: answered appeals that may be repeated.
#[derive(Default)]
pub(super) struct Memory {
    repeatable: VecDeque<RepeatSource>,
}

/// Chance that an appeal repeats an earlier one (some candidates do not qualify, so the share of
/// repeats comes out near 7 %).
const REPEAT_CHANCE: f64 = 0.09;
const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// The history of one appeal, kept consistent with the lifecycle as it is written.
struct Timeline {
    status: Status,
    events: Vec<EventRow>,
}

impl Timeline {
    fn new(received: i64) -> Self {
        Timeline {
            status: Status::New,
            events: vec![EventRow {
                at: received,
                kind: EventKind::Received,
                actor: "system".into(),
                from: None,
                to: Some(Status::New),
                note: None,
            }],
        }
    }

    fn can(&self, to: Status) -> bool {
        self.status.next_allowed().contains(&to)
    }

    fn step(
        &mut self,
        to: Status,
        at: i64,
        actor: &str,
        note: Option<&str>,
    ) -> Result<(), InvalidTransition> {
        let from = self.status;
        self.status = from.transition(to)?;
        self.events.push(EventRow {
            at,
            kind: EventKind::StatusChanged,
            actor: actor.to_string(),
            from: Some(from),
            to: Some(to),
            note: note.map(str::to_string),
        });
        Ok(())
    }

    fn note(&mut self, kind: EventKind, at: i64, actor: &str, note: String) {
        self.events.push(EventRow {
            at,
            kind,
            actor: actor.to_string(),
            from: None,
            to: None,
            note: Some(note),
        });
    }
}

fn instant(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// Where and who: a hot spot's address, an earlier appeal's author and place, or a fresh draw.
struct Origin {
    muni: usize,
    settlement: Option<usize>,
    street: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    author: Author,
    org: Option<usize>,
    topic: usize,
    repeat_of: Option<i64>,
}

impl Memory {
    /// An answered appeal received 2–80 days before `received`, answered at most 90 days ago.
    fn pick_repeat(&mut self, received: i64, rng: &mut DemoRng) -> Option<RepeatSource> {
        while self
            .repeatable
            .front()
            .is_some_and(|s| s.received < received - 100 * DAY)
        {
            self.repeatable.pop_front();
        }
        let lo = self
            .repeatable
            .partition_point(|s| s.received < received - 80 * DAY);
        let hi = self
            .repeatable
            .partition_point(|s| s.received < received - 2 * DAY);
        if hi <= lo {
            return None;
        }
        let source = &self.repeatable[rng.range(lo as i64, hi as i64 - 1) as usize];
        (source.answered < received && received - source.answered <= 90 * DAY)
            .then(|| source.clone())
    }
}

/// Draws the life of appeal `id` planned as `planned`, as of `now`.
pub(super) fn tell(
    model: &Model<'_>,
    hotspots: &[Hotspot],
    memory: &mut Memory,
    id: i64,
    planned: &Planned,
    now: i64,
    r: &mut DemoRng,
) -> Result<Story, DemoError> {
    let pack = model.pack;
    let corpus = model.corpus;
    let received = planned.received;
    let channel = CHANNELS[model.channels.sample(r)].0;
    let regime = channel.default_regime();

    // Where, who and what.
    let origin = if let Some(spot) = planned.hotspot.and_then(|h| hotspots.get(h)) {
        Origin {
            muni: spot.muni,
            settlement: spot.settlement,
            street: Some(spot.address.clone()),
            lat: Some(spot.lat + r.normal() * 0.0012),
            lon: Some(spot.lon + r.normal() * 0.002),
            author: make_author(r, corpus, channel),
            org: model.pick_org(r, model.topics[planned.topic].0, spot.muni),
            topic: planned.topic,
            repeat_of: None,
        }
    } else if let Some(source) = r
        .chance(REPEAT_CHANCE)
        .then(|| memory.pick_repeat(received, r))
        .flatten()
    {
        Origin {
            muni: source.muni,
            settlement: source.settlement,
            street: source.street,
            lat: source.lat,
            lon: source.lon,
            author: source.author,
            org: source.org,
            topic: source.topic,
            repeat_of: Some(source.id),
        }
    } else {
        let (muni, settlement) = model.pick_place(r);
        let street = model.street(r, settlement, muni);
        let (lat, lon) = model.point_near(r, settlement, muni, 1.0);
        Origin {
            muni,
            settlement,
            street: Some(street),
            lat: Some(lat),
            lon: Some(lon),
            author: make_author(r, corpus, channel),
            org: model.pick_org(r, model.topics[planned.topic].0, muni),
            topic: planned.topic,
            repeat_of: None,
        }
    };
    let Origin {
        muni,
        settlement,
        mut street,
        mut lat,
        mut lon,
        author,
        org,
        topic,
        repeat_of,
    } = origin;

    // A few percent of dirty records: no coordinates, no topic, or no address at all.
    let mut classified = true;
    let mut dirty = false;
    if planned.hotspot.is_none() && repeat_of.is_none() {
        let dirt = r.f64();
        if dirt < 0.015 {
            (lat, lon, dirty) = (None, None, true);
        } else if dirt < 0.027 {
            (classified, dirty) = (false, true);
        } else if dirt < 0.030 {
            (lat, lon, street, dirty) = (None, None, None, true);
        }
    }
    let block_idx = model.topics[topic].0;
    let place = model.place_name(settlement, muni);
    let demo = &corpus.topics[topic];
    let templates = if channel == Channel::Social {
        &demo.social
    } else {
        &demo.formal
    };
    let template: &String = r.pick(templates);
    let text = fill(template, street.as_deref().unwrap_or("—"), place, r);

    // Registration and the answer deadline.
    let registered = (received
        + match channel {
            Channel::Letter => r.range(HOUR, 2 * DAY),
            Channel::Electronic => r.range(600, DAY),
            Channel::Pos => r.range(60, 4 * HOUR),
            _ => r.range(0, 600),
        })
    .min(now);
    let profile = org.map_or(
        OrgProfile {
            late_p: 0.1,
            merits_p: 0.8,
            pace: 0.5,
        },
        |o| model.profiles[o],
    );
    let mut adjustments = Vec::new();
    // Pauses start after work has begun (routing and taking take at most ~2 days) and end before
    // an extension could be granted (15–27 days after registration).
    let paused = matches!(regime, Regime::Pos | Regime::Fz59) && r.chance(0.02);
    let pause_from = registered + r.range(3, 5) * DAY;
    let pause_until = pause_from + r.range(2, 7) * DAY;
    if paused {
        adjustments.push(ClockAdjustment::Pause {
            from_utc: instant(pause_from),
            until_utc: (pause_until <= now).then(|| instant(pause_until)),
        });
    }
    let hot_factor = if planned.hotspot.is_some() { 1.5 } else { 1.0 };
    let mut late = r.chance(profile.late_p * hot_factor);
    // Organisations that cannot make a 59-ФЗ deadline often extend it (once, with notice).
    let extension_at = registered + r.range(15, 27) * DAY;
    let rejected = classified && r.chance(0.012);
    let extended = regime == Regime::Fz59
        && classified
        && !rejected
        && late
        && extension_at < now
        && r.chance(0.35);
    if extended {
        adjustments.push(ClockAdjustment::Extension {
            at_utc: instant(extension_at),
            amount: None,
        });
        late = r.chance(0.25);
    }
    let deadline = model.engine.compute(
        regime,
        channel,
        ClockKind::Answer,
        instant(received),
        Some(instant(registered)),
        &adjustments,
    )?;
    let due = deadline.due_utc.timestamp();
    let first_reaction_due = (regime == Regime::Social).then_some(received + 24 * HOUR);
    let first_reaction = first_reaction_due
        .map(|_| {
            let mean_hours = if profile.late_p > 0.3 { 14.0 } else { 3.5 };
            received + (r.exponential(mean_hours) * HOUR as f64) as i64 + 300
        })
        .filter(|t| *t <= now);

    // Outcome: on time at the organisation's pace, or late.
    let span = (due - registered).max(HOUR);
    let answer_at = if late {
        due + (r.exponential(8.0 * DAY as f64) as i64) + HOUR
    } else {
        registered + (span as f64 * (profile.pace * (0.3 + r.f64())).min(0.97)) as i64
    };
    let answered = classified && !rejected && answer_at <= now && !(paused && pause_until > now);
    let age = now - received;

    let org_code = org.map(|o| pack.organisations[o].code.as_str().to_string());
    let actor = org_code.clone().unwrap_or_else(|| "system".into());
    let mut t = Timeline::new(received);
    let mut answers = Vec::new();
    let (mut answered_at, mut closed_at, mut rating, mut answer_kind) = (None, None, None, None);
    if !classified {
        if age > 2 * HOUR {
            t.step(
                Status::Triage,
                registered,
                "operator",
                Some("тема не определена"),
            )?;
        }
    } else if rejected {
        t.step(
            Status::Rejected,
            registered,
            "operator",
            Some("нет содержания обращения"),
        )?;
    } else {
        let routed_at = (registered + r.range(600, 6 * HOUR)).min(now);
        if age > HOUR {
            t.step(Status::Triage, registered, "operator", None)?;
            t.step(Status::Routed, routed_at, "operator", Some(&actor))?;
        }
        let work_at = routed_at + r.range(HOUR, 2 * DAY);
        if work_at < now && t.status == Status::Routed {
            t.step(Status::InProgress, work_at, &actor, None)?;
        }
        if paused && pause_from < now && t.status == Status::InProgress {
            t.step(
                Status::AwaitingCitizen,
                pause_from,
                &actor,
                Some("запрошены уточнения у заявителя"),
            )?;
            if pause_until <= now {
                t.step(
                    Status::InProgress,
                    pause_until,
                    &actor,
                    Some("заявитель дал уточнения"),
                )?;
            }
        }
        if extended && t.status == Status::InProgress {
            t.step(
                Status::Extended,
                extension_at,
                &actor,
                Some("срок продлён с уведомлением заявителя"),
            )?;
            let step = deadline
                .steps
                .iter()
                .find(|s| s.starts_with("продлено"))
                .cloned();
            t.note(
                EventKind::Extended,
                extension_at,
                &actor,
                step.unwrap_or_default(),
            );
        }
        if answered {
            let kind = if r.chance(profile.merits_p) {
                AnswerKind::Merits
            } else if r.chance(0.6) {
                AnswerKind::Formal
            } else {
                AnswerKind::Forwarded
            };
            // After everything that happened before it: work started, the pause ended, the
            // deadline was extended.
            let mut at = answer_at.max(work_at + 60);
            if paused {
                at = at.max(pause_until + 60);
            }
            if extended {
                at = at.max(extension_at + 60);
            }
            let at = at.min(now);
            if kind == AnswerKind::Forwarded && t.can(Status::Forwarded) {
                t.step(
                    Status::Forwarded,
                    at - 60,
                    &actor,
                    Some("направлено по компетенции"),
                )?;
            }
            if t.can(Status::Answered) {
                t.step(Status::Answered, at, &actor, None)?;
            }
            let block_answers = corpus
                .answers
                .merits_by_block
                .get(pack.blocks[block_idx].code.as_str())
                .filter(|list| !list.is_empty());
            let texts = match kind {
                AnswerKind::Merits => match block_answers {
                    Some(list) if r.chance(0.7) => list,
                    _ => &corpus.answers.merits,
                },
                AnswerKind::Formal => &corpus.answers.formal,
                _ => &corpus.answers.forwarded,
            };
            let template: &String = r.pick(texts);
            answers.push(AnswerRow {
                at,
                organisation: org_code.clone(),
                kind,
                text: fill(
                    template,
                    street.as_deref().unwrap_or("указанному адресу"),
                    place,
                    r,
                ),
            });
            t.note(EventKind::Answered, at, &actor, kind.code().to_string());
            answered_at = Some(at);
            answer_kind = Some(kind);
            // Ratings follow timeliness and substance.
            if r.chance(0.45) {
                let rated_at = at + r.range(HOUR, 5 * DAY);
                if rated_at <= now {
                    let good = at <= due && kind == AnswerKind::Merits;
                    let table: [f64; 5] = if good {
                        [0.05, 0.06, 0.12, 0.25, 0.52]
                    } else {
                        [0.34, 0.24, 0.2, 0.12, 0.10]
                    };
                    let stars = Weighted::new(table).map_or(3, |w| w.sample(r) as i64 + 1);
                    rating = Some(stars);
                    t.note(EventKind::Rated, rated_at, "citizen", stars.to_string());
                }
            }
            let close_at = at + r.range(3, 10) * DAY;
            if close_at <= now {
                t.step(Status::Closed, close_at, "system", None)?;
                closed_at = Some(close_at);
            }
        } else if t.status == Status::InProgress {
            // Open cases: overdue ones are often escalated, some are close to an answer.
            if now > due && r.chance(0.3) {
                let at = (due + HOUR).max(work_at + 60).min(now);
                t.step(
                    Status::Escalated,
                    at,
                    "operator",
                    Some("просрочено: передано руководителю блока"),
                )?;
            } else if due - now < 2 * DAY && r.chance(0.4) {
                let at = now - r.range(60, 6 * HOUR).min(now - work_at).max(0);
                t.step(Status::AnswerPrepared, at, &actor, None)?;
            }
        }
    }
    if let Some(at) = first_reaction {
        let template: &String = r.pick(&corpus.answers.social_reaction);
        answers.push(AnswerRow {
            at,
            organisation: None,
            kind: AnswerKind::Reaction,
            text: fill(template, "", place, r),
        });
    }

    if let (Some(at), Some(kind)) = (answered_at, answer_kind)
        && classified
        && kind != AnswerKind::Forwarded
    {
        memory.repeatable.push_back(RepeatSource {
            id,
            received,
            answered: at,
            author: author.clone(),
            street: street.clone(),
            lat,
            lon,
            topic,
            muni,
            settlement,
            org,
        });
    }

    let appeal = AppealRow {
        channel,
        regime,
        received,
        registered,
        text,
        author,
        address: street.map(|s| format!("{place}, {s}")),
        lat,
        lon,
        municipality: muni,
        topic: classified.then_some(topic),
        organisation: if classified { org } else { None },
        status: t.status,
        due: classified.then_some(due),
        first_reaction_due,
        first_reaction,
        answered: answered_at,
        closed: closed_at,
        rating,
        repeat_of,
        extended,
    };
    Ok(Story {
        appeal,
        events: t.events,
        answers,
        dirty,
    })
}

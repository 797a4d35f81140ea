//! The deadline engine: statutory clocks per regime, on the region's local calendar.
//!
//! A clock starts at an instant (receipt or registration), runs for an amount of working days,
//! calendar days or hours, moves with extensions and pauses (while the centre waits for the
//! citizen), and can be explained step by step in Russian. Day-based deadlines end at the end of
//! their local day: the appeal is overdue from the next local midnight. Instants are UTC; days are
//! the region's local days (Chelyabinsk: Asia/Yekaterinburg, UTC+5, no daylight saving).

use crate::calendar::WorkCalendar;
use crate::domain::{Appeal, Channel, Event, EventKind, Regime, Status};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Which statutory clock a rule sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// Registration of a 59-ФЗ appeal.
    Registration,
    /// First reaction to a social-media incident.
    FirstReaction,
    /// Forwarding to the competent body.
    Forward,
    /// The answer to the citizen.
    Answer,
}

impl ClockKind {
    pub fn label_ru(self) -> &'static str {
        match self {
            ClockKind::Registration => "регистрация",
            ClockKind::FirstReaction => "первая реакция",
            ClockKind::Forward => "перенаправление по компетенции",
            ClockKind::Answer => "ответ",
        }
    }
}

/// The unit a clock counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DurationUnit {
    WorkingDays,
    CalendarDays,
    Hours,
}

/// The instant a clock starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockStart {
    Received,
    Registered,
}

impl ClockStart {
    fn label_ru(self) -> &'static str {
        match self {
            ClockStart::Received => "поступления",
            ClockStart::Registered => "регистрации",
        }
    }
}

/// One clock of a deadline rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockRule {
    pub kind: ClockKind,
    pub amount: u32,
    pub unit: DurationUnit,
    pub from: ClockStart,
    /// A calendar-day deadline that falls on a day off moves to the next working day.
    #[serde(default)]
    pub roll_forward_from_day_off: bool,
}

/// How far and how often an answer deadline may be extended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRule {
    pub amount: u32,
    pub unit: DurationUnit,
    pub max_count: u32,
}

/// The deadline rule for a regime, optionally narrowed to one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlineRule {
    pub regime: Regime,
    #[serde(default)]
    pub channel: Option<Channel>,
    pub clocks: Vec<ClockRule>,
    #[serde(default)]
    pub extension: Option<ExtensionRule>,
}

impl DeadlineRule {
    pub fn clock(&self, kind: ClockKind) -> Option<&ClockRule> {
        self.clocks.iter().find(|c| c.kind == kind)
    }
}

/// The rules of a region and its calendar: everything needed to compute a deadline.
#[derive(Debug, Clone)]
pub struct DeadlineEngine {
    pub rules: Vec<DeadlineRule>,
    pub calendar: WorkCalendar,
    pub offset: FixedOffset,
    /// At risk = open and due within this many hours.
    pub at_risk_window_hours: u32,
}

/// Something that moved a clock after it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClockAdjustment {
    /// An extension granted at an instant; `amount` overrides the rule's default.
    Extension {
        at_utc: DateTime<Utc>,
        amount: Option<u32>,
    },
    /// The clock stood still while waiting for the citizen. `until_utc: None` means it still does.
    Pause {
        from_utc: DateTime<Utc>,
        until_utc: Option<DateTime<Utc>>,
    },
}

impl ClockAdjustment {
    fn at(&self) -> DateTime<Utc> {
        match self {
            ClockAdjustment::Extension { at_utc, .. } => *at_utc,
            ClockAdjustment::Pause { from_utc, .. } => *from_utc,
        }
    }
}

/// What a deadline computation can refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeadlineError {
    #[error("в пакете региона нет правила сроков для режима «{}»", .0.label_ru())]
    NoRule(Regime),
    #[error("правило режима «{}» не задаёт срок «{}»", .0.label_ru(), .1.label_ru())]
    NoClock(Regime, ClockKind),
    #[error("правило режима «{}» не допускает продление срока", .0.label_ru())]
    NoExtension(Regime),
    #[error("срок уже продлевался {0} раз(а): больше продлений правило не допускает")]
    TooManyExtensions(u32),
}

/// A computed deadline with the steps that explain it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deadline {
    pub clock: ClockKind,
    /// The instant from which the clock is overdue (for day clocks: the next local midnight).
    pub due_utc: DateTime<Utc>,
    /// The last local day of a day-based clock.
    pub due_local_date: Option<NaiveDate>,
    /// Whether the clock is paused now (an open pause).
    pub paused: bool,
    /// Human-readable steps, joined by [`Deadline::explain`].
    pub steps: Vec<String>,
}

impl Deadline {
    /// The explanation a person can read, e.g.
    /// "30 дней с регистрации 02.03.2026 → 01.04.2026; продлено на 30 дней 25.03.2026 → 01.05.2026".
    pub fn explain(&self) -> String {
        self.steps.join("; ")
    }
}

/// Where a clock stands at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    OnTrack,
    AtRisk,
    Overdue,
    Paused,
    AnsweredOnTime,
    AnsweredLate,
}

impl SlaState {
    pub fn label_ru(self) -> &'static str {
        match self {
            SlaState::OnTrack => "в срок",
            SlaState::AtRisk => "под угрозой",
            SlaState::Overdue => "просрочено",
            SlaState::Paused => "срок приостановлен",
            SlaState::AnsweredOnTime => "отвечено в срок",
            SlaState::AnsweredLate => "отвечено с нарушением срока",
        }
    }
}

fn fmt_date(date: NaiveDate) -> String {
    date.format("%d.%m.%Y").to_string()
}

fn days_word(n: u32) -> &'static str {
    let (d10, d100) = (n % 10, n % 100);
    if d10 == 1 && d100 != 11 {
        "день"
    } else if (2..=4).contains(&d10) && !(12..=14).contains(&d100) {
        "дня"
    } else {
        "дней"
    }
}

fn hours_word(n: u32) -> &'static str {
    let (d10, d100) = (n % 10, n % 100);
    if d10 == 1 && d100 != 11 {
        "час"
    } else if (2..=4).contains(&d10) && !(12..=14).contains(&d100) {
        "часа"
    } else {
        "часов"
    }
}

/// "30 дней", "10 рабочих дней", "24 часа".
pub fn amount_ru(amount: u32, unit: DurationUnit) -> String {
    match unit {
        DurationUnit::CalendarDays => format!("{amount} {}", days_word(amount)),
        DurationUnit::WorkingDays => {
            let adj = if amount % 10 == 1 && amount % 100 != 11 {
                "рабочий"
            } else {
                "рабочих"
            };
            format!("{amount} {adj} {}", days_word(amount))
        }
        DurationUnit::Hours => format!("{amount} {}", hours_word(amount)),
    }
}

impl DeadlineEngine {
    /// The rule for a regime and channel: an exact channel match wins over the regime's default.
    pub fn rule(&self, regime: Regime, channel: Channel) -> Result<&DeadlineRule, DeadlineError> {
        self.rules
            .iter()
            .find(|r| r.regime == regime && r.channel == Some(channel))
            .or_else(|| {
                self.rules
                    .iter()
                    .find(|r| r.regime == regime && r.channel.is_none())
            })
            .ok_or(DeadlineError::NoRule(regime))
    }

    /// The local date of an instant.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.offset).date_naive()
    }

    /// The instant a local day ends (the next local midnight), in UTC.
    pub fn end_of_local_day(&self, date: NaiveDate) -> DateTime<Utc> {
        let next = date.succ_opt().unwrap_or(date);
        let midnight = next.and_hms_opt(0, 0, 0).unwrap_or_default();
        match self.offset.from_local_datetime(&midnight).single() {
            Some(local) => local.with_timezone(&Utc),
            None => Utc.from_utc_datetime(&midnight),
        }
    }

    fn add_days(&self, date: NaiveDate, amount: u32, unit: DurationUnit) -> NaiveDate {
        match unit {
            DurationUnit::WorkingDays => self.calendar.add_working_days(date, amount),
            _ => date
                .checked_add_days(chrono::Days::new(u64::from(amount)))
                .unwrap_or(date),
        }
    }

    /// Computes one clock of an appeal.
    ///
    /// `adjustments` may come in any order; they are applied chronologically. An extension beyond
    /// the rule's limit is an error rather than silently ignored.
    pub fn compute(
        &self,
        regime: Regime,
        channel: Channel,
        kind: ClockKind,
        received_utc: DateTime<Utc>,
        registered_utc: Option<DateTime<Utc>>,
        adjustments: &[ClockAdjustment],
    ) -> Result<Deadline, DeadlineError> {
        let rule = self.rule(regime, channel)?;
        let clock = rule
            .clock(kind)
            .ok_or(DeadlineError::NoClock(regime, kind))?;
        let start_utc = match clock.from {
            ClockStart::Received => received_utc,
            ClockStart::Registered => registered_utc.unwrap_or(received_utc),
        };
        let mut steps = Vec::new();
        let mut adjustments: Vec<&ClockAdjustment> = adjustments.iter().collect();
        adjustments.sort_by_key(|a| a.at());

        // Day clocks move a local date; hour clocks move an instant.
        let mut due_date: Option<NaiveDate> = None;
        let mut due_utc = start_utc;
        match clock.unit {
            DurationUnit::Hours => {
                due_utc = start_utc + Duration::hours(i64::from(clock.amount));
                steps.push(format!(
                    "{} с {} {} → {}",
                    amount_ru(clock.amount, clock.unit),
                    clock.from.label_ru(),
                    self.fmt_instant(start_utc),
                    self.fmt_instant(due_utc)
                ));
            }
            unit => {
                let start = self.local_date(start_utc);
                let date = self.add_days(start, clock.amount, unit);
                steps.push(format!(
                    "{} с {} {} → {}",
                    amount_ru(clock.amount, unit),
                    clock.from.label_ru(),
                    fmt_date(start),
                    fmt_date(date)
                ));
                due_date = Some(date);
            }
        }

        let mut extensions_used = 0;
        let mut paused = false;
        for adjustment in adjustments {
            match adjustment {
                ClockAdjustment::Extension { at_utc, amount } => {
                    let ext = rule
                        .extension
                        .as_ref()
                        .ok_or(DeadlineError::NoExtension(regime))?;
                    if extensions_used >= ext.max_count {
                        return Err(DeadlineError::TooManyExtensions(extensions_used));
                    }
                    extensions_used += 1;
                    let amount = amount.unwrap_or(ext.amount);
                    let before = self.fmt_due(due_date, due_utc);
                    match (due_date, ext.unit) {
                        (Some(date), DurationUnit::Hours) => {
                            // An hour extension of a day clock counts whole days, rounded up.
                            due_date = Some(self.add_days(
                                date,
                                amount.div_ceil(24),
                                DurationUnit::CalendarDays,
                            ));
                        }
                        (Some(date), unit) => due_date = Some(self.add_days(date, amount, unit)),
                        (None, DurationUnit::Hours) => {
                            due_utc += Duration::hours(i64::from(amount));
                        }
                        (None, _) => due_utc += Duration::days(i64::from(amount)),
                    }
                    steps.push(format!(
                        "продлено на {} {}: {} → {}",
                        amount_ru(amount, ext.unit),
                        fmt_date(self.local_date(*at_utc)),
                        before,
                        self.fmt_due(due_date, due_utc)
                    ));
                }
                ClockAdjustment::Pause {
                    from_utc,
                    until_utc,
                } => {
                    let Some(until) = until_utc else {
                        paused = true;
                        steps.push(format!(
                            "приостановлено с {} (ожидание ответа заявителя)",
                            self.fmt_instant(*from_utc)
                        ));
                        continue;
                    };
                    let before = self.fmt_due(due_date, due_utc);
                    let added = match (due_date, clock.unit) {
                        (None, _) => {
                            due_utc += *until - *from_utc;
                            let hours = (*until - *from_utc).num_hours().max(0) as u32;
                            amount_ru(hours, DurationUnit::Hours)
                        }
                        (Some(date), unit) => {
                            // Each local day the clock stood still on counts in the rule's unit.
                            let first = self.local_date(*from_utc);
                            let last = self.local_date(*until);
                            let n = match unit {
                                DurationUnit::WorkingDays => {
                                    self.calendar.working_days_in(first, last)
                                }
                                _ => (last - first).num_days().max(0) as u32,
                            };
                            due_date = Some(self.add_days(date, n, unit));
                            amount_ru(n, unit)
                        }
                    };
                    steps.push(format!(
                        "приостановлено {}–{} (ожидание ответа заявителя), +{}: {} → {}",
                        fmt_date(self.local_date(*from_utc)),
                        fmt_date(self.local_date(*until)),
                        added,
                        before,
                        self.fmt_due(due_date, due_utc)
                    ));
                }
            }
        }

        if let Some(date) = due_date {
            if clock.roll_forward_from_day_off && !self.calendar.is_working_day(date) {
                let rolled = self.calendar.next_working_day_from(date);
                steps.push(format!(
                    "{} — нерабочий день, срок переносится на {}",
                    fmt_date(date),
                    fmt_date(rolled)
                ));
                due_date = Some(rolled);
            }
            due_utc = self.end_of_local_day(due_date.unwrap_or(date));
        }
        Ok(Deadline {
            clock: kind,
            due_utc,
            due_local_date: due_date,
            paused,
            steps,
        })
    }

    /// Where a clock stands at `now_utc`.
    pub fn sla_state(
        &self,
        deadline: &Deadline,
        answered_utc: Option<DateTime<Utc>>,
        now_utc: DateTime<Utc>,
    ) -> SlaState {
        match answered_utc {
            Some(at) if at < deadline.due_utc => SlaState::AnsweredOnTime,
            Some(_) => SlaState::AnsweredLate,
            None if deadline.paused => SlaState::Paused,
            None if now_utc >= deadline.due_utc => SlaState::Overdue,
            None if deadline.due_utc - now_utc
                <= Duration::hours(i64::from(self.at_risk_window_hours)) =>
            {
                SlaState::AtRisk
            }
            None => SlaState::OnTrack,
        }
    }

    fn fmt_instant(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.offset)
            .format("%d.%m.%Y %H:%M")
            .to_string()
    }

    fn fmt_due(&self, date: Option<NaiveDate>, at: DateTime<Utc>) -> String {
        match date {
            Some(d) => fmt_date(d),
            None => self.fmt_instant(at),
        }
    }
}

/// The extensions and pauses recorded in an appeal's history, in the engine's terms: an
/// `extended` event is an extension by the rule's default; entering "waiting for the citizen"
/// starts a pause and leaving it ends the pause.
pub fn adjustments_from_events(events: &[Event]) -> Vec<ClockAdjustment> {
    let mut out = Vec::new();
    let mut open_pause: Option<DateTime<Utc>> = None;
    for event in events {
        match event.kind {
            EventKind::Extended => out.push(ClockAdjustment::Extension {
                at_utc: event.at_utc,
                amount: None,
            }),
            EventKind::StatusChanged if event.to_status == Some(Status::AwaitingCitizen) => {
                open_pause.get_or_insert(event.at_utc);
            }
            EventKind::StatusChanged if event.from_status == Some(Status::AwaitingCitizen) => {
                if let Some(from_utc) = open_pause.take() {
                    out.push(ClockAdjustment::Pause {
                        from_utc,
                        until_utc: Some(event.at_utc),
                    });
                }
            }
            _ => {}
        }
    }
    if let Some(from_utc) = open_pause {
        out.push(ClockAdjustment::Pause {
            from_utc,
            until_utc: None,
        });
    }
    out
}

impl DeadlineEngine {
    /// An appeal's answer deadline from its regime, channel, times and history.
    pub fn answer_deadline(&self, appeal: &Appeal) -> Result<Deadline, DeadlineError> {
        self.compute(
            appeal.regime,
            appeal.channel,
            ClockKind::Answer,
            appeal.received_utc,
            appeal.registered_utc,
            &adjustments_from_events(&appeal.events),
        )
    }
}

/// Writes a deadline's explanation with its state, for the CLI and the case view.
pub fn describe(deadline: &Deadline, state: SlaState) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{}: {} ({})",
        deadline.clock.label_ru(),
        deadline.explain(),
        state.label_ru()
    );
    out
}

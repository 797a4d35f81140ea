//! The deadline engine on the real Chelyabinsk pack: hand-computed cases across New Year holidays,
//! transferred days, leap years and local midnight, and properties that must hold for any date.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use std::sync::OnceLock;
use tsur_core::deadline::{
    ClockAdjustment, ClockKind, ClockRule, ClockStart, DeadlineEngine, DeadlineError, DeadlineRule,
    DurationUnit, SlaState,
};
use tsur_core::domain::{Channel, Regime};
use tsur_core::pack::RegionPack;

fn pack() -> &'static RegionPack {
    static PACK: OnceLock<RegionPack> = OnceLock::new();
    PACK.get_or_init(|| RegionPack::load(RegionPack::bundled_dir()).expect("bundled pack loads"))
}

fn engine() -> DeadlineEngine {
    pack().deadline_engine()
}

fn yekt() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600).unwrap()
}

/// A local (Asia/Yekaterinburg) wall-clock time as a UTC instant.
fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    yekt()
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn answer(
    regime: Regime,
    channel: Channel,
    registered: DateTime<Utc>,
    adjustments: &[ClockAdjustment],
) -> tsur_core::deadline::Deadline {
    engine()
        .compute(
            regime,
            channel,
            ClockKind::Answer,
            registered,
            Some(registered),
            adjustments,
        )
        .unwrap()
}

#[test]
fn pos_ten_working_days_across_the_new_year_holidays() {
    // Registered Mon 29.12.2025. 30.12 is working (1); 31.12.2025 is a transferred day off;
    // 1–8.01 holidays; 9.01.2026 a transferred day off (Постановление № 1466); then 12–16.01 (2–6)
    // and 19–22.01 (7–10).
    let d = answer(Regime::Pos, Channel::Pos, local(2025, 12, 29, 10, 0), &[]);
    assert_eq!(d.due_local_date, Some(date(2026, 1, 22)));
    assert_eq!(
        d.due_utc,
        local(2026, 1, 23, 0, 0),
        "overdue from the next local midnight"
    );
    assert_eq!(
        d.explain(),
        "10 рабочих дней с регистрации 29.12.2025 → 22.01.2026"
    );
}

#[test]
fn pos_counts_a_transferred_working_saturday() {
    // Fri 26.04.2024 + 10 working days: Sat 27.04.2024 was a working day (1); 29–30.04 days off,
    // 1.05 holiday; 2–3.05 (2–3); 6–8.05 (4–6); 9.05 holiday, 10.05 day off; 13–16.05 (7–10).
    let d = answer(Regime::Pos, Channel::Pos, local(2024, 4, 26, 15, 0), &[]);
    assert_eq!(d.due_local_date, Some(date(2024, 5, 16)));
}

#[test]
fn fz59_thirty_days_with_an_extension_rolled_off_a_holiday() {
    let registered = local(2026, 3, 2, 11, 0);
    let plain = answer(Regime::Fz59, Channel::Letter, registered, &[]);
    assert_eq!(plain.due_local_date, Some(date(2026, 4, 1)));
    assert_eq!(
        plain.explain(),
        "30 дней с регистрации 02.03.2026 → 01.04.2026"
    );

    // Extended on 25.03.2026 by 30 days: 01.04 → 01.05.2026, a holiday (Friday), then the weekend:
    // the deadline moves to Monday 04.05.2026.
    let ext = [ClockAdjustment::Extension {
        at_utc: local(2026, 3, 25, 9, 0),
        amount: None,
    }];
    let extended = answer(Regime::Fz59, Channel::Letter, registered, &ext);
    assert_eq!(extended.due_local_date, Some(date(2026, 5, 4)));
    assert_eq!(
        extended.explain(),
        "30 дней с регистрации 02.03.2026 → 01.04.2026; \
         продлено на 30 дней 25.03.2026: 01.04.2026 → 01.05.2026; \
         01.05.2026 — нерабочий день, срок переносится на 04.05.2026"
    );
}

#[test]
fn fz59_across_a_leap_february() {
    // 2024 is a leap year: 31.01 + 30 days = 01.03.2024 (Friday, working).
    let leap = answer(
        Regime::Fz59,
        Channel::Electronic,
        local(2024, 1, 31, 12, 0),
        &[],
    );
    assert_eq!(leap.due_local_date, Some(date(2024, 3, 1)));
    // 2025 is not: 31.01 + 30 days = 02.03.2025, a Sunday → Monday 03.03.2025.
    let plain = answer(
        Regime::Fz59,
        Channel::Electronic,
        local(2025, 1, 31, 12, 0),
        &[],
    );
    assert_eq!(plain.due_local_date, Some(date(2025, 3, 3)));
}

#[test]
fn days_are_local_days_not_utc_days() {
    // 01.03.2026 20:30 UTC is already 02.03.2026 01:30 in Chelyabinsk.
    let registered = Utc.with_ymd_and_hms(2026, 3, 1, 20, 30, 0).unwrap();
    let d = answer(Regime::Fz59, Channel::Letter, registered, &[]);
    assert_eq!(d.due_local_date, Some(date(2026, 4, 1)));
    assert_eq!(
        d.due_utc,
        Utc.with_ymd_and_hms(2026, 4, 1, 19, 0, 0).unwrap()
    );
}

#[test]
fn social_first_reaction_is_counted_in_hours_of_calendar_time() {
    let received = local(2026, 3, 6, 22, 30);
    let d = engine()
        .compute(
            Regime::Social,
            Channel::Social,
            ClockKind::FirstReaction,
            received,
            None,
            &[],
        )
        .unwrap();
    assert_eq!(
        d.due_utc,
        local(2026, 3, 7, 22, 30),
        "a Saturday counts in calendar time"
    );
    assert_eq!(d.due_local_date, None);
    assert_eq!(
        d.explain(),
        "24 часа с поступления 06.03.2026 22:30 → 07.03.2026 22:30"
    );
}

#[test]
fn a_pause_for_the_citizen_moves_the_deadline() {
    // ПОС registered Mon 02.03.2026 → 17.03.2026 (9.03 is a transferred day off).
    let registered = local(2026, 3, 2, 9, 0);
    assert_eq!(
        answer(Regime::Pos, Channel::Pos, registered, &[]).due_local_date,
        Some(date(2026, 3, 17))
    );
    // Waiting for the citizen on 04.03 and 05.03 (two working days) → 19.03.2026.
    let pause = [ClockAdjustment::Pause {
        from_utc: local(2026, 3, 4, 10, 0),
        until_utc: Some(local(2026, 3, 6, 15, 0)),
    }];
    let d = answer(Regime::Pos, Channel::Pos, registered, &pause);
    assert_eq!(d.due_local_date, Some(date(2026, 3, 19)));
    assert!(
        d.explain().contains("приостановлено 04.03.2026–06.03.2026"),
        "{}",
        d.explain()
    );
    assert!(!d.paused);

    // An open pause stops the clock: the appeal is not overdue while it waits.
    let open = [ClockAdjustment::Pause {
        from_utc: local(2026, 3, 4, 10, 0),
        until_utc: None,
    }];
    let d = answer(Regime::Pos, Channel::Pos, registered, &open);
    assert!(d.paused);
    assert_eq!(
        engine().sla_state(&d, None, local(2026, 4, 10, 12, 0)),
        SlaState::Paused
    );
}

#[test]
fn at_risk_overdue_and_answered_states() {
    let e = engine();
    let d = answer(Regime::Pos, Channel::Pos, local(2026, 3, 2, 9, 0), &[]); // due 17.03.2026
    assert_eq!(
        e.sla_state(&d, None, local(2026, 3, 16, 10, 0)),
        SlaState::OnTrack
    );
    assert_eq!(
        e.sla_state(&d, None, local(2026, 3, 17, 10, 0)),
        SlaState::AtRisk
    );
    assert_eq!(
        e.sla_state(&d, None, local(2026, 3, 17, 23, 59)),
        SlaState::AtRisk
    );
    assert_eq!(
        e.sla_state(&d, None, local(2026, 3, 18, 0, 0)),
        SlaState::Overdue
    );
    let late_now = local(2026, 3, 25, 0, 0);
    assert_eq!(
        e.sla_state(&d, Some(local(2026, 3, 17, 23, 59)), late_now),
        SlaState::AnsweredOnTime
    );
    assert_eq!(
        e.sla_state(&d, Some(local(2026, 3, 18, 0, 1)), late_now),
        SlaState::AnsweredLate
    );
}

#[test]
fn extensions_are_limited_by_the_rule() {
    let registered = local(2026, 3, 2, 11, 0);
    let twice = [
        ClockAdjustment::Extension {
            at_utc: local(2026, 3, 20, 9, 0),
            amount: None,
        },
        ClockAdjustment::Extension {
            at_utc: local(2026, 4, 20, 9, 0),
            amount: None,
        },
    ];
    let err = engine()
        .compute(
            Regime::Fz59,
            Channel::Letter,
            ClockKind::Answer,
            registered,
            Some(registered),
            &twice,
        )
        .unwrap_err();
    assert_eq!(err, DeadlineError::TooManyExtensions(1));
    assert!(err.to_string().contains("продлевался"));
    // ПОС has no registration clock.
    assert!(matches!(
        engine().compute(
            Regime::Pos,
            Channel::Pos,
            ClockKind::Registration,
            registered,
            None,
            &[]
        ),
        Err(DeadlineError::NoClock(Regime::Pos, ClockKind::Registration))
    ));
}

#[test]
fn the_pack_gives_municipal_systems_their_own_rule() {
    let at = local(2026, 3, 2, 9, 0);
    let e = engine();
    let municipal = e
        .compute(
            Regime::Hotline,
            Channel::Municipal,
            ClockKind::Answer,
            at,
            None,
            &[],
        )
        .unwrap();
    let hotline = e
        .compute(
            Regime::Hotline,
            Channel::Hotline,
            ClockKind::Answer,
            at,
            None,
            &[],
        )
        .unwrap();
    // 10 and 5 working days from Mon 02.03.2026, with 9.03 a transferred day off.
    assert_eq!(municipal.due_local_date, Some(date(2026, 3, 17)));
    assert_eq!(hotline.due_local_date, Some(date(2026, 3, 10)));
}

#[test]
fn a_channel_specific_rule_wins_over_the_regime_default() {
    let mut e = engine();
    e.rules.retain(|r| r.channel.is_none());
    e.rules.push(DeadlineRule {
        regime: Regime::Hotline,
        channel: Some(Channel::Municipal),
        clocks: vec![ClockRule {
            kind: ClockKind::Answer,
            amount: 2,
            unit: DurationUnit::WorkingDays,
            from: ClockStart::Received,
            roll_forward_from_day_off: false,
        }],
        extension: None,
    });
    let at = local(2026, 3, 2, 9, 0);
    let municipal = e
        .compute(
            Regime::Hotline,
            Channel::Municipal,
            ClockKind::Answer,
            at,
            None,
            &[],
        )
        .unwrap();
    let hotline = e
        .compute(
            Regime::Hotline,
            Channel::Hotline,
            ClockKind::Answer,
            at,
            None,
            &[],
        )
        .unwrap();
    assert_eq!(municipal.due_local_date, Some(date(2026, 3, 4)));
    assert_eq!(
        hotline.due_local_date,
        Some(date(2026, 3, 10)),
        "5 working days, 9.03 off"
    );
}

fn engine_with(amount: u32, unit: DurationUnit, roll: bool) -> DeadlineEngine {
    let mut e = engine();
    e.rules = vec![DeadlineRule {
        regime: Regime::Pos,
        channel: None,
        clocks: vec![ClockRule {
            kind: ClockKind::Answer,
            amount,
            unit,
            from: ClockStart::Registered,
            roll_forward_from_day_off: roll,
        }],
        extension: None,
    }];
    e
}

fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    // 2020-01-01 … 2027-11-30 in seconds.
    (1_577_836_800i64..1_827_705_600i64).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap())
}

fn any_unit() -> impl Strategy<Value = DurationUnit> {
    prop_oneof![
        Just(DurationUnit::WorkingDays),
        Just(DurationUnit::CalendarDays),
        Just(DurationUnit::Hours)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn a_working_day_deadline_never_falls_on_a_day_off(at in any_instant(), n in 1u32..60) {
        let e = engine_with(n, DurationUnit::WorkingDays, false);
        let d = e.compute(Regime::Pos, Channel::Pos, ClockKind::Answer, at, Some(at), &[]).unwrap();
        let due = d.due_local_date.unwrap();
        prop_assert!(e.calendar.is_working_day(due), "{} is a day off", due);
        prop_assert!(due > e.local_date(at));
    }

    #[test]
    fn a_rolled_calendar_deadline_never_falls_on_a_day_off(at in any_instant(), n in 1u32..60) {
        let e = engine_with(n, DurationUnit::CalendarDays, true);
        let d = e.compute(Regime::Pos, Channel::Pos, ClockKind::Answer, at, Some(at), &[]).unwrap();
        prop_assert!(e.calendar.is_working_day(d.due_local_date.unwrap()));
    }

    #[test]
    fn more_days_never_give_an_earlier_deadline(
        at in any_instant(), n in 1u32..80, unit in any_unit(), roll in any::<bool>()
    ) {
        let shorter = engine_with(n, unit, roll)
            .compute(Regime::Pos, Channel::Pos, ClockKind::Answer, at, Some(at), &[]).unwrap();
        let longer = engine_with(n + 1, unit, roll)
            .compute(Regime::Pos, Channel::Pos, ClockKind::Answer, at, Some(at), &[]).unwrap();
        prop_assert!(longer.due_utc >= shorter.due_utc);
        if unit == DurationUnit::WorkingDays {
            prop_assert!(longer.due_utc > shorter.due_utc, "one more working day is a later day");
        }
    }

    #[test]
    fn a_later_start_never_gives_an_earlier_deadline(at in any_instant(), later_secs in 0i64..(40 * 86_400), n in 1u32..40, unit in any_unit()) {
        let e = engine_with(n, unit, true);
        let first = e.compute(Regime::Pos, Channel::Pos, ClockKind::Answer, at, Some(at), &[]).unwrap();
        let later = at + Duration::seconds(later_secs);
        let second = e.compute(Regime::Pos, Channel::Pos, ClockKind::Answer, later, Some(later), &[]).unwrap();
        prop_assert!(second.due_utc >= first.due_utc);
    }
}

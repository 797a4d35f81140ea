//! The working-day calendar: the Russian production calendar of the region pack on the region's
//! local days.
//!
//! Monday–Friday are working days and Saturday–Sunday are days off, except the dates the pack
//! lists: public holidays, weekdays made days off by a transfer, days declared non-working by
//! decree, and weekend days made working by a transfer. Outside the years the pack covers, the
//! fixed holidays of the Labour Code (ст.112 ТК РФ) still apply, but transfers are unknown.

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the pack says about one date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A public non-working holiday (ст.112 ТК РФ).
    Holiday,
    /// A weekday made a day off by a transfer.
    DayOff,
    /// Other non-working days set by decree.
    NonWorking,
    /// A Saturday or Sunday made a working day by a transfer.
    WorkingDay,
}

impl DayKind {
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "holiday" => Some(DayKind::Holiday),
            "day_off" => Some(DayKind::DayOff),
            "non_working" => Some(DayKind::NonWorking),
            "working_day" => Some(DayKind::WorkingDay),
            _ => None,
        }
    }

    fn is_working(self) -> bool {
        self == DayKind::WorkingDay
    }
}

/// One listed date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarDay {
    pub date: NaiveDate,
    pub kind: DayKind,
    pub name: String,
    pub source: String,
}

/// The production calendar.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WorkCalendar {
    days: BTreeMap<NaiveDate, CalendarDay>,
    first_year: i32,
    last_year: i32,
}

/// Fixed public holidays of ст.112 ТК РФ as (month, day).
const LABOUR_CODE_HOLIDAYS: &[(u32, u32)] = &[
    (1, 1),
    (1, 2),
    (1, 3),
    (1, 4),
    (1, 5),
    (1, 6),
    (1, 7),
    (1, 8),
    (2, 23),
    (3, 8),
    (5, 1),
    (5, 9),
    (6, 12),
    (11, 4),
];

impl WorkCalendar {
    /// Builds a calendar from listed days. Duplicate dates must be rejected by the caller.
    pub fn new(days: impl IntoIterator<Item = CalendarDay>) -> Self {
        let days: BTreeMap<NaiveDate, CalendarDay> =
            days.into_iter().map(|d| (d.date, d)).collect();
        let first_year = days.keys().next().map_or(0, |d| d.year());
        let last_year = days.keys().next_back().map_or(-1, |d| d.year());
        WorkCalendar {
            days,
            first_year,
            last_year,
        }
    }

    /// The years the pack lists, inclusive; `None` for an empty calendar.
    pub fn covered_years(&self) -> Option<(i32, i32)> {
        (self.first_year <= self.last_year).then_some((self.first_year, self.last_year))
    }

    /// Whether transfers for this date's year are known.
    pub fn covers(&self, date: NaiveDate) -> bool {
        (self.first_year..=self.last_year).contains(&date.year())
    }

    /// The listed entry for a date, if any.
    pub fn entry(&self, date: NaiveDate) -> Option<&CalendarDay> {
        self.days.get(&date)
    }

    pub fn len(&self) -> usize {
        self.days.len()
    }

    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    /// Whether a local date is a working day.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        if let Some(day) = self.days.get(&date) {
            return day.kind.is_working();
        }
        if !self.covers(date) && LABOUR_CODE_HOLIDAYS.contains(&(date.month(), date.day())) {
            return false;
        }
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// The `n`-th working day strictly after `date` (`n = 0` gives `date` itself).
    pub fn add_working_days(&self, date: NaiveDate, n: u32) -> NaiveDate {
        let mut day = date;
        let mut left = n;
        while left > 0 {
            day = day.succ_opt().unwrap_or(day);
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// The first working day on or after `date`.
    pub fn next_working_day_from(&self, date: NaiveDate) -> NaiveDate {
        let mut day = date;
        while !self.is_working_day(day) {
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        day
    }

    /// Working days in the half-open range `[from, to)`.
    pub fn working_days_in(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        from.iter_days()
            .take_while(|d| *d < to)
            .filter(|d| self.is_working_day(*d))
            .count() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn cal() -> WorkCalendar {
        let entry = |date, kind| CalendarDay {
            date,
            kind,
            name: String::new(),
            source: String::new(),
        };
        WorkCalendar::new([
            entry(d(2026, 1, 1), DayKind::Holiday),
            entry(d(2026, 1, 9), DayKind::DayOff),
            entry(d(2026, 3, 9), DayKind::DayOff),
            entry(d(2026, 3, 7), DayKind::WorkingDay),
        ])
    }

    #[test]
    fn weekends_and_listed_days() {
        let c = cal();
        assert!(!c.is_working_day(d(2026, 1, 9)), "transferred day off");
        assert!(c.is_working_day(d(2026, 3, 7)), "working Saturday");
        assert!(!c.is_working_day(d(2026, 3, 8)), "Sunday");
        assert!(c.is_working_day(d(2026, 3, 10)));
    }

    #[test]
    fn outside_the_listed_years_the_labour_code_holidays_still_hold() {
        let c = cal();
        assert!(!c.covers(d(2030, 1, 3)));
        assert!(
            !c.is_working_day(d(2030, 1, 3)),
            "3 January 2030 is a Thursday holiday"
        );
        assert!(c.is_working_day(d(2030, 1, 10)));
    }

    #[test]
    fn adding_working_days() {
        let c = cal();
        // Friday 06.03.2026 + 1 working day: Sat 07.03 is a working Saturday.
        assert_eq!(c.add_working_days(d(2026, 3, 6), 1), d(2026, 3, 7));
        // Sat 07.03 + 1: Sun 08.03 off, Mon 09.03 off → Tue 10.03.
        assert_eq!(c.add_working_days(d(2026, 3, 7), 1), d(2026, 3, 10));
        assert_eq!(c.add_working_days(d(2026, 3, 7), 0), d(2026, 3, 7));
        assert_eq!(c.working_days_in(d(2026, 3, 6), d(2026, 3, 11)), 3);
        assert_eq!(c.next_working_day_from(d(2026, 3, 8)), d(2026, 3, 10));
    }
}

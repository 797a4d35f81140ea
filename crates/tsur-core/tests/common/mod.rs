//! Hand-built appeals for the tests of this crate.

#![allow(dead_code)] // each test file uses what it needs

use chrono::{DateTime, TimeZone, Utc};
use tsur_core::domain::{
    Answer, AnswerKind, Appeal, Author, BlockCode, Channel, Regime, Status, TopicCode,
};

/// 9:00 UTC on a day of March 2026 (days past 31 run on into April).
pub fn day(n: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap() + chrono::Duration::days(i64::from(n) - 1)
}

/// A ПОС appeal about hot water received on `received`, answered the next day, with no author,
/// address, organisation or answers.
pub fn appeal(id: i64, received: DateTime<Utc>) -> Appeal {
    Appeal {
        id,
        version: 1,
        source: "test".into(),
        external_id: id.to_string(),
        channel: Channel::Pos,
        regime: Regime::Pos,
        received_utc: received,
        registered_utc: None,
        text: "Нет горячей воды".into(),
        author: Author::default(),
        address: None,
        point: None,
        municipality: None,
        block: Some(BlockCode::new("zhkh")),
        topic: Some(TopicCode::new("zhkh.hot_water")),
        organisation: None,
        status: Status::Answered,
        due_utc: None,
        answered_utc: Some(received + chrono::Duration::days(1)),
        rating: None,
        problem: None,
        repeat_of: None,
        duplicate_of: None,
        assignee: None,
        suggestion: None,
        answers: vec![],
        events: vec![],
    }
}

pub fn answer(kind: AnswerKind, text: &str, at: DateTime<Utc>) -> Answer {
    Answer {
        at_utc: at,
        organisation: None,
        kind,
        text: text.into(),
    }
}

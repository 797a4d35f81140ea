//! Repeat appeals (повторные обращения): the same author, or the same address and topic, again
//! within 90 days of an answer to the earlier appeal; and the appeals that meet 59-ФЗ ст.11 ч.5
//! (the author already has two or more answers on the merits on the same question, so the
//! correspondence may be ended).
//!
//! Authors and addresses are compared by keys that survive the usual variations: a phone's last
//! ten digits, a lowercased e-mail, a full name with «ё» folded; an address lowercased, with
//! punctuation, street-type words and the flat number dropped (the same building is the same
//! place). [`RepeatIndex`] keeps earlier appeals by key, so finding a repeat costs a few lookups.

use crate::domain::{AnswerKind, Appeal, AppealId, Author, Regime};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How long after an answer a new appeal counts as a repeat of it.
pub const REPEAT_WINDOW_DAYS: i64 = 90;
/// Answers on the merits after which 59-ФЗ ст.11 ч.5 allows ending the correspondence.
pub const ART11_PART5_MERITS_ANSWERS: u32 = 2;

/// The key of an author: phone, else e-mail, else a full name of at least two words within a
/// municipality (a name alone would join namesakes across the region).
pub fn author_key(author: &Author, municipality: Option<&str>) -> Option<String> {
    if let Some(phone) = &author.phone {
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        if digits.len() >= 10 {
            return Some(format!("tel:{}", &digits[digits.len() - 10..]));
        }
    }
    if let Some(email) = &author.email {
        let email = email.trim().to_lowercase();
        if email.contains('@') {
            return Some(format!("mail:{email}"));
        }
    }
    let name = author.name.as_deref()?;
    let municipality = municipality?;
    let words: Vec<String> = normalised_words(name);
    (words.len() >= 2).then(|| format!("name:{municipality}:{}", words.join(" ")))
}

/// Words that only say that a building number or a settlement follows.
const ADDRESS_NOISE: &[&str] = &[
    "г",
    "город",
    "д",
    "дом",
    "корп",
    "корпус",
    "стр",
    "строение",
    "п",
    "пос",
    "поселок",
    "с",
    "село",
    "дер",
    "деревня",
];

/// Street-type words and their one spelling: «ул. Мира» and «улица Мира» are one street, «пр.
/// Мира» another.
const STREET_TYPES: &[(&str, &str)] = &[
    ("ул", "ул"),
    ("улица", "ул"),
    ("пр", "пр"),
    ("пр-т", "пр"),
    ("проспект", "пр"),
    ("пер", "пер"),
    ("переулок", "пер"),
    ("пл", "пл"),
    ("площадь", "пл"),
    ("ш", "ш"),
    ("шоссе", "ш"),
    ("б-р", "бр"),
    ("бульвар", "бр"),
    ("мкр", "мкр"),
    ("микрорайон", "мкр"),
];

/// The key of an address: the municipality (when known) and the address's words, street types
/// spelt one way, without the flat and without words that only announce a number.
pub fn address_key(address: &str, municipality: Option<&str>) -> Option<String> {
    let mut words = normalised_words(address);
    // Everything from the flat on ("кв. 45", "квартира 45", "оф 3") is not the building.
    if let Some(flat) = words
        .iter()
        .position(|w| w == "кв" || w == "квартира" || w == "оф" || w == "офис")
    {
        words.truncate(flat);
    }
    words.retain(|w| !ADDRESS_NOISE.contains(&w.as_str()));
    for w in &mut words {
        if let Some((_, canonical)) = STREET_TYPES.iter().find(|(spelling, _)| spelling == w) {
            *w = (*canonical).to_string();
        }
    }
    let meaningful = words
        .iter()
        .filter(|w| !STREET_TYPES.iter().any(|(_, c)| c == w))
        .count();
    (meaningful >= 2).then(|| format!("{}:{}", municipality.unwrap_or("?"), words.join(" ")))
}

fn normalised_words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace('ё', "е")
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .map(|w| w.trim_matches('-'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// What is kept of an earlier appeal to recognise repeats of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Prior {
    pub id: AppealId,
    pub received_utc: DateTime<Utc>,
    pub answered_utc: Option<DateTime<Utc>>,
    pub topic: Option<String>,
    /// When its answers on the merits were given.
    pub merits_answered: Vec<DateTime<Utc>>,
    pub author: Option<String>,
    pub address: Option<String>,
}

impl Prior {
    pub fn of(appeal: &Appeal) -> Prior {
        let municipality = appeal.municipality.as_ref().map(|m| m.as_str());
        Prior {
            id: appeal.id,
            received_utc: appeal.received_utc,
            answered_utc: appeal.answered_utc,
            topic: appeal.topic.as_ref().map(|t| t.as_str().to_string()),
            merits_answered: appeal
                .answers
                .iter()
                .filter(|a| a.kind == AnswerKind::Merits)
                .map(|a| a.at_utc)
                .collect(),
            author: author_key(&appeal.author, municipality),
            address: appeal
                .address
                .as_deref()
                .and_then(|a| address_key(a, municipality)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepeatReason {
    SameAuthor,
    SameAddressAndTopic,
}

/// The appeal an appeal repeats, why, and whether 59-ФЗ ст.11 ч.5 applies to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepeatLink {
    pub repeat_of: AppealId,
    pub reason: RepeatReason,
    /// A 59-ФЗ appeal whose author already has at least two answers on the merits on this topic.
    pub art11_part5: bool,
}

/// Earlier appeals by author key and by address key.
#[derive(Debug, Clone, Default)]
pub struct RepeatIndex {
    by_author: HashMap<String, Vec<Prior>>,
    by_address: HashMap<String, Vec<Prior>>,
}

impl RepeatIndex {
    pub fn new() -> RepeatIndex {
        RepeatIndex::default()
    }

    /// Adds an appeal, or replaces what is kept of it (a newer version: answered since).
    pub fn add(&mut self, appeal: &Appeal) {
        let prior = Prior::of(appeal);
        for (map, key) in [
            (&mut self.by_author, prior.author.clone()),
            (&mut self.by_address, prior.address.clone()),
        ] {
            if let Some(key) = key {
                let list = map.entry(key).or_default();
                list.retain(|p| p.id != prior.id);
                list.push(prior.clone());
            }
        }
    }

    /// The earlier appeal that `appeal` repeats: answered before it was received, at most
    /// [`REPEAT_WINDOW_DAYS`] before, by the same author (any topic) or at the same address on
    /// the same topic; the most recently answered one when there are several.
    pub fn find(&self, appeal: &Appeal) -> Option<RepeatLink> {
        let received = appeal.received_utc;
        let window = Duration::days(REPEAT_WINDOW_DAYS);
        let topic = appeal.topic.as_ref().map(|t| t.as_str());
        let municipality = appeal.municipality.as_ref().map(|m| m.as_str());
        let in_window = |p: &&Prior| {
            p.id != appeal.id
                && p.answered_utc
                    .is_some_and(|answered| answered < received && received - answered <= window)
        };
        let by_author = author_key(&appeal.author, municipality)
            .and_then(|k| self.by_author.get(&k))
            .into_iter()
            .flatten()
            .filter(in_window)
            .map(|p| (p, RepeatReason::SameAuthor));
        let by_address = appeal
            .address
            .as_deref()
            .and_then(|a| address_key(a, municipality))
            .and_then(|k| self.by_address.get(&k))
            .into_iter()
            .flatten()
            .filter(in_window)
            .filter(|p| topic.is_some() && p.topic.as_deref() == topic)
            .map(|p| (p, RepeatReason::SameAddressAndTopic));
        let (prior, reason) = by_author
            .chain(by_address)
            .max_by_key(|(p, reason)| (p.answered_utc, *reason == RepeatReason::SameAuthor))?;
        Some(RepeatLink {
            repeat_of: prior.id,
            reason,
            art11_part5: self.meets_art11_part5(appeal),
        })
    }

    /// Whether 59-ФЗ ст.11 ч.5 applies: a 59-ФЗ appeal whose author had already received at
    /// least [`ART11_PART5_MERITS_ANSWERS`] answers on the merits on the same topic when it
    /// arrived (however long ago).
    pub fn meets_art11_part5(&self, appeal: &Appeal) -> bool {
        let Some(topic) = appeal.topic.as_ref().map(|t| t.as_str()) else {
            return false;
        };
        if appeal.regime != Regime::Fz59 {
            return false;
        }
        let municipality = appeal.municipality.as_ref().map(|m| m.as_str());
        let given: usize = author_key(&appeal.author, municipality)
            .and_then(|k| self.by_author.get(&k))
            .into_iter()
            .flatten()
            .filter(|p| p.id != appeal.id && p.topic.as_deref() == Some(topic))
            .map(|p| {
                p.merits_answered
                    .iter()
                    .filter(|at| **at < appeal.received_utc)
                    .count()
            })
            .sum();
        given >= ART11_PART5_MERITS_ANSWERS as usize
    }
}

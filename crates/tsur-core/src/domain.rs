//! The domain model (PRODUCT §2–§4): the words the rest of the code uses.
//!
//! Blocks, topics, municipalities and organisations are *data* from the region pack, so they are
//! referred to by their codes (`BlockCode`, …) rather than enums. Channels, regimes and statuses
//! are fixed by law and by the canonical lifecycle, so they are enums with stable snake_case codes
//! that cross every boundary (JSON, SQLite, CLI).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Identifier of an appeal, assigned by the server (or the demo generator for a standalone replica).
pub type AppealId = i64;
/// Identifier of a problem (a cluster of appeals).
pub type ProblemId = i64;

macro_rules! code_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(code: impl Into<String>) -> Self {
                Self(code.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

code_type!(
    /// Code of a sector block from the region pack, e.g. `zhkh`.
    BlockCode
);
code_type!(
    /// Code of a topic from the region pack, e.g. `zhkh.heating`.
    TopicCode
);
code_type!(
    /// Stable code of a municipality (OKTMO where known), e.g. `75701000`.
    MunicipalityCode
);
code_type!(
    /// Code of an organisation from the region pack, e.g. `minzdrav`.
    OrganisationCode
);

/// Declares a closed set of codes with Russian labels, parsing and serde in one place.
macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal, $label:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stable code used in files, the database and JSON.
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// The Russian label shown to users.
            pub fn label_ru(self) -> &'static str {
                match self {
                    $($name::$variant => $label,)+
                }
            }

            /// Parses a code; `None` for an unknown one.
            pub fn from_code(code: &str) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

coded_enum!(
    /// The channel an appeal arrived through.
    Channel {
        Pos = "pos", "ПОС (Госуслуги)";
        Letter = "letter", "Письменное обращение";
        Electronic = "electronic", "Электронное обращение";
        Social = "social", "Социальные сети";
        Hotline = "hotline", "Горячая линия";
        Municipal = "municipal", "Муниципальная система";
    }
);

impl Channel {
    /// The regime an appeal from this channel falls under unless its source says otherwise.
    pub fn default_regime(self) -> Regime {
        match self {
            Channel::Pos => Regime::Pos,
            Channel::Letter | Channel::Electronic => Regime::Fz59,
            Channel::Social => Regime::Social,
            Channel::Hotline | Channel::Municipal => Regime::Hotline,
        }
    }
}

coded_enum!(
    /// The legal regime that sets an appeal's deadlines (PRODUCT §3).
    Regime {
        Fz59 = "fz59", "59-ФЗ";
        Pos = "pos", "ПОС";
        Social = "social", "Инцидент (соцсети)";
        Hotline = "hotline", "Горячая линия";
    }
);

coded_enum!(
    /// The canonical status lifecycle (PRODUCT §4).
    Status {
        New = "new", "Новое";
        Triage = "triage", "Разбор";
        Routed = "routed", "Направлено исполнителю";
        InProgress = "in_progress", "В работе";
        AnswerPrepared = "answer_prepared", "Ответ подготовлен";
        Answered = "answered", "Дан ответ";
        Closed = "closed", "Закрыто";
        Extended = "extended", "Срок продлён";
        Forwarded = "forwarded", "Перенаправлено";
        Escalated = "escalated", "Эскалировано";
        AwaitingCitizen = "awaiting_citizen", "Ожидает заявителя";
        Merged = "merged", "Объединено";
        Rejected = "rejected", "Отклонено";
        Reopened = "reopened", "Открыто повторно";
    }
);

/// A status change that the lifecycle does not allow. The message names both states.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("недопустимый переход статуса: «{}» ({}) → «{}» ({})", .from.label_ru(), .from.code(), .to.label_ru(), .to.code())]
pub struct InvalidTransition {
    pub from: Status,
    pub to: Status,
}

impl Status {
    /// The statuses reachable from this one in a single step.
    pub fn next_allowed(self) -> &'static [Status] {
        use Status::*;
        match self {
            New => &[Triage, Routed, Escalated, Merged, Rejected],
            Triage => &[Routed, Forwarded, Escalated, Merged, Rejected],
            Routed => &[
                InProgress,
                AnswerPrepared,
                Answered,
                Extended,
                Forwarded,
                Escalated,
                AwaitingCitizen,
                Merged,
                Rejected,
            ],
            InProgress => &[
                AnswerPrepared,
                Answered,
                Extended,
                Forwarded,
                Escalated,
                AwaitingCitizen,
                Merged,
            ],
            AnswerPrepared => &[Answered, InProgress, Escalated],
            Answered => &[Closed, Reopened],
            Closed => &[Reopened],
            Extended => &[
                InProgress,
                AnswerPrepared,
                Answered,
                Forwarded,
                Escalated,
                AwaitingCitizen,
            ],
            Forwarded => &[Routed, Answered, Closed],
            Escalated => &[Triage, Routed, InProgress, Answered, Merged, Rejected],
            AwaitingCitizen => &[InProgress, Routed, Answered, Rejected],
            Merged => &[Reopened],
            Rejected => &[Reopened],
            Reopened => &[Triage, Routed, InProgress, Escalated, Answered, Merged],
        }
    }

    /// Checks a transition against the lifecycle.
    pub fn transition(self, to: Status) -> Result<Status, InvalidTransition> {
        if self.next_allowed().contains(&to) {
            Ok(to)
        } else {
            Err(InvalidTransition { from: self, to })
        }
    }

    /// Whether the appeal still waits for an answer (its answer clock runs or is paused).
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            Status::Answered | Status::Closed | Status::Merged | Status::Rejected
        )
    }

    /// Whether the answer clock is stopped because the centre waits for the citizen.
    pub fn pauses_clock(self) -> bool {
        self == Status::AwaitingCitizen
    }
}

coded_enum!(
    /// What kind of answer an organisation gave; only `Merits` counts as an answer on the merits.
    AnswerKind {
        Merits = "merits", "Ответ по существу";
        Formal = "formal", "Формальный ответ";
        Forwarded = "forwarded", "Перенаправлено по компетенции";
        Reaction = "reaction", "Первая реакция";
    }
);

/// An answer given to an appeal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub at_utc: DateTime<Utc>,
    pub organisation: Option<OrganisationCode>,
    pub kind: AnswerKind,
    pub text: String,
}

/// The citizen's rating of an answer, 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Rating(u8);

impl Rating {
    pub fn new(stars: u8) -> Option<Self> {
        (1..=5).contains(&stars).then_some(Rating(stars))
    }
    pub fn stars(self) -> u8 {
        self.0
    }
    /// Ratings 4–5 count as satisfied (PRODUCT §7).
    pub fn is_satisfied(self) -> bool {
        self.0 >= 4
    }
}

impl TryFrom<u8> for Rating {
    type Error = String;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Rating::new(value).ok_or_else(|| format!("оценка должна быть от 1 до 5, получено {value}"))
    }
}

impl From<Rating> for u8 {
    fn from(rating: Rating) -> u8 {
        rating.0
    }
}

/// Personal data of the appeal's author (152-ФЗ): only roles that need it may see it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// A point in WGS84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
}

coded_enum!(
    /// What happened to an appeal: every change is an event with who, when, from, to and why.
    EventKind {
        Received = "received", "Поступило";
        StatusChanged = "status_changed", "Смена статуса";
        Classified = "classified", "Классифицировано";
        Assigned = "assigned", "Назначен исполнитель";
        Extended = "extended", "Срок продлён";
        Paused = "paused", "Срок приостановлен";
        Resumed = "resumed", "Срок возобновлён";
        Answered = "answered", "Дан ответ";
        Rated = "rated", "Оценка заявителя";
        Grouped = "grouped", "Включено в проблему";
        Note = "note", "Заметка";
    }
);

/// One entry of an appeal's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub at_utc: DateTime<Utc>,
    pub kind: EventKind,
    /// Who did it: a person, an organisation code, or `system`.
    pub actor: String,
    pub from_status: Option<Status>,
    pub to_status: Option<Status>,
    /// Why, or the details (e.g. "продлено на 30 дней").
    pub note: Option<String>,
}

/// One appeal or message from one citizen or organisation (PRODUCT §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Appeal {
    pub id: AppealId,
    /// Incremented by the server on every change; sync never lets an older version win.
    pub version: i64,
    /// The source system, e.g. `pos`, `sed`, `incident`, `demo`.
    pub source: String,
    /// The id in its source, stored as text (Open311 ids are numbers or strings).
    pub external_id: String,
    pub channel: Channel,
    pub regime: Regime,
    pub received_utc: DateTime<Utc>,
    pub registered_utc: Option<DateTime<Utc>>,
    pub text: String,
    pub author: Author,
    pub address: Option<String>,
    pub point: Option<GeoPoint>,
    pub municipality: Option<MunicipalityCode>,
    pub block: Option<BlockCode>,
    pub topic: Option<TopicCode>,
    pub organisation: Option<OrganisationCode>,
    pub status: Status,
    /// The answer deadline as computed by the deadline engine.
    pub due_utc: Option<DateTime<Utc>>,
    pub answered_utc: Option<DateTime<Utc>>,
    pub rating: Option<Rating>,
    pub problem: Option<ProblemId>,
    pub repeat_of: Option<AppealId>,
    pub duplicate_of: Option<AppealId>,
    /// The person working on it, if taken.
    pub assignee: Option<String>,
    /// What the text classifier suggests for an unclassified appeal (computed by the server at
    /// ingest); an operator accepts it, unless its confidence reached the pack's threshold and
    /// it was applied at ingest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<SuggestedClassification>,
    pub answers: Vec<Answer>,
    pub events: Vec<Event>,
}

/// A classification suggested from an appeal's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuggestedClassification {
    pub block: BlockCode,
    pub topic: TopicCode,
    pub municipality: Option<MunicipalityCode>,
    /// The classifier's confidence in the topic, in (0, 1].
    pub confidence: f64,
}

impl Appeal {
    /// Applies a status change through the lifecycle and records it as an event.
    pub fn change_status(
        &mut self,
        to: Status,
        at_utc: DateTime<Utc>,
        actor: &str,
        why: Option<String>,
    ) -> Result<(), InvalidTransition> {
        let from = self.status;
        self.status = from.transition(to)?;
        self.events.push(Event {
            at_utc,
            kind: EventKind::StatusChanged,
            actor: actor.to_string(),
            from_status: Some(from),
            to_status: Some(to),
            note: why,
        });
        Ok(())
    }
}

/// A cluster of appeals about one issue in one place and time (see [`crate::problems`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub id: ProblemId,
    /// Incremented by the server on every change, as for appeals.
    #[serde(default = "first_version")]
    pub version: i64,
    pub title: String,
    pub block: Option<BlockCode>,
    pub topic: Option<TopicCode>,
    pub municipality: Option<MunicipalityCode>,
    pub point: Option<GeoPoint>,
    pub opened_utc: DateTime<Utc>,
    pub resolved_utc: Option<DateTime<Utc>>,
    /// Solved through accelerated resolution (PRODUCT §7).
    pub accelerated: bool,
    /// An operator confirmed the grouping (or made it by a split or a merge).
    #[serde(default)]
    pub confirmed: bool,
    /// Merged into another problem, which now holds its appeals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<ProblemId>,
}

fn first_version() -> i64 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for s in Status::ALL {
            assert_eq!(Status::from_code(s.code()), Some(*s));
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.code()));
        }
        for c in Channel::ALL {
            assert_eq!(Channel::from_code(c.code()), Some(*c));
        }
        for r in Regime::ALL {
            assert_eq!(Regime::from_code(r.code()), Some(*r));
        }
        assert_eq!(Status::from_code("bogus"), None);
    }

    #[test]
    fn the_happy_path_is_allowed() {
        use Status::*;
        let path = [
            New,
            Triage,
            Routed,
            InProgress,
            AnswerPrepared,
            Answered,
            Closed,
            Reopened,
        ];
        for pair in path.windows(2) {
            assert_eq!(pair[0].transition(pair[1]), Ok(pair[1]), "{:?}", pair);
        }
    }

    #[test]
    fn an_invalid_transition_names_both_states() {
        let err = Status::Closed.transition(Status::InProgress).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("Закрыто") && msg.contains("closed"), "{msg}");
        assert!(
            msg.contains("В работе") && msg.contains("in_progress"),
            "{msg}"
        );
        assert!(Status::New.transition(Status::Closed).is_err());
        assert!(Status::Answered.transition(Status::New).is_err());
    }

    #[test]
    fn every_status_is_reachable_from_new() {
        let mut seen = vec![Status::New];
        let mut i = 0;
        while i < seen.len() {
            for next in seen[i].next_allowed() {
                if !seen.contains(next) {
                    seen.push(*next);
                }
            }
            i += 1;
        }
        assert_eq!(seen.len(), Status::ALL.len(), "unreachable: {seen:?}");
    }

    #[test]
    fn ratings_are_one_to_five() {
        assert!(Rating::new(0).is_none());
        assert!(Rating::new(6).is_none());
        assert!(Rating::new(4).unwrap().is_satisfied());
        assert!(!Rating::new(3).unwrap().is_satisfied());
        assert!(serde_json::from_str::<Rating>("7").is_err());
        assert_eq!(serde_json::from_str::<Rating>("5").unwrap().stars(), 5);
    }

    #[test]
    fn change_status_records_an_event() {
        let mut a = sample_appeal();
        let at = Utc::now();
        a.change_status(Status::Triage, at, "operator", None)
            .unwrap();
        assert_eq!(a.status, Status::Triage);
        assert_eq!(a.events.len(), 1);
        assert_eq!(a.events[0].from_status, Some(Status::New));
        let err = a
            .change_status(Status::Closed, at, "operator", None)
            .unwrap_err();
        assert_eq!(err.from, Status::Triage);
        assert_eq!(
            a.status,
            Status::Triage,
            "a refused change leaves the appeal as it was"
        );
        assert_eq!(a.events.len(), 1);
    }

    fn sample_appeal() -> Appeal {
        Appeal {
            id: 1,
            version: 1,
            source: "demo".into(),
            external_id: "1".into(),
            channel: Channel::Pos,
            regime: Regime::Pos,
            received_utc: Utc::now(),
            registered_utc: None,
            text: "Нет отопления".into(),
            author: Author::default(),
            address: None,
            point: None,
            municipality: None,
            block: None,
            topic: None,
            organisation: None,
            status: Status::New,
            due_utc: None,
            answered_utc: None,
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
}

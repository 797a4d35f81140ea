//! The in-memory read model: one column per field that aggregates use, one row per appeal.
//!
//! Dashboards cannot be SQL over the replica on every refresh (ENGINEERING §6: SQLite takes
//! seconds where the budget is tens of milliseconds), so the app keeps the facts that KPIs,
//! rankings and the heat grid need as plain columns. Texts and personal data stay in SQLite.
//! Codes (blocks, topics, municipalities, organisations) are interned to small integers, so a
//! filter compares numbers, not strings. Rows are updated in place by id as the sync brings new
//! versions, so an incremental update costs only the changed appeals.

use crate::domain::{AnswerKind, Appeal, AppealId, Channel, Regime, Status};
use crate::store::{Store, StoreError};
use rusqlite::OptionalExtension as _;
use std::collections::HashMap;

/// "No value" in a code column.
pub const NO_CODE: u16 = u16::MAX;
/// "No value" in a time column (unix seconds).
pub const NO_TIME: i64 = i64::MIN;

/// Code ↔ small integer, in the order codes were first seen.
#[derive(Debug, Clone, Default)]
pub struct Codes {
    names: Vec<String>,
    index: HashMap<String, u16>,
}

impl Codes {
    /// The integer of `code`, given a new one if unseen; `None` gives [`NO_CODE`]. A replica
    /// cannot hold 65,535 different codes of one kind, but if it did, the rest share NO_CODE.
    pub fn intern(&mut self, code: Option<&str>) -> u16 {
        let Some(code) = code else {
            return NO_CODE;
        };
        if let Some(&i) = self.index.get(code) {
            return i;
        }
        let Ok(i) = u16::try_from(self.names.len()) else {
            return NO_CODE;
        };
        if i == NO_CODE {
            return NO_CODE;
        }
        self.names.push(code.to_string());
        self.index.insert(code.to_string(), i);
        i
    }

    /// The integer of a known code.
    pub fn get(&self, code: &str) -> Option<u16> {
        self.index.get(code).copied()
    }

    /// The code of an integer.
    pub fn name(&self, i: u16) -> Option<&str> {
        self.names.get(usize::from(i)).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// What aggregates need of one appeal, before it is put into columns.
#[derive(Debug, Clone, PartialEq)]
pub struct AppealFacts {
    pub id: AppealId,
    pub received: i64,
    /// Registration, or receipt when the appeal has no separate registration.
    pub registered: i64,
    pub due: i64,
    /// The first answer (first reactions aside): time to answer runs to it (PRODUCT §7), and a
    /// reopened appeal, answered again later, keeps it. The appeal's own answer time when its
    /// history has no answers.
    pub answered: i64,
    /// The first answer of any kind (for social-media incidents: the first reaction).
    pub first_reaction: i64,
    pub status: Status,
    pub regime: Regime,
    pub channel: Channel,
    pub block: Option<String>,
    pub topic: Option<String>,
    pub municipality: Option<String>,
    pub organisation: Option<String>,
    /// 1–5, or 0 when not rated.
    pub rating: u8,
    pub is_repeat: bool,
    /// Answers that count for the merits share: every kind but a first reaction.
    pub answers: u8,
    /// Of those, answers on the merits.
    pub merits_answers: u8,
    /// WGS84 degrees; NaN when the appeal has no point.
    pub lat: f32,
    pub lon: f32,
    /// The problem the appeal belongs to, or [`NO_ID`].
    pub problem: i64,
}

/// "No problem" in the problem column.
pub const NO_ID: i64 = 0;

impl AppealFacts {
    pub fn of(appeal: &Appeal) -> AppealFacts {
        let secs = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or(NO_TIME, |t| t.timestamp());
        let counted = appeal
            .answers
            .iter()
            .filter(|a| a.kind != AnswerKind::Reaction);
        let answers = counted.clone().count();
        let merits = counted.filter(|a| a.kind == AnswerKind::Merits).count();
        AppealFacts {
            id: appeal.id,
            received: appeal.received_utc.timestamp(),
            registered: appeal
                .registered_utc
                .unwrap_or(appeal.received_utc)
                .timestamp(),
            due: secs(appeal.due_utc),
            answered: secs(
                appeal
                    .answers
                    .iter()
                    .filter(|a| a.kind != AnswerKind::Reaction)
                    .map(|a| a.at_utc)
                    .min()
                    .or(appeal.answered_utc),
            ),
            first_reaction: secs(appeal.answers.iter().map(|a| a.at_utc).min()),
            status: appeal.status,
            regime: appeal.regime,
            channel: appeal.channel,
            block: appeal.block.as_ref().map(|c| c.as_str().to_string()),
            topic: appeal.topic.as_ref().map(|c| c.as_str().to_string()),
            municipality: appeal.municipality.as_ref().map(|c| c.as_str().to_string()),
            organisation: appeal.organisation.as_ref().map(|c| c.as_str().to_string()),
            rating: appeal.rating.map_or(0, |r| r.stars()),
            is_repeat: appeal.repeat_of.is_some(),
            answers: u8::try_from(answers).unwrap_or(u8::MAX),
            merits_answers: u8::try_from(merits).unwrap_or(u8::MAX),
            lat: appeal.point.map_or(f32::NAN, |p| p.lat as f32),
            lon: appeal.point.map_or(f32::NAN, |p| p.lon as f32),
            problem: appeal.problem.unwrap_or(NO_ID),
        }
    }
}

/// A problem (a cluster of appeals) as the analytics see it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProblemInfo {
    pub id: i64,
    pub title: String,
    pub municipality: Option<String>,
    pub opened: i64,
    /// Merged into another problem (its appeals are there now).
    pub merged_into: Option<i64>,
}

impl ProblemInfo {
    /// What the analytics keep of a problem record.
    pub fn of(problem: &crate::domain::Problem) -> ProblemInfo {
        ProblemInfo {
            id: problem.id,
            title: problem.title.clone(),
            municipality: problem
                .municipality
                .as_ref()
                .map(|c| c.as_str().to_string()),
            opened: problem.opened_utc.timestamp(),
            merged_into: problem.merged_into,
        }
    }
}

/// The columns. Row `i` of every column is the same appeal.
#[derive(Debug, Clone, Default)]
pub struct ReadModel {
    pub id: Vec<AppealId>,
    pub received: Vec<i64>,
    pub registered: Vec<i64>,
    pub due: Vec<i64>,
    pub answered: Vec<i64>,
    pub first_reaction: Vec<i64>,
    pub status: Vec<Status>,
    pub regime: Vec<Regime>,
    pub channel: Vec<Channel>,
    pub block: Vec<u16>,
    pub topic: Vec<u16>,
    pub municipality: Vec<u16>,
    pub organisation: Vec<u16>,
    pub rating: Vec<u8>,
    pub is_repeat: Vec<bool>,
    pub answers: Vec<u8>,
    pub merits_answers: Vec<u8>,
    pub lat: Vec<f32>,
    pub lon: Vec<f32>,
    pub problem: Vec<i64>,
    /// What the replica knows of each problem (title, place, resolution), by id.
    pub problems: HashMap<i64, ProblemInfo>,
    pub blocks: Codes,
    pub topics: Codes,
    pub municipalities: Codes,
    pub organisations: Codes,
    row_of: HashMap<AppealId, usize>,
}

impl ReadModel {
    pub fn new() -> ReadModel {
        ReadModel::default()
    }

    pub fn len(&self) -> usize {
        self.id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.id.is_empty()
    }

    /// The row of an appeal.
    pub fn row(&self, id: AppealId) -> Option<usize> {
        self.row_of.get(&id).copied()
    }

    /// Adds an appeal or replaces its row (a newer version from the sync).
    pub fn upsert(&mut self, facts: AppealFacts) {
        let block = self.blocks.intern(facts.block.as_deref());
        let topic = self.topics.intern(facts.topic.as_deref());
        let municipality = self.municipalities.intern(facts.municipality.as_deref());
        let organisation = self.organisations.intern(facts.organisation.as_deref());
        if let Some(&i) = self.row_of.get(&facts.id) {
            self.received[i] = facts.received;
            self.registered[i] = facts.registered;
            self.due[i] = facts.due;
            self.answered[i] = facts.answered;
            self.first_reaction[i] = facts.first_reaction;
            self.status[i] = facts.status;
            self.regime[i] = facts.regime;
            self.channel[i] = facts.channel;
            self.block[i] = block;
            self.topic[i] = topic;
            self.municipality[i] = municipality;
            self.organisation[i] = organisation;
            self.rating[i] = facts.rating;
            self.is_repeat[i] = facts.is_repeat;
            self.answers[i] = facts.answers;
            self.merits_answers[i] = facts.merits_answers;
            self.lat[i] = facts.lat;
            self.lon[i] = facts.lon;
            self.problem[i] = facts.problem;
            return;
        }
        self.row_of.insert(facts.id, self.id.len());
        self.id.push(facts.id);
        self.received.push(facts.received);
        self.registered.push(facts.registered);
        self.due.push(facts.due);
        self.answered.push(facts.answered);
        self.first_reaction.push(facts.first_reaction);
        self.status.push(facts.status);
        self.regime.push(facts.regime);
        self.channel.push(facts.channel);
        self.block.push(block);
        self.topic.push(topic);
        self.municipality.push(municipality);
        self.organisation.push(organisation);
        self.rating.push(facts.rating);
        self.is_repeat.push(facts.is_repeat);
        self.answers.push(facts.answers);
        self.merits_answers.push(facts.merits_answers);
        self.lat.push(facts.lat);
        self.lon.push(facts.lon);
        self.problem.push(facts.problem);
    }

    /// Builds the id → row index after the columns were filled directly.
    pub(crate) fn index_rows(&mut self) {
        self.row_of = self.id.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    }

    /// Adds or replaces what is known of a problem.
    pub fn upsert_problem(&mut self, problem: ProblemInfo) {
        self.problems.insert(problem.id, problem);
    }

    /// A model of these appeals.
    pub fn from_appeals<'a>(appeals: impl IntoIterator<Item = &'a Appeal>) -> ReadModel {
        let mut model = ReadModel::new();
        for appeal in appeals {
            model.upsert(AppealFacts::of(appeal));
        }
        model
    }

    /// Reads the model from a replica: one pass over the appeals and one over the answers.
    pub fn load(store: &Store) -> Result<ReadModel, StoreError> {
        let conn = store.conn();
        let err = |e| store.sql_error(e);
        // Per appeal: first answer of any kind, first real answer, answers that count, answers
        // on the merits.
        let mut answer_facts: HashMap<AppealId, (i64, Option<i64>, u8, u8)> = HashMap::new();
        {
            let mut stmt = conn
                .prepare(
                    "SELECT appeal_id, min(at_utc), min(CASE WHEN kind <> 'reaction' THEN at_utc END),
                            sum(kind <> 'reaction'), sum(kind = 'merits')
                     FROM answers GROUP BY appeal_id",
                )
                .map_err(err)?;
            let mut rows = stmt.query([]).map_err(err)?;
            while let Some(row) = rows.next().map_err(err)? {
                let small = |v: i64| u8::try_from(v).unwrap_or(u8::MAX);
                answer_facts.insert(
                    row.get(0).map_err(err)?,
                    (
                        row.get(1).map_err(err)?,
                        row.get(2).map_err(err)?,
                        small(row.get(3).map_err(err)?),
                        small(row.get(4).map_err(err)?),
                    ),
                );
            }
        }
        let count: i64 = conn
            .query_row("SELECT count(*) FROM appeals", [], |r| r.get(0))
            .optional()
            .map_err(err)?
            .unwrap_or(0);
        let mut model = ReadModel::with_capacity(usize::try_from(count).unwrap_or(0));
        let mut stmt = conn
            .prepare(
                "SELECT id, received_utc, registered_utc, due_utc, answered_utc, status, regime,
                        channel, block_code, topic_code, municipality_code, organisation_code,
                        rating, repeat_of IS NOT NULL, lat, lon, problem_id
                 FROM appeals ORDER BY id",
            )
            .map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            let code = |i: usize, column: &str| -> Result<String, StoreError> {
                row.get::<_, String>(i).map_err(|e| {
                    store.sql_error(match e {
                        rusqlite::Error::InvalidColumnType(..) => unknown(column, "NULL"),
                        other => other,
                    })
                })
            };
            let status = code(5, "status")?;
            let regime = code(6, "regime")?;
            let channel = code(7, "channel")?;
            let id: AppealId = row.get(0).map_err(err)?;
            let received: i64 = row.get(1).map_err(err)?;
            let (first_reaction, first_answer, answers, merits_answers) = answer_facts
                .get(&id)
                .copied()
                .unwrap_or((NO_TIME, None, 0, 0));
            model.upsert(AppealFacts {
                id,
                received,
                registered: row
                    .get::<_, Option<i64>>(2)
                    .map_err(err)?
                    .unwrap_or(received),
                due: row
                    .get::<_, Option<i64>>(3)
                    .map_err(err)?
                    .unwrap_or(NO_TIME),
                answered: first_answer
                    .or(row.get::<_, Option<i64>>(4).map_err(err)?)
                    .unwrap_or(NO_TIME),
                first_reaction,
                status: Status::from_code(&status)
                    .ok_or_else(|| store.sql_error(unknown("status", &status)))?,
                regime: Regime::from_code(&regime)
                    .ok_or_else(|| store.sql_error(unknown("regime", &regime)))?,
                channel: Channel::from_code(&channel)
                    .ok_or_else(|| store.sql_error(unknown("channel", &channel)))?,
                block: row.get(8).map_err(err)?,
                topic: row.get(9).map_err(err)?,
                municipality: row.get(10).map_err(err)?,
                organisation: row.get(11).map_err(err)?,
                rating: row
                    .get::<_, Option<i64>>(12)
                    .map_err(err)?
                    .and_then(|r| u8::try_from(r).ok())
                    .unwrap_or(0),
                is_repeat: row.get(13).map_err(err)?,
                answers,
                merits_answers,
                lat: row
                    .get::<_, Option<f64>>(14)
                    .map_err(err)?
                    .map_or(f32::NAN, |v| v as f32),
                lon: row
                    .get::<_, Option<f64>>(15)
                    .map_err(err)?
                    .map_or(f32::NAN, |v| v as f32),
                problem: row.get::<_, Option<i64>>(16).map_err(err)?.unwrap_or(NO_ID),
            });
        }
        drop(rows);
        let mut stmt = conn
            .prepare("SELECT id, title, municipality_code, opened_utc, merged_into FROM problems")
            .map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            model.upsert_problem(ProblemInfo {
                id: row.get(0).map_err(err)?,
                title: row.get(1).map_err(err)?,
                municipality: row.get(2).map_err(err)?,
                opened: row.get(3).map_err(err)?,
                merged_into: row.get(4).map_err(err)?,
            });
        }
        Ok(model)
    }

    fn with_capacity(n: usize) -> ReadModel {
        ReadModel {
            id: Vec::with_capacity(n),
            received: Vec::with_capacity(n),
            registered: Vec::with_capacity(n),
            due: Vec::with_capacity(n),
            answered: Vec::with_capacity(n),
            first_reaction: Vec::with_capacity(n),
            status: Vec::with_capacity(n),
            regime: Vec::with_capacity(n),
            channel: Vec::with_capacity(n),
            block: Vec::with_capacity(n),
            topic: Vec::with_capacity(n),
            municipality: Vec::with_capacity(n),
            organisation: Vec::with_capacity(n),
            rating: Vec::with_capacity(n),
            is_repeat: Vec::with_capacity(n),
            answers: Vec::with_capacity(n),
            merits_answers: Vec::with_capacity(n),
            lat: Vec::with_capacity(n),
            lon: Vec::with_capacity(n),
            problem: Vec::with_capacity(n),
            row_of: HashMap::with_capacity(n),
            ..ReadModel::default()
        }
    }
}

/// A stored value this build does not know (written by another version or by hand).
fn unknown(column: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("неизвестное значение «{value}» в столбце {column}").into(),
    )
}

//! Appeals in and out of the store as domain values: one appeal with its events and answers.
//!
//! `upsert_appeal` keeps the newer version: a version that is not newer than the stored one
//! changes nothing, so applying the same change twice (or an old one late) is harmless.

use super::{Store, StoreError};
use crate::domain::{
    Answer, AnswerKind, Appeal, AppealId, Author, BlockCode, Channel, Event, EventKind, GeoPoint,
    MunicipalityCode, OrganisationCode, Problem, Rating, Regime, Status, SuggestedClassification,
    TopicCode,
};
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{OptionalExtension, Row, params};

fn instant(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

fn secs(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

/// A stored value this build does not know (written by another version or by hand).
fn unknown(column: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("неизвестное значение «{value}» в столбце {column}").into(),
    )
}

const APPEAL_COLUMNS: &str = "id, version, source, external_id, channel, regime, received_utc,
    registered_utc, text, author_name, author_phone, author_email, address, lat, lon,
    municipality_code, block_code, topic_code, organisation_code, status, due_utc, answered_utc,
    rating, problem_id, repeat_of, duplicate_of, assignee, suggested_block, suggested_topic,
    suggested_municipality, suggestion_confidence";

fn appeal_from_row(row: &Row<'_>) -> rusqlite::Result<Appeal> {
    let channel: String = row.get(4)?;
    let regime: String = row.get(5)?;
    let status: String = row.get(19)?;
    let lat: Option<f64> = row.get(13)?;
    let lon: Option<f64> = row.get(14)?;
    let rating: Option<u8> = row.get(22)?;
    Ok(Appeal {
        id: row.get(0)?,
        version: row.get(1)?,
        source: row.get(2)?,
        external_id: row.get(3)?,
        channel: Channel::from_code(&channel).ok_or_else(|| unknown("channel", &channel))?,
        regime: Regime::from_code(&regime).ok_or_else(|| unknown("regime", &regime))?,
        received_utc: instant(row.get(6)?),
        registered_utc: row.get::<_, Option<i64>>(7)?.map(instant),
        text: row.get(8)?,
        author: Author {
            name: row.get(9)?,
            phone: row.get(10)?,
            email: row.get(11)?,
        },
        address: row.get(12)?,
        point: lat.zip(lon).map(|(lat, lon)| GeoPoint { lat, lon }),
        municipality: row.get::<_, Option<String>>(15)?.map(MunicipalityCode),
        block: row.get::<_, Option<String>>(16)?.map(BlockCode),
        topic: row.get::<_, Option<String>>(17)?.map(TopicCode),
        organisation: row.get::<_, Option<String>>(18)?.map(OrganisationCode),
        status: Status::from_code(&status).ok_or_else(|| unknown("status", &status))?,
        due_utc: row.get::<_, Option<i64>>(20)?.map(instant),
        answered_utc: row.get::<_, Option<i64>>(21)?.map(instant),
        rating: rating.and_then(Rating::new),
        problem: row.get(23)?,
        repeat_of: row.get(24)?,
        duplicate_of: row.get(25)?,
        assignee: row.get(26)?,
        suggestion: match (
            row.get::<_, Option<String>>(27)?,
            row.get::<_, Option<String>>(28)?,
            row.get::<_, Option<f64>>(30)?,
        ) {
            (Some(block), Some(topic), Some(confidence)) => Some(SuggestedClassification {
                block: BlockCode(block),
                topic: TopicCode(topic),
                municipality: row.get::<_, Option<String>>(29)?.map(MunicipalityCode),
                confidence,
            }),
            _ => None,
        },
        answers: Vec::new(),
        events: Vec::new(),
    })
}

impl Store {
    /// One appeal with its events (in time order) and answers, or `None` if there is none.
    pub fn load_appeal(&self, id: AppealId) -> Result<Option<Appeal>, StoreError> {
        let err = |e| self.sql_error(e);
        let appeal = self
            .conn()
            .query_row(
                &format!("SELECT {APPEAL_COLUMNS} FROM appeals WHERE id = ?1"),
                [id],
                appeal_from_row,
            )
            .optional()
            .map_err(err)?;
        let Some(mut appeal) = appeal else {
            return Ok(None);
        };
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT at_utc, kind, actor, from_status, to_status, note FROM events
                 WHERE appeal_id = ?1 ORDER BY at_utc, id",
            )
            .map_err(err)?;
        appeal.events = stmt
            .query_map([id], |r| {
                let kind: String = r.get(1)?;
                let status = |i: usize| -> rusqlite::Result<Option<Status>> {
                    r.get::<_, Option<String>>(i)?
                        .map(|c| Status::from_code(&c).ok_or_else(|| unknown("events.status", &c)))
                        .transpose()
                };
                Ok(Event {
                    at_utc: instant(r.get(0)?),
                    kind: EventKind::from_code(&kind)
                        .ok_or_else(|| unknown("events.kind", &kind))?,
                    actor: r.get(2)?,
                    from_status: status(3)?,
                    to_status: status(4)?,
                    note: r.get(5)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(err)?;
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT at_utc, organisation_code, kind, text FROM answers
                 WHERE appeal_id = ?1 ORDER BY at_utc, id",
            )
            .map_err(err)?;
        appeal.answers = stmt
            .query_map([id], |r| {
                let kind: String = r.get(2)?;
                Ok(Answer {
                    at_utc: instant(r.get(0)?),
                    organisation: r.get::<_, Option<String>>(1)?.map(OrganisationCode),
                    kind: AnswerKind::from_code(&kind)
                        .ok_or_else(|| unknown("answers.kind", &kind))?,
                    text: r.get(3)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(err)?;
        Ok(Some(appeal))
    }

    /// Writes an appeal with its events and answers unless the store already has this version or
    /// a newer one. Returns whether anything was written.
    pub fn upsert_appeal(&mut self, appeal: &Appeal) -> Result<bool, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        let written = upsert_in(&tx, appeal).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(written)
    }

    /// Applies one page of the change feed and its cursor in one transaction: either all of it
    /// (appeals, quarantined records, the new cursor) is stored, or none. Older or equal versions
    /// are skipped, so replaying a page changes nothing. Returns how many appeals were written.
    pub fn apply_page(
        &mut self,
        appeals: &[Appeal],
        problems: &[Problem],
        quarantined: &[Quarantined],
        cursor: i64,
    ) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        let previous: i64 = tx
            .query_row(
                "SELECT value FROM sync_state WHERE key = 'cursor'",
                [],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(sql)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut written = 0;
        for appeal in appeals {
            written += usize::from(upsert_in(&tx, appeal).map_err(sql)?);
        }
        for problem in problems {
            upsert_problem_in(&tx, problem).map_err(sql)?;
        }
        for q in quarantined {
            tx.execute(
                "INSERT INTO quarantine (at_utc, seq, reason, raw) VALUES (?1, ?2, ?3, ?4)",
                params![chrono::Utc::now().timestamp(), q.seq, q.reason, q.raw],
            )
            .map_err(sql)?;
        }
        // Cursors only move forward.
        tx.execute(
            "INSERT INTO sync_state (key, value) VALUES ('cursor', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [cursor.max(previous).to_string()],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(written)
    }

    /// Writes a problem record unless the store already has this version or a newer one.
    /// Returns whether it was written.
    pub fn upsert_problem(&mut self, problem: &Problem) -> Result<bool, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        let written = upsert_problem_in(&tx, problem).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(written)
    }

    /// A stored problem record.
    pub fn load_problem(&self, id: i64) -> Result<Option<Problem>, StoreError> {
        self.conn
            .query_row(
                "SELECT id, version, title, block_code, topic_code, municipality_code, lat, lon,
                        opened_utc, resolved_utc, accelerated, confirmed, merged_into
                 FROM problems WHERE id = ?1",
                [id],
                |r| {
                    let lat: Option<f64> = r.get(6)?;
                    let lon: Option<f64> = r.get(7)?;
                    Ok(Problem {
                        id: r.get(0)?,
                        version: r.get(1)?,
                        title: r.get(2)?,
                        block: r.get::<_, Option<String>>(3)?.map(BlockCode::new),
                        topic: r.get::<_, Option<String>>(4)?.map(TopicCode::new),
                        municipality: r.get::<_, Option<String>>(5)?.map(MunicipalityCode::new),
                        point: lat.zip(lon).map(|(lat, lon)| GeoPoint { lat, lon }),
                        opened_utc: instant(r.get(8)?),
                        resolved_utc: r.get::<_, Option<i64>>(9)?.map(instant),
                        accelerated: r.get(10)?,
                        confirmed: r.get(11)?,
                        merged_into: r.get(12)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.sql_error(e))
    }

    /// The sync cursor: the last change-feed sequence applied (0 before the first sync).
    pub fn cursor(&self) -> Result<i64, StoreError> {
        Ok(self
            .sync_value("cursor")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// How many records were quarantined.
    pub fn quarantined_count(&self) -> Result<i64, StoreError> {
        self.conn()
            .query_row("SELECT count(*) FROM quarantine", [], |r| r.get(0))
            .map_err(|e| self.sql_error(e))
    }
}

/// A record of the feed that could not be applied, kept with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    pub seq: Option<i64>,
    pub reason: String,
    /// The record as received (truncated to a sane length by the caller).
    pub raw: String,
}

fn upsert_in(tx: &rusqlite::Transaction<'_>, appeal: &Appeal) -> rusqlite::Result<bool> {
    let stored: Option<i64> = tx
        .prepare_cached("SELECT version FROM appeals WHERE id = ?1")?
        .query_row([appeal.id], |r| r.get(0))
        .optional()?;
    if stored.is_some_and(|v| v >= appeal.version) {
        return Ok(false);
    }
    let updated = appeal
        .events
        .iter()
        .map(|e| e.at_utc)
        .chain([appeal.received_utc])
        .max()
        .map_or(0, secs);
    let extensions = appeal
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Extended)
        .count() as i64;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO appeals (id, version, source, external_id, channel, regime,
         received_utc, registered_utc, text, author_name, author_phone, author_email, address,
         lat, lon, municipality_code, block_code, topic_code, organisation_code, status,
         due_utc, answered_utc, rating, problem_id, repeat_of, duplicate_of, assignee,
         extensions, updated_utc, suggested_block, suggested_topic, suggested_municipality,
         suggestion_confidence)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
         ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33)",
    )?
    .execute(params![
        appeal.id,
        appeal.version,
        appeal.source,
        appeal.external_id,
        appeal.channel.code(),
        appeal.regime.code(),
        secs(appeal.received_utc),
        appeal.registered_utc.map(secs),
        appeal.text,
        appeal.author.name,
        appeal.author.phone,
        appeal.author.email,
        appeal.address,
        appeal.point.map(|p| p.lat),
        appeal.point.map(|p| p.lon),
        appeal.municipality.as_ref().map(|c| c.as_str()),
        appeal.block.as_ref().map(|c| c.as_str()),
        appeal.topic.as_ref().map(|c| c.as_str()),
        appeal.organisation.as_ref().map(|c| c.as_str()),
        appeal.status.code(),
        appeal.due_utc.map(secs),
        appeal.answered_utc.map(secs),
        appeal.rating.map(Rating::stars),
        appeal.problem,
        appeal.repeat_of,
        appeal.duplicate_of,
        appeal.assignee,
        extensions,
        updated,
        appeal.suggestion.as_ref().map(|s| s.block.as_str()),
        appeal.suggestion.as_ref().map(|s| s.topic.as_str()),
        appeal
            .suggestion
            .as_ref()
            .and_then(|s| s.municipality.as_ref().map(|m| m.as_str())),
        appeal.suggestion.as_ref().map(|s| s.confidence),
    ])?;
    if stored.is_some() {
        // A new version carries the whole history: replace the old one.
        tx.prepare_cached("DELETE FROM events WHERE appeal_id = ?1")?
            .execute([appeal.id])?;
        tx.prepare_cached("DELETE FROM answers WHERE appeal_id = ?1")?
            .execute([appeal.id])?;
    }
    for e in &appeal.events {
        tx.prepare_cached(
            "INSERT INTO events (appeal_id, at_utc, kind, actor, from_status, to_status, note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            appeal.id,
            secs(e.at_utc),
            e.kind.code(),
            e.actor,
            e.from_status.map(Status::code),
            e.to_status.map(Status::code),
            e.note
        ])?;
    }
    for a in &appeal.answers {
        tx.prepare_cached(
            "INSERT INTO answers (appeal_id, at_utc, organisation_code, kind, on_merits, text)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            appeal.id,
            secs(a.at_utc),
            a.organisation.as_ref().map(|c| c.as_str()),
            a.kind.code(),
            a.kind == AnswerKind::Merits,
            a.text
        ])?;
    }
    Ok(true)
}

/// Writes `problem` unless a version at least as new is stored.
pub(super) fn upsert_problem_in(
    tx: &rusqlite::Transaction<'_>,
    problem: &Problem,
) -> rusqlite::Result<bool> {
    let stored: Option<i64> = tx
        .prepare_cached("SELECT version FROM problems WHERE id = ?1")?
        .query_row([problem.id], |r| r.get(0))
        .optional()?;
    if stored.is_some_and(|v| v >= problem.version) {
        return Ok(false);
    }
    tx.prepare_cached(
        "INSERT OR REPLACE INTO problems (id, version, title, block_code, topic_code,
             municipality_code, lat, lon, opened_utc, resolved_utc, accelerated, confirmed,
             merged_into)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        problem.id,
        problem.version,
        problem.title,
        problem.block.as_ref().map(|c| c.as_str()),
        problem.topic.as_ref().map(|c| c.as_str()),
        problem.municipality.as_ref().map(|c| c.as_str()),
        problem.point.map(|p| p.lat),
        problem.point.map(|p| p.lon),
        secs(problem.opened_utc),
        problem.resolved_utc.map(secs),
        problem.accelerated,
        problem.confirmed,
        problem.merged_into,
    ])?;
    Ok(true)
}

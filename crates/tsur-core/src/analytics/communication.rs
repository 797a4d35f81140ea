//! Communication problems of bodies with citizens, per organisation (п. "выявление ошибок
//! коммуникации"): formal replies, very short or templated answers, appeals forwarded again and
//! again or passed back and forth, answers followed by a low rating or by a repeat appeal.
//!
//! These need answer texts and histories, which stay in SQLite (not in the read model), so this
//! is SQL over the replica: a review-mode query, run on a worker, not a per-frame view.

use super::kpi::Filter;
use crate::domain::AppealId;
use crate::pack::RegionPack;
use crate::store::{Store, StoreError};
use serde::Serialize;
use std::collections::BTreeMap;

/// An answer on the merits shorter than this (characters) counts as a formal reply.
pub const SHORT_ANSWER_CHARS: i64 = 120;
/// An organisation sending the very same answer text this many times is using a template.
pub const TEMPLATE_MIN_REPEATS: i64 = 20;
/// Forwarded answers on one appeal that make "repeated forwarding".
pub const REPEATED_FORWARDING: i64 = 2;
/// Routings and forwardings of one appeal that make "back and forth" between organisations: the
/// first routing and then at least three more changes of hands.
pub const BACK_AND_FORTH: i64 = 4;
/// Appeals listed as examples per organisation.
const EXAMPLES: usize = 10;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CommunicationIssues {
    pub organisation: String,
    pub name: String,
    /// Appeals of the organisation in the period, and its answers (first reactions excluded).
    pub appeals: u64,
    pub answers: u64,
    /// Appeals answered with a formal reply.
    pub formal_answers: u64,
    /// Appeals with an answer on the merits shorter than [`SHORT_ANSWER_CHARS`].
    pub short_answers: u64,
    /// Answers whose exact text the organisation sent at least [`TEMPLATE_MIN_REPEATS`] times.
    pub templated_answers: u64,
    /// Appeals forwarded at least [`REPEATED_FORWARDING`] times.
    pub repeatedly_forwarded: u64,
    /// Appeals routed or forwarded at least [`BACK_AND_FORTH`] times (the first routing included).
    pub back_and_forth: u64,
    /// Answered appeals rated 1–2.
    pub low_rated: u64,
    /// Appeals that a later appeal repeats.
    pub followed_by_repeat: u64,
    /// Appeals showing any of the problems above, newest first (at most 10).
    pub examples: Vec<AppealId>,
}

impl CommunicationIssues {
    /// The problems above summed (templates aside: using one is not wrong in itself).
    pub fn weight(&self) -> u64 {
        self.formal_answers
            + self.short_answers
            + self.repeatedly_forwarded
            + self.back_and_forth
            + self.low_rated
            + self.followed_by_repeat
    }
}

/// Named parameters as rusqlite takes them.
fn as_params<'a>(
    bound: &'a [(&'a str, rusqlite::types::Value)],
) -> Vec<(&'a str, &'a dyn rusqlite::ToSql)> {
    bound
        .iter()
        .map(|(name, value)| (*name, value as &dyn rusqlite::ToSql))
        .collect()
}

/// Stores an organisation's count of one measure.
type SetCount = fn(&mut CommunicationIssues, u64);
/// Counts one more appeal with a problem.
type CountAppeal = fn(&mut CommunicationIssues);

/// Communication problems of every organisation with appeals in the filter (received in its
/// period, of its block, topic, municipality, regime and channel), most problems first.
/// Organisations with none are left out. What an answer shows (formal, short, templated) is laid
/// at the door of the organisation that gave it; what happened to an appeal, at the door of the
/// organisation responsible for it.
pub fn by_organisation(
    store: &Store,
    filter: &Filter,
    pack: &RegionPack,
) -> Result<Vec<CommunicationIssues>, StoreError> {
    let conn = store.conn();
    let err = |e| store.sql_error(e);
    let mut conditions = vec![
        "organisation_code IS NOT NULL",
        "received_utc >= :from",
        "received_utc < :to",
    ];
    let mut values: Vec<(&str, rusqlite::types::Value)> = vec![
        (":from", filter.from_utc.unwrap_or(i64::MIN).into()),
        (":to", filter.to_utc.unwrap_or(i64::MAX).into()),
    ];
    for (column, name, value) in [
        ("block_code", ":block", filter.block.clone()),
        ("topic_code", ":topic", filter.topic.clone()),
        (
            "municipality_code",
            ":municipality",
            filter.municipality.clone(),
        ),
        (
            "organisation_code",
            ":organisation",
            filter.organisation.clone(),
        ),
        (
            "regime",
            ":regime",
            filter.regime.map(|r| r.code().to_string()),
        ),
        (
            "channel",
            ":channel",
            filter.channel.map(|c| c.code().to_string()),
        ),
    ] {
        if let Some(value) = value {
            conditions.push(match column {
                "block_code" => "block_code = :block",
                "topic_code" => "topic_code = :topic",
                "municipality_code" => "municipality_code = :municipality",
                "organisation_code" => "organisation_code = :organisation",
                "regime" => "regime = :regime",
                _ => "channel = :channel",
            });
            values.push((name, value.into()));
        }
    }
    let selected = format!(
        "SELECT id, organisation_code, rating, received_utc FROM appeals WHERE {}",
        conditions.join(" AND ")
    );
    let mut by_org: BTreeMap<String, CommunicationIssues> = BTreeMap::new();
    let mut examples: BTreeMap<String, Vec<(i64, AppealId)>> = BTreeMap::new();
    // One query per measure: (organisation, count), or (organisation, appeal id, received) rows.
    let counts: [(&str, SetCount); 3] = [
        (
            "SELECT s.organisation_code, count(*) FROM sel s GROUP BY 1",
            |c, n| c.appeals = n,
        ),
        (
            "SELECT coalesce(a.organisation_code, s.organisation_code), count(*)
             FROM answers a JOIN sel s ON s.id = a.appeal_id
             WHERE a.kind <> 'reaction' GROUP BY 1",
            |c, n| c.answers = n,
        ),
        (
            "SELECT org, sum(n) FROM (
                 SELECT coalesce(a.organisation_code, s.organisation_code) AS org, a.text,
                        count(*) AS n
                 FROM answers a JOIN sel s ON s.id = a.appeal_id
                 WHERE a.kind <> 'reaction' GROUP BY 1, 2 HAVING count(*) >= :threshold)
             GROUP BY 1",
            |c, n| c.templated_answers = n,
        ),
    ];
    // The filter's values and, where a query has one, its threshold: each bound only if the
    // statement names it.
    let bound = |stmt: &rusqlite::Statement<'_>, threshold: i64| {
        let mut out: Vec<(&str, rusqlite::types::Value)> = values
            .iter()
            .filter(|(name, _)| stmt.parameter_index(name).ok().flatten().is_some())
            .cloned()
            .collect();
        if stmt.parameter_index(":threshold").ok().flatten().is_some() {
            out.push((":threshold", threshold.into()));
        }
        out
    };

    for (sql, set) in counts {
        let sql = format!("WITH sel AS ({selected}) {sql}");
        let mut stmt = conn.prepare(&sql).map_err(err)?;
        let values = bound(&stmt, TEMPLATE_MIN_REPEATS);
        let mut rows = stmt.query(as_params(&values).as_slice()).map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            let org: String = row.get(0).map_err(err)?;
            let n: i64 = row.get(1).map_err(err)?;
            set(
                by_org.entry(org).or_default(),
                u64::try_from(n).unwrap_or(0),
            );
        }
    }
    // Problems of single appeals, with the appeals as examples.
    let appeals: [(&str, CountAppeal); 6] = [
        (
            "SELECT DISTINCT coalesce(a.organisation_code, s.organisation_code), s.id, s.received_utc
             FROM answers a JOIN sel s ON s.id = a.appeal_id WHERE a.kind = 'formal'",
            |c| c.formal_answers += 1,
        ),
        (
            "SELECT DISTINCT coalesce(a.organisation_code, s.organisation_code), s.id, s.received_utc
             FROM answers a JOIN sel s ON s.id = a.appeal_id
             WHERE a.kind = 'merits' AND length(a.text) < :threshold",
            |c| c.short_answers += 1,
        ),
        (
            "SELECT s.organisation_code, s.id, s.received_utc FROM sel s
             WHERE (SELECT count(*) FROM answers a WHERE a.appeal_id = s.id AND a.kind = 'forwarded') >= :threshold",
            |c| c.repeatedly_forwarded += 1,
        ),
        (
            "SELECT s.organisation_code, s.id, s.received_utc FROM sel s
             WHERE (SELECT count(*) FROM events e WHERE e.appeal_id = s.id
                    AND e.to_status IN ('routed', 'forwarded')) >= :threshold",
            |c| c.back_and_forth += 1,
        ),
        (
            "SELECT s.organisation_code, s.id, s.received_utc FROM sel s
             WHERE s.rating BETWEEN 1 AND 2",
            |c| c.low_rated += 1,
        ),
        (
            "SELECT DISTINCT s.organisation_code, s.id, s.received_utc FROM sel s
             JOIN appeals r ON r.repeat_of = s.id",
            |c| c.followed_by_repeat += 1,
        ),
    ];
    let parameters = [
        0,
        SHORT_ANSWER_CHARS,
        REPEATED_FORWARDING,
        BACK_AND_FORTH,
        0,
        0,
    ];
    for ((sql, add), parameter) in appeals.into_iter().zip(parameters) {
        let sql = format!("WITH sel AS ({selected}) {sql}");
        let mut stmt = conn.prepare(&sql).map_err(err)?;
        let values = bound(&stmt, parameter);
        let mut rows = stmt.query(as_params(&values).as_slice()).map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            let org: String = row.get(0).map_err(err)?;
            let id: AppealId = row.get(1).map_err(err)?;
            let received: i64 = row.get(2).map_err(err)?;
            add(by_org.entry(org.clone()).or_default());
            examples.entry(org).or_default().push((received, id));
        }
    }
    let mut list: Vec<CommunicationIssues> = by_org
        .into_iter()
        .map(|(org, mut c)| {
            let mut ex = examples.remove(&org).unwrap_or_default();
            ex.sort_by(|a, b| b.cmp(a));
            ex.dedup_by_key(|e| e.1);
            c.examples = ex.into_iter().take(EXAMPLES).map(|(_, id)| id).collect();
            c.name = pack
                .organisation(&org)
                .map_or_else(|| org.clone(), |o| o.name.clone());
            c.organisation = org;
            c
        })
        .filter(|c| c.weight() + c.templated_answers > 0)
        .collect();
    list.sort_by(|a, b| {
        b.weight()
            .cmp(&a.weight())
            .then(a.organisation.cmp(&b.organisation))
    });
    Ok(list)
}

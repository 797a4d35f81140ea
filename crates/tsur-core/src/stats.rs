//! Counts over the replica for `tsur stats` and the first window.
//!
//! This is plain SQL over the store: fine for a CLI and a summary panel. The dashboards of later
//! issues need the in-memory read model (ENGINEERING §6).

use crate::domain::{Regime, Status};
use crate::pack::RegionPack;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// The summary printed by `tsur stats --json`. Keys are documented in the README.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// The instant the figures refer to (UTC, RFC 3339).
    pub as_of: String,
    pub total: u64,
    /// Open (not answered, closed, merged or rejected) appeals.
    pub open: u64,
    /// Open, clock running, past the answer deadline.
    pub overdue: u64,
    /// Open, clock running, due within the pack's at-risk window (24 h by default).
    pub at_risk: u64,
    /// Appeals with no block or topic yet.
    pub unclassified: u64,
    pub without_coordinates: u64,
    pub without_municipality: u64,
    /// Every block of the pack by its name (e.g. "ЖКХ"), zero included.
    pub by_block: BTreeMap<String, u64>,
    /// By status code (e.g. "in_progress"), every status included.
    pub by_status: BTreeMap<String, u64>,
    /// By regime code ("fz59", "pos", "social", "hotline").
    pub by_regime: BTreeMap<String, u64>,
    /// Every municipality of the pack by its full name, zero included.
    pub by_municipality: BTreeMap<String, u64>,
}

/// Statuses whose answer clock runs (open and not waiting for the citizen), as an SQL list.
fn running_statuses_sql() -> String {
    Status::ALL
        .iter()
        .filter(|s| s.is_open() && !s.pauses_clock())
        .map(|s| format!("'{}'", s.code()))
        .collect::<Vec<_>>()
        .join(",")
}

fn open_statuses_sql() -> String {
    Status::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| format!("'{}'", s.code()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Counts keyed by every expected key (zero included), renamed from the stored code to the shown key.
fn keyed<'a>(
    counts: &BTreeMap<String, u64>,
    keys: impl Iterator<Item = (&'a str, String)>,
) -> BTreeMap<String, u64> {
    keys.map(|(code, key)| (key, counts.get(code).copied().unwrap_or(0)))
        .collect()
}

impl Stats {
    pub fn compute(
        store: &Store,
        pack: &RegionPack,
        now: DateTime<Utc>,
    ) -> Result<Stats, StoreError> {
        let conn = store.conn();
        let err = |e| store.sql_error(e);
        let now_s = now.timestamp();
        let window_end =
            (now + Duration::hours(i64::from(pack.region.at_risk_window_hours))).timestamp();
        let running = running_statuses_sql();
        let open = open_statuses_sql();
        let (
            total,
            open_count,
            overdue,
            at_risk,
            unclassified,
            without_coordinates,
            without_municipality,
        ): (i64, i64, i64, i64, i64, i64, i64) = conn
            .query_row(
                &format!(
                    "SELECT count(*),
                        coalesce(sum(status IN ({open})), 0),
                        coalesce(sum(status IN ({running}) AND due_utc <= ?1), 0),
                        coalesce(sum(status IN ({running}) AND due_utc > ?1 AND due_utc <= ?2), 0),
                        coalesce(sum(block_code IS NULL OR topic_code IS NULL), 0),
                        coalesce(sum(lat IS NULL OR lon IS NULL), 0),
                        coalesce(sum(municipality_code IS NULL), 0)
                     FROM appeals"
                ),
                [now_s, window_end],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )
            .map_err(err)?;

        let group = |column: &str| -> Result<BTreeMap<String, u64>, StoreError> {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {column}, count(*) FROM appeals WHERE {column} IS NOT NULL GROUP BY {column}"
                ))
                .map_err(err)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(err)?;
            Ok(rows.into_iter().map(|(k, v)| (k, v as u64)).collect())
        };

        let by_block = keyed(
            &group("block_code")?,
            pack.blocks
                .iter()
                .map(|b| (b.code.as_str(), b.name.clone())),
        );
        let by_status = keyed(
            &group("status")?,
            Status::ALL.iter().map(|s| (s.code(), s.code().to_string())),
        );
        let by_regime = keyed(
            &group("regime")?,
            Regime::ALL.iter().map(|r| (r.code(), r.code().to_string())),
        );
        let by_municipality = keyed(
            &group("municipality_code")?,
            pack.municipalities
                .iter()
                .map(|m| (m.code.as_str(), m.name.clone())),
        );

        Ok(Stats {
            as_of: now.to_rfc3339_opts(SecondsFormat::Secs, true),
            total: total as u64,
            open: open_count as u64,
            overdue: overdue as u64,
            at_risk: at_risk as u64,
            unclassified: unclassified as u64,
            without_coordinates: without_coordinates as u64,
            without_municipality: without_municipality as u64,
            by_block,
            by_status,
            by_regime,
            by_municipality,
        })
    }
}

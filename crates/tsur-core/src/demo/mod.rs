//! The demo region generator: twelve months of realistic appeals up to a given day, written to a
//! standalone replica.
//!
//! The output depends only on the pack, the seed, the number of appeals and `now`: the same inputs
//! give the same database content on every machine. Volume follows population; topics follow
//! their seasons; hot spots form problems; organisations differ in how late they are; ratings
//! follow timeliness; a few percent of records are dirty (no coordinates, unknown topic).
//!
//! The database is written to a temporary file next to the target and renamed over it only when
//! complete, so an interrupted run never leaves a half-written replica behind.

mod corpus;
mod model;
mod plan;
pub mod rng;
mod story;

pub use corpus::DemoCorpus;

use crate::domain::{AnswerKind, InvalidTransition, Status};
use crate::pack::{PackError, RegionPack};
use crate::store::{Store, StoreError};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use model::Model;
use rng::DemoRng;
use rusqlite::{Statement, Transaction, params};
use std::path::{Path, PathBuf};
use story::{Memory, Story};

/// The generator's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoParams {
    pub appeals: u64,
    pub seed: u64,
    /// The last instant of the generated year.
    pub now_utc: DateTime<Utc>,
}

impl DemoParams {
    /// `now` for a date given on the command line: noon local time of that day.
    pub fn now_for_date(pack: &RegionPack, date: NaiveDate) -> DateTime<Utc> {
        let noon = date.and_hms_opt(12, 0, 0).unwrap_or_default();
        pack.offset()
            .from_local_datetime(&noon)
            .single()
            .map_or_else(|| Utc.from_utc_datetime(&noon), |t| t.with_timezone(&Utc))
    }
}

/// What the generator wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DemoSummary {
    pub appeals: u64,
    pub events: u64,
    pub answers: u64,
    /// Problems the clustering made of the appeals (as the server would).
    pub problems: u64,
    pub repeats: u64,
    pub dirty: u64,
    /// The hot spot (numbered from 1) each planted appeal was generated at, by appeal id: what
    /// the problem clustering is checked against.
    #[serde(skip)]
    pub planted_hotspots: Vec<(i64, i64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "файл {0} уже существует; добавьте --force, чтобы заменить его (старый файл заменяется только после успешной генерации)"
    )]
    Exists(PathBuf),
    #[error("не удалось записать {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("ошибка записи демо-базы: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("ошибка расчёта срока: {0}")]
    Deadline(#[from] crate::deadline::DeadlineError),
    #[error("генератор нарушил жизненный цикл обращения: {0}")]
    Lifecycle(#[from] InvalidTransition),
    #[error("генерация прервана")]
    Cancelled,
}

/// Writes a demo replica to `path`. An existing file is replaced only if `overwrite` is set, and
/// only after the new one is complete. `progress(done, total)` is called every few thousand
/// appeals and may return `false` to cancel.
pub fn write_demo_replica(
    pack: &RegionPack,
    params: &DemoParams,
    path: &Path,
    overwrite: bool,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<DemoSummary, DemoError> {
    if path.exists() && !overwrite {
        return Err(DemoError::Exists(path.to_path_buf()));
    }
    let corpus = DemoCorpus::load(pack)?;
    let file_name = path.file_name().map_or_else(
        || "demo.sqlite".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let tmp = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    remove_stale_temporaries(path, &file_name);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DemoError::Io { path, source }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    remove_db_files(&tmp);
    let result = (|| {
        let summary = {
            let mut store = Store::open(&tmp)?;
            store.write_reference(pack)?;
            let summary = generate_into(&mut store, pack, &corpus, params, progress)?;
            store
                .conn()
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
            summary
        };
        remove_db_files(path);
        std::fs::rename(&tmp, path).map_err(io(path))?;
        Ok(summary)
    })();
    if result.is_err() {
        remove_db_files(&tmp);
    }
    result
}

/// Removes temporary files that an earlier run killed mid-way left next to the target.
fn remove_stale_temporaries(path: &Path, file_name: &str) {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir.to_path_buf(),
        None => PathBuf::from("."),
    };
    let prefix = format!(".{file_name}.");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_ours = name.starts_with(&prefix)
            && [".tmp", ".tmp-wal", ".tmp-shm", ".tmp-journal"]
                .iter()
                .any(|suffix| name.ends_with(suffix));
        if is_ours {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn remove_db_files(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

/// Prepared statements for the bulk load.
struct Writer<'c> {
    appeal: Statement<'c>,
    event: Statement<'c>,
    answer: Statement<'c>,
}

impl<'c> Writer<'c> {
    fn new(tx: &'c Transaction<'c>) -> rusqlite::Result<Self> {
        Ok(Writer {
            appeal: tx.prepare(
                "INSERT INTO appeals (id, version, source, external_id, channel, regime, received_utc,
                 registered_utc, text, author_name, author_phone, author_email, address, lat, lon,
                 municipality_code, block_code, topic_code, organisation_code, status, due_utc,
                 first_reaction_due_utc, first_reaction_utc, answered_utc, closed_utc, rating,
                 problem_id, repeat_of, duplicate_of, assignee, extensions, updated_utc)
                 VALUES (?1, 1, 'demo', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                 ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, NULL, NULL, ?27, ?28)",
            )?,
            event: tx.prepare(
                "INSERT INTO events (appeal_id, at_utc, kind, actor, from_status, to_status, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?,
            answer: tx.prepare(
                "INSERT INTO answers (appeal_id, at_utc, organisation_code, kind, on_merits, text)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?,
        })
    }

    fn story(&mut self, model: &Model<'_>, id: i64, story: &Story) -> rusqlite::Result<()> {
        let a = &story.appeal;
        let pack = model.pack;
        let topic = a.topic.map(|t| model.topics[t]);
        self.appeal.execute(params![
            id,
            format!("DEMO-{id:07}"),
            a.channel.code(),
            a.regime.code(),
            a.received,
            a.registered,
            a.text,
            a.author.name,
            a.author.phone,
            a.author.email,
            a.address,
            a.lat,
            a.lon,
            pack.municipalities[a.municipality].code.as_str(),
            topic.map(|(b, _)| pack.blocks[b].code.as_str()),
            topic.map(|(_, t)| t.code.as_str()),
            a.organisation.map(|o| pack.organisations[o].code.as_str()),
            a.status.code(),
            a.due,
            a.first_reaction_due,
            a.first_reaction,
            a.answered,
            a.closed,
            a.rating,
            None::<i64>, // problems are made by the clustering afterwards
            a.repeat_of,
            i64::from(a.extended),
            a.updated(),
        ])?;
        for e in &story.events {
            self.event.execute(params![
                id,
                e.at,
                e.kind.code(),
                e.actor,
                e.from.map(Status::code),
                e.to.map(Status::code),
                e.note
            ])?;
        }
        for answer in &story.answers {
            self.answer.execute(params![
                id,
                answer.at,
                answer.organisation,
                answer.kind.code(),
                answer.kind == AnswerKind::Merits,
                answer.text
            ])?;
        }
        Ok(())
    }
}

fn generate_into(
    store: &mut Store,
    pack: &RegionPack,
    corpus: &DemoCorpus,
    params: &DemoParams,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<DemoSummary, DemoError> {
    let mut rng = DemoRng::new(params.seed);
    let mut plan_rng = rng.fork(1);
    let mut story_rng = rng.fork(2);
    let model = Model::new(pack, corpus, &mut rng.fork(3));
    let now = params.now_utc.timestamp();
    let (plan, hotspots) = plan::plan(&model, params.appeals, params.now_utc, &mut plan_rng)?;

    // Bulk load: rows first, secondary indexes after.
    store.drop_secondary_indexes()?;
    let conn = store.conn_mut();
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -200000;")?;
    let tx = conn.transaction()?;
    let mut summary = DemoSummary::default();
    {
        let mut writer = Writer::new(&tx)?;
        let mut memory = Memory::default();
        let total = params.appeals;
        for (i, planned) in plan.iter().enumerate() {
            if i % 5_000 == 0 && !progress(i as u64, total) {
                return Err(DemoError::Cancelled);
            }
            let id = i as i64 + 1;
            let story = story::tell(
                &model,
                &hotspots,
                &mut memory,
                id,
                planned,
                now,
                &mut story_rng,
            )?;
            writer.story(&model, id, &story)?;
            summary.appeals += 1;
            summary.events += story.events.len() as u64;
            summary.answers += story.answers.len() as u64;
            summary.repeats += u64::from(story.appeal.repeat_of.is_some());
            summary.dirty += u64::from(story.dirty);
            if let Some(h) = planned.hotspot {
                summary.planted_hotspots.push((id, h as i64 + 1));
            }
        }
        progress(total, total);
    }
    for (key, value) in [
        ("demo_seed", params.seed.to_string()),
        ("demo_appeals", params.appeals.to_string()),
        ("demo_now_utc", params.now_utc.to_rfc3339()),
        ("source", "demo".to_string()),
    ] {
        tx.execute(
            "INSERT INTO sync_state (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
    }
    tx.commit()?;
    // What the server would work out at ingest: suggestions for the unclassified appeals, and
    // problems.
    crate::classify::suggest_for_unclassified(store, pack)?;
    summary.problems = crate::problems::cluster_replica(store, pack)? as u64;
    store.build_secondary_indexes()?;
    store
        .conn()
        .execute_batch("PRAGMA synchronous = NORMAL; ANALYZE;")?;
    Ok(summary)
}

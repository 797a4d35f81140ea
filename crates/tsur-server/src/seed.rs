//! Seeding a server with the demo region through ingest, so the demo data passes the same checks
//! and deadline computation as a connector's.

use crate::ingest::{self, IngestAppeal};
use crate::storage::{IngestOutcome, Storage};
use std::path::{Path, PathBuf};
use tsur_core::demo::{DemoParams, write_demo_replica};
use tsur_core::pack::RegionPack;

/// Where seeding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedProgress {
    Generating { done: u64, total: u64 },
    Loading { done: u64, total: u64 },
}

/// What seeding did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub created: u64,
    pub rejected: u64,
    pub reasons: Vec<String>,
}

/// Appeals ingested per transaction.
const BATCH: usize = 2_000;

/// Generates the demo region into a temporary replica next to `scratch_dir` and ingests every
/// appeal. `progress` may return `false` to stop.
pub fn seed_demo(
    storage: &Storage,
    pack: &RegionPack,
    params: &DemoParams,
    scratch_dir: &Path,
    progress: &mut dyn FnMut(SeedProgress) -> bool,
) -> anyhow::Result<SeedReport> {
    let tmp = scratch_dir.join(format!(".tsur-seed-{}.sqlite", std::process::id()));
    let result = (|| {
        write_demo_replica(pack, params, &tmp, true, &mut |done, total| {
            progress(SeedProgress::Generating { done, total })
        })?;
        ingest_replica(storage, pack, &tmp, progress)
    })();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(PathBuf::from(format!("{}{suffix}", tmp.display())));
    }
    result
}

fn ingest_replica(
    storage: &Storage,
    pack: &RegionPack,
    replica: &Path,
    progress: &mut dyn FnMut(SeedProgress) -> bool,
) -> anyhow::Result<SeedReport> {
    let store = tsur_core::store::Store::open_existing(replica)?;
    let engine = pack.deadline_engine();
    // Through the same enrichment as a connector's appeals: repeats and suggestions.
    let mut enricher = crate::enrich::Enricher::from_storage(storage, pack)?;
    let total: i64 = store
        .conn()
        .query_row("SELECT count(*) FROM appeals", [], |r| r.get(0))?;
    let mut report = SeedReport::default();
    let mut batch = Vec::with_capacity(BATCH);
    for id in 1..=total {
        if let Some(appeal) = store.load_appeal(id)? {
            batch.push(ingest::prepare(
                pack,
                &engine,
                IngestAppeal::from_appeal(appeal),
            ));
        }
        if batch.len() == BATCH || id == total {
            for outcome in enricher.ingest(storage, std::mem::take(&mut batch))? {
                match outcome {
                    IngestOutcome::Created { .. } => report.created += 1,
                    IngestOutcome::Rejected { reason } => {
                        report.rejected += 1;
                        report.reasons.push(reason);
                    }
                    _ => {}
                }
            }
            if !progress(SeedProgress::Loading {
                done: id as u64,
                total: total as u64,
            }) {
                anyhow::bail!("загрузка демо-региона прервана");
            }
        }
    }
    Ok(report)
}

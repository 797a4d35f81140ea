//! Initial sync benchmark (ENGINEERING §6): a real tsur-server on 127.0.0.1 holding N demo
//! appeals, synced by the real client (`tsur::sync::sync_once`) into an empty replica; compared
//! with a raw SQLite bulk insert of the same appeals into the same schema, measured in the same
//! run.
//!
//! ```sh
//! cargo bench --bench sync                 # 1,000,000 appeals
//! cargo bench --bench sync -- 200000       # another size
//! ```
//!
//! The server database takes minutes to build at 1M, so it is kept between runs under
//! `target/bench-data/` (delete it to start over). Prints figures; asserts nothing about time.

use chrono::NaiveDate;
use rusqlite::params;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tsur_core::demo::DemoParams;
use tsur_core::domain::Appeal;
use tsur_core::pack::RegionPack;
use tsur_core::store::Store;
use tsur_server::api::{self, ServerState};
use tsur_server::auth::Role;
use tsur_server::storage::Storage;

fn main() -> anyhow::Result<()> {
    let appeals: u64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.replace(['_', ','], "").parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let pack = RegionPack::load(RegionPack::bundled_dir())?;
    println!("{}", machine());

    let server_db = server_database(&pack, appeals)?;
    let storage = Storage::open(&format!("sqlite:{}", server_db.display()))?;
    let token = storage.create_token("bench", Role::Curator, &[], &[])?.1;
    let state =
        Arc::new(ServerState::new(storage, pack.clone()).map_err(|e| anyhow::anyhow!(e.message))?);
    let (url, shutdown, server_thread) = serve(state)?;

    let scratch = tempfile::tempdir()?;
    let replica = scratch.path().join("replica.sqlite");
    let client = tsur::sync::SyncClient::new(&url, &token)?;

    // The ceiling of any replica: the server's pages fetched and parsed, nothing written.
    let started = Instant::now();
    let (mut after, mut fetched) = (0, 0usize);
    loop {
        let page = client.page(after, 0, None)?;
        fetched += page.appeals.len();
        after = page.next;
        if !page.has_more {
            break;
        }
    }
    let fetch_secs = started.elapsed().as_secs_f64();
    println!(
        "fetch + parse:   {fetched} appeals in {fetch_secs:.2} s = {:.0} appeals/s (nothing written)",
        fetched as f64 / fetch_secs
    );

    let mut store = Store::open(&replica)?;
    let started = Instant::now();
    let report = tsur::sync::sync_once(&client, &mut store, 0, &mut |_, _| {})?;
    let sync_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.written == appeals,
        "synced {} appeals, expected {appeals}",
        report.written
    );
    let _ = shutdown.send(());
    let _ = server_thread.join();
    let sync_rate = appeals as f64 / sync_secs;
    println!(
        "initial sync:    {appeals} appeals in {sync_secs:.2} s = {:.0} appeals/s ({} pages)",
        sync_rate, report.pages
    );

    // The same appeals, read back from the synced replica (not timed), inserted raw.
    let rows = read_appeals(&store)?;
    drop(store);
    let raw_db = scratch.path().join("raw.sqlite");
    let raw_secs = raw_bulk_insert(&raw_db, &rows)?;
    let raw_rate = appeals as f64 / raw_secs;
    println!(
        "raw bulk insert: {appeals} appeals in {raw_secs:.2} s = {raw_rate:.0} appeals/s \
         (one transaction, prepared statements, indexes built after)"
    );
    println!(
        "sync / raw:      {:.0} % (budget: ≥ 100 000 appeals/s and ≥ 50 % of raw)",
        100.0 * sync_rate / raw_rate
    );
    println!(
        "replica size:    {} MB",
        std::fs::metadata(&replica).map(|m| m.len() / 1_048_576)?
    );
    Ok(())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("machine: {cores} cores, {cpu}")
}

/// A server database with exactly `appeals` demo appeals, built once and kept.
fn server_database(pack: &RegionPack, appeals: u64) -> anyhow::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("server-{appeals}.sqlite"));
    if path.exists() {
        let storage = Storage::open(&format!("sqlite:{}", path.display()))?;
        if storage.latest_seq()? == appeals as i64 {
            println!(
                "server database: {} (kept from an earlier run)",
                path.display()
            );
            return Ok(path);
        }
        drop(storage);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
    println!("server database: building {} ...", path.display());
    let started = Instant::now();
    let storage = Storage::open(&format!("sqlite:{}", path.display()))?;
    let params = DemoParams {
        appeals,
        seed: 1,
        now_utc: DemoParams::now_for_date(
            pack,
            NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default(),
        ),
    };
    let report = tsur_server::seed::seed_demo(&storage, pack, &params, &dir, &mut |_| true)?;
    anyhow::ensure!(
        report.created == appeals,
        "seeded {} of {appeals}",
        report.created
    );
    println!(
        "server database: built in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(path)
}

type Serving = (
    String,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
);

fn serve(state: Arc<ServerState>) -> anyhow::Result<Serving> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Runtime::new() else {
            return;
        };
        runtime.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
                return;
            };
            let Ok(addr) = listener.local_addr() else {
                return;
            };
            let _ = url_tx.send(format!("http://{addr}"));
            let _ = api::serve(listener, state, async move {
                let _ = rx.await;
            })
            .await;
        });
    });
    let url = url_rx.recv()?;
    Ok((url, tx, thread))
}

fn read_appeals(store: &Store) -> anyhow::Result<Vec<Appeal>> {
    let ids: Vec<i64> = store
        .conn()
        .prepare("SELECT id FROM appeals ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut appeals = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(appeal) = store.load_appeal(id)? {
            appeals.push(appeal);
        }
    }
    Ok(appeals)
}

/// Inserts the appeals, their events and answers with plain prepared INSERTs in one transaction
/// into a new store, the best way SQLite offers: rows first, then the same secondary indexes, with
/// the same page cache the sync uses. The end state is the same as the sync's.
fn raw_bulk_insert(path: &Path, appeals: &[Appeal]) -> anyhow::Result<f64> {
    let mut store = Store::open(path)?;
    let started = Instant::now();
    store.begin_bulk_load()?;
    let conn = store.conn_mut();
    let tx = conn.transaction()?;
    {
        let mut appeal_stmt = tx.prepare(
            "INSERT INTO appeals (id, version, source, external_id, channel, regime,
             received_utc, registered_utc, text, author_name, author_phone, author_email, address,
             lat, lon, municipality_code, block_code, topic_code, organisation_code, status,
             due_utc, answered_utc, rating, problem_id, repeat_of, duplicate_of, assignee,
             extensions, updated_utc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
             ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)",
        )?;
        let mut event_stmt = tx.prepare(
            "INSERT INTO events (appeal_id, at_utc, kind, actor, from_status, to_status, note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut answer_stmt = tx.prepare(
            "INSERT INTO answers (appeal_id, at_utc, organisation_code, kind, on_merits, text)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for a in appeals {
            appeal_stmt.execute(params![
                a.id,
                a.version,
                a.source,
                a.external_id,
                a.channel.code(),
                a.regime.code(),
                a.received_utc.timestamp(),
                a.registered_utc.map(|t| t.timestamp()),
                a.text,
                a.author.name,
                a.author.phone,
                a.author.email,
                a.address,
                a.point.map(|p| p.lat),
                a.point.map(|p| p.lon),
                a.municipality.as_ref().map(|c| c.as_str()),
                a.block.as_ref().map(|c| c.as_str()),
                a.topic.as_ref().map(|c| c.as_str()),
                a.organisation.as_ref().map(|c| c.as_str()),
                a.status.code(),
                a.due_utc.map(|t| t.timestamp()),
                a.answered_utc.map(|t| t.timestamp()),
                a.rating.map(|r| r.stars()),
                a.problem,
                a.repeat_of,
                a.duplicate_of,
                a.assignee,
                0,
                a.received_utc.timestamp(),
            ])?;
            for e in &a.events {
                event_stmt.execute(params![
                    a.id,
                    e.at_utc.timestamp(),
                    e.kind.code(),
                    e.actor,
                    e.from_status.map(|s| s.code()),
                    e.to_status.map(|s| s.code()),
                    e.note
                ])?;
            }
            for ans in &a.answers {
                answer_stmt.execute(params![
                    a.id,
                    ans.at_utc.timestamp(),
                    ans.organisation.as_ref().map(|c| c.as_str()),
                    ans.kind.code(),
                    ans.kind == tsur_core::domain::AnswerKind::Merits,
                    ans.text
                ])?;
            }
        }
    }
    tx.commit()?;
    store.end_bulk_load()?;
    Ok(started.elapsed().as_secs_f64())
}

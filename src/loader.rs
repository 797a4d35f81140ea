//! Background work that feeds the app: brings the replica up to date, reads the summary and the
//! map points, and keeps syncing. Runs on its own thread with its own SQLite connection; the UI
//! only polls a channel.
//!
//! Sources: the demo (an embedded tsur-server on 127.0.0.1, seeded with the demo region, which the
//! app syncs from over HTTP like any client), a configured server, or a replica file opened
//! offline.

use crate::sync::{SyncClient, sync_once};
use crate::views::ViewRequest;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use tsur_core::clock::SharedClock;
use tsur_core::demo::DemoParams;
use tsur_core::pack::RegionPack;
use tsur_core::store::Store;
use tsur_server::auth::Role;
use tsur_server::embedded::EmbeddedServer;
use tsur_server::seed::SeedProgress;

/// A municipality as the map draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct MapPlace {
    pub code: String,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    pub population: u32,
}

/// What the app knows once the replica is open; the figures come from the view worker.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub db_path: PathBuf,
    /// Whether this is the demo replica (generated data, not the centre's).
    pub is_demo: bool,
    pub region_name: String,
    /// The region's local time offset, for showing instants.
    pub utc_offset: chrono::FixedOffset,
    pub centre: (f64, f64),
    /// The region's bounding box: min_lat, max_lat, min_lon, max_lon.
    pub bbox: (f64, f64, f64, f64),
    /// Largest first, so the map labels the places that matter when names would overlap.
    pub places: Vec<MapPlace>,
    /// The pack the replica was made with (names, topics, organisations, templates).
    pub pack: Arc<RegionPack>,
    /// Whether operator actions can reach a server (not for a file opened without one).
    pub can_act: bool,
}

/// What the worker reports.
#[derive(Debug, Clone)]
pub enum LoadEvent {
    /// Long work with a known size: what, and how far.
    Progress {
        what: String,
        done: u64,
        total: u64,
    },
    Reading,
    /// Fresh data (the first time, and after every sync that changed something).
    Ready(Box<Snapshot>),
    /// Where syncing stands.
    Sync(SyncStatus),
    Failed(String),
}

/// Where syncing stands, in the words the top bar shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    /// "встроенный демо-сервер" or the server's address.
    pub server: String,
    /// When the replica last caught up with the server.
    pub data_as_of: Option<chrono::DateTime<chrono::Utc>>,
    /// Since when the server has been unreachable, and why.
    pub offline_since: Option<chrono::DateTime<chrono::Utc>>,
    pub last_error: Option<String>,
    pub pending_actions: i64,
    pub conflicts: i64,
    pub quarantined: i64,
}

/// Where to read from.
#[derive(Debug, Clone)]
pub enum Replica {
    /// A replica file the user named, opened offline: it must exist.
    Existing(PathBuf),
    /// The demo: an embedded server with its database in `dir`, synced into `dir/demo.sqlite`.
    Demo(PathBuf),
    /// The demo for the video wall: the same embedded server, synced with a wall token (the
    /// server strips every personal field) into `dir/wall.sqlite`.
    DemoWall(PathBuf),
    /// A configured server, synced into `db`.
    Remote {
        server: String,
        token: String,
        db: PathBuf,
        /// Extra certificates to trust for an `https://` server (PEM).
        ca_cert: Option<PathBuf>,
    },
}

#[derive(Debug, Clone)]
pub struct Source {
    pub replica: Replica,
    pub pack_dir: PathBuf,
    /// Appeals the embedded demo server is seeded with on first start.
    pub demo_appeals: u64,
}

/// The client replica inside a demo directory.
pub fn demo_replica_in(dir: &Path) -> PathBuf {
    dir.join("demo.sqlite")
}

/// The video wall's replica inside a demo directory (synced with a wall token).
pub fn wall_replica_in(dir: &Path) -> PathBuf {
    dir.join("wall.sqlite")
}

/// The embedded server's database inside a demo directory.
pub fn demo_server_db_in(dir: &Path) -> PathBuf {
    dir.join("demo-server.sqlite")
}

/// Written once the embedded server's database is completely seeded.
fn demo_ready_marker(dir: &Path) -> PathBuf {
    dir.join("demo-server.ready")
}

/// Seconds a background sync long-polls; also bounds how long closing the window may wait.
const LONG_POLL_SECS: u64 = 2;

/// A running load; dropping it stops the worker and waits for it, so that a replica being
/// created when the window closes is cleaned up rather than left half-written.
pub struct Loader {
    pub events: Receiver<LoadEvent>,
    cancel: Arc<AtomicBool>,
    worker: Option<JoinHandle<()>>,
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        if let Some(worker) = self.worker.take() {
            // Seeding checks the flag every few thousand appeals and a long-poll lasts at most
            // LONG_POLL_SECS: this is quick. Every write is transactional, so even a worker that
            // did not stop in time leaves consistent files.
            let _ = worker.join();
        }
    }
}

/// Starts the worker. `repaint` is called after every event so the UI wakes up.
/// Once the replica is ready it is opened in the view worker (`views`), and every sync's changes
/// are passed on to it.
/// Starts the loader. `wall_only`: the replica is the video wall's, synced only with a token of
/// the wall role (the server sends it no personal data); another token is refused before any
/// page is fetched.
pub fn spawn(
    source: Source,
    clock: SharedClock,
    views: Sender<ViewRequest>,
    repaint: impl Fn() + Send + 'static,
    wall_only: bool,
) -> Loader {
    let (tx, rx) = channel();
    let cancel = Arc::new(AtomicBool::new(false));
    let stop = cancel.clone();
    let failure_tx = tx.clone();
    let spawned = std::thread::Builder::new()
        .name("tsur-loader".into())
        .spawn(move || {
            let send = |event: LoadEvent| {
                let _ = tx.send(event);
                repaint();
            };
            if let Err(e) = run(&source, &clock, &stop, &send, &views, wall_only) {
                send(LoadEvent::Failed(format!("{e:#}")));
            }
        });
    let worker = match spawned {
        Ok(handle) => Some(handle),
        Err(e) => {
            let _ = failure_tx.send(LoadEvent::Failed(format!(
                "не удалось запустить фоновый поток: {e}"
            )));
            None
        }
    };
    Loader {
        events: rx,
        cancel,
        worker,
    }
}

/// The worker: prepare the source, show its data, and keep syncing until asked to stop.
fn run(
    source: &Source,
    clock: &SharedClock,
    stop: &AtomicBool,
    send: &dyn Fn(LoadEvent),
    views: &Sender<ViewRequest>,
    wall_only: bool,
) -> anyhow::Result<()> {
    let pack = RegionPack::load(&source.pack_dir)?;
    // The replica is open in the view worker from the first time it is shown.
    let ready = |store: &Store| -> anyhow::Result<()> {
        let can_act = !matches!(source.replica, Replica::Existing(_));
        let snapshot = snapshot(store, &pack, is_demo_source(source), can_act)?;
        let _ = views.send(ViewRequest::Open {
            db_path: snapshot.db_path.clone(),
            pack: Box::new((*snapshot.pack).clone()),
        });
        send(LoadEvent::Ready(Box::new(snapshot)));
        Ok(())
    };
    let (db_path, client, server_name, _embedded) = match &source.replica {
        Replica::Existing(path) => {
            if !path.exists() {
                anyhow::bail!("файл реплики {} не найден", path.display());
            }
            (path.clone(), None, None, None)
        }
        Replica::Remote {
            server,
            token,
            db,
            ca_cert,
        } => (
            db.clone(),
            Some(SyncClient::with_ca_certificate(
                server,
                token,
                ca_cert.as_deref(),
            )?),
            Some(server.clone()),
            None,
        ),
        Replica::Demo(dir) | Replica::DemoWall(dir) => {
            let wall = matches!(source.replica, Replica::DemoWall(_));
            let role = if wall { Role::Wall } else { Role::Curator };
            let embedded =
                start_demo_server(dir, &pack, source.demo_appeals, clock, stop, send, role)?;
            let client = SyncClient::new(&embedded.url, &embedded.token)?;
            (
                if wall {
                    wall_replica_in(dir)
                } else {
                    demo_replica_in(dir)
                },
                Some(client),
                Some("встроенный демо-сервер".to_string()),
                Some(embedded),
            )
        }
    };
    let Some(client) = client else {
        send(LoadEvent::Reading);
        let store = Store::open_existing(&db_path)?;
        return ready(&store);
    };

    let mut store = Store::open(&db_path)?;
    let mut status = SyncStatus {
        server: server_name.unwrap_or_default(),
        data_as_of: None,
        offline_since: None,
        last_error: None,
        pending_actions: 0,
        conflicts: 0,
        quarantined: 0,
    };
    let mut first = true;
    let mut backoff_secs = 1;
    // The wall's token is checked once the server can be reached, before anything is fetched.
    let mut role_checked = !wall_only;
    while !stop.load(Ordering::Relaxed) {
        let wait = if first { 0 } else { LONG_POLL_SECS };
        let mut progress = |cursor: i64, latest: i64| {
            if first && latest > 0 {
                send(LoadEvent::Progress {
                    what: "Синхронизация с сервером".into(),
                    done: cursor.max(0) as u64,
                    total: latest as u64,
                });
            }
        };
        let cursor_before = store.cursor()?;
        let role = if role_checked {
            Ok(())
        } else {
            match client.role() {
                Ok(Some(role)) if role == Role::Wall.code() => {
                    role_checked = true;
                    Ok(())
                }
                Ok(role) => anyhow::bail!(
                    "стена синхронизируется только с токеном роли «стена» (wall), а этот токен — {}: \
                     ничего не загружено; выдайте токен командой tsur-server token create --role wall",
                    role.map_or_else(
                        || "без роли (сервер её не сообщает)".into(),
                        |r| format!("роли «{r}»")
                    )
                ),
                Err(e) => Err(e),
            }
        };
        match role.and_then(|()| sync_once(&client, &mut store, wait, &mut progress)) {
            Ok(report) => {
                status.data_as_of = Some(clock.now_utc());
                status.offline_since = None;
                status.last_error = None;
                backoff_secs = 1;
                if first {
                    send(LoadEvent::Reading);
                    ready(&store)?;
                    first = false;
                } else if report.bulk {
                    let _ = views.send(ViewRequest::Reload);
                } else if !report.changed_appeals.is_empty() || !report.changed_problems.is_empty()
                {
                    let _ = views.send(ViewRequest::Synced {
                        appeals: report.changed_appeals,
                        problems: report.changed_problems,
                    });
                } else if report.pushed != Default::default() {
                    // Delivered actions change what the queue shows (pending → accepted or
                    // refused) even when nothing new came back.
                    let _ = views.send(ViewRequest::Synced {
                        appeals: Vec::new(),
                        problems: Vec::new(),
                    });
                }
            }
            Err(e) => {
                // Pages applied before the failure are in the replica but were never passed on:
                // the view worker reads the replica again.
                if !first && store.cursor()? != cursor_before {
                    let _ = views.send(ViewRequest::Reload);
                }
                status.offline_since.get_or_insert_with(|| clock.now_utc());
                status.last_error = Some(e.to_string());
                if first && store.cursor()? > 0 {
                    // Offline with a replica from before: show what we have.
                    ready(&store)?;
                    first = false;
                } else if first {
                    send(LoadEvent::Failed(format!(
                        "{e}; повтор через {backoff_secs} с"
                    )));
                }
                // Say so before waiting to retry.
                report_status(&store, &mut status, send)?;
                sleep_unless_stopped(stop, backoff_secs);
                backoff_secs = (backoff_secs * 2).min(60);
                continue;
            }
        }
        report_status(&store, &mut status, send)?;
    }
    Ok(())
}

/// Sends where syncing stands, with the outbox and quarantine counts read now.
fn report_status(
    store: &Store,
    status: &mut SyncStatus,
    send: &dyn Fn(LoadEvent),
) -> anyhow::Result<()> {
    status.pending_actions = store.outbox_count("pending")?;
    status.conflicts = store.outbox_count("conflict")?;
    status.quarantined = store.quarantined_count()?;
    send(LoadEvent::Sync(status.clone()));
    Ok(())
}

fn sleep_unless_stopped(stop: &AtomicBool, secs: u64) {
    for _ in 0..secs * 10 {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Starts the embedded demo server, seeding its database on first start. A database whose
/// seeding did not finish (the window was closed) is started over, together with the replica
/// synced from it.
fn start_demo_server(
    dir: &Path,
    pack: &RegionPack,
    appeals: u64,
    clock: &SharedClock,
    stop: &AtomicBool,
    send: &dyn Fn(LoadEvent),
    role: Role,
) -> anyhow::Result<EmbeddedServer> {
    std::fs::create_dir_all(dir)?;
    let server_db = demo_server_db_in(dir);
    let marker = demo_ready_marker(dir);
    remove_seed_leftovers(dir);
    if !marker.exists() {
        for path in [
            server_db.clone(),
            demo_replica_in(dir),
            wall_replica_in(dir),
        ] {
            for suffix in ["", "-wal", "-shm", ".model"] {
                let mut name = path.as_os_str().to_owned();
                name.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(name));
            }
        }
        let _ = std::fs::remove_dir_all(crate::sync::pack_dir_for(&demo_replica_in(dir)));
        let _ = std::fs::remove_dir_all(crate::sync::pack_dir_for(&wall_replica_in(dir)));
    }
    let today = clock.now_utc().with_timezone(&pack.offset()).date_naive();
    let params = DemoParams {
        appeals,
        seed: 1,
        now_utc: DemoParams::now_for_date(pack, today),
    };
    let mut progress = |p: SeedProgress| {
        let (what, done, total) = match p {
            SeedProgress::Generating { done, total } => {
                ("Первый запуск: создаётся демо-регион", done, total)
            }
            SeedProgress::Loading { done, total } => (
                "Первый запуск: демо-регион загружается на встроенный сервер",
                done,
                total,
            ),
        };
        send(LoadEvent::Progress {
            what: what.into(),
            done,
            total,
        });
        !stop.load(Ordering::Relaxed)
    };
    let embedded =
        EmbeddedServer::start_as(&server_db, pack.clone(), &params, &mut progress, role)?;
    std::fs::write(&marker, b"seeded\n")?;
    Ok(embedded)
}

/// Temporary files of a seeding that was killed (see `tsur_server::seed`).
fn remove_seed_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(".tsur-seed-")
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn is_demo_source(source: &Source) -> bool {
    matches!(source.replica, Replica::Demo(_) | Replica::DemoWall(_))
}

/// What the window needs to know of the replica and its region.
fn snapshot(
    store: &Store,
    pack: &RegionPack,
    is_demo: bool,
    can_act: bool,
) -> anyhow::Result<Snapshot> {
    let mut places: Vec<MapPlace> = pack
        .municipalities
        .iter()
        .map(|m| MapPlace {
            code: m.code.as_str().to_string(),
            name: m.short_name.clone(),
            lat: m.point.lat,
            lon: m.point.lon,
            population: m.population,
        })
        .collect();
    places.sort_by(|a, b| b.population.cmp(&a.population).then(a.name.cmp(&b.name)));
    Ok(Snapshot {
        db_path: store.path().to_path_buf(),
        is_demo: is_demo || store.sync_value("source")?.as_deref() == Some("demo"),
        region_name: pack.region.name.clone(),
        utc_offset: pack.offset(),
        centre: (pack.region.centre.lat, pack.region.centre.lon),
        bbox: (
            pack.region.bbox.min_lat,
            pack.region.bbox.max_lat,
            pack.region.bbox.min_lon,
            pack.region.bbox.max_lon,
        ),
        places,
        pack: Arc::new(pack.clone()),
        can_act,
    })
}

//! Background work that feeds the app: finds or creates the replica, reads the summary and the
//! map points. Runs on its own thread with its own SQLite connection; the UI only polls a channel.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::thread::JoinHandle;
use tsur_core::clock::SharedClock;
use tsur_core::demo::{DemoParams, write_demo_replica};
use tsur_core::pack::RegionPack;
use tsur_core::stats::Stats;
use tsur_core::store::Store;

/// Size of a map cell in degrees of latitude (about 1.1 km); longitude cells are scaled to match.
pub const CELL_DEG: f64 = 0.01;

/// Appeals aggregated into one map cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub lat: f64,
    pub lon: f64,
    pub count: u32,
}

/// A municipality as the map draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct MapPlace {
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    pub population: u32,
}

/// Everything the first window shows.
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
    pub stats: Stats,
    pub cells: Vec<Cell>,
    pub max_cell: u32,
    /// Largest first, so the map labels the places that matter when names would overlap.
    pub places: Vec<MapPlace>,
    /// Block names in pack order, so the panel lists them as the pack does.
    pub block_order: Vec<String>,
}

/// What the worker reports.
#[derive(Debug, Clone)]
pub enum LoadEvent {
    /// Creating the demo replica: appeals written so far.
    Generating {
        done: u64,
        total: u64,
    },
    Reading,
    Ready(Box<Snapshot>),
    Failed(String),
}

/// Where to read from.
#[derive(Debug, Clone)]
pub enum Replica {
    /// A replica the user named: it must exist.
    Existing(PathBuf),
    /// The demo replica, created on first start if missing.
    Demo(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Source {
    pub replica: Replica,
    pub pack_dir: PathBuf,
    /// Appeals in a demo replica created on first start.
    pub demo_appeals: u64,
}

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
            // The generator checks the flag every few thousand appeals: this is quick.
            let _ = worker.join();
        }
    }
}

/// Starts the worker. `repaint` is called after every event so the UI wakes up.
pub fn spawn(source: Source, clock: SharedClock, repaint: impl Fn() + Send + 'static) -> Loader {
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
            match load(&source, &clock, &stop, &send) {
                Ok(snapshot) => send(LoadEvent::Ready(Box::new(snapshot))),
                Err(e) => send(LoadEvent::Failed(format!("{e:#}"))),
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

fn load(
    source: &Source,
    clock: &SharedClock,
    stop: &AtomicBool,
    send: &dyn Fn(LoadEvent),
) -> anyhow::Result<Snapshot> {
    let pack = RegionPack::load(&source.pack_dir)?;
    let db_path = match &source.replica {
        Replica::Existing(path) | Replica::Demo(path) => path.clone(),
    };
    if !db_path.exists() {
        if let Replica::Existing(_) = source.replica {
            anyhow::bail!("файл реплики {} не найден", db_path.display());
        }
        let now = clock.now_utc();
        let today = now.with_timezone(&pack.offset()).date_naive();
        let params = DemoParams {
            appeals: source.demo_appeals,
            seed: 1,
            now_utc: DemoParams::now_for_date(&pack, today),
        };
        let mut progress = |done, total| {
            send(LoadEvent::Generating { done, total });
            !stop.load(Ordering::Relaxed)
        };
        write_demo_replica(&pack, &params, &db_path, false, &mut progress)?;
    }
    send(LoadEvent::Reading);
    let store = Store::open_existing(&db_path)?;
    let stats = Stats::compute(&store, &pack, clock.now_utc())?;
    let (cells, max_cell) = read_cells(&store)?;
    let mut places: Vec<MapPlace> = pack
        .municipalities
        .iter()
        .map(|m| MapPlace {
            name: m.short_name.clone(),
            lat: m.point.lat,
            lon: m.point.lon,
            population: m.population,
        })
        .collect();
    places.sort_by(|a, b| b.population.cmp(&a.population).then(a.name.cmp(&b.name)));
    Ok(Snapshot {
        db_path,
        is_demo: matches!(source.replica, Replica::Demo(_))
            || store.sync_value("source")?.as_deref() == Some("demo"),
        region_name: pack.region.name.clone(),
        utc_offset: pack.offset(),
        centre: (pack.region.centre.lat, pack.region.centre.lon),
        bbox: (
            pack.region.bbox.min_lat,
            pack.region.bbox.max_lat,
            pack.region.bbox.min_lon,
            pack.region.bbox.max_lon,
        ),
        stats,
        cells,
        max_cell,
        places,
        block_order: pack.blocks.iter().map(|b| b.name.clone()).collect(),
    })
}

/// Aggregates appeal points into grid cells (the map draws cells, not 200,000 dots).
fn read_cells(store: &Store) -> anyhow::Result<(Vec<Cell>, u32)> {
    let mut stmt = store
        .conn()
        .prepare("SELECT lat, lon FROM appeals WHERE lat IS NOT NULL AND lon IS NOT NULL")?;
    let mut counts: std::collections::HashMap<(i32, i32), u32> = std::collections::HashMap::new();
    let lon_cell = CELL_DEG * 1.7;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let lat: f64 = row.get(0)?;
        let lon: f64 = row.get(1)?;
        let key = (
            (lat / CELL_DEG).floor() as i32,
            (lon / lon_cell).floor() as i32,
        );
        *counts.entry(key).or_default() += 1;
    }
    let mut cells: Vec<Cell> = counts
        .into_iter()
        .map(|((la, lo), count)| Cell {
            lat: (f64::from(la) + 0.5) * CELL_DEG,
            lon: (f64::from(lo) + 0.5) * lon_cell,
            count,
        })
        .collect();
    // Draw dense cells last so they stay on top.
    cells.sort_by(|a, b| a.count.cmp(&b.count).then(a.lat.total_cmp(&b.lat)));
    let max = cells.iter().map(|c| c.count).max().unwrap_or(0);
    Ok((cells, max))
}

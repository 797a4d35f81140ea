//! The view worker: the thread that holds the read model of the replica and answers what the
//! screens ask — the operator screen (KPI tiles, the queue, the map layers), a case, the review
//! — and records operator actions in the outbox. The UI never touches SQLite or aggregates: it
//! sends a [`ViewRequest`] and draws the last [`ViewEvent`] it got (ENGINEERING §4).
//!
//! Requests are coalesced: when several arrive while one is computed, only the newest query of
//! each kind is answered, and every sync's changes are applied before it.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Instant;
use tsur_core::analytics::heat::{DensityGrid, GridSpec, density};
use tsur_core::analytics::report::Report;
use tsur_core::analytics::{
    AppealFacts, Figure, Filter, NO_CODE, NO_TIME, ProblemInfo, ReadModel, figures, is_overdue,
    timeliness,
};
use tsur_core::clock::SharedClock;
use tsur_core::deadline::{ClockKind, SlaState, adjustments_from_events, describe};
use tsur_core::domain::{Appeal, AppealId, Channel, Regime, Status};
use tsur_core::pack::RegionPack;
use tsur_core::store::{OutboxAction, Store};
use tsur_core::sync::{Action, ActionKind};

/// Rows of a queue sent to the screen; the rest are counted (the table says how many more).
pub const QUEUE_ROWS: usize = 500;
/// Single appeals sent for the map's zoomed-in layer.
pub const MAP_POINTS: usize = 50_000;
/// Weeks in a KPI tile's sparkline.
pub const SPARK_WEEKS: usize = 8;
/// The heat grid's cell (degrees of latitude) and kernel radius (cells).
const HEAT_CELL_DEG: f64 = 0.02;
const HEAT_RADIUS_CELLS: u32 = 3;

/// The period the figures cover, ending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Week,
    Month,
    Quarter,
    Year,
    All,
}

impl Period {
    pub const ALL: [Period; 5] = [
        Period::Week,
        Period::Month,
        Period::Quarter,
        Period::Year,
        Period::All,
    ];

    pub fn label_ru(self) -> &'static str {
        match self {
            Period::Week => "7 дней",
            Period::Month => "30 дней",
            Period::Quarter => "90 дней",
            Period::Year => "год",
            Period::All => "всё время",
        }
    }

    pub fn days(self) -> Option<i64> {
        match self {
            Period::Week => Some(7),
            Period::Month => Some(30),
            Period::Quarter => Some(90),
            Period::Year => Some(365),
            Period::All => None,
        }
    }
}

/// Which appeals a queue lists. Every tab but a figure's lists open appeals, whenever received.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QueueTab {
    All,
    /// A block, by code.
    Block(String),
    /// Escalated to the block head (п.10.2).
    Escalated,
    Overdue,
    /// The appeals that make a KPI figure, within the period and the block (by code) the figure
    /// was computed for (opened from its tile).
    Figure(FigureFocus, Option<String>),
    /// Every appeal of a problem, whatever its status (opened from the map).
    Problem(i64),
}

/// What a KPI tile's queue lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FigureFocus {
    /// Overdue now.
    Overdue,
    /// Open, deadline within the at-risk window.
    AtRisk,
    /// Answered late, or still unanswered past the deadline.
    Late,
    /// Rated 1–3 by the citizen.
    Unsatisfied,
    /// Repeat appeals.
    Repeats,
    /// Answered without an answer on the merits.
    NotOnMerits,
    /// Received in the period (figures about all appeals).
    Received,
}

impl FigureFocus {
    /// The queue behind a KPI of the pack (`kpi.toml` ids) computed for `block` (a code).
    pub fn of_kpi(id: &str, block: Option<String>) -> (QueueTab, &'static str) {
        let figure = |f: FigureFocus, what| (QueueTab::Figure(f, block.clone()), what);
        match id {
            "overdue_now" => figure(FigureFocus::Overdue, "просроченные"),
            "at_risk_24h" => figure(FigureFocus::AtRisk, "под угрозой просрочки"),
            "on_time_share" | "avg_answer_days" | "median_answer_days" | "p90_answer_days" => {
                figure(FigureFocus::Late, "с нарушением срока")
            }
            "satisfaction_share" => figure(FigureFocus::Unsatisfied, "с оценкой ниже 4"),
            "repeat_share" => figure(FigureFocus::Repeats, "повторные"),
            "merits_share" => figure(FigureFocus::NotOnMerits, "без ответа по существу"),
            _ => figure(FigureFocus::Received, "за период"),
        }
    }

    pub fn label_ru(self) -> &'static str {
        match self {
            FigureFocus::Overdue => "Просрочено за период",
            FigureFocus::AtRisk => "Под угрозой",
            FigureFocus::Late => "С нарушением срока",
            FigureFocus::Unsatisfied => "Оценка ниже 4",
            FigureFocus::Repeats => "Повторные",
            FigureFocus::NotOnMerits => "Не по существу",
            FigureFocus::Received => "За период",
        }
    }
}

/// Columns a queue sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    Deadline,
    Regime,
    Channel,
    Municipality,
    Organisation,
    Status,
    Age,
}

/// What municipalities are coloured by on the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaMeasure {
    /// Appeals per 10,000 residents in the period.
    PerCapita,
    /// Share of open appeals that are overdue.
    OverdueShare,
    /// Share of rated appeals rated 4–5.
    Satisfaction,
}

impl AreaMeasure {
    pub const ALL: [AreaMeasure; 3] = [
        AreaMeasure::PerCapita,
        AreaMeasure::OverdueShare,
        AreaMeasure::Satisfaction,
    ];

    pub fn label_ru(self) -> &'static str {
        match self {
            AreaMeasure::PerCapita => "Обращений на 10 тыс. жителей",
            AreaMeasure::OverdueShare => "Доля просроченных",
            AreaMeasure::Satisfaction => "Удовлетворённость",
        }
    }

    /// Whether a higher value is worse (the colour ramp runs from good to bad).
    pub fn higher_is_worse(self) -> bool {
        !matches!(self, AreaMeasure::Satisfaction)
    }
}

/// Everything the operator screen depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OperatorQuery {
    pub period: Period,
    /// A municipality code (a click on the map), or every one.
    pub municipality: Option<String>,
    pub tab: QueueTab,
    /// Words to find in the text, the address or the number.
    pub search: String,
    pub sort: SortKey,
    pub descending: bool,
    pub area_measure: AreaMeasure,
}

impl Default for OperatorQuery {
    fn default() -> Self {
        OperatorQuery {
            period: Period::Month,
            municipality: None,
            tab: QueueTab::All,
            search: String::new(),
            sort: SortKey::Deadline,
            descending: false,
            area_measure: AreaMeasure::PerCapita,
        }
    }
}

/// What the UI asks.
#[derive(Debug, Clone)]
pub enum ViewRequest {
    /// The replica is ready (sent by the loader once, and again if it is replaced).
    Open {
        db_path: PathBuf,
        pack: Box<RegionPack>,
    },
    /// What a sync brought (sent by the loader).
    Synced {
        appeals: Vec<AppealFacts>,
        problems: Vec<ProblemInfo>,
    },
    /// The replica was loaded in bulk: read it again.
    Reload,
    /// The operator screen for a query; `seq` is echoed in the answer.
    Operator {
        query: OperatorQuery,
        seq: u64,
    },
    Case(AppealId),
    Review(Period),
    /// The video wall's figures for a period (recomputed on each change, and when asked again);
    /// with a report per block for the briefing's appendix.
    Wall {
        period: Period,
        with_blocks: bool,
        /// Echoed in [`WallData::seq`].
        seq: u64,
    },
    /// The wall and the briefing are no longer shown: their figures are not kept up to date.
    StopWall,
    /// An action on appeals, each with the version the operator saw.
    Act {
        appeals: Vec<(AppealId, i64)>,
        kind: ActionKind,
        seq: u64,
    },
}

/// A row of a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    pub id: AppealId,
    pub version: i64,
    pub due_utc: Option<i64>,
    pub sla: Option<SlaState>,
    pub regime: Regime,
    pub channel: Channel,
    pub municipality: String,
    pub organisation: String,
    pub status: Status,
    pub received_utc: i64,
    pub assignee: Option<String>,
    pub topic: String,
    /// The start of the text.
    pub excerpt: String,
    /// Actions waiting to be delivered, in words ("эскалировать"), when any.
    pub pending: Vec<String>,
    /// Actions the server did not accept, with why.
    pub refused: Vec<String>,
}

/// A KPI tile: the figure, its target and the weeks before.
#[derive(Debug, Clone, PartialEq)]
pub struct Tile {
    pub figure: Figure,
    /// Values of the last [`SPARK_WEEKS`] weeks, oldest first (`None`: no data that week).
    pub weeks: Vec<Option<f64>>,
}

/// A problem on the map.
#[derive(Debug, Clone, PartialEq)]
pub struct ProblemMarker {
    pub id: i64,
    pub title: String,
    pub lat: f64,
    pub lon: f64,
    pub appeals: u64,
    pub open: u64,
    pub overdue: u64,
}

/// An appeal on the map (zoomed in).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MapPoint {
    pub id: AppealId,
    pub lat: f32,
    pub lon: f32,
    pub overdue: bool,
}

/// Counts for the top of the KPI panel.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    /// Every appeal in the replica.
    pub replica: u64,
    /// Received in the period (and the municipality and block chosen).
    pub total: u64,
    /// Open, overdue and at risk now, whenever received (municipality and block chosen).
    pub open: u64,
    pub overdue: u64,
    pub at_risk: u64,
}

/// The operator screen's data for one query.
#[derive(Debug, Clone)]
pub struct OperatorView {
    pub query: OperatorQuery,
    /// The newest request the worker had read when it made this view: a view with a lower
    /// number than the app's last request is already out of date.
    pub seq: u64,
    pub totals: Totals,
    pub tiles: Vec<Tile>,
    pub rows: Vec<QueueRow>,
    /// Appeals in the queue (rows holds the first [`QUEUE_ROWS`]).
    pub queue_len: usize,
    /// Open appeals per tab, for the tab labels: "Все", each block by code, escalated, overdue.
    pub tab_counts: HashMap<QueueTab, u64>,
    pub heat: DensityGrid,
    /// Value per municipality code for the area layer.
    pub areas: HashMap<String, f64>,
    pub problems: Vec<ProblemMarker>,
    pub points: Vec<MapPoint>,
    /// Milliseconds the worker took (shown in the status line for people who care).
    pub computed_ms: u64,
}

/// An entry of the case's history.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseAction {
    pub what: String,
    pub state: String,
    pub detail: Option<String>,
}

/// Another appeal linked to the case.
#[derive(Debug, Clone, PartialEq)]
pub struct Related {
    pub id: AppealId,
    pub relation: &'static str,
    pub status: Status,
    pub excerpt: String,
}

/// Everything the case screen shows.
#[derive(Debug, Clone)]
pub struct CaseView {
    pub appeal: Appeal,
    /// Each deadline with its explanation.
    pub deadlines: Vec<String>,
    pub sla: Option<SlaState>,
    pub related: Vec<Related>,
    pub problem_title: Option<String>,
    /// The operator's actions on it from the outbox, newest first.
    pub actions: Vec<CaseAction>,
    /// Answer templates for its topic from the region pack.
    pub templates: Vec<(String, String)>,
}

/// Weeks in the review's trend charts.
pub const TREND_WEEKS: usize = 12;

/// One week of the review's trend charts.
#[derive(Debug, Clone, PartialEq)]
pub struct WeekFigures {
    /// The week's start (unix seconds).
    pub from_utc: i64,
    pub received: u64,
    pub on_time_share: Option<f64>,
    pub satisfaction_share: Option<f64>,
}

/// The review mode's data: the full report of the period and the weekly trend.
#[derive(Debug, Clone)]
pub struct ReviewData {
    pub period: Period,
    pub report: Report,
    pub weeks: Vec<WeekFigures>,
}

/// A new social-media incident on the wall's feed: what, where, when; never who or what they wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedItem {
    pub id: AppealId,
    pub received_utc: i64,
    pub topic: String,
    pub municipality: String,
    /// The first reaction has been given.
    pub reacted: bool,
    pub overdue: bool,
}

/// What the video wall shows. It holds figures, names from the pack and problem titles (which
/// name a building, never a flat), each text scrubbed of anything that looks like a phone
/// number or an e-mail address ([`crate::wall::scrub`]): the wall never receives personal data.
#[derive(Debug, Clone)]
pub struct WallData {
    /// The number of the request it answers.
    pub seq: u64,
    pub period: Period,
    /// The clock when it was computed.
    pub computed_utc: i64,
    /// Open, overdue and at risk now, whenever received; received in the period.
    pub totals: Totals,
    pub tiles: Vec<Tile>,
    pub heat: DensityGrid,
    /// Overdue share of open appeals per municipality code (the map's circles).
    pub areas: HashMap<String, f64>,
    pub problems_on_map: Vec<ProblemMarker>,
    /// Headline against the previous period, blocks, ranking, problems and surges.
    pub report: Report,
    /// Open overdue appeals now per municipality (short name), most first.
    pub overdue_places: Vec<(String, u64)>,
    /// The earliest deadline missed among the open overdue appeals.
    pub overdue_since_utc: Option<i64>,
    /// Newest social-media incidents first.
    pub feed: Vec<FeedItem>,
    /// Each block of the pack with its own report (asked for by the briefing only).
    pub blocks: Vec<BlockReport>,
}

/// A sector block's own figures for the briefing's appendix.
#[derive(Debug, Clone)]
pub struct BlockReport {
    pub code: String,
    pub name: String,
    pub report: Report,
}

/// Incidents on the wall's feed.
pub const WALL_FEED: usize = 12;

/// What the worker answers.
#[derive(Debug, Clone)]
pub enum ViewEvent {
    /// The read model is being (re)loaded.
    Loading,
    Operator(Box<OperatorView>),
    Case(Box<CaseView>),
    Review(Box<ReviewData>),
    Wall(Box<WallData>),
    /// Actions were recorded in the outbox: how many, and what; `seq` is the request's.
    Queued {
        count: usize,
        what: String,
        seq: u64,
    },
    /// The action of request `seq` was not recorded, and why.
    NotRecorded {
        seq: u64,
        text: String,
    },
    Failed(String),
}

/// The briefing's figures straight from a replica, without the app (`tsur report`).
pub fn briefing_data(
    db_path: PathBuf,
    pack: RegionPack,
    clock: SharedClock,
    period: Period,
) -> anyhow::Result<WallData> {
    let worker = Worker::open(db_path, pack, clock)?;
    Ok(worker.wall(period, true))
}

/// Starts the worker thread. It waits for [`ViewRequest::Open`] before answering anything else.
pub fn spawn(
    requests: Receiver<ViewRequest>,
    events: Sender<ViewEvent>,
    clock: SharedClock,
    repaint: impl Fn() + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("tsur-views".into())
        .spawn(move || {
            let send = |event: ViewEvent| {
                let _ = events.send(event);
                repaint();
            };
            let mut worker: Option<Worker> = None;
            let mut wanted = Wanted::default();
            let mut seq = 0;
            // Ends when the app drops its sender.
            while let Ok(first) = requests.recv() {
                let mut batch = vec![first];
                batch.extend(requests.try_iter());
                for request in batch {
                    match request {
                        ViewRequest::Open { db_path, pack } => {
                            send(ViewEvent::Loading);
                            match Worker::open(db_path, *pack, clock.clone()) {
                                Ok(w) => {
                                    worker = Some(w);
                                    wanted.refresh_all();
                                }
                                Err(e) => send(ViewEvent::Failed(format!("{e:#}"))),
                            }
                        }
                        ViewRequest::Reload => {
                            if let Some(w) = worker.as_mut() {
                                send(ViewEvent::Loading);
                                if let Err(e) = w.reload() {
                                    send(ViewEvent::Failed(format!("{e:#}")));
                                }
                                wanted.refresh_all();
                            }
                        }
                        ViewRequest::Synced { appeals, problems } => {
                            if let Some(w) = worker.as_mut() {
                                w.apply(appeals, problems);
                                wanted.refresh_all();
                            }
                        }
                        ViewRequest::Operator { query, seq: s } => {
                            seq = seq.max(s);
                            wanted.operator = Some((query, true));
                        }
                        ViewRequest::Case(id) => wanted.case = Some((id, true)),
                        ViewRequest::Review(p) => wanted.review = Some((p, true)),
                        ViewRequest::Wall {
                            period,
                            with_blocks,
                            seq,
                        } => wanted.wall = Some(((period, with_blocks, seq), true)),
                        ViewRequest::StopWall => wanted.wall = None,
                        ViewRequest::Act {
                            appeals,
                            kind,
                            seq: s,
                        } => {
                            seq = seq.max(s);
                            let Some(w) = worker.as_ref() else {
                                send(ViewEvent::NotRecorded {
                                    seq: s,
                                    text: "данные ещё не открыты: действие не записано".into(),
                                });
                                continue;
                            };
                            match w.act(&appeals, &kind) {
                                Ok(count) => send(ViewEvent::Queued {
                                    count,
                                    what: action_label(&kind),
                                    seq: s,
                                }),
                                Err(e) => send(ViewEvent::NotRecorded {
                                    seq: s,
                                    text: format!("действие не записано: {e:#}"),
                                }),
                            }
                            // The queue and the case show the local result at once.
                            wanted.refresh_all();
                        }
                    }
                }
                let Some(w) = worker.as_mut() else {
                    continue;
                };
                if let Some((q, true)) = &wanted.operator {
                    match w.operator(q) {
                        Ok(mut view) => {
                            view.seq = seq;
                            send(ViewEvent::Operator(Box::new(view)));
                        }
                        Err(e) => send(ViewEvent::Failed(format!("{e:#}"))),
                    }
                }
                if let Some((id, true)) = wanted.case {
                    match w.case(id) {
                        Ok(Some(view)) => send(ViewEvent::Case(Box::new(view))),
                        Ok(None) => {
                            send(ViewEvent::Failed(format!("обращения №{id} нет в реплике")))
                        }
                        Err(e) => send(ViewEvent::Failed(format!("{e:#}"))),
                    }
                }
                if let Some((period, true)) = wanted.review {
                    send(ViewEvent::Review(Box::new(w.review(period))));
                }
                if let Some(((period, with_blocks, seq), true)) = wanted.wall {
                    let mut data = w.wall(period, with_blocks);
                    data.seq = seq;
                    send(ViewEvent::Wall(Box::new(data)));
                }
                wanted.answered();
            }
            // The app closed: the loader has stopped and every change it passed on is applied,
            // so the model is the replica as it is now. Saved for a fast next start.
            if let Some(w) = worker.as_mut() {
                match snapshot_key(&w.store) {
                    Ok(key) => w.save_snapshot(key),
                    Err(e) => eprintln!("tsur: снимок модели не сохранён: {e:#}"),
                }
            }
        })
}

/// The newest query of each kind, and whether it still needs an answer.
#[derive(Default)]
struct Wanted {
    operator: Option<(OperatorQuery, bool)>,
    case: Option<(AppealId, bool)>,
    review: Option<(Period, bool)>,
    wall: Option<((Period, bool, u64), bool)>,
}

impl Wanted {
    fn refresh_all(&mut self) {
        if let Some((_, due)) = self.operator.as_mut() {
            *due = true;
        }
        if let Some((_, due)) = self.case.as_mut() {
            *due = true;
        }
        if let Some((_, due)) = self.review.as_mut() {
            *due = true;
        }
        // The wall follows every change; the briefing (with the blocks' reports) is a snapshot
        // that holds still while it is presented, made again only when asked.
        if let Some(((_, false, _), due)) = self.wall.as_mut() {
            *due = true;
        }
    }

    fn answered(&mut self) {
        if let Some((_, due)) = self.operator.as_mut() {
            *due = false;
        }
        if let Some((_, due)) = self.case.as_mut() {
            *due = false;
        }
        if let Some((_, due)) = self.review.as_mut() {
            *due = false;
        }
        if let Some((_, due)) = self.wall.as_mut() {
            *due = false;
        }
    }
}

/// An action in the outbox: its state, the action, and what the server said of it.
type OutboxEntry = (String, ActionKind, String);

/// The state of the worker thread: its own connection, the pack and the read model.
struct Worker {
    store: Store,
    pack: RegionPack,
    model: ReadModel,
    clock: SharedClock,
    /// Problem points (the read model keeps no coordinates of problems).
    problem_points: HashMap<i64, (f64, f64)>,
    /// The replica state the saved model file was made from, if it is current.
    saved_key: Option<String>,
    /// False after a failed reload: the model misses changes and must not be saved.
    model_current: bool,
    /// The last panel computed, and for what (cleared when the data changes).
    panel: Option<(PanelKey, Panel)>,
    /// The last search and the appeals it found (cleared when the data changes).
    search_cache: Option<(String, std::sync::Arc<HashSet<AppealId>>)>,
}

/// What a [`Panel`] depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PanelKey {
    period: Period,
    municipality: Option<String>,
    block: Option<String>,
    area_measure: AreaMeasure,
    /// The clock to the minute: figures that depend on "now" are recomputed every minute.
    minute: i64,
}

/// The operator screen apart from the queue.
#[derive(Debug, Clone)]
struct Panel {
    totals: Totals,
    tiles: Vec<Tile>,
    tab_counts: HashMap<QueueTab, u64>,
    heat: DensityGrid,
    areas: HashMap<String, f64>,
    problems: Vec<ProblemMarker>,
}

/// The saved read model beside the replica: `replica.sqlite.model`.
fn snapshot_path(db: &std::path::Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".model");
    PathBuf::from(name)
}

/// Gives the replica an id for its saved models, once. A replica that cannot be written to (a
/// read-only file, or one locked too long by the loader) simply has no saved model: `None`.
fn ensure_replica_id(store: &Store) -> Option<String> {
    match store.sync_value("replica_id") {
        Ok(Some(id)) => Some(id),
        Ok(None) => {
            let id = uuid::Uuid::now_v7().to_string();
            match store.set_sync_value("replica_id", &id) {
                Ok(()) => Some(id),
                Err(e) => {
                    eprintln!("tsur: модель не будет сохраняться для этой реплики: {e}");
                    None
                }
            }
        }
        Err(e) => {
            eprintln!("tsur: {e}");
            None
        }
    }
}

/// Names the state of a replica: which replica (its id), and how far it is (every change comes
/// through the sync, which moves the cursor). `None` for a replica without an id.
fn snapshot_key(store: &Store) -> anyhow::Result<Option<String>> {
    let Some(id) = store.sync_value("replica_id")? else {
        return Ok(None);
    };
    let max_id: Option<i64> = store
        .conn()
        .query_row("SELECT max(id) FROM appeals", [], |r| r.get(0))?;
    Ok(Some(format!(
        "{id}/{}/{}/{}",
        store.cursor()?,
        max_id.unwrap_or(0),
        store.schema_version()?
    )))
}

/// The key and the model read from one read transaction, so the model is exactly the state the
/// key names even while the loader writes pages.
fn load_consistent(store: &Store) -> anyhow::Result<(Option<String>, ReadModel)> {
    let conn = store.conn();
    let own_transaction = conn.is_autocommit();
    if own_transaction {
        conn.execute_batch("BEGIN")?;
    }
    let loaded = snapshot_key(store).and_then(|key| Ok((key, ReadModel::load(store)?)));
    // A read transaction: ending it cannot lose anything, and it must not stay open (it would
    // hold back WAL checkpoints and refuse the next BEGIN).
    if own_transaction && conn.execute_batch("COMMIT").is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    loaded
}

impl Worker {
    fn open(db_path: PathBuf, pack: RegionPack, clock: SharedClock) -> anyhow::Result<Worker> {
        let store = Store::open_existing(&db_path)?;
        // The saved model when it was made from this very state of the replica; else the
        // replica is read (seconds for a million appeals) and the model saved for next time.
        ensure_replica_id(&store);
        let path = snapshot_path(&db_path);
        let saved = match snapshot_key(&store)? {
            Some(key) => match ReadModel::read_snapshot(&path, &key) {
                Ok(saved) => saved.map(|model| (model, key)),
                Err(e) => {
                    eprintln!("tsur: {e}; модель читается из реплики");
                    None
                }
            },
            None => None,
        };
        let (model, model_key, saved_key) = match saved {
            Some((model, key)) => (model, Some(key.clone()), Some(key)),
            None => {
                let (key, model) = load_consistent(&store)?;
                (model, key, None)
            }
        };
        let mut worker = Worker {
            store,
            pack,
            model,
            clock,
            problem_points: HashMap::new(),
            saved_key,
            model_current: true,
            panel: None,
            search_cache: None,
        };
        worker.read_problem_points()?;
        worker.save_snapshot(model_key);
        Ok(worker)
    }

    fn reload(&mut self) -> anyhow::Result<()> {
        // Until the replica is read again, the model in memory misses changes: it is not saved.
        self.model_current = false;
        let (key, model) = load_consistent(&self.store)?;
        self.model = model;
        self.model_current = true;
        self.panel = None;
        self.search_cache = None;
        self.saved_key = None;
        self.read_problem_points()?;
        self.save_snapshot(key);
        Ok(())
    }

    /// Saves the model under `key` — the replica state it holds — unless the saved file already
    /// is that, there is no key, or the model is known to miss changes. A failure only costs the
    /// next start its speed, so it is reported and otherwise ignored.
    fn save_snapshot(&mut self, key: Option<String>) {
        let Some(key) = key else {
            return;
        };
        if !self.model_current || self.saved_key.as_deref() == Some(key.as_str()) {
            return;
        }
        match self
            .model
            .write_snapshot(&snapshot_path(self.store.path()), &key)
        {
            Ok(()) => self.saved_key = Some(key),
            Err(e) => eprintln!("tsur: {e}"),
        }
    }

    fn read_problem_points(&mut self) -> anyhow::Result<()> {
        let mut stmt = self.store.conn().prepare(
            "SELECT id, lat, lon FROM problems WHERE lat IS NOT NULL AND lon IS NOT NULL",
        )?;
        let points = stmt
            .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
            .collect::<Result<HashMap<i64, (f64, f64)>, _>>()?;
        self.problem_points = points;
        Ok(())
    }

    fn apply(&mut self, appeals: Vec<AppealFacts>, problems: Vec<ProblemInfo>) {
        if !appeals.is_empty() || !problems.is_empty() {
            self.panel = None;
            self.search_cache = None;
            // The saved file no longer is this model.
            self.saved_key = None;
        }
        for facts in appeals {
            self.model.upsert(facts);
        }
        let had_new_problem = problems
            .iter()
            .any(|p| !self.problem_points.contains_key(&p.id));
        for problem in problems {
            self.model.upsert_problem(problem);
        }
        if had_new_problem {
            // A few rows by primary key; a failure only leaves a marker off the map.
            let _ = self.read_problem_points();
        }
    }

    fn now(&self) -> i64 {
        self.clock.now_utc().timestamp()
    }

    fn at_risk_secs(&self) -> i64 {
        i64::from(self.pack.region.at_risk_window_hours) * 3_600
    }

    /// The filter of the KPI panel and the map: the period, the municipality and the block tab.
    fn filter(&self, q: &OperatorQuery) -> Filter {
        let now = self.now();
        Filter {
            from_utc: q.period.days().map(|d| now - d * 86_400),
            to_utc: q.period.days().map(|_| now + 1),
            municipality: q.municipality.clone(),
            block: match &q.tab {
                QueueTab::Block(code) | QueueTab::Figure(_, Some(code)) => Some(code.clone()),
                _ => None,
            },
            ..Filter::default()
        }
    }

    fn sla(&self, i: usize, now: i64) -> Option<SlaState> {
        let m = &self.model;
        let due = m.due[i];
        if due == NO_TIME {
            return None;
        }
        let status = m.status[i];
        if status.is_open() {
            Some(if status.pauses_clock() {
                SlaState::Paused
            } else if due <= now {
                SlaState::Overdue
            } else if due - now <= self.at_risk_secs() {
                SlaState::AtRisk
            } else {
                SlaState::OnTrack
            })
        } else if m.answered[i] != NO_TIME {
            Some(if m.answered[i] < due {
                SlaState::AnsweredOnTime
            } else {
                SlaState::AnsweredLate
            })
        } else {
            None
        }
    }

    /// Whether row `i` belongs to `tab` (municipality and search are checked apart).
    fn in_tab(
        &self,
        i: usize,
        tab: &QueueTab,
        block: Option<u16>,
        period: (i64, i64),
        now: i64,
    ) -> bool {
        let m = &self.model;
        let status = m.status[i];
        match tab {
            QueueTab::All => status.is_open(),
            QueueTab::Block(_) => status.is_open() && Some(m.block[i]) == block,
            QueueTab::Escalated => status == Status::Escalated,
            QueueTab::Overdue => is_overdue(m, i, now),
            QueueTab::Problem(p) => m.problem[i] == *p,
            QueueTab::Figure(focus, _) => {
                let received = m.received[i];
                if received < period.0 || received >= period.1 {
                    return false;
                }
                if block.is_some_and(|b| m.block[i] != b) {
                    return false;
                }
                // The same tests the KPI computation makes.
                match focus {
                    FigureFocus::Overdue => is_overdue(m, i, now),
                    FigureFocus::AtRisk => self.sla(i, now) == Some(SlaState::AtRisk),
                    FigureFocus::Late => timeliness(m, i, now) == Some(false),
                    FigureFocus::Unsatisfied => (1..=3).contains(&m.rating[i]),
                    FigureFocus::Repeats => m.is_repeat[i],
                    FigureFocus::NotOnMerits => m.answers[i] > 0 && m.merits_answers[i] == 0,
                    FigureFocus::Received => true,
                }
            }
        }
    }

    fn operator(&mut self, q: &OperatorQuery) -> anyhow::Result<OperatorView> {
        let started = Instant::now();
        let now = self.now();
        let m = &self.model;
        let filter = self.filter(q);
        let period = (
            filter.from_utc.unwrap_or(i64::MIN),
            filter.to_utc.unwrap_or(i64::MAX),
        );
        let code = |codes: &tsur_core::analytics::Codes, wanted: &Option<String>| match wanted {
            None => Ok(None),
            Some(c) => codes.get(c).map(Some).ok_or(()),
        };
        let municipality = code(&m.municipalities, &q.municipality);
        let block = match &q.tab {
            QueueTab::Block(c) | QueueTab::Figure(_, Some(c)) => code(&m.blocks, &Some(c.clone())),
            _ => Ok(None),
        };
        let found = if q.search.trim().is_empty() {
            None
        } else {
            let wanted = q.search.trim().to_lowercase();
            match &self.search_cache {
                Some((text, found)) if *text == wanted => Some(found.clone()),
                _ => {
                    let found = std::sync::Arc::new(self.search(&wanted)?);
                    self.search_cache = Some((wanted, found.clone()));
                    Some(found)
                }
            }
        };

        // The queue: a pass over the model's columns.
        let mut rows: Vec<usize> = match (municipality, block) {
            (Ok(muni), Ok(block)) => (0..m.len())
                .filter(|&i| {
                    muni.is_none_or(|c| m.municipality[i] == c)
                        && self.in_tab(i, &q.tab, block, period, now)
                        && found.as_ref().is_none_or(|f| f.contains(&m.id[i]))
                })
                .collect(),
            // A code nobody has used yet: an empty queue, not an error.
            _ => Vec::new(),
        };
        self.sort(&mut rows, q.sort, q.descending);
        let queue_len = rows.len();
        let points = rows
            .iter()
            .filter(|&&i| m.lat[i].is_finite() && m.lon[i].is_finite())
            .take(MAP_POINTS)
            .map(|&i| MapPoint {
                id: m.id[i],
                lat: m.lat[i],
                lon: m.lon[i],
                overdue: is_overdue(m, i, now),
            })
            .collect();
        rows.truncate(QUEUE_ROWS);
        let rows = self.queue_rows(&rows, now)?;

        let key = PanelKey {
            period: q.period,
            municipality: q.municipality.clone(),
            block: filter.block.clone(),
            area_measure: q.area_measure,
            minute: now.div_euclid(60),
        };
        if self.panel.as_ref().is_none_or(|(k, _)| *k != key) {
            let panel = self.panel(q, &filter, municipality, now);
            self.panel = Some((key, panel));
        }
        let Some((_, panel)) = self.panel.as_ref() else {
            anyhow::bail!("показатели не рассчитаны");
        };
        let panel = panel.clone();
        Ok(OperatorView {
            query: q.clone(),
            seq: 0,
            totals: panel.totals,
            tiles: panel.tiles,
            rows,
            queue_len,
            tab_counts: panel.tab_counts,
            heat: panel.heat,
            areas: panel.areas,
            problems: panel.problems,
            points,
            computed_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// What the panel, the map and the tab labels show: it depends on the period, the
    /// municipality and the block, not on the queue's search or order, so it is kept until one
    /// of those or the data changes.
    fn panel(
        &self,
        q: &OperatorQuery,
        filter: &Filter,
        municipality: Result<Option<u16>, ()>,
        now: i64,
    ) -> Panel {
        let m = &self.model;
        // Tab counts, for the municipality chosen.
        let mut tab_counts: HashMap<QueueTab, u64> = HashMap::new();
        if let Ok(muni) = municipality {
            let block_codes: Vec<(u16, String)> = self
                .pack
                .blocks
                .iter()
                .filter_map(|b| Some((m.blocks.get(b.code.as_str())?, b.code.to_string())))
                .collect();
            for i in 0..m.len() {
                if muni.is_some_and(|c| m.municipality[i] != c) {
                    continue;
                }
                let status = m.status[i];
                if status.is_open() {
                    *tab_counts.entry(QueueTab::All).or_default() += 1;
                    if let Some((_, code)) = block_codes.iter().find(|(b, _)| *b == m.block[i]) {
                        *tab_counts.entry(QueueTab::Block(code.clone())).or_default() += 1;
                    }
                }
                if status == Status::Escalated {
                    *tab_counts.entry(QueueTab::Escalated).or_default() += 1;
                }
                if is_overdue(m, i, now) {
                    *tab_counts.entry(QueueTab::Overdue).or_default() += 1;
                }
            }
        }

        let window = self.at_risk_secs();
        let in_period = tsur_core::analytics::Kpis::compute(m, filter, now, window);
        // Open, overdue and at risk now, whenever received.
        let now_open = tsur_core::analytics::Kpis::compute(
            m,
            &Filter {
                from_utc: None,
                to_utc: None,
                ..filter.clone()
            },
            now,
            window,
        );
        let totals = Totals {
            replica: m.len() as u64,
            total: in_period.total,
            open: now_open.open,
            overdue: now_open.overdue,
            at_risk: now_open.at_risk_24h,
        };
        let tiles = self.tiles(filter, now);
        let heat = density(
            m,
            &Filter {
                // The heat shows where appeals come from in the period, whatever the tab.
                municipality: None,
                ..filter.clone()
            },
            GridSpec::covering(&self.pack.region.bbox, HEAT_CELL_DEG, HEAT_RADIUS_CELLS),
        );
        let areas = self.areas(filter, q.area_measure, now);
        let problems = self.problem_markers(filter, now);
        Panel {
            totals,
            tiles,
            tab_counts,
            heat,
            areas,
            problems,
        }
    }

    /// Ids of appeals whose text, address or number contains every word of `query`
    /// (case-insensitive, Cyrillic included: SQLite's LIKE folds ASCII only, so Rust compares).
    fn search(&self, query: &str) -> anyhow::Result<HashSet<AppealId>> {
        let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        let mut stmt = self
            .store
            .conn()
            .prepare("SELECT id, text, coalesce(address, '') FROM appeals")?;
        let mut rows = stmt.query([])?;
        let mut found = HashSet::new();
        while let Some(row) = rows.next()? {
            let id: AppealId = row.get(0)?;
            let text: String = row.get(1)?;
            let address: String = row.get(2)?;
            let haystack = format!("{} {} {}", id, text.to_lowercase(), address.to_lowercase());
            if words.iter().all(|w| haystack.contains(w.as_str())) {
                found.insert(id);
            }
        }
        Ok(found)
    }

    fn sort(&self, rows: &mut [usize], key: SortKey, descending: bool) {
        let m = &self.model;
        match key {
            SortKey::Deadline => rows.sort_by_key(|&i| {
                let due = m.due[i];
                // Without a deadline: last.
                (due == NO_TIME, due, m.id[i])
            }),
            SortKey::Age => rows.sort_by_key(|&i| (m.received[i], m.id[i])),
            SortKey::Regime => rows.sort_by_key(|&i| (m.regime[i].label_ru(), m.due[i])),
            SortKey::Channel => rows.sort_by_key(|&i| (m.channel[i].label_ru(), m.due[i])),
            SortKey::Status => rows.sort_by_key(|&i| (m.status[i].label_ru(), m.due[i])),
            SortKey::Municipality => {
                let rank = rank_by_name(&m.municipalities, |c| self.municipality_name(c));
                rows.sort_by_key(|&i| (rank_of(&rank, m.municipality[i]), m.due[i]));
            }
            SortKey::Organisation => {
                let rank = rank_by_name(&m.organisations, |c| self.organisation_name(c));
                rows.sort_by_key(|&i| (rank_of(&rank, m.organisation[i]), m.due[i]));
            }
        }
        if descending {
            rows.reverse();
        }
    }

    fn municipality_name(&self, code: String) -> String {
        self.pack
            .municipality(&code)
            .map(|m| m.short_name.clone())
            .unwrap_or(code)
    }

    fn organisation_name(&self, code: String) -> String {
        self.pack
            .organisation(&code)
            .map(|o| o.name.clone())
            .unwrap_or(code)
    }

    /// The shown rows, with what the model does not hold read from the replica, and the
    /// operator's undelivered actions laid over them.
    fn queue_rows(&self, rows: &[usize], now: i64) -> anyhow::Result<Vec<QueueRow>> {
        let m = &self.model;
        let outbox = self.outbox_by_appeal()?;
        let mut stmt = self.store.conn().prepare_cached(
            "SELECT version, assignee, substr(text, 1, 160) FROM appeals WHERE id = ?1",
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for &i in rows {
            let id = m.id[i];
            let (version, assignee, excerpt): (i64, Option<String>, String) =
                stmt.query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            let code = |codes: &tsur_core::analytics::Codes, c: u16| {
                codes.name(c).map(str::to_string).unwrap_or_default()
            };
            let topic_code = code(&m.topics, m.topic[i]);
            let mut row = QueueRow {
                id,
                version,
                due_utc: (m.due[i] != NO_TIME).then_some(m.due[i]),
                sla: self.sla(i, now),
                regime: m.regime[i],
                channel: m.channel[i],
                municipality: match code(&m.municipalities, m.municipality[i]) {
                    c if c.is_empty() => String::new(),
                    c => self.municipality_name(c),
                },
                organisation: match code(&m.organisations, m.organisation[i]) {
                    c if c.is_empty() => String::new(),
                    c => self.organisation_name(c),
                },
                status: m.status[i],
                received_utc: m.received[i],
                assignee,
                topic: self
                    .pack
                    .topic(&topic_code)
                    .map(|(_, t)| t.name.clone())
                    .unwrap_or_default(),
                excerpt: excerpt.replace('\n', " "),
                pending: Vec::new(),
                refused: Vec::new(),
            };
            for (state, action, detail) in outbox.get(&id).into_iter().flatten() {
                match state.as_str() {
                    "pending" | "sent" => {
                        self.preview(&mut row, action);
                        row.pending.push(action_label(action));
                    }
                    _ => row
                        .refused
                        .push(format!("{}: {}", action_label(action), detail)),
                }
            }
            out.push(row);
        }
        Ok(out)
    }

    /// The local result of an undelivered action, as the queue shows it until the server's
    /// version arrives. The server applies the real rules; this only previews them.
    fn preview(&self, row: &mut QueueRow, action: &ActionKind) {
        let to_status = |row: &mut QueueRow, to: Status| {
            if row.status.transition(to).is_ok() {
                row.status = to;
            }
        };
        match action {
            ActionKind::Take => row.assignee = Some("вы".into()),
            ActionKind::Assign { to } => row.assignee = Some(to.clone()),
            ActionKind::Classify { topic } => {
                if let Some((_, t)) = self.pack.topic(topic) {
                    row.topic = t.name.clone();
                }
            }
            ActionKind::Route { organisation } => {
                row.organisation = self.organisation_name(organisation.clone());
                to_status(row, Status::Routed);
            }
            ActionKind::SetStatus { status, .. } => to_status(row, *status),
            ActionKind::Answer { .. } => to_status(row, Status::Answered),
            ActionKind::Escalate { .. } => to_status(row, Status::Escalated),
            ActionKind::Extend { .. } => to_status(row, Status::Extended),
            ActionKind::MergeIntoProblem { .. } | ActionKind::MarkDuplicate { .. } => {
                to_status(row, Status::Merged)
            }
            ActionKind::Reopen { .. } => to_status(row, Status::Reopened),
            ActionKind::Note { .. }
            | ActionKind::ConfirmProblem { .. }
            | ActionKind::SplitProblem { .. }
            | ActionKind::MergeProblems { .. } => {}
        }
    }

    /// The outbox's actions on appeals that are not applied yet or were refused, by appeal,
    /// oldest first.
    fn outbox_by_appeal(&self) -> anyhow::Result<HashMap<AppealId, Vec<OutboxEntry>>> {
        let mut stmt = self.store.conn().prepare_cached(
            "SELECT appeal_id, state, payload, coalesce(last_error, '') FROM outbox
             WHERE state IN ('pending', 'sent', 'conflict', 'rejected') AND appeal_id IS NOT NULL
             ORDER BY created_utc, id",
        )?;
        let mut out: HashMap<AppealId, Vec<OutboxEntry>> = HashMap::new();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let appeal: AppealId = row.get(0)?;
            let payload: String = row.get(2)?;
            // The outbox holds what this app wrote; an entry it cannot read is left to the
            // sync engine, which delivers it as it is.
            let Ok(action) = serde_json::from_str::<Action>(&payload) else {
                continue;
            };
            out.entry(appeal)
                .or_default()
                .push((row.get(1)?, action.kind, row.get(3)?));
        }
        Ok(out)
    }

    /// Every target of the pack for the filter, with the weeks before for its sparkline.
    fn tiles(&self, filter: &Filter, now: i64) -> Vec<Tile> {
        let current = figures(&self.model, filter, now, &self.pack);
        let week = 7 * 86_400;
        let weekly: Vec<Vec<Figure>> = (0..SPARK_WEEKS as i64)
            .rev()
            .map(|k| {
                let to = now - k * week;
                let f = Filter {
                    from_utc: Some(to - week),
                    to_utc: Some(to),
                    ..filter.clone()
                };
                figures(&self.model, &f, to, &self.pack)
            })
            .collect();
        current
            .into_iter()
            .enumerate()
            .map(|(n, figure)| Tile {
                weeks: weekly
                    .iter()
                    .map(|w| w.get(n).and_then(|f| f.value))
                    .collect(),
                figure,
            })
            .collect()
    }

    /// The area layer's value per municipality code.
    fn areas(&self, filter: &Filter, measure: AreaMeasure, now: i64) -> HashMap<String, f64> {
        let m = &self.model;
        let all = Filter {
            municipality: None,
            ..filter.clone()
        };
        // (appeals, open, overdue, rated, satisfied) per municipality index.
        let mut sums = vec![[0u64; 5]; m.municipalities.len()];
        if let Some(rows) = all.matching_rows(m) {
            for i in rows {
                let Some(s) = sums.get_mut(usize::from(m.municipality[i])) else {
                    continue;
                };
                s[0] += 1;
                if m.status[i].is_open() {
                    s[1] += 1;
                }
                if is_overdue(m, i, now) {
                    s[2] += 1;
                }
                if m.rating[i] > 0 {
                    s[3] += 1;
                    if m.rating[i] >= 4 {
                        s[4] += 1;
                    }
                }
            }
        }
        let mut out = HashMap::new();
        for (index, s) in sums.iter().enumerate() {
            let Some(code) = m.municipalities.name(index as u16) else {
                continue;
            };
            let value = match measure {
                AreaMeasure::PerCapita => self
                    .pack
                    .municipality(code)
                    .filter(|mu| mu.population > 0)
                    .map(|mu| s[0] as f64 * 10_000.0 / f64::from(mu.population)),
                AreaMeasure::OverdueShare => (s[1] > 0).then(|| s[2] as f64 / s[1] as f64),
                AreaMeasure::Satisfaction => (s[3] > 0).then(|| s[4] as f64 / s[3] as f64),
            };
            if let Some(v) = value {
                out.insert(code.to_string(), v);
            }
        }
        out
    }

    fn problem_markers(&self, filter: &Filter, now: i64) -> Vec<ProblemMarker> {
        tsur_core::analytics::problems::problem_list(&self.model, filter, now, &self.pack)
            .into_iter()
            .filter_map(|p| {
                let (lat, lon) = *self.problem_points.get(&p.id)?;
                Some(ProblemMarker {
                    id: p.id,
                    title: p.title,
                    lat,
                    lon,
                    appeals: p.appeals,
                    open: p.open,
                    overdue: p.overdue,
                })
            })
            .collect()
    }

    fn case(&self, id: AppealId) -> anyhow::Result<Option<CaseView>> {
        let Some(appeal) = self.store.load_appeal(id)? else {
            return Ok(None);
        };
        let now = self.clock.now_utc();
        let engine = self.pack.deadline_engine();
        // Every clock the rule of its regime and channel sets, each with its state (not the
        // forwarding clock: the replica does not record when an appeal was forwarded).
        let mut deadlines = Vec::new();
        let mut sla = None;
        match engine.rule(appeal.regime, appeal.channel) {
            Err(e) => deadlines.push(format!("сроки не рассчитаны: {e}")),
            Ok(rule) => {
                for kind in [
                    ClockKind::Registration,
                    ClockKind::FirstReaction,
                    ClockKind::Answer,
                ] {
                    if rule.clock(kind).is_none() {
                        continue;
                    }
                    // Extensions and pauses move the answer clock only.
                    let adjustments = if kind == ClockKind::Answer {
                        adjustments_from_events(&appeal.events)
                    } else {
                        Vec::new()
                    };
                    let done = match kind {
                        ClockKind::Registration => appeal.registered_utc,
                        ClockKind::FirstReaction => appeal.answers.iter().map(|a| a.at_utc).min(),
                        ClockKind::Forward | ClockKind::Answer => appeal.answered_utc,
                    };
                    match engine.compute(
                        appeal.regime,
                        appeal.channel,
                        kind,
                        appeal.received_utc,
                        appeal.registered_utc,
                        &adjustments,
                    ) {
                        Ok(deadline) => {
                            let state = engine.sla_state(&deadline, done, now);
                            if kind == ClockKind::Answer {
                                sla = Some(state);
                            }
                            deadlines.push(describe(&deadline, state));
                        }
                        Err(e) => {
                            deadlines.push(format!("{}: срок не рассчитан: {e}", kind.label_ru()))
                        }
                    }
                }
            }
        }
        let mut related = Vec::new();
        let conn = self.store.conn();
        let mut push = |sql: &str, arg: i64, relation: &'static str| -> anyhow::Result<()> {
            let mut stmt = conn.prepare_cached(sql)?;
            let rows = stmt.query_map([arg, id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get(2)?))
            })?;
            for row in rows {
                let (other, status, excerpt) = row?;
                related.push(Related {
                    id: other,
                    relation,
                    status: Status::from_code(&status).unwrap_or(Status::New),
                    excerpt,
                });
            }
            Ok(())
        };
        const COLUMNS: &str = "SELECT id, status, substr(text, 1, 120) FROM appeals";
        if let Some(problem) = appeal.problem {
            push(
                &format!(
                    "{COLUMNS} WHERE problem_id = ?1 AND id <> ?2 ORDER BY received_utc DESC LIMIT 30"
                ),
                problem,
                "та же проблема",
            )?;
        }
        if let Some(first) = appeal.repeat_of {
            push(
                &format!("{COLUMNS} WHERE id = ?1 AND id <> ?2"),
                first,
                "первичное (это повторное)",
            )?;
        }
        push(
            &format!("{COLUMNS} WHERE repeat_of = ?1 AND id <> ?2 LIMIT 30"),
            id,
            "повторное",
        )?;
        if let Some(original) = appeal.duplicate_of {
            push(
                &format!("{COLUMNS} WHERE id = ?1 AND id <> ?2"),
                original,
                "оригинал (это дубль)",
            )?;
        }
        push(
            &format!("{COLUMNS} WHERE duplicate_of = ?1 AND id <> ?2 LIMIT 30"),
            id,
            "дубль",
        )?;
        let problem_title = appeal
            .problem
            .and_then(|p| self.model.problems.get(&p))
            .map(|p| p.title.clone());
        let mut actions = Vec::new();
        {
            let mut stmt = conn.prepare_cached(
                "SELECT payload, state, last_error FROM outbox WHERE appeal_id = ?1
                 ORDER BY created_utc DESC, id DESC",
            )?;
            let rows = stmt.query_map([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })?;
            for row in rows {
                let (payload, state, detail) = row?;
                let what = serde_json::from_str::<Action>(&payload)
                    .map(|a| action_label(&a.kind))
                    .unwrap_or_else(|_| "действие".into());
                actions.push(CaseAction {
                    what,
                    state: outbox_state_ru(&state).to_string(),
                    detail,
                });
            }
        }
        let templates = match appeal.topic.as_ref() {
            Some(topic) => {
                let name = self
                    .pack
                    .topic(topic.as_str())
                    .map(|(_, t)| t.name.to_lowercase())
                    .unwrap_or_default();
                self.pack
                    .answer_templates(topic.as_str())
                    .into_iter()
                    .map(|t| (t.title.clone(), t.text.replace("{тема}", &name)))
                    .collect()
            }
            None => Vec::new(),
        };
        Ok(Some(CaseView {
            appeal,
            deadlines,
            sla,
            related,
            problem_title,
            actions,
            templates,
        }))
    }

    fn review(&self, period: Period) -> ReviewData {
        let now = self.now();
        let filter = Filter {
            from_utc: period.days().map(|d| now - d * 86_400),
            to_utc: period.days().map(|_| now + 1),
            ..Filter::default()
        };
        let week = 7 * 86_400;
        let weeks = (0..TREND_WEEKS as i64)
            .rev()
            .map(|k| {
                let to = now - k * week;
                let f = Filter {
                    from_utc: Some(to - week),
                    to_utc: Some(to),
                    ..Filter::default()
                };
                let kpis =
                    tsur_core::analytics::Kpis::compute(&self.model, &f, to, self.at_risk_secs());
                WeekFigures {
                    from_utc: to - week,
                    received: kpis.total,
                    on_time_share: kpis.on_time_share,
                    satisfaction_share: kpis.satisfaction_share,
                }
            })
            .collect();
        ReviewData {
            period,
            report: Report::build(&self.model, &filter, now, &self.pack),
            weeks,
        }
    }

    /// A report as the wall and the briefing show it: problem titles scrubbed of anything
    /// personal, and places by name rather than by code.
    fn for_the_wall(&self, report: &mut Report) {
        for problem in &mut report.problems {
            problem.title = crate::wall::scrub(&problem.title).into_owned();
            problem.municipality = problem
                .municipality
                .take()
                .map(|c| self.municipality_name(c));
        }
    }

    /// The video wall's figures: the region as a whole for `period`, and what is overdue now.
    fn wall(&self, period: Period, with_blocks: bool) -> WallData {
        let now = self.now();
        let q = OperatorQuery {
            period,
            area_measure: AreaMeasure::OverdueShare,
            ..OperatorQuery::default()
        };
        let filter = self.filter(&q);
        let panel = self.panel(&q, &filter, Err(()), now);
        let mut report = Report::build(&self.model, &filter, now, &self.pack);
        self.for_the_wall(&mut report);
        let m = &self.model;
        let mut overdue = vec![0u64; m.municipalities.len()];
        let mut since: Option<i64> = None;
        // The newest social incidents: (received, row), kept sorted, newest first.
        let mut newest: Vec<(i64, usize)> = Vec::with_capacity(WALL_FEED + 1);
        for i in 0..m.len() {
            if is_overdue(m, i, now) {
                if let Some(n) = overdue.get_mut(usize::from(m.municipality[i])) {
                    *n += 1;
                }
                if m.due[i] != NO_TIME {
                    since = Some(since.map_or(m.due[i], |s| s.min(m.due[i])));
                }
            }
            if m.channel[i] == Channel::Social
                && m.received[i] <= now
                && (newest.len() < WALL_FEED || newest.last().is_some_and(|l| m.received[i] > l.0))
            {
                let at = newest.partition_point(|&(r, _)| r >= m.received[i]);
                newest.insert(at, (m.received[i], i));
                newest.truncate(WALL_FEED);
            }
        }
        let mut overdue_places: Vec<(String, u64)> = overdue
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(index, &n)| {
                let code = m
                    .municipalities
                    .name(index as u16)
                    .unwrap_or("—")
                    .to_string();
                (self.municipality_name(code), n)
            })
            .collect();
        overdue_places.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let feed = newest
            .into_iter()
            .map(|(received, i)| FeedItem {
                id: m.id[i],
                received_utc: received,
                topic: m
                    .topics
                    .name(m.topic[i])
                    .and_then(|c| self.pack.topic(c))
                    .map_or_else(|| "Тема не указана".to_string(), |(_, t)| t.name.clone()),
                municipality: m.municipalities.name(m.municipality[i]).map_or_else(
                    || "—".to_string(),
                    |c| self.municipality_name(c.to_string()),
                ),
                reacted: m.first_reaction[i] != NO_TIME,
                overdue: is_overdue(m, i, now),
            })
            .collect();
        let blocks = if with_blocks {
            self.pack
                .blocks
                .iter()
                .map(|b| {
                    let f = Filter {
                        block: Some(b.code.to_string()),
                        ..filter.clone()
                    };
                    let mut report = Report::build(&self.model, &f, now, &self.pack);
                    self.for_the_wall(&mut report);
                    BlockReport {
                        code: b.code.to_string(),
                        name: b.name.clone(),
                        report,
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let problems_on_map = panel
            .problems
            .into_iter()
            .map(|mut p| {
                p.title = crate::wall::scrub(&p.title).into_owned();
                p
            })
            .collect();
        WallData {
            seq: 0,
            period,
            computed_utc: now,

            totals: panel.totals,
            tiles: panel.tiles,
            heat: panel.heat,
            areas: panel.areas,
            problems_on_map,
            report,
            overdue_places,
            overdue_since_utc: since,
            feed,
            blocks,
        }
    }

    /// Records one action per appeal in the outbox, in one transaction: all or none (taken for
    /// writing at once, so the loader's page writes cannot turn it into a busy error halfway).
    ///
    /// The base version is the version the operator saw, moved on by one for each action on the
    /// appeal this replica has queued or had applied on top of that version: each action the
    /// server applies moves the version on by one, and the queue may still show the version from
    /// before an action the server has already applied.
    fn act(&self, appeals: &[(AppealId, i64)], kind: &ActionKind) -> anyhow::Result<usize> {
        let code = serde_json::to_value(kind)?
            .get("kind")
            .and_then(|k| k.as_str().map(str::to_string))
            .context("действие без вида")?;
        let conn = self.store.conn();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let written = (|| -> anyhow::Result<usize> {
            let now: DateTime<Utc> = self.clock.now_utc();
            for &(appeal_id, seen_version) in appeals {
                let latest: Option<i64> = conn.query_row(
                    "SELECT max(base_version) FROM outbox WHERE appeal_id = ?1
                     AND state IN ('pending', 'sent', 'applied', 'duplicate')
                     AND base_version >= ?2",
                    [appeal_id, seen_version],
                    |r| r.get(0),
                )?;
                let action = Action {
                    id: uuid::Uuid::now_v7().to_string(),
                    appeal_id,
                    base_version: latest.map_or(seen_version, |v| v + 1),
                    kind: kind.clone(),
                };
                self.store.enqueue_action(&OutboxAction {
                    id: action.id.clone(),
                    created_utc: now.timestamp(),
                    appeal_id: Some(appeal_id),
                    kind: code.clone(),
                    payload: serde_json::to_string(&action)?,
                    base_version: Some(action.base_version),
                })?;
            }
            Ok(appeals.len())
        })();
        let committed = written.and_then(|n| {
            conn.execute_batch("COMMIT")?;
            Ok(n)
        });
        if committed.is_err() {
            // Nothing of it is kept; the operator is told and can act again.
            let _ = conn.execute_batch("ROLLBACK");
        }
        committed
    }
}

/// For each code of a table, its place in the alphabetical order of the names shown.
fn rank_by_name(
    codes: &tsur_core::analytics::Codes,
    name: impl Fn(String) -> String,
) -> Vec<usize> {
    let mut names: Vec<(String, usize)> = (0..codes.len())
        .map(|i| {
            (
                name(codes.name(i as u16).unwrap_or_default().to_string()),
                i,
            )
        })
        .collect();
    names.sort();
    let mut rank = vec![0; codes.len()];
    for (place, (_, i)) in names.into_iter().enumerate() {
        rank[i] = place;
    }
    rank
}

/// The rank of a code; appeals without one come last.
fn rank_of(rank: &[usize], code: u16) -> usize {
    if code == NO_CODE {
        return usize::MAX;
    }
    rank.get(usize::from(code)).copied().unwrap_or(usize::MAX)
}

/// An action in words, as the queue and the case show it.
pub fn action_label(kind: &ActionKind) -> String {
    match kind {
        ActionKind::Take => "взять в работу".into(),
        ActionKind::Assign { to } => format!("назначить: {to}"),
        ActionKind::Classify { topic } => format!("классифицировать: {topic}"),
        ActionKind::Route { organisation } => format!("направить: {organisation}"),
        ActionKind::SetStatus { status, .. } => format!("статус: {}", status.label_ru()),
        ActionKind::Answer { .. } => "ответ".into(),
        ActionKind::Escalate { .. } => "эскалировать".into(),
        ActionKind::Extend { .. } => "продлить срок".into(),
        ActionKind::MergeIntoProblem { problem } => format!("в проблему №{problem}"),
        ActionKind::MarkDuplicate { of } => format!("дубль №{of}"),
        ActionKind::Reopen { .. } => "переоткрыть".into(),
        ActionKind::Note { .. } => "заметка".into(),
        ActionKind::ConfirmProblem { .. } => "подтвердить проблему".into(),
        ActionKind::SplitProblem { .. } => "разделить проблему".into(),
        ActionKind::MergeProblems { .. } => "объединить проблемы".into(),
    }
}

/// An outbox state in words.
pub fn outbox_state_ru(state: &str) -> &'static str {
    match state {
        "pending" => "ожидает отправки",
        "sent" => "отправлено",
        "applied" => "принято сервером",
        "duplicate" => "уже было принято",
        "conflict" => "конфликт",
        "rejected" => "отклонено",
        _ => "неизвестно",
    }
}

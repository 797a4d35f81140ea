//! The desktop app (egui): the shell (modes, filters, sync status, commands), the operator
//! screen (KPI panel, map, block queues, case) and the review. Everything that reads or writes
//! data runs on the view worker ([`crate::views`]); the frame only draws what it last received.

mod briefing;
mod case;
pub mod command;
mod dialogs;
mod operator;
mod review;
pub mod wall;

use crate::loader::{self, LoadEvent, Loader, Replica, Snapshot, Source, SyncStatus};
use crate::settings::{Settings, SettingsStore};
use crate::theme;
use crate::views::{
    self, CaseView, OperatorQuery, OperatorView, Period, QueueTab, ViewEvent, ViewRequest,
};
use anyhow::Result;
use command::{Mode, Palette, UiCommand};
use egui::RichText;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use tsur_core::clock::{SharedClock, SystemClock};
use tsur_core::domain::AppealId;
use tsur_core::sync::ActionKind;
use walkers::MapMemory;

/// Appeals the embedded demo server is seeded with on first start.
pub const FIRST_START_DEMO_APPEALS: u64 = 200_000;

/// Overrides the size of the demo region created on first start (small laptops, scripts).
pub const DEMO_APPEALS_ENV: &str = "TSUR_DEMO_APPEALS";

fn demo_appeals_from_env() -> Result<u64> {
    match std::env::var(DEMO_APPEALS_ENV) {
        Err(_) => Ok(FIRST_START_DEMO_APPEALS),
        Ok(raw) => match raw.trim().parse::<u64>() {
            Ok(n) if (1..=crate::cli::MAX_DEMO_APPEALS).contains(&n) => Ok(n),
            _ => anyhow::bail!(
                "{DEMO_APPEALS_ENV}=«{raw}»: ожидается число от 1 до {}",
                crate::cli::MAX_DEMO_APPEALS
            ),
        },
    }
}

/// Where the escalation of п.10.2 goes from a block's queue.
const ESCALATE_TO: &str = "block_head";

/// How the app is started.
#[derive(Clone)]
pub struct AppOptions {
    pub source: Source,
    pub clock: SharedClock,
    /// Where settings are kept; `None`: not kept (nothing is written).
    pub settings: Option<SettingsStore>,
    /// The mode to start in.
    pub mode: Mode,
    /// The video wall's configuration (`--wall-config`, else the defaults).
    pub wall: crate::wall::WallConfig,
    /// Where PDFs and PNGs go; `None`: [`crate::paths::export_dir`].
    pub export_dir: Option<PathBuf>,
}

impl AppOptions {
    /// The defaults of `cargo run`: the demo replica in the data directory and the bundled pack,
    /// or the server saved in the settings. `server` is the URL and token of a server given on
    /// the command line; `ca_cert` a PEM file of extra certificates to trust for `https://`.
    ///
    /// For the video wall (`wall`), the server saved in the settings is used only when the
    /// settings say this machine is a wall (otherwise its token is an operator's: the wall's
    /// comes with `--server` and `--token`, a token of the wall role); the demo syncs a replica
    /// of its own with a wall token, and a server's replica is a file of its own too.
    pub fn new(
        db: Option<PathBuf>,
        server: Option<(String, String)>,
        ca_cert: Option<PathBuf>,
        pack: Option<PathBuf>,
        wall: bool,
    ) -> Result<Self> {
        let data_dir = || {
            crate::paths::data_dir().ok_or_else(|| {
                anyhow::anyhow!(
                    "не удалось определить каталог данных пользователя; задайте переменную {}",
                    crate::paths::DATA_DIR_ENV
                )
            })
        };
        let settings = SettingsStore::default_location();
        // A server saved in the settings, unless the command line names one or a file.
        let server = match (server, &settings, &db) {
            (Some(s), _, _) => Some(s),
            (None, Some(store), None) => {
                let saved = store.load().unwrap_or_default();
                match (saved.server_url.trim(), store.token().ok().flatten()) {
                    ("", _) | (_, None) => None,
                    // On a workstation the saved token is an operator's, never the wall's.
                    _ if wall && !saved.start_as_wall => None,
                    (url, Some(token)) => Some((url.to_string(), token)),
                }
            }
            _ => None,
        };
        let replica = match (db, server) {
            (Some(path), None) => Replica::Existing(path),
            (db, Some((server, token))) => Replica::Remote {
                db: match db {
                    Some(db) => db,
                    None if wall => data_dir()?
                        .join(format!("wall-{}", crate::paths::replica_file_for(&server))),
                    None => data_dir()?.join(crate::paths::replica_file_for(&server)),
                },
                server,
                token,
                ca_cert,
            },
            (None, None) if wall => Replica::DemoWall(data_dir()?),
            (None, None) => Replica::Demo(data_dir()?),
        };
        Ok(AppOptions {
            source: Source {
                replica,
                pack_dir: crate::paths::pack_dir(pack.as_deref()),
                demo_appeals: demo_appeals_from_env()?,
            },
            clock: Arc::new(SystemClock),
            settings,
            mode: Mode::Operator,
            wall: crate::wall::WallConfig::default(),
            export_dir: None,
        })
    }
}

enum Phase {
    Starting,
    Progress { what: String, done: u64, total: u64 },
    Reading,
    Ready(Box<Snapshot>),
    Failed(String),
}

/// A short message at the bottom of the window: what was done, or what went wrong.
struct Notice {
    text: String,
    is_error: bool,
}

/// An action that needs a value before it is recorded.
pub(crate) struct Dialog {
    pub command: UiCommand,
    /// The appeals it applies to, with the versions seen.
    pub targets: Vec<(AppealId, i64)>,
    pub text: String,
    /// The choice in a list (organisation, topic), by code.
    pub choice: Option<String>,
}

/// The egui application.
pub struct TsurApp {
    loader: Loader,
    views: Sender<ViewRequest>,
    view_events: Receiver<ViewEvent>,
    clock: SharedClock,
    phase: Phase,
    /// Where syncing stands (none for a replica opened offline).
    sync: Option<SyncStatus>,
    settings: Settings,
    settings_store: Option<SettingsStore>,
    /// The settings file could not be read: it is not written over until the user saves the
    /// settings window, so whatever it held can still be mended by hand.
    settings_unreadable: bool,
    /// The settings window's save (its request number): said once it is written.
    announce_settings_saved: Option<u64>,
    /// Writes the settings off the UI thread.
    settings_writer: Option<crate::settings::SettingsWriter>,
    notice: Option<Notice>,
    mode: Mode,
    query: OperatorQuery,
    /// The query the worker was last asked.
    asked: Option<OperatorQuery>,
    operator: Option<Box<OperatorView>>,
    /// The worker is computing a newer view than the one shown.
    computing: bool,
    /// Numbers the requests that change the operator view (see `OperatorView::seq`).
    request_seq: u64,
    open_case: Option<AppealId>,
    case: Option<Box<CaseView>>,
    /// The case shown is from before an action (a fresher one is coming).
    case_stale: bool,
    review_period: Period,
    review_asked: Option<Period>,
    review: Option<Box<views::ReviewData>>,
    review_tab: review::ReviewTab,
    /// Marked appeals, each with the version seen when it was marked (a mark outlives a change
    /// of tab or search, and a bulk action still names it).
    selected: BTreeMap<AppealId, i64>,
    cursor: Option<AppealId>,
    /// Scroll the queue to the cursor on the next frame.
    scroll_to_cursor: bool,
    dialog: Option<Dialog>,
    palette: Option<Palette>,
    settings_window: Option<dialogs::SettingsDraft>,
    focus_search: bool,
    focus_composer: bool,
    composer: String,
    composer_on_merits: bool,
    /// Unsent answers of other cases, kept when another case is opened.
    drafts: std::collections::HashMap<AppealId, String>,
    /// An answer sent to the worker (its appeal and request number): the composer is cleared,
    /// and the send button disabled, until the worker says it is recorded or not.
    answer_in_flight: Option<(AppealId, u64)>,
    commands: Vec<UiCommand>,
    /// An appeal to open after this frame (a link in the case panel).
    pending_open: Option<AppealId>,
    /// An action to record after this frame (the answer composer).
    pending_action: Option<(Vec<(AppealId, i64)>, ActionKind)>,
    map_memory: MapMemory,
    /// The case's small map (centred on the case when it opens).
    case_map: MapMemory,
    /// Whether the map has been zoomed to fit the region once.
    map_fitted: bool,
    logged_first_view: bool,
    heat_texture: crate::map::HeatTexture,
    /// The basemap's tiles and their source (made when first shown).
    tiles: Option<(String, Box<dyn walkers::Tiles>)>,
    /// A basemap source that could not be opened (said once).
    missing_basemap: Option<String>,
    /// Last, so that it is dropped after `loader` and `views`: see [`ViewWorker`].
    _view_worker: ViewWorker,
    /// Counts operator views received (the heat texture is made again for a new one).
    view_generation: u64,
    wall_config: crate::wall::WallConfig,
    /// The wall's (and the briefing's) figures.
    wall: Option<Box<views::WallData>>,
    /// The wall's request: its period and the minute it was asked in (asked again each minute,
    /// as deadlines pass).
    /// What the wall's (or the briefing's) newest request asked: the period, whether with the
    /// blocks' reports, and the minute (the wall asks again each minute, as deadlines pass; the
    /// briefing does not, so its figures hold still while it is presented).
    wall_asked: Option<(Period, bool, Option<i64>)>,
    /// The number of that request; figures answering an older one are shown but not current.
    wall_seq: u64,
    wall_pending: bool,
    alarm_log: crate::wall::AlarmLog,
    /// The alarms on now, each with when the wall first saw it.
    alarms: Vec<(crate::wall::Alarm, i64)>,
    /// The map of each wall cell (and of the briefing), fitted to its size.
    wall_maps: Vec<MapMemory>,
    wall_heat: crate::map::HeatTexture,
    wall_generation: u64,
    /// The wall set the zoom (set back when leaving the wall).
    wall_zoom_applied: bool,
    /// Started as the wall: it stays the wall.
    wall_locked: bool,
    export_dir: Option<PathBuf>,
    /// The briefing's slide shown (an index into [`briefing::SLIDES`]).
    slide: usize,
    /// A PNG of the screen was asked for (taken at the end of the frame).
    export_png: bool,
    /// Where the screenshot asked for arrives.
    screenshot: Option<Receiver<Arc<egui::ColorImage>>>,
    toggle_fullscreen: bool,
}

impl TsurApp {
    pub fn new(ctx: &egui::Context, options: AppOptions) -> Self {
        let (views, requests) = channel();
        let (events_tx, view_events) = channel();
        let repaint_ctx = ctx.clone();
        let mut notice = None;
        let view_worker =
            match views::spawn(requests, events_tx, options.clock.clone(), move || {
                repaint_ctx.request_repaint()
            }) {
                Ok(handle) => Some(handle),
                Err(e) => {
                    notice = Some(Notice {
                        text: format!("не удалось запустить фоновый поток: {e}"),
                        is_error: true,
                    });
                    None
                }
            };
        let repaint_ctx = ctx.clone();
        let loader = loader::spawn(
            options.source,
            options.clock.clone(),
            views.clone(),
            move || repaint_ctx.request_repaint(),
            // A wall syncs only with a wall token.
            options.mode == Mode::Wall,
        );
        let (settings, settings_error) = match &options.settings {
            Some(store) => match store.load() {
                Ok(s) => (s, None),
                Err(e) => (Settings::default(), Some(format!("{e:#}"))),
            },
            None => (Settings::default(), None),
        };
        let settings_unreadable = settings_error.is_some();
        if let Some(text) = settings_error {
            notice = Some(Notice {
                text,
                is_error: true,
            });
        }
        theme::apply(ctx, settings.theme);
        let query = OperatorQuery {
            period: settings.period,
            area_measure: settings.area_measure,
            ..OperatorQuery::default()
        };
        TsurApp {
            loader,
            views,
            view_events,
            clock: options.clock,
            phase: Phase::Starting,
            sync: None,
            review_period: settings.period,
            settings,
            settings_store: options.settings.clone(),
            settings_unreadable,
            announce_settings_saved: None,
            settings_writer: options
                .settings
                .clone()
                .and_then(|store| crate::settings::SettingsWriter::spawn(store).ok()),
            notice,
            mode: options.mode,
            query,
            asked: None,
            operator: None,
            computing: false,
            request_seq: 0,
            open_case: None,
            case: None,
            case_stale: false,
            review_asked: None,
            review: None,
            review_tab: review::ReviewTab::Comparison,
            selected: BTreeMap::new(),
            cursor: None,
            scroll_to_cursor: false,
            dialog: None,
            palette: None,
            settings_window: None,
            focus_search: false,
            focus_composer: false,
            composer: String::new(),
            composer_on_merits: true,
            drafts: std::collections::HashMap::new(),
            answer_in_flight: None,
            commands: Vec::new(),
            pending_open: None,
            pending_action: None,
            map_memory: MapMemory::default(),
            case_map: MapMemory::default(),
            map_fitted: false,
            logged_first_view: false,
            heat_texture: crate::map::HeatTexture::default(),
            tiles: None,
            missing_basemap: None,
            _view_worker: ViewWorker(view_worker),
            view_generation: 0,
            wall_config: options.wall,
            wall: None,
            wall_asked: None,
            wall_seq: 0,
            wall_pending: false,
            alarm_log: crate::wall::AlarmLog::default(),
            alarms: Vec::new(),
            wall_maps: Vec::new(),
            wall_heat: crate::map::HeatTexture::default(),
            wall_generation: 0,
            wall_zoom_applied: false,
            wall_locked: options.mode == Mode::Wall,
            export_dir: options.export_dir,

            slide: 0,
            export_png: false,
            screenshot: None,
            toggle_fullscreen: false,
        }
    }

    /// Whether the data has loaded and the operator screen has its first figures (for tests and
    /// the screenshot script).
    pub fn is_ready(&self) -> bool {
        matches!(self.phase, Phase::Ready(_))
            && match self.mode {
                Mode::Wall | Mode::Briefing => self.wall.is_some(),
                Mode::Operator | Mode::Review => self.operator.is_some(),
            }
    }

    /// Whether the wall shows figures for its newest request (for tests).
    pub fn is_wall_settled(&self) -> bool {
        self.is_ready() && self.wall.is_some() && !self.wall_pending && self.commands.is_empty()
    }

    /// Applies changed appeals to the figures, as the loader does after each sync (benchmarks
    /// drive a day of syncs with it without a server). The loader sends only what it has written
    /// to the replica; changes sent here that are not in the replica end up in the read model
    /// saved at exit, which then no longer matches the replica (the benchmark removes it).
    pub fn apply_sync(&self, appeals: Vec<tsur_core::analytics::AppealFacts>) {
        let _ = self.views.send(ViewRequest::Synced {
            appeals,
            problems: Vec::new(),
        });
    }

    /// The app's clock (for tests).
    pub fn clock(&self) -> SharedClock {
        self.clock.clone()
    }

    /// The mode shown (for tests).
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// What the wall's cell shows now (for tests): the alarm takes every cell.
    pub fn wall_shown(&self, cell: usize, now: i64) -> Option<wall::WallShown> {
        if !self.alarms.is_empty() {
            return Some(wall::WallShown::Alarm);
        }

        crate::wall::scene_at(&self.wall_config.scenes, cell, now)
            .map(|(kind, _)| wall::WallShown::Scene(kind))
    }

    /// The wall's figures, if computed (for tests).
    pub fn wall_data(&self) -> Option<&views::WallData> {
        self.wall.as_deref()
    }

    /// When the replica last caught up with the server (unix seconds).
    pub fn data_as_of(&self) -> Option<i64> {
        self.sync
            .as_ref()
            .and_then(|s| s.data_as_of)
            .map(|t| t.timestamp())
    }

    /// Whether the wall marks its data stale now (for tests, and the wall's marker).
    pub fn is_wall_stale(&self) -> bool {
        let offline = self.sync.as_ref().is_none_or(|s| s.offline_since.is_some());
        crate::wall::is_stale(
            self.data_as_of(),
            offline,
            self.clock.now_utc().timestamp(),
            self.wall_config.stale_after_secs,
        )
    }

    /// Why the data is stale, in words.
    fn stale_text(&self, offset: chrono::FixedOffset) -> String {
        let now = self.clock.now_utc().timestamp();
        let time = |t: chrono::DateTime<chrono::Utc>| moment(t.timestamp(), now, offset);

        match &self.sync {
            None => "реплика открыта без сервера".into(),
            Some(s) => match (s.offline_since, s.data_as_of) {
                (Some(since), Some(at)) => format!(
                    "нет связи с сервером с {}, данные на {}; подключение восстановится само",
                    time(since),
                    time(at)
                ),
                (Some(since), None) => format!(
                    "нет связи с сервером с {}; подключение восстановится само",
                    time(since)
                ),
                (None, Some(at)) => format!("данные не обновлялись с {}", time(at)),
                (None, None) => "синхронизация ещё не прошла".into(),
            },
        }
    }

    fn utc_offset(&self) -> chrono::FixedOffset {
        match &self.phase {
            Phase::Ready(s) => s.utc_offset,
            _ => chrono::Offset::fix(&chrono::Utc),
        }
    }

    fn region_name(&self) -> String {
        match &self.phase {
            Phase::Ready(s) => s.region_name.clone(),
            _ => String::new(),
        }
    }

    /// The region's bounding box, centre and places, for a map.
    #[allow(clippy::type_complexity)]
    fn map_frame(
        &self,
    ) -> Option<(
        (f64, f64, f64, f64),
        (f64, f64),
        Vec<crate::loader::MapPlace>,
    )> {
        match &self.phase {
            Phase::Ready(s) => Some((s.bbox, s.centre, s.places.clone())),
            _ => None,
        }
    }

    /// Whether the worker has answered the newest query (for tests).
    pub fn is_settled(&self) -> bool {
        self.is_ready()
            && self.commands.is_empty()
            && self.pending_open.is_none()
            && self.pending_action.is_none()
            && !self.computing
            && self.asked.as_ref() == Some(&self.query)
            && self.open_case == self.case.as_ref().map(|c| c.appeal.id)
            && !self.case_stale
    }

    /// The map's zoom level (for tests).
    pub fn map_zoom(&self) -> f64 {
        self.map_memory.zoom()
    }

    /// The error shown, if loading failed.
    pub fn failure(&self) -> Option<&str> {
        match &self.phase {
            Phase::Failed(msg) => Some(msg),
            _ => None,
        }
    }

    /// The settings as they are now (for tests).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The operator screen's query (for tests).
    pub fn query(&self) -> &OperatorQuery {
        &self.query
    }

    /// The appeals marked in the queue (for tests).
    pub fn selected(&self) -> Vec<AppealId> {
        self.selected.keys().copied().collect()
    }

    /// The queue's rows as shown (for tests).
    pub fn queue_rows(&self) -> Vec<views::QueueRow> {
        self.rows().to_vec()
    }

    /// Appeals in the queue, shown or not (for tests).
    pub fn queue_len(&self) -> usize {
        self.operator.as_ref().map_or(0, |v| v.queue_len)
    }

    /// The answer being written (for tests).
    pub fn composer_text(&self) -> &str {
        &self.composer
    }

    /// The case shown, if any (for tests).
    pub fn case_view(&self) -> Option<&CaseView> {
        self.case.as_deref()
    }

    /// The value of a KPI tile, by the pack's id (for tests).
    pub fn tile_value(&self, id: &str) -> Option<f64> {
        self.operator
            .as_ref()?
            .tiles
            .iter()
            .find(|t| t.figure.id == id)?
            .figure
            .value
    }

    /// Whether the top bar says the server is away (for tests).
    pub fn is_offline_shown(&self) -> bool {
        self.sync
            .as_ref()
            .is_some_and(|s| s.offline_since.is_some())
    }

    /// Whether the review has its figures (for tests).
    pub fn has_review(&self) -> bool {
        self.review
            .as_ref()
            .is_some_and(|r| r.period == self.review_period)
    }

    /// Runs a command as if from its key or the palette (for tests and menus).
    pub fn run(&mut self, command: UiCommand) {
        self.commands.push(command);
    }

    fn poll(&mut self) {
        while let Some((number, written)) = self
            .settings_writer
            .as_ref()
            .and_then(|w| w.written.try_recv().ok())
        {
            // The settings window's save is announced once a write covers it.
            let covers_save = self.announce_settings_saved.is_some_and(|n| number >= n);
            if covers_save {
                self.announce_settings_saved = None;
            }
            match written {
                Ok(()) if covers_save => {
                    self.notice = Some(Notice {
                        text: "Настройки сохранены".into(),
                        is_error: false,
                    });
                }
                Ok(()) => {}
                Err(text) => {
                    self.notice = Some(Notice {
                        text,
                        is_error: true,
                    })
                }
            }
        }
        while let Ok(event) = self.loader.events.try_recv() {
            match event {
                LoadEvent::Progress { what, done, total } => {
                    // Progress never hides data already on screen (later syncs report none).
                    if !matches!(self.phase, Phase::Ready(_)) {
                        self.phase = Phase::Progress { what, done, total };
                    }
                }
                LoadEvent::Reading => {
                    if !matches!(self.phase, Phase::Ready(_)) {
                        self.phase = Phase::Reading;
                    }
                }
                LoadEvent::Ready(snapshot) => self.phase = Phase::Ready(snapshot),
                LoadEvent::Sync(status) => self.sync = Some(status),
                LoadEvent::Failed(msg) => {
                    if matches!(self.phase, Phase::Ready(_)) {
                        // The data on screen stays; what stopped the loader is said.
                        self.notice = Some(Notice {
                            text: msg,
                            is_error: true,
                        });
                    } else {
                        self.phase = Phase::Failed(msg);
                    }
                }
            }
        }
        while let Ok(event) = self.view_events.try_recv() {
            match event {
                ViewEvent::Loading => self.computing = true,
                ViewEvent::Operator(view) => {
                    if !self.logged_first_view
                        && let Phase::Ready(s) = &self.phase
                    {
                        // One line for people and scripts (scripts/screenshot.sh waits for it).
                        eprintln!(
                            "tsur: открыта реплика {}: {} обращений",
                            s.db_path.display(),
                            view.totals.replica
                        );
                        self.logged_first_view = true;
                    }
                    self.computing = view.query != self.query || view.seq < self.request_seq;
                    // Marks of appeals no longer in the queue are kept: a bulk action names
                    // them, and they come back when the filter does.
                    self.operator = Some(view);
                    self.view_generation += 1;
                }
                ViewEvent::Case(case) => {
                    if Some(case.appeal.id) == self.open_case {
                        self.case = Some(case);
                        self.case_stale = false;
                    }
                }
                ViewEvent::Review(report) => self.review = Some(report),
                ViewEvent::Wall(data) => self.receive_wall(data),
                ViewEvent::Queued { count, what, seq } => {
                    if let Some((id, sent)) = self.answer_in_flight
                        && sent == seq
                    {
                        // The answer is recorded: its text is done with.
                        self.answer_in_flight = None;
                        self.drafts.remove(&id);
                        if self.open_case == Some(id) {
                            self.composer.clear();
                        }
                    }
                    self.notice = Some(Notice {
                        text: if count == 1 {
                            format!("«{what}»: записано, будет отправлено на сервер")
                        } else {
                            format!(
                                "«{what}» для {count} обращений: записано, будет отправлено на сервер"
                            )
                        },
                        is_error: false,
                    });
                }
                ViewEvent::NotRecorded { seq, text } => {
                    // An answer that was not recorded stays in the composer.
                    if self.answer_in_flight.is_some_and(|(_, sent)| sent == seq) {
                        self.answer_in_flight = None;
                    }
                    self.computing = false;
                    self.case_stale = false;
                    self.notice = Some(Notice {
                        text,
                        is_error: true,
                    });
                }
                ViewEvent::Failed(text) => {
                    self.computing = false;
                    self.case_stale = false;
                    self.notice = Some(Notice {
                        text,
                        is_error: true,
                    });
                }
            }
        }
    }

    /// Where exported files go from now on (tests).
    pub fn set_export_dir(&mut self, dir: PathBuf) {
        self.export_dir = Some(dir);
    }

    /// The briefing's slide shown (for tests; see [`briefing_slides`]).
    pub fn slide(&self) -> usize {
        self.slide
    }

    /// On the wall, the zoom that makes its type large (see [`wall::wall_zoom`]); set back to 1
    /// when leaving it.
    fn apply_wall_zoom(&mut self, ctx: &egui::Context) {
        let wanted = if self.mode == Mode::Wall {
            self.wall_zoom_applied = true;
            wall::wall_zoom(ctx, self.wall_config.text_scale)
        } else if std::mem::take(&mut self.wall_zoom_applied) {
            1.0
        } else {
            return;
        };
        if (ctx.zoom_factor() - wanted).abs() > 1e-3 {
            ctx.set_zoom_factor(wanted);
        }
    }

    /// Writes an exported file into the export directory; says where, or what went wrong.
    fn write_export(&mut self, what: &str, ext: &str, bytes: &[u8]) {
        let now = self.clock.now_utc().with_timezone(&self.utc_offset());
        let result = self
            .export_dir
            .clone()
            .or_else(crate::paths::export_dir)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "не удалось определить каталог для файлов; задайте переменную {}",
                    crate::paths::EXPORT_DIR_ENV
                )
            })
            .and_then(|dir| {
                std::fs::create_dir_all(&dir)?;
                let path = dir.join(crate::paths::export_file_name(what, now, ext));
                crate::settings::write_atomically(&path, bytes, false)?;
                Ok(path)
            });
        self.notice = Some(match result {
            Ok(path) => Notice {
                text: format!("Сохранено: {}", path.display()),
                is_error: false,
            },
            Err(e) => Notice {
                text: format!("файл не сохранён: {e:#}"),
                is_error: true,
            },
        });
    }

    /// The briefing as a PDF in the export directory.
    fn export_pdf(&mut self) {
        let Phase::Ready(snapshot) = &self.phase else {
            return;
        };
        let pack = snapshot.pack.clone();
        match self.wall.as_deref() {
            Some(data) if self.mode == Mode::Briefing && !data.blocks.is_empty() => {
                match crate::briefing::pdf(data, &pack) {
                    Ok(bytes) => self.write_export("брифинг", "pdf", &bytes),
                    Err(e) => {
                        self.notice = Some(Notice {
                            text: format!("PDF не создан: {e:#}"),
                            is_error: true,
                        })
                    }
                }
            }
            _ => {
                self.notice = Some(Notice {
                    text: "PDF делается из режима «Брифинг» (Ctrl+4), когда показатели готовы"
                        .into(),
                    is_error: false,
                })
            }
        }
    }

    /// Asks for a screenshot when one was wanted, and saves the one that arrived.
    fn take_screenshot(&mut self, ctx: &egui::Context) {
        // A second Ctrl+S while a picture is on its way is the same request.
        if std::mem::take(&mut self.export_png) && self.screenshot.is_none() {
            let (tx, rx) = channel();
            let repaint = ctx.clone();
            ctx.request_screenshot(move |image| {
                let _ = tx.send(image);
                repaint.request_repaint();
            });
            self.screenshot = Some(rx);
        }
        let Some(image) = self.screenshot.as_ref().and_then(|rx| rx.try_recv().ok()) else {
            return;
        };
        self.screenshot = None;
        match png_bytes(&image) {
            Ok(bytes) => {
                let what = match self.mode {
                    Mode::Operator => "оператор",
                    Mode::Review => "обзор",
                    Mode::Wall => "стена",
                    Mode::Briefing => "брифинг",
                };
                self.write_export(what, "png", &bytes);
            }
            Err(e) => {
                self.notice = Some(Notice {
                    text: format!("снимок экрана не сохранён: {e:#}"),
                    is_error: true,
                })
            }
        }
    }

    /// Takes the wall's new figures: the alarms they set off, and a new heat texture.
    fn receive_wall(&mut self, data: Box<views::WallData>) {
        if !self.logged_first_view
            && let Phase::Ready(s) = &self.phase
        {
            eprintln!(
                "tsur: открыта реплика {}: {} обращений",
                s.db_path.display(),
                data.totals.replica
            );
            self.logged_first_view = true;
        }
        let now = self.clock.now_utc().timestamp();
        let on = crate::wall::alarms(&self.wall_config.alarm, &data, &self.alarm_log);
        self.alarms = self.alarm_log.update(&on, now);
        self.wall_pending = data.seq != self.wall_seq;
        self.wall = Some(data);
        self.wall_generation += 1;
    }

    /// Asks the worker for what the screen shows, when that changed.
    fn ask(&mut self) {
        if !matches!(self.phase, Phase::Ready(_)) {
            return;
        }
        if matches!(self.mode, Mode::Wall | Mode::Briefing) {
            let period = if self.mode == Mode::Wall {
                self.wall_config.period
            } else {
                self.review_period
            };
            let briefing = self.mode == Mode::Briefing;
            let minute = (!briefing).then(|| self.clock.now_utc().timestamp().div_euclid(60));
            let wanted = (period, briefing, minute);
            if self.wall_asked != Some(wanted) {
                self.wall_seq += 1;
                let _ = self.views.send(ViewRequest::Wall {
                    period,
                    with_blocks: briefing,
                    seq: self.wall_seq,
                });
                self.wall_asked = Some(wanted);
                self.wall_pending = true;
            }
            // The wall never asks for queues: nothing on it names a person.
            return;
        }
        if self.wall_asked.take().is_some() {
            // Left the wall or the briefing: the worker stops recomputing their figures.
            let _ = self.views.send(ViewRequest::StopWall);
            self.wall = None;
            self.wall_pending = false;
        }
        if self.asked.as_ref() != Some(&self.query) {
            self.request_seq += 1;

            let _ = self.views.send(ViewRequest::Operator {
                query: self.query.clone(),
                seq: self.request_seq,
            });
            self.asked = Some(self.query.clone());
            self.computing = true;
        }
        if self.mode == Mode::Review && self.review_asked != Some(self.review_period) {
            let _ = self.views.send(ViewRequest::Review(self.review_period));
            self.review_asked = Some(self.review_period);
        }
    }

    fn open_case(&mut self, id: AppealId) {
        if self.open_case != Some(id) {
            if let Some(previous) = self.open_case {
                let draft = std::mem::take(&mut self.composer);
                if !draft.trim().is_empty() {
                    self.drafts.insert(previous, draft);
                }
            }
            self.open_case = Some(id);
            self.composer = self.drafts.remove(&id).unwrap_or_default();
            // Centred on the new case, close enough to see the street.
            self.case_map = MapMemory::default();
            let _ = self.case_map.set_zoom(14.0);
            let _ = self.views.send(ViewRequest::Case(id));
        }
        self.cursor = Some(id);
    }

    fn rows(&self) -> &[views::QueueRow] {
        self.operator.as_ref().map_or(&[], |v| v.rows.as_slice())
    }

    /// What an action applies to: the marked appeals, or else the one under the cursor (or the
    /// open case).
    fn targets(&self) -> Vec<(AppealId, i64)> {
        let version = |id: AppealId| {
            self.rows()
                .iter()
                .find(|r| r.id == id)
                .map(|r| r.version)
                .or_else(|| {
                    self.case
                        .as_ref()
                        .filter(|c| c.appeal.id == id)
                        .map(|c| c.appeal.version)
                })
        };
        if self.selected.is_empty() {
            return self
                .cursor
                .or(self.open_case)
                .and_then(|id| Some((id, version(id)?)))
                .into_iter()
                .collect();
        }
        // The version shown now when the appeal is in view, else the one seen when marked.
        self.selected
            .iter()
            .map(|(&id, &marked)| (id, version(id).unwrap_or(marked)))
            .collect()
    }

    /// Marks an appeal seen at `version`, or unmarks it.
    fn toggle_mark(&mut self, id: AppealId, version: i64) {
        if self.selected.remove(&id).is_none() {
            self.selected.insert(id, version);
        }
    }

    /// Sends an action to the worker; whether it was sent (it is recorded or refused there).
    fn act(&mut self, targets: Vec<(AppealId, i64)>, kind: ActionKind) -> bool {
        if let Phase::Ready(s) = &self.phase
            && !s.can_act
        {
            self.notice = Some(Notice {
                text: "реплика открыта без сервера (только чтение): действия не записываются"
                    .into(),
                is_error: true,
            });
            return false;
        }
        if targets.is_empty() {
            self.notice = Some(Notice {
                text: "выберите обращение в очереди (J/K или щелчок), затем действие".into(),
                is_error: true,
            });
            return false;
        }
        self.request_seq += 1;
        let _ = self.views.send(ViewRequest::Act {
            appeals: targets,
            kind,
            seq: self.request_seq,
        });
        // The worker answers with the queue and the case as they are after it.
        self.computing = true;
        self.case_stale = self.open_case.is_some();
        true
    }

    fn move_cursor(&mut self, step: isize) {
        let rows = self.rows();
        if rows.is_empty() {
            return;
        }
        let at = self
            .cursor
            .and_then(|id| rows.iter().position(|r| r.id == id));
        let next = match at {
            None => 0,
            Some(i) => (i as isize + step).clamp(0, rows.len() as isize - 1) as usize,
        };
        self.cursor = Some(rows[next].id);
        self.scroll_to_cursor = true;
    }

    fn tabs(&self) -> Vec<QueueTab> {
        let mut tabs = vec![QueueTab::All];
        if let Phase::Ready(s) = &self.phase {
            tabs.extend(
                s.pack
                    .blocks
                    .iter()
                    .map(|b| QueueTab::Block(b.code.to_string())),
            );
        }
        tabs.push(QueueTab::Escalated);
        tabs.push(QueueTab::Overdue);
        tabs
    }

    fn switch_tab(&mut self, step: isize) {
        let tabs = self.tabs();
        let at = tabs.iter().position(|t| *t == self.query.tab).unwrap_or(0) as isize;
        let next = (at + step).rem_euclid(tabs.len() as isize) as usize;
        self.query.tab = tabs[next].clone();
    }

    /// Asks for the settings to be written (not over a file that could not be read); the
    /// request's number.
    fn save_settings(&mut self) -> Option<u64> {
        self.settings.period = self.query.period;
        self.settings.area_measure = self.query.area_measure;
        if self.settings_unreadable {
            return None;
        }
        let settings = &self.settings;
        self.settings_writer.as_mut().map(|w| w.save(settings))
    }

    /// Runs the commands of this frame.
    fn run_commands(&mut self, ctx: &egui::Context) {
        let mut commands = std::mem::take(&mut self.commands);
        if self.palette.is_none() && self.dialog.is_none() && self.settings_window.is_none() {
            commands.extend(command::pressed(ctx));
        } else if ctx.input(|i| i.key_pressed(egui::Key::Escape)) && self.dialog.is_some() {
            self.dialog = None;
        }
        for command in commands {
            self.run_one(command);
        }
    }

    fn run_one(&mut self, command: UiCommand) {
        let layers = &mut self.settings.layers;
        match command {
            // A wall started as one stays one: no key puts queues or cases on it.
            UiCommand::SwitchMode(_) if self.wall_locked => {}
            UiCommand::SwitchMode(mode) => self.mode = mode,
            UiCommand::OpenPalette | UiCommand::OpenSettings if self.mode == Mode::Wall => {}
            UiCommand::OpenPalette => self.palette = Some(Palette::default()),
            UiCommand::Refresh => self.wall_asked = None,
            UiCommand::NextSlide | UiCommand::PreviousSlide if self.mode == Mode::Briefing => {
                let step = if command == UiCommand::NextSlide {
                    1
                } else {
                    -1
                };
                self.slide = (self.slide as isize + step)
                    .clamp(0, briefing::SLIDES.len() as isize - 1)
                    as usize;
            }
            UiCommand::NextSlide | UiCommand::PreviousSlide => {}
            UiCommand::ExportPdf => self.export_pdf(),
            UiCommand::ExportPng => self.export_png = true,
            UiCommand::ToggleFullscreen => self.toggle_fullscreen = true,
            // Nothing on the wall opens a case or acts on one.
            _ if self.mode == Mode::Wall => {}
            UiCommand::OpenSettings => {
                let token = self
                    .settings_store
                    .as_ref()
                    .and_then(|s| s.token().ok().flatten());
                self.settings_window = Some(dialogs::SettingsDraft::new(&self.settings, token));
            }
            UiCommand::FocusSearch => {
                self.mode = Mode::Operator;
                self.focus_search = true;
            }
            UiCommand::NextRow => self.move_cursor(1),
            UiCommand::PreviousRow => self.move_cursor(-1),
            UiCommand::ToggleSelection => {
                let row = self
                    .rows()
                    .iter()
                    .find(|r| Some(r.id) == self.cursor)
                    .map(|r| (r.id, r.version));
                if let Some((id, version)) = row {
                    self.toggle_mark(id, version);
                }
            }
            UiCommand::SelectAll => {
                let marks: Vec<(AppealId, i64)> =
                    self.rows().iter().map(|r| (r.id, r.version)).collect();
                self.selected.extend(marks);
            }
            UiCommand::ClearSelection => self.selected.clear(),
            UiCommand::OpenCase => {
                if let Some(id) = self.cursor {
                    self.open_case(id);
                }
            }
            UiCommand::Close => {
                if let Some(id) = self.open_case {
                    let draft = std::mem::take(&mut self.composer);
                    if !draft.trim().is_empty() {
                        self.drafts.insert(id, draft);
                    }
                    self.open_case = None;
                    self.case = None;
                } else {
                    self.selected.clear();
                }
            }
            UiCommand::NextTab => self.switch_tab(1),
            UiCommand::PreviousTab => self.switch_tab(-1),
            UiCommand::Take | UiCommand::Escalate => {
                let targets = self.targets();
                if targets.len() > 1 {
                    // Many at once: confirmed first (Enter), since it cannot be taken back.
                    self.dialog = Some(Dialog {
                        command,
                        targets,
                        text: String::new(),
                        choice: None,
                    });
                } else {
                    self.act(targets, immediate_action(command));
                }
            }
            UiCommand::AcceptSuggestion => {
                let suggestion = self.case.as_ref().and_then(|c| {
                    Some((c.appeal.id, c.appeal.version, c.appeal.suggestion.clone()?))
                });
                match suggestion {
                    Some((id, version, s)) => {
                        self.act(
                            vec![(id, version)],
                            ActionKind::Classify {
                                topic: s.topic.as_str().to_string(),
                            },
                        );
                    }
                    None => {
                        self.notice = Some(Notice {
                            text: "у открытого обращения нет предложенной темы".into(),
                            is_error: true,
                        })
                    }
                }
            }
            UiCommand::Assign
            | UiCommand::Classify
            | UiCommand::Route
            | UiCommand::Extend
            | UiCommand::MergeIntoProblem
            | UiCommand::MarkDuplicate
            | UiCommand::AddNote => {
                let targets = self.targets();
                if targets.is_empty() {
                    self.act(targets, ActionKind::Take);
                } else {
                    self.dialog = Some(Dialog {
                        command,
                        targets,
                        text: String::new(),
                        choice: None,
                    });
                }
            }
            UiCommand::Answer => {
                if let Some(id) = self.cursor.or(self.open_case) {
                    self.open_case(id);
                    self.focus_composer = true;
                }
            }
            UiCommand::ClearMunicipality => self.query.municipality = None,
            UiCommand::ShowWholeRegion => {
                self.map_memory.follow_my_position();
                self.map_fitted = false;
            }
            UiCommand::ToggleHeat => layers.heat = !layers.heat,
            UiCommand::ToggleAreas => layers.areas = !layers.areas,
            UiCommand::ToggleProblems => layers.problems = !layers.problems,
            UiCommand::ToggleAppeals => layers.appeals = !layers.appeals,
        }
        if matches!(
            command,
            UiCommand::ToggleHeat
                | UiCommand::ToggleAreas
                | UiCommand::ToggleProblems
                | UiCommand::ToggleAppeals
        ) {
            self.save_settings();
        }
    }

    /// The sync status in words: "данные на 14:32, в очереди 2 действия" or offline since when.
    fn sync_text(&self, offset: chrono::FixedOffset) -> Option<(String, bool)> {
        let s = self.sync.as_ref()?;
        let now = self.clock.now_utc();
        let time =
            |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&offset).format("%H:%M").to_string();
        let mut text = match (s.offline_since, s.data_as_of) {
            (Some(since), Some(as_of)) => format!(
                "нет связи с сервером с {}, данные на {}",
                time(since),
                time(as_of)
            ),
            (Some(since), None) => format!("нет связи с сервером с {}", time(since)),
            (None, Some(as_of)) => format!(
                "{}: данные на {}, отставание {} с",
                s.server,
                time(as_of),
                (now - as_of).num_seconds().max(0)
            ),
            (None, None) => format!("{}: синхронизация…", s.server),
        };
        if s.pending_actions > 0 {
            text.push_str(&format!(", в очереди действий: {}", s.pending_actions));
        }
        if s.conflicts > 0 {
            text.push_str(&format!(", конфликтов: {}", s.conflicts));
        }
        if s.quarantined > 0 {
            text.push_str(&format!(", в карантине записей: {}", s.quarantined));
        }
        Some((text, s.offline_since.is_some()))
    }

    fn top_bar_ui(&mut self, ui: &mut egui::Ui) {
        let mut save = false;
        ui.horizontal_wrapped(|ui| {
            ui.heading("tsur");
            ui.separator();
            for mode in Mode::ALL {
                let selected = self.mode == mode;
                let command = UiCommand::SwitchMode(mode);
                let response = ui
                    .add(egui::Button::selectable(selected, mode.label_ru()))
                    .on_hover_text(command.shortcut_text(ui.ctx()));
                if response.clicked() {
                    self.commands.push(UiCommand::SwitchMode(mode));
                }
            }
            ui.separator();
            let Phase::Ready(s) = &self.phase else {
                ui.label("Загрузка данных…");
                return;
            };
            ui.label(&s.region_name);
            let mut period = self.query.period;
            egui::ComboBox::from_label("Период")
                .selected_text(period.label_ru())
                .show_ui(ui, |ui| {
                    for p in Period::ALL {
                        ui.selectable_value(&mut period, p, p.label_ru());
                    }
                });
            if period != self.query.period {
                self.query.period = period;
                self.review_period = period;
                save = true;
            }
            let mut municipality = self.query.municipality.clone();
            let name = |code: &Option<String>| match code {
                None => "Все муниципалитеты".to_string(),
                Some(c) => s
                    .pack
                    .municipality(c)
                    .map_or(c.clone(), |m| m.short_name.clone()),
            };
            egui::ComboBox::from_label("Территория")
                .selected_text(name(&municipality))
                .height(480.0)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut municipality, None, "Все муниципалитеты");
                    let mut places: Vec<_> = s.places.iter().collect();
                    places.sort_by(|a, b| a.name.cmp(&b.name));
                    for place in places {
                        ui.selectable_value(
                            &mut municipality,
                            Some(place.code.clone()),
                            &place.name,
                        );
                    }
                });
            if municipality != self.query.municipality {
                self.query.municipality = municipality;
            }
            ui.separator();
            let kind = if s.is_demo {
                "Демо-реплика"
            } else {
                "Реплика"
            };
            match self.sync_text(s.utc_offset) {
                Some((text, offline)) => {
                    let text = RichText::new(text);
                    let hover = self
                        .sync
                        .as_ref()
                        .and_then(|s| s.last_error.clone())
                        .unwrap_or_else(|| "Синхронизация с сервером ЦУР".into());
                    ui.label(if offline {
                        text.color(theme::ERROR_TEXT)
                    } else {
                        text
                    })
                    .on_hover_text(format!("{hover}\n{kind}: {}", s.db_path.display()));
                }
                None => {
                    ui.label(format!("{kind} без сервера, только чтение"))
                        .on_hover_text(s.db_path.display().to_string());
                }
            }
            let busy = match self.mode {
                Mode::Wall | Mode::Briefing => self.wall_pending,
                Mode::Operator | Mode::Review => self.computing,
            };
            if busy {
                ui.spinner().on_hover_text("Пересчёт показателей");
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui
                    .button("⚙")
                    .on_hover_text(format!(
                        "Настройки ({})",
                        UiCommand::OpenSettings.shortcut_text(ui.ctx())
                    ))
                    .clicked()
                {
                    self.commands.push(UiCommand::OpenSettings);
                }
                if ui
                    .button("Команды")
                    .on_hover_text(UiCommand::OpenPalette.shortcut_text(ui.ctx()))
                    .clicked()
                {
                    self.commands.push(UiCommand::OpenPalette);
                }
            });
        });
        if save {
            self.save_settings();
        }
    }

    fn notice_ui(&mut self, ui: &mut egui::Ui) {
        let Some(notice) = &self.notice else {
            return;
        };
        let mut close = false;
        egui::Panel::bottom("notice").show(ui, |ui| {
            ui.horizontal(|ui| {
                let text = RichText::new(&notice.text);
                ui.label(if notice.is_error {
                    text.color(theme::ERROR_TEXT)
                } else {
                    text
                });
                if ui.small_button("×").on_hover_text("Скрыть").clicked() {
                    close = true;
                }
            });
        });
        if close {
            self.notice = None;
        }
    }

    fn loading_ui(&self, ui: &mut egui::Ui) {
        let (text, fraction) = match &self.phase {
            Phase::Starting => ("Открываем данные…".to_string(), None),
            Phase::Progress { what, done, total } => (
                format!(
                    "{what} — {} из {}",
                    group_digits(*done),
                    group_digits(*total)
                ),
                Some(*done as f32 / (*total).max(1) as f32),
            ),
            Phase::Reading | Phase::Ready(_) => ("Читаем реплику…".to_string(), None),
            Phase::Failed(msg) => (msg.clone(), None),
        };
        let failed = matches!(self.phase, Phase::Failed(_));
        egui::CentralPanel::default().show(ui, |ui| {
            ui.vertical_centered(|ui| {
                ui.add_space(ui.available_height() / 3.0);
                if failed {
                    ui.label(
                        RichText::new("Не удалось открыть данные")
                            .heading()
                            .color(theme::ERROR_TEXT),
                    );
                    ui.label(text);
                } else {
                    ui.label(RichText::new(text).heading());
                    match fraction {
                        Some(f) => {
                            ui.add(
                                egui::ProgressBar::new(f)
                                    .show_percentage()
                                    .desired_width(420.0),
                            );
                        }
                        None => {
                            ui.spinner();
                        }
                    }
                }
            });
        });
    }
}

impl eframe::App for TsurApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.poll();
        let ctx = ui.ctx().clone();
        self.run_commands(&ctx);
        self.ask();
        self.apply_wall_zoom(&ctx);
        if std::mem::take(&mut self.toggle_fullscreen) {
            let full = ctx.input(|i| i.viewport().fullscreen.unwrap_or(false));
            ctx.send_viewport_cmd(egui::ViewportCommand::Fullscreen(!full));
        }
        // The wall has no controls on it: it is read from across the room.
        if self.mode != Mode::Wall {
            egui::Panel::top("top_bar").show(ui, |ui| self.top_bar_ui(ui));
        }
        self.notice_ui(ui);
        if !self.is_ready() {
            self.loading_ui(ui);
            return;
        }
        match self.mode {
            Mode::Review => review::review_ui(self, ui),
            Mode::Wall => wall::wall_ui(self, ui),
            Mode::Briefing => briefing::briefing_ui(self, ui),
            Mode::Operator => operator::operator_ui(self, ui),
        }
        self.take_screenshot(&ctx);
        if let Some(id) = self.pending_open.take() {
            self.open_case(id);
        }
        if let Some((targets, kind)) = self.pending_action.take() {
            let is_answer = matches!(kind, ActionKind::Answer { .. });
            let first = targets.first().map(|t| t.0);
            if self.act(targets, kind)
                && is_answer
                && let Some(id) = first
            {
                self.answer_in_flight = Some((id, self.request_seq));
            }
        }
        if self.mode == Mode::Wall {
            return;
        }
        dialogs::dialog_ui(self, &ctx);
        dialogs::settings_ui(self, &ctx);
        if let Some(palette) = self.palette.as_mut() {
            let (chosen, close) = palette.ui(&ctx);
            if close {
                self.palette = None;
            }
            if let Some(command) = chosen {
                self.commands.push(command);
                ctx.request_repaint();
            }
        }
    }
}

/// The action of a command that needs no value (take, escalate to the block head).
pub(crate) fn immediate_action(command: UiCommand) -> ActionKind {
    match command {
        UiCommand::Take => ActionKind::Take,
        _ => ActionKind::Escalate {
            to: ESCALATE_TO.into(),
            why: None,
        },
    }
}

/// The view worker's thread. When the app closes, the loader has stopped and every sender of
/// requests is gone, so the worker finishes what it was asked and saves the read model for the
/// next start; closing waits for that (well under a second for a million appeals).
struct ViewWorker(Option<std::thread::JoinHandle<()>>);

impl Drop for ViewWorker {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            let _ = handle.join();
        }
    }
}

/// Runs the app in a native window; `wall` starts it as the video wall with that configuration.
pub fn run_native(
    db: Option<PathBuf>,
    server: Option<(String, String)>,
    ca_cert: Option<PathBuf>,
    pack: Option<PathBuf>,
    wall: Option<crate::wall::WallConfig>,
) -> Result<()> {
    let mut options = AppOptions::new(db, server, ca_cert, pack, wall.is_some())?;
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("tsur — ситуационный центр ЦУР")
        .with_inner_size([1600.0, 900.0])
        .with_min_inner_size([900.0, 560.0])
        .with_icon(
            eframe::icon_data::from_png_bytes(include_bytes!("../../assets/icon.png"))
                .unwrap_or_default(),
        );
    if let Some(config) = wall {
        viewport = wall_viewport(viewport, &config.window);
        options.mode = Mode::Wall;
        options.wall = config;
    }
    let native = eframe::NativeOptions {
        viewport,
        ..Default::default()
    };
    eframe::run_native(
        "tsur",
        native,
        Box::new(move |cc| Ok(Box::new(TsurApp::new(&cc.egui_ctx, options)))),
    )
    .map_err(|e| anyhow::anyhow!("не удалось открыть окно: {e}"))
}

/// The wall's window: borderless full screen on the monitor at `position`, or one borderless
/// window over a canvas of several screens, or an ordinary window to try a layout at a desk.
fn wall_viewport(
    viewport: egui::ViewportBuilder,
    window: &crate::wall::WindowSpec,
) -> egui::ViewportBuilder {
    use crate::wall::WindowMode;
    let mut viewport = viewport.with_min_inner_size([320.0, 240.0]);
    if let Some(position) = window.position {
        viewport = viewport.with_position(position);
    }
    match window.mode {
        WindowMode::Fullscreen => viewport.with_decorations(false).with_fullscreen(true),
        WindowMode::Canvas => {
            let size = window.size.unwrap_or([5760.0, 2160.0]);
            viewport
                .with_decorations(false)
                .with_inner_size(size)
                .with_always_on_top()
        }
        WindowMode::Window => match window.size {
            Some(size) => viewport.with_inner_size(size),
            None => viewport,
        },
    }
}

/// How many slides the briefing has.
pub fn briefing_slides() -> usize {
    briefing::SLIDES.len()
}

/// An image of the screen as PNG bytes.
fn png_bytes(image: &egui::ColorImage) -> Result<Vec<u8>> {
    let [w, h] = image.size;
    let rgba: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    let buffer = image::RgbaImage::from_raw(w as u32, h as u32, rgba)
        .ok_or_else(|| anyhow::anyhow!("размер снимка не сходится: {w}×{h}"))?;
    let mut out = std::io::Cursor::new(Vec::new());
    buffer.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

pub use crate::format::group_digits;

/// A moment as the wall says it: "14:05" today, "25.11 14:05" on another day (a wall left for a
/// week must not pass last Tuesday off as today).
pub(crate) fn moment(secs: i64, now: i64, offset: chrono::FixedOffset) -> String {
    let local = |s: i64| chrono::DateTime::from_timestamp(s, 0).map(|t| t.with_timezone(&offset));
    match (local(secs), local(now)) {
        (Some(t), Some(n)) if t.date_naive() == n.date_naive() => t.format("%H:%M").to_string(),
        (Some(t), _) => t.format("%d.%m %H:%M").to_string(),
        (None, _) => String::new(),
    }
}

/// Unix seconds as local "дд.мм.гггг чч:мм".
fn local_time(secs: i64, offset: chrono::FixedOffset) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| {
            t.with_timezone(&offset)
                .format("%d.%m.%Y %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// A countdown to a deadline: "через 2 д 4 ч", "просрочено на 3 ч".
fn countdown(due: i64, now: i64) -> String {
    let left = due - now;
    let span = left.unsigned_abs();
    let (days, hours, minutes) = (span / 86_400, span % 86_400 / 3_600, span % 3_600 / 60);
    let amount = if days > 0 {
        format!("{days} д {hours} ч")
    } else if hours > 0 {
        format!("{hours} ч {minutes} мин")
    } else {
        format!("{minutes} мин")
    };
    if left >= 0 {
        format!("через {amount}")
    } else {
        format!("просрочено на {amount}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdowns_read_as_people_say_them() {
        assert_eq!(
            countdown(1_000 + 2 * 86_400 + 4 * 3_600, 1_000),
            "через 2 д 4 ч"
        );
        assert_eq!(
            countdown(1_000, 1_000 + 3 * 3_600),
            "просрочено на 3 ч 0 мин"
        );
        assert_eq!(countdown(1_000 + 120, 1_000), "через 2 мин");
    }
}

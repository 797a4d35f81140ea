//! The first window: counts by block and status and a map of appeal points over the region.
//! This is the skeleton the operator-workstation issue grows.

use crate::loader::{self, LoadEvent, Loader, Replica, Snapshot, Source, SyncStatus};
use crate::map::RegionOverlay;
use crate::theme;
use anyhow::Result;
use egui::{Color32, RichText};
use std::path::PathBuf;
use std::sync::Arc;
use tsur_core::clock::{SharedClock, SystemClock};
use tsur_core::domain::{Regime, Status};
use walkers::{Map, MapMemory, lat_lon};

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

/// How the app is started.
#[derive(Clone)]
pub struct AppOptions {
    pub source: Source,
    pub clock: SharedClock,
}

impl AppOptions {
    /// The defaults of `cargo run`: the demo replica in the data directory and the bundled pack.
    /// `server` is the URL and token of a configured server; `ca_cert` a PEM file of extra
    /// certificates to trust for an `https://` one.
    pub fn new(
        db: Option<PathBuf>,
        server: Option<(String, String)>,
        ca_cert: Option<PathBuf>,
        pack: Option<PathBuf>,
    ) -> Result<Self> {
        let data_dir = || {
            crate::paths::data_dir().ok_or_else(|| {
                anyhow::anyhow!(
                    "не удалось определить каталог данных пользователя; задайте переменную {}",
                    crate::paths::DATA_DIR_ENV
                )
            })
        };
        let replica = match (db, server) {
            (Some(path), None) => Replica::Existing(path),
            (db, Some((server, token))) => Replica::Remote {
                db: match db {
                    Some(db) => db,
                    None => data_dir()?.join(crate::paths::replica_file_for(&server)),
                },
                server,
                token,
                ca_cert,
            },
            (None, None) => Replica::Demo(data_dir()?),
        };
        Ok(AppOptions {
            source: Source {
                replica,
                pack_dir: crate::paths::pack_dir(pack.as_deref()),
                demo_appeals: demo_appeals_from_env()?,
            },
            clock: Arc::new(SystemClock),
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

/// The egui application.
pub struct TsurApp {
    loader: Loader,
    phase: Phase,
    map_memory: MapMemory,
    /// Whether the map has been zoomed to fit the region once.
    map_fitted: bool,
    /// Where syncing stands (none for a replica opened offline).
    sync: Option<SyncStatus>,
}

impl TsurApp {
    pub fn new(ctx: &egui::Context, options: AppOptions) -> Self {
        let repaint_ctx = ctx.clone();
        let loader = loader::spawn(options.source, options.clock, move || {
            repaint_ctx.request_repaint()
        });
        let map_memory = MapMemory::default();
        TsurApp {
            loader,
            phase: Phase::Starting,
            map_memory,
            map_fitted: false,
            sync: None,
        }
    }

    /// Whether the data has loaded (for tests and the screenshot script).
    pub fn is_ready(&self) -> bool {
        matches!(self.phase, Phase::Ready(_))
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

    fn poll(&mut self) {
        while let Ok(event) = self.loader.events.try_recv() {
            match event {
                LoadEvent::Progress { what, done, total } => {
                    // Progress never hides data already on screen (later syncs report none).
                    if !self.is_ready() {
                        self.phase = Phase::Progress { what, done, total };
                    }
                }
                LoadEvent::Reading => {
                    if !self.is_ready() {
                        self.phase = Phase::Reading;
                    }
                }
                LoadEvent::Ready(snapshot) => {
                    // One line for people and scripts (scripts/screenshot.sh waits for it).
                    eprintln!(
                        "tsur: открыта реплика {}: {} обращений",
                        snapshot.db_path.display(),
                        snapshot.stats.total
                    );
                    self.phase = Phase::Ready(snapshot);
                }
                LoadEvent::Sync(status) => self.sync = Some(status),
                LoadEvent::Failed(msg) => {
                    if !self.is_ready() {
                        self.phase = Phase::Failed(msg);
                    }
                }
            }
        }
    }

    /// The sync status in words: "данные на 14:32, в очереди 2 действия" or offline since when.
    fn sync_text(&self, offset: chrono::FixedOffset) -> Option<(String, bool)> {
        let s = self.sync.as_ref()?;
        let time =
            |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&offset).format("%H:%M").to_string();
        let mut text = match (s.offline_since, s.data_as_of) {
            (Some(since), Some(as_of)) => format!(
                "нет связи с сервером с {}, данные на {}",
                time(since),
                time(as_of)
            ),
            (Some(since), None) => format!("нет связи с сервером с {}", time(since)),
            (None, Some(as_of)) => format!("{}: данные на {}", s.server, time(as_of)),
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

    fn top_bar_ui(&self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("tsur");
            ui.separator();
            match &self.phase {
                Phase::Ready(s) => {
                    ui.label(&s.region_name);
                    ui.separator();
                    let kind = if s.is_demo {
                        "Демо-реплика"
                    } else {
                        "Реплика"
                    };
                    ui.label(format!("{kind}: {}", s.db_path.display()))
                        .on_hover_text(
                            "Локальная копия данных; демо-реплика содержит вымышленные обращения",
                        );
                    ui.separator();
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
                            .on_hover_text(hover);
                        }
                        None => {
                            ui.label(format!(
                                "данные на {} (реплика без сервера)",
                                local_time(&s.stats.as_of, s.utc_offset)
                            ));
                        }
                    }
                }
                _ => {
                    ui.label("Загрузка данных…");
                }
            }
        });
    }

    fn summary_ui(ui: &mut egui::Ui, s: &Snapshot) {
        let st = &s.stats;
        ui.heading("Обращения");
        egui::Grid::new("totals")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                count_row(ui, "Всего обращений", st.total, None);
                count_row(ui, "Открыто", st.open, None);
                count_row(ui, "Просрочено", st.overdue, Some(theme::OVERDUE_TEXT));
                count_row(ui, "Под угрозой (24 ч)", st.at_risk, None);
                count_row(ui, "Без темы", st.unclassified, None);
                count_row(ui, "Без координат", st.without_coordinates, None);
            });
        ui.add_space(8.0);
        ui.heading("По блокам");
        egui::Grid::new("by_block")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                for name in &s.block_order {
                    count_row(ui, name, st.by_block.get(name).copied().unwrap_or(0), None);
                }
            });
        ui.add_space(8.0);
        ui.heading("По статусам");
        egui::Grid::new("by_status")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                for status in Status::ALL {
                    let n = st.by_status.get(status.code()).copied().unwrap_or(0);
                    if n > 0 {
                        count_row(ui, status.label_ru(), n, None);
                    }
                }
            });
        ui.add_space(8.0);
        ui.heading("По режимам");
        egui::Grid::new("by_regime")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                for regime in Regime::ALL {
                    let n = st.by_regime.get(regime.code()).copied().unwrap_or(0);
                    count_row(ui, regime.label_ru(), n, None);
                }
            });
    }

    fn map_ui(ui: &mut egui::Ui, s: &Snapshot, map_memory: &mut MapMemory, map_fitted: &mut bool) {
        // Keys for the map: + and − zoom, Home shows the whole region again.
        let (zoom_in, zoom_out, home) = ui.input(|i| {
            (
                i.key_pressed(egui::Key::Plus) || i.key_pressed(egui::Key::Equals),
                i.key_pressed(egui::Key::Minus),
                i.key_pressed(egui::Key::Home),
            )
        });
        if zoom_in {
            let _ = map_memory.zoom_in();
        }
        if zoom_out {
            let _ = map_memory.zoom_out();
        }
        if home {
            map_memory.follow_my_position();
            *map_fitted = false;
        }
        if !*map_fitted {
            let (min_lat, max_lat, min_lon, max_lon) = s.bbox;
            let zoom =
                crate::map::fit_zoom(ui.available_size(), min_lat, max_lat, min_lon, max_lon);
            let _ = map_memory.set_zoom(zoom);
            *map_fitted = true;
        }
        let overlay = RegionOverlay {
            cells: &s.cells,
            max_cell: s.max_cell,
            places: &s.places,
        };
        ui.add(Map::new(None, map_memory, lat_lon(s.centre.0, s.centre.1)).with_plugin(overlay));
    }
}

impl eframe::App for TsurApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.poll();
        egui::Panel::top("top_bar").show(ui, |ui| self.top_bar_ui(ui));
        let TsurApp {
            phase,
            map_memory,
            map_fitted,
            ..
        } = self;
        match phase {
            Phase::Ready(snapshot) => {
                egui::Panel::left("summary")
                    .default_size(280.0)
                    .show(ui, |ui| {
                        egui::ScrollArea::vertical().show(ui, |ui| Self::summary_ui(ui, snapshot));
                    });
                egui::CentralPanel::default()
                    .show(ui, |ui| Self::map_ui(ui, snapshot, map_memory, map_fitted));
            }
            phase => {
                let (text, fraction) = match phase {
                    Phase::Starting => ("Открываем данные…".to_string(), None),
                    Phase::Progress { what, done, total } => (
                        format!(
                            "{what} — {} из {}",
                            group_digits(*done),
                            group_digits(*total)
                        ),
                        Some(*done as f32 / (*total).max(1) as f32),
                    ),
                    Phase::Reading => ("Читаем реплику…".to_string(), None),
                    Phase::Failed(msg) => (msg.clone(), None),
                    Phase::Ready(_) => (String::new(), None),
                };
                let failed = matches!(phase, Phase::Failed(_));
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
    }
}

/// Runs the app in a native window.
pub fn run_native(
    db: Option<PathBuf>,
    server: Option<(String, String)>,
    ca_cert: Option<PathBuf>,
    pack: Option<PathBuf>,
) -> Result<()> {
    let options = AppOptions::new(db, server, ca_cert, pack)?;
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("tsur — ситуационный центр ЦУР")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([800.0, 500.0])
            .with_icon(
                eframe::icon_data::from_png_bytes(include_bytes!("../assets/icon.png"))
                    .unwrap_or_default(),
            ),
        ..Default::default()
    };
    eframe::run_native(
        "tsur",
        native,
        Box::new(move |cc| Ok(Box::new(TsurApp::new(&cc.egui_ctx, options)))),
    )
    .map_err(|e| anyhow::anyhow!("не удалось открыть окно: {e}"))
}

/// One row of a summary grid: the name, then the count (coloured when non-zero and asked to be).
/// The count's accessible label names its row ("Просрочено: 112") for screen readers and tests.
fn count_row(ui: &mut egui::Ui, name: &str, value: u64, colour: Option<Color32>) {
    ui.label(name);
    let digits = group_digits(value);
    let text = RichText::new(&digits).strong();
    let response = ui.label(match colour {
        Some(c) if value > 0 => text.color(c),
        _ => text,
    });
    response.widget_info(|| {
        egui::WidgetInfo::labeled(egui::Role::Label, true, format!("{name}: {digits}"))
    });
    ui.end_row();
}

/// "1 234 567" with thin spaces between groups, as Russian typography has it.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202F}');
        }
        out.push(c);
    }
    out
}

/// An RFC 3339 instant as local "дд.мм.гггг чч:мм".
fn local_time(rfc3339: &str, offset: chrono::FixedOffset) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&offset)
                .format("%d.%m.%Y %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| rfc3339.to_string())
}

//! The video wall: large type on a dark background, a clock and "данные на …", the playlist of
//! scenes (one, or a grid of cells on a canvas spanning several screens), the alarm scene that
//! takes over while a threshold is crossed, and the stale-data marker.
//!
//! It draws only [`WallData`]: figures, names from the pack and scrubbed problem titles. It never
//! reads a case, a queue row or an author, so no personal data can reach it, whatever the replica
//! holds.

use super::{TsurApp, group_digits};
use crate::map::{MapData, MapLayers, RegionOverlay};
use crate::views::{AreaMeasure, WallData};
use crate::wall::{Alarm, SceneKind, scene_at};
use egui::{Align, Color32, Layout, RichText, Stroke, vec2};
use walkers::{Map, MapMemory, lat_lon};

/// The wall's colours: light on near-black, for contrast from across a room.
const BACKGROUND: Color32 = Color32::from_rgb(0x0B, 0x0F, 0x14);
const PANEL: Color32 = Color32::from_rgb(0x16, 0x1D, 0x26);
const TEXT: Color32 = Color32::from_rgb(0xF1, 0xF3, 0xF5);
const MUTED: Color32 = Color32::from_rgb(0xAD, 0xB5, 0xBD);
const ALARM: Color32 = Color32::from_rgb(0xB0, 0x1E, 0x1E);
const GOOD: Color32 = Color32::from_rgb(0x51, 0xCF, 0x66);
const BAD: Color32 = Color32::from_rgb(0xFF, 0x6B, 0x6B);
const WARN: Color32 = Color32::from_rgb(0xFC, 0xC4, 0x19);

/// Logical sizes of the wall's type (scaled by the wall's zoom).
const HEADER: f32 = 26.0;
const TITLE: f32 = 34.0;
const BIG: f32 = 58.0;
const ROW: f32 = 22.0;
const SMALL: f32 = 17.0;

/// What a wall cell shows now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WallShown {
    Scene(SceneKind),
    Alarm,
}

/// The zoom that makes the wall's layout about 1080 points high at `text_scale` 2, whatever the
/// screen's resolution: a 4K screen gets twice the pixels per point of a full-HD one.
pub(super) fn wall_zoom(ctx: &egui::Context, text_scale: f32) -> f32 {
    let (height_px, native) = ctx.input(|i| {
        (
            i.viewport_rect().height() * i.pixels_per_point,
            i.viewport().native_pixels_per_point.unwrap_or(1.0),
        )
    });
    let wanted_ppp = (text_scale * height_px / 2160.0).clamp(0.5, 8.0);
    wanted_ppp / native.max(0.1)
}

/// The whole wall: header, stale marker, the cells, and the playlist's footer.
pub(super) fn wall_ui(app: &mut TsurApp, ui: &mut egui::Ui) {
    let Some(data) = app.wall.take() else {
        return;
    };
    let now = app.clock.now_utc().timestamp();
    let offset = app.utc_offset();
    let alarms = app.alarms.clone();
    let stale = app.is_wall_stale();
    let frame = egui::Frame::new().fill(BACKGROUND).inner_margin(12.0);
    egui::Panel::top("wall_header")
        .frame(frame)
        .show(ui, |ui| header_ui(app, ui, &data, now, offset, stale));
    egui::Panel::bottom("wall_footer")
        .frame(frame)
        .show(ui, |ui| footer_ui(app, ui, now, !alarms.is_empty()));
    egui::CentralPanel::default().frame(frame).show(ui, |ui| {
        let columns = app.wall_config.window.columns.max(1) as usize;
        let rows = app.wall_config.window.rows.max(1) as usize;
        let gap = 12.0;
        let full = ui.available_rect_before_wrap();
        let cell_size = vec2(
            (full.width() - gap * (columns - 1) as f32) / columns as f32,
            (full.height() - gap * (rows - 1) as f32) / rows as f32,
        );
        if !alarms.is_empty() {
            // The alarm takes the whole wall, every screen of it.
            let mut alarm_ui_ = ui.new_child(
                egui::UiBuilder::new()
                    .max_rect(full)
                    .layout(Layout::top_down(Align::Min)),
            );
            alarm_ui(&mut alarm_ui_, &alarms, offset);
            return;
        }
        for cell in 0..columns * rows {
            let (col, row) = (cell % columns, cell / columns);
            let min = full.min + vec2(col as f32, row as f32) * (cell_size + vec2(gap, gap));
            let rect = egui::Rect::from_min_size(min, cell_size);
            let mut cell_ui = ui.new_child(
                egui::UiBuilder::new()
                    .max_rect(rect)
                    .id_salt(("wall_cell", cell))
                    .layout(Layout::top_down(Align::Min)),
            );
            cell_ui.set_clip_rect(rect);
            if let Some(WallShown::Scene(kind)) = app.wall_shown(cell, now) {
                scene_ui(app, &mut cell_ui, &data, kind, cell);
            }
        }
    });
    app.wall = Some(data);
    // The clock and the playlist move every second even when no data arrives.
    ui.ctx()
        .request_repaint_after(std::time::Duration::from_millis(500));
}

fn header_ui(
    app: &TsurApp,
    ui: &mut egui::Ui,
    data: &WallData,
    now: i64,
    offset: chrono::FixedOffset,
    stale: bool,
) {
    let region = app.region_name();
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(format!("ЦУР · {region}"))
                .size(HEADER)
                .color(TEXT)
                .strong(),
        );
        ui.label(
            RichText::new(format!("за {}", data.period.label_ru()))
                .size(HEADER)
                .color(MUTED),
        );
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            ui.label(
                RichText::new(clock_text(now, offset, "%H:%M:%S"))
                    .size(HEADER * 1.3)
                    .color(TEXT)
                    .monospace(),
            );
            ui.add_space(24.0);
            let as_of = app.data_as_of().map_or_else(
                || "данные: нет синхронизации".to_string(),
                |t| format!("данные на {}", super::moment(t, now, offset)),
            );
            ui.label(
                RichText::new(as_of)
                    .size(HEADER)
                    .color(if stale { WARN } else { MUTED }),
            );
        });
    });
    if stale {
        let text = app.stale_text(offset);
        egui::Frame::new()
            .fill(Color32::from_rgb(0x5C, 0x3D, 0x00))
            .stroke(Stroke::new(2.0, WARN))
            .inner_margin(8.0)
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(
                    RichText::new(format!("⚠ ДАННЫЕ УСТАРЕЛИ: {text}"))
                        .size(HEADER)
                        .color(WARN)
                        .strong(),
                );
            });
    }
}

fn footer_ui(app: &TsurApp, ui: &mut egui::Ui, now: i64, alarm: bool) {
    let scenes = &app.wall_config.scenes;
    let current = scene_at(scenes, 0, now);
    ui.horizontal(|ui| {
        if alarm {
            ui.label(
                RichText::new("⚠ Тревога: показ сцен приостановлен до её снятия")
                    .size(SMALL)
                    .color(BAD),
            );
            return;
        }
        for spec in scenes {
            let on = current.is_some_and(|(kind, _)| kind == spec.kind);
            let name = RichText::new(spec.kind.short_ru()).size(SMALL);
            ui.label(if on {
                name.color(TEXT).underline()
            } else {
                name.color(MUTED)
            });
            ui.add_space(16.0);
        }
        if let Some((_, left)) = current {
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                ui.label(
                    RichText::new(format!("следующая через {left} с"))
                        .size(SMALL)
                        .color(MUTED),
                );
            });
        }
    });
}

fn clock_text(secs: i64, offset: chrono::FixedOffset, format: &str) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.with_timezone(&offset).format(format).to_string())
        .unwrap_or_default()
}

fn title(ui: &mut egui::Ui, text: &str) {
    ui.label(RichText::new(text).size(TITLE).color(TEXT).strong());
    ui.add_space(8.0);
}

fn scene_ui(app: &mut TsurApp, ui: &mut egui::Ui, data: &WallData, kind: SceneKind, cell: usize) {
    title(ui, kind.title_ru());
    match kind {
        SceneKind::Map => data_map_ui(app, ui, data, cell),
        SceneKind::Kpi => kpi_scene(ui, data),
        SceneKind::Blocks => blocks_scene(ui, data),
        SceneKind::Problems => problems_scene(ui, data),
        SceneKind::Ranking => ranking_scene(ui, data),
        SceneKind::Feed => feed_scene(ui, data, app.utc_offset()),
    }
}

/// The region map of the wall's figures (heat, overdue share by municipality, problems), fitted
/// to the space it has and not moved by the pointer. `slot` is the wall's cell: two cells showing
/// the map each keep their own view.
pub(super) fn data_map_ui(app: &mut TsurApp, ui: &mut egui::Ui, data: &WallData, slot: usize) {
    let Some((bbox, centre, places)) = app.map_frame() else {
        return;
    };
    if app.wall_maps.len() <= slot {
        app.wall_maps.resize_with(slot + 1, MapMemory::default);
    }
    let size = ui.available_size();
    let (min_lat, max_lat, min_lon, max_lon) = bbox;
    let zoom = crate::map::fit_zoom(size, min_lat, max_lat, min_lon, max_lon);
    let memory = &mut app.wall_maps[slot];
    if (memory.zoom() - zoom).abs() > 1e-6 {
        let _ = memory.set_zoom(zoom);
    }
    let basemap = super::operator::ensure_basemap(app, ui.ctx());
    let (clicked, _) = std::sync::mpsc::channel();
    let overlay = RegionOverlay {
        basemap,
        view: MapData {
            heat: &data.heat,
            areas: &data.areas,
            problems: &data.problems_on_map,
            points: &[],
        },
        places: &places,
        layers: MapLayers {
            heat: true,
            areas: true,
            problems: true,
            appeals: false,
        },
        measure: AreaMeasure::OverdueShare,
        selected_municipality: None,
        heat_texture: &mut app.wall_heat,
        generation: app.wall_generation,
        clicked,
    };
    let tiles: Option<&mut dyn walkers::Tiles> = match (&mut app.tiles, basemap) {
        (Some((_, tiles)), true) => Some(tiles.as_mut()),
        _ => None,
    };
    ui.push_id(("wall_map", slot), |ui| {
        ui.add(
            Map::new(tiles, &mut app.wall_maps[slot], lat_lon(centre.0, centre.1))
                .with_plugin(overlay)
                .zoom_gesture(false)
                .drag_pan_buttons(egui::DragPanButtons::empty()),
        );
    });
}

/// The inner margin of a card.
const CARD_MARGIN: f32 = 12.0;

/// A panel of the wall's scenes, `width` wide inside, its contents one under another.
fn card(ui: &mut egui::Ui, width: f32, add: impl FnOnce(&mut egui::Ui)) {
    egui::Frame::new()
        .fill(PANEL)
        .corner_radius(6.0)
        .inner_margin(CARD_MARGIN)
        .show(ui, |ui| {
            ui.set_width(width);
            ui.vertical(add);
        });
}

/// The inner width of each of `n` cards side by side in the space left.
fn card_width(ui: &egui::Ui, n: usize) -> f32 {
    let n = n.max(1) as f32;
    let gap = ui.spacing().item_spacing.x;
    ((ui.available_width() - gap * (n - 1.0)) / n - 2.0 * CARD_MARGIN).max(80.0)
}

fn kpi_scene(ui: &mut egui::Ui, data: &WallData) {
    let t = &data.totals;
    ui.horizontal(|ui| {
        let width = card_width(ui, 4);
        for (name, value, colour) in [
            ("Поступило за период", t.total, TEXT),
            ("Открыто сейчас", t.open, TEXT),
            ("Просрочено сейчас", t.overdue, BAD),
            ("Под угрозой (24 ч)", t.at_risk, WARN),
        ] {
            card(ui, width, |ui| {
                ui.label(RichText::new(name).size(ROW).color(MUTED));
                ui.label(
                    RichText::new(group_digits(value))
                        .size(BIG)
                        .color(if value > 0 { colour } else { TEXT })
                        .strong(),
                );
            });
        }
    });
    ui.add_space(12.0);
    let per_row = ((ui.available_width() / 420.0).floor() as usize).max(1);
    for chunk in data.tiles.chunks(per_row) {
        ui.horizontal(|ui| {
            let tile_width = card_width(ui, per_row);
            for tile in chunk {
                let f = &tile.figure;
                let colour = match f.on_target {
                    Some(true) => GOOD,
                    Some(false) => BAD,
                    None => MUTED,
                };
                card(ui, tile_width, |ui| {
                    ui.label(RichText::new(&f.name).size(SMALL).color(MUTED));
                    ui.horizontal(|ui| {
                        ui.label(
                            RichText::new(crate::format::figure(f.value, &f.unit))
                                .size(BIG * 0.7)
                                .color(colour)
                                .strong(),
                        );
                        ui.label(
                            RichText::new(format!(
                                "цель {}",
                                crate::format::value_in_unit(f.target, &f.unit)
                            ))
                            .size(SMALL)
                            .color(MUTED),
                        );
                    });
                    sparkline(ui, &tile.weeks, colour);
                });
            }
        });
        ui.add_space(8.0);
    }
}

/// The last weeks of a figure as a line (no axes: a trend seen from across the room).
fn sparkline(ui: &mut egui::Ui, weeks: &[Option<f64>], colour: Color32) {
    let (rect, _) = ui.allocate_exact_size(vec2(ui.available_width(), 36.0), egui::Sense::hover());
    let values: Vec<(usize, f64)> = weeks
        .iter()
        .enumerate()
        .filter_map(|(i, v)| Some((i, (*v)?)))
        .collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |acc, (_, v)| {
            (acc.0.min(*v), acc.1.max(*v))
        });
    if values.len() < 2 || !lo.is_finite() {
        return;
    }
    let span = (hi - lo).max(1e-9);
    let steps = (weeks.len().max(2) - 1) as f32;
    let points: Vec<egui::Pos2> = values
        .iter()
        .map(|(i, v)| {
            egui::pos2(
                rect.left() + rect.width() * *i as f32 / steps,
                rect.bottom() - rect.height() * ((v - lo) / span) as f32,
            )
        })
        .collect();
    ui.painter()
        .add(egui::Shape::line(points, Stroke::new(3.0, colour)));
}

fn share(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{:.0} %", v * 100.0))
}

fn blocks_scene(ui: &mut egui::Ui, data: &WallData) {
    let most = data
        .report
        .by_block
        .values()
        .map(|s| s.open)
        .max()
        .unwrap_or(0)
        .max(1);
    let bar_width = (ui.available_width() - 760.0).max(120.0);
    egui::Grid::new("wall_blocks")
        .num_columns(5)
        .spacing(vec2(24.0, 14.0))
        .show(ui, |ui| {
            for head in ["Блок", "Открыто", "", "Просрочено", "В срок"] {
                ui.label(RichText::new(head).size(SMALL).color(MUTED));
            }
            ui.end_row();
            let mut blocks: Vec<_> = data.report.by_block.iter().collect();
            blocks.sort_by(|a, b| b.1.open.cmp(&a.1.open).then_with(|| a.0.cmp(b.0)));
            for (name, slice) in blocks {
                ui.label(RichText::new(name).size(ROW).color(TEXT));
                ui.label(
                    RichText::new(group_digits(slice.open))
                        .size(ROW)
                        .color(TEXT)
                        .strong(),
                );
                let (rect, _) = ui.allocate_exact_size(vec2(bar_width, ROW), egui::Sense::hover());
                let open_w = rect.width() * slice.open as f32 / most as f32;
                let overdue_w = rect.width() * slice.overdue as f32 / most as f32;
                let painter = ui.painter();
                painter.rect_filled(
                    egui::Rect::from_min_size(rect.min, vec2(open_w, rect.height())),
                    3.0,
                    Color32::from_rgb(0x33, 0x6E, 0xB4),
                );
                painter.rect_filled(
                    egui::Rect::from_min_size(rect.min, vec2(overdue_w, rect.height())),
                    3.0,
                    BAD,
                );
                ui.label(
                    RichText::new(group_digits(slice.overdue))
                        .size(ROW)
                        .color(if slice.overdue > 0 { BAD } else { TEXT }),
                );
                ui.label(
                    RichText::new(share(slice.on_time_share))
                        .size(ROW)
                        .color(TEXT),
                );
                ui.end_row();
            }
        });
}

fn problems_scene(ui: &mut egui::Ui, data: &WallData) {
    let half = card_width(ui, 2);
    ui.horizontal_top(|ui| {
        card(ui, half, |ui| {
            ui.label(RichText::new("Главные проблемы").size(ROW).color(MUTED));
            let problems = crate::briefing::top_problems(&data.report);
            if problems.is_empty() {
                ui.label(RichText::new("нет открытых проблем").size(ROW).color(TEXT));
            }
            for p in problems.into_iter().take(8) {
                ui.add_space(6.0);
                ui.add(egui::Label::new(RichText::new(&p.title).size(ROW).color(TEXT)).truncate());
                let growth = p
                    .growth
                    .map(|g| format!(", за неделю {}", crate::format::signed_percent(g)))
                    .unwrap_or_default();
                ui.label(
                    RichText::new(format!(
                        "{} · открыто {}, просрочено {}{growth}",
                        p.municipality.as_deref().unwrap_or("—"),
                        group_digits(p.open),
                        group_digits(p.overdue)
                    ))
                    .size(SMALL)
                    .color(if p.overdue > 0 { BAD } else { MUTED }),
                );
            }
        });
        card(ui, half, |ui| {
            ui.label(RichText::new("Всплески обращений").size(ROW).color(MUTED));
            if data.report.surges.is_empty() {
                ui.label(RichText::new("всплесков нет").size(ROW).color(TEXT));
            }
            for s in data.report.surges.iter().take(8) {
                ui.add_space(6.0);
                ui.label(
                    RichText::new(format!("{} — {}", s.municipality_name, s.topic_name))
                        .size(ROW)
                        .color(TEXT),
                );
                ui.label(
                    RichText::new(format!(
                        "{}, в {} раза выше обычного",
                        crate::format::appeals(s.count),
                        crate::format::decimal(s.ratio)
                    ))
                    .size(SMALL)
                    .color(WARN),
                );
            }
        });
    });
}

fn ranking_scene(ui: &mut egui::Ui, data: &WallData) {
    let ranked: Vec<_> = data
        .report
        .ranking
        .iter()
        .filter(|r| r.rank.is_some())
        .collect();
    let half = card_width(ui, 2);
    let list = |ui: &mut egui::Ui,
                heading: &str,
                rows: &[&tsur_core::analytics::ranking::Ranked]| {
        card(ui, half, |ui| {
            ui.label(RichText::new(heading).size(ROW).color(MUTED));
            for r in rows {
                ui.horizontal(|ui| {
                    ui.label(
                        RichText::new(format!("{:>3}.", r.rank.unwrap_or(0)))
                            .size(ROW)
                            .color(MUTED)
                            .monospace(),
                    );
                    let score = r.score.map_or("—".into(), |s| format!("{s:.0}"));
                    let trend = match r.trend {
                        Some(t) if t >= 0.5 => ("⏶", GOOD),
                        Some(t) if t <= -0.5 => ("⏷", BAD),
                        _ => ("", MUTED),
                    };
                    ui.label(RichText::new(score).size(ROW).color(TEXT).strong());
                    ui.label(RichText::new(trend.0).size(ROW).color(trend.1));
                    ui.add(
                        egui::Label::new(RichText::new(&r.name).size(ROW).color(TEXT)).truncate(),
                    );
                });
            }
        });
    };
    if ranked.is_empty() {
        // Too few appeals in the period for a score: the busiest organisations instead.
        ui.label(
            RichText::new("За период мало обращений для баллов; больше всего обращений у:")
                .size(ROW)
                .color(MUTED),
        );
        ui.add_space(8.0);
        for r in crate::briefing::busiest(&data.report).into_iter().take(10) {
            ui.label(
                RichText::new(crate::briefing::ranked_line(r))
                    .size(ROW)
                    .color(TEXT),
            );
        }
        return;
    }
    ui.horizontal_top(|ui| {
        // The better half on the left, the rest on the right, worst first: nobody in both.
        let split = ranked.len().div_ceil(2).min(8);
        let best: Vec<_> = ranked[..split].to_vec();
        let worst: Vec<_> = ranked[split..].iter().rev().take(8).copied().collect();
        list(ui, "Лучшие (балл из 100)", &best);
        list(ui, "Отстающие", &worst);
    });
}

fn feed_scene(ui: &mut egui::Ui, data: &WallData, offset: chrono::FixedOffset) {
    if data.feed.is_empty() {
        ui.label(RichText::new("новых инцидентов нет").size(ROW).color(TEXT));
        return;
    }
    egui::Grid::new("wall_feed")
        .num_columns(4)
        .spacing(vec2(28.0, 12.0))
        .striped(false)
        .show(ui, |ui| {
            for item in &data.feed {
                ui.label(
                    RichText::new(clock_text(item.received_utc, offset, "%d.%m %H:%M"))
                        .size(ROW)
                        .color(MUTED)
                        .monospace(),
                );
                ui.label(RichText::new(&item.topic).size(ROW).color(TEXT));
                ui.label(RichText::new(&item.municipality).size(ROW).color(TEXT));
                let (state, colour) = match (item.reacted, item.overdue) {
                    (_, true) => ("просрочено", BAD),
                    (true, false) => ("реакция дана", GOOD),
                    (false, false) => ("ждёт реакции", WARN),
                };
                ui.label(RichText::new(state).size(ROW).color(colour));
                ui.end_row();
            }
        });
}

fn alarm_ui(ui: &mut egui::Ui, alarms: &[(Alarm, i64)], offset: chrono::FixedOffset) {
    let rect = ui.max_rect();
    ui.painter().rect_filled(rect, 8.0, ALARM);
    ui.add_space(16.0);
    ui.horizontal(|ui| {
        ui.add_space(16.0);
        ui.vertical(|ui| {
            ui.label(
                RichText::new("⚠ ТРЕВОГА")
                    .size(BIG)
                    .color(Color32::WHITE)
                    .strong(),
            );
            for (alarm, since) in alarms {
                ui.add_space(18.0);
                let (what, where_, when) = alarm_texts(alarm, *since, offset);
                ui.label(
                    RichText::new(what)
                        .size(TITLE)
                        .color(Color32::WHITE)
                        .strong(),
                );
                ui.label(RichText::new(where_).size(ROW * 1.2).color(Color32::WHITE));
                ui.label(RichText::new(when).size(ROW).color(Color32::from_gray(235)));
            }
        });
    });
}

/// What, where and since when, in words.
pub(super) fn alarm_texts(
    alarm: &Alarm,
    since: i64,
    offset: chrono::FixedOffset,
) -> (String, String, String) {
    let at = |t: i64| clock_text(t, offset, "%d.%m %H:%M");
    match alarm {
        Alarm::Overdue {
            count,
            threshold,
            places,
            oldest_due_utc,
        } => (
            format!(
                "Просрочено: {} (порог {})",
                crate::format::appeals(*count),
                group_digits(*threshold)
            ),
            if places.is_empty() {
                String::new()
            } else {
                format!(
                    "Больше всего: {}",
                    places
                        .iter()
                        .map(|(name, n)| format!("{name} — {}", group_digits(*n)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            format!(
                "Порог превышен с {}{}",
                at(since),
                oldest_due_utc
                    .map(|t| format!("; самый давний срок истёк {}", at(t)))
                    .unwrap_or_default()
            ),
        ),
        Alarm::Surge {
            municipality,
            topic,
            count,
            ratio,
            window_from_utc,
        } => (
            format!("Всплеск: {topic}"),
            format!(
                "{municipality}: {}, в {} раза выше обычного",
                crate::format::appeals(*count),
                crate::format::decimal(*ratio)
            ),
            format!(
                "Окно всплеска с {}; на стене с {}",
                at(*window_from_utc),
                at(since)
            ),
        ),
    }
}

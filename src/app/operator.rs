//! The operator screen: the KPI panel on the left, the map above the block queues, the open case
//! on the right.

use super::command::UiCommand;
use super::{TsurApp, countdown, group_digits};
use crate::map::{MapLayers, RegionOverlay};
use crate::theme;
use crate::views::{
    FigureFocus, OperatorView, QUEUE_ROWS, QueueRow, QueueTab, SPARK_WEEKS, SortKey, Tile,
};
use egui::{Color32, RichText};
use walkers::{Map, lat_lon};

pub(super) fn operator_ui(app: &mut TsurApp, ui: &mut egui::Ui) {
    let Some(view) = app.operator.take() else {
        return;
    };
    egui::Panel::left("kpi_panel")
        .default_size(300.0)
        .resizable(true)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| kpi_panel_ui(app, ui, &view));
        });
    if app.open_case.is_some() {
        egui::Panel::right("case_panel")
            .default_size(460.0)
            .resizable(true)
            .show(ui, |ui| super::case::case_ui(app, ui, &view.points));
    }
    egui::CentralPanel::default().show(ui, |ui| {
        // The map above (about two fifths of the height), the queue below.
        let width = ui.available_width();
        let map_height = (ui.available_height() * 0.42).max(180.0);
        ui.allocate_ui(egui::vec2(width, map_height), |ui| {
            ui.set_min_height(map_height);
            map_ui(app, ui, &view);
        });
        ui.separator();
        queue_ui(app, ui, &view);
    });
    app.operator = Some(view);
}

/// One line of totals with an accessible label naming it ("Просрочено: 112").
fn total_row(ui: &mut egui::Ui, name: &str, value: u64, colour: Option<Color32>) {
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

fn kpi_panel_ui(app: &mut TsurApp, ui: &mut egui::Ui, view: &OperatorView) {
    ui.heading("Показатели");
    ui.weak(format!(
        "за {}{}",
        view.query.period.label_ru(),
        match &view.query.tab {
            QueueTab::Block(code) | QueueTab::Figure(_, Some(code)) => {
                format!(", блок {}", block_name(app, code))
            }
            _ => String::new(),
        }
    ));
    egui::Grid::new("totals")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            total_row(ui, "Всего в реплике", view.totals.replica, None);
            total_row(ui, "Поступило за период", view.totals.total, None);
            total_row(ui, "Открыто", view.totals.open, None);
            total_row(
                ui,
                "Просрочено",
                view.totals.overdue,
                Some(theme::OVERDUE_TEXT),
            );
            total_row(
                ui,
                "Под угрозой",
                view.totals.at_risk,
                Some(theme::SLA_AT_RISK),
            );
        });
    ui.add_space(6.0);
    for tile in &view.tiles {
        if tile_ui(ui, tile).clicked() {
            // The queue of the figure as computed: the period and the block shown.
            // The block the tiles shown were computed for.
            let block = match &view.query.tab {
                QueueTab::Block(code) | QueueTab::Figure(_, Some(code)) => Some(code.clone()),
                _ => None,
            };
            let (tab, what) = FigureFocus::of_kpi(&tile.figure.id, block);
            app.query.tab = tab;
            app.notice = Some(super::Notice {
                text: format!(
                    "Очередь: обращения {what} — то, из чего складывается «{}»",
                    tile.figure.name
                ),
                is_error: false,
            });
        }
    }
}

/// A KPI tile: name, value against target (red when off), and the weeks before as a sparkline.
/// The whole tile is a button that opens the queue behind the figure.
fn tile_ui(ui: &mut egui::Ui, tile: &Tile) -> egui::Response {
    let f = &tile.figure;
    let colour = match f.on_target {
        Some(true) => theme::ON_TARGET,
        Some(false) => theme::OFF_TARGET,
        None => ui.visuals().weak_text_color(),
    };
    let value = match f.value {
        Some(v) => format_value(v, &f.unit),
        None => "нет данных".into(),
    };
    let frame = egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(1.0, colour.gamma_multiply(0.6)))
        .inner_margin(6.0);
    let inner = frame.show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.label(RichText::new(&f.name).small());
        ui.horizontal(|ui| {
            ui.label(RichText::new(&value).size(20.0).strong().color(colour));
            ui.weak(format!("цель {}", format_value(f.target, &f.unit)));
        });
        let points: Vec<[f64; 2]> = tile
            .weeks
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some([i as f64, (*v)?]))
            .collect();
        if points.len() >= 2 {
            egui_plot::Plot::new(("spark", f.id.as_str()))
                .height(28.0)
                .show_axes(false)
                .show_grid(false)
                .show_background(false)
                .allow_drag(false)
                .allow_zoom(false)
                .allow_scroll(false)
                .allow_boxed_zoom(false)
                .allow_double_click_reset(false)
                .show_x(false)
                .show_y(false)
                .include_y(f.target)
                .show(ui, |plot| {
                    plot.line(
                        egui_plot::Line::new(f.name.clone(), points)
                            .color(colour)
                            .width(1.5),
                    );
                    plot.line(
                        egui_plot::Line::new(
                            "цель",
                            vec![[0.0, f.target], [(SPARK_WEEKS - 1) as f64, f.target]],
                        )
                        .color(Color32::GRAY)
                        .width(0.5),
                    );
                });
        }
    });
    let response = ui
        .interact(
            inner.response.rect,
            ui.scope_id().with(("tile", f.id.as_str())),
            egui::Sense::click(),
        )
        .on_hover_text(format!(
            "{}: {} при цели {}. Щелчок — очередь обращений, из которых складывается показатель",
            f.name,
            value,
            format_value(f.target, &f.unit)
        ));
    let label = format!("Показатель {}: {value}", f.name);
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
    response
}

pub(super) use crate::format::value_in_unit as format_value;

fn block_name(app: &TsurApp, code: &str) -> String {
    match &app.phase {
        super::Phase::Ready(s) => s
            .pack
            .block(code)
            .map_or(code.to_string(), |b| b.name.clone()),
        _ => code.to_string(),
    }
}

fn tab_label(app: &TsurApp, tab: &QueueTab) -> String {
    match tab {
        QueueTab::All => "Все".into(),
        QueueTab::Block(code) => block_name(app, code),
        QueueTab::Escalated => "Эскалировано мне".into(),
        QueueTab::Overdue => "Просрочено".into(),
        QueueTab::Figure(focus, None) => focus.label_ru().into(),
        QueueTab::Figure(focus, Some(code)) => {
            format!("{} · {}", focus.label_ru(), block_name(app, code))
        }
        QueueTab::Problem(id) => format!("Проблема №{id}"),
    }
}

fn queue_ui(app: &mut TsurApp, ui: &mut egui::Ui, view: &OperatorView) {
    // Tabs with their counts.
    ui.horizontal_wrapped(|ui| {
        let mut tabs = app.tabs();
        if let QueueTab::Figure(..) | QueueTab::Problem(_) = &app.query.tab {
            tabs.push(app.query.tab.clone());
        }
        for tab in tabs {
            let count = match &tab {
                QueueTab::Figure(..) | QueueTab::Problem(_) if view.query.tab == tab => {
                    Some(view.queue_len as u64)
                }
                QueueTab::Figure(..) | QueueTab::Problem(_) => None,
                _ => Some(view.tab_counts.get(&tab).copied().unwrap_or(0)),
            };
            let text = match count {
                Some(n) => format!("{} ({})", tab_label(app, &tab), group_digits(n)),
                None => tab_label(app, &tab),
            };
            if ui
                .add(egui::Button::selectable(app.query.tab == tab, text))
                .clicked()
            {
                app.query.tab = tab;
            }
        }
    });
    ui.horizontal_wrapped(|ui| {
        let search = ui.add(
            egui::TextEdit::singleline(&mut app.query.search)
                .hint_text("Поиск: текст, адрес или номер (Ctrl+F)")
                .desired_width(320.0),
        );
        if std::mem::take(&mut app.focus_search) {
            search.request_focus();
        }
        if let Some(code) = app.query.municipality.clone() {
            let name = match &app.phase {
                super::Phase::Ready(s) => s
                    .pack
                    .municipality(&code)
                    .map_or(code.clone(), |m| m.short_name.clone()),
                _ => code.clone(),
            };
            if ui
                .button(format!("× {name}"))
                .on_hover_text("Снять фильтр по муниципалитету (Backspace)")
                .clicked()
            {
                app.query.municipality = None;
            }
        }
        ui.separator();
        let marked = app.selected.len();
        let hidden = app
            .selected
            .keys()
            .filter(|id| !view.rows.iter().any(|r| r.id == **id))
            .count();
        ui.label(if hidden > 0 {
            format!("Отмечено: {marked}, из них не среди показанных строк: {hidden}")
        } else if marked > 0 {
            format!("Отмечено: {marked}")
        } else {
            "Действие — с обращением под курсором".into()
        });
        for (command, text) in [
            (UiCommand::Take, "Взять"),
            (UiCommand::Assign, "Назначить"),
            (UiCommand::Classify, "Тема"),
            (UiCommand::Route, "Направить"),
            (UiCommand::Escalate, "Эскалировать"),
            (UiCommand::Extend, "Продлить"),
            (UiCommand::MergeIntoProblem, "В проблему"),
            (UiCommand::MarkDuplicate, "Дубль"),
            (UiCommand::AddNote, "Заметка"),
        ] {
            if ui
                .button(text)
                .on_hover_text(format!(
                    "{} ({})",
                    command.label_ru(),
                    command.shortcut_text(ui.ctx())
                ))
                .clicked()
            {
                app.commands.push(command);
            }
        }
    });
    ui.separator();

    // Header: a click sorts by the column, a second click reverses.
    const WIDTHS: [f32; 9] = [86.0, 150.0, 90.0, 110.0, 130.0, 190.0, 150.0, 70.0, 110.0];
    let columns: [(&str, Option<SortKey>); 9] = [
        ("Номер", None),
        ("Срок", Some(SortKey::Deadline)),
        ("Режим", Some(SortKey::Regime)),
        ("Канал", Some(SortKey::Channel)),
        ("Муниципалитет", Some(SortKey::Municipality)),
        ("Организация", Some(SortKey::Organisation)),
        ("Статус", Some(SortKey::Status)),
        ("Возраст", Some(SortKey::Age)),
        ("Исполнитель", None),
    ];
    ui.horizontal(|ui| {
        for ((name, key), width) in columns.iter().zip(WIDTHS) {
            let arrow = match key {
                Some(k) if *k == app.query.sort => {
                    if app.query.descending {
                        " ⏷"
                    } else {
                        " ⏶"
                    }
                }
                _ => "",
            };
            let text = RichText::new(format!("{name}{arrow}")).strong();
            match key {
                Some(k) => {
                    if ui
                        .add_sized([width, 18.0], egui::Button::new(text).frame(false))
                        .on_hover_text("Сортировать")
                        .clicked()
                    {
                        if app.query.sort == *k {
                            app.query.descending = !app.query.descending;
                        } else {
                            app.query.sort = *k;
                            app.query.descending = false;
                        }
                    }
                }
                None => {
                    ui.add_sized([width, 18.0], egui::Label::new(text));
                }
            }
        }
        ui.label(RichText::new("Текст").strong());
    });

    let now = app.clock.now_utc().timestamp();
    let row_height = 22.0;
    let cursor_index = app
        .cursor
        .and_then(|id| view.rows.iter().position(|r| r.id == id));
    let mut scroll = egui::ScrollArea::both().auto_shrink([false, false]);
    if std::mem::take(&mut app.scroll_to_cursor)
        && let Some(i) = cursor_index
    {
        let spacing = ui.spacing().item_spacing.y;
        let offset = (i as f32 * (row_height + spacing) - 3.0 * row_height).max(0.0);
        scroll = scroll.vertical_scroll_offset(offset);
    }
    let mut clicked: Option<(usize, egui::Modifiers, bool)> = None;
    scroll.show_rows(ui, row_height, view.rows.len(), |ui, range| {
        for i in range {
            let row = &view.rows[i];
            let is_cursor = cursor_index == Some(i);
            let marked = app.selected.contains_key(&row.id);
            let response = row_ui(ui, row, &WIDTHS, now, is_cursor, marked);
            if response.clicked() {
                clicked = Some((i, ui.input(|i| i.modifiers), false));
            }
            if response.double_clicked() {
                clicked = Some((i, ui.input(|i| i.modifiers), true));
            }
        }
    });
    if view.queue_len > view.rows.len() {
        ui.weak(format!(
            "Показаны первые {} из {} — уточните фильтр или поиск",
            group_digits(QUEUE_ROWS as u64),
            group_digits(view.queue_len as u64)
        ));
    } else if view.rows.is_empty() {
        ui.weak("В этой очереди нет обращений");
    }
    if let Some((i, modifiers, open)) = clicked {
        let id = view.rows[i].id;
        if modifiers.command {
            app.toggle_mark(id, view.rows[i].version);
        } else if modifiers.shift {
            let from = cursor_index.unwrap_or(i);
            app.selected.extend(
                view.rows[from.min(i)..=from.max(i)]
                    .iter()
                    .map(|r| (r.id, r.version)),
            );
        } else {
            app.cursor = Some(id);
        }
        app.cursor = Some(id);
        if open || app.open_case.is_some() {
            app.open_case(id);
        }
    }
}

/// One row of the queue. The number's label ("№123") is what tests and screen readers find.
fn row_ui(
    ui: &mut egui::Ui,
    row: &QueueRow,
    widths: &[f32; 9],
    now: i64,
    is_cursor: bool,
    marked: bool,
) -> egui::Response {
    let inner = ui.horizontal(|ui| {
        let number = format!("{}№{}", if marked { "☑ " } else { "" }, row.id);
        let first = ui.add_sized(
            [widths[0], 20.0],
            egui::Button::selectable(is_cursor || marked, number),
        );
        let (due_text, due_colour) = match (row.due_utc, row.sla) {
            (Some(due), Some(state)) => {
                let text = if row.status.is_open() {
                    countdown(due, now)
                } else {
                    state.label_ru().to_string()
                };
                (text, theme::sla(state))
            }
            (Some(due), None) => (countdown(due, now), ui.visuals().text_color()),
            _ => ("без срока".into(), ui.visuals().weak_text_color()),
        };
        cell(ui, widths[1], RichText::new(due_text).color(due_colour));
        cell(ui, widths[2], RichText::new(row.regime.label_ru()));
        cell(ui, widths[3], RichText::new(row.channel.label_ru()));
        cell(ui, widths[4], RichText::new(&row.municipality));
        cell(ui, widths[5], RichText::new(&row.organisation));
        let status = if row.pending.is_empty() {
            RichText::new(row.status.label_ru())
        } else {
            RichText::new(format!("⏳ {}", row.status.label_ru())).color(theme::PENDING)
        };
        let status = cell(ui, widths[6], status);
        if !row.pending.is_empty() {
            status.on_hover_text(format!(
                "Ожидает отправки на сервер: {}",
                row.pending.join(", ")
            ));
        }
        let age_days = (now - row.received_utc).max(0) / 86_400;
        cell(ui, widths[7], RichText::new(format!("{age_days} дн.")));
        cell(
            ui,
            widths[8],
            RichText::new(row.assignee.clone().unwrap_or_default()),
        );
        if !row.refused.is_empty() {
            ui.label(RichText::new("⚠").color(theme::ERROR_TEXT))
                .on_hover_text(format!("Не принято сервером: {}", row.refused.join("; ")));
        }
        ui.add(egui::Label::new(format!("{} · {}", row.topic, row.excerpt)).truncate());
        first
    });
    inner.inner.union(inner.response)
}

fn cell(ui: &mut egui::Ui, width: f32, text: RichText) -> egui::Response {
    ui.add_sized([width, 20.0], egui::Label::new(text).truncate())
}

fn map_ui(app: &mut TsurApp, ui: &mut egui::Ui, view: &OperatorView) {
    let (bbox, centre, places) = match &app.phase {
        super::Phase::Ready(s) => (s.bbox, s.centre, s.places.clone()),
        _ => return,
    };
    // Layer switches and the area measure above the map.
    let mut layers = app.settings.layers;
    let mut measure = app.query.area_measure;
    ui.horizontal(|ui| {
        ui.checkbox(&mut layers.heat, "Тепловая карта")
            .on_hover_text("Плотность обращений за период (1)");
        ui.checkbox(&mut layers.areas, "Муниципалитеты")
            .on_hover_text("Цвет муниципалитета по выбранному показателю (2)");
        if layers.areas {
            egui::ComboBox::from_id_salt("area_measure")
                .selected_text(measure.label_ru())
                .show_ui(ui, |ui| {
                    for m in crate::views::AreaMeasure::ALL {
                        ui.selectable_value(&mut measure, m, m.label_ru());
                    }
                });
        }
        ui.checkbox(&mut layers.problems, "Проблемы")
            .on_hover_text("Проблемы: размер — число обращений (3)");
        ui.checkbox(&mut layers.appeals, "Обращения")
            .on_hover_text("Отдельные обращения очереди при крупном масштабе (4)");
    });
    if layers != app.settings.layers || measure != app.query.area_measure {
        app.settings.layers = layers;
        app.query.area_measure = measure;
        app.save_settings();
    }

    if !app.map_fitted {
        let (min_lat, max_lat, min_lon, max_lon) = bbox;
        let zoom = crate::map::fit_zoom(ui.available_size(), min_lat, max_lat, min_lon, max_lon);
        let _ = app.map_memory.set_zoom(zoom);
        app.map_fitted = true;
    }
    // + and − zoom (Home shows the whole region, as a command).
    let (zoom_in, zoom_out) = if ui.ctx().egui_wants_keyboard_input() {
        (false, false)
    } else {
        ui.input(|i| {
            (
                i.key_pressed(egui::Key::Plus) || i.key_pressed(egui::Key::Equals),
                i.key_pressed(egui::Key::Minus),
            )
        })
    };
    if zoom_in {
        let _ = app.map_memory.zoom_in();
    }
    if zoom_out {
        let _ = app.map_memory.zoom_out();
    }
    let (clicked_tx, clicked_rx) = std::sync::mpsc::channel();
    let basemap = ensure_basemap(app, ui.ctx());
    let overlay = RegionOverlay {
        basemap,
        view: crate::map::MapData::of(view),
        places: &places,
        layers: MapLayers {
            heat: layers.heat,
            areas: layers.areas,
            problems: layers.problems,
            appeals: layers.appeals,
        },
        measure,
        selected_municipality: app.query.municipality.as_deref(),
        heat_texture: &mut app.heat_texture,
        generation: app.view_generation,
        clicked: clicked_tx,
    };
    let tiles: Option<&mut dyn walkers::Tiles> = match (&mut app.tiles, basemap) {
        (Some((_, tiles)), true) => Some(tiles.as_mut()),
        _ => None,
    };
    ui.add(Map::new(tiles, &mut app.map_memory, lat_lon(centre.0, centre.1)).with_plugin(overlay));
    if let Ok(click) = clicked_rx.try_recv() {
        match click {
            crate::map::MapClick::Municipality(code) => {
                app.query.municipality = if app.query.municipality.as_deref() == Some(&code) {
                    None
                } else {
                    Some(code)
                };
            }
            crate::map::MapClick::Appeal(id) => app.open_case(id),
            crate::map::MapClick::Problem(id) => app.query.tab = QueueTab::Problem(id),
        }
    }
}

/// Makes the basemap chosen in the settings (once per source); whether there is one to draw.
/// A PMTiles file that is not there is said once, and the map stays on its plain background.
pub(super) fn ensure_basemap(app: &mut TsurApp, ctx: &egui::Context) -> bool {
    use crate::settings::Basemap;
    let source = match app.settings.basemap {
        Basemap::None => return false,
        Basemap::Tiles if app.settings.tile_url.trim().is_empty() => return false,
        Basemap::Tiles => format!("tiles:{}", app.settings.tile_url.trim()),
        Basemap::PmTiles => format!("pmtiles:{}", app.settings.pmtiles_path.trim()),
    };
    if app.tiles.as_ref().is_some_and(|(s, _)| *s == source) {
        return true;
    }
    if app.missing_basemap.as_deref() == Some(source.as_str()) {
        return false;
    }
    let tiles: Box<dyn walkers::Tiles> = match app.settings.basemap {
        Basemap::PmTiles => {
            let path = std::path::PathBuf::from(app.settings.pmtiles_path.trim());
            if !path.is_file() {
                app.notice = Some(super::Notice {
                    text: format!(
                        "файл подложки {} не найден: карта без подложки (путь — в настройках)",
                        path.display()
                    ),
                    is_error: true,
                });
                app.missing_basemap = Some(source);
                return false;
            }
            Box::new(walkers::PmTiles::new(path, ctx.clone()))
        }
        _ => Box::new(crate::map::http_tiles(
            app.settings.tile_url.trim(),
            crate::paths::tile_cache_dir(),
            ctx,
        )),
    };
    app.tiles = Some((source, tiles));
    true
}

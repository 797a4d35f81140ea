//! Dialogs: the value an action needs (an organisation, a topic, a person, a note…) and the
//! settings window. Enter confirms, Escape cancels.

use super::command::UiCommand;
use super::{Notice, TsurApp};
use crate::settings::{Basemap, Settings, ThemeChoice, masked_token};
use tsur_core::sync::ActionKind;

/// Choices shown in a list at most (type to narrow them).
const LIST_LIMIT: usize = 60;

pub(super) fn dialog_ui(app: &mut TsurApp, ctx: &egui::Context) {
    let Some(mut dialog) = app.dialog.take() else {
        return;
    };
    let super::Phase::Ready(snapshot) = &app.phase else {
        return;
    };
    let pack = snapshot.pack.clone();
    let mut confirmed: Option<ActionKind> = None;
    let mut cancel = false;
    let count = dialog.targets.len();
    let title = format!(
        "{} — {}",
        dialog.command.label_ru().trim_end_matches('…'),
        if count == 1 {
            format!("обращение №{}", dialog.targets[0].0)
        } else {
            format!("обращений: {count}")
        }
    );
    let modal = egui::Modal::new(egui::Id::unique("action_dialog")).show(ctx, |ui| {
        ui.set_width(480.0);
        ui.heading(title);
        let enter = ui.input(|i| i.key_pressed(egui::Key::Enter));
        match dialog.command {
            UiCommand::Route | UiCommand::Classify => {
                let edit = ui.add(
                    egui::TextEdit::singleline(&mut dialog.text)
                        .hint_text("Начните вводить название…")
                        .desired_width(f32::INFINITY),
                );
                edit.request_focus();
                let words: Vec<String> = dialog
                    .text
                    .split_whitespace()
                    .map(str::to_lowercase)
                    .collect();
                let matches = |name: &str| {
                    let name = name.to_lowercase();
                    words.iter().all(|w| name.contains(w.as_str()))
                };
                let options: Vec<(String, String)> = if dialog.command == UiCommand::Route {
                    pack.organisations
                        .iter()
                        .filter(|o| matches(&o.name))
                        .map(|o| (o.code.to_string(), o.name.clone()))
                        .take(LIST_LIMIT)
                        .collect()
                } else {
                    pack.blocks
                        .iter()
                        .flat_map(|b| {
                            b.topics.iter().map(move |t| {
                                (t.code.to_string(), format!("{} · {}", b.name, t.name))
                            })
                        })
                        .filter(|(_, name)| matches(name))
                        .take(LIST_LIMIT)
                        .collect()
                };
                egui::ScrollArea::vertical()
                    .max_height(320.0)
                    .show(ui, |ui| {
                        for (code, name) in &options {
                            let chosen = dialog.choice.as_deref() == Some(code.as_str());
                            if ui.selectable_label(chosen, name).clicked() {
                                dialog.choice = Some(code.clone());
                            }
                        }
                        if options.is_empty() {
                            ui.weak("Ничего не найдено");
                        }
                    });
                // Enter takes the chosen line, or the first that matches.
                let choice = dialog
                    .choice
                    .clone()
                    .filter(|c| options.iter().any(|(code, _)| code == c))
                    .or_else(|| (enter && !options.is_empty()).then(|| options[0].0.clone()));
                let ok = ui
                    .add_enabled(choice.is_some(), egui::Button::new("Применить (Enter)"))
                    .clicked();
                if (ok || enter)
                    && let Some(code) = choice
                {
                    confirmed = Some(if dialog.command == UiCommand::Route {
                        ActionKind::Route { organisation: code }
                    } else {
                        ActionKind::Classify { topic: code }
                    });
                }
            }
            UiCommand::Take | UiCommand::Escalate => {
                ui.label(format!(
                    "Применить к отмеченным обращениям ({count})? Отменить после отправки будет нельзя."
                ));
                if ui.button("Применить (Enter)").clicked() || enter {
                    confirmed = Some(super::immediate_action(dialog.command));
                }
            }
            command => {
                let (hint, needs_text, numeric) = match command {
                    UiCommand::Assign => ("Кому: фамилия или учётная запись", true, false),
                    UiCommand::Extend => (
                        "Почему продлевается срок (уведомление заявителю)",
                        false,
                        false,
                    ),
                    UiCommand::MergeIntoProblem => ("Номер проблемы", true, true),
                    UiCommand::MarkDuplicate => ("Номер обращения-оригинала", true, true),
                    _ => ("Текст заметки", true, false),
                };
                let edit = ui.add(
                    egui::TextEdit::singleline(&mut dialog.text)
                        .hint_text(hint)
                        .desired_width(f32::INFINITY),
                );
                edit.request_focus();
                let text = dialog.text.trim().to_string();
                let number = text.trim_start_matches('№').trim().parse::<i64>().ok();
                let valid = (!needs_text || !text.is_empty()) && (!numeric || number.is_some());
                if numeric && !text.is_empty() && number.is_none() {
                    ui.colored_label(crate::theme::ERROR_TEXT, "нужен номер");
                }
                let ok = ui
                    .add_enabled(valid, egui::Button::new("Применить (Enter)"))
                    .clicked();
                if (ok || enter) && valid {
                    let why = (!text.is_empty()).then(|| text.clone());
                    confirmed = match command {
                        UiCommand::Assign => Some(ActionKind::Assign { to: text }),
                        UiCommand::Extend => Some(ActionKind::Extend { why }),
                        UiCommand::MergeIntoProblem => {
                            number.map(|problem| ActionKind::MergeIntoProblem { problem })
                        }
                        UiCommand::MarkDuplicate => {
                            number.map(|of| ActionKind::MarkDuplicate { of })
                        }
                        _ => Some(ActionKind::Note { text }),
                    };
                }
            }
        }
        if ui.button("Отмена (Esc)").clicked() {
            cancel = true;
        }
    });
    if modal.should_close() {
        cancel = true;
    }
    match confirmed {
        Some(kind) => {
            app.act(dialog.targets, kind);
        }
        None if !cancel => app.dialog = Some(dialog),
        None => {}
    }
}

/// The settings being edited, applied on «Сохранить».
pub(super) struct SettingsDraft {
    settings: Settings,
    /// A new token typed in; empty keeps the saved one.
    new_token: String,
    saved_token: Option<String>,
    forget_token: bool,
}

impl SettingsDraft {
    pub(super) fn new(settings: &Settings, saved_token: Option<String>) -> SettingsDraft {
        SettingsDraft {
            settings: settings.clone(),
            new_token: String::new(),
            saved_token,
            forget_token: false,
        }
    }
}

pub(super) fn settings_ui(app: &mut TsurApp, ctx: &egui::Context) {
    let Some(mut draft) = app.settings_window.take() else {
        return;
    };
    let mut save = false;
    let mut close = false;
    let modal = egui::Modal::new(egui::Id::unique("settings")).show(ctx, |ui| {
        ui.set_width(520.0);
        ui.heading("Настройки");
        egui::Grid::new("settings_grid").num_columns(2).spacing([12.0, 8.0]).show(ui, |ui| {
            ui.label("Сервер ЦУР");
            ui.add(
                egui::TextEdit::singleline(&mut draft.settings.server_url)
                    .hint_text("https://tsur.example.ru (пусто — встроенный демо-сервер)")
                    .desired_width(320.0),
            );
            ui.end_row();
            ui.label("Токен доступа");
            ui.vertical(|ui| {
                match (&draft.saved_token, draft.forget_token) {
                    (Some(t), false) => {
                        ui.horizontal(|ui| {
                            ui.label(format!("сохранён: {}", masked_token(t)));
                            if ui.small_button("Забыть").clicked() {
                                draft.forget_token = true;
                            }
                        });
                    }
                    _ => {
                        ui.weak("не сохранён");
                    }
                }
                ui.add(
                    egui::TextEdit::singleline(&mut draft.new_token)
                        .password(true)
                        .hint_text("новый токен")
                        .desired_width(320.0),
                );
            });
            ui.end_row();
            ui.label("Подложка карты");
            ui.vertical(|ui| {
                for b in [Basemap::None, Basemap::Tiles, Basemap::PmTiles] {
                    ui.selectable_value(&mut draft.settings.basemap, b, b.label_ru());
                }
                if draft.settings.basemap == Basemap::Tiles {
                    ui.add(
                        egui::TextEdit::singleline(&mut draft.settings.tile_url)
                            .desired_width(320.0),
                    )
                    .on_hover_text(
                        "Адрес тайлов {z}/{x}/{y}: тайловый сервер ЦУР. Публичные тайлы OpenStreetMap — только для лёгкого использования, как требуют их правила",
                    );
                }
                if draft.settings.basemap == Basemap::PmTiles {
                    ui.add(
                        egui::TextEdit::singleline(&mut draft.settings.pmtiles_path)
                            .hint_text("/путь/к/region.pmtiles")
                            .desired_width(320.0),
                    )
                    .on_hover_text("Файл PMTiles с растровыми тайлами области");
                }
            });
            ui.end_row();
            ui.label("Тема");
            ui.horizontal(|ui| {
                ui.selectable_value(&mut draft.settings.theme, ThemeChoice::Light, "Светлая");
                ui.selectable_value(&mut draft.settings.theme, ThemeChoice::Dark, "Тёмная");
            });
            ui.end_row();
            ui.label("Язык");
            ui.label("Русский");
            ui.end_row();
            ui.label("Видеостена");
            ui.vertical(|ui| {
                ui.checkbox(
                    &mut draft.settings.start_as_wall,
                    "Этот компьютер — видеостена: запускаться в режиме стены",
                )
                .on_hover_text(
                    "Без элементов управления и персональных данных; токен выше должен быть \
                     токеном роли «стена»",
                );
                ui.add(
                    egui::TextEdit::singleline(&mut draft.settings.wall_config)
                        .hint_text("файл настроек стены (wall.toml); пусто — все сцены")
                        .desired_width(360.0),
                );
            });
            ui.end_row();
        });
        ui.weak("Сервер, токен и режим стены применяются при следующем запуске.");
        ui.horizontal(|ui| {
            if ui.button("Сохранить").clicked() {
                save = true;
            }
            if ui.button("Отмена").clicked() {
                close = true;
            }
        });
    });
    if modal.should_close() {
        close = true;
    }
    if save {
        let mut errors = Vec::new();
        if let Some(store) = &app.settings_store {
            if draft.forget_token
                && let Err(e) = store.set_token("")
            {
                errors.push(format!("{e:#}"));
            }
            if !draft.new_token.trim().is_empty()
                && let Err(e) = store.set_token(&draft.new_token)
            {
                errors.push(format!("{e:#}"));
            }
        }
        app.settings = Settings {
            period: app.query.period,
            area_measure: app.query.area_measure,
            layers: app.settings.layers,
            ..draft.settings
        };
        crate::theme::apply(ctx, app.settings.theme);
        // Saved on purpose: a file that could not be read is replaced now. The writer says
        // when it is on disk.
        app.settings_unreadable = false;
        let number = app.save_settings();
        app.announce_settings_saved = number.filter(|_| errors.is_empty());
        if !errors.is_empty() {
            app.notice = Some(Notice {
                text: errors.join("; "),
                is_error: true,
            });
        }
        return;
    }
    if !close {
        app.settings_window = Some(draft);
    }
}

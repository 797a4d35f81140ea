//! The case drill-down: the text, channel and regime, the author when the role may see it, a small
//! map, each deadline explained, the history, the rating, related appeals, the suggested
//! classification (A accepts it), and the answer composer with the pack's templates.

use super::command::UiCommand;
use super::{TsurApp, local_time};
use crate::theme;
use egui::RichText;
use tsur_core::sync::ActionKind;

/// `neighbours`: the queue's appeals on the map, drawn around the case.
pub(super) fn case_ui(app: &mut TsurApp, ui: &mut egui::Ui, neighbours: &[crate::views::MapPoint]) {
    let Some(case) = app.case.take() else {
        ui.spinner();
        ui.weak("Открываем обращение…");
        return;
    };
    let super::Phase::Ready(snapshot) = &app.phase else {
        app.case = Some(case);
        return;
    };
    let pack = snapshot.pack.clone();
    let offset = snapshot.utc_offset;
    let snapshot_places = snapshot.places.clone();
    let a = &case.appeal;
    ui.horizontal(|ui| {
        ui.heading(format!("Обращение №{}", a.id));
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button("×").on_hover_text("Закрыть (Esc)").clicked() {
                app.commands.push(UiCommand::Close);
            }
        });
    });
    egui::ScrollArea::vertical().show(ui, |ui| {
        let name = |code: Option<&str>, of: &dyn Fn(&str) -> Option<String>| {
            code.map(|c| of(c).unwrap_or_else(|| c.to_string()))
                .unwrap_or_else(|| "—".into())
        };
        egui::Grid::new("case_facts").num_columns(2).show(ui, |ui| {
            let mut fact = |k: &str, v: String| {
                ui.weak(k);
                ui.label(v);
                ui.end_row();
            };
            fact("Статус", a.status.label_ru().to_string());
            fact("Режим", a.regime.label_ru().to_string());
            fact("Канал", a.channel.label_ru().to_string());
            fact("Поступило", local_time(a.received_utc.timestamp(), offset));
            fact(
                "Тема",
                name(a.topic.as_ref().map(|t| t.as_str()), &|c| {
                    pack.topic(c)
                        .map(|(b, t)| format!("{} · {}", b.name, t.name))
                }),
            );
            fact(
                "Муниципалитет",
                name(a.municipality.as_ref().map(|m| m.as_str()), &|c| {
                    pack.municipality(c).map(|m| m.short_name.clone())
                }),
            );
            fact(
                "Организация",
                name(a.organisation.as_ref().map(|o| o.as_str()), &|c| {
                    pack.organisation(c).map(|o| o.name.clone())
                }),
            );
            fact("Адрес", a.address.clone().unwrap_or_else(|| "—".into()));
            fact(
                "Исполнитель",
                a.assignee.clone().unwrap_or_else(|| "не назначен".into()),
            );
            // The server sends the author only to roles that may see personal data (152-ФЗ).
            let author: Vec<&str> = [&a.author.name, &a.author.phone, &a.author.email]
                .into_iter()
                .filter_map(|v| v.as_deref())
                .collect();
            fact(
                "Заявитель",
                if author.is_empty() {
                    "скрыт для вашей роли".into()
                } else {
                    author.join(", ")
                },
            );
            if let Some(r) = a.rating {
                fact("Оценка", format!("{} из 5", r.stars()));
            }
        });
        ui.separator();
        ui.label(RichText::new(&a.text).size(15.0));
        ui.separator();

        ui.strong("Сроки");
        for d in &case.deadlines {
            let colour = case.sla.map_or(ui.visuals().text_color(), theme::sla);
            // The deadline engine writes steps with an arrow that the bundled fonts lack.
            ui.label(RichText::new(d.replace('→', "—")).color(colour));
        }

        if let Some(s) = &a.suggestion {
            ui.separator();
            let topic = pack
                .topic(s.topic.as_str())
                .map_or(s.topic.as_str().to_string(), |(b, t)| {
                    format!("{} · {}", b.name, t.name)
                });
            ui.horizontal_wrapped(|ui| {
                ui.label(format!(
                    "Предложенная тема: {topic} (уверенность {:.0} %)",
                    s.confidence * 100.0
                ));
                if ui
                    .button("Принять (A)")
                    .on_hover_text("Классифицировать по предложению")
                    .clicked()
                {
                    app.commands.push(UiCommand::AcceptSuggestion);
                }
            });
        }

        if let Some(point) = a.point {
            ui.separator();
            let places = snapshot_places.clone();
            ui.allocate_ui(egui::vec2(ui.available_width(), 160.0), |ui| {
                ui.set_min_height(160.0);
                let overlay = crate::map::CaseOverlay {
                    lat: point.lat,
                    lon: point.lon,
                    places: &places,
                    neighbours,
                };
                ui.add(
                    walkers::Map::new(
                        None,
                        &mut app.case_map,
                        walkers::lat_lon(point.lat, point.lon),
                    )
                    .with_plugin(overlay),
                );
            });
        }

        if !case.actions.is_empty() {
            ui.separator();
            ui.strong("Ваши действия");
            for action in &case.actions {
                let text = match &action.detail {
                    Some(d) => format!("{} — {}: {d}", action.what, action.state),
                    None => format!("{} — {}", action.what, action.state),
                };
                let refused = matches!(action.state.as_str(), "конфликт" | "отклонено");
                ui.label(if refused {
                    RichText::new(text).color(theme::ERROR_TEXT)
                } else {
                    RichText::new(text).color(theme::PENDING)
                });
            }
        }

        ui.separator();
        ui.strong("История");
        for event in &a.events {
            let status = match (event.from_status, event.to_status) {
                (Some(f), Some(t)) => format!(": из «{}» в «{}»", f.label_ru(), t.label_ru()),
                (None, Some(t)) => format!(": {}", t.label_ru()),
                _ => String::new(),
            };
            let note = event
                .note
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            ui.label(format!(
                "{} · {}{status}{note} · {}",
                local_time(event.at_utc.timestamp(), offset),
                event.kind.label_ru(),
                event.actor
            ));
        }
        if !a.answers.is_empty() {
            ui.strong("Ответы");
            for answer in &a.answers {
                ui.label(format!(
                    "{} · {}",
                    local_time(answer.at_utc.timestamp(), offset),
                    answer.kind.label_ru()
                ));
                ui.weak(&answer.text);
            }
        }

        if !case.related.is_empty() || case.problem_title.is_some() {
            ui.separator();
            ui.strong("Связанные");
            if let Some(title) = &case.problem_title {
                ui.label(format!("Проблема: {title}"));
            }
            for r in &case.related {
                let clicked = ui
                    .link(format!(
                        "№{} · {} · {} · {}",
                        r.id,
                        r.relation,
                        r.status.label_ru(),
                        r.excerpt
                    ))
                    .clicked();
                if clicked {
                    app.pending_open = Some(r.id);
                }
            }
        }

        ui.separator();
        ui.strong("Ответ заявителю");
        if !case.templates.is_empty() {
            ui.horizontal_wrapped(|ui| {
                ui.weak("Шаблоны:");
                for (title, text) in &case.templates {
                    if ui.small_button(title).on_hover_text(text).clicked() {
                        app.composer = text.clone();
                    }
                }
            });
        }
        let composer = ui.add(
            egui::TextEdit::multiline(&mut app.composer)
                .hint_text("Текст ответа (O — перейти сюда, Ctrl+Enter — отправить)")
                .desired_rows(5)
                .desired_width(f32::INFINITY),
        );
        if std::mem::take(&mut app.focus_composer) {
            composer.request_focus();
        }
        ui.horizontal(|ui| {
            ui.checkbox(&mut app.composer_on_merits, "Ответ по существу");
            let send_key = composer.has_focus()
                && ui.input(|i| i.modifiers.command && i.key_pressed(egui::Key::Enter));
            // One answer at a time: the button waits until the last one is recorded.
            let can_send = !app.composer.trim().is_empty() && app.answer_in_flight.is_none();
            if (ui
                .add_enabled(can_send, egui::Button::new("Отправить ответ"))
                .clicked()
                || (send_key && can_send))
                && a.status.is_open()
            {
                let kind = ActionKind::Answer {
                    text: app.composer.trim().to_string(),
                    on_merits: app.composer_on_merits,
                };
                // The text stays until the worker says the answer is recorded.
                app.pending_action = Some((vec![(a.id, a.version)], kind));
            }
        });
    });
    app.case = Some(case);
}

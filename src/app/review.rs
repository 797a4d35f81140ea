//! Review mode (Обзор) for analysts: the period against the one before, the trend, the topic ×
//! municipality matrix, the ranking of organisations with each score explained, and the
//! problems and surges — all from the local replica, with no network.

use super::operator::format_value;
use super::{TsurApp, group_digits, local_time};
use crate::theme;
use crate::views::{Period, ReviewData};
use egui::RichText;
use tsur_core::analytics::report::Headline;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewTab {
    Comparison,
    Matrix,
    Ranking,
    Problems,
}

impl ReviewTab {
    const ALL: [ReviewTab; 4] = [
        ReviewTab::Comparison,
        ReviewTab::Matrix,
        ReviewTab::Ranking,
        ReviewTab::Problems,
    ];

    fn label_ru(self) -> &'static str {
        match self {
            ReviewTab::Comparison => "Сравнение периодов и динамика",
            ReviewTab::Matrix => "Темы × муниципалитеты",
            ReviewTab::Ranking => "Рейтинг организаций",
            ReviewTab::Problems => "Проблемы и всплески",
        }
    }
}

pub(super) fn review_ui(app: &mut TsurApp, ui: &mut egui::Ui) {
    egui::CentralPanel::default().show(ui, |ui| {
        ui.horizontal_wrapped(|ui| {
            for tab in ReviewTab::ALL {
                if ui
                    .add(egui::Button::selectable(
                        app.review_tab == tab,
                        tab.label_ru(),
                    ))
                    .clicked()
                {
                    app.review_tab = tab;
                }
            }
            ui.separator();
            ui.weak("Считается по локальной реплике, без сети");
        });
        ui.separator();
        let Some(data) = app.review.take() else {
            ui.spinner();
            return;
        };
        if data.period != app.review_period {
            ui.spinner();
        }
        let super::Phase::Ready(snapshot) = &app.phase else {
            app.review = Some(data);
            return;
        };
        let offset = snapshot.utc_offset;
        let pack = snapshot.pack.clone();
        egui::ScrollArea::both()
            .auto_shrink([false, false])
            .show(ui, |ui| match app.review_tab {
                ReviewTab::Comparison => comparison_ui(ui, &data, offset),
                ReviewTab::Matrix => matrix_ui(ui, &data, &pack),
                ReviewTab::Ranking => ranking_ui(ui, &data),
                ReviewTab::Problems => problems_ui(ui, &data, offset),
            });
        app.review = Some(data);
    });
}

fn share(v: Option<f64>) -> String {
    v.map_or("—".into(), |s| format_value(s * 100.0, "%"))
}

fn hours(v: Option<f64>) -> String {
    v.map_or("—".into(), |h| format_value(h / 24.0, "дн."))
}

fn comparison_ui(ui: &mut egui::Ui, data: &ReviewData, offset: chrono::FixedOffset) {
    let now = &data.report.headline;
    let before = data.report.previous_period.as_ref();
    ui.heading(format!("Период: {}", data.period.label_ru()));
    if before.is_none() && data.period != Period::All {
        ui.weak("Нет данных о предыдущем периоде");
    }
    type Row = (&'static str, fn(&Headline) -> String);
    let rows: [Row; 9] = [
        ("Поступило", |h| group_digits(h.total)),
        ("Открыто", |h| group_digits(h.open)),
        ("Просрочено сейчас", |h| {
            group_digits(h.overdue)
        }),
        ("Ответы в срок", |h| share(h.on_time_share)),
        ("Среднее время ответа", |h| {
            hours(h.avg_answer_hours)
        }),
        ("Удовлетворённость", |h| {
            share(h.satisfaction_share)
        }),
        ("Повторные", |h| share(h.repeat_share)),
        ("Ответы по существу", |h| {
            share(h.merits_share)
        }),
        ("Ускоренное решение проблем", |h| {
            share(h.accelerated_share)
        }),
    ];
    egui::Grid::new("comparison")
        .striped(true)
        .num_columns(3)
        .show(ui, |ui| {
            ui.strong("Показатель");
            ui.strong("Этот период");
            ui.strong("Предыдущий");
            ui.end_row();
            for (name, value) in rows {
                ui.label(name);
                ui.label(RichText::new(value(now)).strong());
                ui.label(before.map_or("—".into(), value));
                ui.end_row();
            }
        });
    ui.add_space(12.0);
    ui.heading("Динамика по неделям");
    let received: Vec<[f64; 2]> = data
        .weeks
        .iter()
        .enumerate()
        .map(|(i, w)| [i as f64, w.received as f64])
        .collect();
    let on_time: Vec<[f64; 2]> = data
        .weeks
        .iter()
        .enumerate()
        .filter_map(|(i, w)| Some([i as f64, w.on_time_share? * 100.0]))
        .collect();
    let satisfied: Vec<[f64; 2]> = data
        .weeks
        .iter()
        .enumerate()
        .filter_map(|(i, w)| Some([i as f64, w.satisfaction_share? * 100.0]))
        .collect();
    let labels: Vec<String> = data
        .weeks
        .iter()
        .map(|w| local_time(w.from_utc, offset).chars().take(5).collect())
        .collect();
    let axis_labels = labels.clone();
    ui.columns(2, |cols| {
        cols[0].label("Поступило обращений");
        egui_plot::Plot::new("trend_received")
            .height(200.0)
            .allow_scroll(false)
            .x_axis_formatter(move |mark, _| {
                axis_labels
                    .get(mark.value as usize)
                    .cloned()
                    .unwrap_or_default()
            })
            .show(&mut cols[0], |plot| {
                plot.bar_chart(egui_plot::BarChart::new(
                    "Поступило",
                    received
                        .iter()
                        .map(|[x, y]| egui_plot::Bar::new(*x, *y).width(0.7))
                        .collect(),
                ));
            });
        cols[1].label("Ответы в срок и удовлетворённость, %");
        egui_plot::Plot::new("trend_shares")
            .height(200.0)
            .allow_scroll(false)
            .include_y(0.0)
            .include_y(100.0)
            .legend(egui_plot::Legend::default())
            .x_axis_formatter(move |mark, _| {
                labels.get(mark.value as usize).cloned().unwrap_or_default()
            })
            .show(&mut cols[1], |plot| {
                plot.line(egui_plot::Line::new("Ответы в срок", on_time).color(theme::ON_TARGET));
                plot.line(
                    egui_plot::Line::new("Удовлетворённость", satisfied).color(theme::PENDING),
                );
            });
    });
    ui.add_space(12.0);
    ui.heading("Цели");
    egui::Grid::new("targets")
        .striped(true)
        .num_columns(3)
        .show(ui, |ui| {
            for t in data.report.targets.values() {
                ui.label(&t.name);
                let value = t
                    .value
                    .map_or("нет данных".into(), |v| format_value(v, &t.unit));
                let colour = match t.on_target {
                    Some(true) => theme::ON_TARGET,
                    Some(false) => theme::OFF_TARGET,
                    None => ui.visuals().weak_text_color(),
                };
                ui.label(RichText::new(value).color(colour).strong());
                ui.weak(format!("цель {}", format_value(t.target, &t.unit)));
                ui.end_row();
            }
        });
}

fn matrix_ui(ui: &mut egui::Ui, data: &ReviewData, pack: &tsur_core::pack::RegionPack) {
    let matrix = &data.report.matrix;
    ui.heading("Обращения на 10 тыс. жителей и рост к базе");
    ui.weak(match matrix.baseline_kind {
        Some(_) => "База — тот же период год назад или скользящее среднее (kpi.toml)",
        None => "Без базы для сравнения",
    });
    let mut cells: Vec<_> = matrix.cells.iter().filter(|c| c.count > 0).collect();
    cells.sort_by(|a, b| {
        b.per_10k
            .unwrap_or(0.0)
            .total_cmp(&a.per_10k.unwrap_or(0.0))
            .then(b.count.cmp(&a.count))
    });
    egui::Grid::new("matrix")
        .striped(true)
        .num_columns(5)
        .show(ui, |ui| {
            for h in [
                "Тема",
                "Муниципалитет",
                "Обращений",
                "На 10 тыс.",
                "Рост к базе",
            ] {
                ui.strong(h);
            }
            ui.end_row();
            for c in cells.iter().take(300) {
                ui.label(
                    pack.topic(&c.topic)
                        .map_or(c.topic.clone(), |(b, t)| format!("{} · {}", b.name, t.name)),
                );
                ui.label(
                    pack.municipality(&c.municipality)
                        .map_or(c.municipality.clone(), |m| m.short_name.clone()),
                );
                ui.label(group_digits(c.count));
                ui.label(c.per_10k.map_or("—".into(), |v| format_value(v, "")));
                let growth = c
                    .growth
                    .map_or("—".into(), |g| format!("{:+.0} %", g * 100.0));
                let colour = match c.growth {
                    Some(g) if g > 0.5 => theme::OFF_TARGET,
                    Some(g) if g < -0.2 => theme::ON_TARGET,
                    _ => ui.visuals().text_color(),
                };
                ui.label(RichText::new(growth).color(colour));
                ui.end_row();
            }
        });
    if cells.len() > 300 {
        ui.weak(format!("Показаны 300 из {}", cells.len()));
    }
}

fn ranking_ui(ui: &mut egui::Ui, data: &ReviewData) {
    ui.heading("Рейтинг организаций");
    ui.weak("Место, балл из 100 и из чего он сложился; наведите на балл — объяснение");
    egui::Grid::new("ranking")
        .striped(true)
        .num_columns(5)
        .show(ui, |ui| {
            for h in ["Место", "Организация", "Обращений", "Балл", "Изменение"]
            {
                ui.strong(h);
            }
            ui.end_row();
            for r in &data.report.ranking {
                ui.label(r.rank.map_or("—".into(), |n| n.to_string()));
                ui.label(&r.name);
                ui.label(group_digits(r.appeals));
                let components: Vec<String> = r
                    .components
                    .iter()
                    .map(|c| {
                        format!(
                            "{}: {} (по области {}), {} балл.",
                            c.name,
                            share(c.value),
                            share(c.regional),
                            c.points.map_or("—".into(), |p| format!("{p:.1}"))
                        )
                    })
                    .collect();
                ui.label(RichText::new(r.score.map_or("—".into(), |s| format!("{s:.1}"))).strong())
                    .on_hover_text(format!("{}\n{}", r.explanation, components.join("\n")));
                ui.label(match r.trend {
                    Some(t) if t > 0.0 => {
                        RichText::new(format!("⬆ {t:.1}")).color(theme::ON_TARGET)
                    }
                    Some(t) if t < 0.0 => {
                        RichText::new(format!("⬇ {:.1}", -t)).color(theme::OFF_TARGET)
                    }
                    Some(_) => RichText::new("="),
                    None => RichText::new("—"),
                });
                ui.end_row();
            }
        });
}

fn problems_ui(ui: &mut egui::Ui, data: &ReviewData, offset: chrono::FixedOffset) {
    ui.heading("Всплески");
    if data.report.surges.is_empty() {
        ui.weak("Всплесков нет");
    }
    for s in &data.report.surges {
        ui.label(format!(
            "{} · {}: {} обращений с {} по {} при обычных {:.1} (в {:.1} раза больше)",
            s.municipality_name,
            s.topic_name,
            s.count,
            local_time(s.window_from_utc, offset),
            local_time(s.window_to_utc, offset),
            s.baseline_mean,
            s.ratio
        ));
    }
    ui.add_space(12.0);
    ui.heading("Проблемы");
    egui::Grid::new("problems")
        .striped(true)
        .num_columns(6)
        .show(ui, |ui| {
            for h in [
                "Проблема",
                "Обращений",
                "Открыто",
                "Просрочено",
                "За неделю",
                "Решена",
            ] {
                ui.strong(h);
            }
            ui.end_row();
            for p in &data.report.problems {
                ui.label(&p.title);
                ui.label(group_digits(p.appeals));
                ui.label(group_digits(p.open));
                ui.label(
                    RichText::new(group_digits(p.overdue)).color(if p.overdue > 0 {
                        theme::OVERDUE_TEXT
                    } else {
                        ui.visuals().text_color()
                    }),
                );
                ui.label(format!(
                    "{} (неделей раньше {})",
                    p.last_week, p.week_before
                ));
                ui.label(match (p.resolved, p.accelerated) {
                    (true, true) => "ускоренно",
                    (true, false) => "да",
                    _ => "нет",
                });
                ui.end_row();
            }
        });
}

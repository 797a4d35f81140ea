//! The curator's briefing on screen: a few slides built from the analytics, navigated with the
//! arrow keys or a presenter's clicker (Page Down / Page Up), exported to PDF with Ctrl+P. The
//! words come from [`crate::briefing`], the same as in the PDF.

use super::{TsurApp, group_digits};
use crate::briefing;
use crate::views::WallData;
use egui::{Align, Color32, Layout, RichText, vec2};

/// The slides, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slide {
    Summary,
    Burning,
    Late,
    Improved,
    Map,
}

pub const SLIDES: [Slide; 5] = [
    Slide::Summary,
    Slide::Burning,
    Slide::Late,
    Slide::Improved,
    Slide::Map,
];

impl Slide {
    pub fn title_ru(self) -> &'static str {
        match self {
            Slide::Summary => "Сводка: период против предыдущего",
            Slide::Burning => "Что горит",
            Slide::Late => "Кто опаздывает",
            Slide::Improved => "Что улучшилось",
            Slide::Map => "Карта обращений",
        }
    }
}

const PAPER: Color32 = Color32::from_rgb(0xFA, 0xFB, 0xFC);
const INK: Color32 = Color32::from_rgb(0x1F, 0x24, 0x2B);
const MUTED: Color32 = Color32::from_rgb(0x6C, 0x75, 0x7D);
const GOOD: Color32 = Color32::from_rgb(0x2B, 0x8A, 0x3E);
const BAD: Color32 = Color32::from_rgb(0xC9, 0x2A, 0x2A);
const ACCENT: Color32 = Color32::from_rgb(0x1C, 0x5D, 0x9E);

pub(super) fn briefing_ui(app: &mut TsurApp, ui: &mut egui::Ui) {
    let Some(data) = app.wall.take() else {
        return;
    };
    let slide = SLIDES[app.slide.min(SLIDES.len() - 1)];
    let offset = app.utc_offset();
    let frame = egui::Frame::new().fill(PAPER).inner_margin(28.0);
    egui::Panel::bottom("briefing_footer")
        .frame(egui::Frame::new().fill(PAPER).inner_margin(10.0))
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(app.slide > 0, egui::Button::new("⏴ Назад"))
                    .on_hover_text("← или Page Up")
                    .clicked()
                {
                    app.commands.push(super::UiCommand::PreviousSlide);
                }
                ui.label(
                    RichText::new(format!("Слайд {} из {}", app.slide + 1, SLIDES.len()))
                        .color(MUTED),
                );
                if ui
                    .add_enabled(app.slide + 1 < SLIDES.len(), egui::Button::new("Далее ⏵"))
                    .on_hover_text("→ или Page Down")
                    .clicked()
                {
                    app.commands.push(super::UiCommand::NextSlide);
                }
                ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                    if ui
                        .button("Пересчитать")
                        .on_hover_text("F5: показатели на сейчас (слайды не меняются сами)")
                        .clicked()
                    {
                        app.commands.push(super::UiCommand::Refresh);
                    }
                    if ui
                        .button("Снимок PNG")
                        .on_hover_text("Ctrl+S: экран как есть, в файл PNG")
                        .clicked()
                    {
                        app.commands.push(super::UiCommand::ExportPng);
                    }
                    if ui
                        .button("Экспорт в PDF")
                        .on_hover_text(
                            "Ctrl+P: сводка на одной странице и приложение по каждому блоку",
                        )
                        .clicked()
                    {
                        app.commands.push(super::UiCommand::ExportPdf);
                    }
                    if data.blocks.is_empty() {
                        ui.spinner().on_hover_text("Готовим приложение по блокам");
                    }
                });
            });
        });
    egui::CentralPanel::default().frame(frame).show(ui, |ui| {
        ui.label(
            RichText::new(briefing::heading(&app.region_name(), &data, offset))
                .size(18.0)
                .color(MUTED),
        );
        ui.label(
            RichText::new(slide.title_ru())
                .size(40.0)
                .color(INK)
                .strong(),
        );
        ui.add_space(18.0);
        match slide {
            Slide::Summary => summary_slide(ui, &data),
            Slide::Burning => bullet_list(ui, &briefing::burning(&data), BAD),
            Slide::Late => {
                let lines: Vec<String> = briefing::late(&data.report)
                    .into_iter()
                    .map(briefing::ranked_line)
                    .collect();
                if lines.is_empty() {
                    // As in the PDF: too few appeals for scores, so the busiest organisations.
                    let mut busiest =
                        vec!["Для рейтинга мало обращений; больше всего обращений у:".to_string()];
                    busiest.extend(
                        briefing::busiest(&data.report)
                            .into_iter()
                            .take(8)
                            .map(briefing::ranked_line),
                    );
                    bullet_list(ui, &busiest, INK);
                } else {
                    bullet_list(ui, &lines, BAD);
                }
            }
            Slide::Improved => bullet_list(ui, &briefing::improved(&data.report), GOOD),
            Slide::Map => map_slide(app, ui, &data),
        }
    });
    app.wall = Some(data);
}

fn summary_slide(ui: &mut egui::Ui, data: &WallData) {
    egui::Grid::new("briefing_summary")
        .num_columns(4)
        .spacing(vec2(48.0, 14.0))
        .show(ui, |ui| {
            for head in ["Показатель", "Сейчас", "Было", "Изменение"] {
                ui.label(RichText::new(head).size(18.0).color(MUTED));
            }
            ui.end_row();
            for c in briefing::summary(&data.report) {
                ui.label(RichText::new(c.name).size(26.0).color(INK));
                ui.label(RichText::new(&c.now).size(30.0).color(INK).strong());
                ui.label(RichText::new(&c.before).size(26.0).color(MUTED));
                let colour = match c.better {
                    Some(true) => GOOD,
                    Some(false) => BAD,
                    None => MUTED,
                };
                ui.label(RichText::new(&c.change).size(26.0).color(colour));
                ui.end_row();
            }
        });
    ui.add_space(16.0);
    ui.label(
        RichText::new(format!(
            "Открыто сейчас {}, просрочено {}, под угрозой в ближайшие сутки {}",
            group_digits(data.totals.open),
            group_digits(data.totals.overdue),
            group_digits(data.totals.at_risk)
        ))
        .size(22.0)
        .color(ACCENT),
    );
}

fn bullet_list(ui: &mut egui::Ui, lines: &[String], colour: Color32) {
    egui::ScrollArea::vertical().show(ui, |ui| {
        for line in lines {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new("•").size(20.0).color(colour));
                ui.label(RichText::new(line).size(26.0).color(INK));
            });
            ui.add_space(10.0);
        }
    });
}

fn map_slide(app: &mut TsurApp, ui: &mut egui::Ui, data: &WallData) {
    super::wall::data_map_ui(app, ui, data, 0);
}

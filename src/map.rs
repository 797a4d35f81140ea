//! The region map: walkers with no basemap (works offline), municipality centres and names, and
//! appeal density cells.

use crate::loader::{CELL_DEG, Cell, MapPlace};
use crate::theme;
use egui::{Align2, FontId, Response, Stroke, Ui, vec2};
use walkers::{MapMemory, Plugin, Projector, lat_lon};

/// The zoom at which a bounding box (degrees) fits a screen area of `size` points, with a margin.
pub fn fit_zoom(size: egui::Vec2, min_lat: f64, max_lat: f64, min_lon: f64, max_lon: f64) -> f64 {
    let mercator_y = |lat: f64| {
        (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0)
            .tan()
            .ln()
    };
    let width_at_zoom0 = (max_lon - min_lon) / 360.0 * 256.0;
    let height_at_zoom0 =
        (mercator_y(max_lat) - mercator_y(min_lat)) / std::f64::consts::TAU * 256.0;
    let scale =
        (f64::from(size.x) / width_at_zoom0).min(f64::from(size.y) / height_at_zoom0) * 0.92;
    scale.max(1.0).log2().clamp(2.0, 16.0)
}

/// Draws the plain background, the appeal cells and the municipalities.
pub struct RegionOverlay<'a> {
    pub cells: &'a [Cell],
    pub max_cell: u32,
    pub places: &'a [MapPlace],
}

impl Plugin for RegionOverlay<'_> {
    fn run(
        self: Box<Self>,
        ui: &mut Ui,
        response: &Response,
        projector: &Projector,
        _memory: &MapMemory,
    ) {
        let painter = ui.painter_at(response.rect);
        painter.rect_filled(response.rect, 0.0, theme::MAP_BACKGROUND);
        painter.rect_stroke(
            response.rect.shrink(1.0),
            0.0,
            Stroke::new(1.0, theme::MAP_FRAME),
            egui::StrokeKind::Inside,
        );

        // Cell size on screen at this zoom.
        let origin = projector.project(lat_lon(55.0, 60.0));
        let corner = projector.project(lat_lon(55.0 + CELL_DEG, 60.0 + CELL_DEG * 1.7));
        let size = vec2(
            (corner.x - origin.x).abs().max(2.0),
            (corner.y - origin.y).abs().max(2.0),
        );
        let max = (self.max_cell.max(1) as f32).ln_1p();
        let clip = response.rect.expand(size.max_elem());
        for cell in self.cells {
            let centre = projector.project(lat_lon(cell.lat, cell.lon)).to_pos2();
            if !clip.contains(centre) {
                continue;
            }
            let t = (cell.count as f32).ln_1p() / max;
            painter.rect_filled(
                egui::Rect::from_center_size(centre, size),
                0.0,
                theme::heat(t),
            );
        }

        // Municipality centres, and the names that fit: larger places first, no overlaps.
        let font = FontId::proportional(12.0);
        let mut taken: Vec<egui::Rect> = Vec::new();
        for place in self.places {
            let pos = projector.project(lat_lon(place.lat, place.lon)).to_pos2();
            if !response.rect.contains(pos) {
                continue;
            }
            let radius = if place.population >= 100_000 {
                4.0
            } else {
                2.5
            };
            painter.circle_filled(pos, radius, theme::MUNICIPALITY_DOT);
            let galley =
                painter.layout_no_wrap(place.name.clone(), font.clone(), theme::MUNICIPALITY_LABEL);
            let rect = Align2::LEFT_BOTTOM.anchor_size(pos + vec2(5.0, -2.0), galley.size());
            if taken.iter().any(|t| t.expand(2.0).intersects(rect)) {
                continue;
            }
            taken.push(rect);
            painter.galley(rect.min, galley, theme::MUNICIPALITY_LABEL);
        }

        legend_ui(&painter, response.rect, self.max_cell);

        // Tooltip: how many appeals the cell under the pointer holds.
        if let Some(hover) = response.hover_pos() {
            let at = projector.unproject(hover.to_vec2());
            let (lat, lon) = (at.y(), at.x());
            let hit = self.cells.iter().find(|c| {
                (c.lat - lat).abs() <= CELL_DEG / 2.0 && (c.lon - lon).abs() <= CELL_DEG * 1.7 / 2.0
            });
            if let Some(cell) = hit {
                response.clone().on_hover_text_at_pointer(format!(
                    "Обращений: {} (ячейка ≈1 км, {:.3}° с. ш., {:.3}° в. д.)",
                    cell.count, cell.lat, cell.lon
                ));
            }
        }
    }
}

/// The density legend and the map keys, in the bottom-left corner.
fn legend_ui(painter: &egui::Painter, rect: egui::Rect, max_cell: u32) {
    let font = FontId::proportional(12.0);
    let origin = rect.left_bottom() + vec2(12.0, -12.0);
    let ramp_width = 160.0;
    let ramp_top = origin.y - 30.0;
    let steps = 32;
    for i in 0..steps {
        let t = i as f32 / (steps - 1) as f32;
        let x = origin.x + ramp_width * i as f32 / steps as f32;
        painter.rect_filled(
            egui::Rect::from_min_size(
                egui::pos2(x, ramp_top),
                vec2(ramp_width / steps as f32 + 0.5, 10.0),
            ),
            0.0,
            theme::heat(t),
        );
    }
    painter.text(
        egui::pos2(origin.x, ramp_top - 4.0),
        Align2::LEFT_BOTTOM,
        "Обращений в ячейке ≈1 км",
        font.clone(),
        theme::MUNICIPALITY_LABEL,
    );
    painter.text(
        egui::pos2(origin.x, ramp_top + 12.0),
        Align2::LEFT_TOP,
        "1",
        font.clone(),
        theme::MUNICIPALITY_LABEL,
    );
    painter.text(
        egui::pos2(origin.x + ramp_width, ramp_top + 12.0),
        Align2::RIGHT_TOP,
        max_cell.to_string(),
        font.clone(),
        theme::MUNICIPALITY_LABEL,
    );
    painter.text(
        rect.right_bottom() + vec2(-12.0, -12.0),
        Align2::RIGHT_BOTTOM,
        "+ / − масштаб · Home — вся область · перетаскивание — сдвиг",
        font,
        theme::MUNICIPALITY_LABEL,
    );
}

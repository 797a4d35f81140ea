//! The region map: walkers with a plain background (works offline), and the layers of the
//! operator screen — the heat of the period's appeals (one texture), municipalities coloured by a
//! measure, problems sized by volume, single appeals when zoomed in — with hover tooltips, a
//! legend, and clicks that filter by a municipality or open a problem or an appeal.

use crate::loader::MapPlace;
use crate::theme;
use crate::views::{AreaMeasure, MapPoint, OperatorView, ProblemMarker};
use egui::{Align2, Color32, FontId, Pos2, Response, Stroke, Ui, vec2};
use std::sync::mpsc::Sender;
use tsur_core::analytics::heat::DensityGrid;
use tsur_core::domain::AppealId;
use walkers::{MapMemory, Plugin, Projector, lat_lon};

/// Zoom from which single appeals are drawn.
pub const APPEALS_FROM_ZOOM: f64 = 11.0;
/// How far (points) a click may be from a municipality's centre to pick it.
const PICK_AREA_PX: f32 = 60.0;

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

/// Raster tiles from a `{z}/{x}/{y}` URL template (the centre's tile server, or OpenStreetMap
/// for light use).
pub struct TemplateSource {
    pub url: String,
}

impl walkers::sources::TileSource for TemplateSource {
    fn tile_url(&self, tile: walkers::TileId) -> String {
        self.url
            .replace("{z}", &tile.zoom.to_string())
            .replace("{x}", &tile.x.to_string())
            .replace("{y}", &tile.y.to_string())
    }

    fn attribution(&self) -> walkers::sources::Attribution {
        walkers::sources::Attribution {
            text: "© участники OpenStreetMap",
            url: "https://www.openstreetmap.org/copyright",
            logo_light: None,
            logo_dark: None,
        }
    }
}

/// Tiles from `url`, kept in the disk cache `cache_dir` (walkers also keeps the last 256 in
/// memory). Downloads and decoding run on walkers' own threads.
pub fn http_tiles(
    url: &str,
    cache_dir: Option<std::path::PathBuf>,
    ctx: &egui::Context,
) -> walkers::HttpTiles {
    walkers::HttpTiles::with_options(
        TemplateSource {
            url: url.to_string(),
        },
        walkers::HttpOptions {
            cache: cache_dir,
            user_agent: Some(walkers::HeaderValue::from_static("tsur/0.1")),
            ..Default::default()
        },
        ctx.clone(),
    )
}

/// Which layers are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapLayers {
    pub heat: bool,
    pub areas: bool,
    pub problems: bool,
    pub appeals: bool,
}

/// What a click on the map picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapClick {
    Municipality(String),
    Problem(i64),
    Appeal(AppealId),
}

/// The heat grid as a texture, made again only when the grid changes.
#[derive(Default)]
pub struct HeatTexture {
    generation: u64,
    texture: Option<egui::TextureHandle>,
}

impl HeatTexture {
    /// The texture of `grid` (version `generation`), uploading it when it is new.
    fn get(
        &mut self,
        ctx: &egui::Context,
        grid: &DensityGrid,
        generation: u64,
    ) -> Option<egui::TextureId> {
        if self.texture.is_none() || self.generation != generation {
            self.generation = generation;
            self.texture = heat_image(grid)
                .map(|image| ctx.load_texture("heat", image, egui::TextureOptions::LINEAR));
        }
        self.texture.as_ref().map(|t| t.id())
    }
}

/// The grid as an image, north row first, transparent where there is nothing. The ramp is on
/// the square root of the density so that a few very dense cells do not hide the rest.
fn heat_image(grid: &DensityGrid) -> Option<egui::ColorImage> {
    if grid.rows == 0 || grid.cols == 0 || grid.max <= 0.0 {
        return None;
    }
    let mut pixels = Vec::with_capacity(grid.rows * grid.cols);
    for r in (0..grid.rows).rev() {
        for c in 0..grid.cols {
            let v = grid.values[r * grid.cols + c];
            pixels.push(if v <= grid.max * 0.01 {
                Color32::TRANSPARENT
            } else {
                theme::heat((v / grid.max).sqrt())
            });
        }
    }
    Some(egui::ColorImage::new([grid.cols, grid.rows], pixels))
}

/// What the region overlay draws: the operator screen's layers, or the video wall's.
#[derive(Clone, Copy)]
pub struct MapData<'a> {
    pub heat: &'a DensityGrid,
    /// The area measure's value per municipality code.
    pub areas: &'a std::collections::HashMap<String, f64>,
    pub problems: &'a [ProblemMarker],
    /// Single appeals (drawn from zoom 11).
    pub points: &'a [MapPoint],
}

impl<'a> MapData<'a> {
    pub fn of(view: &'a OperatorView) -> MapData<'a> {
        MapData {
            heat: &view.heat,
            areas: &view.areas,
            problems: &view.problems,
            points: &view.points,
        }
    }
}

/// Draws the background and the layers over the map (a walkers plugin).
pub struct RegionOverlay<'a> {
    /// Whether a basemap is drawn under the layers (else a plain background).
    pub basemap: bool,
    pub view: MapData<'a>,
    pub places: &'a [MapPlace],
    pub layers: MapLayers,
    pub measure: AreaMeasure,
    pub selected_municipality: Option<&'a str>,
    pub heat_texture: &'a mut HeatTexture,
    pub generation: u64,
    pub clicked: Sender<MapClick>,
}

impl Plugin for RegionOverlay<'_> {
    fn run(
        self: Box<Self>,
        ui: &mut Ui,
        response: &Response,
        projector: &Projector,
        memory: &MapMemory,
    ) {
        let rect = response.rect;
        let painter = ui.painter_at(rect);
        if !self.basemap {
            painter.rect_filled(rect, 0.0, theme::MAP_BACKGROUND);
        }
        painter.rect_stroke(
            rect.shrink(1.0),
            0.0,
            Stroke::new(1.0, theme::MAP_FRAME),
            egui::StrokeKind::Inside,
        );
        let project = |lat: f64, lon: f64| projector.project(lat_lon(lat, lon)).to_pos2();
        let view = self.view;

        // Heat: one texture, drawn as horizontal strips so the Mercator stretch is right.
        if self.layers.heat
            && let Some(texture) = self.heat_texture.get(ui.ctx(), view.heat, self.generation)
        {
            let grid = view.heat;
            let mut mesh = egui::Mesh::with_texture(texture);
            let west = grid.spec.west;
            let east = west + grid.cols as f64 * grid.cell_lon_deg;
            let strips = grid.rows.min(64);
            for k in 0..=strips {
                let lat = grid.spec.south
                    + grid.rows as f64 * grid.spec.cell_deg * k as f64 / strips as f64;
                let v = 1.0 - k as f32 / strips as f32;
                let colour = Color32::WHITE;
                mesh.vertices.push(egui::epaint::Vertex {
                    pos: project(lat, west),
                    uv: egui::pos2(0.0, v),
                    color: colour,
                });
                mesh.vertices.push(egui::epaint::Vertex {
                    pos: project(lat, east),
                    uv: egui::pos2(1.0, v),
                    color: colour,
                });
                if k > 0 {
                    let i = (k as u32) * 2;
                    mesh.add_triangle(i - 2, i - 1, i);
                    mesh.add_triangle(i - 1, i + 1, i);
                }
            }
            painter.add(egui::Shape::mesh(mesh));
        }

        // Municipalities coloured by the measure: circles at their centres, area ∝ population
        // (the pack has no shapes yet).
        let (low, high) = view
            .areas
            .values()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(*v), hi.max(*v))
            });
        let scale = memory.zoom().exp2() as f32 / 128.0;
        if self.layers.areas {
            for place in self.places {
                let Some(value) = view.areas.get(&place.code) else {
                    continue;
                };
                let mut t = if high > low {
                    ((value - low) / (high - low)) as f32
                } else {
                    0.5
                };
                if !self.measure.higher_is_worse() {
                    t = 1.0 - t;
                }
                let radius = ((place.population as f32).sqrt() * 0.03 * scale).clamp(6.0, 60.0);
                painter.circle(
                    project(place.lat, place.lon),
                    radius,
                    theme::good_to_bad(t),
                    Stroke::new(1.0, Color32::from_black_alpha(90)),
                );
            }
        }
        if let Some(selected) = self
            .selected_municipality
            .and_then(|code| self.places.iter().find(|p| p.code == code))
        {
            painter.circle_stroke(
                project(selected.lat, selected.lon),
                14.0,
                Stroke::new(3.0, theme::SELECTED_AREA),
            );
        }

        // Single appeals of the queue when zoomed in.
        let zoomed_in = memory.zoom() >= APPEALS_FROM_ZOOM;
        let mut appeal_spots: Vec<(Pos2, &crate::views::MapPoint)> = Vec::new();
        if self.layers.appeals && zoomed_in {
            for point in view.points {
                let pos = project(f64::from(point.lat), f64::from(point.lon));
                if !rect.contains(pos) {
                    continue;
                }
                let colour = if point.overdue {
                    theme::SLA_OVERDUE
                } else {
                    theme::APPEAL_DOT
                };
                painter.circle(pos, 3.5, colour, Stroke::new(1.0, Color32::WHITE));
                appeal_spots.push((pos, point));
            }
        }

        // Problems sized by volume.
        let mut problem_spots = Vec::new();
        if self.layers.problems {
            for problem in view.problems {
                let pos = project(problem.lat, problem.lon);
                if !rect.expand(30.0).contains(pos) {
                    continue;
                }
                let radius = (3.0 + (problem.appeals as f32).sqrt() * 1.6).min(22.0);
                let fill = if problem.overdue > 0 {
                    theme::SLA_OVERDUE.gamma_multiply(0.75)
                } else {
                    theme::PROBLEM_MARKER.gamma_multiply(0.75)
                };
                painter.circle(pos, radius, fill, Stroke::new(1.5, Color32::WHITE));
                problem_spots.push((pos, radius, problem));
            }
        }

        // Municipality centres, and the names that fit: larger places first, no overlaps.
        let font = FontId::proportional(12.0);
        let mut taken: Vec<egui::Rect> = Vec::new();
        for place in self.places {
            let pos = project(place.lat, place.lon);
            if !rect.contains(pos) {
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
            let label = Align2::LEFT_BOTTOM.anchor_size(pos + vec2(5.0, -2.0), galley.size());
            if taken.iter().any(|t| t.expand(2.0).intersects(label)) {
                continue;
            }
            taken.push(label);
            painter.galley(label.min, galley, theme::MUNICIPALITY_LABEL);
        }

        legend_ui(&painter, rect, &self, low, high);

        // What is under the pointer: an appeal, a problem, or the nearest municipality.
        let pick = |at: Pos2| -> Option<(MapClick, String)> {
            if let Some((_, point)) = appeal_spots.iter().find(|(p, _)| p.distance(at) <= 6.0) {
                return Some((
                    MapClick::Appeal(point.id),
                    format!(
                        "Обращение №{}{}\nЩелчок — открыть",
                        point.id,
                        if point.overdue {
                            " (просрочено)"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            if let Some((_, _, problem)) = problem_spots
                .iter()
                .rev()
                .find(|(p, r, _)| p.distance(at) <= r + 2.0)
            {
                return Some((
                    MapClick::Problem(problem.id),
                    format!(
                        "{}\nОбращений: {}, открыто: {}, просрочено: {}\nЩелчок — обращения проблемы",
                        problem.title, problem.appeals, problem.open, problem.overdue
                    ),
                ));
            }
            let nearest = self
                .places
                .iter()
                .map(|p| (p, project(p.lat, p.lon).distance(at)))
                .filter(|(_, d)| *d <= PICK_AREA_PX)
                .min_by(|a, b| a.1.total_cmp(&b.1))?;
            let place = nearest.0;
            let value = view
                .areas
                .get(&place.code)
                .map(|v| {
                    format!(
                        "\n{}: {}",
                        self.measure.label_ru(),
                        area_value(self.measure, *v)
                    )
                })
                .unwrap_or_default();
            let heat = if self.layers.heat {
                let ll = projector.unproject(at.to_vec2() - rect.min.to_vec2());
                let v = view.heat.value_at(ll.y(), ll.x());
                if v > 0.0 {
                    format!(
                        "\nПлотность обращений: {:.0} % от максимума",
                        100.0 * v / view.heat.max
                    )
                } else {
                    String::new()
                }
            } else {
                String::new()
            };
            Some((
                MapClick::Municipality(place.code.clone()),
                format!(
                    "{}{value}{heat}\nЩелчок — отфильтровать всё по муниципалитету",
                    place.name
                ),
            ))
        };
        if let Some(hover) = response.hover_pos()
            && let Some((_, text)) = pick(hover)
        {
            response.clone().on_hover_text_at_pointer(text);
        }
        if response.clicked()
            && let Some(at) = response.interact_pointer_pos()
            && let Some((click, _)) = pick(at)
        {
            let _ = self.clicked.send(click);
        }
    }
}

fn area_value(measure: AreaMeasure, v: f64) -> String {
    match measure {
        AreaMeasure::PerCapita => format!("{v:.1}").replace('.', ","),
        AreaMeasure::OverdueShare | AreaMeasure::Satisfaction => {
            format!("{:.1} %", v * 100.0).replace('.', ",")
        }
    }
}

/// The legends of the layers that are on, and the map keys, in the bottom corners.
fn legend_ui(
    painter: &egui::Painter,
    rect: egui::Rect,
    overlay: &RegionOverlay<'_>,
    low: f64,
    high: f64,
) {
    let font = FontId::proportional(12.0);
    let ramp_width = 160.0;
    let mut bottom = rect.left_bottom().y - 12.0;
    let left = rect.left() + 12.0;
    let mut ramp = |title: String, from: String, to: String, colour: &dyn Fn(f32) -> Color32| {
        let top = bottom - 30.0;
        let steps = 32;
        for i in 0..steps {
            let t = i as f32 / (steps - 1) as f32;
            let x = left + ramp_width * i as f32 / steps as f32;
            painter.rect_filled(
                egui::Rect::from_min_size(
                    egui::pos2(x, top),
                    vec2(ramp_width / steps as f32 + 0.5, 10.0),
                ),
                0.0,
                colour(t),
            );
        }
        painter.text(
            egui::pos2(left, top - 4.0),
            Align2::LEFT_BOTTOM,
            title,
            font.clone(),
            theme::MUNICIPALITY_LABEL,
        );
        painter.text(
            egui::pos2(left, top + 12.0),
            Align2::LEFT_TOP,
            from,
            font.clone(),
            theme::MUNICIPALITY_LABEL,
        );
        painter.text(
            egui::pos2(left + ramp_width, top + 12.0),
            Align2::RIGHT_TOP,
            to,
            font.clone(),
            theme::MUNICIPALITY_LABEL,
        );
        bottom = top - 22.0;
    };
    if overlay.layers.heat {
        ramp(
            "Плотность обращений за период".into(),
            "мало".into(),
            "много".into(),
            &|t| theme::heat(t),
        );
    }
    if overlay.layers.areas && low.is_finite() && high.is_finite() {
        let worse_high = overlay.measure.higher_is_worse();
        ramp(
            overlay.measure.label_ru().into(),
            area_value(overlay.measure, low),
            area_value(overlay.measure, high),
            &|t| theme::good_to_bad(if worse_high { t } else { 1.0 - t }),
        );
    }
    if overlay.layers.problems {
        let centre = egui::pos2(left + 8.0, bottom - 8.0);
        painter.circle(
            centre,
            7.0,
            theme::PROBLEM_MARKER.gamma_multiply(0.75),
            Stroke::new(1.5, Color32::WHITE),
        );
        painter.text(
            centre + vec2(14.0, 0.0),
            Align2::LEFT_CENTER,
            "Проблема (размер — число обращений; красная — есть просрочка)",
            font.clone(),
            theme::MUNICIPALITY_LABEL,
        );
    }
    painter.text(
        rect.right_bottom() + vec2(-12.0, -12.0),
        Align2::RIGHT_BOTTOM,
        "+ / − масштаб · Home — вся область · щелчок по муниципалитету — фильтр",
        font,
        theme::MUNICIPALITY_LABEL,
    );
}

/// The case's small map: a plain background, the municipality names around, the queue's other
/// appeals nearby, and the case itself.
pub struct CaseOverlay<'a> {
    pub lat: f64,
    pub lon: f64,
    pub places: &'a [MapPlace],
    pub neighbours: &'a [crate::views::MapPoint],
}

impl Plugin for CaseOverlay<'_> {
    fn run(
        self: Box<Self>,
        ui: &mut Ui,
        response: &Response,
        projector: &Projector,
        _memory: &MapMemory,
    ) {
        let rect = response.rect;
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 4.0, theme::MAP_BACKGROUND);
        let project = |lat: f64, lon: f64| projector.project(lat_lon(lat, lon)).to_pos2();
        for point in self.neighbours {
            let pos = project(f64::from(point.lat), f64::from(point.lon));
            if rect.contains(pos) {
                painter.circle_filled(pos, 3.0, theme::APPEAL_DOT.gamma_multiply(0.6));
            }
        }
        let font = FontId::proportional(12.0);
        for place in self.places {
            let pos = project(place.lat, place.lon);
            if rect.contains(pos) {
                painter.circle_filled(pos, 3.0, theme::MUNICIPALITY_DOT);
                painter.text(
                    pos + vec2(5.0, -2.0),
                    Align2::LEFT_BOTTOM,
                    &place.name,
                    font.clone(),
                    theme::MUNICIPALITY_LABEL,
                );
            }
        }
        let at = project(self.lat, self.lon);
        painter.circle(
            at,
            7.0,
            theme::SLA_OVERDUE,
            Stroke::new(2.0, Color32::WHITE),
        );
        painter.text(
            rect.left_bottom() + vec2(6.0, -6.0),
            Align2::LEFT_BOTTOM,
            format!("{:.5}° с. ш., {:.5}° в. д.", self.lat, self.lon),
            font,
            theme::MUNICIPALITY_LABEL,
        );
    }
}

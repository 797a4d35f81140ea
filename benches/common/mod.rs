//! What the app benchmarks share: the app driven through a bare egui context as eframe would
//! drive it (no window, no GPU), percentiles, and this process's resident memory.

use std::time::Instant;
use tsur::app::{AppOptions, TsurApp};

/// Resident memory of this process in MB (Linux; 0 where `/proc` cannot tell).
pub fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The `p` quantile (0–1) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The app in a bare egui context, as eframe would run it.
pub struct Headless {
    pub ctx: egui::Context,
    pub app: TsurApp,
    frame: eframe::Frame,
    /// The screen in physical pixels.
    pub size: egui::Vec2,
    started: Instant,
}

impl Headless {
    pub fn new(options: AppOptions, size: egui::Vec2) -> Headless {
        let ctx = egui::Context::default();
        // eframe's own constructors for running an app outside a window (kittest uses them too).
        let _creation = eframe::CreationContext::_new_kittest(ctx.clone());
        let app = TsurApp::new(&ctx, options);
        Headless {
            ctx,
            app,
            frame: eframe::Frame::_new_kittest(),
            size,
            started: Instant::now(),
        }
    }

    /// One frame, with the pointer at `pointer` if given: app logic, layout and tessellation;
    /// the vertices made. The screen is given in points, as eframe gives it: pixels divided by the
    /// app's zoom (the wall sets one), on a screen of one pixel per point.
    pub fn frame(&mut self, pointer: Option<egui::Pos2>) -> usize {
        let points = self.size / self.ctx.zoom_factor();
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, points)),
            time: Some(self.started.elapsed().as_secs_f64()),
            events: pointer.map(egui::Event::PointerMoved).into_iter().collect(),
            ..Default::default()
        };
        let (app, frame) = (&mut self.app, &mut self.frame);
        let output = self.ctx.run_ui(input, |ui| eframe::App::ui(app, ui, frame));
        self.ctx
            .tessellate(output.shapes, output.pixels_per_point)
            .iter()
            .map(|p| match &p.primitive {
                egui::epaint::Primitive::Mesh(mesh) => mesh.vertices.len(),
                egui::epaint::Primitive::Callback(_) => 0,
            })
            .sum()
    }
}

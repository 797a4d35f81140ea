//! Operator-screen benchmark (ENGINEERING §6, issue 5): with a demo replica of N appeals (default
//! 1,000,000) opened by the real app, driven headless through egui itself (no window, no GPU,
//! and no accessibility tree — as the app runs when no screen reader is on):
//!
//! - cold start: from creating the app to the first frame that shows the KPI panel, the map with
//!   its heat overlay and the queue;
//! - CPU time per frame of the operator screen at 1920×1080 and 3840×2160, p50 and p95 over many
//!   frames, with the pointer moving over the map (tooltips) — app logic, egui layout and
//!   tessellation, not rasterisation;
//! - resident memory once the screen is up.
//!
//! ```sh
//! cargo bench --bench frame              # 1,000,000 appeals
//! cargo bench --bench frame -- 200000
//! ```
//!
//! The replica is generated once and kept under `target/bench-data/` (shared with the analytics
//! benchmark). Prints figures; asserts nothing about time.

use chrono::{NaiveDate, TimeZone, Utc};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tsur::app::command::Mode;
mod common;

use common::{Headless, percentile, rss_mb};
use tsur::app::AppOptions;
use tsur::loader::{Replica, Source};
use tsur_core::clock::FixedClock;
use tsur_core::demo::{DemoParams, write_demo_replica};
use tsur_core::pack::RegionPack;

const FRAMES: usize = 400;

/// Starts the app and runs frames until it shows its data; how long that took.
fn start(options: AppOptions) -> Result<(Duration, Headless), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut h = Headless::new(options, egui::vec2(1920.0, 1080.0));
    while !h.app.is_settled() {
        h.frame(Some(egui::pos2(10.0, 10.0)));
        if started.elapsed() > Duration::from_secs(600) {
            return Err("the app did not show its data in 10 minutes".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok((started.elapsed(), h))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let appeals: u64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.replace(['_', ','], "").parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let pack = RegionPack::load(RegionPack::bundled_dir())?;
    let date = NaiveDate::from_ymd_opt(2026, 11, 25).ok_or("date")?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("demo-{appeals}.sqlite"));
    if !path.exists() {
        println!("generating {} ...", path.display());
        let params = DemoParams {
            appeals,
            seed: 1,
            now_utc: DemoParams::now_for_date(&pack, date),
        };
        write_demo_replica(&pack, &params, &path, false, &mut |_, _| true)?;
    }
    let config = tempfile::tempdir()?;
    let options = AppOptions {
        source: Source {
            replica: Replica::Existing(path.clone()),
            pack_dir: RegionPack::bundled_dir(),
            demo_appeals: 0,
        },
        clock: Arc::new(FixedClock(
            Utc.with_ymd_and_hms(2026, 11, 25, 7, 0, 0)
                .single()
                .ok_or("time")?,
        )),
        settings: Some(tsur::settings::SettingsStore::new(config.path())),
        mode: Mode::Operator,
        wall: Default::default(),
        export_dir: None,
    };
    // Once without the saved read model (the replica is read row by row; closing the app saves
    // the model), then — in a fresh process, so that memory is the app's alone — with it: the
    // start people see every day.
    const CHILD: &str = "--with-saved-model";
    if !std::env::args().any(|a| a == CHILD) {
        let mut saved = path.as_os_str().to_owned();
        saved.push(".model");
        let _ = std::fs::remove_file(&saved);
        let (first, h) = start(options)?;
        drop(h);
        println!(
            "first start:     {:.2} s to the first frame with the KPI panel, map and queue, reading the replica ({appeals} appeals)",
            first.as_secs_f64()
        );
        let status = std::process::Command::new(std::env::current_exe()?)
            .arg(appeals.to_string())
            .arg(CHILD)
            .status()?;
        return if status.success() {
            Ok(())
        } else {
            Err(format!("the second run failed: {status}").into())
        };
    }
    let rss_before = rss_mb();
    let (cold, mut h) = start(options)?;
    println!(
        "cold start:      {:.2} s to the first frame with the KPI panel, map and queue, from the saved read model",
        cold.as_secs_f64()
    );
    for _ in 0..5 {
        h.frame(Some(egui::pos2(10.0, 10.0)));
    }
    println!(
        "resident memory: {:.0} MB with the operator screen up (before the app: {:.0} MB)",
        rss_mb(),
        rss_before
    );

    for (w, hgt) in [(1920.0, 1080.0), (3840.0, 2160.0)] {
        h.size = egui::vec2(w, hgt);
        for _ in 0..5 {
            h.frame(Some(egui::pos2(10.0, 10.0)));
        }
        let mut times = Vec::with_capacity(FRAMES);
        for i in 0..FRAMES {
            // The pointer sweeps the map: hover tooltips are part of a frame's work.
            let x = w * (0.3 + 0.5 * (i as f32 / FRAMES as f32));
            let t = Instant::now();
            std::hint::black_box(h.frame(Some(egui::pos2(x, hgt * 0.25))));
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "frame {w:.0}×{hgt:.0}: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms over {FRAMES} frames (app + layout + tessellation)",
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            times[times.len() - 1]
        );
    }
    Ok(())
}

//! Video-wall benchmark (issue 6): the real app in wall mode on a demo replica of N appeals
//! (default 1,000,000), driven headless through egui itself (no window, no GPU):
//!
//! - CPU time per frame at 3840×2160 for each scene of the playlist, p50 and p95 (app logic,
//!   egui layout and tessellation, not rasterisation);
//! - resident memory after a simulated day: the clock moves a minute at a time through 24 hours,
//!   each minute brings a sync (new appeals received "now", and changes to existing ones) and
//!   the wall recomputes its figures; memory at the end against memory after the first hour.
//!
//! ```sh
//! cargo bench --bench wall              # 1,000,000 appeals
//! cargo bench --bench wall -- 200000
//! ```
//!
//! The replica is generated once and kept under `target/bench-data/` (shared with the other
//! benchmarks). Prints figures; asserts nothing about time.

use chrono::{NaiveDate, TimeZone, Utc};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tsur::app::command::Mode;
use tsur::app::wall::WallShown;
mod common;

use common::{Headless, percentile, rss_mb};
use tsur::app::AppOptions;
use tsur::loader::{Replica, Source};
use tsur::wall::{SceneKind, WallConfig};
use tsur_core::analytics::AppealFacts;
use tsur_core::clock::{Clock, ManualClock};
use tsur_core::demo::{DemoParams, write_demo_replica};
use tsur_core::pack::RegionPack;
use tsur_core::store::Store;

const FRAMES_PER_SCENE: usize = 120;
const SCENE_SECONDS: i64 = 30;

/// Runs frames until the wall shows figures for its newest request.
fn settle(h: &mut Headless) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    loop {
        h.frame(None);
        if h.app.is_wall_settled() {
            break;
        }
        if let Some(failure) = h.app.failure() {
            return Err(failure.to_string().into());
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err("the wall did not settle in 10 minutes".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // The zoom the wall sets takes effect on the next frame.
    h.frame(None);
    h.frame(None);
    Ok(())
}

fn replica(dir: &Path, pack: &RegionPack, appeals: u64, seed: u64) -> std::path::PathBuf {
    let path = if seed == 1 {
        dir.join(format!("demo-{appeals}.sqlite"))
    } else {
        dir.join(format!("demo-{appeals}-seed{seed}.sqlite"))
    };
    if !path.exists() {
        println!("generating {} ...", path.display());
        let params = DemoParams {
            appeals,
            seed,
            now_utc: DemoParams::now_for_date(
                pack,
                NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default(),
            ),
        };
        if let Err(e) = write_demo_replica(pack, &params, &path, false, &mut |_, _| true) {
            eprintln!("demo replica not written: {e}");
        }
    }
    path
}

/// The app as the wall on `replica`, in a bare egui context, once it shows its figures.
fn start_wall(
    replica: &Path,
    clock: Arc<ManualClock>,
) -> Result<Headless, Box<dyn std::error::Error>> {
    let options = AppOptions {
        source: Source {
            replica: Replica::Existing(replica.to_path_buf()),
            pack_dir: RegionPack::bundled_dir(),
            demo_appeals: 0,
        },
        clock,
        settings: None,
        mode: Mode::Wall,
        // No takeover: the demo's planted surges would hold the alarm scene all day, and the
        // point is the rotation through every scene.
        wall: WallConfig {
            alarm: tsur::wall::AlarmRules {
                overdue_open: None,
                surge_ratio: None,
                surge_min_count: 0,
                ..Default::default()
            },
            ..WallConfig::default()
        },
        export_dir: None,
    };
    let mut h = Headless::new(options, egui::vec2(3840.0, 2160.0));
    settle(&mut h)?;
    Ok(h)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let appeals: u64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.replace(['_', ','], "").parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let pack = RegionPack::load(RegionPack::bundled_dir())?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir)?;
    let path = replica(&dir, &pack, appeals, 1);
    // The day's new appeals come from another demo replica.
    let day_path = replica(&dir, &pack, 3_000, 2);
    let start = Utc
        .with_ymd_and_hms(2026, 11, 25, 7, 0, 0)
        .single()
        .ok_or("time")?;

    // The measured run is a fresh process that starts from the saved read model, as a wall
    // does every morning. The simulated syncs change the figures in memory only (the replica
    // file is not written), so the model it saves at exit is not the replica's: the clean one
    // is put back afterwards.
    let mut saved_model = path.as_os_str().to_owned();
    saved_model.push(".model");
    let saved_model = std::path::PathBuf::from(saved_model);
    let mut clean_copy = saved_model.clone().into_os_string();
    clean_copy.push(".clean");
    let clean_copy = std::path::PathBuf::from(clean_copy);
    const CHILD: &str = "--measure";
    if !std::env::args().any(|a| a == CHILD) {
        if let Ok(()) = std::fs::rename(&clean_copy, &saved_model) {
            println!("(the saved model of an interrupted run was put back)");
        }
        // Opening the replica saves its model at exit when there is none.
        let h = start_wall(&path, Arc::new(ManualClock::new(start)))?;
        drop(h);
        std::fs::copy(&saved_model, &clean_copy)?;
        let status = std::process::Command::new(std::env::current_exe()?)
            .arg(appeals.to_string())
            .arg(CHILD)
            .status();
        std::fs::rename(&clean_copy, &saved_model)?;
        return match status? {
            s if s.success() => Ok(()),
            s => Err(format!("the measured run failed: {s}").into()),
        };
    }

    let day = Store::open_existing(&day_path)?;
    let clock = Arc::new(ManualClock::new(start));
    let rss_before = rss_mb();
    let started = Instant::now();
    let mut h = start_wall(&path, clock.clone())?;
    println!(
        "wall up:         {:.2} s to the first frame with figures ({appeals} appeals, from the saved model); resident memory {:.0} MB (before the app: {rss_before:.0} MB)",
        started.elapsed().as_secs_f64(),
        rss_mb()
    );

    // Frame time per scene at 4K.
    let mut all = Vec::new();
    for (n, kind) in SceneKind::ALL.iter().enumerate() {
        if n > 0 {
            clock.advance(chrono::Duration::seconds(SCENE_SECONDS));
            settle(&mut h)?;
        }
        let now = clock.now_utc().timestamp();
        if h.app.wall_shown(0, now) != Some(WallShown::Scene(*kind)) {
            return Err(format!("expected the {kind:?} scene").into());
        }
        let mut vertices = 0;
        for _ in 0..5 {
            vertices = h.frame(None);
        }
        let mut times = Vec::with_capacity(FRAMES_PER_SCENE);
        for _ in 0..FRAMES_PER_SCENE {
            let t = Instant::now();
            std::hint::black_box(h.frame(None));
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "scene {:<9} 3840×2160: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms over {FRAMES_PER_SCENE} frames ({vertices} vertices)",
            kind.code(),
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            times[times.len() - 1]
        );
        all.extend(times);
    }
    all.sort_by(f64::total_cmp);
    println!(
        "all scenes       3840×2160: p50 {:.2} ms, p95 {:.2} ms (app + layout + tessellation)",
        percentile(&all, 0.5),
        percentile(&all, 0.95)
    );

    // A simulated day: a minute at a time, each with a sync and the wall's recomputation.
    let simulated = Instant::now();
    let mut next_day_appeal = 1;
    let mut first_hour_rss = 0.0;
    let mut hour_frames: Vec<f64> = Vec::new();
    let mut first_hour_p95 = 0.0;
    for minute in 1..=24 * 60 {
        clock.advance(chrono::Duration::minutes(1));
        let now = clock.now_utc().timestamp();
        let mut changes = Vec::new();
        // About 2,000 new appeals a day, received now.
        for _ in 0..2 {
            if let Some(appeal) = day.load_appeal(next_day_appeal)? {
                let mut facts = AppealFacts::of(&appeal);
                let shift = now - facts.received;
                facts.id += appeals as i64;
                facts.received = now;
                for t in [&mut facts.registered, &mut facts.due, &mut facts.answered] {
                    if *t != tsur_core::analytics::NO_TIME {
                        *t += shift;
                    }
                }
                facts.first_reaction = tsur_core::analytics::NO_TIME;
                facts.status = tsur_core::domain::Status::New;
                changes.push(facts);
            }
            next_day_appeal = next_day_appeal % 3_000 + 1;
        }
        // And new versions of a few existing ones.
        let store = Store::open_existing(&path)?;
        for k in 0..3 {
            let id = 1 + ((minute * 7_919 + k * 104_729) % appeals as i64);
            if let Some(appeal) = store.load_appeal(id)? {
                changes.push(AppealFacts::of(&appeal));
            }
        }
        drop(store);
        h.app.apply_sync(changes);
        settle(&mut h)?;
        let t = Instant::now();
        std::hint::black_box(h.frame(None));
        hour_frames.push(t.elapsed().as_secs_f64() * 1000.0);
        if minute % 60 == 0 {
            hour_frames.sort_by(f64::total_cmp);
            let p95 = percentile(&hour_frames, 0.95);
            if minute == 60 {
                first_hour_rss = rss_mb();
                first_hour_p95 = p95;
            }
            if minute % 360 == 0 || minute == 60 {
                println!(
                    "  simulated {:>2} h: resident {:.0} MB, frame p95 {:.2} ms this hour ({:.0} s so far)",
                    minute / 60,
                    rss_mb(),
                    p95,
                    simulated.elapsed().as_secs_f64()
                );
            }
            hour_frames.clear();
        }
    }
    let last_rss = rss_mb();
    println!(
        "simulated day:   resident memory {:.0} MB after 24 h against {:.0} MB after the first hour ({:+.1} %); frame p95 first hour {:.2} ms",
        last_rss,
        first_hour_rss,
        (last_rss / first_hour_rss - 1.0) * 100.0,
        first_hour_p95
    );
    Ok(())
}

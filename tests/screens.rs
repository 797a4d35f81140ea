//! Image snapshots of the operator, case and review screens, rendered headless with wgpu on
//! Mesa's software Vulkan (ENGINEERING §5). The PNGs are committed under tests/snapshots/; run with
//! `UPDATE_SNAPSHOTS=1` to write them again after a deliberate change to the screens.

use chrono::{NaiveDate, TimeZone, Utc};
use egui_kittest::Harness;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tsur::app::command::{Mode, UiCommand};
use tsur::app::{AppOptions, TsurApp};
use tsur::loader::{Replica, Source};
use tsur::settings::SettingsStore;
use tsur_core::clock::FixedClock;
use tsur_core::demo::{DemoParams, write_demo_replica};
use tsur_core::pack::RegionPack;
use tsur_core::store::Store;

/// A demo replica opened offline (its server away), so that nothing changes while it is drawn.
fn app(dir: &Path, mode: Mode) -> Harness<'static, TsurApp> {
    let db = dir.join("replica.sqlite");
    let pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
    if !db.exists() {
        let params = DemoParams {
            appeals: 5_000,
            seed: 11,
            now_utc: DemoParams::now_for_date(
                &pack,
                NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
            ),
        };
        write_demo_replica(&pack, &params, &db, false, &mut |_, _| true).unwrap();
        Store::open_existing(&db)
            .unwrap()
            .set_sync_value("cursor", "1")
            .unwrap();
    }
    let options = AppOptions {
        source: Source {
            replica: Replica::Remote {
                server: "http://127.0.0.1:9".into(),
                token: "token".into(),
                db,
                ca_cert: None,
            },
            pack_dir: RegionPack::bundled_dir(),
            demo_appeals: 0,
        },
        clock: Arc::new(FixedClock(
            Utc.with_ymd_and_hms(2026, 11, 25, 7, 0, 0).unwrap(),
        )),
        settings: Some(SettingsStore::new(dir.join("cfg"))),
        mode,
        wall: Default::default(),
        export_dir: None,
    };
    Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .allow_missing_glyphs()
        .wgpu()
        .build_eframe(move |cc| TsurApp::new(&cc.egui_ctx, options))
}

fn settle(h: &mut Harness<'_, TsurApp>, also: impl Fn(&TsurApp) -> bool) {
    let started = Instant::now();
    loop {
        h.step();
        if h.state().is_settled() && also(h.state()) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "not settled");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The offline status line and the layout settle over a few frames.
    let started = Instant::now();
    while !h.state().is_offline_shown() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no offline status"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    h.run_steps(10);
}

#[test]
fn operator_and_case_screens() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app(dir.path(), Mode::Operator);
    settle(&mut h, |_| true);
    h.snapshot("operator");
    h.state_mut().run(UiCommand::NextRow);
    h.state_mut().run(UiCommand::OpenCase);
    settle(&mut h, |_| true);
    h.snapshot("case");
}

#[test]
fn review_screen() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app(dir.path(), Mode::Review);
    settle(&mut h, TsurApp::has_review);
    h.snapshot("review");
}

/// The wall and the briefing at full HD, synced from the real embedded demo server with a wall
/// token (so the data is fresh, not marked stale).
fn wall_app(
    dir: &Path,
    mode: Mode,
    clock: Arc<tsur_core::clock::ManualClock>,
    wall: tsur::wall::WallConfig,
) -> Harness<'static, TsurApp> {
    let options = AppOptions {
        source: Source {
            replica: Replica::DemoWall(dir.join("data")),
            pack_dir: RegionPack::bundled_dir(),
            demo_appeals: 3_000,
        },
        clock,
        settings: Some(SettingsStore::new(dir.join("cfg"))),
        mode,
        wall,
        export_dir: None,
    };
    Harness::builder()
        .with_size(egui::vec2(1920.0, 1080.0))
        .allow_missing_glyphs()
        .wgpu()
        .build_eframe(move |cc| TsurApp::new(&cc.egui_ctx, options))
}

fn settle_wall(h: &mut Harness<'_, TsurApp>, also: impl Fn(&TsurApp) -> bool) {
    let started = Instant::now();
    loop {
        h.step();
        // "данные на" shows the minute of the clock (the sync long-polls every two seconds).
        let now = tsur_core::clock::Clock::now_utc(&*h.state().clock()).timestamp();
        let current = h.state().data_as_of().is_some_and(|t| t / 60 == now / 60);
        if h.state().is_wall_settled() && current && also(h.state()) {
            break;
        }
        assert!(h.state().failure().is_none(), "{:?}", h.state().failure());
        assert!(started.elapsed() < Duration::from_secs(180), "not settled");
        std::thread::sleep(Duration::from_millis(5));
    }
    h.run_steps(10);
}

fn wall_start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 7, 0, 0).unwrap()
}

#[test]
fn wall_scenes_and_the_alarm() {
    use tsur::wall::{AlarmRules, SceneKind, WallConfig};
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(tsur_core::clock::ManualClock::new(wall_start()));
    let quiet = WallConfig {
        alarm: AlarmRules {
            overdue_open: None,
            surge_ratio: None,
            surge_min_count: 0,
            ..Default::default()
        },
        ..WallConfig::default()
    };
    let mut h = wall_app(dir.path(), Mode::Wall, clock.clone(), quiet);
    settle_wall(&mut h, |_| true);
    for (n, kind) in SceneKind::ALL.iter().enumerate() {
        if n > 0 {
            clock.advance(chrono::Duration::seconds(30));
            settle_wall(&mut h, |_| true);
        }
        let now = tsur_core::clock::Clock::now_utc(&*clock).timestamp();
        assert_eq!(
            h.state().wall_shown(0, now),
            Some(tsur::app::wall::WallShown::Scene(*kind))
        );
        h.snapshot(format!("wall_{}", kind.code()));
    }
    // Two harnesses in one test: their snapshot results are reported together.
    let mut results = h.take_snapshot_results();
    drop(h);

    // The same data over a threshold of one overdue appeal: the alarm scene.
    clock.set(wall_start());
    let alarmed = WallConfig {
        alarm: AlarmRules {
            overdue_open: Some(1),
            surge_ratio: None,
            surge_min_count: 0,
            ..Default::default()
        },
        ..WallConfig::default()
    };
    let mut h = wall_app(dir.path(), Mode::Wall, clock, alarmed);
    settle_wall(&mut h, |_| true);
    assert_eq!(
        h.state().wall_shown(0, wall_start().timestamp()),
        Some(tsur::app::wall::WallShown::Alarm)
    );
    h.snapshot("wall_alarm");
    results.extend(h.take_snapshot_results());
}

#[test]
fn briefing_slides_and_a_png_of_the_screen() {
    let dir = tempfile::tempdir().unwrap();
    let exports = dir.path().join("exports");
    let clock = Arc::new(tsur_core::clock::ManualClock::new(wall_start()));
    let mut h = wall_app(dir.path(), Mode::Briefing, clock, Default::default());
    h.state_mut().set_export_dir(exports.clone());

    settle_wall(&mut h, |app| {
        app.wall_data().is_some_and(|d| !d.blocks.is_empty())
    });
    for slide in 0..tsur::app::briefing_slides() {
        if slide > 0 {
            h.state_mut().run(UiCommand::NextSlide);
            h.run_steps(4);
        }
        assert_eq!(h.state().slide(), slide);
        h.snapshot(format!("briefing_{}", slide + 1));
    }

    // Any screen to PNG: the picture of what is shown, at the window's size.
    h.state_mut().run(UiCommand::ExportPng);
    let started = Instant::now();
    let png = loop {
        h.step();
        let found = std::fs::read_dir(&exports)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "png"));
        if let Some(path) = found {
            break path;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no PNG written"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let image = image::open(&png).unwrap();
    assert_eq!((image.width(), image.height()), (1920, 1080));
    assert!(
        png.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("брифинг-"),
        "{png:?}"
    );
}

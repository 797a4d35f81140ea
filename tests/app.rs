//! The first window, driven headless with egui_kittest: it creates the demo replica on first start
//! with visible progress, then shows counts by block and status and the map.

use chrono::{NaiveDate, TimeZone, Utc};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tsur::app::{AppOptions, TsurApp, group_digits};
use tsur::loader::{Replica, Source};
use tsur_core::clock::FixedClock;
use tsur_core::demo::{DemoParams, write_demo_replica};
use tsur_core::pack::RegionPack;

fn options(replica: Replica, demo_appeals: u64) -> AppOptions {
    AppOptions {
        source: Source {
            replica,
            pack_dir: RegionPack::bundled_dir(),
            demo_appeals,
        },
        clock: Arc::new(FixedClock(
            Utc.with_ymd_and_hms(2026, 11, 25, 7, 0, 0).unwrap(),
        )),
        settings: None,
        mode: tsur::app::command::Mode::Operator,
        wall: Default::default(),
        export_dir: None,
    }
}

/// Steps the app until its data is loaded, recording whether generation progress was shown.
fn run_until_ready(harness: &mut Harness<'_, TsurApp>) -> bool {
    let started = Instant::now();
    let mut saw_progress = false;
    while !harness.state().is_ready() {
        assert!(
            harness.state().failure().is_none(),
            "{:?}",
            harness.state().failure()
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the app did not load in time"
        );
        harness.step();
        if harness.query_by_label_contains("Первый запуск").is_some() {
            saw_progress = true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.run_steps(3);
    saw_progress
}

#[test]
fn first_start_seeds_the_embedded_server_and_syncs_from_it_with_visible_progress() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let opts = options(Replica::Demo(data.clone()), 12_000);
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(|cc| TsurApp::new(&cc.egui_ctx, opts));
    let saw_progress = run_until_ready(&mut harness);
    assert!(saw_progress, "first-start progress must be visible");
    harness.get_by_label(&format!("Всего в реплике: {}", group_digits(12_000)));
    // The replica came over HTTP from the embedded server and says so.
    let replica = tsur::loader::demo_replica_in(&data);
    let store = tsur_core::store::Store::open_existing(&replica).unwrap();
    // Every appeal came over the feed, and so did the problems the server grouped them into
    // (which is why the feed is longer than the appeals).
    assert!(store.cursor().unwrap() > 12_000);
    let count = |sql: &str| -> i64 { store.conn().query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM appeals"), 12_000);
    assert!(count("SELECT count(*) FROM problems") > 10);
    assert_eq!(
        count(
            "SELECT count(*) FROM appeals WHERE problem_id IS NOT NULL
             AND problem_id NOT IN (SELECT id FROM problems)"
        ),
        0,
        "every problem an appeal names was synced"
    );
    let started = Instant::now();
    while harness
        .query_by_label_contains("встроенный демо-сервер: данные на")
        .is_none()
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no sync status in the top bar"
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_window_shows_totals_and_each_blocks_open_queue() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replica.sqlite");
    let pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
    let params = DemoParams {
        appeals: 3_000,
        seed: 9,
        now_utc: DemoParams::now_for_date(&pack, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()),
    };
    write_demo_replica(&pack, &params, &path, false, &mut |_, _| true).unwrap();
    let expected = {
        let store = tsur_core::store::Store::open_existing(&path).unwrap();
        tsur_core::stats::Stats::compute(
            &store,
            &pack,
            Utc.with_ymd_and_hms(2026, 11, 25, 7, 0, 0).unwrap(),
        )
        .unwrap()
    };

    let opts = options(Replica::Existing(path), 0);
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(|cc| TsurApp::new(&cc.egui_ctx, opts));
    let saw_progress = run_until_ready(&mut harness);
    assert!(
        !saw_progress,
        "an existing replica is opened, not generated"
    );

    let row = |name: &str, n: u64| format!("{name}: {}", group_digits(n));
    harness.get_by_label(&row("Всего в реплике", 3_000));
    assert!(expected.overdue > 0);
    harness.get_by_label(&row("Просрочено", expected.overdue));
    harness.get_by_label(&row("Открыто", expected.open));
    // Each block's tab counts its open appeals.
    let store = tsur_core::store::Store::open_existing(dir.path().join("replica.sqlite")).unwrap();
    for block in &pack.blocks {
        let open: i64 = store
            .conn()
            .query_row(
                "SELECT count(*) FROM appeals WHERE block_code = ?1
                 AND status NOT IN ('answered', 'closed', 'merged', 'rejected')",
                [block.code.as_str()],
                |r| r.get(0),
            )
            .unwrap();
        harness.get_by_label(&format!("{} ({})", block.name, group_digits(open as u64)));
    }
    harness.get_by_label_contains("без сервера, только чтение");
}

#[test]
fn a_missing_replica_is_an_error_on_screen_not_a_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.sqlite");
    let opts = options(Replica::Existing(path.clone()), 1_000);
    let mut harness = Harness::builder().build_eframe(|cc| TsurApp::new(&cc.egui_ctx, opts));
    let started = Instant::now();
    while harness.state().failure().is_none() {
        assert!(started.elapsed() < Duration::from_secs(30));
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.run_steps(2);
    harness.get_by_label("Не удалось открыть данные");
    harness.get_by_label_contains("не найден");
    assert!(!path.exists());
}

#[test]
fn closing_the_window_during_first_start_never_leaves_a_half_seeded_demo() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let opts = options(Replica::Demo(data.clone()), 400_000);
    let mut harness = Harness::builder().build_eframe(|cc| TsurApp::new(&cc.egui_ctx, opts));
    let started = Instant::now();
    while harness.query_by_label_contains("Первый запуск").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "seeding never started"
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!harness.state().is_ready());
    drop(harness); // the window closes: the worker is stopped and waited for

    // The next start does not trust the interrupted seeding: it starts over, completely.
    let opts = options(Replica::Demo(data.clone()), 1_500);
    let mut harness = Harness::builder().build_eframe(|cc| TsurApp::new(&cc.egui_ctx, opts));
    run_until_ready(&mut harness);
    harness.get_by_label(&format!("Всего в реплике: {}", group_digits(1_500)));
    drop(harness);
    let leftovers: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tsur-seed") || n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

#[test]
fn keys_zoom_the_map_and_home_shows_the_whole_region() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replica.sqlite");
    let pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
    let params = DemoParams {
        appeals: 200,
        seed: 2,
        now_utc: DemoParams::now_for_date(&pack, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()),
    };
    write_demo_replica(&pack, &params, &path, false, &mut |_, _| true).unwrap();
    let opts = options(Replica::Existing(path), 0);
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(|cc| TsurApp::new(&cc.egui_ctx, opts));
    run_until_ready(&mut harness);
    let fitted = harness.state().map_zoom();
    harness.key_press(egui::Key::Plus);
    harness.run_steps(2);
    assert!(harness.state().map_zoom() > fitted);
    harness.key_press(egui::Key::Minus);
    harness.key_press(egui::Key::Minus);
    harness.run_steps(2);
    assert!(harness.state().map_zoom() < fitted);
    harness.key_press(egui::Key::Home);
    harness.run_steps(2);
    assert!((harness.state().map_zoom() - fitted).abs() < 1e-9);
}

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

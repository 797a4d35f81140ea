//! The curator's briefing: `tsur report --kind briefing` through the real binary (the PDF opens in
//! poppler, has a page per block, and its text holds the period's figures and top problems), and
//! the slides in the app (arrow keys and a clicker's Page Down / Page Up; Ctrl+P writes the PDF).

use chrono::{NaiveDate, TimeZone, Utc};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tsur::app::command::Mode;
use tsur::app::{AppOptions, TsurApp};
use tsur::loader::{Replica, Source};
use tsur::views::Period;
use tsur_core::clock::FixedClock;
use tsur_core::demo::{DemoParams, write_demo_replica};
use tsur_core::pack::RegionPack;
use tsur_core::store::Store;

fn tsur(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tsur"))
        .args(args)
        .env_remove("TSUR_PACK_DIR")
        .output()
        .expect("tsur runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a poppler tool; it must be installed (`.ci/run` installs poppler-utils).
fn poppler(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("{tool} is needed to read the PDF (Debian package poppler-utils): {e}")
    });
    assert!(out.status.success(), "{tool}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// The PDF's text with every run of white space made one space (lines wrap anywhere).
fn pdf_text(path: &Path) -> String {
    poppler("pdftotext", &["-layout", path.to_str().unwrap(), "-"])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn pdf_pages(path: &Path) -> usize {
    let info = poppler("pdfinfo", &[path.to_str().unwrap()]);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no page count in {info}"))
}

fn replica(dir: &Path, appeals: u64) -> std::path::PathBuf {
    let db = dir.join("replica.sqlite");
    let pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
    let params = DemoParams {
        appeals,
        seed: 3,
        now_utc: DemoParams::now_for_date(&pack, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()),
    };
    write_demo_replica(&pack, &params, &db, false, &mut |_, _| true).unwrap();
    db
}

#[test]
fn the_briefing_pdf_holds_the_periods_figures_top_problems_and_a_page_per_block() {
    let dir = tempfile::tempdir().unwrap();
    let db = replica(dir.path(), 6_000);
    let out_pdf = dir.path().join("отчёты").join("брифинг.pdf");
    let out = tsur(&[
        "report",
        "--db",
        db.to_str().unwrap(),
        "--kind",
        "briefing",
        "--out",
        out_pdf.to_str().unwrap(),
        "--now",
        "2026-11-25",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("отчёт записан"),
        "{}",
        text(&out.stderr)
    );
    let bytes = std::fs::read(&out_pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));

    let pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
    assert_eq!(pdf_pages(&out_pdf), 1 + pack.blocks.len());
    let pdf = pdf_text(&out_pdf);
    assert!(pdf.contains("Брифинг для куратора"), "{pdf}");
    assert!(pdf.contains("Челябинская область"), "{pdf}");

    // The week's appeals, counted in SQL, not by the code under test.
    let now = DemoParams::now_for_date(&pack, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
    let received: u64 = Store::open_existing(&db)
        .unwrap()
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM appeals WHERE received_utc >= ?1 AND received_utc <= ?2",
            [now.timestamp() - 7 * 86_400, now.timestamp()],
            |r| r.get(0),
        )
        .unwrap();
    assert!(received > 0);
    let received = tsur::app::group_digits(received);
    assert!(
        pdf.contains(&format!("Поступило обращений {received} ")),
        "no «Поступило обращений {received}» in {pdf}"
    );
    for figure in [
        "Просрочено",
        "Ответы в срок",
        "Удовлетворённость ответами",
        "Цели",
    ] {
        assert!(pdf.contains(figure), "no {figure} in {pdf}");
    }

    // The top problems of the period, as the analytics rank them.
    let data = tsur::views::briefing_data(
        db.clone(),
        pack.clone(),
        Arc::new(FixedClock(now)),
        Period::Week,
    )
    .unwrap();
    let top = tsur::briefing::top_problems(&data.report);
    assert!(!top.is_empty(), "the demo has open problems");
    for problem in top.iter().take(3) {
        let words: String = problem
            .title
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(pdf.contains(&words), "no problem «{words}» in {pdf}");
    }
    // The appendix: a section per block under its name.
    for block in &pack.blocks {
        assert!(
            pdf.contains(&format!("Блок «{}»", block.name)),
            "no section for {} in {pdf}",
            block.name
        );
    }
}

#[test]
fn report_errors_say_what_is_wrong_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("нет.sqlite");
    let out_pdf = dir.path().join("out.pdf");
    let out = tsur(&[
        "report",
        "--db",
        missing.to_str().unwrap(),
        "--out",
        out_pdf.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("не найден"),
        "{}",
        text(&out.stderr)
    );
    assert!(!out_pdf.exists());

    // Not a replica at all: refused, and an existing report is left as it was.
    let junk = dir.path().join("junk.sqlite");
    std::fs::write(&junk, b"not a database").unwrap();
    std::fs::write(&out_pdf, b"old report").unwrap();
    let out = tsur(&[
        "report",
        "--db",
        junk.to_str().unwrap(),
        "--out",
        out_pdf.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert_eq!(std::fs::read(&out_pdf).unwrap(), b"old report");

    let db = replica(dir.path(), 500);
    let out = tsur(&["report", "--db", db.to_str().unwrap(), "--out", "x.txt"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains(".pdf"), "{}", text(&out.stderr));
    let out = tsur(&[
        "report",
        "--db",
        db.to_str().unwrap(),
        "--out",
        "x.pdf",
        "--kind",
        "poster",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("briefing"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn slides_follow_the_arrows_and_a_clicker_and_ctrl_p_writes_the_pdf() {
    let dir = tempfile::tempdir().unwrap();
    let db = replica(dir.path(), 3_000);
    Store::open_existing(&db)
        .unwrap()
        .set_sync_value("cursor", "1")
        .unwrap();
    let exports = dir.path().join("exports");
    let options = AppOptions {
        source: Source {
            replica: Replica::Remote {
                server: "http://127.0.0.1:9".into(),
                token: "t".into(),
                db: db.clone(),
                ca_cert: None,
            },
            pack_dir: RegionPack::bundled_dir(),
            demo_appeals: 0,
        },
        clock: Arc::new(FixedClock(
            Utc.with_ymd_and_hms(2026, 11, 25, 7, 0, 0).unwrap(),
        )),
        settings: None,
        mode: Mode::Briefing,
        wall: Default::default(),
        export_dir: Some(exports.clone()),
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 900.0))
        .allow_missing_glyphs()
        .build_eframe(move |cc| TsurApp::new(&cc.egui_ctx, options));
    let started = Instant::now();
    while !(h.state().is_wall_settled()
        && h.state().wall_data().is_some_and(|d| !d.blocks.is_empty()))
    {
        assert!(started.elapsed() < Duration::from_secs(120), "no briefing");
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    h.run_steps(3);
    assert_eq!(h.state().slide(), 0);
    assert!(
        h.query_by_label("Сводка: период против предыдущего")
            .is_some()
    );
    for (key, slide, title) in [
        (egui::Key::ArrowRight, 1, "Что горит"),
        (egui::Key::PageDown, 2, "Кто опаздывает"),
        (egui::Key::ArrowRight, 3, "Что улучшилось"),
        (egui::Key::ArrowRight, 4, "Карта обращений"),
        // The last slide stays the last.
        (egui::Key::PageDown, 4, "Карта обращений"),
        (egui::Key::ArrowLeft, 3, "Что улучшилось"),
        (egui::Key::PageUp, 2, "Кто опаздывает"),
    ] {
        h.key_press(key);
        h.run_steps(2);
        assert_eq!(h.state().slide(), slide, "after {key:?}");
        assert!(h.query_by_label(title).is_some(), "{title} not shown");
    }

    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::P);
    h.run_steps(3);
    let files: Vec<_> = std::fs::read_dir(&exports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let pdf = &files[0];
    assert_eq!(pdf.extension().unwrap(), "pdf");
    let pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
    assert_eq!(pdf_pages(pdf), 1 + pack.blocks.len());
    assert!(pdf_text(pdf).contains("Брифинг для куратора"));
    // The notice names the file.
    assert!(h.query_by_label_contains("Сохранено: ").is_some());
}

//! Analytics benchmark (ENGINEERING §6): on a demo replica of N appeals (default 1,000,000),
//! the read model's load time and memory, a full recompute of every view (KPIs against
//! targets, by block and municipality, the ranking, the heat grid, the matrix, the problem list
//! and surges), and the update of the model after 1,000 changed appeals.
//!
//! ```sh
//! cargo bench -p tsur-core --bench analytics              # 1,000,000 appeals
//! cargo bench -p tsur-core --bench analytics -- 200000
//! ```
//!
//! The replica is generated once and kept under `target/bench-data/`. Prints figures (best of
//! five); asserts nothing about time.

use chrono::NaiveDate;
use std::path::Path;
use std::time::Instant;
use tsur_core::analytics::heat::{GridSpec, density};
use tsur_core::analytics::live::LiveViews;
use tsur_core::analytics::report::Report;
use tsur_core::analytics::{AppealFacts, Filter, ReadModel};
use tsur_core::demo::{DemoParams, write_demo_replica};
use tsur_core::domain::Status;
use tsur_core::pack::RegionPack;
use tsur_core::store::Store;

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        let out = f();
        best = best.min(started.elapsed().as_secs_f64());
        last = Some(out);
    }
    (best, last.expect("at least one run"))
}

fn rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
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
    let now = DemoParams::now_for_date(&pack, date);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("demo-{appeals}.sqlite"));
    if !path.exists() {
        println!("generating {} ...", path.display());
        let params = DemoParams {
            appeals,
            seed: 1,
            now_utc: now,
        };
        write_demo_replica(&pack, &params, &path, false, &mut |_, _| true)?;
    }
    let store = Store::open_existing(&path)?;
    let rss_before = rss_mb();
    let (load_secs, model) = best_of(1, || ReadModel::load(&store));
    let model = model?;
    let rss_after = rss_mb();
    println!(
        "read model:      {} appeals loaded from SQLite in {load_secs:.2} s; resident memory {:.0} → {:.0} MB",
        model.len(),
        rss_before.unwrap_or(0.0),
        rss_after.unwrap_or(0.0)
    );

    let now = now.timestamp();
    let all = Filter::default();
    let spec = GridSpec::covering(&pack.region.bbox, 0.05, 2);
    let (report_secs, report) = best_of(5, || Report::build(&model, &all, now, &pack));
    let (heat_secs, grid) = best_of(5, || density(&model, &all, spec));
    println!(
        "full recompute:  {:.1} ms = every view of the report {:.1} ms (KPIs and targets, 8 blocks, 43 municipalities, ranking of {} organisations, {} problems, {} surges, {} matrix cells) + heat grid {:.1} ms ({}×{} cells)",
        (report_secs + heat_secs) * 1e3,
        report_secs * 1e3,
        report.ranking.len(),
        report.problems.len(),
        report.surges.len(),
        report.matrix.cells.len(),
        heat_secs * 1e3,
        grid.rows,
        grid.cols
    );
    // Where the time goes, view by view.
    let window = i64::from(pack.region.at_risk_window_hours) * 3_600;
    let parts: Vec<(&str, f64)> = vec![
        (
            "KPIs",
            best_of(5, || {
                tsur_core::analytics::Kpis::compute(&model, &all, now, window)
            })
            .0,
        ),
        (
            "ranking",
            best_of(5, || tsur_core::analytics::rank(&model, &all, now, &pack)).0,
        ),
        (
            "problems",
            best_of(5, || {
                tsur_core::analytics::problems::problem_list(&model, &all, now, &pack)
            })
            .0,
        ),
        (
            "surges",
            best_of(5, || {
                tsur_core::analytics::surges::surges(&model, &all, now, &pack)
            })
            .0,
        ),
        (
            "matrix",
            best_of(5, || {
                tsur_core::analytics::matrix::topic_by_municipality(&model, &all, &pack)
            })
            .0,
        ),
    ];
    let parts: Vec<String> = parts
        .iter()
        .map(|(name, secs)| format!("{name} {:.1} ms", secs * 1e3))
        .collect();
    println!("by view:         {}", parts.join(", "));

    let month = Filter {
        from_utc: Some(now - 30 * 86_400),
        to_utc: Some(now),
        block: Some("zhkh".into()),
        ..Filter::default()
    };
    let (month_secs, _) = best_of(5, || Report::build(&model, &month, now, &pack));
    println!(
        "filtered report: {:.1} ms (ЖКХ, last 30 days, with the previous period)",
        month_secs * 1e3
    );

    // 1,000 appeals change (closed and rated): their rows are replaced in place.
    let changed: Vec<AppealFacts> = (1..=1_000)
        .filter_map(|id| store.load_appeal(id * 97).ok().flatten())
        .map(|mut a| {
            a.status = Status::Closed;
            a.rating = tsur_core::domain::Rating::new(5);
            AppealFacts::of(&a)
        })
        .collect();
    let mut updated = model.clone();
    let started = Instant::now();
    for facts in changed.iter().cloned() {
        updated.upsert(facts);
    }
    let update_secs = started.elapsed().as_secs_f64();
    println!(
        "model update:    {} changed appeals applied to the model in {:.3} ms",
        changed.len(),
        update_secs * 1e3
    );

    // The same changes through the live views of the dashboard's filter: counts out and in,
    // then the KPIs, the ranking and the heat grid read at `now`.
    let started = Instant::now();
    let live = LiveViews::new(&model, &all, spec);
    let build_secs = started.elapsed().as_secs_f64();
    let mut runs = Vec::new();
    for _ in 0..5 {
        let mut m = model.clone();
        let mut views = LiveViews::new(&model, &all, spec);
        let started = Instant::now();
        views.update(&mut m, changed.iter().cloned());
        let applied = started.elapsed().as_secs_f64();
        let kpis = views.kpis(&m, now, window);
        let ranking = views.ranking(&m, now, &pack);
        let heat = views.heat();
        let total = started.elapsed().as_secs_f64();
        std::hint::black_box((kpis, ranking, heat));
        runs.push((applied, total));
    }
    let best = runs
        .iter()
        .copied()
        .fold((f64::MAX, f64::MAX), |a, b| (a.0.min(b.0), a.1.min(b.1)));
    println!(
        "live views:      built in {:.0} ms; {} changed appeals applied in {:.3} ms, and with the KPIs, ranking and heat grid read: {:.3} ms (best of 5; {} open appeals read at query time)",
        build_secs * 1e3,
        changed.len(),
        best.0 * 1e3,
        best.1 * 1e3,
        live.pending_len()
    );
    if let Some(mb) = rss_mb() {
        println!("resident memory: {mb:.0} MB (with the live views)");
    }
    Ok(())
}

//! The heat grid, the topic × municipality matrix, the problem list and surges on hand-built
//! data worked out by hand, and their invariants on the demo region.

use chrono::NaiveDate;
use tsur_core::analytics::heat::{GridSpec, density};
use tsur_core::analytics::matrix::{BaselineKind, topic_by_municipality};
use tsur_core::analytics::problems::{accelerated_share, problem_list};
use tsur_core::analytics::surges::{surges, surges_with};
use tsur_core::analytics::{AppealFacts, Filter, NO_TIME, ProblemInfo, ReadModel};
use tsur_core::demo::{DemoParams, write_demo_replica};
use tsur_core::domain::{Channel, Regime, Status};
use tsur_core::pack::{RegionPack, SurgeRules};
use tsur_core::store::Store;

const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;

fn pack() -> RegionPack {
    RegionPack::load(RegionPack::bundled_dir()).unwrap()
}

fn appeal(id: i64, received: i64, topic: &str, municipality: &str) -> AppealFacts {
    AppealFacts {
        id,
        received,
        registered: received,
        due: NO_TIME,
        answered: NO_TIME,
        first_reaction: NO_TIME,
        status: Status::New,
        regime: Regime::Pos,
        channel: Channel::Pos,
        block: Some("zhkh".into()),
        topic: Some(topic.into()),
        municipality: Some(municipality.into()),
        organisation: None,
        rating: 0,
        is_repeat: false,
        answers: 0,
        merits_answers: 0,
        lat: f32::NAN,
        lon: f32::NAN,
        problem: 0,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-5
}

#[test]
fn the_heat_kernel_by_hand() {
    let spec = GridSpec {
        south: 50.0,
        west: 60.0,
        north: 51.0,
        east: 62.0,
        cell_deg: 0.1,
        radius_cells: 2,
    };
    let empty = density(&ReadModel::new(), &Filter::default(), spec);
    assert_eq!(empty.rows, 10);
    let cell_lon = 0.1 / 50.5f64.to_radians().cos();
    assert!(close(empty.cell_lon_deg, cell_lon));
    assert_eq!(empty.cols, (2.0 / cell_lon).ceil() as usize);

    // Two appeals at the centre of cell (5, 6), one without a point, one far away, one of
    // another topic.
    let (lat, lon) = (50.0 + 5.5 * 0.1, 60.0 + 6.5 * cell_lon);
    let mut model = ReadModel::new();
    for id in [1, 2] {
        let mut a = appeal(id, 0, "heating", "M1");
        (a.lat, a.lon) = (lat as f32, lon as f32);
        model.upsert(a);
    }
    model.upsert(appeal(3, 0, "heating", "M1"));
    let mut far = appeal(4, 0, "heating", "M1");
    (far.lat, far.lon) = (55.0, 61.0);
    model.upsert(far);
    let mut other = appeal(5, 0, "roads", "M1");
    (other.lat, other.lon) = (lat as f32, lon as f32);
    model.upsert(other);

    let heating = Filter {
        topic: Some("heating".into()),
        ..Filter::default()
    };
    let grid = density(&model, &heating, spec);
    assert_eq!((grid.points, grid.without_point), (2, 1));
    let at = |r: usize, c: usize| grid.values[r * grid.cols + c];
    // Quartic kernel (1 − q)², q = (d / 2 cells)²; the points sit on the cell centre (the f32
    // coordinates of the model move them a hair, hence the tolerance).
    let near = |a: f32, b: f64| (f64::from(a) - b).abs() < 1e-3;
    assert!(near(at(5, 6), 2.0), "{}", at(5, 6));
    assert!(near(at(5, 7), 2.0 * 0.5625), "{}", at(5, 7));
    assert!(near(at(6, 7), 2.0 * 0.25), "{}", at(6, 7));
    assert!(
        f64::from(at(5, 8)) < 1e-4,
        "two cells away is the kernel's edge"
    );
    assert_eq!(at(0, 0), 0.0);
    assert!(near(grid.max, 2.0));
    assert!(near(grid.value_at(lat, lon), 2.0));
    let (clat, clon) = grid.cell_centre(5, 6);
    assert!(close(clat, lat) && close(clon, lon));
    // The other topic is there only without the filter.
    let all = density(&model, &Filter::default(), spec);
    assert!(near(all.max, 3.0));
}

#[test]
fn the_matrix_compares_with_a_trailing_baseline_and_with_the_year_before() {
    let pack = pack();
    let m1 = pack.municipalities[0].code.as_str().to_string();
    let population = f64::from(pack.municipalities[0].population);
    let mut model = ReadModel::new();
    let mut id = 0;
    let mut add = |model: &mut ReadModel, at: i64, n: usize, topic: &str| {
        for _ in 0..n {
            id += 1;
            model.upsert(appeal(id, at, topic, &m1));
        }
    };
    // The period is week 10; weeks 6–9 had 2 heating appeals each; week 10 has 6.
    for week in 6..10 {
        add(&mut model, week * WEEK + DAY, 2, "heating");
    }
    add(&mut model, 10 * WEEK + DAY, 6, "heating");
    add(&mut model, 10 * WEEK + 2 * DAY, 3, "water");
    let period = Filter {
        from_utc: Some(10 * WEEK),
        to_utc: Some(11 * WEEK),
        ..Filter::default()
    };
    let matrix = topic_by_municipality(&model, &period, &pack);
    assert_eq!(matrix.baseline_kind, Some(BaselineKind::Trailing));
    let cell = |topic: &str| {
        matrix
            .cells
            .iter()
            .find(|c| c.topic == topic && c.municipality == m1)
            .unwrap()
            .clone()
    };
    let heating = cell("heating");
    assert_eq!(heating.count, 6);
    assert!(close(heating.per_10k.unwrap(), 6.0 * 10_000.0 / population));
    assert!(close(heating.baseline.unwrap(), 2.0));
    assert!(close(heating.growth.unwrap(), 2.0), "6 against 2: +200 %");
    let water = cell("water");
    assert_eq!((water.baseline, water.growth), (Some(0.0), None));

    // A year of history: the same week a year earlier is the baseline.
    let year = 365 * DAY;
    add(&mut model, 10 * WEEK - year, 4, "heating");
    let matrix = topic_by_municipality(&model, &period, &pack);
    assert_eq!(matrix.baseline_kind, Some(BaselineKind::YearBefore));
    let heating = matrix.cells.iter().find(|c| c.topic == "heating").unwrap();
    assert!(close(heating.baseline.unwrap(), 4.0));
    assert!(close(heating.growth.unwrap(), 0.5));

    // No period: counts over everything, no baseline.
    let all = topic_by_municipality(&model, &Filter::default(), &pack);
    assert_eq!(all.baseline_kind, None);
    let heating = all.cells.iter().find(|c| c.topic == "heating").unwrap();
    assert_eq!((heating.count, heating.growth), (18, None));
}

#[test]
fn the_problem_list_puts_what_burns_now_first_and_counts_accelerated_resolution() {
    let pack = pack();
    let now = 100 * WEEK;
    let mut model = ReadModel::new();
    // Problem 1: three appeals, two in the last week (one overdue), one the week before.
    for (id, received, overdue) in [
        (1, now - DAY, true),
        (2, now - 2 * DAY, false),
        (3, now - 8 * DAY, false),
    ] {
        let mut a = appeal(id, received, "heating", "M1");
        a.problem = 1;
        a.organisation = Some(if id == 3 { "uk-2" } else { "uk-1" }.into());
        if overdue {
            (a.due, a.status) = (now - 1, Status::InProgress);
        }
        model.upsert(a);
    }
    // Problem 2: five old appeals, none overdue, all closed, the last answered 2 days after
    // the first came (within the pack's 3 accelerated days): resolved through accelerated
    // resolution. The replica knows its title.
    for id in 10..15 {
        let mut a = appeal(id, now - 30 * DAY, "water", "M2");
        (a.problem, a.status, a.is_repeat) = (2, Status::Closed, id == 14);
        a.answered = now - 30 * DAY + (id - 10) * DAY / 2;
        model.upsert(a);
    }
    model.upsert_problem(ProblemInfo {
        id: 2,
        title: "Нет воды на ул. Ленина".into(),
        municipality: Some("M2".into()),
        opened: now - 30 * DAY,
        merged_into: None,
    });
    // Problem 3: resolved, but the last answer came 4 days after the first appeal.
    for id in 30..32 {
        let mut a = appeal(id, now - 60 * DAY, "water", "M2");
        (a.problem, a.status) = (3, Status::Closed);
        a.answered = now - 60 * DAY + (id - 29) * 2 * DAY;
        model.upsert(a);
    }
    model.upsert(appeal(20, now, "heating", "M1")); // in no problem

    let list = problem_list(&model, &Filter::default(), now, &pack);
    assert_eq!(
        list.iter().map(|p| p.id).collect::<Vec<_>>(),
        [1, 2, 3],
        "the overdue one first, then by size"
    );
    let first = &list[0];
    assert_eq!(first.title, "Проблема №1");
    assert_eq!((first.appeals, first.open, first.overdue), (3, 3, 1));
    assert_eq!((first.last_week, first.week_before), (2, 1));
    assert!(close(first.growth.unwrap(), 1.0));
    assert_eq!(first.organisations, ["uk-1", "uk-2"], "most appeals first");
    assert_eq!(
        first.municipality.as_deref(),
        Some("M1"),
        "from its appeals"
    );
    let second = &list[1];
    assert_eq!(second.title, "Нет воды на ул. Ленина");
    assert_eq!(
        (
            second.citizens_at_least,
            second.resolved,
            second.accelerated
        ),
        (4, true, true)
    );
    assert_eq!(second.growth, None);
    assert_eq!((list[2].resolved, list[2].accelerated), (true, false));
    assert!(!first.resolved, "open appeals");
    assert_eq!(accelerated_share(&list), (Some(0.5), 2));
}

#[test]
fn a_surge_needs_the_minimum_the_factor_and_the_spread() {
    let pack = pack();
    let rules = SurgeRules {
        window_days: 7,
        baseline_windows: 4,
        min_count: 5,
        factor: 3.0,
        z: 3.0,
    };
    let now = 50 * WEEK;
    let mut model = ReadModel::new();
    let mut id = 0;
    let mut put = |model: &mut ReadModel, place: &str, baseline: [usize; 4], current: usize| {
        for (w, n) in baseline.iter().enumerate() {
            let start = now - (5 - w as i64) * WEEK; // windows 1..=4 before the current one
            for k in 0..*n {
                id += 1;
                model.upsert(appeal(id, start + k as i64 * 3_600, "heating", place));
            }
        }
        for k in 0..current {
            id += 1;
            model.upsert(appeal(
                id,
                now - WEEK + 1 + k as i64 * 3_600,
                "heating",
                place,
            ));
        }
    };
    put(&mut model, "M1", [1, 1, 1, 1], 6); // mean 1, sd 0: 6 ≥ 5, ≥ 3, ≥ 1 → ratio 6
    put(&mut model, "M2", [2, 4, 2, 4], 9); // mean 3, sd 1.15: 9 ≥ 9 and ≥ 6.46 → ratio 3
    put(&mut model, "M3", [0, 0, 0, 0], 4); // below the minimum of 5
    put(&mut model, "M4", [5, 5, 5, 5], 12); // 12 < 3 × 5
    put(&mut model, "M5", [1, 9, 1, 9], 16); // mean 5, sd 4.62: 16 ≥ 15 but < 18.9

    let found = surges_with(&model, &Filter::default(), now, &rules, &pack);
    let places: Vec<&str> = found.iter().map(|s| s.municipality.as_str()).collect();
    assert_eq!(places, ["M1", "M2"]);
    let m1 = &found[0];
    assert_eq!(
        (m1.count, m1.baseline_counts.clone()),
        (6, vec![1, 1, 1, 1])
    );
    assert!(close(m1.baseline_mean, 1.0) && close(m1.baseline_sd, 0.0) && close(m1.ratio, 6.0));
    assert_eq!(m1.appeals.len(), 6);
    assert!(m1.appeals.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert_eq!((m1.window_from_utc, m1.window_to_utc), (now - WEEK, now));
    let m2 = &found[1];
    assert!(close(m2.baseline_mean, 3.0) && close(m2.ratio, 3.0));
    assert!(close(m2.baseline_sd, (4.0f64 / 3.0).sqrt()));
    assert_eq!(m2.topic_name, "heating", "not a pack topic: its code");
}

#[test]
fn on_the_demo_region_the_views_hold_together_and_find_the_planted_hot_spots() {
    let pack = pack();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.sqlite");
    let now = DemoParams::now_for_date(&pack, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
    let params = DemoParams {
        appeals: 40_000,
        seed: 12,
        now_utc: now,
    };
    write_demo_replica(&pack, &params, &path, false, &mut |_, _| true).unwrap();
    let model = ReadModel::load(&Store::open_existing(&path).unwrap()).unwrap();
    let now = now.timestamp();

    let spec = GridSpec::covering(&pack.region.bbox, 0.05, 2);
    let grid = density(&model, &Filter::default(), spec);
    let with_point = model.lat.iter().filter(|v| v.is_finite()).count() as u64;
    assert_eq!(grid.points + grid.without_point, model.len() as u64);
    assert_eq!(grid.points, with_point);
    assert!(grid.max > 0.0);
    assert!(grid.values.iter().all(|v| v.is_finite() && *v >= 0.0));
    // Chelyabinsk (the largest city) is the hottest part of the region.
    let chelyabinsk = pack
        .municipalities
        .iter()
        .max_by_key(|m| m.population)
        .unwrap();
    let at_city = grid.value_at(chelyabinsk.point.lat, chelyabinsk.point.lon);
    assert!(at_city > grid.max * 0.2, "{at_city} of {}", grid.max);

    let matrix = topic_by_municipality(&model, &Filter::default(), &pack);
    let classified = (0..model.len())
        .filter(|&i| model.topic[i] != u16::MAX && model.municipality[i] != u16::MAX)
        .count() as u64;
    assert_eq!(
        matrix.cells.iter().map(|c| c.count).sum::<u64>(),
        classified
    );

    let problems = problem_list(&model, &Filter::default(), now, &pack);
    assert!(
        !problems.is_empty(),
        "the generator's hot spots form problems"
    );
    assert!(
        problems
            .windows(2)
            .all(|w| w[0].overdue + w[0].last_week >= w[1].overdue + w[1].last_week)
    );
    let biggest = problems.iter().map(|p| p.appeals).max().unwrap();
    assert!(
        biggest >= 10,
        "a hot spot gives dozens of appeals: {biggest}"
    );
    assert!(
        problems.iter().all(|p| !p.title.starts_with("Проблема №")),
        "titles come from the replica"
    );

    let found = surges(&model, &Filter::default(), now, &pack);
    assert!(
        !found.is_empty(),
        "the generator's recent hot spots are surges"
    );
    for surge in found {
        assert!(surge.count >= u64::from(pack.surges.min_count));
        assert!(surge.count as f64 >= pack.surges.factor * surge.baseline_mean);
        assert!(!surge.appeals.is_empty());
    }
}

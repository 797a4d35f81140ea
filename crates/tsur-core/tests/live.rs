//! The views kept up to date change by change (`LiveViews`) against a full recompute, after
//! batches of random changes to a demo region, at several instants.

use chrono::NaiveDate;
use tsur_core::analytics::heat::{GridSpec, density};
use tsur_core::analytics::live::LiveViews;
use tsur_core::analytics::ranking::rank_with;
use tsur_core::analytics::{AppealFacts, Filter, Kpis, NO_TIME, ReadModel};
use tsur_core::demo::{DemoParams, write_demo_replica};
use tsur_core::domain::{Regime, Status};
use tsur_core::pack::RegionPack;
use tsur_core::store::Store;

const DAY: i64 = 86_400;

/// xorshift64*: a fixed sequence, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The facts of row `i`, as the sync would bring them again.
fn facts_of(m: &ReadModel, i: usize) -> AppealFacts {
    let name = |codes: &tsur_core::analytics::Codes, c: u16| codes.name(c).map(str::to_string);
    AppealFacts {
        id: m.id[i],
        received: m.received[i],
        registered: m.registered[i],
        due: m.due[i],
        answered: m.answered[i],
        first_reaction: m.first_reaction[i],
        status: m.status[i],
        regime: m.regime[i],
        channel: m.channel[i],
        block: name(&m.blocks, m.block[i]),
        topic: name(&m.topics, m.topic[i]),
        municipality: name(&m.municipalities, m.municipality[i]),
        organisation: name(&m.organisations, m.organisation[i]),
        rating: m.rating[i],
        is_repeat: m.is_repeat[i],
        answers: m.answers[i],
        merits_answers: m.merits_answers[i],
        lat: m.lat[i],
        lon: m.lon[i],
        problem: m.problem[i],
    }
}

/// A random change of the kind a sync brings: a new status, an answer given or taken back, a
/// deadline moved, a rating, another organisation or place, a new appeal now and then.
fn change(m: &ReadModel, rng: &mut Rng, now: i64, next_id: &mut i64) -> AppealFacts {
    let i = rng.below(m.len() as u64) as usize;
    let mut f = facts_of(m, i);
    if rng.chance(10) {
        f.id = *next_id; // a new appeal like an existing one
        *next_id += 1;
    }
    if rng.chance(50) {
        f.status = Status::ALL[rng.below(Status::ALL.len() as u64) as usize];
    }
    if rng.chance(40) {
        f.answered = if rng.chance(70) {
            f.registered + rng.below(40 * DAY as u64) as i64
        } else {
            NO_TIME
        };
    }
    if rng.chance(30) {
        f.due = if rng.chance(90) {
            now - 20 * DAY + rng.below(40 * DAY as u64) as i64
        } else {
            NO_TIME
        };
    }
    if rng.chance(30) {
        f.rating = rng.below(6) as u8;
    }
    if rng.chance(20) {
        let j = rng.below(m.len() as u64) as usize;
        f.organisation = m.organisations.name(m.organisation[j]).map(str::to_string);
        f.topic = m.topics.name(m.topic[j]).map(str::to_string);
        f.block = m.blocks.name(m.block[j]).map(str::to_string);
    }
    if rng.chance(20) {
        let j = rng.below(m.len() as u64) as usize;
        (f.lat, f.lon) = (m.lat[j], m.lon[j]);
    }
    if rng.chance(10) {
        f.received = now - rng.below(200 * DAY as u64) as i64;
    }
    if rng.chance(10) {
        f.is_repeat = !f.is_repeat;
    }
    if rng.chance(10) {
        f.regime = Regime::ALL[rng.below(Regime::ALL.len() as u64) as usize];
        f.first_reaction = f.received + rng.below(DAY as u64) as i64;
    }
    f
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => false,
    }
}

fn assert_kpis_equal(live: &Kpis, full: &Kpis, what: &str) {
    let counts = |k: &Kpis| {
        [
            k.total,
            k.open,
            k.overdue,
            k.at_risk_24h,
            k.on_time,
            k.on_time_counted,
            k.answered,
            k.rated,
            k.repeats,
            k.answers,
            k.social_reacted,
        ]
    };
    assert_eq!(counts(live), counts(full), "{what}");
    for (a, b, name) in [
        (live.on_time_share, full.on_time_share, "on_time_share"),
        (live.avg_answer_hours, full.avg_answer_hours, "avg"),
        (live.median_answer_hours, full.median_answer_hours, "median"),
        (live.p90_answer_hours, full.p90_answer_hours, "p90"),
        (
            live.satisfaction_share,
            full.satisfaction_share,
            "satisfaction",
        ),
        (live.repeat_share, full.repeat_share, "repeat"),
        (live.merits_share, full.merits_share, "merits"),
        (
            live.social_first_reaction_hours,
            full.social_first_reaction_hours,
            "social",
        ),
    ] {
        assert!(close(a, b), "{what}: {name} {a:?} ≠ {b:?}");
    }
}

#[test]
fn live_views_equal_a_full_recompute_after_random_changes() {
    let pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.sqlite");
    let now_dt = DemoParams::now_for_date(&pack, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
    let params = DemoParams {
        appeals: 6_000,
        seed: 5,
        now_utc: now_dt,
    };
    write_demo_replica(&pack, &params, &path, false, &mut |_, _| true).unwrap();
    let mut model = ReadModel::load(&Store::open_existing(&path).unwrap()).unwrap();
    let now = now_dt.timestamp();
    let window = i64::from(pack.region.at_risk_window_hours) * 3_600;
    let spec = GridSpec::covering(&pack.region.bbox, 0.05, 3);
    let rules = tsur_core::pack::RankingRules {
        min_sample: 5,
        ..pack.ranking.clone()
    };
    let filters = [
        Filter::default(),
        Filter {
            from_utc: Some(now - 60 * DAY),
            to_utc: Some(now),
            block: Some("zhkh".into()),
            ..Filter::default()
        },
        Filter {
            regime: Some(Regime::Social),
            ..Filter::default()
        },
        // A code nobody has yet: nothing matches until a change brings it.
        Filter {
            organisation: Some("org-not-yet".into()),
            ..Filter::default()
        },
    ];
    let mut views: Vec<LiveViews> = filters
        .iter()
        .map(|f| LiveViews::new(&model, f, spec))
        .collect();
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut next_id = 1_000_000;
    for batch in 0..6 {
        let changes: Vec<AppealFacts> = (0..300)
            .map(|_| change(&model, &mut rng, now, &mut next_id))
            .collect();
        let mut changes = changes;
        if batch == 3 {
            changes[0].organisation = Some("org-not-yet".into());
        }
        // Every view is fed the same changes, each on its own copy of the model.
        let before = model.clone();
        for v in &mut views {
            let mut m = before.clone();
            v.update(&mut m, changes.iter().cloned());
            model = m;
        }
        for (f, v) in filters.iter().zip(&views) {
            for at in [now - 5 * DAY, now, now + 3 * DAY] {
                let what = format!("batch {batch}, {f:?}, at {at}");
                let full = Kpis::compute(&model, f, at, window);
                assert_kpis_equal(&v.kpis(&model, at, window), &full, &what);
                let live_rank = v.ranking_with(&model, at, &rules, &pack);
                let full_rank = rank_with(&model, f, at, &rules, &pack);
                assert_eq!(live_rank.len(), full_rank.len(), "{what}");
                for (a, b) in live_rank.iter().zip(&full_rank) {
                    assert_eq!(
                        (&a.organisation, a.rank, a.appeals),
                        (&b.organisation, b.rank, b.appeals),
                        "{what}"
                    );
                    assert!(close(a.score, b.score), "{what}: {a:?} vs {b:?}");
                    assert!(close(a.trend, b.trend), "{what}: trend");
                }
            }
            let live_heat = v.heat();
            let full_heat = density(&model, f, spec);
            assert_eq!(
                (live_heat.points, live_heat.without_point),
                (full_heat.points, full_heat.without_point)
            );
            for (a, b) in live_heat.values.iter().zip(&full_heat.values) {
                assert!((a - b).abs() <= 1e-3 * b.abs().max(1.0), "{a} vs {b}");
            }
        }
    }
    assert!(
        views[3].kpis(&model, now, window).total >= 1,
        "the organisation the filter names arrived with a change"
    );
    assert!(
        views[0].pending_len() > 0,
        "some open appeals are read at query time"
    );
}

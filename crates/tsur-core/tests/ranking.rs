//! The ranking of organisations on hand-built data worked out by hand, and on the demo region.

use chrono::NaiveDate;
use tsur_core::analytics::ranking::rank_with;
use tsur_core::analytics::{AppealFacts, Filter, NO_TIME, ReadModel, rank};
use tsur_core::demo::{DemoParams, write_demo_replica};
use tsur_core::domain::{Channel, Regime, Status};
use tsur_core::pack::{RankingRules, RegionPack};
use tsur_core::store::Store;

const H: i64 = 3_600;
const NOW: i64 = 10_000 * H;

fn pack() -> RegionPack {
    RegionPack::load(RegionPack::bundled_dir()).unwrap()
}

fn rules(min_sample: u32) -> RankingRules {
    RankingRules {
        min_sample,
        ..RankingRules::default()
    }
}

/// An answered appeal of `org` on `topic`, on time or late, with one answer (on the merits or not).
fn answered(id: i64, org: &str, topic: &str, on_time: bool, merits: bool) -> AppealFacts {
    AppealFacts {
        id,
        received: 0,
        registered: 0,
        due: 100 * H,
        answered: if on_time { 50 * H } else { 150 * H },
        first_reaction: NO_TIME,
        status: Status::Answered,
        regime: Regime::Pos,
        channel: Channel::Pos,
        block: Some("zhkh".into()),
        topic: Some(topic.into()),
        municipality: None,
        organisation: Some(org.into()),
        rating: 0,
        is_repeat: false,
        answers: 1,
        merits_answers: u8::from(merits),
        lat: f32::NAN,
        lon: f32::NAN,
        problem: 0,
    }
}

/// X answers a hard topic (A: half on time across the region), Y an easy one (B: all on time);
/// Z has one appeal, below the minimum sample of 2.
fn dataset() -> ReadModel {
    let mut m = ReadModel::new();
    for (id, on_time) in [(1, true), (2, true), (3, false), (4, false)] {
        m.upsert(answered(id, "X", "A", on_time, true));
    }
    for (id, merits) in [(5, true), (6, true), (7, false), (8, false)] {
        m.upsert(answered(id, "Y", "B", true, merits));
    }
    m.upsert(answered(9, "Z", "B", true, true));
    m
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn the_topic_mix_is_taken_into_account_and_each_score_is_explained() {
    let list = rank_with(&dataset(), &Filter::default(), NOW, &rules(2), &pack());
    let order: Vec<&str> = list.iter().map(|r| r.organisation.as_str()).collect();
    assert_eq!(order, ["X", "Y", "Z"]);
    let (x, y, z) = (&list[0], &list[1], &list[2]);

    // Region: 7 of 9 on time. Topic A: 2 of 4; topic B: 5 of 5.
    // X: observed 2/4 = expected on A (1/2): adjusted = 1/2 − 1/2 + 7/9 = 7/9.
    // Y: observed 4/4 = expected on B (1): adjusted = 7/9 as well — equally good for its topics.
    let timeliness = |r: &tsur_core::analytics::Ranked| r.components[0].clone();
    assert!(close(timeliness(x).value, 7.0 / 9.0));
    assert!(close(timeliness(x).expected, 0.5));
    assert!(close(timeliness(x).regional, 7.0 / 9.0));
    assert!(close(timeliness(y).value, 7.0 / 9.0));
    assert!(close(timeliness(y).expected, 1.0));

    // No ratings: satisfaction does not count and the weights 0.4 + 0.2 + 0.15 = 0.75 share 100.
    // X: (0.4 · 7/9 + 0.2 · 1 + 0.15 · 1) / 0.75 · 100; Y: merits 2/4.
    assert_eq!(x.components[2].value, None);
    assert_eq!(x.components[2].points, None);
    assert!(close(
        x.score,
        (0.4 * 7.0 / 9.0 + 0.2 + 0.15) / 0.75 * 100.0
    ));
    assert!(close(
        y.score,
        (0.4 * 7.0 / 9.0 + 0.2 * 0.5 + 0.15) / 0.75 * 100.0
    ));
    let points: f64 = x.components.iter().filter_map(|c| c.points).sum();
    assert!(
        close(Some(points), x.score.unwrap()),
        "the points add up to the score"
    );
    assert_eq!((x.rank, y.rank), (Some(1), Some(2)));

    assert_eq!((z.rank, z.score), (None, None), "below the minimum sample");
    assert!(
        z.explanation
            .contains("Не ранжируется: 1 обращений при минимуме 2"),
        "{}",
        z.explanation
    );
    assert!(
        x.explanation.contains(
            "Своевременность 77,8 % (ожидалось 50,0 % при этом наборе тем, по региону 77,8 %)"
        ),
        "{}",
        x.explanation
    );
    assert!(
        x.explanation.contains("Удовлетворённость: нет данных"),
        "{}",
        x.explanation
    );
    assert!(
        x.explanation.contains("Итого 88,1 из 100"),
        "{}",
        x.explanation
    );

    assert!(close(Some(x.share_of_volume), 4.0 / 9.0));
    assert_eq!(
        x.per_10k_residents, None,
        "not a municipal organisation of the pack"
    );
}

#[test]
fn a_trend_compares_with_the_period_before() {
    let mut m = dataset();
    // The period before [0, 1): Y was late on both of two appeals received at −1.
    for id in [20, 21] {
        let mut a = answered(id, "Y", "B", false, true);
        a.received = -1;
        m.upsert(a);
    }
    let filter = Filter {
        from_utc: Some(0),
        to_utc: Some(1),
        ..Filter::default()
    };
    let list = rank_with(&m, &filter, NOW, &rules(2), &pack());
    let y = list.iter().find(|r| r.organisation == "Y").unwrap();
    assert_eq!(y.appeals, 4, "only this period's appeals");
    // Before: Y alone, 0 of 2 on time (regional 0, expected 0 → adjusted 0), merits 1, no repeats.
    let before = (0.4 * 0.0 + 0.2 * 1.0 + 0.15 * 1.0) / 0.75 * 100.0;
    assert!(close(y.previous_score, before), "{:?}", y.previous_score);
    assert!(close(y.trend, y.score.unwrap() - before));
    let x = list.iter().find(|r| r.organisation == "X").unwrap();
    assert_eq!(
        (x.previous_score, x.trend),
        (None, None),
        "X had no appeals before"
    );
}

#[test]
fn on_the_demo_region_municipal_bodies_are_normalised_and_late_ones_rank_low() {
    let pack = pack();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.sqlite");
    let now = DemoParams::now_for_date(&pack, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
    let params = DemoParams {
        appeals: 30_000,
        seed: 4,
        now_utc: now,
    };
    write_demo_replica(&pack, &params, &path, false, &mut |_, _| true).unwrap();
    let model = ReadModel::load(&Store::open_existing(&path).unwrap()).unwrap();
    let list = rank(&model, &Filter::default(), now.timestamp(), &pack);
    assert!(list.len() > 20, "{}", list.len());
    let ranked: Vec<_> = list.iter().filter(|r| r.rank.is_some()).collect();
    assert!(ranked.len() > 10);
    for (place, r) in ranked.iter().enumerate() {
        assert_eq!(r.rank, Some(place as u32 + 1));
        let score = r.score.unwrap();
        assert!((0.0..=100.0).contains(&score), "{score}");
        assert!(r.appeals >= u64::from(pack.ranking.min_sample));
    }
    assert!(ranked.windows(2).all(|w| w[0].score >= w[1].score));
    let volume: f64 = list.iter().map(|r| r.share_of_volume).sum();
    assert!(volume <= 1.0 + 1e-9);
    assert!(
        list.iter()
            .any(|r| r.per_10k_residents.is_some_and(|v| v > 0.0)),
        "municipal organisations get a per-capita rate"
    );
    // The generator makes a few organisations chronically late: their timeliness (before any
    // adjustment) is far below the region's, and they sit in the lower half of the ranking.
    let worst_timeliness = ranked
        .iter()
        .min_by(|a, b| {
            a.components[0]
                .value
                .unwrap_or(1.0)
                .total_cmp(&b.components[0].value.unwrap_or(1.0))
        })
        .unwrap();
    let place = worst_timeliness.rank.unwrap() as usize;
    assert!(
        place > ranked.len() / 2,
        "{} ranks {place} of {}: {}",
        worst_timeliness.name,
        ranked.len(),
        worst_timeliness.explanation
    );
}

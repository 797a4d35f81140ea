//! Problem clustering on hand-built appeals: what joins, what does not, and the operators'
//! confirm, split and merge.

mod common;

use common::{appeal, day};
use tsur_core::domain::{Appeal, GeoPoint, MunicipalityCode, ProblemId, TopicCode};
use tsur_core::pack::{ProblemRules, RegionPack};
use tsur_core::problems::{Clusterer, ProblemChanges, Sighting, building_address};

const LENINA_5: GeoPoint = GeoPoint {
    lat: 55.1600,
    lon: 61.4030,
};

fn pack() -> RegionPack {
    let mut pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
    pack.problems = ProblemRules {
        radius_m: 500.0,
        window_days: 10,
        min_similarity: 0.3,
        min_appeals: 3,
        accelerated_days: 3,
    };
    pack
}

/// A heating complaint from Lenina 5, `metres_north` of it, on `day_n`.
fn heating(id: i64, day_n: u32, metres_north: f64) -> Appeal {
    let mut a = appeal(id, day(day_n));
    a.topic = Some(TopicCode::new("zhkh.heating"));
    a.text = "Нет отопления, батареи холодные, в квартире холодно".into();
    a.address = Some("ул. Ленина, д. 5".into());
    a.municipality = Some(MunicipalityCode::new("75701000"));
    a.point = Some(GeoPoint {
        lat: LENINA_5.lat + metres_north / 111_132.0,
        lon: LENINA_5.lon,
    });
    a
}

/// Problem ids handed out from 100 up.
struct Ids(ProblemId);

impl Ids {
    fn next(&mut self) -> ProblemId {
        self.0 += 1;
        self.0
    }
}

fn place(c: &mut Clusterer, ids: &mut Ids, a: &Appeal) -> ProblemChanges {
    c.place(&Sighting::from(a), &mut || ids.next())
}

#[test]
fn the_third_close_similar_appeal_makes_a_problem_and_the_fourth_joins_it() {
    let mut c = Clusterer::new(&pack());
    let mut ids = Ids(99);
    assert!(place(&mut c, &mut ids, &heating(1, 1, 0.0)).is_empty());
    assert!(
        place(&mut c, &mut ids, &heating(2, 1, 100.0)).is_empty(),
        "two appeals are a candidate, not yet a problem"
    );
    let made = place(&mut c, &mut ids, &heating(3, 2, -100.0));
    assert_eq!(made.relinked, vec![(1, 100), (2, 100), (3, 100)]);
    assert_eq!(made.problems.len(), 1);
    let p = &made.problems[0];
    assert_eq!(p.id, 100);
    assert_eq!(p.version, 1);
    assert_eq!(p.title, "Отопление: ул. Ленина, д. 5");
    assert_eq!(p.topic.as_ref().unwrap().as_str(), "zhkh.heating");
    assert_eq!(p.municipality.as_ref().unwrap().as_str(), "75701000");
    assert_eq!(p.opened_utc, day(1));
    assert!(!p.confirmed);
    // The centre is the mean of the three points: Lenina 5 itself.
    let centre = p.point.unwrap();
    assert!((centre.lat - LENINA_5.lat).abs() < 1e-9, "{centre:?}");

    let joined = place(&mut c, &mut ids, &heating(4, 5, 200.0));
    assert_eq!(joined.relinked, vec![(4, 100)]);
    assert!(
        joined.problems.is_empty(),
        "joining does not rewrite the record"
    );
    assert_eq!(c.members(100), vec![1, 2, 3, 4]);
    assert!(
        place(&mut c, &mut ids, &heating(4, 5, 200.0)).is_empty(),
        "an appeal already placed is not placed again"
    );
}

#[test]
fn far_away_late_other_topic_or_other_text_do_not_join() {
    let mut c = Clusterer::new(&pack());
    let mut ids = Ids(99);
    for (id, d) in [(1, 1), (2, 1), (3, 2)] {
        place(&mut c, &mut ids, &heating(id, d, 0.0));
    }
    // 2 km north: outside the 500 m radius.
    assert!(place(&mut c, &mut ids, &heating(10, 2, 2_000.0)).is_empty());
    // Eleven days after the last appeal (2 March + 11): outside the 10-day window.
    assert!(place(&mut c, &mut ids, &heating(11, 13, 0.0)).is_empty());
    // Another topic at the same place.
    let mut water = heating(12, 2, 0.0);
    water.topic = Some(TopicCode::new("zhkh.hot_water"));
    assert!(place(&mut c, &mut ids, &water).is_empty());
    // Same topic and place, nothing in common in the text (no address either).
    let mut other = heating(13, 2, 0.0);
    other.text = "Управляющая компания не отвечает на звонки".into();
    other.address = None;
    assert!(place(&mut c, &mut ids, &other).is_empty());
    // No topic: nothing to cluster by.
    let mut unclassified = heating(14, 2, 0.0);
    unclassified.topic = None;
    assert!(place(&mut c, &mut ids, &unclassified).is_empty());
    assert_eq!(c.members(100), vec![1, 2, 3]);
    // Within the window of the last appeal (day 2 + 10 = day 12): joins.
    assert_eq!(
        place(&mut c, &mut ids, &heating(15, 12, 0.0)).relinked,
        vec![(15, 100)]
    );
}

#[test]
fn appeals_without_coordinates_group_by_municipality() {
    let mut c = Clusterer::new(&pack());
    let mut ids = Ids(99);
    let no_point = |id| {
        let mut a = heating(id, 3, 0.0);
        a.point = None;
        a
    };
    place(&mut c, &mut ids, &no_point(1));
    place(&mut c, &mut ids, &no_point(2));
    let made = place(&mut c, &mut ids, &no_point(3));
    assert_eq!(made.problems.len(), 1);
    assert_eq!(made.problems[0].point, None);
    let mut elsewhere = no_point(4);
    elsewhere.municipality = Some(MunicipalityCode::new("75738000"));
    assert!(place(&mut c, &mut ids, &elsewhere).is_empty());
}

/// A burst heating main at Kirova 9, at the same spot as Lenina 5 (to test text, not place).
fn heating_main(id: i64) -> Appeal {
    let mut a = heating(id, 1, 0.0);
    a.text = "Прорыв теплотрассы во дворе, пар и кипяток".into();
    a.address = Some("ул. Кирова, д. 9".into());
    a
}

/// A problem 100 of appeals 1–4 and a problem 101 of appeals 11–13, at one place with texts
/// that have nothing in common.
fn two_problems() -> (Clusterer, Ids) {
    let mut c = Clusterer::new(&pack());
    let mut ids = Ids(99);
    for id in 1..=4 {
        place(&mut c, &mut ids, &heating(id, 1, 0.0));
    }
    for id in 11..=13 {
        place(&mut c, &mut ids, &heating_main(id));
    }
    assert_eq!(c.members(100), vec![1, 2, 3, 4]);
    assert_eq!(c.members(101), vec![11, 12, 13]);
    (c, ids)
}

#[test]
fn an_operator_confirms_and_titles_a_problem() {
    let (mut c, _) = two_problems();
    let changes = c
        .confirm(100, Some("  Нет тепла в доме Ленина, 5 "))
        .unwrap();
    assert!(changes.relinked.is_empty());
    let p = &changes.problems[0];
    assert_eq!(
        (p.id, p.version, p.confirmed, p.title.as_str()),
        (100, 2, true, "Нет тепла в доме Ленина, 5")
    );
    assert!(c.confirm(100, Some("   ")).unwrap_err().contains("пустое"));
    assert!(c.confirm(100, Some(&"я".repeat(301))).is_err());
    assert!(c.confirm(7, None).unwrap_err().contains("нет проблемы 7"));
    assert_eq!(
        c.problem(100).unwrap().version,
        2,
        "a refused change changes nothing"
    );
}

#[test]
fn an_operator_splits_appeals_into_a_new_problem() {
    let (mut c, mut ids) = two_problems();
    let changes = c
        .split(100, &[4, 2], Some("Подъезд 2"), &mut || ids.next())
        .unwrap();
    assert_eq!(changes.relinked, vec![(2, 102), (4, 102)]);
    let old = changes.problems.iter().find(|p| p.id == 100).unwrap();
    let new = changes.problems.iter().find(|p| p.id == 102).unwrap();
    assert_eq!((old.version, old.confirmed), (2, true));
    assert_eq!(
        (new.version, new.confirmed, new.title.as_str()),
        (1, true, "Подъезд 2")
    );
    assert_eq!(c.members(100), vec![1, 3]);
    assert_eq!(c.members(102), vec![2, 4]);

    let err = c.split(100, &[1, 3], None, &mut || ids.next()).unwrap_err();
    assert!(err.contains("нельзя выделить все"), "{err}");
    let err = c.split(100, &[11], None, &mut || ids.next()).unwrap_err();
    assert!(
        err.contains("обращение 11 не входит в проблему 100"),
        "{err}"
    );
    assert!(c.split(100, &[], None, &mut || ids.next()).is_err());
    assert_eq!(c.members(100), vec![1, 3], "refused splits move nothing");
}

#[test]
fn an_operator_merges_one_problem_into_another() {
    let (mut c, mut ids) = two_problems();
    let changes = c.merge(101, 100).unwrap();
    assert_eq!(changes.relinked, vec![(11, 100), (12, 100), (13, 100)]);
    let gone = changes.problems.iter().find(|p| p.id == 101).unwrap();
    let kept = changes.problems.iter().find(|p| p.id == 100).unwrap();
    assert_eq!((gone.merged_into, gone.version), (Some(100), 2));
    assert_eq!((kept.confirmed, kept.version), (true, 2));
    assert_eq!(c.members(100), vec![1, 2, 3, 4, 11, 12, 13]);
    assert!(c.members(101).is_empty());

    assert!(c.merge(100, 100).is_err());
    let err = c.merge(101, 100).unwrap_err();
    assert!(err.contains("уже объединена с проблемой 100"), "{err}");
    // A new appeal like those of 101 goes to 100 now.
    let mut a = heating(20, 2, 0.0);
    a.text = "Прорыв теплотрассы во дворе".into();
    a.address = Some("ул. Кирова, д. 9".into());
    assert_eq!(place(&mut c, &mut ids, &a).relinked, vec![(20, 100)]);
}

#[test]
fn a_restarted_clusterer_learns_stored_problems_and_goes_on() {
    let (c, _) = two_problems();
    let mut stored: Vec<Appeal> = Vec::new();
    for (problem, members) in [(100, c.members(100)), (101, c.members(101))] {
        for id in members {
            let mut a = if problem == 100 {
                heating(id, 1, 0.0)
            } else {
                heating_main(id)
            };
            a.problem = Some(problem);
            stored.push(a);
        }
    }
    let mut record = c.problem(100).unwrap().clone();
    record.title = "Названо оператором".into();
    record.version = 5;

    let mut restarted = Clusterer::new(&pack());
    restarted.observe_problem(&record);
    for a in &stored {
        restarted.observe(&Sighting::from(a));
    }
    assert_eq!(restarted.members(100), vec![1, 2, 3, 4]);
    assert_eq!(restarted.problem(100).unwrap().title, "Названо оператором");
    assert_eq!(
        restarted.problem(101).unwrap().title,
        "Отопление: ул. Кирова, д. 9",
        "a problem whose record is not known yet gets one from its appeals"
    );
    let mut ids = Ids(200);
    assert_eq!(
        place(&mut restarted, &mut ids, &heating(30, 3, 50.0)).relinked,
        vec![(30, 100)]
    );
    // An operator moved appeal 4 into problem 101: observing it moves it.
    let mut moved = heating(4, 1, 0.0);
    moved.problem = Some(101);
    restarted.observe(&Sighting::from(&moved));
    assert_eq!(restarted.members(100), vec![1, 2, 3, 30]);
    assert!(restarted.members(101).contains(&4));
}

#[test]
fn candidates_out_of_their_window_are_forgotten() {
    let mut c = Clusterer::new(&pack());
    let mut ids = Ids(0);
    // Scattered single appeals over 100 days: each stays a candidate for 10 days only.
    for i in 0..3_000i64 {
        let mut a = heating(i + 1, 1 + (i / 30) as u32, 0.0);
        a.point = Some(GeoPoint {
            lat: 54.0 + (i % 100) as f64 * 0.01,
            lon: 58.0 + (i / 100) as f64 * 0.02,
        });
        place(&mut c, &mut ids, &a);
    }
    assert!(c.problems().is_empty());
    assert!(
        c.group_count() < 30 * 12 + 1_024,
        "about 11 days of candidates kept, not all 3,000: {}",
        c.group_count()
    );
}

#[test]
fn the_same_building_joins_whatever_the_words() {
    let mut c = Clusterer::new(&pack());
    let mut ids = Ids(99);
    for id in 1..=3 {
        place(&mut c, &mut ids, &heating(id, 1, 0.0));
    }
    let mut resident = heating(4, 2, 30.0);
    resident.text = "Дети мёрзнут уже неделю, сделайте что-нибудь, сколько можно терпеть".into();
    resident.address = Some("улица Ленина, дом 5, кв. 12".into());
    assert_eq!(
        place(&mut c, &mut ids, &resident).relinked,
        vec![(4, 100)],
        "the flat and the spelling of the address do not matter"
    );
    let mut neighbour = resident.clone();
    neighbour.id = 5;
    neighbour.address = Some("ул. Ленина, д. 7".into());
    neighbour.text = "Шумят соседи сверху по ночам".into();
    assert!(
        place(&mut c, &mut ids, &neighbour).is_empty(),
        "the house next door, in words of its own, is another matter"
    );
}

#[test]
fn a_title_names_the_building_never_the_flat() {
    assert_eq!(
        building_address("ул. Ленина, д. 5, кв. 12"),
        "ул. Ленина, д. 5"
    );
    assert_eq!(building_address("Ленина 5, Офис 3, 2 этаж"), "Ленина 5");
    assert_eq!(building_address("ул. Кирова, д. 9"), "ул. Кирова, д. 9");
    let mut c = Clusterer::new(&pack());
    let mut ids = Ids(99);
    let mut made = ProblemChanges::default();
    for (id, flat) in [(1, "кв. 3"), (2, "кв. 17"), (3, "квартира 40")] {
        let mut a = heating(id, 1, 0.0);
        a.address = Some(format!("ул. Ленина, д. 5, {flat}"));
        made = place(&mut c, &mut ids, &a);
    }
    assert_eq!(made.problems[0].title, "Отопление: ул. Ленина, д. 5");
}

#[test]
fn an_appeal_learnt_without_a_problem_never_joins_one_unstored() {
    let (mut c, _) = two_problems();
    // Stored with no problem (say, before the server restarted): learnt as a candidate only,
    // since nothing is written while learning.
    let a = heating(40, 1, 0.0);
    c.observe(&Sighting::from(&a));
    assert_eq!(c.members(100), vec![1, 2, 3, 4]);
}

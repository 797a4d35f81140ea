//! Structuring of free text: keywords alone, a classifier trained on the demo region (accuracy on
//! a held-out part), and the hand-written appeals of `fixtures/handwritten_appeals.jsonl`.
//! Accuracies are printed (`cargo test -p tsur-core --test classify -- --nocapture`) and guarded
//! by floors set below what was measured, so a regression fails.

use chrono::NaiveDate;
use serde_json::Value;
use tsur_core::classify::{Classifier, words};
use tsur_core::demo::{DemoParams, write_demo_replica};
use tsur_core::pack::RegionPack;
use tsur_core::store::Store;

fn pack() -> RegionPack {
    RegionPack::load(RegionPack::bundled_dir()).unwrap()
}

type Example = (String, String, Option<String>, Option<String>);

/// (text, topic, municipality, address) of every classified appeal of a 20,000-appeal demo
/// region, in id order; generated once for the tests of this file.
fn demo_examples() -> &'static [Example] {
    static EXAMPLES: std::sync::OnceLock<Vec<Example>> = std::sync::OnceLock::new();
    EXAMPLES.get_or_init(|| generate_examples(20_000))
}

fn generate_examples(appeals: u64) -> Vec<Example> {
    let pack = pack();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.sqlite");
    let params = DemoParams {
        appeals,
        seed: 17,
        now_utc: DemoParams::now_for_date(&pack, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()),
    };
    write_demo_replica(&pack, &params, &path, false, &mut |_, _| true).unwrap();
    let store = Store::open_existing(&path).unwrap();
    let mut stmt = store
        .conn()
        .prepare(
            "SELECT text, topic_code, municipality_code, address FROM appeals
             WHERE topic_code IS NOT NULL ORDER BY id",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn fixture() -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/handwritten_appeals.jsonl");
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn words_are_lowercased_with_yo_folded_and_split_on_punctuation() {
    assert_eq!(
        words("Ещё ТРЕТИЙ день без горячки!!! ул.Ленина,5"),
        [
            "еще",
            "третий",
            "день",
            "без",
            "горячки",
            "ул",
            "ленина",
            "5"
        ]
    );
}

#[test]
fn keywords_alone_classify_plain_texts_and_places_are_found() {
    let pack = pack();
    let c = Classifier::new(&pack);
    for (text, topic) in [
        ("Третий день нет горячей воды в доме", "zhkh.hot_water"),
        ("Огромная яма на дороге, пробил колесо", "roads.potholes"),
        (
            "Не могу записаться к врачу, регистратура не отвечает",
            "health.appointment",
        ),
        (
            "Мусор не вывозят вторую неделю, контейнеры переполнены",
            "tko.collection",
        ),
    ] {
        let s = c.suggest(text).unwrap();
        assert_eq!(s.topic, topic, "{text}: {s:?}");
        assert_eq!(s.block, topic.split('.').next().unwrap());
        assert!(s.confidence > 0.0 && s.confidence <= 1.0);
    }
    assert_eq!(
        c.municipality_of("Магнитогорск, ул. Ленина: нет света")
            .as_deref(),
        Some("75738000")
    );
    assert_eq!(
        c.municipality_of("у нас в Магнитогорске опять прорыв")
            .as_deref(),
        Some("75738000"),
        "an inflected name is found by its stem"
    );
    assert_eq!(c.municipality_of("нет воды в доме"), None);
    // A name used as a street or as the region does not place the text.
    assert_eq!(
        c.municipality_of("г. Златоуст, Челябинская обл., нет света")
            .as_deref(),
        Some("75712000"),
        "the region's name is not the city of Chelyabinsk"
    );
    assert_eq!(
        c.municipality_of("Копейск, ул. Челябинская, д. 5")
            .as_deref(),
        Some("75728000")
    );
    assert_eq!(
        c.municipality_of("яма на Копейском шоссе"),
        None,
        "a road, not the town"
    );
    assert_eq!(c.suggest("!!! ??? ..."), None, "no words, no suggestion");
}

#[test]
fn trained_on_the_demo_region_it_classifies_a_held_out_part() {
    let examples = demo_examples();
    let split = examples.len() * 4 / 5;
    let (train, test) = examples.split_at(split);
    let mut c = Classifier::new(&pack());
    let learned = c.learn_all(
        train
            .iter()
            .map(|(t, topic, _, _)| (t.as_str(), topic.as_str())),
    );
    assert_eq!(learned, train.len());
    let mut topic_ok = 0;
    let mut place_ok = 0;
    let mut with_place = 0;
    for (text, topic, municipality, address) in test {
        let s = c.suggest_appeal(text, address.as_deref()).unwrap();
        topic_ok += usize::from(&s.topic == topic);
        if municipality.is_some() {
            with_place += 1;
            place_ok += usize::from(s.municipality == *municipality);
        }
    }
    let topic_accuracy = topic_ok as f64 / test.len() as f64;
    let place_accuracy = place_ok as f64 / with_place.max(1) as f64;
    println!(
        "demo held-out ({} texts, trained on {}): topic {:.1} %, municipality from text and address {:.1} %",
        test.len(),
        train.len(),
        topic_accuracy * 100.0,
        place_accuracy * 100.0
    );
    assert!(topic_accuracy > 0.9, "{topic_accuracy}");
    assert!(place_accuracy > 0.6, "{place_accuracy}");
}

#[test]
fn on_hand_written_appeals_accuracy_is_reported_and_auto_apply_is_precise() {
    let fixture = fixture();
    assert!(
        fixture.len() >= 100,
        "at least 100 hand-written appeals: {}",
        fixture.len()
    );
    let pack = pack();
    let mut c = Classifier::new(&pack);
    let examples = demo_examples();
    c.learn_all(
        examples
            .iter()
            .map(|(t, topic, _, _)| (t.as_str(), topic.as_str())),
    );

    let (mut topic_ok, mut topic_or_also_ok, mut block_ok) = (0, 0, 0);
    let (mut place_ok, mut with_place, mut place_false) = (0, 0, 0);
    let (mut auto, mut auto_ok) = (0, 0);
    for case in &fixture {
        let text = case["text"].as_str().unwrap();
        let topic = case["topic"].as_str().unwrap();
        let s = c.suggest(text).unwrap();
        let also: Vec<&str> = case["also"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        topic_ok += usize::from(s.topic == topic);
        topic_or_also_ok += usize::from(s.topic == topic || also.contains(&s.topic.as_str()));
        block_ok += usize::from(s.block == case["block"].as_str().unwrap());
        match case["municipality"].as_str() {
            Some(m) => {
                with_place += 1;
                place_ok += usize::from(s.municipality.as_deref() == Some(m));
            }
            None => place_false += usize::from(s.municipality.is_some()),
        }
        if s.auto_apply {
            auto += 1;
            auto_ok += usize::from(s.topic == topic);
        }
    }
    let n = fixture.len() as f64;
    let share = |k: usize, of: f64| k as f64 / of.max(1.0);
    println!(
        "hand-written ({} texts): topic {:.1} % (main or one of the others named {:.1} %), block {:.1} %, \
         municipality {:.1} % of {} that name one ({} named where the text has none), \
         applied automatically {} at {:.1} % precision",
        fixture.len(),
        share(topic_ok, n) * 100.0,
        share(topic_or_also_ok, n) * 100.0,
        share(block_ok, n) * 100.0,
        share(place_ok, with_place as f64) * 100.0,
        with_place,
        place_false,
        auto,
        share(auto_ok, auto as f64) * 100.0
    );
    // Floors below what was measured (see BENCHMARKS.md): a regression fails.
    assert!(share(block_ok, n) > 0.6);
    assert!(share(topic_ok, n) > 0.45);
    assert!(share(place_ok, with_place as f64) > 0.5);
    assert!(
        auto == 0 || share(auto_ok, auto as f64) >= 0.9,
        "auto-applied must be right"
    );
}

#[test]
fn nothing_is_applied_automatically_below_the_packs_threshold() {
    let mut pack = pack();
    assert_eq!(pack.region.classifier_auto_apply_confidence, 0.95);
    let text = "Третий день нет горячей воды в доме";
    let s = Classifier::new(&pack).suggest(text).unwrap();
    pack.region.classifier_auto_apply_confidence = (s.confidence + 1.0) / 2.0;
    let stricter = Classifier::new(&pack).suggest(text).unwrap();
    assert_eq!(stricter.topic, s.topic);
    assert!(
        !stricter.auto_apply,
        "{} is below {}",
        stricter.confidence, pack.region.classifier_auto_apply_confidence
    );
    pack.region.classifier_auto_apply_confidence = s.confidence;
    assert!(
        Classifier::new(&pack).suggest(text).unwrap().auto_apply,
        "at the threshold it is"
    );
}

#[test]
fn a_standalone_demo_replica_carries_suggestions_for_its_unclassified_appeals() {
    let pack = pack();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.sqlite");
    let params = DemoParams {
        appeals: 5_000,
        seed: 2,
        now_utc: DemoParams::now_for_date(&pack, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()),
    };
    write_demo_replica(&pack, &params, &path, false, &mut |_, _| true).unwrap();
    let store = Store::open_existing(&path).unwrap();
    let ids: Vec<i64> = store
        .conn()
        .prepare("SELECT id FROM appeals WHERE topic_code IS NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!ids.is_empty(), "the demo has unclassified appeals");
    for id in ids {
        let appeal = store.load_appeal(id).unwrap().unwrap();
        let s = appeal
            .suggestion
            .expect("every unclassified appeal has a suggestion");
        let (block, _) = pack.topic(s.topic.as_str()).expect("a topic of the pack");
        assert_eq!(block.code, s.block);
        assert!(s.confidence > 0.0 && s.confidence <= 1.0);
    }
    let classified_with_suggestion: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM appeals WHERE topic_code IS NOT NULL AND suggested_topic IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        classified_with_suggestion, 0,
        "classified appeals need none"
    );
}

//! The analytics read model: loaded from a replica it holds the same facts as built from the
//! appeals themselves; a newer version replaces its row; codes are interned both ways.

use chrono::NaiveDate;
use tsur_core::analytics::{AppealFacts, NO_CODE, NO_TIME, ReadModel};
use tsur_core::demo::{DemoParams, write_demo_replica};
use tsur_core::domain::{AnswerKind, Status};
use tsur_core::pack::RegionPack;
use tsur_core::store::Store;

fn demo(dir: &std::path::Path, appeals: u64) -> Store {
    let pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
    let path = dir.join("demo.sqlite");
    let params = DemoParams {
        appeals,
        seed: 5,
        now_utc: DemoParams::now_for_date(&pack, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()),
    };
    write_demo_replica(&pack, &params, &path, false, &mut |_, _| true).unwrap();
    Store::open_existing(&path).unwrap()
}

/// Row `i` of the model as facts again, with codes looked up.
fn facts_at(model: &ReadModel, i: usize) -> AppealFacts {
    let code = |codes: &tsur_core::analytics::Codes, v: u16| {
        (v != NO_CODE).then(|| codes.name(v).unwrap().to_string())
    };
    AppealFacts {
        id: model.id[i],
        received: model.received[i],
        registered: model.registered[i],
        due: model.due[i],
        answered: model.answered[i],
        first_reaction: model.first_reaction[i],
        status: model.status[i],
        regime: model.regime[i],
        channel: model.channel[i],
        block: code(&model.blocks, model.block[i]),
        topic: code(&model.topics, model.topic[i]),
        municipality: code(&model.municipalities, model.municipality[i]),
        organisation: code(&model.organisations, model.organisation[i]),
        rating: model.rating[i],
        is_repeat: model.is_repeat[i],
        answers: model.answers[i],
        merits_answers: model.merits_answers[i],
        lat: model.lat[i],
        lon: model.lon[i],
        problem: model.problem[i],
    }
}

#[test]
fn loaded_from_a_replica_it_equals_the_model_of_its_appeals() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo(dir.path(), 3_000);
    let loaded = ReadModel::load(&store).unwrap();
    let appeals: Vec<_> = (1..=3_000)
        .map(|id| store.load_appeal(id).unwrap().unwrap())
        .collect();
    let built = ReadModel::from_appeals(&appeals);
    assert_eq!(loaded.len(), 3_000);
    for (i, appeal) in appeals.iter().enumerate() {
        // Compared as text: a missing point is NaN, which is never equal to itself.
        let text = |f: AppealFacts| format!("{f:?}");
        assert_eq!(
            text(facts_at(&loaded, i)),
            text(facts_at(&built, i)),
            "row {i}"
        );
        assert_eq!(
            text(facts_at(&built, i)),
            text(AppealFacts::of(appeal)),
            "row {i}"
        );
    }
    // The demo has dirty records (no topic) and answered, rated and repeat appeals: the columns
    // must carry each kind, or the comparison above proves little.
    assert!(loaded.topic.contains(&NO_CODE));
    assert!(loaded.answered.iter().any(|&t| t != NO_TIME));
    assert!(loaded.rating.iter().any(|&r| r > 0));
    assert!(loaded.is_repeat.iter().any(|&r| r));
    assert!(loaded.merits_answers.iter().any(|&n| n > 0));
    assert!(
        loaded.lat.iter().any(|v| v.is_nan()),
        "dirty records without a point"
    );
    assert!(loaded.lat.iter().any(|v| v.is_finite()));
    assert!(
        loaded
            .problem
            .iter()
            .any(|&p| p != tsur_core::analytics::model::NO_ID)
    );
    assert!(!loaded.problems.is_empty(), "the demo's problems are read");
    assert_eq!(loaded.blocks.len(), 8);
}

#[test]
fn a_newer_version_replaces_its_row_and_new_appeals_are_added() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo(dir.path(), 50);
    let mut appeals: Vec<_> = (1..=50)
        .map(|id| store.load_appeal(id).unwrap().unwrap())
        .collect();
    let mut model = ReadModel::from_appeals(&appeals);

    let changed = &mut appeals[9];
    changed.status = Status::Closed;
    changed.rating = tsur_core::domain::Rating::new(2);
    changed.answers.retain(|a| a.kind == AnswerKind::Reaction);
    model.upsert(AppealFacts::of(changed));
    assert_eq!(model.len(), 50, "replaced, not added");
    let row = model.row(changed.id).unwrap();
    assert_eq!(model.status[row], Status::Closed);
    assert_eq!(model.rating[row], 2);
    assert_eq!((model.answers[row], model.merits_answers[row]), (0, 0));

    let mut new = appeals[0].clone();
    new.id = 10_000;
    model.upsert(AppealFacts::of(&new));
    assert_eq!(model.len(), 51);
    assert_eq!(model.row(10_000), Some(50));
    assert_eq!(model.id[50], 10_000);
}

#[test]
fn codes_are_interned_both_ways() {
    let mut codes = tsur_core::analytics::Codes::default();
    assert_eq!(codes.intern(None), NO_CODE);
    let zhkh = codes.intern(Some("zhkh"));
    let roads = codes.intern(Some("roads"));
    assert_ne!(zhkh, roads);
    assert_eq!(codes.intern(Some("zhkh")), zhkh);
    assert_eq!(codes.get("roads"), Some(roads));
    assert_eq!(codes.name(zhkh), Some("zhkh"));
    assert_eq!(codes.get("health"), None);
    assert_eq!(codes.len(), 2);
}

//! The local store: migrations, WAL, the outbox, and refusing databases it must not touch.

use rusqlite::Connection;
use std::fs;
use tsur_core::pack::RegionPack;
use tsur_core::store::{OutboxAction, SCHEMA_VERSION, Store, StoreError};

#[test]
fn a_new_database_gets_the_whole_schema_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replica.sqlite");
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let mode: String = store
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    for table in [
        "appeals",
        "events",
        "answers",
        "problems",
        "organisations",
        "municipalities",
        "sync_state",
        "outbox",
    ] {
        let n: i64 = store
            .conn()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "table {table}");
    }
    // The queue query uses its index rather than scanning every appeal.
    let plan: String = store
        .conn()
        .query_row(
            "EXPLAIN QUERY PLAN SELECT id FROM appeals WHERE block_code = 'zhkh' AND status = 'new' ORDER BY due_utc",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("appeals_queue"), "{plan}");
}

#[test]
fn reopening_migrates_nothing_twice_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replica.sqlite");
    {
        let store = Store::open(&path).unwrap();
        store.set_sync_value("cursor", "42").unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.sync_value("cursor").unwrap().as_deref(), Some("42"));
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
}

#[test]
fn a_database_from_a_newer_tsur_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.sqlite");
    {
        let store = Store::open(&path).unwrap();
        store.set_sync_value("cursor", "7").unwrap();
        store
            .conn()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 5)
            .unwrap();
        store
            .conn()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;")
            .unwrap();
    }
    let before = fs::read(&path).unwrap();
    let err = Store::open(&path).unwrap_err();
    match &err {
        StoreError::NewerSchema {
            found, supported, ..
        } => {
            assert_eq!(*found, SCHEMA_VERSION + 5);
            assert_eq!(*supported, SCHEMA_VERSION);
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("более новой версией") && message.contains("не изменён"),
        "{message}"
    );
    assert_eq!(fs::read(&path).unwrap(), before, "the file must not change");
    assert!(Store::open_read_only(&path).is_err());
}

#[test]
fn a_foreign_sqlite_file_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.sqlite");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('мои заметки');",
        )
        .unwrap();
    }
    let before = fs::read(&path).unwrap();
    assert!(matches!(
        Store::open(&path),
        Err(StoreError::NotTsur { .. })
    ));
    assert_eq!(fs::read(&path).unwrap(), before);

    let garbage = dir.path().join("garbage.sqlite");
    fs::write(&garbage, b"this is not a database at all, just text").unwrap();
    assert!(Store::open(&garbage).is_err());
    assert_eq!(
        fs::read(&garbage).unwrap(),
        b"this is not a database at all, just text"
    );
}

#[test]
fn open_existing_does_not_create_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.sqlite");
    assert!(matches!(
        Store::open_existing(&path),
        Err(StoreError::NotFound { .. })
    ));
    assert!(!path.exists());
}

#[test]
fn reference_data_and_the_outbox_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("r.sqlite")).unwrap();
    let pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
    store.write_reference(&pack).unwrap();
    store.write_reference(&pack).unwrap(); // idempotent
    let n: i64 = store
        .conn()
        .query_row("SELECT count(*) FROM municipalities", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 43);
    assert_eq!(
        store.sync_value("pack_hash").unwrap().as_deref(),
        Some(pack.version_hash.as_str())
    );

    let action = OutboxAction {
        id: "01890a5d-ac96-774b-bcce-b302099a8057".into(),
        created_utc: 1_780_000_000,
        appeal_id: Some(17),
        kind: "escalate".into(),
        payload: r#"{"to":"block_head"}"#.into(),
        base_version: Some(3),
    };
    store.enqueue_action(&action).unwrap();
    assert!(
        store.enqueue_action(&action).is_err(),
        "the same action id is stored once"
    );
    assert_eq!(store.pending_actions().unwrap(), vec![action]);
}

fn demo_replica(dir: &std::path::Path) -> std::path::PathBuf {
    use tsur_core::demo::{DemoParams, write_demo_replica};
    let pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
    let path = dir.join("demo.sqlite");
    let params = DemoParams {
        appeals: 400,
        seed: 4,
        now_utc: DemoParams::now_for_date(
            &pack,
            chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
        ),
    };
    write_demo_replica(&pack, &params, &path, false, &mut |_, _| true).unwrap();
    path
}

#[test]
fn an_appeal_round_trips_through_the_domain_model() {
    let dir = tempfile::tempdir().unwrap();
    let source = Store::open(demo_replica(dir.path())).unwrap();
    let mut copy = Store::open(dir.path().join("copy.sqlite")).unwrap();
    let mut seen_answers = 0;
    for id in 1..=400 {
        let appeal = source.load_appeal(id).unwrap().expect("every id exists");
        assert_eq!(appeal.id, id);
        assert!(!appeal.events.is_empty(), "appeal {id} has a history");
        seen_answers += appeal.answers.len();
        assert!(copy.upsert_appeal(&appeal).unwrap());
        assert_eq!(copy.load_appeal(id).unwrap().as_ref(), Some(&appeal));
        // Through JSON too: everything that crosses a boundary has serde.
        let json = serde_json::to_string(&appeal).unwrap();
        assert_eq!(
            serde_json::from_str::<tsur_core::domain::Appeal>(&json).unwrap(),
            appeal
        );
    }
    assert!(seen_answers > 200);
    assert_eq!(source.load_appeal(10_000).unwrap(), None);

    // A suggested classification round-trips too, with or without a place.
    let mut appeal = source.load_appeal(1).unwrap().unwrap();
    for municipality in [Some("75701000"), None] {
        appeal.version += 1;
        appeal.suggestion = Some(tsur_core::domain::SuggestedClassification {
            block: tsur_core::domain::BlockCode::new("roads"),
            topic: tsur_core::domain::TopicCode::new("roads.potholes"),
            municipality: municipality.map(tsur_core::domain::MunicipalityCode::new),
            confidence: 0.8125,
        });
        assert!(copy.upsert_appeal(&appeal).unwrap());
        assert_eq!(copy.load_appeal(1).unwrap().as_ref(), Some(&appeal));
        let json = serde_json::to_string(&appeal).unwrap();
        assert_eq!(
            serde_json::from_str::<tsur_core::domain::Appeal>(&json).unwrap(),
            appeal
        );
    }
}

#[test]
fn an_older_or_equal_version_never_overwrites_a_newer_one() {
    use tsur_core::domain::Status;
    let dir = tempfile::tempdir().unwrap();
    let source = Store::open(demo_replica(dir.path())).unwrap();
    let mut store = Store::open(dir.path().join("r.sqlite")).unwrap();
    let mut appeal = source.load_appeal(7).unwrap().unwrap();
    appeal.version = 5;
    assert!(store.upsert_appeal(&appeal).unwrap());

    let mut older = appeal.clone();
    older.version = 4;
    older.status = Status::Rejected;
    older.text = "старая версия".into();
    assert!(
        !store.upsert_appeal(&older).unwrap(),
        "an older version is ignored"
    );
    assert!(
        !store.upsert_appeal(&appeal).unwrap(),
        "the same version twice changes nothing"
    );
    assert_eq!(store.load_appeal(7).unwrap().unwrap(), appeal);

    let mut newer = appeal.clone();
    newer.version = 6;
    newer.assignee = Some("Оператор ЖКХ".into());
    assert!(store.upsert_appeal(&newer).unwrap());
    assert_eq!(store.load_appeal(7).unwrap().unwrap(), newer);
}

#[test]
fn a_version_1_database_is_migrated_forward_keeping_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.sqlite");
    {
        let store = Store::open(&path).unwrap();
        store.set_sync_value("cursor", "99").unwrap();
        // Make it look like a database written by the first release (no quarantine of v2, no
        // suggestions of v3), with an appeal in it.
        store
            .conn()
            .execute_batch(
                "DROP TABLE quarantine;
                 ALTER TABLE appeals DROP COLUMN suggested_block;
                 ALTER TABLE appeals DROP COLUMN suggested_topic;
                 ALTER TABLE appeals DROP COLUMN suggested_municipality;
                 ALTER TABLE appeals DROP COLUMN suggestion_confidence;
                 ALTER TABLE problems DROP COLUMN confirmed;
                 ALTER TABLE problems DROP COLUMN merged_into;
                 INSERT INTO appeals (id, source, external_id, channel, regime, received_utc, text,
                     status, updated_utc)
                 VALUES (7, 'pos', 'P-7', 'pos', 'pos', 1767225600, 'Нет света', 'new', 1767225600);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, 4);
    assert_eq!(store.cursor().unwrap(), 99);
    assert_eq!(store.quarantined_count().unwrap(), 0);
    let appeal = store
        .load_appeal(7)
        .unwrap()
        .expect("kept through every migration");
    assert_eq!(
        (appeal.text.as_str(), appeal.suggestion),
        ("Нет света", None)
    );
}

#[test]
fn a_page_and_its_cursor_are_applied_together_and_replays_change_nothing() {
    use tsur_core::store::Quarantined;
    let dir = tempfile::tempdir().unwrap();
    let source = Store::open(demo_replica(dir.path())).unwrap();
    let mut replica = Store::open(dir.path().join("replica.sqlite")).unwrap();
    let page: Vec<_> = (1..=50)
        .map(|id| source.load_appeal(id).unwrap().unwrap())
        .collect();
    let bad = Quarantined {
        seq: Some(51),
        reason: "неизвестный статус «lost»".into(),
        raw: "{}".into(),
    };
    assert_eq!(
        replica
            .apply_page(&page, &[], std::slice::from_ref(&bad), 51)
            .unwrap(),
        50
    );
    assert_eq!(replica.cursor().unwrap(), 51);
    assert_eq!(replica.quarantined_count().unwrap(), 1);
    // Replaying the page writes nothing and never moves the cursor back.
    assert_eq!(replica.apply_page(&page, &[], &[], 40).unwrap(), 0);
    assert_eq!(replica.cursor().unwrap(), 51);
    assert_eq!(
        replica.load_appeal(7).unwrap(),
        source.load_appeal(7).unwrap()
    );
}

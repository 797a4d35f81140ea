//! `tsur kpi` through the real binary: the documented keys, agreement with `tsur stats`, filters,
//! periods and refusals of bad arguments.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn tsur(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tsur"))
        .args(args)
        .env_remove("TSUR_PACK_DIR")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn replica(dir: &Path) -> String {
    let db = dir.join("r.sqlite");
    let out = tsur(&[
        "demo-data",
        "--db",
        db.to_str().unwrap(),
        "--appeals",
        "6000",
        "--seed",
        "3",
        "--now",
        "2026-11-25",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    db.to_str().unwrap().to_string()
}

fn json(args: &[&str]) -> Value {
    let out = tsur(args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

#[test]
fn kpi_json_has_the_documented_keys_and_agrees_with_stats() {
    let dir = tempfile::tempdir().unwrap();
    let db = replica(dir.path());
    let kpi = json(&["kpi", "--db", &db, "--json", "--now", "2026-11-25"]);
    for key in [
        "as_of",
        "total",
        "open",
        "overdue",
        "at_risk_24h",
        "on_time_share",
        "avg_answer_hours",
        "median_answer_hours",
        "p90_answer_hours",
        "satisfaction_share",
        "repeat_share",
        "merits_share",
        "social_first_reaction_hours",
        "accelerated_share",
        "targets",
        "indicators",
        "by_block",
        "by_municipality",
        "ranking",
        "problems",
        "surges",
        "matrix",
        "communication",
    ] {
        assert!(kpi.get(key).is_some(), "missing key {key}");
    }
    let stats = json(&["stats", "--db", &db, "--json", "--now", "2026-11-25"]);
    for (k, s) in [
        ("total", "total"),
        ("open", "open"),
        ("overdue", "overdue"),
        ("at_risk_24h", "at_risk"),
    ] {
        assert_eq!(kpi[k], stats[s], "{k}");
    }
    for share in [
        "on_time_share",
        "satisfaction_share",
        "repeat_share",
        "merits_share",
    ] {
        let v = kpi[share].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{share} = {v}: a fraction");
    }
    assert!(
        kpi["targets"]["on_time_share"]["target"].as_f64().unwrap() > 1.0,
        "targets in %"
    );
    let by_block = kpi["by_block"].as_object().unwrap();
    assert_eq!(by_block.len(), 8);
    for (name, slice) in by_block {
        assert_eq!(slice["total"], stats["by_block"][name], "{name}");
    }
    assert_eq!(kpi["by_municipality"].as_object().unwrap().len(), 43);
    assert!(
        kpi["ranking"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["rank"] == 1)
    );
    assert!(!kpi["problems"].as_array().unwrap().is_empty());
    assert!(
        kpi["previous_period"].is_null(),
        "no period given: all data counts"
    );
}

#[test]
fn a_period_and_filters_narrow_the_figures() {
    let dir = tempfile::tempdir().unwrap();
    let db = replica(dir.path());
    let all = json(&["kpi", "--db", &db, "--json", "--now", "2026-11-25"]);
    let november = json(&[
        "kpi",
        "--db",
        &db,
        "--json",
        "--now",
        "2026-11-25",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-25",
    ]);
    let (all_total, november_total) = (
        all["total"].as_u64().unwrap(),
        november["total"].as_u64().unwrap(),
    );
    assert!(0 < november_total && november_total < all_total);
    assert_eq!(november["period"]["from"], "2026-11-01");
    assert!(november["previous_period"]["total"].as_u64().unwrap() > 0);

    // A block by code or by name, a municipality by name or code: the same figures.
    let by_code = json(&[
        "kpi",
        "--db",
        &db,
        "--json",
        "--now",
        "2026-11-25",
        "--block",
        "zhkh",
    ]);
    let by_name = json(&[
        "kpi",
        "--db",
        &db,
        "--json",
        "--now",
        "2026-11-25",
        "--block",
        "ЖКХ",
    ]);
    assert_eq!(by_code["total"], by_name["total"]);
    assert_eq!(by_code["total"], all["by_block"]["ЖКХ"]["total"]);
    let chelyabinsk = json(&[
        "kpi",
        "--db",
        &db,
        "--json",
        "--now",
        "2026-11-25",
        "--municipality",
        "Челябинск",
    ]);
    assert_eq!(chelyabinsk["municipality"], "75701000");
    assert_eq!(
        chelyabinsk["total"],
        all["by_municipality"]["Челябинский городской округ"]["total"]
    );
}

#[test]
fn bad_arguments_are_refused_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = replica(dir.path());
    for (args, expected) in [
        (
            vec!["kpi", "--db", &db, "--block", "cosmos"],
            "неизвестный блок",
        ),
        (
            vec!["kpi", "--db", &db, "--municipality", "Атлантида"],
            "неизвестный муниципалитет",
        ),
        (
            vec![
                "kpi",
                "--db",
                &db,
                "--from",
                "2026-11-10",
                "--to",
                "2026-11-01",
            ],
            "позже",
        ),
        (
            vec!["kpi", "--db", &db, "--from", "10.11.2026"],
            "10.11.2026",
        ),
        (vec!["kpi", "--db", "/nonexistent/r.sqlite"], "не найден"),
    ] {
        let out = tsur(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            text(&out.stderr).contains(expected),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
    // The readable form, too.
    let out = tsur(&["kpi", "--db", &db, "--now", "2026-11-25"]);
    assert!(out.status.success());
    let shown = text(&out.stdout);
    assert!(
        shown.contains("В срок:") && shown.contains("Рейтинг организаций"),
        "{shown}"
    );
}

#[test]
fn the_period_is_of_local_days_in_the_regions_time() {
    use chrono::{TimeZone, Utc};
    use tsur_core::domain::{Appeal, Author, Channel, Regime, Status};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.sqlite");
    let mut store = tsur_core::store::Store::open(&db).unwrap();
    // 23:59 and 00:00 local time (UTC+5) around midnight of 10–11 November 2026.
    let instants = [
        Utc.with_ymd_and_hms(2026, 11, 9, 18, 59, 0).unwrap(), // 9 Nov 23:59 local
        Utc.with_ymd_and_hms(2026, 11, 9, 19, 0, 0).unwrap(),  // 10 Nov 00:00 local
        Utc.with_ymd_and_hms(2026, 11, 10, 18, 59, 0).unwrap(), // 10 Nov 23:59 local
        Utc.with_ymd_and_hms(2026, 11, 10, 19, 0, 0).unwrap(), // 11 Nov 00:00 local
    ];
    for (i, received) in instants.into_iter().enumerate() {
        store
            .upsert_appeal(&Appeal {
                id: i as i64 + 1,
                version: 1,
                source: "t".into(),
                external_id: i.to_string(),
                channel: Channel::Pos,
                regime: Regime::Pos,
                received_utc: received,
                registered_utc: None,
                text: "x".into(),
                author: Author::default(),
                address: None,
                point: None,
                municipality: None,
                block: None,
                topic: None,
                organisation: None,
                status: Status::New,
                due_utc: None,
                answered_utc: None,
                rating: None,
                problem: None,
                repeat_of: None,
                duplicate_of: None,
                assignee: None,
                suggestion: None,
                answers: vec![],
                events: vec![],
            })
            .unwrap();
    }
    drop(store);
    let db = db.to_str().unwrap();
    let day = json(&[
        "kpi",
        "--db",
        db,
        "--json",
        "--now",
        "2026-11-25",
        "--from",
        "2026-11-10",
        "--to",
        "2026-11-10",
    ]);
    assert_eq!(
        day["total"], 2,
        "00:00 and 23:59 of 10 November, local time"
    );
    let from_only = json(&[
        "kpi",
        "--db",
        db,
        "--json",
        "--now",
        "2026-11-25",
        "--from",
        "2026-11-11",
    ]);
    assert_eq!(from_only["total"], 1);
}

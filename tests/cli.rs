//! `tsur demo-data` and `tsur stats` through the real binary.

use rusqlite::Connection;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

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

fn make_replica(path: &Path, appeals: u32) {
    let out = tsur(&[
        "demo-data",
        "--db",
        path.to_str().unwrap(),
        "--appeals",
        &appeals.to_string(),
        "--seed",
        "3",
        "--now",
        "2026-11-25",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn stats_json_has_the_documented_keys_and_agrees_with_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.sqlite");
    make_replica(&db, 2_500);
    let out = tsur(&[
        "stats",
        "--db",
        db.to_str().unwrap(),
        "--json",
        "--now",
        "2026-11-25",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");

    assert_eq!(json["total"], 2_500);
    let sum = |key: &str| -> u64 {
        json[key]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum()
    };
    let by_block = json["by_block"].as_object().unwrap();
    assert_eq!(by_block.len(), 8);
    assert!(by_block["ЖКХ"].as_u64().unwrap() > 0);
    assert_eq!(
        sum("by_block") + json["unclassified"].as_u64().unwrap(),
        2_500
    );
    let by_municipality = json["by_municipality"].as_object().unwrap();
    assert_eq!(by_municipality.len(), 43);
    assert!(
        by_municipality["Челябинский городской округ"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(sum("by_municipality"), 2_500);
    assert_eq!(sum("by_status"), 2_500);
    assert_eq!(sum("by_regime"), 2_500);
    for regime in ["fz59", "pos", "social", "hotline"] {
        assert!(json["by_regime"][regime].as_u64().unwrap() > 0, "{regime}");
    }

    // Overdue, counted independently: open, clock running, due before noon 25.11.2026 (UTC+5).
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-25T12:00:00+05:00")
        .unwrap()
        .timestamp();
    let conn = Connection::open(&db).unwrap();
    let overdue: u64 = conn
        .query_row(
            "SELECT count(*) FROM appeals WHERE status NOT IN
             ('answered', 'closed', 'merged', 'rejected', 'awaiting_citizen') AND due_utc <= ?1",
            [now],
            |r| r.get(0),
        )
        .unwrap();
    assert!(overdue > 0);
    assert_eq!(json["overdue"].as_u64().unwrap(), overdue);
    assert_eq!(json["as_of"], "2026-11-25T07:00:00Z");
}

#[test]
fn the_same_seed_gives_the_same_stats() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.sqlite"), dir.path().join("b.sqlite"));
    make_replica(&a, 800);
    make_replica(&b, 800);
    let stats = |p: &Path| {
        tsur(&[
            "stats",
            "--db",
            p.to_str().unwrap(),
            "--json",
            "--now",
            "2026-11-25",
        ])
        .stdout
    };
    assert_eq!(stats(&a), stats(&b));
}

#[test]
fn a_missing_file_is_a_clear_error_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("missing.sqlite");
    let out = tsur(&["stats", "--db", db.to_str().unwrap(), "--json"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("не найден") && err.contains("demo-data"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    assert!(!db.exists());
}

#[test]
fn wrong_arguments_are_refused_with_a_message() {
    let out = tsur(&["stats", "--json"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--db"), "{}", text(&out.stderr));

    let out = tsur(&["demo-data", "--db", "/tmp/x.sqlite", "--appeals", "many"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("many"));

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.sqlite");
    make_replica(&db, 50);
    let out = tsur(&["stats", "--db", db.to_str().unwrap(), "--now", "вчера"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("ГГГГ-ММ-ДД"),
        "{}",
        text(&out.stderr)
    );

    let out = tsur(&["demo-data", "--db", "/tmp/x.sqlite", "--appeals", "0"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("от 1 до"),
        "{}",
        text(&out.stderr)
    );
    let out = tsur(&[
        "demo-data",
        "--db",
        "/tmp/x.sqlite",
        "--appeals",
        "99999999999",
    ]);
    assert!(
        !out.status.success(),
        "a huge count is refused, not attempted"
    );

    let out = tsur(&["no-such-command"]);
    assert!(!out.status.success());
}

#[test]
fn demo_data_does_not_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.sqlite");
    make_replica(&db, 100);
    let before = std::fs::read(&db).unwrap();
    let out = tsur(&[
        "demo-data",
        "--db",
        db.to_str().unwrap(),
        "--appeals",
        "200",
    ]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--force"));
    assert_eq!(std::fs::read(&db).unwrap(), before);
    let out = tsur(&[
        "demo-data",
        "--db",
        db.to_str().unwrap(),
        "--appeals",
        "200",
        "--force",
        "--now",
        "2026-11-25",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let conn = Connection::open(&db).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM appeals", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 200);
}

#[test]
fn a_broken_pack_stops_the_command_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("pack");
    std::fs::create_dir(&pack).unwrap();
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/regions/chelyabinsk");
    for name in tsur_core::pack::PACK_FILES {
        std::fs::copy(bundled.join(name), pack.join(name)).unwrap();
    }
    let cal = pack.join("calendar.csv");
    let mut body = std::fs::read_to_string(&cal).unwrap();
    body.push_str("2026-13-01,holiday,Ошибка,тест\n");
    std::fs::write(&cal, &body).unwrap();
    let line = body.lines().count();
    let out = tsur(&[
        "--pack",
        pack.to_str().unwrap(),
        "demo-data",
        "--db",
        dir.path().join("r.sqlite").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("calendar.csv") && err.contains(&format!("строка {line}")),
        "{err}"
    );
    assert!(!dir.path().join("r.sqlite").exists());
}

#[test]
fn help_is_in_russian() {
    let out = tsur(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    assert!(
        help.contains("demo-data") && help.contains("stats") && help.contains("обращения"),
        "{help}"
    );
}

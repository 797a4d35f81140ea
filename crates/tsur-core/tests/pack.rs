//! The region pack: the bundled Chelyabinsk pack loads, and each kind of breakage fails with the
//! file, the line and the reason.

use chrono::NaiveDate;
use std::fs;
use std::path::{Path, PathBuf};
use tsur_core::pack::{PACK_FILES, PackError, RegionPack};

fn bundled() -> PathBuf {
    RegionPack::bundled_dir()
}

/// A copy of the bundled pack in a temporary directory, to break.
fn copy_pack() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in PACK_FILES {
        fs::copy(bundled().join(name), dir.path().join(name)).unwrap();
    }
    dir
}

/// Appends a line and returns its 1-based line number.
fn append_line(path: &Path, line: &str) -> u64 {
    let mut text = fs::read_to_string(path).unwrap();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    fs::write(path, &text).unwrap();
    text.lines().count() as u64
}

fn load_err(dir: &Path) -> PackError {
    RegionPack::load(dir).expect_err("the broken pack must not load")
}

fn assert_points_at(err: &PackError, file: &str, line: Option<u64>, reason_part: &str) {
    assert!(
        err.file.ends_with(file),
        "expected file {file}, got {}: {err}",
        err.file.display()
    );
    assert_eq!(err.line, line, "{err}");
    assert!(
        err.reason.contains(reason_part),
        "reason lacks «{reason_part}»: {err}"
    );
    let shown = err.to_string();
    assert!(shown.contains(file), "{shown}");
    if let Some(line) = line {
        assert!(shown.contains(&format!("строка {line}")), "{shown}");
    }
}

#[test]
fn the_bundled_pack_loads_with_the_whole_region() {
    let pack = RegionPack::load(bundled()).unwrap();
    assert_eq!(pack.region.name, "Челябинская область");
    assert_eq!(pack.municipalities.len(), 43);
    assert!(
        pack.municipalities
            .iter()
            .any(|m| m.code.as_str() == "75701000"),
        "Челябинск's OKTMO"
    );
    let population: u64 = pack
        .municipalities
        .iter()
        .map(|m| u64::from(m.population))
        .sum();
    assert!(
        (3_000_000..3_800_000).contains(&population),
        "population {population}"
    );
    for m in &pack.municipalities {
        assert!(
            pack.settlements.iter().any(|s| s.municipality == m.code),
            "{} has no settlements",
            m.name
        );
    }

    let blocks: Vec<&str> = pack.blocks.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        blocks,
        [
            "Здравоохранение",
            "Образование",
            "Социальная защита",
            "ЖКХ",
            "ТКО",
            "Дороги",
            "Транспорт",
            "Энергетика"
        ]
    );
    for block in &pack.blocks {
        for topic in &block.topics {
            assert!(!topic.keywords.is_empty(), "{} has no keywords", topic.code);
        }
    }
    assert!(pack.topic("zhkh.heating").is_some());

    assert!(
        pack.organisations.len() >= 80,
        "{} organisations",
        pack.organisations.len()
    );
    for m in &pack.municipalities {
        assert!(
            pack.organisations
                .iter()
                .any(|o| o.municipality.as_ref() == Some(&m.code)
                    && o.kind == "municipal_administration"),
            "no administration for {}",
            m.name
        );
    }
    for block in &pack.blocks {
        assert!(
            pack.organisations
                .iter()
                .any(|o| o.block.as_ref() == Some(&block.code) && o.municipality.is_none()),
            "no regional body for {}",
            block.name
        );
    }

    let cal = &pack.calendar;
    assert_eq!(cal.covered_years(), Some((2020, 2027)));
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
    assert!(
        !cal.is_working_day(d(2026, 1, 9)),
        "9 January 2026 is a transferred day off"
    );
    assert!(
        !cal.is_working_day(d(2026, 12, 31)),
        "31 December 2026 is a transferred day off"
    );
    assert!(
        cal.is_working_day(d(2024, 4, 27)),
        "27 April 2024 was a working Saturday"
    );
    // 2021 also had 7 weekdays declared non-working by presidential decrees (№ 242, № 595).
    assert_eq!(cal.working_days_in(d(2021, 1, 1), d(2022, 1, 1)), 240);
    for year in 2022..=2027 {
        let first = d(year, 1, 1);
        let next = d(year + 1, 1, 1);
        let working = cal.working_days_in(first, next);
        assert!(
            (246..=249).contains(&working),
            "{year}: {working} working days"
        );
    }
    assert!(!pack.kpi_targets.is_empty());
    assert_eq!(pack.version_hash.len(), 64);
}

#[test]
fn the_version_hash_changes_with_the_content() {
    let dir = copy_pack();
    let before = RegionPack::load(dir.path()).unwrap().version_hash;
    append_line(
        &dir.path().join("kpi.toml"),
        "# a comment changes the pack's bytes",
    );
    let after = RegionPack::load(dir.path()).unwrap().version_hash;
    assert_ne!(before, after);
}

#[test]
fn a_missing_column_names_the_column() {
    let dir = copy_pack();
    let path = dir.path().join("municipalities.csv");
    let text = fs::read_to_string(&path).unwrap();
    let header_line = text.lines().position(|l| l.starts_with("code,")).unwrap() as u64 + 1;
    fs::write(&path, text.replace(",population,", ",people,")).unwrap();
    assert_points_at(
        &load_err(dir.path()),
        "municipalities.csv",
        Some(header_line),
        "population",
    );
}

#[test]
fn an_unknown_block_names_the_line() {
    let dir = copy_pack();
    let path = dir.path().join("organisations.csv");
    let line = append_line(&path, "bad-org,ООО «Нет такого блока»,other,cosmos,,true");
    assert_points_at(
        &load_err(dir.path()),
        "organisations.csv",
        Some(line),
        "неизвестный блок «cosmos»",
    );
}

#[test]
fn a_duplicate_code_names_the_line() {
    let dir = copy_pack();
    let path = dir.path().join("municipalities.csv");
    let line = append_line(
        &path,
        "75701000,Дубль Челябинска,Дубль,city_okrug,Челябинск,55.16,61.40,1000,oktmo",
    );
    assert_points_at(
        &load_err(dir.path()),
        "municipalities.csv",
        Some(line),
        "75701000",
    );
}

#[test]
fn a_point_outside_the_region_names_the_line() {
    let dir = copy_pack();
    let path = dir.path().join("settlements.csv");
    // Moscow is far outside Chelyabinsk oblast.
    let line = append_line(&path, "75701000,Москва,город,55.75,37.62,1000");
    assert_points_at(
        &load_err(dir.path()),
        "settlements.csv",
        Some(line),
        "вне границ региона",
    );
}

#[test]
fn a_malformed_date_names_the_line() {
    let dir = copy_pack();
    let path = dir.path().join("calendar.csv");
    let line = append_line(&path, "2027-02-30,holiday,Несуществующий день,тест");
    assert_points_at(
        &load_err(dir.path()),
        "calendar.csv",
        Some(line),
        "неверная дата «2027-02-30»",
    );
}

#[test]
fn a_working_day_transfer_onto_a_weekday_is_refused() {
    let dir = copy_pack();
    let path = dir.path().join("calendar.csv");
    // 2027-06-01 is a Tuesday.
    let line = append_line(&path, "2027-06-01,working_day,Рабочий вторник,тест");
    assert_points_at(
        &load_err(dir.path()),
        "calendar.csv",
        Some(line),
        "будний день",
    );
}

#[test]
fn a_non_numeric_population_names_the_line() {
    let dir = copy_pack();
    let path = dir.path().join("municipalities.csv");
    let line = append_line(
        &path,
        "75999000,Новый округ,Новый,city_okrug,Новый,55.0,61.0,много,tsur",
    );
    assert_points_at(
        &load_err(dir.path()),
        "municipalities.csv",
        Some(line),
        "не число",
    );
}

#[test]
fn a_short_row_names_the_line() {
    let dir = copy_pack();
    let path = dir.path().join("organisations.csv");
    let line = append_line(&path, "short-row,Только имя");
    assert_points_at(
        &load_err(dir.path()),
        "organisations.csv",
        Some(line),
        "полей",
    );
}

#[test]
fn a_cp1251_file_is_refused_with_advice() {
    let dir = copy_pack();
    let path = dir.path().join("settlements.csv");
    let mut bytes = fs::read(&path).unwrap();
    let line = bytes.iter().filter(|b| **b == b'\n').count() as u64 + 1;
    // "Миасс" in cp1251.
    bytes
        .extend_from_slice(b"75742000,\xcc\xe8\xe0\xf1\xf1,\xe3\xee\xf0\xee\xe4,55.05,60.1,1000\n");
    fs::write(&path, bytes).unwrap();
    assert_points_at(
        &load_err(dir.path()),
        "settlements.csv",
        Some(line),
        "UTF-8",
    );
}

#[test]
fn a_toml_error_names_the_line() {
    let dir = copy_pack();
    let path = dir.path().join("deadlines.toml");
    let line = append_line(
        &path,
        "[[rules]]\nregime = \"pos\"\nclocks = [ { kind = \"answer\", amount = 10, unit = \"fortnights\", from = \"registered\" } ]",
    );
    let err = load_err(dir.path());
    // The bad value is two lines below the table header we appended.
    assert_points_at(&err, "deadlines.toml", Some(line), "fortnights");
}

#[test]
fn an_unknown_topic_field_is_refused() {
    let dir = copy_pack();
    let path = dir.path().join("taxonomy.toml");
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, text.replacen("keywords = [", "keywrds = [", 1)).unwrap();
    let err = load_err(dir.path());
    assert!(err.file.ends_with("taxonomy.toml"), "{err}");
    assert!(err.line.is_some(), "{err}");
}

#[test]
fn a_missing_file_is_named() {
    let dir = copy_pack();
    fs::remove_file(dir.path().join("organisations.csv")).unwrap();
    let err = load_err(dir.path());
    assert!(err.file.ends_with("organisations.csv"), "{err}");
    assert!(err.reason.contains("не удалось прочитать"), "{err}");
}

#[test]
fn a_regime_without_a_rule_is_refused() {
    let dir = copy_pack();
    let path = dir.path().join("deadlines.toml");
    let text = fs::read_to_string(&path).unwrap();
    let start = text.find("[[rules]]\nregime = \"hotline\"").unwrap();
    fs::write(&path, &text[..start]).unwrap();
    assert_points_at(&load_err(dir.path()), "deadlines.toml", None, "hotline");
}

#[test]
fn an_impossible_time_zone_offset_is_refused() {
    let dir = copy_pack();
    let path = dir.path().join("region.toml");
    let text = fs::read_to_string(&path).unwrap();
    fs::write(
        &path,
        text.replace("utc_offset_hours = 5", "utc_offset_hours = 2000000000"),
    )
    .unwrap();
    assert_points_at(&load_err(dir.path()), "region.toml", None, "смещение UTC");
}

#[test]
fn ranking_rules_are_read_and_bad_ones_refused() {
    let pack = RegionPack::load(bundled()).unwrap();
    assert_eq!(pack.ranking.min_sample, 30);
    assert_eq!(pack.ranking.weights.timeliness, 0.4);

    for (from, to, reason) in [
        ("timeliness = 0.4", "timeliness = -1.0", "веса рейтинга"),
        ("min_sample = 30", "min_sample = 0", "min_sample"),
    ] {
        let dir = copy_pack();
        let path = dir.path().join("kpi.toml");
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(from));
        fs::write(&path, text.replace(from, to)).unwrap();
        let err = load_err(dir.path());
        assert!(err.file.ends_with("kpi.toml"), "{err}");
        assert!(err.reason.contains(reason), "{err}");
        let ranking_line = text.lines().position(|l| l == "[ranking]").unwrap() as u64 + 1;
        assert!(
            err.line.is_some_and(|l| l >= ranking_line),
            "the line points into [ranking]: {err}"
        );
    }
}

#[test]
fn formula_indicators_are_read_and_bad_ones_refused() {
    let pack = RegionPack::load(bundled()).unwrap();
    assert!(
        pack.indicators
            .iter()
            .any(|i| i.id == "overdue_per_100_open")
    );
    for (to, reason) in [
        (
            "formula = \"overdue / opened * 100\"",
            "неизвестная величина «opened»",
        ),
        ("formula = \"(overdue / open * 100\"", "скобка"),
    ] {
        let dir = copy_pack();
        let path = dir.path().join("kpi.toml");
        let text = fs::read_to_string(&path).unwrap();
        let from = "formula = \"overdue / open * 100\"";
        assert!(text.contains(from));
        fs::write(&path, text.replace(from, to)).unwrap();
        let err = load_err(dir.path());
        assert!(err.file.ends_with("kpi.toml"), "{err}");
        assert!(err.reason.contains("overdue_per_100_open"), "{err}");
        assert!(err.reason.contains(reason), "{err}");
        let line = text.lines().position(|l| l == "[[indicators]]").unwrap() as u64 + 1;
        assert!(err.line.is_some_and(|l| l >= line), "{err}");
    }
    // A target without a direction.
    let dir = copy_pack();
    let path = dir.path().join("kpi.toml");
    let text = fs::read_to_string(&path).unwrap();
    fs::write(
        &path,
        text.replace("target = 5.5\ndirection = \"at_most\"\n", "target = 5.5\n"),
    )
    .unwrap();
    assert!(load_err(dir.path()).reason.contains("direction"));
}

#[test]
fn an_impossible_auto_apply_threshold_is_refused() {
    for bad in ["0.2", "1.5", "nan"] {
        let dir = copy_pack();
        let path = dir.path().join("region.toml");
        let text = fs::read_to_string(&path).unwrap();
        fs::write(
            &path,
            text.replace(
                "classifier_auto_apply_confidence = 0.95",
                &format!("classifier_auto_apply_confidence = {bad}"),
            ),
        )
        .unwrap();
        assert_points_at(
            &load_err(dir.path()),
            "region.toml",
            None,
            "classifier_auto_apply_confidence",
        );
    }
}

//! The region pack: everything region-specific as data (PRODUCT §2).
//!
//! A pack is a directory of CSV and TOML files (see `data/regions/chelyabinsk/README.md`). It is
//! loaded and validated at start; a broken pack fails with the file, the line and the reason, and
//! nothing is half-loaded.

use crate::calendar::{CalendarDay, DayKind, WorkCalendar};
use crate::deadline::{ClockKind, DeadlineEngine, DeadlineRule};
use crate::domain::{BlockCode, GeoPoint, MunicipalityCode, OrganisationCode, Regime, TopicCode};
use chrono::{Datelike, FixedOffset, NaiveDate, Weekday};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// Overrides the region pack directory.
pub const PACK_DIR_ENV: &str = "TSUR_PACK_DIR";

/// The files of a pack, in the order they are loaded and hashed.
pub const PACK_FILES: &[&str] = &[
    "region.toml",
    "municipalities.csv",
    "settlements.csv",
    "taxonomy.toml",
    "organisations.csv",
    "deadlines.toml",
    "kpi.toml",
    "calendar.csv",
];

/// Why a pack failed to load: the file, the line (when one is to blame) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PackError {
    pub file: PathBuf,
    pub line: Option<u64>,
    pub reason: String,
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(
                f,
                "пакет региона: {}, строка {}: {}",
                self.file.display(),
                line,
                self.reason
            ),
            None => write!(f, "пакет региона: {}: {}", self.file.display(), self.reason),
        }
    }
}

/// The region's identity, time zone, bounds and SLA settings (`region.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionInfo {
    pub id: String,
    pub name: String,
    /// IANA name, for people; the engine uses `utc_offset_hours`.
    pub timezone: String,
    pub utc_offset_hours: i32,
    pub bbox: BoundingBox,
    pub centre: GeoPoint,
    pub at_risk_window_hours: u32,
    /// A suggested classification is applied without a person only at or above this confidence.
    #[serde(default = "default_auto_apply_confidence")]
    pub classifier_auto_apply_confidence: f64,
}

fn default_auto_apply_confidence() -> f64 {
    0.95
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundingBox {
    pub min_lat: f64,
    pub max_lat: f64,
    pub min_lon: f64,
    pub max_lon: f64,
}

impl BoundingBox {
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        (self.min_lat..=self.max_lat).contains(&lat) && (self.min_lon..=self.max_lon).contains(&lon)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Municipality {
    pub code: MunicipalityCode,
    pub name: String,
    pub short_name: String,
    /// city_okrug, municipal_okrug, municipal_district… — data, not code.
    pub kind: String,
    pub admin_centre: String,
    pub point: GeoPoint,
    pub population: u32,
    /// `oktmo` when the code is the OKTMO code, `tsur` when it is the pack's own stable code.
    pub code_source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settlement {
    pub municipality: MunicipalityCode,
    pub name: String,
    pub kind: String,
    pub point: GeoPoint,
    pub population: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Topic {
    pub code: TopicCode,
    pub name: String,
    pub keywords: Vec<String>,
    /// Answers the centre sends on this topic (the operator's composer offers them first).
    pub answer_templates: Vec<AnswerTemplate>,
}

/// A ready answer an operator starts from (`answer_templates` in taxonomy.toml, per block or
/// per topic). `{тема}` in the text becomes the topic's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerTemplate {
    pub title: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    pub code: BlockCode,
    /// The short name shown everywhere and used as the JSON key, e.g. "ЖКХ".
    pub name: String,
    pub full_name: String,
    pub topics: Vec<Topic>,
    /// Answers for any topic of the block.
    pub answer_templates: Vec<AnswerTemplate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organisation {
    pub code: OrganisationCode,
    pub name: String,
    pub kind: String,
    /// `None` for bodies that cover every block (municipal administrations).
    pub block: Option<BlockCode>,
    /// `None` for regional bodies.
    pub municipality: Option<MunicipalityCode>,
    /// An invented name, for the demo region only.
    pub demo: bool,
}

/// Whether a KPI should be at least or at most its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetDirection {
    AtLeast,
    AtMost,
}

/// A KPI's target (`kpi.toml`); the indicators themselves are computed by the analytics engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiTarget {
    pub id: String,
    pub name: String,
    pub unit: String,
    pub target: f64,
    pub direction: TargetDirection,
    #[serde(default)]
    pub regime: Option<Regime>,
    #[serde(default)]
    pub note: Option<String>,
}

/// An additional indicator (п.6.3): a formula over the KPIs' measures
/// ([`crate::analytics::formula`]), with an optional target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorDef {
    pub id: String,
    pub name: String,
    pub unit: String,
    pub formula: String,
    #[serde(default)]
    pub target: Option<f64>,
    #[serde(default)]
    pub direction: Option<TargetDirection>,
}

/// The ranking of organisations (п.11.3): the smallest sample that is ranked, and how much each
/// component weighs in the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankingRules {
    pub min_sample: u32,
    pub weights: RankingWeights,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankingWeights {
    pub timeliness: f64,
    pub merits: f64,
    pub satisfaction: f64,
    pub repeats: f64,
}

impl Default for RankingRules {
    fn default() -> Self {
        RankingRules {
            min_sample: 30,
            weights: RankingWeights {
                timeliness: 0.4,
                merits: 0.2,
                satisfaction: 0.25,
                repeats: 0.15,
            },
        }
    }
}

/// When a municipality × topic is far above its baseline (`[surges]` in kpi.toml): the count of
/// the last `window_days` is compared with the counts of the `baseline_windows` windows of the
/// same length before it; a surge needs at least `min_count` appeals, `factor` times the baseline
/// mean, and `z` standard deviations above it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurgeRules {
    pub window_days: u32,
    pub baseline_windows: u32,
    pub min_count: u32,
    pub factor: f64,
    pub z: f64,
}

impl Default for SurgeRules {
    fn default() -> Self {
        SurgeRules {
            window_days: 7,
            baseline_windows: 8,
            min_count: 5,
            factor: 3.0,
            z: 3.0,
        }
    }
}

/// How appeals are grouped into problems (`[problems]` in kpi.toml): an appeal joins a group of
/// its topic whose centre is within `radius_m` metres of it (or, without coordinates, in its
/// municipality), whose latest appeal came at most `window_days` before it, and whose texts share
/// enough of its word stems (`min_similarity`, in [0, 1]) or at least half of whose appeals come
/// from its building; a group becomes a problem at
/// `min_appeals` appeals. A resolved problem whose appeals were all answered within
/// `accelerated_days` of the first counts as solved through accelerated resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemRules {
    pub radius_m: f64,
    pub window_days: u32,
    pub min_similarity: f64,
    pub min_appeals: u32,
    pub accelerated_days: u32,
}

impl Default for ProblemRules {
    fn default() -> Self {
        ProblemRules {
            radius_m: 400.0,
            window_days: 10,
            min_similarity: 0.35,
            min_appeals: 3,
            accelerated_days: 3,
        }
    }
}

/// A loaded, validated region pack.
#[derive(Debug, Clone)]
pub struct RegionPack {
    pub dir: PathBuf,
    pub region: RegionInfo,
    pub municipalities: Vec<Municipality>,
    pub settlements: Vec<Settlement>,
    pub blocks: Vec<Block>,
    pub organisations: Vec<Organisation>,
    pub deadline_rules: Vec<DeadlineRule>,
    pub kpi_targets: Vec<KpiTarget>,
    /// How organisations are ranked (`[ranking]` in kpi.toml).
    pub ranking: RankingRules,
    /// When a municipality × topic counts as a surge (`[surges]` in kpi.toml).
    pub surges: SurgeRules,
    /// How appeals are grouped into problems (`[problems]` in kpi.toml).
    pub problems: ProblemRules,
    /// Additional indicators as formulas (`[[indicators]]` in kpi.toml).
    pub indicators: Vec<IndicatorDef>,
    pub calendar: WorkCalendar,
    /// The region's local time offset (checked at load).
    offset: FixedOffset,
    /// SHA-256 of the pack's files, so clients can tell whether they compute with the same rules.
    pub version_hash: String,
}

impl RegionPack {
    /// The Chelyabinsk pack shipped in the repository (for tests, tools and the default app).
    pub fn bundled_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/regions/chelyabinsk")
    }

    /// Finds the pack to use: an explicit path, `TSUR_PACK_DIR`, `data/regions/chelyabinsk` beside
    /// the executable (or `../share/tsur/regions/chelyabinsk` for system installs), then the
    /// source tree's copy.
    pub fn locate(explicit: Option<&Path>) -> PathBuf {
        if let Some(dir) = explicit {
            return dir.to_path_buf();
        }
        if let Some(dir) = std::env::var_os(PACK_DIR_ENV) {
            return PathBuf::from(dir);
        }
        if let Some(exe_dir) = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
        {
            for candidate in [
                exe_dir.join("data/regions/chelyabinsk"),
                exe_dir.join("../share/tsur/regions/chelyabinsk"),
            ] {
                if candidate.join("region.toml").is_file() {
                    return candidate;
                }
            }
        }
        Self::bundled_dir()
    }

    /// Loads and validates a pack directory.
    pub fn load(dir: impl AsRef<Path>) -> Result<RegionPack, PackError> {
        let dir = dir.as_ref().to_path_buf();
        let mut hasher = Sha256::new();
        let mut texts = HashMap::new();
        for name in PACK_FILES {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).map_err(|e| PackError {
                file: path.clone(),
                line: None,
                reason: format!("не удалось прочитать файл: {e}"),
            })?;
            hasher.update(name.as_bytes());
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(&bytes);
            let text = String::from_utf8(bytes).map_err(|e| {
                let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count() as u64;
                PackError {
                    file: path.clone(),
                    line: Some(line),
                    reason:
                        "файл не в кодировке UTF-8 (возможно, cp1251): пересохраните его в UTF-8"
                            .into(),
                }
            })?;
            texts.insert(*name, (path, text));
        }
        let file = |name: &str| -> (&Path, &str) {
            let (path, text) = &texts[name];
            (path.as_path(), text.as_str())
        };

        let (path, text) = file("region.toml");
        let region: RegionInfo = parse_toml(path, text)?;
        validate_region(path, &region)?;
        let threshold = region.classifier_auto_apply_confidence;
        if !(threshold.is_finite() && (0.5..=1.0).contains(&threshold)) {
            return Err(err(
                path,
                None,
                format!(
                    "classifier_auto_apply_confidence должно быть от 0.5 до 1, а не {threshold}"
                ),
            ));
        }
        let offset = (-12..=14)
            .contains(&region.utc_offset_hours)
            .then(|| FixedOffset::east_opt(region.utc_offset_hours * 3600))
            .flatten()
            .ok_or_else(|| {
                err(
                    path,
                    None,
                    format!("недопустимое смещение UTC: {}", region.utc_offset_hours),
                )
            })?;

        let (path, text) = file("municipalities.csv");
        let municipalities = load_municipalities(path, text, &region.bbox)?;
        let municipality_codes: HashSet<&str> =
            municipalities.iter().map(|m| m.code.as_str()).collect();

        let (path, text) = file("settlements.csv");
        let settlements = load_settlements(path, text, &region.bbox, &municipality_codes)?;

        let (path, text) = file("taxonomy.toml");
        let blocks = load_taxonomy(path, text)?;
        let block_codes: HashSet<&str> = blocks.iter().map(|b| b.code.as_str()).collect();

        let (path, text) = file("organisations.csv");
        let organisations = load_organisations(path, text, &block_codes, &municipality_codes)?;

        let (path, text) = file("deadlines.toml");
        let deadline_rules = load_deadlines(path, text)?;

        let (path, text) = file("kpi.toml");
        let (kpi_targets, ranking, surges, problems, indicators) = load_kpi(path, text)?;

        let (path, text) = file("calendar.csv");
        let calendar = load_calendar(path, text)?;

        let version_hash = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(RegionPack {
            dir,
            region,
            municipalities,
            settlements,
            blocks,
            organisations,
            deadline_rules,
            kpi_targets,
            ranking,
            surges,
            problems,
            indicators,
            calendar,
            offset,
            version_hash,
        })
    }

    /// The region's local time offset.
    pub fn offset(&self) -> FixedOffset {
        self.offset
    }

    /// A deadline engine with this pack's rules and calendar.
    pub fn deadline_engine(&self) -> DeadlineEngine {
        DeadlineEngine {
            rules: self.deadline_rules.clone(),
            calendar: self.calendar.clone(),
            offset: self.offset(),
            at_risk_window_hours: self.region.at_risk_window_hours,
        }
    }

    pub fn block(&self, code: &str) -> Option<&Block> {
        self.blocks.iter().find(|b| b.code.as_str() == code)
    }

    /// The block a topic belongs to, with the topic.
    /// The answer templates for a topic: the topic's own first, then its block's.
    pub fn answer_templates(&self, topic: &str) -> Vec<&AnswerTemplate> {
        match self.topic(topic) {
            Some((block, t)) => t
                .answer_templates
                .iter()
                .chain(&block.answer_templates)
                .collect(),
            None => Vec::new(),
        }
    }

    pub fn topic(&self, code: &str) -> Option<(&Block, &Topic)> {
        self.blocks.iter().find_map(|b| {
            b.topics
                .iter()
                .find(|t| t.code.as_str() == code)
                .map(|t| (b, t))
        })
    }

    pub fn municipality(&self, code: &str) -> Option<&Municipality> {
        self.municipalities.iter().find(|m| m.code.as_str() == code)
    }

    pub fn organisation(&self, code: &str) -> Option<&Organisation> {
        self.organisations.iter().find(|o| o.code.as_str() == code)
    }
}

fn err(path: &Path, line: Option<u64>, reason: impl Into<String>) -> PackError {
    PackError {
        file: path.to_path_buf(),
        line,
        reason: reason.into(),
    }
}

fn line_of_offset(text: &str, offset: usize) -> u64 {
    1 + text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u64
}

fn parse_toml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, PackError> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of_offset(text, s.start));
        err(path, line, e.message().to_string())
    })
}

fn validate_region(path: &Path, region: &RegionInfo) -> Result<(), PackError> {
    let b = &region.bbox;
    let valid = b.min_lat < b.max_lat
        && b.min_lon < b.max_lon
        && (-90.0..=90.0).contains(&b.min_lat)
        && (-90.0..=90.0).contains(&b.max_lat)
        && (-180.0..=180.0).contains(&b.min_lon)
        && (-180.0..=180.0).contains(&b.max_lon);
    if !valid {
        return Err(err(path, None, "границы региона (bbox) заданы неверно"));
    }
    if !b.contains(region.centre.lat, region.centre.lon) {
        return Err(err(path, None, "центр региона вне его границ (bbox)"));
    }
    Ok(())
}

/// Reads a CSV file with a header (lines starting with `#` are comments) into rows of strings,
/// after checking that every required column is present. Each row comes with its line number.
struct CsvTable {
    columns: HashMap<String, usize>,
    rows: Vec<(u64, Vec<String>)>,
}

impl CsvTable {
    fn read(path: &Path, text: &str, required: &[&str]) -> Result<CsvTable, PackError> {
        let mut reader = csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .flexible(false)
            .from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| err(path, e.position().map(|p| p.line()), e.to_string()))?
            .clone();
        // The header is the first line that is not a comment.
        let header_line = text
            .lines()
            .position(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map_or(1, |i| i as u64 + 1);
        let columns: HashMap<String, usize> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| (h.to_string(), i))
            .collect();
        for column in required {
            if !columns.contains_key(*column) {
                return Err(err(
                    path,
                    Some(header_line),
                    format!(
                        "нет столбца «{column}» (столбцы: {})",
                        headers.iter().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map(|p| p.line());
                let reason = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("ожидалось {expected_len} полей, найдено {len}"),
                    _ => e.to_string(),
                };
                err(path, line, reason)
            })?;
            let line = record.position().map_or(0, |p| p.line());
            rows.push((line, record.iter().map(str::to_string).collect()));
        }
        Ok(CsvTable { columns, rows })
    }
}

/// One row of a CSV table with accessors that report the file and line on bad values.
struct Row<'a> {
    path: &'a Path,
    line: u64,
    columns: &'a HashMap<String, usize>,
    values: &'a [String],
}

impl<'a> Row<'a> {
    fn str(&self, column: &str) -> &'a str {
        self.columns
            .get(column)
            .and_then(|i| self.values.get(*i))
            .map_or("", String::as_str)
    }

    fn required(&self, column: &str) -> Result<&'a str, PackError> {
        let value = self.str(column);
        if value.is_empty() {
            Err(self.error(format!("пустое значение в столбце «{column}»")))
        } else {
            Ok(value)
        }
    }

    fn optional(&self, column: &str) -> Option<&'a str> {
        Some(self.str(column)).filter(|v| !v.is_empty())
    }

    fn number<T: std::str::FromStr>(&self, column: &str) -> Result<T, PackError> {
        let value = self.required(column)?;
        value
            .parse()
            .map_err(|_| self.error(format!("«{value}» в столбце «{column}» — не число")))
    }

    fn point(&self, bbox: &BoundingBox) -> Result<GeoPoint, PackError> {
        let lat: f64 = self.number("lat")?;
        let lon: f64 = self.number("lon")?;
        if !lat.is_finite() || !lon.is_finite() || !bbox.contains(lat, lon) {
            return Err(self.error(format!(
                "точка ({lat}, {lon}) вне границ региона: широта {}..{}, долгота {}..{}",
                bbox.min_lat, bbox.max_lat, bbox.min_lon, bbox.max_lon
            )));
        }
        Ok(GeoPoint { lat, lon })
    }

    fn error(&self, reason: impl Into<String>) -> PackError {
        err(self.path, Some(self.line), reason)
    }
}

impl CsvTable {
    fn rows<'a>(&'a self, path: &'a Path) -> impl Iterator<Item = Row<'a>> + 'a {
        self.rows.iter().map(move |(line, values)| Row {
            path,
            line: *line,
            columns: &self.columns,
            values,
        })
    }
}

fn load_municipalities(
    path: &Path,
    text: &str,
    bbox: &BoundingBox,
) -> Result<Vec<Municipality>, PackError> {
    let table = CsvTable::read(
        path,
        text,
        &[
            "code",
            "name",
            "short_name",
            "type",
            "admin_centre",
            "lat",
            "lon",
            "population",
            "code_source",
        ],
    )?;
    let mut seen_codes = HashSet::new();
    let mut seen_names = HashSet::new();
    let mut out = Vec::new();
    for row in table.rows(path) {
        let code = row.required("code")?;
        if !seen_codes.insert(code.to_string()) {
            return Err(row.error(format!("код муниципалитета «{code}» повторяется")));
        }
        let name = row.required("name")?;
        if !seen_names.insert(name.to_string()) {
            return Err(row.error(format!("муниципалитет «{name}» повторяется")));
        }
        let code_source = row.required("code_source")?;
        if !matches!(code_source, "oktmo" | "tsur") {
            return Err(row.error(format!(
                "code_source должен быть oktmo или tsur, а не «{code_source}»"
            )));
        }
        out.push(Municipality {
            code: MunicipalityCode::new(code),
            name: name.to_string(),
            short_name: row.required("short_name")?.to_string(),
            kind: row.required("type")?.to_string(),
            admin_centre: row.required("admin_centre")?.to_string(),
            point: row.point(bbox)?,
            population: row.number("population")?,
            code_source: code_source.to_string(),
        });
    }
    if out.is_empty() {
        return Err(err(path, None, "нет ни одного муниципалитета"));
    }
    Ok(out)
}

fn load_settlements(
    path: &Path,
    text: &str,
    bbox: &BoundingBox,
    municipalities: &HashSet<&str>,
) -> Result<Vec<Settlement>, PackError> {
    let table = CsvTable::read(
        path,
        text,
        &[
            "municipality_code",
            "name",
            "kind",
            "lat",
            "lon",
            "population",
        ],
    )?;
    let mut out = Vec::new();
    for row in table.rows(path) {
        let municipality = row.required("municipality_code")?;
        if !municipalities.contains(municipality) {
            return Err(row.error(format!("неизвестный муниципалитет «{municipality}»")));
        }
        out.push(Settlement {
            municipality: MunicipalityCode::new(municipality),
            name: row.required("name")?.to_string(),
            kind: row.required("kind")?.to_string(),
            point: row.point(bbox)?,
            population: row.number("population")?,
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaxonomyFile {
    blocks: Vec<toml::Spanned<BlockEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockEntry {
    code: String,
    name: String,
    full_name: String,
    topics: Vec<toml::Spanned<TopicEntry>>,
    #[serde(default)]
    answer_templates: Vec<AnswerTemplate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicEntry {
    code: String,
    name: String,
    keywords: Vec<String>,
    #[serde(default)]
    answer_templates: Vec<AnswerTemplate>,
}

fn load_taxonomy(path: &Path, text: &str) -> Result<Vec<Block>, PackError> {
    let file: TaxonomyFile = parse_toml(path, text)?;
    let mut block_codes = HashSet::new();
    let mut block_names = HashSet::new();
    let mut topic_codes = HashSet::new();
    let mut out = Vec::new();
    for spanned in file.blocks {
        let line = Some(line_of_offset(text, spanned.span().start));
        let block = spanned.into_inner();
        if block.code.is_empty() || !block_codes.insert(block.code.clone()) {
            return Err(err(
                path,
                line,
                format!("код блока «{}» пуст или повторяется", block.code),
            ));
        }
        if !block_names.insert(block.name.clone()) {
            return Err(err(
                path,
                line,
                format!("название блока «{}» повторяется", block.name),
            ));
        }
        if block.topics.is_empty() {
            return Err(err(path, line, format!("у блока «{}» нет тем", block.name)));
        }
        let mut topics = Vec::new();
        for spanned in block.topics {
            let line = Some(line_of_offset(text, spanned.span().start));
            let topic = spanned.into_inner();
            if topic.code.is_empty() || !topic_codes.insert(topic.code.clone()) {
                return Err(err(
                    path,
                    line,
                    format!("код темы «{}» пуст или повторяется", topic.code),
                ));
            }
            topics.push(Topic {
                code: TopicCode::new(topic.code),
                name: topic.name,
                keywords: topic
                    .keywords
                    .into_iter()
                    .map(|k| k.to_lowercase())
                    .collect(),
                answer_templates: checked_templates(path, line, topic.answer_templates)?,
            });
        }
        out.push(Block {
            code: BlockCode::new(block.code),
            name: block.name,
            full_name: block.full_name,
            topics,
            answer_templates: checked_templates(path, line, block.answer_templates)?,
        });
    }
    Ok(out)
}

/// Answer templates with a title and a text each.
fn checked_templates(
    path: &Path,
    line: Option<u64>,
    templates: Vec<AnswerTemplate>,
) -> Result<Vec<AnswerTemplate>, PackError> {
    for t in &templates {
        if t.title.trim().is_empty() || t.text.trim().is_empty() {
            return Err(err(
                path,
                line,
                "у шаблона ответа пустое название или текст".to_string(),
            ));
        }
    }
    Ok(templates)
}

fn load_organisations(
    path: &Path,
    text: &str,
    blocks: &HashSet<&str>,
    municipalities: &HashSet<&str>,
) -> Result<Vec<Organisation>, PackError> {
    let table = CsvTable::read(
        path,
        text,
        &["code", "name", "kind", "block", "municipality_code", "demo"],
    )?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for row in table.rows(path) {
        let code = row.required("code")?;
        if !seen.insert(code.to_string()) {
            return Err(row.error(format!("код организации «{code}» повторяется")));
        }
        let block = row.optional("block");
        if let Some(block) = block
            && !blocks.contains(block)
        {
            return Err(row.error(format!("неизвестный блок «{block}»")));
        }
        let municipality = row.optional("municipality_code");
        if let Some(m) = municipality
            && !municipalities.contains(m)
        {
            return Err(row.error(format!("неизвестный муниципалитет «{m}»")));
        }
        let demo = match row.required("demo")? {
            "true" => true,
            "false" => false,
            other => {
                return Err(row.error(format!("demo должно быть true или false, а не «{other}»")));
            }
        };
        out.push(Organisation {
            code: OrganisationCode::new(code),
            name: row.required("name")?.to_string(),
            kind: row.required("kind")?.to_string(),
            block: block.map(BlockCode::new),
            municipality: municipality.map(MunicipalityCode::new),
            demo,
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeadlinesFile {
    rules: Vec<toml::Spanned<DeadlineRule>>,
}

fn load_deadlines(path: &Path, text: &str) -> Result<Vec<DeadlineRule>, PackError> {
    let file: DeadlinesFile = parse_toml(path, text)?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for spanned in file.rules {
        let line = Some(line_of_offset(text, spanned.span().start));
        let rule = spanned.into_inner();
        if !seen.insert((rule.regime, rule.channel)) {
            return Err(err(
                path,
                line,
                "правило для этого режима и канала повторяется",
            ));
        }
        if rule.clock(ClockKind::Answer).is_none() && rule.clock(ClockKind::FirstReaction).is_none()
        {
            return Err(err(
                path,
                line,
                "правило не задаёт ни срока ответа, ни срока первой реакции",
            ));
        }
        if let Some(clock) = rule.clocks.iter().find(|c| c.amount == 0) {
            return Err(err(
                path,
                line,
                format!("срок «{}» равен нулю", clock.kind.label_ru()),
            ));
        }
        out.push(rule);
    }
    for regime in Regime::ALL {
        if !out
            .iter()
            .any(|r| r.regime == *regime && r.channel.is_none())
        {
            return Err(err(
                path,
                None,
                format!(
                    "нет общего правила сроков для режима «{}» ({})",
                    regime.label_ru(),
                    regime.code()
                ),
            ));
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KpiFile {
    targets: Vec<toml::Spanned<KpiTarget>>,
    #[serde(default)]
    ranking: Option<toml::Spanned<RankingRules>>,
    #[serde(default)]
    surges: Option<toml::Spanned<SurgeRules>>,
    #[serde(default)]
    problems: Option<toml::Spanned<ProblemRules>>,
    #[serde(default)]
    indicators: Vec<toml::Spanned<IndicatorDef>>,
}

type KpiSections = (
    Vec<KpiTarget>,
    RankingRules,
    SurgeRules,
    ProblemRules,
    Vec<IndicatorDef>,
);

fn load_kpi(path: &Path, text: &str) -> Result<KpiSections, PackError> {
    let file: KpiFile = parse_toml(path, text)?;
    let surges = match file.surges {
        None => SurgeRules::default(),
        Some(spanned) => {
            let line = Some(line_of_offset(text, spanned.span().start));
            let rules = spanned.into_inner();
            let numbers_ok = rules.factor.is_finite()
                && rules.factor >= 1.0
                && rules.z.is_finite()
                && rules.z >= 0.0;
            if rules.window_days == 0 || rules.baseline_windows < 2 || !numbers_ok {
                return Err(err(
                    path,
                    line,
                    "правила всплесков: window_days ≥ 1, baseline_windows ≥ 2, factor ≥ 1, z ≥ 0",
                ));
            }
            rules
        }
    };
    let problems = match file.problems {
        None => ProblemRules::default(),
        Some(spanned) => {
            let line = Some(line_of_offset(text, spanned.span().start));
            let rules = spanned.into_inner();
            let radius_ok = rules.radius_m.is_finite() && rules.radius_m > 0.0;
            let similarity_ok = (0.0..=1.0).contains(&rules.min_similarity);
            if !radius_ok || !similarity_ok || rules.window_days == 0 || rules.min_appeals < 2 {
                return Err(err(
                    path,
                    line,
                    "правила проблем: radius_m > 0, window_days ≥ 1, min_similarity от 0 до 1, min_appeals ≥ 2",
                ));
            }
            rules
        }
    };
    let ranking = match file.ranking {
        None => RankingRules::default(),
        Some(spanned) => {
            let line = Some(line_of_offset(text, spanned.span().start));
            let rules = spanned.into_inner();
            let w = &rules.weights;
            let weights = [w.timeliness, w.merits, w.satisfaction, w.repeats];
            if weights.iter().any(|x| !x.is_finite() || *x < 0.0)
                || weights.iter().sum::<f64>() <= 0.0
            {
                return Err(err(
                    path,
                    line,
                    "веса рейтинга должны быть неотрицательными числами с ненулевой суммой",
                ));
            }
            if rules.min_sample == 0 {
                return Err(err(
                    path,
                    line,
                    "min_sample рейтинга должен быть не меньше 1",
                ));
            }
            rules
        }
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for spanned in file.targets {
        let line = Some(line_of_offset(text, spanned.span().start));
        let target = spanned.into_inner();
        if !seen.insert((target.id.clone(), target.regime)) {
            return Err(err(
                path,
                line,
                format!("показатель «{}» повторяется", target.id),
            ));
        }
        if !target.target.is_finite() {
            return Err(err(
                path,
                line,
                format!("цель показателя «{}» — не число", target.id),
            ));
        }
        out.push(target);
    }
    let mut indicators = Vec::new();
    let mut indicator_ids = HashSet::new();
    for spanned in file.indicators {
        let line = Some(line_of_offset(text, spanned.span().start));
        let def = spanned.into_inner();
        if !indicator_ids.insert(def.id.clone()) {
            return Err(err(
                path,
                line,
                format!("показатель «{}» повторяется", def.id),
            ));
        }
        if let Err(why) = crate::analytics::formula::Expr::parse(&def.formula) {
            return Err(err(path, line, format!("показатель «{}»: {why}", def.id)));
        }
        let target_ok = match (def.target, def.direction) {
            (None, None) => true,
            (Some(t), Some(_)) => t.is_finite(),
            _ => false,
        };
        if !target_ok {
            return Err(err(
                path,
                line,
                format!(
                    "показатель «{}»: цель (target) задаётся вместе с направлением (direction)",
                    def.id
                ),
            ));
        }
        indicators.push(def);
    }
    Ok((out, ranking, surges, problems, indicators))
}

fn load_calendar(path: &Path, text: &str) -> Result<WorkCalendar, PackError> {
    let table = CsvTable::read(path, text, &["date", "kind", "name", "source"])?;
    let mut days: BTreeMap<NaiveDate, CalendarDay> = BTreeMap::new();
    for row in table.rows(path) {
        let raw = row.required("date")?;
        let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
            row.error(format!(
                "неверная дата «{raw}»: ожидается ГГГГ-ММ-ДД, например 2026-01-09"
            ))
        })?;
        let kind_code = row.required("kind")?;
        let kind = DayKind::from_code(kind_code).ok_or_else(|| {
            row.error(format!(
                "неизвестный вид дня «{kind_code}» (holiday, day_off, non_working, working_day)"
            ))
        })?;
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        if kind == DayKind::WorkingDay && !weekend {
            return Err(row.error(format!(
                "{raw} — будний день, он не может быть рабочим по переносу"
            )));
        }
        if kind == DayKind::DayOff && weekend {
            return Err(row.error(format!(
                "{raw} — суббота или воскресенье, перенос выходного на него не имеет смысла"
            )));
        }
        if days.contains_key(&date) {
            return Err(row.error(format!("дата {raw} повторяется")));
        }
        days.insert(
            date,
            CalendarDay {
                date,
                kind,
                name: row.required("name")?.to_string(),
                source: row.required("source")?.to_string(),
            },
        );
    }
    Ok(WorkCalendar::new(days.into_values()))
}

//! The video wall apart from drawing: its configuration file, the playlist of scenes, the takeover
//! alarms and the personal-data guard. The wall runs for weeks with nobody at it, so everything
//! here is a function of the clock and the data: the scene shown is worked out from the time
//! (a playlist never stalls or drifts), an alarm is on exactly while its threshold is crossed,
//! and the data is stale when the clock has moved on past it.

use crate::views::{Period, WallData};
use anyhow::{Context as _, Result};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

/// One scene of the playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SceneKind {
    /// The region map with the heat of the period and the problems.
    Map,
    /// The KPI board against the pack's targets.
    Kpi,
    /// Open, overdue and on-time figures of each sector block.
    Blocks,
    /// The top problems and the surges.
    Problems,
    /// The ranking of organisations.
    Ranking,
    /// The newest social-media incidents: topic, place, time.
    Feed,
}

impl SceneKind {
    pub const ALL: [SceneKind; 6] = [
        SceneKind::Map,
        SceneKind::Kpi,
        SceneKind::Blocks,
        SceneKind::Problems,
        SceneKind::Ranking,
        SceneKind::Feed,
    ];

    pub fn title_ru(self) -> &'static str {
        match self {
            SceneKind::Map => "Карта обращений",
            SceneKind::Kpi => "Показатели и цели",
            SceneKind::Blocks => "Нагрузка по блокам",
            SceneKind::Problems => "Проблемы и всплески",
            SceneKind::Ranking => "Рейтинг организаций",
            SceneKind::Feed => "Новые инциденты в соцсетях",
        }
    }

    /// The name in the wall's footer (the playlist).
    pub fn short_ru(self) -> &'static str {
        match self {
            SceneKind::Map => "Карта",
            SceneKind::Kpi => "Показатели",
            SceneKind::Blocks => "Блоки",
            SceneKind::Problems => "Проблемы",
            SceneKind::Ranking => "Рейтинг",
            SceneKind::Feed => "Соцсети",
        }
    }

    /// A short name for files (`wall_map.png`).
    pub fn code(self) -> &'static str {
        match self {
            SceneKind::Map => "map",
            SceneKind::Kpi => "kpi",
            SceneKind::Blocks => "blocks",
            SceneKind::Problems => "problems",
            SceneKind::Ranking => "ranking",
            SceneKind::Feed => "feed",
        }
    }
}

/// A scene and how long it stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SceneSpec {
    pub kind: SceneKind,
    pub seconds: u32,
}

/// How the wall's window is laid out on the screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowMode {
    /// Borderless full screen on the monitor at `position`.
    #[default]
    Fullscreen,
    /// One borderless window at `position` of `size`, spanning several screens, divided into
    /// `columns` × `rows` cells, each showing the playlist one scene further on.
    Canvas,
    /// An ordinary window (trying a configuration at a desk).
    Window,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WindowSpec {
    pub mode: WindowMode,
    /// The top-left corner in the desktop's pixels (the monitor to use, or the canvas's corner).
    pub position: Option<[f32; 2]>,
    /// The canvas's size in pixels (5760 × 2160 for three 4K screens side by side at half scale).
    pub size: Option<[f32; 2]>,
    pub columns: u32,
    pub rows: u32,
}

impl Default for WindowSpec {
    fn default() -> Self {
        WindowSpec {
            mode: WindowMode::Fullscreen,
            position: None,
            size: None,
            columns: 1,
            rows: 1,
        }
    }
}

/// When the wall drops the playlist for the alarm scene. In the file, 0 turns a threshold off
/// (TOML has no "none").
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlarmRules {
    /// Open overdue appeals in the region at which the alarm goes off (none: never).
    #[serde(deserialize_with = "zero_is_none")]
    pub overdue_open: Option<u64>,
    /// A surge (municipality × topic) at least this many times its baseline…
    #[serde(deserialize_with = "zero_is_none")]
    pub surge_ratio: Option<f64>,
    /// …with at least this many appeals in its window.
    pub surge_min_count: u64,
    /// An alarm that is on clears only when its figure falls below this share of its threshold
    /// (0.9: 10 % below), so that a figure hovering at the threshold does not flip the wall
    /// every minute; 1 clears it as soon as the threshold is no longer crossed.
    pub clear_below: f64,
}

/// Reads a threshold where 0 means "no threshold".
fn zero_is_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default + PartialEq,
{
    let value = T::deserialize(d)?;
    Ok((value != T::default()).then_some(value))
}

impl Default for AlarmRules {
    fn default() -> Self {
        AlarmRules {
            overdue_open: Some(1_000),
            surge_ratio: Some(4.0),
            surge_min_count: 15,
            clear_below: 0.9,
        }
    }
}

/// The wall configuration file (`wall.toml`); every field has a default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WallConfig {
    /// The period of the figures.
    pub period: Period,
    /// Data older than this (seconds) is marked stale on the wall.
    pub stale_after_secs: u64,
    /// Scale of the wall's type against the workstation's (readable from 3–8 m).
    pub text_scale: f32,
    pub window: WindowSpec,
    #[serde(rename = "scene")]
    pub scenes: Vec<SceneSpec>,
    pub alarm: AlarmRules,
}

impl Default for WallConfig {
    fn default() -> Self {
        WallConfig {
            period: Period::Week,
            stale_after_secs: 180,
            text_scale: 2.0,
            window: WindowSpec::default(),
            scenes: SceneKind::ALL
                .iter()
                .map(|&kind| SceneSpec { kind, seconds: 30 })
                .collect(),
            alarm: AlarmRules::default(),
        }
    }
}

/// Longest and shortest a scene may stay, in seconds.
const SCENE_SECONDS: std::ops::RangeInclusive<u32> = 5..=3_600;

impl WallConfig {
    /// Reads and checks a configuration file; errors name the file and what is wrong.
    pub fn load(path: &Path) -> Result<WallConfig> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("не удалось прочитать настройки стены {}", path.display()))?;
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            anyhow::anyhow!(
                "{}: файл не в кодировке UTF-8 (сохраните его в UTF-8)",
                path.display()
            )
        })?;
        let config: WallConfig =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        config
            .check()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(config)
    }

    /// What is wrong with the values, if anything.
    pub fn check(&self) -> Result<(), String> {
        if self.scenes.is_empty() {
            return Err("нет ни одной сцены ([[scene]] kind = \"map\", seconds = 30)".into());
        }
        if let Some(s) = self
            .scenes
            .iter()
            .find(|s| !SCENE_SECONDS.contains(&s.seconds))
        {
            return Err(format!(
                "сцена «{}»: seconds = {}, ожидается от {} до {}",
                s.kind.code(),
                s.seconds,
                SCENE_SECONDS.start(),
                SCENE_SECONDS.end()
            ));
        }
        let w = &self.window;
        if !(1..=4).contains(&w.columns) || !(1..=4).contains(&w.rows) {
            return Err(format!(
                "window: columns = {}, rows = {}; каждое от 1 до 4",
                w.columns, w.rows
            ));
        }
        if w.mode == WindowMode::Canvas && w.size.is_none() {
            return Err("window: для mode = \"canvas\" нужен size = [ширина, высота]".into());
        }
        let valid = |v: &Option<[f32; 2]>, min: f32| {
            v.is_none_or(|[a, b]| a.is_finite() && b.is_finite() && a >= min && b >= min)
        };
        if !valid(&w.size, 320.0) {
            return Err("window.size: ширина и высота от 320 пикселей".into());
        }
        if !valid(&w.position, -100_000.0) {
            return Err("window.position: координаты должны быть числами".into());
        }
        if !(self.text_scale.is_finite() && (0.75..=6.0).contains(&self.text_scale)) {
            return Err(format!(
                "text_scale = {}, ожидается от 0.75 до 6",
                self.text_scale
            ));
        }
        if self.stale_after_secs < 30 {
            return Err(
                "stale_after_secs: не меньше 30 (синхронизация ждёт изменений до 25 с)".into(),
            );
        }
        if self
            .alarm
            .surge_ratio
            .is_some_and(|r| !(r.is_finite() && r > 1.0))
        {
            return Err("alarm.surge_ratio: число больше 1".into());
        }
        let clear = self.alarm.clear_below;
        if !(clear.is_finite() && clear > 0.0 && clear <= 1.0) {
            return Err(format!(
                "alarm.clear_below = {clear}: доля порога больше 0 и не больше 1"
            ));
        }
        Ok(())
    }

    /// The cells of the wall's window: one, or the canvas's grid.
    pub fn cells(&self) -> usize {
        (self.window.columns * self.window.rows) as usize
    }
}

/// The scene shown at `now_utc` in cell `cell` (cells show the playlist one scene apart), and the
/// seconds left until the next one. A function of the clock alone: nothing to stall or drift,
/// and a clock set back simply shows an earlier scene.
pub fn scene_at(scenes: &[SceneSpec], cell: usize, now_utc: i64) -> Option<(SceneKind, i64)> {
    let cycle: i64 = scenes.iter().map(|s| i64::from(s.seconds)).sum();
    if cycle <= 0 {
        return None;
    }
    let offset: i64 = scenes
        .iter()
        .cycle()
        .take(cell % scenes.len())
        .map(|s| i64::from(s.seconds))
        .sum();
    let mut at = (now_utc + offset).rem_euclid(cycle);
    for scene in scenes {
        let length = i64::from(scene.seconds);
        if at < length {
            return Some((scene.kind, length - at));
        }
        at -= length;
    }
    None
}

/// Something on the wall that crossed its threshold.
#[derive(Debug, Clone, PartialEq)]
pub enum Alarm {
    Overdue {
        count: u64,
        threshold: u64,
        /// Where: the municipalities with most of them.
        places: Vec<(String, u64)>,
        /// The earliest missed deadline among them.
        oldest_due_utc: Option<i64>,
    },
    Surge {
        municipality: String,
        topic: String,
        count: u64,
        ratio: f64,
        window_from_utc: i64,
    },
}

/// Whether a figure sets an alarm off, or keeps it on: the full threshold to go off, the lower
/// `clear_below` share of it to stay on.
fn crosses(value: f64, threshold: f64, was_on: bool, clear_below: f64) -> bool {
    let bar = if was_on {
        threshold * clear_below
    } else {
        threshold
    };
    value >= bar
}

const OVERDUE_KEY: &str = "overdue";

fn surge_key(municipality: &str, topic: &str) -> String {
    format!("surge:{municipality}:{topic}")
}

impl Alarm {
    /// Names the alarm across refreshes (its figures change, it stays the same alarm).
    pub fn key(&self) -> String {
        match self {
            Alarm::Overdue { .. } => OVERDUE_KEY.into(),
            Alarm::Surge {
                municipality,
                topic,
                ..
            } => surge_key(municipality, topic),
        }
    }
}

/// The alarms the data sets off under `rules`, the overdue alarm first. An alarm already on
/// (`log`) stays on until its figure falls below `clear_below` of its threshold.
pub fn alarms(rules: &AlarmRules, data: &WallData, log: &AlarmLog) -> Vec<Alarm> {
    let mut out = Vec::new();
    let on = |key: &str, value: f64, threshold: f64| {
        crosses(value, threshold, log.is_on(key), rules.clear_below)
    };
    if let Some(threshold) = rules.overdue_open
        && on(OVERDUE_KEY, data.totals.overdue as f64, threshold as f64)
    {
        out.push(Alarm::Overdue {
            count: data.totals.overdue,
            threshold,
            places: data.overdue_places.iter().take(5).cloned().collect(),
            oldest_due_utc: data.overdue_since_utc,
        });
    }
    if let Some(ratio) = rules.surge_ratio {
        out.extend(
            data.report
                .surges
                .iter()
                .filter(|s| {
                    let key = surge_key(&s.municipality_name, &s.topic_name);
                    on(&key, s.ratio, ratio) && s.count >= rules.surge_min_count
                })
                .take(3)
                .map(|s| Alarm::Surge {
                    municipality: s.municipality_name.clone(),
                    topic: s.topic_name.clone(),
                    count: s.count,
                    ratio: s.ratio,
                    window_from_utc: s.window_from_utc,
                }),
        );
    }
    out
}

/// When the wall first saw each alarm that is on: an alarm keeps its "since" while it stays on
/// and forgets it when it clears.
#[derive(Debug, Default)]
pub struct AlarmLog {
    since: BTreeMap<String, i64>,
}

impl AlarmLog {
    /// Whether the alarm of this key is on.
    pub fn is_on(&self, key: &str) -> bool {
        self.since.contains_key(key)
    }

    /// Takes the alarms on now; returns each with when it was first seen.
    pub fn update(&mut self, on: &[Alarm], now_utc: i64) -> Vec<(Alarm, i64)> {
        self.since
            .retain(|key, _| on.iter().any(|alarm| alarm.key() == *key));
        on.iter()
            .map(|alarm| {
                let since = *self.since.entry(alarm.key()).or_insert(now_utc);
                (alarm.clone(), since)
            })
            .collect()
    }
}

/// Whether the wall's data is stale at `now_utc`: the server is away, or the last good sync is
/// older than the configured limit, or there has been none.
pub fn is_stale(
    data_as_of_utc: Option<i64>,
    offline: bool,
    now_utc: i64,
    stale_after_secs: u64,
) -> bool {
    match data_as_of_utc {
        _ if offline => true,
        None => true,
        Some(at) => {
            now_utc.saturating_sub(at) > i64::try_from(stale_after_secs).unwrap_or(i64::MAX)
        }
    }
}

/// What the wall blanks out besides the server's rules: a surname with initials ("Иванов И.И.",
/// "И. И. Иванов") and a flat ("кв. 12", "квартира 12"), which point at one household.
fn wall_patterns() -> &'static [regex::Regex] {
    static COMPILED: std::sync::OnceLock<Vec<regex::Regex>> = std::sync::OnceLock::new();
    COMPILED.get_or_init(|| {
        [
            r"\p{Lu}\p{Ll}+\s+\p{Lu}\.\s?(\p{Lu}\.)?",
            r"\p{Lu}\.\s?(\p{Lu}\.\s?)?\p{Lu}\p{Ll}+",
            r"(?i)\b(кв\.?|квартира)\s*№?\s*\d+\w*",
        ]
        .iter()
        .filter_map(|p| regex::Regex::new(p).ok())
        .collect()
    })
}

/// A text with anything that looks like a name, a phone number, an e-mail address or a flat
/// blanked out (the server's redaction rules and the wall's own). Every text the wall receives
/// passes through it, whatever token the replica was synced with.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let mut cleaned = tsur_server::auth::redact(text, &tsur_core::domain::Author::default());
    for pattern in wall_patterns() {
        if pattern.is_match(&cleaned) {
            cleaned = pattern.replace_all(&cleaned, "[скрыто]").into_owned();
        }
    }
    if cleaned == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(cleaned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenes() -> Vec<SceneSpec> {
        vec![
            SceneSpec {
                kind: SceneKind::Map,
                seconds: 30,
            },
            SceneSpec {
                kind: SceneKind::Kpi,
                seconds: 20,
            },
            SceneSpec {
                kind: SceneKind::Feed,
                seconds: 10,
            },
        ]
    }

    #[test]
    fn the_playlist_follows_the_clock_and_cells_are_a_scene_apart() {
        let s = scenes();
        assert_eq!(scene_at(&s, 0, 0), Some((SceneKind::Map, 30)));
        assert_eq!(scene_at(&s, 0, 29), Some((SceneKind::Map, 1)));
        assert_eq!(scene_at(&s, 0, 30), Some((SceneKind::Kpi, 20)));
        assert_eq!(scene_at(&s, 0, 55), Some((SceneKind::Feed, 5)));
        assert_eq!(scene_at(&s, 0, 60), Some((SceneKind::Map, 30)));
        // A clock set back shows an earlier scene rather than failing.
        assert_eq!(scene_at(&s, 0, -5), Some((SceneKind::Feed, 5)));
        // The second cell is one scene ahead.
        assert_eq!(scene_at(&s, 1, 0), Some((SceneKind::Kpi, 20)));
        assert_eq!(scene_at(&s, 2, 0), Some((SceneKind::Feed, 10)));
        assert_eq!(scene_at(&s, 3, 0), Some((SceneKind::Map, 30)));
        assert_eq!(scene_at(&[], 0, 0), None);
    }

    #[test]
    fn a_configuration_file_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wall.toml");
        std::fs::write(
            &path,
            r#"
period = "month"
stale_after_secs = 120
[window]
mode = "canvas"
position = [0, 0]
size = [5760, 2160]
columns = 3
rows = 1
[[scene]]
kind = "map"
seconds = 40
[[scene]]
kind = "ranking"
seconds = 20
[alarm]
overdue_open = 300
surge_ratio = 3.0
surge_min_count = 10
"#,
        )
        .unwrap();
        let config = WallConfig::load(&path).unwrap();
        assert_eq!(config.period, Period::Month);
        assert_eq!(config.cells(), 3);
        assert_eq!(config.scenes.len(), 2);
        assert_eq!(config.alarm.overdue_open, Some(300));
        // 0 turns a threshold off.
        std::fs::write(&path, "[alarm]\noverdue_open = 0\nsurge_ratio = 0\n").unwrap();
        let off = WallConfig::load(&path).unwrap();
        assert_eq!(
            (off.alarm.overdue_open, off.alarm.surge_ratio),
            (None, None)
        );

        for (bad, says) in [
            ("[[scene]]\nkind = \"map\"\nseconds = 1\n", "seconds = 1"),
            ("[[scene]]\nkind = \"weather\"\nseconds = 30\n", "weather"),
            ("scene = []\n", "нет ни одной сцены"),
            ("[window]\nmode = \"canvas\"\n", "size"),
            ("[window]\ncolumns = 9\n", "columns"),
            ("stale_after_secs = 5\n", "stale_after_secs"),
            ("[alarm]\nsurge_ratio = 0.5\n", "surge_ratio"),
            ("[alarm]\noverdue_open = -3\n", "overdue_open"),
            ("[alarm]\nclear_below = 1.5\n", "clear_below"),
            ("colour = \"red\"\n", "colour"),
        ] {
            std::fs::write(&path, bad).unwrap();
            let err = format!("{:#}", WallConfig::load(&path).unwrap_err());
            assert!(err.contains(says), "{bad:?}: {err}");
            assert!(err.contains("wall.toml"), "{err}");
        }
        std::fs::write(&path, b"period = \"\xef\xee\xe4\"\n").unwrap();
        let err = format!("{:#}", WallConfig::load(&path).unwrap_err());
        assert!(err.contains("UTF-8"), "{err}");
        assert!(WallConfig::default().check().is_ok());
    }

    #[test]
    fn the_shipped_example_configuration_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/wall.example.toml");
        let config = WallConfig::load(&path).unwrap();
        assert_eq!(config.window.mode, WindowMode::Canvas);
        assert_eq!(config.cells(), 3);
        assert_eq!(config.scenes.len(), SceneKind::ALL.len());
    }

    #[test]
    fn an_alarm_keeps_its_since_while_on_and_forgets_it_when_cleared() {
        let overdue = |count| Alarm::Overdue {
            count,
            threshold: 10,
            places: Vec::new(),
            oldest_due_utc: None,
        };
        let mut log = AlarmLog::default();
        assert_eq!(log.update(&[overdue(12)], 100)[0].1, 100);
        assert_eq!(log.update(&[overdue(15)], 160)[0].1, 100);
        assert!(log.update(&[], 200).is_empty());
        assert_eq!(log.update(&[overdue(11)], 300)[0].1, 300);
    }

    #[test]
    fn an_alarm_goes_off_at_its_threshold_and_clears_only_well_below_it() {
        // Off: the threshold itself sets it off, anything below does not.
        assert!(crosses(100.0, 100.0, false, 0.9));
        assert!(!crosses(99.0, 100.0, false, 0.9));
        // On: it stays on down to 90 % of the threshold, and clears below that.
        assert!(crosses(95.0, 100.0, true, 0.9));
        assert!(crosses(90.0, 100.0, true, 0.9));
        assert!(!crosses(89.0, 100.0, true, 0.9));
        // clear_below = 1: it clears as soon as the threshold is no longer crossed.
        assert!(!crosses(99.0, 100.0, true, 1.0));
    }

    #[test]
    fn data_is_stale_when_offline_or_old() {
        assert!(is_stale(None, false, 1_000, 120));
        assert!(is_stale(Some(1_000), true, 1_000, 120));
        assert!(!is_stale(Some(1_000), false, 1_120, 120));
        assert!(is_stale(Some(1_000), false, 1_121, 120));
    }

    #[test]
    fn scrub_blanks_people_phones_emails_and_flats_and_keeps_addresses() {
        let text = "ул. Ленина, д. 5, кв. 12: звонить +7 912 345-67-89, ivanov@mail.ru, \
                    Петров Пётр Петрович, Сидорова А.В., И. И. Козлов, квартира 7б";
        let clean = scrub(text);
        for gone in [
            "345-67-89",
            "ivanov@mail.ru",
            "Петров",
            "Петрович",
            "Сидорова",
            "Козлов",
            "кв. 12",
            "квартира 7б",
        ] {
            assert!(!clean.contains(gone), "{gone} in {clean}");
        }
        assert!(clean.contains("ул. Ленина, д. 5"), "{clean}");
        assert!(matches!(
            scrub("Уборка снега: Миасс, ул. Лихачёва, д. 100 (75742000)"),
            Cow::Borrowed(_)
        ));
    }
}

//! The workstation's settings: kept in `settings.toml` in the config directory, with the access
//! token in a file of its own that only its owner can read. The token is never logged and never
//! shown in full ([`masked_token`]).

use crate::views::{AreaMeasure, Period};
use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Overrides the config directory (tests, portable installs).
pub const CONFIG_DIR_ENV: &str = "TSUR_CONFIG_DIR";

const SETTINGS_FILE: &str = "settings.toml";
const TOKEN_FILE: &str = "token";

/// The user's config directory for tsur, e.g. `~/.config/tsur` on Linux.
pub fn config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV) {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("ru", "tsur", "tsur").map(|d| d.config_dir().to_path_buf())
}

/// What the map draws under the overlays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basemap {
    /// A plain background with the municipalities (works anywhere, offline).
    None,
    /// Raster tiles from `tile_url`, cached on disk.
    Tiles,
    /// A PMTiles file of raster tiles (`pmtiles_path`), for laptops with no network.
    PmTiles,
}

impl Basemap {
    pub fn label_ru(self) -> &'static str {
        match self {
            Basemap::None => "Без подложки (работает офлайн)",
            Basemap::Tiles => "Тайловый сервер",
            Basemap::PmTiles => "Файл PMTiles (офлайн)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThemeChoice {
    Light,
    Dark,
}

/// Which map layers are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Layers {
    pub heat: bool,
    pub areas: bool,
    pub problems: bool,
    pub appeals: bool,
}

impl Default for Layers {
    fn default() -> Self {
        Layers {
            heat: true,
            areas: false,
            problems: true,
            appeals: true,
        }
    }
}

/// Everything the user sets, with the defaults of a first start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The centre's server; empty: the embedded demo.
    pub server_url: String,
    pub basemap: Basemap,
    /// `{z}/{x}/{y}` raster tiles: the centre's own tile server. Public OpenStreetMap tiles are
    /// for light use only, as their policy asks.
    pub tile_url: String,
    /// A local PMTiles file of raster tiles.
    pub pmtiles_path: String,
    pub theme: ThemeChoice,
    /// The interface language (Russian; others are not translated yet).
    pub language: String,
    pub period: Period,
    pub layers: Layers,
    pub area_measure: AreaMeasure,
    /// This machine is a video wall: the app starts as the wall (and the token above is the
    /// wall's).
    pub start_as_wall: bool,
    /// The wall's configuration file; empty: the defaults.
    pub wall_config: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server_url: String::new(),
            basemap: Basemap::None,
            tile_url: "https://tile.openstreetmap.org/{z}/{x}/{y}.png".into(),
            pmtiles_path: String::new(),
            theme: ThemeChoice::Light,
            language: "ru".into(),
            period: Period::Month,
            layers: Layers::default(),
            area_measure: AreaMeasure::PerCapita,
            start_as_wall: false,
            wall_config: String::new(),
        }
    }
}

/// Settings on disk in one directory.
#[derive(Debug, Clone)]
pub struct SettingsStore {
    dir: PathBuf,
}

impl SettingsStore {
    pub fn new(dir: impl Into<PathBuf>) -> SettingsStore {
        SettingsStore { dir: dir.into() }
    }

    /// The store in the user's config directory, when there is one.
    pub fn default_location() -> Option<SettingsStore> {
        config_dir().map(SettingsStore::new)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The saved settings; defaults when there are none. A file that cannot be read is left
    /// as it is (nothing is overwritten until the user saves) and the error says why.
    pub fn load(&self) -> anyhow::Result<Settings> {
        let path = self.dir.join(SETTINGS_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).with_context(|| {
                format!(
                    "настройки {} не прочитаны, используются настройки по умолчанию",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(e).with_context(|| format!("не удалось прочитать {}", path.display())),
        }
    }

    /// Saves atomically: a crash leaves the old file or the new one, never half of one.
    pub fn save(&self, settings: &Settings) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("не удалось создать каталог {}", self.dir.display()))?;
        let text = toml::to_string_pretty(settings)?;
        write_atomically(&self.dir.join(SETTINGS_FILE), text.as_bytes(), false)
    }

    /// The saved access token, if any.
    pub fn token(&self) -> anyhow::Result<Option<String>> {
        let path = self.dir.join(TOKEN_FILE);
        match std::fs::read_to_string(&path) {
            Ok(t) if t.trim().is_empty() => Ok(None),
            Ok(t) => Ok(Some(t.trim().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("не удалось прочитать {}", path.display())),
        }
    }

    /// Saves the token in a file only its owner can read (mode 0600 on Unix); an empty token
    /// removes it.
    pub fn set_token(&self, token: &str) -> anyhow::Result<()> {
        let path = self.dir.join(TOKEN_FILE);
        if token.trim().is_empty() {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
                _ => Ok(()),
            };
        }
        std::fs::create_dir_all(&self.dir)?;
        write_atomically(&path, token.trim().as_bytes(), true)
    }
}

/// Saves settings on a thread of its own, so the frame never waits for the disk. Requests are
/// numbered; the newest one waiting is written, and its number comes back on `written` with the
/// outcome (a number covers every request before it). Dropping the writer waits for the last
/// write, so nothing asked for is lost when the window closes.
pub struct SettingsWriter {
    settings: Option<std::sync::mpsc::Sender<(u64, Settings)>>,
    pub written: std::sync::mpsc::Receiver<(u64, Result<(), String>)>,
    next: u64,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SettingsWriter {
    pub fn spawn(store: SettingsStore) -> std::io::Result<SettingsWriter> {
        let (settings, wanted) = std::sync::mpsc::channel::<(u64, Settings)>();
        let (report, written) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("tsur-settings".into())
            .spawn(move || {
                while let Ok(first) = wanted.recv() {
                    let (number, latest) = wanted.try_iter().last().unwrap_or(first);
                    let outcome = store.save(&latest).map_err(|e| format!("{e:#}"));
                    let _ = report.send((number, outcome));
                }
            })?;
        Ok(SettingsWriter {
            settings: Some(settings),
            written,
            next: 0,
            thread: Some(thread),
        })
    }

    /// Asks for `settings` to be written; the request's number.
    pub fn save(&mut self, settings: &Settings) -> u64 {
        self.next += 1;
        if let Some(sender) = &self.settings {
            let _ = sender.send((self.next, settings.clone()));
        }
        self.next
    }
}

impl Drop for SettingsWriter {
    fn drop(&mut self) {
        self.settings = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`: a crash or a
/// full disk leaves the old file or the new one, never half of one, and no temporary file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], owner_only: bool) -> anyhow::Result<()> {
    // A hidden name of its own, so that no file of the user's is written over.
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(".tsur-tmp");
    let tmp = path.with_file_name(name);
    let written = write_then_rename(&tmp, path, bytes, owner_only);
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn write_then_rename(
    tmp: &Path,
    path: &Path,
    bytes: &[u8],
    owner_only: bool,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if owner_only {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = owner_only;
    let mut file = options
        .open(tmp)
        .with_context(|| format!("не удалось записать {}", tmp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(tmp, path)
        .with_context(|| format!("не удалось сохранить {}", path.display()))?;
    Ok(())
}

/// A token as it may be shown: its last four characters only.
pub fn masked_token(token: &str) -> String {
    let chars: Vec<char> = token.chars().collect();
    if chars.len() <= 8 {
        return "••••".into();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("••••{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_and_token_survive_a_round_trip_and_the_token_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::new(dir.path().join("cfg"));
        assert_eq!(store.load().unwrap(), Settings::default());
        let settings = Settings {
            server_url: "https://tsur.cur74.ru".into(),
            basemap: Basemap::Tiles,
            period: Period::Quarter,
            ..Settings::default()
        };
        store.save(&settings).unwrap();
        store.set_token("secret-token-1234567890").unwrap();
        assert_eq!(store.load().unwrap(), settings);
        assert_eq!(
            store.token().unwrap().as_deref(),
            Some("secret-token-1234567890")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("cfg/token"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(dir.path().join("cfg/settings.toml")).unwrap();
        assert!(
            !text.contains("secret"),
            "the token is not in settings.toml"
        );
        assert_eq!(masked_token("secret-token-1234567890"), "••••7890");
        assert_eq!(masked_token("short"), "••••");
    }

    #[test]
    fn a_broken_settings_file_is_reported_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("settings.toml"), "period = [").unwrap();
        let store = SettingsStore::new(dir.path());
        let err = store.load().unwrap_err();
        assert!(format!("{err:#}").contains("не прочитаны"), "{err:#}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("settings.toml")).unwrap(),
            "period = ["
        );
    }
}

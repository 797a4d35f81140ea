//! Where tsur keeps its files and finds its region pack.

use std::path::{Path, PathBuf};

/// Overrides the data directory (tests, portable installs).
pub const DATA_DIR_ENV: &str = "TSUR_DATA_DIR";
/// The user's data directory for tsur (`directories`): e.g. `~/.local/share/tsur` on Linux,
/// `%APPDATA%\tsur\tsur\data` on Windows. `TSUR_DATA_DIR` overrides it.
pub fn data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV) {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("ru", "tsur", "tsur").map(|d| d.data_dir().to_path_buf())
}

/// The replica file for a server: one per server address, so switching servers never mixes data.
pub fn replica_file_for(server: &str) -> String {
    let name: String = server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("replica-{name}.sqlite")
}

/// Finds the region pack (see [`tsur_core::pack::RegionPack::locate`]).
pub fn pack_dir(explicit: Option<&Path>) -> PathBuf {
    tsur_core::pack::RegionPack::locate(explicit)
}

/// Where map tiles are cached: `tiles` in the user's cache directory, or in the data directory
/// when `TSUR_DATA_DIR` is set.
pub fn tile_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV) {
        return Some(PathBuf::from(dir).join("tiles"));
    }
    directories::ProjectDirs::from("ru", "tsur", "tsur").map(|d| d.cache_dir().join("tiles"))
}

/// Overrides where exported files (PDF briefings, PNG snapshots of screens) are written.
pub const EXPORT_DIR_ENV: &str = "TSUR_EXPORT_DIR";

/// Where the app writes exported files: `TSUR_EXPORT_DIR`, else `tsur` in the user's documents
/// folder, else `exports` in the data directory.
pub fn export_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(EXPORT_DIR_ENV) {
        return Some(PathBuf::from(dir));
    }
    directories::UserDirs::new()
        .and_then(|u| u.document_dir().map(|d| d.join("tsur")))
        .or_else(|| data_dir().map(|d| d.join("exports")))
}

/// A file name for an export made at `at`: `брифинг-2026-11-27-140512.pdf`.
pub fn export_file_name(
    what: &str,
    at: chrono::DateTime<chrono::FixedOffset>,
    ext: &str,
) -> String {
    format!("{what}-{}.{ext}", at.format("%Y-%m-%d-%H%M%S"))
}

//! Where tsur keeps its files and finds its region pack.

use std::path::{Path, PathBuf};

/// Overrides the data directory (tests, portable installs).
pub const DATA_DIR_ENV: &str = "TSUR_DATA_DIR";
/// Overrides the region pack directory.
pub const PACK_DIR_ENV: &str = "TSUR_PACK_DIR";

/// The user's data directory for tsur (`directories`): e.g. `~/.local/share/tsur` on Linux,
/// `%APPDATA%\tsur\tsur\data` on Windows. `TSUR_DATA_DIR` overrides it.
pub fn data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV) {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("ru", "tsur", "tsur").map(|d| d.data_dir().to_path_buf())
}

/// The demo replica the app opens when no server is configured.
pub fn demo_replica_path() -> Option<PathBuf> {
    data_dir().map(|d| d.join("demo.sqlite"))
}

/// Finds the region pack: an explicit path, `TSUR_PACK_DIR`, `data/regions/chelyabinsk` beside
/// the executable (or in `../share/tsur/` for system installs), then the source tree's copy.
pub fn pack_dir(explicit: Option<&Path>) -> PathBuf {
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
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/regions/chelyabinsk")
}

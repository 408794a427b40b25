//! Locating the shared reference-data folder.

use std::path::PathBuf;

/// Environment variable that overrides the location of the shared data folder.
pub const SHARED_DATA_ENV: &str = "PETS_SHARED_DATA";

/// The shared reference-data folder: `$PETS_SHARED_DATA` when set, else `shared/data` beside
/// the workspace (`<workspace>/../shared/data`). `None` when the folder does not exist.
pub fn shared_data_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os(SHARED_DATA_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
    };
    dir.is_dir().then_some(dir)
}

/// `relative` inside the shared data folder, when the file exists.
pub(crate) fn shared_file(relative: &str) -> Option<PathBuf> {
    shared_data_dir()
        .map(|d| d.join(relative))
        .filter(|p| p.is_file())
}

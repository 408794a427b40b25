//! Helpers shared by the CLI's integration tests: run the built `pets` binary and read what
//! it said.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Run `pets` with `args`.
pub fn pets(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pets"))
        .args(args)
        .output()
        .expect("pets runs")
}

/// Standard output followed by standard error.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A path as a command-line argument.
pub fn p(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// Generate `rows` A&E attendances (seed `seed`) as `ae.parquet` with their declared schema
/// `ae.schema.json` in a new temporary folder.
pub fn ae(rows: u64, seed: u64) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let data = dir.path().join("ae.parquet");
    let schema = dir.path().join("ae.schema.json");
    let (rows, seed) = (rows.to_string(), seed.to_string());
    let o = pets(&[
        "datasets",
        "generate",
        "--rows",
        &rows,
        "--seed",
        &seed,
        "--out",
        p(&data),
        "--schema-out",
        p(&schema),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    (dir, data, schema)
}

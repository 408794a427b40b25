//! Shared machinery of the proptest-based fuzz tests (`fuzz_inputs.rs` here,
//! `crates/synth/tests/fuzz_model.rs`): case counts, structure-aware mutations of valid
//! inputs, and the checks every case must pass (no panic, no absurd allocation, prompt).
//!
//! `PETS_FUZZ_CASES=100000` runs every target that many cases (the default keeps the whole
//! set under 30 s in release mode). Each case's input is written to
//! `$CARGO_TARGET_TMPDIR/fuzz/<pid>/<target>.<ext>` before it runs, so if a case aborts the
//! process (an allocation the system refuses) the reproducer is on disk.
#![allow(dead_code)]

use std::alloc::System;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};

/// Most memory the whole test binary may hold at once. An allocation past it fails and
/// aborts the process ("memory allocation of N bytes failed"): the input that asked for it
/// is then on disk at [`input_path`].
pub const ALLOC_LIMIT: usize = 3 << 30;
/// Longest a case may take.
pub const TIME_LIMIT: Duration = Duration::from_secs(10);

/// The fuzz binaries' global allocator: the system's, capped at [`ALLOC_LIMIT`].
pub const fn capped() -> cap::Cap<System> {
    cap::Cap::new(System, ALLOC_LIMIT)
}

/// Cases per target: `PETS_FUZZ_CASES`, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PETS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The proptest configuration of a target (no regression files: reproducers become named
/// tests).
pub fn config(default: u32) -> Config {
    Config {
        cases: cases(default),
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    }
}

/// Where a target's current input is written.
pub fn input_path(target: &str, ext: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("fuzz")
        .join(std::process::id().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{target}.{ext}"))
}

/// Run one case: `run` must return (any `Ok` or typed error; a panic fails the case),
/// promptly, without any allocation over [`ALLOC_LIMIT`].
pub fn check<T>(what: &str, run: impl FnOnce() -> T) -> Result<T, TestCaseError> {
    let t = Instant::now();
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        TestCaseError::fail(format!("{what} panicked: {msg}"))
    })?;
    let took = t.elapsed();
    prop_assert!(took < TIME_LIMIT, "{what} took {took:?}");
    Ok(out)
}

/// One edit of a valid input.
#[derive(Debug, Clone)]
pub enum Edit {
    /// Flip one bit.
    Flip(usize, u8),
    /// Insert a token from the dictionary.
    Insert(usize, usize),
    /// Overwrite with a token.
    Overwrite(usize, usize),
    /// Delete a run of bytes.
    Delete(usize, usize),
    /// Swap two runs of bytes (fields, lines).
    Swap(usize, usize, usize),
    /// Duplicate a run of bytes in place (ragged rows, repeated keys).
    Duplicate(usize, usize),
    /// Replace a number with an extreme one.
    Number(usize, usize),
    /// Cut the input.
    Truncate(usize),
    /// Set one byte.
    Byte(usize, u8),
}

/// Extreme numbers, put where a number was.
pub const NUMBERS: &[&str] = &[
    "1e308",
    "-1e308",
    "1e309",
    "-0",
    "-0.0",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "4294967295",
    "4294967296",
    "16777216",
    "16777217",
    "0",
    "-1",
    "1e-320",
    "0x10",
    "1_000",
    "00001",
    "99999999999999999999999999999",
    "2.2250738585072014e-308",
    "3.4e38",
];

/// Tokens every format is given: encodings, line ends, quotes, nesting, dates.
pub const COMMON_TOKENS: &[&[u8]] = &[
    b"\xEF\xBB\xBF",
    b"\xFF\xFE",
    b"\xFE\xFF",
    b"\xE9",
    b"\xC3",
    b"\xC3\xA9",
    b"\x00",
    b"\r\n",
    b"\r",
    b"\n",
    b"\"",
    b"\"\"",
    b"'",
    b"\\",
    b",",
    b";",
    b"\t",
    b" ",
    b"1900-01-01T00:00:00",
    b"9999-12-31",
    b"0000-00-00",
    b"2024-02-30",
    b"-262144-01-01",
];

/// The edits to apply (1 to 8 of them).
pub fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let pos = any::<usize>();
    let edit = prop_oneof![
        (pos, 0u8..8).prop_map(|(p, b)| Edit::Flip(p, b)),
        (pos, any::<usize>()).prop_map(|(p, t)| Edit::Insert(p, t)),
        (pos, any::<usize>()).prop_map(|(p, t)| Edit::Overwrite(p, t)),
        (pos, 1usize..64).prop_map(|(p, n)| Edit::Delete(p, n)),
        (pos, pos, 1usize..32).prop_map(|(a, b, n)| Edit::Swap(a, b, n)),
        (pos, 1usize..128).prop_map(|(p, n)| Edit::Duplicate(p, n)),
        (pos, any::<usize>()).prop_map(|(p, t)| Edit::Number(p, t)),
        pos.prop_map(Edit::Truncate),
        (pos, any::<u8>()).prop_map(|(p, b)| Edit::Byte(p, b)),
    ];
    proptest::collection::vec(edit, 1..8)
}

/// `seed` with `edits` applied; `tokens` are the format's own (keys, keywords, nesting).
pub fn mutate(seed: &[u8], edits: &[Edit], tokens: &[&[u8]]) -> Vec<u8> {
    let mut v = seed.to_vec();
    let token = |t: usize| -> Vec<u8> {
        let all = COMMON_TOKENS.len() + tokens.len();
        let i = t % all;
        if i < COMMON_TOKENS.len() {
            COMMON_TOKENS[i].to_vec()
        } else {
            tokens[i - COMMON_TOKENS.len()].to_vec()
        }
    };
    for e in edits {
        let len = v.len();
        let at = |p: usize| if len == 0 { 0 } else { p % (len + 1) };
        match *e {
            Edit::Flip(p, b) if len > 0 => v[p % len] ^= 1 << b,
            Edit::Byte(p, b) if len > 0 => v[p % len] = b,
            Edit::Insert(p, t) => {
                let p = at(p);
                v.splice(p..p, token(t));
            }
            Edit::Overwrite(p, t) => {
                let p = at(p);
                let tok = token(t);
                let end = (p + tok.len()).min(v.len());
                v.splice(p..end, tok);
            }
            Edit::Delete(p, n) => {
                let p = at(p);
                let end = (p + n).min(v.len());
                v.drain(p..end);
            }
            Edit::Swap(a, b, n) if len > 0 => {
                let (a, b) = (a % len, b % len);
                let (a, b) = (a.min(b), a.max(b));
                let n = n.min(b - a).min(len - b);
                for i in 0..n {
                    v.swap(a + i, b + i);
                }
            }
            Edit::Duplicate(p, n) if len > 0 => {
                let p = p % len;
                let end = (p + n).min(len);
                let run = v[p..end].to_vec();
                v.splice(end..end, run);
            }
            Edit::Number(p, t) => {
                // Replace the run of digits at or after p with an extreme number.
                let p = at(p);
                let start = (p..v.len()).find(|&i| v[i].is_ascii_digit()).unwrap_or(p);
                let end = (start..v.len())
                    .find(|&i| !(v[i].is_ascii_digit() || b".eE+-".contains(&v[i])))
                    .unwrap_or(v.len());
                let n = NUMBERS[t % NUMBERS.len()].as_bytes().to_vec();
                v.splice(start..end, n);
            }
            Edit::Truncate(p) => {
                let p = at(p);
                v.truncate(p);
            }
            _ => {}
        }
    }
    v
}

/// An input: arbitrary bytes, or a seed with edits (most cases).
pub fn input(seeds: Vec<Vec<u8>>, tokens: &'static [&'static [u8]]) -> BoxedStrategy<Vec<u8>> {
    let n = seeds.len();
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..512),
        6 => (0..n, edits()).prop_map(move |(i, e)| mutate(&seeds[i], &e, tokens)),
    ]
    .boxed()
}

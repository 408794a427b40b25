//! One-shot MST timer and utility report on generated A&E rows (see `benches/README.md`).
//!
//! ```sh
//! cargo build --release -p pets-benches --examples
//! /usr/bin/time -v target/release/examples/synth_oneshot 1000000 [repeats] [max_iters] [dense]
//! ```
//!
//! `max_iters` of `-` keeps the default work budget; `dense` turns MST's sparse pairs off
//! (every pair measured densely, the reference MST).
//!
//! Encodes the 12 columns of the `synth` bench, then per repeat: fits MST at epsilon 1,
//! delta 1e-9 (fresh noise each time), samples as many rows as the data has, and prints fit
//! and sample wall and CPU seconds, the mean 1-way and 2-way TVD, the independent baseline
//! and the five worst 2-way pairs.

use std::time::Instant;

use pets::data::EncodedTable;
use pets_benches::{ae_encoded_with, config, reset_peak_rss, rss};
use pets_datasets::ae::ae_schema_for;
use pets_synth::eval::{independent_mean_tvd, mean_tvd};
use pets_synth::{MstOptions, fit_mst};

use pets_benches::SYNTH_COLUMNS as COLUMNS;

/// CPU seconds of this process (user + system), from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |p| p.1)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat(5); after the name they are 11 and 12.
    (ticks(11) + ticks(12)) / 100.0
}

fn worst_pairs(real: &EncodedTable, synth: &EncodedTable, k: usize) -> Vec<(f64, String)> {
    let mut out = Vec::new();
    for (i, &a) in COLUMNS.iter().enumerate() {
        for &b in &COLUMNS[i + 1..] {
            let pair = [a, b];
            let t = mean_tvd(real, synth, &pair, 2).expect("columns exist");
            out.push((t, format!("{} x {}", pair[0], pair[1])));
        }
    }
    out.sort_by(|x, y| y.0.total_cmp(&x.0));
    out.truncate(k);
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: u64 = args
        .get(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let repeats: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(1);
    let mut opts = MstOptions::new(1.0, 1e-9);
    if let Some(iters) = args.get(3).and_then(|v| v.parse().ok()) {
        opts.estimation.max_iters = iters;
        opts.estimation.work_budget = None;
    }
    opts.sparse_pairs = args.get(4).map(String::as_str) != Some("dense");
    // Streamed: the generated batches are encoded one at a time and never held together.
    let schema = ae_schema_for(&config(rows));
    let table = ae_encoded_with(rows, &schema, &COLUMNS, |_| {});
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let code_bytes = table.code_bytes() as u64;
    let no_postcode: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .filter(|c| *c != "postcode_district")
        .collect();
    println!(
        "rows {rows}: independent baseline mean 2-way TVD {:.4} (without postcode_district {:.4})",
        independent_mean_tvd(&table, &COLUMNS).expect("columns exist"),
        independent_mean_tvd(&table, &no_postcode).expect("columns exist"),
    );
    for r in 0..repeats {
        let (before, _) = rss();
        let reset = reset_peak_rss();
        let (t0, c0) = (Instant::now(), cpu_seconds());
        let model = fit_mst(&table, &COLUMNS, &opts).expect("fits");
        let (fit_wall, fit_cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - c0);
        let fit_peak = rss().1.saturating_sub(before);
        let (before, _) = rss();
        reset_peak_rss();
        let (t1, c1) = (Instant::now(), cpu_seconds());
        let synth = model
            .sample_table(rows as usize, r as u64)
            .expect("samples");
        let (s_wall, s_cpu) = (t1.elapsed().as_secs_f64(), cpu_seconds() - c1);
        let sample_peak = rss().1.saturating_sub(before);
        println!(
            "  memory: codes {:.1} MiB; fit working set {:.1} MiB ({:.2}x codes), sample \
             working set {:.1} MiB incl. its output ({:.2}x codes){}",
            mib(code_bytes),
            mib(fit_peak),
            fit_peak as f64 / code_bytes as f64,
            mib(sample_peak),
            sample_peak as f64 / code_bytes as f64,
            if reset { "" } else { " (peak not reset)" }
        );
        println!(
            "repeat {r}: fit {fit_wall:.2} s wall / {fit_cpu:.2} CPU-s ({} iterations), \
             sample {s_wall:.2} s / {s_cpu:.2} CPU-s; TVD 1-way {:.4}, 2-way {:.4} \
             (without postcode_district {:.4})",
            model.estimation.iterations,
            mean_tvd(&table, &synth, &COLUMNS, 1).expect("columns exist"),
            mean_tvd(&table, &synth, &COLUMNS, 2).expect("columns exist"),
            mean_tvd(&table, &synth, &no_postcode, 2).expect("columns exist"),
        );
        let (thresholded, dense): (Vec<_>, Vec<_>) = model
            .measurements
            .iter()
            .map(|m| &m.measurement)
            .partition(|m| m.threshold.is_some());
        let cells: usize = dense.iter().map(|m| m.values.len()).sum();
        let released: usize = thresholded
            .iter()
            .map(|m| (0..m.values.len()).filter(|&j| !m.is_censored(j)).count())
            .sum();
        // How far past `is_sparse`'s bar each thresholded table is: cells sigma / (4 N).
        let margins: Vec<String> = thresholded
            .iter()
            .map(|m| {
                let ratio = m.values.len() as f64 * m.sigma / model.total;
                format!("{:.2}", ratio / pets_synth::mst::SPARSE_NOISE_RATIO)
            })
            .collect();
        println!(
            "  {cells} noisy cells in dense tables; {} thresholded tables (cells sigma / 4N: \
             {}), {released} cells released; tree: {:?}",
            thresholded.len(),
            margins.join(", "),
            model.selected
        );
        for (t, p) in worst_pairs(&table, &synth, 5) {
            println!("  {t:.4}  {p}");
        }
    }
}

//! AIM against MST on generated A&E rows: fit time and 3-way workload error (see
//! `benches/README.md`, "AIM against MST").
//!
//! ```sh
//! cargo build --release -p pets-benches --examples
//! target/release/examples/aim_oneshot 100000 2 0.3,1,3 aim,mst
//! ```
//!
//! Arguments: ROWS [REPEATS] [EPSILONS] [METHODS]. Encodes the 12 columns of the `synth`
//! bench (data seed 7), or, with `ROWS` = `synae`, every column of the shared SynAE file on
//! its synthesis domain (`prepare_domain`'s defaults: the arrival date as week and weekday,
//! the minutes in department in geometric bands; 14 columns), then for each epsilon, method
//! and repeat (fresh noise each time) fits at (epsilon, 1e-9), samples as many rows as the
//! data has and prints the fit's wall and CPU seconds, its noisy cells, and the mean total
//! variation distance over every 3-way marginal of the columns (AIM's default workload: 220
//! marginals of the 12 A&E columns), every 2-way and every 1-way marginal, on the codes; and
//! the 3-way mean split between the triples that hold the widest column and the others.
//!
//! Experiments (AIM): `PETS_AIM_COMPRESS=1` turns compression on; `PETS_AIM_ROUND_WORK` and
//! `PETS_AIM_ROUND_MIN_ITERS` set each round's inference budget, `PETS_AIM_FINAL_WORK` the
//! final one's; `PETS_AIM_EQUAL_ONE_WAYS=1` measures the 1-ways with equal shares (the
//! paper's); `PETS_AIM_TREE_SHARE=0` starts from the 1-ways alone (the paper's AIM,
//! uncompressed; default 1/2 of rho on MST's tree first); `PETS_AIM_MAX_MODEL_CELLS`, `PETS_AIM_ROUNDS`; `PETS_AIM_VERBOSE=1` prints each
//! selected marginal with its noise; `PETS_AIM_PER_TRIPLE=1` prints every triple's TVD
//! (lines `  triple METHOD a,b,c TVD`).

use std::time::Instant;

use pets::data::EncodedTable;
use pets::data::encode::{EncodeOptions, encode_file};
use pets_benches::SYNTH_COLUMNS as COLUMNS;
use pets_benches::{ae_encoded_with, config};
use pets_datasets::ae::ae_schema_for;
use pets_synth::{
    AimOptions, DomainOptions, MstOptions, SynthModel, fit_aim, fit_mst, prepare_domain,
};
use rayon::prelude::*;

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
    (ticks(11) + ticks(12)) / 100.0
}

/// Sorted cell keys of marginal `cols` (one `u64` a row: codes in mixed radix).
fn keys(t: &EncodedTable, cols: &[usize]) -> Vec<u64> {
    let c: Vec<_> = cols.iter().map(|&i| &t.columns()[i]).collect();
    let mut k: Vec<u64> = (0..t.n_rows())
        .map(|r| {
            c.iter().fold(0u64, |acc, col| {
                acc * u64::from(col.codebook.cardinality() + 2) + u64::from(col.codes[r])
            })
        })
        .collect();
    k.sort_unstable();
    k
}

/// Total variation distance between the marginals `cols` of two tables (sparse: sorted
/// keys, merged).
fn tvd(real: &EncodedTable, synth: &EncodedTable, cols: &[usize]) -> f64 {
    let (a, b) = (keys(real, cols), keys(synth, cols));
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.len() || j < b.len() {
        let key = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        let (mut ca, mut cb) = (0usize, 0usize);
        while a.get(i) == Some(&key) {
            ca += 1;
            i += 1;
        }
        while b.get(j) == Some(&key) {
            cb += 1;
            j += 1;
        }
        sum += (ca as f64 / na - cb as f64 / nb).abs();
    }
    0.5 * sum
}

/// Every `k`-subset (`k` <= 3) of the `d` columns.
fn subsets(d: usize, k: usize) -> Vec<Vec<usize>> {
    let mut sets: Vec<Vec<usize>> = Vec::new();
    for a in 0..d {
        if k == 1 {
            sets.push(vec![a]);
            continue;
        }
        for b in a + 1..d {
            if k == 2 {
                sets.push(vec![a, b]);
                continue;
            }
            for c in b + 1..d {
                sets.push(vec![a, b, c]);
            }
        }
    }
    sets
}

/// Mean TVD over `sets`.
fn mean_over(real: &EncodedTable, synth: &EncodedTable, sets: &[Vec<usize>]) -> f64 {
    let t: Vec<f64> = sets.par_iter().map(|s| tvd(real, synth, s)).collect();
    t.iter().sum::<f64>() / t.len().max(1) as f64
}

fn mean_tvd(real: &EncodedTable, synth: &EncodedTable, k: usize) -> f64 {
    mean_over(real, synth, &subsets(real.columns().len(), k))
}

/// The SynAE file's columns on their synthesis domain (prepare_domain's defaults).
fn synae_table() -> EncodedTable {
    let path = pets_datasets::synae::path().expect("the shared SynAE file (PETS_SHARED_DATA)");
    let dom = prepare_domain(
        &pets_datasets::synae::schema(),
        &[],
        &DomainOptions::default(),
    )
    .expect("SynAE's synthesis domain");
    let table = encode_file(&path, &dom.encode, EncodeOptions::default()).expect("encoded");
    dom.derive(table).expect("calendar parts")
}

/// The `synth` bench's 12 columns of `rows` generated A&E rows (data seed 7).
fn ae_table(rows: u64) -> EncodedTable {
    let schema = ae_schema_for(&config(rows));
    let table = ae_encoded_with(rows, &schema, &COLUMNS, |_| {});
    // Columns in COLUMNS order, so set indices match.
    EncodedTable::from_columns(
        COLUMNS
            .iter()
            .map(|c| table.column(c).expect("encoded").clone())
            .collect(),
    )
    .expect("same rows")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = args.get(1).map_or("100000", String::as_str);
    let repeats: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(1);
    let epsilons: Vec<f64> = args
        .get(3)
        .map_or("1", String::as_str)
        .split(',')
        .map(|e| e.parse().expect("epsilons: e.g. 0.3,1,3"))
        .collect();
    let methods: Vec<String> = args
        .get(4)
        .map_or("aim,mst", String::as_str)
        .split(',')
        .map(str::to_string)
        .collect();
    let table = if data == "synae" {
        synae_table()
    } else {
        ae_table(data.parse().expect("ROWS: a number or synae"))
    };
    let rows = table.n_rows() as u64;
    let names: Vec<String> = table
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let widest = (0..names.len())
        .max_by_key(|&i| table.columns()[i].codebook.cardinality())
        .expect("columns");
    let (with_widest, without): (Vec<_>, Vec<_>) = subsets(names.len(), 3)
        .into_iter()
        .partition(|s| s.contains(&widest));
    let cols: Vec<&str> = names.iter().map(String::as_str).collect();
    for &eps in &epsilons {
        for method in &methods {
            for r in 0..repeats {
                let (t0, c0) = (Instant::now(), cpu_seconds());
                let model: SynthModel = match method.as_str() {
                    "aim" => {
                        let mut o = AimOptions::new(eps, 1e-9);
                        if let Ok(v) = std::env::var("PETS_AIM_COMPRESS") {
                            o.compress = v != "0";
                        }
                        // Experiments: each round's inference work budget, its fewest
                        // iterations, the final one's.
                        let var = |k: &str| std::env::var(k).ok().and_then(|v| v.parse().ok());
                        if let Some(w) = var("PETS_AIM_ROUND_WORK") {
                            o.round_estimation.work_budget = Some(w);
                        }
                        if let Some(i) = var("PETS_AIM_ROUND_MIN_ITERS") {
                            o.round_estimation.min_iters = i as usize;
                        }
                        if let Some(w) = var("PETS_AIM_FINAL_WORK") {
                            o.estimation.work_budget = Some(w);
                        }
                        if let Some(c) = var("PETS_AIM_MAX_MODEL_CELLS") {
                            o.max_model_cells = c as u64;
                        }
                        if let Some(t) = var("PETS_AIM_ROUNDS") {
                            o.rounds = Some(t as usize);
                        }
                        if let Some(f) = var("PETS_AIM_TREE_SHARE") {
                            o.tree_share = f;
                        }
                        if let Ok(v) = std::env::var("PETS_AIM_EQUAL_ONE_WAYS") {
                            o.size_weighted_shares = v == "0";
                        }
                        fit_aim(&table, &cols, &o)
                    }
                    "mst" => fit_mst(&table, &cols, &MstOptions::new(eps, 1e-9)),
                    m => panic!("unknown method {m}"),
                }
                .expect("fits");
                let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - c0);
                let synth = model
                    .sample_table(rows as usize, r as u64)
                    .expect("samples");
                let cells: usize = model
                    .measurements
                    .iter()
                    .map(|m| m.measurement.values.len())
                    .sum();
                println!(
                    "{method} {data} eps {eps} rows {rows} repeat {r}: fit {wall:.2} s wall / \
                     {cpu:.2} CPU-s, {} selections, {cells} noisy cells, model {} cells; TVD \
                     3-way {:.4} ({} with {}: {:.4}, others {:.4}), 2-way {:.4}, 1-way {:.4}",
                    model.selected.len(),
                    model.fitted.tables.iter().map(Vec::len).sum::<usize>(),
                    mean_tvd(&table, &synth, 3),
                    with_widest.len(),
                    names[widest],
                    mean_over(&table, &synth, &with_widest),
                    mean_over(&table, &synth, &without),
                    mean_tvd(&table, &synth, 2),
                    mean_tvd(&table, &synth, 1),
                );
                if std::env::var("PETS_AIM_PER_TRIPLE").is_ok_and(|v| v != "0") {
                    for s in subsets(names.len(), 3) {
                        let t = tvd(&table, &synth, &s);
                        let n: Vec<&str> = s.iter().map(|&i| names[i].as_str()).collect();
                        println!("  triple {method} {} {t:.4}", n.join(","));
                    }
                }
                if std::env::var("PETS_AIM_VERBOSE").is_ok_and(|v| v != "0") {
                    for m in &model.measurements {
                        println!(
                            "    {} ({} cells): sigma {:.1}",
                            m.columns.join(" x "),
                            m.measurement.values.len(),
                            m.measurement.sigma
                        );
                    }
                }
                for n in &model.notes {
                    println!("  {n}");
                }
            }
        }
    }
}

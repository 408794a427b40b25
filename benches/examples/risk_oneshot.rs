//! One-shot timing and peak memory of the release-panel report (see `benches/README.md`).
//!
//! ```text
//! # encode the scenario's columns of N generated rows and save the codes (4 bytes a value)
//! cargo run --release -p pets-benches --example risk_oneshot -- prepare 10000000 /tmp/risk10m
//! # load the codes and run the report R times; run it under /usr/bin/time -v for the
//! # process peak, which then holds only the codes and what the report allocates
//! /usr/bin/time -v target/release/examples/risk_oneshot run /tmp/risk10m 3 [full]
//! ```
//!
//! `file PARQUET` times the whole job from a file instead (read, encode the five columns with
//! the streaming encoder, report), the analogue of a peer's load plus analysis:
//!
//! ```text
//! /usr/bin/time -v target/release/examples/risk_oneshot file /tmp/ae.parquet
//! ```
//!
//! `run` prints each report's wall time and its per-stage timings, the encoded column bytes,
//! the resident memory before the report and the peak during it (`VmHWM`, reset before the
//! first report). `full` adds intruder scenarios, SUDA and what-if fixes (the CLI default).

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::Instant;

use pets::data::io::DEFAULT_BATCH_ROWS;
use pets::data::{CodeBook, EncodeOptions, EncodedColumn, EncodedTable, Encoder};
use pets::disclosure::assess;
use pets_benches::{
    RISK_QIS, RISK_SENSITIVE, ae_risk_table, config, reset_peak_rss, risk_config, rss,
    with_arrival_date,
};
use pets_datasets::ae::ae_schema_for;

type Error = Box<dyn std::error::Error>;

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn prepare(rows: u64, dir: &Path) -> Result<(), Error> {
    let t = Instant::now();
    let table = ae_risk_table(rows);
    println!(
        "encoded {} rows x {} columns in {:.2} s ({:.1} MiB of codes)",
        table.n_rows(),
        table.columns().len(),
        t.elapsed().as_secs_f64(),
        mib(table.code_bytes() as u64)
    );
    std::fs::create_dir_all(dir)?;
    let mut meta = String::new();
    meta.push_str(&format!("{rows}\n"));
    for c in table.columns() {
        let b = c.codebook;
        let opt = |o: Option<u32>| o.map_or("-".to_string(), |v| v.to_string());
        meta.push_str(&format!(
            "{} {} {} {}\n",
            c.name(),
            b.n_values,
            opt(b.null_code),
            opt(b.other_code)
        ));
        let mut w = BufWriter::new(File::create(dir.join(format!("{}.u32", c.name())))?);
        for &v in &c.codes {
            w.write_all(&v.to_le_bytes())?;
        }
        w.flush()?;
    }
    std::fs::write(dir.join("meta.txt"), meta)?;
    println!("codes written to {}", dir.display());
    Ok(())
}

fn load(dir: &Path) -> Result<EncodedTable, Error> {
    let meta = std::fs::read_to_string(dir.join("meta.txt"))?;
    let mut lines = meta.lines();
    let rows: u64 = lines.next().ok_or("empty meta.txt")?.parse()?;
    let schema = with_arrival_date(ae_schema_for(&config(rows)));
    let mut columns = Vec::new();
    for line in lines {
        let f: Vec<&str> = line.split(' ').collect();
        let opt = |s: &str| -> Result<Option<u32>, Error> {
            Ok(if s == "-" { None } else { Some(s.parse()?) })
        };
        let codebook = CodeBook {
            n_values: f[1].parse()?,
            null_code: opt(f[2])?,
            other_code: opt(f[3])?,
        };
        let mut codes = Vec::with_capacity(rows as usize);
        let mut file = File::open(dir.join(format!("{}.u32", f[0])))?;
        let mut buf = vec![0u8; 1 << 22];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            codes.extend(
                buf[..n]
                    .chunks_exact(4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            );
        }
        columns.push(EncodedColumn {
            spec: schema.column(f[0])?.clone(),
            codebook,
            codes,
        });
    }
    Ok(EncodedTable::from_columns(columns)?)
}

fn run(dir: &Path, repeat: usize, full: bool) -> Result<(), Error> {
    let t = Instant::now();
    let table = load(dir)?;
    let code_bytes = table.code_bytes() as u64;
    println!(
        "loaded {} rows x {} columns in {:.2} s: {:.1} MiB of codes",
        table.n_rows(),
        table.columns().len(),
        t.elapsed().as_secs_f64(),
        mib(code_bytes)
    );
    let (before, _) = rss();
    let reset = reset_peak_rss();
    let cfg = risk_config(full);
    let mut walls = Vec::new();
    for i in 0..repeat {
        let t = Instant::now();
        let report = assess(&table, &cfg)?;
        let wall = t.elapsed().as_secs_f64();
        walls.push(wall);
        let stages: Vec<String> = report
            .timings_ms
            .iter()
            .map(|(k, v)| format!("{k}={v:.0}ms"))
            .collect();
        println!(
            "report {}: {:.3} s  k={} classes={} distinct_l={} t={:.4} uniques={}  [{}]",
            i + 1,
            wall,
            report.k_anonymity.k,
            report.k_anonymity.n_classes,
            report.l_diversity.as_ref().map_or(0, |l| l.distinct_l),
            report.t_closeness.as_ref().map_or(f64::NAN, |t| t.t),
            report.k_anonymity.sample_uniques,
            stages.join(" ")
        );
    }
    walls.sort_by(f64::total_cmp);
    let (now, peak) = rss();
    println!(
        "wall: min {:.3} s, median {:.3} s over {} runs",
        walls[0],
        walls[walls.len() / 2],
        walls.len()
    );
    println!(
        "memory: codes {:.1} MiB; RSS before report {:.1} MiB; peak during reports {:.1} MiB{}; \
         report working set {:.1} MiB ({:.2}x codes); peak / codes {:.2}x; RSS after {:.1} MiB",
        mib(code_bytes),
        mib(before),
        mib(peak),
        if reset {
            ""
        } else {
            " (peak not reset: includes loading)"
        },
        mib(peak.saturating_sub(before)),
        peak.saturating_sub(before) as f64 / code_bytes as f64,
        peak as f64 / code_bytes as f64,
        mib(now)
    );
    Ok(())
}

fn from_file(path: &Path) -> Result<(), Error> {
    let t = Instant::now();
    let schema = with_arrival_date(ae_schema_for(&config(1)));
    let mut cols = RISK_QIS.to_vec();
    cols.push(RISK_SENSITIVE);
    let mut enc = Encoder::new(
        &schema,
        EncodeOptions {
            columns: Some(cols.iter().map(|c| c.to_string()).collect()),
            ..Default::default()
        },
    )?;
    let stream = enc.open_file(path, &Default::default(), DEFAULT_BATCH_ROWS, &[])?;
    enc.push_stream(stream)?;
    let table = enc.finish()?;
    let load = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let report = assess(&table, &risk_config(false))?;
    let analysis = t.elapsed().as_secs_f64();
    println!(
        "{} rows: read + encode {load:.2} s, report {analysis:.2} s, total {:.2} s (k={}, classes={})",
        table.n_rows(),
        load + analysis,
        report.k_anonymity.k,
        report.k_anonymity.n_classes
    );
    Ok(())
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("prepare") if args.len() == 3 => {
            prepare(args[1].replace('_', "").parse()?, Path::new(&args[2]))
        }
        Some("file") if args.len() == 2 => from_file(Path::new(&args[1])),
        Some("run") if args.len() >= 2 => run(
            Path::new(&args[1]),
            args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(3),
            args.get(3).is_some_and(|s| s == "full"),
        ),
        _ => Err(
            "usage: risk_oneshot prepare ROWS DIR | run DIR [REPEAT] [full] | file PARQUET".into(),
        ),
    }
}

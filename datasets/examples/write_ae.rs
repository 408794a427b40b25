//! Generate a synthetic A&E dataset and write it to a file.
//!
//! ```text
//! cargo run --release -p pets-datasets --example write_ae -- 10000000 /tmp/ae.parquet [seed]
//! ```
//!
//! The extension chooses the format (`.parquet`, `.csv`, `.tsv`). A path of `-` only
//! generates the rows (to time the generator alone).

use std::io::Write;

use pets_datasets::ae::{AeConfig, write_ae};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rows: u64 = args
        .next()
        .as_deref()
        .unwrap_or("1000000")
        .replace('_', "")
        .parse()?;
    let path = args.next().unwrap_or_else(|| "ae.parquet".into());
    let seed: u64 = args.next().as_deref().unwrap_or("0").parse()?;
    let config = AeConfig::new(rows, seed);
    if path == "-" {
        let started = std::time::Instant::now();
        let generator = pets_datasets::ae::AeGenerator::new(config)?;
        let n: usize = generator.map(|b| b.num_rows()).sum();
        let secs = started.elapsed().as_secs_f64();
        println!(
            "generated {n} rows in {secs:.2} s: {:.0} rows/s",
            n as f64 / secs
        );
        return Ok(());
    }
    let step = (rows / 20).max(1);
    let mut next_report = step;
    let summary = write_ae(&config, &path, |done| {
        if done >= next_report || done == rows {
            eprint!("\r{done} / {rows} rows");
            let _ = std::io::stderr().flush();
            next_report = done + step;
        }
    })?;
    eprintln!();
    println!(
        "wrote {} rows in {} batches to {} ({:.1} MB) in {:.2} s: {:.0} rows/s",
        summary.rows,
        summary.batches,
        summary.path.display(),
        summary.bytes as f64 / 1e6,
        summary.elapsed.as_secs_f64(),
        summary.rows_per_second()
    );
    Ok(())
}

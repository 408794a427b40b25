//! `pets demo`: the end-to-end job on the bundled A&E generator.
//!
//! Generates an A&E-shaped dataset, infers its schema from the data (and says loudly why
//! that schema is not fit for release), encodes it against the generator's declared public
//! schema, and prints a summary of every column. Later capabilities (risk check, synthesis,
//! report) extend this same job.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use pets::data::{InferOptions, TableSummary};
use pets_datasets::ae::{ae_schema_for, write_ae};

use crate::datasets::config;
use crate::exit::CliError;
use crate::progress::rows_bar;
use crate::schema::{infer_file, warn_domain_from_data};
use crate::summary::{encode_with_spinner, print_summary};

/// Options of `pets demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Attendances to generate.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Folder for the outputs (data, schemas).
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
}

/// Run the demo.
pub fn run(a: &DemoArgs) -> Result<ExitCode, CliError> {
    std::fs::create_dir_all(&a.out).map_err(|e| CliError::io(a.out.display(), e))?;
    let cfg = config(a.rows, a.seed, None, None);
    cfg.validate()?;
    let data = a.out.join("ae.parquet");

    println!(
        "== 1. Generate {} synthetic A&E attendances (seed {})",
        a.rows, a.seed
    );
    let bar = rows_bar(a.rows, "generating");
    let w = write_ae(&cfg, &data, |done| bar.set_position(done))?;
    bar.finish_and_clear();
    println!(
        "wrote {} ({:.1} MB) in {:.2} s",
        data.display(),
        w.bytes as f64 / 1e6,
        w.elapsed.as_secs_f64()
    );

    println!("\n== 2. Infer a schema from the data (convenience only)");
    let t = Instant::now();
    let inferred = infer_file(&data, InferOptions::default())?;
    let inferred_path = a.out.join("ae.inferred.schema.json");
    inferred.save(&inferred_path)?;
    println!(
        "{} columns inferred in {:.2} s, written to {}",
        inferred.columns.len(),
        t.elapsed().as_secs_f64(),
        inferred_path.display()
    );
    for c in &inferred.columns {
        println!("  {:<32} {}", c.name, c.kind.name());
    }
    warn_domain_from_data(&inferred);

    println!("\n== 3. Encode against the declared public schema");
    let declared = ae_schema_for(&cfg);
    let declared_path = a.out.join("ae.schema.json");
    declared.save(&declared_path)?;
    let t = Instant::now();
    let table = encode_with_spinner(&data, &declared)?;
    println!(
        "encoded {} rows x {} columns in {:.2} s (schema: {})",
        table.n_rows(),
        table.columns().len(),
        t.elapsed().as_secs_f64(),
        declared_path.display()
    );
    let r = table.report();
    println!(
        "not encoded (direct identifiers with no public domain): {}",
        r.text_columns_not_encoded.join(", ")
    );

    println!("\n== 4. Summary");
    print_summary(&TableSummary::of(&table, 3));
    Ok(ExitCode::SUCCESS)
}

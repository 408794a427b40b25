//! `pets datasets ...`: the bundled A&E generator.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use pets_datasets::ae::{AeConfig, ae_schema_for, write_ae};

use crate::exit::CliError;
use crate::progress::rows_bar;

/// Dataset commands.
#[derive(Debug, Subcommand)]
pub enum DatasetsCommand {
    /// Generate synthetic A&E attendances (one row each) to a Parquet or CSV file.
    Generate(GenerateArgs),
    /// Print the declared schema of a bundled dataset: the generated A&E data (default), or
    /// the shared SynAE subset or UCI Adult files (JSON, or TOML with --toml).
    Schema(AeSchemaArgs),
}

/// Options of `pets datasets generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of attendances (rows), e.g. 10000000.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Seed: the same seed gives the same rows.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output file; the extension picks the format (.parquet, .csv, .tsv).
    #[arg(long)]
    pub out: PathBuf,
    /// First day covered (YYYY-MM-DD).
    #[arg(long, value_parser = parse_date)]
    pub start_date: Option<NaiveDate>,
    /// Number of days covered.
    #[arg(long)]
    pub days: Option<u32>,
    /// Also write the declared schema of the data to this file (.json or .toml).
    #[arg(long)]
    pub schema_out: Option<PathBuf>,
}

/// Options of `pets datasets schema`.
#[derive(Debug, Args)]
pub struct AeSchemaArgs {
    /// Print TOML instead of JSON.
    #[arg(long)]
    pub toml: bool,
    /// Which dataset's declared schema.
    #[arg(long, value_enum, default_value_t = DatasetName::Ae)]
    pub dataset: DatasetName,
}

/// The datasets whose declared schemas ship with pets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DatasetName {
    /// The generated A&E attendances (`pets datasets generate`).
    Ae,
    /// NHS England's SynAE subset (`synae/synae_provider15273_2016.csv` in the shared data).
    Synae,
    /// UCI Adult (`adult/` in the shared data).
    Adult,
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("{s:?} is not a date like 2024-04-01: {e}"))
}

/// The generator configuration the arguments describe.
pub fn config(rows: u64, seed: u64, start: Option<NaiveDate>, days: Option<u32>) -> AeConfig {
    let mut c = AeConfig::new(rows, seed);
    if let Some(s) = start {
        c.start_date = s;
    }
    if let Some(d) = days {
        c.days = d;
    }
    c
}

/// Run a dataset command.
pub fn run(cmd: &DatasetsCommand) -> Result<ExitCode, CliError> {
    match cmd {
        DatasetsCommand::Generate(a) => {
            let cfg = config(a.rows, a.seed, a.start_date, a.days);
            cfg.validate()?;
            if let Some(p) = &a.schema_out {
                crate::exit::refuse_clobber("--schema-out", p, &[("--out data file", &a.out)])?;
            }
            let bar = rows_bar(a.rows, "generating");
            let summary = write_ae(&cfg, &a.out, |done| bar.set_position(done))?;
            bar.finish_and_clear();
            if let Some(p) = &a.schema_out {
                ae_schema_for(&cfg).save(p)?;
            }
            eprintln!(
                "wrote {} rows to {} ({:.1} MB) in {:.1} s ({:.0} rows/s)",
                summary.rows,
                summary.path.display(),
                summary.bytes as f64 / 1e6,
                summary.elapsed.as_secs_f64(),
                summary.rows_per_second()
            );
            Ok(ExitCode::SUCCESS)
        }
        DatasetsCommand::Schema(a) => {
            let s = match a.dataset {
                DatasetName::Ae => ae_schema_for(&AeConfig::default()),
                DatasetName::Synae => pets_datasets::synae::schema(),
                DatasetName::Adult => pets_datasets::adult::schema(),
            };
            if a.toml {
                print!("{}", s.to_toml()?);
            } else {
                println!("{}", s.to_json());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

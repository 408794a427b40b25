//! `pets schema ...`: infer a schema, check a file against one.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use pets::data::{CsvDialect, EncodeOptions, InferOptions, OutOfDomain, Schema, TableSource};

use crate::exit::CliError;
use crate::progress::spinner;

/// Schema commands.
#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Infer a schema from a CSV/TSV/Parquet file. The domains it finds are read from the
    /// data: review and widen them to public bounds before any DP release.
    Infer(InferArgs),
    /// Check that every row of a file fits a schema (exit 3 and the first bad value if not).
    Check(CheckArgs),
    /// Print the schema reference: every field, the kinds, text-file options, examples
    /// (the same page as docs/schema.md; its examples are tested).
    Explain,
}

/// The schema reference (`docs/schema.md`), built into the binary.
const SCHEMA_REFERENCE: &str = include_str!("../../../docs/schema.md");

/// Options of `pets schema infer`.
#[derive(Debug, Args)]
pub struct InferArgs {
    /// The data file.
    pub file: PathBuf,
    /// How a CSV/TSV file is written.
    #[command(flatten)]
    pub csv: crate::csv_args::CsvArgs,
    /// Write the schema here (.json or .toml) instead of printing JSON.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Text columns with more distinct values than this become `text` (not encodable).
    #[arg(long, default_value_t = 10_000)]
    pub max_categories: usize,
    /// Equal-width bins for float columns.
    #[arg(long, default_value_t = 20)]
    pub float_bins: u32,
}

/// Options of `pets schema check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The data file.
    pub file: PathBuf,
    /// How a CSV/TSV file is written.
    #[command(flatten)]
    pub csv: crate::csv_args::CsvArgs,
    /// The schema (.json or .toml).
    #[arg(long)]
    pub schema: PathBuf,
    /// Count out-of-domain values instead of stopping at the first.
    #[arg(long)]
    pub count_out_of_domain: bool,
}

/// Infer the schema of a file read in `csv` (sniffed where unset, with a note), with a
/// spinner.
pub fn infer_file(file: &Path, csv: CsvDialect, opts: InferOptions) -> Result<Schema, CliError> {
    let (source, notes) = TableSource::file(file).with_csv(csv).pinned(None)?;
    print_notes(&notes);
    let bar = spinner(&format!("inferring the schema of {}", file.display()));
    let schema = source.infer_schema_with(opts)?;
    bar.finish_and_clear();
    Ok(schema)
}

/// Print how a text file was read, where that was sniffed.
pub fn print_notes(notes: &[pets::Warning]) {
    for n in notes {
        eprintln!("note: {}", n.message);
    }
}

/// The loud warning printed whenever a domain comes from the data.
pub fn warn_domain_from_data(schema: &Schema) {
    let cols = schema.domain_from_data();
    if !cols.is_empty() {
        eprintln!(
            "WARNING: domain_from_data: the domains of {} column(s) ({}) were read from the data, \
             not declared. They reveal which values occur; review the schema and widen it to \
             public bounds before using it for any differentially private release.",
            cols.len(),
            cols.join(", ")
        );
    }
}

/// Run a schema command.
pub fn run(cmd: &SchemaCommand) -> Result<ExitCode, CliError> {
    match cmd {
        SchemaCommand::Explain => {
            print!("{SCHEMA_REFERENCE}");
            Ok(ExitCode::SUCCESS)
        }
        SchemaCommand::Infer(a) => {
            if let Some(out) = &a.out {
                crate::exit::refuse_clobber("--out", out, &[("data file", &a.file)])?;
            }
            let schema = infer_file(
                &a.file,
                a.csv.dialect()?,
                InferOptions {
                    max_categories: a.max_categories,
                    float_bins: a.float_bins,
                    name: a.file.file_stem().map(|s| s.to_string_lossy().into_owned()),
                    ..Default::default()
                },
            )?;
            warn_domain_from_data(&schema);
            match &a.out {
                Some(p) => {
                    schema.save(p)?;
                    eprintln!(
                        "schema of {} columns written to {}",
                        schema.columns.len(),
                        p.display()
                    );
                }
                None => println!("{}", schema.to_json()),
            }
            Ok(ExitCode::SUCCESS)
        }
        SchemaCommand::Check(a) => {
            let schema = Schema::load(&a.schema)?;
            let opts = EncodeOptions {
                out_of_domain: if a.count_out_of_domain {
                    OutOfDomain::MapToOther
                } else {
                    OutOfDomain::Error
                },
                ..Default::default()
            };
            let (source, notes) = TableSource::file(&a.file)
                .with_csv(a.csv.dialect()?)
                .pinned(Some(&schema))?;
            print_notes(&notes);
            let bar = spinner(&format!("checking {}", a.file.display()));
            let table = source
                .encode(&schema, opts, &[], &pets::progress::Progress::none())?
                .table;
            bar.finish_and_clear();
            let r = table.report();
            let bad: u64 = r.mapped_to_other.values().sum();
            println!("{} rows checked against {}", r.rows, a.schema.display());
            for (c, n) in r.mapped_to_other.iter().filter(|(_, n)| **n > 0) {
                println!("  {c}: {n} value(s) outside the declared domain");
            }
            if !r.undeclared_data_columns.is_empty() {
                println!(
                    "  columns in the file but not in the schema (ignored): {}",
                    r.undeclared_data_columns.join(", ")
                );
            }
            if bad > 0 {
                return Ok(ExitCode::from(3));
            }
            println!("OK: every value fits the schema");
            Ok(ExitCode::SUCCESS)
        }
    }
}

//! `pets summary`: encode a file and print what each column holds.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use pets::data::{CsvDialect, EncodeOptions, InferOptions, Schema, TableSource, TableSummary};

use crate::exit::CliError;
use crate::progress::spinner;
use crate::schema::{infer_file, print_notes, warn_domain_from_data};

/// Options of `pets summary`.
#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// The data file (.csv, .tsv, .parquet).
    pub file: PathBuf,
    /// How a CSV/TSV file is written.
    #[command(flatten)]
    pub csv: crate::csv_args::CsvArgs,
    /// The declared schema; inferred from the data (with a warning) when absent.
    #[arg(long)]
    pub schema: Option<PathBuf>,
    /// Most frequent values shown per column.
    #[arg(long, default_value_t = 3)]
    pub top: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Print a summary as an aligned table.
pub fn print_summary(s: &TableSummary) {
    println!(
        "{} rows; codes take {:.1} MB ({} columns x {} rows x 4 bytes)",
        s.rows,
        s.code_bytes as f64 / 1e6,
        s.columns.len(),
        s.rows
    );
    println!(
        "{:<32} {:<12} {:<18} {:>8} {:>8} {:>8}  range / most frequent",
        "column", "kind", "role", "codes", "present", "nulls"
    );
    for c in &s.columns {
        let mut detail = String::new();
        if let Some((lo, hi)) = &c.range {
            detail.push_str(&format!("{lo} .. {hi}; "));
        }
        detail.push_str(
            &c.top
                .iter()
                .map(|(v, n)| format!("{v} ({:.1}%)", 100.0 * *n as f64 / s.rows.max(1) as f64))
                .collect::<Vec<_>>()
                .join(", "),
        );
        if c.domain_from_data {
            detail.push_str(" [domain from data]");
        }
        println!(
            "{:<32} {:<12} {:<18} {:>8} {:>8} {:>8}  {}",
            c.name,
            c.kind,
            c.role.to_string(),
            c.codes,
            c.distinct_present,
            c.nulls,
            detail
        );
    }
}

/// Encode `file`, read in `csv`, against `schema` with a spinner.
pub fn encode_with_spinner(
    file: &Path,
    csv: CsvDialect,
    schema: &Schema,
) -> Result<pets::data::EncodedTable, CliError> {
    let (source, notes) = TableSource::file(file).with_csv(csv).pinned(Some(schema))?;
    print_notes(&notes);
    let bar = spinner(&format!("encoding {}", file.display()));
    let table = source
        .encode(
            schema,
            EncodeOptions::default(),
            &[],
            &pets::progress::Progress::none(),
        )?
        .table;
    bar.finish_and_clear();
    Ok(table)
}

/// Run `pets summary`.
pub fn run(a: &SummaryArgs) -> Result<ExitCode, CliError> {
    let schema = match &a.schema {
        Some(p) => Schema::load(p)?,
        None => {
            let s = infer_file(&a.file, a.csv.dialect()?, InferOptions::default())?;
            warn_domain_from_data(&s);
            s
        }
    };
    let table = encode_with_spinner(&a.file, a.csv.dialect()?, &schema)?;
    let s = TableSummary::of(&table, a.top);
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&s).expect("summary serialises")
        );
    } else {
        print_summary(&s);
        let r = table.report();
        if !r.text_columns_not_encoded.is_empty() {
            println!(
                "text columns (identifiers, not encoded): {}",
                r.text_columns_not_encoded.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! `pets table`: count tables safe to publish.
//!
//! ```text
//! pets table ae.csv --schema ae.schema.json --by age_band,sex --by age_band,provider_code \
//!     --rule threshold --threshold 10 --secondary exact --mean age --median age \
//!     --out tables.csv --json tables.json --report tables.html
//! ```
//!
//! Each `--by` is one table (a group-by with every margin and the grand total); tables of
//! the same records are linked and audited together. The CLI parses and renders;
//! [`pets::tables::TableJob`] does the work.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use pets::data::{Schema, TableSource};
use pets::tables::{Cost, Rule, Secondary, Statistic, TableJob};

use crate::exit::{CliError, refuse_clobber, write_atomic};

/// The protection rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuleArg {
    /// NHS HES/ECDS small numbers: 1-7 suppressed, others rounded to the nearest 5.
    Hes,
    /// Counts below --threshold suppressed, plus secondary suppression proved by the audit.
    Threshold,
}

/// How secondary suppression chooses cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecondaryArg {
    /// A greedy heuristic: fast, not minimal.
    Greedy,
    /// The least cost (--cost) by an integer program; falls back to greedy past its limits.
    Exact,
}

/// What exact secondary suppression minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CostArg {
    /// The number of cells suppressed.
    Cells,
    /// The total of the suppressed counts (plus one per cell).
    Value,
}

/// Options of `pets table`.
#[derive(Debug, Args)]
pub struct TableArgs {
    /// The data file (.csv, .tsv, .parquet).
    pub data: PathBuf,
    /// How a CSV/TSV file is written.
    #[command(flatten)]
    pub csv: crate::csv_args::CsvArgs,
    /// The declared schema (JSON or TOML); inferred, with a warning, when absent.
    #[arg(long)]
    pub schema: Option<PathBuf>,
    /// One table's columns, comma-separated; repeat for linked tables of the same records.
    #[arg(long, required = true)]
    pub by: Vec<String>,
    /// How the counts are protected.
    #[arg(long, value_enum, default_value_t = RuleArg::Hes)]
    pub rule: RuleArg,
    /// With --rule threshold: counts from 1 to THRESHOLD - 1 are suppressed.
    #[arg(long, default_value_t = 10)]
    pub threshold: u64,
    /// With --rule threshold: the smallest width of a suppressed count's feasible interval
    /// (default: the threshold).
    #[arg(long)]
    pub protection: Option<u64>,
    /// With --rule threshold: how secondary suppression chooses the cells to suppress.
    #[arg(long, value_enum, default_value_t = SecondaryArg::Greedy)]
    pub secondary: SecondaryArg,
    /// With --secondary exact: what to minimise.
    #[arg(long, value_enum, default_value_t = CostArg::Cells)]
    pub cost: CostArg,
    /// Publish the mean of this numeric column beside each count (repeatable; comma-separated
    /// lists too); suppressed with the count and when based on few records (1-7 under HES).
    #[arg(long, value_delimiter = ',')]
    pub mean: Vec<String>,
    /// Publish the median of this numeric column beside each count, as --mean.
    #[arg(long, value_delimiter = ',')]
    pub median: Vec<String>,
    /// Write the published tables here (CSV, long format: table, columns, count).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write everything (published cells, the audit's intervals, the rule's source) as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report (the rule, each table with its suppressed cells
    /// marked, the audit's intervals).
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// Run `pets table`.
pub fn run(args: &TableArgs) -> Result<(), CliError> {
    let by_groups: Vec<Vec<String>> = args
        .by
        .iter()
        .map(|b| {
            b.split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect();
    let mut inputs: Vec<(&str, &std::path::Path)> = vec![("data file", &args.data)];
    if let Some(s) = &args.schema {
        inputs.push(("--schema", s));
    }
    for (flag, out) in [
        ("--out", &args.out),
        ("--json", &args.json),
        ("--report", &args.report),
    ] {
        if let Some(out) = out {
            refuse_clobber(flag, out, &inputs)?;
        }
    }
    let schema = args.schema.as_ref().map(Schema::load).transpose()?;
    let rule = match args.rule {
        RuleArg::Hes => Rule::Hes,
        RuleArg::Threshold => Rule::Threshold {
            threshold: args.threshold,
            protection: args.protection.unwrap_or(args.threshold),
        },
    };
    let statistics: Vec<Statistic> = args
        .mean
        .iter()
        .map(|c| Statistic::mean(c.trim()))
        .chain(args.median.iter().map(|c| Statistic::median(c.trim())))
        .collect();
    let out = TableJob::new(
        TableSource::file(&args.data).with_csv(args.csv.dialect()?),
        by_groups,
        rule,
    )
    .schema_opt(schema)
    .secondary(
        match args.secondary {
            SecondaryArg::Greedy => Secondary::Greedy,
            SecondaryArg::Exact => Secondary::Exact,
        },
        match args.cost {
            CostArg::Cells => Cost::Cells,
            CostArg::Value => Cost::Value,
        },
    )
    .statistics(statistics)
    .run()?;
    for w in &out.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(p) = &args.json {
        write_atomic(p, &serde_json::to_string_pretty(&out)?)?;
    }
    if let Some(p) = &args.report {
        write_atomic(p, &pets::tables::render_html(&out))?;
    }
    if !out.protected {
        return Err(CliError::new(
            pets::ErrorKind::Input,
            format!(
                "the tables could not be fully protected, so no table file was written{}; \
                 use coarser columns, a lower protection level or --secondary exact",
                match (args.json.is_some(), args.report.is_some()) {
                    (true, true) => " (the JSON and the report hold the audit)",
                    (true, false) => " (the JSON holds the audit)",
                    (false, true) => " (the report holds the audit)",
                    (false, false) => "",
                }
            ),
        ));
    }
    if let Some(p) = &args.out {
        let (header, rows) = out.long_format();
        let mut w = csv::Writer::from_writer(Vec::new());
        for row in std::iter::once(&header).chain(&rows) {
            w.write_record(row)
                .map_err(|e| CliError::io(p.display(), e.into()))?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| CliError::io(p.display(), std::io::Error::other(e.to_string())))?;
        write_atomic(p, &String::from_utf8_lossy(&bytes))?;
    }
    println!("{}", out.source);
    let method = match &out.secondary_suppression {
        None => String::new(),
        Some(s) => match (s.method, &s.fallback) {
            (Secondary::Exact, _) => " (exact: fewest possible)".to_string(),
            (Secondary::Greedy, Some(_)) => " (greedy: the exact method gave up)".to_string(),
            (Secondary::Greedy, None) => " (greedy)".to_string(),
        },
    };
    println!(
        "  {} table(s); {} small count(s) suppressed, {} more to protect them{method}; {}",
        out.tables.len(),
        out.primary,
        out.secondary,
        if out.narrowest_interval.is_finite() {
            format!(
                "audit: every suppressed small count lies in an interval at least {} wide",
                out.narrowest_interval
            )
        } else {
            "audit: no suppressed small count is bounded by what is published".to_string()
        }
    );
    for (what, path) in [
        ("tables", &args.out),
        ("JSON", &args.json),
        ("report", &args.report),
    ] {
        if let Some(p) = path {
            println!("  {what}: {}", p.display());
        }
    }
    Ok(())
}

//! `pets dp query`: run a query spec over a data file under one differential privacy budget.
//!
//! ```text
//! pets dp query attendances.parquet --schema ae.schema.json --spec queries.toml \
//!     --epsilon 1 --out results.json
//! ```
//!
//! The data are encoded against the declared schema; the spec's `id_column` (a text column,
//! e.g. `nhs_number`) bounds each person's rows to `max_rows_per_person` before any query,
//! or, without one, privacy is per row and the ledger says so. The budget (`--epsilon`, or
//! `--rho` for zCDP, with `--delta` for group-by queries) is split over the queries by their
//! weights; every query is checked before anything is released. The output JSON holds the
//! results (values, intervals, warnings) and the ledger of every release.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use pets::data::{Schema, TableSource};
use pets::dp::{ChargeRecord, Cost, QuerySpec, SpecJob};

use crate::exit::{CliError, write_atomic};

/// Options of `pets dp query`.
#[derive(Debug, Args)]
pub struct DpQueryArgs {
    /// The data file (.csv, .tsv, .parquet).
    pub data: PathBuf,
    /// How a CSV/TSV file is written.
    #[command(flatten)]
    pub csv: crate::csv_args::CsvArgs,
    /// The declared schema (JSON or TOML). Domains must be public, not read from the data.
    #[arg(long)]
    pub schema: PathBuf,
    /// The query spec (TOML or JSON): `[[query]]` entries with `kind`, and `id_column`,
    /// `max_rows_per_person`, `seed` for contribution bounding.
    #[arg(long)]
    pub spec: PathBuf,
    /// Total budget as pure epsilon-DP (Laplace-type noise).
    #[arg(long, conflicts_with = "rho", required_unless_present = "rho")]
    pub epsilon: Option<f64>,
    /// Total budget as rho-zCDP (Gaussian-type noise).
    #[arg(long)]
    pub rho: Option<f64>,
    /// Delta for group-by queries (keys not known in advance), e.g. 1e-8; 0 if none.
    #[arg(long, default_value_t = 0.0)]
    pub delta: f64,
    /// Significance of reported intervals (0.05: 95%).
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Seed for the choice of rows kept per person (overrides the spec's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where to write results and ledger (JSON); standard output when absent.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Charge the whole budget (--epsilon/--rho with --delta) to this dataset's persistent
    /// budget file (`pets budget init`) before anything is released: refused, with nothing
    /// released, when it does not fit what is left. The receipt goes into the results.
    #[arg(long)]
    pub budget: Option<PathBuf>,
    /// Print exact, unprotected figures (rows read, rows kept after bounding) on stderr, for
    /// the data custodian only. Off by default: DP commands print no exact statistic.
    #[arg(long)]
    pub show_exact: bool,
}

/// Run `pets dp query`: parse, run the core [`SpecJob`], render.
pub fn run(args: &DpQueryArgs) -> Result<(), CliError> {
    if let Some(out) = &args.out {
        crate::exit::refuse_clobber(
            "--out",
            out,
            &[
                ("data file", &args.data),
                ("--schema", &args.schema),
                ("--spec", &args.spec),
            ],
        )?;
    }
    let schema = Schema::load(&args.schema)?;
    let spec = QuerySpec::load(&args.spec)?;
    let total = match (args.epsilon, args.rho) {
        (Some(e), None) => Cost::epsilon(e).with_delta(args.delta),
        (None, Some(r)) => Cost::rho(r).with_delta(args.delta),
        _ => return Err(CliError::usage("give exactly one of --epsilon or --rho")),
    };
    let job = SpecJob::new(spec, total)
        .alpha(args.alpha)
        .seed(args.seed)
        .budget_file(args.budget.clone(), ChargeRecord::new("pets dp query"));
    // Everything about the budget is checked before a row is read.
    let (session, shares) = job.plan()?;
    eprintln!(
        "pets dp: budget {}; {} queries",
        session.total(),
        job.spec().queries.len()
    );
    for (q, s) in job.spec().queries.iter().zip(&shares) {
        eprintln!("  {:<48} {}", q.label(), s);
    }
    let source = TableSource::file(&args.data).with_csv(args.csv.dialect()?);
    let run = job.run(source, &schema)?;
    if args.show_exact {
        eprintln!(
            "pets dp: --show-exact: EXACT, UNPROTECTED figures for the data custodian only, \
             not for release: {} rows read, {} kept after bounding",
            run.custodian.rows_read, run.custodian.rows_kept
        );
    }
    for w in &run.warnings {
        eprintln!("warning: {w}");
    }
    let results = run.results;
    let json = serde_json::to_string_pretty(&results)?;
    match &args.out {
        Some(path) => {
            write_atomic(path, &(json + "\n"))?;
            eprintln!(
                "pets dp: spent {} of {} ({} left); results and ledger in {}",
                results.ledger.spent,
                results.ledger.budget,
                results.ledger.remaining,
                path.display()
            );
        }
        None => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{json}")?;
        }
    }
    Ok(())
}

//! `pets outputs`: output checking of tables leaving a secure data environment.
//!
//! ```text
//! pets outputs crosstab ae.csv --rows age_band --cols sex --bundle release/
//! pets outputs pivot ae.csv --rows provider_code --values los --agg mean \
//!     --rules rules.toml --mitigate suppress --bundle release/ --exception "needed for ..."
//! pets outputs survival cohort.csv --time days --event died --mitigate suppress --bundle release/
//! pets outputs review release/
//! pets outputs decide release/ output_002 reject --reason "dominated cells"
//! ```
//!
//! Each `crosstab` / `pivot` computes one table, checks every cell against the rules
//! (ACRO's defaults, or a TOML file), mitigates if asked, prints what fails and why, and
//! with `--bundle` appends it to the bundle (its CSV, `record.json`, `summary.html`).
//! The CLI parses and renders; [`pets::outputs::OutputJob`] and [`pets::outputs::Bundle`]
//! do the work.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use pets::data::{Schema, TableSource};
use pets::outputs::{
    Agg, Bundle, Decision, Mitigation, OutputJob, OutputRules, Provenance, SurvivalJob,
};

use crate::exit::CliError;

/// `pets outputs ...`
#[derive(Debug, Subcommand)]
pub enum OutputsCommand {
    /// A frequency table or crosstab of counts, every cell checked (minimum frequency,
    /// zeros); appended to --bundle.
    Crosstab(TableArgs),
    /// A pivot table of a numeric column (--agg count, sum, mean, median, std, min, max,
    /// quantile:Q), every cell checked (threshold, dominance, zeros, dof as ACRO does);
    /// appended to --bundle.
    Pivot(PivotArgs),
    /// A Kaplan-Meier survival table of --time and --event, checked (residual degrees of
    /// freedom; steps where fewer than the threshold left the risk set); --mitigate
    /// suppress|round merges small steps as ACRO does; appended to --bundle.
    Survival(SurvivalArgs),
    /// Print a bundle's summary: each output, its call, data, checks, failing cells,
    /// mitigation, differencing warnings, exception requests and decisions.
    Review(ReviewArgs),
    /// Record the checker's decision on one output of a bundle.
    Decide(DecideArgs),
}

/// What to do with failing cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MitigateArg {
    /// Report them only.
    None,
    /// Suppress them; for counts and sums, secondary suppression so margins cannot
    /// recover them.
    Suppress,
    /// Round counts and sums to the rules' round_base (5); HES preset: the HES rule.
    Round,
}

/// Options shared by `crosstab` and `pivot`.
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
    /// Row variables, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub rows: Vec<String>,
    /// Column variables, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub cols: Vec<String>,
    /// The rules (TOML: preset, threshold, zeros_disclosive, p_ratio, nk_n, nk_k,
    /// dof_threshold, round_base); ACRO's defaults without it.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// The NHS HES/ECDS preset instead of the minimum frequency (ignored with --rules).
    #[arg(long, conflicts_with = "rules")]
    pub hes: bool,
    /// What to do with failing cells.
    #[arg(long, value_enum, default_value_t = MitigateArg::None)]
    pub mitigate: MitigateArg,
    /// Append the output to this bundle folder (created if needed).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Ask the checker for an exception for this output, with this reason (needs --bundle).
    #[arg(long, requires = "bundle")]
    pub exception: Option<String>,
}

/// Options of `pivot`.
#[derive(Debug, Args)]
pub struct PivotArgs {
    #[command(flatten)]
    pub table: TableArgs,
    /// The numeric column to aggregate.
    #[arg(long)]
    pub values: String,
    /// The statistic: count, sum, mean, median, std, min, max, quantile:Q.
    #[arg(long, default_value = "mean")]
    pub agg: String,
}

/// Options of `survival`.
#[derive(Debug, Args)]
pub struct SurvivalArgs {
    /// The data file (.csv, .tsv, .parquet).
    pub data: PathBuf,
    /// How a CSV/TSV file is written.
    #[command(flatten)]
    pub csv: crate::csv_args::CsvArgs,
    /// The time column (a number: days, months).
    #[arg(long)]
    pub time: String,
    /// The event column: 1/true/yes for the event, 0/false/no for censored.
    #[arg(long)]
    pub event: String,
    /// The rules (TOML); ACRO's defaults without it.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// The NHS HES/ECDS preset's threshold instead (ignored with --rules).
    #[arg(long, conflicts_with = "rules")]
    pub hes: bool,
    /// Merge small steps (suppress and round do the same here), or report them (none).
    #[arg(long, value_enum, default_value_t = MitigateArg::None)]
    pub mitigate: MitigateArg,
    /// Append the output to this bundle folder (created if needed).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Ask the checker for an exception for this output, with this reason (needs --bundle).
    #[arg(long, requires = "bundle")]
    pub exception: Option<String>,
}

/// Options of `review`.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The bundle folder.
    pub bundle: PathBuf,
}

/// Options of `decide`.
#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The bundle folder.
    pub bundle: PathBuf,
    /// The output's id (`output_001`).
    pub id: String,
    /// The decision.
    #[arg(value_enum)]
    pub decision: DecisionArg,
    /// Why.
    #[arg(long, default_value = "")]
    pub reason: String,
}

/// The checker's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DecisionArg {
    /// Release it.
    Approve,
    /// Do not release it.
    Reject,
}

/// Run `pets outputs ...`.
pub fn run(cmd: &OutputsCommand) -> Result<(), CliError> {
    match cmd {
        OutputsCommand::Crosstab(a) => table(a, None),
        OutputsCommand::Pivot(p) => table(&p.table, Some((&p.values, Agg::parse(&p.agg)?))),
        OutputsCommand::Survival(a) => survival(a),
        OutputsCommand::Review(a) => {
            print!("{}", Bundle::load(&a.bundle)?.summary_text());
            Ok(())
        }
        OutputsCommand::Decide(a) => {
            let mut b = Bundle::load(&a.bundle)?;
            b.decide(
                &a.id,
                match a.decision {
                    DecisionArg::Approve => Decision::Approve,
                    DecisionArg::Reject => Decision::Reject,
                },
                &a.reason,
            )?;
            b.finalise()?;
            println!(
                "{}: {:?} recorded in {}",
                a.id,
                a.decision,
                a.bundle.display()
            );
            Ok(())
        }
    }
}

fn rules_of(path: &Option<PathBuf>, hes: bool) -> Result<OutputRules, CliError> {
    Ok(match (path, hes) {
        (Some(p), _) => OutputRules::load(p)?,
        (None, true) => OutputRules::hes(),
        (None, false) => OutputRules::default(),
    })
}

fn mitigation_of(m: MitigateArg) -> Mitigation {
    match m {
        MitigateArg::None => Mitigation::None,
        MitigateArg::Suppress => Mitigation::Suppress,
        MitigateArg::Round => Mitigation::Round,
    }
}

fn survival(a: &SurvivalArgs) -> Result<(), CliError> {
    let source = TableSource::file(&a.data).with_csv(a.csv.dialect()?);
    let out = SurvivalJob::new(source, a.time.trim(), a.event.trim())
        .rules(rules_of(&a.rules, a.hes)?)
        .mitigation(mitigation_of(a.mitigate))
        .run()?;
    render_and_record(out, &a.data, a.bundle.as_deref(), a.exception.as_deref())
}

fn table(a: &TableArgs, pivot: Option<(&String, Agg)>) -> Result<(), CliError> {
    let schema = a.schema.as_ref().map(Schema::load).transpose()?;
    let rules = rules_of(&a.rules, a.hes)?;
    let by: Vec<String> = a
        .rows
        .iter()
        .chain(&a.cols)
        .map(|c| c.trim().to_string())
        .collect();
    let source = TableSource::file(&a.data).with_csv(a.csv.dialect()?);
    let job = match pivot {
        None => OutputJob::crosstab(source, by),
        Some((v, agg)) => OutputJob::pivot(source, by, v.trim(), agg),
    };
    let out = job
        .schema_opt(schema)
        .rules(rules)
        .mitigation(mitigation_of(a.mitigate))
        .run()?;
    render_and_record(out, &a.data, a.bundle.as_deref(), a.exception.as_deref())
}

/// Print what fails and why, then append to the bundle if one is given.
fn render_and_record(
    out: pets::outputs::CheckedTable,
    data: &std::path::Path,
    bundle: Option<&std::path::Path>,
    exception: Option<&str>,
) -> Result<(), CliError> {
    for w in &out.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "{} by {}: {} of {} cell(s) fail [{}]",
        match &out.values {
            Some(v) => format!("{}({v})", out.agg.name()),
            None => "count".into(),
        },
        out.by.join(" x "),
        out.failing(),
        out.cells.len(),
        out.status.to_uppercase()
    );
    for c in out.cells.iter().filter(|c| !c.failures.is_empty()) {
        println!(
            "  {}: {}{}",
            c.labels.join(", "),
            c.failures
                .iter()
                .map(|f| format!("{} ({})", f.check.name(), f.reason))
                .collect::<Vec<_>>()
                .join("; "),
            c.mitigated
                .as_ref()
                .map(|m| format!(" -> {m}"))
                .unwrap_or_default()
        );
    }
    if let Some(m) = &out.mitigation {
        println!("  mitigation: {}", m.summary);
    }
    if let Some(dir) = bundle {
        let call = std::env::args()
            .map(|s| {
                if s.contains(char::is_whitespace) || s.is_empty() {
                    format!("{s:?}")
                } else {
                    s
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        let provenance = Provenance::of_file(data)?;
        let o = Bundle::append(dir, out, call, provenance, exception)?;
        for d in &o.differencing {
            eprintln!("warning: differencing with {}: {}", d.other, d.message);
        }
        println!("  recorded as {} in {}", o.id, dir.display());
    }
    Ok(())
}

//! `pets risk`: measure the disclosure risk of a record-level extract before release.
//!
//! ```text
//! pets risk DATA --schema S --qi age,sex,postcode_district,arrival_datetime \
//!     --generalise arrival_datetime=day,age=5 \
//!     --sensitive diagnosis_group --k 5 --l 2 --t 0.3 --report out.html --json out.json
//! ```
//!
//! `--generalise` assesses the extract as it would be released: dates and datetimes at a
//! coarser granularity (`arrival_datetime=day` is the arrival date), integers in bands of a
//! given width (`age=5`). It changes the schema the data are encoded against, never the file.
//!
//! Streams the file through the encoder (only the quasi-identifiers and the sensitive
//! attribute are encoded), computes the [`pets::disclosure::RiskReport`], writes the HTML and
//! JSON reports, and prints a short summary. [`run`] returns whether every check passed
//! (the caller maps that to exit code 0 or 1).

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use pets::WarningKind;
use pets::data::{Schema, TableSource};
use pets::disclosure::{GroundChoice, LVariant, RiskConfig, RiskJob, render_html};

use crate::exit::{CliError, write_atomic};

/// Which l-diversity variant decides the l-diversity check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LVariantArg {
    /// At least l distinct sensitive values per group.
    Distinct,
    /// Entropy of the sensitive values per group at least ln l.
    Entropy,
    /// Recursive (c,l): most frequent value below c times the l-th and rarer ones.
    Recursive,
}

/// Ground distance of t-closeness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroundArg {
    /// Ordered for ordered (ordinal, numeric) columns, equal otherwise.
    Auto,
    /// Every pair of values at distance 1.
    Equal,
    /// Values in their declared order.
    Ordered,
    /// Over a value hierarchy (needs --hierarchy).
    Hierarchical,
}

/// The privacy models a release must meet: shared by `pets risk` (checked) and
/// `pets anonymise` (met).
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Quasi-identifiers: the facts an intruder could know, comma-separated. Default: the
    /// schema's columns with role quasi_identifier.
    #[arg(long, value_delimiter = ',')]
    pub qi: Vec<String>,
    /// The sensitive attribute. Default: the schema's column with role sensitive, if any.
    #[arg(long)]
    pub sensitive: Option<String>,
    /// Minimum group size (k-anonymity).
    #[arg(long, default_value_t = 5)]
    pub k: u64,
    /// Minimum l (l-diversity); needs a sensitive attribute.
    #[arg(long)]
    pub l: Option<u64>,
    /// c of recursive (c,l)-diversity.
    #[arg(long, default_value_t = 3.0)]
    pub c: f64,
    /// Which l-diversity variant is checked.
    #[arg(long, value_enum, default_value_t = LVariantArg::Distinct)]
    pub l_variant: LVariantArg,
    /// Maximum t (t-closeness, 0 to 1); needs a sensitive attribute.
    #[arg(long)]
    pub t: Option<f64>,
    /// Ground distance of t-closeness: auto (ordered for ordered columns), equal, ordered,
    /// or hierarchical with --hierarchy.
    #[arg(long, value_enum, default_value_t = GroundArg::Auto)]
    pub ground_distance: GroundArg,
    /// Maximum alpha of (alpha,k)-anonymity (0 to 1): the largest share of any sensitive
    /// value within a group.
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Maximum beta of basic beta-likeness: the largest relative gain of any sensitive value
    /// in a group over its overall share.
    #[arg(long)]
    pub beta: Option<f64>,
    /// Maximum delta of delta-disclosure privacy: the largest |ln(group share / overall
    /// share)| of any sensitive value.
    #[arg(long)]
    pub delta: Option<f64>,
    /// Largest acceptable average (prosecutor) re-identification risk (0 to 1).
    #[arg(long)]
    pub max_average_risk: Option<f64>,
    /// Highest acceptable chance of re-identifying one record (0 to 1).
    #[arg(long, default_value_t = 0.2)]
    pub risk_threshold: f64,
}

impl ModelArgs {
    /// The risk configuration these flags describe (other fields at their defaults).
    pub fn config(&self) -> RiskConfig {
        RiskConfig {
            quasi_identifiers: self.qi.clone(),
            sensitive: self.sensitive.clone(),
            k: self.k,
            l: self.l,
            c: self.c,
            l_variant: match self.l_variant {
                LVariantArg::Distinct => LVariant::Distinct,
                LVariantArg::Entropy => LVariant::Entropy,
                LVariantArg::Recursive => LVariant::Recursive,
            },
            t: self.t,
            alpha: self.alpha,
            beta: self.beta,
            delta: self.delta,
            max_average_risk: self.max_average_risk,
            risk_threshold: self.risk_threshold,
            ..Default::default()
        }
    }

    /// The ground distance chosen.
    pub fn ground(&self) -> GroundChoice {
        match self.ground_distance {
            GroundArg::Auto => GroundChoice::Auto,
            GroundArg::Equal => GroundChoice::Equal,
            GroundArg::Ordered => GroundChoice::Ordered,
            GroundArg::Hierarchical => GroundChoice::Hierarchical,
        }
    }
}

/// Options of `pets risk`.
#[derive(Debug, Args)]
pub struct RiskArgs {
    /// The data file (.csv, .tsv, .parquet).
    pub data: PathBuf,
    /// How a CSV/TSV file is written.
    #[command(flatten)]
    pub csv: crate::csv_args::CsvArgs,
    /// The declared schema (JSON or TOML). Inferred from the data, with a warning, when
    /// absent: an inferred schema reads the domains from the private data.
    #[arg(long)]
    pub schema: Option<PathBuf>,
    /// The privacy models checked.
    #[command(flatten)]
    pub models: ModelArgs,
    /// A value hierarchy of the sensitive attribute for hierarchical t-closeness: a JSON
    /// object from each value to its ancestors below the root, e.g.
    /// `{"J45": ["Respiratory", "Asthma"], ...}`. Implies --ground-distance hierarchical.
    #[arg(long)]
    pub hierarchy: Option<PathBuf>,
    /// Generalise columns before assessing, as they would be released: COLUMN=GRANULARITY
    /// for dates (day, week, month, year) and datetimes (second, minute, hour, day),
    /// COLUMN=WIDTH for integers (bands of WIDTH values from the declared minimum).
    /// Comma-separated, e.g. `arrival_datetime=day,age=5`.
    #[arg(long, value_delimiter = ',')]
    pub generalise: Vec<String>,
    /// Largest acceptable share of records above the risk threshold (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub max_records_at_risk: f64,
    /// The extract's share of the population it was drawn from (0 to 1), for journalist and
    /// marketer risk and population uniqueness.
    #[arg(long)]
    pub sampling_fraction: Option<f64>,
    /// The facts an intruder may know, for the scenario analysis (default: the
    /// quasi-identifiers; at most 12).
    #[arg(long, value_delimiter = ',')]
    pub intruder: Vec<String>,
    /// A population file (same schema) for exact journalist and marketer risk.
    #[arg(long)]
    pub population: Option<PathBuf>,
    /// An intruder's file (same schema's columns) to run a linkage attack with.
    #[arg(long)]
    pub attacker: Option<PathBuf>,
    /// Skip the analysis of every combination of intruder facts.
    #[arg(long)]
    pub no_scenarios: bool,
    /// Skip the minimal-sample-unique (SUDA) search.
    #[arg(long)]
    pub no_suda: bool,
    /// Write the HTML report here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Run `pets risk`; `Ok(true)` when every check passed.
pub fn run(args: &RiskArgs) -> Result<bool, CliError> {
    for (flag, out) in [("--report", &args.report), ("--json", &args.json)] {
        if let Some(out) = out {
            let mut inputs: Vec<(&str, &std::path::Path)> = vec![("data file", &args.data)];
            for (name, p) in [
                ("--schema", &args.schema),
                ("--population", &args.population),
                ("--attacker", &args.attacker),
                ("--hierarchy", &args.hierarchy),
            ] {
                if let Some(p) = p {
                    inputs.push((name, p));
                }
            }
            crate::exit::refuse_clobber(flag, out, &inputs)?;
        }
    }
    if let (Some(a), Some(b)) = (&args.report, &args.json) {
        crate::exit::refuse_clobber("--json", b, &[("--report", a)])?;
    }
    let schema = args.schema.as_ref().map(Schema::load).transpose()?;
    let config = RiskConfig {
        max_records_at_risk: args.max_records_at_risk,
        sampling_fraction: args.sampling_fraction,
        intruder_columns: (!args.intruder.is_empty()).then(|| args.intruder.clone()),
        scenarios: !args.no_scenarios,
        suda: !args.no_suda,
        ..args.models.config()
    };
    let mut job = RiskJob::new(
        TableSource::file(&args.data).with_csv(args.csv.dialect()?),
        config,
    )
    .schema_opt(schema)
    .ground_distance(args.models.ground())
    .generalise_entries(&args.generalise)?;
    if let Some(path) = &args.hierarchy {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path.display(), e))?;
        let paths: BTreeMap<String, Vec<String>> = serde_json::from_str(&text).map_err(|e| {
            CliError::usage(format!(
                "{}: expected a JSON object from each value of the sensitive attribute to its \
                 ancestors: {e}",
                path.display()
            ))
        })?;
        job = job.hierarchy(paths);
    }
    if let Some(p) = &args.population {
        job = job.population(TableSource::file(p).with_csv(args.csv.dialect()?));
    }
    if let Some(p) = &args.attacker {
        job = job.attacker(TableSource::file(p).with_csv(args.csv.dialect()?));
    }

    let (progress, bar) = crate::progress::job("risk");
    let outcome = job.progress(progress).run();
    bar.finish_and_clear();
    let outcome = outcome?;
    for w in &outcome.warnings {
        if w.kind == WarningKind::InferredSchema {
            eprintln!("\n*** WARNING *** {w}\n");
        } else {
            eprintln!("warning: {w}");
        }
    }
    let report = outcome.report;

    if let Some(p) = &args.report {
        write_atomic(p, &render_html(&report))?;
    }
    if let Some(p) = &args.json {
        write_atomic(p, &serde_json::to_string_pretty(&report)?)?;
    }
    println!("{}", report.verdict);
    for line in &report.summary {
        println!("  {line}");
    }
    for c in &report.checks {
        println!(
            "  [{}] {}: measured {}, required {} {} ({} groups, {} records failing)",
            if c.passed { "pass" } else { "FAIL" },
            c.title,
            short(c.measured),
            c.requirement,
            short(c.threshold),
            c.failing_classes,
            c.failing_records
        );
    }
    for (what, path) in [("HTML report", &args.report), ("JSON report", &args.json)] {
        if let Some(p) = path {
            println!("  {what}: {}", p.display());
        }
    }
    Ok(report.passed)
}

fn short(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else if x == f64::MAX {
        "infinite".into()
    } else {
        format!("{x:.4}")
    }
}

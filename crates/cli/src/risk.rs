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
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use pets::data::io::{DEFAULT_BATCH_ROWS, open_table};
use pets::data::{EncodeOptions, EncodedTable, Encoder, InferOptions, Schema, infer_schema};
use pets::disclosure::{
    Assessment, EquivalenceClasses, GroundDistance, Hierarchy, INFERRED_SCHEMA_WARNING, LVariant,
    LinkageOptions, RiskConfig, render_html,
};

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

/// Options of `pets risk`.
#[derive(Debug, Args)]
pub struct RiskArgs {
    /// The data file (.csv, .tsv, .parquet).
    pub data: PathBuf,
    /// The declared schema (JSON or TOML). Inferred from the data, with a warning, when
    /// absent: an inferred schema reads the domains from the private data.
    #[arg(long)]
    pub schema: Option<PathBuf>,
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
    /// A value hierarchy of the sensitive attribute for hierarchical t-closeness: a JSON
    /// object from each value to its ancestors below the root, e.g.
    /// `{"J45": ["Respiratory", "Asthma"], ...}`. Implies --ground-distance hierarchical.
    #[arg(long)]
    pub hierarchy: Option<PathBuf>,
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
    /// Generalise columns before assessing, as they would be released: COLUMN=GRANULARITY
    /// for dates (day, week, month, year) and datetimes (second, minute, hour, day),
    /// COLUMN=WIDTH for integers (bands of WIDTH values from the declared minimum).
    /// Comma-separated, e.g. `arrival_datetime=day,age=5`.
    #[arg(long, value_delimiter = ',')]
    pub generalise: Vec<String>,
    /// Highest acceptable chance of re-identifying one record (0 to 1).
    #[arg(long, default_value_t = 0.2)]
    pub risk_threshold: f64,
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

fn encode(
    path: &Path,
    schema: &Schema,
    columns: Vec<String>,
    what: &str,
) -> Result<EncodedTable, Box<dyn std::error::Error>> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {human_pos} rows ({per_sec})")
            .expect("valid template"),
    );
    bar.set_message(format!("encoding {what} {}", path.display()));
    let mut enc = Encoder::new(
        schema,
        EncodeOptions {
            columns: Some(columns),
            ..Default::default()
        },
    )?;
    for batch in enc.open_file(path, DEFAULT_BATCH_ROWS, &[])? {
        let batch = batch?;
        enc.push(&batch)?;
        bar.inc(batch.num_rows() as u64);
    }
    bar.finish_and_clear();
    Ok(enc.finish()?)
}

fn write_file(path: &Path, text: &str) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()).into())
}

/// Run `pets risk`; `Ok(true)` when every check passed.
pub fn run(args: &RiskArgs) -> Result<bool, Box<dyn std::error::Error>> {
    let mut warnings = Vec::new();
    let schema = match &args.schema {
        Some(p) => Schema::load(p)?,
        None => {
            let s = infer_schema(
                open_table(&args.data, DEFAULT_BATCH_ROWS)?,
                InferOptions::default(),
            )?;
            let w = INFERRED_SCHEMA_WARNING;
            eprintln!("\n*** WARNING *** {w}\n");
            warnings.push(w.to_string());
            s
        }
    };
    let (schema, generalised) = generalise(schema, &args.generalise)?;
    let mut config = RiskConfig {
        quasi_identifiers: args.qi.clone(),
        sensitive: args.sensitive.clone(),
        k: args.k,
        l: args.l,
        c: args.c,
        l_variant: match args.l_variant {
            LVariantArg::Distinct => LVariant::Distinct,
            LVariantArg::Entropy => LVariant::Entropy,
            LVariantArg::Recursive => LVariant::Recursive,
        },
        t: args.t,
        alpha: args.alpha,
        beta: args.beta,
        delta: args.delta,
        max_average_risk: args.max_average_risk,
        risk_threshold: args.risk_threshold,
        max_records_at_risk: args.max_records_at_risk,
        sampling_fraction: args.sampling_fraction,
        intruder_columns: (!args.intruder.is_empty()).then(|| args.intruder.clone()),
        scenarios: !args.no_scenarios,
        suda: !args.no_suda,
        ..Default::default()
    }
    .with_roles_from(&schema);
    config.validate()?;
    for name in config
        .quasi_identifiers
        .iter()
        .chain(config.sensitive.iter())
    {
        schema.column(name)?;
    }
    let mut columns = config.quasi_identifiers.clone();
    columns.extend(config.sensitive.iter().cloned());
    let table = encode(&args.data, &schema, columns, "")?;
    config.ground_distance = ground_distance(args, &table, &config)?;
    if !schema.domain_from_data().is_empty() && args.schema.is_some() {
        warnings.push(format!(
            "columns with domains read from data: {}",
            schema.domain_from_data().join(", ")
        ));
    }

    let population = match &args.population {
        Some(p) => {
            let t = encode(p, &schema, config.quasi_identifiers.clone(), "population")?;
            Some(EquivalenceClasses::compute(
                &t,
                &config.quasi_identifiers,
                None,
            )?)
        }
        None => None,
    };
    let attacker = match &args.attacker {
        Some(p) => {
            let names: Vec<String> = open_table(p, DEFAULT_BATCH_ROWS)?
                .arrow_schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let shared: Vec<String> = config
                .quasi_identifiers
                .iter()
                .filter(|q| names.contains(q))
                .cloned()
                .collect();
            if shared.is_empty() {
                return Err(format!(
                    "the intruder's file {} has none of the quasi-identifiers ({}) to link on",
                    p.display(),
                    config.quasi_identifiers.join(", ")
                )
                .into());
            }
            Some((
                encode(p, &schema, shared.clone(), "intruder's file")?,
                shared,
            ))
        }
        None => None,
    };

    let mut assessment = Assessment::new(&table, &config);
    for w in warnings {
        assessment = assessment.warn(w);
    }
    if let Some(p) = &population {
        assessment = assessment.population(p);
    }
    if let Some((t, shared)) = &attacker {
        assessment = assessment.attacker(
            t,
            LinkageOptions {
                columns: Some(shared.clone()),
                ..Default::default()
            },
        );
    }
    let mut report = assessment.run()?;
    if !generalised.is_empty() {
        report.summary.insert(
            0,
            format!(
                "Assessed as released with these generalisations: {}.",
                generalised.join("; ")
            ),
        );
    }

    if let Some(p) = &args.report {
        write_file(p, &render_html(&report))?;
    }
    if let Some(p) = &args.json {
        write_file(p, &serde_json::to_string_pretty(&report)?)?;
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

/// Apply `--generalise` entries (`COLUMN=LEVEL`, see [`Schema::generalise`]) to the schema;
/// returns it with a description of each change.
fn generalise(
    mut schema: Schema,
    entries: &[String],
) -> Result<(Schema, Vec<String>), Box<dyn std::error::Error>> {
    let mut done = Vec::new();
    for entry in entries.iter().filter(|e| !e.trim().is_empty()) {
        let (name, level) = entry.split_once('=').ok_or_else(|| {
            format!(
                "--generalise {entry:?}: expected COLUMN=LEVEL, e.g. arrival_datetime=day or age=5"
            )
        })?;
        done.push(schema.generalise(name, level)?);
    }
    Ok((schema, done))
}

/// The t-closeness ground distance asked for, with the hierarchy file resolved.
fn ground_distance(
    args: &RiskArgs,
    table: &EncodedTable,
    config: &RiskConfig,
) -> Result<GroundDistance, Box<dyn std::error::Error>> {
    let Some(path) = &args.hierarchy else {
        return match args.ground_distance {
            GroundArg::Auto => Ok(GroundDistance::Auto),
            GroundArg::Equal => Ok(GroundDistance::Equal),
            GroundArg::Ordered => Ok(GroundDistance::Ordered),
            GroundArg::Hierarchical => {
                Err("--ground-distance hierarchical needs --hierarchy FILE".into())
            }
        };
    };
    if !matches!(
        args.ground_distance,
        GroundArg::Auto | GroundArg::Hierarchical
    ) {
        return Err("--hierarchy implies --ground-distance hierarchical".into());
    }
    let sensitive = config
        .sensitive
        .as_deref()
        .ok_or("--hierarchy needs a sensitive attribute (--sensitive)")?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let paths: BTreeMap<String, Vec<String>> = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}: expected a JSON object from each value of {sensitive} to its ancestors: {e}",
            path.display()
        )
    })?;
    let column = table.column(sensitive)?;
    Ok(GroundDistance::Hierarchical(Hierarchy::from_labels(
        column, &paths,
    )?))
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

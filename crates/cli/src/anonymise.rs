//! `pets anonymise`: the least coarsening and suppression that makes an extract pass, and
//! the release written with its schema and a record of what was done.
//!
//! ```text
//! pets anonymise ae.csv --schema ae.schema.json \
//!     --qi age,sex,postcode_district,arrival_datetime --sensitive diagnosis_group \
//!     --k 5 --l 2 --max-suppression 0.05 \
//!     --hierarchy 'age=5,10,20;top=90' --hierarchy arrival_datetime=day,month,quarter \
//!     --output release.csv --report anonymise.html --json anonymise.json
//! pets anonymise ae.csv --schema ae.schema.json --qi age,sex,los_days \
//!     --microaggregate los_days=mean --local-recoding 3 --output release.csv
//! ```
//!
//! The CLI parses and renders; [`pets::anonymise::AnonymiseJob`] does the work. Writes
//! `release.csv`, `release.schema.json` (the release's schema, for `pets risk`) and
//! `release.record.json` (exactly what was done) beside it unless told otherwise.

use std::path::{Path, PathBuf};

use clap::Args;
use pets::WarningKind;
use pets::anonymise::{AnonymiseJob, LossMeasure, SuppressedRows, render_html};
use pets::data::{Schema, TableSource};

use crate::exit::{CliError, refuse_clobber, write_atomic};
use crate::risk::ModelArgs;

/// Options of `pets anonymise`.
#[derive(Debug, Args)]
pub struct AnonymiseArgs {
    /// The data file (.csv, .tsv, .parquet).
    pub data: PathBuf,
    /// How a CSV/TSV file is written.
    #[command(flatten)]
    pub csv: crate::csv_args::CsvArgs,
    /// The declared schema (JSON or TOML); its columns may declare a "hierarchy". Inferred
    /// from the data, with a warning, when absent.
    #[arg(long)]
    pub schema: Option<PathBuf>,
    /// The privacy models to meet.
    #[command(flatten)]
    pub models: ModelArgs,
    /// A quasi-identifier's hierarchy, COLUMN=SPEC, repeatable: band widths
    /// (`age=5,10,20;top=90`), calendar levels (`arrival_datetime=hour,day,month,quarter`),
    /// postcode units (`postcode_district=postcode`), a grouping table (`ethnicity=@eth.csv`)
    /// or `none`. Overrides the schema's; see `pets schema explain`.
    #[arg(long = "hierarchy")]
    pub hierarchies: Vec<String>,
    /// A numeric quasi-identifier to microaggregate instead of generalise, COLUMN=FUNCTION,
    /// repeatable: `mean`, `median`, `mode` or `interval` (e.g. `los_days=mean`). It does
    /// not split classes; in each released class its values become the class's aggregate.
    #[arg(long = "microaggregate")]
    pub microaggregate: Vec<String>,
    /// Local recoding: anonymise the records the optimum suppresses again, up to N
    /// iterations, each record released under the levels of the iteration that kept it.
    #[arg(long, default_value_t = 0)]
    pub local_recoding: usize,
    /// Largest share of records that may be suppressed (0 to 1).
    #[arg(long, default_value_t = 0.05)]
    pub max_suppression: f64,
    /// Information loss minimised: loss, precision, entropy, discernibility,
    /// average_class_size.
    #[arg(long, default_value = "loss")]
    pub measure: String,
    /// Leave these columns out of the release, comma-separated (direct identifiers and
    /// columns not in the schema always are), e.g. quasi-identifiers not searched over.
    #[arg(long, value_delimiter = ',')]
    pub drop: Vec<String>,
    /// Keep suppressed records with every quasi-identifier set to `*` (default: remove them).
    #[arg(long)]
    pub mask: bool,
    /// How far above the optimum's loss the list of alternatives reaches (0.5 = 1.5 times).
    #[arg(long, default_value_t = 0.5)]
    pub front_slack: f64,
    /// Write the release here (.csv, .tsv, .parquet). Without it only the plan is reported.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Write the release's schema here (default: OUTPUT's name with .schema.json).
    #[arg(long)]
    pub release_schema: Option<PathBuf>,
    /// Write the record of what was done here (default: OUTPUT's name with .record.json).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Write the HTML report here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write the whole outcome as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

fn beside(output: &Path, suffix: &str) -> PathBuf {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "release".into());
    output.with_file_name(format!("{stem}{suffix}"))
}

/// Run `pets anonymise`.
pub fn run(args: &AnonymiseArgs) -> Result<(), CliError> {
    let schema_out = args
        .release_schema
        .clone()
        .or_else(|| args.output.as_ref().map(|o| beside(o, ".schema.json")));
    let record_out = args
        .record
        .clone()
        .or_else(|| args.output.as_ref().map(|o| beside(o, ".record.json")));
    let mut inputs: Vec<(&str, &Path)> = vec![("data file", &args.data)];
    if let Some(s) = &args.schema {
        inputs.push(("--schema", s));
    }
    let mut outputs: Vec<(&str, &Path)> = Vec::new();
    for (flag, out) in [
        ("--output", &args.output),
        ("--release-schema", &schema_out),
        ("--record", &record_out),
        ("--report", &args.report),
        ("--json", &args.json),
    ] {
        if let Some(out) = out {
            refuse_clobber(flag, out, &inputs)?;
            refuse_clobber(flag, out, &outputs)?;
            outputs.push((flag, out));
        }
    }
    let schema = args.schema.as_ref().map(Schema::load).transpose()?;
    let measure: LossMeasure = args.measure.parse()?;
    let mut job = AnonymiseJob::new(
        TableSource::file(&args.data).with_csv(args.csv.dialect()?),
        args.models.config(),
    )
    .schema_opt(schema)
    .ground_distance(args.models.ground())
    .hierarchy_entries(&args.hierarchies)?
    .microaggregate_entries(&args.microaggregate)?
    .local_recoding(args.local_recoding)
    .suppression_limit(args.max_suppression)
    .measure(measure)
    .front_slack(args.front_slack)
    .drop_columns(args.drop.iter().cloned())
    .suppressed_rows(if args.mask {
        SuppressedRows::Mask
    } else {
        SuppressedRows::Remove
    });
    if let Some(dir) = args.schema.as_ref().and_then(|s| s.parent()) {
        job = job.hierarchy_dir(dir);
    }
    if let Some(o) = &args.output {
        job = job.output(o);
    }
    let (progress, bar) = crate::progress::job("anonymise");
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
    if let Some(p) = &schema_out {
        write_atomic(p, &outcome.release_schema.to_json())?;
    }
    if let Some(p) = &record_out {
        write_atomic(p, &serde_json::to_string_pretty(&outcome.record)?)?;
    }
    if let Some(p) = &args.report {
        write_atomic(p, &render_html(&outcome))?;
    }
    if let Some(p) = &args.json {
        write_atomic(p, &serde_json::to_string_pretty(&outcome)?)?;
    }
    let r = &outcome.record;
    let s = &outcome.search;
    println!(
        "{} -> {}: least information loss {:.4} ({}); {} of {} records suppressed ({:.2}%, \
         limit {:.2}%)",
        outcome.before.verdict,
        outcome.after.verdict,
        r.loss,
        r.measure,
        r.records_suppressed,
        r.records_in,
        100.0 * r.records_suppressed as f64 / r.records_in.max(1) as f64,
        100.0 * r.suppression_limit
    );
    for q in &r.quasi_identifiers {
        println!("  {}: {}  ({})", q.column, q.level_name, q.hierarchy);
    }
    for m in &r.microaggregation {
        println!(
            "  {}: microaggregated ({}) over {} classes, information loss {:.4} ({})",
            m.column,
            m.function.name(),
            m.classes,
            m.loss,
            m.loss_measure
        );
    }
    if r.local_recoding > 0 {
        println!(
            "  local recoding: {} record(s) suppressed before, {} after",
            r.records_suppressed_global, r.records_suppressed
        );
        for it in r.iterations.iter().skip(1) {
            println!(
                "    iteration {}: {} of {} record(s) released{} at {}",
                it.iteration,
                it.records_released,
                it.records_in,
                if it.dropped {
                    " (dropped: the release would fail)"
                } else {
                    ""
                },
                it.level_names.join(", ")
            );
        }
    }
    println!(
        "  risk after: highest {:.4}, average {:.4}; {} of {} lattice nodes evaluated, {} ruled out",
        s.optimum.highest_risk, s.optimum.average_risk, s.evaluated, s.lattice_nodes, s.tagged
    );
    if s.front.len() > 1 {
        println!("  alternatives (loss, average risk):");
        for n in &s.front[1..] {
            let levels: Vec<String> = n
                .levels
                .iter()
                .zip(&outcome.hierarchies)
                .map(|(&l, h)| format!("{}={}", h.column, h.levels[l]))
                .collect();
            println!(
                "    {:.4}, {:.4}: {}",
                n.loss,
                n.average_risk,
                levels.join(", ")
            );
        }
    }
    for (what, path) in [
        ("release", &args.output),
        ("release schema", &schema_out),
        ("record", &record_out),
        ("HTML report", &args.report),
        ("JSON", &args.json),
    ] {
        if let Some(p) = path {
            println!("  {what}: {}", p.display());
        }
    }
    Ok(())
}

//! `pets federated aggregator | node | submit | certs`: the network service's doors. They
//! parse and render; `pets_federated_net` carries the messages and `pets::federated` runs
//! the protocol.
//!
//! ```text
//! pets federated certs --out certs aggregator helper trust_a trust_b trust_c analyst
//! pets federated aggregator --config agg.toml        # secagg; Prio3's leader with prio3_helper
//! pets federated aggregator --config helper.toml     # Prio3's helper (helper_of = "aggregator")
//! pets federated node --data trust_a.parquet --schema ae.schema.json --config node_a.toml
//! pets federated submit job.toml --json release.json
//! ```

use std::path::PathBuf;

use clap::Args;
use pets::data::{Schema, TableSource};
use pets::federated::FederatedRelease;
use pets_federated_net::config::{self, AggregatorConfig, NodeConfig};
use pets_federated_net::submit::{Submission, Submitted};

use crate::exit::{CliError, write_atomic};

/// Options of `pets federated aggregator`.
#[derive(Debug, Args)]
pub struct AggregatorArgs {
    /// The aggregator's configuration (TOML: listen, schema, trusts, submitters, tls, ...).
    /// With `prio3_helper = "https://..."` it also leads Prio3 jobs with that second
    /// aggregator; with `helper_of = "NAME"` it is Prio3's helper of the leader NAME.
    #[arg(long)]
    pub config: PathBuf,
}

/// Options of `pets federated node`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// This trust's table (Parquet, CSV, ...): it never leaves this machine.
    #[arg(long)]
    pub data: PathBuf,
    /// The schema this trust declares its table with (JSON or TOML).
    #[arg(long)]
    pub schema: PathBuf,
    /// The node's configuration (TOML: aggregator, helper for Prio3, person_id, tls, ...).
    #[arg(long)]
    pub config: PathBuf,
    /// How CSV/TSV files are written.
    #[command(flatten)]
    pub csv: crate::csv_args::CsvArgs,
}

/// Options of `pets federated submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The job file (TOML: aggregator, helper for Prio3, tls, and the [job] table, e.g.
    /// `protocol = "prio3"`, `max_count = 1000`); or a fit file (a [fit] table: schema,
    /// epsilon, delta, ...: a federated MST fit run round by round over the network) or a
    /// training file (a [train] table: schema, target, epsilon, rounds, ...: federated
    /// averaging over the network), each writing its model file to --out.
    pub job: PathBuf,
    /// Write the release (tables, noise, round report, ledger) as JSON here; for a fit,
    /// its rounds and ledger.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// A fit file's model file (what `pets synth sample` reads), or a training file's
    /// model (weights, encoding, rounds, ledger).
    #[arg(long, visible_alias = "model")]
    pub out: Option<PathBuf>,
}

/// Options of `pets federated certs`.
#[derive(Debug, Args)]
pub struct CertsArgs {
    /// The folder to write `ca.pem` and `NAME.pem`/`NAME.key` into.
    #[arg(long)]
    pub out: PathBuf,
    /// The parties (certificate common names): the aggregator, each trust, each submitter.
    #[arg(required = true)]
    pub parties: Vec<String>,
}

/// `pets federated aggregator`.
pub fn aggregator(args: &AggregatorArgs) -> Result<(), CliError> {
    let config: AggregatorConfig = config::load(&args.config)?;
    pets_federated_net::runtime()?.block_on(pets_federated_net::aggregator::run(config))?;
    Ok(())
}

/// `pets federated node`.
pub fn node(args: &NodeArgs) -> Result<(), CliError> {
    let config: NodeConfig = config::load(&args.config)?;
    let schema = Schema::load(&args.schema)?;
    let data = TableSource::file(&args.data).with_csv(args.csv.dialect()?);
    let rounds = pets_federated_net::runtime()?.block_on(pets_federated_net::node::run(
        config,
        &args.config,
        data,
        schema,
    ))?;
    for r in rounds {
        println!(
            "round {}: party {}{}",
            r.round,
            r.party,
            r.dropped_at
                .map(|p| format!(", left at {p:?}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// `pets federated submit train.toml --out model.json`: render federated averaging's
/// outcome.
fn render_train(
    args: &SubmitArgs,
    trained: &pets::federated::train::TrainOutcome,
    out: &std::path::Path,
) -> Result<(), CliError> {
    let trusts = trained
        .rounds
        .iter()
        .map(|r| r.report.counted.len())
        .max()
        .unwrap_or(0);
    crate::federated::render_train(trained, trusts, out)?;
    if let Some(path) = &args.json {
        let value = serde_json::json!({
            "rounds": trained.rounds,
            "ledger": trained.ledger,
        });
        write_atomic(path, &(serde_json::to_string_pretty(&value)? + "\n"))?;
        eprintln!("pets federated: rounds and ledger in {}", path.display());
    }
    Ok(())
}

/// `pets federated submit fit.toml --out model.json`: render the fit's outcome.
fn render_fit(
    args: &SubmitArgs,
    fitted: &pets_synth::federated::FederatedFitOutcome,
    out: &std::path::Path,
) -> Result<(), CliError> {
    let trusts = fitted
        .rounds
        .iter()
        .flat_map(|r| &r.reports)
        .map(|rep| rep.counted.len())
        .max()
        .unwrap_or(0);
    crate::federated::render_fit(fitted, trusts, out, args.json.as_deref())
}

/// `pets federated submit job.toml`: render one round's release.
fn render_job(args: &SubmitArgs, json: String) -> Result<(), CliError> {
    let value: serde_json::Value = serde_json::from_str(&json)?;
    if let Some(release) = value.get("release") {
        let release: FederatedRelease = serde_json::from_value(release.clone())?;
        for w in &release.warnings {
            eprintln!("warning: {}", w.message);
        }
        crate::federated::render(&release, &mut std::io::stdout().lock())?;
    } else {
        eprintln!(
            "warning: {}",
            value["warning"]
                .as_str()
                .unwrap_or("an exact, noiseless sum")
        );
        println!("{}", serde_json::to_string_pretty(&value["tables"])?);
    }
    if let Some(path) = &args.json {
        write_atomic(path, &(json + "\n"))?;
        eprintln!("pets federated: release in {}", path.display());
    }
    Ok(())
}

/// `pets federated submit`: the file's kind ([`Submission::load`]: a job, a fit or a
/// training run), run, and rendered.
pub fn submit(args: &SubmitArgs) -> Result<(), CliError> {
    let submission = Submission::load(&args.job)?;
    match (&submission, &args.out) {
        (Submission::Job(_), Some(_)) => {
            return Err(CliError::usage(
                "--out writes a fit's or a training run's model file; this job file has no \
                 [fit] or [train] table (its release goes to --json)",
            ));
        }
        (Submission::Fit(_), None) => {
            return Err(CliError::usage(
                "a fit file writes a model file: give --out model.json",
            ));
        }
        (Submission::Train(_), None) => {
            return Err(CliError::usage(
                "a training file writes a model file: give --out model.json",
            ));
        }
        (_, Some(out)) => crate::exit::refuse_missing_folder("--out", out)?,
        (Submission::Job(_), None) => {}
    }
    let submitted = pets_federated_net::runtime()?.block_on(submission.run())?;
    match (submitted, &args.out) {
        (Submitted::Job(_, json), _) => render_job(args, json),
        (Submitted::Fit(fitted), Some(out)) => render_fit(args, &fitted, out),
        (Submitted::Train(trained, _), Some(out)) => render_train(args, &trained, out),
        // Refused above, before anything ran.
        (Submitted::Fit(_) | Submitted::Train(..), None) => Err(CliError::usage(
            "a fit or training file writes a model file: give --out model.json",
        )),
    }
}

/// `pets federated certs`.
pub fn certs(args: &CertsArgs) -> Result<(), CliError> {
    let names: Vec<&str> = args.parties.iter().map(String::as_str).collect();
    pets_federated_net::tls::generate_federation(&args.out, &names)?;
    eprintln!(
        "pets federated: a CA and {} certificates in {} (the CA's key is not kept)",
        names.len(),
        args.out.display()
    );
    Ok(())
}

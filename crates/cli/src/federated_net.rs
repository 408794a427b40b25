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
use pets_federated_net::config::{self, AggregatorConfig, FitFile, JobFile, NodeConfig, TrainFile};

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

/// Whether `path` has a `[key]` table (`fit`, `train`); an unreadable file is left to the
/// job file's loader, which names what is wrong.
fn has_table(path: &std::path::Path, key: &str) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
        .is_some_and(|t| t.contains_key(key))
}

/// `pets federated submit train.toml --out model.json`: federated averaging's rounds over
/// the network.
fn submit_train(args: &SubmitArgs) -> Result<(), CliError> {
    let Some(out) = &args.out else {
        return Err(CliError::usage(
            "a training file writes a model file: give --out model.json",
        ));
    };
    crate::exit::refuse_missing_folder("--out", out)?;
    let file: TrainFile = config::load(&args.job)?;
    let trained =
        pets_federated_net::runtime()?.block_on(pets_federated_net::submit::submit_train(&file))?;
    let trusts = trained
        .rounds
        .iter()
        .map(|r| r.report.counted.len())
        .max()
        .unwrap_or(0);
    crate::federated::render_train(&trained, trusts, out)?;
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

/// `pets federated submit fit.toml --out model.json`: the fit's rounds over the network.
fn submit_fit(args: &SubmitArgs) -> Result<(), CliError> {
    let Some(out) = &args.out else {
        return Err(CliError::usage(
            "a fit file writes a model file: give --out model.json",
        ));
    };
    crate::exit::refuse_missing_folder("--out", out)?;
    let file: FitFile = config::load(&args.job)?;
    let fitted =
        pets_federated_net::runtime()?.block_on(pets_federated_net::submit::submit_fit(&file))?;
    let trusts = fitted
        .rounds
        .iter()
        .flat_map(|r| &r.reports)
        .map(|rep| rep.counted.len())
        .max()
        .unwrap_or(0);
    crate::federated::render_fit(&fitted, trusts, out, args.json.as_deref())
}

/// `pets federated submit`.
pub fn submit(args: &SubmitArgs) -> Result<(), CliError> {
    if has_table(&args.job, "fit") {
        return submit_fit(args);
    }
    if has_table(&args.job, "train") {
        return submit_train(args);
    }
    if args.out.is_some() {
        return Err(CliError::usage(
            "--out writes a fit's or a training run's model file; this job file has no [fit] \
             or [train] table (its release goes to --json)",
        ));
    }
    let job: JobFile = config::load(&args.job)?;
    let (_, json) =
        pets_federated_net::runtime()?.block_on(pets_federated_net::submit::submit(&job))?;
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

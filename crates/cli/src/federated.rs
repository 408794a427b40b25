//! `pets federated simulate`: a federated DP release with every trust, the aggregator(s) and
//! the collector in one process (each trust's rows stay in its own table; only protocol
//! messages, through the real wire format, move between them).
//!
//! ```text
//! pets federated simulate ae.parquet --schema ae.schema.json --split-by provider_code \
//!     --trusts 5 --table age_band,hour(arrival_datetime) --rho 0.1 --protocol secagg
//! pets federated simulate --trust a=trust_a.csv --trust b=trust_b.csv --trust c=trust_c.csv \
//!     --schema ae.schema.json --table sex --rho 0.05 --drop c=before-masked
//! pets federated simulate ae.parquet --schema ae.schema.json --split-by provider_code \
//!     --trusts 5 --value 'mean(total_time_in_dept_min, 0, 720) by age_band' --rho 0.1
//! pets federated simulate ae.parquet --schema ae.schema.json --split-by provider_code \
//!     --trusts 5 --value 'mean(total_time_in_dept_min > 240) by provider_code' --rho 0.1
//! pets federated fit ae.parquet --schema ae.schema.json --split-by provider_code \
//!     --trusts 5 --epsilon 1 --delta 1e-9 --out model.json
//! pets federated train ae.parquet --schema ae.schema.json --split-by provider_code \
//!     --trusts 5 --target admitted --epsilon 1 --rounds 30 --out model.json
//! ```
//!
//! The CLI parses and renders; [`pets::federated::FederatedJob`] and, for `fit`,
//! [`pets_synth::federated::FederatedFitJob`] and, for `train`,
//! [`pets::federated::FederatedTrainJob`] do the work.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use pets::data::{Schema, TableSource};
use pets::dp::{ChargeRecord, Cost, Session};
use pets::federated::FederatedTrainJob;
use pets::federated::{
    FederatedJob, FederatedQuery, FederatedRelease, Protocol, TrustTables, simulation_trusts,
};
use pets_synth::FitSettings;
use pets_synth::federated::FederatedFitJob;

use crate::exit::{CliError, refuse_clobber, write_atomic};

/// `pets federated ...`
#[derive(Debug, Subcommand)]
pub enum FederatedCommand {
    /// Run one federated DP release over several trusts' tables on this machine: secure
    /// aggregation (one aggregator, dropouts recovered) or Prio3 (two aggregators).
    Simulate(Box<SimulateArgs>),
    /// Fit an MST synthesiser across trusts without pooling rows (three federated rounds of
    /// noisy marginals, every party on this machine) and write the model file that `pets
    /// synth sample` reads.
    Fit(Box<FitArgs>),
    /// Train a logistic regression across trusts by federated averaging with patient-level
    /// DP (rounds of clipped gradient sums under secure aggregation, every party on this
    /// machine) and write the model (weights, encoding, rounds, ledger) as JSON.
    Train(Box<TrainArgs>),
    /// Split one table into trusts' files by a column (a trial federation on one machine).
    Split(SplitArgs),
    /// Run the aggregator service (HTTPS with mutual TLS) until stopped.
    #[cfg(feature = "net")]
    Aggregator(crate::federated_net::AggregatorArgs),
    /// Run a trust's node agent: wait for a round, join it with this trust's table.
    #[cfg(feature = "net")]
    Node(crate::federated_net::NodeArgs),
    /// Submit a job to the aggregator, wait for the round and print the release.
    #[cfg(feature = "net")]
    Submit(crate::federated_net::SubmitArgs),
    /// Write a federation CA and certificates for the named parties (tests and trials).
    #[cfg(feature = "net")]
    Certs(crate::federated_net::CertsArgs),
}

/// The trusts of a federation simulated on this machine, and the schema they encode against
/// (`simulate` and `fit`).
#[derive(Debug, Args)]
pub struct TrustFiles {
    /// One table to split into trusts with --split-by (or give each trust's file with --trust).
    pub data: Option<PathBuf>,
    /// How CSV/TSV files are written.
    #[command(flatten)]
    pub csv: crate::csv_args::CsvArgs,
    /// The declared schema (JSON or TOML): every trust encodes against it.
    #[arg(long)]
    pub schema: PathBuf,
    /// Split DATA into one trust per value of this column (e.g. provider_code).
    #[arg(long, requires = "data")]
    pub split_by: Option<String>,
    /// With --split-by: deal the column's values round-robin into this many trusts.
    #[arg(long, requires = "split_by")]
    pub trusts: Option<usize>,
    /// A trust's own file, as NAME=PATH; repeat for each trust.
    #[arg(long = "trust", value_name = "NAME=PATH", conflicts_with = "split_by")]
    pub trust: Vec<String>,
}

impl TrustFiles {
    /// The files read, for the outputs' clobber checks.
    fn inputs(&self) -> Vec<(&'static str, &std::path::Path)> {
        let mut inputs = vec![("--schema", self.schema.as_path())];
        if let Some(d) = &self.data {
            inputs.push(("data file", d.as_path()));
        }
        inputs
    }

    /// DATA split by a column, or each trust's own file.
    fn tables(&self) -> Result<TrustTables, CliError> {
        let dialect = self.csv.dialect()?;
        match (&self.data, &self.split_by) {
            (Some(data), Some(column)) => Ok(TrustTables::Split {
                source: TableSource::file(data).with_csv(dialect),
                column: column.clone(),
                groups: self.trusts,
            }),
            (None, None) if !self.trust.is_empty() => Ok(TrustTables::Own(
                self.trust
                    .iter()
                    .map(|t| {
                        let (name, path) = pair("--trust", t)?;
                        Ok((
                            name.to_string(),
                            TableSource::file(path).with_csv(dialect.clone()),
                        ))
                    })
                    .collect::<Result<_, CliError>>()?,
            )),
            _ => Err(CliError::usage(
                "give DATA with --split-by COLUMN, or each trust's file with --trust NAME=PATH",
            )),
        }
    }
}

/// The round options `simulate`, `fit` and `train` share: the protocol, its fault tolerance, the
/// person bounds and fault injection (a fit applies them to each of its rounds).
#[derive(Debug, Args)]
pub struct RoundOptions {
    /// secagg (masking, one aggregator, distributed noise) or prio3 (two aggregators).
    #[arg(long, default_value = "secagg")]
    pub protocol: String,
    /// Secure aggregation: trusts that must survive every stage (default: a strict majority).
    #[arg(long)]
    pub threshold: Option<usize>,
    /// Secure aggregation: trusts that may collude with the aggregator.
    #[arg(long, default_value_t = 0)]
    pub colluders: usize,
    /// Person-id column in every trust's table (e.g. nhs_number); without it, per-row privacy.
    #[arg(long)]
    pub person_id: Option<String>,
    /// Rows kept per person at each trust.
    #[arg(long, default_value_t = 1)]
    pub max_rows_per_person: u32,
    /// Trusts one person may attend (public bound; default 1, announced).
    #[arg(long)]
    pub max_trusts_per_person: Option<u32>,
    /// Prio3: the largest (weighted) count one trust may put in one cell (checked by the
    /// validity proofs).
    #[arg(long)]
    pub max_count: Option<u64>,
    /// Make a trust drop out (of every round): NAME=before-keys|before-shares|before-masked|
    /// before-unmask.
    #[arg(long = "drop", value_name = "NAME=STAGE")]
    pub drops: Vec<String>,
}

impl RoundOptions {
    /// The protocol.
    fn protocol(&self) -> Result<Protocol, CliError> {
        Ok(self.protocol.parse::<Protocol>()?)
    }

    /// The trusts of `federation`, read against `schema`, with the faults to inject.
    fn trusts(
        &self,
        federation: &TrustFiles,
        schema: &Schema,
    ) -> Result<Vec<pets::federated::TrustInput>, CliError> {
        let drops: Vec<(String, String)> = self
            .drops
            .iter()
            .map(|d| pair("--drop", d).map(|(n, s)| (n.to_string(), s.to_string())))
            .collect::<Result<_, _>>()?;
        Ok(simulation_trusts(
            federation.tables()?,
            schema,
            self.person_id.as_deref(),
            &drops,
        )?)
    }
}

/// Options of `pets federated simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The trusts' tables and the schema.
    #[command(flatten)]
    pub federation: TrustFiles,
    /// One table's dimensions, comma-separated (`col`, `hour(col)`, `weekday(col)`); repeat
    /// for several tables in one round. None: the count of rows.
    #[arg(long = "table", value_name = "COLUMNS")]
    pub tables: Vec<String>,
    /// A sum or mean of a numeric column clamped to public bounds, optionally grouped:
    /// `sum(COL, LOWER, UPPER)` or `mean(COL, LOWER, UPPER)`, then optionally `by DIM, DIM`;
    /// or a rate or count of a condition, compared across the cells by funnel limits:
    /// `mean(total_time_in_dept_min > 240) by provider_code`, `sum(admitted = true)`,
    /// `mean(age_band in (65-84, 85+))`; repeat for several in one round (secagg only).
    #[arg(long = "value", value_name = "SPEC")]
    pub values: Vec<String>,
    /// The budget of the release as rho-zCDP.
    #[arg(long)]
    pub rho: f64,
    /// The protocol, its fault tolerance, the person bounds and fault injection.
    #[command(flatten)]
    pub round: RoundOptions,
    /// Significance of the reported half-width (0.05: 95%).
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Seed of each trust's choice of kept rows.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Charge the release's cost to this dataset's persistent budget file (`pets budget
    /// init`) after every data check and before any trust draws noise; refused, with nothing
    /// released, when it does not fit what is left. The receipt goes into the JSON.
    #[arg(long)]
    pub budget: Option<PathBuf>,
    /// Write the release (tables, noise, round report, ledger) as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Options of `pets federated fit`.
#[derive(Debug, Args)]
pub struct FitArgs {
    /// The trusts' tables and the schema.
    #[command(flatten)]
    pub federation: TrustFiles,
    /// Target epsilon of (epsilon, delta)-DP for the whole fit (its three rounds).
    #[arg(long)]
    pub epsilon: f64,
    /// Target delta.
    #[arg(long, default_value_t = 1e-9)]
    pub delta: f64,
    /// The protocol, its fault tolerance, the person bounds and fault injection.
    #[command(flatten)]
    pub round: RoundOptions,
    /// Integer, date and datetime columns with more values are binned or coarsened.
    #[arg(long, default_value_t = 128)]
    pub max_values: u32,
    /// Share of rho for round B, the candidate pairs the tree is chosen from (default 0.1).
    #[arg(long)]
    pub selection_share: Option<f64>,
    /// Soft threshold of the tree's pair scores, in multiples of round B's noise sigma.
    #[arg(long, default_value_t = 1.0)]
    pub score_threshold: f64,
    /// Columns with more declared values are measured 1-way only.
    #[arg(long, default_value_t = 4096)]
    pub max_pair_values: u32,
    /// Largest compressed pair table considered (at most 4,000,000: one round).
    #[arg(long, default_value_t = 1 << 22)]
    pub max_pair_cells: u64,
    /// Split each round's budget equally between its tables (the paper's MST) rather than
    /// by size.
    #[arg(long)]
    pub equal_shares: bool,
    /// Mirror-descent iterations of the inference, exactly (default: MST's work budget).
    #[arg(long)]
    pub iters: Option<usize>,
    /// Seed of each trust's choice of kept rows.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Charge the fit's (epsilon, delta) to this dataset's persistent budget file (`pets
    /// budget init`) after every data check and before any round.
    #[arg(long)]
    pub budget: Option<PathBuf>,
    /// Write the rounds (trusts counted, bytes, noise, charge) and the ledger as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the model file here.
    #[arg(long, visible_alias = "model")]
    pub out: PathBuf,
}

/// Options of `pets federated train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The trusts' tables and the schema.
    #[command(flatten)]
    pub federation: TrustFiles,
    /// The binary target: a categorical column (e.g. admitted).
    #[arg(long)]
    pub target: String,
    /// The target's positive value (default: the second of two declared values).
    #[arg(long)]
    pub positive: Option<String>,
    /// Feature columns, comma-separated (default: every categorical column of at most 64
    /// values and every integer or float column, except the target and direct identifiers).
    #[arg(long, value_delimiter = ',')]
    pub features: Option<Vec<String>>,
    /// Target epsilon of (epsilon, delta)-DP for the whole run (all its rounds).
    #[arg(long)]
    pub epsilon: f64,
    /// Target delta.
    #[arg(long, default_value_t = 1e-9)]
    pub delta: f64,
    /// Rounds (each spends rho / rounds).
    #[arg(long, default_value_t = pets::federated::train::DEFAULT_ROUNDS)]
    pub rounds: usize,
    /// Clip norm of each row's gradient (default: the largest feature norm, sqrt(1 +
    /// features), at which nothing is clipped).
    #[arg(long)]
    pub clip: Option<f64>,
    /// Step size of the coordinator's Adam.
    #[arg(long, default_value_t = pets::federated::train::DEFAULT_LEARNING_RATE)]
    pub learning_rate: f64,
    /// L2 penalty on the non-intercept weights.
    #[arg(long, default_value_t = pets::federated::train::DEFAULT_L2)]
    pub l2: f64,
    /// The protocol (secagg; prio3 is refused for training), its fault tolerance, the person
    /// bounds and fault injection, as `simulate` and `fit` take them.
    #[command(flatten)]
    pub round: RoundOptions,
    /// Seed of each trust's choice of kept rows.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Charge the run's (epsilon, delta) to this dataset's persistent budget file (`pets
    /// budget init`) after every data check and before any round.
    #[arg(long)]
    pub budget: Option<PathBuf>,
    /// Write the model (encoding, weights, options, rounds, ledger) as JSON here.
    #[arg(long, visible_alias = "model")]
    pub out: PathBuf,
}

/// Options of `pets federated split`.
#[derive(Debug, Args)]
pub struct SplitArgs {
    /// The table to split.
    pub data: PathBuf,
    /// How CSV/TSV files are written.
    #[command(flatten)]
    pub csv: crate::csv_args::CsvArgs,
    /// The declared schema.
    #[arg(long)]
    pub schema: PathBuf,
    /// One trust per value of this column (e.g. provider_code).
    #[arg(long)]
    pub by: String,
    /// Deal the column's values round-robin into this many trusts (`trust_1`, ...).
    #[arg(long)]
    pub trusts: Option<usize>,
    /// The folder to write `NAME.parquet` into, one file per trust.
    #[arg(long)]
    pub out: PathBuf,
}

fn split(args: &SplitArgs) -> Result<(), CliError> {
    let schema = Schema::load(&args.schema)?;
    let source = TableSource::file(&args.data).with_csv(args.csv.dialect()?);
    let trusts = pets::federated::split_by_column(&source, Some(&schema), &args.by, args.trusts)?;
    std::fs::create_dir_all(&args.out)?;
    for t in &trusts {
        let path = args.out.join(format!("{}.parquet", t.name));
        refuse_clobber("--out", &path, &[("data file", args.data.as_path())])?;
        let stream = t.source.stream()?;
        let rows = pets::data::io::write_table(&path, stream)?;
        println!("{}: {rows} rows in {}", t.name, path.display());
    }
    Ok(())
}

fn pair<'a>(flag: &str, s: &'a str) -> Result<(&'a str, &'a str), CliError> {
    s.split_once('=')
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .ok_or_else(|| CliError::usage(format!("{flag} takes NAME=VALUE, got {s:?}")))
}

/// Run `pets federated ...`.
pub fn run(command: &FederatedCommand) -> Result<(), CliError> {
    match command {
        FederatedCommand::Simulate(a) => simulate(a),
        FederatedCommand::Fit(a) => fit(a),
        FederatedCommand::Train(a) => train(a),
        FederatedCommand::Split(a) => split(a),
        #[cfg(feature = "net")]
        FederatedCommand::Aggregator(a) => crate::federated_net::aggregator(a),
        #[cfg(feature = "net")]
        FederatedCommand::Node(a) => crate::federated_net::node(a),
        #[cfg(feature = "net")]
        FederatedCommand::Submit(a) => crate::federated_net::submit(a),
        #[cfg(feature = "net")]
        FederatedCommand::Certs(a) => crate::federated_net::certs(a),
    }
}

fn fit(args: &FitArgs) -> Result<(), CliError> {
    let inputs = args.federation.inputs();
    crate::exit::refuse_missing_folder("--out", &args.out)?;
    refuse_clobber("--out", &args.out, &inputs)?;
    if let Some(json) = &args.json {
        refuse_clobber("--json", json, &inputs)?;
    }
    let schema = Schema::load(&args.federation.schema)?;
    let round = &args.round;
    let trusts = round.trusts(&args.federation, &schema)?;
    let (progress, bar) = crate::progress::job("federated fit");
    let job = FederatedFitJob::new(schema, args.epsilon, args.delta)
        .settings(&FitSettings {
            iters: args.iters,
            score_threshold: Some(args.score_threshold),
            selection_share: args.selection_share,
            equal_shares: Some(args.equal_shares),
            max_pair_cells: Some(args.max_pair_cells),
            max_pair_values: Some(args.max_pair_values),
            ..FitSettings::default()
        })
        .max_values(args.max_values)
        .protocol(round.protocol()?)
        .threshold(round.threshold)
        .colluders(round.colluders)
        .max_rows_per_person(round.max_rows_per_person)
        .max_trusts_per_person(round.max_trusts_per_person)
        .max_count(round.max_count)
        .seed(args.seed)
        .budget(args.budget.clone())
        .progress(progress);
    let fitted = job.run(&trusts);
    bar.finish_and_clear();
    let fitted = fitted?;
    render_fit(&fitted, trusts.len(), &args.out, args.json.as_deref())
}

/// Render a federated fit (in process, or over the network: `pets federated submit
/// fit.toml`): notes, warnings, the rounds, the model file and the JSON of rounds and
/// ledger.
pub(crate) fn render_fit(
    fitted: &pets_synth::federated::FederatedFitOutcome,
    trusts: usize,
    out_path: &std::path::Path,
    json: Option<&std::path::Path>,
) -> Result<(), CliError> {
    let model = &fitted.fit.model;
    for note in &model.notes {
        eprintln!("pets federated: {note}");
    }
    for w in &fitted.fit.warnings {
        eprintln!("warning: {w}");
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "pets federated fit: {} over {} trusts, {} columns at epsilon = {}, delta = {} \
         (rho = {:.6}); spent {}",
        model.method,
        trusts,
        model.schema.columns.len(),
        model.epsilon,
        model.delta,
        model.rho,
        model.ledger.spent
    )?;
    for r in &fitted.rounds {
        let counted: Vec<String> = r
            .reports
            .iter()
            .map(|rep| format!("{}/{}", rep.counted.len(), rep.trusts))
            .collect();
        let bytes: usize = r.reports.iter().map(|rep| rep.bytes_from_trusts).sum();
        let seconds: f64 = r.reports.iter().map(|rep| rep.protocol_seconds).sum();
        writeln!(
            out,
            "  round {}: {} tables, rho {:.6}, trusts counted {}, {} bytes from trusts, \
             {:.2} s",
            r.round,
            r.tables,
            r.rho,
            counted.join(", "),
            bytes,
            seconds
        )?;
    }
    writeln!(
        out,
        "  tree: {} pairs; noisy total {:.0}",
        model.selected.len(),
        model.total
    )?;
    model.save(out_path)?;
    eprintln!("pets federated: model written to {}", out_path.display());
    if let Some(path) = json {
        let value = serde_json::json!({
            "rounds": fitted.rounds,
            "ledger": model.ledger,
        });
        write_atomic(path, &(serde_json::to_string_pretty(&value)? + "\n"))?;
        eprintln!("pets federated: rounds and ledger in {}", path.display());
    }
    Ok(())
}

fn train(args: &TrainArgs) -> Result<(), CliError> {
    let inputs = args.federation.inputs();
    crate::exit::refuse_missing_folder("--out", &args.out)?;
    refuse_clobber("--out", &args.out, &inputs)?;
    let schema = Schema::load(&args.federation.schema)?;
    let round = &args.round;
    if round.max_count.is_some() {
        return Err(CliError::usage(
            "--max-count bounds a trust's Prio3 counts; training runs by secure aggregation \
             (--protocol secagg), so leave it out",
        ));
    }
    let trusts = round.trusts(&args.federation, &schema)?;
    let (progress, bar) = crate::progress::job("federated train");
    let job = FederatedTrainJob::new(schema, &args.target, args.epsilon, args.delta)
        .positive(args.positive.clone())
        .features(args.features.clone())
        .rounds(args.rounds)
        .clip(args.clip)
        .learning_rate(args.learning_rate)
        .l2(args.l2)
        .protocol(round.protocol()?)
        .threshold(round.threshold)
        .colluders(round.colluders)
        .max_rows_per_person(round.max_rows_per_person)
        .max_trusts_per_person(round.max_trusts_per_person)
        .seed(args.seed)
        .budget(args.budget.clone())
        .progress(progress);
    let trained = job.run(&trusts);
    bar.finish_and_clear();
    let trained = trained?;
    render_train(&trained, trusts.len(), &args.out)
}

/// Render a training run (in process, or over the network: `pets federated submit
/// train.toml`): warnings, the rounds, and the model file.
pub(crate) fn render_train(
    trained: &pets::federated::train::TrainOutcome,
    trusts: usize,
    out_path: &std::path::Path,
) -> Result<(), CliError> {
    for w in &trained.warnings {
        eprintln!("warning: {}", w.message);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "pets federated train: {} of {} ({} = {}) over {} trusts, {} coordinates, {} rounds at \
         epsilon = {}, delta = {} (rho = {:.6}, {:.6} a round); spent {}",
        trained.method,
        trained.model.encoding.target,
        trained.model.encoding.target,
        trained.model.encoding.positive,
        trusts,
        trained.model.weights.len(),
        trained.options.rounds,
        trained.epsilon,
        trained.delta,
        trained.rho,
        trained.rho / trained.options.rounds as f64,
        trained.ledger.spent
    )?;
    writeln!(
        out,
        "  clip C = {:.4}, Adam step {}, L2 {}; each round's loss and gradient are noisy \
         (post-processing of the released sums)",
        trained.options.clip, trained.options.learning_rate, trained.options.l2
    )?;
    for r in &trained.rounds {
        writeln!(
            out,
            "  round {:>3}: noisy mean log-loss {:.4}, noisy gradient norm {:.5}, trusts \
             counted {}/{}, {} bytes from trusts, {:.2} s",
            r.round,
            r.noisy_loss,
            r.gradient_norm,
            r.report.counted.len(),
            r.report.trusts,
            r.report.bytes_from_trusts,
            r.report.local_seconds + r.report.protocol_seconds
        )?;
    }
    write_atomic(out_path, &(serde_json::to_string_pretty(&trained)? + "\n"))?;
    eprintln!(
        "pets federated: model (weights, encoding, rounds, ledger) written to {}",
        out_path.display()
    );
    Ok(())
}

fn simulate(args: &SimulateArgs) -> Result<(), CliError> {
    if let Some(json) = &args.json {
        refuse_clobber("--json", json, &args.federation.inputs())?;
    }
    let schema = Schema::load(&args.federation.schema)?;
    let round = &args.round;
    let trusts = round.trusts(&args.federation, &schema)?;
    let sets: Vec<Vec<String>> = args
        .tables
        .iter()
        .map(|t| t.split(',').map(|c| c.trim().to_string()).collect())
        .collect();
    let job = FederatedJob::new(FederatedQuery::from_specs(&sets, &args.values)?)
        .protocol(round.protocol()?)
        .share(Cost::rho(args.rho))
        .threshold_opt(round.threshold)
        .colluders(round.colluders)
        .max_rows_per_person(round.max_rows_per_person)
        .max_trusts_per_person_opt(round.max_trusts_per_person)
        .max_count_opt(round.max_count)
        .alpha(args.alpha.unwrap_or(0.05))
        .seed(args.seed.unwrap_or(0))
        .budget_file(
            args.budget.clone(),
            ChargeRecord::new("pets federated simulate"),
        );
    let mut session = Session::zcdp(args.rho)?;
    let release = job.run(&mut session, &schema, &trusts)?;
    for w in &release.warnings {
        eprintln!("warning: {}", w.message);
    }
    render(&release, &mut std::io::stdout().lock())?;
    if let Some(path) = &args.json {
        let value = serde_json::json!({
            "release": release,
            "ledger": session.ledger(),
        });
        write_atomic(path, &(serde_json::to_string_pretty(&value)? + "\n"))?;
        eprintln!("pets federated: release and ledger in {}", path.display());
    }
    Ok(())
}

/// Most cells printed per table (the JSON holds all).
const MAX_PRINTED: usize = 40;

pub(crate) fn render(r: &FederatedRelease, out: &mut impl Write) -> Result<(), CliError> {
    let round = &r.round;
    writeln!(
        out,
        "pets federated: {} over {} trusts by {:?} (round {})",
        r.query, round.trusts, round.protocol, round.round
    )?;
    writeln!(
        out,
        "  counted: {} of {}{}",
        round.counted.len(),
        round.trusts,
        round
            .threshold
            .map(|t| format!(" (threshold {t})"))
            .unwrap_or_default()
    )?;
    for (name, point) in &round.dropped {
        writeln!(out, "  dropped: {name} at {point:?}")?;
    }
    for reason in &round.refused {
        writeln!(out, "  refused: {reason}")?;
    }
    writeln!(
        out,
        "  noise: {} with share scale {:.3} ({} to {} shares; total scale {:.3}, \
         over-provision x{:.2}); {} charged; +-{:.1} per cell at {:.0}%",
        r.noise.mechanism,
        r.noise.share_scale,
        r.noise.min_shares,
        r.noise.max_shares,
        r.noise.total_scale,
        r.noise.over_provision,
        r.cost,
        r.accuracy.half_width,
        100.0 * (1.0 - r.accuracy.alpha)
    )?;
    writeln!(
        out,
        "  bytes: {} from trusts, {} to trusts, {} between aggregators (plain vectors: {}); \
         {:.2} s local, {:.2} s protocol",
        round.bytes_from_trusts,
        round.bytes_to_trusts,
        round.bytes_between_aggregators,
        round.plaintext_bytes,
        round.local_seconds,
        round.protocol_seconds
    )?;
    for t in &r.tables {
        writeln!(out)?;
        if let Some(v) = &t.value {
            render_value(t, v, r.accuracy.alpha, out)?;
            continue;
        }
        let hw = t
            .half_width
            .map(|h| format!(", +-{h:.1}"))
            .unwrap_or_default();
        if t.dimensions.is_empty() {
            writeln!(out, "count: {}{hw}", t.counts[0])?;
            continue;
        }
        writeln!(out, "{}  (noisy count{hw})", t.dimensions.join(" x "))?;
        for (i, c) in t.counts.iter().enumerate().take(MAX_PRINTED) {
            writeln!(out, "  {:<40} {c:>10}", cell_label(t, i))?;
        }
        more(t.counts.len(), out)?;
    }
    Ok(())
}

fn cell_label(t: &pets::federated::FederatedTable, i: usize) -> String {
    let mut rest = i;
    let mut label = Vec::with_capacity(t.shape.len());
    for (axis, &n) in t.shape.iter().enumerate().rev() {
        label.push(t.labels[axis][rest % n].as_str());
        rest /= n;
    }
    label.reverse();
    if label.is_empty() {
        "(all)".to_string()
    } else {
        label.join(" | ")
    }
}

fn more(cells: usize, out: &mut impl Write) -> Result<(), CliError> {
    if cells > MAX_PRINTED {
        writeln!(
            out,
            "  ... {} more cells (--json writes them all)",
            cells - MAX_PRINTED
        )?;
    }
    Ok(())
}

/// `0.277 [0.276, 0.277]` (or `-` with too few rows).
fn pool_text(p: &pets::federated::Pool) -> String {
    let rate = p
        .rate
        .map(|r| format!("{r:.3}"))
        .unwrap_or_else(|| "-".into());
    format!("{rate} [{:.3}, {:.3}]", p.interval.0, p.interval.1)
}

fn render_value(
    t: &pets::federated::FederatedTable,
    v: &pets::federated::ValueCells,
    alpha: f64,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let by = if t.dimensions.is_empty() {
        String::new()
    } else {
        format!(" by {}", t.dimensions.join(" x "))
    };
    let level = 100.0 * (1.0 - alpha);
    match v.statistic {
        pets::federated::ValueStatistic::Sum if v.condition.is_some() => {
            writeln!(
                out,
                "count of rows where {}{by}  (noisy; +-{:.1} at {level:.0}%)",
                v.condition.as_deref().unwrap_or_default(),
                v.sum_half_width
            )?;
            for (i, s) in v.sums.iter().enumerate().take(MAX_PRINTED) {
                writeln!(out, "  {:<40} {s:>14.1}", cell_label(t, i))?;
            }
        }
        pets::federated::ValueStatistic::Sum => {
            writeln!(
                out,
                "sum of {} clamped to [{}, {}]{by}  (noisy; +-{:.4} at {level:.0}%, grid {})",
                v.column, v.lower, v.upper, v.sum_half_width, v.resolution
            )?;
            for (i, s) in v.sums.iter().enumerate().take(MAX_PRINTED) {
                writeln!(out, "  {:<40} {s:>14.3}", cell_label(t, i))?;
            }
        }
        pets::federated::ValueStatistic::Mean => {
            match (&v.condition, &v.comparison) {
                (Some(condition), Some(c)) => {
                    let against = match c.pools.as_slice() {
                        [one] => format!("the pooled rate {}", pool_text(one)),
                        _ => format!(
                            "the pooled rate of its {} (below)",
                            t.dimensions[..t.dimensions.len() - 1].join(" x ")
                        ),
                    };
                    writeln!(
                        out,
                        "rate of {condition}{by}  (noisy rate, count; {level:.0}% interval for \
                         the rate; counts +-{:.1}; against {against} by funnel limits at 95% \
                         and 99.8%)",
                        t.half_width.unwrap_or(f64::NAN),
                    )?;
                }
                _ => writeln!(
                    out,
                    "mean of {} clamped to [{}, {}]{by}  (noisy mean, count; {level:.0}% \
                     interval for the mean; counts +-{:.1})",
                    v.column,
                    v.lower,
                    v.upper,
                    t.half_width.unwrap_or(f64::NAN)
                )?,
            }
            for (i, c) in t.counts.iter().enumerate().take(MAX_PRINTED) {
                if let Some(cmp) = v.comparison.as_ref().filter(|c| c.pools.len() > 1)
                    && i % cmp.group_cells == 0
                {
                    let label = cell_label(t, i);
                    let peers = label.rsplit_once(" | ").map_or("", |(g, _)| g);
                    writeln!(
                        out,
                        "  {peers}: pooled rate {}",
                        pool_text(&cmp.pools[i / cmp.group_cells])
                    )?;
                }
                let (lo, hi) = v
                    .mean_intervals
                    .get(i)
                    .copied()
                    .unwrap_or((v.lower, v.upper));
                let mean = v.means[i]
                    .map(|m| format!("{m:.3}"))
                    .unwrap_or_else(|| "-".into());
                let funnel = v
                    .comparison
                    .as_ref()
                    .and_then(|c| c.cells.get(i))
                    .map(|f| format!("   {}", f.label()))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "  {:<40} {mean:>12} {c:>10}   [{lo:.3}, {hi:.3}]{funnel}",
                    cell_label(t, i)
                )?;
            }
        }
    }
    more(v.sums.len(), out)
}

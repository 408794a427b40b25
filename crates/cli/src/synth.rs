//! `pets synth fit|sample|evaluate`: differentially private synthetic data (MST, PrivBayes,
//! AIM).
//!
//! ```text
//! pets synth fit attendances.parquet --schema ae.schema.json --method mst \
//!     --epsilon 1 --delta 1e-9 --out model.json
//! pets synth sample model.json --rows 1000000 --seed 7 --out synth.parquet
//! ```
//!
//! `fit` turns the declared schema into the synthesis domain (direct identifiers and text
//! left out, wide integers in geometric bands, wide dates/datetimes as period + weekday +
//! hour of day: `pets_synth::domain`, `pets_synth::derive`, from the schema alone), encodes
//! the data against it (nothing is read from the data but codes and the input's column
//! types), fits the synthesiser under (epsilon, delta)-DP and writes the model file: schema,
//! privacy parameters, noisy measurements, fitted model, ledger and the output plan.
//! `sample` needs only the model file; it streams any number of rows to Parquet, CSV or
//! TSV, the same rows for the same seed, each column re-assembled and typed like the input.
//! `evaluate` compares a sample with the real file (`pets_synth::eval::EvalJob`): marginal
//! TVD, associations, numeric distances, utility and privacy tests, printed and written as
//! JSON and HTML (each written whole, or not at all): for the custodian, who holds the data.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use pets::data::{Schema, TableSource};
use pets_synth::{FitJob, FitSettings, SynthModel};

use crate::exit::{CliError, write_atomic};

/// `pets synth ...`
#[derive(Debug, Subcommand)]
pub enum SynthCommand {
    /// Fit a synthesiser to a data file under (epsilon, delta)-DP and write the model file.
    Fit(Box<FitArgs>),
    /// Sample synthetic rows from a model file (no data needed).
    Sample(SampleArgs),
    /// Compare a synthetic file with the real one: 1-, 2- and 3-way TVD over views of every
    /// column (datetimes by weekday and hour, numbers by 20 quantile bins) against shuffling
    /// each column independently, Cramér's V, numeric distances, train-on-synthetic utility
    /// (--target) and privacy tests (DCR, exact matches, membership inference with
    /// --holdout); JSON and HTML reports. For the custodian: it reads the real data.
    Evaluate(EvaluateArgs),
}

/// Options of `pets synth evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The real data file the synthesiser was fitted on (.csv, .tsv, .parquet).
    pub real: PathBuf,
    /// The synthetic file.
    pub synth: PathBuf,
    /// The declared schema (JSON or TOML).
    #[arg(long)]
    pub schema: PathBuf,
    /// Real rows of the same population the synthesiser never saw: the baseline of the
    /// distance-to-closest-record and exact-match tests, the non-members of the
    /// membership-inference attack (not run without it) and the test rows of --target.
    #[arg(long)]
    pub holdout: Option<PathBuf>,
    /// Machine-learning utility: a categorical column to predict (e.g. admitted), by a
    /// logistic regression trained on synthetic rows and on real rows, tested on real rows.
    #[arg(long)]
    pub target: Option<String>,
    /// The target's positive value (default: the second of two declared values, e.g. true).
    #[arg(long)]
    pub positive: Option<String>,
    /// The columns the utility models see, comma-separated (default: every other column);
    /// leave out those that give the target away (for admitted: discharge_destination,
    /// length_of_stay_days).
    #[arg(long, value_delimiter = ',')]
    pub features: Vec<String>,
    /// The marginals to compare, a JSON file listing lists of column (or view) names, e.g.
    /// `[["age_band", "acuity", "admitted"]]` (default: every 3-way marginal of the views,
    /// or a seeded sample of 200 of them).
    #[arg(long)]
    pub workload: Option<PathBuf>,
    /// Rows of each sample of the privacy tests (nearest neighbours by brute force).
    #[arg(long, default_value_t = pets_synth::eval::DEFAULT_SAMPLE_ROWS)]
    pub sample_rows: usize,
    /// Seed of every sample the evaluation draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the self-contained HTML report (plots inline, no network assets) here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write every figure as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Synthesis methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// MST (McKenna, Miklau & Sheldon 2021): noisy 1-ways, a private maximum spanning tree
    /// of 2-way marginals, graphical-model inference.
    Mst,
    /// PrivBayes (Zhang et al. 2014/2017): noisy 1-ways, a private Bayesian network of
    /// degree --degree, its families measured, graphical-model inference.
    Privbayes,
    /// AIM (McKenna et al. 2022): noisy 1-ways, then, round by round, the workload marginal
    /// (default: every 3-way) the model estimates worst, chosen by the exponential
    /// mechanism, measured, and the model re-estimated; noise halves when a round teaches
    /// little.
    Aim,
}

impl From<Method> for pets_synth::Method {
    fn from(m: Method) -> pets_synth::Method {
        match m {
            Method::Mst => pets_synth::Method::Mst,
            Method::Privbayes => pets_synth::Method::PrivBayes,
            Method::Aim => pets_synth::Method::Aim,
        }
    }
}

/// PrivBayes' family scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrivBayesScore {
    /// PrivBayes' R score in counts (sensitivity 2 a row).
    R,
    /// Mutual information times the rows, in bits (sensitivity 42 a row).
    Mi,
}

impl From<PrivBayesScore> for pets_synth::FamilyScore {
    fn from(s: PrivBayesScore) -> pets_synth::FamilyScore {
        match s {
            PrivBayesScore::R => pets_synth::FamilyScore::R,
            PrivBayesScore::Mi => pets_synth::FamilyScore::Mi,
        }
    }
}

/// Options of `pets synth fit`.
#[derive(Debug, Args)]
pub struct FitArgs {
    /// The data file (.csv, .tsv, .parquet).
    pub data: PathBuf,
    /// How a CSV/TSV file is written.
    #[command(flatten)]
    pub csv: crate::csv_args::CsvArgs,
    /// The declared schema (JSON or TOML). Domains must be public, not read from the data.
    #[arg(long)]
    pub schema: PathBuf,
    /// The method.
    #[arg(long, value_enum, default_value_t = Method::Mst)]
    pub method: Method,
    /// Epsilon of (epsilon, delta)-DP for the whole fit.
    #[arg(long)]
    pub epsilon: f64,
    /// Delta of (epsilon, delta)-DP; well below 1 / rows.
    #[arg(long, default_value_t = 1e-9)]
    pub delta: f64,
    /// Columns to synthesise, comma-separated (default: every encodable column that is not a
    /// direct identifier).
    #[arg(long, value_delimiter = ',')]
    pub columns: Vec<String>,
    /// Integer, date and datetime columns with more codes than this are binned or coarsened
    /// for synthesis (from the schema alone; declared bins are kept).
    #[arg(long, default_value_t = 128)]
    pub max_values: u32,
    /// Person-level privacy: the column identifying a person (e.g. nhs_number); each
    /// person's rows are cut to --max-rows-per-person, chosen at random, before fitting.
    #[arg(long)]
    pub person_id: Option<String>,
    /// Rows a person may contribute (with --person-id); the noise grows with it.
    #[arg(long, default_value_t = 1)]
    pub max_rows_per_person: u32,
    /// Seed of the choice of each person's rows (data processing, not privacy noise).
    #[arg(long, default_value_t = 0)]
    pub bounding_seed: u64,
    /// Penalise candidate pairs by the noise of measuring them (AIM's score) when choosing
    /// the tree: much faster on wide domains, may skip a large but useful pair.
    #[arg(long)]
    pub noise_penalty: bool,
    /// Measure every MST pair densely (the published MST). By default a pair whose dense
    /// release would be mostly noise (postcode district x provider) is released above a
    /// threshold instead, with a quarter of delta: far fewer noise draws, but its
    /// small cells are suppressed.
    #[arg(long)]
    pub dense_pairs: bool,
    /// Soft threshold of MST's edge score, in multiples of the 2-way noise sigma: only the
    /// error above it counts (0: the published score; 1 keeps noise-dominated pairs out).
    #[arg(long, default_value_t = 1.0)]
    pub score_threshold: f64,
    /// Share of the budget spent choosing the tree (MST) or the network (PrivBayes, its
    /// beta); the rest measures the 1-way marginals and the selected tables in equal parts.
    /// Default 0.1 for MST (1/3: the paper's split), 0.3 for PrivBayes (the paper's).
    #[arg(long)]
    pub selection_share: Option<f64>,
    /// PrivBayes: parents each column may have in the network.
    #[arg(long, default_value_t = 2)]
    pub degree: usize,
    /// PrivBayes: largest (compressed) table of a column and its parents that may be chosen.
    #[arg(long, default_value_t = 1 << 18)]
    pub max_family_cells: u64,
    /// PrivBayes: the score the network is chosen by, `r` (PrivBayes' R score, sensitivity
    /// 2 a row) or `mi` (mutual information times the rows, in bits: sensitivity 42 a row).
    #[arg(long, value_enum, default_value_t = PrivBayesScore::R)]
    pub privbayes_score: PrivBayesScore,
    /// AIM: the workload, a JSON file listing the marginals that matter as lists of
    /// (synthesised) column names, e.g. `[["age_band", "acuity", "admitted"], ["sex"]]`
    /// (default: every 3-way marginal of the columns that are not identifier-like).
    #[arg(long)]
    pub workload: Option<PathBuf>,
    /// AIM: rounds the budget is planned for (default 16 per column); each costs rho /
    /// rounds until annealing makes them costlier.
    #[arg(long)]
    pub rounds: Option<usize>,
    /// AIM: share of the budget spent first on MST's steps (the 1-ways and a spanning tree
    /// of pairs, chosen without AIM's size penalty) before the adaptive rounds (default
    /// 1/2; 0 is the paper's AIM, the 1-ways alone first, uncompressed).
    #[arg(long)]
    pub tree_share: Option<f64>,
    /// AIM: largest model (total cells of its cliques) once the whole budget is spent.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_model_cells: u64,
    /// Largest (compressed) 2-way table a pair may have to be a candidate for the tree: the
    /// fit's time is mostly noise drawn for every cell of every measured table.
    #[arg(long, default_value_t = 1 << 22)]
    pub max_pair_cells: u64,
    /// Columns with more declared codes than this are identifier-like: measured 1-way only,
    /// never in a pair (LSOA: 36,059 values).
    #[arg(long, default_value_t = 4096)]
    pub max_pair_values: u32,
    /// Split the 1-way and 2-way budgets equally between marginals (the paper's MST) rather
    /// than by size (min(cells, cap)^(2/3), the split with the least total L1 error); with
    /// AIM, the 1-way marginals' budget (the paper's AIM).
    #[arg(long)]
    pub equal_shares: bool,
    /// Mirror-descent iterations of the inference, exactly (default: a work budget of 5e6
    /// clique-cell iterations, 20 to 1,000: small models converge, large ones stop early;
    /// AIM's final inference 5e7, 20 to 2,500).
    #[arg(long)]
    pub iters: Option<usize>,
    /// Refuse columns whose domain the schema marks as read from the data
    /// (`domain_from_data`) instead of warning: such domains leak which values occur.
    #[arg(long)]
    pub strict: bool,
    /// Charge (--epsilon, --delta) to this dataset's persistent budget file (`pets budget
    /// init`) before anything is measured: refused, with nothing released, when it does not
    /// fit what is left. The receipt goes into the model file.
    #[arg(long)]
    pub budget: Option<PathBuf>,
    /// Where to write the model (JSON).
    #[arg(long)]
    pub out: PathBuf,
}

/// Options of `pets synth sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The model file written by `pets synth fit`.
    pub model: PathBuf,
    /// Rows to sample (default: the model's noisy estimate of the data's size).
    #[arg(long)]
    pub rows: Option<u64>,
    /// Seed: the same seed gives the same rows.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output file (.parquet, .csv, .tsv).
    #[arg(long)]
    pub out: PathBuf,
}

/// Run `pets synth ...`.
pub fn run(cmd: &SynthCommand) -> Result<(), CliError> {
    match cmd {
        SynthCommand::Fit(a) => fit(a),
        SynthCommand::Sample(a) => sample(a),
        SynthCommand::Evaluate(a) => evaluate(a),
    }
}

fn evaluate(args: &EvaluateArgs) -> Result<(), CliError> {
    let mut inputs: Vec<(&str, &std::path::Path)> = vec![
        ("real file", &args.real),
        ("synthetic file", &args.synth),
        ("--schema", &args.schema),
    ];
    if let Some(h) = &args.holdout {
        inputs.push(("--holdout", h));
    }
    if let Some(w) = &args.workload {
        inputs.push(("--workload", w));
    }
    for (flag, out) in [("--report", &args.report), ("--json", &args.json)] {
        if let Some(out) = out {
            crate::exit::refuse_missing_folder(flag, out)?;
            crate::exit::refuse_clobber(flag, out, &inputs)?;
        }
    }
    if let (Some(a), Some(b)) = (&args.report, &args.json) {
        crate::exit::refuse_clobber("--json", b, &[("--report", a)])?;
    }
    let schema = Schema::load(&args.schema)?;
    let workload = match &args.workload {
        Some(path) => read_workload(path)?,
        None => Vec::new(),
    };
    let options = pets_synth::eval::EvalOptions {
        target: args.target.clone(),
        positive: args.positive.clone(),
        features: args.features.clone(),
        workload,
        sample_rows: args.sample_rows,
        seed: args.seed,
    };
    let job = pets_synth::eval::EvalJob::new(
        TableSource::file(&args.real),
        TableSource::file(&args.synth),
        schema,
    )
    .holdout(args.holdout.as_ref().map(TableSource::file))
    .options(options);
    job.validate()?;
    let (progress, bar) = crate::progress::job("synth evaluate");
    let report = job.progress(progress).run();
    bar.finish_and_clear();
    let report = report?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(p) = &args.report {
        write_atomic(p, &report.to_html())?;
    }
    if let Some(p) = &args.json {
        write_atomic(p, &serde_json::to_string_pretty(&report)?)?;
    }
    for line in report.summary() {
        println!("{line}");
    }
    let mut worst: Vec<&pets_synth::eval::ViewComparison> = report.views.iter().collect();
    worst.sort_by(|a, b| b.tvd.total_cmp(&a.tvd));
    for v in worst.iter().take(5) {
        println!("  1-way {}: {:.4}", v.name, v.tvd);
    }
    for n in &report.notes {
        eprintln!("pets synth: {n}");
    }
    for (what, path) in [("HTML report", &args.report), ("JSON report", &args.json)] {
        if let Some(p) = path {
            eprintln!("pets synth: {what} written to {}", p.display());
        }
    }
    Ok(())
}

fn fit(args: &FitArgs) -> Result<(), CliError> {
    crate::exit::refuse_missing_folder("--out", &args.out)?;
    crate::exit::refuse_clobber(
        "--out",
        &args.out,
        &[("data file", &args.data), ("--schema", &args.schema)],
    )?;
    let declared = Schema::load(&args.schema)?;
    let source = TableSource::file(&args.data).with_csv(args.csv.dialect()?);
    let job = FitJob::new(source, args.epsilon, args.delta)
        .schema(declared)
        .columns(args.columns.clone())
        .max_values(args.max_values)
        .person_id_opt(args.person_id.clone(), args.max_rows_per_person)
        .bounding_seed(args.bounding_seed)
        .strict(args.strict)
        .budget(args.budget.clone())
        .method(args.method.into());
    let workload = match &args.workload {
        Some(path) => read_workload(path)?,
        None => Vec::new(),
    };
    let job = job.settings(&FitSettings {
        iters: args.iters,
        noise_penalty: Some(args.noise_penalty),
        sparse_pairs: Some(!args.dense_pairs),
        score_threshold: Some(args.score_threshold),
        selection_share: args.selection_share,
        equal_shares: Some(args.equal_shares),
        max_pair_cells: Some(args.max_pair_cells),
        max_pair_values: Some(args.max_pair_values),
        degree: Some(args.degree),
        max_family_cells: Some(args.max_family_cells),
        privbayes_score: Some(args.privbayes_score.into()),
        workload,
        rounds: args.rounds,
        max_model_cells: Some(args.max_model_cells),
        tree_share: args.tree_share,
        ..FitSettings::default()
    });
    job.validate()?;
    let (progress, bar) = crate::progress::job("synth fit");
    let fitted = job.progress(progress).run();
    bar.finish_and_clear();
    let fitted = fitted?;
    let model = fitted.model;
    for note in &model.notes {
        eprintln!("pets synth: {note}");
    }
    for w in &fitted.warnings {
        eprintln!("warning: {w}");
    }
    if let Some((id, m)) = args
        .person_id
        .as_ref()
        .map(|id| (id, args.max_rows_per_person))
    {
        eprintln!("pets synth: person-level privacy: at most {m} row(s) per {id}");
    }
    model.save(&args.out)?;
    eprintln!(
        "pets synth: {} over {} columns at epsilon = {}, delta = {} (rho = {:.6}); spent {}; \
         selected {} {}; noisy total {:.0}; model written to {}",
        pets_synth::Method::from(args.method).title(),
        model.schema.columns.len(),
        model.epsilon,
        model.delta,
        model.rho,
        model.ledger.spent,
        model.selected.len(),
        match args.method {
            Method::Mst => "pairs",
            Method::Privbayes => "families",
            Method::Aim => "marginals",
        },
        model.total,
        args.out.display()
    );
    Ok(())
}

/// `--workload FILE`: the file's text, parsed and checked by the core.
fn read_workload(path: &std::path::Path) -> Result<Vec<Vec<String>>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::io(format!("--workload {}", path.display()), e))?;
    Ok(pets_synth::aim::parse_workload(&text)?)
}

fn sample(args: &SampleArgs) -> Result<(), CliError> {
    crate::exit::refuse_missing_folder("--out", &args.out)?;
    let model = SynthModel::load(&args.model)?;
    let rows = args.rows.unwrap_or_else(|| model.default_rows());
    let (progress, bar) = crate::progress::job("synth sample");
    let n = model.write_sample_with(&args.out, rows, args.seed, &progress);
    bar.finish_and_clear();
    let n = n?;
    eprintln!(
        "pets synth: {n} synthetic rows (seed {}) written to {}",
        args.seed,
        args.out.display()
    );
    Ok(())
}

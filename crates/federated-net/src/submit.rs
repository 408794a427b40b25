//! The collector's side: submit a job, wait for the round, fetch the release. For a Prio3
//! job, fetch both aggregators' noisy aggregate shares and add them here
//! ([`prio::collect`]): neither aggregator ever holds the sum. The helper's connection is
//! pinned to the certificate name the job file gives it (`helper_name`), and checked by a
//! handshake before the job is sent: a server at the helper's address that holds another
//! party's certificate from the federation's CA stops the submission before anything is run
//! or charged.

use std::time::Duration;

use pets::federated::prio::{self, PrioTask};
use pets::federated::secagg::RoundId;
use pets::federated::wire::from_wire;
use pets::federated::{FederatedError, PendingRelease, RoundReport, split_tables};

use pets::data::Schema;
use pets::dp::Ledger;
use pets::federated::{FederatedRelease, Protocol};
use pets_synth::FitSettings;
use pets_synth::federated::{FederatedFitJob, FederatedFitOutcome};

use crate::client::Client;
use crate::config::{FitFile, JobFile, TrainFile, pinned_helper};
use crate::error::{NetError, Result};
use crate::messages::{Collection, JobAccepted, JobSpec, JobSubmission, VectorJob, round_hex};

/// Submit `job` and wait for its release; returns the round and the release's JSON
/// (`{"release": ..., "ledger": ...}`, or `{"exact": true, ...}` for an exact check).
pub async fn submit(job: &JobFile) -> Result<(RoundId, String)> {
    let client = Client::new(&job.aggregator, &job.tls, Duration::from_millis(200))?;
    let helper = pinned_helper(&job.helper, &job.helper_name, "job file")?;
    if job.job.protocol()? == pets::federated::Protocol::Prio3 && helper.is_none() {
        return Err(NetError::Config {
            file: "job file".into(),
            reason: "a Prio3 job needs the helper's address and certificate name (helper = \
                     \"https://...\", helper_name = \"NAME\"): the collector adds the two \
                     aggregators' shares itself"
                .into(),
        });
    }
    // Prio3: make sure of the helper before the job is sent (and charged): a server at its
    // address without the pinned name fails here, and nothing is submitted.
    let helper = match helper {
        Some((url, name)) if job.job.protocol()? == pets::federated::Protocol::Prio3 => {
            let c = Client::pinned(url, &job.tls, name, Duration::from_millis(200))?;
            c.handshake("v1/jobs/00000000000000000000000000000000/share")
                .await?;
            Some(c)
        }
        _ => None,
    };
    let body = client
        .post(
            "v1/jobs",
            RoundId([0; 16]),
            JobSubmission::now(job.job.clone()),
            "the job",
        )
        .await?;
    let accepted: JobAccepted = from_wire(&body, 1 << 16, "aggregator", "job accepted")?;
    eprintln!(
        "pets federated submit: job {} accepted; waiting for the round",
        round_hex(&accepted.round)
    );
    let wait = Duration::from_secs_f64(job.wait_seconds.max(0.1));
    let path = format!("v1/jobs/{}", round_hex(&accepted.round));
    let bytes = client.poll(&path, "the release", wait).await?;
    let json = String::from_utf8(bytes).map_err(|e| NetError::Refused {
        what: "the release".into(),
        status: 200,
        reason: format!("not UTF-8: {e}"),
    })?;
    let value: serde_json::Value = serde_json::from_str(&json).map_err(|e| bad(e.to_string()))?;
    if value["protocol"] != "prio3" {
        return Ok((accepted.round, json));
    }
    // Pinned: the helper's share is asked only of the party named `helper_name`.
    let helper = helper.ok_or_else(|| NetError::Config {
        file: "job file".into(),
        reason: "the aggregator ran the job by Prio3, and this job file names no helper: \
                 helper = \"https://...\" and helper_name = \"NAME\""
            .into(),
    })?;
    let share_path = format!("{path}/share");
    let (l, h) = tokio::join!(
        client.poll(&share_path, "the leader's share", wait),
        helper.poll(&share_path, "the helper's share", wait),
    );
    let limit = 64 << 20;
    let l: Collection = from_wire(&l?, limit, "the leader", "aggregate share")?;
    let h: Collection = from_wire(&h?, limit, "the helper", "aggregate share")?;
    let out = combine(accepted.round, value, &l, &h)?;
    Ok((
        accepted.round,
        serde_json::to_string_pretty(&out).map_err(|e| bad(e.to_string()))?,
    ))
}

fn bad(reason: String) -> NetError {
    NetError::Refused {
        what: "the release".into(),
        status: 200,
        reason,
    }
}

/// Add the leader's and the helper's shares of `round` and finish the release the leader
/// described (`value`): refused unless both shares are of this round, over the same task,
/// and hold the same trusts' reports.
fn combine(
    round: RoundId,
    value: serde_json::Value,
    l: &Collection,
    h: &Collection,
) -> Result<serde_json::Value> {
    let mismatch = |what: &str| {
        NetError::Federated(FederatedError::Rejected {
            party: "aggregators".into(),
            message: "aggregate shares".into(),
            reason: format!("the leader's and the helper's shares differ in {what}: not combined"),
        })
    };
    if l.round != round || h.round != round {
        return Err(mismatch("their round"));
    }
    if (l.aggregator, h.aggregator) != (0, 1) {
        return Err(mismatch("their roles"));
    }
    if (l.cells, l.max_count) != (h.cells, h.max_count) {
        return Err(mismatch("their task"));
    }
    if l.counted != h.counted {
        return Err(mismatch(&format!(
            "the reports counted ({:?} and {:?})",
            l.counted, h.counted
        )));
    }
    let exact = value["exact"] == true;
    if !(exact || l.noisy && h.noisy) {
        return Err(mismatch("noise: a share without noise in a noisy job"));
    }
    let task = PrioTask::new(round, l.cells, l.max_count)?;
    let sums = prio::collect(
        &task,
        &l.aggregate_share,
        &h.aggregate_share,
        l.counted.len(),
    )?;
    let from_trusts = l.bytes_from_trusts + h.bytes_from_trusts;
    let between = h.aggregate_share.len();
    if exact {
        let layout: Vec<pets::federated::aggregate::TableLayout> =
            serde_json::from_value(value["layout"].clone())
                .map_err(|e| bad(format!("the layout: {e}")))?;
        let mut report: RoundReport = serde_json::from_value(value["round"].clone())
            .map_err(|e| bad(format!("the round report: {e}")))?;
        report.bytes_from_trusts = from_trusts;
        report.bytes_between_aggregators += between;
        report.cells = l.cells;
        report.plaintext_bytes = 8 * l.cells * report.counted.len();
        return Ok(serde_json::json!({
            "exact": true,
            "warning": "the exact sum of the trusts' counts, without noise: not a \
                        differentially private release (a check of the service)",
            "tables": split_tables(&layout, &sums),
            "round": report,
        }));
    }
    let mut pending: PendingRelease = serde_json::from_value(value["pending"].clone())
        .map_err(|e| bad(format!("the pending release: {e}")))?;
    pending.round.bytes_from_trusts = from_trusts;
    pending.round.bytes_between_aggregators += between;
    Ok(serde_json::json!({
        "release": pending.finish(&sums),
        "ledger": value["ledger"],
    }))
}

/// Run a federated MST fit over the network (`pets federated submit fit.toml`): the same
/// rounds as the in-process [`FederatedFitJob`] ([`pets_synth::federated::FitRounds`]: round
/// A the 1-ways, round B the candidate pairs on the codes compressed from A's release,
/// round C the tree's pairs), each protocol round one declared-vector job
/// ([`VectorJob::MstRound`]) submitted by [`submit`] and run by the aggregator as any job
/// is (the trusts' join, `plan_and_charge`, secure aggregation or Prio3, the release). Each
/// release's ledger entry is accounted in the fit's own session, so the model's ledger is
/// the in-process fit's; the model is assembled here, from the releases only.
///
/// A round that ends without a release (too few trusts joined, a dropout past the
/// threshold, a refusal) stops the fit with the aggregator's reason and the round it was:
/// no model is written, and the rounds already released stay charged (each was a complete
/// DP release, charged when it ran).
pub async fn submit_fit(file: &FitFile) -> Result<FederatedFitOutcome> {
    let spec = &file.fit;
    let schema = Schema::load(&spec.schema).map_err(|e| NetError::Config {
        file: spec.schema.display().to_string(),
        reason: e.to_string(),
    })?;
    let protocol: Protocol = spec.protocol.parse()?;
    let job = FederatedFitJob::new(schema, spec.epsilon, spec.delta)
        .settings(&FitSettings {
            iters: spec.iters,
            score_threshold: spec.score_threshold,
            selection_share: spec.selection_share,
            equal_shares: spec.equal_shares,
            max_pair_cells: spec.max_pair_cells,
            max_pair_values: spec.max_pair_values,
            ..FitSettings::default()
        })
        .max_values(spec.max_values)
        .protocol(protocol)
        .threshold(spec.threshold)
        .colluders(spec.colluders)
        .max_rows_per_person(spec.max_rows_per_person)
        .max_trusts_per_person(spec.max_trusts_per_person)
        .max_count(spec.max_count)
        .seed(spec.seed);
    let options = job.round_options();
    let mut fit = job.remote()?;
    let connection = file.connection();
    while let Some(plan) = fit.next_round() {
        let mut releases = Vec::with_capacity(plan.parts.len());
        for (work, share) in &plan.parts {
            let round = JobSpec {
                tables: Vec::new(),
                values: Vec::new(),
                rho: *share,
                protocol: match options.protocol {
                    Protocol::SecAgg => "secagg".into(),
                    Protocol::Prio3 => "prio3".into(),
                },
                max_count: options.max_count,
                threshold: options.threshold,
                colluders: options.colluders,
                max_rows_per_person: Some(options.max_rows_per_person),
                max_trusts_per_person: options.max_trusts_per_person,
                alpha: Some(options.alpha),
                seed: Some(options.seed),
                min_participants: spec.min_participants,
                exact: false,
                vector: Some(VectorJob::MstRound(work.clone())),
            };
            eprintln!("pets federated submit: {} (rho {share:.6})", work.label);
            let spent = fit.ledger().spent;
            let (release, entry) = submit_round(&connection, round)
                .await
                .map_err(|e| fit_round_error(&format!("round {}", plan.round), spent, e))?;
            releases.push((release, entry));
        }
        fit.absorb(&plan, &releases)?;
    }
    Ok(fit.finish()?)
}

/// Submit one round's job; its release and the ledger entry the aggregator charged.
async fn submit_round(
    connection: &crate::config::Connection,
    round: JobSpec,
) -> Result<(FederatedRelease, pets::dp::LedgerEntry)> {
    let (_, json) = submit(&JobFile::new(connection.clone(), round)).await?;
    let value: serde_json::Value = serde_json::from_str(&json).map_err(|e| bad(e.to_string()))?;
    let release: FederatedRelease = serde_json::from_value(value["release"].clone())
        .map_err(|e| bad(format!("the release: {e}")))?;
    let ledger: Ledger = serde_json::from_value(value["ledger"].clone())
        .map_err(|e| bad(format!("the ledger: {e}")))?;
    let entry = ledger
        .entries
        .get(release.ledger_index)
        .cloned()
        .ok_or_else(|| bad("the ledger has no entry for the release".into()))?;
    Ok((release, entry))
}

/// Run federated averaging over the network (`pets federated submit train.toml`): the
/// rounds of the in-process [`FederatedTrainJob`](pets::federated::train::FederatedTrainJob)
/// ([`pets::federated::train::TrainCoordinator`]), each one declared-vector job
/// ([`VectorJob::TrainRound`]) carrying the current weights; each trust sums its rows'
/// clipped gradients at them ([`pets::federated::train::TrustRows::clipped_sums`]); the
/// coordinator's Adam step runs here on each noisy release, until the configured number of
/// rounds. Each round's ledger entry is accounted in the run's session, so the model's
/// ledger is the in-process run's. A round without a release stops the run (no model; the
/// rounds released stay charged).
pub async fn submit_train(file: &TrainFile) -> Result<pets::federated::train::TrainOutcome> {
    use pets::federated::train::{
        DEFAULT_L2, DEFAULT_LEARNING_RATE, DEFAULT_ROUNDS, FederatedTrainJob,
    };
    let spec = &file.train;
    let schema = Schema::load(&spec.schema).map_err(|e| NetError::Config {
        file: spec.schema.display().to_string(),
        reason: e.to_string(),
    })?;
    let job = FederatedTrainJob::new(schema, &spec.target, spec.epsilon, spec.delta)
        .positive(spec.positive.clone())
        .features(spec.features.clone())
        .rounds(spec.rounds.unwrap_or(DEFAULT_ROUNDS))
        .clip(spec.clip)
        .learning_rate(spec.learning_rate.unwrap_or(DEFAULT_LEARNING_RATE))
        .l2(spec.l2.unwrap_or(DEFAULT_L2))
        .threshold(spec.threshold)
        .colluders(spec.colluders)
        .max_rows_per_person(spec.max_rows_per_person)
        .max_trusts_per_person(spec.max_trusts_per_person)
        .seed(spec.seed);
    let mut run = job.remote()?;
    let o = run.options();
    let connection = file.connection();
    while let Some((work, rho)) = run.next_round() {
        let round = JobSpec {
            tables: Vec::new(),
            values: Vec::new(),
            rho,
            protocol: "secagg".into(),
            max_count: None,
            threshold: o.threshold,
            colluders: o.colluders,
            max_rows_per_person: Some(o.max_rows_per_person),
            max_trusts_per_person: o.max_trusts_per_person,
            alpha: Some(o.alpha),
            seed: Some(o.seed),
            min_participants: spec.min_participants,
            exact: false,
            vector: Some(VectorJob::TrainRound(work.clone())),
        };
        let spent = run.ledger().spent;
        let (release, entry) = submit_round(&connection, round)
            .await
            .map_err(|e| train_round_error(work.round, spent, e))?;
        run.absorb(&release, &entry)?;
    }
    Ok(run.finish()?)
}

fn train_round_error(round: usize, spent: pets::dp::Cost, e: NetError) -> NetError {
    stopped(
        format!(
            "the federated training stopped at round {round}: no model is written; the rounds \
             already released stay charged (spent so far: {spent})"
        ),
        e,
    )
}

/// A fit's round that ended without a release: which round, and what stays charged.
fn fit_round_error(round: &str, spent: pets::dp::Cost, e: NetError) -> NetError {
    stopped(
        format!(
            "the federated fit stopped at {round}: no model is written; the rounds already \
             released stay charged (spent so far: {spent})"
        ),
        e,
    )
}

fn stopped(tail: String, e: NetError) -> NetError {
    match e {
        NetError::Refused {
            what,
            status,
            reason,
        } => NetError::Refused {
            what,
            status,
            reason: format!("{reason}; {tail}"),
        },
        NetError::Connect { url, reason, down } => NetError::Connect {
            url,
            reason: format!("{reason}; {tail}"),
            down,
        },
        other => other,
    }
}

/// What a submission file asks for, told by its table: `[fit]` a federated MST fit round
/// by round ([`submit_fit`]), `[train]` federated averaging ([`submit_train`]), otherwise
/// one round of the `[job]` table ([`submit`]). The CLI's `pets federated submit` and the
/// Python package's `pets.federated.submit` both load and run a file through this, so the
/// kinds are told apart in one place.
#[derive(Debug, Clone)]
// Loaded once per submission: the size difference between the kinds costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Submission {
    /// One round (a `[job]` table).
    Job(JobFile),
    /// A federated MST fit (a `[fit]` table).
    Fit(FitFile),
    /// Federated averaging (a `[train]` table).
    Train(TrainFile),
}

/// What [`Submission::run`] returned.
#[derive(Debug)]
pub enum Submitted {
    /// One round's release: the round and the release's JSON (as [`submit`]).
    Job(RoundId, String),
    /// The fitted model, its rounds and ledger.
    Fit(Box<FederatedFitOutcome>),
    /// The trained model, its rounds and ledger, and the declared schema it was trained
    /// against (what its predictions read a table with).
    Train(Box<pets::federated::train::TrainOutcome>, Box<Schema>),
}

impl Submission {
    /// Load the file at `path` as the kind its tables say (an unreadable or malformed file
    /// is refused naming it and what is wrong).
    pub fn load(path: &std::path::Path) -> Result<Submission> {
        let text = std::fs::read_to_string(path).map_err(|e| NetError::io(path, e))?;
        let table: toml::Table =
            toml::from_str(&text).map_err(|e| NetError::config(path, e.to_string()))?;
        match (table.contains_key("fit"), table.contains_key("train")) {
            (true, true) => Err(NetError::config(
                path,
                "give either a [fit] table (a federated MST fit) or a [train] table \
                 (federated averaging), not both",
            )),
            (true, false) => Ok(Submission::Fit(crate::config::load(path)?)),
            (false, true) => Ok(Submission::Train(crate::config::load(path)?)),
            (false, false) => Ok(Submission::Job(crate::config::load(path)?)),
        }
    }

    /// The kind's name, as its table: `"job"`, `"fit"` or `"train"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Submission::Job(_) => "job",
            Submission::Fit(_) => "fit",
            Submission::Train(_) => "train",
        }
    }

    /// Run it: [`submit`], [`submit_fit`] or [`submit_train`].
    pub async fn run(&self) -> Result<Submitted> {
        Ok(match self {
            Submission::Job(job) => {
                let (round, json) = submit(job).await?;
                Submitted::Job(round, json)
            }
            Submission::Fit(file) => Submitted::Fit(Box::new(submit_fit(file).await?)),
            Submission::Train(file) => {
                let trained = submit_train(file).await?;
                let schema = Schema::load(&file.train.schema).map_err(|e| NetError::Config {
                    file: file.train.schema.display().to_string(),
                    reason: e.to_string(),
                })?;
                Submitted::Train(Box::new(trained), Box::new(schema))
            }
        })
    }
}

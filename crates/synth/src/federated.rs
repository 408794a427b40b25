//! Federated MST: a synthesiser fitted across trusts without pooling rows
//! ([`FederatedFitJob`]). The fitted model is the same kind of model file as
//! [`crate::FitJob`]'s, sampled by `pets synth sample`.
//!
//! In a federation nobody may see an exact count, so MST's selection, which scores pairs on
//! the exact 2-way tables with the exponential mechanism, cannot run at the aggregator.
//! Everything MST reads is a count table, so each trust computes its tables locally and
//! the tables are summed by a federated round ([`pets::federated::FederatedJob::run_vectors`]:
//! secure aggregation with distributed discrete Gaussian noise, or Prio3, charged before
//! any noise is drawn); the selection is then **post-processing** of released noisy tables:
//!
//! ```text
//! every trust: encode its table on the synthesis domain of the declared schema (the same
//!   derivation as a pooled fit: NAME.period, ...; layout from schema and options only),
//!   cut each person's rows to m, keep its synthesis columns
//! round A (rho1): every column's 1-way counts, one table per column, each weighted so that
//!   its noise is MST's size-weighted share -> compression from the noisy 1-ways
//! round B (rho_sel): every candidate pair's 2-way counts on the compressed codes (candidate:
//!   both columns at most max_pair_values declared codes, compressed table at most
//!   max_pair_cells: public) -> maximum spanning tree on the noisy tables' distance from
//!   independence, the expected noise floor subtracted (post-processing)
//! round C (rho2): the tree's pairs, weighted by MST's size-weighted shares
//! inference on every noisy measurement (A, and B and C of the tree's pairs: the loss
//!   weighs each by its inverse variance) -> the model file, its ledger one entry per round
//! ```
//!
//! **Why compressed codes in round B** (the issue suggested the full declared code
//! spaces): the compression is public once round A is released, the trusts can apply it,
//! and it is what MST measures anyway. On the generated A&E schema the full code spaces of
//! the candidate pairs hold millions of cells (postcode district, 2,800 codes, pairs with
//! 23 columns), more than a round carries (4M) and each cell noised at round B's scale;
//! compressed, they are the tables MST would score.
//!
//! **Privacy** (`proofs/federated_mst.md`): each round is `rho_r`-zCDP for one person (at
//! most `m` rows at each of at most `T` trusts) by the distributed noise's bound on the
//! round's sensitivity `(m T)^2 sum_k w_k^2`; what a round sums (the compression, the
//! candidates, the tree, the weights) is a function of public figures and earlier releases
//! only, so the rounds compose adaptively and the fit is `(rho1 + rho_sel + rho2)`-zCDP,
//! at most `cdp_rho(epsilon, delta)`. The session refuses to charge beyond it.
//!
//! **Coordinator and trusts.** The rounds are [`FitRounds`]: each round's work
//! ([`FitRoundWork`]: the tables, their weights, the compression maps and pairs; public)
//! planned from the schema and the releases before it, and the releases taken back
//! ([`FitRounds::absorb`]: compression after A, the tree after B). A trust computes a
//! round's vector from its own table with [`FitTrust`] (the reading of
//! `FitJob::read_bounded`, then `one_way_vector` / `pair_vector`). [`FederatedFitJob::run`]
//! runs every party in this process; over the network (`pets-federated-net`,
//! `pets federated submit fit.toml`) the submitter drives a [`RemoteFit`] (the same
//! [`FitRounds`], each round one declared-vector job, each release's ledger entry accounted
//! in the fit's session) and each node a [`FitTrust`].

use std::borrow::Cow;
use std::time::Instant;

use pets::Warning;
use pets::data::{EncodedColumn, EncodedTable, Schema, TableSource};
use pets::dp::bounding::Bounded;
use pets::dp::{Cost, PrivacyUnit, Session};
use pets::federated::aggregate::{LocalAggregate, MAX_FEDERATED_CELLS, TableLayout};
use pets::federated::{
    FederatedJob, FederatedRelease, Protocol, RoundReport, TrustInput, VectorSpec,
    columns_fingerprint,
};
use serde::{Deserialize, Serialize};

use crate::compress::Compression;
use crate::counts::{CountSource, Rows};
use crate::error::{Result, SynthError};
use crate::inference::{Measurement, estimate_total};
use crate::job::{FitJob, FitOutcome};
use crate::model::NoisyMarginal;
use crate::mst::{
    MstBudget, ONE_WAY_SHARE_CAP, assemble_mst, independent_probs, one_way_from_noisy, pair_shares,
    shares,
};
use crate::settings::FitSettings;

/// The method name a federated fit writes in its model file.
pub const FEDERATED_MST: &str = "mst (federated)";

/// Largest weight of a table in a round: a table's weight is `round(16 sqrt(share /
/// largest share))`, at least 1, so its noise is its size-weighted share's to a few percent
/// (the weights are public; the charge is exact whatever they are).
const WEIGHT_SCALE: f64 = 16.0;

/// An MST fit over several trusts' tables, each keeping its rows (module docs).
///
/// ```
/// use pets::data::{Schema, TableSource};
/// use pets::federated::TrustInput;
/// use pets_synth::federated::FederatedFitJob;
/// # let dir = tempfile::tempdir().unwrap();
/// let schema = Schema::from_json(r#"{"columns": [
///     {"name": "sex", "kind": "categorical", "values": ["F", "M"]},
///     {"name": "band", "kind": "categorical", "values": ["a", "b", "c"]}
/// ]}"#)?;
/// let trusts: Vec<TrustInput> = (0..3)
///     .map(|t| {
///         let path = dir.path().join(format!("trust_{t}.csv"));
///         let rows: String = (0..300)
///             .map(|i| format!("{},{}\n", ["F", "M"][(i + t) % 2], ["a", "b", "c"][i % 3]))
///             .collect();
///         std::fs::write(&path, format!("sex,band\n{rows}")).unwrap();
///         TrustInput::new(format!("trust_{t}"), TableSource::file(path))
///     })
///     .collect();
/// let fitted = FederatedFitJob::new(schema, 1.0, 1e-9)
///     .max_trusts_per_person(Some(1))
///     .run(&trusts)?;
/// assert_eq!(fitted.fit.model.method, "mst (federated)");
/// assert_eq!(fitted.rounds.len(), 3);
/// let rows = fitted.fit.model.sample_table(100, 7)?;
/// assert_eq!(rows.n_rows(), 100);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct FederatedFitJob {
    fit: FitJob,
    schema: Schema,
    protocol: Protocol,
    threshold: Option<usize>,
    colluders: usize,
    max_rows_per_person: u32,
    max_trusts_per_person: Option<u32>,
    max_count: Option<u64>,
    seed: u64,
    alpha: f64,
}

/// One round of a federated fit, as the release panel reads it (no exact figure).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitRound {
    /// `A` (1-ways), `B` (candidate pairs) or `C` (the tree's pairs).
    pub round: String,
    /// The release's label (as in the ledger).
    pub label: String,
    /// Tables summed.
    pub tables: usize,
    /// rho charged (zCDP).
    pub rho: f64,
    /// Each protocol round (one, or several when the tables pass one round's cells).
    pub reports: Vec<RoundReport>,
}

/// What a [`FederatedFitJob`] returns: the fit (model file and warnings), and its rounds.
#[derive(Debug, Clone)]
pub struct FederatedFitOutcome {
    /// The model and warnings, as [`FitJob::run`] returns them.
    pub fit: FitOutcome,
    /// The rounds, in order.
    pub rounds: Vec<FitRound>,
}

/// One trust's synthesis columns of its kept rows: exact, never leaving the trust.
struct TrustColumns {
    table: EncodedTable,
    bounded: Bounded,
    unit: PrivacyUnit,
    warnings: Vec<Warning>,
}

impl FederatedFitJob {
    /// MST at (epsilon, delta) over trusts whose tables follow the declared `schema`
    /// (required: an inferred schema would differ from trust to trust), by secure
    /// aggregation, one row a person at each trust.
    pub fn new(schema: Schema, epsilon: f64, delta: f64) -> FederatedFitJob {
        let empty = std::sync::Arc::new(arrow_schema::Schema::empty());
        let source = TableSource::batches("(the federation)", empty, Vec::new());
        FederatedFitJob {
            fit: FitJob::new(source, epsilon, delta).schema(schema.clone()),
            schema,
            protocol: Protocol::SecAgg,
            threshold: None,
            colluders: 0,
            max_rows_per_person: 1,
            max_trusts_per_person: None,
            max_count: None,
            seed: 0,
            alpha: 0.05,
        }
    }

    /// The front doors' fit settings ([`FitJob::settings`]: the one mapping onto MST).
    pub fn settings(mut self, s: &FitSettings) -> FederatedFitJob {
        self.fit = self.fit.settings(s);
        self
    }

    /// MST's options, to change in place (epsilon and delta included).
    pub fn options_mut(&mut self) -> &mut crate::MstOptions {
        self.fit.options_mut()
    }

    /// Integer, date and datetime columns with more codes than this are binned or coarsened.
    pub fn max_values(mut self, max_values: u32) -> FederatedFitJob {
        self.fit = self.fit.max_values(max_values);
        self
    }

    /// Charge the fit's (epsilon, delta) to the persistent budget file before any round.
    pub fn budget(mut self, path: Option<std::path::PathBuf>) -> FederatedFitJob {
        self.fit = self.fit.budget(path);
        self
    }

    /// Progress and stop requests (rows read per trust, then each round).
    pub fn progress(mut self, progress: pets::progress::Progress) -> FederatedFitJob {
        self.fit = self.fit.progress(progress);
        self
    }

    /// The protocol of every round.
    pub fn protocol(mut self, protocol: Protocol) -> FederatedFitJob {
        self.protocol = protocol;
        self
    }

    /// Secure aggregation: trusts that must survive every stage (`None`: a strict majority).
    pub fn threshold(mut self, threshold: Option<usize>) -> FederatedFitJob {
        self.threshold = threshold;
        self
    }

    /// Secure aggregation: trusts that may collude with the aggregator.
    pub fn colluders(mut self, colluders: usize) -> FederatedFitJob {
        self.colluders = colluders;
        self
    }

    /// Rows kept per person at each trust that gives a person id (`TrustInput::person_id`).
    pub fn max_rows_per_person(mut self, m: u32) -> FederatedFitJob {
        self.max_rows_per_person = m;
        self
    }

    /// Trusts one person may attend (public; `None`: 1, announced).
    pub fn max_trusts_per_person(mut self, t: Option<u32>) -> FederatedFitJob {
        self.max_trusts_per_person = t;
        self
    }

    /// Prio3's bound on one trust's (weighted) cell.
    pub fn max_count(mut self, max_count: Option<u64>) -> FederatedFitJob {
        self.max_count = max_count;
        self
    }

    /// Seed of each trust's choice of kept rows (data processing, not noise).
    pub fn seed(mut self, seed: u64) -> FederatedFitJob {
        self.seed = seed;
        self
    }

    /// Significance of the rounds' accuracy statements.
    pub fn alpha(mut self, alpha: f64) -> FederatedFitJob {
        self.alpha = alpha;
        self
    }

    /// A round's job over `spec` at `rho`, with the fit's federation options.
    fn round_job(&self, spec: VectorSpec, rho: f64) -> FederatedJob {
        FederatedJob::for_vector(spec)
            .protocol(self.protocol)
            .share(Cost::rho(rho))
            .threshold_opt(self.threshold)
            .colluders(self.colluders)
            .max_rows_per_person(self.max_rows_per_person)
            .max_trusts_per_person_opt(self.max_trusts_per_person)
            .max_count_opt(self.max_count)
            .alpha(self.alpha)
            .seed(self.seed)
    }

    /// Fit over `trusts` (module docs). Options, trusts and schemas are checked before any
    /// row is read; every trust's table is read and bounded before anything is charged.
    pub fn run(&self, trusts: &[TrustInput]) -> Result<FederatedFitOutcome> {
        let opts = self.fit.mst_options().clone();
        let rho = crate::mst::cdp_rho(opts.epsilon, opts.delta)?;
        // The round options and the trusts (2 to 255, distinct names, threshold) first.
        let probe = VectorSpec::counts("mst (federated)", Vec::new(), vec![count_table("", 1, 1)])?;
        let names: Vec<&str> = trusts.iter().map(|t| t.name.as_str()).collect();
        let session = Session::zcdp(rho)?.with_conversion_delta(opts.delta)?;
        self.round_job(probe.clone(), rho)
            .check_trusts(&session, &names)?;
        if self.max_rows_per_person == 0 {
            return Err(SynthError::invalid(
                "max_rows_per_person",
                0,
                "it must be at least 1",
            ));
        }
        // The job's plan, on the first trust's table (its Arrow types type the sample; the
        // synthesis domain depends on the schema only).
        let mut plan = self
            .fit
            .clone()
            .with_source(trusts[0].source.clone())
            .plan()
            .map_err(|e| trust_error(&trusts[0].name, e))?;
        plan.refuse_domain_from_data("trust")?;
        let read = plan.read_columns();
        let fingerprint = columns_fingerprint(&self.schema, &read)?;
        for t in trusts {
            if let Some(s) = &t.schema {
                let theirs = columns_fingerprint(s, &read).unwrap_or_else(|_| "missing".into());
                self.round_job(probe.clone(), rho).check_trust_schema(
                    &fingerprint,
                    &t.name,
                    &theirs,
                )?;
            }
        }

        // Each trust reads and bounds its own rows (on its own machine in a deployment).
        let started = Instant::now();
        let locals: Vec<TrustColumns> = trusts
            .iter()
            .map(|t| self.read_trust(t).map_err(|e| trust_error(&t.name, e)))
            .collect::<Result<_>>()?;
        let local_seconds = started.elapsed().as_secs_f64();
        let owned: Vec<Vec<Cow<'_, EncodedColumn>>> = locals
            .iter()
            .zip(trusts)
            .map(|(l, t)| {
                crate::mst::synthesis_columns(&l.table, &[], &l.bounded)
                    .map_err(|e| trust_error(&t.name, e))
            })
            .collect::<Result<_>>()?;
        let cols: Vec<Vec<&EncodedColumn>> = owned
            .iter()
            .map(|c| c.iter().map(|c| c.as_ref()).collect())
            .collect();
        for w in locals.iter().flat_map(|l| &l.warnings) {
            if !plan.warnings.contains(w) {
                plan.warnings.push(w.clone());
            }
        }

        // Round A holds one table per column: refuse, before anything is charged, a column
        // whose 1-way alone passes one round (the schema's figure; pairs are capped below).
        if let Some(c) = cols[0]
            .iter()
            .find(|c| c.codebook.cardinality() as usize > MAX_FEDERATED_CELLS)
        {
            return Err(SynthError::invalid(
                "columns",
                c.name(),
                format!(
                    "{} codes, more than the {MAX_FEDERATED_CELLS} cells one federated round \
                     carries; bin or coarsen it in the schema (or lower max_values)",
                    c.codebook.cardinality()
                ),
            ));
        }
        // Every data-dependent check is done: the persistent budget, then the rounds.
        let receipt = self.fit.charge_as(
            "pets federated fit (MST)",
            trusts
                .iter()
                .map(|t| format!("{}: {}", t.name, t.source.describe()))
                .collect::<Vec<_>>()
                .join("; "),
        )?;
        let mut fitted = self.fit_rounds(session, trusts, &locals, &cols, &opts, read)?;
        for r in &mut fitted.1 {
            for rep in &mut r.reports {
                rep.local_seconds = local_seconds;
            }
        }
        let (model, rounds) = fitted;
        let fit = self.fit.finish(plan, model, receipt)?;
        Ok(FederatedFitOutcome { fit, rounds })
    }

    /// One trust's table, encoded on the synthesis domain, bounded and derived.
    fn read_trust(&self, t: &TrustInput) -> Result<TrustColumns> {
        let fit = self.fit.clone().with_source(t.source.clone());
        let fit = match &t.person_id {
            Some(id) => fit.person_id(id.clone(), self.max_rows_per_person),
            None => fit.person_id_opt(None, 1),
        };
        let mut plan = fit.plan()?;
        let before = plan.warnings.len();
        let (table, bounded) = fit.read_bounded(&mut plan)?;
        Ok(TrustColumns {
            table,
            bounded,
            unit: if t.person_id.is_some() {
                PrivacyUnit::Person
            } else {
                PrivacyUnit::Row
            },
            warnings: plan.warnings.split_off(before),
        })
    }

    /// Rounds A, B and C and inference (module docs), every trust in this process: each
    /// round's parts ([`FitRounds::next_round`]) computed by every trust from its own
    /// columns ([`FitRoundWork::values`]), summed by [`FederatedJob::run_vectors`] and taken
    /// back ([`FitRounds::absorb`]); the network submitter runs the same [`FitRounds`].
    #[allow(clippy::too_many_arguments)]
    fn fit_rounds(
        &self,
        mut session: Session,
        trusts: &[TrustInput],
        locals: &[TrustColumns],
        cols: &[Vec<&EncodedColumn>],
        opts: &crate::MstOptions,
        read: Vec<String>,
    ) -> Result<(crate::SynthModel, Vec<FitRound>)> {
        let progress = self.fit.observer();
        progress.check()?;
        progress.stage("measuring", None, "rounds");
        let mut rounds = FitRounds::new(&cols[0], opts, self.fit.domain_max_values(), read)?;
        while let Some(plan) = rounds.next_round() {
            let mut releases = Vec::with_capacity(plan.parts.len());
            for (work, share) in &plan.parts {
                progress.check()?;
                let part: Vec<LocalAggregate> = locals
                    .iter()
                    .zip(cols)
                    .zip(trusts)
                    .map(|((l, c), t)| l.aggregate(c, work).map_err(|e| trust_error(&t.name, e)))
                    .collect::<Result<_>>()?;
                releases.push(self.round_job(work.spec()?, *share).run_vectors(
                    &mut session,
                    trusts,
                    &part,
                )?);
            }
            rounds.absorb(&plan, &releases)?;
        }
        rounds.assemble(
            &locals[0].table,
            &cols[0],
            session.ledger(),
            progress,
            trusts.len(),
            self.protocol,
        )
    }

    /// The coordinator of this fit when the trusts are elsewhere (the network submitter,
    /// `pets federated submit` with a `[fit]` table): the plan from the declared schema
    /// alone (a table of zero rows with every declared column, typed as decoding gives
    /// them), the rounds of [`FitRounds`], and a session of the fit's whole rho in which
    /// every round charged by the aggregator is accounted again
    /// ([`Session::account_round`]), so the model's ledger is the in-process fit's.
    pub fn remote(&self) -> Result<RemoteFit> {
        let opts = self.fit.mst_options().clone();
        let rho = crate::mst::cdp_rho(opts.epsilon, opts.delta)?;
        if self.max_rows_per_person == 0 {
            return Err(SynthError::invalid(
                "max_rows_per_person",
                0,
                "it must be at least 1",
            ));
        }
        let fit = self.fit.clone().with_source(declared_empty(&self.schema));
        let plan = fit.plan()?;
        plan.refuse_domain_from_data("trust")?;
        let read = plan.read_columns();
        let table = fit.encode_derived(&plan, true)?;
        let rounds = {
            let bounded = Bounded::row_level(0);
            let owned = crate::mst::synthesis_columns(&table, &[], &bounded)?;
            let cols: Vec<&EncodedColumn> = owned.iter().map(|c| c.as_ref()).collect();
            if let Some(c) = cols
                .iter()
                .find(|c| c.codebook.cardinality() as usize > MAX_FEDERATED_CELLS)
            {
                return Err(SynthError::invalid(
                    "columns",
                    c.name(),
                    format!(
                        "{} codes, more than the {MAX_FEDERATED_CELLS} cells one federated \
                         round carries; bin or coarsen it in the schema (or lower max_values)",
                        c.codebook.cardinality()
                    ),
                ));
            }
            FitRounds::new(&cols, &opts, self.fit.domain_max_values(), read)?
        };
        Ok(RemoteFit {
            job: self.clone(),
            plan,
            table,
            rounds,
            session: Session::zcdp(rho)?.with_conversion_delta(opts.delta)?,
            trusts: 0,
        })
    }

    /// The federation options of every round (protocol, threshold, colluders, person
    /// bounds, Prio3's cell bound, seed, alpha), as a network job carries them.
    pub fn round_options(&self) -> RoundOptions {
        RoundOptions {
            protocol: self.protocol,
            threshold: self.threshold,
            colluders: self.colluders,
            max_rows_per_person: self.max_rows_per_person,
            max_trusts_per_person: self.max_trusts_per_person,
            max_count: self.max_count,
            seed: self.seed,
            alpha: self.alpha,
        }
    }
}

/// The federation options of a fit's rounds ([`FederatedFitJob::round_options`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RoundOptions {
    /// The protocol.
    pub protocol: Protocol,
    /// Secure aggregation's threshold (`None`: a strict majority).
    pub threshold: Option<usize>,
    /// Trusts that may collude with the aggregator.
    pub colluders: usize,
    /// Rows kept per person at each trust.
    pub max_rows_per_person: u32,
    /// Trusts one person may attend.
    pub max_trusts_per_person: Option<u32>,
    /// Prio3's bound on one trust's cell.
    pub max_count: Option<u64>,
    /// Seed of each trust's choice of kept rows.
    pub seed: u64,
    /// Significance of the accuracy statements.
    pub alpha: f64,
}

/// A table source of zero rows with every column `schema` declares, typed as decoding
/// types them: the coordinator's stand-in for the trusts' tables (the synthesis domain
/// depends on the schema alone).
fn declared_empty(schema: &Schema) -> TableSource {
    let fields: Vec<arrow_schema::Field> = schema
        .columns
        .iter()
        .map(|c| arrow_schema::Field::new(&c.name, pets::data::decode::decoded_type(c), true))
        .collect();
    TableSource::batches(
        "(the federation's declared schema)",
        std::sync::Arc::new(arrow_schema::Schema::new(fields)),
        Vec::new(),
    )
}

/// A federated fit coordinated from elsewhere than the trusts ([`FederatedFitJob::remote`]):
/// ask it for each round's parts, have them summed (by the network service), give it back
/// each part's release with its ledger entry, and finish.
pub struct RemoteFit {
    job: FederatedFitJob,
    plan: crate::job::Plan,
    table: EncodedTable,
    rounds: FitRounds,
    session: Session,
    trusts: usize,
}

impl std::fmt::Debug for RemoteFit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteFit")
            .field("rounds", &self.rounds)
            .finish_non_exhaustive()
    }
}

impl RemoteFit {
    /// The next round's parts, or `None` when every round has been taken back.
    pub fn next_round(&mut self) -> Option<FitRoundPlan> {
        self.rounds.next_round()
    }

    /// Take back the releases of `plan`'s parts, in order, each with the ledger entry the
    /// aggregator charged for it: the entry is accounted in the fit's session (refused past
    /// the fit's budget, or when it is not the release's charge), then the noisy tables go
    /// to the round's post-processing.
    pub fn absorb(
        &mut self,
        plan: &FitRoundPlan,
        releases: &[(FederatedRelease, pets::dp::ledger::LedgerEntry)],
    ) -> Result<()> {
        for (release, entry) in releases {
            if entry.cost != release.cost || entry.query != release.query {
                return Err(SynthError::invalid(
                    "ledger",
                    &entry.query,
                    "the aggregator's ledger entry is not the charge of the release it came \
                     with: not accounted",
                ));
            }
            self.session.account_round(entry)?;
            self.trusts = self.trusts.max(release.round.counted.len());
        }
        let only: Vec<FederatedRelease> = releases.iter().map(|(r, _)| r.clone()).collect();
        self.rounds.absorb(plan, &only)
    }

    /// The fit's ledger so far (every round accounted).
    pub fn ledger(&self) -> pets::dp::Ledger {
        self.session.ledger()
    }

    /// Inference on every release taken back and the model file, as the in-process fit
    /// writes it (its output typed as decoding types the declared columns).
    pub fn finish(self) -> Result<FederatedFitOutcome> {
        let RemoteFit {
            job,
            plan,
            table,
            rounds,
            session,
            trusts,
        } = self;
        let bounded = Bounded::row_level(0);
        let owned = crate::mst::synthesis_columns(&table, &[], &bounded)?;
        let cols: Vec<&EncodedColumn> = owned.iter().map(|c| c.as_ref()).collect();
        let (model, rounds) = rounds.assemble(
            &table,
            &cols,
            session.ledger(),
            job.fit.observer(),
            trusts,
            job.protocol,
        )?;
        let fit = job.fit.finish(plan, model, None)?;
        Ok(FederatedFitOutcome { fit, rounds })
    }
}

/// The tables one round of a federated fit sums, as each trust computes them from its own
/// synthesis columns. Public: the schema, the options and earlier releases decide them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FitTables {
    /// Round A: each column's 1-way counts by declared code, times its weight.
    OneWay {
        /// One weight per synthesis column.
        weights: Vec<u64>,
    },
    /// Rounds B and C: each pair's counts on compressed codes, times its weight.
    Pairs {
        /// The pairs `(a, b)`, `a < b`, by synthesis column index.
        pairs: Vec<(usize, usize)>,
        /// Per column, each declared code's compressed code (from round A's release).
        maps: Vec<Vec<u32>>,
        /// Per column, its compressed codes.
        sizes: Vec<usize>,
        /// One weight per pair.
        weights: Vec<u64>,
    },
}

/// One protocol round of a federated fit: what every trust computes from its own table,
/// and the layout (hence the sensitivity, [`VectorSpec::counts`]) the round charges for. It
/// carries nothing but public figures and earlier releases: the fit's target, the domain
/// option, the declared columns read, the synthesis columns, the tables and their weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitRoundWork {
    /// `A`, `B` or `C`.
    pub round: String,
    /// The release's label (as in the ledger), with its part when a round has several.
    pub label: String,
    /// The fit's epsilon (its reading of a trust's table checks the options).
    pub epsilon: f64,
    /// The fit's delta.
    pub delta: f64,
    /// Integer, date and datetime columns with more codes are binned or coarsened.
    pub max_values: u32,
    /// The declared columns the fit reads (every trust's schema fingerprint is over these).
    pub read: Vec<String>,
    /// The synthesis columns, in order.
    pub columns: Vec<String>,
    /// The round's tables.
    pub tables: FitTables,
    /// The first of the round's tables in this part.
    pub first: usize,
    /// This part's tables (`layout.len()` of them from `first`).
    pub layout: Vec<TableLayout>,
}

impl FitRoundWork {
    /// The declared vector the round sums.
    pub fn spec(&self) -> Result<VectorSpec> {
        Ok(VectorSpec::counts(
            self.label.clone(),
            self.columns.clone(),
            self.layout.clone(),
        )?)
    }

    /// This part's vector from one trust's synthesis columns: refused when its columns,
    /// their codes or its tables are not the job's (a trust reading with another schema or
    /// options), before anything leaves it.
    pub(crate) fn values(&self, cols: &[&EncodedColumn]) -> Result<Vec<i64>> {
        let names: Vec<String> = cols.iter().map(|c| c.name().to_string()).collect();
        if names != self.columns {
            return Err(SynthError::invalid(
                "columns",
                names.join(", "),
                format!(
                    "the job's synthesis columns are {}: read the table with the job's \
                     schema and max_values",
                    self.columns.join(", ")
                ),
            ));
        }
        let cards: Vec<usize> = cols
            .iter()
            .map(|c| c.codebook.cardinality() as usize)
            .collect();
        let range = self.first..self.first + self.layout.len();
        let bad = |why: &str| SynthError::invalid("round", &self.label, why.to_string());
        let (values, layout) = match &self.tables {
            FitTables::OneWay { weights } => {
                if weights.len() != cols.len() || range.end > cols.len() {
                    return Err(bad("its weights or tables do not match the columns"));
                }
                let values = one_way_vector(&cols[range.clone()], &weights[range.clone()]);
                let layout = range
                    .map(|i| count_table(&names[i], cards[i], weights[i]))
                    .collect();
                (values, layout)
            }
            FitTables::Pairs {
                pairs,
                maps,
                sizes,
                weights,
            } => {
                let fits =
                    maps.len() == cols.len()
                        && sizes.len() == cols.len()
                        && weights.len() == pairs.len()
                        && range.end <= pairs.len()
                        && maps.iter().zip(&cards).zip(sizes).all(|((m, &k), &n)| {
                            m.len() == k && m.iter().all(|&c| (c as usize) < n)
                        })
                        && pairs.iter().all(|&(a, b)| a < b && b < cols.len());
                if !fits {
                    return Err(bad(
                        "its compression maps, pairs or weights do not match the trust's \
                         columns and codes",
                    ));
                }
                let values = pair_vector(
                    cols,
                    &pairs[range.clone()],
                    maps,
                    sizes,
                    &weights[range.clone()],
                )?;
                (
                    values,
                    pair_layout(&names, &pairs[range.clone()], sizes, &weights[range]),
                )
            }
        };
        if layout != self.layout {
            return Err(bad(
                "the trust's tables are laid out differently from the job's: read the table \
                 with the job's schema and max_values",
            ));
        }
        Ok(values)
    }
}

/// One trust's side of a federated fit, on its own machine (the network node): its table
/// read, bounded and derived as the fit reads it (`FitJob::read_bounded`, the same
/// reading as a pooled fit), then each round's vector from it. Its rows never leave.
pub struct FitTrust {
    columns: TrustColumns,
}

impl FitTrust {
    /// Read trust `name`'s table `source`, declared by its own `schema`, as the fit of
    /// `work` reads it: person-level bounding to `max_rows_per_person` rows by `person_id`,
    /// or row-level (warned) without one.
    pub fn read(
        name: &str,
        source: TableSource,
        schema: &Schema,
        work: &FitRoundWork,
        person_id: Option<&str>,
        max_rows_per_person: u32,
    ) -> Result<FitTrust> {
        let job = FederatedFitJob::new(schema.clone(), work.epsilon, work.delta)
            .max_values(work.max_values)
            .max_rows_per_person(max_rows_per_person);
        let mut input = TrustInput::new(name, source);
        if let Some(id) = person_id {
            input = input.person_id(id);
        }
        let columns = job.read_trust(&input).map_err(|e| trust_error(name, e))?;
        Ok(FitTrust { columns })
    }

    /// The fingerprint of how `schema` declares the columns `work` reads (the aggregator
    /// refuses a trust whose fingerprint is not the job's).
    pub fn fingerprint(schema: &Schema, work: &FitRoundWork) -> Result<String> {
        Ok(columns_fingerprint(schema, &work.read)?)
    }

    /// This trust's vector for `work`, as the round's local aggregate (layout, values, unit,
    /// reading warnings).
    pub fn vector(&self, work: &FitRoundWork) -> Result<LocalAggregate> {
        let l = &self.columns;
        let owned = crate::mst::synthesis_columns(&l.table, &[], &l.bounded)?;
        let cols: Vec<&EncodedColumn> = owned.iter().map(|c| c.as_ref()).collect();
        l.aggregate(&cols, work)
    }
}

impl TrustColumns {
    /// The local aggregate of `work` over this trust's synthesis columns `cols`.
    fn aggregate(&self, cols: &[&EncodedColumn], work: &FitRoundWork) -> Result<LocalAggregate> {
        Ok(LocalAggregate {
            layout: work.layout.clone(),
            values: work.values(cols)?,
            unit: self.unit,
            warnings: self.warnings.clone(),
        })
    }
}

/// A round of a federated fit as protocol rounds ("parts", each at most
/// [`MAX_FEDERATED_CELLS`] cells): each part's work and its share of the round's rho (in
/// proportion to its tables' squared weights, so that every part has the same noise
/// scale).
#[derive(Debug, Clone, PartialEq)]
pub struct FitRoundPlan {
    /// `A`, `B` or `C`.
    pub round: String,
    /// The round's label.
    pub label: String,
    /// Tables summed.
    pub tables: usize,
    /// Each part's work and rho.
    pub parts: Vec<(FitRoundWork, f64)>,
}

/// The coordinator's side of a federated fit: rounds A, B and C in turn, each decided from
/// public figures and the releases before it, and the inference at the end. Post-processing
/// only: it never sees a trust's data. The in-process fit and the network submitter both
/// run it.
#[derive(Debug, Clone)]
pub struct FitRounds {
    opts: crate::MstOptions,
    names: Vec<String>,
    cards: Vec<u32>,
    budget: MstBudget,
    max_values: u32,
    read: Vec<String>,
    next: u8,
    one_weights: Vec<u64>,
    measurements: Vec<NoisyMarginal>,
    compression: Vec<Compression>,
    sizes: Vec<usize>,
    maps: Vec<Vec<u32>>,
    candidates: Vec<(usize, usize)>,
    selected: Vec<(usize, usize)>,
    tree_b: Vec<NoisyMarginal>,
    rounds: Vec<FitRound>,
}

impl FitRounds {
    /// The rounds of a fit over synthesis columns like `cols` (names and code spaces only).
    pub(crate) fn new(
        cols: &[&EncodedColumn],
        opts: &crate::MstOptions,
        max_values: u32,
        read: Vec<String>,
    ) -> Result<FitRounds> {
        let names: Vec<String> = cols.iter().map(|c| c.name().to_string()).collect();
        let cards: Vec<u32> = cols.iter().map(|c| c.codebook.cardinality()).collect();
        let budget = MstBudget::new(&cards, opts, false)?;
        let one_weights = weights(&shares(
            &cards.iter().map(|&k| u64::from(k)).collect::<Vec<_>>(),
            opts.size_weighted_shares,
            ONE_WAY_SHARE_CAP,
        ));
        Ok(FitRounds {
            opts: opts.clone(),
            names,
            cards,
            budget,
            max_values,
            read,
            next: 0,
            one_weights,
            measurements: Vec::new(),
            compression: Vec::new(),
            sizes: Vec::new(),
            maps: Vec::new(),
            candidates: Vec::new(),
            selected: Vec::new(),
            tree_b: Vec::new(),
            rounds: Vec::new(),
        })
    }

    /// The next round to run, or `None` when done (round B is skipped when no pair can be
    /// selected, round C when the tree is empty).
    pub fn next_round(&mut self) -> Option<FitRoundPlan> {
        loop {
            match self.next {
                0 => {
                    let d = self.names.len();
                    let layout: Vec<TableLayout> = self
                        .names
                        .iter()
                        .zip(&self.cards)
                        .zip(&self.one_weights)
                        .map(|((n, &k), &w)| count_table(n, k as usize, w))
                        .collect();
                    let label = format!("{FEDERATED_MST}: round A, 1-way marginals of {d} columns");
                    let tables = FitTables::OneWay {
                        weights: self.one_weights.clone(),
                    };
                    return Some(self.plan("A", label, layout, tables, self.budget.rho1));
                }
                1 if self.budget.rounds > 0 && !self.candidates.is_empty() => {
                    let ones = vec![1u64; self.candidates.len()];
                    let layout = pair_layout(&self.names, &self.candidates, &self.sizes, &ones);
                    let label = format!(
                        "{FEDERATED_MST}: round B, 2-way marginals of {} candidate pairs \
                         (compressed), to choose the tree",
                        self.candidates.len()
                    );
                    let tables = FitTables::Pairs {
                        pairs: self.candidates.clone(),
                        maps: self.maps.clone(),
                        sizes: self.sizes.clone(),
                        weights: ones,
                    };
                    return Some(self.plan("B", label, layout, tables, self.budget.rho_sel));
                }
                2 if !self.selected.is_empty() => {
                    let pw = self.pair_weights();
                    let layout = pair_layout(&self.names, &self.selected, &self.sizes, &pw);
                    let label = format!(
                        "{FEDERATED_MST}: round C, 2-way marginals of the tree's {} pairs",
                        self.selected.len()
                    );
                    let tables = FitTables::Pairs {
                        pairs: self.selected.clone(),
                        maps: self.maps.clone(),
                        sizes: self.sizes.clone(),
                        weights: pw,
                    };
                    return Some(self.plan("C", label, layout, tables, self.budget.rho2));
                }
                1 | 2 => self.next += 1,
                _ => return None,
            }
        }
    }

    fn pair_weights(&self) -> Vec<u64> {
        weights(&pair_shares(
            &self.selected,
            &self.sizes,
            self.opts.size_weighted_shares,
        ))
    }

    /// `layout` at `rho` in as many parts as its cells need.
    fn plan(
        &self,
        round: &str,
        label: String,
        layout: Vec<TableLayout>,
        tables: FitTables,
        rho: f64,
    ) -> FitRoundPlan {
        let parts = chunks(&layout);
        let total_w: f64 = layout.iter().map(|t| (t.weight as f64).powi(2)).sum();
        let works = parts
            .iter()
            .enumerate()
            .map(|(p, range)| {
                let part_layout = layout[range.clone()].to_vec();
                let w: f64 = part_layout.iter().map(|t| (t.weight as f64).powi(2)).sum();
                let share = if parts.len() == 1 {
                    rho.next_down()
                } else {
                    (rho * (w / total_w)).next_down().next_down()
                };
                let part_label = if parts.len() == 1 {
                    label.clone()
                } else {
                    format!("{label} (part {} of {})", p + 1, parts.len())
                };
                let work = FitRoundWork {
                    round: round.to_string(),
                    label: part_label,
                    epsilon: self.opts.epsilon,
                    delta: self.opts.delta,
                    max_values: self.max_values,
                    read: self.read.clone(),
                    columns: self.names.clone(),
                    tables: tables.clone(),
                    first: range.start,
                    layout: part_layout,
                };
                (work, share)
            })
            .collect();
        FitRoundPlan {
            round: round.to_string(),
            label,
            tables: layout.len(),
            parts: works,
        }
    }

    /// Take back the releases of `plan`'s parts, in order, and decide what follows (the
    /// compression after A, the tree after B): post-processing of the noisy tables.
    pub fn absorb(&mut self, plan: &FitRoundPlan, releases: &[FederatedRelease]) -> Result<()> {
        let expected = ["A", "B", "C"].get(usize::from(self.next)).copied();
        if Some(plan.round.as_str()) != expected || releases.len() != plan.parts.len() {
            return Err(SynthError::invalid(
                "round",
                &plan.round,
                format!(
                    "round {} expected, with one release for each of its {} parts ({} given)",
                    expected.unwrap_or("none"),
                    plan.parts.len(),
                    releases.len()
                ),
            ));
        }
        let mut tables = RoundTables {
            tables: Vec::with_capacity(plan.tables),
            reports: Vec::new(),
            rho: 0.0,
        };
        for ((work, _), release) in plan.parts.iter().zip(releases) {
            tables.absorb(&work.layout, release)?;
        }
        let opts = &self.opts;
        match self.next {
            0 => {
                for (i, (cells, var)) in tables.tables.iter().enumerate() {
                    let w = self.one_weights[i] as f64;
                    let noisy: Vec<f64> = cells.iter().map(|&v| v as f64 / w).collect();
                    let (m, c) = one_way_from_noisy(
                        &self.names[i],
                        i,
                        self.cards[i],
                        &noisy,
                        var.sqrt() / w,
                        opts.compress,
                    );
                    self.measurements.push(m);
                    self.compression.push(c);
                }
                self.sizes = self.compression.iter().map(Compression::size).collect();
                self.maps = self
                    .compression
                    .iter()
                    .map(Compression::forward_map)
                    .collect();
                // A pair table must fit one round (pets caps MST's pairs at 2^22 cells, a
                // little above a round's 4e6).
                let max_pair_cells = opts.max_pair_cells.min(MAX_FEDERATED_CELLS as u64);
                self.candidates = self.budget.candidates(&self.sizes, max_pair_cells);
            }
            1 => {
                let one_way: Vec<Measurement> = self
                    .measurements
                    .iter()
                    .map(|m| m.measurement.clone())
                    .collect();
                let total = estimate_total(&one_way);
                let probs: Vec<Vec<f64>> = one_way.iter().map(independent_probs).collect();
                let scores: Vec<f64> = self
                    .candidates
                    .iter()
                    .zip(&tables.tables)
                    .map(|(&(x, y), (cells, var))| {
                        let noisy: Vec<f64> = cells.iter().map(|&v| v as f64).collect();
                        noisy_pair_score(
                            &noisy,
                            &probs[x],
                            &probs[y],
                            total,
                            var.sqrt(),
                            opts.score_threshold,
                        )
                    })
                    .collect();
                let d = self.names.len();
                let tree = max_spanning_tree(d, &self.candidates, &scores, self.budget.rounds);
                for &k in &tree {
                    let (x, y) = self.candidates[k];
                    let (cells, var) = &tables.tables[k];
                    self.tree_b.push(pair_measurement(
                        &self.names,
                        x,
                        y,
                        cells.iter().map(|&v| v as f64).collect(),
                        var.sqrt(),
                    ));
                    self.selected.push((x, y));
                }
            }
            _ => {
                let pw = self.pair_weights();
                for (k, &(x, y)) in self.selected.iter().enumerate() {
                    let (cells, var) = &tables.tables[k];
                    let w = pw[k] as f64;
                    self.measurements.push(pair_measurement(
                        &self.names,
                        x,
                        y,
                        cells.iter().map(|&v| v as f64 / w).collect(),
                        var.sqrt() / w,
                    ));
                }
            }
        }
        self.rounds
            .push(tables.summary(&plan.round, &plan.label, plan.tables));
        self.next += 1;
        Ok(())
    }

    /// Inference on every measurement (A, and B and C of the tree's pairs) and the model
    /// (`table` and `cols`: the synthesis columns' schema and code books), its ledger and
    /// a note of the rounds.
    pub(crate) fn assemble(
        self,
        table: &EncodedTable,
        cols: &[&EncodedColumn],
        ledger: pets::dp::Ledger,
        progress: &pets::progress::Progress,
        trusts: usize,
        protocol: Protocol,
    ) -> Result<(crate::SynthModel, Vec<FitRound>)> {
        if self.next < 3 {
            return Err(SynthError::invalid(
                "rounds",
                self.rounds.len(),
                "the fit's rounds are not all taken back: nothing to assemble",
            ));
        }
        let FitRounds {
            opts,
            budget,
            compression,
            mut measurements,
            selected,
            tree_b,
            rounds,
            ..
        } = self;
        measurements.extend(tree_b);
        let mut model = assemble_mst(
            FEDERATED_MST,
            table,
            cols,
            &opts,
            budget.rho,
            compression,
            measurements,
            &selected,
            ledger,
            progress,
        )?;
        model.notes.push(format!(
            "{FEDERATED_MST}: fitted over {trusts} trusts without pooling rows, by {protocol:?}; \
             rounds {}",
            rounds
                .iter()
                .map(|r| format!(
                    "{} ({} tables, rho {:.6}, counted {})",
                    r.round,
                    r.tables,
                    r.rho,
                    r.reports.first().map_or(0, |rep| rep.counted.len())
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ));
        Ok((model, rounds))
    }
}

/// A round's released tables: each table's noisy (weighted) cells and the noise variance
/// of each cell, in the weighted units.
struct RoundTables {
    tables: Vec<(Vec<i64>, f64)>,
    reports: Vec<RoundReport>,
    rho: f64,
}

impl RoundTables {
    fn absorb(&mut self, layout: &[TableLayout], release: &FederatedRelease) -> Result<()> {
        let cells: usize = layout.iter().map(TableLayout::cells).sum();
        if release.sums.len() != cells {
            return Err(SynthError::invalid(
                "release",
                &release.query,
                format!(
                    "{} summed cells, the part's layout has {cells}: not this part's release",
                    release.sums.len()
                ),
            ));
        }
        let var = release.noise_variance();
        let mut at = 0;
        for t in layout {
            let n = t.cells();
            self.tables.push((release.sums[at..at + n].to_vec(), var));
            at += n;
        }
        self.reports.push(release.round.clone());
        self.rho += release.cost.main();
        Ok(())
    }

    fn summary(&self, round: &str, label: &str, tables: usize) -> FitRound {
        FitRound {
            round: round.into(),
            label: label.into(),
            tables,
            rho: self.rho,
            reports: self.reports.clone(),
        }
    }
}

/// Consecutive runs of tables of at most [`MAX_FEDERATED_CELLS`] cells (a table larger
/// than that is a run of its own, refused by the round with a typed error).
fn chunks(layout: &[TableLayout]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut cells) = (0, 0usize);
    for (i, t) in layout.iter().enumerate() {
        let n = t.cells();
        if i > start && cells + n > MAX_FEDERATED_CELLS {
            out.push(start..i);
            start = i;
            cells = 0;
        }
        cells += n;
    }
    out.push(start..layout.len());
    out
}

fn trust_error(trust: &str, e: SynthError) -> SynthError {
    match e {
        // Errors of the federation itself (budget, options) keep their own form.
        SynthError::Invalid { .. } | SynthError::Federated(_) | SynthError::Budget(_) => e,
        other => SynthError::Trust {
            trust: trust.to_string(),
            source: Box::new(other),
        },
    }
}

/// A count table over `name` of `cells` codes, weighted `weight`, without labels.
fn count_table(name: &str, cells: usize, weight: u64) -> TableLayout {
    TableLayout {
        dimensions: if name.is_empty() {
            Vec::new()
        } else {
            vec![name.to_string()]
        },
        labels: Vec::new(),
        shape: vec![cells],
        weight,
        value: None,
    }
}

fn pair_layout(
    names: &[String],
    pairs: &[(usize, usize)],
    sizes: &[usize],
    weights: &[u64],
) -> Vec<TableLayout> {
    pairs
        .iter()
        .zip(weights)
        .map(|(&(a, b), &w)| TableLayout {
            dimensions: vec![names[a].clone(), names[b].clone()],
            labels: Vec::new(),
            shape: vec![sizes[a], sizes[b]],
            weight: w,
            value: None,
        })
        .collect()
}

fn pair_measurement(
    names: &[String],
    a: usize,
    b: usize,
    values: Vec<f64>,
    sigma: f64,
) -> NoisyMarginal {
    NoisyMarginal {
        columns: vec![names[a].clone(), names[b].clone()],
        measurement: Measurement {
            attrs: vec![a, b],
            values,
            sigma,
            scale: None,
            threshold: None,
        },
    }
}

/// Integer weights of tables whose noise should follow `shares` of a budget: a table's
/// effective variance is the round's over its weight squared, so `w ~ sqrt(share)` gives
/// each its share; `round(16 sqrt(share / max))`, at least 1; all 1 when the shares are
/// equal.
pub(crate) fn weights(shares: &[f64]) -> Vec<u64> {
    let max = shares.iter().copied().fold(0.0f64, f64::max);
    if shares.iter().all(|&s| s == max) || max <= 0.0 {
        return vec![1; shares.len()];
    }
    shares
        .iter()
        .map(|&s| ((WEIGHT_SCALE * (s / max).sqrt()).round() as u64).max(1))
        .collect()
}

/// One trust's round-A vector: each column's 1-way counts by declared code, times its
/// weight, concatenated.
pub(crate) fn one_way_vector(cols: &[&EncodedColumn], weights: &[u64]) -> Vec<i64> {
    let rows = Rows(cols);
    let mut out = Vec::new();
    for (i, &w) in weights.iter().enumerate() {
        out.extend(rows.one_way(i).iter().map(|&c| weighted(c, w)));
    }
    out
}

/// One trust's round-B or round-C vector: each pair's counts on compressed codes
/// (`maps`, `sizes`), times its weight, concatenated.
pub(crate) fn pair_vector(
    cols: &[&EncodedColumn],
    pairs: &[(usize, usize)],
    maps: &[Vec<u32>],
    sizes: &[usize],
    weights: &[u64],
) -> Result<Vec<i64>> {
    let rows = Rows(cols);
    let mut out = Vec::new();
    for (&(a, b), &w) in pairs.iter().zip(weights) {
        out.extend(
            rows.pair(a, b, maps, sizes)?
                .iter()
                .map(|&c| weighted(c, w)),
        );
    }
    Ok(out)
}

/// `c w`, saturated (the round refuses a cell past the ring's safe range, naming the trust).
fn weighted(c: u64, w: u64) -> i64 {
    i64::try_from(u128::from(c) * u128::from(w)).unwrap_or(i64::MAX)
}

/// `E[max(|Z| - t, 0)^p]` for `Z ~ N(0, 1)`: `2 integral_t^inf (z - t)^p phi(z) dz`, by
/// Simpson's rule over `[t, t + 12]` (the tail beyond is below `1e-30`). A public number.
fn excess_moment(t: f64, p: i32) -> f64 {
    let phi = |z: f64| (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let n = 2_000;
    let h = 12.0 / n as f64;
    let f = |k: usize| {
        let z = t + k as f64 * h;
        (z - t).powi(p) * phi(z)
    };
    let mut s = f(0) + f(n);
    for k in 1..n {
        s += if k % 2 == 1 { 4.0 } else { 2.0 } * f(k);
    }
    2.0 * s * h / 3.0
}

/// `E[max(|Z| - t, 0)]` for `Z ~ N(0, 1)` (the noise floor of one cell's score, in sigmas).
pub(crate) fn excess_over_threshold(t: f64) -> f64 {
    excess_moment(t, 1)
}

/// The standard deviation of `max(|Z| - t, 0)` for `Z ~ N(0, 1)`.
pub(crate) fn excess_sd(t: f64) -> f64 {
    (excess_moment(t, 2) - excess_moment(t, 1).powi(2))
        .max(0.0)
        .sqrt()
}

/// Standard deviations of the pure-noise score subtracted from every pair's score.
pub const NOISE_SD_MARGIN: f64 = 2.0;

/// The selection score of a pair from its **noisy** table `y` (noise of standard deviation
/// `sigma` a cell): MST's soft-thresholded distance from the independent estimate,
/// `sum_i max(|y_i - N p_a q_b| - t sigma, 0)`, minus what pure noise scores on average,
/// `c sigma E[max(|Z| - t, 0)]` over its `c` cells, minus [`NOISE_SD_MARGIN`] standard
/// deviations of that pure-noise score, `2 sigma sqrt(c Var[max(|Z| - t, 0)])`: a lower
/// confidence bound on the signal. Without the floor a large table of pure noise would
/// outscore a small, strongly dependent one; without the margin a large table's noisier
/// score would still win the maximum by its spread (on 100k A&E rows the tree took six
/// postcode-district pairs). Post-processing of released tables (no budget).
pub fn noisy_pair_score(y: &[f64], pa: &[f64], pb: &[f64], total: f64, sigma: f64, t: f64) -> f64 {
    let tau = t * sigma;
    let mut s = 0.0;
    for (i, &p) in pa.iter().enumerate() {
        for (j, &q) in pb.iter().enumerate() {
            s += ((y[i * pb.len() + j] - total * p * q).abs() - tau).max(0.0);
        }
    }
    let c = y.len() as f64;
    s - c * sigma * excess_over_threshold(t) - NOISE_SD_MARGIN * sigma * (c.sqrt() * excess_sd(t))
}

/// A maximum spanning tree (forest) of `d` columns over `pairs` by `scores` (Kruskal: best
/// first, ties by index; at most `rounds` edges): the indices of the chosen pairs.
pub(crate) fn max_spanning_tree(
    d: usize,
    pairs: &[(usize, usize)],
    scores: &[f64],
    rounds: usize,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    order.sort_by(|&i, &j| scores[j].total_cmp(&scores[i]).then(i.cmp(&j)));
    let mut parent: Vec<usize> = (0..d).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let mut out = Vec::new();
    for k in order {
        if out.len() == rounds {
            break;
        }
        let (a, b) = pairs[k];
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        if ra != rb {
            parent[ra] = rb;
            out.push(k);
        }
    }
    out
}

#[cfg(test)]
mod tests;

//! [`FederatedJob`]: one federated DP release, as every front door runs it.
//!
//! ```text
//! validate options (threshold, colluders, bounds, share in rho) -> every trust's schema
//! fingerprint against the job's -> each trust: local aggregate of its bounded rows
//! -> plan the noise and charge the budget (before any party draws)
//! -> protocol round: secure aggregation (each trust adds its noise share, masks, and the
//!    aggregator unmasks only the sum) or Prio3 (trusts upload shares with proofs, the two
//!    aggregators verify, each adds noise to its aggregate share, the collector adds them)
//! -> decode signed cells -> FederatedRelease (noisy tables, accuracy, ledger, round report)
//! ```
//!
//! The round runs every party's state machine in this process, every message through the
//! wire format ([`crate::federated::wire`], so sizes are real); the network service runs
//! the same state machines in separate processes. Faults are injected per trust
//! ([`TrustInput::drop_at`]) to show what each outcome releases.

use std::collections::BTreeSet;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::data::{Schema, TableSource};
use crate::dp::budget_store::{BudgetStore, ChargeReceipt, ChargeRecord};
use crate::dp::ledger::{Contribution, QueryRecord};
use crate::dp::mechanisms::{DiscreteGaussian, MechanismInfo, Sensitivity};
use crate::dp::{Accuracy, Cost, NoiseKind, PrivacyUnit, Session};
use crate::error::{Warning, WarningKind};
use crate::federated::aggregate::{
    FederatedQuery, LocalAggregate, TableLayout, ValueStatistic, local_aggregate,
};
use crate::federated::compare::{RateCells, compare_rates};
use crate::federated::error::{FederatedError, Result};
use crate::federated::noise::DistributedNoise;
use crate::federated::prio::{self, PrioAggregator, PrioTask};
use crate::federated::ring::{self, MAX_PARTIES};
use crate::federated::secagg::{
    AdvertiseKeys, Inbox, MaskedInput, Roster, RoundId, SecAggClient, SecAggConfig, SecAggServer,
    ShareKeys, Survivors, UnmaskShares,
};
use crate::federated::values::{ValueCells, ratio_interval};
use crate::federated::vector::{RoundVector, VectorSpec};
use crate::federated::wire::{from_wire, to_wire};

/// How the trusts' vectors are summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Secure aggregation by pairwise masking, one aggregator, dropouts recovered; each
    /// trust adds its share of distributed discrete Gaussian noise.
    SecAgg,
    /// Prio3SumVec with two non-colluding aggregators, validity proofs on every report;
    /// each aggregator adds discrete Gaussian noise to its share.
    Prio3,
}

impl std::str::FromStr for Protocol {
    type Err = FederatedError;
    fn from_str(s: &str) -> Result<Protocol> {
        match s {
            "secagg" => Ok(Protocol::SecAgg),
            "prio3" | "prio" => Ok(Protocol::Prio3),
            other => Err(FederatedError::invalid(
                "protocol",
                other,
                "secagg (masking, one aggregator) or prio3 (two aggregators)",
            )),
        }
    }
}

/// Where a trust drops out of a round (fault injection: what a lost connection does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropPoint {
    /// Before sending its keys (secure aggregation) or its upload (Prio3).
    BeforeKeys,
    /// After its keys, before its encrypted shares.
    BeforeShares,
    /// After its shares, before its masked input: not counted, its masks are removed.
    BeforeMasked,
    /// After its masked input, before unmasking: counted.
    BeforeUnmask,
}

impl std::str::FromStr for DropPoint {
    type Err = FederatedError;
    fn from_str(s: &str) -> Result<DropPoint> {
        match s.replace('_', "-").as_str() {
            "before-keys" | "before-upload" => Ok(DropPoint::BeforeKeys),
            "before-shares" => Ok(DropPoint::BeforeShares),
            "before-masked" => Ok(DropPoint::BeforeMasked),
            "before-unmask" => Ok(DropPoint::BeforeUnmask),
            other => Err(FederatedError::invalid(
                "drop point",
                other,
                "before-keys (before-upload), before-shares, before-masked or before-unmask",
            )),
        }
    }
}

/// One trust's table.
#[derive(Debug, Clone)]
pub struct TrustInput {
    /// The trust's name (shown in reports and errors).
    pub name: String,
    /// Its rows.
    pub source: TableSource,
    /// Its person-id column, if any.
    pub person_id: Option<String>,
    /// The schema the trust declares, when it has its own (checked against the job's).
    pub schema: Option<Schema>,
    /// Fault injection.
    pub drop_at: Option<DropPoint>,
}

impl TrustInput {
    /// A trust with its table.
    pub fn new(name: impl Into<String>, source: impl Into<TableSource>) -> TrustInput {
        TrustInput {
            name: name.into(),
            source: source.into(),
            person_id: None,
            schema: None,
            drop_at: None,
        }
    }

    /// Its person-id column.
    pub fn person_id(mut self, column: impl Into<String>) -> TrustInput {
        self.person_id = Some(column.into());
        self
    }

    /// Its own declared schema.
    pub fn schema(mut self, schema: Schema) -> TrustInput {
        self.schema = Some(schema);
        self
    }

    /// Drop out of the round at `point`.
    pub fn drop_at(mut self, point: DropPoint) -> TrustInput {
        self.drop_at = Some(point);
        self
    }
}

/// One federated DP release.
///
/// ```
/// use pets::data::{Schema, TableSource};
/// use pets::dp::{Cost, Session};
/// use pets::federated::{FederatedJob, FederatedQuery, TrustInput};
/// # let dir = tempfile::tempdir().unwrap();
/// let schema = Schema::from_json(r#"{"columns": [
///     {"name": "sex", "kind": "categorical", "values": ["F", "M"]}
/// ]}"#)?;
/// // Three trusts, each with its own file.
/// let trusts: Vec<TrustInput> = (0..3)
///     .map(|t| {
///         let path = dir.path().join(format!("trust_{t}.csv"));
///         let rows: String = (0..200).map(|i| format!("{}\n", ["F", "M"][(i + t) % 2])).collect();
///         std::fs::write(&path, format!("sex\n{rows}")).unwrap();
///         TrustInput::new(format!("trust_{t}"), TableSource::file(path))
///     })
///     .collect();
/// let mut session = Session::zcdp(0.5)?;
/// let release = FederatedJob::new(FederatedQuery::histogram(&["sex"])?)
///     .share(Cost::rho(0.5))
///     .max_trusts_per_person(1)
///     .run(&mut session, &schema, &trusts)?;
/// assert_eq!(release.tables[0].counts.len(), 2);
/// assert_eq!(release.round.counted.len(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct FederatedJob {
    work: RoundVector,
    protocol: Protocol,
    share: Option<Cost>,
    threshold: Option<usize>,
    colluders: usize,
    max_rows_per_person: u32,
    max_trusts_per_person: Option<u32>,
    max_count: u64,
    alpha: f64,
    seed: u64,
    budget_file: Option<(std::path::PathBuf, ChargeRecord)>,
}

/// A released table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FederatedTable {
    /// Axis names; empty for a count.
    pub dimensions: Vec<String>,
    /// Labels along each axis.
    pub labels: Vec<Vec<String>>,
    /// Cells per axis.
    pub shape: Vec<usize>,
    /// Noisy counts, row-major (last axis fastest); a mean's are of the rows with a value
    /// (weighted counts rounded to the nearest integer); empty for a sum.
    pub counts: Vec<i64>,
    /// Half-width of every count in this table at `1 - alpha`, when the query has sums or
    /// means (counts are then weighted; a count-only query's is the release's accuracy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_width: Option<f64>,
    /// A sum or mean: its noisy cells, bounds, grid and intervals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ValueCells>,
}

/// The noise, as released.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoiseReport {
    /// `distributed_discrete_gaussian` or `discrete_gaussian_per_aggregator`.
    pub mechanism: String,
    /// Scale of each party's share (trust or aggregator).
    pub share_scale: f64,
    /// Shares the guarantee relies on.
    pub min_shares: usize,
    /// Shares that may be in the sum.
    pub max_shares: usize,
    /// Scale of the noise in the sum when every share counts.
    pub total_scale: f64,
    /// Noise variance in the sum over what the guarantee needs.
    pub over_provision: f64,
    /// `||Delta||_2^2` the cost is for.
    pub l2_squared: f64,
}

/// What the round did: who was counted, who dropped, what was refused, bytes and time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundReport {
    /// The protocol.
    pub protocol: Protocol,
    /// The round id (short hex).
    pub round: String,
    /// Trusts asked.
    pub trusts: usize,
    /// Trusts whose data are in the sum.
    pub counted: Vec<String>,
    /// Trusts that dropped, with where.
    pub dropped: Vec<(String, DropPoint)>,
    /// Messages refused, with the reason.
    pub refused: Vec<String>,
    /// The survival threshold (secure aggregation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<usize>,
    /// Cells summed.
    pub cells: usize,
    /// Bytes every trust sent, summed.
    pub bytes_from_trusts: usize,
    /// Bytes sent to trusts, summed.
    pub bytes_to_trusts: usize,
    /// Bytes between the two aggregators and to the collector (Prio3).
    pub bytes_between_aggregators: usize,
    /// What sending the plain vectors would have cost (8 bytes a cell a trust).
    pub plaintext_bytes: usize,
    /// Seconds for the trusts' local aggregates.
    pub local_seconds: f64,
    /// Seconds for the protocol round (every party in this process).
    pub protocol_seconds: f64,
}

/// The result of a federated job: noisy tables and how they were made. No exact statistic
/// of any trust, or of the pool, is in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FederatedRelease {
    /// The query's label.
    pub query: String,
    /// The tables.
    pub tables: Vec<FederatedTable>,
    /// Accuracy of every cell.
    pub accuracy: Accuracy,
    /// The noise.
    pub noise: NoiseReport,
    /// The cost charged.
    pub cost: Cost,
    /// The ledger entry.
    pub ledger_index: usize,
    /// The unit of privacy.
    pub contribution: Contribution,
    /// The round.
    pub round: RoundReport,
    /// The persistent budget file's receipt, when one was charged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_receipt: Option<ChargeReceipt>,
    /// Warnings.
    pub warnings: Vec<Warning>,
    /// A declared vector's noisy sum, cell by cell in its layout's order (weighted cells as
    /// summed, not divided by their weight); empty for a query, whose tables hold it all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sums: Vec<i64>,
}

impl FederatedRelease {
    /// The variance of the noise in each cell of the summed vector (in its integer units)
    /// as released: the shares that reached the sum (every counted trust's, secure
    /// aggregation) or the two aggregators' draws (Prio3), each of variance at most its
    /// scale squared (a discrete Gaussian's variance is below its scale's square:
    /// Canonne, Kamath & Steinke 2020, Prop. 19). Post-processing of public figures: what
    /// inference weighs a measurement by.
    pub fn noise_variance(&self) -> f64 {
        let shares = match self.round.protocol {
            Protocol::SecAgg => self.round.counted.len(),
            Protocol::Prio3 => 2,
        };
        shares as f64 * self.noise.share_scale.powi(2)
    }
}

/// Largest wire message pets accepts in a round of `cells` cells and `parties` trusts: the
/// masked vector plus headroom (every front door refuses a larger one before decoding).
pub fn message_limit(cells: usize, parties: usize) -> usize {
    cells * 8 + parties * 400 + 4096
}

impl FederatedJob {
    /// A job for `query`, by secure aggregation, person bound 1, default threshold.
    pub fn new(query: FederatedQuery) -> FederatedJob {
        FederatedJob::of(RoundVector::Query(query))
    }

    /// A round over vectors each trust computed itself ([`VectorSpec`]: a synthesiser's
    /// marginals, model weights), run by [`FederatedJob::run_vectors`]; the same checks,
    /// charge, protocols and report as a query's.
    pub fn for_vector(spec: VectorSpec) -> FederatedJob {
        FederatedJob::of(RoundVector::Declared(spec))
    }

    fn of(work: RoundVector) -> FederatedJob {
        FederatedJob {
            work,
            protocol: Protocol::SecAgg,
            share: None,
            threshold: None,
            colluders: 0,
            max_rows_per_person: 1,
            max_trusts_per_person: None,
            max_count: (1 << 20) - 1,
            alpha: 0.05,
            seed: 0,
            budget_file: None,
        }
    }

    /// Also charge the release's cost to the dataset's persistent budget file at `path`
    /// (`pets budget init`): after every data-dependent check, before any party draws;
    /// refused, with nothing released, when it does not fit what is left.
    pub fn budget_file(
        mut self,
        path: Option<std::path::PathBuf>,
        record: ChargeRecord,
    ) -> FederatedJob {
        self.budget_file = path.map(|p| (p, record));
        self
    }

    /// The protocol.
    pub fn protocol(mut self, protocol: Protocol) -> FederatedJob {
        self.protocol = protocol;
        self
    }

    /// The budget share, in rho (zCDP); default the session's remainder.
    pub fn share(mut self, share: Cost) -> FederatedJob {
        self.share = Some(share);
        self
    }

    /// Trusts that must survive every stage (secure aggregation); default a strict majority.
    pub fn threshold(mut self, threshold: usize) -> FederatedJob {
        self.threshold = Some(threshold);
        self
    }

    /// As [`FederatedJob::threshold`], when optional (`None`: a strict majority).
    pub fn threshold_opt(mut self, threshold: Option<usize>) -> FederatedJob {
        self.threshold = threshold;
        self
    }

    /// As [`FederatedJob::max_trusts_per_person`], when optional (`None`: 1, announced).
    pub fn max_trusts_per_person_opt(mut self, t: Option<u32>) -> FederatedJob {
        self.max_trusts_per_person = t;
        self
    }

    /// As [`FederatedJob::max_count`], when optional (`None`: 2^20 - 1).
    pub fn max_count_opt(mut self, max_count: Option<u64>) -> FederatedJob {
        if let Some(m) = max_count {
            self.max_count = m;
        }
        self
    }

    /// Trusts that may collude with the aggregator (their noise shares do not count).
    pub fn colluders(mut self, colluders: usize) -> FederatedJob {
        self.colluders = colluders;
        self
    }

    /// Rows per person kept at each trust (with a person id).
    pub fn max_rows_per_person(mut self, m: u32) -> FederatedJob {
        self.max_rows_per_person = m;
        self
    }

    /// Trusts one person may attend (public, declared): the sensitivity scales with it.
    pub fn max_trusts_per_person(mut self, t: u32) -> FederatedJob {
        self.max_trusts_per_person = Some(t);
        self
    }

    /// Prio3's per-trust bound on one cell.
    pub fn max_count(mut self, max_count: u64) -> FederatedJob {
        self.max_count = max_count;
        self
    }

    /// Significance level of the accuracy statement.
    pub fn alpha(mut self, alpha: f64) -> FederatedJob {
        self.alpha = alpha;
        self
    }

    /// Seed of each trust's choice of kept rows (data processing, not noise).
    pub fn seed(mut self, seed: u64) -> FederatedJob {
        self.seed = seed;
        self
    }

    /// The job's query (`None` for a declared vector).
    pub fn query(&self) -> Option<&FederatedQuery> {
        match &self.work {
            RoundVector::Query(q) => Some(q),
            RoundVector::Declared(_) => None,
        }
    }

    /// What the round sums.
    pub fn work(&self) -> &RoundVector {
        &self.work
    }

    /// The label of the release.
    pub fn label(&self) -> String {
        self.work.label()
    }

    /// The protocol.
    pub fn protocol_kind(&self) -> Protocol {
        self.protocol
    }

    /// Rows per person each trust keeps.
    pub fn rows_per_person(&self) -> u32 {
        self.max_rows_per_person
    }

    /// The seed of each trust's choice of kept rows.
    pub fn row_seed(&self) -> u64 {
        self.seed
    }

    /// Check the options against `session` and the trusts' names (distinct, 2 to
    /// [`MAX_PARTIES`]): the share in rho, the threshold for this many trusts.
    /// Returns the plan's inputs; nothing is charged.
    pub fn check_trusts(&self, session: &Session, names: &[&str]) -> Result<CheckedJob> {
        let (rho, threshold, warnings) = self.check(session, names)?;
        Ok(CheckedJob {
            rho,
            threshold,
            warnings,
        })
    }

    /// Refuse a trust whose declared schema gives the query's columns other domains than the
    /// job's (`fingerprint` is the job's, [`FederatedQuery::fingerprint`]).
    pub fn check_trust_schema(&self, fingerprint: &str, trust: &str, theirs: &str) -> Result<()> {
        if theirs != fingerprint {
            return Err(FederatedError::Trust {
                trust: trust.to_string(),
                reason: format!(
                    "its schema declares the columns of {} differently from the job's \
                     (fingerprint {theirs}, the job's is {fingerprint}), so its cells would \
                     not line up; use the job's schema",
                    self.work.label()
                ),
            });
        }
        Ok(())
    }

    fn check(&self, session: &Session, names: &[&str]) -> Result<(f64, usize, Vec<Warning>)> {
        self.work.check(self.protocol)?;
        let n = names.len();
        if !(2..=MAX_PARTIES).contains(&n) {
            return Err(FederatedError::invalid(
                "trusts",
                n,
                format!("a federated round needs 2 to {MAX_PARTIES} trusts"),
            ));
        }
        let mut seen = BTreeSet::new();
        for &t in names {
            if t.is_empty() || !seen.insert(t) {
                return Err(FederatedError::invalid(
                    "trust name",
                    format!("{t:?}"),
                    "every trust needs a distinct, non-empty name",
                ));
            }
        }
        if self.max_count == 0 {
            return Err(FederatedError::invalid(
                "max_count",
                0,
                "at least 1 (the most any one trust may report in a cell; a public bound)",
            ));
        }
        if self.max_rows_per_person == 0 {
            return Err(FederatedError::invalid(
                "max_rows_per_person",
                0,
                "at least 1",
            ));
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(FederatedError::invalid(
                "alpha",
                self.alpha,
                "strictly between 0 and 1",
            ));
        }
        let share = self.share.unwrap_or_else(|| session.remaining());
        let rho = match share {
            Cost::Zcdp { rho, delta: 0.0 } => rho,
            other => {
                return Err(FederatedError::invalid(
                    "share",
                    format!("{other:?}"),
                    "federated releases add discrete Gaussian noise: give the share as rho \
                     (zCDP), e.g. --rho 0.1",
                ));
            }
        };
        session.check_share(&self.work.label(), &share)?;
        let threshold = match self.protocol {
            Protocol::SecAgg => {
                let t = self.threshold.unwrap_or(n / 2 + 1);
                SecAggConfig {
                    round: RoundId([0; 16]),
                    threshold: t,
                    vector_len: 1,
                }
                .check(n)?;
                if self.colluders >= t {
                    return Err(FederatedError::invalid(
                        "colluders",
                        self.colluders,
                        format!("fewer than the threshold {t}: some honest noise must remain"),
                    ));
                }
                t
            }
            Protocol::Prio3 => {
                if self.threshold.is_some() || self.colluders > 0 {
                    return Err(FederatedError::invalid(
                        "threshold/colluders",
                        "set",
                        "they belong to secure aggregation; Prio3 trusts one of its two \
                         aggregators and counts every valid report that arrives",
                    ));
                }
                0
            }
        };
        let mut warnings = Vec::new();
        if self.max_trusts_per_person.is_none() {
            warnings.push(Warning::new(
                WarningKind::Note,
                "the guarantee assumes each person attends at most 1 of these trusts \
                 (max_trusts_per_person = 1); patients who attend several trusts need the \
                 declared bound, which multiplies the sensitivity",
            ));
        }
        if self.max_trusts_per_person == Some(0) {
            return Err(FederatedError::invalid(
                "max_trusts_per_person",
                0,
                "at least 1",
            ));
        }
        Ok((rho, threshold, warnings))
    }

    /// Run the job over `trusts` (each keeps its table; only the protocol's messages move),
    /// charging `session`.
    pub fn run(
        &self,
        session: &mut Session,
        schema: &Schema,
        trusts: &[TrustInput],
    ) -> Result<FederatedRelease> {
        let RoundVector::Query(query) = &self.work else {
            return Err(FederatedError::invalid(
                "job",
                self.work.label(),
                "a declared vector is computed by the trusts: run it with run_vectors",
            ));
        };
        let names: Vec<&str> = trusts.iter().map(|t| t.name.as_str()).collect();
        let checked = self.check_trusts(session, &names)?;
        let fingerprint = query.fingerprint(schema)?;
        for t in trusts {
            if let Some(s) = &t.schema {
                self.check_trust_schema(&fingerprint, &t.name, &query.fingerprint(s)?)?;
            }
        }
        let started = Instant::now();
        let locals = local_aggregates(self, query, schema, trusts)?;
        let local_seconds = started.elapsed().as_secs_f64();
        self.run_round(session, checked, trusts, &locals, local_seconds)
    }

    /// Run a round over vectors the trusts computed themselves ([`FederatedJob::for_vector`];
    /// `locals[i]` is `trusts[i]`'s, never leaving it in the clear: the round adds its noise
    /// share and masks or secret-shares it): the checks of [`FederatedJob::run`], every
    /// vector against the declared layout, then the same charge, protocol and release.
    /// The release's [`FederatedRelease::sums`] holds the noisy summed vector.
    pub fn run_vectors(
        &self,
        session: &mut Session,
        trusts: &[TrustInput],
        locals: &[LocalAggregate],
    ) -> Result<FederatedRelease> {
        let RoundVector::Declared(spec) = &self.work else {
            return Err(FederatedError::invalid(
                "job",
                self.work.label(),
                "a query's vectors are computed by the round: run it with run",
            ));
        };
        let names: Vec<&str> = trusts.iter().map(|t| t.name.as_str()).collect();
        let checked = self.check_trusts(session, &names)?;
        if locals.len() != trusts.len() {
            return Err(FederatedError::invalid(
                "vectors",
                locals.len(),
                format!("one per trust ({} trusts)", trusts.len()),
            ));
        }
        for (t, l) in trusts.iter().zip(locals) {
            spec.check_vector(&t.name, &l.layout, &l.values)?;
        }
        self.run_round(session, checked, trusts, locals, 0.0)
    }

    /// The steps every round shares once the trusts' vectors exist: declarations, plan and
    /// charge, the protocol, the release.
    fn run_round(
        &self,
        session: &mut Session,
        checked: CheckedJob,
        trusts: &[TrustInput],
        locals: &[LocalAggregate],
        local_seconds: f64,
    ) -> Result<FederatedRelease> {
        let declared: Vec<TrustDeclaration> = trusts
            .iter()
            .zip(locals)
            .map(|(t, l)| TrustDeclaration {
                name: t.name.clone(),
                unit: l.unit,
                person_id: t.person_id.clone(),
                warnings: l.warnings.clone(),
            })
            .collect();
        let charged =
            self.plan_and_charge(session, checked, &declared, locals[0].layout.clone())?;
        let started = Instant::now();
        let (sums, mut round) = match &charged.noise {
            RoundNoise::Distributed(plan) => {
                run_secagg(trusts, locals, Some(plan), charged.threshold)?
            }
            RoundNoise::PerAggregator(dg) => run_prio(trusts, locals, Some(dg), self.max_count)?,
        };
        round.local_seconds = local_seconds;
        round.protocol_seconds = started.elapsed().as_secs_f64();
        Ok(charged.release(&sums, round))
    }

    /// Plan the noise for the trusts that take part and charge it: the persistent budget
    /// file (if any), then `session`. Every front door calls this after the trusts declared
    /// themselves (their privacy unit and reading warnings; no data) and before any party
    /// draws noise: the simulation in [`FederatedJob::run`], the network aggregator when a
    /// round's join stage closes.
    pub fn plan_and_charge(
        &self,
        session: &mut Session,
        checked: CheckedJob,
        trusts: &[TrustDeclaration],
        layout: Vec<TableLayout>,
    ) -> Result<ChargedRound> {
        let Planned {
            threshold,
            noise,
            noise_report,
            accuracy,
            cost,
            contribution,
            warnings,
            layout,
            cells,
            variance,
            info,
            record,
        } = self.plan(checked, trusts, layout)?;
        // Every data-dependent check is done: charge the persistent file (if any), then the
        // session, and only then may any party draw its noise.
        let budget_receipt = match &self.budget_file {
            Some((path, record)) => Some(
                BudgetStore::open(path)
                    .and_then(|store| store.charge(&cost, record))
                    .map_err(crate::dp::DpError::from)?,
            ),
            None => None,
        };
        let ledger_index =
            session.charge_distributed(info, cost, Some(accuracy.clone()), record)?;

        Ok(ChargedRound {
            query: self.work.label(),
            threshold,
            noise,
            noise_report,
            accuracy,
            cost,
            ledger_index,
            contribution,
            budget_receipt,
            warnings,
            layout,
            cells,
            alpha: self.alpha,
            variance,
            declared: matches!(self.work, RoundVector::Declared(_)),
        })
    }

    /// The noise each party of this round draws, planned exactly as
    /// [`FederatedJob::plan_and_charge`] plans it but charging nothing: for Prio3's second
    /// aggregator, which calibrates its own noise from the public job and the trusts'
    /// declarations rather than take the leader's word for it (the leader charges the
    /// budget, once).
    pub fn plan_noise(
        &self,
        checked: CheckedJob,
        trusts: &[TrustDeclaration],
        layout: Vec<TableLayout>,
    ) -> Result<RoundNoise> {
        Ok(self.plan(checked, trusts, layout)?.noise)
    }

    fn plan(
        &self,
        checked: CheckedJob,
        trusts: &[TrustDeclaration],
        layout: Vec<TableLayout>,
    ) -> Result<Planned> {
        let CheckedJob {
            rho,
            threshold,
            mut warnings,
        } = checked;
        self.work.check_layout(&layout)?;
        let cells: usize = layout.iter().map(TableLayout::cells).sum();
        if cells == 0 {
            return Err(FederatedError::invalid(
                "query",
                self.work.label(),
                "no cells",
            ));
        }
        let row_level = trusts.iter().any(|t| t.unit == PrivacyUnit::Row);
        // One warning per distinct message, naming the trusts it is about.
        let mut by_message: Vec<(Warning, Vec<&str>)> = Vec::new();
        for t in trusts {
            for w in &t.warnings {
                match by_message.iter_mut().find(|(x, _)| x == w) {
                    Some((_, names)) => names.push(&t.name),
                    None => by_message.push((w.clone(), vec![&t.name])),
                }
            }
        }
        for (mut w, names) in by_message {
            let who = if names.len() == trusts.len() {
                "every trust".to_string()
            } else {
                names.join(", ")
            };
            w.message = format!("{who}: {}", w.message);
            warnings.push(w);
        }
        // A person contributes at most `m` rows at a trust that bounds by person id and one
        // "person" (row) at a trust without one: the sensitivity takes the larger whenever
        // any trust bounds by person (a mixed federation must not be charged at m = 1).
        let any_person_level = trusts.iter().any(|t| t.unit == PrivacyUnit::Person);
        let m = if any_person_level {
            self.max_rows_per_person
        } else {
            1
        };
        let contribution = if row_level {
            let mut c = Contribution::row_level(
                "a trust gave no person-id column: each of its rows is treated as a different person",
            );
            c.max_rows_per_person = m;
            c
        } else {
            Contribution {
                unit: PrivacyUnit::Person,
                id_column: trusts[0].person_id.clone(),
                max_rows_per_person: m,
                note: None,
            }
        };
        let t_per_person = self.max_trusts_per_person.unwrap_or(1);
        let l2_squared = self.work.l2_squared(m, t_per_person);
        let n = trusts.len();
        // The sub-Gaussian variance proxy of one cell's noise (per-table half-widths).
        let variance;
        // Plan the noise and charge before any party draws.
        let (noise, cost, accuracy) = match self.protocol {
            Protocol::SecAgg => {
                let plan = DistributedNoise::for_rho(
                    rho,
                    threshold - self.colluders,
                    n,
                    l2_squared,
                    cells,
                )?;
                let report = NoiseReport {
                    mechanism: "distributed_discrete_gaussian".into(),
                    share_scale: plan.share_scale,
                    min_shares: plan.min_shares,
                    max_shares: plan.max_shares,
                    total_scale: plan.total_scale(),
                    over_provision: plan.over_provision(),
                    l2_squared,
                };
                let statement = if self.work.plain_counts() {
                    format!(
                        "each cell is within the half-width of the sum of the trusts' bounded \
                         counts with probability at least {} (sub-Gaussian bound on the sum of \
                         up to {n} discrete Gaussian shares)",
                        1.0 - self.alpha
                    )
                } else if let RoundVector::Declared(v) = &self.work {
                    format!(
                        "each cell of the summed vector {}, in its integer units (each table's \
                         cells weighted by its weight), is within the half-width of the trusts' \
                         total with probability at least {} (sub-Gaussian bound on the sum of up \
                         to {n} discrete Gaussian shares)",
                        v.label,
                        1.0 - self.alpha
                    )
                } else {
                    format!(
                        "each cell of the summed vector, in its integer units (counts weighted \
                         by 2^20, sums in grid units), is within the half-width of the trusts' \
                         bounded, clamped and rounded total with probability at least {} \
                         (sub-Gaussian bound on the sum of up to {n} discrete Gaussian shares); \
                         each table gives its half-widths in its own units",
                        1.0 - self.alpha
                    )
                };
                let accuracy = Accuracy {
                    alpha: self.alpha,
                    half_width: plan.half_width(self.alpha),
                    statement,
                };
                let cost = Cost::rho(plan.rho());
                variance = plan.max_shares as f64 * plan.share_scale.powi(2);
                (RoundNoise::Distributed(plan), cost, (report, accuracy))
            }
            Protocol::Prio3 => {
                let dg = DiscreteGaussian::for_rho(l2_squared.sqrt(), rho)?;
                let cost = dg.rho()?;
                let s = dg.scale();
                // Two independent discrete Gaussians of scale s: sqrt(2) s-sub-Gaussian.
                let half = (2.0 * 2.0 * s * s * (2.0 / self.alpha).ln()).sqrt();
                variance = 2.0 * s * s;
                let report = NoiseReport {
                    mechanism: "discrete_gaussian_per_aggregator".into(),
                    share_scale: s,
                    min_shares: 1,
                    max_shares: 2,
                    total_scale: s * 2f64.sqrt(),
                    over_provision: 2.0,
                    l2_squared,
                };
                let accuracy = Accuracy {
                    alpha: self.alpha,
                    half_width: half,
                    statement: format!(
                        "each cell is within the half-width of the sum of the valid reports with \
                         probability at least {} (two discrete Gaussian draws, one per aggregator)",
                        1.0 - self.alpha
                    ),
                };
                (
                    RoundNoise::PerAggregator(dg),
                    Cost::rho(cost),
                    (report, accuracy),
                )
            }
        };
        let (noise_report, accuracy) = accuracy;
        let mut record =
            QueryRecord::new(self.work.label(), self.work.columns(), contribution.clone());
        record.warnings = warnings.iter().map(|w| w.message.clone()).collect();
        let info = MechanismInfo {
            name: noise_report.mechanism.clone(),
            noise: Some(NoiseKind::DiscreteGaussian),
            scale: noise_report.share_scale,
            sensitivity: Sensitivity::new("l2", l2_squared.sqrt()),
            reference: match self.protocol {
                Protocol::SecAgg => "Kairouz, Liu & Steinke 2021 (distributed discrete Gaussian); Bonawitz et al. 2017 (secure aggregation)",
                Protocol::Prio3 => "Canonne, Kamath & Steinke 2020; Corrigan-Gibbs & Boneh 2017 (Prio), IETF VDAF Prio3SumVec",
            }
            .into(),
        };
        Ok(Planned {
            threshold,
            noise,
            noise_report,
            accuracy,
            cost,
            contribution,
            warnings,
            layout,
            cells,
            variance,
            info,
            record,
        })
    }
}

/// A round's plan before it is charged ([`FederatedJob::plan_and_charge`] charges it).
struct Planned {
    threshold: usize,
    noise: RoundNoise,
    noise_report: NoiseReport,
    accuracy: Accuracy,
    cost: Cost,
    contribution: Contribution,
    warnings: Vec<Warning>,
    layout: Vec<TableLayout>,
    cells: usize,
    variance: f64,
    info: MechanismInfo,
    record: QueryRecord,
}

/// A job checked against the session and the trusts' names ([`FederatedJob::check_trusts`]).
#[derive(Debug, Clone)]
pub struct CheckedJob {
    rho: f64,
    threshold: usize,
    warnings: Vec<Warning>,
}

impl CheckedJob {
    /// The survival threshold (secure aggregation; 0 for Prio3).
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// The warnings of the check (an undeclared trusts-per-person bound).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}

/// What a trust declares before the noise is planned: its privacy unit and the warnings of
/// reading its table. No count, no row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrustDeclaration {
    /// The trust.
    pub name: String,
    /// `person` when it cut each person's rows by a person-id column, `row` otherwise.
    pub unit: PrivacyUnit,
    /// Its person-id column, if any.
    pub person_id: Option<String>,
    /// Warnings of reading its table.
    pub warnings: Vec<Warning>,
}

/// The noise a charged round adds.
#[derive(Debug, Clone)]
pub enum RoundNoise {
    /// Each trust adds its share of distributed discrete Gaussian noise (secure aggregation).
    Distributed(DistributedNoise),
    /// Each of the two aggregators adds a full-scale discrete Gaussian (Prio3).
    PerAggregator(DiscreteGaussian),
}

/// A round planned and paid for ([`FederatedJob::plan_and_charge`]): its noise may now be
/// drawn, and its sums become a [`FederatedRelease`].
#[derive(Debug, Clone)]
pub struct ChargedRound {
    query: String,
    /// The survival threshold (secure aggregation).
    pub threshold: usize,
    /// The noise every party draws.
    pub noise: RoundNoise,
    noise_report: NoiseReport,
    accuracy: Accuracy,
    cost: Cost,
    ledger_index: usize,
    contribution: Contribution,
    budget_receipt: Option<ChargeReceipt>,
    warnings: Vec<Warning>,
    layout: Vec<TableLayout>,
    /// Cells in the summed vector.
    pub cells: usize,
    alpha: f64,
    variance: f64,
    /// Whether the round sums a declared vector (its release then carries the sums).
    declared: bool,
}

impl ChargedRound {
    /// What was charged.
    pub fn cost(&self) -> Cost {
        self.cost
    }

    /// The release of the round's (noisy) sums, cell by cell in the layout's order.
    pub fn release(self, sums: &[i64], round: RoundReport) -> FederatedRelease {
        self.pending(round).finish(sums)
    }

    /// Everything of the release but the sums, for a collector who adds the aggregate
    /// shares itself (Prio3 over the network: the leader hands this to the submitter, who
    /// combines the two aggregators' noisy shares and calls [`PendingRelease::finish`]).
    /// It carries no noise plan: nothing can be drawn from it.
    pub fn pending(self, mut round: RoundReport) -> PendingRelease {
        round.cells = self.cells;
        round.plaintext_bytes = 8 * self.cells * round.counted.len();
        PendingRelease {
            query: self.query,
            noise: self.noise_report,
            accuracy: self.accuracy,
            cost: self.cost,
            ledger_index: self.ledger_index,
            contribution: self.contribution,
            budget_receipt: self.budget_receipt,
            warnings: self.warnings,
            layout: self.layout,
            cells: self.cells,
            alpha: self.alpha,
            variance: self.variance,
            declared: self.declared,
            round,
        }
    }
}

/// A charged round's release without its sums ([`ChargedRound::pending`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingRelease {
    query: String,
    noise: NoiseReport,
    accuracy: Accuracy,
    cost: Cost,
    ledger_index: usize,
    contribution: Contribution,
    budget_receipt: Option<ChargeReceipt>,
    warnings: Vec<Warning>,
    layout: Vec<TableLayout>,
    /// Cells in the summed vector.
    pub cells: usize,
    alpha: f64,
    variance: f64,
    /// Whether the round sums a declared vector: its release carries the noisy sums
    /// ([`FederatedRelease::sums`]), wherever it is finished (in this process, at the
    /// network aggregator, or at a Prio3 collector).
    #[serde(default)]
    declared: bool,
    /// The round's report so far.
    pub round: RoundReport,
}

impl PendingRelease {
    /// The release of the round's noisy sums, cell by cell in the layout's order.
    pub fn finish(self, sums: &[i64]) -> FederatedRelease {
        let half_width = |alpha: f64| (2.0 * self.variance * (2.0 / alpha).ln()).sqrt();
        let (full, half) = (half_width(self.alpha), half_width(self.alpha / 2.0));
        let mut tables = split_tables(&self.layout, sums);
        for (t, l) in tables.iter_mut().zip(&self.layout) {
            if l.weight > 1 {
                t.half_width = Some(full / l.weight as f64);
            }
            if let (Some(v), Some(cells)) = (&l.value, t.value.as_mut()) {
                let r = v.resolution();
                cells.sum_half_width = full * r;
                if v.statistic == ValueStatistic::Mean {
                    // Both parts at 1 - alpha/2: the interval holds at 1 - alpha (union bound);
                    // the released counts are rounded to integers (+ 1/2).
                    let (hs, hc) = (half * r, half / l.weight as f64 + 0.5);
                    cells.mean_intervals = t
                        .counts
                        .iter()
                        .zip(&cells.sums)
                        .map(|(&c, &s)| {
                            ratio_interval(s, hs, c as f64, hc, v.lower, v.upper, r / 2.0)
                        })
                        .collect();
                    if v.condition.is_some() {
                        // A rate: compare every cell with the pooled rate (post-processing
                        // of the figures just released).
                        // Peer groups: the cells sharing all but the last dimension.
                        let group = t.shape.last().copied().unwrap_or(1);
                        cells.comparison = Some(compare_rates(
                            RateCells {
                                counts: &t.counts,
                                sums: &cells.sums,
                                intervals: &cells.mean_intervals,
                                count_half_width: half / l.weight as f64,
                                sum_half_width: hs,
                                resolution: r,
                            },
                            group,
                        ));
                    }
                }
            }
        }
        FederatedRelease {
            query: self.query,
            tables,
            accuracy: self.accuracy,
            noise: self.noise,
            cost: self.cost,
            ledger_index: self.ledger_index,
            contribution: self.contribution,
            round: self.round,
            budget_receipt: self.budget_receipt,
            warnings: self.warnings,
            sums: if self.declared {
                sums.to_vec()
            } else {
                Vec::new()
            },
        }
    }
}

/// The tables of a summed vector, cut by the layout (every front door renders these):
/// weighted counts divided by their weight (rounded), sums scaled back to the column's
/// units, means as sum over count. Post-processing only; half-widths and intervals are
/// added by [`ChargedRound::release`].
pub fn split_tables(layout: &[TableLayout], sums: &[i64]) -> Vec<FederatedTable> {
    let mut out = Vec::with_capacity(layout.len());
    let mut at = 0;
    let unweight = |cells: &[i64], w: u64| -> Vec<i64> {
        if w <= 1 {
            cells.to_vec()
        } else {
            cells
                .iter()
                .map(|&c| (c as f64 / w as f64).round() as i64)
                .collect()
        }
    };
    for l in layout {
        let n: usize = l.shape.iter().product();
        let (counts, value) = match &l.value {
            None => (unweight(&sums[at..at + n], l.weight), None),
            Some(v) => {
                let r = v.resolution();
                let (counts, part) = match v.statistic {
                    ValueStatistic::Sum => (Vec::new(), &sums[at..at + n]),
                    ValueStatistic::Mean => (
                        unweight(&sums[at..at + n], l.weight),
                        &sums[at + n..at + 2 * n],
                    ),
                };
                let values: Vec<f64> = part.iter().map(|&u| u as f64 * r).collect();
                let means = match v.statistic {
                    ValueStatistic::Sum => Vec::new(),
                    ValueStatistic::Mean => sums[at..at + n]
                        .iter()
                        .zip(&values)
                        .map(|(&c, &s)| {
                            let c = c as f64 / l.weight as f64;
                            (c >= 1.0).then(|| (s / c).clamp(v.lower, v.upper))
                        })
                        .collect(),
                };
                (
                    counts,
                    Some(ValueCells {
                        statistic: v.statistic,
                        column: v.column.clone(),
                        lower: v.lower,
                        upper: v.upper,
                        resolution: r,
                        sums: values,
                        sum_half_width: 0.0,
                        means,
                        mean_intervals: Vec::new(),
                        condition: v.condition.as_ref().map(|c| c.label()),
                        comparison: None,
                    }),
                )
            }
        };
        out.push(FederatedTable {
            dimensions: l.dimensions.clone(),
            labels: l.labels.clone(),
            shape: l.shape.clone(),
            counts,
            half_width: None,
            value,
        });
        at += l.cells();
    }
    out
}

fn empty_round(protocol: Protocol, round: RoundId, trusts: usize) -> RoundReport {
    RoundReport::new(protocol, round, trusts)
}

impl RoundReport {
    /// The report of a round that has not started: nothing counted, no bytes.
    pub fn new(protocol: Protocol, round: RoundId, trusts: usize) -> RoundReport {
        RoundReport {
            protocol,
            round: round.to_string(),
            trusts,
            counted: Vec::new(),
            dropped: Vec::new(),
            refused: Vec::new(),
            threshold: None,
            cells: 0,
            bytes_from_trusts: 0,
            bytes_to_trusts: 0,
            bytes_between_aggregators: 0,
            plaintext_bytes: 0,
            local_seconds: 0.0,
            protocol_seconds: 0.0,
        }
    }
}

/// Send `msg` over the wire (encode, count, size-check, decode), as the network would.
fn hop<T: Serialize + serde::de::DeserializeOwned>(
    msg: &T,
    limit: usize,
    party: &str,
    what: &str,
    bytes: &mut usize,
) -> Result<T> {
    let wire = to_wire(msg)?;
    *bytes += wire.len();
    from_wire(&wire, limit, party, what)
}

/// Every trust's local aggregate (each on its own machine in a real deployment).
pub(crate) fn local_aggregates(
    job: &FederatedJob,
    query: &FederatedQuery,
    schema: &Schema,
    trusts: &[TrustInput],
) -> Result<Vec<LocalAggregate>> {
    trusts
        .iter()
        .map(|t| {
            local_aggregate(
                &t.name,
                &t.source,
                t.schema.as_ref().unwrap_or(schema),
                t.person_id.as_deref(),
                job.max_rows_per_person,
                job.seed,
                query,
            )
        })
        .collect()
}

/// A trust's input to secure aggregation: its counts plus its own share of the noise (drawn
/// here, so only after the round was charged), in the ring. `plan` is `None` only where the
/// exact sum is asked for on purpose (tests of the noiseless sum).
pub fn noisy_input(
    values: &[i64],
    plan: Option<&DistributedNoise>,
    trust: &str,
) -> Result<Vec<u64>> {
    let noise = match plan {
        Some(p) => p.sample_share(values.len())?,
        None => vec![0; values.len()],
    };
    let noisy: Vec<i64> = values
        .iter()
        .zip(&noise)
        .map(|(&v, &e)| v.saturating_add(e.clamp(-ring::MAX_ABS_INPUT, ring::MAX_ABS_INPUT)))
        .collect();
    ring::encode(&noisy, trust)
}

/// One secure-aggregation round; `plan` is `None` only in tests of the noiseless sum.
pub(crate) fn run_secagg(
    trusts: &[TrustInput],
    locals: &[LocalAggregate],
    plan: Option<&DistributedNoise>,
    threshold: usize,
) -> Result<(Vec<i64>, RoundReport)> {
    let cells = locals[0].values.len();
    let config = SecAggConfig {
        round: RoundId::random(),
        threshold,
        vector_len: cells,
    };
    config.check(trusts.len())?;
    let limit = message_limit(cells, trusts.len());
    let mut report = empty_round(Protocol::SecAgg, config.round, trusts.len());
    report.threshold = Some(threshold);
    let mut server = SecAggServer::new(config.clone());
    let mut clients: Vec<(usize, SecAggClient)> = Vec::new();
    let name = |i: usize| trusts[i].name.as_str();
    let drops = |i: usize, p: DropPoint| trusts[i].drop_at == Some(p);
    for (i, local) in locals.iter().enumerate() {
        let input = noisy_input(&local.values, plan, name(i))?;
        let (client, adv) = SecAggClient::new(config.clone(), i as u32 + 1, input)?;
        if drops(i, DropPoint::BeforeKeys) {
            report
                .dropped
                .push((name(i).to_string(), DropPoint::BeforeKeys));
            continue;
        }
        let adv: AdvertiseKeys = hop(&adv, limit, name(i), "keys", &mut report.bytes_from_trusts)?;
        match server.receive_keys(adv) {
            Ok(()) => clients.push((i, client)),
            Err(e) => report.refused.push(e.to_string()),
        }
    }
    let roster = server.roster()?;
    for (i, c) in clients.iter_mut() {
        let roster: Roster = hop(
            &roster,
            limit,
            "aggregator",
            "roster",
            &mut report.bytes_to_trusts,
        )?;
        let msg = c.share_keys(&roster)?;
        if drops(*i, DropPoint::BeforeShares) {
            report
                .dropped
                .push((name(*i).to_string(), DropPoint::BeforeShares));
            continue;
        }
        let msg: ShareKeys = hop(
            &msg,
            limit,
            name(*i),
            "shares",
            &mut report.bytes_from_trusts,
        )?;
        if let Err(e) = server.receive_shares(msg) {
            report.refused.push(e.to_string());
        }
    }
    let inboxes = server.inboxes()?;
    for (i, c) in clients.iter_mut() {
        let Some(inbox) = inboxes.get(&c.party()) else {
            continue;
        };
        let inbox: Inbox = hop(
            inbox,
            limit,
            "aggregator",
            "inbox",
            &mut report.bytes_to_trusts,
        )?;
        let msg = c.masked_input(&inbox)?;
        if drops(*i, DropPoint::BeforeMasked) {
            report
                .dropped
                .push((name(*i).to_string(), DropPoint::BeforeMasked));
            continue;
        }
        let msg: MaskedInput = hop(
            &msg,
            limit,
            name(*i),
            "masked input",
            &mut report.bytes_from_trusts,
        )?;
        if let Err(e) = server.receive_masked(msg) {
            report.refused.push(e.to_string());
        }
    }
    let survivors = server.survivors()?;
    for (i, c) in clients.iter_mut() {
        if !survivors.parties.contains(&c.party()) {
            continue;
        }
        let s: Survivors = hop(
            &survivors,
            limit,
            "aggregator",
            "survivors",
            &mut report.bytes_to_trusts,
        )?;
        let msg = c.unmask(&s)?;
        if drops(*i, DropPoint::BeforeUnmask) {
            report
                .dropped
                .push((name(*i).to_string(), DropPoint::BeforeUnmask));
            continue;
        }
        let msg: UnmaskShares = hop(
            &msg,
            limit,
            name(*i),
            "unmask shares",
            &mut report.bytes_from_trusts,
        )?;
        if let Err(e) = server.receive_unmask(msg) {
            report.refused.push(e.to_string());
        }
    }
    let (sum, counted) = server.finish()?;
    report.counted = counted
        .iter()
        .map(|&p| trusts[p as usize - 1].name.clone())
        .collect();
    Ok((ring::decode(&sum), report))
}

/// One Prio3 round; `dg` is `None` only in tests of the noiseless sum.
pub(crate) fn run_prio(
    trusts: &[TrustInput],
    locals: &[LocalAggregate],
    dg: Option<&DiscreteGaussian>,
    max_count: u64,
) -> Result<(Vec<i64>, RoundReport)> {
    let cells = locals[0].values.len();
    let round = RoundId::random();
    let task = PrioTask::new(round, cells, max_count)?;
    let mut report = empty_round(Protocol::Prio3, round, trusts.len());
    let key = crate::federated::secagg::keys::random_bytes();
    let mut leader = PrioAggregator::new(task.clone(), 0, key);
    let mut helper = PrioAggregator::new(task.clone(), 1, key);
    for (t, local) in trusts.iter().zip(locals) {
        if let Some(point) = t.drop_at {
            report.dropped.push((t.name.clone(), point));
            continue;
        }
        let counts = prio::report_counts(&t.name, &local.values)?;
        let upload = task.upload(&t.name, &counts)?;
        report.bytes_from_trusts += upload.bytes();
        match prio::verify_report(&mut leader, &mut helper, &t.name, &upload) {
            Ok(b) => {
                report.bytes_between_aggregators += b;
                report.counted.push(t.name.clone());
            }
            Err(e) => report.refused.push(e.to_string()),
        }
    }
    if report.counted.is_empty() {
        return Err(FederatedError::Aborted {
            round: round.to_string(),
            stage: "upload".into(),
            reason: "no valid report arrived".into(),
        });
    }
    // Each aggregator adds its own full-scale noise (the release stays private if either
    // is honest), drawn from OpenDP's sampler after the budget was charged.
    if let Some(dg) = dg {
        leader.add_noise_from(dg)?;
        helper.add_noise_from(dg)?;
    }
    let (l, h) = (leader.aggregate_share()?, helper.aggregate_share()?);
    report.bytes_between_aggregators += l.len() + h.len();
    let sums = prio::collect(&task, &l, &h, leader.accepted())?;
    Ok((sums, report))
}

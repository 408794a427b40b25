//! The service's messages. Protocol messages are the core's own
//! ([`pets::federated::secagg`]); this module adds the job, the announcement, the join and
//! the envelope that carries every POST. All travel in the core's versioned wire format
//! ([`pets::federated::wire`]: a version byte, then postcard, size-checked before decoding).
//!
//! | request | from | body | answer |
//! |---|---|---|---|
//! | `POST /v1/jobs` | submitter | [`Envelope`]`<`[`JobSubmission`]`>` | [`JobAccepted`]; 409 replayed or outside the job window |
//! | `GET /v1/jobs/{id}` | submitter | | 202 running, 200 the release (JSON), 422 aborted |
//! | `GET /v1/round` | trust | | 204 none, 200 [`Announcement`] |
//! | `POST /v1/rounds/{id}/join` | trust | [`Envelope`]`<`[`Join`]`>` | 200, 422 refused (schema) |
//! | `GET /v1/rounds/{id}/plan` | trust | | 202 wait, 200 [`RoundPlan`] |
//! | `POST /v1/rounds/{id}/keys`, `shares`, `masked`, `unmask` | trust | [`Envelope`] of the secagg message | 200, 409 replay/late, 422 refused |
//! | `GET /v1/rounds/{id}/roster`, `inbox`, `survivors` | trust | | 202 wait, 200 the secagg message |
//! | `POST /v1/rounds/{id}/report` | trust, to the leader and to the helper | [`Envelope`]`<`[`ReportShare`]`>` (Prio3) | 200, 409 replay/second report |
//! | `GET /v1/jobs/{id}/share` | submitter, to the leader and to the helper | | 202 wait, 200 [`Collection`] (Prio3) |
//! | `POST /v1/prio/{id}/task` | leader, to the helper | [`Envelope`]`<`[`HelperTask`]`>` | 200, 422 refused |
//! | `POST /v1/prio/{id}/verify` | leader, to the helper | [`Envelope`]`<`[`VerifyInit`]`>` | 200 [`VerifyResp`] |
//!
//! **Replay.** Every POST carries the round id and a fresh 16-byte nonce; the aggregator
//! refuses a nonce it has seen in the round and a message for another round (or for a round
//! that has ended: a round's nonces are kept while it runs and dropped with it, since
//! nothing for an ended round is accepted), and the secure-aggregation state machine
//! refuses a second message of a kind from one party. A job submission, bound to no round,
//! carries its submitter's time ([`JobSubmission`]): one stamped outside the aggregator's
//! job window is refused, and within it a nonce seen before (the aggregator keeps the
//! window's nonces in its state file) is a replay. Across a restart ([`crate::state`]): a
//! round id of an earlier epoch is stale (410), a job nonce seen before is a replay (409),
//! and a helper refuses a task for a round not newer than its last (409).

use std::path::PathBuf;

use pets::dp::{ChargeRecord, Cost};
use pets::federated::aggregate::TableLayout;
use pets::federated::noise::DistributedNoise;
use pets::federated::secagg::{RoundId, SecAggConfig};
use pets::federated::train::TrainRoundWork;
use pets::federated::{
    FederatedError, FederatedJob, FederatedQuery, Protocol, TrustDeclaration, VectorSpec,
    columns_fingerprint,
};
use pets_synth::federated::FitRoundWork;
use serde::{Deserialize, Serialize};

pub use pets::federated::prio::ReportShare;

/// The API's version, in every path (`/v1/...`); the wire format has its own version byte.
pub const API: &str = "v1";

/// A message with the round it is for and a fresh nonce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The round (all zeros for a job submission).
    pub round: RoundId,
    /// 16 fresh random bytes; a nonce is accepted once.
    pub nonce: [u8; 16],
    /// The message.
    pub message: T,
}

/// A job as the collector submits it (`pets federated submit job.toml`, its `[job]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Each table's dimensions (`col`, `hour(col)`, `weekday(col)`); none: the count.
    #[serde(default)]
    pub tables: Vec<Vec<String>>,
    /// Sums and means: `sum(COL, LOWER, UPPER)` or `mean(...)`, optionally `by DIM, DIM`.
    #[serde(default)]
    pub values: Vec<String>,
    /// The release's budget in rho (zCDP).
    pub rho: f64,
    /// `secagg` (masking, one aggregator) or `prio3` (two aggregators: the leader this job
    /// is sent to and the helper its configuration names).
    #[serde(default = "secagg")]
    pub protocol: String,
    /// Prio3's public per-trust bound on one cell (default 2^20 - 1): a report with a cell
    /// above it fails its validity proof and is counted nowhere.
    #[serde(default)]
    pub max_count: Option<u64>,
    /// Trusts that must survive every stage (default a strict majority of those who join).
    #[serde(default)]
    pub threshold: Option<usize>,
    /// Trusts that may collude with the aggregator.
    #[serde(default)]
    pub colluders: usize,
    /// Rows kept per person at each trust.
    #[serde(default)]
    pub max_rows_per_person: Option<u32>,
    /// Trusts one person may attend (public bound).
    #[serde(default)]
    pub max_trusts_per_person: Option<u32>,
    /// Significance of the reported half-width.
    #[serde(default)]
    pub alpha: Option<f64>,
    /// Seed of each trust's choice of kept rows.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Trusts that must join for the round to start (default: the aggregator's setting).
    #[serde(default)]
    pub min_participants: Option<usize>,
    /// Release the exact sum without noise (no DP): for checking the service against the
    /// pooled answer only. The aggregator and every node must each allow it in their own
    /// configuration (`allow_exact = true`), or the job is refused.
    #[serde(default)]
    pub exact: bool,
    /// A declared vector each trust computes from its own table instead of `tables` and
    /// `values` (one round of a multi-round job, sent by its submitter's loop: a federated
    /// fit's round, [`crate::submit::submit_fit`]).
    #[serde(default)]
    pub vector: Option<VectorJob>,
}

fn invalid(name: &str, value: &str, reason: &str) -> FederatedError {
    FederatedError::InvalidParameter {
        name: name.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

fn secagg() -> String {
    "secagg".to_string()
}

/// A declared vector a round sums, as the trusts compute it (public: what the job carries
/// is decided by the schema, the options and earlier releases).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorJob {
    /// One protocol round of a federated MST fit (`pets_synth::federated`): the 1-ways, the
    /// candidate pairs on compressed codes with the compression maps, or the tree's pairs.
    MstRound(FitRoundWork),
    /// One round of federated averaging (`pets::federated::train`): the public weights at
    /// which every trust sums its rows' clipped gradients.
    TrainRound(TrainRoundWork),
}

impl VectorJob {
    /// The declared vector (layout and sensitivity) the round charges for: derived from the
    /// work's layout alone ([`VectorSpec::counts`]: each row adds its table's weight to one
    /// cell of each table), never taken from the submitter.
    pub fn spec(&self) -> pets::federated::Result<VectorSpec> {
        match self {
            VectorJob::MstRound(w) => {
                VectorSpec::counts(w.label.clone(), w.columns.clone(), w.layout.clone())
            }
            VectorJob::TrainRound(w) => w.spec(),
        }
    }

    /// The fingerprint of how `schema` declares the columns the vector reads.
    pub fn fingerprint(&self, schema: &pets::data::Schema) -> pets::federated::Result<String> {
        match self {
            VectorJob::MstRound(w) => columns_fingerprint(schema, &w.read),
            VectorJob::TrainRound(w) => w.fingerprint(schema),
        }
    }

    /// The label of the release.
    pub fn label(&self) -> &str {
        match self {
            VectorJob::MstRound(w) => &w.label,
            VectorJob::TrainRound(w) => &w.label,
        }
    }
}

/// What a round computes, as announced to the trusts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RoundWork {
    /// A query the trusts compute with [`pets::federated::aggregate::local_aggregate`].
    Query(FederatedQuery),
    /// A declared vector each trust computes itself.
    Vector(VectorJob),
}

impl RoundWork {
    /// The query, for a query's round.
    pub fn query(&self) -> Option<&FederatedQuery> {
        match self {
            RoundWork::Query(q) => Some(q),
            RoundWork::Vector(_) => None,
        }
    }

    /// The label of the release.
    pub fn label(&self) -> String {
        match self {
            RoundWork::Query(q) => q.label(),
            RoundWork::Vector(v) => v.label().to_string(),
        }
    }
}

impl JobSpec {
    /// The query (refused for a declared vector's job).
    pub fn query(&self) -> pets::federated::Result<FederatedQuery> {
        if self.vector.is_some() {
            return Err(invalid(
                "job",
                "vector",
                "a declared vector's job has no query",
            ));
        }
        FederatedQuery::from_specs(&self.tables, &self.values)
    }

    /// What the round computes: the query, or the declared vector (which takes no
    /// `tables` or `values`).
    pub fn work(&self) -> pets::federated::Result<RoundWork> {
        match &self.vector {
            None => Ok(RoundWork::Query(self.query()?)),
            Some(_) if !(self.tables.is_empty() && self.values.is_empty()) => Err(invalid(
                "job",
                "tables/values",
                "a declared vector's job takes no tables or values",
            )),
            Some(v) => Ok(RoundWork::Vector(v.clone())),
        }
    }

    /// The fingerprint of how `schema` declares the columns the job reads (the aggregator
    /// checks every trust's against it).
    pub fn fingerprint(&self, schema: &pets::data::Schema) -> pets::federated::Result<String> {
        match self.work()? {
            RoundWork::Query(q) => q.fingerprint(schema),
            RoundWork::Vector(v) => v.fingerprint(schema),
        }
    }

    /// The protocol.
    pub fn protocol(&self) -> pets::federated::Result<Protocol> {
        self.protocol.parse()
    }

    /// The core job this spec describes (the leader and the helper build it alike), charging
    /// `budget` when given (the leader's persistent budget file).
    pub fn job(&self, budget: Option<PathBuf>) -> pets::federated::Result<FederatedJob> {
        let work = self.work()?;
        // The budget file's record names what was released (a fit's round among others).
        let record = ChargeRecord::new("pets federated aggregator").note(work.label());
        let job = match work {
            RoundWork::Query(q) => FederatedJob::new(q),
            RoundWork::Vector(v) => FederatedJob::for_vector(v.spec()?),
        };
        Ok(job
            .protocol(self.protocol()?)
            .share(Cost::rho(self.rho))
            .threshold_opt(self.threshold)
            .colluders(self.colluders)
            .max_rows_per_person(self.max_rows_per_person.unwrap_or(1))
            .max_trusts_per_person_opt(self.max_trusts_per_person)
            .max_count_opt(self.max_count)
            .alpha(self.alpha.unwrap_or(0.05))
            .seed(self.seed.unwrap_or(0))
            .budget_file(budget, record))
    }

    /// Prio3's per-trust bound on a cell.
    pub fn prio_max_count(&self) -> u64 {
        self.max_count.unwrap_or((1 << 20) - 1)
    }
}

/// A job submission: the job and the time its submitter stamped on it (Unix seconds). The
/// aggregator refuses a submission stamped outside its job window (see [`crate::state`]),
/// which is what lets it forget the nonces of old submissions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSubmission {
    /// When the submitter sent it (Unix seconds, the submitter's clock).
    pub issued: u64,
    /// The job.
    pub job: JobSpec,
}

impl JobSubmission {
    /// `job`, stamped now.
    pub fn now(job: JobSpec) -> JobSubmission {
        JobSubmission {
            issued: crate::state::unix_now(),
            job,
        }
    }
}

/// The aggregator's answer to a submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobAccepted {
    /// The round that runs the job (its hex is the job's id).
    pub round: RoundId,
}

/// The open round, as any trust may read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Announcement {
    /// The round.
    pub round: RoundId,
    /// What to compute.
    pub work: RoundWork,
    /// The fingerprint of the federation schema's columns the job reads.
    pub fingerprint: String,
    /// Rows kept per person.
    pub max_rows_per_person: u32,
    /// Seed of the choice of kept rows.
    pub seed: u64,
    /// Whether the job asks for the exact sum (no noise).
    pub exact: bool,
    /// The protocol of the round.
    pub protocol: Protocol,
}

/// A trust joins a round: what it declares before the noise is planned (no count).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Join {
    /// Its unit and warnings (its name is checked against its certificate).
    #[serde(with = "declaration")]
    pub declaration: TrustDeclaration,
    /// The fingerprint of its own schema's columns.
    pub fingerprint: String,
    /// Its tables' layout (public: it follows from the schema).
    pub layout: Vec<TableLayout>,
}

/// A [`TrustDeclaration`] in postcard (which cannot skip fields): every field written.
mod declaration {
    use pets::dp::PrivacyUnit;
    use pets::federated::TrustDeclaration;
    use pets::{Warning, WarningKind};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Wire {
        name: String,
        unit: PrivacyUnit,
        person_id: Option<String>,
        warnings: Vec<(WarningKind, Option<String>, String)>,
    }

    pub(super) fn serialize<S: Serializer>(d: &TrustDeclaration, s: S) -> Result<S::Ok, S::Error> {
        Wire {
            name: d.name.clone(),
            unit: d.unit,
            person_id: d.person_id.clone(),
            warnings: d
                .warnings
                .iter()
                .map(|w| (w.kind, w.column.clone(), w.message.clone()))
                .collect(),
        }
        .serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<TrustDeclaration, D::Error> {
        let w = Wire::deserialize(d)?;
        Ok(TrustDeclaration {
            name: w.name,
            unit: w.unit,
            person_id: w.person_id,
            warnings: w
                .warnings
                .into_iter()
                .map(|(kind, column, message)| {
                    let w = Warning::new(kind, message);
                    match column {
                        Some(c) => w.on(c),
                        None => w,
                    }
                })
                .collect(),
        })
    }
}

/// The plan of a trust's round, once every trust has joined and the budget is charged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundPlan {
    /// The secure-aggregation round.
    pub config: SecAggConfig,
    /// This trust's party id.
    pub party: u32,
    /// Its share of the noise (`None` only for an exact job).
    pub noise: Option<DistributedNoise>,
}

/// A trust's plan for its round: its secure-aggregation plan, or its Prio3 task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Plan {
    /// Secure aggregation.
    SecAgg(RoundPlan),
    /// Prio3.
    Prio3(PrioPlan),
}

/// A Prio3 round's public task, as every trust shards its report for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrioPlan {
    /// The round (bound into every report's context).
    pub round: RoundId,
    /// Cells per report.
    pub cells: usize,
    /// The per-trust bound on one cell.
    pub max_count: u64,
}

/// The leader provisions the helper with a Prio3 round once the budget is charged: the job
/// (the helper plans its own noise from it), the trusts that joined, the layout and the
/// verification key both aggregators share (DAP's task provisioning).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct HelperTask {
    /// The round.
    pub round: RoundId,
    /// The job, as submitted.
    pub spec: JobSpec,
    /// The trusts that joined, with their declarations and layouts.
    pub joins: Vec<Join>,
    /// The VDAF verification key (secret between the two aggregators).
    pub verify_key: [u8; 32],
}

impl std::fmt::Debug for HelperTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelperTask")
            .field("round", &self.round)
            .finish_non_exhaustive()
    }
}

/// The leader's half of verifying a batch of reports: each report's trust, nonce and the
/// leader's verifier share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyInit {
    /// `(trust, report nonce, leader's verifier share)`.
    pub reports: Vec<(String, [u8; 16], Vec<u8>)>,
}

/// The helper's answer: per report, in order, the verifier message (the report is valid and
/// the helper has counted it) or the reason it was refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyResp {
    /// One result per report of the [`VerifyInit`].
    pub results: Vec<Result<Vec<u8>, String>>,
}

/// One aggregator's noisy aggregate share of a Prio3 round, for the collector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Collection {
    /// The round.
    pub round: RoundId,
    /// 0 the leader, 1 the helper.
    pub aggregator: u8,
    /// Cells.
    pub cells: usize,
    /// The per-trust bound on a cell.
    pub max_count: u64,
    /// The trusts whose reports are in the share, in name order.
    pub counted: Vec<String>,
    /// The aggregate share (prio's encoding), with this aggregator's noise added.
    pub aggregate_share: Vec<u8>,
    /// Whether this aggregator added noise (false only for an exact check).
    pub noisy: bool,
    /// Bytes this aggregator received from trusts.
    pub bytes_from_trusts: usize,
}

/// Hex of a round id, in full (the job's id in paths).
pub fn round_hex(round: &RoundId) -> String {
    round.0.iter().map(|b| format!("{b:02x}")).collect()
}

/// A round id from its hex.
pub fn parse_round(hex: &str) -> Option<RoundId> {
    if hex.len() != 32 || !hex.is_ascii() {
        return None;
    }
    let mut id = [0u8; 16];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(RoundId(id))
}

/// 16 fresh random bytes from the operating system.
pub fn nonce() -> [u8; 16] {
    let mut n = [0u8; 16];
    n.copy_from_slice(&RoundId::random().0);
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use pets::dp::PrivacyUnit;
    use pets::federated::wire::{from_wire, to_wire};
    use pets::{Warning, WarningKind};

    #[test]
    fn a_join_with_warnings_round_trips_through_the_wire() {
        let join = Join {
            declaration: TrustDeclaration {
                name: "trust_a".into(),
                unit: PrivacyUnit::Row,
                person_id: None,
                warnings: vec![
                    Warning::new(WarningKind::RowLevelPrivacy, "per row"),
                    Warning::new(WarningKind::Note, "a column").on("sex"),
                ],
            },
            fingerprint: "00ff".into(),
            layout: Vec::new(),
        };
        let env = Envelope {
            round: RoundId([7; 16]),
            nonce: nonce(),
            message: join,
        };
        let bytes = to_wire(&env).unwrap();
        let back: Envelope<Join> = from_wire(&bytes, 1 << 20, "t", "join").unwrap();
        assert_eq!(back, env);
        assert_eq!(parse_round(&round_hex(&env.round)), Some(env.round));
        assert_eq!(parse_round("zz"), None);
    }
}

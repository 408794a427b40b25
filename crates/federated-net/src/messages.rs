//! The service's messages. Protocol messages are the core's own
//! ([`pets::federated::secagg`]); this module adds the job, the announcement, the join and
//! the envelope that carries every POST. All travel in the core's versioned wire format
//! ([`pets::federated::wire`]: a version byte, then postcard, size-checked before decoding).
//!
//! | request | from | body | answer |
//! |---|---|---|---|
//! | `POST /v1/jobs` | submitter | [`Envelope`]`<`[`JobSpec`]`>` | [`JobAccepted`] |
//! | `GET /v1/jobs/{id}` | submitter | | 202 running, 200 the release (JSON), 422 aborted |
//! | `GET /v1/round` | trust | | 204 none, 200 [`Announcement`] |
//! | `POST /v1/rounds/{id}/join` | trust | [`Envelope`]`<`[`Join`]`>` | 200, 422 refused (schema) |
//! | `GET /v1/rounds/{id}/plan` | trust | | 202 wait, 200 [`RoundPlan`] |
//! | `POST /v1/rounds/{id}/keys`, `shares`, `masked`, `unmask` | trust | [`Envelope`] of the secagg message | 200, 409 replay/late, 422 refused |
//! | `GET /v1/rounds/{id}/roster`, `inbox`, `survivors` | trust | | 202 wait, 200 the secagg message |
//!
//! **Replay.** Every POST carries the round id and a fresh 16-byte nonce; the aggregator
//! refuses a nonce it has seen (in any round) and a message for another round, and the
//! secure-aggregation state machine refuses a second message of a kind from one party.

use pets::federated::aggregate::TableLayout;
use pets::federated::noise::DistributedNoise;
use pets::federated::secagg::{RoundId, SecAggConfig};
use pets::federated::{FederatedQuery, TrustDeclaration};
use serde::{Deserialize, Serialize};

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
    /// `secagg` (the network service runs secure aggregation).
    #[serde(default = "secagg")]
    pub protocol: String,
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
}

fn secagg() -> String {
    "secagg".to_string()
}

impl JobSpec {
    /// The query.
    pub fn query(&self) -> pets::federated::Result<FederatedQuery> {
        FederatedQuery::from_specs(&self.tables, &self.values)
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
    pub query: FederatedQuery,
    /// The fingerprint of the federation schema's columns the query reads.
    pub fingerprint: String,
    /// Rows kept per person.
    pub max_rows_per_person: u32,
    /// Seed of the choice of kept rows.
    pub seed: u64,
    /// Whether the job asks for the exact sum (no noise).
    pub exact: bool,
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

//! What a round sums: a [`FederatedQuery`] that the round computes from each trust's table,
//! or a **declared vector** ([`VectorSpec`]) that each trust computed itself.
//!
//! The round machinery ([`crate::federated::FederatedJob`]: the checks of the trusts and
//! options, the budget charge before any noise, secure aggregation with distributed
//! discrete Gaussian noise or Prio3, the wire format, the [`RoundReport`]) does not care
//! where an integer vector came from; it needs its layout (to check that every trust's
//! vector lines up, and to cut the sum into tables), the columns it reads (for the ledger)
//! and a bound on how far one person can move it (for the noise). A declared vector gives
//! exactly these, so a caller with its own local computation runs the same round:
//!
//! - `pets_synth::federated`: the 1-way and 2-way marginals MST measures, over the
//!   *derived* synthesis columns (`NAME.period`, ...) and compressed code spaces, which no
//!   [`crate::dp::queries::Dimension`] expresses;
//! - federated averaging (a later job): a model-update vector on a fixed-point grid, each
//!   person's contribution clipped to a public L2 norm.
//!
//! **Sensitivity.** The spec declares `unit_l2_squared`: `||Delta||_2^2` of the summed
//! vector when one row of one person at one trust is added or removed. A person has at most
//! `m` kept rows at a trust and attends at most `T` trusts; the changes of their `m T` rows
//! add, so `||Delta||_2 <= m T sqrt(unit_l2_squared)` by the triangle inequality, and the
//! round charges `unit_l2_squared (m T)^2` ([`VectorSpec::l2_squared`]). For count tables
//! in which one row adds `w_k` to exactly one cell of each table `k` (the weights of
//! [`TableLayout::weight`]), `unit_l2_squared = sum_k w_k^2` ([`VectorSpec::counts`]); the
//! bound is then tight (all `m T` rows in the same cell of every table). Proof:
//! `federated/proofs/distributed_noise.md` (the query's count tables are the case
//! `w_k = 1`) and `pets_synth`'s `proofs/federated_mst.md`.
//!
//! [`RoundReport`]: crate::federated::RoundReport

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::Schema;
use crate::federated::aggregate::{FederatedQuery, MAX_FEDERATED_CELLS, TableLayout};
use crate::federated::error::{FederatedError, Result};
use crate::federated::job::Protocol;
use crate::federated::values::MAX_VALUE_CELL;

/// A vector each trust computes itself, declared by its layout and its per-row
/// sensitivity (module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorSpec {
    /// The label of the release in the ledger (e.g. `mst (federated): 1-way marginals`).
    pub label: String,
    /// The declared columns the vector reads (for the ledger).
    pub columns: Vec<String>,
    /// The tables of the vector, in order: every trust's vector has exactly this layout.
    pub layout: Vec<TableLayout>,
    /// `||Delta||_2^2` of the summed vector for one row of one person at one trust.
    pub unit_l2_squared: f64,
}

impl VectorSpec {
    /// Count tables (`value: None` in every table) in which one row adds its table's
    /// `weight` to exactly one cell of each table: `unit_l2_squared = sum_k w_k^2`.
    pub fn counts(
        label: impl Into<String>,
        columns: Vec<String>,
        layout: Vec<TableLayout>,
    ) -> Result<VectorSpec> {
        let label = label.into();
        if let Some(t) = layout.iter().find(|t| t.value.is_some()) {
            return Err(FederatedError::invalid(
                "layout",
                t.dimensions.join(", "),
                "a count vector holds count tables only (sums and means are a query's)",
            ));
        }
        let unit_l2_squared = layout.iter().map(|t| (t.weight as f64).powi(2)).sum();
        let spec = VectorSpec {
            label,
            columns,
            layout,
            unit_l2_squared,
        };
        spec.check()?;
        Ok(spec)
    }

    /// Cells of the vector.
    pub fn cells(&self) -> usize {
        self.layout.iter().map(TableLayout::cells).sum()
    }

    /// `||Delta||_2^2` of the summed vector for `m` rows per person per trust and `T`
    /// trusts per person: `unit_l2_squared (m T)^2`.
    pub fn l2_squared(&self, max_rows_per_person: u32, max_trusts_per_person: u32) -> f64 {
        let per = f64::from(max_rows_per_person) * f64::from(max_trusts_per_person);
        self.unit_l2_squared * per * per
    }

    /// Refuse an empty vector, one above [`MAX_FEDERATED_CELLS`], a layout whose shapes do
    /// not give its cells, a weight of zero, and a sensitivity that is not a positive
    /// finite number.
    pub fn check(&self) -> Result<()> {
        let cells = self.cells();
        if cells == 0 {
            return Err(FederatedError::invalid("vector", &self.label, "no cells"));
        }
        if cells > MAX_FEDERATED_CELLS {
            return Err(FederatedError::invalid(
                "vector",
                &self.label,
                format!(
                    "{cells} cells, more than {MAX_FEDERATED_CELLS} in one round; split it \
                     into several rounds"
                ),
            ));
        }
        if let Some(t) = self.layout.iter().find(|t| t.weight == 0) {
            return Err(FederatedError::invalid(
                "weight",
                t.dimensions.join(", "),
                "every table's weight is at least 1",
            ));
        }
        if !(self.unit_l2_squared.is_finite() && self.unit_l2_squared > 0.0) {
            return Err(FederatedError::invalid(
                "unit_l2_squared",
                self.unit_l2_squared,
                "a positive, finite squared L2 sensitivity",
            ));
        }
        Ok(())
    }

    /// Refuse a trust's vector that does not have the declared layout, or a cell beyond
    /// what the ring carries without wrapping.
    pub fn check_vector(&self, trust: &str, layout: &[TableLayout], values: &[i64]) -> Result<()> {
        if layout != self.layout.as_slice() || values.len() != self.cells() {
            return Err(FederatedError::Trust {
                trust: trust.to_string(),
                reason: format!(
                    "its vector for {} does not have the declared layout ({} cells expected, \
                     {} sent); compute it with the job's schema and options",
                    self.label,
                    self.cells(),
                    values.len()
                ),
            });
        }
        if values.iter().any(|&v| i128::from(v).abs() > MAX_VALUE_CELL) {
            return Err(FederatedError::Trust {
                trust: trust.to_string(),
                reason: format!(
                    "a cell of {} passes 2^51, beyond what the ring carries without \
                     wrapping; split the trust's rows into several rounds",
                    self.label
                ),
            });
        }
        Ok(())
    }
}

/// What a round sums (module docs).
#[derive(Debug, Clone, PartialEq)]
pub enum RoundVector {
    /// Count tables, sums and means over declared columns, computed by the round from each
    /// trust's table ([`crate::federated::aggregate::local_aggregate`]).
    Query(FederatedQuery),
    /// A vector each trust computed itself.
    Declared(VectorSpec),
}

impl RoundVector {
    /// The label of the release.
    pub fn label(&self) -> String {
        match self {
            RoundVector::Query(q) => q.label(),
            RoundVector::Declared(v) => v.label.clone(),
        }
    }

    /// The declared columns read.
    pub fn columns(&self) -> Vec<String> {
        match self {
            RoundVector::Query(q) => q.columns(),
            RoundVector::Declared(v) => v.columns.clone(),
        }
    }

    /// Refuse what cannot run by `protocol` (sums and means by Prio3, whose range proofs
    /// here are for non-negative counts).
    pub fn check(&self, protocol: Protocol) -> Result<()> {
        match self {
            RoundVector::Query(q) => {
                q.check()?;
                if protocol == Protocol::Prio3 && !q.values.is_empty() {
                    return Err(FederatedError::invalid(
                        "protocol",
                        "prio3",
                        "sums and means run by secure aggregation (secagg): Prio3's range \
                         proofs here are for non-negative counts, and a sum's cells may be \
                         negative",
                    ));
                }
                Ok(())
            }
            RoundVector::Declared(v) => v.check(),
        }
    }

    /// `||Delta||_2^2` of the summed vector (see [`FederatedQuery::l2_squared`],
    /// [`VectorSpec::l2_squared`]).
    pub fn l2_squared(&self, max_rows_per_person: u32, max_trusts_per_person: u32) -> f64 {
        match self {
            RoundVector::Query(q) => q.l2_squared(max_rows_per_person, max_trusts_per_person),
            RoundVector::Declared(v) => v.l2_squared(max_rows_per_person, max_trusts_per_person),
        }
    }

    /// Refuse the trusts' layout when it is not the one this round sums.
    pub fn check_layout(&self, layout: &[TableLayout]) -> Result<()> {
        match self {
            RoundVector::Query(q) => q.check_layout(layout),
            RoundVector::Declared(v) if layout == v.layout.as_slice() => Ok(()),
            RoundVector::Declared(v) => Err(FederatedError::invalid(
                "layout",
                &v.label,
                "the trusts' vectors do not have the declared layout",
            )),
        }
    }

    /// Whether every cell is a plain count (weight 1, no sum or mean): the accuracy
    /// statement is then in counts.
    pub fn plain_counts(&self) -> bool {
        match self {
            RoundVector::Query(q) => q.values.is_empty(),
            RoundVector::Declared(v) => v.layout.iter().all(|t| t.weight == 1 && t.value.is_none()),
        }
    }
}

/// A fingerprint of how `schema` declares `columns`: two trusts whose schemas give these
/// columns other domains would compute vectors that do not line up.
pub fn columns_fingerprint(schema: &Schema, columns: &[String]) -> Result<String> {
    let mut h = Sha256::new();
    for c in columns {
        let spec = schema.column(c).map_err(|e| FederatedError::Data {
            trust: "(the job's schema)".into(),
            source: Box::new(e.into()),
        })?;
        h.update(
            serde_json::to_string(spec)
                .expect("a column spec serialises")
                .as_bytes(),
        );
        h.update([0u8]);
    }
    Ok(h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

//! The ledger: one entry per release, serialisable to JSON for the data custodian.
//!
//! Each entry says what was asked (query, columns), how the data were bounded (unit of
//! privacy, person-id column, rows kept per person), which mechanism ran with what
//! sensitivity and noise scale, what it cost and was charged, its accuracy, and every
//! warning (notably `domain_from_data`: a domain read from the data leaks which values occur).

use serde::{Deserialize, Serialize};

use crate::dp::accuracy::Accuracy;
use crate::dp::budget::Cost;
use crate::dp::mechanisms::MechanismInfo;

/// The unit of privacy of a release: whose presence or absence is protected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contribution {
    /// `person` when rows were bounded per person id, `row` otherwise.
    pub unit: PrivacyUnit,
    /// The person-id column, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_column: Option<String>,
    /// Rows a person may contribute after bounding (`1` for row-level privacy).
    pub max_rows_per_person: u32,
    // No count of the rows bounding dropped: that number is an exact statistic of the data
    // (sum over people of max(0, n_p - m)), and the ledger is released (issue 10).
    /// Why this unit was chosen, when it is weaker than person-level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Contribution {
    /// Row-level privacy: each row treated as a different person. Only honest when people
    /// really contribute one row each; the note says so.
    pub fn row_level(note: impl Into<String>) -> Contribution {
        Contribution {
            unit: PrivacyUnit::Row,
            id_column: None,
            max_rows_per_person: 1,
            note: Some(note.into()),
        }
    }
}

/// Whose presence or absence is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrivacyUnit {
    /// All rows of one person (bounded by person id).
    Person,
    /// One row. Weaker than person-level when people have several rows.
    Row,
}

/// What a query tells the session about itself, for the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryRecord {
    /// Query name, e.g. `count`, `histogram(provider_code, age_band)`.
    pub query: String,
    /// Columns read.
    pub columns: Vec<String>,
    /// Unit of privacy and contribution bound.
    pub contribution: Contribution,
    /// Warnings to carry into the results (domain read from data, clamping, ...).
    pub warnings: Vec<String>,
}

impl QueryRecord {
    /// A record for `query` over `columns` with contribution `contribution`.
    pub fn new(
        query: impl Into<String>,
        columns: Vec<String>,
        contribution: Contribution,
    ) -> QueryRecord {
        QueryRecord {
            query: query.into(),
            columns,
            contribution,
            warnings: Vec::new(),
        }
    }

    /// Add a warning.
    pub fn warn(mut self, w: impl Into<String>) -> QueryRecord {
        self.warnings.push(w.into());
        self
    }
}

/// One release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Position in the ledger (0-based).
    pub index: usize,
    /// Query name.
    pub query: String,
    /// Columns read.
    pub columns: Vec<String>,
    /// Mechanism, noise, scale and sensitivity.
    pub mechanism: MechanismInfo,
    /// Cost in the mechanism's own measure, from OpenDP's map.
    pub cost: Cost,
    /// What was charged to the budget, in the session's measure (rounded up). Zero for a
    /// release inside a parallel composition, whose charge is its own entry.
    pub charged: Cost,
    /// Unit of privacy and contribution bound.
    pub contribution: Contribution,
    /// Accuracy of the released values, where defined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<Accuracy>,
    /// Warnings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The parallel composition this release belongs to (its ledger index and part).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<ParallelPart>,
}

/// Where a release sits in a parallel composition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParallelPart {
    /// Ledger index of the composition's charge entry.
    pub charge_entry: usize,
    /// Which part.
    pub part: String,
}

/// Every release of a session, in order, with the budget figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// The session's total budget.
    pub budget: Cost,
    /// Spent so far (rounded up).
    pub spent: Cost,
    /// Left (rounded down).
    pub remaining: Cost,
    /// The spending as (epsilon, delta)-DP, for reports (zCDP converted at
    /// `delta_for_conversion`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spent_as_approx_dp: Option<ApproxDp>,
    /// The releases.
    pub entries: Vec<LedgerEntry>,
}

/// An (epsilon, delta)-DP statement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ApproxDp {
    /// Epsilon.
    pub epsilon: f64,
    /// Delta.
    pub delta: f64,
    /// The delta used to convert zCDP (zero for an epsilon budget).
    pub delta_for_conversion: f64,
}

impl Ledger {
    /// The ledger as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the ledger serialises")
    }
}

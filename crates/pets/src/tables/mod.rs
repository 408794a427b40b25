//! Count tables safe to publish: small-number rules, secondary suppression, and an exact
//! audit of what the published numbers reveal.
//!
//! One or more tables are built from the same records (each a group-by over some columns,
//! with every margin and the grand total), so tables of the same population at different
//! breakdowns ("linked tables") are consistent by construction. All of them are margins of
//! one **joint table** over the union of their columns; every published cell is a sum of
//! joint cells. That single linear model serves both protection and audit:
//!
//! - [`Rule::Hes`]: the NHS small-numbers rule for HES and ECDS outputs below national level
//!   (NHS England, *Hospital Episode Statistics analysis guide*, "suppression of small
//!   numbers"): 0 stays 0, 1 to 7 become `*`, every other count is rounded to the nearest 5;
//!   totals are computed from unrounded values and then rounded (or suppressed) by the same
//!   rule.
//! - [`Rule::Threshold`]: counts from 1 to `threshold - 1` suppressed (primary), then
//!   **secondary suppression** until the audit shows that every primary cell's feasible
//!   interval is at least `protection` wide. The pattern is found by [`Secondary::Greedy`]
//!   (default: add the smallest published cell on a line of the table through an
//!   under-protected cell, interior cells before margins, and audit again; not claimed to be
//!   minimal) or [`Secondary::Exact`] (the least [`Cost`] by an integer program with cut
//!   generation, see [`exact`]; optimal when it finishes, else the greedy runs, with a
//!   warning). Either way the protection is **proved by the audit** (below), not by the
//!   method.
//! - [`stats`]: means and medians of numeric columns beside each count, suppressed with the
//!   count and when based on few records (1-7 under the HES rule).
//! - [`audit`]: for every suppressed cell, the least and greatest value it can take given
//!   everything published across **all** the linked tables (exact counts as equalities,
//!   rounded counts as `r - 2 <= x <= r + 2`, every joint cell `>= 0`), by linear programming
//!   (microlp, a maintained pure-Rust simplex). This is the intruder's best
//!   differencing attack over the real numbers; an integer attack can only narrow the
//!   interval to its integer points, so a width of at least `protection` on the reals with
//!   integer end points (the bounds here are sums of published integers) is what is checked.
//!
//! Nothing here publishes a suppressed value: a [`ProtectedTable`] holds the published text
//! of each cell and, for suppressed cells, only the interval the audit derived.

mod audit;
pub mod exact;
mod html;
pub(crate) mod job;
pub mod stats;

#[cfg(test)]
mod tests;

pub use audit::{Interval, Known, audit};
pub use exact::{Cost, Limits};
pub use html::render_html;
pub use job::{
    ProtectedTable, ProtectedTables, PublishedCell, Secondary, SecondaryReport, TableJob,
};
pub use stats::{Statistic, StatisticKind};

use serde::{Deserialize, Serialize};

use crate::data::DataError;
use crate::error::{Classify, ErrorKind};

/// Largest joint table (cells over the union of the tables' columns) the audit handles.
pub const MAX_JOINT_CELLS: usize = 20_000;

/// How counts are protected.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum Rule {
    /// The HES/ECDS small-numbers rule (see the module documentation).
    Hes,
    /// Threshold suppression with secondary suppression proved by the audit.
    Threshold {
        /// Counts from 1 to `threshold - 1` are suppressed.
        threshold: u64,
        /// Smallest width of a suppressed cell's feasible interval.
        protection: u64,
    },
}

impl Rule {
    /// Where the rule comes from, as the output names it.
    pub fn source(&self) -> String {
        match self {
            Rule::Hes => "NHS England, Hospital Episode Statistics (HES) analysis guide: \
                          suppression of small numbers (also applied to ECDS): 0 stays 0, \
                          1-7 suppressed, others rounded to the nearest 5, totals from \
                          unrounded values rounded separately"
                .into(),
            Rule::Threshold {
                threshold,
                protection,
            } => format!(
                "threshold suppression: counts 1-{} suppressed; secondary suppression until \
                 every suppressed count's feasible interval (linear-programming audit over \
                 all linked tables) is at least {protection} wide",
                threshold.saturating_sub(1)
            ),
        }
    }
}

/// A failure building or protecting tables.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// Reading, encoding or the schema.
    #[error(transparent)]
    Data(#[from] DataError),
    /// An option that does not fit the others.
    #[error("{message}")]
    Invalid {
        /// The column it is about, if one.
        column: Option<String>,
        /// What is wrong and what to do.
        message: String,
    },
    /// The linear-programming audit failed.
    #[error("the audit's linear program failed: {0}; report this with the table's shape")]
    Audit(String),
}

impl Classify for TableError {
    fn kind(&self) -> ErrorKind {
        match self {
            TableError::Data(e) => e.kind(),
            TableError::Invalid { .. } => ErrorKind::InvalidParameter,
            TableError::Audit(_) => ErrorKind::Internal,
        }
    }

    fn column(&self) -> Option<&str> {
        match self {
            TableError::Data(e) => Classify::column(e),
            TableError::Invalid { column, .. } => column.as_deref(),
            TableError::Audit(_) => None,
        }
    }

    fn row(&self) -> Option<u64> {
        match self {
            TableError::Data(e) => e.row(),
            _ => None,
        }
    }
}

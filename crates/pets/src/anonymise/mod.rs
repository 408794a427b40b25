//! Anonymisation: the least coarsening and suppression that makes an extract pass.
//!
//! `pets risk` says whether an extract passes; this module answers the release panel's next
//! question, "what is the least we must coarsen or drop so that it does?":
//!
//! 1. [`hierarchy`]: each quasi-identifier's generalisation hierarchy, declared in the schema
//!    (`"hierarchy"`, see [`crate::data::HierarchySpec`]) or given per run, resolved into one
//!    code map per level, checked for coverage and nesting;
//! 2. [`search`]: an optimal branch-and-bound search of the lattice of level combinations
//!    with monotone predictive tagging, every node derived from the classes (never the
//!    rows), returning the optimum under a chosen [`LossMeasure`] and the trade-off front;
//! 3. [`apply`]: the chosen transformation written as the release (suppressed records
//!    removed or masked, direct identifiers dropped), with the release's schema and a JSON
//!    record of exactly what was done; `pets risk` on the release passes;
//! 4. [`AnonymiseJob`]: the one pipeline behind `pets anonymise` and `pets.anonymise`.
//!
//! Two options of ARX's: [`microaggregate`] (a numeric quasi-identifier replaced by its
//! class's mean, median, mode or interval instead of generalised) and [`local`] recoding
//! (the records the global optimum suppresses searched again, iteration by iteration).

pub mod apply;
pub mod hierarchy;
pub mod html;
pub mod job;
pub mod local;
pub mod loss;
pub mod microaggregate;
pub mod search;

#[cfg(test)]
mod tests;

pub use apply::{IterationRecord, ReleaseRecord, SuppressedRows};
pub use hierarchy::{ColumnHierarchy, HierarchyLevel};
pub use html::render_html;
pub use job::{AnonymiseJob, AnonymiseOutcome, HierarchySummary};
pub use loss::LossMeasure;
pub use microaggregate::{Aggregate, MicroaggregationRecord};
pub use search::{MAX_LATTICE_NODES, NodeOutcome, SearchLimits, SearchResult};

use crate::data::DataError;
use crate::disclosure::ReportError;
use crate::error::{Classify, ErrorKind};

/// A failure of anonymisation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnonymiseError {
    /// Reading, encoding, writing or the schema.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The privacy models' configuration or the assessment.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// A hierarchy that cannot be used.
    #[error("hierarchy of {column}: {message}")]
    Hierarchy {
        /// The column.
        column: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// An option that does not fit the others.
    #[error("{message}")]
    Invalid {
        /// The column it is about, if one.
        column: Option<String>,
        /// What is wrong and what to do.
        message: String,
    },
    /// No node of the lattice meets the models within the suppression limit.
    #[error(
        "no transformation meets the privacy models with at most {:.2}% of records suppressed{}; \
         allow more suppression, add coarser hierarchy levels, or relax the models",
        suppression_limit * 100.0,
        if *rejected > 0 { format!(" ({rejected} candidate(s) failed on the records they keep)") } else { String::new() }
    )]
    NoSolution {
        /// The limit used.
        suppression_limit: f64,
        /// Candidates dropped by verification.
        rejected: u64,
    },
}

impl From<crate::disclosure::ConfigError> for AnonymiseError {
    fn from(e: crate::disclosure::ConfigError) -> Self {
        AnonymiseError::Report(ReportError::Config(e))
    }
}

impl From<crate::disclosure::ClassesError> for AnonymiseError {
    fn from(e: crate::disclosure::ClassesError) -> Self {
        AnonymiseError::Report(ReportError::from(e))
    }
}

impl Classify for AnonymiseError {
    fn kind(&self) -> ErrorKind {
        match self {
            AnonymiseError::Data(e) => e.kind(),
            AnonymiseError::Report(e) => e.kind(),
            AnonymiseError::Hierarchy { .. } | AnonymiseError::Invalid { .. } => {
                ErrorKind::InvalidParameter
            }
            AnonymiseError::NoSolution { .. } => ErrorKind::Input,
        }
    }

    fn column(&self) -> Option<&str> {
        match self {
            AnonymiseError::Data(e) => Classify::column(e),
            AnonymiseError::Report(e) => e.column(),
            AnonymiseError::Hierarchy { column, .. } => Some(column),
            AnonymiseError::Invalid { column, .. } => column.as_deref(),
            AnonymiseError::NoSolution { .. } => None,
        }
    }

    fn row(&self) -> Option<u64> {
        match self {
            AnonymiseError::Data(e) => e.row(),
            _ => None,
        }
    }
}

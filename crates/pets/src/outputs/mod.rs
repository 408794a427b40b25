//! Output checking: tables and models leaving a secure data environment, computed and
//! checked for disclosure in one step, mitigated where asked, and recorded for the release
//! panel.
//!
//! Trusted research environments let analysts work on identifiable records, but every
//! table, statistic or model that leaves is checked by a panel ("output checking", SDC). This
//! module follows ACRO / SACRO (HDR UK; `pip install acro`), whose rules and defaults are
//! common TRE practice, and matches its cell-by-cell semantics (see [`rules`]):
//!
//! - [`rules`]: the rules (minimum frequency, zeros, (n,k) and p%-ratio dominance, residual
//!   degrees of freedom, the HES/ECDS preset) and [`OutputRules`], loaded from one TOML file.
//! - [`OutputJob`] (in `job`): a frequency table, crosstab or pivot table (count, sum, mean,
//!   median, std, quantiles, min, max) over a [`crate::data::TableSource`], every cell's
//!   value and the evidence its checks need (record count, sum, largest values, negatives)
//!   computed in one pass over the records; margins are merges of their cells' evidence.
//!   Each cell comes back with the rules it fails and why.
//! - [`mitigate`]: suppression (with secondary suppression from [`crate::tables`], proved
//!   by its audit) or rounding, and what changed.
//! - [`model`]: fitted regressions (fitted by statsmodels in Python) checked by the
//!   residual degrees-of-freedom rule and recorded like tables.
//! - [`survival`]: Kaplan-Meier survival tables ([`SurvivalJob`]), checked for small steps
//!   and residual degrees of freedom, small steps merged on request as ACRO does.
//! - [`record`]: the output record and bundle a checker reviews: each output with the call
//!   that made it, the data's provenance (file name and SHA-256), the checks, pass/fail per
//!   cell, the analyst's exception request; files, `record.json` and `summary.html`, each
//!   written atomically; and the differencing check across outputs.

pub mod job;
pub mod mitigate;
pub mod model;
pub mod record;
pub mod rules;
pub mod survival;

#[cfg(test)]
mod tests;

pub use job::{CheckedCell, CheckedTable, OutputJob};
pub use mitigate::{Mitigation, MitigationReport};
pub use model::{Coefficient, ModelFit, check_model};
pub use record::{
    Bundle, BundleRecord, Decision, DifferencingWarning, OutputRecord, Provenance, differencing,
};
pub use rules::{Agg, CellEvidence, Check, Failure, OutputRules, Preset, check_cell, check_dof};
pub use survival::{SurvivalJob, SurvivalRow, check_survival, kaplan_meier};

use crate::data::DataError;
use crate::error::{Classify, ErrorKind};
use crate::tables::TableError;

/// Most cells (interior, before margins) a checked table may have.
pub const MAX_CELLS: usize = 1_000_000;

/// A failure computing, checking or recording an output.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// Reading, encoding or the schema.
    #[error(transparent)]
    Data(#[from] DataError),
    /// An option or argument that does not fit.
    #[error("{message}")]
    Invalid {
        /// The column it is about, if one.
        column: Option<String>,
        /// What is wrong and what to do.
        message: String,
    },
    /// The rules file is invalid (an unknown key, a value out of range).
    #[error("output rules {message}")]
    Rules {
        /// Which key and why.
        message: String,
    },
    /// A bundle file cannot be read or written.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The secondary-suppression audit failed.
    #[error("{0}")]
    Internal(String),
}

impl OutputError {
    pub(crate) fn from_table(e: TableError) -> OutputError {
        match e {
            TableError::Data(d) => OutputError::Data(d),
            TableError::Invalid { column, message } => OutputError::Invalid { column, message },
            other => OutputError::Internal(other.to_string()),
        }
    }
}

impl Classify for OutputError {
    fn kind(&self) -> ErrorKind {
        match self {
            OutputError::Data(e) => e.kind(),
            OutputError::Invalid { .. } | OutputError::Rules { .. } => ErrorKind::InvalidParameter,
            OutputError::File { .. } => ErrorKind::File,
            OutputError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn column(&self) -> Option<&str> {
        match self {
            OutputError::Data(e) => Classify::column(e),
            OutputError::Invalid { column, .. } => column.as_deref(),
            _ => None,
        }
    }

    fn row(&self) -> Option<u64> {
        match self {
            OutputError::Data(e) => e.row(),
            _ => None,
        }
    }
}

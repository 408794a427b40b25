//! The one error type of [`crate::dp`].
//!
//! Every message says what was wrong and what to do about it. An over-budget refusal says how
//! much was asked for and how much is left, so the analyst can lower the query's share or stop.

use crate::dp::budget::Cost;

/// An error of the differential privacy layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DpError {
    /// A privacy parameter (epsilon, rho, delta, a noise scale, a share) is not a valid number.
    #[error("{name} = {value} is not valid: {reason}")]
    InvalidParameter {
        /// Which parameter.
        name: String,
        /// The value given.
        value: f64,
        /// What it must be.
        reason: String,
    },
    /// The release would spend more than is left of the session's budget. Nothing was drawn.
    #[error(
        "over budget: {query:?} asks for {requested}, but only {remaining} is left of {total} \
         ({spent} already spent); nothing was released. Give this query a smaller share, \
         or start a new session with a larger budget if the data custodian allows it"
    )]
    OverBudget {
        /// The query refused.
        query: String,
        /// What it would have cost (in the session's measure).
        requested: Cost,
        /// What is left.
        remaining: Cost,
        /// What has been spent.
        spent: Cost,
        /// The session's total.
        total: Cost,
    },
    /// A mechanism's privacy measure cannot be charged to this session's budget.
    #[error(
        "{mechanism} is accounted in {mechanism_measure}, which cannot be charged to a \
         {budget_measure} budget; {hint}"
    )]
    IncompatibleMeasure {
        /// Mechanism name.
        mechanism: String,
        /// The measure its privacy map returns.
        mechanism_measure: String,
        /// The session's measure.
        budget_measure: String,
        /// What to do.
        hint: String,
    },
    /// Clamping bounds are not a valid interval.
    #[error(
        "bounds for {column:?} are not valid: lower = {lower}, upper = {upper}; \
         give finite bounds with lower <= upper, taken from public knowledge (not the data)"
    )]
    InvalidBounds {
        /// Column the bounds are for.
        column: String,
        /// Lower bound given.
        lower: f64,
        /// Upper bound given.
        upper: f64,
    },
    /// A numeric input holds NaN (or an infinity).
    #[error(
        "{column:?} holds a non-finite value ({value}) at row {row} (1-based); \
         drop or impute such rows before a DP query (nulls are skipped, NaN is not)"
    )]
    NonFinite {
        /// Column name.
        column: String,
        /// 1-based row.
        row: u64,
        /// The value (NaN or an infinity).
        value: f64,
    },
    /// A column was asked for that the table does not have.
    #[error("unknown column {column:?} in the {what}; available columns: {}", available.join(", "))]
    UnknownColumn {
        /// The name asked for.
        column: String,
        /// Where it was looked for ("table", "schema").
        what: String,
        /// The names that exist.
        available: Vec<String>,
    },
    /// A column is of the wrong kind for the query.
    #[error("column {column:?} is {kind}, but {query} needs {expected}")]
    WrongKind {
        /// Column name.
        column: String,
        /// Its kind.
        kind: String,
        /// The query.
        query: String,
        /// What kind the query needs.
        expected: String,
    },
    /// A query or input is not well formed (empty candidates, mismatched lengths, too many cells).
    #[error("{what}: {reason}")]
    InvalidQuery {
        /// What was asked.
        what: String,
        /// Why it cannot run, and what to do.
        reason: String,
    },
    /// The person identifiers are unusable for contribution bounding.
    #[error("person identifiers in {column:?}: {reason}")]
    PersonIds {
        /// The id column.
        column: String,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// OpenDP refused to build or run a measurement (a bug in pets if the inputs were checked).
    #[error("OpenDP {stage} failed: {message}")]
    OpenDp {
        /// What pets was doing ("building the Laplace measurement", ...).
        stage: String,
        /// OpenDP's message.
        message: String,
    },
    /// Reading or writing a query spec, data or results.
    #[error("{0}")]
    Data(#[from] crate::data::DataError),
    /// A query spec could not be parsed.
    #[error("query spec: {0}")]
    Spec(String),
    /// The dataset's persistent budget file refused or failed the charge; nothing was
    /// released.
    #[error("{0}")]
    BudgetFile(Box<crate::dp::budget_store::BudgetStoreError>),
    /// Partitions' partial aggregates that are malformed or do not merge.
    #[error("{0}")]
    Partial(#[from] crate::partial::PartialError),
}

impl From<crate::dp::budget_store::BudgetStoreError> for DpError {
    fn from(e: crate::dp::budget_store::BudgetStoreError) -> DpError {
        DpError::BudgetFile(Box::new(e))
    }
}

impl DpError {
    /// Wrap an OpenDP error, saying what pets was doing.
    pub fn opendp(stage: impl Into<String>, e: opendp::error::Error) -> Self {
        let message = match &e.message {
            Some(m) => format!("{}: {m}", e.variant),
            None => e.variant.to_string(),
        };
        DpError::OpenDp {
            stage: stage.into(),
            message,
        }
    }

    /// An invalid parameter.
    pub fn invalid(name: impl Into<String>, value: f64, reason: impl Into<String>) -> Self {
        DpError::InvalidParameter {
            name: name.into(),
            value,
            reason: reason.into(),
        }
    }

    /// An ill-formed query.
    pub fn query(what: impl Into<String>, reason: impl Into<String>) -> Self {
        DpError::InvalidQuery {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// Result type of [`crate::dp`].
pub type Result<T, E = DpError> = std::result::Result<T, E>;

/// Check that `value` is finite and strictly positive (epsilon, rho, a scale).
pub(crate) fn check_positive(name: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(DpError::invalid(
            name,
            value,
            "it must be a finite number greater than zero",
        ))
    }
}

/// Check that `value` is a probability in `[0, 1)` (a delta).
pub(crate) fn check_delta(name: &str, value: f64) -> Result<()> {
    if value.is_finite() && (0.0..1.0).contains(&value) && !value.is_sign_negative() {
        Ok(())
    } else {
        Err(DpError::invalid(
            name,
            value,
            "it must be at least 0 and below 1 (typically below 1/n, e.g. 1e-7)",
        ))
    }
}

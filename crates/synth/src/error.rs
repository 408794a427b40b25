//! The one error type of `pets-synth`: every failure names the column, value or setting at
//! fault and says what to do about it. No input makes the crate panic.

use crate::marginals::MarginalError;

/// Errors of synthetic-data fitting, inference, sampling and model files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    /// From the data layer (unknown column, decoding, file I/O).
    #[error(transparent)]
    Data(#[from] pets::data::DataError),
    /// From the differential privacy layer (budget exhausted, bad parameters).
    #[error(transparent)]
    Dp(#[from] pets::dp::DpError),
    /// From marginal computation.
    #[error(transparent)]
    Marginal(#[from] MarginalError),
    /// From a federated round (too few trusts, a trust refused, a round aborted).
    #[error(transparent)]
    Federated(Box<pets::federated::FederatedError>),
    /// A trust's own table failed (reading, encoding, bounding) in a federated fit.
    #[error("trust {trust}: {source}")]
    Trust {
        /// The trust.
        trust: String,
        /// What failed there.
        #[source]
        source: Box<SynthError>,
    },
    /// A junction-tree clique of the model would exceed the configured size limit.
    #[error(
        "the graphical model needs a clique over {columns:?} with {cells} cells, more than the \
         limit of {limit}; measure fewer or smaller marginals, bin or generalise these columns, \
         or raise the clique-size limit"
    )]
    CliqueTooLarge {
        /// Columns of the clique.
        columns: Vec<String>,
        /// Number of cells (product of the columns' domain sizes).
        cells: u128,
        /// The limit in force.
        limit: u64,
    },
    /// A parameter is out of range.
    #[error("invalid {name} = {value}: {reason}")]
    Invalid {
        /// The parameter.
        name: &'static str,
        /// Its value, as given.
        value: String,
        /// What is required.
        reason: String,
    },
    /// A measurement does not fit the model's domain.
    #[error("measurement over {columns:?}: {reason}")]
    Measurement {
        /// Columns of the measurement.
        columns: Vec<String>,
        /// What is wrong.
        reason: String,
    },
    /// Inference diverged (non-finite loss).
    #[error("inference diverged at iteration {iteration} (loss {loss}); {hint}")]
    Diverged {
        /// Iteration of mirror descent.
        iteration: usize,
        /// The loss seen.
        loss: f64,
        /// What to try.
        hint: String,
    },
    /// A model file that cannot be used.
    #[error("model file {path}: {reason}")]
    ModelFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The persistent budget file refused or failed the charge.
    #[error(transparent)]
    Budget(Box<pets::dp::budget_store::BudgetStoreError>),
    /// File system errors on model files.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

impl SynthError {
    pub(crate) fn invalid(
        name: &'static str,
        value: impl ToString,
        reason: impl Into<String>,
    ) -> Self {
        SynthError::Invalid {
            name,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

impl From<pets::federated::FederatedError> for SynthError {
    fn from(e: pets::federated::FederatedError) -> SynthError {
        SynthError::Federated(Box::new(e))
    }
}

/// Result with [`SynthError`].
pub type Result<T, E = SynthError> = std::result::Result<T, E>;

impl pets::Classify for SynthError {
    fn kind(&self) -> pets::ErrorKind {
        use pets::ErrorKind;
        match self {
            SynthError::Data(e) | SynthError::Marginal(MarginalError::Data(e)) => e.kind(),
            SynthError::Dp(e) => e.kind(),
            SynthError::Marginal(_)
            | SynthError::CliqueTooLarge { .. }
            | SynthError::Invalid { .. } => ErrorKind::InvalidParameter,
            SynthError::Measurement { .. } | SynthError::Diverged { .. } => ErrorKind::Internal,
            SynthError::ModelFile { .. } => ErrorKind::Input,
            SynthError::Io { .. } => ErrorKind::File,
            SynthError::Budget(e) => pets::Classify::kind(e.as_ref()),
            SynthError::Federated(e) => pets::Classify::kind(e.as_ref()),
            SynthError::Trust { source, .. } => source.kind(),
        }
    }

    fn column(&self) -> Option<&str> {
        match self {
            SynthError::Data(e) | SynthError::Marginal(MarginalError::Data(e)) => {
                pets::Classify::column(e)
            }
            SynthError::Dp(e) => pets::Classify::column(e),
            SynthError::Federated(e) => pets::Classify::column(e.as_ref()),
            SynthError::Trust { source, .. } => source.column(),
            _ => None,
        }
    }

    fn row(&self) -> Option<u64> {
        match self {
            SynthError::Data(e) | SynthError::Marginal(MarginalError::Data(e)) => e.row(),
            SynthError::Dp(e) => pets::Classify::row(e),
            SynthError::Federated(e) => pets::Classify::row(e.as_ref()),
            SynthError::Trust { source, .. } => source.row(),
            _ => None,
        }
    }

    fn budget_figures(&self) -> Option<pets::error::BudgetFigures> {
        match self {
            SynthError::Dp(e) => e.budget_figures(),
            SynthError::Budget(e) => e.budget_figures(),
            SynthError::Federated(e) => pets::Classify::budget_figures(e.as_ref()),
            _ => None,
        }
    }
}

//! The one error type of federated aggregation.

use thiserror::Error;

use crate::dp::DpError;
use crate::error::{Classify, ErrorKind};

/// Result alias of the federated layer.
pub type Result<T> = std::result::Result<T, FederatedError>;

/// Why a federated round or job failed. A round that aborts releases nothing and leaves the
/// budget charged only when noise may already have been drawn (the error says which).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FederatedError {
    /// An option out of range or inconsistent.
    #[error("invalid {name} = {value}: {reason}")]
    InvalidParameter {
        /// The option.
        name: String,
        /// Its value as given.
        value: String,
        /// What it must be.
        reason: String,
    },
    /// A message from one party was refused (malformed, oversized, replayed, out of range,
    /// from an unknown party, or for another round). The round goes on without it when it
    /// can; the party's input is never counted twice.
    #[error("{party}'s {message} was refused: {reason}")]
    Rejected {
        /// The party (trust or aggregator) that sent it.
        party: String,
        /// The message kind.
        message: String,
        /// Why.
        reason: String,
    },
    /// The round cannot complete (too few parties left, a secret that cannot be recovered):
    /// nothing is released.
    #[error("round {round} aborted at {stage}: {reason}")]
    Aborted {
        /// The round id (hex).
        round: String,
        /// The protocol stage.
        stage: String,
        /// Why, and what to do.
        reason: String,
    },
    /// A trust's data do not fit the job (another schema, a value out of the declared
    /// domain, a count above the declared per-trust bound).
    #[error("trust {trust}: {reason}")]
    Trust {
        /// The trust.
        trust: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A cryptographic primitive failed where it cannot on valid input (a bug or a
    /// corrupted message from a peer that passed the checks).
    #[error("cryptography failed in {stage}: {reason}")]
    Crypto {
        /// Where.
        stage: String,
        /// The library's message.
        reason: String,
    },
    /// Reading or tabulating a trust's table failed (its kind is the underlying error's).
    #[error("trust {trust}: {source}")]
    Data {
        /// The trust.
        trust: String,
        /// The error.
        #[source]
        source: Box<DpError>,
    },
    /// A DP step failed (budget, calibration, a query over a trust's table).
    #[error(transparent)]
    Dp(Box<DpError>),
}

impl From<DpError> for FederatedError {
    fn from(e: DpError) -> FederatedError {
        FederatedError::Dp(Box::new(e))
    }
}

impl FederatedError {
    pub(crate) fn invalid(
        name: &str,
        value: impl std::fmt::Display,
        reason: impl Into<String>,
    ) -> FederatedError {
        FederatedError::InvalidParameter {
            name: name.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn rejected(
        party: impl std::fmt::Display,
        message: &str,
        reason: impl Into<String>,
    ) -> FederatedError {
        FederatedError::Rejected {
            party: party.to_string(),
            message: message.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn crypto(stage: &str, reason: impl std::fmt::Display) -> FederatedError {
        FederatedError::Crypto {
            stage: stage.to_string(),
            reason: reason.to_string(),
        }
    }
}

impl Classify for FederatedError {
    fn kind(&self) -> ErrorKind {
        match self {
            FederatedError::InvalidParameter { .. } => ErrorKind::InvalidParameter,
            FederatedError::Rejected { .. }
            | FederatedError::Aborted { .. }
            | FederatedError::Trust { .. } => ErrorKind::Input,
            FederatedError::Crypto { .. } => ErrorKind::Internal,
            FederatedError::Data { source, .. } => source.kind(),
            FederatedError::Dp(e) => e.kind(),
        }
    }

    fn column(&self) -> Option<&str> {
        match self {
            FederatedError::Data { source, .. } => source.column(),
            FederatedError::Dp(e) => e.column(),
            _ => None,
        }
    }

    fn row(&self) -> Option<u64> {
        match self {
            FederatedError::Data { source, .. } => source.row(),
            FederatedError::Dp(e) => e.row(),
            _ => None,
        }
    }
}

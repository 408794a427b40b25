//! The one error type of the network service.

use std::path::Path;

use pets::federated::FederatedError;
use pets::{Classify, ErrorKind};
use thiserror::Error;

/// Result alias of the network service.
pub type Result<T> = std::result::Result<T, NetError>;

/// Why a party of the network service stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NetError {
    /// A configuration file is missing a setting or has a wrong one.
    #[error("{file}: {reason}")]
    Config {
        /// The file.
        file: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// Certificates, keys, or a TLS handshake.
    #[error("TLS: {0}")]
    Tls(String),
    /// Another aggregator holds the lock of this state file (two aggregators must not share
    /// one: each would number rounds and accept job nonces the other does not know).
    #[error(
        "{path}: another aggregator is running on this state file (it holds the lock {lock}); \
         stop it first, or give this aggregator its own state file (state = \"...\")"
    )]
    StateLocked {
        /// The state file.
        path: String,
        /// Its lock file.
        lock: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The connection to the aggregator failed (refused, reset, a certificate it would not
    /// accept, a timeout).
    #[error("connecting to {url}: {reason}")]
    Connect {
        /// The address.
        url: String,
        /// The underlying error, with its causes.
        reason: String,
        /// Nothing listens at the address (connection refused): the party may be down or
        /// restarting, as opposed to a TLS refusal or a timeout.
        down: bool,
    },
    /// The aggregator refused a message or aborted the round, with its reason.
    #[error("the aggregator refused {what} ({status}): {reason}")]
    Refused {
        /// What was sent.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The aggregator's reason.
        reason: String,
    },
    /// A protocol step failed.
    #[error(transparent)]
    Federated(#[from] FederatedError),
    /// A federated fit's step failed (a node reading its table for a fit's round, the
    /// submitter's rounds or model).
    #[error(transparent)]
    Synth(Box<pets_synth::SynthError>),
}

impl From<pets_synth::SynthError> for NetError {
    fn from(e: pets_synth::SynthError) -> NetError {
        NetError::Synth(Box::new(e))
    }
}

impl NetError {
    pub(crate) fn tls(reason: impl Into<String>) -> NetError {
        NetError::Tls(reason.into())
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> NetError {
        NetError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    pub(crate) fn config(file: &Path, reason: impl Into<String>) -> NetError {
        NetError::Config {
            file: file.display().to_string(),
            reason: reason.into(),
        }
    }
}

impl Classify for NetError {
    fn kind(&self) -> ErrorKind {
        match self {
            NetError::Config { .. } => ErrorKind::InvalidParameter,
            NetError::Tls(_) | NetError::Io { .. } | NetError::StateLocked { .. } => {
                ErrorKind::File
            }
            NetError::Connect { .. } | NetError::Refused { .. } => ErrorKind::Input,
            NetError::Federated(e) => e.kind(),
            NetError::Synth(e) => e.kind(),
        }
    }
}

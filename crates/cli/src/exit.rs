//! Errors of the command line and their exit codes.

use std::process::ExitCode;

use pets::data::DataError;
use pets::dp::DpError;

/// An error that ends a command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// From the data layer.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Writing output.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Any other failure of a command (disclosure, DP, ...): bad input or configuration.
    #[error("{0}")]
    Failed(Box<dyn std::error::Error>),
}

impl From<Box<dyn std::error::Error>> for CliError {
    /// Keep the data layer's and the file system's errors typed (for their exit codes).
    fn from(e: Box<dyn std::error::Error>) -> Self {
        let e = match e.downcast::<DataError>() {
            Ok(d) => return CliError::Data(*d),
            Err(e) => e,
        };
        match e.downcast::<DpError>() {
            Ok(d) => CliError::from(*d),
            Err(e) => CliError::Failed(e),
        }
    }
}

impl From<DpError> for CliError {
    /// A data-layer error met while reading for DP (e.g. the file) keeps its exit code.
    fn from(e: DpError) -> Self {
        match e {
            DpError::Data(d) => CliError::Data(d),
            e => CliError::Failed(Box::new(e)),
        }
    }
}

impl CliError {
    /// The process exit code (see the crate docs).
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            CliError::Data(DataError::Io { .. } | DataError::UnknownFormat { .. }) => 4,
            CliError::Io { .. } => 4,
            CliError::Data(DataError::InvalidArgument { .. }) => 2,
            CliError::Data(_) => 3,
            CliError::Failed(e) if e.is::<std::io::Error>() => 4,
            CliError::Failed(_) => 3,
        })
    }

    /// Wrap an I/O error on `path`.
    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        CliError::Io {
            path: path.to_string(),
            source,
        }
    }
}

//! Errors of the command line and their exit codes.

use std::process::ExitCode;

use pets::data::DataError;

/// An error that ends a command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// From the data layer.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Bad arguments that clap could not catch.
    #[error("{0}")]
    Usage(String),
    /// Writing output.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

impl CliError {
    /// The process exit code (see the crate docs).
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            CliError::Usage(_) => 2,
            CliError::Data(DataError::Io { .. } | DataError::UnknownFormat { .. }) => 4,
            CliError::Io { .. } => 4,
            CliError::Data(DataError::InvalidArgument { .. }) => 2,
            CliError::Data(_) => 3,
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

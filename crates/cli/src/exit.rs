//! Errors of the command line and their exit codes.
//!
//! Every error of pets carries an [`ErrorKind`] ([`pets::Classify`]); this is the one place
//! it becomes an exit code ([`ErrorKind::exit_code`]: 2 bad usage, 3 bad input data, 4 file
//! error, 70 internal error). Commands return `Result<_, CliError>` and use `?` on any pets
//! error; nothing downcasts.

use std::process::ExitCode;

use pets::{Classify, ErrorKind};

/// An error that ends a command: its kind (for the exit code) and its message.
#[derive(Debug)]
pub struct CliError {
    kind: ErrorKind,
    message: String,
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Every classified error of pets converts with `?`.
macro_rules! classified {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> Self {
                CliError::classified(&e)
            }
        }
    )*};
}

classified!(
    pets::data::DataError,
    pets::dp::DpError,
    pets::disclosure::ReportError,
    pets::disclosure::ConfigError,
    pets::disclosure::RiskJobError,
    pets::anonymise::AnonymiseError,
    pets::tables::TableError,
    pets::outputs::OutputError,
    pets::dp::budget_store::BudgetStoreError,
    pets_synth::SynthError,
    pets::federated::FederatedError,
);

#[cfg(feature = "net")]
classified!(pets_federated_net::NetError);

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::new(ErrorKind::File, e.to_string())
    }
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        CliError::new(ErrorKind::Internal, format!("writing JSON: {e}"))
    }
}

impl CliError {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CliError {
            kind,
            message: message.into(),
        }
    }

    /// A bad-usage error (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::new(ErrorKind::InvalidParameter, message)
    }

    /// From any classified error of pets.
    pub fn classified(e: &dyn Classify) -> Self {
        CliError::new(e.kind(), e.to_string())
    }

    /// The process exit code (see the crate docs).
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.kind.exit_code())
    }

    /// Wrap an I/O error on `path`.
    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        CliError::new(ErrorKind::File, format!("{path}: {source}"))
    }
}

/// Write `text` to `path` whole or not at all: a temporary file in the same folder, renamed
/// over `path` once complete, so a failure never leaves a partial report.
pub fn write_atomic(path: &std::path::Path, text: &str) -> Result<(), CliError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text).map_err(|e| {
        // A full disk leaves no partial temporary file either.
        let _ = std::fs::remove_file(&tmp);
        CliError::io(path.display(), e)
    })?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CliError::io(path.display(), e)
    })
}

/// Where `path` is, resolved: the file itself when it exists, else its resolved folder and
/// name (so `./a.csv` and `a.csv` are one file).
fn resolved(path: &std::path::Path) -> std::path::PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    match (dir.canonicalize(), path.file_name()) {
        (Ok(d), Some(n)) => d.join(n),
        _ => path.to_path_buf(),
    }
}

/// Refuse an output whose folder does not exist, before any work is done (a fit of minutes
/// must not end in "no such folder"); exit code 4, naming the folder.
pub fn refuse_missing_folder(flag: &str, out: &std::path::Path) -> Result<(), CliError> {
    match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => Err(CliError::new(
            ErrorKind::File,
            format!(
                "{flag} {}: the folder {} does not exist; create it first or choose another \
                 file",
                out.display(),
                dir.display()
            ),
        )),
        _ => Ok(()),
    }
}

/// Refuse to write `out` (the option `flag`) over any of `inputs` (option or argument name,
/// path), or over another output: writing it would destroy what was read. Exit code 2,
/// before anything is read or written.
pub fn refuse_clobber(
    flag: &str,
    out: &std::path::Path,
    inputs: &[(&str, &std::path::Path)],
) -> Result<(), CliError> {
    let target = resolved(out);
    for (name, input) in inputs {
        if resolved(input) == target {
            return Err(CliError::usage(format!(
                "{flag} {} is also the {name}: writing it would destroy what is read; \
                 choose another file",
                out.display()
            )));
        }
    }
    Ok(())
}

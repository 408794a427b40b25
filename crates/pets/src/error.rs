//! One error taxonomy for every front door, and the typed warnings jobs return.
//!
//! Each module keeps its own error enum (`DataError`, `DpError`, `ReportError`, ...: the
//! message in the caller's terms, naming column, row and one value cut short, never a record).
//! What a *front door* needs from an error is only its [`ErrorKind`] and, where it is about
//! one, the column and row: every error type implements [`Classify`], and
//!
//! - the command line maps [`ErrorKind::exit_code`] once (0 ok, 1 a check failed, 2 bad usage,
//!   3 bad input data, 4 file error, 70 internal error);
//! - the Python package maps [`ErrorKind`] once to its exception hierarchy
//!   (`SchemaError`, `DomainError`, `ParseError`, `EmptyInputError`, `PetsIOError`,
//!   `InvalidParameterError`, `BudgetExceededError`, `PetsError`).
//!
//! No door downcasts or matches on another module's variants.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::data::DataError;
use crate::disclosure::{ClassesError, ConfigError, HierarchyError, LinkageError, ReportError};
#[cfg(feature = "dp")]
use crate::dp::{Cost, DpError};

/// What kind of failure an error is, as the front doors see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// An option or argument out of range or inconsistent (k < 1, a negative epsilon,
    /// bounds with lower > upper). Exit code 2; `InvalidParameterError`.
    InvalidParameter,
    /// The schema is invalid, or the data do not match it, or a column is unknown.
    /// Exit code 3; `SchemaError`.
    Schema,
    /// A value outside its declared domain, or a null where none is allowed.
    /// Exit code 3; `DomainError`.
    Domain,
    /// A value not of its column's kind, or a malformed file. Exit code 3; `ParseError`.
    Parse,
    /// A table or file with no rows. Exit code 3; `EmptyInputError`.
    Empty,
    /// A release would overspend the privacy budget (nothing was drawn). Exit code 3;
    /// `BudgetExceededError`.
    Budget,
    /// A file cannot be read or written, or its format is unknown. Exit code 4;
    /// `PetsIOError`.
    File,
    /// Any other bad input or configuration. Exit code 3; `PetsError`.
    Input,
    /// A bug or an impossible state. Exit code 70; `PetsError`.
    Internal,
    /// The user stopped the job (Ctrl-C) at a safe point; nothing was released or written.
    /// Exit code 130 (the shell's code for SIGINT); Python's `KeyboardInterrupt`.
    Cancelled,
}

impl ErrorKind {
    /// The command line's exit code for this kind (see the module docs).
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::InvalidParameter => 2,
            ErrorKind::File => 4,
            ErrorKind::Internal => 70,
            ErrorKind::Cancelled => 130,
            ErrorKind::Schema
            | ErrorKind::Domain
            | ErrorKind::Parse
            | ErrorKind::Empty
            | ErrorKind::Budget
            | ErrorKind::Input => 3,
        }
    }
}

/// An error the front doors can render: its kind, and the column and row it is about.
pub trait Classify: std::error::Error {
    /// The kind of failure.
    fn kind(&self) -> ErrorKind;
    /// The column the error is about, if one.
    fn column(&self) -> Option<&str> {
        None
    }
    /// The 1-based data row the error is about, if one.
    fn row(&self) -> Option<u64> {
        None
    }
    /// For a budget refusal ([`ErrorKind::Budget`]): what was requested, what is left, what
    /// was spent and the total, in the budget's measure.
    #[cfg(feature = "dp")]
    fn budget_figures(&self) -> Option<BudgetFigures> {
        None
    }
}

/// The amounts of a budget refusal.
#[cfg(feature = "dp")]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetFigures {
    /// What the release would have cost.
    pub requested: Cost,
    /// What is left.
    pub remaining: Cost,
    /// What has been spent.
    pub spent: Cost,
    /// The total.
    pub total: Cost,
}

impl Classify for DataError {
    fn kind(&self) -> ErrorKind {
        match self {
            DataError::InvalidSchema { .. }
            | DataError::SchemaParse { .. }
            | DataError::SchemaMismatch { .. }
            | DataError::UnknownColumn { .. } => ErrorKind::Schema,
            DataError::OutOfDomain { .. } | DataError::UnexpectedNull { .. } => ErrorKind::Domain,
            DataError::Unparsable { .. } | DataError::Csv { .. } | DataError::Encoding { .. } => {
                ErrorKind::Parse
            }
            DataError::Empty { .. } => ErrorKind::Empty,
            DataError::Io { .. }
            | DataError::UnknownFormat { .. }
            | DataError::Unsupported { .. } => ErrorKind::File,
            DataError::InvalidArgument { .. } => ErrorKind::InvalidParameter,
            DataError::Cancelled => ErrorKind::Cancelled,
            _ => ErrorKind::Input,
        }
    }

    fn column(&self) -> Option<&str> {
        match self {
            DataError::UnknownColumn { column, .. }
            | DataError::OutOfDomain { column, .. }
            | DataError::Unparsable { column, .. }
            | DataError::UnexpectedNull { column, .. } => Some(column),
            DataError::SchemaMismatch { column, .. } => column.as_deref(),
            DataError::InvalidSchema { column, .. } => column.as_deref(),
            _ => None,
        }
    }

    fn row(&self) -> Option<u64> {
        DataError::row(self)
    }
}

#[cfg(feature = "dp")]
impl Classify for DpError {
    fn kind(&self) -> ErrorKind {
        match self {
            DpError::Data(d) => d.kind(),
            DpError::BudgetFile(b) => Classify::kind(&**b),
            DpError::Partial(p) => p.kind(),
            DpError::OverBudget { .. } => ErrorKind::Budget,
            DpError::NonFinite { .. } | DpError::PersonIds { .. } => ErrorKind::Domain,
            DpError::UnknownColumn { .. } | DpError::WrongKind { .. } => ErrorKind::Schema,
            DpError::InvalidBounds { .. }
            | DpError::InvalidParameter { .. }
            | DpError::InvalidQuery { .. }
            | DpError::IncompatibleMeasure { .. }
            | DpError::Spec(_) => ErrorKind::InvalidParameter,
            _ => ErrorKind::Input,
        }
    }

    fn column(&self) -> Option<&str> {
        match self {
            DpError::Data(d) => Classify::column(d),
            DpError::BudgetFile(b) => Classify::column(&**b),
            DpError::NonFinite { column, .. }
            | DpError::PersonIds { column, .. }
            | DpError::UnknownColumn { column, .. }
            | DpError::WrongKind { column, .. }
            | DpError::InvalidBounds { column, .. } => Some(column),
            _ => None,
        }
    }

    fn row(&self) -> Option<u64> {
        match self {
            DpError::Data(d) => d.row(),
            DpError::NonFinite { row, .. } => Some(*row),
            _ => None,
        }
    }

    fn budget_figures(&self) -> Option<BudgetFigures> {
        match self {
            DpError::BudgetFile(b) => Classify::budget_figures(&**b),
            DpError::OverBudget {
                requested,
                remaining,
                spent,
                total,
                ..
            } => Some(BudgetFigures {
                requested: *requested,
                remaining: *remaining,
                spent: *spent,
                total: *total,
            }),
            _ => None,
        }
    }
}

#[cfg(feature = "dp")]
impl Classify for crate::dp::budget_store::BudgetStoreError {
    fn kind(&self) -> ErrorKind {
        use crate::dp::budget_store::BudgetErrorKind;
        match self.kind() {
            BudgetErrorKind::File => ErrorKind::File,
            BudgetErrorKind::Invalid => ErrorKind::InvalidParameter,
            BudgetErrorKind::OverBudget => ErrorKind::Budget,
            _ => ErrorKind::Input,
        }
    }

    fn budget_figures(&self) -> Option<BudgetFigures> {
        self.as_dp().and_then(Classify::budget_figures)
    }
}

impl Classify for ReportError {
    fn kind(&self) -> ErrorKind {
        match self {
            ReportError::Config(ConfigError::UnknownColumn { .. })
            | ReportError::Classes(ClassesError::UnknownColumn { .. })
            | ReportError::Linkage(LinkageError::MissingColumn { .. }) => ErrorKind::Schema,
            ReportError::Config(ConfigError::EmptyData) => ErrorKind::Empty,
            ReportError::ClassesMismatch { .. } => ErrorKind::Internal,
            _ => ErrorKind::InvalidParameter,
        }
    }

    fn column(&self) -> Option<&str> {
        match self {
            ReportError::Config(
                ConfigError::UnknownColumn { column, .. }
                | ConfigError::QuasiIdentifierIsSensitive { column }
                | ConfigError::DuplicateQuasiIdentifier { column }
                | ConfigError::IntruderColumnNotQuasiIdentifier { column, .. },
            )
            | ReportError::Classes(ClassesError::UnknownColumn { column, .. })
            | ReportError::Linkage(LinkageError::MissingColumn { column, .. }) => Some(column),
            _ => None,
        }
    }
}

impl Classify for ConfigError {
    fn kind(&self) -> ErrorKind {
        match self {
            ConfigError::UnknownColumn { .. } => ErrorKind::Schema,
            ConfigError::EmptyData => ErrorKind::Empty,
            _ => ErrorKind::InvalidParameter,
        }
    }
}

impl Classify for HierarchyError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidParameter
    }
}

/// Something a job wants its user to know about a result that is still valid: rendered on
/// stderr by the CLI, as a Python warning by the package, and kept in reports and ledgers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// What kind of warning.
    pub kind: WarningKind,
    /// The column it is about, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The message, in the user's terms.
    pub message: String,
}

/// Kinds of [`Warning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WarningKind {
    /// A domain was read from the data, not declared: the set of values it contains is
    /// not protected (DP), or the risk is measured on values the custodian did not choose.
    DomainFromData,
    /// The whole schema was inferred from the data.
    InferredSchema,
    /// Privacy is per row, not per person (no person id was given).
    RowLevelPrivacy,
    /// Values were clamped to bounds, approximated by bins, or otherwise changed.
    Approximation,
    /// How a text file was read was sniffed (no header, a delimiter, trimmed padding).
    CsvDialect,
    /// Anything else worth reading.
    Note,
}

impl Warning {
    /// A warning of `kind` with `message`.
    pub fn new(kind: WarningKind, message: impl Into<String>) -> Warning {
        Warning {
            kind,
            column: None,
            message: message.into(),
        }
    }

    /// About `column`.
    pub fn on(mut self, column: impl Into<String>) -> Warning {
        self.column = Some(column.into());
        self
    }

    /// The warning for a schema inferred from the data.
    pub fn inferred_schema() -> Warning {
        Warning::new(
            WarningKind::InferredSchema,
            crate::disclosure::INFERRED_SCHEMA_WARNING,
        )
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

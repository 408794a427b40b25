//! Python exceptions raised by the native layer, and the one mapping from pets' error
//! taxonomy ([`ErrorKind`], through [`Classify`]) to them.
//!
//! The hierarchy, all importable from `pets`:
//!
//! | exception | bases | raised for |
//! |---|---|---|
//! | `PetsError` | `Exception` | every error of pets (Arrow, Parquet, bad arguments) |
//! | `SchemaError` | `PetsError` | invalid or unparsable schema, data not matching it, unknown column |
//! | `DomainError` | `PetsError`, `ValueError` | a value outside its declared domain, a null where none is allowed |
//! | `ParseError` | `PetsError`, `ValueError` | a value not of its column's kind, malformed CSV |
//! | `EmptyInputError` | `PetsError` | a table or file with no rows |
//! | `PetsIOError` | `PetsError`, `OSError` | a path that cannot be read or written, an unknown file extension |
//! | `InvalidParameterError` | `PetsError`, `ValueError` | a setting out of range: k < 1, t outside [0, 1], a negative epsilon, bounds with lower > upper |
//! | `BudgetExceededError` | `PetsError` | a DP release that would overspend the session's budget (nothing was drawn) |
//!
//! Single-base exceptions are declared with [`create_exception!`]; the three with two bases
//! are built once per interpreter by calling `type(name, bases, namespace)`, since
//! `create_exception!` takes one base only. Every exception carries the Rust message
//! unchanged, and the attributes `column` and `row` (1-based data row), `None` when the
//! error is not about one.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

use pets::data::DataError;
use pets::{Classify, ErrorKind};

create_exception!(
    pets,
    PetsError,
    PyException,
    "Base class of every error raised by pets."
);
create_exception!(
    pets,
    SchemaError,
    PetsError,
    "The schema is invalid or cannot be parsed, the data does not match it, or a column is unknown."
);
create_exception!(
    pets,
    BudgetExceededError,
    PetsError,
    "A differentially private release would spend more than is left of the session's budget; \
     nothing was drawn or charged."
);
create_exception!(
    pets,
    EmptyInputError,
    PetsError,
    "The input table or file holds no rows (or no columns)."
);

static DOMAIN_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static PARSE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static IO_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static INVALID_PARAMETER_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// The exceptions that subclass both `PetsError` and a built-in exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DualError {
    /// `DomainError(PetsError, ValueError)`.
    Domain,
    /// `ParseError(PetsError, ValueError)`.
    Parse,
    /// `PetsIOError(PetsError, OSError)`.
    Io,
    /// `InvalidParameterError(PetsError, ValueError)`.
    InvalidParameter,
}

impl DualError {
    fn spec(self) -> (&'static PyOnceLock<Py<PyType>>, &'static str, &'static str) {
        match self {
            DualError::Domain => (
                &DOMAIN_ERROR,
                "DomainError",
                "A value lies outside its column's declared domain, or is null where the schema \
                 allows no nulls.",
            ),
            DualError::Parse => (
                &PARSE_ERROR,
                "ParseError",
                "A value cannot be read as its column's kind, or a CSV file is malformed.",
            ),
            DualError::Io => (
                &IO_ERROR,
                "PetsIOError",
                "A file cannot be read or written, or its format cannot be told from its extension.",
            ),
            DualError::InvalidParameter => (
                &INVALID_PARAMETER_ERROR,
                "InvalidParameterError",
                "A setting is out of its valid range (k < 1, t outside [0, 1], a negative \
                 epsilon, clamping bounds with lower > upper, a quasi-identifier that is also \
                 the sensitive attribute...).",
            ),
        }
    }

    /// The exception type, created on first use.
    pub fn type_object(self, py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
        let (cell, name, doc) = self.spec();
        let ty = cell.get_or_try_init(py, || -> PyResult<Py<PyType>> {
            let builtin = match self {
                DualError::Domain | DualError::Parse | DualError::InvalidParameter => {
                    py.get_type::<PyValueError>()
                }
                DualError::Io => py.get_type::<PyOSError>(),
            };
            let bases = PyTuple::new(py, [py.get_type::<PetsError>(), builtin])?;
            let namespace = PyDict::new(py);
            namespace.set_item("__module__", "pets")?;
            namespace.set_item("__doc__", doc)?;
            let made = py.get_type::<PyType>().call1((name, bases, namespace))?;
            Ok(made.cast_into::<PyType>()?.unbind())
        })?;
        Ok(ty.bind(py).clone())
    }
}

/// Which exception a [`DataError`] becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `PetsError` itself.
    Base,
    /// `SchemaError`.
    Schema,
    /// `EmptyInputError`.
    Empty,
    /// `BudgetExceededError`.
    Budget,
    /// One of the two-base exceptions.
    Dual(DualError),
}

/// The exception of each [`ErrorKind`]: the one place the taxonomy becomes Python's.
pub fn kind_for(kind: ErrorKind) -> Kind {
    match kind {
        ErrorKind::Schema => Kind::Schema,
        ErrorKind::Domain => Kind::Dual(DualError::Domain),
        ErrorKind::Parse => Kind::Dual(DualError::Parse),
        ErrorKind::Empty => Kind::Empty,
        ErrorKind::Budget => Kind::Budget,
        ErrorKind::File => Kind::Dual(DualError::Io),
        ErrorKind::InvalidParameter => Kind::Dual(DualError::InvalidParameter),
        _ => Kind::Base,
    }
}

/// Build the Python exception for any error of pets: the same message, plus `column` and
/// `row`, and for a budget refusal `requested`, `remaining`, `spent`, `total` and `measure`.
pub fn classified(py: Python<'_>, err: &dyn Classify) -> PyErr {
    if err.kind() == ErrorKind::Cancelled {
        // The job stopped at a safe point because Python asked (Ctrl-C): re-raise it.
        return pyo3::exceptions::PyKeyboardInterrupt::new_err(err.to_string());
    }
    let built = new_error(
        py,
        kind_for(err.kind()),
        &err.to_string(),
        err.column(),
        err.row(),
    )
    .and_then(|value| {
        if let Some(b) = err.budget_figures() {
            value.setattr("requested", b.requested.main())?;
            value.setattr("remaining", b.remaining.main())?;
            value.setattr("spent", b.spent.main())?;
            value.setattr("total", b.total.main())?;
            value.setattr("measure", b.requested.main_name())?;
        }
        Ok(PyErr::from_value(value))
    });
    built.unwrap_or_else(|e| e)
}

/// Build the Python exception for `err` (a data-layer error).
pub fn to_pyerr(py: Python<'_>, err: DataError) -> PyErr {
    classified(py, &err)
}

/// A new exception instance of `kind` with `message` and the `column` and `row` attributes
/// (not raised: callers may set more attributes before wrapping it in a [`PyErr`]).
pub fn new_error<'py>(
    py: Python<'py>,
    kind: Kind,
    message: &str,
    column: Option<&str>,
    row: Option<u64>,
) -> PyResult<Bound<'py, PyAny>> {
    let ty = match kind {
        Kind::Base => py.get_type::<PetsError>(),
        Kind::Schema => py.get_type::<SchemaError>(),
        Kind::Empty => py.get_type::<EmptyInputError>(),
        Kind::Budget => py.get_type::<BudgetExceededError>(),
        Kind::Dual(d) => d.type_object(py)?,
    };
    let value = ty.call1((message,))?;
    value.setattr("column", column)?;
    value.setattr("row", row)?;
    Ok(value)
}

/// Build the exception of `kind` for `message` (no column or row).
pub fn error_of(py: Python<'_>, kind: Kind, message: &str, column: Option<&str>) -> PyErr {
    match new_error(py, kind, message, column, None) {
        Ok(v) => PyErr::from_value(v),
        Err(e) => e,
    }
}

/// Extension trait: turn a `Result<T, E>` of any pets error into a `PyResult<T>`.
pub trait IntoPyResult<T> {
    /// Map the error to its Python exception.
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T, E: Classify> IntoPyResult<T> for Result<T, E> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| classified(py, &e))
    }
}

/// A `TypeError` saying what an argument should have been and what it was.
pub fn wrong_type(arg: &str, expected: &str, got: &Bound<'_, PyAny>) -> PyErr {
    let type_name = got
        .get_type()
        .fully_qualified_name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "<unknown type>".into());
    PyTypeError::new_err(format!("{arg} must be {expected}, not {type_name}"))
}

/// Add the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("PetsError", py.get_type::<PetsError>())?;
    m.add("SchemaError", py.get_type::<SchemaError>())?;
    m.add("EmptyInputError", py.get_type::<EmptyInputError>())?;
    m.add("DomainError", DualError::Domain.type_object(py)?)?;
    m.add("ParseError", DualError::Parse.type_object(py)?)?;
    m.add("PetsIOError", DualError::Io.type_object(py)?)?;
    m.add(
        "InvalidParameterError",
        DualError::InvalidParameter.type_object(py)?,
    )?;
    m.add("BudgetExceededError", py.get_type::<BudgetExceededError>())?;
    Ok(())
}

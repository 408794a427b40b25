//! Disclosure risk (`pets::disclosure`): the release panel's assessment, as `pets risk` runs it.
//!
//! [`assess_risk`] parses its arguments (the data and optional population and intruder tables
//! as Arrow, zero-copy; the schema and [`RiskConfig`] as JSON) and runs the core's
//! [`RiskJob`], the same job `pets risk` runs, with the interpreter detached. The result is a
//! [`RiskReport`] holding the Rust report: JSON and HTML are rendered on demand. Errors
//! become the Python exceptions of [`crate::errors`].

use std::borrow::Cow;
use std::collections::BTreeMap;

use pyo3::prelude::*;

use pets::data::{Schema, TableSource};
use pets::disclosure::{GroundChoice, INFERRED_SCHEMA_WARNING, RiskConfig, RiskJob, render_html};

use crate::arrow::import_table;
use crate::errors::{DualError, IntoPyResult, Kind, error_of};

/// The warning a report carries when its schema was inferred from the data.
#[pyfunction]
pub fn inferred_schema_warning() -> &'static str {
    INFERRED_SCHEMA_WARNING
}

/// Assess the disclosure risk of a table, as `pets risk` does; returns a [`RiskReport`].
///
/// `schema_json` is the declared schema (`None`: inferred from `data`, with the CLI's
/// warning in the report). `config_json` is a `RiskConfig` in JSON; empty quasi-identifiers
/// and sensitive attribute are taken from the schema's roles. `population` (same schema) gives
/// exact journalist and marketer risk; `attacker` is an intruder's table linked to the release
/// on the quasi-identifiers it holds. `generalise` lists `(column, level)` pairs applied to
/// the schema first, as `pets risk --generalise` does.
#[pyfunction]
#[pyo3(signature = (data, schema_json, config_json, population = None, attacker = None,
                    generalise = Vec::new(), hierarchy = None, ground_distance = "auto",
                    progress = None))]
#[allow(clippy::too_many_arguments)] // the Python signature, one keyword each
pub fn assess_risk(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    schema_json: Option<&str>,
    config_json: &str,
    population: Option<&Bound<'_, PyAny>>,
    attacker: Option<&Bound<'_, PyAny>>,
    generalise: Vec<(String, String)>,
    hierarchy: Option<BTreeMap<String, Vec<String>>>,
    ground_distance: &str,
    progress: Option<Py<PyAny>>,
) -> PyResult<RiskReport> {
    let mut job = risk_job(
        py,
        source("data", data)?,
        schema_json,
        config_json,
        generalise,
        hierarchy,
        ground_distance,
    )?;
    if let Some(p) = population {
        job = job.population(source("population", p)?);
    }
    if let Some(a) = attacker {
        job = job.attacker(source("attacker", a)?);
    }
    let job = job.progress(crate::progress::observer(progress));
    let outcome = py.detach(|| job.run()).py_err(py)?;
    Ok(RiskReport {
        report: outcome.report,
    })
}

/// The [`RiskJob`] of the arguments every risk function takes.
fn risk_job(
    py: Python<'_>,
    source: TableSource,
    schema_json: Option<&str>,
    config_json: &str,
    generalise: Vec<(String, String)>,
    hierarchy: Option<BTreeMap<String, Vec<String>>>,
    ground_distance: &str,
) -> PyResult<RiskJob> {
    let config: RiskConfig = serde_json::from_str(config_json).map_err(|e| {
        error_of(
            py,
            Kind::Dual(DualError::InvalidParameter),
            &format!("invalid risk configuration: {e}"),
            None,
        )
    })?;
    let schema = schema_json.map(Schema::from_json).transpose().py_err(py)?;
    let ground: GroundChoice = ground_distance.parse().py_err(py)?;
    let mut job = RiskJob::new(source, config)
        .schema_opt(schema)
        .ground_distance(ground);
    for (column, level) in generalise {
        job = job.generalise(column, level);
    }
    if let Some(h) = hierarchy {
        job = job.hierarchy(h);
    }
    Ok(job)
}

/// Check a partitioned assessment at the driver, before any partition is read: the options,
/// and `data`'s columns and types (zero rows will do) against the schema. Returns the
/// columns the assessment reads (`RiskJob::check`).
#[pyfunction]
#[pyo3(signature = (data, schema_json, config_json, generalise = Vec::new(), hierarchy = None,
                    ground_distance = "auto"))]
pub fn risk_check(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    schema_json: &str,
    config_json: &str,
    generalise: Vec<(String, String)>,
    hierarchy: Option<BTreeMap<String, Vec<String>>>,
    ground_distance: &str,
) -> PyResult<Vec<String>> {
    let job = risk_job(
        py,
        source("data", data)?,
        Some(schema_json),
        config_json,
        generalise,
        hierarchy,
        ground_distance,
    )?;
    py.detach(|| job.check()).py_err(py)
}

/// One partition's equivalence classes as bytes (`RiskJob::classes`, `pets::partial`):
/// exact counts, for merging at the driver only.
#[pyfunction]
#[pyo3(signature = (data, schema_json, config_json, generalise = Vec::new(), hierarchy = None,
                    ground_distance = "auto"))]
pub fn risk_partial(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    schema_json: &str,
    config_json: &str,
    generalise: Vec<(String, String)>,
    hierarchy: Option<BTreeMap<String, Vec<String>>>,
    ground_distance: &str,
) -> PyResult<Cow<'static, [u8]>> {
    let job = risk_job(
        py,
        source("data", data)?,
        Some(schema_json),
        config_json,
        generalise,
        hierarchy,
        ground_distance,
    )?;
    Ok(Cow::Owned(py.detach(|| job.partial()).py_err(py)?))
}

/// Merge the partitions' bytes ([`risk_partial`]) and finish the report at the driver
/// (`RiskJob::finish_partials`): the report `assess_risk` gives on the whole table.
/// `data` gives the partitions' columns and types (zero rows will do).
#[pyfunction]
#[pyo3(signature = (partials, data, schema_json, config_json, generalise = Vec::new(),
                    hierarchy = None, ground_distance = "auto"))]
#[allow(clippy::too_many_arguments)] // the Python signature, one keyword each
pub fn risk_finish(
    py: Python<'_>,
    partials: Vec<Vec<u8>>,
    data: &Bound<'_, PyAny>,
    schema_json: &str,
    config_json: &str,
    generalise: Vec<(String, String)>,
    hierarchy: Option<BTreeMap<String, Vec<String>>>,
    ground_distance: &str,
) -> PyResult<RiskReport> {
    let job = risk_job(
        py,
        source("data", data)?,
        Some(schema_json),
        config_json,
        generalise,
        hierarchy,
        ground_distance,
    )?;
    let outcome = py.detach(|| job.finish_partials(&partials)).py_err(py)?;
    Ok(RiskReport {
        report: outcome.report,
    })
}

/// An Arrow table from Python as a job's source (zero-copy).
fn source(name: &str, data: &Bound<'_, PyAny>) -> PyResult<TableSource> {
    let (batches, schema) = import_table(name, data)?;
    Ok(TableSource::batches(name, schema, batches))
}

/// A disclosure-risk report (`pets::disclosure::RiskReport`), rendered on demand.
#[pyclass(module = "pets._native", name = "RiskReport", frozen)]
pub struct RiskReport {
    report: pets::disclosure::RiskReport,
}

impl RiskReport {
    /// Wrap a core report (e.g. an anonymisation's before and after).
    pub(crate) fn from_report(report: pets::disclosure::RiskReport) -> RiskReport {
        RiskReport { report }
    }
}

#[pymethods]
impl RiskReport {
    /// Whether every check passed.
    #[getter]
    fn passed(&self) -> bool {
        self.report.passed
    }

    /// `PASS` or `FAIL`.
    #[getter]
    fn verdict(&self) -> &str {
        &self.report.verdict
    }

    /// The report as JSON, exactly as `pets risk --json` writes it (pretty by default).
    #[pyo3(signature = (pretty = true))]
    fn to_json(&self, pretty: bool) -> PyResult<String> {
        let text = if pretty {
            serde_json::to_string_pretty(&self.report)
        } else {
            serde_json::to_string(&self.report)
        };
        text.map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
    }

    /// The self-contained HTML report, exactly as `pets risk --report` writes it.
    fn to_html(&self, py: Python<'_>) -> String {
        py.detach(|| render_html(&self.report))
    }

    fn __repr__(&self) -> String {
        format!(
            "<pets._native.RiskReport {} over {} records>",
            self.report.verdict, self.report.n_records
        )
    }
}

/// Add the disclosure functions and classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RiskReport>()?;
    m.add_function(wrap_pyfunction!(assess_risk, m)?)?;
    m.add_function(wrap_pyfunction!(risk_check, m)?)?;
    m.add_function(wrap_pyfunction!(risk_partial, m)?)?;
    m.add_function(wrap_pyfunction!(risk_finish, m)?)?;
    m.add_function(wrap_pyfunction!(inferred_schema_warning, m)?)?;
    Ok(())
}

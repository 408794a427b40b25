//! Anonymisation (`pets::anonymise`): the least coarsening that passes, as `pets anonymise`
//! runs it; and protected count tables (`pets::tables`), as `pets table` makes them.
//!
//! [`anonymise`] parses its arguments (the data as Arrow, zero-copy, or a file path; the
//! schema and the [`RiskConfig`] as JSON; hierarchies in the CLI's short form) and runs the
//! core's [`AnonymiseJob`] with the interpreter detached. Errors become the Python
//! exceptions of [`crate::errors`].

use std::collections::BTreeMap;

use pyo3::prelude::*;

use pets::anonymise::{AnonymiseJob, AnonymiseOutcome, LossMeasure, SuppressedRows, render_html};
use pets::data::{Schema, TableSource};
use pets::disclosure::{GroundChoice, RiskConfig};

use crate::arrow::import_table;
use crate::disclosure::RiskReport;
use crate::errors::{DualError, IntoPyResult, Kind, error_of};

/// Anonymise a table, as `pets anonymise` does; returns an [`AnonymiseResult`].
///
/// `data` is an Arrow-compatible table or a file path (str). `hierarchies` maps a column to
/// a hierarchy in the short form (`"5,10,20;top=90"`, `"day,month"`, `"postcode"`,
/// `"@eth.csv"`, `"none"`) or JSON. `microaggregate` maps a column to `mean`, `median`,
/// `mode` or `interval`; `local_recoding` is the number of local recoding iterations.
/// `output` writes the release (and nothing else).
#[pyfunction]
#[pyo3(signature = (data, schema_json, config_json, hierarchies, suppression_limit = 0.05,
                    measure = "loss", front_slack = 0.5, output = None, mask = false,
                    ground_distance = "auto", drop = Vec::new(),
                    microaggregate = BTreeMap::new(), local_recoding = 0, progress = None))]
#[allow(clippy::too_many_arguments)] // the Python signature, one keyword each
pub fn anonymise(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    schema_json: Option<&str>,
    config_json: &str,
    hierarchies: BTreeMap<String, String>,
    suppression_limit: f64,
    measure: &str,
    front_slack: f64,
    output: Option<String>,
    mask: bool,
    ground_distance: &str,
    drop: Vec<String>,
    microaggregate: BTreeMap<String, String>,
    local_recoding: usize,
    progress: Option<Py<PyAny>>,
) -> PyResult<AnonymiseResult> {
    let config: RiskConfig = serde_json::from_str(config_json).map_err(|e| {
        error_of(
            py,
            Kind::Dual(DualError::InvalidParameter),
            &format!("invalid privacy models: {e}"),
            None,
        )
    })?;
    let schema = schema_json.map(Schema::from_json).transpose().py_err(py)?;
    let ground: GroundChoice = ground_distance.parse().py_err(py)?;
    let measure: LossMeasure = measure.parse().py_err(py)?;
    let source = path_or_table(data)?;
    let entries: Vec<String> = hierarchies
        .into_iter()
        .map(|(column, spec)| format!("{column}={spec}"))
        .collect();
    let functions: Vec<String> = microaggregate
        .into_iter()
        .map(|(column, function)| format!("{column}={function}"))
        .collect();
    let mut job = AnonymiseJob::new(source, config)
        .schema_opt(schema)
        .ground_distance(ground)
        .hierarchy_entries(&entries)
        .py_err(py)?
        .microaggregate_entries(&functions)
        .py_err(py)?
        .local_recoding(local_recoding)
        .suppression_limit(suppression_limit)
        .measure(measure)
        .front_slack(front_slack)
        .drop_columns(drop)
        .suppressed_rows(if mask {
            SuppressedRows::Mask
        } else {
            SuppressedRows::Remove
        });
    if let Some(path) = output {
        job = job.output(path);
    }
    let job = job.progress(crate::progress::observer(progress));
    let outcome = py.detach(|| job.run()).py_err(py)?;
    Ok(AnonymiseResult { outcome })
}

/// A job's source: a file path (str), read by the core, or an Arrow table (zero-copy).
pub(crate) fn path_or_table(data: &Bound<'_, PyAny>) -> PyResult<TableSource> {
    match data.extract::<String>() {
        Ok(path) => Ok(TableSource::file(path)),
        Err(_) => {
            let (batches, schema) = import_table("data", data)?;
            Ok(TableSource::batches("data", schema, batches))
        }
    }
}

/// The outcome of an anonymisation (`pets::anonymise::AnonymiseOutcome`).
#[pyclass(module = "pets._native", name = "AnonymiseResult", frozen)]
pub struct AnonymiseResult {
    outcome: AnonymiseOutcome,
}

#[pymethods]
impl AnonymiseResult {
    /// The whole outcome as JSON, exactly as `pets anonymise --json` writes it.
    #[pyo3(signature = (pretty = true))]
    fn to_json(&self, pretty: bool) -> PyResult<String> {
        let text = if pretty {
            serde_json::to_string_pretty(&self.outcome)
        } else {
            serde_json::to_string(&self.outcome)
        };
        text.map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
    }

    /// The HTML report, exactly as `pets anonymise --report` writes it.
    fn to_html(&self, py: Python<'_>) -> String {
        py.detach(|| render_html(&self.outcome))
    }

    /// The release's schema as JSON.
    fn release_schema_json(&self) -> String {
        self.outcome.release_schema.to_json()
    }

    /// The risk report of the extract as it was.
    fn before(&self) -> RiskReport {
        RiskReport::from_report(self.outcome.before.clone())
    }

    /// The risk report of the release.
    fn after(&self) -> RiskReport {
        RiskReport::from_report(self.outcome.after.clone())
    }

    /// Warnings, as text.
    fn warnings(&self) -> Vec<String> {
        self.outcome
            .warnings
            .iter()
            .map(|w| w.message.clone())
            .collect()
    }
}

/// Register the functions and classes of this module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(anonymise, m)?)?;
    m.add_function(wrap_pyfunction!(protect_tables, m)?)?;
    m.add_class::<AnonymiseResult>()?;
    Ok(())
}

/// Protect count tables, as `pets table` does; returns the JSON `pets table --json` writes,
/// the warnings, the long format `pets table --out` writes (header, rows) and the HTML report
/// `pets table --report` writes.
///
/// `tables` lists each table's columns; `rule` is `"hes"` or `"threshold"` (with
/// `threshold`, `protection`, `secondary` = `"greedy"` or `"exact"`, and `cost` = `"cells"`
/// or `"value"`); `mean` and `median` name numeric columns whose statistics are published
/// beside each count.
#[pyfunction]
#[pyo3(signature = (
    data, schema_json, tables, rule = "hes", threshold = 10, protection = None,
    secondary = "greedy", cost = "cells", mean = Vec::new(), median = Vec::new()
))]
#[allow(clippy::too_many_arguments)]
pub fn protect_tables(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    schema_json: Option<&str>,
    tables: Vec<Vec<String>>,
    rule: &str,
    threshold: u64,
    protection: Option<u64>,
    secondary: &str,
    cost: &str,
    mean: Vec<String>,
    median: Vec<String>,
) -> PyResult<TablesOut> {
    let invalid =
        |message: String| error_of(py, Kind::Dual(DualError::InvalidParameter), &message, None);
    let rule = match rule {
        "hes" => pets::tables::Rule::Hes,
        "threshold" => pets::tables::Rule::Threshold {
            threshold,
            protection: protection.unwrap_or(threshold),
        },
        other => {
            return Err(invalid(format!(
                "rule must be \"hes\" or \"threshold\", not {other:?}"
            )));
        }
    };
    let secondary = match secondary {
        "greedy" => pets::tables::Secondary::Greedy,
        "exact" => pets::tables::Secondary::Exact,
        other => {
            return Err(invalid(format!(
                "secondary must be \"greedy\" or \"exact\", not {other:?}"
            )));
        }
    };
    let cost = match cost {
        "cells" => pets::tables::Cost::Cells,
        "value" => pets::tables::Cost::Value,
        other => {
            return Err(invalid(format!(
                "cost must be \"cells\" or \"value\", not {other:?}"
            )));
        }
    };
    let statistics = mean
        .into_iter()
        .map(pets::tables::Statistic::mean)
        .chain(median.into_iter().map(pets::tables::Statistic::median))
        .collect();
    let schema = schema_json.map(Schema::from_json).transpose().py_err(py)?;
    let source = path_or_table(data)?;
    let job = pets::tables::TableJob::new(source, tables, rule)
        .schema_opt(schema)
        .secondary(secondary, cost)
        .statistics(statistics);
    let out = py.detach(|| job.run()).py_err(py)?;
    let json = serde_json::to_string(&out)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    Ok((
        json,
        out.warnings.iter().map(|w| w.message.clone()).collect(),
        out.long_format(),
        pets::tables::render_html(&out),
    ))
}

/// What [`protect_tables`] returns: JSON, warnings, long format (header, rows), HTML.
type TablesOut = (String, Vec<String>, (Vec<String>, Vec<Vec<String>>), String);

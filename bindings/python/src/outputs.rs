//! Output checking (`pets::outputs`): checked tables and models, and the bundle a release
//! panel reviews, as `pets outputs` makes them.
//!
//! Every function parses its arguments (the data as Arrow, zero-copy, or a file path; the
//! schema, rules and model summaries as JSON) and calls the core: [`OutputJob`] computes and
//! checks a table, [`check_model`] checks a fitted model, [`Bundle`] records. Checked tables
//! cross back as JSON (the exact form `record.json` holds), which `pets.outputs` wraps.

use std::path::Path;

use pyo3::prelude::*;

use pets::data::Schema;
use pets::outputs::{
    Agg, Bundle, CheckedTable, Decision, Mitigation, ModelFit, OutputJob, OutputRules, Provenance,
    SurvivalJob, check_model,
};

use crate::anonymise::path_or_table;
use crate::errors::{DualError, IntoPyResult, Kind, error_of};

fn invalid(py: Python<'_>, message: &str) -> PyErr {
    error_of(py, Kind::Dual(DualError::InvalidParameter), message, None)
}

/// The rules: a TOML file (`rules_path`), a JSON object of the same keys (`rules_json`),
/// the HES preset, or ACRO's defaults.
fn rules_of(
    py: Python<'_>,
    rules_path: Option<&str>,
    rules_json: Option<&str>,
    hes: bool,
) -> PyResult<OutputRules> {
    let rules = match (rules_path, rules_json) {
        (Some(p), _) => OutputRules::load(Path::new(p)).py_err(py)?,
        (None, Some(j)) => {
            let mut rules: OutputRules =
                serde_json::from_str(j).map_err(|e| invalid(py, &format!("output rules: {e}")))?;
            if rules.preset == pets::outputs::Preset::Hes && !j.contains("zeros_disclosive") {
                rules.zeros_disclosive = false;
            }
            rules
        }
        (None, None) if hes => OutputRules::hes(),
        (None, None) => OutputRules::default(),
    };
    rules.validate().py_err(py)?;
    Ok(rules)
}

fn table_json(py: Python<'_>, t: &CheckedTable) -> PyResult<String> {
    serde_json::to_string(t).map_err(|e| invalid(py, &e.to_string()))
}

/// Compute and check a crosstab (`values` None, `agg` "count") or a pivot table; returns
/// the checked table as JSON and the warnings.
#[pyfunction]
#[pyo3(signature = (data, by, values = None, agg = "count", schema_json = None,
                    rules_path = None, rules_json = None, hes = false, mitigate = "none"))]
#[allow(clippy::too_many_arguments)] // the Python signature, one keyword each
pub fn outputs_table(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    by: Vec<String>,
    values: Option<String>,
    agg: &str,
    schema_json: Option<&str>,
    rules_path: Option<&str>,
    rules_json: Option<&str>,
    hes: bool,
    mitigate: &str,
) -> PyResult<(String, Vec<String>)> {
    let rules = rules_of(py, rules_path, rules_json, hes)?;
    let schema = schema_json.map(Schema::from_json).transpose().py_err(py)?;
    let agg = Agg::parse(agg).py_err(py)?;
    let mitigation = mitigation_of(py, mitigate)?;
    let source = path_or_table(data)?;
    let job = OutputJob::table(source, by, values, agg)
        .schema_opt(schema)
        .rules(rules)
        .mitigation(mitigation);
    let out = py.detach(|| job.run()).py_err(py)?;
    let warnings = out.warnings.iter().map(|w| w.to_string()).collect();
    Ok((table_json(py, &out)?, warnings))
}

/// A Kaplan-Meier survival table of `time` and `event`, checked (and small steps merged
/// when `mitigate` is "suppress" or "round"); the checked table as JSON and the warnings.
#[pyfunction]
#[pyo3(signature = (data, time, event, rules_path = None, rules_json = None, hes = false,
                    mitigate = "none"))]
#[allow(clippy::too_many_arguments)] // the Python signature, one keyword each
pub fn outputs_survival(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    time: &str,
    event: &str,
    rules_path: Option<&str>,
    rules_json: Option<&str>,
    hes: bool,
    mitigate: &str,
) -> PyResult<(String, Vec<String>)> {
    let rules = rules_of(py, rules_path, rules_json, hes)?;
    let mitigation = mitigation_of(py, mitigate)?;
    let job = SurvivalJob::new(path_or_table(data)?, time, event)
        .rules(rules)
        .mitigation(mitigation);
    let out = py.detach(|| job.run()).py_err(py)?;
    let warnings = out.warnings.iter().map(|w| w.to_string()).collect();
    Ok((table_json(py, &out)?, warnings))
}

fn mitigation_of(py: Python<'_>, mitigate: &str) -> PyResult<Mitigation> {
    match mitigate {
        "none" => Ok(Mitigation::None),
        "suppress" => Ok(Mitigation::Suppress),
        "round" => Ok(Mitigation::Round),
        other => Err(invalid(
            py,
            &format!("mitigate={other:?}: use None, \"suppress\" or \"round\""),
        )),
    }
}

/// Check a fitted model (its summary as JSON: method, dependent, observations,
/// coefficients) against the residual degrees-of-freedom rule; the checked table as JSON.
#[pyfunction]
#[pyo3(signature = (fit_json, rules_path = None, rules_json = None, hes = false))]
pub fn outputs_model(
    py: Python<'_>,
    fit_json: &str,
    rules_path: Option<&str>,
    rules_json: Option<&str>,
    hes: bool,
) -> PyResult<String> {
    let rules = rules_of(py, rules_path, rules_json, hes)?;
    let fit: ModelFit =
        serde_json::from_str(fit_json).map_err(|e| invalid(py, &format!("model summary: {e}")))?;
    table_json(py, &check_model(fit, &rules).py_err(py)?)
}

/// Append a checked table (JSON, as returned above) to the bundle in `dir`; the data's
/// provenance is the file `data_path` (name and SHA-256) or `source_name` with an optional
/// hash. Returns the output's record as JSON.
#[pyfunction]
#[pyo3(signature = (dir, table_json, call, data_path = None, source_name = None,
                    sha256 = None, exception = None))]
#[allow(clippy::too_many_arguments)] // the Python signature, one keyword each
pub fn outputs_bundle_append(
    py: Python<'_>,
    dir: &str,
    table_json: &str,
    call: String,
    data_path: Option<&str>,
    source_name: Option<String>,
    sha256: Option<String>,
    exception: Option<&str>,
) -> PyResult<String> {
    let table: CheckedTable = serde_json::from_str(table_json)
        .map_err(|e| invalid(py, &format!("checked table: {e}")))?;
    let provenance = match data_path {
        Some(p) => Provenance::of_file(Path::new(p)).py_err(py)?,
        None => Provenance::named(
            source_name.unwrap_or_else(|| "in-memory table".into()),
            sha256,
        ),
    };
    let record = py
        .detach(|| Bundle::append(Path::new(dir), table, call, provenance, exception))
        .py_err(py)?;
    serde_json::to_string(&record).map_err(|e| invalid(py, &e.to_string()))
}

/// The analyst's exception request for output `id` of the bundle in `dir`.
#[pyfunction]
pub fn outputs_bundle_exception(py: Python<'_>, dir: &str, id: &str, reason: &str) -> PyResult<()> {
    let mut b = Bundle::load(Path::new(dir)).py_err(py)?;
    b.request_exception(id, reason).py_err(py)?;
    b.finalise().py_err(py)
}

/// The checker's decision (`approve` / `reject`) on output `id`.
#[pyfunction]
#[pyo3(signature = (dir, id, decision, reason = ""))]
pub fn outputs_bundle_decide(
    py: Python<'_>,
    dir: &str,
    id: &str,
    decision: &str,
    reason: &str,
) -> PyResult<()> {
    let decision = match decision {
        "approve" => Decision::Approve,
        "reject" => Decision::Reject,
        other => {
            return Err(invalid(
                py,
                &format!("decision {other:?}: use \"approve\" or \"reject\""),
            ));
        }
    };
    let mut b = Bundle::load(Path::new(dir)).py_err(py)?;
    b.decide(id, decision, reason).py_err(py)?;
    b.finalise().py_err(py)
}

/// The bundle's record (JSON) and summary text, as `pets outputs review` prints it.
#[pyfunction]
pub fn outputs_bundle_read(py: Python<'_>, dir: &str) -> PyResult<(String, String)> {
    let b = Bundle::load(Path::new(dir)).py_err(py)?;
    let json = serde_json::to_string(&b.record).map_err(|e| invalid(py, &e.to_string()))?;
    Ok((json, b.summary_text()))
}

/// Add the functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(outputs_table, m)?)?;
    m.add_function(wrap_pyfunction!(outputs_model, m)?)?;
    m.add_function(wrap_pyfunction!(outputs_survival, m)?)?;
    m.add_function(wrap_pyfunction!(outputs_bundle_append, m)?)?;
    m.add_function(wrap_pyfunction!(outputs_bundle_exception, m)?)?;
    m.add_function(wrap_pyfunction!(outputs_bundle_decide, m)?)?;
    m.add_function(wrap_pyfunction!(outputs_bundle_read, m)?)?;
    Ok(())
}

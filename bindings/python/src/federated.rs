//! Federated aggregation (`pets::federated`): one federated DP release over several trusts'
//! tables, as `pets federated simulate` runs it, every party in this process.
//!
//! [`federated_simulate`] parses its arguments (each trust's table as Arrow, zero-copy, or a
//! file path; or one table split by a column) and runs the core's [`FederatedJob`] with the
//! interpreter detached; it returns the release and its ledger as JSON. [`federated_fit`]
//! runs [`pets_synth::federated::FederatedFitJob`] over the same trusts and returns the
//! model (the class `pets.synth.fit` returns) with its rounds as JSON. [`federated_train`]
//! runs [`pets::federated::FederatedTrainJob`] and returns the model file's JSON.

use std::collections::BTreeMap;

use pyo3::prelude::*;

use pets::data::Schema;
use pets::dp::{ChargeRecord, Cost, Session};
use pets::federated::{
    FederatedJob, FederatedQuery, FederatedTrainJob, Protocol, TrustInput, TrustTables,
    simulation_trusts,
};
use pets_synth::FitSettings;
use pets_synth::federated::FederatedFitJob;

use crate::anonymise::path_or_table;
use crate::errors::{DualError, IntoPyResult, Kind, error_of};
use crate::synth::PySynthModel;

/// The trusts of a simulated round: `trusts` (name to table or path), or `data` split by
/// `split_by` into `groups`; each keeps its rows (parsing only; the core builds them).
#[allow(clippy::too_many_arguments)] // the Python keywords, one each
fn trust_inputs(
    py: Python<'_>,
    trusts: &[(String, Bound<'_, PyAny>)],
    data: Option<Bound<'_, PyAny>>,
    split_by: Option<String>,
    groups: Option<usize>,
    schema: &Schema,
    person_id: Option<&str>,
    drops: BTreeMap<String, String>,
) -> PyResult<Vec<TrustInput>> {
    let usage = |msg: String| error_of(py, Kind::Dual(DualError::InvalidParameter), &msg, None);
    let tables_from = match (data, split_by) {
        (Some(d), Some(column)) if trusts.is_empty() => TrustTables::Split {
            source: path_or_table(&d)?,
            column,
            groups,
        },
        (None, None) if !trusts.is_empty() => TrustTables::Own(
            trusts
                .iter()
                .map(|(name, t)| Ok((name.clone(), path_or_table(t)?)))
                .collect::<PyResult<_>>()?,
        ),
        _ => {
            return Err(usage(
                "give trusts (a mapping of trust name to table or path), or data with split_by"
                    .into(),
            ));
        }
    };
    let drops: Vec<(String, String)> = drops.into_iter().collect();
    py.detach(|| simulation_trusts(tables_from, schema, person_id, &drops))
        .py_err(py)
}

/// Run one federated DP release; returns `{"release": ..., "ledger": ...}` as JSON, exactly
/// as `pets federated simulate --json` writes it.
#[pyfunction]
#[pyo3(signature = (trusts, schema_json, tables, rho, protocol = "secagg", threshold = None,
                    colluders = 0, person_id = None, max_rows_per_person = 1,
                    max_trusts_per_person = None, max_count = None, drops = BTreeMap::new(),
                    alpha = 0.05, seed = 0, data = None, split_by = None, groups = None,
                    budget = None, values = Vec::new()))]
#[allow(clippy::too_many_arguments)] // the Python signature, one keyword each
pub fn federated_simulate(
    py: Python<'_>,
    trusts: Vec<(String, Bound<'_, PyAny>)>,
    schema_json: &str,
    tables: Vec<Vec<String>>,
    rho: f64,
    protocol: &str,
    threshold: Option<usize>,
    colluders: usize,
    person_id: Option<String>,
    max_rows_per_person: u32,
    max_trusts_per_person: Option<u32>,
    max_count: Option<u64>,
    drops: BTreeMap<String, String>,
    alpha: f64,
    seed: u64,
    data: Option<Bound<'_, PyAny>>,
    split_by: Option<String>,
    groups: Option<usize>,
    budget: Option<String>,
    values: Vec<String>,
) -> PyResult<String> {
    let schema = Schema::from_json(schema_json).py_err(py)?;
    let inputs = trust_inputs(
        py,
        &trusts,
        data,
        split_by,
        groups,
        &schema,
        person_id.as_deref(),
        drops,
    )?;
    let job = FederatedJob::new(FederatedQuery::from_specs(&tables, &values).py_err(py)?)
        .protocol(protocol.parse::<Protocol>().py_err(py)?)
        .share(Cost::rho(rho))
        .threshold_opt(threshold)
        .colluders(colluders)
        .max_rows_per_person(max_rows_per_person)
        .max_trusts_per_person_opt(max_trusts_per_person)
        .max_count_opt(max_count)
        .alpha(alpha)
        .seed(seed)
        .budget_file(
            budget.map(Into::into),
            ChargeRecord::new("pets.federated.simulate"),
        );
    let mut session = Session::zcdp(rho).py_err(py)?;
    let release = py
        .detach(|| job.run(&mut session, &schema, &inputs))
        .py_err(py)?;
    let value = serde_json::json!({ "release": release, "ledger": session.ledger() });
    serde_json::to_string(&value)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}

/// Fit MST across the trusts without pooling a row, as `pets federated fit` does: returns
/// the model and `{"rounds": ..., "ledger": ...}` as JSON (what `--json` writes).
#[pyfunction]
#[pyo3(signature = (trusts, schema_json, epsilon, delta = 1e-9, protocol = "secagg",
                    threshold = None, colluders = 0, person_id = None, max_rows_per_person = 1,
                    max_trusts_per_person = None, max_count = None, drops = BTreeMap::new(),
                    seed = 0, data = None, split_by = None, groups = None, budget = None,
                    max_values = 128, selection_share = None, iters = None, progress = None))]
#[allow(clippy::too_many_arguments)] // the Python signature, one keyword each
pub fn federated_fit(
    py: Python<'_>,
    trusts: Vec<(String, Bound<'_, PyAny>)>,
    schema_json: &str,
    epsilon: f64,
    delta: f64,
    protocol: &str,
    threshold: Option<usize>,
    colluders: usize,
    person_id: Option<String>,
    max_rows_per_person: u32,
    max_trusts_per_person: Option<u32>,
    max_count: Option<u64>,
    drops: BTreeMap<String, String>,
    seed: u64,
    data: Option<Bound<'_, PyAny>>,
    split_by: Option<String>,
    groups: Option<usize>,
    budget: Option<String>,
    max_values: u32,
    selection_share: Option<f64>,
    iters: Option<usize>,
    progress: Option<Py<PyAny>>,
) -> PyResult<(PySynthModel, String)> {
    let schema = Schema::from_json(schema_json).py_err(py)?;
    let inputs = trust_inputs(
        py,
        &trusts,
        data,
        split_by,
        groups,
        &schema,
        person_id.as_deref(),
        drops,
    )?;
    let job = FederatedFitJob::new(schema, epsilon, delta)
        .settings(&FitSettings {
            iters,
            selection_share,
            ..FitSettings::default()
        })
        .max_values(max_values)
        .protocol(protocol.parse::<Protocol>().py_err(py)?)
        .threshold(threshold)
        .colluders(colluders)
        .max_rows_per_person(max_rows_per_person)
        .max_trusts_per_person(max_trusts_per_person)
        .max_count(max_count)
        .seed(seed)
        .budget(budget.map(Into::into))
        .progress(crate::progress::observer(progress));
    // (The error boxed across the detach: SynthError is large.)
    let fitted = py
        .detach(|| job.run(&inputs).map_err(Box::new))
        .map_err(|e| *e)
        .py_err(py)?;
    let rounds = serde_json::json!({
        "rounds": fitted.rounds,
        "ledger": fitted.fit.model.ledger,
    });
    let rounds = serde_json::to_string(&rounds)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    Ok((PySynthModel::from_model(fitted.fit.model), rounds))
}

/// Train a logistic regression across the trusts by federated averaging with patient-level
/// DP, as `pets federated train` does: returns the model file's JSON (encoding, weights,
/// options, rounds, ledger), exactly what `--out` writes.
#[pyfunction]
#[pyo3(signature = (trusts, schema_json, target, epsilon, delta = 1e-9, positive = None,
                    features = None, rounds = pets::federated::train::DEFAULT_ROUNDS,
                    clip = None, learning_rate = pets::federated::train::DEFAULT_LEARNING_RATE,
                    l2 = pets::federated::train::DEFAULT_L2, protocol = "secagg",
                    threshold = None, colluders = 0, person_id = None, max_rows_per_person = 1,
                    max_trusts_per_person = None, drops = BTreeMap::new(), seed = 0,
                    data = None, split_by = None, groups = None, budget = None,
                    progress = None))]
#[allow(clippy::too_many_arguments)] // the Python signature, one keyword each
pub fn federated_train(
    py: Python<'_>,
    trusts: Vec<(String, Bound<'_, PyAny>)>,
    schema_json: &str,
    target: String,
    epsilon: f64,
    delta: f64,
    positive: Option<String>,
    features: Option<Vec<String>>,
    rounds: usize,
    clip: Option<f64>,
    learning_rate: f64,
    l2: f64,
    protocol: &str,
    threshold: Option<usize>,
    colluders: usize,
    person_id: Option<String>,
    max_rows_per_person: u32,
    max_trusts_per_person: Option<u32>,
    drops: BTreeMap<String, String>,
    seed: u64,
    data: Option<Bound<'_, PyAny>>,
    split_by: Option<String>,
    groups: Option<usize>,
    budget: Option<String>,
    progress: Option<Py<PyAny>>,
) -> PyResult<String> {
    let schema = Schema::from_json(schema_json).py_err(py)?;
    let inputs = trust_inputs(
        py,
        &trusts,
        data,
        split_by,
        groups,
        &schema,
        person_id.as_deref(),
        drops,
    )?;
    let job = FederatedTrainJob::new(schema, target, epsilon, delta)
        .positive(positive)
        .features(features)
        .rounds(rounds)
        .clip(clip)
        .learning_rate(learning_rate)
        .l2(l2)
        .protocol(protocol.parse::<Protocol>().py_err(py)?)
        .threshold(threshold)
        .colluders(colluders)
        .max_rows_per_person(max_rows_per_person)
        .max_trusts_per_person(max_trusts_per_person)
        .seed(seed)
        .budget(budget.map(Into::into))
        .progress(crate::progress::observer(progress));
    let trained = py.detach(|| job.run(&inputs)).py_err(py)?;
    serde_json::to_string(&trained)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}

/// `P(target = positive)` for every row of `table` (a table or path) under a model file's
/// JSON (what [`federated_train`] returns), read against `schema_json`.
#[pyfunction]
pub fn federated_predict(
    py: Python<'_>,
    model_json: &str,
    schema_json: &str,
    table: Bound<'_, PyAny>,
) -> PyResult<Vec<f64>> {
    let schema = Schema::from_json(schema_json).py_err(py)?;
    let trained: pets::federated::TrainOutcome = serde_json::from_str(model_json)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("not a model file: {e}")))?;
    let source = path_or_table(&table)?;
    py.detach(|| trained.model.predict(&source, &schema))
        .py_err(py)
}

/// Register the federated functions.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(federated_simulate, m)?)?;
    m.add_function(wrap_pyfunction!(federated_fit, m)?)?;
    m.add_function(wrap_pyfunction!(federated_train, m)?)?;
    m.add_function(wrap_pyfunction!(federated_predict, m)?)?;
    Ok(())
}

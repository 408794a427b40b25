//! Federated aggregation (`pets::federated`): one federated DP release over several trusts'
//! tables, as `pets federated simulate` runs it, every party in this process.
//!
//! [`federated_simulate`] parses its arguments (each trust's table as Arrow, zero-copy, or a
//! file path; or one table split by a column) and runs the core's [`FederatedJob`] with the
//! interpreter detached; it returns the release and its ledger as JSON. [`federated_fit`]
//! runs [`pets_synth::federated::FederatedFitJob`] over the same trusts and returns the
//! model (the class `pets.synth.fit` returns) with its rounds as JSON. [`federated_train`]
//! runs [`pets::federated::FederatedTrainJob`] and returns the model file's JSON.
//!
//! The network service from a notebook: [`federated_node`] starts a trust's node agent
//! (`pets_federated_net::node::run`, what `pets federated node` runs) on its own tokio
//! runtime and returns a [`PyNodeAgent`] handle; [`federated_submit`] runs the collector
//! (`pets_federated_net::submit::submit`, what `pets federated submit` runs) and returns the
//! release as JSON. Both wait with the interpreter detached and ask Python for signals every
//! 100 ms, so Ctrl-C (KeyboardInterrupt) stops them: the node leaves its round (the
//! aggregator counts it as dropped), the collector stops waiting.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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

/// A configuration given as a TOML file's path, or as JSON (a Python dict) whose relative
/// paths are the working directory's; the path that names it in errors.
fn net_config<T>(
    py: Python<'_>,
    path: Option<String>,
    json: Option<String>,
    what: &str,
) -> PyResult<(T, PathBuf)>
where
    T: serde::de::DeserializeOwned + pets_federated_net::config::Relative,
{
    use pets_federated_net::config;
    match (path, json) {
        (Some(p), None) => {
            let p = PathBuf::from(p);
            Ok((config::load::<T>(&p).py_err(py)?, p))
        }
        (None, Some(j)) => {
            let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
            let value = config::from_json::<T>(&j, &cwd, what).py_err(py)?;
            Ok((value, PathBuf::from(what)))
        }
        _ => Err(error_of(
            py,
            Kind::Dual(DualError::InvalidParameter),
            &format!("{what}: give a TOML file's path or a dict"),
            None,
        )),
    }
}

/// How often a wait asks Python whether Ctrl-C was pressed.
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// What waiting for a task came to.
enum Waited<T> {
    Done(T),
    TimedOut(tokio::task::JoinHandle<T>),
    Stopped,
}

/// Wait for `task` on `rt` with the interpreter detached, up to `timeout`, asking Python for
/// signals every [`SIGNAL_CHECK`]: on a KeyboardInterrupt (or `stop` set) the task is aborted
/// and awaited (it ends at its next await point), and the interrupt is raised.
fn wait_task<T: Send + 'static>(
    py: Python<'_>,
    rt: &tokio::runtime::Runtime,
    mut task: tokio::task::JoinHandle<T>,
    timeout: Option<Duration>,
    stop: Option<&AtomicBool>,
) -> PyResult<Waited<T>> {
    let until = timeout.map(|t| Instant::now() + t);
    loop {
        let step = py
            .detach(|| rt.block_on(async { tokio::time::timeout(SIGNAL_CHECK, &mut task).await }));
        match step {
            Ok(Ok(value)) => return Ok(Waited::Done(value)),
            Ok(Err(e)) if e.is_cancelled() => return Ok(Waited::Stopped),
            Ok(Err(e)) => return Err(pyo3::exceptions::PyRuntimeError::new_err(e.to_string())),
            Err(_) => {}
        }
        let interrupted = py.check_signals();
        if interrupted.is_err() || stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
            task.abort();
            let _ = py.detach(|| rt.block_on(&mut task));
            interrupted?;
            return Ok(Waited::Stopped);
        }
        if until.is_some_and(|u| Instant::now() >= u) {
            return Ok(Waited::TimedOut(task));
        }
    }
}

type NodeOutcome = pets_federated_net::Result<Vec<pets_federated_net::node::NodeRound>>;

/// The rounds a node took part in, as JSON.
fn rounds_json(rounds: &[pets_federated_net::node::NodeRound]) -> String {
    let list: Vec<serde_json::Value> = rounds
        .iter()
        .map(|r| {
            serde_json::json!({
                "round": pets_federated_net::messages::round_hex(&r.round),
                "party": r.party,
                "dropped_at": r.dropped_at,
            })
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}

/// A trust's node agent running in this process (`pets.federated.node`): its own tokio
/// runtime, the agent's task, and how it ended.
#[pyclass(module = "pets._native", name = "NodeAgent", frozen)]
pub struct PyNodeAgent {
    rt: tokio::runtime::Runtime,
    task: Mutex<Option<tokio::task::JoinHandle<NodeOutcome>>>,
    stop: AtomicBool,
    /// The rounds' JSON once it finished, or `None` while running / after a stop.
    done: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[pymethods]
impl PyNodeAgent {
    /// Wait until the agent has taken part in its rounds (or `timeout` seconds): the rounds
    /// as JSON, or `None` on timeout or after a stop. Ctrl-C stops the agent and raises
    /// KeyboardInterrupt; the agent's own error (a refused join, an unreachable aggregator)
    /// is raised as the pets exception of its kind.
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<String>> {
        if let Some(done) = lock(&self.done).clone() {
            return Ok(Some(done));
        }
        let Some(task) = lock(&self.task).take() else {
            return Ok(None);
        };
        let timeout = timeout.map(|t| Duration::from_secs_f64(t.max(0.0)));
        match wait_task(py, &self.rt, task, timeout, Some(&self.stop))? {
            Waited::Done(outcome) => {
                let json = rounds_json(&outcome.py_err(py)?);
                *lock(&self.done) = Some(json.clone());
                Ok(Some(json))
            }
            Waited::TimedOut(task) => {
                *lock(&self.task) = Some(task);
                Ok(None)
            }
            Waited::Stopped => Ok(None),
        }
    }

    /// Stop the agent: it leaves the round it is in (the aggregator counts it as dropped)
    /// and sends nothing more. Returns once it has stopped.
    fn stop(&self, py: Python<'_>) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(task) = lock(&self.task).take() {
            task.abort();
            let _ = py.detach(|| self.rt.block_on(task));
        }
    }

    /// Whether the agent is still running.
    #[getter]
    fn running(&self) -> bool {
        lock(&self.task).as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for PyNodeAgent {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
}

/// Start a trust's node agent over `data` (a path or an Arrow table) declared by the schema,
/// with the configuration at `config_path` (TOML, as `pets federated node --config`) or
/// given as JSON; returns its handle at once.
#[pyfunction]
#[pyo3(signature = (data, schema_json, config_path = None, config_json = None))]
pub fn federated_node(
    py: Python<'_>,
    data: Bound<'_, PyAny>,
    schema_json: &str,
    config_path: Option<String>,
    config_json: Option<String>,
) -> PyResult<PyNodeAgent> {
    use pets_federated_net::config::NodeConfig;
    let schema = Schema::from_json(schema_json).py_err(py)?;
    let (config, origin): (NodeConfig, PathBuf) =
        net_config(py, config_path, config_json, "node config")?;
    let data = path_or_table(&data)?;
    let rt = pets_federated_net::runtime().py_err(py)?;
    let task =
        rt.spawn(async move { pets_federated_net::node::run(config, &origin, data, schema).await });
    Ok(PyNodeAgent {
        rt,
        task: Mutex::new(Some(task)),
        stop: AtomicBool::new(false),
        done: Mutex::new(None),
    })
}

/// Submit a job and wait for its release, as `pets federated submit` does: the file at
/// `job_path` (TOML: a `[job]` table, or a `[fit]` or `[train]` table, told apart by
/// `pets_federated_net::submit::Submission::load`), or one round's job as JSON (`job_json`,
/// the `[job]` table) sent over the connection at `config_path` (TOML: aggregator, helper,
/// tls) or in `config_json`. Returns `(kind, json, model, schema_json)`: for a job, `"job"`
/// and the release's JSON (`{"release": ..., "ledger": ...}`); for a fit, `"fit"`, the
/// rounds and ledger, and the model; for a training run, `"train"`, the model file's JSON
/// and the declared schema it was trained against.
#[pyfunction]
#[pyo3(signature = (job_path = None, job_json = None, config_path = None, config_json = None))]
#[allow(clippy::type_complexity)] // the Python tuple, one element each
pub fn federated_submit(
    py: Python<'_>,
    job_path: Option<String>,
    job_json: Option<String>,
    config_path: Option<String>,
    config_json: Option<String>,
) -> PyResult<(String, String, Option<PySynthModel>, Option<String>)> {
    use pets_federated_net::config::{self, Connection, JobFile};
    use pets_federated_net::messages::JobSpec;
    use pets_federated_net::submit::{Submission, Submitted};
    let submission: Submission = match (job_path, job_json) {
        (Some(p), None) if config_path.is_none() && config_json.is_none() => {
            Submission::load(std::path::Path::new(&p)).py_err(py)?
        }
        (None, Some(j)) => {
            let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
            let spec: JobSpec = config::from_json(&j, &cwd, "job").py_err(py)?;
            let (connection, _): (Connection, PathBuf) =
                net_config(py, config_path, config_json, "submit config")?;
            Submission::Job(JobFile::new(connection, spec))
        }
        _ => {
            return Err(error_of(
                py,
                Kind::Dual(DualError::InvalidParameter),
                "give a job file's path, or the job with config (the aggregator, helper and tls)",
                None,
            ));
        }
    };
    let rt = pets_federated_net::runtime().py_err(py)?;
    let task = rt.spawn(async move { submission.run().await });
    let submitted = match wait_task(py, &rt, task, None, None)? {
        Waited::Done(outcome) => outcome.py_err(py)?,
        Waited::TimedOut(_) | Waited::Stopped => {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "the submission was stopped",
            ));
        }
    };
    let json_err = |e: serde_json::Error| pyo3::exceptions::PyValueError::new_err(e.to_string());
    Ok(match submitted {
        Submitted::Job(_, json) => ("job".into(), json, None, None),
        Submitted::Fit(fitted) => {
            let rounds = serde_json::to_string(&serde_json::json!({
                "rounds": fitted.rounds,
                "ledger": fitted.fit.model.ledger,
            }))
            .map_err(json_err)?;
            (
                "fit".into(),
                rounds,
                Some(PySynthModel::from_model(fitted.fit.model)),
                None,
            )
        }
        Submitted::Train(trained, schema) => (
            "train".into(),
            serde_json::to_string(&*trained).map_err(json_err)?,
            None,
            Some(schema.to_json()),
        ),
    })
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
    m.add_function(wrap_pyfunction!(federated_node, m)?)?;
    m.add_function(wrap_pyfunction!(federated_submit, m)?)?;
    m.add_class::<PyNodeAgent>()?;
    m.add_function(wrap_pyfunction!(federated_train, m)?)?;
    m.add_function(wrap_pyfunction!(federated_predict, m)?)?;
    Ok(())
}

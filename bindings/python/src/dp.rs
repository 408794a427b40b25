//! Differential privacy (`pets::dp`): a budgeted session and its queries over Arrow tables.
//!
//! [`DpSession`] holds one [`Session`] (the budget and the ledger; deliberately not copyable)
//! and runs one query at a time, as `pets dp query` runs each query of a spec: the query is a
//! [`QueryKind`] in JSON (serde's `kind` tag), its share of the budget a [`Cost`] in JSON
//! (default: an even split declared with the session, or everything left). Each call checks
//! the share against the budget before any work, imports the table (zero-copy) and runs the
//! core's [`DpTable`] (encoded axes, raw numeric values, person bounding) and [`QueryJob`]
//! (the one dispatch and label `pets dp query` uses), and returns the `QueryOutput` as JSON.
//! Errors become
//! the Python exceptions of [`crate::errors`]; an over-budget refusal is `BudgetExceededError`
//! with `requested`, `remaining`, `spent` and `total` attributes.

use std::borrow::Cow;

use pyo3::prelude::*;

use pets::data::{Schema, TableSource};
use pets::dp::budget_store::{BudgetStore, ChargeRecord};
use pets::dp::queries::spec::QueryKind;
use pets::dp::queries::split_share;
use pets::dp::{Cost, DpError, DpTable, NoiseFamily, QueryJob, Session};

use crate::arrow::import_table;
use crate::errors::{IntoPyResult, classified};

fn json_err(py: Python<'_>, what: &str, e: serde_json::Error) -> PyErr {
    classified(py, &DpError::Spec(format!("{what}: {e}")))
}

/// A budgeted DP session (`pets::dp::Session`).
#[pyclass(module = "pets._native", name = "DpSession")]
pub struct DpSession {
    session: Session,
    /// Share of a query that names none (an even split declared up front), if any.
    default_share: Option<Cost>,
    /// The receipt of the charge of the whole session to a persistent budget file.
    receipt: Option<String>,
}

impl DpSession {
    fn cost_json(py: Python<'_>, c: &Cost) -> PyResult<String> {
        serde_json::to_string(c).map_err(|e| json_err(py, "cost", e))
    }
}

#[pymethods]
impl DpSession {
    /// A session that may spend `epsilon` (pure / approximate DP) or `rho` (zCDP), with
    /// `delta` for group-by queries; intervals at significance `alpha`; queries that name no
    /// share get `1 / split_evenly_over` of the total (everything left when `None`).
    #[new]
    #[pyo3(signature = (epsilon = None, rho = None, delta = 0.0, alpha = None, split_evenly_over = None,
                        budget = None))]
    fn new(
        py: Python<'_>,
        epsilon: Option<f64>,
        rho: Option<f64>,
        delta: f64,
        alpha: Option<f64>,
        split_evenly_over: Option<usize>,
        budget: Option<std::path::PathBuf>,
    ) -> PyResult<Self> {
        let total = match (epsilon, rho) {
            (Some(e), None) => Cost::epsilon(e),
            (None, Some(r)) => Cost::rho(r),
            _ => {
                return Err(classified(
                    py,
                    &DpError::Spec("give exactly one of epsilon or rho".into()),
                ));
            }
        }
        .with_delta(delta);
        let mut session = Session::new(total).py_err(py)?;
        if let Some(a) = alpha {
            session = session.with_alpha(a).py_err(py)?;
        }
        let default_share = match split_evenly_over {
            None => None,
            Some(0) => {
                return Err(classified(
                    py,
                    &DpError::invalid("split_evenly_over", 0.0, "it must be at least 1"),
                ));
            }
            Some(n) => Some(split_share(&total, &vec![1.0; n]).py_err(py)?[0]),
        };
        // A persistent budget file is charged the whole session up front (nothing is read
        // or released before it admits the charge).
        let receipt = match budget {
            Some(path) => {
                let record = ChargeRecord::new("pets.dp.Session (Python)");
                let r = py
                    .detach(|| session.charge_budget_file(&path, &record))
                    .py_err(py)?;
                Some(serde_json::to_string(&r).map_err(|e| json_err(py, "receipt", e))?)
            }
            None => None,
        };
        Ok(DpSession {
            session,
            default_share,
            receipt,
        })
    }

    /// The total budget as JSON (`{"measure": "dp", "epsilon": .., "delta": ..}`).
    fn total(&self, py: Python<'_>) -> PyResult<String> {
        Self::cost_json(py, &self.session.total())
    }

    /// Spent so far (rounded up), as JSON.
    fn spent(&self, py: Python<'_>) -> PyResult<String> {
        Self::cost_json(py, &self.session.spent())
    }

    /// Left (rounded down), as JSON.
    fn remaining(&self, py: Python<'_>) -> PyResult<String> {
        Self::cost_json(py, &self.session.remaining())
    }

    /// The default share of a query, as JSON (`None`: everything left).
    fn default_share(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.default_share
            .as_ref()
            .map(|c| Self::cost_json(py, c))
            .transpose()
    }

    /// Significance of reported intervals.
    #[getter]
    fn alpha(&self) -> f64 {
        self.session.alpha()
    }

    /// The core's warning when the total budget protects next to nothing (epsilon > 10).
    fn weak_budget_warning(&self) -> Option<String> {
        self.session
            .total()
            .weak_budget_warning()
            .map(|w| w.message)
    }

    /// The receipt of the charge to the persistent budget file, as JSON (`None` without one).
    fn budget_receipt(&self) -> Option<String> {
        self.receipt.clone()
    }

    /// The ledger (budget, spent, remaining, every release) as JSON.
    fn ledger(&self) -> String {
        self.session.ledger().to_json()
    }

    /// Run one query (a `QueryKind` in JSON) on `data`; returns its `QueryOutput` as JSON.
    /// The core's [`QueryJob`] and [`DpTable`] do the work, as for `pets dp query`.
    #[pyo3(signature = (data, schema_json, query_json, share_json = None, noise = "auto",
                        id_column = None, max_rows_per_person = 1, seed = 0))]
    #[allow(clippy::too_many_arguments)]
    fn query(
        &mut self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        schema_json: Option<&str>,
        query_json: &str,
        share_json: Option<&str>,
        noise: &str,
        id_column: Option<String>,
        max_rows_per_person: u32,
        seed: u64,
    ) -> PyResult<String> {
        let kind: QueryKind =
            serde_json::from_str(query_json).map_err(|e| json_err(py, "query", e))?;
        let noise: NoiseFamily = serde_json::from_value(serde_json::Value::String(noise.into()))
            .map_err(|e| json_err(py, "noise (auto, laplace or gaussian)", e))?;
        let share = match share_json {
            Some(text) => {
                Some(serde_json::from_str(text).map_err(|e| json_err(py, "query share", e))?)
            }
            None => self.default_share.map(|s| {
                if kind.needs_delta() {
                    s
                } else {
                    s.with_delta(0.0)
                }
            }),
        };
        let job = QueryJob::new(kind).share_opt(share).noise(noise);
        // Refuse a share that does not fit before reading any data.
        job.resolve_share(&self.session).py_err(py)?;
        let schema = schema_json.map(Schema::from_json).transpose().py_err(py)?;
        let (batches, arrow_schema) = import_table("data", data)?;
        let table = DpTable::load_opt(TableSource::batches("data", arrow_schema, batches), schema)
            .person_id_opt(id_column, max_rows_per_person)
            .seed(seed);
        let session = &mut self.session;
        let out = py
            .detach(|| {
                let input = table.read_for([job.kind()])?;
                job.run(session, &input.data)
            })
            .py_err(py)?;
        serde_json::to_string(&out).map_err(|e| json_err(py, "result", e))
    }

    /// Check a partitioned query at the driver before any partition is read: the query
    /// (count, histogram, sum, mean or variance), its share against the budget (nothing spent)
    /// and `data`'s columns and types (zero rows will do) against the schema. Returns the
    /// columns the query reads.
    #[pyo3(signature = (data, schema_json, query_json, share_json = None, noise = "auto"))]
    fn check_merged(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        schema_json: &str,
        query_json: &str,
        share_json: Option<&str>,
        noise: &str,
    ) -> PyResult<Vec<String>> {
        let (job, empty) = self.merged_job(py, data, schema_json, query_json, share_json, noise)?;
        let session = &self.session;
        py.detach(|| job.check_partitioned(session, &empty))
            .py_err(py)
    }

    /// Release a query from the partitions' exact counts or sums ([`dp_partial`]): the
    /// core's [`QueryJob::run_partials`] merges them and draws the noise once, here, through
    /// this session (share checked before anything, then charged and ledgered as
    /// [`DpSession::query`] does). `data` gives the partitions' columns and types (zero rows
    /// will do); rows are the privacy unit.
    #[pyo3(signature = (partials, data, schema_json, query_json, share_json = None,
                        noise = "auto"))]
    #[allow(clippy::too_many_arguments)]
    fn query_merged(
        &mut self,
        py: Python<'_>,
        partials: Vec<Vec<u8>>,
        data: &Bound<'_, PyAny>,
        schema_json: &str,
        query_json: &str,
        share_json: Option<&str>,
        noise: &str,
    ) -> PyResult<String> {
        let (job, empty) = self.merged_job(py, data, schema_json, query_json, share_json, noise)?;
        let session = &mut self.session;
        let out = py
            .detach(|| job.run_partials(session, &empty, &partials))
            .py_err(py)?;
        serde_json::to_string(&out).map_err(|e| json_err(py, "result", e))
    }

    fn __repr__(&self) -> String {
        format!(
            "<pets._native.DpSession spent {} of {}>",
            self.session.spent(),
            self.session.total()
        )
    }
}

impl DpSession {
    /// The job of a partitioned query and the partitions' table (zero rows will do: the
    /// axes, the ledger record), parsed from the arguments.
    fn merged_job(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        schema_json: &str,
        query_json: &str,
        share_json: Option<&str>,
        noise: &str,
    ) -> PyResult<(QueryJob, DpTable)> {
        let kind: QueryKind =
            serde_json::from_str(query_json).map_err(|e| json_err(py, "query", e))?;
        let noise: NoiseFamily = serde_json::from_value(serde_json::Value::String(noise.into()))
            .map_err(|e| json_err(py, "noise (auto, laplace or gaussian)", e))?;
        let share = match share_json {
            Some(text) => {
                Some(serde_json::from_str(text).map_err(|e| json_err(py, "query share", e))?)
            }
            None => self.default_share.map(|s| s.with_delta(0.0)),
        };
        let job = QueryJob::new(kind).share_opt(share).noise(noise);
        let schema = Schema::from_json(schema_json).py_err(py)?;
        let (batches, arrow_schema) = import_table("data", data)?;
        let table = DpTable::load(TableSource::batches("data", arrow_schema, batches), &schema)
            .allow_empty(true);
        Ok((job, table))
    }
}

/// One partition's exact part of a count, histogram, sum, mean or variance (`QueryKind` in
/// JSON), as bytes (`pets::partial::Partial`): not private, for merging and noising once at
/// the driver ([`DpSession::query_merged`]). Rows are the privacy unit (no person bounding).
#[pyfunction]
pub fn dp_partial(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    schema_json: &str,
    query_json: &str,
) -> PyResult<Cow<'static, [u8]>> {
    let kind: QueryKind = serde_json::from_str(query_json).map_err(|e| json_err(py, "query", e))?;
    let schema = Schema::from_json(schema_json).py_err(py)?;
    let (batches, arrow_schema) = import_table("data", data)?;
    let table = DpTable::load(TableSource::batches("data", arrow_schema, batches), &schema);
    let job = QueryJob::new(kind);
    Ok(Cow::Owned(py.detach(|| job.partial(&table)).py_err(py)?))
}

/// The total of a budget from `epsilon` xor `rho`, with `delta`.
fn total_cost(
    py: Python<'_>,
    epsilon: Option<f64>,
    rho: Option<f64>,
    delta: f64,
) -> PyResult<Cost> {
    match (epsilon, rho) {
        (Some(e), None) => Ok(Cost::epsilon(e).with_delta(delta)),
        (None, Some(r)) => Ok(Cost::rho(r).with_delta(delta)),
        _ => Err(classified(
            py,
            &DpError::Spec("give exactly one of epsilon or rho".into()),
        )),
    }
}

/// Create a dataset's persistent budget file, as `pets budget init` does
/// ([`BudgetStore::init`]: refuses an existing file and an invalid total; written whole or
/// not at all). Returns the new file's status as JSON.
#[pyfunction]
#[pyo3(signature = (path, dataset, epsilon = None, rho = None, delta = 0.0, note = None))]
fn budget_init(
    py: Python<'_>,
    path: std::path::PathBuf,
    dataset: &str,
    epsilon: Option<f64>,
    rho: Option<f64>,
    delta: f64,
    note: Option<&str>,
) -> PyResult<String> {
    let total = total_cost(py, epsilon, rho, delta)?;
    let status = py
        .detach(|| BudgetStore::init(&path, total, dataset, note).and_then(|s| s.status()))
        .py_err(py)?;
    serde_json::to_string(&status).map_err(|e| json_err(py, "budget status", e))
}

/// A persistent budget file's status, as `pets budget show` prints it
/// ([`BudgetStore::inspect`]: total, spent, remaining, every charge, where the hash chain
/// breaks if it does), as JSON.
#[pyfunction]
fn budget_status(py: Python<'_>, path: std::path::PathBuf) -> PyResult<String> {
    let status = py.detach(|| BudgetStore::inspect(&path)).py_err(py)?;
    serde_json::to_string(&status).map_err(|e| json_err(py, "budget status", e))
}

/// Add the DP classes and functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<DpSession>()?;
    m.add_function(wrap_pyfunction!(budget_init, m)?)?;
    m.add_function(wrap_pyfunction!(budget_status, m)?)?;
    m.add_function(wrap_pyfunction!(dp_partial, m)?)?;
    Ok(())
}

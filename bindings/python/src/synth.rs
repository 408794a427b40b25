//! Differentially private synthetic data (`pets-synth`): MST fitted to an Arrow table or a
//! file, and the versioned model file, as `pets synth fit|sample` run them.
//!
//! [`fit_mst`] does what `pets synth fit` does: select the declared schema's columns, encode
//! the data (zero-copy Arrow, or a CSV/TSV/Parquet file streamed), and fit MST under
//! (epsilon, delta)-DP with the interpreter detached. With no schema it infers one from the
//! same data (every column marked `domain_from_data`) and the model carries a
//! `DOMAIN_FROM_DATA` warning per column. The result is a [`PySynthModel`] holding the Rust
//! [`SynthModel`]: it saves the same JSON file the CLI writes and reads, and samples the
//! same rows for the same seed as `pets synth sample`. Errors become the Python exceptions
//! of [`crate::errors`].

// `pets_synth::SynthError` is large (its variants carry column lists and paths); the closures
// below return it for a moment before it becomes a Python exception.
#![allow(clippy::result_large_err)]

use std::path::PathBuf;

use pyo3::prelude::*;

use pets::data::{Schema, TableSource};
use pets_synth::{DomainOptions, FamilyScore, FitJob, FitSettings, Method, SynthError, SynthModel};

use crate::arrow::{export_table, import_table};
use crate::errors::{DualError, IntoPyResult, Kind, error_of, wrong_type};

/// What the data of a fit may be, for error messages.
const DATA_LIKE: &str = "a pyarrow Table, a polars or pandas DataFrame, another object with \
     __arrow_c_stream__, or a path to a CSV, TSV or Parquet file";

/// Fit MST, PrivBayes or AIM (`method`) to `data` (a table exporting `__arrow_c_stream__`, or a path to a CSV, TSV or
/// Parquet file) under (`epsilon`, `delta`)-DP; returns the fitted model.
///
/// `schema_json` is the declared schema (`None`: inferred from the data, and the model
/// warns). `columns` are synthesised in this order (default: every encodable column of the
/// schema that is not a direct identifier); the schema becomes the synthesis domain of
/// [`pets_synth::prepare_domain`] with `max_values`. The other settings are
/// [`MstOptions`]'s (`None`: MST's defaults).
///
/// `stage` runs the whole fit (`"run"`, returns the model) or one step of a partitioned fit
/// (`FitJob`'s): `"check"` (data: the partitions' table with zero rows; returns the input
/// columns to send), `"partial"` (data: one partition; returns its counts as bytes) or
/// `"finish"` (data: the zero-row table, `partials`: every partition's bytes; returns the
/// model).
#[pyfunction]
#[pyo3(signature = (data, schema_json, columns, epsilon, delta, max_iters = None,
                    tolerance = None, max_clique_cells = None, max_pair_cells = None,
                    compress = true, max_values = 128, noise_penalty = false,
                    score_threshold = 1.0,
                    person_id = None, max_rows_per_person = 1, bounding_seed = 0,
                    strict = false, budget = None, progress = None, method = "mst",
                    degree = None, workload = None, rounds = None, stage = "run",
                    partials = None, privbayes_score = None, tree_share = None,
                    max_model_cells = None, sparse_pairs = None))]
#[allow(clippy::too_many_arguments)]
pub fn fit_mst(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    schema_json: Option<&str>,
    columns: Option<Vec<String>>,
    epsilon: f64,
    delta: f64,
    max_iters: Option<usize>,
    tolerance: Option<f64>,
    max_clique_cells: Option<u64>,
    max_pair_cells: Option<u64>,
    compress: bool,
    max_values: u32,
    noise_penalty: bool,
    score_threshold: f64,
    person_id: Option<String>,
    max_rows_per_person: u32,
    bounding_seed: u64,
    strict: bool,
    budget: Option<PathBuf>,
    progress: Option<Py<PyAny>>,
    method: &str,
    degree: Option<usize>,
    workload: Option<Vec<Vec<String>>>,
    rounds: Option<usize>,
    stage: &str,
    partials: Option<Vec<Vec<u8>>>,
    privbayes_score: Option<&str>,
    tree_share: Option<f64>,
    max_model_cells: Option<u64>,
    sparse_pairs: Option<bool>,
) -> PyResult<Py<PyAny>> {
    let method: Method = method.parse().py_err(py)?;
    let privbayes_score: Option<FamilyScore> =
        privbayes_score.map(str::parse).transpose().py_err(py)?;
    if let Some(cols) = &columns
        && cols.is_empty()
    {
        return Err(error_of(
            py,
            Kind::Dual(DualError::InvalidParameter),
            "invalid columns = []: name at least one column, or None for all",
            None,
        ));
    }
    let source = table_source("data", data)?;
    let declared = schema_json.map(Schema::from_json).transpose().py_err(py)?;
    let job = FitJob::new(source, epsilon, delta)
        .schema_opt(declared)
        .columns(columns.unwrap_or_default())
        .max_values(max_values)
        .person_id_opt(person_id, max_rows_per_person)
        .bounding_seed(bounding_seed)
        .strict(strict)
        .budget(budget)
        .method(method);
    let job = job.settings(&FitSettings {
        iters: max_iters,
        tolerance,
        max_clique_cells,
        noise_penalty: Some(noise_penalty),
        sparse_pairs,
        score_threshold: Some(score_threshold),
        compress: Some(compress),
        max_pair_cells,
        degree,
        privbayes_score,
        workload: workload.unwrap_or_default(),
        rounds,
        tree_share,
        max_model_cells,
        ..FitSettings::default()
    });
    // Settings first, before any data is read.
    job.validate().py_err(py)?;
    let job = job.progress(crate::progress::observer(progress));
    // Partitioned fits (`pets.spark`): the same job, in the core's three steps.
    let fitted = match (stage, partials) {
        ("run", None) => py.detach(|| job.run()).py_err(py)?,
        ("check", None) => {
            let columns = py.detach(|| job.check_partitioned()).py_err(py)?;
            return Ok(columns.into_pyobject(py)?.into_any().unbind());
        }
        ("partial", None) => {
            let bytes = py.detach(|| job.partial()).py_err(py)?;
            return Ok(pyo3::types::PyBytes::new(py, &bytes).into_any().unbind());
        }
        ("finish", Some(parts)) => py.detach(|| job.run_partials(&parts)).py_err(py)?,
        (other, parts) => {
            return Err(error_of(
                py,
                Kind::Dual(DualError::InvalidParameter),
                &format!(
                    "invalid stage = {other:?} (with{} partials): run, check, partial, or \
                     finish with the partitions' partials",
                    if parts.is_some() { "" } else { "out" }
                ),
                None,
            ));
        }
    };
    Ok(PySynthModel {
        model: fitted.model,
    }
    .into_pyobject(py)?
    .into_any()
    .unbind())
}

/// A fitted synthesiser (`pets_synth::SynthModel`): what a release panel keeps.
#[pyclass(module = "pets._native", name = "SynthModel", frozen)]
pub struct PySynthModel {
    model: SynthModel,
}

impl PySynthModel {
    /// Wrap a fitted model (for the other doors' fits, e.g. the federated one).
    pub(crate) fn from_model(model: SynthModel) -> PySynthModel {
        PySynthModel { model }
    }
}

#[pymethods]
impl PySynthModel {
    /// Load a model file written by `pets synth fit` or `save`, checking format and version.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let model = py.detach(|| SynthModel::load(&path)).py_err(py)?;
        Ok(PySynthModel { model })
    }

    /// Parse a model from its JSON text, checking format and version.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<Self> {
        let model = py.detach(|| SynthModel::from_json(text)).py_err(py)?;
        Ok(PySynthModel { model })
    }

    /// Write the model file (JSON), as `pets synth fit --out` does.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.model.save(&path)).py_err(py)
    }

    /// The model file's JSON text.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        serde_json::to_string(&self.model).map_err(|e| {
            error_of(
                py,
                Kind::Base,
                &format!("the model does not serialise: {e}"),
                None,
            )
        })
    }

    /// The method, e.g. `mst`.
    #[getter]
    fn method(&self) -> String {
        self.model.method.clone()
    }

    /// Model file layout version.
    #[getter]
    fn version(&self) -> u32 {
        self.model.version
    }

    /// Target epsilon.
    #[getter]
    fn epsilon(&self) -> f64 {
        self.model.epsilon
    }

    /// Target delta.
    #[getter]
    fn delta(&self) -> f64 {
        self.model.delta
    }

    /// The zCDP budget rho: it gives (epsilon, delta)-DP, or with MST's sparse pairs
    /// (epsilon, delta - the delta set aside for them), which their thresholded releases
    /// spend on top (the ledger's `budget` and `spent`).
    #[getter]
    fn rho(&self) -> f64 {
        self.model.rho
    }

    /// Names of the synthesised columns, in order.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.model.output_names()
    }

    /// The declared schema of the synthesised columns, as JSON.
    fn schema_json(&self) -> String {
        self.model.schema.to_json()
    }

    /// Number of noisy measurements (1-way and selected marginals).
    #[getter]
    fn n_measurements(&self) -> usize {
        self.model.measurements.len()
    }

    /// Each measurement's columns and noise scale: `(columns, sigma, cells)`.
    fn measurements(&self) -> Vec<(Vec<String>, f64, usize, Option<f64>)> {
        self.model
            .measurements
            .iter()
            .map(|m| {
                (
                    m.columns.clone(),
                    m.measurement.sigma,
                    m.measurement.values.len(),
                    m.measurement.threshold,
                )
            })
            .collect()
    }

    /// The selected (measured) pairs of columns.
    #[getter]
    fn selected(&self) -> Vec<Vec<String>> {
        self.model.selected.clone()
    }

    /// The noisy estimate of the number of records.
    #[getter]
    fn total(&self) -> f64 {
        self.model.total
    }

    /// Rows sampled when none are asked for: the noisy total, rounded.
    #[getter]
    fn default_rows(&self) -> u64 {
        self.model.default_rows()
    }

    /// How estimation went, as JSON (`iterations`, `loss`, `total`).
    fn estimation_json(&self) -> String {
        serde_json::to_string(&self.model.estimation).unwrap_or_else(|_| "{}".into())
    }

    /// The privacy ledger of the fit, as JSON.
    fn ledger_json(&self) -> String {
        self.model.ledger.to_json()
    }

    /// Warnings of the model: one `DOMAIN_FROM_DATA` line per column whose domain was read
    /// from the data rather than declared.
    fn warnings(&self) -> Vec<String> {
        self.model
            .schema
            .domain_from_data()
            .into_iter()
            .map(pets::dp::queries::domain_warning)
            .collect()
    }

    /// How the declared schema became the synthesis domain: columns left out, binned or
    /// coarsened (`pets_synth::domain`).
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.model.notes.clone()
    }

    /// Sample `rows` rows with `seed` as a `pyarrow.Table` of decoded values: the same rows,
    /// values and types `pets synth sample --seed` writes.
    #[pyo3(signature = (rows, seed, progress = None))]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        rows: u64,
        seed: u64,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let rows = usize::try_from(rows).map_err(|_| {
            error_of(
                py,
                Kind::Dual(DualError::InvalidParameter),
                &format!("invalid rows = {rows}: too many rows for this machine"),
                None,
            )
        })?;
        let progress = crate::progress::observer(progress);
        let (batches, schema) = py
            .detach(|| -> Result<_, SynthError> {
                let batches = self
                    .model
                    .sample_batches_with(rows as u64, seed, &progress)?;
                Ok((batches, self.model.sample_arrow_schema()?))
            })
            .py_err(py)?;
        export_table(py, batches, schema)
    }

    /// Sample `rows` rows with `seed` and stream them to a Parquet, CSV or TSV file chosen by
    /// extension, as `pets synth sample` does; returns the rows written.
    #[pyo3(signature = (path, rows, seed, progress = None))]
    fn write_sample(
        &self,
        py: Python<'_>,
        path: PathBuf,
        rows: u64,
        seed: u64,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<u64> {
        let progress = crate::progress::observer(progress);
        py.detach(|| self.model.write_sample_with(&path, rows, seed, &progress))
            .py_err(py)
    }

    fn __repr__(&self) -> String {
        format!(
            "<pets._native.SynthModel {} over {} columns, epsilon = {}, delta = {}>",
            self.model.method,
            self.model.schema.columns.len(),
            self.model.epsilon,
            self.model.delta
        )
    }
}

/// The synthesis domain of `columns` (all when `None`) of a declared schema, from the
/// schema alone: returns the prepared schema as JSON and the notes of every change.
#[pyfunction]
#[pyo3(signature = (schema_json, columns = None, max_values = 128))]
pub fn prepare_domain(
    py: Python<'_>,
    schema_json: &str,
    columns: Option<Vec<String>>,
    max_values: u32,
) -> PyResult<(String, Vec<String>)> {
    let schema = Schema::from_json(schema_json).py_err(py)?;
    let domain = pets_synth::prepare_domain(
        &schema,
        columns.as_deref().unwrap_or_default(),
        &DomainOptions { max_values },
    )
    .py_err(py)?;
    Ok((domain.schema.to_json(), domain.notes))
}

/// A table argument: Arrow batches (anything with `__arrow_c_stream__`) or a file path.
fn table_source(arg: &str, data: &Bound<'_, PyAny>) -> PyResult<TableSource> {
    if data.hasattr("__arrow_c_stream__")? {
        let (batches, schema) = import_table(arg, data)?;
        Ok(TableSource::batches(arg, schema, batches))
    } else {
        match data.extract::<PathBuf>() {
            Ok(p) => Ok(TableSource::file(p)),
            Err(_) => Err(wrong_type(arg, DATA_LIKE, data)),
        }
    }
}

/// The evaluation report of [`evaluate`]: JSON and HTML of
/// [`pets_synth::eval::EvalReport`], as `pets synth evaluate --json/--report` write them.
#[pyclass(module = "pets._native", name = "EvalReport", frozen)]
pub struct PyEvalReport {
    report: pets_synth::eval::EvalReport,
}

#[pymethods]
impl PyEvalReport {
    /// The report as JSON (indented when `pretty`).
    #[pyo3(signature = (pretty = true))]
    fn to_json(&self, pretty: bool) -> PyResult<String> {
        let r = if pretty {
            serde_json::to_string_pretty(&self.report)
        } else {
            serde_json::to_string(&self.report)
        };
        r.map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
    }

    /// The self-contained HTML report.
    fn to_html(&self) -> String {
        self.report.to_html()
    }

    /// The plain-language summary lines.
    fn summary(&self) -> Vec<String> {
        self.report.summary()
    }
}

/// Evaluate `synth` against `real` (the rows the synthesiser was fitted on), as
/// `pets synth evaluate` does: [`pets_synth::eval::EvalJob`] with the interpreter detached.
/// Tables are Arrow streams or file paths; `holdout` is real rows never seen by the
/// synthesiser.
#[pyfunction]
#[pyo3(signature = (real, synth, schema_json, holdout = None, target = None, positive = None,
                    features = None, workload = None, sample_rows = pets_synth::eval::DEFAULT_SAMPLE_ROWS,
                    seed = 0, progress = None))]
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    py: Python<'_>,
    real: &Bound<'_, PyAny>,
    synth: &Bound<'_, PyAny>,
    schema_json: &str,
    holdout: Option<&Bound<'_, PyAny>>,
    target: Option<String>,
    positive: Option<String>,
    features: Option<Vec<String>>,
    workload: Option<Vec<Vec<String>>>,
    sample_rows: usize,
    seed: u64,
    progress: Option<Py<PyAny>>,
) -> PyResult<PyEvalReport> {
    let schema = Schema::from_json(schema_json).py_err(py)?;
    let job = pets_synth::eval::EvalJob::new(
        table_source("real", real)?,
        table_source("synth", synth)?,
        schema,
    )
    .holdout(holdout.map(|h| table_source("holdout", h)).transpose()?)
    .options(pets_synth::eval::EvalOptions {
        target,
        positive,
        features: features.unwrap_or_default(),
        workload: workload.unwrap_or_default(),
        sample_rows,
        seed,
    });
    job.validate().py_err(py)?;
    let job = job.progress(crate::progress::observer(progress));
    let report = py.detach(|| job.run()).py_err(py)?;
    Ok(PyEvalReport { report })
}

/// Add the synthesis functions and classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySynthModel>()?;
    m.add_class::<PyEvalReport>()?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(fit_mst, m)?)?;
    m.add_function(wrap_pyfunction!(prepare_domain, m)?)?;
    Ok(())
}

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
use std::sync::Arc;

use arrow_array::RecordBatch;
use pyo3::prelude::*;

use pets::data::io::{BatchStream, DEFAULT_BATCH_ROWS, open_table};
use pets::data::{DataError, EncodeOptions, Encoder, InferOptions, Schema};
use pets::dp::bounding::{Bounded, RowKeys};
use pets_synth::{DomainOptions, MstOptions, SynthError, SynthModel, cdp_rho};

use crate::arrow::{export_table, import_table};
use crate::dp::dp_error;
use crate::errors::{DualError, Kind, error_of, to_pyerr, wrong_type};

/// What the data of a fit may be, for error messages.
const DATA_LIKE: &str = "a pyarrow Table, a polars or pandas DataFrame, another object with \
     __arrow_c_stream__, or a path to a CSV, TSV or Parquet file";

/// The Python exception for a synthesis error: data errors as the data layer's, DP errors as
/// [`dp_error`]'s, settings out of range (and a model too large for the clique limit)
/// `InvalidParameterError`, unusable model files `PetsError`, file system errors
/// `PetsIOError`.
pub fn synth_error(py: Python<'_>, err: SynthError) -> PyErr {
    let invalid = Kind::Dual(DualError::InvalidParameter);
    let (kind, column) = match err {
        SynthError::Data(e) => return to_pyerr(py, e),
        SynthError::Dp(e) => return dp_error(py, e),
        SynthError::Marginal(pets_synth::MarginalError::Data(e)) => return to_pyerr(py, e),
        SynthError::Marginal(_)
        | SynthError::CliqueTooLarge { .. }
        | SynthError::Invalid { .. } => (invalid, None),
        SynthError::Io { .. } => (Kind::Dual(DualError::Io), None),
        SynthError::Measurement { ref columns, .. } => (Kind::Base, columns.first().cloned()),
        _ => (Kind::Base, None),
    };
    error_of(py, kind, &err.to_string(), column.as_deref())
}

trait IntoPySynth<T> {
    fn py_synth(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPySynth<T> for Result<T, SynthError> {
    fn py_synth(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| synth_error(py, e))
    }
}

impl<T> IntoPySynth<T> for Result<T, DataError> {
    fn py_synth(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_pyerr(py, e))
    }
}

/// Where the data of a fit comes from.
enum Source {
    Batches(Vec<RecordBatch>, arrow_schema::SchemaRef),
    File(PathBuf),
}

/// Infer a schema from the data (only `columns` when given), as the other bindings do when
/// no schema is declared.
fn infer(source: &Source, columns: Option<&[String]>) -> Result<Schema, DataError> {
    let schema = match source {
        Source::Batches(batches, arrow_schema) => {
            let idx: Vec<usize> = match columns {
                Some(cols) => cols
                    .iter()
                    .map(|c| {
                        arrow_schema
                            .index_of(c)
                            .map_err(|_| DataError::UnknownColumn {
                                column: c.clone(),
                                available: arrow_schema
                                    .fields()
                                    .iter()
                                    .map(|f| f.name().clone())
                                    .collect(),
                            })
                    })
                    .collect::<Result<_, _>>()?,
                None => (0..arrow_schema.fields().len()).collect(),
            };
            let projected: Vec<RecordBatch> = batches
                .iter()
                .map(|b| b.project(&idx))
                .collect::<Result<_, _>>()?;
            let schema = Arc::new(arrow_schema.project(&idx)?);
            pets::data::infer_schema(
                BatchStream::from_batches(schema, projected),
                InferOptions::default(),
            )?
        }
        Source::File(path) => pets::data::infer_schema(
            open_table(path, DEFAULT_BATCH_ROWS)?,
            InferOptions::default(),
        )?,
    };
    Ok(schema)
}

/// Fit MST to `data` (a table exporting `__arrow_c_stream__`, or a path to a CSV, TSV or
/// Parquet file) under (`epsilon`, `delta`)-DP; returns the fitted model.
///
/// `schema_json` is the declared schema (`None`: inferred from the data, and the model
/// warns). `columns` are synthesised in this order (default: every encodable column of the
/// schema that is not a direct identifier); the schema becomes the synthesis domain of
/// [`pets_synth::prepare_domain`] with `max_values`. The other settings are
/// [`MstOptions`]'s (`None`: MST's defaults).
#[pyfunction]
#[pyo3(signature = (data, schema_json, columns, epsilon, delta, max_iters = None,
                    tolerance = None, max_clique_cells = None, max_pair_cells = None,
                    compress = true, max_values = 128, noise_penalty = false,
                    score_threshold = 1.0,
                    person_id = None, max_rows_per_person = 1, bounding_seed = 0))]
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
) -> PyResult<PySynthModel> {
    // Settings first, before any data is read.
    cdp_rho(epsilon, delta).py_synth(py)?;
    let mut opts = MstOptions::new(epsilon, delta);
    if let Some(i) = max_iters {
        if i == 0 {
            return Err(synth_error(
                py,
                invalid_setting("max_iters", 0, "at least one iteration is needed"),
            ));
        }
        opts.estimation.max_iters = i;
        opts.estimation.work_budget = None;
    }
    if let Some(t) = tolerance {
        if !(t >= 0.0 && t.is_finite()) {
            return Err(synth_error(
                py,
                invalid_setting("tolerance", t, "it must be a finite number >= 0"),
            ));
        }
        opts.estimation.tolerance = t;
    }
    if let Some(c) = max_clique_cells {
        if c == 0 {
            return Err(synth_error(
                py,
                invalid_setting("max_clique_cells", 0, "it must be at least 1"),
            ));
        }
        opts.estimation.max_clique_cells = c;
    }
    if let Some(c) = max_pair_cells {
        if c == 0 {
            return Err(synth_error(
                py,
                invalid_setting("max_pair_cells", 0, "it must be at least 1"),
            ));
        }
        opts.max_pair_cells = c;
    }
    opts.compress = compress;
    opts.noise_penalty = noise_penalty;
    opts.score_threshold = score_threshold;
    if let Some(cols) = &columns
        && cols.is_empty()
    {
        return Err(synth_error(
            py,
            invalid_setting("columns", "[]", "name at least one column, or None for all"),
        ));
    }

    let source = if data.hasattr("__arrow_c_stream__")? {
        let (batches, schema) = import_table("data", data)?;
        Source::Batches(batches, schema)
    } else {
        match data.extract::<PathBuf>() {
            Ok(p) => Source::File(p),
            Err(_) => return Err(wrong_type("data", DATA_LIKE, data)),
        }
    };
    let declared = match schema_json {
        Some(text) => Some(Schema::from_json(text).py_synth(py)?),
        None => None,
    };
    let model = py
        .detach(move || -> Result<SynthModel, SynthError> {
            let schema = match declared {
                Some(s) => s,
                None => infer(&source, columns.as_deref())?,
            };
            let domain = pets_synth::prepare_domain(
                &schema,
                columns.as_deref().unwrap_or_default(),
                &DomainOptions { max_values },
            )?;
            let schema = domain.schema;
            // Encode; with a person id, also read its column (never encoded) for bounding.
            let (table, keys) = match &source {
                Source::Batches(batches, _) => {
                    let table =
                        pets::data::encode_batches(&schema, batches, EncodeOptions::default())?;
                    let keys = person_id
                        .as_deref()
                        .map(|id| RowKeys::from_batches(id, batches, false))
                        .transpose()?;
                    (table, keys)
                }
                Source::File(path) => {
                    let enc = Encoder::new(&schema, EncodeOptions::default())?;
                    RowKeys::encode_file_with(enc, path, person_id.as_deref())?
                }
            };
            let bounded = match &keys {
                Some(k) => Bounded::by_person(k, max_rows_per_person, bounding_seed)?,
                None => Bounded::row_level(table.n_rows()),
            };
            let mut model = pets_synth::fit_mst_bounded(&table, &[], &opts, &bounded)?;
            model.notes = domain.notes;
            Ok(model)
        })
        .py_synth(py)?;
    Ok(PySynthModel { model })
}

fn invalid_setting(name: &'static str, value: impl ToString, reason: &str) -> SynthError {
    // `SynthError::invalid` is crate-private; build the variant directly.
    SynthError::Invalid {
        name,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// A fitted synthesiser (`pets_synth::SynthModel`): what a release panel keeps.
#[pyclass(module = "pets._native", name = "SynthModel", frozen)]
pub struct PySynthModel {
    model: SynthModel,
}

#[pymethods]
impl PySynthModel {
    /// Load a model file written by `pets synth fit` or `save`, checking format and version.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let model = py.detach(|| SynthModel::load(&path)).py_synth(py)?;
        Ok(PySynthModel { model })
    }

    /// Parse a model from its JSON text, checking format and version.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<Self> {
        let model = py.detach(|| SynthModel::from_json(text)).py_synth(py)?;
        Ok(PySynthModel { model })
    }

    /// Write the model file (JSON), as `pets synth fit --out` does.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.model.save(&path)).py_synth(py)
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

    /// The zCDP budget rho that gives (epsilon, delta)-DP.
    #[getter]
    fn rho(&self) -> f64 {
        self.model.rho
    }

    /// Names of the synthesised columns, in order.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.model
            .schema
            .columns
            .iter()
            .map(|c| c.name.clone())
            .collect()
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
    fn measurements(&self) -> Vec<(Vec<String>, f64, usize)> {
        self.model
            .measurements
            .iter()
            .map(|m| {
                (
                    m.columns.clone(),
                    m.measurement.sigma,
                    m.measurement.values.len(),
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
    fn sample<'py>(&self, py: Python<'py>, rows: u64, seed: u64) -> PyResult<Bound<'py, PyAny>> {
        let rows = usize::try_from(rows).map_err(|_| {
            synth_error(
                py,
                invalid_setting("rows", rows, "too many rows for this machine"),
            )
        })?;
        let (batches, schema) = py
            .detach(|| -> Result<_, SynthError> {
                let batches = self.model.sample_batches(rows as u64, seed)?;
                Ok((batches, self.model.sample_arrow_schema()?))
            })
            .py_synth(py)?;
        export_table(py, batches, schema)
    }

    /// Sample `rows` rows with `seed` and stream them to a Parquet, CSV or TSV file chosen by
    /// extension, as `pets synth sample` does; returns the rows written.
    fn write_sample(&self, py: Python<'_>, path: PathBuf, rows: u64, seed: u64) -> PyResult<u64> {
        py.detach(|| self.model.write_sample(&path, rows, seed))
            .py_synth(py)
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
    let schema = Schema::from_json(schema_json).py_synth(py)?;
    let domain = pets_synth::prepare_domain(
        &schema,
        columns.as_deref().unwrap_or_default(),
        &DomainOptions { max_values },
    )
    .py_synth(py)?;
    Ok((domain.schema.to_json(), domain.notes))
}

/// Add the synthesis functions and classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySynthModel>()?;
    m.add_function(wrap_pyfunction!(fit_mst, m)?)?;
    m.add_function(wrap_pyfunction!(prepare_domain, m)?)?;
    Ok(())
}

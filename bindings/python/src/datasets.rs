//! Synthetic datasets (`pets_datasets`): the A&E attendance generator.

use std::path::PathBuf;

use chrono::NaiveDate;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use pets::data::DataError;
use pets_datasets::ae::{AeConfig, AeGenerator, ae_schema_for};

use crate::arrow::export_table;
use crate::errors::IntoPyResult;

/// A generator configuration from the Python arguments; unset ones keep their defaults.
fn config(
    rows: u64,
    seed: u64,
    start_date: Option<NaiveDate>,
    days: Option<u32>,
    batch_rows: Option<usize>,
) -> AeConfig {
    let mut c = AeConfig::new(rows, seed);
    if let Some(d) = start_date {
        c.start_date = d;
    }
    if let Some(d) = days {
        c.days = d;
    }
    if let Some(b) = batch_rows {
        c.batch_rows = b;
    }
    c
}

/// Generate `rows` synthetic A&E attendances as a `pyarrow.Table` (deterministic for a seed).
#[pyfunction]
#[pyo3(signature = (rows, seed = 0, start_date = None, days = None, batch_rows = None))]
pub fn generate_ae(
    py: Python<'_>,
    rows: u64,
    seed: u64,
    start_date: Option<NaiveDate>,
    days: Option<u32>,
    batch_rows: Option<usize>,
) -> PyResult<Bound<'_, PyAny>> {
    let cfg = config(rows, seed, start_date, days, batch_rows);
    let (batches, schema) = py
        .detach(move || {
            let generator = AeGenerator::new(cfg)?;
            let schema = generator.arrow_schema();
            Ok::<_, DataError>((generator.collect::<Vec<_>>(), schema))
        })
        .py_err(py)?;
    export_table(py, batches, schema)
}

/// The declared schema of the A&E dataset for a period, as JSON.
#[pyfunction]
#[pyo3(signature = (start_date = None, days = None))]
pub fn ae_schema(
    py: Python<'_>,
    start_date: Option<NaiveDate>,
    days: Option<u32>,
) -> PyResult<String> {
    let cfg = config(0, 0, start_date, days, None);
    cfg.validate().py_err(py)?;
    Ok(ae_schema_for(&cfg).to_json())
}

/// Generate the A&E dataset straight to a Parquet, CSV or TSV file (by extension), streamed
/// in batches; returns a summary dict (`path`, `rows`, `batches`, `bytes`, `seconds`).
#[pyfunction]
#[pyo3(signature = (path, rows, seed = 0, start_date = None, days = None, batch_rows = None))]
pub fn write_ae(
    py: Python<'_>,
    path: PathBuf,
    rows: u64,
    seed: u64,
    start_date: Option<NaiveDate>,
    days: Option<u32>,
    batch_rows: Option<usize>,
) -> PyResult<Bound<'_, PyDict>> {
    let cfg = config(rows, seed, start_date, days, batch_rows);
    let summary = py
        .detach(move || pets_datasets::ae::write_ae(&cfg, &path, |_| {}))
        .py_err(py)?;
    let out = PyDict::new(py);
    out.set_item("path", summary.path)?;
    out.set_item("rows", summary.rows)?;
    out.set_item("batches", summary.batches)?;
    out.set_item("bytes", summary.bytes)?;
    out.set_item("seconds", summary.elapsed.as_secs_f64())?;
    Ok(out)
}

/// Add the dataset functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(generate_ae, m)?)?;
    m.add_function(wrap_pyfunction!(ae_schema, m)?)?;
    m.add_function(wrap_pyfunction!(write_ae, m)?)?;
    Ok(())
}

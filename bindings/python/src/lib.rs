//! Python bindings for pets: the native module `pets._native`.
//!
//! A thin layer in the polars style: tables cross the boundary as Arrow through the PyCapsule
//! interface (zero-copy, via pyo3-arrow), schemas as JSON text, and Rust errors become the
//! Python exceptions of [`errors`] with the same message. The rich API (classes, type hints,
//! docs, warnings) lives in the Python package `pets` around this module.

pub mod anonymise;
pub mod arrow;
pub mod data;
pub mod datasets;
pub mod disclosure;
pub mod dp;
pub mod errors;
pub mod federated;
pub mod outputs;
pub mod progress;
pub mod synth;

use pyo3::prelude::*;

/// The native module `pets._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_class::<data::Encoded>()?;
    m.add_function(wrap_pyfunction!(data::schema_from_json, m)?)?;
    m.add_function(wrap_pyfunction!(data::schema_from_toml, m)?)?;
    m.add_function(wrap_pyfunction!(data::schema_load, m)?)?;
    m.add_function(wrap_pyfunction!(data::schema_save, m)?)?;
    m.add_function(wrap_pyfunction!(data::schema_to_toml, m)?)?;
    m.add_function(wrap_pyfunction!(data::infer_schema, m)?)?;
    m.add_function(wrap_pyfunction!(data::infer_schema_file, m)?)?;
    m.add_function(wrap_pyfunction!(data::read_table, m)?)?;
    m.add_function(wrap_pyfunction!(data::write_table, m)?)?;
    m.add_function(wrap_pyfunction!(data::encode, m)?)?;
    m.add_function(wrap_pyfunction!(data::encode_file, m)?)?;
    datasets::register(m)?;
    disclosure::register(m)?;
    anonymise::register(m)?;
    dp::register(m)?;
    synth::register(m)?;
    federated::register(m)?;
    outputs::register(m)?;
    Ok(())
}

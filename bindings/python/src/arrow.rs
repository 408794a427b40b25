//! Moving tables across the boundary through the Arrow PyCapsule interface (zero-copy).

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use pyo3::prelude::*;
use pyo3_arrow::PyTable;

use crate::errors::wrong_type;

/// What a table argument may be, for error messages.
pub const TABLE_LIKE: &str =
    "a pyarrow Table, a polars or pandas DataFrame, or another object with __arrow_c_stream__";

/// Import a table argument: anything exporting `__arrow_c_stream__`. Other types raise
/// `TypeError` naming the argument.
pub fn import_table(arg: &str, obj: &Bound<'_, PyAny>) -> PyResult<(Vec<RecordBatch>, SchemaRef)> {
    if !obj.hasattr("__arrow_c_stream__")? {
        return Err(wrong_type(arg, TABLE_LIKE, obj));
    }
    let table: PyTable = obj.extract()?;
    Ok(table.into_inner())
}

/// Export batches as a `pyarrow.Table`.
pub fn export_table(
    py: Python<'_>,
    batches: Vec<RecordBatch>,
    schema: SchemaRef,
) -> PyResult<Bound<'_, PyAny>> {
    PyTable::try_new(batches, schema)?.into_pyarrow(py)
}

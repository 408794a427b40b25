//! Schemas, inference, encoding, decoding and file I/O (`pets::data`).
//!
//! Schemas cross the boundary as JSON text; tables as Arrow (pyo3-arrow, zero-copy). Heavy
//! work runs with the interpreter detached so other Python threads keep going.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3_arrow::PyArray;

use pets::data::encode::{CodeBook, EncodeReport, EncodedColumn};
use pets::data::io::BatchStream;
use pets::data::{
    BinPlacement, ColumnSpec, DataError, DecodeOptions, Decoder, EncodeOptions, EncodedTable,
    InferOptions, OutOfDomain, Schema, TableSource,
};

use crate::arrow::{export_table, import_table};
use crate::errors::IntoPyResult;

/// Rows per batch of decoded output.
const DECODE_BATCH_ROWS: usize = 256 * 1024;

fn parse_schema(py: Python<'_>, schema_json: &str) -> PyResult<Schema> {
    Schema::from_json(schema_json).py_err(py)
}

/// Parse and validate a JSON schema; returns it as normalised, pretty JSON.
#[pyfunction]
pub fn schema_from_json(py: Python<'_>, text: &str) -> PyResult<String> {
    Ok(parse_schema(py, text)?.to_json())
}

/// Parse and validate a TOML schema; returns it as pretty JSON.
#[pyfunction]
pub fn schema_from_toml(py: Python<'_>, text: &str) -> PyResult<String> {
    Ok(Schema::from_toml(text).py_err(py)?.to_json())
}

/// Read a schema file (`.toml` is TOML, anything else JSON); returns it as pretty JSON.
#[pyfunction]
pub fn schema_load(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    Ok(Schema::load(&path).py_err(py)?.to_json())
}

/// Write a JSON schema to a file (`.toml` is written as TOML, anything else JSON).
#[pyfunction]
pub fn schema_save(py: Python<'_>, schema_json: &str, path: PathBuf) -> PyResult<()> {
    parse_schema(py, schema_json)?.save(&path).py_err(py)
}

/// A JSON schema rendered as TOML.
#[pyfunction]
pub fn schema_to_toml(py: Python<'_>, schema_json: &str) -> PyResult<String> {
    parse_schema(py, schema_json)?.to_toml().py_err(py)
}

fn infer_options(max_categories: usize, name: Option<String>) -> InferOptions {
    InferOptions {
        max_categories,
        name,
        ..InferOptions::default()
    }
}

/// Infer a schema from an Arrow table; returns JSON. Every column is marked
/// `domain_from_data`.
#[pyfunction]
#[pyo3(signature = (table, max_categories = 10_000, name = None))]
pub fn infer_schema(
    py: Python<'_>,
    table: &Bound<'_, PyAny>,
    max_categories: usize,
    name: Option<String>,
) -> PyResult<String> {
    let (batches, arrow_schema) = import_table("data", table)?;
    let opts = infer_options(max_categories, name);
    py.detach(move || {
        pets::data::infer_schema(BatchStream::from_batches(arrow_schema, batches), opts)
            .map(|s| s.to_json())
    })
    .py_err(py)
}

/// Infer a schema from a CSV, TSV or Parquet file, streamed; returns JSON.
#[pyfunction]
#[pyo3(signature = (path, max_categories = 10_000, name = None))]
pub fn infer_schema_file(
    py: Python<'_>,
    path: PathBuf,
    max_categories: usize,
    name: Option<String>,
) -> PyResult<String> {
    let opts = infer_options(max_categories, name);
    py.detach(move || {
        let (source, _) = TableSource::file(&path).pinned(None)?;
        pets::data::infer_schema(source.stream()?, opts).map(|s| s.to_json())
    })
    .py_err(py)
}

/// Read a CSV, TSV or Parquet file into a `pyarrow.Table` (CSV columns are all text), with
/// the text dialect `csv` (JSON of `pets::data::CsvDialect`; unset fields sniffed). Returns
/// the table and the notes on what was sniffed.
#[pyfunction]
#[pyo3(signature = (path, csv = None, schema = None))]
pub fn read_table(
    py: Python<'_>,
    path: PathBuf,
    csv: Option<String>,
    schema: Option<String>,
) -> PyResult<(Bound<'_, PyAny>, Vec<String>)> {
    // The declared schema's `csv` section and column names apply under the given options.
    let schema = schema
        .map(|s| pets::data::Schema::from_json(&s))
        .transpose()
        .py_err(py)?;
    let dialect: pets::data::CsvDialect = match csv {
        Some(text) => serde_json::from_str(&text).map_err(|e| {
            crate::errors::classified(
                py,
                &DataError::InvalidArgument {
                    name: "csv options",
                    reason: e.to_string(),
                },
            )
        })?,
        None => Default::default(),
    };
    let (batches, schema, notes) = py
        .detach(move || {
            let (source, notes) = TableSource::file(&path)
                .with_csv(dialect)
                .pinned(schema.as_ref())?;
            let stream = source.stream()?;
            let schema = stream.arrow_schema();
            Ok::<_, DataError>((stream.collect_batches()?, schema, notes))
        })
        .py_err(py)?;
    Ok((
        export_table(py, batches, schema)?,
        notes.into_iter().map(|n| n.message).collect(),
    ))
}

/// Write an Arrow table to a CSV, TSV or Parquet file chosen by extension; returns the rows
/// written.
#[pyfunction]
pub fn write_table(py: Python<'_>, table: &Bound<'_, PyAny>, path: PathBuf) -> PyResult<u64> {
    let (batches, schema) = import_table("table", table)?;
    py.detach(move || {
        pets::data::io::write_table(&path, BatchStream::from_batches(schema, batches))
    })
    .py_err(py)
}

fn encode_options(columns: Option<Vec<String>>, out_of_domain: &str) -> PyResult<EncodeOptions> {
    let out_of_domain = match out_of_domain {
        "error" => OutOfDomain::Error,
        "other" => OutOfDomain::MapToOther,
        other => {
            return Err(PyValueError::new_err(format!(
                "out_of_domain must be \"error\" or \"other\", not {other:?}"
            )));
        }
    };
    Ok(EncodeOptions {
        columns,
        out_of_domain,
        ..EncodeOptions::default()
    })
}

/// Encode an Arrow table against a JSON schema.
#[pyfunction]
#[pyo3(signature = (table, schema_json, columns = None, out_of_domain = "error"))]
pub fn encode(
    py: Python<'_>,
    table: &Bound<'_, PyAny>,
    schema_json: &str,
    columns: Option<Vec<String>>,
    out_of_domain: &str,
) -> PyResult<Encoded> {
    let schema = parse_schema(py, schema_json)?;
    let name = schema.name.clone();
    let opts = encode_options(columns, out_of_domain)?;
    let (batches, _) = import_table("data", table)?;
    let encoded = py
        .detach(move || pets::data::encode_batches(&schema, &batches, opts))
        .py_err(py)?;
    Ok(Encoded::from_table(encoded, name))
}

/// Encode a CSV, TSV or Parquet file against a JSON schema, streaming it in batches.
#[pyfunction]
#[pyo3(signature = (path, schema_json, columns = None, out_of_domain = "error"))]
pub fn encode_file(
    py: Python<'_>,
    path: PathBuf,
    schema_json: &str,
    columns: Option<Vec<String>>,
    out_of_domain: &str,
) -> PyResult<Encoded> {
    let schema = parse_schema(py, schema_json)?;
    let name = schema.name.clone();
    let opts = encode_options(columns, out_of_domain)?;
    let encoded = py
        .detach(move || {
            let (source, _) = TableSource::file(&path).pinned(Some(&schema))?;
            source
                .encode(&schema, opts, &[], &pets::progress::Progress::none())
                .map(|e| e.table)
        })
        .py_err(py)?;
    Ok(Encoded::from_table(encoded, name))
}

/// One encoded column, its codes held in an Arrow buffer that Python can share.
struct Column {
    spec: ColumnSpec,
    codebook: CodeBook,
    codes: UInt32Array,
}

/// A table encoded to dense `u32` codes, one column of codes per encoded column.
#[pyclass(module = "pets._native", name = "Encoded", frozen)]
pub struct Encoded {
    columns: Vec<Column>,
    n_rows: usize,
    report: EncodeReport,
    name: Option<String>,
}

impl Encoded {
    fn from_table(table: EncodedTable, name: Option<String>) -> Self {
        let n_rows = table.n_rows();
        let report = table.report().clone();
        let columns = table
            .into_columns()
            .into_iter()
            .map(|c| Column {
                spec: c.spec,
                codebook: c.codebook,
                // Moves the Vec into an Arrow buffer without copying.
                codes: UInt32Array::from(c.codes),
            })
            .collect();
        Encoded {
            columns,
            n_rows,
            report,
            name,
        }
    }

    fn column(&self, py: Python<'_>, name: &str) -> PyResult<&Column> {
        self.columns
            .iter()
            .find(|c| c.spec.name == name)
            .ok_or_else(|| DataError::UnknownColumn {
                column: name.to_string(),
                available: self.columns.iter().map(|c| c.spec.name.clone()).collect(),
            })
            .py_err(py)
    }

    fn schema(&self) -> Schema {
        Schema {
            version: pets::data::schema::SCHEMA_FORMAT_VERSION,
            name: self.name.clone(),
            columns: self.columns.iter().map(|c| c.spec.clone()).collect(),
            csv: None,
        }
    }

    fn codes_array(&self, c: &Column) -> ArrayRef {
        Arc::new(c.codes.clone())
    }
}

#[pymethods]
impl Encoded {
    /// Number of rows.
    #[getter]
    fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Names of the encoded columns, in order.
    #[getter]
    fn names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.spec.name.clone()).collect()
    }

    /// The encode report as JSON.
    fn report_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.report).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// The schema of the encoded columns as JSON.
    fn schema_json(&self) -> String {
        self.schema().to_json()
    }

    /// The codes of one column as a `pyarrow.UInt32Array` sharing Rust's buffer.
    fn codes<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let c = self.column(py, name)?;
        let field = Arc::new(Field::new(&c.spec.name, DataType::UInt32, false));
        let array = PyArray::try_new(self.codes_array(c), field)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        py.import("pyarrow")?
            .getattr("array")?
            .call1((array.into_pyobject(py)?,))
    }

    /// All code columns as a `pyarrow.Table` sharing Rust's buffers.
    fn codes_table<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(&c.spec.name, DataType::UInt32, false))
            .collect();
        let schema = Arc::new(ArrowSchema::new(fields));
        let arrays = self.columns.iter().map(|c| self.codes_array(c)).collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        export_table(py, vec![batch], schema)
    }

    /// Number of distinct codes of a column (domain values, then null and other codes).
    fn cardinality(&self, py: Python<'_>, name: &str) -> PyResult<u32> {
        Ok(self.column(py, name)?.codebook.cardinality())
    }

    /// The code layout of a column: `(n_values, null_code, other_code)`.
    fn codebook(&self, py: Python<'_>, name: &str) -> PyResult<(u32, Option<u32>, Option<u32>)> {
        let b = self.column(py, name)?.codebook;
        Ok((b.n_values, b.null_code, b.other_code))
    }

    /// A readable label for every code of a column, in code order.
    fn labels(&self, py: Python<'_>, name: &str) -> PyResult<Vec<String>> {
        let c = self.column(py, name)?;
        let col = EncodedColumn {
            spec: c.spec.clone(),
            codebook: c.codebook,
            codes: Vec::new(),
        };
        Ok((0..c.codebook.cardinality())
            .map(|k| col.label(k))
            .collect())
    }

    /// How many rows hold each code of a column.
    fn counts(&self, py: Python<'_>, name: &str) -> PyResult<Vec<u64>> {
        let c = self.column(py, name)?;
        let mut counts = vec![0u64; c.codebook.cardinality() as usize];
        let codes = c.codes.values();
        py.detach(|| {
            for &k in codes.iter() {
                if let Some(slot) = counts.get_mut(k as usize) {
                    *slot += 1;
                }
            }
        });
        Ok(counts)
    }

    /// Decode the codes back to values of the declared types, as a `pyarrow.Table`.
    #[pyo3(signature = (placement = "midpoint", seed = 0, other_label = "other"))]
    fn decode<'py>(
        &self,
        py: Python<'py>,
        placement: &str,
        seed: u64,
        other_label: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let placement = match placement {
            "midpoint" => BinPlacement::Midpoint,
            "lower" => BinPlacement::Lower,
            "uniform" => BinPlacement::Uniform,
            other => {
                return Err(PyValueError::new_err(format!(
                    "placement must be \"midpoint\", \"lower\" or \"uniform\", not {other:?}"
                )));
            }
        };
        let opts = DecodeOptions {
            placement,
            seed,
            other_label: other_label.to_string(),
        };
        let (batches, schema) = py
            .detach(|| {
                let columns = self
                    .columns
                    .iter()
                    .map(|c| EncodedColumn {
                        spec: c.spec.clone(),
                        codebook: c.codebook,
                        codes: c.codes.values().to_vec(),
                    })
                    .collect();
                let table = EncodedTable::from_columns(columns)?;
                let schema = Decoder::arrow_schema(&table);
                let batches = pets::data::decode::decode_table(&table, opts, DECODE_BATCH_ROWS)?;
                Ok::<_, DataError>((batches, schema))
            })
            .py_err(py)?;
        export_table(py, batches, schema)
    }

    fn __len__(&self) -> usize {
        self.n_rows
    }

    fn __repr__(&self) -> String {
        format!(
            "<pets._native.Encoded {} rows x {} columns>",
            self.n_rows,
            self.columns.len()
        )
    }
}

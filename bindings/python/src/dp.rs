//! Differential privacy (`pets::dp`): a budgeted session and its queries over Arrow tables.
//!
//! [`DpSession`] holds one [`Session`] (the budget and the ledger; deliberately not copyable)
//! and runs one query at a time, as `pets dp query` runs each query of a spec: the query is a
//! [`QueryKind`] in JSON (serde's `kind` tag), its share of the budget a [`Cost`] in JSON
//! (default: an even split declared with the session, or everything left). Each call imports
//! the table (zero-copy), encodes only the columns the query groups by, bounds each person's
//! rows when an id column is given, attaches the exact values of the numeric column read from
//! Arrow (so sums and quantiles are of the raw values, and a NaN is refused), checks the share
//! against the budget before any work, and returns the [`QueryOutput`] as JSON. Errors become
//! the Python exceptions of [`crate::errors`]; an over-budget refusal is `BudgetExceededError`
//! with `requested`, `remaining`, `spent` and `total` attributes.

use arrow_array::{Array, ArrayRef, RecordBatch, cast::AsArray, types::*};
use arrow_schema::DataType;
use pyo3::prelude::*;

use pets::data::encode::CodeBook;
use pets::data::io::BatchStream;
use pets::data::{ColumnSpec, EncodeOptions, EncodedColumn, EncodedTable, InferOptions, Schema};
use pets::dp::bounding::RowKeys;
use pets::dp::queries::count::count;
use pets::dp::queries::groupby::{GroupByQuery, group_by};
use pets::dp::queries::histogram::{HistogramQuery, histogram};
use pets::dp::queries::moments::{NumericQuery, mean, sum, variance};
use pets::dp::queries::quantile::{MAX_DEFAULT_CANDIDATES, QuantileQuery, quantiles};
use pets::dp::queries::spec::{QueryKind, QueryOutput};
use pets::dp::queries::{DpData, split_share};
use pets::dp::{Cost, DpError, NoiseFamily, Session};

use crate::arrow::import_table;
use crate::errors::{DualError, Kind, new_error, to_pyerr};

/// The Python exception for a DP error.
pub fn dp_error(py: Python<'_>, err: DpError) -> PyErr {
    let invalid = Kind::Dual(DualError::InvalidParameter);
    let err = match err {
        DpError::Data(e) => return to_pyerr(py, e),
        other => other,
    };
    let (kind, column, row) = match &err {
        DpError::OverBudget { .. } => (Kind::Budget, None, None),
        DpError::NonFinite { column, row, .. } => (
            Kind::Dual(DualError::Domain),
            Some(column.as_str()),
            Some(*row),
        ),
        DpError::PersonIds { column, .. } => {
            (Kind::Dual(DualError::Domain), Some(column.as_str()), None)
        }
        DpError::UnknownColumn { column, .. } | DpError::WrongKind { column, .. } => {
            (Kind::Schema, Some(column.as_str()), None)
        }
        DpError::InvalidBounds { column, .. } => (invalid, Some(column.as_str()), None),
        DpError::InvalidParameter { .. }
        | DpError::InvalidQuery { .. }
        | DpError::IncompatibleMeasure { .. }
        | DpError::Spec(_) => (invalid, None, None),
        _ => (Kind::Base, None, None),
    };
    let built = new_error(py, kind, &err.to_string(), column, row).and_then(|value| {
        if let DpError::OverBudget {
            requested,
            remaining,
            spent,
            total,
            ..
        } = &err
        {
            value.setattr("requested", requested.main())?;
            value.setattr("remaining", remaining.main())?;
            value.setattr("spent", spent.main())?;
            value.setattr("total", total.main())?;
            value.setattr("measure", requested.main_name())?;
        }
        Ok(PyErr::from_value(value))
    });
    built.unwrap_or_else(|e| e)
}

trait IntoPyDp<T> {
    fn py_dp(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyDp<T> for Result<T, DpError> {
    fn py_dp(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| dp_error(py, e))
    }
}

impl<T> IntoPyDp<T> for Result<T, pets::data::DataError> {
    fn py_dp(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_pyerr(py, e))
    }
}

fn json_err(py: Python<'_>, what: &str, e: serde_json::Error) -> PyErr {
    dp_error(py, DpError::Spec(format!("{what}: {e}")))
}

/// The values of a numeric Arrow column as `f64` (`None` for null), or `None` when the column
/// is not numeric.
fn numeric_values(arrays: &[ArrayRef]) -> Option<Vec<Option<f64>>> {
    fn push<T: ArrowPrimitiveType>(
        a: &dyn Array,
        out: &mut Vec<Option<f64>>,
        f: impl Fn(T::Native) -> f64,
    ) {
        let p = a.as_primitive::<T>();
        out.extend((0..p.len()).map(|i| (!p.is_null(i)).then(|| f(p.value(i)))));
    }
    let mut out = Vec::with_capacity(arrays.iter().map(|a| a.len()).sum());
    for a in arrays {
        let a = a.as_ref();
        match a.data_type() {
            DataType::Int8 => push::<Int8Type>(a, &mut out, f64::from),
            DataType::Int16 => push::<Int16Type>(a, &mut out, f64::from),
            DataType::Int32 => push::<Int32Type>(a, &mut out, f64::from),
            DataType::Int64 => push::<Int64Type>(a, &mut out, |v| v as f64),
            DataType::UInt8 => push::<UInt8Type>(a, &mut out, f64::from),
            DataType::UInt16 => push::<UInt16Type>(a, &mut out, f64::from),
            DataType::UInt32 => push::<UInt32Type>(a, &mut out, f64::from),
            DataType::UInt64 => push::<UInt64Type>(a, &mut out, |v| v as f64),
            DataType::Float32 => push::<Float32Type>(a, &mut out, f64::from),
            DataType::Float64 => push::<Float64Type>(a, &mut out, |v| v),
            _ => return None,
        }
    }
    Some(out)
}

fn is_integer(t: &DataType) -> bool {
    t.is_integer()
}

/// The arrays of one column of the batches, or an unknown-column error.
fn column_arrays(
    batches: &[RecordBatch],
    names: &[String],
    column: &str,
) -> Result<Vec<ArrayRef>, DpError> {
    let idx = names
        .iter()
        .position(|n| n == column)
        .ok_or_else(|| DpError::UnknownColumn {
            column: column.to_string(),
            what: "data".into(),
            available: names.to_vec(),
        })?;
    Ok(batches.iter().map(|b| b.column(idx).clone()).collect())
}

/// A one-value column standing in for "no column" (a plain count needs the row count only).
fn rows_column(n: usize) -> EncodedColumn {
    EncodedColumn {
        spec: ColumnSpec::categorical("__rows__", ["row"]),
        codebook: CodeBook {
            n_values: 1,
            null_code: None,
            other_code: None,
        },
        codes: vec![0; n],
    }
}

/// A budgeted DP session (`pets::dp::Session`).
#[pyclass(module = "pets._native", name = "DpSession")]
pub struct DpSession {
    session: Session,
    /// Share of a query that names none (an even split declared up front), if any.
    default_share: Option<Cost>,
}

impl DpSession {
    fn share(&self, py: Python<'_>, share_json: Option<&str>, needs_delta: bool) -> PyResult<Cost> {
        if let Some(text) = share_json {
            return serde_json::from_str(text).map_err(|e| json_err(py, "query share", e));
        }
        let share = self
            .default_share
            .unwrap_or_else(|| self.session.remaining());
        Ok(if needs_delta {
            share
        } else {
            share.with_delta(0.0)
        })
    }

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
    #[pyo3(signature = (epsilon = None, rho = None, delta = 0.0, alpha = None, split_evenly_over = None))]
    fn new(
        py: Python<'_>,
        epsilon: Option<f64>,
        rho: Option<f64>,
        delta: f64,
        alpha: Option<f64>,
        split_evenly_over: Option<usize>,
    ) -> PyResult<Self> {
        let total = match (epsilon, rho) {
            (Some(e), None) => Cost::epsilon(e),
            (None, Some(r)) => Cost::rho(r),
            _ => {
                return Err(dp_error(
                    py,
                    DpError::Spec("give exactly one of epsilon or rho".into()),
                ));
            }
        }
        .with_delta(delta);
        let mut session = Session::new(total).py_dp(py)?;
        if let Some(a) = alpha {
            session = session.with_alpha(a).py_dp(py)?;
        }
        let default_share = match split_evenly_over {
            None => None,
            Some(0) => {
                return Err(dp_error(
                    py,
                    DpError::invalid("split_evenly_over", 0.0, "it must be at least 1"),
                ));
            }
            Some(n) => Some(split_share(&total, &vec![1.0; n]).py_dp(py)?[0]),
        };
        Ok(DpSession {
            session,
            default_share,
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

    /// The ledger (budget, spent, remaining, every release) as JSON.
    fn ledger(&self) -> String {
        self.session.ledger().to_json()
    }

    /// Run one query (a `QueryKind` in JSON) on `data`; returns its `QueryOutput` as JSON.
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
        let needs_delta = matches!(kind, QueryKind::GroupBy { .. });
        let share = self.share(py, share_json, needs_delta)?;
        let label = match &kind {
            QueryKind::Count => "count".to_string(),
            QueryKind::Sum { column, .. } => format!("sum({column})"),
            QueryKind::Mean { column, .. } => format!("mean({column})"),
            QueryKind::Variance { column, .. } => format!("variance({column})"),
            QueryKind::Quantile { column, .. } | QueryKind::Median { column, .. } => {
                format!("quantiles({column})")
            }
            QueryKind::Histogram { .. } => "histogram".into(),
            QueryKind::GroupBy { .. } => "group_by".into(),
        };
        // Refuse a share that does not fit before reading any data.
        if share_json.is_none() && share.main() <= 0.0 {
            return Err(dp_error(
                py,
                DpError::OverBudget {
                    query: label,
                    requested: share,
                    remaining: self.session.remaining(),
                    spent: self.session.spent(),
                    total: self.session.total(),
                },
            ));
        }
        share.validate().py_dp(py)?;
        self.session.check_share(&label, &share).py_dp(py)?;

        let (batches, arrow_schema) = import_table("data", data)?;
        let names: Vec<String> = arrow_schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let n_rows: usize = batches.iter().map(|b| b.num_rows()).sum();

        // Columns to encode: the axes of tables; the numeric column when the schema declares it.
        let (mut encode_cols, numeric_col): (Vec<String>, Option<String>) = match &kind {
            QueryKind::Histogram { dimensions, .. } | QueryKind::GroupBy { dimensions } => (
                dimensions.iter().map(|d| d.column().to_string()).collect(),
                None,
            ),
            QueryKind::Sum { column, .. }
            | QueryKind::Mean { column, .. }
            | QueryKind::Variance { column, .. }
            | QueryKind::Quantile { column, .. }
            | QueryKind::Median { column, .. } => (Vec::new(), Some(column.clone())),
            QueryKind::Count => (Vec::new(), None),
        };
        encode_cols.dedup();
        for c in &encode_cols {
            column_arrays(&batches, &names, c).py_dp(py)?;
        }
        let schema = match schema_json {
            Some(text) => Some(Schema::from_json(text).py_dp(py)?),
            None if encode_cols.is_empty() => None,
            None => {
                let idx: Vec<usize> = encode_cols
                    .iter()
                    .filter_map(|c| names.iter().position(|n| n == c))
                    .collect();
                let projected: Vec<RecordBatch> = batches
                    .iter()
                    .map(|b| b.project(&idx))
                    .collect::<Result<_, _>>()
                    .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
                let schema = std::sync::Arc::new(
                    arrow_schema
                        .project(&idx)
                        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?,
                );
                let stream = BatchStream::from_batches(schema, projected);
                Some(
                    py.detach(|| pets::data::infer_schema(stream, InferOptions::default()))
                        .py_dp(py)?,
                )
            }
        };
        if let (Some(s), Some(c)) = (&schema, &numeric_col)
            && s.column(c).is_ok_and(|spec| spec.kind.name() != "text")
        {
            encode_cols.push(c.clone());
        }
        let table = if encode_cols.is_empty() {
            EncodedTable::from_columns(vec![rows_column(n_rows)]).py_dp(py)?
        } else {
            let schema = schema.as_ref().expect("a schema when columns are encoded");
            let opts = EncodeOptions {
                columns: Some(encode_cols.clone()),
                ..EncodeOptions::default()
            };
            py.detach(|| pets::data::encode_batches(schema, &batches, opts))
                .py_dp(py)?
        };
        let ids = match &id_column {
            Some(id) => {
                let arrays = column_arrays(&batches, &names, id).py_dp(py)?;
                Some(
                    py.detach(|| RowKeys::from_arrays(id, &arrays, false))
                        .py_dp(py)?,
                )
            }
            None => None,
        };
        let mut dp_data = match &ids {
            Some(ids) => py
                .detach(|| DpData::by_person(&table, ids, max_rows_per_person, seed))
                .py_dp(py)?,
            None => DpData::row_level(&table),
        };
        let mut integer_raw = false;
        if let Some(c) = &numeric_col {
            let arrays = column_arrays(&batches, &names, c).py_dp(py)?;
            let dt = arrow_schema
                .field_with_name(c)
                .map(|f| f.data_type().clone());
            match numeric_values(&arrays) {
                Some(values) => {
                    integer_raw = dt.as_ref().is_ok_and(is_integer);
                    dp_data = dp_data.with_raw_values(c, values).py_dp(py)?;
                }
                // Text (e.g. read from CSV) that the schema declares numeric: use its codes.
                None if table.column(c).is_ok() => {}
                None => {
                    return Err(dp_error(
                        py,
                        DpError::WrongKind {
                            column: c.clone(),
                            kind: dt
                                .as_ref()
                                .map(|t| format!("of Arrow type {t}"))
                                .unwrap_or_default(),
                            query: label.clone(),
                            expected: "a numeric (integer or float) column".into(),
                        },
                    ));
                }
            }
        }

        let session = &mut self.session;
        let numeric_q = |column: &str, lower: f64, upper: f64| NumericQuery {
            column: column.into(),
            lower,
            upper,
            share,
            noise,
        };
        // Integer candidates for an integer column the schema does not declare.
        let integer_candidates = |column: &str, lower: f64, upper: f64| -> Option<Vec<f64>> {
            let declared = dp_data.table().column(column).is_ok();
            let (a, b) = (lower.ceil(), upper.floor());
            (integer_raw
                && !declared
                && lower.is_finite()
                && upper.is_finite()
                && b >= a
                && (b - a) < MAX_DEFAULT_CANDIDATES as f64)
                .then(|| (a as i64..=b as i64).map(|v| v as f64).collect())
        };
        let out = py
            .detach(|| -> Result<QueryOutput, DpError> {
                Ok(match &kind {
                    QueryKind::Count => QueryOutput::Scalar {
                        name: None,
                        result: count(session, &dp_data, &share, noise)?,
                    },
                    QueryKind::Sum {
                        column,
                        lower,
                        upper,
                    } => QueryOutput::Scalar {
                        name: None,
                        result: sum(session, &dp_data, &numeric_q(column, *lower, *upper))?,
                    },
                    QueryKind::Mean {
                        column,
                        lower,
                        upper,
                    } => QueryOutput::Scalar {
                        name: None,
                        result: mean(session, &dp_data, &numeric_q(column, *lower, *upper))?,
                    },
                    QueryKind::Variance {
                        column,
                        lower,
                        upper,
                    } => QueryOutput::Scalar {
                        name: None,
                        result: variance(session, &dp_data, &numeric_q(column, *lower, *upper))?,
                    },
                    QueryKind::Quantile {
                        column,
                        quantiles: qs,
                        lower,
                        upper,
                        candidates,
                    } => QueryOutput::Quantiles {
                        name: None,
                        results: quantiles(
                            session,
                            &dp_data,
                            &QuantileQuery {
                                column: column.clone(),
                                quantiles: qs.clone(),
                                lower: *lower,
                                upper: *upper,
                                candidates: candidates
                                    .clone()
                                    .or_else(|| integer_candidates(column, *lower, *upper)),
                                share,
                            },
                        )?,
                    },
                    QueryKind::Median {
                        column,
                        lower,
                        upper,
                    } => QueryOutput::Quantiles {
                        name: None,
                        results: quantiles(
                            session,
                            &dp_data,
                            &QuantileQuery {
                                column: column.clone(),
                                quantiles: vec![0.5],
                                lower: *lower,
                                upper: *upper,
                                candidates: integer_candidates(column, *lower, *upper),
                                share,
                            },
                        )?,
                    },
                    QueryKind::Histogram { dimensions, post } => QueryOutput::Table {
                        name: None,
                        result: histogram(
                            session,
                            &dp_data,
                            &HistogramQuery {
                                dimensions: dimensions.clone(),
                                share,
                                noise,
                                post: post.clone(),
                            },
                        )?,
                    },
                    QueryKind::GroupBy { dimensions } => QueryOutput::Groups {
                        name: None,
                        result: group_by(
                            session,
                            &dp_data,
                            &GroupByQuery {
                                dimensions: dimensions.clone(),
                                share,
                                noise,
                            },
                        )?,
                    },
                })
            })
            .py_dp(py)?;
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

/// Add the DP classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<DpSession>()?;
    Ok(())
}

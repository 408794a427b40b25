//! [`DpTable`]: read a table for DP queries, the one way every front door does it.
//!
//! One streamed pass over a [`TableSource`] that
//! - encodes the columns the queries group by (and every declared numeric column they read,
//!   so a value outside its declared domain is an error naming it, as everywhere in pets);
//! - reads the **raw values** of every numeric column a query aggregates (sums, means,
//!   variances and quantiles are of the exact values, never of bin midpoints, whichever door
//!   asked: a file's text is parsed, an Arrow numeric column is taken as it is);
//! - reads the person-id column alongside, unencoded (ids are never kept as text), and bounds
//!   each person's rows to `m` ([`Bounded::by_person`]); without an id, privacy is per row
//!   and the ledger says so.
//!
//! Without a declared schema the encoded columns' domains are inferred from the data, every
//! result over them carries the loud `DOMAIN_FROM_DATA` warning, and [`DpInput::warnings`]
//! holds a typed [`Warning`].

use std::borrow::Cow;

use arrow_array::{Array, ArrayRef, cast::AsArray, types::*};
use arrow_schema::DataType;

use crate::data::encode::CodeBook;
use crate::data::{
    ColumnKind, ColumnSpec, DataError, EncodeOptions, EncodedColumn, EncodedTable, Schema,
    TableSource,
};
use crate::dp::bounding::{Bounded, RowKeys};
use crate::dp::error::{DpError, Result};
use crate::dp::queries::DpData;
use crate::error::{Warning, WarningKind};

/// How to read a table for DP queries (see the module docs).
#[derive(Debug, Clone)]
pub struct DpTable {
    source: TableSource,
    schema: Option<Schema>,
    person_id: Option<(String, u32)>,
    seed: u64,
    allow_empty: bool,
}

/// A table read for DP queries: the data and the warnings of reading it.
#[derive(Debug)]
pub struct DpInput {
    /// What queries read.
    pub data: DpData<'static>,
    /// Warnings (an inferred schema, row-level privacy).
    pub warnings: Vec<Warning>,
}

impl DpTable {
    /// Read `source` against the declared `schema`.
    pub fn load(source: impl Into<TableSource>, schema: &Schema) -> DpTable {
        DpTable {
            source: source.into(),
            schema: Some(schema.clone()),
            person_id: None,
            seed: 0,
            allow_empty: false,
        }
    }

    /// Read `source` against `schema`, or, when `None`, a schema inferred from the columns
    /// read (loudly flagged: the domains then come from the private data).
    pub fn load_opt(source: impl Into<TableSource>, schema: Option<Schema>) -> DpTable {
        DpTable {
            source: source.into(),
            schema,
            person_id: None,
            seed: 0,
            allow_empty: false,
        }
    }

    /// Person-level privacy: `column` identifies a person; each person's rows are cut to
    /// `max_rows_per_person`, chosen uniformly at random (seeded by [`DpTable::seed`]).
    pub fn person_id(mut self, column: impl Into<String>, max_rows_per_person: u32) -> DpTable {
        self.person_id = Some((column.into(), max_rows_per_person));
        self
    }

    /// As [`DpTable::person_id`], when the id column is optional.
    pub fn person_id_opt(self, column: Option<String>, max_rows_per_person: u32) -> DpTable {
        match column {
            Some(c) => self.person_id(c, max_rows_per_person),
            None => self,
        }
    }

    /// Seed of the choice of kept rows (data processing, not privacy noise).
    pub fn seed(mut self, seed: u64) -> DpTable {
        self.seed = seed;
        self
    }

    /// Accept a source without rows: a partitioned run's driver reads its partitions'
    /// columns and types this way (axes, bound and ledger record; the counts come merged,
    /// [`crate::dp::QueryJob::run_merged`]).
    pub fn allow_empty(mut self, allow: bool) -> DpTable {
        self.allow_empty = allow;
        self
    }

    /// Read what `queries` need (see [`crate::dp::QueryKind::grouped_columns`] and [`crate::dp::QueryKind::numeric_column`]).
    pub fn read_for<'q>(
        &self,
        queries: impl IntoIterator<Item = &'q crate::dp::QueryKind>,
    ) -> Result<DpInput> {
        let mut encoded = Vec::new();
        let mut numeric = Vec::new();
        for q in queries {
            for c in q.grouped_columns() {
                if !encoded.contains(&c) {
                    encoded.push(c);
                }
            }
            if let Some(c) = q.numeric_column()
                && !numeric.iter().any(|n| n == c)
            {
                numeric.push(c.to_string());
            }
        }
        self.read(&encoded, &numeric)
    }

    /// Encode `grouped` columns and read the raw values of the `numeric` ones.
    pub fn read(&self, grouped: &[String], numeric: &[String]) -> Result<DpInput> {
        let (source, mut warnings) = self.source.pinned(self.schema.as_ref())?;
        let available = source.column_names()?;
        for c in grouped.iter().chain(numeric) {
            if !available.contains(c) {
                return Err(DpError::UnknownColumn {
                    column: c.clone(),
                    what: source.describe(),
                    available: available.clone(),
                });
            }
        }
        let schema = match &self.schema {
            Some(s) => Some(s.clone()),
            None if grouped.is_empty() => None,
            None => {
                warnings.push(Warning::inferred_schema());
                Some(source.infer_schema_of(grouped)?)
            }
        };
        // Declared numeric columns are encoded too (checked against their domain; the
        // domain flag reaches the warnings); undeclared ones are read raw only.
        let mut encode: Vec<String> = grouped.to_vec();
        if let Some(schema) = &schema {
            // A column the schema declares non-numeric (an identifier, a category, a date)
            // is refused even when its values happen to parse as numbers.
            for c in numeric {
                if let Ok(spec) = schema.column(c)
                    && !matches!(
                        spec.kind,
                        ColumnKind::Integer { .. } | ColumnKind::Float { .. }
                    )
                {
                    return Err(DpError::WrongKind {
                        column: c.clone(),
                        kind: format!("declared {}", spec.kind.name()),
                        query: "a numeric query".into(),
                        expected: "a column declared integer or float in the schema".into(),
                    });
                }
            }
            for c in numeric {
                if let Ok(spec) = schema.column(c)
                    && matches!(
                        spec.kind,
                        ColumnKind::Integer { .. } | ColumnKind::Float { .. }
                    )
                    && !encode.contains(c)
                {
                    encode.push(c.clone());
                }
            }
            for c in &encode {
                schema.column(c)?;
            }
        }
        let mut extra: Vec<String> = numeric.to_vec();
        if let Some((id, _)) = &self.person_id
            && !extra.contains(id)
        {
            extra.push(id.clone());
        }
        let (table, read_extra) = match (&schema, encode.is_empty()) {
            (Some(schema), false) => {
                let opts = EncodeOptions {
                    columns: Some(encode.clone()),
                    allow_empty: self.allow_empty,
                    ..Default::default()
                };
                let read =
                    source.encode(schema, opts, &extra, &crate::progress::Progress::none())?;
                (read.table, read.extra)
            }
            _ => {
                // Nothing to encode (a plain count, or sums of undeclared columns): one
                // stand-in column holds the row count.
                let (rows, read) = source.read_columns(&extra)?;
                (EncodedTable::from_columns(vec![rows_column(rows)])?, read)
            }
        };
        let extra_of = |name: &str| {
            read_extra
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, a)| a.as_slice())
                .expect("read above")
        };
        let bounded = match &self.person_id {
            Some((id, m)) => {
                let keys = RowKeys::from_arrays(id, extra_of(id), false)?;
                if keys.len() != table.n_rows() {
                    return Err(DpError::query(
                        "reading the person id",
                        format!("{} ids for {} rows", keys.len(), table.n_rows()),
                    ));
                }
                Bounded::by_person(&keys, *m, self.seed)?
            }
            None => {
                warnings.push(Warning::new(
                    WarningKind::RowLevelPrivacy,
                    "no person-id column was given: privacy is per row, not per person",
                ));
                Bounded::row_level(table.n_rows())
            }
        };
        let mut data = DpData::owned(table, bounded)?;
        for c in numeric {
            let arrays = extra_of(c);
            let integer = arrays.first().is_some_and(|a| a.data_type().is_integer());
            let values = numeric_values(c, arrays)?;
            let declared = schema.as_ref().and_then(|s| s.column(c).ok());
            data = data.with_raw_values(c, values)?;
            if integer && declared.is_none() {
                data = data.with_integer_raw(c);
            }
            if let Some(spec) = declared
                && spec.domain_from_data
            {
                data = data.with_data_domain(c);
            }
        }
        Ok(DpInput { data, warnings })
    }
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

/// The values of a numeric column as `f64` (`None` for null): Arrow numbers as they are,
/// text (a CSV file) parsed after trimming, an empty field null. Anything else is an error
/// naming the column, row and value.
fn numeric_values(column: &str, arrays: &[ArrayRef]) -> Result<Vec<Option<f64>>> {
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
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let cast = arrow_cast::cast(a, &DataType::Utf8).map_err(DataError::from)?;
                let s = cast.as_string::<i32>();
                for i in 0..s.len() {
                    let text = if s.is_null(i) { "" } else { s.value(i).trim() };
                    if text.is_empty() {
                        out.push(None);
                        continue;
                    }
                    let v: f64 = text.parse().map_err(|_| DataError::Unparsable {
                        column: column.to_string(),
                        row: out.len() as u64 + 1,
                        value: text.to_string(),
                        expected: "a number".into(),
                    })?;
                    out.push(Some(v));
                }
            }
            other => {
                return Err(DpError::WrongKind {
                    column: column.to_string(),
                    kind: format!("of Arrow type {other}"),
                    query: "a numeric query".into(),
                    expected: "a numeric (integer or float) column".into(),
                });
            }
        }
    }
    Ok(out)
}

impl DpData<'static> {
    /// A table owned by the data (what [`DpTable`] returns).
    pub fn owned(table: EncodedTable, bounded: Bounded) -> Result<DpData<'static>> {
        DpData::from_cow(Cow::Owned(table), bounded)
    }
}

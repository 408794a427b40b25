//! Encoding of tables to dense, column-major `u32` codes against a declared [`Schema`].
//!
//! Every encodable column becomes one contiguous `Vec<u32>` ([`EncodedColumn::codes`]) laid
//! out by its [`CodeBook`]. Codes depend only on the schema, never on the data, so tables
//! encoded separately (partitions, trusts) share one code space and their counts merge by
//! addition. Batches are encoded in parallel across columns and, within a column, across
//! row chunks (rayon). Bad values are errors that name the column, the 1-based data row and
//! the value; with [`OutOfDomain::MapToOther`] values outside the declared domain instead
//! get the column's "other" code and are counted in the [`EncodeReport`]. No row is dropped.

mod arrays;
mod codec;

use std::collections::BTreeMap;
use std::path::Path;

use arrow_array::RecordBatch;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use self::codec::CodeBook;

/// The number of domain values `spec` encodes to (see [`crate::data::ColumnSpec::n_values`]).
pub(crate) fn codec_n_values(spec: &crate::data::ColumnSpec) -> Option<u32> {
    codec::ColumnCodec::new(spec).map(|c| c.n_values())
}
pub(crate) use self::codec::{ColumnCodec, Edges};
use super::error::{DataError, Result};
use super::io::{BatchStream, CsvDialect, DEFAULT_BATCH_ROWS, file_columns_with, open_table_with};
use super::schema::{ColumnKind, ColumnSpec, Schema};

/// What to do with a well-formed value outside its column's declared domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutOfDomain {
    /// Refuse the table with an error naming the column, row and value (the default).
    #[default]
    Error,
    /// Give it the column's explicit "other" code and count it in the report.
    MapToOther,
}

/// Options for [`Encoder`].
#[derive(Debug, Clone)]
pub struct EncodeOptions {
    /// Columns to encode, in this order; all encodable (non-text) columns when `None`.
    pub columns: Option<Vec<String>>,
    /// Handling of out-of-domain values.
    pub out_of_domain: OutOfDomain,
    /// Rows per parallel work item within one column.
    pub chunk_rows: usize,
    /// Accept a table with no rows (e.g. an empty partition); otherwise it is an error.
    pub allow_empty: bool,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            columns: None,
            out_of_domain: OutOfDomain::Error,
            chunk_rows: 32 * 1024,
            allow_empty: false,
        }
    }
}

/// What encoding did besides producing codes: nothing is dropped silently.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncodeReport {
    /// Rows encoded.
    pub rows: u64,
    /// Per encoded column, how many values were mapped to "other" (all zero unless
    /// [`OutOfDomain::MapToOther`]).
    pub mapped_to_other: BTreeMap<String, u64>,
    /// Text columns of the schema that were not encoded (identifiers, free text).
    pub text_columns_not_encoded: Vec<String>,
    /// Columns present in the data but not declared in the schema (not encoded).
    pub undeclared_data_columns: Vec<String>,
    /// Encoded columns whose domain was read from the data rather than declared.
    pub domain_from_data: Vec<String>,
}

/// One encoded column.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedColumn {
    /// The column's declaration.
    pub spec: ColumnSpec,
    /// Layout of its codes.
    pub codebook: CodeBook,
    /// One code per row.
    pub codes: Vec<u32>,
}

impl EncodedColumn {
    /// Column name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// How many rows hold each code (`cardinality` entries), counted in parallel.
    pub fn counts(&self) -> Vec<u64> {
        let k = self.codebook.cardinality() as usize;
        self.codes
            .par_chunks(256 * 1024)
            .fold(
                || vec![0u64; k],
                |mut acc, chunk| {
                    for &c in chunk {
                        acc[c as usize] += 1;
                    }
                    acc
                },
            )
            .reduce(
                || vec![0u64; k],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                    a
                },
            )
    }

    /// Human-readable label of a code: the category, the integer, the bin `[lo, hi)`, the
    /// date or period, `null` or `other`.
    pub fn label(&self, code: u32) -> String {
        label(&self.spec, &self.codebook, code)
    }
}

pub(crate) fn label(spec: &ColumnSpec, book: &CodeBook, code: u32) -> String {
    if Some(code) == book.null_code {
        return "null".into();
    }
    if Some(code) == book.other_code {
        return "other".into();
    }
    if code >= book.n_values {
        return format!("<invalid code {code}>");
    }
    // The codec (a categorical column's value index, a binned column's edges) is built only
    // for the kinds whose label needs it: labelling every code of a column calls this once a
    // code.
    match &spec.kind {
        ColumnKind::Categorical { values, .. } => return values[code as usize].clone(),
        ColumnKind::Integer {
            min, bins: None, ..
        } => return (min + i64::from(code)).to_string(),
        ColumnKind::Date { .. } | ColumnKind::Datetime { .. } => {
            return super::decode::period_label(spec, code);
        }
        _ => {}
    }
    let codec = ColumnCodec::new(spec).expect("encoded columns are encodable");
    match &codec {
        ColumnCodec::Integer { edges: Some(e), .. } | ColumnCodec::Float { edges: e, .. } => {
            let (lo, hi) = e.bounds(code);
            if code + 1 == e.n_bins() {
                format!("[{lo}, {hi}]")
            } else {
                format!("[{lo}, {hi})")
            }
        }
        _ => code.to_string(),
    }
}

/// The numeric range `[lo, hi)` a domain code of an integer or float column stands for (an
/// unbinned integer `v` is `[v, v + 1)`); `None` for other kinds and for the null and
/// "other" codes.
pub(crate) fn code_range(spec: &ColumnSpec, book: &CodeBook, code: u32) -> Option<(f64, f64)> {
    if code >= book.n_values {
        return None;
    }
    match ColumnCodec::new(spec)? {
        ColumnCodec::Integer {
            min, edges: None, ..
        } => {
            let v = (min + i64::from(code)) as f64;
            Some((v, v + 1.0))
        }
        ColumnCodec::Integer { edges: Some(e), .. } | ColumnCodec::Float { edges: e, .. } => {
            Some(e.bounds(code))
        }
        _ => None,
    }
}

/// The first instant of a domain code of a date (at midnight) or datetime column; `None`
/// for other kinds and for the null and "other" codes.
pub(crate) fn code_start(
    spec: &ColumnSpec,
    book: &CodeBook,
    code: u32,
) -> Option<chrono::NaiveDateTime> {
    if code >= book.n_values {
        return None;
    }
    match &spec.kind {
        ColumnKind::Date {
            min,
            max,
            granularity,
            ..
        } => Some(
            super::decode::date_period(*min, *max, *granularity, code)
                .0
                .and_time(chrono::NaiveTime::MIN),
        ),
        ColumnKind::Datetime {
            min, granularity, ..
        } => Some(*min + chrono::TimeDelta::seconds(i64::from(code) * granularity.seconds())),
        _ => None,
    }
}

/// A table encoded against a schema: one code vector per column, all of `n_rows` rows.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedTable {
    columns: Vec<EncodedColumn>,
    n_rows: usize,
    report: EncodeReport,
}

impl EncodedTable {
    /// Assemble a table from columns, checking lengths and that every code is valid.
    pub fn from_columns(columns: Vec<EncodedColumn>) -> Result<Self> {
        let n_rows = columns.first().map_or(0, |c| c.codes.len());
        for c in &columns {
            if c.codes.len() != n_rows {
                return Err(DataError::InvalidArgument {
                    name: "columns",
                    reason: format!(
                        "column {:?} has {} rows, expected {n_rows}",
                        c.spec.name,
                        c.codes.len()
                    ),
                });
            }
            let k = c.codebook.cardinality();
            if let Some(bad) = c.codes.par_iter().find_any(|&&x| x >= k) {
                return Err(DataError::InvalidArgument {
                    name: "columns",
                    reason: format!(
                        "column {:?} holds code {bad} but has {k} codes",
                        c.spec.name
                    ),
                });
            }
        }
        let report = EncodeReport {
            rows: n_rows as u64,
            mapped_to_other: columns.iter().map(|c| (c.spec.name.clone(), 0)).collect(),
            domain_from_data: columns
                .iter()
                .filter(|c| c.spec.domain_from_data)
                .map(|c| c.spec.name.clone())
                .collect(),
            ..Default::default()
        };
        Ok(EncodedTable {
            columns,
            n_rows,
            report,
        })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// The encoded columns, in order.
    pub fn columns(&self) -> &[EncodedColumn] {
        &self.columns
    }

    /// An encoded column by name.
    pub fn column(&self, name: &str) -> Result<&EncodedColumn> {
        self.columns
            .iter()
            .find(|c| c.spec.name == name)
            .ok_or_else(|| DataError::UnknownColumn {
                column: name.to_string(),
                available: self.columns.iter().map(|c| c.spec.name.clone()).collect(),
            })
    }

    /// The schema of the encoded columns.
    pub fn schema(&self) -> Schema {
        Schema {
            version: super::schema::SCHEMA_FORMAT_VERSION,
            name: None,
            columns: self.columns.iter().map(|c| c.spec.clone()).collect(),
            csv: None,
        }
    }

    /// What encoding reported.
    pub fn report(&self) -> &EncodeReport {
        &self.report
    }

    /// Bytes held by the codes.
    pub fn code_bytes(&self) -> usize {
        self.columns.len() * self.n_rows * std::mem::size_of::<u32>()
    }

    /// Take the columns out.
    pub fn into_columns(self) -> Vec<EncodedColumn> {
        self.columns
    }

    /// Append another table encoded against the same schema and options (a partition of
    /// the same data set); codes are schema-determined, so they concatenate as they are.
    pub fn append(&mut self, other: EncodedTable) -> Result<()> {
        let same = self.columns.len() == other.columns.len()
            && self
                .columns
                .iter()
                .zip(&other.columns)
                .all(|(a, b)| a.spec == b.spec && a.codebook == b.codebook);
        if !same {
            return Err(DataError::SchemaMismatch {
                column: None,
                detail: "cannot append tables encoded against different schemas or options".into(),
            });
        }
        for (a, b) in self.columns.iter_mut().zip(other.columns) {
            a.codes.extend_from_slice(&b.codes);
        }
        self.n_rows += other.n_rows;
        self.report.rows += other.report.rows;
        for (k, v) in other.report.mapped_to_other {
            *self.report.mapped_to_other.entry(k).or_default() += v;
        }
        Ok(())
    }
}

/// Streaming encoder: push record batches, then [`Encoder::finish`].
#[derive(Debug)]
pub struct Encoder {
    specs: Vec<ColumnSpec>,
    codecs: Vec<ColumnCodec>,
    books: Vec<CodeBook>,
    codes: Vec<Vec<u32>>,
    other: Vec<u64>,
    rows: u64,
    positions: Option<Vec<usize>>,
    opts: EncodeOptions,
    report: EncodeReport,
    /// Every column the schema declares (encoded or not), for the undeclared-columns report.
    declared: Vec<String>,
    /// The columns of the file opened by [`Encoder::open_file`] (the stream is projected,
    /// so the batches do not show them all).
    file_columns: Option<Vec<String>>,
}

impl Encoder {
    /// An encoder for `schema` (validated) with `opts`.
    pub fn new(schema: &Schema, opts: EncodeOptions) -> Result<Self> {
        schema.validate()?;
        if opts.chunk_rows == 0 {
            return Err(DataError::InvalidArgument {
                name: "chunk_rows",
                reason: "must be at least 1".into(),
            });
        }
        let specs: Vec<ColumnSpec> = match &opts.columns {
            Some(names) => {
                let mut specs = Vec::with_capacity(names.len());
                for n in names {
                    let spec = schema.column(n)?;
                    if !spec.kind.is_encodable() {
                        return Err(DataError::InvalidArgument {
                            name: "columns",
                            reason: format!(
                                "column {n:?} is declared text (no public domain) and cannot be encoded"
                            ),
                        });
                    }
                    if specs.iter().any(|s: &ColumnSpec| s.name == *n) {
                        return Err(DataError::InvalidArgument {
                            name: "columns",
                            reason: format!("column {n:?} is listed twice"),
                        });
                    }
                    specs.push(spec.clone());
                }
                specs
            }
            None => schema
                .columns
                .iter()
                .filter(|c| c.kind.is_encodable())
                .cloned()
                .collect(),
        };
        if specs.is_empty() {
            return Err(DataError::InvalidArgument {
                name: "columns",
                reason: "no encodable columns selected".into(),
            });
        }
        let codecs: Vec<ColumnCodec> = specs
            .iter()
            .map(|s| ColumnCodec::new(s).expect("encodable"))
            .collect();
        let books = specs
            .iter()
            .zip(&codecs)
            .map(|(s, c)| {
                let n = c.n_values();
                let null_code = s.nullable.then_some(n);
                let other_code = (opts.out_of_domain == OutOfDomain::MapToOther)
                    .then_some(n + u32::from(s.nullable));
                CodeBook {
                    n_values: n,
                    null_code,
                    other_code,
                }
            })
            .collect();
        let report = EncodeReport {
            text_columns_not_encoded: schema
                .columns
                .iter()
                .filter(|c| !c.kind.is_encodable())
                .map(|c| c.name.clone())
                .collect(),
            domain_from_data: specs
                .iter()
                .filter(|s| s.domain_from_data)
                .map(|s| s.name.clone())
                .collect(),
            ..Default::default()
        };
        Ok(Encoder {
            codes: vec![Vec::new(); specs.len()],
            other: vec![0; specs.len()],
            specs,
            codecs,
            books,
            rows: 0,
            positions: None,
            opts,
            report,
            declared: schema.columns.iter().map(|c| c.name.clone()).collect(),
            file_columns: None,
        })
    }

    /// Names of the columns this encoder encodes, in order.
    pub fn column_names(&self) -> Vec<String> {
        self.specs.iter().map(|s| s.name.clone()).collect()
    }

    /// Open `path` (CSV, TSV or Parquet) to be pushed into this encoder, reading only the
    /// columns it encodes plus `extra` ones the caller needs (e.g. a person id): a Parquet
    /// projection, so 5 of 27 columns cost 5 to decode. A declared column the file lacks is
    /// an error naming every column the file has; the report's undeclared columns come from
    /// the whole file.
    pub fn open_file(
        &mut self,
        path: impl AsRef<Path>,
        dialect: &CsvDialect,
        batch_rows: usize,
        extra: &[String],
    ) -> Result<BatchStream> {
        let path = path.as_ref();
        crate::data::source::check_file(path)?;
        let declared: Vec<String> = self.declared.clone();
        let columns = file_columns_with(path, dialect, Some(&declared))?;
        unique_columns(columns.iter().map(String::as_str))?;
        if let Some(missing) = self.specs.iter().find(|s| !columns.contains(&s.name)) {
            return Err(DataError::SchemaMismatch {
                column: Some(missing.name.clone()),
                detail: format!(
                    "column {:?} is declared in the schema but missing from the data (data columns: {})",
                    missing.name,
                    columns.join(", ")
                ),
            });
        }
        let mut wanted = self.column_names();
        wanted.extend(
            extra
                .iter()
                .filter(|e| !wanted.contains(e))
                .cloned()
                .collect::<Vec<_>>(),
        );
        let stream = open_table_with(path, batch_rows, Some(&wanted), dialect, Some(&declared))?;
        self.report.undeclared_data_columns = self.undeclared(columns.iter().map(String::as_str));
        self.file_columns = Some(columns);
        Ok(stream)
    }

    fn undeclared<'a>(&self, names: impl Iterator<Item = &'a str>) -> Vec<String> {
        names
            .filter(|n| !self.declared.iter().any(|d| d == n))
            .map(str::to_string)
            .collect()
    }

    /// Reserve room for `rows` more rows (avoids regrowth when the row count is known).
    ///
    /// Only a hint: the count may come from a file's footer, which a corrupt or hostile
    /// file can set to anything, so a reservation the allocator refuses (or one past
    /// `isize::MAX` bytes) is skipped and the columns grow as rows arrive, instead of
    /// aborting the process.
    pub fn reserve(&mut self, rows: usize) {
        for c in &mut self.codes {
            if c.try_reserve_exact(rows).is_err() {
                return;
            }
        }
    }

    /// Rows encoded so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn resolve(&mut self, batch: &RecordBatch) -> Result<Vec<usize>> {
        let arrow = batch.schema();
        let data_names: Vec<&str> = arrow.fields().iter().map(|f| f.name().as_str()).collect();
        unique_columns(data_names.iter().copied())?;
        let mut positions = Vec::with_capacity(self.specs.len());
        for (spec, codec) in self.specs.iter().zip(&self.codecs) {
            let p = data_names
                .iter()
                .position(|n| *n == spec.name)
                .ok_or_else(|| DataError::SchemaMismatch {
                    column: Some(spec.name.clone()),
                    detail: format!(
                        "column {:?} is declared in the schema but missing from the data (data columns: {})",
                        spec.name,
                        data_names.join(", ")
                    ),
                })?;
            arrays::check_type(spec, codec, batch.column(p).as_ref())?;
            positions.push(p);
        }
        if self.file_columns.is_none() {
            self.report.undeclared_data_columns = self.undeclared(data_names.iter().copied());
        }
        Ok(positions)
    }

    /// Encode one batch and append its codes. On error nothing of the batch is kept and the
    /// error names the first bad value (lowest row, then leftmost column).
    pub fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.positions.is_none() {
            self.positions = Some(self.resolve(batch)?);
        }
        let positions = self.positions.as_ref().expect("resolved");
        let n = batch.num_rows();
        let base = self.rows;
        let chunk = self.opts.chunk_rows;
        let specs = &self.specs;
        let codecs = &self.codecs;
        let books = &self.books;
        let results: Vec<Result<u64>> = self
            .codes
            .par_iter_mut()
            .enumerate()
            .map(|(j, codes)| {
                let start = codes.len();
                codes.resize(start + n, 0);
                let array = batch.column(positions[j]);
                let per_chunk: Vec<Result<u64>> = codes[start..]
                    .par_chunks_mut(chunk)
                    .enumerate()
                    .map(|(k, out)| {
                        let offset = k * chunk;
                        let slice = array.slice(offset, out.len());
                        arrays::encode_array(
                            &specs[j],
                            &codecs[j],
                            &books[j],
                            slice.as_ref(),
                            base + offset as u64 + 1,
                            out,
                        )
                    })
                    .collect();
                per_chunk.into_iter().sum::<Result<u64>>()
            })
            .collect();
        let mut first_err: Option<DataError> = None;
        for r in &results {
            if let Err(e) = r {
                let better = match &first_err {
                    None => true,
                    Some(f) => e.row().unwrap_or(u64::MAX) < f.row().unwrap_or(u64::MAX),
                };
                if better {
                    first_err = Some(clone_error(e));
                }
            }
        }
        if let Some(e) = first_err {
            for c in &mut self.codes {
                c.truncate(base as usize);
            }
            return Err(e);
        }
        for (o, r) in self.other.iter_mut().zip(results) {
            *o += r.expect("checked");
        }
        self.rows += n as u64;
        Ok(())
    }

    /// Encode every batch of a stream.
    pub fn push_stream(&mut self, stream: BatchStream) -> Result<()> {
        if let Some(rows) = stream.rows_hint() {
            self.reserve(rows as usize);
        }
        for batch in stream {
            self.push(&batch?)?;
        }
        Ok(())
    }

    /// The encoded table.
    pub fn finish(mut self) -> Result<EncodedTable> {
        if self.rows == 0 && !self.opts.allow_empty {
            return Err(DataError::Empty {
                what: "table".into(),
                detail: "no rows to encode".into(),
            });
        }
        self.report.rows = self.rows;
        self.report.mapped_to_other = self
            .specs
            .iter()
            .zip(&self.other)
            .map(|(s, o)| (s.name.clone(), *o))
            .collect();
        let columns = self
            .specs
            .into_iter()
            .zip(self.books)
            .zip(self.codes)
            .map(|((spec, codebook), codes)| EncodedColumn {
                spec,
                codebook,
                codes,
            })
            .collect();
        Ok(EncodedTable {
            columns,
            n_rows: self.rows as usize,
            report: self.report,
        })
    }
}

/// Errors hold `std::io::Error` and so are not `Clone`; the ones `push` produces are all
/// row-level or mismatch errors, which are rebuilt here.
fn clone_error(e: &DataError) -> DataError {
    match e {
        DataError::OutOfDomain {
            column,
            row,
            value,
            domain,
        } => DataError::OutOfDomain {
            column: column.clone(),
            row: *row,
            value: value.clone(),
            domain: domain.clone(),
        },
        DataError::Unparsable {
            column,
            row,
            value,
            expected,
        } => DataError::Unparsable {
            column: column.clone(),
            row: *row,
            value: value.clone(),
            expected: expected.clone(),
        },
        DataError::UnexpectedNull { column, row } => DataError::UnexpectedNull {
            column: column.clone(),
            row: *row,
        },
        other => DataError::SchemaMismatch {
            column: None,
            detail: other.to_string(),
        },
    }
}

/// Refuse a table whose columns are not uniquely named (a pyarrow table or pandas frame
/// may hold two columns called `age`; a Parquet file may too): which one the schema's `age`
/// means cannot be told, so neither is guessed.
pub fn unique_columns<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(DataError::SchemaMismatch {
                column: Some(name.to_string()),
                detail: format!(
                    "column {name:?} appears twice in the data; rename or drop one of the two \
                     (pets cannot tell which one the schema means)"
                ),
            });
        }
    }
    Ok(())
}

/// Encode a whole stream.
pub fn encode_stream(
    schema: &Schema,
    stream: BatchStream,
    opts: EncodeOptions,
) -> Result<EncodedTable> {
    let mut enc = Encoder::new(schema, opts)?;
    enc.push_stream(stream)?;
    enc.finish()
}

/// Encode in-memory batches.
pub fn encode_batches(
    schema: &Schema,
    batches: &[RecordBatch],
    opts: EncodeOptions,
) -> Result<EncodedTable> {
    let mut enc = Encoder::new(schema, opts)?;
    for b in batches {
        enc.push(b)?;
    }
    enc.finish()
}

/// Encode a CSV, TSV or Parquet file (by extension), streaming it in batches. Only the
/// columns being encoded are read (a Parquet projection; CSV builds no arrays for the
/// others), so encoding 5 of 27 columns decodes 5.
pub fn encode_file(
    path: impl AsRef<Path>,
    schema: &Schema,
    opts: EncodeOptions,
) -> Result<EncodedTable> {
    let mut enc = Encoder::new(schema, opts)?;
    let dialect = schema.csv.clone().unwrap_or_default();
    let stream = enc.open_file(path, &dialect, DEFAULT_BATCH_ROWS, &[])?;
    enc.push_stream(stream)?;
    enc.finish()
}

#[cfg(test)]
mod tests;

//! Streaming table I/O: CSV and Parquet in, CSV and Parquet out, in Arrow record batches.
//!
//! Readers never hold a file's text in memory: they yield [`RecordBatch`]es of a bounded
//! number of rows through a [`BatchStream`], so a 10-million-row extract is read in constant
//! memory. CSV columns arrive as text (`Utf8`) and are typed later by the encoder against the
//! declared schema, which is what lets errors name the column, row and value. Parquet columns
//! arrive with their stored types.

mod csv;
mod dialect;
#[cfg(feature = "parquet")]
mod parquet;
mod text;

use std::path::Path;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

pub use self::csv::{CsvReadOptions, CsvSink, CsvWriteOptions, read_csv};
pub use self::dialect::{COMMON_MISSING_CODES, CsvDialect, ResolvedCsv};
#[cfg(feature = "parquet")]
pub use self::parquet::{ParquetSink, ParquetWriteOptions, read_parquet, read_parquet_columns};
pub use self::text::encoding_for_label;
use super::error::{DataError, Result};

/// Default number of rows in a batch read from a file.
pub const DEFAULT_BATCH_ROWS: usize = 64 * 1024;

/// A stream of record batches that share one Arrow schema.
pub struct BatchStream {
    schema: SchemaRef,
    rows_hint: Option<u64>,
    inner: Box<dyn Iterator<Item = Result<RecordBatch>> + Send>,
}

impl std::fmt::Debug for BatchStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchStream")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl BatchStream {
    /// Wrap an iterator of batches that all have `schema`.
    pub fn new(
        schema: SchemaRef,
        inner: impl Iterator<Item = Result<RecordBatch>> + Send + 'static,
    ) -> Self {
        BatchStream {
            schema,
            rows_hint: None,
            inner: Box::new(inner),
        }
    }

    /// Declare how many rows the stream holds, when known up front (Parquet metadata,
    /// in-memory batches); consumers use it to allocate once.
    pub fn with_rows_hint(mut self, rows: u64) -> Self {
        self.rows_hint = Some(rows);
        self
    }

    /// The number of rows, when known up front.
    pub fn rows_hint(&self) -> Option<u64> {
        self.rows_hint
    }

    /// A stream over batches already in memory (e.g. handed over from Python).
    pub fn from_batches(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
        Self::new(schema, batches.into_iter().map(Ok)).with_rows_hint(rows)
    }

    /// The Arrow schema of every batch.
    pub fn arrow_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Read every batch into memory.
    pub fn collect_batches(self) -> Result<Vec<RecordBatch>> {
        self.collect()
    }
}

impl Iterator for BatchStream {
    type Item = Result<RecordBatch>;
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next()
    }
}

/// File formats pets reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Comma-separated text with a header.
    Csv,
    /// Tab-separated text with a header.
    Tsv,
    /// Apache Parquet.
    Parquet,
}

impl FileFormat {
    /// The format implied by a file name's extension.
    pub fn from_path(path: &Path) -> Result<FileFormat> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Ok(FileFormat::Csv),
            Some("tsv") | Some("tab") => Ok(FileFormat::Tsv),
            Some("parquet") | Some("pq") => Ok(FileFormat::Parquet),
            _ => Err(DataError::UnknownFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// Open a table for streaming, choosing the reader by extension (`.csv`, `.tsv`, `.parquet`);
/// a text file's dialect is sniffed ([`CsvDialect::resolve`]).
pub fn open_table(path: impl AsRef<Path>, batch_rows: usize) -> Result<BatchStream> {
    open_table_columns(path, batch_rows, None)
}

/// As [`open_table`], reading only `columns` when given (names not in the file are left
/// out, for the consumer to report): Parquet decodes only those column chunks, CSV builds
/// arrays only for them.
pub fn open_table_columns(
    path: impl AsRef<Path>,
    batch_rows: usize,
    columns: Option<&[String]>,
) -> Result<BatchStream> {
    open_table_with(path, batch_rows, columns, &CsvDialect::default(), None)
}

/// As [`open_table_columns`], reading a text file in `dialect` (unset fields sniffed;
/// `declared` are the schema's column names, which name a header-less file's columns).
/// Parquet files ignore the dialect.
pub fn open_table_with(
    path: impl AsRef<Path>,
    batch_rows: usize,
    columns: Option<&[String]>,
    dialect: &CsvDialect,
    declared: Option<&[String]>,
) -> Result<BatchStream> {
    let path = path.as_ref();
    let csv = |delimiter: u8| -> Result<CsvReadOptions> {
        Ok(CsvReadOptions {
            batch_size: batch_rows,
            columns: columns.map(<[String]>::to_vec),
            ..dialect.resolve(path, delimiter, declared)?.options
        })
    };
    match FileFormat::from_path(path)? {
        FileFormat::Csv => read_csv(path, &csv(b',')?),
        FileFormat::Tsv => read_csv(path, &csv(b'\t')?),
        #[cfg(feature = "parquet")]
        FileFormat::Parquet => read_parquet_columns(path, batch_rows, columns),
        #[cfg(not(feature = "parquet"))]
        FileFormat::Parquet => Err(no_parquet(path)),
    }
}

/// What sniffing decided about a text file's dialect that differs from the plain default
/// (one sentence each; none for Parquet).
pub fn dialect_notes(
    path: impl AsRef<Path>,
    dialect: &CsvDialect,
    declared: Option<&[String]>,
) -> Result<Vec<String>> {
    let path = path.as_ref();
    Ok(match FileFormat::from_path(path)? {
        FileFormat::Csv => dialect.resolve(path, b',', declared)?.notes,
        FileFormat::Tsv => dialect.resolve(path, b'\t', declared)?.notes,
        FileFormat::Parquet => Vec::new(),
    })
}

/// The column names of a CSV, TSV or Parquet file, from its header or footer (no rows read).
pub fn file_columns(path: impl AsRef<Path>) -> Result<Vec<String>> {
    file_columns_with(path, &CsvDialect::default(), None)
}

/// As [`file_columns`], for a text file in `dialect` (see [`open_table_with`]).
pub fn file_columns_with(
    path: impl AsRef<Path>,
    dialect: &CsvDialect,
    declared: Option<&[String]>,
) -> Result<Vec<String>> {
    let stream = open_table_with(path, 1, None, dialect, declared)?;
    Ok(stream
        .arrow_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
}

/// Somewhere record batches can be written, one after another.
pub trait BatchSink: Send {
    /// Append a batch (its schema must be the sink's).
    fn write(&mut self, batch: &RecordBatch) -> Result<()>;
    /// Flush and close the file; nothing is complete until this returns `Ok`.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// Create a file for writing batches of `schema`, choosing the writer by extension.
///
/// The file is written whole or not at all: batches go to a temporary file beside `path`
/// (`.name.<pid>.partial.<ext>`), renamed over `path` by [`BatchSink::finish`]; a failure
/// (a full disk, an error upstream, a panic) removes it, so no partial file is ever left.
pub fn open_sink(path: impl AsRef<Path>, schema: SchemaRef) -> Result<Box<dyn BatchSink>> {
    let path = path.as_ref();
    let format = FileFormat::from_path(path)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.partial.{ext}", std::process::id()));
    let inner = open_sink_direct(&tmp, format, schema).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    Ok(Box::new(AtomicSink {
        inner: Some(inner),
        tmp,
        path: path.to_path_buf(),
    }))
}

/// A sink writing to a temporary file, renamed over the target when finished and removed
/// if dropped unfinished.
struct AtomicSink {
    inner: Option<Box<dyn BatchSink>>,
    tmp: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl BatchSink for AtomicSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.inner
            .as_mut()
            .expect("an unfinished sink has its writer")
            .write(batch)
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        let inner = self.inner.take().expect("finished once");
        inner.finish()?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| DataError::io(&self.path, e))
    }
}

impl Drop for AtomicSink {
    fn drop(&mut self) {
        // Unfinished (an error or a panic), or finished but not renamed: leave nothing.
        self.inner.take();
        let _ = std::fs::remove_file(&self.tmp);
    }
}

fn open_sink_direct(
    path: &Path,
    format: FileFormat,
    schema: SchemaRef,
) -> Result<Box<dyn BatchSink>> {
    Ok(match format {
        FileFormat::Csv => Box::new(CsvSink::create(path, schema, CsvWriteOptions::default())?),
        FileFormat::Tsv => Box::new(CsvSink::create(
            path,
            schema,
            CsvWriteOptions {
                delimiter: b'\t',
                ..Default::default()
            },
        )?),
        #[cfg(feature = "parquet")]
        FileFormat::Parquet => Box::new(ParquetSink::create(path, schema)?),
        #[cfg(not(feature = "parquet"))]
        FileFormat::Parquet => return Err(no_parquet(path)),
    })
}

/// Write a whole stream to a file chosen by extension; returns the number of rows written.
pub fn write_table(path: impl AsRef<Path>, stream: BatchStream) -> Result<u64> {
    let mut sink = open_sink(path, stream.arrow_schema())?;
    let mut rows = 0u64;
    for batch in stream {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        sink.write(&batch)?;
    }
    sink.finish()?;
    Ok(rows)
}

#[cfg(test)]
mod tests;

/// The error for a Parquet file in a build without the `parquet` feature.
#[cfg(not(feature = "parquet"))]
fn no_parquet(path: &Path) -> DataError {
    DataError::Unsupported {
        path: path.to_path_buf(),
        reason: "this build of pets has no Parquet support (the `parquet` cargo feature); \
                 use CSV, or build pets with default features"
            .into(),
    }
}

//! CSV reading (streamed, every column as text) and writing.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions, StringArray};
use arrow_schema::{DataType, Field, Schema as ArrowSchema, SchemaRef};

use super::{BatchSink, BatchStream, DEFAULT_BATCH_ROWS};
use crate::data::error::{DataError, Result};

/// How to read a CSV file.
#[derive(Debug, Clone)]
pub struct CsvReadOptions {
    /// Field separator (default `,`).
    pub delimiter: u8,
    /// Quote character (default `"`).
    pub quote: u8,
    /// Whether the first line holds column names (default true).
    pub has_header: bool,
    /// Column names to use; required when there is no header, and replaces the header when given.
    pub column_names: Option<Vec<String>>,
    /// Texts read as null (default: the empty field). Matched after trimming if `trim`.
    pub null_values: Vec<String>,
    /// Strip leading and trailing spaces from every field (default false).
    pub trim: bool,
    /// Lines starting with this byte are skipped.
    pub comment: Option<u8>,
    /// Rows per batch.
    pub batch_size: usize,
    /// Read only these columns (in file order; names not in the file are ignored, so the
    /// consumer reports them). `None`: every column. Fields of other columns are still
    /// split, but no arrays are built for them.
    pub columns: Option<Vec<String>>,
    /// The file's encoding (a WHATWG label, see [`super::encoding_for_label`]); `None`:
    /// UTF-8, checked. A byte-order mark wins either way.
    pub encoding: Option<String>,
}

impl Default for CsvReadOptions {
    fn default() -> Self {
        CsvReadOptions {
            delimiter: b',',
            quote: b'"',
            has_header: true,
            column_names: None,
            null_values: vec![String::new()],
            trim: false,
            comment: None,
            batch_size: DEFAULT_BATCH_ROWS,
            columns: None,
            encoding: None,
        }
    }
}

fn csv_err(path: &Path, message: impl std::fmt::Display) -> DataError {
    DataError::Csv {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// The file as UTF-8 text in `opts`' encoding ([`super::text::open_text`]).
fn open(path: &Path, opts: &CsvReadOptions) -> Result<super::text::TextFile> {
    let encoding = opts
        .encoding
        .as_deref()
        .map(super::encoding_for_label)
        .transpose()?;
    super::text::open_text(path, encoding)
}

/// Read the header line (or the first record, to count columns) with the `csv` crate.
fn first_record(path: &Path, opts: &CsvReadOptions) -> Result<Option<Vec<String>>> {
    let text = open(path, opts)?;
    let mut rdr = ::csv::ReaderBuilder::new()
        .delimiter(opts.delimiter)
        .quote(opts.quote)
        .has_headers(false)
        .comment(opts.comment)
        .flexible(true)
        .from_reader(BufReader::new(text.reader));
    let mut rec = ::csv::StringRecord::new();
    match rdr.read_record(&mut rec) {
        Ok(true) => Ok(Some(rec.iter().map(|s| s.trim().to_string()).collect())),
        Ok(false) => Ok(None),
        Err(e) => Err(super::text::TextFile::map_err(
            &text.failure,
            path,
            e,
            |e| csv_err(path, e),
        )),
    }
}

/// Open a CSV file as a stream of batches whose columns are all `Utf8` text.
///
/// Typing happens later, against the declared schema ([`crate::data::encode`]) or by
/// inference ([`crate::data::infer`]). Rows with the wrong number of fields are an error
/// that names the line.
pub fn read_csv(path: impl AsRef<Path>, opts: &CsvReadOptions) -> Result<BatchStream> {
    let path = path.as_ref();
    if opts.batch_size == 0 {
        return Err(DataError::InvalidArgument {
            name: "batch_size",
            reason: "must be at least 1".into(),
        });
    }
    let first = first_record(path, opts)?;
    let Some(first) = first else {
        return Err(DataError::Empty {
            what: path.display().to_string(),
            detail: "the file has no lines".into(),
        });
    };
    let names: Vec<String> = match (&opts.column_names, opts.has_header) {
        (Some(names), _) => {
            if names.len() != first.len() {
                return Err(DataError::SchemaMismatch {
                    column: None,
                    detail: format!(
                        "{} column names given but the file's first line has {} fields",
                        names.len(),
                        first.len()
                    ),
                });
            }
            names.clone()
        }
        (None, true) => first,
        (None, false) => {
            return Err(DataError::InvalidArgument {
                name: "column_names",
                reason: "a CSV file without a header needs column names".into(),
            });
        }
    };
    let mut seen = std::collections::HashSet::new();
    for n in &names {
        if n.is_empty() {
            return Err(csv_err(path, "the header has an empty column name"));
        }
        if !seen.insert(n.as_str()) {
            return Err(csv_err(
                path,
                format!(
                    "column {n:?} appears twice in the header; if the first line is data, \
                     say the file has no header (--no-header, or \"csv\": {{\"header\": false}} \
                     in the schema)"
                ),
            ));
        }
    }
    let schema: SchemaRef = Arc::new(ArrowSchema::new(
        names
            .iter()
            .map(|n| Field::new(n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let text = open(path, opts)?;
    let mut builder = arrow_csv::ReaderBuilder::new(schema.clone())
        .with_header(opts.has_header)
        .with_delimiter(opts.delimiter)
        .with_quote(opts.quote)
        .with_batch_size(opts.batch_size);
    if let Some(c) = opts.comment {
        builder = builder.with_comment(c);
    }
    // No columns wanted (a count): Arrow's reader cannot project to none, so it reads the
    // first column and each batch keeps only its row count.
    let mut rows_only = false;
    let schema = match &opts.columns {
        Some(wanted) => {
            let keep: Vec<usize> = (0..names.len())
                .filter(|&i| wanted.iter().any(|w| *w == names[i]))
                .collect();
            rows_only = keep.is_empty() && !names.is_empty();
            builder = builder.with_projection(if rows_only { vec![0] } else { keep.clone() });
            Arc::new(schema.project(&keep)?)
        }
        None => schema,
    };
    // Nulls are decided here, after optional trimming, rather than by the Arrow reader, so
    // that "  ?" and "?" are treated alike; the reader keeps every text as is.
    let keep_all = regex::Regex::new("$.^").expect("valid regex");
    builder = builder.with_null_regex(keep_all);
    let failure = text.failure.clone();
    let reader = builder
        .build(BufReader::with_capacity(1 << 20, text.reader))
        .map_err(|e| super::text::TextFile::map_err(&failure, path, e, |e| csv_err(path, e)))?;
    let path_buf: PathBuf = path.to_path_buf();
    let null_values = opts.null_values.clone();
    let trim = opts.trim;
    let out_schema = schema.clone();
    let iter = reader.map(move |b| {
        let batch = b.map_err(|e| {
            super::text::TextFile::map_err(&failure, &path_buf, e, |e| csv_err(&path_buf, e))
        })?;
        if rows_only {
            let rows = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
            return Ok(RecordBatch::try_new_with_options(
                out_schema.clone(),
                vec![],
                &rows,
            )?);
        }
        normalise_text_batch(&batch, &out_schema, &null_values, trim)
    });
    Ok(BatchStream::new(schema, iter))
}

/// Apply trimming and null texts to a batch of `Utf8` columns.
fn normalise_text_batch(
    batch: &RecordBatch,
    schema: &SchemaRef,
    null_values: &[String],
    trim: bool,
) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|col| {
            let s = col
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("CSV columns are read as Utf8");
            let out: StringArray = s
                .iter()
                .map(|v| {
                    v.and_then(|v| {
                        let v = if trim { v.trim() } else { v };
                        (!null_values.iter().any(|n| n == v)).then_some(v)
                    })
                })
                .collect();
            Arc::new(out) as ArrayRef
        })
        .collect();
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// How to write a CSV file.
#[derive(Debug, Clone)]
pub struct CsvWriteOptions {
    /// Field separator (default `,`).
    pub delimiter: u8,
    /// Write a header line (default true).
    pub header: bool,
}

impl Default for CsvWriteOptions {
    fn default() -> Self {
        CsvWriteOptions {
            delimiter: b',',
            header: true,
        }
    }
}

/// Writes batches to a CSV file. Dates are written `%Y-%m-%d` and timestamps
/// `%Y-%m-%dT%H:%M:%S%.f`, nulls as empty fields, so pets reads its own output back exactly.
pub struct CsvSink {
    path: PathBuf,
    writer: arrow_csv::Writer<BufWriter<File>>,
}

impl CsvSink {
    /// Create (or truncate) `path`.
    pub fn create(
        path: impl AsRef<Path>,
        _schema: SchemaRef,
        opts: CsvWriteOptions,
    ) -> Result<Self> {
        let path = path.as_ref();
        let file = File::create(path).map_err(|e| DataError::io(path, e))?;
        let writer = arrow_csv::WriterBuilder::new()
            .with_header(opts.header)
            .with_delimiter(opts.delimiter)
            .with_date_format("%Y-%m-%d".to_string())
            .with_timestamp_format("%Y-%m-%dT%H:%M:%S%.f".to_string())
            .build(BufWriter::with_capacity(1 << 20, file));
        Ok(CsvSink {
            path: path.to_path_buf(),
            writer,
        })
    }
}

impl BatchSink for CsvSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer.write(batch).map_err(|e| csv_err(&self.path, e))
    }

    fn finish(self: Box<Self>) -> Result<()> {
        use std::io::Write;
        let path = self.path;
        let mut inner = self.writer.into_inner();
        inner.flush().map_err(|e| DataError::io(&path, e))?;
        inner
            .get_ref()
            .sync_all()
            .map_err(|e| DataError::io(&path, e))
    }
}

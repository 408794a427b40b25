//! Where a job's table comes from: a file on disk or Arrow record batches already in memory.
//!
//! Every job of pets (risk, DP queries, synthesis) takes a [`TableSource`], so the command
//! line (a path), the Python package (pandas / polars / pyarrow imported zero-copy as
//! batches) and a Rust service (either) run the same code. A source is encoded against a
//! schema with [`TableSource::encode`], which can read extra, *unencoded* columns alongside
//! the encoded ones in the same streamed pass (a person id for contribution bounding, a raw
//! numeric column for exact sums): for a file, one projected read; for batches, the columns
//! are taken as they are.

use std::path::{Path, PathBuf};

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;

use crate::data::encode::{EncodeOptions, EncodedTable, Encoder};
use crate::data::error::{DataError, Result};
use crate::data::infer::{InferOptions, infer_schema};
use crate::data::io::{BatchStream, CsvDialect, DEFAULT_BATCH_ROWS, FileFormat, open_table_with};
use crate::data::schema::Schema;
use crate::progress::Progress;

/// A table to run a job on.
#[derive(Debug, Clone)]
pub enum TableSource {
    /// A CSV, TSV or Parquet file (by extension), streamed in batches.
    File {
        /// The file.
        path: PathBuf,
        /// How a text file is written, as given (command-line flags); the schema's `csv`
        /// section fills unset fields and the rest are sniffed ([`CsvDialect::resolve`]).
        csv: CsvDialect,
    },
    /// Record batches in memory (e.g. imported from pandas, polars or pyarrow).
    Batches {
        /// What to call the table in messages (`data`, `population`, ...).
        name: String,
        /// The batches' Arrow schema (also the schema of an empty table).
        schema: SchemaRef,
        /// The batches, in row order.
        batches: Vec<RecordBatch>,
    },
}

/// A column read alongside, unencoded: its name and its batches' arrays in row order.
pub type ExtraColumn = (String, Vec<ArrayRef>);

/// The result of [`TableSource::encode`]: the encoded table and the raw Arrow arrays of the
/// extra columns asked for, in the order asked, each as its batches' arrays in row order.
#[derive(Debug)]
pub struct Encoded {
    /// The encoded columns.
    pub table: EncodedTable,
    /// `(column, arrays)` for each extra column.
    pub extra: Vec<ExtraColumn>,
}

impl Encoded {
    /// The arrays of the extra column `name`, if it was asked for.
    pub fn extra(&self, name: &str) -> Option<&[ArrayRef]> {
        self.extra
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a.as_slice())
    }
}

impl From<PathBuf> for TableSource {
    fn from(path: PathBuf) -> Self {
        TableSource::file(path)
    }
}

impl From<&Path> for TableSource {
    fn from(path: &Path) -> Self {
        TableSource::file(path)
    }
}

impl From<&str> for TableSource {
    fn from(path: &str) -> Self {
        TableSource::file(path)
    }
}

impl TableSource {
    /// A file source; a text file's dialect comes from the schema or is sniffed.
    pub fn file(path: impl Into<PathBuf>) -> TableSource {
        TableSource::File {
            path: path.into(),
            csv: CsvDialect::default(),
        }
    }

    /// Read a text file in `csv` (fields given here win over the schema's `csv` section).
    /// No effect on in-memory batches.
    pub fn with_csv(mut self, dialect: CsvDialect) -> TableSource {
        if let TableSource::File { csv, .. } = &mut self {
            *csv = dialect;
        }
        self
    }

    /// The dialect a text file is read in under `schema`: this source's fields, then the
    /// schema's, the rest left to sniffing; and the schema's column names.
    fn dialect(&self, schema: Option<&Schema>) -> (CsvDialect, Option<Vec<String>>) {
        match self {
            TableSource::File { csv, .. } => (
                csv.or(schema.and_then(|s| s.csv.as_ref())),
                schema.map(|s| s.columns.iter().map(|c| c.name.clone()).collect()),
            ),
            TableSource::Batches { .. } => (CsvDialect::default(), None),
        }
    }

    /// This source with its text dialect decided once, under `schema` (the declared one, if
    /// any): flags, then the schema's `csv` section, then sniffing. Jobs pin their source
    /// first, so every later read (a subset of columns, a second pass) reads the file the
    /// same way, and pass the returned notes on as [`crate::WarningKind::CsvDialect`]
    /// warnings. Parquet files and in-memory batches come back unchanged, without notes.
    pub fn pinned(&self, schema: Option<&Schema>) -> Result<(TableSource, Vec<crate::Warning>)> {
        let TableSource::File { path, .. } = self else {
            return Ok((self.clone(), Vec::new()));
        };
        // The name first: a `.xlsx` is refused with the formats pets reads, whether or not
        // it exists.
        let format = FileFormat::from_path(path)?;
        check_file(path)?;
        let default_delimiter = match format {
            FileFormat::Parquet => {
                check_parquet(path)?;
                return Ok((self.clone(), Vec::new()));
            }
            FileFormat::Csv => b',',
            FileFormat::Tsv => b'\t',
        };
        let (dialect, declared) = self.dialect(schema);
        let resolved = dialect.resolve(path, default_delimiter, declared.as_deref())?;
        let o = &resolved.options;
        let csv = CsvDialect {
            header: Some(o.has_header),
            delimiter: Some(o.delimiter as char),
            quote: Some(o.quote as char),
            trim: Some(o.trim),
            null_values: Some(o.null_values.clone()),
            column_names: o.column_names.clone(),
            encoding: o.encoding.clone(),
        };
        let notes = resolved
            .notes
            .into_iter()
            .map(|n| crate::Warning::new(crate::WarningKind::CsvDialect, n))
            .collect();
        Ok((
            TableSource::File {
                path: path.clone(),
                csv,
            },
            notes,
        ))
    }

    /// An in-memory source called `name` in messages.
    pub fn batches(
        name: impl Into<String>,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> TableSource {
        TableSource::Batches {
            name: name.into(),
            schema,
            batches,
        }
    }

    /// How messages name this table: the file's path, or the in-memory table's name.
    pub fn describe(&self) -> String {
        match self {
            TableSource::File { path, .. } => path.display().to_string(),
            TableSource::Batches { name, .. } => name.clone(),
        }
    }

    /// The column names, from the file's header or footer (no rows read) or the batches.
    pub fn column_names(&self) -> Result<Vec<String>> {
        self.column_names_under(None)
    }

    /// The column names of the table read under `schema` (a header-less text file takes
    /// the schema's names).
    pub fn column_names_under(&self, schema: Option<&Schema>) -> Result<Vec<String>> {
        let arrow = match self {
            TableSource::File { path, .. } => {
                let (dialect, declared) = self.dialect(schema);
                open_table_with(path, 1, None, &dialect, declared.as_deref())?.arrow_schema()
            }
            TableSource::Batches { schema, .. } => schema.clone(),
        };
        Ok(arrow.fields().iter().map(|f| f.name().clone()).collect())
    }

    /// The whole table as a stream (every column).
    pub fn stream(&self) -> Result<BatchStream> {
        match self {
            TableSource::File { path, csv } => {
                open_table_with(path, DEFAULT_BATCH_ROWS, None, csv, None)
            }
            TableSource::Batches {
                schema, batches, ..
            } => Ok(BatchStream::from_batches(schema.clone(), batches.clone())),
        }
    }

    /// Read only the `columns` named (unencoded) and count the rows, in one streamed pass.
    pub fn read_columns(&self, columns: &[String]) -> Result<(usize, Vec<ExtraColumn>)> {
        let available = self.column_names()?;
        if let Some(missing) = columns.iter().find(|c| !available.contains(c)) {
            return Err(DataError::UnknownColumn {
                column: missing.clone(),
                available,
            });
        }
        let stream = match self {
            TableSource::File { path, csv } => {
                open_table_with(path, DEFAULT_BATCH_ROWS, Some(columns), csv, None)?
            }
            TableSource::Batches { .. } => self.stream()?,
        };
        let mut arrays: Vec<Vec<ArrayRef>> = vec![Vec::new(); columns.len()];
        let mut rows = 0usize;
        for batch in stream {
            let batch = batch?;
            for (name, out) in columns.iter().zip(arrays.iter_mut()) {
                if let Some(col) = batch.column_by_name(name) {
                    out.push(col.clone());
                }
            }
            rows += batch.num_rows();
        }
        Ok((rows, columns.iter().cloned().zip(arrays).collect()))
    }

    /// Infer a schema from the data. Every column is marked `domain_from_data`: callers
    /// must say so loudly (see [`crate::Warning::inferred_schema`]).
    pub fn infer_schema(&self) -> Result<Schema> {
        self.infer_schema_with(InferOptions::default())
    }

    /// The schema a disclosure-control job runs under: the declared one, or one inferred on
    /// exact values (grouped as released, not binned), with the inferred-schema warning
    /// pushed to `warnings` (its domains are read from the private data).
    pub fn declared_or_exact_schema(
        &self,
        declared: Option<&Schema>,
        warnings: &mut Vec<crate::Warning>,
    ) -> Result<Schema> {
        match declared {
            Some(s) => Ok(s.clone()),
            None => {
                warnings.push(crate::Warning::inferred_schema());
                self.infer_schema_with(InferOptions {
                    exact_values: true,
                    ..Default::default()
                })
            }
        }
    }

    /// On a schema this source inferred (`declared` is `None`), refuse `columns` that were
    /// inferred as text, saying why (an identifier, free text) and what to do, rather than
    /// failing later as if the user had declared them text.
    pub fn refuse_inferred_text<'a>(
        &self,
        declared: Option<&Schema>,
        schema: &Schema,
        columns: impl IntoIterator<Item = &'a String>,
    ) -> Result<()> {
        if declared.is_some() {
            return Ok(());
        }
        for name in columns {
            let spec = schema.column(name)?;
            if !spec.kind.is_encodable() {
                let why = spec.description.as_deref().unwrap_or("free text");
                return Err(DataError::InvalidArgument {
                    name: "columns",
                    reason: format!(
                        "{name:?} in {} was inferred as text, not encoded ({why}); an intruder \
                         who knows it singles out nearly everyone. Declare it in a schema \
                         (`pets schema infer`, then make it an integer or float with the \
                         bins you would release) to assess it, or leave it out",
                        self.describe()
                    ),
                });
            }
        }
        Ok(())
    }

    /// [`TableSource::infer_schema`] with `opts`. The schema's `csv` section records how a
    /// text file was read where that differs from a plain comma-separated file with a
    /// header (so a later run reads it the same way without sniffing).
    pub fn infer_schema_with(&self, opts: InferOptions) -> Result<Schema> {
        let mut schema = infer_schema(self.stream()?, opts).map_err(|e| match e {
            DataError::Empty { detail, .. } => DataError::Empty {
                what: self.describe(),
                detail,
            },
            e => e,
        })?;
        schema.csv = self.recorded_dialect();
        Ok(schema)
    }

    /// What an inferred schema records of this source's dialect (see
    /// [`CsvDialect::essentials`]).
    fn recorded_dialect(&self) -> Option<CsvDialect> {
        match self {
            TableSource::File { path, csv } => {
                let default_delimiter = match FileFormat::from_path(path) {
                    Ok(FileFormat::Tsv) => '\t',
                    _ => ',',
                };
                csv.essentials(default_delimiter)
            }
            TableSource::Batches { .. } => None,
        }
    }

    /// Infer a schema of `columns` only (all columns when empty); an unknown column is an
    /// error naming those that exist.
    pub fn infer_schema_of(&self, columns: &[String]) -> Result<Schema> {
        self.infer_schema_of_with(columns, InferOptions::default())
    }

    /// [`TableSource::infer_schema_of`] with `opts`: only the named columns are inferred
    /// (the others are still parsed from a text file, but not tabulated).
    pub fn infer_schema_of_with(&self, columns: &[String], opts: InferOptions) -> Result<Schema> {
        if columns.is_empty() {
            return self.infer_schema_with(opts);
        }
        let available = self.column_names()?;
        if let Some(missing) = columns.iter().find(|c| !available.contains(c)) {
            return Err(DataError::UnknownColumn {
                column: missing.clone(),
                available,
            });
        }
        // A file is read for the named columns only (a text file's other fields are not
        // parsed into arrays).
        let stream = match self {
            TableSource::File { path, csv } => {
                open_table_with(path, DEFAULT_BATCH_ROWS, Some(columns), csv, None)?
            }
            TableSource::Batches { .. } => self.stream()?,
        };
        let arrow = stream.arrow_schema();
        let idx: Vec<usize> = columns
            .iter()
            .map(|c| {
                arrow.index_of(c).map_err(|_| DataError::UnknownColumn {
                    column: c.clone(),
                    available: arrow.fields().iter().map(|f| f.name().clone()).collect(),
                })
            })
            .collect::<Result<_>>()?;
        let projected = std::sync::Arc::new(arrow.project(&idx)?);
        let batches = stream
            .map(|b| Ok(b?.project(&idx)?))
            .collect::<Result<Vec<_>>>()?;
        let mut schema = infer_schema(BatchStream::from_batches(projected, batches), opts)?;
        schema.csv = self.recorded_dialect();
        Ok(schema)
    }

    /// Encode against `schema` (the columns chosen by `opts`) and read the `extra` columns
    /// alongside, unencoded. An extra column the table lacks is [`DataError::UnknownColumn`]
    /// naming those it has, raised before any row is read. `progress` is told the rows
    /// encoded after each batch (stage `"reading"`), and may stop the job there
    /// ([`DataError::Cancelled`]).
    pub fn encode(
        &self,
        schema: &Schema,
        opts: EncodeOptions,
        extra: &[String],
        progress: &Progress,
    ) -> Result<Encoded> {
        let available = self.column_names_under(Some(schema))?;
        if let Some(missing) = extra.iter().find(|c| !available.contains(c)) {
            return Err(DataError::UnknownColumn {
                column: missing.clone(),
                available,
            });
        }
        let mut encoder = Encoder::new(schema, opts)?;
        let stream = match self {
            TableSource::File { path, .. } => {
                let (dialect, _) = self.dialect(Some(schema));
                encoder.open_file(path, &dialect, DEFAULT_BATCH_ROWS, extra)?
            }
            TableSource::Batches { schema: arrow, .. } => {
                // The batches' columns and types are checked against the schema even when
                // there are no batches (a Spark driver's zero-row table), as a file's header
                // is: an empty batch resolves the encoder's columns without a row.
                encoder.push(&RecordBatch::new_empty(arrow.clone()))?;
                self.stream()?
            }
        };
        progress.stage("reading", stream.rows_hint(), "rows");
        // A known row count (a Parquet footer's) sizes the codes once, with no regrowth.
        if let Some(rows) = stream.rows_hint() {
            encoder.reserve(usize::try_from(rows).unwrap_or(0));
        }
        let mut arrays: Vec<Vec<ArrayRef>> = vec![Vec::new(); extra.len()];
        let mut rows = 0u64;
        for batch in stream {
            let batch = batch?;
            for (name, out) in extra.iter().zip(arrays.iter_mut()) {
                let col = batch
                    .column_by_name(name)
                    .ok_or_else(|| DataError::UnknownColumn {
                        column: name.clone(),
                        available: available.clone(),
                    })?;
                out.push(col.clone());
            }
            encoder.push(&batch)?;
            rows += batch.num_rows() as u64;
            progress.advance(rows)?;
        }
        let table = encoder.finish().map_err(|e| match (e, self) {
            (DataError::Empty { detail, .. }, TableSource::File { path, .. }) => DataError::Empty {
                what: path.display().to_string(),
                detail,
            },
            (e, _) => e,
        })?;
        Ok(Encoded {
            table,
            extra: extra.iter().cloned().zip(arrays).collect(),
        })
    }
}

/// Refuse a path that is not a file before any reader opens it: a directory opens on some
/// systems and then fails deep in a reader with a message that does not say which path.
pub fn check_file(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(DataError::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "is a directory, not a file; give a .csv, .tsv or .parquet file",
            ),
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(DataError::io(path, e)),
    }
}

/// Read a Parquet file's footer once, so a file that is not Parquet is refused naming the
/// path rather than with the reader's bare message.
#[cfg(feature = "parquet")]
fn check_parquet(path: &Path) -> Result<()> {
    crate::data::io::read_parquet(path, 1)
        .map(drop)
        .map_err(|e| match e {
            DataError::Parquet(p) => DataError::Unsupported {
                path: path.to_path_buf(),
                reason: format!("not a readable Parquet file ({p})"),
            },
            other => other,
        })
}

#[cfg(not(feature = "parquet"))]
fn check_parquet(_path: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema as ArrowSchema};
    use std::sync::Arc;

    fn batches() -> TableSource {
        let schema = Arc::new(ArrowSchema::new(vec![
            Field::new("sex", DataType::Utf8, false),
            Field::new("id", DataType::Int64, false),
        ]));
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["F", "M", "F"])),
                Arc::new(Int64Array::from(vec![1, 2, 1])),
            ],
        )
        .unwrap();
        TableSource::batches("data", schema, vec![b])
    }

    #[test]
    fn encodes_and_reads_extra_columns_from_batches_and_files() {
        let schema = Schema::from_json(
            r#"{"columns": [{"name": "sex", "kind": "categorical", "values": ["F", "M"]}]}"#,
        )
        .unwrap();
        let src = batches();
        let e = src
            .encode(
                &schema,
                EncodeOptions::default(),
                &["id".into()],
                &Progress::none(),
            )
            .unwrap();
        assert_eq!(e.table.n_rows(), 3);
        assert_eq!(e.extra("id").unwrap()[0].len(), 3);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "sex,id\nF,1\nM,2\nF,1\n").unwrap();
        struct Seen(std::sync::atomic::AtomicU64);
        impl crate::progress::Observer for Seen {
            fn update(&self, done: u64) {
                self.0.store(done, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let seen = std::sync::Arc::new(Seen(std::sync::atomic::AtomicU64::new(0)));
        let e = TableSource::file(&path)
            .encode(
                &schema,
                EncodeOptions::default(),
                &["id".into()],
                &Progress::new(seen.clone()),
            )
            .unwrap();
        assert_eq!(e.table.n_rows(), 3);
        assert_eq!(seen.0.load(std::sync::atomic::Ordering::Relaxed), 3);
        assert_eq!(
            e.extra("id")
                .unwrap()
                .iter()
                .map(|a| a.len())
                .sum::<usize>(),
            3
        );
    }

    #[test]
    fn zero_batches_are_checked_against_the_schema_like_a_header() {
        let schema = Schema::from_json(
            r#"{"columns": [{"name": "sex", "kind": "categorical", "values": ["F", "M"]},
                            {"name": "age", "kind": "integer", "min": 0, "max": 120}]}"#,
        )
        .unwrap();
        let arrow = Arc::new(ArrowSchema::new(vec![
            Field::new("sex", DataType::Utf8, false),
            Field::new("id", DataType::Int64, false),
        ]));
        let empty = TableSource::batches("data", arrow, vec![]);
        let opts = EncodeOptions {
            allow_empty: true,
            ..Default::default()
        };
        let err = empty
            .encode(&schema, opts.clone(), &[], &Progress::none())
            .unwrap_err();
        assert!(matches!(err, DataError::SchemaMismatch { .. }), "{err}");
        assert_eq!(crate::error::Classify::column(&err), Some("age"));
        assert!(err.to_string().contains("\"age\""), "{err}");
        // With the columns present, zero rows are allowed when asked for.
        let only_sex = Schema::from_json(
            r#"{"columns": [{"name": "sex", "kind": "categorical", "values": ["F", "M"]}]}"#,
        )
        .unwrap();
        let e = empty
            .encode(&only_sex, opts, &[], &Progress::none())
            .unwrap();
        assert_eq!(e.table.n_rows(), 0);
    }

    #[test]
    fn dictionary_columns_with_no_values_encode_without_a_panic() {
        let schema = Schema::from_json(
            r#"{"columns": [{"name": "sex", "kind": "categorical", "values": ["F", "M"]}]}"#,
        )
        .unwrap();
        let dict = DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8));
        let arrow = Arc::new(ArrowSchema::new(vec![Field::new("sex", dict, true)]));
        let opts = EncodeOptions {
            allow_empty: true,
            ..Default::default()
        };
        let e = TableSource::batches("data", arrow.clone(), vec![])
            .encode(&schema, opts.clone(), &[], &Progress::none())
            .unwrap();
        assert_eq!(e.table.n_rows(), 0);
        // A categorical column in a batch with rows: the empty check batch comes first.
        let keys = arrow_array::Int8Array::from(vec![0, 1, 0]);
        let values = Arc::new(StringArray::from(vec!["F", "M"]));
        let col = arrow_array::DictionaryArray::try_new(keys, values).unwrap();
        let b = RecordBatch::try_new(arrow.clone(), vec![Arc::new(col)]).unwrap();
        let e = TableSource::batches("data", arrow, vec![b])
            .encode(&schema, opts, &[], &Progress::none())
            .unwrap();
        assert_eq!(e.table.n_rows(), 3);
    }

    #[test]
    fn a_missing_extra_column_names_those_that_exist() {
        let schema = Schema::from_json(
            r#"{"columns": [{"name": "sex", "kind": "categorical", "values": ["F", "M"]}]}"#,
        )
        .unwrap();
        let err = batches()
            .encode(
                &schema,
                EncodeOptions::default(),
                &["nhs".into()],
                &Progress::none(),
            )
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("nhs") && msg.contains("sex, id"), "{msg}");
    }

    #[test]
    fn directories_and_non_parquet_files_are_file_errors_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("t.parquet");
        std::fs::create_dir(&folder).unwrap();
        let err = TableSource::file(&folder).pinned(None).unwrap_err();
        assert_eq!(crate::Classify::kind(&err), crate::ErrorKind::File);
        assert!(err.to_string().contains("t.parquet"), "{err}");
        assert!(err.to_string().contains("is a directory"), "{err}");

        let text = dir.path().join("text.parquet");
        std::fs::write(&text, "age\n1\n").unwrap();
        let err = TableSource::file(&text).pinned(None).unwrap_err();
        assert_eq!(crate::Classify::kind(&err), crate::ErrorKind::File);
        assert!(err.to_string().contains("text.parquet"), "{err}");

        let missing = dir.path().join("missing.csv");
        let err = TableSource::file(&missing).pinned(None).unwrap_err();
        assert_eq!(crate::Classify::kind(&err), crate::ErrorKind::File);
        assert!(err.to_string().contains("missing.csv"), "{err}");
    }
}

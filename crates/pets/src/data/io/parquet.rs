//! Parquet reading (streamed by row group) and writing (columns encoded in parallel).

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::{RecordBatch, new_empty_array};
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves,
};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;

use super::{BatchSink, BatchStream};
use crate::data::error::{DataError, Result};

/// Open a Parquet file as a stream of batches of at most `batch_rows` rows.
pub fn read_parquet(path: impl AsRef<Path>, batch_rows: usize) -> Result<BatchStream> {
    read_parquet_columns(path, batch_rows, None)
}

/// As [`read_parquet`], decoding only the top-level `columns` (in file order; names not in
/// the file are ignored, so the consumer reports them): a Parquet file is columnar, so the
/// others are never read from disk or decompressed.
pub fn read_parquet_columns(
    path: impl AsRef<Path>,
    batch_rows: usize,
    columns: Option<&[String]>,
) -> Result<BatchStream> {
    let path = path.as_ref();
    if batch_rows == 0 {
        return Err(DataError::InvalidArgument {
            name: "batch_rows",
            reason: "must be at least 1".into(),
        });
    }
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut builder = footer(path, file)?.with_batch_size(batch_rows);
    if let Some(wanted) = columns {
        let roots: Vec<usize> = builder
            .schema()
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| wanted.iter().any(|w| w == f.name()))
            .map(|(i, _)| i)
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        builder = builder.with_projection(mask);
    }
    let rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
    let reader = builder.build()?;
    // The projected schema (the builder's is the whole file's).
    let schema = arrow_array::RecordBatchReader::schema(&reader);
    let path = path.to_path_buf();
    let mut reader = Some(reader);
    // Decoding a corrupt page can panic inside arrow/parquet 59 (bit-packed runs past their
    // buffer, "slice must not be empty"; found by `crates/pets/tests/fuzz_inputs.rs`): the
    // panic is caught, the stream ends with an error naming the file.
    let batches = std::iter::from_fn(move || {
        let r = reader.as_mut()?;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.next())) {
            Ok(next) => next.map(|b| b.map_err(DataError::from)),
            Err(panic) => {
                reader = None;
                Some(Err(corrupt(&path, "a data page", &panic)))
            }
        }
    });
    Ok(BatchStream::new(schema, batches).with_rows_hint(rows))
}

/// The error for a corrupt Parquet file whose reading panicked in `part`.
fn corrupt(path: &Path, part: &str, panic: &(dyn std::any::Any + Send)) -> DataError {
    let why = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unreadable");
    DataError::Unsupported {
        path: path.to_path_buf(),
        reason: format!("not a readable Parquet file: {part} is corrupt ({why})"),
    }
}

/// The reader builder of `file`, from its footer. A corrupt embedded Arrow schema (the
/// `ARROW:schema` key, flatbuffers) makes arrow-ipc 59 panic rather than fail (found by
/// `crates/pets/tests/fuzz_inputs.rs`; e.g. a timestamp "with unit of <UNKNOWN -32760>"):
/// that panic is caught here and becomes an error naming the file, like any corrupt footer.
fn footer(path: &Path, file: File) -> Result<ParquetRecordBatchReaderBuilder<File>> {
    std::panic::catch_unwind(move || ParquetRecordBatchReaderBuilder::try_new(file))
        .map_err(|panic| corrupt(path, "the Arrow schema in its footer", &*panic))?
        .map_err(DataError::from)
}

/// How to write a Parquet file.
#[derive(Debug, Clone)]
pub struct ParquetWriteOptions {
    /// Rows per row group (default 1,048,576).
    pub row_group_rows: usize,
    /// Compression (default zstd level 1: fast, and about as small as snappy's double).
    pub compression: Compression,
}

impl Default for ParquetWriteOptions {
    fn default() -> Self {
        ParquetWriteOptions {
            row_group_rows: 1 << 20,
            compression: Compression::ZSTD(ZstdLevel::try_new(1).expect("level 1 is valid")),
        }
    }
}

/// Writes batches to a Parquet file, encoding and compressing the columns of each row group
/// in parallel (rayon) — the Arrow writer alone works one column at a time.
pub struct ParquetSink {
    path: PathBuf,
    schema: SchemaRef,
    writer: SerializedFileWriter<File>,
    factory: ArrowRowGroupWriterFactory,
    /// For each top-level field, the column writers of its Parquet leaves.
    field_writers: Option<Vec<Vec<ArrowColumnWriter>>>,
    leaves_per_field: Vec<usize>,
    row_groups: usize,
    rows_in_group: usize,
    row_group_rows: usize,
}

impl ParquetSink {
    /// Create (or truncate) `path` with the default options.
    pub fn create(path: impl AsRef<Path>, schema: SchemaRef) -> Result<Self> {
        Self::create_with(path, schema, ParquetWriteOptions::default())
    }

    /// Create (or truncate) `path`.
    pub fn create_with(
        path: impl AsRef<Path>,
        schema: SchemaRef,
        opts: ParquetWriteOptions,
    ) -> Result<Self> {
        let path = path.as_ref();
        if opts.row_group_rows == 0 {
            return Err(DataError::InvalidArgument {
                name: "row_group_rows",
                reason: "must be at least 1".into(),
            });
        }
        let file = File::create(path).map_err(|e| DataError::io(path, e))?;
        let props = WriterProperties::builder()
            .set_compression(opts.compression)
            .set_max_row_group_row_count(Some(opts.row_group_rows))
            .build();
        // The high-level writer embeds the Arrow schema in the file metadata; we then take its
        // low-level parts to encode columns in parallel.
        let (writer, factory) =
            ArrowWriter::try_new(file, schema.clone(), Some(props))?.into_serialized_writer()?;
        let leaves_per_field = schema
            .fields()
            .iter()
            .map(|f| compute_leaves(f, &new_empty_array(f.data_type())).map(|l| l.len()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(ParquetSink {
            path: path.to_path_buf(),
            schema,
            writer,
            factory,
            field_writers: None,
            leaves_per_field,
            row_groups: 0,
            rows_in_group: 0,
            row_group_rows: opts.row_group_rows,
        })
    }

    fn writers(&mut self) -> Result<&mut Vec<Vec<ArrowColumnWriter>>> {
        if self.field_writers.is_none() {
            let mut flat = self
                .factory
                .create_column_writers(self.row_groups)?
                .into_iter();
            let grouped = self
                .leaves_per_field
                .iter()
                .map(|&n| flat.by_ref().take(n).collect())
                .collect();
            self.field_writers = Some(grouped);
        }
        Ok(self.field_writers.as_mut().expect("just set"))
    }

    fn write_slice(&mut self, batch: &RecordBatch) -> Result<()> {
        let fields = self.schema.fields().clone();
        let writers = self.writers()?;
        writers
            .par_iter_mut()
            .zip(fields.par_iter())
            .zip(batch.columns().par_iter())
            .try_for_each(|((ws, field), col)| -> Result<()> {
                for (w, leaf) in ws.iter_mut().zip(compute_leaves(field, col)?) {
                    w.write(&leaf)?;
                }
                Ok(())
            })?;
        self.rows_in_group += batch.num_rows();
        if self.rows_in_group >= self.row_group_rows {
            self.flush_row_group()?;
        }
        Ok(())
    }

    fn flush_row_group(&mut self) -> Result<()> {
        let Some(writers) = self.field_writers.take() else {
            return Ok(());
        };
        let chunks: Vec<ArrowColumnChunk> = writers
            .into_par_iter()
            .flatten()
            .map(|w| w.close())
            .collect::<std::result::Result<_, _>>()?;
        let mut rg = self.writer.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut rg)?;
        }
        rg.close()?;
        self.row_groups += 1;
        self.rows_in_group = 0;
        Ok(())
    }
}

impl BatchSink for ParquetSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.schema().fields() != self.schema.fields() {
            return Err(DataError::SchemaMismatch {
                column: None,
                detail: format!(
                    "batch written to {} does not have the file's columns and types",
                    self.path.display()
                ),
            });
        }
        let mut offset = 0;
        while offset < batch.num_rows() {
            let room = self.row_group_rows - self.rows_in_group;
            let len = room.min(batch.num_rows() - offset);
            self.write_slice(&batch.slice(offset, len))?;
            offset += len;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        if self.rows_in_group > 0 || self.row_groups == 0 {
            // An empty file still gets one (empty) row group so that readers see the schema.
            if self.field_writers.is_none() && self.row_groups == 0 {
                self.writers()?;
            }
            self.flush_row_group()?;
        }
        let path = self.path.clone();
        let file = self.writer.into_inner()?;
        file.sync_all().map_err(|e| DataError::io(&path, e))
    }
}

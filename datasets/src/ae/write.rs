//! Streaming a generated dataset to a Parquet or CSV file.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pets::data::DataError;
use pets::data::io::open_sink;

use super::config::AeConfig;
use super::generator::AeGenerator;
use super::schema::ae_arrow_schema;

/// What [`write_ae`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteSummary {
    /// The file written.
    pub path: PathBuf,
    /// Rows written.
    pub rows: u64,
    /// Record batches written.
    pub batches: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// Wall-clock time taken.
    pub elapsed: Duration,
}

impl WriteSummary {
    /// Rows written per second.
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Generate the dataset described by `config` and write it to `path`, whose extension
/// chooses the format (`.parquet`, `.csv`, `.tsv`; see [`pets::data::io::open_sink`]).
///
/// Generation runs on rayon's threads while this thread writes, so the two overlap.
/// `progress` is called after each batch with the number of rows written so far.
pub fn write_ae(
    config: &AeConfig,
    path: impl AsRef<Path>,
    mut progress: impl FnMut(u64),
) -> Result<WriteSummary, DataError> {
    let path = path.as_ref();
    let started = Instant::now();
    let generator = AeGenerator::new(config.clone())?;
    let mut sink = open_sink(path, ae_arrow_schema())?;
    let depth = rayon::current_num_threads().max(1);
    let (tx, rx) = mpsc::sync_channel(depth);
    let (rows, batches) = std::thread::scope(|scope| -> Result<(u64, u64), DataError> {
        scope.spawn(move || {
            for batch in generator {
                if tx.send(batch).is_err() {
                    break; // the writer stopped on an error
                }
            }
        });
        // Owned here so that an early return drops it and unblocks the producer.
        let rx = rx;
        let mut rows = 0u64;
        let mut batches = 0u64;
        for batch in rx.iter() {
            sink.write(&batch)?;
            rows += batch.num_rows() as u64;
            batches += 1;
            progress(rows);
        }
        Ok((rows, batches))
    })?;
    sink.finish()?;
    let bytes = std::fs::metadata(path)
        .map_err(|e| DataError::io(path, e))?
        .len();
    Ok(WriteSummary {
        path: path.to_path_buf(),
        rows,
        batches,
        bytes,
        elapsed: started.elapsed(),
    })
}

//! Fitted synthesisers as files: what a release panel keeps.
//!
//! A [`SynthModel`] holds everything released and nothing else: the public schema of the
//! synthesised columns, the privacy parameters (epsilon, delta and the rho they were
//! converted to), the DP domain compression, every noisy measurement, the graphical model
//! fitted to them (junction-tree cliques and their probability tables), the noisy total and
//! the budget ledger. Sampling needs only this, never the data. The file is JSON, tagged by
//! [`MODEL_FORMAT`] and versioned by [`MODEL_VERSION`]; readers refuse other versions.

use std::sync::Arc;

use arrow_array::{ArrayRef, Date32Array, RecordBatch, TimestampMillisecondArray};
use arrow_schema::{DataType, Field, Schema as ArrowSchema, SchemaRef, TimeUnit};
use pets::data::io::{BatchSink, open_sink};
use pets::data::{
    BinPlacement, CodeBook, DecodeOptions, Decoder, EncodedColumn, EncodedTable, Schema,
};
use pets::dp::Ledger;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::compress::Compression;
use crate::derive::{Assembler, Calendar};
use crate::error::{Result, SynthError};
use crate::inference::{EstimationReport, Factor, GraphModel, JunctionTree, Measurement};
use crate::sample::{SAMPLE_CHUNK, Sampler, chunk_rng, unit};
use pets::progress::Progress;

/// The `format` tag of model files.
pub const MODEL_FORMAT: &str = "pets-synth-model";
/// The version of the model file layout written by this crate.
pub const MODEL_VERSION: u32 = 1;

/// A noisy marginal as released, with its columns named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoisyMarginal {
    /// Column names (in the order of `measurement.attrs`).
    pub columns: Vec<String>,
    /// The measurement on the compressed domains (attribute indices into the schema).
    pub measurement: Measurement,
}

/// The fitted graphical model, stored as junction-tree cliques and their tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedTables {
    /// Cliques (ascending attribute indices).
    pub cliques: Vec<Vec<usize>>,
    /// Tree neighbours of each clique.
    pub neighbors: Vec<Vec<usize>>,
    /// Pre-order `(clique, parent)`.
    pub order: Vec<(usize, Option<usize>)>,
    /// Probability table of each clique, row-major.
    pub tables: Vec<Vec<f64>>,
}

/// How an output column is made from the synthesis columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assembly {
    /// Decoded from one synthesis column (values placed uniformly within bins and periods).
    Column {
        /// Index of the synthesis column.
        index: usize,
    },
    /// Re-assembled from calendar parts ([`crate::derive`]).
    Calendar(Calendar),
}

/// One column of the sample, in the declared order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputColumn {
    /// The declared column's name.
    pub name: String,
    /// The Arrow type written: the input table's type of the column (file metadata, not a
    /// statistic of its values), when it differs from the type its kind decodes to (an
    /// Arrow boolean for a `["false", "true"]` categorical, `Int32` for an integer,
    /// dictionary-encoded text, timestamps in microseconds, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrow_type: Option<DataType>,
    /// How its values are made.
    pub from: Assembly,
}

/// A fitted synthesiser (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthModel {
    /// Always [`MODEL_FORMAT`].
    pub format: String,
    /// File layout version ([`MODEL_VERSION`]).
    pub version: u32,
    /// The method, e.g. `mst`.
    pub method: String,
    /// Declared schema of the synthesised columns (public).
    pub schema: Schema,
    /// Code layout of each column (domain values, null, other).
    pub codebooks: Vec<CodeBook>,
    /// Target epsilon.
    pub epsilon: f64,
    /// Target delta.
    pub delta: f64,
    /// The zCDP budget rho: it gives (epsilon, delta)-DP, or with MST's sparse pairs
    /// (epsilon, delta - the delta set aside for them), which their thresholded releases
    /// spend on top (the ledger's `budget` and `spent`).
    pub rho: f64,
    /// DP domain compression of each column.
    pub compression: Vec<Compression>,
    /// Every noisy measurement.
    pub measurements: Vec<NoisyMarginal>,
    /// The pairs (or larger sets) of columns selected and measured.
    pub selected: Vec<Vec<String>>,
    /// Estimated number of records (from noisy measurements).
    pub total: f64,
    /// The fitted model.
    pub fitted: FittedTables,
    /// How estimation went.
    pub estimation: EstimationReport,
    /// The privacy ledger of the fit.
    pub ledger: Ledger,
    /// How the declared schema was turned into the synthesis domain (columns left out,
    /// binned or coarsened; see [`crate::domain`]), for the release panel.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The receipt of the charge to the dataset's persistent budget file, when the fit was
    /// charged to one (`pets synth fit --budget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_receipt: Option<pets::dp::budget_store::ChargeReceipt>,
    /// The sample's columns and how each is made (empty in files written before derived
    /// columns: every synthesis column is then output as decoded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<OutputColumn>,
}

impl SynthModel {
    /// The graphical model on compressed domains.
    pub fn graph_model(&self) -> Result<GraphModel> {
        let sizes: Vec<usize> = self.compression.iter().map(Compression::size).collect();
        let f = &self.fitted;
        let k = f.cliques.len();
        let bad = |reason: String| SynthError::ModelFile {
            path: "<model>".into(),
            reason,
        };
        if f.neighbors.len() != k || f.tables.len() != k || f.order.len() != k || k == 0 {
            return Err(bad("the fitted tables are inconsistent".into()));
        }
        let mut marginals = Vec::with_capacity(k);
        for (c, t) in f.cliques.iter().zip(&f.tables) {
            if c.iter().any(|&a| a >= sizes.len()) {
                return Err(bad(format!("clique {c:?} names an unknown column")));
            }
            let cells = c
                .iter()
                .try_fold(1usize, |acc, &a| acc.checked_mul(sizes[a]));
            if cells != Some(t.len()) || t.iter().any(|v| !v.is_finite()) {
                return Err(bad(format!(
                    "the table of clique {c:?} does not fit its domain"
                )));
            }
            // A fitted table is a distribution: no negative cell, some mass. (A tampered
            // file would otherwise sample silently wrong rows.)
            if t.iter().any(|v| *v < 0.0) || t.iter().sum::<f64>() <= 0.0 {
                return Err(bad(format!(
                    "the table of clique {c:?} is not a distribution (negative or no mass)"
                )));
            }
            marginals.push(Factor::from_vec(c, &sizes, t.clone()));
        }
        if f.order
            .iter()
            .any(|&(c, p)| c >= k || p.is_some_and(|p| p >= k))
            || f.neighbors.iter().flatten().any(|&n| n >= k)
        {
            return Err(bad("the junction tree refers to unknown cliques".into()));
        }
        Ok(GraphModel {
            sizes,
            tree: JunctionTree {
                cliques: f.cliques.clone(),
                neighbors: f.neighbors.clone(),
                order: f.order.clone(),
            },
            marginals,
            total: self.total,
        })
    }

    /// Rows to sample when none are asked for: the noisy total, rounded.
    pub fn default_rows(&self) -> u64 {
        self.total.round().max(0.0) as u64
    }

    /// Save as JSON.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let text = serde_json::to_string(self).map_err(|e| SynthError::ModelFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        // Whole or not at all: a temporary file beside `path`, renamed when written.
        let tmp = path.with_file_name(format!(
            ".{}.{}.tmp",
            path.file_name()
                .map_or("model".into(), |n| n.to_string_lossy()),
            std::process::id()
        ));
        let io = |source| SynthError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                io(e)
            })
    }

    /// Load a model file, checking its format and version.
    pub fn load(path: impl AsRef<Path>) -> Result<SynthModel> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SynthError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text).map_err(|e| match e {
            SynthError::ModelFile { reason, .. } => SynthError::ModelFile {
                path: path.display().to_string(),
                reason,
            },
            e => e,
        })
    }

    /// Parse a model from JSON, checking its format and version.
    pub fn from_json(text: &str) -> Result<SynthModel> {
        let bad = |reason: String| SynthError::ModelFile {
            path: "<json>".into(),
            reason,
        };
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        // A DataSynthesizer description (correlated mode) is read into a model, then checked
        // as every model file is.
        if v.get("format").is_none() && crate::datasynth::is_description(&v) {
            let m = crate::datasynth::from_description(&v)?;
            let text = serde_json::to_string(&m).map_err(|e| bad(e.to_string()))?;
            return Self::from_json(&text);
        }
        if v.get("format").and_then(|f| f.as_str()) != Some(MODEL_FORMAT) {
            return Err(bad(format!(
                "not a pets synthesiser model (expected \"format\": \"{MODEL_FORMAT}\")"
            )));
        }
        let version = v.get("version").and_then(|x| x.as_u64()).unwrap_or(0);
        if version != u64::from(MODEL_VERSION) {
            return Err(bad(format!(
                "model file version {version}; this pets reads version {MODEL_VERSION}: \
                 refit the model with this version"
            )));
        }
        let m: SynthModel = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
        if m.codebooks.len() != m.schema.columns.len()
            || m.compression.len() != m.schema.columns.len()
        {
            return Err(bad("schema, codebooks and compression disagree".into()));
        }
        if !(m.total.is_finite() && m.total >= 0.0) {
            return Err(bad(format!(
                "the estimated total {} is not a number of rows",
                m.total
            )));
        }
        // The schema, the codebooks and the compression describe the same codes: a model
        // that loads is one `sample_table` can decode without indexing past a codebook.
        m.schema
            .validate()
            .map_err(|e| bad(format!("its schema: {e}")))?;
        for ((spec, book), c) in m
            .schema
            .columns
            .iter()
            .zip(&m.codebooks)
            .zip(&m.compression)
        {
            let at = |reason: String| bad(format!("column {:?}: {reason}", spec.name));
            if c.column != spec.name {
                return Err(at(format!(
                    "the compression is of column {:?}, not of the schema's column",
                    c.column
                )));
            }
            let Some(n) = spec.n_values() else {
                return Err(at("a text column has no codes to synthesise".into()));
            };
            let layout_ok = book.n_values == n
                && book.null_code.is_none_or(|k| k == n)
                && book
                    .other_code
                    .is_none_or(|k| k == n + u32::from(book.null_code.is_some()));
            if !layout_ok {
                return Err(at(format!(
                    "its codebook ({} values, null code {:?}, other code {:?}) does not fit \
                     its declared domain of {n} values",
                    book.n_values, book.null_code, book.other_code
                )));
            }
            if c.original_size != book.cardinality() {
                return Err(at(format!(
                    "the compression covers {} codes but the codebook has {}",
                    c.original_size,
                    book.cardinality()
                )));
            }
            c.validate().map_err(at)?;
        }
        m.graph_model()?;
        m.output_plan()
            .map_err(|e| bad(format!("its output columns: {e}")))?;
        Ok(m)
    }

    /// Names of the sample's columns, in order (the declared columns; a datetime modelled
    /// as calendar parts is one column here).
    pub fn output_names(&self) -> Vec<String> {
        self.outputs().into_iter().map(|o| o.name).collect()
    }

    /// The output columns: [`SynthModel::output`], or every synthesis column as decoded.
    fn outputs(&self) -> Vec<OutputColumn> {
        if !self.output.is_empty() {
            return self.output.clone();
        }
        self.schema
            .columns
            .iter()
            .enumerate()
            .map(|(index, c)| OutputColumn {
                name: c.name.clone(),
                arrow_type: None,
                from: Assembly::Column { index },
            })
            .collect()
    }

    /// Each output column with its re-assembler (calendar columns) and its Arrow field,
    /// checked against the synthesis columns.
    fn output_plan(&self) -> Result<Vec<(OutputColumn, Option<Assembler>, Field)>> {
        let n = self.schema.columns.len();
        let mut used = vec![false; n];
        let mut plan = Vec::new();
        for o in self.outputs() {
            let bad = |reason: String| SynthError::invalid("output", &o.name, reason);
            let (assembler, decoded, nullable) = match &o.from {
                Assembly::Column { index } => {
                    let i = *index;
                    if i >= n || used[i] {
                        return Err(bad(format!(
                            "synthesis column {i} is unknown or used twice"
                        )));
                    }
                    used[i] = true;
                    let book = &self.codebooks[i];
                    (
                        None,
                        pets::data::decode::decoded_type(&self.schema.columns[i]),
                        book.null_code.is_some() || book.other_code.is_some(),
                    )
                }
                Assembly::Calendar(cal) => {
                    for i in std::iter::once(cal.period)
                        .chain(cal.weekday)
                        .chain(cal.hour)
                    {
                        if i >= n || used[i] {
                            return Err(bad(format!(
                                "synthesis column {i} is unknown or used twice"
                            )));
                        }
                        used[i] = true;
                    }
                    let a = cal.assembler(&self.schema.columns)?;
                    let t = if a.is_datetime() {
                        DataType::Timestamp(TimeUnit::Millisecond, None)
                    } else {
                        DataType::Date32
                    };
                    (Some(a), t, cal.spec.nullable)
                }
            };
            let out = match &o.arrow_type {
                Some(t) if *t != decoded => {
                    if !arrow_cast::can_cast_types(&decoded, t) {
                        return Err(bad(format!(
                            "values of type {decoded} cannot be written as {t}"
                        )));
                    }
                    t.clone()
                }
                _ => decoded,
            };
            let field = Field::new(&o.name, out, nullable);
            plan.push((o, assembler, field));
        }
        Ok(plan)
    }

    /// Sample `rows` rows as an encoded table (original codes of the schema), with `seed`.
    pub fn sample_table(&self, rows: usize, seed: u64) -> Result<EncodedTable> {
        // Sizes checked before allocating: the table is `rows x columns` u32 codes, held in
        // memory; a size that cannot be reserved is an error (use `write_sample`, which
        // streams, for more rows than fit), never an aborted process.
        let n_cols = self.codebooks.len().max(1);
        let too_many = || {
            SynthError::invalid(
                "rows",
                rows,
                format!(
                    "{rows} rows x {n_cols} columns do not fit in memory; sample to a file \
                     with write_sample (`pets synth sample`), which streams"
                ),
            )
        };
        let bytes = rows
            .checked_mul(n_cols)
            .and_then(|c| c.checked_mul(2 * std::mem::size_of::<u32>()))
            .filter(|&b| b <= isize::MAX as usize)
            .ok_or_else(too_many)?;
        let mut probe: Vec<u8> = Vec::new();
        probe.try_reserve_exact(bytes).map_err(|_| too_many())?;
        drop(probe);
        let model = self.graph_model()?;
        let sampler = Sampler::new(&model);
        let chunks: Vec<Vec<Vec<u32>>> = (0..rows.div_ceil(SAMPLE_CHUNK))
            .into_par_iter()
            .map(|k| self.sample_chunk(&sampler, k, rows, seed))
            .collect();
        let mut cols: Vec<Vec<u32>> = vec![Vec::with_capacity(rows); self.codebooks.len()];
        for chunk in chunks {
            for (c, part) in cols.iter_mut().zip(chunk) {
                c.extend_from_slice(&part);
            }
        }
        let columns = self
            .schema
            .columns
            .iter()
            .zip(&self.codebooks)
            .zip(cols)
            .map(|((spec, book), codes)| EncodedColumn {
                spec: spec.clone(),
                codebook: *book,
                codes,
            })
            .collect();
        Ok(EncodedTable::from_columns(columns)?)
    }

    /// Chunk `k` of a sample of `rows` rows: original codes per column.
    fn sample_chunk(&self, sampler: &Sampler, k: usize, rows: usize, seed: u64) -> Vec<Vec<u32>> {
        let n = SAMPLE_CHUNK.min(rows - k * SAMPLE_CHUNK);
        let mut rng = chunk_rng(seed, k as u64, 1);
        let mut codes = sampler.sample_chunk(n, &mut rng);
        for (col, comp) in codes.iter_mut().zip(&self.compression) {
            if comp.rare.is_empty() {
                continue;
            }
            for c in col.iter_mut() {
                *c = comp.expand(*c, unit(&mut rng));
            }
        }
        codes
    }

    /// Sample `rows` rows and stream them to `path` (Parquet, CSV or TSV by extension) in
    /// chunks, decoding binned values uniformly within their bins. Memory stays at a few
    /// chunks whatever `rows` is. Returns the rows written.
    pub fn write_sample(&self, path: impl AsRef<Path>, rows: u64, seed: u64) -> Result<u64> {
        self.write_sample_with(path, rows, seed, &Progress::none())
    }

    /// [`SynthModel::write_sample`], reporting rows written to `progress` (stage
    /// `"sampling"`) and stopping between windows of chunks when asked: the temporary file
    /// is then removed and nothing is left at `path`.
    pub fn write_sample_with(
        &self,
        path: impl AsRef<Path>,
        rows: u64,
        seed: u64,
        progress: &Progress,
    ) -> Result<u64> {
        let model = self.graph_model()?;
        let sampler = Sampler::new(&model);
        let arrow_schema = self.arrow_schema()?;
        // Written whole or not at all (a temporary file renamed at the end).
        let mut sink: Box<dyn BatchSink> = open_sink(path.as_ref(), arrow_schema)?;
        let rows_us = rows_usize(rows)?;
        let n_chunks = rows_us.div_ceil(SAMPLE_CHUNK);
        let window = rayon::current_num_threads().max(1) * 2;
        let mut k0 = 0;
        progress.stage("sampling", Some(rows), "rows");
        while k0 < n_chunks {
            let k1 = (k0 + window).min(n_chunks);
            for b in self.sample_chunks(&sampler, k0..k1, rows_us, seed) {
                sink.write(&b?)?;
            }
            k0 = k1;
            progress.advance((k0 * SAMPLE_CHUNK).min(rows_us) as u64)?;
        }
        sink.finish()?;
        Ok(rows)
    }

    /// Sample `rows` rows in memory as decoded record batches: exactly the rows, values and
    /// types [`SynthModel::write_sample`] writes for the same seed (same chunks, same
    /// decoding), for callers that want a table rather than a file (the Python binding).
    pub fn sample_batches(&self, rows: u64, seed: u64) -> Result<Vec<RecordBatch>> {
        self.sample_batches_with(rows, seed, &Progress::none())
    }

    /// [`SynthModel::sample_batches`], reporting rows sampled to `progress` (stage
    /// `"sampling"`) and stopping between windows of chunks when asked.
    pub fn sample_batches_with(
        &self,
        rows: u64,
        seed: u64,
        progress: &Progress,
    ) -> Result<Vec<RecordBatch>> {
        let model = self.graph_model()?;
        let sampler = Sampler::new(&model);
        let rows_us = rows_usize(rows)?;
        let n_chunks = rows_us.div_ceil(SAMPLE_CHUNK);
        let window = rayon::current_num_threads().max(1) * 2;
        progress.stage("sampling", Some(rows), "rows");
        let mut out = Vec::with_capacity(n_chunks);
        let mut k0 = 0;
        while k0 < n_chunks {
            let k1 = (k0 + window).min(n_chunks);
            for b in self.sample_chunks(&sampler, k0..k1, rows_us, seed) {
                out.push(b?);
            }
            k0 = k1;
            progress.advance((k0 * SAMPLE_CHUNK).min(rows_us) as u64)?;
        }
        Ok(out)
    }

    /// The Arrow schema of sampled batches.
    pub fn sample_arrow_schema(&self) -> Result<SchemaRef> {
        self.arrow_schema()
    }

    /// Sample and decode chunks `chunks` (in parallel) of a `rows`-row sample.
    fn sample_chunks(
        &self,
        sampler: &Sampler,
        chunks: std::ops::Range<usize>,
        rows: usize,
        seed: u64,
    ) -> Vec<Result<RecordBatch>> {
        chunks
            .into_par_iter()
            .map(|k| {
                let codes = self.sample_chunk(sampler, k, rows, seed);
                self.decode_chunk(k, codes, seed)
            })
            .collect()
    }

    fn decode_chunk(&self, k: usize, codes: Vec<Vec<u32>>, seed: u64) -> Result<RecordBatch> {
        let decoder = Decoder::new(DecodeOptions {
            placement: BinPlacement::Uniform,
            seed,
            ..Default::default()
        });
        let ncols = self.codebooks.len();
        let cols: Vec<EncodedColumn> = self
            .schema
            .columns
            .iter()
            .zip(&self.codebooks)
            .zip(codes)
            .map(|((spec, book), codes)| EncodedColumn {
                spec: spec.clone(),
                codebook: *book,
                codes,
            })
            .collect();
        let len = cols.first().map_or(0, |c| c.codes.len());
        let plan = self.output_plan()?;
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(plan.len());
        let mut fields = Vec::with_capacity(plan.len());
        for (j, (o, assembler, field)) in plan.into_iter().enumerate() {
            let array = match (&o.from, assembler) {
                (Assembly::Column { index }, _) => {
                    decoder.decode_column(&cols[*index], (k * ncols + index) as u64, 0, len)
                }
                (Assembly::Calendar(cal), Some(a)) => {
                    // Its own stream: chunk k, salt 2 + output index.
                    let mut rng = chunk_rng(seed, k as u64, 2 + j as u64);
                    let code = |i: Option<usize>, r: usize| {
                        i.map(|i| (cols[i].codes[r], cols[i].codebook.n_values))
                            .filter(|&(c, n)| c < n)
                            .map(|(c, _)| c)
                    };
                    let nulls = |i: Option<usize>, r: usize| {
                        i.is_some_and(|i| cols[i].codes[r] >= cols[i].codebook.n_values)
                    };
                    let values: Vec<Option<i64>> = (0..len)
                        .map(|r| {
                            if nulls(Some(cal.period), r)
                                || nulls(cal.weekday, r)
                                || nulls(cal.hour, r)
                            {
                                return None;
                            }
                            a.assemble(
                                cols[cal.period].codes[r],
                                code(cal.weekday, r),
                                code(cal.hour, r),
                                &mut rng,
                            )
                        })
                        .collect();
                    if a.is_datetime() {
                        Arc::new(TimestampMillisecondArray::from(
                            values
                                .into_iter()
                                .map(|v| v.map(|s| s * 1000))
                                .collect::<Vec<_>>(),
                        )) as ArrayRef
                    } else {
                        Arc::new(Date32Array::from(
                            values
                                .into_iter()
                                .map(|v| v.map(|d| d as i32))
                                .collect::<Vec<_>>(),
                        )) as ArrayRef
                    }
                }
                (Assembly::Calendar(_), None) => unreachable!("calendar columns have an assembler"),
            };
            let array = if array.data_type() == field.data_type() {
                array
            } else {
                arrow_cast::cast::cast_with_options(
                    &array,
                    field.data_type(),
                    &arrow_cast::CastOptions {
                        safe: false,
                        ..Default::default()
                    },
                )
                .map_err(pets::data::DataError::from)?
            };
            arrays.push(array);
            fields.push(field);
        }
        Ok(
            RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), arrays)
                .map_err(pets::data::DataError::from)?,
        )
    }

    fn arrow_schema(&self) -> Result<SchemaRef> {
        let fields: Vec<Field> = self.output_plan()?.into_iter().map(|(_, _, f)| f).collect();
        Ok(Arc::new(ArrowSchema::new(fields)))
    }
}

/// `rows` as a `usize`, or an error on a machine too small to index them.
/// The most rows one call samples: ten times every A&E attendance in England over a
/// decade. More is refused up front rather than filling a disk for hours.
pub const MAX_SAMPLE_ROWS: u64 = 1_000_000_000;

fn rows_usize(rows: u64) -> Result<usize> {
    if rows > MAX_SAMPLE_ROWS {
        return Err(SynthError::invalid(
            "rows",
            rows,
            format!(
                "it is more than one sample may hold ({MAX_SAMPLE_ROWS}); sample several \
                 files with different seeds"
            ),
        ));
    }
    usize::try_from(rows)
        .map_err(|_| SynthError::invalid("rows", rows, "too many rows for this machine"))
}

//! Decoding of codes back to Arrow arrays of the declared types.
//!
//! | kind | Arrow type | exact? |
//! |---|---|---|
//! | categorical | `Utf8` | yes |
//! | integer, unbinned | `Int64` | yes |
//! | integer or float, binned | `Int64` / `Float64` | no: placed in the bin by [`BinPlacement`] |
//! | date, day granularity | `Date32` | yes |
//! | date, week/month/year | `Date32` | no: placed in the period by [`BinPlacement`] |
//! | datetime | `Timestamp(ms)` | to the granularity: the step's start (`Uniform`: anywhere in the step) |
//!
//! A null code decodes to null. The "other" code decodes to [`DecodeOptions::other_label`]
//! for categorical columns and to null for the others (the encode report counts them).
//! [`BinPlacement::Uniform`] draws from a ChaCha stream positioned by (seed, column, row),
//! so the output does not depend on batch sizes or thread counts. That randomness is
//! post-processing of codes, not privacy noise.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Schema as ArrowSchema, SchemaRef, TimeUnit};
use chrono::{Datelike, Months, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::encode::{ColumnCodec, Edges, EncodedColumn, EncodedTable};
use super::error::{DataError, Result};
use super::schema::{ColumnKind, ColumnSpec, DateGranularity};
use super::values;

/// Where a value is placed inside a bin or period when the code alone does not fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinPlacement {
    /// The bin's lower edge / the period's first day or instant.
    Lower,
    /// The bin's midpoint (integers: rounded down) / the period's middle.
    #[default]
    Midpoint,
    /// Uniformly at random within the bin or period (seeded).
    Uniform,
}

/// Options for [`Decoder`].
#[derive(Debug, Clone)]
pub struct DecodeOptions {
    /// Placement within bins and periods.
    pub placement: BinPlacement,
    /// Seed for [`BinPlacement::Uniform`].
    pub seed: u64,
    /// Text written for the "other" code of categorical columns.
    pub other_label: String,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            placement: BinPlacement::Midpoint,
            seed: 0,
            other_label: "other".into(),
        }
    }
}

/// Turns code columns back into record batches.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    opts: DecodeOptions,
}

/// Rows per parallel work item.
const CHUNK: usize = 64 * 1024;

/// The Arrow type a column decodes to.
pub fn decoded_type(spec: &ColumnSpec) -> DataType {
    match spec.kind {
        ColumnKind::Categorical { .. } | ColumnKind::Text => DataType::Utf8,
        ColumnKind::Integer { .. } => DataType::Int64,
        ColumnKind::Float { .. } => DataType::Float64,
        ColumnKind::Date { .. } => DataType::Date32,
        ColumnKind::Datetime { .. } => DataType::Timestamp(TimeUnit::Millisecond, None),
    }
}

impl Decoder {
    /// A decoder with `opts`.
    pub fn new(opts: DecodeOptions) -> Self {
        Decoder { opts }
    }

    /// The Arrow schema of decoded batches of `table`.
    pub fn arrow_schema(table: &EncodedTable) -> SchemaRef {
        Arc::new(ArrowSchema::new(
            table
                .columns()
                .iter()
                .map(|c| {
                    Field::new(
                        &c.spec.name,
                        decoded_type(&c.spec),
                        c.codebook.null_code.is_some() || c.codebook.other_code.is_some(),
                    )
                })
                .collect::<Vec<_>>(),
        ))
    }

    /// Decode rows `start..start + len` of every column.
    pub fn decode_range(
        &self,
        table: &EncodedTable,
        start: usize,
        len: usize,
    ) -> Result<RecordBatch> {
        if start + len > table.n_rows() {
            return Err(DataError::InvalidArgument {
                name: "len",
                reason: format!(
                    "rows {start}..{} exceed the table's {} rows",
                    start + len,
                    table.n_rows()
                ),
            });
        }
        let arrays: Vec<ArrayRef> = table
            .columns()
            .par_iter()
            .enumerate()
            .map(|(j, c)| self.decode_column(c, j as u64, start, len))
            .collect();
        Ok(RecordBatch::try_new(Self::arrow_schema(table), arrays)?)
    }

    /// Decode the whole table in batches of `batch_rows` rows.
    pub fn batches<'a>(
        &'a self,
        table: &'a EncodedTable,
        batch_rows: usize,
    ) -> impl Iterator<Item = Result<RecordBatch>> + 'a {
        let step = batch_rows.max(1);
        (0..table.n_rows())
            .step_by(step)
            .map(move |s| self.decode_range(table, s, step.min(table.n_rows() - s)))
    }

    /// Decode rows `start..start + len` of one column; `column_index` keys its random stream.
    pub fn decode_column(
        &self,
        col: &EncodedColumn,
        column_index: u64,
        start: usize,
        len: usize,
    ) -> ArrayRef {
        let codes = &col.codes[start..start + len];
        let spec = &col.spec;
        let book = &col.codebook;
        let codec = ColumnCodec::new(spec).expect("encoded columns are encodable");
        let placer = Placer {
            placement: self.opts.placement,
            seed: self.opts.seed,
            stream: column_index,
        };
        match (&spec.kind, &codec) {
            (ColumnKind::Categorical { values, .. }, _) => {
                let other = self.opts.other_label.as_str();
                Arc::new(
                    codes
                        .iter()
                        .map(|&c| {
                            if c < book.n_values {
                                Some(values[c as usize].as_str())
                            } else if Some(c) == book.other_code {
                                Some(other)
                            } else {
                                None
                            }
                        })
                        .collect::<StringArray>(),
                )
            }
            (ColumnKind::Integer { min, max, .. }, ColumnCodec::Integer { edges, .. }) => {
                let v: Vec<Option<i64>> = par_rows(codes, start, |row, c, rng| {
                    (c < book.n_values).then(|| match edges {
                        None => min + i64::from(c),
                        Some(e) => placer.integer(e, c, *min, *max, row, rng),
                    })
                });
                Arc::new(Int64Array::from(v))
            }
            (ColumnKind::Float { min, max, .. }, ColumnCodec::Float { edges, .. }) => {
                let v = par_rows(codes, start, |row, c, rng| {
                    (c < book.n_values).then(|| {
                        let (lo, hi) = edges.bounds(c);
                        placer.real(lo, hi, row, rng).clamp(*min, *max)
                    })
                });
                Arc::new(Float64Array::from(v))
            }
            (
                ColumnKind::Date {
                    min,
                    max,
                    granularity,
                    ..
                },
                _,
            ) => {
                let v = par_rows(codes, start, |row, c, rng| {
                    (c < book.n_values).then(|| {
                        let (first, last) = date_period(*min, *max, *granularity, c);
                        let (a, b) = (values::days_of(first), values::days_of(last));
                        placer.int_between(a, b, row, rng) as i32
                    })
                });
                Arc::new(Date32Array::from(v))
            }
            (
                ColumnKind::Datetime {
                    min,
                    max,
                    granularity,
                    ..
                },
                _,
            ) => {
                let (lo, hi) = (values::seconds_of(*min), values::seconds_of(*max));
                let step = granularity.seconds();
                let v = par_rows(codes, start, |row, c, rng| {
                    (c < book.n_values).then(|| {
                        let first = lo + i64::from(c) * step;
                        let last = (first + step - 1).min(hi);
                        // A time step decodes to its start ("to the minute"), not its middle.
                        let p = if placer.placement == BinPlacement::Uniform {
                            placer
                        } else {
                            Placer {
                                placement: BinPlacement::Lower,
                                ..placer
                            }
                        };
                        p.int_between(first, last, row, rng) * 1000
                    })
                });
                Arc::new(TimestampMillisecondArray::from(v))
            }
            _ => unreachable!("codec matches kind"),
        }
    }
}

/// Map rows in parallel chunks; `f` gets the absolute row, the code and a random stream
/// positioned at that row.
fn par_rows<T: Send>(
    codes: &[u32],
    start: usize,
    f: impl Fn(u64, u32, &mut Option<ChaCha8Rng>) -> Option<T> + Sync,
) -> Vec<Option<T>> {
    let mut out: Vec<Option<T>> = Vec::with_capacity(codes.len());
    out.resize_with(codes.len(), || None);
    out.par_chunks_mut(CHUNK)
        .zip(codes.par_chunks(CHUNK))
        .enumerate()
        .for_each(|(k, (out, chunk))| {
            let mut rng = None;
            for (i, (slot, &c)) in out.iter_mut().zip(chunk).enumerate() {
                *slot = f((start + k * CHUNK + i) as u64, c, &mut rng);
            }
        });
    out
}

#[derive(Clone, Copy)]
struct Placer {
    placement: BinPlacement,
    seed: u64,
    stream: u64,
}

impl Placer {
    /// A uniform draw in `[0, 1)` for `row`, from ChaCha8 keyed by the seed, on the column's
    /// stream, at word position `2 * row` (each row owns one 64-bit word pair).
    fn unit(&self, row: u64, rng: &mut Option<ChaCha8Rng>) -> f64 {
        let r = rng.get_or_insert_with(|| {
            let mut r = ChaCha8Rng::seed_from_u64(self.seed);
            r.set_stream(self.stream);
            r
        });
        r.set_word_pos(u128::from(row) * 2);
        (r.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn real(&self, lo: f64, hi: f64, row: u64, rng: &mut Option<ChaCha8Rng>) -> f64 {
        match self.placement {
            BinPlacement::Lower => lo,
            BinPlacement::Midpoint => lo + (hi - lo) / 2.0,
            BinPlacement::Uniform => lo + (hi - lo) * self.unit(row, rng),
        }
    }

    fn int_between(&self, a: i64, b: i64, row: u64, rng: &mut Option<ChaCha8Rng>) -> i64 {
        match self.placement {
            BinPlacement::Lower => a,
            BinPlacement::Midpoint => a + (b - a) / 2,
            BinPlacement::Uniform => {
                let span = (b - a + 1) as f64;
                (a + (self.unit(row, rng) * span) as i64).min(b)
            }
        }
    }

    /// Integers of bin `c` within `[min, max]`: `[ceil(lo), ceil(hi) - 1]`, or up to
    /// `floor(hi)` for the closed last bin.
    fn integer(
        &self,
        e: &Edges,
        c: u32,
        min: i64,
        max: i64,
        row: u64,
        rng: &mut Option<ChaCha8Rng>,
    ) -> i64 {
        let (lo, hi) = e.bounds(c);
        let a = (lo.ceil() as i64).max(min);
        let b = if c + 1 == e.n_bins() {
            hi.floor() as i64
        } else {
            hi.ceil() as i64 - 1
        }
        .min(max);
        if b < a {
            return a.min(max);
        }
        self.int_between(a, b, row, rng)
    }
}

/// First and last day of period `code` of a date column, clipped to `[min, max]`.
pub(crate) fn date_period(
    min: NaiveDate,
    max: NaiveDate,
    g: DateGranularity,
    code: u32,
) -> (NaiveDate, NaiveDate) {
    let (first, last) = match g {
        DateGranularity::Day => {
            let d = min + chrono::Days::new(u64::from(code));
            (d, d)
        }
        DateGranularity::Week => {
            let d = min + chrono::Days::new(7 * u64::from(code));
            (d, d + chrono::Days::new(6))
        }
        DateGranularity::Month => {
            let m0 = NaiveDate::from_ymd_opt(min.year(), min.month(), 1).expect("valid");
            let f = m0 + Months::new(code);
            (f, f + Months::new(1) - chrono::Days::new(1))
        }
        DateGranularity::Year => {
            let y = min.year() + code as i32;
            (
                NaiveDate::from_ymd_opt(y, 1, 1).expect("valid"),
                NaiveDate::from_ymd_opt(y, 12, 31).expect("valid"),
            )
        }
    };
    (first.max(min), last.min(max))
}

/// Label of a date or datetime code: the day, `first..last` for a longer period, or the
/// start instant of a time step.
pub(crate) fn period_label(spec: &ColumnSpec, code: u32) -> String {
    match &spec.kind {
        ColumnKind::Date {
            min,
            max,
            granularity,
            ..
        } => {
            let (a, b) = date_period(*min, *max, *granularity, code);
            match granularity {
                DateGranularity::Day => a.to_string(),
                DateGranularity::Month => format!("{:04}-{:02}", a.year(), a.month()),
                DateGranularity::Year => a.year().to_string(),
                DateGranularity::Week => format!("{a}..{b}"),
            }
        }
        ColumnKind::Datetime {
            min, granularity, ..
        } => {
            let t = *min + chrono::TimeDelta::seconds(i64::from(code) * granularity.seconds());
            t.format("%Y-%m-%dT%H:%M:%S").to_string()
        }
        _ => code.to_string(),
    }
}

/// Decode a whole table into one batch per `batch_rows` rows (convenience).
pub fn decode_table(
    table: &EncodedTable,
    opts: DecodeOptions,
    batch_rows: usize,
) -> Result<Vec<RecordBatch>> {
    let d = Decoder::new(opts);
    d.batches(table, batch_rows).collect()
}

#[cfg(test)]
mod tests;

//! Views: what an analyst tabulates of each column, coded the same way in the real, the
//! synthetic and the holdout table.
//!
//! | declared kind | view(s) |
//! |---|---|
//! | categorical, up to [`MAX_RAW_CATEGORIES`] values | the value |
//! | categorical, more | its [`TOP_CATEGORIES`] most frequent values in the real table, the rest as one group |
//! | integer, float | [`QUANTILE_BINS`] bins at the real table's quantiles |
//! | date | weekday |
//! | datetime | weekday, hour of day |
//!
//! Every view has a null group. Quantiles and frequent values are read from the real table:
//! this is the custodian's evaluation, never released with the model.

use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray, TimestampSecondArray};
use arrow_schema::{DataType, TimeUnit};
use pets::data::{ColumnKind, ColumnSpec, Schema};
use rayon::prelude::*;

use crate::error::{Result, SynthError};

/// Bins of a number's view, at the real table's quantiles.
pub const QUANTILE_BINS: usize = 20;
/// Categorical columns with more declared values than this are viewed by their most
/// frequent real values: a view over tens of thousands of values (36,059 LSOAs, a handful
/// of rows each at 100k rows) measures the sampling noise of the real table, not the model.
pub const MAX_RAW_CATEGORIES: usize = 1_000;
/// How many of the most frequent real values such a column keeps.
pub const TOP_CATEGORIES: usize = 50;

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// One view: the codes of each table's rows, and the label of each code.
#[derive(Debug, Clone)]
pub(crate) struct View {
    /// `column`, `column:weekday` or `column:hour`.
    pub name: String,
    /// Index of the column it views (views of one column are shuffled together).
    pub column: usize,
    /// Codes of the real rows.
    pub real: Vec<u32>,
    /// Codes of the synthetic rows.
    pub synth: Vec<u32>,
    /// Codes of the holdout rows (empty without a holdout).
    pub holdout: Vec<u32>,
    /// One label per code; `size = labels.len()`.
    pub labels: Vec<String>,
}

impl View {
    /// How many codes there are.
    pub fn size(&self) -> usize {
        self.labels.len()
    }
}

fn cast(batches: &[RecordBatch], name: &str, to: &DataType) -> Result<Vec<ArrayRef>> {
    batches
        .iter()
        .map(|b| {
            let col = b.column_by_name(name).ok_or_else(|| {
                SynthError::invalid("evaluate", name, "the column is missing from a table")
            })?;
            Ok(arrow_cast::cast::cast(col, to).map_err(pets::data::DataError::from)?)
        })
        .collect()
}

pub(crate) fn numbers(batches: &[RecordBatch], name: &str) -> Result<Vec<Option<f64>>> {
    let mut out = Vec::new();
    for a in cast(batches, name, &DataType::Float64)? {
        let a = a
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("cast to Float64");
        out.extend(a.iter());
    }
    Ok(out)
}

/// Seconds since the epoch of a date or datetime column.
pub(crate) fn instants(batches: &[RecordBatch], name: &str) -> Result<Vec<Option<i64>>> {
    let mut out = Vec::new();
    for a in cast(batches, name, &DataType::Timestamp(TimeUnit::Second, None))? {
        let a = a
            .as_any()
            .downcast_ref::<TimestampSecondArray>()
            .expect("cast to seconds");
        out.extend(a.iter());
    }
    Ok(out)
}

/// Short text of a bin edge.
fn edge(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.4}")
    }
}

/// The views of one column over the real, synthetic and (possibly empty) holdout tables.
fn views_of(
    column: usize,
    spec: &ColumnSpec,
    real: &[RecordBatch],
    synth: &[RecordBatch],
    holdout: &[RecordBatch],
) -> Result<Vec<View>> {
    let name = spec.name.clone();
    Ok(match &spec.kind {
        ColumnKind::Categorical { values, .. } => {
            let real_arrays = cast(real, &name, &DataType::Utf8)?;
            let texts = |arrays: &[ArrayRef]| -> Vec<StringArray> {
                arrays
                    .iter()
                    .map(|a| {
                        a.as_any()
                            .downcast_ref::<StringArray>()
                            .expect("cast to Utf8")
                            .clone()
                    })
                    .collect()
            };
            let real_texts = texts(&real_arrays);
            let mut keep: Vec<String> = values.clone();
            if values.len() > MAX_RAW_CATEGORIES {
                let mut freq: std::collections::HashMap<&str, u64> = Default::default();
                for a in &real_texts {
                    for v in a.iter().flatten() {
                        *freq.entry(v).or_default() += 1;
                    }
                }
                let mut top: Vec<(&str, u64)> = freq.into_iter().collect();
                top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                keep = top
                    .into_iter()
                    .take(TOP_CATEGORIES)
                    .map(|(v, _)| v.to_string())
                    .collect();
            }
            let index: std::collections::HashMap<&str, u32> = keep
                .iter()
                .enumerate()
                .map(|(i, v)| (v, i as u32))
                .map(|(v, i)| (v.as_str(), i))
                .collect();
            let n = keep.len() as u32;
            let code_all = |arrays: &[StringArray]| -> Vec<u32> {
                let mut out = Vec::with_capacity(arrays.iter().map(|a| a.len()).sum());
                for a in arrays {
                    out.extend(a.iter().map(|v| match v {
                        None => n + 1,
                        Some(v) => *index.get(v).unwrap_or(&n),
                    }));
                }
                out
            };
            let codes = |b: &[RecordBatch]| -> Result<Vec<u32>> {
                Ok(code_all(&texts(&cast(b, &name, &DataType::Utf8)?)))
            };
            let real_codes = code_all(&real_texts);
            let mut labels = keep.clone();
            labels.extend(["(other)".to_string(), "(null)".to_string()]);
            vec![View {
                name: name.clone(),
                column,
                real: real_codes,
                synth: codes(synth)?,
                holdout: codes(holdout)?,
                labels,
            }]
        }
        ColumnKind::Integer { .. } | ColumnKind::Float { .. } => {
            let r = numbers(real, &name)?;
            let mut sorted: Vec<f64> = r
                .iter()
                .flatten()
                .copied()
                .filter(|v| v.is_finite())
                .collect();
            sorted.sort_by(f64::total_cmp);
            let mut edges: Vec<f64> = (1..QUANTILE_BINS)
                .filter_map(|k| {
                    let i = (k * sorted.len()) / QUANTILE_BINS;
                    sorted.get(i.min(sorted.len().saturating_sub(1))).copied()
                })
                .collect();
            edges.dedup();
            let n = edges.len() as u32;
            let code = |v: &Option<f64>| match v {
                Some(x) if x.is_finite() => edges.partition_point(|e| e <= x) as u32,
                _ => n + 1,
            };
            let codes = |b: &[RecordBatch]| -> Result<Vec<u32>> {
                Ok(numbers(b, &name)?.iter().map(code).collect())
            };
            let mut labels = Vec::with_capacity(edges.len() + 2);
            for i in 0..=edges.len() {
                labels.push(match (i.checked_sub(1).map(|j| edges[j]), edges.get(i)) {
                    (None, Some(&hi)) => format!("< {}", edge(hi)),
                    (Some(lo), Some(&hi)) => format!("[{}, {})", edge(lo), edge(hi)),
                    (Some(lo), None) => format!(">= {}", edge(lo)),
                    (None, None) => "all".to_string(),
                });
            }
            labels.push("(null)".to_string());
            vec![View {
                name: name.clone(),
                column,
                real: r.iter().map(code).collect(),
                synth: codes(synth)?,
                holdout: codes(holdout)?,
                labels,
            }]
        }
        ColumnKind::Date { .. } | ColumnKind::Datetime { .. } => {
            let (r, s, h) = (
                instants(real, &name)?,
                instants(synth, &name)?,
                instants(holdout, &name)?,
            );
            let weekday = |v: &Option<i64>| match v {
                // 1970-01-01 was a Thursday (3 with Monday 0).
                Some(t) => (t.div_euclid(86_400) + 3).rem_euclid(7) as u32,
                None => 7,
            };
            let hour = |v: &Option<i64>| match v {
                Some(t) => (t.rem_euclid(86_400) / 3_600) as u32,
                None => 24,
            };
            let mut labels: Vec<String> = WEEKDAYS.iter().map(|d| d.to_string()).collect();
            labels.push("(null)".into());
            let mut out = vec![View {
                name: format!("{name}:weekday"),
                column,
                real: r.iter().map(weekday).collect(),
                synth: s.iter().map(weekday).collect(),
                holdout: h.iter().map(weekday).collect(),
                labels,
            }];
            if matches!(spec.kind, ColumnKind::Datetime { .. }) {
                let mut labels: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
                labels.push("(null)".into());
                out.push(View {
                    name: format!("{name}:hour"),
                    column,
                    real: r.iter().map(hour).collect(),
                    synth: s.iter().map(hour).collect(),
                    holdout: h.iter().map(hour).collect(),
                    labels,
                });
            }
            out
        }
        ColumnKind::Text => Vec::new(),
    })
}

/// The columns of `schema` evaluated: encodable, not direct identifiers, present in the
/// real and the synthetic table (and the holdout, when there is one).
pub(crate) fn evaluated_columns<'a>(
    schema: &'a Schema,
    real: &[RecordBatch],
    synth: &[RecordBatch],
    holdout: Option<&[RecordBatch]>,
) -> Vec<&'a ColumnSpec> {
    let has = |batches: &[RecordBatch], n: &str| {
        batches
            .first()
            .is_some_and(|b| b.schema().column_with_name(n).is_some())
    };
    schema
        .columns
        .iter()
        .filter(|c| {
            c.kind.is_encodable()
                && c.role != pets::data::Role::DirectIdentifier
                && has(real, &c.name)
                && has(synth, &c.name)
                && holdout.is_none_or(|h| has(h, &c.name))
        })
        .collect()
}

/// Every view of `specs`, in schema order.
pub(crate) fn build(
    specs: &[&ColumnSpec],
    real: &[RecordBatch],
    synth: &[RecordBatch],
    holdout: &[RecordBatch],
) -> Result<Vec<View>> {
    Ok(specs
        .par_iter()
        .enumerate()
        .map(|(i, c)| views_of(i, c, real, synth, holdout))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect())
}

/// Dense counts of the joint codes of `codes` (mixed radix, last column fastest).
pub(crate) fn count(codes: &[&[u32]], sizes: &[usize]) -> Vec<u64> {
    let cells: usize = sizes.iter().product();
    let mut out = vec![0u64; cells];
    match codes {
        [] => return out,
        [a] => {
            for &x in a.iter() {
                out[x as usize] += 1;
            }
            return out;
        }
        [a, b] => {
            let sb = sizes[1];
            for (&x, &y) in a.iter().zip(b.iter()) {
                out[x as usize * sb + y as usize] += 1;
            }
            return out;
        }
        _ => {}
    }
    for r in 0..codes[0].len() {
        let mut i = 0usize;
        for (c, &s) in codes.iter().zip(sizes) {
            i = i * s + c[r] as usize;
        }
        out[i] += 1;
    }
    out
}

/// `TVD(p, q) = 1/2 sum_i |p_i - q_i|` of two count vectors, each normalised to sum to one.
pub(crate) fn tvd(p: &[u64], q: &[u64]) -> f64 {
    let (sp, sq) = (p.iter().sum::<u64>() as f64, q.iter().sum::<u64>() as f64);
    0.5 * p
        .iter()
        .zip(q)
        .map(|(&a, &b)| (a as f64 / sp.max(1.0) - b as f64 / sq.max(1.0)).abs())
        .sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_mixed_radix_and_tvd_is_half_the_l1() {
        let a = [0u32, 1, 1, 2];
        let b = [1u32, 0, 1, 1];
        assert_eq!(count(&[&a, &b], &[3, 2]), vec![0, 1, 1, 1, 0, 1]);
        assert_eq!(tvd(&[1, 1], &[1, 1]), 0.0);
        assert_eq!(tvd(&[2, 0], &[0, 5]), 1.0);
        assert!((tvd(&[3, 1], &[1, 1]) - 0.25).abs() < 1e-12);
        assert_eq!(edge(3.0), "3");
        assert_eq!(edge(0.5), "0.5000");
    }
}

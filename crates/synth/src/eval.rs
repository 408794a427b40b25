//! Utility of synthetic data: total-variation distance between marginals.
//!
//! For marginals `p` (real) and `q` (synthetic), each normalised to sum to one,
//! `TVD(p, q) = 1/2 sum_i |p_i - q_i|` (0: identical, 1: disjoint). The mean over every
//! 1-way or 2-way marginal of a set of columns is the figure the MST papers and the
//! NIST challenge report.
//!
//! [`mean_tvd`] compares two tables encoded against one schema (the synthesis codes);
//! [`evaluate`] compares the decoded tables as an analyst sees them (datetimes by weekday
//! and by hour, numbers by 20 quantile bins), whatever their synthesis domain was, against
//! the independent baseline. Issue 13's evaluation report builds on it.

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampSecondArray};
use arrow_schema::{DataType, TimeUnit};
use pets::data::{ColumnKind, ColumnSpec, EncodedTable, Schema};
use rayon::prelude::*;

use crate::error::{Result, SynthError};
use crate::marginals::Marginal;

fn tvd(p: &[u64], q: &[u64]) -> f64 {
    let (sp, sq) = (p.iter().sum::<u64>() as f64, q.iter().sum::<u64>() as f64);
    0.5 * p
        .iter()
        .zip(q)
        .map(|(&a, &b)| (a as f64 / sp.max(1.0) - b as f64 / sq.max(1.0)).abs())
        .sum::<f64>()
}

fn sets(columns: &[&str], k: usize) -> Vec<Vec<String>> {
    match k {
        1 => columns.iter().map(|c| vec![c.to_string()]).collect(),
        _ => (0..columns.len())
            .flat_map(|a| (a + 1..columns.len()).map(move |b| (a, b)))
            .map(|(a, b)| vec![columns[a].to_string(), columns[b].to_string()])
            .collect(),
    }
}

/// Mean TVD over every `k`-way marginal (`k` is 1 or 2) of `columns` between two tables
/// encoded against the same schema.
pub fn mean_tvd(
    real: &EncodedTable,
    synth: &EncodedTable,
    columns: &[&str],
    k: usize,
) -> Result<f64> {
    let sets = sets(columns, k);
    let d: Vec<f64> = sets
        .par_iter()
        .map(|s| {
            let cols: Vec<&str> = s.iter().map(String::as_str).collect();
            let p = Marginal::compute(real, &cols)?;
            let q = Marginal::compute(synth, &cols)?;
            Ok(tvd(&p.counts, &q.counts))
        })
        .collect::<Result<_>>()?;
    Ok(d.iter().sum::<f64>() / d.len().max(1) as f64)
}

/// The independent baseline: mean 2-way TVD between the real table and the product of its
/// exact 1-way marginals (what sampling each column independently achieves at best).
pub fn independent_mean_tvd(real: &EncodedTable, columns: &[&str]) -> Result<f64> {
    let sets = sets(columns, 2);
    let d: Vec<f64> = sets
        .par_iter()
        .map(|s| {
            let p = Marginal::compute(real, &[&s[0], &s[1]])?;
            let a = Marginal::compute(real, &[&s[0]])?;
            let b = Marginal::compute(real, &[&s[1]])?;
            let n = real.n_rows().max(1) as f64;
            let nb = b.counts.len();
            Ok(0.5
                * p.counts
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| {
                        let q = a.counts[i / nb] as f64 * b.counts[i % nb] as f64 / (n * n);
                        (x as f64 / n - q).abs()
                    })
                    .sum::<f64>())
        })
        .collect::<Result<_>>()?;
    Ok(d.iter().sum::<f64>() / d.len().max(1) as f64)
}

/// Views per column for [`evaluate`]: what an analyst tabulates.
///
/// | declared kind | view(s) |
/// |---|---|
/// | categorical, up to [`MAX_RAW_CATEGORIES`] values | the value |
/// | categorical, more | its [`TOP_CATEGORIES`] most frequent values in the real table, the rest as one group |
/// | integer, float | [`QUANTILE_BINS`] bins at the real table's quantiles |
/// | date | weekday |
/// | datetime | weekday, hour of day |
///
/// Every view has a null group. Quantiles and frequent values are read from the real table:
/// this is the custodian's evaluation, never released with the model.
pub const QUANTILE_BINS: usize = 20;
/// Categorical columns with more declared values than this are viewed by their most
/// frequent real values: a view over tens of thousands of values (36,059 LSOAs, a handful
/// of rows each at 100k rows) measures the sampling noise of the real table, not the model.
pub const MAX_RAW_CATEGORIES: usize = 1_000;
/// How many of the most frequent real values such a column keeps.
pub const TOP_CATEGORIES: usize = 50;

/// One view: codes of the real and synthetic rows, and how many codes there are.
struct View {
    name: String,
    /// Index of the column it views (views of one column are shuffled together).
    column: usize,
    real: Vec<u32>,
    synth: Vec<u32>,
    size: usize,
}

/// What [`evaluate`] measures.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evaluation {
    /// The views compared (`column`, `column:weekday`, `column:hour`).
    pub views: Vec<String>,
    /// 1-way TVD of each view.
    pub one_way: Vec<f64>,
    /// Mean 1-way TVD.
    pub mean_1way: f64,
    /// Every pair of views: (view a, view b, TVD of the synthetic table, of the product
    /// of the real 1-way views, of the real table with its columns shuffled).
    pub pairs: Vec<(String, String, f64, f64, f64)>,
    /// Mean 2-way TVD of the synthetic table.
    pub mean_2way: f64,
    /// Mean 2-way TVD of the product of the real table's exact 1-way views: shuffling
    /// each column independently with infinitely many rows.
    pub independent_2way: f64,
    /// Mean 2-way TVD of the real table with each column shuffled independently (a seeded
    /// permutation per column; the weekday and hour of one datetime move together): no
    /// model at all, at the real table's size, sampling noise included like a synthetic
    /// sample of that size.
    pub shuffled_2way: f64,
}

impl Evaluation {
    /// `shuffled_2way / mean_2way`: how many times better than shuffling the columns.
    pub fn ratio(&self) -> f64 {
        self.shuffled_2way / self.mean_2way.max(f64::MIN_POSITIVE)
    }
}

/// A seeded permutation of `0..n` (Fisher-Yates on ChaCha8).
fn permutation(n: usize, seed: u64) -> Vec<u32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut p: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = ((u128::from(rng.next_u64()) * (i as u128 + 1)) >> 64) as usize;
        p.swap(i, j);
    }
    p
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

fn strings(batches: &[RecordBatch], name: &str) -> Result<Vec<Option<String>>> {
    let mut out = Vec::new();
    for a in cast(batches, name, &DataType::Utf8)? {
        let a = a
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("cast to Utf8");
        out.extend(a.iter().map(|v| v.map(str::to_string)));
    }
    Ok(out)
}

fn numbers(batches: &[RecordBatch], name: &str) -> Result<Vec<Option<f64>>> {
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
fn instants(batches: &[RecordBatch], name: &str) -> Result<Vec<Option<i64>>> {
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

fn views_of(
    column: usize,
    spec: &ColumnSpec,
    real: &[RecordBatch],
    synth: &[RecordBatch],
) -> Result<Vec<View>> {
    let name = spec.name.clone();
    Ok(match &spec.kind {
        ColumnKind::Categorical { values, .. } => {
            let (r, s) = (strings(real, &name)?, strings(synth, &name)?);
            let mut keep: Vec<String> = values.clone();
            if values.len() > MAX_RAW_CATEGORIES {
                let mut freq: std::collections::HashMap<&str, u64> = Default::default();
                for v in r.iter().flatten() {
                    *freq.entry(v.as_str()).or_default() += 1;
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
                .map(|(i, v)| (v.as_str(), i as u32))
                .collect();
            let n = keep.len() as u32;
            let code = |v: &Option<String>| match v {
                None => n + 1,
                Some(v) => *index.get(v.as_str()).unwrap_or(&n),
            };
            vec![View {
                name,
                column,
                real: r.iter().map(code).collect(),
                synth: s.iter().map(code).collect(),
                size: keep.len() + 2,
            }]
        }
        ColumnKind::Integer { .. } | ColumnKind::Float { .. } => {
            let (r, s) = (numbers(real, &name)?, numbers(synth, &name)?);
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
            vec![View {
                name,
                column,
                real: r.iter().map(code).collect(),
                synth: s.iter().map(code).collect(),
                size: edges.len() + 2,
            }]
        }
        ColumnKind::Date { .. } | ColumnKind::Datetime { .. } => {
            let (r, s) = (instants(real, &name)?, instants(synth, &name)?);
            let weekday = |v: &Option<i64>| match v {
                Some(t) => (t.div_euclid(86_400) + 3).rem_euclid(7) as u32,
                None => 7,
            };
            let hour = |v: &Option<i64>| match v {
                Some(t) => (t.rem_euclid(86_400) / 3_600) as u32,
                None => 24,
            };
            let mut out = vec![View {
                name: format!("{name}:weekday"),
                column,
                real: r.iter().map(weekday).collect(),
                synth: s.iter().map(weekday).collect(),
                size: 8,
            }];
            if matches!(spec.kind, ColumnKind::Datetime { .. }) {
                out.push(View {
                    name: format!("{name}:hour"),
                    column,
                    real: r.iter().map(hour).collect(),
                    synth: s.iter().map(hour).collect(),
                    size: 25,
                });
            }
            out
        }
        ColumnKind::Text => Vec::new(),
    })
}

fn count(codes: &[&[u32]], sizes: &[usize]) -> Vec<u64> {
    let cells: usize = sizes.iter().product();
    let mut out = vec![0u64; cells];
    for r in 0..codes[0].len() {
        let mut i = 0usize;
        for (c, &s) in codes.iter().zip(sizes) {
            i = i * s + c[r] as usize;
        }
        out[i] += 1;
    }
    out
}

/// Compare a synthetic table with the real one over every column of `schema` present in
/// both (text and direct identifiers left out), through the views of [`QUANTILE_BINS`]:
/// mean 1-way and 2-way TVD, and the independent baseline.
pub fn evaluate(
    real: &[RecordBatch],
    synth: &[RecordBatch],
    schema: &Schema,
) -> Result<Evaluation> {
    let has = |batches: &[RecordBatch], n: &str| {
        batches
            .first()
            .is_some_and(|b| b.schema().column_with_name(n).is_some())
    };
    let specs: Vec<&ColumnSpec> = schema
        .columns
        .iter()
        .filter(|c| {
            c.kind.is_encodable()
                && c.role != pets::data::Role::DirectIdentifier
                && has(real, &c.name)
                && has(synth, &c.name)
        })
        .collect();
    let views: Vec<View> = specs
        .par_iter()
        .enumerate()
        .map(|(i, c)| views_of(i, c, real, synth))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let one_way: Vec<f64> = views
        .par_iter()
        .map(|v| {
            tvd(
                &count(&[&v.real], &[v.size]),
                &count(&[&v.synth], &[v.size]),
            )
        })
        .collect();
    let n_real = views.first().map_or(0, |v| v.real.len());
    let perms: Vec<Vec<u32>> = (0..specs.len())
        .into_par_iter()
        .map(|c| permutation(n_real, 0x5EED_0000 + c as u64))
        .collect();
    let shuffled: Vec<Vec<u32>> = views
        .par_iter()
        .map(|v| {
            perms[v.column]
                .iter()
                .map(|&r| v.real[r as usize])
                .collect()
        })
        .collect();
    let idx: Vec<(usize, usize)> = (0..views.len())
        .flat_map(|a| (a + 1..views.len()).map(move |b| (a, b)))
        .collect();
    let pairs: Vec<(String, String, f64, f64, f64)> = idx
        .par_iter()
        .map(|&(a, b)| {
            let (va, vb) = (&views[a], &views[b]);
            let sizes = [va.size, vb.size];
            let p = count(&[&va.real, &vb.real], &sizes);
            let q = count(&[&va.synth, &vb.synth], &sizes);
            let (pa, pb) = (
                count(&[&va.real], &[va.size]),
                count(&[&vb.real], &[vb.size]),
            );
            let n = va.real.len().max(1) as f64;
            let independent = 0.5
                * p.iter()
                    .enumerate()
                    .map(|(i, &x)| {
                        let e = pa[i / vb.size] as f64 * pb[i % vb.size] as f64 / (n * n);
                        (x as f64 / n - e).abs()
                    })
                    .sum::<f64>();
            let sh = count(&[&shuffled[a], &shuffled[b]], &sizes);
            (
                va.name.clone(),
                vb.name.clone(),
                tvd(&p, &q),
                independent,
                tvd(&p, &sh),
            )
        })
        .collect();
    let mean = |x: &mut dyn Iterator<Item = f64>, n: usize| x.sum::<f64>() / n.max(1) as f64;
    Ok(Evaluation {
        views: views.iter().map(|v| v.name.clone()).collect(),
        mean_1way: mean(&mut one_way.iter().copied(), one_way.len()),
        one_way,
        mean_2way: mean(&mut pairs.iter().map(|p| p.2), pairs.len()),
        independent_2way: mean(&mut pairs.iter().map(|p| p.3), pairs.len()),
        shuffled_2way: mean(&mut pairs.iter().map(|p| p.4), pairs.len()),
        pairs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{BooleanArray, Int32Array, TimestampMillisecondArray};
    use arrow_schema::{Field, Schema as ArrowSchema};
    use std::sync::Arc;

    fn schema() -> Schema {
        Schema::from_json(
            r#"{"columns": [
            {"name": "admitted", "kind": "categorical", "values": ["false", "true"]},
            {"name": "minutes", "kind": "integer", "min": 0, "max": 999},
            {"name": "arrival", "kind": "datetime", "min": "2024-04-01T00:00:00",
             "max": "2024-04-30T23:59:00"}
        ]}"#,
        )
        .unwrap()
    }

    /// Admitted iff arrival at night, minutes = 10 x hour: fully dependent columns.
    fn table(rows: usize, shift: i64) -> Vec<RecordBatch> {
        let start = 1_711_929_600_000i64; // 2024-04-01T00:00:00 in ms
        let hour = |i: usize| ((i as i64 * 7 + shift).rem_euclid(24)) as i32;
        let admitted: BooleanArray = (0..rows).map(|i| Some(hour(i) < 6)).collect();
        let minutes: Int32Array = (0..rows).map(|i| Some(10 * hour(i))).collect();
        let arrival: TimestampMillisecondArray = (0..rows)
            .map(|i| Some(start + (i as i64 % 29) * 86_400_000 + i64::from(hour(i)) * 3_600_000))
            .collect();
        let s = Arc::new(ArrowSchema::new(vec![
            Field::new("admitted", DataType::Boolean, false),
            Field::new("minutes", DataType::Int32, false),
            Field::new(
                "arrival",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                false,
            ),
        ]));
        vec![
            RecordBatch::try_new(
                s,
                vec![Arc::new(admitted), Arc::new(minutes), Arc::new(arrival)],
            )
            .unwrap(),
        ]
    }

    #[test]
    fn identical_tables_score_zero_and_shuffling_scores_the_dependence() {
        let real = table(2_400, 0);
        let e = evaluate(&real, &real, &schema()).unwrap();
        assert_eq!(
            e.views,
            ["admitted", "minutes", "arrival:weekday", "arrival:hour"]
        );
        assert_eq!(e.pairs.len(), 6);
        assert_eq!((e.mean_1way, e.mean_2way), (0.0, 0.0));
        // admitted x hour: P(night) = 1/4, so the product puts 1/4 x 3/4 + 3/4 x 1/4 of the
        // mass on impossible cells: TVD 3/8.
        let p = e
            .pairs
            .iter()
            .find(|p| p.0 == "admitted" && p.1 == "arrival:hour")
            .unwrap();
        assert!((p.3 - 0.375).abs() < 1e-9, "{p:?}");
        assert!(p.4 > 0.3, "a real shuffle is near the product: {p:?}");
        // Admitted taken from a table with the hours moved by 12: its 1-way is unchanged
        // (a quarter of the rows), its joints with the hour and the minutes are not.
        let shifted = table(2_400, 12);
        let mixed = RecordBatch::try_new(
            real[0].schema(),
            vec![
                shifted[0].column(0).clone(),
                real[0].column(1).clone(),
                real[0].column(2).clone(),
            ],
        )
        .unwrap();
        let e = evaluate(&real, &[mixed], &schema()).unwrap();
        assert!(e.one_way[0] < 1e-9);
        let p = e
            .pairs
            .iter()
            .find(|p| p.0 == "admitted" && p.1 == "arrival:hour")
            .unwrap();
        assert!((p.2 - 0.5).abs() < 1e-9, "{p:?}");
        assert!(e.mean_2way > 0.1);
    }

    #[test]
    fn numbers_are_viewed_by_real_quantiles() {
        let real = table(2_400, 0);
        let e = evaluate(&real, &real, &schema()).unwrap();
        // 24 distinct minute values at equal frequency: 19 cut points, 20 bins + null.
        let synth = table(2_400, 1);
        let f = evaluate(&real, &synth, &schema()).unwrap();
        assert_eq!(e.one_way[1], 0.0);
        assert!(f.one_way[1] < 0.1, "{}", f.one_way[1]);
    }
}

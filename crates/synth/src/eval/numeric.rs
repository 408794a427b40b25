//! Distances between the real and the synthetic distribution of each numeric column
//! (integers, floats; dates and datetimes in days), on the raw values rather than the views,
//! and Pearson correlations between them.
//!
//! - Wasserstein-1 (earth mover's) distance `W1 = integral |F(x) - G(x)| dx` of the two
//!   empirical distribution functions, in the column's units and divided by the real
//!   table's range (0: identical; 1: all the mass moved across the whole range);
//! - Kolmogorov-Smirnov statistic `KS = sup_x |F(x) - G(x)|`;
//! - the share of nulls and the means and standard deviations of each table.

use arrow_array::RecordBatch;
use pets::data::{ColumnKind, ColumnSpec};
use rayon::prelude::*;

use super::views::{instants, numbers};
use crate::error::Result;

/// The distances of one numeric column.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NumericDistance {
    /// The column.
    pub column: String,
    /// Its unit: `value`, or `days` for dates and datetimes.
    pub unit: String,
    /// Wasserstein-1 distance, in the column's unit.
    pub wasserstein: f64,
    /// Wasserstein-1 distance divided by the real table's range (max - min).
    pub wasserstein_normalised: f64,
    /// Kolmogorov-Smirnov statistic.
    pub ks: f64,
    /// Mean of the real values.
    pub real_mean: f64,
    /// Mean of the synthetic values.
    pub synth_mean: f64,
    /// Standard deviation of the real values.
    pub real_sd: f64,
    /// Standard deviation of the synthetic values.
    pub synth_sd: f64,
    /// Share of real rows null (or not finite).
    pub real_null_share: f64,
    /// Share of synthetic rows null.
    pub synth_null_share: f64,
}

/// Pearson correlations between the numeric columns.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Correlation {
    /// The columns.
    pub columns: Vec<String>,
    /// Correlations of the real table (rows with both values).
    pub real: Vec<Vec<f64>>,
    /// Correlations of the synthetic table.
    pub synth: Vec<Vec<f64>>,
    /// Mean of `|r_real - r_synth|` over the pairs.
    pub mean_abs_difference: f64,
}

/// A numeric column's spec with its real and synthetic values.
type Values<'a> = (&'a ColumnSpec, Vec<Option<f64>>, Vec<Option<f64>>);

/// `W1` and `KS` of two samples (finite values).
pub fn wasserstein_ks(a: &[f64], b: &[f64]) -> (f64, f64) {
    if a.is_empty() || b.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.par_sort_unstable_by(f64::total_cmp);
    b.par_sort_unstable_by(f64::total_cmp);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let (mut w, mut ks) = (0.0, 0.0f64);
    let mut x = a[0].min(b[0]);
    while i < a.len() || j < b.len() {
        // Step past every value equal to x, then the CDFs hold until the next value.
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        let d = (i as f64 / na - j as f64 / nb).abs();
        ks = ks.max(d);
        let next = match (a.get(i), b.get(j)) {
            (Some(&p), Some(&q)) => p.min(q),
            (Some(&p), None) => p,
            (None, Some(&q)) => q,
            (None, None) => break,
        };
        w += d * (next - x);
        x = next;
    }
    (w, ks)
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    (m, var.sqrt())
}

/// Values of a numeric column (dates and datetimes in days since the epoch); `None` when
/// the column is not numeric.
fn values(spec: &ColumnSpec, batches: &[RecordBatch]) -> Result<Option<Vec<Option<f64>>>> {
    Ok(match spec.kind {
        ColumnKind::Integer { .. } | ColumnKind::Float { .. } => Some(
            numbers(batches, &spec.name)?
                .into_iter()
                .map(|v| v.filter(|x| x.is_finite()))
                .collect(),
        ),
        ColumnKind::Date { .. } | ColumnKind::Datetime { .. } => Some(
            instants(batches, &spec.name)?
                .into_iter()
                .map(|v| v.map(|t| t as f64 / 86_400.0))
                .collect(),
        ),
        _ => None,
    })
}

fn pearson(x: &[Option<f64>], y: &[Option<f64>]) -> f64 {
    let pairs: Vec<(f64, f64)> = x
        .iter()
        .zip(y)
        .filter_map(|(a, b)| Some(((*a)?, (*b)?)))
        .collect();
    let n = pairs.len() as f64;
    if pairs.len() < 2 {
        return f64::NAN;
    }
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in &pairs {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        return 0.0;
    }
    sxy / (sxx * syy).sqrt()
}

/// The distances of every numeric column of `specs`, and their correlations.
pub(crate) fn compare(
    specs: &[&ColumnSpec],
    real: &[RecordBatch],
    synth: &[RecordBatch],
) -> Result<(Vec<NumericDistance>, Correlation)> {
    let cols: Vec<Values<'_>> = specs
        .par_iter()
        .map(|s| {
            Ok(match (values(s, real)?, values(s, synth)?) {
                (Some(r), Some(q)) => Some((*s, r, q)),
                _ => None,
            })
        })
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let distances = cols
        .par_iter()
        .map(|(spec, r, s)| {
            let rv: Vec<f64> = r.iter().flatten().copied().collect();
            let sv: Vec<f64> = s.iter().flatten().copied().collect();
            let (w, ks) = wasserstein_ks(&rv, &sv);
            let range = rv.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                - rv.iter().copied().fold(f64::INFINITY, f64::min);
            let (real_mean, real_sd) = mean_sd(&rv);
            let (synth_mean, synth_sd) = mean_sd(&sv);
            let null = |all: usize, kept: usize| (all - kept) as f64 / all.max(1) as f64;
            NumericDistance {
                column: spec.name.clone(),
                unit: match spec.kind {
                    ColumnKind::Date { .. } | ColumnKind::Datetime { .. } => "days",
                    _ => "value",
                }
                .into(),
                wasserstein: w,
                wasserstein_normalised: if range > 0.0 { w / range } else { w },
                ks,
                real_mean,
                synth_mean,
                real_sd,
                synth_sd,
                real_null_share: null(r.len(), rv.len()),
                synth_null_share: null(s.len(), sv.len()),
            }
        })
        .collect();
    let n = cols.len();
    let mut real_c = vec![vec![1.0; n]; n];
    let mut synth_c = vec![vec![1.0; n]; n];
    let idx: Vec<(usize, usize)> = (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .collect();
    let rs: Vec<(f64, f64)> = idx
        .par_iter()
        .map(|&(a, b)| {
            (
                pearson(&cols[a].1, &cols[b].1),
                pearson(&cols[a].2, &cols[b].2),
            )
        })
        .collect();
    let mut sum = 0.0;
    let mut counted = 0usize;
    for (&(a, b), &(r, s)) in idx.iter().zip(&rs) {
        real_c[a][b] = r;
        real_c[b][a] = r;
        synth_c[a][b] = s;
        synth_c[b][a] = s;
        if (r - s).is_finite() {
            sum += (r - s).abs();
            counted += 1;
        }
    }
    Ok((
        distances,
        Correlation {
            columns: cols.iter().map(|c| c.0.name.clone()).collect(),
            real: real_c,
            synth: synth_c,
            mean_abs_difference: sum / counted.max(1) as f64,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasserstein_and_ks_on_hand_built_samples() {
        // Identical samples.
        assert_eq!(
            wasserstein_ks(&[1.0, 2.0, 3.0], &[3.0, 1.0, 2.0]),
            (0.0, 0.0)
        );
        // A shift by 2 moves every unit of mass 2 along; the CDFs are apart by 1 at most.
        let (w, ks) = wasserstein_ks(&[0.0, 1.0], &[2.0, 3.0]);
        assert!(
            (w - 2.0).abs() < 1e-12 && (ks - 1.0).abs() < 1e-12,
            "{w} {ks}"
        );
        // {0, 0, 0, 10} against {0, 10, 10, 10}: half the mass moves 10.
        let (w, ks) = wasserstein_ks(&[0.0, 0.0, 0.0, 10.0], &[0.0, 10.0, 10.0, 10.0]);
        assert!(
            (w - 5.0).abs() < 1e-12 && (ks - 0.5).abs() < 1e-12,
            "{w} {ks}"
        );
        // Different sizes: {0, 1} against {0, 0, 1, 1} are one distribution.
        assert_eq!(
            wasserstein_ks(&[0.0, 1.0], &[0.0, 0.0, 1.0, 1.0]),
            (0.0, 0.0)
        );
        assert!(wasserstein_ks(&[], &[1.0]).0.is_nan());
    }

    #[test]
    fn pearson_on_hand_built_columns() {
        let x: Vec<Option<f64>> = (0..10).map(|i| Some(i as f64)).collect();
        let y: Vec<Option<f64>> = (0..10).map(|i| Some(3.0 - 2.0 * i as f64)).collect();
        assert!((pearson(&x, &y) + 1.0).abs() < 1e-12);
        let mut z = y.clone();
        z[0] = None;
        assert!((pearson(&x, &z) + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&x, &[Some(1.0); 10]), 0.0);
        assert_eq!(mean_sd(&[1.0, 3.0]), (2.0, 1.0));
    }
}

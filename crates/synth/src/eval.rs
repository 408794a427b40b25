//! Utility of synthetic data: total-variation distance between marginals.
//!
//! For marginals `p` (real) and `q` (synthetic), each normalised to sum to one,
//! `TVD(p, q) = 1/2 sum_i |p_i - q_i|` (0: identical, 1: disjoint). The mean over every
//! 1-way or 2-way marginal of a set of columns is the figure the MST papers and the
//! NIST challenge report.

use pets::data::EncodedTable;
use rayon::prelude::*;

use crate::error::Result;
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

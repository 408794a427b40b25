//! Marginal total-variation distances over the views: every 1-way and 2-way marginal
//! against the independent and the shuffled baseline, and the k-way marginals of a declared
//! workload (3-way by default).
//!
//! For marginals `p` (real) and `q` (synthetic), each normalised to sum to one,
//! `TVD(p, q) = 1/2 sum_i |p_i - q_i|` (0: identical, 1: disjoint).

use rayon::prelude::*;

use super::association::cramers_v;
use super::views::{View, count, tvd};
use crate::error::{Result, SynthError};

/// What [`super::evaluate`] measures: 1-way and 2-way TVD over the views.
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
    pub pairs: Vec<PairTvd>,
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

/// Cramér's V of one pair of views in the real and the synthetic table.
pub(crate) struct PairAssociation {
    pub a: usize,
    pub b: usize,
    pub real: f64,
    pub synth: f64,
}

/// One pair's figures of [`Evaluation::pairs`]: (view a, view b, TVD, independent TVD, shuffled TVD).
pub type PairTvd = (String, String, f64, f64, f64);

/// A seeded permutation of `0..n` (Fisher-Yates on ChaCha8).
pub(crate) fn permutation(n: usize, seed: u64) -> Vec<u32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut p: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = ((u128::from(rng.next_u64()) * (i as u128 + 1)) >> 64) as usize;
        p.swap(i, j);
    }
    p
}

/// 1-way and 2-way TVD of the views (with the baselines), and Cramér's V of every pair.
pub(crate) fn compare(views: &[View], n_columns: usize) -> (Evaluation, Vec<PairAssociation>) {
    let real_1way: Vec<Vec<u64>> = views
        .par_iter()
        .map(|v| count(&[&v.real], &[v.size()]))
        .collect();
    let one_way: Vec<f64> = views
        .par_iter()
        .zip(&real_1way)
        .map(|(v, p)| tvd(p, &count(&[&v.synth], &[v.size()])))
        .collect();
    let n_real = views.first().map_or(0, |v| v.real.len());
    let perms: Vec<Vec<u32>> = (0..n_columns)
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
    let figures: Vec<(PairTvd, PairAssociation)> = idx
        .par_iter()
        .map(|&(a, b)| {
            let (va, vb) = (&views[a], &views[b]);
            let sizes = [va.size(), vb.size()];
            let p = count(&[&va.real, &vb.real], &sizes);
            let q = count(&[&va.synth, &vb.synth], &sizes);
            let (pa, pb) = (&real_1way[a], &real_1way[b]);
            let n = va.real.len().max(1) as f64;
            let nb = vb.size();
            let independent = 0.5
                * p.iter()
                    .enumerate()
                    .map(|(i, &x)| {
                        let e = pa[i / nb] as f64 * pb[i % nb] as f64 / (n * n);
                        (x as f64 / n - e).abs()
                    })
                    .sum::<f64>();
            let sh = count(&[&shuffled[a], &shuffled[b]], &sizes);
            (
                (
                    va.name.clone(),
                    vb.name.clone(),
                    tvd(&p, &q),
                    independent,
                    tvd(&p, &sh),
                ),
                PairAssociation {
                    a,
                    b,
                    real: cramers_v(&p, sizes[0], sizes[1]),
                    synth: cramers_v(&q, sizes[0], sizes[1]),
                },
            )
        })
        .collect();
    let (pairs, assoc): (Vec<_>, Vec<_>) = figures.into_iter().unzip();
    let mean = |x: &mut dyn Iterator<Item = f64>, n: usize| x.sum::<f64>() / n.max(1) as f64;
    (
        Evaluation {
            views: views.iter().map(|v| v.name.clone()).collect(),
            mean_1way: mean(&mut one_way.iter().copied(), one_way.len()),
            one_way,
            mean_2way: mean(&mut pairs.iter().map(|p| p.2), pairs.len()),
            independent_2way: mean(&mut pairs.iter().map(|p| p.3), pairs.len()),
            shuffled_2way: mean(&mut pairs.iter().map(|p| p.4), pairs.len()),
            pairs,
        },
        assoc,
    )
}

/// Largest workload: the default 3-way workload is every triple of views when there are at
/// most this many, else this many distinct triples drawn with the evaluation's seed.
pub const MAX_DEFAULT_WORKLOAD: usize = 200;

/// Marginals with more cells than this are counted sparsely (sorted keys) rather than in a
/// dense array.
const DENSE_CELLS: u128 = 1 << 22;

/// The TVD of one workload marginal.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WorkloadTvd {
    /// Its views.
    pub views: Vec<String>,
    /// TVD between the real and the synthetic marginal.
    pub tvd: f64,
}

/// The views of each marginal of `workload` (names of views, or of columns: a column with
/// several views, a datetime, stands for all of them), or the default 3-way workload.
pub(crate) fn resolve_workload(
    views: &[View],
    workload: &[Vec<String>],
    seed: u64,
) -> Result<Vec<Vec<usize>>> {
    if workload.is_empty() {
        let n = views.len();
        let all: Vec<Vec<usize>> = (0..n)
            .flat_map(|a| (a + 1..n).flat_map(move |b| (b + 1..n).map(move |c| vec![a, b, c])))
            .collect();
        if all.len() <= MAX_DEFAULT_WORKLOAD {
            return Ok(all);
        }
        let p = permutation(all.len(), seed ^ 0x3_3A11);
        let mut chosen: Vec<Vec<usize>> = p[..MAX_DEFAULT_WORKLOAD]
            .iter()
            .map(|&i| all[i as usize].clone())
            .collect();
        chosen.sort();
        return Ok(chosen);
    }
    workload
        .iter()
        .map(|names| {
            if names.is_empty() {
                return Err(SynthError::invalid(
                    "workload",
                    "[]",
                    "each marginal of the workload names at least one column",
                ));
            }
            let mut out = Vec::new();
            for name in names {
                let hits: Vec<usize> = match views.iter().position(|v| &v.name == name) {
                    Some(i) => vec![i],
                    None => (0..views.len())
                        .filter(|&i| views[i].name.split(':').next() == Some(name.as_str()))
                        .collect(),
                };
                if hits.is_empty() {
                    let known: Vec<&str> = views.iter().map(|v| v.name.as_str()).collect();
                    return Err(SynthError::invalid(
                        "workload",
                        name,
                        format!(
                            "not an evaluated column or view; the views are {}",
                            known.join(", ")
                        ),
                    ));
                }
                for h in hits {
                    if !out.contains(&h) {
                        out.push(h);
                    }
                }
            }
            Ok(out)
        })
        .collect()
}

/// TVD of a marginal over many cells: keys of each row sorted, runs compared.
fn sparse_tvd(real: &[&[u32]], synth: &[&[u32]], sizes: &[usize]) -> f64 {
    let keys = |codes: &[&[u32]]| -> Vec<u128> {
        let n = codes.first().map_or(0, |c| c.len());
        let mut k: Vec<u128> = (0..n)
            .into_par_iter()
            .map(|r| {
                codes
                    .iter()
                    .zip(sizes)
                    .fold(0u128, |acc, (c, &s)| acc * s as u128 + u128::from(c[r]))
            })
            .collect();
        k.par_sort_unstable();
        k
    };
    let (p, q) = (keys(real), keys(synth));
    let (np, nq) = (p.len().max(1) as f64, q.len().max(1) as f64);
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < p.len() || j < q.len() {
        let key = match (p.get(i), q.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        let (i0, j0) = (i, j);
        while p.get(i) == Some(&key) {
            i += 1;
        }
        while q.get(j) == Some(&key) {
            j += 1;
        }
        sum += ((i - i0) as f64 / np - (j - j0) as f64 / nq).abs();
    }
    0.5 * sum
}

/// TVD of every marginal of the workload (view indices).
pub(crate) fn workload_tvd(views: &[View], workload: &[Vec<usize>]) -> Vec<WorkloadTvd> {
    workload
        .par_iter()
        .map(|m| {
            let sizes: Vec<usize> = m.iter().map(|&i| views[i].size()).collect();
            let real: Vec<&[u32]> = m.iter().map(|&i| views[i].real.as_slice()).collect();
            let synth: Vec<&[u32]> = m.iter().map(|&i| views[i].synth.as_slice()).collect();
            let cells: u128 = sizes.iter().map(|&s| s as u128).product();
            let tvd = if cells <= DENSE_CELLS {
                tvd(&count(&real, &sizes), &count(&synth, &sizes))
            } else {
                sparse_tvd(&real, &synth, &sizes)
            };
            WorkloadTvd {
                views: m.iter().map(|&i| views[i].name.clone()).collect(),
                tvd,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(name: &str, real: Vec<u32>, synth: Vec<u32>, size: usize) -> View {
        View {
            name: name.into(),
            column: 0,
            real,
            synth,
            holdout: Vec::new(),
            labels: (0..size).map(|i| i.to_string()).collect(),
        }
    }

    #[test]
    fn three_way_tvd_sees_what_the_pairs_do_not() {
        // a xor b = c in the real table; every pair is independent and uniform, in both.
        let rows: Vec<(u32, u32)> = (0..400).map(|i| (i % 2, (i / 2) % 2)).collect();
        let a: Vec<u32> = rows.iter().map(|r| r.0).collect();
        let b: Vec<u32> = rows.iter().map(|r| r.1).collect();
        let xor: Vec<u32> = rows.iter().map(|r| r.0 ^ r.1).collect();
        let not_xor: Vec<u32> = xor.iter().map(|c| 1 - c).collect();
        let views = vec![
            view("a", a.clone(), a, 2),
            view("b", b.clone(), b, 2),
            view("c", xor, not_xor, 2),
        ];
        let (e, _) = compare(&views, 3);
        assert!(e.mean_1way < 1e-12 && e.mean_2way < 1e-12, "{e:?}");
        let w = resolve_workload(&views, &[], 0).unwrap();
        assert_eq!(w, vec![vec![0, 1, 2]]);
        let t = workload_tvd(&views, &w);
        assert!((t[0].tvd - 1.0).abs() < 1e-12, "{t:?}");
        // The sparse count agrees with the dense one.
        let real: Vec<&[u32]> = views.iter().map(|v| v.real.as_slice()).collect();
        let synth: Vec<&[u32]> = views.iter().map(|v| v.synth.as_slice()).collect();
        assert!((sparse_tvd(&real, &synth, &[2, 2, 2]) - 1.0).abs() < 1e-12);
        let half: Vec<&[u32]> = vec![&views[0].real[..200], &views[1].real[..200]];
        let full: Vec<&[u32]> = vec![&views[0].real, &views[1].real];
        assert!(sparse_tvd(&half, &full, &[2, 2]) < 1e-12);
    }

    #[test]
    fn workload_names_views_or_columns_and_refuses_unknown_names() {
        let v = |n: &str| view(n, vec![0], vec![0], 1);
        let views = vec![
            v("sex"),
            v("arrival:weekday"),
            v("arrival:hour"),
            v("acuity"),
        ];
        let w = resolve_workload(
            &views,
            &[
                vec!["sex".into(), "arrival".into()],
                vec!["arrival:hour".into(), "acuity".into()],
            ],
            0,
        )
        .unwrap();
        assert_eq!(w, vec![vec![0, 1, 2], vec![2, 3]]);
        let e = resolve_workload(&views, &[vec!["nope".into()]], 0).unwrap_err();
        assert!(e.to_string().contains("arrival:hour"), "{e}");
        assert!(resolve_workload(&views, &[vec![]], 0).is_err());
        // Many views: a seeded sample of distinct triples.
        let many: Vec<View> = (0..20).map(|i| v(&format!("c{i}"))).collect();
        let w = resolve_workload(&many, &[], 7).unwrap();
        assert_eq!(w.len(), MAX_DEFAULT_WORKLOAD);
        assert_eq!(w, resolve_workload(&many, &[], 7).unwrap());
        let mut d = w.clone();
        d.dedup();
        assert_eq!(d.len(), w.len());
    }
}

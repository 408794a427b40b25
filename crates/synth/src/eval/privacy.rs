//! Privacy tests of a synthetic table against the real rows it was fitted on (the training
//! rows) and, when there is one, a holdout of rows of the same population it never saw.
//!
//! Rows are compared on their views ([`super::views`]: categories, quantile bins of numbers,
//! weekday and hour of datetimes), by **Hamming distance**: how many views differ.
//!
//! - **Distance to the closest record** (DCR): of a seeded sample of synthetic rows to a
//!   seeded sample of training rows, against the baseline of real rows the sample does not
//!   hold (holdout rows, or without a holdout other real rows) to the same training sample.
//!   A synthesiser that copies records puts its rows closer than fresh real rows are; a 5th
//!   percentile ratio (synthetic over baseline) well below 1 is the warning sign.
//! - **Exact matches**: synthetic rows identical (on every view) to a training row, over the
//!   whole tables (rows hashed); the baseline is the share of holdout rows identical to a
//!   training row (without a holdout: of real rows identical to another real row).
//! - **Membership inference** (needs a holdout): a distance attack guesses that a real row
//!   was a training member when a synthetic row is close to it. The score is the AUC of
//!   `-DCR(row, synthetic)` separating the sampled training rows (members) from the sampled
//!   holdout rows (non-members): 0.5 is chance, 1 is certainty. The DCR of a row is 0 when
//!   the row occurs anywhere in the synthetic table (hashed), else its distance to a seeded
//!   sample of synthetic rows.
//!
//! Samples hold at most `sample_rows` rows each (10,000 by default): the nearest neighbours
//! are found by brute force, in parallel, `sample_rows^2` comparisons of a few dozen 16-bit
//! codes per test.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use rayon::prelude::*;

use super::marginals::permutation;
use super::utility::auc;
use super::views::View;

/// The privacy tests' figures.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Privacy {
    /// Views compared (the largest Hamming distance).
    pub views: usize,
    /// Rows of each sample (training reference, synthetic queries, baseline queries).
    pub sample_rows: usize,
    /// The baseline's rows: `holdout`, or `real` (real rows outside the training sample).
    pub baseline: String,
    /// Histogram of DCR, synthetic sample to training sample: entry `d` counts rows at
    /// Hamming distance `d` (0 to `views`).
    pub dcr_synth: Vec<u64>,
    /// Histogram of DCR, baseline sample to training sample.
    pub dcr_baseline: Vec<u64>,
    /// Mean DCR of the synthetic sample.
    pub dcr_synth_mean: f64,
    /// Mean DCR of the baseline sample.
    pub dcr_baseline_mean: f64,
    /// 5th percentile of the synthetic sample's DCR.
    pub dcr_synth_p5: u32,
    /// 5th percentile of the baseline's DCR.
    pub dcr_baseline_p5: u32,
    /// `dcr_synth_p5 / dcr_baseline_p5` (none when the baseline's is 0): below 1, the
    /// synthetic rows sit closer to training rows than fresh real rows do.
    pub dcr_p5_ratio: Option<f64>,
    /// Share of the synthetic sample at distance 0 from a training row of the sample.
    pub dcr_synth_zero_share: f64,
    /// Share of the baseline sample at distance 0.
    pub dcr_baseline_zero_share: f64,
    /// Synthetic rows identical to a training row (whole tables).
    pub exact_matches: u64,
    /// `exact_matches` over the synthetic rows.
    pub exact_match_share: f64,
    /// Holdout rows identical to a training row (without a holdout: real rows identical to
    /// another real row).
    pub baseline_exact_matches: u64,
    /// `baseline_exact_matches` over the rows it counts.
    pub baseline_exact_match_share: f64,
    /// AUC of the distance-based membership-inference attack (none without a holdout).
    pub mia_auc: Option<f64>,
    /// Rows the attack scored (members and non-members).
    pub mia_rows: usize,
}

/// Row-major 16-bit codes of `rows` of a table (views' codes, `pick` choosing the table).
fn matrix(views: &[View], pick: impl Fn(&View) -> &[u32], rows: &[u32]) -> Vec<u16> {
    let d = views.len();
    let mut out = vec![0u16; rows.len() * d];
    for (k, v) in views.iter().enumerate() {
        let codes = pick(v);
        for (i, &r) in rows.iter().enumerate() {
            out[i * d + k] = codes[r as usize] as u16;
        }
    }
    out
}

/// Hamming distance from each row of `queries` to its nearest row of `reference` (both
/// row-major, `d` codes a row); `d` when the reference is empty.
pub(crate) fn nearest(queries: &[u16], reference: &[u16], d: usize) -> Vec<u32> {
    if d == 0 {
        return vec![0; queries.len()];
    }
    queries
        .par_chunks_exact(d)
        .map(|q| {
            let mut best = d as u32;
            for r in reference.chunks_exact(d) {
                let dist: u32 = q.iter().zip(r).map(|(a, b)| u32::from(a != b)).sum();
                if dist < best {
                    best = dist;
                    if best == 0 {
                        break;
                    }
                }
            }
            best
        })
        .collect()
}

/// 64-bit hash of each row of a table's views.
fn row_hashes(views: &[View], pick: impl Fn(&View) -> &[u32] + Sync) -> Vec<u64> {
    let n = views.first().map_or(0, |v| pick(v).len());
    (0..n)
        .into_par_iter()
        .map(|r| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            for v in views {
                pick(v)[r].hash(&mut h);
            }
            h.finish()
        })
        .collect()
}

fn histogram(d: &[u32], max: usize) -> Vec<u64> {
    let mut h = vec![0u64; max + 1];
    for &x in d {
        h[(x as usize).min(max)] += 1;
    }
    h
}

fn percentile(d: &[u32], p: f64) -> u32 {
    let mut s = d.to_vec();
    s.sort_unstable();
    s.get(((s.len() as f64 * p).floor() as usize).min(s.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0)
}

fn mean(d: &[u32]) -> f64 {
    d.iter().map(|&x| f64::from(x)).sum::<f64>() / d.len().max(1) as f64
}

fn zero_share(d: &[u32]) -> f64 {
    d.iter().filter(|&&x| x == 0).count() as f64 / d.len().max(1) as f64
}

fn sorted(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v
}

/// Every privacy test over `views` (training rows = `real`), samples of at most
/// `sample_rows` rows drawn with `seed`.
pub(crate) fn compare(views: &[View], sample_rows: usize, seed: u64) -> Privacy {
    let d = views.len();
    let n_real = views.first().map_or(0, |v| v.real.len());
    let n_synth = views.first().map_or(0, |v| v.synth.len());
    let n_holdout = views.first().map_or(0, |v| v.holdout.len());
    let has_holdout = n_holdout > 0;
    let real_order = permutation(n_real, seed ^ 0xDC12);
    // The training sample, and the baseline's rows: holdout rows, or other real rows.
    let (train_rows, baseline_rows) = if has_holdout {
        let h = permutation(n_holdout, seed ^ 0x401D);
        (
            sorted(real_order[..sample_rows.min(n_real)].to_vec()),
            sorted(h[..sample_rows.min(n_holdout)].to_vec()),
        )
    } else {
        let k = sample_rows.min(n_real / 2);
        (
            sorted(real_order[..k].to_vec()),
            sorted(real_order[k..2 * k].to_vec()),
        )
    };
    let synth_rows =
        sorted(permutation(n_synth, seed ^ 0x5E7)[..sample_rows.min(n_synth)].to_vec());
    let train = matrix(views, |v| &v.real, &train_rows);
    let synth = matrix(views, |v| &v.synth, &synth_rows);
    let baseline = if has_holdout {
        matrix(views, |v| &v.holdout, &baseline_rows)
    } else {
        matrix(views, |v| &v.real, &baseline_rows)
    };
    let dcr_synth = nearest(&synth, &train, d);
    let dcr_base = nearest(&baseline, &train, d);

    // Exact matches over the whole tables.
    let real_h = row_hashes(views, |v| &v.real);
    let synth_h = row_hashes(views, |v| &v.synth);
    let real_set: HashSet<u64> = real_h.iter().copied().collect();
    let exact = synth_h.par_iter().filter(|h| real_set.contains(h)).count() as u64;
    let (base_exact, base_rows) = if has_holdout {
        let hold_h = row_hashes(views, |v| &v.holdout);
        (
            hold_h.par_iter().filter(|h| real_set.contains(h)).count() as u64,
            hold_h.len(),
        )
    } else {
        let mut counts: HashMap<u64, u32> = HashMap::with_capacity(real_h.len());
        for &h in &real_h {
            *counts.entry(h).or_default() += 1;
        }
        (
            real_h.iter().filter(|h| counts[h] > 1).count() as u64,
            real_h.len(),
        )
    };

    // Membership inference: training sample (members) against holdout sample.
    let mia_auc = has_holdout.then(|| {
        let synth_set: HashSet<u64> = synth_h.iter().copied().collect();
        let hold_h = row_hashes(views, |v| &v.holdout);
        let to_synth = |m: &[u16], rows: &[u32], hashes: &[u64]| -> Vec<u32> {
            let near = nearest(m, &synth, d);
            rows.iter()
                .zip(near)
                .map(|(&r, x)| {
                    if synth_set.contains(&hashes[r as usize]) {
                        0
                    } else {
                        x
                    }
                })
                .collect()
        };
        let members = to_synth(&train, &train_rows, &real_h);
        let others = to_synth(&baseline, &baseline_rows, &hold_h);
        let scores: Vec<f64> = members
            .iter()
            .chain(&others)
            .map(|&x| -f64::from(x))
            .collect();
        let y: Vec<bool> = (0..scores.len()).map(|i| i < members.len()).collect();
        auc(&scores, &y)
    });
    let (p5s, p5b) = (percentile(&dcr_synth, 0.05), percentile(&dcr_base, 0.05));
    Privacy {
        views: d,
        sample_rows: train_rows.len(),
        baseline: if has_holdout { "holdout" } else { "real" }.into(),
        dcr_synth: histogram(&dcr_synth, d),
        dcr_baseline: histogram(&dcr_base, d),
        dcr_synth_mean: mean(&dcr_synth),
        dcr_baseline_mean: mean(&dcr_base),
        dcr_synth_p5: p5s,
        dcr_baseline_p5: p5b,
        dcr_p5_ratio: (p5b > 0).then(|| f64::from(p5s) / f64::from(p5b)),
        dcr_synth_zero_share: zero_share(&dcr_synth),
        dcr_baseline_zero_share: zero_share(&dcr_base),
        exact_matches: exact,
        exact_match_share: exact as f64 / n_synth.max(1) as f64,
        baseline_exact_matches: base_exact,
        baseline_exact_match_share: base_exact as f64 / base_rows.max(1) as f64,
        mia_auc,
        mia_rows: if has_holdout {
            train_rows.len() + baseline_rows.len()
        } else {
            0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(name: &str, real: Vec<u32>, synth: Vec<u32>, holdout: Vec<u32>, size: usize) -> View {
        View {
            name: name.into(),
            column: 0,
            real,
            synth,
            holdout,
            labels: (0..size).map(|i| i.to_string()).collect(),
        }
    }

    #[test]
    fn nearest_is_the_hamming_distance_to_the_closest_row() {
        let reference = [0u16, 0, 0, 1, 1, 1];
        let queries = [0u16, 0, 1, 1, 1, 1, 2, 2, 2];
        assert_eq!(nearest(&queries, &reference, 3), vec![1, 0, 3]);
        assert_eq!(nearest(&queries, &[], 3), vec![3, 3, 3]);
        assert_eq!(percentile(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 0.05), 0);
        assert_eq!(percentile(&[5; 20], 0.05), 5);
        assert_eq!(histogram(&[0, 2, 2, 3], 3), vec![1, 0, 2, 1]);
    }

    /// Rows that differ in every one of 6 views of 2,000 values (row i, view k: code
    /// `(i * m_k + k) % 2000`, `m_k` prime to 2000): training = 0..500, holdout = 500..1000.
    fn unique_rows(range: std::ops::Range<u32>, k: u32) -> Vec<u32> {
        let m = [1, 3, 7, 9, 11, 13][k as usize];
        range.map(|i| (i * m + k) % 2_000).collect()
    }

    #[test]
    fn a_copy_of_the_training_rows_is_caught_and_fresh_rows_are_not() {
        let views_of = |synth: &dyn Fn(u32) -> Vec<u32>| -> Vec<View> {
            (0..6)
                .map(|k| {
                    view(
                        &format!("c{k}"),
                        unique_rows(0..500, k),
                        synth(k),
                        unique_rows(500..1_000, k),
                        2_000,
                    )
                })
                .collect()
        };
        // The copy.
        let copy = views_of(&|k| unique_rows(0..500, k));
        let p = compare(&copy, 10_000, 1);
        assert_eq!(p.exact_matches, 500);
        assert_eq!(p.exact_match_share, 1.0);
        assert_eq!(p.baseline_exact_matches, 0);
        assert_eq!(p.dcr_synth[0], 500);
        assert_eq!(p.dcr_synth_p5, 0);
        assert!(p.dcr_baseline_p5 > 0);
        assert_eq!(p.dcr_p5_ratio, Some(0.0));
        assert_eq!(p.mia_auc, Some(1.0));
        assert_eq!(p.mia_rows, 1_000);
        // Fresh rows of the same kind (neither training nor holdout): nothing to find.
        let fresh = views_of(&|k| unique_rows(1_000..1_500, k));
        let p = compare(&fresh, 10_000, 1);
        assert_eq!(p.exact_matches, 0);
        assert!(p.dcr_p5_ratio.unwrap() >= 0.99, "{p:?}");
        let a = p.mia_auc.unwrap();
        assert!((a - 0.5).abs() < 0.05, "{a}");
        // Samples: at most sample_rows rows each, the same for the same seed.
        let q = compare(&fresh, 100, 1);
        assert_eq!(q.sample_rows, 100);
        assert_eq!(q.dcr_synth.iter().sum::<u64>(), 100);
        assert_eq!(q, compare(&fresh, 100, 1));
    }

    #[test]
    fn without_a_holdout_the_baseline_is_other_real_rows_and_there_is_no_attack() {
        let views: Vec<View> = (0..3)
            .map(|k| {
                view(
                    &format!("c{k}"),
                    // Rows repeat every 100: each real row has 9 duplicates.
                    (0..1_000).map(|i| (i % 100) * (k + 1) % 1_000).collect(),
                    (0..50).map(|i| i * (k + 1)).collect(),
                    Vec::new(),
                    1_000,
                )
            })
            .collect();
        let p = compare(&views, 200, 3);
        assert_eq!(p.baseline, "real");
        assert_eq!(p.mia_auc, None);
        assert_eq!(p.sample_rows, 200);
        assert_eq!(p.baseline_exact_matches, 1_000);
        assert_eq!(p.exact_matches, 50);
    }
}

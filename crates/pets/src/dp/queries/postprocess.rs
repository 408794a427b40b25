//! Post-processing of noisy counts: free of privacy cost (any function of a DP release is
//! DP with the same guarantee; Dwork & Roth 2014, Prop. 2.1), but it changes accuracy.
//!
//! - [`non_negative`]: negative noisy counts set to zero (biases small cells upwards);
//! - [`project_to_total`]: the closest non-negative vector (Euclidean) summing to a given
//!   total (Duchi, Shalev-Shwartz, Singer & Chandra 2008, simplex projection);
//! - [`round_to_total`]: integers summing exactly to the total (largest remainders);
//! - [`consistent_counts`]: all three, for tables whose cells must add up to a released total.

/// Set negative counts to zero.
pub fn non_negative(counts: &mut [i64]) {
    counts.iter_mut().for_each(|c| *c = (*c).max(0));
}

/// Euclidean projection of `values` onto `{x >= 0, sum x = total}` (`total >= 0`).
pub fn project_to_total(values: &[f64], total: f64) -> Vec<f64> {
    if values.is_empty() {
        return Vec::new();
    }
    if total <= 0.0 || total.is_nan() {
        return vec![0.0; values.len()];
    }
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let mut cum = 0.0;
    let mut theta = 0.0;
    for (i, &v) in sorted.iter().enumerate() {
        cum += v;
        let t = (cum - total) / (i + 1) as f64;
        if v - t > 0.0 {
            theta = t;
        } else {
            break;
        }
    }
    values.iter().map(|&v| (v - theta).max(0.0)).collect()
}

/// Round non-negative `values` to integers summing exactly to `total` (floors, then one
/// more to the largest fractional parts; ties by position).
pub fn round_to_total(values: &[f64], total: i64) -> Vec<i64> {
    let mut out: Vec<i64> = values.iter().map(|v| v.max(0.0).floor() as i64).collect();
    let mut short = total - out.iter().sum::<i64>();
    if short <= 0 || values.is_empty() {
        return out;
    }
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| {
        let fa = values[a] - values[a].floor();
        let fb = values[b] - values[b].floor();
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    let mut i = 0;
    while short > 0 {
        out[order[i % order.len()]] += 1;
        short -= 1;
        i += 1;
    }
    out
}

/// Non-negative integer counts summing to `total` (or, when `None`, to the non-negative
/// sum of the noisy counts), as close as possible to `noisy`.
pub fn consistent_counts(noisy: &[i64], total: Option<i64>) -> Vec<i64> {
    let total = total.unwrap_or_else(|| noisy.iter().sum::<i64>()).max(0);
    let v: Vec<f64> = noisy.iter().map(|&c| c as f64).collect();
    let p = project_to_total(&v, total as f64);
    round_to_total(&p, total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn projection_examples() {
        assert_eq!(
            project_to_total(&[3.0, -1.0, 2.0], 5.0),
            vec![3.0, 0.0, 2.0]
        );
        let p = project_to_total(&[3.0, -1.0, 2.0], 3.0);
        assert!((p[0] - 2.0).abs() < 1e-12 && p[1] == 0.0 && (p[2] - 1.0).abs() < 1e-12);
        assert_eq!(
            consistent_counts(&[5, -3, 2, 0], Some(10))
                .iter()
                .sum::<i64>(),
            10
        );
    }

    proptest! {
        #[test]
        fn consistent_counts_add_up(noisy in prop::collection::vec(-50i64..200, 1..40), total in 0i64..5000) {
            let c = consistent_counts(&noisy, Some(total));
            prop_assert!(c.iter().all(|&x| x >= 0));
            prop_assert_eq!(c.iter().sum::<i64>(), total);
            let c = consistent_counts(&noisy, None);
            prop_assert!(c.iter().all(|&x| x >= 0));
            prop_assert_eq!(c.iter().sum::<i64>(), noisy.iter().sum::<i64>().max(0));
        }
    }
}

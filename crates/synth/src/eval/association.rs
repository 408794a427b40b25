//! Association between views: Cramér's V of every pair in the real and the synthetic table,
//! and their differences.
//!
//! `V = sqrt(chi2 / (n * (min(r, c) - 1)))` over the `r` rows and `c` columns of the
//! contingency table that hold any record (0: independent, 1: each determines the other).
//! It applies to every kind of column through its views (numbers by quantile bins), so one
//! heatmap shows every column's associations.

use super::marginals::PairAssociation;

/// Cramér's V of a dense `ra x rb` contingency table (row-major). 0 when a side has fewer
/// than two occupied values, or the table is empty.
pub fn cramers_v(counts: &[u64], ra: usize, rb: usize) -> f64 {
    let mut rows = vec![0u64; ra];
    let mut cols = vec![0u64; rb];
    for (i, &x) in counts.iter().enumerate() {
        rows[i / rb] += x;
        cols[i % rb] += x;
    }
    let n: u64 = rows.iter().sum();
    let (r, c) = (
        rows.iter().filter(|&&x| x > 0).count(),
        cols.iter().filter(|&&x| x > 0).count(),
    );
    let k = r.min(c);
    if n == 0 || k < 2 {
        return 0.0;
    }
    let n = n as f64;
    let mut chi2 = 0.0;
    for (i, &ri) in rows.iter().enumerate() {
        if ri == 0 {
            continue;
        }
        for (j, &cj) in cols.iter().enumerate() {
            if cj == 0 {
                continue;
            }
            let e = ri as f64 * cj as f64 / n;
            let d = counts[i * rb + j] as f64 - e;
            chi2 += d * d / e;
        }
    }
    (chi2 / (n * (k - 1) as f64)).sqrt().min(1.0)
}

/// Cramér's V between every pair of views, real and synthetic.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Association {
    /// The views, in the order of the matrices' rows and columns.
    pub views: Vec<String>,
    /// Cramér's V of the real table (symmetric, 1 on the diagonal).
    pub real: Vec<Vec<f64>>,
    /// Cramér's V of the synthetic table.
    pub synth: Vec<Vec<f64>>,
    /// Mean of `|V_real - V_synth|` over the pairs.
    pub mean_abs_difference: f64,
    /// The largest `|V_real - V_synth|`, and its pair.
    pub max_abs_difference: f64,
    /// The pair of that largest difference.
    pub worst_pair: Option<(String, String)>,
}

impl Association {
    pub(crate) fn new(views: Vec<String>, pairs: &[PairAssociation]) -> Association {
        let n = views.len();
        let mut real = vec![vec![0.0; n]; n];
        let mut synth = vec![vec![0.0; n]; n];
        for i in 0..n {
            real[i][i] = 1.0;
            synth[i][i] = 1.0;
        }
        let (mut sum, mut max, mut worst) = (0.0, 0.0f64, None);
        for p in pairs {
            real[p.a][p.b] = p.real;
            real[p.b][p.a] = p.real;
            synth[p.a][p.b] = p.synth;
            synth[p.b][p.a] = p.synth;
            let d = (p.real - p.synth).abs();
            sum += d;
            if worst.is_none() || d > max {
                max = d;
                worst = Some((views[p.a].clone(), views[p.b].clone()));
            }
        }
        Association {
            mean_abs_difference: sum / pairs.len().max(1) as f64,
            max_abs_difference: max,
            worst_pair: worst,
            views,
            real,
            synth,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cramers_v_on_hand_built_tables() {
        // Independent: every cell the product of its margins.
        assert!(cramers_v(&[10, 20, 30, 60], 2, 2) < 1e-12);
        // Perfect association, 2x2 and 3x3 (with an empty row and column ignored).
        assert!((cramers_v(&[50, 0, 0, 50], 2, 2) - 1.0).abs() < 1e-12);
        let t = [30, 0, 0, 0, 0, 20, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0];
        assert!((cramers_v(&t, 4, 4) - 1.0).abs() < 1e-12);
        // 2x2 [[a, b], [c, d]]: V = |ad - bc| / sqrt((a+b)(c+d)(a+c)(b+d)).
        let (a, b, c, d): (f64, f64, f64, f64) = (30.0, 10.0, 20.0, 40.0);
        let phi = (a * d - b * c).abs() / ((a + b) * (c + d) * (a + c) * (b + d)).sqrt();
        assert!((cramers_v(&[30, 10, 20, 40], 2, 2) - phi).abs() < 1e-12);
        // Degenerate: one occupied row, or nothing.
        assert_eq!(cramers_v(&[5, 7, 0, 0], 2, 2), 0.0);
        assert_eq!(cramers_v(&[0, 0, 0, 0], 2, 2), 0.0);
    }

    #[test]
    fn matrices_are_symmetric_and_the_worst_pair_is_named() {
        let pairs = [
            PairAssociation {
                a: 0,
                b: 1,
                real: 0.5,
                synth: 0.4,
            },
            PairAssociation {
                a: 0,
                b: 2,
                real: 0.1,
                synth: 0.4,
            },
            PairAssociation {
                a: 1,
                b: 2,
                real: 0.2,
                synth: 0.2,
            },
        ];
        let a = Association::new(vec!["x".into(), "y".into(), "z".into()], &pairs);
        assert_eq!(a.real[2][0], 0.1);
        assert_eq!(a.synth[1][0], 0.4);
        assert_eq!(a.real[1][1], 1.0);
        assert!((a.mean_abs_difference - 0.4 / 3.0).abs() < 1e-12);
        assert!((a.max_abs_difference - 0.3).abs() < 1e-12);
        assert_eq!(a.worst_pair, Some(("x".into(), "z".into())));
    }
}

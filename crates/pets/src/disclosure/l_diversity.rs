//! l-diversity (Machanavajjhala, Kifer, Gehrke, Venkitasubramaniam 2007, "l-diversity:
//! privacy beyond k-anonymity", ACM TKDD 1(1)).
//!
//! For each equivalence class, with `r_1 >= r_2 >= ... >= r_m` the counts of the sensitive
//! values present in it:
//! - **distinct l-diversity**: the class holds at least `l` distinct sensitive values;
//! - **entropy l-diversity**: `H = -sum p_i ln p_i >= ln l`, i.e. `exp(H) >= l`;
//! - **recursive (c,l)-diversity**: `r_1 < c (r_l + r_{l+1} + ... + r_m)`.
//!
//! The table's distinct l is the minimum over classes of the distinct count, its entropy l
//! the minimum of `exp(H)`, and the smallest `c` for which it is recursive (c,l)-diverse is
//! just above `max r_1 / (r_l + ... + r_m)` (infinite when a class has fewer than `l`
//! values).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::classes::EquivalenceClasses;

/// Errors of the l-diversity measures.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LDiversityError {
    /// The classes were computed without a sensitive attribute.
    #[error(
        "l-diversity needs a sensitive attribute; compute the classes with one \
         (e.g. --sensitive diagnosis_group)"
    )]
    NoSensitive,
    /// `l` below 1.
    #[error("l must be at least 1 (got {l}); l = 2 or 3 is usual")]
    InvalidL {
        /// The value given.
        l: u64,
    },
    /// `c` not a positive finite number.
    #[error("c must be a positive number for recursive (c,l)-diversity (got {c})")]
    InvalidC {
        /// The value given.
        c: f64,
    },
}

/// Recursive (c,l)-diversity of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecursiveCl {
    /// The `l` used.
    pub l: u64,
    /// The `c` checked against.
    pub c: f64,
    /// `max over classes of r_1 / (r_l + ... + r_m)`: the table is recursive (c,l)-diverse
    /// for every `c` above this. `None` when some class has fewer than `l` distinct values
    /// (no `c` works).
    pub max_ratio: Option<f64>,
    /// Classes with `r_1 >= c (r_l + ... + r_m)`.
    pub failing_classes: u64,
    /// Records in those classes.
    pub failing_records: u64,
}

/// l-diversity of a set of classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LDiversity {
    /// The threshold `l` checked against (distinct and entropy).
    pub threshold: u64,
    /// Smallest number of distinct sensitive values in a class.
    pub distinct_l: u64,
    /// Smallest `exp(H)` over classes (natural logarithm): the table's entropy l.
    pub entropy_l: f64,
    /// Classes with fewer than `threshold` distinct sensitive values.
    pub distinct_failing_classes: u64,
    /// Records in those classes.
    pub distinct_failing_records: u64,
    /// Classes with `exp(H) < threshold`.
    pub entropy_failing_classes: u64,
    /// Records in those classes.
    pub entropy_failing_records: u64,
    /// Recursive (c,l)-diversity with `l = threshold`.
    pub recursive: RecursiveCl,
}

/// Per-class l-diversity figures: (distinct values, exp(entropy), r_1 / tail).
pub fn class_diversity(counts: &[u32], size: u64, l: u64) -> (u64, f64, Option<f64>) {
    let distinct = counts.iter().filter(|&&n| n > 0).count() as u64;
    let total = size as f64;
    let h: f64 = counts
        .iter()
        .filter(|&&n| n > 0)
        .map(|&n| {
            let p = n as f64 / total;
            -p * p.ln()
        })
        .sum();
    // r_1 and the tail r_l + ... + r_m = size - (r_1 + ... + r_{l-1}), keeping only the
    // l - 1 largest counts (no allocation for l <= 17).
    let l = l.max(1) as usize;
    let top_n = l - 1;
    let (max, top_sum) = if top_n <= 16 {
        let mut top = [0u64; 16];
        let mut max = 0u64;
        for n in counts.iter().filter(|&&n| n > 0).map(|&n| u64::from(n)) {
            max = max.max(n);
            if top_n > 0 && n > top[top_n - 1] {
                let mut i = top_n - 1;
                while i > 0 && top[i - 1] < n {
                    top[i] = top[i - 1];
                    i -= 1;
                }
                top[i] = n;
            }
        }
        (max, top[..top_n].iter().sum::<u64>())
    } else {
        let mut sorted: Vec<u64> = counts
            .iter()
            .filter(|&&n| n > 0)
            .map(|&n| u64::from(n))
            .collect();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        (
            sorted.first().copied().unwrap_or(0),
            sorted.iter().take(top_n).sum::<u64>(),
        )
    };
    let total_count: u64 = counts.iter().map(|&n| u64::from(n)).sum();
    let tail = total_count - top_sum;
    let ratio = if tail == 0 || max == 0 {
        None
    } else {
        Some(max as f64 / tail as f64)
    };
    (distinct, h.exp(), ratio)
}

/// Measure l-diversity (Machanavajjhala et al. 2007) against `l` (distinct, entropy and
/// recursive (c,l) with this `l`) and `c`.
pub fn l_diversity(
    classes: &EquivalenceClasses,
    l: u64,
    c: f64,
) -> Result<LDiversity, LDiversityError> {
    if !classes.has_sensitive() {
        return Err(LDiversityError::NoSensitive);
    }
    if l < 1 {
        return Err(LDiversityError::InvalidL { l });
    }
    if !(c.is_finite() && c > 0.0) {
        return Err(LDiversityError::InvalidC { c });
    }
    #[derive(Clone, Copy)]
    struct Acc {
        distinct: u64,
        entropy: f64,
        ratio: Option<f64>,
        no_ratio: bool,
        d_fc: u64,
        d_fr: u64,
        e_fc: u64,
        e_fr: u64,
        r_fc: u64,
        r_fr: u64,
    }
    let id = Acc {
        distinct: u64::MAX,
        entropy: f64::INFINITY,
        ratio: None,
        no_ratio: false,
        d_fc: 0,
        d_fr: 0,
        e_fc: 0,
        e_fr: 0,
        r_fc: 0,
        r_fr: 0,
    };
    let lf = l as f64;
    let acc = classes
        .par_iter()
        .fold(
            || id,
            |mut a, cl| {
                let (d, e, r) = class_diversity(cl.sensitive_counts, cl.size, l);
                a.distinct = a.distinct.min(d);
                a.entropy = a.entropy.min(e);
                if d < l {
                    a.d_fc += 1;
                    a.d_fr += cl.size;
                }
                if e < lf * (1.0 - 1e-12) {
                    a.e_fc += 1;
                    a.e_fr += cl.size;
                }
                match r {
                    Some(r) => {
                        a.ratio = Some(a.ratio.map_or(r, |x: f64| x.max(r)));
                        if r >= c {
                            a.r_fc += 1;
                            a.r_fr += cl.size;
                        }
                    }
                    None => {
                        a.no_ratio = true;
                        a.r_fc += 1;
                        a.r_fr += cl.size;
                    }
                }
                a
            },
        )
        .reduce(
            || id,
            |a, b| Acc {
                distinct: a.distinct.min(b.distinct),
                entropy: a.entropy.min(b.entropy),
                ratio: match (a.ratio, b.ratio) {
                    (Some(x), Some(y)) => Some(x.max(y)),
                    (x, None) => x,
                    (None, y) => y,
                },
                no_ratio: a.no_ratio || b.no_ratio,
                d_fc: a.d_fc + b.d_fc,
                d_fr: a.d_fr + b.d_fr,
                e_fc: a.e_fc + b.e_fc,
                e_fr: a.e_fr + b.e_fr,
                r_fc: a.r_fc + b.r_fc,
                r_fr: a.r_fr + b.r_fr,
            },
        );
    let empty = classes.n_classes() == 0;
    Ok(LDiversity {
        threshold: l,
        distinct_l: if empty { 0 } else { acc.distinct },
        entropy_l: if empty { 0.0 } else { acc.entropy },
        distinct_failing_classes: acc.d_fc,
        distinct_failing_records: acc.d_fr,
        entropy_failing_classes: acc.e_fc,
        entropy_failing_records: acc.e_fr,
        recursive: RecursiveCl {
            l,
            c,
            max_ratio: if acc.no_ratio { None } else { acc.ratio },
            failing_classes: acc.r_fc,
            failing_records: acc.r_fr,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disclosure::testutil::{cat, int, table};

    fn sample() -> EquivalenceClasses {
        // class age=0: s = [0,0,1,2] ; class age=1: s = [1,1,1] ; class age=2: s=[0,1]
        let t = table(vec![
            int("age", 3, &[0, 0, 0, 0, 1, 1, 1, 2, 2]),
            cat("s", 3, &[0, 0, 1, 2, 1, 1, 1, 0, 1]),
        ]);
        EquivalenceClasses::compute(&t, &["age"], Some("s")).unwrap()
    }

    #[test]
    fn hand_computed() {
        let c = sample();
        let l = l_diversity(&c, 2, 3.0).unwrap();
        assert_eq!(l.distinct_l, 1);
        assert_eq!(
            (l.distinct_failing_classes, l.distinct_failing_records),
            (1, 3)
        );
        // entropy of the single-valued class is 0 -> exp = 1
        assert!((l.entropy_l - 1.0).abs() < 1e-12);
        assert_eq!(
            (l.entropy_failing_classes, l.entropy_failing_records),
            (1, 3)
        );
        // recursive with l=2: class0 r=(2,1,1) ratio 2/2=1; class1 none; class2 (1,1) -> 1
        assert_eq!(l.recursive.max_ratio, None);
        assert_eq!(l.recursive.failing_classes, 1);
    }

    #[test]
    fn entropy_and_recursive_values() {
        let (d, e, r) = class_diversity(&[2, 1, 1], 4, 2);
        assert_eq!(d, 3);
        let h = -(0.5f64 * 0.5f64.ln() + 2.0 * 0.25 * 0.25f64.ln());
        assert!((e - h.exp()).abs() < 1e-12);
        assert_eq!(r, Some(1.0));
        let (_, _, r3) = class_diversity(&[5, 3, 1, 1], 10, 3);
        assert_eq!(r3, Some(2.5));
        let (_, _, r4) = class_diversity(&[5, 3], 8, 3);
        assert_eq!(r4, None);
    }

    #[test]
    fn recursive_pass_and_fail() {
        let t = table(vec![
            int("age", 2, &[0, 0, 0, 0, 1, 1, 1, 1]),
            cat("s", 3, &[0, 0, 1, 2, 0, 1, 2, 2]),
        ]);
        let c = EquivalenceClasses::compute(&t, &["age"], Some("s")).unwrap();
        let l = l_diversity(&c, 2, 2.0).unwrap();
        assert_eq!(l.distinct_l, 3);
        assert_eq!(l.recursive.max_ratio, Some(1.0));
        assert_eq!(l.recursive.failing_classes, 0);
        let l = l_diversity(&c, 2, 1.0).unwrap();
        assert_eq!(l.recursive.failing_classes, 2);
    }

    #[test]
    fn errors() {
        let c = sample();
        assert_eq!(
            l_diversity(&c, 0, 1.0).unwrap_err(),
            LDiversityError::InvalidL { l: 0 }
        );
        assert!(matches!(
            l_diversity(&c, 2, -1.0),
            Err(LDiversityError::InvalidC { .. })
        ));
        let t = table(vec![int("age", 3, &[0])]);
        let c = EquivalenceClasses::compute(&t, &["age"], None).unwrap();
        assert_eq!(
            l_diversity(&c, 2, 1.0).unwrap_err(),
            LDiversityError::NoSensitive
        );
    }
}

//! Basic beta-likeness (Cao & Karras 2012, "Publishing microdata with a robust privacy
//! guarantee", PVLDB 5(11)).
//!
//! With `q_s` the share of sensitive value `s` in the table and `p_s` its share in an
//! equivalence class, the class satisfies basic beta-likeness when for every `s` with
//! `p_s > q_s`, the relative difference `(p_s - q_s) / q_s <= beta`. The table's beta is the
//! largest such relative difference (0 when every class matches the table).

use serde::{Deserialize, Serialize};

use super::classes::EquivalenceClasses;

/// Errors of the beta-likeness measure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BetaLikenessError {
    /// No sensitive attribute.
    #[error("beta-likeness needs a sensitive attribute; compute the classes with one")]
    NoSensitive,
    /// `beta` not a positive number.
    #[error("beta must be a positive number (got {beta})")]
    InvalidBeta {
        /// The value given.
        beta: f64,
    },
}

/// Basic beta-likeness of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BetaLikeness {
    /// The table's beta: the largest relative gain `(p - q) / q`.
    pub beta: f64,
    /// The threshold checked against.
    pub threshold: f64,
    /// Classes exceeding it.
    pub failing_classes: u64,
    /// Records in those classes.
    pub failing_records: u64,
}

/// Largest relative gain `(p_s - q_s) / q_s` of one class (0 if none is positive).
pub fn class_beta(codes: &[u32], counts: &[u32], size: u64, q: &[f64]) -> f64 {
    codes
        .iter()
        .zip(counts)
        .map(|(&s, &n)| {
            let qs = q[s as usize];
            (n as f64 / size as f64 - qs) / qs
        })
        .fold(0.0f64, f64::max)
}

/// Measure basic beta-likeness (Cao & Karras 2012) against threshold `beta`.
pub fn beta_likeness(
    classes: &EquivalenceClasses,
    beta: f64,
) -> Result<BetaLikeness, BetaLikenessError> {
    if !classes.has_sensitive() {
        return Err(BetaLikenessError::NoSensitive);
    }
    if !(beta.is_finite() && beta > 0.0) {
        return Err(BetaLikenessError::InvalidBeta { beta });
    }
    let n = classes.n_records().max(1) as f64;
    let q: Vec<f64> = classes
        .sensitive_totals()
        .iter()
        .map(|&k| k as f64 / n)
        .collect();
    let mut max = 0.0f64;
    let (mut fc, mut fr) = (0, 0);
    for c in classes.iter() {
        let b = class_beta(c.sensitive_codes, c.sensitive_counts, c.size, &q);
        max = max.max(b);
        if b > beta + 1e-12 {
            fc += 1;
            fr += c.size;
        }
    }
    Ok(BetaLikeness {
        beta: max,
        threshold: beta,
        failing_classes: fc,
        failing_records: fr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disclosure::testutil::{cat, int, table};

    #[test]
    fn hand_computed() {
        // table: s0 x4, s1 x2 -> q = (2/3, 1/3). class0 = [0,0,0,1] p=(3/4,1/4): gain
        // (3/4-2/3)/(2/3) = 1/8. class1 = [0,1] p=(1/2,1/2): gain (1/2-1/3)/(1/3) = 1/2.
        let t = table(vec![
            int("age", 2, &[0, 0, 0, 0, 1, 1]),
            cat("s", 2, &[0, 0, 0, 1, 0, 1]),
        ]);
        let c = EquivalenceClasses::compute(&t, &["age"], Some("s")).unwrap();
        let r = beta_likeness(&c, 0.25).unwrap();
        assert!((r.beta - 0.5).abs() < 1e-12);
        assert_eq!((r.failing_classes, r.failing_records), (1, 2));
        assert!(beta_likeness(&c, 0.0).is_err());
    }
}

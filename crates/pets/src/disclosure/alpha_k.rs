//! (alpha,k)-anonymity (Wong, Li, Fu, Wang 2006, "(alpha,k)-anonymity: an enhanced
//! k-anonymity model for privacy preserving data publishing", KDD).
//!
//! A table is (alpha,k)-anonymous when it is k-anonymous and, in every equivalence class,
//! the relative frequency of each sensitive value (or of each value declared sensitive) is
//! at most `alpha`. The table's alpha is the largest such frequency over classes.

use serde::{Deserialize, Serialize};

use super::classes::EquivalenceClasses;

/// Errors of the (alpha,k)-anonymity measure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AlphaKError {
    /// No sensitive attribute.
    #[error("(alpha,k)-anonymity needs a sensitive attribute; compute the classes with one")]
    NoSensitive,
    /// `alpha` outside `(0, 1]`.
    #[error("alpha must lie in (0, 1] (got {alpha})")]
    InvalidAlpha {
        /// The value given.
        alpha: f64,
    },
    /// `k` below 1.
    #[error("k must be at least 1 (got {k})")]
    InvalidK {
        /// The value given.
        k: u64,
    },
}

/// (alpha,k)-anonymity of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlphaK {
    /// Largest relative frequency of a (restricted) sensitive value in a class.
    pub alpha: f64,
    /// The alpha threshold.
    pub alpha_threshold: f64,
    /// The k threshold.
    pub k_threshold: u64,
    /// The smallest class size.
    pub k: u64,
    /// Sensitive codes the alpha bound applies to (`None`: all values).
    pub restricted_to: Option<Vec<u32>>,
    /// Classes failing either bound.
    pub failing_classes: u64,
    /// Records in those classes.
    pub failing_records: u64,
}

/// Measure (alpha,k)-anonymity (Wong et al. 2006). `values` restricts the frequency bound to
/// those sensitive codes (e.g. the codes of the stigmatising diagnoses).
pub fn alpha_k_anonymity(
    classes: &EquivalenceClasses,
    alpha: f64,
    k: u64,
    values: Option<&[u32]>,
) -> Result<AlphaK, AlphaKError> {
    if !classes.has_sensitive() {
        return Err(AlphaKError::NoSensitive);
    }
    if !(alpha > 0.0 && alpha <= 1.0) {
        return Err(AlphaKError::InvalidAlpha { alpha });
    }
    if k < 1 {
        return Err(AlphaKError::InvalidK { k });
    }
    let mut max_alpha = 0.0f64;
    let mut min_k = u64::MAX;
    let (mut fc, mut fr) = (0, 0);
    for c in classes.iter() {
        let mut a = 0.0f64;
        for (&s, &n) in c.sensitive_codes.iter().zip(c.sensitive_counts) {
            if values.is_none_or(|v| v.contains(&s)) {
                a = a.max(n as f64 / c.size as f64);
            }
        }
        max_alpha = max_alpha.max(a);
        min_k = min_k.min(c.size);
        if a > alpha + 1e-12 || c.size < k {
            fc += 1;
            fr += c.size;
        }
    }
    Ok(AlphaK {
        alpha: max_alpha,
        alpha_threshold: alpha,
        k_threshold: k,
        k: if min_k == u64::MAX { 0 } else { min_k },
        restricted_to: values.map(<[u32]>::to_vec),
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
        // class 0: s=[0,0,0,1] (alpha .75); class 1: s=[1,2] (.5)
        let t = table(vec![
            int("age", 2, &[0, 0, 0, 0, 1, 1]),
            cat("s", 3, &[0, 0, 0, 1, 1, 2]),
        ]);
        let c = EquivalenceClasses::compute(&t, &["age"], Some("s")).unwrap();
        let r = alpha_k_anonymity(&c, 0.6, 2, None).unwrap();
        assert!((r.alpha - 0.75).abs() < 1e-12);
        assert_eq!(r.k, 2);
        assert_eq!((r.failing_classes, r.failing_records), (1, 4));
        // only value 1 is sensitive: max freq .5
        let r = alpha_k_anonymity(&c, 0.6, 2, Some(&[1])).unwrap();
        assert!((r.alpha - 0.5).abs() < 1e-12);
        assert_eq!(r.failing_classes, 0);
        let r = alpha_k_anonymity(&c, 0.6, 3, Some(&[1])).unwrap();
        assert_eq!((r.failing_classes, r.failing_records), (1, 2));
        assert!(alpha_k_anonymity(&c, 0.0, 2, None).is_err());
        assert!(alpha_k_anonymity(&c, 0.5, 0, None).is_err());
    }
}

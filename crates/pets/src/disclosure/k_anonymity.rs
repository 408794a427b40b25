//! k-anonymity (Sweeney 2002, "k-anonymity: a model for protecting privacy", IJUFKS 10(5)).
//!
//! A release is k-anonymous when every record is indistinguishable from at least `k - 1`
//! others on the quasi-identifiers, i.e. every equivalence class has at least `k` records.
//! The largest such `k` is the smallest class size.

use serde::{Deserialize, Serialize};

use super::classes::EquivalenceClasses;

/// Errors of the k-anonymity check.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum KAnonymityError {
    /// `k` below 1.
    #[error("k must be at least 1 (got {k}); k = 5 is a common choice for health data")]
    InvalidK {
        /// The value given.
        k: u64,
    },
}

/// k-anonymity of a set of classes against a threshold `k`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KAnonymity {
    /// The table's k: the smallest class size (0 for an empty table).
    pub k: u64,
    /// The threshold checked against.
    pub threshold: u64,
    /// Number of equivalence classes.
    pub n_classes: u64,
    /// Number of records.
    pub n_records: u64,
    /// Classes with fewer than `threshold` records.
    pub classes_under_k: u64,
    /// Records in classes with fewer than `threshold` records: suppressing them makes the
    /// table k-anonymous.
    pub records_under_k: u64,
    /// Sample uniques: records alone in their class (class size 1).
    pub sample_uniques: u64,
    /// Mean class size (records / classes).
    pub mean_class_size: f64,
    /// Distribution of class sizes: `(size, number of classes)`, ascending size.
    pub size_frequencies: Vec<(u64, u64)>,
}

impl KAnonymity {
    /// Whether every class has at least `threshold` records.
    pub fn passes(&self) -> bool {
        self.classes_under_k == 0
    }
}

/// Measure k-anonymity of `classes` against threshold `k` (Sweeney 2002).
pub fn k_anonymity(classes: &EquivalenceClasses, k: u64) -> Result<KAnonymity, KAnonymityError> {
    if k < 1 {
        return Err(KAnonymityError::InvalidK { k });
    }
    let freq = classes.size_frequencies();
    let mut classes_under = 0;
    let mut records_under = 0;
    for &(size, count) in &freq {
        if size < k {
            classes_under += count;
            records_under += size * count;
        }
    }
    let n_classes = classes.n_classes() as u64;
    let n_records = classes.n_records();
    Ok(KAnonymity {
        k: freq.first().map_or(0, |f| f.0),
        threshold: k,
        n_classes,
        n_records,
        classes_under_k: classes_under,
        records_under_k: records_under,
        sample_uniques: freq.first().filter(|f| f.0 == 1).map_or(0, |f| f.1),
        mean_class_size: if n_classes == 0 {
            0.0
        } else {
            n_records as f64 / n_classes as f64
        },
        size_frequencies: freq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disclosure::testutil::{cat, int, table};

    #[test]
    fn hand_computed() {
        // age/sex classes: (0,0)x3, (0,1)x1, (1,0)x2, (2,1)x1
        let t = table(vec![
            int("age", 3, &[0, 0, 0, 0, 1, 1, 2]),
            cat("sex", 2, &[0, 0, 0, 1, 0, 0, 1]),
        ]);
        let c = EquivalenceClasses::compute(&t, &["age", "sex"], None).unwrap();
        let k = k_anonymity(&c, 2).unwrap();
        assert_eq!(k.k, 1);
        assert_eq!(k.n_classes, 4);
        assert_eq!(k.n_records, 7);
        assert_eq!(k.classes_under_k, 2);
        assert_eq!(k.records_under_k, 2);
        assert_eq!(k.sample_uniques, 2);
        assert_eq!(k.size_frequencies, vec![(1, 2), (2, 1), (3, 1)]);
        assert!((k.mean_class_size - 1.75).abs() < 1e-12);
        assert!(!k.passes());
        let k3 = k_anonymity(&c, 3).unwrap();
        assert_eq!((k3.classes_under_k, k3.records_under_k), (3, 4));
        let k1 = k_anonymity(&c, 1).unwrap();
        assert!(k1.passes());
        let by_age = EquivalenceClasses::compute(&t, &["age"], None).unwrap();
        assert_eq!(k_anonymity(&by_age, 1).unwrap().k, 1);
    }

    #[test]
    fn rejects_k_zero() {
        let t = table(vec![int("age", 3, &[0])]);
        let c = EquivalenceClasses::compute(&t, &["age"], None).unwrap();
        assert_eq!(
            k_anonymity(&c, 0).unwrap_err(),
            KAnonymityError::InvalidK { k: 0 }
        );
    }
}

//! delta-disclosure privacy (Brickell & Shmatikov 2008, "The cost of privacy: destruction of
//! data-mining utility in anonymized data publishing", KDD).
//!
//! A class is delta-disclosure private when for every sensitive value `s`,
//! `|ln(p_s / q_s)| < delta`, with `p_s` its share in the class and `q_s` in the table. A
//! value absent from a class gives `ln 0 = -infinity`, so under the strict definition any
//! class missing a value of the table fails for every delta. Following pycanon, the reported
//! `delta` is the largest `|ln(p_s/q_s)|` over the values **present** in each class, and the
//! classes missing some value of the table are counted separately.

use serde::{Deserialize, Serialize};

use super::classes::EquivalenceClasses;

/// Errors of the delta-disclosure measure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DeltaDisclosureError {
    /// No sensitive attribute.
    #[error("delta-disclosure needs a sensitive attribute; compute the classes with one")]
    NoSensitive,
    /// `delta` not a positive number.
    #[error("delta must be a positive number (got {delta})")]
    InvalidDelta {
        /// The value given.
        delta: f64,
    },
}

/// delta-disclosure privacy of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeltaDisclosure {
    /// Largest `|ln(p_s/q_s)|` over classes and the values present in them.
    pub delta: f64,
    /// The threshold checked against.
    pub threshold: f64,
    /// Classes with some present value at or above the threshold.
    pub failing_classes: u64,
    /// Records in those classes.
    pub failing_records: u64,
    /// Classes lacking at least one value that occurs in the table (infinite delta under
    /// the strict definition).
    pub classes_missing_a_value: u64,
}

/// Measure delta-disclosure privacy (Brickell & Shmatikov 2008) against threshold `delta`.
pub fn delta_disclosure(
    classes: &EquivalenceClasses,
    delta: f64,
) -> Result<DeltaDisclosure, DeltaDisclosureError> {
    if !classes.has_sensitive() {
        return Err(DeltaDisclosureError::NoSensitive);
    }
    if !(delta.is_finite() && delta > 0.0) {
        return Err(DeltaDisclosureError::InvalidDelta { delta });
    }
    let n = classes.n_records().max(1) as f64;
    let q: Vec<f64> = classes
        .sensitive_totals()
        .iter()
        .map(|&k| k as f64 / n)
        .collect();
    let present = q.iter().filter(|&&x| x > 0.0).count();
    let mut max = 0.0f64;
    let (mut fc, mut fr, mut missing) = (0, 0, 0);
    for c in classes.iter() {
        let d = c
            .sensitive_codes
            .iter()
            .zip(c.sensitive_counts)
            .map(|(&s, &k)| ((k as f64 / c.size as f64) / q[s as usize]).ln().abs())
            .fold(0.0f64, f64::max);
        max = max.max(d);
        if d >= delta {
            fc += 1;
            fr += c.size;
        }
        if c.sensitive_codes.len() < present {
            missing += 1;
        }
    }
    Ok(DeltaDisclosure {
        delta: max,
        threshold: delta,
        failing_classes: fc,
        failing_records: fr,
        classes_missing_a_value: missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disclosure::testutil::{cat, int, table};

    #[test]
    fn hand_computed() {
        // q = (2/3, 1/3). class0 p=(3/4,1/4): |ln(9/8)|, |ln(3/4)| -> ln(4/3)=0.2877;
        // class1 p=(1/2,1/2): |ln(3/4)|=0.2877, ln(3/2)=0.405
        let t = table(vec![
            int("age", 3, &[0, 0, 0, 0, 1, 1, 2, 2]),
            cat("s", 2, &[0, 0, 0, 1, 0, 1, 0, 0]),
        ]);
        // q = (6/8, 2/8) = (3/4, 1/4). class0 p = (3/4,1/4) -> 0; class1 (1/2,1/2):
        // |ln(2/3)| = .405, ln 2 = .693; class2 p=(1,0): ln(4/3) = .2877, missing a value.
        let c = EquivalenceClasses::compute(&t, &["age"], Some("s")).unwrap();
        let r = delta_disclosure(&c, 0.5).unwrap();
        assert!((r.delta - 2f64.ln()).abs() < 1e-12);
        assert_eq!((r.failing_classes, r.failing_records), (1, 2));
        assert_eq!(r.classes_missing_a_value, 1);
        assert!(delta_disclosure(&c, -1.0).is_err());
    }
}

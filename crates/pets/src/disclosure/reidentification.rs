//! Prosecutor, journalist and marketer re-identification risk (El Emam & Dankar 2008,
//! "Protecting privacy using k-anonymity", JAMIA 15(5); the three summaries as in ARX's
//! sample risk summary).
//!
//! With `f_j` the size of a record's class in the released sample and `F_j` in the
//! population:
//! - **prosecutor** (the intruder knows the target is in the release): record risk `1/f_j`;
//!   highest `1/min f_j`; average (success rate) `#classes / n`; records at risk: share of
//!   records with `1/f_j > threshold`;
//! - **journalist** (the intruder does not know whether the target is in the release):
//!   record risk `1/F_j`; highest `1/min F_j` over the classes in the release; average
//!   `max(#classes / sum_j F_j, marketer)` (as ARX); records at risk: share with
//!   `1/F_j > threshold`;
//! - **marketer** (the intruder links as many records as possible): expected share of
//!   release records re-identified, `(1/n) sum_j f_j / F_j`.
//!
//! Population class sizes come from a population table's classes (exact, as ARX with a
//! superset) or from a sampling fraction `pi`. ARX needs a population table for journalist
//! and marketer risk; with only `pi` we estimate `E[1/F_j | f_j]` under the Benedetti &
//! Franconi (1998) negative-binomial model used by sdcMicro and mu-Argus,
//! `E[1/F | f] = pi * integral_0^1 u^(f-1) / (pi + (1-pi) u) du`, evaluated exactly by its
//! recurrence, and use it in place of `1/F_j` (and `F_j ~ f_j / pi` in `#classes / sum F_j`).

use serde::{Deserialize, Serialize};

use super::classes::EquivalenceClasses;

/// Errors of the re-identification risk models.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReidentificationError {
    /// The risk threshold is outside `(0, 1]`.
    #[error("the risk threshold must lie in (0, 1] (got {threshold}); 0.09 or 0.2 are usual")]
    InvalidThreshold {
        /// The value given.
        threshold: f64,
    },
    /// The sampling fraction is outside `(0, 1]`.
    #[error(
        "the sampling fraction must lie in (0, 1] (got {fraction}): the release's share of \
         the population it was drawn from"
    )]
    InvalidSamplingFraction {
        /// The value given.
        fraction: f64,
    },
    /// The population table's classes are over other columns.
    #[error("the population table's classes are over other columns: {detail}")]
    PopulationMismatch {
        /// What differs.
        detail: String,
    },
    /// Some release classes are missing from, or larger than in, the population.
    #[error(
        "{classes} release class(es) ({records} records) are missing from the population \
         table or larger there than in it; the population must contain the release"
    )]
    NotASubset {
        /// Offending classes.
        classes: u64,
        /// Records in them.
        records: u64,
    },
}

/// Highest risk, average risk and records at risk under one attacker model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskSummary {
    /// Highest record risk.
    pub highest: f64,
    /// Average risk (success rate).
    pub average: f64,
    /// Share of records whose risk exceeds the threshold.
    pub records_at_risk: f64,
    /// Number of records whose risk exceeds the threshold.
    pub records_at_risk_count: u64,
}

/// Where population class sizes came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PopulationSource {
    /// Class counts of a population table.
    Table {
        /// Records in the population table.
        records: u64,
    },
    /// A sampling fraction (Benedetti-Franconi estimate of `E[1/F | f]`).
    SamplingFraction {
        /// The fraction.
        fraction: f64,
    },
}

/// The three attacker models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReidentificationRisk {
    /// Risk threshold for "records at risk".
    pub threshold: f64,
    /// Prosecutor risk.
    pub prosecutor: RiskSummary,
    /// Journalist risk (needs population sizes).
    pub journalist: Option<RiskSummary>,
    /// Marketer risk: expected share of records re-identified (needs population sizes).
    pub marketer: Option<f64>,
    /// Source of population sizes.
    pub population: Option<PopulationSource>,
}

/// Records by prosecutor risk band, for plotting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskBand {
    /// Lower bound of the band (exclusive, except 0).
    pub lower: f64,
    /// Upper bound (inclusive).
    pub upper: f64,
    /// Records whose prosecutor risk falls in the band.
    pub records: u64,
}

fn check_threshold(threshold: f64) -> Result<(), ReidentificationError> {
    if threshold > 0.0 && threshold <= 1.0 {
        Ok(())
    } else {
        Err(ReidentificationError::InvalidThreshold { threshold })
    }
}

/// Prosecutor risk from the release's classes (El Emam & Dankar 2008).
pub fn prosecutor_risk(
    classes: &EquivalenceClasses,
    threshold: f64,
) -> Result<RiskSummary, ReidentificationError> {
    check_threshold(threshold)?;
    let n = classes.n_records();
    let min = classes.sizes().iter().copied().min().map_or(0, u64::from);
    let at_risk: u64 = classes
        .sizes()
        .iter()
        .filter(|&&f| 1.0 / f as f64 > threshold)
        .map(|&f| u64::from(f))
        .sum();
    Ok(RiskSummary {
        highest: if min == 0 { 0.0 } else { 1.0 / min as f64 },
        average: ratio(classes.n_classes() as f64, n as f64),
        records_at_risk: ratio(at_risk as f64, n as f64),
        records_at_risk_count: at_risk,
    })
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// Journalist and marketer risk with population class sizes from a population table's
/// classes over the same quasi-identifiers (El Emam & Dankar 2008).
pub fn journalist_marketer_from_population(
    sample: &EquivalenceClasses,
    population: &EquivalenceClasses,
    threshold: f64,
) -> Result<(RiskSummary, f64), ReidentificationError> {
    check_threshold(threshold)?;
    let (a, b) = (
        &sample.layout().quasi_identifiers,
        &population.layout().quasi_identifiers,
    );
    if a != b {
        let names = |v: &[super::ClassColumn]| {
            v.iter()
                .map(|c| format!("{}({} codes)", c.name, c.cardinality))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(ReidentificationError::PopulationMismatch {
            detail: format!(
                "release [{}] vs population [{}]; encode both with the same schema and \
                 group by the same quasi-identifiers",
                names(a),
                names(b)
            ),
        });
    }
    let mut big_f = Vec::with_capacity(sample.n_classes());
    let (mut bad_c, mut bad_r) = (0u64, 0u64);
    for c in sample.iter() {
        let f_pop = population
            .find(c.key)
            .map_or(0, |i| u64::from(population.sizes()[i]));
        if f_pop < c.size {
            bad_c += 1;
            bad_r += c.size;
        }
        big_f.push(f_pop as f64);
    }
    if bad_c > 0 {
        return Err(ReidentificationError::NotASubset {
            classes: bad_c,
            records: bad_r,
        });
    }
    let sum_f: f64 = big_f.iter().sum();
    Ok(summarise(
        sample,
        big_f.iter().map(|&f| 1.0 / f),
        sum_f,
        threshold,
    ))
}

/// `inv_f` yields `E[1/F]` (or `1/F`) for each class in order; it is streamed so that no
/// per-class array is held.
fn summarise(
    sample: &EquivalenceClasses,
    inv_f: impl Iterator<Item = f64>,
    sum_f: f64,
    threshold: f64,
) -> (RiskSummary, f64) {
    let n = sample.n_records() as f64;
    let mut highest = 0.0f64;
    let mut at_risk = 0u64;
    let mut marketer = 0.0;
    for (r, &f) in inv_f.zip(sample.sizes()) {
        highest = highest.max(r);
        if r > threshold {
            at_risk += u64::from(f);
        }
        marketer += f as f64 * r;
    }
    let marketer = ratio(marketer, n);
    let journalist = RiskSummary {
        highest,
        average: ratio(sample.n_classes() as f64, sum_f).max(marketer),
        records_at_risk: ratio(at_risk as f64, n),
        records_at_risk_count: at_risk,
    };
    (journalist, marketer)
}

/// `E[1/F | f]` for `f = 1..=max_f` under the Benedetti-Franconi model with sampling
/// fraction `p` (index 0 unused). Uses `I_f = integral_0^1 u^(f-1)/(p + q u) du`,
/// `q I_{f+1} + p I_f = 1/f`, run forward when it is stable and backward otherwise.
pub fn expected_inverse_population_size(p: f64, max_f: u64) -> Vec<f64> {
    let m = max_f as usize;
    let mut r = vec![0.0; m + 1];
    if m == 0 {
        return r;
    }
    let q = 1.0 - p;
    if q <= 0.0 {
        for (f, x) in r.iter_mut().enumerate().skip(1) {
            *x = 1.0 / f as f64;
        }
        return r;
    }
    let growth = (p / q).ln() * m as f64;
    if p <= 0.5 || growth < 7.0 {
        // forward: I_1 = ln(1/p)/q
        let mut i = (1.0 / p).ln() / q;
        for (f, x) in r.iter_mut().enumerate().skip(1) {
            *x = (p * i).clamp(0.0, 1.0);
            i = (1.0 / f as f64 - p * i) / q;
        }
    } else {
        // backward from M = m + K, I_M ~ 1/M, error shrinks by q/p per step
        let k = (40.0 / (p / q).ln()).ceil().min(1e7) as usize;
        let big = m + k.max(1);
        let mut i = 1.0 / big as f64;
        for f in (1..big).rev() {
            // I_f = (1/f - q I_{f+1}) / p
            i = (1.0 / f as f64 - q * i) / p;
            if f <= m {
                r[f] = (p * i).clamp(0.0, 1.0);
            }
        }
    }
    r
}

/// Journalist and marketer risk estimated from a sampling fraction (Benedetti-Franconi
/// `E[1/F | f]`; see the module documentation).
pub fn journalist_marketer_from_fraction(
    sample: &EquivalenceClasses,
    fraction: f64,
    threshold: f64,
) -> Result<(RiskSummary, f64), ReidentificationError> {
    check_threshold(threshold)?;
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(ReidentificationError::InvalidSamplingFraction { fraction });
    }
    let max_f = sample.sizes().iter().copied().max().map_or(0, u64::from);
    let table = expected_inverse_population_size(fraction, max_f);
    let inv = sample.sizes().iter().map(|&f| table[f as usize]);
    let sum_f = sample.n_records() as f64 / fraction;
    Ok(summarise(sample, inv, sum_f, threshold))
}

/// All three models: journalist and marketer only when a population table or a sampling
/// fraction is given (the table wins when both are).
pub fn reidentification_risk(
    sample: &EquivalenceClasses,
    population: Option<&EquivalenceClasses>,
    sampling_fraction: Option<f64>,
    threshold: f64,
) -> Result<ReidentificationRisk, ReidentificationError> {
    let prosecutor = prosecutor_risk(sample, threshold)?;
    let (jm, source) = match (population, sampling_fraction) {
        (Some(p), _) => (
            Some(journalist_marketer_from_population(sample, p, threshold)?),
            Some(PopulationSource::Table {
                records: p.n_records(),
            }),
        ),
        (None, Some(f)) => (
            Some(journalist_marketer_from_fraction(sample, f, threshold)?),
            Some(PopulationSource::SamplingFraction { fraction: f }),
        ),
        (None, None) => (None, None),
    };
    Ok(ReidentificationRisk {
        threshold,
        prosecutor,
        journalist: jm.as_ref().map(|x| x.0.clone()),
        marketer: jm.map(|x| x.1),
        population: source,
    })
}

/// Records by prosecutor risk band: `(0.5, 1]` (unique), `(1/3, 1/2]`, `(1/5, 1/3]`,
/// `(1/10, 1/5]`, `(1/20, 1/10]`, `(1/100, 1/20]`, `[0, 1/100]`.
pub fn risk_distribution(classes: &EquivalenceClasses) -> Vec<RiskBand> {
    let edges = [1.0, 0.5, 1.0 / 3.0, 0.2, 0.1, 0.05, 0.01, 0.0];
    let mut bands: Vec<RiskBand> = edges
        .windows(2)
        .map(|w| RiskBand {
            lower: w[1],
            upper: w[0],
            records: 0,
        })
        .collect();
    for &f in classes.sizes() {
        let r = 1.0 / f as f64;
        let i = bands
            .iter()
            .position(|b| r > b.lower || b.lower == 0.0)
            .unwrap_or(bands.len() - 1);
        bands[i].records += u64::from(f);
    }
    bands
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disclosure::testutil::{cat, int, table};

    fn classes(ages: &[u32], sex: &[u32]) -> EquivalenceClasses {
        let t = table(vec![int("age", 4, ages), cat("sex", 2, sex)]);
        EquivalenceClasses::compute(&t, &["age", "sex"], None).unwrap()
    }

    #[test]
    fn prosecutor_hand_computed() {
        // classes of sizes 1, 2, 3 (n = 6)
        let c = classes(&[0, 1, 1, 2, 2, 2], &[0, 0, 0, 1, 1, 1]);
        let r = prosecutor_risk(&c, 0.4).unwrap();
        assert!((r.highest - 1.0).abs() < 1e-12);
        assert!((r.average - 0.5).abs() < 1e-12); // 3 classes / 6
        // risk > 0.4: sizes 1 (1.0) and 2 (0.5) -> 3 records
        assert_eq!(r.records_at_risk_count, 3);
        assert!((r.records_at_risk - 0.5).abs() < 1e-12);
        assert!(prosecutor_risk(&c, 0.0).is_err());
    }

    #[test]
    fn journalist_marketer_with_population() {
        let sample = classes(&[0, 1, 1, 2, 2, 2], &[0, 0, 0, 1, 1, 1]);
        // population: class sizes 2, 4, 3, plus one class absent from the sample (size 5)
        let pop = classes(
            &[0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
            &[0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0],
        );
        let (j, m) = journalist_marketer_from_population(&sample, &pop, 0.4).unwrap();
        assert!((j.highest - 0.5).abs() < 1e-12);
        // marketer = (1/2 + 2/4 + 3/3)/6 = 2/6
        assert!((m - 2.0 / 6.0).abs() < 1e-12);
        // rC1 = 3 classes / (2+4+3) = 1/3 ; max(1/3, 1/3)
        assert!((j.average - 1.0 / 3.0).abs() < 1e-12);
        // 1/F > 0.4: F = 2 -> 1 record
        assert_eq!(j.records_at_risk_count, 1);
        // the release is not inside this "population"
        let err = journalist_marketer_from_population(&pop, &sample, 0.4).unwrap_err();
        assert!(matches!(err, ReidentificationError::NotASubset { .. }));
    }

    #[test]
    fn benedetti_franconi_closed_forms() {
        for &p in &[0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999] {
            let q: f64 = 1.0 - p;
            let r = expected_inverse_population_size(p, 50);
            let r1 = p / q * (1.0 / p).ln();
            let r2 = p / q - (p / q).powi(2) * (1.0 / p).ln();
            assert!((r[1] - r1).abs() < 1e-10, "p={p}: {} vs {r1}", r[1]);
            assert!((r[2] - r2).abs() < 1e-9, "p={p}: {} vs {r2}", r[2]);
            // brute-force series for f = 7
            let f = 7u64;
            let mut s = 0.0;
            let mut ln_c = 0.0; // ln C(h-1, f-1) starting at h = f
            for h in f..200_000 {
                if h > f {
                    ln_c += ((h - 1) as f64).ln() - ((h - f) as f64).ln();
                }
                let term = (ln_c + f as f64 * p.ln() + (h - f) as f64 * q.ln()).exp() / h as f64;
                s += term;
                if term < 1e-18 && h > f + 1000 {
                    break;
                }
            }
            assert!(
                (r[7] - s).abs() < 1e-9 * s.max(1e-3),
                "p={p}: {} vs {s}",
                r[7]
            );
            // decreasing in f, between p/f-ish and 1/f
            assert!(r[50] < r[7] && r[50] <= 1.0 / 50.0 + 1e-12);
        }
        let r = expected_inverse_population_size(1.0, 3);
        assert_eq!(r, vec![0.0, 1.0, 0.5, 1.0 / 3.0]);
    }

    #[test]
    fn from_fraction_and_distribution() {
        let c = classes(&[0, 1, 1, 2, 2, 2], &[0, 0, 0, 1, 1, 1]);
        let all = reidentification_risk(&c, None, Some(1.0), 0.4).unwrap();
        // pi = 1: the release is the population -> journalist = prosecutor
        let j = all.journalist.unwrap();
        assert!((j.highest - all.prosecutor.highest).abs() < 1e-12);
        assert!((all.marketer.unwrap() - 0.5).abs() < 1e-12);
        let none = reidentification_risk(&c, None, None, 0.4).unwrap();
        assert!(none.journalist.is_none() && none.marketer.is_none());
        assert!(reidentification_risk(&c, None, Some(0.0), 0.4).is_err());
        let d = risk_distribution(&c);
        assert_eq!(d[0].records, 1);
        assert_eq!(d[1].records, 2);
        assert_eq!(d[2].records, 3);
        assert_eq!(d.iter().map(|b| b.records).sum::<u64>(), 6);
        let _ = cat("x", 1, &[0]);
    }
}

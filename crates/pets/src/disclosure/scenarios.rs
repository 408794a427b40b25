//! Intruder scenarios: the risk for every combination of the facts an intruder may know.
//!
//! Given the quasi-identifiers an intruder might hold (at most [`MAX_SCENARIO_COLUMNS`]), the
//! classes are computed once over all of them and every non-empty subset's class sizes are
//! derived from those by regrouping (`classes::regroup`: the classes are sorted by their code
//! tuples, so a subset's classes are runs of a prefix grouped by dense counters or sorts; one
//! pass over the full classes per subset, never over the rows, and no hash map). For each subset we report the class count, the smallest class, sample
//! uniques, records in classes under k and prosecutor risk, and we name the **smallest
//! combinations that single people out**: subsets with sample uniques none of whose proper
//! subsets has any.

use serde::{Deserialize, Serialize};

use super::classes::{EquivalenceClasses, subset_recode};

/// Most intruder columns a scenario analysis takes (2^12 = 4096 subsets).
pub const MAX_SCENARIO_COLUMNS: usize = 12;

/// Errors of the scenario analysis.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// Too many columns.
    #[error(
        "{given} intruder columns give 2^{given} combinations; at most \
         {MAX_SCENARIO_COLUMNS} are supported. Pass the facts an intruder could realistically \
         know (e.g. age, sex, postcode district, arrival date)"
    )]
    TooManyColumns {
        /// How many were given.
        given: usize,
    },
    /// A column is not among the classes' quasi-identifiers.
    #[error(
        "intruder column {column:?} is not one of the quasi-identifiers the classes were \
         computed over ({}); add it to the quasi-identifiers",
        available.join(", ")
    )]
    UnknownColumn {
        /// The name.
        column: String,
        /// Available quasi-identifiers.
        available: Vec<String>,
    },
    /// No columns.
    #[error("no intruder columns given; name at least one")]
    NoColumns,
    /// The analysis would exceed the work bound.
    #[error(
        "the analysis would visit {work} classes ({subsets} combinations x {classes} classes), \
         more than the limit of {limit}; pass fewer intruder columns or raise the limit"
    )]
    TooMuchWork {
        /// Class visits needed.
        work: u128,
        /// Subsets.
        subsets: u64,
        /// Classes.
        classes: u64,
        /// The bound.
        limit: u128,
    },
    /// Invalid threshold.
    #[error("invalid argument {name}: {reason}")]
    InvalidArgument {
        /// Argument.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Options of the scenario analysis.
#[derive(Debug, Clone, Copy)]
pub struct ScenarioOptions {
    /// The k threshold for "records under k".
    pub k: u64,
    /// Prosecutor risk threshold for "records at risk".
    pub risk_threshold: f64,
    /// Most class visits allowed (subsets x classes); default 400 million.
    pub max_work: u128,
}

impl Default for ScenarioOptions {
    fn default() -> Self {
        ScenarioOptions {
            k: 5,
            risk_threshold: 0.2,
            max_work: 400_000_000,
        }
    }
}

/// The risk for one combination of intruder facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// The columns the intruder knows.
    pub columns: Vec<String>,
    /// Bit `i` set when intruder column `i` is known.
    pub mask: u32,
    /// Classes over these columns.
    pub n_classes: u64,
    /// Smallest class.
    pub k: u64,
    /// Records alone in their class.
    pub sample_uniques: u64,
    /// Records in classes under the k threshold.
    pub records_under_k: u64,
    /// Prosecutor highest risk `1 / k`.
    pub highest_risk: f64,
    /// Prosecutor average risk `classes / records`.
    pub average_risk: f64,
    /// Records with prosecutor risk above the threshold.
    pub records_at_risk: u64,
}

/// Scenario analysis over all subsets of the intruder columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntruderScenarios {
    /// The intruder columns.
    pub columns: Vec<String>,
    /// The k threshold used.
    pub k_threshold: u64,
    /// The risk threshold used.
    pub risk_threshold: f64,
    /// One entry per non-empty subset, by size then mask.
    pub scenarios: Vec<Scenario>,
    /// Masks of the smallest combinations that single people out (sample uniques > 0, and no
    /// proper subset has any).
    pub minimal_singling_out: Vec<u32>,
}

impl IntruderScenarios {
    /// The scenario of a mask.
    pub fn get(&self, mask: u32) -> Option<&Scenario> {
        self.scenarios.iter().find(|s| s.mask == mask)
    }
}

/// Positions (in the classes' layout) of the named intruder columns.
pub(crate) fn positions_of(
    classes: &EquivalenceClasses,
    columns: &[impl AsRef<str>],
) -> Result<Vec<usize>, ScenarioError> {
    if columns.is_empty() {
        return Err(ScenarioError::NoColumns);
    }
    if columns.len() > MAX_SCENARIO_COLUMNS {
        return Err(ScenarioError::TooManyColumns {
            given: columns.len(),
        });
    }
    let qis = &classes.layout().quasi_identifiers;
    columns
        .iter()
        .map(|c| {
            let c = c.as_ref();
            qis.iter()
                .position(|q| q.name == c)
                .ok_or_else(|| ScenarioError::UnknownColumn {
                    column: c.to_string(),
                    available: qis.iter().map(|q| q.name.clone()).collect(),
                })
        })
        .collect()
}

/// Compute the risk for every non-empty subset of the intruder `columns` (names of
/// quasi-identifiers of `classes`).
pub fn intruder_scenarios(
    classes: &EquivalenceClasses,
    columns: &[impl AsRef<str>],
    opts: ScenarioOptions,
) -> Result<IntruderScenarios, ScenarioError> {
    if opts.k < 1 {
        return Err(ScenarioError::InvalidArgument {
            name: "k",
            reason: format!("must be at least 1 (got {})", opts.k),
        });
    }
    if !(opts.risk_threshold > 0.0 && opts.risk_threshold <= 1.0) {
        return Err(ScenarioError::InvalidArgument {
            name: "risk_threshold",
            reason: format!("must lie in (0, 1] (got {})", opts.risk_threshold),
        });
    }
    let positions = positions_of(classes, columns)?;
    let n = positions.len();
    let subsets = (1u64 << n) - 1;
    let work = u128::from(subsets) * classes.n_classes() as u128;
    if work > opts.max_work {
        return Err(ScenarioError::TooMuchWork {
            work,
            subsets,
            classes: classes.n_classes() as u64,
            limit: opts.max_work,
        });
    }
    let names: Vec<String> = columns.iter().map(|c| c.as_ref().to_string()).collect();
    let mut masks: Vec<u32> = (1..(1u32 << n)).collect();
    masks.sort_by_key(|m| (m.count_ones(), *m));
    let records = classes.n_records();
    let width = classes.layout().width();
    let scenarios: Vec<Scenario> = masks
        .iter()
        .map(|&mask| {
            let counts = classes.view_size_counts(&subset_recode(width, &positions, mask), None);
            let (mut n_classes, mut uniq, mut under, mut at_risk) = (0, 0, 0, 0);
            for &(f, c) in &counts {
                n_classes += c;
                if f == 1 {
                    uniq += c;
                }
                if f < opts.k {
                    under += f * c;
                }
                if 1.0 / f as f64 > opts.risk_threshold {
                    at_risk += f * c;
                }
            }
            let k = counts.first().map_or(0, |&(f, _)| f);
            Scenario {
                columns: (0..n)
                    .filter(|i| mask & (1 << i) != 0)
                    .map(|i| names[i].clone())
                    .collect(),
                mask,
                n_classes,
                k,
                sample_uniques: uniq,
                records_under_k: under,
                highest_risk: if k == 0 { 0.0 } else { 1.0 / k as f64 },
                average_risk: if records == 0 {
                    0.0
                } else {
                    n_classes as f64 / records as f64
                },
                records_at_risk: at_risk,
            }
        })
        .collect();
    let unique_masks: Vec<u32> = scenarios
        .iter()
        .filter(|s| s.sample_uniques > 0)
        .map(|s| s.mask)
        .collect();
    let minimal = unique_masks
        .iter()
        .copied()
        .filter(|&m| !unique_masks.iter().any(|&o| o != m && o & !m == 0))
        .collect();
    Ok(IntruderScenarios {
        columns: names,
        k_threshold: opts.k,
        risk_threshold: opts.risk_threshold,
        scenarios,
        minimal_singling_out: minimal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disclosure::testutil::{cat, int, table};

    fn sample() -> EquivalenceClasses {
        // age, sex, area; 6 records
        let t = table(vec![
            int("age", 3, &[0, 0, 1, 1, 2, 2]),
            cat("sex", 2, &[0, 1, 0, 0, 1, 1]),
            cat("area", 2, &[0, 0, 0, 1, 1, 1]),
        ]);
        EquivalenceClasses::compute(&t, &["age", "sex", "area"], None).unwrap()
    }

    #[test]
    fn every_subset_matches_direct_computation() {
        let c = sample();
        let s = intruder_scenarios(
            &c,
            &["age", "sex", "area"],
            ScenarioOptions {
                k: 2,
                risk_threshold: 0.5,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.scenarios.len(), 7);
        // {sex}: sizes 3,3
        let sex = s.get(0b010).unwrap();
        assert_eq!((sex.n_classes, sex.k, sex.sample_uniques), (2, 3, 0));
        // {age, sex}: (0,0),(0,1),(1,0)x2,(2,1)x2 -> uniques 2
        let a_s = s.get(0b011).unwrap();
        assert_eq!(
            (
                a_s.n_classes,
                a_s.k,
                a_s.sample_uniques,
                a_s.records_under_k
            ),
            (4, 1, 2, 2)
        );
        assert_eq!(a_s.records_at_risk, 2);
        // {sex, area}: (0,0)x2,(1,0)x1,(0,1)x1,(1,1)x2 -> uniques 2
        assert_eq!(s.get(0b110).unwrap().sample_uniques, 2);
        // {age, area}: (0,0)x2,(1,0),(1,1),(2,1)x2 -> 2 uniques
        assert_eq!(s.get(0b101).unwrap().sample_uniques, 2);
        // no single column singles anyone out; every pair does -> minimal = the three pairs
        let mut m = s.minimal_singling_out.clone();
        m.sort();
        assert_eq!(m, vec![0b011, 0b101, 0b110]);
        // full set equals the classes
        assert_eq!(s.get(0b111).unwrap().n_classes, c.n_classes() as u64);
    }

    #[test]
    fn errors() {
        let c = sample();
        assert!(matches!(
            intruder_scenarios(&c, &["nope"], ScenarioOptions::default()),
            Err(ScenarioError::UnknownColumn { .. })
        ));
        let many: Vec<String> = (0..13).map(|i| format!("c{i}")).collect();
        assert!(matches!(
            intruder_scenarios(&c, &many, ScenarioOptions::default()),
            Err(ScenarioError::TooManyColumns { given: 13 })
        ));
        assert!(matches!(
            intruder_scenarios(
                &c,
                &["age", "sex"],
                ScenarioOptions {
                    max_work: 3,
                    ..Default::default()
                }
            ),
            Err(ScenarioError::TooMuchWork { .. })
        ));
        let none: [&str; 0] = [];
        assert_eq!(
            intruder_scenarios(&c, &none, ScenarioOptions::default()).unwrap_err(),
            ScenarioError::NoColumns
        );
    }
}

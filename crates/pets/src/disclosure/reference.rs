//! The scenario and SUDA algorithms as they were before regrouping (a hash map of the
//! subset's keys per subset; a vector of MSUs per SUDA candidate), kept verbatim as the
//! reference the regrouping versions must equal exactly.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::disclosure::classes::{EquivalenceClasses, Keying};
use crate::disclosure::scenarios::{
    IntruderScenarios, Scenario, ScenarioError, ScenarioOptions, positions_of,
};
use crate::disclosure::suda::{AttributeContribution, MsuCount, Suda, SudaOptions};

/// Keying and positions for the subset `mask` of `positions`.
pub(super) struct SubsetKey {
    keying: Keying,
    pos: Vec<usize>,
}

impl SubsetKey {
    pub(super) fn new(classes: &EquivalenceClasses, positions: &[usize], mask: u32) -> Self {
        let pos: Vec<usize> = positions
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, &p)| p)
            .collect();
        let cols: Vec<_> = pos
            .iter()
            .map(|&p| classes.layout().quasi_identifiers[p].clone())
            .collect();
        let layout = crate::disclosure::classes::ClassLayout::new(cols, None);
        SubsetKey {
            keying: layout.keying,
            pos,
        }
    }

    #[inline]
    pub(super) fn key(&self, codes: &[u32], buf: &mut Vec<u32>) -> u128 {
        match &self.keying {
            Keying::Radix { strides } => self
                .pos
                .iter()
                .zip(strides)
                .map(|(&p, &s)| u128::from(codes[p]) * s)
                .sum(),
            Keying::Hashed => {
                buf.clear();
                buf.extend(self.pos.iter().map(|&p| codes[p]));
                crate::disclosure::classes::hash_tuple(buf)
            }
        }
    }
}

/// Class sizes over a subset: key -> records.
pub(super) fn subset_counts(classes: &EquivalenceClasses, sk: &SubsetKey) -> FxHashMap<u128, u64> {
    let mut m: FxHashMap<u128, u64> = FxHashMap::default();
    let mut buf = Vec::new();
    for i in 0..classes.n_classes() {
        let key = sk.key(classes.class_codes(i), &mut buf);
        *m.entry(key).or_insert(0) += u64::from(classes.sizes()[i]);
    }
    m
}

/// `intruder_scenarios` before regrouping (a hash map per subset).
pub(super) fn intruder_scenarios(
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
    let scenarios: Vec<Scenario> = masks
        .par_iter()
        .map(|&mask| {
            let sk = SubsetKey::new(classes, &positions, mask);
            let counts = subset_counts(classes, &sk);
            let mut k = u64::MAX;
            let (mut uniq, mut under, mut at_risk) = (0, 0, 0);
            for &f in counts.values() {
                k = k.min(f);
                if f == 1 {
                    uniq += 1;
                }
                if f < opts.k {
                    under += f;
                }
                if 1.0 / f as f64 > opts.risk_threshold {
                    at_risk += f;
                }
            }
            let k = if k == u64::MAX { 0 } else { k };
            Scenario {
                columns: (0..n)
                    .filter(|i| mask & (1 << i) != 0)
                    .map(|i| names[i].clone())
                    .collect(),
                mask,
                n_classes: counts.len() as u64,
                k,
                sample_uniques: uniq,
                records_under_k: under,
                highest_risk: if k == 0 { 0.0 } else { 1.0 / k as f64 },
                average_risk: if records == 0 {
                    0.0
                } else {
                    counts.len() as f64 / records as f64
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

/// `suda` before regrouping (hash map per subset, a vector of MSUs per candidate).
pub(super) fn suda(
    classes: &EquivalenceClasses,
    columns: &[impl AsRef<str>],
    opts: SudaOptions,
) -> Result<Suda, ScenarioError> {
    let positions = positions_of(classes, columns)?;
    let att = positions.len();
    let names: Vec<String> = columns.iter().map(|c| c.as_ref().to_string()).collect();
    let max_size = opts
        .max_msu_size
        .unwrap_or(att.saturating_sub(1).max(1))
        .clamp(1, att);
    // Candidates: classes of size one over all the intruder columns.
    let full_mask = (1u32 << att) - 1;
    let full_key = SubsetKey::new(classes, &positions, full_mask);
    let full_counts = subset_counts(classes, &full_key);
    let mut buf = Vec::new();
    let candidates: Vec<usize> = (0..classes.n_classes())
        .filter(|&i| {
            classes.sizes()[i] == 1
                && full_counts.get(&full_key.key(classes.class_codes(i), &mut buf)) == Some(&1)
        })
        .collect();
    let mut msus: Vec<Vec<u32>> = vec![Vec::new(); candidates.len()];
    let mut work: u128 = 0;
    let per_subset = (classes.n_classes() + candidates.len()) as u128;
    let mut searched = 0;
    let mut complete = true;
    for size in 1..=max_size {
        let masks: Vec<u32> = (1..=full_mask)
            .filter(|m| m.count_ones() as usize == size)
            .collect();
        let cost = per_subset * masks.len() as u128;
        if work + cost > opts.max_work {
            complete = false;
            break;
        }
        work += cost;
        if candidates.is_empty() {
            searched = size;
            continue;
        }
        let hits: Vec<(u32, Vec<usize>)> = masks
            .par_iter()
            .map(|&mask| {
                let sk = SubsetKey::new(classes, &positions, mask);
                let counts = subset_counts(classes, &sk);
                let mut buf = Vec::new();
                let found: Vec<usize> = candidates
                    .iter()
                    .enumerate()
                    .filter(|(u, _)| !msus[*u].iter().any(|&m| m & !mask == 0))
                    .filter(|(_, ci)| {
                        counts.get(&sk.key(classes.class_codes(**ci), &mut buf)) == Some(&1)
                    })
                    .map(|(u, _)| u)
                    .collect();
                (mask, found)
            })
            .collect();
        for (mask, found) in hits {
            for u in found {
                msus[u].push(mask);
            }
        }
        searched = size;
    }
    // A candidate without an MSU up to size ATT-1 is unique only on all columns: its MSU is
    // the full set (when the search reached ATT - 1).
    if searched + 1 == att && complete && max_size + 1 == att {
        for m in msus.iter_mut() {
            if m.is_empty() {
                m.push(full_mask);
            }
        }
    }
    let m_cap = max_size.min(att.saturating_sub(1));
    let weight = |s: usize| -> f64 {
        let mut w = 1.0;
        for i in s..=m_cap {
            w *= (att - i) as f64;
        }
        w
    };
    let mut per_mask: rustc_hash::FxHashMap<u32, u64> = Default::default();
    let mut attr_score = vec![0.0; att];
    let mut attr_records = vec![0u64; att];
    let mut by_smallest = vec![0u64; att];
    let mut total = 0.0;
    let mut max_score = 0.0f64;
    let mut record_scores = Vec::new();
    let mut with_msu = 0;
    for (u, list) in msus.iter().enumerate() {
        if list.is_empty() {
            continue;
        }
        with_msu += 1;
        let mut score = 0.0;
        let mut touched = 0u32;
        let mut smallest = att;
        for &m in list {
            let s = m.count_ones() as usize;
            let w = weight(s);
            score += w;
            smallest = smallest.min(s);
            *per_mask.entry(m).or_insert(0) += 1;
            for (i, a) in attr_score.iter_mut().enumerate() {
                if m & (1 << i) != 0 {
                    *a += w;
                }
            }
            touched |= m;
        }
        for (i, r) in attr_records.iter_mut().enumerate() {
            if touched & (1 << i) != 0 {
                *r += 1;
            }
        }
        by_smallest[smallest - 1] += 1;
        total += score;
        max_score = max_score.max(score);
        record_scores.push((candidates[u] as u64, score));
    }
    let mut msu_counts: Vec<MsuCount> = per_mask
        .into_iter()
        .map(|(mask, records)| MsuCount {
            columns: (0..att)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| names[i].clone())
                .collect(),
            mask,
            records,
        })
        .collect();
    msu_counts.sort_by(|a, b| {
        b.records
            .cmp(&a.records)
            .then(a.mask.count_ones().cmp(&b.mask.count_ones()))
            .then(a.mask.cmp(&b.mask))
    });
    let contributions = names
        .iter()
        .enumerate()
        .map(|(i, n)| AttributeContribution {
            column: n.clone(),
            percent: if total > 0.0 {
                100.0 * attr_score[i] / total
            } else {
                0.0
            },
            records: attr_records[i],
        })
        .collect();
    Ok(Suda {
        columns: names,
        searched_up_to_size: searched,
        complete,
        candidate_records: candidates.len() as u64,
        records_with_msu: with_msu,
        records_by_smallest_msu: by_smallest,
        msu_counts,
        contributions,
        total_score: total,
        max_score,
        record_scores,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::data::EncodedColumn;
    use crate::disclosure::EquivalenceClasses;
    use crate::disclosure::scenarios::{ScenarioOptions, intruder_scenarios};
    use crate::disclosure::suda::{SudaOptions, suda};
    use crate::disclosure::testutil::{cat, int, table};

    /// Both algorithms on one table and intruder column list; identical results required
    /// (`f64` figures included).
    fn agree(
        cols: Vec<EncodedColumn>,
        intruder: &[String],
        k: u64,
        max_msu_size: Option<usize>,
        max_work: u128,
    ) -> Result<(), TestCaseError> {
        let names: Vec<String> = cols.iter().map(|c| c.spec.name.clone()).collect();
        let t = table(cols);
        let c = EquivalenceClasses::compute(&t, &names, None).unwrap();
        let opts = ScenarioOptions {
            k,
            risk_threshold: 0.34,
            max_work,
        };
        prop_assert_eq!(
            intruder_scenarios(&c, intruder, opts),
            super::intruder_scenarios(&c, intruder, opts)
        );
        let opts = SudaOptions {
            max_msu_size,
            max_work,
            record_scores: true,
        };
        prop_assert_eq!(suda(&c, intruder, opts), super::suda(&c, intruder, opts));
        Ok(())
    }

    fn arb() -> impl Strategy<Value = (Vec<u32>, Vec<Vec<u32>>)> {
        (1usize..250, prop::collection::vec(1u32..7, 1..6)).prop_flat_map(|(n, cards)| {
            let cols: Vec<_> = cards
                .iter()
                .map(|&c| prop::collection::vec(0..c, n))
                .collect();
            (Just(cards), cols)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Scenarios and SUDA by regrouping equal the hash-map versions on random tables,
        /// for any intruder columns (a subset of the quasi-identifiers, in any order), MSU
        /// size limit and work bound.
        #[test]
        fn regrouping_equals_hash_maps(
            (cards, cols) in arb(),
            pick in prop::collection::vec(any::<prop::sample::Index>(), 1..6),
            k in 1u64..4,
            max_msu in prop::option::of(1usize..5),
            max_work in prop::sample::select(vec![30u128, 300, 400_000_000]),
        ) {
            let w = cards.len();
            let columns: Vec<EncodedColumn> = cols
                .iter()
                .zip(&cards)
                .enumerate()
                .map(|(i, (c, &card))| {
                    if i % 2 == 0 {
                        int(&format!("q{i}"), card, c)
                    } else {
                        cat(&format!("q{i}"), card, c)
                    }
                })
                .collect();
            let mut intruder: Vec<String> = Vec::new();
            for p in pick {
                let name = format!("q{}", p.index(w));
                if !intruder.contains(&name) {
                    intruder.push(name);
                }
            }
            agree(columns, &intruder, k, max_msu, max_work)?;
        }
    }

    /// Enough classes that the regrouping splits its work into parallel tasks and groups
    /// views without a prefix as one block.
    #[test]
    fn regrouping_equals_hash_maps_on_many_classes() {
        let n = 150_000u32;
        let mix = |i: u32, m: u32| (i.wrapping_mul(2_654_435_761) >> 7) % m;
        let a: Vec<u32> = (0..n).map(|i| mix(i, 90)).collect();
        let b: Vec<u32> = (0..n).map(|i| mix(i ^ 0x5555, 3)).collect();
        let c: Vec<u32> = (0..n).map(|i| mix(i.rotate_left(7), 400)).collect();
        let d: Vec<u32> = (0..n).map(|i| mix(i.wrapping_add(17), 30)).collect();
        let cols = vec![
            int("a", 90, &a),
            cat("b", 3, &b),
            cat("c", 400, &c),
            int("d", 30, &d),
        ];
        let intruder: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        agree(cols, &intruder, 3, None, 400_000_000).unwrap();
    }
}

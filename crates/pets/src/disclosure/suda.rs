//! Minimal sample uniques and SUDA scores (Elliot, Manning, Mayes, Gurd, Bane 2002, "SUDA: a
//! program for detecting special uniques", Joint UNECE/Eurostat work session on statistical
//! data confidentiality).
//!
//! A **minimal sample unique** (MSU) of a record is a set of quasi-identifiers on which the
//! record is unique in the release while it is unique on no proper subset. Records that share
//! their full combination with someone have none; the fewer attributes an MSU needs, the
//! more dangerous the record. With `ATT` quasi-identifiers and MSUs searched up to size `M`
//! (`M <= ATT - 1`), an MSU of size `s` scores `prod_{i=s}^{M} (ATT - i)` (Elliot et al.'s
//! weighting: an MSU of size 1 among 3 attributes scores 2, of size 2 scores 1; an MSU of
//! all `ATT` attributes scores 1), a record's SUDA score is the sum over its MSUs, and an
//! attribute's contribution is the share of the total score carried by MSUs that contain it
//! (as sdcMicro's `attribute_contributions`, which therefore add up to more than 100%).
//! The DIS-SUDA probability adjustment is not computed.
//!
//! Search: only records unique on all the quasi-identifiers can have MSUs. Subsets are
//! visited by increasing size; each subset's sample uniques are found by regrouping the
//! classes (never the rows: sorted runs and dense counters, one pass over the classes, see
//! `classes::regroup`), and a record is checked on a subset only if none of its MSUs found so
//! far is contained in it, which makes every hit minimal (masks of one size are never subsets
//! of each other, so a level's hits are added mask by mask). A subset is not regrouped at all
//! when every candidate already has an MSU inside it. Each candidate's MSUs are packed in one
//! `u64` (eight bytes a candidate). Work is bounded: levels are searched while the budget
//! lasts, and the result says how far it got.

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::classes::{EquivalenceClasses, bit, bitset, clear_bits, subset_recode};
use super::scenarios::{ScenarioError, positions_of};

/// Options of the MSU search.
#[derive(Debug, Clone, Copy)]
pub struct SudaOptions {
    /// Largest MSU size searched (default: all but one of the columns, at least 1).
    pub max_msu_size: Option<usize>,
    /// Most class visits (subsets x (classes + uniques)); default 400 million.
    pub max_work: u128,
    /// Return every record's score in [`Suda::record_scores`] (default true; 16 bytes per
    /// record with an MSU, so the report, which does not print them, turns it off).
    pub record_scores: bool,
}

impl Default for SudaOptions {
    fn default() -> Self {
        SudaOptions {
            max_msu_size: None,
            max_work: 400_000_000,
            record_scores: true,
        }
    }
}

/// Each candidate's MSUs (masks of at most [`MAX_SCENARIO_COLUMNS`] = 12 bits), in the order
/// found: up to [`SLOTS`] packed in one `u64` (bits `12 s..12 s + 12` hold slot `s`, bits
/// 60-62 the number used, bit 63 marks more in `overflow`), the rest in a side map. Eight
/// bytes a candidate instead of a vector each.
///
/// [`MAX_SCENARIO_COLUMNS`]: super::scenarios::MAX_SCENARIO_COLUMNS
struct MsuLists {
    packed: Vec<u64>,
    overflow: FxHashMap<usize, Vec<u32>>,
}

const SLOTS: u64 = 5;
const SLOT_BITS: u64 = 12;
const SPILLED: u64 = 1 << 63;

impl MsuLists {
    fn new(n: usize) -> Self {
        MsuLists {
            packed: vec![0; n],
            overflow: FxHashMap::default(),
        }
    }

    fn is_empty(&self, u: usize) -> bool {
        self.packed[u] == 0
    }

    fn inline(p: u64) -> impl Iterator<Item = u32> {
        let used = (p >> 60) & 7;
        (0..used).map(move |s| ((p >> (SLOT_BITS * s)) & ((1 << SLOT_BITS) - 1)) as u32)
    }

    /// The MSUs of candidate `u`, in the order found.
    fn masks(&self, u: usize) -> impl Iterator<Item = u32> + '_ {
        let p = self.packed[u];
        let spilled: &[u32] = if p & SPILLED != 0 {
            &self.overflow[&u]
        } else {
            &[]
        };
        Self::inline(p).chain(spilled.iter().copied())
    }

    /// Whether some candidate has no MSU contained in `mask`.
    fn any_uncovered(&self, mask: u32) -> bool {
        self.packed
            .par_iter()
            .enumerate()
            .any(|(u, &p)| !covered(&self.overflow, u, p, mask))
    }

    /// Add `mask` to every candidate `u` with `hit(u)` and no MSU contained in `mask`.
    fn add(&mut self, mask: u32, hit: impl Fn(usize) -> bool + Sync) {
        let overflow = &self.overflow;
        let spill: Vec<usize> = self
            .packed
            .par_iter_mut()
            .enumerate()
            .filter_map(|(u, p)| {
                if covered(overflow, u, *p, mask) || !hit(u) {
                    return None;
                }
                let used = (*p >> 60) & 7;
                if used < SLOTS {
                    *p |= u64::from(mask) << (SLOT_BITS * used);
                    *p += 1 << 60;
                    None
                } else {
                    *p |= SPILLED;
                    Some(u)
                }
            })
            .collect();
        for u in spill {
            self.overflow.entry(u).or_default().push(mask);
        }
    }

    /// Give `mask` to every candidate without an MSU.
    fn fill_empty(&mut self, mask: u32) {
        for p in self.packed.iter_mut().filter(|p| **p == 0) {
            *p = u64::from(mask) | (1 << 60);
        }
    }
}

/// How many records a combination is an MSU for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MsuCount {
    /// The columns of the combination.
    pub columns: Vec<String>,
    /// Bit `i` set when column `i` is in it.
    pub mask: u32,
    /// Records for which it is a minimal sample unique.
    pub records: u64,
}

/// Contribution of one attribute to the total SUDA score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeContribution {
    /// Column name.
    pub column: String,
    /// Share (percent) of the total score carried by MSUs containing the column.
    pub percent: f64,
    /// Records with at least one MSU containing the column.
    pub records: u64,
}

/// Result of the MSU search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suda {
    /// The columns searched.
    pub columns: Vec<String>,
    /// Largest MSU size fully searched.
    pub searched_up_to_size: usize,
    /// Whether every size up to the requested maximum was searched within the work bound.
    pub complete: bool,
    /// Records unique on all columns (the only candidates).
    pub candidate_records: u64,
    /// Records with at least one MSU found.
    pub records_with_msu: u64,
    /// Records by the size of their smallest MSU: entry `s - 1` counts size `s`.
    pub records_by_smallest_msu: Vec<u64>,
    /// MSU counts per combination, most records first.
    pub msu_counts: Vec<MsuCount>,
    /// Per-attribute contribution to the total score.
    pub contributions: Vec<AttributeContribution>,
    /// Sum of the records' SUDA scores.
    pub total_score: f64,
    /// Highest record SUDA score.
    pub max_score: f64,
    /// Record scores, one per full-set class index of a candidate (class size 1): `(class
    /// index, score)`. Indices, never values.
    pub record_scores: Vec<(u64, f64)>,
}

/// Whether an MSU of candidate `u` (packed `p`) is contained in `mask`.
fn covered(overflow: &FxHashMap<usize, Vec<u32>>, u: usize, p: u64, mask: u32) -> bool {
    MsuLists::inline(p).any(|m| m & !mask == 0)
        || (p & SPILLED != 0 && overflow[&u].iter().any(|&m| m & !mask == 0))
}

/// Find the minimal sample uniques of every record over the intruder `columns` (names of
/// quasi-identifiers of `classes`) and score them (Elliot et al. 2002).
pub fn suda(
    classes: &EquivalenceClasses,
    columns: &[impl AsRef<str>],
    opts: SudaOptions,
) -> Result<Suda, ScenarioError> {
    let positions = positions_of(classes, columns)?;
    let att = positions.len();
    let width = classes.layout().width();
    let names: Vec<String> = columns.iter().map(|c| c.as_ref().to_string()).collect();
    let max_size = opts
        .max_msu_size
        .unwrap_or(att.saturating_sub(1).max(1))
        .clamp(1, att);
    // Candidates: classes of size one over all the intruder columns.
    let full_mask = (1u32 << att) - 1;
    let uniques = bitset(classes.n_classes());
    classes.view_size_counts(&subset_recode(width, &positions, full_mask), Some(&uniques));
    let candidates: Vec<usize> = (0..classes.n_classes())
        .filter(|&i| bit(&uniques, i))
        .collect();
    let mut msus = MsuLists::new(candidates.len());
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
        // Masks of one size are never subsets of each other, so adding a mask's hits at once
        // leaves the other masks of the level unaffected: each hit is minimal.
        for &mask in &masks {
            if !msus.any_uncovered(mask) {
                continue;
            }
            clear_bits(&uniques);
            classes.view_size_counts(&subset_recode(width, &positions, mask), Some(&uniques));
            msus.add(mask, |u| bit(&uniques, candidates[u]));
        }
        searched = size;
    }
    drop(uniques);
    // A candidate without an MSU up to size ATT-1 is unique only on all columns: its MSU is
    // the full set (when the search reached ATT - 1).
    if searched + 1 == att && complete && max_size + 1 == att {
        msus.fill_empty(full_mask);
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
    for (u, &class) in candidates.iter().enumerate() {
        if msus.is_empty(u) {
            continue;
        }
        with_msu += 1;
        let mut score = 0.0;
        let mut touched = 0u32;
        let mut smallest = att;
        for m in msus.masks(u) {
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
        if opts.record_scores {
            record_scores.push((class as u64, score));
        }
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
    use super::*;
    use crate::disclosure::testutil::{int, table};

    /// sdcMicro's small example: a = (2,1,1), b = (0,3,0), c = (0,6,0). MSUs: record 1 {a};
    /// record 2 {b}, {c}; record 3 {a,b}, {a,c}. Contributions 50%, 37.5%, 37.5%.
    #[test]
    fn sdcmicro_example() {
        let t = table(vec![
            int("a", 3, &[2, 1, 1]),
            int("b", 4, &[0, 3, 0]),
            int("c", 7, &[0, 6, 0]),
        ]);
        let c = EquivalenceClasses::compute(&t, &["a", "b", "c"], None).unwrap();
        let s = suda(&c, &["a", "b", "c"], SudaOptions::default()).unwrap();
        assert!(s.complete);
        assert_eq!(s.candidate_records, 3);
        assert_eq!(s.records_with_msu, 3);
        let pct: Vec<f64> = s.contributions.iter().map(|c| c.percent).collect();
        assert!((pct[0] - 50.0).abs() < 1e-9 && (pct[1] - 37.5).abs() < 1e-9);
        assert!((pct[2] - 37.5).abs() < 1e-9);
        // scores: r1 = 2, r2 = 4, r3 = 2
        assert!((s.total_score - 8.0).abs() < 1e-12);
        assert!((s.max_score - 4.0).abs() < 1e-12);
        assert_eq!(s.records_by_smallest_msu, vec![2, 1, 0]);
        let count = |mask| {
            s.msu_counts
                .iter()
                .find(|m| m.mask == mask)
                .unwrap()
                .records
        };
        assert_eq!(count(0b001), 1);
        assert_eq!(count(0b011), 1);
        assert_eq!(count(0b101), 1);
    }

    #[test]
    fn work_bound_truncates() {
        let t = table(vec![
            int("a", 3, &[2, 1, 1]),
            int("b", 4, &[0, 3, 0]),
            int("c", 7, &[0, 6, 0]),
        ]);
        let c = EquivalenceClasses::compute(&t, &["a", "b", "c"], None).unwrap();
        let s = suda(
            &c,
            &["a", "b", "c"],
            SudaOptions {
                max_msu_size: None,
                max_work: 20,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(!s.complete);
        assert_eq!(s.searched_up_to_size, 1);
    }

    #[test]
    fn only_unique_on_all_columns() {
        // records: (0,0),(0,1),(1,0),(1,1) each twice except (1,1) once -> its MSU is {a,b}
        let t = table(vec![
            int("a", 2, &[0, 0, 0, 0, 1, 1, 1]),
            int("b", 2, &[0, 0, 1, 1, 0, 0, 1]),
        ]);
        let c = EquivalenceClasses::compute(&t, &["a", "b"], None).unwrap();
        let s = suda(&c, &["a", "b"], SudaOptions::default()).unwrap();
        assert_eq!(s.candidate_records, 1);
        assert_eq!(s.msu_counts.len(), 1);
        assert_eq!(s.msu_counts[0].mask, 0b11);
        assert_eq!(s.records_by_smallest_msu, vec![0, 1]);
    }
}

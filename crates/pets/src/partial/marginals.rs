//! One partition's exact 1-way and 2-way counts over encoded columns: what a marginal-based
//! synthesiser (MST) reads from the data, merged exactly across partitions.
//!
//! MST touches the rows only through exact counts that it then noises: every synthesised
//! column's 1-way counts, and the 2-way counts of candidate pairs on **compressed** codes
//! (the compression is decided at the driver from noisy 1-way counts, so a partition cannot
//! apply it). A partition therefore sends the 2-way counts of every candidate pair on the
//! columns' full declared code spaces; compressing is then a many-to-one map of cells,
//! `compressed[map_a(i) size_b + map_b(j)] = sum of full[i card_b + j]`, which commutes
//! with adding partitions. Candidate pairs are those whose columns both have at most
//! `max_pair_values` declared codes (public: from the schema), so the pairs sent depend
//! only on the schema and the options, never on the data.
//!
//! Pair counts are **sparse** (cell index, count), sorted by index: a pair of two 4,096-code
//! columns has 16.7M cells, but a partition of `n` rows fills at most `n` of them. Merging
//! adds two sorted lists. Sizes: at most `d` 1-way vectors of declared size and, per pair,
//! at most `min(n, cells)` entries.

use serde::{Deserialize, Serialize};

use crate::data::EncodedColumn;

/// The full-domain 2-way counts of one pair of columns, sparse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairCounts {
    /// Index of the first column (in [`MarginalCounts::columns`]).
    pub a: u32,
    /// Index of the second column (`a < b`).
    pub b: u32,
    /// Non-empty cells `code_a * card_b + code_b`, increasing.
    pub cells: Vec<u64>,
    /// Their counts (same length, each at least one).
    pub counts: Vec<u64>,
}

/// Exact 1-way counts of every column and full-domain 2-way counts of every candidate
/// pair (module docs), for one partition or merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarginalCounts {
    /// The columns, in order.
    pub columns: Vec<String>,
    /// Their declared numbers of codes.
    pub cards: Vec<u32>,
    /// The largest number of codes a column may have to be in a pair.
    pub max_pair_values: u32,
    /// Rows counted.
    pub rows: u64,
    /// 1-way counts of each column, by code.
    pub one_way: Vec<Vec<u64>>,
    /// Every pair `(a, b)`, `a < b`, both columns at most `max_pair_values` codes, in
    /// lexicographic order.
    pub pairs: Vec<PairCounts>,
}

/// Pairs up to this many cells are counted into a dense vector, larger ones into a sorted
/// copy of their cell indices (the dense vector would be mostly zeros).
const DENSE_CELLS: u64 = 1 << 20;

impl MarginalCounts {
    /// Count `cols` (all of one length; the synthesised columns of one partition).
    pub fn compute(cols: &[&EncodedColumn], max_pair_values: u32) -> MarginalCounts {
        use rayon::prelude::*;
        let cards: Vec<u32> = cols.iter().map(|c| c.codebook.cardinality()).collect();
        let rows = cols.first().map_or(0, |c| c.codes.len() as u64);
        let one_way: Vec<Vec<u64>> = cols.par_iter().map(|c| c.counts()).collect();
        let d = cols.len();
        let candidates: Vec<(usize, usize)> = (0..d)
            .flat_map(|a| (a + 1..d).map(move |b| (a, b)))
            .filter(|&(a, b)| cards[a] <= max_pair_values && cards[b] <= max_pair_values)
            .collect();
        let pairs = candidates
            .par_iter()
            .map(|&(a, b)| pair_counts(cols[a], cols[b], a, b))
            .collect();
        MarginalCounts {
            columns: cols.iter().map(|c| c.name().to_string()).collect(),
            cards,
            max_pair_values,
            rows,
            one_way,
            pairs,
        }
    }

    /// Add another partition's counts (same columns, code spaces and pair limit): exact,
    /// associative and commutative.
    pub fn merge(mut self, other: MarginalCounts) -> Result<MarginalCounts, String> {
        if self.columns != other.columns
            || self.cards != other.cards
            || self.max_pair_values != other.max_pair_values
            || self.pairs.len() != other.pairs.len()
        {
            return Err(format!(
                "marginals of columns {:?} ({:?} codes) and of {:?} ({:?} codes); compute \
                 every partition with the same schema and options",
                self.columns, self.cards, other.columns, other.cards
            ));
        }
        let overflow = || "a count overflows".to_string();
        self.rows = self.rows.checked_add(other.rows).ok_or_else(overflow)?;
        for (a, b) in self.one_way.iter_mut().zip(other.one_way) {
            if a.len() != b.len() {
                return Err("1-way counts of different lengths".into());
            }
            for (x, y) in a.iter_mut().zip(b) {
                *x = x.checked_add(y).ok_or_else(overflow)?;
            }
        }
        for (p, q) in self.pairs.iter_mut().zip(other.pairs) {
            if (p.a, p.b) != (q.a, q.b) {
                return Err("pairs in a different order".into());
            }
            *p = merge_sparse(p, &q).ok_or_else(overflow)?;
        }
        Ok(self)
    }

    /// Check what bytes cannot be trusted to hold: lengths agree with the declared code
    /// spaces, pairs are the candidates in order, cells increase and fit their pair.
    pub fn validate(&self) -> Result<(), String> {
        let d = self.columns.len();
        if self.cards.len() != d || self.one_way.len() != d {
            return Err("columns, code spaces and 1-way counts differ in number".into());
        }
        for (i, (v, &k)) in self.one_way.iter().zip(&self.cards).enumerate() {
            if v.len() != k as usize {
                return Err(format!(
                    "{}: {} counts for {k} codes",
                    self.columns[i],
                    v.len()
                ));
            }
        }
        let expected: Vec<(u32, u32)> = (0..d as u32)
            .flat_map(|a| (a + 1..d as u32).map(move |b| (a, b)))
            .filter(|&(a, b)| {
                self.cards[a as usize] <= self.max_pair_values
                    && self.cards[b as usize] <= self.max_pair_values
            })
            .collect();
        let got: Vec<(u32, u32)> = self.pairs.iter().map(|p| (p.a, p.b)).collect();
        if got != expected {
            return Err("the pairs are not the candidate pairs of these columns".into());
        }
        for p in &self.pairs {
            let cells = u64::from(self.cards[p.a as usize]) * u64::from(self.cards[p.b as usize]);
            if p.cells.len() != p.counts.len()
                || p.cells.windows(2).any(|w| w[0] >= w[1])
                || p.cells.last().is_some_and(|&c| c >= cells)
                || p.counts.contains(&0)
            {
                return Err(format!(
                    "the pair {} x {} has malformed cells",
                    self.columns[p.a as usize], self.columns[p.b as usize]
                ));
            }
        }
        Ok(())
    }

    /// The pair `(a, b)` (`a < b`), if it is a candidate.
    pub fn pair(&self, a: usize, b: usize) -> Option<&PairCounts> {
        self.pairs
            .binary_search_by_key(&(a as u32, b as u32), |p| (p.a, p.b))
            .ok()
            .map(|i| &self.pairs[i])
    }

    /// The 2-way counts of columns `a` and `b` (`a < b`, a candidate pair) on compressed
    /// codes: full code `i` of `a` goes to `map_a[i]` of `size_a` codes, likewise `b`;
    /// row-major `(a, b)`, as a table's `count_mapped` lays them out.
    pub fn mapped_pair(
        &self,
        a: usize,
        b: usize,
        (map_a, size_a): (&[u32], usize),
        (map_b, size_b): (&[u32], usize),
    ) -> Option<Vec<u64>> {
        let p = self.pair(a, b)?;
        let card_b = u64::from(self.cards[b]);
        let mut out = vec![0u64; size_a * size_b];
        for (&cell, &n) in p.cells.iter().zip(&p.counts) {
            let (i, j) = ((cell / card_b) as usize, (cell % card_b) as usize);
            out[map_a[i] as usize * size_b + map_b[j] as usize] += n;
        }
        Some(out)
    }
}

/// Sparse full-domain counts of `x` by `y`.
fn pair_counts(x: &EncodedColumn, y: &EncodedColumn, a: usize, b: usize) -> PairCounts {
    let card_b = u64::from(y.codebook.cardinality());
    let cells_total = u64::from(x.codebook.cardinality()) * card_b;
    let index = |(&i, &j): (&u32, &u32)| u64::from(i) * card_b + u64::from(j);
    let (cells, counts) = if cells_total <= DENSE_CELLS {
        let mut dense = vec![0u64; cells_total as usize];
        for k in x.codes.iter().zip(&y.codes).map(index) {
            dense[k as usize] += 1;
        }
        dense
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .map(|(k, &n)| (k as u64, n))
            .unzip()
    } else {
        let mut keys: Vec<u64> = x.codes.iter().zip(&y.codes).map(index).collect();
        keys.sort_unstable();
        let mut cells: Vec<u64> = Vec::new();
        let mut counts: Vec<u64> = Vec::new();
        for k in keys {
            if cells.last() == Some(&k) {
                *counts.last_mut().expect("same length") += 1;
            } else {
                cells.push(k);
                counts.push(1);
            }
        }
        (cells, counts)
    };
    PairCounts {
        a: a as u32,
        b: b as u32,
        cells,
        counts,
    }
}

/// The sum of two sparse, sorted count lists; `None` on overflow.
fn merge_sparse(p: &PairCounts, q: &PairCounts) -> Option<PairCounts> {
    let (mut cells, mut counts) = (
        Vec::with_capacity(p.cells.len() + q.cells.len()),
        Vec::with_capacity(p.cells.len() + q.cells.len()),
    );
    let (mut i, mut j) = (0, 0);
    while i < p.cells.len() || j < q.cells.len() {
        let take_p = j == q.cells.len() || (i < p.cells.len() && p.cells[i] <= q.cells[j]);
        let take_q = i == p.cells.len() || (j < q.cells.len() && q.cells[j] <= p.cells[i]);
        let cell = if take_p { p.cells[i] } else { q.cells[j] };
        let mut n = 0u64;
        if take_p {
            n = n.checked_add(p.counts[i])?;
            i += 1;
        }
        if take_q {
            n = n.checked_add(q.counts[j])?;
            j += 1;
        }
        cells.push(cell);
        counts.push(n);
    }
    Some(PairCounts {
        a: p.a,
        b: p.b,
        cells,
        counts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{CodeBook, ColumnSpec};

    fn column(name: &str, card: u32, codes: &[u32]) -> EncodedColumn {
        let spec: ColumnSpec = serde_json::from_value(serde_json::json!({
            "name": name, "kind": "categorical",
            "values": (0..card).map(|i| format!("v{i}")).collect::<Vec<_>>()
        }))
        .unwrap();
        EncodedColumn {
            spec,
            codebook: CodeBook {
                n_values: card,
                null_code: None,
                other_code: None,
            },
            codes: codes.to_vec(),
        }
    }

    fn counts(rows: std::ops::Range<usize>) -> MarginalCounts {
        let a: Vec<u32> = rows.clone().map(|r| (r % 3) as u32).collect();
        let b: Vec<u32> = rows.clone().map(|r| ((r * 7) % 5) as u32).collect();
        let c: Vec<u32> = rows.map(|r| ((r * 13) % 2_000) as u32).collect();
        let cols = [
            column("a", 3, &a),
            column("b", 5, &b),
            column("wide", 2_000, &c),
        ];
        let refs: Vec<&EncodedColumn> = cols.iter().collect();
        MarginalCounts::compute(&refs, 1_000)
    }

    #[test]
    fn any_split_merges_to_the_single_pass_and_maps_like_a_table() {
        let whole = counts(0..1_000);
        whole.validate().unwrap();
        // `wide` has more codes than max_pair_values: only (a, b) is a candidate.
        assert_eq!(whole.pairs.len(), 1);
        assert!(whole.pair(0, 2).is_none());
        for cuts in [vec![0, 1_000], vec![0, 1, 500, 1_000], vec![0, 999, 1_000]] {
            let parts: Vec<MarginalCounts> = cuts.windows(2).map(|w| counts(w[0]..w[1])).collect();
            let fwd = parts
                .iter()
                .cloned()
                .reduce(|x, y| x.merge(y).unwrap())
                .unwrap();
            let back = parts
                .into_iter()
                .rev()
                .reduce(|x, y| x.merge(y).unwrap())
                .unwrap();
            assert_eq!(fwd, whole, "{cuts:?}");
            assert_eq!(back, whole, "{cuts:?}");
        }
        // Mapped counts equal counting the mapped codes directly.
        let map_a = [0u32, 1, 1];
        let map_b = [0u32, 0, 1, 1, 2];
        let got = whole.mapped_pair(0, 1, (&map_a, 2), (&map_b, 3)).unwrap();
        let mut want = vec![0u64; 6];
        for r in 0..1_000usize {
            want[map_a[r % 3] as usize * 3 + map_b[(r * 7) % 5] as usize] += 1;
        }
        assert_eq!(got, want);
        assert_eq!(whole.one_way[0].iter().sum::<u64>(), 1_000);
    }

    #[test]
    fn sparse_pairs_merge_like_dense_ones() {
        let x: Vec<u32> = (0..3_000u32).map(|r| (r * 31) % 1_500).collect();
        let y: Vec<u32> = (0..3_000u32).map(|r| (r * 17) % 1_400).collect();
        let (cx, cy) = (column("x", 1_500, &x), column("y", 1_400, &y));
        let all = MarginalCounts::compute(&[&cx, &cy], 2_000);
        const {
            assert!(
                1_500 * 1_400 > DENSE_CELLS,
                "this test needs the sparse path"
            )
        };
        let half = |r: std::ops::Range<usize>| {
            let (a, b) = (column("x", 1_500, &x[r.clone()]), column("y", 1_400, &y[r]));
            MarginalCounts::compute(&[&a, &b], 2_000)
        };
        let merged = half(0..1_234).merge(half(1_234..3_000)).unwrap();
        assert_eq!(merged, all);
        merged.validate().unwrap();
        assert_eq!(merged.pairs[0].counts.iter().sum::<u64>(), 3_000);
    }

    #[test]
    fn other_columns_or_malformed_counts_are_refused() {
        let a = counts(0..10);
        let mut other = a.clone();
        other.columns[1] = "c".into();
        assert!(a.clone().merge(other).is_err());
        let mut bad = a.clone();
        bad.pairs[0].cells.reverse();
        assert!(bad.validate().is_err());
        let mut bad = a.clone();
        bad.one_way[0].pop();
        assert!(bad.validate().is_err());
        let mut bad = a;
        bad.pairs.clear();
        assert!(bad.validate().is_err());
    }
}

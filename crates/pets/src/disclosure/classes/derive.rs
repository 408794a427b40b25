//! Deriving: coarser classes computed from the classes alone, without another pass over
//! the rows: projection onto fewer quasi-identifiers, generalisation of codes into bands,
//! class sizes after a recoding (for the report's what-if fixes), size frequencies.

use rustc_hash::FxHashMap;

use super::build::{Accumulator, pair_key};
use super::{ClassColumn, ClassLayout, ClassesError, EquivalenceClasses};

impl EquivalenceClasses {
    /// The classes over a subset of the quasi-identifiers (positions into
    /// [`ClassLayout::quasi_identifiers`], in the order wanted), derived from these classes
    /// without touching the rows. `keep_sensitive` keeps the histograms.
    pub fn project(
        &self,
        positions: &[usize],
        keep_sensitive: bool,
    ) -> Result<EquivalenceClasses, ClassesError> {
        let w = self.layout.width();
        if positions.is_empty() {
            return Err(ClassesError::InvalidArgument {
                name: "positions",
                reason: "keep at least one quasi-identifier".into(),
            });
        }
        for (k, &p) in positions.iter().enumerate() {
            if p >= w || positions[..k].contains(&p) {
                return Err(ClassesError::InvalidArgument {
                    name: "positions",
                    reason: format!(
                        "position {p} is out of range (0..{w}) or repeated; \
                         give each quasi-identifier position once"
                    ),
                });
            }
        }
        let layout = ClassLayout::new(
            positions
                .iter()
                .map(|&p| self.layout.quasi_identifiers[p].clone())
                .collect(),
            if keep_sensitive {
                self.layout.sensitive.clone()
            } else {
                None
            },
        );
        Ok(self.regroup(layout, |src, dst| {
            for (d, &p) in dst.iter_mut().zip(positions) {
                *d = src[p];
            }
        }))
    }

    /// The classes after merging the codes of quasi-identifier `position` through `map`
    /// (old code -> new code, `new_cardinality` codes), e.g. single years of age into
    /// five-year bands. Derived from the classes without touching the rows.
    pub fn generalise(
        &self,
        position: usize,
        map: &[u32],
        new_cardinality: u32,
    ) -> Result<EquivalenceClasses, ClassesError> {
        let w = self.layout.width();
        if position >= w {
            return Err(ClassesError::InvalidArgument {
                name: "position",
                reason: format!("quasi-identifier position {position} is out of range (0..{w})"),
            });
        }
        let col = &self.layout.quasi_identifiers[position];
        if map.len() != col.cardinality as usize {
            return Err(ClassesError::InvalidArgument {
                name: "map",
                reason: format!(
                    "column {:?} has {} codes but the map has {} entries; map every code",
                    col.name,
                    col.cardinality,
                    map.len()
                ),
            });
        }
        if let Some(bad) = map.iter().find(|&&c| c >= new_cardinality) {
            return Err(ClassesError::InvalidArgument {
                name: "map",
                reason: format!("maps to code {bad} but new_cardinality is {new_cardinality}"),
            });
        }
        let mut cols = self.layout.quasi_identifiers.clone();
        cols[position].cardinality = new_cardinality;
        cols[position].n_values = cols[position].n_values.min(new_cardinality);
        let layout = ClassLayout::new(cols, self.layout.sensitive.clone());
        Ok(self.regroup(layout, |src, dst| {
            dst.copy_from_slice(src);
            dst[position] = map[src[position] as usize];
        }))
    }

    /// Regroup classes under a new layout, mapping each tuple with `f(old, new)`.
    pub(super) fn regroup(
        &self,
        layout: ClassLayout,
        f: impl Fn(&[u32], &mut [u32]) + Sync,
    ) -> EquivalenceClasses {
        let keep_s = layout.sensitive.is_some();
        let nw = layout.width();
        let mut acc = Accumulator::new(&layout, self.n_classes() / 2 + 1);
        let mut tuple = vec![0u32; nw];
        for c in self.iter() {
            f(c.codes(), &mut tuple);
            let key = layout.key(&tuple);
            let idx = acc.class_index(key, &tuple);
            // Regrouped sizes add up to at most the classes' records (`u32`).
            acc.sizes[idx] += c.size as u32;
            if keep_s {
                for (&s, &n) in c.sensitive_codes.iter().zip(c.sensitive_counts) {
                    *acc.pairs.entry(pair_key(idx, s)).or_insert(0) += n;
                }
            }
        }
        let mut out = acc.finish(layout);
        out.n_records = self.n_records;
        if keep_s {
            out.sensitive_totals = self.sensitive_totals.clone();
        }
        out
    }

    /// Class sizes (in no particular order) after mapping every class's code tuple with
    /// `f(old, new)` into the quasi-identifiers `columns`: the cheap way to simulate a
    /// generalisation when only the sizes matter.
    pub fn sizes_after(
        &self,
        columns: Vec<ClassColumn>,
        f: impl Fn(&[u32], &mut [u32]),
    ) -> Vec<u64> {
        let layout = ClassLayout::new(columns, None);
        let mut m: FxHashMap<u128, u64> =
            FxHashMap::with_capacity_and_hasher(self.n_classes() / 2 + 1, Default::default());
        let mut tuple = vec![0u32; layout.width()];
        for i in 0..self.n_classes() {
            f(self.class_codes(i), &mut tuple);
            *m.entry(layout.key(&tuple)).or_insert(0) += u64::from(self.sizes[i]);
        }
        m.into_values().collect()
    }

    /// Frequency of class sizes: `(size, number of classes of that size)`, ascending size.
    pub fn size_frequencies(&self) -> Vec<(u64, u64)> {
        let mut m: FxHashMap<u64, u64> = FxHashMap::default();
        for &s in &self.sizes {
            *m.entry(u64::from(s)).or_insert(0) += 1;
        }
        let mut v: Vec<(u64, u64)> = m.into_iter().collect();
        v.sort_unstable();
        v
    }
}

impl EquivalenceClasses {
    /// The classes after recoding every quasi-identifier at once: position `j`'s codes go
    /// through `maps[j]` (old code -> new code) into `columns[j]`. Derived from the classes
    /// without touching the rows, like [`EquivalenceClasses::generalise`] for all columns.
    pub fn recode(
        &self,
        columns: Vec<ClassColumn>,
        maps: &[Vec<u32>],
    ) -> Result<EquivalenceClasses, ClassesError> {
        let w = self.layout.width();
        if columns.len() != w || maps.len() != w {
            return Err(ClassesError::InvalidArgument {
                name: "maps",
                reason: format!("give one column and one map per quasi-identifier ({w})"),
            });
        }
        for ((old, new), map) in self.layout.quasi_identifiers.iter().zip(&columns).zip(maps) {
            if map.len() != old.cardinality as usize || map.iter().any(|&c| c >= new.cardinality) {
                return Err(ClassesError::InvalidArgument {
                    name: "maps",
                    reason: format!(
                        "the map of {:?} must send each of its {} codes below {}",
                        old.name, old.cardinality, new.cardinality
                    ),
                });
            }
        }
        let layout = ClassLayout::new(columns, self.layout.sensitive.clone());
        Ok(self.regroup(layout, |src, dst| {
            for ((d, &s), map) in dst.iter_mut().zip(src).zip(maps) {
                *d = map[s as usize];
            }
        }))
    }

    /// Only the classes `keep` accepts (e.g. those a release does not suppress); the record
    /// count and the sensitive attribute's totals are those of the classes kept.
    pub fn retain(&self, keep: impl Fn(&super::ClassView<'_>) -> bool) -> EquivalenceClasses {
        let layout = self.layout.clone();
        let keep_s = layout.sensitive.is_some();
        let mut acc = Accumulator::new(&layout, self.n_classes() / 2 + 1);
        let mut n_records = 0u64;
        let mut totals = vec![0u64; self.sensitive_totals.len()];
        for c in self.iter().filter(|c| keep(c)) {
            let idx = acc.class_index(c.key, c.codes());
            acc.sizes[idx] += c.size as u32;
            n_records += c.size;
            if keep_s {
                for (&s, &n) in c.sensitive_codes.iter().zip(c.sensitive_counts) {
                    *acc.pairs.entry(pair_key(idx, s)).or_insert(0) += n;
                    totals[s as usize] += u64::from(n);
                }
            }
        }
        let mut out = acc.finish(layout);
        out.n_records = n_records;
        if keep_s {
            out.sensitive_totals = totals;
        }
        out
    }
}

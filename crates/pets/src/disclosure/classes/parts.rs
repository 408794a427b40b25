//! Parts: equivalence classes as plain data (layout, code tuples, sizes, sparse sensitive
//! histograms) to send between processes, and rebuilt from them with every invariant
//! checked. Classes computed on a Spark partition travel this way to the driver
//! ([`crate::partial`]); rebuilding them and merging gives the single-pass classes exactly.

use serde::{Deserialize, Serialize};

use super::build::{Accumulator, pair_key};
use super::{ClassLayout, ClassesError, EquivalenceClasses};

/// Equivalence classes as plain data: class `i` has the code tuple
/// `tuples[i * width..(i + 1) * width]`, `sizes[i]` records and, with a sensitive
/// attribute, the codes `hist_codes[hist_start[i]..hist_start[i + 1]]` (ascending) with
/// their counts. No value of the data appears, only codes of the schema's code books.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassParts {
    /// The columns and keying.
    pub layout: ClassLayout,
    /// Code tuples, `width` a class.
    pub tuples: Vec<u32>,
    /// Records per class.
    pub sizes: Vec<u64>,
    /// Offsets of each class's histogram (`classes + 1` entries; empty without a sensitive
    /// attribute).
    pub hist_start: Vec<u64>,
    /// Sensitive codes present, class by class.
    pub hist_codes: Vec<u32>,
    /// Their counts.
    pub hist_counts: Vec<u64>,
}

fn bad(reason: impl Into<String>) -> ClassesError {
    ClassesError::InvalidArgument {
        name: "class parts",
        reason: reason.into(),
    }
}

impl EquivalenceClasses {
    /// These classes as plain data ([`EquivalenceClasses::from_parts`] rebuilds them equal).
    pub fn to_parts(&self) -> ClassParts {
        let n = self.n_classes();
        let w = self.layout.width();
        let mut tuples = Vec::with_capacity(n * w);
        for i in 0..n {
            tuples.extend_from_slice(self.class_codes(i));
        }
        ClassParts {
            layout: self.layout.clone(),
            tuples,
            sizes: self.sizes.iter().map(|&s| u64::from(s)).collect(),
            hist_start: self.hist_start.iter().map(|&s| u64::from(s)).collect(),
            hist_codes: self.hist_codes.clone(),
            hist_counts: self.hist_counts.iter().map(|&k| u64::from(k)).collect(),
        }
    }

    /// Rebuild classes from parts, checking that the keying is the one the columns imply,
    /// that every code is inside its column's code book, that the histogram offsets are
    /// ascending and in range, that each class's codes ascend and its counts add up to its
    /// size. Repeated tuples are added together, so the result is canonical: equal to
    /// [`EquivalenceClasses::compute`] over the same records.
    pub fn from_parts(parts: ClassParts) -> Result<EquivalenceClasses, ClassesError> {
        let ClassParts {
            layout,
            tuples,
            sizes,
            hist_start,
            hist_codes,
            hist_counts,
        } = parts;
        let expected = ClassLayout::new(layout.quasi_identifiers.clone(), layout.sensitive.clone());
        if expected != layout || layout.width() == 0 {
            return Err(bad("the keying does not follow from the columns"));
        }
        let w = layout.width();
        let n = sizes.len();
        if tuples.len() != n * w {
            return Err(bad(format!(
                "{} codes for {n} classes of {w} quasi-identifiers",
                tuples.len()
            )));
        }
        for (j, col) in layout.quasi_identifiers.iter().enumerate() {
            if tuples
                .iter()
                .skip(j)
                .step_by(w)
                .any(|&c| c >= col.cardinality)
            {
                return Err(bad(format!(
                    "a code of {:?} is outside its {} codes",
                    col.name, col.cardinality
                )));
            }
        }
        let sens_card = layout.sensitive.as_ref().map(|s| s.cardinality);
        match sens_card {
            Some(card) => {
                if hist_start.len() != n + 1
                    || hist_start.first() != Some(&0)
                    || hist_start.windows(2).any(|p| p[0] > p[1])
                    || hist_start.last().copied() != Some(hist_codes.len() as u64)
                    || hist_codes.len() != hist_counts.len()
                {
                    return Err(bad("histogram offsets do not match the histograms"));
                }
                if hist_codes.iter().any(|&c| c >= card) {
                    return Err(bad("a sensitive code is outside its code book"));
                }
            }
            None => {
                if !(hist_start.is_empty() && hist_codes.is_empty() && hist_counts.is_empty()) {
                    return Err(bad("histograms without a sensitive attribute"));
                }
            }
        }
        let records = sizes
            .iter()
            .try_fold(0u64, |a, &s| a.checked_add(s))
            .ok_or_else(|| bad("class sizes overflow"))?;
        super::build::check_records(records)?;
        let mut acc = Accumulator::new(&layout, n);
        for i in 0..n {
            let tuple = &tuples[i * w..(i + 1) * w];
            let idx = acc.class_index(layout.key(tuple), tuple);
            // Every size, and every sum of them, is at most `records` (checked above).
            acc.sizes[idx] += sizes[i] as u32;
            if sens_card.is_some() {
                let r = hist_start[i] as usize..hist_start[i + 1] as usize;
                let (codes, counts) = (&hist_codes[r.clone()], &hist_counts[r]);
                if codes.windows(2).any(|p| p[0] >= p[1])
                    || counts.iter().try_fold(0u64, |a, &k| a.checked_add(k)) != Some(sizes[i])
                {
                    return Err(bad(format!(
                        "class {i}: sensitive codes not ascending or counts not adding up to its size"
                    )));
                }
                for (&s, &c) in codes.iter().zip(counts) {
                    // At most the class's size (the counts add up to it).
                    *acc.pairs.entry(pair_key(idx, s)).or_insert(0) += c as u32;
                }
            }
        }
        Ok(acc.finish(layout))
    }
}

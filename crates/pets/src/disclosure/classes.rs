//! Equivalence classes: the records that share one combination of quasi-identifier codes.
//!
//! An equivalence class (Sweeney 2002, "k-anonymity: a model for protecting privacy") is the
//! set of records that an intruder who knows the quasi-identifiers cannot tell apart. Every
//! measure in [`crate::disclosure`] is a function of the classes, their sizes and, when a
//! sensitive attribute is given, the histogram of its values inside each class.
//!
//! [`EquivalenceClasses::compute`] groups an [`EncodedTable`] in one parallel pass over the
//! codes. When a row's class key and sensitive code pack into one `u64` (the usual case), each
//! row becomes one packed integer, the integers are sorted in parallel (rayon) and one scan of
//! the sorted runs builds the classes in place: about 8 bytes a row while grouping, and
//! nothing dense in the number of classes times the number of sensitive values. Wider keys
//! fall back to per-chunk sparse `FxHashMap` counting merged pairwise. Each class is identified
//! by a **key** computed only from its codes and the schema's code books: the mixed-radix
//! number `sum(code_i * stride_i)` when the product of the cardinalities fits in 128 bits,
//! otherwise a 128-bit hash of the code tuple (two independent 64-bit mixes; the chance that
//! two of `C` distinct tuples collide is below `C^2 / 2^129`, about `10^-27` for a million
//! classes). Because keys depend on the schema only, classes computed on separately encoded
//! partitions merge exactly ([`EquivalenceClasses::merge`]): sizes and histograms add up.
//!
//! Classes are kept sorted by key. When every key fits in 64 bits (mixed radix), only the key
//! is stored and a class's code tuple is decoded from it when asked for; otherwise tuples are
//! stored next to the 128-bit keys. Either way any coarser view (fewer quasi-identifiers, or
//! codes merged into bands) can be derived from the classes alone
//! ([`EquivalenceClasses::project`], [`EquivalenceClasses::generalise`]) without another pass
//! over the rows (compact tuples are decoded once, on first use, and cached). When only the
//! sizes of a coarser view matter (intruder scenarios, SUDA, the report's what-if fixes), the
//! classes are **regrouped** instead (module `regroup`): because they are sorted by code tuple,
//! a view's classes are runs of its leading kept columns, grouped by dense counters or sorts
//! in parallel, one pass over the classes and no hash map. Storage per class: the key (8 or
//! 16 bytes), the size (4), the histogram offset (4) and 8 bytes per (sensitive code, count)
//! pair: 24 bytes a class at 10M records of about one record a class, against 36 with `u64`
//! sizes, offsets and counts (the anonymisation search's memory target is twice the codes).
//! Sizes, counts and offsets are `u32` because a class, a count and the (class, code) pairs
//! are each at most the records, and classes hold at most [`MAX_RECORDS`] records (checked
//! when they are computed, merged or rebuilt: [`ClassesError::TooManyRecords`]).

mod build;
mod derive;
mod keying;
mod parts;
mod regroup;

use std::sync::OnceLock;

use rayon::prelude::*;

use crate::data::tabulate::decode_index;
use crate::data::{EncodedColumn, EncodedTable};

#[cfg(test)]
use build::*;
use keying::KeyStore;
pub(crate) use keying::hash_tuple;
pub use keying::{ClassColumn, ClassLayout, Keying};
pub use parts::ClassParts;
pub(crate) use regroup::{Narrow, Recode, bit, bitset, clear_bits, subset_recode};

/// Errors from grouping records into equivalence classes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ClassesError {
    /// A column was named that the encoded table does not hold.
    #[error(
        "unknown column {column:?} (given as {role}); the encoded table has: {}; \
         check the spelling or encode that column too",
        available.join(", ")
    )]
    UnknownColumn {
        /// The name given.
        column: String,
        /// Which argument named it ("quasi-identifier", "sensitive attribute").
        role: &'static str,
        /// Columns that exist.
        available: Vec<String>,
    },
    /// No quasi-identifier was given.
    #[error("no quasi-identifiers given; name at least one column an intruder could know")]
    NoQuasiIdentifiers,
    /// A quasi-identifier was listed twice.
    #[error("quasi-identifier {column:?} is listed twice; list each column once")]
    DuplicateColumn {
        /// The repeated name.
        column: String,
    },
    /// The sensitive attribute is also listed as a quasi-identifier.
    #[error(
        "column {column:?} is both a quasi-identifier and the sensitive attribute; \
         remove it from one of the two lists"
    )]
    SensitiveIsQuasiIdentifier {
        /// The column named twice.
        column: String,
    },
    /// Two sets of classes with different layouts were merged or compared.
    #[error("cannot merge equivalence classes computed over different columns: {detail}")]
    LayoutMismatch {
        /// What differs.
        detail: String,
    },
    /// More records than classes hold ([`MAX_RECORDS`]).
    #[error(
        "{records} records is more than one set of equivalence classes holds ({max}); assess \
         a sample, or partitions of the extract one at a time"
    )]
    TooManyRecords {
        /// The records counted.
        records: u64,
        /// [`MAX_RECORDS`].
        max: u64,
    },
    /// A bad argument to a projection or generalisation.
    #[error("invalid argument {name}: {reason}")]
    InvalidArgument {
        /// The argument.
        name: &'static str,
        /// What is wrong and what to do.
        reason: String,
    },
}

/// Equivalence classes of a table over chosen quasi-identifiers, with per-class histograms
/// of a sensitive attribute (sparse) when one is given. See the module documentation.
#[derive(Debug, Clone)]
pub struct EquivalenceClasses {
    layout: ClassLayout,
    keys: KeyStore,
    /// `u64` strides when tuples are decoded from keys (then `codes` is empty).
    compact: Option<Vec<u64>>,
    /// Code tuples, `width` a class, only when keys are not compact.
    codes: Vec<u32>,
    /// Tuples decoded from compact keys on first use (not part of equality).
    decoded: OnceLock<Vec<u32>>,
    /// Narrow per-column codes for regrouping, built on first use (not part of equality).
    narrow: OnceLock<Vec<regroup::Narrow>>,
    sizes: Vec<u32>,
    hist_start: Vec<u32>,
    hist_codes: Vec<u32>,
    hist_counts: Vec<u32>,
    sensitive_totals: Vec<u64>,
    n_records: u64,
}

/// The most records one set of classes holds (`u32::MAX`): sizes, sensitive counts and
/// histogram offsets are stored as `u32`.
pub const MAX_RECORDS: u64 = u32::MAX as u64;

impl PartialEq for EquivalenceClasses {
    fn eq(&self, other: &Self) -> bool {
        self.layout == other.layout
            && self.keys == other.keys
            && self.compact == other.compact
            && self.codes == other.codes
            && self.sizes == other.sizes
            && self.hist_start == other.hist_start
            && self.hist_codes == other.hist_codes
            && self.hist_counts == other.hist_counts
            && self.sensitive_totals == other.sensitive_totals
            && self.n_records == other.n_records
    }
}

/// Classes taken apart by [`EquivalenceClasses::into_columns`].
pub(crate) struct ClassColumns {
    /// One narrow code column per quasi-identifier.
    pub codes: Vec<Narrow>,
    /// Class sizes without a sensitive attribute; empty with one (a class's size is then
    /// its histogram's sum).
    pub sizes: Vec<u32>,
    /// Number of classes.
    pub n_classes: usize,
    /// Histogram offsets (`classes + 1`; empty without a sensitive attribute).
    pub hist_start: Vec<u32>,
    /// Sensitive codes present, ascending within each class (narrow).
    pub hist_codes: Narrow,
    /// Their counts (narrow).
    pub hist_counts: Narrow,
    /// Codes of the sensitive attribute (0 without one).
    pub sensitive_cardinality: usize,
    /// Records.
    pub n_records: u64,
}

/// Options for [`EquivalenceClasses::compute_with`].
#[derive(Debug, Clone, Copy)]
pub struct ClassOptions {
    /// Rows per parallel work item (default 131,072).
    pub chunk_rows: usize,
}

impl Default for ClassOptions {
    fn default() -> Self {
        ClassOptions {
            chunk_rows: 128 * 1024,
        }
    }
}

/// A borrowed view of one class.
#[derive(Clone, Copy)]
pub struct ClassView<'a> {
    /// Position of the class in key order.
    pub index: usize,
    /// The class key.
    pub key: u128,
    /// Number of records.
    pub size: u64,
    /// Sensitive codes present in the class, ascending (empty without a sensitive attribute).
    pub sensitive_codes: &'a [u32],
    /// Count of each code in `sensitive_codes`.
    pub sensitive_counts: &'a [u32],
    classes: &'a EquivalenceClasses,
}

impl<'a> ClassView<'a> {
    /// One code per quasi-identifier (decoded from the key when only keys are stored). These
    /// are the class's values: never print them for a class smaller than k.
    ///
    /// With compact (64-bit) keys the first call decodes and caches the tuples of all classes
    /// (see [`EquivalenceClasses::class_codes`]).
    pub fn codes(&self) -> &'a [u32] {
        self.classes.class_codes(self.index)
    }
}

impl std::fmt::Debug for ClassView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClassView")
            .field("index", &self.index)
            .field("key", &self.key)
            .field("size", &self.size)
            .field("codes", &self.codes())
            .field("sensitive_codes", &self.sensitive_codes)
            .field("sensitive_counts", &self.sensitive_counts)
            .finish()
    }
}

fn resolve<'t>(
    table: &'t EncodedTable,
    name: &str,
    role: &'static str,
) -> Result<&'t EncodedColumn, ClassesError> {
    table.column(name).map_err(|_| ClassesError::UnknownColumn {
        column: name.to_string(),
        role,
        available: table
            .columns()
            .iter()
            .map(|c| c.spec.name.clone())
            .collect(),
    })
}

impl EquivalenceClasses {
    /// The layout (columns and keying).
    pub fn layout(&self) -> &ClassLayout {
        &self.layout
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.keys.len()
    }

    /// Number of records.
    pub fn n_records(&self) -> u64 {
        self.n_records
    }

    /// Class keys, ascending.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = u128> + DoubleEndedIterator + '_ {
        (0..self.keys.len()).map(move |i| self.keys.get(i))
    }

    /// The key of class `i`.
    pub fn key(&self, i: usize) -> u128 {
        self.keys.get(i)
    }

    /// Class sizes, in key order (`u32`: see [`MAX_RECORDS`]).
    pub fn sizes(&self) -> &[u32] {
        &self.sizes
    }

    /// Whether a sensitive attribute's histograms are kept.
    pub fn has_sensitive(&self) -> bool {
        self.layout.sensitive.is_some()
    }

    /// Records per sensitive code over the whole table (dense over the sensitive column's
    /// codes; empty without a sensitive attribute).
    pub fn sensitive_totals(&self) -> &[u64] {
        &self.sensitive_totals
    }

    /// The code tuple of class `i` (one code per quasi-identifier).
    ///
    /// With compact (64-bit mixed-radix) keys only the keys are stored: the first call
    /// decodes the tuples of all classes in parallel and caches them (4 bytes per class and
    /// quasi-identifier) for the life of these classes. The one-pass report never calls it.
    pub fn class_codes(&self, i: usize) -> &[u32] {
        let w = self.layout.width();
        &self.tuples()[i * w..(i + 1) * w]
    }

    /// All code tuples, `width` a class, in key order (decoded and cached if compact).
    fn tuples(&self) -> &[u32] {
        let Some(strides) = &self.compact else {
            return &self.codes;
        };
        self.decoded.get_or_init(|| {
            let KeyStore::U64(keys) = &self.keys else {
                unreachable!("compact classes have u64 keys")
            };
            let w = self.layout.width();
            let mut out = vec![0u32; keys.len() * w];
            const BLOCK: usize = 1 << 14;
            out.par_chunks_mut(BLOCK * w)
                .zip(keys.par_chunks(BLOCK))
                .for_each(|(o, k)| {
                    for (t, &key) in o.chunks_exact_mut(w).zip(k) {
                        decode_index(key, strides, t);
                    }
                });
            out
        })
    }

    /// The classes taken apart for the anonymisation search: one narrow code column per
    /// quasi-identifier (see `narrow_codes`), the sizes (without a sensitive attribute), and
    /// the histogram offsets, codes and counts (empty offsets without a sensitive attribute).
    /// Consumes the classes so that their arrays move instead of being copied.
    pub(crate) fn into_columns(mut self) -> ClassColumns {
        // The sensitive codes and counts are narrowed, and the sizes (the histograms' sums)
        // freed, before the quasi-identifiers' narrow codes are decoded beside the keys: the
        // peak of the hand-over, which at 10M classes this keeps 100 MB lower.
        let n_classes = self.n_classes();
        let wide = std::mem::take(&mut self.hist_codes);
        let mut hist_codes = Narrow::with_capacity(self.sensitive_totals.len() as u32, wide.len());
        for &s in &wide {
            hist_codes.push(s);
        }
        drop(wide);
        let hist_counts = Narrow::from_values(std::mem::take(&mut self.hist_counts));
        if self.has_sensitive() {
            self.sizes = Vec::new();
        }
        self.narrow_codes();
        let EquivalenceClasses {
            narrow,
            sizes,
            hist_start,
            sensitive_totals,
            n_records,
            ..
        } = self;
        ClassColumns {
            codes: narrow.into_inner().unwrap_or_default(),
            sizes,
            n_classes,
            hist_start,
            hist_codes,
            hist_counts,
            sensitive_cardinality: sensitive_totals.len(),
            n_records,
        }
    }

    /// One class.
    pub fn class(&self, i: usize) -> ClassView<'_> {
        let (sc, sn): (&[u32], &[u32]) = if self.has_sensitive() {
            let r = self.hist_start[i] as usize..self.hist_start[i + 1] as usize;
            (&self.hist_codes[r.clone()], &self.hist_counts[r])
        } else {
            (&[], &[])
        };
        ClassView {
            index: i,
            key: self.keys.get(i),
            size: u64::from(self.sizes[i]),
            sensitive_codes: sc,
            sensitive_counts: sn,
            classes: self,
        }
    }

    /// All classes, in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = ClassView<'_>> + '_ {
        (0..self.n_classes()).map(move |i| self.class(i))
    }

    /// All classes, in parallel.
    pub fn par_iter(&self) -> impl IndexedParallelIterator<Item = ClassView<'_>> + '_ {
        (0..self.n_classes())
            .into_par_iter()
            .map(move |i| self.class(i))
    }

    /// Position of the class with `key`, if present.
    pub fn find(&self, key: u128) -> Option<usize> {
        self.keys.find(key)
    }

    /// Size of the class with the given code tuple (0 when absent).
    pub fn size_of(&self, tuple: &[u32]) -> u64 {
        self.find(self.layout.key(tuple))
            .map_or(0, |i| u64::from(self.sizes[i]))
    }
}

#[cfg(test)]
mod tests;

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
//! over the rows (compact tuples are decoded once, on first use, and cached). Storage per
//! class: the key (8 or 16 bytes), the size (8), the histogram offset (8) and 12 bytes per
//! (sensitive code, count) pair.

use std::sync::OnceLock;

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::data::{ColumnKind, EncodedColumn, EncodedTable};

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
    /// A bad argument to a projection or generalisation.
    #[error("invalid argument {name}: {reason}")]
    InvalidArgument {
        /// The argument.
        name: &'static str,
        /// What is wrong and what to do.
        reason: String,
    },
}

/// One column of the class layout: what the codes of a quasi-identifier or sensitive
/// attribute mean, without any values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassColumn {
    /// Column name.
    pub name: String,
    /// Number of codes (values, null, other).
    pub cardinality: u32,
    /// Number of domain-value codes (`0..n_values`); codes from `n_values` on are the null
    /// and "other" codes.
    pub n_values: u32,
    /// Whether codes are ordered by value (integer, float, date, datetime, ordered
    /// categorical), which decides the ground distance of t-closeness and whether banding
    /// adjacent codes is a meaningful generalisation.
    pub ordered: bool,
    /// The column's kind, as written in schema files (`categorical`, `integer`, ...).
    pub kind: String,
}

impl ClassColumn {
    /// The layout entry of an encoded column.
    pub fn of(column: &EncodedColumn) -> Self {
        let ordered = match &column.spec.kind {
            ColumnKind::Categorical { ordered, .. } => *ordered,
            ColumnKind::Text => false,
            _ => true,
        };
        ClassColumn {
            name: column.spec.name.clone(),
            cardinality: column.codebook.cardinality(),
            n_values: column.codebook.n_values,
            ordered,
            kind: column.spec.kind.name().to_string(),
        }
    }
}

/// How class keys are formed from code tuples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Keying {
    /// Exact mixed-radix number `sum(code_i * stride_i)` (the product of cardinalities fits
    /// in 128 bits).
    Radix {
        /// Stride of each quasi-identifier.
        strides: Vec<u128>,
    },
    /// 128-bit hash of the tuple (the product of cardinalities overflows 128 bits).
    Hashed,
}

impl Keying {
    fn for_columns(columns: &[ClassColumn]) -> Keying {
        let mut strides = vec![0u128; columns.len()];
        let mut acc: u128 = 1;
        for (i, c) in columns.iter().enumerate().rev() {
            strides[i] = acc;
            match acc.checked_mul(u128::from(c.cardinality.max(1))) {
                Some(v) => acc = v,
                None => return Keying::Hashed,
            }
        }
        Keying::Radix { strides }
    }

    #[inline]
    fn key(&self, tuple: &[u32]) -> u128 {
        match self {
            Keying::Radix { strides } => tuple
                .iter()
                .zip(strides)
                .map(|(&c, &s)| u128::from(c) * s)
                .sum(),
            Keying::Hashed => hash_tuple(tuple),
        }
    }
}

#[inline]
fn mix64(mut z: u64) -> u64 {
    // splitmix64 finaliser
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub(crate) fn hash_tuple(tuple: &[u32]) -> u128 {
    let mut a: u64 = 0x243f_6a88_85a3_08d3;
    let mut b: u64 = 0x1319_8a2e_0370_7344;
    for &c in tuple {
        a = mix64(a ^ u64::from(c)).wrapping_add(0x9e37_79b9_7f4a_7c15);
        b = mix64(b.rotate_left(17) ^ u64::from(c).wrapping_mul(0xa076_1d64_78bd_642f));
    }
    (u128::from(mix64(a ^ tuple.len() as u64)) << 64) | u128::from(mix64(b))
}

/// The layout shared by mergeable class sets: the quasi-identifiers, the optional sensitive
/// attribute and the keying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassLayout {
    /// The quasi-identifiers, in key order.
    pub quasi_identifiers: Vec<ClassColumn>,
    /// The sensitive attribute whose per-class histograms are kept.
    pub sensitive: Option<ClassColumn>,
    /// How keys are formed.
    pub keying: Keying,
}

impl ClassLayout {
    /// A layout over the given columns.
    pub fn new(quasi_identifiers: Vec<ClassColumn>, sensitive: Option<ClassColumn>) -> Self {
        let keying = Keying::for_columns(&quasi_identifiers);
        ClassLayout {
            quasi_identifiers,
            sensitive,
            keying,
        }
    }

    /// Number of quasi-identifiers.
    pub fn width(&self) -> usize {
        self.quasi_identifiers.len()
    }

    /// The key of a code tuple (one code per quasi-identifier, in layout order).
    pub fn key(&self, tuple: &[u32]) -> u128 {
        self.keying.key(tuple)
    }

    /// The `u64` strides when keys are mixed-radix and every key fits in 64 bits (the classes
    /// then store only keys and decode tuples from them).
    fn compact_strides(&self) -> Option<Vec<u64>> {
        let Keying::Radix { strides } = &self.keying else {
            return None;
        };
        let product = match (strides.first(), self.quasi_identifiers.first()) {
            (Some(&s), Some(c)) => s.checked_mul(u128::from(c.cardinality.max(1)))?,
            _ => 1,
        };
        if product > u128::from(u64::MAX) {
            return None;
        }
        Some(strides.iter().map(|&s| s as u64).collect())
    }
}

/// Class keys, ascending: `u64` when every key of the layout fits, `u128` otherwise.
#[derive(Debug, Clone, PartialEq)]
enum KeyStore {
    U64(Vec<u64>),
    U128(Vec<u128>),
}

impl KeyStore {
    fn for_layout(layout: &ClassLayout, cap: usize) -> KeyStore {
        if layout.compact_strides().is_some() {
            KeyStore::U64(Vec::with_capacity(cap))
        } else {
            KeyStore::U128(Vec::with_capacity(cap))
        }
    }

    #[inline]
    fn len(&self) -> usize {
        match self {
            KeyStore::U64(v) => v.len(),
            KeyStore::U128(v) => v.len(),
        }
    }

    #[inline]
    fn get(&self, i: usize) -> u128 {
        match self {
            KeyStore::U64(v) => u128::from(v[i]),
            KeyStore::U128(v) => v[i],
        }
    }

    #[inline]
    fn push(&mut self, key: u128) {
        match self {
            KeyStore::U64(v) => v.push(u64::try_from(key).expect("compact keys fit in 64 bits")),
            KeyStore::U128(v) => v.push(key),
        }
    }

    fn find(&self, key: u128) -> Option<usize> {
        match self {
            KeyStore::U64(v) => u64::try_from(key)
                .ok()
                .and_then(|k| v.binary_search(&k).ok()),
            KeyStore::U128(v) => v.binary_search(&key).ok(),
        }
    }
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
    sizes: Vec<u64>,
    hist_start: Vec<usize>,
    hist_codes: Vec<u32>,
    hist_counts: Vec<u64>,
    sensitive_totals: Vec<u64>,
    n_records: u64,
}

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
    pub sensitive_counts: &'a [u64],
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

/// Decode the mixed-radix `key` into `out` (one code per stride).
#[inline]
fn decode_key(key: u64, strides: &[u64], out: &mut [u32]) {
    let mut rest = key;
    for (o, &s) in out.iter_mut().zip(strides) {
        *o = (rest / s) as u32;
        rest %= s;
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
    /// Group `table` by `quasi_identifiers`, keeping histograms of `sensitive` when given.
    pub fn compute(
        table: &EncodedTable,
        quasi_identifiers: &[impl AsRef<str>],
        sensitive: Option<&str>,
    ) -> Result<Self, ClassesError> {
        Self::compute_with(table, quasi_identifiers, sensitive, ClassOptions::default())
    }

    /// [`EquivalenceClasses::compute`] with options.
    pub fn compute_with(
        table: &EncodedTable,
        quasi_identifiers: &[impl AsRef<str>],
        sensitive: Option<&str>,
        opts: ClassOptions,
    ) -> Result<Self, ClassesError> {
        if quasi_identifiers.is_empty() {
            return Err(ClassesError::NoQuasiIdentifiers);
        }
        if opts.chunk_rows == 0 {
            return Err(ClassesError::InvalidArgument {
                name: "chunk_rows",
                reason: "must be at least 1".into(),
            });
        }
        let mut qi_cols: Vec<&EncodedColumn> = Vec::with_capacity(quasi_identifiers.len());
        for q in quasi_identifiers {
            let q = q.as_ref();
            if qi_cols.iter().any(|c| c.spec.name == q) {
                return Err(ClassesError::DuplicateColumn {
                    column: q.to_string(),
                });
            }
            qi_cols.push(resolve(table, q, "quasi-identifier")?);
        }
        let sens_col = match sensitive {
            Some(s) => {
                if qi_cols.iter().any(|c| c.spec.name == s) {
                    return Err(ClassesError::SensitiveIsQuasiIdentifier {
                        column: s.to_string(),
                    });
                }
                Some(resolve(table, s, "sensitive attribute")?)
            }
            None => None,
        };
        let layout = ClassLayout::new(
            qi_cols.iter().map(|c| ClassColumn::of(c)).collect(),
            sens_col.map(ClassColumn::of),
        );
        let n = table.n_rows();
        let qi_codes: Vec<&[u32]> = qi_cols.iter().map(|c| c.codes.as_slice()).collect();
        let sens_codes: Option<&[u32]> = sens_col.map(|c| c.codes.as_slice());
        let chunk = opts.chunk_rows;
        let n_chunks = n.div_ceil(chunk);
        let packing = Packing::of(&layout);
        if let Packing::U64(bits) = packing {
            return Ok(group_sorted(layout, &qi_codes, sens_codes, bits, chunk));
        }
        let result = (0..n_chunks)
            .into_par_iter()
            .map(|ci| {
                let lo = ci * chunk;
                let hi = (lo + chunk).min(n);
                match packing {
                    Packing::U64(bits) => {
                        build_chunk_packed::<u64>(&layout, &qi_codes, sens_codes, lo, hi, bits)
                    }
                    Packing::U128(bits) => {
                        build_chunk_packed::<u128>(&layout, &qi_codes, sens_codes, lo, hi, bits)
                    }
                    Packing::None => build_chunk(&layout, &qi_codes, sens_codes, lo, hi),
                }
            })
            .reduce_with(|a, b| a.merged(b));
        Ok(result.unwrap_or_else(|| Self::empty(layout)))
    }

    /// No classes, over `layout` (the identity of [`EquivalenceClasses::merge`]).
    pub fn empty(layout: ClassLayout) -> Self {
        let totals = layout
            .sensitive
            .as_ref()
            .map_or(Vec::new(), |s| vec![0; s.cardinality as usize]);
        let has_s = layout.sensitive.is_some();
        EquivalenceClasses {
            keys: KeyStore::for_layout(&layout, 0),
            compact: layout.compact_strides(),
            layout,
            codes: Vec::new(),
            decoded: OnceLock::new(),
            sizes: Vec::new(),
            hist_start: if has_s { vec![0] } else { Vec::new() },
            hist_codes: Vec::new(),
            hist_counts: Vec::new(),
            sensitive_totals: totals,
            n_records: 0,
        }
    }

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

    /// Class sizes, in key order.
    pub fn sizes(&self) -> &[u64] {
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
                        decode_key(key, strides, t);
                    }
                });
            out
        })
    }

    /// One class.
    pub fn class(&self, i: usize) -> ClassView<'_> {
        let (sc, sn): (&[u32], &[u64]) = if self.has_sensitive() {
            let r = self.hist_start[i]..self.hist_start[i + 1];
            (&self.hist_codes[r.clone()], &self.hist_counts[r])
        } else {
            (&[], &[])
        };
        ClassView {
            index: i,
            key: self.keys.get(i),
            size: self.sizes[i],
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
            .map_or(0, |i| self.sizes[i])
    }

    /// Add the classes of another partition of the same data set (same layout). Sizes and
    /// histograms add up, so any partitioning merged in any order gives the same result.
    pub fn merge(&mut self, other: EquivalenceClasses) -> Result<(), ClassesError> {
        if self.layout != other.layout {
            return Err(ClassesError::LayoutMismatch {
                detail: layout_diff(&self.layout, &other.layout),
            });
        }
        let this = std::mem::replace(self, Self::empty(other.layout.clone()));
        *self = this.merged(other);
        Ok(())
    }

    /// Merge two class sets with equal layouts (sorted merge-join).
    fn merged(self, other: EquivalenceClasses) -> EquivalenceClasses {
        if other.keys.len() == 0 && other.n_records == 0 {
            return self;
        }
        if self.keys.len() == 0 && self.n_records == 0 {
            return other;
        }
        let w = self.layout.width();
        let has_s = self.has_sensitive();
        let cap = self.keys.len() + other.keys.len();
        let mut out = EquivalenceClasses {
            layout: self.layout.clone(),
            keys: KeyStore::for_layout(&self.layout, cap),
            compact: self.compact.clone(),
            codes: Vec::with_capacity(if self.compact.is_some() { 0 } else { cap * w }),
            decoded: OnceLock::new(),
            sizes: Vec::with_capacity(cap),
            hist_start: if has_s {
                Vec::with_capacity(cap + 1)
            } else {
                Vec::new()
            },
            hist_codes: Vec::with_capacity(self.hist_codes.len() + other.hist_codes.len()),
            hist_counts: Vec::with_capacity(self.hist_codes.len() + other.hist_codes.len()),
            sensitive_totals: self
                .sensitive_totals
                .iter()
                .zip(&other.sensitive_totals)
                .map(|(a, b)| a + b)
                .collect(),
            n_records: self.n_records + other.n_records,
        };
        if has_s {
            out.hist_start.push(0);
        }
        let (mut i, mut j) = (0, 0);
        let (a, b) = (&self, &other);
        while i < a.keys.len() || j < b.keys.len() {
            let take = if i == a.keys.len() {
                2
            } else if j == b.keys.len() {
                1
            } else {
                match a.keys.get(i).cmp(&b.keys.get(j)) {
                    std::cmp::Ordering::Less => 1,
                    std::cmp::Ordering::Greater => 2,
                    std::cmp::Ordering::Equal => 3,
                }
            };
            match take {
                1 => {
                    out.push_from(a, i);
                    i += 1;
                }
                2 => {
                    out.push_from(b, j);
                    j += 1;
                }
                _ => {
                    out.keys.push(a.keys.get(i));
                    if out.compact.is_none() {
                        out.codes.extend_from_slice(a.class_codes(i));
                    }
                    out.sizes.push(a.sizes[i] + b.sizes[j]);
                    if has_s {
                        let ca = a.class(i);
                        let cb = b.class(j);
                        merge_hist(
                            ca.sensitive_codes,
                            ca.sensitive_counts,
                            cb.sensitive_codes,
                            cb.sensitive_counts,
                            &mut out.hist_codes,
                            &mut out.hist_counts,
                        );
                        out.hist_start.push(out.hist_codes.len());
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        out
    }

    fn push_from(&mut self, src: &EquivalenceClasses, i: usize) {
        self.keys.push(src.keys.get(i));
        if self.compact.is_none() {
            self.codes.extend_from_slice(src.class_codes(i));
        }
        self.sizes.push(src.sizes[i]);
        if self.has_sensitive() {
            let c = src.class(i);
            self.hist_codes.extend_from_slice(c.sensitive_codes);
            self.hist_counts.extend_from_slice(c.sensitive_counts);
            self.hist_start.push(self.hist_codes.len());
        }
    }

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
    fn regroup(
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
            acc.sizes[idx] += c.size;
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
            *m.entry(layout.key(&tuple)).or_insert(0) += self.sizes[i];
        }
        m.into_values().collect()
    }

    /// Frequency of class sizes: `(size, number of classes of that size)`, ascending size.
    pub fn size_frequencies(&self) -> Vec<(u64, u64)> {
        let mut m: FxHashMap<u64, u64> = FxHashMap::default();
        for &s in &self.sizes {
            *m.entry(s).or_insert(0) += 1;
        }
        let mut v: Vec<(u64, u64)> = m.into_iter().collect();
        v.sort_unstable();
        v
    }
}

fn layout_diff(a: &ClassLayout, b: &ClassLayout) -> String {
    let names = |l: &ClassLayout| {
        l.quasi_identifiers
            .iter()
            .map(|c| format!("{}({} codes)", c.name, c.cardinality))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sens = |l: &ClassLayout| {
        l.sensitive.as_ref().map_or("none".to_string(), |c| {
            format!("{}({} codes)", c.name, c.cardinality)
        })
    };
    format!(
        "quasi-identifiers [{}] vs [{}], sensitive {} vs {}; compute both over the same \
         schema and columns",
        names(a),
        names(b),
        sens(a),
        sens(b)
    )
}

fn merge_hist(
    ac: &[u32],
    an: &[u64],
    bc: &[u32],
    bn: &[u64],
    oc: &mut Vec<u32>,
    on: &mut Vec<u64>,
) {
    let (mut i, mut j) = (0, 0);
    while i < ac.len() || j < bc.len() {
        if j == bc.len() || (i < ac.len() && ac[i] < bc[j]) {
            oc.push(ac[i]);
            on.push(an[i]);
            i += 1;
        } else if i == ac.len() || bc[j] < ac[i] {
            oc.push(bc[j]);
            on.push(bn[j]);
            j += 1;
        } else {
            oc.push(ac[i]);
            on.push(an[i] + bn[j]);
            i += 1;
            j += 1;
        }
    }
}

#[inline]
fn pair_key(idx: usize, s: u32) -> u64 {
    ((idx as u64) << 32) | u64::from(s)
}

/// Unsorted class accumulator: key -> local index, tuples, sizes, (index, code) -> count.
struct Accumulator {
    index: FxHashMap<u128, usize>,
    keys: Vec<u128>,
    codes: Vec<u32>,
    sizes: Vec<u64>,
    pairs: FxHashMap<u64, u64>,
}

impl Accumulator {
    fn new(layout: &ClassLayout, cap: usize) -> Self {
        let cap = cap.min(1 << 20);
        Accumulator {
            index: FxHashMap::with_capacity_and_hasher(cap, Default::default()),
            keys: Vec::with_capacity(cap),
            codes: Vec::with_capacity(cap * layout.width()),
            sizes: Vec::with_capacity(cap),
            pairs: if layout.sensitive.is_some() {
                FxHashMap::with_capacity_and_hasher(cap, Default::default())
            } else {
                FxHashMap::default()
            },
        }
    }

    #[inline]
    fn class_index(&mut self, key: u128, tuple: &[u32]) -> usize {
        let next = self.keys.len();
        let idx = *self.index.entry(key).or_insert(next);
        if idx == next {
            self.keys.push(key);
            self.codes.extend_from_slice(tuple);
            self.sizes.push(0);
        }
        idx
    }

    fn finish(self, layout: ClassLayout) -> EquivalenceClasses {
        let w = layout.width();
        let c = self.keys.len();
        let mut order: Vec<u32> = (0..c as u32).collect();
        order.sort_unstable_by_key(|&i| self.keys[i as usize]);
        let mut rank = vec![0u32; c];
        for (r, &i) in order.iter().enumerate() {
            rank[i as usize] = r as u32;
        }
        let compact = layout.compact_strides();
        let mut keys = KeyStore::for_layout(&layout, c);
        for &i in &order {
            keys.push(self.keys[i as usize]);
        }
        let sizes: Vec<u64> = order.iter().map(|&i| self.sizes[i as usize]).collect();
        let mut codes = Vec::new();
        if compact.is_none() {
            codes.reserve_exact(c * w);
            for &i in &order {
                let i = i as usize;
                codes.extend_from_slice(&self.codes[i * w..(i + 1) * w]);
            }
        }
        let has_s = layout.sensitive.is_some();
        let (mut hist_start, mut hist_codes, mut hist_counts) =
            (Vec::new(), Vec::new(), Vec::new());
        let mut totals = Vec::new();
        if let Some(s) = &layout.sensitive {
            totals = vec![0u64; s.cardinality as usize];
            let mut pairs: Vec<(u64, u64)> = self
                .pairs
                .into_iter()
                .map(|(k, n)| {
                    let idx = (k >> 32) as usize;
                    ((u64::from(rank[idx]) << 32) | (k & 0xffff_ffff), n)
                })
                .collect();
            pairs.sort_unstable_by_key(|p| p.0);
            hist_start = Vec::with_capacity(c + 1);
            hist_codes = Vec::with_capacity(pairs.len());
            hist_counts = Vec::with_capacity(pairs.len());
            hist_start.push(0);
            let mut cur = 0usize;
            for (k, n) in pairs {
                let cls = (k >> 32) as usize;
                while cur < cls {
                    hist_start.push(hist_codes.len());
                    cur += 1;
                }
                let s = (k & 0xffff_ffff) as u32;
                hist_codes.push(s);
                hist_counts.push(n);
                totals[s as usize] += n;
            }
            while cur < c {
                hist_start.push(hist_codes.len());
                cur += 1;
            }
        }
        debug_assert!(!has_s || hist_start.len() == c + 1);
        let n_records = sizes.iter().sum();
        EquivalenceClasses {
            layout,
            keys,
            compact,
            codes,
            decoded: OnceLock::new(),
            sizes,
            hist_start,
            hist_codes,
            hist_counts,
            sensitive_totals: totals,
            n_records,
        }
    }
}

fn build_chunk(
    layout: &ClassLayout,
    qi: &[&[u32]],
    sens: Option<&[u32]>,
    lo: usize,
    hi: usize,
) -> EquivalenceClasses {
    let len = hi - lo;
    let w = qi.len();
    // Keys for the chunk, computed column by column (vectorisable) in the radix case.
    let mut keys = vec![0u128; len];
    match &layout.keying {
        Keying::Radix { strides } => {
            for (col, &stride) in qi.iter().zip(strides) {
                for (k, &c) in keys.iter_mut().zip(&col[lo..hi]) {
                    *k += u128::from(c) * stride;
                }
            }
        }
        Keying::Hashed => {
            let mut t = vec![0u32; w];
            for (r, k) in keys.iter_mut().enumerate() {
                for (x, col) in t.iter_mut().zip(qi) {
                    *x = col[lo + r];
                }
                *k = hash_tuple(&t);
            }
        }
    }
    let mut acc = Accumulator::new(layout, len / 4 + 16);
    let mut tuple = vec![0u32; w];
    for (r, &key) in keys.iter().enumerate() {
        let next = acc.keys.len();
        let idx = *acc.index.entry(key).or_insert(next);
        if idx == next {
            for (x, col) in tuple.iter_mut().zip(qi) {
                *x = col[lo + r];
            }
            acc.keys.push(key);
            acc.codes.extend_from_slice(&tuple);
            acc.sizes.push(0);
        }
        acc.sizes[idx] += 1;
        if let Some(s) = sens {
            *acc.pairs.entry(pair_key(idx, s[lo + r])).or_insert(0) += 1;
        }
    }
    acc.finish(layout.clone())
}

/// How a chunk's (class, sensitive value) pairs are packed into one integer key.
#[derive(Debug, Clone, Copy)]
enum Packing {
    /// `class_key << bits | sensitive_code` fits in 64 bits.
    U64(u32),
    /// ... fits in 128 bits.
    U128(u32),
    /// Hashed keys, or too wide: class map plus pair map.
    None,
}

impl Packing {
    fn of(layout: &ClassLayout) -> Packing {
        if layout.keying == Keying::Hashed {
            return Packing::None;
        }
        let bits = layout.sensitive.as_ref().map_or(0, |s| {
            32 - s.cardinality.saturating_sub(1).leading_zeros().min(31)
        });
        let mut product: u128 = 1;
        for c in &layout.quasi_identifiers {
            product = match product.checked_mul(u128::from(c.cardinality.max(1))) {
                Some(p) => p,
                None => return Packing::None,
            };
        }
        // all keys < product, so the packed key < product << bits
        if bits < 64 && product <= (1u128 << (64 - bits)) {
            Packing::U64(bits)
        } else if product <= (1u128 << (127 - bits)) {
            Packing::U128(bits)
        } else {
            Packing::None
        }
    }
}

/// An unsigned integer a packed key fits in.
trait PackedKey: Copy + Eq + Ord + std::hash::Hash + Send + Sync + Default {
    fn from_u128(x: u128) -> Self;
    fn to_u128(self) -> u128;
    fn mul_add(self, code: u32, stride: Self) -> Self;
    fn shl_or(self, bits: u32, low: u32) -> Self;
    fn shr(self, bits: u32) -> Self;
    fn low(self, bits: u32) -> u32;
}

macro_rules! packed_key {
    ($t:ty) => {
        impl PackedKey for $t {
            #[inline]
            fn from_u128(x: u128) -> Self {
                x as $t
            }
            #[inline]
            fn to_u128(self) -> u128 {
                self as u128
            }
            #[inline]
            fn mul_add(self, code: u32, stride: Self) -> Self {
                self + (code as $t) * stride
            }
            #[inline]
            fn shl_or(self, bits: u32, low: u32) -> Self {
                if bits == 0 {
                    self
                } else {
                    (self << bits) | (low as $t)
                }
            }
            #[inline]
            fn shr(self, bits: u32) -> Self {
                if bits == 0 { self } else { self >> bits }
            }
            #[inline]
            fn low(self, bits: u32) -> u32 {
                if bits == 0 {
                    0
                } else {
                    (self & ((1 as $t << bits) - 1)) as u32
                }
            }
        }
    };
}

packed_key!(u64);
packed_key!(u128);

/// Group one chunk by packed `(class key, sensitive code)` integers: one hash lookup per
/// row, then one sort of the distinct pairs.
fn build_chunk_packed<K: PackedKey>(
    layout: &ClassLayout,
    qi: &[&[u32]],
    sens: Option<&[u32]>,
    lo: usize,
    hi: usize,
    bits: u32,
) -> EquivalenceClasses {
    let len = hi - lo;
    let Keying::Radix { strides } = &layout.keying else {
        unreachable!("packing is only chosen for radix keys")
    };
    let mut keys = vec![K::default(); len];
    for (col, &stride) in qi.iter().zip(strides) {
        let st = K::from_u128(stride);
        for (k, &c) in keys.iter_mut().zip(&col[lo..hi]) {
            *k = k.mul_add(c, st);
        }
    }
    if let Some(s) = sens {
        for (k, &c) in keys.iter_mut().zip(&s[lo..hi]) {
            *k = k.shl_or(bits, c);
        }
    }
    let mut map: FxHashMap<K, (u32, u32)> =
        FxHashMap::with_capacity_and_hasher(len / 2 + 16, Default::default());
    for (r, &k) in keys.iter().enumerate() {
        map.entry(k).or_insert((0, r as u32)).0 += 1;
    }
    drop(keys);
    let mut entries: Vec<(K, u32, u32)> = map.into_iter().map(|(k, (n, r))| (k, n, r)).collect();
    entries.sort_unstable_by_key(|e| e.0);
    let has_s = sens.is_some();
    let mut out = EquivalenceClasses::empty(layout.clone());
    out.hist_start.clear();
    if has_s {
        out.hist_codes.reserve(entries.len());
        out.hist_counts.reserve(entries.len());
    }
    let mut prev: Option<K> = None;
    for (k, n, r) in entries {
        let class = k.shr(bits);
        if prev != Some(class) {
            prev = Some(class);
            out.keys.push(class.to_u128());
            if out.compact.is_none() {
                let row = lo + r as usize;
                out.codes.extend(qi.iter().map(|col| col[row]));
            }
            out.sizes.push(0);
            if has_s {
                out.hist_start.push(out.hist_codes.len());
            }
        }
        *out.sizes.last_mut().expect("a class was pushed") += u64::from(n);
        if has_s {
            let s = k.low(bits);
            out.hist_codes.push(s);
            out.hist_counts.push(u64::from(n));
            out.sensitive_totals[s as usize] += u64::from(n);
        }
    }
    if has_s {
        out.hist_start.push(out.hist_codes.len());
    }
    out.n_records = len as u64;
    out
}

/// Group all rows at once when `(class key, sensitive code)` packs into a `u64`: compute the
/// packed integer of every row (rayon over chunks of `chunk` rows), sort them in parallel,
/// count the classes and distinct pairs, then build the classes in one scan of the sorted
/// runs, writing the class keys over the front of the sorted buffer. Peak: 8 bytes a row plus
/// the exactly sized per-class and per-pair arrays.
fn group_sorted(
    layout: ClassLayout,
    qi: &[&[u32]],
    sens: Option<&[u32]>,
    bits: u32,
    chunk: usize,
) -> EquivalenceClasses {
    let strides = layout
        .compact_strides()
        .expect("u64 packing implies compact keys");
    let n = qi.first().map_or(0, |c| c.len());
    let mut buf = vec![0u64; n];
    buf.par_chunks_mut(chunk).enumerate().for_each(|(ci, out)| {
        let lo = ci * chunk;
        let hi = lo + out.len();
        for (col, &st) in qi.iter().zip(&strides) {
            for (k, &c) in out.iter_mut().zip(&col[lo..hi]) {
                *k += u64::from(c) * st;
            }
        }
        if let Some(s) = sens {
            for (k, &c) in out.iter_mut().zip(&s[lo..hi]) {
                *k = (*k << bits) | u64::from(c);
            }
        }
    });
    buf.par_sort_unstable();
    // Number of classes and of distinct (class, sensitive code) pairs, to size the arrays.
    let (n_classes, n_pairs) = buf
        .par_windows(2)
        .with_min_len(1 << 14)
        .map(|w| {
            (
                usize::from(w[0] >> bits != w[1] >> bits),
                usize::from(w[0] != w[1]),
            )
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let (n_classes, n_pairs) = if n == 0 {
        (0, 0)
    } else {
        (n_classes + 1, n_pairs + 1)
    };
    let has_s = sens.is_some();
    let mask = if bits == 0 { 0 } else { (1u64 << bits) - 1 };
    let mut sizes: Vec<u64> = Vec::with_capacity(n_classes);
    let (mut hist_start, mut hist_codes, mut hist_counts, mut totals) = if has_s {
        (
            Vec::with_capacity(n_classes + 1),
            Vec::with_capacity(n_pairs),
            Vec::with_capacity(n_pairs),
            vec![
                0u64;
                layout
                    .sensitive
                    .as_ref()
                    .map_or(0, |s| s.cardinality as usize)
            ],
        )
    } else {
        (Vec::new(), Vec::new(), Vec::new(), Vec::new())
    };
    // Class `c` is written to buf[c]: at most one class starts per run, so c <= r always.
    let mut written = 0usize;
    let mut prev: Option<u64> = None;
    let mut r = 0usize;
    while r < n {
        let v = buf[r];
        let mut end = r + 1;
        while end < n && buf[end] == v {
            end += 1;
        }
        let count = (end - r) as u64;
        let class = v >> bits;
        if prev != Some(class) {
            prev = Some(class);
            buf[written] = class;
            written += 1;
            sizes.push(0);
            if has_s {
                hist_start.push(hist_codes.len());
            }
        }
        *sizes.last_mut().expect("a class was started") += count;
        if has_s {
            let s = (v & mask) as u32;
            hist_codes.push(s);
            hist_counts.push(count);
            totals[s as usize] += count;
        }
        r = end;
    }
    if has_s {
        hist_start.push(hist_codes.len());
    }
    debug_assert_eq!(written, n_classes);
    buf.truncate(written);
    buf.shrink_to_fit();
    EquivalenceClasses {
        keys: KeyStore::U64(buf),
        compact: Some(strides),
        codes: Vec::new(),
        decoded: OnceLock::new(),
        sizes,
        hist_start,
        hist_codes,
        hist_counts,
        sensitive_totals: totals,
        n_records: n as u64,
        layout,
    }
}

#[cfg(test)]
mod tests;

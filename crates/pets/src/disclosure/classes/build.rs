//! Building: grouping the rows of an encoded table into classes in one parallel pass
//! (packed-integer sort, or sparse per-chunk hash maps for wide keys), and merging the
//! classes of two partitions by adding sizes and histograms.

use std::sync::OnceLock;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::keying::{KeyStore, hash_tuple};
use super::{
    ClassColumn, ClassLayout, ClassOptions, ClassesError, EquivalenceClasses, Keying, resolve,
};
use crate::data::{EncodedColumn, EncodedTable};

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
        let (layout, qi_at, sens_at) = columns_of(table, quasi_identifiers, sensitive, opts)?;
        let n = table.n_rows();
        check_records(n as u64)?;
        let cols = table.columns();
        let qi_codes: Vec<&[u32]> = qi_at.iter().map(|&p| cols[p].codes.as_slice()).collect();
        let sens_codes: Option<&[u32]> = sens_at.map(|p| cols[p].codes.as_slice());
        let chunk = opts.chunk_rows;
        let n_chunks = n.div_ceil(chunk);
        let packing = Packing::of(&layout);
        if let Packing::U64(bits) = packing {
            let buf = pack_rows(&layout, &qi_codes, sens_codes, bits, chunk);
            return Ok(group_sorted(layout, buf, bits));
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

    /// [`EquivalenceClasses::compute`] on a table the caller no longer needs: when the rows
    /// pack into 64-bit integers (the usual case), each column's codes are freed as soon as
    /// they are packed, so the table's codes and the classes are never held at once (the
    /// peak is the larger of the codes plus the packed rows, 8 bytes a row, and the packed
    /// rows plus the classes). The classes are exactly those of `compute`.
    pub fn compute_owned(
        table: EncodedTable,
        quasi_identifiers: &[impl AsRef<str>],
        sensitive: Option<&str>,
    ) -> Result<Self, ClassesError> {
        let opts = ClassOptions::default();
        let (layout, qi_at, sens_at) = columns_of(&table, quasi_identifiers, sensitive, opts)?;
        check_records(table.n_rows() as u64)?;
        let Packing::U64(bits) = Packing::of(&layout) else {
            return Self::compute_with(&table, quasi_identifiers, sensitive, opts);
        };
        let n = table.n_rows();
        let strides = layout
            .compact_strides()
            .expect("u64 packing implies compact keys");
        let mut cols = table.into_columns();
        let mut buf = vec![0u64; n];
        for (&p, &st) in qi_at.iter().zip(&strides) {
            pack_column(
                &mut buf,
                &std::mem::take(&mut cols[p].codes),
                Pack::Add(st),
                opts.chunk_rows,
            );
        }
        if let Some(p) = sens_at {
            pack_column(
                &mut buf,
                &std::mem::take(&mut cols[p].codes),
                Pack::Shift(bits),
                opts.chunk_rows,
            );
        }
        drop(cols);
        Ok(group_sorted(layout, buf, bits))
    }

    /// Classes given by their code tuples (`width` a class, all distinct), sizes and sparse
    /// sensitive histograms (`hist_start` of `sizes.len() + 1` offsets into codes ascending
    /// and their counts), in any order: sorted by key here. The record count and the
    /// sensitive totals are those of the classes given, as [`EquivalenceClasses::retain`]
    /// leaves them. Used to hand the anonymisation search's rolled-up classes to the
    /// assessment without regrouping the bottom classes.
    pub(crate) fn from_groups(
        layout: ClassLayout,
        tuples: &[u32],
        sizes: Vec<u32>,
        hist_start: Vec<u32>,
        hist_codes: Vec<u32>,
        hist_counts: Vec<u32>,
    ) -> EquivalenceClasses {
        let w = layout.width();
        let c = sizes.len();
        debug_assert_eq!(tuples.len(), c * w);
        debug_assert_eq!(hist_start.len(), c + 1);
        let class_keys: Vec<u128> = tuples
            .chunks_exact(w.max(1))
            .map(|t| layout.key(t))
            .collect();
        let mut order: Vec<u32> = (0..c as u32).collect();
        order.sort_unstable_by_key(|&i| class_keys[i as usize]);
        debug_assert!(
            order
                .windows(2)
                .all(|p| class_keys[p[0] as usize] < class_keys[p[1] as usize]),
            "class tuples must be distinct"
        );
        let compact = layout.compact_strides();
        let mut keys = KeyStore::for_layout(&layout, c);
        let mut codes = Vec::new();
        if compact.is_none() {
            codes.reserve_exact(c * w);
        }
        let has_s = layout.sensitive.is_some();
        let mut out_sizes = Vec::with_capacity(c);
        let (mut out_start, mut out_codes, mut out_counts, mut totals) = if has_s {
            (
                Vec::with_capacity(c + 1),
                Vec::with_capacity(hist_codes.len()),
                Vec::with_capacity(hist_codes.len()),
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
        if has_s {
            out_start.push(0);
        }
        for &i in &order {
            let i = i as usize;
            keys.push(class_keys[i]);
            if compact.is_none() {
                codes.extend_from_slice(&tuples[i * w..(i + 1) * w]);
            }
            out_sizes.push(sizes[i]);
            if has_s {
                let r = hist_start[i] as usize..hist_start[i + 1] as usize;
                for (&s, &n) in hist_codes[r.clone()].iter().zip(&hist_counts[r]) {
                    out_codes.push(s);
                    out_counts.push(n);
                    totals[s as usize] += u64::from(n);
                }
                out_start.push(out_codes.len() as u32);
            }
        }
        let n_records = out_sizes.iter().map(|&s| u64::from(s)).sum();
        EquivalenceClasses {
            layout,
            keys,
            compact,
            codes,
            decoded: OnceLock::new(),
            narrow: OnceLock::new(),
            sizes: out_sizes,
            hist_start: out_start,
            hist_codes: out_codes,
            hist_counts: out_counts,
            sensitive_totals: totals,
            n_records,
        }
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
            narrow: OnceLock::new(),
            sizes: Vec::new(),
            hist_start: if has_s { vec![0] } else { Vec::new() },
            hist_codes: Vec::new(),
            hist_counts: Vec::new(),
            sensitive_totals: totals,
            n_records: 0,
        }
    }

    /// Add the classes of another partition of the same data set (same layout). Sizes and
    /// histograms add up, so any partitioning merged in any order gives the same result.
    pub fn merge(&mut self, other: EquivalenceClasses) -> Result<(), ClassesError> {
        if self.layout != other.layout {
            return Err(ClassesError::LayoutMismatch {
                detail: layout_diff(&self.layout, &other.layout),
            });
        }
        check_records(self.n_records + other.n_records)?;
        let this = std::mem::replace(self, Self::empty(other.layout.clone()));
        *self = this.merged(other);
        Ok(())
    }

    /// Merge two class sets with equal layouts (sorted merge-join). Their records add up to
    /// at most [`super::MAX_RECORDS`] (the callers check).
    pub(super) fn merged(self, other: EquivalenceClasses) -> EquivalenceClasses {
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
            narrow: OnceLock::new(),
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
                        out.hist_start.push(out.hist_codes.len() as u32);
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        out
    }

    pub(super) fn push_from(&mut self, src: &EquivalenceClasses, i: usize) {
        self.keys.push(src.keys.get(i));
        if self.compact.is_none() {
            self.codes.extend_from_slice(src.class_codes(i));
        }
        self.sizes.push(src.sizes[i]);
        if self.has_sensitive() {
            let c = src.class(i);
            self.hist_codes.extend_from_slice(c.sensitive_codes);
            self.hist_counts.extend_from_slice(c.sensitive_counts);
            self.hist_start.push(self.hist_codes.len() as u32);
        }
    }
}

/// [`ClassesError::TooManyRecords`] past [`super::MAX_RECORDS`].
pub(super) fn check_records(records: u64) -> Result<(), ClassesError> {
    if records > super::MAX_RECORDS {
        return Err(ClassesError::TooManyRecords {
            records,
            max: super::MAX_RECORDS,
        });
    }
    Ok(())
}

pub(super) fn layout_diff(a: &ClassLayout, b: &ClassLayout) -> String {
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

pub(super) fn merge_hist(
    ac: &[u32],
    an: &[u32],
    bc: &[u32],
    bn: &[u32],
    oc: &mut Vec<u32>,
    on: &mut Vec<u32>,
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
pub(super) fn pair_key(idx: usize, s: u32) -> u64 {
    ((idx as u64) << 32) | u64::from(s)
}

/// Unsorted class accumulator: key -> local index, tuples, sizes, (index, code) -> count.
pub(super) struct Accumulator {
    pub(super) index: FxHashMap<u128, usize>,
    pub(super) keys: Vec<u128>,
    pub(super) codes: Vec<u32>,
    pub(super) sizes: Vec<u32>,
    pub(super) pairs: FxHashMap<u64, u32>,
}

impl Accumulator {
    pub(super) fn new(layout: &ClassLayout, cap: usize) -> Self {
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
    pub(super) fn class_index(&mut self, key: u128, tuple: &[u32]) -> usize {
        let next = self.keys.len();
        let idx = *self.index.entry(key).or_insert(next);
        if idx == next {
            self.keys.push(key);
            self.codes.extend_from_slice(tuple);
            self.sizes.push(0);
        }
        idx
    }

    pub(super) fn finish(self, layout: ClassLayout) -> EquivalenceClasses {
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
        let sizes: Vec<u32> = order.iter().map(|&i| self.sizes[i as usize]).collect();
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
            let mut pairs: Vec<(u64, u32)> = self
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
                    hist_start.push(hist_codes.len() as u32);
                    cur += 1;
                }
                let s = (k & 0xffff_ffff) as u32;
                hist_codes.push(s);
                hist_counts.push(n);
                totals[s as usize] += u64::from(n);
            }
            while cur < c {
                hist_start.push(hist_codes.len() as u32);
                cur += 1;
            }
        }
        debug_assert!(!has_s || hist_start.len() == c + 1);
        let n_records = sizes.iter().map(|&s| u64::from(s)).sum();
        EquivalenceClasses {
            layout,
            keys,
            compact,
            codes,
            decoded: OnceLock::new(),
            narrow: OnceLock::new(),
            sizes,
            hist_start,
            hist_codes,
            hist_counts,
            sensitive_totals: totals,
            n_records,
        }
    }
}

pub(super) fn build_chunk(
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
pub(super) enum Packing {
    /// `class_key << bits | sensitive_code` fits in 64 bits.
    U64(u32),
    /// ... fits in 128 bits.
    U128(u32),
    /// Hashed keys, or too wide: class map plus pair map.
    None,
}

impl Packing {
    pub(super) fn of(layout: &ClassLayout) -> Packing {
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
pub(super) trait PackedKey:
    Copy + Eq + Ord + std::hash::Hash + Send + Sync + Default
{
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
pub(super) fn build_chunk_packed<K: PackedKey>(
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
                out.hist_start.push(out.hist_codes.len() as u32);
            }
        }
        *out.sizes.last_mut().expect("a class was pushed") += n;
        if has_s {
            let s = k.low(bits);
            out.hist_codes.push(s);
            out.hist_counts.push(n);
            out.sensitive_totals[s as usize] += u64::from(n);
        }
    }
    if has_s {
        out.hist_start.push(out.hist_codes.len() as u32);
    }
    out.n_records = len as u64;
    out
}

/// Group all rows at once when `(class key, sensitive code)` packs into a `u64`: compute the
/// packed integer of every row (rayon over chunks of `chunk` rows), sort them in parallel,
/// count the classes and distinct pairs, then build the classes in one scan of the sorted
/// runs, writing the class keys over the front of the sorted buffer. Peak: 8 bytes a row plus
/// the exactly sized per-class and per-pair arrays.
/// How [`pack_column`] adds a column to the packed rows.
#[derive(Clone, Copy)]
enum Pack {
    /// `row += code * stride` (a quasi-identifier's digit of the class key).
    Add(u64),
    /// `row = row << bits | code` (the sensitive code below the class key).
    Shift(u32),
}

/// Add one column's codes to the packed rows, in parallel over chunks of rows.
fn pack_column(buf: &mut [u64], codes: &[u32], how: Pack, chunk: usize) {
    buf.par_chunks_mut(chunk)
        .zip(codes.par_chunks(chunk))
        .for_each(|(out, col)| match how {
            Pack::Add(st) => {
                for (k, &c) in out.iter_mut().zip(col) {
                    *k += u64::from(c) * st;
                }
            }
            Pack::Shift(bits) => {
                for (k, &c) in out.iter_mut().zip(col) {
                    *k = (*k << bits) | u64::from(c);
                }
            }
        });
}

/// Every row packed as `class_key << bits | sensitive_code` (compact keys), column by column.
pub(super) fn pack_rows(
    layout: &ClassLayout,
    qi: &[&[u32]],
    sens: Option<&[u32]>,
    bits: u32,
    chunk: usize,
) -> Vec<u64> {
    let strides = layout
        .compact_strides()
        .expect("u64 packing implies compact keys");
    let mut buf = vec![0u64; qi.first().map_or(0, |c| c.len())];
    for (col, &st) in qi.iter().zip(&strides) {
        pack_column(&mut buf, col, Pack::Add(st), chunk);
    }
    if let Some(s) = sens {
        pack_column(&mut buf, s, Pack::Shift(bits), chunk);
    }
    buf
}

/// The layout of the classes of `table` over `quasi_identifiers` (and `sensitive`), and the
/// positions of those columns in the table; every argument checked.
fn columns_of(
    table: &EncodedTable,
    quasi_identifiers: &[impl AsRef<str>],
    sensitive: Option<&str>,
    opts: ClassOptions,
) -> Result<(ClassLayout, Vec<usize>, Option<usize>), ClassesError> {
    if quasi_identifiers.is_empty() {
        return Err(ClassesError::NoQuasiIdentifiers);
    }
    if opts.chunk_rows == 0 {
        return Err(ClassesError::InvalidArgument {
            name: "chunk_rows",
            reason: "must be at least 1".into(),
        });
    }
    let position = |c: &EncodedColumn| {
        table
            .columns()
            .iter()
            .position(|x| std::ptr::eq(x, c))
            .expect("the column is the table's")
    };
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
    Ok((
        layout,
        qi_cols.iter().map(|c| position(c)).collect(),
        sens_col.map(position),
    ))
}

/// Group rows packed as `class_key << bits | sensitive_code` (compact keys): sort them in
/// parallel, then one scan of the sorted runs builds the classes, reusing `buf` for the keys.
pub(super) fn group_sorted(
    layout: ClassLayout,
    mut buf: Vec<u64>,
    bits: u32,
) -> EquivalenceClasses {
    let strides = layout
        .compact_strides()
        .expect("u64 packing implies compact keys");
    let n = buf.len();
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
    let has_s = layout.sensitive.is_some();
    let mask = if bits == 0 { 0 } else { (1u64 << bits) - 1 };
    let mut sizes: Vec<u32> = Vec::with_capacity(n_classes);
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
        // At most the rows, which callers check fit `u32` (`check_records`).
        let count = (end - r) as u32;
        let class = v >> bits;
        if prev != Some(class) {
            prev = Some(class);
            buf[written] = class;
            written += 1;
            sizes.push(0);
            if has_s {
                hist_start.push(hist_codes.len() as u32);
            }
        }
        *sizes.last_mut().expect("a class was started") += count;
        if has_s {
            let s = (v & mask) as u32;
            hist_codes.push(s);
            hist_counts.push(count);
            totals[s as usize] += u64::from(count);
        }
        r = end;
    }
    if has_s {
        hist_start.push(hist_codes.len() as u32);
    }
    debug_assert_eq!(written, n_classes);
    buf.truncate(written);
    buf.shrink_to_fit();
    EquivalenceClasses {
        keys: KeyStore::U64(buf),
        compact: Some(strides),
        codes: Vec::new(),
        decoded: OnceLock::new(),
        narrow: OnceLock::new(),
        sizes,
        hist_start,
        hist_codes,
        hist_counts,
        sensitive_totals: totals,
        n_records: n as u64,
        layout,
    }
}

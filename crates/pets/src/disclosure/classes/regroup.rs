//! Regrouping: the class sizes of a coarser **view** of the quasi-identifiers (some dropped,
//! some recoded, e.g. banded) from the classes alone, in one streaming pass over the classes'
//! codes and without a hash map. This is what intruder scenarios, SUDA and the report's
//! what-if fixes ask for, once per subset of the intruder's facts or per simulated change.
//!
//! **Why it works.** With mixed-radix keys the classes are sorted by key, that is
//! lexicographically by code tuple. Call the view's **prefix** its leading columns that the
//! view keeps unchanged, plus the next one if the view recodes it by a non-decreasing map
//! (banding adjacent codes is one): along the sorted classes the view's prefix codes are then
//! non-decreasing. Two classes that fall in the same view class have equal prefix codes, so
//! every class between them does too: each view class lies inside one run of equal prefix (a
//! **block**). Within a block the view key is `prefix part + r`, with `r` in `0..R` the
//! mixed-radix number of the view's remaining columns (`R` the product of their
//! cardinalities), so grouping a block is grouping its `r` values.
//!
//! **How.** Blocks are independent, so contiguous runs of blocks are grouped in parallel
//! (rayon). A block is grouped by counting into a dense array of `R` counters when `R` is
//! moderate (at most [`DENSE_MAX`]); the counters are read and reset by revisiting the
//! block's own `r` values, so a block costs its size, not `R`. Otherwise the block's `(r,
//! class)` pairs are sorted. A view without a prefix (its first column dropped) is one block:
//! each thread counts its share of the classes into its own dense array and the arrays are
//! added (or, for a huge `R`, all `(r, class)` pairs are sorted in parallel). Work is one pass
//! over the classes per view (plus the sorts on the sort path); memory is one narrow copy of
//! the classes' codes, shared by all views (1, 2 or 4 bytes a class and quasi-identifier by
//! cardinality) and at most `R` 4-byte counters per thread. The layouts it cannot serve
//! (hashed keys, whose order says nothing about the tuples) and views whose key would not
//! fit 64 bits fall back to one hash map of the view's keys, with the same results.

use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::{ClassLayout, EquivalenceClasses, Keying};
use crate::data::tabulate::{decode_index, radix_strides};

/// Largest `R` grouped by dense counting (2^24 counters, 64 MiB per thread at most).
pub(crate) const DENSE_MAX: u64 = 1 << 24;

/// What a view does with one quasi-identifier of the classes' layout.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Recode<'a> {
    /// Kept as it is.
    Keep,
    /// Not part of the view.
    Drop,
    /// Recoded: old code `c` becomes `map[c]`, below `cardinality`.
    Map {
        /// Old code -> new code (one entry per old code).
        map: &'a [u32],
        /// Number of new codes.
        cardinality: u32,
    },
}

/// The view keeping the quasi-identifiers at `positions[i]` for each bit `i` set in `mask`
/// and dropping all others.
pub(crate) fn subset_recode(width: usize, positions: &[usize], mask: u32) -> Vec<Recode<'static>> {
    let mut recode = vec![Recode::Drop; width];
    for (i, &p) in positions.iter().enumerate() {
        if mask & (1 << i) != 0 {
            recode[p] = Recode::Keep;
        }
    }
    recode
}

/// A bit per class, set from parallel tasks.
pub(crate) fn bitset(n: usize) -> Vec<AtomicU64> {
    (0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect()
}

/// Whether bit `i` is set.
#[inline]
pub(crate) fn bit(bits: &[AtomicU64], i: usize) -> bool {
    bits[i / 64].load(Ordering::Relaxed) & (1 << (i % 64)) != 0
}

/// Clear every bit.
pub(crate) fn clear_bits(bits: &[AtomicU64]) {
    bits.par_iter().for_each(|b| b.store(0, Ordering::Relaxed));
}

/// One quasi-identifier's codes over the classes, in the narrowest unsigned type that holds
/// its cardinality.
#[derive(Debug, Clone)]
pub(crate) enum Narrow {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
}

/// Mutable piece of a [`Narrow`] column.
enum NarrowMut<'a> {
    U8(&'a mut [u8]),
    U16(&'a mut [u16]),
    U32(&'a mut [u32]),
}

impl NarrowMut<'_> {
    fn len(&self) -> usize {
        match self {
            NarrowMut::U8(v) => v.len(),
            NarrowMut::U16(v) => v.len(),
            NarrowMut::U32(v) => v.len(),
        }
    }

    /// Codes are below the column's cardinality, which chose the type: the casts are exact.
    #[inline]
    fn set(&mut self, i: usize, c: u32) {
        match self {
            NarrowMut::U8(v) => v[i] = c as u8,
            NarrowMut::U16(v) => v[i] = c as u16,
            NarrowMut::U32(v) => v[i] = c,
        }
    }
}

impl Narrow {
    /// An empty column for codes below `cardinality`, with room for `n`.
    pub(crate) fn with_capacity(cardinality: u32, n: usize) -> Narrow {
        if cardinality <= 1 << 8 {
            Narrow::U8(Vec::with_capacity(n))
        } else if cardinality <= 1 << 16 {
            Narrow::U16(Vec::with_capacity(n))
        } else {
            Narrow::U32(Vec::with_capacity(n))
        }
    }

    /// Append a code (below the cardinality the column was made for: the cast is exact).
    #[inline]
    pub(crate) fn push(&mut self, c: u32) {
        match self {
            Narrow::U8(v) => v.push(c as u8),
            Narrow::U16(v) => v.push(c as u16),
            Narrow::U32(v) => v.push(c),
        }
    }

    /// `values` in the narrowest type that holds their largest (counts as well as codes:
    /// most classes of a fine layout hold one or two records, so their counts fit a byte).
    /// The `u32` array is freed once narrowed.
    pub(crate) fn from_values(values: Vec<u32>) -> Narrow {
        let max = values.iter().copied().max().unwrap_or(0);
        if max >= 1 << 16 {
            return Narrow::U32(values);
        }
        let mut out = Narrow::with_capacity(max + 1, values.len());
        for &v in &values {
            out.push(v);
        }
        out
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        match self {
            Narrow::U8(v) => v.capacity(),
            Narrow::U16(v) => 2 * v.capacity(),
            Narrow::U32(v) => 4 * v.capacity(),
        }
    }

    fn zeroed(cardinality: u32, n: usize) -> Narrow {
        if cardinality <= 1 << 8 {
            Narrow::U8(vec![0; n])
        } else if cardinality <= 1 << 16 {
            Narrow::U16(vec![0; n])
        } else {
            Narrow::U32(vec![0; n])
        }
    }

    fn chunks_mut(&mut self, size: usize) -> Vec<NarrowMut<'_>> {
        match self {
            Narrow::U8(v) => v.chunks_mut(size).map(NarrowMut::U8).collect(),
            Narrow::U16(v) => v.chunks_mut(size).map(NarrowMut::U16).collect(),
            Narrow::U32(v) => v.chunks_mut(size).map(NarrowMut::U32).collect(),
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> u32 {
        match self {
            Narrow::U8(v) => u32::from(v[i]),
            Narrow::U16(v) => u32::from(v[i]),
            Narrow::U32(v) => v[i],
        }
    }

    /// `dst[t] += code'(lo + t) * stride`, `code'` the code or its image under `map`.
    pub(crate) fn add_into(&self, dst: &mut [u64], lo: usize, map: Option<&[u32]>, stride: u64) {
        macro_rules! add {
            ($v:expr) => {{
                let src = &$v[lo..lo + dst.len()];
                match map {
                    None => {
                        for (d, &c) in dst.iter_mut().zip(src) {
                            *d += u64::from(c) * stride;
                        }
                    }
                    Some(m) => {
                        for (d, &c) in dst.iter_mut().zip(src) {
                            *d += u64::from(m[c as usize]) * stride;
                        }
                    }
                }
            }};
        }
        match self {
            Narrow::U8(v) => add!(v),
            Narrow::U16(v) => add!(v),
            Narrow::U32(v) => add!(v),
        }
    }
}

impl EquivalenceClasses {
    /// The classes' codes, one narrow column per quasi-identifier (decoded from compact keys,
    /// or copied from the stored tuples), built in parallel on first use and cached.
    pub(crate) fn narrow_codes(&self) -> &[Narrow] {
        self.narrow.get_or_init(|| {
            let w = self.layout.width();
            let n = self.n_classes();
            let mut cols: Vec<Narrow> = self
                .layout
                .quasi_identifiers
                .iter()
                .map(|c| Narrow::zeroed(c.cardinality, n))
                .collect();
            const BLOCK: usize = 1 << 14;
            let mut parts: Vec<Vec<NarrowMut<'_>>> = (0..n.div_ceil(BLOCK))
                .map(|_| Vec::with_capacity(w))
                .collect();
            for col in cols.iter_mut() {
                for (piece, part) in col.chunks_mut(BLOCK).into_iter().zip(parts.iter_mut()) {
                    part.push(piece);
                }
            }
            parts.into_par_iter().enumerate().for_each(|(b, mut part)| {
                let lo = b * BLOCK;
                let len = part.first().map_or(0, NarrowMut::len);
                let mut t = vec![0u32; w];
                for r in 0..len {
                    match (&self.compact, &self.keys) {
                        (Some(strides), super::KeyStore::U64(keys)) => {
                            decode_index(keys[lo + r], strides, &mut t)
                        }
                        _ => t.copy_from_slice(&self.codes[(lo + r) * w..(lo + r + 1) * w]),
                    }
                    for (p, &c) in part.iter_mut().zip(&t) {
                        p.set(r, c);
                    }
                }
            });
            cols
        })
    }

    /// Group the classes under a view (one [`Recode`] per quasi-identifier): the view's class
    /// sizes as `(size, number of view classes of that size)`, ascending size. When
    /// `uniques` is given (a [`bitset`] over the classes, cleared), the bit of every class
    /// that is alone and of size 1 in its view class (a sample unique of the view) is set.
    pub(crate) fn view_size_counts(
        &self,
        recode: &[Recode<'_>],
        uniques: Option<&[AtomicU64]>,
    ) -> Vec<(u64, u64)> {
        match View::new(self, recode) {
            Some(v) => v.size_counts(self, uniques, Tuning::default()),
            None => self.view_size_counts_hashed(recode, uniques),
        }
    }

    /// [`EquivalenceClasses::view_size_counts`] through one hash map of the view's keys: the
    /// general path, and the reference the fast one is tested against.
    pub(crate) fn view_size_counts_hashed(
        &self,
        recode: &[Recode<'_>],
        uniques: Option<&[AtomicU64]>,
    ) -> Vec<(u64, u64)> {
        let mut cols = Vec::new();
        let mut kept = Vec::new();
        for (j, rc) in recode.iter().enumerate() {
            let mut col = self.layout.quasi_identifiers[j].clone();
            match *rc {
                Recode::Keep => {}
                Recode::Drop => continue,
                Recode::Map { map, cardinality } => {
                    col.cardinality = cardinality;
                    col.n_values = col.n_values.min(cardinality);
                    kept.push((j, Some(map)));
                    cols.push(col);
                    continue;
                }
            }
            kept.push((j, None));
            cols.push(col);
        }
        let layout = ClassLayout::new(cols, None);
        let mut tuple = vec![0u32; kept.len()];
        let key_of = |i: usize, tuple: &mut [u32]| {
            let src = self.class_codes(i);
            for (d, &(j, map)) in tuple.iter_mut().zip(&kept) {
                *d = map.map_or(src[j], |m| m[src[j] as usize]);
            }
            layout.key(tuple)
        };
        let mut m: FxHashMap<u128, u64> = FxHashMap::default();
        for i in 0..self.n_classes() {
            *m.entry(key_of(i, &mut tuple)).or_insert(0) += u64::from(self.sizes[i]);
        }
        if let Some(u) = uniques {
            for i in 0..self.n_classes() {
                if m[&key_of(i, &mut tuple)] == 1 {
                    u[i / 64].fetch_or(1 << (i % 64), Ordering::Relaxed);
                }
            }
        }
        let mut freq: FxHashMap<u64, u64> = FxHashMap::default();
        for f in m.into_values() {
            *freq.entry(f).or_insert(0) += 1;
        }
        let mut v: Vec<(u64, u64)> = freq.into_iter().collect();
        v.sort_unstable();
        v
    }
}

/// Thresholds of the grouping (tests lower them to reach every path on small tables).
#[derive(Debug, Clone, Copy)]
pub(super) struct Tuning {
    /// Largest `R` counted densely.
    pub dense_max: u64,
    /// Fewest classes per parallel task.
    pub task_min: usize,
    /// Classes whose view keys are computed at a time.
    pub chunk: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            dense_max: DENSE_MAX,
            task_min: 1 << 15,
            chunk: 1 << 12,
        }
    }
}

/// A view resolved against the classes' layout.
pub(super) struct View<'a> {
    /// Kept quasi-identifiers in layout order: position and optional code map.
    cols: Vec<(usize, Option<&'a [u32]>)>,
    /// Mixed-radix strides of the view key.
    strides: Vec<u64>,
    /// Leading view columns whose codes are non-decreasing along the classes.
    prefix: usize,
    /// `R`: number of values of the rest of the view key.
    rest: u64,
}

impl<'a> View<'a> {
    /// The view, if the fast path serves it: mixed-radix keys (classes sorted by tuple),
    /// fewer than 2^32 classes, and a view key that fits 64 bits.
    pub(super) fn new(classes: &EquivalenceClasses, recode: &[Recode<'a>]) -> Option<View<'a>> {
        let qis = &classes.layout.quasi_identifiers;
        if !matches!(classes.layout.keying, Keying::Radix { .. })
            || recode.len() != qis.len()
            || u32::try_from(classes.n_classes()).is_err()
        {
            return None;
        }
        let mut cols = Vec::new();
        let mut cards = Vec::new();
        let mut prefix = 0;
        let mut open = true;
        for (j, rc) in recode.iter().enumerate() {
            match *rc {
                Recode::Keep => {
                    cols.push((j, None));
                    cards.push(qis[j].cardinality);
                    prefix += usize::from(open);
                }
                Recode::Drop => open = false,
                Recode::Map { map, cardinality } => {
                    if map.len() != qis[j].cardinality as usize
                        || map.iter().any(|&c| c >= cardinality)
                    {
                        return None;
                    }
                    cols.push((j, Some(map)));
                    cards.push(cardinality);
                    let monotone = map.windows(2).all(|w| w[0] <= w[1]);
                    prefix += usize::from(open && monotone);
                    open = false;
                }
            }
        }
        if cols.is_empty() {
            return None;
        }
        let (strides, product) = radix_strides(&cards)?;
        let product = u64::try_from(product).ok()?;
        let strides: Vec<u64> = strides.into_iter().map(|s| s as u64).collect();
        let rest = if prefix == 0 {
            product
        } else {
            strides[prefix - 1]
        };
        Some(View {
            cols,
            strides,
            prefix,
            rest,
        })
    }

    /// Prefix and rest of the view keys of classes `lo..lo + pk.len()`.
    fn fill(&self, narrow: &[Narrow], lo: usize, pk: &mut [u64], r: &mut [u64]) {
        pk.fill(0);
        r.fill(0);
        for (t, (&(pos, map), &s)) in self.cols.iter().zip(&self.strides).enumerate() {
            let dst = if t < self.prefix { &mut *pk } else { &mut *r };
            narrow[pos].add_into(dst, lo, map, s);
        }
    }

    /// The prefix part of class `i`'s view key.
    fn prefix_at(&self, narrow: &[Narrow], i: usize) -> u64 {
        self.cols[..self.prefix]
            .iter()
            .zip(&self.strides)
            .map(|(&(pos, map), &s)| {
                let c = narrow[pos].get(i);
                u64::from(map.map_or(c, |m| m[c as usize])) * s
            })
            .sum()
    }

    fn dense(&self, classes: &EquivalenceClasses, tuning: Tuning) -> bool {
        self.rest <= tuning.dense_max && classes.n_records() <= u64::from(u32::MAX)
    }

    pub(super) fn size_counts(
        &self,
        classes: &EquivalenceClasses,
        uniques: Option<&[AtomicU64]>,
        tuning: Tuning,
    ) -> Vec<(u64, u64)> {
        let n = classes.n_classes();
        if n == 0 {
            return Vec::new();
        }
        let narrow = classes.narrow_codes();
        let first = self.prefix_at(narrow, 0);
        if self.rest > 1 && first == self.prefix_at(narrow, n - 1) && n >= 2 * tuning.task_min {
            return self.one_block(classes, narrow, uniques, tuning);
        }
        // Cut 0..n into tasks at block starts (the prefix is non-decreasing: binary search).
        let tasks = (n / tuning.task_min.max(1)).clamp(1, rayon::current_num_threads() * 8);
        let mut bounds = vec![0usize];
        for t in 1..tasks {
            let b = n * t / tasks;
            let last = *bounds.last().expect("starts with 0");
            if b <= last {
                continue;
            }
            let p = self.prefix_at(narrow, b - 1);
            let (mut lo, mut hi) = (b, n);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if self.prefix_at(narrow, mid) > p {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            if lo < n && lo > last {
                bounds.push(lo);
            }
        }
        bounds.push(n);
        bounds
            .par_windows(2)
            .map(|w| self.blocks(classes, narrow, w[0], w[1], uniques, tuning))
            .reduce(|| Sink::new(None), Sink::merge)
            .into_counts()
    }

    /// Group the blocks of classes `lo..hi` (which starts and ends at block boundaries).
    fn blocks<'u>(
        &self,
        classes: &EquivalenceClasses,
        narrow: &[Narrow],
        lo: usize,
        hi: usize,
        uniques: Option<&'u [AtomicU64]>,
        tuning: Tuning,
    ) -> Sink<'u> {
        let mut sink = Sink::new(uniques);
        let mut scratch = Scratch::default();
        let dense = self.dense(classes, tuning);
        let sizes = classes.sizes();
        let b = tuning.chunk.max(1);
        let (mut pk, mut r) = (vec![0u64; b], vec![0u64; b]);
        let mut block: Vec<u64> = Vec::new();
        let mut start = lo;
        let mut cur: Option<u64> = None;
        let mut c0 = lo;
        while c0 < hi {
            let c1 = (c0 + b).min(hi);
            let len = c1 - c0;
            self.fill(narrow, c0, &mut pk[..len], &mut r[..len]);
            for t in 0..len {
                if cur != Some(pk[t]) {
                    if cur.is_some() {
                        let s = &sizes[start..start + block.len()];
                        self.group(&block, s, start, dense, &mut scratch, &mut sink);
                    }
                    cur = Some(pk[t]);
                    start = c0 + t;
                    block.clear();
                }
                block.push(r[t]);
            }
            c0 = c1;
        }
        if cur.is_some() {
            let s = &sizes[start..start + block.len()];
            self.group(&block, s, start, dense, &mut scratch, &mut sink);
        }
        sink
    }

    /// Group one block: `rs[t]` is the rest of the view key of class `base + t`, of size
    /// `sizes[t]`.
    fn group(
        &self,
        rs: &[u64],
        sizes: &[u32],
        base: usize,
        dense: bool,
        scratch: &mut Scratch,
        sink: &mut Sink<'_>,
    ) {
        let m = rs.len();
        if self.rest == 1 || m == 1 {
            let size: u64 = sizes.iter().map(|&s| u64::from(s)).sum();
            sink.group(size);
            if m == 1 && size == 1 {
                sink.unique(base);
            }
            return;
        }
        if dense {
            let d = &mut scratch.dense;
            if d.is_empty() {
                // `rest <= dense_max` fits usize; sizes add up to at most n_records <= u32::MAX.
                *d = vec![0u32; self.rest as usize];
            }
            for (&r, &s) in rs.iter().zip(sizes) {
                d[r as usize] += s;
            }
            if sink.uniques.is_some() {
                for (t, &r) in rs.iter().enumerate() {
                    if d[r as usize] == 1 {
                        sink.unique(base + t);
                    }
                }
            }
            for &r in rs {
                let c = std::mem::take(&mut d[r as usize]);
                if c != 0 {
                    sink.group(u64::from(c));
                }
            }
            return;
        }
        let order = &mut scratch.order;
        order.clear();
        // m <= n_classes < 2^32 (checked in View::new)
        order.extend(rs.iter().enumerate().map(|(t, &r)| (r, t as u32)));
        order.sort_unstable();
        runs(
            order,
            |t| u64::from(sizes[t as usize]),
            |t| base + t as usize,
            sink,
        );
    }

    /// The classes are one block: count per thread into dense arrays and add them, or sort
    /// all `(r, class)` pairs in parallel.
    fn one_block(
        &self,
        classes: &EquivalenceClasses,
        narrow: &[Narrow],
        uniques: Option<&[AtomicU64]>,
        tuning: Tuning,
    ) -> Vec<(u64, u64)> {
        let n = classes.n_classes();
        let sizes = classes.sizes();
        let b = tuning.chunk.max(1);
        let each = |lo: usize, hi: usize, f: &mut dyn FnMut(usize, u64)| {
            let (mut pk, mut r) = (vec![0u64; b], vec![0u64; b]);
            let mut c0 = lo;
            while c0 < hi {
                let c1 = (c0 + b).min(hi);
                self.fill(narrow, c0, &mut pk[..c1 - c0], &mut r[..c1 - c0]);
                for (t, &x) in r[..c1 - c0].iter().enumerate() {
                    f(c0 + t, x);
                }
                c0 = c1;
            }
        };
        if !self.dense(classes, tuning) {
            let mut pairs: Vec<(u64, u32)> = vec![(0, 0); n];
            pairs.par_chunks_mut(b).enumerate().for_each(|(ci, out)| {
                let lo = ci * b;
                each(lo, lo + out.len(), &mut |i, r| out[i - lo] = (r, i as u32));
            });
            pairs.par_sort_unstable();
            let mut sink = Sink::new(uniques);
            runs(
                &pairs,
                |i| u64::from(sizes[i as usize]),
                |i| i as usize,
                &mut sink,
            );
            return sink.into_counts();
        }
        let parts = rayon::current_num_threads()
            .min(n / tuning.task_min.max(1))
            .max(1);
        let ranges: Vec<(usize, usize)> = (0..parts)
            .map(|p| (n * p / parts, n * (p + 1) / parts))
            .collect();
        let r_len = self.rest as usize;
        let mut arrays: Vec<Vec<u32>> = ranges
            .par_iter()
            .map(|&(lo, hi)| {
                let mut d = vec![0u32; r_len];
                each(lo, hi, &mut |i, r| d[r as usize] += sizes[i]);
                d
            })
            .collect();
        let mut counts = arrays.pop().expect("at least one part");
        for a in arrays {
            counts
                .par_chunks_mut(1 << 16)
                .zip(a.par_chunks(1 << 16))
                .for_each(|(x, y)| x.iter_mut().zip(y).for_each(|(x, y)| *x += y));
        }
        if let Some(u) = uniques {
            ranges.par_iter().for_each(|&(lo, hi)| {
                each(lo, hi, &mut |i, r| {
                    if counts[r as usize] == 1 {
                        u[i / 64].fetch_or(1 << (i % 64), Ordering::Relaxed);
                    }
                })
            });
        }
        counts
            .par_chunks(1 << 16)
            .fold(
                || Sink::new(None),
                |mut s, ch| {
                    for &c in ch.iter().filter(|&&c| c != 0) {
                        s.group(u64::from(c));
                    }
                    s
                },
            )
            .reduce(|| Sink::new(None), Sink::merge)
            .into_counts()
    }
}

/// Runs of equal `r` in sorted `(r, id)` pairs: one view class each.
fn runs(
    sorted: &[(u64, u32)],
    size: impl Fn(u32) -> u64,
    class: impl Fn(u32) -> usize,
    sink: &mut Sink<'_>,
) {
    let mut i = 0;
    while i < sorted.len() {
        let r = sorted[i].0;
        let mut j = i;
        let mut total = 0;
        while j < sorted.len() && sorted[j].0 == r {
            total += size(sorted[j].1);
            j += 1;
        }
        sink.group(total);
        if j - i == 1 && total == 1 {
            sink.unique(class(sorted[i].1));
        }
        i = j;
    }
}

/// Per-task buffers, reused across blocks.
#[derive(Default)]
struct Scratch {
    dense: Vec<u32>,
    order: Vec<(u64, u32)>,
}

const SMALL: usize = 64;

/// Where a task puts what it finds: the frequency of each view class size, and the bits of
/// the sample uniques.
struct Sink<'u> {
    small: [u64; SMALL],
    large: FxHashMap<u64, u64>,
    uniques: Option<&'u [AtomicU64]>,
}

impl<'u> Sink<'u> {
    fn new(uniques: Option<&'u [AtomicU64]>) -> Self {
        Sink {
            small: [0; SMALL],
            large: FxHashMap::default(),
            uniques,
        }
    }

    #[inline]
    fn group(&mut self, size: u64) {
        if size < SMALL as u64 {
            self.small[size as usize] += 1;
        } else {
            *self.large.entry(size).or_insert(0) += 1;
        }
    }

    #[inline]
    fn unique(&self, i: usize) {
        if let Some(u) = self.uniques {
            u[i / 64].fetch_or(1 << (i % 64), Ordering::Relaxed);
        }
    }

    fn merge(mut self, other: Sink<'u>) -> Sink<'u> {
        for (a, b) in self.small.iter_mut().zip(other.small) {
            *a += b;
        }
        for (k, v) in other.large {
            *self.large.entry(k).or_insert(0) += v;
        }
        self
    }

    fn into_counts(self) -> Vec<(u64, u64)> {
        let mut v: Vec<(u64, u64)> = (0..SMALL as u64)
            .zip(self.small)
            .filter(|&(_, c)| c > 0)
            .collect();
        let mut large: Vec<(u64, u64)> = self.large.into_iter().collect();
        large.sort_unstable();
        v.extend(large);
        v
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::data::{CodeBook, ColumnSpec, EncodedColumn};
    use crate::disclosure::testutil::{cat, int, table};

    fn bits(u: &[AtomicU64], n: usize) -> Vec<usize> {
        (0..n).filter(|&i| bit(u, i)).collect()
    }

    #[test]
    fn values_are_narrowed_to_the_type_of_their_largest() {
        for (values, width) in [
            (vec![], 1),
            (vec![1, 0, 255], 1),
            (vec![3, 256], 2),
            (vec![65_535, 7], 2),
            (vec![65_536, 2], 4),
            (vec![u32::MAX, 0], 4),
        ] {
            let n = Narrow::from_values(values.clone());
            assert_eq!(n.bytes(), width * values.len(), "{values:?}");
            let back: Vec<u32> = (0..values.len()).map(|i| n.get(i)).collect();
            assert_eq!(back, values);
        }
    }

    /// Every path of the fast grouping against the hash map, for one view.
    fn check(c: &EquivalenceClasses, recode: &[Recode<'_>]) -> Result<(), TestCaseError> {
        let n = c.n_classes();
        let want_u = bitset(n);
        let want = c.view_size_counts_hashed(recode, Some(&want_u));
        let want_u = bits(&want_u, n);
        let Some(view) = View::new(c, recode) else {
            return Ok(());
        };
        for tuning in [
            Tuning::default(),
            Tuning {
                dense_max: 0,
                task_min: 1,
                chunk: 3,
            },
            Tuning {
                dense_max: u64::MAX,
                task_min: 2,
                chunk: 1,
            },
            Tuning {
                dense_max: 1,
                task_min: 4,
                chunk: 5,
            },
        ] {
            let u = bitset(n);
            prop_assert_eq!(&view.size_counts(c, Some(&u), tuning), &want);
            prop_assert_eq!(&bits(&u, n), &want_u);
            prop_assert_eq!(&view.size_counts(c, None, tuning), &want);
        }
        Ok(())
    }

    fn arb() -> impl Strategy<Value = (Vec<u32>, Vec<Vec<u32>>)> {
        (1usize..200, prop::collection::vec(1u32..9, 2..5)).prop_flat_map(|(n, cards)| {
            let cols: Vec<_> = cards
                .iter()
                .map(|&c| prop::collection::vec(0..c, n))
                .collect();
            (Just(cards), cols)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The fast grouping equals the hash map's for every subset of the columns and for
        /// banding (monotone) and scrambling (not monotone) each column, with every path
        /// (dense, sort, one block, many tasks) forced.
        #[test]
        fn fast_view_equals_hash_map((cards, cols) in arb(), band in 2u32..4) {
            let names: Vec<String> = (0..cards.len()).map(|i| format!("q{i}")).collect();
            let t = table(
                cols.iter()
                    .zip(&cards)
                    .zip(&names)
                    .map(|((c, &card), name)| int(name, card, c))
                    .collect(),
            );
            let c = EquivalenceClasses::compute(&t, &names, None).unwrap();
            let w = cards.len();
            let all: Vec<usize> = (0..w).collect();
            for mask in 1u32..(1 << w) {
                check(&c, &subset_recode(w, &all, mask))?;
            }
            for (j, &card) in cards.iter().enumerate() {
                let banded: Vec<u32> = (0..card).map(|x| x / band).collect();
                let mut recode = vec![Recode::Keep; w];
                recode[j] = Recode::Map { map: &banded, cardinality: card.div_ceil(band) };
                check(&c, &recode)?;
                recode[(j + 1) % w] = Recode::Drop;
                check(&c, &recode)?;
                let scrambled: Vec<u32> = (0..card).map(|x| (card - 1 - x) / band).collect();
                let mut recode = vec![Recode::Keep; w];
                recode[j] = Recode::Map { map: &scrambled, cardinality: card.div_ceil(band) };
                check(&c, &recode)?;
            }
        }
    }

    #[test]
    fn hashed_layouts_take_the_general_path() {
        let big = |name: &str, codes: &[u32]| EncodedColumn {
            spec: ColumnSpec::integer(name, 0, (1 << 30) - 1),
            codebook: CodeBook {
                n_values: 1 << 30,
                null_code: None,
                other_code: None,
            },
            codes: codes.to_vec(),
        };
        let t = table(vec![
            big("a", &[1, 1, 7, 7, 2]),
            big("b", &[2, 2, 3, 3, 2]),
            big("c", &[5, 5, 9, 8, 0]),
            big("d", &[0, 0, 0, 0, 0]),
            big("e", &[4, 4, 4, 4, 4]),
        ]);
        let c = EquivalenceClasses::compute(&t, &["a", "b", "c", "d", "e"], None).unwrap();
        let all = [0, 1, 2, 3, 4];
        assert!(View::new(&c, &subset_recode(5, &all, 0b11)).is_none());
        let u = bitset(c.n_classes());
        // over (a, b): (1,2)x2, (7,3)x2, (2,2)x1
        assert_eq!(
            c.view_size_counts(&subset_recode(5, &all, 0b11), Some(&u)),
            vec![(1, 1), (2, 2)]
        );
        assert_eq!(bits(&u, c.n_classes()).len(), 1);
    }

    #[test]
    fn prefix_of_a_view() {
        let t = table(vec![
            int("a", 4, &[0, 1, 2, 3]),
            cat("b", 2, &[0, 1, 0, 1]),
            int("c", 3, &[0, 1, 2, 0]),
        ]);
        let c = EquivalenceClasses::compute(&t, &["a", "b", "c"], None).unwrap();
        let v = View::new(&c, &[Recode::Keep, Recode::Drop, Recode::Keep]).unwrap();
        assert_eq!((v.prefix, v.rest), (1, 3));
        let v = View::new(&c, &[Recode::Drop, Recode::Keep, Recode::Keep]).unwrap();
        assert_eq!((v.prefix, v.rest), (0, 6));
        let band = [0, 0, 1, 1];
        let map = Recode::Map {
            map: &band,
            cardinality: 2,
        };
        let v = View::new(&c, &[map, Recode::Keep, Recode::Keep]).unwrap();
        assert_eq!((v.prefix, v.rest), (1, 6));
        let v = View::new(&c, &[Recode::Keep, Recode::Keep, Recode::Keep]).unwrap();
        assert_eq!((v.prefix, v.rest), (3, 1));
        let scramble = [1, 0, 1, 0];
        let map = Recode::Map {
            map: &scramble,
            cardinality: 2,
        };
        let v = View::new(&c, &[map, Recode::Keep, Recode::Keep]).unwrap();
        assert_eq!((v.prefix, v.rest), (0, 12));
        assert!(View::new(&c, &[Recode::Drop, Recode::Drop, Recode::Drop]).is_none());
    }
}

//! Keying: how a class is named by its code tuple. The mixed-radix number
//! `sum(code_i * stride_i)` ([`crate::data::tabulate::radix_strides`], the same cell index as
//! DP histograms and marginals) when the product of the cardinalities fits in 128 bits,
//! otherwise a 128-bit hash of the tuple; and the sorted store of class keys.

use serde::{Deserialize, Serialize};

use crate::data::tabulate::radix_strides;
use crate::data::{ColumnKind, EncodedColumn};

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
    pub(super) fn for_columns(columns: &[ClassColumn]) -> Keying {
        let cards: Vec<u32> = columns.iter().map(|c| c.cardinality).collect();
        match radix_strides(&cards) {
            Some((strides, _)) => Keying::Radix { strides },
            None => Keying::Hashed,
        }
    }

    #[inline]
    pub(super) fn key(&self, tuple: &[u32]) -> u128 {
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
pub(super) fn mix64(mut z: u64) -> u64 {
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
    pub(super) fn compact_strides(&self) -> Option<Vec<u64>> {
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
pub(super) enum KeyStore {
    U64(Vec<u64>),
    U128(Vec<u128>),
}

impl KeyStore {
    pub(super) fn for_layout(layout: &ClassLayout, cap: usize) -> KeyStore {
        if layout.compact_strides().is_some() {
            KeyStore::U64(Vec::with_capacity(cap))
        } else {
            KeyStore::U128(Vec::with_capacity(cap))
        }
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        match self {
            KeyStore::U64(v) => v.len(),
            KeyStore::U128(v) => v.len(),
        }
    }

    #[inline]
    pub(super) fn get(&self, i: usize) -> u128 {
        match self {
            KeyStore::U64(v) => u128::from(v[i]),
            KeyStore::U128(v) => v[i],
        }
    }

    #[inline]
    pub(super) fn push(&mut self, key: u128) {
        match self {
            KeyStore::U64(v) => v.push(u64::try_from(key).expect("compact keys fit in 64 bits")),
            KeyStore::U128(v) => v.push(key),
        }
    }

    pub(super) fn find(&self, key: u128) -> Option<usize> {
        match self {
            KeyStore::U64(v) => u64::try_from(key)
                .ok()
                .and_then(|k| v.binary_search(&k).ok()),
            KeyStore::U128(v) => v.binary_search(&key).ok(),
        }
    }
}

//! Numeric values of a column for sums, means, variances and quantiles, and clamping bounds.
//!
//! Values come from the codes (no second pass over the data):
//! - an unbinned integer column: the exact value, `min + code`;
//! - a binned integer or float column: the **midpoint of the bin** (a warning says so; for
//!   exact values attach raw values with [`DpData::with_raw_values`]);
//! - null and "other" codes are skipped (means and variances are over non-null rows; the
//!   count of those rows is released with noise too).
//!
//! Clamping bounds must be public (declared, not read from the data); values outside are
//! moved to the nearest bound, which biases results but is what bounds the sensitivity.
//!
//! Sums are **fixed-point** ([`FixedPoint`]): each clamped value is rounded to a public grid
//! `2^-k Z` chosen from the bounds alone and the integers are added exactly (`i128`), so the
//! sum's sensitivity is exactly `m ceil(B 2^k)` grid units however many rows there are and
//! in whatever order rayon adds them. A floating-point sum has a larger sensitivity that
//! grows with `n` (Casacuberta, Shoemate, Vadhan & Wagaman 2022, "Widespread underestimation
//! of sensitivity in differentially private libraries and how to fix it"); see
//! `dp/proofs/fixed_point_sum.md`.

use rayon::prelude::*;

use crate::data::encode::Edges;
use crate::data::schema::ColumnKind;
use crate::dp::error::{DpError, Result};
use crate::dp::queries::DpData;

/// Check clamping bounds: finite, `lower <= upper`.
pub fn check_bounds(column: &str, lower: f64, upper: f64) -> Result<()> {
    if lower.is_finite() && upper.is_finite() && lower <= upper {
        Ok(())
    } else {
        Err(DpError::InvalidBounds {
            column: column.into(),
            lower,
            upper,
        })
    }
}

/// Largest magnitude of one quantised value, as a power of two: a public bound `B` is
/// `2^FIXED_POINT_LOG2_UNITS` grid units at most (see [`FixedPoint`]).
pub const FIXED_POINT_LOG2_UNITS: i32 = 32;

/// Grid exponents are kept in `[-1000, 1000]`, where `2^k` is a normal `f64`.
const K_LIMIT: i32 = 1000;

/// `2^k` exactly, for `|k| <= 1022`.
fn pow2(k: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&k));
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// A public fixed-point grid `2^-k Z` for exact sums of values bounded by a public `B`.
///
/// `k` is the largest integer (in `[-1000, 1000]`) with `B 2^k <= 2^32`, so the resolution
/// `2^-k` is in `[2^-32 B, 2^-31 B)` (about `2e-10 B` to `5e-10 B`): far below any noise pets
/// adds (at least `B m / epsilon`). `B 2^k` is exact (a power-of-two scaling of a normal
/// number that stays normal), and a value's grid point is `round(x 2^k)` (ties away from
/// zero), saturated to `[-C, C]` with `C = ceil(B 2^k) <= 2^32`. Rounding is monotone, so
/// for `|x| <= B` the saturation never acts; it is there so that no input, whatever it is,
/// gives a term above `C`. Sums of up to `2^31` terms fit an `i64` (what OpenDP's integer
/// noise takes); pets adds them in `i128` and checks the fit before charging.
///
/// Everything here depends only on `B`: the grid is public. The proof that a sum of these
/// terms over one person's at most `m` rows moves by at most `m C` is in
/// `dp/proofs/fixed_point_sum.md`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixedPoint {
    k: i32,
    bound: f64,
    units: u64,
}

impl FixedPoint {
    /// The grid for values in `[-bound, bound]` (`bound` finite, zero or more).
    pub fn for_bound(bound: f64) -> Result<FixedPoint> {
        FixedPoint::for_bound_within(bound, FIXED_POINT_LOG2_UNITS)
    }

    /// The grid for values in `[-bound, bound]` with at most `2^log2_units` units for `B`
    /// (`k` the largest in `[-1000, 1000]` with `B 2^k <= 2^log2_units`; `log2_units` in
    /// `0..=62`). Federated sums use a coarser grid than [`FixedPoint::for_bound`] so that a
    /// trust's cells stay far inside the ring's safe range. `C` can exceed `2^log2_units`
    /// only when `B > 2^(1000 + log2_units)`; callers that need the cap check [`FixedPoint::units`].
    pub fn for_bound_within(bound: f64, log2_units: i32) -> Result<FixedPoint> {
        debug_assert!((0..=62).contains(&log2_units));
        if !(bound.is_finite() && bound >= 0.0) {
            return Err(DpError::invalid(
                "fixed-point bound",
                bound,
                "it must be a finite number, zero or more",
            ));
        }
        if bound == 0.0 {
            return Ok(FixedPoint {
                k: 0,
                bound,
                units: 0,
            });
        }
        let target = pow2(log2_units);
        let est = (f64::from(log2_units) - bound.log2()).floor();
        let mut k = (est.clamp(f64::from(-K_LIMIT), f64::from(K_LIMIT))) as i32;
        while k > -K_LIMIT && bound * pow2(k) > target {
            k -= 1;
        }
        while k < K_LIMIT && bound * pow2(k + 1) <= target {
            k += 1;
        }
        let units = (bound * pow2(k)).ceil();
        Ok(FixedPoint {
            k,
            bound,
            units: units as u64,
        })
    }

    /// The exponent `k` (the resolution is `2^-k`).
    pub fn k(&self) -> i32 {
        self.k
    }

    /// The resolution `2^-k`.
    pub fn resolution(&self) -> f64 {
        pow2(-self.k)
    }

    /// The public bound `B` the grid was made for.
    pub fn bound(&self) -> f64 {
        self.bound
    }

    /// `C = ceil(B 2^k)`: the largest magnitude of one quantised value, in grid units.
    pub fn units(&self) -> u64 {
        self.units
    }

    /// The grid point of `x`, in units: `round(x 2^k)` saturated to `[-C, C]` (NaN: 0).
    pub fn quantise(&self, x: f64) -> i64 {
        let z = x * pow2(self.k);
        if z.is_nan() {
            return 0;
        }
        let c = self.units as f64;
        z.round().clamp(-c, c) as i64
    }

    /// `units 2^-k` as the nearest `f64` (saturated to the finite range): post-processing of
    /// a released integer.
    pub fn to_real(&self, units: i128) -> f64 {
        let v = units as f64 * pow2(-self.k);
        v.clamp(f64::MIN, f64::MAX)
    }

    /// Integer L1 (and L2) sensitivity of a sum over one person's at most `m` rows:
    /// `m C`, as an `f64` rounded up.
    pub fn sensitivity_units(&self, m: u32) -> f64 {
        let v = u128::from(m) * u128::from(self.units);
        let f = v as f64;
        if (f as u128) < v { f.next_up() } else { f }
    }

    /// The same sensitivity in the column's units, `m C 2^-k` (rounded up, finite).
    pub fn sensitivity(&self, m: u32) -> f64 {
        (self.sensitivity_units(m) * pow2(-self.k)).min(f64::MAX)
    }
}

/// Where a numeric column's values come from.
pub(crate) enum Source<'a> {
    Raw(&'a [Option<f64>]),
    Coded {
        codes: &'a [u32],
        /// Value of each code (`None`: null or other).
        values: Vec<Option<f64>>,
    },
}

/// A numeric column ready to aggregate over the kept rows.
pub(crate) struct Numeric<'a> {
    pub name: String,
    pub source: Source<'a>,
    pub warnings: Vec<String>,
}

/// Resolve `column` for a numeric query named `query`.
pub(crate) fn numeric<'d>(data: &'d DpData<'_>, column: &str, query: &str) -> Result<Numeric<'d>> {
    if let Some(raw) = data.raw(column) {
        // Raw values of a column that is also encoded are read raw; its domain flag still applies.
        let mut warnings = Vec::new();
        if let Ok(c) = data.column(column)
            && c.spec.domain_from_data
        {
            warnings.push(super::domain_warning(column));
        }
        return Ok(Numeric {
            name: column.into(),
            source: Source::Raw(raw),
            warnings,
        });
    }
    let col = data.column(column)?;
    let book = col.codebook;
    let mut values: Vec<Option<f64>> = vec![None; book.cardinality() as usize];
    let mut warnings = Vec::new();
    match &col.spec.kind {
        ColumnKind::Integer {
            min, bins: None, ..
        } => {
            for (code, v) in values.iter_mut().enumerate().take(book.n_values as usize) {
                *v = Some((*min + code as i64) as f64);
            }
        }
        ColumnKind::Integer {
            min,
            max,
            bins: Some(b),
        } => {
            let e = Edges::new(b, *min as f64, *max as f64);
            fill_midpoints(&mut values, &e);
            warnings.push(midpoint_warning(column));
        }
        ColumnKind::Float { min, max, bins } => {
            let e = Edges::new(bins, *min, *max);
            fill_midpoints(&mut values, &e);
            warnings.push(midpoint_warning(column));
        }
        other => {
            return Err(DpError::WrongKind {
                column: column.into(),
                kind: other.name().into(),
                query: query.into(),
                expected: "an integer or float column".into(),
            });
        }
    }
    if col.spec.domain_from_data {
        warnings.push(super::domain_warning(column));
    }
    Ok(Numeric {
        name: column.into(),
        source: Source::Coded {
            codes: &col.codes,
            values,
        },
        warnings,
    })
}

fn fill_midpoints(values: &mut [Option<f64>], e: &Edges) {
    for code in 0..e.n_bins() {
        let (lo, hi) = e.bounds(code);
        values[code as usize] = Some(lo + (hi - lo) / 2.0);
    }
}

fn midpoint_warning(column: &str) -> String {
    format!(
        "{column:?} is binned: each value is taken at its bin's midpoint, so the statistic is \
         of the binned data (attach raw values for exact sums)"
    )
}

impl Numeric<'_> {
    /// Exact fixed-point moments over the kept, non-null rows: `(n, S1, S2)` with
    /// `S1 = sum_i g1.quantise(f(x_i))` and, when `g2` is given,
    /// `S2 = sum_i g2.quantise(f(x_i)^2)` (else 0), in grid units.
    ///
    /// Every term is an integer, so the sums are exact and do not depend on the order in
    /// which rayon adds them. `f` must map every finite value into `[-g1.bound(), g1.bound()]`
    /// (and its square into `[0, g2.bound()]`); the quantiser enforces this by saturating, so
    /// a term's magnitude never exceeds `g.units()` whatever `f` does. A non-finite raw
    /// value is an error, found here, before anything is charged.
    pub fn fixed_moments(
        &self,
        data: &DpData<'_>,
        f: impl Fn(f64) -> f64 + Sync,
        g1: &FixedPoint,
        g2: Option<&FixedPoint>,
    ) -> Result<(u64, i128, i128)> {
        let term = |y: f64| -> (i128, i128) {
            let q1 = i128::from(g1.quantise(y));
            let q2 = g2.map_or(0, |g| i128::from(g.quantise(y * y)));
            (q1, q2)
        };
        match &self.source {
            Source::Coded { codes, values } => {
                let k = values.len();
                let counts = data.bounded().par_fold(
                    || vec![0u64; k],
                    |mut acc, r| {
                        acc[codes[r] as usize] += 1;
                        acc
                    },
                    |mut a, b| {
                        a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                        a
                    },
                );
                let (mut n, mut s1, mut s2) = (0u64, 0i128, 0i128);
                for (c, v) in counts.iter().zip(values) {
                    if let (Some(v), true) = (v, *c > 0) {
                        let (q1, q2) = term(f(*v));
                        n += c;
                        s1 += i128::from(*c) * q1;
                        s2 += i128::from(*c) * q2;
                    }
                }
                Ok((n, s1, s2))
            }
            Source::Raw(raw) => {
                self.check_finite(data, raw)?;
                Ok(data.bounded().par_fold(
                    || (0u64, 0i128, 0i128),
                    |(n, s1, s2), r| match raw[r] {
                        Some(v) => {
                            let (q1, q2) = term(f(v));
                            (n + 1, s1 + q1, s2 + q2)
                        }
                        None => (n, s1, s2),
                    },
                    |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2),
                ))
            }
        }
    }

    fn check_finite(&self, data: &DpData<'_>, raw: &[Option<f64>]) -> Result<()> {
        let bad = data.bounded().par_fold(
            || None::<usize>,
            |acc, r| match (acc, raw[r]) {
                (None, Some(v)) if !v.is_finite() => Some(r),
                (a, _) => a,
            },
            |a, b| match (a, b) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (a, b) => a.or(b),
            },
        );
        match bad {
            Some(r) => Err(DpError::NonFinite {
                column: self.name.clone(),
                row: r as u64 + 1,
                value: raw[r].expect("found above"),
            }),
            None => Ok(()),
        }
    }

    /// Every kept, non-null value (for quantiles).
    pub fn collect(&self, data: &DpData<'_>) -> Result<Vec<f64>> {
        let rows: Vec<usize> = match data.bounded().rows() {
            Some(r) => r.iter().map(|&r| r as usize).collect(),
            None => (0..data.bounded().n_rows()).collect(),
        };
        match &self.source {
            Source::Coded { codes, values } => Ok(rows
                .par_iter()
                .filter_map(|&r| values[codes[r] as usize])
                .collect()),
            Source::Raw(raw) => {
                self.check_finite(data, raw)?;
                Ok(rows.par_iter().filter_map(|&r| raw[r]).collect())
            }
        }
    }
}

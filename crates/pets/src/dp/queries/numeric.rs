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
    /// `(n, sum f(x), sum f(x)^2)` over kept, non-null rows, with `f` applied to each value.
    pub fn moments(
        &self,
        data: &DpData<'_>,
        f: impl Fn(f64) -> f64 + Sync,
    ) -> Result<(u64, f64, f64)> {
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
                let (mut n, mut s1, mut s2) = (0u64, 0.0, 0.0);
                for (c, v) in counts.iter().zip(values) {
                    if let (Some(v), true) = (v, *c > 0) {
                        let y = f(*v);
                        n += c;
                        s1 += *c as f64 * y;
                        s2 += *c as f64 * y * y;
                    }
                }
                Ok((n, s1, s2))
            }
            Source::Raw(raw) => {
                self.check_finite(data, raw)?;
                Ok(data.bounded().par_fold(
                    || (0u64, 0.0, 0.0),
                    |(n, s1, s2), r| match raw[r] {
                        Some(v) => {
                            let y = f(v);
                            (n + 1, s1 + y, s2 + y * y)
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

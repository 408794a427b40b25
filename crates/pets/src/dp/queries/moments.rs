//! Sum, mean and variance of a numeric column clamped to public bounds `[L, U]`, in exact
//! fixed-point arithmetic.
//!
//! With at most `m` rows a person, neighbours differ by at most `m` values. Each clamped (or
//! centred, or squared) value is rounded to a public grid `2^-k Z` chosen from the bounds
//! alone ([`FixedPoint`]: `B 2^k <= 2^32`, `C = ceil(B 2^k)` units for a value bound `B`),
//! the integers are summed exactly in `i128`, and the integer sum gets OpenDP's exact integer
//! noise (discrete Laplace for epsilon budgets, discrete Gaussian for zCDP; Ghosh et al.
//! 2009; Canonne, Kamath & Steinke 2020) at integer sensitivity `m C`. The released integer
//! is scaled by `2^-k` (post-processing). The rule, proved in `dp/proofs/fixed_point_sum.md`:
//!
//! - **sum** of clamped values: `B = max(|L|, |U|)`, sensitivity `m ceil(B 2^k)` units, i.e.
//!   `m ceil(B 2^k) 2^-k >= m max(|L|, |U|)` in the column's units (the ledger shows this);
//! - **mean**: values centred at `c = L + (U - L)/2` (in floating point), each in `[-R, R]`
//!   with `R = max(|fl(L - c)|, |fl(U - c)|)` (rounding is monotone, so this bounds every
//!   computed `fl(x - c)`); half the share on the noisy centred sum (sensitivity
//!   `m ceil(R 2^k)` units), half on the noisy count of non-null rows (sensitivity `m`);
//!   mean `= c + S / N`, clamped to `[L, U]`;
//! - **variance** (population, of the clamped values): a third each on `N`, `S1 = sum(x - c)`
//!   (as for the mean) and `S2 = sum (x - c)^2` on its own grid for `R2 = fl(R R)`
//!   (sensitivity `m ceil(R2 2^k2)` units); `var = S2/N - (S1/N)^2`, clamped to `[0, R2]`.
//!
//! A float sum charged at `m max(|L|, |U|)` would under-state its sensitivity, by an amount
//! that grows with `n` (Casacuberta et al. 2022), and would depend on rayon's order; the
//! fixed-point sum does neither. The resolution (about `1e-10 B`) is far below the noise.
//!
//! **Order.** Everything that can fail on the data (a NaN or infinity in raw values, a sum
//! outside `i64`) is computed and checked first; then the whole share is checked to fit;
//! then each part is released through the session, which charges that part and draws its
//! noise (integer noise cannot fail on an `i64`), one part after the other.
//!
//! The intervals of means and variances are built from the `1 - alpha/k` intervals of their
//! `k` noisy parts by interval arithmetic, so they hold with probability at least `1 - alpha`
//! (union bound); they are conservative.

use serde::{Deserialize, Serialize};

use crate::dp::accuracy::{Accuracy, Interval, noise_half_width};
use crate::dp::budget::Cost;
use crate::dp::error::{DpError, Result};
use crate::dp::mechanisms::{Charged, Mechanism, MechanismInfo, NoiseFamily, Sensitivity};
use crate::dp::queries::numeric::{FixedPoint, check_bounds, numeric};
use crate::dp::queries::{CountNoise, DpData, ScalarResult, check_share, split_share};
use crate::dp::session::Session;

/// A numeric query: column, public clamping bounds, a share of the budget, the noise family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericQuery {
    /// The column.
    pub column: String,
    /// Public lower clamping bound.
    pub lower: f64,
    /// Public upper clamping bound.
    pub upper: f64,
    /// Share of the session's budget.
    pub share: Cost,
    /// Noise family (default: by the session's measure).
    #[serde(default)]
    pub noise: NoiseFamily,
}

impl NumericQuery {
    /// A query on `column` clamped to `[lower, upper]` spending `share`.
    pub fn new(column: &str, lower: f64, upper: f64, share: Cost) -> NumericQuery {
        NumericQuery {
            column: column.into(),
            lower,
            upper,
            share,
            noise: NoiseFamily::Auto,
        }
    }
}

fn clamp_warning(q: &NumericQuery) -> String {
    format!(
        "values of {:?} were clamped to [{}, {}]: values outside are counted at the nearer bound",
        q.column, q.lower, q.upper
    )
}

/// The exact, un-noised parts of a sum, mean or variance, in fixed point: what the noise is
/// added to. Public so that tests (and auditors) can check the sensitivity the ledger states
/// against the statistic itself; releasing these numbers is not differentially private.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactParts {
    /// Kept, non-null rows.
    pub n: u64,
    /// Sum of the grid points of the (clamped, or centred) values, in units of `grid1`.
    pub s1: i128,
    /// Sum of the grid points of the squared centred values, in units of `grid2` (zero for
    /// [`exact_sum`]).
    pub s2: i128,
    /// The grid of `s1`.
    pub grid1: FixedPoint,
    /// The grid of `s2`.
    pub grid2: FixedPoint,
    /// The centre `c` subtracted before summing (zero for [`exact_sum`]).
    pub centre: f64,
}

/// The data-dependent parts of [`ExactParts`] (`n`, `s1`, `s2`), added up over the
/// partitions of a table ([`crate::partial::Partial::Moments`]). The grids and the centre
/// depend only on the public bounds, so the driver recomputes them; integer sums add
/// exactly, so the merged parts are the whole table's, bit for bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MergedMoments {
    /// Kept, non-null rows.
    pub n: u64,
    /// Sum of grid points (`ExactParts::s1`).
    pub s1: i128,
    /// Sum of grid points of squares (`ExactParts::s2`).
    pub s2: i128,
}

impl ExactParts {
    /// The data-dependent parts, for merging.
    pub fn moments(&self) -> MergedMoments {
        MergedMoments {
            n: self.n,
            s1: self.s1,
            s2: self.s2,
        }
    }

    /// These parts (grids and centre from the bounds) with `merged` counts and sums, when
    /// given: the release then uses the partitions' totals instead of `data`'s.
    fn with_merged(self, merged: Option<&MergedMoments>) -> ExactParts {
        match merged {
            Some(m) => ExactParts {
                n: m.n,
                s1: m.s1,
                s2: m.s2,
                ..self
            },
            None => self,
        }
    }
}

/// The exact fixed-point sum of the clamped values of `q.column` over the kept rows
/// (`s1`, on the grid for `B = max(|L|, |U|)`).
pub fn exact_sum(data: &DpData<'_>, q: &NumericQuery) -> Result<ExactParts> {
    let name = format!("sum({})", q.column);
    check_bounds(&q.column, q.lower, q.upper)?;
    let col = numeric(data, &q.column, &name)?;
    let (lo, hi) = (q.lower, q.upper);
    let grid1 = FixedPoint::for_bound(lo.abs().max(hi.abs()))?;
    let (n, s1, _) = col.fixed_moments(data, |x| x.clamp(lo, hi), &grid1, None)?;
    Ok(ExactParts {
        n,
        s1,
        s2: 0,
        grid1,
        grid2: FixedPoint::for_bound(0.0)?,
        centre: 0.0,
    })
}

/// The centre `c = L + (U - L)/2` and the bound `R = max(|fl(L - c)|, |fl(U - c)|)` on every
/// computed `fl(x - c)` with `x` in `[L, U]` (floating-point subtraction is monotone in `x`).
///
/// (`c` is `L/2 + U/2` when `U - L` overflows, so bounds up to `±f64::MAX` work.)
pub fn centre_and_radius(lower: f64, upper: f64) -> (f64, f64) {
    let w = upper - lower;
    let c = if w.is_finite() {
        lower + w / 2.0
    } else {
        lower / 2.0 + upper / 2.0
    };
    let r = (lower - c).abs().max((upper - c).abs());
    (c, r)
}

/// The exact fixed-point parts of the mean and variance: `n`, the sum of centred values
/// `s1` (grid for `R`) and the sum of their squares `s2` (grid for `fl(R R)`).
pub fn exact_centred(data: &DpData<'_>, q: &NumericQuery) -> Result<ExactParts> {
    centred(data, q, true)
}

/// The exact fixed-point parts of the mean: `n` and the sum of centred values `s1` (no sum
/// of squares).
pub fn exact_mean_parts(data: &DpData<'_>, q: &NumericQuery) -> Result<ExactParts> {
    centred(data, q, false)
}

/// [`exact_centred`], with the sum of squares only when `squares` (the mean needs none).
fn centred(data: &DpData<'_>, q: &NumericQuery, squares: bool) -> Result<ExactParts> {
    let name = format!(
        "{}({})",
        if squares { "variance" } else { "mean" },
        q.column
    );
    check_bounds(&q.column, q.lower, q.upper)?;
    let col = numeric(data, &q.column, &name)?;
    let (lo, hi) = (q.lower, q.upper);
    let (c, r) = centre_and_radius(lo, hi);
    let grid1 = FixedPoint::for_bound(r)?;
    let grid2 = if squares {
        let r2 = r * r;
        if !r2.is_finite() {
            return Err(DpError::query(
                name,
                format!(
                    "the bounds are too wide for a variance: ((U - L)/2)^2 = {r2} overflows; \
                     give narrower public bounds"
                ),
            ));
        }
        FixedPoint::for_bound(r2)?
    } else {
        FixedPoint::for_bound(0.0)?
    };
    let g2 = squares.then_some(&grid2);
    let (n, s1, s2) = col.fixed_moments(data, |x| x.clamp(lo, hi) - c, &grid1, g2)?;
    Ok(ExactParts {
        n,
        s1,
        s2,
        grid1,
        grid2,
        centre: c,
    })
}

/// An exact integer statistic as the `i64` OpenDP's integer noise takes, or an error (before
/// anything is charged) when it does not fit.
fn to_i64(query: &str, part: &str, v: i128) -> Result<i64> {
    i64::try_from(v).map_err(|_| {
        DpError::query(
            query,
            format!(
                "the fixed-point {part} is outside the 64-bit range (more than 2^31 rows at \
                 the bound); nothing was charged"
            ),
        )
    })
}

fn to_i64_count(query: &str, n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| DpError::query(query, "more than 2^63 rows"))
}

/// Integer noise on a fixed-point sum: OpenDP's discrete Laplace or discrete Gaussian at the
/// integer sensitivity `m C` of the grid, released as `2^-k` times the noisy integer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FixedPointNoise {
    noise: CountNoise,
    grid: FixedPoint,
    m: u32,
}

impl FixedPointNoise {
    /// Calibrated to `share` for sums over `grid` with at most `m` rows a person.
    pub(crate) fn for_share(
        measure: crate::dp::PrivacyMeasure,
        family: NoiseFamily,
        share: &Cost,
        grid: FixedPoint,
        m: u32,
    ) -> Result<FixedPointNoise> {
        let sens = grid.sensitivity_units(m);
        Ok(FixedPointNoise {
            noise: CountNoise::for_share(measure, family, share, sens, sens)?,
            grid,
            m,
        })
    }

    fn inner_info(&self) -> MechanismInfo {
        match &self.noise {
            CountNoise::Laplace(n) => n.info(),
            CountNoise::Gaussian(n) => n.info(),
        }
    }

    /// Half-width at significance `alpha`, in the column's units.
    pub(crate) fn half_width(&self, alpha: f64) -> Result<f64> {
        let info = self.inner_info();
        let kind = info.noise.expect("integer noise has a kind");
        Ok(noise_half_width(kind, info.scale, alpha)? * self.grid.resolution())
    }
}

impl Mechanism for FixedPointNoise {
    type Input = [i64];
    type Output = Vec<f64>;

    fn info(&self) -> MechanismInfo {
        let inner = self.inner_info();
        let res = self.grid.resolution();
        MechanismInfo {
            name: format!("fixed_point_{}", inner.name),
            noise: inner.noise,
            scale: inner.scale * res,
            sensitivity: Sensitivity::new(&inner.sensitivity.metric, self.grid.sensitivity(self.m)),
            reference: format!(
                "{}; exact fixed-point sum on the grid 2^-{} (m ceil(B 2^k) = {} units; \
                 Casacuberta et al. 2022)",
                inner.reference,
                self.grid.k(),
                self.grid.sensitivity_units(self.m)
            ),
        }
    }

    fn cost(&self) -> Result<Cost> {
        match &self.noise {
            CountNoise::Laplace(n) => n.cost(),
            CountNoise::Gaussian(n) => n.cost(),
        }
    }

    fn accuracy(&self, alpha: f64) -> Result<Option<Accuracy>> {
        let a = self.half_width(alpha)?;
        Ok(Some(Accuracy {
            alpha,
            half_width: a,
            statement: format!(
                "each released value is within {a} of the true (bounded, fixed-point) value \
                 with probability >= {}",
                1.0 - alpha
            ),
        }))
    }

    fn sample(&self, input: &[i64], charged: &Charged) -> Result<Vec<f64>> {
        let noisy = match &self.noise {
            CountNoise::Laplace(n) => n.sample(input, charged)?,
            CountNoise::Gaussian(n) => n.sample(input, charged)?,
        };
        Ok(noisy
            .into_iter()
            .map(|v| self.grid.to_real(i128::from(v)))
            .collect())
    }
}

fn noise_of_count(n: &CountNoise) -> (crate::dp::NoiseKind, f64) {
    match n {
        CountNoise::Laplace(m) => (crate::dp::NoiseKind::DiscreteLaplace, m.scale()),
        CountNoise::Gaussian(m) => (crate::dp::NoiseKind::DiscreteGaussian, m.scale()),
    }
}

fn count_half_width(n: &CountNoise, alpha: f64) -> Result<f64> {
    let (k, s) = noise_of_count(n);
    noise_half_width(k, s, alpha)
}

/// Release the sum of the clamped values.
pub fn sum(session: &mut Session, data: &DpData<'_>, q: &NumericQuery) -> Result<ScalarResult> {
    sum_with(session, data, q, None)
}

/// [`sum`], with the exact parts `merged` from partitions when given (`data` then gives
/// the columns, the bound and the ledger record; zero rows will do).
pub fn sum_with(
    session: &mut Session,
    data: &DpData<'_>,
    q: &NumericQuery,
    merged: Option<&MergedMoments>,
) -> Result<ScalarResult> {
    let name = format!("sum({})", q.column);
    check_bounds(&q.column, q.lower, q.upper)?;
    check_share(session, &name, &q.share)?;
    let col = numeric(data, &q.column, &name)?;
    // The exact statistic first: every data-dependent failure happens before the charge.
    let parts = exact_sum(data, q)?.with_merged(merged);
    let s = to_i64(&name, "sum", parts.s1)?;
    let m = data.bounded().max_rows_per_person();
    let mech = FixedPointNoise::for_share(session.measure(), q.noise, &q.share, parts.grid1, m)?;
    let mut record = data.record(name.clone(), std::slice::from_ref(&q.column));
    record.warnings.extend(col.warnings.iter().cloned());
    record = record.warn(clamp_warning(q));
    let warnings = record.warnings.clone();
    let rel = session.release(&mech, &[s], record)?;
    let value = rel.value[0];
    let a = mech.half_width(session.alpha())?;
    Ok(ScalarResult {
        query: name,
        value,
        interval: Some(Interval::around(value, a, session.alpha())),
        accuracy: rel.accuracy,
        ledger_entries: vec![rel.ledger_index],
        warnings,
    })
}

/// Release the mean of the clamped, non-null values.
pub fn mean(session: &mut Session, data: &DpData<'_>, q: &NumericQuery) -> Result<ScalarResult> {
    mean_with(session, data, q, None)
}

/// [`mean`], with the exact parts `merged` from partitions when given (as [`sum_with`]).
pub fn mean_with(
    session: &mut Session,
    data: &DpData<'_>,
    q: &NumericQuery,
    merged: Option<&MergedMoments>,
) -> Result<ScalarResult> {
    let name = format!("mean({})", q.column);
    check_bounds(&q.column, q.lower, q.upper)?;
    check_share(session, &name, &q.share)?;
    let col = numeric(data, &q.column, &name)?;
    let (lo, hi) = (q.lower, q.upper);
    // The exact statistic first: every data-dependent failure happens before any charge.
    let parts = centred(data, q, false)?.with_merged(merged);
    let c = parts.centre;
    let s = to_i64(&name, "centred sum", parts.s1)?;
    let n = to_i64_count(&name, parts.n)?;
    let shares = split_share(&q.share, &[1.0, 1.0])?;
    let m = data.bounded().max_rows_per_person();
    let mf = f64::from(m);
    let sum_noise =
        FixedPointNoise::for_share(session.measure(), q.noise, &shares[0], parts.grid1, m)?;
    let count_noise = CountNoise::for_share(session.measure(), q.noise, &shares[1], mf, mf)?;
    let mut record = data.record(
        format!("{name}: centred sum"),
        std::slice::from_ref(&q.column),
    );
    record.warnings.extend(col.warnings.iter().cloned());
    record = record.warn(clamp_warning(q));
    let warnings = record.warnings.clone();
    let mut count_record = record.clone();
    count_record.query = format!("{name}: count of non-null rows");
    // Both parts together must fit before either is charged; then each part is charged by
    // the session just before its own draw (nothing between the two releases can fail on
    // the data: the statistics were computed and checked above).
    session.check_share(&name, &q.share)?;
    let rs = session.release(&sum_noise, &[s], record)?;
    let rn = count_noise.release(session, &[n], count_record)?;
    let (s_hat, n_hat) = (rs.value[0], rn.value[0] as f64);
    let alpha = session.alpha();
    let a_s = sum_noise.half_width(alpha / 2.0)?;
    let a_n = count_half_width(&count_noise, alpha / 2.0)?;
    let value = if n_hat >= 1.0 {
        (c + s_hat / n_hat).clamp(lo, hi)
    } else {
        c
    };
    let interval = if n_hat - a_n >= 1.0 {
        let (n_lo, n_hi) = (n_hat - a_n, n_hat + a_n);
        let (s_lo, s_hi) = (s_hat - a_s, s_hat + a_s);
        let cands = [s_lo / n_lo, s_lo / n_hi, s_hi / n_lo, s_hi / n_hi];
        let mn = cands.iter().cloned().fold(f64::INFINITY, f64::min);
        let mx = cands.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        Interval {
            lower: (c + mn).max(lo),
            upper: (c + mx).min(hi),
            alpha,
        }
    } else {
        Interval {
            lower: lo,
            upper: hi,
            alpha,
        }
    };
    Ok(ScalarResult {
        query: name,
        value,
        interval: Some(interval),
        accuracy: None,
        ledger_entries: vec![rs.ledger_index, rn.ledger_index],
        warnings,
    })
}

/// Release the (population) variance of the clamped, non-null values.
pub fn variance(
    session: &mut Session,
    data: &DpData<'_>,
    q: &NumericQuery,
) -> Result<ScalarResult> {
    variance_with(session, data, q, None)
}

/// [`variance`], with the exact parts `merged` from partitions when given (as [`sum_with`]).
pub fn variance_with(
    session: &mut Session,
    data: &DpData<'_>,
    q: &NumericQuery,
    merged: Option<&MergedMoments>,
) -> Result<ScalarResult> {
    let name = format!("variance({})", q.column);
    check_bounds(&q.column, q.lower, q.upper)?;
    check_share(session, &name, &q.share)?;
    let col = numeric(data, &q.column, &name)?;
    // The exact statistic first: every data-dependent failure happens before any charge.
    let parts = exact_centred(data, q)?.with_merged(merged);
    let n = to_i64_count(&name, parts.n)?;
    let s1 = to_i64(&name, "centred sum", parts.s1)?;
    let s2 = to_i64(&name, "centred sum of squares", parts.s2)?;
    let r = centre_and_radius(q.lower, q.upper).1;
    let shares = split_share(&q.share, &[1.0, 1.0, 1.0])?;
    let m = data.bounded().max_rows_per_person();
    let mf = f64::from(m);
    let measure = session.measure();
    let n_noise = CountNoise::for_share(measure, q.noise, &shares[0], mf, mf)?;
    let s1_noise = FixedPointNoise::for_share(measure, q.noise, &shares[1], parts.grid1, m)?;
    let s2_noise = FixedPointNoise::for_share(measure, q.noise, &shares[2], parts.grid2, m)?;
    let mut record = data.record(format!("{name}: count"), std::slice::from_ref(&q.column));
    record.warnings.extend(col.warnings.iter().cloned());
    record = record.warn(clamp_warning(q));
    let warnings = record.warnings.clone();
    let mut r1 = record.clone();
    r1.query = format!("{name}: centred sum");
    let mut r2 = record.clone();
    r2.query = format!("{name}: centred sum of squares");
    // All three parts must fit before any is charged; each is then charged by the session
    // just before its own draw.
    session.check_share(&name, &q.share)?;
    let rn = n_noise.release(session, &[n], record)?;
    let rs1 = session.release(&s1_noise, &[s1], r1)?;
    let rs2 = session.release(&s2_noise, &[s2], r2)?;
    let (n_hat, s1_hat, s2_hat) = (rn.value[0] as f64, rs1.value[0], rs2.value[0]);
    let alpha = session.alpha();
    let a_n = count_half_width(&n_noise, alpha / 3.0)?;
    let a1 = s1_noise.half_width(alpha / 3.0)?;
    let a2 = s2_noise.half_width(alpha / 3.0)?;
    let r2max = r * r;
    let value = if n_hat >= 1.0 {
        (s2_hat / n_hat - (s1_hat / n_hat).powi(2)).clamp(0.0, r2max)
    } else {
        r2max / 2.0
    };
    let interval = if n_hat - a_n >= 1.0 {
        let (n_lo, n_hi) = (n_hat - a_n, n_hat + a_n);
        let (s1_lo, s1_hi) = (s1_hat - a1, s1_hat + a1);
        let (s2_lo, s2_hi) = (s2_hat - a2, s2_hat + a2);
        let max_sq = s1_lo.powi(2).max(s1_hi.powi(2));
        let min_sq = if s1_lo <= 0.0 && s1_hi >= 0.0 {
            0.0
        } else {
            s1_lo.powi(2).min(s1_hi.powi(2))
        };
        let s2_over_n_hi = if s2_hi >= 0.0 {
            s2_hi / n_lo
        } else {
            s2_hi / n_hi
        };
        let s2_over_n_lo = if s2_lo >= 0.0 {
            s2_lo / n_hi
        } else {
            s2_lo / n_lo
        };
        Interval {
            lower: (s2_over_n_lo - max_sq / (n_lo * n_lo)).max(0.0),
            upper: (s2_over_n_hi - min_sq / (n_hi * n_hi)).clamp(0.0, r2max),
            alpha,
        }
    } else {
        Interval {
            lower: 0.0,
            upper: r2max,
            alpha,
        }
    };
    Ok(ScalarResult {
        query: name,
        value,
        interval: Some(interval),
        accuracy: None,
        ledger_entries: vec![rn.ledger_index, rs1.ledger_index, rs2.ledger_index],
        warnings,
    })
}

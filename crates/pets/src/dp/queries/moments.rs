//! Sum, mean and variance of a numeric column clamped to public bounds `[L, U]`.
//!
//! With at most `m` rows a person, neighbours differ by at most `m` values:
//! - **sum** of clamped values: sensitivity `m max(|L|, |U|)`; Laplace (epsilon budgets) or
//!   Gaussian (zCDP) noise on OpenDP's float path (Dwork et al. 2006; Bun & Steinke 2016);
//! - **mean**: values centred at `c = (L + U)/2` so each lies in `[-r, r]`, `r = (U - L)/2`;
//!   half the share on the noisy centred sum (sensitivity `m r`), half on the noisy count of
//!   non-null rows (sensitivity `m`); mean `= c + S / N`, clamped to `[L, U]`;
//! - **variance** (population, of the clamped values): a third each on `N`, `S1 = sum(x - c)`
//!   and `S2 = sum (x - c)^2` (sensitivities `m`, `m r`, `m r^2`);
//!   `var = S2/N - (S1/N)^2`, clamped to `[0, r^2]`.
//!
//! The intervals of means and variances are built from the `1 - alpha/k` intervals of their
//! `k` noisy parts by interval arithmetic, so they hold with probability at least `1 - alpha`
//! (union bound); they are conservative.

use serde::{Deserialize, Serialize};

use crate::dp::accuracy::{Interval, noise_half_width};
use crate::dp::budget::Cost;
use crate::dp::error::Result;
use crate::dp::mechanisms::NoiseFamily;
use crate::dp::queries::numeric::{check_bounds, numeric};
use crate::dp::queries::{CountNoise, DpData, RealNoise, ScalarResult, check_share, split_share};
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

/// Half-width of a noisy part released by `rel` at significance `alpha`.
fn half_width(
    acc: &Option<crate::dp::accuracy::Accuracy>,
    kind_scale: Option<(crate::dp::NoiseKind, f64)>,
    alpha: f64,
) -> Result<f64> {
    match kind_scale {
        Some((k, s)) => noise_half_width(k, s, alpha),
        None => Ok(acc.as_ref().map_or(0.0, |a| a.half_width)),
    }
}

fn noise_of_real(n: &RealNoise) -> (crate::dp::NoiseKind, f64) {
    match n {
        RealNoise::Laplace(m) => (crate::dp::NoiseKind::Laplace, m.scale()),
        RealNoise::Gaussian(m) => (crate::dp::NoiseKind::Gaussian, m.scale()),
    }
}

fn noise_of_count(n: &CountNoise) -> (crate::dp::NoiseKind, f64) {
    match n {
        CountNoise::Laplace(m) => (crate::dp::NoiseKind::DiscreteLaplace, m.scale()),
        CountNoise::Gaussian(m) => (crate::dp::NoiseKind::DiscreteGaussian, m.scale()),
    }
}

/// Release the sum of the clamped values.
pub fn sum(session: &mut Session, data: &DpData<'_>, q: &NumericQuery) -> Result<ScalarResult> {
    let name = format!("sum({})", q.column);
    check_bounds(&q.column, q.lower, q.upper)?;
    check_share(session, &name, &q.share)?;
    let col = numeric(data, &q.column, &name)?;
    let (lo, hi) = (q.lower, q.upper);
    let (_, s, _) = col.moments(data, |x| x.clamp(lo, hi))?;
    let sens = data.m() * lo.abs().max(hi.abs());
    let mech = RealNoise::for_share(session.measure(), q.noise, &q.share, sens)?;
    let mut record = data.record(name.clone(), std::slice::from_ref(&q.column));
    record.warnings.extend(col.warnings.iter().cloned());
    record = record.warn(clamp_warning(q));
    let warnings = record.warnings.clone();
    let rel = mech.release(session, &[s], record)?;
    let value = rel.value[0];
    let a = half_width(&rel.accuracy, None, session.alpha())?;
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
    let name = format!("mean({})", q.column);
    check_bounds(&q.column, q.lower, q.upper)?;
    check_share(session, &name, &q.share)?;
    let col = numeric(data, &q.column, &name)?;
    let (lo, hi) = (q.lower, q.upper);
    let c = lo + (hi - lo) / 2.0;
    let r = (hi - lo) / 2.0;
    let (n, s, _) = col.moments(data, |x| x.clamp(lo, hi) - c)?;
    let shares = split_share(&q.share, &[1.0, 1.0])?;
    let m = data.m();
    let sum_noise = RealNoise::for_share(session.measure(), q.noise, &shares[0], m * r)?;
    let count_noise = CountNoise::for_share(session.measure(), q.noise, &shares[1], m, m)?;
    let mut record = data.record(
        format!("{name}: centred sum"),
        std::slice::from_ref(&q.column),
    );
    record.warnings.extend(col.warnings.iter().cloned());
    record = record.warn(clamp_warning(q));
    let warnings = record.warnings.clone();
    let mut count_record = record.clone();
    count_record.query = format!("{name}: count of non-null rows");
    // Charge both before drawing either.
    session.check_share(&name, &q.share)?;
    let rs = sum_noise.release(session, &[s], record)?;
    let rn = count_noise.release(session, &[n as i64], count_record)?;
    let (s_hat, n_hat) = (rs.value[0], rn.value[0] as f64);
    let alpha = session.alpha();
    let a_s = half_width(&None, Some(noise_of_real(&sum_noise)), alpha / 2.0)?;
    let a_n = half_width(&None, Some(noise_of_count(&count_noise)), alpha / 2.0)?;
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
    let name = format!("variance({})", q.column);
    check_bounds(&q.column, q.lower, q.upper)?;
    check_share(session, &name, &q.share)?;
    let col = numeric(data, &q.column, &name)?;
    let (lo, hi) = (q.lower, q.upper);
    let c = lo + (hi - lo) / 2.0;
    let r = (hi - lo) / 2.0;
    let (n, s1, s2) = col.moments(data, |x| x.clamp(lo, hi) - c)?;
    let shares = split_share(&q.share, &[1.0, 1.0, 1.0])?;
    let m = data.m();
    let measure = session.measure();
    let n_noise = CountNoise::for_share(measure, q.noise, &shares[0], m, m)?;
    let s1_noise = RealNoise::for_share(measure, q.noise, &shares[1], m * r)?;
    let s2_noise = RealNoise::for_share(measure, q.noise, &shares[2], m * r * r)?;
    let mut record = data.record(format!("{name}: count"), std::slice::from_ref(&q.column));
    record.warnings.extend(col.warnings.iter().cloned());
    record = record.warn(clamp_warning(q));
    let warnings = record.warnings.clone();
    let mut r1 = record.clone();
    r1.query = format!("{name}: centred sum");
    let mut r2 = record.clone();
    r2.query = format!("{name}: centred sum of squares");
    session.check_share(&name, &q.share)?;
    let rn = n_noise.release(session, &[n as i64], record)?;
    let rs1 = s1_noise.release(session, &[s1], r1)?;
    let rs2 = s2_noise.release(session, &[s2], r2)?;
    let (n_hat, s1_hat, s2_hat) = (rn.value[0] as f64, rs1.value[0], rs2.value[0]);
    let alpha = session.alpha();
    let a_n = half_width(&None, Some(noise_of_count(&n_noise)), alpha / 3.0)?;
    let a1 = half_width(&None, Some(noise_of_real(&s1_noise)), alpha / 3.0)?;
    let a2 = half_width(&None, Some(noise_of_real(&s2_noise)), alpha / 3.0)?;
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

//! Population uniqueness estimated from a sample and its sampling fraction: the models of
//! Pitman (Hoshino 2001), Zayatz (1991) and SNB (Chen & Keller-McNulty 1998), and Dankar's
//! decision rule for choosing between them (Dankar, El Emam, Neisa, Roffey 2012, "Estimating
//! the re-identification risk of clinical data sets", BMC Med Inform Decis Mak 12:66), as
//! implemented in ARX (`RiskModelPopulationUniqueness`).
//!
//! Inputs are the sample's class-size frequencies (`c_i` classes of size `i`), the sample
//! size `n`, the number of classes `u` and the sampling fraction `pi`; the population size is
//! `N = n / pi`. Each model estimates the **number of population uniques** (classes of size
//! one in the population); the fraction reported is that number over `N`, as in ARX.
//!
//! - **Zayatz**: the probability that a sample unique is a population unique is
//!   `(c_1/u) P(1|1) / sum_i (c_i/u) P(1|i)` with `P(1|i)` the hypergeometric probability of
//!   drawing exactly one of `i` records when drawing `n` of `N`; population uniques =
//!   `c_1 * that / pi`.
//! - **Pitman**: maximum-likelihood `(theta, alpha)` of the Pitman sampling formula from the
//!   class-size frequencies (score equations in closed form with digamma functions, solved by
//!   Newton's method from Hoshino's moment start, as ARX); population uniques =
//!   `exp(lnGamma(theta + 1) - lnGamma(theta + alpha)) N^alpha`, valid when in `[0, N]`.
//! - **SNB**: population class sizes are `1 + NegBin(alpha, beta)` over `K` non-empty
//!   population classes, `K` estimated by Shlosser's estimator; `(alpha, beta)` solve the
//!   expected counts of sample classes of sizes 1 and 2; population uniques = `K beta^alpha`.
//! - **Dankar's rule**: no sample uniques gives 0; if `pi <= 0.1`, Pitman when valid, else
//!   Zayatz; otherwise the smaller of SNB and Zayatz when SNB is valid, else Zayatz
//!   ("valid" = finite and non-zero, as in ARX).
//!
//! Differences from ARX (deliberate, each documented here):
//! - SNB, Shlosser's estimator: we use Shlosser's formula
//!   `K = u + c_1 [sum_i i pi^2 (1-pi^2)^(i-1) c_i] / [sum_i ((1-pi^2)^i - (1-pi)^i) c_i]
//!   * ([sum_i (1-pi)^i c_i] / [sum_i i pi (1-pi)^(i-1) c_i])^2`; ARX's code subtracts 1 per
//!   distinct class size in the second sum instead of `(1-pi)^i c_i`.
//! - SNB, second equation: the expected number of sample classes of size 2 is
//!   `K (pi^2/2) alpha beta^alpha (1-beta) (2 - (1-alpha) d) / (1-d)^(alpha+2)` with
//!   `d = (1-pi)(1-beta)` (derived from the model, and the form ARX's Jacobian uses); ARX's
//!   objective multiplies by `(1-d)^(alpha+2)` instead of dividing.
//! - SNB is solved by damped Newton in `(ln alpha, logit beta)` from a coarse grid start
//!   (ARX: plain Newton from its solver's default start); Pitman by damped Newton keeping
//!   `0 < alpha < 1` and `theta > -alpha` (ARX: undamped, then an iterative fallback).
//! - Zayatz: the population size is rounded to a whole number of records for the
//!   hypergeometric probabilities (ARX converts it to an integer too).

use serde::{Deserialize, Serialize};

use super::math::{digamma, ln_choose, ln_gamma, trigamma};

/// Errors of the population uniqueness models.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PopulationError {
    /// The sampling fraction is outside `(0, 1]`.
    #[error(
        "the sampling fraction must lie in (0, 1] (got {fraction}): the release's share of \
         the population it was drawn from, e.g. 0.01 for 1%"
    )]
    InvalidSamplingFraction {
        /// The value given.
        fraction: f64,
    },
}

/// Which model Dankar's rule chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UniquenessModel {
    /// Pitman.
    Pitman,
    /// Zayatz.
    Zayatz,
    /// SNB.
    Snb,
    /// No sample uniques: nothing to estimate.
    NoSampleUniques,
}

/// Estimated population uniques.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationUniqueness {
    /// Sampling fraction.
    pub sampling_fraction: f64,
    /// Population size `n / pi`.
    pub population_size: f64,
    /// Sample uniques `c_1`.
    pub sample_uniques: u64,
    /// Pitman's estimate of population uniques (`None` when it did not converge or is out of
    /// range).
    pub pitman: Option<f64>,
    /// Zayatz's estimate.
    pub zayatz: Option<f64>,
    /// SNB estimate.
    pub snb: Option<f64>,
    /// Dankar's decision rule.
    pub dankar: f64,
    /// The model the rule chose.
    pub dankar_model: UniquenessModel,
    /// `dankar / population_size`: estimated share of the population that is unique.
    pub dankar_fraction: f64,
}

/// Estimate population uniqueness from class-size frequencies `(size, classes)` and the
/// sampling fraction (Dankar et al. 2012, as ARX).
pub fn population_uniqueness(
    size_frequencies: &[(u64, u64)],
    sampling_fraction: f64,
) -> Result<PopulationUniqueness, PopulationError> {
    let pi = sampling_fraction;
    if !(pi > 0.0 && pi <= 1.0) {
        return Err(PopulationError::InvalidSamplingFraction { fraction: pi });
    }
    let n: u64 = size_frequencies.iter().map(|(s, c)| s * c).sum();
    let big_n = n as f64 / pi;
    let c1 = size_frequencies
        .iter()
        .find(|f| f.0 == 1)
        .map_or(0, |f| f.1);
    let mut out = PopulationUniqueness {
        sampling_fraction: pi,
        population_size: big_n,
        sample_uniques: c1,
        pitman: None,
        zayatz: None,
        snb: None,
        dankar: 0.0,
        dankar_model: UniquenessModel::NoSampleUniques,
        dankar_fraction: 0.0,
    };
    if c1 == 0 {
        out.pitman = Some(0.0);
        out.zayatz = Some(0.0);
        out.snb = Some(0.0);
        return Ok(out);
    }
    let valid = |x: Option<f64>| x.filter(|v| v.is_finite() && *v != 0.0);
    out.zayatz = valid(zayatz(size_frequencies, pi));
    out.pitman = valid(pitman(size_frequencies, big_n));
    out.snb = valid(snb(size_frequencies, pi, big_n));
    let z = out.zayatz.unwrap_or(0.0);
    let (est, model) = if pi <= 0.1 {
        match out.pitman {
            Some(p) => (p, UniquenessModel::Pitman),
            None => (z, UniquenessModel::Zayatz),
        }
    } else {
        match out.snb {
            Some(s) if z < s => (z, UniquenessModel::Zayatz),
            Some(s) => (s, UniquenessModel::Snb),
            None => (z, UniquenessModel::Zayatz),
        }
    };
    out.dankar = est;
    out.dankar_model = model;
    out.dankar_fraction = est / big_n;
    Ok(out)
}

/// Zayatz (1991) estimate of population uniques.
pub fn zayatz(size_frequencies: &[(u64, u64)], pi: f64) -> Option<f64> {
    let n: u64 = size_frequencies.iter().map(|(s, c)| s * c).sum();
    let u: u64 = size_frequencies.iter().map(|(_, c)| c).sum();
    let big_n = (n as f64 / pi).round().max(n as f64);
    let nf = n as f64;
    // hypergeometric P(X = 1): population big_n, successes i, draws n
    let p1 = |i: f64| -> f64 {
        if big_n - i < nf - 1.0 {
            return 0.0;
        }
        (i.ln() + ln_choose(big_n - i, nf - 1.0) - ln_choose(big_n, nf)).exp()
    };
    let c1 = size_frequencies
        .iter()
        .find(|f| f.0 == 1)
        .map_or(0, |f| f.1) as f64;
    let uf = u as f64;
    let denom: f64 = size_frequencies
        .iter()
        .map(|&(s, c)| c as f64 / uf * p1(s as f64))
        .sum();
    if denom <= 0.0 {
        return None;
    }
    let cond = c1 / uf * p1(1.0) / denom;
    Some(c1 * cond / pi)
}

/// Pitman-model (Hoshino 2001) estimate of population uniques for population size `big_n`.
pub fn pitman(size_frequencies: &[(u64, u64)], big_n: f64) -> Option<f64> {
    let n: f64 = size_frequencies.iter().map(|(s, c)| (s * c) as f64).sum();
    let u: f64 = size_frequencies.iter().map(|(_, c)| *c as f64).sum();
    let get = |k: u64| {
        size_frequencies
            .iter()
            .find(|f| f.0 == k)
            .map_or(0.0, |f| f.1 as f64)
    };
    let c1 = get(1);
    let c2 = if get(2) != 0.0 { get(2) } else { 1.0 };
    if u < 2.0 || n < 2.0 {
        return None;
    }
    // Hoshino's moment start (as ARX)
    let c = c1 * (c1 - 1.0) / c2;
    let mut t = (n * u * c - c1 * (n - 1.0) * (2.0 * u + c)) / (2.0 * c1 * u + c1 * c - n * c);
    let mut a = (t * (c1 - n) + (n - 1.0) * c1) / (n * u);
    if !(a > 0.0 && a < 1.0 && t > -a && t.is_finite()) {
        a = 0.5;
        t = 1.0;
    }
    // scores and Jacobian
    let eval = |t: f64, a: f64| -> Option<([f64; 2], [[f64; 2]; 2])> {
        if !(a > 0.0 && a < 1.0 && t > -a) {
            return None;
        }
        let x = t / a;
        let s1 = (digamma(x + u) - digamma(x + 1.0)) / a; // sum 1/(t+ia), i=1..u-1
        let s2 = (trigamma(x + 1.0) - trigamma(x + u)) / (a * a); // sum 1/(t+ia)^2
        let si = ((u - 1.0) - t * s1) / a; // sum i/(t+ia)
        let si2 = (s1 - t * s2) / a; // sum i/(t+ia)^2
        let sii2 = ((u - 1.0) - 2.0 * t * s1 + t * t * s2) / (a * a); // sum i^2/(t+ia)^2
        let n1 = digamma(t + n) - digamma(t + 1.0);
        let n2 = trigamma(t + 1.0) - trigamma(t + n);
        let (mut k1, mut k2) = (0.0, 0.0);
        let (d1a, t1a) = (digamma(1.0 - a), trigamma(1.0 - a));
        for &(size, cnt) in size_frequencies {
            if size >= 2 {
                let sz = size as f64;
                k1 += cnt as f64 * (digamma(sz - a) - d1a);
                k2 += cnt as f64 * (t1a - trigamma(sz - a));
            }
        }
        let g = [s1 - n1, si - k1];
        let j = [[-s2 + n2, -si2], [-si2, -sii2 - k2]];
        Some((g, j))
    };
    let norm = |g: [f64; 2]| g[0].abs() + g[1].abs();
    let (mut g, mut j) = eval(t, a)?;
    for _ in 0..500 {
        if norm(g) < 1e-10 {
            break;
        }
        let det = j[0][0] * j[1][1] - j[0][1] * j[1][0];
        if det == 0.0 || !det.is_finite() {
            return None;
        }
        let dt = (g[0] * j[1][1] - g[1] * j[0][1]) / det;
        let da = (j[0][0] * g[1] - j[1][0] * g[0]) / det;
        let mut step = 1.0;
        let mut accepted = false;
        for _ in 0..60 {
            let (nt, na) = (t - step * dt, a - step * da);
            if let Some((ng, nj)) = eval(nt, na)
                && norm(ng) < norm(g) * (1.0 - 1e-4 * step)
            {
                t = nt;
                a = na;
                g = ng;
                j = nj;
                accepted = true;
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            break;
        }
    }
    if norm(g) > 1e-6 * (1.0 + u) {
        return None;
    }
    let est = (ln_gamma(t + 1.0) - ln_gamma(t + a) + a * big_n.ln()).exp();
    (est.is_finite() && (0.0..=big_n).contains(&est)).then_some(est)
}

/// Shlosser's estimate of the number of non-empty population classes.
pub fn shlosser(size_frequencies: &[(u64, u64)], pi: f64) -> f64 {
    let u: f64 = size_frequencies.iter().map(|(_, c)| *c as f64).sum();
    let c1 = size_frequencies
        .iter()
        .find(|f| f.0 == 1)
        .map_or(0.0, |f| f.1 as f64);
    let (mut a, mut b, mut c, mut d) = (0.0, 0.0, 0.0, 0.0);
    let q = 1.0 - pi;
    let q2 = 1.0 - pi * pi;
    for &(i, ci) in size_frequencies {
        let (i, ci) = (i as f64, ci as f64);
        a += i * pi * pi * q2.powf(i - 1.0) * ci;
        b += (q2.powf(i) - q.powf(i)) * ci;
        c += q.powf(i) * ci;
        d += i * pi * q.powf(i - 1.0) * ci;
    }
    if b <= 0.0 || d <= 0.0 {
        return u;
    }
    u + c1 * (a / b) * (c / d) * (c / d)
}

/// SNB (Chen & Keller-McNulty 1998) estimate of population uniques.
pub fn snb(size_frequencies: &[(u64, u64)], pi: f64, big_n: f64) -> Option<f64> {
    let get = |k: u64| {
        size_frequencies
            .iter()
            .find(|f| f.0 == k)
            .map_or(0.0, |f| f.1 as f64)
    };
    let (c1, c2) = (get(1), get(2));
    if c1 <= 0.0 || c2 <= 0.0 || pi >= 1.0 {
        return None;
    }
    let k = shlosser(size_frequencies, pi);
    // residuals in log space of (E1/c1, E2/c2), parameters x = ln alpha, y = logit beta
    let resid = |x: f64, y: f64| -> Option<[f64; 2]> {
        let al = x.exp();
        let be = 1.0 / (1.0 + (-y).exp());
        if !(al.is_finite() && be > 0.0 && be < 1.0) {
            return None;
        }
        let d = (1.0 - pi) * (1.0 - be);
        let ln_e1 =
            k.ln() + pi.ln() + al * (be.ln() - (1.0 - d).ln()) + (1.0 + al * d / (1.0 - d)).ln();
        let ln_e2 = k.ln() + 2.0 * pi.ln() - 2f64.ln()
            + al.ln()
            + al * be.ln()
            + (1.0 - be).ln()
            + (2.0 - (1.0 - al) * d).ln()
            - (al + 2.0) * (1.0 - d).ln();
        let r = [ln_e1 - c1.ln(), ln_e2 - c2.ln()];
        (r[0].is_finite() && r[1].is_finite()).then_some(r)
    };
    let sq = |r: [f64; 2]| r[0] * r[0] + r[1] * r[1];
    // coarse grid start
    let mut best: Option<(f64, f64, f64)> = None;
    for xi in -40..=40 {
        let x = xi as f64 * 0.2;
        for yi in -40..=40 {
            let y = yi as f64 * 0.5;
            if let Some(r) = resid(x, y) {
                let s = sq(r);
                if best.is_none_or(|b| s < b.2) {
                    best = Some((x, y, s));
                }
            }
        }
    }
    let (mut x, mut y, _) = best?;
    let mut r = resid(x, y)?;
    for _ in 0..200 {
        if sq(r) < 1e-24 {
            break;
        }
        let h = 1e-6;
        let rx = resid(x + h, y)?;
        let ry = resid(x, y + h)?;
        let j = [
            [(rx[0] - r[0]) / h, (ry[0] - r[0]) / h],
            [(rx[1] - r[1]) / h, (ry[1] - r[1]) / h],
        ];
        let det = j[0][0] * j[1][1] - j[0][1] * j[1][0];
        if det == 0.0 || !det.is_finite() {
            break;
        }
        let dx = (r[0] * j[1][1] - r[1] * j[0][1]) / det;
        let dy = (j[0][0] * r[1] - j[1][0] * r[0]) / det;
        let mut step = 1.0;
        let mut ok = false;
        for _ in 0..50 {
            if let Some(nr) = resid(x - step * dx, y - step * dy)
                && sq(nr) < sq(r)
            {
                x -= step * dx;
                y -= step * dy;
                r = nr;
                ok = true;
                break;
            }
            step *= 0.5;
        }
        if !ok {
            break;
        }
    }
    if sq(r) > 1e-12 {
        return None;
    }
    let al = x.exp();
    let be = 1.0 / (1.0 + (-y).exp());
    let est = k * be.powf(al);
    (est.is_finite() && est > 0.0 && est <= big_n).then_some(est)
}

#[cfg(test)]
mod tests;

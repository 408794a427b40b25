//! Distributed discrete Gaussian noise (Kairouz, Liu & Steinke 2021, "The Distributed
//! Discrete Gaussian Mechanism for Federated Learning with Secure Aggregation", ICML).
//!
//! Each trust adds its own share `X_i ~ N_Z(0, sigma_i^2)` (OpenDP's exact sampler) to its
//! integer vector before it leaves, masked. The released sum carries `Z = sum_i X_i` over
//! the `k` shares that reach it, and no one (the aggregator included) sees a sum without
//! noise. `Z` is not itself a discrete Gaussian; Proposition 14 of the paper bounds its
//! Renyi divergence, and pets charges the bound below (proof:
//! `federated/proofs/distributed_noise.md`). For a sensitivity `Delta` with
//! `||Delta||_2^2 = D2`, dimension `d`, `k` shares of scale `s = sigma_i >= 1/2` and
//! `tau_k = 10 * sum_{j=1}^{k-1} exp(-2 pi^2 s^2 j / (j + 1))`, the sum is rho-zCDP with
//!
//! `rho(k) = min( D2 / (2 k s^2) + tau_k d ,  (sqrt(D2) / (sqrt(k) s) + tau_k sqrt(d))^2 / 2 )`.
//!
//! **Dropouts and collusion.** The shares of trusts that dropped never reach the sum, and
//! trusts that collude with the aggregator know (and can subtract) their own. pets sizes
//! `s` so that the guarantee holds with only `min_shares = threshold - colluders` honest
//! shares, and charges `max_{k in [min_shares, n]} rho(k)`. When all `n` trusts take part
//! the noise variance is `n / min_shares` times what was needed: that over-provision is
//! reported ([`DistributedNoise::over_provision`]).

use serde::{Deserialize, Serialize};

use crate::dp::mechanisms::DiscreteGaussian;
use crate::federated::error::{FederatedError, Result};

/// Relative margin added to every rho this module computes in floating point (the few
/// operations below err by far less than `1e-12` relative).
const FLOAT_MARGIN: f64 = 1e-9;

/// Largest share scale: `2^52 / 40`, so `P(|X| > 2^52) <= 2 exp(-800)`.
pub const MAX_SHARE_SCALE: f64 = 1e14;

/// A plan of distributed noise: every trust's share scale and what the sum costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistributedNoise {
    /// `sigma_i`, the scale of each trust's share.
    pub share_scale: f64,
    /// Honest shares the guarantee relies on (threshold minus assumed colluders).
    pub min_shares: usize,
    /// Trusts that may add a share.
    pub max_shares: usize,
    /// `||Delta||_2^2` of the summed vector.
    pub l2_squared: f64,
    /// Dimension of the summed vector.
    pub dim: usize,
}

/// `tau_k` of Kairouz, Liu & Steinke (2021), Proposition 14.
fn tau(k: usize, s: f64) -> f64 {
    let c = 2.0 * std::f64::consts::PI.powi(2) * s * s;
    10.0 * (1..k)
        .map(|j| (-c * j as f64 / (j as f64 + 1.0)).exp())
        .sum::<f64>()
}

/// The zCDP rho of the sum of `k` shares of scale `s` at sensitivity `l2_squared`, dim `d`.
fn rho_k(k: usize, s: f64, l2_squared: f64, d: usize) -> f64 {
    let t = tau(k, s);
    let kf = k as f64;
    let d = d as f64;
    let b1 = l2_squared / (2.0 * kf * s * s) + t * d;
    let b3 = 0.5 * (l2_squared.sqrt() / (kf.sqrt() * s) + t * d.sqrt()).powi(2);
    b1.min(b3) * (1.0 + FLOAT_MARGIN)
}

impl DistributedNoise {
    /// The plan with share scale `share_scale`.
    pub fn new(
        share_scale: f64,
        min_shares: usize,
        max_shares: usize,
        l2_squared: f64,
        dim: usize,
    ) -> Result<DistributedNoise> {
        if !(share_scale.is_finite() && (0.5..=MAX_SHARE_SCALE).contains(&share_scale)) {
            return Err(FederatedError::invalid(
                "share scale",
                share_scale,
                "each share's sigma must be at least 1/2 (for the bound) and at most 1e14 \
                 (so that a draw beyond the ring's safe range 2^52 has probability below \
                 2^-1000)",
            ));
        }
        if min_shares == 0 || min_shares > max_shares {
            return Err(FederatedError::invalid(
                "honest shares",
                min_shares,
                format!("between 1 and the {max_shares} trusts (threshold minus colluders)"),
            ));
        }
        if !(l2_squared.is_finite() && l2_squared >= 0.0) || dim == 0 {
            return Err(FederatedError::invalid(
                "sensitivity",
                l2_squared,
                "a finite squared L2 sensitivity over at least one cell",
            ));
        }
        Ok(DistributedNoise {
            share_scale,
            min_shares,
            max_shares,
            l2_squared,
            dim,
        })
    }

    /// The smallest share scale (to a relative 1e-6) whose charged rho is at most `rho`.
    pub fn for_rho(
        rho: f64,
        min_shares: usize,
        max_shares: usize,
        l2_squared: f64,
        dim: usize,
    ) -> Result<DistributedNoise> {
        if !(rho.is_finite() && rho > 0.0) {
            return Err(FederatedError::invalid(
                "rho",
                rho,
                "a positive, finite number",
            ));
        }
        let plan =
            |s: f64| DistributedNoise::new(s.max(0.5), min_shares, max_shares, l2_squared, dim);
        // The central scale split over the honest shares, then up until the bound fits.
        let start = (l2_squared / (2.0 * rho) / min_shares as f64)
            .sqrt()
            .max(0.5);
        let mut hi = start;
        while hi > MAX_SHARE_SCALE || plan(hi)?.rho() > rho {
            hi *= 2.0;
            if hi > 2.0 * MAX_SHARE_SCALE {
                return Err(FederatedError::invalid(
                    "rho",
                    rho,
                    "too small for distributed noise in the ring (each share's scale would \
                     pass 1e14)",
                ));
            }
        }
        let mut lo = 0.5f64.max(start / 2.0);
        if plan(lo)?.rho() <= rho {
            return plan(lo);
        }
        while (hi - lo) > hi * 1e-6 {
            let mid = 0.5 * (lo + hi);
            if plan(mid)?.rho() <= rho {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        plan(hi)
    }

    /// The rho charged: the worst case over the number of shares in the sum.
    pub fn rho(&self) -> f64 {
        (self.min_shares..=self.max_shares)
            .map(|k| rho_k(k, self.share_scale, self.l2_squared, self.dim))
            .fold(0.0, f64::max)
    }

    /// Variance of the noise when every trust's share counts, over the variance the
    /// guarantee needs (`max_shares / min_shares`).
    pub fn over_provision(&self) -> f64 {
        self.max_shares as f64 / self.min_shares as f64
    }

    /// The scale of the noise in the sum when all trusts' shares count (at most).
    pub fn total_scale(&self) -> f64 {
        self.share_scale * (self.max_shares as f64).sqrt()
    }

    /// Half-width of a `1 - alpha` interval for one cell: a discrete Gaussian of scale `s`
    /// is `s`-sub-Gaussian (Canonne, Kamath & Steinke 2020, Corollary 9), so a sum of at
    /// most `n` independent shares is `sqrt(n) s`-sub-Gaussian and
    /// `P(|Z| > w) <= 2 exp(-w^2 / (2 n s^2))`.
    pub fn half_width(&self, alpha: f64) -> f64 {
        let v = self.max_shares as f64 * self.share_scale.powi(2);
        (2.0 * v * (2.0 / alpha).ln()).sqrt()
    }

    /// One trust's share: `len` draws from OpenDP's discrete Gaussian sampler.
    pub fn sample_share(&self, len: usize) -> Result<Vec<i64>> {
        Ok(DiscreteGaussian::new(1.0, self.share_scale)?.noise_share(len)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_many_honest_shares_the_cost_tends_to_the_central_discrete_gaussian() {
        // Shares of scale s over k trusts sum to variance k s^2: the central cost is
        // D2 / (2 k s^2); tau is negligible once s >= 2.
        let plan = DistributedNoise::new(4.0, 10, 10, 1.0, 1000).unwrap();
        let central = 1.0 / (2.0 * 10.0 * 16.0);
        assert!((plan.rho() / central - 1.0).abs() < 1e-6, "{}", plan.rho());
        // At s = 1/2 tau is large: the cost is far above the central figure.
        let plan = DistributedNoise::new(0.5, 10, 10, 1.0, 1000).unwrap();
        assert!(plan.rho() > 2.0 / (2.0 * 10.0 * 0.25));
    }

    #[test]
    fn for_rho_meets_the_target_and_fewer_honest_shares_need_more_noise() {
        let a = DistributedNoise::for_rho(0.05, 5, 10, 4.0, 100).unwrap();
        assert!(a.rho() <= 0.05);
        assert!(a.rho() > 0.05 * 0.999);
        let b = DistributedNoise::for_rho(0.05, 8, 10, 4.0, 100).unwrap();
        assert!(b.share_scale < a.share_scale);
        assert_eq!(a.over_provision(), 2.0);
        // The worst case is the fewest shares.
        let worst = rho_k(5, a.share_scale, 4.0, 100);
        assert!((a.rho() - worst).abs() < 1e-12);
    }

    #[test]
    fn shares_have_the_planned_spread() {
        let plan = DistributedNoise::new(3.0, 2, 3, 1.0, 1).unwrap();
        let draws = plan.sample_share(20_000).unwrap();
        let mean = draws.iter().sum::<i64>() as f64 / draws.len() as f64;
        let var = draws
            .iter()
            .map(|&x| (x as f64 - mean).powi(2))
            .sum::<f64>()
            / draws.len() as f64;
        assert!(mean.abs() < 0.1, "{mean}");
        // A discrete Gaussian of scale 3 has variance just under 9.
        assert!((var - 9.0).abs() < 0.5, "{var}");
        // The interval covers at its level.
        let w = DistributedNoise::new(3.0, 1, 1, 1.0, 1)
            .unwrap()
            .half_width(0.05);
        let out = draws.iter().filter(|&&x| (x as f64).abs() > w).count();
        assert!((out as f64) < 0.05 * draws.len() as f64);
    }

    #[test]
    fn bad_plans_are_refused() {
        assert!(DistributedNoise::new(0.4, 1, 2, 1.0, 1).is_err());
        assert!(DistributedNoise::new(1.0, 3, 2, 1.0, 1).is_err());
        assert!(DistributedNoise::for_rho(0.0, 1, 2, 1.0, 1).is_err());
        assert!(DistributedNoise::new(2e14, 1, 2, 1.0, 1).is_err());
        let e = DistributedNoise::for_rho(1e-40, 1, 2, 1.0, 1).unwrap_err();
        assert!(e.to_string().contains("too small"), "{e}");
    }
}

//! Special functions for the population models: log-gamma, digamma, trigamma, and the
//! log of binomial coefficients. Log-gamma and digamma come from statrs; trigamma is written
//! here (recurrence plus asymptotic expansion, reflection for negative arguments) because
//! statrs has none.

use std::f64::consts::PI;

/// `ln Gamma(x)` for `x > 0` (statrs: Lanczos approximation).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    statrs::function::gamma::ln_gamma(x)
}

/// Digamma `psi(x) = d/dx ln Gamma(x)` (statrs).
pub(crate) fn digamma(x: f64) -> f64 {
    statrs::function::gamma::digamma(x)
}

/// Trigamma `psi'(x)`.
pub(crate) fn trigamma(mut x: f64) -> f64 {
    if x <= 0.0 && x == x.floor() {
        return f64::NAN;
    }
    if x < 0.0 {
        // psi'(1-x) + psi'(x) = pi^2 / sin^2(pi x)
        let s = (PI * x).sin();
        return PI * PI / (s * s) - trigamma(1.0 - x);
    }
    let mut r = 0.0;
    while x < 12.0 {
        r += 1.0 / (x * x);
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    r + 1.0 / x
        + f / 2.0
        + f / x * (1.0 / 6.0 - f * (1.0 / 30.0 - f * (1.0 / 42.0 - f * (1.0 / 30.0))))
}

/// `ln C(n, k)` for real `n >= k >= 0`.
pub(crate) fn ln_choose(n: f64, k: f64) -> f64 {
    ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert!((ln_gamma(1.0)).abs() < 1e-14);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-13);
        assert!((ln_gamma(0.5) - PI.sqrt().ln()).abs() < 1e-12);
        assert!((ln_gamma(101.0) - 363.739_375_555_563_5).abs() < 1e-9);
        let euler = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + euler).abs() < 1e-13);
        assert!((digamma(0.5) + euler + 2.0 * 2f64.ln()).abs() < 1e-13);
        assert!(
            (digamma(10.0) - (1..10).map(|i| 1.0 / i as f64).sum::<f64>() + euler).abs() < 1e-13
        );
        assert!((trigamma(1.0) - PI * PI / 6.0).abs() < 1e-12);
        assert!((trigamma(0.5) - PI * PI / 2.0).abs() < 1e-11);
        // reflection
        assert!((trigamma(-0.5) - (PI * PI - trigamma(1.5))).abs() < 1e-10);
        assert!((ln_choose(10.0, 3.0) - 120f64.ln()).abs() < 1e-12);
    }
}

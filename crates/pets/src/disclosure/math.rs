//! Special functions for the population models: log-gamma, digamma, trigamma, and the
//! log of binomial coefficients. Written from the standard series (Lanczos for log-gamma,
//! recurrence plus asymptotic expansion for digamma and trigamma, reflection for negative
//! arguments).

use std::f64::consts::PI;

/// `ln |Gamma(x)|` (Lanczos approximation, g = 7, 9 terms; reflection below 0.5).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Gamma(x) Gamma(1-x) = pi / sin(pi x)
        return (PI / (PI * x).sin()).abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, &c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Digamma `psi(x) = d/dx ln Gamma(x)`.
pub(crate) fn digamma(mut x: f64) -> f64 {
    if x <= 0.0 && x == x.floor() {
        return f64::NAN;
    }
    let mut r = 0.0;
    if x < 0.0 {
        // psi(1-x) - psi(x) = pi cot(pi x)
        r = -PI / (PI * x).tan();
        x = 1.0 - x;
    }
    while x < 12.0 {
        r -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    r + x.ln()
        - 0.5 / x
        - f * (1.0 / 12.0
            - f * (1.0 / 120.0 - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f * (1.0 / 132.0)))))
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
        assert!((ln_gamma(0.5) - PI.sqrt().ln()).abs() < 1e-13);
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
        assert!((digamma(-0.5) - (digamma(1.5) + PI * (PI * -0.5).tan().recip())).abs() < 1e-10);
        assert!((trigamma(-0.5) - (PI * PI - trigamma(1.5))).abs() < 1e-10);
        assert!((ln_choose(10.0, 3.0) - 120f64.ln()).abs() < 1e-12);
    }
}

//! Shared helpers of the `dp_*` integration tests.
#![allow(dead_code)]

use arrow_array::RecordBatch;
use pets::data::{EncodeOptions, EncodedTable, Schema, encode_batches};
use pets::dp::bounding::RowKeys;
use pets::dp::ledger::{Contribution, QueryRecord};
use pets_datasets::ae::{AeConfig, AeGenerator, ae_schema_for};

/// Probability that a statistical test fails when the mechanism is right: below 1e-6, as
/// every threshold below is derived from a bound that holds for all sample sizes.
pub const FALSE_FAILURE: f64 = 1e-7;

/// Dvoretzky-Kiefer-Wolfowitz-Massart: `P(sup |F_n - F| > t) <= 2 exp(-2 n t^2)` for any
/// distribution (discrete too), so this `t` gives a false-failure rate of `beta`.
pub fn dkw(n: usize, beta: f64) -> f64 {
    ((2.0 / beta).ln() / (2.0 * n as f64)).sqrt()
}

/// Hoeffding with a union bound over `k` frequencies: `|p_hat - p| <= t` for all `k` with
/// probability `>= 1 - beta`.
pub fn hoeffding(n: usize, k: usize, beta: f64) -> f64 {
    ((2.0 * k as f64 / beta).ln() / (2.0 * n as f64)).sqrt()
}

/// Largest gap between the empirical CDF of `samples` and `cdf`, checked at every sample
/// point and just below it (so it is the exact sup for continuous and discrete `cdf`).
pub fn ks_distance(samples: &mut [f64], cdf: impl Fn(f64) -> f64, discrete: bool) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    let n = samples.len() as f64;
    let mut d: f64 = 0.0;
    let mut i = 0;
    while i < samples.len() {
        let x = samples[i];
        let mut j = i;
        while j < samples.len() && samples[j] == x {
            j += 1;
        }
        let below = if discrete { cdf(x - 1.0) } else { cdf(x) };
        d = d.max((i as f64 / n - below).abs());
        d = d.max((j as f64 / n - cdf(x)).abs());
        i = j;
    }
    d
}

/// erf by its Taylor series (|x| <= 3) or the asymptotic expansion of erfc (|x| > 3);
/// absolute error below 1e-12, far below what the tests resolve.
pub fn erf(x: f64) -> f64 {
    if x.abs() <= 3.0 {
        let mut term = x;
        let mut sum = x;
        for n in 1..200 {
            term *= -x * x / n as f64;
            let add = term / (2 * n + 1) as f64;
            sum += add;
            if add.abs() < 1e-17 {
                break;
            }
        }
        2.0 / std::f64::consts::PI.sqrt() * sum
    } else {
        let y = x.abs();
        let y2 = y * y;
        let series = 1.0 - 1.0 / (2.0 * y2) + 3.0 / (4.0 * y2 * y2) - 15.0 / (8.0 * y2 * y2 * y2);
        let erfc = (-y2).exp() / (y * std::f64::consts::PI.sqrt()) * series;
        x.signum() * (1.0 - erfc)
    }
}

/// Standard normal CDF at `x / sigma`.
pub fn normal_cdf(x: f64, sigma: f64) -> f64 {
    0.5 * (1.0 + erf(x / (sigma * std::f64::consts::SQRT_2)))
}

/// Laplace(b) CDF.
pub fn laplace_cdf(x: f64, b: f64) -> f64 {
    if x < 0.0 {
        0.5 * (x / b).exp()
    } else {
        1.0 - 0.5 * (-x / b).exp()
    }
}

/// Discrete Laplace(b) CDF at integer `x`: `P[Z <= x]`, `P[Z = z] ∝ e^{-|z|/b}`.
pub fn discrete_laplace_cdf(x: f64, b: f64) -> f64 {
    let r = (-1.0 / b).exp();
    let x = x.floor();
    // P[Z >= t] = r^t / (1 + r) for t >= 1; symmetric.
    if x >= 0.0 {
        1.0 - r.powf(x + 1.0) / (1.0 + r)
    } else {
        r.powf(-x) / (1.0 + r)
    }
}

/// Discrete Gaussian(sigma) CDF at integer `x`, by direct summation.
pub fn discrete_gaussian_cdf(x: f64, sigma: f64) -> f64 {
    let k = (40.0 * sigma).ceil() as i64 + 10;
    let w = |z: i64| (-((z * z) as f64) / (2.0 * sigma * sigma)).exp();
    let total: f64 = (-k..=k).map(w).sum();
    let x = x.floor() as i64;
    if x < -k {
        return 0.0;
    }
    (-k..=x.min(k)).map(w).sum::<f64>() / total
}

/// A ledger record for direct mechanism tests.
pub fn record(name: &str) -> QueryRecord {
    QueryRecord::new(name, vec![], Contribution::row_level("mechanism test"))
}

/// Generated A&E data: batches, schema, encoded table and person ids (nhs_number).
pub struct Ae {
    pub batches: Vec<RecordBatch>,
    pub schema: Schema,
    pub table: EncodedTable,
    pub ids: RowKeys,
}

pub fn ae(rows: u64, seed: u64) -> Ae {
    let cfg = AeConfig::new(rows, seed);
    let schema = ae_schema_for(&cfg);
    let batches: Vec<RecordBatch> = AeGenerator::new(cfg).expect("config").collect();
    let table = encode_batches(&schema, &batches, EncodeOptions::default()).expect("encode");
    let ids = RowKeys::from_batches("nhs_number", &batches, false).expect("ids");
    Ae {
        batches,
        schema,
        table,
        ids,
    }
}

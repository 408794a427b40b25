//! Randomized response (Warner 1965, "Randomized Response: A Survey Technique for
//! Eliminating Evasive Answer Bias").
//!
//! Each record's category (one of `k`) is reported truthfully with probability `p` and
//! otherwise replaced by one of the other `k - 1` categories uniformly. Each report is
//! `epsilon`-DP in the *local* model with `epsilon = ln(p (k - 1) / (1 - p))`; a person
//! with `m` records is protected at `m * epsilon`. The number of reports is not hidden.
//!
//! The true frequency of category `j` is estimated without bias by
//! `(c_j - n q) / (p - q)`, `q = (1 - p) / (k - 1)`, with standard deviation at most
//! `sqrt(n / 4) / (p - q)` per count (normal approximation used for the reported interval).

use std::collections::HashSet;

use opendp::measurements::make_randomized_response;
use opendp::traits::InfMul;
use rayon::prelude::*;

use super::{Charged, Mechanism, MechanismInfo, NOISE_CHUNK, Sensitivity, build_err, sample_err};
use crate::dp::accuracy::{Accuracy, check_alpha};
use crate::dp::budget::Cost;
use crate::dp::error::{DpError, Result, check_positive};

/// Randomized response over `k` categories coded `0..k`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomizedResponse {
    categories: u32,
    prob: f64,
    records_per_person: u32,
}

impl RandomizedResponse {
    /// Truthful with probability `prob` in `[1/k, 1)`, over `categories >= 2` categories, for
    /// data with at most `records_per_person` records a person.
    pub fn new(categories: u32, prob: f64, records_per_person: u32) -> Result<RandomizedResponse> {
        if categories < 2 {
            return Err(DpError::query(
                "randomized response",
                format!("needs at least two categories, got {categories}"),
            ));
        }
        if !(prob >= 1.0 / f64::from(categories) && prob < 1.0) {
            return Err(DpError::invalid(
                "randomized response probability",
                prob,
                format!("it must be in [1/{categories}, 1)"),
            ));
        }
        if records_per_person == 0 {
            return Err(DpError::invalid(
                "records per person",
                0.0,
                "it must be at least 1",
            ));
        }
        Ok(RandomizedResponse {
            categories,
            prob,
            records_per_person,
        })
    }

    /// The truthful probability `p = e^eps / (e^eps + k - 1)` for `epsilon` per record,
    /// lowered until OpenDP's map is within `epsilon`.
    pub fn for_epsilon(
        categories: u32,
        epsilon: f64,
        records_per_person: u32,
    ) -> Result<RandomizedResponse> {
        check_positive("epsilon", epsilon)?;
        let k = f64::from(categories.max(2));
        let mut p = epsilon.exp() / (epsilon.exp() + k - 1.0);
        for _ in 0..200 {
            let rr = RandomizedResponse::new(categories, p.max(1.0 / k), 1)?;
            if rr.epsilon_per_record()? <= epsilon {
                return RandomizedResponse::new(categories, p.max(1.0 / k), records_per_person);
            }
            p = f64::from_bits(p.to_bits() - 1);
        }
        Err(DpError::query(
            "randomized response",
            format!("could not calibrate to epsilon = {epsilon}"),
        ))
    }

    /// Probability of a truthful report.
    pub fn prob(&self) -> f64 {
        self.prob
    }

    fn categories_set(&self) -> HashSet<u32> {
        (0..self.categories).collect()
    }

    /// Epsilon for one record, from OpenDP's privacy map.
    pub fn epsilon_per_record(&self) -> Result<f64> {
        make_randomized_response(self.categories_set(), self.prob)
            .map_err(build_err("randomized response"))?
            .map(&1)
            .map_err(|e| DpError::opendp("the randomized response privacy map", e))
    }

    /// Probability of each particular untruthful report, `q = (1 - p) / (k - 1)`.
    pub fn lie_prob(&self) -> f64 {
        (1.0 - self.prob) / f64::from(self.categories - 1)
    }

    /// Unbiased estimates of the true counts of each category from the reports.
    pub fn estimate_counts(&self, reports: &[u32]) -> Vec<f64> {
        let k = self.categories as usize;
        let mut c = vec![0u64; k];
        for &r in reports {
            if (r as usize) < k {
                c[r as usize] += 1;
            }
        }
        let n = reports.len() as f64;
        let q = self.lie_prob();
        c.iter()
            .map(|&cj| (cj as f64 - n * q) / (self.prob - q))
            .collect()
    }

    /// Half-width of an (approximate, normal) `1 - alpha` interval for each estimated count
    /// from `n` reports: `z_{1 - alpha/2} sqrt(n / 4) / (p - q)`.
    pub fn estimate_half_width(&self, n: usize, alpha: f64) -> Result<f64> {
        check_alpha(alpha)?;
        let z = opendp::accuracy::gaussian_scale_to_accuracy(1.0, alpha)
            .map_err(|e| DpError::opendp("computing the accuracy", e))?;
        Ok(z * (n as f64 / 4.0).sqrt() / (self.prob - self.lie_prob()))
    }
}

impl Mechanism for RandomizedResponse {
    type Input = [u32];
    type Output = Vec<u32>;

    fn info(&self) -> MechanismInfo {
        MechanismInfo {
            name: "randomized_response".into(),
            noise: None,
            scale: self.prob,
            sensitivity: Sensitivity::new("records", f64::from(self.records_per_person)),
            reference: "Warner 1965".into(),
        }
    }

    fn cost(&self) -> Result<Cost> {
        let e = self
            .epsilon_per_record()?
            .inf_mul(&f64::from(self.records_per_person))
            .map_err(|e| DpError::opendp("composing randomized response over records", e))?;
        Ok(Cost::epsilon(e))
    }

    fn accuracy(&self, _alpha: f64) -> Result<Option<Accuracy>> {
        Ok(None)
    }

    fn sample(&self, input: &[u32], _charged: &Charged) -> Result<Vec<u32>> {
        if let Some((i, &c)) = input
            .iter()
            .enumerate()
            .find(|(_, c)| **c >= self.categories)
        {
            return Err(DpError::query(
                "randomized response",
                format!(
                    "record {} holds category {c}, outside 0..{}",
                    i + 1,
                    self.categories
                ),
            ));
        }
        let chunks: Vec<Vec<u32>> = input
            .par_chunks(NOISE_CHUNK)
            .map(|chunk| {
                let m = make_randomized_response(self.categories_set(), self.prob)
                    .map_err(build_err("randomized response"))?;
                chunk
                    .iter()
                    .map(|c| m.invoke(c).map_err(sample_err("randomized response")))
                    .collect::<Result<Vec<u32>>>()
            })
            .collect::<Result<_>>()?;
        Ok(chunks.concat())
    }
}

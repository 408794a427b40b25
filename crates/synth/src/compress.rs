//! DP-safe compression of large domains (MST, McKenna, Miklau & Sheldon 2021, §4):
//! after the 1-way marginals are measured, every value whose **noisy** count is below
//! `3 sigma` is merged into one "rare" value of that column. The decision reads only
//! released noisy counts, so it is post-processing and costs no budget; the private data
//! and its set of categories are never consulted.
//!
//! The 1-way measurement is re-expressed on the compressed domain as in the reference:
//! kept cells unchanged, the rare cell `y_rare = sum_{unsupported} y_i / sqrt(k)` with
//! `Q_rare = 1 / sqrt(k)` (k merged values), so its noise stays `N(0, sigma^2)`.
//! On sampling, a rare code is expanded to one of the merged values with probability
//! proportional to its clamped noisy count `max(y_i, 0)` (uniformly if all are zero):
//! post-processing of released values, which keeps more of the 1-way shape of long-tailed
//! columns than the reference's uniform choice.

use serde::{Deserialize, Serialize};

/// The compressed domain of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compression {
    /// Column name.
    pub column: String,
    /// Number of codes of the column (its codebook's cardinality).
    pub original_size: u32,
    /// Original codes kept, ascending; compressed code `i` is `kept[i]`.
    pub kept: Vec<u32>,
    /// Original codes merged into the rare code `kept.len()` (empty: no rare code).
    pub rare: Vec<u32>,
    /// Cumulative weights of the merged codes (clamped noisy counts, normalised; empty:
    /// uniform).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rare_cdf: Vec<f64>,
}

impl Compression {
    /// Keep the codes whose noisy count is at least `threshold` (MST: `3 sigma`).
    pub fn from_noisy(column: &str, noisy: &[f64], threshold: f64) -> Compression {
        let (mut kept, mut rare) = (Vec::new(), Vec::new());
        for (c, &y) in noisy.iter().enumerate() {
            if y >= threshold {
                kept.push(c as u32);
            } else {
                rare.push(c as u32);
            }
        }
        let w: Vec<f64> = rare.iter().map(|&c| noisy[c as usize].max(0.0)).collect();
        let s: f64 = w.iter().sum();
        let rare_cdf = if s > 0.0 {
            let mut acc = 0.0;
            w.iter()
                .map(|x| {
                    acc += x / s;
                    acc
                })
                .collect()
        } else {
            Vec::new()
        };
        Compression {
            column: column.to_string(),
            original_size: noisy.len() as u32,
            kept,
            rare,
            rare_cdf,
        }
    }

    /// No compression.
    pub fn identity(column: &str, size: u32) -> Compression {
        Compression {
            column: column.to_string(),
            original_size: size,
            kept: (0..size).collect(),
            rare: Vec::new(),
            rare_cdf: Vec::new(),
        }
    }

    /// Size of the compressed domain.
    pub fn size(&self) -> usize {
        self.kept.len() + usize::from(!self.rare.is_empty())
    }

    /// Original code to compressed code.
    pub fn forward_map(&self) -> Vec<u32> {
        let rare_code = self.kept.len() as u32;
        let mut m = vec![rare_code; self.original_size as usize];
        for (i, &c) in self.kept.iter().enumerate() {
            m[c as usize] = i as u32;
        }
        m
    }

    /// The 1-way measurement on the compressed domain: `(values, scale)` (`scale` is `None`
    /// when nothing was merged).
    pub fn compress_measurement(&self, noisy: &[f64]) -> (Vec<f64>, Option<Vec<f64>>) {
        if self.rare.is_empty() {
            return (noisy.to_vec(), None);
        }
        let mut y: Vec<f64> = self.kept.iter().map(|&c| noisy[c as usize]).collect();
        let q = 1.0 / (self.rare.len() as f64).sqrt();
        y.push(self.rare.iter().map(|&c| noisy[c as usize]).sum::<f64>() * q);
        let mut scale = vec![1.0; y.len()];
        *scale.last_mut().expect("not empty") = q;
        (y, Some(scale))
    }

    /// Compressed code back to an original code; `unit` in `[0, 1)` picks among merged values.
    pub fn expand(&self, code: u32, unit: f64) -> u32 {
        match self.kept.get(code as usize) {
            Some(&c) => c,
            None if self.rare_cdf.len() == self.rare.len() => {
                let i = self.rare_cdf.partition_point(|&c| c <= unit);
                self.rare[i.min(self.rare.len() - 1)]
            }
            None => {
                let i = ((unit * self.rare.len() as f64) as usize).min(self.rare.len() - 1);
                self.rare[i]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_values_below_the_threshold() {
        let c = Compression::from_noisy("x", &[10.0, 1.0, -2.0, 30.0], 5.0);
        assert_eq!(c.kept, vec![0, 3]);
        assert_eq!(c.rare, vec![1, 2]);
        assert_eq!(c.size(), 3);
        assert_eq!(c.forward_map(), vec![0, 2, 2, 1]);
        let (y, q) = c.compress_measurement(&[10.0, 1.0, -2.0, 30.0]);
        let r = 1.0 / 2f64.sqrt();
        assert_eq!(y, vec![10.0, 30.0, -r]);
        assert_eq!(q.unwrap(), vec![1.0, 1.0, r]);
        assert_eq!(c.expand(1, 0.3), 3);
        // Merged codes 1 (noisy 1) and 2 (noisy -2, clamped to 0): always 1.
        assert_eq!(c.expand(2, 0.3), 1);
        assert_eq!(c.expand(2, 0.99), 1);
        let u = Compression::from_noisy("x", &[10.0, -1.0, -2.0], 5.0);
        assert_eq!(u.expand(1, 0.3), 1);
        assert_eq!(u.expand(1, 0.99), 2);
        let id = Compression::identity("y", 3);
        assert_eq!(id.size(), 3);
        assert_eq!(id.compress_measurement(&[1.0, 2.0, 3.0]).1, None);
    }
}

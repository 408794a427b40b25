//! Forward sampling of a fitted graphical model along its junction tree.
//!
//! The root clique's attributes are drawn jointly from its table `p_R`; then, in pre-order,
//! each clique `C` with parent separator `S` draws its new attributes `C \ S` from
//! `p_C(C \ S | S) = p_C / p_S` given the values already drawn (Koller & Friedman 2009,
//! §12.1; private-pgm's `synthetic_data`). This is exact for the model's joint
//! `prod_C p_C / prod_S p_S`.
//!
//! Variance reduction, as in private-pgm: instead of drawing each row independently, the
//! rows of a chunk that share a separator value receive values in numbers given by
//! **systematic sampling** of `m p(. | s)` (one uniform offset; each count is `m p` rounded
//! up or down, unbiased), then shuffled. Counts then follow the model's tables closely,
//! which matters for the small-cell error of large outputs.
//!
//! Rows are produced in chunks of [`SAMPLE_CHUNK`]; chunk `i` uses ChaCha8 keyed by the seed
//! on stream `i`, so the output depends on the seed only, not on threads or batch sizes.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::inference::GraphModel;

/// Rows per sampling chunk (fixed: it is part of what a seed reproduces).
pub const SAMPLE_CHUNK: usize = 1 << 17;

/// A uniform draw in `[0, 1)`.
pub(crate) fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform integer below `n` (Lemire's multiply-shift; `n > 0`).
fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// The random stream of chunk `chunk` under `seed` (`salt` separates uses).
pub(crate) fn chunk_rng(seed: u64, chunk: u64, salt: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    r.set_stream(chunk);
    r
}

struct Step {
    /// Attributes of the separator (already drawn).
    sep: Vec<usize>,
    sep_strides: Vec<usize>,
    /// Attributes drawn here, with their sizes.
    new: Vec<usize>,
    new_sizes: Vec<usize>,
    /// `p(new | sep)` unnormalised, `sep cells x new cells`, row-major.
    table: Vec<f64>,
    new_cells: usize,
}

/// A sampler prepared from a model (conditional tables laid out once).
pub struct Sampler {
    steps: Vec<Step>,
    n_attrs: usize,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("steps", &self.steps.len())
            .finish()
    }
}

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

impl Sampler {
    /// Lay out the conditional tables of `model` along its junction tree.
    pub fn new(model: &GraphModel) -> Sampler {
        let tree = &model.tree;
        let mut steps = Vec::new();
        for &(c, parent) in &tree.order {
            let clique = &tree.cliques[c];
            let sep = parent.map_or_else(Vec::new, |p| tree.separator(c, p));
            let new: Vec<usize> = clique
                .iter()
                .copied()
                .filter(|a| !sep.contains(a))
                .collect();
            if new.is_empty() {
                continue;
            }
            // Permute the clique's table to axes [sep..., new...].
            let f = &model.marginals[c];
            let axes: Vec<usize> = sep
                .iter()
                .chain(&new)
                .map(|a| clique.iter().position(|x| x == a).expect("in clique"))
                .collect();
            let permuted = f.values.view().permuted_axes(axes);
            let table: Vec<f64> = permuted.iter().map(|&v| v.max(0.0)).collect();
            let sep_sizes: Vec<usize> = sep.iter().map(|&a| model.sizes[a]).collect();
            let new_sizes: Vec<usize> = new.iter().map(|&a| model.sizes[a]).collect();
            steps.push(Step {
                sep_strides: strides(&sep_sizes),
                sep,
                new_cells: new_sizes.iter().product(),
                new,
                new_sizes,
                table,
            });
        }
        Sampler {
            steps,
            n_attrs: model.sizes.len(),
        }
    }

    /// Draw `rows` rows (one code vector per attribute) with `rng`.
    pub fn sample_chunk(&self, rows: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<u32>> {
        let mut out = vec![vec![0u32; rows]; self.n_attrs];
        let mut values: Vec<u32> = Vec::with_capacity(rows);
        for step in &self.steps {
            // Group rows by separator cell (counting sort).
            let sep_cells = step.table.len() / step.new_cells;
            let mut sep_idx = vec![0usize; rows];
            for (&a, &s) in step.sep.iter().zip(&step.sep_strides) {
                for (i, &c) in sep_idx.iter_mut().zip(&out[a]) {
                    *i += c as usize * s;
                }
            }
            let mut start = vec![0usize; sep_cells + 1];
            for &s in &sep_idx {
                start[s + 1] += 1;
            }
            for s in 0..sep_cells {
                start[s + 1] += start[s];
            }
            let mut fill = start.clone();
            let mut order = vec![0usize; rows];
            for (r, &s) in sep_idx.iter().enumerate() {
                order[fill[s]] = r;
                fill[s] += 1;
            }
            let new_strides = strides(&step.new_sizes);
            for s in 0..sep_cells {
                let group = &order[start[s]..start[s + 1]];
                if group.is_empty() {
                    continue;
                }
                let p = &step.table[s * step.new_cells..(s + 1) * step.new_cells];
                systematic(p, group.len(), rng, &mut values);
                for (&r, &v) in group.iter().zip(&values) {
                    let mut v = v as usize;
                    for ((&a, &st), _) in step.new.iter().zip(&new_strides).zip(&step.new_sizes) {
                        out[a][r] = (v / st) as u32;
                        v %= st;
                    }
                }
            }
        }
        out
    }
}

/// `m` values from weights `p` by systematic sampling, shuffled, into `out`.
fn systematic(p: &[f64], m: usize, rng: &mut ChaCha8Rng, out: &mut Vec<u32>) {
    out.clear();
    let total: f64 = p.iter().sum();
    let u = unit(rng);
    if !(total > 0.0 && total.is_finite()) {
        out.extend((0..m).map(|_| below(rng, p.len()) as u32));
        return;
    }
    let scale = m as f64 / total;
    let mut cum = 0.0;
    let mut prev = 0usize;
    for (k, &w) in p.iter().enumerate() {
        cum += w * scale;
        let upto = if k + 1 == p.len() {
            m
        } else {
            ((cum + u).floor() as usize).min(m)
        };
        if upto > prev {
            out.extend(std::iter::repeat_n(k as u32, upto - prev));
            prev = upto;
        }
    }
    for i in (1..out.len()).rev() {
        let j = below(rng, i + 1);
        out.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systematic_counts_are_rounded_expectations() {
        let mut rng = chunk_rng(1, 0, 0);
        let mut out = Vec::new();
        let p = [0.5, 0.25, 0.125, 0.125];
        systematic(&p, 1000, &mut rng, &mut out);
        assert_eq!(out.len(), 1000);
        let mut c = [0usize; 4];
        for &v in &out {
            c[v as usize] += 1;
        }
        for (k, &w) in p.iter().enumerate() {
            assert!((c[k] as f64 - 1000.0 * w).abs() <= 1.0, "{c:?}");
        }
        systematic(&[0.0, 0.0], 5, &mut rng, &mut out);
        assert_eq!(out.len(), 5);
    }
}

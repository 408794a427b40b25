//! Dense factors over sets of attributes: the tables of a discrete graphical model.
//!
//! A [`Factor`] holds one value per cell of the cross product of its attributes' domains,
//! its attributes kept in ascending index order so that axes line up by position. The
//! operations are those of private-pgm's `Factor` (McKenna, Sheldon & Miklau 2019):
//! broadcasting to a superset of attributes, summing out, and the stable
//! `logsumexp(v) = m + ln sum exp(v - m)` (with `m` the largest finite value).

use ndarray::linalg::general_mat_mul;
use ndarray::{Array3, ArrayD, ArrayViewD, Axis, CowArray, IxDyn, Zip};

/// Cells above which elementwise work is spread over threads.
const PAR_CELLS: usize = 1 << 15;

/// A table over `attrs` (ascending attribute indices), one axis per attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    /// Attribute indices, ascending.
    pub attrs: Vec<usize>,
    /// Values, standard (row-major) layout, `values.shape()[k] = size(attrs[k])`.
    pub values: ArrayD<f64>,
}

impl Factor {
    /// A factor of `value` everywhere over `attrs` with `sizes` (the whole domain's sizes).
    pub fn constant(attrs: &[usize], sizes: &[usize], value: f64) -> Factor {
        let shape: Vec<usize> = attrs.iter().map(|&a| sizes[a]).collect();
        Factor {
            attrs: attrs.to_vec(),
            values: ArrayD::from_elem(IxDyn(&shape), value),
        }
    }

    /// A factor from row-major `values` (the caller checks the length).
    pub fn from_vec(attrs: &[usize], sizes: &[usize], values: Vec<f64>) -> Factor {
        let shape: Vec<usize> = attrs.iter().map(|&a| sizes[a]).collect();
        Factor {
            attrs: attrs.to_vec(),
            values: ArrayD::from_shape_vec(IxDyn(&shape), values)
                .expect("caller checked the length"),
        }
    }

    /// Number of cells.
    pub fn cells(&self) -> usize {
        self.values.len()
    }

    /// Add `other` (over a subset of this factor's attributes, broadcast along the others)
    /// into this one.
    pub fn add_assign(&mut self, other: &Factor) {
        let shape = self.values.shape().to_vec();
        let w = other.with_ones(&self.attrs, &shape);
        let b = w.broadcast(IxDyn(&shape)).expect("superset of attributes");
        if self.values.len() >= PAR_CELLS {
            Zip::from(&mut self.values)
                .and(&b)
                .par_for_each(|x, &y| *x += y);
        } else {
            self.values += &b;
        }
    }

    /// Divide this factor by `other` (over a subset of its attributes), with `0 / 0 = 0`:
    /// a conditional table `p(C) / p(S)` where `p(S) = 0` only beside `p(C) = 0`.
    pub fn div_assign(&mut self, other: &Factor) {
        self.zip_broadcast(other, |x, y| *x = if y > 0.0 { *x / y } else { 0.0 });
    }

    /// The product `a * b` over `attrs` (ascending, a superset of both factors' attributes),
    /// each broadcast along the attributes it lacks: the reference [`Factor::contract`] is
    /// tested against (the engine never forms whole products).
    #[cfg(test)]
    pub(crate) fn product(a: &Factor, b: &Factor, attrs: &[usize], sizes: &[usize]) -> Factor {
        let shape: Vec<usize> = attrs.iter().map(|&x| sizes[x]).collect();
        let (wa, wb) = (a.with_ones(attrs, &shape), b.with_ones(attrs, &shape));
        let va = wa.broadcast(IxDyn(&shape)).expect("superset of attributes");
        let vb = wb.broadcast(IxDyn(&shape)).expect("superset of attributes");
        // Allocated in standard layout (`Zip::map_collect` may choose column-major for
        // broadcast inputs), then written once.
        let mut values = ArrayD::<f64>::zeros(IxDyn(&shape));
        if values.len() >= PAR_CELLS {
            Zip::from(&mut values)
                .and(&va)
                .and(&vb)
                .par_for_each(|o, &x, &y| *o = x * y);
        } else {
            Zip::from(&mut values)
                .and(&va)
                .and(&vb)
                .for_each(|o, &x, &y| *o = x * y);
        }
        Factor {
            attrs: attrs.to_vec(),
            values,
        }
    }

    /// `sum_{attrs not in keep} a * b`: the product of two factors summed down to `keep`
    /// (ascending, a subset of their attributes), without forming the product. Attributes
    /// of one factor alone that `keep` lacks are summed out of it first; then, with `B`
    /// the shared attributes kept (batch), `F_a`/`F_b` each factor's own (kept) and `C`
    /// the shared ones summed out, it is one matrix product per batch cell:
    /// `out[B, F_a, F_b] = sum_C a[B, F_a, C] b[B, C, F_b]` (`ndarray`'s
    /// `general_mat_mul`, the `matrixmultiply` kernels), the same sums as
    /// forming the product and then summing it, at a fraction of the memory traffic.
    pub fn contract(a: &Factor, b: &Factor, keep: &[usize], sizes: &[usize]) -> Factor {
        let own = |f: &Factor, other: &Factor| -> Vec<usize> {
            f.attrs
                .iter()
                .copied()
                .filter(|x| keep.contains(x) || other.attrs.contains(x))
                .collect()
        };
        let (ka, kb) = (own(a, b), own(b, a));
        let a = if ka.len() < a.attrs.len() {
            std::borrow::Cow::Owned(a.sum_to(&ka))
        } else {
            std::borrow::Cow::Borrowed(a)
        };
        let b = if kb.len() < b.attrs.len() {
            std::borrow::Cow::Owned(b.sum_to(&kb))
        } else {
            std::borrow::Cow::Borrowed(b)
        };
        let batch: Vec<usize> = keep
            .iter()
            .copied()
            .filter(|x| a.attrs.contains(x) && b.attrs.contains(x))
            .collect();
        let free_a: Vec<usize> = a
            .attrs
            .iter()
            .copied()
            .filter(|x| !b.attrs.contains(x))
            .collect();
        let free_b: Vec<usize> = b
            .attrs
            .iter()
            .copied()
            .filter(|x| !a.attrs.contains(x))
            .collect();
        let summed: Vec<usize> = a
            .attrs
            .iter()
            .copied()
            .filter(|x| b.attrs.contains(x) && !keep.contains(x))
            .collect();
        let n = |set: &[usize]| -> usize { set.iter().map(|&x| sizes[x]).product() };
        let (nb, nfa, nfb, nc) = (n(&batch), n(&free_a), n(&free_b), n(&summed));
        let (ca, cb) = (
            a.arranged(&[&batch, &free_a, &summed]),
            b.arranged(&[&batch, &summed, &free_b]),
        );
        let ta = ca
            .view()
            .into_shape_with_order((nb, nfa, nc))
            .expect("standard layout");
        let tb = cb
            .view()
            .into_shape_with_order((nb, nc, nfb))
            .expect("standard layout");
        let mut out = Array3::<f64>::zeros((nb, nfa, nfb));
        for i in 0..nb {
            general_mat_mul(
                1.0,
                &ta.index_axis(Axis(0), i),
                &tb.index_axis(Axis(0), i),
                0.0,
                &mut out.index_axis_mut(Axis(0), i),
            );
        }
        // Axes batch ++ free_a ++ free_b, back to `keep`'s ascending order.
        let order: Vec<usize> = [batch.as_slice(), &free_a, &free_b].concat();
        let shape: Vec<usize> = order.iter().map(|&x| sizes[x]).collect();
        let out = out
            .into_shape_with_order(IxDyn(&shape))
            .expect("standard layout");
        let axes: Vec<usize> = keep
            .iter()
            .map(|x| order.iter().position(|y| y == x).expect("kept attribute"))
            .collect();
        let values = out.permuted_axes(IxDyn(&axes));
        let values = if values.is_standard_layout() {
            values
        } else {
            values.as_standard_layout().into_owned()
        };
        Factor {
            attrs: keep.to_vec(),
            values,
        }
    }

    /// This factor's values with its axes in the order of `groups` (together its
    /// attributes), in standard layout (copied only when the order differs).
    fn arranged(&self, groups: &[&[usize]; 3]) -> CowArray<'_, f64, IxDyn> {
        let axes: Vec<usize> = groups
            .iter()
            .flat_map(|g| g.iter())
            .map(|x| {
                self.attrs
                    .iter()
                    .position(|y| y == x)
                    .expect("own attribute")
            })
            .collect();
        let v = self.values.view().permuted_axes(IxDyn(&axes));
        if v.is_standard_layout() {
            CowArray::from(v)
        } else {
            CowArray::from(v.as_standard_layout().into_owned())
        }
    }

    /// A view of this factor shaped for broadcasting to `attrs` (ascending, a superset of
    /// its own) with `shape` (their sizes): its own axes, with length-one axes for the
    /// attributes it lacks. `.broadcast(shape)` of it lines up with a table over `attrs`.
    fn with_ones<'a>(&'a self, attrs: &[usize], shape: &[usize]) -> ArrayViewD<'a, f64> {
        let with_ones: Vec<usize> = attrs
            .iter()
            .zip(shape)
            .map(|(a, &n)| if self.attrs.contains(a) { n } else { 1 })
            .collect();
        self.values
            .view()
            .into_shape_with_order(IxDyn(&with_ones))
            .expect("standard layout")
    }

    fn zip_broadcast(&mut self, other: &Factor, op: impl Fn(&mut f64, f64) + Sync + Send) {
        let shape = self.values.shape().to_vec();
        let w = other.with_ones(&self.attrs, &shape);
        let b = w.broadcast(IxDyn(&shape)).expect("superset of attributes");
        if self.values.len() >= PAR_CELLS {
            Zip::from(&mut self.values)
                .and(&b)
                .par_for_each(|x, &y| op(x, y));
        } else {
            Zip::from(&mut self.values)
                .and(&b)
                .for_each(|x, &y| op(x, y));
        }
    }

    /// Sum out every attribute not in `keep` (ascending, a subset).
    pub fn sum_to(&self, keep: &[usize]) -> Factor {
        Factor {
            attrs: keep.to_vec(),
            values: sum_axes(self.values.view(), &self.attrs, keep),
        }
    }

    /// `ln sum exp` over every attribute not in `keep`.
    pub fn logsumexp_to(&self, keep: &[usize]) -> Factor {
        let m = max_finite(&self.values);
        let mut e = self.values.clone();
        map_inplace(&mut e, |v| (v - m).exp());
        let mut s = sum_axes(e.view(), &self.attrs, keep);
        s.mapv_inplace(|v| v.ln() + m);
        Factor {
            attrs: keep.to_vec(),
            values: s,
        }
    }

    /// `exp(v - shift) * scale` cell by cell.
    pub fn exp_scaled(&self, shift: f64, scale: f64) -> Factor {
        let mut e = self.values.clone();
        map_inplace(&mut e, |v| (v - shift).exp() * scale);
        Factor {
            attrs: self.attrs.clone(),
            values: e,
        }
    }

    /// Values flattened in row-major order.
    pub fn to_vec(&self) -> Vec<f64> {
        self.values.iter().copied().collect()
    }
}

/// Sum an array over `attrs` down to `keep`, reading `a` in place: the first axis summed
/// out allocates the (smaller) result, so the input is never copied.
fn sum_axes(a: ArrayViewD<'_, f64>, attrs: &[usize], keep: &[usize]) -> ArrayD<f64> {
    let mut summed: Option<ArrayD<f64>> = None;
    for (k, at) in attrs.iter().enumerate().rev() {
        if !keep.contains(at) {
            summed = Some(match summed {
                Some(s) => s.sum_axis(Axis(k)),
                None => a.sum_axis(Axis(k)),
            });
        }
    }
    match summed {
        Some(s) if s.is_standard_layout() => s,
        Some(s) => s.as_standard_layout().into_owned(),
        None => a.as_standard_layout().into_owned(),
    }
}

/// Largest finite value (0 when there is none).
fn max_finite(a: &ArrayD<f64>) -> f64 {
    let m = a
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    if m.is_finite() { m } else { 0.0 }
}

fn map_inplace(a: &mut ArrayD<f64>, f: impl Fn(f64) -> f64 + Sync + Send) {
    if a.len() >= PAR_CELLS {
        a.par_mapv_inplace(f);
    } else {
        a.mapv_inplace(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_sum_and_logsumexp() {
        let sizes = [2, 3, 4];
        let f = Factor::from_vec(&[0, 2], &sizes, (0..8).map(f64::from).collect());
        let mut g = Factor::constant(&[0, 1, 2], &sizes, 1.0);
        g.add_assign(&f);
        // g[i, j, k] = 1 + f[i, k]
        assert_eq!(g.values[[1, 2, 3]], 1.0 + 7.0);
        let s = g.sum_to(&[2]);
        let h = f.logsumexp_to(&[0]);
        let want0 = (0..4).map(|v| f64::from(v).exp()).sum::<f64>().ln();
        assert!((h.values[[0]] - want0).abs() < 1e-12);
        let t = f.logsumexp_to(&[]);
        let want = (0..8).map(|v| f64::from(v).exp()).sum::<f64>().ln();
        assert!((t.values[[]] - want).abs() < 1e-12);
        // Summing out: sum over i and j of 1 + f[i, k] = 3 * (2 + f[0, k] + f[1, k]).
        for k in 0..4 {
            let want = 3.0 * (2.0 + k as f64 + (k as f64 + 4.0));
            assert_eq!(s.values[[k]], want);
        }
    }

    #[test]
    fn contract_is_the_product_summed_down() {
        // Sizes chosen so every group (batch, own, summed) has more than one cell.
        let sizes = [2, 3, 4, 2, 3];
        let fill = |attrs: &[usize], seed: u64| {
            let n: usize = attrs.iter().map(|&a| sizes[a]).product();
            let mut x = seed;
            let v = (0..n)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (x >> 40) as f64 / (1u64 << 24) as f64
                })
                .collect();
            Factor::from_vec(attrs, &sizes, v)
        };
        let cases: &[(&[usize], &[usize], &[usize])] = &[
            (&[0, 1], &[1, 2], &[0, 2]),          // a matrix product
            (&[0, 1, 2], &[1, 2, 3], &[0, 2, 3]), // batch 2, summed 1
            (&[0, 1], &[2, 3], &[0, 1, 2, 3]),    // an outer product
            (&[0, 1, 4], &[1, 3], &[3, 4]),       // 0 summed out of a alone
            (&[2, 4], &[0, 2, 4], &[0, 4]),       // b's attributes a superset
            (&[0, 1, 2], &[0, 1, 2], &[1]),       // the same attributes
            (&[1, 3], &[0, 1], &[]),              // everything summed
        ];
        for (k, &(aa, bb, keep)) in cases.iter().enumerate() {
            let (a, b) = (fill(aa, 2 * k as u64 + 1), fill(bb, 2 * k as u64 + 2));
            let mut union: Vec<usize> = [aa, bb].concat();
            union.sort_unstable();
            union.dedup();
            let want = Factor::product(&a, &b, &union, &sizes).sum_to(keep);
            let got = Factor::contract(&a, &b, keep, &sizes);
            assert_eq!(got.attrs, keep);
            assert_eq!(got.values.shape(), want.values.shape());
            for (w, g) in want.to_vec().iter().zip(got.to_vec()) {
                assert!(
                    (w - g).abs() <= 1e-12 * w.abs().max(1.0),
                    "{aa:?} {bb:?} -> {keep:?}: {w} vs {g}"
                );
            }
        }
    }
}

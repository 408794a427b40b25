//! Dense factors over sets of attributes: the tables of a discrete graphical model.
//!
//! A [`Factor`] holds one value per cell of the cross product of its attributes' domains,
//! its attributes kept in ascending index order so that axes line up by position. The
//! operations are those of private-pgm's `Factor` (McKenna, Sheldon & Miklau 2019):
//! broadcasting to a superset of attributes, summing out, and the stable
//! `logsumexp(v) = m + ln sum exp(v - m)` (with `m` the largest finite value).

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Zip};

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

    /// Multiply this factor by `other` (over a subset of its attributes, broadcast along the
    /// others), cell by cell.
    pub fn mul_assign(&mut self, other: &Factor) {
        self.zip_broadcast(other, |x, y| *x *= y);
    }

    /// Divide this factor by `other` (over a subset of its attributes), with `0 / 0 = 0`:
    /// a conditional table `p(C) / p(S)` where `p(S) = 0` only beside `p(C) = 0`.
    pub fn div_assign(&mut self, other: &Factor) {
        self.zip_broadcast(other, |x, y| *x = if y > 0.0 { *x / y } else { 0.0 });
    }

    /// This factor broadcast to `attrs` (ascending, a superset of its own).
    pub fn expand(&self, attrs: &[usize], sizes: &[usize]) -> Factor {
        let shape: Vec<usize> = attrs.iter().map(|&x| sizes[x]).collect();
        let mut values = ArrayD::<f64>::zeros(IxDyn(&shape));
        let w = self.with_ones(attrs, &shape);
        values.assign(&w.broadcast(IxDyn(&shape)).expect("superset of attributes"));
        Factor {
            attrs: attrs.to_vec(),
            values,
        }
    }

    /// The product `a * b` over `attrs` (ascending, a superset of both factors' attributes),
    /// each broadcast along the attributes it lacks, written in one pass (no table of
    /// zeros filled first, as `a.expand(attrs).mul_assign(b)` would).
    pub fn product(a: &Factor, b: &Factor, attrs: &[usize], sizes: &[usize]) -> Factor {
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
}

//! Estimation of a graphical model from noisy marginals: private-pgm's approach
//! (McKenna, Sheldon & Miklau 2019, "Graphical-model based estimation and inference for
//! differential privacy", ICML).
//!
//! Measurements are `y_m = Q_m mu_{C_m} + N(0, sigma_m^2 I)` for marginals `mu_{C_m}` of
//! the unknown data distribution (scaled to counts) and diagonal `Q_m` (the identity, or the
//! re-weighting MST uses after domain compression). The estimate solves
//!
//! `min_mu L(mu) = sum_m 1/2 || (Q_m mu_{C_m} - y_m) / sigma_m ||^2`
//!
//! **Thresholded measurements** (a sparse table released by the Gaussian threshold
//! mechanism, [`pets::dp::mechanisms::ThresholdedCounts`]: only cells whose noisy count is
//! at least `T` are released) are censored observations. A released cell keeps the squared
//! term above. An unreleased cell says only that `y_j < T`, i.e. `q_j mu_j < T - Z`: it
//! costs the one-sided hinge `1/2 (max(0, q_j mu_j - T) / sigma)^2`: the leading term of
//! the censored (Tobit) negative log-likelihood `-ln Phi((T - q_j mu_j) / sigma)` and a
//! convex lower bound of it (`Phi(z) <= e^{-z^2/2} / 2` for `z <= 0`). So `L` stays convex and
//! differentiable: the estimate may put up to about `T` in a suppressed cell (an empty cell
//! and a small one look alike), and the other measurements decide how much. A thresholded
//! measurement is left out of the total (its sum misses the suppressed mass).
//!
//! over marginals `mu` realisable by a graphical model on a junction tree that contains
//! every `C_m`. It is found by **mirror descent** on the model's log-potentials `theta`
//! (the entropic mirror map over the marginal polytope, private-pgm's
//! `FactoredInference.mirror_descent`): `theta <- theta - alpha grad_mu L(mu(theta))`, with
//! `mu(theta)` computed by belief propagation and `alpha` adapted by an Armijo line search
//! (accept when `L(nu) - L(mu) >= alpha/2 <grad, nu - mu>`, else halve; double at each
//! iteration).
//!
//! The total `N` is never taken from the data: it is the inverse-variance-weighted mean of
//! the totals implied by each measurement (private-pgm's `_setup`).
//!
//! Start: when a clique is measured as a whole, the iteration starts from the closed-form
//! "product of conditionals" of the non-negative noisy marginals along the tree, which is
//! already close for MST's trees and cuts the number of iterations needed.

use ndarray::{ArrayD, IxDyn};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::factor::Factor;
use super::junction_tree::JunctionTree;
use super::projection::Projector;
use crate::error::{Result, SynthError};
use pets::progress::Progress;

/// One noisy marginal: `values = scale * mu_attrs + N(0, sigma^2)`, row-major over `attrs`
/// (ascending attribute indices); with [`Measurement::threshold`], only the cells at or
/// above it are such values (the others are censored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Attribute indices, ascending.
    pub attrs: Vec<usize>,
    /// The noisy values, one per cell (row-major, last attribute fastest).
    pub values: Vec<f64>,
    /// Standard deviation of the noise on each value.
    pub sigma: f64,
    /// Diagonal of `Q` (one weight per cell); `None` is the identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<Vec<f64>>,
    /// When set, the table was released by the Gaussian threshold mechanism at this `T`:
    /// cell `j` was released iff `values[j] >= T`; a value below `T` (stored as 0) means
    /// only that the cell's noisy count fell below `T` (see the module docs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
}

impl Measurement {
    /// Whether cell `j` is a censored (unreleased) cell of a thresholded measurement.
    pub fn is_censored(&self, j: usize) -> bool {
        self.threshold.is_some_and(|t| self.values[j] < t)
    }

    /// This measurement's term of `L` at the table `x` (over its attributes, row-major),
    /// and its gradient in `x`: `1/2 ((q x - y) / sigma)^2` a released cell, the hinge
    /// `1/2 (max(0, q x - T) / sigma)^2` a censored one.
    pub(crate) fn loss_and_gradient(&self, x: &[f64]) -> (f64, Vec<f64>) {
        let mut loss = 0.0;
        let mut g = Vec::with_capacity(x.len());
        for (j, (&xj, &yj)) in x.iter().zip(&self.values).enumerate() {
            let q = self.scale.as_ref().map_or(1.0, |s| s[j]);
            let diff = match self.threshold {
                Some(t) if yj < t => (q * xj - t).max(0.0) / self.sigma,
                _ => (q * xj - yj) / self.sigma,
            };
            loss += 0.5 * diff * diff;
            g.push(q * diff / self.sigma);
        }
        (loss, g)
    }
}

/// Settings of [`estimate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EstimationOptions {
    /// Largest number of mirror-descent iterations.
    pub max_iters: usize,
    /// Optional work budget in clique-cell iterations: when set, the iterations are
    /// `clamp(budget / cells, min_iters, max_iters)` with `cells` the junction tree's
    /// total clique cells, so small models run to convergence and large ones stop early
    /// (one iteration costs a few belief-propagation passes over every cell).
    pub work_budget: Option<f64>,
    /// Fewest iterations under a work budget.
    pub min_iters: usize,
    /// Stop when one iteration lowers the loss by less than this fraction of it.
    pub tolerance: f64,
    /// Largest clique of the junction tree, in cells.
    pub max_clique_cells: u64,
}

impl Default for EstimationOptions {
    fn default() -> Self {
        EstimationOptions {
            max_iters: 100,
            work_budget: None,
            min_iters: 1,
            tolerance: 1e-6,
            max_clique_cells: 1 << 24,
        }
    }
}

/// A fitted graphical model: a junction tree and the (consistent) probability table of each
/// of its cliques; the joint is `prod_C p_C / prod_S p_S`.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphModel {
    /// Domain size of each attribute.
    pub sizes: Vec<usize>,
    /// The junction tree.
    pub tree: JunctionTree,
    /// Probability table of each clique (sums to one).
    pub marginals: Vec<Factor>,
    /// Estimated number of records (from the measurements, never from the data).
    pub total: f64,
}

/// How estimation went.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EstimationReport {
    /// Iterations run.
    pub iterations: usize,
    /// Final loss `L(mu)`.
    pub loss: f64,
    /// Estimated total.
    pub total: f64,
}

impl GraphModel {
    /// The probability table over `attrs` (ascending), when one clique contains them all.
    pub fn marginal(&self, attrs: &[usize]) -> Option<Factor> {
        let c = self.tree.clique_containing(attrs)?;
        Some(self.marginals[c].sum_to(attrs))
    }

    /// The model's probability table over any `attrs` (ascending, non-empty), by variable
    /// elimination on the junction tree rooted where it is cheapest ([`Projector`], which
    /// keeps its work between queries: use it for many queries of one model); `None` when
    /// an intermediate table would exceed `max_cells` cells.
    pub fn project(&self, attrs: &[usize], max_cells: u64) -> Option<Factor> {
        Projector::new(self).project(attrs, max_cells)
    }
}

/// Inverse-variance-weighted total implied by the measurements: for diagonal `Q` the
/// unbiased estimate from measurement `m` is `sum_i y_i / q_i` with variance
/// `sigma^2 sum_i 1/q_i^2`. Thresholded measurements are left out (their sums miss the
/// suppressed cells). At least 1.
pub fn estimate_total(measurements: &[Measurement]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for m in measurements.iter().filter(|m| m.threshold.is_none()) {
        let (mut est, mut var) = (0.0, 0.0);
        for (i, &y) in m.values.iter().enumerate() {
            let q = m.scale.as_ref().map_or(1.0, |s| s[i]);
            est += y / q;
            var += 1.0 / (q * q);
        }
        var *= m.sigma * m.sigma;
        if var > 0.0 && var.is_finite() {
            num += est / var;
            den += 1.0 / var;
        }
    }
    if den > 0.0 { (num / den).max(1.0) } else { 1.0 }
}

/// Fit a graphical model over attributes of `sizes` to `measurements` (see the module docs).
/// `cliques` are extra attribute sets the model must contain (beyond the measured ones).
pub fn estimate(
    sizes: &[usize],
    names: &[String],
    measurements: &[Measurement],
    cliques: &[Vec<usize>],
    opts: &EstimationOptions,
) -> Result<(GraphModel, EstimationReport)> {
    estimate_with(sizes, names, measurements, cliques, opts, &Progress::none())
}

/// [`estimate`], reporting each iteration to `progress` (stage `"fitting"`) and stopping
/// between iterations when asked ([`pets::data::DataError::Cancelled`]).
pub fn estimate_with(
    sizes: &[usize],
    names: &[String],
    measurements: &[Measurement],
    cliques: &[Vec<usize>],
    opts: &EstimationOptions,
    progress: &Progress,
) -> Result<(GraphModel, EstimationReport)> {
    let (model, report, _) =
        estimate_warm(sizes, names, measurements, cliques, None, opts, progress)?;
    Ok((model, report))
}

/// Where an estimation ended, to start the next one from (AIM re-estimates after every
/// measurement it adds): the log-potentials over the cliques of its junction tree and the
/// last accepted step size.
#[derive(Debug, Clone, PartialEq)]
pub struct WarmStart {
    /// Log-potentials `theta`, one factor per clique of the tree they were fitted on.
    pub potentials: Vec<Factor>,
    /// The mirror-descent step size `alpha` last accepted.
    pub step: f64,
}

/// [`estimate_with`], started from `init` (the end of an earlier estimation) when given, and
/// returning where this one ended. The junction tree covers the measurements, `cliques` and
/// every clique of `init`, so each earlier potential lies in one new clique and is added
/// there: the iteration starts from exactly the earlier model's distribution (private-pgm's
/// `warm_start`). Each measurement of an attribute set that no clique of `init` holds is
/// new: the start is then raked to it (`Engine::rake_new`: one exact step of iterative
/// proportional fitting to its non-negative least-squares table), kept when that lowers
/// the loss, so a few iterations reach the fit even when the new table is large and sparse.
/// The optimum is unchanged; only the starting point moves.
pub fn estimate_warm(
    sizes: &[usize],
    names: &[String],
    measurements: &[Measurement],
    cliques: &[Vec<usize>],
    init: Option<&WarmStart>,
    opts: &EstimationOptions,
    progress: &Progress,
) -> Result<(GraphModel, EstimationReport, WarmStart)> {
    for m in measurements {
        check_measurement(sizes, names, m)?;
    }
    let mut all: Vec<Vec<usize>> = measurements.iter().map(|m| m.attrs.clone()).collect();
    all.extend(cliques.iter().cloned());
    if let Some(w) = init {
        all.extend(w.potentials.iter().map(|f| f.attrs.clone()));
    }
    let tree = JunctionTree::build(sizes, names, &all, opts.max_clique_cells)?;
    let total = estimate_total(measurements);
    let groups: Vec<Vec<usize>> = {
        let mut g = vec![Vec::new(); tree.cliques.len()];
        for (i, m) in measurements.iter().enumerate() {
            let c = tree
                .clique_containing(&m.attrs)
                .expect("the tree covers every measurement");
            g[c].push(i);
        }
        g
    };
    let engine = Engine {
        sizes,
        tree: &tree,
        measurements,
        groups: &groups,
        total,
    };
    let mut theta = match init {
        Some(w) => {
            let mut theta: Vec<Factor> = tree
                .cliques
                .iter()
                .map(|c| Factor::constant(c, sizes, 0.0))
                .collect();
            for f in &w.potentials {
                let c = tree
                    .clique_containing(&f.attrs)
                    .expect("the tree covers every earlier clique");
                theta[c].add_assign(f);
            }
            theta
        }
        None => engine.warm_start(),
    };
    let mut mu = engine.belief_propagation(&theta);
    let (mut loss, mut grad) = engine.loss(&mu);
    if let Some(w) = init {
        // Measurements of attribute sets no earlier clique holds are new: rake the start to
        // each (one exact step of iterative proportional fitting), kept when it lowers the
        // loss (see `Engine::rake_new`).
        for (i, m) in measurements.iter().enumerate() {
            if w.potentials
                .iter()
                .any(|f| m.attrs.iter().all(|a| f.attrs.contains(a)))
            {
                continue;
            }
            let raked = engine.rake_new(&theta, &mu, i);
            let mu_r = engine.belief_propagation(&raked);
            let (l, g) = engine.loss(&mu_r);
            if l.is_finite() && l < loss {
                (theta, mu, loss, grad) = (raked, mu_r, l, g);
            }
        }
    }
    if !loss.is_finite() {
        return Err(diverged(0, loss));
    }
    // Step size: the curvature of L in theta is about mu / sigma^2, so start near
    // sigma_min^2 / N and let the line search adapt (or where the last estimation ended).
    let sigma_min = measurements
        .iter()
        .map(|m| m.sigma)
        .fold(f64::INFINITY, f64::min);
    let mut alpha = match init {
        Some(w) if w.step > 0.0 && w.step.is_finite() => w.step / 2.0,
        _ if sigma_min.is_finite() => sigma_min * sigma_min / total,
        _ => 1.0 / total,
    };
    let max_iters = iteration_cap(opts, &tree, sizes);
    progress.stage("fitting", Some(max_iters as u64), "iterations");
    let mut iterations = 0;
    for t in 1..=max_iters {
        progress.advance(t as u64 - 1)?;
        iterations = t;
        let (omega, nu, curr) = (std::mem::take(&mut theta), mu.clone(), loss);
        alpha *= 2.0;
        let mut accepted = false;
        for _ in 0..30 {
            theta = step(&omega, &grad, alpha);
            mu = engine.belief_propagation(&theta);
            let (l, g) = engine.loss(&mu);
            let decrease = 0.5 * alpha * dot(&grad, &nu, &mu);
            if l.is_finite() && curr - l >= decrease {
                loss = l;
                grad = g;
                accepted = true;
                break;
            }
            alpha *= 0.5;
        }
        if !accepted {
            theta = omega;
            mu = nu;
            loss = curr;
            break;
        }
        if curr - loss <= opts.tolerance * curr.max(f64::MIN_POSITIVE) {
            break;
        }
    }
    let warm = WarmStart {
        potentials: theta,
        step: alpha,
    };
    let marginals = mu
        .into_iter()
        .map(|mut f| {
            let s: f64 = f.values.sum();
            if s > 0.0 {
                f.values.mapv_inplace(|v| v / s);
            }
            f
        })
        .collect();
    Ok((
        GraphModel {
            sizes: sizes.to_vec(),
            tree,
            marginals,
            total,
        },
        EstimationReport {
            iterations,
            loss,
            total,
        },
        warm,
    ))
}

/// The iterations `opts` allow on `tree` (see [`EstimationOptions::work_budget`]).
pub(crate) fn iteration_cap(
    opts: &EstimationOptions,
    tree: &JunctionTree,
    sizes: &[usize],
) -> usize {
    let Some(budget) = opts.work_budget else {
        return opts.max_iters;
    };
    let cells: f64 = tree
        .cliques
        .iter()
        .map(|c| c.iter().map(|&a| sizes[a] as f64).product::<f64>())
        .sum();
    let by_budget = (budget / cells.max(1.0)).floor();
    let lo = opts.min_iters.min(opts.max_iters);
    (by_budget.min(opts.max_iters as f64) as usize).max(lo)
}

fn diverged(iteration: usize, loss: f64) -> SynthError {
    SynthError::Diverged {
        iteration,
        loss,
        hint: "check the measurements are finite and their sigmas positive".into(),
    }
}

fn check_measurement(sizes: &[usize], names: &[String], m: &Measurement) -> Result<()> {
    let cols = || {
        m.attrs
            .iter()
            .map(|&a| names.get(a).cloned().unwrap_or_else(|| format!("#{a}")))
            .collect::<Vec<_>>()
    };
    let bad = |reason: String| SynthError::Measurement {
        columns: cols(),
        reason,
    };
    if m.attrs.is_empty() || m.attrs.windows(2).any(|w| w[0] >= w[1]) {
        return Err(bad("attributes must be distinct and ascending".into()));
    }
    if let Some(&a) = m.attrs.iter().find(|&&a| a >= sizes.len()) {
        return Err(bad(format!(
            "attribute {a} is not in a model of {} attributes",
            sizes.len()
        )));
    }
    let cells: usize = m.attrs.iter().map(|&a| sizes[a]).product();
    if m.values.len() != cells {
        return Err(bad(format!("{} values for {cells} cells", m.values.len())));
    }
    if !(m.sigma > 0.0 && m.sigma.is_finite()) {
        return Err(bad(format!(
            "sigma {} must be positive and finite",
            m.sigma
        )));
    }
    if m.values.iter().any(|v| !v.is_finite()) {
        return Err(bad("a value is not finite".into()));
    }
    if let Some(s) = &m.scale
        && (s.len() != cells || s.iter().any(|q| !(*q > 0.0 && q.is_finite())))
    {
        return Err(bad(
            "the scale must have one positive weight per cell".into()
        ));
    }
    if let Some(t) = m.threshold
        && !(t > 0.0 && t.is_finite())
    {
        return Err(bad(format!("threshold {t} must be positive and finite")));
    }
    Ok(())
}

fn step(omega: &[Factor], grad: &[Factor], alpha: f64) -> Vec<Factor> {
    omega
        .par_iter()
        .zip(grad)
        .map(|(o, g)| {
            let mut t = o.clone();
            ndarray::Zip::from(&mut t.values)
                .and(&g.values)
                .for_each(|x, &d| *x -= alpha * d);
            t
        })
        .collect()
}

fn dot(grad: &[Factor], nu: &[Factor], mu: &[Factor]) -> f64 {
    grad.par_iter()
        .zip(nu)
        .zip(mu)
        .map(|((g, n), m)| {
            ndarray::Zip::from(&g.values)
                .and(&n.values)
                .and(&m.values)
                .fold(0.0, |acc, &g, &n, &m| acc + g * (n - m))
        })
        .sum()
}

struct Engine<'a> {
    sizes: &'a [usize],
    tree: &'a JunctionTree,
    measurements: &'a [Measurement],
    groups: &'a [Vec<usize>],
    total: f64,
}

impl Engine<'_> {
    fn shape(&self, attrs: &[usize]) -> Vec<usize> {
        attrs.iter().map(|&a| self.sizes[a]).collect()
    }

    /// The starting point: a fast, consistent, non-negative estimate of every clique measured
    /// whole, turned into log-potentials as the product of conditionals along the tree.
    ///
    /// 1. each measurement (un-weighted by `Q`) is projected onto
    ///    `{x >= 0, sum x = N}` in L2 — the least-squares fit of that table alone, which
    ///    thresholds noise away (`x = max(y - lambda, 0)`);
    /// 2. each attribute's 1-way table is the inverse-variance-weighted mean of the
    ///    projections of every measurement containing it (thresholded ones aside);
    /// 3. each clique table is raked (iterative proportional fitting, Deming & Stephan 1940)
    ///    to those 1-way tables, so separators agree.
    ///
    /// Cliques not measured whole start from their attributes' 1-way tables (independence).
    fn warm_start(&self) -> Vec<Factor> {
        let tree = self.tree;
        let n_attrs = self.sizes.len();
        let projected: Vec<Factor> = self
            .measurements
            .par_iter()
            .map(|m| {
                let x: Vec<f64> = m
                    .values
                    .iter()
                    .enumerate()
                    .map(|(i, &y)| y / m.scale.as_ref().map_or(1.0, |s| s[i]))
                    .collect();
                Factor::from_vec(&m.attrs, self.sizes, project_simplex(&x, self.total))
            })
            .collect();
        // 1-way targets.
        let mut one: Vec<Vec<f64>> = self
            .sizes
            .iter()
            .map(|&n| vec![self.total / n as f64; n])
            .collect();
        for (a, target) in one.iter_mut().enumerate().take(n_attrs) {
            let (mut acc, mut wsum) = (vec![0.0; self.sizes[a]], 0.0);
            for (m, p) in self.measurements.iter().zip(&projected) {
                // A thresholded table's sums miss its suppressed cells: not a 1-way target.
                if !m.attrs.contains(&a) || m.threshold.is_some() {
                    continue;
                }
                let others: usize = m
                    .attrs
                    .iter()
                    .filter(|&&b| b != a)
                    .map(|&b| self.sizes[b])
                    .product();
                let w = 1.0 / (m.sigma * m.sigma * others as f64);
                for (x, v) in acc.iter_mut().zip(p.sum_to(&[a]).to_vec()) {
                    *x += w * v;
                }
                wsum += w;
            }
            if wsum > 0.0 {
                *target = acc.iter().map(|x| x / wsum).collect();
            }
        }
        let tables: Vec<Factor> = tree
            .cliques
            .par_iter()
            .enumerate()
            .map(|(c, clique)| {
                let whole = self.groups[c]
                    .iter()
                    .find(|&&i| self.measurements[i].attrs == *clique)
                    .map(|&i| projected[i].clone());
                let mut t = whole.unwrap_or_else(|| Factor::constant(clique, self.sizes, 1.0));
                rake(&mut t, &one, self.total);
                t
            })
            .collect();
        let mut theta = Vec::with_capacity(tables.len());
        for (c, t) in tables.iter().enumerate() {
            let floor = 1e-6 * self.total / t.cells() as f64;
            let mut logp = t.clone();
            logp.values.mapv_inplace(|v| v.max(floor).ln());
            let parent = tree.order.iter().find(|o| o.0 == c).and_then(|o| o.1);
            if let Some(par) = parent {
                let sep = tree.separator(c, par);
                let mut den = t.sum_to(&sep);
                den.values.mapv_inplace(|v| -v.max(floor).ln());
                logp.add_assign(&den);
            }
            theta.push(logp);
        }
        theta
    }

    /// The log-potentials `theta` (with calibrated marginals `mu`) raked to measurement `i`:
    /// its clique `C`'s potential plus `ln(t / mu_A)` over the measurement's attributes `A`,
    /// with `t` the measurement's least-squares non-negative table (`project_simplex` of
    /// `y / q` at the total, as [`Engine::warm_start`]). The joint becomes
    /// `p'(x) = p(x) t(x_A) / mu_A(x_A)` (normalised), whose marginal on `A` is exactly `t`
    /// and which keeps every conditional given `x_A`: one step of iterative proportional
    /// fitting (Deming & Stephan 1940), the I-projection of `p` onto the tables with that
    /// marginal. Both sides are floored at `1e-6 N / cells` (as the cold start), so a cell
    /// the measurement puts at zero gets a tiny, finite log-potential.
    ///
    /// Why: a warm start is the previous model, whose marginal on a newly measured set can
    /// be far from the measurement (AIM's first measurement of a sparse 28,000-cell table
    /// on 1M rows: L1 error 994k); entropic mirror descent then moves mass out of empty
    /// cells only geometrically, and a bounded number of iterations stopped at 660k-790k,
    /// where the converged estimate is near 115k. The raked start is within a few
    /// iterations of it. The optimum is unchanged: only where the iteration starts.
    fn rake_new(&self, theta: &[Factor], mu: &[Factor], i: usize) -> Vec<Factor> {
        let m = &self.measurements[i];
        let c = self
            .tree
            .clique_containing(&m.attrs)
            .expect("the tree covers every measurement");
        let y: Vec<f64> = m
            .values
            .iter()
            .enumerate()
            .map(|(j, &v)| v / m.scale.as_ref().map_or(1.0, |s| s[j]))
            .collect();
        let target = project_simplex(&y, self.total);
        let current = mu[c].sum_to(&m.attrs).to_vec();
        let floor = 1e-6 * self.total / target.len().max(1) as f64;
        let ratio: Vec<f64> = target
            .iter()
            .zip(&current)
            .map(|(&t, &u)| t.max(floor).ln() - u.max(floor).ln())
            .collect();
        let mut out = theta.to_vec();
        out[c].add_assign(&Factor::from_vec(&m.attrs, self.sizes, ratio));
        out
    }

    /// Calibrated clique marginals (in counts) of the model with log-potentials `theta`:
    /// two passes of sum-product messages in log space over the junction tree.
    fn belief_propagation(&self, theta: &[Factor]) -> Vec<Factor> {
        let tree = self.tree;
        let k = tree.cliques.len();
        // messages[(from, to)] on their separator.
        let mut msg: Vec<Vec<Option<Factor>>> = vec![vec![None; k]; k];
        let send = |from: usize, to: usize, msg: &Vec<Vec<Option<Factor>>>| -> Factor {
            let mut b = theta[from].clone();
            for &nb in &tree.neighbors[from] {
                if nb != to
                    && let Some(m) = &msg[nb][from]
                {
                    b.add_assign(m);
                }
            }
            b.logsumexp_to(&tree.separator(from, to))
        };
        // Collect (leaves to root), then distribute (root to leaves).
        for &(c, parent) in tree.order.iter().rev() {
            if let Some(p) = parent {
                msg[c][p] = Some(send(c, p, &msg));
            }
        }
        for &(c, parent) in &tree.order {
            if let Some(p) = parent {
                msg[p][c] = Some(send(p, c, &msg));
            }
        }
        let beliefs: Vec<Factor> = (0..k)
            .into_par_iter()
            .map(|c| {
                let mut b = theta[c].clone();
                for &nb in &tree.neighbors[c] {
                    if let Some(m) = &msg[nb][c] {
                        b.add_assign(m);
                    }
                }
                b
            })
            .collect();
        beliefs
            .into_par_iter()
            .map(|b| {
                let log_z = b.logsumexp_to(&[]).values[IxDyn(&[])];
                b.exp_scaled(log_z, self.total)
            })
            .collect()
    }

    /// `L(mu)` and its gradient with respect to each clique marginal.
    fn loss(&self, mu: &[Factor]) -> (f64, Vec<Factor>) {
        let parts: Vec<(f64, Factor)> = mu
            .par_iter()
            .enumerate()
            .map(|(c, mu_c)| {
                let mut grad = Factor {
                    attrs: mu_c.attrs.clone(),
                    values: ArrayD::zeros(IxDyn(&self.shape(&mu_c.attrs))),
                };
                let mut loss = 0.0;
                for &i in &self.groups[c] {
                    let m = &self.measurements[i];
                    let (l, g) = m.loss_and_gradient(&mu_c.sum_to(&m.attrs).to_vec());
                    loss += l;
                    grad.add_assign(&Factor::from_vec(&m.attrs, self.sizes, g));
                }
                (loss, grad)
            })
            .collect();
        let loss = parts.iter().map(|p| p.0).sum();
        (loss, parts.into_iter().map(|p| p.1).collect())
    }
}

/// Euclidean projection of `y` onto `{x >= 0, sum x = total}`: `x = max(y - lambda, 0)`
/// (Held, Wolfe & Crowder 1974; Duchi et al. 2008).
pub fn project_simplex(y: &[f64], total: f64) -> Vec<f64> {
    let mut s: Vec<f64> = y.to_vec();
    s.sort_unstable_by(|a, b| b.total_cmp(a));
    let (mut cum, mut lambda) = (0.0, (s[0] - total).max(f64::MIN));
    for (k, &v) in s.iter().enumerate() {
        cum += v;
        let l = (cum - total) / (k + 1) as f64;
        if v - l > 0.0 {
            lambda = l;
        } else {
            break;
        }
    }
    y.iter().map(|&v| (v - lambda).max(0.0)).collect()
}

/// Rake `t` to the 1-way tables `one` of its attributes (a few rounds of iterative
/// proportional fitting). Empty slices are filled evenly first so every target is reachable.
fn rake(t: &mut Factor, one: &[Vec<f64>], total: f64) {
    let attrs = t.attrs.clone();
    let cells = t.cells().max(1) as f64;
    for _ in 0..if attrs.len() > 1 { 20 } else { 1 } {
        for (k, &a) in attrs.iter().enumerate() {
            let current = t.sum_to(&[a]).to_vec();
            for (i, mut lane) in t.values.axis_iter_mut(ndarray::Axis(k)).enumerate() {
                let target = one[a][i];
                if current[i] > 0.0 {
                    let f = target / current[i];
                    lane.mapv_inplace(|v| v * f);
                } else if target > 0.0 {
                    let per = target / (cells / one[a].len() as f64);
                    lane.fill(per);
                }
            }
        }
    }
    let s: f64 = t.values.sum();
    if s > 0.0 {
        t.values.mapv_inplace(|v| v * total / s);
    }
}

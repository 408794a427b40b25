//! The audit: what the published cells reveal about each suppressed one (see the module
//! documentation of [`super`]).

use microlp::{ComparisonOp, OptimizationDirection, Problem};
use serde::Serialize;

use super::TableError;

/// What an intruder knows of one published cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Known {
    /// Published exactly.
    Exact(u64),
    /// Published rounded: the true count lies in `[low, high]`.
    Between(u64, u64),
    /// Suppressed.
    Unknown,
}

/// The feasible interval of a suppressed cell given everything published.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// The least value the cell can take.
    pub low: f64,
    /// The greatest (`None`: unbounded, nothing published limits it).
    pub high: Option<f64>,
}

impl Interval {
    /// Width of the interval (infinite when unbounded).
    pub fn width(&self) -> f64 {
        self.high.map_or(f64::INFINITY, |h| h - self.low)
    }
}

/// The feasible interval of each cell in `targets`: cell `c` is the sum of the joint cells
/// `members[c]`; `known[c]` is what is published of it; every joint cell is at least 0.
pub fn audit(
    joint_cells: usize,
    members: &[Vec<u32>],
    known: &[Known],
    targets: &[usize],
) -> Result<Vec<Interval>, TableError> {
    targets
        .iter()
        .map(|&t| {
            let low = solve(
                joint_cells,
                members,
                known,
                t,
                OptimizationDirection::Minimize,
            )?
            .ok_or_else(|| TableError::Audit("the minimum is unbounded".into()))?;
            let high = solve(
                joint_cells,
                members,
                known,
                t,
                OptimizationDirection::Maximize,
            )?;
            Ok(Interval {
                low: clean(low),
                high: high.map(clean),
            })
        })
        .collect()
}

/// Round away the simplex's floating-point noise (bounds are sums of published integers).
fn clean(x: f64) -> f64 {
    let r = x.round();
    if (x - r).abs() < 1e-6 { r } else { x }
}

/// Optimise the sum of `members[target]`; `None` when unbounded.
fn solve(
    joint_cells: usize,
    members: &[Vec<u32>],
    known: &[Known],
    target: usize,
    direction: OptimizationDirection,
) -> Result<Option<f64>, TableError> {
    let mut objective = vec![0.0; joint_cells];
    for &j in &members[target] {
        objective[j as usize] = 1.0;
    }
    let mut problem = Problem::new(direction);
    let vars: Vec<_> = objective
        .iter()
        .map(|&c| problem.add_var(c, (0.0, f64::INFINITY)))
        .collect();
    for (cell, k) in known.iter().enumerate() {
        let expr: Vec<_> = members[cell]
            .iter()
            .map(|&j| (vars[j as usize], 1.0))
            .collect();
        match *k {
            Known::Exact(v) => problem.add_constraint(expr, ComparisonOp::Eq, v as f64),
            Known::Between(lo, hi) => {
                problem.add_constraint(expr.clone(), ComparisonOp::Ge, lo as f64);
                problem.add_constraint(expr, ComparisonOp::Le, hi as f64);
            }
            Known::Unknown => {}
        }
    }
    match problem.solve() {
        Ok(s) => Ok(Some(s.objective())),
        Err(microlp::Error::Unbounded) => Ok(None),
        Err(e) => Err(TableError::Audit(e.to_string())),
    }
}

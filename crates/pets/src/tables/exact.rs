//! Exact secondary suppression: the cheapest suppression pattern that protects every small
//! cell, by an integer program solved with cut generation (combinatorial Benders cuts).
//!
//! **Master problem.** One binary `y_k` per class of published cells (cells that are the same
//! sum of joint cells in linked tables form one class and share their fate), minimising
//! `sum_k cost_k * y_k` ([`Cost`]). Primary cells are suppressed (constant 1).
//!
//! **Cuts**, each satisfied by *every* pattern that protects all primary cells, so the master
//! optimum is a lower bound on the best protecting pattern:
//!
//! - *line cuts* (added up front): a primary cell `p` that is the only suppressed cell on a
//!   line of its table (one column varying over its values and the `Total`, the others
//!   fixed) equals the line's total minus published cells, so its interval has width 0: at
//!   least one other cell of every line through `p` is suppressed;
//! - *no-good cuts* (added as the audit finds them): if the audit shows `p`'s feasible
//!   interval narrower than the protection level under pattern `S`, then under every
//!   `T ⊆ S` too (suppressing fewer cells only adds equalities to the intruder's linear
//!   program, so the interval can only shrink), hence every protecting pattern suppresses a
//!   cell outside `S`. `S` is first *lifted*: each published cell of `p`'s table whose extra
//!   suppression still leaves `p` under-protected is added to `S`, which strengthens the cut
//!   `sum_{k not in S} y_k >= 1`.
//!
//! Each round solves the master (microlp's branch and bound), audits the pattern with the
//! exact LP audit ([`super::audit`]) and adds a cut per under-protected primary cell. When
//! the audit passes, the pattern is protecting and no pattern is cheaper (it is optimal for a
//! relaxation of the true problem): the result is **optimal**. Every round excludes the
//! current pattern, so the loop ends; [`Limits`] caps rounds, classes and time, and the caller
//! falls back to the greedy heuristic with a warning when a cap is hit.

use std::time::{Duration, Instant};

use microlp::{ComparisonOp, OptimizationDirection, Problem};
use serde::{Deserialize, Serialize};

use super::TableError;
use super::audit::{Known, audit};

/// What the exact method minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cost {
    /// The number of cells suppressed (a cell shared by linked tables counts once per table).
    #[default]
    Cells,
    /// The total of the suppressed counts, plus one per cell (so an empty cell is not free).
    Value,
}

/// When the exact method gives up (and the greedy heuristic runs instead).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Rounds of master problem and audit.
    pub rounds: usize,
    /// Classes of published cells (binary variables).
    pub classes: usize,
    /// Wall-clock time, checked between solves (one solve is not interrupted).
    pub time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            rounds: 200,
            classes: 2_000,
            time: Duration::from_secs(30),
        }
    }
}

/// What the exact method found.
pub(super) enum Outcome {
    /// An optimal protecting pattern: the cells to suppress besides the primary ones.
    Optimal {
        secondary: Vec<usize>,
        rounds: usize,
        cuts: usize,
    },
    /// No pattern protects every primary cell (suppressing everything does not).
    Infeasible,
    /// A limit was hit; the reason.
    GaveUp(String),
}

/// The problem: cells as sums of joint cells, their true counts, which are primary, and
/// the lines of each primary cell's table through it.
pub(super) struct Model<'a> {
    pub joint_cells: usize,
    pub members: &'a [Vec<u32>],
    pub values: &'a [u64],
    /// Class of each cell (cells that are the same sum).
    pub class_of: &'a [usize],
    pub primary: &'a [bool],
    /// For each primary cell: the cells of its table (to lift cuts over) and its lines.
    pub table_cells: &'a dyn Fn(usize) -> Vec<usize>,
    pub lines: &'a dyn Fn(usize) -> Vec<Vec<usize>>,
    pub protection: u64,
}

pub(super) fn solve(p: &Model<'_>, cost: Cost, limits: Limits) -> Result<Outcome, TableError> {
    let start = Instant::now();
    let n = p.values.len();
    let n_classes = p.class_of.iter().copied().max().map_or(0, |m| m + 1);
    let mut class_cells: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for c in 0..n {
        class_cells[p.class_of[c]].push(c);
    }
    let fixed: Vec<bool> = class_cells
        .iter()
        .map(|cells| cells.iter().any(|&c| p.primary[c]))
        .collect();
    let free: Vec<usize> = (0..n_classes).filter(|&k| !fixed[k]).collect();
    if free.len() > limits.classes {
        return Ok(Outcome::GaveUp(format!(
            "{} published cells to choose among, more than the exact method's {}",
            free.len(),
            limits.classes
        )));
    }
    let class_cost: Vec<f64> = class_cells
        .iter()
        .map(|cells| match cost {
            Cost::Cells => cells.len() as f64,
            Cost::Value => cells.iter().map(|&c| p.values[c] as f64 + 1.0).sum(),
        })
        .collect();
    let primaries: Vec<usize> = (0..n).filter(|&c| p.primary[c]).collect();
    // One representative per primary class: twins have the same interval.
    let mut reps: Vec<usize> = Vec::new();
    let mut seen = vec![false; n_classes];
    for &c in &primaries {
        if !std::mem::replace(&mut seen[p.class_of[c]], true) {
            reps.push(c);
        }
    }

    // Cuts as sets of free classes of which at least one is suppressed.
    let mut cuts: Vec<Vec<usize>> = Vec::new();
    for &c in &reps {
        for line in (p.lines)(c) {
            let others: Vec<usize> = line.iter().copied().filter(|&x| x != c).collect();
            if others.iter().any(|&x| fixed[p.class_of[x]]) {
                continue;
            }
            let mut cut: Vec<usize> = others.iter().map(|&x| p.class_of[x]).collect();
            cut.sort_unstable();
            cut.dedup();
            cuts.push(cut);
        }
    }
    let known_of = |suppressed: &[bool]| -> Vec<Known> {
        (0..n)
            .map(|c| {
                if suppressed[p.class_of[c]] {
                    Known::Unknown
                } else {
                    Known::Exact(p.values[c])
                }
            })
            .collect()
    };
    let narrow = |known: &[Known], c: usize| -> Result<bool, TableError> {
        let i = audit(p.joint_cells, p.members, known, &[c])?[0];
        Ok(i.width() + 1e-9 < p.protection as f64)
    };

    for round in 1..=limits.rounds {
        if start.elapsed() > limits.time {
            return Ok(Outcome::GaveUp(format!(
                "no optimal pattern within {} s ({} rounds, {} cuts)",
                limits.time.as_secs(),
                round - 1,
                cuts.len()
            )));
        }
        let mut master = Problem::new(OptimizationDirection::Minimize);
        let mut var = vec![None; n_classes];
        for &k in &free {
            var[k] = Some(master.add_binary_var(class_cost[k]));
        }
        for cut in &cuts {
            let expr: Vec<_> = cut
                .iter()
                .filter_map(|&k| var[k])
                .map(|v| (v, 1.0))
                .collect();
            if expr.is_empty() {
                return Ok(Outcome::Infeasible);
            }
            master.add_constraint(expr, ComparisonOp::Ge, 1.0);
        }
        let solution = match master.solve() {
            Ok(s) => s,
            Err(microlp::Error::Infeasible) => return Ok(Outcome::Infeasible),
            Err(e) => return Err(TableError::Audit(format!("exact suppression: {e}"))),
        };
        let mut suppressed = fixed.clone();
        for &k in &free {
            if let Some(v) = var[k] {
                suppressed[k] = solution.var_value(v).round() >= 1.0;
            }
        }
        let known = known_of(&suppressed);
        let mut added = 0;
        for &c in &reps {
            if !narrow(&known, c)? {
                continue;
            }
            // Lift: suppress each further cell of c's table that still leaves c narrow.
            let mut lifted = suppressed.clone();
            for x in (p.table_cells)(c) {
                let k = p.class_of[x];
                if lifted[k] {
                    continue;
                }
                lifted[k] = true;
                if !narrow(&known_of(&lifted), c)? {
                    lifted[k] = false;
                }
                if start.elapsed() > limits.time {
                    break;
                }
            }
            let cut: Vec<usize> = free.iter().copied().filter(|&k| !lifted[k]).collect();
            if cut.is_empty() {
                return Ok(Outcome::Infeasible);
            }
            cuts.push(cut);
            added += 1;
        }
        if added == 0 {
            let secondary = (0..n)
                .filter(|&c| !fixed[p.class_of[c]] && suppressed[p.class_of[c]])
                .collect();
            return Ok(Outcome::Optimal {
                secondary,
                rounds: round,
                cuts: cuts.len(),
            });
        }
    }
    Ok(Outcome::GaveUp(format!(
        "no optimal pattern within {} rounds ({} cuts)",
        limits.rounds,
        cuts.len()
    )))
}

//! AIM: workload-adaptive marginal synthesis (McKenna, Mullins, Sheldon & Miklau 2022, "AIM:
//! An Adaptive and Iterative Mechanism for Differentially Private Synthetic Data", PVLDB
//! 15(11); the reference is private-pgm's `mechanisms/aim.py`).
//!
//! AIM measures the marginals a **workload** needs (default: every 3-way marginal of the
//! modelled columns), choosing one at a time where the current model is worst, and
//! re-estimates the model ([`crate::inference`]) after each measurement.
//!
//! **Budget.** `rho = cdp_rho(epsilon, delta)` (as MST). With `T` rounds planned
//! ([`AimOptions::rounds`], default `16 d` for `d` columns), a round costs `rho / T`: 90% for
//! the measurement (the paper's `sigma = sqrt(T / (2 * 0.9 rho))` at sensitivity one, i.e.
//! `rho_meas = 0.9 rho / T`) and 10% for the selection (`epsilon = sqrt(8 * 0.1 rho / T)`,
//! `rho_sel = epsilon^2 / 8 = 0.1 rho / T`).
//!
//! 0. **MST's tree first** ([`AimOptions::tree_share`], default 1/2 of rho; `0` skips it and
//!    step 1 is the paper's): MST's steps 1-3 ([`crate::mst`], the same code) on that share,
//!    split as MST splits its budget (a tenth choosing the tree, the rest equally between the
//!    1-ways and the tree's pairs): the noisy 1-ways (shared by size or equally, as in step
//!    1; compressed as MST's by default), then a maximum spanning tree of pairs over the
//!    workload's columns (not the identifier-like; only pairs some workload entry holds
//!    together, so with a user's few entries it is a spanning forest of their pairs:
//!    `MstBudget::only_pairs`), each edge chosen by the exponential mechanism on MST's
//!    score (the L1 error of the independent estimate above the pairs' noise, no size
//!    penalty), and each edge's 2-way marginal measured. The paper's penalty `sqrt(2/pi) sigma n_r` is the
//!    noise on a dense table; on a large sparse one (postcode district x provider: 616k
//!    cells, ~11k occupied) it exceeds `2N` for any usable sigma, so the rounds alone never
//!    measure it, while the estimator's non-negativity removes most of its noise. On 1M
//!    generated A&E rows (epsilon 1) the 3-way workload error fell from 0.079 to ~0.05 (MST
//!    0.072; `benches/README.md`). The rounds then run on what is left, and may grow the
//!    model by `max_model_cells * rho_used / rho` cells beyond the tree's junction tree.
//! 1. Without the tree, every 1-way marginal is measured, together at the paper's `d
//!    rho_meas` (`d` columns), shared among the columns by size (`rho_i ~ min(codes_i,
//!    256)^(2/3)`, MST's [`crate::mst::shares`]; [`AimOptions::size_weighted_shares`],
//!    default) or equally, each at `rho_meas` (the paper's), optionally with MST's
//!    compression of rare values from the noisy counts ([`crate::compress`]: never here, see
//!    [`AimOptions::compress`]); the
//!    model is estimated from them. The total, and so every later round, is the paper's;
//!    only its split among the columns differs (see the option for why).
//! 2. Each round, while the budget left is at least two rounds' cost (else the round spends
//!    exactly what is left, 90/10, and is the last):
//!    - **candidates**: the workload's cliques and their downward closure, each weighted by
//!      `w_r = sum_{W in workload} |r n W|` (the reference's `compile_workload`), kept when
//!      the junction tree of the model's cliques plus `r` has at most
//!      `max_model_cells * rho_used / rho` cells (`rho_used` including this round; the
//!      reference's `hypothetical_model_size` with its 80 MB as cells), or when `r` already
//!      lies in a clique of the model;
//!    - **selection** by the exponential mechanism ([`Selection`], OpenDP's, at `rho_sel`)
//!      on the score `w_r (||M_r(p_hat) - M_r(D)||_1 - sqrt(2/pi) sigma n_r)` ([`aim_score`],
//!      `n_r` its cells, `sigma` this round's noise), sensitivity `max_r w_r` a row;
//!    - **measurement** of the chosen marginal with the Gaussian mechanism at `rho_meas`;
//!    - **re-estimation**, warm-started from the previous model ([`estimate_warm`]), raked
//!      to the new measurement (one exact IPF step to its non-negative least-squares table)
//!      and then a bounded number of iterations ([`AimOptions::round_estimation`]). The
//!      paper re-estimates to convergence (the reference: 1,000 iterations a round); with
//!      the bounds alone a new sparse table stayed far from its fit (postcode district x
//!      IMD decile on 1M rows: L1 error 790k after measuring, ~115k converged), so the
//!      annealing test read "taught little" and the table was measured again;
//!    - **annealing**: if the model's marginal on `r` moved by at most the expected noise,
//!      `||M_r(p_new) - M_r(p_old)||_1 <= sqrt(2/pi) sigma n_r`, the measurement taught
//!      little: `sigma` halves and `epsilon` doubles (`rho_meas` and `rho_sel` four times).
//! 3. A final estimation, warm-started, with a larger inference budget
//!    ([`AimOptions::estimation`], up to the reference's 2,500 iterations).
//!
//! Every release goes through one [`Session`], which charges before drawing; the ledger sums
//! to `rho` (never above it). Decisions use declared sizes, released values and the model
//! (post-processing) only. Privacy is per record, or per person with [`Bounded`] (at most
//! `m` rows a person: every marginal's L2 sensitivity and every score's sensitivity times
//! `m`). Columns with more than `max_pair_values` declared values are identifier-like (as
//! MST's): measured 1-way, kept out of the default workload.
//!
//! **Size limits** (pets' engine): `max_model_cells` (default `2^20` cells, 8 MiB of `f64`;
//! the reference allows 80 MB) bounds the model, and so each mirror-descent iteration and
//! the sampler's tables; a candidate with more cells than that is never counted. A round
//! estimates its candidates' marginals with one [`crate::inference::Projector`] of the
//! model: variable elimination rooted where it is cheapest, pairwise products, each
//! clique's conditional computed once for all candidates (one root and one product of
//! everything per candidate was 75% of a 100k-row every-column fit, 104 CPU-s; now about a
//! quarter of that). A candidate whose every plan needs an intermediate table above the
//! round's model-size limit (at least `2^16` cells) sits out the round (a public decision:
//! it depends on the model and the plan only).

use std::collections::BTreeMap;

use pets::data::{EncodedColumn, EncodedTable};
use pets::dp::bounding::Bounded;
use pets::dp::mechanisms::{DiscreteGaussian, Selection};
use pets::dp::{Cost, QueryRecord, Session};
use pets::progress::Progress;
use rayon::prelude::*;

use crate::compress::Compression;
use crate::counts::Rows;
use crate::error::{Result, SynthError};
use crate::inference::{EstimationOptions, JunctionTree, Measurement, Projector, estimate_warm};
use crate::measure::{count_mapped, measure_gaussian};
use crate::model::{FittedTables, MODEL_FORMAT, MODEL_VERSION, NoisyMarginal, SynthModel};
use crate::mst::{
    MstBudget, TreeSettings, cdp_rho, measure_one_ways, score_grid, synthesis_columns, tree_step,
};

/// Settings of [`fit_aim`].
#[derive(Debug, Clone, PartialEq)]
pub struct AimOptions {
    /// Target epsilon of (epsilon, delta)-DP.
    pub epsilon: f64,
    /// Target delta.
    pub delta: f64,
    /// The workload: marginals (column names, of the synthesised columns) whose accuracy
    /// matters. Empty: every 3-way marginal of the columns that are not identifier-like
    /// (every 2-way or 1-way if there are fewer than three).
    pub workload: Vec<Vec<String>>,
    /// Rounds `T` the budget is planned for (the paper's `16 d`, `d` the columns, when
    /// `None`). Annealing makes rounds costlier, so fewer are run. At least `d`.
    pub rounds: Option<usize>,
    /// Largest model (total cells of the junction tree's cliques) once the whole budget is
    /// spent; after a share `s` of rho, `s` times this. Default `2^20`.
    pub max_model_cells: u64,
    /// Columns with more declared codes than this are identifier-like: measured 1-way,
    /// never in the default workload (as [`crate::MstOptions::max_pair_values`]). Default
    /// 4,096.
    pub max_pair_values: u32,
    /// Merge values with noisy 1-way counts below `3 sigma` (MST's compression), **with the
    /// tree start only**. On by default: the tree start's ([`AimOptions::tree_share`])
    /// 1-ways get MST's split of its share (`0.45 tree_share` of rho: sigma 21 for postcode
    /// district at epsilon 1 on 12 columns); merging removes the empty districts from the
    /// tree's widest pair (616k to ~380k cells at 1M rows), and on generated A&E (100k,
    /// epsilon 0.3-3) and SynAE it lowered or kept the 3-way TVD and the time
    /// (`benches/README.md`). With `tree_share = 0` (the paper's AIM) nothing is merged,
    /// whatever this says: its 1-ways get only `0.9 d / T` of rho (sigma 84), and merging at
    /// `3 sigma` lost for good the values later rounds could re-measure (100k A&E rows,
    /// epsilon 1: 1-way TVD 0.012 -> 0.034, 3-way 0.154 -> 0.187).
    pub compress: bool,
    /// Share the 1-way marginals' budget (`d rho_meas`, the paper's total) by size as MST
    /// does ([`crate::mst::shares`]: `min(codes, 256)^(2/3)`, the Lagrange optimum of their
    /// total L1 error) instead of equally (the paper's). Default on.
    pub size_weighted_shares: bool,
    /// Share of rho spent, before the rounds, on MST's first steps
    /// ([`crate::mst`], steps 1-3, through the same code): that share split as MST splits
    /// its budget ([`MST_TREE_SELECTION_SHARE`] of it choosing a maximum spanning tree of
    /// pairs by the exponential mechanism on MST's score, the rest equally between the noisy
    /// 1-ways, shared by size or equally as [`AimOptions::size_weighted_shares`] says, and
    /// the tree's noisy 2-way marginals; the tree spans the workload's columns that are not
    /// identifier-like, joining only columns a workload entry holds together), replacing the paper's initial step (the 1-ways at
    /// `0.9 d rho / T`). The rounds then run as the paper's on what is left. `0` is the
    /// paper's AIM. Why: MST's tree score has no size penalty, so it measures sparse wide
    /// pairs (postcode district x provider: 616k cells, ~11k occupied) that AIM's score,
    /// whose penalty `sqrt(2/pi) sigma n_r` exceeds `2N` at any usable sigma, can never
    /// choose, while the estimator's non-negativity removes most of their noise. The tree
    /// joins every column the workload names, so with a workload of a few marginals it may
    /// measure pairs outside it (`[["acuity", "admitted"], ["age_band"]]`: a pair with
    /// `age_band`); give `0` there if only the workload's marginals should be measured.
    /// Candidates
    /// in a round may then grow the model by `max_model_cells * rho_used / rho` cells
    /// beyond the tree's junction tree (public: declared sizes and released choices).
    pub tree_share: f64,
    /// Inference after each round, warm-started from the previous round's model. Default:
    /// a work budget of `1e6` clique-cell iterations, 3 to 50 iterations.
    pub round_estimation: EstimationOptions,
    /// The final inference, warm-started from the last round's model. Default: a work
    /// budget of `5e7` clique-cell iterations ([`AIM_FINAL_WORK_BUDGET`]), 20 to 2,500
    /// iterations (the reference's `engine.iters = 2500`). Post-processing: no budget.
    pub estimation: EstimationOptions,
}

/// Share of [`AimOptions::tree_share`]'s budget that chooses the tree: MST's default
/// ([`crate::MstOptions::selection_share`]).
pub const MST_TREE_SELECTION_SHARE: f64 = 0.1;

/// Cells a candidate's variable elimination may always use (see [`fit_aim_bounded_with`]).
pub const PROJECT_MIN_CELLS: u64 = 1 << 16;

/// AIM's default [`AimOptions::tree_share`]: half of rho. Chosen between 1/3 and 1/2 on
/// the benches of `benches/README.md` (generated A&E at 100k and 1M rows, SynAE, epsilon
/// 0.3-3), one or two fits each: 1/2 was better or equal in each, most at epsilon 0.3.
pub const AIM_TREE_SHARE: f64 = 0.5;

/// Largest table a pair of AIM's tree start may have ([`crate::MstOptions::max_pair_cells`]'s
/// default).
pub const AIM_TREE_MAX_PAIR_CELLS: u64 = 1 << 22;

/// AIM's default work budget of each round's warm-started inference (clique-cell
/// iterations).
pub const AIM_ROUND_WORK_BUDGET: f64 = 1e6;

/// AIM's default work budget of the final inference (clique-cell iterations): ten times
/// MST's ([`crate::mst::MST_WORK_BUDGET`]). AIM's models are small (about 15k-60k cells on
/// 100k-1M A&E rows, against MST's 130k-440k), so this buys the reference's 2,500
/// iterations on small models and about 850 on a 60k-cell one; on 1M generated A&E rows
/// (12 columns, epsilon 1) it lowered the 3-way TVD from 0.0833 to 0.0791 and the 1-way
/// from 0.0041 to 0.0022, for 6 CPU-s more. Ten times the rounds' budget as well changed
/// nothing more.
pub const AIM_FINAL_WORK_BUDGET: f64 = 5e7;

impl AimOptions {
    /// AIM at (epsilon, delta) with the paper's rounds, MST's tree first on half of rho
    /// ([`AIM_TREE_SHARE`]), compression, the default 3-way workload and bounded inference.
    pub fn new(epsilon: f64, delta: f64) -> AimOptions {
        AimOptions {
            epsilon,
            delta,
            workload: Vec::new(),
            rounds: None,
            max_model_cells: 1 << 20,
            max_pair_values: 4_096,
            compress: true,
            size_weighted_shares: true,
            tree_share: AIM_TREE_SHARE,
            round_estimation: EstimationOptions {
                max_iters: 50,
                work_budget: Some(AIM_ROUND_WORK_BUDGET),
                min_iters: 3,
                ..EstimationOptions::default()
            },
            estimation: EstimationOptions {
                max_iters: 2500,
                work_budget: Some(AIM_FINAL_WORK_BUDGET),
                min_iters: 20,
                ..EstimationOptions::default()
            },
        }
    }

    /// Check every option that does not need the table (before any data are read).
    pub fn validate(&self) -> Result<()> {
        cdp_rho(self.epsilon, self.delta)?;
        if self.rounds == Some(0) {
            return Err(SynthError::invalid(
                "rounds",
                0,
                "give at least as many rounds as columns (default 16 per column)",
            ));
        }
        if !(0.0..1.0).contains(&self.tree_share) {
            return Err(SynthError::invalid(
                "tree_share",
                self.tree_share,
                "give a share of the budget at least 0 (0: the paper's AIM) and below 1, e.g. 0.33",
            ));
        }
        if self.max_model_cells < 2 {
            return Err(SynthError::invalid(
                "max_model_cells",
                self.max_model_cells,
                "it must be at least 2 (default 1048576)",
            ));
        }
        for (i, w) in self.workload.iter().enumerate() {
            if w.is_empty() {
                return Err(SynthError::invalid(
                    "workload",
                    format!("entry {}", i + 1),
                    "each workload entry names one or more columns, e.g. [\"age\", \"sex\"]",
                ));
            }
            for (j, c) in w.iter().enumerate() {
                if w[..j].contains(c) {
                    return Err(SynthError::invalid(
                        "workload",
                        c,
                        format!("entry {} names this column twice", i + 1),
                    ));
                }
            }
        }
        for (name, e) in [
            ("round_estimation", &self.round_estimation),
            ("estimation", &self.estimation),
        ] {
            if e.max_iters == 0 {
                return Err(SynthError::invalid(
                    "max_iters",
                    format!("0 ({name})"),
                    "at least one iteration is needed",
                ));
            }
        }
        Ok(())
    }
}

/// A workload from JSON text: a list of lists of column names, e.g.
/// `[["age_band", "acuity", "admitted"], ["sex"]]` (what `pets synth fit --workload FILE`
/// reads). The names are checked against the synthesised columns when the fit runs.
pub fn parse_workload(json: &str) -> Result<Vec<Vec<String>>> {
    serde_json::from_str(json).map_err(|e| {
        SynthError::invalid(
            "workload",
            json.chars().take(60).collect::<String>(),
            format!(
                "give a JSON list of lists of column names, e.g. [[\"age_band\", \"acuity\", \
                 \"admitted\"], [\"sex\"]] ({e})"
            ),
        )
    })
}

/// The candidates of a workload: its cliques and every non-empty subset of one (the
/// downward closure), each with the weight `w_r = sum_{W in workload} |r n W|` (how many of
/// the workload's attributes a measurement of `r` informs), as private-pgm's
/// `compile_workload`. Sorted by size, then attributes.
pub fn workload_candidates(workload: &[Vec<usize>]) -> Vec<(Vec<usize>, u64)> {
    let mut closure: BTreeMap<(usize, Vec<usize>), u64> = BTreeMap::new();
    for w in workload {
        let mut w = w.clone();
        w.sort_unstable();
        w.dedup();
        for mask in 1u64..(1 << w.len().min(16)) {
            let r: Vec<usize> = (0..w.len())
                .filter(|b| mask & (1 << b) != 0)
                .map(|b| w[b])
                .collect();
            closure.insert((r.len(), r), 0);
        }
    }
    for ((_, r), weight) in closure.iter_mut() {
        *weight = workload
            .iter()
            .map(|w| r.iter().filter(|a| w.contains(a)).count() as u64)
            .sum();
    }
    closure.into_iter().map(|((_, r), w)| (r, w)).collect()
}

/// AIM's quality score of a candidate marginal, in counts:
///
/// ```text
/// score = w (sum_i |x_i - e_i| - penalty)
/// ```
///
/// with `x` its true counts (row-major), `e` the model's estimate (public: post-processing
/// of released values), `w` its workload weight and `penalty = sqrt(2/pi) sigma n_r` (public).
///
/// **Sensitivity `w` a row, as computed** (at most `max_weight`, the largest weight among the
/// candidates it is compared with). On the grid `2^-j` (`j <= 20`, from public numbers:
/// [`aim_score_grid`]) every count is exact; the public `e` and `penalty` are truncated to
/// the grid. The L1 sum is exact (`i128`) and moves by at most `2^j` units per row; it is
/// saturated at `2^52` units, the penalty subtracted, the difference clamped to `+-2^53 /
/// max_weight` units (each a 1-Lipschitz map), multiplied by `w` exactly and converted to
/// `f64` without rounding (at most `2^53`), then scaled by `2^-j` exactly. Proof:
/// [`crate::proofs::aim_selection`].
pub fn aim_score(
    x: &[u32],
    e: &[f64],
    weight: u64,
    penalty: f64,
    grid: i32,
    max_weight: u64,
) -> f64 {
    score_cells(x, e, weight, penalty, grid, max_weight)
}

/// [`aim_score`] over counts of any unsigned width (the same integers, the same sums).
fn score_cells<T: Copy + Into<u32>>(
    x: &[T],
    e: &[f64],
    weight: u64,
    penalty: f64,
    grid: i32,
    max_weight: u64,
) -> f64 {
    let grid = grid.clamp(0, 20);
    let scale = f64::from(1u32 << grid);
    // Public numbers to the grid (truncation; `as` saturates and maps NaN to 0).
    let public = |v: f64| i128::from(((v * scale) as i64).clamp(-(1i64 << 61), 1i64 << 61));
    let mut acc: i128 = 0;
    for (&xi, &ei) in x.iter().zip(e) {
        acc += ((i128::from(xi.into()) << grid) - public(ei)).abs();
    }
    let cap = 1i128 << 52;
    let k = (1i128 << 53) / i128::from(max_weight.max(1));
    let units = (acc.min(cap) - public(penalty).clamp(-cap, cap)).clamp(-k, k)
        * i128::from(weight.min(max_weight));
    units as f64 / scale
}

/// A candidate's exact counts (row-major), each table in the narrowest unsigned type that
/// holds its largest count, saturated at `u32::MAX`: at 1M rows and every column the
/// candidates hold ~100M cells, most of them under 256. They never leave the fit except
/// through [`aim_score`] and the Gaussian measurement of the chosen one.
enum TrueCounts {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
}

impl TrueCounts {
    fn new(counts: Vec<u64>) -> TrueCounts {
        let max = counts.iter().copied().max().unwrap_or(0);
        if u8::try_from(max).is_ok() {
            TrueCounts::U8(counts.into_iter().map(|c| c as u8).collect())
        } else if u16::try_from(max).is_ok() {
            TrueCounts::U16(counts.into_iter().map(|c| c as u16).collect())
        } else {
            TrueCounts::U32(
                counts
                    .into_iter()
                    .map(|c| u32::try_from(c).unwrap_or(u32::MAX))
                    .collect(),
            )
        }
    }

    /// [`aim_score`] of these counts.
    fn score(&self, e: &[f64], weight: u64, penalty: f64, grid: i32, max_weight: u64) -> f64 {
        match self {
            TrueCounts::U8(x) => score_cells(x, e, weight, penalty, grid, max_weight),
            TrueCounts::U16(x) => score_cells(x, e, weight, penalty, grid, max_weight),
            TrueCounts::U32(x) => score_cells(x, e, weight, penalty, grid, max_weight),
        }
    }

    fn to_u64(&self) -> Vec<u64> {
        match self {
            TrueCounts::U8(x) => x.iter().map(|&c| u64::from(c)).collect(),
            TrueCounts::U16(x) => x.iter().map(|&c| u64::from(c)).collect(),
            TrueCounts::U32(x) => x.iter().map(|&c| u64::from(c)).collect(),
        }
    }
}

/// The score grid exponent of a round, from public numbers: `mst::score_grid` of the largest
/// weighted magnitude (`max(total, penalty) * max_weight`), so unsaturated scores stay
/// below `2^53` units.
pub fn aim_score_grid(total: f64, max_penalty: f64, max_weight: u64) -> i32 {
    let w = max_weight.max(1) as f64;
    score_grid(total * w, 0.0, max_penalty * w)
}

/// Fit AIM to the encoded `table` over `columns` (when empty, every encoded column that is
/// not a direct identifier), with row-level privacy. As [`crate::fit_mst`], the table's
/// domains are used as they are; [`crate::FitJob`] prepares them.
pub fn fit_aim(table: &EncodedTable, columns: &[&str], opts: &AimOptions) -> Result<SynthModel> {
    fit_aim_bounded_with(
        table,
        columns,
        opts,
        &Bounded::row_level(table.n_rows()),
        &Progress::none(),
    )
}

/// One round's budget: the planned rho of its measurement and of its selection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoundBudget {
    /// zCDP rho of the measurement (`1 / (2 sigma^2)` at sensitivity one).
    pub measure: f64,
    /// zCDP rho of the selection (`epsilon^2 / 8`).
    pub select: f64,
}

impl RoundBudget {
    /// The paper's first round: `rho / T`, 90% measuring and 10% selecting.
    pub fn initial(rho: f64, rounds: usize) -> RoundBudget {
        let per = rho / rounds as f64;
        RoundBudget {
            measure: (0.9 * per).next_down(),
            select: (0.1 * per).next_down(),
        }
    }

    /// The whole of `remaining`, 90/10 (the last round), rounded down.
    pub fn last(remaining: f64) -> RoundBudget {
        let select = (0.1 * remaining).next_down();
        RoundBudget {
            measure: (remaining - select).next_down().next_down().max(0.0),
            select,
        }
    }

    /// Annealing: `sigma / 2` and `epsilon * 2`, i.e. four times each rho.
    pub fn annealed(self) -> RoundBudget {
        RoundBudget {
            measure: 4.0 * self.measure,
            select: 4.0 * self.select,
        }
    }

    /// The round's planned cost.
    pub fn total(self) -> f64 {
        self.measure + self.select
    }
}

/// Total cells of the junction tree covering `cliques` (`None` if it cannot be built).
fn model_cells(sizes: &[usize], names: &[String], cliques: &[Vec<usize>]) -> Option<u128> {
    let tree = JunctionTree::build(sizes, names, cliques, u64::MAX).ok()?;
    Some(
        tree.cliques
            .iter()
            .map(|c| c.iter().map(|&a| sizes[a] as u128).product::<u128>())
            .sum(),
    )
}

/// [`fit_aim`] on the rows `bounded` keeps (person-level privacy: every marginal has L2
/// sensitivity `m` and every score `m w_max`), reporting to `progress` and stopping when
/// asked between rounds (nothing measured so far is released).
pub fn fit_aim_bounded_with(
    table: &EncodedTable,
    columns: &[&str],
    opts: &AimOptions,
    bounded: &Bounded,
    progress: &Progress,
) -> Result<SynthModel> {
    progress.check()?;
    opts.validate()?;
    let rho = cdp_rho(opts.epsilon, opts.delta)?;
    let contribution = bounded.contribution().clone();
    let m = f64::from(contribution.max_rows_per_person);
    let owned = synthesis_columns(table, columns, bounded)?;
    let cols: Vec<&EncodedColumn> = owned.iter().map(|c| c.as_ref()).collect();
    let names: Vec<String> = cols.iter().map(|c| c.name().to_string()).collect();
    let d = cols.len();
    let workload = resolve_workload(opts, &cols, &names)?;
    let rounds = opts.rounds.unwrap_or(16 * d);
    if rounds < d {
        return Err(SynthError::invalid(
            "rounds",
            rounds,
            format!("give at least as many rounds as columns ({d}); the default is 16 per column"),
        ));
    }
    progress.stage("measuring", None, "rounds");
    let mut session = Session::zcdp(rho)?.with_conversion_delta(opts.delta)?;
    let mut budget = RoundBudget::initial(rho, rounds);

    // 1. Noisy 1-way marginals (all of the budget when there is no workload to adapt to),
    // and with `tree_share`, MST's tree of pairs: MST's steps 1-3 on that share of rho.
    // The tree joins only columns that a workload entry holds together, neither of them
    // identifier-like (public: the workload and declared sizes): a maximum spanning
    // forest of those pairs (the default workload holds every pair, so it spans them all).
    let tree_plan = if opts.tree_share > 0.0 && !workload.is_empty() {
        let pairable: Vec<bool> = (0..d)
            .map(|i| {
                cols[i].codebook.cardinality() <= opts.max_pair_values
                    && workload.iter().any(|w| w.contains(&i))
            })
            .collect();
        let together: Vec<(usize, usize)> = workload
            .iter()
            .flat_map(|w| {
                w.iter()
                    .flat_map(move |&a| w.iter().filter(move |&&b| a < b).map(move |&b| (a, b)))
            })
            .collect();
        let b = MstBudget::only_pairs(
            (opts.tree_share * rho).next_down(),
            pairable,
            together,
            MST_TREE_SELECTION_SHARE,
        )?;
        (b.rounds > 0).then_some(b)
    } else {
        None
    };
    let rho1 = match &tree_plan {
        Some(b) => b.rho1,
        None if workload.is_empty() => rho,
        None => (budget.measure * d as f64).min(rho),
    };
    let (mut measurements, compression) = measure_one_ways(
        &mut session,
        "aim",
        &cols,
        &Rows(&cols),
        &names,
        rho1,
        opts.size_weighted_shares,
        opts.compress && tree_plan.is_some(),
        &contribution,
    )?;
    let mut tree_edges: Vec<(usize, usize)> = Vec::new();
    if let Some(b) = &tree_plan {
        let settings = TreeSettings {
            max_pair_cells: AIM_TREE_MAX_PAIR_CELLS,
            score_threshold: 1.0,
            noise_penalty: false,
            size_weighted_shares: opts.size_weighted_shares,
            sparse_delta: None,
        };
        let (edges, pairs) = tree_step(
            &mut session,
            "aim",
            &Rows(&cols),
            &names,
            &measurements,
            &compression,
            b,
            &settings,
            &contribution,
        )?;
        tree_edges = edges;
        measurements.extend(pairs);
    }
    let sizes: Vec<usize> = compression.iter().map(Compression::size).collect();
    let maps: Vec<Vec<u32>> = compression.iter().map(Compression::forward_map).collect();
    let cells = |r: &[usize]| -> u128 { r.iter().map(|&a| sizes[a] as u128).product() };

    // Candidates (public: the workload and compressed sizes), and their true counts.
    let candidates: Vec<(Vec<usize>, u64)> = workload_candidates(&workload)
        .into_iter()
        .filter(|(r, _)| r.len() == 1 || cells(r) <= u128::from(opts.max_model_cells))
        .collect();
    let answers: Vec<TrueCounts> = candidates
        .par_iter()
        .map(|(r, _)| {
            let spec: Vec<(&[u32], &[u32], usize)> = r
                .iter()
                .map(|&a| (cols[a].codes.as_slice(), maps[a].as_slice(), sizes[a]))
                .collect();
            TrueCounts::new(count_mapped(&spec))
        })
        .collect();

    let as_measurements = |ms: &[NoisyMarginal]| -> Vec<Measurement> {
        ms.iter().map(|m| m.measurement.clone()).collect()
    };
    let quiet = Progress::none();
    let (mut model, _, mut warm) = estimate_warm(
        &sizes,
        &names,
        &as_measurements(&measurements),
        &[],
        None,
        &opts.round_estimation,
        &quiet,
    )?;

    // The tree's model (public: released choices and compressed sizes) is AIM's starting
    // size; the rounds may add `max_model_cells * rho_used / rho` to it.
    let base_cells = if tree_plan.is_some() {
        model
            .tree
            .cliques
            .iter()
            .map(|c| c.iter().map(|&a| sizes[a] as f64).product::<f64>())
            .sum::<f64>()
    } else {
        0.0
    };

    // 2. Rounds.
    let mut used = tree_plan.as_ref().map_or(rho1, |b| b.rho);
    let mut selected: Vec<Vec<usize>> = tree_edges.iter().map(|&(a, b)| vec![a, b]).collect();
    let n_tree = selected.len();
    let mut annealed = 0usize;
    let mut last = candidates.is_empty();
    let sqrt_2_pi = (2.0 / std::f64::consts::PI).sqrt();
    let mut round = 0u64;
    while !last {
        progress.advance(round)?;
        round += 1;
        if rho - used < 2.0 * budget.total() {
            budget = RoundBudget::last(session.remaining().main());
            last = true;
        }
        used += budget.total();
        let sigma = DiscreteGaussian::for_rho(m, budget.measure)?.scale();
        let size_limit = base_cells + opts.max_model_cells as f64 * (used / rho).min(1.0);
        // Estimating a candidate no clique holds (variable elimination) may take tables
        // up to the round's model size (at least 2^16 cells): public, from the plan.
        let project_cap = (size_limit as u64).max(PROJECT_MIN_CELLS);
        let tree = &model.tree;
        let projector = Projector::new(&model);
        // Candidates that fit the model's size limit and whose estimate fits the projection
        // cap (public: the model's structure and the plan). Their estimates are formed
        // one at a time as each is scored, never all held at once (at 1M rows, every
        // column, the candidates hold ~100M cells).
        let scored: Vec<usize> = (0..candidates.len())
            .into_par_iter()
            .filter(|&i| {
                let r = &candidates[i].0;
                if tree.clique_containing(r).is_some() {
                    return true;
                }
                let mut with: Vec<Vec<usize>> = tree.cliques.clone();
                with.push(r.clone());
                match model_cells(&sizes, &names, &with) {
                    Some(c) if c as f64 <= size_limit => projector.fits(r, project_cap),
                    _ => false,
                }
            })
            .collect();
        let estimate = |r: &[usize]| -> Vec<f64> {
            projector
                .project(r, project_cap)
                .expect("the candidate fits the projection cap")
                .values
                .iter()
                .map(|v| v * model.total)
                .collect()
        };
        if scored.is_empty() {
            // Not reached: every 1-way candidate lies in a clique of the model.
            return Err(SynthError::invalid(
                "workload",
                round,
                "no candidate marginal fits the model in this round; raise max_model_cells",
            ));
        }
        let max_weight = scored
            .iter()
            .map(|&i| candidates[i].1)
            .max()
            .unwrap_or(1)
            .max(1);
        let max_penalty = scored
            .iter()
            .map(|&i| sqrt_2_pi * sigma * cells(&candidates[i].0) as f64)
            .fold(0.0, f64::max);
        let grid = aim_score_grid(model.total, max_penalty, max_weight);
        let scores: Vec<f64> = scored
            .par_iter()
            .map(|&i| {
                let (r, w) = &candidates[i];
                let penalty = sqrt_2_pi * sigma * cells(r) as f64;
                answers[i].score(&estimate(r), *w, penalty, grid, max_weight)
            })
            .collect();
        let sel = Selection::for_cost(
            m * max_weight as f64,
            false,
            scores.len(),
            &Cost::rho(budget.select),
        )?;
        let rel = session.release(
            &sel,
            &scores,
            QueryRecord::new(
                format!(
                    "aim: round {round}: select the worst-estimated marginal (weighted L1 \
                     error of the model minus the expected noise sqrt(2/pi) sigma cells, \
                     sigma = {sigma:.1}; {} candidates)",
                    scores.len()
                ),
                names.clone(),
                contribution.clone(),
            ),
        )?;
        let i = &scored[rel.value];
        // The chosen candidate's estimate again, as it was scored (same model, same plan).
        let before = estimate(&candidates[*i].0);
        let r = candidates[*i].0.clone();
        let cols_named: Vec<String> = r.iter().map(|&a| names[a].clone()).collect();
        let counts: Vec<u64> = answers[*i].to_u64();
        let noisy = measure_gaussian(
            &mut session,
            &format!("aim: round {round}: marginal of {}", cols_named.join(" x ")),
            &cols_named,
            &counts,
            budget.measure,
            &contribution,
        )?;
        measurements.push(NoisyMarginal {
            columns: cols_named,
            measurement: Measurement {
                attrs: r.clone(),
                values: noisy.values,
                sigma: noisy.sigma,
                scale: None,
                threshold: None,
            },
        });
        selected.push(r.clone());
        if last {
            break;
        }
        progress.check()?;
        (model, _, warm) = estimate_warm(
            &sizes,
            &names,
            &as_measurements(&measurements),
            &[],
            Some(&warm),
            &opts.round_estimation,
            &quiet,
        )?;
        // Annealing: the model barely moved on the measured marginal.
        let after = model
            .marginal(&r)
            .expect("the measured marginal lies in a clique");
        let moved: f64 = after
            .values
            .iter()
            .zip(before)
            .map(|(p, z)| (p * model.total - z).abs())
            .sum();
        if moved <= sqrt_2_pi * noisy.sigma * cells(&r) as f64 {
            budget = budget.annealed();
            annealed += 1;
        }
    }

    // 3. The final inference.
    let ms = as_measurements(&measurements);
    let (model, report, _) = estimate_warm(
        &sizes,
        &names,
        &ms,
        &[],
        Some(&warm),
        &opts.estimation,
        progress,
    )?;
    let schema = table.schema().select(&names)?;
    let notes = vec![format!(
        "aim: {} round(s) after the 1-way marginals{} (planned for {rounds}), sigma halved \
         {annealed} time(s) by annealing; {} workload marginal(s), {} candidates of at most {} \
         cells",
        selected.len() - n_tree,
        if n_tree > 0 {
            format!(
                " and MST's tree of {n_tree} pair(s) ({:.3} of rho)",
                opts.tree_share
            )
        } else {
            String::new()
        },
        workload.len(),
        candidates.len(),
        opts.max_model_cells
    )];
    Ok(SynthModel {
        format: MODEL_FORMAT.into(),
        version: MODEL_VERSION,
        method: "aim".into(),
        schema,
        codebooks: cols.iter().map(|c| c.codebook).collect(),
        epsilon: opts.epsilon,
        delta: opts.delta,
        rho,
        compression,
        measurements,
        selected: selected
            .iter()
            .map(|r| r.iter().map(|&a| names[a].clone()).collect())
            .collect(),
        total: model.total,
        fitted: FittedTables {
            cliques: model.tree.cliques.clone(),
            neighbors: model.tree.neighbors.clone(),
            order: model.tree.order.clone(),
            tables: model.marginals.iter().map(|f| f.to_vec()).collect(),
        },
        estimation: report,
        ledger: session.ledger(),
        notes,
        budget_receipt: None,
        output: Vec::new(),
    })
}

/// The workload as attribute indices: the named cliques (every name a synthesised column),
/// or every 3-way marginal of the columns that are not identifier-like.
fn resolve_workload(
    opts: &AimOptions,
    cols: &[&EncodedColumn],
    names: &[String],
) -> Result<Vec<Vec<usize>>> {
    if opts.workload.is_empty() {
        let modelled: Vec<usize> = (0..cols.len())
            .filter(|&i| cols[i].codebook.cardinality() <= opts.max_pair_values)
            .collect();
        let k = modelled.len().min(3);
        if k == 0 {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut idx: Vec<usize> = (0..k).collect();
        loop {
            out.push(idx.iter().map(|&i| modelled[i]).collect());
            // Next k-combination of 0..n in lexicographic order.
            let n = modelled.len();
            let Some(p) = (0..k).rev().find(|&p| idx[p] < n - k + p) else {
                break;
            };
            idx[p] += 1;
            for q in p + 1..k {
                idx[q] = idx[q - 1] + 1;
            }
        }
        return Ok(out);
    }
    opts.workload
        .iter()
        .map(|w| {
            let mut r: Vec<usize> = w
                .iter()
                .map(|c| {
                    names.iter().position(|n| n == c).ok_or_else(|| {
                        SynthError::invalid(
                            "workload",
                            c,
                            format!(
                                "the workload may only name synthesised columns: {}",
                                names.join(", ")
                            ),
                        )
                    })
                })
                .collect::<Result<_>>()?;
            r.sort_unstable();
            r.dedup();
            Ok(r)
        })
        .collect()
}

#[cfg(test)]
mod tests;

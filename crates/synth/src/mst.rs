//! MST: differentially private synthetic data from a maximum spanning tree of 2-way
//! marginals (McKenna, Miklau & Sheldon 2021, "Winning the NIST Contest: A scalable and
//! general approach to differentially private synthetic data", JPC 11(3); the reference is
//! private-pgm's `mechanisms/mst.py`).
//!
//! Budget: (epsilon, delta) is converted to the zCDP budget `rho = cdp_rho(epsilon, delta)`,
//! the largest rho whose conversion (Canonne, Kamath & Steinke 2020, Prop. 12 — the one the
//! reference uses) gives (epsilon, delta)-DP (with sparse pairs, below, at `delta` minus
//! the part set aside for them). It is split in three parts; the paper and
//! reference split it equally (`selection_share = 1/3`), pets gives the selection a tenth by
//! default and the measurements the rest ([`MstOptions::selection_share`]):
//!
//! 1. `rho1 = (1 - s) rho / 2`: every 1-way marginal, with Gaussian noise, `rho1 / d` each
//!    in the reference (its `sigma = sqrt(3 / (2 rho))` on a weight vector of norm one, at
//!    `s = 1/3`); pets splits `rho1` by column size by default ([`shares`]);
//! 2. `rho_sel = s rho`: selection of `r = d - 1` edges (fewer when identifier-like columns
//!    are left out), one exponential mechanism per round at `rho_sel / r` each (the
//!    reference's `epsilon = sqrt(8 rho / (r - 1))`, as `rho = epsilon^2 / 8` for the
//!    exponential mechanism), scoring every pair `(a, b)` not yet connected by
//!    `|| x_ab - xhat_ab ||_1`, the L1 error of the independent estimate from the noisy
//!    1-ways (sensitivity 1), Kruskal-style;
//! 3. `rho2 = rho - rho1 - rho_sel`: the selected 2-way marginals, `rho2 / r` each in the
//!    reference; pets splits it by compressed table size by default ([`shares`]).
//!
//! **Sparse pairs** ([`MstOptions::sparse_pairs`], on by default; not in the reference): a
//! selected pair whose dense release would carry several times more noise than there are
//! records (`cells sigma > SPARSE_NOISE_RATIO N`, with `sigma` the noise of its share of
//! `rho2` and `N` the total estimated from the noisy 1-ways: public) is
//! released by the Gaussian threshold mechanism at the same rho
//! ([`crate::measure::measure_thresholded`]): noise on its occupied cells only, each
//! released iff its noisy count reaches `T`. A quarter of delta is set aside for this
//! before anything is measured (`delta_pairs`; `delta_pairs / k` for each of the `k`
//! sparse pairs, known once the tree is chosen and before any pair is measured), and rho is the
//! largest whose conversion at the remaining delta gives epsilon, so the total is still
//! (epsilon, delta)-DP. Proof: [`crate::proofs::mst_sparse_pairs`]. On 1M A&E rows x 12
//! columns postcode district x provider is 290k cells with ~13k occupied: the fit draws
//! ~37k noise samples instead of ~442k (OpenDP's exact sampler, 20-30 us each) and takes
//! 1.9 CPU-s instead of 9-10, at the cost of the pair's cells below `T` (its TVD 0.17 ->
//! 0.27; the mean over all pairs 0.0279 -> 0.0298; `benches/README.md`).
//!
//! Each release goes through one [`Session`], which charges before drawing: the ledger's
//! total is the target rho (to floating-point rounding, never above it). With one column the
//! whole budget measures its 1-way marginal.
//!
//! Domains come only from the declared schema (codes of [`pets::data`]). Values whose noisy
//! 1-way count is below `3 sigma` are merged per column ([`crate::compress`]); this reads
//! released values only. The total is estimated from the noisy marginals; the true row count
//! is never used. Pairs whose compressed table would exceed `max_pair_cells` are not
//! candidates (a public decision from released figures). Privacy is per record with
//! [`fit_mst`]; [`fit_mst_bounded`] keeps at most `m` rows a person and scales every
//! sensitivity by `m`, for person-level privacy.

use std::borrow::Cow;

use pets::data::{EncodedColumn, EncodedTable, Role};
use pets::dp::bounding::Bounded;
use pets::dp::mechanisms::Selection;
use pets::dp::{Cost, QueryRecord, Session};
use pets::partial::MarginalCounts;
use rayon::prelude::*;

use crate::compress::Compression;
use crate::counts::{CountSource, Rows};
use crate::error::{Result, SynthError};
use crate::inference::{EstimationOptions, Measurement, estimate_total, estimate_with};
use crate::measure::{measure_gaussian, measure_thresholded};
use crate::model::{FittedTables, MODEL_FORMAT, MODEL_VERSION, NoisyMarginal, SynthModel};
use pets::progress::Progress;

/// Settings of [`fit_mst`].
#[derive(Debug, Clone, PartialEq)]
pub struct MstOptions {
    /// Target epsilon of (epsilon, delta)-DP.
    pub epsilon: f64,
    /// Target delta.
    pub delta: f64,
    /// Largest compressed 2-way table considered for selection.
    pub max_pair_cells: u64,
    /// Columns with more declared codes than this are **identifier-like** (an LSOA beside
    /// its postcode district: 36,059 values, a handful of rows each): they are measured
    /// 1-way (and compressed as usual) but are not candidates for a pair, so they are
    /// sampled from their noisy 1-way marginal, independently of the other columns. Why:
    /// a pair with such a column has tables of millions of cells that hold, on average,
    /// fewer rows a cell than the noise added to each (at 1M A&E rows, LSOA x postcode
    /// district was 2.1M of the fit's 3M noisy cells and most of its 58 s), while what it
    /// could teach the model (which LSOAs lie in which district) is a public nesting, not a
    /// statistic. The decision uses the declared domain only (no budget), so it is the same
    /// for every dataset under the schema. Default 4,096 (32 x the 128 values a column is
    /// otherwise coarsened to); `u32::MAX` restores the published MST candidates.
    pub max_pair_values: u32,
    /// Merge values with noisy 1-way counts below `3 sigma` (MST's compression).
    pub compress: bool,
    /// Score each candidate pair by the L1 error it would fix **minus** the expected L1
    /// noise of measuring it, `sqrt(2/pi) sigma_2 cells` (AIM's quality score, McKenna et
    /// al. 2022, applied to MST's selection; the penalty is public, so the sensitivity is
    /// unchanged). Off by default (the reference MST score, which favours pairs with huge
    /// domains). On, it skips tables that are mostly noise: on 1M A&E rows x 12 columns the
    /// fit fell from 375k noisy cells and 8.8 CPU-s to 21k cells and 0.7 CPU-s, and the mean
    /// 2-way TVD of the pairs without postcode district improved (0.0216 to 0.0191), but
    /// postcode district x provider was no longer measured (its TVD 0.29 to 0.95), so the
    /// overall mean rose from 0.035 to 0.042.
    pub noise_penalty: bool,
    /// Soft threshold of the selection score, in multiples of the 2-way noise `sigma_2`:
    /// a pair scores `sum_i max(|x_i - xhat_i| - t sigma_2, 0)` over its cells (`x` the
    /// true counts, `xhat` the independent estimate from the noisy 1-ways), the part of
    /// its error that stands above the noise a measurement would add. `0` is the published
    /// MST score. Each term is 1-Lipschitz in one count, so the sensitivity is unchanged
    /// (1 a row, `m` a person) and `t sigma_2` is public. Default 1: a noise-dominated
    /// dense pair no longer displaces a useful one (SynAE arrival week x time in the
    /// department: mean 2-way TVD 0.0151 -> 0.0124-0.0127, mbi's MST 0.0146), while sparse,
    /// strongly dependent tables are still picked (1M A&E rows: 0.0357 -> 0.0337; 100k
    /// 0.088 -> 0.087; 10k 0.201 -> 0.198).
    pub score_threshold: f64,
    /// Share `s` of rho spent on choosing the tree (the rest is split equally between the
    /// 1-way and the selected 2-way marginals). The paper's MST uses `1/3`. Default `0.1`:
    /// the exponential mechanism only has to tell apart pairs whose scores differ by
    /// thousands of counts (one round at `s = 0.1` over 23 rounds at epsilon 1 adds Gumbel
    /// noise of scale ~90 counts), while every count of every measured marginal gains from
    /// the budget moved to measuring: sigma falls by `sqrt(0.45 / (1/3)) = 1.16`. On 100k
    /// generated A&E rows, all columns, mean 2-way TVD (`eval::evaluate`) 0.0454 at `1/3`
    /// -> see `benches/README.md`.
    pub selection_share: f64,
    /// Split the 1-way budget by column size and the 2-way budget by table size
    /// ([`shares`]: `min(cells, cap)^(2/3)`, the split that minimises the total L1 error)
    /// rather than equally (the paper's MST). Default on.
    pub size_weighted_shares: bool,
    /// Release a selected pair whose dense release would be mostly noise ([`is_sparse`])
    /// by the Gaussian threshold mechanism (module docs, "Sparse pairs"), with a quarter of
    /// delta set aside for it. Default on; off, every pair is measured densely (the
    /// reference) and the whole delta converts rho.
    pub sparse_pairs: bool,
    /// Inference settings.
    pub estimation: EstimationOptions,
}

impl MstOptions {
    /// MST at (epsilon, delta) with the reference's budget split and compression. Inference
    /// runs on a work budget of 5e6 clique-cell iterations, between 20 and 1,000
    /// iterations: a 1M-row A&E fit (~370k cells) stops at 20, where 300 more CPU-seconds'
    /// worth of iterations changed nothing, while SynAE's ~8k cells get ~600 (its 2-way
    /// TVD 0.0151 -> 0.0149 under the plain MST score; `benches/README.md`). Setting
    /// `estimation.max_iters` and `estimation.work_budget = None` fixes the count.
    pub fn new(epsilon: f64, delta: f64) -> MstOptions {
        MstOptions {
            epsilon,
            delta,
            max_pair_cells: 1 << 22,
            max_pair_values: 4_096,
            compress: true,
            noise_penalty: false,
            score_threshold: 1.0,
            selection_share: 0.1,
            size_weighted_shares: true,
            sparse_pairs: true,
            estimation: EstimationOptions {
                max_iters: 1000,
                work_budget: Some(MST_WORK_BUDGET),
                min_iters: 20,
                ..EstimationOptions::default()
            },
        }
    }
}

/// Selection score of a pair: `sum_i max(|x_i - total p_a q_b| - tau, 0)` over its cells
/// (row-major `x`, `p` and `q` the noisy 1-way probabilities). With `tau = 0` it is MST's
/// L1 error of the independent estimate; every term is 1-Lipschitz in its count, so the
/// score's sensitivity is one per row whatever `tau`. Computed in exact fixed point
/// ([`pair_score_penalised`]), so that bound holds for the number actually computed.
/// Proof: [`crate::proofs::mst_selection`], [`pets::dp::proofs::fixed_point_sum`].
pub fn pair_score(x: &[u64], pa: &[f64], pb: &[f64], total: f64, tau: f64) -> f64 {
    pair_score_penalised(x, pa, pb, total, tau, 0.0)
}

/// Largest exponent `j` of the score grid `2^-j` (about one millionth of a count).
const SCORE_GRID_MAX: i32 = 20;
/// Scores are saturated at `2^52` grid units, so every score is an exact `f64`.
const SCORE_CAP_LOG2: u32 = 52;

/// The score grid exponent `j`, from public numbers only: the largest `j <= 20` (and at
/// least 0) with `max(total, tau, penalty, 1) 2^j <= 2^50`, so that unsaturated scores stay
/// below the `2^52`-unit cap by a factor of about two.
pub(crate) fn score_grid(total: f64, tau: f64, penalty: f64) -> i32 {
    let big = [total, tau, penalty, 1.0]
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(1.0f64, |a, v| a.max(v.abs()));
    ((50.0 - big.log2()).floor() as i32).clamp(0, SCORE_GRID_MAX)
}

/// [`pair_score`] minus a public `penalty` (e.g. the expected noise of measuring the pair),
/// computed so that its sensitivity is exactly one per row **as computed**, not only in
/// exact arithmetic.
///
/// A floating-point sum of per-cell terms has rounding errors that depend on the data and
/// grow with the number of cells and the size of the counts (the issue Casacuberta et al.
/// 2022 found in float sums), so the exponential mechanism's stated sensitivity would not
/// hold exactly. Here the data enter only through the integer counts `x_i`, which are exact
/// on the grid `2^-j` (`j <= 20`, chosen from public numbers by `score_grid`); the
/// public numbers (the estimate `total p_a q_b`, `tau`, the penalty) are rounded to the
/// grid, which changes nothing about sensitivity since they are the same for neighbours.
/// In grid units each term `max(|2^j x_i - E_i| - T, 0)` is an integer that moves by at most
/// `2^j |x_i - x'_i|`; the sum is exact (`i128`), saturated at `2^52` (a 1-Lipschitz clamp),
/// the penalty subtracted exactly, and the result, at most `2^52` in magnitude, converts to
/// `f64` and scales by `2^-j` without rounding. So neighbours' computed scores differ by at
/// most the number of rows that differ: `m` for a person with at most `m` rows, and no
/// extra charge is needed. Proof: `pets/src/dp/proofs/fixed_point_sum.md`, part 2.
pub fn pair_score_penalised(
    x: &[u64],
    pa: &[f64],
    pb: &[f64],
    total: f64,
    tau: f64,
    penalty: f64,
) -> f64 {
    let j = score_grid(total, tau, penalty);
    let scale = f64::from(1u32 << j);
    // Public numbers to the grid (any deterministic rounding will do: truncation, and
    // `as` saturates and maps NaN to 0).
    let public = |v: f64| ((v * scale) as i64).clamp(-(1i64 << 61), 1i64 << 61);
    let t = public(tau).max(0);
    // Counts beyond 2^61 units are saturated (a 1-Lipschitz clamp; never reached).
    let x_cap = (1u64 << 61) >> j;
    let mut acc: i128 = 0;
    for (i, &p) in pa.iter().enumerate() {
        let row = &x[i * pb.len()..(i + 1) * pb.len()];
        for (&xv, &q) in row.iter().zip(pb) {
            let xi = (xv.min(x_cap) as i64) << j;
            let e = public(total * p * q);
            let d = (xi - e).abs() - t;
            if d > 0 {
                acc += i128::from(d);
            }
        }
    }
    let cap = 1i128 << SCORE_CAP_LOG2;
    let pen = i128::from(public(penalty)).clamp(-cap, cap);
    let units = acc.min(cap) - pen;
    // |units| <= 2^53: exact as f64; dividing by 2^j is exact too.
    units as f64 / scale
}

/// The share of delta set aside for thresholded (sparse) pair releases when
/// [`MstOptions::sparse_pairs`] is on. A quarter costs little either way: rho at (1, 1e-9)
/// falls by about 1% (its conversion sees `ln(1/delta)` grow by 0.3 of ~21), and each
/// pair's threshold rises by about 1% (`T ~ sigma Phi^-1(1 - delta_pair)`).
pub const SPARSE_DELTA_SHARE: f64 = 0.25;

/// `(delta for the zCDP conversion, delta for thresholded pairs)` from the target delta:
/// `(delta, 0)` without sparse pairs; with them the pairs' part is `SPARSE_DELTA_SHARE`
/// of it and the conversion's the rest, both rounded down so that their exact sum never
/// exceeds `delta` (a delta too small to split, a few subnormals, is not split).
pub(crate) fn split_delta(delta: f64, sparse: bool) -> (f64, f64) {
    let pairs = (delta * SPARSE_DELTA_SHARE).next_down();
    if !sparse || pairs <= 0.0 {
        return (delta, 0.0);
    }
    ((delta - pairs).next_down(), pairs)
}

/// MST's default inference work budget, in clique-cell iterations.
pub const MST_WORK_BUDGET: f64 = 5e6;

/// The delta of `rho`-zCDP at `epsilon` (Canonne, Kamath & Steinke 2020, Prop. 12; the
/// `cdp_delta` of their code, used by MST).
pub fn cdp_delta(rho: f64, epsilon: f64) -> f64 {
    if rho <= 0.0 {
        return 0.0;
    }
    let (mut amin, mut amax) = (1.01f64, (epsilon + 1.0) / (2.0 * rho) + 2.0);
    let mut alpha = amin;
    for _ in 0..1000 {
        alpha = (amin + amax) / 2.0;
        let derivative = (2.0 * alpha - 1.0) * rho - epsilon + (-1.0 / alpha).ln_1p();
        if derivative < 0.0 {
            amin = alpha;
        } else {
            amax = alpha;
        }
    }
    let delta = ((alpha - 1.0) * (alpha * rho - epsilon) + alpha * (-1.0 / alpha).ln_1p()).exp()
        / (alpha - 1.0);
    delta.min(1.0)
}

/// The largest rho such that rho-zCDP implies (epsilon, delta)-DP (bisection, as MST's
/// `cdp_rho`), certified against OpenDP's conservatively rounded conversion.
/// Proof: [`crate::proofs::cdp_rho`].
pub fn cdp_rho(epsilon: f64, delta: f64) -> Result<f64> {
    if !(epsilon > 0.0 && epsilon.is_finite()) {
        return Err(SynthError::invalid(
            "epsilon",
            epsilon,
            "it must be a positive finite number, e.g. 1",
        ));
    }
    if !(delta > 0.0 && delta < 1.0) {
        return Err(SynthError::invalid(
            "delta",
            delta,
            "MST needs 0 < delta < 1, e.g. 1e-9 (well below 1 / rows)",
        ));
    }
    let (mut lo, mut hi) = (0.0f64, epsilon + 1.0);
    for _ in 0..1000 {
        let rho = (lo + hi) / 2.0;
        if cdp_delta(rho, epsilon) <= delta {
            lo = rho;
        } else {
            hi = rho;
        }
    }
    // `cdp_delta` runs in plain f64 (MST's reference code does too), so its answer can be a
    // few ulps optimistic. Certify with OpenDP's conversion, whose arithmetic rounds
    // outward: keep the float answer if OpenDP's epsilon at `delta` is within the target,
    // else bisect on OpenDP's map below it. The rho returned always satisfies OpenDP's map.
    let certified = |rho: f64| -> Result<bool> {
        let (eps, _) = pets::dp::Cost::rho(rho).to_approx_dp(delta)?;
        Ok(eps <= epsilon)
    };
    if lo > 0.0 && certified(lo)? {
        return Ok(lo);
    }
    let (mut good, mut bad) = (0.0f64, lo);
    for _ in 0..200 {
        let mid = (good + bad) / 2.0;
        if mid <= good || mid >= bad {
            break;
        }
        if certified(mid)? {
            good = mid;
        } else {
            bad = mid;
        }
    }
    Ok(good)
}

/// Fit MST to the encoded `table` over `columns` (when empty, every encoded column that is
/// not a direct identifier), with row-level privacy (see [`fit_mst_bounded`] for
/// person-level). The table's domains are used as they are: a table encoded against the
/// declared schema without [`crate::prepare_domain`] may have domains too wide to fit, which
/// is why [`crate::FitJob`], the route every front door takes, always prepares the domain.
pub fn fit_mst(table: &EncodedTable, columns: &[&str], opts: &MstOptions) -> Result<SynthModel> {
    fit_mst_bounded(table, columns, opts, &Bounded::row_level(table.n_rows()))
}

/// [`fit_mst`] on the rows `bounded` keeps (e.g. [`Bounded::by_person`]: at most `m` rows a
/// person), so the guarantee is about people: every marginal has L2 sensitivity `m` (one
/// person's `m` rows may share a cell) and every selection score L1 sensitivity `m`, and
/// the noise scales with `m` for the same budget. The ledger records the unit.
pub fn fit_mst_bounded(
    table: &EncodedTable,
    columns: &[&str],
    opts: &MstOptions,
    bounded: &Bounded,
) -> Result<SynthModel> {
    fit_mst_bounded_with(table, columns, opts, bounded, &Progress::none())
}

/// [`fit_mst_bounded`], reporting to `progress` (stages `"measuring"`, then `"fitting"`)
/// and stopping at its safe points when asked: before any noise is drawn, and between
/// iterations of the inference (the noisy measurements are then dropped, never released).
pub fn fit_mst_bounded_with(
    table: &EncodedTable,
    columns: &[&str],
    opts: &MstOptions,
    bounded: &Bounded,
    progress: &Progress,
) -> Result<SynthModel> {
    let owned = synthesis_columns(table, columns, bounded)?;
    let cols: Vec<&EncodedColumn> = owned.iter().map(|c| c.as_ref()).collect();
    fit_mst_counts(
        table,
        &cols,
        &Rows(&cols),
        opts,
        bounded.contribution(),
        progress,
    )
}

/// [`fit_mst`] on the exact counts of a partitioned table ([`MarginalCounts`], merged from
/// every partition's `FitJob::partial`), at the driver: `empty` is the table encoded and
/// derived with zero rows (its columns and code books), `counts` the merged counts of
/// `columns` (every non-identifier column when empty), counted with
/// `opts.max_pair_values`. Row-level privacy (a person's rows may sit in several
/// partitions). The measurements, and so the model's distribution, are those of a fit on
/// the whole table.
pub fn fit_mst_merged_with(
    empty: &EncodedTable,
    columns: &[&str],
    opts: &MstOptions,
    counts: &MarginalCounts,
    progress: &Progress,
) -> Result<SynthModel> {
    let bounded = Bounded::row_level(empty.n_rows());
    let owned = synthesis_columns(empty, columns, &bounded)?;
    let cols: Vec<&EncodedColumn> = owned.iter().map(|c| c.as_ref()).collect();
    let names: Vec<&str> = cols.iter().map(|c| c.name()).collect();
    let cards: Vec<u32> = cols.iter().map(|c| c.codebook.cardinality()).collect();
    if counts.columns != names
        || counts.cards != cards
        || counts.max_pair_values != opts.max_pair_values
    {
        return Err(SynthError::invalid(
            "partials",
            counts.columns.join(", "),
            format!(
                "the partitions counted other columns or code spaces than this fit's ({}), or \
                 with max_pair_values {} (this fit: {}): compute them with the same schema, \
                 columns and options",
                names.join(", "),
                counts.max_pair_values,
                opts.max_pair_values
            ),
        ));
    }
    let contribution = pets::dp::Contribution::row_level(
        "row-level privacy: each row is treated as a different person (partitions are \
         counted separately, so no per-person bound is applied across them)",
    );
    fit_mst_counts(empty, &cols, counts, opts, &contribution, progress)
}

/// The budget of an MST fit and the public decisions made before any measurement: `rho`
/// from (epsilon, delta), the shares of the 1-ways (`rho1`), of the selection (`rho_sel`)
/// and of the selected pairs (`rho2`), which columns may be in a pair (declared domain at
/// most `max_pair_values`: public) and the number of tree edges (`rounds`). Shared by the
/// pooled fit ([`fit_mst_counts`]) and the federated one (`crate::federated`), whose
/// rounds spend `rho1`, `rho_sel` and `rho2`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MstBudget {
    /// The whole zCDP budget.
    pub rho: f64,
    /// The 1-way marginals' share.
    pub rho1: f64,
    /// The selection's share (0 when no pair can be selected).
    pub rho_sel: f64,
    /// The selected pairs' share.
    pub rho2: f64,
    /// The delta set aside for thresholded pair releases (0: every pair is dense;
    /// [`split_delta`]).
    pub delta_pairs: f64,
    /// The delta at which `rho` was converted: the target delta minus `delta_pairs`.
    pub delta_conversion: f64,
    /// Per column: may it be in a pair?
    pub pairable: Vec<bool>,
    /// Tree edges to select: pairable columns minus one (0 when fewer than two), or with
    /// `allowed`, the edges of a spanning forest of the allowed pairs.
    pub rounds: usize,
    /// The pairs a tree edge may join (`(a, b)`, `a < b`; public), when not every pair of
    /// pairable columns may: AIM with a user's workload only pairs columns an entry holds
    /// together ([`MstBudget::only_pairs`]).
    pub allowed: Option<Vec<(usize, usize)>>,
}

impl MstBudget {
    /// The split for columns with `cards` declared codes (module docs, steps 1-3), with
    /// part of delta set aside for sparse pairs when `sparse` (the pooled fit's
    /// [`MstOptions::sparse_pairs`]; the federated fit measures every pair densely).
    pub(crate) fn new(cards: &[u32], opts: &MstOptions, sparse: bool) -> Result<MstBudget> {
        // The user's (epsilon, delta) checked as given (0 < delta < 1), before any split.
        cdp_rho(opts.epsilon, opts.delta)?;
        if !(opts.score_threshold >= 0.0 && opts.score_threshold.is_finite()) {
            return Err(SynthError::invalid(
                "score_threshold",
                opts.score_threshold,
                "give a finite multiple of the 2-way noise sigma, at least 0 (0: MST's score)",
            ));
        }
        // Identifier-like columns (declared domain above `max_pair_values`: public) are never
        // pair candidates.
        let pairable: Vec<bool> = cards.iter().map(|&k| k <= opts.max_pair_values).collect();
        let sparse = sparse && pairable.iter().filter(|&&p| p).count() > 1;
        let (delta_conversion, delta_pairs) = split_delta(opts.delta, sparse);
        let rho = cdp_rho(opts.epsilon, delta_conversion)?;
        let mut b = MstBudget::split(rho, pairable, opts.selection_share)?;
        b.delta_pairs = delta_pairs;
        b.delta_conversion = delta_conversion;
        Ok(b)
    }

    /// A session that may spend this budget: `rho` plus the pairs' delta, reported as
    /// (epsilon, delta)-DP at `delta_conversion` plus the delta spent.
    pub(crate) fn session(&self) -> Result<Session> {
        Ok(
            Session::new(Cost::rho(self.rho).with_delta(self.delta_pairs))?
                .with_conversion_delta(self.delta_conversion)?,
        )
    }

    /// The delta the thresholded pairs may share (`None`: every pair is dense).
    pub(crate) fn sparse_delta(&self) -> Option<f64> {
        (self.delta_pairs > 0.0 && self.rounds > 0).then_some(self.delta_pairs)
    }

    /// MST's split of a budget `rho` (module docs, steps 1-3), the tree spanning the
    /// columns marked `pairable` (public), the selection taking `selection_share` of it.
    /// Also AIM's first step when it starts from MST's tree
    /// ([`crate::AimOptions::tree_share`]).
    pub(crate) fn split(rho: f64, pairable: Vec<bool>, selection_share: f64) -> Result<MstBudget> {
        // Every share is rounded down (`next_down` after each float operation whose rounding
        // could go up), so that the exact sum of the shares charged never exceeds `rho`: the
        // accountant is exact and would refuse the last 2-way marginal by one ulp otherwise.
        // The tree spans the pairable columns, in `rounds` selections.
        let rounds = pairable.iter().filter(|&&p| p).count().saturating_sub(1);
        if !(selection_share > 0.0 && selection_share < 1.0) {
            return Err(SynthError::invalid(
                "selection_share",
                selection_share,
                "it must be strictly between 0 and 1, e.g. 0.1 (1/3 is the paper's split)",
            ));
        }
        let (rho1, rho_sel) = if rounds == 0 {
            (rho, 0.0)
        } else {
            let sel = (rho * selection_share).next_down();
            (((rho - sel) / 2.0).next_down(), sel)
        };
        let rho2 = (rho - rho1 - rho_sel).next_down().next_down().max(0.0);
        Ok(MstBudget {
            rho,
            rho1,
            rho_sel,
            rho2,
            delta_pairs: 0.0,
            delta_conversion: 0.0,
            pairable,
            rounds,
            allowed: None,
        })
    }

    /// [`MstBudget::split`] with tree edges only among `allowed` pairs (public): the tree
    /// becomes a maximum spanning forest of the graph they form on the pairable columns,
    /// with one selection per edge of a spanning forest (pairable columns minus that
    /// graph's components). The shares are split as [`MstBudget::split`] splits them.
    pub(crate) fn only_pairs(
        rho: f64,
        pairable: Vec<bool>,
        allowed: Vec<(usize, usize)>,
        selection_share: f64,
    ) -> Result<MstBudget> {
        let d = pairable.len();
        let allowed: Vec<(usize, usize)> = allowed
            .into_iter()
            .map(|(a, b)| (a.min(b), a.max(b)))
            .filter(|&(a, b)| a != b && b < d && pairable[a] && pairable[b])
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut comp: Vec<usize> = (0..d).collect();
        let mut edges = 0;
        for &(a, b) in &allowed {
            let (ra, rb) = (root(&mut comp, a), root(&mut comp, b));
            if ra != rb {
                comp[ra] = rb;
                edges += 1;
            }
        }
        // The split for a tree of `edges + 1` pairable columns: the same shares as a
        // spanning tree with that many edges.
        let mut b = MstBudget::split(rho, (0..d).map(|i| i <= edges).collect(), selection_share)?;
        b.pairable = pairable;
        b.rounds = edges;
        b.allowed = Some(allowed);
        Ok(b)
    }

    /// The pairs MST may select, from public figures only: both columns pairable and the
    /// compressed table (`sizes`: released) at most `max_pair_cells`; `(a, b)`, `a < b`, in
    /// lexicographic order.
    pub(crate) fn candidates(&self, sizes: &[usize], max_pair_cells: u64) -> Vec<(usize, usize)> {
        let d = sizes.len();
        (0..d)
            .flat_map(|a| (a + 1..d).map(move |b| (a, b)))
            .filter(|&(a, b)| {
                self.pairable[a]
                    && self.pairable[b]
                    && (sizes[a] as u128) * (sizes[b] as u128) <= u128::from(max_pair_cells)
                    && self
                        .allowed
                        .as_ref()
                        .is_none_or(|allowed| allowed.binary_search(&(a, b)).is_ok())
            })
            .collect()
    }
}

/// MST (steps 1-4) on the columns `cols` of `table`, reading exact counts from `source`.
fn fit_mst_counts(
    table: &EncodedTable,
    cols: &[&EncodedColumn],
    source: &dyn CountSource,
    opts: &MstOptions,
    contribution: &pets::dp::Contribution,
    progress: &Progress,
) -> Result<SynthModel> {
    progress.check()?;
    progress.stage("measuring", None, "tables");
    let cards: Vec<u32> = cols.iter().map(|c| c.codebook.cardinality()).collect();
    let budget = MstBudget::new(&cards, opts, opts.sparse_pairs)?;
    let (rho, rho1) = (budget.rho, budget.rho1);
    let contribution = contribution.clone();
    let mut session = budget.session()?;
    let names: Vec<String> = cols.iter().map(|c| c.name().to_string()).collect();
    // 1. Noisy 1-way marginals, each its share of rho1 (public: from declared sizes).
    let (mut measurements, compression) = measure_one_ways(
        &mut session,
        "mst",
        cols,
        source,
        &names,
        rho1,
        opts.size_weighted_shares,
        opts.compress,
        &contribution,
    )?;

    // 2-3. Private selection of a spanning tree, and its noisy 2-way marginals.
    let tree = TreeSettings {
        max_pair_cells: opts.max_pair_cells,
        score_threshold: opts.score_threshold,
        noise_penalty: opts.noise_penalty,
        size_weighted_shares: opts.size_weighted_shares,
        sparse_delta: budget.sparse_delta(),
    };
    let (selected, pairs) = tree_step(
        &mut session,
        "mst",
        source,
        &names,
        &measurements,
        &compression,
        &budget,
        &tree,
        &contribution,
    )?;
    measurements.extend(pairs);

    // 4. Inference.
    let notes = sparse_notes(&measurements);
    let mut model = assemble_mst(
        "mst",
        table,
        cols,
        opts,
        rho,
        compression,
        measurements,
        &selected,
        session.ledger(),
        progress,
    )?;
    model.notes.extend(notes);
    Ok(model)
}

/// A note for each pair released above a threshold (public: its size, sigma and `T`).
fn sparse_notes(measurements: &[NoisyMarginal]) -> Vec<String> {
    measurements
        .iter()
        .filter_map(|m| {
            let t = m.measurement.threshold?;
            Some(format!(
                "{} ({} cells) is sparse: released by the Gaussian threshold mechanism \
                 (sigma {:.1}), only cells whose noisy count reached {t} (the others \
                 suppressed, so the model may hold up to about {t} records in any of them); \
                 --dense-pairs (Python: sparse_pairs=False) measures every cell",
                m.columns.join(" x "),
                m.measurement.values.len(),
                m.measurement.sigma,
            ))
        })
        .collect()
}

/// The settings of MST's tree ([`tree_step`]): [`MstOptions`]' fields of the same names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TreeSettings {
    /// Largest compressed 2-way table a candidate pair may have.
    pub max_pair_cells: u64,
    /// The selection score's soft threshold, in multiples of the 2-way `sigma`.
    pub score_threshold: f64,
    /// Subtract the expected noise of measuring a pair from its score.
    pub noise_penalty: bool,
    /// Split `rho2` among the pairs by table size ([`shares`]).
    pub size_weighted_shares: bool,
    /// The delta the sparse pairs' thresholded releases share (each `1/k` of it, `k` the
    /// number of sparse pairs selected); `None` measures every pair densely
    /// ([`MstOptions::sparse_pairs`]).
    pub sparse_delta: Option<f64>,
}

/// The edges [`tree_step`] selected, `(a, b)` with `a < b`, and their noisy marginals.
pub(crate) type TreeMeasured = (Vec<(usize, usize)>, Vec<NoisyMarginal>);

/// Steps 2 and 3 of MST, shared with AIM's tree start ([`crate::AimOptions::tree_share`]):
/// with the noisy 1-ways `one_ways` measured (and `compression` decided from them), select
/// `budget.rounds` tree edges among the pairable columns, one exponential mechanism each at
/// `budget.rho_sel / rounds` on [`pair_score_penalised`] (sensitivity `m` a person,
/// Kruskal-style: only pairs joining two components), then measure each selected pair's
/// compressed table with the Gaussian mechanism at its share of `budget.rho2`
/// ([`pair_shares`]); with `tree.sparse_delta`, each of the `k` selected pairs that
/// [`is_sparse`] at the sigma of its share (module docs, "Sparse pairs"; `N` estimated
/// from `one_ways`; all decided before any pair is measured) by the Gaussian threshold
/// mechanism at `1/k` of that delta. Labels start with `"{method}: "`. Returns the edges and their
/// noisy marginals, in selection order.
#[allow(clippy::too_many_arguments)]
pub(crate) fn tree_step(
    session: &mut Session,
    method: &str,
    source: &dyn CountSource,
    names: &[String],
    one_ways: &[NoisyMarginal],
    compression: &[Compression],
    budget: &MstBudget,
    tree: &TreeSettings,
    contribution: &pets::dp::Contribution,
) -> Result<TreeMeasured> {
    let d = names.len();
    let rounds = budget.rounds;
    let m = f64::from(contribution.max_rows_per_person);
    let sizes: Vec<usize> = compression.iter().map(Compression::size).collect();
    let maps: Vec<Vec<u32>> = compression.iter().map(Compression::forward_map).collect();
    // The sigma each selected 2-way marginal will be measured with (public: from rho alone).
    let sigma2 = if rounds > 0 {
        pets::dp::mechanisms::DiscreteGaussian::for_rho(
            m,
            (budget.rho2 / rounds as f64).next_down(),
        )?
        .scale()
    } else {
        0.0
    };
    let mut selected: Vec<(usize, usize)> = Vec::new();
    let one_way: Vec<Measurement> = one_ways.iter().map(|m| m.measurement.clone()).collect();
    let total = estimate_total(&one_way);
    if d > 1 && rounds > 0 {
        let probs: Vec<Vec<f64>> = one_way.iter().map(independent_probs).collect();
        let pairs = budget.candidates(&sizes, tree.max_pair_cells);
        let scores: Vec<f64> = pairs
            .par_iter()
            .map(|&(a, b)| {
                let x = source.pair(a, b, &maps, &sizes)?;
                let tau = tree.score_threshold * sigma2;
                let penalty = if tree.noise_penalty {
                    (2.0 / std::f64::consts::PI).sqrt() * sigma2 * x.len() as f64
                } else {
                    0.0
                };
                Ok(pair_score_penalised(
                    &x, &probs[a], &probs[b], total, tau, penalty,
                ))
            })
            .collect::<Result<_>>()?;
        let selection_label = format!(
            "{method}: select the next tree edge (L1 error of the independent estimate above \
             {} sigma_2 = {:.1} a cell{})",
            tree.score_threshold,
            tree.score_threshold * sigma2,
            if tree.noise_penalty {
                ", minus the expected noise of measuring the pair"
            } else {
                ""
            }
        );
        let mut comp_of: Vec<usize> = (0..d).collect();
        for _ in 0..rounds {
            let cand: Vec<usize> = (0..pairs.len())
                .filter(|&k| root(&mut comp_of, pairs[k].0) != root(&mut comp_of, pairs[k].1))
                .collect();
            if cand.is_empty() {
                break;
            }
            let sel = Selection::for_cost(
                m,
                false,
                cand.len(),
                &Cost::rho((budget.rho_sel / rounds as f64).next_down()),
            )?;
            let cand_scores: Vec<f64> = cand.iter().map(|&k| scores[k]).collect();
            let rel = session.release(
                &sel,
                &cand_scores,
                QueryRecord::new(&selection_label, names.to_vec(), contribution.clone()),
            )?;
            let (a, b) = pairs[cand[rel.value]];
            let (ra, rb) = (root(&mut comp_of, a), root(&mut comp_of, b));
            comp_of[ra] = rb;
            selected.push((a, b));
        }
    }

    // Noisy 2-way marginals of the selected edges, each its share of rho2 (public: from
    // the compressed sizes, released).
    let pair_shares = pair_shares(&selected, &sizes, tree.size_weighted_shares);
    let rho_pairs: Vec<f64> = pair_shares
        .iter()
        .map(|s| (budget.rho2 * s).next_down().next_down())
        .collect();
    // Which pairs are sparse, before any is measured (public: the compressed sizes, each
    // pair's sigma from its rho, the total from the 1-ways); they share the sparse delta.
    let sparse: Vec<bool> = match tree.sparse_delta {
        Some(_) => selected
            .iter()
            .zip(&rho_pairs)
            .map(|(&(a, b), &rho_pair)| {
                let sigma = pets::dp::mechanisms::DiscreteGaussian::for_rho(m, rho_pair)?.scale();
                Ok(is_sparse(sizes[a] * sizes[b], sigma, total))
            })
            .collect::<Result<_>>()?,
        None => vec![false; selected.len()],
    };
    let n_sparse = sparse.iter().filter(|&&s| s).count();
    let delta_each = tree
        .sparse_delta
        .filter(|_| n_sparse > 0)
        .map(|d| (d / n_sparse as f64).next_down());
    let mut measured = Vec::with_capacity(selected.len());
    for (k, &(a, b)) in selected.iter().enumerate() {
        let counts = source.pair(a, b, &maps, &sizes)?;
        let pair = vec![names[a].clone(), names[b].clone()];
        let rho_pair = rho_pairs[k];
        let label = format!("{method}: 2-way marginal of {} x {}", names[a], names[b]);
        let noisy = match delta_each {
            Some(delta) if sparse[k] => measure_thresholded(
                session,
                &format!("{label} (thresholded: sparse)"),
                &pair,
                &counts,
                rho_pair,
                delta,
                contribution,
            )?,
            _ => measure_gaussian(session, &label, &pair, &counts, rho_pair, contribution)?,
        };
        measured.push(NoisyMarginal {
            columns: pair,
            measurement: Measurement {
                attrs: vec![a, b],
                values: noisy.values,
                sigma: noisy.sigma,
                scale: None,
                threshold: noisy.threshold,
            },
        });
    }
    Ok((selected, measured))
}

/// How many times the records a dense release's noise must exceed for a pair to be
/// released above a threshold instead ([`is_sparse`]).
///
/// Why 4: the threshold mechanism suppresses every cell below `T ~ 6.6 sigma`, while the
/// dense estimate (the least-squares fit, `max(y - lambda, 0)`) keeps cells above a
/// data-adaptive `lambda` that stays below `2 sigma` until the noise is ~100 times the
/// records; so thresholding always costs some accuracy and is worth it only where the
/// dense table is overwhelmingly noise, which is also where its noise draws dominate the
/// fit. At 4 (expected noise `~0.8 cells sigma` over 3 times the records): postcode
/// district x provider at 100k-1M rows (ratio 6-16) is thresholded; pairs near 1
/// (chief complaint x diagnosis, district x weekday at 100k) stay dense; at ratio 1 the
/// whole-table default lost 1-2% of its mean 2-way TVD at 100k (`benches/README.md`).
pub const SPARSE_NOISE_RATIO: f64 = 4.0;

/// Whether a pair table of `cells` cells is sparse: `cells sigma > SPARSE_NOISE_RATIO
/// total` (all public), i.e. its dense release's expected noise `~0.8 sigma` a cell adds
/// up to over three times the records.
pub fn is_sparse(cells: usize, sigma: f64, total: f64) -> bool {
    cells as f64 * sigma > SPARSE_NOISE_RATIO * total
}

/// Each selected pair's share of `rho2` ([`shares`] of the compressed table sizes: public).
pub(crate) fn pair_shares(
    selected: &[(usize, usize)],
    sizes: &[usize],
    weighted: bool,
) -> Vec<f64> {
    shares(
        &selected
            .iter()
            .map(|&(a, b)| (sizes[a] * sizes[b]) as u64)
            .collect::<Vec<_>>(),
        weighted,
        PAIR_SHARE_CAP,
    )
}

/// Step 4 of MST, whoever measured: inference on every noisy measurement (inverse-variance
/// weighted by the loss, so a pair measured twice counts both), and the model file.
#[allow(clippy::too_many_arguments)]
pub(crate) fn assemble_mst(
    method: &str,
    table: &EncodedTable,
    cols: &[&EncodedColumn],
    opts: &MstOptions,
    rho: f64,
    compression: Vec<Compression>,
    measurements: Vec<NoisyMarginal>,
    selected: &[(usize, usize)],
    ledger: pets::dp::Ledger,
    progress: &Progress,
) -> Result<SynthModel> {
    let names: Vec<String> = cols.iter().map(|c| c.name().to_string()).collect();
    let sizes: Vec<usize> = compression.iter().map(Compression::size).collect();
    let ms: Vec<Measurement> = measurements.iter().map(|m| m.measurement.clone()).collect();
    let (model, report) = estimate_with(&sizes, &names, &ms, &[], &opts.estimation, progress)?;
    let schema = table.schema().select(&names)?;
    Ok(SynthModel {
        format: MODEL_FORMAT.into(),
        version: MODEL_VERSION,
        method: method.into(),
        schema,
        codebooks: cols.iter().map(|c| c.codebook).collect(),
        epsilon: opts.epsilon,
        delta: opts.delta,
        rho,
        compression,
        measurements,
        selected: selected
            .iter()
            .map(|&(a, b)| vec![names[a].clone(), names[b].clone()])
            .collect(),
        total: model.total,
        fitted: FittedTables {
            cliques: model.tree.cliques.clone(),
            neighbors: model.tree.neighbors.clone(),
            order: model.tree.order.clone(),
            tables: model.marginals.iter().map(|f| f.to_vec()).collect(),
        },
        estimation: report,
        ledger,
        notes: Vec::new(),
        budget_receipt: None,
        output: Vec::new(),
    })
}

/// The columns a fit synthesises, on the rows `bounded` keeps (MST and PrivBayes): the
/// named `columns`, or, when none are named, every encoded column that is not a direct
/// identifier. Borrowed when bounding keeps every row, else one copy of the kept rows'
/// codes.
pub(crate) fn synthesis_columns<'a>(
    table: &'a EncodedTable,
    columns: &[&str],
    bounded: &Bounded,
) -> Result<Vec<Cow<'a, EncodedColumn>>> {
    if bounded.n_rows() != table.n_rows() {
        return Err(SynthError::invalid(
            "bounded",
            bounded.n_rows(),
            format!(
                "the bounding was made for {} rows but the table has {}",
                bounded.n_rows(),
                table.n_rows()
            ),
        ));
    }
    // With no columns named, direct identifiers are never synthesised (a table encoded
    // against the declared schema may hold one, e.g. a date of birth); naming one opts in.
    let picked: Vec<&EncodedColumn> = if columns.is_empty() {
        table
            .columns()
            .iter()
            .filter(|c| c.spec.role != Role::DirectIdentifier)
            .collect()
    } else {
        columns
            .iter()
            .map(|c| table.column(c))
            .collect::<std::result::Result<_, _>>()?
    };
    // The kept rows only: one copy of the synthesised columns' codes when bounding drops
    // any, so the many counting passes below stay sequential (gathering through the row
    // index on every pass would be slower than copying once).
    let dropped = bounded.rows().filter(|rows| rows.len() < table.n_rows());
    let kept: Option<Vec<EncodedColumn>> = dropped.map(|rows| {
        picked
            .par_iter()
            .map(|c| EncodedColumn {
                spec: c.spec.clone(),
                codebook: c.codebook,
                codes: rows.iter().map(|&r| c.codes[r as usize]).collect(),
            })
            .collect()
    });
    let cols: Vec<Cow<'a, EncodedColumn>> = match kept {
        Some(k) => k.into_iter().map(Cow::Owned).collect(),
        None => picked.into_iter().map(Cow::Borrowed).collect(),
    };
    if cols.is_empty() {
        return Err(SynthError::invalid(
            "columns",
            0,
            "there are no encoded columns to synthesise (text columns are never synthesised)",
        ));
    }
    for (i, c) in cols.iter().enumerate() {
        if cols[..i].iter().any(|o| o.name() == c.name()) {
            return Err(SynthError::invalid(
                "columns",
                c.name(),
                "a column is listed twice",
            ));
        }
    }
    Ok(cols)
}

/// Step 1 of MST and PrivBayes: every column's noisy 1-way marginal, each its share of
/// `rho1` ([`shares`] of the declared sizes: public), labelled `"{method}: 1-way marginal
/// of ..."`, and each column's [`Compression`] (from the noisy counts only, when `compress`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn measure_one_ways(
    session: &mut Session,
    method: &str,
    cols: &[&EncodedColumn],
    source: &dyn CountSource,
    names: &[String],
    rho1: f64,
    weighted: bool,
    compress: bool,
    contribution: &pets::dp::Contribution,
) -> Result<(Vec<NoisyMarginal>, Vec<Compression>)> {
    let one_shares = shares(
        &cols
            .iter()
            .map(|c| u64::from(c.codebook.cardinality()))
            .collect::<Vec<_>>(),
        weighted,
        ONE_WAY_SHARE_CAP,
    );
    let mut compression = Vec::with_capacity(cols.len());
    let mut measurements: Vec<NoisyMarginal> = Vec::new();
    for (i, c) in cols.iter().enumerate() {
        let counts = source.one_way(i);
        let noisy = measure_gaussian(
            session,
            &format!("{method}: 1-way marginal of {}", names[i]),
            &names[i..=i],
            &counts,
            (rho1 * one_shares[i]).next_down().next_down(),
            contribution,
        )?;
        let (marginal, comp) = one_way_from_noisy(
            &names[i],
            i,
            c.codebook.cardinality(),
            &noisy.values,
            noisy.sigma,
            compress,
        );
        measurements.push(marginal);
        compression.push(comp);
    }
    Ok((measurements, compression))
}

/// Column `i`'s noisy 1-way counts (by declared code, noise of standard deviation `sigma`)
/// as MST keeps them: its [`Compression`] (values below `3 sigma` merged, when `compress`;
/// from the noisy counts only) and the compressed measurement. Shared by every fit that
/// measures 1-ways, pooled or federated.
pub(crate) fn one_way_from_noisy(
    name: &str,
    i: usize,
    card: u32,
    noisy: &[f64],
    sigma: f64,
    compress: bool,
) -> (NoisyMarginal, Compression) {
    let comp = if compress {
        Compression::from_noisy(name, noisy, sigma)
    } else {
        Compression::identity(name, card)
    };
    let (values, scale) = comp.compress_measurement(noisy);
    (
        NoisyMarginal {
            columns: vec![name.to_string()],
            measurement: Measurement {
                attrs: vec![i],
                values,
                sigma,
                scale,
                threshold: None,
            },
        },
        comp,
    )
}

/// Codes above which a column's 1-way share stops growing (see [`shares`]).
pub const ONE_WAY_SHARE_CAP: u64 = 256;
/// Cells above which a selected pair's share stops growing (see [`shares`]).
pub const PAIR_SHARE_CAP: u64 = 4_096;

/// Each marginal's share of its budget (the 1-ways' `rho1`, the selected pairs' `rho2`):
/// equal (MST's split), or, `weighted`, in proportion to `min(cells, cap)^(2/3)`. Why: a
/// marginal of `k` cells measured at `rho_i` has expected L1 error `k sigma_i sqrt(2/pi)`
/// with `sigma_i = 1 / sqrt(2 rho_i)`; minimising `sum_i k_i rho_i^(-1/2)` subject to
/// `sum_i rho_i = rho` (Lagrange) gives `rho_i ~ k_i^(2/3)`. A 2-valued column then gets a
/// fraction of the budget of a 220-valued one and loses nothing that shows (its two counts
/// are thousands, its noise tens), while the wide marginals, whose errors spread into every
/// pair they touch, gain most. The cap keeps a marginal of tens of thousands of cells
/// (mostly below the noise whatever its share) from taking the budget. The weights use
/// public sizes only (declared codes; compressed sizes from released counts): no budget.
pub fn shares(cells: &[u64], weighted: bool, cap: u64) -> Vec<f64> {
    let w: Vec<f64> = cells
        .iter()
        .map(|&k| {
            if weighted {
                (k.clamp(1, cap) as f64).powf(2.0 / 3.0)
            } else {
                1.0
            }
        })
        .collect();
    let total: f64 = w.iter().sum();
    w.iter().map(|x| x / total).collect()
}

/// The independent estimate's distribution of one column: the noisy 1-way marginal
/// (un-weighted by `Q`), clamped at zero and normalised (uniform if nothing is left).
pub(crate) fn independent_probs(m: &Measurement) -> Vec<f64> {
    let v: Vec<f64> = m
        .values
        .iter()
        .enumerate()
        .map(|(i, &y)| (y / m.scale.as_ref().map_or(1.0, |s| s[i])).max(0.0))
        .collect();
    let s: f64 = v.iter().sum();
    if s > 0.0 {
        v.iter().map(|x| x / s).collect()
    } else {
        vec![1.0 / v.len() as f64; v.len()]
    }
}

fn root(p: &mut [usize], mut i: usize) -> usize {
    while p[i] != i {
        p[i] = p[p[i]];
        i = p[i];
    }
    i
}

#[cfg(test)]
mod tests {
    #[test]
    fn delta_is_split_without_exceeding_it_and_sparse_pairs_are_mostly_noise() {
        for delta in [1e-9, 1e-5, 0.3, 5e-324, 1e-300] {
            assert_eq!(super::split_delta(delta, false), (delta, 0.0));
            let (conv, pairs) = super::split_delta(delta, true);
            assert!(conv > 0.0 && pairs >= 0.0, "{delta}: {conv} {pairs}");
            assert!(
                pairs <= delta * super::SPARSE_DELTA_SHARE,
                "{delta}: {pairs}"
            );
            // conv <= exact(delta - pairs): rounded by at most half the spacing below the
            // result, then moved down by that spacing. conv is 0.75 delta or delta, so
            // delta - conv is exact (Sterbenz) and this is the exact claim.
            assert!(delta - conv >= pairs, "{delta}: {conv} + {pairs}");
        }
        assert!(super::is_sparse(290_000, 20.0, 1e6));
        assert!(!super::is_sparse(290_000, 20.0, 2e6));
        assert!(!super::is_sparse(5_928, 22.0, 1e5));
        assert!(!super::is_sparse(60, 14.2, 1e3));
    }

    #[test]
    fn the_sparse_budget_sets_delta_aside_only_with_pairs() {
        let opts = super::MstOptions::new(1.0, 1e-9);
        let sparse = super::MstBudget::new(&[5, 300, 40], &opts, true).unwrap();
        let dense = super::MstBudget::new(&[5, 300, 40], &opts, false).unwrap();
        assert_eq!((dense.delta_pairs, dense.delta_conversion), (0.0, 1e-9));
        assert!(dense.sparse_delta().is_none());
        assert!(sparse.delta_pairs > 0.0 && sparse.delta_conversion + sparse.delta_pairs <= 1e-9);
        // Less delta to convert at: a slightly smaller rho (about 1%), still (1, 1e-9).
        assert!(sparse.rho < dense.rho && sparse.rho > 0.98 * dense.rho);
        assert_eq!(sparse.sparse_delta(), Some(sparse.delta_pairs));
        let session = sparse.session().unwrap();
        assert_eq!(session.total().delta(), sparse.delta_pairs);
        let (eps, d) = session
            .total()
            .to_approx_dp(sparse.delta_conversion)
            .unwrap();
        assert!(eps <= 1.0 && d <= 1e-9, "{eps} {d}");
        // A delta of 1 or more is refused as given, not after the split.
        let e = super::MstBudget::new(&[5, 300, 40], &super::MstOptions::new(1.0, 1.2), true)
            .unwrap_err();
        assert!(e.to_string().contains("1.2"), "{e}");
        // One pairable column: no pairs, nothing set aside.
        let one = super::MstBudget::new(&[5, 9_000], &opts, true).unwrap();
        assert_eq!((one.delta_pairs, one.rounds), (0.0, 0));
    }

    #[test]
    fn shares_are_equal_or_by_size_two_thirds_and_sum_to_one() {
        let eq = super::shares(&[2, 220, 36_059], false, 256);
        assert!(eq.iter().all(|s| (s - 1.0 / 3.0).abs() < 1e-12));
        let w = super::shares(&[2, 220, 36_059], true, 256);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // 220^(2/3) / 2^(2/3) = 110^(2/3) = 22.96; the capped column counts as 256.
        assert!((w[1] / w[0] - 110f64.powf(2.0 / 3.0)).abs() < 1e-9);
        assert!((w[2] / w[0] - 128f64.powf(2.0 / 3.0)).abs() < 1e-9);
    }

    #[test]
    fn pair_score_is_mst_at_zero_and_one_lipschitz_per_count() {
        let (pa, pb) = ([0.5, 0.5], [0.25, 0.75]);
        let x = [10u64, 30, 40, 20];
        // Independent estimate at total 100: [12.5, 37.5, 12.5, 37.5].
        let l1 = 2.5 + 7.5 + 27.5 + 17.5;
        assert!((super::pair_score(&x, &pa, &pb, 100.0, 0.0) - l1).abs() < 1e-9);
        // Only the error above tau counts.
        let t = (7.5 - 5.0) + (27.5 - 5.0) + (17.5 - 5.0);
        assert!((super::pair_score(&x, &pa, &pb, 100.0, 5.0) - t).abs() < 1e-9);
        // One more row in any cell moves the score by at most 1, whatever tau.
        for tau in [0.0, 3.0, 10.0, 30.0] {
            let base = super::pair_score(&x, &pa, &pb, 100.0, tau);
            for cell in 0..4 {
                let mut y = x;
                y[cell] += 1;
                let moved = (super::pair_score(&y, &pa, &pb, 100.0, tau) - base).abs();
                assert!(moved <= 1.0 + 1e-12, "tau {tau} cell {cell}: {moved}");
            }
        }
    }
}

//! PrivBayes: differentially private synthetic data from a private Bayesian network of
//! degree `k` (Zhang, Cormode, Procopiuc, Srivastava & Xiao, "PrivBayes: Private Data
//! Release via Bayesian Networks", SIGMOD 2014 and ACM TODS 42(4), 2017), in the
//! "PrivBayes + PGM" form of McKenna, Sheldon & Miklau (ICML 2019): the network's families
//! are measured with Gaussian noise and the model is estimated from them by the inference
//! engine ([`crate::inference`]), rather than by normalising each noisy conditional.
//!
//! Budget: `rho = cdp_rho(epsilon, delta)` (as MST), split in three parts:
//!
//! 1. `rho1 = (1 - s) rho / 2`: every 1-way marginal, as MST's step 1
//!    (the same code as MST's): they give the compression of rare values, the
//!    noisy total and the `P[X]` of the score below;
//! 2. `rho_sel = s rho` (`s` = [`PrivBayesOptions::structure_share`], default 0.3, PrivBayes'
//!    `beta`): the network, `r = d - 1` rounds of the exponential mechanism at `rho_sel / r`
//!    each (`rho = epsilon^2 / 8`, Cesar & Rogers 2021; the same `Selection` as MST's tree);
//! 3. `rho2`, what is left: the noisy marginal of every family `{X} u Pi`, split by table
//!    size ([`crate::mst::shares`]) or equally.
//!
//! **Structure.** PrivBayes adds one attribute at a time: at each step, among the pairs
//! `(X, Pi)` with `X` not yet in the network and `Pi` a set of `min(k, |selected|)`
//! attributes already in it, the exponential mechanism picks one by a score of how much `X`
//! depends on `Pi`. Three departures, each documented where it is made:
//!
//! - **The first attribute** is not drawn at random: the first round chooses among all
//!   ordered pairs `(X, {Y})`, so the root `Y` is the parent of the best first family. This
//!   costs nothing more (it is the first round) and spends no round on a coin.
//! - **Parent sets are cliques of the network so far** (a `Pi` whose members all lie in one
//!   earlier family): the model is then a `k`-tree, whose junction tree has exactly the
//!   families as cliques, so inference is exact and no triangulation can grow a clique
//!   beyond the capped family tables. It also keeps the candidates to `O(k d)` parent sets
//!   a step, not `C(d, k)`, so no subsampling is needed. The original allows any `k`-subset.
//! - **The score** is PrivBayes' `R` score (TODS §4.3: `R(X, Pi) = 1/2 || P[X, Pi] - P[X]
//!   P[Pi] ||_1`) in counts, with `P[X]` taken from the released 1-way marginal instead of
//!   the data, and soft-thresholded like MST's: [`family_score`]. Its sensitivity is 2 a
//!   row, with no reference to the (private) number of rows, whereas `R` itself has
//!   sensitivity `3 / n` and mutual information `~ log(n) / n` (Zhang et al., Lemma 4.1):
//!   both need the exact `n`, which would be an unprotected statistic. The mutual
//!   information is the other option ([`PrivBayesOptions::score`] =
//!   [`FamilyScore::Mi`]): scaled to counts, `n I(X; Pi)` in bits
//!   ([`mutual_information_score`]), whose sensitivity under adding or removing a row is
//!   `log2(n + 1) + log2(e)` with no reference to `n` beyond a public cap
//!   ([`MI_MAX_ROWS`]): [`MI_SCORE_SENSITIVITY`] bits a row.
//!
//! A family whose compressed table exceeds [`PrivBayesOptions::max_family_cells`] is not a
//! candidate; an attribute with no candidate of the full degree takes the largest parent set
//! that fits (PrivBayes' own fallback is its `theta`-usefulness rule). Identifier-like
//! columns (declared domain above `max_pair_values`, as MST) stay out of the network and are
//! sampled from their 1-way marginal. Every decision uses declared sizes, released values or
//! earlier selections only. Privacy is per record, or per person with [`Bounded`] (every
//! sensitivity times `m`).

use std::collections::{BTreeSet, HashMap};

use pets::data::{EncodedColumn, EncodedTable};
use pets::dp::bounding::Bounded;
use pets::dp::mechanisms::{DiscreteGaussian, Selection};
use pets::dp::{Cost, QueryRecord, Session};
use pets::progress::Progress;
use rayon::prelude::*;

use crate::compress::Compression;
use crate::error::{Result, SynthError};
use crate::inference::{EstimationOptions, Measurement, estimate_total, estimate_with};
use crate::measure::{count_mapped, measure_gaussian};
use crate::model::{FittedTables, MODEL_FORMAT, MODEL_VERSION, NoisyMarginal, SynthModel};
use crate::mst::{
    MST_WORK_BUDGET, PAIR_SHARE_CAP, cdp_rho, independent_probs, measure_one_ways, score_grid,
    shares, synthesis_columns,
};

/// Settings of [`fit_privbayes`].
#[derive(Debug, Clone, PartialEq)]
pub struct PrivBayesOptions {
    /// Target epsilon of (epsilon, delta)-DP.
    pub epsilon: f64,
    /// Target delta.
    pub delta: f64,
    /// Degree `k` of the network: each attribute has at most `k` parents. Default 2.
    pub degree: usize,
    /// Share `s` of rho spent choosing the network (PrivBayes' `beta`, whose paper default
    /// is 0.3); the rest is split equally between the 1-way marginals and the families.
    pub structure_share: f64,
    /// Largest compressed family table (`|X| prod |Pi|` cells) a candidate may have.
    /// Default `2^18`: the fit's time is mostly noise drawn for every cell, and a table of
    /// more cells than rows is mostly noise at any useful epsilon.
    pub max_family_cells: u64,
    /// Columns with more declared codes than this are identifier-like: measured 1-way only,
    /// never in the network (as [`crate::MstOptions::max_pair_values`]). Default 4,096.
    pub max_pair_values: u32,
    /// Merge values with noisy 1-way counts below `3 sigma` (MST's compression).
    pub compress: bool,
    /// Soft threshold of the score, in multiples of the family noise `sigma_2` (see
    /// [`family_score`]); 0 is the plain `R` score in counts. Default 1, as MST.
    pub score_threshold: f64,
    /// Split the 1-way budget by column size and the family budget by table size
    /// ([`crate::mst::shares`]) rather than equally. Default on.
    pub size_weighted_shares: bool,
    /// The score the network is chosen by: PrivBayes' `R` (default) or the mutual
    /// information ([`FamilyScore`]).
    pub score: FamilyScore,
    /// Inference settings.
    pub estimation: EstimationOptions,
}

/// The score PrivBayes ranks candidate families `(X, Pi)` by (Zhang et al. 2017, §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FamilyScore {
    /// PrivBayes' `R` score in counts, soft-thresholded ([`family_score`]): sensitivity 2
    /// a row. The paper's choice for general domains; the default.
    #[default]
    R,
    /// The mutual information `I(X; Pi)` scaled to counts, `n I` in bits
    /// ([`mutual_information_score`]): sensitivity [`MI_SCORE_SENSITIVITY`] (42) bits a
    /// row. The original PrivBayes (2014) score; at the same epsilon its selection noise is
    /// about 21 times the R score's, against scores that are about `n` times a family's
    /// dependence in bits instead of in rows. `score_threshold` does not apply.
    Mi,
}

impl std::str::FromStr for FamilyScore {
    type Err = SynthError;
    fn from_str(s: &str) -> Result<FamilyScore> {
        match s.to_ascii_lowercase().as_str() {
            "r" => Ok(FamilyScore::R),
            "mi" => Ok(FamilyScore::Mi),
            _ => Err(SynthError::invalid(
                "privbayes_score",
                s,
                "the PrivBayes scores are r (the R score, default) and mi (mutual information)",
            )),
        }
    }
}

impl FamilyScore {
    /// Its name at the front doors (`r`, `mi`).
    pub fn name(self) -> &'static str {
        match self {
            FamilyScore::R => "r",
            FamilyScore::Mi => "mi",
        }
    }
}

impl PrivBayesOptions {
    /// PrivBayes at (epsilon, delta) with degree 2, `beta = 0.3`, MST's compression,
    /// threshold and inference work budget.
    pub fn new(epsilon: f64, delta: f64) -> PrivBayesOptions {
        PrivBayesOptions {
            epsilon,
            delta,
            degree: 2,
            structure_share: 0.3,
            max_family_cells: 1 << 18,
            max_pair_values: 4_096,
            compress: true,
            score_threshold: 1.0,
            size_weighted_shares: true,
            score: FamilyScore::R,
            estimation: EstimationOptions {
                max_iters: 1000,
                work_budget: Some(MST_WORK_BUDGET),
                min_iters: 20,
                ..EstimationOptions::default()
            },
        }
    }

    /// Check every option (before any data are read).
    pub fn validate(&self) -> Result<()> {
        cdp_rho(self.epsilon, self.delta)?;
        if !(1..=8).contains(&self.degree) {
            return Err(SynthError::invalid(
                "degree",
                self.degree,
                "give the number of parents each attribute may have, 1 to 8 (2 is usual)",
            ));
        }
        if !(self.structure_share > 0.0 && self.structure_share < 1.0) {
            return Err(SynthError::invalid(
                "structure_share",
                self.structure_share,
                "it must be strictly between 0 and 1, e.g. 0.3 (PrivBayes' beta)",
            ));
        }
        if !(self.score_threshold >= 0.0 && self.score_threshold.is_finite()) {
            return Err(SynthError::invalid(
                "score_threshold",
                self.score_threshold,
                "give a finite multiple of the family noise sigma, at least 0",
            ));
        }
        if self.max_family_cells < 4 {
            return Err(SynthError::invalid(
                "max_family_cells",
                self.max_family_cells,
                "it must be at least 4 (one parent, two values each)",
            ));
        }
        Ok(())
    }
}

/// Sensitivity of [`family_score`] per row added or removed.
pub const FAMILY_SCORE_SENSITIVITY: f64 = 2.0;

/// PrivBayes' selection score of a family `(X, Pi)`, in counts:
///
/// ```text
/// score = sum_{pi, x} max(| n_{pi,x} - n_pi p_x | - tau, 0)
/// ```
///
/// over the cells of the family's table `counts` (row-major with `X` last, so each run of
/// `p.len()` cells is one parent configuration `pi`), `n_pi` the row total of `pi`, `p` the
/// public distribution of `X` (its clamped, normalised noisy 1-way) and `tau >= 0` a public
/// soft threshold. At `tau = 0` it is `2 n R(X, Pi)` of PrivBayes' `R` score with the
/// data's `P[X]` replaced by the released `p`: the L1 error of predicting `X`'s table from
/// `Pi`'s counts as if `X` were independent of `Pi`.
///
/// **Sensitivity 2 a row, as computed.** Adding one row in cell `(pi0, x0)` moves, for each
/// `x`, the quantity inside the absolute value of cell `(pi0, x)` by `[x = x0] - p_x`, so by
/// `(1 - p_x0) + sum_{x != x0} p_x <= 2` in total, and each term is 1-Lipschitz in it; no
/// other cell moves. The sum is computed exactly: counts are integers, `p` and `tau` are
/// truncated to the grid `2^-j` (`j` from public numbers, as MST's [`crate::mst::pair_score`])
/// with the truncated `p` summing to at most one, the terms and their sum are `i128`, the
/// total saturates at `2^52` units (a 1-Lipschitz clamp) and converts to `f64` without
/// rounding. Proof: [`crate::proofs::privbayes_selection`].
pub fn family_score(counts: &[u64], p: &[f64], total: f64, tau: f64) -> f64 {
    let j = score_grid(total, tau, 0.0);
    let unit: i128 = 1 << j;
    let scale = f64::from(1u32 << j);
    // Public numbers to the grid: truncation (`as` saturates and maps NaN to 0).
    let mut w: Vec<i128> = p
        .iter()
        .map(|&v| i128::from(((v * scale) as i64).clamp(0, 1 << j)))
        .collect();
    // The proof needs sum_x w_x <= 2^j exactly, whatever the float rounding of `p`.
    let mut excess = w.iter().sum::<i128>() - unit;
    while excess > 0 {
        let (i, _) = w
            .iter()
            .enumerate()
            .max_by_key(|(_, v)| **v)
            .expect("more than 2^j units need a weight");
        let cut = excess.min(w[i]);
        w[i] -= cut;
        excess -= cut;
    }
    let t = i128::from(((tau * scale) as i64).max(0));
    let mut acc: i128 = 0;
    if !w.is_empty() {
        for row in counts.chunks(w.len()) {
            let n_pi: i128 = row.iter().map(|&c| i128::from(c)).sum();
            for (&c, &wx) in row.iter().zip(&w) {
                let d = (i128::from(c) * unit - n_pi * wx).abs() - t;
                if d > 0 {
                    acc += d;
                }
            }
        }
    }
    // At most 2^52 units: exact as f64, and dividing by 2^j is exact too.
    acc.min(1i128 << 52) as f64 / scale
}

/// The most rows a table scored by [`mutual_information_score`] may have (`2^40`): public,
/// so the score's sensitivity does not depend on the private row count. A fit with the MI
/// score on more kept rows is refused.
pub const MI_MAX_ROWS: u64 = 1 << 40;

/// Sensitivity of [`mutual_information_score`] per row added or removed, in bits:
/// `log2(MI_MAX_ROWS + 1) + log2(e)` (the exact score's, 41.443) plus the computation's
/// rounding (at most 0.52), rounded up. Proof: [`crate::proofs::privbayes_selection`],
/// Lemma 4.
pub const MI_SCORE_SENSITIVITY: f64 = 42.0;

/// Fixed-point units a bit of [`mutual_information_score`] is summed in.
const MI_UNITS: f64 = 256.0;

/// `c log2 c` in units of `2^-8` bits (`0 log 0 = 0`), rounded to an integer: each value's
/// error is at most 0.065 bits for `c <= 2^40` (see [`mutual_information_score`]).
fn h_units(c: u64) -> i128 {
    if c < 2 {
        return 0;
    }
    let c = c as f64;
    (c * c.log2() * MI_UNITS).round() as i128
}

/// The mutual information of a family's table scaled to counts, in bits:
///
/// ```text
/// n I(X; Pi) = sum_{pi,x} h(n_{pi x}) - sum_x h(n_x) - sum_pi h(n_pi) + h(n),   h(c) = c log2 c
/// ```
///
/// over the cells of `counts` (row-major with `X` last: each run of `x_size` cells is one
/// parent configuration `pi`), `n_x`, `n_pi` and `n` its margins and total. This is
/// PrivBayes' 2014 score `I(X; Pi)` (Zhang et al., SIGMOD 2014 §4.2; TODS 2017 §4.1) times
/// `n`, so that it can be compared with no knowledge of `n`.
///
/// **Sensitivity `log2(n + 1) + log2(e)` bits a row** (`n + 1` the larger table's rows):
/// adding a row in cell `(pi0, x0)` changes four terms, `Delta = [Dh(n) - Dh(n_pi0)] -
/// [Dh(n_x0) - Dh(n_{pi0 x0})]` with `Dh(c) = h(c + 1) - h(c)` increasing (`h` is convex)
/// and `Dh(0) = 0`; each bracket lies in `[0, Dh(n)]` and `Dh(n) = log2(n + 1) + n log2(1 +
/// 1/n) < log2(n + 1) + log2(e)`. Zhang et al.'s Lemma 4.1 gives `I`'s own sensitivity,
/// `(1/n) log2 n + ((n - 1)/n) log2(n/(n - 1))` when `X` or `Pi` is binary and `(2/n)
/// log2((n + 1)/2) + ((n - 1)/n) log2((n + 1)/(n - 1))` otherwise, for neighbours that
/// replace a row in a table of public size `n`; pets' neighbours add or remove a row and
/// `n` is private, so the count-scaled score and the bound above are used instead (about
/// `n` times theirs). **As computed**: each `h` is `c * c.log2()` in `f64` (libm's `log2`
/// within 2 ulps; the product within `2^-50` relative, so within `2^-4` bits for `c <=
/// 2^40`), rounded to `2^-8` bits (another `2^-9`), and summed exactly in `i128`; a row
/// changes eight of these values, so the computed score moves by at most `0.52` bits more.
/// The sum saturates at `+-2^52` units (1-Lipschitz) and converts to `f64` exactly. Proof:
/// [`crate::proofs::privbayes_selection`], Lemma 4.
pub fn mutual_information_score(counts: &[u64], x_size: usize) -> f64 {
    if x_size == 0 || counts.is_empty() {
        return 0.0;
    }
    let mut n_x = vec![0u64; x_size];
    let (mut n, mut acc) = (0u64, 0i128);
    for row in counts.chunks(x_size) {
        let n_pi: u64 = row.iter().sum();
        n += n_pi;
        acc -= h_units(n_pi);
        for (nx, &c) in n_x.iter_mut().zip(row) {
            *nx += c;
            acc += h_units(c);
        }
    }
    acc -= n_x.iter().map(|&c| h_units(c)).sum::<i128>();
    acc += h_units(n);
    let cap = 1i128 << 52;
    acc.clamp(-cap, cap) as f64 / MI_UNITS
}

/// A family of the network: attribute `x` and its parents (indices, ascending).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Family {
    x: usize,
    parents: Vec<usize>,
}

impl Family {
    /// Its attributes, ascending (the measurement's order).
    fn attrs(&self) -> Vec<usize> {
        let mut a = self.parents.clone();
        a.push(self.x);
        a.sort_unstable();
        a
    }
}

/// The candidates of one round: for every attribute `x` not yet in the network, the parent
/// sets of the largest size `<= min(k, in the network)` among the network's cliques
/// (`complete`) whose family table fits `cap` cells. In the first round (`first`), every
/// ordered pair `(x, {y})`. Public: sizes, earlier selections.
fn round_candidates(
    first: bool,
    unselected: &[usize],
    complete: &BTreeSet<Vec<usize>>,
    in_network: usize,
    degree: usize,
    sizes: &[usize],
    cap: u64,
) -> Vec<Family> {
    let fits = |x: usize, pa: &[usize]| {
        pa.iter()
            .fold(sizes[x] as u128, |acc, &p| acc * sizes[p] as u128)
            <= u128::from(cap)
    };
    let mut out = Vec::new();
    for &x in unselected {
        if first {
            for &y in unselected {
                if y != x && fits(x, &[y]) {
                    out.push(Family {
                        x,
                        parents: vec![y],
                    });
                }
            }
            continue;
        }
        for s in (1..=degree.min(in_network)).rev() {
            let found: Vec<Family> = complete
                .iter()
                .filter(|pa| pa.len() == s && fits(x, pa))
                .map(|pa| Family {
                    x,
                    parents: pa.clone(),
                })
                .collect();
            if !found.is_empty() {
                out.extend(found);
                break;
            }
        }
    }
    out
}

/// Fit PrivBayes to the encoded `table` over `columns` (when empty, every encoded column
/// that is not a direct identifier), with row-level privacy. As [`crate::fit_mst`], the
/// table's domains are used as they are; [`crate::FitJob`] prepares them.
pub fn fit_privbayes(
    table: &EncodedTable,
    columns: &[&str],
    opts: &PrivBayesOptions,
) -> Result<SynthModel> {
    fit_privbayes_bounded_with(
        table,
        columns,
        opts,
        &Bounded::row_level(table.n_rows()),
        &Progress::none(),
    )
}

/// [`fit_privbayes`] on the rows `bounded` keeps (person-level privacy: every marginal has
/// L2 sensitivity `m` and every score `2m`), reporting to `progress` and stopping when asked
/// between releases (nothing measured so far is released).
pub fn fit_privbayes_bounded_with(
    table: &EncodedTable,
    columns: &[&str],
    opts: &PrivBayesOptions,
    bounded: &Bounded,
    progress: &Progress,
) -> Result<SynthModel> {
    progress.check()?;
    progress.stage("measuring", None, "tables");
    opts.validate()?;
    let rho = cdp_rho(opts.epsilon, opts.delta)?;
    let contribution = bounded.contribution().clone();
    let m = f64::from(contribution.max_rows_per_person);
    let mut session = Session::zcdp(rho)?.with_conversion_delta(opts.delta)?;
    let owned = synthesis_columns(table, columns, bounded)?;
    let cols: Vec<&EncodedColumn> = owned.iter().map(|c| c.as_ref()).collect();
    let names: Vec<String> = cols.iter().map(|c| c.name().to_string()).collect();
    let d = cols.len();
    if opts.score == FamilyScore::Mi && table.n_rows() as u64 >= MI_MAX_ROWS {
        return Err(SynthError::invalid(
            "privbayes_score",
            "mi",
            "the MI score's sensitivity holds for tables under 2^40 rows; use the R score",
        ));
    }
    // Identifier-like columns (declared domain: public) stay out of the network.
    let pairable: Vec<usize> = (0..d)
        .filter(|&i| cols[i].codebook.cardinality() <= opts.max_pair_values)
        .collect();
    let rounds = pairable.len().saturating_sub(1);
    // Every share rounded down, so the exact sum charged never exceeds rho (see MST).
    let (rho1, rho_sel) = if rounds == 0 {
        (rho, 0.0)
    } else {
        let sel = (rho * opts.structure_share).next_down();
        (((rho - sel) / 2.0).next_down(), sel)
    };
    let rho2_planned = (rho - rho1 - rho_sel).next_down().next_down().max(0.0);
    // The sigma a family would get at an equal split (public: rho, m and d only).
    let sigma2 = if rounds > 0 {
        DiscreteGaussian::for_rho(m, (rho2_planned / rounds as f64).next_down())?.scale()
    } else {
        0.0
    };

    // 1. Noisy 1-way marginals and compression.
    let (mut measurements, compression) = measure_one_ways(
        &mut session,
        "privbayes",
        &cols,
        &crate::counts::Rows(&cols),
        &names,
        rho1,
        opts.size_weighted_shares,
        opts.compress,
        &contribution,
    )?;
    let sizes: Vec<usize> = compression.iter().map(Compression::size).collect();
    let maps: Vec<Vec<u32>> = compression.iter().map(Compression::forward_map).collect();

    // 2. The network, one exponential mechanism a round.
    let mut families: Vec<Family> = Vec::new();
    if rounds > 0 {
        let one_way: Vec<Measurement> =
            measurements.iter().map(|m| m.measurement.clone()).collect();
        let total = estimate_total(&one_way);
        let probs: Vec<Vec<f64>> = one_way.iter().map(independent_probs).collect();
        let tau = opts.score_threshold * sigma2;
        let label = match opts.score {
            FamilyScore::R => format!(
                "privbayes: choose the next attribute and its parents (R score: L1 distance of \
                 its table from its noisy 1-way given the parents, above {} sigma_2 = {:.1} a \
                 cell)",
                opts.score_threshold, tau
            ),
            FamilyScore::Mi => "privbayes: choose the next attribute and its parents (mutual \
                 information with the parents, times the rows, in bits)"
                .to_string(),
        };
        let rho_round = (rho_sel / rounds as f64).next_down();
        let mut scores: HashMap<Family, f64> = HashMap::new();
        let mut unselected: Vec<usize> = pairable.clone();
        let mut complete: BTreeSet<Vec<usize>> = BTreeSet::new();
        let mut in_network = 0usize;
        for round in 0..rounds {
            progress.check()?;
            let cand = round_candidates(
                round == 0,
                &unselected,
                &complete,
                in_network,
                opts.degree,
                &sizes,
                opts.max_family_cells,
            );
            if cand.is_empty() {
                // No family fits the cap: the rest stay independent (public decision).
                break;
            }
            let fresh: Vec<&Family> = cand.iter().filter(|f| !scores.contains_key(f)).collect();
            let computed: Vec<(Family, f64)> = fresh
                .par_iter()
                .map(|f| {
                    let mut spec: Vec<(&[u32], &[u32], usize)> = f
                        .parents
                        .iter()
                        .map(|&p| (cols[p].codes.as_slice(), maps[p].as_slice(), sizes[p]))
                        .collect();
                    spec.push((&cols[f.x].codes, &maps[f.x], sizes[f.x]));
                    let x = count_mapped(&spec);
                    let score = match opts.score {
                        FamilyScore::R => family_score(&x, &probs[f.x], total, tau),
                        FamilyScore::Mi => mutual_information_score(&x, sizes[f.x]),
                    };
                    ((*f).clone(), score)
                })
                .collect();
            scores.extend(computed);
            let cand_scores: Vec<f64> = cand.iter().map(|f| scores[f]).collect();
            let sensitivity = match opts.score {
                FamilyScore::R => FAMILY_SCORE_SENSITIVITY,
                FamilyScore::Mi => MI_SCORE_SENSITIVITY,
            };
            let sel =
                Selection::for_cost(sensitivity * m, false, cand.len(), &Cost::rho(rho_round))?;
            let rel = session.release(
                &sel,
                &cand_scores,
                QueryRecord::new(&label, names.clone(), contribution.clone()),
            )?;
            let f = cand[rel.value].clone();
            // The new family's subsets of at most k attributes are cliques of the network.
            let mut members = f.parents.clone();
            members.push(f.x);
            for mask in 1u32..(1 << members.len()) {
                let mut s: Vec<usize> = (0..members.len())
                    .filter(|b| mask & (1 << b) != 0)
                    .map(|b| members[b])
                    .collect();
                if s.len() <= opts.degree {
                    s.sort_unstable();
                    complete.insert(s);
                }
            }
            unselected.retain(|&a| !members.contains(&a));
            in_network += if round == 0 { 2 } else { 1 };
            families.push(f);
        }
    }

    // 3. Noisy family marginals, sharing what is left (public sizes; released structure).
    let rho2 = session.remaining().main().next_down().next_down().max(0.0);
    let fam_attrs: Vec<Vec<usize>> = families.iter().map(Family::attrs).collect();
    let fam_shares = shares(
        &fam_attrs
            .iter()
            .map(|a| a.iter().map(|&i| sizes[i] as u64).product())
            .collect::<Vec<_>>(),
        opts.size_weighted_shares,
        PAIR_SHARE_CAP,
    );
    for (k, (f, attrs)) in families.iter().zip(&fam_attrs).enumerate() {
        progress.check()?;
        let spec: Vec<(&[u32], &[u32], usize)> = attrs
            .iter()
            .map(|&a| (cols[a].codes.as_slice(), maps[a].as_slice(), sizes[a]))
            .collect();
        let counts = count_mapped(&spec);
        let cols_named: Vec<String> = attrs.iter().map(|&a| names[a].clone()).collect();
        let parents: Vec<&str> = f.parents.iter().map(|&p| names[p].as_str()).collect();
        let noisy = measure_gaussian(
            &mut session,
            &format!(
                "privbayes: marginal of {} with its parents {}",
                names[f.x],
                parents.join(", ")
            ),
            &cols_named,
            &counts,
            (rho2 * fam_shares[k]).next_down().next_down(),
            &contribution,
        )?;
        measurements.push(NoisyMarginal {
            columns: cols_named,
            measurement: Measurement {
                attrs: attrs.clone(),
                values: noisy.values,
                sigma: noisy.sigma,
                scale: None,
                threshold: None,
            },
        });
    }

    // 4. Inference: the families are the cliques of a k-tree, so the junction tree has them.
    let ms: Vec<Measurement> = measurements.iter().map(|m| m.measurement.clone()).collect();
    let (model, report) = estimate_with(&sizes, &names, &ms, &[], &opts.estimation, progress)?;
    let schema = table.schema().select(&names)?;
    Ok(SynthModel {
        format: MODEL_FORMAT.into(),
        version: MODEL_VERSION,
        method: "privbayes".into(),
        schema,
        codebooks: cols.iter().map(|c| c.codebook).collect(),
        epsilon: opts.epsilon,
        delta: opts.delta,
        rho,
        compression,
        measurements,
        // Each family as [X, parents...].
        selected: families
            .iter()
            .map(|f| {
                std::iter::once(f.x)
                    .chain(f.parents.iter().copied())
                    .map(|i| names[i].clone())
                    .collect()
            })
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
        notes: Vec::new(),
        budget_receipt: None,
        output: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pets::data::{CodeBook, ColumnSpec, EncodedTable};

    /// A small deterministic generator (splitmix64), so the tests need no RNG crate.
    struct Mix(u64);
    impl Mix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u32) -> u32 {
            (self.next() % u64::from(n)) as u32
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn column(name: &str, n: u32, codes: Vec<u32>) -> EncodedColumn {
        EncodedColumn {
            spec: ColumnSpec::integer(name, 0, i64::from(n) - 1),
            codebook: CodeBook {
                n_values: n,
                null_code: None,
                other_code: None,
            },
            codes,
        }
    }

    /// A chain a -> b -> c -> d (each copies its predecessor 90% of the time, else a
    /// uniform value) and an independent e.
    fn chain(rows: usize, seed: u64) -> EncodedTable {
        let mut g = Mix(seed);
        let mut cols: Vec<Vec<u32>> = vec![Vec::new(); 5];
        for _ in 0..rows {
            let mut v = g.below(4);
            cols[0].push(v);
            for c in cols.iter_mut().take(4).skip(1) {
                if g.unit() >= 0.9 {
                    v = g.below(4);
                }
                c.push(v);
            }
            cols[4].push(g.below(3));
        }
        let mut it = cols.into_iter();
        EncodedTable::from_columns(vec![
            column("a", 4, it.next().unwrap()),
            column("b", 4, it.next().unwrap()),
            column("c", 4, it.next().unwrap()),
            column("d", 4, it.next().unwrap()),
            column("e", 3, it.next().unwrap()),
        ])
        .unwrap()
    }

    #[test]
    fn recovers_a_dependency_chain_at_high_epsilon() {
        let t = chain(20_000, 1);
        let model = fit_privbayes(&t, &[], &PrivBayesOptions::new(50.0, 1e-9)).unwrap();
        assert_eq!(model.method, "privbayes");
        assert_eq!(model.selected.len(), 4, "{:?}", model.selected);
        // Every chain link lies in one family; the independent column comes last.
        for (u, v) in [("a", "b"), ("b", "c"), ("c", "d")] {
            assert!(
                model
                    .selected
                    .iter()
                    .any(|f| f.iter().any(|x| x == u) && f.iter().any(|x| x == v)),
                "{u}-{v} missing from {:?}",
                model.selected
            );
        }
        assert_eq!(model.selected[3][0], "e", "{:?}", model.selected);
        assert!(model.selected[..3].iter().flatten().all(|c| c != "e"));
        // Degree 2: the first family has one parent, the later ones two.
        assert_eq!(model.selected[0].len(), 2);
        assert!(model.selected[1..].iter().all(|f| f.len() == 3));
        // Families are the junction tree's cliques: no triangulation grew one.
        assert!(model.fitted.cliques.iter().all(|c| c.len() <= 3));
    }

    /// `n I(X; Pi)` in bits, directly from its definition (floats; for comparison).
    fn mi_direct(counts: &[u64], x_size: usize) -> f64 {
        let n: f64 = counts.iter().sum::<u64>() as f64;
        let mut n_x = vec![0.0; x_size];
        let mut n_pi = Vec::new();
        for row in counts.chunks(x_size) {
            n_pi.push(row.iter().sum::<u64>() as f64);
            for (a, &c) in n_x.iter_mut().zip(row) {
                *a += c as f64;
            }
        }
        let mut acc = 0.0;
        for (p, row) in counts.chunks(x_size).enumerate() {
            for (x, &c) in row.iter().enumerate() {
                if c > 0 {
                    let c = c as f64;
                    acc += c * (c * n / (n_x[x] * n_pi[p])).log2();
                }
            }
        }
        acc
    }

    #[test]
    fn the_mi_score_is_the_rows_times_the_mutual_information() {
        // Independent: zero. X a copy of Pi: n H(X).
        assert!(mutual_information_score(&[10, 20, 30, 60], 2).abs() < 0.01);
        let copy = mutual_information_score(&[50, 0, 0, 50], 2);
        assert!((copy - 100.0).abs() < 0.01, "{copy}");
        let mut g = Mix(9);
        for _ in 0..50 {
            let x_size = 2 + g.below(4) as usize;
            let cells = x_size * (1 + g.below(6) as usize);
            let counts: Vec<u64> = (0..cells).map(|_| u64::from(g.below(40))).collect();
            let (a, b) = (
                mutual_information_score(&counts, x_size),
                mi_direct(&counts, x_size),
            );
            assert!((a - b).abs() < 0.05, "{a} vs {b} on {counts:?}");
        }
        assert_eq!("mi".parse::<FamilyScore>().unwrap(), FamilyScore::Mi);
        assert_eq!("R".parse::<FamilyScore>().unwrap(), FamilyScore::R);
        assert!("entropy".parse::<FamilyScore>().is_err());
    }

    /// Stability (proof: `privbayes_selection`, Lemma 4): adding one row anywhere moves the computed MI score by at most
    /// `log2(n + 1) + log2(e) + 0.52 <= 42` bits, on random and on adversarial tables, and
    /// the worst case is attained: a row with a new parent configuration and a new value of
    /// `X` in a large table moves it by `Dh(n) ~ log2(n + 1) + log2(e)`.
    #[test]
    fn one_row_moves_the_mi_score_by_at_most_its_sensitivity() {
        let bound = |n: u64| ((n + 1) as f64).log2() + std::f64::consts::LOG2_E + 0.52;
        let mut g = Mix(17);
        for trial in 0..400 {
            let x_size = 2 + g.below(5) as usize;
            let cells = x_size * (1 + g.below(8) as usize);
            // Sparse, skewed or large counts by turns.
            let counts: Vec<u64> = (0..cells)
                .map(|_| match trial % 3 {
                    0 => u64::from(g.below(3)),
                    1 => u64::from(g.below(2)) * u64::from(g.below(1_000_000)),
                    _ => u64::from(g.below(1 << 30)),
                })
                .collect();
            let n: u64 = counts.iter().sum();
            let before = mutual_information_score(&counts, x_size);
            for cell in 0..cells {
                let mut more = counts.clone();
                more[cell] += 1;
                let d = (mutual_information_score(&more, x_size) - before).abs();
                assert!(
                    d <= bound(n),
                    "trial {trial} cell {cell}: {d} > {}",
                    bound(n)
                );
                assert!(d <= MI_SCORE_SENSITIVITY);
            }
        }
        // Attained: X and Pi both fresh in a table of 2^39 rows.
        let n: u64 = 1 << 39;
        let counts = vec![n / 2, 0, 0, n / 2 - 1, 0, 0, 0, 0, 0];
        let mut more = counts.clone();
        more[8] += 1;
        let d = mutual_information_score(&more, 3) - mutual_information_score(&counts, 3);
        assert!((d - (39.0 + std::f64::consts::LOG2_E)).abs() < 0.6, "{d}");
        assert!(d <= MI_SCORE_SENSITIVITY);
    }

    #[test]
    fn the_mi_score_recovers_a_dependency_chain_and_charges_its_sensitivity() {
        let t = chain(20_000, 1);
        let mut o = PrivBayesOptions::new(50.0, 1e-9);
        o.score = FamilyScore::Mi;
        let model = fit_privbayes(&t, &[], &o).unwrap();
        for (u, v) in [("a", "b"), ("b", "c"), ("c", "d")] {
            assert!(
                model
                    .selected
                    .iter()
                    .any(|f| f.iter().any(|x| x == u) && f.iter().any(|x| x == v)),
                "{u}-{v} missing from {:?}",
                model.selected
            );
        }
        assert_eq!(model.selected[3][0], "e", "{:?}", model.selected);
        let labels: Vec<String> = model
            .ledger
            .entries
            .iter()
            .map(|e| e.query.clone())
            .collect();
        assert!(
            labels.iter().any(|l| l.contains("mutual information")),
            "{labels:?}"
        );
        let spent = model.ledger.spent.main();
        assert!(spent <= model.rho, "{spent} > {}", model.rho);
    }

    #[test]
    fn spends_exactly_the_budget_and_the_ledger_adds_up() {
        let t = chain(5_000, 2);
        for (eps, k, s) in [(1.0, 2, 0.3), (0.3, 1, 0.5), (4.0, 3, 0.1)] {
            let mut o = PrivBayesOptions::new(eps, 1e-9);
            o.degree = k;
            o.structure_share = s;
            let model = fit_privbayes(&t, &[], &o).unwrap();
            let rho = cdp_rho(eps, 1e-9).unwrap();
            assert_eq!(model.rho, rho);
            let spent = model.ledger.spent.main();
            assert!(spent <= rho, "{spent} > {rho}");
            assert!(spent >= rho * (1.0 - 1e-9), "{spent} < {rho}");
            let sum: f64 = model.ledger.entries.iter().map(|e| e.charged.main()).sum();
            assert!((sum - spent).abs() <= 1e-12 * rho, "{sum} vs {spent}");
            // 5 one-ways, 4 selections, 4 families; the selections cost s rho.
            assert_eq!(model.ledger.entries.len(), 5 + 4 + 4);
            let sel: f64 = model
                .ledger
                .entries
                .iter()
                .filter(|e| e.query.starts_with("privbayes: choose"))
                .map(|e| e.charged.main())
                .sum();
            assert!(sel <= s * rho && sel >= s * rho * (1.0 - 1e-9), "{sel}");
            assert!(
                model
                    .ledger
                    .entries
                    .iter()
                    .all(|e| e.query.starts_with("privbayes: "))
            );
        }
    }

    #[test]
    fn person_level_fits_charge_twice_m_for_scores_and_m_for_marginals() {
        use pets::dp::bounding::RowKeys;
        let t = chain(6_000, 6);
        // Synthetic people with 1-4 rows each, at most 3 kept.
        let ids: Vec<u32> = (0..t.n_rows() as u32).map(|r| (r + r % 4) / 4).collect();
        let n_keys = *ids.iter().max().unwrap() as usize + 1;
        let keys = RowKeys::from_ids("person", ids, n_keys).unwrap();
        let bounded = Bounded::by_person(&keys, 3, 1).unwrap();
        let o = PrivBayesOptions::new(1.0, 1e-9);
        let model = fit_privbayes_bounded_with(&t, &[], &o, &bounded, &Progress::none()).unwrap();
        let spent = model.ledger.spent.main();
        assert!(spent <= model.rho && spent >= model.rho * (1.0 - 1e-9));
        for e in &model.ledger.entries {
            let want = if e.query.starts_with("privbayes: choose") {
                2.0 * 3.0
            } else {
                3.0
            };
            assert_eq!(e.mechanism.sensitivity.value, want, "{}", e.query);
            assert_eq!(e.contribution.max_rows_per_person, 3);
        }
        // A bounding made for another table is refused.
        let other = Bounded::row_level(10);
        assert!(fit_privbayes_bounded_with(&t, &[], &o, &other, &Progress::none()).is_err());
    }

    #[test]
    fn one_row_moves_every_score_by_at_most_two() {
        let mut g = Mix(7);
        for case in 0..400 {
            let kx = 1 + g.below(5) as usize;
            let kp = 1 + g.below(6) as usize;
            let counts: Vec<u64> = (0..kx * kp)
                .map(|_| u64::from(g.below(if case % 2 == 0 { 5 } else { 5_000 })))
                .collect();
            let mut p: Vec<f64> = (0..kx).map(|_| g.unit()).collect();
            let s: f64 = p.iter().sum();
            p.iter_mut().for_each(|v| *v /= s);
            if case % 5 == 0 {
                // A sloppy distribution (sums above one): the grid weights are cut back.
                p.iter_mut().for_each(|v| *v *= 1.3);
            }
            let total = counts.iter().sum::<u64>() as f64 * (0.5 + g.unit());
            let tau = [0.0, 0.7, 3.0, 40.0][case % 4];
            let base = family_score(&counts, &p, total, tau);
            for cell in 0..counts.len() {
                let mut up = counts.clone();
                up[cell] += 1;
                let moved = (family_score(&up, &p, total, tau) - base).abs();
                assert!(moved <= FAMILY_SCORE_SENSITIVITY, "case {case}: {moved}");
                if counts[cell] > 0 {
                    let mut down = counts.clone();
                    down[cell] -= 1;
                    let moved = (family_score(&down, &p, total, tau) - base).abs();
                    assert!(moved <= FAMILY_SCORE_SENSITIVITY, "case {case}: {moved}");
                }
            }
        }
        // The bound is reached: with p = (0, 1), a row in value 0 moves the score by 2.
        let s0 = family_score(&[0, 10], &[0.0, 1.0], 10.0, 0.0);
        let s1 = family_score(&[1, 10], &[0.0, 1.0], 10.0, 0.0);
        assert_eq!(s0, 0.0);
        assert_eq!(s1, 2.0);
    }

    #[test]
    fn removing_a_row_from_the_table_moves_each_candidate_score_by_at_most_two() {
        let t = chain(3_000, 3);
        let p = [0.3, 0.2, 0.4, 0.1];
        let score = |t: &EncodedTable, x: &str, pa: &[&str]| {
            let mut spec: Vec<(&[u32], &[u32], usize)> = Vec::new();
            let ident: Vec<u32> = (0..4).collect();
            let cols: Vec<&EncodedColumn> = pa
                .iter()
                .chain(std::iter::once(&x))
                .map(|c| t.column(c).unwrap())
                .collect();
            for c in &cols {
                spec.push((&c.codes, &ident, 4));
            }
            family_score(&count_mapped(&spec), &p, 3_000.0, 1.5)
        };
        for drop in [0usize, 17, 2_999] {
            let smaller = EncodedTable::from_columns(
                t.columns()
                    .iter()
                    .map(|c| {
                        let mut codes = c.codes.clone();
                        codes.remove(drop);
                        column(c.name(), c.codebook.cardinality(), codes)
                    })
                    .collect(),
            )
            .unwrap();
            for (x, pa) in [("b", &["a"][..]), ("c", &["a", "b"]), ("a", &["c", "d"])] {
                let moved = (score(&t, x, pa) - score(&smaller, x, pa)).abs();
                assert!(moved <= 2.0, "{x} | {pa:?}: {moved}");
            }
        }
    }

    #[test]
    fn high_epsilon_fits_are_repeatable_and_seeded_samples_are_identical() {
        // Links of clearly different strengths (0.95, 0.7, 0.45), degree 1: the tree is
        // a-b-c-d whatever the (fresh, unseeded) noise; which end of a link is the parent
        // may differ between fits (the two directions score almost the same).
        let mut g = Mix(4);
        let mut cols: Vec<Vec<u32>> = vec![Vec::new(); 4];
        for _ in 0..10_000 {
            let mut v = g.below(4);
            cols[0].push(v);
            for (c, keep) in cols.iter_mut().skip(1).zip([0.95, 0.7, 0.45]) {
                if g.unit() >= keep {
                    v = g.below(4);
                }
                c.push(v);
            }
        }
        let t = EncodedTable::from_columns(
            ["a", "b", "c", "d"]
                .iter()
                .zip(cols)
                .map(|(n, c)| column(n, 4, c))
                .collect(),
        )
        .unwrap();
        let mut o = PrivBayesOptions::new(50.0, 1e-9);
        o.degree = 1;
        let edges = |m: &SynthModel| {
            let mut e: Vec<Vec<String>> = m
                .selected
                .iter()
                .map(|f| {
                    let mut f = f.clone();
                    f.sort();
                    f
                })
                .collect();
            e.sort();
            e
        };
        let a = fit_privbayes(&t, &[], &o).unwrap();
        for _ in 0..3 {
            let b = fit_privbayes(&t, &[], &o).unwrap();
            assert_eq!(edges(&a), edges(&b));
        }
        assert_eq!(edges(&a), [["a", "b"], ["b", "c"], ["c", "d"]]);
        let s1 = a.sample_table(500, 9).unwrap();
        let s2 = a.sample_table(500, 9).unwrap();
        let s3 = a.sample_table(500, 10).unwrap();
        let codes = |s: &EncodedTable| -> Vec<Vec<u32>> {
            s.columns().iter().map(|c| c.codes.clone()).collect()
        };
        assert_eq!(codes(&s1), codes(&s2));
        assert_ne!(codes(&s1), codes(&s3));
    }

    #[test]
    fn a_small_fit_samples_its_columns_and_identifier_like_ones_stay_out() {
        let t = chain(2_000, 5);
        let mut o = PrivBayesOptions::new(1.0, 1e-9);
        let cols = ["d", "a", "e", "b"];
        let model = fit_privbayes(&t, &cols, &o).unwrap();
        let names: Vec<&str> = model
            .schema
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, cols);
        assert_eq!(model.selected.len(), 3);
        let s = model.sample_table(300, 1).unwrap();
        assert_eq!(s.n_rows(), 300);
        let out: Vec<&str> = s.columns().iter().map(|c| c.name()).collect();
        assert_eq!(out, cols);
        // Columns of more than 3 declared values identifier-like: only e could join a
        // network, so there is none, and every column is sampled from its 1-way marginal.
        o.max_pair_values = 3;
        let flat = fit_privbayes(&t, &cols, &o).unwrap();
        assert!(flat.selected.is_empty());
        assert_eq!(flat.ledger.entries.len(), 4);
        assert_eq!(flat.sample_table(50, 1).unwrap().n_rows(), 50);
        o.max_pair_values = 4_096;
        // One column: the whole budget measures its 1-way marginal.
        let one = fit_privbayes(&t, &["c"], &o).unwrap();
        assert!(one.selected.is_empty());
        assert_eq!(one.ledger.entries.len(), 1);
        // Options are checked.
        o.degree = 0;
        assert!(
            fit_privbayes(&t, &[], &o)
                .unwrap_err()
                .to_string()
                .contains("degree")
        );
    }
}

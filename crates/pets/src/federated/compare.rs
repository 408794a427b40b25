//! Cross-provider comparison of released rates: a **funnel plot** in numbers.
//!
//! A rate table (`mean(total_time_in_dept_min > 240) by provider_code`) gives every
//! provider's noisy rate with an interval for the DP noise. A release panel, or the Model
//! Health System's peer comparison, asks the next question: which providers differ from the
//! rest by more than chance? The standard answer for institutional rates is the funnel plot
//! (Spiegelhalter 2005, "Funnel plots for comparing institutional performance", Statistics
//! in Medicine 24:1185; used for NHS indicators such as SHMI): a provider with `n` cases is
//! compared with the pooled rate `p` through binomial control limits
//! `p +- z sqrt(p (1 - p) / n)`, at `z = 1.96` (95%, "warning") and `z = 3.09` (99.8%,
//! "alarm").
//!
//! **Peers.** The last dimension of the table is the one compared (`provider_code`); the
//! dimensions before it, if any, make peer groups: `by department_type, provider_code`
//! compares each provider with the pooled rate of its own department type (a walk-in centre
//! with walk-in centres), as the Model Health System compares a trust with its peers. A table
//! with one dimension (or none) is one group.
//!
//! Here every input is itself noisy, so the comparison is made to hold whatever the noise
//! was, within the release's intervals:
//!
//! - the pooled rate `p = sum S_i / sum N_i` over the group's cells (noisy sums and counts
//!   added: post-processing), with an interval from the sums' and counts' noise, whose
//!   variances add (`sqrt(K)` times a cell's sub-Gaussian half-width for `K` cells, plus
//!   `K / 2` for the counts' rounding);
//! - a cell is **above** at a level when the lower end of its own interval is above the upper
//!   control limit for every pooled rate in the pooled interval, computed with the smallest
//!   count in the count's interval (the widest limits): `lo_i > max_{p in [p_lo, p_hi]}
//!   p + z sqrt(p (1 - p) / n_lo)`. The limit is concave in `p`, so its maximum over the
//!   interval is found exactly enough by a golden-section search. **Below** is the mirror
//!   image. Otherwise the cell is **within**; a cell whose noisy count is below 1 is
//!   **too few**.
//!
//! All of it reads only released, noisy figures: it is post-processing, costs no budget, and
//! adds no exact statistic. What it does not do: it takes the binomial model for the
//! variation between providers (no over-dispersion adjustment), and it treats the noise
//! intervals and the control limits separately (a flag needs both to agree), which is
//! conservative.

use serde::{Deserialize, Serialize};

/// `z` of the 95% two-sided control limit.
pub const Z_WARNING: f64 = 1.959_963_984_540_054;
/// `z` of the 99.8% two-sided control limit.
pub const Z_ALARM: f64 = 3.090_232_306_167_813_5;

/// Where one cell's rate lies against the funnel's control limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Funnel {
    /// Above the 99.8% limit.
    AboveAlarm,
    /// Above the 95% limit (not the 99.8% one).
    AboveWarning,
    /// Within the 95% limits, or not clear of them given the noise.
    Within,
    /// Below the 95% limit (not the 99.8% one).
    BelowWarning,
    /// Below the 99.8% limit.
    BelowAlarm,
    /// A noisy count below 1: nothing to compare.
    TooFew,
}

impl Funnel {
    /// A short label for tables: `above 99.8%`, `within`, ...
    pub fn label(self) -> &'static str {
        match self {
            Funnel::AboveAlarm => "above 99.8%",
            Funnel::AboveWarning => "above 95%",
            Funnel::Within => "within",
            Funnel::BelowWarning => "below 95%",
            Funnel::BelowAlarm => "below 99.8%",
            Funnel::TooFew => "too few",
        }
    }
}

/// One peer group's pooled rate (module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    /// The pooled rate of the group's cells (`None` when the pooled noisy count is below 1).
    pub rate: Option<f64>,
    /// Its interval at the release's level (noise only).
    pub interval: (f64, f64),
    /// The pooled noisy count.
    pub count: i64,
}

/// A rate table's comparison of every cell with its peer group's pooled rate (module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateComparison {
    /// Cells per peer group: the size of the table's last dimension (cells `g * group_cells`
    /// up to `(g + 1) * group_cells` are group `g`, in row-major order).
    pub group_cells: usize,
    /// Each peer group's pooled rate.
    pub pools: Vec<Pool>,
    /// Each cell against its group's funnel limits, in the table's cell order.
    pub cells: Vec<Funnel>,
    /// The method, for the reader.
    pub method: String,
}

/// The released figures of one rate table that the comparison reads.
#[derive(Debug, Clone, Copy)]
pub struct RateCells<'a> {
    /// Noisy counts (rounded to integers).
    pub counts: &'a [i64],
    /// Noisy sums of the 0/1 values.
    pub sums: &'a [f64],
    /// Each cell's rate interval at `1 - alpha`.
    pub intervals: &'a [(f64, f64)],
    /// A cell's count half-width at `1 - alpha / 2` (noise; rounding not included).
    pub count_half_width: f64,
    /// A cell's sum half-width at `1 - alpha / 2`.
    pub sum_half_width: f64,
    /// The grid's resolution (the rounding of a value; 0/1 values are exact on it).
    pub resolution: f64,
}

/// Compare every cell of a rate table with its peer group's pooled rate (module docs):
/// groups of `group_cells` consecutive cells (the size of the table's last dimension; all
/// the cells when it has none).
pub fn compare_rates(cells: RateCells<'_>, group_cells: usize) -> RateComparison {
    let n = cells.counts.len();
    let group_cells = if group_cells == 0 || !n.is_multiple_of(group_cells) {
        n.max(1)
    } else {
        group_cells
    };
    let mut pools = Vec::new();
    let mut flags = Vec::with_capacity(n);
    for lo in (0..n).step_by(group_cells) {
        let hi = lo + group_cells;
        let (pool, group) = compare_group(&cells, lo..hi);
        pools.push(pool);
        flags.extend(group);
    }
    RateComparison {
        group_cells,
        pools,
        cells: flags,
        method: "funnel plot (Spiegelhalter 2005): binomial control limits around the \
                 pooled rate of the cell's peer group (the cells sharing every dimension but \
                 the last) at 95% and 99.8%; a cell is flagged only when its whole noise \
                 interval lies beyond the limits for every pooled rate in the pooled \
                 interval (post-processing of the noisy release)"
            .into(),
    }
}

/// The pool of the cells `range` and each cell's place against its funnel limits.
fn compare_group(cells: &RateCells<'_>, range: std::ops::Range<usize>) -> (Pool, Vec<Funnel>) {
    let counts = &cells.counts[range.clone()];
    let k = counts.len().max(1) as f64;
    let count: i64 = counts.iter().sum();
    let sum: f64 = cells.sums[range.clone()].iter().sum();
    // Independent noise in each cell: variances add, so the sub-Gaussian half-width of the
    // total is sqrt(K) times a cell's; the counts were rounded (1/2 each).
    let hs = cells.sum_half_width * k.sqrt();
    let hc = cells.count_half_width * k.sqrt() + 0.5 * k;
    let interval = crate::federated::values::ratio_interval(
        sum,
        hs,
        count as f64,
        hc,
        0.0,
        1.0,
        cells.resolution / 2.0,
    );
    let rate = (count >= 1).then(|| (sum / count as f64).clamp(0.0, 1.0));
    let (p_lo, p_hi) = interval;
    let n_half = cells.count_half_width + 0.5;
    let flags = counts
        .iter()
        .zip(&cells.intervals[range])
        .map(|(&n, &(lo, hi))| {
            if n < 1 || rate.is_none() {
                return Funnel::TooFew;
            }
            let n_lo = (n as f64 - n_half).max(1.0);
            let upper = |z: f64| max_concave(p_lo, p_hi, |p| p + z * sd(p, n_lo));
            let lower = |z: f64| -max_concave(p_lo, p_hi, |p| -(p - z * sd(p, n_lo)));
            if lo > upper(Z_ALARM) {
                Funnel::AboveAlarm
            } else if lo > upper(Z_WARNING) {
                Funnel::AboveWarning
            } else if hi < lower(Z_ALARM) {
                Funnel::BelowAlarm
            } else if hi < lower(Z_WARNING) {
                Funnel::BelowWarning
            } else {
                Funnel::Within
            }
        })
        .collect();
    (
        Pool {
            rate,
            interval,
            count,
        },
        flags,
    )
}

/// The binomial standard error `sqrt(p (1 - p) / n)`.
fn sd(p: f64, n: f64) -> f64 {
    (p * (1.0 - p)).max(0.0).sqrt() / n.sqrt()
}

/// The maximum of a concave `f` on `[a, b]`: golden-section search to 1e-12, then the best
/// of the bracket and both ends.
fn max_concave(a: f64, b: f64, f: impl Fn(f64) -> f64) -> f64 {
    let (mut lo, mut hi) = (a.min(b), a.max(b));
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let mut x1 = hi - g * (hi - lo);
    let mut x2 = lo + g * (hi - lo);
    let (mut f1, mut f2) = (f(x1), f(x2));
    while hi - lo > 1e-12 {
        if f1 < f2 {
            lo = x1;
            x1 = x2;
            f1 = f2;
            x2 = lo + g * (hi - lo);
            f2 = f(x2);
        } else {
            hi = x2;
            x2 = x1;
            f2 = f1;
            x1 = hi - g * (hi - lo);
            f1 = f(x1);
        }
    }
    [f(a), f(b), f1, f2, f((lo + hi) / 2.0)]
        .into_iter()
        .fold(f64::NEG_INFINITY, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_concave_maximum_is_found_inside_and_at_the_ends() {
        let inside = max_concave(0.0, 1.0, |p| p + 3.0 * sd(p, 10.0));
        // Brute force on a fine grid: never above the search's answer.
        let grid = (0..=100_000)
            .map(|i| i as f64 / 100_000.0)
            .map(|p| p + 3.0 * sd(p, 10.0))
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(
            inside >= grid - 1e-12 && inside - grid < 1e-9,
            "{inside} {grid}"
        );
        assert_eq!(max_concave(0.2, 0.3, |p| p), 0.3);
        assert_eq!(max_concave(0.2, 0.3, |p| -p), -0.2);
    }

    /// A release of three providers around a pooled rate of about 0.2: one at the rate, one
    /// far above, one far below, one tiny; noise intervals of +-0.01.
    #[test]
    fn providers_far_from_the_pool_are_flagged_and_the_others_are_not() {
        let counts = [10_000, 10_000, 10_000, 0];
        let rates = [0.20, 0.30, 0.10, 0.0];
        let sums: Vec<f64> = counts
            .iter()
            .zip(rates)
            .map(|(&n, r)| n as f64 * r)
            .collect();
        let intervals: Vec<(f64, f64)> = rates.iter().map(|r| (r - 0.01, r + 0.01)).collect();
        let c = compare_rates(
            RateCells {
                counts: &counts,
                sums: &sums,
                intervals: &intervals,
                count_half_width: 5.0,
                sum_half_width: 5.0,
                resolution: 1.0 / 1_048_576.0,
            },
            4,
        );
        assert_eq!(
            c.cells,
            vec![
                Funnel::Within,
                Funnel::AboveAlarm,
                Funnel::BelowAlarm,
                Funnel::TooFew
            ]
        );
        assert_eq!(c.pools.len(), 1);
        assert_eq!(c.pools[0].count, 30_000);
        let p = c.pools[0].rate.unwrap();
        assert!((p - 0.2).abs() < 1e-12, "{p}");
        let (lo, hi) = c.pools[0].interval;
        assert!(lo < 0.2 && 0.2 < hi && hi - lo < 0.01, "{lo} {hi}");
    }

    #[test]
    fn each_peer_group_has_its_own_pool() {
        // Two groups (say department types) of two providers: rates 0.30 and 0.32, then
        // 0.02 and 0.03. Pooled over all four, every provider would be flagged; against its
        // own peers none is.
        let counts = [10_000, 10_000, 10_000, 10_000];
        let rates = [0.30, 0.32, 0.02, 0.03];
        let sums: Vec<f64> = rates.iter().map(|r| r * 10_000.0).collect();
        let intervals: Vec<(f64, f64)> = rates.iter().map(|r| (r - 0.01, r + 0.01)).collect();
        let cells = RateCells {
            counts: &counts,
            sums: &sums,
            intervals: &intervals,
            count_half_width: 5.0,
            sum_half_width: 5.0,
            resolution: 0.0,
        };
        let peers = compare_rates(cells, 2);
        assert_eq!(peers.group_cells, 2);
        assert_eq!(peers.pools.len(), 2);
        assert!((peers.pools[0].rate.unwrap() - 0.31).abs() < 1e-12);
        assert!((peers.pools[1].rate.unwrap() - 0.025).abs() < 1e-12);
        assert!(
            peers.cells.iter().all(|&f| f == Funnel::Within),
            "{:?}",
            peers.cells
        );
        let all = compare_rates(cells, 4);
        assert_eq!(all.pools.len(), 1);
        assert_eq!(
            all.cells,
            vec![
                Funnel::AboveAlarm,
                Funnel::AboveAlarm,
                Funnel::BelowAlarm,
                Funnel::BelowAlarm
            ]
        );
        // A group size that does not divide the cells: one group.
        assert_eq!(compare_rates(cells, 3).pools.len(), 1);
    }

    #[test]
    fn a_difference_the_limits_or_the_noise_explain_is_not_flagged() {
        // 100 cases: the 95% limits around 0.2 are about +-0.078.
        let counts = [100, 100, 100, 100];
        let intervals = [(0.26, 0.28), (0.20, 0.30), (0.29, 0.31), (0.35, 0.37)];
        let sums = [27.0, 25.0, 30.0, 36.0];
        let c = compare_rates(
            RateCells {
                counts: &counts,
                sums: &sums,
                intervals: &intervals,
                count_half_width: 0.0,
                sum_half_width: 0.0,
                resolution: 0.0,
            },
            4,
        );
        // Pooled 118/400 = 0.295; 95% limits at n = 100: +-0.0894, 99.8%: +-0.141.
        assert_eq!(c.cells[0], Funnel::Within);
        assert_eq!(
            c.cells[1],
            Funnel::Within,
            "its noise interval reaches the pool"
        );
        assert_eq!(c.cells[2], Funnel::Within);
        assert_eq!(c.cells[3], Funnel::Within, "0.35 > 0.295 + 0.0894 fails");
        let far = compare_rates(
            RateCells {
                counts: &[100, 100, 100, 100],
                sums: &[20.0, 20.0, 20.0, 40.0],
                intervals: &[(0.19, 0.21), (0.19, 0.21), (0.19, 0.21), (0.39, 0.41)],
                count_half_width: 0.0,
                sum_half_width: 0.0,
                resolution: 0.0,
            },
            4,
        );
        // Pooled 0.25; 95% limit 0.25 + 0.0849 = 0.335, 99.8% limit 0.25 + 0.134 = 0.384.
        assert_eq!(far.cells[3], Funnel::AboveAlarm);
        let warn = compare_rates(
            RateCells {
                counts: &[100, 100, 100, 100],
                sums: &[20.0, 20.0, 20.0, 36.0],
                intervals: &[(0.19, 0.21), (0.19, 0.21), (0.19, 0.21), (0.35, 0.37)],
                count_half_width: 0.0,
                sum_half_width: 0.0,
                resolution: 0.0,
            },
            4,
        );
        // Pooled 0.24: 95% limit 0.325, 99.8% limit 0.372.
        assert_eq!(warn.cells[3], Funnel::AboveWarning);
    }
}

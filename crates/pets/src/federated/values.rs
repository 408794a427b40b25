//! Federated sums and means of a numeric column with public bounds, optionally grouped by
//! the same dimensions as count tables (proof: `federated/proofs/federated_sums.md`).
//!
//! Each trust clamps every kept value to the query's public `[lower, upper]` (after cutting
//! each person to `m` rows), rounds it to a public fixed-point grid `2^-k Z` chosen from the
//! bounds alone ([`FixedPoint::for_bound_within`] with `B = max(|lower|, |upper|)` and at most
//! `2^20` units: `C = ceil(B 2^k) <= 2^20`, ties away from zero), and adds the integers into
//! its cells. A mean's table carries two segments in the one vector: the count of rows with a
//! value, each row weighted by [`VALUE_COUNT_WEIGHT`] `= 2^20`, then the sum. Plain count
//! tables in a query with sums or means are weighted the same way, so every table's
//! per-person sensitivity is within a factor 2 of every other's (see
//! [`crate::federated::FederatedQuery::l2_squared`]).
//!
//! Syntax (every front door): `sum(COLUMN, LOWER, UPPER)` or `mean(COLUMN, LOWER, UPPER)`,
//! optionally followed by `by DIM, DIM` (`col`, `hour(col)`, `weekday(col)`), e.g.
//! `mean(wait_minutes, 0, 720) by age_band, hour(arrival_datetime)`. In place of the column
//! and its bounds, a **condition** ([`crate::federated::condition`]) makes a rate or a count:
//! `mean(total_time_in_dept_min > 240) by provider_code` is each provider's share of
//! attendances over four hours (the mean of a 0/1 value, bounds `[0, 1]`), released with a
//! funnel comparison against the pooled rate ([`crate::federated::compare`]);
//! `sum(admitted = true) by age_band` counts the admitted.

use serde::{Deserialize, Serialize};

use crate::dp::queries::Dimension;
use crate::dp::queries::numeric::{FixedPoint, check_bounds};
use crate::federated::compare::RateComparison;
use crate::federated::condition::Condition;
use crate::federated::error::{FederatedError, Result};

/// A bound `B` is at most `2^VALUE_LOG2_UNITS` grid units.
pub const VALUE_LOG2_UNITS: i32 = 20;

/// Weight of one row in a count cell of a query with sums or means: `2^20`.
pub const VALUE_COUNT_WEIGHT: u64 = 1 << VALUE_LOG2_UNITS;

/// Largest magnitude of one trust's cell of a query with sums or means, before noise:
/// `2^51`, half the ring's per-input bound (`ring::MAX_ABS_INPUT = 2^52`), so a trust's
/// value plus its noise share stays in the safe range. With at most `2^20` units a row, every
/// trust with fewer than `2^31` kept rows in a cell is below it.
pub const MAX_VALUE_CELL: i128 = 1 << 51;

/// Sum or mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueStatistic {
    /// The sum of the clamped values.
    Sum,
    /// The sum over the count of rows with a value (both noisy, one round).
    Mean,
}

impl ValueStatistic {
    fn name(self) -> &'static str {
        match self {
            ValueStatistic::Sum => "sum",
            ValueStatistic::Mean => "mean",
        }
    }
}

/// A sum or mean of `column` clamped to public `[lower, upper]`, over the cells of `by`
/// (none: one cell); or of a condition's 0/1 value (a count or a rate; bounds `[0, 1]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueTable {
    /// Sum or mean.
    pub statistic: ValueStatistic,
    /// The numeric column (declared integer or float), or the condition's column.
    pub column: String,
    /// Public lower bound.
    pub lower: f64,
    /// Public upper bound.
    pub upper: f64,
    /// Grouping dimensions.
    pub by: Vec<Dimension>,
    /// A condition whose 0/1 value is summed or averaged in place of the column's values.
    /// (Always serialised: queries travel in postcard, which has no optional fields.)
    #[serde(default)]
    pub condition: Option<Condition>,
}

impl ValueTable {
    /// A checked sum or mean (bounds finite, `lower <= upper`, a grid that cannot wrap).
    pub fn new(
        statistic: ValueStatistic,
        column: impl Into<String>,
        lower: f64,
        upper: f64,
        by: &[&str],
    ) -> Result<ValueTable> {
        let t = ValueTable {
            statistic,
            column: column.into(),
            lower,
            upper,
            by: by
                .iter()
                .map(|d| d.parse())
                .collect::<std::result::Result<_, _>>()?,
            condition: None,
        };
        t.check()?;
        Ok(t)
    }

    /// A sum (a count) or mean (a rate) of `condition`'s 0/1 value over the cells of `by`.
    pub fn of_condition(
        statistic: ValueStatistic,
        condition: Condition,
        by: &[&str],
    ) -> Result<ValueTable> {
        let mut t = ValueTable::new(statistic, condition.column.clone(), 0.0, 1.0, by)?;
        t.condition = Some(condition);
        Ok(t)
    }

    /// Whether this is a rate: the mean of a condition.
    pub fn is_rate(&self) -> bool {
        self.condition.is_some() && self.statistic == ValueStatistic::Mean
    }

    /// Refuse bad bounds (naming the column) and bounds whose grid would pass `2^20` units.
    pub fn check(&self) -> Result<()> {
        if self.column.trim().is_empty() {
            return Err(FederatedError::invalid(
                "value column",
                format!("{:?}", self.column),
                "name the numeric column to sum",
            ));
        }
        check_bounds(&self.column, self.lower, self.upper)?;
        self.grid().map(|_| ())
    }

    /// `B = max(|lower|, |upper|)`.
    pub fn bound(&self) -> f64 {
        self.lower.abs().max(self.upper.abs())
    }

    /// The public grid: `k` from `B` alone, `C = ceil(B 2^k) <= 2^20`.
    pub fn grid(&self) -> Result<FixedPoint> {
        let g = FixedPoint::for_bound_within(self.bound(), VALUE_LOG2_UNITS)?;
        if g.units() > VALUE_COUNT_WEIGHT {
            return Err(FederatedError::invalid(
                "bounds",
                format!("[{}, {}] of {:?}", self.lower, self.upper, self.column),
                format!(
                    "too large for the fixed-point grid ({} units a value, over 2^20): sums \
                     could wrap the ring; rescale the column",
                    g.units()
                ),
            ));
        }
        Ok(g)
    }

    /// `C`, the most grid units of one value (for the sensitivity; `2^20` when the bounds
    /// are not valid, which is an upper bound and which [`ValueTable::check`] refuses).
    pub fn units(&self) -> u64 {
        self.grid().map_or(VALUE_COUNT_WEIGHT, |g| g.units())
    }

    /// `sum(col, lower, upper)`, `mean(...) by a, b` or `mean(col > 240) by a`: the syntax
    /// [`ValueTable::parse`] reads.
    pub fn label(&self) -> String {
        let mut s = match &self.condition {
            Some(c) => format!("{}({})", self.statistic.name(), c.label()),
            None => format!(
                "{}({}, {}, {})",
                self.statistic.name(),
                self.column,
                self.lower,
                self.upper
            ),
        };
        if !self.by.is_empty() {
            s.push_str(" by ");
            s.push_str(
                &self
                    .by
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
        s
    }

    /// Parse `sum(COLUMN, LOWER, UPPER) [by DIM, DIM]`, `mean(...)`, or either over a
    /// condition: `mean(COLUMN > 240) [by DIM, DIM]`.
    pub fn parse(spec: &str) -> Result<ValueTable> {
        let bad = |why: &str| {
            FederatedError::invalid(
                "value table",
                format!("{spec:?}"),
                format!(
                    "{why}; write sum(COLUMN, LOWER, UPPER) or mean(COLUMN, LOWER, UPPER), or \
                     a rate mean(COLUMN > NUMBER), optionally followed by `by DIM, DIM`"
                ),
            )
        };
        let s = spec.trim();
        let (statistic, rest) = if let Some(r) = s.strip_prefix("sum(") {
            (ValueStatistic::Sum, r)
        } else if let Some(r) = s.strip_prefix("mean(") {
            (ValueStatistic::Mean, r)
        } else {
            return Err(bad("it does not start with sum( or mean("));
        };
        let close = matching_close(rest).ok_or_else(|| bad("no closing ')'"))?;
        let (args, tail) = (&rest[..close], &rest[close + 1..]);
        let by = |tail: &str| -> Result<Vec<String>> {
            let tail = tail.trim();
            if tail.is_empty() {
                return Ok(Vec::new());
            }
            let dims = tail
                .strip_prefix("by ")
                .ok_or_else(|| bad("after the ')' only `by DIM, DIM` may follow"))?;
            Ok(dims
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect())
        };
        if args.contains(['<', '>', '=', '!']) || args.contains(" in ") {
            let by = by(tail)?;
            let by: Vec<&str> = by.iter().map(String::as_str).collect();
            return ValueTable::of_condition(statistic, Condition::parse(args)?, &by);
        }
        let args: Vec<&str> = args.split(',').map(str::trim).collect();
        let [column, lower, upper] = args.as_slice() else {
            return Err(bad("give the column and its two public bounds"));
        };
        let number = |what: &str, v: &str| {
            v.parse::<f64>().map_err(|_| {
                FederatedError::invalid(
                    what,
                    format!("{v:?} for {column:?}"),
                    "a number (a public bound, not read from the data)",
                )
            })
        };
        let (lower, upper) = (number("lower bound", lower)?, number("upper bound", upper)?);
        let by = by(tail)?;
        let by: Vec<&str> = by.iter().map(String::as_str).collect();
        ValueTable::new(statistic, *column, lower, upper, &by)
    }
}

/// The byte offset in `s` of the `)` closing a `(` just before `s` (nested parentheses and
/// double-quoted text skipped).
fn matching_close(s: &str) -> Option<usize> {
    let mut depth = 1usize;
    let mut quoted = false;
    for (i, ch) in s.char_indices() {
        match ch {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

impl std::str::FromStr for ValueTable {
    type Err = FederatedError;
    fn from_str(s: &str) -> Result<ValueTable> {
        ValueTable::parse(s)
    }
}

/// A value table's layout in the summed vector (public: it follows from the query).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueLayout {
    /// Sum or mean.
    pub statistic: ValueStatistic,
    /// The column.
    pub column: String,
    /// Public lower bound.
    pub lower: f64,
    /// Public upper bound.
    pub upper: f64,
    /// The grid exponent `k`: a value `x` is `round(x 2^k)` units.
    pub k: i32,
    /// `C`, the most units of one value.
    pub units: u64,
    /// The condition whose 0/1 value is summed or averaged, if any. (Always serialised:
    /// layouts travel in postcard, which has no optional fields.)
    #[serde(default)]
    pub condition: Option<Condition>,
}

impl ValueLayout {
    /// The layout of `t`.
    pub fn of(t: &ValueTable) -> Result<ValueLayout> {
        let g = t.grid()?;
        Ok(ValueLayout {
            statistic: t.statistic,
            column: t.column.clone(),
            lower: t.lower,
            upper: t.upper,
            k: g.k(),
            units: g.units(),
            condition: t.condition.clone(),
        })
    }

    /// The grid's resolution `2^-k`.
    pub fn resolution(&self) -> f64 {
        2f64.powi(-self.k)
    }
}

/// Released cells of a sum or mean (noisy; no exact figure).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueCells {
    /// Sum or mean.
    pub statistic: ValueStatistic,
    /// The column.
    pub column: String,
    /// Public lower bound every value was clamped to.
    pub lower: f64,
    /// Public upper bound.
    pub upper: f64,
    /// The grid's resolution `2^-k`: each clamped value was rounded to it (an error of at
    /// most half of it per row, ties away from zero).
    pub resolution: f64,
    /// Noisy sums of the clamped, rounded values, in the column's units, one per cell.
    pub sums: Vec<f64>,
    /// Half-width of every sum at `1 - alpha` (noise only; add `resolution / 2` per row for
    /// the exact clamped sum).
    pub sum_half_width: f64,
    /// Means: noisy sum over noisy count, clamped to the bounds; `None` where the noisy
    /// count is below 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub means: Vec<Option<f64>>,
    /// Means: an interval per cell holding the mean of the kept, clamped values with
    /// probability at least `1 - alpha` (from the `1 - alpha/2` intervals of the noisy sum
    /// and count, widened by `resolution / 2` for rounding; `[lower, upper]` when the count
    /// interval reaches below 1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mean_intervals: Vec<(f64, f64)>,
    /// The condition (`total_time_in_dept_min > 240`) whose 0/1 value was summed (a count)
    /// or averaged (a rate), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// A rate's funnel comparison of every cell with the pooled rate (post-processing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<RateComparison>,
}

/// A conservative interval for `S / N` given `|S_hat - S| <= hs`, `|N_hat - N| <= hc` and
/// `N >= 1`, clipped to `[lower, upper]` (where the mean of clamped values lies) and widened
/// by `rounding`: on the box `S in [S_hat - hs, S_hat + hs]`, `N in [max(N_hat - hc, 1),
/// N_hat + hc]` the ratio is monotone in each variable, so its extremes are at corners.
pub fn ratio_interval(
    s_hat: f64,
    hs: f64,
    n_hat: f64,
    hc: f64,
    lower: f64,
    upper: f64,
    rounding: f64,
) -> (f64, f64) {
    let n_lo = (n_hat - hc).max(1.0);
    let n_hi = n_hat + hc;
    // (a NaN half-width, impossible from a plan, also gives the bounds)
    if n_hi.is_nan() || n_hi < 1.0 {
        return (lower, upper);
    }
    let corners = [
        (s_hat - hs) / n_lo,
        (s_hat - hs) / n_hi,
        (s_hat + hs) / n_lo,
        (s_hat + hs) / n_hi,
    ];
    let lo = corners.iter().copied().fold(f64::INFINITY, f64::min) - rounding;
    let hi = corners.iter().copied().fold(f64::NEG_INFINITY, f64::max) + rounding;
    let lo = lo.max(lower).min(upper);
    let hi = hi.min(upper).max(lo);
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_label_and_round_trip() {
        let t = ValueTable::parse("mean( wait , 0, 720.5) by age_band, hour(arrival_datetime)")
            .unwrap();
        assert_eq!(t.statistic, ValueStatistic::Mean);
        assert_eq!(t.column, "wait");
        assert_eq!((t.lower, t.upper), (0.0, 720.5));
        assert_eq!(t.by.len(), 2);
        assert_eq!(
            t.label(),
            "mean(wait, 0, 720.5) by age_band, hour(arrival_datetime)"
        );
        assert_eq!(ValueTable::parse(&t.label()).unwrap(), t);
        let s = ValueTable::parse("sum(x, -3, 5)").unwrap();
        assert_eq!(s.by, vec![]);
        assert_eq!(s.bound(), 5.0);
        // B = 5: k = 17 (5 * 2^17 = 655,360 <= 2^20 < 5 * 2^18), C = 655,360.
        let g = s.grid().unwrap();
        assert_eq!((g.k(), g.units()), (17, 655_360));
    }

    #[test]
    fn rates_and_counts_of_a_condition_parse_and_round_trip() {
        let t = ValueTable::parse("mean(total_time_in_dept_min > 240) by provider_code").unwrap();
        assert!(t.is_rate());
        assert_eq!(t.column, "total_time_in_dept_min");
        assert_eq!((t.lower, t.upper), (0.0, 1.0));
        assert_eq!(
            t.label(),
            "mean(total_time_in_dept_min > 240) by provider_code"
        );
        assert_eq!(ValueTable::parse(&t.label()).unwrap(), t);
        // Nested parentheses and a quoted comma inside the condition.
        let t = ValueTable::parse(r#"sum(disposal in (admitted, "home, no follow-up")) by sex"#)
            .unwrap();
        assert!(!t.is_rate());
        let c = t.condition.as_ref().unwrap();
        assert_eq!(c.values, vec!["admitted", "home, no follow-up"]);
        assert_eq!(t.by.len(), 1);
        assert_eq!(ValueTable::parse(&t.label()).unwrap(), t);
        // 0/1 values: the grid of B = 1, C = 2^20 units (no rounding of 0 or 1).
        assert_eq!(t.units(), 1 << 20);
        let e = ValueTable::parse("mean(total_time_in_dept_min > 240 by sex").unwrap_err();
        assert!(e.to_string().contains("closing"), "{e}");
    }

    #[test]
    fn bad_specs_and_bounds_are_refused_naming_the_column() {
        for (spec, says) in [
            ("sum(x, 5, 1)", "\"x\""),
            ("mean(wait, 0, inf)", "\"wait\""),
            ("mean(wait, NaN, 1)", "\"wait\""),
            ("sum(wait, 0, 1e308)", "wait"),
            ("sum(wait, zero, 1)", "wait"),
            ("median(wait, 0, 1)", "sum("),
            ("sum(wait, 0)", "two public bounds"),
            ("sum(wait, 0, 1) age", "by DIM"),
            ("sum(, 0, 1)", "numeric column"),
        ] {
            let e = ValueTable::parse(spec).unwrap_err();
            assert!(e.to_string().contains(says), "{spec}: {e}");
        }
        // 1e308 passes 2^1020: no grid of 2^20 units; the error says the ring could wrap.
        let e = ValueTable::parse("sum(wait, 0, 1e308)").unwrap_err();
        assert!(e.to_string().contains("wrap"), "{e}");
    }

    #[test]
    fn the_ratio_interval_covers_every_point_of_the_box() {
        let (lo, hi) = ratio_interval(500.0, 50.0, 100.0, 10.0, 0.0, 10.0, 0.0);
        for s in [450.0, 500.0, 550.0] {
            for n in [90.0, 100.0, 110.0] {
                let m: f64 = s / n;
                assert!(lo <= m && m <= hi, "{m} in [{lo}, {hi}]");
            }
        }
        assert!((lo - 450.0 / 110.0).abs() < 1e-12 && (hi - 550.0 / 90.0).abs() < 1e-12);
        // A count interval reaching below 1: nothing is known beyond the bounds.
        assert_eq!(
            ratio_interval(5.0, 50.0, 0.5, 0.1, -1.0, 2.0, 0.0),
            (-1.0, 2.0)
        );
        // Clipped to the bounds.
        let (lo, hi) = ratio_interval(500.0, 400.0, 10.0, 8.0, 0.0, 10.0, 0.0);
        assert_eq!((lo, hi), (10.0f64.min(100.0 / 18.0), 10.0));
    }
}

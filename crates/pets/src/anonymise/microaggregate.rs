//! Microaggregation of numeric quasi-identifiers (ARX's semantics).
//!
//! A numeric quasi-identifier declared for microaggregation (`--microaggregate
//! los_days=mean`) is **not** generalised and does **not** split equivalence classes: the
//! classes are formed by the other quasi-identifiers under the chosen transformation, and in
//! each released class every record's value is replaced by one aggregate of the class's
//! values:
//!
//! | function | released value | released type |
//! | --- | --- | --- |
//! | `mean` | the arithmetic mean | a float (`Float` kind over the column's range) |
//! | `median` | the lower median `x_((m+1) div 2)` of the `m` sorted values, an observed value | the column's |
//! | `mode` | the most frequent value (the smallest of equally frequent ones) | the column's |
//! | `interval` | the text `"[min, max]"` of the class's values | text (a categorical column of the intervals) |
//!
//! Nulls take no part in the aggregate; every record of the class (a null one too) is
//! released with it, and a class whose values are all null releases null. Records of
//! suppressed classes, when masked, are released as null (`*` for `interval`).
//!
//! **Why the models still hold.** Let `C` be a released class (the records sharing one tuple
//! of released labels of the other quasi-identifiers). Every record of `C` carries the same
//! released value `a(C)`, so the classes over the other quasi-identifiers *and* the
//! microaggregated column are `{ r : labels(r) = labels(C), value(r) = a(C) } = C`: adding the
//! column neither splits nor merges a class (two classes already differ in their labels).
//! Every model `pets risk` checks is a function of the classes (their sizes and their
//! sensitive histograms), so it gives the same verdict with the column as a
//! quasi-identifier as without; binning the column (a float's bins) maps one value to one
//! bin and changes nothing either. The tests run `pets risk` on the release with the column
//! as a quasi-identifier.
//!
//! **Information loss.** For `mean`, `median` and `mode`, the standard microaggregation
//! loss `SSE / SST` over the released records with a value: `SSE = sum (x - a(C(x)))^2`, the
//! squared distance of each value from its class's aggregate, and `SST = sum (x - xbar)^2`,
//! from the mean of all of them (0 when `SST` is 0). It is 0 when nothing changed; for the
//! mean it is at most 1 (the mean minimises each class's squared error), while a median or
//! mode may exceed 1. For `interval`, the mean over the same records of the class's width
//! `(max - min)` divided by the range of all of them (ARX's generalisation intensity).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::AnonymiseError;

/// How a microaggregated column's class is summarised (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// The arithmetic mean (released as a float).
    Mean,
    /// The lower median, an observed value (the column's type).
    Median,
    /// The most frequent value, the smallest of ties (the column's type).
    Mode,
    /// The class's `[min, max]`, as text.
    Interval,
}

impl Aggregate {
    /// The name used on the command line and in records.
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Mean => "mean",
            Aggregate::Median => "median",
            Aggregate::Mode => "mode",
            Aggregate::Interval => "interval",
        }
    }
}

impl FromStr for Aggregate {
    type Err = AnonymiseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "mean" => Ok(Aggregate::Mean),
            "median" => Ok(Aggregate::Median),
            "mode" => Ok(Aggregate::Mode),
            "interval" => Ok(Aggregate::Interval),
            other => Err(AnonymiseError::Invalid {
                column: None,
                message: format!(
                    "unknown microaggregation function {other:?}; use mean, median, mode or \
                     interval"
                ),
            }),
        }
    }
}

/// One microaggregated column in the release record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MicroaggregationRecord {
    /// The column.
    pub column: String,
    /// The function.
    pub function: Aggregate,
    /// Released classes it was aggregated over.
    pub classes: u64,
    /// Released records with a value (the loss is over them).
    pub values: u64,
    /// What `loss` is: `"sse/sst"` or `"interval width"`.
    pub loss_measure: String,
    /// The information loss (see the module documentation).
    pub loss: f64,
}

/// A class's released value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Released {
    /// Every value of the class was null.
    Null,
    /// A number (mean, median, mode).
    Number(f64),
    /// `[min, max]`.
    Interval(f64, f64),
}

impl Released {
    /// The interval's text (`[20, 24]`).
    pub(crate) fn interval_label(lo: f64, hi: f64) -> String {
        format!("[{lo}, {hi}]")
    }
}

/// The aggregate of one class's non-null values (sorted in place).
pub(crate) fn aggregate(function: Aggregate, values: &mut [f64]) -> Released {
    if values.is_empty() {
        return Released::Null;
    }
    values.sort_by(f64::total_cmp);
    let m = values.len();
    match function {
        Aggregate::Mean => Released::Number(values.iter().sum::<f64>() / m as f64),
        Aggregate::Median => Released::Number(values[(m - 1) / 2]),
        Aggregate::Mode => {
            let (mut best, mut best_run) = (values[0], 0usize);
            let mut i = 0;
            while i < m {
                let mut j = i;
                while j < m && values[j] == values[i] {
                    j += 1;
                }
                // Strictly longer runs win, so the smallest of equally frequent values stays.
                if j - i > best_run {
                    best = values[i];
                    best_run = j - i;
                }
                i = j;
            }
            Released::Number(best)
        }
        Aggregate::Interval => Released::Interval(values[0], values[m - 1]),
    }
}

/// The loss of releasing `classes` (each class's values and its released value), as the
/// module documentation defines it for `function`.
pub(crate) fn loss<'a>(
    function: Aggregate,
    classes: impl Iterator<Item = (&'a [f64], Released)> + Clone,
) -> (u64, f64) {
    let (mut count, mut sum) = (0u64, 0.0f64);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (values, _) in classes.clone() {
        for &x in values {
            count += 1;
            sum += x;
            lo = lo.min(x);
            hi = hi.max(x);
        }
    }
    if count == 0 {
        return (0, 0.0);
    }
    let mean = sum / count as f64;
    let (mut sse, mut sst, mut width) = (0.0f64, 0.0f64, 0.0f64);
    for (values, released) in classes {
        for &x in values {
            sst += (x - mean).powi(2);
            match released {
                Released::Number(a) => sse += (x - a).powi(2),
                Released::Interval(a, b) => width += b - a,
                Released::Null => {}
            }
        }
    }
    let loss = match function {
        Aggregate::Interval if hi > lo => width / count as f64 / (hi - lo),
        Aggregate::Interval => 0.0,
        _ if sst > 0.0 => sse / sst,
        _ => 0.0,
    };
    (count, loss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_of_a_hand_built_class() {
        let agg = |f, v: &[f64]| aggregate(f, &mut v.to_vec());
        assert_eq!(
            agg(Aggregate::Mean, &[20.0, 22.0, 24.0]),
            Released::Number(22.0)
        );
        assert_eq!(
            agg(Aggregate::Median, &[24.0, 20.0, 22.0, 30.0]),
            Released::Number(22.0)
        );
        assert_eq!(
            agg(Aggregate::Mode, &[3.0, 1.0, 3.0, 1.0, 2.0]),
            Released::Number(1.0)
        );
        assert_eq!(
            agg(Aggregate::Interval, &[24.0, 20.0, 22.0]),
            Released::Interval(20.0, 24.0)
        );
        assert_eq!(agg(Aggregate::Mean, &[]), Released::Null);
        assert_eq!(Released::interval_label(20.0, 24.5), "[20, 24.5]");
    }

    #[test]
    fn sse_over_sst() {
        // Two classes {20, 22, 24} -> 22 and {40, 42} -> 41: SSE = 8 + 2 = 10; the mean of
        // all five is 29.6, SST = 92.16 + 57.76 + 31.36 + 108.16 + 153.76 = 443.2.
        let a = [20.0, 22.0, 24.0];
        let b = [40.0, 42.0];
        let classes = [
            (&a[..], Released::Number(22.0)),
            (&b[..], Released::Number(41.0)),
        ];
        let (n, l) = loss(Aggregate::Mean, classes.iter().copied());
        assert_eq!(n, 5);
        assert!((l - 10.0 / 443.2).abs() < 1e-12, "{l}");
        // Intervals: widths 4 (three records) and 2 (two) over a range of 22.
        let classes = [
            (&a[..], Released::Interval(20.0, 24.0)),
            (&b[..], Released::Interval(40.0, 42.0)),
        ];
        let (_, l) = loss(Aggregate::Interval, classes.iter().copied());
        assert!((l - 16.0 / 5.0 / 22.0).abs() < 1e-12, "{l}");
    }
}

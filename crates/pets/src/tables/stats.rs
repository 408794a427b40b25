//! Means and medians of a numeric column published beside each count.
//!
//! A cell's statistic is over the records of the cell with a value in the column (empty
//! values left out); `n` is how many. It is published to one decimal place, and suppressed
//! (`*`) when
//!
//! - the cell's count is suppressed (primary or secondary), or
//! - it is based on few records: `1 <= n <= 7` under [`Rule::Hes`] (the HES/ECDS rule:
//!   "means and medians based on 1-7 records suppressed"), `1 <= n < threshold` under
//!   [`Rule::Threshold`].
//!
//! With `n = 0` nothing is published (an empty field). `n` itself is never published (it
//! would undo the rounding of the count). The median of an even number of values is the
//! mean of the middle two.

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use serde::{Deserialize, Serialize};

use super::{Rule, TableError};
use crate::data::DataError;

/// Which statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatisticKind {
    /// The arithmetic mean.
    Mean,
    /// The median (the mean of the middle two of an even number of values).
    Median,
}

/// A statistic of a numeric column, published beside each count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statistic {
    /// Which statistic.
    pub statistic: StatisticKind,
    /// The numeric column.
    pub column: String,
}

impl Statistic {
    /// The mean of `column`.
    pub fn mean(column: impl Into<String>) -> Statistic {
        Statistic {
            statistic: StatisticKind::Mean,
            column: column.into(),
        }
    }

    /// The median of `column`.
    pub fn median(column: impl Into<String>) -> Statistic {
        Statistic {
            statistic: StatisticKind::Median,
            column: column.into(),
        }
    }

    /// Its column name in long format: `mean_age`, `median_los`.
    pub fn label(&self) -> String {
        match self.statistic {
            StatisticKind::Mean => format!("mean_{}", self.column),
            StatisticKind::Median => format!("median_{}", self.column),
        }
    }
}

/// The fewest records a statistic may be based on under `rule`.
pub(super) fn min_records(rule: &Rule) -> usize {
    match rule {
        Rule::Hes => 8,
        Rule::Threshold { threshold, .. } => *threshold as usize,
    }
}

/// What is published of `kind` over `values` (reordered in place): empty with no values, `*`
/// when `suppressed` or based on fewer than `min` values, else the value to one decimal.
pub(super) fn publish(
    kind: StatisticKind,
    values: &mut [f64],
    suppressed: bool,
    min: usize,
) -> String {
    let n = values.len();
    if n == 0 {
        return String::new();
    }
    if suppressed || n < min {
        return "*".into();
    }
    let v = match kind {
        StatisticKind::Mean => values.iter().sum::<f64>() / n as f64,
        StatisticKind::Median => {
            let (_, &mut hi, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
            if n % 2 == 1 {
                hi
            } else {
                let lo = values[..n / 2]
                    .iter()
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max);
                (lo + hi) / 2.0
            }
        }
    };
    format!("{v:.1}")
}

/// The values of a numeric column (`None` for empty): Arrow numbers as they are, text (a CSV
/// file) parsed after trimming. Anything else is an error naming the column, row and value.
pub(crate) fn numeric_values(
    column: &str,
    arrays: &[ArrayRef],
) -> Result<Vec<Option<f64>>, TableError> {
    let mut out = Vec::with_capacity(arrays.iter().map(|a| a.len()).sum());
    for a in arrays {
        match a.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let cast = arrow_cast::cast(a, &DataType::Utf8).map_err(DataError::from)?;
                let s = cast.as_string::<i32>();
                for i in 0..s.len() {
                    let text = if s.is_null(i) { "" } else { s.value(i).trim() };
                    if text.is_empty() {
                        out.push(None);
                        continue;
                    }
                    let v: f64 = text.parse().map_err(|_| DataError::Unparsable {
                        column: column.to_string(),
                        row: out.len() as u64 + 1,
                        value: text.to_string(),
                        expected: "a number (its mean or median is asked for)".into(),
                    })?;
                    out.push(Some(v));
                }
            }
            t if t.is_numeric() => {
                let cast = arrow_cast::cast(a, &DataType::Float64).map_err(DataError::from)?;
                let f = cast.as_primitive::<arrow_array::types::Float64Type>();
                out.extend((0..f.len()).map(|i| (!f.is_null(i)).then(|| f.value(i))));
            }
            other => {
                return Err(TableError::Invalid {
                    column: Some(column.to_string()),
                    message: format!(
                        "{column:?} is of Arrow type {other}: a mean or median needs a \
                         numeric column"
                    ),
                });
            }
        }
    }
    Ok(out)
}

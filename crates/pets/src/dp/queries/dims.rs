//! Dimensions of histograms and contingency tables: an encoded column, or a public
//! derivation of one (hour of day, day of week of a date or datetime column).
//!
//! Every dimension has a public domain fixed by the schema, so the cells of a table are
//! known before the data are read; null and "other" codes are cells of their own.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate, Timelike};
use serde::{Deserialize, Serialize};

use crate::data::EncodedColumn;
use crate::data::schema::{ColumnKind, DateGranularity, TimeGranularity};
use crate::dp::error::{DpError, Result};
use crate::dp::queries::DpData;

/// One axis of a table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Dimension {
    /// The column's own codes.
    Column(String),
    /// Hour of day (0-23) of a datetime column; written `hour(column)`.
    HourOfDay(String),
    /// Day of week (Mon-Sun) of a date or datetime column; written `weekday(column)`.
    DayOfWeek(String),
}

impl Dimension {
    /// The column the dimension reads.
    pub fn column(&self) -> &str {
        match self {
            Dimension::Column(c) | Dimension::HourOfDay(c) | Dimension::DayOfWeek(c) => c,
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dimension::Column(c) => f.write_str(c),
            Dimension::HourOfDay(c) => write!(f, "hour({c})"),
            Dimension::DayOfWeek(c) => write!(f, "weekday({c})"),
        }
    }
}

impl FromStr for Dimension {
    type Err = DpError;
    fn from_str(s: &str) -> Result<Dimension> {
        let s = s.trim();
        let inner = |p: &str| {
            s.strip_prefix(p)
                .and_then(|r| r.strip_suffix(')'))
                .map(|c| c.trim().to_string())
        };
        if let Some(c) = inner("hour(") {
            Ok(Dimension::HourOfDay(c))
        } else if let Some(c) = inner("weekday(") {
            Ok(Dimension::DayOfWeek(c))
        } else if s.is_empty() || s.contains('(') {
            Err(DpError::Spec(format!(
                "dimension {s:?} is not a column name, hour(column) or weekday(column)"
            )))
        } else {
            Ok(Dimension::Column(s.to_string()))
        }
    }
}

impl TryFrom<String> for Dimension {
    type Error = DpError;
    fn try_from(s: String) -> Result<Dimension> {
        s.parse()
    }
}

impl From<Dimension> for String {
    fn from(d: Dimension) -> String {
        d.to_string()
    }
}

/// A dimension resolved against a table: each row's cell index along this axis.
#[derive(Debug, Clone)]
pub(crate) struct Axis<'a> {
    pub codes: &'a [u32],
    /// Code to cell (`None`: identity).
    pub map: Option<Vec<u32>>,
    pub labels: Vec<String>,
}

impl Axis<'_> {
    pub fn size(&self) -> usize {
        self.labels.len()
    }

    #[inline]
    pub fn cell(&self, row: usize) -> usize {
        let c = self.codes[row];
        match &self.map {
            Some(m) => m[c as usize] as usize,
            None => c as usize,
        }
    }
}

/// Labels of every code of `col` (categories and integers directly; `label` rebuilds the
/// column's codec on each call, which is too slow for large domains).
fn code_labels(col: &EncodedColumn) -> Vec<String> {
    let book = col.codebook;
    let mut labels: Vec<String> = match &col.spec.kind {
        ColumnKind::Categorical { values, .. } => values.clone(),
        ColumnKind::Integer {
            min, bins: None, ..
        } => (0..book.n_values)
            .map(|c| (min + i64::from(c)).to_string())
            .collect(),
        _ => (0..book.n_values).map(|c| col.label(c)).collect(),
    };
    labels.extend((book.n_values..book.cardinality()).map(|c| col.label(c)));
    labels
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Resolve `dim` against `data`.
pub(crate) fn axis<'a>(data: &DpData<'a>, dim: &Dimension) -> Result<Axis<'a>> {
    let col: &'a EncodedColumn = data.column(dim.column())?;
    let book = col.codebook;
    let card = book.cardinality();
    let extra_labels = |labels: &mut Vec<String>, map: &mut Vec<u32>| {
        for code in book.n_values..card {
            map.push(labels.len() as u32);
            labels.push(col.label(code));
        }
    };
    let wrong = |expected: &str| DpError::WrongKind {
        column: col.name().to_string(),
        kind: col.spec.kind.name().to_string(),
        query: dim.to_string(),
        expected: expected.to_string(),
    };
    match dim {
        Dimension::Column(_) => {
            if card > 5_000_000 {
                return Err(DpError::query(
                    dim.to_string(),
                    format!(
                        "{card} codes is too many cells for a histogram; coarsen it (bins, \
                         granularity, hour(...)) or use group_by with a threshold"
                    ),
                ));
            }
            Ok(Axis {
                codes: &col.codes,
                map: None,
                labels: code_labels(col),
            })
        }
        Dimension::HourOfDay(_) => {
            let ColumnKind::Datetime {
                min, granularity, ..
            } = &col.spec.kind
            else {
                return Err(wrong("a datetime column"));
            };
            if *granularity == TimeGranularity::Day {
                return Err(wrong("a datetime column finer than a day"));
            }
            let step = granularity.seconds();
            let mut map: Vec<u32> = (0..book.n_values)
                .map(|code| {
                    let t = *min + Duration::seconds(i64::from(code) * step);
                    t.hour()
                })
                .collect();
            let mut labels: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
            extra_labels(&mut labels, &mut map);
            Ok(Axis {
                codes: &col.codes,
                map: Some(map),
                labels,
            })
        }
        Dimension::DayOfWeek(_) => {
            let day_of = |code: u32| -> Result<NaiveDate> {
                match &col.spec.kind {
                    ColumnKind::Datetime {
                        min, granularity, ..
                    } => Ok(
                        (*min + Duration::seconds(i64::from(code) * granularity.seconds())).date(),
                    ),
                    ColumnKind::Date {
                        min,
                        granularity: DateGranularity::Day,
                        ..
                    } => Ok(*min + Duration::days(i64::from(code))),
                    _ => Err(wrong("a datetime column or a date column by day")),
                }
            };
            let mut map = Vec::with_capacity(card as usize);
            for code in 0..book.n_values {
                map.push(day_of(code)?.weekday().num_days_from_monday());
            }
            if book.n_values == 0 {
                day_of(0)?;
            }
            let mut labels: Vec<String> = WEEKDAYS.iter().map(|s| s.to_string()).collect();
            extra_labels(&mut labels, &mut map);
            Ok(Axis {
                codes: &col.codes,
                map: Some(map),
                labels,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dimensions() {
        assert_eq!(
            "hour(arrival_datetime)".parse::<Dimension>().unwrap(),
            Dimension::HourOfDay("arrival_datetime".into())
        );
        assert_eq!(
            " weekday( d ) ".parse::<Dimension>().unwrap(),
            Dimension::DayOfWeek("d".into())
        );
        assert_eq!(
            "age_band".parse::<Dimension>().unwrap(),
            Dimension::Column("age_band".into())
        );
        assert!("month(x)".parse::<Dimension>().is_err());
        let d: Dimension = serde_json::from_str("\"hour(t)\"").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"hour(t)\"");
    }
}

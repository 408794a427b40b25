//! Dimensions of histograms and contingency tables: an encoded column, or a public
//! derivation of one (hour of day, day of week of a date or datetime column).
//!
//! Every dimension has a public domain fixed by the schema, so the cells of a table are
//! known before the data are read; null and "other" codes are cells of their own.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Timelike};
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
    /// Code to cell.
    pub map: CellMap,
    pub labels: Vec<String>,
}

/// How a code becomes a cell along an axis.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CellMap {
    /// The code is the cell.
    Identity,
    /// A period of the time a code stands for: code `c < n_values` is the instant
    /// `offset + c * step` (in seconds or days from midnight / the epoch of `base`), and its
    /// cell `((offset + c * step) / unit + base) % modulo` (hour of day: unit 3,600 s,
    /// modulo 24; weekday: unit one day, modulo 7). Codes from `n_values` up (null, other)
    /// are cells `modulo, modulo + 1`. Arithmetic rather than a code-to-cell table: a
    /// year of minutes would need a 2 MiB table read at random once per row, which cost
    /// 2.4-3x the counting on a busy machine (benches/README.md).
    Periodic {
        offset: u64,
        step: u64,
        unit: u64,
        base: u64,
        modulo: u32,
        n_values: u32,
    },
}

impl Axis<'_> {
    pub fn size(&self) -> usize {
        self.labels.len()
    }

    #[inline]
    pub fn cell(&self, row: usize) -> usize {
        let c = self.codes[row];
        match &self.map {
            CellMap::Identity => c as usize,
            CellMap::Periodic {
                offset,
                step,
                unit,
                base,
                modulo,
                n_values,
            } => {
                if c < *n_values {
                    (((offset + u64::from(c) * step) / unit + base) % u64::from(*modulo)) as usize
                } else {
                    (*modulo + (c - n_values)) as usize
                }
            }
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
pub(crate) fn axis<'a>(data: &'a DpData<'_>, dim: &Dimension) -> Result<Axis<'a>> {
    let col: &'a EncodedColumn = data.column(dim.column())?;
    let book = col.codebook;
    let card = book.cardinality();
    let extra_labels = |labels: &mut Vec<String>| {
        for code in book.n_values..card {
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
                map: CellMap::Identity,
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
            let mut labels: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
            extra_labels(&mut labels);
            Ok(Axis {
                codes: &col.codes,
                map: CellMap::Periodic {
                    offset: u64::from(min.num_seconds_from_midnight()),
                    step: granularity.seconds() as u64,
                    unit: 3_600,
                    base: 0,
                    modulo: 24,
                    n_values: book.n_values,
                },
                labels,
            })
        }
        Dimension::DayOfWeek(_) => {
            let map = match &col.spec.kind {
                ColumnKind::Datetime {
                    min, granularity, ..
                } => CellMap::Periodic {
                    offset: u64::from(min.num_seconds_from_midnight()),
                    step: granularity.seconds() as u64,
                    unit: 86_400,
                    base: u64::from(min.weekday().num_days_from_monday()),
                    modulo: 7,
                    n_values: book.n_values,
                },
                ColumnKind::Date {
                    min,
                    granularity: DateGranularity::Day,
                    ..
                } => CellMap::Periodic {
                    offset: 0,
                    step: 1,
                    unit: 1,
                    base: u64::from(min.weekday().num_days_from_monday()),
                    modulo: 7,
                    n_values: book.n_values,
                },
                _ => return Err(wrong("a datetime column or a date column by day")),
            };
            let mut labels: Vec<String> = WEEKDAYS.iter().map(|s| s.to_string()).collect();
            extra_labels(&mut labels);
            Ok(Axis {
                codes: &col.codes,
                map,
                labels,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::encode::CodeBook;
    use crate::data::{ColumnSpec, EncodedTable};
    use chrono::{Duration, NaiveDate};

    /// A table whose column `t` holds every code once, then its null code.
    fn every_code(kind: ColumnKind) -> EncodedTable {
        let spec = ColumnSpec::new("t", kind).nullable(true);
        let n = spec.n_values().unwrap();
        let col = EncodedColumn {
            spec,
            codebook: CodeBook {
                n_values: n,
                null_code: Some(n),
                other_code: None,
            },
            codes: (0..=n).collect(),
        };
        EncodedTable::from_columns(vec![col]).unwrap()
    }

    #[test]
    fn hour_and_weekday_cells_match_the_calendar() {
        // A Wednesday, 05:37, by minutes over ten days (14,400 codes).
        let min = NaiveDate::from_ymd_opt(2025, 1, 1)
            .unwrap()
            .and_hms_opt(5, 37, 0)
            .unwrap();
        for granularity in [TimeGranularity::Minute, TimeGranularity::Hour] {
            let t = every_code(ColumnKind::Datetime {
                min,
                max: min + Duration::days(10),
                granularity,
                format: None,
            });
            let data = DpData::row_level(&t);
            let hour = axis(&data, &Dimension::HourOfDay("t".into())).unwrap();
            let day = axis(&data, &Dimension::DayOfWeek("t".into())).unwrap();
            let n = t.n_rows() - 1;
            for code in 0..n {
                let at = min + Duration::seconds(code as i64 * granularity.seconds());
                assert_eq!(hour.cell(code), at.hour() as usize, "{at}");
                assert_eq!(
                    day.cell(code),
                    at.weekday().num_days_from_monday() as usize,
                    "{at}"
                );
            }
            // The null code is the cell after the 24 hours / 7 days.
            assert_eq!((hour.cell(n), hour.size()), (24, 25));
            assert_eq!((day.cell(n), day.size()), (7, 8));
        }
        let start = NaiveDate::from_ymd_opt(2024, 2, 27).unwrap();
        let dates = every_code(ColumnKind::Date {
            min: start,
            max: start + Duration::days(40),
            granularity: DateGranularity::Day,
            format: None,
        });
        let data = DpData::row_level(&dates);
        let day = axis(&data, &Dimension::DayOfWeek("t".into())).unwrap();
        for code in 0..41 {
            let d = start + Duration::days(code as i64);
            assert_eq!(day.cell(code), d.weekday().num_days_from_monday() as usize);
        }
        assert!(axis(&data, &Dimension::HourOfDay("t".into())).is_err());
    }

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

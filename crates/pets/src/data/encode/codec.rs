//! Value-to-code mapping for one column: the [`CodeBook`] (how codes are laid out) and the
//! [`ColumnCodec`] (which code a value gets).
//!
//! Layout of a column's codes: `0..n_values` are the domain's values in declared order
//! (categories, integers from `min`, bins, date or time steps from `min`), then the null code
//! (if the column is nullable), then the "other" code (if out-of-domain values are mapped
//! rather than refused). A multi-column marginal is then a histogram over
//! `sum(code_i * stride_i)` with `stride` from [`CodeBook::cardinality`].

use chrono::{Datelike, NaiveDate};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::data::schema::{Binning, ColumnKind, ColumnSpec, DateGranularity};
use crate::data::values;

/// How the codes of one column are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeBook {
    /// Number of domain values: codes `0..n_values`.
    pub n_values: u32,
    /// The code of a null, when the column is nullable (`n_values`).
    pub null_code: Option<u32>,
    /// The code of an out-of-domain value, when those are mapped to "other".
    pub other_code: Option<u32>,
}

impl CodeBook {
    /// Number of distinct codes (domain values, null and other).
    pub fn cardinality(&self) -> u32 {
        self.n_values + u32::from(self.null_code.is_some()) + u32::from(self.other_code.is_some())
    }
}

/// Result of looking a value up in a column's domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The value's code.
    Code(u32),
    /// A well-formed value outside the declared domain.
    OutOfDomain,
    /// A value that is not of the column's kind; holds what was expected.
    Unparsable(&'static str),
}

/// Numeric bin edges, ready for lookup.
#[derive(Debug, Clone)]
pub(crate) struct Edges(pub Vec<f64>);

impl Edges {
    pub(crate) fn new(bins: &Binning, min: f64, max: f64) -> Edges {
        match bins {
            Binning::Edges(e) => Edges(e.clone()),
            Binning::EqualWidth(n) => {
                let n = *n as usize;
                let w = (max - min) / n as f64;
                let mut e: Vec<f64> = (0..=n).map(|i| min + w * i as f64).collect();
                e[n] = max; // exact upper edge despite rounding
                if max == min {
                    e = vec![min, min + 1.0];
                }
                Edges(e)
            }
        }
    }

    pub(crate) fn n_bins(&self) -> u32 {
        (self.0.len() - 1) as u32
    }

    /// Bin of `v` (half-open bins, the last closed); `None` outside the edges.
    pub(crate) fn bin(&self, v: f64) -> Option<u32> {
        let e = &self.0;
        let last = *e.last().expect("at least two edges");
        if v < e[0] || v > last || v.is_nan() {
            return None;
        }
        if v == last {
            return Some(self.n_bins() - 1);
        }
        // Index of the first edge > v, minus one.
        Some((e.partition_point(|&x| x <= v) - 1) as u32)
    }

    pub(crate) fn bounds(&self, code: u32) -> (f64, f64) {
        (self.0[code as usize], self.0[code as usize + 1])
    }
}

/// The value-to-code map of one column, built from its declaration.
#[derive(Debug, Clone)]
pub(crate) enum ColumnCodec {
    Categorical {
        by_text: FxHashMap<String, u32>,
        /// Same map keyed by number, when every label is a canonical integer, so integer
        /// arrays match without formatting each value.
        by_int: Option<FxHashMap<i64, u32>>,
    },
    Integer {
        min: i64,
        max: i64,
        edges: Option<Edges>,
    },
    Float {
        min: f64,
        max: f64,
        edges: Edges,
    },
    Date {
        min_days: i64,
        max_days: i64,
        min: NaiveDate,
        granularity: DateGranularity,
        format: Option<String>,
    },
    Datetime {
        min_secs: i64,
        max_secs: i64,
        step: i64,
        format: Option<String>,
    },
}

impl ColumnCodec {
    /// The codec of an encodable column; `None` for text columns.
    pub(crate) fn new(spec: &ColumnSpec) -> Option<ColumnCodec> {
        Some(match &spec.kind {
            ColumnKind::Categorical { values, .. } => {
                let by_text: FxHashMap<String, u32> = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (v.clone(), i as u32))
                    .collect();
                let by_int = values
                    .iter()
                    .all(|v| values::is_canonical_integer(v))
                    .then(|| {
                        values
                            .iter()
                            .enumerate()
                            .map(|(i, v)| (v.parse::<i64>().expect("canonical"), i as u32))
                            .collect()
                    });
                ColumnCodec::Categorical { by_text, by_int }
            }
            ColumnKind::Integer { min, max, bins } => ColumnCodec::Integer {
                min: *min,
                max: *max,
                edges: bins
                    .as_ref()
                    .map(|b| Edges::new(b, *min as f64, *max as f64)),
            },
            ColumnKind::Float { min, max, bins } => ColumnCodec::Float {
                min: *min,
                max: *max,
                edges: Edges::new(bins, *min, *max),
            },
            ColumnKind::Date {
                min,
                max,
                granularity,
                format,
            } => ColumnCodec::Date {
                min_days: values::days_of(*min),
                max_days: values::days_of(*max),
                min: *min,
                granularity: *granularity,
                format: format.clone(),
            },
            ColumnKind::Datetime {
                min,
                max,
                granularity,
                format,
            } => ColumnCodec::Datetime {
                min_secs: values::seconds_of(*min),
                max_secs: values::seconds_of(*max),
                step: granularity.seconds(),
                format: format.clone(),
            },
            ColumnKind::Text => return None,
        })
    }

    /// Number of domain codes.
    pub(crate) fn n_values(&self) -> u32 {
        match self {
            ColumnCodec::Categorical { by_text, .. } => by_text.len() as u32,
            ColumnCodec::Integer { min, max, edges } => match edges {
                Some(e) => e.n_bins(),
                None => (max - min + 1) as u32,
            },
            ColumnCodec::Float { edges, .. } => edges.n_bins(),
            ColumnCodec::Date {
                min_days,
                max_days,
                min,
                granularity,
                ..
            } => date_code(*min_days, *max_days, *min, *granularity) + 1,
            ColumnCodec::Datetime {
                min_secs,
                max_secs,
                step,
                ..
            } => ((max_secs - min_secs) / step + 1) as u32,
        }
    }

    /// A short description of the domain for error messages.
    pub(crate) fn describe(&self, spec: &ColumnSpec) -> String {
        match &spec.kind {
            ColumnKind::Categorical { values, .. } if values.len() <= 12 => {
                format!("one of {}", values.join(", "))
            }
            ColumnKind::Categorical { values, .. } => {
                format!("one of {} declared categories", values.len())
            }
            ColumnKind::Integer { min, max, .. } => format!("an integer in [{min}, {max}]"),
            ColumnKind::Float { min, max, .. } => format!("a number in [{min}, {max}]"),
            ColumnKind::Date { min, max, .. } => format!("a date from {min} to {max}"),
            ColumnKind::Datetime { min, max, .. } => format!("a time from {min} to {max}"),
            ColumnKind::Text => "text".into(),
        }
    }

    /// What a text value of this column should look like, for "cannot read" errors.
    pub(crate) fn expected(&self) -> &'static str {
        match self {
            ColumnCodec::Categorical { .. } => "a category",
            ColumnCodec::Integer { .. } => "an integer",
            ColumnCodec::Float { .. } => "a finite number",
            ColumnCodec::Date { format: None, .. } => "a date like 2024-03-01",
            ColumnCodec::Date { .. } => "a date in the schema's format",
            ColumnCodec::Datetime { format: None, .. } => "a time like 2024-03-01T14:05:00",
            ColumnCodec::Datetime { .. } => "a time in the schema's format",
        }
    }

    pub(crate) fn lookup_str(&self, s: &str) -> Lookup {
        match self {
            ColumnCodec::Categorical { by_text, .. } => match by_text.get(s) {
                Some(&c) => Lookup::Code(c),
                None => Lookup::OutOfDomain,
            },
            ColumnCodec::Integer { .. } => match values::parse_i64(s) {
                Some(v) => self.lookup_i64(v),
                None => Lookup::Unparsable(self.expected()),
            },
            ColumnCodec::Float { .. } => match s.trim().parse::<f64>() {
                Ok(v) => self.lookup_f64(v),
                Err(_) => Lookup::Unparsable(self.expected()),
            },
            ColumnCodec::Date { format, .. } => match values::parse_date(s, format.as_deref()) {
                Some(d) => self.lookup_days(values::days_of(d)),
                None => Lookup::Unparsable(self.expected()),
            },
            ColumnCodec::Datetime { format, .. } => {
                match values::parse_datetime(s, format.as_deref()) {
                    Some(t) => self.lookup_seconds(values::seconds_of(t)),
                    None => Lookup::Unparsable(self.expected()),
                }
            }
        }
    }

    pub(crate) fn lookup_i64(&self, v: i64) -> Lookup {
        match self {
            ColumnCodec::Categorical { by_int, by_text } => match by_int {
                Some(m) => m.get(&v).map_or(Lookup::OutOfDomain, |&c| Lookup::Code(c)),
                None => by_text
                    .get(v.to_string().as_str())
                    .map_or(Lookup::OutOfDomain, |&c| Lookup::Code(c)),
            },
            ColumnCodec::Integer { min, max, edges } => {
                if v < *min || v > *max {
                    Lookup::OutOfDomain
                } else {
                    match edges {
                        None => Lookup::Code((v - min) as u32),
                        Some(e) => e.bin(v as f64).map_or(Lookup::OutOfDomain, Lookup::Code),
                    }
                }
            }
            ColumnCodec::Float { .. } => self.lookup_f64(v as f64),
            _ => Lookup::Unparsable(self.expected()),
        }
    }

    pub(crate) fn lookup_f64(&self, v: f64) -> Lookup {
        if !v.is_finite() {
            return Lookup::Unparsable(
                "a finite number (NaN and infinity are not values; use null for missing)",
            );
        }
        match self {
            ColumnCodec::Categorical { .. } | ColumnCodec::Integer { .. } => {
                if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    self.lookup_i64(v as i64)
                } else if let ColumnCodec::Categorical { by_text, .. } = self {
                    by_text
                        .get(v.to_string().as_str())
                        .map_or(Lookup::OutOfDomain, |&c| Lookup::Code(c))
                } else {
                    Lookup::Unparsable("an integer")
                }
            }
            ColumnCodec::Float { min, max, edges } => {
                if v < *min || v > *max {
                    Lookup::OutOfDomain
                } else {
                    edges.bin(v).map_or(Lookup::OutOfDomain, Lookup::Code)
                }
            }
            _ => Lookup::Unparsable(self.expected()),
        }
    }

    pub(crate) fn lookup_bool(&self, b: bool) -> Lookup {
        match self {
            ColumnCodec::Categorical { by_text, .. } => {
                let (word, digit) = if b { ("true", "1") } else { ("false", "0") };
                by_text
                    .get(word)
                    .or_else(|| by_text.get(digit))
                    .map_or(Lookup::OutOfDomain, |&c| Lookup::Code(c))
            }
            ColumnCodec::Integer { .. } => self.lookup_i64(i64::from(b)),
            _ => Lookup::Unparsable(self.expected()),
        }
    }

    /// A date given as days since 1970-01-01.
    pub(crate) fn lookup_days(&self, days: i64) -> Lookup {
        match self {
            ColumnCodec::Date {
                min_days,
                max_days,
                min,
                granularity,
                ..
            } => {
                if days < *min_days || days > *max_days {
                    Lookup::OutOfDomain
                } else {
                    Lookup::Code(date_code(*min_days, days, *min, *granularity))
                }
            }
            ColumnCodec::Datetime { .. } => self.lookup_seconds(days * 86_400),
            _ => Lookup::Unparsable(self.expected()),
        }
    }

    /// An instant given as whole seconds since 1970-01-01T00:00:00 (floored).
    pub(crate) fn lookup_seconds(&self, secs: i64) -> Lookup {
        match self {
            ColumnCodec::Datetime {
                min_secs,
                max_secs,
                step,
                ..
            } => {
                if secs < *min_secs || secs > *max_secs {
                    Lookup::OutOfDomain
                } else {
                    Lookup::Code(((secs - min_secs) / step) as u32)
                }
            }
            ColumnCodec::Date { .. } => self.lookup_days(secs.div_euclid(86_400)),
            _ => Lookup::Unparsable(self.expected()),
        }
    }
}

/// Code of the date `days` (since the epoch) in a date column starting at `min`.
pub(crate) fn date_code(min_days: i64, days: i64, min: NaiveDate, g: DateGranularity) -> u32 {
    match g {
        DateGranularity::Day => (days - min_days) as u32,
        DateGranularity::Week => ((days - min_days) / 7) as u32,
        DateGranularity::Month | DateGranularity::Year => {
            let d = values::date_of_days(days).expect("in declared range");
            let months = (d.year() - min.year()) * 12 + d.month() as i32 - min.month() as i32;
            match g {
                DateGranularity::Month => months as u32,
                _ => (d.year() - min.year()) as u32,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_half_open_with_closed_last_bin() {
        let e = Edges(vec![0.0, 10.0, 20.0]);
        assert_eq!(e.bin(0.0), Some(0));
        assert_eq!(e.bin(9.999), Some(0));
        assert_eq!(e.bin(10.0), Some(1));
        assert_eq!(e.bin(20.0), Some(1));
        assert_eq!(e.bin(20.1), None);
        assert_eq!(e.bin(-0.1), None);
        assert_eq!(e.bin(f64::NAN), None);
    }

    #[test]
    fn equal_width_edges_end_exactly_at_max() {
        let e = Edges::new(&Binning::EqualWidth(3), 0.0, 1.0);
        assert_eq!(e.0.len(), 4);
        assert_eq!(*e.0.last().unwrap(), 1.0);
        assert_eq!(e.bin(1.0), Some(2));
        let degenerate = Edges::new(&Binning::EqualWidth(5), 2.0, 2.0);
        assert_eq!(degenerate.bin(2.0), Some(0));
    }

    #[test]
    fn categorical_matches_numbers_and_booleans_through_text() {
        let spec = ColumnSpec::categorical("c", ["1", "2", "10"]);
        let c = ColumnCodec::new(&spec).unwrap();
        assert_eq!(c.lookup_i64(10), Lookup::Code(2));
        assert_eq!(c.lookup_f64(2.0), Lookup::Code(1));
        assert_eq!(c.lookup_str("10"), Lookup::Code(2));
        assert_eq!(c.lookup_str("010"), Lookup::OutOfDomain);
        assert_eq!(c.lookup_i64(3), Lookup::OutOfDomain);
        let b = ColumnCodec::new(&ColumnSpec::categorical("b", ["0", "1"])).unwrap();
        assert_eq!(b.lookup_bool(true), Lookup::Code(1));
    }

    #[test]
    fn month_and_year_codes_count_calendar_periods() {
        let min = NaiveDate::from_ymd_opt(2023, 11, 15).unwrap();
        let md = values::days_of(min);
        let d = values::days_of(NaiveDate::from_ymd_opt(2024, 2, 1).unwrap());
        assert_eq!(date_code(md, d, min, DateGranularity::Month), 3);
        assert_eq!(date_code(md, d, min, DateGranularity::Year), 1);
        assert_eq!(date_code(md, md + 13, min, DateGranularity::Week), 1);
    }
}

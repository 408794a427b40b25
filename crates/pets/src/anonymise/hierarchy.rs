//! Generalisation hierarchies resolved against a column's codes: one code map per level.
//!
//! A [`ColumnHierarchy`] has level 0 (the values as encoded), one level per declared step
//! ([`HierarchySpec`]), and finally `*` (the attribute suppressed). Level `l` maps every code
//! of the column (domain values, and the null and "other" codes, which stay groups of their
//! own until `*`) to a group of that level. Two rules make a hierarchy usable by the search:
//!
//! - **coverage**: every value has a group at every level (a grouping table that misses a
//!   value is refused, naming it);
//! - **nesting**: values grouped together at level `l` stay together at level `l + 1`, so
//!   the levels form a tree and classes of a coarser node are unions of classes of a finer
//!   one (what makes k-anonymity monotone over the lattice and lets the search derive every
//!   node from the classes instead of the rows).
//!
//! A numeric code (a value or a bin) belongs to the band of its lower edge and must fit in it
//! whole; a date or datetime code (a day, week, minute...) must fall inside one period of
//! each calendar level. Either mistake would publish a label that misdescribes its records,
//! so it is refused.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, NaiveDateTime, Timelike};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::AnonymiseError;
use crate::data::encode::{code_range, code_start};
use crate::data::{ColumnKind, DateGranularity, EncodedColumn, HierarchySpec, TimeGranularity};

/// One level of a hierarchy: every code's group, and each group's label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HierarchyLevel {
    /// What the level is (`value`, `bands of 10`, `month`, `district`, `*`).
    pub name: String,
    /// Group of each code of the column.
    #[serde(skip)]
    pub map: Vec<u32>,
    /// Label of each group, in group order.
    pub labels: Vec<String>,
    /// Number of domain values (codes below the null/other codes) in each group.
    #[serde(skip)]
    pub group_values: Vec<u32>,
}

impl HierarchyLevel {
    /// The level `*`: every one of `codes` codes in one group (what [`level_from_labels`]
    /// gives for `"*"` repeated, without a label per code).
    fn top(codes: usize, n_values: u32) -> HierarchyLevel {
        HierarchyLevel {
            name: "*".to_string(),
            map: vec![0; codes],
            labels: vec!["*".to_string()],
            group_values: vec![n_values],
        }
    }

    /// Number of groups.
    pub fn n_groups(&self) -> u32 {
        self.labels.len() as u32
    }
}

/// A column's hierarchy: level 0 is the column as encoded, the last is `*`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnHierarchy {
    /// The column.
    pub column: String,
    /// Whether the column's values are ordered (numbers, dates, ordered categories).
    pub ordered: bool,
    /// The levels, finest first.
    pub levels: Vec<HierarchyLevel>,
    /// Whether the hierarchy was chosen by pets because none was declared.
    pub defaulted: bool,
    /// The column's null code, if nullable (its own group below `*`, released as null).
    pub null_code: Option<u32>,
}

impl ColumnHierarchy {
    /// The highest level (`*`).
    pub fn height(&self) -> usize {
        self.levels.len() - 1
    }

    /// Resolve `spec` (or the default for the column's kind when `None`) against an encoded
    /// column. Relative CSV paths are read from `base_dir` when given.
    pub fn resolve(
        column: &EncodedColumn,
        spec: Option<&HierarchySpec>,
        base_dir: Option<&Path>,
    ) -> Result<ColumnHierarchy, AnonymiseError> {
        let defaulted = spec.is_none();
        let spec = match spec {
            Some(s) => s.clone(),
            None => default_spec(column),
        };
        let name = column.spec.name.clone();
        let book = &column.codebook;
        let n_values = book.n_values;
        let base: Vec<String> = (0..book.cardinality())
            .into_par_iter()
            .map(|c| column.label(c))
            .collect();
        let domain = &base[..n_values as usize];
        let bad = |message: String| AnonymiseError::Hierarchy {
            column: name.clone(),
            message,
        };
        let steps: Vec<(String, Vec<String>)> = match &spec {
            HierarchySpec::None => Vec::new(),
            HierarchySpec::Bands {
                widths,
                top,
                bottom,
            } => bands(column, widths, *top, *bottom).map_err(bad)?,
            HierarchySpec::Levels(levels) => calendar(column, levels).map_err(bad)?,
            HierarchySpec::Postcode(levels) => postcode(domain, levels).map_err(bad)?,
            HierarchySpec::Groups(table) => groups(domain, table).map_err(bad)?,
            HierarchySpec::Csv(path) => {
                let path = match base_dir {
                    Some(d) if path.is_relative() => d.join(path),
                    _ => path.clone(),
                };
                let table = read_csv_table(&path).map_err(bad)?;
                groups(domain, &table).map_err(|m| bad(format!("{}: {m}", path.display())))?
            }
        };
        let ordered = match &column.spec.kind {
            ColumnKind::Categorical { ordered, .. } => *ordered,
            ColumnKind::Text => false,
            _ => true,
        };
        // The null and "other" codes keep their own group until `*`.
        let tail: Vec<String> = base[n_values as usize..].to_vec();
        let n_codes = base.len();
        // The labels move into the levels (a datetime by the minute has 525,600 of them).
        let mut levels = vec![level_from_labels("value", base, n_values)];
        for (level_name, mut labels) in steps {
            labels.extend(tail.iter().cloned());
            levels.push(level_from_labels(&level_name, labels, n_values));
        }
        if levels.last().is_none_or(|l| l.n_groups() > 1) || levels.len() == 1 {
            levels.push(HierarchyLevel::top(n_codes, n_values));
        }
        let h = ColumnHierarchy {
            column: name,
            ordered,
            levels,
            defaulted,
            null_code: book.null_code,
        };
        h.check_nesting()?;
        Ok(h)
    }

    /// Every pair of codes grouped together at one level stays together at the next.
    fn check_nesting(&self) -> Result<(), AnonymiseError> {
        // A code's label is its group's at level 0 (groups there are the distinct labels).
        let value = &self.levels[0];
        let label = |code: usize| &value.labels[value.map[code] as usize];
        for w in 1..self.levels.len() {
            let (finer, coarser) = (&self.levels[w - 1], &self.levels[w]);
            let mut parent: Vec<Option<(u32, usize)>> = vec![None; finer.labels.len()];
            for (code, (&g, &p)) in finer.map.iter().zip(&coarser.map).enumerate() {
                match parent[g as usize] {
                    None => parent[g as usize] = Some((p, code)),
                    Some((q, other)) if q != p => {
                        return Err(AnonymiseError::Hierarchy {
                            column: self.column.clone(),
                            message: format!(
                                "levels do not nest: {:?} and {:?} share {:?} at level {:?} but \
                                 fall in {:?} and {:?} at level {:?}; make each level a grouping \
                                 of the one before",
                                label(other),
                                label(code),
                                finer.labels[g as usize],
                                finer.name,
                                coarser.labels[q as usize],
                                coarser.labels[p as usize],
                                coarser.name
                            ),
                        });
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Map from the groups of level `from` to those of level `to >= from`.
    pub fn between(&self, from: usize, to: usize) -> Vec<u32> {
        let (a, b) = (&self.levels[from], &self.levels[to]);
        let mut out = vec![0u32; a.labels.len()];
        for (&g, &h) in a.map.iter().zip(&b.map) {
            out[g as usize] = h;
        }
        out
    }

    /// The levels' names joined for messages (`value > bands of 5 > bands of 10 > *`).
    pub fn describe(&self) -> String {
        self.levels
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>()
            .join(" > ")
    }
}

/// Intern labels (one per code) into groups in order of first appearance, so an ordered
/// column's groups keep its order.
fn level_from_labels(name: &str, mut labels: Vec<String>, n_values: u32) -> HierarchyLevel {
    // Each group's first code; its label is moved out of `labels`, not copied.
    let mut firsts: Vec<usize> = Vec::new();
    let mut map = Vec::with_capacity(labels.len());
    {
        let mut index: FxHashMap<&str, u32> = FxHashMap::default();
        // Runs of codes with one label (a day's minutes) reuse the run's group unhashed.
        let mut run: Option<(&str, u32)> = None;
        for (code, label) in labels.iter().enumerate() {
            let g = match run {
                Some((l, g)) if l == label => g,
                _ => *index.entry(label.as_str()).or_insert_with(|| {
                    firsts.push(code);
                    (firsts.len() - 1) as u32
                }),
            };
            run = Some((label.as_str(), g));
            map.push(g);
        }
    }
    let names: Vec<String> = firsts
        .iter()
        .map(|&code| std::mem::take(&mut labels[code]))
        .collect();
    drop(labels);
    let mut group_values = vec![0u32; names.len()];
    for &g in &map[..n_values as usize] {
        group_values[g as usize] += 1;
    }
    HierarchyLevel {
        name: name.to_string(),
        map,
        labels: names,
        group_values,
    }
}

/// The hierarchy pets uses when none is declared, by kind: numeric bands of 5, 10, 20, 40
/// and 80 (nesting) narrower than the range; calendar periods coarser than the column's granularity;
/// postcode units for a categorical column whose values are all postcodes; otherwise the
/// value, then `*`.
fn default_spec(column: &EncodedColumn) -> HierarchySpec {
    let spec = &column.spec;
    match &spec.kind {
        ColumnKind::Integer {
            min,
            max,
            bins: None,
        } => {
            let range = (max - min + 1) as f64;
            let widths: Vec<f64> = [5.0, 10.0, 20.0, 40.0, 80.0]
                .into_iter()
                .filter(|&w| w < range)
                .collect();
            if widths.is_empty() {
                HierarchySpec::None
            } else {
                HierarchySpec::Bands {
                    widths,
                    top: None,
                    bottom: None,
                }
            }
        }
        ColumnKind::Date { granularity, .. } => {
            let all: &[&str] = match granularity {
                DateGranularity::Day => &["month", "quarter", "year"],
                DateGranularity::Week => &[],
                DateGranularity::Month => &["quarter", "year"],
                DateGranularity::Year => &[],
            };
            levels_or_none(all)
        }
        ColumnKind::Datetime { granularity, .. } => {
            let all: &[&str] = match granularity {
                TimeGranularity::Second | TimeGranularity::Minute => {
                    &["hour", "day", "month", "quarter", "year"]
                }
                TimeGranularity::Hour => &["day", "month", "quarter", "year"],
                TimeGranularity::Day => &["month", "quarter", "year"],
            };
            levels_or_none(all)
        }
        ColumnKind::Categorical { values, .. } => {
            if !values.is_empty() && values.iter().all(|v| Postcode::parse(v).is_some()) {
                let finest = values
                    .iter()
                    .map(|v| Postcode::parse(v).expect("checked").precision())
                    .min()
                    .unwrap_or(0);
                let levels: Vec<String> = ["sector", "district", "area"]
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i + 1 > finest)
                    .map(|(_, s)| s.to_string())
                    .collect();
                HierarchySpec::Postcode(levels)
            } else {
                HierarchySpec::None
            }
        }
        _ => HierarchySpec::None,
    }
}

fn levels_or_none(levels: &[&str]) -> HierarchySpec {
    if levels.is_empty() {
        HierarchySpec::None
    } else {
        HierarchySpec::Levels(levels.iter().map(|s| s.to_string()).collect())
    }
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Numeric bands: each code (value or bin) to the band of width `w` holding its lower edge,
/// counted from `bottom` (default: the declared minimum); codes at or above `top` to one
/// band `top+`.
fn bands(
    column: &EncodedColumn,
    widths: &[f64],
    top: Option<f64>,
    bottom: Option<f64>,
) -> Result<Vec<(String, Vec<String>)>, String> {
    let spec = &column.spec;
    let (min, integer) = match &spec.kind {
        ColumnKind::Integer { min, .. } => (*min as f64, true),
        ColumnKind::Float { min, .. } => (*min, false),
        other => {
            return Err(format!(
                "bands need a numeric column; this is a {} column (use levels, postcode, groups \
                 or a CSV table)",
                other.name()
            ));
        }
    };
    if widths.is_empty() {
        return Err("give at least one band width".into());
    }
    if let Some(w) = widths.iter().find(|w| !(w.is_finite() && **w > 0.0)) {
        return Err(format!("band width {w} must be a positive number"));
    }
    let bottom = bottom.unwrap_or(min);
    let n = column.codebook.n_values;
    let mut out = Vec::with_capacity(widths.len());
    for &w in widths {
        let mut labels = Vec::with_capacity(n as usize);
        for code in 0..n {
            let (lo, hi) = code_range(spec, &column.codebook, code).expect("numeric code");
            if let Some(t) = top {
                if lo >= t {
                    labels.push(format!("{}+", fmt_num(t)));
                    continue;
                }
                if hi > t && !(integer && hi - 1.0 < t) {
                    return Err(format!(
                        "the code [{}, {}) straddles top {}; put top on a bin edge",
                        fmt_num(lo),
                        fmt_num(hi),
                        fmt_num(t)
                    ));
                }
            }
            let b = ((lo - bottom) / w).floor();
            let (band_lo, mut band_hi) = (bottom + b * w, bottom + (b + 1.0) * w);
            // A value or bin must fit inside one band (integer codes are [v, v + 1)).
            if hi > band_hi + 1e-9 {
                return Err(format!(
                    "the code [{}, {}) is wider than or straddles the band of width {} starting \
                     at {}; use band widths that are multiples of the column's bins",
                    fmt_num(lo),
                    fmt_num(hi),
                    fmt_num(w),
                    fmt_num(band_lo)
                ));
            }
            if let Some(t) = top {
                band_hi = band_hi.min(t);
            }
            labels.push(if integer {
                format!("{}-{}", fmt_num(band_lo), fmt_num(band_hi - 1.0))
            } else {
                format!("[{}, {})", fmt_num(band_lo), fmt_num(band_hi))
            });
        }
        out.push((format!("bands of {}", fmt_num(w)), labels));
    }
    Ok(out)
}

/// Calendar levels, finest to coarsest (a level may only coarsen the column's own step).
const CALENDAR: [&str; 9] = [
    "second", "minute", "hour", "4hour", "day", "week", "month", "quarter", "year",
];

/// What a calendar label of `level` is a function of: two instants have the same label
/// exactly when they have the same period (the label prints the period's fields).
type CalendarPeriod = (i32, u32, u32);

/// The period of `level` that `t` falls in (see [`calendar_label`], which it mirrors).
fn calendar_period(level: &str, t: NaiveDateTime) -> CalendarPeriod {
    let day = t.date().num_days_from_ce();
    match level {
        "second" => (day, t.num_seconds_from_midnight(), 0),
        "minute" => (day, t.hour(), t.minute()),
        "hour" => (day, t.hour(), 0),
        "4hour" => (day, t.hour() / 4, 0),
        "day" => (day, 0, 0),
        "week" => {
            let w = t.iso_week();
            (w.year(), w.week(), 0)
        }
        "month" => (t.year(), t.month(), 0),
        "quarter" => (t.year(), (t.month() - 1) / 3 + 1, 0),
        "year" => (t.year(), 0, 0),
        _ => unreachable!("checked"),
    }
}

fn calendar_label(level: &str, t: NaiveDateTime) -> String {
    match level {
        "second" => t.format("%Y-%m-%dT%H:%M:%S").to_string(),
        "minute" => t.format("%Y-%m-%dT%H:%M").to_string(),
        "hour" => t.format("%Y-%m-%dT%H:00").to_string(),
        "4hour" => {
            let h = t.hour() / 4 * 4;
            format!("{}T{:02}:00-{:02}:59", t.format("%Y-%m-%d"), h, h + 3)
        }
        "day" => t.format("%Y-%m-%d").to_string(),
        "week" => {
            let w = t.iso_week();
            format!("{}-W{:02}", w.year(), w.week())
        }
        "month" => t.format("%Y-%m").to_string(),
        "quarter" => format!("{}-Q{}", t.year(), (t.month() - 1) / 3 + 1),
        "year" => t.year().to_string(),
        _ => unreachable!("checked"),
    }
}

fn calendar(
    column: &EncodedColumn,
    levels: &[String],
) -> Result<Vec<(String, Vec<String>)>, String> {
    let spec = &column.spec;
    let (step_rank, step_secs) = match &spec.kind {
        ColumnKind::Date { granularity, .. } => match granularity {
            DateGranularity::Day => (4, 86_400),
            DateGranularity::Week => (5, 7 * 86_400),
            DateGranularity::Month => (6, 0),
            DateGranularity::Year => (8, 0),
        },
        ColumnKind::Datetime { granularity, .. } => match granularity {
            TimeGranularity::Second => (0, 1),
            TimeGranularity::Minute => (1, 60),
            TimeGranularity::Hour => (2, 3_600),
            TimeGranularity::Day => (4, 86_400),
        },
        other => {
            return Err(format!(
                "calendar levels need a date or datetime column; this is a {} column",
                other.name()
            ));
        }
    };
    let n = column.codebook.n_values;
    let mut out = Vec::with_capacity(levels.len());
    for level in levels {
        let level = level.trim();
        let Some(rank) = CALENDAR.iter().position(|l| *l == level) else {
            return Err(format!(
                "unknown calendar level {level:?}; the levels are {}",
                CALENDAR.join(", ")
            ));
        };
        if rank < step_rank {
            return Err(format!(
                "level {level:?} is finer than the column's own step ({}); list coarser levels",
                CALENDAR[step_rank]
            ));
        }
        let mut labels: Vec<String> = Vec::with_capacity(n as usize);
        // The previous code's period and label: consecutive codes mostly share a period, and
        // equal periods have equal labels, so a label is formatted once a period.
        let mut last: Option<(CalendarPeriod, usize)> = None;
        for code in 0..n {
            let start = code_start(spec, &column.codebook, code).expect("calendar code");
            let period = calendar_period(level, start);
            // The code's last instant must fall in the same period.
            let end = match &spec.kind {
                ColumnKind::Date {
                    min,
                    max,
                    granularity,
                    ..
                } => crate::data::decode::date_period(*min, *max, *granularity, code)
                    .1
                    .and_hms_opt(23, 59, 59)
                    .expect("valid"),
                _ => start + chrono::TimeDelta::seconds(step_secs - 1),
            };
            if calendar_period(level, end) != period {
                return Err(format!(
                    "the code starting {} does not fit in one {level}; choose levels that \
                     group whole codes (a week does not fit in a month)",
                    start.format("%Y-%m-%dT%H:%M:%S")
                ));
            }
            let label = match last {
                Some((p, i)) if p == period => labels[i].clone(),
                _ => calendar_label(level, start),
            };
            last = Some((period, labels.len()));
            labels.push(label);
        }
        out.push((level.to_string(), labels));
    }
    Ok(out)
}

/// A UK postcode or part of one: area (letters), district (outward code), sector (outward
/// code and the inward code's digit), unit (full postcode).
#[derive(Debug, Clone, PartialEq)]
struct Postcode {
    area: String,
    district: String,
    sector: Option<String>,
    unit: Option<String>,
}

impl Postcode {
    /// Parse `LS1 4AP`, `LS14AP`, `LS1 4` (a sector), `LS1` (a district) or `LS` (an area);
    /// case is ignored.
    fn parse(text: &str) -> Option<Postcode> {
        let upper = text.trim().to_ascii_uppercase();
        if upper.is_empty() || !upper.is_ascii() {
            return None;
        }
        let parts: Vec<&str> = upper.split_whitespace().collect();
        if parts.len() > 2 {
            return None;
        }
        if parts.len() == 2 && parts[1].len() == 1 && parts[1].as_bytes()[0].is_ascii_digit() {
            let (area, district) = outward(parts[0])?;
            return Some(Postcode {
                sector: Some(format!("{district} {}", parts[1])),
                area,
                district,
                unit: None,
            });
        }
        let compact = parts.concat();
        let b = compact.as_bytes();
        let n = b.len();
        if n >= 5
            && b[n - 3].is_ascii_digit()
            && b[n - 2].is_ascii_alphabetic()
            && b[n - 1].is_ascii_alphabetic()
            && let Some((area, district)) = outward(&compact[..n - 3])
        {
            return Some(Postcode {
                sector: Some(format!("{district} {}", &compact[n - 3..n - 2])),
                unit: Some(format!("{district} {}", &compact[n - 3..])),
                area,
                district,
            });
        }
        if parts.len() == 2 {
            return None;
        }
        if let Some((area, district)) = outward(&compact) {
            return Some(Postcode {
                area,
                district,
                sector: None,
                unit: None,
            });
        }
        ((1..=2).contains(&n) && b.iter().all(u8::is_ascii_alphabetic)).then(|| Postcode {
            area: compact.clone(),
            district: String::new(),
            sector: None,
            unit: None,
        })
    }

    /// 0 = unit, 1 = sector, 2 = district, 3 = area: the finest part present.
    fn precision(&self) -> usize {
        if self.unit.is_some() {
            0
        } else if self.sector.is_some() {
            1
        } else if !self.district.is_empty() {
            2
        } else {
            3
        }
    }
}

/// An outward code (`LS1`, `SW1A`, `M13`): one or two letters, a digit, then at most two
/// more digits or letters (real districts have at most one; synthetic data such as pets'
/// generator use more). Returns (area, district).
fn outward(s: &str) -> Option<(String, String)> {
    let letters = s.bytes().take_while(u8::is_ascii_alphabetic).count();
    let rest = &s.as_bytes()[letters..];
    let ok = (1..=2).contains(&letters)
        && !rest.is_empty()
        && rest.len() <= 3
        && rest[0].is_ascii_digit()
        && rest.iter().all(u8::is_ascii_alphanumeric);
    ok.then(|| (s[..letters].to_string(), s.to_string()))
}

fn postcode(domain: &[String], levels: &[String]) -> Result<Vec<(String, Vec<String>)>, String> {
    let parsed: Vec<Postcode> = domain
        .iter()
        .map(|v| {
            Postcode::parse(v).ok_or_else(|| {
                format!(
                    "{v:?} is not a UK postcode or part of one; group such values with a \
                     grouping table (groups or @file.csv)"
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for level in levels {
        let level = level.trim();
        let labels = parsed
            .iter()
            .zip(domain)
            .map(|(p, v)| {
                let part = match level {
                    "sector" => p.sector.clone(),
                    "district" => (!p.district.is_empty()).then(|| p.district.clone()),
                    "area" => Some(p.area.clone()),
                    other => {
                        return Err(format!(
                            "unknown postcode level {other:?}; the levels are sector, district, area"
                        ));
                    }
                };
                part.ok_or_else(|| format!("{v:?} has no {level}; list only coarser levels"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push((level.to_string(), labels));
    }
    Ok(out)
}

/// A grouping table: each value's labels at levels 1, 2, ... (all paths of one length).
fn groups(
    domain: &[String],
    table: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<(String, Vec<String>)>, String> {
    let missing: Vec<&String> = domain.iter().filter(|v| !table.contains_key(*v)).collect();
    if let Some(first) = missing.first() {
        return Err(format!(
            "the grouping table misses {} value(s) of the column (first: {first:?}); give every \
             declared value a row",
            missing.len()
        ));
    }
    let depth = table.values().map(Vec::len).max().unwrap_or(0);
    if let Some((v, p)) = table.iter().find(|(_, p)| p.len() != depth) {
        return Err(format!(
            "value {v:?} has {} level(s) but others have {depth}; give every value one label \
             per level",
            p.len()
        ));
    }
    Ok((0..depth)
        .map(|l| {
            (
                format!("level {}", l + 1),
                domain.iter().map(|v| table[v][l].clone()).collect(),
            )
        })
        .collect())
}

/// Read an ARX-style hierarchy table: one row per value, `value;level1;level2...` (or
/// commas), no header.
fn read_csv_table(path: &Path) -> Result<BTreeMap<String, Vec<String>>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read hierarchy file {}: {e}", path.display()))?;
    let delimiter = if text.lines().next().is_some_and(|l| l.contains(';')) {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = BTreeMap::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| format!("{} row {}: {e}", path.display(), i + 1))?;
        let mut fields = row.iter().map(|f| f.trim().to_string());
        let Some(value) = fields.next() else { continue };
        if value.is_empty() {
            continue;
        }
        let path_labels: Vec<String> = fields.collect();
        if out.insert(value.clone(), path_labels).is_some() {
            return Err(format!(
                "{} row {}: value {value:?} appears twice",
                path.display(),
                i + 1
            ));
        }
    }
    // A trailing `*` column is the suppressed level, which every hierarchy ends with anyway.
    if !out.is_empty() && out.values().all(|p| p.last().is_some_and(|l| l == "*")) {
        for p in out.values_mut() {
            p.pop();
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ColumnSpec, EncodeOptions, Encoder, Schema};
    use arrow_array::{ArrayRef, RecordBatch, StringArray};
    use std::sync::Arc;

    fn encoded(spec: ColumnSpec, values: &[&str]) -> EncodedColumn {
        let schema = Schema::new(vec![spec.clone()]).unwrap();
        let mut enc = Encoder::new(&schema, EncodeOptions::default()).unwrap();
        let array: ArrayRef = Arc::new(StringArray::from(values.to_vec()));
        let batch = RecordBatch::try_from_iter([(spec.name.as_str(), array)]).unwrap();
        enc.push(&batch).unwrap();
        enc.finish().unwrap().into_columns().remove(0)
    }

    fn labels_at(h: &ColumnHierarchy, level: usize) -> Vec<String> {
        let l = &h.levels[level];
        l.map
            .iter()
            .map(|&g| l.labels[g as usize].clone())
            .collect()
    }

    #[test]
    fn integer_bands_with_top_coding_nest() {
        let col = encoded(ColumnSpec::integer("age", 0, 99), &["1"]);
        let spec = HierarchySpec::parse("5,10;top=90").unwrap();
        let h = ColumnHierarchy::resolve(&col, Some(&spec), None).unwrap();
        assert_eq!(h.height(), 3);
        let five = labels_at(&h, 1);
        assert_eq!(five[0], "0-4");
        assert_eq!(five[89], "85-89");
        assert_eq!(five[95], "90+");
        assert_eq!(labels_at(&h, 2)[37], "30-39");
        assert_eq!(h.levels[3].labels, vec!["*"]);
        assert_eq!(h.levels[1].group_values[0], 5);
        assert_eq!(h.describe(), "value > bands of 5 > bands of 10 > *");
    }

    #[test]
    fn every_default_hierarchy_nests() {
        for (lo, hi) in [(0, 3), (0, 110), (1, 10), (-50, 4000)] {
            let col = encoded(ColumnSpec::integer("n", lo, hi), &[&lo.to_string()]);
            ColumnHierarchy::resolve(&col, None, None).unwrap();
        }
    }

    #[test]
    fn bands_that_do_not_nest_are_refused() {
        let col = encoded(ColumnSpec::integer("age", 0, 99), &["1"]);
        let spec = HierarchySpec::parse("5,7").unwrap();
        let e = ColumnHierarchy::resolve(&col, Some(&spec), None).unwrap_err();
        assert!(e.to_string().contains("do not nest"), "{e}");
    }

    #[test]
    fn calendar_levels_of_a_datetime() {
        let spec = ColumnSpec::new(
            "arrival",
            ColumnKind::Datetime {
                min: "2024-01-01T00:00:00".parse().unwrap(),
                max: "2024-12-31T23:00:00".parse().unwrap(),
                granularity: TimeGranularity::Hour,
                format: None,
            },
        );
        let col = encoded(spec, &["2024-05-01T10:00:00"]);
        let h = ColumnHierarchy::resolve(
            &col,
            Some(&HierarchySpec::parse("4hour,day,month,quarter,year").unwrap()),
            None,
        )
        .unwrap();
        assert_eq!(labels_at(&h, 1)[10], "2024-01-01T08:00-11:59");
        assert_eq!(labels_at(&h, 3)[24 * 40], "2024-02");
        assert_eq!(labels_at(&h, 4)[24 * 100], "2024-Q2");
        assert_eq!(h.levels[5].n_groups(), 1);
        // year has one group: no extra `*` level
        assert_eq!(h.height(), 5);
        let e = ColumnHierarchy::resolve(
            &col,
            Some(&HierarchySpec::parse("week,month").unwrap()),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("nest"), "{e}");
        let e =
            ColumnHierarchy::resolve(&col, Some(&HierarchySpec::parse("minute").unwrap()), None)
                .unwrap_err();
        assert!(e.to_string().contains("finer"), "{e}");
    }

    /// Labels formatted once a period (and the `*` level built without labels) are what
    /// formatting every code's start gives, at every calendar level of a minute column.
    #[test]
    fn calendar_labels_once_a_period_match_every_code_formatted() {
        let spec = ColumnSpec::new(
            "arrival",
            ColumnKind::Datetime {
                min: "2024-12-20T00:00:00".parse().unwrap(),
                max: "2025-01-10T23:59:00".parse().unwrap(),
                granularity: TimeGranularity::Minute,
                format: None,
            },
        );
        let col = encoded(spec, &["2024-12-31T23:59:00"]);
        let levels = ["hour", "4hour", "day", "week", "month", "quarter", "year"];
        for level in levels {
            let h =
                ColumnHierarchy::resolve(&col, Some(&HierarchySpec::parse(level).unwrap()), None)
                    .unwrap();
            let n = col.codebook.n_values;
            let direct: Vec<String> = (0..n)
                .map(|c| calendar_label(level, code_start(&col.spec, &col.codebook, c).unwrap()))
                .collect();
            assert_eq!(labels_at(&h, 1)[..n as usize], direct[..], "{level}");
            let mut expected = vec![level_from_labels(
                "value",
                (0..n).map(|c| col.label(c)).collect(),
                n,
            )];
            expected.push(level_from_labels(level, direct, n));
            if expected[1].n_groups() > 1 {
                expected.push(level_from_labels("*", vec!["*".to_string(); n as usize], n));
            }
            assert_eq!(h.levels, expected, "{level}");
        }
    }

    #[test]
    fn postcodes_cut_into_units() {
        let p = Postcode::parse("ls1 4ap").unwrap();
        assert_eq!(p.sector.as_deref(), Some("LS1 4"));
        assert_eq!(p.district, "LS1");
        assert_eq!(p.area, "LS");
        assert_eq!(Postcode::parse("SW1A 1AA").unwrap().district, "SW1A");
        assert_eq!(Postcode::parse("M1").unwrap().area, "M");
        assert_eq!(
            Postcode::parse("LS1 4").unwrap().sector.as_deref(),
            Some("LS1 4")
        );
        assert!(Postcode::parse("Unknown").is_none());
        let col = encoded(
            ColumnSpec::categorical("district", ["LS1", "LS2", "M1", "M13"]),
            &["LS1"],
        );
        let h = ColumnHierarchy::resolve(&col, None, None).unwrap();
        assert!(h.defaulted);
        assert_eq!(h.describe(), "value > area > *");
        assert_eq!(labels_at(&h, 1), vec!["LS", "LS", "M", "M"]);
    }

    #[test]
    fn grouping_tables_must_cover_every_value() {
        let col = encoded(ColumnSpec::categorical("eth", ["A", "B", "C"]), &["A"]);
        let mut table = BTreeMap::new();
        table.insert("A".to_string(), vec!["White".to_string()]);
        table.insert("B".to_string(), vec!["White".to_string()]);
        let e = ColumnHierarchy::resolve(&col, Some(&HierarchySpec::Groups(table.clone())), None)
            .unwrap_err();
        assert!(e.to_string().contains("\"C\""), "{e}");
        table.insert("C".to_string(), vec!["Mixed".to_string()]);
        let h = ColumnHierarchy::resolve(&col, Some(&HierarchySpec::Groups(table)), None).unwrap();
        assert_eq!(labels_at(&h, 1), vec!["White", "White", "Mixed"]);
    }

    #[test]
    fn arx_csv_tables_read_with_semicolons() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("h.csv"), "A;X;*\nB;X;*\nC;Y;*\n").unwrap();
        let col = encoded(ColumnSpec::categorical("eth", ["A", "B", "C"]), &["A"]);
        let h = ColumnHierarchy::resolve(
            &col,
            Some(&HierarchySpec::parse("@h.csv").unwrap()),
            Some(dir.path()),
        )
        .unwrap();
        assert_eq!(h.describe(), "value > level 1 > *");
        let e = ColumnHierarchy::resolve(
            &col,
            Some(&HierarchySpec::parse("@missing.csv").unwrap()),
            Some(dir.path()),
        )
        .unwrap_err();
        assert!(e.to_string().contains("cannot read"), "{e}");
    }
}

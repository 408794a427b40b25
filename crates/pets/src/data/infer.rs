//! Schema inference from data, for convenience.
//!
//! **Inferred domains are not public.** The categories and bounds found here are read from
//! the private data, and releasing anything computed over them discloses, for instance, that
//! a rare diagnosis occurs at all. Every inferred column is therefore marked
//! [`ColumnSpec::domain_from_data`], and DP results computed over such a schema carry a
//! warning. Write the schema out, review it, widen the bounds to public limits, drop the
//! flag, and use the reviewed file for releases.
//!
//! Rules, per column, over the whole input (streamed):
//! - text that is always a canonical integer (no leading zeros, so codes like `"01"` stay
//!   labels) becomes `integer` over the observed `[min, max]`; always a finite number,
//!   `float` with equal-width bins; always an ISO date, `date`; always an ISO datetime,
//!   `datetime` at the coarsest granularity (second, minute, hour) that loses nothing;
//! - other text with at most `max_categories` distinct values becomes `categorical` (values
//!   sorted, numbers numerically), and more than that becomes `text` (not encodable);
//! - typed columns keep their type: integers, floats, booleans (categorical `false`/`true`),
//!   dates and timestamps;
//! - integer ranges wider than `max_integer_codes` get equal-width bins, except numeric
//!   *text* with more than `max_categories` distinct values over such a range, which is an
//!   identifier (NHS number) and becomes `text`;
//! - a column with any null is `nullable`;
//! - text that looks like an identifier (mostly unique, or many numbers over a huge range)
//!   gets the role `direct_identifier`, so it is never summarised, synthesised or released.
//!
//! With [`InferOptions::exact_values`] (what a disclosure-control job infers with), numbers
//! are never binned: a risk assessment must group on the values actually released. Numbers
//! with decimals, and integers over a range too wide for dense codes, become ordered
//! categories of their exact values (up to [`MAX_EXACT_NUMBERS`] of them); only past that
//! are they binned, and the column's description says so.

use std::cmp::Ordering;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use rayon::prelude::*;
use rustc_hash::FxHashSet;

use super::error::{DataError, Result};
use super::io::BatchStream;
use super::schema::{Binning, ColumnKind, ColumnSpec, Role, Schema, TimeGranularity};
use super::values;

/// Most distinct typed numbers kept as exact values under [`InferOptions::exact_values`];
/// past it a column is binned (and says so). A million values is ~8 MB while observing.
pub const MAX_EXACT_NUMBERS: usize = 1_000_000;

/// Options for [`SchemaInferrer`].
#[derive(Debug, Clone)]
pub struct InferOptions {
    /// Most distinct text values a categorical column may have (default 10,000).
    pub max_categories: usize,
    /// Equal-width bins given to float columns (default 20).
    pub float_bins: u32,
    /// Integer ranges with more values than this get `float_bins` equal-width bins
    /// (default 1,000,000).
    pub max_integer_codes: u64,
    /// Name recorded in the schema.
    pub name: Option<String>,
    /// Never bin numbers, and keep text with many values: numbers with decimals and
    /// integers over ranges too wide for dense codes become ordered categories of their
    /// exact values, and text stays categorical up to [`MAX_EXACT_NUMBERS`] distinct values
    /// (mostly unique text is still an identifier). A
    /// disclosure-risk assessment must group on the values actually released, not on bins
    /// (default false; the disclosure-control jobs set it when they infer).
    pub exact_values: bool,
}

impl Default for InferOptions {
    fn default() -> Self {
        InferOptions {
            max_categories: 10_000,
            float_bins: 20,
            max_integer_codes: 1_000_000,
            name: None,
            exact_values: false,
        }
    }
}

impl InferOptions {
    /// Most distinct texts a column may show and still be a category: `max_categories`,
    /// or [`MAX_EXACT_NUMBERS`] when inferring for risk, where a quasi-identifier is
    /// grouped on every value it holds (an intruder knows them all, not a bin of them).
    fn category_cap(&self) -> usize {
        if self.exact_values {
            self.max_categories.max(MAX_EXACT_NUMBERS)
        } else {
            self.max_categories
        }
    }

    /// Refuse options no inference can honour (a categorical column needs room for one
    /// value; a float column at least one bin).
    pub fn check(&self) -> Result<()> {
        if self.max_categories == 0 {
            return Err(DataError::InvalidArgument {
                name: "max_categories",
                reason: "it must be at least 1 (--max-categories)".into(),
            });
        }
        if self.float_bins == 0 {
            return Err(DataError::InvalidArgument {
                name: "float_bins",
                reason: "it must be at least 1 (--float-bins)".into(),
            });
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Family {
    Text,
    Int,
    Float,
    Bool,
    Date,
    Timestamp,
    Unsupported,
}

fn family(dt: &DataType) -> Family {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Family::Text,
        DataType::Dictionary(_, v) => family(v),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => Family::Int,
        DataType::Float32 | DataType::Float64 => Family::Float,
        DataType::Boolean => Family::Bool,
        DataType::Date32 | DataType::Date64 => Family::Date,
        DataType::Timestamp(_, _) => Family::Timestamp,
        DataType::Null => Family::Text,
        _ => Family::Unsupported,
    }
}

#[derive(Debug, Clone)]
struct ColumnState {
    name: String,
    data_type: DataType,
    nulls: u64,
    non_null: u64,
    /// Distinct texts, until there are more than `max_categories`.
    distinct: Option<FxHashSet<String>>,
    all_int: bool,
    all_float: bool,
    all_date: bool,
    all_datetime: bool,
    int_range: Option<(i64, i64)>,
    float_range: Option<(f64, f64)>,
    day_range: Option<(i64, i64)>,
    sec_range: Option<(i64, i64)>,
    /// Finest step seen among datetimes: 0 = sub-second, 1 second, 60 minute, 3600 hour.
    finest_step: i64,
    saw_nan: bool,
    /// Distinct typed numbers (exact-values inference only; `None` otherwise or past
    /// [`MAX_EXACT_NUMBERS`]): `f64` bits for floats (`-0.0` as `0.0`), `i64` bits for
    /// integers.
    numbers: Option<FxHashSet<u64>>,
}

fn widen<T: PartialOrd + Copy>(r: &mut Option<(T, T)>, v: T) {
    match r {
        None => *r = Some((v, v)),
        Some((lo, hi)) => {
            if v < *lo {
                *lo = v;
            }
            if v > *hi {
                *hi = v;
            }
        }
    }
}

fn step_of(secs: i64, sub_second: bool) -> i64 {
    if sub_second {
        0
    } else if secs.rem_euclid(3600) == 0 {
        3600
    } else if secs.rem_euclid(60) == 0 {
        60
    } else {
        1
    }
}

impl ColumnState {
    fn new(name: &str, data_type: &DataType, exact_values: bool) -> Self {
        ColumnState {
            name: name.to_string(),
            data_type: data_type.clone(),
            nulls: 0,
            non_null: 0,
            distinct: Some(FxHashSet::default()),
            all_int: true,
            all_float: true,
            all_date: true,
            all_datetime: true,
            int_range: None,
            float_range: None,
            day_range: None,
            sec_range: None,
            finest_step: 3600,
            saw_nan: false,
            numbers: exact_values.then(FxHashSet::default),
        }
    }

    /// Remember a typed number's bits (exact-values inference).
    fn note_number(&mut self, bits: u64) {
        if let Some(set) = &mut self.numbers {
            set.insert(bits);
            if set.len() > MAX_EXACT_NUMBERS {
                self.numbers = None;
            }
        }
    }

    fn observe_text(&mut self, s: &str, max_categories: usize) {
        if let Some(set) = &mut self.distinct
            && !set.contains(s)
        {
            set.insert(s.to_string());
            if set.len() > max_categories {
                self.distinct = None;
            }
        }
        if self.all_int {
            // Padding does not make an integer a float (`" 5"`): encoding trims numbers.
            let t = s.trim();
            if values::is_canonical_integer(t) {
                widen(&mut self.int_range, t.parse::<i64>().expect("canonical"));
            } else {
                self.all_int = false;
            }
        }
        if self.all_float {
            // A number without a decimal point or exponent must be a canonical integer, so
            // that codes with leading zeros ("01") stay labels.
            let t = s.trim();
            let plain = !t.contains(['.', 'e', 'E']);
            match values::parse_f64(t) {
                Some(v) if !t.is_empty() && (!plain || values::is_canonical_integer(t)) => {
                    widen(&mut self.float_range, v)
                }
                _ => self.all_float = false,
            }
        }
        if self.all_date {
            match values::parse_iso_date(s) {
                Some(d) => widen(&mut self.day_range, values::days_of(d)),
                None => self.all_date = false,
            }
        }
        if self.all_datetime {
            match values::parse_iso_datetime(s) {
                Some(t) => {
                    let secs = values::seconds_of(t);
                    widen(&mut self.sec_range, secs);
                    let sub = t.and_utc().timestamp_subsec_nanos() != 0;
                    self.finest_step = self.finest_step.min(step_of(secs, sub));
                }
                None => self.all_datetime = false,
            }
        }
    }

    fn observe(&mut self, array: &ArrayRef, max_categories: usize) {
        let nulls = array.logical_null_count() as u64;
        self.nulls += nulls;
        self.non_null += array.len() as u64 - nulls;
        if nulls as usize == array.len() {
            return;
        }
        let valid = |i: usize| array.is_valid(i);
        match array.data_type() {
            DataType::Utf8 => {
                let a = array.as_string::<i32>();
                a.iter()
                    .flatten()
                    .for_each(|s| self.observe_text(s, max_categories));
            }
            DataType::LargeUtf8 => {
                let a = array.as_string::<i64>();
                a.iter()
                    .flatten()
                    .for_each(|s| self.observe_text(s, max_categories));
            }
            DataType::Utf8View => {
                let a = array.as_string_view();
                a.iter()
                    .flatten()
                    .for_each(|s| self.observe_text(s, max_categories));
            }
            DataType::Dictionary(_, _) => {
                let d = array.as_any_dictionary();
                let keys = d.normalized_keys();
                let values = d.values();
                let nulls = array.logical_nulls();
                let mut used = vec![false; values.len()];
                for (i, &k) in keys.iter().enumerate() {
                    if nulls.as_ref().is_none_or(|n| n.is_valid(i)) {
                        used[k] = true;
                    }
                }
                let mut sub =
                    ColumnState::new(&self.name, values.data_type(), self.numbers.is_some());
                sub.distinct = self.distinct.take();
                let idx: Vec<u32> = (0..values.len() as u32)
                    .filter(|&k| used[k as usize])
                    .collect();
                let taken = arrow_select::take::take(
                    values.as_ref(),
                    &arrow_array::UInt32Array::from(idx),
                    None,
                )
                .expect("indices in range");
                let (n, nn) = (sub.nulls, sub.non_null);
                sub.observe(&taken, max_categories);
                sub.nulls = n;
                sub.non_null = nn;
                self.merge_typed(sub);
            }
            DataType::Boolean => {
                let a = array.as_boolean();
                for i in (0..a.len()).filter(|&i| valid(i)) {
                    let s = if a.value(i) { "true" } else { "false" };
                    if let Some(set) = &mut self.distinct {
                        set.insert(s.to_string());
                    }
                }
            }
            DataType::Float32 | DataType::Float64 => {
                let a = arrow_cast::cast(array, &DataType::Float64).expect("float to f64");
                let a = a.as_primitive::<Float64Type>();
                for i in (0..a.len()).filter(|&i| valid(i)) {
                    let v = a.value(i);
                    if v.is_finite() {
                        widen(&mut self.float_range, v);
                        // -0.0 and 0.0 are one value (0.0 + -0.0 = 0.0).
                        self.note_number((v + 0.0).to_bits());
                    } else {
                        self.saw_nan = true;
                    }
                }
            }
            DataType::Date32 | DataType::Date64 => {
                let a = arrow_cast::cast(array, &DataType::Date32).expect("date to date32");
                let a = a.as_primitive::<Date32Type>();
                for i in (0..a.len()).filter(|&i| valid(i)) {
                    widen(&mut self.day_range, i64::from(a.value(i)));
                }
            }
            DataType::Timestamp(unit, _) => {
                let per: i64 = match unit {
                    TimeUnit::Second => 1,
                    TimeUnit::Millisecond => 1_000,
                    TimeUnit::Microsecond => 1_000_000,
                    TimeUnit::Nanosecond => 1_000_000_000,
                };
                let a = arrow_cast::cast(array, &DataType::Int64).expect("timestamp to i64");
                let a = a.as_primitive::<Int64Type>();
                for i in (0..a.len()).filter(|&i| valid(i)) {
                    let raw = a.value(i);
                    let secs = raw.div_euclid(per);
                    widen(&mut self.sec_range, secs);
                    self.finest_step = self
                        .finest_step
                        .min(step_of(secs, raw.rem_euclid(per) != 0));
                }
            }
            dt if family(dt) == Family::Int => {
                // i64 covers every value except u64 above i64::MAX, which saturates (and
                // then fails encoding loudly rather than silently).
                let a = arrow_cast::cast(array, &DataType::Int64).unwrap_or_else(|_| {
                    arrow_cast::cast(
                        &arrow_cast::cast(array, &DataType::Float64).expect("to f64"),
                        &DataType::Int64,
                    )
                    .expect("to i64")
                });
                let a = a.as_primitive::<Int64Type>();
                for i in (0..a.len()).filter(|&i| valid(i)) {
                    widen(&mut self.int_range, a.value(i));
                    self.note_number(a.value(i) as u64);
                }
            }
            _ => {}
        }
    }

    /// Fold in the observations of a dictionary's values (typed like this column's values).
    fn merge_typed(&mut self, sub: ColumnState) {
        self.distinct = sub.distinct;
        self.all_int &= sub.all_int;
        self.all_float &= sub.all_float;
        self.all_date &= sub.all_date;
        self.all_datetime &= sub.all_datetime;
        for (mine, theirs) in [(&mut self.int_range, sub.int_range)] {
            if let Some((a, b)) = theirs {
                widen(mine, a);
                widen(mine, b);
            }
        }
        if let Some((a, b)) = sub.float_range {
            widen(&mut self.float_range, a);
            widen(&mut self.float_range, b);
        }
        if let Some((a, b)) = sub.day_range {
            widen(&mut self.day_range, a);
            widen(&mut self.day_range, b);
        }
        if let Some((a, b)) = sub.sec_range {
            widen(&mut self.sec_range, a);
            widen(&mut self.sec_range, b);
        }
        self.finest_step = self.finest_step.min(sub.finest_step);
        self.saw_nan |= sub.saw_nan;
        match (&mut self.numbers, sub.numbers) {
            (Some(mine), Some(theirs)) => {
                mine.extend(theirs);
                if mine.len() > MAX_EXACT_NUMBERS {
                    self.numbers = None;
                }
            }
            (None, _) => {}
            (mine, None) => *mine = None,
        }
    }

    fn finish(self, opts: &InferOptions) -> Result<ColumnSpec> {
        let fam = family(&self.data_type);
        let nullable = self.nulls > 0;
        let mut description: Option<String> = None;
        let kind = if self.non_null == 0 {
            description = Some("every value is null: no domain to infer".into());
            ColumnKind::Text
        } else {
            match fam {
                Family::Text => self.text_kind(opts, &mut description),
                Family::Int => {
                    let (min, max) = self.int_range.expect("non-null ints seen");
                    match &self.numbers {
                        Some(set)
                            if wide(min, max, opts) && mostly_unique(set.len(), self.non_null) =>
                        {
                            description = Some(format!(
                                "{} distinct whole numbers in {} rows over a range wider than {}: \
                                 {LIKELY_IDENTIFIER}; treated as text, not encoded",
                                set.len(),
                                self.non_null,
                                opts.max_integer_codes
                            ));
                            ColumnKind::Text
                        }
                        Some(set) if wide(min, max, opts) => {
                            let mut v: Vec<i64> = set.iter().map(|&b| b as i64).collect();
                            v.sort_unstable();
                            exact_categories(v.iter().map(i64::to_string), &mut description)
                        }
                        _ => {
                            let kind = integer_kind(min, max, opts, &mut description);
                            if opts.exact_values && wide(min, max, opts) {
                                description = Some(too_many_numbers(opts.float_bins));
                            }
                            kind
                        }
                    }
                }
                Family::Float => match self.float_range {
                    Some(_) if self.numbers.is_some() => {
                        let set = self.numbers.as_ref().expect("checked");
                        let mut v: Vec<f64> = set.iter().map(|&b| f64::from_bits(b)).collect();
                        v.sort_unstable_by(f64::total_cmp);
                        exact_categories(v.into_iter().map(number_label), &mut description)
                    }
                    Some((min, max)) => {
                        if opts.exact_values {
                            description = Some(too_many_numbers(opts.float_bins));
                        }
                        ColumnKind::Float {
                            min,
                            max,
                            bins: Binning::EqualWidth(opts.float_bins),
                        }
                    }
                    None => {
                        return Err(DataError::Unparsable {
                            column: self.name.clone(),
                            row: 0,
                            value: "NaN".into(),
                            expected: "at least one finite number to infer bounds from".into(),
                        });
                    }
                },
                Family::Bool => ColumnKind::Categorical {
                    values: vec!["false".into(), "true".into()],
                    ordered: false,
                },
                Family::Date => {
                    let (a, b) = self.day_range.expect("non-null dates seen");
                    date_kind(a, b)
                }
                Family::Timestamp => {
                    let (a, b) = self.sec_range.expect("non-null timestamps seen");
                    datetime_kind(a, b, self.finest_step)
                }
                Family::Unsupported => {
                    return Err(DataError::SchemaMismatch {
                        column: None,
                        detail: format!(
                            "column {:?} has Arrow type {}, which pets cannot infer a domain for; \
                             cast it to text, a number, a date or a timestamp",
                            self.name, self.data_type
                        ),
                    });
                }
            }
        };
        if self.saw_nan {
            let note = "NaN seen: encoding will refuse NaN; convert NaN to null".to_string();
            description = Some(match description {
                Some(d) => format!("{d}; {note}"),
                None => note,
            });
        }
        let encodable = kind.is_encodable();
        let identifier = !encodable
            && description
                .as_deref()
                .is_some_and(|d| d.contains(LIKELY_IDENTIFIER));
        let mut spec = ColumnSpec::new(self.name, kind).nullable(nullable);
        if identifier {
            spec.role = Role::DirectIdentifier;
        }
        spec.description = description;
        spec.domain_from_data = encodable;
        Ok(spec)
    }

    fn text_kind(&self, opts: &InferOptions, description: &mut Option<String>) -> ColumnKind {
        if self.all_int {
            let (min, max) = self.int_range.expect("non-null seen");
            let wide = wide(min, max, opts);
            match &self.distinct {
                Some(set)
                    if wide && opts.exact_values && !mostly_unique(set.len(), self.non_null) =>
                {
                    let mut v: Vec<i64> = set
                        .iter()
                        .map(|s| s.trim().parse().expect("canonical"))
                        .collect();
                    v.sort_unstable();
                    v.dedup(); // " 5" and "5" are one value
                    return exact_categories(v.iter().map(i64::to_string), description);
                }
                Some(_) if wide && opts.exact_values => {} // mostly unique: below
                Some(_) => return integer_kind(min, max, opts, description),
                None if !wide => return integer_kind(min, max, opts, description),
                None => {}
            }
            // Many distinct numbers spread over a huge range, held as text: an identifier
            // (NHS number, MRN), not a quantity.
            let many = match &self.distinct {
                Some(set) => format!("{} distinct values in {} rows", set.len(), self.non_null),
                None => format!("more than {} distinct values", opts.category_cap()),
            };
            *description = Some(format!(
                "numeric text with {many} over a range wider than {}: {LIKELY_IDENTIFIER}; \
                 treated as text, not encoded",
                opts.max_integer_codes
            ));
            return ColumnKind::Text;
        }
        if self.all_date {
            let (a, b) = self.day_range.expect("non-null seen");
            return date_kind(a, b);
        }
        if self.all_datetime {
            let (a, b) = self.sec_range.expect("non-null seen");
            return datetime_kind(a, b, self.finest_step);
        }
        if self.all_float {
            if opts.exact_values
                && let Some(set) = &self.distinct
            {
                let mut values: Vec<String> = set.iter().cloned().collect();
                values.sort_by(|a, b| {
                    let num = |s: &str| values::parse_f64(s.trim()).unwrap_or(f64::NAN);
                    num(a).total_cmp(&num(b)).then_with(|| a.cmp(b))
                });
                *description = Some(
                    "numbers kept as their exact values (risk is measured on what is \
                     released, not on bins)"
                        .into(),
                );
                return ColumnKind::Categorical {
                    values,
                    ordered: true,
                };
            }
            let (min, max) = self.float_range.expect("non-null seen");
            if opts.exact_values {
                *description = Some(too_many_numbers(opts.float_bins));
            }
            return ColumnKind::Float {
                min,
                max,
                bins: Binning::EqualWidth(opts.float_bins),
            };
        }
        match &self.distinct {
            // Mostly unique text is an identifier (a local patient id, a case number), not
            // a category: never encoded, so never summarised or grouped on value by value.
            Some(set) if mostly_unique(set.len(), self.non_null) => {
                *description = Some(format!(
                    "{} distinct values in {} rows: {LIKELY_IDENTIFIER}; treated as text, \
                     not encoded (declare it categorical in the schema if it is not)",
                    set.len(),
                    self.non_null
                ));
                ColumnKind::Text
            }
            Some(set) => {
                let mut values: Vec<String> = set.iter().cloned().collect();
                values.sort_by(|a, b| natural_cmp(a, b));
                ColumnKind::Categorical {
                    values,
                    ordered: false,
                }
            }
            None => {
                *description = Some(format!(
                    "more than {} distinct values: treated as text (identifier or free text), not encoded",
                    opts.category_cap()
                ));
                ColumnKind::Text
            }
        }
    }
}

/// The words every identifier-like column's description carries (and the role follows).
const LIKELY_IDENTIFIER: &str = "likely an identifier";

/// Whether `distinct` values in `non_null` rows look like an identifier: more than 100 of
/// them and more than one per two rows (a patient id, a case number, an NHS number).
fn mostly_unique(distinct: usize, non_null: u64) -> bool {
    distinct > 100 && distinct as u64 * 2 > non_null
}

/// Whether `[min, max]` has more values than dense integer codes are given.
fn wide(min: i64, max: i64, opts: &InferOptions) -> bool {
    (max as i128 - min as i128 + 1) as u128 > u128::from(opts.max_integer_codes)
}

/// Ordered categories of exact numbers, already in numeric order.
fn exact_categories(
    labels: impl Iterator<Item = String>,
    description: &mut Option<String>,
) -> ColumnKind {
    *description = Some(
        "numbers kept as their exact values (risk is measured on what is released, not on \
         bins)"
            .into(),
    );
    ColumnKind::Categorical {
        values: labels.collect(),
        ordered: true,
    }
}

/// The label a float gets as a category: the text the encoder looks it up by (whole
/// numbers as integers, others in Rust's shortest round-trip form).
fn number_label(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        (v as i64).to_string()
    } else {
        v.to_string()
    }
}

/// Why an exact-values inference binned a column after all.
fn too_many_numbers(bins: u32) -> String {
    format!(
        "too many distinct numbers to keep exact values: binned in {bins} equal-width bins, so \
         risk is measured on the bins, not on the values released; declare the column in a \
         schema with the bands actually released"
    )
}

fn integer_kind(
    min: i64,
    max: i64,
    opts: &InferOptions,
    description: &mut Option<String>,
) -> ColumnKind {
    let size = (max as i128 - min as i128 + 1) as u128;
    let bins = (size > u128::from(opts.max_integer_codes)).then(|| {
        *description = Some(format!(
            "range of {size} values binned in {} equal-width bins",
            opts.float_bins
        ));
        Binning::EqualWidth(opts.float_bins)
    });
    ColumnKind::Integer { min, max, bins }
}

fn date_kind(a: i64, b: i64) -> ColumnKind {
    ColumnKind::Date {
        min: values::date_of_days(a).expect("observed date"),
        max: values::date_of_days(b).expect("observed date"),
        granularity: Default::default(),
        format: None,
    }
}

fn datetime_kind(a: i64, b: i64, step: i64) -> ColumnKind {
    let granularity = match step {
        3600 => TimeGranularity::Hour,
        60 => TimeGranularity::Minute,
        _ => TimeGranularity::Second,
    };
    let min = values::datetime_of_seconds(a).expect("observed time");
    let mut max = values::datetime_of_seconds(b).expect("observed time");
    // Keep the range within u32 codes at second granularity by coarsening if needed.
    let mut g = granularity;
    while (b - a) / g.seconds() + 1 > super::schema::MAX_CODES as i64 {
        g = match g {
            TimeGranularity::Second => TimeGranularity::Minute,
            TimeGranularity::Minute => TimeGranularity::Hour,
            _ => TimeGranularity::Day,
        };
    }
    if max < min {
        max = min;
    }
    ColumnKind::Datetime {
        min,
        max,
        granularity: g,
        format: None,
    }
}

/// Numbers (numerically) before other text (lexicographically).
fn natural_cmp(a: &str, b: &str) -> Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x
            .partial_cmp(&y)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.cmp(b)),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        _ => a.cmp(b),
    }
}

/// Streaming schema inference: [`observe`](Self::observe) batches, then
/// [`finish`](Self::finish).
#[derive(Debug, Clone)]
pub struct SchemaInferrer {
    opts: InferOptions,
    columns: Option<Vec<ColumnState>>,
    rows: u64,
}

impl SchemaInferrer {
    /// A new inferrer.
    pub fn new(opts: InferOptions) -> Self {
        SchemaInferrer {
            opts,
            columns: None,
            rows: 0,
        }
    }

    /// Look at one batch (columns in parallel).
    pub fn observe(&mut self, batch: &RecordBatch) -> Result<()> {
        let schema = batch.schema();
        let cols = self.columns.get_or_insert_with(|| {
            schema
                .fields()
                .iter()
                .map(|f| ColumnState::new(f.name(), f.data_type(), self.opts.exact_values))
                .collect()
        });
        if cols.len() != batch.num_columns()
            || cols
                .iter()
                .zip(schema.fields())
                .any(|(c, f)| c.name != *f.name())
        {
            return Err(DataError::SchemaMismatch {
                column: None,
                detail: "batches passed to schema inference have different columns".into(),
            });
        }
        let max = self.opts.category_cap();
        cols.par_iter_mut()
            .zip(batch.columns().par_iter())
            .for_each(|(c, a)| c.observe(a, max));
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Rows seen so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The inferred schema; every encodable column is marked `domain_from_data`.
    pub fn finish(self) -> Result<Schema> {
        self.opts.check()?;
        let Some(cols) = self.columns else {
            return Err(DataError::Empty {
                what: "table".into(),
                detail: "no batches to infer a schema from".into(),
            });
        };
        if self.rows == 0 {
            return Err(DataError::Empty {
                what: "table".into(),
                detail: "no rows to infer a schema from".into(),
            });
        }
        let columns = cols
            .into_par_iter()
            .map(|c| c.finish(&self.opts))
            .collect::<Result<Vec<_>>>()?;
        let mut schema = Schema::new(columns)?;
        schema.name = self.opts.name;
        Ok(schema)
    }
}

/// Infer a schema from a whole stream.
pub fn infer_schema(stream: BatchStream, opts: InferOptions) -> Result<Schema> {
    opts.check()?;
    let mut inf = SchemaInferrer::new(opts);
    for b in stream {
        inf.observe(&b?)?;
    }
    inf.finish()
}

#[cfg(test)]
mod tests;

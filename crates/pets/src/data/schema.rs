//! The public, declared description of a table.
//!
//! A [`Schema`] says, for every column, what values it may take (its *domain*), whether it may
//! be null, and what role it plays in disclosure control. Differential privacy needs domains
//! that are **public**: if the set of categories or the numeric bounds are read from the
//! private data, the release leaks them (the presence of a rare category is itself a
//! disclosure). A schema is therefore normally written by hand or shipped with a dataset, as
//! JSON or TOML; [`crate::data::infer`] can infer one from data for convenience, and every
//! inferred column is marked [`ColumnSpec::domain_from_data`] so that later DP steps warn.
//!
//! ```json
//! {"version": 1, "name": "ae", "columns": [
//!   {"name": "sex", "kind": "categorical", "values": ["1", "2", "9", "X"], "role": "quasi_identifier"},
//!   {"name": "age", "kind": "integer", "min": 0, "max": 120, "role": "quasi_identifier"},
//!   {"name": "total_time_in_dept_min", "kind": "integer", "min": 0, "max": 4320,
//!    "bins": {"edges": [0, 60, 120, 240, 720, 4321]}},
//!   {"name": "arrival_datetime", "kind": "datetime", "min": "2024-01-01T00:00:00",
//!    "max": "2024-12-31T23:59:00", "granularity": "minute"}
//! ]}
//! ```

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::error::DataError;

mod hierarchy;
pub use hierarchy::HierarchySpec;

/// Version of the schema file format written by this crate.
pub const SCHEMA_FORMAT_VERSION: u32 = 1;

/// The role a column plays in disclosure control (the usual SDC vocabulary; see Hundepool
/// et al., *Statistical Disclosure Control*, Wiley 2012, ch. 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Identifies a person on its own (NHS number, full postcode, name). Never released.
    DirectIdentifier,
    /// Known to an intruder from elsewhere (age, sex, arrival date, postcode district);
    /// combinations of these single people out ("jigsaw" identification).
    QuasiIdentifier,
    /// The attribute whose disclosure harms (diagnosis, outcome).
    Sensitive,
    /// Anything else.
    #[default]
    Other,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::DirectIdentifier => "direct_identifier",
            Role::QuasiIdentifier => "quasi_identifier",
            Role::Sensitive => "sensitive",
            Role::Other => "other",
        })
    }
}

/// How a numeric column is cut into bins. Bins are half-open `[e_i, e_{i+1})`, except the
/// last, which also holds its upper edge.
///
/// In a schema file: `{"equal_width": 12}`, `{"edges": [0, 60, 120]}`, or a bare count
/// (`"bins": 12`, the same as `{"equal_width": 12}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", from = "BinningFile")]
pub enum Binning {
    /// `count` bins of equal width spanning the declared `[min, max]`.
    EqualWidth(u32),
    /// Explicit, strictly increasing edges; the first must be `<= min` and the last `>= max`.
    Edges(Vec<f64>),
}

/// What a schema file may write for [`Binning`]: the tagged forms, or a bare bin count.
///
/// Written by hand rather than `#[serde(untagged)]`, whose error ("data did not match any
/// variant") would not say what a `bins` entry may be.
struct BinningFile(Binning);

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum BinningTagged {
    EqualWidth(u32),
    Edges(Vec<f64>),
}

impl<'de> Deserialize<'de> for BinningFile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = BinningFile;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a bin count (12), {\"equal_width\": 12} or {\"edges\": [0, 60, 120]}")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<BinningFile, E> {
                u32::try_from(n)
                    .map(|n| BinningFile(Binning::EqualWidth(n)))
                    .map_err(|_| E::custom(format!("{n} bins is too many")))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<BinningFile, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::custom(format!("a bin count must be positive, not {n}"))),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                m: A,
            ) -> Result<BinningFile, A::Error> {
                let tagged =
                    BinningTagged::deserialize(serde::de::value::MapAccessDeserializer::new(m))?;
                Ok(BinningFile(match tagged {
                    BinningTagged::EqualWidth(n) => Binning::EqualWidth(n),
                    BinningTagged::Edges(e) => Binning::Edges(e),
                }))
            }
        }
        d.deserialize_any(Visit)
    }
}

impl From<BinningFile> for Binning {
    fn from(b: BinningFile) -> Binning {
        b.0
    }
}

/// Refuse a column key its kind does not have (`"minn"`, `"value"`, `"bin"`): serde cannot
/// (a column's kind is flattened into it, and `deny_unknown_fields` does not combine with
/// `flatten`), and a misspelt key silently dropped would change what is released.
fn check_column_keys(raw: &serde_json::Value) -> Result<(), DataError> {
    const COMMON: &[&str] = &[
        "name",
        "kind",
        "nullable",
        "role",
        "description",
        "domain_from_data",
        "hierarchy",
    ];
    let Some(columns) = raw.get("columns").and_then(|c| c.as_array()) else {
        return Ok(());
    };
    for column in columns {
        let Some(map) = column.as_object() else {
            continue;
        };
        let kind = map.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        let own: &[&str] = match kind {
            "categorical" => &["values", "ordered"],
            "integer" | "float" => &["min", "max", "bins"],
            "date" | "datetime" => &["min", "max", "granularity", "format"],
            _ => &[],
        };
        if let Some(key) = map
            .keys()
            .find(|k| !COMMON.contains(&k.as_str()) && !own.contains(&k.as_str()))
        {
            let mut allowed: Vec<&str> = COMMON.iter().chain(own).copied().collect();
            allowed.sort_unstable();
            return Err(DataError::InvalidSchema {
                column: map.get("name").and_then(|n| n.as_str()).map(str::to_string),
                reason: format!(
                    "unknown key {key:?} for a {kind} column; the keys are {}",
                    allowed.join(", ")
                ),
            });
        }
        // Keys a kind cannot do without, named with the column (serde alone says only
        // "missing field `values`"); after unknown keys, so a misspelt one is named as such.
        let required: &[&str] = match kind {
            "categorical" => &["values"],
            "integer" | "float" | "date" | "datetime" => &["min", "max"],
            _ => &[],
        };
        if let Some(key) = required.iter().find(|k| !map.contains_key(**k)) {
            return Err(DataError::InvalidSchema {
                column: map.get("name").and_then(|n| n.as_str()).map(str::to_string),
                reason: format!("the {kind} column needs {key:?} (see `pets schema explain`)"),
            });
        }
    }
    Ok(())
}

/// Categorical labels from a schema file: strings, or whole numbers written as numbers
/// (integer-coded categories such as ethnicity or sex codes), kept as their decimal text.
fn labels<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Label {
        Text(String),
        Whole(i64),
    }
    let raw: Vec<serde_json::Value> = Vec::deserialize(d)?;
    raw.into_iter()
        .enumerate()
        .map(|(i, v)| match Label::deserialize(&v) {
            Ok(Label::Text(s)) => Ok(s),
            Ok(Label::Whole(n)) => Ok(n.to_string()),
            Err(_) => Err(serde::de::Error::custom(format!(
                "values[{i}] = {v}: a categorical value is a string or a whole number"
            ))),
        })
        .collect()
}

/// Granularity of a date column: the size of one code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateGranularity {
    /// One code a day (lossless).
    #[default]
    Day,
    /// Seven-day blocks counted from the declared `min`.
    Week,
    /// Calendar months.
    Month,
    /// Calendar years.
    Year,
}

/// Granularity of a datetime column: the size of one code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeGranularity {
    /// One code a second.
    Second,
    /// One code a minute.
    #[default]
    Minute,
    /// One code an hour.
    Hour,
    /// One code a day.
    Day,
}

impl TimeGranularity {
    /// Length of one code in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            TimeGranularity::Second => 1,
            TimeGranularity::Minute => 60,
            TimeGranularity::Hour => 3_600,
            TimeGranularity::Day => 86_400,
        }
    }
}

/// What values a column may take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ColumnKind {
    /// A finite set of labels. Numbers stored in the data (e.g. an IMD decile held as an
    /// integer) match a label through their decimal text.
    Categorical {
        /// The labels, in code order. A schema file may write whole numbers (`[1, 2, 9]`):
        /// they are the labels `"1"`, `"2"`, `"9"`, as the data's text reads them.
        #[serde(deserialize_with = "labels")]
        values: Vec<String>,
        /// Whether the order of `values` is meaningful (ordinal), e.g. age bands.
        #[serde(default, skip_serializing_if = "is_false")]
        ordered: bool,
    },
    /// Whole numbers in `[min, max]`; one code per value unless `bins` is given.
    Integer {
        /// Public lower bound (inclusive).
        min: i64,
        /// Public upper bound (inclusive).
        max: i64,
        /// Optional binning; without it encoding is lossless.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bins: Option<Binning>,
    },
    /// Real numbers in `[min, max]`, always binned (default: 20 equal-width bins).
    Float {
        /// Public lower bound (inclusive).
        min: f64,
        /// Public upper bound (inclusive).
        max: f64,
        /// Binning; defaults to 20 equal-width bins.
        #[serde(default = "default_float_bins")]
        bins: Binning,
    },
    /// Calendar dates in `[min, max]`.
    Date {
        /// First date of the public range.
        min: NaiveDate,
        /// Last date of the public range.
        max: NaiveDate,
        /// Size of one code.
        #[serde(default)]
        granularity: DateGranularity,
        /// chrono `strftime` format for text input; ISO 8601 (`%Y-%m-%d`) when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        format: Option<String>,
    },
    /// Dates with times, in `[min, max]`, without time zone (times with a zone are taken in UTC).
    Datetime {
        /// First instant of the public range.
        min: NaiveDateTime,
        /// Last instant of the public range.
        max: NaiveDateTime,
        /// Size of one code.
        #[serde(default)]
        granularity: TimeGranularity,
        /// chrono `strftime` format for text input; ISO 8601 (`T` or space separated) when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        format: Option<String>,
    },
    /// Free text or identifiers with no public domain (NHS number, full postcode). Carried
    /// through I/O but never encoded: nothing downstream can compute on it.
    Text,
}

fn default_float_bins() -> Binning {
    Binning::EqualWidth(20)
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl ColumnKind {
    /// Short name of the kind, as written in schema files.
    pub fn name(&self) -> &'static str {
        match self {
            ColumnKind::Categorical { .. } => "categorical",
            ColumnKind::Integer { .. } => "integer",
            ColumnKind::Float { .. } => "float",
            ColumnKind::Date { .. } => "date",
            ColumnKind::Datetime { .. } => "datetime",
            ColumnKind::Text => "text",
        }
    }

    /// Whether values of this kind can be encoded to codes.
    pub fn is_encodable(&self) -> bool {
        !matches!(self, ColumnKind::Text)
    }
}

/// One column of a [`Schema`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSpec {
    /// Column name, exactly as in the data.
    pub name: String,
    /// Domain of the column.
    #[serde(flatten)]
    pub kind: ColumnKind,
    /// Whether nulls may occur; a null in a non-nullable column is an error.
    #[serde(default, skip_serializing_if = "is_false")]
    pub nullable: bool,
    /// Role in disclosure control.
    #[serde(default)]
    pub role: Role,
    /// Free-text description for people reading the schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// True when the domain was read from the data rather than declared: it then leaks the
    /// set of values present, and DP results built on it say so.
    #[serde(default, skip_serializing_if = "is_false")]
    pub domain_from_data: bool,
    /// How the column may be coarsened for release (see [`HierarchySpec`]); used by
    /// [`crate::anonymise`], ignored elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hierarchy: Option<HierarchySpec>,
}

impl ColumnSpec {
    /// A column with the given name and kind, not nullable, role `Other`.
    pub fn new(name: impl Into<String>, kind: ColumnKind) -> Self {
        ColumnSpec {
            name: name.into(),
            kind,
            nullable: false,
            role: Role::Other,
            description: None,
            domain_from_data: false,
            hierarchy: None,
        }
    }

    /// Number of domain values (codes before the null and "other" codes) the column encodes
    /// to: labels, integers or bins, dates or times at its granularity. `None` for text,
    /// which is never encoded.
    pub fn n_values(&self) -> Option<u32> {
        crate::data::encode::codec_n_values(self)
    }

    /// Builder: set the role.
    pub fn with_role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// Builder: allow nulls.
    pub fn nullable(mut self, nullable: bool) -> Self {
        self.nullable = nullable;
        self
    }

    /// Builder: set the description.
    pub fn describe(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Categorical column over the given labels.
    pub fn categorical<S: Into<String>>(
        name: impl Into<String>,
        values: impl IntoIterator<Item = S>,
    ) -> Self {
        Self::new(
            name,
            ColumnKind::Categorical {
                values: values.into_iter().map(Into::into).collect(),
                ordered: false,
            },
        )
    }

    /// Integer column over `[min, max]`, unbinned.
    pub fn integer(name: impl Into<String>, min: i64, max: i64) -> Self {
        Self::new(
            name,
            ColumnKind::Integer {
                min,
                max,
                bins: None,
            },
        )
    }

    /// Check this column's declaration on its own.
    pub fn validate(&self) -> Result<(), DataError> {
        let bad = |reason: String| DataError::InvalidSchema {
            column: Some(self.name.clone()),
            reason,
        };
        if self.name.is_empty() {
            return Err(bad("column name is empty".into()));
        }
        match &self.kind {
            ColumnKind::Categorical { values, .. } => {
                if values.is_empty() {
                    return Err(bad("categorical column declares no values".into()));
                }
                let mut seen = HashSet::with_capacity(values.len());
                for v in values {
                    if !seen.insert(v.as_str()) {
                        return Err(bad(format!("value {v:?} is declared twice")));
                    }
                }
            }
            ColumnKind::Integer { min, max, bins } => {
                if min > max {
                    return Err(bad(format!("min {min} is greater than max {max}")));
                }
                if let Some(b) = bins {
                    validate_binning(b, *min as f64, *max as f64).map_err(bad)?;
                }
            }
            ColumnKind::Float { min, max, bins } => {
                if !min.is_finite() || !max.is_finite() {
                    return Err(bad("float bounds must be finite".into()));
                }
                if min > max {
                    return Err(bad(format!("min {min} is greater than max {max}")));
                }
                validate_binning(bins, *min, *max).map_err(bad)?;
            }
            ColumnKind::Date { min, max, .. } => {
                if min > max {
                    return Err(bad(format!("min {min} is after max {max}")));
                }
            }
            ColumnKind::Datetime { min, max, .. } => {
                if min > max {
                    return Err(bad(format!("min {min} is after max {max}")));
                }
            }
            ColumnKind::Text => {}
        }
        if let Some(codes) = self.code_space()
            && codes > u128::from(MAX_CODES)
        {
            return Err(bad(format!(
                "{} {} codes, more than the {} a column may have (every code is a counter \
                 in summaries, histograms and marginals); {}",
                self.code_space_described(),
                thousands(codes),
                thousands(u128::from(MAX_CODES)),
                self.coarser_hint()
            )));
        }
        Ok(())
    }

    /// How many value codes the declaration asks for (before the null and "other" codes),
    /// computed without building anything; `None` for text. Checked against [`MAX_CODES`]
    /// by [`ColumnSpec::validate`], so that no later step (summary counts, histograms,
    /// marginals, hierarchies) is asked to materialise a code space it cannot hold.
    pub fn code_space(&self) -> Option<u128> {
        let span = |a: i128, b: i128| (b - a).max(0) as u128 + 1;
        Some(match &self.kind {
            ColumnKind::Categorical { values, .. } => values.len() as u128,
            ColumnKind::Integer { min, max, bins } => match bins {
                Some(b) => bins_of(b),
                None => span(i128::from(*min), i128::from(*max)),
            },
            ColumnKind::Float { bins, .. } => bins_of(bins),
            ColumnKind::Date {
                min,
                max,
                granularity,
                ..
            } => {
                let days = span(0, i128::from((*max - *min).num_days()));
                match granularity {
                    DateGranularity::Day => days,
                    DateGranularity::Week => days.div_ceil(7),
                    DateGranularity::Month => {
                        let months = |d: &NaiveDate| {
                            i128::from(chrono::Datelike::year(d)) * 12
                                + i128::from(chrono::Datelike::month0(d))
                        };
                        span(months(min), months(max))
                    }
                    DateGranularity::Year => span(
                        i128::from(chrono::Datelike::year(min)),
                        i128::from(chrono::Datelike::year(max)),
                    ),
                }
            }
            ColumnKind::Datetime {
                min,
                max,
                granularity,
                ..
            } => {
                let secs = i128::from((*max - *min).num_seconds());
                (secs.max(0) / i128::from(granularity.seconds())) as u128 + 1
            }
            ColumnKind::Text => return None,
        })
    }

    /// "range [0, 9999999999] holds", "1900-01-01T00:00:00 to 2024-12-31T23:59:59 by the
    /// second is": the start of the too-many-codes message.
    fn code_space_described(&self) -> String {
        match &self.kind {
            ColumnKind::Categorical { .. } => "the column declares".into(),
            ColumnKind::Integer {
                min,
                max,
                bins: None,
            } => {
                format!("range [{min}, {max}] holds")
            }
            ColumnKind::Integer { .. } | ColumnKind::Float { .. } => "the bins make".into(),
            ColumnKind::Date {
                min,
                max,
                granularity,
                ..
            } => format!(
                "{min} to {max} by the {} holds",
                granularity_name_date(*granularity)
            ),
            ColumnKind::Datetime {
                min,
                max,
                granularity,
                ..
            } => format!(
                "{} to {} by the {} holds",
                min.format("%Y-%m-%dT%H:%M:%S"),
                max.format("%Y-%m-%dT%H:%M:%S"),
                granularity_name_time(*granularity)
            ),
            ColumnKind::Text => String::new(),
        }
    }

    /// What to do about a column with too many codes: the coarser granularities that fit,
    /// bins, a narrower range.
    fn coarser_hint(&self) -> String {
        match &self.kind {
            ColumnKind::Categorical { .. } => {
                "declare it as text (never encoded) or group its values".into()
            }
            ColumnKind::Integer { bins: None, .. } => {
                "declare bins (\"bins\": {\"equal_width\": 100} or {\"edges\": [...]}) or \
                 narrow min/max"
                    .into()
            }
            ColumnKind::Integer { .. } | ColumnKind::Float { .. } => "declare fewer bins".into(),
            ColumnKind::Date {
                min, max, format, ..
            } => {
                let fits: Vec<String> = [
                    DateGranularity::Week,
                    DateGranularity::Month,
                    DateGranularity::Year,
                ]
                .into_iter()
                .filter_map(|g| {
                    let c = ColumnSpec::new(
                        "",
                        ColumnKind::Date {
                            min: *min,
                            max: *max,
                            granularity: g,
                            format: format.clone(),
                        },
                    )
                    .code_space()?;
                    (c <= u128::from(MAX_CODES))
                        .then(|| format!("\"{}\" gives {}", granularity_name_date(g), thousands(c)))
                })
                .collect();
                hint(fits)
            }
            ColumnKind::Datetime {
                min, max, format, ..
            } => {
                let fits: Vec<String> = [
                    TimeGranularity::Minute,
                    TimeGranularity::Hour,
                    TimeGranularity::Day,
                ]
                .into_iter()
                .filter_map(|g| {
                    let c = ColumnSpec::new(
                        "",
                        ColumnKind::Datetime {
                            min: *min,
                            max: *max,
                            granularity: g,
                            format: format.clone(),
                        },
                    )
                    .code_space()?;
                    (c <= u128::from(MAX_CODES))
                        .then(|| format!("\"{}\" gives {}", granularity_name_time(g), thousands(c)))
                })
                .collect();
                hint(fits)
            }
            ColumnKind::Text => String::new(),
        }
    }
}

fn hint(fits: Vec<String>) -> String {
    if fits.is_empty() {
        "narrow min/max, or declare the column as text (never encoded)".into()
    } else {
        format!(
            "use a coarser \"granularity\" ({}), or narrow min/max",
            fits.join(", ")
        )
    }
}

fn bins_of(b: &Binning) -> u128 {
    match b {
        Binning::EqualWidth(n) => u128::from(*n),
        Binning::Edges(e) => e.len().saturating_sub(1) as u128,
    }
}

fn granularity_name_date(g: DateGranularity) -> &'static str {
    match g {
        DateGranularity::Day => "day",
        DateGranularity::Week => "week",
        DateGranularity::Month => "month",
        DateGranularity::Year => "year",
    }
}

fn granularity_name_time(g: TimeGranularity) -> &'static str {
    match g {
        TimeGranularity::Second => "second",
        TimeGranularity::Minute => "minute",
        TimeGranularity::Hour => "hour",
        TimeGranularity::Day => "day",
    }
}

/// `31619634728` as `31,619,634,728`.
fn thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Largest number of value codes one column may declare: 2^24 (16,777,216). Summaries,
/// DP histograms, marginals and hierarchies hold one counter (or code map entry) per code,
/// so a column over this would ask for gigabytes before reading a row (a datetime by the
/// second from 1900 is 3.9 billion codes, 31 GB of counters); a year by the minute is
/// 527,040 codes, a century of days 36,525.
pub const MAX_CODES: u64 = 1 << 24;

fn validate_binning(bins: &Binning, min: f64, max: f64) -> Result<(), String> {
    match bins {
        Binning::EqualWidth(0) => Err("equal_width bins must be at least 1".into()),
        Binning::EqualWidth(_) => Ok(()),
        Binning::Edges(edges) => {
            if edges.len() < 2 {
                return Err("bin edges need at least two values".into());
            }
            if edges.iter().any(|e| !e.is_finite()) {
                return Err("bin edges must be finite".into());
            }
            if edges.windows(2).any(|w| w[0] >= w[1]) {
                return Err("bin edges must be strictly increasing".into());
            }
            if edges[0] > min || *edges.last().expect("len >= 2") < max {
                return Err(format!(
                    "bin edges [{}, {}] do not cover the declared range [{min}, {max}]",
                    edges[0],
                    edges.last().expect("len >= 2")
                ));
            }
            Ok(())
        }
    }
}

/// A declared table: an ordered list of columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Schema file format version ([`SCHEMA_FORMAT_VERSION`]).
    #[serde(default = "default_version")]
    pub version: u32,
    /// Optional name of the dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The columns, in order.
    pub columns: Vec<ColumnSpec>,
    /// How text files of this dataset are written (header, delimiter, trimming, missing
    /// codes); unset fields are sniffed. Command-line flags override it field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<crate::data::io::CsvDialect>,
}

fn default_version() -> u32 {
    SCHEMA_FORMAT_VERSION
}

impl Schema {
    /// A schema over the given columns, validated.
    pub fn new(columns: Vec<ColumnSpec>) -> Result<Self, DataError> {
        let schema = Schema {
            version: SCHEMA_FORMAT_VERSION,
            name: None,
            columns,
            csv: None,
        };
        schema.validate()?;
        Ok(schema)
    }

    /// Check every column and that names are unique.
    pub fn validate(&self) -> Result<(), DataError> {
        if self.version != SCHEMA_FORMAT_VERSION {
            return Err(DataError::InvalidSchema {
                column: None,
                reason: format!(
                    "schema format version {} is not supported (this build reads version {SCHEMA_FORMAT_VERSION})",
                    self.version
                ),
            });
        }
        if self.columns.is_empty() {
            return Err(DataError::InvalidSchema {
                column: None,
                reason: "schema declares no columns".into(),
            });
        }
        let mut seen = HashSet::with_capacity(self.columns.len());
        for c in &self.columns {
            if !seen.insert(c.name.as_str()) {
                return Err(DataError::InvalidSchema {
                    column: Some(c.name.clone()),
                    reason: "column is declared twice".into(),
                });
            }
            c.validate()?;
        }
        Ok(())
    }

    /// Parse and validate a JSON schema.
    pub fn from_json(text: &str) -> Result<Self, DataError> {
        let parse = |e: serde_json::Error| DataError::SchemaParse {
            format: "JSON",
            message: e.to_string(),
        };
        // Keys first: a misspelt key is named rather than reported as a missing one.
        check_column_keys(&serde_json::from_str(text).map_err(parse)?)?;
        let s: Schema = serde_json::from_str(text).map_err(parse)?;
        s.validate()?;
        Ok(s)
    }

    /// Parse and validate a TOML schema (`[[columns]]` tables).
    pub fn from_toml(text: &str) -> Result<Self, DataError> {
        let parse = |e: toml::de::Error| DataError::SchemaParse {
            format: "TOML",
            message: e.to_string(),
        };
        check_column_keys(&toml::from_str(text).map_err(parse)?)?;
        let s: Schema = toml::from_str(text).map_err(parse)?;
        s.validate()?;
        Ok(s)
    }

    /// Read a schema file: `.json` or `.toml` (another extension is a file error, exit 4);
    /// a parse error names the file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, DataError> {
        let path = path.as_ref();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let toml = match ext.as_deref() {
            Some("toml") => true,
            Some("json") => false,
            _ => {
                return Err(DataError::io(
                    path,
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "a schema file is .json or .toml (see `pets schema explain`)",
                    ),
                ));
            }
        };
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        let parsed = if toml {
            Self::from_toml(&text)
        } else {
            Self::from_json(&text)
        };
        parsed.map_err(|e| match e {
            DataError::SchemaParse { format, message } => DataError::SchemaParse {
                format,
                message: format!("{}: {message}", path.display()),
            },
            e => e,
        })
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("schema serialises to JSON")
    }

    /// TOML.
    pub fn to_toml(&self) -> Result<String, DataError> {
        toml::to_string_pretty(self).map_err(|e| DataError::SchemaParse {
            format: "TOML",
            message: e.to_string(),
        })
    }

    /// Write the schema; `.toml` is TOML, anything else JSON.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), DataError> {
        let path = path.as_ref();
        let text = if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
        {
            self.to_toml()?
        } else {
            self.to_json()
        };
        std::fs::write(path, text).map_err(|e| DataError::io(path, e))
    }

    /// Position of a column by name.
    pub fn index_of(&self, name: &str) -> Result<usize, DataError> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| DataError::UnknownColumn {
                column: name.to_string(),
                available: self.names().map(str::to_string).collect(),
            })
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Result<&ColumnSpec, DataError> {
        self.index_of(name).map(|i| &self.columns[i])
    }

    /// Column names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.name.as_str())
    }

    /// Columns with the given role.
    pub fn with_role(&self, role: Role) -> impl Iterator<Item = &ColumnSpec> {
        self.columns.iter().filter(move |c| c.role == role)
    }

    /// Names of the columns whose domain was read from the data (see the module docs).
    pub fn domain_from_data(&self) -> Vec<&str> {
        self.columns
            .iter()
            .filter(|c| c.domain_from_data)
            .map(|c| c.name.as_str())
            .collect()
    }

    /// Generalise one column to a coarser public domain, as a release would publish it:
    /// a date to `day`/`week`/`month`/`year`, a datetime to `second`/`minute`/`hour`/`day`
    /// (so `arrival_datetime` at `day` is the arrival date), an integer to bands of a whole
    /// `width` counted from the declared minimum (`"5"`: 0-4, 5-9, ...; the last band may
    /// run past the maximum). Encoding against the result places each value in its coarser
    /// code; the data are not touched. Returns a description of the change for reports, e.g.
    /// `"age in bands of 5"`.
    ///
    /// Errors ([`DataError::InvalidArgument`]): an unknown column, a level the column's kind
    /// does not have, or a kind that cannot be generalised this way (categorical, float,
    /// text: give those bins or a hierarchy instead).
    pub fn generalise(&mut self, column: &str, level: &str) -> Result<String, DataError> {
        let (name, level) = (column.trim(), level.trim());
        let index = self.index_of(name)?;
        let spec = &mut self.columns[index];
        let bad = |what: &str, kind: &str| DataError::InvalidArgument {
            name: "generalise",
            reason: format!("{name}={level}: {what} ({name} is a {kind} column)"),
        };
        let kind_name = spec.kind.name();
        let description = match &mut spec.kind {
            ColumnKind::Date { granularity, .. } => {
                *granularity = match level {
                    "day" => DateGranularity::Day,
                    "week" => DateGranularity::Week,
                    "month" => DateGranularity::Month,
                    "year" => DateGranularity::Year,
                    _ => {
                        return Err(bad(
                            "a date generalises to day, week, month or year",
                            kind_name,
                        ));
                    }
                };
                format!("{name} to the {level}")
            }
            ColumnKind::Datetime { granularity, .. } => {
                *granularity = match level {
                    "second" => TimeGranularity::Second,
                    "minute" => TimeGranularity::Minute,
                    "hour" => TimeGranularity::Hour,
                    "day" => TimeGranularity::Day,
                    _ => {
                        return Err(bad(
                            "a datetime generalises to second, minute, hour or day",
                            kind_name,
                        ));
                    }
                };
                format!("{name} to the {level}")
            }
            ColumnKind::Integer { min, max, bins } => {
                let width: i64 = level.parse().ok().filter(|w| *w >= 1).ok_or_else(|| {
                    bad(
                        "an integer generalises to bands of a whole width >= 1",
                        kind_name,
                    )
                })?;
                let mut edges = Vec::new();
                let mut edge = *min;
                loop {
                    edges.push(edge as f64);
                    match edge.checked_add(width) {
                        Some(next) if next <= *max => edge = next,
                        Some(next) => {
                            edges.push(next as f64);
                            break;
                        }
                        None => {
                            edges.push(*max as f64);
                            break;
                        }
                    }
                }
                *bins = Some(Binning::Edges(edges));
                format!("{name} in bands of {level}")
            }
            _ => {
                return Err(bad(
                    "only dates, datetimes and integers can be generalised",
                    kind_name,
                ));
            }
        };
        spec.validate()?;
        Ok(description)
    }

    /// A schema holding only the named columns, in the order given.
    pub fn select(&self, names: &[impl AsRef<str>]) -> Result<Schema, DataError> {
        let columns = names
            .iter()
            .map(|n| self.column(n.as_ref()).cloned())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Schema {
            version: self.version,
            name: self.name.clone(),
            columns,
            csv: self.csv.clone(),
        })
    }
}

#[cfg(test)]
mod tests;

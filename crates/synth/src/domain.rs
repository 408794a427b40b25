//! The synthesis domain: which declared columns are synthesised, and how finely.
//!
//! Marginal-based synthesisers measure every cell of every marginal they use, so a column's
//! number of codes sets both the noise a 1-way marginal carries in total (`sigma` per code)
//! and the cost of drawing it (OpenDP's exact sampler, ~20 us a cell). A declared schema
//! written for analysis often has domains far finer than a synthesiser can support at any
//! useful epsilon: arrival times to the minute (525,600 codes a year), minutes in the
//! department (4,321). [`prepare_domain`] turns it into the schema the synthesiser encodes
//! against, from the **schema alone** (never the data, so it costs no budget):
//!
//! - columns: every encodable column except direct identifiers by default (free text has no
//!   public domain and is never synthesised; a direct identifier is synthesised only when
//!   asked for by name);
//! - integers without declared bins and more than `max_values` values: bands. A range that
//!   starts at zero or above (durations, waits, counts, lengths of stay: right-skewed in
//!   health data) gets about `max_values / 2` **geometric** bands, one value wide at the
//!   bottom and growing by a constant ratio ([`geometric_edges`]), so the bulk of the
//!   distribution keeps its resolution while the long tail costs few cells; a range with
//!   negative values gets integer-width bins (`ceil((max - min + 1) / max_values)` wide).
//!   Values are decoded uniformly within their band;
//! - dates and datetimes whose codes at the day (dates) or the hour (datetimes) are more
//!   than `max_values`: **derived columns** (period, weekday, hour of day; see
//!   [`crate::derive`]) modelled in its place and re-assembled into the declared column
//!   after sampling, so the hour of day and its joint patterns survive; narrower ones: the
//!   finest granularity (second, minute, hour; day, week, month, year) with at most
//!   `max_values` codes, decoded uniformly within the period;
//! - declared bins, floats (always binned) and categorical columns are kept as declared;
//!   a categorical column above `max_values` is left to MST's DP-safe compression of rare
//!   values, and the notes say so.
//!
//! Every change is recorded in [`SynthesisDomain::notes`], which the model file keeps for the
//! release panel.

use pets::data::{
    Binning, ColumnKind, ColumnSpec, DateGranularity, EncodedColumn, EncodedTable, Role, Schema,
    TimeGranularity,
};
use pets::disclosure::report::thousands;

use crate::derive::{Calendar, calendar_parts, derive_codes};
use crate::error::{Result, SynthError};
use crate::model::{Assembly, OutputColumn};

/// Settings of [`prepare_domain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainOptions {
    /// Largest number of codes of an integer, date or datetime column before it is binned
    /// or coarsened (declared bins are kept).
    pub max_values: u32,
}

impl Default for DomainOptions {
    fn default() -> Self {
        DomainOptions { max_values: 128 }
    }
}

/// The schema a synthesiser encodes against, and what was changed to get it.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthesisDomain {
    /// The synthesis columns, in order, with their synthesis domains (derived calendar
    /// parts in place of the column they come from).
    pub schema: Schema,
    /// The columns read from the data: the synthesis columns, except that a column split
    /// into calendar parts is read once at its declared granularity.
    pub encode: Schema,
    /// The output columns, in the declared order, and how each is made from the synthesis
    /// columns (for the model file).
    pub output: Vec<OutputColumn>,
    /// One line per column left out, binned or coarsened, for the model file and report.
    pub notes: Vec<String>,
}

impl SynthesisDomain {
    /// The synthesis table from a table encoded against [`SynthesisDomain::encode`]: the
    /// columns as they are, calendar columns replaced by their derived parts.
    pub fn derive(&self, table: EncodedTable) -> Result<EncodedTable> {
        if self
            .output
            .iter()
            .all(|o| matches!(o.from, Assembly::Column { .. }))
        {
            return Ok(table);
        }
        let mut parts: Vec<Option<EncodedColumn>> = vec![None; self.schema.columns.len()];
        let mut by_name: std::collections::HashMap<String, EncodedColumn> = table
            .into_columns()
            .into_iter()
            .map(|c| (c.spec.name.clone(), c))
            .collect();
        for o in &self.output {
            match &o.from {
                Assembly::Column { index } => {
                    parts[*index] = by_name.remove(&o.name);
                }
                Assembly::Calendar(cal) => {
                    let col = by_name.remove(&o.name).ok_or_else(|| {
                        SynthError::invalid("columns", &o.name, "missing from the encoded table")
                    })?;
                    let idx: Vec<usize> = std::iter::once(cal.period)
                        .chain(cal.weekday)
                        .chain(cal.hour)
                        .collect();
                    let specs: Vec<ColumnSpec> = idx
                        .iter()
                        .map(|&i| self.schema.columns[i].clone())
                        .collect();
                    for (i, c) in idx.into_iter().zip(derive_codes(&col, &specs)?) {
                        parts[i] = Some(c);
                    }
                }
            }
        }
        let columns = parts
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                c.ok_or_else(|| {
                    SynthError::invalid(
                        "columns",
                        &self.schema.columns[i].name,
                        "a synthesis column was not encoded",
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(EncodedTable::from_columns(columns)?)
    }
}

/// The synthesis domain of `columns` of `schema` (every encodable, non-identifying column
/// when `columns` is empty); see the module docs.
pub fn prepare_domain(
    schema: &Schema,
    columns: &[String],
    opts: &DomainOptions,
) -> Result<SynthesisDomain> {
    if opts.max_values < 2 {
        return Err(SynthError::invalid(
            "max_values",
            opts.max_values,
            "it must be at least 2, e.g. 128",
        ));
    }
    let mut notes = Vec::new();
    let chosen: Vec<ColumnSpec> = if columns.is_empty() {
        let text: Vec<&str> = schema
            .columns
            .iter()
            .filter(|c| !c.kind.is_encodable())
            .map(|c| c.name.as_str())
            .collect();
        if !text.is_empty() {
            notes.push(format!(
                "not synthesised: {} (free text, no public domain)",
                text.join(", ")
            ));
        }
        let direct: Vec<&str> = schema
            .columns
            .iter()
            .filter(|c| c.kind.is_encodable() && c.role == Role::DirectIdentifier)
            .map(|c| c.name.as_str())
            .collect();
        if !direct.is_empty() {
            notes.push(format!(
                "not synthesised: {} (direct identifier; name it in the columns to synthesise \
                 it anyway)",
                direct.join(", ")
            ));
        }
        schema
            .columns
            .iter()
            .filter(|c| c.kind.is_encodable() && c.role != Role::DirectIdentifier)
            .cloned()
            .collect()
    } else {
        let selected = schema.select(columns)?;
        for (i, c) in selected.columns.iter().enumerate() {
            if selected.columns[..i].iter().any(|o| o.name == c.name) {
                return Err(pets::data::DataError::InvalidSchema {
                    column: Some(c.name.clone()),
                    reason: "a column is listed twice in the columns to synthesise".into(),
                }
                .into());
            }
            if !c.kind.is_encodable() {
                return Err(pets::data::DataError::InvalidSchema {
                    column: Some(c.name.clone()),
                    reason: "a text column has no public domain and is never synthesised; \
                             declare it categorical (with its public values) or leave it out"
                        .into(),
                }
                .into());
            }
            if c.role == Role::DirectIdentifier {
                notes.push(format!(
                    "{}: a direct identifier, synthesised because it was asked for; its \
                     synthetic values come from noisy marginals, but consider leaving it out",
                    c.name
                ));
            }
        }
        selected.columns
    };
    if chosen.is_empty() {
        return Err(SynthError::invalid(
            "columns",
            0,
            "the schema has no encodable column that is not a direct identifier; name the \
             columns to synthesise",
        ));
    }
    let mut columns = Vec::new();
    let mut encode = Vec::new();
    let mut output = Vec::new();
    for c in chosen {
        if let Some(parts) = calendar_parts(&c, opts.max_values) {
            let at = columns.len();
            let has = |s: &str| parts.iter().any(|p| p.name.ends_with(s));
            let (weekday, hour) = (has(".weekday"), has(".hour"));
            notes.push(format!(
                "{}: {} codes modelled as {} ({}){}; re-assembled into one value{}",
                c.name,
                thousands(u64::from(c.n_values().unwrap_or(0))),
                parts
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" + "),
                parts
                    .iter()
                    .map(|p| p.n_values().unwrap_or(0).to_string())
                    .collect::<Vec<_>>()
                    .join(" x "),
                if weekday {
                    ", the day being the period's day with that weekday"
                } else {
                    ""
                },
                if hour && granularity_finer_than_hour(&c.kind) {
                    ", a uniform time within the hour"
                } else {
                    ""
                }
            ));
            output.push(OutputColumn {
                name: c.name.clone(),
                arrow_type: None,
                from: Assembly::Calendar(Calendar {
                    spec: c.clone(),
                    period: at,
                    weekday: weekday.then_some(at + 1),
                    hour: hour.then_some(at + 1 + usize::from(weekday)),
                }),
            });
            columns.extend(parts);
            encode.push(c);
        } else {
            let spec = coarsen(c, opts.max_values, &mut notes);
            output.push(OutputColumn {
                name: spec.name.clone(),
                arrow_type: None,
                from: Assembly::Column {
                    index: columns.len(),
                },
            });
            columns.push(spec.clone());
            encode.push(spec);
        }
    }
    Ok(SynthesisDomain {
        schema: Schema {
            columns,
            ..schema.clone()
        },
        encode: Schema {
            columns: encode,
            ..schema.clone()
        },
        output,
        notes,
    })
}

fn granularity_finer_than_hour(kind: &ColumnKind) -> bool {
    matches!(kind, ColumnKind::Datetime { granularity, .. } if granularity.seconds() < 3_600)
}

/// Integer cut points of about `bins` geometric bands over `[min, max]` (`min >= 0`): the
/// `k`-th edge is `min + floor(r^k) - 1` with `r = (max - min + 1)^(1 / bins)`, repeated
/// edges dropped, so the first bands are one value wide and each later band is about `r`
/// times the one before. The last band is closed (it holds `max`); a one-value last band
/// gets an edge past `max`, as decoding clamps to the declared bounds.
pub fn geometric_edges(min: i64, max: i64, bins: u32) -> Vec<f64> {
    let span = (max - min) as f64 + 1.0;
    let r = span.powf(1.0 / f64::from(bins.max(1)));
    let mut edges: Vec<i64> = vec![min];
    for k in 1..bins {
        let e = min + (r.powi(k as i32).floor() as i64 - 1).max(0);
        if e > *edges.last().expect("non-empty") && e < max {
            edges.push(e);
        }
    }
    let top = *edges.last().expect("non-empty");
    edges.push(if max > top { max } else { max + 1 });
    edges.into_iter().map(|e| e as f64).collect()
}

/// `spec` with at most `max` codes where the rules of the module docs allow it.
fn coarsen(spec: ColumnSpec, max: u32, notes: &mut Vec<String>) -> ColumnSpec {
    let n = spec.n_values().unwrap_or(0);
    if n <= max {
        return spec;
    }
    let name = spec.name.clone();
    match &spec.kind {
        ColumnKind::Integer {
            min,
            max: hi,
            bins: None,
        } if *min >= 0 => {
            let (min, hi) = (*min, *hi);
            let edges = geometric_edges(min, hi, (max / 2).max(2));
            let count = edges.len() - 1;
            notes.push(format!(
                "{name}: {} values cut into {count} geometric bands for synthesis (one value \
                 wide at {min}, each about {:.2}x the one before; the last from {}); synthetic \
                 values are drawn uniformly within their band",
                thousands((hi - min) as u64 + 1),
                ((hi - min) as f64 + 1.0).powf(1.0 / f64::from((max / 2).max(2))),
                edges[count - 1]
            ));
            ColumnSpec {
                kind: ColumnKind::Integer {
                    min,
                    max: hi,
                    bins: Some(Binning::Edges(edges)),
                },
                ..spec
            }
        }
        ColumnKind::Integer {
            min,
            max: hi,
            bins: None,
        } => {
            let (min, hi) = (*min, *hi);
            let values = (hi - min) as u64 + 1;
            let width = values.div_ceil(u64::from(max));
            let count = values.div_ceil(width);
            let mut edges: Vec<f64> = (0..count)
                .map(|k| (min + (k * width) as i64) as f64)
                .collect();
            let last = hi as f64;
            // The last bin is closed; a one-value last bin needs an edge past `max` (decoding
            // clamps to the declared bounds).
            let top = *edges.last().expect("count >= 1");
            edges.push(if last > top { last } else { last + 1.0 });
            notes.push(format!(
                "{name}: {} values binned {width} wide into {count} bins for synthesis; synthetic \
                 values are drawn uniformly within their bin",
                thousands(values)
            ));
            ColumnSpec {
                kind: ColumnKind::Integer {
                    min,
                    max: hi,
                    bins: Some(Binning::Edges(edges)),
                },
                ..spec
            }
        }
        ColumnKind::Date { granularity, .. } => {
            const STEPS: [DateGranularity; 4] = [
                DateGranularity::Day,
                DateGranularity::Week,
                DateGranularity::Month,
                DateGranularity::Year,
            ];
            let out = coarsest_within(&spec, &STEPS, *granularity, max, |k, g| {
                if let ColumnKind::Date { granularity, .. } = k {
                    *granularity = g;
                }
            });
            coarsened_note(notes, &name, n, &out, max, "dates");
            out
        }
        ColumnKind::Datetime { granularity, .. } => {
            const STEPS: [TimeGranularity; 4] = [
                TimeGranularity::Second,
                TimeGranularity::Minute,
                TimeGranularity::Hour,
                TimeGranularity::Day,
            ];
            let out = coarsest_within(&spec, &STEPS, *granularity, max, |k, g| {
                if let ColumnKind::Datetime { granularity, .. } = k {
                    *granularity = g;
                }
            });
            coarsened_note(notes, &name, n, &out, max, "times");
            out
        }
        ColumnKind::Categorical { .. } => {
            notes.push(format!(
                "{name}: {} categories, kept; values whose noisy count is below 3 sigma are \
                 merged (DP-safe, from released counts only)",
                thousands(u64::from(n))
            ));
            spec
        }
        _ => spec,
    }
}

/// `spec` at the first granularity of `steps` coarser than `from` with at most `max` codes,
/// or at the coarsest step when none fits.
fn coarsest_within<G: Copy + PartialEq>(
    spec: &ColumnSpec,
    steps: &[G],
    from: G,
    max: u32,
    set: impl Fn(&mut ColumnKind, G),
) -> ColumnSpec {
    let at = steps.iter().position(|g| *g == from).unwrap_or(0);
    let mut out = spec.clone();
    for &g in &steps[at + 1..] {
        set(&mut out.kind, g);
        if out.n_values().unwrap_or(0) <= max {
            break;
        }
    }
    out
}

fn granularity_name(kind: &ColumnKind) -> String {
    match kind {
        ColumnKind::Date { granularity, .. } => format!("{granularity:?}").to_lowercase(),
        ColumnKind::Datetime { granularity, .. } => format!("{granularity:?}").to_lowercase(),
        _ => String::new(),
    }
}

fn coarsened_note(
    notes: &mut Vec<String>,
    name: &str,
    before: u32,
    after: &ColumnSpec,
    max: u32,
    what: &str,
) {
    let left = after.n_values().unwrap_or(0);
    notes.push(format!(
        "{name}: {} codes coarsened to {} {} codes for synthesis; synthetic {what} are drawn \
         uniformly within their period{}",
        thousands(u64::from(before)),
        thousands(u64::from(left)),
        granularity_name(&after.kind),
        if left > max {
            " (still above max_values: this is the coarsest step; a derived column, e.g. hour \
             of day or week, keeps more of the pattern)"
        } else {
            ""
        }
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn schema() -> Schema {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        Schema::new(vec![
            ColumnSpec::new("nhs_number", ColumnKind::Text).with_role(Role::DirectIdentifier),
            ColumnSpec::new(
                "date_of_birth",
                ColumnKind::Date {
                    min: d(1920, 1, 1),
                    max: d(2024, 12, 31),
                    granularity: DateGranularity::Day,
                    format: None,
                },
            )
            .with_role(Role::DirectIdentifier),
            ColumnSpec::integer("age", 0, 110),
            ColumnSpec::integer("minutes", 0, 4320),
            ColumnSpec::integer("seven", 0, 6),
            ColumnSpec::new(
                "arrival",
                ColumnKind::Datetime {
                    min: d(2024, 4, 1).and_hms_opt(0, 0, 0).unwrap(),
                    max: d(2025, 3, 31).and_hms_opt(23, 59, 0).unwrap(),
                    granularity: TimeGranularity::Minute,
                    format: None,
                },
            ),
            ColumnSpec::new(
                "seen",
                ColumnKind::Date {
                    min: d(2024, 4, 1),
                    max: d(2025, 3, 31),
                    granularity: DateGranularity::Day,
                    format: None,
                },
            ),
            ColumnSpec::categorical("district", (0..300).map(|i| format!("D{i}"))),
        ])
        .unwrap()
    }

    #[test]
    fn default_columns_leave_out_text_and_direct_identifiers() {
        let d = prepare_domain(&schema(), &[], &DomainOptions::default()).unwrap();
        let out: Vec<&str> = d.output.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            out,
            ["age", "minutes", "seven", "arrival", "seen", "district"]
        );
        let names: Vec<&str> = d.schema.names().collect();
        assert_eq!(
            names,
            [
                "age",
                "minutes",
                "seven",
                "arrival.period",
                "arrival.weekday",
                "arrival.hour",
                "seen.period",
                "seen.weekday",
                "district"
            ]
        );
        // Read once, at the declared granularity.
        let read: Vec<&str> = d.encode.names().collect();
        assert_eq!(read, out);
        assert_eq!(
            d.encode.column("arrival").unwrap(),
            schema().column("arrival").unwrap()
        );
        assert!(d.notes[0].contains("nhs_number") && d.notes[0].contains("free text"));
        assert!(d.notes[1].contains("date_of_birth") && d.notes[1].contains("direct identifier"));
    }

    #[test]
    fn wide_domains_are_banded_or_split_from_the_schema_alone() {
        let d = prepare_domain(&schema(), &[], &DomainOptions::default()).unwrap();
        let col = |n: &str| d.schema.column(n).unwrap().clone();
        // 111 ages fit: unchanged.
        assert_eq!(col("age").n_values(), Some(111));
        // 4,321 minutes: geometric bands, one minute wide at 0, every value encodable.
        let m = col("minutes");
        let ColumnKind::Integer {
            bins: Some(Binning::Edges(e)),
            ..
        } = &m.kind
        else {
            panic!("binned: {m:?}")
        };
        assert!(
            m.n_values().unwrap() <= 64 && m.n_values().unwrap() >= 40,
            "{e:?}"
        );
        assert_eq!((e[0], e[1], *e.last().unwrap()), (0.0, 1.0, 4320.0));
        assert!(e.windows(2).all(|w| w[0] < w[1]));
        // Minutes of a year: week x weekday x hour, re-assembled into one column.
        assert_eq!(col("arrival.period").n_values(), Some(53));
        assert_eq!(col("arrival.weekday").n_values(), Some(7));
        assert_eq!(col("arrival.hour").n_values(), Some(24));
        let Assembly::Calendar(cal) = &d.output[3].from else {
            panic!("{:?}", d.output[3])
        };
        assert_eq!((cal.period, cal.weekday, cal.hour), (3, Some(4), Some(5)));
        assert!(
            d.notes
                .iter()
                .any(|n| n.starts_with("arrival:") && n.contains("uniform time within the hour"))
        );
        // Days of a year: week x weekday, no hour.
        assert_eq!(col("seen.period").n_values(), Some(53));
        assert!(d.schema.column("seen.hour").is_err());
        assert!(
            d.notes
                .iter()
                .any(|n| n.starts_with("district:") && n.contains("300"))
        );
        // Nothing changes below the limit.
        let wide = prepare_domain(
            &schema(),
            &[],
            &DomainOptions {
                max_values: 1 << 20,
            },
        )
        .unwrap();
        assert_eq!(
            wide.schema.column("minutes").unwrap().n_values(),
            Some(4321)
        );
        assert_eq!(wide.schema, wide.encode);
        assert_eq!(
            wide.notes.len(),
            2,
            "only the left-out columns: {:?}",
            wide.notes
        );
    }

    #[test]
    fn geometric_bands_start_one_value_wide_and_cover_the_range() {
        let e = geometric_edges(0, 4320, 32);
        assert_eq!(&e[..4], &[0.0, 1.0, 2.0, 3.0]);
        assert_eq!(*e.last().unwrap(), 4320.0);
        // Each band at most about r = 4321^(1/32) = 1.30 times the previous once past 1.
        for w in e.windows(3).skip(8) {
            let (a, b) = (w[1] - w[0], w[2] - w[1]);
            assert!(b / a < 1.8, "{e:?}");
        }
        // A tiny range: still valid, last band closed at max (or one past a lone max).
        assert_eq!(geometric_edges(0, 1, 32), vec![0.0, 1.0]);
        assert_eq!(geometric_edges(5, 5, 4), vec![5.0, 6.0]);
    }

    #[test]
    fn a_one_value_last_bin_stays_encodable() {
        // -3..=3 (negative: equal widths) in bins of 3: [-3, 0), [0, 3), [3, 4] with
        // decoding clamped to 3.
        let s = Schema::new(vec![ColumnSpec::integer("signed", -3, 3)]).unwrap();
        let d = prepare_domain(&s, &[], &DomainOptions { max_values: 3 }).unwrap();
        let c = d.schema.column("signed").unwrap();
        assert_eq!(c.n_values(), Some(3));
        let ColumnKind::Integer {
            bins: Some(Binning::Edges(e)),
            ..
        } = &c.kind
        else {
            panic!("binned")
        };
        assert_eq!(e, &vec![-3.0, 0.0, 3.0, 4.0]);
    }

    #[test]
    fn named_columns_are_checked() {
        let s = schema();
        let opts = DomainOptions::default();
        let one = |c: &str| prepare_domain(&s, &[c.to_string()], &opts);
        assert!(
            one("nhs_number")
                .unwrap_err()
                .to_string()
                .contains("text column")
        );
        let dob = one("date_of_birth").unwrap();
        assert!(dob.notes.iter().any(|n| n.contains("asked for")));
        assert!(one("nope").is_err());
        let twice = prepare_domain(&s, &["age".into(), "age".into()], &opts);
        assert!(twice.unwrap_err().to_string().contains("twice"));
        let bad = prepare_domain(&s, &[], &DomainOptions { max_values: 1 });
        assert!(bad.unwrap_err().to_string().contains("max_values"));
    }
}

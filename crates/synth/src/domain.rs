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
//! - integers without declared bins and more than `max_values` values: integer-width bins
//!   (`ceil((max - min + 1) / max_values)` wide), decoded uniformly within the bin;
//! - dates and datetimes: the finest granularity (day, week, month, year; second, minute,
//!   hour, day) with at most `max_values` codes, decoded uniformly within the period (a
//!   datetime range longer than `max_values` days stays at days, and says so);
//! - declared bins, floats (always binned) and categorical columns are kept as declared;
//!   a categorical column above `max_values` is left to MST's DP-safe compression of rare
//!   values, and the notes say so.
//!
//! Every change is recorded in [`SynthesisDomain::notes`], which the model file keeps for the
//! release panel.

use pets::data::{Binning, ColumnKind, ColumnSpec, DateGranularity, Role, Schema, TimeGranularity};
use pets::disclosure::report::thousands;

use crate::error::{Result, SynthError};

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
    /// The synthesised columns, in order, with their synthesis domains.
    pub schema: Schema,
    /// One line per column left out, binned or coarsened, for the model file and report.
    pub notes: Vec<String>,
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
    let columns = chosen
        .into_iter()
        .map(|c| coarsen(c, opts.max_values, &mut notes))
        .collect();
    Ok(SynthesisDomain {
        schema: Schema {
            columns,
            ..schema.clone()
        },
        notes,
    })
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
        let names: Vec<&str> = d.schema.names().collect();
        assert_eq!(
            names,
            ["age", "minutes", "seven", "arrival", "seen", "district"]
        );
        assert!(d.notes[0].contains("nhs_number") && d.notes[0].contains("free text"));
        assert!(d.notes[1].contains("date_of_birth") && d.notes[1].contains("direct identifier"));
    }

    #[test]
    fn wide_domains_are_binned_or_coarsened_from_the_schema_alone() {
        let d = prepare_domain(&schema(), &[], &DomainOptions::default()).unwrap();
        let col = |n: &str| d.schema.column(n).unwrap().clone();
        // 111 ages fit: unchanged.
        assert_eq!(col("age").n_values(), Some(111));
        // 4,321 minutes: 34 wide, 128 bins, every value still encodable.
        let m = col("minutes");
        assert_eq!(m.n_values(), Some(128));
        let ColumnKind::Integer {
            bins: Some(Binning::Edges(e)),
            ..
        } = &m.kind
        else {
            panic!("binned: {m:?}")
        };
        assert_eq!((e[0], e[1], *e.last().unwrap()), (0.0, 34.0, 4320.0));
        // Minutes of a year: hours are still too many, days are kept with a note.
        assert_eq!(col("arrival").n_values(), Some(365));
        assert!(
            d.notes
                .iter()
                .any(|n| n.starts_with("arrival:") && n.contains("coarsest"))
        );
        // Days of a year: weeks.
        let seen = col("seen");
        assert!(matches!(
            seen.kind,
            ColumnKind::Date {
                granularity: DateGranularity::Week,
                ..
            }
        ));
        assert!(seen.n_values().unwrap() <= 128);
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
        assert_eq!(
            wide.notes.len(),
            2,
            "only the left-out columns: {:?}",
            wide.notes
        );
    }

    #[test]
    fn a_one_value_last_bin_stays_encodable() {
        // 0..=6 in bins of 3: [0, 3), [3, 6), [6, 7] with decoding clamped to 6.
        let d = prepare_domain(
            &schema(),
            &["seven".to_string()],
            &DomainOptions { max_values: 3 },
        )
        .unwrap();
        let c = d.schema.column("seven").unwrap();
        assert_eq!(c.n_values(), Some(3));
        let ColumnKind::Integer {
            bins: Some(Binning::Edges(e)),
            ..
        } = &c.kind
        else {
            panic!("binned")
        };
        assert_eq!(e, &vec![0.0, 3.0, 6.0, 7.0]);
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

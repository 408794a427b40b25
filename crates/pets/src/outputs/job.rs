//! [`OutputJob`]: a frequency table, crosstab or pivot table computed and checked in one
//! pass, optionally mitigated.

use serde::{Deserialize, Serialize};

use super::mitigate::{Mitigation, MitigationReport, mitigate};
use super::model::ModelFit;
use super::rules::{Agg, CellEvidence, Check, Failure, OutputRules, check_cell};
use super::survival::SurvivalRow;
use super::{MAX_CELLS, OutputError};
use crate::data::{ColumnKind, EncodeOptions, Schema, TableSource};
use crate::error::Warning;
use crate::tables::job::Layout;

/// One cell of a checked table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckedCell {
    /// Its label in each column (`Total` for a margin).
    pub labels: Vec<String>,
    /// What is published: the value (counts as integers, other statistics to 4 significant
    /// decimals), `*` when suppressed, empty when the cell has no value (no records).
    pub published: String,
    /// The rules it fails, and why (before any mitigation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<Failure>,
    /// `primary` or `secondary` when the mitigation suppressed it, `rounded` when rounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigated: Option<String>,
}

/// A table with every cell checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckedTable {
    /// `frequency` (one column), `crosstab` (counts) or `pivot` (a statistic of a value
    /// column).
    pub kind: String,
    /// The columns it breaks down by (rows then columns).
    pub by: Vec<String>,
    /// The statistic in its cells.
    pub agg: Agg,
    /// The value column of a pivot table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<String>,
    /// The rules applied.
    pub rules: OutputRules,
    /// The checks run on every cell.
    pub checks: Vec<Check>,
    /// Its cells, margins included (last column fastest, `Total` after each column's values).
    pub cells: Vec<CheckedCell>,
    /// Records in the table (the grand total's count), kept for the differencing check of
    /// a bundle; never published.
    #[serde(default)]
    pub records: u64,
    /// `pass` when no cell fails (or every failing cell was mitigated), else `fail`.
    pub status: String,
    /// What the mitigation changed, if one was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigation: Option<MitigationReport>,
    /// The model's full coefficient table, when the output is a model
    /// ([`super::model::check_model`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelFit>,
    /// A survival table's rows as published (merged when mitigated), when the output is one
    /// ([`super::survival`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub survival: Option<Vec<SurvivalRow>>,
    /// Warnings (an inferred schema, ...).
    #[serde(skip)]
    pub warnings: Vec<Warning>,
}

impl CheckedTable {
    /// Cells failing at least one rule.
    pub fn failing(&self) -> usize {
        self.cells.iter().filter(|c| !c.failures.is_empty()).count()
    }

    /// The table as CSV rows: a header (the columns, the statistic, `checks`) and one row
    /// per cell, `checks` listing the failed rules (`threshold;zeros`).
    /// A model's rows are its coefficient table.
    pub fn csv_rows(&self) -> (Vec<String>, Vec<Vec<String>>) {
        if let Some(m) = &self.model {
            let failed = if self.status == "fail" { "dof" } else { "" };
            return m.csv_rows(failed);
        }
        if let Some(rows) = &self.survival {
            let header = ["time", "at_risk", "events", "survival", "failed_checks"]
                .map(String::from)
                .to_vec();
            let rows = rows
                .iter()
                .zip(&self.cells)
                .map(|(r, c)| {
                    vec![
                        c.labels[0].clone(),
                        r.at_risk.to_string(),
                        r.events.to_string(),
                        c.published.clone(),
                        c.failures
                            .iter()
                            .filter(|_| c.mitigated.is_none())
                            .map(|f| f.check.name())
                            .collect::<Vec<_>>()
                            .join(";"),
                    ]
                })
                .collect();
            return (header, rows);
        }
        let mut header = self.by.clone();
        header.push(match &self.values {
            Some(v) => format!("{}_{v}", self.agg.name()),
            None => "count".into(),
        });
        header.push("failed_checks".into());
        let rows = self
            .cells
            .iter()
            .map(|c| {
                let mut r = c.labels.clone();
                r.push(c.published.clone());
                r.push(
                    c.failures
                        .iter()
                        .map(|f| f.check.name())
                        .collect::<Vec<_>>()
                        .join(";"),
                );
                r
            })
            .collect();
        (header, rows)
    }
}

/// A frequency table / crosstab / pivot table over a source, checked against
/// [`OutputRules`]; the one pipeline behind `pets outputs crosstab|pivot` and
/// `pets.outputs.Session`.
#[derive(Debug, Clone)]
pub struct OutputJob {
    source: TableSource,
    schema: Option<Schema>,
    by: Vec<String>,
    values: Option<String>,
    agg: Agg,
    rules: OutputRules,
    mitigation: Mitigation,
}

/// Per-cell values kept for the statistics that need them all (median, quantiles, std).
fn needs_all_values(agg: Agg) -> bool {
    matches!(agg, Agg::Median | Agg::Quantile(_) | Agg::Std)
}

impl OutputJob {
    /// Counts of `source` broken down by `by` (a frequency table for one column, a crosstab
    /// for more).
    pub fn crosstab(source: impl Into<TableSource>, by: Vec<String>) -> OutputJob {
        OutputJob {
            source: source.into(),
            schema: None,
            by,
            values: None,
            agg: Agg::Count,
            rules: OutputRules::default(),
            mitigation: Mitigation::None,
        }
    }

    /// `agg` of the numeric column `values` broken down by `by`.
    pub fn pivot(
        source: impl Into<TableSource>,
        by: Vec<String>,
        values: impl Into<String>,
        agg: Agg,
    ) -> OutputJob {
        OutputJob {
            values: Some(values.into()),
            agg,
            ..OutputJob::crosstab(source, by)
        }
    }

    /// `agg` of `values` broken down by `by`, or counts (`values` None, `agg` count); a
    /// statistic other than count without a value column is refused by [`OutputJob::run`].
    pub fn table(
        source: impl Into<TableSource>,
        by: Vec<String>,
        values: Option<String>,
        agg: Agg,
    ) -> OutputJob {
        OutputJob {
            values,
            agg,
            ..OutputJob::crosstab(source, by)
        }
    }

    /// The rules (ACRO's defaults otherwise).
    pub fn rules(mut self, rules: OutputRules) -> OutputJob {
        self.rules = rules;
        self
    }

    /// What to do with failing cells (nothing by default: they are reported).
    pub fn mitigation(mut self, m: Mitigation) -> OutputJob {
        self.mitigation = m;
        self
    }

    /// The declared schema (without one, it is inferred from the data, with a warning).
    pub fn schema_opt(mut self, schema: Option<Schema>) -> OutputJob {
        self.schema = schema;
        self
    }

    fn check(&self) -> Result<(), OutputError> {
        self.rules.validate()?;
        if matches!(self.agg, Agg::Estimate | Agg::Survival) {
            return Err(OutputError::Invalid {
                column: None,
                message: format!(
                    "{} is not a table statistic: check a fitted model with check_model, a \
                     survival table with SurvivalJob",
                    self.agg.name()
                ),
            });
        }
        if self.by.is_empty() {
            return Err(OutputError::Invalid {
                column: None,
                message: "give at least one column to break the table down by".into(),
            });
        }
        for (i, c) in self.by.iter().enumerate() {
            if c.trim().is_empty() {
                return Err(OutputError::Invalid {
                    column: None,
                    message: format!(
                        "grouping column {} has an empty name; list the columns without \
                         empty entries (\"a,b\")",
                        i + 1
                    ),
                });
            }
            if self.by[..i].contains(c) {
                return Err(OutputError::Invalid {
                    column: Some(c.clone()),
                    message: format!("column {c:?} is listed twice"),
                });
            }
        }
        match (&self.values, self.agg.needs_values()) {
            (None, true) => Err(OutputError::Invalid {
                column: None,
                message: format!(
                    "{} needs a value column; name the numeric column to aggregate",
                    self.agg.name()
                ),
            }),
            (Some(v), _) if self.by.contains(v) => Err(OutputError::Invalid {
                column: Some(v.clone()),
                message: format!("{v:?} is both a grouping column and the value column"),
            }),
            (Some(v), _) if v.trim().is_empty() => Err(OutputError::Invalid {
                column: None,
                message: "the value column has an empty name".into(),
            }),
            _ => Ok(()),
        }
    }

    /// Compute, check and (if asked) mitigate the table.
    pub fn run(&self) -> Result<CheckedTable, OutputError> {
        self.check()?;
        let (source, mut warnings) = self.source.pinned(self.schema.as_ref())?;
        // Without a declared schema only the grouping columns are inferred (the value
        // column is read as numbers), not every column of the file; each is grouped on the
        // values it holds, integers included (`max_integer_codes: 0` makes every integer
        // range "wide", so its exact values become ordered categories), as pandas' crosstab
        // and ACRO do, rather than on every integer of its range (codes 1..9 of an
        // arrival mode holding 1, 2 and 9 would print, and fail, six empty rows). A
        // declared schema gives the full public domain instead.
        let schema = match &self.schema {
            Some(s) => s.clone(),
            None => {
                warnings.push(crate::Warning::inferred_schema());
                source.infer_schema_of_with(
                    &self.by,
                    crate::data::InferOptions {
                        exact_values: true,
                        max_integer_codes: 0,
                        ..Default::default()
                    },
                )?
            }
        };
        for c in &self.by {
            let spec = schema.column(c)?;
            if !spec.kind.is_encodable() {
                return Err(OutputError::Invalid {
                    column: Some(c.clone()),
                    message: format!(
                        "{c:?} is a text column: it has no declared values to group by; \
                         declare it categorical or choose another column"
                    ),
                });
            }
        }
        let extra: Vec<String> = self.values.iter().cloned().collect();
        // A declared schema's kind of the value column is checked; under an inferred one
        // (which may call a numeric column with few values categorical) the values are
        // parsed as numbers, an error naming the row and value otherwise.
        if let (Some(v), Some(declared)) = (&self.values, &self.schema)
            && let Ok(spec) = declared.column(v)
            && matches!(spec.kind, ColumnKind::Categorical { .. } | ColumnKind::Text)
        {
            return Err(OutputError::Invalid {
                column: Some(v.clone()),
                message: format!(
                    "{v:?} is declared {}: a {} needs a numeric column",
                    if matches!(spec.kind, ColumnKind::Text) {
                        "text"
                    } else {
                        "categorical"
                    },
                    self.agg.name()
                ),
            });
        }
        let encoded = source.encode(
            &schema,
            EncodeOptions {
                columns: Some(self.by.clone()),
                ..Default::default()
            },
            &extra,
            &crate::progress::Progress::none(),
        )?;
        let values: Option<Vec<Option<f64>>> = match &self.values {
            Some(v) => Some(
                crate::tables::stats::numeric_values(v, encoded.extra(v).unwrap_or_default())
                    .map_err(OutputError::from_table)?,
            ),
            None => None,
        };
        let table = encoded.table;
        let cols: Vec<_> = self
            .by
            .iter()
            .map(|c| table.column(c))
            .collect::<Result<_, _>>()?;
        let cards: Vec<usize> = cols
            .iter()
            .map(|c| c.codebook.cardinality() as usize)
            .collect();
        let joint_cells = cards
            .iter()
            .try_fold(1usize, |a, &c| a.checked_mul(c))
            .filter(|&n| n <= MAX_CELLS)
            .ok_or_else(|| OutputError::Invalid {
                column: None,
                message: format!(
                    "the table by {} would have more than {MAX_CELLS} cells; use fewer or \
                     coarser columns",
                    self.by.join(", ")
                ),
            })?;
        let keep = self.rules.top_needed();
        let all_values = needs_all_values(self.agg);

        // One pass over the records: each record's joint cell and its evidence.
        let n_rows = table.n_rows();
        let codes: Vec<&[u32]> = cols.iter().map(|c| c.codes.as_slice()).collect();
        let mut strides = vec![1usize; cards.len()];
        for k in (0..cards.len().saturating_sub(1)).rev() {
            strides[k] = strides[k + 1] * cards[k + 1];
        }
        let cell_of = |row: usize| -> usize {
            codes
                .iter()
                .zip(&strides)
                .map(|(c, &s)| c[row] as usize * s)
                .sum()
        };
        let mut evidence = vec![CellEvidence::default(); joint_cells];
        let mut min = vec![f64::INFINITY; joint_cells];
        let mut max = vec![f64::NEG_INFINITY; joint_cells];
        let mut lists: Vec<Vec<f64>> = if all_values {
            vec![Vec::new(); joint_cells]
        } else {
            Vec::new()
        };
        match &values {
            None => {
                let counts = crate::data::tabulate::count_cells(
                    joint_cells,
                    crate::data::tabulate::Rows::All(n_rows),
                    cell_of,
                );
                for (e, c) in evidence.iter_mut().zip(counts) {
                    e.count = c;
                }
            }
            Some(vals) => {
                for (row, v) in vals.iter().enumerate() {
                    let j = cell_of(row);
                    evidence[j].add(*v, keep);
                    if let Some(v) = *v {
                        min[j] = min[j].min(v);
                        max[j] = max[j].max(v);
                        if all_values {
                            lists[j].push(v);
                        }
                    }
                }
            }
        }

        // Every cell of the table (margins included) as a set of joint cells.
        let layout = Layout {
            by: self.by.clone(),
            positions: (0..cards.len()).collect(),
            cards: cards.clone(),
            offset: 0,
        };
        let n_cells = layout.cells();
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); n_cells];
        let d = cards.len();
        let mut coords = vec![0usize; d];
        for j in 0..joint_cells {
            let mut rest = j;
            for k in (0..d).rev() {
                coords[k] = rest % cards[k];
                rest /= cards[k];
            }
            for mask in 0..(1usize << d) {
                let idx: Vec<usize> = (0..d)
                    .map(|k| {
                        if mask & (1 << k) != 0 {
                            cards[k]
                        } else {
                            coords[k]
                        }
                    })
                    .collect();
                members[layout.index(&idx)].push(j as u32);
            }
        }
        let checks = self.agg.checks(&self.rules);
        let has_negatives = evidence.iter().any(|e| e.negatives > 0);
        let labels_of: Vec<Vec<String>> = cols
            .iter()
            .map(|col| {
                let mut v: Vec<String> = (0..col.codebook.cardinality())
                    .map(|c| col.label(c))
                    .collect();
                v.push("Total".into());
                v
            })
            .collect();
        let mut cells = Vec::with_capacity(n_cells);
        let mut counts = Vec::with_capacity(n_cells);
        let mut exact = Vec::with_capacity(n_cells);
        let mut buf = Vec::new();
        for (i, m) in members.iter().enumerate() {
            let mut e = CellEvidence::default();
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            buf.clear();
            for &j in m {
                let j = j as usize;
                e.merge(&evidence[j], keep);
                lo = lo.min(min[j]);
                hi = hi.max(max[j]);
                if all_values {
                    buf.extend_from_slice(&lists[j]);
                }
            }
            let value = statistic(self.agg, &e, lo, hi, &mut buf);
            let failures = check_cell(&e, &checks, &self.rules, has_negatives);
            cells.push(CheckedCell {
                labels: layout
                    .coords(i)
                    .iter()
                    .zip(&labels_of)
                    .map(|(&k, l)| l[k].clone())
                    .collect(),
                published: value.map(|v| format_value(self.agg, v)).unwrap_or_default(),
                failures,
                mitigated: None,
            });
            counts.push(e.count);
            exact.push(value);
        }
        let records = counts.last().copied().unwrap_or(0);
        let mut out = CheckedTable {
            kind: match (self.agg, self.by.len()) {
                (Agg::Count, 1) => "frequency".into(),
                (Agg::Count, _) => "crosstab".into(),
                _ => "pivot".into(),
            },
            by: self.by.clone(),
            agg: self.agg,
            values: self.values.clone(),
            rules: self.rules.clone(),
            checks,
            status: String::new(),
            cells,
            records,
            mitigation: None,
            model: None,
            survival: None,
            warnings,
        };
        if self.mitigation != Mitigation::None {
            out.mitigation = Some(mitigate(
                &mut out,
                self.mitigation,
                &layout,
                &members,
                joint_cells,
                &counts,
                &exact,
            )?);
        }
        let open = out
            .cells
            .iter()
            .any(|c| !c.failures.is_empty() && c.mitigated.is_none())
            || out.mitigation.as_ref().is_some_and(|m| !m.protected);
        out.status = if open { "fail" } else { "pass" }.into();
        Ok(out)
    }
}

/// A cell's statistic (`None` when it has no value).
fn statistic(agg: Agg, e: &CellEvidence, lo: f64, hi: f64, values: &mut [f64]) -> Option<f64> {
    let n = e.n as usize;
    match agg {
        Agg::Count => Some(e.count as f64),
        _ if n == 0 => None,
        Agg::Estimate | Agg::Survival => None,
        Agg::Sum => Some(e.sum),
        Agg::Mean => Some(e.sum / n as f64),
        Agg::Min => Some(lo),
        Agg::Max => Some(hi),
        Agg::Median => Some(quantile(values, 0.5)),
        Agg::Quantile(q) => Some(quantile(values, q)),
        Agg::Std => {
            if n < 2 {
                return None;
            }
            let mean = values.iter().sum::<f64>() / n as f64;
            let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
            Some((ss / (n - 1) as f64).sqrt())
        }
    }
}

/// Quantile `q` by linear interpolation between the order statistics at `(n - 1) q`
/// (pandas' and numpy's default); `values` is reordered.
pub(crate) fn quantile(values: &mut [f64], q: f64) -> f64 {
    let n = values.len();
    let pos = (n - 1) as f64 * q;
    let lo_i = pos.floor() as usize;
    let frac = pos - lo_i as f64;
    let (_, &mut lo, rest) = values.select_nth_unstable_by(lo_i, f64::total_cmp);
    if frac == 0.0 || rest.is_empty() {
        return lo;
    }
    let hi = rest.iter().copied().fold(f64::INFINITY, f64::min);
    lo + (hi - lo) * frac
}

/// A value as published: counts as integers, other statistics with up to 4 decimals.
pub(crate) fn format_value(agg: Agg, v: f64) -> String {
    if agg == Agg::Count || (v.fract() == 0.0 && v.abs() < 1e15) {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

//! [`TableJob`]: count tables from records, protected by a [`Rule`], audited.

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::audit::{Interval, Known, audit};
use super::exact::{self, Cost, Limits, Outcome};
use super::stats::{self, Statistic};
use super::{MAX_JOINT_CELLS, Rule, TableError};
use crate::data::tabulate::{Rows, Shape, count_cells};
use crate::data::{ColumnKind, EncodeOptions, Schema, TableSource};
use crate::error::{Warning, WarningKind};

/// One or more count tables over the same records, protected and audited; the one pipeline
/// behind `pets table`.
#[derive(Debug, Clone)]
pub struct TableJob {
    source: TableSource,
    schema: Option<Schema>,
    tables: Vec<Vec<String>>,
    rule: Rule,
    secondary: Secondary,
    cost: Cost,
    limits: Limits,
    statistics: Vec<Statistic>,
}

/// How secondary suppression (under [`Rule::Threshold`]) chooses the cells to suppress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Secondary {
    /// The greedy heuristic (see the module documentation): fast, not minimal.
    #[default]
    Greedy,
    /// The least [`Cost`] by an integer program with cut generation (see
    /// [`super::exact`]); falls back to the greedy, with a warning, past its [`Limits`].
    Exact,
}

/// What secondary suppression did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecondaryReport {
    /// The method asked for.
    pub requested: Secondary,
    /// The method whose pattern is published (`greedy` when the exact one gave up).
    pub method: Secondary,
    /// What the exact method minimised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
    /// Exact method: rounds of integer program and audit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rounds: Option<usize>,
    /// Exact method: cuts generated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cuts: Option<usize>,
    /// Why the exact method gave up, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// One published cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishedCell {
    /// The cell's label in each of the table's columns (`Total` for a margin).
    pub labels: Vec<String>,
    /// What is published: the count, the rounded count, or `*`.
    pub published: String,
    /// `primary` or `secondary` for a suppressed cell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<&'static str>,
    /// For a suppressed cell, the interval the audit derived from everything published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
    /// The statistics asked for, in order (`*` when suppressed, empty with no records).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub statistics: Vec<String>,
}

/// One protected table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProtectedTable {
    /// The columns it breaks down by.
    pub by: Vec<String>,
    /// Its cells, margins included (last column fastest; `Total` after each column's values).
    pub cells: Vec<PublishedCell>,
}

/// The protected tables and what the protection did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProtectedTables {
    /// The rule applied.
    pub rule: Rule,
    /// The rule's source, as published alongside.
    pub source: String,
    /// The tables.
    pub tables: Vec<ProtectedTable>,
    /// Cells suppressed because they were small (counting a cell shared by linked tables
    /// once per table).
    pub primary: usize,
    /// Cells suppressed to protect them.
    pub secondary: usize,
    /// Whether every suppressed small cell's interval is at least the protection level
    /// (always true for the HES rule, which protects by rounding).
    pub protected: bool,
    /// Smallest interval width of a primary suppressed cell (infinite when none is bounded).
    pub narrowest_interval: f64,
    /// How secondary suppression ran (`None` under the HES rule, which has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary_suppression: Option<SecondaryReport>,
    /// The statistics published beside each count (`mean(age)`, ...), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub statistics: Vec<Statistic>,
    /// Warnings (an inferred schema, cells that could not be protected).
    #[serde(skip)]
    pub warnings: Vec<Warning>,
}

impl ProtectedTables {
    /// Every published cell in long format, as `pets table --out` writes it: a header
    /// (`table`, the union of the tables' columns in order of first use, `count`) and one
    /// row per cell (empty for a column the cell's table does not break down by).
    pub fn long_format(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut union: Vec<&str> = Vec::new();
        for t in &self.tables {
            for c in &t.by {
                if !union.contains(&c.as_str()) {
                    union.push(c);
                }
            }
        }
        let mut header = vec!["table".to_string()];
        header.extend(union.iter().map(|c| c.to_string()));
        header.push("count".into());
        header.extend(self.statistics.iter().map(Statistic::label));
        let mut rows = Vec::new();
        for t in &self.tables {
            let name = t.by.join(" x ");
            for cell in &t.cells {
                let mut row = vec![name.clone()];
                row.extend(union.iter().map(|col| {
                    t.by.iter()
                        .position(|b| b == col)
                        .map(|i| cell.labels[i].clone())
                        .unwrap_or_default()
                }));
                row.push(cell.published.clone());
                row.extend(cell.statistics.iter().cloned());
                rows.push(row);
            }
        }
        (header, rows)
    }
}

/// A table's layout within the joint model (also used by [`crate::outputs`]).
pub(crate) struct Layout {
    pub(crate) by: Vec<String>,
    /// Position of each of its columns among the joint columns.
    pub(crate) positions: Vec<usize>,
    /// Values of each column (without `Total`).
    pub(crate) cards: Vec<usize>,
    /// Offset of its first cell among all tables' cells.
    pub(crate) offset: usize,
}

impl Layout {
    pub(crate) fn cells(&self) -> usize {
        self.cards.iter().map(|c| c + 1).product()
    }

    /// Cell index from per-column indices (`card` = Total).
    pub(crate) fn index(&self, idx: &[usize]) -> usize {
        idx.iter()
            .zip(&self.cards)
            .fold(0, |acc, (&i, &c)| acc * (c + 1) + i)
    }

    pub(crate) fn coords(&self, mut cell: usize) -> Vec<usize> {
        let mut out = vec![0; self.cards.len()];
        for k in (0..self.cards.len()).rev() {
            out[k] = cell % (self.cards[k] + 1);
            cell /= self.cards[k] + 1;
        }
        out
    }
}

impl TableJob {
    /// Tables of `source` broken down by each list of columns in `tables`.
    pub fn new(source: impl Into<TableSource>, tables: Vec<Vec<String>>, rule: Rule) -> TableJob {
        TableJob {
            source: source.into(),
            schema: None,
            tables,
            rule,
            secondary: Secondary::Greedy,
            cost: Cost::Cells,
            limits: Limits::default(),
            statistics: Vec::new(),
        }
    }

    /// How secondary suppression chooses cells (greedy by default), and what the exact
    /// method minimises.
    pub fn secondary(mut self, method: Secondary, cost: Cost) -> TableJob {
        self.secondary = method;
        self.cost = cost;
        self
    }

    /// When the exact method gives up.
    pub fn exact_limits(mut self, limits: Limits) -> TableJob {
        self.limits = limits;
        self
    }

    /// Statistics of numeric columns to publish beside each count (see [`super::stats`]).
    pub fn statistics(mut self, statistics: Vec<Statistic>) -> TableJob {
        self.statistics = statistics;
        self
    }

    /// The declared schema (without one, it is inferred from the data, with a warning).
    pub fn schema_opt(mut self, schema: Option<Schema>) -> TableJob {
        self.schema = schema;
        self
    }

    fn check(&self) -> Result<(), TableError> {
        let bad = |message: String| TableError::Invalid {
            column: None,
            message,
        };
        if self.tables.is_empty() || self.tables.iter().any(Vec::is_empty) {
            return Err(bad(
                "give each table at least one column to break down by".into()
            ));
        }
        for t in &self.tables {
            for (i, c) in t.iter().enumerate() {
                if t[..i].contains(c) {
                    return Err(TableError::Invalid {
                        column: Some(c.clone()),
                        message: format!("column {c:?} is listed twice in one table"),
                    });
                }
            }
        }
        if self.rule == Rule::Hes && self.secondary == Secondary::Exact {
            return Err(bad(
                "exact secondary suppression is for the threshold rule; the HES rule protects \
                 by rounding and has no secondary suppression"
                    .into(),
            ));
        }
        if let Rule::Threshold { threshold, .. } = self.rule
            && threshold < 1
        {
            return Err(bad("the threshold must be at least 1".into()));
        }
        Ok(())
    }

    /// Build, protect and audit the tables.
    pub fn run(&self) -> Result<ProtectedTables, TableError> {
        self.check()?;
        let (source, mut warnings) = self.source.pinned(self.schema.as_ref())?;
        let schema = source.declared_or_exact_schema(self.schema.as_ref(), &mut warnings)?;
        let mut columns: Vec<String> = Vec::new();
        for c in self.tables.iter().flatten() {
            let spec = schema.column(c)?;
            if !spec.kind.is_encodable() {
                return Err(TableError::Invalid {
                    column: Some(c.clone()),
                    message: format!(
                        "{c:?} is a text column: it has no declared values to tabulate over; \
                         declare it categorical or choose another column"
                    ),
                });
            }
            if !columns.contains(c) {
                columns.push(c.clone());
            }
        }
        let mut stat_columns: Vec<String> = Vec::new();
        for s in &self.statistics {
            if let Ok(spec) = schema.column(&s.column)
                && matches!(spec.kind, ColumnKind::Categorical { .. } | ColumnKind::Text)
            {
                return Err(TableError::Invalid {
                    column: Some(s.column.clone()),
                    message: format!(
                        "{:?} is declared {}: a mean or median needs a numeric column",
                        s.column,
                        if matches!(spec.kind, ColumnKind::Text) {
                            "text"
                        } else {
                            "categorical"
                        }
                    ),
                });
            }
            if !stat_columns.contains(&s.column) {
                stat_columns.push(s.column.clone());
            }
        }
        let encoded_source = source.encode(
            &schema,
            EncodeOptions {
                columns: Some(columns.clone()),
                ..Default::default()
            },
            &stat_columns,
            &crate::progress::Progress::none(),
        )?;
        let stat_values: Vec<Vec<Option<f64>>> = stat_columns
            .iter()
            .map(|c| stats::numeric_values(c, encoded_source.extra(c).unwrap_or_default()))
            .collect::<Result<_, _>>()?;
        let table = encoded_source.table;
        let encoded: Vec<_> = columns
            .iter()
            .map(|c| table.column(c))
            .collect::<Result<_, _>>()?;
        let cards: Vec<u32> = encoded.iter().map(|c| c.codebook.cardinality()).collect();
        let shape = Shape::new(&columns, cards.clone(), MAX_JOINT_CELLS as u64).map_err(|_| {
            TableError::Invalid {
                column: None,
                message: format!(
                    "the tables span more than {MAX_JOINT_CELLS} combinations of {} ({}); \
                     the audit needs fewer or coarser columns",
                    columns.join(", "),
                    cards
                        .iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(" x ")
                ),
            }
        })?;
        let codes: Vec<&[u32]> = encoded.iter().map(|c| c.codes.as_slice()).collect();
        let strides = shape.strides().to_vec();
        let joint = count_cells(shape.cells(), Rows::All(table.n_rows()), |row| {
            codes
                .iter()
                .zip(&strides)
                .map(|(c, &s)| c[row] as usize * s)
                .sum()
        });

        // Every table's cells as sums of joint cells.
        let mut layouts = Vec::with_capacity(self.tables.len());
        let mut offset = 0;
        for by in &self.tables {
            let positions: Vec<usize> = by
                .iter()
                .map(|c| columns.iter().position(|x| x == c).expect("collected"))
                .collect();
            let l = Layout {
                by: by.clone(),
                cards: positions.iter().map(|&p| cards[p] as usize).collect(),
                positions,
                offset,
            };
            offset += l.cells();
            layouts.push(l);
        }
        let total_cells = offset;
        let mut values = vec![0u64; total_cells];
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); total_cells];
        let mut joint_codes = vec![0u32; columns.len()];
        let strides_u64: Vec<u64> = strides.iter().map(|&s| s as u64).collect();
        for (j, &count) in joint.iter().enumerate() {
            crate::data::tabulate::decode_index(j as u64, &strides_u64, &mut joint_codes);
            for l in &layouts {
                let d = l.positions.len();
                for mask in 0..(1usize << d) {
                    let idx: Vec<usize> = (0..d)
                        .map(|k| {
                            if mask & (1 << k) != 0 {
                                l.cards[k]
                            } else {
                                joint_codes[l.positions[k]] as usize
                            }
                        })
                        .collect();
                    let cell = l.offset + l.index(&idx);
                    values[cell] += count;
                    members[cell].push(j as u32);
                }
            }
        }
        // Cells that are the same sum in two linked tables share their fate.
        let mut same: FxHashMap<&[u32], Vec<usize>> = FxHashMap::default();
        for (c, m) in members.iter().enumerate() {
            same.entry(m.as_slice()).or_default().push(c);
        }
        let twins: Vec<Vec<usize>> = (0..total_cells)
            .map(|c| same[members[c].as_slice()].clone())
            .collect();

        let mut known: Vec<Known> = Vec::with_capacity(total_cells);
        let mut status: Vec<Option<&'static str>> = vec![None; total_cells];
        let mut protected = true;
        let mut secondary_report = None;
        match self.rule {
            Rule::Hes => {
                for (c, &v) in values.iter().enumerate() {
                    known.push(match v {
                        0 => Known::Exact(0),
                        1..=7 => {
                            status[c] = Some("primary");
                            Known::Unknown
                        }
                        _ => {
                            let r = round5(v);
                            Known::Between(r - 2, r + 2)
                        }
                    });
                }
            }
            Rule::Threshold {
                threshold,
                protection,
            } => {
                for (c, &v) in values.iter().enumerate() {
                    if v > 0 && v < threshold {
                        status[c] = Some("primary");
                        known.push(Known::Unknown);
                    } else {
                        known.push(Known::Exact(v));
                    }
                }
                let primary: Vec<bool> = status.iter().map(Option::is_some).collect();
                let mut report = SecondaryReport {
                    requested: self.secondary,
                    method: Secondary::Greedy,
                    cost: None,
                    rounds: None,
                    cuts: None,
                    fallback: None,
                };
                let mut done = false;
                if self.secondary == Secondary::Exact {
                    let mut class_ids: FxHashMap<&[u32], usize> = FxHashMap::default();
                    let class_of: Vec<usize> = members
                        .iter()
                        .map(|m| {
                            let next = class_ids.len();
                            *class_ids.entry(m.as_slice()).or_insert(next)
                        })
                        .collect();
                    let layout_of = |c: usize| {
                        layouts
                            .iter()
                            .find(|l| c >= l.offset && c < l.offset + l.cells())
                            .expect("every cell is in a table")
                    };
                    let table_cells = |c: usize| {
                        let l = layout_of(c);
                        (l.offset..l.offset + l.cells()).collect()
                    };
                    let lines = |c: usize| lines_through(c, layout_of(c));
                    let model = exact::Model {
                        joint_cells: joint.len(),
                        members: &members,
                        values: &values,
                        class_of: &class_of,
                        primary: &primary,
                        table_cells: &table_cells,
                        lines: &lines,
                        protection,
                    };
                    report.cost = Some(self.cost);
                    match exact::solve(&model, self.cost, self.limits)? {
                        Outcome::Optimal {
                            secondary,
                            rounds,
                            cuts,
                        } => {
                            for s in secondary {
                                known[s] = Known::Unknown;
                                status[s] = Some("secondary");
                            }
                            report.method = Secondary::Exact;
                            report.rounds = Some(rounds);
                            report.cuts = Some(cuts);
                            done = true;
                        }
                        Outcome::Infeasible => {
                            report.fallback = Some(
                                "no suppression pattern protects every small count (even \
                                 suppressing every cell does not)"
                                    .into(),
                            );
                        }
                        Outcome::GaveUp(why) => report.fallback = Some(why),
                    }
                    if let Some(why) = &report.fallback {
                        warnings.push(Warning::new(
                            WarningKind::Note,
                            format!(
                                "exact secondary suppression gave up ({why}); the greedy \
                                 heuristic's pattern is published instead"
                            ),
                        ));
                    }
                }
                if !done {
                    protected = greedy(
                        &GreedyInput {
                            joint_cells: joint.len(),
                            members: &members,
                            values: &values,
                            twins: &twins,
                            layouts: &layouts,
                            protection,
                        },
                        &mut known,
                        &mut status,
                        &mut warnings,
                    )?;
                }
                secondary_report = Some(report);
            }
        }
        // Twins of a suppressed cell are suppressed too (HES: a total equal to a cell).
        for c in 0..total_cells {
            if known[c] == Known::Unknown {
                for &t in &twins[c] {
                    if known[t] != Known::Unknown {
                        known[t] = Known::Unknown;
                        status[t] = Some("secondary");
                    }
                }
            }
        }
        let suppressed: Vec<usize> = (0..total_cells)
            .filter(|&c| known[c] == Known::Unknown)
            .collect();
        let intervals = audit(joint.len(), &members, &known, &suppressed)?;
        let interval_of: FxHashMap<usize, Interval> =
            suppressed.iter().copied().zip(intervals).collect();
        let narrowest = suppressed
            .iter()
            .filter(|&&c| status[c] == Some("primary"))
            .map(|c| interval_of[c].width())
            .fold(f64::INFINITY, f64::min);
        if let Rule::Threshold { protection, .. } = self.rule {
            protected = protected && narrowest + 1e-9 >= protection as f64;
        }

        // Statistics: each table cell's values, from its joint cells' values.
        let mut stat_text: Vec<Vec<String>> = vec![Vec::new(); total_cells];
        if !self.statistics.is_empty() {
            let min = stats::min_records(&self.rule);
            let row_joint: Vec<usize> = (0..table.n_rows())
                .map(|row| {
                    codes
                        .iter()
                        .zip(&strides)
                        .map(|(c, &s)| c[row] as usize * s)
                        .sum()
                })
                .collect();
            for st in &self.statistics {
                let col = stat_columns
                    .iter()
                    .position(|c| *c == st.column)
                    .expect("collected");
                let mut by_joint: Vec<Vec<f64>> = vec![Vec::new(); joint.len()];
                for (row, v) in stat_values[col].iter().enumerate() {
                    if let Some(v) = v {
                        by_joint[row_joint[row]].push(*v);
                    }
                }
                let mut buf = Vec::new();
                for c in 0..total_cells {
                    buf.clear();
                    for &j in &members[c] {
                        buf.extend_from_slice(&by_joint[j as usize]);
                    }
                    stat_text[c].push(stats::publish(
                        st.statistic,
                        &mut buf,
                        known[c] == Known::Unknown,
                        min,
                    ));
                }
            }
        }

        let mut tables = Vec::with_capacity(layouts.len());
        for l in &layouts {
            let labels_of: Vec<Vec<String>> = l
                .positions
                .iter()
                .map(|&p| {
                    let col = encoded[p];
                    let mut v: Vec<String> = (0..col.codebook.cardinality())
                        .map(|c| col.label(c))
                        .collect();
                    v.push("Total".into());
                    v
                })
                .collect();
            let cells = (0..l.cells())
                .map(|i| {
                    let c = l.offset + i;
                    let coords = l.coords(i);
                    PublishedCell {
                        labels: coords
                            .iter()
                            .zip(&labels_of)
                            .map(|(&k, labels)| labels[k].clone())
                            .collect(),
                        published: match known[c] {
                            Known::Unknown => "*".into(),
                            Known::Exact(v) => v.to_string(),
                            Known::Between(lo, _) => (lo + 2).to_string(),
                        },
                        suppressed: if known[c] == Known::Unknown {
                            status[c]
                        } else {
                            None
                        },
                        interval: interval_of.get(&c).copied(),
                        statistics: stat_text[c].clone(),
                    }
                })
                .collect();
            tables.push(ProtectedTable {
                by: l.by.clone(),
                cells,
            });
        }
        let count = |what: &str| {
            (0..total_cells)
                .filter(|&c| known[c] == Known::Unknown && status[c] == Some(what))
                .count()
        };
        Ok(ProtectedTables {
            rule: self.rule,
            source: self.rule.source(),
            primary: count("primary"),
            secondary: count("secondary"),
            tables,
            protected,
            narrowest_interval: narrowest,
            secondary_suppression: secondary_report,
            statistics: self.statistics.clone(),
            warnings,
        })
    }
}

/// A count rounded to the nearest 5 (halves up: 12 -> 10, 13 -> 15).
pub(crate) fn round5(v: u64) -> u64 {
    (v + 2) / 5 * 5
}

/// What the greedy heuristic works on.
pub(crate) struct GreedyInput<'a> {
    pub(crate) joint_cells: usize,
    pub(crate) members: &'a [Vec<u32>],
    pub(crate) values: &'a [u64],
    pub(crate) twins: &'a [Vec<usize>],
    pub(crate) layouts: &'a [Layout],
    pub(crate) protection: u64,
}

/// The greedy heuristic: each primary cell in turn, suppress [`secondary_for`] it until the
/// audit shows it protected. Suppressing more never narrows another cell's interval, so a
/// cell once protected stays protected. Returns whether every primary cell was protected.
pub(crate) fn greedy(
    g: &GreedyInput<'_>,
    known: &mut [Known],
    status: &mut [Option<&'static str>],
    warnings: &mut Vec<Warning>,
) -> Result<bool, TableError> {
    let mut protected = true;
    let primaries: Vec<usize> = (0..known.len()).filter(|&c| status[c].is_some()).collect();
    for c in primaries {
        loop {
            let interval = audit(g.joint_cells, g.members, known, &[c])?[0];
            if interval.width() + 1e-9 >= g.protection as f64 {
                break;
            }
            let Some(s) = secondary_for(c, g.layouts, g.values, known) else {
                protected = false;
                warnings.push(Warning::new(
                    WarningKind::Note,
                    format!(
                        "a small cell of the table by {} cannot be protected to width {}: \
                         nothing left to suppress around it",
                        g.layouts
                            .iter()
                            .find(|l| c >= l.offset && c < l.offset + l.cells())
                            .map(|l| l.by.join(" x "))
                            .unwrap_or_default(),
                        g.protection
                    ),
                ));
                break;
            };
            for &t in &g.twins[s] {
                known[t] = Known::Unknown;
                status[t] = status[t].or(Some("secondary"));
            }
        }
    }
    Ok(protected)
}

/// The lines of `c`'s table through `c`: for each column, the cells that differ from `c` in
/// that column only (its values and `Total`), `c` included.
fn lines_through(c: usize, l: &Layout) -> Vec<Vec<usize>> {
    let coords = l.coords(c - l.offset);
    (0..coords.len())
        .map(|k| {
            (0..=l.cards[k])
                .map(|i| {
                    let mut idx = coords.clone();
                    idx[k] = i;
                    l.offset + l.index(&idx)
                })
                .collect()
        })
        .collect()
}

/// The published cell to suppress next to protect cell `c`: the smallest positive count on
/// one of the table's lines through `c` (interior cells before margins), else any published
/// cell of the table.
fn secondary_for(c: usize, layouts: &[Layout], values: &[u64], known: &[Known]) -> Option<usize> {
    let l = layouts
        .iter()
        .find(|l| c >= l.offset && c < l.offset + l.cells())?;
    let coords = l.coords(c - l.offset);
    let is_margin = |cell: usize| {
        l.coords(cell - l.offset)
            .iter()
            .zip(&l.cards)
            .any(|(&i, &card)| i == card)
    };
    let rank = |cell: usize| (is_margin(cell), values[cell] == 0, values[cell]);
    let mut line = Vec::new();
    for k in 0..coords.len() {
        for i in 0..=l.cards[k] {
            let mut idx = coords.clone();
            idx[k] = i;
            line.push(l.offset + l.index(&idx));
        }
    }
    let open = |cell: &usize| *cell != c && known[*cell] != Known::Unknown;
    line.iter()
        .copied()
        .filter(open)
        .min_by_key(|&x| rank(x))
        .or_else(|| {
            (l.offset..l.offset + l.cells())
                .filter(open)
                .min_by_key(|&x| rank(x))
        })
}

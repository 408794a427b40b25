//! Mergeable partial aggregates: what one trust computes over its own rows.
//!
//! A query is a list of tables (a count, a histogram, a contingency table, or the several
//! k-way marginals MST measures), each over [`Dimension`]s of the declared schema. Cells
//! are laid out by `data::tabulate` from the schema alone, so every trust's vector has the
//! same length and meaning and the federated answer is the cell-by-cell sum: the same
//! numbers as the pooled single-machine table (tested in `job`).
//!
//! **Contribution bound.** Each trust cuts each person's rows to `m` (as `pets dp query`
//! does, [`crate::dp::bounding`]); a person attends at most `T` trusts (a declared, public
//! bound: trusts cannot see each other's patients). Adding or removing a person then changes
//! each of the `K` tables of the summed vector by at most `m T` in L1, and so in L2, and the
//! whole vector by `||Delta||_2^2 <= K (m T)^2` ([`FederatedQuery::l2_squared`]).
//!
//! **Sums and means** ([`ValueTable`], [`crate::federated::values`]): each kept value is
//! clamped to public bounds and rounded to a public grid of at most `C <= 2^20` units; a
//! table's cells then move by at most `m T C` in L1 (and L2). In a query with any sum or
//! mean, every count cell (plain count tables and a mean's counts) counts a row as
//! [`VALUE_COUNT_WEIGHT`] `= 2^20`, so that counts and sums share one noise scale with
//! comparable budgets: `||Delta||_2^2 <= (m T)^2 (sum over count parts of 2^40 + sum over
//! sum parts of C_j^2)`. Proof: `federated/proofs/federated_sums.md`.

use serde::{Deserialize, Serialize};

use crate::data::{Schema, TableSource};
use crate::dp::queries::Dimension;
use crate::dp::queries::histogram::exact_table;
use crate::dp::queries::histogram::table_axes;
use crate::dp::{DpTable, PrivacyUnit};
use crate::error::Warning;
use crate::federated::error::{FederatedError, Result};
pub use crate::federated::values::{
    MAX_VALUE_CELL, VALUE_COUNT_WEIGHT, ValueLayout, ValueStatistic, ValueTable,
};

/// Most cells in one federated vector.
pub const MAX_FEDERATED_CELLS: usize = 4_000_000;

/// What every trust computes: count tables over declared columns (a table with no
/// dimension is the plain count of (bounded) rows), then sums and means of numeric columns
/// with public bounds. The summed vector holds the count tables in order, then each value
/// table (a mean: its counts, then its sums).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FederatedQuery {
    /// The count tables, in order.
    pub tables: Vec<Vec<Dimension>>,
    /// Sums and means, in order.
    #[serde(default)]
    pub values: Vec<ValueTable>,
}

impl FederatedQuery {
    /// The count of rows.
    pub fn count() -> FederatedQuery {
        FederatedQuery {
            tables: vec![Vec::new()],
            values: Vec::new(),
        }
    }

    /// One histogram or contingency table over `dimensions` (`col`, `hour(col)`,
    /// `weekday(col)`).
    pub fn histogram(dimensions: &[&str]) -> Result<FederatedQuery> {
        FederatedQuery::marginals(&[dimensions.iter().map(|d| d.to_string()).collect()])
    }

    /// Several tables at once (for example the k-way marginals a synthesiser measures).
    pub fn marginals(sets: &[Vec<String>]) -> Result<FederatedQuery> {
        if sets.is_empty() {
            return Err(FederatedError::invalid(
                "query",
                "no tables",
                "give at least one table",
            ));
        }
        let tables = sets
            .iter()
            .map(|s| {
                s.iter()
                    .map(|d| d.parse())
                    .collect::<std::result::Result<Vec<_>, _>>()
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(FederatedQuery {
            tables,
            values: Vec::new(),
        })
    }

    /// Count tables (`sets`, as [`FederatedQuery::marginals`]) and sums and means (`values`,
    /// each `sum(COLUMN, LOWER, UPPER) [by DIM, ...]` or `mean(...)`), as every front door
    /// takes them. Neither: the count of rows; values alone: no count table.
    pub fn from_specs(sets: &[Vec<String>], values: &[String]) -> Result<FederatedQuery> {
        if values.is_empty() {
            return FederatedQuery::from_tables(sets);
        }
        let mut q = if sets.is_empty() {
            FederatedQuery {
                tables: Vec::new(),
                values: Vec::new(),
            }
        } else {
            FederatedQuery::marginals(sets)?
        };
        q.values = values
            .iter()
            .map(|v| ValueTable::parse(v))
            .collect::<Result<_>>()?;
        Ok(q)
    }

    /// Sums and means of `values` alone.
    pub fn of_values(values: Vec<ValueTable>) -> Result<FederatedQuery> {
        let q = FederatedQuery {
            tables: Vec::new(),
            values,
        };
        q.check()?;
        Ok(q)
    }

    /// Refuse an empty query and bad value tables (bounds, grids).
    pub fn check(&self) -> Result<()> {
        if self.tables.is_empty() && self.values.is_empty() {
            return Err(FederatedError::invalid(
                "query",
                "no tables",
                "give at least one table",
            ));
        }
        for v in &self.values {
            v.check()?;
        }
        Ok(())
    }

    /// Weight of one row in a count cell: 1, or `2^20` in a query with sums or means.
    pub fn count_weight(&self) -> u64 {
        if self.values.is_empty() {
            1
        } else {
            VALUE_COUNT_WEIGHT
        }
    }

    /// The encoded (grouping) columns the query reads.
    pub fn grouped_columns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for d in self
            .tables
            .iter()
            .flatten()
            .chain(self.values.iter().flat_map(|v| &v.by))
        {
            let c = d.column().to_string();
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    /// The numeric columns whose values are summed (not the columns of conditions, which
    /// [`FederatedQuery::read_columns`] places by their declared kind).
    pub fn numeric_columns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for v in self.values.iter().filter(|v| v.condition.is_none()) {
            if !out.contains(&v.column) {
                out.push(v.column.clone());
            }
        }
        out
    }

    /// The columns to read as codes and as numbers: [`FederatedQuery::grouped_columns`] and
    /// [`FederatedQuery::numeric_columns`], with each condition's column added to the one its
    /// declared kind needs (categories as codes, integers and floats as numbers).
    pub fn read_columns(&self, schema: &Schema) -> Result<(Vec<String>, Vec<String>)> {
        let (mut grouped, mut numeric) = (self.grouped_columns(), self.numeric_columns());
        for c in self.values.iter().filter_map(|v| v.condition.as_ref()) {
            let spec = schema.column(&c.column).map_err(|e| FederatedError::Data {
                trust: "(the job's schema)".into(),
                source: Box::new(e.into()),
            })?;
            let list = if c.reads_codes(spec)? {
                &mut grouped
            } else {
                &mut numeric
            };
            if !list.contains(&c.column) {
                list.push(c.column.clone());
            }
        }
        Ok((grouped, numeric))
    }

    /// The layout every trust's vector must have, but for the labels and shapes (which
    /// follow from the schema): refuse a trust's layout that weights or scales cells
    /// otherwise than the query.
    pub fn check_layout(&self, layout: &[TableLayout]) -> Result<()> {
        let w = self.count_weight();
        let expected: Vec<(u64, Option<ValueLayout>)> = self
            .tables
            .iter()
            .map(|_| Ok((w, None)))
            .chain(
                self.values
                    .iter()
                    .map(|v| Ok((w, Some(ValueLayout::of(v)?)))),
            )
            .collect::<Result<_>>()?;
        let got: Vec<(u64, Option<ValueLayout>)> =
            layout.iter().map(|l| (l.weight, l.value.clone())).collect();
        if got != expected {
            return Err(FederatedError::invalid(
                "layout",
                self.label(),
                "the trusts' tables are weighted or scaled otherwise than the query (another \
                 pets version?)",
            ));
        }
        Ok(())
    }

    /// The tables as every front door takes them: none is the count of rows.
    pub fn from_tables(sets: &[Vec<String>]) -> Result<FederatedQuery> {
        if sets.is_empty() {
            Ok(FederatedQuery::count())
        } else {
            FederatedQuery::marginals(sets)
        }
    }

    /// The query's label: `count`, `histogram(a, b)` or `marginals(a, b; c)`, then each sum
    /// or mean (`sum(col, 0, 10) by a`), joined by `; `.
    pub fn label(&self) -> String {
        let counts = self.count_label();
        let values = self.values.iter().map(ValueTable::label);
        match counts {
            Some(c) => std::iter::once(c)
                .chain(values)
                .collect::<Vec<_>>()
                .join("; "),
            None => values.collect::<Vec<_>>().join("; "),
        }
    }

    fn count_label(&self) -> Option<String> {
        let table = |t: &Vec<Dimension>| {
            t.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        Some(match self.tables.as_slice() {
            [] => return None,
            [t] if t.is_empty() => "count".to_string(),
            [t] => format!("histogram({})", table(t)),
            ts => format!(
                "marginals({})",
                ts.iter().map(table).collect::<Vec<_>>().join("; ")
            ),
        })
    }

    /// The data columns the query reads.
    pub fn columns(&self) -> Vec<String> {
        let mut out = self.grouped_columns();
        for c in self.values.iter().map(|v| &v.column) {
            if !out.contains(c) {
                out.push(c.clone());
            }
        }
        out
    }

    /// `||Delta||_2^2` of the summed vector for `m` rows per person per trust and `T` trusts
    /// per person (module docs): `K (m T)^2` for `K` count tables alone; with sums or means,
    /// `(m T)^2 (W^2 (K + M) + sum_j C_j^2)` with `W = 2^20` the count weight, `M` the means
    /// and `C_j` the grid units of each sum or mean (`federated/proofs/federated_sums.md`).
    pub fn l2_squared(&self, max_rows_per_person: u32, max_trusts_per_person: u32) -> f64 {
        let per = f64::from(max_rows_per_person) * f64::from(max_trusts_per_person);
        let w = self.count_weight() as f64;
        let mut parts = self.tables.len() as f64 * w * w;
        for v in &self.values {
            let c = v.units() as f64;
            parts += c * c;
            if v.statistic == ValueStatistic::Mean {
                parts += w * w;
            }
        }
        // Every term is an integer below 2^53 times a small count: exact in f64 for any
        // query pets accepts (at most 4e6 cells, so at most 4e6 tables).
        parts * per * per
    }

    /// A fingerprint of the declared columns the query reads: trusts whose schemas give
    /// these columns other domains would produce vectors that do not line up.
    pub fn fingerprint(&self, schema: &Schema) -> Result<String> {
        crate::federated::vector::columns_fingerprint(schema, &self.columns())
    }
}

/// One table's layout in the summed vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableLayout {
    /// Axis names (`col`, `hour(col)`, ...); empty for a count.
    pub dimensions: Vec<String>,
    /// Labels along each axis (empty when a declared vector gives none:
    /// [`crate::federated::VectorSpec`]).
    pub labels: Vec<Vec<String>>,
    /// Cells per axis.
    pub shape: Vec<usize>,
    /// What one row adds to its count cell: 1, or `2^20` in a query with sums or means.
    pub weight: u64,
    /// A sum or mean: its column, bounds and grid (a mean's vector holds its weighted
    /// counts, then its sums); `None` for a count table.
    pub value: Option<ValueLayout>,
}

impl TableLayout {
    /// Cells of the table (a mean's counts and sums: twice its shape's).
    pub fn cells(&self) -> usize {
        let n: usize = self.shape.iter().product();
        match &self.value {
            Some(v) if v.statistic == ValueStatistic::Mean => 2 * n,
            _ => n,
        }
    }
}

/// What one trust computed: exact counts of its own bounded rows. It never leaves the trust
/// in the clear: the job adds the trust's noise share and masks or secret-shares it.
#[derive(Debug, Clone)]
pub struct LocalAggregate {
    /// The tables' layouts (the same at every trust).
    pub layout: Vec<TableLayout>,
    /// The cells of every table, concatenated (sums may be negative).
    pub values: Vec<i64>,
    /// The privacy unit the trust bounded to.
    pub unit: PrivacyUnit,
    /// Warnings of reading the trust's table (row-level privacy, ...).
    pub warnings: Vec<Warning>,
}

/// Compute `query` over one trust's table, cutting each person to `max_rows_per_person`
/// rows (`person_id`), or treating rows as people (warned) without one.
pub fn local_aggregate(
    trust: &str,
    source: &TableSource,
    schema: &Schema,
    person_id: Option<&str>,
    max_rows_per_person: u32,
    seed: u64,
    query: &FederatedQuery,
) -> Result<LocalAggregate> {
    query.check()?;
    let data_err = |source: crate::dp::DpError| FederatedError::Data {
        trust: trust.to_string(),
        source: Box::new(source),
    };
    let (grouped, numeric) = query.read_columns(schema)?;
    let input = DpTable::load(source.clone(), schema)
        .person_id_opt(person_id.map(str::to_string), max_rows_per_person)
        .seed(seed)
        .read(&grouped, &numeric)
        .map_err(data_err)?;
    let data = &input.data;
    let weight = query.count_weight();
    let too_many = || {
        FederatedError::invalid(
            "query",
            query.label(),
            format!("more than {MAX_FEDERATED_CELLS} cells in one round; split the query"),
        )
    };
    let mut layout = Vec::with_capacity(query.tables.len() + query.values.len());
    let mut values: Vec<i64> = Vec::new();
    // Counts are at most the rows (< 2^63); weighted, they are checked against the bound.
    let weighted = |c: u64, column: &str| -> Result<i64> {
        let v = i128::from(c) * i128::from(weight);
        if weight > 1 && v > MAX_VALUE_CELL {
            return Err(cell_too_large(trust, column));
        }
        Ok(i64::try_from(v).unwrap_or(i64::MAX))
    };
    for dims in &query.tables {
        if dims.is_empty() {
            let n = match data.bounded().rows() {
                Some(r) => r.len(),
                None => data.bounded().n_rows(),
            };
            layout.push(TableLayout {
                dimensions: Vec::new(),
                labels: Vec::new(),
                shape: Vec::new(),
                weight,
                value: None,
            });
            values.push(weighted(n as u64, "count")?);
            continue;
        }
        let (axes, counts) = exact_table(data, dims).map_err(data_err)?;
        if values.len() + counts.len() > MAX_FEDERATED_CELLS {
            return Err(too_many());
        }
        layout.push(TableLayout {
            dimensions: dims.iter().map(|d| d.to_string()).collect(),
            shape: axes.iter().map(|a| a.size()).collect(),
            labels: axes.into_iter().map(|a| a.labels).collect(),
            weight,
            value: None,
        });
        for c in counts {
            values.push(weighted(c, "count")?);
        }
    }
    for v in &query.values {
        let value = ValueLayout::of(v)?;
        let grid = v.grid()?;
        let read = RowValue::new(data, v)?;
        let (dimensions, labels, shape, cell_of): (_, _, Vec<usize>, Box<dyn Fn(usize) -> usize>) =
            if v.by.is_empty() {
                (Vec::new(), Vec::new(), Vec::new(), Box::new(|_| 0))
            } else {
                let (axes, shape) = table_axes(data, &v.by).map_err(data_err)?;
                let strides = shape.strides().to_vec();
                let sizes = axes.iter().map(|a| a.size()).collect();
                let labels = axes.iter().map(|a| a.labels.clone()).collect();
                (
                    v.by.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
                    labels,
                    sizes,
                    Box::new(move |r| axes.iter().zip(&strides).map(|(a, s)| a.cell(r) * s).sum()),
                )
            };
        let n: usize = shape.iter().product();
        let parts = if v.statistic == ValueStatistic::Mean {
            2
        } else {
            1
        };
        if values.len() + parts * n > MAX_FEDERATED_CELLS {
            return Err(too_many());
        }
        let mut counts = vec![0u64; n];
        let mut sums = vec![0i128; n];
        let mut add = |r: usize| -> Result<()> {
            if let Some(x) = read.get(r) {
                if !x.is_finite() {
                    return Err(data_err(crate::dp::DpError::NonFinite {
                        column: v.column.clone(),
                        row: r as u64 + 1,
                        value: x,
                    }));
                }
                let c = cell_of(r);
                counts[c] += 1;
                sums[c] += i128::from(grid.quantise(x.clamp(v.lower, v.upper)));
            }
            Ok(())
        };
        match data.bounded().rows() {
            Some(rows) => rows.iter().try_for_each(|&r| add(r as usize))?,
            None => (0..data.bounded().n_rows()).try_for_each(&mut add)?,
        }
        if v.statistic == ValueStatistic::Mean {
            for &c in &counts {
                let w = i128::from(c) * i128::from(weight);
                if w > MAX_VALUE_CELL {
                    return Err(cell_too_large(trust, &v.column));
                }
                values.push(w as i64);
            }
        }
        for s in sums {
            if s.abs() > MAX_VALUE_CELL {
                return Err(cell_too_large(trust, &v.column));
            }
            values.push(s as i64);
        }
        layout.push(TableLayout {
            dimensions,
            labels,
            shape,
            weight,
            value: Some(value),
        });
    }
    Ok(LocalAggregate {
        layout,
        values,
        unit: data.bounded().contribution().unit,
        warnings: input.warnings,
    })
}

/// How a value table reads one row's value: the column's number, or a condition's 0/1
/// value (from the number, or from the code of a categorical column); `None`: no value.
enum RowValue<'a> {
    Number(&'a [Option<f64>]),
    Test(&'a [Option<f64>], Box<dyn Fn(f64) -> bool + 'a>),
    Codes(&'a [u32], Vec<Option<bool>>),
}

impl<'a> RowValue<'a> {
    fn new(data: &'a crate::dp::queries::DpData<'_>, v: &ValueTable) -> Result<RowValue<'a>> {
        let numbers = || {
            data.raw(&v.column)
                .expect("DpTable::read read every numeric column")
        };
        let Some(c) = &v.condition else {
            return Ok(RowValue::Number(numbers()));
        };
        match data.column(&c.column) {
            Ok(col) if c.reads_codes(&col.spec)? => {
                Ok(RowValue::Codes(&col.codes, c.on_codes(col)?))
            }
            _ => Ok(RowValue::Test(numbers(), Box::new(c.on_numbers()?))),
        }
    }

    #[inline]
    fn get(&self, r: usize) -> Option<f64> {
        match self {
            RowValue::Number(raw) => raw[r],
            // A non-finite number stays itself, for the caller to refuse.
            RowValue::Test(raw, test) => raw[r].map(|x| {
                if x.is_finite() {
                    f64::from(u8::from(test(x)))
                } else {
                    x
                }
            }),
            RowValue::Codes(codes, value) => {
                value[codes[r] as usize].map(|b| f64::from(u8::from(b)))
            }
        }
    }
}

fn cell_too_large(trust: &str, column: &str) -> FederatedError {
    FederatedError::Trust {
        trust: trust.to_string(),
        reason: format!(
            "a cell of {column:?} passes 2^51 (over 2^31 kept rows in one cell at one trust), \
             beyond what the ring carries without wrapping; split the trust's rows into \
             several rounds"
        ),
    }
}

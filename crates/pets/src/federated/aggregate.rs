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

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::{Schema, TableSource};
use crate::dp::queries::Dimension;
use crate::dp::queries::histogram::exact_table;
use crate::dp::{DpTable, PrivacyUnit};
use crate::error::Warning;
use crate::federated::error::{FederatedError, Result};

/// Most cells in one federated vector.
pub const MAX_FEDERATED_CELLS: usize = 4_000_000;

/// What every trust computes: one or more count tables over declared columns. A table with
/// no dimension is the plain count of (bounded) rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FederatedQuery {
    /// The tables, in order.
    pub tables: Vec<Vec<Dimension>>,
}

impl FederatedQuery {
    /// The count of rows.
    pub fn count() -> FederatedQuery {
        FederatedQuery {
            tables: vec![Vec::new()],
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
        Ok(FederatedQuery { tables })
    }

    /// The tables as every front door takes them: none is the count of rows.
    pub fn from_tables(sets: &[Vec<String>]) -> Result<FederatedQuery> {
        if sets.is_empty() {
            Ok(FederatedQuery::count())
        } else {
            FederatedQuery::marginals(sets)
        }
    }

    /// The query's label: `count`, `histogram(a, b)` or `marginals(a, b; c)`.
    pub fn label(&self) -> String {
        let table = |t: &Vec<Dimension>| {
            t.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self.tables.as_slice() {
            [t] if t.is_empty() => "count".to_string(),
            [t] => format!("histogram({})", table(t)),
            ts => format!(
                "marginals({})",
                ts.iter().map(table).collect::<Vec<_>>().join("; ")
            ),
        }
    }

    /// The data columns the query reads.
    pub fn columns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for d in self.tables.iter().flatten() {
            let c = d.column().to_string();
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    /// `||Delta||_2^2` of the summed vector for `m` rows per person per trust and `T` trusts
    /// per person: `K (m T)^2` (module docs).
    pub fn l2_squared(&self, max_rows_per_person: u32, max_trusts_per_person: u32) -> f64 {
        let per = f64::from(max_rows_per_person) * f64::from(max_trusts_per_person);
        self.tables.len() as f64 * per * per
    }

    /// A fingerprint of the declared columns the query reads: trusts whose schemas give
    /// these columns other domains would produce vectors that do not line up.
    pub fn fingerprint(&self, schema: &Schema) -> Result<String> {
        let mut h = Sha256::new();
        for c in self.columns() {
            let spec = schema.column(&c).map_err(|e| FederatedError::Data {
                trust: "(the job's schema)".into(),
                source: Box::new(e.into()),
            })?;
            h.update(
                serde_json::to_string(spec)
                    .expect("a column spec serialises")
                    .as_bytes(),
            );
            h.update([0u8]);
        }
        Ok(h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }
}

/// One table's layout in the summed vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableLayout {
    /// Axis names (`col`, `hour(col)`, ...); empty for a count.
    pub dimensions: Vec<String>,
    /// Labels along each axis.
    pub labels: Vec<Vec<String>>,
    /// Cells per axis.
    pub shape: Vec<usize>,
}

impl TableLayout {
    /// Cells of the table.
    pub fn cells(&self) -> usize {
        self.shape.iter().product()
    }
}

/// What one trust computed: exact counts of its own bounded rows. It never leaves the trust
/// in the clear: the job adds the trust's noise share and masks or secret-shares it.
#[derive(Debug, Clone)]
pub struct LocalAggregate {
    /// The tables' layouts (the same at every trust).
    pub layout: Vec<TableLayout>,
    /// The cells of every table, concatenated.
    pub values: Vec<u64>,
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
    let columns = query.columns();
    let input = DpTable::load(source.clone(), schema)
        .person_id_opt(person_id.map(str::to_string), max_rows_per_person)
        .seed(seed)
        .read(&columns, &[])
        .map_err(|source| FederatedError::Data {
            trust: trust.to_string(),
            source: Box::new(source),
        })?;
    let data = &input.data;
    let mut layout = Vec::with_capacity(query.tables.len());
    let mut values = Vec::new();
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
            });
            values.push(n as u64);
            continue;
        }
        let (axes, counts) = exact_table(data, dims).map_err(|source| FederatedError::Data {
            trust: trust.to_string(),
            source: Box::new(source),
        })?;
        if values.len() + counts.len() > MAX_FEDERATED_CELLS {
            return Err(FederatedError::invalid(
                "query",
                query.label(),
                format!("more than {MAX_FEDERATED_CELLS} cells in one round; split the query"),
            ));
        }
        layout.push(TableLayout {
            dimensions: dims.iter().map(|d| d.to_string()).collect(),
            shape: axes.iter().map(|a| a.size()).collect(),
            labels: axes.into_iter().map(|a| a.labels).collect(),
        });
        values.extend(counts);
    }
    Ok(LocalAggregate {
        layout,
        values,
        unit: data.bounded().contribution().unit,
        warnings: input.warnings,
    })
}

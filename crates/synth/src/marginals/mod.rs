//! Exact k-way marginals (contingency tables) over encoded columns.
//!
//! For columns `c_1..c_k` with code cardinalities `n_1..n_k`, the marginal is the dense
//! histogram `M[i] = #{rows r : sum_j code_j(r) * stride_j = i}` with row-major strides
//! `stride_k = 1`, `stride_j = stride_{j+1} * n_{j+1}`. Because codes depend only on the
//! declared schema, marginals computed on separate partitions (or separate trusts) of the
//! same schema add cell by cell: [`Marginal::merge`] is associative and commutative, which is
//! what lets the same code run per partition on Spark or per trust in federated mode.
//!
//! The cell index, the limit on cells and the counting are [`pets::data::tabulate`]'s, the
//! same as under DP histograms, so a marginal and a DP histogram over the same columns
//! describe the same cells in the same order. Counting runs with rayon over row chunks, each
//! chunk filling a private histogram that is then summed; memory is one histogram per
//! worker, so the number of cells is bounded by [`Marginal::DEFAULT_MAX_CELLS`] unless the
//! caller raises it.

use pets::data::EncodedTable;
use pets::data::tabulate::{Rows, Shape, TabulateError, Tabulation, add_counts};
use serde::{Deserialize, Serialize};

/// Errors of marginal computation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MarginalError {
    /// A column is not in the table.
    #[error(transparent)]
    Data(#[from] pets::data::DataError),
    /// No columns were given.
    #[error("a marginal needs at least one column")]
    NoColumns,
    /// A column appears twice.
    #[error("column {0:?} appears twice in one marginal")]
    Duplicate(String),
    /// The dense table would be too large.
    #[error(
        "the marginal over {columns:?} would have {cells} cells, more than the limit of {limit}; \
         use fewer or coarser columns (bins, generalisation) or raise the limit"
    )]
    TooLarge {
        /// The columns.
        columns: Vec<String>,
        /// Product of their cardinalities.
        cells: u128,
        /// The limit in force.
        limit: u64,
    },
    /// Two marginals that do not describe the same cells.
    #[error("cannot merge marginals over different columns or domains: {0}")]
    Mismatch(String),
}

impl From<TabulateError> for MarginalError {
    fn from(e: TabulateError) -> Self {
        match e {
            TabulateError::NoColumns => MarginalError::NoColumns,
            TabulateError::Duplicate(c) => MarginalError::Duplicate(c),
            TabulateError::TooLarge {
                columns,
                cells,
                limit,
            } => MarginalError::TooLarge {
                columns,
                cells,
                limit,
            },
            other => MarginalError::Mismatch(other.to_string()),
        }
    }
}

/// A dense k-way marginal: counts of every combination of codes of its columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marginal {
    /// Column names, in stride order (the last varies fastest).
    pub columns: Vec<String>,
    /// Code cardinality of each column.
    pub shape: Vec<u32>,
    /// One count per cell, row-major.
    pub counts: Vec<u64>,
}

impl Marginal {
    /// Default largest number of cells (2^26, 512 MiB of counts).
    pub const DEFAULT_MAX_CELLS: u64 = 1 << 26;

    /// An all-zero marginal over columns of the given cardinalities.
    pub fn zeros(columns: Vec<String>, shape: Vec<u32>) -> Result<Self, MarginalError> {
        let cells = Shape::new(&columns, shape.clone(), Self::DEFAULT_MAX_CELLS)?.cells();
        Ok(Marginal {
            columns,
            shape,
            counts: vec![0; cells],
        })
    }

    /// Count the marginal of `table` over `columns`.
    pub fn compute(table: &EncodedTable, columns: &[&str]) -> Result<Self, MarginalError> {
        Self::compute_with_limit(table, columns, Self::DEFAULT_MAX_CELLS)
    }

    /// As [`compute`](Self::compute), with a custom cell limit.
    pub fn compute_with_limit(
        table: &EncodedTable,
        columns: &[&str],
        max_cells: u64,
    ) -> Result<Self, MarginalError> {
        if columns.is_empty() {
            return Err(MarginalError::NoColumns);
        }
        for (i, c) in columns.iter().enumerate() {
            if columns[..i].contains(c) {
                return Err(MarginalError::Duplicate(c.to_string()));
            }
            // an unknown column is the data layer's error, naming the columns available
            table.column(c)?;
        }
        let t = Tabulation::count(table, columns, Rows::All(table.n_rows()), max_cells)?;
        Ok(Marginal::from(t))
    }

    /// Total count (the number of rows counted).
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Flat index of a code combination (one code per column, in column order).
    pub fn index(&self, codes: &[u32]) -> Option<usize> {
        self.cells().ok()?.index(codes)
    }

    /// Add another marginal over the same columns and domains (another partition or trust).
    pub fn merge(&mut self, other: &Marginal) -> Result<(), MarginalError> {
        if self.columns != other.columns || self.shape != other.shape {
            return Err(MarginalError::Mismatch(format!(
                "{:?}{:?} vs {:?}{:?}",
                self.columns, self.shape, other.columns, other.shape
            )));
        }
        add_counts(&mut self.counts, &other.counts);
        Ok(())
    }

    /// The cells: cardinalities and strides.
    fn cells(&self) -> Result<Shape, MarginalError> {
        Ok(Shape::new(&self.columns, self.shape.clone(), u64::MAX)?)
    }

    /// Sum out every column not in `keep` (given in the order wanted).
    pub fn project(&self, keep: &[&str]) -> Result<Marginal, MarginalError> {
        let pos: Vec<usize> = keep
            .iter()
            .map(|k| {
                self.columns.iter().position(|c| c == k).ok_or_else(|| {
                    MarginalError::Mismatch(format!("{k:?} is not a column of {:?}", self.columns))
                })
            })
            .collect::<Result<_, _>>()?;
        let shape: Vec<u32> = pos.iter().map(|&p| self.shape[p]).collect();
        let mut out = Marginal::zeros(keep.iter().map(|s| s.to_string()).collect(), shape)?;
        let out_cells = out.cells()?;
        let out_strides = out_cells.strides();
        let mut codes = vec![0u32; self.shape.len()];
        for &count in &self.counts {
            if count > 0 {
                let i: usize = pos
                    .iter()
                    .zip(out_strides)
                    .map(|(&p, s)| codes[p] as usize * s)
                    .sum();
                out.counts[i] += count;
            }
            // Advance the odometer of codes in row-major order.
            for d in (0..codes.len()).rev() {
                codes[d] += 1;
                if codes[d] < self.shape[d] {
                    break;
                }
                codes[d] = 0;
            }
        }
        Ok(out)
    }
}

impl From<Tabulation> for Marginal {
    fn from(t: Tabulation) -> Self {
        Marginal {
            columns: t.columns().to_vec(),
            shape: t.shape().cardinalities().to_vec(),
            counts: t.into_counts(),
        }
    }
}

/// Compute several marginals of one table (each in its own parallel pass).
pub fn compute_marginals(
    table: &EncodedTable,
    sets: &[Vec<&str>],
) -> Result<Vec<Marginal>, MarginalError> {
    sets.iter().map(|s| Marginal::compute(table, s)).collect()
}

#[cfg(test)]
mod tests;

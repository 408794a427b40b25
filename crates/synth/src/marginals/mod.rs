//! Exact k-way marginals (contingency tables) over encoded columns.
//!
//! For columns `c_1..c_k` with code cardinalities `n_1..n_k`, the marginal is the dense
//! histogram `M[i] = #{rows r : sum_j code_j(r) * stride_j = i}` with row-major strides
//! `stride_k = 1`, `stride_j = stride_{j+1} * n_{j+1}`. Because codes depend only on the
//! declared schema, marginals computed on separate partitions (or separate trusts) of the
//! same schema add cell by cell: [`Marginal::merge`] is associative and commutative, which is
//! what lets the same code run per partition on Spark or per trust in federated mode.
//!
//! Counting runs with rayon over row chunks, each chunk filling a private histogram that
//! is then summed; memory is one histogram per worker, so the number of cells is bounded by
//! [`Marginal::DEFAULT_MAX_CELLS`] unless the caller raises it.

use pets::data::{EncodedColumn, EncodedTable};
use rayon::prelude::*;
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
        let cells = cells_of(&columns, &shape, Self::DEFAULT_MAX_CELLS)?;
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
        }
        let cols: Vec<&EncodedColumn> = columns
            .iter()
            .map(|c| table.column(c))
            .collect::<Result<_, _>>()?;
        let names: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        let shape: Vec<u32> = cols.iter().map(|c| c.codebook.cardinality()).collect();
        let cells = cells_of(&names, &shape, max_cells)?;
        let strides = strides(&shape);
        let n = table.n_rows();
        const CHUNK: usize = 64 * 1024;
        let counts = (0..n.div_ceil(CHUNK))
            .into_par_iter()
            .fold(
                || vec![0u64; cells],
                |mut acc, k| {
                    let (lo, hi) = (k * CHUNK, ((k + 1) * CHUNK).min(n));
                    let mut idx = vec![0usize; hi - lo];
                    for (col, &s) in cols.iter().zip(&strides) {
                        for (i, &c) in idx.iter_mut().zip(&col.codes[lo..hi]) {
                            *i += c as usize * s;
                        }
                    }
                    for i in idx {
                        acc[i] += 1;
                    }
                    acc
                },
            )
            .reduce(
                || vec![0u64; cells],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        Ok(Marginal {
            columns: names,
            shape,
            counts,
        })
    }

    /// Total count (the number of rows counted).
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Flat index of a code combination (one code per column, in column order).
    pub fn index(&self, codes: &[u32]) -> Option<usize> {
        if codes.len() != self.shape.len() || codes.iter().zip(&self.shape).any(|(c, n)| c >= n) {
            return None;
        }
        Some(
            codes
                .iter()
                .zip(strides(&self.shape))
                .map(|(&c, s)| c as usize * s)
                .sum(),
        )
    }

    /// Add another marginal over the same columns and domains (another partition or trust).
    pub fn merge(&mut self, other: &Marginal) -> Result<(), MarginalError> {
        if self.columns != other.columns || self.shape != other.shape {
            return Err(MarginalError::Mismatch(format!(
                "{:?}{:?} vs {:?}{:?}",
                self.columns, self.shape, other.columns, other.shape
            )));
        }
        self.counts
            .iter_mut()
            .zip(&other.counts)
            .for_each(|(a, b)| *a += b);
        Ok(())
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
        let out_strides = strides(&out.shape);
        let mut codes = vec![0u32; self.shape.len()];
        for &count in &self.counts {
            if count > 0 {
                let i: usize = pos
                    .iter()
                    .zip(&out_strides)
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

fn cells_of(columns: &[String], shape: &[u32], limit: u64) -> Result<usize, MarginalError> {
    let cells: u128 = shape.iter().map(|&n| u128::from(n)).product();
    if cells > u128::from(limit) {
        return Err(MarginalError::TooLarge {
            columns: columns.to_vec(),
            cells,
            limit,
        });
    }
    Ok(cells as usize)
}

fn strides(shape: &[u32]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1] as usize;
    }
    s
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

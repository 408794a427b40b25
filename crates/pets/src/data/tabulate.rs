//! Tabulation: the mixed-radix cell index over encoded columns, and dense cell counts.
//!
//! For columns `c_1..c_k` with code cardinalities `n_1..n_k` (domain values, null and
//! "other" codes, [`CodeBook::cardinality`]) a row with codes `(x_1..x_k)` falls in the cell
//! `sum_j x_j * stride_j`, with row-major strides `stride_k = 1`,
//! `stride_j = stride_{j+1} * n_{j+1}` (the last column varies fastest): a bijection between
//! code tuples and `0..n_1*...*n_k`. A [`Tabulation`] holds one `u64` count per cell, every
//! cell included, so the set of cells depends on the schema only.
//!
//! Because codes depend only on the declared schema, tabulations of separately encoded
//! partitions (or trusts) add cell by cell: [`Tabulation::merge`] is associative and
//! commutative, and merging the tabulations of a partition of the rows, in any order, gives
//! the tabulation of the whole. This is the contingency table of the statistical disclosure
//! control literature (Hundepool et al. 2012, "Statistical Disclosure Control", ch. 5) and
//! the marginal of MST (McKenna, Miklau & Sheldon 2021).
//!
//! Used by DP histograms (`dp::queries::histogram`, whose derived hour/weekday axes count
//! through [`count_cells`]), MST marginals (`pets_synth::marginals`) and the dense
//! mixed-radix keying of equivalence classes (`disclosure::classes`, through
//! [`radix_strides`] and [`decode_index`]).
//!
//! Counting runs with rayon over 64k-row chunks, each chunk filling a private table that is
//! then summed: memory is one table per worker, so callers bound the number of cells.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{CodeBook, DataError, EncodedColumn, EncodedTable};
use crate::error::{Classify, ErrorKind};

/// Rows per counting chunk.
const CHUNK: usize = 64 * 1024;

/// Errors of tabulation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TabulateError {
    /// A column is not in the table.
    #[error("column {0:?} is not in the table")]
    UnknownColumn(String),
    /// No columns were given.
    #[error("a tabulation needs at least one column")]
    NoColumns,
    /// A column appears twice.
    #[error("column {0:?} appears twice in one tabulation")]
    Duplicate(String),
    /// The dense table would be too large.
    #[error(
        "the table over {columns:?} would have {cells} cells, more than the limit of {limit}; \
         use fewer or coarser columns (bins, generalisation) or raise the limit"
    )]
    TooLarge {
        /// The columns.
        columns: Vec<String>,
        /// Product of their cardinalities (saturated at `u128::MAX`).
        cells: u128,
        /// The limit in force.
        limit: u64,
    },
    /// Two tabulations that do not describe the same cells.
    #[error("cannot merge tabulations over different columns or code books: {0}")]
    Mismatch(String),
}

impl Classify for TabulateError {
    fn kind(&self) -> ErrorKind {
        match self {
            TabulateError::UnknownColumn(_) => ErrorKind::Schema,
            TabulateError::NoColumns
            | TabulateError::Duplicate(_)
            | TabulateError::TooLarge { .. } => ErrorKind::InvalidParameter,
            TabulateError::Mismatch(_) => ErrorKind::Input,
        }
    }

    fn column(&self) -> Option<&str> {
        match self {
            TabulateError::UnknownColumn(c) | TabulateError::Duplicate(c) => Some(c),
            _ => None,
        }
    }
}

/// Row-major strides of a mixed-radix index over `cardinalities` (zeros count as one), and
/// the number of cells, when that number fits in 128 bits.
pub fn radix_strides(cardinalities: &[u32]) -> Option<(Vec<u128>, u128)> {
    let mut strides = vec![0u128; cardinalities.len()];
    let mut acc: u128 = 1;
    for (i, &n) in cardinalities.iter().enumerate().rev() {
        strides[i] = acc;
        acc = acc.checked_mul(u128::from(n.max(1)))?;
    }
    Some((strides, acc))
}

/// The code tuple of a mixed-radix `index` (one code per stride, strides descending).
#[inline]
pub fn decode_index(index: u64, strides: &[u64], out: &mut [u32]) {
    let mut rest = index;
    for (o, &s) in out.iter_mut().zip(strides) {
        *o = (rest / s) as u32;
        rest %= s;
    }
}

/// The cells of a dense table: cardinality and stride of each axis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    cardinalities: Vec<u32>,
    strides: Vec<usize>,
    cells: usize,
}

impl Shape {
    /// The shape over axes of the given cardinalities, if it has at most `max_cells` cells
    /// (checked: the product never overflows). `names` name the axes in the error.
    pub fn new(
        names: &[String],
        cardinalities: Vec<u32>,
        max_cells: u64,
    ) -> Result<Shape, TabulateError> {
        let too_large = |cells| TabulateError::TooLarge {
            columns: names.to_vec(),
            cells,
            limit: max_cells,
        };
        let cells = cardinalities
            .iter()
            .try_fold(1u128, |acc, &n| acc.checked_mul(u128::from(n)))
            .ok_or_else(|| too_large(u128::MAX))?;
        if cells > u128::from(max_cells) {
            return Err(too_large(cells));
        }
        let cells = usize::try_from(cells).map_err(|_| too_large(cells))?;
        let mut strides = vec![1usize; cardinalities.len()];
        for d in (0..cardinalities.len().saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * cardinalities[d + 1] as usize;
        }
        Ok(Shape {
            cardinalities,
            strides,
            cells,
        })
    }

    /// Cardinality of each axis.
    pub fn cardinalities(&self) -> &[u32] {
        &self.cardinalities
    }

    /// Stride of each axis (the last is 1).
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// Number of cells.
    pub fn cells(&self) -> usize {
        self.cells
    }

    /// Flat index of a code tuple, `None` when a code is out of range or the arity differs.
    pub fn index(&self, codes: &[u32]) -> Option<usize> {
        if codes.len() != self.cardinalities.len()
            || codes.iter().zip(&self.cardinalities).any(|(c, n)| c >= n)
        {
            return None;
        }
        Some(
            codes
                .iter()
                .zip(&self.strides)
                .map(|(&c, &s)| c as usize * s)
                .sum(),
        )
    }
}

/// The rows to count: all of them, or a subset given by ascending row indices.
#[derive(Debug, Clone, Copy)]
pub enum Rows<'a> {
    /// Rows `0..n`.
    All(usize),
    /// These rows.
    Subset(&'a [u32]),
}

/// Count rows into `cells` cells, `cell(row)` giving each row's cell (rayon over chunks).
pub fn count_cells(
    cells: usize,
    rows: Rows<'_>,
    cell: impl Fn(usize) -> usize + Sync + Send,
) -> Vec<u64> {
    let zero = || vec![0u64; cells];
    let add = |mut a: Vec<u64>, b: Vec<u64>| {
        add_counts(&mut a, &b);
        a
    };
    match rows {
        Rows::All(n) => (0..n.div_ceil(CHUNK))
            .into_par_iter()
            .fold(zero, |mut acc, k| {
                for r in k * CHUNK..((k + 1) * CHUNK).min(n) {
                    acc[cell(r)] += 1;
                }
                acc
            })
            .reduce(zero, add),
        Rows::Subset(rows) => rows
            .par_chunks(CHUNK)
            .fold(zero, |mut acc, c| {
                for &r in c {
                    acc[cell(r as usize)] += 1;
                }
                acc
            })
            .reduce(zero, add),
    }
}

/// Count rows of encoded columns into the cells of `shape` (column-at-a-time within each
/// chunk, which vectorises better than row-at-a-time).
pub fn count_codes(shape: &Shape, columns: &[&[u32]], rows: Rows<'_>) -> Vec<u64> {
    let cells = shape.cells();
    let zero = || vec![0u64; cells];
    let add = |mut a: Vec<u64>, b: Vec<u64>| {
        add_counts(&mut a, &b);
        a
    };
    match rows {
        Rows::All(n) => (0..n.div_ceil(CHUNK))
            .into_par_iter()
            .fold(zero, |mut acc, k| {
                let lo = k * CHUNK;
                let hi = ((k + 1) * CHUNK).min(n);
                let mut idx = vec![0usize; hi - lo];
                for (col, &s) in columns.iter().zip(shape.strides()) {
                    for (i, &c) in idx.iter_mut().zip(&col[lo..hi]) {
                        *i += c as usize * s;
                    }
                }
                for i in idx {
                    acc[i] += 1;
                }
                acc
            })
            .reduce(zero, add),
        Rows::Subset(rows) => rows
            .par_chunks(CHUNK)
            .fold(zero, |mut acc, c| {
                let mut idx = vec![0usize; c.len()];
                for (col, &s) in columns.iter().zip(shape.strides()) {
                    for (i, &r) in idx.iter_mut().zip(c) {
                        *i += col[r as usize] as usize * s;
                    }
                }
                for i in idx {
                    acc[i] += 1;
                }
                acc
            })
            .reduce(zero, add),
    }
}

/// Add `b` into `a` cell by cell (same length).
pub fn add_counts(a: &mut [u64], b: &[u64]) {
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
}

/// A dense table of counts over encoded columns: every combination of their codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tabulation {
    columns: Vec<String>,
    codebooks: Vec<CodeBook>,
    shape: Shape,
    counts: Vec<u64>,
}

impl Tabulation {
    /// Default largest number of cells (2^26, 512 MiB of counts).
    pub const DEFAULT_MAX_CELLS: u64 = 1 << 26;

    /// An all-zero table over columns with the given code books.
    pub fn zeros(
        columns: Vec<String>,
        codebooks: Vec<CodeBook>,
        max_cells: u64,
    ) -> Result<Tabulation, TabulateError> {
        let shape = Shape::new(
            &columns,
            codebooks.iter().map(CodeBook::cardinality).collect(),
            max_cells,
        )?;
        Ok(Tabulation {
            counts: vec![0; shape.cells()],
            columns,
            codebooks,
            shape,
        })
    }

    /// Count `rows` of `table` over `columns` (distinct, at least one), with at most
    /// `max_cells` cells.
    pub fn count(
        table: &EncodedTable,
        columns: &[&str],
        rows: Rows<'_>,
        max_cells: u64,
    ) -> Result<Tabulation, TabulateError> {
        if columns.is_empty() {
            return Err(TabulateError::NoColumns);
        }
        for (i, c) in columns.iter().enumerate() {
            if columns[..i].contains(c) {
                return Err(TabulateError::Duplicate(c.to_string()));
            }
        }
        let cols: Vec<&EncodedColumn> = columns
            .iter()
            .map(|c| {
                table
                    .column(c)
                    .map_err(|_: DataError| TabulateError::UnknownColumn(c.to_string()))
            })
            .collect::<Result<_, _>>()?;
        let mut t = Tabulation::zeros(
            columns.iter().map(|c| c.to_string()).collect(),
            cols.iter().map(|c| c.codebook).collect(),
            max_cells,
        )?;
        let codes: Vec<&[u32]> = cols.iter().map(|c| c.codes.as_slice()).collect();
        let rows = match rows {
            Rows::All(_) => Rows::All(table.n_rows()),
            r => r,
        };
        t.counts = count_codes(&t.shape, &codes, rows);
        Ok(t)
    }

    /// Column names, in stride order (the last varies fastest).
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The code book of each column.
    pub fn codebooks(&self) -> &[CodeBook] {
        &self.codebooks
    }

    /// The cells.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// One count per cell, row-major.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The counts, giving up the rest.
    pub fn into_counts(self) -> Vec<u64> {
        self.counts
    }

    /// Total count (the number of rows counted).
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Add another tabulation over the same columns and code books (another partition).
    pub fn merge(&mut self, other: &Tabulation) -> Result<(), TabulateError> {
        if self.columns != other.columns || self.codebooks != other.codebooks {
            return Err(TabulateError::Mismatch(format!(
                "{:?}{:?} vs {:?}{:?}",
                self.columns,
                self.shape.cardinalities(),
                other.columns,
                other.shape.cardinalities()
            )));
        }
        add_counts(&mut self.counts, &other.counts);
        Ok(())
    }
}

#[cfg(test)]
mod tests;

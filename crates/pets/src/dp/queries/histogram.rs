//! Histograms and k-way contingency tables over public domains.
//!
//! Cells are fixed by the schema (every code of every dimension, including null and
//! "other"), so empty cells are released too and the set of cells leaks nothing. Counting
//! runs in parallel over the kept rows (rayon); noise is drawn in parallel over cells.
//!
//! Sensitivity: a person's at most `m` rows add at most `m` to the table in L1 and (all in
//! one cell, the worst case) `m` in L2. Noise: discrete Laplace, `b = m / epsilon`, or
//! discrete Gaussian, `sigma = m / sqrt(2 rho)` (Dwork et al. 2006; Canonne, Kamath &
//! Steinke 2020). Optional post-processing makes cells non-negative and consistent with a
//! total (the table's own noisy sum, or a separately released noisy count).

use serde::{Deserialize, Serialize};

use crate::data::tabulate::{Rows, Shape, count_cells};
use crate::dp::accuracy::Accuracy;
use crate::dp::budget::Cost;
use crate::dp::error::{DpError, Result};
use crate::dp::mechanisms::NoiseFamily;
use crate::dp::queries::dims::{Axis, axis};
use crate::dp::queries::postprocess::{consistent_counts, non_negative};
use crate::dp::queries::{CountNoise, Dimension, DpData, check_share, split_share};
use crate::dp::session::Session;

/// Most cells in one table.
pub const MAX_CELLS: usize = 50_000_000;

/// Post-processing of a released table (no privacy cost).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PostProcess {
    /// Set negative cells to zero.
    #[serde(default)]
    pub non_negative: bool,
    /// Make non-negative integer cells add up to a total: the table's noisy sum, or, with
    /// `total_weight`, a separately released noisy count.
    #[serde(default)]
    pub consistent_total: bool,
    /// Fraction of the query's share (0-1) spent on a separate noisy total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_weight: Option<f64>,
}

/// A histogram or contingency table query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramQuery {
    /// The axes.
    pub dimensions: Vec<Dimension>,
    /// Share of the budget.
    pub share: Cost,
    /// Noise family.
    #[serde(default)]
    pub noise: NoiseFamily,
    /// Post-processing.
    #[serde(default)]
    pub post: PostProcess,
}

impl HistogramQuery {
    /// A table over `dimensions` spending `share`.
    pub fn new(dimensions: Vec<Dimension>, share: Cost) -> HistogramQuery {
        HistogramQuery {
            dimensions,
            share,
            noise: NoiseFamily::Auto,
            post: PostProcess::default(),
        }
    }
}

/// A released table, cells in row-major order (last dimension fastest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableResult {
    /// The query.
    pub query: String,
    /// Axis names.
    pub dimensions: Vec<String>,
    /// Labels of each axis.
    pub labels: Vec<Vec<String>>,
    /// Cells per axis.
    pub shape: Vec<usize>,
    /// Released counts.
    pub counts: Vec<i64>,
    /// The noisy counts before post-processing (present only when post-processed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noisy_counts: Option<Vec<i64>>,
    /// Accuracy of each noisy count (before post-processing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<Accuracy>,
    /// The total the counts were made consistent with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    /// Post-processing applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_processing: Vec<String>,
    /// Ledger entries.
    pub ledger_entries: Vec<usize>,
    /// Warnings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl TableResult {
    /// Flat index of a cell from its per-axis indices.
    pub fn index(&self, cell: &[usize]) -> usize {
        cell.iter()
            .zip(&self.shape)
            .fold(0, |acc, (&i, &n)| acc * n + i)
    }
}

/// Resolve dimensions into axes and the table's shape (no row is counted).
pub(crate) fn table_axes<'a>(
    data: &'a DpData<'_>,
    dims: &[Dimension],
) -> Result<(Vec<Axis<'a>>, Shape)> {
    if dims.is_empty() {
        return Err(DpError::query("histogram", "give at least one dimension"));
    }
    let axes: Vec<Axis<'a>> = dims.iter().map(|d| axis(data, d)).collect::<Result<_>>()?;
    // The cell index and the counting are `data::tabulate`'s, shared with MST marginals: a
    // histogram over plain columns is cell-for-cell the marginal over them.
    let too_many = || {
        DpError::query(
            "histogram",
            format!(
                "more than {MAX_CELLS} cells; drop a dimension, coarsen one, or use group_by \
                 with a threshold to release only the cells that occur"
            ),
        )
    };
    let sizes: Vec<u32> = axes
        .iter()
        .map(|a| u32::try_from(a.size()).map_err(|_| too_many()))
        .collect::<Result<_>>()?;
    let names: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    let shape = Shape::new(&names, sizes, MAX_CELLS as u64).map_err(|_| too_many())?;
    Ok((axes, shape))
}

/// Resolve dimensions and count the kept rows into cells (exact, not private).
pub(crate) fn exact_table<'a>(
    data: &'a DpData<'_>,
    dims: &[Dimension],
) -> Result<(Vec<Axis<'a>>, Vec<u64>)> {
    let (axes, shape) = table_axes(data, dims)?;
    let bounded = data.bounded();
    let rows = match bounded.rows() {
        Some(r) => Rows::Subset(r),
        None => Rows::All(bounded.n_rows()),
    };
    let strides = shape.strides();
    let counts = count_cells(shape.cells(), rows, |r| {
        axes.iter().zip(strides).map(|(a, s)| a.cell(r) * s).sum()
    });
    Ok((axes, counts))
}

/// Release a histogram or contingency table.
pub fn histogram(
    session: &mut Session,
    data: &DpData<'_>,
    q: &HistogramQuery,
) -> Result<TableResult> {
    histogram_with(session, data, q, None)
}

/// [`histogram`], with the exact cells counted elsewhere when `merged` is given (the sum of
/// partitions' [`exact_table`]s, laid out by the same axes): `data` then only gives the
/// axes, the bound `m` and the ledger record, and the noise is drawn once, here.
pub(crate) fn histogram_with(
    session: &mut Session,
    data: &DpData<'_>,
    q: &HistogramQuery,
    merged: Option<&[u64]>,
) -> Result<TableResult> {
    let names: Vec<String> = q.dimensions.iter().map(|d| d.to_string()).collect();
    let name = format!("histogram({})", names.join(", "));
    check_share(session, &name, &q.share)?;
    let (axes, exact) = match merged {
        None => exact_table(data, &q.dimensions)?,
        Some(cells) => {
            let (axes, shape) = table_axes(data, &q.dimensions)?;
            if cells.len() as u64 != shape.cells() as u64 {
                return Err(DpError::query(
                    &name,
                    format!(
                        "{} merged cells for a table of {} cells; compute every partition \
                         with the same schema and query",
                        cells.len(),
                        shape.cells()
                    ),
                ));
            }
            (axes, cells.to_vec())
        }
    };
    let columns: Vec<String> = q
        .dimensions
        .iter()
        .map(|d| d.column().to_string())
        .collect();
    let mut columns_dedup = columns.clone();
    columns_dedup.dedup();
    let m = data.m();
    let (cell_share, total_share) = match q.post.total_weight {
        Some(w) if q.post.consistent_total => {
            if !(w > 0.0 && w < 1.0) {
                return Err(DpError::invalid(
                    "total_weight",
                    w,
                    "it is the fraction of the share spent on the total, strictly between 0 and 1",
                ));
            }
            let s = split_share(&q.share, &[1.0 - w, w])?;
            (s[0], Some(s[1]))
        }
        _ => (q.share, None),
    };
    let noise = CountNoise::for_share(session.measure(), q.noise, &cell_share, m, m)?;
    let total_noise = total_share
        .map(|s| CountNoise::for_share(session.measure(), q.noise, &s, m, m))
        .transpose()?;
    let record = data.record(name.clone(), &columns_dedup);
    let warnings = record.warnings.clone();
    session.check_share(&name, &q.share)?;
    let exact_i: Vec<i64> = exact.iter().map(|&c| c as i64).collect();
    let rel = noise.release(session, &exact_i, record.clone())?;
    let mut ledger_entries = vec![rel.ledger_index];
    let mut total = None;
    if let Some(tn) = total_noise {
        let mut r = record;
        r.query = format!("{name}: total");
        let n: i64 = exact_i.iter().sum();
        let t = tn.release(session, &[n], r)?;
        ledger_entries.push(t.ledger_index);
        total = Some(t.value[0].max(0));
    }
    let mut post = Vec::new();
    let mut counts = rel.value.clone();
    if q.post.consistent_total {
        counts = consistent_counts(&counts, total);
        total = Some(counts.iter().sum());
        post.push(
            "cells projected to non-negative integers adding up to the total (least squares)"
                .to_string(),
        );
    } else if q.post.non_negative {
        non_negative(&mut counts);
        post.push("negative cells set to zero".to_string());
    }
    Ok(TableResult {
        query: name,
        dimensions: names,
        shape: axes.iter().map(|a| a.size()).collect(),
        labels: axes.into_iter().map(|a| a.labels).collect(),
        noisy_counts: (!post.is_empty()).then_some(rel.value),
        counts,
        accuracy: rel.accuracy,
        total,
        post_processing: post,
        ledger_entries,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::tabulate::Tabulation;
    use crate::data::{CodeBook, ColumnSpec, EncodedColumn, EncodedTable};
    use crate::dp::bounding::PersonIds;

    fn column(name: &str, n: u32, codes: Vec<u32>) -> EncodedColumn {
        EncodedColumn {
            spec: ColumnSpec::integer(name, 0, i64::from(n) - 1),
            codebook: CodeBook {
                n_values: n,
                null_code: None,
                other_code: None,
            },
            codes,
        }
    }

    /// Under person-level bounding the exact table is the tabulation of the kept rows, and
    /// the released table at a huge epsilon equals it cell for cell.
    #[test]
    fn exact_table_is_the_tabulation_of_the_kept_rows() {
        let n = 4000u32;
        let table = EncodedTable::from_columns(vec![
            column("a", 5, (0..n).map(|i| (i * 7) % 5).collect()),
            column("b", 3, (0..n).map(|i| (i / 3 + i) % 3).collect()),
        ])
        .unwrap();
        let ids = PersonIds::from_ids("pid", (0..n).map(|i| i / 4).collect(), 1000).unwrap();
        let data = DpData::by_person(&table, &ids, 2, 9).unwrap();
        let kept = data.bounded().rows().expect("bounding keeps a subset");
        assert!(kept.len() < n as usize);
        let dims = vec![Dimension::Column("a".into()), Dimension::Column("b".into())];
        let (_, exact) = exact_table(&data, &dims).unwrap();
        let t =
            Tabulation::count(&table, &["a", "b"], Rows::Subset(kept), MAX_CELLS as u64).unwrap();
        assert_eq!(exact, t.counts());
        assert_eq!(t.total(), kept.len() as u64);
        let mut s = Session::pure(1e7).unwrap();
        let r = histogram(
            &mut s,
            &data,
            &HistogramQuery::new(dims, Cost::epsilon(1e6)),
        )
        .unwrap();
        let released: Vec<u64> = r.counts.iter().map(|&c| c as u64).collect();
        assert_eq!(released, t.counts());
    }
}

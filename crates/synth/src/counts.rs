//! Where a fit's exact counts come from: the rows of a table, or partitions' merged counts.
//!
//! MST reads the data only through exact counts that it then noises: each synthesised
//! column's 1-way counts and 2-way counts of pairs on compressed codes. [`CountSource`]
//! gives both, either by counting the codes of a table ([`Rows`]) or from the merged
//! partials of a partitioned table ([`MarginalCounts`], `pets::partial`), so the same fit
//! code runs on one machine and at a Spark driver. The two give the same counts (tested in
//! `crate::job`): the full-domain pair counts, mapped through the compression, are the
//! compressed counts of the rows.

use pets::data::EncodedColumn;
use pets::partial::MarginalCounts;

use crate::error::{Result, SynthError};
use crate::measure::count_mapped;

/// The exact counts a marginal-based fit measures (module docs).
pub(crate) trait CountSource: Sync {
    /// The 1-way counts of synthesised column `i`, by code.
    fn one_way(&self, i: usize) -> Vec<u64>;

    /// The 2-way counts of columns `a < b` on compressed codes (`maps[c]`: full code to
    /// compressed code of column `c`, `sizes[c]` compressed codes), row-major `(a, b)`.
    fn pair(&self, a: usize, b: usize, maps: &[Vec<u32>], sizes: &[usize]) -> Result<Vec<u64>>;
}

/// Count the codes of the synthesised columns of a table.
pub(crate) struct Rows<'a>(pub &'a [&'a EncodedColumn]);

impl CountSource for Rows<'_> {
    fn one_way(&self, i: usize) -> Vec<u64> {
        self.0[i].counts()
    }

    fn pair(&self, a: usize, b: usize, maps: &[Vec<u32>], sizes: &[usize]) -> Result<Vec<u64>> {
        Ok(count_mapped(&[
            (&self.0[a].codes, &maps[a], sizes[a]),
            (&self.0[b].codes, &maps[b], sizes[b]),
        ]))
    }
}

impl CountSource for MarginalCounts {
    fn one_way(&self, i: usize) -> Vec<u64> {
        self.one_way[i].clone()
    }

    fn pair(&self, a: usize, b: usize, maps: &[Vec<u32>], sizes: &[usize]) -> Result<Vec<u64>> {
        self.mapped_pair(a, b, (&maps[a], sizes[a]), (&maps[b], sizes[b]))
            .ok_or_else(|| {
                SynthError::invalid(
                    "partials",
                    format!("{} x {}", self.columns[a], self.columns[b]),
                    format!(
                        "the partitions did not count this pair (they count pairs of columns \
                         with at most {} codes): compute the partials with the fit's options",
                        self.max_pair_values
                    ),
                )
            })
    }
}

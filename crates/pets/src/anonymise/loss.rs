//! Information loss of a transformation: how much a release coarsens and suppresses.
//!
//! Every measure is normalised to `[0, 1]` (0: the data as they are; 1: every record
//! suppressed) so fronts and reports compare across measures. With `n` records, `m`
//! quasi-identifiers, a record `r` in group `g_j(r)` of quasi-identifier `j`, and `S` the
//! suppressed records (which count as generalised to `*` in every column):
//!
//! | measure | per record and column, kept | suppressed | reference |
//! | --- | --- | --- | --- |
//! | `loss` | `(|g| - 1) / (|D_j| - 1)`, `|g|` domain values in the group | 1 | Iyengar 2002 (ARX's "Loss") |
//! | `precision` | level / height of the hierarchy | 1 | Sweeney 2002 |
//! | `entropy` | `log2(n_g / n_v)`, counts of the group and of the record's own value | `log2(n / n_v)` | non-uniform entropy, Gionis & Tassa 2009 |
//!
//! summed over records and columns and divided by the value when everything is suppressed
//! (`n m` for the first two). Two class-based measures: **discernibility** (Bayardo &
//! Agrawal 2005) `(sum over kept classes |E|^2 + |S| n) / n^2`, and **average class size**
//! (LeFevre et al. 2006) `n / (kept classes + [S non-empty]) / n`.
//!
//! **The bound the search relies on.** For the three record measures the loss splits into
//! a part that ignores suppression, computable from each column's one-way counts alone, plus
//! `sum over suppressed records of (suppressed value - kept value)`, which is never negative.
//! The first part only grows as any column is coarsened (a group only gains values, a level
//! only rises, `n_g` only grows), so it is a lower bound of the loss of the node and of
//! every node above it. For the class measures the bound is `n^2 / cells` (discernibility:
//! by Cauchy-Schwarz over at most `cells` non-empty classes) and `1 / cells` (average class
//! size), where `cells` is the number of group combinations of the node, which shrinks as
//! any column is coarsened.

use serde::{Deserialize, Serialize};

use super::AnonymiseError;
use super::hierarchy::ColumnHierarchy;

/// How information loss is measured (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossMeasure {
    /// Generalisation loss (Iyengar 2002).
    #[default]
    Loss,
    /// Precision (Sweeney 2002): share of the hierarchy height used.
    Precision,
    /// Non-uniform entropy (Gionis & Tassa 2009).
    Entropy,
    /// Discernibility (Bayardo & Agrawal 2005).
    Discernibility,
    /// Average equivalence class size (LeFevre et al. 2006).
    AverageClassSize,
}

impl LossMeasure {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            LossMeasure::Loss => "loss",
            LossMeasure::Precision => "precision",
            LossMeasure::Entropy => "entropy",
            LossMeasure::Discernibility => "discernibility",
            LossMeasure::AverageClassSize => "average_class_size",
        }
    }
}

impl std::str::FromStr for LossMeasure {
    type Err = AnonymiseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "loss" => LossMeasure::Loss,
            "precision" => LossMeasure::Precision,
            "entropy" | "non_uniform_entropy" => LossMeasure::Entropy,
            "discernibility" => LossMeasure::Discernibility,
            "average_class_size" | "aecs" => LossMeasure::AverageClassSize,
            other => {
                return Err(AnonymiseError::Invalid {
                    column: None,
                    message: format!(
                        "unknown loss measure {other:?}; use loss, precision, entropy, \
                         discernibility or average_class_size"
                    ),
                });
            }
        })
    }
}

/// The precomputed tables of one measure over one set of hierarchies.
#[derive(Debug, Clone)]
pub(crate) struct LossModel {
    measure: LossMeasure,
    n: f64,
    /// `base[j][l]`: sum over all records of their loss in column `j` at level `l`, as if
    /// nothing were suppressed (record measures only).
    base: Vec<Vec<f64>>,
    /// `extra[j][l][g]`: what suppressing one record of group `g` adds.
    extra: Vec<Vec<Vec<f64>>>,
    /// The loss with every record suppressed (the normaliser).
    full: f64,
}

/// What a node's loss needs beyond its levels.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ClassTotals {
    /// Records kept.
    pub kept_records: u64,
    /// Classes kept.
    pub kept_classes: u64,
    /// Sum of squared kept class sizes.
    pub kept_square_sum: f64,
    /// Records suppressed.
    pub suppressed_records: u64,
    /// Sum over suppressed records of the measure's extra loss (record measures).
    pub suppressed_extra: f64,
}

impl LossModel {
    /// Tables for `measure` from the hierarchies and each column's counts per code.
    pub(crate) fn new(
        measure: LossMeasure,
        hierarchies: &[ColumnHierarchy],
        counts: &[Vec<u64>],
        n: u64,
    ) -> LossModel {
        let nf = n as f64;
        let mut base = Vec::with_capacity(hierarchies.len());
        let mut extra = Vec::with_capacity(hierarchies.len());
        let mut full = 0.0;
        for (h, counts) in hierarchies.iter().zip(counts) {
            let height = h.height() as f64;
            let domain = h.levels[0].group_values.iter().sum::<u32>() as f64;
            let own: f64 = counts
                .iter()
                .filter(|&&c| c > 0)
                .map(|&c| c as f64 * (c as f64).log2())
                .sum();
            if measure == LossMeasure::Entropy {
                full += counts
                    .iter()
                    .filter(|&&c| c > 0)
                    .map(|&c| c as f64 * (nf.log2() - (c as f64).log2()))
                    .sum::<f64>();
            } else {
                full += nf;
            }
            let mut col_base = Vec::with_capacity(h.levels.len());
            let mut col_extra = Vec::with_capacity(h.levels.len());
            for (l, level) in h.levels.iter().enumerate() {
                let mut group_counts = vec![0u64; level.labels.len()];
                for (code, &c) in counts.iter().enumerate() {
                    group_counts[level.map[code] as usize] += c;
                }
                let per_group: Vec<f64> = (0..level.labels.len())
                    .map(|g| match measure {
                        LossMeasure::Loss => {
                            let v = level.group_values[g] as f64;
                            if domain <= 1.0 || v <= 1.0 {
                                if l == h.height() { 1.0 } else { 0.0 }
                            } else {
                                (v - 1.0) / (domain - 1.0)
                            }
                        }
                        LossMeasure::Precision => l as f64 / height,
                        _ => 0.0,
                    })
                    .collect();
                let (b, e): (f64, Vec<f64>) = match measure {
                    LossMeasure::Loss | LossMeasure::Precision => (
                        group_counts
                            .iter()
                            .zip(&per_group)
                            .map(|(&c, &x)| c as f64 * x)
                            .sum(),
                        per_group.iter().map(|x| 1.0 - x).collect(),
                    ),
                    LossMeasure::Entropy => (
                        group_counts
                            .iter()
                            .filter(|&&c| c > 0)
                            .map(|&c| c as f64 * (c as f64).log2())
                            .sum::<f64>()
                            - own,
                        group_counts
                            .iter()
                            .map(|&c| {
                                if c > 0 {
                                    nf.log2() - (c as f64).log2()
                                } else {
                                    0.0
                                }
                            })
                            .collect(),
                    ),
                    _ => (0.0, vec![0.0; level.labels.len()]),
                };
                col_base.push(b);
                col_extra.push(e);
            }
            base.push(col_base);
            extra.push(col_extra);
        }
        LossModel {
            measure,
            n: nf,
            base,
            extra,
            full,
        }
    }

    /// The extra loss of suppressing one record of group `g` of column `j` at level `l`.
    #[inline]
    pub(crate) fn extra(&self, j: usize, l: usize, g: u32) -> f64 {
        self.extra[j][l][g as usize]
    }

    /// Whether the measure needs per-record extras of suppressed classes.
    pub(crate) fn uses_extras(&self) -> bool {
        matches!(
            self.measure,
            LossMeasure::Loss | LossMeasure::Precision | LossMeasure::Entropy
        )
    }

    /// A lower bound of the loss of the node at `levels` and of every coarser node (see the
    /// module documentation); `cells` is the node's number of group combinations.
    pub(crate) fn lower_bound(&self, levels: &[usize], cells: f64) -> f64 {
        match self.measure {
            LossMeasure::Discernibility => (1.0 / cells.max(1.0)).min(1.0),
            LossMeasure::AverageClassSize => (1.0 / cells.max(1.0)).min(1.0),
            _ => self.normalise(
                levels
                    .iter()
                    .enumerate()
                    .map(|(j, &l)| self.base[j][l])
                    .sum(),
            ),
        }
    }

    /// The normalised loss of a node from its levels and class totals.
    pub(crate) fn loss(&self, levels: &[usize], t: &ClassTotals) -> f64 {
        let n = self.n.max(1.0);
        match self.measure {
            LossMeasure::Discernibility => {
                (t.kept_square_sum + t.suppressed_records as f64 * n) / (n * n)
            }
            LossMeasure::AverageClassSize => {
                let classes = t.kept_classes + u64::from(t.suppressed_records > 0);
                1.0 / classes.max(1) as f64
            }
            _ => {
                let kept: f64 = levels
                    .iter()
                    .enumerate()
                    .map(|(j, &l)| self.base[j][l])
                    .sum();
                self.normalise(kept + t.suppressed_extra)
            }
        }
    }

    fn normalise(&self, raw: f64) -> f64 {
        if self.full <= 0.0 {
            0.0
        } else {
            (raw / self.full).clamp(0.0, 1.0)
        }
    }
}

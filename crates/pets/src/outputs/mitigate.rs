//! Automatic mitigation of failing cells, and what it changed.
//!
//! - [`Mitigation::Suppress`]: every failing cell is suppressed (`*`, *primary*). For counts
//!   and sums, whose margins are sums of cells, **secondary suppression** follows, by
//!   [`crate::tables`]' greedy heuristic proved by its linear-programming audit: cells are
//!   added until every primary cell's feasible count interval, given everything published,
//!   is at least `threshold` wide (for a sum, the same pattern: no suppressed cell is then a
//!   linear combination of published ones). Other statistics (mean, median, ...) are not
//!   additive, so only the failing cells are suppressed.
//! - [`Mitigation::Round`]: counts and sums rounded to the nearest multiple of `round_base`
//!   (halves up), every cell marked `rounded`, as ACRO's `round` mitigation; under the HES
//!   preset, counts 1-7 are suppressed instead and the rest rounded to 5 (the HES rule).
//!   Rounding other statistics is refused.

use serde::{Deserialize, Serialize};

use super::OutputError;
use super::job::{CheckedTable, format_value};
use super::rules::{Agg, Preset};
use crate::tables::Known;
use crate::tables::job::{GreedyInput, Layout, greedy};

/// What to do with failing cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mitigation {
    /// Report them only.
    #[default]
    None,
    /// Suppress them, with secondary suppression for counts and sums.
    Suppress,
    /// Round counts and sums.
    Round,
}

/// What a mitigation changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MitigationReport {
    /// The mitigation.
    pub method: Mitigation,
    /// Failing cells suppressed.
    pub primary: usize,
    /// Cells suppressed so that margins cannot recover the primary ones.
    pub secondary: usize,
    /// Cells rounded.
    pub rounded: usize,
    /// Whether the audit proved every primary cell protected (suppression of counts and
    /// sums; always true otherwise).
    pub protected: bool,
    /// What was done, in words.
    pub summary: String,
}

pub(super) fn mitigate(
    t: &mut CheckedTable,
    how: Mitigation,
    layout: &Layout,
    members: &[Vec<u32>],
    joint_cells: usize,
    counts: &[u64],
    exact: &[Option<f64>],
) -> Result<MitigationReport, OutputError> {
    let additive = matches!(t.agg, Agg::Count | Agg::Sum);
    match how {
        Mitigation::None => unreachable!("checked by the caller"),
        Mitigation::Round => {
            if !additive {
                return Err(OutputError::Invalid {
                    column: t.values.clone(),
                    message: format!(
                        "rounding mitigates counts and sums, not a {}; use suppression",
                        t.agg.name()
                    ),
                });
            }
            let base = t.rules.round_base as f64;
            let hes = t.rules.preset == Preset::Hes && t.agg == Agg::Count;
            let (mut rounded, mut primary) = (0, 0);
            for (c, v) in t.cells.iter_mut().zip(exact) {
                let Some(v) = v else { continue };
                if hes && (1.0..=7.0).contains(v) {
                    c.published = "*".into();
                    c.mitigated = Some("primary".into());
                    primary += 1;
                    continue;
                }
                let r = if hes {
                    crate::tables::job::round5(*v as u64) as f64
                } else {
                    (v / base + 0.5).floor() * base
                };
                c.published = format_value(t.agg, r);
                c.mitigated = Some("rounded".into());
                rounded += 1;
            }
            Ok(MitigationReport {
                method: how,
                primary,
                secondary: 0,
                rounded,
                protected: true,
                summary: if hes {
                    format!(
                        "HES rule: {primary} count(s) of 1-7 suppressed, {rounded} rounded to \
                         the nearest 5"
                    )
                } else {
                    format!(
                        "{rounded} cell(s) rounded to the nearest multiple of {}",
                        t.rules.round_base
                    )
                },
            })
        }
        Mitigation::Suppress => {
            let n = t.cells.len();
            let mut known: Vec<Known> = counts.iter().map(|&c| Known::Exact(c)).collect();
            let mut status: Vec<Option<&'static str>> = vec![None; n];
            for (i, c) in t.cells.iter().enumerate() {
                if !c.failures.is_empty() {
                    known[i] = Known::Unknown;
                    status[i] = Some("primary");
                }
            }
            let mut protected = true;
            if additive && status.iter().any(Option::is_some) {
                // Cells that are the same set of records share their fate.
                let mut same: rustc_hash::FxHashMap<&[u32], Vec<usize>> = Default::default();
                for (c, m) in members.iter().enumerate() {
                    same.entry(m.as_slice()).or_default().push(c);
                }
                let twins: Vec<Vec<usize>> = (0..n)
                    .map(|c| same[members[c].as_slice()].clone())
                    .collect();
                for c in 0..n {
                    if known[c] == Known::Unknown {
                        for &tw in &twins[c] {
                            if known[tw] != Known::Unknown {
                                known[tw] = Known::Unknown;
                                status[tw] = Some("secondary");
                            }
                        }
                    }
                }
                protected = greedy(
                    &GreedyInput {
                        joint_cells,
                        members,
                        values: counts,
                        twins: &twins,
                        layouts: std::slice::from_ref(layout),
                        protection: t.rules.threshold,
                    },
                    &mut known,
                    &mut status,
                    &mut t.warnings,
                )
                .map_err(OutputError::from_table)?;
            }
            let (mut primary, mut secondary) = (0, 0);
            for (c, s) in t.cells.iter_mut().zip(&status) {
                if let Some(s) = s {
                    if *s == "primary" {
                        primary += 1;
                    } else {
                        secondary += 1;
                    }
                    c.published = "*".into();
                    c.mitigated = Some((*s).to_string());
                }
            }
            let summary = if additive {
                format!(
                    "{primary} failing cell(s) suppressed and {secondary} more so that the \
                     margins cannot recover them{}",
                    if protected {
                        format!(
                            " (audit: every suppressed failing cell lies in an interval at \
                             least {} wide)",
                            t.rules.threshold
                        )
                    } else {
                        "; NOT fully protected: some cannot be protected".into()
                    }
                )
            } else {
                format!(
                    "{primary} failing cell(s) suppressed (a {} is not additive: no \
                     secondary suppression needed)",
                    t.agg.name()
                )
            };
            Ok(MitigationReport {
                method: how,
                primary,
                secondary,
                rounded: 0,
                protected,
                summary,
            })
        }
    }
}

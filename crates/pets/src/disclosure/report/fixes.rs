//! Fixes: changes that would reduce the risk, each with its effect simulated on the classes
//! alone (no second pass over the records): suppressing the records in classes under k,
//! dropping a quasi-identifier and banding an ordered one into wider intervals (the
//! generalisation of Sweeney 2002 and of full-domain recoding, LeFevre et al. 2005). The
//! last two regroup the classes under the changed view (sorted runs and dense counters,
//! `classes::regroup`), one pass over the classes each.

use super::super::classes::{EquivalenceClasses, Recode};
use super::super::config::RiskConfig;
use super::super::k_anonymity::KAnonymity;
use super::prose::{pct, thousands};
use super::{Fix, ReportError};

pub(super) fn suppression_fix(k: &KAnonymity) -> Option<Fix> {
    (k.records_under_k > 0).then(|| Fix {
        action: format!(
            "Suppress (remove) the {} records ({}) in groups smaller than {}",
            thousands(k.records_under_k),
            pct(k.records_under_k, k.n_records),
            k.threshold
        ),
        kind: "suppress".into(),
        column: None,
        records_under_k_after: 0,
        k_after: k
            .size_frequencies
            .iter()
            .find(|f| f.0 >= k.threshold)
            .map_or(0, |f| f.0),
        records_removed: k.records_under_k,
    })
}

/// Simulate dropping each quasi-identifier and banding each ordered one.
pub(super) fn what_if(
    classes: &EquivalenceClasses,
    config: &RiskConfig,
    k: &KAnonymity,
) -> Result<Vec<Fix>, ReportError> {
    let mut fixes: Vec<Fix> = suppression_fix(k).into_iter().collect();
    if k.records_under_k == 0 {
        return Ok(fixes);
    }
    let width = classes.layout().width();
    let qis = &classes.layout().quasi_identifiers;
    enum Plan {
        Drop(usize),
        Band(usize, u32),
    }
    let mut plans = Vec::new();
    for (j, col) in qis.iter().enumerate() {
        if width > 1 {
            plans.push(Plan::Drop(j));
        }
        if col.ordered {
            let widths: &[u32] = if col.kind == "date" || col.kind == "datetime" {
                &[7, 30, 91]
            } else {
                &[2, 5, 10]
            };
            for &w in widths {
                if w < col.n_values {
                    plans.push(Plan::Band(j, w));
                }
            }
        }
    }
    let kt = config.k;
    let mut sims = Vec::with_capacity(plans.len());
    for plan in &plans {
        let (counts, action, kind, j) = match *plan {
            Plan::Drop(j) => {
                let mut recode = vec![Recode::Keep; width];
                recode[j] = Recode::Drop;
                (
                    classes.view_size_counts(&recode, None),
                    format!("Remove {} from the extract", qis[j].name),
                    "drop",
                    j,
                )
            }
            Plan::Band(j, w) => {
                let col = &qis[j];
                let nv = col.n_values;
                let bands = nv.div_ceil(w);
                // codes below n_values are values in order; null and other codes follow them
                let map: Vec<u32> = (0..col.cardinality)
                    .map(|c| if c < nv { c / w } else { bands + (c - nv) })
                    .collect();
                let mut recode = vec![Recode::Keep; width];
                recode[j] = Recode::Map {
                    map: &map,
                    cardinality: bands + (col.cardinality - nv),
                };
                let unit = match (col.kind.as_str(), w) {
                    ("date" | "datetime", 7) => "weeks".to_string(),
                    ("date" | "datetime", 30) => "months (30-day periods)".to_string(),
                    ("date" | "datetime", 91) => "quarters (91-day periods)".to_string(),
                    _ => format!("bands of {w} values"),
                };
                (
                    classes.view_size_counts(&recode, None),
                    format!("Generalise {} into {unit}", col.name),
                    "band",
                    j,
                )
            }
        };
        let under: u64 = counts
            .iter()
            .filter(|&&(f, _)| f < kt)
            .map(|&(f, c)| f * c)
            .sum();
        sims.push(Fix {
            action,
            kind: kind.into(),
            column: Some(qis[j].name.clone()),
            records_under_k_after: under,
            k_after: counts.first().map_or(0, |&(f, _)| f),
            records_removed: 0,
        });
    }
    // most effective first; among equals prefer banding (keeps more information)
    sims.sort_by(|a, b| {
        a.records_under_k_after
            .cmp(&b.records_under_k_after)
            .then((a.kind == "drop").cmp(&(b.kind == "drop")))
    });
    fixes.extend(sims);
    Ok(fixes)
}

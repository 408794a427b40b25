//! Fixes: changes that would reduce the risk, each with its effect simulated on the classes
//! alone (no second pass over the records): suppressing the records in classes under k,
//! dropping a quasi-identifier ([`EquivalenceClasses::sizes_after`] on the projection) and
//! banding an ordered one into wider intervals (the generalisation of Sweeney 2002 and of
//! full-domain recoding, LeFevre et al. 2005).

use rayon::prelude::*;

use super::super::classes::EquivalenceClasses;
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
    let results: Vec<Result<Fix, ReportError>> = plans
        .par_iter()
        .map(|plan| {
            let (sizes, action, kind, j) = match *plan {
                Plan::Drop(j) => {
                    let keep: Vec<usize> = (0..width).filter(|&i| i != j).collect();
                    let cols = keep.iter().map(|&i| qis[i].clone()).collect();
                    let sizes = classes.sizes_after(cols, |src, dst| {
                        for (d, &p) in dst.iter_mut().zip(&keep) {
                            *d = src[p];
                        }
                    });
                    (
                        sizes,
                        format!("Remove {} from the extract", qis[j].name),
                        "drop",
                        j,
                    )
                }
                Plan::Band(j, w) => {
                    let col = &qis[j];
                    let nv = col.n_values;
                    let bands = nv.div_ceil(w);
                    let mut cols = qis.clone();
                    cols[j].cardinality = bands + (col.cardinality - nv);
                    cols[j].n_values = bands;
                    let sizes = classes.sizes_after(cols, |src, dst| {
                        dst.copy_from_slice(src);
                        let c = src[j];
                        dst[j] = if c < nv { c / w } else { bands + (c - nv) };
                    });
                    let unit = match (col.kind.as_str(), w) {
                        ("date" | "datetime", 7) => "weeks".to_string(),
                        ("date" | "datetime", 30) => "months (30-day periods)".to_string(),
                        ("date" | "datetime", 91) => "quarters (91-day periods)".to_string(),
                        _ => format!("bands of {w} values"),
                    };
                    (
                        sizes,
                        format!("Generalise {} into {unit}", col.name),
                        "band",
                        j,
                    )
                }
            };
            let (mut under, mut min) = (0u64, u64::MAX);
            for &f in &sizes {
                min = min.min(f);
                if f < kt {
                    under += f;
                }
            }
            Ok(Fix {
                action,
                kind: kind.into(),
                column: Some(qis[j].name.clone()),
                records_under_k_after: under,
                k_after: if min == u64::MAX { 0 } else { min },
                records_removed: 0,
            })
        })
        .collect();
    let mut sims = Vec::with_capacity(results.len());
    for r in results {
        sims.push(r?);
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

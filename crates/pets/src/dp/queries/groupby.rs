//! Group-by counts with keys not known in advance: the stability histogram (Korolova et al.
//! 2009; Bun, Nissim & Stemmer 2016), via OpenDP's thresholded noise (Rogers 2023).
//!
//! Only the key combinations present in the (bounded) data are counted; each gets integer
//! noise and is released only if its noisy count reaches a threshold `T`. Keys absent from
//! the data are never released, so this works for large or unknown domains (LSOA x
//! complaint, free-text keys) where a full table would be mostly empty. The price is `delta`:
//! the chance that a key held by one person survives the threshold. A person with at most
//! `m` rows touches at most `m` keys (l0), adds at most `m` in total (l1, and l2 in the worst
//! case) and at most `m` to one key (linf). `T` is the smallest threshold meeting the
//! query's delta.
//!
//! Under a zCDP budget with Laplace noise the release is `(epsilon, delta)`-DP with
//! `epsilon^2 / 2 <= rho` and is charged as delta-approximate `epsilon^2 / 2`-zCDP
//! ([`crate::dp::budget`]; proof in `dp/proofs/approx_dp_to_zcdp.md`); with Gaussian noise
//! OpenDP's map gives delta-approximate rho-zCDP directly.
//!
//! **Order.** Everything that can fail (the dimensions, the key space, the keys' length, the
//! threshold's calibration and the measurement's construction) is checked before the
//! session charges; the counts are exact integers and the noisy release cannot fail on them.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::dp::accuracy::Accuracy;
use crate::dp::bounding::RowKeys;
use crate::dp::budget::{Cost, PrivacyMeasure};
use crate::dp::error::{DpError, Result};
use crate::dp::mechanisms::{NoiseFamily, ThresholdNoise, ThresholdedCounts, laplace_epsilon_for};
use crate::dp::queries::dims::{Axis, axis};
use crate::dp::queries::{Dimension, DpData, check_share};
use crate::dp::session::Session;

/// A group-by count query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupByQuery {
    /// Grouping dimensions.
    pub dimensions: Vec<Dimension>,
    /// Share of the budget; needs `delta > 0`.
    pub share: Cost,
    /// Noise family.
    #[serde(default)]
    pub noise: NoiseFamily,
}

/// One released group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Label of each dimension.
    pub key: Vec<String>,
    /// Noisy count (at least the threshold).
    pub count: i64,
}

/// Released groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupResult {
    /// The query.
    pub query: String,
    /// Grouping dimensions.
    pub dimensions: Vec<String>,
    /// Groups whose noisy count reached the threshold, by key.
    pub groups: Vec<Group>,
    /// The threshold.
    pub threshold: i64,
    /// Accuracy of each released count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<Accuracy>,
    /// Ledger entries.
    pub ledger_entries: Vec<usize>,
    /// Warnings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn threshold_mech(
    measure: PrivacyMeasure,
    noise: NoiseFamily,
    share: &Cost,
    m: f64,
    m_u32: u32,
) -> Result<ThresholdedCounts> {
    match noise.resolve(measure)? {
        NoiseFamily::Gaussian => {
            ThresholdedCounts::for_cost(ThresholdNoise::Gaussian, m_u32, m, m, share)
        }
        _ => {
            let eps = laplace_epsilon_for(share)?;
            ThresholdedCounts::for_cost(
                ThresholdNoise::Laplace,
                m_u32,
                m,
                m,
                &Cost::epsilon(eps).with_delta(share.delta()),
            )
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn release_groups(
    session: &mut Session,
    data: &DpData<'_>,
    name: String,
    dims: Vec<String>,
    columns: Vec<String>,
    share: &Cost,
    noise: NoiseFamily,
    exact: Vec<(u64, i64)>,
    label: impl Fn(u64) -> Vec<String>,
) -> Result<GroupResult> {
    let m_u32 = data.bounded().max_rows_per_person();
    let mech = threshold_mech(session.measure(), noise, share, data.m(), m_u32)?;
    let record = data.record(name.clone(), &columns);
    let warnings = record.warnings.clone();
    let rel = session.release(&mech, &exact, record)?;
    Ok(GroupResult {
        query: name,
        dimensions: dims,
        groups: rel
            .value
            .iter()
            .map(|&(k, c)| Group {
                key: label(k),
                count: c,
            })
            .collect(),
        threshold: mech.threshold(),
        accuracy: rel.accuracy,
        ledger_entries: vec![rel.ledger_index],
        warnings,
    })
}

/// Count the kept rows by the combination of `dims` and release the groups above threshold.
pub fn group_by(session: &mut Session, data: &DpData<'_>, q: &GroupByQuery) -> Result<GroupResult> {
    let names: Vec<String> = q.dimensions.iter().map(|d| d.to_string()).collect();
    let name = format!("group_by({})", names.join(", "));
    check_share(session, &name, &q.share)?;
    if q.dimensions.is_empty() {
        return Err(DpError::query(name, "give at least one dimension"));
    }
    let axes: Vec<Axis<'_>> = q
        .dimensions
        .iter()
        .map(|d| axis(data, d))
        .collect::<Result<_>>()?;
    let mut strides = vec![1u64; axes.len()];
    for i in (0..axes.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1]
            .checked_mul(axes[i + 1].size() as u64)
            .ok_or_else(|| DpError::query(name.clone(), "too many key combinations"))?;
    }
    let counts = data.bounded().par_fold(
        FxHashMap::<u64, i64>::default,
        |mut acc, r| {
            let k: u64 = axes
                .iter()
                .zip(&strides)
                .map(|(a, s)| a.cell(r) as u64 * s)
                .sum();
            *acc.entry(k).or_default() += 1;
            acc
        },
        |mut a, b| {
            for (k, v) in b {
                *a.entry(k).or_default() += v;
            }
            a
        },
    );
    let exact: Vec<(u64, i64)> = counts.into_iter().collect();
    let mut columns: Vec<String> = q
        .dimensions
        .iter()
        .map(|d| d.column().to_string())
        .collect();
    columns.dedup();
    let label = |k: u64| {
        axes.iter()
            .zip(&strides)
            .map(|(a, s)| a.labels[((k / s) % a.size() as u64) as usize].clone())
            .collect()
    };
    release_groups(
        session,
        data,
        name,
        names.clone(),
        columns,
        &q.share,
        q.noise,
        exact,
        label,
    )
}

/// Group by keys read from a column with no public domain (e.g. a text column), given as
/// [`RowKeys`] with labels, aligned with the table's rows.
pub fn group_by_keys(
    session: &mut Session,
    data: &DpData<'_>,
    keys: &RowKeys,
    share: &Cost,
    noise: NoiseFamily,
) -> Result<GroupResult> {
    let name = format!("group_by({})", keys.column());
    check_share(session, &name, share)?;
    let Some(labels) = keys.labels() else {
        return Err(DpError::query(
            name,
            "the keys were read without labels; read them with keep_labels = true",
        ));
    };
    if keys.len() != data.bounded().n_rows() {
        return Err(DpError::query(
            name,
            format!("{} keys for {} rows", keys.len(), data.bounded().n_rows()),
        ));
    }
    let ids = keys.ids();
    let counts = data.bounded().par_fold(
        FxHashMap::<u64, i64>::default,
        |mut acc, r| {
            *acc.entry(u64::from(ids[r])).or_default() += 1;
            acc
        },
        |mut a, b| {
            for (k, v) in b {
                *a.entry(k).or_default() += v;
            }
            a
        },
    );
    let exact: Vec<(u64, i64)> = counts.into_iter().collect();
    let col = keys.column().to_string();
    // Sorted by label: the keys' internal order follows first appearance in the data,
    // which must not show in the release.
    release_groups(
        session,
        data,
        name,
        vec![col.clone()],
        vec![col],
        share,
        noise,
        exact,
        |k| vec![labels[k as usize].clone()],
    )
    .map(|mut r| {
        r.groups.sort_by(|a, b| a.key.cmp(&b.key));
        r
    })
}

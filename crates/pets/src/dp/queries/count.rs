//! The number of rows (after contribution bounding), with integer noise.
//!
//! Sensitivity: adding or removing one person changes the count by at most `m` (their kept
//! rows), in L1 and L2. Under an epsilon budget the noise is discrete Laplace with
//! `b = m / epsilon` (Dwork et al. 2006; Ghosh et al. 2009); under zCDP discrete Gaussian
//! with `sigma = m / sqrt(2 rho)` (Canonne, Kamath & Steinke 2020).

use crate::dp::accuracy::Interval;
use crate::dp::budget::Cost;
use crate::dp::error::Result;
use crate::dp::mechanisms::NoiseFamily;
use crate::dp::queries::{CountNoise, DpData, ScalarResult, check_share};
use crate::dp::session::Session;

/// Release the number of rows kept, spending `share`.
pub fn count(
    session: &mut Session,
    data: &DpData<'_>,
    share: &Cost,
    noise: NoiseFamily,
) -> Result<ScalarResult> {
    count_with(session, data, share, noise, None)
}

/// [`count`], with the exact count of rows taken elsewhere when `merged` is given (the sum
/// of partitions' counts): `data` then only gives the bound `m` and the ledger record, and
/// the noise is drawn once, here.
pub(crate) fn count_with(
    session: &mut Session,
    data: &DpData<'_>,
    share: &Cost,
    noise: NoiseFamily,
    merged: Option<u64>,
) -> Result<ScalarResult> {
    check_share(session, "count", share)?;
    let m = data.m();
    let exact = merged.unwrap_or(data.bounded().n_selected() as u64) as i64;
    let mech = CountNoise::for_share(session.measure(), noise, share, m, m)?;
    let record = data.record("count", &[]);
    let warnings = record.warnings.clone();
    let rel = mech.release(session, &[exact], record)?;
    let value = rel.value[0] as f64;
    let a = rel.accuracy.as_ref().map_or(0.0, |a| a.half_width);
    Ok(ScalarResult {
        query: "count".into(),
        value,
        interval: Some(Interval::around(value, a, session.alpha())),
        accuracy: rel.accuracy,
        ledger_entries: vec![rel.ledger_index],
        warnings,
    })
}

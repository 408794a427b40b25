//! Federated aggregation (`pets::federated`): one federated DP release over several trusts'
//! tables, as `pets federated simulate` runs it, every party in this process.
//!
//! [`federated_simulate`] parses its arguments (each trust's table as Arrow, zero-copy, or a
//! file path; or one table split by a column) and runs the core's [`FederatedJob`] with the
//! interpreter detached; it returns the release and its ledger as JSON.

use std::collections::BTreeMap;

use pyo3::prelude::*;

use pets::data::Schema;
use pets::dp::{ChargeRecord, Cost, Session};
use pets::federated::{FederatedJob, FederatedQuery, Protocol, TrustTables, simulation_trusts};

use crate::anonymise::path_or_table;
use crate::errors::{DualError, IntoPyResult, Kind, error_of};

/// Run one federated DP release; returns `{"release": ..., "ledger": ...}` as JSON, exactly
/// as `pets federated simulate --json` writes it.
#[pyfunction]
#[pyo3(signature = (trusts, schema_json, tables, rho, protocol = "secagg", threshold = None,
                    colluders = 0, person_id = None, max_rows_per_person = 1,
                    max_trusts_per_person = None, max_count = None, drops = BTreeMap::new(),
                    alpha = 0.05, seed = 0, data = None, split_by = None, groups = None,
                    budget = None, values = Vec::new()))]
#[allow(clippy::too_many_arguments)] // the Python signature, one keyword each
pub fn federated_simulate(
    py: Python<'_>,
    trusts: Vec<(String, Bound<'_, PyAny>)>,
    schema_json: &str,
    tables: Vec<Vec<String>>,
    rho: f64,
    protocol: &str,
    threshold: Option<usize>,
    colluders: usize,
    person_id: Option<String>,
    max_rows_per_person: u32,
    max_trusts_per_person: Option<u32>,
    max_count: Option<u64>,
    drops: BTreeMap<String, String>,
    alpha: f64,
    seed: u64,
    data: Option<Bound<'_, PyAny>>,
    split_by: Option<String>,
    groups: Option<usize>,
    budget: Option<String>,
    values: Vec<String>,
) -> PyResult<String> {
    let schema = Schema::from_json(schema_json).py_err(py)?;
    let usage = |msg: String| error_of(py, Kind::Dual(DualError::InvalidParameter), &msg, None);
    let tables_from = match (data, split_by) {
        (Some(d), Some(column)) if trusts.is_empty() => TrustTables::Split {
            source: path_or_table(&d)?,
            column,
            groups,
        },
        (None, None) if !trusts.is_empty() => TrustTables::Own(
            trusts
                .iter()
                .map(|(name, t)| Ok((name.clone(), path_or_table(t)?)))
                .collect::<PyResult<_>>()?,
        ),
        _ => {
            return Err(usage(
                "give trusts (a mapping of trust name to table or path), or data with split_by"
                    .into(),
            ));
        }
    };
    let drops: Vec<(String, String)> = drops.into_iter().collect();
    let inputs = py
        .detach(|| simulation_trusts(tables_from, &schema, person_id.as_deref(), &drops))
        .py_err(py)?;
    let job = FederatedJob::new(FederatedQuery::from_specs(&tables, &values).py_err(py)?)
        .protocol(protocol.parse::<Protocol>().py_err(py)?)
        .share(Cost::rho(rho))
        .threshold_opt(threshold)
        .colluders(colluders)
        .max_rows_per_person(max_rows_per_person)
        .max_trusts_per_person_opt(max_trusts_per_person)
        .max_count_opt(max_count)
        .alpha(alpha)
        .seed(seed)
        .budget_file(
            budget.map(Into::into),
            ChargeRecord::new("pets.federated.simulate"),
        );
    let mut session = Session::zcdp(rho).py_err(py)?;
    let release = py
        .detach(|| job.run(&mut session, &schema, &inputs))
        .py_err(py)?;
    let value = serde_json::json!({ "release": release, "ledger": session.ledger() });
    serde_json::to_string(&value)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}

/// Register the federated functions.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(federated_simulate, m)?)?;
    Ok(())
}

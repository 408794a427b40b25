//! Job-level tests: the federated sum before noise is the pooled table, cell for cell, for
//! both protocols and under dropouts; bad trusts and budgets fail cleanly; the noise has the
//! planned spread.

use arrow_array::RecordBatch;
use pets_datasets::ae::{AeConfig, AeGenerator, ae_schema_for};

use super::job::{DropPoint, local_aggregates, run_prio, run_secagg};
use super::*;
use crate::data::{Schema, TableSource};
use crate::dp::queries::histogram::exact_table;
use crate::dp::{Cost, DpTable, Session};

fn ae(rows: u64) -> (Schema, Vec<RecordBatch>) {
    let cfg = AeConfig::new(rows, 5).with_batch_rows(2_000);
    let schema = Schema::from_json(&ae_schema_for(&cfg).to_json()).unwrap();
    let batches: Vec<_> = AeGenerator::new(cfg).unwrap().collect();
    (schema, batches)
}

/// Trusts holding disjoint slices of the batches.
fn trusts(batches: &[RecordBatch], n: usize) -> Vec<TrustInput> {
    let schema = batches[0].schema();
    (0..n)
        .map(|i| {
            let mine: Vec<RecordBatch> = batches.iter().skip(i).step_by(n).cloned().collect();
            TrustInput::new(
                format!("trust_{i}"),
                TableSource::batches(format!("trust_{i}"), schema.clone(), mine),
            )
        })
        .collect()
}

fn pooled(
    schema: &Schema,
    batches: &[RecordBatch],
    query: &FederatedQuery,
    person: Option<&str>,
    m: u32,
) -> Vec<i64> {
    let source = TableSource::batches("pooled", batches[0].schema(), batches.to_vec());
    let input = DpTable::load(source, schema)
        .person_id_opt(person.map(str::to_string), m)
        .read(&query.columns(), &[])
        .unwrap();
    let mut out = Vec::new();
    for dims in &query.tables {
        if dims.is_empty() {
            out.push(input.data.bounded().n_rows() as i64);
        } else {
            let (_, counts) = exact_table(&input.data, dims).unwrap();
            out.extend(counts.iter().map(|&c| c as i64));
        }
    }
    out
}

#[test]
fn before_noise_the_federated_sum_is_the_pooled_table_for_both_protocols() {
    let (schema, batches) = ae(12_000);
    let query = FederatedQuery::marginals(&[
        vec!["age_band".into(), "hour(arrival_datetime)".into()],
        vec!["provider_code".into()],
        vec![],
    ])
    .unwrap();
    let expected = pooled(&schema, &batches, &query, None, 1);
    let ts = trusts(&batches, 4);
    let job = FederatedJob::new(query.clone());
    let locals = local_aggregates(&job, &schema, &ts).unwrap();
    let (sum, report) = run_secagg(&ts, &locals, None, 3).unwrap();
    assert_eq!(sum, expected);
    assert_eq!(report.counted.len(), 4);
    let (sum, report) = run_prio(&ts, &locals, None, 1 << 20).unwrap();
    assert_eq!(sum, expected);
    assert_eq!(report.counted.len(), 4);
    // With a person id and a bound no one reaches, bounding keeps every row: still equal.
    let job = FederatedJob::new(query.clone()).max_rows_per_person(10_000);
    let ts: Vec<TrustInput> = ts.into_iter().map(|t| t.person_id("nhs_number")).collect();
    let locals = local_aggregates(&job, &schema, &ts).unwrap();
    let (sum, _) = run_secagg(&ts, &locals, None, 3).unwrap();
    assert_eq!(
        sum,
        pooled(&schema, &batches, &query, Some("nhs_number"), 10_000)
    );
}

#[test]
fn a_trust_that_drops_before_its_masked_input_is_left_out_exactly() {
    let (schema, batches) = ae(6_000);
    let query = FederatedQuery::histogram(&["sex"]).unwrap();
    let mut ts = trusts(&batches, 3);
    ts[1] = ts[1].clone().drop_at(DropPoint::BeforeMasked);
    let job = FederatedJob::new(query.clone());
    let locals = local_aggregates(&job, &schema, &ts).unwrap();
    let (sum, report) = run_secagg(&ts, &locals, None, 2).unwrap();
    let kept: Vec<RecordBatch> = batches
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 1)
        .map(|(_, b)| b.clone())
        .collect();
    assert_eq!(sum, pooled(&schema, &kept, &query, None, 1));
    assert_eq!(report.counted, vec!["trust_0", "trust_2"]);
    assert_eq!(
        report.dropped,
        vec![("trust_1".to_string(), DropPoint::BeforeMasked)]
    );
    // One that drops after sending it is counted.
    let mut ts = trusts(&batches, 3);
    ts[2] = ts[2].clone().drop_at(DropPoint::BeforeUnmask);
    let (sum, _) = run_secagg(&ts, &locals, None, 2).unwrap();
    assert_eq!(sum, pooled(&schema, &batches, &query, None, 1));
}

#[test]
fn the_job_releases_noisy_tables_charges_once_and_reports_the_round() {
    let (schema, batches) = ae(8_000);
    let query = FederatedQuery::histogram(&["age_band", "sex"]).unwrap();
    let exact = pooled(&schema, &batches, &query, None, 1);
    for protocol in [Protocol::SecAgg, Protocol::Prio3] {
        let mut session = Session::zcdp(1.0).unwrap();
        let job = FederatedJob::new(query.clone())
            .protocol(protocol)
            .share(Cost::rho(0.5))
            .max_trusts_per_person(1);
        let out = job
            .run(&mut session, &schema, &trusts(&batches, 3))
            .unwrap();
        assert_eq!(session.entries().len(), 1);
        assert!(out.cost.main() <= 0.5 + 1e-12);
        assert_eq!(out.tables.len(), 1);
        let noisy = &out.tables[0].counts;
        assert_eq!(noisy.len(), exact.len());
        let within = noisy
            .iter()
            .zip(&exact)
            .filter(|(a, b)| ((**a - **b) as f64).abs() <= out.accuracy.half_width)
            .count();
        assert!(
            within as f64 >= 0.8 * exact.len() as f64,
            "{protocol:?}: {within}/{}",
            exact.len()
        );
        assert!(out.round.bytes_from_trusts > out.round.plaintext_bytes / 2);
        assert_eq!(out.round.counted.len(), 3);
        assert!(
            out.warnings
                .iter()
                .any(|w| w.kind == crate::WarningKind::RowLevelPrivacy),
            "{:?}",
            out.warnings
        );
    }
}

#[test]
fn the_noise_in_the_sum_has_the_planned_spread() {
    // Many cells of one table: the released minus the exact counts, over 2 trusts.
    let (schema, batches) = ae(4_000);
    let query = FederatedQuery::histogram(&["lsoa"]).unwrap();
    let exact = pooled(&schema, &batches, &query, None, 1);
    let mut session = Session::zcdp(1.0).unwrap();
    let out = FederatedJob::new(query)
        .share(Cost::rho(0.02))
        .run(&mut session, &schema, &trusts(&batches, 2))
        .unwrap();
    let diffs: Vec<f64> = out.tables[0]
        .counts
        .iter()
        .zip(&exact)
        .map(|(a, b)| (*a - *b) as f64)
        .collect();
    let n = diffs.len() as f64;
    let mean = diffs.iter().sum::<f64>() / n;
    let var = diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n;
    let planned = out.noise.total_scale.powi(2);
    assert!(n > 500.0, "{n} cells");
    assert!(mean.abs() < 4.0 * (planned / n).sqrt(), "mean {mean}");
    assert!(
        (var / planned - 1.0).abs() < 0.2,
        "variance {var} vs {planned}"
    );
    // 2 trusts, threshold 2: both shares are needed, no over-provision.
    assert_eq!(out.noise.over_provision, 1.0);
}

#[test]
fn bad_options_trusts_and_budgets_fail_before_anything_is_drawn() {
    let (schema, batches) = ae(6_000);
    let query = FederatedQuery::histogram(&["sex"]).unwrap();
    let ts = trusts(&batches, 3);
    let mut session = Session::zcdp(0.1).unwrap();
    // Over budget: refused, nothing charged.
    let e = FederatedJob::new(query.clone())
        .share(Cost::rho(0.2))
        .run(&mut session, &schema, &ts)
        .unwrap_err();
    assert_eq!(crate::Classify::kind(&e), crate::ErrorKind::Budget, "{e}");
    assert!(session.entries().is_empty());
    // An epsilon share: refused with what to give.
    let e = FederatedJob::new(query.clone())
        .share(Cost::epsilon(0.1))
        .run(&mut session, &schema, &ts)
        .unwrap_err();
    assert!(e.to_string().contains("give the share as rho"), "{e}");
    // A threshold that is not a majority.
    let e = FederatedJob::new(query.clone())
        .threshold(1)
        .run(&mut session, &schema, &ts)
        .unwrap_err();
    assert!(e.to_string().contains("strict majority"), "{e}");
    // A trust whose schema declares the column differently.
    let other = Schema::from_json(
        r#"{"columns": [{"name": "sex", "kind": "categorical", "values": ["1", "2", "9", "U"]}]}"#,
    )
    .unwrap();
    {
        let mut ts2 = ts.clone();
        ts2[1] = ts2[1].clone().schema(other);
        let e = FederatedJob::new(query.clone())
            .run(&mut session, &schema, &ts2)
            .unwrap_err();
        assert!(
            e.to_string().contains("trust_1") && e.to_string().contains("differently"),
            "{e}"
        );
    }
    // An unknown column names the trust.
    let q = FederatedQuery::histogram(&["no_such_column"]).unwrap();
    let e = FederatedJob::new(q)
        .run(&mut session, &schema, &ts)
        .unwrap_err();
    assert!(e.to_string().contains("no_such_column"), "{e}");
    // Too few trusts survive: the round aborts; the budget was charged (noise was drawn).
    let mut ts3 = ts.clone();
    ts3[0] = ts3[0].clone().drop_at(DropPoint::BeforeShares);
    ts3[1] = ts3[1].clone().drop_at(DropPoint::BeforeShares);
    let e = FederatedJob::new(query)
        .share(Cost::rho(0.05))
        .run(&mut session, &schema, &ts3)
        .unwrap_err();
    assert!(matches!(e, FederatedError::Aborted { .. }), "{e}");
    assert!(session.entries().len() <= 1);
}

#[test]
fn a_federation_mixing_person_and_row_level_trusts_is_charged_at_the_person_bound() {
    let (schema, batches) = ae(6_000);
    let query = FederatedQuery::histogram(&["sex"]).unwrap();
    let mut ts = trusts(&batches, 3);
    ts[0] = ts[0].clone().person_id("nhs_number");
    let mut session = Session::zcdp(1.0).unwrap();
    let out = FederatedJob::new(query)
        .max_rows_per_person(4)
        .share(Cost::rho(0.5))
        .run(&mut session, &schema, &ts)
        .unwrap();
    assert_eq!(out.noise.l2_squared, 16.0);
    assert_eq!(out.contribution.max_rows_per_person, 4);
    assert_eq!(out.contribution.unit, crate::dp::PrivacyUnit::Row);
}

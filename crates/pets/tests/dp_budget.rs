//! Budgets, the ledger, and bad input: every refusal is clear and spends nothing.

mod dp_common;

use dp_common::*;
use pets::dp::budget::Cost;
use pets::dp::ledger::{Contribution, Ledger, PrivacyUnit};
use pets::dp::mechanisms::{DiscreteLaplace, Laplace, NoiseFamily};
use pets::dp::queries::groupby::{GroupByQuery, group_by};
use pets::dp::queries::histogram::{HistogramQuery, histogram};
use pets::dp::queries::moments::{NumericQuery, mean, sum};
use pets::dp::queries::{Dimension, DpData, count::count};
use pets::dp::{DpError, Session};

#[test]
fn bad_budgets_are_refused() {
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, -0.0] {
        let e = Session::pure(bad).unwrap_err();
        assert!(matches!(e, DpError::InvalidParameter { .. }), "{bad}: {e}");
        assert!(e.to_string().contains("epsilon"), "{e}");
        assert!(Session::zcdp(bad).is_err());
    }
    let e = Session::new(Cost::epsilon(1.0).with_delta(1.0)).unwrap_err();
    assert!(e.to_string().contains("delta"), "{e}");
    assert!(Session::pure(1.0).unwrap().with_alpha(1.5).is_err());
}

#[test]
fn overspending_is_refused_and_nothing_is_drawn() {
    let ae = ae(5_000, 11);
    let data = DpData::by_person(&ae.table, &ae.ids, 2, 1).unwrap();
    let mut s = Session::pure(1.0).unwrap();
    count(&mut s, &data, &Cost::epsilon(0.75), NoiseFamily::Auto).unwrap();
    let before = s.ledger();
    let e = count(&mut s, &data, &Cost::epsilon(0.5), NoiseFamily::Auto).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DpError::OverBudget { .. }), "{msg}");
    assert!(msg.contains("asks for epsilon = 0.5"), "{msg}");
    assert!(msg.contains("only epsilon = 0.25 is left"), "{msg}");
    assert_eq!(s.ledger(), before, "a refused query must leave no trace");
    // The rest can still be spent, exactly.
    count(&mut s, &data, &Cost::epsilon(0.25), NoiseFamily::Auto).unwrap();
    assert_eq!(s.remaining(), Cost::epsilon(0.0));
    // A mechanism used directly through the session is refused the same way.
    let m = DiscreteLaplace::new(1.0, 1.0).unwrap();
    let e = s.release(&m, &[5], record("direct")).unwrap_err();
    assert!(matches!(e, DpError::OverBudget { .. }));
}

#[test]
fn ledger_adds_up_and_serialises() {
    let ae = ae(5_000, 12);
    let data = DpData::by_person(&ae.table, &ae.ids, 3, 1).unwrap();
    let mut s = Session::pure(2.0).unwrap();
    count(&mut s, &data, &Cost::epsilon(0.3), NoiseFamily::Auto).unwrap();
    mean(
        &mut s,
        &data,
        &NumericQuery::new("age", 0.0, 110.0, Cost::epsilon(0.7)),
    )
    .unwrap();
    histogram(
        &mut s,
        &data,
        &HistogramQuery::new(vec![Dimension::Column("sex".into())], Cost::epsilon(0.1)),
    )
    .unwrap();
    let ledger = s.ledger();
    assert_eq!(ledger.entries.len(), 4, "mean releases a sum and a count");
    let charged: Vec<Cost> = ledger.entries.iter().map(|e| e.charged).collect();
    assert!(s.accountant().spent_equals_sum_of(&charged).unwrap());
    assert!(charged.iter().map(|c| c.main()).sum::<f64>() <= 1.1 + 1e-12);
    for e in &ledger.entries {
        assert_eq!(e.contribution.unit, PrivacyUnit::Person);
        assert_eq!(e.contribution.id_column.as_deref(), Some("nhs_number"));
        assert_eq!(e.contribution.max_rows_per_person, 3);
        assert!(e.mechanism.scale > 0.0 && e.mechanism.sensitivity.value > 0.0);
        assert!(e.accuracy.is_some());
    }
    assert_eq!(ledger.entries[0].mechanism.sensitivity.value, 3.0);
    let json = ledger.to_json();
    let back: Ledger = serde_json::from_str(&json).unwrap();
    assert_eq!(back, ledger);
    assert!(json.contains("\"max_rows_per_person\": 3"), "{json}");
}

#[test]
fn parallel_composition_charges_once() {
    let ae = ae(5_000, 13);
    let data = DpData::by_person(&ae.table, &ae.ids, 1, 1).unwrap();
    let mut s = Session::pure(1.0).unwrap();
    {
        let mut par = s
            .parallel(
                "count per part",
                Cost::epsilon(0.5),
                3,
                1,
                data.bounded().contribution().clone(),
            )
            .unwrap();
        for part in ["a", "b", "c"] {
            count(
                par.part(part).unwrap(),
                &data,
                &Cost::epsilon(0.5),
                NoiseFamily::Auto,
            )
            .unwrap();
            // Each part has only its own share.
            assert!(
                count(
                    par.part(part).unwrap(),
                    &data,
                    &Cost::epsilon(0.1),
                    NoiseFamily::Auto
                )
                .is_err()
            );
        }
        assert!(par.part("d").is_err(), "undeclared parts are not paid for");
    }
    assert_eq!(s.spent(), Cost::epsilon(0.5));
    let l = s.ledger();
    assert_eq!(l.entries.len(), 4);
    assert_eq!(l.entries[1].charged, Cost::epsilon(0.0));
    assert_eq!(l.entries[1].parallel.as_ref().unwrap().charge_entry, 0);
    // Parts that split rows (not people) charge once per part a person can reach.
    let mut s = Session::pure(1.0).unwrap();
    s.parallel(
        "by row",
        Cost::epsilon(0.4),
        10,
        2,
        Contribution::row_level("t"),
    )
    .unwrap();
    assert_eq!(s.spent(), Cost::epsilon(0.8));
}

#[test]
fn gaussian_needs_a_zcdp_budget_and_laplace_converts() {
    let ae = ae(2_000, 14);
    let data = DpData::row_level(&ae.table);
    let mut s = Session::pure(1.0).unwrap();
    let e = count(&mut s, &data, &Cost::epsilon(0.5), NoiseFamily::Gaussian).unwrap_err();
    assert!(matches!(e, DpError::IncompatibleMeasure { .. }), "{e}");
    assert!(e.to_string().contains("zCDP"), "{e}");
    let mut z = Session::zcdp(0.5).unwrap();
    count(&mut z, &data, &Cost::rho(0.125), NoiseFamily::Laplace).unwrap();
    assert!(z.spent().main() <= 0.125);
    let e = count(&mut z, &data, &Cost::epsilon(0.1), NoiseFamily::Auto).unwrap_err();
    assert!(e.to_string().contains("measure"), "{e}");
    // The zCDP spending is reported as (epsilon, delta).
    let l = z.ledger();
    let a = l.spent_as_approx_dp.unwrap();
    assert!(a.epsilon > 0.0 && a.delta_for_conversion > 0.0);
    // Laplace with a zCDP share: charged epsilon^2/2 <= rho.
    let m = Laplace::for_epsilon(1.0, 0.5).unwrap();
    let c = z.release(&m, &[0.0], record("lap")).unwrap().charged;
    assert!((c.main() - 0.125).abs() < 1e-12, "{c}");
}

#[test]
fn bad_query_inputs_have_clear_errors() {
    let ae = ae(2_000, 15);
    let data = DpData::by_person(&ae.table, &ae.ids, 2, 1).unwrap();
    let mut s = Session::new(Cost::epsilon(10.0).with_delta(1e-6)).unwrap();
    for bad in [0.0, -1.0, f64::NAN] {
        let e = count(&mut s, &data, &Cost::epsilon(bad), NoiseFamily::Auto).unwrap_err();
        assert!(matches!(e, DpError::InvalidParameter { .. }), "{bad}: {e}");
    }
    // Bounds with lower > upper, and non-finite bounds.
    for (lo, hi) in [(10.0, 0.0), (f64::NAN, 1.0), (0.0, f64::INFINITY)] {
        let e = sum(
            &mut s,
            &data,
            &NumericQuery::new("age", lo, hi, Cost::epsilon(0.1)),
        )
        .unwrap_err();
        assert!(matches!(e, DpError::InvalidBounds { .. }), "{e}");
        assert!(e.to_string().contains("lower <= upper"), "{e}");
    }
    // A numeric query on a categorical column.
    let e = sum(
        &mut s,
        &data,
        &NumericQuery::new("sex", 0.0, 1.0, Cost::epsilon(0.1)),
    )
    .unwrap_err();
    assert!(matches!(e, DpError::WrongKind { .. }), "{e}");
    // NaN in a numeric column (raw values) names the row.
    let mut raw: Vec<Option<f64>> = (0..ae.table.n_rows()).map(|i| Some(i as f64)).collect();
    raw[7] = Some(f64::NAN);
    let data_nan = DpData::row_level(&ae.table)
        .with_raw_values("wait", raw)
        .unwrap();
    let e = sum(
        &mut s,
        &data_nan,
        &NumericQuery::new("wait", 0.0, 10.0, Cost::epsilon(0.1)),
    )
    .unwrap_err();
    assert!(matches!(e, DpError::NonFinite { row: 8, .. }), "{e}");
    assert!(e.to_string().contains("NaN"), "{e}");
    // A group-by (and histogram) column not in the schema.
    let q = GroupByQuery {
        dimensions: vec![Dimension::Column("no_such_column".into())],
        share: Cost::epsilon(0.1).with_delta(1e-8),
        noise: NoiseFamily::Auto,
    };
    let e = group_by(&mut s, &data, &q).unwrap_err();
    assert!(matches!(e, DpError::UnknownColumn { .. }), "{e}");
    assert!(
        e.to_string().contains("no_such_column") && e.to_string().contains("provider_code"),
        "{e}"
    );
    let e = histogram(
        &mut s,
        &data,
        &HistogramQuery::new(vec![Dimension::HourOfDay("age".into())], Cost::epsilon(0.1)),
    )
    .unwrap_err();
    assert!(matches!(e, DpError::WrongKind { .. }), "{e}");
    // Group-by without delta.
    let q = GroupByQuery {
        dimensions: vec![Dimension::Column("sex".into())],
        share: Cost::epsilon(0.1),
        noise: NoiseFamily::Auto,
    };
    let e = group_by(&mut s, &data, &q).unwrap_err();
    assert!(e.to_string().contains("delta > 0"), "{e}");
    // Bounding parameters.
    assert!(DpData::by_person(&ae.table, &ae.ids, 0, 1).is_err());
    // Nothing above was charged.
    assert_eq!(s.spent(), Cost::epsilon(0.0));
    assert!(s.entries().is_empty());
}

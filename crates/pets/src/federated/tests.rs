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
    let locals = local_aggregates(&job, &query, &schema, &ts).unwrap();
    let (sum, report) = run_secagg(&ts, &locals, None, 3).unwrap();
    assert_eq!(sum, expected);
    assert_eq!(report.counted.len(), 4);
    let (sum, report) = run_prio(&ts, &locals, None, 1 << 20).unwrap();
    assert_eq!(sum, expected);
    assert_eq!(report.counted.len(), 4);
    // With a person id and a bound no one reaches, bounding keeps every row: still equal.
    let job = FederatedJob::new(query.clone()).max_rows_per_person(10_000);
    let ts: Vec<TrustInput> = ts.into_iter().map(|t| t.person_id("nhs_number")).collect();
    let locals = local_aggregates(&job, &query, &schema, &ts).unwrap();
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
    let locals = local_aggregates(&job, &query, &schema, &ts).unwrap();
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

// ---- Sums and means (`federated/values.rs`, `proofs/federated_sums.md`) ----

use crate::dp::queries::histogram::table_axes;
use crate::federated::aggregate::{VALUE_COUNT_WEIGHT, ValueTable};

/// The pooled, single-machine answer of a value query, computed row by row: each kept value
/// clamped, rounded to the grid, added into its cell; means lead with their counts weighted
/// by 2^20. Count tables of the query are weighted too.
fn pooled_values(
    schema: &Schema,
    batches: &[RecordBatch],
    query: &FederatedQuery,
    person: Option<&str>,
    m: u32,
) -> Vec<i64> {
    let w = VALUE_COUNT_WEIGHT as i64;
    let mut out: Vec<i64> = pooled(
        schema,
        batches,
        &FederatedQuery {
            tables: query.tables.clone(),
            values: Vec::new(),
        },
        person,
        m,
    )
    .into_iter()
    .map(|c| c * w)
    .collect();
    if query.tables.is_empty() {
        out.clear();
    }
    let source = TableSource::batches("pooled", batches[0].schema(), batches.to_vec());
    let input = DpTable::load(source, schema)
        .person_id_opt(person.map(str::to_string), m)
        .read(&query.grouped_columns(), &query.numeric_columns())
        .unwrap();
    let data = &input.data;
    assert!(query.values.iter().all(|v| v.condition.is_none()));
    let rows: Vec<usize> = match data.bounded().rows() {
        Some(r) => r.iter().map(|&r| r as usize).collect(),
        None => (0..data.bounded().n_rows()).collect(),
    };
    for v in &query.values {
        let grid = v.grid().unwrap();
        let raw = data.raw(&v.column).unwrap();
        let (cells, cell): (usize, Box<dyn Fn(usize) -> usize>) = if v.by.is_empty() {
            (1, Box::new(|_| 0))
        } else {
            let (axes, shape) = table_axes(data, &v.by).unwrap();
            let strides = shape.strides().to_vec();
            (
                shape.cells(),
                Box::new(move |r| axes.iter().zip(&strides).map(|(a, s)| a.cell(r) * s).sum()),
            )
        };
        let mut counts = vec![0i64; cells];
        let mut sums = vec![0i64; cells];
        for &r in &rows {
            if let Some(x) = raw[r] {
                counts[cell(r)] += 1;
                sums[cell(r)] += grid.quantise(x.max(v.lower).min(v.upper));
            }
        }
        if v.statistic == ValueStatistic::Mean {
            out.extend(counts.iter().map(|c| c * w));
        }
        out.extend(sums);
    }
    out
}

fn by_provider(schema: &Schema, batches: &[RecordBatch], trusts: usize) -> Vec<TrustInput> {
    let source = TableSource::batches("ae", batches[0].schema(), batches.to_vec());
    split_by_column(&source, Some(schema), "provider_code", Some(trusts)).unwrap()
}

fn value_query() -> FederatedQuery {
    FederatedQuery::from_specs(
        &[vec!["sex".into()]],
        &[
            "sum(total_time_in_dept_min, 0, 300) by age_band, hour(arrival_datetime)".into(),
            "mean(length_of_stay_days, 0, 20.5) by sex".into(),
            "mean(time_to_initial_assessment_min, -10, 90.25)".into(),
            "sum(num_treatments, -2.5, 7)".into(),
        ],
    )
    .unwrap()
}

#[test]
fn before_noise_federated_sums_and_means_are_the_pooled_fixed_point_answer() {
    let (schema, batches) = ae(12_000);
    let query = value_query();
    let expected = pooled_values(&schema, &batches, &query, None, 1);
    let ts = by_provider(&schema, &batches, 4);
    let job = FederatedJob::new(query.clone());
    let locals = local_aggregates(&job, &query, &schema, &ts).unwrap();
    assert_eq!(locals[0].values.len(), expected.len());
    let (sum, report) = run_secagg(&ts, &locals, None, 3).unwrap();
    assert_eq!(report.counted.len(), 4);
    assert_eq!(sum, expected, "cell for cell");
    // The layouts are the query's, and the released split of the exact vector gives back
    // the pooled sums in the column's units (the bounds here put integers on the grid, so
    // the rounding is exact: the float sum of the clamped values, too).
    job.query()
        .unwrap()
        .check_layout(&locals[0].layout)
        .unwrap();
    let tables = split_tables(&locals[0].layout, &sum);
    assert_eq!(tables.len(), 5);
    let pooled_time: f64 = {
        let source = TableSource::batches("p", batches[0].schema(), batches.clone());
        let input = DpTable::load(source, &schema)
            .read(&[], &["total_time_in_dept_min".to_string()])
            .unwrap();
        let raw = input.data.raw("total_time_in_dept_min").unwrap();
        raw.iter().flatten().map(|x| x.clamp(0.0, 300.0)).sum()
    };
    let released: f64 = tables[1].value.as_ref().unwrap().sums.iter().sum();
    assert_eq!(released, pooled_time);
    // Means: sum over count of the exact vector is the pooled mean.
    let mean = &tables[2];
    let v = mean.value.as_ref().unwrap();
    assert_eq!(mean.counts.len(), mean.shape.iter().product::<usize>());
    assert_eq!(v.means.len(), mean.counts.len());
    assert!(v.means.iter().flatten().all(|m| (0.0..=20.5).contains(m)));
    // With a person id and a bound no one reaches, bounding keeps every row: still equal.
    let job = FederatedJob::new(query.clone()).max_rows_per_person(10_000);
    let ts: Vec<TrustInput> = ts.into_iter().map(|t| t.person_id("nhs_number")).collect();
    let locals = local_aggregates(&job, &query, &schema, &ts).unwrap();
    let (sum, _) = run_secagg(&ts, &locals, None, 3).unwrap();
    assert_eq!(
        sum,
        pooled_values(&schema, &batches, &query, Some("nhs_number"), 10_000)
    );
}

#[test]
fn removing_one_person_moves_the_sum_vector_by_at_most_the_stated_l2_bound() {
    use arrow_array::BooleanArray;
    use arrow_cast::display::ArrayFormatter;
    let (schema, batches) = ae(8_000);
    let query = value_query();
    let m = 3;
    // The person with the most rows, and the rows without them.
    let ids = |b: &RecordBatch| -> Vec<String> {
        let col = b.column(b.schema().index_of("nhs_number").unwrap());
        let f = ArrayFormatter::try_new(col.as_ref(), &Default::default()).unwrap();
        (0..col.len()).map(|i| f.value(i).to_string()).collect()
    };
    let mut rows_of = std::collections::BTreeMap::<String, usize>::new();
    for b in &batches {
        for id in ids(b) {
            *rows_of.entry(id).or_default() += 1;
        }
    }
    let (who, &most) = rows_of.iter().max_by_key(|(_, n)| **n).unwrap();
    assert!(most > m as usize, "someone has more than m rows: {most}");
    let without: Vec<RecordBatch> = batches
        .iter()
        .map(|b| {
            let keep = BooleanArray::from(ids(b).iter().map(|i| i != who).collect::<Vec<_>>());
            arrow_select::filter::filter_record_batch(b, &keep).unwrap()
        })
        .collect();
    let job = FederatedJob::new(query.clone()).max_rows_per_person(m);
    let sum_of = |bs: &[RecordBatch]| -> (Vec<i64>, usize) {
        let ts: Vec<TrustInput> = by_provider(&schema, bs, 3)
            .into_iter()
            .map(|t| t.person_id("nhs_number"))
            .collect();
        let locals = local_aggregates(&job, &query, &schema, &ts).unwrap();
        (run_secagg(&ts, &locals, None, 2).unwrap().0, ts.len())
    };
    let (a, _) = sum_of(&batches);
    let (b, _) = sum_of(&without);
    let d2: f64 = a
        .iter()
        .zip(&b)
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum();
    assert!(d2 > 0.0, "the person's rows are in the sums");
    // The person attends at most 3 trusts (there are 3).
    let bound = query.l2_squared(m, 3);
    assert!(d2 <= bound, "||Delta||^2 = {d2} > {bound}");
    // And the bound's parts: one row moves each count part by W and each sum part by at
    // most C in one cell, so per table by at most m T times that.
    let w = VALUE_COUNT_WEIGHT as f64;
    let c: Vec<f64> = query.values.iter().map(|v| v.units() as f64).collect();
    let parts = w * w + c[0] * c[0] + (w * w + c[1] * c[1]) + (w * w + c[2] * c[2]) + c[3] * c[3];
    assert_eq!(bound, parts * 9.0 * 9.0);
}

#[test]
fn the_noise_of_a_mean_has_the_planned_spread_and_the_intervals_cover() {
    let (schema, batches) = ae(6_000);
    let query = FederatedQuery::from_specs(
        &[],
        &["mean(total_time_in_dept_min, 0, 500) by lsoa".into()],
    )
    .unwrap();
    let exact = pooled_values(&schema, &batches, &query, None, 1);
    let mut session = Session::zcdp(1.0).unwrap();
    let out = FederatedJob::new(query.clone())
        .share(Cost::rho(0.5))
        .run(&mut session, &schema, &by_provider(&schema, &batches, 2))
        .unwrap();
    // The privacy map: (m T)^2 (W^2 + C^2), charged within the share.
    let c = query.values[0].units() as f64;
    let w = VALUE_COUNT_WEIGHT as f64;
    assert_eq!(out.noise.l2_squared, w * w + c * c);
    assert!(out.cost.main() <= 0.5 + 1e-12);
    assert_eq!(session.entries().len(), 1);
    // Released counts and sums minus the exact ones, in the vector's integer units.
    let t = &out.tables[0];
    let v = t.value.as_ref().unwrap();
    let n = t.counts.len();
    assert!(n > 500, "{n} cells");
    let k = (1.0 / v.resolution).log2();
    let sum_diffs: Vec<f64> = v
        .sums
        .iter()
        .zip(&exact[n..])
        .map(|(s, e)| s * 2f64.powf(k) - *e as f64)
        .collect();
    let mean = sum_diffs.iter().sum::<f64>() / n as f64;
    let var = sum_diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n as f64;
    let planned = out.noise.total_scale.powi(2);
    assert!(
        (var / planned - 1.0).abs() < 0.2,
        "variance {var} vs {planned}"
    );
    // Counts are weighted: their noise is the vector's over 2^20, the stated half-width too.
    let hw = t.half_width.unwrap();
    assert!((hw - out.accuracy.half_width / w).abs() < 1e-9);
    let covered = t
        .counts
        .iter()
        .zip(&exact[..n])
        .filter(|(c, e)| ((**c as f64) - **e as f64 / w).abs() <= hw + 0.5)
        .count();
    assert!(covered as f64 >= 0.9 * n as f64, "{covered}/{n}");
    // The mean intervals hold the exact (clamped, rounded) mean wherever there are rows.
    let mut cells = 0;
    let mut inside = 0;
    for i in 0..n {
        if exact[i] > 0 {
            cells += 1;
            let truth = exact[n + i] as f64 * v.resolution / (exact[i] as f64 / w);
            let (lo, hi) = v.mean_intervals[i];
            if lo <= truth && truth <= hi {
                inside += 1;
            }
        }
    }
    assert!(cells > 50, "{cells}");
    assert!(inside as f64 >= 0.95 * cells as f64, "{inside}/{cells}");
    // No exact figure: every released sum differs from the exact one somewhere.
    assert!(sum_diffs.iter().any(|d| *d != 0.0));
}

#[test]
fn bad_value_queries_fail_with_typed_errors_naming_the_column() {
    let (schema, batches) = ae(3_000);
    let ts = by_provider(&schema, &batches, 3);
    let mut session = Session::zcdp(1.0).unwrap();
    let run = |spec: &str, session: &mut Session| {
        let query = FederatedQuery::from_specs(&[], &[spec.to_string()])?;
        FederatedJob::new(query)
            .share(Cost::rho(0.1))
            .run(session, &schema, &ts)
    };
    // lower > upper; non-finite bounds; a grid that would wrap the ring.
    for (spec, says, kind) in [
        (
            "sum(total_time_in_dept_min, 10, 0)",
            "total_time_in_dept_min",
            crate::ErrorKind::InvalidParameter,
        ),
        (
            "mean(total_time_in_dept_min, 0, inf)",
            "total_time_in_dept_min",
            crate::ErrorKind::InvalidParameter,
        ),
        (
            "sum(total_time_in_dept_min, -1e308, 0)",
            "wrap",
            crate::ErrorKind::InvalidParameter,
        ),
        // A column the schema declares categorical.
        ("sum(sex, 0, 1)", "sex", crate::ErrorKind::Input),
        (
            "mean(no_such_column, 0, 1)",
            "no_such_column",
            crate::ErrorKind::Input,
        ),
    ] {
        let e = run(spec, &mut session).unwrap_err();
        assert!(e.to_string().contains(says), "{spec}: {e}");
        let k = crate::Classify::kind(&e);
        assert!(
            k == kind || (kind == crate::ErrorKind::Input && k != crate::ErrorKind::Internal),
            "{spec}: {k:?} {e}"
        );
    }
    assert!(session.entries().is_empty(), "nothing was charged");
    // Prio3 carries counts only.
    let query = FederatedQuery::from_specs(&[], &["sum(acuity, 1, 5)".into()]).unwrap();
    let e = FederatedJob::new(query)
        .protocol(Protocol::Prio3)
        .share(Cost::rho(0.1))
        .run(&mut session, &schema, &ts)
        .unwrap_err();
    assert!(e.to_string().contains("secagg"), "{e}");
    // A value table deserialised with bad bounds (the network's announcement) is refused
    // before any trust reads a row.
    let bad = FederatedQuery::of_values(vec![ValueTable {
        statistic: ValueStatistic::Sum,
        column: "acuity".into(),
        lower: f64::NAN,
        upper: 1.0,
        by: Vec::new(),
        condition: None,
    }])
    .unwrap_err();
    assert!(bad.to_string().contains("acuity"), "{bad}");
}

#[test]
fn a_non_finite_value_in_a_trust_is_an_error_naming_the_column() {
    use arrow_array::{Float64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema as ArrowSchema};
    use std::sync::Arc;
    let schema = Schema::from_json(
        r#"{"columns": [
        {"name": "g", "kind": "categorical", "values": ["a", "b"]},
        {"name": "x", "kind": "float", "min": -100, "max": 100, "nullable": true}
    ]}"#,
    )
    .unwrap();
    let arrow = Arc::new(ArrowSchema::new(vec![
        Field::new("g", DataType::Utf8, false),
        Field::new("x", DataType::Float64, true),
    ]));
    let table = |xs: Vec<Option<f64>>| {
        let n = xs.len();
        let b = RecordBatch::try_new(
            arrow.clone(),
            vec![
                Arc::new(StringArray::from(
                    (0..n).map(|i| ["a", "b"][i % 2]).collect::<Vec<_>>(),
                )),
                Arc::new(Float64Array::from(xs)),
            ],
        )
        .unwrap();
        TableSource::batches("t", arrow.clone(), vec![b])
    };
    // Values off the grid: the rounding is what the pooled answer does, too.
    let good = vec![
        Some(0.1),
        Some(-3.3),
        None,
        Some(99.99),
        Some(1e-9),
        Some(-75.0),
    ];
    let query = FederatedQuery::from_specs(&[], &["mean(x, -50, 50) by g".into()]).unwrap();
    let ts = vec![
        TrustInput::new("a", table(good.clone())),
        TrustInput::new("b", table(good.clone())),
    ];
    let job = FederatedJob::new(query.clone());
    let locals = local_aggregates(&job, &query, &schema, &ts).unwrap();
    let (sum, _) = run_secagg(&ts, &locals, None, 2).unwrap();
    let grid = query.values[0].grid().unwrap();
    let q = |x: f64| grid.quantise(x.clamp(-50.0, 50.0));
    let w = VALUE_COUNT_WEIGHT as i64;
    // Rows 0, 2, 4 are "a"; 1, 3, 5 are "b"; row 2 is null.
    let a = 2 * (q(0.1) + q(1e-9));
    let b = 2 * (q(-3.3) + q(99.99) + q(-75.0));
    assert_eq!(&sum[..2], &[4 * w, 6 * w]);
    assert_eq!(sum[sum.len() / 2..sum.len() / 2 + 2], [a, b]);
    // Within half a grid step per row of the exact clamped sum.
    let r = grid.resolution();
    assert!((b as f64 * r - 2.0 * (-3.3 + 50.0 - 50.0)).abs() <= 6.0 * r / 2.0 + 1e-12);
    // A NaN at one trust: refused naming the trust and the column.
    let ts = vec![
        TrustInput::new("a", table(good)),
        TrustInput::new("b", table(vec![Some(1.0), Some(f64::NAN)])),
    ];
    let mut session = Session::zcdp(1.0).unwrap();
    let e = job.run(&mut session, &schema, &ts).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("\"x\"") && text.contains("trust b"), "{text}");
    assert!(session.entries().is_empty());
}

/// A declared vector of two weighted count tables over three trusts.
fn declared(weights: [u64; 2]) -> VectorSpec {
    let table = |name: &str, n: usize, w: u64| aggregate::TableLayout {
        dimensions: vec![name.to_string()],
        labels: Vec::new(),
        shape: vec![n],
        weight: w,
        value: None,
    };
    VectorSpec::counts(
        "test: declared",
        vec!["a".into(), "b".into()],
        vec![table("a", 3, weights[0]), table("b", 4, weights[1])],
    )
    .unwrap()
}

fn local(spec: &VectorSpec, values: Vec<i64>) -> LocalAggregate {
    LocalAggregate {
        layout: spec.layout.clone(),
        values,
        unit: crate::dp::PrivacyUnit::Person,
        warnings: Vec::new(),
    }
}

#[test]
fn a_declared_vector_runs_the_same_round_and_is_charged_at_its_weighted_sensitivity() {
    let spec = declared([1, 3]);
    // One row adds w_k to one cell of each table: sum_k w_k^2 = 10.
    assert_eq!(spec.unit_l2_squared, 10.0);
    assert_eq!(spec.l2_squared(2, 3), 10.0 * 36.0);
    let ts: Vec<TrustInput> = (0..3)
        .map(|i| {
            TrustInput::new(
                format!("t{i}"),
                TableSource::file(format!("/nowhere/t{i}.csv")),
            )
        })
        .collect();
    let locals: Vec<LocalAggregate> = (0..3i64)
        .map(|i| local(&spec, vec![i, 2 * i, 3, 3 * i, 3 * (i + 1), 0, 3]))
        .collect();
    // Before noise, the round's sum is the cell-by-cell sum.
    let (sum, _) = run_secagg(&ts, &locals, None, 2).unwrap();
    assert_eq!(sum, vec![3, 6, 9, 9, 18, 0, 9]);
    let mut session = Session::zcdp(1.0).unwrap();
    let job = FederatedJob::for_vector(spec.clone())
        .share(Cost::rho(0.25))
        .max_rows_per_person(2)
        .max_trusts_per_person(1);
    let release = job.run_vectors(&mut session, &ts, &locals).unwrap();
    assert_eq!(release.sums.len(), 7);
    assert_eq!(release.noise.l2_squared, 40.0);
    assert_eq!(release.query, "test: declared");
    assert_eq!(release.round.counted.len(), 3);
    assert!(release.cost.main() <= 0.25 && release.cost.main() > 0.25 * 0.999);
    let v = release.noise_variance();
    assert!((v - 3.0 * release.noise.share_scale.powi(2)).abs() < 1e-9);
    let entry = &session.ledger().entries[0];
    assert_eq!(entry.query, "test: declared");
    assert_eq!(entry.columns, vec!["a".to_string(), "b".to_string()]);
    // A query's round cannot take declared vectors, nor the other way round.
    let q = FederatedJob::new(FederatedQuery::count());
    assert!(q.run_vectors(&mut session, &ts, &locals).is_err());
    let schema = Schema::from_json(
        r#"{"columns": [{"name": "a", "kind": "categorical", "values": ["x"]}]}"#,
    )
    .unwrap();
    assert!(job.run(&mut session, &schema, &ts).is_err());
}

#[test]
fn a_declared_vector_with_another_layout_or_too_few_trusts_is_refused_before_any_charge() {
    let spec = declared([1, 1]);
    let ts: Vec<TrustInput> = (0..3)
        .map(|i| TrustInput::new(format!("t{i}"), TableSource::file("/nowhere.csv")))
        .collect();
    let mut locals: Vec<LocalAggregate> = (0..3).map(|_| local(&spec, vec![1; 7])).collect();
    locals[1].values.pop();
    let mut session = Session::zcdp(1.0).unwrap();
    let job = FederatedJob::for_vector(spec.clone()).share(Cost::rho(0.5));
    let err = job.run_vectors(&mut session, &ts, &locals).unwrap_err();
    assert!(
        matches!(&err, FederatedError::Trust { trust, .. } if trust == "t1"),
        "{err}"
    );
    let other = declared([1, 2]);
    locals[1] = local(&other, vec![1; 7]);
    assert!(job.run_vectors(&mut session, &ts, &locals).is_err());
    let err = job
        .run_vectors(&mut session, &ts[..1], &locals[..1])
        .unwrap_err();
    assert!(err.to_string().contains("2 to"), "{err}");
    assert_eq!(session.ledger().entries.len(), 0);
    // A cell beyond the ring's safe range.
    let mut locals: Vec<LocalAggregate> = (0..3).map(|_| local(&spec, vec![1; 7])).collect();
    locals[2].values[0] = 1 << 60;
    assert!(job.run_vectors(&mut session, &ts, &locals).is_err());
    assert_eq!(session.ledger().entries.len(), 0);
    // Bad specs.
    assert!(VectorSpec::counts("x", vec![], vec![]).is_err());
    let mut zero = declared([1, 1]);
    zero.layout[0].weight = 0;
    assert!(zero.check().is_err());
}

// ---- Rates and counts of a condition (`federated/condition.rs`, `federated/compare.rs`) ----

fn rate_query() -> FederatedQuery {
    FederatedQuery::from_specs(
        &[],
        &[
            "mean(total_time_in_dept_min > 240) by provider_code".into(),
            "sum(admitted = true) by age_band".into(),
            "mean(age_band in (65-84, 85+)) by sex".into(),
            "mean(acuity <= 2)".into(),
        ],
    )
    .unwrap()
}

#[test]
fn before_noise_rates_and_condition_counts_are_the_pooled_answer() {
    let (schema, batches) = ae(9_000);
    let query = rate_query();
    let ts = by_provider(&schema, &batches, 4);
    let job = FederatedJob::new(query.clone());
    let locals = local_aggregates(&job, &query, &schema, &ts).unwrap();
    let (sum, _) = run_secagg(&ts, &locals, None, 3).unwrap();
    query.check_layout(&locals[0].layout).unwrap();
    let tables = split_tables(&locals[0].layout, &sum);
    // The pooled answer, row by row, from the labels and numbers themselves.
    let source = TableSource::batches("p", batches[0].schema(), batches.clone());
    let cols: Vec<String> = ["provider_code", "age_band", "sex", "admitted"]
        .map(String::from)
        .to_vec();
    let nums: Vec<String> = ["total_time_in_dept_min", "acuity"]
        .map(String::from)
        .to_vec();
    let input = DpTable::load(source, &schema).read(&cols, &nums).unwrap();
    let d = &input.data;
    let label = |c: &str, r: usize| {
        let col = d.column(c).unwrap();
        col.label(col.codes[r])
    };
    let code = |c: &str, r: usize| d.column(c).unwrap().codes[r] as usize;
    let time = d.raw("total_time_in_dept_min").unwrap();
    let acuity = d.raw("acuity").unwrap();
    let n = d.bounded().n_rows();
    let providers = schema.column("provider_code").unwrap().kind.clone();
    let crate::data::ColumnKind::Categorical { values: names, .. } = providers else {
        panic!()
    };
    let (mut over, mut seen) = (vec![0.0; names.len() + 1], vec![0i64; names.len() + 1]);
    let mut admitted = vec![0.0; 64];
    let (mut old, mut by_sex) = (vec![0.0; 8], vec![0i64; 8]);
    let (mut urgent, mut with_acuity) = (0.0, 0i64);
    for r in 0..n {
        if let Some(t) = time[r] {
            seen[code("provider_code", r)] += 1;
            over[code("provider_code", r)] += f64::from(u8::from(t > 240.0));
        }
        if label("admitted", r) == "true" {
            admitted[code("age_band", r)] += 1.0;
        }
        if label("age_band", r) != "null" {
            by_sex[code("sex", r)] += 1;
            old[code("sex", r)] += f64::from(u8::from(
                ["65-84", "85+"].contains(&label("age_band", r).as_str()),
            ));
        }
        if let Some(a) = acuity[r] {
            with_acuity += 1;
            urgent += f64::from(u8::from(a <= 2.0));
        }
    }
    let rate = &tables[0];
    let v = rate.value.as_ref().unwrap();
    assert_eq!(v.condition.as_deref(), Some("total_time_in_dept_min > 240"));
    assert_eq!(rate.counts, seen[..rate.counts.len()].to_vec());
    assert_eq!(v.sums, over[..v.sums.len()].to_vec());
    assert!(
        over.iter().sum::<f64>() > 0.0,
        "some attendances over four hours"
    );
    let counts = tables[1].value.as_ref().unwrap();
    assert_eq!(counts.sums, admitted[..counts.sums.len()].to_vec());
    let old_rate = &tables[2];
    assert_eq!(old_rate.counts, by_sex[..old_rate.counts.len()].to_vec());
    assert_eq!(
        old_rate.value.as_ref().unwrap().sums,
        old[..old_rate.counts.len()].to_vec()
    );
    assert_eq!(tables[3].counts, vec![with_acuity]);
    assert_eq!(tables[3].value.as_ref().unwrap().sums, vec![urgent]);
}

#[test]
fn a_rate_release_compares_every_provider_with_the_pool() {
    let (schema, batches) = ae(20_000);
    let query = FederatedQuery::from_specs(
        &[],
        &["mean(total_time_in_dept_min > 240) by provider_code".into()],
    )
    .unwrap();
    let ts = by_provider(&schema, &batches, 4);
    let mut session = Session::zcdp(1.0).unwrap();
    let release = FederatedJob::new(query)
        .share(Cost::rho(1.0))
        .seed(7)
        .run(&mut session, &schema, &ts)
        .unwrap();
    let t = &release.tables[0];
    let v = t.value.as_ref().unwrap();
    let c = v
        .comparison
        .as_ref()
        .expect("a rate carries its comparison");
    assert_eq!(c.cells.len(), t.counts.len());
    // Providers absent from the data have a noisy count near 0: too few, or within.
    assert_eq!(c.pools.len(), 1, "one dimension: one peer group");
    let pooled = c.pools[0].rate.unwrap();
    let (lo, hi) = c.pools[0].interval;
    assert!(
        lo <= pooled && pooled <= hi && hi - lo < 0.05,
        "{lo} {pooled} {hi}"
    );
    assert!(
        (c.pools[0].count - 20_000).abs() < 200,
        "{}",
        c.pools[0].count
    );
    // Every flagged cell's interval is clear of the pool.
    for ((f, &(l, h)), &n) in c.cells.iter().zip(&v.mean_intervals).zip(&t.counts) {
        match f {
            Funnel::AboveAlarm | Funnel::AboveWarning => assert!(l > hi, "{l} {hi}"),
            Funnel::BelowAlarm | Funnel::BelowWarning => assert!(h < lo, "{h} {lo}"),
            Funnel::TooFew => assert!(n < 1),
            Funnel::Within => {}
        }
    }
    // The whole release serialises and reads back (the network sends it as JSON).
    let json = serde_json::to_string(&release).unwrap();
    let back: FederatedRelease = serde_json::from_str(&json).unwrap();
    assert_eq!(back.tables, release.tables);
}

#[test]
fn conditions_on_the_wrong_kind_or_an_unknown_label_are_refused_naming_the_column() {
    let (schema, batches) = ae(2_000);
    let ts = by_provider(&schema, &batches, 2);
    let mut session = Session::zcdp(1.0).unwrap();
    for (spec, says) in [
        ("mean(sex > 1)", "unordered"),
        ("mean(arrival_datetime > 3)", "date"),
        ("mean(admitted = yes)", "false, true"),
        ("mean(total_time_in_dept_min > soon)", "finite number"),
        ("sum(no_such_column = 1)", "no_such_column"),
    ] {
        let q = FederatedQuery::from_specs(&[], &[spec.into()]).unwrap();
        let e = FederatedJob::new(q)
            .share(Cost::rho(0.1))
            .run(&mut session, &schema, &ts)
            .unwrap_err()
            .to_string();
        assert!(e.contains(says), "{spec}: {e}");
    }
    assert!(
        session.entries().is_empty(),
        "nothing charged for a refused query"
    );
}

#[test]
fn removing_one_person_moves_a_rate_vector_by_at_most_the_stated_l2_bound() {
    let (schema, batches) = ae(6_000);
    let query = rate_query();
    // Drop the rows of the first person (by row, no person id: rows are people, m = 1).
    let first = batches[0].slice(1, batches[0].num_rows() - 1);
    let mut without = vec![first];
    without.extend(batches[1..].iter().cloned());
    let job = FederatedJob::new(query.clone());
    let sum_of = |bs: &[RecordBatch]| -> Vec<i64> {
        let ts = by_provider(&schema, bs, 3);
        let locals = local_aggregates(&job, &query, &schema, &ts).unwrap();
        run_secagg(&ts, &locals, None, 2).unwrap().0
    };
    let (a, b) = (sum_of(&batches), sum_of(&without));
    let d2: f64 = a
        .iter()
        .zip(&b)
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum();
    assert!(d2 > 0.0);
    assert!(
        d2 <= query.l2_squared(1, 1),
        "{d2} > {}",
        query.l2_squared(1, 1)
    );
}

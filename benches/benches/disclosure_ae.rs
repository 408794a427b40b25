//! The release-panel report on generated A&E data, at the sizes in `PETS_BENCH_ROWS`:
//! quasi-identifiers age, sex, postcode district and arrival date (the intruder's facts in
//! the disclosure issue), sensitive attribute diagnosis group, from encoded codes.
//!
//! - `classes`: the one parallel grouping pass (equivalence classes with sensitive counts);
//! - `report_core`: the whole one-pass report (k, class sizes, distinct/entropy/recursive l,
//!   t-closeness, (alpha,k), beta, delta, prosecutor/journalist/marketer risk, Pitman/Zayatz/
//!   SNB population uniqueness): the figure the target (< 1 s at 1M, < 8 s at 10M)
//!   is about;
//! - `report_full`: the CLI default, adding every intruder scenario (all 15 subsets of the
//!   four facts), the SUDA minimal-sample-unique search and the what-if fixes.
//!
//! `PETS_BENCH_ROWS=1000000,10000000 cargo bench -p pets-benches --bench disclosure_ae`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pets::disclosure::{EquivalenceClasses, assess};
use pets_benches::{RISK_QIS, RISK_SENSITIVE, ae_risk_table, bench_rows, risk_config};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("disclosure_ae");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1));
    let core = risk_config(false);
    let full = risk_config(true);
    for rows in bench_rows() {
        let table = ae_risk_table(rows);
        g.throughput(Throughput::Elements(rows));
        g.bench_with_input(BenchmarkId::new("classes", rows), &rows, |b, _| {
            b.iter(|| {
                black_box(
                    EquivalenceClasses::compute(&table, &RISK_QIS, Some(RISK_SENSITIVE)).unwrap(),
                )
            })
        });
        g.bench_with_input(BenchmarkId::new("report_core", rows), &rows, |b, _| {
            b.iter(|| black_box(assess(&table, &core).unwrap()))
        });
        g.bench_with_input(BenchmarkId::new("report_full", rows), &rows, |b, _| {
            b.iter(|| black_box(assess(&table, &full).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

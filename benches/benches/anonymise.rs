//! The optimal anonymisation search on generated A&E data, as the README runs it, at the
//! sizes in `PETS_BENCH_ROWS`: quasi-identifiers age, sex, postcode district and arrival
//! time (to the minute), sensitive attribute diagnosis group, hierarchies
//! `age=5,10,20;top=90` and `arrival_datetime=day,week` (district > area > * and sex > * by
//! default), at most 5% of records suppressed.
//!
//! - `k5_l2_t03`: k = 5, distinct l = 2, t = 0.3 (the ARX comparison);
//! - `k5`: k = 5 alone.
//!
//! Each iteration is one whole `AnonymiseJob::run` from Arrow batches: encode, bottom
//! classes, the search (with verification of candidates on the records they keep), risk
//! before and after; no file written.
//!
//! `PETS_BENCH_ROWS=1000000,10000000 cargo bench -p pets-benches --bench anonymise`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pets::anonymise::AnonymiseJob;
use pets::data::TableSource;
use pets::disclosure::RiskConfig;
use pets_benches::{ae_batches, bench_rows};

const QIS: [&str; 4] = ["age", "sex", "postcode_district", "arrival_datetime"];

fn job(
    batches: &[arrow_array::RecordBatch],
    schema: &pets::data::Schema,
    full: bool,
) -> AnonymiseJob {
    let config = RiskConfig {
        sensitive: Some("diagnosis_group".into()),
        k: 5,
        l: full.then_some(2),
        t: full.then_some(0.3),
        ..RiskConfig::new(QIS)
    };
    let arrow_schema = batches[0].schema();
    AnonymiseJob::new(
        TableSource::batches("ae", arrow_schema, batches.to_vec()),
        config,
    )
    .schema(schema.clone())
    .hierarchy_entries(&[
        "age=5,10,20;top=90".to_string(),
        "arrival_datetime=day,week".to_string(),
    ])
    .expect("valid hierarchies")
    .suppression_limit(0.05)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("anonymise");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(1));
    for rows in bench_rows() {
        let (batches, schema) = ae_batches(rows);
        g.throughput(Throughput::Elements(rows));
        for (name, full) in [("k5_l2_t03", true), ("k5", false)] {
            let job = job(&batches, &schema, full);
            g.bench_with_input(BenchmarkId::new(name, rows), &rows, |b, _| {
                b.iter(|| black_box(job.run().expect("the search finds a release")))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

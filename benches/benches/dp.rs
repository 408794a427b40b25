//! Differential privacy throughput: the DP histogram of A&E arrivals by provider x hour of
//! day x age band (about 220 x 24 x 7 = 37k cells) over many rows, split into its parts:
//! contribution bounding, exact counting (rayon over rows), and noise (OpenDP's discrete
//! Laplace sampler, rayon over cells).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pets::data::{EncodeOptions, encode_batches};
use pets::dp::bounding::{Bounded, RowKeys};
use pets::dp::mechanisms::{DiscreteGaussian, DiscreteLaplace, Mechanism};
use pets::dp::queries::histogram::{HistogramQuery, histogram};
use pets::dp::queries::{Dimension, DpData};
use pets::dp::{Contribution, Cost, QueryRecord, Session};
use pets_benches::{ae_batches, bench_rows};

fn dims() -> Vec<Dimension> {
    vec![
        Dimension::Column("provider_code".into()),
        Dimension::HourOfDay("arrival_datetime".into()),
        Dimension::Column("age_band".into()),
    ]
}

fn dp(c: &mut Criterion) {
    let mut g = c.benchmark_group("dp");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1));
    for rows in bench_rows() {
        let (batches, schema) = ae_batches(rows);
        let table = encode_batches(&schema, &batches, EncodeOptions::default()).unwrap();
        let ids = RowKeys::from_batches("nhs_number", &batches, false).unwrap();
        drop(batches);
        g.throughput(Throughput::Elements(rows));
        g.bench_with_input(
            BenchmarkId::new("bound_3_per_person", rows),
            &rows,
            |b, _| b.iter(|| black_box(Bounded::by_person(&ids, 3, 1).unwrap())),
        );
        let data = DpData::by_person(&table, &ids, 3, 1).unwrap();
        let q = HistogramQuery::new(dims(), Cost::epsilon(1.0));
        g.bench_with_input(
            BenchmarkId::new("histogram_provider_hour_ageband_eps1", rows),
            &rows,
            |b, _| {
                b.iter(|| {
                    let mut s = Session::pure(1.0).unwrap();
                    black_box(histogram(&mut s, &data, &q).unwrap())
                })
            },
        );
        let row_level = DpData::row_level(&table);
        g.bench_with_input(
            BenchmarkId::new("histogram_row_level_eps1", rows),
            &rows,
            |b, _| {
                b.iter(|| {
                    let mut s = Session::pure(1.0).unwrap();
                    black_box(histogram(&mut s, &row_level, &q).unwrap())
                })
            },
        );
    }
    // Noise alone on 36,960 cells (the table's size), both families.
    let cells = vec![100i64; 220 * 24 * 7];
    g.throughput(Throughput::Elements(cells.len() as u64));
    let rec = || QueryRecord::new("bench", vec![], Contribution::row_level("bench"));
    let lap = DiscreteLaplace::for_epsilon(3.0, 1.0).unwrap();
    g.bench_function("discrete_laplace_36960_cells", |b| {
        b.iter(|| {
            let mut s = Session::pure(10.0).unwrap();
            black_box(s.release(&lap, &cells, rec()).unwrap())
        })
    });
    let gauss = DiscreteGaussian::for_rho(3.0, 0.5).unwrap();
    g.bench_function("discrete_gaussian_36960_cells", |b| {
        b.iter(|| {
            let mut s = Session::zcdp(10.0).unwrap();
            black_box(s.release(&gauss, &cells, rec()).unwrap())
        })
    });
    let _ = lap.info();
    g.finish();
}

criterion_group!(benches, dp);
criterion_main!(benches);

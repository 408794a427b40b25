//! Data-layer throughput: generate, write and read Parquet, encode, decode.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pets::data::io::read_parquet;
use pets::data::{DecodeOptions, Decoder, EncodeOptions, encode_batches};
use pets_benches::{ae_batches, bench_rows, config};
use pets_datasets::ae::{AeGenerator, write_ae};

fn data(c: &mut Criterion) {
    let mut g = c.benchmark_group("data");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(1));
    let dir = tempfile::tempdir().expect("temp dir");
    for rows in bench_rows() {
        g.throughput(Throughput::Elements(rows));
        g.bench_with_input(BenchmarkId::new("generate", rows), &rows, |b, &rows| {
            b.iter(|| {
                let n: usize = AeGenerator::new(config(rows))
                    .unwrap()
                    .map(|b| b.num_rows())
                    .sum();
                black_box(n)
            })
        });
        let path = dir.path().join(format!("ae-{rows}.parquet"));
        g.bench_with_input(
            BenchmarkId::new("generate_to_parquet", rows),
            &rows,
            |b, &rows| b.iter(|| write_ae(&config(rows), &path, |_| {}).unwrap()),
        );
        // The file read_parquet reads, also when a filter skipped generate_to_parquet.
        if !path.exists() {
            write_ae(&config(rows), &path, |_| {}).unwrap();
        }
        g.bench_with_input(BenchmarkId::new("read_parquet", rows), &rows, |b, _| {
            b.iter(|| {
                let n: usize = read_parquet(&path, 64 * 1024)
                    .unwrap()
                    .map(|b| b.unwrap().num_rows())
                    .sum();
                black_box(n)
            })
        });
        let (batches, schema) = ae_batches(rows);
        g.bench_with_input(BenchmarkId::new("encode", rows), &rows, |b, _| {
            b.iter(|| encode_batches(&schema, &batches, EncodeOptions::default()).unwrap())
        });
        let table = encode_batches(&schema, &batches, EncodeOptions::default()).unwrap();
        drop(batches);
        let decoder = Decoder::new(DecodeOptions::default());
        g.bench_with_input(BenchmarkId::new("decode", rows), &rows, |b, _| {
            b.iter(|| {
                let n: usize = decoder
                    .batches(&table, 64 * 1024)
                    .map(|b| b.unwrap().num_rows())
                    .sum();
                black_box(n)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, data);
criterion_main!(benches);

//! Synthetic data: MST fit (measurement through OpenDP's samplers, private selection,
//! inference) and sampling, on the 12-column A&E table at epsilon 1, delta 1e-9.
//! Also prints the mean 2-way TVD against the data and the independent baseline.
//! `aim_candidate_estimates`: one AIM round's estimating work, every 3-way marginal of a
//! fitted AIM model by one `inference::Projector` (the hot loop of an AIM fit).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pets::data::{EncodeOptions, encode_batches};
use pets_benches::{ae_batches, bench_rows};
use pets_synth::eval::{independent_mean_tvd, mean_tvd};
use pets_synth::inference::Projector;
use pets_synth::{AimOptions, MstOptions, fit_aim, fit_mst};

use pets_benches::SYNTH_COLUMNS as COLUMNS;

fn synth(c: &mut Criterion) {
    let mut g = c.benchmark_group("synth");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(1));
    for rows in bench_rows() {
        let (batches, schema) = ae_batches(rows);
        let schema = schema.select(&COLUMNS).unwrap();
        let table = encode_batches(&schema, &batches, EncodeOptions::default()).unwrap();
        drop(batches);
        let opts = MstOptions::new(1.0, 1e-9);
        let model = fit_mst(&table, &COLUMNS, &opts).unwrap();
        let synth = model.sample_table(rows as usize, 1).unwrap();
        eprintln!(
            "synth/mst {rows} rows: mean 2-way TVD {:.4} (independent baseline {:.4}), \
             1-way {:.4}",
            mean_tvd(&table, &synth, &COLUMNS, 2).unwrap(),
            independent_mean_tvd(&table, &COLUMNS).unwrap(),
            mean_tvd(&table, &synth, &COLUMNS, 1).unwrap(),
        );
        drop(synth);
        g.throughput(Throughput::Elements(rows));
        g.bench_with_input(BenchmarkId::new("mst_fit_eps1", rows), &rows, |b, _| {
            b.iter(|| black_box(fit_mst(&table, &COLUMNS, &opts).unwrap()))
        });
        g.bench_with_input(BenchmarkId::new("mst_sample", rows), &rows, |b, _| {
            b.iter(|| black_box(model.sample_table(rows as usize, 1).unwrap()))
        });
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("synth.parquet");
        g.bench_with_input(
            BenchmarkId::new("mst_sample_to_parquet", rows),
            &rows,
            |b, _| b.iter(|| black_box(model.write_sample(&out, rows, 1).unwrap())),
        );
        // AIM's candidate estimates: every 3-way marginal of a fitted AIM model, each
        // within the default model size (2^20 cells), by one projector as a round does.
        let aim = fit_aim(&table, &COLUMNS, &AimOptions::new(1.0, 1e-9)).unwrap();
        let graph = aim.graph_model().unwrap();
        let d = graph.sizes.len();
        let triples: Vec<Vec<usize>> = (0..d)
            .flat_map(|a| (a + 1..d).flat_map(move |b| (b + 1..d).map(move |c| vec![a, b, c])))
            .collect();
        let answered = {
            let p = Projector::new(&graph);
            triples
                .iter()
                .filter(|t| p.project(t, 1 << 20).is_some())
                .count()
        };
        eprintln!(
            "synth/aim_candidate_estimates {rows} rows: {answered} of {} triples within 2^20 \
             cells; model {} cells in {} cliques",
            triples.len(),
            graph.marginals.iter().map(|f| f.cells()).sum::<usize>(),
            graph.marginals.len()
        );
        g.throughput(Throughput::Elements(triples.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("aim_candidate_estimates", rows),
            &rows,
            |b, _| {
                b.iter(|| {
                    let p = Projector::new(&graph);
                    let cells: usize = triples
                        .iter()
                        .filter_map(|t| p.project(t, 1 << 20))
                        .map(|f| f.cells())
                        .sum();
                    black_box(cells)
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, synth);
criterion_main!(benches);

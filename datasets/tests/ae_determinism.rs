//! The generator is deterministic for a seed, whatever the batch size or thread count, and
//! yields exactly the rows asked for.

mod common;

use arrow_array::RecordBatch;
use common::generate;
use pets_datasets::ae::{AeConfig, AeGenerator};

/// Assert that `batches`, laid end to end, hold exactly the rows of `reference`.
fn assert_same_rows(batches: &[RecordBatch], reference: &RecordBatch) {
    let mut offset = 0;
    for b in batches {
        assert_eq!(
            *b,
            reference.slice(offset, b.num_rows()),
            "rows from {offset}"
        );
        offset += b.num_rows();
    }
    assert_eq!(offset, reference.num_rows());
}

#[test]
fn same_seed_same_batches() {
    let a = generate(AeConfig::new(20_000, 11).with_batch_rows(4_096));
    let b = generate(AeConfig::new(20_000, 11).with_batch_rows(4_096));
    assert_eq!(a, b);
    let c = generate(AeConfig::new(20_000, 12).with_batch_rows(4_096));
    assert_ne!(a[0], c[0]);
}

#[test]
fn batch_size_does_not_change_rows() {
    // One batch of everything, built on this thread, is the reference.
    let reference = AeGenerator::new(AeConfig::new(10_007, 3))
        .unwrap()
        .rows(0..10_007);
    for batch_rows in [1_000, 4_321, 100_000] {
        let batches = generate(AeConfig::new(10_007, 3).with_batch_rows(batch_rows));
        assert_same_rows(&batches, &reference);
    }
}

#[test]
fn thread_count_does_not_change_rows() {
    let config = AeConfig::new(9_000, 5).with_batch_rows(1_000);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| generate(config.clone()))
    };
    let one = run(1);
    let three = run(3);
    assert_eq!(one, three);
    assert_eq!(one.len(), 9);
}

#[test]
fn row_counts_are_exact() {
    for (rows, batch) in [
        (0u64, 10usize),
        (1, 10),
        (12_345, 1_000),
        (12_345, 12_345),
        (999, 1),
    ] {
        let g = AeGenerator::new(AeConfig::new(rows, 1).with_batch_rows(batch)).unwrap();
        let expected_batches = rows.div_ceil(batch as u64);
        assert_eq!(g.num_batches(), expected_batches);
        assert_eq!(g.len() as u64, expected_batches);
        let sizes: Vec<usize> = g.map(|b| b.num_rows()).collect();
        assert_eq!(sizes.iter().sum::<usize>() as u64, rows);
        assert_eq!(sizes.len() as u64, expected_batches);
        assert!(sizes.iter().all(|&s| s > 0 && s <= batch));
    }
}

#[test]
fn invalid_configs_are_refused() {
    assert!(AeGenerator::new(AeConfig::new(10, 1).with_batch_rows(0)).is_err());
    let mut c = AeConfig::new(10, 1);
    c.days = 0;
    assert!(AeGenerator::new(c).is_err());
}

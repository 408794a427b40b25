//! Disclosure-risk report at 1M rows on synthetic codes (A&E-shaped: age, sex, postcode
//! district, arrival date, hospital; sensitive diagnosis group).
//!
//! `report_core` is the one-pass report the release panel runs (grouping, k-anonymity,
//! l-diversity, t-closeness, alpha/beta/delta, prosecutor/journalist/marketer risk,
//! population uniqueness); `report_full` adds every intruder scenario, the SUDA search and the
//! what-if fixes.

use criterion::{Criterion, criterion_group, criterion_main};
use pets::data::{CodeBook, ColumnSpec, EncodedColumn, EncodedTable};
use pets::disclosure::{EquivalenceClasses, RiskConfig, assess};

const ROWS: usize = 1_000_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Skewed draw in 0..n: the smaller of two uniform draws (more mass at low codes).
    fn skewed(&mut self, n: u32) -> u32 {
        let a = (self.next() % u64::from(n)) as u32;
        let b = (self.next() % u64::from(n)) as u32;
        a.min(b)
    }
}

fn column(name: &str, card: u32, codes: Vec<u32>, ordered: bool) -> EncodedColumn {
    let spec = if ordered {
        ColumnSpec::integer(name, 0, i64::from(card) - 1)
    } else {
        ColumnSpec::categorical(name, (0..card).map(|i| format!("c{i}")))
    };
    EncodedColumn {
        spec,
        codebook: CodeBook {
            n_values: card,
            null_code: None,
            other_code: None,
        },
        codes,
    }
}

fn synthetic(rows: usize) -> EncodedTable {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut gen_col = |card: u32, skew: bool| -> Vec<u32> {
        (0..rows)
            .map(|_| {
                if skew {
                    r.skewed(card)
                } else {
                    (r.next() % u64::from(card)) as u32
                }
            })
            .collect()
    };
    let age = gen_col(100, true);
    let sex = gen_col(3, false);
    let district = gen_col(300, true);
    let date = gen_col(365, false);
    let hospital = gen_col(20, true);
    let dx = gen_col(25, true);
    EncodedTable::from_columns(vec![
        column("age", 100, age, true),
        column("sex", 3, sex, false),
        column("postcode_district", 300, district, false),
        column("arrival_date", 365, date, true),
        column("hospital", 20, hospital, false),
        column("diagnosis_group", 25, dx, false),
    ])
    .expect("valid table")
}

fn config(full: bool) -> RiskConfig {
    RiskConfig {
        sensitive: Some("diagnosis_group".into()),
        k: 5,
        l: Some(2),
        t: Some(0.3),
        alpha: Some(0.8),
        beta: Some(1.0),
        delta: Some(1.0),
        sampling_fraction: Some(0.05),
        scenarios: full,
        suda: full,
        what_if: full,
        ..RiskConfig::new(["age", "sex", "postcode_district", "hospital"])
    }
}

fn bench(c: &mut Criterion) {
    let table = synthetic(ROWS);
    let mut g = c.benchmark_group("disclosure_1m");
    g.sample_size(10);
    g.bench_function("classes", |b| {
        b.iter(|| {
            EquivalenceClasses::compute(
                &table,
                &["age", "sex", "postcode_district", "hospital"],
                Some("diagnosis_group"),
            )
            .unwrap()
        })
    });
    let core = config(false);
    g.bench_function("report_core", |b| b.iter(|| assess(&table, &core).unwrap()));
    let full = config(true);
    g.bench_function("report_full", |b| b.iter(|| assess(&table, &full).unwrap()));
    let dated = RiskConfig {
        quasi_identifiers: vec![
            "age".into(),
            "sex".into(),
            "postcode_district".into(),
            "arrival_date".into(),
        ],
        ..config(false)
    };
    g.bench_function("report_core_all_unique", |b| {
        b.iter(|| assess(&table, &dated).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

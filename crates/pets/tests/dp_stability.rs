//! Stability tests: add or remove one person (at most `m` rows after bounding) on small,
//! adversarial datasets and check that each exact statistic moves by at most the sensitivity
//! its release charges, read from the ledger entry (`mechanism.sensitivity`). Covers the
//! count, the fixed-point sum, the mean's and the variance's parts, histogram cells and MST's
//! selection score.
//!
//! Values are picked to break floating-point sums: values at, just inside and just outside
//! the clamping bounds, huge values (1e15, 1e300, f64::MAX), tiny ones that a float sum of
//! huge ones would lose (1e-3, 5e-324), and a person with many more rows than `m`.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};
use pets::data::{ColumnSpec, EncodeOptions, EncodedTable, Schema, encode_batches};
use pets::dp::mechanisms::NoiseFamily;
use pets::dp::queries::histogram::{HistogramQuery, histogram};
use pets::dp::queries::moments::{
    ExactParts, NumericQuery, exact_centred, exact_sum, mean, sum, variance,
};
use pets::dp::queries::numeric::FixedPoint;
use pets::dp::queries::{Dimension, DpData, count::count};
use pets::dp::{Cost, PersonIds, Session};
use proptest::prelude::*;

const SEED: u64 = 7;

/// One row: a raw float value (`None`: null), and two small integer codes for histograms
/// and MST pairs.
#[derive(Debug, Clone)]
struct Row {
    v: Option<f64>,
    x: i64,
    y: i64,
}

#[derive(Debug, Clone)]
struct Person {
    id: String,
    rows: Vec<Row>,
}

struct Built {
    table: EncodedTable,
    ids: PersonIds,
    raw: Vec<Option<f64>>,
}

fn build(people: &[Person]) -> Built {
    let schema = Schema::new(vec![
        ColumnSpec::integer("x", 0, 9),
        ColumnSpec::integer("y", 0, 4),
    ])
    .unwrap();
    let rows: Vec<(&str, &Row)> = people
        .iter()
        .flat_map(|p| p.rows.iter().map(move |r| (p.id.as_str(), r)))
        .collect();
    let xs: ArrayRef = Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1.x)));
    let ys: ArrayRef = Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1.y)));
    let arrow = Arc::new(ArrowSchema::new(vec![
        Field::new("x", DataType::Int64, false),
        Field::new("y", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(arrow, vec![xs, ys]).unwrap();
    let table = encode_batches(&schema, &[batch], EncodeOptions::default()).unwrap();
    let ids = PersonIds::from_strings("id", rows.iter().map(|r| Some(r.0)), false).unwrap();
    let raw = rows.iter().map(|r| r.1.v).collect();
    Built { table, ids, raw }
}

fn data<'a>(b: &'a Built, m: u32) -> DpData<'a> {
    DpData::by_person(&b.table, &b.ids, m, SEED)
        .unwrap()
        .with_raw_values("v", b.raw.clone())
        .unwrap()
}

/// The sensitivity the ledger entry `i` of `session` states.
fn charged(session: &Session, i: usize) -> f64 {
    session.entries()[i].mechanism.sensitivity.value
}

fn query(lower: f64, upper: f64) -> NumericQuery {
    NumericQuery::new("v", lower, upper, Cost::epsilon(1.0))
}

/// Move of an exact fixed-point sum between neighbours, in the column's units (exact: the
/// integer difference is far below 2^53 and the resolution is a power of two).
fn moved(a: i128, b: i128, res: f64) -> f64 {
    ((a - b).abs() as f64) * res
}

/// A fixed-point part: its move in grid units is at most `m C`, and the ledger entry `i`
/// states `m C 2^-k` (the same bound in the column's units; saturated at `f64::MAX`).
fn check_part(what: &str, s: &Session, i: usize, grid: &FixedPoint, a: i128, b: i128, m: u32) {
    let units = (a - b).unsigned_abs();
    let bound = u128::from(m) * u128::from(grid.units());
    assert!(units <= bound, "{what} moved {units} units > m C = {bound}");
    let stated = charged(s, i);
    assert_eq!(
        stated,
        grid.sensitivity(m),
        "{what}: ledger states {stated}"
    );
    let moved = moved(a, b, grid.resolution());
    if stated < f64::MAX {
        assert!(moved <= stated, "{what} moved {moved} > charged {stated}");
    }
}

/// Check every statistic on neighbours `base` and `base + extra` with bound `m`.
fn check_neighbours(base: &[Person], extra: &Person, m: u32, lower: f64, upper: f64) {
    let mut with: Vec<Person> = base.to_vec();
    with.push(extra.clone());
    let (b0, b1) = (build(base), build(&with));
    let (d0, d1) = (data(&b0, m), data(&b1, m));
    let q = query(lower, upper);
    let mf = f64::from(m);

    // Count: charged m.
    let mut s = Session::pure(10.0).unwrap();
    count(&mut s, &d1, &Cost::epsilon(1.0), NoiseFamily::Auto).unwrap();
    let dn = d1
        .bounded()
        .n_selected()
        .abs_diff(d0.bounded().n_selected()) as f64;
    assert!(
        dn <= charged(&s, 0),
        "count moved {dn} > {}",
        charged(&s, 0)
    );
    assert_eq!(charged(&s, 0), mf);

    // Sum: the move in grid units is at most m C, and the ledger states m C 2^-k.
    let (e0, e1): (ExactParts, ExactParts) =
        (exact_sum(&d0, &q).unwrap(), exact_sum(&d1, &q).unwrap());
    assert_eq!(e0.grid1, e1.grid1, "the grid depends on the bounds only");
    let mut s = Session::pure(10.0).unwrap();
    sum(&mut s, &d1, &q).unwrap();
    check_part("sum", &s, 0, &e0.grid1, e0.s1, e1.s1, m);
    // m ceil(B 2^k) 2^-k is at least m max(|L|, |U|) and at most one grid step a row more.
    let b = lower.abs().max(upper.abs());
    let sens = charged(&s, 0);
    let res = e0.grid1.resolution();
    if (mf * (b + res)).is_finite() {
        assert!(sens >= mf * b, "{sens} < {}", mf * b);
        assert!(sens <= mf * (b + res), "{sens} > m (B + 2^-k)");
    }

    // Mean: [centred sum, count].
    let mut s = Session::pure(10.0).unwrap();
    let r = mean(&mut s, &d1, &q).unwrap();
    let (i_sum, i_n) = (r.ledger_entries[0], r.ledger_entries[1]);
    let (c0, c1) = match (exact_centred(&d0, &q), exact_centred(&d1, &q)) {
        (Ok(a), Ok(b)) => (a, b),
        (a, _) => {
            // Only bounds so wide that ((U - L)/2)^2 overflows refuse a variance.
            let r = pets::dp::queries::moments::centre_and_radius(lower, upper).1;
            assert!(!(r * r).is_finite(), "{a:?}");
            return;
        }
    };
    assert_eq!(c0.grid1, c1.grid1);
    assert_eq!(c0.grid2, c1.grid2);
    check_part("centred sum", &s, i_sum, &c0.grid1, c0.s1, c1.s1, m);
    let dn = c0.n.abs_diff(c1.n) as f64;
    assert!(dn <= charged(&s, i_n), "non-null count moved {dn}");

    // Variance: [count, centred sum, centred sum of squares].
    let mut s = Session::pure(10.0).unwrap();
    let r = variance(&mut s, &d1, &q).unwrap();
    let (i_n, i_s1, i_s2) = (
        r.ledger_entries[0],
        r.ledger_entries[1],
        r.ledger_entries[2],
    );
    assert!(dn <= charged(&s, i_n));
    check_part("S1", &s, i_s1, &c0.grid1, c0.s1, c1.s1, m);
    check_part("S2", &s, i_s2, &c0.grid2, c0.s2, c1.s2, m);
    // Squares are non-negative: S2 only grows when a person is added.
    assert!(c1.s2 >= c0.s2);

    // Histogram cells of x: L1 move at most the charged L1 sensitivity.
    let mut s = Session::pure(10.0).unwrap();
    let hq = HistogramQuery::new(vec![Dimension::Column("x".into())], Cost::epsilon(1.0));
    histogram(&mut s, &d1, &hq).unwrap();
    let h0 = cells(&d0, "x");
    let h1 = cells(&d1, "x");
    let l1: u64 = h0.iter().zip(&h1).map(|(a, b)| a.abs_diff(*b)).sum();
    assert!(l1 as f64 <= charged(&s, 0), "histogram moved {l1} in L1");

    // MST's selection score of (x, y), against adversarial public estimates: moves by at
    // most m, the sensitivity MST's selection charges (checked in `mst_charges_m`).
    let (x0, x1) = (pair_counts(&d0), pair_counts(&d1));
    let pa = [0.5, 0.25, 0.125, 0.0625, 0.0625, 0.0, 0.0, 0.0, 0.0, 0.0];
    let pb = [0.3, 0.3, 0.2, 0.1, 0.1];
    for &total in &[0.0, 3.0, 1e6, 4.2e9, 1e18] {
        for &tau in &[0.0, 0.5, 2.0, 1e7] {
            let a = pets_synth::mst::pair_score(&x0, &pa, &pb, total, tau);
            let b = pets_synth::mst::pair_score(&x1, &pa, &pb, total, tau);
            assert!((a - b).abs() <= mf, "score moved {} > m {m}", (a - b).abs());
        }
    }
}

/// Exact cell counts of `column` over the kept rows.
fn cells(d: &DpData<'_>, column: &str) -> Vec<u64> {
    let col = d.table().column(column).unwrap();
    let mut c = vec![0u64; col.codebook.cardinality() as usize];
    for &r in d.bounded().rows().unwrap() {
        c[col.codes[r as usize] as usize] += 1;
    }
    c
}

/// Exact 2-way counts of (x, y) over the kept rows, row-major, 10 x 5.
fn pair_counts(d: &DpData<'_>) -> Vec<u64> {
    let x = d.table().column("x").unwrap();
    let y = d.table().column("y").unwrap();
    let mut c = vec![0u64; 50];
    for &r in d.bounded().rows().unwrap() {
        let (a, b) = (x.codes[r as usize] as usize, y.codes[r as usize] as usize);
        if a < 10 && b < 5 {
            c[a * 5 + b] += 1;
        }
    }
    c
}

fn person(id: &str, values: &[Option<f64>]) -> Person {
    Person {
        id: id.into(),
        rows: values
            .iter()
            .enumerate()
            .map(|(i, &v)| Row {
                v,
                x: (i % 10) as i64,
                y: (i % 5) as i64,
            })
            .collect(),
    }
}

#[test]
fn extreme_values_at_and_near_the_bounds() {
    let (lo, hi): (f64, f64) = (-3.7, 1e-3);
    let edge = [
        Some(lo),
        Some(hi),
        Some(lo.next_up()),
        Some(hi.next_down()),
        Some(lo.next_down()),
        Some(hi.next_up()),
        Some(0.0),
        Some(-0.0),
        None,
        Some(f64::MAX),
        Some(-f64::MAX),
        Some(5e-324),
    ];
    let base: Vec<Person> = (0..6)
        .map(|i| person(&format!("p{i}"), &edge[i * 2..i * 2 + 2]))
        .collect();
    for m in [1, 3, 5] {
        check_neighbours(&base, &person("new", &edge[..5]), m, lo, hi);
        check_neighbours(&base, &person("new", &[Some(lo); 40]), m, lo, hi);
        check_neighbours(&base, &person("new", &[Some(hi); 40]), m, lo, hi);
    }
}

#[test]
fn huge_values_and_tiny_ones_a_float_sum_would_lose() {
    let (lo, hi) = (-1e15, 1e15);
    // Many rows of 1e15 and of tiny values: a float sum in rayon's order loses the tiny
    // ones and rounds the huge partial sums; the fixed-point sum is exact on its grid.
    let mut base: Vec<Person> = (0..200)
        .map(|i| person(&format!("big{i}"), &[Some(1e15), Some(1e15 - 0.5)]))
        .collect();
    base.extend((0..50).map(|i| person(&format!("tiny{i}"), &[Some(1e-3), Some(5e-324)])));
    base.push(person("neg", &[Some(-1e15); 30]));
    for m in [1, 2, 4] {
        check_neighbours(&base, &person("new", &[Some(1e300); 9]), m, lo, hi);
        check_neighbours(&base, &person("new", &[Some(-1e15), Some(1e-3)]), m, lo, hi);
        check_neighbours(&base, &person("new", &[Some(1e-3); 3]), m, lo, hi);
    }
    // Bounds near the top of the f64 range.
    let (lo, hi) = (-f64::MAX, f64::MAX);
    let base: Vec<Person> = (0..20)
        .map(|i| person(&format!("p{i}"), &[Some(f64::MAX), Some(-1.0), Some(1e308)]))
        .collect();
    check_neighbours(&base, &person("new", &[Some(f64::MAX); 5]), 2, lo, hi);
}

#[test]
fn a_person_with_many_rows_moves_statistics_by_at_most_m_rows() {
    let base: Vec<Person> = (0..30)
        .map(|i| person(&format!("p{i}"), &[Some(i as f64), Some(100.0)]))
        .collect();
    let many: Vec<Option<f64>> = (0..500).map(|i| Some(1e6 + i as f64)).collect();
    for m in [1, 2, 7] {
        check_neighbours(&base, &person("heavy", &many), m, 0.0, 250.0);
        check_neighbours(&base, &person("heavy", &many), m, -250.0, 0.0);
    }
}

#[test]
fn bounding_m_rows_of_one_person_leaves_others_alone() {
    // Adding a person must not change who else is kept: otherwise neighbours would differ
    // by more than that person's rows.
    let base: Vec<Person> = (0..40)
        .map(|i| person(&format!("p{i}"), &vec![Some(1.0); 1 + i % 6]))
        .collect();
    let mut with = base.clone();
    with.push(person("new", &[Some(2.0); 9]));
    let (b0, b1) = (build(&base), build(&with));
    let (d0, d1) = (data(&b0, 3), data(&b1, 3));
    let n0 = b0.raw.len() as u32;
    let kept0: Vec<u32> = d0.bounded().rows().unwrap().to_vec();
    let kept1: Vec<u32> = d1
        .bounded()
        .rows()
        .unwrap()
        .iter()
        .copied()
        .filter(|&r| r < n0)
        .collect();
    assert_eq!(kept0, kept1);
    assert_eq!(d1.bounded().n_selected() - d0.bounded().n_selected(), 3);
}

#[test]
fn mst_charges_m_for_its_selection_scores() {
    let base: Vec<Person> = (0..300)
        .map(|i| Person {
            id: format!("p{}", i / 2),
            rows: vec![Row {
                v: None,
                x: (i % 10) as i64,
                y: ((i / 3) % 5) as i64,
            }],
        })
        .collect();
    let b = build(&base);
    for m in [1u32, 3] {
        let bounded = pets::dp::Bounded::by_person(&b.ids, m, SEED).unwrap();
        let opts = pets_synth::MstOptions::new(1.0, 1e-6);
        let model = pets_synth::fit_mst_bounded(&b.table, &[], &opts, &bounded).unwrap();
        let selections: Vec<_> = model
            .ledger
            .entries
            .iter()
            .filter(|e| e.query.starts_with("mst: select"))
            .collect();
        assert!(!selections.is_empty());
        for e in selections {
            assert_eq!(e.mechanism.sensitivity.value, f64::from(m), "{}", e.query);
        }
    }
}

/// The old score (a float sum) next to the fixed-point one, on counts a float sum rounds:
/// one more row in one cell moves the float score by 4, the fixed-point score by at most 1.
#[test]
fn mst_score_is_exact_where_a_float_sum_rounds() {
    fn float_score(x: &[u64], pa: &[f64], pb: &[f64], total: f64, tau: f64) -> f64 {
        let mut err = 0.0;
        for (i, &p) in pa.iter().enumerate() {
            for (j, &q) in pb.iter().enumerate() {
                err += ((x[i * pb.len() + j] as f64 - total * p * q).abs() - tau).max(0.0);
            }
        }
        err
    }
    let (pa, pb) = ([1.0], [0.5, 0.5]);
    let x = [1u64 << 54, 2];
    let y = [1u64 << 54, 3];
    let old = (float_score(&y, &pa, &pb, 0.0, 0.0) - float_score(&x, &pa, &pb, 0.0, 0.0)).abs();
    assert_eq!(
        old, 4.0,
        "the float score rounds 2^54 + 2 down and 2^54 + 3 up"
    );
    let new = (pets_synth::mst::pair_score(&y, &pa, &pb, 0.0, 0.0)
        - pets_synth::mst::pair_score(&x, &pa, &pb, 0.0, 0.0))
    .abs();
    assert!(new <= 1.0, "{new}");
    // Realistic sizes: the fixed-point score equals the exact one to the grid.
    let x = [3_000_000_000u64, 17, 123_456_789, 0];
    let s = pets_synth::mst::pair_score(&x, &[0.5, 0.5], &[0.5, 0.5], 3.1e9, 0.0);
    let exact: f64 = [3e9 - 775e6, 775e6 - 17.0, 775e6 - 123_456_789.0, 775e6]
        .iter()
        .sum();
    assert!((s - exact).abs() <= 4.0 * 2f64.powi(-10), "{s} vs {exact}");
}

fn value() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        Just(None),
        Just(Some(0.0)),
        Just(Some(1e15)),
        Just(Some(-1e15)),
        Just(Some(1e-3)),
        Just(Some(5e-324)),
        Just(Some(f64::MAX)),
        Just(Some(-f64::MAX)),
        (-1e6f64..1e6).prop_map(Some),
        (-1.0f64..1.0).prop_map(Some),
    ]
}

fn bounds() -> impl Strategy<Value = (f64, f64)> {
    prop_oneof![
        Just((0.0, 1.0)),
        Just((-1e15, 1e15)),
        Just((-3.7, 1e-3)),
        Just((1e-300, 2e-300)),
        Just((0.0, 0.0)),
        Just((-1.0, -1.0)),
        Just((-f64::MAX, f64::MAX)),
        (-1e9f64..1e9, 0.0f64..1e9).prop_map(|(a, w)| (a, a + w)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_adversarial_neighbours(
        people in prop::collection::vec(prop::collection::vec(value(), 1..6), 1..12),
        extra in prop::collection::vec(value(), 1..12),
        m in 1u32..5,
        (lo, hi) in bounds(),
    ) {
        let base: Vec<Person> = people
            .iter()
            .enumerate()
            .map(|(i, v)| person(&format!("p{i}"), v))
            .collect();
        check_neighbours(&base, &person("new", &extra), m, lo, hi);
    }

    #[test]
    fn mst_score_moves_at_most_the_rows_changed(
        x in prop::collection::vec(prop_oneof![0u64..10, 0u64..(1u64 << 33), Just(1u64 << 40)], 12),
        changes in prop::collection::vec((0usize..12, -3i64..4), 1..6),
        total in prop_oneof![Just(0.0), 0.0f64..1e10, Just(1e20)],
        tau in prop_oneof![Just(0.0), 0.0f64..1e3],
        penalty in prop_oneof![Just(0.0), 0.0f64..1e9],
    ) {
        let pa = [0.25, 0.25, 0.5];
        let pb = [0.1, 0.2, 0.3, 0.4];
        let mut y = x.clone();
        let mut rows = 0u64;
        for &(cell, d) in &changes {
            let before = y[cell];
            y[cell] = (y[cell] as i64 + d).max(0) as u64;
            rows += before.abs_diff(y[cell]);
        }
        let a = pets_synth::mst::pair_score_penalised(&x, &pa, &pb, total, tau, penalty);
        let b = pets_synth::mst::pair_score_penalised(&y, &pa, &pb, total, tau, penalty);
        prop_assert!(a.is_finite() && b.is_finite());
        prop_assert!((a - b).abs() <= rows as f64, "moved {} for {rows} rows", (a - b).abs());
    }
}

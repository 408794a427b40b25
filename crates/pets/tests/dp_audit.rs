//! Empirical privacy audit: a lower bound on the epsilon each mechanism actually has, from
//! its outputs on a pair of neighbouring datasets, checked against the epsilon it claims.
//!
//! # What is measured
//!
//! For each mechanism `M` and a pair of neighbouring datasets `x` (a small table) and `x'`
//! (`x` plus one person with five rows, cut to `m = 3` by person-level bounding), the test
//! runs `M(x)` and `M(x')` many times through the public API (a fresh
//! [`pets::dp::Session`] per run, so every run charges its own budget). Each run is reduced
//! to one number (the released count, sum or cell; the released count of a group, or
//! `-inf` when the group was not released; the released quantile; the selected index).
//!
//! If `M` is `(epsilon, delta)`-DP then for every event `S`,
//! `P[M(a) in S] <= e^epsilon P[M(b) in S] + delta` for `(a, b) = (x, x')` and `(x', x)`.
//! Following DP-Sniper (Bichsel et al. 2021, "DP-Sniper: Black-Box Discovery of
//! Differential Privacy Violations using Classifiers") and Jagielski et al. 2020, the audit
//!
//! 1. draws a quarter of the runs to **choose** the event: among `{y >= t}`, `{y < t}`,
//!    `{y = t}` and `{y != t}` for every value `t` seen, in both directions, the one with the
//!    largest Clopper-Pearson lower bound on those runs;
//! 2. draws the other three quarters **fresh** and bounds the two probabilities of that
//!    fixed event with exact one-sided Clopper-Pearson intervals (Beta quantiles from
//!    `statrs`) at level [`ALPHA`] each;
//! 3. reports `eps_lb = ln((p_a_lower - delta) / p_b_upper)`.
//!
//! Because the event is chosen on samples independent of those that bound it, `eps_lb`
//! exceeds the mechanism's true epsilon with probability at most `2 * ALPHA = 1e-4`
//! (whatever the event); each assertion `eps_lb < claimed epsilon` therefore fails for a
//! correct mechanism at most once in 10,000 runs.
//!
//! The thresholded group-by's mechanism is calibrated once per dataset with the parameters
//! `group_by` uses (checked against a `group_by` run: same threshold, same charge), as the
//! search for the threshold dominates a run; its release rate of a key only the added person
//! has is also checked against the charged delta. MST's selection is the exponential
//! mechanism under zCDP at `rho = epsilon^2 / 8`, audited against the pure `epsilon` that
//! rho stands for (`2 Delta / s`).
//!
//! Each mechanism also has an **under-noised control**: the same query on the same pair,
//! but with row-level privacy (`m = 1` charged, while the neighbour's five rows all count),
//! or a selection charged at sensitivity 1 while the scores move by up to 5. The audit must
//! find `eps_lb` above the claimed epsilon there; if it does not, it has no power and its
//! passing the real test would mean little.
//!
//! # Running it
//!
//! ```text
//! cargo test --release -p pets --test dp_audit -- --nocapture        # 10,000 runs a side
//! PETS_AUDIT_TRIALS=200000 cargo test --release -p pets --test dp_audit -- --nocapture
//! ```
//!
//! `PETS_AUDIT_TRIALS` (default 10,000) is the number of runs on each dataset of a pair;
//! the larger run is the benchmark (tighter lower bounds, the same assertions). With
//! `--nocapture` every audit prints its event, the estimated probabilities, `eps_lb` and the
//! time it took.

use std::time::Instant;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use pets::data::{ColumnSpec, EncodeOptions, EncodedTable, Schema, encode_batches};
use pets::dp::bounding::{Bounded, RowKeys};
use pets::dp::budget::Cost;
use pets::dp::ledger::QueryRecord;
use pets::dp::mechanisms::{NoiseFamily, Selection, ThresholdNoise, ThresholdedCounts};
use pets::dp::queries::count::count;
use pets::dp::queries::groupby::{GroupByQuery, group_by};
use pets::dp::queries::histogram::{HistogramQuery, histogram};
use pets::dp::queries::moments::{NumericQuery, sum};
use pets::dp::queries::quantile::{QuantileQuery, quantiles};
use pets::dp::queries::{Dimension, DpData};
use pets::dp::{Mechanism, Session};
use statrs::distribution::{Beta, ContinuousCDF};
use std::sync::Arc;

/// Level of each one-sided Clopper-Pearson bound.
const ALPHA: f64 = 5e-5;

/// Rows a person may contribute after bounding.
const M: u32 = 3;

/// Rows of the added person (more than `M`, so bounding cuts them).
const NEW_ROWS: usize = 5;

/// Epsilon claimed by every audited query.
const EPS: f64 = 1.0;

fn trials() -> usize {
    std::env::var("PETS_AUDIT_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n >= 400)
        .unwrap_or(10_000)
}

// ---------------------------------------------------------------------------------------
// Statistics.

/// One-sided Clopper-Pearson lower bound on `p` from `k` successes in `n`: holds with
/// probability at least `1 - a`.
fn cp_lower(k: usize, n: usize, a: f64) -> f64 {
    if k == 0 {
        return 0.0;
    }
    Beta::new(k as f64, (n - k + 1) as f64)
        .expect("beta parameters")
        .inverse_cdf(a)
}

/// One-sided Clopper-Pearson upper bound on `p` from `k` successes in `n`.
fn cp_upper(k: usize, n: usize, a: f64) -> f64 {
    if k == n {
        return 1.0;
    }
    Beta::new((k + 1) as f64, (n - k) as f64)
        .expect("beta parameters")
        .inverse_cdf(1.0 - a)
}

/// An event on the one-number summary of a release.
#[derive(Debug, Clone, Copy)]
enum Event {
    AtLeast(f64),
    Below(f64),
    Equal(f64),
    NotEqual(f64),
}

impl Event {
    fn holds(self, y: f64) -> bool {
        match self {
            Event::AtLeast(t) => y >= t,
            Event::Below(t) => y < t,
            Event::Equal(t) => y == t,
            Event::NotEqual(t) => y != t,
        }
    }
}

/// The audit of one mechanism on one neighbouring pair.
#[derive(Debug)]
struct Audit {
    name: String,
    claimed: f64,
    delta: f64,
    event: Event,
    /// True when the event is bounded as `P[M(x') in S] <= e^eps P[M(x) in S] + delta`.
    forward: bool,
    p_a: f64,
    p_b: f64,
    eps_lb: f64,
    secs: f64,
}

impl Audit {
    fn print(&self) {
        let dir = if self.forward { "x' vs x" } else { "x vs x'" };
        println!(
            "audit {:<44} claimed eps {:.3} delta {:.0e}: eps_lb {:>7.3} ({dir}, event {:?}, \
             p_a {:.5}, p_b {:.5}; {:.1} s)",
            self.name,
            self.claimed,
            self.delta,
            self.eps_lb,
            self.event,
            self.p_a,
            self.p_b,
            self.secs
        );
    }
}

/// The lower bound the evaluation would give if it saw these counts, used only to choose the
/// event (on runs not used for the bound): Clopper-Pearson at the same level, so that rare
/// events, whose bounds are loose, are not preferred by chance.
fn selection_bound(ka: usize, kb: usize, n: usize, delta: f64) -> f64 {
    let la = cp_lower(ka, n, ALPHA) - delta;
    if la <= 0.0 {
        f64::NEG_INFINITY
    } else {
        (la / cp_upper(kb, n, ALPHA)).ln()
    }
}

/// Run `run(false)` (on `x`) and `run(true)` (on `x'`) `trials()` times each, choose the most
/// discriminating event on a quarter of the runs and bound epsilon on the rest.
fn audit(name: &str, claimed: f64, delta: f64, run: impl Fn(bool) -> f64) -> Audit {
    let start = Instant::now();
    let n = trials();
    let n_sel = n / 4;
    let n_eval = n - n_sel;
    let draw = |neighbour: bool, k: usize| -> Vec<f64> { (0..k).map(|_| run(neighbour)).collect() };

    // 1. Choose the event.
    let (s0, s1) = (draw(false, n_sel), draw(true, n_sel));
    let mut values: Vec<f64> = s0.iter().chain(&s1).copied().collect();
    values.sort_by(|a, b| a.total_cmp(b));
    values.dedup();
    if values.len() > 400 {
        let step = values.len() as f64 / 400.0;
        values = (0..400)
            .map(|i| values[(i as f64 * step) as usize])
            .collect();
    }
    let mut best = (f64::NEG_INFINITY, Event::AtLeast(0.0), true);
    for &t in &values {
        for ev in [
            Event::AtLeast(t),
            Event::Below(t),
            Event::Equal(t),
            Event::NotEqual(t),
        ] {
            let k0 = s0.iter().filter(|&&y| ev.holds(y)).count();
            let k1 = s1.iter().filter(|&&y| ev.holds(y)).count();
            for (forward, ka, kb) in [(true, k1, k0), (false, k0, k1)] {
                if ka <= kb {
                    continue; // no evidence in this direction
                }
                let lb = selection_bound(ka, kb, n_sel, delta);
                if lb > best.0 {
                    best = (lb, ev, forward);
                }
            }
        }
    }
    let (_, event, forward) = best;

    // 2. Bound its probabilities on fresh runs.
    let k0 = (0..n_eval).filter(|_| event.holds(run(false))).count();
    let k1 = (0..n_eval).filter(|_| event.holds(run(true))).count();
    let (ka, kb) = if forward { (k1, k0) } else { (k0, k1) };
    let a_lower = cp_lower(ka, n_eval, ALPHA);
    let b_upper = cp_upper(kb, n_eval, ALPHA);
    let eps_lb = if a_lower - delta > 0.0 {
        ((a_lower - delta) / b_upper).ln()
    } else {
        f64::NEG_INFINITY
    };
    let a = Audit {
        name: name.into(),
        claimed,
        delta,
        event,
        forward,
        p_a: ka as f64 / n_eval as f64,
        p_b: kb as f64 / n_eval as f64,
        eps_lb,
        secs: start.elapsed().as_secs_f64(),
    };
    a.print();
    a
}

/// The audit of a correct mechanism: the bound stays below the claim.
fn assert_holds(a: &Audit) {
    assert!(
        a.eps_lb < a.claimed,
        "{}: the audit found eps >= {:.3} but {:.3} is claimed ({a:?})",
        a.name,
        a.eps_lb,
        a.claimed
    );
}

/// The audit of an under-noised control: it must be caught.
fn assert_caught(a: &Audit) {
    assert!(
        a.eps_lb > a.claimed,
        "{}: the audit did not catch an under-noised control (eps_lb {:.3}, claim {:.3}): it \
         has no power ({a:?})",
        a.name,
        a.eps_lb,
        a.claimed
    );
}

// ---------------------------------------------------------------------------------------
// The neighbouring datasets.

/// `x`: 24 people with one to three rows each (so bounding at 3 keeps all of them); `x'`:
/// the same plus one person with five rows in ward A, length of stay 20, key `k9` (a key
/// nobody in `x` has).
struct Pair {
    schema: Schema,
    tables: [EncodedTable; 2],
    ids: [RowKeys; 2],
}

fn pair() -> Pair {
    let schema = Schema::new(vec![
        ColumnSpec::categorical("ward", ["A", "B", "C"]),
        ColumnSpec::integer("los", 0, 20),
        ColumnSpec::categorical("key", (0..10).map(|k| format!("k{k}"))),
    ])
    .expect("schema");
    let mut rows: Vec<(String, &str, i64, String)> = Vec::new();
    for p in 0..24usize {
        for r in 0..(p % 3 + 1) {
            let ward = ["A", "B", "C", "A"][(p + r) % 4];
            let los = ((p * 7 + r * 3) % 15) as i64;
            let key = format!("k{}", (p + r) % 5);
            rows.push((format!("p{p}"), ward, los, key));
        }
    }
    let mut rows1 = rows.clone();
    for _ in 0..NEW_ROWS {
        rows1.push(("new".into(), "A", 20, "k9".into()));
    }
    let build = |rows: &[(String, &str, i64, String)]| -> (EncodedTable, RowKeys) {
        let ward: ArrayRef = Arc::new(StringArray::from(
            rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        ));
        let los: ArrayRef = Arc::new(Int64Array::from(
            rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        ));
        let key: ArrayRef = Arc::new(StringArray::from(
            rows.iter().map(|r| r.3.as_str()).collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_from_iter([("ward", ward), ("los", los), ("key", key)])
            .expect("batch");
        let table = encode_batches(&schema, &[batch], EncodeOptions::default()).expect("encode");
        let ids = RowKeys::from_strings("pid", rows.iter().map(|r| Some(r.0.as_str())), false)
            .expect("ids");
        (table, ids)
    };
    let (t0, i0) = build(&rows);
    let (t1, i1) = build(&rows1);
    Pair {
        schema,
        tables: [t0, t1],
        ids: [i0, i1],
    }
}

impl Pair {
    /// Person-level data (at most `M` rows a person) for `x` and `x'`.
    fn person_level(&self) -> [DpData<'_>; 2] {
        [0, 1].map(|i| DpData::by_person(&self.tables[i], &self.ids[i], M, 7).expect("bounded"))
    }

    /// Row-level data: the control, which protects one row while the person has five.
    fn row_level(&self) -> [DpData<'_>; 2] {
        [0, 1].map(|i| DpData::row_level(&self.tables[i]))
    }
}

fn col(n: &str) -> Dimension {
    Dimension::Column(n.into())
}

// ---------------------------------------------------------------------------------------
// The audits.

fn count_run(data: &DpData<'_>) -> f64 {
    let mut s = Session::pure(EPS).unwrap();
    count(&mut s, data, &Cost::epsilon(EPS), NoiseFamily::Laplace)
        .unwrap()
        .value
}

#[test]
fn count_is_at_most_its_epsilon() {
    let p = pair();
    let d = p.person_level();
    assert_holds(&audit("count (discrete Laplace)", EPS, 0.0, |n| {
        count_run(&d[n as usize])
    }));
    let c = p.row_level();
    assert_caught(&audit("count, control: row-level, 5 rows", EPS, 0.0, |n| {
        count_run(&c[n as usize])
    }));
}

fn sum_run(data: &DpData<'_>) -> f64 {
    let mut s = Session::pure(EPS).unwrap();
    let q = NumericQuery::new("los", 0.0, 20.0, Cost::epsilon(EPS));
    sum(&mut s, data, &q).unwrap().value
}

#[test]
fn sum_is_at_most_its_epsilon() {
    let p = pair();
    let d = p.person_level();
    assert_holds(&audit("sum of los clamped to [0, 20]", EPS, 0.0, |n| {
        sum_run(&d[n as usize])
    }));
    let c = p.row_level();
    assert_caught(&audit("sum, control: row-level, 5 rows", EPS, 0.0, |n| {
        sum_run(&c[n as usize])
    }));
}

fn ward_a(data: &DpData<'_>) -> f64 {
    let mut s = Session::pure(EPS).unwrap();
    let q = HistogramQuery::new(vec![col("ward")], Cost::epsilon(EPS));
    let t = histogram(&mut s, data, &q).unwrap();
    let a = t.labels[0].iter().position(|l| l == "A").expect("ward A");
    t.counts[a] as f64
}

#[test]
fn histogram_cell_is_at_most_its_epsilon() {
    let p = pair();
    let d = p.person_level();
    assert_holds(&audit("histogram(ward), cell A", EPS, 0.0, |n| {
        ward_a(&d[n as usize])
    }));
    let c = p.row_level();
    assert_caught(&audit(
        "histogram cell, control: row-level",
        EPS,
        0.0,
        |n| ward_a(&c[n as usize]),
    ));
}

/// Delta of the group-by audits: large, so that a release of the new key is common enough
/// to measure in a few thousand runs.
const GROUP_DELTA: f64 = 0.01;

/// The group-by of one column as `group_by` runs it: the kept rows' exact counts per code,
/// and the thresholded mechanism `group_by` builds for them (calibrated once here, as the
/// calibration's search for the threshold dominates a run; checked against `group_by`).
struct GroupBy<'a> {
    data: &'a DpData<'a>,
    exact: Vec<(u64, i64)>,
    mech: ThresholdedCounts,
    share: Cost,
}

impl<'a> GroupBy<'a> {
    fn new(data: &'a DpData<'a>, dim: &str) -> GroupBy<'a> {
        let share = Cost::epsilon(EPS).with_delta(GROUP_DELTA);
        let m = data.bounded().max_rows_per_person();
        let mech = ThresholdedCounts::for_cost(
            ThresholdNoise::Laplace,
            m,
            f64::from(m),
            f64::from(m),
            &share,
        )
        .unwrap();
        // The same threshold and cost as the query itself.
        let mut s = Session::new(share).unwrap();
        let q = GroupByQuery {
            dimensions: vec![col(dim)],
            share,
            noise: NoiseFamily::Laplace,
        };
        let r = group_by(&mut s, data, &q).unwrap();
        assert_eq!(r.threshold, mech.threshold());
        assert_eq!(s.spent(), mech.cost().unwrap());
        let codes = &data.table().column(dim).unwrap().codes;
        let mut counts = std::collections::BTreeMap::<u64, i64>::new();
        let kept: Vec<usize> = match data.bounded().rows() {
            Some(r) => r.iter().map(|&r| r as usize).collect(),
            None => (0..data.bounded().n_rows()).collect(),
        };
        for r in kept {
            *counts.entry(u64::from(codes[r])).or_default() += 1;
        }
        GroupBy {
            data,
            exact: counts.into_iter().collect(),
            mech,
            share,
        }
    }

    /// One release: the noisy count of `code`, or `-inf` when it was not released.
    fn run(&self, code: u64) -> f64 {
        let mut s = Session::new(self.share).unwrap();
        let record = self.data.record("group_by", &[]);
        let out = s.release(&self.mech, &self.exact, record).unwrap().value;
        out.iter()
            .find(|(k, _)| *k == code)
            .map_or(f64::NEG_INFINITY, |&(_, c)| c as f64)
    }
}

/// The code of `column` in the last row of `table` (the new person's).
fn last_code(table: &EncodedTable, column: &str) -> u64 {
    let codes = &table.column(column).unwrap().codes;
    u64::from(codes[codes.len() - 1])
}

#[test]
fn thresholded_group_by_is_at_most_its_epsilon_and_delta() {
    let p = pair();
    let d = p.person_level();
    let k9 = last_code(&p.tables[1], "key");
    let ward_a = last_code(&p.tables[1], "ward");
    // The new person's rows in a key nobody else has: released with probability at most
    // the charged delta, which the (epsilon, delta) bound absorbs.
    let g = [GroupBy::new(&d[0], "key"), GroupBy::new(&d[1], "key")];
    assert_holds(&audit(
        "group_by(key): a key only the new person has",
        EPS,
        GROUP_DELTA,
        |n| g[n as usize].run(k9),
    ));
    let n = trials();
    let released = (0..n).filter(|_| g[1].run(k9) > f64::NEG_INFINITY).count();
    let charged = g[1].mech.cost().unwrap().delta();
    let lower = cp_lower(released, n, ALPHA);
    println!(
        "audit group_by: the new key released in {released} of {n} runs (CP lower {lower:.5}, \
         charged delta {charged:.5}, threshold {})",
        g[1].mech.threshold()
    );
    assert!(
        lower <= charged,
        "release rate {lower} above the charged delta {charged}"
    );
    // Their rows in a key that is there already: the noisy count moves.
    let w = [GroupBy::new(&d[0], "ward"), GroupBy::new(&d[1], "ward")];
    assert_holds(&audit(
        "group_by(ward): ward A's released count",
        EPS,
        GROUP_DELTA,
        |n| w[n as usize].run(ward_a),
    ));
    let c = p.row_level();
    let gc = [GroupBy::new(&c[0], "key"), GroupBy::new(&c[1], "key")];
    assert_caught(&audit(
        "group_by, control: row-level, new key",
        EPS,
        GROUP_DELTA,
        |n| gc[n as usize].run(k9),
    ));
}

fn median_run(data: &DpData<'_>) -> f64 {
    let mut s = Session::pure(EPS).unwrap();
    let q = QuantileQuery {
        column: "los".into(),
        quantiles: vec![0.5],
        lower: 0.0,
        upper: 20.0,
        candidates: Some((0..=20).map(f64::from).collect()),
        share: Cost::epsilon(EPS),
    };
    quantiles(&mut s, data, &q).unwrap()[0].value
}

#[test]
fn quantile_is_at_most_its_epsilon() {
    let p = pair();
    let d = p.person_level();
    assert_holds(&audit("median of los (permute-and-flip)", EPS, 0.0, |n| {
        median_run(&d[n as usize])
    }));
    let c = p.row_level();
    assert_caught(&audit(
        "median, control: row-level, 5 rows",
        EPS,
        0.0,
        |n| median_run(&c[n as usize]),
    ));
}

// MST's selection: three binary columns, the three pairs as candidates, scored by MST's
// soft-thresholded L1 error (`pets_synth::mst::pair_score`) against a public independent
// estimate, selected by the exponential mechanism under zCDP as `fit_mst_bounded` does.

/// Rows of `x` for each (a, b, c), chosen so that the new person's rows at (1, 1, 1) raise
/// the score of pair (a, b) and lower that of (a, c).
const MST_CELLS: [((usize, usize, usize), usize); 8] = [
    ((0, 0, 0), 8),
    ((0, 0, 1), 5),
    ((0, 1, 0), 1),
    ((1, 0, 0), 0),
    ((0, 1, 1), 9),
    ((1, 0, 1), 2),
    ((1, 1, 0), 14),
    ((1, 1, 1), 1),
];

/// Public inputs of the score: the total and the 1-way probabilities (in MST, released
/// noisy figures; here fixed), and the soft threshold `tau`.
const MST_TOTAL: f64 = 40.0;
const MST_TAU: f64 = 1.0;

/// Scores of the three pairs on the rows `bounded` keeps.
fn mst_scores(rows: &[(usize, usize, usize)], bounded: &Bounded) -> Vec<f64> {
    let kept: Vec<usize> = match bounded.rows() {
        Some(r) => r.iter().map(|&r| r as usize).collect(),
        None => (0..rows.len()).collect(),
    };
    let half = [0.5, 0.5];
    let pick = |r: (usize, usize, usize), i: usize| [r.0, r.1, r.2][i];
    [(0, 1), (0, 2), (1, 2)]
        .iter()
        .map(|&(i, j)| {
            let mut x = [0u64; 4];
            for &k in &kept {
                x[pick(rows[k], i) * 2 + pick(rows[k], j)] += 1;
            }
            pets_synth::mst::pair_score(&x, &half, &half, MST_TOTAL, MST_TAU)
        })
        .collect()
}

/// The two neighbouring score vectors, with person-level bounding (`m = 3`) or row-level.
fn mst_pair(person_level: bool) -> [Vec<f64>; 2] {
    let mut rows = Vec::new();
    let mut people = Vec::new();
    for (cell, k) in MST_CELLS {
        for _ in 0..k {
            people.push(format!("p{}", rows.len()));
            rows.push(cell);
        }
    }
    let mut rows1 = rows.clone();
    let mut people1 = people.clone();
    for _ in 0..NEW_ROWS {
        rows1.push((1, 1, 1));
        people1.push("new".into());
    }
    let scores = |rows: &[(usize, usize, usize)], people: &[String]| {
        let bounded = if person_level {
            let ids = RowKeys::from_strings("pid", people.iter().map(|p| Some(p.as_str())), false)
                .unwrap();
            Bounded::by_person(&ids, M, 11).unwrap()
        } else {
            Bounded::row_level(rows.len())
        };
        mst_scores(rows, &bounded)
    };
    [scores(&rows, &people), scores(&rows1, &people1)]
}

/// One round of MST's selection at `rho` with score sensitivity `sens`.
fn select(scores: &[f64], sens: f64, rho: f64) -> f64 {
    let mut s = Session::zcdp(rho).unwrap();
    let sel = Selection::for_cost(sens, false, scores.len(), &Cost::rho(rho)).unwrap();
    let record = QueryRecord::new(
        "mst: select",
        vec![],
        pets::dp::Contribution::row_level("audit"),
    );
    s.release(&sel, scores, record).unwrap().value as f64
}

#[test]
fn mst_selection_is_at_most_its_epsilon() {
    // The exponential mechanism at scale s is (2 Delta / s)-DP and (2 Delta / s)^2 / 8-zCDP
    // (Cesar & Rogers 2021): audit the pure epsilon that the charged rho stands for.
    let rho = EPS * EPS / 8.0;
    let [s0, s1] = mst_pair(true);
    let moved = s0
        .iter()
        .zip(&s1)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(moved <= f64::from(M) + 1e-9, "scores moved by {moved}");
    assert!(
        moved >= 2.0,
        "the pair should move the scores: {s0:?} {s1:?}"
    );
    assert_holds(&audit(
        "MST selection (exponential mechanism)",
        EPS,
        0.0,
        |n| select(if n { &s1 } else { &s0 }, f64::from(M), rho),
    ));
    // Control: sensitivity 1 charged (row level) while one person moves the scores by 5.
    let [c0, c1] = mst_pair(false);
    assert_caught(&audit(
        "MST selection, control: sensitivity 1",
        EPS,
        0.0,
        |n| select(if n { &c1 } else { &c0 }, 1.0, rho),
    ));
}

#[test]
fn the_pair_differs_by_one_person_with_m_kept_rows() {
    let p = pair();
    let d = p.person_level();
    assert_eq!(
        d[1].bounded().n_selected(),
        d[0].bounded().n_selected() + M as usize
    );
    assert_eq!(p.schema.names().count(), 3);
}

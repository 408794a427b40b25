//! Inference tests: exact marginals are reproduced; on a tree the fit is the closed-form
//! product of conditionals.

use super::*;
use pets::progress::Progress;

/// Counts of a small 3-attribute data set (sizes 2, 3, 4) with dependence along 0-1-2.
fn joint() -> (Vec<usize>, Vec<f64>) {
    let sizes = vec![2, 3, 4];
    let mut x = Vec::new();
    for a in 0..2 {
        for b in 0..3 {
            for c in 0..4 {
                x.push(1.0 + ((a * 7 + b * 3 + c * c * (b + 1)) % 11) as f64 * 10.0);
            }
        }
    }
    (sizes, x)
}

fn names() -> Vec<String> {
    ["a", "b", "c"].iter().map(|s| s.to_string()).collect()
}

fn exact(sizes: &[usize], x: &[f64], attrs: &[usize]) -> Vec<f64> {
    let f = Factor::from_vec(&[0, 1, 2], sizes, x.to_vec());
    f.sum_to(attrs).to_vec()
}

fn measurement(sizes: &[usize], x: &[f64], attrs: &[usize]) -> Measurement {
    Measurement {
        attrs: attrs.to_vec(),
        values: exact(sizes, x, attrs),
        sigma: 1.0,
        scale: None,
        threshold: None,
    }
}

fn opts() -> EstimationOptions {
    EstimationOptions {
        max_iters: 3000,
        tolerance: 1e-12,
        ..Default::default()
    }
}

#[test]
fn exact_marginals_are_reproduced() {
    let (sizes, x) = joint();
    let sets: Vec<Vec<usize>> = vec![vec![0], vec![1], vec![2], vec![0, 1], vec![1, 2]];
    let ms: Vec<Measurement> = sets.iter().map(|s| measurement(&sizes, &x, s)).collect();
    let (model, report) = estimate(&sizes, &names(), &ms, &[], &opts()).unwrap();
    let n: f64 = x.iter().sum();
    assert!((report.total - n).abs() < 1e-6 * n, "{}", report.total);
    for s in &sets {
        let want = exact(&sizes, &x, s);
        let got = model.marginal(s).unwrap().to_vec();
        for (w, g) in want.iter().zip(&got) {
            assert!((w / n - g).abs() < 1e-6, "{s:?}: {w} vs {}", g * n);
        }
    }
}

#[test]
fn tree_fit_is_the_product_of_conditionals() {
    let (sizes, x) = joint();
    let n: f64 = x.iter().sum();
    // Start from a neutral point (1-way measurements only on a and c, pairs as given),
    // so the warm start is not simply the answer.
    let ms = vec![
        measurement(&sizes, &x, &[0, 1]),
        measurement(&sizes, &x, &[1, 2]),
        measurement(&sizes, &x, &[0]),
    ];
    let (model, _) = estimate(&sizes, &names(), &ms, &[], &opts()).unwrap();
    let p01 = exact(&sizes, &x, &[0, 1]);
    let p12 = exact(&sizes, &x, &[1, 2]);
    let p1 = exact(&sizes, &x, &[1]);
    // The model's joint from its clique tables: p(a,b) p(b,c) / p(b).
    let m01 = model.marginal(&[0, 1]).unwrap().to_vec();
    let m12 = model.marginal(&[1, 2]).unwrap().to_vec();
    let m1 = model.marginal(&[1]).unwrap().to_vec();
    for a in 0..2 {
        for b in 0..3 {
            for c in 0..4 {
                let want = p01[a * 3 + b] * p12[b * 4 + c] / p1[b] / n;
                let got = m01[a * 3 + b] * m12[b * 4 + c] / m1[b];
                assert!((want - got).abs() < 1e-6, "({a},{b},{c}): {want} vs {got}");
            }
        }
    }
}

#[test]
fn loopy_model_fits_consistent_pairs() {
    let (sizes, x) = joint();
    let n: f64 = x.iter().sum();
    let sets: Vec<Vec<usize>> = vec![vec![0, 1], vec![1, 2], vec![0, 2]];
    let ms: Vec<Measurement> = sets.iter().map(|s| measurement(&sizes, &x, s)).collect();
    let (model, _) = estimate(&sizes, &names(), &ms, &[], &opts()).unwrap();
    assert_eq!(model.tree.cliques, vec![vec![0, 1, 2]]);
    for s in &sets {
        let want = exact(&sizes, &x, s);
        let got = model.marginal(s).unwrap().to_vec();
        for (w, g) in want.iter().zip(&got) {
            assert!((w / n - g).abs() < 1e-4, "{s:?}");
        }
    }
}

#[test]
fn bad_measurements_are_refused() {
    let sizes = vec![2, 3];
    let m = Measurement {
        attrs: vec![0, 1],
        values: vec![1.0; 5],
        sigma: 1.0,
        scale: None,
        threshold: None,
    };
    let e = estimate(&sizes, &names()[..2], &[m], &[], &opts()).unwrap_err();
    assert!(e.to_string().contains("5 values for 6 cells"), "{e}");
    let m = Measurement {
        attrs: vec![0],
        values: vec![1.0, f64::NAN],
        sigma: 1.0,
        scale: None,
        threshold: None,
    };
    assert!(estimate(&sizes, &names()[..2], &[m], &[], &opts()).is_err());
    let big = vec![1000, 1000, 1000];
    let m = Measurement {
        attrs: vec![0],
        values: vec![1.0; 1000],
        sigma: 1.0,
        scale: None,
        threshold: None,
    };
    let tight = EstimationOptions {
        max_clique_cells: 10,
        ..opts()
    };
    let e = estimate(&big, &names(), &[m], &[vec![0, 1, 2]], &tight).unwrap_err();
    assert!(matches!(e, crate::SynthError::CliqueTooLarge { .. }), "{e}");
}

#[test]
fn a_work_budget_scales_iterations_to_the_model() {
    use super::estimation::iteration_cap;
    use super::junction_tree::JunctionTree;
    let sizes = [3usize, 4, 5];
    let tree = JunctionTree::build(&sizes, &names(), &[vec![0, 1], vec![1, 2]], 1 << 20).unwrap();
    let cells: usize = tree
        .cliques
        .iter()
        .map(|c| c.iter().map(|&a| sizes[a]).product::<usize>())
        .sum();
    assert_eq!(cells, 32);
    let budget = |b: f64, lo: usize, hi: usize| EstimationOptions {
        max_iters: hi,
        work_budget: Some(b),
        min_iters: lo,
        ..Default::default()
    };
    assert_eq!(iteration_cap(&budget(3200.0, 20, 1000), &tree, &sizes), 100);
    assert_eq!(iteration_cap(&budget(320.0, 20, 1000), &tree, &sizes), 20);
    assert_eq!(iteration_cap(&budget(1e9, 20, 1000), &tree, &sizes), 1000);
    assert_eq!(iteration_cap(&budget(1e9, 20, 5), &tree, &sizes), 5);
    let fixed = EstimationOptions {
        max_iters: 7,
        ..Default::default()
    };
    assert_eq!(iteration_cap(&fixed, &tree, &sizes), 7);
}

/// A warm start raked to a newly measured sparse table: a pair `(a, b)` where each of 200
/// `a` values maps to one `b` of 50 (the other 9,800 cells empty), 100 rows per `a`, with
/// noise of sigma 5. From the independence model of the 1-ways, three warm-started
/// iterations land near the converged fit (the cold start with thousands); without the
/// rake (what `estimate_warm` did before), entropic mirror descent moves mass out of the
/// empty cells only geometrically and stayed far from it.
#[test]
fn a_warm_start_is_raked_to_a_new_sparse_measurement() {
    let sizes = vec![200, 50];
    let names: Vec<String> = vec!["a".into(), "b".into()];
    let mut pair = vec![0.0; 200 * 50];
    for a in 0..200 {
        pair[a * 50 + (a * 7) % 50] = 100.0;
    }
    // Deterministic noise in [-5, 5].
    let noise = |i: usize| ((i * 2_654_435_761) % 1_001) as f64 / 100.0 - 5.0;
    let one = |attrs: Vec<usize>, v: Vec<f64>| Measurement {
        attrs,
        values: v,
        sigma: 5.0,
        scale: None,
        threshold: None,
    };
    let f = Factor::from_vec(&[0, 1], &sizes, pair.clone());
    let ones = vec![
        one(vec![0], f.sum_to(&[0]).to_vec()),
        one(vec![1], f.sum_to(&[1]).to_vec()),
    ];
    let few = EstimationOptions {
        max_iters: 3,
        tolerance: 0.0,
        ..Default::default()
    };
    let (_, _, warm) =
        estimate_warm(&sizes, &names, &ones, &[], None, &few, &Progress::none()).unwrap();
    let noisy: Vec<f64> = pair.iter().enumerate().map(|(i, v)| v + noise(i)).collect();
    let mut all = ones.clone();
    all.push(one(vec![0, 1], noisy));
    let (fast, fast_report, _) = estimate_warm(
        &sizes,
        &names,
        &all,
        &[],
        Some(&warm),
        &few,
        &Progress::none(),
    )
    .unwrap();
    let (slow, slow_report) = estimate(&sizes, &names, &all, &[], &opts()).unwrap();
    let l1 = |m: &GraphModel| -> f64 {
        let p = m.marginal(&[0, 1]).unwrap().to_vec();
        p.iter()
            .zip(&pair)
            .map(|(q, t)| (q * m.total - t).abs())
            .sum()
    };
    let (e_fast, e_slow) = (l1(&fast), l1(&slow));
    // 20,000 rows; the independence start is off by nearly 2 x 20,000.
    assert!(e_slow < 4_000.0, "converged fit {e_slow}");
    assert!(
        e_fast < 1.5 * e_slow + 500.0,
        "raked warm start {e_fast} vs {e_slow}"
    );
    assert!(fast_report.loss < 2.0 * slow_report.loss + 1.0);
}

/// A thresholded measurement's term: the squared error where released, the one-sided hinge
/// `1/2 (max(0, q x - T) / sigma)^2` where censored; the gradient matches finite differences.
#[test]
fn censored_cells_cost_the_hinge_above_the_threshold() {
    let m = Measurement {
        attrs: vec![0],
        values: vec![120.0, 0.0, 0.0, 300.0],
        sigma: 4.0,
        scale: Some(vec![1.0, 2.0, 1.0, 1.0]),
        threshold: Some(100.0),
    };
    assert!(!m.is_censored(0) && m.is_censored(1) && m.is_censored(2) && !m.is_censored(3));
    let x = [110.0, 60.0, 40.0, 290.0];
    let (loss, grad) = m.loss_and_gradient(&x);
    // Released: (110 - 120)^2 and (290 - 300)^2; censored: q x = 120 is 20 above T, 40 is below.
    let want = 0.5 * (100.0 + 400.0 + 100.0) / 16.0;
    assert!((loss - want).abs() < 1e-12, "{loss} vs {want}");
    for j in 0..4 {
        let h = 1e-5;
        let (mut up, mut down) = (x, x);
        up[j] += h;
        down[j] -= h;
        let fd = (m.loss_and_gradient(&up).0 - m.loss_and_gradient(&down).0) / (2.0 * h);
        assert!((fd - grad[j]).abs() < 1e-6, "cell {j}: {fd} vs {}", grad[j]);
    }
    assert_eq!(grad[2], 0.0, "a censored cell below T has no gradient");
    // Left out of the total; a dense measurement beside it sets it.
    let dense = Measurement {
        attrs: vec![0],
        values: vec![100.0; 4],
        sigma: 1.0,
        scale: None,
        threshold: None,
    };
    assert_eq!(estimate_total(std::slice::from_ref(&m)), 1.0);
    assert_eq!(estimate_total(&[m.clone(), dense.clone()]), 400.0);
    // A threshold must be positive and finite.
    let bad = Measurement {
        threshold: Some(f64::NAN),
        ..m
    };
    let e = estimate(&[4], &["a".to_string()], &[bad], &[], &opts()).unwrap_err();
    assert!(e.to_string().contains("threshold"), "{e}");
}

/// A sparse pair released above a threshold, with dense 1-ways: the estimate matches the
/// released cells, keeps every censored cell near or below `T`, and puts the suppressed mass
/// where the 1-ways say it is.
#[test]
fn thresholded_pair_is_fit_where_released_and_bounded_where_censored() {
    let sizes = vec![6, 5];
    // Row i: one big cell (i, i % 5) and small cells below T elsewhere in the row.
    let mut x = vec![0.0; 30];
    for i in 0..6 {
        x[i * 5 + i % 5] = 1_000.0 + 100.0 * i as f64;
        x[i * 5 + (i + 1) % 5] = 30.0;
    }
    let pair = Factor::from_vec(&[0, 1], &sizes, x.clone());
    let t = 100.0;
    let censored = Measurement {
        attrs: vec![0, 1],
        values: x.iter().map(|&v| if v >= t { v } else { 0.0 }).collect(),
        sigma: 1.0,
        scale: None,
        threshold: Some(t),
    };
    let ones: Vec<Measurement> = (0..2)
        .map(|a| Measurement {
            attrs: vec![a],
            values: pair.sum_to(&[a]).to_vec(),
            sigma: 1.0,
            scale: None,
            threshold: None,
        })
        .collect();
    let mut ms = ones.clone();
    ms.push(censored.clone());
    let names: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
    let (model, report) = estimate(&sizes, &names, &ms, &[], &opts()).unwrap();
    let n: f64 = x.iter().sum();
    assert!(
        (report.total - n).abs() < 1e-6 * n,
        "{} vs {n}",
        report.total
    );
    let est: Vec<f64> = model
        .marginal(&[0, 1])
        .unwrap()
        .to_vec()
        .iter()
        .map(|p| p * report.total)
        .collect();
    for (j, (&e, &truth)) in est.iter().zip(&x).enumerate() {
        if censored.is_censored(j) {
            assert!(e <= t + 1.0, "censored cell {j}: {e}");
        } else {
            assert!((e - truth).abs() < 1.0, "released cell {j}: {e} vs {truth}");
        }
    }
    // The 1-ways hold: each row's suppressed 30 went to its censored cells.
    for (a, m) in ones.iter().enumerate() {
        let got = Factor::from_vec(&[0, 1], &sizes, est.clone())
            .sum_to(&[a])
            .to_vec();
        for (g, w) in got.iter().zip(&m.values) {
            assert!((g - w).abs() < 1.0, "attr {a}: {g} vs {w}");
        }
    }
}

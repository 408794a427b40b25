//! The projector against the model's joint by brute force, on a branching tree: every
//! query, every root and the cell limit.

use super::*;
use crate::inference::{EstimationOptions, Measurement, estimate};

/// A model over six attributes whose junction tree branches: cliques {0,1,2}, {1,3},
/// {2,4}, {4,5}, fitted to random noisy marginals.
fn branching() -> GraphModel {
    let sizes = vec![2, 3, 2, 4, 3, 2];
    let names: Vec<String> = (0..6).map(|i| format!("x{i}")).collect();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut unit = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let ms: Vec<Measurement> = [vec![0, 1, 2], vec![1, 3], vec![2, 4], vec![4, 5]]
        .into_iter()
        .map(|attrs| {
            let n: usize = attrs.iter().map(|&a| sizes[a]).product();
            Measurement {
                attrs,
                values: (0..n).map(|_| 5.0 + 95.0 * unit()).collect(),
                sigma: 1.0,
                scale: None,
                threshold: None,
            }
        })
        .collect();
    estimate(&sizes, &names, &ms, &[], &EstimationOptions::default())
        .unwrap()
        .0
}

/// The joint over every attribute, cell by cell: `p_R prod_C p_C / p_{S_C}` along the
/// tree from clique 0, with scalar lookups only (none of the projector's table code).
fn brute_joint(model: &GraphModel) -> Vec<f64> {
    let sizes = &model.sizes;
    let tree = &model.tree;
    let k = tree.cliques.len();
    let mut parent = vec![None; k];
    let mut seen = vec![false; k];
    let mut order = vec![0];
    seen[0] = true;
    let mut head = 0;
    while head < order.len() {
        let c = order[head];
        head += 1;
        for &nb in &tree.neighbors[c] {
            if !seen[nb] {
                seen[nb] = true;
                parent[nb] = Some(c);
                order.push(nb);
            }
        }
    }
    assert_eq!(order.len(), k, "the tree is connected");
    let lookup = |f: &Factor, x: &[usize]| -> f64 {
        let idx: Vec<usize> = f.attrs.iter().map(|&a| x[a]).collect();
        f.values[idx.as_slice()]
    };
    let total: usize = sizes.iter().product();
    let mut joint = Vec::with_capacity(total);
    for flat in 0..total {
        let mut x = vec![0; sizes.len()];
        let mut rest = flat;
        for a in (0..sizes.len()).rev() {
            x[a] = rest % sizes[a];
            rest /= sizes[a];
        }
        let mut p = 1.0;
        for &c in &order {
            p *= lookup(&model.marginals[c], &x);
            if let Some(q) = parent[c] {
                let s = model.marginals[c].sum_to(&tree.separator(c, q));
                let d = lookup(&s, &x);
                p = if d > 0.0 { p / d } else { 0.0 };
            }
        }
        joint.push(p);
    }
    joint
}

fn subsets(n: usize, max: usize) -> Vec<Vec<usize>> {
    (1u32..1 << n)
        .map(|m| (0..n).filter(|&i| m & (1 << i) != 0).collect::<Vec<_>>())
        .filter(|s| s.len() <= max)
        .collect()
}

#[test]
fn every_query_matches_the_joint_from_every_root() {
    let model = branching();
    assert!(model.tree.cliques.len() >= 4, "{:?}", model.tree.cliques);
    let all: Vec<usize> = (0..6).collect();
    let joint = Factor::from_vec(&all, &model.sizes, brute_joint(&model));
    let projector = Projector::new(&model);
    for attrs in subsets(6, 4) {
        let want = joint.sum_to(&attrs).to_vec();
        let got = projector.project(&attrs, u64::MAX).unwrap();
        assert_eq!(got.attrs, attrs);
        for (w, g) in want.iter().zip(got.to_vec()) {
            assert!((w - g).abs() < 1e-12, "{attrs:?}: {w} vs {g}");
        }
        // The same answer whichever clique roots it.
        for root in 0..model.tree.cliques.len() {
            let plan = projector.plan(root, &attrs).unwrap();
            let from_root = projector.run(&plan, &attrs).to_vec();
            for (w, g) in want.iter().zip(from_root) {
                assert!((w - g).abs() < 1e-12, "{attrs:?} from {root}: {w} vs {g}");
            }
        }
    }
}

#[test]
fn the_cheapest_plan_within_the_limit_runs_and_none_above_it() {
    let model = branching();
    let projector = Projector::new(&model);
    let attrs = [0, 3, 5];
    let plans: Vec<Plan> = (0..model.tree.cliques.len())
        .filter_map(|r| projector.plan(r, &attrs))
        .collect();
    let least = plans.iter().map(|p| p.largest).min().unwrap();
    // Below the smallest largest product no plan fits.
    assert!(projector.project(&attrs, (least - 1) as u64).is_none());
    assert!(projector.project(&attrs, least as u64).is_some());
    // Pairwise contraction never takes more cells than the query's own table times the
    // widest separator here, far below the union of every input.
    let sizes = &model.sizes;
    let union: u128 = (0..6).map(|a| sizes[a] as u128).product();
    assert!(least < union, "{least} vs {union}");
}

#[test]
fn a_contraction_sums_a_wide_input_before_it_meets_another() {
    // Inputs {0,1} (wide at 1) and {1,2} and {2,3}, keeping {0,3}: pairwise, 1 is summed
    // out as soon as {0,1} x {1,2} is formed, so no product holds 0, 1, 2 and 3 at once.
    let sizes = [3, 50, 4, 5];
    let c = Contraction::plan(&[vec![0, 1], vec![1, 2], vec![2, 3]], &[0, 3], &sizes);
    assert!(c.largest < 3 * 50 * 4 * 5, "{c:?}");
    let f = |attrs: &[usize], seed: f64| {
        let n: usize = attrs.iter().map(|&a| sizes[a]).product();
        Factor::from_vec(
            attrs,
            &sizes,
            (0..n).map(|i| seed + (i % 7) as f64).collect(),
        )
    };
    let (a, b, d) = (f(&[0, 1], 1.0), f(&[1, 2], 2.0), f(&[2, 3], 3.0));
    let got = c.run(vec![&a, &b, &d], &sizes).to_vec();
    let ab = Factor::product(&a, &b, &[0, 1, 2], &sizes);
    let all = Factor::product(&ab, &d, &[0, 1, 2, 3], &sizes);
    let want = all.sum_to(&[0, 3]).to_vec();
    for (w, g) in want.iter().zip(got) {
        assert!((w - g).abs() <= 1e-9 * w.abs(), "{w} vs {g}");
    }
}

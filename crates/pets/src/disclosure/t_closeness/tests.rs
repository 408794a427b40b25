use std::collections::BTreeMap;

use super::*;
use crate::disclosure::testutil::{cat, int, table};

/// Li et al.'s example: salaries 3k..11k (9 values), whole-table uniform; class {3k,4k,5k}
/// has ordered EMD 0.375 and class {6k,8k,11k} 0.167 (Table 3/4 of the paper).
#[test]
fn paper_salary_example() {
    let q = vec![1.0 / 9.0; 9];
    let e1 = emd_ordered(&[0, 1, 2], &[1, 1, 1], 3, &q);
    assert!((e1 - 0.375).abs() < 1e-9, "{e1}");
    let e2 = emd_ordered(&[3, 5, 8], &[1, 1, 1], 3, &q);
    assert!((e2 - 1.0 / 6.0).abs() < 1e-9, "{e2}");
    // equal distance: 1/2 (3*(1/3-1/9) + 6/9) = 2/3
    let e3 = emd_equal(&[0, 1, 2], &[1, 1, 1], 3, &q);
    assert!((e3 - 2.0 / 3.0).abs() < 1e-12);
}

/// Brute-force ordered EMD (the paper's formula, dense).
fn dense_ordered(p: &[f64], q: &[f64]) -> f64 {
    let idx: Vec<usize> = (0..q.len()).filter(|&i| q[i] > 0.0).collect();
    let m = idx.len();
    let mut cum = 0.0;
    let mut s = 0.0;
    for &i in &idx {
        cum += p[i] - q[i];
        s += cum.abs();
    }
    s / (m - 1) as f64
}

#[test]
fn ordered_matches_dense_formula() {
    let q = vec![0.1, 0.0, 0.25, 0.05, 0.3, 0.0, 0.2, 0.1];
    let cases: Vec<(Vec<u32>, Vec<u32>)> = vec![
        (vec![0], vec![3]),
        (vec![7], vec![1]),
        (vec![2, 4], vec![1, 1]),
        (vec![0, 3, 6, 7], vec![2, 1, 5, 2]),
        (vec![4], vec![9]),
    ];
    for (codes, counts) in cases {
        let size: u64 = counts.iter().map(|&k| u64::from(k)).sum();
        let mut p = vec![0.0; q.len()];
        for (&c, &k) in codes.iter().zip(&counts) {
            p[c as usize] = k as f64 / size as f64;
        }
        let fast = emd_ordered(&codes, &counts, size, &q);
        let slow = dense_ordered(&p, &q);
        assert!((fast - slow).abs() < 1e-12, "{codes:?}: {fast} vs {slow}");
    }
}

#[test]
fn hierarchical_two_level_equals_equal_distance() {
    // a flat hierarchy (all leaves under the root) gives the equal distance
    let t = table(vec![
        int("age", 2, &[0, 0, 0, 1, 1, 1]),
        cat("s", 3, &[0, 0, 1, 1, 2, 2]),
    ]);
    let c = EquivalenceClasses::compute(&t, &["age"], Some("s")).unwrap();
    let flat = Hierarchy::from_codes((0..3).map(|i| (i, vec![])).collect());
    let h = class_distances(&c, &GroundDistance::Hierarchical(flat)).unwrap();
    let e = class_distances(&c, &GroundDistance::Equal).unwrap();
    for (a, b) in h.iter().zip(&e) {
        assert!((a - b).abs() < 1e-12);
    }
}

#[test]
fn hierarchical_hand_computed() {
    // tree: root -> A{0,1}, B{2,3}; H = 2.
    // table: uniform over 4 values (q = 1/4 each); class = {0,1} each 1/2.
    // leaf extras: +1/4, +1/4, -1/4, -1/4. Node A: pos 1/2, neg 0 -> cost 0.
    // Node B: pos 0 -> 0. Root: extra(A)=+1/2, extra(B)=-1/2 -> min=1/2, height 2/2 -> 0.5.
    let paths: BTreeMap<u32, Vec<String>> = [
        (0, vec!["A".to_string()]),
        (1, vec!["A".to_string()]),
        (2, vec!["B".to_string()]),
        (3, vec!["B".to_string()]),
    ]
    .into_iter()
    .collect();
    let t = table(vec![
        int("age", 2, &[0, 0, 1, 1]),
        cat("s", 4, &[0, 1, 2, 3]),
    ]);
    let c = EquivalenceClasses::compute(&t, &["age"], Some("s")).unwrap();
    let h = Hierarchy::from_codes(paths.clone());
    let d = class_distances(&c, &GroundDistance::Hierarchical(h)).unwrap();
    assert!((d[0] - 0.5).abs() < 1e-12);
    // class {0,2}: extras +1/4,-1/4,+1/4,-1/4: A: pos 1/4 neg 1/4 -> (1/2)*1/4 = 1/8;
    // B: same 1/8; root: extra(A)=0, extra(B)=0 -> 0. Total 0.25.
    let t2 = table(vec![
        int("age", 2, &[0, 1, 0, 1]),
        cat("s", 4, &[0, 1, 2, 3]),
    ]);
    let c2 = EquivalenceClasses::compute(&t2, &["age"], Some("s")).unwrap();
    let d2 = class_distances(
        &c2,
        &GroundDistance::Hierarchical(Hierarchy::from_codes(paths)),
    )
    .unwrap();
    assert!((d2[0] - 0.25).abs() < 1e-12, "{d2:?}");
}

#[test]
fn table_level_and_errors() {
    let t = table(vec![
        int("age", 2, &[0, 0, 1, 1]),
        cat("s", 2, &[0, 0, 1, 1]),
    ]);
    let c = EquivalenceClasses::compute(&t, &["age"], Some("s")).unwrap();
    let r = t_closeness(&c, &GroundDistance::Auto, 0.3).unwrap();
    assert_eq!(r.distance, "equal");
    assert!((r.t - 0.5).abs() < 1e-12);
    assert_eq!((r.failing_classes, r.failing_records), (2, 4));
    assert!(matches!(
        t_closeness(&c, &GroundDistance::Auto, 1.5),
        Err(TClosenessError::InvalidT { .. })
    ));
    let incomplete = Hierarchy::from_codes([(0, vec![])].into_iter().collect());
    assert!(matches!(
        t_closeness(&c, &GroundDistance::Hierarchical(incomplete), 0.3),
        Err(TClosenessError::Hierarchy(HierarchyError::Incomplete {
            missing: 1,
            first: 1
        }))
    ));
    let nos = EquivalenceClasses::compute(&t, &["age"], None).unwrap();
    assert_eq!(
        t_closeness(&nos, &GroundDistance::Auto, 0.3).unwrap_err(),
        TClosenessError::NoSensitive
    );
    // ordered sensitive column -> ordered distance
    let t = table(vec![
        int("age", 2, &[0, 0, 1, 1]),
        int("s", 3, &[0, 1, 1, 2]),
    ]);
    let c = EquivalenceClasses::compute(&t, &["age"], Some("s")).unwrap();
    assert_eq!(
        t_closeness(&c, &GroundDistance::Auto, 0.3)
            .unwrap()
            .distance,
        "ordered"
    );
}

proptest::proptest! {
    /// The bound `RiskConfig::equal_distance_for_inferred` rests on: for any class and table
    /// distribution, the ordered EMD is at most the equal one, so switching an inferred
    /// integer column to the equal distance never understates t.
    #[test]
    fn the_ordered_distance_never_exceeds_the_equal_one(
        table in proptest::collection::vec(1u64..50, 2..12),
        pick in proptest::collection::vec(0u32..6, 2..12),
    ) {
        let m = table.len();
        let total: u64 = table.iter().sum();
        let q: Vec<f64> = table.iter().map(|&c| c as f64 / total as f64).collect();
        let (mut codes, mut counts) = (Vec::new(), Vec::new());
        for (i, &c) in pick.iter().take(m).enumerate() {
            if c > 0 {
                codes.push(i as u32);
                counts.push(c);
            }
        }
        proptest::prop_assume!(!codes.is_empty());
        let size: u64 = counts.iter().map(|&k| u64::from(k)).sum();
        let ordered = emd_ordered(&codes, &counts, size, &q);
        let equal = emd_equal(&codes, &counts, size, &q);
        proptest::prop_assert!(ordered <= equal + 1e-12, "{ordered} > {equal}");
    }
}

use super::*;

#[test]
fn zayatz_hand_computed() {
    // n = 4 (sizes 1,1,2), pi = 0.5 -> N = 8. u = 3.
    // P(1|1) = 4/8 = 0.5. P(1|2) = 2*C(6,3)/C(8,4) = 2*20/70 = 4/7.
    // denom = 2/3*0.5 + 1/3*4/7 = 1/3 + 4/21 = 11/21; cond = (2/3*0.5)/(11/21) = 7/11.
    // uniques = 2 * 7/11 / 0.5 = 28/11.
    let z = zayatz(&[(1, 2), (2, 1)], 0.5).unwrap();
    assert!((z - 28.0 / 11.0).abs() < 1e-10, "{z}");
}

#[test]
fn shlosser_hand_computed() {
    // sizes: 1 x3, 2 x1; pi = 0.5, q = .5, q2 = .75
    // a = 1*.25*1*3 + 2*.25*.75*1 = .75 + .375 = 1.125
    // b = (.75-.5)*3 + (.5625-.25)*1 = .75 + .3125 = 1.0625
    // c = .5*3 + .25 = 1.75 ; d = 1*.5*1*3 + 2*.5*.5*1 = 1.5 + .5 = 2
    // K = 4 + 3 * (1.125/1.0625) * (1.75/2)^2
    let k = shlosser(&[(1, 3), (2, 1)], 0.5);
    let want = 4.0 + 3.0 * (1.125 / 1.0625) * (0.875f64).powi(2);
    assert!((k - want).abs() < 1e-12);
}

/// The Pitman scores at the solution vanish (checked against the iterative sums).
#[test]
fn pitman_solves_score_equations() {
    let freq = [(1u64, 120u64), (2, 40), (3, 15), (4, 8), (7, 3), (20, 1)];
    let n: u64 = freq.iter().map(|(s, c)| s * c).sum();
    let big_n = n as f64 / 0.05;
    let est = pitman(&freq, big_n).expect("converges");
    assert!(est > 0.0 && est < big_n);
    // more sample uniques -> more population uniques
    let freq2 = [(1u64, 200u64), (2, 40), (3, 15), (4, 8), (7, 3), (20, 1)];
    let n2: u64 = freq2.iter().map(|(s, c)| s * c).sum();
    let est2 = pitman(&freq2, n2 as f64 / 0.05).unwrap();
    assert!(est2 > est);
}

#[test]
fn snb_fits_its_equations() {
    let freq = [(1u64, 300u64), (2, 100), (3, 40), (4, 20), (8, 5)];
    let n: u64 = freq.iter().map(|(s, c)| s * c).sum();
    let est = snb(&freq, 0.3, n as f64 / 0.3).expect("solves");
    assert!(est > 0.0);
    // population uniques cannot be fewer than the sample uniques' share that survive,
    // and not more than the population size
    assert!(est < n as f64 / 0.3);
}

#[test]
fn dankar_rule() {
    let freq = [(1u64, 120u64), (2, 40), (3, 15), (4, 8), (7, 3), (20, 1)];
    let small = population_uniqueness(&freq, 0.05).unwrap();
    assert_eq!(small.dankar_model, UniquenessModel::Pitman);
    assert_eq!(Some(small.dankar), small.pitman);
    let big = population_uniqueness(&freq, 0.5).unwrap();
    assert!(matches!(
        big.dankar_model,
        UniquenessModel::Snb | UniquenessModel::Zayatz
    ));
    if let Some(s) = big.snb {
        assert!((big.dankar - s.min(big.zayatz.unwrap())).abs() < 1e-9);
    }
    let none = population_uniqueness(&[(2, 5), (3, 1)], 0.1).unwrap();
    assert_eq!(none.dankar, 0.0);
    assert_eq!(none.dankar_model, UniquenessModel::NoSampleUniques);
    assert!(population_uniqueness(&freq, 0.0).is_err());
    assert!(population_uniqueness(&freq, 1.5).is_err());
}

/// pi = 1: the sample is the population; Zayatz gives exactly the sample uniques.
#[test]
fn full_population() {
    let z = zayatz(&[(1, 7), (2, 3), (5, 1)], 1.0).unwrap();
    assert!((z - 7.0).abs() < 1e-9, "{z}");
}

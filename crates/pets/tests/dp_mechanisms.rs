//! Proof of every mechanism: its noise matches the claimed distribution and scale, and its
//! privacy map matches the closed form.
//!
//! OpenDP's samplers draw from OpenSSL and cannot be seeded, so each statistical test uses a
//! bound that holds at every sample size (Dvoretzky-Kiefer-Wolfowitz-Massart for CDFs,
//! Hoeffding with a union bound for frequencies) at a false-failure rate of 1e-7 per test.
//! Sample sizes are chosen so that a 30% error in the scale fails by a wide margin (each test checks this power).

mod dp_common;

use std::collections::HashSet;

use dp_common::*;
use pets::dp::budget::{Cost, PrivacyMeasure};
use pets::dp::mechanisms::exponential::Selection;
use pets::dp::mechanisms::threshold::{ThresholdNoise, ThresholdedCounts};
use pets::dp::mechanisms::{
    DiscreteGaussian, DiscreteLaplace, Gaussian, Laplace, Mechanism, RandomizedResponse,
};
use pets::dp::queries::quantile::QuantileMechanism;
use pets::dp::{DpError, Session};

const N: usize = 40_000;

fn big_dp() -> Session {
    Session::pure(1e12).unwrap()
}

fn big_zcdp() -> Session {
    Session::zcdp(1e12).unwrap()
}

fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(f64::MIN_POSITIVE)
}

#[test]
fn laplace_noise_is_laplace_b() {
    let b = 3.0;
    let m = Laplace::new(1.0, b).unwrap();
    let mut s = big_dp();
    let rel = s.release(&m, &vec![0.0; N], record("laplace")).unwrap();
    let mut x = rel.value;
    let d = ks_distance(&mut x, |v| laplace_cdf(v, b), false);
    assert!(d < dkw(N, FALSE_FAILURE), "KS distance {d} vs Laplace({b})");
    // A 30% wrong scale is far outside the band (sanity of the test's power).
    let d_wrong = ks_distance(&mut x, |v| laplace_cdf(v, b * 1.3), false);
    assert!(
        d_wrong > dkw(N, FALSE_FAILURE),
        "test cannot tell b from 1.3 b: {d_wrong}"
    );
}

#[test]
fn laplace_privacy_map_is_delta_over_b() {
    for &(delta, b) in &[(1.0, 1.0), (3.0, 0.7), (720.0, 1440.0), (0.25, 10.0)] {
        let eps = Laplace::new(delta, b).unwrap().epsilon().unwrap();
        assert!(
            eps >= delta / b && rel_close(eps, delta / b, 1e-12),
            "{delta}/{b}: {eps}"
        );
    }
    // Calibrated to a target it never exceeds it.
    for &eps in &[0.1, 1.0, 0.3333] {
        let m = Laplace::for_epsilon(5.0, eps).unwrap();
        let got = m.epsilon().unwrap();
        assert!(got <= eps && rel_close(got, eps, 1e-9), "{got} vs {eps}");
    }
}

#[test]
fn gaussian_noise_is_normal_sigma() {
    let sigma = 2.5;
    let m = Gaussian::new(1.0, sigma).unwrap();
    let mut s = big_zcdp();
    let mut x = s
        .release(&m, &vec![0.0; N], record("gaussian"))
        .unwrap()
        .value;
    let d = ks_distance(&mut x, |v| normal_cdf(v, sigma), false);
    assert!(d < dkw(N, FALSE_FAILURE), "KS distance {d}");
    let d_wrong = ks_distance(&mut x, |v| normal_cdf(v, sigma * 1.3), false);
    assert!(d_wrong > dkw(N, FALSE_FAILURE), "no power: {d_wrong}");
}

#[test]
fn gaussian_privacy_map_is_delta_sq_over_two_sigma_sq() {
    for &(delta, sigma) in &[(1.0, 1.0), (3.0, 0.7), (720.0, 1440.0)] {
        let rho = Gaussian::new(delta, sigma).unwrap().rho().unwrap();
        let want = delta * delta / (2.0 * sigma * sigma);
        assert!(
            rho >= want && rel_close(rho, want, 1e-12),
            "{rho} vs {want}"
        );
    }
    let m = Gaussian::for_rho(2.0, 0.125).unwrap();
    assert!(m.rho().unwrap() <= 0.125);
}

#[test]
fn discrete_laplace_noise_matches_pmf() {
    for &b in &[0.8, 4.0] {
        let m = DiscreteLaplace::new(1.0, b).unwrap();
        let mut s = big_dp();
        let v = s.release(&m, &vec![0i64; N], record("dlap")).unwrap().value;
        let mut x: Vec<f64> = v.iter().map(|&z| z as f64).collect();
        let d = ks_distance(&mut x, |t| discrete_laplace_cdf(t, b), true);
        assert!(d < dkw(N, FALSE_FAILURE), "b={b}: KS {d}");
        let d_wrong = ks_distance(&mut x, |t| discrete_laplace_cdf(t, b * 1.3), true);
        assert!(d_wrong > dkw(N, FALSE_FAILURE), "b={b}: no power {d_wrong}");
    }
}

#[test]
fn discrete_laplace_map_and_calibration() {
    for &(delta, b) in &[(1.0, 1.0), (3.0, 2.0), (5.0, 0.5)] {
        let eps = DiscreteLaplace::new(delta, b).unwrap().epsilon().unwrap();
        assert!(eps >= delta / b && rel_close(eps, delta / b, 1e-12));
    }
    let m = DiscreteLaplace::for_epsilon(3.0, 1.0).unwrap();
    assert!(m.epsilon().unwrap() <= 1.0);
    assert!(rel_close(m.scale(), 3.0, 1e-9));
}

#[test]
fn discrete_gaussian_noise_matches_pmf() {
    for &sigma in &[0.9, 5.0] {
        let m = DiscreteGaussian::new(1.0, sigma).unwrap();
        let mut s = big_zcdp();
        let v = s
            .release(&m, &vec![0i64; N], record("dgauss"))
            .unwrap()
            .value;
        let mut x: Vec<f64> = v.iter().map(|&z| z as f64).collect();
        let d = ks_distance(&mut x, |t| discrete_gaussian_cdf(t, sigma), true);
        assert!(d < dkw(N, FALSE_FAILURE), "sigma={sigma}: KS {d}");
        let d_wrong = ks_distance(&mut x, |t| discrete_gaussian_cdf(t, sigma * 1.3), true);
        assert!(
            d_wrong > dkw(N, FALSE_FAILURE),
            "sigma={sigma}: no power {d_wrong}"
        );
    }
}

#[test]
fn discrete_gaussian_map_is_delta_sq_over_two_sigma_sq() {
    for &(delta, sigma) in &[(1.0, 1.0), (3.0, 2.0)] {
        let rho = DiscreteGaussian::new(delta, sigma).unwrap().rho().unwrap();
        let want = delta * delta / (2.0 * sigma * sigma);
        assert!(rho >= want && rel_close(rho, want, 1e-12));
    }
    let m = DiscreteGaussian::for_rho(3.0, 0.5).unwrap();
    assert!(m.rho().unwrap() <= 0.5);
}

/// Exact output distribution of permute-and-flip: over all orders, stop at `i` with
/// probability `p_i = exp((u_i - u_max)/s)` after every earlier candidate declined.
fn permute_and_flip_probs(u: &[f64], s: f64) -> Vec<f64> {
    let umax = u.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let p: Vec<f64> = u.iter().map(|x| ((x - umax) / s).exp()).collect();
    let k = u.len();
    let mut probs = vec![0.0; k];
    let mut perm: Vec<usize> = (0..k).collect();
    let mut count = 0.0;
    permute(&mut perm, 0, &mut |order: &[usize]| {
        count += 1.0;
        let mut reach = 1.0;
        for &i in order {
            probs[i] += reach * p[i];
            reach *= 1.0 - p[i];
        }
    });
    probs.iter().map(|x| x / count).collect()
}

fn permute(v: &mut Vec<usize>, at: usize, f: &mut impl FnMut(&[usize])) {
    if at == v.len() {
        f(v);
        return;
    }
    for i in at..v.len() {
        v.swap(at, i);
        permute(v, at + 1, f);
        v.swap(at, i);
    }
}

fn frequencies(draws: &[usize], k: usize) -> Vec<f64> {
    let mut c = vec![0.0; k];
    for &d in draws {
        c[d] += 1.0;
    }
    c.iter().map(|x| x / draws.len() as f64).collect()
}

const DRAWS: usize = 20_000;

#[test]
fn permute_and_flip_matches_its_exact_distribution() {
    let u = [10.0, 9.0, 7.5, 4.0];
    let s = 1.5;
    let m = Selection::new(PrivacyMeasure::Dp, 1.0, s, false, u.len()).unwrap();
    let mut session = big_dp();
    let draws: Vec<usize> = (0..DRAWS)
        .map(|_| session.release(&m, &u, record("pf")).unwrap().value)
        .collect();
    let want = permute_and_flip_probs(&u, s);
    let got = frequencies(&draws, u.len());
    let tol = hoeffding(DRAWS, u.len(), FALSE_FAILURE);
    for i in 0..u.len() {
        assert!((got[i] - want[i]).abs() < tol, "{i}: {got:?} vs {want:?}");
    }
    // Exponential mechanism probabilities differ enough to be told apart.
    let z: f64 = u.iter().map(|x| (x / s).exp()).sum();
    assert!(((u[0] / s).exp() / z - want[0]).abs() > 2.0 * tol);
}

#[test]
fn exponential_mechanism_is_softmax() {
    let u = [10.0, 9.0, 7.5, 4.0];
    let s = 1.5;
    let m = Selection::new(PrivacyMeasure::Zcdp, 1.0, s, false, u.len()).unwrap();
    let mut session = big_zcdp();
    let draws: Vec<usize> = (0..DRAWS)
        .map(|_| session.release(&m, &u, record("em")).unwrap().value)
        .collect();
    let z: f64 = u.iter().map(|x| (x / s).exp()).sum();
    let got = frequencies(&draws, u.len());
    let tol = hoeffding(DRAWS, u.len(), FALSE_FAILURE);
    for i in 0..u.len() {
        let want = (u[i] / s).exp() / z;
        assert!((got[i] - want).abs() < tol, "{i}: {} vs {want}", got[i]);
    }
}

#[test]
fn selection_privacy_maps() {
    let s = 4.0;
    let eps = Selection::new(PrivacyMeasure::Dp, 2.0, s, false, 3)
        .unwrap()
        .cost()
        .unwrap();
    assert!(rel_close(eps.main(), 2.0 * 2.0 / s, 1e-12) && eps.main() >= 1.0);
    let eps_mono = Selection::new(PrivacyMeasure::Dp, 2.0, s, true, 3)
        .unwrap()
        .cost()
        .unwrap();
    assert!(rel_close(eps_mono.main(), 2.0 / s, 1e-12));
    let rho = Selection::new(PrivacyMeasure::Zcdp, 2.0, s, false, 3)
        .unwrap()
        .cost()
        .unwrap();
    let want = (2.0 * 2.0 / s).powi(2) / 8.0;
    assert!(rel_close(rho.main(), want, 1e-12) && rho.main() >= want);
    let cal = Selection::for_cost(1.0, false, 10, &Cost::epsilon(0.5)).unwrap();
    assert!(cal.cost().unwrap().main() <= 0.5);
}

#[test]
fn randomized_response_frequencies_and_map() {
    let k = 4;
    let eps = 1.0;
    let m = RandomizedResponse::for_epsilon(k, eps, 1).unwrap();
    let p = m.prob();
    assert!(rel_close(p, eps.exp() / (eps.exp() + 3.0), 1e-9));
    let got_eps = m.epsilon_per_record().unwrap();
    let want = (p * 3.0 / (1.0 - p)).ln();
    assert!(got_eps <= eps && rel_close(got_eps, want, 1e-12));
    // Three records a person cost three times as much.
    let m3 = RandomizedResponse::for_epsilon(k, eps, 3).unwrap();
    assert!(rel_close(m3.cost().unwrap().main(), 3.0 * got_eps, 1e-12));

    let mut s = big_dp();
    let out = s
        .release(&m, &vec![2u32; DRAWS], record("rr"))
        .unwrap()
        .value;
    let got = frequencies(&out.iter().map(|&c| c as usize).collect::<Vec<_>>(), 4);
    let tol = hoeffding(DRAWS, 4, FALSE_FAILURE);
    for (c, f) in got.iter().enumerate() {
        let want = if c == 2 { p } else { (1.0 - p) / 3.0 };
        assert!((f - want).abs() < tol, "category {c}: {f} vs {want}");
    }
    // The debiased estimate recovers the truth.
    let est = m.estimate_counts(&out);
    let hw = m.estimate_half_width(out.len(), 1e-6).unwrap();
    assert!((est[2] - DRAWS as f64).abs() < hw && est[0].abs() < hw);
    assert!(RandomizedResponse::new(1, 0.9, 1).is_err());
    assert!(RandomizedResponse::new(4, 0.2, 1).is_err());
}

/// The noise `m` adds to `N` keys far above its threshold (all of them released).
fn noise_far_above_threshold(s: &mut Session, m: &ThresholdedCounts) -> Vec<f64> {
    let big: Vec<(u64, i64)> = (0..N as u64).map(|k| (k, 10_000)).collect();
    let out = s.release(m, &big, record("threshold")).unwrap().value;
    assert_eq!(out.len(), N);
    out.iter().map(|&(_, c)| (c - 10_000) as f64).collect()
}

#[test]
fn threshold_map_is_laplace_plus_tail_delta() {
    let b = 2.0;
    for &t in &[5i64, 20, 40] {
        let m = ThresholdedCounts::new(ThresholdNoise::Laplace, b, t, 1, 1.0, 1.0).unwrap();
        let c = m.cost().unwrap();
        assert!(rel_close(c.main(), 1.0 / b, 1e-12), "{c}");
        // delta = P[Z >= T - 1] for discrete Laplace(b): a key only one person has (count
        // 1) is released when 1 + Z >= T. (OpenDP 0.16's own map at T gives P[Z >= T],
        // too small by e^{1/b}; pets charges the exact tail, see threshold.rs.)
        let exact = 1.0 - discrete_laplace_cdf((t - 2) as f64, b);
        assert!(
            c.delta() >= exact * (1.0 - 1e-9) && c.delta() <= exact * (1.0 + 1e-6),
            "T={t}: {} vs {exact}",
            c.delta()
        );
    }
    // Three keys a person: delta = 1 - (1 - d1)^3.
    let one = ThresholdedCounts::new(ThresholdNoise::Laplace, b, 20, 1, 3.0, 3.0).unwrap();
    let three = ThresholdedCounts::new(ThresholdNoise::Laplace, b, 20, 3, 3.0, 3.0).unwrap();
    let (d1, d3) = (one.cost().unwrap().delta(), three.cost().unwrap().delta());
    assert!(rel_close(d3, 1.0 - (1.0 - d1).powi(3), 1e-6));
    // Calibration meets both parts of the share.
    let share = Cost::epsilon(1.0).with_delta(1e-8);
    let m = ThresholdedCounts::for_cost(ThresholdNoise::Laplace, 3, 3.0, 3.0, &share).unwrap();
    let c = m.cost().unwrap();
    assert!(c.main() <= 1.0 && c.delta() <= 1e-8);
    let smaller = ThresholdedCounts::new(
        ThresholdNoise::Laplace,
        m.scale(),
        m.threshold() - 1,
        3,
        3.0,
        3.0,
    )
    .unwrap();
    assert!(
        smaller.cost().unwrap().delta() > 1e-8,
        "threshold is not the smallest"
    );
    let g = ThresholdedCounts::for_cost(
        ThresholdNoise::Gaussian,
        1,
        1.0,
        1.0,
        &Cost::rho(0.5).with_delta(1e-8),
    )
    .unwrap();
    let gc = g.cost().unwrap();
    assert!(gc.main() <= 0.5 && gc.delta() <= 1e-8 && rel_close(gc.main(), 0.5, 1e-9));
    let e = ThresholdedCounts::for_cost(ThresholdNoise::Laplace, 1, 1.0, 1.0, &Cost::epsilon(1.0))
        .unwrap_err();
    assert!(
        matches!(e, DpError::InvalidParameter { .. }) && e.to_string().contains("delta"),
        "{e}"
    );
}

#[test]
fn threshold_noise_and_release_rate() {
    let b = 2.0;
    let t = 14;
    let m = ThresholdedCounts::new(ThresholdNoise::Laplace, b, t, 1, 1.0, 1.0).unwrap();
    let mut s = Session::new(Cost::epsilon(1e12).with_delta(0.5)).unwrap();
    // Keys far above the threshold: all released, noise is discrete Laplace(b).
    let mut x = noise_far_above_threshold(&mut s, &m);
    let d = ks_distance(&mut x, |v| discrete_laplace_cdf(v, b), true);
    assert!(d < dkw(N, FALSE_FAILURE), "KS {d}");
    // Keys 3 below the threshold survive with probability P[Z >= 3].
    let near: Vec<(u64, i64)> = (0..N as u64).map(|k| (k, t - 3)).collect();
    let kept = s
        .release(&m, &near, record("threshold"))
        .unwrap()
        .value
        .len();
    let want = 1.0 - discrete_laplace_cdf(2.0, b);
    let tol = hoeffding(N, 1, FALSE_FAILURE);
    assert!(
        (kept as f64 / N as f64 - want).abs() < tol,
        "{kept} vs {want}"
    );
    // A key held by one person (count 1) survives with exactly the charged delta; OpenDP
    // 0.16's own map at T (what `new(.., T + 1, ..)` charges) would claim less.
    let n = 100_000;
    let t = 5;
    let m = ThresholdedCounts::new(ThresholdNoise::Laplace, b, t, 1, 1.0, 1.0).unwrap();
    let charged = m.cost().unwrap().delta();
    let opendp_raw = ThresholdedCounts::new(ThresholdNoise::Laplace, b, t + 1, 1, 1.0, 1.0)
        .unwrap()
        .cost()
        .unwrap()
        .delta();
    let ones: Vec<(u64, i64)> = (0..n as u64).map(|k| (k, 1)).collect();
    let rate = s
        .release(&m, &ones, record("threshold"))
        .unwrap()
        .value
        .len() as f64
        / n as f64;
    let tol = hoeffding(n, 1, FALSE_FAILURE);
    assert!(
        (rate - charged).abs() < tol,
        "release rate {rate} vs charged delta {charged}"
    );
    assert!(
        rate > opendp_raw + tol,
        "rate {rate} vs OpenDP's raw delta {opendp_raw}"
    );
}

/// The Gaussian threshold mechanism (MST's sparse pairs, `pets_synth::measure`): its map is
/// the discrete Gaussian's rho plus at least the exact tail `P[Z >= T - 1]` of a key one
/// person holds; its noise is discrete Gaussian(sigma); keys below the threshold survive at
/// the tail's rate, and a key held by one person at no more than the charged delta.
#[test]
fn gaussian_threshold_noise_map_and_release_rate() {
    let sigma = 3.0;
    let tail = |k: i64| 1.0 - discrete_gaussian_cdf((k - 1) as f64, sigma);
    for &t in &[8i64, 15, 25] {
        let m = ThresholdedCounts::new(ThresholdNoise::Gaussian, sigma, t, 1, 1.0, 1.0).unwrap();
        let c = m.cost().unwrap();
        assert!(
            c.measure() == PrivacyMeasure::Zcdp && rel_close(c.main(), 0.5 / (sigma * sigma), 1e-9),
            "{c}"
        );
        // A key only one person has (count 1) is released when 1 + Z >= T.
        let exact = tail(t - 1);
        assert!(
            c.delta() >= exact * (1.0 - 1e-9),
            "T={t}: {} < {exact}",
            c.delta()
        );
        // OpenDP bounds the tail conservatively; it must not be wildly loose either.
        assert!(
            c.delta() <= exact * 10.0 + 1e-300,
            "T={t}: {} vs {exact}",
            c.delta()
        );
    }
    let t = 12;
    let m = ThresholdedCounts::new(ThresholdNoise::Gaussian, sigma, t, 1, 1.0, 1.0).unwrap();
    let mut s = Session::new(Cost::rho(1e12).with_delta(0.5)).unwrap();
    // Keys far above the threshold: all released, noise is discrete Gaussian(sigma).
    let mut x = noise_far_above_threshold(&mut s, &m);
    let d = ks_distance(&mut x, |v| discrete_gaussian_cdf(v, sigma), true);
    assert!(d < dkw(N, FALSE_FAILURE), "KS {d}");
    let d_wrong = ks_distance(&mut x, |v| discrete_gaussian_cdf(v, sigma * 1.3), true);
    assert!(d_wrong > dkw(N, FALSE_FAILURE), "no power: {d_wrong}");
    // Keys 2 below the threshold survive with probability P[Z >= 2].
    let near: Vec<(u64, i64)> = (0..N as u64).map(|k| (k, t - 2)).collect();
    let kept = s
        .release(&m, &near, record("threshold"))
        .unwrap()
        .value
        .len();
    let tol = hoeffding(N, 1, FALSE_FAILURE);
    assert!(
        (kept as f64 / N as f64 - tail(2)).abs() < tol,
        "{kept} vs {}",
        tail(2)
    );
    // Keys held by one person: released at most at the charged delta.
    let t = 6;
    let m = ThresholdedCounts::new(ThresholdNoise::Gaussian, sigma, t, 1, 1.0, 1.0).unwrap();
    let charged = m.cost().unwrap().delta();
    let n = 100_000;
    let ones: Vec<(u64, i64)> = (0..n as u64).map(|k| (k, 1)).collect();
    let rate = s
        .release(&m, &ones, record("threshold"))
        .unwrap()
        .value
        .len() as f64
        / n as f64;
    let tol = hoeffding(n, 1, FALSE_FAILURE);
    assert!(
        (rate - tail(t - 1)).abs() < tol,
        "rate {rate} vs {}",
        tail(t - 1)
    );
    assert!(
        rate < charged + tol,
        "rate {rate} above the charged delta {charged}"
    );
}

#[test]
fn quantile_exponential_mechanism_distribution_and_map() {
    let values: Vec<f64> = (1..=100).map(f64::from).collect();
    let cands = vec![10.0, 30.0, 50.0, 70.0, 90.0];
    let s = 10.0;
    let m = QuantileMechanism::new(PrivacyMeasure::Zcdp, cands.clone(), 0.5, s, 1).unwrap();
    let mut session = big_zcdp();
    let draws: Vec<usize> = (0..DRAWS)
        .map(|_| {
            let v = session.release(&m, &values, record("q")).unwrap().value;
            cands.iter().position(|&c| c == v).unwrap()
        })
        .collect();
    let scores: Vec<f64> = cands
        .iter()
        .map(|&c| QuantileMechanism::score(&values, c, 0.5))
        .collect();
    let z: f64 = scores.iter().map(|x| (-x / s).exp()).sum();
    let got = frequencies(&draws, cands.len());
    let tol = hoeffding(DRAWS, cands.len(), FALSE_FAILURE);
    for i in 0..cands.len() {
        let want = (-scores[i] / s).exp() / z;
        assert!((got[i] - want).abs() < tol, "{i}: {} vs {want}", got[i]);
    }
    // Maps: epsilon = 2 m max(q, 1-q) / s; rho = that^2 / 8.
    for &(q, rows) in &[(0.5, 1u32), (0.9, 3)] {
        let e = QuantileMechanism::new(PrivacyMeasure::Dp, cands.clone(), q, s, rows)
            .unwrap()
            .cost()
            .unwrap()
            .main();
        let want = 2.0 * f64::from(rows) * f64::max(q, 1.0 - q) / s;
        assert!(
            e >= want * (1.0 - 1e-12) && rel_close(e, want, 1e-3),
            "q={q}: {e} vs {want}"
        );
        let r = QuantileMechanism::new(PrivacyMeasure::Zcdp, cands.clone(), q, s, rows)
            .unwrap()
            .cost()
            .unwrap()
            .main();
        assert!(rel_close(r, want * want / 8.0, 2e-3), "q={q}: {r}");
    }
}

#[test]
fn categories_helper_is_complete() {
    // Guard: randomized response over k categories only ever outputs 0..k.
    let m = RandomizedResponse::new(3, 0.5, 1).unwrap();
    let mut s = big_dp();
    let out = s
        .release(&m, &[0, 1, 2, 0, 1, 2], record("rr"))
        .unwrap()
        .value;
    let seen: HashSet<u32> = out.into_iter().collect();
    assert!(seen.iter().all(|&c| c < 3));
    assert!(s.release(&m, &[3], record("rr")).is_err());
}

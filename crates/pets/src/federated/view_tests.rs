//! The aggregator's view of one trust is independent of that trust's input (issue 11):
//! every byte an aggregator receives from a trust, for two very different inputs.
//!
//! **Secure aggregation** (one aggregator). A trust sends four messages: its public keys,
//! its encrypted Shamir shares with a seed commitment, its masked vector and its unmasking
//! shares. With the trust's randomness fixed (a seeded ChaCha20 stream in place of the
//! operating system's, [`keys::seed_for_tests`]), the test shows that
//! 1. three of the four messages are *byte for byte the same* whatever the input: they are
//!    functions of the randomness alone;
//! 2. the masked vector of input `x` minus that of input `x'` is exactly `x - x'` in
//!    `Z_{2^64}`: the input enters once, under a mask that does not depend on it;
//! 3. that mask looks uniform: over many seeds, the bytes and the 64 bit positions of the
//!    masked words of an all-zero input and of an all-maximum input each fit the uniform
//!    distribution, and the two inputs' samples are indistinguishable from each other
//!    (chi-square goodness of fit and homogeneity on byte frequencies, z-tests per bit).
//!
//! **Prio3** (two aggregators). The leader receives the public share and an explicit input
//! share (the encoded counts minus a pseudorandom vector); the helper receives the public
//! share, a seed, and during verification the leader's verifier share. prio draws its own
//! randomness from the operating system, so these tests cannot fix it: the same byte and
//! bit tests run on fresh reports, at a significance of `1e-6` each (a false alarm about
//! once in a million runs), and the share lengths are checked to be the same for both inputs.
//!
//! **What this can show:** that no message carries the input in the clear, in a biased
//! mask, or in its length; that the input reaches the aggregator only through the masked
//! vector (secure aggregation). **What it cannot:** statistical tests of marginal
//! frequencies cannot prove computational indistinguishability (a weak PRG or a subtle
//! correlation across positions or messages would pass); that rests on the audited
//! primitives (ChaCha20, X25519, HKDF, ChaCha20-Poly1305, Prio's zero-knowledge FLP) and on
//! the protocols' proofs. Nor do they cover colluding parties' joint view, timing, or what
//! the aggregator learns from the sum it is meant to learn.

use crate::federated::prio::{HELPER, LEADER, PrioAggregator, PrioTask};
use crate::federated::ring;
use crate::federated::secagg::keys;
use crate::federated::secagg::{RoundId, SecAggClient, SecAggConfig, SecAggServer};
use crate::federated::wire::to_wire;

/// Upper quantile of chi-square with `df` degrees of freedom at the standard normal
/// quantile `z` (Wilson & Hilferty 1931; accurate to well under 1% at df 255).
fn chi2_quantile(df: f64, z: f64) -> f64 {
    let a = 2.0 / (9.0 * df);
    df * (1.0 - a + z * a.sqrt()).powi(3)
}

/// The standard normal quantile of `1 - 1e-6`.
const Z_1E6: f64 = 4.753;

fn byte_counts(bytes: &[u8]) -> [f64; 256] {
    let mut bins = [0f64; 256];
    for &b in bytes {
        bins[b as usize] += 1.0;
    }
    bins
}

/// Pearson's goodness of fit of byte counts to the uniform distribution (255 df).
fn chi2_uniform(bins: &[f64; 256]) -> f64 {
    let e = bins.iter().sum::<f64>() / 256.0;
    bins.iter().map(|&o| (o - e).powi(2) / e).sum()
}

/// Pearson's homogeneity statistic of two samples' byte counts (a 2 x 256 table, 255 df).
fn chi2_homogeneity(a: &[f64; 256], b: &[f64; 256]) -> f64 {
    let (na, nb): (f64, f64) = (a.iter().sum(), b.iter().sum());
    let n = na + nb;
    let mut chi2 = 0.0;
    for (x, y) in a.iter().zip(b) {
        let col = x + y;
        if col == 0.0 {
            continue;
        }
        let (ea, eb) = (na * col / n, nb * col / n);
        chi2 += (x - ea).powi(2) / ea + (y - eb).powi(2) / eb;
    }
    chi2
}

/// Ones per bit position of 64-bit words.
fn bit_ones(words: &[u64]) -> [f64; 64] {
    let mut ones = [0f64; 64];
    for w in words {
        for (k, o) in ones.iter_mut().enumerate() {
            *o += ((w >> k) & 1) as f64;
        }
    }
    ones
}

/// The largest |z| over the 64 positions of a fair-coin test of each bit.
fn max_bit_z(words: &[u64]) -> f64 {
    let n = words.len() as f64;
    bit_ones(words)
        .iter()
        .map(|o| ((o - n / 2.0) / (n / 4.0).sqrt()).abs())
        .fold(0.0, f64::max)
}

/// The largest |z| over the 64 positions of a two-proportion test between two samples.
fn max_bit_z_between(a: &[u64], b: &[u64]) -> f64 {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (oa, ob) = (bit_ones(a), bit_ones(b));
    oa.iter()
        .zip(&ob)
        .map(|(x, y)| {
            let p = (x + y) / (na + nb);
            let se = (p * (1.0 - p) * (1.0 / na + 1.0 / nb)).sqrt();
            ((x / na - y / nb) / se).abs()
        })
        .fold(0.0, f64::max)
}

/// The per-bit |z| bound for 64 tests at 1e-6 overall (Bonferroni: 1.6e-8 each).
const Z_BITS: f64 = 5.53;

/// Byte and bit tests of two samples: each uniform, and the two alike.
fn assert_uniform_and_alike(what: &str, a: &[u8], b: &[u8]) {
    let (ca, cb) = (byte_counts(a), byte_counts(b));
    let bound = chi2_quantile(255.0, Z_1E6);
    for (name, c) in [("first", &ca), ("second", &cb)] {
        let chi2 = chi2_uniform(c);
        assert!(
            chi2 < bound,
            "{what}, {name} input: bytes fit the uniform distribution badly (chi-square {chi2:.1}, bound {bound:.1})"
        );
    }
    let chi2 = chi2_homogeneity(&ca, &cb);
    assert!(
        chi2 < bound,
        "{what}: the two inputs' bytes differ (chi-square {chi2:.1}, bound {bound:.1})"
    );
    let words = |b: &[u8]| -> Vec<u64> {
        b.chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect()
    };
    let (wa, wb) = (words(a), words(b));
    for (name, w) in [("first", &wa), ("second", &wb)] {
        let z = max_bit_z(w);
        assert!(
            z < Z_BITS,
            "{what}, {name} input: a bit position is biased (|z| {z:.2})"
        );
    }
    let z = max_bit_z_between(&wa, &wb);
    assert!(
        z < Z_BITS,
        "{what}: a bit position differs between the inputs (|z| {z:.2})"
    );
}

/// Every message trust 1 sends the aggregator in a three-trust round, with the test
/// generator seeded by `seed`.
struct SecAggView {
    keys: Vec<u8>,
    shares: Vec<u8>,
    masked: Vec<u64>,
    unmask: Vec<u8>,
}

fn secagg_view(seed: u64, input: &[i64]) -> SecAggView {
    keys::seed_for_tests(Some(seed));
    let m = input.len();
    let config = SecAggConfig {
        round: RoundId::random(),
        threshold: 2,
        vector_len: m,
    };
    let mut server = SecAggServer::new(config.clone());
    let mut clients = Vec::new();
    let mut view_keys = Vec::new();
    for party in 1..=3u32 {
        let x = if party == 1 {
            input.to_vec()
        } else {
            vec![5; m]
        };
        let (c, adv) =
            SecAggClient::new(config.clone(), party, ring::encode(&x, "t").unwrap()).unwrap();
        if party == 1 {
            view_keys = to_wire(&adv).unwrap();
        }
        server.receive_keys(adv).unwrap();
        clients.push(c);
    }
    let roster = server.roster().unwrap();
    let mut shares = Vec::new();
    for c in clients.iter_mut() {
        let msg = c.share_keys(&roster).unwrap();
        if c.party() == 1 {
            shares = to_wire(&msg).unwrap();
        }
        server.receive_shares(msg).unwrap();
    }
    let inboxes = server.inboxes().unwrap();
    let mut masked = Vec::new();
    for c in clients.iter_mut() {
        let msg = c.masked_input(&inboxes[&c.party()]).unwrap();
        if c.party() == 1 {
            masked = msg.masked.clone();
        }
        server.receive_masked(msg).unwrap();
    }
    let survivors = server.survivors().unwrap();
    let mut unmask = Vec::new();
    for c in clients.iter_mut() {
        let msg = c.unmask(&survivors).unwrap();
        if c.party() == 1 {
            unmask = to_wire(&msg).unwrap();
        }
        server.receive_unmask(msg).unwrap();
    }
    server.finish().unwrap();
    keys::seed_for_tests(None);
    SecAggView {
        keys: view_keys,
        shares,
        masked,
        unmask,
    }
}

const CELLS: usize = 2048;

fn zeros() -> Vec<i64> {
    vec![0; CELLS]
}

fn maxima() -> Vec<i64> {
    vec![ring::MAX_ABS_INPUT; CELLS]
}

#[test]
fn secagg_only_the_masked_vector_depends_on_the_input_and_only_additively() {
    let (x, y) = (zeros(), maxima());
    let diff: Vec<u64> = ring::encode(&x, "x")
        .unwrap()
        .iter()
        .zip(ring::encode(&y, "y").unwrap())
        .map(|(a, b)| a.wrapping_sub(b))
        .collect();
    for seed in 0..6 {
        let (a, b) = (secagg_view(seed, &x), secagg_view(seed, &y));
        assert_eq!(a.keys, b.keys, "seed {seed}: the keys message");
        assert_eq!(a.shares, b.shares, "seed {seed}: the shares message");
        assert_eq!(a.unmask, b.unmask, "seed {seed}: the unmask message");
        assert_eq!(a.masked.len(), b.masked.len());
        let got: Vec<u64> = a
            .masked
            .iter()
            .zip(&b.masked)
            .map(|(p, q)| p.wrapping_sub(*q))
            .collect();
        assert_eq!(got, diff, "seed {seed}: y(x) - y(x') = x - x'");
    }
    // Another seed gives another view: the messages do depend on the randomness.
    assert_ne!(secagg_view(0, &x).keys, secagg_view(1, &x).keys);
}

#[test]
fn secagg_masked_vectors_of_very_different_inputs_are_uniform_and_alike() {
    let bytes = |seeds: std::ops::Range<u64>, input: &[i64]| -> Vec<u8> {
        seeds
            .flat_map(|s| secagg_view(s, input).masked)
            .flat_map(u64::to_le_bytes)
            .collect()
    };
    // Disjoint seeds, so the two samples are independent: 24 rounds x 2048 words each.
    let a = bytes(0..24, &zeros());
    let b = bytes(1_000..1_024, &maxima());
    assert_uniform_and_alike("secure aggregation's masked vector", &a, &b);
    // The shares message is ciphertext and a commitment: its bytes too, pooled.
    let shares = |seeds: std::ops::Range<u64>, input: &[i64]| -> Vec<u8> {
        seeds.flat_map(|s| secagg_view(s, input).shares).collect()
    };
    let (sa, sb) = (shares(0..24, &zeros()), shares(1_000..1_024, &maxima()));
    let bound = chi2_quantile(255.0, Z_1E6);
    let chi2 = chi2_homogeneity(&byte_counts(&sa), &byte_counts(&sb));
    assert!(chi2 < bound, "shares: chi-square {chi2:.1}");
}

/// What each Prio3 aggregator receives of one trust's report of `counts`: the leader its
/// report share; the helper its report share and the leader's verifier share.
fn prio_views(task: &PrioTask, counts: &[u64]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let upload = task.upload("t", counts).unwrap();
    let key = [3u8; 32];
    let mut leader = PrioAggregator::new(task.clone(), LEADER, key);
    let mut helper = PrioAggregator::new(task.clone(), HELPER, key);
    let (ls, hs) = (upload.share_for(LEADER), upload.share_for(HELPER));
    let lp = leader.start("t", &ls).unwrap();
    let hp = helper.start("t", &hs).unwrap();
    // The report is valid: verification completes on both sides.
    let message = helper.combine("t", &hp, &lp.verifier_share).unwrap();
    let leader_view = [ls.public_share.clone(), ls.input_share.clone()].concat();
    let helper_view = [
        hs.public_share.clone(),
        hs.input_share.clone(),
        lp.verifier_share.clone(),
    ]
    .concat();
    helper.finish("t", hp, &message).unwrap();
    leader.finish("t", lp, &message).unwrap();
    (leader_view, helper_view, message)
}

#[test]
fn prio3_one_aggregators_share_reveals_nothing_of_the_counts() {
    let cells = 128;
    let task = PrioTask::new(RoundId([1; 16]), cells, 65_535).unwrap();
    let (low, high) = (vec![0u64; cells], vec![65_535u64; cells]);
    let (mut la, mut lb, mut ha, mut hb) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..12 {
        let (l, h, _) = prio_views(&task, &low);
        let (l2, h2, _) = prio_views(&task, &high);
        // No length leak: the same sizes for either input.
        assert_eq!(l.len(), l2.len());
        assert_eq!(h.len(), h2.len());
        la.extend(l);
        lb.extend(l2);
        ha.extend(h);
        hb.extend(h2);
    }
    // The leader: 12 reports x (2048 field elements of the bits' share + the proof share).
    assert!(la.len() > 12 * 2048 * 16);
    assert_uniform_and_alike("Prio3, the leader's view", &la, &lb);
    // The helper: seeds, the public share and the leader's verifier share; fewer bytes, so
    // pool more reports for the byte test.
    for _ in 0..100 {
        ha.extend(prio_views(&task, &low).1);
        hb.extend(prio_views(&task, &high).1);
    }
    assert_uniform_and_alike("Prio3, the helper's view", &ha, &hb);
}

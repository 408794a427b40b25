//! One-shot timing of federated rounds (see `benches/README.md`, "Federated aggregation"):
//! Prio3SumVec over a 10,000-cell histogram and secure aggregation by masking over a
//! 1,000,000-value vector, for 10 and 50 simulated trusts, beside the plaintext sum of the
//! same vectors.
//!
//! ```text
//! cargo run --release -p pets-benches --example federated_round -- [TRUSTS...]
//! ```
//!
//! Every party runs in this process; trusts work in parallel (rayon, as on their own
//! machines), the aggregators in sequence. Every message goes through the wire format, so
//! the bytes are the real ones. Printed per protocol and size: wall time of the whole round
//! here, the CPU seconds of one trust (mean) and of the aggregator side, bytes sent by one
//! trust and the expansion over sending its plain vector (8 bytes a value).

use std::time::Instant;

use pets::federated::prio::{self, PrioAggregator, PrioTask};
use pets::federated::secagg::{RoundId, SecAggClient, SecAggConfig, SecAggServer};
use pets::federated::wire::to_wire;
use rand::{Rng, RngExt, SeedableRng};
use rayon::prelude::*;

type Error = Box<dyn std::error::Error>;

fn vectors(trusts: usize, len: usize, max: u64, seed: u64) -> Vec<Vec<u64>> {
    (0..trusts)
        .map(|t| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed + t as u64);
            (0..len).map(|_| rng.random_range(0..=max)).collect()
        })
        .collect()
}

fn plaintext(vs: &[Vec<u64>]) -> (f64, Vec<u64>) {
    let t = Instant::now();
    let mut sum = vec![0u64; vs[0].len()];
    for v in vs {
        for (s, x) in sum.iter_mut().zip(v) {
            *s = s.wrapping_add(*x);
        }
    }
    (t.elapsed().as_secs_f64(), sum)
}

fn prio_round(trusts: usize) -> Result<(), Error> {
    let len = 10_000;
    let vs = vectors(trusts, len, 1_000, 11);
    let (plain_s, expected) = plaintext(&vs);
    let wall = Instant::now();
    let task = PrioTask::new(RoundId::random(), len, 65_535)?;
    let t = Instant::now();
    let uploads: Vec<_> = vs
        .par_iter()
        .enumerate()
        .map(|(i, v)| task.upload(&format!("trust_{i}"), v))
        .collect::<Result<_, _>>()?;
    let shard_cpu = t.elapsed().as_secs_f64() * rayon::current_num_threads() as f64 / trusts as f64;
    let t = Instant::now();
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let mut leader = PrioAggregator::new(task.clone(), 0, key);
    let mut helper = PrioAggregator::new(task.clone(), 1, key);
    let mut between = 0;
    for (i, u) in uploads.iter().enumerate() {
        between += prio::verify_report(&mut leader, &mut helper, &format!("trust_{i}"), u)?;
    }
    let (l, h) = (leader.aggregate_share()?, helper.aggregate_share()?);
    let sum = prio::collect(&task, &l, &h, trusts)?;
    let agg_s = t.elapsed().as_secs_f64();
    let wall_s = wall.elapsed().as_secs_f64();
    assert!(sum.iter().zip(&expected).all(|(a, b)| *a as u64 == *b));
    let per_trust = uploads[0].bytes();
    println!(
        "prio3  {trusts:>3} trusts x {len} cells (16-bit): round {wall_s:.2} s; one trust shards in \
         {shard_cpu:.3} CPU-s; aggregators {agg_s:.2} s; {per_trust} bytes per trust \
         ({:.0}x its plain vector); {} bytes between aggregators; plaintext sum {:.4} s",
        per_trust as f64 / (8 * len) as f64,
        between + l.len() + h.len(),
        plain_s
    );
    Ok(())
}

fn secagg_round(trusts: usize, len: usize) -> Result<(), Error> {
    let vs = vectors(trusts, len, 1_000, 13);
    let (plain_s, expected) = plaintext(&vs);
    let config = SecAggConfig {
        round: RoundId::random(),
        threshold: trusts / 2 + 1,
        vector_len: len,
    };
    config.check(trusts)?;
    let wall = Instant::now();
    let mut server = SecAggServer::new(config.clone());
    let mut up = vec![0usize; trusts];
    let mut cpu = vec![0f64; trusts];
    let mut clients: Vec<SecAggClient> = Vec::with_capacity(trusts);
    for (i, v) in vs.into_iter().enumerate() {
        let (c, adv) = SecAggClient::new(config.clone(), i as u32 + 1, v)?;
        up[i] += to_wire(&adv)?.len();
        server.receive_keys(adv)?;
        clients.push(c);
    }
    let t_agg = Instant::now();
    let roster = server.roster()?;
    let mut agg_s = t_agg.elapsed().as_secs_f64();
    let shares: Vec<_> = clients
        .par_iter_mut()
        .zip(cpu.par_iter_mut())
        .map(|(c, cpu)| {
            let t = Instant::now();
            let m = c.share_keys(&roster);
            *cpu += t.elapsed().as_secs_f64();
            m
        })
        .collect::<Result<_, _>>()?;
    let t_agg = Instant::now();
    for (i, m) in shares.into_iter().enumerate() {
        up[i] += to_wire(&m)?.len();
        server.receive_shares(m)?;
    }
    let inboxes = server.inboxes()?;
    agg_s += t_agg.elapsed().as_secs_f64();
    let masked: Vec<_> = clients
        .par_iter_mut()
        .zip(cpu.par_iter_mut())
        .map(|(c, cpu)| {
            let t = Instant::now();
            let m = c.masked_input(&inboxes[&c.party()]);
            *cpu += t.elapsed().as_secs_f64();
            m
        })
        .collect::<Result<_, _>>()?;
    let t_agg = Instant::now();
    for (i, m) in masked.into_iter().enumerate() {
        up[i] += to_wire(&m)?.len();
        server.receive_masked(m)?;
    }
    let survivors = server.survivors()?;
    agg_s += t_agg.elapsed().as_secs_f64();
    let unmask: Vec<_> = clients
        .par_iter_mut()
        .zip(cpu.par_iter_mut())
        .map(|(c, cpu)| {
            let t = Instant::now();
            let m = c.unmask(&survivors);
            *cpu += t.elapsed().as_secs_f64();
            m
        })
        .collect::<Result<_, _>>()?;
    let t_agg = Instant::now();
    for (i, m) in unmask.into_iter().enumerate() {
        up[i] += to_wire(&m)?.len();
        server.receive_unmask(m)?;
    }
    let (sum, _) = server.finish()?;
    agg_s += t_agg.elapsed().as_secs_f64();
    let wall_s = wall.elapsed().as_secs_f64();
    assert_eq!(sum, expected);
    let mean_up = up.iter().sum::<usize>() / trusts;
    let mean_cpu = cpu.iter().sum::<f64>() / trusts as f64;
    println!(
        "secagg {trusts:>3} trusts x {len} values: round {wall_s:.2} s; one trust {mean_cpu:.3} \
         CPU-s; aggregator {agg_s:.2} s; {mean_up} bytes per trust ({:.3}x its plain vector); \
         plaintext sum {plain_s:.4} s",
        mean_up as f64 / (8 * len) as f64
    );
    Ok(())
}

fn main() -> Result<(), Error> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let sizes = if sizes.is_empty() {
        vec![10, 50]
    } else {
        sizes
    };
    for &n in &sizes {
        prio_round(n)?;
    }
    for &n in &sizes {
        secagg_round(n, 1_000_000)?;
    }
    Ok(())
}

//! Prio3 with two non-colluding aggregators (Corrigan-Gibbs & Boneh 2017; the IETF VDAF
//! draft's Prio3SumVec, implemented by the `prio` crate; the upload, aggregate, collect
//! shape of the IETF DAP protocol).
//!
//! Each trust splits its count vector into two secret shares with a zero-knowledge validity
//! proof (every cell in `[0, max_count]`) and uploads them, one to each aggregator, then
//! may leave. The two aggregators verify the proof together without learning the vector:
//! a report that fails (an out-of-range count, a malformed or replayed share) is refused
//! and counted nowhere. Each aggregator sums the shares it accepted, adds a discrete
//! Gaussian noise of the full target scale to its aggregate share (so the release is
//! private as long as either aggregator is honest: if one colludes with the collector and
//! removes its own noise, the other's remains), and sends it to the collector, who adds the
//! two. The noise variance is therefore twice what one honest aggregator's noise needs:
//! that over-provision is the price of trusting only one of the two.
//!
//! Prio's own DP strategies protect a whole report (one trust); pets calibrates its noise to
//! one *person* ([`crate::federated::aggregate`]), from OpenDP's sampler and privacy map.

use std::collections::HashSet;

use prio::codec::{Encode, ParameterizedDecode};
use prio::field::{Field128, FieldElementWithInteger};
use prio::vdaf::prio3::{
    Prio3InputShare, Prio3PublicShare, Prio3SumVecMultithreaded, Prio3VerifierMessage,
    Prio3VerifierShare, Prio3VerifyState, optimal_chunk_length,
};
use prio::vdaf::{Aggregatable, AggregateShare, Aggregator, Client, Collector, VerifyTransition};

use crate::federated::error::{FederatedError, Result};
use crate::federated::secagg::RoundId;
use crate::federated::secagg::keys::random_bytes;

/// The VDAF pets runs: Prio3SumVec over Field128, two aggregators.
pub type Vdaf = Prio3SumVecMultithreaded;

type VerifyState = Prio3VerifyState<Field128, 32>;

/// A Prio3 task: the public parameters every trust and both aggregators share.
#[derive(Debug, Clone)]
pub struct PrioTask {
    vdaf: Vdaf,
    ctx: Vec<u8>,
    len: usize,
    max_count: u64,
}

/// One trust's upload: the nonce, the public share and one input share per aggregator.
/// In DAP the helper's share travels encrypted to the helper; here each share is handed to
/// its aggregator directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The report's nonce (replay protection: an aggregator accepts a nonce once).
    pub nonce: [u8; 16],
    /// Prio's public share, encoded.
    pub public_share: Vec<u8>,
    /// The leader's input share, encoded.
    pub leader_share: Vec<u8>,
    /// The helper's input share, encoded.
    pub helper_share: Vec<u8>,
}

impl Upload {
    /// Bytes a trust sends in all.
    pub fn bytes(&self) -> usize {
        16 * 2 + 2 * self.public_share.len() + self.leader_share.len() + self.helper_share.len()
    }
}

fn prio_err(stage: &str) -> impl Fn(prio::vdaf::VdafError) -> FederatedError + '_ {
    move |e| FederatedError::crypto(stage, e)
}

impl PrioTask {
    /// A task for vectors of `len` cells, each in `[0, max_count]`, in `round`.
    pub fn new(round: RoundId, len: usize, max_count: u64) -> Result<PrioTask> {
        if len == 0 || max_count == 0 {
            return Err(FederatedError::invalid(
                "prio task",
                format!("{len} cells, max {max_count}"),
                "at least one cell and a positive per-trust bound",
            ));
        }
        let bits = 64 - max_count.leading_zeros() as usize;
        let vdaf = Vdaf::new_sum_vec_multithreaded(
            2,
            u128::from(max_count),
            len,
            optimal_chunk_length(len * bits),
        )
        .map_err(prio_err("setting up Prio3SumVec"))?;
        let mut ctx = b"pets federated prio3 v1".to_vec();
        ctx.extend_from_slice(&round.0);
        Ok(PrioTask {
            vdaf,
            ctx,
            len,
            max_count,
        })
    }

    /// The per-trust bound on one cell.
    pub fn max_count(&self) -> u64 {
        self.max_count
    }

    /// Split a trust's counts into shares with their validity proof. A count above the
    /// bound is refused here (and would fail verification if sent anyway).
    pub fn upload(&self, trust: &str, counts: &[u64]) -> Result<Upload> {
        if counts.len() != self.len {
            return Err(FederatedError::Trust {
                trust: trust.to_string(),
                reason: format!("{} cells, the task has {}", counts.len(), self.len),
            });
        }
        if let Some((i, c)) = counts
            .iter()
            .enumerate()
            .find(|(_, c)| **c > self.max_count)
        {
            return Err(FederatedError::Trust {
                trust: trust.to_string(),
                reason: format!(
                    "cell {i} counts {c}, above the per-trust bound {}; raise --max-count",
                    self.max_count
                ),
            });
        }
        self.upload_unchecked(counts)
    }

    /// Shard without the local range check (what a faulty or malicious trust could send).
    pub(crate) fn upload_unchecked(&self, counts: &[u64]) -> Result<Upload> {
        let nonce: [u8; 16] = random_bytes()[..16].try_into().expect("16 bytes");
        let measurement: Vec<u128> = counts.iter().map(|&c| u128::from(c)).collect();
        let (public, inputs) = self
            .vdaf
            .shard(&self.ctx, &measurement, &nonce)
            .map_err(prio_err("sharding a report"))?;
        let enc = |e: std::result::Result<Vec<u8>, prio::codec::CodecError>| {
            e.map_err(|e| FederatedError::crypto("encoding a report", e))
        };
        Ok(Upload {
            nonce,
            public_share: enc(public.get_encoded())?,
            leader_share: enc(inputs[0].get_encoded())?,
            helper_share: enc(inputs[1].get_encoded())?,
        })
    }
}

/// One of the two aggregators (0 = leader, 1 = helper).
#[derive(Debug)]
pub struct PrioAggregator {
    task: PrioTask,
    id: usize,
    verify_key: [u8; 32],
    seen: HashSet<[u8; 16]>,
    share: AggregateShare<Field128>,
    accepted: usize,
}

impl PrioAggregator {
    /// Aggregator `id` with the verification key both aggregators share for the task.
    pub fn new(task: PrioTask, id: usize, verify_key: [u8; 32]) -> PrioAggregator {
        let share = task.vdaf.aggregate_init(&());
        PrioAggregator {
            task,
            id,
            verify_key,
            seen: HashSet::new(),
            share,
            accepted: 0,
        }
    }

    /// Reports accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted
    }

    fn start(
        &mut self,
        trust: &str,
        nonce: &[u8; 16],
        public_share: &[u8],
        input_share: &[u8],
    ) -> Result<(VerifyState, Vec<u8>)> {
        if !self.seen.insert(*nonce) {
            return Err(FederatedError::rejected(
                trust,
                "report",
                "its nonce was already used (a replayed report)",
            ));
        }
        let bad = |what: &str| {
            let what = what.to_string();
            move |e: prio::codec::CodecError| {
                FederatedError::rejected(trust, "report", format!("malformed {what}: {e}"))
            }
        };
        let public = Prio3PublicShare::get_decoded_with_param(&self.task.vdaf, public_share)
            .map_err(bad("public share"))?;
        let input =
            Prio3InputShare::get_decoded_with_param(&(&self.task.vdaf, self.id), input_share)
                .map_err(bad("input share"))?;
        let (state, share) = self
            .task
            .vdaf
            .verify_init(
                &self.verify_key,
                &self.task.ctx,
                self.id,
                &(),
                nonce,
                &public,
                &input,
            )
            .map_err(|e| FederatedError::rejected(trust, "report", format!("refused: {e}")))?;
        let bytes = share
            .get_encoded()
            .map_err(|e| FederatedError::crypto("encoding a verifier share", e))?;
        Ok((state, bytes))
    }

    fn finish(&mut self, trust: &str, state: VerifyState, message: &[u8]) -> Result<()> {
        let msg = Prio3VerifierMessage::get_decoded_with_param(&state, message).map_err(|e| {
            FederatedError::rejected(trust, "report", format!("malformed verifier message: {e}"))
        })?;
        match self.task.vdaf.verify_next(&self.task.ctx, state, msg) {
            Ok(VerifyTransition::Finish(out)) => {
                self.share
                    .accumulate(&out)
                    .map_err(prio_err("accumulating an output share"))?;
                self.accepted += 1;
                Ok(())
            }
            Ok(VerifyTransition::Continue(..)) => Err(FederatedError::crypto(
                "verifying a report",
                "Prio3 verification takes one round",
            )),
            Err(e) => Err(FederatedError::rejected(
                trust,
                "report",
                format!("its validity proof fails (a count out of range?): {e}"),
            )),
        }
    }

    /// Add one draw of noise per cell to this aggregator's share, in the field.
    pub fn add_noise(&mut self, noise: &[i64]) -> Result<()> {
        let mut cells: Vec<Field128> = self.share.as_ref().to_vec();
        if noise.len() != cells.len() {
            return Err(FederatedError::crypto(
                "adding noise",
                "noise of the wrong length",
            ));
        }
        for (c, &e) in cells.iter_mut().zip(noise) {
            let mag = Field128::from(u128::from(e.unsigned_abs()));
            if e >= 0 {
                *c += mag;
            } else {
                *c -= mag;
            }
        }
        self.share = AggregateShare::from(cells);
        Ok(())
    }

    /// The aggregate share, encoded for the collector.
    pub fn aggregate_share(&self) -> Result<Vec<u8>> {
        self.share
            .get_encoded()
            .map_err(|e| FederatedError::crypto("encoding an aggregate share", e))
    }
}

/// Verify one trust's upload between the two aggregators (one exchange of verifier shares
/// each way, as in DAP), accumulating it into both shares or refusing it in both.
pub fn verify_report(
    leader: &mut PrioAggregator,
    helper: &mut PrioAggregator,
    trust: &str,
    upload: &Upload,
) -> Result<usize> {
    let (ls, lshare) = leader.start(
        trust,
        &upload.nonce,
        &upload.public_share,
        &upload.leader_share,
    )?;
    let (hs, hshare) = helper.start(
        trust,
        &upload.nonce,
        &upload.public_share,
        &upload.helper_share,
    )?;
    let decode = |state: &VerifyState, bytes: &[u8]| {
        Prio3VerifierShare::<Field128, 32>::get_decoded_with_param(state, bytes).map_err(|e| {
            FederatedError::rejected(trust, "report", format!("malformed verifier share: {e}"))
        })
    };
    let message = leader
        .task
        .vdaf
        .verifier_shares_to_message(
            &leader.task.ctx,
            &(),
            [decode(&ls, &lshare)?, decode(&hs, &hshare)?],
        )
        .map_err(|e| {
            FederatedError::rejected(trust, "report", format!("its validity proof fails: {e}"))
        })?
        .get_encoded()
        .map_err(|e| FederatedError::crypto("encoding a verifier message", e))?;
    leader.finish(trust, ls, &message)?;
    helper.finish(trust, hs, &message)?;
    Ok(lshare.len() + hshare.len() + 2 * message.len())
}

/// The collector: add the two aggregate shares and decode signed cells (the noise can make
/// a cell negative; a field element above `p / 2` is read as negative).
pub fn collect(task: &PrioTask, leader: &[u8], helper: &[u8], reports: usize) -> Result<Vec<i64>> {
    let decode = |b: &[u8]| {
        AggregateShare::<Field128>::get_decoded_with_param(&(&task.vdaf, &()), b).map_err(|e| {
            FederatedError::rejected("aggregator", "aggregate share", format!("malformed: {e}"))
        })
    };
    let sum = task
        .vdaf
        .unshard(&(), [decode(leader)?, decode(helper)?], reports.max(1))
        .map_err(prio_err("unsharding"))?;
    let p = Field128::modulus();
    Ok(sum
        .into_iter()
        .map(|v| {
            if v > p / 2 {
                -((p - v) as i64)
            } else {
                v as i64
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        task: &PrioTask,
        uploads: &[(String, Upload)],
        noise: Option<&[i64]>,
    ) -> (Vec<i64>, Vec<String>) {
        let key: [u8; 32] = random_bytes();
        let mut leader = PrioAggregator::new(task.clone(), 0, key);
        let mut helper = PrioAggregator::new(task.clone(), 1, key);
        let mut refused = Vec::new();
        for (name, u) in uploads {
            if let Err(e) = verify_report(&mut leader, &mut helper, name, u) {
                refused.push(e.to_string());
            }
        }
        if let Some(n) = noise {
            leader.add_noise(n).unwrap();
            helper.add_noise(n).unwrap();
        }
        let out = collect(
            task,
            &leader.aggregate_share().unwrap(),
            &helper.aggregate_share().unwrap(),
            leader.accepted(),
        )
        .unwrap();
        (out, refused)
    }

    #[test]
    fn the_collected_sum_is_exact_and_bad_reports_count_nowhere() {
        let round = RoundId::random();
        let task = PrioTask::new(round, 6, 100).unwrap();
        let a = task.upload("a", &[1, 2, 3, 4, 5, 100]).unwrap();
        let b = task.upload("b", &[10, 0, 0, 0, 0, 1]).unwrap();
        // Out of range: refused locally, and by the proof if sent anyway.
        assert!(task.upload("c", &[101, 0, 0, 0, 0, 0]).is_err());
        // A trust that shards an out-of-range count under a looser task: refused.
        let loose = PrioTask::new(round, 6, 127).unwrap();
        let mut c = loose.upload_unchecked(&[120, 0, 0, 0, 0, 0]).unwrap();
        c.nonce = [7; 16];
        let mut garbled = b.clone();
        garbled.leader_share[5] ^= 0xff;
        garbled.nonce = [9; 16];
        let uploads = vec![
            ("a".to_string(), a.clone()),
            ("b".to_string(), b.clone()),
            ("c".to_string(), c),
            ("a".to_string(), a),
            ("b2".to_string(), garbled),
        ];
        let (sum, refused) = run(&task, &uploads, None);
        assert_eq!(sum, vec![11, 2, 3, 4, 5, 101]);
        assert_eq!(refused.len(), 3, "{refused:?}");
        assert!(refused[0].contains("c's report was refused"), "{refused:?}");
        assert!(refused[0].contains("validity proof fails"), "{refused:?}");
        assert!(
            refused[2].contains("b2's report") && refused[2].contains("validity proof fails"),
            "{refused:?}"
        );
        assert!(refused[1].contains("replayed"), "{refused:?}");
    }

    #[test]
    fn negative_noise_decodes_as_negative() {
        let task = PrioTask::new(RoundId::random(), 3, 10).unwrap();
        let a = task.upload("a", &[1, 0, 5]).unwrap();
        let (sum, _) = run(&task, &[("a".into(), a)], Some(&[-2, 3, 0]));
        assert_eq!(sum, vec![1 - 4, 6, 5]);
    }

    #[test]
    fn one_aggregators_share_alone_looks_uniform() {
        // The leader's input share of a vector of zeros and of a vector of maxima: the low
        // byte of the encoded field elements is uniform either way.
        for value in [0u64, 65_535] {
            let task = PrioTask::new(RoundId::random(), 4096, 65_535).unwrap();
            let u = task.upload("a", &vec![value; 4096]).unwrap();
            let mut bins = [0u64; 256];
            // Field128 elements are 16 bytes little-endian; the measurement share comes first.
            for chunk in u.leader_share.chunks_exact(16).take(4096 * 16) {
                bins[chunk[0] as usize] += 1;
            }
            let total: u64 = bins.iter().sum();
            let e = total as f64 / 256.0;
            let chi2: f64 = bins.iter().map(|&o| (o as f64 - e).powi(2) / e).sum();
            assert!(chi2 < 355.0, "chi-square {chi2} for value {value}");
        }
    }
}

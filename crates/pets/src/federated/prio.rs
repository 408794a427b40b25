//! Prio3 with two non-colluding aggregators (Corrigan-Gibbs & Boneh 2017; the IETF VDAF
//! draft's Prio3SumVec, implemented by the `prio` crate; the upload, aggregate, collect
//! shape of the IETF DAP protocol).
//!
//! Each trust splits its count vector into two secret shares with a zero-knowledge validity
//! proof (every cell in `[0, max_count]`) and uploads them, one to each aggregator, then
//! may leave. The two aggregators verify the proof together without learning the vector:
//! a report that fails (an encoding out of range, a malformed or replayed share) is refused
//! and counted nowhere. Each aggregator sums the shares it accepted, adds a discrete
//! Gaussian noise of the full target scale to its aggregate share (so the release is
//! private as long as either aggregator is honest: if one colludes with the collector and
//! removes its own noise, the other's remains), and sends it to the collector, who adds the
//! two. The noise variance is therefore twice what one honest aggregator's noise needs:
//! that over-provision is the price of trusting only one of the two.
//!
//! Prio's own DP strategies protect a whole report (one trust); pets calibrates its noise to
//! one *person* ([`crate::federated::aggregate`]), from OpenDP's sampler and privacy map.
//!
//! The roles, as the simulation ([`verify_report`]) and the network service
//! (`pets-federated-net`: a leader and a helper process) both run them, with the same calls:
//!
//! ```text
//! trust:   PrioTask::upload -> Upload::share_for(LEADER) to the leader,
//!                              Upload::share_for(HELPER) to the helper
//! leader:  PrioAggregator::start(report share) -> its verifier share, sent to the helper
//! helper:  PrioAggregator::start(report share), PrioAggregator::combine(its state, the
//!          leader's verifier share) -> the verifier message; PrioAggregator::finish
//! leader:  PrioAggregator::finish(the verifier message)    (one round trip per batch, as DAP)
//! each:    add_noise (its own draw), aggregate_share -> the collector: collect
//! ```

use std::collections::HashSet;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use prio::codec::{Encode, ParameterizedDecode};
use prio::field::{Field128, FieldElementWithInteger};
use prio::vdaf::prio3::{
    Prio3InputShare, Prio3PublicShare, Prio3SumVecMultithreaded, Prio3VerifierMessage,
    Prio3VerifierShare, Prio3VerifyState, optimal_chunk_length,
};
use prio::vdaf::{Aggregatable, AggregateShare, Aggregator, Client, Collector, VerifyTransition};

use crate::dp::mechanisms::DiscreteGaussian;
use crate::federated::error::{FederatedError, Result};
use crate::federated::secagg::RoundId;
use crate::federated::secagg::keys::random_bytes;

/// The VDAF pets runs: Prio3SumVec over Field128, two aggregators.
pub type Vdaf = Prio3SumVecMultithreaded;

type VerifyState = Prio3VerifyState<Field128, 32>;

/// The leader's aggregator id.
pub const LEADER: usize = 0;
/// The helper's aggregator id.
pub const HELPER: usize = 1;

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

    /// What aggregator `id` ([`LEADER`] or [`HELPER`]) receives: the nonce, the public share
    /// and its own input share (never the other's).
    pub fn share_for(&self, id: usize) -> ReportShare {
        ReportShare {
            nonce: self.nonce,
            public_share: self.public_share.clone(),
            input_share: if id == LEADER {
                self.leader_share.clone()
            } else {
                self.helper_share.clone()
            },
        }
    }
}

/// What one aggregator receives of a trust's report (DAP's report share): alone it reveals
/// nothing of the counts (the leader's input share is the counts minus a pseudorandom
/// vector; the helper's is the seed of that vector).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportShare {
    /// The report's nonce.
    pub nonce: [u8; 16],
    /// Prio's public share, encoded.
    pub public_share: Vec<u8>,
    /// This aggregator's input share, encoded.
    pub input_share: Vec<u8>,
}

impl std::fmt::Debug for ReportShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportShare")
            .field("input_share_bytes", &self.input_share.len())
            .finish_non_exhaustive()
    }
}

/// A report share started by one aggregator ([`PrioAggregator::start`]): its verification
/// state, kept, and its verifier share, sent to the other aggregator.
pub struct Pending {
    state: VerifyState,
    /// This aggregator's verifier share, encoded.
    pub verifier_share: Vec<u8>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}

/// A trust's cells as Prio3 measurements: non-negative counts only.
pub fn report_counts(trust: &str, values: &[i64]) -> Result<Vec<u64>> {
    values
        .iter()
        .map(|&v| {
            u64::try_from(v).map_err(|_| FederatedError::Trust {
                trust: trust.to_string(),
                reason: "a negative cell: Prio3 carries counts only".into(),
            })
        })
        .collect()
}

/// Largest report share an aggregator accepts for a task of `cells` cells bounded by
/// `max_count` (checked before decoding): the explicit share of every bit of every cell,
/// the proof and the seeds, with headroom.
pub fn report_limit(cells: usize, max_count: u64) -> usize {
    let bits = 64 - max_count.max(1).leading_zeros() as usize;
    2 * 16 * cells * bits + (1 << 20)
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

    /// Cells per report.
    pub fn cells(&self) -> usize {
        self.len
    }

    /// Split a trust's counts into shares with their validity proof. A count above the
    /// bound is refused here (prio could not encode it: Prio3SumVec writes each cell as bits
    /// weighted so that every encoding is in `[0, max_count]`; a report whose encoded bits
    /// are not bits fails the validity proof).
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

    /// The task.
    pub fn task(&self) -> &PrioTask {
        &self.task
    }

    /// Reports accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted
    }

    /// Begin verifying `trust`'s report share: decode it, refuse a nonce seen before in
    /// this task (a replay), and compute this aggregator's verifier share (Prio3's
    /// `verify_init`).
    pub fn start(&mut self, trust: &str, report: &ReportShare) -> Result<Pending> {
        self.claim(trust, &report.nonce)?;
        self.prepare(trust, report)
    }

    /// [`PrioAggregator::start`] for a batch of reports (the network aggregators', once an
    /// upload stage closes): nonces claimed in order, then the verifier shares computed in
    /// parallel. One result per report, in order.
    pub fn start_batch(&mut self, reports: &[(String, ReportShare)]) -> Vec<Result<Pending>> {
        let claimed: Vec<Result<()>> = reports
            .iter()
            .map(|(trust, r)| self.claim(trust, &r.nonce))
            .collect();
        let this = &*self;
        reports
            .par_iter()
            .zip(claimed)
            .map(|((trust, r), c)| c.and_then(|()| this.prepare(trust, r)))
            .collect()
    }

    /// The helper's [`PrioAggregator::combine`] for a batch, in parallel: `(trust, its own
    /// pending report, the leader's verifier share)`, one result per report, in order.
    pub fn combine_batch(&self, items: &[(&str, &Pending, &[u8])]) -> Vec<Result<Vec<u8>>> {
        items
            .par_iter()
            .map(|(trust, mine, theirs)| self.combine(trust, mine, theirs))
            .collect()
    }

    /// Refuse a nonce seen before in this task (a replayed report).
    fn claim(&mut self, trust: &str, nonce: &[u8; 16]) -> Result<()> {
        if !self.seen.insert(*nonce) {
            return Err(FederatedError::rejected(
                trust,
                "report",
                "its nonce was already used (a replayed report)",
            ));
        }
        Ok(())
    }

    /// Decode a report share and compute this aggregator's verifier share.
    fn prepare(&self, trust: &str, report: &ReportShare) -> Result<Pending> {
        let (nonce, public_share, input_share) =
            (&report.nonce, &report.public_share, &report.input_share);
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
        let verifier_share = share
            .get_encoded()
            .map_err(|e| FederatedError::crypto("encoding a verifier share", e))?;
        Ok(Pending {
            state,
            verifier_share,
        })
    }

    /// The verifier message of a report from both aggregators' verifier shares (Prio3's
    /// `verifier_shares_to_message`, run by the helper in DAP); refused when the proof fails.
    pub fn combine(&self, trust: &str, mine: &Pending, theirs: &[u8]) -> Result<Vec<u8>> {
        let decode = |bytes: &[u8]| {
            Prio3VerifierShare::<Field128, 32>::get_decoded_with_param(&mine.state, bytes).map_err(
                |e| {
                    FederatedError::rejected(
                        trust,
                        "report",
                        format!("malformed verifier share: {e}"),
                    )
                },
            )
        };
        let own = decode(&mine.verifier_share)?;
        let other = decode(theirs)?;
        let shares = if self.id == LEADER {
            [own, other]
        } else {
            [other, own]
        };
        self.task
            .vdaf
            .verifier_shares_to_message(&self.task.ctx, &(), shares)
            .map_err(|e| {
                FederatedError::rejected(trust, "report", format!("its validity proof fails: {e}"))
            })?
            .get_encoded()
            .map_err(|e| FederatedError::crypto("encoding a verifier message", e))
    }

    /// Finish verifying a report with the verifier message (Prio3's `verify_next`): a
    /// valid report is added to this aggregator's share, an invalid one counted nowhere.
    pub fn finish(&mut self, trust: &str, pending: Pending, message: &[u8]) -> Result<()> {
        let state = pending.state;
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

    /// Draw this aggregator's noise, one discrete Gaussian per cell from OpenDP's sampler
    /// (`dg` comes from a charged round's plan, or from the job's plan at the helper), and
    /// add it to its share. The simulation and both network aggregators call this.
    pub fn add_noise_from(&mut self, dg: &DiscreteGaussian) -> Result<()> {
        let noise = dg.noise_share(self.task.len)?;
        self.add_noise(&noise)
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

/// A fresh verification key for a task: the leader draws it and provisions the helper
/// with it over their authenticated channel (DAP's task provisioning).
pub fn verify_key() -> [u8; 32] {
    random_bytes()
}

/// Verify one trust's upload between the two aggregators in this process, with the calls
/// the network's leader and helper make (one exchange of verifier shares, as in DAP),
/// accumulating it into both shares or refusing it in both. Returns the bytes the two
/// aggregators exchanged.
pub fn verify_report(
    leader: &mut PrioAggregator,
    helper: &mut PrioAggregator,
    trust: &str,
    upload: &Upload,
) -> Result<usize> {
    let lp = leader.start(trust, &upload.share_for(LEADER))?;
    let hp = helper.start(trust, &upload.share_for(HELPER))?;
    let message = helper.combine(trust, &hp, &lp.verifier_share)?;
    let bytes = lp.verifier_share.len() + message.len();
    helper.finish(trust, hp, &message)?;
    leader.finish(trust, lp, &message)?;
    Ok(bytes)
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
        // Out of range: refused locally, and prio cannot even encode it (Prio3SumVec writes a
        // cell as bits weighted so that every encoding is in [0, max_count]).
        assert!(task.upload("c", &[101, 0, 0, 0, 0, 0]).is_err());
        assert!(task.upload_unchecked(&[101, 0, 0, 0, 0, 0]).is_err());
        // What a malicious trust can send is an encoding whose "bits" are not 0 or 1 (here the
        // first bit of cell 0 raised by 2 in the leader's explicit share): the proof fails.
        let mut c = task.upload_unchecked(&[0; 6]).unwrap();
        let first = u128::from_le_bytes(c.leader_share[..16].try_into().unwrap());
        c.leader_share[..16].copy_from_slice(&first.wrapping_add(2).to_le_bytes());
        // A report sharded under a looser bound with as many bits passes, but its bits are
        // read with this task's weights, so its cell counts at most max_count: 120 under
        // 127 (64 + 32 + 16 + 8) reads as 37 + 32 + 16 + 8 = 93 under 100.
        let loose = PrioTask::new(round, 6, 127).unwrap();
        let d = loose.upload_unchecked(&[120, 0, 0, 0, 0, 0]).unwrap();
        let mut garbled = b.clone();
        garbled.leader_share[5] ^= 0xff;
        garbled.nonce = [9; 16];
        let uploads = vec![
            ("a".to_string(), a.clone()),
            ("b".to_string(), b.clone()),
            ("c".to_string(), c),
            ("d".to_string(), d),
            ("a".to_string(), a),
            ("b2".to_string(), garbled),
        ];
        let (sum, refused) = run(&task, &uploads, None);
        assert_eq!(sum, vec![11 + 93, 2, 3, 4, 5, 101]);
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
    fn a_batch_verifies_like_one_by_one_and_refuses_a_replay_within_it() {
        let task = PrioTask::new(RoundId::random(), 4, 10).unwrap();
        let key: [u8; 32] = random_bytes();
        let a = task.upload("a", &[1, 2, 3, 4]).unwrap();
        let b = task.upload("b", &[0, 0, 0, 10]).unwrap();
        let mut leader = PrioAggregator::new(task.clone(), LEADER, key);
        let mut helper = PrioAggregator::new(task.clone(), HELPER, key);
        let mut lb = leader.start_batch(&[
            ("a".into(), a.share_for(LEADER)),
            ("b".into(), b.share_for(LEADER)),
            ("a".into(), a.share_for(LEADER)),
        ]);
        let replay = lb.pop().unwrap().unwrap_err().to_string();
        assert!(replay.contains("replayed"), "{replay}");
        let lb: Vec<Pending> = lb.into_iter().map(Result::unwrap).collect();
        let hb: Vec<Pending> = helper
            .start_batch(&[
                ("a".into(), a.share_for(HELPER)),
                ("b".into(), b.share_for(HELPER)),
            ])
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let items: Vec<(&str, &Pending, &[u8])> = ["a", "b"]
            .iter()
            .zip(&hb)
            .zip(&lb)
            .map(|((t, h), l)| (*t, h, l.verifier_share.as_slice()))
            .collect();
        let messages: Vec<Vec<u8>> = helper
            .combine_batch(&items)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        drop(items);
        for ((h, l), m) in hb.into_iter().zip(lb).zip(&messages) {
            helper.finish("t", h, m).unwrap();
            leader.finish("t", l, m).unwrap();
        }
        let sum = collect(
            &task,
            &leader.aggregate_share().unwrap(),
            &helper.aggregate_share().unwrap(),
            2,
        )
        .unwrap();
        assert_eq!(sum, vec![1, 2, 3, 14]);
    }

    #[test]
    fn negative_noise_decodes_as_negative() {
        let task = PrioTask::new(RoundId::random(), 3, 10).unwrap();
        let a = task.upload("a", &[1, 0, 5]).unwrap();
        let (sum, _) = run(&task, &[("a".into(), a)], Some(&[-2, 3, 0]));
        assert_eq!(sum, vec![1 - 4, 6, 5]);
    }
    // What one aggregator sees of a report: `federated::view_tests`.
}

//! The aggregator's side of secure aggregation: it relays, checks every message, and adds.

use std::collections::{BTreeMap, BTreeSet};

use super::client::MASK_LABEL;
use super::keys::{self, KeyPair};
use super::{
    AdvertiseKeys, Inbox, MaskedInput, Roster, SecAggConfig, ShareKeys, Survivors, UnmaskShares,
};
use crate::federated::error::{FederatedError, Result};
use crate::federated::ring::{self, MAX_PARTIES};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Keys,
    Shares,
    Masked,
    Unmask,
}

/// The aggregator of one round. Each `receive_*` checks one message and refuses it (with
/// the reason) when it is for another round, from a party not in the round, a second
/// message from the same party (a replay), the wrong size, or late; a refused message
/// changes nothing. Each closing step (`roster`, `inboxes`, `survivors`, `finish`) aborts
/// the round when fewer than the threshold remain.
#[derive(Debug)]
pub struct SecAggServer {
    config: SecAggConfig,
    stage: Stage,
    keys: BTreeMap<u32, AdvertiseKeys>,
    shares: BTreeMap<u32, ShareKeys>,
    masked: BTreeMap<u32, Vec<u64>>,
    u3: BTreeSet<u32>,
    unmask: BTreeMap<u32, UnmaskShares>,
}

fn party(p: u32) -> String {
    format!("party {p}")
}

impl SecAggServer {
    /// An aggregator for `config`'s round.
    pub fn new(config: SecAggConfig) -> SecAggServer {
        SecAggServer {
            config,
            stage: Stage::Keys,
            keys: BTreeMap::new(),
            shares: BTreeMap::new(),
            masked: BTreeMap::new(),
            u3: BTreeSet::new(),
            unmask: BTreeMap::new(),
        }
    }

    fn late(&self, p: u32, what: &str, stage: Stage) -> Result<()> {
        if self.stage != stage {
            return Err(FederatedError::rejected(
                party(p),
                what,
                "it arrived after its stage closed (the party is treated as dropped)",
            ));
        }
        Ok(())
    }

    /// Round 0: a party's keys.
    pub fn receive_keys(&mut self, msg: AdvertiseKeys) -> Result<()> {
        self.late(msg.party, "keys", Stage::Keys)?;
        self.config.check_round(msg.party, "keys", &msg.round)?;
        if self.keys.contains_key(&msg.party) {
            return Err(FederatedError::rejected(
                party(msg.party),
                "keys",
                "a second key message from the same party (a replay?)",
            ));
        }
        if self.keys.len() >= MAX_PARTIES {
            return Err(FederatedError::rejected(
                party(msg.party),
                "keys",
                format!("the round is full ({MAX_PARTIES} parties)"),
            ));
        }
        // A low-order key would make its pairwise secrets public: refuse it now.
        let probe = KeyPair::generate();
        for pk in [&msg.cipher_pk, &msg.mask_pk] {
            keys::agree(&probe.secret, pk, "keys").map_err(|_| {
                FederatedError::rejected(
                    party(msg.party),
                    "keys",
                    "a public key is a low-order point",
                )
            })?;
        }
        if msg.cipher_pk == msg.mask_pk
            || self.keys.values().any(|k| {
                [k.cipher_pk, k.mask_pk]
                    .iter()
                    .any(|x| *x == msg.cipher_pk || *x == msg.mask_pk)
            })
        {
            return Err(FederatedError::rejected(
                party(msg.party),
                "keys",
                "its public keys repeat keys already in the round",
            ));
        }
        self.keys.insert(msg.party, msg);
        Ok(())
    }

    /// Close round 0: the roster.
    pub fn roster(&mut self) -> Result<Roster> {
        self.late(0, "roster", Stage::Keys)?;
        if self.keys.len() < self.config.threshold {
            return Err(self.config.abort(
                "advertise keys",
                format!(
                    "{} parties sent keys; the round needs {}",
                    self.keys.len(),
                    self.config.threshold
                ),
            ));
        }
        self.stage = Stage::Shares;
        Ok(Roster {
            round: self.config.round,
            parties: self.keys.values().cloned().collect(),
        })
    }

    /// Round 1: a party's encrypted shares, one for every other roster member.
    pub fn receive_shares(&mut self, msg: ShareKeys) -> Result<()> {
        self.late(msg.party, "shares", Stage::Shares)?;
        self.config.check_round(msg.party, "shares", &msg.round)?;
        if !self.keys.contains_key(&msg.party) {
            return Err(FederatedError::rejected(
                party(msg.party),
                "shares",
                "the party is not on the roster",
            ));
        }
        if self.shares.contains_key(&msg.party) {
            return Err(FederatedError::rejected(
                party(msg.party),
                "shares",
                "a second share message from the same party (a replay?)",
            ));
        }
        let expected: BTreeSet<u32> = self
            .keys
            .keys()
            .copied()
            .filter(|&p| p != msg.party)
            .collect();
        let got: BTreeSet<u32> = msg.shares.iter().map(|s| s.to).collect();
        if got != expected
            || msg.shares.len() != expected.len()
            || msg
                .shares
                .iter()
                .any(|s| s.from != msg.party || s.ciphertext.len() > 256)
        {
            return Err(FederatedError::rejected(
                party(msg.party),
                "shares",
                "it must hold exactly one share (at most 256 bytes) for every other roster member",
            ));
        }
        self.shares.insert(msg.party, msg);
        Ok(())
    }

    /// Close round 1: each member of `U2` receives the shares addressed to it.
    pub fn inboxes(&mut self) -> Result<BTreeMap<u32, Inbox>> {
        self.late(0, "inboxes", Stage::Shares)?;
        if self.shares.len() < self.config.threshold {
            return Err(self.config.abort(
                "share keys",
                format!(
                    "{} parties shared their keys; the round needs {}",
                    self.shares.len(),
                    self.config.threshold
                ),
            ));
        }
        let mut boxes: BTreeMap<u32, Inbox> = self
            .shares
            .keys()
            .map(|&p| {
                (
                    p,
                    Inbox {
                        round: self.config.round,
                        shares: Vec::new(),
                    },
                )
            })
            .collect();
        for msg in self.shares.values() {
            for s in &msg.shares {
                if let Some(b) = boxes.get_mut(&s.to) {
                    b.shares.push(s.clone());
                }
            }
        }
        self.stage = Stage::Masked;
        Ok(boxes)
    }

    /// Round 2: a party's masked input.
    pub fn receive_masked(&mut self, msg: MaskedInput) -> Result<()> {
        self.late(msg.party, "masked input", Stage::Masked)?;
        self.config
            .check_round(msg.party, "masked input", &msg.round)?;
        if !self.shares.contains_key(&msg.party) {
            return Err(FederatedError::rejected(
                party(msg.party),
                "masked input",
                "the party did not share its keys in this round",
            ));
        }
        if self.masked.contains_key(&msg.party) {
            return Err(FederatedError::rejected(
                party(msg.party),
                "masked input",
                "a second masked input from the same party (a replay?): the first is kept",
            ));
        }
        if msg.masked.len() != self.config.vector_len {
            return Err(FederatedError::rejected(
                party(msg.party),
                "masked input",
                format!(
                    "{} values, this round sums {}",
                    msg.masked.len(),
                    self.config.vector_len
                ),
            ));
        }
        self.masked.insert(msg.party, msg.masked);
        Ok(())
    }

    /// Close round 2: the survivors `U3`.
    pub fn survivors(&mut self) -> Result<Survivors> {
        self.late(0, "survivors", Stage::Masked)?;
        if self.masked.len() < self.config.threshold {
            return Err(self.config.abort(
                "masked input",
                format!(
                    "{} masked inputs arrived; the round needs {}",
                    self.masked.len(),
                    self.config.threshold
                ),
            ));
        }
        self.u3 = self.masked.keys().copied().collect();
        self.stage = Stage::Unmask;
        Ok(Survivors {
            round: self.config.round,
            parties: self.u3.iter().copied().collect(),
        })
    }

    /// Round 3: a survivor's unmasking shares.
    pub fn receive_unmask(&mut self, msg: UnmaskShares) -> Result<()> {
        self.late(msg.party, "unmask shares", Stage::Unmask)?;
        self.config
            .check_round(msg.party, "unmask shares", &msg.round)?;
        if !self.u3.contains(&msg.party) {
            return Err(FederatedError::rejected(
                party(msg.party),
                "unmask shares",
                "the party is not a survivor of this round",
            ));
        }
        if self.unmask.contains_key(&msg.party) {
            return Err(FederatedError::rejected(
                party(msg.party),
                "unmask shares",
                "a second unmask message from the same party (a replay?)",
            ));
        }
        let u2: BTreeSet<u32> = self.shares.keys().copied().collect();
        let seeds_ok = msg
            .seed_shares
            .iter()
            .all(|(v, s)| self.u3.contains(v) && s.len() == 33);
        let keys_ok = msg
            .key_shares
            .iter()
            .all(|(v, s)| u2.contains(v) && !self.u3.contains(v) && s.len() == 33);
        if !seeds_ok || !keys_ok {
            return Err(FederatedError::rejected(
                party(msg.party),
                "unmask shares",
                "it holds a seed share of a party that dropped, a key share of a survivor, \
                 or a share of the wrong size",
            ));
        }
        self.unmask.insert(msg.party, msg);
        Ok(())
    }

    /// Close round 3: recover the self masks of survivors and the pairwise masks of the
    /// dropped, and return `sum_{u in U3} x_u` and `U3`.
    pub fn finish(self) -> Result<(Vec<u64>, Vec<u32>)> {
        if self.stage != Stage::Unmask {
            return Err(self
                .config
                .abort("unmask", "the round is not at its last stage"));
        }
        let t = self.config.threshold;
        if self.unmask.len() < t {
            return Err(self.config.abort(
                "unmask",
                format!(
                    "{} survivors sent unmasking shares; the round needs {t}",
                    self.unmask.len()
                ),
            ));
        }
        let mut sum = vec![0u64; self.config.vector_len];
        for y in self.masked.values() {
            ring::add_assign(&mut sum, y);
        }
        let collect = |owner: u32, seeds: bool| -> Vec<Vec<u8>> {
            self.unmask
                .values()
                .filter_map(|m| {
                    let list = if seeds { &m.seed_shares } else { &m.key_shares };
                    list.iter()
                        .find(|(v, _)| *v == owner)
                        .map(|(_, s)| s.clone())
                })
                .collect()
        };
        for &v in &self.u3 {
            let shares = collect(v, true);
            let seed = keys::recover_secret(&shares, t)
                .filter(|s| {
                    keys::commit(&self.config.round, v, s) == self.shares[&v].seed_commitment
                })
                .ok_or_else(|| {
                    self.config.abort(
                        "unmask",
                        format!(
                            "party {v}'s self-mask seed could not be recovered from {} shares \
                             (or does not match its commitment)",
                            shares.len()
                        ),
                    )
                })?;
            keys::apply_mask(&mut sum, &seed, false);
        }
        let dropped: Vec<u32> = self
            .shares
            .keys()
            .copied()
            .filter(|p| !self.u3.contains(p))
            .collect();
        for v in dropped {
            let shares = collect(v, false);
            let secret = keys::recover_secret(&shares, t)
                .map(KeyPair::from_secret)
                .filter(|k| k.public == self.keys[&v].mask_pk)
                .ok_or_else(|| {
                    self.config.abort(
                        "unmask",
                        format!(
                            "party {v} dropped and its mask key could not be recovered from {} \
                             shares (or does not match its public key)",
                            shares.len()
                        ),
                    )
                })?;
            for &w in &self.u3 {
                let shared = keys::agree(&secret.secret, &self.keys[&w].mask_pk, "unmask")?;
                let seed = keys::derive(&shared, &self.config.round, MASK_LABEL, v, w);
                // w added +PRG(s_wv) if w < v, -PRG(s_wv) if w > v: take it back out.
                keys::apply_mask(&mut sum, &seed, w > v);
            }
        }
        Ok((sum, self.u3.into_iter().collect()))
    }
}

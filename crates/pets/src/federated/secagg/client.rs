//! A trust's side of secure aggregation: one state machine, one method per round.

use std::collections::{BTreeMap, BTreeSet};

use super::keys::{self, KeyPair};
use super::{
    AdvertiseKeys, EncryptedShare, Inbox, MaskedInput, Roster, SecAggConfig, ShareKeys, Survivors,
    UnmaskShares,
};
use crate::federated::error::{FederatedError, Result};
use crate::federated::ring::MAX_PARTIES;

const ENC_LABEL: &str = "pets secagg v1 enc";
pub(crate) const MASK_LABEL: &str = "pets secagg v1 mask";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Advertised,
    Shared,
    Masked,
    Done,
}

/// One trust in one round. Secrets (its key pairs, self-mask seed and own shares) never
/// leave it except as the shares the protocol sends.
pub struct SecAggClient {
    config: SecAggConfig,
    party: u32,
    cipher: KeyPair,
    mask: KeyPair,
    seed: [u8; 32],
    input: Vec<u64>,
    stage: Stage,
    roster: BTreeMap<u32, AdvertiseKeys>,
    /// Own share of the self-mask seed (x = own roster position + 1); the own share of the
    /// mask key is never needed (a party that unmasks has survived).
    own_seed_share: Option<Vec<u8>>,
    /// Ciphertexts received from the members of U2.
    received: BTreeMap<u32, Vec<u8>>,
    u2: BTreeSet<u32>,
}

impl std::fmt::Debug for SecAggClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets or the input.
        f.debug_struct("SecAggClient")
            .field("party", &self.party)
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl SecAggClient {
    /// Join `config`'s round as `party` with `input` (already in the ring); returns the
    /// round-0 message.
    pub fn new(
        config: SecAggConfig,
        party: u32,
        input: Vec<u64>,
    ) -> Result<(SecAggClient, AdvertiseKeys)> {
        if input.len() != config.vector_len {
            return Err(FederatedError::invalid(
                "input length",
                input.len(),
                format!("this round sums vectors of {} values", config.vector_len),
            ));
        }
        let client = SecAggClient {
            party,
            cipher: KeyPair::generate(),
            mask: KeyPair::generate(),
            seed: keys::random_bytes(),
            input,
            stage: Stage::Advertised,
            roster: BTreeMap::new(),
            own_seed_share: None,
            received: BTreeMap::new(),
            u2: BTreeSet::new(),
            config,
        };
        let msg = AdvertiseKeys {
            round: client.config.round,
            party,
            cipher_pk: client.cipher.public,
            mask_pk: client.mask.public,
        };
        Ok((client, msg))
    }

    /// This party's id.
    pub fn party(&self) -> u32 {
        self.party
    }

    fn expect(&self, stage: Stage, what: &str) -> Result<()> {
        if self.stage != stage {
            return Err(self.config.abort(
                what,
                format!(
                    "party {} is not at this stage (it is {:?})",
                    self.party, self.stage
                ),
            ));
        }
        Ok(())
    }

    /// Round 1: check the roster, share both secrets with every other member.
    pub fn share_keys(&mut self, roster: &Roster) -> Result<ShareKeys> {
        self.expect(Stage::Advertised, "share keys")?;
        self.config.check_round(0, "roster", &roster.round)?;
        let t = self.config.threshold;
        let mut members = BTreeMap::new();
        for a in &roster.parties {
            if a.round != self.config.round || members.insert(a.party, a.clone()).is_some() {
                return Err(self.config.abort(
                    "share keys",
                    format!(
                        "the roster lists party {} twice or for another round",
                        a.party
                    ),
                ));
            }
        }
        if members.len() < t || members.len() > MAX_PARTIES {
            return Err(self.config.abort(
                "share keys",
                format!(
                    "the roster has {} parties; the round needs {t} to {MAX_PARTIES}",
                    members.len()
                ),
            ));
        }
        match members.get(&self.party) {
            Some(me) if me.cipher_pk == self.cipher.public && me.mask_pk == self.mask.public => {}
            _ => {
                return Err(self.config.abort(
                    "share keys",
                    format!("the roster does not carry party {}'s own keys", self.party),
                ));
            }
        }
        self.roster = members;
        let n = self.roster.len();
        let key_shares = keys::share_secret(&self.mask.secret.to_bytes(), t, n);
        let seed_shares = keys::share_secret(&self.seed, t, n);
        let mut shares = Vec::with_capacity(n - 1);
        for (i, (&v, adv)) in self.roster.iter().enumerate() {
            if v == self.party {
                self.own_seed_share = Some(seed_shares[i].clone());
                continue;
            }
            let shared = keys::agree(&self.cipher.secret, &adv.cipher_pk, "share keys")?;
            let key = keys::derive(&shared, &self.config.round, ENC_LABEL, self.party, v);
            let mut plain = Vec::with_capacity(8 + 2 * 34);
            plain.extend_from_slice(&self.party.to_le_bytes());
            plain.extend_from_slice(&v.to_le_bytes());
            plain.push(key_shares[i].len() as u8);
            plain.extend_from_slice(&key_shares[i]);
            plain.extend_from_slice(&seed_shares[i]);
            shares.push(EncryptedShare {
                from: self.party,
                to: v,
                ciphertext: keys::seal(&key, &self.config.round, self.party, v, &plain)?,
            });
        }
        self.stage = Stage::Shared;
        Ok(ShareKeys {
            round: self.config.round,
            party: self.party,
            seed_commitment: keys::commit(&self.config.round, self.party, &self.seed),
            shares,
        })
    }

    /// Round 2: learn `U2` from the inbox and send the masked input.
    pub fn masked_input(&mut self, inbox: &Inbox) -> Result<MaskedInput> {
        self.expect(Stage::Shared, "masked input")?;
        self.config.check_round(0, "inbox", &inbox.round)?;
        let mut u2 = BTreeSet::from([self.party]);
        for s in &inbox.shares {
            if s.to != self.party || !self.roster.contains_key(&s.from) || !u2.insert(s.from) {
                return Err(self.config.abort(
                    "masked input",
                    format!(
                        "party {}'s inbox holds a share from {} to {} that is not one of its own",
                        self.party, s.from, s.to
                    ),
                ));
            }
            self.received.insert(s.from, s.ciphertext.clone());
        }
        if u2.len() < self.config.threshold {
            return Err(self.config.abort(
                "masked input",
                format!(
                    "only {} parties shared their keys; the round needs {}",
                    u2.len(),
                    self.config.threshold
                ),
            ));
        }
        let mut y = self.input.clone();
        keys::apply_mask(&mut y, &self.seed, true);
        for &v in &u2 {
            if v == self.party {
                continue;
            }
            let shared = keys::agree(&self.mask.secret, &self.roster[&v].mask_pk, "masked input")?;
            let seed = keys::derive(&shared, &self.config.round, MASK_LABEL, self.party, v);
            // p_uv = +PRG(s_uv) when u < v, -PRG(s_uv) when u > v: they cancel in the sum.
            keys::apply_mask(&mut y, &seed, self.party < v);
        }
        self.u2 = u2;
        // The plain input is no longer needed: drop it.
        self.input = Vec::new();
        self.stage = Stage::Masked;
        Ok(MaskedInput {
            round: self.config.round,
            party: self.party,
            masked: y,
        })
    }

    /// Round 3: for each member of `U2`, reveal the share of its self-mask seed if it
    /// survived and of its mask key if it dropped; never both for one party.
    pub fn unmask(&mut self, survivors: &Survivors) -> Result<UnmaskShares> {
        self.expect(Stage::Masked, "unmask")?;
        self.config.check_round(0, "survivors", &survivors.round)?;
        let u3: BTreeSet<u32> = survivors.parties.iter().copied().collect();
        if u3.len() != survivors.parties.len()
            || !u3.is_subset(&self.u2)
            || !u3.contains(&self.party)
            || u3.len() < self.config.threshold
        {
            return Err(self.config.abort(
                "unmask",
                format!(
                    "the survivors list ({} parties) is not a subset of the {} that shared \
                     keys including party {}, or is under the threshold {}",
                    survivors.parties.len(),
                    self.u2.len(),
                    self.party,
                    self.config.threshold
                ),
            ));
        }
        let mut seed_shares = Vec::new();
        let mut key_shares = Vec::new();
        let own = self
            .own_seed_share
            .clone()
            .expect("shares were made in round 1");
        seed_shares.push((self.party, own));
        for &v in &self.u2 {
            if v == self.party {
                continue;
            }
            let Some(plain) = self.open_from(v) else {
                // A share that does not authenticate is left out; the aggregator
                // reconstructs from the others or aborts.
                continue;
            };
            let (key_share, seed_share) = plain;
            if u3.contains(&v) {
                seed_shares.push((v, seed_share));
            } else {
                key_shares.push((v, key_share));
            }
        }
        self.stage = Stage::Done;
        Ok(UnmaskShares {
            round: self.config.round,
            party: self.party,
            seed_shares,
            key_shares,
        })
    }

    fn open_from(&self, v: u32) -> Option<(Vec<u8>, Vec<u8>)> {
        let ct = self.received.get(&v)?;
        let shared = keys::agree(&self.cipher.secret, &self.roster[&v].cipher_pk, "unmask").ok()?;
        let key = keys::derive(&shared, &self.config.round, ENC_LABEL, v, self.party);
        let plain = keys::open(&key, &self.config.round, v, self.party, ct)?;
        if plain.len() < 9 {
            return None;
        }
        let from = u32::from_le_bytes(plain[0..4].try_into().ok()?);
        let to = u32::from_le_bytes(plain[4..8].try_into().ok()?);
        let klen = plain[8] as usize;
        if from != v || to != self.party || plain.len() != 9 + 2 * klen {
            return None;
        }
        Some((plain[9..9 + klen].to_vec(), plain[9 + klen..].to_vec()))
    }
}

//! Secure aggregation by pairwise masking with dropout recovery (Bonawitz, Ivanov, Kreuter,
//! Marcedone, McMahan, Patel, Ramage, Segal & Seth 2017, "Practical Secure Aggregation for
//! Privacy-Preserving Machine Learning", CCS; the semi-honest protocol of their Figure 4,
//! with Flower's SecAgg+ as the behavioural reference).
//!
//! Each trust `u` holds a vector `x_u` in `Z_{2^64}^m` (its noisy counts, see
//! [`crate::federated::ring`]). Four rounds through the aggregator, who only relays and adds:
//!
//! 0. **Advertise keys.** `u` sends two fresh X25519 public keys: `c_u` (to encrypt shares
//!    to peers) and `s_u` (to agree pairwise mask seeds). The aggregator publishes the
//!    roster `U1` (at least `t`).
//! 1. **Share keys.** `u` draws a self-mask seed `b_u`, Shamir-shares `b_u` and its mask
//!    secret key `s_u^SK` (threshold `t`, one share per roster member), encrypts each peer's
//!    pair of shares under `HKDF(X25519(c_u^SK, c_v))` with ChaCha20-Poly1305 and a commitment
//!    `H(b_u)`. The aggregator routes them; the senders are `U2` (at least `t`).
//! 2. **Masked input.** `u` sends
//!    `y_u = x_u + PRG(b_u) + sum_{v in U2, v > u} PRG(s_uv) - sum_{v in U2, v < u} PRG(s_uv)`,
//!    with `s_uv = HKDF(X25519(s_u^SK, s_v))`. Those who send are `U3` (at least `t`).
//! 3. **Unmask.** Each `u` in `U3` decrypts its shares and returns, for each `v` in `U2`,
//!    the share of `b_v` if `v` sent its masked input and the share of `s_v^SK` if `v`
//!    dropped, never both (so no one's input is ever unmasked). With `t` responses the
//!    aggregator recovers every `b_v` (checked against its commitment) and every dropped
//!    `s_v^SK` (checked against `s_v`), removes the masks and obtains exactly
//!    `sum_{u in U3} x_u`.
//!
//! **What the aggregator learns:** only that sum (for `t > n/2` against a semi-honest
//! aggregator; the masks are uniform, so each `y_u` alone is uniform in `Z_{2^64}^m`).
//! **Dropouts:** up to `n - t` trusts may drop at any point; a trust that drops after
//! sending its masked input is counted (its self mask is recovered), one that drops before
//! is not, and either way nothing is counted twice. Fewer than `t` at any stage aborts the
//! round and nothing is released. The aggregator's honesty about `U3` is assumed (the
//! semi-honest model); mutual TLS authenticates parties on the network.

mod client;
pub(crate) mod keys;
mod server;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use client::SecAggClient;
pub use server::SecAggServer;

use crate::federated::error::{FederatedError, Result};
use crate::federated::ring::MAX_PARTIES;

/// A round's identity: 16 random bytes, bound into every key, ciphertext and commitment so
/// that nothing from one round is accepted in another (replay).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RoundId(pub [u8; 16]);

impl RoundId {
    /// A fresh random round id.
    pub fn random() -> RoundId {
        let b = keys::random_bytes();
        let mut id = [0u8; 16];
        id.copy_from_slice(&b[..16]);
        RoundId(id)
    }
}

impl fmt::Display for RoundId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0[..6] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// A round's public parameters, known to every party before it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecAggConfig {
    /// The round.
    pub round: RoundId,
    /// Parties that must survive every stage (and the Shamir threshold), `2 <= t`.
    pub threshold: usize,
    /// Length of every input vector.
    pub vector_len: usize,
}

impl SecAggConfig {
    /// Check the parameters for `n` expected parties: `t` must be a strict majority (the
    /// aggregator alone must not be able to gather `t` shares by claiming parties dropped
    /// twice over) and at most `n`.
    pub fn check(&self, n: usize) -> Result<()> {
        if n > MAX_PARTIES {
            return Err(FederatedError::invalid(
                "parties",
                n,
                format!("at most {MAX_PARTIES} parties take part in one round"),
            ));
        }
        if self.threshold < 2 || self.threshold > n || 2 * self.threshold <= n {
            return Err(FederatedError::invalid(
                "threshold",
                self.threshold,
                format!(
                    "with {n} trusts it must be a strict majority, from {} to {n} (and at \
                     least 2): fewer would let an aggregator unmask a trust's input",
                    n / 2 + 1
                ),
            ));
        }
        if self.vector_len == 0 {
            return Err(FederatedError::invalid(
                "vector_len",
                0,
                "a round sums at least one value",
            ));
        }
        Ok(())
    }

    pub(crate) fn abort(&self, stage: &str, reason: impl Into<String>) -> FederatedError {
        FederatedError::Aborted {
            round: self.round.to_string(),
            stage: stage.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn check_round(&self, party: u32, message: &str, round: &RoundId) -> Result<()> {
        if *round != self.round {
            return Err(FederatedError::rejected(
                format!("party {party}"),
                message,
                format!("it is for round {round}, not {} (a replay?)", self.round),
            ));
        }
        Ok(())
    }
}

/// Round 0, trust to aggregator: the trust's two public keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvertiseKeys {
    /// The round.
    pub round: RoundId,
    /// The sender.
    pub party: u32,
    /// Key for encrypting shares to this party.
    pub cipher_pk: [u8; 32],
    /// Key for agreeing pairwise mask seeds.
    pub mask_pk: [u8; 32],
}

/// Aggregator to every trust: the roster `U1`, sorted by party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    /// The round.
    pub round: RoundId,
    /// Every party's keys.
    pub parties: Vec<AdvertiseKeys>,
}

/// One encrypted pair of Shamir shares, from one trust to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedShare {
    /// The sender.
    pub from: u32,
    /// The recipient.
    pub to: u32,
    /// ChaCha20-Poly1305 ciphertext of (from, to, share of s^SK, share of b).
    pub ciphertext: Vec<u8>,
}

/// Round 1, trust to aggregator: a share for every other roster member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareKeys {
    /// The round.
    pub round: RoundId,
    /// The sender.
    pub party: u32,
    /// SHA-256 commitment to the self-mask seed.
    pub seed_commitment: [u8; 32],
    /// One per other roster member.
    pub shares: Vec<EncryptedShare>,
}

/// Aggregator to one trust: the shares addressed to it by the members of `U2`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbox {
    /// The round.
    pub round: RoundId,
    /// The shares.
    pub shares: Vec<EncryptedShare>,
}

/// Round 2, trust to aggregator: the masked input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskedInput {
    /// The round.
    pub round: RoundId,
    /// The sender.
    pub party: u32,
    /// `y_u`, little-endian on the wire.
    #[serde(with = "crate::federated::wire::u64_le")]
    pub masked: Vec<u64>,
}

/// Aggregator to every survivor: `U3`, the parties whose masked input arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Survivors {
    /// The round.
    pub round: RoundId,
    /// Sorted party ids.
    pub parties: Vec<u32>,
}

/// Round 3, trust to aggregator: the shares needed to unmask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmaskShares {
    /// The round.
    pub round: RoundId,
    /// The sender.
    pub party: u32,
    /// Shares of the self-mask seeds of survivors, by owner.
    pub seed_shares: Vec<(u32, Vec<u8>)>,
    /// Shares of the mask secret keys of parties that dropped, by owner.
    pub key_shares: Vec<(u32, Vec<u8>)>,
}

//! The cryptographic steps of secure aggregation, each one call into an audited crate:
//! X25519 key agreement (`x25519-dalek`), HKDF-SHA256 key derivation (`hkdf`, `sha2`),
//! ChaCha20-Poly1305 authenticated encryption (`chacha20poly1305`), the ChaCha20 stream as
//! the mask generator (`rand_chacha`), and Shamir sharing over GF(256) (`blahaj`).
//! Randomness is the operating system's, through `rand`'s thread generator (ChaCha12
//! seeded and reseeded from the OS), never a home-made generator.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use hkdf::Hkdf;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};

use super::RoundId;
use crate::federated::error::{FederatedError, Result};

#[cfg(test)]
thread_local! {
    /// Tests only: a seeded ChaCha20 stream that replaces the operating system's generator
    /// in this thread, so that statistical tests of what the aggregator sees are
    /// reproducible ([`seed_for_tests`]). It does not exist outside `cargo test`.
    static TEST_RNG: std::cell::RefCell<Option<ChaCha20Rng>> = const { std::cell::RefCell::new(None) };
}

/// Tests only: draw this thread's secrets (key pairs, self-mask seeds, Shamir
/// polynomials, round ids) from ChaCha20 seeded with `seed`; `None` returns to the
/// operating system's generator.
#[cfg(test)]
pub(crate) fn seed_for_tests(seed: Option<u64>) {
    TEST_RNG.with(|r| *r.borrow_mut() = seed.map(ChaCha20Rng::seed_from_u64));
}

/// A fresh 32-byte secret from the operating system's generator.
pub(crate) fn random_bytes() -> [u8; 32] {
    let mut out = [0u8; 32];
    #[cfg(test)]
    if TEST_RNG.with(|r| {
        r.borrow_mut()
            .as_mut()
            .map(|g| g.fill_bytes(&mut out))
            .is_some()
    }) {
        return out;
    }
    rand::rng().fill_bytes(&mut out);
    out
}

/// An X25519 key pair, fresh for one round.
pub(crate) struct KeyPair {
    pub(crate) secret: StaticSecret,
    pub(crate) public: [u8; 32],
}

impl KeyPair {
    pub(crate) fn generate() -> KeyPair {
        KeyPair::from_secret(random_bytes())
    }

    pub(crate) fn from_secret(bytes: [u8; 32]) -> KeyPair {
        let secret = StaticSecret::from(bytes);
        let public = PublicKey::from(&secret).to_bytes();
        KeyPair { secret, public }
    }
}

/// The X25519 shared secret with `peer`, refusing a low-order peer key (whose "shared"
/// secret would be known to everyone).
pub(crate) fn agree(secret: &StaticSecret, peer: &[u8; 32], stage: &str) -> Result<[u8; 32]> {
    let shared = secret.diffie_hellman(&PublicKey::from(*peer));
    if !shared.was_contributory() {
        return Err(FederatedError::crypto(
            stage,
            "a peer's public key is a low-order point",
        ));
    }
    Ok(shared.to_bytes())
}

/// HKDF-SHA256 of a shared secret into a 32-byte key bound to the round, a purpose label
/// and the (unordered) pair of parties.
pub(crate) fn derive(shared: &[u8; 32], round: &RoundId, label: &str, a: u32, b: u32) -> [u8; 32] {
    let (lo, hi) = (a.min(b), a.max(b));
    let hk = Hkdf::<Sha256>::new(Some(&round.0), shared);
    let mut info = Vec::with_capacity(label.len() + 8);
    info.extend_from_slice(label.as_bytes());
    info.extend_from_slice(&lo.to_le_bytes());
    info.extend_from_slice(&hi.to_le_bytes());
    let mut out = [0u8; 32];
    hk.expand(&info, &mut out)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

/// The nonce of the one message `from` sends `to` under their pair key in a round: the
/// pair key is fresh per round and each direction is sent once, so nonces never repeat.
fn nonce(from: u32, to: u32) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(&from.to_le_bytes());
    n[4..8].copy_from_slice(&to.to_le_bytes());
    n
}

fn aad(round: &RoundId, from: u32, to: u32) -> Vec<u8> {
    let mut a = b"pets secagg v1 share".to_vec();
    a.extend_from_slice(&round.0);
    a.extend_from_slice(&from.to_le_bytes());
    a.extend_from_slice(&to.to_le_bytes());
    a
}

/// Encrypt and authenticate `plaintext` from `from` to `to` in `round`.
pub(crate) fn seal(
    key: &[u8; 32],
    round: &RoundId,
    from: u32,
    to: u32,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let cipher = ChaCha20Poly1305::new(&(*key).into());
    cipher
        .encrypt(
            &nonce(from, to).into(),
            Payload {
                msg: plaintext,
                aad: &aad(round, from, to),
            },
        )
        .map_err(|e| FederatedError::crypto("sealing a share", e))
}

/// Decrypt what `from` sealed for `to` in `round`; `None` when it does not authenticate
/// (tampered, replayed from another round, or addressed to someone else).
pub(crate) fn open(
    key: &[u8; 32],
    round: &RoundId,
    from: u32,
    to: u32,
    ciphertext: &[u8],
) -> Option<Vec<u8>> {
    let cipher = ChaCha20Poly1305::new(&(*key).into());
    cipher
        .decrypt(
            &nonce(from, to).into(),
            Payload {
                msg: ciphertext,
                aad: &aad(round, from, to),
            },
        )
        .ok()
}

/// Add `sign * PRG(seed)` to `acc` in `Z_{2^64}`: the ChaCha20 stream keyed by `seed`, read
/// as little-endian `u64`s.
pub(crate) fn apply_mask(acc: &mut [u64], seed: &[u8; 32], add: bool) {
    let mut prg = ChaCha20Rng::from_seed(*seed);
    if add {
        for a in acc.iter_mut() {
            *a = a.wrapping_add(prg.next_u64());
        }
    } else {
        for a in acc.iter_mut() {
            *a = a.wrapping_sub(prg.next_u64());
        }
    }
}

/// A binding commitment to a self-mask seed, so that the aggregator detects a wrongly
/// reconstructed seed instead of releasing a garbled sum. The seed is 256 uniform bits,
/// so its SHA-256 hash reveals nothing usable about it.
pub(crate) fn commit(round: &RoundId, party: u32, seed: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"pets secagg v1 commit");
    h.update(round.0);
    h.update(party.to_le_bytes());
    h.update(seed);
    h.finalize().into()
}

/// Shamir shares (threshold `t`) of a 32-byte secret, the share for x = i + 1 at index i.
pub(crate) fn share_secret(secret: &[u8; 32], t: usize, n: usize) -> Vec<Vec<u8>> {
    let sharks = blahaj::Sharks(t as u8);
    #[cfg(test)]
    if let Some(shares) = TEST_RNG.with(|r| {
        r.borrow_mut()
            .as_mut()
            .map(|rng| deal(&sharks, secret, n, rng))
    }) {
        return shares;
    }
    deal(&sharks, secret, n, &mut rand::rng())
}

fn deal<R: rand::CryptoRng>(
    sharks: &blahaj::Sharks,
    secret: &[u8; 32],
    n: usize,
    rng: &mut R,
) -> Vec<Vec<u8>> {
    sharks
        .dealer_rng(secret, rng)
        .take(n)
        .map(|s| Vec::from(&s))
        .collect()
}

/// Recover a 32-byte secret from at least `t` shares.
pub(crate) fn recover_secret(shares: &[Vec<u8>], t: usize) -> Option<[u8; 32]> {
    let parsed: Vec<blahaj::Share> = shares
        .iter()
        .filter_map(|s| blahaj::Share::try_from(s.as_slice()).ok())
        .filter(|s| s.y.len() == 32)
        .collect();
    let secret = blahaj::Sharks(t as u8).recover(parsed.iter()).ok()?;
    secret.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_derive_the_same_pair_key_and_shares_recover_with_any_t() {
        let round = RoundId([3; 16]);
        let a = KeyPair::generate();
        let b = KeyPair::generate();
        let ka = derive(
            &agree(&a.secret, &b.public, "t").unwrap(),
            &round,
            "x",
            1,
            2,
        );
        let kb = derive(
            &agree(&b.secret, &a.public, "t").unwrap(),
            &round,
            "x",
            2,
            1,
        );
        assert_eq!(ka, kb);
        let ct = seal(&ka, &round, 1, 2, b"share").unwrap();
        assert_eq!(open(&kb, &round, 1, 2, &ct).unwrap(), b"share");
        // Another round, direction or recipient does not open.
        assert!(open(&kb, &RoundId([4; 16]), 1, 2, &ct).is_none());
        assert!(open(&kb, &round, 2, 1, &ct).is_none());

        let secret = random_bytes();
        let shares = share_secret(&secret, 3, 5);
        assert_eq!(recover_secret(&shares[2..5], 3), Some(secret));
        assert_eq!(
            recover_secret(
                &[shares[0].clone(), shares[4].clone(), shares[2].clone()],
                3
            ),
            Some(secret)
        );
        assert_eq!(recover_secret(&shares[..2], 3), None);
    }

    #[test]
    fn a_low_order_public_key_is_refused() {
        let a = KeyPair::generate();
        assert!(agree(&a.secret, &[0u8; 32], "test").is_err());
    }

    #[test]
    fn masks_cancel() {
        let seed = random_bytes();
        let mut v = vec![7u64; 100];
        apply_mask(&mut v, &seed, true);
        assert_ne!(v, vec![7u64; 100]);
        apply_mask(&mut v, &seed, false);
        assert_eq!(v, vec![7u64; 100]);
    }
}

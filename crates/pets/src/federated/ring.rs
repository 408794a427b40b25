//! Integers in the ring `Z_{2^64}`, where secure aggregation adds.
//!
//! A trust's (noisy) integer vector is encoded by two's complement, `x mod 2^64`; masks are
//! uniform in the ring and cancel in the sum; the aggregate is decoded back to a signed
//! integer. The decoded sum equals the true (noisy) integer sum `S` exactly when
//! `|S| < 2^63`. pets guarantees it: each trust's value is refused above [`MAX_ABS_INPUT`]
//! in magnitude before noise, at most [`MAX_PARTIES`] trusts take part, and a trust's noise
//! share is refused above [`MAX_ABS_INPUT`] too (a draw that large from a discrete Gaussian
//! of the scales pets allows has probability below `2^-1000`), so
//! `|S| <= 255 * 2 * 2^52 < 2^61`. No wrap-around is possible, so none needs accounting.

use crate::federated::error::{FederatedError, Result};

/// Largest number of parties in one round (Shamir shares over GF(256) have 255 points).
pub const MAX_PARTIES: usize = 255;

/// Largest magnitude of one trust's value in one cell, before or of its noise share.
pub const MAX_ABS_INPUT: i64 = 1 << 52;

/// Encode signed values into the ring, refusing any of magnitude above [`MAX_ABS_INPUT`].
pub fn encode(values: &[i64], party: &str) -> Result<Vec<u64>> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if v.unsigned_abs() > MAX_ABS_INPUT as u64 {
                Err(FederatedError::rejected(
                    party,
                    "input",
                    format!("cell {i} holds {v}, beyond the ring's safe range +-2^52"),
                ))
            } else {
                Ok(v as u64)
            }
        })
        .collect()
}

/// Decode ring elements to signed integers (two's complement).
pub fn decode(values: &[u64]) -> Vec<i64> {
    values.iter().map(|&v| v as i64).collect()
}

/// `acc += x` element-wise in the ring.
pub fn add_assign(acc: &mut [u64], x: &[u64]) {
    for (a, b) in acc.iter_mut().zip(x) {
        *a = a.wrapping_add(*b);
    }
}

/// `acc -= x` element-wise in the ring.
pub fn sub_assign(acc: &mut [u64], x: &[u64]) {
    for (a, b) in acc.iter_mut().zip(x) {
        *a = a.wrapping_sub(*b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_values_round_trip_through_the_ring() {
        let v = vec![0, -1, 5, -(1 << 52), 1 << 52];
        let enc = encode(&v, "t").unwrap();
        assert_eq!(decode(&enc), v);
        let mut acc = vec![0u64; 5];
        add_assign(&mut acc, &enc);
        add_assign(&mut acc, &enc);
        sub_assign(&mut acc, &enc);
        assert_eq!(decode(&acc), v);
    }

    #[test]
    fn values_beyond_the_safe_range_are_refused() {
        let e = encode(&[1, (1 << 52) + 1], "trust_a").unwrap_err();
        assert!(e.to_string().contains("cell 1"), "{e}");
    }
}

//! The wire format of federated messages: `postcard` (compact serde) with a version byte
//! and a size limit checked before decoding, so a malformed or oversized message is refused
//! without allocating for it. Long integer vectors travel as raw little-endian bytes.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::federated::error::{FederatedError, Result};

/// The wire format's version; a message of another version is refused. Version 3: a sum's
/// or mean's query and layout carry an optional condition (rates).
pub const WIRE_VERSION: u8 = 3;

/// Encode a message: the version byte, then postcard.
pub fn to_wire<T: Serialize>(message: &T) -> Result<Vec<u8>> {
    let mut out = vec![WIRE_VERSION];
    let body = postcard::to_allocvec(message)
        .map_err(|e| FederatedError::crypto("encoding a message", e))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decode a message of at most `limit` bytes from `party`.
pub fn from_wire<T: DeserializeOwned>(
    bytes: &[u8],
    limit: usize,
    party: &str,
    what: &str,
) -> Result<T> {
    if bytes.len() > limit {
        return Err(FederatedError::rejected(
            party,
            what,
            format!(
                "{} bytes is over this round's limit of {limit} bytes",
                bytes.len()
            ),
        ));
    }
    match bytes.split_first() {
        Some((&WIRE_VERSION, body)) => postcard::from_bytes(body)
            .map_err(|e| FederatedError::rejected(party, what, format!("malformed: {e}"))),
        Some((v, _)) => Err(FederatedError::rejected(
            party,
            what,
            format!("wire version {v}, this build speaks {WIRE_VERSION}"),
        )),
        None => Err(FederatedError::rejected(party, what, "empty message")),
    }
}

/// Serde helper: a `Vec<u64>` as little-endian bytes (8 bytes a value, no varints: masked
/// values are uniform, so varints would cost 10 bytes each).
pub(crate) mod u64_le {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &[u64], s: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::with_capacity(v.len() * 8);
        for x in v {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        s.serialize_bytes(&bytes)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        let bytes: &[u8] = <&[u8]>::deserialize(d)?;
        if !bytes.len().is_multiple_of(8) {
            return Err(serde::de::Error::custom(
                "a vector of u64 must be a multiple of 8 bytes",
            ));
        }
        Ok(bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("chunks of 8")))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federated::secagg::{MaskedInput, RoundId};

    #[test]
    fn messages_round_trip_and_bad_bytes_are_refused() {
        let m = MaskedInput {
            round: RoundId([1; 16]),
            party: 3,
            masked: vec![u64::MAX, 0, 42],
        };
        let bytes = to_wire(&m).unwrap();
        assert!(bytes.len() < 16 + 3 * 8 + 8);
        let back: MaskedInput = from_wire(&bytes, 1 << 20, "t", "masked input").unwrap();
        assert_eq!(back, m);
        assert!(from_wire::<MaskedInput>(&bytes, 10, "t", "masked input").is_err());
        assert!(from_wire::<MaskedInput>(&bytes[..bytes.len() - 3], 1 << 20, "t", "m").is_err());
        let mut wrong = bytes.clone();
        wrong[0] = 9;
        let e = from_wire::<MaskedInput>(&wrong, 1 << 20, "t", "m").unwrap_err();
        assert!(e.to_string().contains("wire version 9"), "{e}");
    }

    /// Queries and layouts travel in postcard, which is not self-describing: a field skipped
    /// when empty would shift every field after it (a rate's condition once did).
    #[test]
    fn queries_and_layouts_with_and_without_conditions_round_trip() {
        use crate::federated::aggregate::{FederatedQuery, ValueLayout};
        let q = FederatedQuery::from_specs(
            &[vec!["sex".into()]],
            &[
                "mean(total_time_in_dept_min > 240) by provider_code".into(),
                "mean(total_time_in_dept_min, 0, 300) by sex".into(),
                "sum(admitted = true)".into(),
            ],
        )
        .unwrap();
        let bytes = to_wire(&q).unwrap();
        let back: FederatedQuery = from_wire(&bytes, 1 << 20, "t", "query").unwrap();
        assert_eq!(back, q);
        let layouts: Vec<ValueLayout> = q
            .values
            .iter()
            .map(|v| ValueLayout::of(v).unwrap())
            .collect();
        let bytes = to_wire(&layouts).unwrap();
        let back: Vec<ValueLayout> = from_wire(&bytes, 1 << 20, "t", "layout").unwrap();
        assert_eq!(back, layouts);
    }
}

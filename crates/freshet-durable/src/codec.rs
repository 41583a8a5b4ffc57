//! The encoding of the values the engine keeps in its logs and checkpoints: batch records,
//! source offsets, receiver blocks, operator state.
//!
//! bincode 1 with fixed-width integers (its default format), and a limit on what one decode
//! may allocate, so that bytes that are not what the caller expects (a pipeline whose types
//! changed) give an error, never an allocation failure. Data read back from disk has passed its
//! CRC before it gets here.

use bincode::Options;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The most one decode may allocate (1 GiB).
pub const DECODE_LIMIT: u64 = 1 << 30;

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .allow_trailing_bytes()
        .with_limit(DECODE_LIMIT)
}

/// Why a value could not be encoded or decoded: the encoder's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(pub String);

/// Encodes `value`.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    options()
        .serialize(value)
        .map_err(|e| CodecError(e.to_string()))
}

/// Decodes what [`encode`] wrote.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    options()
        .deserialize(bytes)
        .map_err(|e| CodecError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_bincode_1s_default() {
        let v: Vec<(String, u64)> = vec![("a".into(), 7)];
        assert_eq!(encode(&v).unwrap(), bincode::serialize(&v).unwrap());
        assert_eq!(
            decode::<Vec<(String, u64)>>(&encode(&v).unwrap()).unwrap(),
            v
        );
    }

    #[test]
    fn a_huge_length_is_an_error_not_an_allocation() {
        let bytes = u64::MAX.to_le_bytes();
        assert!(decode::<Vec<u64>>(&bytes).is_err());
        assert!(decode::<String>(&bytes).is_err());
    }
}

//! The encoding of the values the engine keeps in its logs and checkpoints: batch records,
//! source offsets, receiver blocks, operator state, manifests.
//!
//! A value is written as one format byte, then its [postcard](https://docs.rs/postcard)
//! encoding (a documented, stable wire format: varint integers, length-prefixed sequences). The
//! format byte lets a later build read what this one wrote, and refuse clearly what it cannot.
//! Data read back from disk has passed its CRC before it gets here, so a value that does not
//! decode means the pipeline's types changed.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The format byte of postcard 1 encodings.
pub const POSTCARD_V1: u8 = 1;

/// Why a value could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(pub String);

/// Encodes `value`.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = vec![POSTCARD_V1];
    postcard::to_io(value, &mut out).map_err(|e| CodecError(e.to_string()))?;
    Ok(out)
}

/// Decodes what [`encode`] wrote. Bytes after the value are an error.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    match bytes.split_first() {
        Some((&POSTCARD_V1, rest)) => {
            let (value, tail) =
                postcard::take_from_bytes(rest).map_err(|e| CodecError(e.to_string()))?;
            if !tail.is_empty() {
                return Err(CodecError(format!("{} bytes after the value", tail.len())));
            }
            Ok(value)
        }
        Some((format, _)) => Err(CodecError(format!(
            "encoding format {format} is not one this build reads ({POSTCARD_V1})"
        ))),
        None => Err(CodecError("no bytes".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_tagged() {
        let v: Vec<(String, Option<Vec<u8>>)> = vec![("a".into(), Some(vec![1, 2]))];
        let bytes = encode(&v).unwrap();
        assert_eq!(bytes[0], POSTCARD_V1);
        assert_eq!(decode::<Vec<(String, Option<Vec<u8>>)>>(&bytes).unwrap(), v);
    }

    #[test]
    fn a_huge_length_or_an_unknown_format_is_an_error() {
        let mut bytes = vec![POSTCARD_V1];
        bytes.extend([0xff; 10]);
        assert!(decode::<Vec<u64>>(&bytes).is_err());
        assert!(decode::<String>(&bytes).is_err());
        let err = decode::<u64>(&[9, 1]).unwrap_err();
        assert!(err.0.contains("format 9"), "{err}");
        assert!(decode::<u64>(&[]).is_err());
    }
}

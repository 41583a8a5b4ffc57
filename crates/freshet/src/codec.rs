//! The encoding of what the engine writes to disk and reads back: batch-log records, source
//! offsets, operator state. Data that passed its checksum and still does not decode means the
//! pipeline's types changed, which is reported as [`Error::Decode`].

use crate::error::{Error, Result};
use freshet_durable::codec;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Encodes `value` (`what` names it in errors).
pub(crate) fn encode<T: Serialize + ?Sized>(what: &str, value: &T) -> Result<Vec<u8>> {
    codec::encode(value).map_err(|e| Error::Decode {
        what: format!("{what} (while encoding)"),
        reason: e.0,
    })
}

/// Decodes what [`encode`] wrote (`what` names it in errors).
pub(crate) fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T> {
    codec::decode(bytes).map_err(|e| Error::Decode {
        what: what.to_string(),
        reason: e.0,
    })
}

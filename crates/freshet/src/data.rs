//! The bounds that records and keys must satisfy.
//!
//! Records travel between worker threads (and, in cluster mode, between processes), so they must
//! be `Send` and serializable; they are cloned where an operator needs two copies (a static
//! [`Dataset`](crate::Dataset) re-emitted every batch, a join that pairs one value with many).

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::hash::Hash;

/// A record that can flow through a pipeline.
///
/// Implemented automatically for every type that is `Clone + Send + Sync + Serialize +
/// DeserializeOwned + 'static`: `String`, numbers, tuples, `Vec`s and your own
/// `#[derive(Clone, Serialize, Deserialize)]` structs.
pub trait Data: Clone + Send + Sync + Serialize + DeserializeOwned + 'static {}
impl<T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static> Data for T {}

/// A record that can be used as a key: keyed operators route it to a worker by its hash.
pub trait Key: Data + Hash + Eq {}
impl<T: Data + Hash + Eq> Key for T {}

//! Input that a system removed before a source read it (a retention limit, a trim, a purge):
//! what the source does about it and how the engine counts it.

use crate::error::SourceError;
use crate::run::Shared;
use std::sync::Arc;

/// What a direct source does when it finds that records it had not read yet are gone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DataLossPolicy {
    /// Fail the job with an error naming what is gone (the default, as Spark's
    /// `failOnDataLoss`): a pipeline never silently produces results without them.
    #[default]
    Fail,
    /// Go on from the oldest records still there; the loss is logged, counted in
    /// [`StreamingContext::lost_records`](crate::StreamingContext::lost_records) and in the
    /// `freshet_records_lost_total` metric, which the "records lost" alert watches.
    Continue,
}

/// Where a source reports lost input: handed to it in its [`StartContext`](super::StartContext).
#[derive(Clone, Default)]
pub struct DataLoss {
    policy: DataLossPolicy,
    source: String,
    shared: Option<Arc<Shared>>,
}

impl std::fmt::Debug for DataLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataLoss")
            .field("policy", &self.policy)
            .field("source", &self.source)
            .finish()
    }
}

impl DataLoss {
    pub(crate) fn new(policy: DataLossPolicy, source: &str, shared: Arc<Shared>) -> Self {
        DataLoss {
            policy,
            source: source.to_string(),
            shared: Some(shared),
        }
    }

    /// A reporter under `policy` that only logs (for driving a source outside a context, as
    /// tests do).
    pub fn detached(policy: DataLossPolicy) -> Self {
        DataLoss {
            policy,
            ..DataLoss::default()
        }
    }

    /// The policy the stream was given.
    pub fn policy(&self) -> DataLossPolicy {
        self.policy
    }

    /// Reports that `records` records (`None`: an unknown number, at least one) the source had
    /// not read are gone, `what` saying which and why. Under [`DataLossPolicy::Fail`] it
    /// returns the user's error to fail the job with; under [`DataLossPolicy::Continue`] the
    /// loss is counted and logged, and the source goes on.
    pub fn report(&self, records: Option<u64>, what: &str) -> Result<(), SourceError> {
        match self.policy {
            DataLossPolicy::Fail => Err(SourceError::user(format!(
                "{what} (set DirectOptions::on_data_loss(DataLossPolicy::Continue) to go on \
                 without them)"
            ))),
            DataLossPolicy::Continue => {
                let n = records.unwrap_or(1);
                match &self.shared {
                    Some(shared) => shared.lose_input(&self.source, what, n),
                    None => tracing::error!("{what}: continuing without them"),
                }
                Ok(())
            }
        }
    }
}

//! Broker errors, classified: the user's (a missing topic, a refused authorization, a bad
//! setting) fail the job; the outside world's (a broker down, a timeout) are retried.

use freshet::SourceError;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// Whether an rdkafka error code is the user's to fix: retrying does not help.
pub(crate) fn is_user_code(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code,
        C::UnknownTopicOrPartition
            | C::UnknownTopic
            | C::UnknownPartition
            | C::InvalidTopic
            | C::TopicAuthorizationFailed
            | C::GroupAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::TransactionalIdAuthorizationFailed
            | C::DelegationTokenAuthorizationFailed
            | C::SaslAuthenticationFailed
            | C::Authentication
            | C::UnsupportedSASLMechanism
            | C::IllegalSASLState
            | C::InvalidArgument
            | C::InvalidConfig
            | C::InvalidGroupId
            | C::InvalidRequest
            | C::OffsetOutOfRange
            | C::UnknownProtocol
            | C::InvalidType
            | C::MessageSizeTooLarge
            | C::InvalidMessageSize
            | C::InvalidRecord
            | C::InvalidTransactionTimeout
    )
}

/// Classifies an rdkafka error met while doing `what` (a sentence fragment naming the topic or
/// partition): user errors are not retried, everything else (transport failures, timeouts, a
/// leader election in progress) is external and retried with back-off.
pub(crate) fn classify(what: &str, e: KafkaError) -> SourceError {
    let message = format!("{what}: {e}");
    let user = match &e {
        KafkaError::ClientConfig(..) | KafkaError::ClientCreation(_) | KafkaError::Nul(_) => true,
        _ => e.rdkafka_error_code().is_some_and(is_user_code),
    };
    if user {
        SourceError::user(message).with_cause(e)
    } else {
        SourceError::external(message).with_cause(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use freshet::ErrorDomain;

    #[test]
    fn missing_topics_and_refused_authorizations_are_the_users_and_transport_is_retried() {
        let user = [
            RDKafkaErrorCode::UnknownTopicOrPartition,
            RDKafkaErrorCode::TopicAuthorizationFailed,
            RDKafkaErrorCode::SaslAuthenticationFailed,
        ];
        for code in user {
            let e = classify("reading t/0", KafkaError::MetadataFetch(code));
            assert_eq!(e.domain(), ErrorDomain::User, "{e}");
            assert!(!e.is_retryable());
        }
        let external = [
            RDKafkaErrorCode::BrokerTransportFailure,
            RDKafkaErrorCode::AllBrokersDown,
            RDKafkaErrorCode::OperationTimedOut,
            RDKafkaErrorCode::RequestTimedOut,
            RDKafkaErrorCode::NotLeaderForPartition,
            RDKafkaErrorCode::LeaderNotAvailable,
        ];
        for code in external {
            let e = classify("reading t/0", KafkaError::MessageConsumption(code));
            assert_eq!(e.domain(), ErrorDomain::External, "{e}");
            assert!(e.is_retryable());
        }
        let e = classify(
            "creating a consumer",
            KafkaError::ClientCreation("bad".into()),
        );
        assert_eq!(e.domain(), ErrorDomain::User);
    }
}

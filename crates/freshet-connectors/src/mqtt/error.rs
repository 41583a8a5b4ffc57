//! How the receiver classifies the failures of its connection.

use freshet::source::StoreError;
use freshet::{ErrorDomain, RetryHint, SourceError};
use rumqttc::{ConnectReturnCode, ConnectionError, StateError};

/// Classifies a failure of the connection to `broker`: a refused or dropped connection, a
/// timeout or a broker that is unavailable is external and retried with back-off; a client id,
/// credentials or protocol the broker rejects, or a message larger than `max_packet_size`, is
/// the user's.
pub(super) fn classify(broker: &str, client_id: &str, error: ConnectionError) -> SourceError {
    let at = format!("mqtt: broker {broker}");
    match error {
        ConnectionError::Io(e) => {
            let classified = SourceError::io(&at, e);
            if classified.domain() == ErrorDomain::User {
                classified
            } else {
                // Name lookups and other network failures may pass: retried.
                let message = classified.to_string();
                SourceError::external(message).with_cause(classified)
            }
        }
        ConnectionError::ConnectionRefused(code) => {
            let message = match code {
                ConnectReturnCode::ServiceUnavailable => {
                    return SourceError::external(format!("{at}: the service is unavailable"))
                }
                ConnectReturnCode::BadClientId => {
                    format!("{at} rejected client_id `{client_id}`")
                }
                ConnectReturnCode::BadUserNamePassword => {
                    format!("{at} rejected the credentials (user name or password)")
                }
                ConnectReturnCode::NotAuthorized => {
                    format!("{at}: client `{client_id}` is not authorized to connect")
                }
                ConnectReturnCode::RefusedProtocolVersion => {
                    format!("{at} does not speak MQTT 3.1.1")
                }
                ConnectReturnCode::Success => format!("{at} refused the connection"),
            };
            SourceError::user(message)
        }
        ConnectionError::MqttState(StateError::Deserialization(
            rumqttc::Error::PayloadSizeLimitExceeded(size),
        )) => SourceError::user(format!(
            "{at}: a message of {size} bytes is larger than max_packet_size"
        )),
        e @ (ConnectionError::NetworkTimeout
        | ConnectionError::FlushTimeout
        | ConnectionError::MqttState(_)
        | ConnectionError::NotConnAck(_)) => {
            SourceError::external(format!("{at}: {e}")).with_cause(e)
        }
        e @ ConnectionError::RequestsDone => {
            SourceError::internal(format!("{at}: {e}")).with_cause(e)
        }
    }
}

/// A block that could not be stored: nothing was acknowledged, so the broker sends it again.
pub(super) fn store_error<T>(e: StoreError<T>) -> SourceError {
    let message = format!("mqtt receiver: storing a block: {}", e.error);
    match e.error.domain() {
        ErrorDomain::External => {
            SourceError::new(ErrorDomain::External, RetryHint::WithBackoff, message)
        }
        domain => SourceError::new(domain, RetryHint::NoRetry, message),
    }
    .with_cause(e.error)
}

//! Broker errors, classified: the user's (a missing queue, a refused access, a virtual host
//! that does not exist, a queue declared with other arguments) fail the job; the outside
//! world's (a broker down or restarting, a dropped connection, a timeout) are retried.

use freshet::SourceError;

/// The AMQP reply codes that retrying does not fix: 402 INVALID_PATH, 403 ACCESS_REFUSED,
/// 404 NOT_FOUND, 405 RESOURCE_LOCKED (an exclusive queue of another connection),
/// 406 PRECONDITION_FAILED, 530 NOT_ALLOWED (a virtual host the user may not open).
const USER_CODES: [u16; 6] = [402, 403, 404, 405, 406, 530];

/// Whether an AMQP reply code is the user's to fix.
pub(crate) fn is_user_code(code: u16) -> bool {
    USER_CODES.contains(&code)
}

/// Classifies a lapin error met while doing `what` (a sentence fragment naming the queue):
/// the reply codes of [`is_user_code`] are the user's, everything else (a refused or dropped
/// connection, a channel or connection closed by the broker, a missed heartbeat) is external
/// and retried with back-off.
pub(crate) fn classify(what: &str, e: lapin::Error) -> SourceError {
    let user = match &e {
        lapin::Error::ProtocolError(amqp) => is_user_code(amqp.get_id()),
        _ => false,
    };
    let hint = match &e {
        lapin::Error::ProtocolError(amqp) if amqp.get_id() == 404 => {
            " (the queue must exist, or be declared with `declare_queue`)"
        }
        lapin::Error::ProtocolError(amqp) if amqp.get_id() == 403 => {
            " (check the user name, password and permissions in `uri`)"
        }
        lapin::Error::ProtocolError(amqp) if amqp.get_id() == 530 => {
            " (check the virtual host in `uri`)"
        }
        _ => "",
    };
    let message = format!("{what}: {e}{hint}");
    if user {
        SourceError::user(message).with_cause(e)
    } else {
        SourceError::external(message).with_cause(e)
    }
}

/// A request that took longer than `timeout`: the broker is slow or unreachable.
pub(crate) fn timed_out(what: &str, timeout: std::time::Duration) -> SourceError {
    SourceError::external(format!("{what}: no answer within {timeout:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use freshet::ErrorDomain;
    use lapin::protocol::AMQPError;
    use std::sync::Arc;

    fn protocol(code: u16) -> lapin::Error {
        lapin::Error::ProtocolError(
            AMQPError::from_id(code, "reply".into()).expect("a known reply code"),
        )
    }

    #[test]
    fn missing_queues_and_refused_access_are_the_users_and_transport_is_retried() {
        for code in [403, 404, 406, 530] {
            let e = classify("rabbitmq: queue `q`", protocol(code));
            assert_eq!(e.domain(), ErrorDomain::User, "{e}");
            assert!(!e.is_retryable());
        }
        assert!(classify("x", protocol(404))
            .to_string()
            .contains("declare_queue"));
        for code in [320, 501, 506, 541] {
            let e = classify("rabbitmq: queue `q`", protocol(code));
            assert_eq!(e.domain(), ErrorDomain::External, "{e}");
            assert!(e.is_retryable());
        }
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e = classify("connecting", lapin::Error::IOError(Arc::new(refused)));
        assert!(e.is_retryable());
        assert!(classify("x", lapin::Error::MissingHeartbeatError).is_retryable());
        assert!(timed_out("connecting", std::time::Duration::from_secs(1)).is_retryable());
    }
}

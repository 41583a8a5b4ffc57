//! A connection to a NATS server with the runtime that drives it, and the classification of
//! the client's errors: the user's (a missing stream, a refused authorization, a bad setting)
//! fail the job; the outside world's (a server down, a timeout) are retried.

use async_nats::jetstream;
use async_nats::jetstream::ErrorCode;
use async_nats::{ConnectErrorKind, ConnectOptions};
use freshet::SourceError;
use std::future::Future;
use std::time::Duration;

/// A client, its JetStream context and the runtime (one thread) that runs its connection, so
/// that pings are answered and reconnects happen between the blocking calls made on it.
pub(crate) struct Connection {
    runtime: Option<tokio::runtime::Runtime>,
    pub(crate) client: async_nats::Client,
    pub(crate) js: jetstream::Context,
}

impl Connection {
    /// Connects to `url` (one attempt, bounded by `timeout`; later requests are bounded by it
    /// too).
    pub(crate) fn open(url: &str, timeout: Duration, name: &str) -> Result<Self, SourceError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("freshet-nats")
            .enable_all()
            .build()
            .map_err(|e| SourceError::io("nats: starting the client's runtime", e))?;
        let options = ConnectOptions::new()
            .name(name)
            .connection_timeout(timeout)
            .request_timeout(Some(timeout));
        let client = runtime
            .block_on(async { tokio::time::timeout(timeout, options.connect(url)).await })
            .map_err(|_| {
                SourceError::external(format!(
                    "nats: connecting to {url}: no answer within {timeout:?}"
                ))
            })?
            .map_err(|e| connect_error(url, e))?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(timeout);
        Ok(Connection {
            runtime: Some(runtime),
            client,
            js,
        })
    }

    /// Runs `future` to completion on the calling thread.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        match &self.runtime {
            Some(rt) => rt.block_on(future),
            None => unreachable_runtime(),
        }
    }

    /// Makes the runtime current on this thread while the guard lives, for the client's values
    /// (a subscription) that need it when they are dropped.
    pub(crate) fn enter(&self) -> tokio::runtime::EnterGuard<'_> {
        match &self.runtime {
            Some(rt) => rt.enter(),
            None => unreachable_runtime(),
        }
    }
}

#[cold]
fn unreachable_runtime() -> ! {
    // The runtime is only taken in `drop`.
    unreachable!("a NATS connection's runtime is used after it was dropped")
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

/// Classifies a failed connection to `url`.
pub(crate) fn connect_error(url: &str, e: async_nats::ConnectError) -> SourceError {
    let message = format!("nats: connecting to {url}: {e}");
    match e.kind() {
        ConnectErrorKind::ServerParse
        | ConnectErrorKind::Authentication
        | ConnectErrorKind::AuthorizationViolation
        | ConnectErrorKind::Tls => SourceError::user(message).with_cause(e),
        ConnectErrorKind::Dns
        | ConnectErrorKind::TimedOut
        | ConnectErrorKind::Io
        | ConnectErrorKind::MaxReconnects => SourceError::external(message).with_cause(e),
    }
}

/// Whether a JetStream API error code is a passing condition of the server or the cluster
/// (retrying may help) rather than a request the server refuses as it is.
fn is_transient(code: ErrorCode) -> bool {
    [
        ErrorCode::CLUSTER_NOT_AVAILABLE,
        ErrorCode::CLUSTER_NOT_LEADER,
        ErrorCode::CLUSTER_NOT_ACTIVE,
        ErrorCode::CLUSTER_NOT_ASSIGNED,
        ErrorCode::CLUSTER_INCOMPLETE,
        ErrorCode::CLUSTER_NO_PEERS,
        ErrorCode::INSUFFICIENT_RESOURCES,
        ErrorCode::RAFT_GENERAL,
        ErrorCode::TEMP_STORAGE_FAILED,
        ErrorCode::STREAM_STORE_FAILED,
    ]
    .contains(&code)
}

/// Classifies an error answer of the JetStream API to `what`.
pub(crate) fn api_error(what: &str, e: &jetstream::Error) -> SourceError {
    let message = format!("{what}: {e}");
    if is_transient(e.error_code()) {
        SourceError::external(message).with_cause(e.clone())
    } else {
        SourceError::user(message).with_cause(e.clone())
    }
}

/// Classifies a client error met while doing `what`: an error answer of the JetStream API in
/// its causes is classified by its code; anything else (a timeout, no responders while the
/// server restarts, a dropped connection) is external and retried.
pub(crate) fn classify<E>(what: &str, e: E) -> SourceError
where
    E: std::error::Error + Send + Sync + 'static,
{
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if let Some(api) = c.downcast_ref::<jetstream::Error>() {
            return api_error(what, api);
        }
        cause = c.source();
    }
    SourceError::external(format!("{what}: {e}")).with_cause(e)
}

/// Checks a stream or consumer name as the server does: not empty, and none of whitespace,
/// `.`, `*`, `>`, `/`, `\`.
pub(crate) fn check_name(setting: &str, name: &str) -> Result<(), SourceError> {
    let bad = name
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\'));
    if name.is_empty() || bad {
        return Err(SourceError::user(format!(
            "nats: {setting} `{name}` is not a valid name (not empty, without whitespace, \
             `.`, `*`, `>`, `/` or `\\`)"
        )));
    }
    Ok(())
}

/// Checks a subject (or a subject filter, with wildcards): dot-separated tokens, none empty,
/// no whitespace, `>` only as the last token and `*`/`>` only as whole tokens.
pub(crate) fn check_subject(setting: &str, subject: &str) -> Result<(), SourceError> {
    let tokens: Vec<&str> = subject.split('.').collect();
    let ok = !subject.is_empty()
        && tokens.iter().enumerate().all(|(i, t)| {
            !t.is_empty()
                && !t.chars().any(char::is_whitespace)
                && (!t.contains('*') || *t == "*")
                && (!t.contains('>') || (*t == ">" && i + 1 == tokens.len()))
        });
    if !ok {
        return Err(SourceError::user(format!(
            "nats: {setting} `{subject}` is not a valid subject"
        )));
    }
    Ok(())
}

/// The shortest and longest request timeout.
pub(crate) const MIN_TIMEOUT: Duration = Duration::from_millis(100);
/// The longest request timeout.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// Checks a timeout setting.
pub(crate) fn check_timeout(setting: &str, timeout: Duration) -> Result<(), SourceError> {
    if !(MIN_TIMEOUT..=MAX_TIMEOUT).contains(&timeout) {
        return Err(SourceError::user(format!(
            "nats: {setting} must be between {MIN_TIMEOUT:?} and {MAX_TIMEOUT:?}, not {timeout:?}"
        )));
    }
    Ok(())
}

/// Milliseconds since the Unix epoch of a server timestamp given in nanoseconds.
pub(crate) fn millis(nanos: i128) -> i64 {
    i64::try_from(nanos.div_euclid(1_000_000)).unwrap_or(i64::MAX)
}

/// The RFC 3339 form (UTC) of `ms` milliseconds since the Unix epoch (at least 0).
pub(crate) fn rfc3339(ms: i64) -> String {
    let ms = ms.max(0);
    let days = ms.div_euclid(86_400_000);
    let rest = ms.rem_euclid(86_400_000);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_subjects_are_checked_as_the_server_does() {
        assert!(check_name("stream", "ORDERS_1-a").is_ok());
        for bad in ["", "a.b", "a b", "a*", "a>", "a/b"] {
            let e = check_name("stream", bad).unwrap_err();
            assert!(e.to_string().contains("stream"), "{e}");
        }
        for ok in ["a", "a.b", "a.*.c", "a.>", ">", "*"] {
            assert!(check_subject("subject", ok).is_ok(), "{ok}");
        }
        for bad in ["", "a..b", "a.>.c", "a b", "a*", ".a", "a."] {
            assert!(check_subject("subject", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_are_written_in_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn a_refused_connection_is_retried() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let e = rt
            .block_on(async_nats::connect(addr.to_string()))
            .unwrap_err();
        let e = connect_error(&addr.to_string(), e);
        assert!(e.is_retryable(), "{e}");
    }
}

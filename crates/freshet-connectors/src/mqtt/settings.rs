//! The receiver's settings: their ranges and the checks that refuse bad values by name.

use freshet::SourceError;
use std::time::Duration;

/// The largest `block_size`.
pub const MAX_BLOCK_SIZE: usize = 1_000_000;
/// The default `max_inflight`: Mosquitto's default `max_inflight_messages`.
pub const DEFAULT_MAX_INFLIGHT: u16 = 20;
/// The longest client id and topic filter, in bytes (an MQTT string's length is 16 bits).
pub const MAX_MQTT_STRING: usize = 65_535;
/// The largest `max_packet_size` (the largest packet MQTT can encode: 256 MiB).
pub const MAX_PACKET_SIZE: usize = 268_435_455;
/// The smallest `max_packet_size`.
pub(super) const MIN_PACKET_SIZE: usize = 1024;
/// The shortest `block_max_wait` and `poll_timeout`.
pub(super) const MIN_WAIT: Duration = Duration::from_millis(1);
/// The longest `block_max_wait`.
pub(super) const MAX_BLOCK_WAIT: Duration = Duration::from_secs(60);
/// The longest `poll_timeout`.
pub(super) const MAX_POLL_TIMEOUT: Duration = Duration::from_secs(10);
/// The shortest `drain_timeout`.
pub(super) const MIN_DRAIN: Duration = Duration::from_millis(10);
/// The longest `drain_timeout`.
pub(super) const MAX_DRAIN: Duration = Duration::from_secs(60);
/// The shortest `keep_alive` (rumqttc's floor for a keep-alive that is not off).
pub(super) const MIN_KEEP_ALIVE: Duration = Duration::from_secs(5);
/// The longest `keep_alive` (16 bits of seconds).
pub(super) const MAX_KEEP_ALIVE: Duration = Duration::from_secs(65_535);
/// The shortest `connect_timeout`.
pub(super) const MIN_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest `connect_timeout`.
pub(super) const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(300);

/// Splits `host:port` (`[v6]:port` for an IPv6 address).
pub(super) fn parse_broker(broker: &str) -> Result<(String, u16), SourceError> {
    let refuse = || {
        SourceError::user(format!(
            "mqtt receiver: broker must be `host:port`, not `{broker}`"
        ))
    };
    let (host, port) = broker.trim().rsplit_once(':').ok_or_else(refuse)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(refuse());
    }
    let port: u16 = port.parse().map_err(|_| refuse())?;
    if port == 0 {
        return Err(refuse());
    }
    Ok((host.to_string(), port))
}

/// A persistent session needs a client id: the broker keeps the session under it.
pub(super) fn validate_client_id(id: &str) -> Result<(), SourceError> {
    if id.is_empty() {
        return Err(SourceError::user(
            "mqtt receiver: client_id is empty; a persistent session is kept under its client id",
        ));
    }
    if id.len() > MAX_MQTT_STRING {
        return Err(SourceError::user(format!(
            "mqtt receiver: client_id must be at most {MAX_MQTT_STRING} bytes, not {}",
            id.len()
        )));
    }
    if id.contains('\0') {
        return Err(SourceError::user(
            "mqtt receiver: client_id must not contain the character U+0000",
        ));
    }
    Ok(())
}

/// Checks the topic filters: at least one, each a valid MQTT filter (`+` for one whole level,
/// `#` for the rest as the last level).
pub(super) fn validate_filters(filters: &[String]) -> Result<(), SourceError> {
    if filters.is_empty() {
        return Err(SourceError::user(
            "mqtt receiver: no topic filter to subscribe to",
        ));
    }
    for filter in filters {
        if let Err(why) = check_filter(filter) {
            return Err(SourceError::user(format!(
                "mqtt receiver: topic filter `{filter}` is not a valid filter: {why}"
            )));
        }
    }
    Ok(())
}

fn check_filter(filter: &str) -> Result<(), &'static str> {
    if filter.is_empty() {
        return Err("it is empty");
    }
    if filter.len() > MAX_MQTT_STRING {
        return Err("it is longer than 65535 bytes");
    }
    if filter.contains('\0') {
        return Err("it contains U+0000");
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
            return Err("`#` must be a whole level, the last one");
        }
        if level.contains('+') && *level != "+" {
            return Err("`+` must be a whole level");
        }
    }
    Ok(())
}

/// Checks that `value` of setting `name` is in `min..=max`.
pub(super) fn check_range<T: PartialOrd + Copy + std::fmt::Debug>(
    name: &str,
    value: T,
    min: T,
    max: T,
) -> Result<(), SourceError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(SourceError::user(format!(
            "mqtt receiver: {name} must be between {min:?} and {max:?}, not {value:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brokers_are_host_and_port() {
        assert_eq!(
            parse_broker("localhost:1883").unwrap(),
            ("localhost".into(), 1883)
        );
        assert_eq!(parse_broker("[::1]:1883").unwrap(), ("::1".into(), 1883));
        for bad in ["localhost", ":1883", "h:0", "h:x", "h:70000", "a b:1"] {
            assert!(parse_broker(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn filters_follow_the_wildcard_rules() {
        for good in ["a", "a/b", "+", "#", "a/+/c", "a/#", "+/+/#", "/a", "a//b"] {
            assert!(check_filter(good).is_ok(), "{good}");
        }
        for bad in ["", "a#", "a/#/b", "a+", "a/b+/c", "#/a", "a\0b"] {
            assert!(check_filter(bad).is_err(), "{bad:?}");
        }
    }
}

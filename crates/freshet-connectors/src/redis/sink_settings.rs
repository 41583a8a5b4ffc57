//! The settings of a [`RedisSink`](super::RedisSink), their ranges and defaults, and the typed
//! error that names a bad one.

use freshet::SinkError;
use std::fmt;
use std::time::Duration;

/// The shortest `timeout`.
pub const MIN_SINK_TIMEOUT: Duration = Duration::from_millis(100);
/// The longest `timeout`.
pub const MAX_SINK_TIMEOUT: Duration = Duration::from_secs(300);
/// The default `timeout`.
pub const DEFAULT_SINK_TIMEOUT: Duration = Duration::from_secs(10);
/// The shortest `ttl`.
pub const MIN_TTL: Duration = Duration::from_secs(1);
/// The longest `ttl` (3650 days).
pub const MAX_TTL: Duration = Duration::from_secs(3650 * 24 * 3600);
/// The largest `top` (members kept in a sorted set).
pub const MAX_TOP: u64 = 1_000_000_000;
/// The largest `max_len` (entries kept in a stream).
pub const MAX_STREAM_LEN: u64 = 1_000_000_000_000;
/// The longest key prefix and marker prefix, in bytes.
pub const MAX_PREFIX_LEN: usize = 1024;
/// The prefix of the marker keys, after the key prefix, unless set.
pub const DEFAULT_MARKER_PREFIX: &str = "freshet:batch:";

/// A setting of a [`RedisSink`](super::RedisSink) that cannot be used. Its `Display` names the
/// setting and, for a number, its range; the sink reports it as a user error when it opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedisSinkSettingsError {
    /// A setting that must not be empty is.
    Empty {
        /// The setting (`url`, `key`, `marker_prefix`).
        setting: &'static str,
    },
    /// A number or a duration lies outside its range.
    OutOfRange {
        /// The setting (`timeout`, `ttl`, `top`, `max_len`).
        setting: &'static str,
        /// The value given.
        value: String,
        /// The smallest value allowed.
        min: String,
        /// The largest value allowed.
        max: String,
    },
    /// A prefix is longer than [`MAX_PREFIX_LEN`] bytes.
    TooLong {
        /// The setting (`key_prefix`, `marker_prefix`).
        setting: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// The URL is not one the Redis client understands.
    Url {
        /// The URL, its password hidden.
        url: String,
        /// What the client said.
        reason: String,
    },
}

impl fmt::Display for RedisSinkSettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisSinkSettingsError::Empty { setting } => {
                write!(f, "redis sink: {setting} must not be empty")
            }
            RedisSinkSettingsError::OutOfRange {
                setting,
                value,
                min,
                max,
            } => write!(
                f,
                "redis sink: {setting} must be between {min} and {max}, not {value}"
            ),
            RedisSinkSettingsError::TooLong { setting, len } => write!(
                f,
                "redis sink: {setting} must be at most {MAX_PREFIX_LEN} bytes long, not {len}"
            ),
            RedisSinkSettingsError::Url { url, reason } => write!(
                f,
                "redis sink: url `{url}` is not a Redis URL (redis://host:port/db or \
                 unix:///path): {reason}"
            ),
        }
    }
}

impl std::error::Error for RedisSinkSettingsError {}

impl From<RedisSinkSettingsError> for SinkError {
    fn from(e: RedisSinkSettingsError) -> SinkError {
        SinkError::user(e.to_string()).with_cause(e)
    }
}

/// Everything a sink is configured with, apart from its encoder.
#[derive(Clone, Debug)]
pub(crate) struct SinkSettings {
    pub(crate) url: String,
    /// The key of a mode's constructor (`None` for `RedisSink::new`).
    pub(crate) key: Option<String>,
    pub(crate) key_prefix: String,
    pub(crate) marker_prefix: Option<String>,
    pub(crate) timeout: Duration,
    pub(crate) ttl: Option<Duration>,
    pub(crate) top: Option<u64>,
    pub(crate) max_len: Option<u64>,
}

impl SinkSettings {
    pub(crate) fn new(url: String) -> Self {
        SinkSettings {
            url,
            key: None,
            key_prefix: String::new(),
            marker_prefix: None,
            timeout: DEFAULT_SINK_TIMEOUT,
            ttl: None,
            top: None,
            max_len: None,
        }
    }

    /// Checks every setting, in the order of the builder's methods.
    pub(crate) fn validate(&self) -> Result<(), RedisSinkSettingsError> {
        if self.url.trim().is_empty() {
            return Err(RedisSinkSettingsError::Empty { setting: "url" });
        }
        if let Err(e) = ::redis::Client::open(self.url.as_str()) {
            return Err(RedisSinkSettingsError::Url {
                url: redact(&self.url),
                reason: e.to_string(),
            });
        }
        if self.key.as_ref().is_some_and(String::is_empty) {
            return Err(RedisSinkSettingsError::Empty { setting: "key" });
        }
        if self.key_prefix.len() > MAX_PREFIX_LEN {
            return Err(RedisSinkSettingsError::TooLong {
                setting: "key_prefix",
                len: self.key_prefix.len(),
            });
        }
        if let Some(prefix) = &self.marker_prefix {
            if prefix.is_empty() {
                return Err(RedisSinkSettingsError::Empty {
                    setting: "marker_prefix",
                });
            }
            if prefix.len() > MAX_PREFIX_LEN {
                return Err(RedisSinkSettingsError::TooLong {
                    setting: "marker_prefix",
                    len: prefix.len(),
                });
            }
        }
        in_range("timeout", self.timeout, MIN_SINK_TIMEOUT, MAX_SINK_TIMEOUT)?;
        if let Some(ttl) = self.ttl {
            in_range("ttl", ttl, MIN_TTL, MAX_TTL)?;
        }
        if let Some(top) = self.top {
            in_range("top", top, 1, MAX_TOP)?;
        }
        if let Some(max_len) = self.max_len {
            in_range("max_len", max_len, 1, MAX_STREAM_LEN)?;
        }
        Ok(())
    }

    /// The key that holds the last batch written by `partition` of output `output_id`.
    pub(crate) fn marker_key(&self, output_id: &str, partition: usize) -> String {
        match &self.marker_prefix {
            Some(prefix) => format!("{prefix}{output_id}:{partition}"),
            None => format!(
                "{}{DEFAULT_MARKER_PREFIX}{output_id}:{partition}",
                self.key_prefix
            ),
        }
    }
}

/// Checks that `value` lies in `min..=max`.
fn in_range<V: PartialOrd + Copy + fmt::Debug>(
    setting: &'static str,
    value: V,
    min: V,
    max: V,
) -> Result<(), RedisSinkSettingsError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(RedisSinkSettingsError::OutOfRange {
            setting,
            value: format!("{value:?}"),
            min: format!("{min:?}"),
            max: format!("{max:?}"),
        })
    }
}

/// The URL with its password (anything before an `@`) hidden.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SinkSettings {
        SinkSettings::new("redis://127.0.0.1/".into())
    }

    #[test]
    fn every_number_is_checked_against_its_range_and_named() {
        assert_eq!(settings().validate(), Ok(()));
        let mut s = settings();
        s.top = Some(0);
        let e = s.validate().unwrap_err();
        assert!(matches!(
            e,
            RedisSinkSettingsError::OutOfRange { setting: "top", .. }
        ));
        assert_eq!(
            e.to_string(),
            "redis sink: top must be between 1 and 1000000000, not 0"
        );
        let mut s = settings();
        s.ttl = Some(Duration::from_millis(10));
        assert!(s.validate().unwrap_err().to_string().contains("ttl"));
        let mut s = settings();
        s.max_len = Some(MAX_STREAM_LEN + 1);
        assert!(s.validate().unwrap_err().to_string().contains("max_len"));
        let mut s = settings();
        s.timeout = Duration::ZERO;
        assert!(s.validate().unwrap_err().to_string().contains("timeout"));
    }

    #[test]
    fn markers_live_under_the_key_prefix_unless_placed_elsewhere() {
        let mut s = settings();
        s.key_prefix = "dash:".into();
        assert_eq!(s.marker_key("top", 1), "dash:freshet:batch:top:1");
        s.marker_prefix = Some("m:".into());
        assert_eq!(s.marker_key("top", 1), "m:top:1");
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact("redis://:secret@10.0.0.1:6379/0"),
            "redis://***@10.0.0.1:6379/0"
        );
        let mut s = SinkSettings::new("http://:secret@x/".into());
        s.timeout = DEFAULT_SINK_TIMEOUT;
        let e = s.validate().unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }
}

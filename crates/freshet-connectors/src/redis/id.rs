//! Stream entry ids: `<milliseconds>-<sequence>`, both 64-bit, ordered as pairs.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The id of a stream entry, `<milliseconds>-<sequence>` (`1700000000000-3`). Ids grow along
/// the stream: every entry's id is greater than the one before it.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct EntryId {
    /// The time part: milliseconds since the Unix epoch for ids Redis generates (`XADD key *`).
    pub ms: u64,
    /// The sequence number among the entries of the same millisecond.
    pub seq: u64,
}

impl EntryId {
    /// `0-0`, before every entry: where a stream read from its start begins.
    pub const ZERO: EntryId = EntryId { ms: 0, seq: 0 };

    /// The id `ms-seq`.
    pub const fn new(ms: u64, seq: u64) -> Self {
        EntryId { ms, seq }
    }

    /// The smallest id after this one (`None` after the largest id there is).
    pub fn next(self) -> Option<EntryId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(EntryId { ms: self.ms, seq }),
            None => self.ms.checked_add(1).map(|ms| EntryId { ms, seq: 0 }),
        }
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Why a text is not an entry id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseEntryIdError(String);

impl fmt::Display for ParseEntryIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a stream entry id (<milliseconds>-<sequence>, as 1700000000000-3)",
            self.0
        )
    }
}

impl std::error::Error for ParseEntryIdError {}

impl FromStr for EntryId {
    type Err = ParseEntryIdError;

    /// Parses `ms-seq`, or `ms` alone (sequence 0), as Redis does.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ParseEntryIdError(s.to_string());
        let number = |t: &str| {
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            t.parse::<u64>().map_err(|_| bad())
        };
        match s.split_once('-') {
            Some((ms, seq)) => Ok(EntryId::new(number(ms)?, number(seq)?)),
            None => Ok(EntryId::new(number(s)?, 0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_print_and_order_as_pairs() {
        let id: EntryId = "1700000000000-3".parse().unwrap();
        assert_eq!(id, EntryId::new(1_700_000_000_000, 3));
        assert_eq!(id.to_string(), "1700000000000-3");
        assert_eq!("5".parse::<EntryId>().unwrap(), EntryId::new(5, 0));
        assert!(EntryId::new(2, 0) > EntryId::new(1, 9));
        for bad in [
            "",
            "-",
            "1-",
            "-1",
            "a-1",
            "1-2-3",
            "+1-0",
            "99999999999999999999-0",
        ] {
            assert!(bad.parse::<EntryId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_next_id_carries_into_the_milliseconds() {
        assert_eq!(EntryId::new(1, 2).next(), Some(EntryId::new(1, 3)));
        assert_eq!(EntryId::new(1, u64::MAX).next(), Some(EntryId::new(2, 0)));
        assert_eq!(EntryId::new(u64::MAX, u64::MAX).next(), None);
    }
}

//! Prints one line per completed batch.

use freshet::{BatchInfo, BatchTime, StreamingListener};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Formats a batch time: the UTC time of day for wall-clock times, milliseconds otherwise.
pub fn clock_time(t: BatchTime) -> String {
    let ms = t.millis();
    if ms < 86_400_000 * 365 {
        return format!("{ms} ms");
    }
    let day_ms = ms % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}

/// Formats a duration as milliseconds with one decimal.
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// A listener that prints each completed batch with the results an output stored for it.
#[derive(Default)]
pub struct BatchReporter {
    results: Mutex<BTreeMap<BatchTime, String>>,
}

impl BatchReporter {
    /// Stores the results line of batch `time`, printed when the batch completes.
    pub fn set_results(&self, time: BatchTime, text: String) {
        self.add_results(time, text);
    }

    /// Adds to the results of batch `time` (after what is there, separated by ` | `).
    pub fn add_results(&self, time: BatchTime, text: String) {
        let mut results = self.results.lock().unwrap_or_else(|p| p.into_inner());
        let entry = results.entry(time).or_default();
        if !entry.is_empty() {
            entry.push_str(" | ");
        }
        entry.push_str(&text);
    }
}

impl StreamingListener for BatchReporter {
    fn on_batch_completed(&self, info: &BatchInfo) {
        let results = self
            .results
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&info.time)
            .unwrap_or_default();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "batch {} | {:>8} records | processing {:>8} | scheduling delay {:>8} | {}",
            clock_time(info.time),
            info.records,
            ms(info.processing_time),
            ms(info.scheduling_delay),
            results
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times() {
        assert_eq!(clock_time(BatchTime(1_000)), "1000 ms");
        assert_eq!(clock_time(BatchTime(1_795_565_745_800)), "00:15:45.800");
        assert_eq!(ms(Duration::from_micros(1250)), "1.2 ms");
    }
}

//! The writer every file sink uses: groups a batch by partition directory, then writes one
//! committed file per group, or stages the batch for a roll.

use super::encode::Encoder;
use super::error::FormatError;
use super::layout::{self, commit_file};
use super::partition_by::{Keyer, PartitionBy};
use super::rolling::{Roller, RollingPolicy};
use freshet::sink::{SinkContext, SinkWriter};
use freshet::{BatchTime, SinkError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The settings every file sink has.
#[derive(Clone, Debug)]
pub(crate) struct SinkSettings {
    pub dir: PathBuf,
    pub sync: bool,
    pub extension: String,
    pub partition_by: Option<PartitionBy>,
    pub rolling: Option<RollingPolicy>,
}

impl SinkSettings {
    pub fn new(dir: PathBuf, extension: &str) -> Self {
        SinkSettings {
            dir,
            sync: true,
            extension: extension.to_string(),
            partition_by: None,
            rolling: None,
        }
    }

    pub fn validate(&self) -> Result<(), FormatError> {
        let ext = &self.extension;
        let ok = ext.is_empty()
            || (ext.starts_with('.')
                && ext.len() <= 16
                && ext[1..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-'));
        if !ok {
            return Err(FormatError::setting(
                "extension",
                format!("{ext:?}"),
                "empty or a dot and up to 15 letters, digits, `.`, `_` or `-`",
            ));
        }
        if let Some(r) = &self.rolling {
            r.validate()?;
        }
        Ok(())
    }
}

/// The common builder methods of the file sinks (each holds its [`SinkSettings`] in `files`).
macro_rules! sink_settings {
    () => {
        /// Whether to fsync each file and directory it writes (default `true`: a written batch
        /// survives a power loss, not only a crash).
        pub fn sync(mut self, yes: bool) -> Self {
            self.files.sync = yes;
            self
        }

        /// Splits every batch into `<column>=<value>/` directories (Spark's `partitionBy`).
        pub fn partition_by(mut self, by: $crate::files::PartitionBy) -> Self {
            self.files.partition_by = Some(by);
            self
        }

        /// Rolls several batches into one file per partition (and partition directory):
        /// `part-<n>-<first>-<last><ext>`, exactly-once (see [`rolling`](crate::files::rolling)).
        pub fn rolling(mut self, policy: $crate::files::RollingPolicy) -> Self {
            self.files.rolling = Some(policy);
            self
        }

        /// The file name extension, with its dot (`".jsonl"`), or empty: up to 16 bytes of
        /// letters, digits, `.`, `_` or `-`.
        pub fn extension(mut self, ext: impl Into<String>) -> Self {
            self.files.extension = ext.into();
            self
        }

        /// The directory of batch `time`, without partitioning or rolling.
        pub fn batch_dir(&self, time: freshet::BatchTime) -> std::path::PathBuf {
            self.files.dir.join(format!("batch-{}", time.0))
        }

        /// The sink's directory.
        pub fn dir(&self) -> &std::path::Path {
            &self.files.dir
        }
    };
}
pub(crate) use sink_settings;

/// The records of one partition directory (`None`: unpartitioned).
type Group<'a, T> = (Option<String>, Vec<&'a T>);

/// The writer of one partition of a file sink ([`JsonLinesSink`](super::JsonLinesSink),
/// [`CsvSink`](super::CsvSink), `ParquetSink`).
pub struct FormatWriter<T: 'static> {
    settings: SinkSettings,
    partition: usize,
    encoder: Box<dyn Encoder<T>>,
    keyer: Option<Keyer<T>>,
    roller: Option<Roller>,
}

impl<T: Serialize + 'static> FormatWriter<T> {
    /// Opens the writer of `ctx.partition`; with rolling, recovers the staging directory.
    pub(crate) fn open(
        settings: &SinkSettings,
        ctx: &SinkContext,
        encoder: Box<dyn Encoder<T>>,
    ) -> Result<Self, FormatError> {
        settings.validate()?;
        let keyer = match &settings.partition_by {
            Some(p) => Some(p.keyer::<T>()?),
            None => None,
        };
        let roller = match &settings.rolling {
            Some(policy) => Some(Roller::open(
                policy.clone(),
                &settings.dir,
                ctx.partition,
                &settings.extension,
                settings.sync,
                encoder.as_ref(),
            )?),
            None => None,
        };
        Ok(FormatWriter {
            settings: settings.clone(),
            partition: ctx.partition,
            encoder,
            keyer,
            roller,
        })
    }

    /// The records by partition directory (`None`: unpartitioned), in record order.
    fn groups<'a>(&self, records: &'a [T]) -> Result<Vec<Group<'a, T>>, FormatError> {
        let Some(keyer) = &self.keyer else {
            return Ok(vec![(None, records.iter().collect())]);
        };
        let mut groups: BTreeMap<String, Vec<&T>> = BTreeMap::new();
        for r in records {
            groups.entry(keyer.dir_of(r)?).or_default().push(r);
        }
        Ok(groups.into_iter().map(|(k, v)| (Some(k), v)).collect())
    }

    fn write_batch(&mut self, time: u64, records: &[T]) -> Result<(), FormatError> {
        if self.roller.as_ref().is_some_and(|r| r.has(time)) {
            return Ok(());
        }
        let groups = self.groups(records)?;
        let ext = self.settings.extension.clone();
        let encoder = self.encoder.as_ref();
        match &mut self.roller {
            None => {
                for (group, recs) in &groups {
                    if group.is_some() && recs.is_empty() {
                        continue;
                    }
                    let path = layout::batch_file(
                        &self.settings.dir,
                        group.as_deref(),
                        time,
                        self.partition,
                        &ext,
                    );
                    commit_file(&path, self.settings.sync, |out| {
                        encoder.write_file(&path, recs, out)
                    })?;
                }
            }
            Some(roller) => {
                let sync = self.settings.sync;
                roller.stage(time, |dir| {
                    for (group, recs) in &groups {
                        if recs.is_empty() {
                            continue;
                        }
                        let path = dir.join(layout::segment_name(group.as_deref(), &ext));
                        let file =
                            std::fs::File::create(&path).map_err(|e| FormatError::io(&path, e))?;
                        let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
                        encoder.write_file(&path, recs, &mut out)?;
                        let file = out
                            .into_inner()
                            .map_err(|e| FormatError::io(&path, e.into_error()))?;
                        if sync {
                            file.sync_all().map_err(|e| FormatError::io(&path, e))?;
                        }
                    }
                    Ok(())
                })?;
            }
        }
        Ok(())
    }
}

impl<T: Serialize + 'static> SinkWriter<T> for FormatWriter<T> {
    fn write(&mut self, time: BatchTime, records: &[T]) -> Result<(), SinkError> {
        Ok(self.write_batch(time.0, records)?)
    }

    fn commit(&mut self, _time: BatchTime) -> Result<(), SinkError> {
        if let Some(roller) = &mut self.roller {
            if roller.due() {
                roller.roll(self.encoder.as_ref())?;
            }
        }
        Ok(())
    }
}

impl<T: 'static> Drop for FormatWriter<T> {
    fn drop(&mut self) {
        if let Some(roller) = &mut self.roller {
            if roller.staged() > 0 {
                if let Err(e) = roller.roll(self.encoder.as_ref()) {
                    tracing::warn!(
                        "the staged batches of {} stay staged (the next run rolls them): {e}",
                        self.settings.dir.display()
                    );
                }
            }
        }
    }
}

//! The inputs of a streaming context: the two generic entry points, [`direct_stream`] and
//! [`receiver_stream`], and the built-in sources as thin methods over them.
//!
//! [`direct_stream`]: StreamingContext::direct_stream
//! [`receiver_stream`]: StreamingContext::receiver_stream

use super::StreamingContext;
use crate::data::Data;
use crate::dstream::DStream;
use crate::plan::{next_id, Builder, Lineage, Plan, ReadSplit, SourceId};
use crate::source::direct_planner::DirectPlanner;
use crate::source::file_stream::{FileStreamOptions, FileStreamSource};
use crate::source::generator::{
    click, Click, GeneratorOptions, GeneratorSource, MAX_GENERATOR_RATE,
};
use crate::source::planner::read_records;
use crate::source::queue::{queue_source, QueueHandle};
use crate::source::receiver_source::ReceiverSource;
use crate::source::socket::{SocketTextListener, SocketTextReceiver};
use crate::source::{BadRecordPolicy, DirectOptions, DirectSource, Receiver, ReceiverOptions};
use std::path::PathBuf;
use std::sync::Arc;

impl StreamingContext {
    /// A stream read from a [`DirectSource`]: at every batch boundary the source's next offset
    /// range is fixed, logged (with a checkpoint directory) and read by the workers, so after a
    /// crash the same batches are read again (see [`crate::source`]).
    pub fn direct_stream<S: DirectSource>(&self, source: S) -> DStream<S::Item> {
        self.direct_stream_with(source, DirectOptions::default())
    }

    /// [`direct_stream`](Self::direct_stream) with options (bad-record policy, read attempts).
    pub fn direct_stream_with<S: DirectSource>(
        &self,
        source: S,
        options: DirectOptions,
    ) -> DStream<S::Item> {
        if let Err(e) = options.validate() {
            self.inner.pipeline.problem(e.to_string());
        }
        let id = next_id();
        let kind = source.kind();
        let (planner, read) = DirectPlanner::new(id, source, &options);
        self.inner.pipeline.add_source(Box::new(planner));
        self.source_stream(id, kind, read)
    }

    /// A stream of what a custom [`Receiver`] stores (see [`crate::source::receiver`]).
    pub fn receiver_stream<R: Receiver>(&self, receiver: R) -> DStream<R::Item> {
        self.receiver_stream_with(receiver, ReceiverOptions::default())
    }

    /// [`receiver_stream`](Self::receiver_stream) with options (buffer capacity, restart
    /// back-off).
    pub fn receiver_stream_with<R: Receiver>(
        &self,
        receiver: R,
        options: ReceiverOptions,
    ) -> DStream<R::Item> {
        if let Err(e) = options.validate() {
            self.inner.pipeline.problem(e.to_string());
        }
        let id = next_id();
        let kind = receiver.kind();
        self.inner
            .pipeline
            .add_source(Box::new(ReceiverSource::new(id, receiver, options)));
        self.source_stream(
            id,
            kind,
            Arc::new(|split, buf, _env| read_records(split, buf)),
        )
    }

    /// A receiver stream whose buffer holds at most `capacity` records.
    pub fn receiver_stream_with_capacity<R: Receiver>(
        &self,
        receiver: R,
        capacity: usize,
    ) -> DStream<R::Item> {
        self.receiver_stream_with(receiver, ReceiverOptions::new().capacity(capacity))
    }

    /// The stream of source `id`, whose splits `read` turns into records.
    fn source_stream<T: Data>(&self, id: SourceId, kind: &str, read: ReadSplit<T>) -> DStream<T> {
        let lineage = Lineage {
            streaming: true,
            partitions: 1,
            slide: 0,
        };
        let plan = Plan::new(kind, lineage, move |b: &mut Builder<'_>| {
            b.source_input::<T>(id, Arc::clone(&read))
        });
        DStream {
            plan,
            ctx: Arc::clone(&self.inner.pipeline),
            source: Some(id),
        }
    }

    /// A stream whose batches are `batches`, one per interval, then empty batches (Spark's
    /// `queueStream` with `oneAtATime`). Each batch is split evenly over the workers.
    ///
    /// In an available-now run the stream ends when the queue is empty.
    pub fn queue_stream<T: Data>(&self, batches: Vec<Vec<T>>) -> DStream<T> {
        let (stream, handle) = self.queue_input();
        for b in batches {
            handle.push(b);
        }
        stream
    }

    /// An initially empty queue stream and the handle that pushes batches into it.
    pub fn queue_input<T: Data>(&self) -> (DStream<T>, QueueHandle<T>) {
        let (source, handle) = queue_source();
        (self.direct_stream(source), handle)
    }

    /// A stream of `make(0), make(1), ...` at `options.rate_per_sec` records per second (see
    /// [`crate::source::generator`]).
    pub fn generator_stream<T, F>(&self, options: GeneratorOptions, make: F) -> DStream<T>
    where
        T: Data,
        F: Fn(u64) -> T + Send + Sync + 'static,
    {
        if options.rate_per_sec > MAX_GENERATOR_RATE {
            self.inner.pipeline.problem(format!(
                "the generator's rate must be between 0 and {MAX_GENERATOR_RATE} records per second, not {}",
                options.rate_per_sec
            ));
        }
        self.direct_stream(GeneratorSource::new(options, Arc::new(make)))
    }

    /// A stream of synthetic [`Click`] events at `options.rate_per_sec` per second.
    pub fn click_stream(&self, options: GeneratorOptions) -> DStream<Click> {
        self.generator_stream(options, click)
    }

    /// Lines of the new text files in `dir` (see [`crate::source::file_stream`]): one record
    /// per line. Fails at `start()` if `dir` is not a directory.
    pub fn text_file_stream(&self, dir: impl Into<PathBuf>) -> DStream<String> {
        self.text_file_stream_with(dir, FileStreamOptions::default())
    }

    /// [`text_file_stream`](Self::text_file_stream) with options.
    pub fn text_file_stream_with(
        &self,
        dir: impl Into<PathBuf>,
        options: FileStreamOptions,
    ) -> DStream<String> {
        let direct = DirectOptions::new().bad_records(options.bad_records);
        self.direct_stream_with(FileStreamSource::new(dir.into(), options), direct)
    }

    /// Lines of text read from a TCP server at `addr` (host:port), as Spark's
    /// `socketTextStream`: the receiver connects, reads lines, and reconnects with back-off
    /// when the connection fails or the server closes it. Lines that are not valid UTF-8 are
    /// skipped and counted.
    pub fn socket_text_stream(&self, addr: impl Into<String>) -> DStream<String> {
        self.socket_text_stream_with(addr, BadRecordPolicy::default())
    }

    /// [`socket_text_stream`](Self::socket_text_stream) with a policy for malformed lines.
    pub fn socket_text_stream_with(
        &self,
        addr: impl Into<String>,
        policy: BadRecordPolicy,
    ) -> DStream<String> {
        self.receiver_stream(SocketTextReceiver::new(addr, policy))
    }

    /// Lines of text from every client that connects to `addr` (host:port; port 0 picks a free
    /// one). The address is bound when the context starts: an address in use fails `start()`.
    pub fn socket_text_listener(&self, addr: impl Into<String>) -> DStream<String> {
        self.socket_text_listener_with(addr, BadRecordPolicy::default())
    }

    /// [`socket_text_listener`](Self::socket_text_listener) with a policy for malformed lines.
    pub fn socket_text_listener_with(
        &self,
        addr: impl Into<String>,
        policy: BadRecordPolicy,
    ) -> DStream<String> {
        self.receiver_stream(SocketTextListener::new(addr, policy))
    }
}

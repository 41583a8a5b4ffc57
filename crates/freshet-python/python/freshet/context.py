"""The streaming context: sources, the life cycle of a run, checkpoints and the web UI."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

from . import _native
from .dstream import DStream


class StreamingContext:
    """The entry point of a streaming job (PySpark's ``StreamingContext``).

    ``batch_interval`` is in seconds; ``workers`` is the number of engine threads that run the
    batches (Python functions among them take turns holding the GIL; built-in operators and
    recognized built-ins run in parallel). ``checkpoint_interval`` is in batches.

    ``manual_clock_start_ms`` makes a context whose clock stands still until
    :meth:`advance_clock` moves it, for deterministic tests.
    """

    def __init__(
        self,
        batch_interval: float,
        workers: int = 1,
        checkpoint_interval: Optional[int] = None,
        manual_clock_start_ms: Optional[int] = None,
    ):
        self._ctx = _native.Context(
            float(batch_interval), workers, checkpoint_interval, manual_clock_start_ms
        )

    @property
    def batch_interval(self) -> float:
        """The batch interval in seconds."""
        return self._ctx.batch_interval()

    @property
    def workers(self) -> int:
        """The number of worker threads."""
        return self._ctx.workers()

    def _stream(self, coll) -> DStream:
        return DStream(coll, self)

    # -- sources --

    def queue_stream(self, rdds: Iterable[Iterable[Any]], one_at_a_time: bool = True, default=None):
        """A stream whose batches are the given lists of records, one per batch, then empty
        batches. (A run from a checkpoint does not replay them.)"""
        if not one_at_a_time or default is not None:
            raise ValueError("queue_stream supports one_at_a_time=True and default=None only")
        batches = [r.collect() if hasattr(r, "collect") else list(r) for r in rdds]
        return self._stream(self._ctx.queue_stream(batches))

    def text_file_stream(
        self,
        directory: str,
        include_existing: bool = False,
        max_files_per_batch: Optional[int] = None,
    ) -> DStream:
        """The lines of the files that appear in ``directory`` (and, with ``include_existing``,
        of those already there). Replayed exactly from a checkpoint."""
        return self._stream(
            self._ctx.text_file_stream(str(directory), include_existing, max_files_per_batch)
        )

    def socket_text_stream(self, hostname: str, port: int) -> DStream:
        """The lines read from a TCP connection to ``hostname:port``."""
        return self._stream(self._ctx.socket_text_stream(hostname, port))

    def generator_stream(self, f: Callable[[int], Any], rate: int, limit: Optional[int] = None):
        """Records ``f(0), f(1), ...`` at ``rate`` records per second (``limit`` in all)."""
        return self._stream(self._ctx.generator_stream(f, rate, limit))

    def union(self, *dstreams: DStream) -> DStream:
        """The records of all the streams."""
        return self._stream(self._ctx.union([d._coll for d in dstreams]))

    # -- life cycle --

    def checkpoint(self, directory: str) -> None:
        """Writes checkpoints and the batch log to ``directory``; a context started on a
        directory that holds them recovers: state and source positions are restored and the
        batches after the last checkpoint replayed."""
        self._ctx.checkpoint(str(directory))

    @classmethod
    def get_or_create(cls, checkpoint_path: str, setup_func: Callable[[], "StreamingContext"]):
        """``setup_func()`` builds the context and its pipeline; when ``checkpoint_path`` holds
        a checkpoint, ``start`` resumes from it. Unlike PySpark, ``setup_func`` runs every time:
        the pipeline is rebuilt by the same code, and ``start`` checks that it is the same."""
        ssc = setup_func()
        if not isinstance(ssc, StreamingContext):
            raise TypeError("setup_func must return a StreamingContext")
        ssc.checkpoint(checkpoint_path)
        return ssc

    def start(self) -> None:
        """Starts the run; batches are cut every batch interval until :meth:`stop`."""
        self._ctx.start()

    def run_available_now(self) -> None:
        """Processes what the sources hold now, in batches, then stops (Spark's
        ``Trigger.AvailableNow``). Raises the run's error, if any."""
        self._ctx.run_available_now()

    def await_termination(self, timeout: Optional[float] = None) -> bool:
        """Waits for the run to stop (or ``timeout`` seconds); raises the run's error, such as
        a :class:`~freshet.UserFunctionError` with the traceback of a failed function. Returns
        whether the run stopped. Ctrl-C stops the run and raises ``KeyboardInterrupt``."""
        return self._ctx.await_termination(timeout)

    def await_termination_or_timeout(self, timeout: float) -> bool:
        """:meth:`await_termination` with a timeout."""
        return self._ctx.await_termination(timeout)

    def stop(self, stop_spark_context: bool = True, stop_gracefully: bool = False) -> None:
        """Stops the run; ``stop_gracefully`` first finishes the batches already cut.
        (``stop_spark_context`` is accepted for compatibility; there is no separate context.)"""
        self._ctx.stop(stop_gracefully)

    @property
    def is_running(self) -> bool:
        """Whether the run is going."""
        return self._ctx.is_running()

    @property
    def batches_completed(self) -> int:
        """The number of batches completed so far."""
        return self._ctx.batches_completed()

    # -- tests and monitoring --

    def advance_clock(self, seconds: float) -> None:
        """Moves the manual clock on (contexts made with ``manual_clock_start_ms`` only)."""
        self._ctx.advance_clock(seconds)

    def await_batch(self, time_ms: int, timeout: float = 60.0) -> None:
        """Waits until the batch of time ``time_ms`` is complete."""
        self._ctx.await_batch(time_ms, timeout)

    def serve_ui(self, addr: str = "127.0.0.1:4040", token: Optional[str] = None) -> str:
        """Serves the web UI, the JSON API and Prometheus metrics at ``addr``; returns the URL."""
        return self._ctx.serve_ui(addr, token)

    getOrCreate = get_or_create
    awaitTermination = await_termination
    awaitTerminationOrTimeout = await_termination_or_timeout
    queueStream = queue_stream
    textFileStream = text_file_stream
    socketTextStream = socket_text_stream

    # -- connectors --

    def kafka_direct_stream(
        self,
        brokers: str,
        topics: list,
        max_records_per_partition_per_batch: Optional[int] = None,
    ) -> DStream:
        """Kafka topics as ``(key, value)`` records (``str`` when UTF-8, else ``bytes``; ``None``
        when absent), read by offset range per batch from the earliest offsets: replayed
        exactly from a checkpoint (PySpark's ``KafkaUtils.createDirectStream``)."""
        return self._stream(
            self._ctx.kafka_direct_stream(brokers, list(topics), max_records_per_partition_per_batch)
        )

    def nats_jetstream_stream(
        self,
        server_url: str,
        stream: str,
        filter_subject: Optional[str] = None,
        max_messages_per_batch: Optional[int] = None,
    ) -> DStream:
        """A NATS JetStream stream's payloads, read by sequence range: replayed exactly."""
        return self._stream(
            self._ctx.nats_jetstream_stream(
                server_url, stream, filter_subject, max_messages_per_batch
            )
        )

    def redis_stream(
        self, url: str, stream_key: str, field: str, max_entries_per_batch: Optional[int] = None
    ) -> DStream:
        """The ``field`` of a Redis stream's entries, read by id range: replayed exactly."""
        return self._stream(
            self._ctx.redis_stream(url, stream_key, field, max_entries_per_batch)
        )

    def mqtt_stream(self, broker: str, client_id: str, topics: list) -> DStream:
        """MQTT messages (QoS 1, persistent session ``client_id``), acknowledged once in the
        write-ahead log (at-least-once with a checkpoint directory)."""
        return self._stream(self._ctx.mqtt_stream(broker, client_id, list(topics)))

    def rabbitmq_stream(self, uri: str, queue: str) -> DStream:
        """A RabbitMQ queue's messages, acknowledged once in the write-ahead log."""
        return self._stream(self._ctx.rabbitmq_stream(uri, queue))

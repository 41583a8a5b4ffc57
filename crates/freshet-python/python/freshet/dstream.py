"""Discretized streams: a batch of records every batch interval."""

from __future__ import annotations

from typing import Any, Callable, Optional

from ._collection import _Collection
from .results import to_arrow, to_pandas


class DStream(_Collection):
    """A stream of records cut into batches (Spark's DStream).

    Durations (windows, slides) are in seconds, multiples of the batch interval, as in PySpark.
    Operators build the pipeline; it runs when the context starts.
    """

    __slots__ = ()

    def context(self):
        """The :class:`~freshet.StreamingContext` of this stream."""
        return self._ctx

    def _slide(self, slide_duration: Optional[float]) -> float:
        return self._ctx.batch_interval if slide_duration is None else slide_duration

    # -- per batch --

    def count(self) -> "DStream":
        """A stream of one record per batch: its number of records."""
        return self._new(self._coll.count_stream())

    def reduce(self, f: Callable[[Any, Any], Any]) -> "DStream":
        """A stream of one record per non-empty batch: its records merged with ``f``."""
        return self._new(self._coll.reduce_stream(f))

    def transform(self, f: Callable[[Any], Any]) -> "DStream":
        """Applies ``f``, a function from :class:`~freshet.Dataset` to ``Dataset``, to every batch.

        ``f`` is called once, when the pipeline is built, with a dataset standing for the batch;
        the operators it applies run on every batch. It cannot run actions on it (``collect``);
        use :meth:`foreach_batch` for that.
        """
        return self._new(self._coll.transform(f))

    def transform_with(self, f: Callable[[Any, Any], Any], other: "DStream") -> "DStream":
        """Applies ``f(dataset_here, dataset_there)`` to the batches of both streams."""
        return self._new(self._coll.transform_with(f, other._coll))

    # -- windows --

    def window(self, window_duration: float, slide_duration: Optional[float] = None) -> "DStream":
        """The records of the last ``window_duration`` seconds, every ``slide_duration``."""
        return self._new(self._coll.window(window_duration, self._slide(slide_duration)))

    def count_by_window(self, window_duration: float, slide_duration: Optional[float] = None):
        """The number of records in each window."""
        return self._new(
            self._coll.count_by_window(window_duration, self._slide(slide_duration))
        )

    def reduce_by_window(
        self,
        reduce_func: Callable[[Any, Any], Any],
        inv_reduce_func: Optional[Callable[[Any, Any], Any]],
        window_duration: float,
        slide_duration: Optional[float] = None,
    ) -> "DStream":
        """The records of each window merged with ``reduce_func``; with ``inv_reduce_func`` the
        window is updated incrementally (add the new batches, subtract the old ones)."""
        return self._new(
            self._coll.reduce_by_window(
                reduce_func, inv_reduce_func, window_duration, self._slide(slide_duration)
            )
        )

    def count_by_value_and_window(
        self, window_duration: float, slide_duration: Optional[float] = None, num_partitions=None
    ) -> "DStream":
        """``(x, n)`` for every distinct record of each window."""
        return self._new(
            self._coll.count_by_value_and_window(window_duration, self._slide(slide_duration))
        )

    def group_by_key_and_window(
        self, window_duration: float, slide_duration: Optional[float] = None, num_partitions=None
    ) -> "DStream":
        """``(k, [values])`` for every key of each window."""
        return self._new(
            self._coll.group_by_key_and_window(window_duration, self._slide(slide_duration))
        )

    def reduce_by_key_and_window(
        self,
        func: Callable[[Any, Any], Any],
        inv_func: Optional[Callable[[Any, Any], Any]],
        window_duration: float,
        slide_duration: Optional[float] = None,
        num_partitions: Optional[int] = None,
        filter_func: Optional[Callable[[Any], bool]] = None,
    ) -> "DStream":
        """The values of each key in each window merged with ``func``.

        With ``inv_func`` the window is updated incrementally: the batches entering it are
        merged in with ``func`` and those leaving it taken out with ``inv_func``; then
        ``filter_func((k, v))`` may drop keys (for example those whose count fell to 0).
        """
        return self._new(
            self._coll.reduce_by_key_and_window(
                func, inv_func, window_duration, self._slide(slide_duration), filter_func
            )
        )

    # -- state --

    def update_state_by_key(self, update_func: Callable[[list, Any], Any]) -> "DStream":
        """Keeps a state per key: every batch, ``update_func(new_values, last_state)`` returns
        the key's new state, or ``None`` to remove it (``last_state`` is ``None`` for a new key).
        The state is checkpointed and restored with the context's checkpoints."""
        return self._new(self._coll.update_state_by_key(update_func))

    # -- outputs --

    def foreach_batch(self, f: Callable[[Any, list], None]) -> None:
        """Calls ``f(time, records)`` for every batch, in order, with the batch time as a
        ``datetime`` and its records as a list (empty batches included)."""
        self._coll.foreach_batch(f)

    def foreach_batch_arrow(self, f: Callable[[Any, Any], None], columns=None) -> None:
        """Calls ``f(time, table)`` for every batch with its records as a ``pyarrow.Table``."""
        self._coll.foreach_batch(lambda t, records: f(t, to_arrow(records, columns)))

    def foreach_batch_pandas(self, f: Callable[[Any, Any], None], columns=None) -> None:
        """Calls ``f(time, frame)`` for every batch with its records as a ``pandas.DataFrame``."""
        self._coll.foreach_batch(lambda t, records: f(t, to_pandas(records, columns)))

    def pprint(self, num: int = 10) -> None:
        """Prints the first ``num`` records of every batch under a header with the batch time."""
        self._coll.pprint(num)

    def save_as_text_files(self, prefix: str, suffix: Optional[str] = None) -> None:
        """Writes every batch as text files under ``prefix-<time>[.suffix]``, one record per line."""
        self._coll.save_as_text_files(prefix, suffix)

    def collect_batches(self):
        """An output that keeps every batch: ``.batches()`` returns ``[(time_ms, [records])]``."""
        return self._coll.collect_batches()

    def cache(self) -> "DStream":
        """Returns this stream: a stream read by several operators is computed once anyway."""
        return self

    persist = cache

    # PySpark's names.
    countByWindow = count_by_window
    reduceByWindow = reduce_by_window
    countByValueAndWindow = count_by_value_and_window
    groupByKeyAndWindow = group_by_key_and_window
    reduceByKeyAndWindow = reduce_by_key_and_window
    updateStateByKey = update_state_by_key
    transformWith = transform_with
    saveAsTextFiles = save_as_text_files

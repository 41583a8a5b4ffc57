"""The operators streams and datasets share."""

from __future__ import annotations

from typing import Any, Callable, Optional


class _Collection:
    """Operators of both :class:`~freshet.DStream` and :class:`~freshet.Dataset`.

    Records are Python values; keyed operators take ``(key, value)`` tuples. Every operator
    returns a new collection and leaves this one as it was.
    """

    __slots__ = ("_coll", "_ctx")

    def __init__(self, coll, ctx=None):
        self._coll = coll
        self._ctx = ctx

    def _new(self, coll):
        return type(self)(coll, self._ctx)

    # -- per record --

    def map(self, f: Callable[[Any], Any]):
        """``f(x)`` for every record ``x``."""
        return self._new(self._coll.step("map", f))

    def flat_map(self, f: Callable[[Any], Any]):
        """The items of the iterable ``f(x)``, for every record ``x``."""
        return self._new(self._coll.step("flat_map", f))

    def filter(self, f: Optional[Callable[[Any], Any]]):
        """The records for which ``f(x)`` is true (``None``: the true records)."""
        return self._new(self._coll.step("filter", f))

    def map_values(self, f: Callable[[Any], Any]):
        """``(k, f(v))`` for every pair ``(k, v)``."""
        return self._new(self._coll.step("map_values", f))

    def flat_map_values(self, f: Callable[[Any], Any]):
        """``(k, y)`` for every item ``y`` of ``f(v)``, for every pair ``(k, v)``."""
        return self._new(self._coll.step("flat_map_values", f))

    def map_partitions(self, f: Callable[[list], Any]):
        """The items of ``f(records)``, called once per partition (one per worker) and batch."""
        return self._new(self._coll.step("map_partitions", f))

    def glom(self):
        """Each partition's records as one list."""
        return self._new(self._coll.glom())

    def union(self, other):
        """The records of both."""
        return self._new(self._coll.union(other._coll))

    def repartition(self, num_partitions: int):
        """The records spread evenly over ``num_partitions`` partitions (at most one per worker)."""
        return self._new(self._coll.repartition(num_partitions))

    # -- keyed --

    def count_by_value(self):
        """``(x, n)``: how many times each distinct record occurs (runs in Rust)."""
        return self._new(self._coll.count_by_value())

    def reduce_by_key(self, f: Callable[[Any, Any], Any], num_partitions: Optional[int] = None):
        """The values of each key merged with ``f`` (associative and commutative).

        ``operator.add``, ``max`` and ``min`` run in Rust without the GIL. ``num_partitions`` is
        accepted for compatibility: a keyed result is partitioned over the workers.
        """
        return self._new(self._coll.reduce_by_key(f, num_partitions))

    def group_by_key(self):
        """``(k, [values])`` for every key."""
        return self._new(self._coll.group_by_key())

    def combine_by_key(self, create_combiner, merge_value, merge_combiners):
        """Spark's ``combineByKey``: per key, ``create_combiner(v)`` for the first value,
        ``merge_value(c, v)`` for the next ones, ``merge_combiners(c1, c2)`` across workers."""
        return self._new(self._coll.combine_by_key(create_combiner, merge_value, merge_combiners))

    def join(self, other):
        """``(k, (v, w))`` for every pair of values with the same key."""
        return self._new(self._coll.join(other._coll))

    def left_outer_join(self, other):
        """As :meth:`join`, keeping this side's keys without a match as ``(k, (v, None))``."""
        return self._new(self._coll.left_outer_join(other._coll))

    def right_outer_join(self, other):
        """As :meth:`join`, keeping the other side's keys without a match as ``(k, (None, w))``."""
        return self._new(self._coll.right_outer_join(other._coll))

    def full_outer_join(self, other):
        """As :meth:`join`, keeping the keys of either side without a match."""
        return self._new(self._coll.full_outer_join(other._coll))

    def cogroup(self, other):
        """``(k, ([values here], [values there]))`` for every key of either side."""
        return self._new(self._coll.cogroup(other._coll))

    def sort_by(self, f: Callable[[Any], Any], ascending: bool = True):
        """The records sorted by ``f(x)`` (per batch, for a stream)."""
        return self._new(self._coll.sort_by(f, ascending))

    def sort_by_key(self, ascending: bool = True):
        """The pairs sorted by key (per batch, for a stream)."""
        return self._new(self._coll.sort_by_key(ascending))

    # PySpark's names.
    flatMap = flat_map
    mapValues = map_values
    flatMapValues = flat_map_values
    mapPartitions = map_partitions
    countByValue = count_by_value
    reduceByKey = reduce_by_key
    groupByKey = group_by_key
    combineByKey = combine_by_key
    leftOuterJoin = left_outer_join
    rightOuterJoin = right_outer_join
    fullOuterJoin = full_outer_join
    sortBy = sort_by
    sortByKey = sort_by_key

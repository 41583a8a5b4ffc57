"""Batch datasets: the operators of streams, run once over a finite input."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

from . import _native
from ._collection import _Collection
from .results import to_arrow, to_pandas


class Dataset(_Collection):
    """A finite, partitioned collection of records (Spark's RDD).

    Operators build a plan; actions (:meth:`collect`, :meth:`count`, :meth:`take`,
    :meth:`reduce`, ...) run it on the engine's workers and return the result.
    """

    __slots__ = ()

    @classmethod
    def _wrap(cls, coll):
        return cls(coll)

    def collect(self) -> list:
        """All records, as a list."""
        return self._coll.collect()

    def count(self) -> int:
        """The number of records."""
        return self._coll.count()

    def take(self, n: int) -> list:
        """The first ``n`` records."""
        return self._coll.take(n)

    def first(self) -> Any:
        """The first record (``ValueError`` when there is none)."""
        got = self.take(1)
        if not got:
            raise ValueError("first() of an empty dataset")
        return got[0]

    def reduce(self, f: Callable[[Any, Any], Any]) -> Any:
        """All records merged with ``f`` (``ValueError`` when there are none)."""
        return self._coll.reduce(f)

    def collect_as_map(self) -> dict:
        """The ``(key, value)`` pairs as a dict."""
        return dict(self.collect())

    def save_as_text_files(self, path: str) -> None:
        """Writes one text file per partition under the directory ``path``."""
        self._coll.save_as_text_files(path)

    def to_arrow(self, columns: Optional[list] = None):
        """The records as a ``pyarrow.Table`` (see :func:`freshet.to_arrow`)."""
        return to_arrow(self.collect(), columns)

    def to_pandas(self, columns: Optional[list] = None):
        """The records as a ``pandas.DataFrame`` (see :func:`freshet.to_pandas`)."""
        return to_pandas(self.collect(), columns)

    collectAsMap = collect_as_map
    saveAsTextFile = save_as_text_files
    toPandas = to_pandas


def parallelize(records: Iterable[Any], num_slices: int = 2) -> Dataset:
    """A dataset of ``records``, in ``num_slices`` partitions (Spark's ``sc.parallelize``)."""
    return Dataset(_native.parallelize(list(records), num_slices))


def text_file(path: str) -> Dataset:
    """A dataset of the lines of a file, or of every file of a directory (``sc.textFile``)."""
    return Dataset(_native.text_file(str(path)))

"""SQL over streams and datasets: DataFusion plans the query, Freshet's operators run it, and
results come back as Arrow tables without copying."""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, Tuple

from . import _native
from .dataset import Dataset
from .dstream import DStream


class SqlContext:
    """Tables and the queries over them (see ``docs/sql.md`` for what streaming SQL supports).

    ::

        sql = freshet.SqlContext()
        sql.register("clicks", ssc.text_file_stream("clicks/"), sample=['{"page": "a", "ms": 1}'])
        top = sql.sql_stream("SELECT page, count(*) AS n FROM clicks GROUP BY page")
        top.foreach_batch_arrow(lambda t, table: print(table.to_pandas()))
    """

    def __init__(self):
        self._sql = _native.Sql()
        self._ctx = None

    def register(
        self,
        name: str,
        records,
        format: str = "json",
        schema=None,
        sample: Optional[Sequence[Any]] = None,
        csv_header: Optional[str] = None,
        window: Optional[Tuple[float, float]] = None,
        allowed_delay: Optional[float] = None,
    ) -> None:
        """Registers a :class:`DStream` or :class:`Dataset` as the table ``name``.

        Its records are dicts, or lines of ``format`` (``"json"``: one object per line,
        ``"csv"`` with ``csv_header``, ``"text"``: one column ``line``). The columns are
        ``schema`` (a ``pyarrow.Schema``) or inferred from ``sample`` (records like the
        stream's). ``window=(length, slide)`` in seconds reads the stream as a processing-time
        window; ``allowed_delay`` (seconds) is how late an event may come for event-time
        windows (``GROUP BY tumble(ts, INTERVAL '10' SECOND)``).
        """
        if isinstance(records, DStream):
            self._ctx = records._ctx
        elif not isinstance(records, Dataset):
            raise TypeError("register takes a DStream or a Dataset")
        self._sql.register(
            name, records._coll, format, schema, sample, csv_header, window, allowed_delay
        )

    def register_table(self, name: str, table) -> None:
        """Registers a static table (a ``pyarrow.Table``, or a list of dicts), which every
        worker holds whole: streams can be joined with it."""
        if isinstance(table, list):
            import pyarrow as pa

            table = pa.Table.from_pylist(table)
        self._sql.register_table(name, table)

    def sql_stream(self, query: str) -> "SqlStream":
        """The continuous query ``query`` over the registered streams."""
        return SqlStream(self._sql.sql_stream(query), self._ctx)

    def sql_dataset(self, query: str) -> "SqlDataset":
        """The query ``query`` over the registered datasets and tables."""
        return SqlDataset(self._sql.sql_dataset(query))

    def explain(self, query: str) -> str:
        """How ``query`` runs: DataFusion's plan per worker, the exchange, the state."""
        return self._sql.explain(query)


class SqlStream:
    """The result of a continuous query: one set of rows per batch."""

    def __init__(self, out, ctx):
        self._out = out
        self._ctx = ctx

    @property
    def schema(self):
        """The result's columns (``pyarrow.Schema``)."""
        return self._out.schema()

    def foreach_batch_arrow(self, f: Callable[[Any, Any], None]) -> None:
        """Calls ``f(time, table)`` every batch with its rows as a ``pyarrow.Table`` that shares
        the engine's Arrow buffers (no copy)."""
        self._out.foreach_batch_arrow(f)

    def foreach_batch_pandas(self, f: Callable[[Any, Any], None]) -> None:
        """Calls ``f(time, frame)`` every batch with its rows as a ``pandas.DataFrame``."""
        self._out.foreach_batch_arrow(lambda t, table: f(t, table.to_pandas()))

    def records(self) -> DStream:
        """The rows as a stream of dicts, for the rest of a pipeline."""
        return DStream(self._out.records(), self._ctx)

    def pprint(self) -> None:
        """Prints every batch's rows as a table."""
        self._out.pprint()


class SqlDataset:
    """The result of a query over datasets."""

    def __init__(self, out):
        self._out = out

    @property
    def schema(self):
        """The result's columns (``pyarrow.Schema``)."""
        return self._out.schema()

    def to_arrow(self):
        """The rows as a ``pyarrow.Table`` (the engine's buffers, not copied)."""
        return self._out.to_arrow()

    def to_pandas(self):
        """The rows as a ``pandas.DataFrame``."""
        return self.to_arrow().to_pandas()

    def collect(self) -> list:
        """The rows as a list of dicts."""
        return self._out.collect()

    def records(self) -> Dataset:
        """The rows as a dataset of dicts."""
        return Dataset(self._out.records())

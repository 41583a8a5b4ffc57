"""Records as Arrow tables and pandas data frames."""

from __future__ import annotations

from typing import Any, Optional, Sequence


def _columns_of(records: Sequence[Any], columns: Optional[Sequence[str]]):
    """Column names and values: dicts by key, tuples by position (``_1``, ``_2``, ... as
    PySpark's ``toDF`` names them, or ``columns``), anything else as one column ``value``."""
    if records and all(isinstance(r, dict) for r in records):
        names = list(columns) if columns else list(dict.fromkeys(k for r in records for k in r))
        return names, [[r.get(n) for r in records] for n in names]
    if records and all(isinstance(r, tuple) for r in records):
        width = max(len(r) for r in records)
        names = list(columns) if columns else [f"_{i + 1}" for i in range(width)]
        if len(names) != width:
            raise ValueError(f"{len(names)} column names for records of {width} fields")
        return names, [[r[i] if i < len(r) else None for r in records] for i in range(width)]
    names = list(columns) if columns else ["value"]
    if len(names) != 1:
        raise ValueError(f"{len(names)} column names for records of one field")
    return names, [list(records)]


def to_arrow(records: Sequence[Any], columns: Optional[Sequence[str]] = None):
    """``records`` as a ``pyarrow.Table`` (needs ``pyarrow``): dicts become columns by key,
    tuples by position, other values one column ``value``."""
    import pyarrow as pa

    names, values = _columns_of(records, columns)
    return pa.table({n: pa.array(v) for n, v in zip(names, values)})


def to_pandas(records: Sequence[Any], columns: Optional[Sequence[str]] = None):
    """``records`` as a ``pandas.DataFrame`` (needs ``pandas``), with the columns of
    :func:`to_arrow`."""
    import pandas as pd

    names, values = _columns_of(records, columns)
    return pd.DataFrame(dict(zip(names, values)), columns=names)

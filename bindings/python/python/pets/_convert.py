"""Coercion of user inputs (tables, paths) to what the native layer takes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeAlias

import pyarrow as pa

#: A path to a CSV, TSV or Parquet file.
PathLike: TypeAlias = str | os.PathLike[str]

#: Tabular input: a pyarrow Table or RecordBatch, a pandas or polars DataFrame, or any
#: object exporting the Arrow PyCapsule stream interface (``__arrow_c_stream__``).
TableLike: TypeAlias = Any

TABLE_LIKE = (
    "a pyarrow Table, a polars or pandas DataFrame, another object with __arrow_c_stream__, "
    "or a path to a CSV, TSV or Parquet file"
)


def is_path(obj: object) -> bool:
    """Whether ``obj`` names a file (a ``str`` or an ``os.PathLike``)."""
    return isinstance(obj, str | os.PathLike)


def to_path(obj: PathLike, arg: str = "path") -> str:
    """``obj`` as a file-system path string; ``TypeError`` for anything else."""
    if not is_path(obj):
        raise TypeError(f"{arg} must be a str or os.PathLike, not {type(obj).__qualname__}")
    return os.fspath(Path(obj))


def _is_pandas(obj: object) -> bool:
    module = type(obj).__module__
    return module.startswith("pandas.") or module == "pandas"


def to_arrow(obj: TableLike, arg: str = "data") -> Any:
    """An object the native layer can import through ``__arrow_c_stream__``.

    pandas DataFrames are converted with ``preserve_index=False`` so that the index never
    turns into an undeclared ``__index_level_0__`` column; every other input is passed as
    it is (zero-copy).
    """
    if _is_pandas(obj) and hasattr(obj, "columns"):
        return pa.Table.from_pandas(obj, preserve_index=False)
    if hasattr(obj, "__arrow_c_stream__"):
        return obj
    raise TypeError(f"{arg} must be {TABLE_LIKE}, not {type(obj).__qualname__}")

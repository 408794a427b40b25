"""Reading and writing CSV, TSV and Parquet files through the Rust I/O layer."""

from __future__ import annotations

import pyarrow as pa

from pets import _native
from pets._convert import PathLike, TableLike, to_arrow, to_path

__all__ = ["read_table", "write_table"]


def read_table(path: PathLike) -> pa.Table:
    """Read a CSV, TSV or Parquet file (chosen by extension) into a ``pyarrow.Table``.

    CSV and TSV columns are read as text (``string``): pets types them against a declared
    schema when encoding, which is what lets errors name the column, row and value.
    Parquet columns keep their stored types.

    Raises:
        PetsIOError: the file cannot be read, or its extension is not ``.csv``, ``.tsv``
            or ``.parquet``.
        ParseError: a malformed CSV file.

    Example:
        >>> import pyarrow as pa, pets, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
        >>> pets.write_table(pa.table({"a": [1, 2]}), path)
        2
        >>> pets.read_table(path).to_pydict()
        {'a': ['1', '2']}
    """
    return _native.read_table(to_path(path))


def write_table(table: TableLike, path: PathLike) -> int:
    """Write a table to a CSV, TSV or Parquet file chosen by ``path``'s extension.

    Args:
        table: A pyarrow Table, a pandas or polars DataFrame, or any object with
            ``__arrow_c_stream__``.
        path: Destination; ``.csv``, ``.tsv`` or ``.parquet``.

    Returns:
        The number of rows written.

    Raises:
        PetsIOError: the file cannot be written or the extension is unknown.
    """
    return _native.write_table(to_arrow(table, "table"), to_path(path))

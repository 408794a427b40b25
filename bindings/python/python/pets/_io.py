"""Reading and writing CSV, TSV and Parquet files through the Rust I/O layer."""

from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pets import _native
from pets._convert import PathLike, TableLike, is_path, to_arrow, to_path
from pets.errors import InvalidParameterError

if TYPE_CHECKING:
    from pets._schema import Schema

__all__ = ["read_table", "write_table"]


def table_or_file(
    data: TableLike | PathLike, arg: str, schema: Schema | None = None, stacklevel: int = 3
) -> Any:
    """What an entry point that takes a table *or* a path passes to the native layer.

    A path is read as ``pets`` reads it on the command line: in the dialect of the declared
    ``schema``'s ``csv`` section (header, delimiter, quote, trim, null values) and under its
    column names (a header-less file), the rest sniffed and announced with a
    ``UserWarning`` (``stacklevel`` is the caller's). Tables are passed on as
    :func:`~pets._convert.to_arrow` converts them.
    """
    if not is_path(data):
        return to_arrow(data, arg)
    declared = None if schema is None else schema.to_json()
    table, notes = _native.read_table(to_path(data, arg), None, declared)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=stacklevel + 1)
    return table


def _one_char(value: str | None, arg: str) -> None:
    if value is not None and (not isinstance(value, str) or len(value) != 1):
        raise InvalidParameterError(
            f"{arg} = {value!r} is not valid: it must be one character, e.g. ',' or ';'"
        )


def read_table(
    path: PathLike,
    *,
    header: bool | None = None,
    delimiter: str | None = None,
    quote: str | None = None,
    trim: bool | None = None,
    null_values: list[str] | None = None,
    column_names: list[str] | None = None,
    encoding: str | None = None,
) -> pa.Table:
    """Read a CSV, TSV or Parquet file (chosen by extension) into a ``pyarrow.Table``.

    CSV and TSV columns are read as text (``string``): pets types them against a declared
    schema when encoding, which is what lets errors name the column, row and value.
    Parquet columns keep their stored types.

    Text files as they come: options left as ``None`` are sniffed from the file's first
    lines (a missing header, a ``;`` or tab delimiter, fields padded with spaces), and each
    sniffed choice is announced with a ``UserWarning``. Missing-value codes are never
    guessed: give them in ``null_values`` (the empty field is always missing).

    Args:
        path: A ``.csv``, ``.tsv`` or ``.parquet`` file.
        header: Whether the first line names the columns.
        delimiter: The field separator (one character).
        quote: The quote character (default ``"``).
        trim: Strip spaces around every field.
        null_values: Texts that mean "missing", e.g. ``["", "?", "N"]``.
        column_names: Names of a header-less file's columns (default ``column_1``, ...).
        encoding: The text encoding, e.g. ``"latin-1"``, ``"windows-1252"``,
            ``"utf-16"`` (default UTF-8; a byte-order mark wins). Never guessed.

    Raises:
        PetsIOError: the file cannot be read, or its extension is not ``.csv``, ``.tsv``
            or ``.parquet``.
        ParseError: a malformed CSV file, or one that is not UTF-8 and declares no
            ``encoding`` (the message names the byte and line).
        InvalidParameterError: a delimiter or quote that is not one character.

    Example:
        >>> import pyarrow as pa, pets, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
        >>> pets.write_table(pa.table({"a": [1, 2]}), path)
        2
        >>> pets.read_table(path).to_pydict()
        {'a': ['1', '2']}
    """
    _one_char(delimiter, "delimiter")
    _one_char(quote, "quote")
    options = {
        "header": header,
        "delimiter": delimiter,
        "quote": quote,
        "trim": trim,
        "null_values": null_values,
        "column_names": column_names,
        "encoding": encoding,
    }
    given = {k: v for k, v in options.items() if v is not None}
    table, notes = _native.read_table(to_path(path), json.dumps(given) if given else None)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return table


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

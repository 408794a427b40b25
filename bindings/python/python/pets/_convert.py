"""Coercion of user inputs (tables, paths, numbers) to what the native layer takes.

Every conversion that can fail raises one of pets's typed exceptions naming the argument or
column at fault (never a bare ``OverflowError`` or ``pyarrow.ArrowInvalid``).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Literal, TypeAlias

import pyarrow as pa

from pets.errors import InvalidParameterError, ParseError, PetsError, SchemaError

#: The largest value of an unsigned 64-bit argument (seeds, row counts).
U64_MAX = 2**64 - 1
#: The largest value of an unsigned 32-bit argument (rows per person, bins).
U32_MAX = 2**32 - 1
#: Values quoted in messages are cut to this many characters, as the Rust core cuts them.
_MAX_QUOTED = 60

#: A path to a CSV, TSV or Parquet file.
PathLike: TypeAlias = str | os.PathLike[str]

#: Tabular input: a pyarrow Table or RecordBatch, a pandas or polars DataFrame, or any
#: object exporting the Arrow PyCapsule stream interface (``__arrow_c_stream__``).
TableLike: TypeAlias = Any

#: The kinds of table a result can be returned as.
Kind: TypeAlias = Literal["pandas", "polars", "pyarrow"]
KINDS = ("pandas", "polars", "pyarrow")

TABLE_LIKE = (
    "a pyarrow Table, a polars or pandas DataFrame (or polars LazyFrame), another object with "
    "__arrow_c_stream__, "
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


def typed(
    cls: type[PetsError], message: str, column: str | None = None, row: int | None = None
) -> PetsError:
    """An exception of ``cls`` with the ``column`` and ``row`` attributes the core sets."""
    err = cls(message)
    err.column, err.row = column, row  # type: ignore[attr-defined]
    return err


def quote(value: object) -> str:
    """``value`` quoted for a message as the core quotes values (double quotes, 60 chars)."""
    text = str(value)
    if len(text) <= _MAX_QUOTED:
        return json.dumps(text, ensure_ascii=False)
    return f"{json.dumps(text[:_MAX_QUOTED], ensure_ascii=False)}... ({len(text)} characters)"


def quote_name(name: str) -> str:
    """A column name quoted as the core's messages quote it (``"age"``)."""
    return json.dumps(name, ensure_ascii=False)


def number(value: object, arg: str) -> float:
    """``value`` as a float, refusing an int too large for a float (e.g. ``10**400``).

    ``TypeError`` for a non-number, ``InvalidParameterError`` naming ``arg`` for an overflow.
    NaN and infinities pass; callers that need finite values use :func:`finite`.
    """
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"{arg} must be a number, not {type(value).__qualname__}")
    try:
        return float(value)
    except OverflowError:
        raise InvalidParameterError(
            f"{arg} = {quote(value)} is not valid: it is too large for a floating-point number"
        ) from None


def finite(value: object, arg: str, rule: str = "it must be a finite number") -> float:
    """:func:`number`, refusing NaN and infinities with ``rule`` in the message."""
    x = number(value, arg)
    if not math.isfinite(x):
        raise InvalidParameterError(f"{arg} = {x} is not valid: {rule}")
    return x


def integer(value: object, arg: str, low: int = 0, high: int = U64_MAX) -> int:
    """``value`` as an int in ``[low, high]``.

    ``TypeError`` for a non-int, ``InvalidParameterError`` naming ``arg`` when out of range
    (which the native layer would otherwise refuse with a bare ``OverflowError``).
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{arg} must be an int, not {type(value).__qualname__}")
    if not low <= value <= high:
        raise InvalidParameterError(
            f"{arg} = {value} is not valid: it must be between {low} and {high}"
        )
    return value


def optional_integer(value: object, arg: str, low: int = 0, high: int = U64_MAX) -> int | None:
    """:func:`integer`, passing ``None`` through."""
    return None if value is None else integer(value, arg, low, high)


def _is_pandas(obj: object) -> bool:
    module = type(obj).__module__
    return module.startswith("pandas.") or module == "pandas"


def _is_polars(obj: object) -> bool:
    module = type(obj).__module__
    return module.startswith("polars.") or module == "polars"


def _is_lazy_polars(obj: object) -> bool:
    return _is_polars(obj) and type(obj).__name__ == "LazyFrame"


def kind_of(obj: object) -> Kind:
    """The kind of table a user gave, which results are returned as.

    ``"pandas"``, ``"polars"`` (eager or lazy), else ``"pyarrow"`` (a pyarrow object, another
    Arrow stream, or a file path).
    """
    if _is_pandas(obj):
        return "pandas"
    if _is_polars(obj):
        return "polars"
    return "pyarrow"


def pandas_to_polars(frame: Any) -> Any:
    """A pandas DataFrame of results as a polars DataFrame (requires polars)."""
    try:
        import polars as pl
    except ImportError as e:  # pragma: no cover - polars is optional
        raise InvalidParameterError(
            "to_polars() needs the polars package: pip install polars"
        ) from e
    return pl.from_pandas(frame)


def as_kind(table: pa.Table, kind: str | None, arg: str = "kind") -> Any:
    """``table`` as the kind of table asked for (``None``: pyarrow, as it is).

    pandas through ``pyarrow.Table.to_pandas``; polars from the Arrow buffers (no copy).
    """
    if kind is None or kind == "pyarrow":
        return table
    if kind == "pandas":
        return table.to_pandas()
    if kind == "polars":
        try:
            import polars as pl
        except ImportError as e:  # pragma: no cover - polars is optional
            raise InvalidParameterError(
                f"{arg}='polars' needs the polars package: pip install polars"
            ) from e
        return pl.from_arrow(table)
    raise InvalidParameterError(
        f"{arg} must be one of {', '.join(repr(k) for k in KINDS)}, not {kind!r}"
    )


def to_arrow(obj: TableLike, arg: str = "data") -> Any:
    """An object the native layer can import through ``__arrow_c_stream__``.

    pandas DataFrames are converted with ``preserve_index=False`` so that the index never
    turns into an undeclared ``__index_level_0__`` column; every other input is passed as
    it is (zero-copy).
    """
    if _is_pandas(obj) and hasattr(obj, "columns"):
        return _from_pandas(obj, arg)
    if _is_lazy_polars(obj):
        # A LazyFrame is a query plan: run it (polars' own engine) and pass the result.
        return obj.collect()
    if hasattr(obj, "__arrow_c_stream__"):
        return obj
    raise TypeError(f"{arg} must be {TABLE_LIKE}, not {type(obj).__qualname__}")


#: What pyarrow raises for a pandas column it cannot convert.
_CONVERSION_ERRORS = (pa.ArrowException, OverflowError, ValueError, TypeError)


def _from_pandas(frame: Any, arg: str) -> pa.Table:
    """A pandas DataFrame as a pyarrow Table, or a typed error naming the column at fault.

    A column pyarrow cannot convert (mixed types, an int beyond 64 bits) is a
    ``ParseError`` naming it, its row and value; a name used twice a ``SchemaError``.
    """
    names = [str(c) for c in frame.columns]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            # The core refuses the same for Arrow tables and Parquet files (Encoder).
            raise typed(
                SchemaError,
                f"data does not match the schema: column {quote_name(name)} appears twice in "
                f"the {arg}; "
                "rename or drop one of the two (pets cannot tell which one the schema means)",
                column=name,
            )
        seen.add(name)
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except _CONVERSION_ERRORS as whole:
        for position, name in enumerate(names):
            series = frame.iloc[:, position]
            try:
                pa.Array.from_pandas(series)
            except _CONVERSION_ERRORS as e:
                raise _unconvertible(series, name, e) from None
        raise typed(ParseError, f"the {arg} cannot be converted to Arrow: {whole}") from None


def _unconvertible(series: Any, name: str, error: BaseException) -> PetsError:
    """The error for a pandas column pyarrow refuses.

    It names the first value that does not convert to the type of the column's first value,
    and its 1-based row.
    """
    values = series.tolist()
    found: tuple[int, object] | None = None
    target: pa.DataType | None = None
    first = next((i for i, v in enumerate(values) if not _missing(v)), None)
    if first is not None:
        try:
            target = pa.array([values[first]]).type
        except _CONVERSION_ERRORS:
            found = (first + 1, values[first])
    if target is not None:
        # Chunks first, so a long column is searched at Arrow's speed.
        for start in range(0, len(values), _SEARCH_CHUNK):
            chunk = values[start : start + _SEARCH_CHUNK]
            try:
                pa.array(chunk, type=target, from_pandas=True)
                continue
            except _CONVERSION_ERRORS:
                pass
            for i, v in enumerate(chunk, start):
                try:
                    pa.array([v], type=target, from_pandas=True)
                except _CONVERSION_ERRORS:
                    found = (i + 1, v)
                    break
            break
    column = quote_name(name)
    hint = (
        f"give the column one type, e.g. df[{name!r}].astype(str) for labels or "
        f"pd.to_numeric(df[{name!r}], errors='coerce') for numbers"
    )
    if found is None:
        return typed(
            ParseError,
            f"column {column}: the pandas column (dtype {series.dtype}) cannot be converted "
            f"to Arrow ({error}); {hint}",
            column=name,
        )
    row, value = found
    wide = isinstance(value, int) and not -(2**63) <= value <= U64_MAX
    kind = "a whole number beyond 64 bits" if wide else type(value).__name__
    among = "" if target is None else f" among {target} values"
    return typed(
        ParseError,
        f"column {column}, row {row}: cannot read {quote(value)} ({kind}){among} of the "
        f"pandas column (dtype {series.dtype}); {hint}",
        column=name,
        row=row,
    )


#: Values per chunk when searching a column for the value pyarrow refuses.
_SEARCH_CHUNK = 65_536


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))

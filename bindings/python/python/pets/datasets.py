"""Synthetic datasets to exercise pets on: an A&E (emergency department) attendance generator.

Nothing here is real: NHS numbers lie in the reserved test range, geography and provider
codes are synthetic, and every value is drawn from models calibrated on published national
figures (about 24% of attendances arrive by ambulance, Monday is the busiest day, there is
a spike of departures just before the four-hour target...).

Example:
    >>> import pets.datasets
    >>> table = pets.datasets.generate_ae(1_000, seed=7)
    >>> table.num_rows
    1000
    >>> enc = pets.encode(table, pets.datasets.ae_schema())
    >>> enc.n_rows
    1000
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import pyarrow as pa

from pets import _native
from pets._convert import U32_MAX, U64_MAX, PathLike, integer, to_path
from pets._schema import Schema
from pets.errors import InvalidParameterError

__all__ = ["ae_schema", "generate_ae", "write_ae"]

DateLike = _dt.date | str


def _date(value: DateLike | None, arg: str = "start_date") -> _dt.date | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value)
        except ValueError:
            raise InvalidParameterError(
                f"{arg} must be an ISO date like 2024-04-01, got {value!r}"
            ) from None
    raise TypeError(f"{arg} must be a datetime.date or an ISO date string, not {type(value)}")


#: The largest value each count argument crosses into Rust as (u64, u32 or usize).
_HIGH = {"days": U32_MAX}


def _count(value: object, arg: str, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    return integer(value, arg, 0, _HIGH.get(arg, U64_MAX))


def generate_ae(
    rows: int,
    seed: int = 0,
    *,
    start_date: DateLike | None = None,
    days: int | None = None,
    batch_rows: int | None = None,
) -> pa.Table:
    """Generate ``rows`` synthetic A&E attendances as a ``pyarrow.Table``.

    The same ``rows``, ``seed``, ``start_date`` and ``days`` always give the same table,
    whatever ``batch_rows`` and the number of threads.

    Args:
        rows: Number of attendances (rows).
        seed: Seed of every random choice.
        start_date: First day covered (a ``datetime.date`` or ``"YYYY-MM-DD"``); default
            2024-04-01.
        days: Number of days covered (1 to 3660); default 365.
        batch_rows: Rows per record batch of the result (default 65,536).

    Raises:
        PetsError: an invalid setting (e.g. ``days=0``).

    Example:
        >>> import pets.datasets
        >>> t = pets.datasets.generate_ae(500, seed=1, start_date="2023-01-01", days=31)
        >>> str(min(t["arrival_datetime"].to_pylist()).date()) >= "2023-01-01"
        True
    """
    return _native.generate_ae(
        _count(rows, "rows"),
        _count(seed, "seed"),
        _date(start_date),
        _count(days, "days", optional=True),
        _count(batch_rows, "batch_rows", optional=True),
    )


def ae_schema(*, start_date: DateLike | None = None, days: int | None = None) -> Schema:
    """The declared (public) schema of the A&E dataset for a period.

    Only the date and datetime ranges depend on the period; the default period is the one
    :func:`generate_ae` uses by default.

    Example:
        >>> import pets.datasets
        >>> s = pets.datasets.ae_schema()
        >>> s.name, s.column("arrival_mode").domain
        ('ae', '3 values: 1, 2, 9')
    """
    return Schema(_native.ae_schema(_date(start_date), _count(days, "days", optional=True)))


def write_ae(
    path: PathLike,
    rows: int,
    seed: int = 0,
    *,
    start_date: DateLike | None = None,
    days: int | None = None,
    batch_rows: int | None = None,
) -> dict[str, Any]:
    """Generate the A&E dataset straight to a file, streamed in batches (constant memory).

    The format follows the extension: ``.parquet``, ``.csv`` or ``.tsv``. The rows are the
    same as :func:`generate_ae` gives for the same settings.

    Returns:
        A summary: ``path``, ``rows``, ``batches``, ``bytes`` and ``seconds``.

    Raises:
        PetsIOError: the file cannot be written or the extension is unknown.
    """
    return _native.write_ae(
        to_path(path),
        _count(rows, "rows"),
        _count(seed, "seed"),
        _date(start_date),
        _count(days, "days", optional=True),
        _count(batch_rows, "batch_rows", optional=True),
    )

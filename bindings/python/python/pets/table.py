"""Count tables safe to publish: small numbers suppressed or rounded, and audited.

The Python face of ``pets table`` (Rust ``pets::tables``). :func:`protect` builds one or more
count tables from the same records (each a group-by with every margin and the grand total)
and protects them together:

- ``rule="hes"``: the NHS small-numbers rule for HES and ECDS outputs below national level
  (0 stays 0; 1-7 become ``*``; other counts rounded to the nearest 5; totals from unrounded
  values, rounded separately);
- ``rule="threshold"``: counts from 1 to ``threshold - 1`` suppressed, then secondary
  suppression until a linear-programming audit over **all** the tables shows every suppressed
  small count can only be pinned to an interval at least ``protection`` wide. The cells are
  chosen by a greedy heuristic (``secondary="greedy"``) or by an integer program that
  suppresses the fewest cells, or the least total count (``secondary="exact"``,
  ``cost="cells"`` or ``"value"``; past its limits it falls back to the greedy, with a
  warning).

``mean=`` and ``median=`` publish statistics of numeric columns beside each count; they are
suppressed with the count and when based on few records (1-7 under the HES rule, fewer than
``threshold`` otherwise).

Example:
    >>> import pets, pets.datasets, pets.table
    >>> data = pets.datasets.generate_ae(3_000, seed=2)
    >>> schema = pets.datasets.ae_schema()
    >>> tables = pets.table.protect(data, by=[["age_band", "sex"]], rule="threshold",
    ...                             threshold=10, secondary="exact", mean="age",
    ...                             schema=schema)
    >>> tables.protected, tables.secondary_method
    (True, 'exact')
    >>> list(tables.frame().columns)
    ['table', 'age_band', 'sex', 'count', 'mean_age']
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any, Literal

from pets import _native
from pets._convert import PathLike, TableLike, is_path, pandas_to_polars, to_arrow, to_path
from pets._schema import Schema
from pets.risk import _int

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ProtectedTables", "protect"]


def protect(
    data: TableLike | PathLike,
    by: Sequence[Sequence[str] | str],
    *,
    rule: Literal["hes", "threshold"] = "hes",
    threshold: int = 10,
    protection: int | None = None,
    secondary: Literal["greedy", "exact"] = "greedy",
    cost: Literal["cells", "value"] = "cells",
    mean: Sequence[str] | str = (),
    median: Sequence[str] | str = (),
    schema: Schema | None = None,
) -> ProtectedTables:
    """Build and protect count tables of the same records (``pets table``).

    Args:
        data: The records: a DataFrame, a pyarrow Table, an Arrow stream, or a file path.
        by: Each table's columns (a list of column names, or one comma-separated string).
        rule: ``"hes"`` (the HES/ECDS small-numbers rule) or ``"threshold"``.
        threshold: With ``"threshold"``: counts from 1 to ``threshold - 1`` are suppressed.
        protection: With ``"threshold"``: the smallest width of a suppressed count's
            feasible interval (default: ``threshold``).
        secondary: With ``"threshold"``: ``"greedy"`` (a fast heuristic) or ``"exact"`` (the
            least ``cost`` by an integer program with cut generation).
        cost: With ``secondary="exact"``: ``"cells"`` (the number suppressed) or ``"value"``
            (the total of the suppressed counts, plus one per cell).
        mean: Numeric column(s) whose mean is published beside each count.
        median: Numeric column(s) whose median is published beside each count.
        schema: The declared :class:`~pets.Schema` (inferred, with a warning, when ``None``).

    Returns:
        The :class:`ProtectedTables`.

    Raises:
        InvalidParameterError: no columns, a column twice, a text column, too many cells, a
            statistic of a categorical column, ``secondary="exact"`` with ``rule="hes"``.
        PetsError: with ``"threshold"``, a small count that cannot be protected is reported
            by ``protected`` being False (no exception).
    """
    if schema is not None and not isinstance(schema, Schema):
        raise TypeError(f"schema must be a pets.Schema or None, not {type(schema).__qualname__}")
    if isinstance(by, str):
        raise TypeError('by lists tables: by=[["age_band", "sex"]] or by=["age_band,sex"]')
    tables = []
    for t in by:
        cols = [c.strip() for c in t.split(",")] if isinstance(t, str) else list(t)
        if not all(isinstance(c, str) for c in cols):
            raise TypeError("each table in by is a list of column names (str)")
        tables.append([c for c in cols if c])
    source = to_path(data, "data") if is_path(data) else to_arrow(data, "data")
    text, notes, long, html = _native.protect_tables(
        source,
        None if schema is None else schema.to_json(),
        tables,
        rule,
        _int(threshold, "threshold"),
        None if protection is None else _int(protection, "protection"),
        secondary,
        cost,
        _columns(mean, "mean"),
        _columns(median, "median"),
    )
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return ProtectedTables(json.loads(text), long=long, html=html)


def _columns(value: Sequence[str] | str, name: str) -> list[str]:
    """Column names given as one name or a list of them."""
    cols = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(c, str) for c in cols):
        raise TypeError(f"{name} is a column name or a list of column names (str)")
    return cols


class ProtectedTables:
    """Protected count tables: what is published, what was suppressed, what the audit found."""

    def __init__(
        self,
        content: dict[str, Any],
        *,
        long: tuple[list[str], list[list[str]]] | None = None,
        html: str | None = None,
    ) -> None:
        self._content = content
        self._long = long
        self._html = html

    @property
    def protected(self) -> bool:
        """Whether every suppressed small count's interval is at least the protection level."""
        return bool(self._content["protected"])

    @property
    def source(self) -> str:
        """The rule and where it comes from, to publish alongside the tables."""
        return str(self._content["source"])

    @property
    def secondary_method(self) -> str | None:
        """The secondary suppression method whose pattern is published.

        ``"greedy"`` or ``"exact"`` (``None`` under the HES rule); ``"greedy"`` after
        ``secondary="exact"`` means the exact one gave up (see the warning).
        """
        s = self._content.get("secondary_suppression")
        return None if s is None else str(s["method"])

    @property
    def tables(self) -> list[dict[str, Any]]:
        """Each table: ``by`` (its columns) and ``cells`` (labels, published text, ...)."""
        return list(self._content["tables"])

    def frame(self) -> pd.DataFrame:
        """Every published cell in long format, as ``pets table --out`` writes it.

        Columns: ``table``, each table's columns (empty where a table does not break down by
        one), ``count`` (the published text: a number or ``*``), one column per statistic.
        """
        import pandas as pd

        if self._long is None:
            raise ValueError("frame() needs tables made by pets.table.protect")
        header, rows = self._long
        return pd.DataFrame(rows, columns=header)

    def html(self) -> str:
        """The self-contained HTML report, as ``pets table --report`` writes it."""
        if self._html is None:
            raise ValueError("html() needs tables made by pets.table.protect")
        return self._html

    def to_json(self, pretty: bool = True) -> str:
        """Everything, as ``pets table --json`` writes it."""
        return json.dumps(self._content, indent=2 if pretty else None)

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain Python values (:meth:`to_json`, parsed; a copy)."""
        return json.loads(json.dumps(self._content))

    def to_pandas(self) -> pd.DataFrame:
        """The published cells in long format (:meth:`frame`)."""
        return self.frame()

    def to_polars(self) -> Any:
        """:meth:`frame` as a polars DataFrame (requires polars)."""
        return pandas_to_polars(self.frame())

    def _repr_html_(self) -> str:
        return self.html() if self._html is not None else f"<pre>{escape(repr(self))}</pre>"

    def __repr__(self) -> str:
        return (
            f"ProtectedTables({len(self._content['tables'])} table(s), "
            f"{self._content['primary']} primary and {self._content['secondary']} secondary "
            f"suppressions, protected={self.protected})"
        )

"""Schema inference, encoding to dense codes and decoding back."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from pets import _native
from pets._convert import U64_MAX, TableLike, integer, is_path, to_arrow, to_path
from pets._schema import Schema
from pets.errors import DomainFromDataWarning, InvalidParameterError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Encoded", "encode", "infer_schema"]

OutOfDomainMode = Literal["error", "other"]
Placement = Literal["midpoint", "lower", "uniform"]


def infer_schema(
    data: TableLike,
    *,
    max_categories: int = 10_000,
    name: str | None = None,
) -> Schema:
    """Infer a schema from data, for convenience: **the domains it finds are not public**.

    Categories and bounds are read from the (private) data, so every column is marked
    ``domain_from_data`` and a :class:`~pets.DomainFromDataWarning` is emitted. Review the
    result, widen it to public limits and save it before using it for a release.

    Args:
        data: A pandas or polars DataFrame, a pyarrow Table, any object with
            ``__arrow_c_stream__``, or a path to a CSV, TSV or Parquet file (streamed).
        max_categories: Most distinct text values a column may have to be inferred
            categorical; text columns with more become ``text`` (not encoded).
        name: Dataset name recorded in the schema.

    Returns:
        The inferred :class:`~pets.Schema`.

    Raises:
        EmptyInputError: the data holds no rows.
        PetsIOError: a path cannot be read.
        TypeError: ``data`` is none of the accepted types.

    Example:
        >>> import warnings
        >>> import pyarrow as pa
        >>> import pets
        >>> table = pa.table({"ward": ["a", "b", "b"], "age": [34, 71, 5]})
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore", pets.DomainFromDataWarning)
        ...     schema = pets.infer_schema(table, name="demo")
        >>> [(c.name, c.kind, c.domain) for c in schema.columns]
        [('ward', 'categorical', '2 values: a, b'), ('age', 'integer', '[5, 71]')]
    """
    integer(max_categories, "max_categories", 0, U64_MAX)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str or None, not {type(name).__qualname__}")
    if is_path(data):
        text = _native.infer_schema_file(to_path(data, "data"), max_categories, name)
    else:
        text = _native.infer_schema(to_arrow(data), max_categories, name)
    schema = Schema(text)
    from_data = schema.domain_from_data
    if from_data:
        warnings.warn(
            f"the domain of {len(from_data)} column(s) ({', '.join(from_data)}) was read from "
            "the data, not declared: it is not public and leaks which values occur. Review the "
            "schema, widen it to public limits and clear domain_from_data before any release.",
            DomainFromDataWarning,
            stacklevel=2,
        )
    return schema


def encode(
    data: TableLike,
    schema: Schema,
    *,
    columns: Sequence[str] | None = None,
    out_of_domain: OutOfDomainMode = "error",
) -> Encoded:
    """Encode a table to dense ``uint32`` codes against a declared schema.

    Codes depend only on the schema, never on the data: for each column, ``0..n`` are the
    domain's values in declared order, then the null code (nullable columns), then the
    "other" code (when ``out_of_domain="other"``). Text columns are not encoded.

    Args:
        data: A pandas or polars DataFrame, a pyarrow Table, any object with
            ``__arrow_c_stream__``, or a path to a CSV, TSV or Parquet file (streamed).
        schema: The declared :class:`~pets.Schema`.
        columns: Columns to encode, in this order; all non-text columns when ``None``.
        out_of_domain: ``"error"`` refuses a value outside its declared domain (the error
            names column, row and value); ``"other"`` gives it the column's "other" code
            and counts it in :attr:`Encoded.report`.

    Returns:
        The :class:`Encoded` table.

    Raises:
        DomainError: a value outside its domain (``out_of_domain="error"``), or a null in a
            non-nullable column.
        ParseError: a value that is not of its column's kind.
        SchemaError: the data lacks a declared column, or ``columns`` names an unknown one.
        EmptyInputError: the data holds no rows.

    Example:
        >>> import pyarrow as pa
        >>> import pets
        >>> schema = pets.Schema.from_dict({"columns": [
        ...     {"name": "sex", "kind": "categorical", "values": ["1", "2", "9", "X"]},
        ...     {"name": "age", "kind": "integer", "min": 0, "max": 120},
        ... ]})
        >>> enc = pets.encode(pa.table({"sex": ["2", "1"], "age": [40, 7]}), schema)
        >>> enc.codes("sex").to_pylist(), enc.codes("age").to_pylist()
        ([1, 0], [40, 7])
        >>> enc.decode().to_pydict()
        {'sex': ['2', '1'], 'age': [40, 7]}
    """
    if not isinstance(schema, Schema):
        raise TypeError(f"schema must be a pets.Schema, not {type(schema).__qualname__}")
    if out_of_domain not in ("error", "other"):
        raise InvalidParameterError(
            f'out_of_domain must be "error" or "other", not {out_of_domain!r}'
        )
    cols: list[str] | None = None
    if columns is not None:
        if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
            raise TypeError("columns must be a sequence of column names (str)")
        cols = list(columns)
    if is_path(data):
        native = _native.encode_file(to_path(data, "data"), schema.to_json(), cols, out_of_domain)
    else:
        native = _native.encode(to_arrow(data), schema.to_json(), cols, out_of_domain)
    return Encoded(native)


class Encoded:
    """A table encoded to dense ``uint32`` codes, one code column per encoded column.

    Returned by :func:`pets.encode`. The codes live in Rust-owned Arrow buffers that
    :meth:`codes` and :meth:`to_arrow` share with pyarrow without copying.

    Example:
        >>> import pyarrow as pa
        >>> import pets
        >>> schema = pets.Schema.from_dict({"columns": [
        ...     {"name": "band", "kind": "categorical", "values": ["low", "high"]}]})
        >>> enc = pets.encode(pa.table({"band": ["high", "low", "high"]}), schema)
        >>> enc.n_rows, enc.names, enc.counts("band")
        (3, ['band'], [1, 2])
    """

    __slots__ = ("_native", "_report", "_schema")

    def __init__(self, native: Any) -> None:
        """Wrap a native encoded table (use :func:`pets.encode` to make one)."""
        self._native = native
        self._report: dict[str, Any] | None = None
        self._schema: Schema | None = None

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return self._native.n_rows

    @property
    def names(self) -> list[str]:
        """Names of the encoded columns, in order."""
        return self._native.names

    @property
    def schema(self) -> Schema:
        """The schema of the encoded columns."""
        if self._schema is None:
            self._schema = Schema(self._native.schema_json())
        return self._schema

    @property
    def report(self) -> dict[str, Any]:
        """What encoding did besides producing codes (a fresh dict).

        Keys: ``rows``; ``mapped_to_other`` (per column, values mapped to "other");
        ``text_columns_not_encoded``; ``undeclared_data_columns`` (in the data, not in the
        schema); ``domain_from_data`` (encoded columns whose domain came from the data).
        """
        if self._report is None:
            self._report = json.loads(self._native.report_json())
        return json.loads(json.dumps(self._report))

    def codes(self, name: str) -> pa.UInt32Array:
        """The codes of column ``name``, sharing the Rust buffer (zero-copy).

        Raises:
            SchemaError: ``name`` is not an encoded column.
        """
        return self._native.codes(name)

    def cardinality(self, name: str) -> int:
        """Number of distinct codes of a column: domain values, then null and other codes."""
        return self._native.cardinality(name)

    def codebook(self, name: str) -> dict[str, int | None]:
        """The code layout of a column: ``n_values``, ``null_code`` and ``other_code``."""
        n_values, null_code, other_code = self._native.codebook(name)
        return {"n_values": n_values, "null_code": null_code, "other_code": other_code}

    def labels(self, name: str) -> list[str]:
        """A readable label for every code of a column, in code order."""
        return self._native.labels(name)

    def counts(self, name: str) -> list[int]:
        """How many rows hold each code of a column (``cardinality(name)`` entries)."""
        return self._native.counts(name)

    def to_arrow(self) -> pa.Table:
        """All code columns as a ``pyarrow.Table`` of ``uint32`` (zero-copy)."""
        return self._native.codes_table()

    def to_pandas(self) -> pd.DataFrame:
        """The codes as a pandas DataFrame of ``uint32`` columns (requires pandas).

        Use ``decode().to_pandas()`` for the values instead of their codes.
        """
        return self.to_arrow().to_pandas()

    def decode(
        self,
        placement: Placement = "midpoint",
        seed: int = 0,
        *,
        other_label: str = "other",
    ) -> pa.Table:
        """Decode the codes back to values of the declared types.

        Categorical columns decode to strings, integers to ``int64``, floats to
        ``float64``, dates to ``date32`` and datetimes to ``timestamp[ms]``. Unbinned
        integers, categories and day-granularity dates decode exactly; a binned value or a
        coarser period is placed within its bin by ``placement``.

        Args:
            placement: ``"midpoint"`` (the bin's middle), ``"lower"`` (its lower edge) or
                ``"uniform"`` (uniformly at random, seeded; deterministic for a seed).
            seed: Seed for ``"uniform"``.
            other_label: Text written for the "other" code of categorical columns (other
                kinds decode "other" to null).

        Returns:
            A ``pyarrow.Table`` with one column per encoded column.
        """
        if placement not in ("midpoint", "lower", "uniform"):
            raise InvalidParameterError(
                f'placement must be "midpoint", "lower" or "uniform", not {placement!r}'
            )
        return self._native.decode(placement, integer(seed, "seed", 0, U64_MAX), other_label)

    def __len__(self) -> int:
        return self.n_rows

    def __repr__(self) -> str:
        return f"<pets.Encoded {self.n_rows} rows x {len(self.names)} columns: {self.names}>"

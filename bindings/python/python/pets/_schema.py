"""The declared schema of a table: :class:`Schema` and its :class:`Column` entries."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pets import _native
from pets._convert import PathLike, to_path
from pets.errors import SchemaError

__all__ = ["Column", "Schema"]

_MAX_LISTED = 6


@dataclass(frozen=True)
class Column:
    """One declared column of a :class:`Schema` (read-only).

    Attributes:
        name: Column name, exactly as in the data.
        kind: ``"categorical"``, ``"integer"``, ``"float"``, ``"date"``, ``"datetime"`` or
            ``"text"`` (text has no public domain and is never encoded).
        nullable: Whether nulls may occur.
        role: ``"direct_identifier"``, ``"quasi_identifier"``, ``"sensitive"`` or ``"other"``.
        domain_from_data: True when the domain was read from the data, not declared.
        description: Free text for people reading the schema, or ``None``.
        spec: The column's full declaration as in the schema JSON (values, bounds, bins...).

    Example:
        >>> import pets
        >>> s = pets.Schema.from_json(
        ...     '{"columns": [{"name": "sex", "kind": "categorical", "values": ["1", "2"]}]}'
        ... )
        >>> s.columns[0].kind, s.columns[0].domain
        ('categorical', '2 values: 1, 2')
    """

    name: str
    kind: str
    nullable: bool
    role: str
    domain_from_data: bool
    description: str | None
    spec: dict[str, Any] = field(repr=False, compare=True, hash=False)

    @classmethod
    def _from_spec(cls, spec: dict[str, Any]) -> Column:
        return cls(
            name=spec["name"],
            kind=spec["kind"],
            nullable=bool(spec.get("nullable", False)),
            role=spec.get("role", "other"),
            domain_from_data=bool(spec.get("domain_from_data", False)),
            description=spec.get("description"),
            spec=spec,
        )

    @property
    def domain(self) -> str:
        """A one-line summary of the declared domain, e.g. ``"[0, 110]"`` or ``"4 values: ..."``."""
        s = self.spec
        if self.kind == "categorical":
            values = [str(v) for v in s.get("values", [])]
            shown = ", ".join(values[:_MAX_LISTED])
            more = ", ..." if len(values) > _MAX_LISTED else ""
            order = "ordered " if s.get("ordered") else ""
            return f"{len(values)} {order}values: {shown}{more}"
        if self.kind in ("integer", "float"):
            text = f"[{s.get('min')}, {s.get('max')}]"
            bins = s.get("bins")
            if isinstance(bins, dict) and "equal_width" in bins:
                text += f", {bins['equal_width']} equal-width bins"
            elif isinstance(bins, dict) and "edges" in bins:
                text += f", {len(bins['edges']) - 1} bins"
            return text
        if self.kind in ("date", "datetime"):
            default = "day" if self.kind == "date" else "minute"
            return f"[{s.get('min')}, {s.get('max')}] by {s.get('granularity', default)}"
        return "(no public domain; not encoded)"


class Schema:
    """The public, declared description of a table's columns.

    A schema says, for every column, which values it may take (its *domain*), whether it
    may be null, and its role in disclosure control. It is immutable; it wraps the schema
    JSON validated by the Rust core, so anything accepted here is accepted by every pets
    tool (CLI, Rust).

    Create one with :meth:`from_json`, :meth:`from_dict`, :meth:`load` (``.json`` or
    ``.toml``), :func:`pets.infer_schema` (domains read from the data: flagged and warned
    about), or :func:`pets.datasets.ae_schema`.

    Example:
        >>> import pets
        >>> schema = pets.Schema.from_dict({
        ...     "name": "demo",
        ...     "columns": [
        ...         {"name": "sex", "kind": "categorical", "values": ["1", "2", "9", "X"]},
        ...         {"name": "age", "kind": "integer", "min": 0, "max": 120},
        ...     ],
        ... })
        >>> schema.names
        ['sex', 'age']
        >>> schema == pets.Schema.from_json(schema.to_json())
        True
    """

    __slots__ = ("_columns", "_data", "_json")

    def __init__(self, json_text: str) -> None:
        """Parse and validate ``json_text`` (same as :meth:`from_json`)."""
        if not isinstance(json_text, str):
            raise TypeError(
                f"Schema() takes the schema as JSON text, not {type(json_text).__qualname__}; "
                "use Schema.from_dict or Schema.load for other sources"
            )
        self._json: str = _native.schema_from_json(json_text)
        self._data: dict[str, Any] = json.loads(self._json)
        self._columns: tuple[Column, ...] = tuple(
            Column._from_spec(c) for c in self._data["columns"]
        )

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_json(cls, text: str) -> Schema:
        """Parse and validate a JSON schema.

        Raises:
            SchemaError: the text is not valid JSON or not a valid schema.

        Example:
            >>> import pets
            >>> pets.Schema.from_json(
            ...     '{"columns": [{"name": "a", "kind": "integer", "min": 0, "max": 9}]}'
            ... ).names
            ['a']
        """
        return cls(text)

    @classmethod
    def from_toml(cls, text: str) -> Schema:
        """Parse and validate a TOML schema (``[[columns]]`` tables)."""
        return cls(_native.schema_from_toml(text))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        """Build a schema from a dict shaped like the JSON schema."""
        if not isinstance(data, dict):
            raise TypeError(f"data must be a dict, not {type(data).__qualname__}")
        return cls(json.dumps(data))

    @classmethod
    def load(cls, path: PathLike) -> Schema:
        """Read a schema file: ``.toml`` is TOML, anything else JSON.

        Raises:
            PetsIOError: the file cannot be read.
            SchemaError: its content is not a valid schema.
        """
        return cls(_native.schema_load(to_path(path)))

    # -- output -------------------------------------------------------------------------

    def to_json(self) -> str:
        """The schema as pretty JSON (the format :meth:`from_json` and the CLI read)."""
        return self._json

    def to_toml(self) -> str:
        """The schema as TOML."""
        return _native.schema_to_toml(self._json)

    def to_dict(self) -> dict[str, Any]:
        """The schema as a dict shaped like the JSON (a fresh copy)."""
        return json.loads(self._json)

    def save(self, path: PathLike) -> None:
        """Write the schema to ``path``: ``.toml`` as TOML, anything else as JSON.

        Raises:
            PetsIOError: the file cannot be written.
        """
        _native.schema_save(self._json, to_path(path))

    # -- access -------------------------------------------------------------------------

    @property
    def name(self) -> str | None:
        """The dataset name recorded in the schema, if any."""
        return self._data.get("name")

    @property
    def columns(self) -> list[Column]:
        """The declared columns, in order."""
        return list(self._columns)

    @property
    def names(self) -> list[str]:
        """Column names, in order."""
        return [c.name for c in self._columns]

    @property
    def domain_from_data(self) -> list[str]:
        """Names of the columns whose domain was read from the data rather than declared.

        Non-empty means the schema is not fit for a privacy-protected release as it is.
        """
        return [c.name for c in self._columns if c.domain_from_data]

    def column(self, name: str) -> Column:
        """The column called ``name``.

        Raises:
            SchemaError: no such column.
        """
        for c in self._columns:
            if c.name == name:
                return c
        err = SchemaError(f"unknown column {name!r}; available columns: {', '.join(self.names)}")
        err.column, err.row = name, None
        raise err

    def select(self, names: Sequence[str]) -> Schema:
        """A schema holding only the named columns, in the order given.

        Raises:
            SchemaError: a name is not a column of this schema.
        """
        if isinstance(names, str):
            raise TypeError("names must be a sequence of column names, not a single str")
        data = dict(self._data)
        data["columns"] = [self.column(n).spec for n in names]
        return Schema.from_dict(data)

    def __len__(self) -> int:
        return len(self._columns)

    def __iter__(self) -> Iterator[Column]:
        return iter(self._columns)

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self._columns)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schema):
            return NotImplemented
        return self._data == other._data

    def __hash__(self) -> int:
        return hash(self._json)

    # -- display ------------------------------------------------------------------------

    def _warning_line(self) -> str | None:
        from_data = self.domain_from_data
        if not from_data:
            return None
        return (
            f"WARNING: the domain of {len(from_data)} of {len(self)} columns was read from the "
            "data, not declared (marked *); it leaks which values occur. Review the schema, "
            "widen it to public limits and clear domain_from_data before any release."
        )

    def _rows(self) -> list[tuple[str, str, str, str, str]]:
        return [
            (
                c.name + (" *" if c.domain_from_data else ""),
                c.kind,
                "yes" if c.nullable else "no",
                c.role,
                c.domain,
            )
            for c in self._columns
        ]

    def __repr__(self) -> str:
        title = f"Schema {self.name!r}" if self.name else "Schema"
        lines = [f"{title} ({len(self)} columns)"]
        warning = self._warning_line()
        if warning:
            lines.append(warning)
        header = ("name", "kind", "nullable", "role", "domain")
        rows = self._rows()
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
        for r in [header, *rows]:
            cells = [r[i].ljust(widths[i]) for i in range(4)]
            lines.append("  " + "  ".join([*cells, r[4]]).rstrip())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        title = f"Schema {esc(repr(self.name))}" if self.name else "Schema"
        parts = [f"<div><strong>{title}</strong> ({len(self)} columns)"]
        warning = self._warning_line()
        if warning:
            parts.append(
                '<p style="color:#b00020;font-weight:bold;border:2px solid #b00020;'
                f'padding:4px">&#9888; {esc(warning)}</p>'
            )
        parts.append("<table><thead><tr>")
        parts.extend(f"<th>{h}</th>" for h in ("name", "kind", "nullable", "role", "domain"))
        parts.append("</tr></thead><tbody>")
        for c, row in zip(self._columns, self._rows(), strict=True):
            style = ' style="color:#b00020"' if c.domain_from_data else ""
            tip = f' title="{esc(c.description)}"' if c.description else ""
            parts.append(f"<tr{style}{tip}>")
            parts.extend(f"<td>{esc(cell)}</td>" for cell in row)
            parts.append("</tr>")
        parts.append("</tbody></table></div>")
        return "".join(parts)

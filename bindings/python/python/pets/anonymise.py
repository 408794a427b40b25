"""Anonymisation: the least coarsening and suppression that makes an extract pass.

The Python face of ``pets anonymise`` (Rust ``pets::anonymise``). :func:`anonymise` searches
every combination of the quasi-identifiers' hierarchy levels (age in 5-, 10-, 20-year bands,
arrival to the day, week or month, postcode district to area...) for the one with the least
information loss that meets the privacy models (k-anonymity, l-diversity, t-closeness, ...)
with at most ``max_suppression`` of the records suppressed. The search is optimal (a
branch and bound over the whole lattice), runs in Rust without the GIL, and returns an
:class:`AnonymiseResult`: the levels chosen, the risk before and after (the same
:class:`~pets.risk.RiskReport` as :func:`pets.risk.assess`), the trade-off front, and the
released table itself.

Example:
    >>> import pets, pets.datasets
    >>> table = pets.datasets.generate_ae(5_000, seed=1)
    >>> schema = pets.datasets.ae_schema()
    >>> result = pets.anonymise(table, qi=["age", "sex"], k=10, schema=schema,
    ...                         hierarchy={"age": "5,10,20;top=90"}, max_suppression=0.01)
    >>> result.before.passed, result.after.passed
    (False, True)
    >>> result.levels
    {'age': 'bands of 5', 'sex': 'value'}
    >>> result.table.num_rows == result.record["records_out"]
    True
    >>> "nhs_number" in result.table.column_names  # direct identifiers are left out
    False
"""

from __future__ import annotations

import json
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pets import _native
from pets._convert import (
    Kind,
    PathLike,
    TableLike,
    as_kind,
    integer,
    is_path,
    kind_of,
    to_arrow,
    to_path,
)
from pets._progress import bars
from pets._schema import Schema
from pets.risk import RiskReport, _columns, _float, _int

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["AnonymiseResult", "anonymise"]

MeasureName = Literal["loss", "precision", "entropy", "discernibility", "average_class_size"]
AggregateName = Literal["mean", "median", "mode", "interval"]


def anonymise(
    data: TableLike | PathLike,
    qi: Sequence[str] | str | None = None,
    sensitive: str | None = None,
    *,
    k: int = 5,
    l: int | None = None,  # noqa: E741 (the measure is called l)
    t: float | None = None,
    c: float = 3.0,
    l_variant: Literal["distinct", "entropy", "recursive"] = "distinct",
    ground_distance: Literal["auto", "equal", "ordered"] = "auto",
    alpha: float | None = None,
    beta: float | None = None,
    delta: float | None = None,
    risk_threshold: float = 0.2,
    max_average_risk: float | None = None,
    hierarchy: Mapping[str, str] | None = None,
    max_suppression: float = 0.05,
    measure: MeasureName = "loss",
    mask: bool = False,
    front_slack: float = 0.5,
    schema: Schema | None = None,
    output: PathLike | None = None,
    drop: Sequence[str] | str | None = None,
    microaggregate: Mapping[str, AggregateName] | None = None,
    local_recoding: int = 0,
    progress: bool | None = None,
) -> AnonymiseResult:
    """Find and apply the least coarsening that meets the privacy models (``pets anonymise``).

    Args:
        data: The extract: a pandas or polars DataFrame, a pyarrow Table, any object with
            ``__arrow_c_stream__`` (passed to Rust without copying), or a path to a CSV,
            TSV or Parquet file.
        qi: Quasi-identifiers (a list, or one comma-separated string). Default: the schema's
            ``quasi_identifier`` columns.
        sensitive: The attribute whose disclosure harms (for ``l``, ``t``, ``alpha``...).
        k: Minimum class size (k-anonymity); smaller classes are suppressed.
        l: Minimum l (l-diversity); needs ``sensitive``.
        t: Maximum t (t-closeness), in [0, 1]; needs ``sensitive``.
        c: ``c`` of recursive (c,l)-diversity.
        l_variant: ``"distinct"``, ``"entropy"`` or ``"recursive"`` l-diversity.
        alpha: Maximum alpha of (alpha,k)-anonymity; needs ``sensitive``.
        beta: Maximum beta of basic beta-likeness; needs ``sensitive``.
        delta: Maximum delta of delta-disclosure privacy; needs ``sensitive``.
        risk_threshold: Highest acceptable chance of re-identifying one kept record.
        max_average_risk: Largest acceptable average risk of the kept records, if given.
        ground_distance: t-closeness ground distance: ``"auto"``, ``"equal"`` or
            ``"ordered"``.
        hierarchy: Each quasi-identifier's hierarchy in the command line's short form, over
            the schema's: ``{"age": "5,10,20;top=90", "arrival_datetime": "day,month",
            "postcode_district": "postcode", "ethnic_category": "@eth.csv"}`` (see
            ``pets schema explain``). Columns without one get a default, with a warning.
        max_suppression: Largest share of records that may be suppressed, in [0, 1].
        measure: Information loss minimised: ``"loss"``, ``"precision"``, ``"entropy"``,
            ``"discernibility"`` or ``"average_class_size"``.
        mask: Keep suppressed records with their quasi-identifiers set to ``"*"`` instead
            of removing them.
        front_slack: How far above the optimum's loss the alternatives reach (0.5: 1.5x).
        schema: The declared :class:`~pets.Schema` (inferred from the data, with a
            warning, when ``None``).
        output: Also write the release to this file (.csv, .tsv, .parquet).
        drop: Columns to leave out of the release (direct identifiers and columns not in
            the schema always are), e.g. quasi-identifiers not searched over.
        microaggregate: Numeric quasi-identifiers to microaggregate instead of generalise,
            each with its function: ``{"los_days": "mean"}`` (``"mean"``, ``"median"``,
            ``"mode"`` or ``"interval"``). Such a column does not split classes; in each
            released class its values become the class's aggregate, and its information
            loss is in ``result.record["microaggregation"]``.
        local_recoding: Anonymise the records the optimum suppresses again, up to this many
            iterations (0: off); each record is released under the levels of the iteration
            that kept it, listed in ``result.record["iterations"]``.
        progress: A progress bar while it runs (tqdm): ``None`` when tqdm is installed and
            this is a terminal or a notebook, ``True`` always, ``False`` never. Ctrl-C stops
            the job at its next safe point either way (``KeyboardInterrupt``, nothing
            written).

    Returns:
        The :class:`AnonymiseResult`, with the released table as ``result.table``.

    Raises:
        InvalidParameterError: a model or option out of range, a hierarchy that misses a
            value or whose levels do not nest.
        PetsError: no combination of levels meets the models within ``max_suppression``.
        SchemaError, DomainError, EmptyInputError: as :func:`pets.risk.assess`.
    """
    if schema is not None and not isinstance(schema, Schema):
        raise TypeError(f"schema must be a pets.Schema or None, not {type(schema).__qualname__}")
    if sensitive is not None and not isinstance(sensitive, str):
        raise TypeError(f"sensitive must be a column name (str), not {type(sensitive)}")
    specs: dict[str, str] = {}
    for column, spec in (hierarchy or {}).items():
        if not isinstance(column, str) or not isinstance(spec, str):
            raise TypeError(
                "hierarchy maps column names (str) to hierarchies in short form (str), "
                f"e.g. {{'age': '5,10,20'}}, not {column!r}: {spec!r}"
            )
        specs[column] = spec
    functions: dict[str, str] = {}
    for column, function in (microaggregate or {}).items():
        if not isinstance(column, str) or not isinstance(function, str):
            raise TypeError(
                "microaggregate maps column names (str) to functions (str), e.g. "
                f"{{'los_days': 'mean'}}, not {column!r}: {function!r}"
            )
        functions[column] = function
    config: dict[str, Any] = {
        "quasi_identifiers": _columns(qi, "qi") or [],
        "sensitive": sensitive,
        "k": _int(k, "k"),
        "l": None if l is None else _int(l, "l"),
        "c": _float(c, "c"),
        "l_variant": l_variant,
        "risk_threshold": _float(risk_threshold, "risk_threshold"),
    }
    for name, value in (
        ("t", t),
        ("alpha", alpha),
        ("beta", beta),
        ("delta", delta),
        ("max_average_risk", max_average_risk),
    ):
        config[name] = None if value is None else _float(value, name)
    source = to_path(data, "data") if is_path(data) else to_arrow(data, "data")
    with tempfile.TemporaryDirectory(prefix="pets-anonymise-") as tmp:
        release = to_path(output, "output") if output is not None else str(Path(tmp) / "r.parquet")
        with bars(progress, "anonymise") as callback:
            native = _native.anonymise(
                source,
                None if schema is None else schema.to_json(),
                json.dumps(config),
                specs,
                _float(max_suppression, "max_suppression"),
                measure,
                _float(front_slack, "front_slack"),
                release,
                bool(mask),
                ground_distance,
                _columns(drop, "drop") or [],
                functions,
                integer(local_recoding, "local_recoding"),
                callback,
            )
        table = _native.read_table(release)[0]
        import pyarrow as pa

        table = pa.table(table)
    for w in native.warnings():
        warnings.warn(w, UserWarning, stacklevel=2)
    return AnonymiseResult(native, table, kind_of(data))


class AnonymiseResult:
    """What :func:`anonymise` did: levels, risk before and after, alternatives, the release.

    The same content as ``pets anonymise --json`` (:meth:`to_json`) and ``--report``
    (:meth:`to_html`); in a notebook it renders as the HTML report.
    """

    def __init__(self, native: Any, table: pa.Table, kind: Kind = "pyarrow") -> None:
        self._native = native
        self._kind = kind
        self._outcome: dict[str, Any] = json.loads(native.to_json(False))
        #: The released table (pyarrow): quasi-identifiers as their released labels,
        #: suppressed records removed (or masked with ``"*"``), direct identifiers left out.
        self.table = table

    @property
    def record(self) -> dict[str, Any]:
        """Exactly what was done: levels, models, counts in and out, columns dropped."""
        return self._outcome["record"]

    @property
    def levels(self) -> dict[str, str]:
        """Each quasi-identifier's released level (``{"age": "bands of 10", ...}``)."""
        return {q["column"]: q["level_name"] for q in self.record["quasi_identifiers"]}

    @property
    def loss(self) -> float:
        """Information loss of the release under the measure, in [0, 1]."""
        return float(self.record["loss"])

    @property
    def before(self) -> RiskReport:
        """The risk report of the extract as it was."""
        return RiskReport(self._native.before())

    @property
    def after(self) -> RiskReport:
        """The risk report of the release (what ``pets.risk.assess`` says of it)."""
        return RiskReport(self._native.after())

    @property
    def release_schema(self) -> Schema:
        """The release's schema (quasi-identifiers categorical over their released labels)."""
        return Schema.from_json(self._native.release_schema_json())

    @property
    def front(self) -> list[dict[str, Any]]:
        """The alternatives, by increasing loss (the optimum first).

        Each has a lower average risk than every cheaper one; levels are named per column.
        """
        names = [(h["column"], h["levels"]) for h in self._outcome["hierarchies"]]
        out = []
        for node in self._outcome["search"]["front"]:
            row = {col: levels[i] for (col, levels), i in zip(names, node["levels"], strict=True)}
            row.update({k: v for k, v in node.items() if k != "levels"})
            out.append(row)
        return out

    def front_frame(self) -> pd.DataFrame:
        """:attr:`front` as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.front)

    @property
    def release(self) -> Any:
        """The released table, as the kind of table given to :func:`anonymise`.

        A pandas DataFrame for pandas, polars for polars, else :attr:`table` (pyarrow).
        """
        return as_kind(self.table, self._kind)

    def to_dict(self) -> dict[str, Any]:
        """The whole outcome as plain Python values (:meth:`to_json`, parsed)."""
        return json.loads(self.to_json(False))

    def to_pandas(self) -> pd.DataFrame:
        """The released table as a pandas DataFrame."""
        return self.table.to_pandas()

    def to_polars(self) -> Any:
        """The released table as a polars DataFrame (requires polars)."""
        return as_kind(self.table, "polars")

    def to_json(self, pretty: bool = True) -> str:
        """The whole outcome as JSON, exactly as ``pets anonymise --json`` writes it."""
        return self._native.to_json(pretty)

    def to_html(self) -> str:
        """The self-contained HTML report, exactly as ``pets anonymise --report`` writes it."""
        return self._native.to_html()

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        levels = ", ".join(f"{c}={lv}" for c, lv in self.levels.items())
        return (
            f"AnonymiseResult({self.before.verdict} -> {self.after.verdict}; {levels}; "
            f"loss {self.loss:.4f}; {self.record['records_suppressed']} suppressed)"
        )

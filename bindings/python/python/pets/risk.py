"""Disclosure risk: could someone single out a patient in this extract from facts they know?

The Python face of ``pets risk`` (Rust ``pets::disclosure``). :func:`assess` groups the
records by the quasi-identifiers (the facts an intruder could know: age, sex, postcode
district, arrival date...) in one parallel pass and measures k-anonymity, l-diversity,
t-closeness, (alpha,k)-anonymity, beta-likeness, delta-disclosure, prosecutor / journalist /
marketer re-identification risk, population uniqueness, every combination of the intruder's
facts and the minimal sample uniques (SUDA). It returns a :class:`RiskReport`: the same
figures, checks and verdict as the command line, with pandas views and the self-contained
HTML report for the release panel.

Reports never contain the values of a class: only sizes, counts, shares and column names.

Example:
    >>> import pets, pets.datasets, pets.risk
    >>> table = pets.datasets.generate_ae(5_000, seed=1)
    >>> schema = pets.datasets.ae_schema()
    >>> report = pets.risk.assess(table, qi=["sex", "age_band"], sensitive="diagnosis_group",
    ...                           k=5, l=2, schema=schema)
    >>> report.verdict, report.k, report.failed_checks
    ('FAIL', 1, ['k_anonymity', 'l_diversity', 'records_at_risk'])
    >>> coarser = pets.risk.assess(table, qi=["sex", "arrival_mode"], sensitive="diagnosis_group",
    ...                            k=5, l=2, schema=schema)
    >>> coarser.passed, coarser.k
    (True, 5)
    >>> frame = coarser.checks_frame()
    >>> frame[["id", "passed"]].to_dict("records")[0]
    {'id': 'k_anonymity', 'passed': True}
"""

from __future__ import annotations

import copy
import html
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pets import _native
from pets._convert import (
    U64_MAX,
    PathLike,
    TableLike,
    finite,
    integer,
    pandas_to_polars,
    to_path,
)
from pets._io import table_or_file
from pets._progress import bars
from pets._schema import Schema
from pets.errors import DomainFromDataWarning, InvalidParameterError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["INFERRED_SCHEMA_WARNING", "RiskReport", "assess"]

#: The warning given (as a :class:`~pets.DomainFromDataWarning`) and put in the report when
#: no schema is passed: the same text ``pets risk`` prints.
INFERRED_SCHEMA_WARNING: str = _native.inferred_schema_warning()

LVariantName = Literal["distinct", "entropy", "recursive"]
GroundDistanceName = Literal["auto", "equal", "ordered", "hierarchical"]

#: Values ``f64::MAX`` stands for in the Rust report (an infinite measure).
_INFINITE = 1.7976931348623157e308

#: Measures of the report, in the order :attr:`RiskReport.measures` lists them.
_MEASURES = (
    "k_anonymity",
    "l_diversity",
    "t_closeness",
    "alpha_k",
    "beta_likeness",
    "delta_disclosure",
    "reidentification",
    "risk_distribution",
    "population_uniqueness",
    "scenarios",
    "suda",
    "linkage",
)


def _table(obj: TableLike | PathLike, arg: str, schema: Schema | None) -> Any:
    return table_or_file(obj, arg, schema, stacklevel=3)


def _columns(value: Sequence[str] | str | None, arg: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [c.strip() for c in value.split(",") if c.strip()]
    cols = list(value)
    if not all(isinstance(c, str) for c in cols):
        raise TypeError(f"{arg} must be a sequence of column names (str)")
    return cols


def _int(value: object, arg: str) -> int:
    # Zero is passed on: Rust refuses it with its own message.
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        raise InvalidParameterError(f"{arg} must be at least 1 (got {value})")
    return integer(value, arg, 0, U64_MAX)


def _float(value: object, arg: str) -> float:
    return finite(value, arg, "it must be a finite number")


def assess(
    data: TableLike | PathLike,
    qi: Sequence[str] | str | None = None,
    sensitive: str | None = None,
    *,
    k: int = 5,
    l: int | None = None,  # noqa: E741 (the measure is called l)
    t: float | None = None,
    c: float = 3.0,
    l_variant: LVariantName = "distinct",
    ground_distance: GroundDistanceName = "auto",
    alpha: float | None = None,
    beta: float | None = None,
    delta: float | None = None,
    risk_threshold: float = 0.2,
    max_records_at_risk: float = 0.0,
    max_average_risk: float | None = None,
    sampling_fraction: float | None = None,
    intruder: Sequence[str] | str | None = None,
    scenarios: bool = True,
    suda: bool = True,
    what_if: bool = True,
    schema: Schema | None = None,
    generalise: Mapping[str, str | int] | None = None,
    population: TableLike | PathLike | None = None,
    attacker: TableLike | PathLike | None = None,
    hierarchy: Mapping[str, Sequence[str]] | None = None,
    progress: bool | None = None,
) -> RiskReport:
    """Assess the disclosure risk of a record-level extract, as ``pets risk`` does.

    Args:
        data: The extract: a pandas or polars DataFrame, a pyarrow Table, any object with
            ``__arrow_c_stream__`` (passed to Rust without copying), or a path to a CSV,
            TSV or Parquet file.
        qi: Quasi-identifiers, the facts an intruder could know (a list, or one
            comma-separated string). Default: the schema's ``quasi_identifier`` columns.
        sensitive: The attribute whose disclosure harms. Default: the schema's
            ``sensitive`` column, if any.
        k: Minimum class size (k-anonymity, Sweeney 2002).
        l: Minimum l (l-diversity, Machanavajjhala et al. 2007); needs ``sensitive``.
        t: Maximum t (t-closeness, Li et al. 2007), in [0, 1]; needs ``sensitive``.
        c: ``c`` of recursive (c,l)-diversity.
        l_variant: Which l-diversity decides the check: ``"distinct"``, ``"entropy"`` or
            ``"recursive"``.
        ground_distance: t-closeness ground distance: ``"auto"`` (ordered for ordered
            columns; hierarchical when ``hierarchy`` is given), ``"equal"``, ``"ordered"`` or
            ``"hierarchical"`` (needs ``hierarchy``).
        alpha: Maximum alpha of (alpha,k)-anonymity, in (0, 1]; needs ``sensitive``.
        beta: Maximum beta of basic beta-likeness; needs ``sensitive``.
        delta: Maximum delta of delta-disclosure privacy; needs ``sensitive``.
        risk_threshold: Highest acceptable chance of re-identifying one record, in (0, 1].
        max_records_at_risk: Largest acceptable share of records above ``risk_threshold``.
        max_average_risk: Largest acceptable average (prosecutor) risk, checked if given.
        sampling_fraction: The extract's share of the population it was drawn from, for
            journalist and marketer risk and population uniqueness.
        intruder: The facts an intruder may know, for the scenario and SUDA analyses
            (default: the quasi-identifiers; at most 12).
        scenarios: Analyse every combination of the intruder's facts.
        suda: Search the minimal sample uniques (SUDA).
        what_if: Simulate fixes (drop a column, band an ordered column, suppress).
        schema: The declared :class:`~pets.Schema`. When ``None`` it is **inferred from the
            data**, which reads the domains from private data: a
            :class:`~pets.DomainFromDataWarning` is given and the report carries it.
        generalise: Assess the extract as it would be released, as ``pets risk
            --generalise`` does: ``{"arrival_datetime": "day", "age": 5}`` takes datetimes to
            the ``second``/``minute``/``hour``/``day``, dates to the ``day``/``week``/
            ``month``/``year``, integers to bands of the given width. Changes the schema the
            data are encoded against, never the data; the summary says what was applied.
        population: A population table with the same schema, for exact journalist and
            marketer risk.
        attacker: An intruder's table (e.g. a register) to link to the release on the
            quasi-identifiers it holds.
        hierarchy: A value hierarchy of the sensitive attribute for hierarchical
            t-closeness (Li et al. 2007), as ``pets risk --hierarchy`` reads from JSON: each
            value's ancestors from the root down, e.g. ``{"01": ["injury", "wound"], ...}``.
        progress: A progress bar while it runs (tqdm): ``None`` when tqdm is installed and
            this is a terminal or a notebook, ``True`` always, ``False`` never. Ctrl-C stops
            the job at its next safe point either way (``KeyboardInterrupt``).

    Returns:
        The :class:`RiskReport`; ``report.passed`` is the command line's exit status.

    Raises:
        SchemaError: a column is not in the schema or the data.
        InvalidParameterError: a setting out of range (``k < 1``, ``t`` outside [0, 1], a
            quasi-identifier that is also the sensitive attribute, ``l`` without
            ``sensitive``...).
        EmptyInputError: the data has no rows.
        DomainError: a value outside its declared domain.
        TypeError: an argument of the wrong type.
    """
    config_json, levels, paths = _arguments(
        qi,
        sensitive,
        k=k,
        l=l,
        t=t,
        c=c,
        l_variant=l_variant,
        ground_distance=ground_distance,
        alpha=alpha,
        beta=beta,
        delta=delta,
        risk_threshold=risk_threshold,
        max_records_at_risk=max_records_at_risk,
        max_average_risk=max_average_risk,
        sampling_fraction=sampling_fraction,
        intruder=intruder,
        scenarios=scenarios,
        suda=suda,
        what_if=what_if,
        schema=schema,
        generalise=generalise,
        hierarchy=hierarchy,
    )
    with bars(progress, "risk") as callback:
        native = _native.assess_risk(
            _table(data, "data", schema),
            None if schema is None else schema.to_json(),
            config_json,
            None if population is None else _table(population, "population", schema),
            None if attacker is None else _table(attacker, "attacker", schema),
            levels,
            paths,
            ground_distance,
            callback,
        )
    report = RiskReport(native)
    for w in report.warnings:
        if w == INFERRED_SCHEMA_WARNING or w.startswith("columns with domains read from data"):
            warnings.warn(w, DomainFromDataWarning, stacklevel=2)
    return report


def _arguments(
    qi: Sequence[str] | str | None,
    sensitive: str | None,
    *,
    k: int,
    l: int | None,  # noqa: E741 (the measure is called l)
    t: float | None,
    c: float,
    l_variant: str,
    ground_distance: str,
    alpha: float | None,
    beta: float | None,
    delta: float | None,
    risk_threshold: float,
    max_records_at_risk: float,
    max_average_risk: float | None,
    sampling_fraction: float | None,
    intruder: Sequence[str] | str | None,
    scenarios: bool,
    suda: bool,
    what_if: bool,
    schema: Schema | None,
    generalise: Mapping[str, str | int] | None,
    hierarchy: Mapping[str, Sequence[str]] | None,
) -> tuple[str, list[tuple[str, str]], dict[str, list[str]] | None]:
    """Check the options of :func:`assess` and put them as the native layer takes them.

    Returns the ``RiskConfig`` as JSON, the generalisations and the hierarchy;
    ``pets.spark.risk`` uses it too, so both take the same options with the same errors.
    """
    if schema is not None and not isinstance(schema, Schema):
        raise TypeError(f"schema must be a pets.Schema or None, not {type(schema).__qualname__}")
    if sensitive is not None and not isinstance(sensitive, str):
        raise TypeError(f"sensitive must be a column name (str), not {type(sensitive)}")
    if l_variant not in ("distinct", "entropy", "recursive"):
        raise InvalidParameterError(
            f'l_variant must be "distinct", "entropy" or "recursive", not {l_variant!r}'
        )
    if not isinstance(ground_distance, str):
        raise TypeError(f"ground_distance must be a str, not {type(ground_distance).__qualname__}")
    paths: dict[str, list[str]] | None = None
    if hierarchy is not None:
        if not isinstance(hierarchy, Mapping):
            raise TypeError("hierarchy must map each sensitive value to its ancestors")
        paths = {}
        for value, ancestors in hierarchy.items():
            if (
                not isinstance(value, str)
                or isinstance(ancestors, str)
                or not isinstance(ancestors, Sequence)
                or not all(isinstance(a, str) for a in ancestors)
            ):
                raise TypeError(
                    "hierarchy maps values (str) to their ancestors (a list of str), "
                    f"not {value!r}: {ancestors!r}"
                )
            paths[value] = list(ancestors)
    config: dict[str, Any] = {
        "quasi_identifiers": _columns(qi, "qi") or [],
        "sensitive": sensitive,
        "k": _int(k, "k"),
        "l": None if l is None else _int(l, "l"),
        "c": _float(c, "c"),
        "l_variant": l_variant,
        "risk_threshold": _float(risk_threshold, "risk_threshold"),
        "max_records_at_risk": _float(max_records_at_risk, "max_records_at_risk"),
        "intruder_columns": _columns(intruder, "intruder"),
        "scenarios": bool(scenarios),
        "suda": bool(suda),
        "what_if": bool(what_if),
    }
    for name, value in (
        ("t", t),
        ("alpha", alpha),
        ("beta", beta),
        ("delta", delta),
        ("max_average_risk", max_average_risk),
        ("sampling_fraction", sampling_fraction),
    ):
        config[name] = None if value is None else _float(value, name)
    levels: list[tuple[str, str]] = []
    if generalise is not None:
        if not isinstance(generalise, Mapping):
            raise TypeError("generalise must be a mapping of column name to level")
        for name, level in generalise.items():
            if not isinstance(name, str) or not isinstance(level, str | int):
                raise TypeError("generalise maps column names (str) to levels (str or int)")
            levels.append((name, str(level)))
    return json.dumps(config), levels, paths


def _finite(x: Any) -> Any:
    return math.inf if isinstance(x, float) and x >= _INFINITE else x


class RiskReport:
    """The release panel's report: every figure, which checks pass or fail, what would fix it.

    Returned by :func:`assess`; the same content as ``pets risk --json`` (:meth:`to_json`) and
    ``--report`` (:meth:`to_html`). Figures are plain Python values (:meth:`to_dict`);
    :meth:`checks_frame`, :meth:`class_sizes_frame`, :meth:`risk_frame`,
    :meth:`scenarios_frame` and :meth:`fixes_frame` are pandas views. In a notebook the report
    shows as a compact summary table.
    """

    __slots__ = ("_data", "_native")

    def __init__(self, native: Any) -> None:
        """Wrap a native report (use :func:`assess` to make one)."""
        self._native = native
        self._data: dict[str, Any] = json.loads(native.to_json(False))

    # -- headline ----------------------------------------------------------------------

    @property
    def passed(self) -> bool:
        """Whether every check passed (the command line exits 0 exactly then)."""
        return bool(self._data["passed"])

    @property
    def verdict(self) -> str:
        """``"PASS"`` or ``"FAIL"``."""
        return self._data["verdict"]

    @property
    def n_records(self) -> int:
        """Records assessed."""
        return self._data["n_records"]

    @property
    def summary(self) -> list[str]:
        """Plain-language summary lines, most important first."""
        return list(self._data["summary"])

    @property
    def warnings(self) -> list[str]:
        """What the panel should know (an inferred schema, skipped analyses...)."""
        return list(self._data["warnings"])

    @property
    def schema_inferred(self) -> bool:
        """Whether the schema was inferred from the data (see :data:`INFERRED_SCHEMA_WARNING`)."""
        return INFERRED_SCHEMA_WARNING in self._data["warnings"]

    @property
    def config(self) -> dict[str, Any]:
        """The configuration assessed (quasi-identifiers and thresholds, roles filled in)."""
        return copy.deepcopy(self._data["config"])

    @property
    def quasi_identifiers(self) -> list[str]:
        """The quasi-identifiers assessed."""
        return list(self._data["config"]["quasi_identifiers"])

    @property
    def sensitive(self) -> str | None:
        """The sensitive attribute assessed, if any."""
        return self._data["config"]["sensitive"]

    @property
    def k(self) -> int:
        """The table's k: the smallest equivalence class."""
        return self._data["k_anonymity"]["k"]

    @property
    def checks(self) -> list[dict[str, Any]]:
        """The pass/fail checks: ``id``, ``title``, ``passed``, ``measured``, ``threshold``,
        ``requirement``, ``failing_classes``, ``failing_records``, ``explanation``.
        """  # noqa: D205
        return [{**c, "measured": _finite(c["measured"])} for c in self._data["checks"]]

    @property
    def failed_checks(self) -> list[str]:
        """Identifiers of the checks that failed."""
        return [c["id"] for c in self._data["checks"] if not c["passed"]]

    @property
    def fixes(self) -> list[dict[str, Any]]:
        """Changes that would reduce the risk, most effective first, with their effect."""
        return copy.deepcopy(self._data["fixes"])

    @property
    def measures(self) -> dict[str, Any]:
        """Every measure by name (``k_anonymity``, ``l_diversity``, ``t_closeness``,
        ``reidentification``, ``population_uniqueness``, ``scenarios``, ``suda``,
        ``linkage``...); ``None`` for those not computed.
        """  # noqa: D205
        return {name: copy.deepcopy(self._data.get(name)) for name in _MEASURES}

    @property
    def timings_ms(self) -> dict[str, float]:
        """Milliseconds spent per stage."""
        return dict(self._data["timings_ms"])

    def __getitem__(self, key: str) -> Any:
        """A top-level field of the JSON report (a copy)."""
        return copy.deepcopy(self._data[key])

    # -- serialisation -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The whole report as plain Python values (the JSON report, parsed; a copy)."""
        return copy.deepcopy(self._data)

    def to_pandas(self) -> pd.DataFrame:
        """The checks, one row per check (:meth:`checks_frame`; requires pandas)."""
        return self.checks_frame()

    def to_polars(self) -> Any:
        """:meth:`to_pandas` as a polars DataFrame (requires polars)."""
        return pandas_to_polars(self.to_pandas())

    def to_json(self, indent: int | None = 2) -> str:
        """The JSON report, as ``pets risk --json`` writes it (compact when ``indent=None``)."""
        return self._native.to_json(indent is not None)

    def write_json(self, path: PathLike) -> Path:
        """Write :meth:`to_json` to ``path``; returns the path."""
        p = Path(to_path(path))
        p.write_text(self.to_json() + "\n", encoding="utf-8")
        return p

    def to_html(self) -> str:
        """The self-contained HTML report (plots included, no network assets)."""
        return self._native.to_html()

    def write_html(self, path: PathLike) -> Path:
        """Write :meth:`to_html` to ``path``; returns the path."""
        p = Path(to_path(path))
        p.write_text(self.to_html(), encoding="utf-8")
        return p

    # -- pandas views ------------------------------------------------------------------

    def checks_frame(self) -> pd.DataFrame:
        """The checks as a DataFrame, one row per check (requires pandas)."""
        pd = _pandas()
        cols = [
            "id",
            "title",
            "passed",
            "measured",
            "requirement",
            "threshold",
            "failing_classes",
            "failing_records",
            "explanation",
        ]
        return pd.DataFrame(self.checks, columns=cols)

    def class_sizes_frame(self) -> pd.DataFrame:
        """The distribution of equivalence-class sizes (requires pandas).

        Columns: ``size``, ``classes`` (classes of that size), ``records``
        (``size * classes``) and ``under_k`` (whether the size is below the k threshold).
        """
        pd = _pandas()
        ka = self._data["k_anonymity"]
        rows = [
            {"size": s, "classes": n, "records": s * n, "under_k": s < ka["threshold"]}
            for s, n in ka["size_frequencies"]
        ]
        return pd.DataFrame(rows, columns=["size", "classes", "records", "under_k"])

    def risk_frame(self) -> pd.DataFrame:
        """Records by prosecutor re-identification risk band: ``lower``, ``upper``,
        ``records`` (requires pandas).
        """  # noqa: D205
        pd = _pandas()
        return pd.DataFrame(self._data["risk_distribution"], columns=["lower", "upper", "records"])

    def scenarios_frame(self) -> pd.DataFrame:
        """Risk for every combination of the intruder's facts, one row per combination,
        with ``minimal_singling_out`` marking the smallest combinations that single people
        out (requires pandas; empty when scenarios were not run).
        """  # noqa: D205
        pd = _pandas()
        cols = [
            "columns",
            "n_classes",
            "k",
            "sample_uniques",
            "records_under_k",
            "highest_risk",
            "average_risk",
            "records_at_risk",
            "minimal_singling_out",
        ]
        sc = self._data.get("scenarios")
        if not sc:
            return pd.DataFrame(columns=cols)
        minimal = set(sc["minimal_singling_out"])
        rows = [
            {**s, "columns": ", ".join(s["columns"]), "minimal_singling_out": s["mask"] in minimal}
            for s in sc["scenarios"]
        ]
        return pd.DataFrame(rows, columns=cols)

    def fixes_frame(self) -> pd.DataFrame:
        """The simulated fixes, most effective first (requires pandas)."""
        pd = _pandas()
        cols = ["action", "kind", "column", "records_under_k_after", "k_after", "records_removed"]
        return pd.DataFrame(self._data["fixes"], columns=cols)

    # -- display -----------------------------------------------------------------------

    def __repr__(self) -> str:
        lines = [f"<pets.risk.RiskReport {self.verdict}: {self.n_records} records, k = {self.k}>"]
        for c in self.checks:
            mark = "pass" if c["passed"] else "FAIL"
            lines.append(
                f"  [{mark}] {c['title']}: {c['measured']:.4g} {c['requirement']} "
                f"{c['threshold']:.4g} ({c['failing_records']} records failing)"
            )
        lines.extend(f"  WARNING: {w}" for w in self.warnings)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        colour = "#1a7f37" if self.passed else "#cf222e"
        rows = "".join(
            f"<tr><td>{'pass' if c['passed'] else '<b>FAIL</b>'}</td><td>{esc(c['title'])}</td>"
            f"<td>{c['measured']:.4g}</td><td>{esc(c['requirement'])} {c['threshold']:.4g}</td>"
            f"<td>{c['failing_classes']}</td><td>{c['failing_records']}</td></tr>"
            for c in self.checks
        )
        warn = "".join(
            f"<p style='color:#9a6700'><b>Warning:</b> {esc(w)}</p>" for w in self.warnings
        )
        summary = "".join(f"<li>{esc(s)}</li>" for s in self.summary)
        return (
            f"<div><p><b style='color:{colour}'>{esc(self.verdict)}</b>: "
            f"{self.n_records} records, quasi-identifiers "
            f"{esc(', '.join(self.quasi_identifiers))}, k = {self.k}</p>{warn}"
            "<table><thead><tr><th></th><th>check</th><th>measured</th><th>required</th>"
            f"<th>failing classes</th><th>failing records</th></tr></thead><tbody>{rows}"
            f"</tbody></table><ul>{summary}</ul></div>"
        )


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is an optional dependency
        raise ImportError("this view needs pandas: pip install pandas") from None
    return pd

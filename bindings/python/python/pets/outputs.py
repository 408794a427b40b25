"""Output checking: tables and models leaving a secure data environment, checked first.

The Python face of ``pets outputs`` (Rust ``pets::outputs``), for analysts in a trusted
research environment or secure data environment. Every table or model that leaves must be
checked for disclosure by a release panel; these functions compute and check in one step,
with the rules and defaults of ACRO / SACRO (``pip install acro``) and common TRE practice:

- counts: minimum cell frequency (10) and zeros treated as disclosive;
- sums and means: the threshold plus (n,k) dominance (the 2 largest contributions under 90%
  of the total) and p%-ratio dominance (the others at least 10% of the largest);
- medians, quantiles, min and max: the threshold and zeros (a small group's extreme is a
  person's value);
- standard deviations and regressions: at least 10 residual degrees of freedom;
- ``rules="hes"``: the NHS HES/ECDS small-numbers rule instead of the threshold.

:func:`crosstab` and :func:`pivot_table` compute in Rust (one pass, without the GIL) and
return a :class:`CheckedTable`: every cell with its value and the rules it fails, and why.
``mitigate="suppress"`` suppresses failing cells, with secondary suppression so margins
cannot recover them; ``"round"`` rounds. Regressions are fitted with statsmodels (their
natural home; ``pip install statsmodels``) and checked by :func:`check_model`.

A :class:`Session` records as the analyst works: each output goes into a bundle folder (its
CSV, ``record.json``, ``summary.html``) with the call that made it, the data's provenance,
the checks, differencing warnings against earlier outputs, and any exception requested;
``pets outputs review BUNDLE`` prints it for the checker and ``pets outputs decide`` records
the decision.

Example:
    >>> import pets, pets.datasets, pets.outputs
    >>> ae = pets.datasets.generate_ae(2_000, seed=1)
    >>> t = pets.outputs.crosstab(ae, "acuity", "sex", schema=pets.datasets.ae_schema())
    >>> t.kind, t.passed
    ('crosstab', False)
    >>> sorted({check for cell in t.failing for check in cell["fails"]})
    ['threshold', 'zeros']
    >>> safe = pets.outputs.crosstab(ae, "acuity", "sex", schema=pets.datasets.ae_schema(),
    ...                              mitigate="suppress")
    >>> safe.mitigation["primary"] == len(t.failing)  # every failing cell suppressed
    True
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pets import _native
from pets._convert import PathLike, TableLike, is_path, to_arrow, to_path
from pets._schema import Schema

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CheckedTable",
    "Session",
    "check_model",
    "crosstab",
    "decide",
    "pivot_table",
    "review",
    "survival_table",
]

Mitigate = Literal["suppress", "round"] | None
RulesLike = None | str | PathLike | Mapping[str, Any]


def _names(value: str | Sequence[str] | None, arg: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{arg} must be a column name or a list of names, not {value!r}")
    return list(value)


def _rules_kwargs(rules: RulesLike) -> dict[str, Any]:
    """``rules`` as the native functions take it.

    ACRO's defaults (None or ``"acro"``), the HES/ECDS preset (``"hes"``), a TOML file, or a
    mapping of the same keys.
    """
    if rules is None or (isinstance(rules, str) and rules.lower() == "acro"):
        return {}
    if isinstance(rules, str) and rules.lower() == "hes":
        return {"hes": True}
    if isinstance(rules, Mapping):
        return {"rules_json": json.dumps(dict(rules))}
    if is_path(rules):
        return {"rules_path": to_path(rules, "rules")}
    raise TypeError(
        "rules must be None, 'acro', 'hes', a TOML file path or a dict of rules, "
        f"not {type(rules).__name__}"
    )


def _mitigation(mitigate: Mitigate) -> str:
    return "none" if mitigate is None else str(mitigate)


class CheckedTable:
    """A table or model with every cell checked (Rust ``pets::outputs::CheckedTable``).

    Attributes:
        kind: ``frequency``, ``crosstab``, ``pivot``, or a model (``ols``, ``logit``,
            ``probit``).
        by: the columns it breaks down by (``["term"]`` for a model).
        statistic: ``count``, ``mean``, ``quantile(0.5)``, ..., or ``estimate``.
        values: the value column of a pivot, the dependent variable of a model.
        status: ``pass`` when no cell fails (or every failing cell was mitigated).
        cells: one dict per cell, margins (``Total``) included: ``labels``, ``published``
            (the value as released; ``*`` when suppressed), ``fails`` (rule names),
            ``reasons`` and ``mitigated``.
        checks: the rules run on every cell.
        rules: the rules' settings.
        mitigation: what the mitigation changed, or None.
        model: a model's full coefficient table (estimates, standard errors, p-values), or
            None.
        survival: a survival table's rows as published (time, at_risk, events, survival),
            or None.
        fit: the statsmodels results a :class:`Session` model was made from, or None.
        id: the output's id in a :class:`Session`'s bundle, or None.
        differencing: warnings that this output differenced with an earlier one of the
            bundle reveals a small group.
        warnings: warnings from the computation (an inferred schema, ...).
    """

    def __init__(self, record: Mapping[str, Any], warnings: Sequence[str] = ()) -> None:
        self._record = dict(record)
        self.kind: str = record["kind"]
        self.by: list[str] = list(record["by"])
        agg = record["agg"]
        self.statistic: str = (
            f"quantile({agg['q']})" if agg["agg"] == "quantile" else str(agg["agg"])
        )
        self.values: str | None = record.get("values")
        self.status: str = record["status"]
        self.checks: list[str] = list(record["checks"])
        self.rules: dict[str, Any] = dict(record["rules"])
        self.mitigation: dict[str, Any] | None = record.get("mitigation")
        self.model: dict[str, Any] | None = record.get("model")
        self.survival: list[dict[str, Any]] | None = record.get("survival")
        self.cells: list[dict[str, Any]] = [
            {
                "labels": list(c["labels"]),
                "published": c["published"],
                "fails": [f["check"] for f in c.get("failures", [])],
                "reasons": [f["reason"] for f in c.get("failures", [])],
                "mitigated": c.get("mitigated"),
            }
            for c in record["cells"]
        ]
        self.fit: Any = None
        self.id: str | None = None
        self.differencing: list[dict[str, str]] = []
        self.warnings: list[str] = list(warnings)

    @property
    def passed(self) -> bool:
        """Whether the output may go to the panel as it is (no open failing cell)."""
        return self.status == "pass"

    @property
    def failing(self) -> list[dict[str, Any]]:
        """The cells failing at least one rule (before mitigation)."""
        return [c for c in self.cells if c["fails"]]

    def to_dict(self) -> dict[str, Any]:
        """The checked table exactly as the bundle's ``record.json`` holds it."""
        return dict(self._record)

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self._record)

    def to_pandas(self) -> pd.DataFrame:
        """One row per cell: the labels, the published value, the failed rules and why."""
        import pandas as pd

        if self.model is not None:
            frame = pd.DataFrame(self.model["coefficients"])
            frame["fails"] = [";".join(c["fails"]) for c in self.cells]
            return frame
        if self.survival is not None:
            frame = pd.DataFrame(self.survival)
            frame["fails"] = [";".join(c["fails"]) for c in self.cells]
            frame["mitigated"] = [c["mitigated"] or "" for c in self.cells]
            return frame
        value = f"{self.statistic}_{self.values}" if self.values else "count"
        rows = [
            {
                **dict(zip(self.by, c["labels"], strict=True)),
                value: c["published"],
                "fails": ";".join(c["fails"]),
                "reasons": "; ".join(c["reasons"]),
                "mitigated": c["mitigated"] or "",
            }
            for c in self.cells
        ]
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        what = f"{self.statistic}({self.values})" if self.values else "count"
        ident = f"{self.id}: " if self.id else ""
        return (
            f"<CheckedTable {ident}{self.kind} {what} by {' x '.join(self.by)}: "
            f"{len(self.failing)} of {len(self.cells)} cell(s) fail [{self.status.upper()}]>"
        )

    def _repr_html_(self) -> str:
        import html

        head = html.escape(repr(self))
        frame = self.to_pandas()
        return f"<p><code>{head}</code></p>" + frame.to_html(index=False, na_rep="")


def crosstab(
    data: TableLike | PathLike,
    rows: str | Sequence[str],
    cols: str | Sequence[str] | None = None,
    *,
    schema: Schema | None = None,
    rules: RulesLike = None,
    mitigate: Mitigate = None,
) -> CheckedTable:
    """Counts of ``data`` by ``rows`` (and ``cols``), every cell checked.

    Args:
        data: a pandas/polars DataFrame, a pyarrow Table, or a CSV/Parquet path.
        rows: the row variable(s).
        cols: the column variable(s).
        schema: the declared schema (inferred, with a warning, when absent).
        rules: None or ``"acro"`` (ACRO's defaults), ``"hes"``, a TOML file, or a dict
            (``threshold``, ``zeros_disclosive``, ``p_ratio``, ``nk_n``, ``nk_k``,
            ``dof_threshold``, ``round_base``, ``preset``).
        mitigate: None (report), ``"suppress"`` (with secondary suppression) or ``"round"``.
    """
    return _table(data, rows, cols, None, "count", schema, rules, mitigate)


def pivot_table(
    data: TableLike | PathLike,
    values: str,
    index: str | Sequence[str],
    columns: str | Sequence[str] | None = None,
    aggfunc: str = "mean",
    *,
    schema: Schema | None = None,
    rules: RulesLike = None,
    mitigate: Mitigate = None,
) -> CheckedTable:
    """``aggfunc`` of the numeric column ``values`` by ``index`` (and ``columns``), checked.

    Every cell is checked as ACRO does for that statistic.
    ``aggfunc``: ``count``, ``sum``, ``mean``, ``median``, ``std``, ``min``, ``max``, or
    ``quantile:Q`` / ``pNN`` (``p25``). The other arguments are :func:`crosstab`'s.
    """
    if not isinstance(values, str):
        raise TypeError(f"values must be a column name, not {values!r}")
    return _table(data, index, columns, values, aggfunc, schema, rules, mitigate)


def _table(
    data: Any,
    rows: Any,
    cols: Any,
    values: str | None,
    agg: str,
    schema: Schema | None,
    rules: RulesLike,
    mitigate: Mitigate,
) -> CheckedTable:
    by = _names(rows, "rows") + _names(cols, "cols")
    source = to_path(data) if is_path(data) else to_arrow(data)
    text, warnings = _native.outputs_table(
        source,
        by,
        values=values,
        agg=agg,
        schema_json=None if schema is None else schema.to_json(),
        mitigate=_mitigation(mitigate),
        **_rules_kwargs(rules),
    )
    return CheckedTable(json.loads(text), warnings)


def survival_table(
    data: TableLike | PathLike,
    time: str,
    event: str,
    *,
    rules: RulesLike = None,
    mitigate: Mitigate = None,
) -> CheckedTable:
    """A Kaplan-Meier survival table of ``time`` and ``event``, checked.

    Each row is a distinct event time with the number at risk, the events and the survival
    estimate (``.survival``). Rows fail the threshold rule when fewer than ``threshold``
    records left the risk set since the previous row, and every row fails when records
    minus distinct times is under ``dof_threshold`` (ACRO's check). ``mitigate="suppress"``
    (or ``"round"``) merges small steps as ACRO's rounded survival function does.

    Args:
        data: a DataFrame, pyarrow Table or CSV/Parquet path.
        time: the time column (numbers).
        event: the event column: 1/true/yes the event, 0/false/no censored.
        rules: see :func:`crosstab`.
        mitigate: None, ``"suppress"`` or ``"round"``.
    """
    source = to_path(data) if is_path(data) else to_arrow(data)
    text, warnings = _native.outputs_survival(
        source, time, event, mitigate=_mitigation(mitigate), **_rules_kwargs(rules)
    )
    return CheckedTable(json.loads(text), warnings)


def _model_fit(results: Any, method: str | None = None) -> dict[str, Any]:
    """A statsmodels results object as the core's model summary."""
    try:
        params = results.params
        model = results.model
    except AttributeError:
        raise TypeError(
            "check_model needs fitted statsmodels results (OLS, Logit or Probit .fit()), "
            f"not {type(results).__name__}"
        ) from None
    name = method or type(model).__name__.lower()
    ci = results.conf_int()

    def num(v: Any) -> float | None:
        v = float(v)
        return v if math.isfinite(v) else None

    terms = list(getattr(params, "index", [f"x{i}" for i in range(len(params))]))
    values = lambda s: list(getattr(s, "values", s))  # noqa: E731
    lows = values(ci.iloc[:, 0]) if hasattr(ci, "iloc") else [r[0] for r in ci]
    highs = values(ci.iloc[:, 1]) if hasattr(ci, "iloc") else [r[1] for r in ci]
    return {
        "method": name,
        "dependent": str(getattr(model, "endog_names", "y")),
        "observations": int(results.nobs),
        "coefficients": [
            {
                "term": str(t),
                "estimate": num(e),
                "std_err": num(s),
                "statistic": num(z),
                "p_value": num(p),
                "ci_low": num(lo),
                "ci_high": num(hi),
            }
            for t, e, s, z, p, lo, hi in zip(
                terms,
                values(params),
                values(results.bse),
                values(results.tvalues),
                values(results.pvalues),
                lows,
                highs,
                strict=True,
            )
        ],
    }


def check_model(results: Any, *, rules: RulesLike = None) -> CheckedTable:
    """Check fitted statsmodels results (OLS, Logit, Probit) by the residual dof rule.

    The result has one cell per coefficient; all fail when the model has fewer than
    ``dof_threshold`` residual degrees of freedom.

    Raises:
        InvalidParameterError: more parameters than observations, or not a supported model.
    """
    return _checked_model(results, _model_fit(results), rules)


def _checked_model(results: Any, fit: dict[str, Any], rules: RulesLike) -> CheckedTable:
    # A non-finite statistic (a perfectly separated logit) travels as JSON null and is
    # published as "nan".
    out = CheckedTable(json.loads(_native.outputs_model(json.dumps(fit), **_rules_kwargs(rules))))
    out.fit = results
    return out


def review(bundle: PathLike) -> str:
    """A bundle's summary as ``pets outputs review`` prints it."""
    return _native.outputs_bundle_read(to_path(bundle, "bundle"))[1]


def decide(
    bundle: PathLike, output_id: str, decision: Literal["approve", "reject"], reason: str = ""
) -> None:
    """Record the checker's decision on one output of a bundle."""
    _native.outputs_bundle_decide(to_path(bundle, "bundle"), output_id, decision, reason)


def _call(name: str, **kwargs: Any) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if v is not None)
    return f"pets.outputs.Session.{name}({args})"


class Session:
    """Records outputs into a bundle folder as the analyst works (ACRO's ``ACRO()``).

    Each call computes, checks and appends one output to ``bundle`` at once (its CSV,
    ``record.json`` and ``summary.html`` rewritten atomically), so the record survives a
    crashed kernel. Reopening a folder continues its record.

    Args:
        bundle: the bundle folder (created when the first output is recorded).
        rules: the rules for every output (see :func:`crosstab`).
        schema: the declared schema for every table.

    Example:
        >>> import pets, pets.datasets, pets.outputs, tempfile
        >>> ae = pets.datasets.generate_ae(5_000, seed=2)
        >>> session = pets.outputs.Session(tempfile.mkdtemp() + "/release",
        ...                                schema=pets.datasets.ae_schema())
        >>> session.crosstab(ae, "age_band", mitigate="suppress").id
        'output_001'
        >>> t = session.pivot_table(ae, "total_time_in_dept_min", "acuity", aggfunc="median")
        >>> t.id, t.passed
        ('output_002', True)
        >>> "output_002" in session.review()
        True
    """

    def __init__(
        self, bundle: PathLike, *, rules: RulesLike = None, schema: Schema | None = None
    ) -> None:
        self.path = Path(to_path(bundle, "bundle"))
        self._rules = rules
        self._schema = schema

    def _record(
        self,
        table: CheckedTable,
        call: str,
        data: Any,
        source: str | None,
        exception: str | None,
    ) -> CheckedTable:
        provenance: dict[str, Any] = {}
        if is_path(data):
            provenance["data_path"] = to_path(data)
        else:
            provenance["source_name"] = source or _describe(data)
        record = json.loads(
            _native.outputs_bundle_append(
                str(self.path), table.to_json(), call, exception=exception, **provenance
            )
        )
        table.id = record["id"]
        table.differencing = list(record.get("differencing", []))
        if table.differencing:
            import warnings

            for d in table.differencing:
                warnings.warn(
                    f"{table.id} differenced with {d['other']}: {d['message']}",
                    UserWarning,
                    stacklevel=3,
                )
        return table

    def crosstab(
        self,
        data: TableLike | PathLike,
        rows: str | Sequence[str],
        cols: str | Sequence[str] | None = None,
        *,
        mitigate: Mitigate = None,
        exception: str | None = None,
        source: str | None = None,
    ) -> CheckedTable:
        """:func:`crosstab`, recorded.

        ``exception`` asks the checker to release it despite failing cells, with this
        reason; ``source`` names in-memory data in the record.
        """
        t = crosstab(data, rows, cols, schema=self._schema, rules=self._rules, mitigate=mitigate)
        call = _call("crosstab", rows=rows, cols=cols, mitigate=mitigate)
        return self._record(t, call, data, source, exception)

    def pivot_table(
        self,
        data: TableLike | PathLike,
        values: str,
        index: str | Sequence[str],
        columns: str | Sequence[str] | None = None,
        aggfunc: str = "mean",
        *,
        mitigate: Mitigate = None,
        exception: str | None = None,
        source: str | None = None,
    ) -> CheckedTable:
        """:func:`pivot_table`, recorded (see :meth:`crosstab`)."""
        t = pivot_table(
            data,
            values,
            index,
            columns,
            aggfunc,
            schema=self._schema,
            rules=self._rules,
            mitigate=mitigate,
        )
        call = _call(
            "pivot_table", values=values, index=index, columns=columns, aggfunc=aggfunc,
            mitigate=mitigate,
        )  # fmt: skip
        return self._record(t, call, data, source, exception)

    def survival_table(
        self,
        data: TableLike | PathLike,
        time: str,
        event: str,
        *,
        mitigate: Mitigate = None,
        exception: str | None = None,
        source: str | None = None,
    ) -> CheckedTable:
        """:func:`survival_table`, recorded (see :meth:`crosstab`)."""
        t = survival_table(data, time, event, rules=self._rules, mitigate=mitigate)
        call = _call("survival_table", time=time, event=event, mitigate=mitigate)
        return self._record(t, call, data, source, exception)

    def _model(
        self,
        method: str,
        formula: str,
        data: Any,
        exception: str | None,
        source: str | None,
    ) -> CheckedTable:
        try:
            import statsmodels.formula.api as smf
        except ImportError:
            raise ImportError(
                "regressions are fitted with statsmodels: pip install statsmodels"
            ) from None
        frame = _as_pandas(data)
        model = getattr(smf, method)(formula, data=frame)
        results = model.fit() if method == "ols" else model.fit(disp=0)
        out = _checked_model(results, _model_fit(results, method), self._rules)
        call = _call(method, formula=formula)
        return self._record(out, call, data, source, exception)

    def ols(
        self,
        formula: str,
        data: TableLike | PathLike,
        *,
        exception: str | None = None,
        source: str | None = None,
    ) -> CheckedTable:
        """A linear regression (a statsmodels formula: ``"los ~ age + C(sex)"``), recorded.

        Checked by the residual degrees-of-freedom rule; ``.fit`` holds the results.
        """
        return self._model("ols", formula, data, exception, source)

    def logit(
        self,
        formula: str,
        data: TableLike | PathLike,
        *,
        exception: str | None = None,
        source: str | None = None,
    ) -> CheckedTable:
        """A logistic regression, as :meth:`ols`."""
        return self._model("logit", formula, data, exception, source)

    def probit(
        self,
        formula: str,
        data: TableLike | PathLike,
        *,
        exception: str | None = None,
        source: str | None = None,
    ) -> CheckedTable:
        """A probit regression, as :meth:`ols`."""
        return self._model("probit", formula, data, exception, source)

    def request_exception(self, output_id: str, reason: str) -> None:
        """Ask the checker to release ``output_id`` despite failing checks, and why."""
        _native.outputs_bundle_exception(str(self.path), output_id, reason)

    @property
    def outputs(self) -> list[dict[str, Any]]:
        """The bundle's record: one dict per output (empty before the first)."""
        if not (self.path / "record.json").exists():
            return []
        return json.loads(_native.outputs_bundle_read(str(self.path))[0])["outputs"]

    def review(self) -> str:
        """The bundle's summary, as ``pets outputs review`` prints it."""
        if not (self.path / "record.json").exists():
            return f"bundle {self.path}: 0 output(s)\n"
        return review(self.path)

    def __repr__(self) -> str:
        return f"<pets.outputs.Session {self.path} ({len(self.outputs)} output(s))>"


def _describe(data: Any) -> str:
    kind = type(data).__module__.split(".")[0] + "." + type(data).__name__
    shape = getattr(data, "shape", None)
    return f"in-memory {kind}" + (f" {shape[0]} x {shape[1]}" if shape else "")


def _as_pandas(data: Any) -> pd.DataFrame:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if is_path(data):
        from pets._io import read_table

        data = read_table(data)
    return to_arrow(data).to_pandas()

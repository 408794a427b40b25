"""Differential privacy: aggregate answers under a budget that cannot be overspent.

The Python face of Rust ``pets::dp`` (and of ``pets dp query``). A :class:`Session` holds a
total budget, in pure epsilon-DP (``epsilon=``) or rho-zCDP (``rho=``), with a ``delta`` for
group-by queries whose keys are not known in advance. Every query is charged **before** any
noise is drawn and refused with :class:`~pets.BudgetExceededError` (saying what is left) when
it does not fit; the :meth:`Session.ledger` records every release (query, mechanism,
sensitivity, noise scale, cost, accuracy, warnings) for the release panel.

Noise comes from OpenDP's exact samplers (discrete Laplace / Gaussian for counts, Laplace /
Gaussian on a 2^k lattice for sums). Each result carries its accuracy: a ``1 - alpha``
(default 95%) interval half-width and the interval ``lower``/``upper`` around the released
value (for quantiles a rank tolerance instead).

The unit of privacy is the person when ``id_column`` is given (each person's rows are bounded
to ``max_rows_per_person``, chosen uniformly with ``seed``); without it each row is treated
as a different person, and every result and ledger entry says so.

Example:
    >>> import pets, pets.datasets, pets.dp
    >>> table = pets.datasets.generate_ae(10_000, seed=3)
    >>> session = pets.dp.Session(epsilon=1.0, schema=pets.datasets.ae_schema(),
    ...                           id_column="nhs_number", max_rows_per_person=2)
    >>> n = session.count(table, epsilon=0.5)
    >>> n.kind, n.lower < n.value < n.upper
    ('scalar', True)
    >>> by_sex = session.count(table, by=["sex"], epsilon=0.25)
    >>> list(by_sex.to_pandas().columns)
    ['sex', 'count', 'half_width', 'lower', 'upper']
    >>> session.remaining
    Cost(epsilon=0.25, delta=0)
    >>> session.mean(table, "total_time_in_dept_min", bounds=(0, 1440), epsilon=0.5)
    Traceback (most recent call last):
    ...
    pets.BudgetExceededError: over budget: ... but only epsilon = 0.25 is left ...
    >>> len(session.ledger()["entries"])
    2
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pets import _native
from pets._convert import (
    PathLike,
    TableLike,
    finite,
    number,
    optional_integer,
    pandas_to_polars,
    to_path,
)
from pets._io import table_or_file
from pets._schema import Schema
from pets.errors import DomainFromDataWarning, InvalidParameterError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BudgetStatus", "Cost", "DpResult", "Session", "budget_status", "init_budget"]

NoiseName = Literal["auto", "laplace", "gaussian"]
Bounds = tuple[float, float]


@dataclass(frozen=True)
class Cost:
    """A privacy loss: a budget, what was spent, what is left, or what a query was charged.

    Exactly one of ``epsilon`` ((epsilon, delta)-DP) and ``rho`` (rho-zCDP) is set.
    ``float(cost)`` is that main parameter.
    """

    epsilon: float | None = None
    rho: float | None = None
    delta: float = 0.0

    @classmethod
    def _from_json(cls, data: dict[str, Any] | str) -> Cost:
        d = json.loads(data) if isinstance(data, str) else data
        if d["measure"] == "dp":
            return cls(epsilon=d["epsilon"], delta=d.get("delta", 0.0))
        return cls(rho=d["rho"], delta=d.get("delta", 0.0))

    @property
    def measure(self) -> str:
        """``"epsilon"`` for (epsilon, delta)-DP, ``"rho"`` for zCDP."""
        return "epsilon" if self.epsilon is not None else "rho"

    def __float__(self) -> float:
        return float(self.epsilon if self.epsilon is not None else self.rho)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"Cost({self.measure}={float(self):.6g}, delta={self.delta:.6g})"

    def to_dict(self) -> dict[str, Any]:
        """As the ledger writes it: ``{"measure": "dp", "epsilon": .., "delta": ..}``."""
        if self.epsilon is not None:
            return {"measure": "dp", "epsilon": self.epsilon, "delta": self.delta}
        return {"measure": "zcdp", "rho": self.rho, "delta": self.delta}


class BudgetStatus:
    """A persistent budget file's state, as ``pets budget show`` prints it.

    Attributes are read from the file after its hash chain is checked: :attr:`total`,
    :attr:`spent` (rounded up), :attr:`remaining` (rounded down), :attr:`entries` (every
    verified charge, in order) and :attr:`verified` (False when an entry was altered, in which
    case the budget refuses every further charge).
    """

    def __init__(self, data: dict[str, Any], path: Path) -> None:
        self._data = data
        self.path = path

    @property
    def dataset(self) -> str:
        """The dataset this is the budget of."""
        return self._data["dataset"]

    @property
    def total(self) -> Cost:
        """The whole budget, set once at :func:`init_budget`."""
        return Cost._from_json(self._data["total"])

    @property
    def spent(self) -> Cost:
        """What the verified charges spent (rounded up)."""
        return Cost._from_json(self._data["spent"])

    @property
    def remaining(self) -> Cost:
        """What is left (rounded down)."""
        return Cost._from_json(self._data["remaining"])

    @property
    def entries(self) -> list[dict[str, Any]]:
        """Every verified charge, in order, as the file records it."""
        return list(self._data["entries"])

    @property
    def store_id(self) -> str:
        """The file's identity: the hash of its first entry (charges name it)."""
        return self._data["store_id"]

    @property
    def head(self) -> str:
        """The hash of the last verified entry."""
        return self._data["head"]

    @property
    def verified(self) -> bool:
        """True when every entry of the file verifies."""
        return self._data.get("broken") is None

    def to_dict(self) -> dict[str, Any]:
        """The status as a dict (the JSON ``pets budget show --json`` would give)."""
        return json.loads(json.dumps(self._data))

    def entries_frame(self) -> pd.DataFrame:
        """:attr:`entries` as a pandas DataFrame, one row per charge."""
        pd = _pandas()
        return pd.json_normalize(self.entries) if self.entries else pd.DataFrame()

    def __repr__(self) -> str:
        return (
            f"<BudgetStatus {self.dataset!r}: spent {float(self.spent):.6g} of "
            f"{float(self.total):.6g} {self.total.measure}, {len(self.entries)} charges"
            f"{'' if self.verified else ', CHAIN BROKEN'}>"
        )

    def _repr_html_(self) -> str:
        from html import escape

        share = float(self.spent) / float(self.total) if float(self.total) else 0.0
        bar = (
            f'<div style="width:240px;height:10px;background:#ddd">'
            f'<div style="width:{min(share, 1.0) * 100:.1f}%;height:10px;background:#c33"></div>'
            "</div>"
        )
        return (
            f"<b>Budget of {escape(self.dataset)}</b> ({escape(str(self.path))})<br>"
            f"total {float(self.total):.6g} {self.total.measure}, spent "
            f"{float(self.spent):.6g}, remaining {float(self.remaining):.6g}; "
            f"{len(self.entries)} charges; chain "
            f"{'verified' if self.verified else '<b>BROKEN</b>'}{bar}"
        )


def init_budget(
    path: PathLike,
    *,
    dataset: str,
    epsilon: float | None = None,
    rho: float | None = None,
    delta: float = 0.0,
    note: str | None = None,
) -> BudgetStatus:
    """Create a dataset's persistent budget file, as ``pets budget init`` does.

    The budget is set once: an existing file is never overwritten. Sessions
    (``Session(..., budget=path)``), synthesisers and command-line runs then charge it
    under a file lock, so that together they never spend more than ``epsilon`` (or ``rho``).

    Args:
        path: The new file.
        dataset: What it is the budget of (e.g. ``"ae-2026-q4"``); recorded in every charge.
        epsilon: Total budget in (epsilon, delta)-DP; give exactly one of this and ``rho``.
        rho: Total budget in rho-zCDP.
        delta: Total delta.
        note: Free text kept in the file (who set it, on whose authority).

    Raises:
        PetsIOError: the file exists or cannot be written.
        InvalidParameterError: an invalid total, or an empty ``dataset``.
    """
    target = to_path(path, "path")
    eps = None if epsilon is None else _number(epsilon, "epsilon")
    r = None if rho is None else _number(rho, "rho")
    text = _native.budget_init(str(target), str(dataset), eps, r, _number(delta, "delta"), note)
    return BudgetStatus(json.loads(text), target)


def budget_status(path: PathLike) -> BudgetStatus:
    """Read a persistent budget file and check its hash chain, as ``pets budget show`` does.

    Raises:
        PetsIOError: the file is missing or unreadable.
    """
    target = to_path(path, "path")
    return BudgetStatus(json.loads(_native.budget_status(str(target))), target)


def _number(value: object, arg: str) -> float:
    return number(value, arg)


def _finite(value: object, arg: str, rule: str) -> float:
    return finite(value, arg, rule)


def _bounds(bounds: object, column: str) -> Bounds:
    if not isinstance(bounds, Sequence) or isinstance(bounds, str) or len(bounds) != 2:
        raise TypeError(f"bounds must be a (lower, upper) pair of numbers, not {bounds!r}")
    lo, hi = (_number(b, "bounds") for b in bounds)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InvalidParameterError(
            f"bounds for {column!r} are not valid: lower = {lo}, upper = {hi}; give finite "
            "bounds with lower <= upper, taken from public knowledge (not the data)"
        )
    return lo, hi


def _numeric_query(kind: str, column: object, bounds: object) -> dict[str, Any]:
    """The query of a sum, mean or variance of ``column`` clamped to ``bounds``."""
    if not isinstance(column, str):
        raise TypeError(f"column must be a column name (str), not {type(column)}")
    lo, hi = _bounds(bounds, column)
    return {"kind": kind, "column": column, "lower": lo, "upper": hi}


def _column_list(by: Sequence[str] | str, arg: str = "by") -> list[str]:
    cols = [by] if isinstance(by, str) else list(by)
    if not cols:
        raise InvalidParameterError(f"{arg} must name at least one column")
    if not all(isinstance(c, str) for c in cols):
        raise TypeError(f"{arg} must be a column name or a sequence of column names (str)")
    return cols


def _histogram_query(
    by: Sequence[str] | str, non_negative: bool, consistent_total: bool
) -> dict[str, Any]:
    return {
        "kind": "histogram",
        "dimensions": _column_list(by),
        "non_negative": bool(non_negative),
        "consistent_total": bool(consistent_total),
    }


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is an optional dependency
        raise ImportError("this view needs pandas: pip install pandas") from None
    return pd


class DpResult:
    """A differentially private release: the value(s), accuracy, cost and warnings.

    ``kind`` is ``"scalar"`` (count, sum, mean, variance), ``"quantiles"``, ``"table"``
    (histogram / contingency table over public domains) or ``"groups"`` (group-by with keys
    released above a threshold). :meth:`to_pandas` gives one row per released value with the
    accuracy columns ``half_width``, ``lower`` and ``upper`` (``P(|error| <= half_width) >=
    1 - alpha`` for each value; quantiles report a ``rank_tolerance`` instead).
    """

    __slots__ = ("_charged", "_data")

    def __init__(self, data: dict[str, Any], charged: Cost) -> None:
        """Wrap a released result (use a :class:`Session` query to make one)."""
        self._data = data
        self._charged = charged

    @property
    def kind(self) -> str:
        """``"scalar"``, ``"quantiles"``, ``"table"`` or ``"groups"``."""
        return self._data["type"]

    @property
    def query(self) -> str:
        """What was released, e.g. ``"mean(total_time_in_dept_min)"``."""
        if self.kind == "quantiles":
            first = self._data["results"][0]["query"]
            return (
                first.split("(", 1)[0].replace("quantile", "quantiles")
                + "("
                + (first.split("(", 1)[1].split(",")[0] + ")")
            )
        return self._data["query"]

    @property
    def value(self) -> float | list[float]:
        """The released scalar, or the released quantiles (a list), or the counts (a list)."""
        kind = self.kind
        if kind == "scalar":
            return self._data["value"]
        if kind == "quantiles":
            return [r["value"] for r in self._data["results"]]
        if kind == "table":
            return list(self._data["counts"])
        return [g["count"] for g in self._data["groups"]]

    @property
    def alpha(self) -> float | None:
        """Significance of the accuracy statement (0.05: 95%)."""
        if self.kind == "scalar" and self._data.get("interval"):
            return self._data["interval"]["alpha"]
        acc = self._accuracy()
        return None if acc is None else acc["alpha"]

    @property
    def half_width(self) -> float | None:
        """``a`` with ``P(|error| <= a) >= 1 - alpha`` for each released value (for a scalar
        with several noisy parts, e.g. a mean, half the interval's width).
        """  # noqa: D205
        if self.kind == "scalar" and self._data.get("interval"):
            iv = self._data["interval"]
            return (iv["upper"] - iv["lower"]) / 2
        acc = self._accuracy()
        return None if acc is None else acc["half_width"]

    @property
    def lower(self) -> float | None:
        """Lower end of the scalar's ``1 - alpha`` interval (scalars only)."""
        iv = self._data.get("interval") if self.kind == "scalar" else None
        return None if iv is None else iv["lower"]

    @property
    def upper(self) -> float | None:
        """Upper end of the scalar's ``1 - alpha`` interval (scalars only)."""
        iv = self._data.get("interval") if self.kind == "scalar" else None
        return None if iv is None else iv["upper"]

    @property
    def interval(self) -> tuple[float, float] | None:
        """``(lower, upper)`` for a scalar, ``None`` otherwise."""
        return None if self.lower is None else (self.lower, self.upper)  # type: ignore[return-value]

    @property
    def cost(self) -> Cost:
        """What this release was charged against the session's budget."""
        return self._charged

    @property
    def warnings(self) -> list[str]:
        """Warnings (row-level privacy, clamping, domains read from the data...)."""
        if self.kind == "quantiles":
            res = self._data["results"]
            return list(res[0].get("warnings", [])) if res else []
        return list(self._data.get("warnings", []))

    @property
    def ledger_entries(self) -> list[int]:
        """Indices of this release's entries in :meth:`Session.ledger`."""
        if self.kind == "quantiles":
            return [i for r in self._data["results"] for i in r["ledger_entries"]]
        return list(self._data["ledger_entries"])

    @property
    def threshold(self) -> int | None:
        """Group-by only: groups with noisy counts below this were not released."""
        return self._data.get("threshold")

    def _accuracy(self) -> dict[str, Any] | None:
        if self.kind == "quantiles":
            res = self._data["results"]
            return res[0].get("accuracy") if res else None
        return self._data.get("accuracy")

    def to_dict(self) -> dict[str, Any]:
        """The result as ``pets dp query`` writes it in its JSON output (a copy)."""
        return json.loads(json.dumps(self._data))

    def to_pandas(self) -> pd.DataFrame:
        """One row per released value with its accuracy columns (requires pandas).

        - scalar: ``query``, ``value``, ``half_width``, ``lower``, ``upper``, ``alpha``;
        - quantiles: ``quantile``, ``value``, ``rank_tolerance`` (the rank score of the
          released value is within this many rows of the best candidate's);
        - table / groups: one column per dimension (labels), ``count``, ``half_width``,
          ``lower``, ``upper``.
        """
        pd = _pandas()
        d = self._data
        kind = self.kind
        if kind == "scalar":
            return pd.DataFrame(
                [
                    {
                        "query": d["query"],
                        "value": d["value"],
                        "half_width": self.half_width,
                        "lower": self.lower,
                        "upper": self.upper,
                        "alpha": self.alpha,
                    }
                ]
            )
        if kind == "quantiles":
            rows = []
            for r in d["results"]:
                q = float(r["query"].rsplit(",", 1)[1].rstrip(")"))
                acc = r.get("accuracy") or {}
                rows.append(
                    {"quantile": q, "value": r["value"], "rank_tolerance": acc.get("half_width")}
                )
            return pd.DataFrame(rows, columns=["quantile", "value", "rank_tolerance"])
        a = self.half_width or 0.0
        dims = d["dimensions"]
        if kind == "table":
            import itertools

            keys = list(itertools.product(*d["labels"]))
            counts = d["counts"]
        else:
            keys = [tuple(g["key"]) for g in d["groups"]]
            counts = [g["count"] for g in d["groups"]]
        frame = pd.DataFrame(keys, columns=dims) if keys else pd.DataFrame(columns=dims)
        frame["count"] = pd.array(counts, dtype="int64")
        frame["half_width"] = float(a)
        frame["lower"] = frame["count"] - a
        frame["upper"] = frame["count"] + a
        return frame

    def to_polars(self) -> Any:
        """:meth:`to_pandas` as a polars DataFrame (requires polars)."""
        return pandas_to_polars(self.to_pandas())

    def __float__(self) -> float:
        if self.kind != "scalar":
            raise TypeError(f"a {self.kind} result is not a single number; use .to_pandas()")
        return float(self._data["value"])

    def __repr__(self) -> str:
        if self.kind == "scalar":
            return (
                f"<DpResult {self.query} = {self.value:.6g} "
                f"[{self.lower:.6g}, {self.upper:.6g}] at {1 - (self.alpha or 0):.0%}, "
                f"cost {self.cost!r}>"
            )
        n = len(self.value)  # type: ignore[arg-type]
        return f"<DpResult {self.kind} {self.query}: {n} values, cost {self.cost!r}>"

    def _repr_html_(self) -> str:
        return self.to_pandas()._repr_html_()


class Session:
    """A differential privacy session: one budget, its ledger, and the queries.

    Args:
        epsilon: Total budget in (epsilon, delta)-DP (Laplace-type noise).
        rho: Total budget in rho-zCDP (Gaussian-type noise); give exactly one of the two.
        delta: Delta budget, needed only by :meth:`group_by` (keys not known in advance),
            e.g. ``1e-8``; keep it well below 1 / (number of people).
        alpha: Significance of reported intervals (0.05: 95%).
        split_evenly_over: A query that names no share of its own gets ``1 / n`` of the total
            (epsilon or rho, and delta). Without it such a query spends **everything left**.
        schema: The declared :class:`~pets.Schema` for every query (a query's ``schema=``
            overrides it). Without one, the domains of grouping columns are read from the
            data: a :class:`~pets.DomainFromDataWarning` is given and results carry a
            ``DOMAIN_FROM_DATA`` warning, since the set of values present is not protected.
        id_column: Person-id column (e.g. ``"nhs_number"``) for person-level privacy.
        max_rows_per_person: Rows kept per person when ``id_column`` is set.
        seed: Seed for choosing the rows kept per person (not for noise).
        noise: ``"auto"`` (Laplace for epsilon, Gaussian for rho), ``"laplace"`` or
            ``"gaussian"`` (needs a rho budget).
        budget: A dataset's persistent budget file (``pets budget init``): the session's
            whole budget is charged to it now, under a file lock, so that sessions and
            command-line runs together never exceed the dataset's budget. Raises
            :class:`~pets.BudgetExceededError` (nothing charged) when it does not fit.

    Raises:
        InvalidParameterError: a budget that is not a finite number > 0, a delta outside
            [0, 1), both or neither of ``epsilon`` and ``rho``, an alpha outside (0, 1).
    """

    def __init__(
        self,
        epsilon: float | None = None,
        *,
        rho: float | None = None,
        delta: float = 0.0,
        alpha: float = 0.05,
        split_evenly_over: int | None = None,
        schema: Schema | None = None,
        id_column: str | None = None,
        max_rows_per_person: int = 1,
        seed: int = 0,
        noise: NoiseName = "auto",
        budget: PathLike | None = None,
    ) -> None:
        rule = "it must be a finite number greater than zero"
        eps = None if epsilon is None else _finite(epsilon, "epsilon", rule)
        r = None if rho is None else _finite(rho, "rho", rule)
        d = _finite(delta, "delta", "it must be at least 0 and below 1")
        a = _finite(alpha, "alpha", "it must be strictly between 0 and 1")
        # Zero is passed on: Rust refuses it with its own message.
        split = optional_integer(split_evenly_over, "split_evenly_over", 0, 2**32 - 1)
        store = None if budget is None else to_path(budget, "budget")
        self._native = _native.DpSession(eps, r, d, a, split, store)
        weak = self._native.weak_budget_warning()
        if weak is not None:
            warnings.warn(weak, UserWarning, stacklevel=2)
        self._defaults: dict[str, Any] = {}
        self._defaults = self._common(schema, id_column, max_rows_per_person, seed, noise)

    # -- budget ------------------------------------------------------------------------

    @property
    def total(self) -> Cost:
        """The session's total budget."""
        return Cost._from_json(self._native.total())

    @property
    def spent(self) -> Cost:
        """Spent so far (exact sum of the charges, rounded up)."""
        return Cost._from_json(self._native.spent())

    @property
    def remaining(self) -> Cost:
        """Left to spend (rounded down)."""
        return Cost._from_json(self._native.remaining())

    @property
    def default_share(self) -> Cost | None:
        """The share a query that names none gets (``None``: everything left)."""
        text = self._native.default_share()
        return None if text is None else Cost._from_json(text)

    @property
    def alpha(self) -> float:
        """Significance of reported intervals."""
        return self._native.alpha

    @property
    def budget_receipt(self) -> dict[str, Any] | None:
        """The receipt of the charge of this session's whole budget to the dataset's
        persistent budget file (``budget=``), or ``None``: which entry of the file, its hash,
        what is left of the dataset's budget.
        """  # noqa: D205
        text = self._native.budget_receipt()
        return None if text is None else json.loads(text)

    def ledger(self) -> dict[str, Any]:
        """The ledger: ``budget``, ``spent``, ``remaining``, ``spent_as_approx_dp`` and one
        entry per release (query, columns, mechanism, cost, charged, contribution bound,
        accuracy, warnings).
        """  # noqa: D205
        return json.loads(self._native.ledger())

    def ledger_json(self) -> str:
        """:meth:`ledger` as pretty JSON, as ``pets dp query`` writes it."""
        return self._native.ledger()

    def write_ledger(self, path: PathLike) -> Path:
        """Write :meth:`ledger_json` to ``path``; returns the path."""
        p = Path(to_path(path))
        p.write_text(self.ledger_json() + "\n", encoding="utf-8")
        return p

    # -- queries -----------------------------------------------------------------------

    def count(
        self,
        data: TableLike | PathLike,
        by: Sequence[str] | str | None = None,
        *,
        epsilon: float | None = None,
        rho: float | None = None,
        non_negative: bool = False,
        consistent_total: bool = False,
        **options: Any,
    ) -> DpResult:
        """The number of rows (after bounding), or counts by ``by`` over public domains.

        Without ``by`` a scalar; with ``by`` a histogram / contingency table with a cell for
        every combination of the columns' declared values (zeros included, so which
        combinations occur is not revealed); a dimension may be ``"hour(col)"`` or
        ``"weekday(col)"`` of a date/datetime column.

        Args:
            data: A pandas or polars DataFrame, a pyarrow Table, any object with
                ``__arrow_c_stream__`` (zero-copy), or a CSV/TSV/Parquet path.
            by: Columns to count by.
            epsilon: This query's share (epsilon budgets); default :attr:`default_share`.
            rho: This query's share (rho budgets).
            non_negative: Clamp noisy counts at zero (post-processing, free).
            consistent_total: Make the cells add up to a separately released total.
            **options: ``schema``, ``id_column``, ``max_rows_per_person``, ``seed``,
                ``noise``: override the session's.

        Raises:
            BudgetExceededError: the share does not fit in what is left (nothing is spent).
            SchemaError: a column is not in the data or the schema.
            InvalidParameterError: a share that is not > 0, or in the wrong measure.
        """
        if by is None:
            return self._run(data, {"kind": "count"}, epsilon, rho, None, options)
        query = _histogram_query(by, non_negative, consistent_total)
        return self._run(data, query, epsilon, rho, None, options)

    def histogram(
        self,
        data: TableLike | PathLike,
        by: Sequence[str] | str,
        *,
        epsilon: float | None = None,
        rho: float | None = None,
        non_negative: bool = False,
        consistent_total: bool = False,
        **options: Any,
    ) -> DpResult:
        """Counts over every combination of the public domains of ``by`` (see :meth:`count`).

        A k-way contingency table when ``by`` names k columns.
        """
        query = _histogram_query(by, non_negative, consistent_total)
        return self._run(data, query, epsilon, rho, None, options)

    contingency = histogram

    def group_by(
        self,
        data: TableLike | PathLike,
        by: Sequence[str] | str,
        *,
        epsilon: float | None = None,
        rho: float | None = None,
        delta: float | None = None,
        **options: Any,
    ) -> DpResult:
        """Counts by ``by`` releasing only groups whose noisy count clears a threshold.

        For keys not known to be public (e.g. which LSOAs occur): a stability histogram,
        (epsilon, delta)-DP, so the session needs a ``delta`` budget. Groups below
        :attr:`DpResult.threshold` are not released.

        Args:
            data: The table (see :meth:`count`).
            by: Columns to group by.
            epsilon: This query's share (epsilon budgets).
            rho: This query's share (rho budgets).
            delta: This query's share of delta (default: with the default share).
            **options: See :meth:`count`.
        """
        query = {"kind": "group_by", "dimensions": _column_list(by)}
        return self._run(data, query, epsilon, rho, delta, options)

    def sum(
        self,
        data: TableLike | PathLike,
        column: str,
        bounds: Bounds,
        *,
        epsilon: float | None = None,
        rho: float | None = None,
        **options: Any,
    ) -> DpResult:
        """The sum of ``column`` with each value clamped to ``bounds`` (public, not from data).

        Values are read exactly from the table (nulls skipped; a NaN is refused with
        :class:`~pets.DomainError`). Sensitivity ``max_rows_per_person * max(|lower|,
        |upper|)``.
        """
        return self._numeric("sum", data, column, bounds, epsilon, rho, options)

    def mean(
        self,
        data: TableLike | PathLike,
        column: str,
        bounds: Bounds,
        *,
        epsilon: float | None = None,
        rho: float | None = None,
        **options: Any,
    ) -> DpResult:
        """The mean of ``column`` clamped to ``bounds``: a noisy sum over a noisy count of the
        non-null values, with an interval that covers both.
        """  # noqa: D205
        return self._numeric("mean", data, column, bounds, epsilon, rho, options)

    def variance(
        self,
        data: TableLike | PathLike,
        column: str,
        bounds: Bounds,
        *,
        epsilon: float | None = None,
        rho: float | None = None,
        **options: Any,
    ) -> DpResult:
        """The variance of ``column`` clamped to ``bounds``."""
        return self._numeric("variance", data, column, bounds, epsilon, rho, options)

    def quantile(
        self,
        data: TableLike | PathLike,
        column: str,
        q: float | Sequence[float],
        bounds: Bounds,
        *,
        candidates: Sequence[float] | None = None,
        epsilon: float | None = None,
        rho: float | None = None,
        **options: Any,
    ) -> DpResult:
        """Quantiles of ``column`` by the exponential mechanism over candidates in ``bounds``.

        Candidates default to every integer in ``bounds`` for integer columns (up to 10,001),
        else the declared bin edges, else 1,001 evenly spaced points. The share is split
        evenly over the quantiles.
        """
        qs = [q] if isinstance(q, int | float) else list(q)
        lo, hi = _bounds(bounds, column)
        query: dict[str, Any] = {
            "kind": "quantile",
            "column": column,
            "quantiles": [_finite(x, "q", "a quantile must be between 0 and 1") for x in qs],
            "lower": lo,
            "upper": hi,
        }
        if candidates is not None:
            query["candidates"] = [
                _finite(x, "candidates", "candidates must be finite numbers") for x in candidates
            ]
        return self._run(data, query, epsilon, rho, None, options)

    def median(
        self,
        data: TableLike | PathLike,
        column: str,
        bounds: Bounds,
        *,
        epsilon: float | None = None,
        rho: float | None = None,
        **options: Any,
    ) -> DpResult:
        """The median of ``column`` (see :meth:`quantile`)."""
        return self.quantile(data, column, 0.5, bounds, epsilon=epsilon, rho=rho, **options)

    # -- plumbing ----------------------------------------------------------------------

    def _common(
        self,
        schema: Schema | None = None,
        id_column: str | None = None,
        max_rows_per_person: int = 1,
        seed: int = 0,
        noise: NoiseName = "auto",
    ) -> dict[str, Any]:
        if schema is not None and not isinstance(schema, Schema):
            raise TypeError(f"schema must be a pets.Schema or None, not {type(schema)}")
        if id_column is not None and not isinstance(id_column, str):
            raise TypeError("id_column must be a column name (str) or None")
        for name, v in (("max_rows_per_person", max_rows_per_person), ("seed", seed)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{name} must be an int, not {type(v).__qualname__}")
            low, high = (1, 2**32 - 1) if name == "max_rows_per_person" else (0, 2**64 - 1)
            if not low <= v <= high:
                raise InvalidParameterError(
                    f"{name} = {v} is not valid: it must be between {low} and {high}"
                )
        if noise not in ("auto", "laplace", "gaussian"):
            raise InvalidParameterError(
                f'noise must be "auto", "laplace" or "gaussian", not {noise!r}'
            )
        return {
            "schema": schema,
            "id_column": id_column,
            "max_rows_per_person": max_rows_per_person,
            "seed": seed,
            "noise": noise,
        }

    def _numeric(
        self,
        kind: str,
        data: Any,
        column: str,
        bounds: Bounds,
        epsilon: float | None,
        rho: float | None,
        options: dict[str, Any],
    ) -> DpResult:
        query = _numeric_query(kind, column, bounds)
        return self._run(data, query, epsilon, rho, None, options)

    def _share(self, epsilon: Any, rho: Any, delta: Any) -> str | None:
        rule = "a query's share must be a finite number greater than zero"
        if epsilon is not None and rho is not None:
            raise InvalidParameterError("give a query's share as epsilon or rho, not both")
        d = 0.0 if delta is None else _finite(delta, "delta", "it must be in [0, 1)")
        if epsilon is not None:
            return json.dumps(
                {"measure": "dp", "epsilon": _finite(epsilon, "epsilon", rule), "delta": d}
            )
        if rho is not None:
            return json.dumps({"measure": "zcdp", "rho": _finite(rho, "rho", rule), "delta": d})
        if delta is not None:
            raise InvalidParameterError(
                "give the query's epsilon (or rho) with its delta, or neither for the default share"
            )
        return None

    def _run(
        self,
        data: Any,
        query: dict[str, Any],
        epsilon: Any,
        rho: Any,
        delta: Any,
        options: dict[str, Any],
    ) -> DpResult:
        unknown = set(options) - set(self._defaults)
        if unknown:
            raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        opts = {**self._defaults, **options}
        opts = self._common(**opts)
        share = self._share(epsilon, rho, delta)
        schema: Schema | None = opts["schema"]
        # A path is read as the CLI reads it: the schema's csv section, the rest sniffed.
        table = table_or_file(data, "data", schema, stacklevel=3)

        def release() -> str:
            return self._native.query(
                table,
                None if schema is None else schema.to_json(),
                json.dumps(query),
                share,
                opts["noise"],
                opts["id_column"],
                opts["max_rows_per_person"],
                opts["seed"],
            )

        return self._result(release)

    def _result(self, release: Callable[[], str]) -> DpResult:
        """Run one native release and wrap it with what it charged, warning as needed.

        ``pets.spark`` releases through it too.
        """
        before = len(self.ledger()["entries"])
        text = release()
        ledger = self.ledger()
        charged = [e["charged"] for e in ledger["entries"][before:]]
        key = "epsilon" if ledger["budget"]["measure"] == "dp" else "rho"
        total = Cost._from_json(
            {
                "measure": ledger["budget"]["measure"],
                key: sum(c[key] for c in charged),
                "delta": sum(c.get("delta", 0.0) for c in charged),
            }
        )
        result = DpResult(json.loads(text), total)
        for w in result.warnings:
            if w.startswith("DOMAIN_FROM_DATA"):
                warnings.warn(w, DomainFromDataWarning, stacklevel=4)
        return result

    def __repr__(self) -> str:
        return f"<pets.dp.Session spent {self.spent!r} of {self.total!r}>"

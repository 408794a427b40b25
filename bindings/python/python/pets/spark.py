"""Scale-out on Spark: the same answers as one machine, computed partition by partition.

NHS secure data environments run Spark (Databricks). The functions here take a Spark
DataFrame and a declared :class:`~pets.Schema`, run the pets core on every partition through
``mapInArrow`` (each executor computes **exact partial counts** keyed by the schema's codes
and sends back one row of bytes), and merge the partials **exactly** at the driver, where
the core finishes the job. Codes depend only on the declared schema, never on the data, so
the partitions' counts line up and their sum is the whole table's: the result is the one
the single-machine function gives on the same rows, figure for figure.

- :func:`risk`: the disclosure-risk report of :func:`pets.risk.assess` (equivalence classes
  per partition, merged, then the same report code as ``pets risk``);
- :func:`count`: a differentially private count or contingency table, as
  :meth:`pets.dp.Session.count` (exact cell counts per partition, added up at the driver,
  where the session adds the noise once and charges its budget);
- :func:`sum`, :func:`mean`, :func:`variance`: as :meth:`pets.dp.Session.sum` and its
  siblings (each partition sends its row count and the sums of its clamped values as
  integers on a grid fixed by the public bounds, so they add up exactly, bit for bit, in
  any order; a floating-point sum would not);
- :func:`fit`: an MST synthesiser (:class:`pets.synth.MST`) fitted from the partitions'
  exact 1-way and 2-way counts over the synthesis domain, merged at the driver, where the
  fit measures them with noise once: the same measurements and model file as
  :meth:`pets.synth.MST.fit` on the whole table.

The driver checks the options and the DataFrame's columns and types against the schema
before any Spark job runs (a missing column raises :class:`~pets.SchemaError` naming it);
an error on an executor (a value outside its domain, say) comes back as the same typed pets
exception, with its column and row, raised at the driver. Partials hold exact counts of
private data: they stay in the cluster's memory and are never returned to the caller.

Needs ``pyspark`` (``pip install pyspark``; Java 17) and ``pets`` importable by the
executors' Python (in local mode, the driver's). Keep timestamps naive or the Spark session
in UTC (``spark.sql.session.timeZone=UTC``), so executors see the wall-clock times the
schema describes.

Example:
    >>> import pets, pets.datasets, pets.risk, pets.spark
    >>> table = pets.datasets.generate_ae(2_000, seed=1)
    >>> schema = pets.datasets.ae_schema()
    >>> columns = ["sex", "age_band", "diagnosis_group"]
    >>> df = spark.createDataFrame(table.select(columns).to_pandas()).repartition(3)
    >>> report = pets.spark.risk(df, schema, qi=["sex", "age_band"],
    ...                          sensitive="diagnosis_group", k=5)
    >>> one = pets.risk.assess(table.select(columns), qi=["sex", "age_band"],
    ...                        sensitive="diagnosis_group", k=5, schema=schema)
    >>> (report.n_records, report.k, report.verdict) == (one.n_records, one.k, one.verdict)
    True
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pets import _native
from pets import errors as _errors
from pets import risk as _risk
from pets._schema import Schema
from pets.errors import DomainFromDataWarning

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    import pets.dp
    import pets.synth

__all__ = ["count", "fit", "mean", "risk", "sum", "variance"]

#: The one column of the rows the executors send back.
_PARTIAL = "partial"
_ERROR = "error"
_OUT = f"{_PARTIAL} binary, {_ERROR} string"


def _arrow_schema(df: Any) -> pa.Schema:
    """The Arrow schema the executors' batches carry, from the DataFrame's Spark schema."""
    if not (hasattr(df, "mapInArrow") and hasattr(df, "schema")):
        raise TypeError(
            f"df must be a Spark DataFrame (pyspark.sql.DataFrame), not {type(df).__qualname__}"
        )
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(df.schema)


def _check_schema(schema: object) -> Schema:
    if not isinstance(schema, Schema):
        raise TypeError(
            "schema must be a pets.Schema (declared: partitions only line up on a declared "
            f"schema), not {type(schema).__qualname__}"
        )
    return schema


def _partitions(work: Callable[[pa.Table], bytes]) -> Callable[[Iterator[pa.RecordBatch]], Any]:
    """Make the ``mapInArrow`` function.

    It sends one row (partial bytes, or the pets error as JSON) per non-empty partition;
    empty partitions send nothing.
    """

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        kept = [b for b in batches if b.num_rows > 0]
        if not kept:
            return
        partial, error = None, None
        try:
            partial = work(pa.Table.from_batches(kept))
        except _errors.PetsError as e:
            error = json.dumps(
                {
                    "type": type(e).__name__,
                    "message": str(e),
                    "column": getattr(e, "column", None),
                    "row": getattr(e, "row", None),
                }
            )
        yield pa.RecordBatch.from_arrays(
            [pa.array([partial], pa.binary()), pa.array([error], pa.string())],
            names=[_PARTIAL, _ERROR],
        )

    return run


def _raise_executor_error(text: str) -> None:
    """Raise an executor's pets error at the driver as the same typed exception."""
    info = json.loads(text)
    cls = getattr(_errors, info["type"], _errors.PetsError)
    if not (isinstance(cls, type) and issubclass(cls, _errors.PetsError)):
        cls = _errors.PetsError
    err = cls(info["message"])
    err.column = info.get("column")
    err.row = info.get("row")
    raise err


def _collect(df: Any, columns: list[str], work: Callable[[pa.Table], bytes]) -> list[bytes]:
    """Run ``work`` on every partition of ``df`` and bring the partials to the driver.

    Only ``columns`` are read; the first executor error is raised here, typed.
    """
    rows = df.select(*columns).mapInArrow(_partitions(work), _OUT).collect()
    for r in rows:
        if r[_ERROR] is not None:
            _raise_executor_error(r[_ERROR])
    return [bytes(r[_PARTIAL]) for r in rows]


def risk(
    df: DataFrame,
    schema: Schema,
    qi: Sequence[str] | str | None = None,
    sensitive: str | None = None,
    *,
    k: int = 5,
    l: int | None = None,  # noqa: E741 (the measure is called l)
    t: float | None = None,
    c: float = 3.0,
    l_variant: _risk.LVariantName = "distinct",
    ground_distance: _risk.GroundDistanceName = "auto",
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
    generalise: Mapping[str, str | int] | None = None,
    hierarchy: Mapping[str, Sequence[str]] | None = None,
) -> _risk.RiskReport:
    """Assess the disclosure risk of a Spark DataFrame, as :func:`pets.risk.assess` does.

    Each partition's equivalence classes (class sizes and sensitive histograms, keyed by
    the schema's codes) are computed on the executors and merged exactly at the driver by
    adding counts; the report is then built by the same core code as ``pets risk``, so every
    figure equals :func:`pets.risk.assess` on the same rows (timings aside).

    Args:
        df: A Spark DataFrame holding (at least) the assessed columns; only those are read.
        schema: The declared :class:`~pets.Schema` (required: an inferred one would differ
            between partitions and read its domains from private data).
        qi: As :func:`pets.risk.assess`.
        sensitive: As :func:`pets.risk.assess`.
        k: As :func:`pets.risk.assess`.
        l: As :func:`pets.risk.assess`.
        t: As :func:`pets.risk.assess`.
        c: As :func:`pets.risk.assess`.
        l_variant: As :func:`pets.risk.assess`.
        ground_distance: As :func:`pets.risk.assess`.
        alpha: As :func:`pets.risk.assess`.
        beta: As :func:`pets.risk.assess`.
        delta: As :func:`pets.risk.assess`.
        risk_threshold: As :func:`pets.risk.assess`.
        max_records_at_risk: As :func:`pets.risk.assess`.
        max_average_risk: As :func:`pets.risk.assess`.
        sampling_fraction: As :func:`pets.risk.assess`.
        intruder: As :func:`pets.risk.assess`.
        scenarios: As :func:`pets.risk.assess`.
        suda: As :func:`pets.risk.assess`.
        what_if: As :func:`pets.risk.assess`.
        generalise: As :func:`pets.risk.assess`.
        hierarchy: As :func:`pets.risk.assess`.

    A population or intruder's table is not taken here (assess those on one machine).

    Returns:
        The :class:`~pets.risk.RiskReport`.

    Raises:
        TypeError: ``df`` is not a Spark DataFrame, or ``schema`` not a pets Schema.
        SchemaError: a column is missing from ``df`` or the schema, or of a type the
            schema's kind cannot take; raised before any Spark job runs.
        InvalidParameterError: a setting out of range (as :func:`pets.risk.assess`).
        DomainError, ParseError: a value on an executor outside its domain or unreadable
            (raised at the driver, with its column).
        EmptyInputError: the DataFrame has no rows.
    """
    schema = _check_schema(schema)
    config_json, levels, paths = _risk._arguments(
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
    schema_json = schema.to_json()
    empty = _arrow_schema(df).empty_table()
    columns = _native.risk_check(empty, schema_json, config_json, levels, paths, ground_distance)

    def work(table: pa.Table) -> bytes:
        return _native.risk_partial(table, schema_json, config_json, levels, paths, ground_distance)

    partials = _collect(df, columns, work)
    native = _native.risk_finish(
        partials, empty, schema_json, config_json, levels, paths, ground_distance
    )
    report = _risk.RiskReport(native)
    for w in report.warnings:
        if w.startswith("columns with domains read from data"):
            warnings.warn(w, DomainFromDataWarning, stacklevel=2)
    return report


def count(
    session: pets.dp.Session,
    df: DataFrame,
    schema: Schema,
    by: Sequence[str] | str | None = None,
    *,
    epsilon: float | None = None,
    rho: float | None = None,
    non_negative: bool = False,
    consistent_total: bool = False,
    noise: str | None = None,
) -> pets.dp.DpResult:
    """A differentially private count, or counts by ``by``, of a Spark DataFrame.

    As :meth:`pets.dp.Session.count` on the whole table: the executors count their rows
    (into every cell of the schema's code space when ``by`` is given: zeros included), the
    driver adds the partitions' exact counts and **the noise is added once**, by the
    session, which checks the share before any Spark job runs, charges its budget and
    ledgers the release exactly as for a single table. Rows are the privacy unit (a
    person's rows may sit in several partitions, so no per-person bound is applied; the
    result warns, as the single-machine session does without ``id_column``).

    Args:
        session: The :class:`pets.dp.Session` whose budget pays.
        df: A Spark DataFrame (only the columns of ``by`` are read).
        schema: The declared :class:`~pets.Schema` (required).
        by: Columns (or ``"hour(col)"``, ``"weekday(col)"``) to count by; ``None`` for the
            number of rows.
        epsilon: This query's share (epsilon budgets; default: the session's default share).
        rho: This query's share (rho budgets).
        non_negative: Clamp noisy counts at zero (post-processing, free).
        consistent_total: Make the cells add up to a separately released total.
        noise: ``"auto"``, ``"laplace"`` or ``"gaussian"`` (default: the session's).

    Returns:
        The :class:`~pets.dp.DpResult`.

    Raises:
        BudgetExceededError: the share does not fit (nothing is read or spent).
        SchemaError: a column missing from ``df`` or the schema (before any Spark job).
    """
    from pets.dp import _histogram_query

    query = (
        {"kind": "count"} if by is None else _histogram_query(by, non_negative, consistent_total)
    )
    return _release(session, df, schema, query, epsilon, rho, noise)


def sum(
    session: pets.dp.Session,
    df: DataFrame,
    schema: Schema,
    column: str,
    bounds: tuple[float, float],
    *,
    epsilon: float | None = None,
    rho: float | None = None,
    noise: str | None = None,
) -> pets.dp.DpResult:
    """A differentially private sum of ``column`` of a Spark DataFrame, clamped to ``bounds``.

    As :meth:`pets.dp.Session.sum` on the whole table: each partition clamps its values to
    the public ``bounds``, rounds them to a fixed-point grid chosen from the bounds alone
    and sends the integer sum (and its row count); the driver adds them, exactly, and the
    session adds the noise once. Rows are the privacy unit (as :func:`count`).

    Args:
        session: The :class:`pets.dp.Session` whose budget pays.
        df: A Spark DataFrame (only ``column`` is read).
        schema: The declared :class:`~pets.Schema` (required).
        column: A numeric column.
        bounds: Public ``(lower, upper)`` clamping bounds (not read from the data).
        epsilon: This query's share (epsilon budgets; default: the session's default share).
        rho: This query's share (rho budgets).
        noise: ``"auto"``, ``"laplace"`` or ``"gaussian"`` (default: the session's).

    Returns:
        The :class:`~pets.dp.DpResult`.

    Raises:
        BudgetExceededError: the share does not fit (nothing is read or spent).
        SchemaError: ``column`` missing from ``df`` or the schema (before any Spark job).
        InvalidParameterError: bounds not finite or ``lower > upper``.
        DomainError: a NaN or infinite value on an executor (raised at the driver, with
            its column).
    """
    from pets.dp import _numeric_query

    query = _numeric_query("sum", column, bounds)
    return _release(session, df, schema, query, epsilon, rho, noise)


def mean(
    session: pets.dp.Session,
    df: DataFrame,
    schema: Schema,
    column: str,
    bounds: tuple[float, float],
    *,
    epsilon: float | None = None,
    rho: float | None = None,
    noise: str | None = None,
) -> pets.dp.DpResult:
    """A differentially private mean of ``column`` of a Spark DataFrame (see :func:`sum`).

    As :meth:`pets.dp.Session.mean`: a noisy sum of centred values over a noisy count of
    the non-null values, both from the partitions' exact integer sums, with an interval
    covering both. Arguments, result and errors as :func:`sum`.
    """
    from pets.dp import _numeric_query

    query = _numeric_query("mean", column, bounds)
    return _release(session, df, schema, query, epsilon, rho, noise)


def variance(
    session: pets.dp.Session,
    df: DataFrame,
    schema: Schema,
    column: str,
    bounds: tuple[float, float],
    *,
    epsilon: float | None = None,
    rho: float | None = None,
    noise: str | None = None,
) -> pets.dp.DpResult:
    """A differentially private variance of ``column`` of a Spark DataFrame (see :func:`sum`).

    As :meth:`pets.dp.Session.variance`. Arguments, result and errors as :func:`sum`.
    """
    from pets.dp import _numeric_query

    query = _numeric_query("variance", column, bounds)
    return _release(session, df, schema, query, epsilon, rho, noise)


def _release(
    session: pets.dp.Session,
    df: Any,
    schema: object,
    query: dict[str, Any],
    epsilon: float | None,
    rho: float | None,
    noise: str | None,
) -> pets.dp.DpResult:
    """Check at the driver, compute the partials on the executors, release at the driver."""
    from pets.dp import Session as _Session

    if not isinstance(session, _Session):
        raise TypeError(f"session must be a pets.dp.Session, not {type(session).__qualname__}")
    schema = _check_schema(schema)
    opts = session._common(schema=schema, noise=noise or session._defaults["noise"])
    share = session._share(epsilon, rho, None)
    schema_json, query_json = schema.to_json(), json.dumps(query)
    empty = _arrow_schema(df).empty_table()
    # The share against the budget, the query and the columns, before any Spark job.
    columns = session._native.check_merged(empty, schema_json, query_json, share, opts["noise"])

    def work(table: pa.Table) -> bytes:
        return _native.dp_partial(table, schema_json, query_json)

    # A count reads no column: one (any) column carries the rows.
    partials = _collect(df, columns or df.columns[:1], work)
    return session._result(
        lambda: session._native.query_merged(
            partials, empty, schema_json, query_json, share, opts["noise"]
        )
    )


def fit(synthesiser: pets.synth.MST, df: DataFrame) -> pets.synth.MST:
    """Fit an MST synthesiser to a Spark DataFrame, as :meth:`pets.synth.MST.fit` does.

    MST reads the data only through exact counts that it then measures with noise: every
    synthesised column's 1-way counts and the 2-way counts of candidate pairs. Each
    partition computes them over the synthesis domain (derived calendar parts included;
    pairs on the columns' full declared code spaces, sparse), the driver adds them up
    exactly and fits once: the same measurements, budget charge (``budget=``) and model file
    as a fit on the whole table. Rows are the privacy unit (a person's rows may sit in
    several partitions), so ``person_id`` is refused; so are PrivBayes and AIM (they choose
    marginals from the data as they go) and an undeclared schema.

    Args:
        synthesiser: A :class:`pets.synth.MST` with a declared ``schema`` (its settings are
            used as they are).
        df: A Spark DataFrame holding the synthesised columns (only those are read).

    Returns:
        ``synthesiser``, fitted (samples are pyarrow Tables unless ``kind=`` says otherwise).

    Raises:
        TypeError: ``synthesiser`` is not a :class:`pets.synth.MST` or ``df`` not a Spark
            DataFrame.
        InvalidParameterError: PrivBayes or AIM, a ``person_id``, no declared schema, or a
            setting out of range; raised before any Spark job runs.
        SchemaError: a synthesised column missing from ``df`` or of another type (before
            any Spark job).
        DomainError, ParseError: a value on an executor outside its domain or unreadable
            (raised at the driver, with its column).
        EmptyInputError, InvalidParameterError: the DataFrame has no rows.
    """
    from pets.synth import MST

    if not isinstance(synthesiser, MST):
        raise TypeError(
            f"synthesiser must be a pets.synth.MST, not {type(synthesiser).__qualname__}"
        )
    empty = _arrow_schema(df).empty_table()
    # Plain settings (the executors unpickle them), then the core's three steps.
    args, kwargs = synthesiser._fit_arguments()
    # Options, method, schema, columns and types, before any Spark job.
    columns = _native.fit_mst(empty, *args, **kwargs, stage="check")

    def work(table: pa.Table) -> bytes:
        return _native.fit_mst(table, *args, **kwargs, stage="partial")

    partials = _collect(df, columns, work)
    native = _native.fit_mst(empty, *args, **kwargs, stage="finish", partials=partials)
    return synthesiser._fitted_from(native, "pyarrow")

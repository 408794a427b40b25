"""Federated aggregation: trusts keep their rows; one DP answer over all of them.

The Python face of ``pets federated simulate`` (Rust ``pets::federated``). :func:`simulate`
runs one federated release with every trust, the aggregator(s) and the collector in this
process: each trust computes its counts over the declared schema's public code space, adds
its share of the noise, and the counts are summed by

- ``protocol="secagg"``: secure aggregation by pairwise masking (Bonawitz et al. 2017), one
  aggregator who learns only the noisy sum; up to ``n - threshold`` trusts may drop out; each
  trust adds a share of distributed discrete Gaussian noise (Kairouz, Liu & Steinke 2021);
- ``protocol="prio3"``: Prio3 with two non-colluding aggregators (validity proofs stop a trust
  pushing an out-of-range count into the total); each aggregator adds discrete Gaussian noise.

The network service from a notebook: :func:`node` runs this trust's node agent against a
running ``pets federated aggregator`` and :func:`submit` submits a job and returns the same
:class:`FederatedResult` (the doors of ``pets federated node`` and ``submit``).

The guarantee is person-level (with ``person_id``) and assumes each person attends at most
``max_trusts_per_person`` trusts (a public bound; 1 when not given, with a warning).

Sums and means of a numeric column with public bounds (``values``, secure aggregation only):
each trust clamps every kept value to the bounds, rounds it to a public fixed-point grid and
adds its cells; a mean's noisy sum and noisy count travel in the one round. Write them
``"sum(COLUMN, LOWER, UPPER)"`` or ``"mean(COLUMN, LOWER, UPPER)"``, optionally followed by
``" by DIM, DIM"`` (or build the text with :func:`sum_of` / :func:`mean_of`).

Example:
    >>> import pets, pets.datasets, pets.federated
    >>> data = pets.datasets.generate_ae(4_000, seed=3)
    >>> schema = pets.datasets.ae_schema()
    >>> result = pets.federated.simulate(
    ...     data=data, split_by="provider_code", groups=3, schema=schema,
    ...     tables=[["sex"]], rho=0.5, max_trusts_per_person=1)
    >>> result.counted
    ['trust_1', 'trust_2', 'trust_3']
    >>> result.frame(0).column_names
    ['sex', 'count']
"""

from __future__ import annotations

import json
import os
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pets import _native
from pets._convert import (
    U32_MAX,
    U64_MAX,
    PathLike,
    TableLike,
    integer,
    is_path,
    number,
    optional_integer,
    pandas_to_polars,
    to_arrow,
    to_path,
)
from pets._progress import bars
from pets._schema import Schema

if TYPE_CHECKING:
    from pets.synth import SynthModel

__all__ = [
    "FederatedModel",
    "FederatedResult",
    "NodeAgent",
    "fit",
    "mean_of",
    "node",
    "rate_of",
    "simulate",
    "submit",
    "sum_of",
    "train",
]


def _source(obj: TableLike | PathLike, arg: str) -> Any:
    return to_path(obj, arg) if is_path(obj) else to_arrow(obj, arg)


def _value(kind: str, column: str, lower: float, upper: float, by: Sequence[str] | str) -> str:
    if not isinstance(column, str):
        raise TypeError(f"column must be a str, not {type(column).__qualname__}")

    def text(x: float, arg: str) -> str:
        v = float(number(x, arg))
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)

    lo, hi = text(lower, "lower"), text(upper, "upper")
    dims = [d.strip() for d in by.split(",")] if isinstance(by, str) else list(by)
    spec = f"{kind}({column}, {lo}, {hi})"
    return spec + (" by " + ", ".join(d for d in dims if d) if any(dims) else "")


def sum_of(column: str, lower: float, upper: float, by: Sequence[str] | str = ()) -> str:
    """The ``values`` text of a sum of ``column`` clamped to public ``[lower, upper]``.

    Example:
        >>> from pets.federated import sum_of
        >>> sum_of("total_time_in_dept_min", 0, 720, by=["age_band"])
        'sum(total_time_in_dept_min, 0, 720) by age_band'
    """
    return _value("sum", column, lower, upper, by)


def mean_of(column: str, lower: float, upper: float, by: Sequence[str] | str = ()) -> str:
    """The ``values`` text of a mean of ``column`` clamped to public ``[lower, upper]``."""
    return _value("mean", column, lower, upper, by)


def rate_of(condition: str, by: Sequence[str] | str = ()) -> str:
    """The ``values`` text of a rate: the mean of ``condition``'s 0/1 value, per cell of ``by``.

    The release compares every cell with the pooled rate of its peers (the cells sharing every
    ``by`` dimension but the last) by funnel limits (``frame``'s
    ``funnel`` column). Conditions: ``COL > NUMBER`` (``>=``, ``<``, ``<=``, ``=``, ``!=``) on
    integer and float columns, ``COL = LABEL`` or ``COL in (A, B)`` on categorical ones.

    Example:
        >>> from pets.federated import rate_of
        >>> rate_of("total_time_in_dept_min > 240", by="provider_code")
        'mean(total_time_in_dept_min > 240) by provider_code'
    """
    if not isinstance(condition, str):
        raise TypeError(f"condition must be a str, not {type(condition).__qualname__}")
    dims = [d.strip() for d in by.split(",")] if isinstance(by, str) else list(by)
    grouped = " by " + ", ".join(d for d in dims if d) if any(dims) else ""
    return f"mean({condition.strip()})" + grouped


def simulate(
    trusts: Mapping[str, TableLike | PathLike] | None = None,
    *,
    schema: Schema,
    rho: float,
    tables: Sequence[Sequence[str] | str] = (),
    values: Sequence[str] = (),
    data: TableLike | PathLike | None = None,
    split_by: str | None = None,
    groups: int | None = None,
    protocol: Literal["secagg", "prio3"] = "secagg",
    threshold: int | None = None,
    colluders: int = 0,
    person_id: str | None = None,
    max_rows_per_person: int = 1,
    max_trusts_per_person: int | None = None,
    max_count: int | None = None,
    drops: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    seed: int = 0,
    budget: PathLike | None = None,
) -> FederatedResult:
    """One federated DP release over several trusts' tables (``pets federated simulate``).

    Args:
        trusts: Trust name to its table (DataFrame, pyarrow Table, Arrow stream) or file path.
        schema: The declared schema every trust encodes against.
        rho: The release's budget, rho-zCDP.
        tables: Each table's dimensions (column names, ``hour(col)``, ``weekday(col)``, or
            one comma-separated string); none (and no ``values``): the count of rows.
        values: Sums and means, each ``"sum(COLUMN, LOWER, UPPER)"`` or
            ``"mean(COLUMN, LOWER, UPPER)"``, optionally followed by ``" by DIM, DIM"``;
            bounds are public (not read from the data). Secure aggregation only.
        data: Instead of ``trusts``: one table split into trusts by ``split_by``.
        split_by: The column whose values become trusts.
        groups: With ``split_by``: deal the values round-robin into this many trusts.
        protocol: ``"secagg"`` or ``"prio3"``.
        threshold: Secure aggregation: trusts that must survive (default a strict majority).
        colluders: Secure aggregation: trusts that may collude with the aggregator.
        person_id: Person-id column (person-level privacy); without it, per-row privacy.
        max_rows_per_person: Rows kept per person at each trust.
        max_trusts_per_person: Trusts one person may attend (public bound).
        max_count: Prio3: the largest count one trust may put in one cell.
        drops: Fault injection: trust name to ``before-keys``, ``before-shares``,
            ``before-masked`` or ``before-unmask``.
        alpha: Significance of the reported half-width.
        seed: Seed of each trust's choice of kept rows.
        budget: A persistent budget file (``pets budget init``) to charge the release's cost
            to, after every data check and before any trust draws noise.
    """
    parsed = []
    for t in tables:
        cols = [c.strip() for c in t.split(",")] if isinstance(t, str) else list(t)
        if not all(isinstance(c, str) for c in cols):
            raise TypeError("each table is a list of column names (str)")
        parsed.append([c for c in cols if c])
    if not isinstance(schema, Schema):
        raise TypeError(f"schema must be a pets.Schema, not {type(schema).__qualname__}")
    if isinstance(values, str) or not all(isinstance(v, str) for v in values):
        raise TypeError("values is a list of str, e.g. ['mean(col, 0, 10) by sex']")
    if not isinstance(protocol, str):
        raise TypeError(f"protocol must be a str, not {type(protocol).__qualname__}")
    pairs = [(str(k), _source(v, f"trusts[{k!r}]")) for k, v in (trusts or {}).items()]
    # Ranges of the native arguments (usize, u32, u64): the core checks what is valid.
    text = _native.federated_simulate(
        pairs,
        schema.to_json(),
        parsed,
        number(rho, "rho"),
        protocol,
        optional_integer(threshold, "threshold", 0, U32_MAX),
        integer(colluders, "colluders", 0, U32_MAX),
        person_id,
        integer(max_rows_per_person, "max_rows_per_person", 0, U32_MAX),
        optional_integer(max_trusts_per_person, "max_trusts_per_person", 0, U32_MAX),
        optional_integer(max_count, "max_count", 0, U64_MAX),
        {str(k): str(v) for k, v in (drops or {}).items()},
        number(alpha, "alpha"),
        integer(seed, "seed", 0, U64_MAX),
        None if data is None else _source(data, "data"),
        split_by,
        optional_integer(groups, "groups", 0, U32_MAX),
        None if budget is None else to_path(budget, "budget"),
        list(values),
    )
    result = FederatedResult(json.loads(text))
    for w in result.warnings:
        warnings.warn(w, UserWarning, stacklevel=2)
    return result


def fit(
    trusts: Mapping[str, TableLike | PathLike] | None = None,
    *,
    schema: Schema,
    epsilon: float,
    delta: float = 1e-9,
    data: TableLike | PathLike | None = None,
    split_by: str | None = None,
    groups: int | None = None,
    protocol: Literal["secagg", "prio3"] = "secagg",
    threshold: int | None = None,
    colluders: int = 0,
    person_id: str | None = None,
    max_rows_per_person: int = 1,
    max_trusts_per_person: int | None = None,
    max_count: int | None = None,
    drops: Mapping[str, str] | None = None,
    seed: int = 0,
    budget: PathLike | None = None,
    max_values: int = 128,
    selection_share: float | None = None,
    iters: int | None = None,
    progress: bool | None = None,
) -> Any:
    """Fit an MST synthesiser across trusts without pooling a row (``pets federated fit``).

    Three federated rounds, each a secure aggregation with distributed noise (or Prio3):
    every column's 1-way counts, every candidate pair's counts on the merged codes (the tree
    is chosen from these noisy tables), then the tree's pairs. The whole fit is
    (``epsilon``, ``delta``)-DP per person and charged once, before any noise is drawn.

    Args:
        trusts: Trust name to its table (DataFrame, pyarrow Table, Arrow stream) or file path.
        schema: The declared schema every trust encodes against.
        epsilon: Target epsilon of the whole fit.
        delta: Target delta.
        data: Instead of ``trusts``: one table split into trusts by ``split_by``.
        split_by: The column whose values become trusts.
        groups: With ``split_by``: deal the values round-robin into this many trusts.
        protocol: ``"secagg"`` or ``"prio3"``.
        threshold: Secure aggregation: trusts that must survive (default a strict majority).
        colluders: Secure aggregation: trusts that may collude with the aggregator.
        person_id: Person-id column (person-level privacy); without it, per-row privacy.
        max_rows_per_person: Rows kept per person at each trust.
        max_trusts_per_person: Trusts one person may attend (public bound).
        max_count: Prio3: the largest count one trust may put in one cell.
        drops: Fault injection: trust name to a stage it drops out at, in every round.
        seed: Seed of each trust's choice of kept rows.
        budget: A persistent budget file to charge the fit's cost to, before any round.
        max_values: Integer, date and datetime columns with more values are coarsened.
        selection_share: Share of rho for the round the tree is chosen from (default 0.1).
        iters: Mirror-descent iterations of the inference (default: MST's work budget).
        progress: A progress bar (tqdm): ``None`` when interactive, ``True``, ``False``.

    Returns:
        A :class:`pets.synth.SynthModel` (method ``mst (federated)``), sampled like any model;
        its ``federated_rounds`` attribute lists each round (tables, rho, trusts counted,
        bytes) and the ledger.

    Example:
        >>> import pets, pets.datasets, pets.federated
        >>> data = pets.datasets.generate_ae(3_000, seed=4)
        >>> model = pets.federated.fit(
        ...     data=data, split_by="provider_code", groups=3,
        ...     schema=pets.datasets.ae_schema(), epsilon=1.0, progress=False)
        >>> model.method, len(model.federated_rounds["rounds"])
        ('mst (federated)', 3)
    """
    from pets.synth import SynthModel

    if not isinstance(schema, Schema):
        raise TypeError(f"schema must be a pets.Schema, not {type(schema).__qualname__}")
    if not isinstance(protocol, str):
        raise TypeError(f"protocol must be a str, not {type(protocol).__qualname__}")
    pairs = [(str(k), _source(v, f"trusts[{k!r}]")) for k, v in (trusts or {}).items()]
    with bars(progress, "federated fit") as callback:
        native, rounds = _native.federated_fit(
            pairs,
            schema.to_json(),
            number(epsilon, "epsilon"),
            number(delta, "delta"),
            protocol,
            optional_integer(threshold, "threshold", 0, U32_MAX),
            integer(colluders, "colluders", 0, U32_MAX),
            person_id,
            integer(max_rows_per_person, "max_rows_per_person", 0, U32_MAX),
            optional_integer(max_trusts_per_person, "max_trusts_per_person", 0, U32_MAX),
            optional_integer(max_count, "max_count", 0, U64_MAX),
            {str(k): str(v) for k, v in (drops or {}).items()},
            integer(seed, "seed", 0, U64_MAX),
            None if data is None else _source(data, "data"),
            split_by,
            optional_integer(groups, "groups", 0, U32_MAX),
            None if budget is None else to_path(budget, "budget"),
            integer(max_values, "max_values", 0, U32_MAX),
            None if selection_share is None else number(selection_share, "selection_share"),
            optional_integer(iters, "iters", 0, U32_MAX),
            callback,
        )
    model = SynthModel(native)
    model.federated_rounds = json.loads(rounds)
    return model


def _config(config: Mapping[str, Any] | PathLike, arg: str) -> tuple[str | None, str | None]:
    """A configuration as ``(path, None)`` for a TOML file or ``(None, json)`` for a dict."""
    if isinstance(config, Mapping):
        return None, json.dumps(dict(config), default=os.fspath)
    return to_path(config, arg), None


class NodeAgent:
    """A trust's node agent running in this process (:func:`node` with ``background=True``).

    The agent polls the aggregator, joins each round with this trust's table and runs its
    side of the protocol; its rows never leave. :meth:`stop` makes it leave (the round it is
    in counts it as dropped); :meth:`wait` blocks until it has taken part in its ``rounds``.
    Also a context manager that stops the agent on exit; dropping the last reference to it
    stops it too.
    """

    def __init__(self, native: Any) -> None:
        self._native = native

    def wait(self, timeout: float | None = None) -> list[dict[str, Any]] | None:
        """Wait until the agent is done (or ``timeout`` seconds); its rounds, or ``None``.

        Each round: ``round`` (the id, hex), ``party`` (its party id; 0 in Prio3 rounds) and
        ``dropped_at`` (a stage, with fault injection, else ``None``). Ctrl-C stops the agent
        and raises ``KeyboardInterrupt``; an error of the agent is raised here.
        """
        text = self._native.wait(None if timeout is None else float(number(timeout, "timeout")))
        return None if text is None else json.loads(text)

    def stop(self) -> None:
        """Stop the agent (it leaves its round; nothing more is sent) and wait for it."""
        self._native.stop()

    @property
    def running(self) -> bool:
        """Whether the agent is still running."""
        return self._native.running

    def __enter__(self) -> NodeAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<NodeAgent {'running' if self.running else 'stopped'}>"


def node(
    data: TableLike | PathLike,
    *,
    schema: Schema,
    config: Mapping[str, Any] | PathLike,
    background: bool = False,
) -> list[dict[str, Any]] | NodeAgent:
    """Run this trust's node agent of a federation (``pets federated node``).

    The agent waits for the aggregator to announce a round, computes this trust's counts over
    ``data`` against ``schema`` (the same local aggregate as :func:`simulate`), joins, and
    runs its side of secure aggregation (or of Prio3: one report share to each aggregator).
    Its rows never leave this process; its counts leave only with its noise share added and
    masked (or secret-shared).

    Args:
        data: This trust's table (DataFrame, pyarrow Table, Arrow stream) or file path.
        schema: The schema this trust declares its table with.
        config: The node's configuration: a ``node.toml`` path, or a dict of the same keys
            (``aggregator``, ``helper`` and ``helper_name`` (Prio3: the helper's address and
            the certificate name it must present), ``person_id``, ``rounds``, ``poll_ms``,
            ``wait_seconds``, ``allow_exact``, ``tls = {"cert", "key", "ca"}``; paths
            relative to the working directory).
        background: Return a :class:`NodeAgent` at once instead of blocking.

    Returns:
        The rounds it took part in (:meth:`NodeAgent.wait`), or with ``background=True`` the
        running agent. Blocking, Ctrl-C stops the agent and raises ``KeyboardInterrupt``.
    """
    if not isinstance(schema, Schema):
        raise TypeError(f"schema must be a pets.Schema, not {type(schema).__qualname__}")
    path, text = _config(config, "config")
    agent = NodeAgent(_native.federated_node(_source(data, "data"), schema.to_json(), path, text))
    if background:
        return agent
    try:
        return agent.wait() or []
    finally:
        agent.stop()


def submit(
    job: Mapping[str, Any] | PathLike,
    *,
    config: Mapping[str, Any] | PathLike | None = None,
) -> FederatedResult | FederatedModel | SynthModel:
    """Submit a job to a federation's aggregator; wait for the outcome (``pets federated submit``).

    The aggregator runs the rounds with the trusts' node agents (:func:`node`, or ``pets
    federated node``); for a Prio3 job this process is the collector, adding the two
    aggregators' noisy shares itself.

    Args:
        job: A submission file's path: ``job.toml`` (the connection and a ``[job]`` table:
            one round), ``fit.toml`` (a ``[fit]`` table: a federated MST fit, its three
            rounds run in turn) or ``train.toml`` (a ``[train]`` table: federated averaging,
            one round a step); or one round's job as a dict of the ``[job]`` table's keys
            (``tables``, ``values``, ``rho``, ``protocol``, ``max_count``, ``threshold``,
            ...).
        config: Where to send a ``[job]`` and as whom: a TOML path or a dict with
            ``aggregator``, ``helper`` and ``helper_name`` (Prio3: checked in a handshake
            before the job is sent), ``wait_seconds`` and ``tls = {"cert", "key", "ca"}``.
            Required with a dict job; with a job file, its ``[job]`` table is sent over this
            connection instead of the file's own.

    Returns:
        For a ``[job]``, a :class:`FederatedResult`, as :func:`simulate` returns (an exact
        check, with ``exact = true`` in the job, has ``exact`` true and no noise). For a
        ``[fit]``, a :class:`pets.synth.SynthModel` (method ``mst (federated)``), as
        :func:`fit` returns, with ``federated_rounds``. For a ``[train]``, a
        :class:`FederatedModel`, as :func:`train` returns.
    """
    if isinstance(job, Mapping):
        if config is None:
            raise TypeError("a job given as a dict needs config= (aggregator, helper, tls)")
        cpath, ctext = _config(config, "config")
        out = _native.federated_submit(None, json.dumps(dict(job)), cpath, ctext)
    elif config is None:
        out = _native.federated_submit(to_path(job, "job"), None, None, None)
    else:
        with open(to_path(job, "job"), "rb") as f:
            table = tomllib.load(f)
        cpath, ctext = _config(config, "config")
        table = table.get("job", table)
        out = _native.federated_submit(None, json.dumps(table), cpath, ctext)
    kind, text, native, schema_json = out
    if kind == "fit":
        from pets.synth import SynthModel

        model = SynthModel(native)
        model.federated_rounds = json.loads(text)
        return model
    if kind == "train":
        return FederatedModel(text, Schema.from_json(schema_json))
    result = FederatedResult(json.loads(text))
    for w in result.warnings:
        warnings.warn(w, UserWarning, stacklevel=2)
    return result


def train(
    trusts: Mapping[str, TableLike | PathLike] | None = None,
    *,
    schema: Schema,
    target: str,
    epsilon: float,
    delta: float = 1e-9,
    positive: str | None = None,
    features: Sequence[str] | None = None,
    rounds: int = 50,
    clip: float | None = None,
    learning_rate: float = 0.2,
    l2: float = 1e-4,
    data: TableLike | PathLike | None = None,
    split_by: str | None = None,
    groups: int | None = None,
    protocol: Literal["secagg"] = "secagg",
    threshold: int | None = None,
    colluders: int = 0,
    person_id: str | None = None,
    max_rows_per_person: int = 1,
    max_trusts_per_person: int | None = None,
    drops: Mapping[str, str] | None = None,
    seed: int = 0,
    budget: PathLike | None = None,
    progress: bool | None = None,
) -> FederatedModel:
    """Train a logistic regression across trusts by federated averaging (``pets federated train``).

    Each round every trust sums its rows' gradients, each clipped to L2 norm ``clip`` on a
    fixed-point grid, and the sum crosses by secure aggregation with distributed discrete
    Gaussian noise; the coordinator updates the weights (Adam) from the noisy average and
    sends them with the next round. The run is (``epsilon``, ``delta``)-DP per person: rho
    is split equally over the rounds, each charged before any noise is drawn.

    Args:
        trusts: Trust name to its table (DataFrame, pyarrow Table, Arrow stream) or file path.
        schema: The declared schema every trust encodes against (the encoding depends on it
            alone: one-hot categoricals, numbers scaled by their declared bounds).
        target: The binary target, a categorical column (e.g. ``"admitted"``).
        epsilon: Target epsilon of the whole run.
        delta: Target delta.
        positive: The target's positive value (default: the second of two declared values).
        features: Feature columns (default: categoricals of at most 64 values and numbers,
            except the target and direct identifiers).
        rounds: Rounds (each spends rho / rounds).
        clip: Clip norm of each row's gradient (default: the largest feature norm).
        learning_rate: Step size of the coordinator's Adam.
        l2: L2 penalty on the non-intercept weights.
        data: Instead of ``trusts``: one table split into trusts by ``split_by``.
        split_by: The column whose values become trusts.
        groups: With ``split_by``: deal the values round-robin into this many trusts.
        protocol: ``"secagg"`` (Prio3 is refused for signed gradients).
        threshold: Trusts that must survive each round (default a strict majority).
        colluders: Trusts that may collude with the aggregator.
        person_id: Person-id column (person-level privacy); without it, per-row privacy.
        max_rows_per_person: Rows kept per person at each trust.
        max_trusts_per_person: Trusts one person may attend (public bound).
        drops: Fault injection: trust name to a stage it drops out at, in every round.
        seed: Seed of each trust's choice of kept rows.
        budget: A persistent budget file to charge (epsilon, delta) to, before any round.
        progress: A progress bar (tqdm): ``None`` when interactive, ``True``, ``False``.

    Returns:
        A :class:`FederatedModel`: weights by feature, each round's noisy loss, the ledger.

    Example:
        >>> import pets, pets.datasets, pets.federated
        >>> data = pets.datasets.generate_ae(3_000, seed=4)
        >>> model = pets.federated.train(
        ...     data=data, split_by="provider_code", groups=3, target="admitted",
        ...     features=["age_band", "acuity"], schema=pets.datasets.ae_schema(),
        ...     epsilon=1.0, rounds=5, progress=False)
        >>> len(model.rounds), len(model.ledger["entries"])
        (5, 5)
    """
    if not isinstance(schema, Schema):
        raise TypeError(f"schema must be a pets.Schema, not {type(schema).__qualname__}")
    if not isinstance(target, str):
        raise TypeError(f"target must be a str, not {type(target).__qualname__}")
    if isinstance(features, str):
        raise TypeError("features must be a sequence of column names, not one str")
    pairs = [(str(k), _source(v, f"trusts[{k!r}]")) for k, v in (trusts or {}).items()]
    with bars(progress, "federated train") as callback:
        content = _native.federated_train(
            pairs,
            schema.to_json(),
            target,
            number(epsilon, "epsilon"),
            number(delta, "delta"),
            positive,
            None if features is None else [str(f) for f in features],
            integer(rounds, "rounds", 0, U32_MAX),
            None if clip is None else number(clip, "clip"),
            number(learning_rate, "learning_rate"),
            number(l2, "l2"),
            protocol,
            optional_integer(threshold, "threshold", 0, U32_MAX),
            integer(colluders, "colluders", 0, U32_MAX),
            person_id,
            integer(max_rows_per_person, "max_rows_per_person", 0, U32_MAX),
            optional_integer(max_trusts_per_person, "max_trusts_per_person", 0, U32_MAX),
            {str(k): str(v) for k, v in (drops or {}).items()},
            integer(seed, "seed", 0, U64_MAX),
            None if data is None else _source(data, "data"),
            split_by,
            optional_integer(groups, "groups", 0, U32_MAX),
            None if budget is None else to_path(budget, "budget"),
            callback,
        )
    return FederatedModel(content, schema)


class FederatedModel:
    """A logistic regression trained across trusts (:func:`train`): public weights only."""

    def __init__(self, content: str, schema: Schema) -> None:
        self._json = content
        self._content: dict[str, Any] = json.loads(content)
        self._schema = schema

    @property
    def method(self) -> str:
        """``logistic regression (federated DP-FedAvg)``."""
        return self._content["method"]

    @property
    def weights(self) -> dict[str, float]:
        """Each coordinate's weight by name (``intercept``, ``sex=2``, ``age (scaled)``)."""
        model = self._content["model"]
        return dict(zip(model["names"], model["weights"], strict=True))

    @property
    def rounds(self) -> list[dict[str, Any]]:
        """Each round: rho, the noisy loss and gradient norm, the protocol round's report."""
        return self._content["rounds"]

    @property
    def ledger(self) -> dict[str, Any]:
        """The ledger: one entry a round."""
        return self._content["ledger"]

    @property
    def epsilon(self) -> float:
        """Target epsilon of the run."""
        return self._content["epsilon"]

    def predict_proba(self, table: TableLike | PathLike) -> list[float]:
        """``P(target = positive)`` for every row of ``table`` (scoring releases nothing)."""
        return _native.federated_predict(
            self._json, self._schema.to_json(), _source(table, "table")
        )

    def to_json(self) -> str:
        """The model file, as ``pets federated train --out`` writes it."""
        return json.dumps(self._content, indent=2)

    def save(self, path: PathLike) -> None:
        """Write the model file to ``path``."""
        with open(to_path(path, "path"), "w", encoding="utf-8") as f:
            f.write(self.to_json() + "\n")

    def __repr__(self) -> str:
        return (
            f"FederatedModel({self.method}, {len(self._content['model']['weights'])} weights, "
            f"{len(self.rounds)} rounds, epsilon {self.epsilon})"
        )


class FederatedResult:
    """A federated release: noisy tables, the noise, the round, and the ledger."""

    def __init__(self, content: dict[str, Any]) -> None:
        self._content = content
        if "release" in content:
            self._release = content["release"]
        else:
            # An exact check of the network service (no noise, not a DP release).
            self._release = {
                "query": "exact check",
                "tables": content["tables"],
                "round": content["round"],
                "noise": None,
                "accuracy": None,
                "warnings": [{"message": content["warning"]}],
            }

    @property
    def exact(self) -> bool:
        """Whether this is an exact check of the network service (no noise, not DP)."""
        return "release" not in self._content

    @property
    def query(self) -> str:
        """The query's label."""
        return self._release["query"]

    @property
    def tables(self) -> list[dict[str, Any]]:
        """Each table: ``dimensions``, ``labels``, ``shape``, noisy ``counts`` (row-major).

        A sum or mean also has ``value`` (``sums``, ``means``, ``mean_intervals``, bounds,
        grid and half-widths); with values in the query, ``half_width`` of its counts.
        """
        return self._release["tables"]

    @property
    def noise(self) -> dict[str, Any] | None:
        """Mechanism, share scale, shares relied on, total scale, over-provision."""
        return self._release["noise"]

    @property
    def accuracy(self) -> dict[str, Any] | None:
        """``alpha``, ``half_width`` of every cell, and the statement."""
        return self._release["accuracy"]

    @property
    def round(self) -> dict[str, Any]:
        """Who was counted, dropped or refused; bytes and seconds."""
        return self._release["round"]

    @property
    def counted(self) -> list[str]:
        """Trusts whose data are in the sum."""
        return self.round["counted"]

    @property
    def ledger(self) -> dict[str, Any] | None:
        """The budget ledger of the release."""
        return self._content.get("ledger")

    @property
    def warnings(self) -> list[str]:
        """Warnings (row-level privacy, the assumed trusts-per-person bound, ...)."""
        return [w["message"] for w in self._release["warnings"]]

    def frame(self, index: int = 0) -> Any:
        """Table ``index`` as a pyarrow Table: one column per dimension, then the cells.

        The cells: a count table's ``count``; a sum's ``sum``; a mean's ``count``, ``sum``,
        ``mean``, ``mean_low``, ``mean_high``; a rate's (:func:`rate_of`) also ``funnel``
        (``above 99.8%``, ``above 95%``, ``within``, ``below 95%``, ``below 99.8%`` or
        ``too few``: the cell against the pooled rate; see the release's ``comparison``).
        """
        import pyarrow as pa

        t = self.tables[index]
        value = t.get("value")
        extra: dict[str, Any] = {}
        if value is None or value["statistic"] == "mean":
            extra["count"] = pa.array(t["counts"], pa.int64())
        if value is not None:
            extra["sum"] = pa.array(value["sums"], pa.float64())
        if value is not None and value["statistic"] == "mean":
            extra["mean"] = pa.array(value["means"], pa.float64())
            extra["mean_low"] = pa.array([i[0] for i in value["mean_intervals"]], pa.float64())
            extra["mean_high"] = pa.array([i[1] for i in value["mean_intervals"]], pa.float64())
        if value is not None and value.get("comparison") is not None:
            labels = {
                "above_alarm": "above 99.8%",
                "above_warning": "above 95%",
                "within": "within",
                "below_warning": "below 95%",
                "below_alarm": "below 99.8%",
                "too_few": "too few",
            }
            extra["funnel"] = pa.array(
                [labels[f] for f in value["comparison"]["cells"]], pa.string()
            )
        if not t["dimensions"]:
            return pa.table(extra)
        cols: dict[str, list[str]] = {d: [] for d in t["dimensions"]}
        shape = t["shape"]
        cells = len(value["sums"]) if value is not None else len(t["counts"])
        for i in range(cells):
            rest = i
            idx = []
            for n in reversed(shape):
                idx.append(rest % n)
                rest //= n
            idx.reverse()
            for axis, d in enumerate(t["dimensions"]):
                cols[d].append(t["labels"][axis][idx[axis]])
        data: dict[str, Any] = {d: pa.array(v, pa.string()) for d, v in cols.items()}
        data.update(extra)
        return pa.table(data)

    def to_json(self, pretty: bool = True) -> str:
        """The release and ledger as JSON, as ``pets federated simulate --json`` writes them."""
        return json.dumps(self._content, indent=2 if pretty else None)

    def to_dict(self) -> dict[str, Any]:
        """The release and ledger as plain Python values (:meth:`to_json`, parsed; a copy)."""
        return json.loads(json.dumps(self._content))

    def to_pandas(self, index: int = 0) -> Any:
        """Table ``index`` (:meth:`frame`) as a pandas DataFrame, with its half-widths.

        ``half_width`` is of its counts and, for a sum or mean, ``sum_half_width`` of its sums.
        """
        frame = self.frame(index).to_pandas()
        t = self.tables[index]
        value = t.get("value")
        if value is None or value["statistic"] == "mean":
            default = float("nan") if self.accuracy is None else self.accuracy["half_width"]
            hw = t.get("half_width")
            frame["half_width"] = float(default if hw is None else hw)
        if value is not None:
            frame["sum_half_width"] = float(value["sum_half_width"])
        return frame

    def to_polars(self, index: int = 0) -> Any:
        """:meth:`to_pandas` as a polars DataFrame (requires polars)."""
        return pandas_to_polars(self.to_pandas(index))

    def __repr__(self) -> str:
        mechanism = "exact, no noise" if self.noise is None else self.noise["mechanism"]
        return (
            f"<FederatedResult {self.query}: {len(self.tables)} table(s) over "
            f"{len(self.counted)} trusts, {mechanism}>"
        )

    def _repr_html_(self) -> str:
        from html import escape

        head = f"<b>{escape(self.query)}</b>: trusts counted {escape(', '.join(self.counted))}; "
        if self.noise is None or self.accuracy is None:
            head += "exact, without noise (not a differentially private release)"
        else:
            head += (
                f"noise {escape(str(self.noise['mechanism']))}; "
                f"{escape(str(self.accuracy['statement']))} "
                f"(half-width {float(self.accuracy['half_width']):.4g})"
            )
        parts = [head]
        parts += [self.to_pandas(i).head(50)._repr_html_() for i in range(len(self.tables))]
        return "".join(parts)

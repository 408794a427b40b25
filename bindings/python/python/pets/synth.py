"""Differentially private synthetic data: records that belong to no real patient.

The Python face of Rust ``pets-synth`` (and of ``pets synth fit|sample``). :class:`MST`
(McKenna, Miklau & Sheldon 2021, the winner of the 2018 NIST challenge) measures every
1-way marginal, privately selects a maximum spanning tree of 2-way marginals, measures
those, fits a graphical model to the noisy measurements and samples from it. The whole fit
is (epsilon, delta)-DP: the budget is converted to zCDP (``rho``) and split in three parts
(tree selection 10%, the 1-way and the 2-way marginals 45% each, shared out by size; the
paper's equal thirds with ``selection_share=1/3``); the ledger records every release.

Domains come from the declared :class:`~pets.Schema` (e.g.
:func:`pets.datasets.ae_schema`), never from the data: integers, floats and datetimes are
binned on their public bounds (wide non-negative integers in geometric bands) and decoded
back to values within the bin; a wide date or datetime is modelled as its period, weekday and
hour of day and re-assembled; every sample column has the input's Arrow type (booleans,
32-bit integers, ...); nulls are their own category. Without a schema one is inferred from
the data with a loud :class:`~pets.DomainFromDataWarning`, and the model says so in
:attr:`SynthModel.warnings`.

A fitted :class:`SynthModel` is what a release panel keeps: :meth:`SynthModel.save` writes
the same versioned JSON file as ``pets synth fit``, and sampling needs only that file, never
the data: a model fitted here samples with ``pets synth sample`` and a model fitted by the
command line loads with :func:`load_model`; the same seed gives the same rows in both.

The noise of the fit comes from OpenDP's secure samplers and cannot be seeded (seeded noise
would not be private); sampling is deterministic for a seed.

Example:
    >>> import pets, pets.datasets, pets.synth
    >>> table = pets.datasets.generate_ae(5_000, seed=3)
    >>> mst = pets.synth.MST(epsilon=1.0, schema=pets.datasets.ae_schema(),
    ...                      columns=["age_band", "sex", "arrival_mode", "acuity"])
    >>> synth = mst.fit(table).sample(1_000, seed=7)
    >>> synth.num_rows, synth.column_names
    (1000, ['age_band', 'sex', 'arrival_mode', 'acuity'])
    >>> synth.equals(mst.sample(1_000, seed=7))
    True
    >>> model = mst.model
    >>> model.epsilon, model.n_measurements, len(model.selected)
    (1.0, 7, 3)
    >>> abs(model.ledger["spent"]["rho"] - model.rho) < 1e-9 * model.rho
    True
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pets import _native
from pets._convert import (
    Kind,
    PathLike,
    TableLike,
    as_kind,
    integer,
    is_path,
    kind_of,
    number,
    pandas_to_polars,
    to_arrow,
    to_path,
)
from pets._progress import bars
from pets._schema import Schema
from pets.errors import DomainFromDataWarning, InvalidParameterError, PetsError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AIM",
    "MST",
    "EvalReport",
    "PrivBayes",
    "SynthModel",
    "SynthesisDomain",
    "evaluate",
    "load_model",
    "prepare_domain",
]

_MAX_SEED = 2**64 - 1


def _int(value: object, arg: str, low: int, high: int = _MAX_SEED) -> int:
    return integer(value, arg, low, high)


def _positive_int(value: object, arg: str) -> int | None:
    return None if value is None else _int(value, arg, 1)


def _float(value: object, arg: str) -> float:
    return number(value, arg)


class SynthModel:
    """A fitted synthesiser: the released measurements, the fitted model and the ledger.

    Made by :meth:`MST.fit`, :meth:`SynthModel.load` or :func:`load_model`. Everything it
    holds was released under the model's (epsilon, delta): the public schema, the noisy
    marginals, the graphical model fitted to them, the noisy total and the ledger. Sampling
    needs nothing else.
    """

    __slots__ = ("_ledger", "_native", "federated_rounds")

    def __init__(self, native: Any) -> None:
        """Wrap a native model (use :meth:`MST.fit` or :func:`load_model` to make one)."""
        self._native = native
        self._ledger: dict[str, Any] | None = None
        #: A federated fit's rounds and ledger (:func:`pets.federated.fit`); else ``None``.
        self.federated_rounds: dict[str, Any] | None = None

    # -- files -------------------------------------------------------------------------

    @classmethod
    def load(cls, path: PathLike) -> SynthModel:
        """Load a model file written by :meth:`save` or ``pets synth fit``.

        Raises:
            PetsIOError: the file cannot be read.
            PetsError: not a pets model file, or one of another version.
        """
        return cls(_native.SynthModel.load(to_path(path)))

    @classmethod
    def from_json(cls, text: str) -> SynthModel:
        """Parse a model from the JSON text of a model file (see :meth:`to_json`)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__qualname__}")
        return cls(_native.SynthModel.from_json(text))

    def save(self, path: PathLike) -> Path:
        """Write the model file (JSON, versioned), as ``pets synth fit --out`` does.

        Returns:
            The path written.
        """
        p = to_path(path)
        self._native.save(p)
        return Path(p)

    def to_json(self) -> str:
        """The model file's JSON text."""
        return self._native.to_json()

    # -- what was released -------------------------------------------------------------

    @property
    def method(self) -> str:
        """The synthesis method, e.g. ``"mst"``."""
        return self._native.method

    @property
    def version(self) -> int:
        """The model file layout version."""
        return self._native.version

    @property
    def epsilon(self) -> float:
        """Target epsilon of (epsilon, delta)-DP."""
        return self._native.epsilon

    @property
    def delta(self) -> float:
        """Target delta."""
        return self._native.delta

    @property
    def rho(self) -> float:
        """The zCDP budget that gives (epsilon, delta)-DP: what the ledger spends."""
        return self._native.rho

    @property
    def columns(self) -> list[str]:
        """Names of the sample's columns, in order.

        A datetime modelled as calendar parts (e.g. ``arrival_datetime.hour``) is one column
        here; :attr:`schema` lists the parts.
        """
        return self._native.columns

    @property
    def schema(self) -> Schema:
        """The declared schema of the synthesised columns (public)."""
        return Schema(self._native.schema_json())

    @property
    def n_measurements(self) -> int:
        """Number of noisy marginals released (1-way and selected 2-way)."""
        return self._native.n_measurements

    @property
    def measurements(self) -> list[dict[str, Any]]:
        """Each noisy marginal: ``columns``, noise ``sigma``, ``cells`` (after compression)
        and ``threshold``: for a sparse pair released above a threshold (MST's
        ``sparse_pairs``), the noisy count a cell needed to be released; else ``None``.
        """  # noqa: D205
        return [
            {"columns": cols, "sigma": sigma, "cells": cells, "threshold": threshold}
            for cols, sigma, cells, threshold in self._native.measurements()
        ]

    @property
    def selected(self) -> list[tuple[str, ...]]:
        """The pairs of columns selected for the tree and measured."""
        return [tuple(p) for p in self._native.selected]

    @property
    def total(self) -> float:
        """The noisy estimate of the number of records (the true count is never used)."""
        return self._native.total

    @property
    def default_rows(self) -> int:
        """Rows :meth:`sample` draws when ``n`` is ``None``: :attr:`total`, rounded."""
        return self._native.default_rows

    @property
    def estimation(self) -> dict[str, Any]:
        """How inference went: ``iterations``, ``loss`` and ``total``."""
        return json.loads(self._native.estimation_json())

    @property
    def ledger(self) -> dict[str, Any]:
        """The privacy ledger of the fit (a fresh dict): ``budget``, ``spent``,
        ``remaining``, ``spent_as_approx_dp`` and one entry per release.
        """  # noqa: D205
        if self._ledger is None:
            self._ledger = json.loads(self._native.ledger_json())
        return json.loads(json.dumps(self._ledger))

    def ledger_json(self) -> str:
        """:attr:`ledger` as pretty JSON."""
        return self._native.ledger_json()

    @property
    def warnings(self) -> list[str]:
        """What the release panel should know: a ``DOMAIN_FROM_DATA`` line for every column
        whose domain was read from the data rather than declared.
        """  # noqa: D205
        return self._native.warnings()

    @property
    def notes(self) -> list[str]:
        """How the declared schema became the synthesis domain: columns left out (free text,
        direct identifiers), integer columns binned and dates or times coarsened to at most
        ``max_values`` codes, wide categorical columns left to MST's compression.
        """  # noqa: D205
        return list(self._native.notes)

    @property
    def schema_inferred(self) -> bool:
        """Whether any column's domain was read from the data (see :attr:`warnings`)."""
        return bool(self.warnings)

    # -- sampling ----------------------------------------------------------------------

    def _rows(self, n: int | None) -> int:
        return self.default_rows if n is None else _int(n, "n", 0)

    def sample(
        self,
        n: int | None = None,
        seed: int = 0,
        *,
        kind: Kind | None = None,
        progress: bool | None = None,
    ) -> Any:
        """Sample ``n`` synthetic rows of decoded values.

        Each column has the Arrow type of the data the model was fitted on (the model's
        output plan: ``admitted`` boolean again, 32-bit integers stay 32-bit; from a CSV, the
        kind's default: strings, ``int64``, ``float64``, ``date32``, ``timestamp[ms]``);
        binned values are placed uniformly within their bin. The same ``seed`` gives the
        same rows, here and on the command line.

        Args:
            n: Rows to draw (default :attr:`default_rows`, the noisy size of the data).
            seed: Seed of the sample.
            kind: ``"pyarrow"`` (default), ``"pandas"`` or ``"polars"``.
            progress: A progress bar (see :meth:`MST.fit`).
        """
        rows, seed_ = self._rows(n), _int(seed, "seed", 0)
        with bars(progress, "synth sample") as callback:
            table = self._native.sample(rows, seed_, callback)
        return as_kind(table, kind)

    def sample_pandas(self, n: int | None = None, seed: int = 0) -> pd.DataFrame:
        """:meth:`sample` as a pandas DataFrame (requires pandas)."""
        return self.sample(n, seed).to_pandas()

    def write_sample(
        self,
        path: PathLike,
        n: int | None = None,
        seed: int = 0,
        *,
        progress: bool | None = None,
    ) -> int:
        """Stream ``n`` sampled rows to a Parquet, CSV or TSV file (by extension).

        Memory stays at a few chunks whatever ``n`` is; the rows are those of
        :meth:`sample` with the same seed, as ``pets synth sample`` writes them. Ctrl-C stops
        between chunks and leaves no file.

        Args:
            path: The file to write (written whole or not at all).
            n: Rows to draw (default :attr:`default_rows`).
            seed: Seed of the sample.
            progress: A progress bar (see :meth:`MST.fit`).

        Returns:
            The rows written.
        """
        target, rows, seed_ = to_path(path), self._rows(n), _int(seed, "seed", 0)
        with bars(progress, "synth sample") as callback:
            return self._native.write_sample(target, rows, seed_, callback)

    def to_dict(self) -> dict[str, Any]:
        """The model file's content as plain Python values (:meth:`to_json`, parsed)."""
        return json.loads(self.to_json())

    def _repr_html_(self) -> str:
        from html import escape

        notes = "".join(f"<li>{escape(n)}</li>" for n in self.notes)
        warns = "".join(
            f"<p style='color:#9a6700'><b>Warning:</b> {escape(w)}</p>" for w in self.warnings
        )
        return (
            f"<b>{escape(self.method.upper())} model</b>: {len(self.columns)} columns, "
            f"(epsilon={self.epsilon:g}, delta={self.delta:g})-DP, "
            f"{self.n_measurements} noisy measurements, about {self.default_rows:,} rows"
            f"<br><small>{escape(', '.join(self.columns))}</small>{warns}<ul>{notes}</ul>"
        )

    def __repr__(self) -> str:
        return (
            f"<pets.synth.SynthModel {self.method} over {len(self.columns)} columns, "
            f"epsilon={self.epsilon:g}, delta={self.delta:g}, {self.n_measurements} measurements>"
        )


def load_model(path: PathLike) -> SynthModel:
    """Load a model file written by :meth:`SynthModel.save` or ``pets synth fit``.

    Example:
        >>> import os, tempfile, pets.datasets, pets.synth
        >>> mst = pets.synth.MST(1.0, schema=pets.datasets.ae_schema(), columns=["sex", "acuity"])
        >>> path = mst.fit(pets.datasets.generate_ae(2_000, seed=1)).save(
        ...     os.path.join(tempfile.mkdtemp(), "model.json"))
        >>> model = pets.synth.load_model(path)
        >>> model.columns, model.sample(5, seed=1).equals(mst.sample(5, seed=1))
        (['sex', 'acuity'], True)
    """
    return SynthModel.load(path)


class SynthesisDomain:
    """The domain a synthesiser will fit, prepared from a declared schema alone.

    Attributes:
        schema: The synthesised columns with their synthesis domains (wide integers binned,
            dates and datetimes coarsened); encode data against it to get the codes the
            synthesiser counts.
        notes: One line per column left out, binned or coarsened (as in the model file).
    """

    def __init__(self, schema: Schema, notes: list[str]) -> None:
        self.schema = schema
        self.notes = notes

    @property
    def columns(self) -> list[str]:
        """The synthesised column names, in order."""
        return self.schema.names

    def __repr__(self) -> str:
        return f"SynthesisDomain({len(self.columns)} columns, {len(self.notes)} notes)"


def prepare_domain(
    schema: Schema, columns: Sequence[str] | None = None, max_values: int = 128
) -> SynthesisDomain:
    """Return what :meth:`MST.fit` will synthesise, before any data is read or budget spent.

    The same step as the fit's: direct identifiers and free text are left out unless named,
    integer columns without declared bins above ``max_values`` values are binned to integer
    widths, and dates and datetimes are coarsened to the finest granularity with at most
    ``max_values`` codes. It reads the schema only, so it costs no privacy budget.

    Args:
        schema: The declared schema.
        columns: The columns to synthesise (``None``: every encodable, non-identifying one).
        max_values: The widest integer, date or datetime domain kept as is (>= 2).

    Raises:
        SchemaError: a named column is not in the schema.
        InvalidParameterError: ``max_values`` below 2.

    Example:
        >>> import pets.datasets, pets.synth
        >>> d = pets.synth.prepare_domain(pets.datasets.ae_schema(), ["age", "sex"])
        >>> d.columns
        ['age', 'sex']
    """
    if not isinstance(schema, Schema):
        raise TypeError(f"schema must be a pets.Schema, not {type(schema).__name__}")
    cols = None if columns is None else [str(c) for c in columns]
    text, notes = _native.prepare_domain(
        schema.to_json(), cols, _int(max_values, "max_values", 2, 2**32 - 1)
    )
    return SynthesisDomain(Schema.from_json(text), list(notes))


class MST:
    """MST: differentially private synthetic data from a maximum spanning tree of marginals.

    ``MST(epsilon=1).fit(data).sample(n)``, as ``pets synth fit --method mst`` then
    ``pets synth sample``. The budget (epsilon, delta) is converted to zCDP ``rho`` and
    split in three: ``rho/3`` for every 1-way marginal (Gaussian noise), ``rho/3`` for
    choosing ``d - 1`` tree edges with the exponential mechanism (score: the L1 error of the
    independent estimate), ``rho/3`` for the chosen 2-way marginals. Rare values (noisy
    1-way count below ``3 sigma``) are merged per column from released counts only; the
    record count is estimated from the noisy marginals.

    Privacy is per record unless ``person_id`` is given: then each person's rows are cut to
    ``max_rows_per_person`` (chosen at random) before fitting, every sensitivity is scaled
    by it, and the ledger records the person as the unit.

    Args:
        epsilon: Epsilon of (epsilon, delta)-DP for the whole fit (> 0).
        delta: Delta, in (0, 1); keep it well below ``1 / rows``.
        schema: The declared :class:`~pets.Schema` (domains are public). When ``None`` it
            is inferred from the data: a :class:`~pets.DomainFromDataWarning` is given and
            the model records it in :attr:`SynthModel.warnings`, since the set of values
            present is then not protected.
        columns: Columns to synthesise, in this order (default: every encodable column of
            the schema that is not a direct identifier; text columns are never synthesised).
        max_values: Integer columns with more values than this (and no declared bins) are
            binned, and date or datetime columns coarsened, for synthesis: from the schema
            alone, so it costs no budget. Synthetic values are drawn uniformly within their
            bin or period; :attr:`SynthModel.notes` lists every change.
        person_id: The column identifying a person (e.g. ``"nhs_number"``; read, never
            synthesised) for person-level privacy.
        max_rows_per_person: Rows a person may contribute when ``person_id`` is given (the
            noise grows in proportion).
        bounding_seed: Seed of the choice of each person's rows (data processing, not
            privacy noise).
        noise_penalty: Choose tree edges by the L1 error each pair would fix minus the
            expected noise of measuring it (AIM's score) instead of MST's plain error: much
            faster on wide domains, but may skip a large useful pair (e.g. postcode district
            x provider).
        sparse_pairs: Release a tree pair whose dense release would carry over three times
            as much noise as there are records (postcode district x provider) by the
            Gaussian threshold mechanism: noise on its occupied cells only, each kept when
            its noisy count reaches a threshold, with a quarter of delta set aside (default
            ``True``; far fewer noise draws, but the pair's small cells are suppressed).
            ``False`` measures every pair densely, the published MST (``--dense-pairs``).
        score_threshold: Soft threshold of the tree-edge score in multiples of the 2-way
            noise sigma: a pair scores only the part of its error above it, so dense pairs
            whose measurement would be mostly noise are not picked over useful ones
            (default 1; 0 is the published MST score; the sensitivity is the same).
        seed: Default seed of :meth:`sample` (``None``: 0, as ``pets synth sample``). The
            fit's noise is never seeded.
        max_iters: Mirror-descent iterations of the inference, exactly (default: a work
            budget of 5e6 clique-cell iterations, between 20 and 1,000: small models run
            to convergence, large ones stop early).
        tolerance: Stop inference when an iteration improves the loss by less than this
            fraction.
        max_clique_cells: Largest junction-tree clique, in cells; a model needing more is
            refused with :class:`~pets.InvalidParameterError`.
        max_pair_cells: Largest (compressed) 2-way table considered for the tree.
        compress: Merge rare values as MST does (``False``: measure every declared value).

    Raises:
        InvalidParameterError: epsilon not > 0, delta outside (0, 1), or another setting
            out of range.
    """

    #: The core's method name (``FitJob``'s ``Method``); subclasses choose another.
    _method = "mst"

    def __init__(
        self,
        epsilon: float = 1.0,
        delta: float = 1e-9,
        *,
        schema: Schema | None = None,
        columns: Sequence[str] | None = None,
        seed: int | None = None,
        max_iters: int | None = None,
        tolerance: float | None = None,
        max_clique_cells: int | None = None,
        max_pair_cells: int | None = None,
        compress: bool = True,
        max_values: int = 128,
        noise_penalty: bool = False,
        sparse_pairs: bool = True,
        score_threshold: float = 1.0,
        person_id: str | None = None,
        max_rows_per_person: int = 1,
        bounding_seed: int = 0,
        strict: bool = False,
        budget: PathLike | None = None,
    ) -> None:
        self.epsilon = _float(epsilon, "epsilon")
        self.delta = _float(delta, "delta")
        if not (self.epsilon > 0 and math.isfinite(self.epsilon)):
            raise InvalidParameterError(
                f"invalid epsilon = {self.epsilon}: it must be a positive finite number, e.g. 1"
            )
        if not 0 < self.delta < 1:
            raise InvalidParameterError(
                f"invalid delta = {self.delta}: MST needs 0 < delta < 1, e.g. 1e-9 "
                "(well below 1 / rows)"
            )
        if schema is not None and not isinstance(schema, Schema):
            raise TypeError(
                f"schema must be a pets.Schema or None, not {type(schema).__qualname__}"
            )
        self.schema = schema
        if columns is not None:
            if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
                raise TypeError("columns must be a sequence of column names (str)")
            columns = list(columns)
            if not columns:
                raise InvalidParameterError("columns must name at least one column, or be None")
        self.columns: list[str] | None = columns
        self.seed = None if seed is None else _int(seed, "seed", 0)
        self.max_iters = _positive_int(max_iters, "max_iters")
        self.tolerance = None if tolerance is None else _float(tolerance, "tolerance")
        if self.tolerance is not None and not (
            self.tolerance >= 0 and math.isfinite(self.tolerance)
        ):
            raise InvalidParameterError(
                f"invalid tolerance = {self.tolerance}: it must be a finite number >= 0"
            )
        self.max_clique_cells = _positive_int(max_clique_cells, "max_clique_cells")
        self.max_pair_cells = _positive_int(max_pair_cells, "max_pair_cells")
        self.compress = bool(compress)
        self.max_values = _int(max_values, "max_values", 2, 2**32 - 1)
        self.noise_penalty = bool(noise_penalty)
        self.sparse_pairs = bool(sparse_pairs)
        self.score_threshold = _float(score_threshold, "score_threshold")
        if not (self.score_threshold >= 0 and math.isfinite(self.score_threshold)):
            raise InvalidParameterError(
                f"score_threshold = {score_threshold}: give a finite multiple of sigma, >= 0"
            )
        if person_id is not None and not isinstance(person_id, str):
            raise TypeError(f"person_id must be a column name (str), not {type(person_id)}")
        self.person_id = person_id
        self.max_rows_per_person = _int(max_rows_per_person, "max_rows_per_person", 1, 2**32 - 1)
        self.bounding_seed = _int(bounding_seed, "bounding_seed", 0)
        self.strict = bool(strict)
        self.budget = None if budget is None else to_path(budget, "budget")
        self._model: SynthModel | None = None
        #: The kind of table given to :meth:`fit`, which :meth:`sample` returns.
        self._kind: Kind = "pyarrow"

    def fit(self, data: TableLike | PathLike, *, progress: bool | None = None) -> MST:
        """Fit the synthesiser to ``data`` under (epsilon, delta)-DP.

        Args:
            data: A pandas or polars DataFrame, a pyarrow Table, any object with
                ``__arrow_c_stream__`` (passed to Rust without copying), or a path to a CSV,
                TSV or Parquet file (streamed).
            progress: A progress bar while it runs (tqdm): ``None`` when tqdm is installed
                and this is a terminal or a notebook, ``True`` always, ``False`` never.
                Ctrl-C stops it at its next safe point either way (``KeyboardInterrupt``).

        Returns:
            ``self``, fitted: :attr:`model` holds the result.

        Raises:
            SchemaError: a column is not in the schema or the data.
            DomainError: a value outside its declared domain.
            ParseError: a value that is not of its column's kind.
            EmptyInputError: the data holds no rows.
            InvalidParameterError: the model would need a clique above ``max_clique_cells``.
        """
        if is_path(data):
            source: Any = to_path(data, "data")
        else:
            source = to_arrow(data, "data")
        kind = kind_of(data)
        with bars(progress, "synth fit") as callback:
            native = self._native_fit(source, callback)
        model = SynthModel(native)
        inferred = model.schema.domain_from_data
        if inferred:
            warnings.warn(
                f"pets.synth.{type(self).__name__}: the domain of {len(inferred)} column(s) "
                f"({', '.join(inferred)}) was read from the data, not declared: which values "
                "occur (and the bounds) are NOT protected by differential privacy. Declare the "
                "domains in a schema from public knowledge before releasing (model.warnings).",
                DomainFromDataWarning,
                stacklevel=2,
            )
        self._model = model
        self._kind = kind
        return self

    def _native_fit(self, source: Any, callback: Any = None) -> Any:
        """The core's ``FitJob`` with this synthesiser's settings, run whole."""
        args, kwargs = self._fit_arguments()
        return _native.fit_mst(source, *args[:-1], callback, **kwargs)

    def _fit_arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The settings as ``_native.fit_mst``'s arguments after ``data`` (plain values a
        Spark executor can unpickle; the last positional one is the progress callback).
        """  # noqa: D205
        args = (
            None if self.schema is None else self.schema.to_json(),
            self.columns,
            self.epsilon,
            self.delta,
            self.max_iters,
            self.tolerance,
            self.max_clique_cells,
            self.max_pair_cells,
            self.compress,
            self.max_values,
            self.noise_penalty,
            self.score_threshold,
            self.person_id,
            self.max_rows_per_person,
            self.bounding_seed,
            self.strict,
            self.budget,
            None,
        )
        return args, {"method": self._method, **self._method_options()}

    def _fitted_from(self, native: Any, kind: str) -> MST:
        """Keep a model fitted elsewhere (:func:`pets.spark.fit`) as this synthesiser's."""
        self._model = SynthModel(native)
        self._kind = kind
        return self

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` (or :meth:`load`) has given this synthesiser a model."""
        return self._model is not None

    @property
    def model(self) -> SynthModel:
        """The fitted :class:`SynthModel`.

        Raises:
            PetsError: not fitted yet.
        """
        if self._model is None:
            name = type(self).__name__
            raise PetsError(f"this {name} is not fitted: call fit(data) or {name}.load(path) first")
        return self._model

    @property
    def warnings(self) -> list[str]:
        """The fitted model's warnings (see :attr:`SynthModel.warnings`)."""
        return self.model.warnings

    def _seed(self, seed: int | None) -> int:
        if seed is not None:
            return seed
        return 0 if self.seed is None else self.seed

    def sample(
        self,
        n: int | None = None,
        seed: int | None = None,
        *,
        kind: Kind | None = None,
        progress: bool | None = None,
    ) -> Any:
        """Sample ``n`` synthetic rows (see :meth:`SynthModel.sample`).

        Returned as the kind of table given to :meth:`fit` (a pandas DataFrame for a pandas
        one, polars for polars, else a ``pyarrow.Table``), unless ``kind`` says otherwise.

        Args:
            n: Rows to draw (default: the model's noisy estimate of the data's size).
            seed: Seed of the sample (default: the ``seed`` given to :class:`MST`, else 0).
            kind: ``"pyarrow"``, ``"pandas"`` or ``"polars"`` (default: as given to fit).
            progress: A progress bar (see :meth:`fit`).
        """
        return self.model.sample(n, self._seed(seed), kind=kind or self._kind, progress=progress)

    def sample_pandas(self, n: int | None = None, seed: int | None = None) -> pd.DataFrame:
        """:meth:`sample` as a pandas DataFrame (requires pandas)."""
        return self.model.sample_pandas(n, self._seed(seed))

    def write_sample(
        self,
        path: PathLike,
        n: int | None = None,
        seed: int | None = None,
        *,
        progress: bool | None = None,
    ) -> int:
        """Stream ``n`` rows to a Parquet, CSV or TSV file (see :meth:`SynthModel.write_sample`)."""
        return self.model.write_sample(path, n, self._seed(seed), progress=progress)

    def save(self, path: PathLike) -> Path:
        """Write the fitted model file, readable by ``pets synth sample`` and :meth:`load`."""
        return self.model.save(path)

    def _method_options(self) -> dict[str, Any]:
        """The method's own settings, as the native fit takes them."""
        return {"sparse_pairs": self.sparse_pairs}

    @classmethod
    def load(cls, path: PathLike, *, seed: int | None = None) -> MST:
        """A synthesiser fitted from a model file (``pets synth fit`` or :meth:`save`).

        Its epsilon, delta, schema and columns are the model's; ``seed`` is the default
        seed of :meth:`sample`. The file must hold this class's method.
        """
        model = load_model(path)
        if model.method != cls._method:
            raise InvalidParameterError(
                f"the model file {path!s} holds a {model.method!r} model, not "
                f"{cls._method!r}: use pets.synth.load_model"
            )
        mst = cls(model.epsilon, model.delta, schema=model.schema, columns=model.columns, seed=seed)
        mst._model = model
        return mst

    def __repr__(self) -> str:
        state = "fitted" if self.is_fitted else "not fitted"
        name = type(self).__name__
        return f"<pets.synth.{name} epsilon={self.epsilon:g} delta={self.delta:g} ({state})>"


class PrivBayes(MST):
    """PrivBayes: DP synthetic data from a Bayesian network (Zhang et al. 2014/2017).

    ``PrivBayes(epsilon=1, degree=2).fit(data).sample(n)``, as ``pets synth fit --method
    privbayes``: the network is chosen greedily, each column's parents (at most ``degree``)
    by the exponential mechanism on the R score, then every family's marginal is measured
    with Gaussian noise and the model estimated from them (the core's ``FitJob``, the same
    budget, ledger and person-level bounding as :class:`MST`). Takes every argument of
    :class:`MST` (``noise_penalty``, ``sparse_pairs`` and ``max_pair_cells`` are MST's
    alone) and:

    Args:
        degree: The most parents a column may have (k in the paper), at least 1.
        score: The score the network is chosen by: ``"r"`` (PrivBayes' R score,
            sensitivity 2 a row; the default) or ``"mi"`` (the mutual information times the
            rows, in bits: sensitivity 42 a row), as ``--privbayes-score``.

    Example:
        >>> import pets.datasets, pets.synth
        >>> table = pets.datasets.generate_ae(2_000, seed=3)
        >>> pb = pets.synth.PrivBayes(1.0, schema=pets.datasets.ae_schema(),
        ...                           columns=["sex", "age_band", "acuity"], degree=2)
        >>> pb.fit(table, progress=False).model.method
        'privbayes'
        >>> pb.sample(10, seed=1).num_rows
        10
    """

    _method = "privbayes"

    def __init__(
        self,
        epsilon: float = 1.0,
        delta: float = 1e-9,
        *,
        degree: int = 2,
        score: str = "r",
        **options: Any,
    ) -> None:
        super().__init__(epsilon, delta, **options)
        self.degree = _int(degree, "degree", 1, 64)
        if score not in ("r", "mi"):
            raise InvalidParameterError(
                f"invalid score = {score!r}: the PrivBayes scores are 'r' (default) and 'mi'"
            )
        self.score = score

    def _method_options(self) -> dict[str, Any]:
        return {"degree": self.degree, "privbayes_score": self.score}


class AIM(MST):
    """AIM: workload-adaptive DP synthetic data (McKenna, Mullins, Sheldon & Miklau 2022).

    ``AIM(epsilon=1).fit(data).sample(n)``, as ``pets synth fit --method aim``: round by
    round, the marginal of the workload the current model gets most wrong (minus the noise
    of measuring it) is chosen by the exponential mechanism, measured with Gaussian noise,
    and the model re-estimated; the noise anneals when a round stops paying. The 1-way
    marginals share the paper's budget for them by size, as MST's do. Takes every argument
    of :class:`MST` (``noise_penalty``, ``sparse_pairs`` and ``max_pair_cells`` are MST's
    alone; without ``max_iters`` the final inference has ten times MST's work budget, 5e7
    clique-cell iterations, 20 to 2,500) and:

    Args:
        workload: The marginals that matter, as lists of column names (default: every
            3-way marginal of the synthesised columns). Names are checked against the
            synthesised columns before any data are read.
        rounds: The most rounds (default: the paper's ``16 x columns``).
        tree_share: The share of the budget spent first on MST's steps, the 1-way marginals
            and a spanning tree of pairs chosen without AIM's size penalty, before the
            adaptive rounds (default 1/2; ``0`` is the paper's AIM, which starts from the
            1-ways alone). As ``--tree-share``.
        max_model_cells: The largest model (total cells of its cliques) once the whole
            budget is spent (default 2^20). As ``--max-model-cells``.

    Example:
        >>> import pets.datasets, pets.synth
        >>> table = pets.datasets.generate_ae(2_000, seed=3)
        >>> aim = pets.synth.AIM(1.0, schema=pets.datasets.ae_schema(),
        ...                      columns=["sex", "age_band", "acuity"],
        ...                      workload=[["sex", "age_band"], ["age_band", "acuity"]])
        >>> aim.fit(table, progress=False).model.method
        'aim'
    """

    _method = "aim"

    def __init__(
        self,
        epsilon: float = 1.0,
        delta: float = 1e-9,
        *,
        workload: Sequence[Sequence[str]] | None = None,
        rounds: int | None = None,
        tree_share: float | None = None,
        max_model_cells: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(epsilon, delta, **options)
        if workload is not None:
            if isinstance(workload, str) or not all(
                not isinstance(m, str) and all(isinstance(c, str) for c in m) for m in workload
            ):
                raise TypeError("workload must be a list of marginals, each a list of column names")
            workload = [list(m) for m in workload]
        self.workload: list[list[str]] | None = workload
        self.rounds = _positive_int(rounds, "rounds")
        # Checked by the core's settings (0 <= tree_share < 1) before any data is read.
        self.tree_share = None if tree_share is None else _float(tree_share, "tree_share")
        self.max_model_cells = _positive_int(max_model_cells, "max_model_cells")

    def _method_options(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "rounds": self.rounds,
            "tree_share": self.tree_share,
            "max_model_cells": self.max_model_cells,
        }


def _table_arg(data: object, arg: str) -> Any:
    return to_path(data, arg) if is_path(data) else to_arrow(data, arg)


class EvalReport:
    """What :func:`evaluate` measured: utility and privacy of a synthetic table.

    The same content as ``pets synth evaluate --json`` (:meth:`to_json`) and ``--report``
    (:meth:`to_html`); :meth:`to_dict` gives plain Python values. The headline figures are
    properties; in a notebook the report shows as its summary and key tables.
    """

    __slots__ = ("_data", "_native")

    def __init__(self, native: Any) -> None:
        """Wrap a native report (use :func:`evaluate` to make one)."""
        self._native = native
        self._data: dict[str, Any] = json.loads(native.to_json(False))

    @property
    def summary(self) -> list[str]:
        """Plain-language headline lines, most important first."""
        return list(self._native.summary())

    @property
    def rows(self) -> dict[str, int | None]:
        """Rows of the ``real``, ``synth`` and ``holdout`` tables."""
        return dict(self._data["rows"])

    @property
    def mean_1way_tvd(self) -> float:
        """Mean 1-way total-variation distance over the views."""
        return self._data["marginals"]["mean_1way"]

    @property
    def mean_2way_tvd(self) -> float:
        """Mean 2-way total-variation distance over every pair of views."""
        return self._data["marginals"]["mean_2way"]

    @property
    def workload_mean_tvd(self) -> float:
        """Mean total-variation distance over the workload (3-way by default)."""
        return self._data["workload_mean_tvd"]

    @property
    def utility(self) -> dict[str, Any] | None:
        """Train-on-synthetic against train-on-real scores (``None`` without a target)."""
        u = self._data["utility"]
        return None if u is None else json.loads(json.dumps(u))

    @property
    def privacy(self) -> dict[str, Any]:
        """Distance to the closest record, exact matches, membership inference."""
        return json.loads(json.dumps(self._data["privacy"]))

    @property
    def mia_auc(self) -> float | None:
        """AUC of the membership-inference attack (0.5: chance; ``None`` without a holdout)."""
        return self._data["privacy"]["mia_auc"]

    @property
    def exact_matches(self) -> int:
        """Synthetic rows identical to a training row (on every view)."""
        return self._data["privacy"]["exact_matches"]

    @property
    def notes(self) -> list[str]:
        """How figures were obtained (samples, missing holdout...)."""
        return list(self._data["notes"])

    def __getitem__(self, key: str) -> Any:
        """A top-level field of the JSON report (a copy)."""
        return json.loads(json.dumps(self._data[key]))

    def to_dict(self) -> dict[str, Any]:
        """The whole report as plain Python values (the JSON report, parsed; a copy)."""
        return json.loads(self._native.to_json(False))

    def to_json(self, indent: int | None = 2) -> str:
        """The JSON report, as ``pets synth evaluate --json`` writes it."""
        return self._native.to_json(indent is not None)

    def write_json(self, path: PathLike) -> Path:
        """Write :meth:`to_json` to ``path``; returns the path."""
        p = Path(to_path(path))
        p.write_text(self.to_json() + "\n", encoding="utf-8")
        return p

    def to_html(self) -> str:
        """The self-contained HTML report (inline SVG plots, no network assets)."""
        return self._native.to_html()

    def write_html(self, path: PathLike) -> Path:
        """Write :meth:`to_html` to ``path``; returns the path."""
        p = Path(to_path(path))
        p.write_text(self.to_html(), encoding="utf-8")
        return p

    def views_frame(self) -> pd.DataFrame:
        """One row per view: its 1-way TVD (requires pandas)."""
        import pandas as pd

        rows = [{"view": v["name"], "tvd": v["tvd"]} for v in self._data["views"]]
        return pd.DataFrame(rows, columns=["view", "tvd"])

    def to_pandas(self) -> pd.DataFrame:
        """The views and their 1-way TVD (:meth:`views_frame`; requires pandas)."""
        return self.views_frame()

    def to_polars(self) -> Any:
        """:meth:`to_pandas` as a polars DataFrame (requires polars)."""
        return pandas_to_polars(self.to_pandas())

    def __repr__(self) -> str:
        r = self._data["rows"]
        lines = [f"<pets.synth.EvalReport: {r['real']} real rows, {r['synth']} synthetic rows>"]
        lines.extend(f"  {s}" for s in self.summary)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape

        items = "".join(f"<li>{escape(s)}</li>" for s in self.summary)
        notes = "".join(
            f"<p style='color:#9a6700'><b>Note:</b> {escape(n)}</p>" for n in self.notes
        )
        r = self._data["rows"]
        return (
            f"<div><p><b>Synthetic data evaluation</b>: {r['real']:,} real rows, "
            f"{r['synth']:,} synthetic rows"
            + ("" if r["holdout"] is None else f", {r['holdout']:,} holdout rows")
            + f"</p><ul>{items}</ul>{notes}</div>"
        )


def evaluate(
    real: TableLike | PathLike,
    synth: TableLike | PathLike,
    *,
    schema: Schema,
    holdout: TableLike | PathLike | None = None,
    target: str | None = None,
    positive: str | None = None,
    features: Sequence[str] | None = None,
    workload: Sequence[Sequence[str]] | None = None,
    sample_rows: int = 10_000,
    seed: int = 0,
    progress: bool | None = None,
) -> EvalReport:
    """Evaluate a synthetic table against the real rows it was fitted on.

    What ``pets synth evaluate`` runs: 1-, 2- and 3-way marginal total-variation distances
    over views of every column (numbers by quantile bins, datetimes by weekday and hour),
    Cramér's V differences, Wasserstein-1 and Kolmogorov-Smirnov distances of numeric
    columns, train-on-synthetic utility for ``target``, and privacy tests: distance to the
    closest record against a holdout baseline, exact matches, and a membership-inference
    attack (its AUC: 0.5 is chance). For the custodian, who holds the real data.

    Args:
        real: The real (training) rows: a pandas or polars DataFrame, a pyarrow Table, any
            object with ``__arrow_c_stream__``, or a path to a CSV, TSV or Parquet file.
        synth: The synthetic rows, likewise.
        schema: The declared :class:`~pets.Schema`.
        holdout: Real rows of the same population the synthesiser never saw: the privacy
            baseline, the attack's non-members and the utility test rows. Without it the
            membership-inference test is not run.
        target: A categorical column to predict (e.g. ``"admitted"``) for the utility test.
        positive: The target's positive value (default: the second of two declared values).
        features: The columns the utility models see (default: every other column); leave
            out those that give the target away.
        workload: Marginals to compare, as lists of column or view names (default: every
            3-way marginal of the views, or a seeded sample of 200 of them).
        sample_rows: Rows of each sample of the privacy tests.
        seed: Seed of every sample the evaluation draws.
        progress: A progress bar while it runs, a stage per comparison (tqdm): ``None`` when
            tqdm is installed and this is a terminal or a notebook, ``True`` always,
            ``False`` never. Ctrl-C stops it between stages (``KeyboardInterrupt``).

    Returns:
        The :class:`EvalReport`.

    Raises:
        InvalidParameterError: a bad target, positive value, workload or sample size.
        SchemaError: the tables do not fit the schema.
    """
    if not isinstance(schema, Schema):
        raise TypeError(f"schema must be a pets.Schema, not {type(schema).__qualname__}")
    if target is not None and not isinstance(target, str):
        raise TypeError(f"target must be a column name (str), not {type(target).__qualname__}")
    if positive is not None and not isinstance(positive, str):
        raise TypeError(f"positive must be a value (str), not {type(positive).__qualname__}")
    feats: list[str] | None = None
    if features is not None:
        if isinstance(features, str) or not all(isinstance(c, str) for c in features):
            raise TypeError("features must be a list of column names (str)")
        feats = list(features)
    wl: list[list[str]] | None = None
    if workload is not None:
        if isinstance(workload, str) or any(
            isinstance(m, str) or not all(isinstance(c, str) for c in m) for m in workload
        ):
            raise TypeError("workload must be a list of lists of column names (str)")
        wl = [list(m) for m in workload]
    with bars(progress, "synth evaluate") as callback:
        native = _native.evaluate(
            _table_arg(real, "real"),
            _table_arg(synth, "synth"),
            schema.to_json(),
            None if holdout is None else _table_arg(holdout, "holdout"),
            target,
            positive,
            feats,
            wl,
            _int(sample_rows, "sample_rows", 1, 2**32 - 1),
            _int(seed, "seed", 0),
            callback,
        )
    return EvalReport(native)

"""A corpus of bad inputs across the whole Python API (issue 14; the CLI's is
``crates/cli/tests/bad_input.rs``).

Each case asserts that the call raises a typed pets exception (never a bare ``Exception``,
``pyarrow.ArrowInvalid``, ``OverflowError`` or a Rust panic), that the message names the
thing at fault (column, argument, file or value), that no file is left in the output
folder, and that it answers within a few seconds (no hang).
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pets
import pets.datasets
import pets.dp
import pets.federated
import pets.risk
import pets.synth
import pets.table

ROWS = 400
#: A bad input must be refused well within this (no hang).
SECONDS = 10.0


@dataclass
class Ctx:
    """What the cases work on: the A&E data as a table and as files, its schema, a fitted
    synthesiser and its model file, and an empty output folder (``out``) per case."""

    ae: pa.Table
    schema: pets.Schema
    csv: str
    parquet: str
    model: str
    mst: pets.synth.MST
    files: Path
    out: Path

    def o(self, name: str) -> str:
        """A path in the output folder."""
        return str(self.out / name)

    def f(self, name: str) -> str:
        """A scratch input file (in the input folder)."""
        return str(self.files / name)

    def session(self, **kwargs: Any) -> pets.dp.Session:
        return pets.dp.Session(**{"epsilon": 1.0, "schema": self.schema, **kwargs})


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    files = tmp_path_factory.mktemp("inputs")
    ae = pets.datasets.generate_ae(ROWS, seed=5)
    schema = pets.datasets.ae_schema()
    csv, parquet = str(files / "ae.csv"), str(files / "ae.parquet")
    pets.write_table(ae, csv)
    pets.write_table(ae, parquet)
    mst = pets.synth.MST(1.0, schema=schema, columns=["sex", "acuity", "arrival_mode"]).fit(ae)
    model = str(mst.save(files / "model.json"))
    # Scratch inputs shared by several cases.
    (files / "dir.csv").mkdir()
    (files / "dir.parquet").mkdir()
    (files / "dir.json").mkdir()
    (files / "data.xlsx").write_text("a,b\n1,2\n")
    (files / "ragged.csv").write_text('age,sex\n1,2\n3\n4,"5\n')
    (files / "empty.csv").write_text("")
    (files / "dup.csv").write_text("age,age\n30,31\n")
    (files / "header_only.csv").write_text("age,sex\n")
    (files / "text.parquet").write_text("age,sex\n1,2\n")
    (files / "not_json.json").write_text("{ this is not json")
    (files / "bad.toml").write_text("[[columns]]\nname = \n")
    doc = json.loads(Path(model).read_text())
    (files / "truncated_model.json").write_text(Path(model).read_text()[:200])
    (files / "future_model.json").write_text(json.dumps({**doc, "version": 999}))
    (files / "other_method.json").write_text(json.dumps({**doc, "method": "aim"}))
    pq.write_table(
        pa.table([pa.array([30, 40]), pa.array([31, 41])], names=["age", "age"]),
        files / "dup.parquet",
    )
    return Ctx(ae, schema, csv, parquet, model, mst, files, files)


@pytest.fixture
def ctx(base, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    return Ctx(**{**base.__dict__, "out": out})


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[Ctx], Any]
    error: type[BaseException]
    says: tuple[str, ...]


def case(id: str, call: Callable[[Ctx], Any], error: type, *says: str) -> Any:
    return pytest.param(Case(id, call, error, says), id=id)


def dup_table() -> pa.Table:
    return pa.table([pa.array([30, 40]), pa.array([31, 41])], names=["age", "age"])


def dup_pandas() -> pd.DataFrame:
    return pd.DataFrame([[30, 31], [40, 41]], columns=["age", "age"])


def mixed_pandas() -> pd.DataFrame:
    return pd.DataFrame({"age": [30, "forty", 50.5]})


def huge_pandas() -> pd.DataFrame:
    return pd.DataFrame({"age": pd.Series([30, 10**20], dtype=object)})


def ages(c: Ctx) -> pets.Schema:
    return c.schema.select(["age"])


def fed(c: Ctx, **kwargs: Any) -> Any:
    args: dict[str, Any] = {
        "data": c.ae,
        "split_by": "provider_code",
        "groups": 3,
        "schema": c.schema,
        "tables": [["sex"]],
        "rho": 0.5,
        "max_trusts_per_person": 1,
    }
    args.update(kwargs)
    trusts = args.pop("trusts", None)
    return pets.federated.simulate(trusts, **args)


def anon(c: Ctx, **kwargs: Any) -> Any:
    args: dict[str, Any] = {"qi": ["age", "sex"], "schema": c.schema, "k": 5}
    args.update(kwargs)
    return pets.anonymise(args.pop("data", c.ae), **args)


def risk(c: Ctx, **kwargs: Any) -> Any:
    args: dict[str, Any] = {"qi": ["sex", "age_band"], "schema": c.schema}
    args.update(kwargs)
    return pets.risk.assess(args.pop("data", c.ae), **args)


def schema_dict(**column: Any) -> dict[str, Any]:
    return {"columns": [{"name": "a", "kind": "integer", "min": 0, "max": 9, **column}]}


CASES = [
    # -- files: missing, directories, wrong formats (read_table, write_table) --------------
    case(
        "read-missing",
        lambda c: pets.read_table(c.o("missing.csv")),
        pets.PetsIOError,
        "missing.csv",
    ),
    case("read-dir-csv", lambda c: pets.read_table(c.f("dir.csv")), pets.PetsIOError, "dir.csv"),
    case(
        "read-dir-parquet",
        lambda c: pets.read_table(c.f("dir.parquet")),
        pets.PetsIOError,
        "dir.parquet",
        "directory",
    ),
    case(
        "read-dir-no-extension",
        lambda c: pets.read_table(c.files),
        pets.PetsIOError,
        str(Path("inputs")),
    ),
    case("read-xlsx", lambda c: pets.read_table(c.f("data.xlsx")), pets.PetsIOError, "xlsx"),
    case(
        "read-ragged-csv",
        lambda c: pets.read_table(c.f("ragged.csv")),
        pets.ParseError,
        "ragged.csv",
    ),
    case(
        "read-text-as-parquet",
        lambda c: pets.read_table(c.f("text.parquet")),
        pets.PetsIOError,
        "text.parquet",
        "not a readable Parquet file",
    ),
    case(
        "read-empty-file",
        lambda c: pets.read_table(c.f("empty.csv"), header=True),
        pets.EmptyInputError,
        "empty.csv",
    ),
    case(
        "read-two-char-delimiter",
        lambda c: pets.read_table(c.csv, delimiter="ab"),
        pets.InvalidParameterError,
        "delimiter",
    ),
    case(
        "read-dup-parquet-columns",
        lambda c: pets.encode(c.f("dup.parquet"), ages(c)),
        pets.SchemaError,
        '"age"',
        "twice",
    ),
    case(
        "read-dup-csv-header",
        lambda c: pets.encode(c.f("dup.csv"), ages(c)),
        pets.ParseError,
        "dup.csv",
        '"age" appears twice',
    ),
    case("write-xlsx", lambda c: pets.write_table(c.ae, c.o("t.xlsx")), pets.PetsIOError, "xlsx"),
    case(
        "write-into-missing-dir",
        lambda c: pets.write_table(c.ae, c.o("no/such/t.csv")),
        pets.PetsIOError,
        "t.csv",
    ),
    case(
        "write-over-dir",
        lambda c: pets.write_table(c.ae, c.f("dir.csv")),
        pets.PetsIOError,
        "dir.csv",
    ),
    # -- tables from pandas / polars / pyarrow that cannot be read as declared -------------
    case(
        "encode-dup-pyarrow",
        lambda c: pets.encode(dup_table(), ages(c)),
        pets.SchemaError,
        '"age"',
        "twice",
    ),
    case(
        "encode-dup-pandas",
        lambda c: pets.encode(dup_pandas(), ages(c)),
        pets.SchemaError,
        "age",
        "twice",
    ),
    case(
        "encode-mixed-pandas",
        lambda c: pets.encode(mixed_pandas(), ages(c)),
        pets.ParseError,
        '"age"',
        "forty",
    ),
    case(
        "encode-int-too-big-pandas",
        lambda c: pets.encode(huge_pandas(), ages(c)),
        pets.ParseError,
        '"age"',
        "100000000000000000000",
    ),
    case(
        "encode-uint64-beyond-i64",
        lambda c: pets.encode(pa.table({"age": pa.array([2**64 - 1], pa.uint64())}), ages(c)),
        pets.DomainError,
        '"age"',
        "18446744073709551615",
    ),
    case(
        "encode-text-in-integer-polars",
        lambda c: pets.encode(pl.DataFrame({"age": ["30", "old"]}), ages(c)),
        pets.ParseError,
        '"age"',
        "old",
    ),
    case(
        "encode-out-of-domain",
        lambda c: pets.encode(pa.table({"age": [30, 500]}), ages(c)),
        pets.DomainError,
        '"age"',
        "500",
    ),
    case(
        "encode-null-not-allowed",
        lambda c: pets.encode(pa.table({"age": pa.array([30, None], pa.int64())}), ages(c)),
        pets.DomainError,
        '"age"',
        "row 2",
    ),
    case(
        "encode-missing-column",
        lambda c: pets.encode(pa.table({"sex": ["1"]}), ages(c)),
        pets.SchemaError,
        '"age"',
    ),
    case(
        "encode-unknown-columns-arg",
        lambda c: pets.encode(c.ae, c.schema, columns=["nope"]),
        pets.SchemaError,
        "nope",
    ),
    case(
        "encode-list-column",
        lambda c: pets.encode(pa.table({"age": pa.array([[1, 2]])}), ages(c)),
        pets.SchemaError,
        '"age"',
    ),
    case(
        "encode-empty-table",
        lambda c: pets.encode(pa.table({"age": pa.array([], pa.int64())}), ages(c)),
        pets.EmptyInputError,
        "no rows",
    ),
    case(
        "encode-header-only-file",
        lambda c: pets.encode(c.f("header_only.csv"), ages(c)),
        pets.EmptyInputError,
        "header_only.csv",
    ),
    case(
        "encode-bad-out-of-domain-mode",
        lambda c: pets.encode(c.ae, c.schema, out_of_domain="drop"),
        pets.InvalidParameterError,
        "out_of_domain",
        "drop",
    ),
    case("infer-dup-pyarrow", lambda c: pets.infer_schema(dup_table()), pets.SchemaError, '"age"'),
    case(
        "infer-mixed-pandas", lambda c: pets.infer_schema(mixed_pandas()), pets.ParseError, '"age"'
    ),
    case(
        "infer-missing-file",
        lambda c: pets.infer_schema(c.o("nope.csv")),
        pets.PetsIOError,
        "nope.csv",
    ),
    case(
        "infer-dir-parquet",
        lambda c: pets.infer_schema(c.f("dir.parquet")),
        pets.PetsIOError,
        "dir.parquet",
    ),
    case(
        "infer-empty-table",
        lambda c: pets.infer_schema(pa.table({"a": pa.array([], "int64")})),
        pets.EmptyInputError,
        "empty",
    ),
    case(
        "infer-negative-max-categories",
        lambda c: pets.infer_schema(c.ae, max_categories=-1),
        pets.InvalidParameterError,
        "max_categories",
    ),
    # -- schemas: load, parse, unknown keys, bad kinds and values ---------------------------
    case("schema-not-json", lambda c: pets.Schema.from_json("{ nope"), pets.SchemaError, "JSON"),
    case(
        "schema-unknown-column-key",
        lambda c: pets.Schema.from_dict(schema_dict(colour=1)),
        pets.SchemaError,
        "colour",
    ),
    case(
        "schema-unknown-top-key",
        lambda c: pets.Schema.from_dict({**schema_dict(), "colums": []}),
        pets.SchemaError,
        "colums",
    ),
    case(
        "schema-bad-kind",
        lambda c: pets.Schema.from_dict(schema_dict(kind="banana")),
        pets.SchemaError,
        "banana",
    ),
    case(
        "schema-min-above-max",
        lambda c: pets.Schema.from_dict(schema_dict(min=9, max=0)),
        pets.SchemaError,
        '"a"',
    ),
    case(
        "schema-min-not-a-number",
        lambda c: pets.Schema.from_dict(schema_dict(min="zero")),
        pets.SchemaError,
        "zero",
    ),
    case(
        "schema-categorical-without-values",
        lambda c: pets.Schema.from_dict({"columns": [{"name": "s", "kind": "categorical"}]}),
        pets.SchemaError,
        "values",
    ),
    case(
        "schema-column-twice",
        lambda c: pets.Schema.from_dict({"columns": schema_dict()["columns"] * 2}),
        pets.SchemaError,
        '"a"',
        "twice",
    ),
    case(
        "schema-bad-role",
        lambda c: pets.Schema.from_dict(schema_dict(role="villain")),
        pets.SchemaError,
        "villain",
    ),
    case(
        "schema-bad-csv-delimiter",
        lambda c: pets.Schema.from_dict({**schema_dict(), "csv": {"delimiter": ";;"}}),
        pets.SchemaError,
        ";;",
    ),
    case(
        "schema-no-columns",
        lambda c: pets.Schema.from_json('{"columns": []}'),
        pets.SchemaError,
        "no columns",
    ),
    case("schema-bad-toml", lambda c: pets.Schema.load(c.f("bad.toml")), pets.SchemaError, "TOML"),
    case(
        "schema-load-missing",
        lambda c: pets.Schema.load(c.o("nope.json")),
        pets.PetsIOError,
        "nope.json",
    ),
    case(
        "schema-load-dir", lambda c: pets.Schema.load(c.f("dir.json")), pets.PetsIOError, "dir.json"
    ),
    case(
        "schema-load-not-json",
        lambda c: pets.Schema.load(c.f("not_json.json")),
        pets.SchemaError,
        "JSON",
    ),
    case(
        "schema-save-missing-dir",
        lambda c: c.schema.save(c.o("no/such/s.json")),
        pets.PetsIOError,
        "s.json",
    ),
    case("schema-unknown-column", lambda c: c.schema.column("nope"), pets.SchemaError, "nope"),
    case(
        "schema-select-unknown",
        lambda c: c.schema.select(["age", "nope"]),
        pets.SchemaError,
        "nope",
    ),
    # -- disclosure risk ---------------------------------------------------------------------
    case("risk-k-zero", lambda c: risk(c, k=0), pets.InvalidParameterError, "k"),
    case("risk-k-negative", lambda c: risk(c, k=-3), pets.InvalidParameterError, "k", "-3"),
    case(
        "risk-k-huge",
        lambda c: risk(c, k=2**70),
        pets.InvalidParameterError,
        "k",
        "1180591620717411303424",
    ),
    case(
        "risk-t-above-one",
        lambda c: risk(c, sensitive="diagnosis_group", t=1.5),
        pets.InvalidParameterError,
        "t",
    ),
    case(
        "risk-threshold-nan",
        lambda c: risk(c, risk_threshold=math.nan),
        pets.InvalidParameterError,
        "risk_threshold",
    ),
    case(
        "risk-threshold-huge-int",
        lambda c: risk(c, risk_threshold=10**400),
        pets.InvalidParameterError,
        "risk_threshold",
    ),
    case(
        "risk-sampling-fraction-zero",
        lambda c: risk(c, sampling_fraction=0.0),
        pets.InvalidParameterError,
        "sampling",
    ),
    case("risk-unknown-qi", lambda c: risk(c, qi=["sex", "nope"]), pets.SchemaError, "nope"),
    case(
        "risk-sensitive-also-qi",
        lambda c: risk(c, sensitive="sex"),
        pets.InvalidParameterError,
        "sex",
    ),
    case(
        "risk-l-without-sensitive",
        lambda c: risk(c, l=2, schema=c.schema.select(["sex", "age_band"])),
        pets.InvalidParameterError,
        "sensitive",
    ),
    case(
        "risk-bad-l-variant",
        lambda c: risk(c, l_variant="most"),
        pets.InvalidParameterError,
        "l_variant",
        "most",
    ),
    case(
        "risk-bad-ground-distance",
        lambda c: risk(c, sensitive="diagnosis_group", t=0.5, ground_distance="far"),
        pets.InvalidParameterError,
        "far",
    ),
    case(
        "risk-bad-generalise-level",
        lambda c: risk(c, generalise={"arrival_datetime": "eon"}),
        pets.InvalidParameterError,
        "eon",
    ),
    case(
        "risk-missing-file", lambda c: risk(c, data=c.o("nope.csv")), pets.PetsIOError, "nope.csv"
    ),
    case(
        "risk-dir-parquet",
        lambda c: risk(c, data=c.f("dir.parquet")),
        pets.PetsIOError,
        "dir.parquet",
    ),
    case(
        "risk-dup-columns",
        lambda c: risk(c, data=dup_table(), qi=["age"], schema=ages(c)),
        pets.SchemaError,
        '"age"',
        "twice",
    ),
    case(
        "risk-dup-pandas",
        lambda c: risk(c, data=dup_pandas(), qi=["age"], schema=ages(c)),
        pets.SchemaError,
        "age",
        "twice",
    ),
    case(
        "risk-mixed-pandas",
        lambda c: risk(c, data=mixed_pandas(), qi=["age"], schema=ages(c)),
        pets.ParseError,
        '"age"',
    ),
    case(
        "risk-missing-population",
        lambda c: risk(c, population=c.o("pop.csv")),
        pets.PetsIOError,
        "pop.csv",
    ),
    # -- differential privacy: budgets, queries, overspend -----------------------------------
    case("dp-epsilon-zero", lambda c: c.session(epsilon=0), pets.InvalidParameterError, "epsilon"),
    case(
        "dp-epsilon-negative",
        lambda c: c.session(epsilon=-1.0),
        pets.InvalidParameterError,
        "epsilon",
    ),
    case(
        "dp-epsilon-nan",
        lambda c: c.session(epsilon=math.nan),
        pets.InvalidParameterError,
        "epsilon",
    ),
    case(
        "dp-epsilon-inf",
        lambda c: c.session(epsilon=math.inf),
        pets.InvalidParameterError,
        "epsilon",
    ),
    case(
        "dp-epsilon-huge-int",
        lambda c: c.session(epsilon=10**400),
        pets.InvalidParameterError,
        "epsilon",
    ),
    case(
        "dp-rho-zero", lambda c: c.session(epsilon=None, rho=0.0), pets.InvalidParameterError, "rho"
    ),
    case(
        "dp-epsilon-and-rho",
        lambda c: c.session(rho=1.0),
        pets.InvalidParameterError,
        "epsilon",
        "rho",
    ),
    case(
        "dp-neither-budget",
        lambda c: c.session(epsilon=None),
        pets.InvalidParameterError,
        "epsilon",
        "rho",
    ),
    case("dp-delta-one", lambda c: c.session(delta=1.0), pets.InvalidParameterError, "delta"),
    case("dp-alpha-zero", lambda c: c.session(alpha=0.0), pets.InvalidParameterError, "alpha"),
    case(
        "dp-split-zero",
        lambda c: c.session(split_evenly_over=0),
        pets.InvalidParameterError,
        "split_evenly_over",
    ),
    case(
        "dp-split-negative",
        lambda c: c.session(split_evenly_over=-2),
        pets.InvalidParameterError,
        "split_evenly_over",
    ),
    case(
        "dp-max-rows-zero",
        lambda c: c.session(max_rows_per_person=0),
        pets.InvalidParameterError,
        "max_rows_per_person",
    ),
    case("dp-bad-noise", lambda c: c.session(noise="pink"), pets.InvalidParameterError, "pink"),
    case(
        "dp-budget-file-missing",
        lambda c: c.session(budget=c.o("budget.jsonl")),
        pets.PetsIOError,
        "budget.jsonl",
    ),
    case(
        "dp-count-unknown-column",
        lambda c: c.session().count(c.ae, by=["nope"]),
        pets.SchemaError,
        "nope",
    ),
    case(
        "dp-mean-unknown-column",
        lambda c: c.session().mean(c.ae, "nope", bounds=(0, 1)),
        pets.SchemaError,
        "nope",
    ),
    case(
        "dp-mean-of-categorical",
        lambda c: c.session().mean(c.ae, "sex", bounds=(0, 9)),
        pets.SchemaError,
        '"sex"',
        "categorical",
    ),
    case(
        "dp-bounds-reversed",
        lambda c: c.session().mean(c.ae, "age", bounds=(110, 0)),
        pets.InvalidParameterError,
        "age",
        "110",
    ),
    case(
        "dp-bounds-nan",
        lambda c: c.session().sum(c.ae, "age", bounds=(0, math.nan)),
        pets.InvalidParameterError,
        "age",
    ),
    case(
        "dp-bounds-huge-int",
        lambda c: c.session().sum(c.ae, "age", bounds=(0, 10**400)),
        pets.InvalidParameterError,
        "bounds",
    ),
    case(
        "dp-quantile-above-one",
        lambda c: c.session().quantile(c.ae, "age", 1.5, bounds=(0, 110)),
        pets.InvalidParameterError,
        "1.5",
    ),
    case(
        "dp-overspend",
        lambda c: c.session().count(c.ae, epsilon=2.0),
        pets.BudgetExceededError,
        "epsilon",
    ),
    case(
        "dp-query-epsilon-zero",
        lambda c: c.session().count(c.ae, epsilon=0.0),
        pets.InvalidParameterError,
        "epsilon",
    ),
    case(
        "dp-query-epsilon-huge-int",
        lambda c: c.session().count(c.ae, epsilon=10**400),
        pets.InvalidParameterError,
        "epsilon",
    ),
    case(
        "dp-query-epsilon-subnormal",
        lambda c: c.session(epsilon=1e-320).count(c.ae),
        pets.InvalidParameterError,
        "epsilon",
        "too small",
    ),
    case(
        "dp-quantile-nan",
        lambda c: c.session().quantile(c.ae, "age", math.nan, bounds=(0, 110)),
        pets.InvalidParameterError,
        "q",
        "nan",
    ),
    case(
        "dp-candidates-inf",
        lambda c: c.session().quantile(c.ae, "age", 0.5, bounds=(0, 110), candidates=[1, math.inf]),
        pets.InvalidParameterError,
        "candidates",
    ),
    case(
        "dp-query-rho-on-epsilon-budget",
        lambda c: c.session().count(c.ae, rho=0.1),
        pets.InvalidParameterError,
        "rho",
    ),
    case(
        "dp-group-by-without-delta",
        lambda c: c.session().group_by(c.ae, by=["sex"]),
        pets.InvalidParameterError,
        "delta",
    ),
    case(
        "dp-unknown-id-column",
        lambda c: c.session(id_column="nope").count(c.ae),
        pets.SchemaError,
        "nope",
    ),
    case(
        "dp-dir-parquet",
        lambda c: c.session().count(c.f("dir.parquet")),
        pets.PetsIOError,
        "dir.parquet",
    ),
    case(
        "dp-dup-columns",
        lambda c: c.session(schema=ages(c)).mean(dup_table(), "age", bounds=(0, 110)),
        pets.SchemaError,
        '"age"',
        "twice",
    ),
    case(
        "dp-mixed-pandas",
        lambda c: c.session(schema=ages(c)).mean(mixed_pandas(), "age", bounds=(0, 110)),
        pets.ParseError,
        '"age"',
    ),
    # -- synthetic data: fit, sample, model files ------------------------------------------
    case(
        "synth-epsilon-zero", lambda c: pets.synth.MST(0.0), pets.InvalidParameterError, "epsilon"
    ),
    case(
        "synth-epsilon-huge-int",
        lambda c: pets.synth.MST(10**400),
        pets.InvalidParameterError,
        "epsilon",
    ),
    case(
        "synth-epsilon-nan",
        lambda c: pets.synth.MST(math.nan),
        pets.InvalidParameterError,
        "epsilon",
    ),
    case(
        "synth-delta-one",
        lambda c: pets.synth.MST(1.0, delta=1.0),
        pets.InvalidParameterError,
        "delta",
    ),
    case(
        "synth-no-columns",
        lambda c: pets.synth.MST(1.0, columns=[]),
        pets.InvalidParameterError,
        "columns",
    ),
    case(
        "synth-max-values-one",
        lambda c: pets.synth.MST(1.0, max_values=1),
        pets.InvalidParameterError,
        "max_values",
    ),
    case(
        "synth-unknown-column",
        lambda c: pets.synth.MST(1.0, schema=c.schema, columns=["sex", "nope"]).fit(c.ae),
        pets.SchemaError,
        "nope",
    ),
    case(
        "synth-unknown-person-id",
        lambda c: pets.synth.MST(1.0, schema=c.schema, columns=["sex"], person_id="nope").fit(c.ae),
        pets.SchemaError,
        "nope",
    ),
    case(
        "synth-fit-dir-parquet",
        lambda c: pets.synth.MST(1.0, schema=c.schema, columns=["sex"]).fit(c.f("dir.parquet")),
        pets.PetsIOError,
        "dir.parquet",
    ),
    case(
        "synth-fit-dup-columns",
        lambda c: pets.synth.MST(1.0, schema=ages(c)).fit(dup_table()),
        pets.SchemaError,
        '"age"',
        "twice",
    ),
    case(
        "synth-fit-mixed-pandas",
        lambda c: pets.synth.MST(1.0, schema=ages(c)).fit(mixed_pandas()),
        pets.ParseError,
        '"age"',
    ),
    case(
        "synth-budget-file-missing",
        lambda c: pets.synth.MST(
            1.0, schema=c.schema, columns=["sex"], budget=c.o("budget.jsonl")
        ).fit(c.ae),
        pets.PetsIOError,
        "budget.jsonl",
    ),
    case("synth-sample-negative", lambda c: c.mst.sample(-1), pets.InvalidParameterError, "-1"),
    case(
        "synth-sample-too-many",
        lambda c: c.mst.sample(10**13),
        pets.InvalidParameterError,
        "rows",
        "10000000000000",
    ),
    case(
        "synth-sample-huge-int",
        lambda c: c.mst.sample(2**70),
        pets.InvalidParameterError,
        "1180591620717411303424",
    ),
    case(
        "synth-sample-seed-negative",
        lambda c: c.mst.sample(5, seed=-1),
        pets.InvalidParameterError,
        "seed",
    ),
    case(
        "synth-write-too-many",
        lambda c: c.mst.write_sample(c.o("s.csv"), 10**13),
        pets.InvalidParameterError,
        "rows",
    ),
    case(
        "synth-write-xlsx", lambda c: c.mst.write_sample(c.o("s.xlsx"), 5), pets.PetsIOError, "xlsx"
    ),
    case(
        "synth-load-missing",
        lambda c: pets.synth.load_model(c.o("nope.json")),
        pets.PetsIOError,
        "nope.json",
    ),
    case(
        "synth-load-dir",
        lambda c: pets.synth.load_model(c.f("dir.json")),
        pets.PetsIOError,
        "dir.json",
    ),
    case(
        "synth-load-schema-not-model",
        lambda c: pets.synth.load_model(c.f("not_json.json")),
        pets.PetsError,
        "not_json.json",
    ),
    case(
        "synth-load-truncated",
        lambda c: pets.synth.load_model(c.f("truncated_model.json")),
        pets.PetsError,
        "truncated_model.json",
    ),
    case(
        "synth-load-future-version",
        lambda c: pets.synth.load_model(c.f("future_model.json")),
        pets.PetsError,
        "999",
    ),
    case(
        "synth-mst-load-other-method",
        lambda c: pets.synth.MST.load(c.f("other_method.json")),
        pets.PetsError,
        "aim",
    ),
    case(
        "synth-from-json-empty",
        lambda c: pets.synth.SynthModel.from_json("{}"),
        pets.PetsError,
        "model",
    ),
    case(
        "synth-prepare-unknown-column",
        lambda c: pets.synth.prepare_domain(c.schema, ["nope"]),
        pets.SchemaError,
        "nope",
    ),
    # -- anonymisation ----------------------------------------------------------------------
    case("anon-k-zero", lambda c: anon(c, k=0), pets.InvalidParameterError, "k"),
    case(
        "anon-suppression-above-one",
        lambda c: anon(c, max_suppression=1.5),
        pets.InvalidParameterError,
        "between 0 and 1",
    ),
    case(
        "anon-suppression-nan",
        lambda c: anon(c, max_suppression=math.nan),
        pets.InvalidParameterError,
        "max_suppression",
    ),
    case(
        "anon-hierarchy-not-nesting",
        lambda c: anon(c, hierarchy={"age": "3,5"}),
        pets.InvalidParameterError,
        "age",
        "nest",
    ),
    case(
        "anon-hierarchy-not-qi",
        lambda c: anon(c, hierarchy={"ethnic_category": "none"}),
        pets.InvalidParameterError,
        "not a quasi-identifier",
    ),
    case(
        "anon-hierarchy-file-missing",
        lambda c: anon(c, hierarchy={"sex": "@" + c.o("nope.csv")}),
        pets.PetsIOError,
        "nope.csv",
    ),
    case(
        "anon-bad-measure",
        lambda c: anon(c, measure="beauty"),
        pets.InvalidParameterError,
        "beauty",
    ),
    case(
        "anon-microaggregate-text",
        lambda c: anon(c, microaggregate={"sex": "mean"}),
        pets.InvalidParameterError,
        "sex",
        "numeric",
    ),
    case(
        "anon-microaggregate-not-qi",
        lambda c: anon(c, qi=["sex"], microaggregate={"age": "median"}),
        pets.InvalidParameterError,
        "age",
        "not a quasi-identifier",
    ),
    case(
        "anon-microaggregate-and-hierarchy",
        lambda c: anon(c, hierarchy={"age": "5,10"}, microaggregate={"age": "mean"}),
        pets.InvalidParameterError,
        "both a hierarchy",
    ),
    case(
        "anon-microaggregate-unknown-function",
        lambda c: anon(c, microaggregate={"age": "average"}),
        pets.InvalidParameterError,
        "average",
    ),
    case("anon-unknown-qi", lambda c: anon(c, qi=["age", "nope"]), pets.SchemaError, "nope"),
    case("anon-output-xlsx", lambda c: anon(c, output=c.o("r.xlsx")), pets.PetsIOError, "xlsx"),
    case(
        "anon-impossible",
        lambda c: anon(c, qi=["sex"], k=100_000, max_suppression=0.0, output=c.o("r.csv")),
        pets.PetsError,
        "no transformation",
    ),
    case(
        "anon-dup-columns",
        lambda c: anon(c, data=dup_table(), qi=["age"], schema=ages(c)),
        pets.SchemaError,
        '"age"',
        "twice",
    ),
    # -- federated ----------------------------------------------------------------------------
    case("fed-rho-zero", lambda c: fed(c, rho=0.0), pets.InvalidParameterError, "rho"),
    case("fed-rho-nan", lambda c: fed(c, rho=math.nan), pets.InvalidParameterError, "rho"),
    case("fed-rho-huge-int", lambda c: fed(c, rho=10**400), pets.InvalidParameterError, "rho"),
    case(
        "fed-threshold-one", lambda c: fed(c, threshold=1), pets.InvalidParameterError, "threshold"
    ),
    case(
        "fed-colluders-negative",
        lambda c: fed(c, colluders=-1),
        pets.InvalidParameterError,
        "colluders",
    ),
    case(
        "fed-colluders-at-threshold",
        lambda c: fed(c, threshold=2, colluders=2),
        pets.InvalidParameterError,
        "colluders",
    ),
    case(
        "fed-bad-protocol",
        lambda c: fed(c, protocol="smoke-signals"),
        pets.InvalidParameterError,
        "smoke-signals",
    ),
    case(
        "fed-bad-drop-point",
        lambda c: fed(c, drops={"trust_1": "before-lunch"}),
        pets.InvalidParameterError,
        "before-lunch",
    ),
    case(
        "fed-drop-unknown-trust",
        lambda c: fed(c, drops={"nope": "before-keys"}),
        pets.InvalidParameterError,
        "nope",
    ),
    case(
        "fed-split-unknown-column",
        lambda c: fed(c, split_by="nope"),
        pets.SchemaError,
        '"nope"',
        "available columns",
    ),
    case("fed-one-group", lambda c: fed(c, groups=1), pets.InvalidParameterError, "trusts"),
    case("fed-groups-negative", lambda c: fed(c, groups=-1), pets.InvalidParameterError, "groups"),
    case(
        "fed-max-rows-negative",
        lambda c: fed(c, max_rows_per_person=-1),
        pets.InvalidParameterError,
        "max_rows_per_person",
    ),
    case("fed-unknown-table-column", lambda c: fed(c, tables=[["nope"]]), pets.SchemaError, "nope"),
    case(
        "fed-trusts-and-data",
        lambda c: fed(c, trusts={"a": c.ae, "b": c.ae}),
        pets.InvalidParameterError,
        "trusts",
    ),
    case(
        "fed-trust-file-missing",
        lambda c: fed(
            c,
            data=None,
            split_by=None,
            groups=None,
            trusts={"a": c.csv, "b": c.o("nope.csv"), "c": c.csv},
        ),
        pets.PetsIOError,
        "nope.csv",
    ),
    case(
        "fed-data-file-missing",
        lambda c: fed(c, data=c.o("nope.csv")),
        pets.PetsIOError,
        "nope.csv",
    ),
    # -- datasets -----------------------------------------------------------------------------
    case(
        "ae-rows-negative",
        lambda c: pets.datasets.generate_ae(-1),
        pets.InvalidParameterError,
        "rows",
    ),
    case(
        "ae-rows-huge-int",
        lambda c: pets.datasets.generate_ae(2**70),
        pets.InvalidParameterError,
        "rows",
    ),
    case("ae-days-zero", lambda c: pets.datasets.generate_ae(10, days=0), pets.PetsError, "days"),
    case(
        "ae-bad-start-date",
        lambda c: pets.datasets.generate_ae(10, start_date="yesterday"),
        pets.InvalidParameterError,
        "start_date",
        "yesterday",
    ),
    case(
        "ae-schema-days-huge",
        lambda c: pets.datasets.ae_schema(days=100_000),
        pets.PetsError,
        "days",
    ),
    case(
        "ae-write-xlsx",
        lambda c: pets.datasets.write_ae(c.o("ae.xlsx"), 10),
        pets.PetsIOError,
        "xlsx",
    ),
    case(
        "ae-batch-rows-zero",
        lambda c: pets.datasets.generate_ae(10, batch_rows=0),
        pets.PetsError,
        "batch_rows",
    ),
    # -- protected tables ---------------------------------------------------------------------
    case(
        "table-unknown-column",
        lambda c: pets.table.protect(c.ae, by=[["nope"]], schema=c.schema),
        pets.SchemaError,
        "nope",
    ),
    case(
        "table-bad-rule",
        lambda c: pets.table.protect(c.ae, by=[["sex"]], rule="lax", schema=c.schema),
        pets.InvalidParameterError,
        "lax",
    ),
    case(
        "table-threshold-zero",
        lambda c: pets.table.protect(
            c.ae, by=[["sex"]], rule="threshold", threshold=0, schema=c.schema
        ),
        pets.InvalidParameterError,
        "threshold",
    ),
]


NOT_TYPED = (pa.ArrowException, OverflowError)


@pytest.mark.parametrize("bad", CASES)
def test_bad_input_gets_a_typed_error_naming_the_fault(bad: Case, ctx: Ctx):
    start = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(BaseException) as info:  # noqa: PT011 (the type is checked below)
            bad.call(ctx)
    elapsed = time.monotonic() - start
    err = info.value
    assert isinstance(err, pets.PetsError), f"{type(err).__module__}.{type(err).__name__}: {err}"
    assert not isinstance(err, NOT_TYPED), f"{type(err).__name__}: {err}"
    assert isinstance(err, bad.error), f"{type(err).__name__}: {err}"
    message = str(err)
    for word in bad.says:
        assert word in message, f"{word!r} not in {message!r}"
    assert list(ctx.out.iterdir()) == [], "a file was left behind"
    assert elapsed < SECONDS, f"took {elapsed:.1f} s"


def test_the_corpus_is_large():
    assert len(CASES) >= 70


def test_path_is_read_with_the_schemas_csv_section(tmp_path):
    """A header-less, ``?``-coded, padded CSV whose schema declares its ``csv`` section
    gives the same risk figures, DP table and synthesis as a clean copy."""
    columns = ["sex", "age_band", "arrival_mode", "length_of_stay_days"]
    table = pets.datasets.generate_ae(2_000, seed=8).select(columns)
    clean = tmp_path / "clean.csv"
    pets.write_table(table, clean)
    lines = []
    for row in table.to_pylist():
        cells = ["?" if row[c] is None else f"  {row[c]} " for c in columns]
        lines.append(";".join(cells))
    messy = tmp_path / "messy.csv"
    messy.write_text("\n".join(lines) + "\n")
    declared = pets.datasets.ae_schema().select(columns).to_dict()
    declared["csv"] = {"header": False, "delimiter": ";", "null_values": ["", "?"], "trim": True}
    schema = pets.Schema.from_dict(declared)
    plain = pets.datasets.ae_schema().select(columns)
    assert table["length_of_stay_days"].null_count > 0

    def figures(data, s):
        report = pets.risk.assess(
            data,
            qi=["sex", "age_band", "length_of_stay_days"],
            sensitive="arrival_mode",
            k=3,
            l=2,
            schema=s,
            scenarios=False,
            suda=False,
            what_if=False,
        )
        d = report.to_dict()
        return report.k, report.n_records, report.checks, d["k_anonymity"], d["l_diversity"]

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is sniffed: the schema said it all
        via_path = figures(str(messy), schema)
    assert via_path == figures(table, plain)
    assert via_path == figures(clean, plain)

    # The same path with population and attacker tables, and synthesis from the path.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = pets.risk.assess(
            messy,
            qi=["sex", "age_band"],
            schema=schema,
            population=messy,
            scenarios=False,
            suda=False,
        )
        model = pets.synth.MST(1.0, schema=schema, columns=columns).fit(messy).model
    assert again.n_records == table.num_rows
    assert model.columns == columns

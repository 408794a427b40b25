"""pets.risk: the Python face of `pets risk` agrees with the CLI, takes every table kind, and
raises a typed exception for each kind of bad input."""

import json
import math
import os
import shutil
import subprocess
import warnings
from pathlib import Path

import pyarrow as pa
import pytest

import pets
import pets.datasets
import pets.risk

ROWS = 4_000
QI = ["sex", "age_band", "postcode_district"]
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def ae():
    return pets.datasets.generate_ae(ROWS, seed=11)


@pytest.fixture(scope="module")
def schema():
    return pets.datasets.ae_schema()


def quiet_assess(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pets.DomainFromDataWarning)
        return pets.risk.assess(*args, **kwargs)


def comparable(report: dict) -> dict:
    """A report without what legitimately differs between two runs (timings)."""
    out = dict(report)
    out.pop("timings_ms")
    return out


# -- agreement with the command line --------------------------------------------------------


def cli_binary() -> str | None:
    for candidate in (
        os.environ.get("PETS_CLI"),
        str(REPO / "target" / "release" / "pets"),
        shutil.which("pets"),
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def write_inputs(tmp_path, ae, schema) -> tuple[Path, Path]:
    """The extract as Parquet and its schema as JSON, for the command line."""
    data_path = tmp_path / "ae.parquet"
    pets.write_table(ae, data_path)
    schema_path = tmp_path / "ae.schema.json"
    schema.save(schema_path)
    return data_path, schema_path


def run_cli(tmp_path, data_path, args) -> tuple[int, dict]:
    cli = cli_binary()
    if cli is None:
        pytest.skip("the pets CLI is not built (cargo build --release -p pets-cli)")
    out = tmp_path / "cli.json"
    proc = subprocess.run(
        [cli, "risk", str(data_path), *args, "--json", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(out.read_text())


@pytest.mark.parametrize(
    ("qi", "extra_cli", "extra_py"),
    [
        # Fails: postcode district singles people out.
        (QI, ["--l", "2", "--t", "0.3"], {"l": 2, "t": 0.3}),
        # Passes: coarse quasi-identifiers.
        (["sex", "arrival_mode"], ["--l", "2"], {"l": 2}),
        # Other variants and models.
        (
            ["sex", "age_band"],
            ["--l", "2", "--l-variant", "entropy", "--sampling-fraction", "0.1", "--k", "3"],
            {"l": 2, "l_variant": "entropy", "sampling_fraction": 0.1, "k": 3},
        ),
    ],
)
def test_report_agrees_with_cli(tmp_path, ae, schema, qi, extra_cli, extra_py):
    data_path, schema_path = write_inputs(tmp_path, ae, schema)
    code, cli = run_cli(
        tmp_path,
        data_path,
        [
            "--schema",
            str(schema_path),
            "--qi",
            ",".join(qi),
            "--sensitive",
            "diagnosis_group",
            *extra_cli,
        ],
    )
    report = pets.risk.assess(ae, qi=qi, sensitive="diagnosis_group", schema=schema, **extra_py)
    assert report.passed == (code == 0)
    assert report.verdict == cli["verdict"]
    assert comparable(report.to_dict()) == comparable(cli)
    # The file path door reads the same file as the CLI.
    assert comparable(
        pets.risk.assess(
            data_path, qi=qi, sensitive="diagnosis_group", schema=schema, **extra_py
        ).to_dict()
    ) == comparable(cli)


# Diagnosis groups 01-16 are injuries, the rest conditions: a two-level hierarchy.
HIERARCHY = {f"{g:02d}": ["injury" if g <= 16 else "condition", f"{g:02d}"] for g in range(1, 40)}


def test_hierarchical_t_closeness_agrees_with_cli(tmp_path, ae, schema):
    data_path, schema_path = write_inputs(tmp_path, ae, schema)
    h_path = tmp_path / "hierarchy.json"
    h_path.write_text(json.dumps(HIERARCHY))
    qi = ["sex", "age_band"]
    code, cli = run_cli(
        tmp_path,
        data_path,
        [
            "--schema",
            str(schema_path),
            "--qi",
            ",".join(qi),
            "--sensitive",
            "diagnosis_group",
            "--t",
            "0.3",
            "--hierarchy",
            str(h_path),
        ],
    )
    report = pets.risk.assess(
        ae, qi=qi, sensitive="diagnosis_group", schema=schema, t=0.3, hierarchy=HIERARCHY
    )
    assert report.passed == (code == 0)
    assert comparable(report.to_dict()) == comparable(cli)
    hier = report.to_dict()["t_closeness"]
    assert hier["distance"] == "hierarchical"
    explicit = pets.risk.assess(
        ae,
        qi=qi,
        sensitive="diagnosis_group",
        schema=schema,
        t=0.3,
        hierarchy=HIERARCHY,
        ground_distance="hierarchical",
    )
    assert comparable(explicit.to_dict()) == comparable(report.to_dict())
    # Leaves under one parent are closer than under the equal distance: t can only shrink.
    equal = pets.risk.assess(ae, qi=qi, sensitive="diagnosis_group", schema=schema, t=0.3)
    assert hier["t"] <= equal.to_dict()["t_closeness"]["t"] + 1e-12


def test_hierarchy_errors(ae, schema):
    small = ae.slice(0, 2_000)
    kw = {"qi": ["sex"], "schema": schema, "t": 0.3}
    with pytest.raises(pets.InvalidParameterError, match="needs a hierarchy"):
        pets.risk.assess(small, sensitive="diagnosis_group", ground_distance="hierarchical", **kw)
    with pytest.raises(pets.InvalidParameterError, match="implies"):
        pets.risk.assess(
            small, sensitive="diagnosis_group", ground_distance="ordered", hierarchy=HIERARCHY, **kw
        )
    with pytest.raises(pets.InvalidParameterError, match="99"):
        pets.risk.assess(
            small, sensitive="diagnosis_group", hierarchy={**HIERARCHY, "99": ["x"]}, **kw
        )
    with pytest.raises(TypeError, match="hierarchy"):
        pets.risk.assess(small, sensitive="diagnosis_group", hierarchy={"01": "injury"}, **kw)
    with pytest.raises(TypeError, match="hierarchy"):
        pets.risk.assess(small, sensitive="diagnosis_group", hierarchy=[("01", ["x"])], **kw)


def test_generalise_agrees_with_cli(tmp_path, ae, schema):
    data_path, schema_path = write_inputs(tmp_path, ae, schema)
    qi = ["sex", "age", "arrival_datetime"]
    _, cli = run_cli(
        tmp_path,
        data_path,
        [
            "--schema",
            str(schema_path),
            "--qi",
            ",".join(qi),
            "--generalise",
            "arrival_datetime=day,age=10",
            "--no-suda",
        ],
    )
    report = pets.risk.assess(
        ae, qi=qi, schema=schema, generalise={"arrival_datetime": "day", "age": 10}, suda=False
    )
    assert report.summary[0].startswith("Assessed as released with these generalisations")
    assert comparable(report.to_dict()) == comparable(cli)
    with pytest.raises(pets.InvalidParameterError, match="a datetime generalises to") as e:
        pets.risk.assess(ae, qi=qi, schema=schema, generalise={"arrival_datetime": "week"})
    assert e.value.column == "arrival_datetime"
    with pytest.raises(pets.InvalidParameterError, match="bands of a whole width"):
        pets.risk.assess(ae, qi=qi, schema=schema, generalise={"age": 0})
    with pytest.raises(pets.SchemaError, match="nope"):
        pets.risk.assess(ae, qi=qi, schema=schema, generalise={"nope": "day"})


def test_inferred_schema_warns_like_cli(tmp_path, ae):
    small = ae.select(["sex", "age_band", "arrival_mode", "diagnosis_group"])
    data_path = tmp_path / "small.parquet"
    pets.write_table(small, data_path)
    _, cli = run_cli(
        tmp_path, data_path, ["--qi", "sex,age_band", "--sensitive", "diagnosis_group"]
    )
    with pytest.warns(pets.DomainFromDataWarning, match="INFERRED FROM THE DATA"):
        report = pets.risk.assess(small, qi="sex,age_band", sensitive="diagnosis_group")
    assert report.schema_inferred
    assert pets.risk.INFERRED_SCHEMA_WARNING in report.warnings
    assert report.warnings == cli["warnings"]
    assert comparable(report.to_dict()) == comparable(cli)


def test_population_and_attacker_agree_with_cli(tmp_path, ae, schema):
    qi = ["sex", "age_band", "arrival_mode"]
    release, population = ae.slice(0, 1_000), ae
    attacker = ae.slice(0, 300).select(["sex", "age_band"])
    paths = {}
    for name, table in (("release", release), ("population", population), ("att", attacker)):
        paths[name] = tmp_path / f"{name}.parquet"
        pets.write_table(table, paths[name])
    schema_path = tmp_path / "s.json"
    schema.save(schema_path)
    _, cli = run_cli(
        tmp_path,
        paths["release"],
        [
            "--schema",
            str(schema_path),
            "--qi",
            ",".join(qi),
            "--population",
            str(paths["population"]),
            "--attacker",
            str(paths["att"]),
        ],
    )
    report = pets.risk.assess(
        release, qi=qi, schema=schema, population=population, attacker=attacker
    )
    assert report.measures["linkage"] is not None
    assert report.measures["linkage"]["columns"] == ["sex", "age_band"]
    assert report.measures["reidentification"]["journalist"] is not None
    assert comparable(report.to_dict()) == comparable(cli)


# -- every table kind -------------------------------------------------------------------------


def test_same_report_from_pyarrow_pandas_polars_and_batches(ae, schema):
    pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    kw = {"qi": QI, "sensitive": "diagnosis_group", "l": 2, "schema": schema}
    expected = comparable(pets.risk.assess(ae, **kw).to_dict())
    frame = ae.to_pandas()
    frame.index = frame.index + 100  # a non-default index must not become a column
    assert comparable(pets.risk.assess(frame, **kw).to_dict()) == expected
    assert comparable(pets.risk.assess(pl.from_arrow(ae), **kw).to_dict()) == expected
    # Several record batches (e.g. a streamed or partitioned table) give the same classes.
    batches = pa.Table.from_batches(ae.to_batches(max_chunksize=700))
    assert batches.num_rows == ROWS
    assert comparable(pets.risk.assess(batches, **kw).to_dict()) == expected


def test_qi_and_sensitive_default_to_schema_roles(ae, schema):
    # Mark two columns as quasi-identifiers and one as sensitive (taken in schema order).
    spec = schema.to_dict()
    for col in spec["columns"]:
        if col.get("role") in ("quasi_identifier", "sensitive"):
            col["role"] = "other"
        if col["name"] in ("sex", "age_band"):
            col["role"] = "quasi_identifier"
        if col["name"] == "diagnosis_group":
            col["role"] = "sensitive"
    report = pets.risk.assess(ae, schema=pets.Schema.from_dict(spec), l=2, suda=False)
    assert report.quasi_identifiers == ["age_band", "sex"]
    assert report.sensitive == "diagnosis_group"


# -- the result object ------------------------------------------------------------------------


def test_report_object_and_views(tmp_path, ae, schema):
    report = pets.risk.assess(ae, qi=QI, sensitive="diagnosis_group", l=2, t=0.3, schema=schema)
    assert not report.passed
    assert report.verdict == "FAIL"
    assert report.n_records == ROWS
    assert set(report.failed_checks) <= {c["id"] for c in report.checks}
    assert "k_anonymity" in report.failed_checks
    assert report.k == report.measures["k_anonymity"]["k"]
    assert report.measures["suda"] is not None
    assert report.measures["population_uniqueness"] is None
    assert report["n_records"] == ROWS

    d = report.to_dict()
    d["checks"].clear()
    assert report.to_dict()["checks"], "to_dict returns a copy"
    assert json.loads(report.to_json()) == report.to_dict()
    assert "\n" not in report.to_json(indent=None)

    checks = report.checks_frame()
    assert list(checks["id"]) == [c["id"] for c in report.checks]
    assert checks["passed"].dtype == bool
    sizes = report.class_sizes_frame()
    assert list(sizes.columns) == ["size", "classes", "records", "under_k"]
    assert sizes["records"].sum() == ROWS
    assert sizes["classes"].sum() == report.measures["k_anonymity"]["n_classes"]
    under = sizes.loc[sizes["under_k"], "records"].sum()
    assert under == report.measures["k_anonymity"]["records_under_k"]
    assert report.risk_frame()["records"].sum() == ROWS
    scen = report.scenarios_frame()
    assert len(scen) == 2 ** len(QI) - 1
    assert scen["minimal_singling_out"].any()
    assert len(report.fixes_frame()) == len(report.fixes)

    html = report.to_html()
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "<script src" not in html
    assert "<link" not in html
    assert report.write_html(tmp_path / "r.html").read_text() == html
    assert json.loads(report.write_json(tmp_path / "r.json").read_text()) == report.to_dict()
    snippet = report._repr_html_()
    assert "FAIL" in snippet
    assert "k-anonymity" in snippet
    assert "FAIL" in repr(report)


def test_infinite_measure_is_inf():
    # One sensitive value per class: recursive (c,l) has no l-th value, its ratio is infinite.
    table = pa.table({"q": ["a"] * 6 + ["b"] * 6, "s": ["x"] * 6 + ["y"] * 6})
    spec = {
        "columns": [
            {"name": "q", "kind": "categorical", "values": ["a", "b"]},
            {"name": "s", "kind": "categorical", "values": ["x", "y"]},
        ]
    }
    report = pets.risk.assess(
        table,
        qi=["q"],
        sensitive="s",
        l=2,
        l_variant="recursive",
        schema=pets.Schema.from_dict(spec),
    )
    (l_check,) = (c for c in report.checks if c["id"] == "l_diversity")
    assert not l_check["passed"]
    assert math.isinf(l_check["measured"])


# -- bad input --------------------------------------------------------------------------------


def test_unknown_column_is_schema_error(ae, schema):
    with pytest.raises(pets.SchemaError, match="postcode_area") as e:
        pets.risk.assess(ae, qi=["sex", "postcode_area"], schema=schema)
    assert e.value.column == "postcode_area"
    with pytest.raises(pets.SchemaError, match="diagnosis"):
        pets.risk.assess(ae, qi=["sex"], sensitive="diagnosis", schema=schema)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"qi": ["sex", "age_band"], "sensitive": "sex"}, "both a quasi-identifier"),
        ({"qi": ["sex"], "k": 0}, "k must be at least 1"),
        ({"qi": ["sex"], "k": -2}, "k must be at least 1"),
        ({"qi": ["sex"], "sensitive": "diagnosis_group", "t": 1.5}, "t must lie between 0 and 1"),
        ({"qi": ["sex"], "sensitive": "diagnosis_group", "t": -0.1}, "t must lie between"),
        ({"qi": ["sex"], "sensitive": "diagnosis_group", "l": 0}, "l must be at least 1"),
        ({"qi": ["sex", "sex"]}, "listed twice"),
        ({"qi": ["sex"], "risk_threshold": 0.0}, "risk_threshold"),
        ({"qi": ["sex"], "sampling_fraction": float("nan")}, "finite"),
        ({"qi": ["sex"], "intruder": ["age_band"]}, "not among the quasi-identifiers"),
        ({"qi": ["sex"], "l_variant": "fancy"}, "l_variant"),
    ],
)
def test_invalid_settings(ae, schema, kwargs, match):
    with pytest.raises(pets.InvalidParameterError, match=match) as e:
        pets.risk.assess(ae, schema=schema, **kwargs)
    assert isinstance(e.value, ValueError)
    assert isinstance(e.value, pets.PetsError)


SEX_ONLY = pets.Schema.from_dict(
    {"columns": [{"name": "sex", "kind": "categorical", "values": ["1", "2", "9", "X"]}]}
)


def test_no_quasi_identifiers_or_sensitive(ae):
    table = ae.select(["sex"])
    with pytest.raises(pets.InvalidParameterError, match="no quasi-identifiers"):
        pets.risk.assess(table, schema=SEX_ONLY)
    with pytest.raises(pets.InvalidParameterError, match="no sensitive attribute"):
        pets.risk.assess(table, qi=["sex"], l=2, schema=SEX_ONLY)


def test_empty_data(ae, schema):
    with pytest.raises(pets.EmptyInputError):
        pets.risk.assess(ae.slice(0, 0), qi=["sex"], schema=schema)


def test_value_outside_domain():
    table = pa.table({"sex": ["1", "2", "7"]})
    with pytest.raises(pets.DomainError, match="sex") as e:
        pets.risk.assess(table, qi=["sex"], schema=SEX_ONLY)
    assert e.value.row == 3


def test_wrong_types(ae, schema):
    with pytest.raises(TypeError, match="pyarrow Table"):
        pets.risk.assess([1, 2, 3], qi=["sex"], schema=schema)
    with pytest.raises(TypeError, match="schema"):
        pets.risk.assess(ae, qi=["sex"], schema={"columns": []})
    with pytest.raises(TypeError, match="k must be an int"):
        pets.risk.assess(ae, qi=["sex"], k=2.5, schema=schema)
    with pytest.raises(TypeError, match="qi"):
        pets.risk.assess(ae, qi=[1, 2], schema=schema)


def test_attacker_without_shared_columns(ae, schema):
    with pytest.raises(pets.SchemaError, match="none of the quasi-identifiers"):
        pets.risk.assess(ae, qi=["sex"], schema=schema, attacker=ae.select(["age_band"]))

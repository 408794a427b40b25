"""pets.synth.evaluate: the evaluation report from Python, as ``pets synth evaluate`` makes it.

The membership-inference score is high on a copy of the training rows and near chance on an
MST synthesis at epsilon 1; the report round-trips as JSON and renders as HTML; bad options
raise typed exceptions.
"""

import json

import pytest

import pets
import pets.datasets
import pets.synth
from pets.errors import InvalidParameterError

COLUMNS = [
    "age",
    "sex",
    "ethnic_category",
    "imd_decile",
    "provider_code",
    "department_type",
    "arrival_datetime",
    "arrival_mode",
    "attendance_category",
    "acuity",
    "diagnosis_group",
    "total_time_in_dept_min",
    "num_investigations",
    "admitted",
]


@pytest.fixture(scope="module")
def schema():
    return pets.datasets.ae_schema().select(COLUMNS)


@pytest.fixture(scope="module")
def train():
    return pets.datasets.generate_ae(20_000, seed=21).select(COLUMNS)


@pytest.fixture(scope="module")
def holdout():
    return pets.datasets.generate_ae(8_000, seed=22).select(COLUMNS)


def test_a_copy_of_the_training_rows_is_caught(train, holdout, schema):
    r = pets.synth.evaluate(train, train, schema=schema, holdout=holdout, target="admitted")
    assert isinstance(r, pets.synth.EvalReport)
    assert r.mia_auc > 0.9
    assert r.exact_matches == 20_000
    assert r.mean_1way_tvd == 0.0
    assert r.mean_2way_tvd == 0.0
    assert r.workload_mean_tvd == 0.0
    assert r.rows == {"real": 20_000, "synth": 20_000, "holdout": 8_000}
    u = r.utility
    assert u["test_source"] == "holdout"
    assert u["synthetic"]["auc"] == u["real"]["auc"]


def test_an_mst_synthesis_is_near_chance(train, holdout, schema):
    mst = pets.synth.MST(epsilon=1.0, schema=schema).fit(train)
    synth = mst.sample(20_000, seed=3)
    r = pets.synth.evaluate(
        train,
        synth,
        schema=schema,
        holdout=holdout,
        target="admitted",
        features=["age", "acuity", "arrival_mode", "diagnosis_group"],
    )
    assert abs(r.mia_auc - 0.5) < 0.06
    assert r.privacy["exact_match_share"] < 0.05
    assert r.utility["features"] == ["age", "arrival_mode", "acuity", "diagnosis_group"]
    assert r.utility["synthetic"]["auc"] > 0.6


def test_report_formats_and_table_kinds(tmp_path, train, schema):
    small = train.slice(0, 3_000)
    path = tmp_path / "real.parquet"
    import pyarrow.parquet as pq

    pq.write_table(small, path)
    r = pets.synth.evaluate(
        path,
        small.to_pandas(),
        schema=schema,
        sample_rows=500,
        workload=[["age", "acuity", "admitted"], ["arrival_datetime"]],
    )
    assert r.mia_auc is None
    assert r.utility is None
    assert any("no holdout" in n for n in r.notes)
    d = r.to_dict()
    assert d["format"] == "pets-synth-evaluation"
    assert d["privacy"]["sample_rows"] == 500
    assert [w["views"] for w in d["workload"]][1] == [
        "arrival_datetime:weekday",
        "arrival_datetime:hour",
    ]
    assert json.loads(r.to_json()) == d
    html = r.to_html()
    assert html.startswith("<!DOCTYPE html>")
    assert "<svg" in html
    assert "<script" not in html
    assert "Synthetic data evaluation" in r._repr_html_()
    assert "EvalReport" in repr(r)
    assert r.write_html(tmp_path / "e.html").read_text(encoding="utf-8") == html
    assert json.loads(r.write_json(tmp_path / "e.json").read_text(encoding="utf-8")) == d
    assert list(r.views_frame().columns) == ["view", "tvd"]
    assert len(r.to_pandas()) == len(d["views"])
    assert r.to_polars().shape == (len(d["views"]), 2)


def test_bad_options_raise_typed_errors(train, schema):
    small = train.slice(0, 500)
    with pytest.raises(InvalidParameterError, match="target"):
        pets.synth.evaluate(small, small, schema=schema, target="acuity")
    with pytest.raises(InvalidParameterError, match="positive"):
        pets.synth.evaluate(small, small, schema=schema, target="admitted", positive="maybe")
    with pytest.raises(InvalidParameterError, match="workload"):
        pets.synth.evaluate(small, small, schema=schema, workload=[["nope"]])
    with pytest.raises(InvalidParameterError):
        pets.synth.evaluate(small, small, schema=schema, sample_rows=0)
    with pytest.raises(TypeError):
        pets.synth.evaluate(small, small, schema=schema, workload=["age"])
    with pytest.raises(TypeError):
        pets.synth.evaluate(small, small, schema=schema.to_json())

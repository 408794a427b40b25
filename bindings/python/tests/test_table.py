"""pets.table: statistics beside counts, exact secondary suppression, the HTML report."""

from __future__ import annotations

import pyarrow as pa
import pytest

import pets
import pets.datasets
import pets.table
from pets.errors import InvalidParameterError


@pytest.fixture(scope="module")
def ae():
    return pets.datasets.generate_ae(3_000, seed=5), pets.datasets.ae_schema()


def test_hes_mean_and_median_over_few_records_are_suppressed():
    # a0: 5 records (ages 1-5): suppressed; a1: 8 records (ages 10-17): published.
    ages = [1, 2, 3, 4, 5, *range(10, 18)]
    data = pa.table({"a": ["a0"] * 5 + ["a1"] * 8, "age": [float(v) for v in ages]})
    schema = pets.Schema.from_json(
        '{"columns": [{"name": "a", "kind": "categorical", "values": ["a0", "a1"]},'
        ' {"name": "age", "kind": "float", "min": 0, "max": 120}]}'
    )
    out = pets.table.protect(data, by=[["a"]], mean="age", median=["age"], schema=schema)
    frame = out.frame().set_index("a")
    assert list(frame.columns) == ["table", "count", "mean_age", "median_age"]
    assert frame.loc["a0"].tolist()[1:] == ["*", "*", "*"]
    assert frame.loc["a1"].tolist()[1:] == ["10", "13.5", "13.5"]
    assert out.secondary_method is None


def test_exact_never_suppresses_more_than_greedy_and_reports_html(ae):
    table, schema = ae
    runs = {
        m: pets.table.protect(
            table,
            by=[["age_band", "sex"], "age_band,arrival_mode"],
            rule="threshold",
            threshold=10,
            secondary=m,
            schema=schema,
        )
        for m in ("greedy", "exact")
    }
    assert runs["exact"].protected
    assert runs["exact"].secondary_method == "exact"
    assert runs["greedy"].secondary_method == "greedy"
    n = {m: r._content["secondary"] for m, r in runs.items()}
    assert n["exact"] <= n["greedy"]
    page = runs["exact"].html()
    assert page.startswith("<!DOCTYPE html>")
    assert "integer program" in page
    with pytest.raises(InvalidParameterError, match="exact"):
        pets.table.protect(table, by=[["sex"]], secondary="exact", schema=schema)
    with pytest.raises(InvalidParameterError, match="secondary"):
        pets.table.protect(table, by=[["sex"]], secondary="best", schema=schema)
    with pytest.raises(InvalidParameterError, match="categorical"):
        pets.table.protect(table, by=[["sex"]], mean="age_band", schema=schema)

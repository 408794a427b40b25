"""Results feel native: any table kind in, the same kind out, and every result object has
``to_dict``, ``to_pandas``, ``to_polars`` and a notebook rendering."""

from __future__ import annotations

import warnings

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import pets
import pets.datasets
import pets.dp
import pets.federated
import pets.risk
import pets.synth
import pets.table

ROWS = 3_000
COLS = ["age", "sex", "postcode_district", "diagnosis_group", "arrival_mode"]


@pytest.fixture(scope="module")
def schema():
    return pets.datasets.ae_schema()


@pytest.fixture(scope="module")
def ae():
    return pets.datasets.generate_ae(ROWS, seed=5)


def kinds(table: pa.Table) -> dict[str, object]:
    return {
        "pyarrow": table,
        "pandas": table.to_pandas(),
        "polars": pl.from_arrow(table),
        "lazy": pl.from_arrow(table).lazy(),
    }


EXPECTED = {
    "pyarrow": pa.Table,
    "pandas": pd.DataFrame,
    "polars": pl.DataFrame,
    "lazy": pl.DataFrame,
}


@pytest.mark.parametrize("kind", ["pyarrow", "pandas", "polars", "lazy"])
def test_a_synthesiser_samples_the_kind_it_was_fitted_on(ae, schema, kind):
    data = kinds(ae.select(["sex", "arrival_mode"]))[kind]
    mst = pets.synth.MST(1.0, schema=schema, columns=["sex", "arrival_mode"], seed=1).fit(data)
    sample = mst.sample(50)
    assert isinstance(sample, EXPECTED[kind])
    assert len(sample) == 50
    # Whatever the kind, the rows are those of the model for the seed.
    got = sample if isinstance(sample, pd.DataFrame) else sample.to_pandas()
    pd.testing.assert_frame_equal(
        got, mst.sample(50, kind="pyarrow").to_pandas(), check_dtype=False
    )
    assert isinstance(mst.sample(5, kind="pandas"), pd.DataFrame)
    assert isinstance(mst.model.sample(5), pa.Table)
    assert isinstance(mst.model.sample(5, kind="polars"), pl.DataFrame)
    with pytest.raises(pets.InvalidParameterError, match="kind must be one of"):
        mst.sample(5, kind="numpy")
    assert mst.model.to_dict()["method"] == "mst"
    assert "MST model" in mst.model._repr_html_()


@pytest.mark.parametrize("kind", ["pyarrow", "pandas", "polars", "lazy"])
def test_risk_and_anonymise_take_every_kind_and_agree(ae, schema, kind):
    data = kinds(ae)[kind]
    report = pets.risk.assess(
        data, qi=["age", "sex"], k=5, schema=schema, scenarios=False, suda=False, what_if=False
    )
    base = pets.risk.assess(
        ae, qi=["age", "sex"], k=5, schema=schema, scenarios=False, suda=False, what_if=False
    )
    assert report.measures == base.measures
    assert isinstance(report.to_pandas(), pd.DataFrame)
    assert isinstance(report.to_polars(), pl.DataFrame)
    assert report.to_polars().columns == list(report.to_pandas().columns)
    with warnings.catch_warnings():
        # Default hierarchies and the quasi-identifiers left unsearched are announced.
        warnings.simplefilter("ignore", UserWarning)
        result = pets.anonymise(
            data, qi=["age", "sex"], k=5, schema=schema, drop=["postcode_district"]
        )
    assert isinstance(result.release, EXPECTED[kind])
    assert len(result.release) == result.table.num_rows
    assert isinstance(result.to_pandas(), pd.DataFrame)
    assert isinstance(result.to_polars(), pl.DataFrame)
    assert result.to_dict()["record"]["loss"] == result.loss


def test_tables_dp_and_federated_results_convert(ae, schema):
    tables = pets.table.protect(ae, by=[["sex", "arrival_mode"]], schema=schema)
    assert tables.to_pandas().equals(tables.frame())
    assert tables.to_polars().shape == tables.frame().shape
    assert tables.to_dict()["protected"] == tables.protected
    assert "<table" in tables._repr_html_() or "<html" in tables._repr_html_()

    s = pets.dp.Session(epsilon=1.0, schema=schema)
    r = s.count(ae, by=["sex"], epsilon=0.5)
    assert r.to_polars().shape == r.to_pandas().shape

    fed = pets.federated.simulate(
        data=ae,
        split_by="provider_code",
        groups=2,
        schema=schema,
        tables=["sex"],
        rho=0.5,
        person_id="nhs_number",
        max_trusts_per_person=1,
    )
    frame = fed.to_pandas()
    assert list(frame.columns) == ["sex", "count", "half_width"]
    assert fed.to_polars().shape == frame.shape
    assert fed.to_dict()["release"]["query"] == fed.query
    assert "trusts counted" in fed._repr_html_()
    assert "FederatedResult" in repr(fed)

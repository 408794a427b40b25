"""pets.anonymise: the release passes pets.risk, the doors agree, bad input is typed."""

from __future__ import annotations

import json
import subprocess

import pyarrow as pa
import pytest

import pets
import pets.datasets
import pets.risk
from pets.errors import InvalidParameterError, PetsError
from test_parity import cli_binary


@pytest.fixture(scope="module")
def ae():
    return pets.datasets.generate_ae(8_000, seed=3), pets.datasets.ae_schema()


def test_the_release_passes_risk_under_its_schema(ae):
    table, schema = ae
    res = pets.anonymise(
        table,
        qi=["age", "sex", "postcode_district"],
        sensitive="diagnosis_group",
        k=5,
        l=2,
        hierarchy={"age": "5,10,20;top=90"},
        schema=schema,
    )
    assert res.after.passed
    assert not res.before.passed
    assert res.table.num_rows == res.record["records_out"]
    assert res.record["records_out"] + res.record["records_suppressed"] == 8_000
    assert "nhs_number" not in res.table.column_names
    again = pets.risk.assess(
        res.table,
        qi=["age", "sex", "postcode_district"],
        sensitive="diagnosis_group",
        k=5,
        l=2,
        schema=res.release_schema,
        scenarios=False,
        suda=False,
    )
    assert again.passed
    front = res.front_frame()
    assert list(front["loss"]) == sorted(front["loss"])
    assert front.iloc[0]["age"] == res.levels["age"]
    assert "<svg" in res.to_html()


def test_python_and_cli_choose_the_same_levels(ae, tmp_path):
    table, schema = ae
    data = tmp_path / "ae.parquet"
    pets.write_table(table, data)
    schema_path = tmp_path / "ae.schema.json"
    schema.save(schema_path)
    res = pets.anonymise(str(data), qi="age,sex", k=10, hierarchy={"age": "5,10"}, schema=schema)
    out = tmp_path / "cli.json"
    subprocess.run(
        [
            cli_binary(),
            "anonymise",
            str(data),
            "--schema",
            str(schema_path),
            "--qi",
            "age,sex",
            "--k",
            "10",
            "--hierarchy",
            "age=5,10",
            "--json",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    cli = json.loads(out.read_text())
    assert cli["record"]["quasi_identifiers"] == res.record["quasi_identifiers"]
    assert cli["record"]["loss"] == res.record["loss"]


def test_bad_input_is_typed(ae):
    table, schema = ae
    with pytest.raises(InvalidParameterError, match="between 0 and 1"):
        pets.anonymise(table, qi="age", schema=schema, max_suppression=2.0)
    with pytest.raises(InvalidParameterError, match="nest"):
        pets.anonymise(table, qi="age", schema=schema, hierarchy={"age": "3,5"})
    with pytest.raises(PetsError, match="no transformation"):
        pets.anonymise(table, qi="sex", schema=schema, k=100_000, max_suppression=0.0)
    with pytest.raises(TypeError):
        pets.anonymise(table, qi="age", schema=schema, hierarchy={"age": 5})


def test_microaggregation_and_local_recoding(ae):
    table, schema = ae
    qi = ["age", "sex", "postcode_district"]
    res = pets.anonymise(
        table,
        qi=qi,
        k=5,
        schema=schema,
        microaggregate={"age": "mean"},
        local_recoding=3,
        max_suppression=0.05,
    )
    record = res.record
    assert [q["column"] for q in record["quasi_identifiers"]] == ["sex", "postcode_district"]
    (micro,) = record["microaggregation"]
    assert micro["column"] == "age"
    assert micro["function"] == "mean"
    assert 0.0 <= micro["loss"] <= 1.0
    assert res.table.schema.field("age").type == pa.float64()
    assert record["records_suppressed"] <= record["records_suppressed_global"]
    assert sum(i["records_released"] for i in record["iterations"]) == record["records_out"]
    # Each class's ages are one value, and pets.risk with age as a quasi-identifier passes.
    frame = res.table.to_pandas()
    assert (frame.groupby(["sex", "postcode_district"], dropna=False)["age"].nunique() <= 1).all()
    again = pets.risk.assess(
        res.table, qi=qi, k=5, schema=res.release_schema, scenarios=False, suda=False
    )
    assert again.passed
    assert "Microaggregated columns" in res.to_html()


def test_microaggregation_bad_input_is_typed(ae):
    table, schema = ae
    with pytest.raises(InvalidParameterError, match="numeric"):
        pets.anonymise(table, qi="age,sex", schema=schema, microaggregate={"sex": "mean"})
    with pytest.raises(InvalidParameterError, match="mean, median"):
        pets.anonymise(table, qi="age,sex", schema=schema, microaggregate={"age": "average"})
    with pytest.raises(TypeError):
        pets.anonymise(table, qi="age,sex", schema=schema, microaggregate={"age": 1})
    with pytest.raises(InvalidParameterError, match="local_recoding"):
        pets.anonymise(table, qi="age,sex", schema=schema, local_recoding=-1)


def test_tables_protect_like_the_cli(ae):
    import pets.table

    table, schema = ae
    out = pets.table.protect(
        table,
        by=[["age_band", "sex"], "age_band,arrival_mode"],
        rule="threshold",
        threshold=10,
        schema=schema,
    )
    assert out.protected
    frame = out.frame()
    published = frame["count"]
    numbers = published[published != "*"].astype(int)
    assert ((numbers == 0) | (numbers >= 10)).all()
    hes = pets.table.protect(table, by=["age_band,sex"], schema=schema)
    assert "Hospital Episode Statistics" in hes.source
    with pytest.raises(InvalidParameterError, match="twice"):
        pets.table.protect(table, by=[["sex", "sex"]], schema=schema)

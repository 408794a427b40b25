"""pets.federated: a federated round from Python matches the CLI's job, survives a dropout,
and fails with typed exceptions."""

import math
import warnings

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import pets
import pets.datasets
import pets.federated
from pets.errors import InvalidParameterError, PetsError


@pytest.fixture(scope="module")
def ae():
    return pets.datasets.generate_ae(6_000, seed=8), pets.datasets.ae_schema()


@pytest.mark.parametrize("protocol", ["secagg", "prio3"])
def test_split_round_releases_noisy_tables_near_the_pooled_counts(ae, protocol):
    data, schema = ae
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        r = pets.federated.simulate(
            data=data,
            split_by="provider_code",
            groups=4,
            schema=schema,
            tables=["age_band,sex", ["hour(arrival_datetime)"]],
            rho=1.0,
            protocol=protocol,
            max_trusts_per_person=1,
        )
    assert r.counted == ["trust_1", "trust_2", "trust_3", "trust_4"]
    assert len(r.ledger["entries"]) == 1
    frame = r.frame(0)
    assert frame.column_names == ["age_band", "sex", "count"]
    # Noisy cells lie near the exact pooled counts (checked here, in the test, on
    # generated data; the release itself carries no exact figure).
    exact = data.group_by(["age_band", "sex"]).aggregate([("age_band", "count")])
    cols = [exact.column(i).to_pylist() for i in range(3)]
    exact = {(a, s): n for a, s, n in zip(*cols, strict=True)}
    hw = r.accuracy["half_width"]
    rows = frame.to_pylist()
    near = sum(
        abs(row["count"] - exact.get((row["age_band"], row["sex"]), 0)) <= hw for row in rows
    )
    assert near >= 0.8 * len(rows)
    assert pc.sum(r.frame(1).column("count")).as_py() == pytest.approx(6_000, abs=40 * hw)


def test_trusts_as_a_mapping_with_a_dropout(ae):
    data, schema = ae
    parts = {f"t{i}": data.slice(i * 2_000, 2_000) for i in range(3)}
    with pytest.warns(UserWarning, match="max_trusts_per_person"):
        r = pets.federated.simulate(
            parts,
            schema=schema,
            rho=0.5,
            drops={"t1": "before-masked"},
            person_id="nhs_number",
            max_rows_per_person=2,
        )
    assert r.counted == ["t0", "t2"]
    assert r.round["dropped"] == [["t1", "before_masked"]]
    assert r.frame().column_names == ["count"]
    assert isinstance(r.frame(), pa.Table)


def test_bad_arguments_raise_typed_errors(ae):
    data, schema = ae
    parts = {f"t{i}": data.slice(i * 2_000, 2_000) for i in range(3)}
    with pytest.raises(InvalidParameterError, match="strict majority"):
        pets.federated.simulate(parts, schema=schema, rho=0.1, threshold=1)
    with pytest.raises(InvalidParameterError):
        pets.federated.simulate(parts, schema=schema, rho=0.1, protocol="carrier-pigeon")
    with pytest.raises(InvalidParameterError, match="no such trust"):
        pets.federated.simulate(parts, schema=schema, rho=0.1, drops={"nobody": "before-keys"})
    with pytest.raises(InvalidParameterError):
        pets.federated.simulate(schema=schema, rho=0.1)
    with pytest.raises(PetsError, match="aborted"):
        pets.federated.simulate(
            parts, schema=schema, rho=0.1, drops={"t0": "before-keys", "t1": "before-shares"}
        )
    with pytest.raises(PetsError, match="no_such_column"):
        pets.federated.simulate(parts, schema=schema, rho=0.1, tables=["no_such_column"])


def test_sums_and_means_with_public_bounds(ae):
    data, schema = ae
    spec = pets.federated.mean_of("total_time_in_dept_min", 0, 300, by=["sex"])
    assert spec == "mean(total_time_in_dept_min, 0, 300) by sex"
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        r = pets.federated.simulate(
            data=data,
            split_by="provider_code",
            groups=3,
            schema=schema,
            values=[spec, pets.federated.sum_of("num_treatments", 0, 7)],
            rho=1.0,
            max_trusts_per_person=1,
        )
    assert r.query == f"{spec}; sum(num_treatments, 0, 7)"
    mean = r.frame(0)
    assert mean.column_names == ["sex", "count", "sum", "mean", "mean_low", "mean_high"]
    # The exact pooled means (computed here, in the test) lie in the released intervals.
    clamped = pc.min_element_wise(data.column("total_time_in_dept_min"), 300)
    exact = (
        pa.table({"sex": data.column("sex"), "t": clamped})
        .group_by("sex")
        .aggregate([("t", "mean")])
        .to_pylist()
    )
    rows = {row["sex"]: row for row in mean.to_pylist()}
    for e in exact:
        row = rows[e["sex"]]
        assert row["mean_low"] <= e["t_mean"] <= row["mean_high"]
    total = r.frame(1)
    assert total.column_names == ["sum"]
    frame = r.to_pandas(1)
    assert "sum_half_width" in frame.columns
    assert r.tables[0]["half_width"] > 0


def test_bad_value_queries_raise_typed_errors_naming_the_column(ae):
    data, schema = ae
    parts = {f"t{i}": data.slice(i * 2_000, 2_000) for i in range(3)}
    for values, match in [
        (["sum(total_time_in_dept_min, 10, 0)"], "total_time_in_dept_min"),
        ([pets.federated.sum_of("total_time_in_dept_min", 0, float("nan"))], "total_time"),
        (["mean(total_time_in_dept_min, 0, 1e308)"], "wrap"),
        (["median(total_time_in_dept_min, 0, 1)"], "sum\\("),
    ]:
        with pytest.raises(InvalidParameterError, match=match):
            pets.federated.simulate(parts, schema=schema, rho=0.1, values=values)
    with pytest.raises(PetsError, match="sex"):
        pets.federated.simulate(parts, schema=schema, rho=0.1, values=["sum(sex, 0, 1)"])
    with pytest.raises(InvalidParameterError, match="secagg"):
        pets.federated.simulate(
            parts, schema=schema, rho=0.1, values=["sum(acuity, 1, 5)"], protocol="prio3"
        )
    with pytest.raises(TypeError):
        pets.federated.simulate(parts, schema=schema, rho=0.1, values="sum(acuity, 1, 5)")


def test_rates_compare_every_provider_with_the_pool(ae):
    data, schema = ae
    spec = pets.federated.rate_of("total_time_in_dept_min > 240", by="provider_code")
    assert spec == "mean(total_time_in_dept_min > 240) by provider_code"
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        r = pets.federated.simulate(
            data=data,
            split_by="provider_code",
            groups=3,
            schema=schema,
            values=[spec, "sum(admitted = true) by sex"],
            rho=1.0,
            max_trusts_per_person=1,
        )
    rates = r.frame(0)
    assert rates.column_names == [
        "provider_code",
        "count",
        "sum",
        "mean",
        "mean_low",
        "mean_high",
        "funnel",
    ]
    comparison = r.tables[0]["value"]["comparison"]
    assert len(comparison["pools"]) == 1
    low, high = comparison["pools"][0]["interval"]
    # The exact pooled rate (computed here, in the test) lies in the pooled interval.
    time = data.column("total_time_in_dept_min")
    valid = pc.drop_null(time)
    exact = pc.sum(pc.greater(valid, 240)).as_py() / len(valid)
    assert low <= exact <= high
    flags = set(rates.column("funnel").to_pylist())
    assert flags <= {"above 99.8%", "above 95%", "within", "below 95%", "below 99.8%", "too few"}
    # Providers absent from the data release a count near zero.
    assert "too few" in flags or min(rates.column("count").to_pylist()) < 50
    admitted = r.frame(1)
    assert admitted.column_names == ["sex", "sum"]
    assert r.tables[1]["value"]["condition"] == "admitted = true"


def test_bad_conditions_raise_typed_errors_naming_the_column(ae):
    data, schema = ae
    parts = {f"t{i}": data.slice(i * 2_000, 2_000) for i in range(3)}
    for spec, match in [
        ("mean(sex > 1)", "unordered"),
        ("mean(admitted = yes)", "false, true"),
        ("mean(total_time_in_dept_min >)", "empty"),
    ]:
        with pytest.raises(InvalidParameterError, match=match):
            pets.federated.simulate(parts, schema=schema, rho=0.1, values=[spec])
    with pytest.raises(TypeError, match="condition"):
        pets.federated.rate_of(240)


def test_a_federated_fit_is_a_model_that_samples(ae):
    data, schema = ae
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        model = pets.federated.fit(
            data=data,
            split_by="provider_code",
            groups=3,
            schema=schema,
            epsilon=1.0,
            progress=False,
        )
    assert model.method == "mst (federated)"
    rounds = model.federated_rounds["rounds"]
    assert len(rounds) == 3
    assert len(model.federated_rounds["ledger"]["entries"]) == 3
    sample = model.sample(500, seed=1, kind="pyarrow", progress=False)
    assert sample.num_rows == 500
    assert set(sample.column_names) <= set(schema.names)
    with pytest.raises(InvalidParameterError):
        pets.federated.fit({"only": data}, schema=schema, epsilon=1.0, progress=False)


def test_federated_training_gives_weights_rounds_and_predictions(ae):
    data, schema = ae
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        model = pets.federated.train(
            data=data,
            split_by="provider_code",
            groups=3,
            schema=schema,
            target="admitted",
            features=["age_band", "acuity", "arrival_mode"],
            epsilon=1.0,
            rounds=4,
            progress=False,
        )
    assert model.method == "logistic regression (federated DP-FedAvg)"
    assert len(model.rounds) == 4
    assert len(model.ledger["entries"]) == 4
    assert "intercept" in model.weights
    assert all(math.isfinite(w) for w in model.weights.values())
    p = model.predict_proba(data)
    assert len(p) == (data.num_rows if hasattr(data, "num_rows") else len(data))
    assert all(0.0 <= x <= 1.0 for x in p)
    assert "rounds" in repr(model)
    with pytest.raises(InvalidParameterError):
        pets.federated.train(
            data=data,
            split_by="provider_code",
            groups=3,
            schema=schema,
            target="age",
            epsilon=1.0,
            progress=False,
        )

"""pets.spark: partitioned results equal the single-machine ones on the same rows.

Spark in local mode (2 workers, UI off, few shuffle partitions), one session for the
module, a few thousand rows: the whole file takes well under a minute.
"""

import doctest
import json
import os
import shutil
import sys

import pyarrow as pa
import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed (pip install pyspark)")
if shutil.which("java") is None and "JAVA_HOME" not in os.environ:
    pytest.skip("Spark needs Java 17 (no java on PATH, no JAVA_HOME)", allow_module_level=True)

from pyspark.sql import SparkSession
from pyspark.sql import functions as sf

import pets
import pets.datasets
import pets.dp
import pets.risk
import pets.spark
import pets.synth

QI = ["sex", "age_band", "provider_code", "arrival_datetime"]
SENSITIVE = "diagnosis_group"
COLUMNS = [*QI, SENSITIVE, "arrival_mode"]


@pytest.fixture(scope="module")
def spark():
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("pets-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def ae():
    table = pets.datasets.generate_ae(3_000, seed=5).select(COLUMNS)
    return table, pets.datasets.ae_schema()


@pytest.fixture(scope="module")
def frame(spark, ae, tmp_path_factory):
    """The same rows as a Spark DataFrame, read from the Parquet file pets writes."""
    table, _ = ae
    path = tmp_path_factory.mktemp("spark") / "ae.parquet"
    pets.write_table(table, path)
    return spark.read.parquet(str(path))


def _without_timings(report):
    d = json.loads(report.to_json())
    d.pop("timings_ms")
    return d


def test_risk_equals_the_single_machine_report(ae, frame):
    table, schema = ae
    options = {
        "qi": QI,
        "sensitive": SENSITIVE,
        "k": 3,
        "l": 2,
        "generalise": {"arrival_datetime": "day"},
    }
    one = pets.risk.assess(table, schema=schema, **options)
    for parts in (1, 3, 7):
        got = pets.spark.risk(frame.repartition(parts), schema, **options)
        assert _without_timings(got) == _without_timings(one), parts
    assert one.n_records == 3_000


def test_empty_partitions_are_skipped(ae, frame):
    table, schema = ae
    # Hash-partitioning 4 sexes into 9 partitions leaves some of them empty.
    df = frame.repartition(9, "sex")
    got = pets.spark.risk(df, schema, qi=["sex", "age_band"], sensitive=SENSITIVE)
    one = pets.risk.assess(table, qi=["sex", "age_band"], sensitive=SENSITIVE, schema=schema)
    assert _without_timings(got) == _without_timings(one)


def test_a_missing_column_is_named_before_any_spark_job(spark, ae, frame):
    _, schema = ae
    group = "pets-missing-column"
    with pytest.raises(pets.SchemaError, match="provider_code") as err:
        _no_jobs(
            spark,
            group,
            lambda: pets.spark.risk(
                frame.drop("provider_code"), schema, qi=["sex", "provider_code"]
            ),
        )
    assert err.value.column == "provider_code"
    assert spark.sparkContext.statusTracker().getJobIdsForGroup(group) == []


def test_an_executor_error_comes_back_typed_with_its_column(ae, frame):
    _, schema = ae
    bad = frame.withColumn(
        "sex", sf.when(sf.col("age_band") == "0-1", sf.lit("Q")).otherwise(sf.col("sex"))
    )
    with pytest.raises(pets.DomainError) as err:
        pets.spark.risk(bad.repartition(2), schema, qi=["sex", "age_band"], sensitive=SENSITIVE)
    assert err.value.column == "sex"


def test_an_empty_frame_and_bad_arguments_are_refused(ae, frame):
    table, schema = ae
    with pytest.raises(pets.EmptyInputError):
        pets.spark.risk(frame.limit(0), schema, qi=["sex"], sensitive=SENSITIVE)
    with pytest.raises(TypeError, match="Spark DataFrame"):
        pets.spark.risk(table, schema, qi=["sex"])
    with pytest.raises(TypeError, match="declared"):
        pets.spark.risk(frame, None, qi=["sex"])
    with pytest.raises(pets.InvalidParameterError):
        pets.spark.risk(frame, schema, qi=["sex"], sensitive=SENSITIVE, k=0)


def test_partials_are_versioned_bytes_and_bad_ones_are_refused(ae):
    table, schema = ae
    # The schema declares chief_complaint sensitive; these rows carry diagnosis_group instead.
    config = json.dumps({"quasi_identifiers": ["sex", "age_band"], "sensitive": SENSITIVE, "k": 2})
    blob = pets._native.risk_partial(table, schema.to_json(), config)
    assert blob[:5] == b"PETP\x01"
    empty = pa.Table.from_batches([], table.schema)
    whole = pets._native.risk_finish([blob], empty, schema.to_json(), config)
    halves = [
        pets._native.risk_partial(t, schema.to_json(), config)
        for t in (table.slice(0, 1_000), table.slice(1_000))
    ]
    split = pets._native.risk_finish(halves, empty, schema.to_json(), config)
    assert json.loads(split.to_json())["k_anonymity"] == json.loads(whole.to_json())["k_anonymity"]
    with pytest.raises(pets.PetsError, match="version"):
        pets._native.risk_finish([b"PETP\x09"], empty, schema.to_json(), config)


def _no_jobs(spark, group, call):
    """Run ``call`` in a Spark job group and return how many jobs it started."""
    spark.sparkContext.setJobGroup(group, "pets test")
    try:
        call()
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    return len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))


@pytest.mark.parametrize("by", [None, ["age_band", "hour(arrival_datetime)"], "provider_code"])
def test_dp_counts_equal_the_single_machine_release_before_noise(ae, frame, by):
    table, schema = ae
    # At epsilon 1e6 the integer noise is zero, so both releases show the exact counts.
    one = pets.dp.Session(1e6, schema=schema).count(table, by, epsilon=1e6)
    session = pets.dp.Session(1e6)
    got = pets.spark.count(session, frame.repartition(5), schema, by, epsilon=1e6)
    a, b = one.to_dict(), got.to_dict()
    assert b == a
    assert session.spent.epsilon == pytest.approx(1e6)
    if by is None:
        assert got.value == 3_000


def test_dp_counts_check_the_budget_and_columns_before_any_spark_job(spark, ae, frame):
    _, schema = ae
    session = pets.dp.Session(1.0)
    with pytest.raises(pets.BudgetExceededError):
        _no_jobs(
            spark,
            "pets-budget",
            lambda: pets.spark.count(session, frame, schema, "sex", epsilon=2.0),
        )
    assert spark.sparkContext.statusTracker().getJobIdsForGroup("pets-budget") == []
    with pytest.raises(pets.SchemaError, match="sex"):
        pets.spark.count(session, frame.drop("sex"), schema, "sex", epsilon=0.5)
    assert session.spent.epsilon == 0
    res = pets.spark.count(session, frame, schema, "sex", epsilon=0.5)
    assert len(res.value) == len(res.to_dict()["labels"][0])
    assert session.spent.epsilon == pytest.approx(0.5)


def test_docstring_example(spark):
    result = doctest.testmod(
        pets.spark,
        extraglobs={"spark": spark},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted > 0
    assert result.failed == 0


@pytest.fixture(scope="module")
def numbers(spark, tmp_path_factory):
    """Numeric columns (nulls in ``length_of_stay_days``) as a table and a DataFrame."""
    columns = ["age", "total_time_in_dept_min", "length_of_stay_days"]
    table = pets.datasets.generate_ae(3_000, seed=6).select(columns)
    path = tmp_path_factory.mktemp("spark-numbers") / "numbers.parquet"
    pets.write_table(table, path)
    return table, spark.read.parquet(str(path))


@pytest.mark.parametrize(
    ("kind", "column", "bounds"),
    [
        ("sum", "total_time_in_dept_min", (0, 1440)),
        ("mean", "length_of_stay_days", (0, 60)),
        ("variance", "age", (0, 110)),
    ],
)
def test_dp_sums_means_and_variances_equal_the_single_machine_release(
    ae, numbers, kind, column, bounds
):
    _, schema = ae
    table, frame = numbers
    # At epsilon 1e9 the noise is far below 1e-6: both releases show the exact statistic
    # of the same fixed-point sums (the partitions' integers add up exactly).
    one_session = pets.dp.Session(1e9, schema=schema)
    one = getattr(one_session, kind)(table, column, bounds, epsilon=1e9)
    session = pets.dp.Session(1e9)
    got = getattr(pets.spark, kind)(
        session, frame.repartition(5), schema, column, bounds, epsilon=1e9
    )
    a, b = one.to_dict(), got.to_dict()
    assert got.value == pytest.approx(one.value, rel=1e-9, abs=1e-6)
    assert b.keys() == a.keys()
    assert b.get("warnings") == a.get("warnings")
    strip = [{k: v for k, v in e.items() if k != "accuracy"} for e in session.ledger()["entries"]]
    assert strip == [
        {k: v for k, v in e.items() if k != "accuracy"} for e in one_session.ledger()["entries"]
    ]
    assert session.spent.epsilon == pytest.approx(1e9)


def test_dp_sums_check_bounds_and_columns_before_any_spark_job(spark, ae, numbers):
    _, schema = ae
    _, frame = numbers
    session = pets.dp.Session(1.0)
    with pytest.raises(pets.InvalidParameterError, match="bounds"):
        pets.spark.mean(session, frame, schema, "age", (0, float("inf")), epsilon=0.5)
    with pytest.raises(pets.SchemaError, match="age"):
        _no_jobs(
            spark,
            "pets-sum-columns",
            lambda: pets.spark.sum(session, frame.drop("age"), schema, "age", (0, 110)),
        )
    assert spark.sparkContext.statusTracker().getJobIdsForGroup("pets-sum-columns") == []
    with pytest.raises(pets.BudgetExceededError):
        pets.spark.variance(session, frame, schema, "age", (0, 110), epsilon=2.0)
    assert session.spent.epsilon == 0


def _measured(synth):
    """The measurements (columns and values) and the selected tree of a fitted model."""
    model = json.loads(synth.model.to_json())
    return model["selected"], [
        (m["columns"], m["measurement"]["values"]) for m in model["measurements"]
    ]


def test_mst_fit_on_partitions_measures_what_one_machine_measures(ae, frame):
    table, schema = ae
    # At epsilon 1e6 the noise is zero: the same exact counts give the same compression,
    # tree and measurements, so the fits are the same model.
    settings = {"epsilon": 1e6, "delta": 1e-9, "schema": schema, "columns": COLUMNS}
    one = pets.synth.MST(**settings).fit(table)
    synth = pets.spark.fit(pets.synth.MST(**settings), frame.repartition(4))
    assert synth.is_fitted
    assert _measured(synth) == _measured(one)
    assert "partitions are counted separately" in json.dumps(synth.model.ledger())
    sample = synth.sample(200, seed=1)
    assert isinstance(sample, pa.Table)
    assert sample.num_rows == 200
    assert sample.column_names == one.sample(10, seed=1).column_names


def test_mst_fit_on_partitions_refuses_what_it_cannot_do_before_any_spark_job(spark, ae, frame):
    _, schema = ae
    for synth, error, match in [
        (
            pets.synth.PrivBayes(epsilon=1.0, schema=schema, columns=COLUMNS),
            pets.InvalidParameterError,
            "only MST",
        ),
        (
            pets.synth.MST(epsilon=1.0, schema=schema, columns=COLUMNS, person_id="sex"),
            pets.InvalidParameterError,
            "person",
        ),
        (pets.synth.MST(epsilon=1.0, columns=COLUMNS), pets.InvalidParameterError, "declared"),
        (pets.synth.MST(epsilon=1.0, schema=schema), pets.SchemaError, None),
    ]:
        with pytest.raises(error, match=match):
            _no_jobs(spark, "pets-fit", lambda s=synth: pets.spark.fit(s, frame))
        assert spark.sparkContext.statusTracker().getJobIdsForGroup("pets-fit") == []
    with pytest.raises(TypeError, match="MST"):
        pets.spark.fit(object(), frame)

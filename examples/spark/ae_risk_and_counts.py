"""pets on Spark: risk report, DP counts and mean, and an MST fit of 10M A&E attendances.

Generate the data once (10M rows, about a minute), then run this script:

    pets datasets generate --rows 10000000 --seed 1 --out /tmp/spark/ae10m.parquet
    python examples/spark/ae_risk_and_counts.py /tmp/spark/ae10m.parquet

Spark runs in local mode with 2 workers (``local[2]``); on Databricks, use the cluster's
``spark`` session instead and the same two calls. Each partition's exact partial counts
(equivalence classes, table cells, fixed-point sums, MST's 1- and 2-way counts) are computed by the pets core on the executors through
``mapInArrow``; the driver merges them exactly and finishes: the report is the one
``pets.risk.assess`` gives on the whole table, the DP table's and mean's noise is added
once, by the session, which charges its budget, and MST is fitted once from the merged
counts (every column of the schema but the identifiers, as ``pets synth fit`` does). With
``--compare`` the same is run in one process (``pets.risk.assess``,
``pets.dp.Session.count``/``mean``, ``pets.synth.MST.fit`` on the Parquet file) and timed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import pets
import pets.datasets
import pets.dp
import pets.risk
import pets.spark
import pets.synth
from pyspark.sql import SparkSession

QI = ["sex", "age_band", "postcode_district", "arrival_datetime"]
OPTIONS = {
    "qi": QI,
    "sensitive": "diagnosis_group",
    "k": 10,
    "generalise": {"arrival_datetime": "day"},
    # The scenario and SUDA analyses are the same code either way; off for a quick run.
    "scenarios": False,
    "suda": False,
}
BY = ["age_band", "hour(arrival_datetime)"]
MEAN = ("total_time_in_dept_min", (0, 1440))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parquet", help="A&E attendances (pets datasets generate)")
    parser.add_argument("--workers", type=int, default=2, help="local[N] (default 2)")
    parser.add_argument(
        "--compare", action="store_true", help="also run in one process"
    )
    args = parser.parse_args()

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(f"local[{args.workers}]")
        .appName("pets-spark-example")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(2 * args.workers))
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    schema = pets.datasets.ae_schema()
    df = spark.read.parquet(args.parquet)

    t = time.perf_counter()
    report = pets.spark.risk(df, schema, **OPTIONS)
    spark_risk = time.perf_counter() - t
    print(f"pets.spark.risk   {spark_risk:7.1f} s  {report!r}")

    session = pets.dp.Session(1.0)
    t = time.perf_counter()
    table = pets.spark.count(session, df, schema, BY, epsilon=0.5, non_negative=True)
    spark_count = time.perf_counter() - t
    print(
        f"pets.spark.count  {spark_count:7.1f} s  {len(table.value)} cells, spent {session.spent}"
    )
    t = time.perf_counter()
    mean = pets.spark.mean(session, df, schema, *MEAN, epsilon=0.5)
    print(
        f"pets.spark.mean   {time.perf_counter() - t:7.1f} s  {mean.value:.1f} minutes"
    )
    t = time.perf_counter()
    synth = pets.spark.fit(pets.synth.MST(1.0, 1e-9, schema=schema), df)
    print(f"pets.spark.fit    {time.perf_counter() - t:7.1f} s  {synth.model!r}")

    if args.compare:
        t = time.perf_counter()
        one = pets.risk.assess(args.parquet, schema=schema, **OPTIONS)
        single_risk = time.perf_counter() - t
        print(f"pets.risk.assess  {single_risk:7.1f} s  {one!r}")
        same = report.to_dict() | {"timings_ms": None} == one.to_dict() | {
            "timings_ms": None
        }
        print(f"same report: {same}")
        t = time.perf_counter()
        pets.dp.Session(1.0, schema=schema).count(args.parquet, BY, epsilon=0.5)
        print(f"Session.count     {time.perf_counter() - t:7.1f} s")
        t = time.perf_counter()
        pets.dp.Session(1.0, schema=schema).mean(args.parquet, *MEAN, epsilon=0.5)
        print(f"Session.mean      {time.perf_counter() - t:7.1f} s")
        t = time.perf_counter()
        pets.synth.MST(1.0, 1e-9, schema=schema).fit(args.parquet)
        print(f"MST.fit           {time.perf_counter() - t:7.1f} s")
    spark.stop()


if __name__ == "__main__":
    main()

"""pets' own share of ``pets.spark.risk`` and ``pets.spark.fit``: native partition and driver steps.

Reads the Parquet file's five assessed columns with pyarrow, cuts the rows into
``--partitions`` slices (as Spark would), and times ``risk_partial`` on each slice (what an
executor runs), ``risk_finish`` on the partials (what the driver runs) and
``pets.risk.assess`` on the whole table (one process). With ``--synth``, the same for an MST
fit on every column of the schema but the identifiers (``fit_mst`` stages ``partial`` and
``finish`` against ``pets.synth.MST.fit``). No Spark needed::

    pets datasets generate --rows 10000000 --seed 1 --out /tmp/spark/ae10m.parquet
    python benches/spark_partials.py /tmp/spark/ae10m.parquet --partitions 3 [--synth]
"""

from __future__ import annotations

import argparse
import time

import pyarrow.parquet as pq

import pets
import pets.datasets
import pets.risk
import pets.synth
from pets import _native

QI = ["sex", "age_band", "postcode_district", "arrival_datetime"]
SENSITIVE = "diagnosis_group"
OPTIONS = {
    "k": 10,
    "generalise": {"arrival_datetime": "day"},
    "scenarios": False,
    "suda": False,
}


def main() -> None:
    """Time the native steps and compare the reports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parquet")
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--synth", action="store_true", help="time an MST fit instead")
    args = parser.parse_args()
    if args.synth:
        synth(args.parquet, args.partitions)
        return

    schema = pets.datasets.ae_schema()
    t = time.perf_counter()
    table = pq.read_table(args.parquet, columns=[*QI, SENSITIVE])
    print(f"read {table.num_rows:,} rows: {time.perf_counter() - t:.1f} s")
    config, levels, paths = pets.risk._arguments(
        QI,
        SENSITIVE,
        k=OPTIONS["k"],
        l=None,
        t=None,
        c=3.0,
        l_variant="distinct",
        ground_distance="auto",
        alpha=None,
        beta=None,
        delta=None,
        risk_threshold=0.2,
        max_records_at_risk=0.0,
        max_average_risk=None,
        sampling_fraction=None,
        intruder=None,
        scenarios=False,
        suda=False,
        what_if=True,
        schema=schema,
        generalise=OPTIONS["generalise"],
        hierarchy=None,
    )
    schema_json = schema.to_json()
    n, k = table.num_rows, args.partitions
    partials = []
    for i in range(k):
        lo, hi = i * n // k, (i + 1) * n // k
        t = time.perf_counter()
        blob = _native.risk_partial(
            table.slice(lo, hi - lo), schema_json, config, levels, paths, "auto"
        )
        print(f"partial {i}: {time.perf_counter() - t:.1f} s, {len(blob) / 1e6:.1f} MB")
        partials.append(blob)
    t = time.perf_counter()
    merged = pets.risk.RiskReport(
        _native.risk_finish(
            partials, table.schema.empty_table(), schema_json, config, levels, paths, "auto"
        )
    )
    print(f"driver (merge + report): {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    one = pets.risk.assess(table, QI, SENSITIVE, schema=schema, **OPTIONS)
    print(f"one process (in-memory table): {time.perf_counter() - t:.1f} s")
    same = merged.to_dict() | {"timings_ms": None} == one.to_dict() | {"timings_ms": None}
    print(f"same report: {same}")


def synth(parquet: str, k: int) -> None:
    """Time MST's partitioned steps on ``k`` slices against one fit of the whole table."""
    schema = pets.datasets.ae_schema()
    t = time.perf_counter()
    table = pq.read_table(parquet)
    print(f"read {table.num_rows:,} rows: {time.perf_counter() - t:.1f} s")
    mst = pets.synth.MST(1.0, 1e-9, schema=schema)
    args, kwargs = mst._fit_arguments()
    n = table.num_rows
    partials = []
    for i in range(k):
        lo, hi = i * n // k, (i + 1) * n // k
        t = time.perf_counter()
        blob = _native.fit_mst(table.slice(lo, hi - lo), *args, **kwargs, stage="partial")
        print(f"partial {i}: {time.perf_counter() - t:.1f} s, {len(blob) / 1e6:.1f} MB")
        partials.append(blob)
    t = time.perf_counter()
    _native.fit_mst(table.schema.empty_table(), *args, **kwargs, stage="finish", partials=partials)
    print(f"driver (merge + fit): {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    mst.fit(table)
    print(f"one process (in-memory table): {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()

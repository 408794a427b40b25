#!/usr/bin/env python3
"""DP histogram of A&E arrivals by provider x hour x age band: pets vs OpenDP and diffprivlib.

The same query on the same rows (a Parquet file written by ``pets datasets generate``), with
epsilon 1 and row-level (add/remove one attendance) privacy in every library:

- **pets**: ``target/release/examples/dp_oneshot FILE`` (exact counting over the encoded
  codes with rayon, then OpenDP's discrete Laplace sampler on every cell, rayon across cells);
- **OpenDP (Python)**: ``make_count_by_categories`` over the flat cell index of each row,
  chained with ``then_laplace`` (discrete Laplace on integer counts);
- **diffprivlib**: ``tools.histogramdd`` over (provider, hour, age band) with the public bins;
- **numpy** (not private): ``np.bincount`` of the cell index, as a floor.

Preparation (reading the three columns and turning them into codes against the public domain
from ``datasets/schema/ae.schema.json``) is timed once and shown apart: it is the analogue of
pets' encoding. Query times are the median of ``--repeat`` runs.

Usage (from the repository root, with the benchmark venv of ``benches/README.md``)::

    /work/benchvenv/bin/python benches/peers/dp_peers.py /tmp/ae-1m.parquet --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "datasets" / "schema" / "ae.schema.json"
EPSILON = 1.0


def domain(name: str) -> list[str]:
    """Return the public values of a categorical column of the shipped A&E schema."""
    schema = json.loads(SCHEMA.read_text())
    for col in schema["columns"]:
        if col["name"] == name:
            return col["values"]
    raise KeyError(name)


def codes(values, public: list[str]) -> np.ndarray:
    """Return the code of each value in the public domain (an error when outside it)."""
    idx = pc.index_in(values, value_set=pa.array(public, type=pa.string()))
    idx = idx.to_numpy(zero_copy_only=False)
    if np.isnan(idx.astype(float)).any():
        raise ValueError("value outside the public domain")
    return idx.astype(np.int64)


def timed(fn, repeat: int) -> tuple[float, object]:
    """Return the median wall time of ``fn`` over ``repeat`` runs and its last result."""
    times = []
    out = None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return median(times), out


def prepare(path: str) -> tuple[np.ndarray, tuple[int, int, int], float]:
    """Read the three columns and return the flat cell index per row, the shape and the time."""
    start = time.perf_counter()
    table = pq.read_table(path, columns=["provider_code", "arrival_datetime", "age_band"])
    providers = domain("provider_code")
    bands = domain("age_band")
    prov = codes(table["provider_code"].combine_chunks(), providers)
    band = codes(table["age_band"].combine_chunks(), bands)
    arrival = table["arrival_datetime"]
    if not str(arrival.type).startswith("timestamp"):
        arrival = pc.strptime(arrival, format="%Y-%m-%dT%H:%M:%S", unit="s")
    hour = pc.hour(arrival).to_numpy().astype(np.int64)
    shape = (len(providers), 24, len(bands))
    cell = (prov * shape[1] + hour) * shape[2] + band
    return cell, shape, time.perf_counter() - start


def run_opendp(cell: np.ndarray, n_cells: int):
    """Build the OpenDP measurement and return (build time, a release function)."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    start = time.perf_counter()
    space = dp.vector_domain(dp.atom_domain(T=dp.i64)), dp.symmetric_distance()
    meas = (
        space
        >> dp.t.then_count_by_categories(categories=list(range(n_cells)), null_category=False)
        >> dp.m.then_laplace(scale=1.0 / EPSILON)
    )
    assert meas.map(1) <= EPSILON + 1e-9, meas.map(1)
    build = time.perf_counter() - start
    data = cell.tolist()
    return build, lambda: meas(data)


def run_diffprivlib(cell: np.ndarray, shape: tuple[int, int, int]):
    """Return a function releasing the histogram with diffprivlib's histogramdd."""
    import warnings

    from diffprivlib.tools import histogramdd

    prov, rest = np.divmod(cell, shape[1] * shape[2])
    hour, band = np.divmod(rest, shape[2])
    sample = np.column_stack([prov, hour, band])
    ranges = [(-0.5, s - 0.5) for s in shape]

    def release():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hist, _ = histogramdd(sample, epsilon=EPSILON, bins=shape, range=ranges)
        return hist

    return release


def run_pets(path: str, repeat: int) -> dict:
    """Run the pets one-shot example on the same file and return its figures."""
    exe = ROOT / "target" / "release" / "examples" / "dp_oneshot"
    if not exe.exists():
        subprocess.run(
            ["cargo", "build", "--release", "-p", "pets-benches", "--example", "dp_oneshot"],
            cwd=ROOT,
            check=True,
        )
    out = subprocess.run(
        [str(exe), path, str(repeat)], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("PETS_JSON "))
    return json.loads(line.removeprefix("PETS_JSON "))


def main() -> int:
    """Run every library on the file and print the figures and the ratios to pets."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("parquet", help="A&E Parquet file from `pets datasets generate`")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip", default="", help="comma-separated: pets,opendp,diffprivlib")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    cell, shape, prep = prepare(args.parquet)
    n_cells = int(np.prod(shape))
    rows = len(cell)
    print(f"{rows} rows, {shape[0]} x {shape[1]} x {shape[2]} = {n_cells} cells, eps {EPSILON}")
    print(f"load: {os.cpu_count()} cpus; uptime {os.getloadavg()}")
    print(f"prepare (read 3 columns, codes against the public domain): {prep:.3f} s")
    results: dict[str, float] = {}

    t, counts = timed(lambda: np.bincount(cell, minlength=n_cells), args.repeat)
    results["numpy bincount (not private)"] = t
    assert counts.sum() == rows

    if "pets" not in skip:
        p = run_pets(args.parquet, args.repeat)
        results["pets histogram (count + noise)"] = p["histogram_s"]
        print(
            f"pets: encode {p['encode_s']:.3f} s (with Parquet read), counting "
            f"{p['counting_s']:.3f} s, noise {p['noise_s']:.3f} s, bounding 3/person "
            f"{p['bounding_s']:.3f} s, histogram 3/person {p['histogram_3pp_s']:.3f} s"
        )
    if "opendp" not in skip:
        build, release = run_opendp(cell, n_cells)
        t, out = timed(release, args.repeat)
        assert len(out) == n_cells
        results["OpenDP count_by_categories >> laplace"] = t
        print(f"OpenDP: measurement built in {build:.3f} s (not counted)")
    if "diffprivlib" not in skip:
        t, out = timed(run_diffprivlib(cell, shape), args.repeat)
        assert out.size == n_cells
        results["diffprivlib histogramdd"] = t

    base = results.get("pets histogram (count + noise)")
    print(f"\n{'query (median of ' + str(args.repeat) + ')':<42} {'seconds':>10} {'x pets':>8}")
    for name, t in results.items():
        ratio = f"{t / base:.1f}" if base else "-"
        print(f"{name:<42} {t:>10.3f} {ratio:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

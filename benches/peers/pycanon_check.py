#!/usr/bin/env python3
"""Cross-check pets' k-anonymity, l-diversity and t-closeness against pycanon 1.3.6.

Two data sets, each with several (quasi-identifiers, sensitive attribute) configurations:

- **UCI Adult** (``../shared/data/adult/adult.data``, skipped when absent): pets' figures come
  from the integration test ``crates/pets/tests/disclosure_adult.rs``, which writes them as
  JSON when ``PETS_ADULT_DUMP`` is set (this script runs it unless ``--pets-json`` is given);
- **a generated A&E sample** (``--ae-rows``, default 5,000; 0 skips it): written by
  ``pets datasets generate`` (the binary in ``PETS_BIN``, default ``target/release/pets``),
  with the arrival date (the day of ``arrival_datetime``) added as a column; pets' figures
  come from the command line ``pets risk ... --json``, the release panel's front door, on a
  Parquet copy with a schema holding just the columns used.

Compared, per configuration:

- k: ``pycanon.anonymity.k_anonymity`` vs pets k (smallest class);
- distinct l: ``pycanon.anonymity.l_diversity`` vs pets distinct l;
- entropy l: pycanon returns ``int(min exp(H))``; pets reports ``min exp(H)`` as a float, so
  the floor is compared;
- recursive (c,l): pycanon sorts each class's counts ascending and uses the *smallest* count
  as r_1; Machanavajjhala et al. define r_1 as the *largest*. pets implements the paper; this
  script recomputes the paper's ratio independently with pandas and compares that;
- t: ``pycanon.anonymity.t_closeness`` (equal distance for text, ordered distance over the
  values present for numbers) vs pets t, to 1e-9.

Every pycanon call is timed; the pets time is the whole ``pets risk`` run (read, encode,
report) for A&E and the integration test's run for Adult.

Usage (benchmark venv of ``benches/README.md``; cargo on PATH)::

    /work/benchvenv/bin/python benches/peers/pycanon_check.py [--ae-rows 10000]

Exit status 0 when every compared figure agrees, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pycanon import anonymity

ROOT = Path(__file__).resolve().parents[2]
AE_SCHEMA = ROOT / "datasets" / "schema" / "ae.schema.json"
PETS = Path(os.environ.get("PETS_BIN", ROOT / "target" / "release" / "pets"))

ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
]

# Keep in sync with CONFIGS in crates/pets/tests/disclosure_adult.rs.
ADULT_CONFIGS = [
    (["sex", "race"], "income", 2),
    (["sex", "race", "marital-status"], "occupation", 2),
    (["sex", "race"], "education-num", 2),
    (["age", "sex"], "income", 2),
    (["workclass", "relationship", "sex"], "education", 3),
]

# The disclosure issue's intruder facts, a coarse release with large classes, and an ordinal
# sensitive attribute (ordered EMD).
AE_CONFIGS = [
    (["age", "sex", "postcode_district", "arrival_date"], "diagnosis_group", 2),
    (["age_band", "department_type"], "diagnosis_group", 2),
    (["age_band", "imd_decile"], "acuity", 2),
]


def paper_recursive_c(df: pd.DataFrame, qi: list[str], sa: str, l_: int) -> float:
    """Return max over classes of r_1 / (r_l + ... + r_m), counts sorted descending.

    Infinity when a class has fewer than l values.
    """
    worst = 0.0
    for _, g in df.groupby(qi, observed=True):
        r = sorted(g[sa].value_counts().tolist(), reverse=True)
        tail = sum(r[l_ - 1 :])
        if tail == 0:
            return math.inf
        worst = max(worst, r[0] / tail)
    return worst


def clock(fn):
    """Return (result, seconds) of calling ``fn``."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def compare(df: pd.DataFrame, qi: list[str], sa: str, l_: int, ours: dict) -> tuple[list, dict]:
    """Compute pycanon's figures for one configuration and compare them with pets'."""
    k, tk = clock(lambda: anonymity.k_anonymity(df, qi))
    ld, tl = clock(lambda: anonymity.l_diversity(df, qi, [sa]))
    el, te = clock(lambda: anonymity.entropy_l_diversity(df, qi, [sa]))
    (pc_c, _), tr = clock(lambda: anonymity.recursive_c_l_diversity(df, qi, [sa]))
    t, tt = clock(lambda: anonymity.t_closeness(df, qi, [sa]))
    paper_c = paper_recursive_c(df, qi, sa, l_)
    pets_c = math.inf if ours["recursive_max_ratio"] is None else ours["recursive_max_ratio"]
    same_c = (math.isinf(paper_c) and math.isinf(pets_c)) or abs(paper_c - pets_c) < 1e-9
    checks = [
        ("k", k, ours["k"], k == ours["k"]),
        ("distinct l", ld, ours["distinct_l"], ld == ours["distinct_l"]),
        ("entropy l (floor)", el, ours["entropy_l"], el == math.floor(ours["entropy_l"] + 1e-12)),
        (f"recursive c (paper, l={l_})", paper_c, pets_c, same_c),
        ("recursive c (pycanon quirk)", pc_c, "n/a", True),
        ("t", t, ours["t"], abs(t - ours["t"]) < 1e-9),
    ]
    times = {"k": tk, "l": tl, "entropy l": te, "recursive l": tr, "t": tt}
    return checks, times


def adult_pets(args: argparse.Namespace) -> tuple[list, float]:
    """Return pets' Adult figures (from --pets-json or the integration test) and its time."""
    if args.pets_json:
        return json.loads(Path(args.pets_json).read_text()), float("nan")
    out = str(Path(tempfile.mkdtemp(prefix="pets-adult-")) / "adult.json")
    env = dict(os.environ, PETS_ADULT_DUMP=out)
    env["PETS_SHARED_DATA"] = str(Path(args.adult).resolve().parent.parent)
    cmd = ["cargo", "test", "--release", "-p", "pets", "--test", "disclosure_adult"]
    built = subprocess.run(
        [*cmd, "--no-run", "--message-format=json"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    exe = next(
        m["executable"]
        for m in map(json.loads, built.splitlines())
        if m.get("reason") == "compiler-artifact" and m.get("executable")
    )
    # Time the test binary itself (cargo's own start-up and lock waits are not pets').
    _, secs = clock(
        lambda: subprocess.run(
            [exe, "adult_matches_pycanon", "--exact", "--nocapture"],
            cwd=ROOT / "crates" / "pets",
            env=env,
            check=True,
            capture_output=True,
        )
    )
    return json.loads(Path(out).read_text()), secs


def run_adult(args: argparse.Namespace) -> tuple[list, list]:
    """Compare every Adult configuration; return the result rows and timing rows."""
    df = pd.read_csv(args.adult, header=None, names=ADULT_COLUMNS, sep=", ", engine="python")
    df = df.dropna(how="all")
    figures, secs = adult_pets(args)
    pets = {(*c["quasi_identifiers"], c["sensitive"]): c for c in figures}
    rows, timing = [], []
    for qi, sa, l_ in ADULT_CONFIGS:
        name = f"adult: {'+'.join(qi)} | {sa}"
        checks, times = compare(df, qi, sa, l_, pets[(*qi, sa)])
        rows += [(name, *c) for c in checks]
        timing.append((name, len(df), times, None))
    timing.append(
        ("adult: pets, all 5 configurations (load + encode + measures)", len(df), {}, secs)
    )
    return rows, timing


def ae_sample(rows: int, work: Path) -> tuple[pd.DataFrame, Path, Path]:
    """Generate an A&E sample; return it with arrival_date, its Parquet copy and schema."""
    if not PETS.exists():
        subprocess.run(
            ["cargo", "build", "--release", "-p", "pets-cli", "--bin", "pets"], cwd=ROOT, check=True
        )
    raw = work / "ae.parquet"
    subprocess.run(
        [str(PETS), "datasets", "generate", "--rows", str(rows), "--seed", "7", "--out", str(raw)],
        check=True,
        capture_output=True,
    )
    used = sorted({c for qi, sa, _ in AE_CONFIGS for c in [*qi, sa]} - {"arrival_date"})
    table = pq.read_table(raw, columns=[*used, "arrival_datetime"])
    df = table.to_pandas()
    df["arrival_date"] = pd.to_datetime(df["arrival_datetime"]).dt.date
    df = df.drop(columns="arrival_datetime")
    data = work / "ae-sample.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), data)
    schema = json.loads(AE_SCHEMA.read_text())
    cols = [c for c in schema["columns"] if c["name"] in used]
    arrival = next(c for c in schema["columns"] if c["name"] == "arrival_datetime")
    cols.append(
        {
            "name": "arrival_date",
            "kind": "date",
            "min": arrival["min"][:10],
            "max": arrival["max"][:10],
            "role": "quasi_identifier",
        }
    )
    schema["columns"] = cols
    schema_path = work / "ae-sample.schema.json"
    schema_path.write_text(json.dumps(schema))
    df["arrival_date"] = df["arrival_date"].astype(str)
    return df, data, schema_path


def run_ae(rows: int) -> tuple[list, list]:
    """Compare every A&E configuration on a generated sample of ``rows`` rows."""
    work = Path(tempfile.mkdtemp(prefix="pets-pycanon-"))
    df, data, schema = ae_sample(rows, work)
    out_rows, timing = [], []
    for qi, sa, l_ in AE_CONFIGS:
        name = f"a&e {rows}: {'+'.join(qi)} | {sa}"
        out = work / "risk.json"
        cmd = [str(PETS), "risk", str(data), "--schema", str(schema), "--qi", ",".join(qi)]
        cmd += ["--sensitive", sa, "--l", str(l_), "--t", "0.3", "--json", str(out)]
        cmd += ["--no-scenarios", "--no-suda"]
        done, secs = clock(lambda cmd=cmd: subprocess.run(cmd, capture_output=True, text=True))
        if done.returncode not in (0, 1):
            raise RuntimeError(f"pets risk failed: {done.stderr}")
        rep = json.loads(out.read_text())
        ours = {
            "k": rep["k_anonymity"]["k"],
            "distinct_l": rep["l_diversity"]["distinct_l"],
            "entropy_l": rep["l_diversity"]["entropy_l"],
            "recursive_max_ratio": rep["l_diversity"]["recursive"]["max_ratio"],
            "t": rep["t_closeness"]["t"],
        }
        checks, times = compare(df, qi, sa, l_, ours)
        out_rows += [(name, *c) for c in checks]
        timing.append((name, len(df), times, secs))
    return out_rows, timing


def fmt(v) -> str:
    """Format a figure for the table."""
    if isinstance(v, float) and not math.isinf(v):
        return f"{v:.9f}"
    return str(v)


def main() -> int:
    """Run the cross-checks and print agreement and timings."""
    default_adult = ROOT.parent / "shared" / "data" / "adult" / "adult.data"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--adult", default=os.environ.get("PETS_ADULT", str(default_adult)))
    ap.add_argument("--pets-json", help="pets' Adult figures written by the integration test")
    ap.add_argument("--ae-rows", type=int, default=5_000, help="A&E sample size (0: skip)")
    ap.add_argument("--no-adult", action="store_true", help="skip UCI Adult")
    args = ap.parse_args()
    rows, timing = [], []
    if args.no_adult:
        pass
    elif Path(args.adult).exists():
        r, t = run_adult(args)
        rows, timing = rows + r, timing + t
    else:
        print(f"UCI Adult not found at {args.adult}; skipping it")
    if args.ae_rows:
        r, t = run_ae(args.ae_rows)
        rows, timing = rows + r, timing + t
    ok = all(r[4] for r in rows)
    w = max(len(r[0]) for r in rows)
    print(f"{'configuration':<{w}}  {'measure':<28} {'pycanon / pandas':>20} {'pets':>20}  result")
    for cfg, name, theirs, ours, agree in rows:
        res = "ok" if agree else "DIFF"
        print(f"{cfg:<{w}}  {name:<28} {fmt(theirs):>20} {fmt(ours):>20}  {res}")
    print("\ntimings (seconds; pycanon per measure, pets for the whole run)")
    for cfg, n, times, pets_s in timing:
        parts = " ".join(f"{k}={v:.2f}" for k, v in times.items())
        pets_part = f" | pets {pets_s:.3f}" if pets_s is not None else ""
        print(f"{cfg:<{w}}  rows={n:<7} {parts}{pets_part}")
    print(f"load average: {os.getloadavg()}")
    print("ALL AGREE" if ok else "DIFFERENCES FOUND")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Cross-check pets' k-anonymity, l-diversity and t-closeness against pycanon 1.3.6.

Usage:
    python3 -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip install pycanon==1.3.6
    /tmp/peers-venv/bin/python benches/peers/pycanon_check.py [--pets-json FILE] [--adult PATH]

pets' figures come from the integration test crates/pets/tests/disclosure_adult.rs, which
writes them as JSON when PETS_ADULT_DUMP is set; without --pets-json this script runs that
test itself (cargo must be on PATH). Each configuration (quasi-identifiers, sensitive
attribute) is computed by pycanon and by pets and compared:

- k: pycanon.anonymity.k_anonymity vs pets k (smallest class);
- distinct l: pycanon.anonymity.l_diversity vs pets distinct_l;
- entropy l: pycanon returns int(min exp(H)); pets reports min exp(H) as a float, so the
  floor is compared and the float shown;
- recursive (c,l): pycanon sorts each class's counts ascending and uses the *smallest*
  count as r_1 (its c = max floor(r_min / sum(r[l-1:]) + 1)); Machanavajjhala et al. define
  r_1 as the *largest* count. Both are shown; pets implements the paper, and this script
  recomputes the paper's value independently with pandas to check pets;
- t: pycanon.anonymity.t_closeness (equal distance for text, ordered distance over the
  values present for numbers) vs pets t.

Exit status 0 when every compared figure agrees (to 1e-9 for t), 1 otherwise.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import pandas as pd
from pycanon import anonymity

COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
    "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
    "hours-per-week", "native-country", "income",
]

# Keep in sync with CONFIGS in crates/pets/tests/disclosure_adult.rs.
CONFIGS = [
    (["sex", "race"], "income", 2),
    (["sex", "race", "marital-status"], "occupation", 2),
    (["sex", "race"], "education-num", 2),
    (["age", "sex"], "income", 2),
    (["workclass", "relationship", "sex"], "education", 3),
]


def paper_recursive_c(df, qi, sa, l):
    """max over classes of r_1 / (r_l + ... + r_m), counts sorted descending; inf if a class
    has fewer than l values."""
    worst = 0.0
    for _, g in df.groupby(qi):
        r = sorted(g[sa].value_counts().tolist(), reverse=True)
        tail = sum(r[l - 1:])
        if tail == 0:
            return math.inf
        worst = max(worst, r[0] / tail)
    return worst


def load_pets(args):
    if args.pets_json:
        with open(args.pets_json) as f:
            return json.load(f)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
    env = dict(os.environ, PETS_ADULT_DUMP=out)
    if args.adult:
        env["PETS_SHARED_DATA"] = os.path.dirname(os.path.dirname(os.path.abspath(args.adult)))
    subprocess.run(
        ["cargo", "test", "--release", "-p", "pets", "--test", "disclosure_adult", "--",
         "--nocapture"],
        cwd=root, env=env, check=True,
    )
    with open(out) as f:
        return json.load(f)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_adult = os.path.join(here, "..", "..", "..", "shared", "data", "adult", "adult.data")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--adult", default=os.environ.get("PETS_ADULT", default_adult))
    ap.add_argument("--pets-json", help="pets figures written by the integration test")
    args = ap.parse_args()
    if not os.path.exists(args.adult):
        print(f"UCI Adult not found at {args.adult}; nothing to check")
        return 0
    df = pd.read_csv(args.adult, header=None, names=COLUMNS, sep=", ", engine="python")
    df = df.dropna(how="all")
    pets = {tuple(c["quasi_identifiers"]) + (c["sensitive"],): c for c in load_pets(args)}
    ok = True
    rows = []
    for qi, sa, l in CONFIGS:
        p = pets[tuple(qi) + (sa,)]
        k = anonymity.k_anonymity(df, qi)
        ld = anonymity.l_diversity(df, qi, [sa])
        el = anonymity.entropy_l_diversity(df, qi, [sa])
        pc_c, _ = anonymity.recursive_c_l_diversity(df, qi, [sa])
        t = anonymity.t_closeness(df, qi, [sa])
        paper_c = paper_recursive_c(df, qi, sa, l)
        pets_c = p["recursive_max_ratio"]
        pets_c = math.inf if pets_c is None else pets_c
        checks = [
            ("k", k, p["k"], k == p["k"]),
            ("distinct l", ld, p["distinct_l"], ld == p["distinct_l"]),
            ("entropy l (floor)", el, p["entropy_l"], el == math.floor(p["entropy_l"] + 1e-12)),
            (f"recursive c (paper, l={l})", paper_c, pets_c,
             (math.isinf(paper_c) and math.isinf(pets_c)) or abs(paper_c - pets_c) < 1e-9),
            ("recursive c (pycanon quirk)", pc_c, "n/a", True),
            ("t", t, p["t"], abs(t - p["t"]) < 1e-9),
        ]
        for name, theirs, ours, agree in checks:
            ok &= agree
            rows.append((f"{'+'.join(qi)} | {sa}", name, theirs, ours, "ok" if agree else "DIFF"))
    w = max(len(r[0]) for r in rows)
    print(f"{'configuration':<{w}}  {'measure':<28} {'pycanon / python':>20} {'pets':>20}  result")
    for cfg, name, theirs, ours, res in rows:
        fmt = lambda v: f"{v:.9f}" if isinstance(v, float) and not math.isinf(v) else str(v)
        print(f"{cfg:<{w}}  {name:<28} {fmt(theirs):>20} {fmt(ours):>20}  {res}")
    print("ALL AGREE" if ok else "DIFFERENCES FOUND")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

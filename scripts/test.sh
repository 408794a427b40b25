#!/usr/bin/env bash
# The README's second command: build everything and run every check and test, Rust and
# Python, on a fresh machine with only the Rust toolchain and Python 3.11.
# .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

step() { printf '\n==== %s\n' "$*"; }
started=$(date +%s)

step "Rust: format"
cargo fmt --all --check

step "Rust: clippy (warnings are errors)"
cargo clippy --release --locked --workspace --all-targets -- -D warnings

# The checks below use the release profile, as clippy above and the tests below do, so that
# dependencies whose features come out the same are checked once, not once per profile.
step "Rust: the risk-only build (pets without default features: no OpenDP, OpenSSL or Parquet)"
cargo check --release --locked -p pets --no-default-features

step "Rust: the CLI without the network service (no tokio, axum, rustls or reqwest)"
cargo check --release --locked -p pets-cli --no-default-features

step "Rust: documentation (warnings are errors; the proofs are rustdoc pages)"
RUSTDOCFLAGS="-D warnings" cargo doc --release --locked --no-deps -p pets -p pets-synth

step "Rust: tests (release: statistical and scale tests need optimised code)"
cargo test --release --locked --workspace

step "Python: virtual environment"
VENV=${PETS_VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "maturin>=1.16,<2" pytest pyarrow pandas polars ruff \
    tqdm nbclient nbformat ipykernel matplotlib sphinx myst-parser statsmodels pyspark

step "Python: build the wheel and install it (what users install: abi3, no Rust needed)"
# `maturin build` reuses the artefacts `cargo test --release` just built, as long as it
# resolves the same features (bindings/python/Cargo.toml; a warning below names any drift).
# The tests below run against the installed wheel, not the source tree (`maturin develop` is
# the editable alternative while developing). With OPENSSL_NO_VENDOR=1 (CI) the extension links the
# system's libssl, so the wheel is tagged plain `linux` (this machine's kind), not manylinux;
# a wheel to publish is built with vendored OpenSSL and repaired (see bindings/python/README.md).
rm -rf target/wheels
"$VENV/bin/maturin" build --release --locked -m bindings/python/Cargo.toml -o target/wheels \
    --compatibility linux --auditwheel skip 2>&1 | tee target/wheel-build.log
# Only pyo3's crates and the binding itself should compile here; anything else means the
# features drifted apart (a few minutes lost, not a failure): say which.
again=$(sed -n 's/^ *Compiling \([^ ]*\) .*/\1/p' target/wheel-build.log \
    | grep -Ev '^(pyo3|pyo3-ffi|pyo3-build-config|pyo3-macros|pyo3-macros-backend|numpy|pyo3-arrow|pets-python)$' || true)
[ -z "$again" ] || printf 'WARNING: the wheel build compiled again: %s\n(see bindings/python/Cargo.toml)\n' "$(echo $again)" >&2
"$VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps target/wheels/pets-*.whl
ls -l target/wheels

step "Python: lint"
"$VENV/bin/ruff" check bindings/python benches
"$VENV/bin/ruff" format --check bindings/python benches

step "Python: documentation (Sphinx, warnings are errors)"
"$VENV/bin/sphinx-build" -q -W --keep-going -b html docs target/docs-html

step "Python: tests"
# A test that hangs prints every thread's stack after 5 minutes and the run stops after 30,
# so CI reports where instead of timing out silently.
timeout 1800 "$VENV/bin/python" -m pytest bindings/python/tests -q -o faulthandler_timeout=300

printf '\n==== all checks passed in %ss\n' "$(( $(date +%s) - started ))"

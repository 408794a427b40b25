#!/usr/bin/env bash
# The README's first command: build pets and run the main job on the embedded default
# (a generated, A&E-shaped dataset). Extra arguments go to `pets demo` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo run --release --locked -p pets-cli --bin pets -- demo "$@"

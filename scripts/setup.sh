#!/usr/bin/env bash
# Shared set-up for scripts/demo.sh and scripts/test.sh: checks the toolchain and installs
# the few system packages pets links against. Safe to run repeatedly.
set -euo pipefail

need() { command -v "$1" >/dev/null 2>&1 || { echo "setup: '$1' is required but not installed ($2)" >&2; exit 1; }; }
need cargo "install Rust 1.88 or newer with rustup"
need python3 "install Python 3.11 or newer"

python3 - <<'PY' || { echo "setup: Python 3.11 or newer is required" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

# System libraries: libssl-dev lets OpenSSL-using crates link the system library instead of
# compiling a vendored copy (see .cargo/config.toml). Installed only when missing and when
# we are allowed to (root, with apt).
if ! pkg-config --exists openssl 2>/dev/null && [ ! -f /usr/include/openssl/ssl.h ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing libssl-dev and pkg-config" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libssl-dev pkg-config) >/dev/null \
      || echo "setup: could not install libssl-dev; continuing" >&2
  else
    echo "setup: libssl-dev not found; install it (apt-get install libssl-dev pkg-config) if a build asks for OpenSSL" >&2
  fi
fi

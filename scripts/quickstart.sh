#!/usr/bin/env bash
# First run on a fresh Debian/Ubuntu machine: install what the build needs, then build and run the
# main job on the built-in demo corpus. Extra arguments are passed to `dpda`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo="$(command -v cargo || echo "$HOME/.cargo/bin/cargo")"
exec "$cargo" run --release -- "$@"

#!/usr/bin/env bash
# First run on a fresh Debian/Ubuntu machine: install what the build needs, build, and open the
# workbench on the built-in demo corpus (ready to press Start). Without a display it runs the
# headless demo instead. Extra arguments are passed to `dpda`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo="$(command -v cargo || echo "$HOME/.cargo/bin/cargo")"
if [ $# -eq 0 ] && [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    echo "no display: running the headless demo (dpda demo); open the workbench with 'cargo run --release' on a desktop"
    exec "$cargo" run --release -- demo
fi
exec "$cargo" run --release -- "$@"

#!/usr/bin/env bash
# RawBoost end to end, side by side: `dpda augment --algo N` on a folder (read + augment + write,
# whole process from start to exit) against the reference RawBoost.py doing the same work
# (scripts/rawboost_folder_reference.py: libsndfile read, process_Rawboost_feature, float WAV
# write). The ratio is the reference's read + augment + write loop alone (its interpreter start
# and imports left out) over dpda's whole process, start-up included: the strict comparison.
#
# Usage: REFERENCE_DIR=path/to/dpda_ga scripts/rawboost_cli_bench.sh [num_clips] [repeats]
# Defaults: 200 clips of 3.8-4.3 s at 16 kHz (32-bit float WAV), 3 repeats (median kept).
# Needs python3 with numpy, scipy and soundfile; dpda is built in release mode first.
set -euo pipefail
cd "$(dirname "$0")/.."
num_clips="${1:-200}"
repeats="${2:-3}"
: "${REFERENCE_DIR:?set REFERENCE_DIR to a ductuantruong/dpda_ga checkout (it holds RawBoost.py)}"
python="${PYTHON:-python3}"
cores=$(nproc)

cargo build --release --bin dpda >/dev/null 2>&1
dpda="$(cargo metadata --format-version 1 --no-deps | "$python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/dpda"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" scripts/bench_clips.py "$work/in" "$num_clips"

# Median wall time in seconds of a command run `repeats` times, each into a fresh output folder.
median_wall() {
  local times=()
  for ((r = 0; r < repeats; r++)); do
    rm -rf "$work/out"
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    times+=("$("$python" -c "print($end - $start)")")
  done
  "$python" -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.4f}')" "${times[@]}"
}

printf '%-5s %10s %10s %10s %9s %10s %9s\n' algo ref_loop_s ref_wall_s dpda_1t_s ratio_1t dpda_${cores}t_s ratio_${cores}t
for algo in 1 2 3 4 5 6 7 8; do
  loops=()
  walls=()
  for ((r = 0; r < repeats; r++)); do
    rm -rf "$work/out"
    line=$("$python" scripts/rawboost_folder_reference.py --reference-dir "$REFERENCE_DIR" \
      --input "$work/in" --output "$work/out" --algo "$algo" | grep RESULT)
    loops+=("$(sed -n 's/.*loop_s=\([^ ]*\).*/\1/p' <<<"$line")")
    walls+=("$(sed -n 's/.*wall_s=\([^ ]*\).*/\1/p' <<<"$line")")
  done
  ref_loop=$("$python" -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.4f}')" "${loops[@]}")
  ref_wall=$("$python" -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.4f}')" "${walls[@]}")
  one=$(median_wall "$dpda" augment "$work/in" "$work/out" --algo "$algo" --threads 1)
  all=$(median_wall "$dpda" augment "$work/in" "$work/out" --algo "$algo")
  printf '%-5s %10s %10s %10s %9s %10s %9s\n' "$algo" "$ref_loop" "$ref_wall" "$one" \
    "$("$python" -c "print(f'{$ref_loop / $one:.1f}')")" "$all" \
    "$("$python" -c "print(f'{$ref_loop / $all:.1f}')")"
done

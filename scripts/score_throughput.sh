#!/usr/bin/env bash
# Folder scoring throughput, side by side: `dpda score` on a folder of clips against the authors'
# PyTorch evaluation pipeline doing the same (scripts/torch_score_folder.py), for the released
# AASIST and AASIST-L weights, whole-clip and windowed (4 s windows every 2 s), with one thread and
# with every core. Clips per second; the ratio is dpda's over PyTorch's. Windowed, both sides also
# score each clip whole (dpda for its whole-against-windows check). dpda is timed as a whole
# process (start-up, model load and writing included); PyTorch's loop alone (its interpreter
# start, imports and model load left out), so the ratio is the strict one.
#
# Usage: AASIST_REFERENCE_DIR=path/to/aasist PRETRAINED_DIR=path/to/pretrained \
#          scripts/score_throughput.sh [num_clips] [models...]
# Defaults: 24 clips of 3.8-4.3 s (16 kHz float WAV), models aasist-l aasist. Needs python3 with
# torch, numpy and soundfile; PYTHON names another interpreter. dpda is built in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
num_clips="${1:-24}"
shift || true
models=("${@:-aasist-l aasist}")
read -r -a models <<<"${models[*]}"
: "${AASIST_REFERENCE_DIR:?set AASIST_REFERENCE_DIR to a clovaai/aasist checkout}"
: "${PRETRAINED_DIR:?set PRETRAINED_DIR to the folder holding AASIST.pth and AASIST-L.pth}"
python="${PYTHON:-python3}"
cores=$(nproc)

cargo build --release --bin dpda >/dev/null 2>&1
dpda="$(cargo metadata --format-version 1 --no-deps | "$python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/dpda"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" scripts/bench_clips.py "$work/in" "$num_clips"

printf '%-9s %-8s %7s %12s %12s %7s %14s\n' model mode threads dpda_clip/s torch_clip/s ratio max_score_diff
for model in "${models[@]}"; do
  case "$model" in
    aasist-l) weights="$PRETRAINED_DIR/AASIST-L.pth"; config="$AASIST_REFERENCE_DIR/config/AASIST-L.conf" ;;
    aasist) weights="$PRETRAINED_DIR/AASIST.pth"; config="$AASIST_REFERENCE_DIR/config/AASIST.conf" ;;
    *) echo "unknown model $model (aasist-l or aasist)" >&2; exit 2 ;;
  esac
  for mode in whole windowed; do
    window=()
    torch_extra=()
    # Windowed dpda also scores each clip whole (its whole-against-windows check); the twin is
    # asked to do the same work.
    [[ "$mode" == windowed ]] && window=(--window-s 4 --hop-s 2) && torch_extra=(--with-whole)
    for threads in 1 "$cores"; do
      theirs=$(OMP_NUM_THREADS=$threads "$python" scripts/torch_score_folder.py \
        --reference-dir "$AASIST_REFERENCE_DIR" --weights "$weights" --config "$config" \
        --threads "$threads" --scores "$work/torch.txt" "${window[@]}" "${torch_extra[@]}" "$work/in" | grep RESULT)
      torch_rate=$(sed -n 's/.*clips_per_s=\([^ ]*\).*/\1/p' <<<"$theirs")
      start=$(date +%s.%N)
      RAYON_NUM_THREADS=$threads "$dpda" score --checkpoint "$weights" "${window[@]}" \
        --out "$work/dpda.txt" "$work/in" >/dev/null 2>&1
      end=$(date +%s.%N)
      read -r ours ratio diff < <("$python" - "$num_clips" "$start" "$end" "$torch_rate" "$work/dpda.txt" "$work/torch.txt" <<'EOF'
import sys
n, start, end, torch_rate = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
ours = n / (end - start)
read = lambda p: {l.split()[0]: float(l.split()[1]) for l in open(p)}
a, b = read(sys.argv[5]), read(sys.argv[6])
assert a.keys() == b.keys(), "the two sides scored different trials"
diff = max(abs(a[k] - b[k]) for k in a)
print(f"{ours:.3f} {ours / torch_rate:.2f} {diff:.1e}")
EOF
)
      rm -f "$work/dpda.txt"
      printf '%-9s %-8s %7s %12s %12s %7s %14s\n' "$model" "$mode" "$threads" "$ours" "$torch_rate" "$ratio" "$diff"
    done
  done
done

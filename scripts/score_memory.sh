#!/usr/bin/env bash
# Peak memory of windowed scoring: `dpda score` with 4 s windows every 2 s on one clip of
# DURATION_S seconds (default 30), with the AASIST weights given (default: the released AASIST.pth
# beside the repository). Prints the peak resident set size reported by GNU time.
#
#   bash scripts/score_memory.sh [WEIGHTS.pth] [DPDA_BINARY]
#
# The issue's goal: under 2 GiB for a 30 s clip.
set -euo pipefail
cd "$(dirname "$0")/.."
weights="${1:-../shared/data/pretrained/AASIST.pth}"
bin="${2:-target/release/dpda}"
duration_s="${DURATION_S:-30}"
[ -x "$bin" ] || cargo build --release --bin dpda
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 - "$work/clip.wav" "$duration_s" <<'PY'
import math, struct, sys, wave
path, seconds = sys.argv[1], float(sys.argv[2])
rate = 16000
with wave.open(path, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
    frames = bytearray()
    for i in range(int(seconds * rate)):
        t = i / rate
        v = 0.3 * math.sin(2 * math.pi * (120 + 40 * math.sin(2 * math.pi * 0.5 * t)) * t)
        frames += struct.pack("<h", int(v * 32767))
    w.writeframes(bytes(frames))
PY
/usr/bin/time -v "$bin" score --checkpoint "$weights" --window-s 4 --hop-s 2 "$work/clip.wav" \
    2> "$work/time.txt" >/dev/null || { cat "$work/time.txt" >&2; exit 1; }
grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$work/time.txt"
kib=$(awk '/Maximum resident set size/ {print $6}' "$work/time.txt")
echo "peak RSS: $((kib / 1024)) MiB for a ${duration_s} s clip, 4 s windows every 2 s"

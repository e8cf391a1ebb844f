#!/usr/bin/env bash
# Regenerates the short demo clips under assets/ (see assets/README.md).
# Needs: espeak-ng, sox, and a built `dpda` binary (cargo build); run from the repository root.
set -euo pipefail

DPDA=${DPDA:-target/debug/dpda}
SEED=${SEED:-2024}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. A real text-to-speech phrase (formant synthesis by espeak-ng), 16 kHz mono 16-bit.
espeak-ng -v en-us -s 150 -w "$work/tts.wav" \
    "Is this voice real, or is it a deepfake?"
sox "$work/tts.wav" -r 16000 -c 1 -b 16 assets/espeak_phrase_16k.wav trim 0 4 norm -3

# 2. One bona fide and one spoofed clip of the built-in demo corpus (tiny size: clips are
#    at most 3 s).
"$DPDA" corpus export "$work/demo" --size tiny --seed "$SEED" --quiet >/dev/null
protocol="$work/demo/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.eval.trl.txt"
bonafide=$(awk '$5 == "bonafide" { print $2; exit }' "$protocol")
spoof=$(awk '$4 == "D05" { print $2; exit }' "$protocol")
sox "$work/demo/ASVspoof2019_LA_eval/flac/$bonafide.flac" -b 16 assets/demo_bonafide.wav
sox "$work/demo/ASVspoof2019_LA_eval/flac/$spoof.flac" -b 16 assets/demo_spoof_D05.wav
echo "bona fide: $bonafide, spoof (D05): $spoof"

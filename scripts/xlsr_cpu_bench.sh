#!/usr/bin/env bash
# XLS-R detectors on the CPU, side by side with PyTorch: the evaluation forward of 10 clips of
# 66,800 samples and the paper's dual-path training step (5 + 5 clips, two backward passes,
# PCGrad, Adam), dpda (`examples/xlsr_step.rs`) against Hugging Face's Wav2Vec2Model plus the
# SSL-AASIST back end (`scripts/gpu_xlsr_reference_bench.py --device cpu`), random weights, same
# sizes, same thread count. Prints seconds per call (the first call of each is a warm-up and not
# counted), the ratio dpda / PyTorch (lower is better) and both peak resident sizes.
#
# Usage: scripts/xlsr_cpu_bench.sh [models...]
# Defaults: xlsr-tiny-aasist xlsr-aasist (XLS-R 300M). STEPS (default 3) calls per measurement,
# THREADS (default: every core) the thread count. Needs python3 with torch and transformers;
# PYTHON names another interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
models=("${@:-xlsr-tiny-aasist xlsr-aasist}")
read -r -a models <<<"${models[*]}"
steps="${STEPS:-3}"
threads="${THREADS:-$(nproc)}"
python="${PYTHON:-python3}"

cargo build --release --example xlsr_step >/dev/null 2>&1
bin="$(cargo metadata --format-version 1 --no-deps | "$python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/examples/xlsr_step"

field() { sed -n "s/.* $1 \([^ ]*\).*/\1/p"; }

printf '%-17s %-8s %7s %10s %10s %7s %13s %13s\n' model what threads dpda_s torch_s ratio dpda_rss_mib torch_rss_mib
for model in "${models[@]}"; do
  for what in forward step; do
    flag=()
    [[ "$what" == forward ]] && flag=(--forward)
    ours=$(RAYON_NUM_THREADS=$threads "$bin" "$model" cpu "$steps" "${flag[@]}" | grep RESULT)
    theirs=$(OMP_NUM_THREADS=$threads "$python" scripts/gpu_xlsr_reference_bench.py --model "$model" \
      --device cpu --threads "$threads" --steps "$steps" "${flag[@]}" | grep RESULT)
    ours_s=$(field mean_step_s <<<"$ours")
    theirs_s=$(field mean_step_s <<<"$theirs")
    ratio=$("$python" -c "print(f'{$ours_s / $theirs_s:.2f}')")
    printf '%-17s %-8s %7s %10s %10s %7s %13s %13s\n' "$model" "$what" "$threads" "$ours_s" "$theirs_s" \
      "$ratio" "$(field peak_rss_mib <<<"$ours")" "$(field peak_rss_mib <<<"$theirs")"
  done
done

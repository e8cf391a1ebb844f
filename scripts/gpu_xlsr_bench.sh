#!/usr/bin/env bash
# The paper's dual-path iteration of xlsr-aasist (5 + 5 clips of 66,800 samples, PCGrad, Adam) on
# a GPU: dpda (candle, --features cuda) against the PyTorch reference, time per step and peak
# GPU memory. Run from the repository root on a machine with an NVIDIA GPU, the CUDA toolkit
# (nvcc), a Rust toolchain, and torch + transformers for the reference.
#
#   scripts/gpu_xlsr_bench.sh [model] [steps]      # model: xlsr-aasist (default) or xlsr-tcm
#
# Writes bench-out/xlsr_<model>.txt with both RESULT lines and the peak memory nvidia-smi saw.
set -euo pipefail
MODEL="${1:-xlsr-aasist}"
STEPS="${2:-6}"
OUT=bench-out
mkdir -p "$OUT"
REPORT="$OUT/xlsr_${MODEL}.txt"

if [ -z "${CUDA_COMPUTE_CAP:-}" ] && command -v nvidia-smi >/dev/null; then
  # e.g. "9.0" -> "90"
  CUDA_COMPUTE_CAP="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '.')"
  export CUDA_COMPUTE_CAP
fi

# Peak device memory of a command, sampled by nvidia-smi every 100 ms (covers allocator caches
# and the CUDA context, which the frameworks' own counters do not).
peak_mem() {
  local log="$1"; shift
  ( while true; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1; sleep 0.1; done ) >"$log" &
  local sampler=$!
  "$@"
  local status=$?
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  echo "peak_nvidia_smi_mib $(sort -n "$log" | tail -1)"
  return $status
}

{
  echo "# $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)"
  cargo build --release --features cuda --example xlsr_step
  echo "## dpda (candle)"
  peak_mem "$OUT/mem_rust.log" target/release/examples/xlsr_step "$MODEL" cuda "$STEPS"
  echo "## PyTorch reference"
  peak_mem "$OUT/mem_torch.log" python3 scripts/gpu_xlsr_reference_bench.py --model "$MODEL" --steps "$STEPS"
} 2>&1 | tee "$REPORT"
grep -E "RESULT|peak_nvidia" "$REPORT"

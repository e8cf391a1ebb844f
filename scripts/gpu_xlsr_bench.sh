#!/usr/bin/env bash
# The paper's dual-path iteration of xlsr-aasist (5 + 5 clips of 66,800 samples, PCGrad, Adam) on
# a GPU: dpda (candle, --features cuda) against the PyTorch reference, time per step and peak
# GPU memory. Run from the repository root on a machine with an NVIDIA GPU and torch +
# transformers for the reference; either a Rust toolchain and the CUDA toolkit (nvcc) to build
# the bench, or a `xlsr_step` binary built elsewhere with --features cuda.
#
#   scripts/gpu_xlsr_bench.sh [--bin PATH] [--cuda-libs DIR] [model] [steps]
#
#   model        xlsr-aasist (default) or xlsr-tcm
#   --bin PATH   run this prebuilt examples/xlsr_step binary instead of building one
#   --cuda-libs DIR
#                folder with the CUDA 13 runtime libraries the binary needs (libcudart.so.13,
#                libcublas.so.13, ...); without it, when the loader cannot find them, the
#                script looks in $CUDA_PYPI_LIB_DIR (scripts/cuda_toolkit_pypi.sh), the CUDA
#                toolkit's lib64 and the nvidia/cu13/lib folder of a pip-installed torch.
#
# Writes bench-out/xlsr_<model>.txt with both RESULT lines and the peak memory nvidia-smi saw.
set -euo pipefail
BIN=""
CUDA_LIBS=""
POSITIONAL=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN="${2:?--bin needs a path}"; shift 2 ;;
    --cuda-libs) CUDA_LIBS="${2:?--cuda-libs needs a folder}"; shift 2 ;;
    *) POSITIONAL+=("$1"); shift ;;
  esac
done
MODEL="${POSITIONAL[0]:-xlsr-aasist}"
STEPS="${POSITIONAL[1]:-6}"
OUT=bench-out
mkdir -p "$OUT"
REPORT="$OUT/xlsr_${MODEL}.txt"

if [ -z "${CUDA_COMPUTE_CAP:-}" ] && command -v nvidia-smi >/dev/null; then
  # e.g. "9.0" -> "90"
  CUDA_COMPUTE_CAP="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '.')"
  export CUDA_COMPUTE_CAP
fi

# Shared libraries the loader cannot resolve for a binary, one soname per line.
missing_libs() {
  ldd "$1" | awk '/not found/ { print $1 }'
}

# Puts a folder holding the binary's missing CUDA runtime libraries on LD_LIBRARY_PATH: the
# PyPI wheels ship them outside the loader's default paths.
use_cuda_libs() {
  local bin="$1" dir lib ok
  [ -x "$bin" ] || { echo "error: $bin is not an executable" >&2; exit 1; }
  local missing
  missing="$(missing_libs "$bin")"
  [ -n "$missing" ] || return 0
  local candidates=()
  [ -n "$CUDA_LIBS" ] && candidates+=("$CUDA_LIBS")
  [ -n "${CUDA_PYPI_LIB_DIR:-}" ] && candidates+=("$CUDA_PYPI_LIB_DIR")
  [ -n "${CUDA_HOME:-}" ] && candidates+=("$CUDA_HOME/lib64" "$CUDA_HOME/lib")
  candidates+=(/usr/local/cuda/lib64)
  if command -v python3 >/dev/null; then
    dir="$(python3 -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13", "lib"))' 2>/dev/null || true)"
    [ -n "$dir" ] && candidates+=("$dir")
  fi
  for dir in "${candidates[@]}"; do
    ok=1
    for lib in $missing; do
      [ "$lib" = libcuda.so.1 ] && continue   # the driver's, never in these folders
      [ -e "$dir/$lib" ] || { ok=0; break; }
    done
    if [ "$ok" = 1 ]; then
      export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      echo "# CUDA libraries from $dir"
      break
    fi
  done
  missing="$(missing_libs "$bin")"
  if [ -n "$missing" ]; then
    echo "error: $bin cannot load: $(echo $missing) (pass --cuda-libs DIR; libcuda.so.1 comes with the NVIDIA driver)" >&2
    exit 1
  fi
}

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
  if [ -z "$BIN" ]; then
    cargo build --release --features cuda --example xlsr_step
    BIN=target/release/examples/xlsr_step
  fi
  use_cuda_libs "$BIN"
  echo "## dpda (candle)"
  peak_mem "$OUT/mem_rust.log" "$BIN" "$MODEL" cuda "$STEPS"
  echo "## PyTorch reference"
  peak_mem "$OUT/mem_torch.log" python3 scripts/gpu_xlsr_reference_bench.py --model "$MODEL" --steps "$STEPS"
} 2>&1 | tee "$REPORT"
grep -E "RESULT|peak_nvidia" "$REPORT"

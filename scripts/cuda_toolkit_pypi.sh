#!/usr/bin/env bash
# A CUDA 13.0 build toolkit from NVIDIA's PyPI wheels, for `cargo build --features cuda` on a
# machine without a system CUDA install (and without a GPU: the kernels compile to PTX for
# CUDA_COMPUTE_CAP). Installs the wheels into a folder unless they are already there, adds what
# the wheels lack for linking (unversioned .so names and a link-time stub of the driver library),
# and prints the environment a build needs:
#
#   eval "$(scripts/cuda_toolkit_pypi.sh [DIR])"     # DIR defaults to .cuda-pypi/ in the repo
#   cargo build --release --features cuda
#
# CUDA_COMPUTE_CAP defaults to 90 (H100/H200); set it before the call for another GPU.
# Versions are pinned to 13.0: a newer nvcc emits PTX that a CUDA 13.0 driver refuses.
#
# Why each piece:
# - nvcc, cicc (nvvm wheel), crt and CCCL headers (cuda_fp16.h includes <nv/target>): candle-kernels compiles its .cu files with nvcc, and
#   cudarc reads the toolkit version from `nvcc --version`.
# - The runtime wheels ship only versioned libraries (libcudart.so.13); the linker's -lcudart
#   needs libcudart.so, so DIR/link holds unversioned symlinks and goes on LIBRARY_PATH.
# - cudarc links the driver library (-lcuda), which comes with the NVIDIA driver, not with any
#   wheel. DIR/link/libcuda.so is a stub with the soname libcuda.so.1 whose every driver entry
#   point returns CUDA_ERROR_STUB_LIBRARY; the binary then loads the real libcuda.so.1 at run
#   time. DIR/nodriver holds the same stub as libcuda.so.1, to start a CUDA build on a machine
#   without a driver (the GPU is then reported unusable).
# - Run time: the binary needs the wheels' libraries, so put the printed CUDA_PYPI_LIB_DIR on
#   LD_LIBRARY_PATH (never DIR/link or DIR/nodriver on a machine with a driver).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:-$REPO_ROOT/.cuda-pypi}"
PYTHON="${PYTHON:-python3}"
COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"

say() { echo "cuda_toolkit_pypi: $*" >&2; }
die() { say "error: $*"; exit 1; }

mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"

# Requirement and the dist-info name pip gives it.
WHEELS=(
  "nvidia-cuda-nvcc==13.0.*|nvidia_cuda_nvcc"
  "nvidia-nvvm==13.0.*|nvidia_nvvm"
  "nvidia-cuda-crt==13.0.*|nvidia_cuda_crt"
  "nvidia-cuda-cccl==13.0.*|nvidia_cuda_cccl"
  "nvidia-cuda-runtime==13.0.*|nvidia_cuda_runtime"
  "nvidia-cublas==13.0.*|nvidia_cublas"
  "nvidia-curand==10.4.*|nvidia_curand"
  "nvidia-cuda-nvrtc==13.0.*|nvidia_cuda_nvrtc"
)

missing=()
for entry in "${WHEELS[@]}"; do
  requirement="${entry%%|*}"
  dist="${entry##*|}"
  if ! compgen -G "$DIR/${dist}-*.dist-info" >/dev/null; then
    missing+=("$requirement")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} into $DIR"
  # pip --target skips (or with --upgrade, replaces) a top-level folder that already exists, and
  # every wheel here shares nvidia/; install into a fresh folder and merge the disjoint files.
  staging="$DIR/.staging"
  rm -rf "$staging"
  "$PYTHON" -m pip install --quiet --no-deps --target "$staging" "${missing[@]}" >&2 \
    || die "pip install failed"
  cp -a "$staging/." "$DIR/"
  rm -rf "$staging"
fi

ROOT="$DIR/nvidia/cu13"
for needed in bin/nvcc nvvm/bin/cicc include/cuda.h include/crt/host_config.h include/cccl/nv/target; do
  [ -e "$ROOT/$needed" ] || die "$ROOT/$needed is missing after installing the wheels"
done

LINK="$DIR/link"
mkdir -p "$LINK"
for lib in cudart cublas cublasLt curand nvrtc; do
  versioned="$(compgen -G "$ROOT/lib/lib${lib}.so.[0-9]*" | grep -E "/lib${lib}\.so\.[0-9]+$" | head -1 || true)"
  [ -n "$versioned" ] || die "no lib${lib}.so.<N> under $ROOT/lib"
  ln -sfn "$versioned" "$LINK/lib${lib}.so"
done

# Driver API stub: every cu* function cuda.h declares, under both the plain names and the
# versioned names its macros map them to (cuMemAlloc -> cuMemAlloc_v2), returns
# CUDA_ERROR_STUB_LIBRARY (34).
STUB="$LINK/libcuda.so"
CUDA_H="$ROOT/include/cuda.h"
if [ ! -e "$STUB" ] || [ "$CUDA_H" -nt "$STUB" ]; then
  src="$LINK/cuda_stub.c"
  {
    grep -oE '\bcu[A-Z][A-Za-z0-9_]*[[:space:]]*\(' "$CUDA_H"
    cc -E -P -I"$ROOT/include" -x c "$CUDA_H" | grep -oE '\bcu[A-Z][A-Za-z0-9_]*[[:space:]]*\('
  } | tr -d '( \t' | sort -u | awk '{ printf "int %s(void) { return 34; }\n", $1 }' >"$src"
  count="$(wc -l <"$src")"
  [ "$count" -gt 100 ] || die "found only $count driver functions in $CUDA_H"
  cc -shared -fPIC -O1 -Wl,-soname,libcuda.so.1 -o "$STUB" "$src"
  say "stub libcuda.so with $count driver entry points"
fi
mkdir -p "$DIR/nodriver"
ln -sfn "$STUB" "$DIR/nodriver/libcuda.so.1"

printf 'export PATH=%q:"$PATH"\n' "$ROOT/bin"
for var in CUDA_HOME CUDA_PATH CUDA_ROOT; do
  printf 'export %s=%q\n' "$var" "$ROOT"
done
printf 'export LIBRARY_PATH=%q"${LIBRARY_PATH:+:$LIBRARY_PATH}"\n' "$LINK"
printf 'export CUDA_COMPUTE_CAP=%q\n' "$COMPUTE_CAP"
printf 'export CUDA_PYPI_LIB_DIR=%q\n' "$ROOT/lib"
say "toolkit ready: $("$ROOT/bin/nvcc" --version | grep -o 'release [0-9.]*'), compute capability $COMPUTE_CAP"
say "run a CUDA build with LD_LIBRARY_PATH=\$CUDA_PYPI_LIB_DIR (add $DIR/nodriver only where no driver is installed)"

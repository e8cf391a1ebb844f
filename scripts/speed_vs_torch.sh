#!/usr/bin/env bash
# CPU speed of one dual-path training iteration, project vs PyTorch, same architecture, batch,
# input shape and thread count; prints a ratio table (project time / PyTorch time, lower is
# better) with peak RSS. Usage: scripts/speed_vs_torch.sh [iters] [models...]
# Defaults: 5 iterations; models lcnn lcnn-small aasist-l. The PyTorch side of aasist-l is the
# authors' models/AASIST.py, imported from a clovaai/aasist checkout named by
# AASIST_REFERENCE_DIR; without it that row prints "-" for PyTorch. BATCH (default 8) sets the
# batch of both sides.
set -euo pipefail
cd "$(dirname "$0")/.."
iters="${1:-5}"
shift || true
models=("${@:-lcnn lcnn-small aasist-l}")
read -r -a models <<<"${models[*]}"
batch="${BATCH:-8}"

cargo bench --bench torch_compare --no-run >/dev/null 2>&1

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }

printf '%-11s %7s %12s %12s %7s %12s %12s\n' model threads dpda_s torch_s ratio dpda_rss_mib torch_rss_mib
for model in "${models[@]}"; do
  for threads in 1 2; do
    ours=$(RAYON_NUM_THREADS=$threads cargo bench --bench torch_compare -- --model "$model" --iters "$iters" --batch "$batch" 2>/dev/null | grep RESULT)
    ours_s=$(field s_per_iter <<<"$ours")
    ours_rss=$(field peak_rss_mib <<<"$ours")
    torch_s="-"; torch_rss="-"; ratio="-"
    twin=()
    if [[ "$model" == lcnn || "$model" == lcnn-small ]]; then
      twin=(scripts/torch_lcnn_bench.py --model "$model")
    elif [[ "$model" == aasist-l && -f "${AASIST_REFERENCE_DIR:-}/models/AASIST.py" ]]; then
      twin=(scripts/torch_aasist_bench.py --reference-dir "$AASIST_REFERENCE_DIR")
    elif [[ "$model" == aasist-l ]]; then
      echo "aasist-l: set AASIST_REFERENCE_DIR to a clovaai/aasist checkout for the PyTorch side" >&2
    fi
    if ((${#twin[@]})); then
      theirs=$(OMP_NUM_THREADS=$threads python3 "${twin[@]}" --threads "$threads" --iters "$iters" --batch "$batch" | grep RESULT)
      torch_s=$(field s_per_iter <<<"$theirs")
      torch_rss=$(field peak_rss_mib <<<"$theirs")
      ratio=$(python3 -c "print(f'{$ours_s / $torch_s:.2f}')")
    fi
    printf '%-11s %7s %12s %12s %7s %12s %12s\n' "$model" "$threads" "$ours_s" "$torch_s" "$ratio" "$ours_rss" "$torch_rss"
  done
done

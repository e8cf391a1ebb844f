#!/usr/bin/env bash
# Screenshots of the workbench's four views, taken from the release build under a virtual X
# display (Xvfb), into assets/screenshots/{train,augment,detect,studies}.png.
#
# The train view is shown mid-run: a short previous run is trained first with `dpda train` and
# overlaid, then the workbench starts the screenshot experiment itself. The workbench is driven by
# its hidden launch variables (DPDA_GUI_TAB, DPDA_GUI_EXPERIMENT, DPDA_GUI_RUNS_DIR,
# DPDA_GUI_AUTOSTART, DPDA_GUI_OVERLAY_ALL, DPDA_GUI_OPEN); settings are kept in a throw-away folder so that
# the user's saved workbench state is neither used nor changed.
#
# Usage: bash scripts/screenshots.sh [seconds of training before the train screenshot]
set -euo pipefail
cd "$(dirname "$0")/.."

train_wait_s="${1:-45}"
out=assets/screenshots
mkdir -p "$out"

missing=()
command -v Xvfb >/dev/null || missing+=(xvfb)
command -v xauth >/dev/null || missing+=(xauth)
command -v import >/dev/null || missing+=(imagemagick)
if ((${#missing[@]})); then
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo=sudo
    $sudo apt-get install -y "${missing[@]}"
fi

cargo build --release --bin dpda
dpda=target/release/dpda

tmp=$(mktemp -d)
xvfb_pid=""
app_pid=""
cleanup() {
    [[ -n $app_pid ]] && kill "$app_pid" 2>/dev/null || true
    [[ -n $xvfb_pid ]] && kill "$xvfb_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# The experiment shown: the small LCNN, dual path with PCGrad, layer cosines every 2 iterations.
cat >"$tmp/screenshot.toml" <<'TOML'
[data]
corpus = "demo"
demo_size = "tiny"
num_samples = 16000
rawboost_algo = 4
[model]
name = "lcnn-small"
[train]
mode = "dual"
align = "pcgrad"
batch_size = 4
epochs = 30
patience = 30
per_layer_cos_every = 2
seed = 1234
[optim]
name = "adam"
lr = 1e-3
TOML

echo "training a previous run to overlay…"
"$dpda" train "$tmp/screenshot.toml" --run-dir "$tmp/runs/previous-none" --quiet \
    --set train.align=none --set train.epochs=3

display=":$((90 + RANDOM % 9))"
Xvfb "$display" -screen 0 1440x900x24 -nolisten tcp &
xvfb_pid=$!
export DISPLAY="$display"
export XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config"
sleep 2

# shot TAB SECONDS [VAR=VALUE…]: launch on TAB, wait, grab the screen, close.
shot() {
    local tab=$1 wait_s=$2
    shift 2
    env DPDA_GUI_TAB="$tab" DPDA_GUI_RUNS_DIR="$tmp/runs" "$@" "$dpda" &
    app_pid=$!
    sleep "$wait_s"
    import -window root "$out/$tab.png"
    kill "$app_pid" 2>/dev/null || true
    wait "$app_pid" 2>/dev/null || true
    app_pid=""
    echo "wrote $out/$tab.png"
}

shot train "$train_wait_s" DPDA_GUI_EXPERIMENT="$tmp/screenshot.toml" DPDA_GUI_AUTOSTART=1 \
    DPDA_GUI_OVERLAY_ALL=1
shot augment 8 DPDA_GUI_OPEN=assets/demo_spoof_D05.wav
shot detect 10 \
    DPDA_GUI_OPEN="$tmp/runs/previous-none/checkpoints/final.safetensors:assets/demo_bonafide.wav"
if [[ -f experiments/studies/paper-toy/study.json ]]; then
    shot studies 6 DPDA_GUI_OPEN=experiments/studies/paper-toy
else
    echo "no experiments/studies/paper-toy/study.json: run dpda study experiments/studies/paper-toy.toml for the studies screenshot"
fi

#!/usr/bin/env bash
# Start a PulseAudio daemon with a null sink ("vsink") for audio loop-back tests on machines
# without a sound card, and print the line that points clients at it:
#
#   eval "$(scripts/null_sink.sh)"
#   cargo test --test audio_device
#   kill "$DPDA_PULSE_PID"; unset PULSE_SERVER DPDA_AUDIO_LOOPBACK     # stop it again
#
# Needs `pulseaudio` and `pactl` (Debian: apt-get install -y pulseaudio pulseaudio-utils; the
# script installs them when run as root and they are missing). Works as root without D-Bus.
set -euo pipefail

if ! command -v pulseaudio >/dev/null || ! command -v pactl >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y --no-install-recommends pulseaudio pulseaudio-utils >&2
    else
        echo "pulseaudio/pactl missing: install pulseaudio and pulseaudio-utils" >&2
        exit 1
    fi
fi

runtime_dir="$(mktemp -d "${TMPDIR:-/tmp}/dpda-pulse.XXXXXX")"
chmod 700 "$runtime_dir"
export XDG_RUNTIME_DIR="$runtime_dir"
export PULSE_RUNTIME_PATH="$runtime_dir/pulse"
pulseaudio --daemonize=yes --exit-idle-time=-1 -n \
    --load=module-native-protocol-unix \
    --load="module-null-sink sink_name=vsink" >&2

socket="$PULSE_RUNTIME_PATH/native"
for _ in $(seq 50); do
    [ -S "$socket" ] && break
    sleep 0.1
done
if [ ! -S "$socket" ]; then
    echo "the PulseAudio socket $socket did not appear" >&2
    exit 1
fi
export PULSE_SERVER="unix:$socket"
pactl set-default-sink vsink
pactl set-default-source vsink.monitor
pid="$(cat "$PULSE_RUNTIME_PATH/pid" 2>/dev/null || true)"
# DPDA_AUDIO_LOOPBACK tells tests/audio_device.rs that the default devices are this loop-back.
echo "export PULSE_SERVER='unix:$socket' DPDA_PULSE_PID='$pid' DPDA_AUDIO_LOOPBACK=vsink"

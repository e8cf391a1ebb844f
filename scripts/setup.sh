#!/usr/bin/env bash
# Installs what building DPDA Workbench needs on Debian/Ubuntu, skipping what is already present:
# the system packages of the audio backend (ALSA headers, pkg-config), a C compiler and the GL/X
# libraries the workbench window loads at run time. A Rust toolchain is installed with rustup only
# when `cargo` is missing.
set -euo pipefail

# flac: the tests check the FLAC files we write with the reference decoder.
packages=(pkg-config libasound2-dev libopus-dev gcc libgl1 libegl1 libxkbcommon-x11-0 flac)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    echo "installing: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        echo "cargo is in ~/.cargo/bin: run 'source ~/.cargo/env' or open a new shell"
    else
        echo "installing the Rust toolchain with rustup"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    fi
fi

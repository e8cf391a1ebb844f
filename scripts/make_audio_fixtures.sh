#!/usr/bin/env bash
# Regenerates the audio test fixtures under tests/fixtures/audio/ with independent encoders
# (numpy/scipy for the float source, sox, flac, lame, oggenc). Run from the repository root.
# The test signal is x[n] = 0.5 sin(2π·440·n/fs) + 0.25 sin(2π·1234·n/fs); the stereo file has
# left = 0.5 sin(2π·440·n/fs), right = 0.25 sin(2π·1234·n/fs). tests/audio_io.rs recomputes the
# same formula and compares the decoded samples with it.
set -euo pipefail
out=tests/fixtures/audio
broken=$out/broken
mkdir -p "$out" "$broken"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 - "$tmp" <<'PY'
import sys
import numpy as np
from scipy.io import wavfile

tmp = sys.argv[1]

def mono(fs, n):
    t = np.arange(n) / fs
    return (0.5 * np.sin(2 * np.pi * 440 * t) + 0.25 * np.sin(2 * np.pi * 1234 * t)).astype(np.float32)

def stereo(fs, n):
    t = np.arange(n) / fs
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    right = 0.25 * np.sin(2 * np.pi * 1234 * t)
    return np.stack([left, right], axis=1).astype(np.float32)

wavfile.write(f"{tmp}/mono16k.wav", 16000, mono(16000, 4000))
wavfile.write(f"{tmp}/mono44k1.wav", 44100, mono(44100, 11025))
wavfile.write(f"{tmp}/stereo22k05.wav", 22050, stereo(22050, 4410))
bad = mono(16000, 400)
bad[123] = np.nan
wavfile.write(f"{tmp}/nan.wav", 16000, bad)
bad = mono(16000, 400)
bad[77] = np.inf
wavfile.write(f"{tmp}/inf.wav", 16000, bad)
wavfile.write(f"{tmp}/header_only.wav", 16000, np.zeros(0, dtype=np.int16))
PY

# Lossless WAV at every supported depth; -D: no dither, so values are the plain rounding.
sox -D "$tmp/mono16k.wav" -e unsigned-integer -b 8 "$out/mono16k_u8.wav"
sox -D "$tmp/mono16k.wav" -e signed-integer -b 16 "$out/mono16k_s16.wav"
sox -D "$tmp/mono16k.wav" -e signed-integer -b 24 "$out/mono16k_s24.wav"
sox -D "$tmp/mono16k.wav" -e signed-integer -b 32 "$out/mono16k_s32.wav"
cp "$tmp/mono16k.wav" "$out/mono16k_f32.wav"
sox -D "$tmp/stereo22k05.wav" -e signed-integer -b 16 "$out/stereo22k05_s16.wav"
sox -D "$tmp/mono44k1.wav" -e signed-integer -b 16 "$out/mono44k1_s16.wav"

# FLAC (lossless): 16-bit mono and 24-bit stereo.
flac --silent --force -o "$out/mono16k_s16.flac" "$out/mono16k_s16.wav"
sox -D "$tmp/stereo22k05.wav" -e signed-integer -b 24 "$tmp/stereo22k05_s24.wav"
flac --silent --force -o "$out/stereo22k05_s24.flac" "$tmp/stereo22k05_s24.wav"

# Lossy: Ogg/Vorbis and MP3 (lame writes a Xing/LAME header with the gapless delay/padding).
oggenc --quiet -q 6 -o "$out/mono44k1.ogg" "$out/mono44k1_s16.wav"
lame --quiet -b 128 "$out/mono44k1_s16.wav" "$out/mono44k1.mp3"
lame --quiet -b 64 "$out/stereo22k05_s16.wav" "$out/stereo22k05.mp3"

# Broken corpus: every file must give a typed error naming the file.
: > "$broken/empty.wav"
: > "$broken/empty.flac"
cp "$tmp/header_only.wav" "$broken/zero_samples.wav"
cp "$tmp/nan.wav" "$broken/nan_sample.wav"
cp "$tmp/inf.wav" "$broken/inf_sample.wav"
head -c 3000 "$out/mono16k_s16.wav" > "$broken/truncated.wav"
head -c 20 "$out/mono16k_s16.wav" > "$broken/truncated_header.wav"
head -c 4000 "$out/mono16k_s16.flac" > "$broken/truncated.flac"
head -c 3000 "$out/mono44k1.ogg" > "$broken/truncated.ogg"
head -c 1500 "$out/mono44k1.mp3" > "$broken/truncated.mp3"
printf 'this is a text file, not audio\n' > "$broken/text.flac"
printf 'this is a text file, not audio\n' > "$broken/text.mp3"
python3 -c "
import random, sys
r = random.Random(7)
sys.stdout.buffer.write(bytes(r.randrange(256) for _ in range(2048)))" > "$broken/random_bytes.ogg"
sox -D "$tmp/mono16k.wav" -e ima-adpcm -b 4 "$broken/unsupported_ima_adpcm.wav"
sox -D "$tmp/mono16k.wav" -t aiff "$broken/unsupported_container.aiff"
ls -l "$out" "$broken"

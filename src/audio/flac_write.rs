//! A small FLAC encoder for 16-bit mono/multichannel PCM, used to write corpora in the ASVspoof
//! layout (the demo corpus export and its cache). Only the parts of the format needed for that:
//! a STREAMINFO block, fixed-size frames of 4,096 samples, FIXED predictors of order 0–4 (chosen
//! per subframe by the smallest coded size), partitioned Rice coding of the residual, and a
//! VERBATIM fallback. Channels are coded independently. The MD5 field is left zero, which the
//! format defines as "not computed". Layout and CRCs follow the FLAC format specification
//! (RFC 9639).

use std::path::{Path, PathBuf};

/// Samples per frame (the reference encoder's default at its usual compression levels).
const BLOCK_SIZE: usize = 4096;
const BITS_PER_SAMPLE: u32 = 16;
/// Largest Rice parameter of the 4-bit-parameter coding method (15 is the escape code).
const MAX_RICE_PARAM: u32 = 14;
const MAX_PARTITION_ORDER: u32 = 6;

/// Errors from writing a FLAC file.
#[derive(Debug, thiserror::Error)]
pub enum FlacWriteError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot encode FLAC: {message}")]
    Invalid { path: PathBuf, message: String },
    /// Input the encoder cannot represent (before any file is involved).
    #[error("cannot encode FLAC: {0}")]
    Unsupported(String),
}

/// Convert float samples in [-1, 1] to 16-bit PCM (round to nearest, clip outside the range).
pub fn to_i16(samples: &[f32]) -> Vec<i16> {
    samples
        .iter()
        .map(|&v| {
            let v = if v.is_finite() { v } else { 0.0 };
            (v * 32767.0).round().clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// Write mono float samples as a 16-bit FLAC file (values outside [-1, 1] are clipped).
pub fn write_flac(path: &Path, samples: &[f32], sample_rate_hz: u32) -> Result<(), FlacWriteError> {
    let pcm = to_i16(samples);
    let bytes = encode_flac_i16(&[pcm.as_slice()], sample_rate_hz).map_err(|e| match e {
        FlacWriteError::Unsupported(message) => FlacWriteError::Invalid {
            path: path.to_path_buf(),
            message,
        },
        other => other,
    })?;
    std::fs::write(path, bytes).map_err(|source| FlacWriteError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Encode 16-bit PCM channels (all the same length, 1–8 of them) as a complete FLAC stream.
pub fn encode_flac_i16(
    channels: &[&[i16]],
    sample_rate_hz: u32,
) -> Result<Vec<u8>, FlacWriteError> {
    let bad = |m: String| Err(FlacWriteError::Unsupported(m));
    let num_channels = channels.len();
    if !(1..=8).contains(&num_channels) {
        return bad(format!("{num_channels} channels (FLAC allows 1 to 8)"));
    }
    if sample_rate_hz == 0 || sample_rate_hz >= 1 << 20 {
        return bad(format!("sample rate {sample_rate_hz} Hz out of range"));
    }
    let num_samples = channels[0].len();
    if channels.iter().any(|c| c.len() != num_samples) {
        return bad("channels have different lengths".into());
    }
    if num_samples as u64 >= 1 << 36 {
        return bad("too many samples".into());
    }
    let mut out = Vec::with_capacity(num_samples * num_channels + 64);
    out.extend_from_slice(b"fLaC");
    // STREAMINFO, the only (hence last) metadata block.
    let mut info = BitWriter::default();
    info.put(1, 1);
    info.put(0, 7);
    info.put(34, 24);
    let block = BLOCK_SIZE.min(num_samples.max(16)) as u64;
    info.put(block, 16);
    info.put(block, 16);
    info.put(0, 24); // min frame size unknown
    info.put(0, 24); // max frame size unknown
    info.put(sample_rate_hz as u64, 20);
    info.put(num_channels as u64 - 1, 3);
    info.put(BITS_PER_SAMPLE as u64 - 1, 5);
    info.put(num_samples as u64, 36);
    for _ in 0..4 {
        info.put(0, 32); // MD5 not computed
    }
    out.extend_from_slice(&info.finish());

    for (frame_index, start) in (0..num_samples).step_by(BLOCK_SIZE).enumerate() {
        let end = (start + BLOCK_SIZE).min(num_samples);
        let mut w = BitWriter::default();
        w.put(0b11_1111_1111_1110, 14); // sync code
        w.put(0, 1); // reserved
        w.put(0, 1); // fixed block size
        w.put(0b0111, 4); // block size: 16-bit (size − 1) after the header
        w.put(0, 4); // sample rate: from STREAMINFO
        w.put(num_channels as u64 - 1, 4); // independent channels
        w.put(0b100, 3); // 16 bits per sample
        w.put(0, 1); // reserved
        put_coded_number(&mut w, frame_index as u64);
        w.put((end - start - 1) as u64, 16);
        let header_crc = crc8(w.bytes_so_far());
        w.put(header_crc as u64, 8);
        for channel in channels {
            let block: Vec<i32> = channel[start..end].iter().map(|&v| v as i32).collect();
            put_subframe(&mut w, &block);
        }
        let mut frame = w.finish();
        let crc = crc16(&frame);
        frame.extend_from_slice(&crc.to_be_bytes());
        out.extend_from_slice(&frame);
    }
    Ok(out)
}

/// The frame number in FLAC's UTF-8-like variable-length code.
fn put_coded_number(w: &mut BitWriter, n: u64) {
    if n < 0x80 {
        w.put(n, 8);
        return;
    }
    // Number of continuation bytes: each carries 6 bits, the lead byte 6 − extra bits.
    let mut extra = 1;
    while n >= 1u64 << (6 * extra + (6 - extra)) {
        extra += 1;
    }
    let lead_marker = (0xFFu64 << (7 - extra)) & 0xFF;
    w.put(lead_marker | (n >> (6 * extra)), 8);
    for i in (0..extra).rev() {
        w.put(0x80 | ((n >> (6 * i)) & 0x3F), 8);
    }
}

/// One subframe: the cheapest FIXED predictor (order 0–4) or VERBATIM.
fn put_subframe(w: &mut BitWriter, block: &[i32]) {
    let verbatim_bits = block.len() as u64 * BITS_PER_SAMPLE as u64;
    // (coded bits, predictor order, residual, partition order, Rice parameters)
    type Choice = (u64, usize, Vec<i32>, u32, Vec<u32>);
    let mut best: Option<Choice> = None;
    for order in 0..=4usize.min(block.len().saturating_sub(1)) {
        let residual = fixed_residual(block, order);
        let (rice_bits, partition_order, params) = best_rice_coding(&residual, block.len(), order);
        let bits = order as u64 * BITS_PER_SAMPLE as u64 + rice_bits;
        if best.as_ref().is_none_or(|b| bits < b.0) {
            best = Some((bits, order, residual, partition_order, params));
        }
    }
    match best {
        Some((bits, order, residual, partition_order, params)) if bits < verbatim_bits => {
            w.put(0, 1);
            w.put(0b001000 | order as u64, 6);
            w.put(0, 1); // no wasted bits
            for &s in &block[..order] {
                w.put_signed(s as i64, BITS_PER_SAMPLE);
            }
            w.put(0, 2); // Rice coding with 4-bit parameters
            w.put(partition_order as u64, 4);
            let num_partitions = 1usize << partition_order;
            let partition_len = block.len() >> partition_order;
            let mut offset = 0;
            for (p, &k) in params.iter().enumerate().take(num_partitions) {
                let len = if p == 0 {
                    partition_len - order
                } else {
                    partition_len
                };
                w.put(k as u64, 4);
                for &r in &residual[offset..offset + len] {
                    let u = zigzag(r);
                    w.put_unary((u >> k) as u64);
                    w.put((u & ((1 << k) - 1)) as u64, k);
                }
                offset += len;
            }
        }
        _ => {
            w.put(0, 1);
            w.put(0b000001, 6);
            w.put(0, 1);
            for &s in block {
                w.put_signed(s as i64, BITS_PER_SAMPLE);
            }
        }
    }
}

/// Residual of FLAC's fixed polynomial predictor of the given order (samples from `order` on).
fn fixed_residual(x: &[i32], order: usize) -> Vec<i32> {
    (order..x.len())
        .map(|n| match order {
            0 => x[n],
            1 => x[n] - x[n - 1],
            2 => x[n] - 2 * x[n - 1] + x[n - 2],
            3 => x[n] - 3 * x[n - 1] + 3 * x[n - 2] - x[n - 3],
            _ => x[n] - 4 * x[n - 1] + 6 * x[n - 2] - 4 * x[n - 3] + x[n - 4],
        })
        .collect()
}

fn zigzag(r: i32) -> u32 {
    ((r << 1) ^ (r >> 31)) as u32
}

/// Exact coded size of `values` with Rice parameter `k`.
fn rice_bits(values: &[u32], k: u32) -> u64 {
    values.iter().map(|&u| (u >> k) as u64 + 1 + k as u64).sum()
}

/// Best partition order and per-partition Rice parameters for a residual: (bits, order, params).
fn best_rice_coding(residual: &[i32], block_len: usize, order: usize) -> (u64, u32, Vec<u32>) {
    let folded: Vec<u32> = residual.iter().map(|&r| zigzag(r)).collect();
    let mut best = (u64::MAX, 0u32, Vec::new());
    for partition_order in 0..=MAX_PARTITION_ORDER {
        let partitions = 1usize << partition_order;
        // Partitions must divide the block evenly and the first must hold the warm-up.
        if !block_len.is_multiple_of(partitions) || block_len / partitions <= order {
            break;
        }
        let partition_len = block_len / partitions;
        let mut bits = 6u64; // coding method + partition order
        let mut params = Vec::with_capacity(partitions);
        let mut offset = 0;
        for p in 0..partitions {
            let len = if p == 0 {
                partition_len - order
            } else {
                partition_len
            };
            let part = &folded[offset..offset + len];
            offset += len;
            // The optimal parameter sits next to log2 of the mean folded residual; checking
            // the neighbours of that estimate finds it without trying all fifteen.
            let sum: u64 = part.iter().map(|&u| u as u64).sum();
            let mean = sum / part.len().max(1) as u64;
            let guess = (64 - mean.leading_zeros()).min(MAX_RICE_PARAM);
            let (k, cost) = (guess.saturating_sub(1)..=(guess + 1).min(MAX_RICE_PARAM))
                .map(|k| (k, rice_bits(part, k)))
                .min_by_key(|&(_, c)| c)
                .unwrap_or((0, 0));
            bits += 4 + cost;
            params.push(k);
        }
        if bits < best.0 {
            best = (bits, partition_order, params);
        }
    }
    best
}

/// MSB-first bit packer.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    acc: u64,
    num_bits: u32,
}

impl BitWriter {
    /// Append the low `n` bits of `value` (n ≤ 56 per call in practice; longer values are split).
    fn put(&mut self, value: u64, n: u32) {
        if n > 32 {
            self.put(value >> 32, n - 32);
            self.put(value & 0xFFFF_FFFF, 32);
            return;
        }
        if n == 0 {
            return;
        }
        let mask = (1u64 << n) - 1;
        self.acc = (self.acc << n) | (value & mask);
        self.num_bits += n;
        while self.num_bits >= 8 {
            self.num_bits -= 8;
            self.bytes.push((self.acc >> self.num_bits) as u8);
        }
        self.acc &= (1u64 << self.num_bits) - 1;
    }

    fn put_signed(&mut self, value: i64, n: u32) {
        self.put(value as u64, n);
    }

    /// `q` zeros then a one.
    fn put_unary(&mut self, mut q: u64) {
        while q >= 32 {
            self.put(0, 32);
            q -= 32;
        }
        self.put(1, q as u32 + 1);
    }

    /// Whole bytes written so far (the header CRC covers exactly these).
    fn bytes_so_far(&self) -> &[u8] {
        &self.bytes
    }

    /// Pad with zero bits to a byte boundary and return the bytes.
    fn finish(mut self) -> Vec<u8> {
        if self.num_bits > 0 {
            let pad = 8 - self.num_bits;
            self.put(0, pad);
        }
        self.bytes
    }
}

/// CRC-8, polynomial x⁸ + x² + x + 1, initial value 0 (frame header check).
fn crc8(data: &[u8]) -> u8 {
    let mut crc = 0u8;
    for &b in data {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// CRC-16, polynomial x¹⁶ + x¹⁵ + x² + 1, initial value 0 (whole-frame check).
fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &b in data {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x8005
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use symphonia::core::audio::GenericAudioBufferRef;

    /// Decode with symphonia, an independent FLAC implementation.
    fn decode(bytes: Vec<u8>) -> (u32, Vec<Vec<i32>>) {
        use symphonia::core::codecs::audio::AudioDecoderOptions;
        use symphonia::core::formats::probe::Hint;
        use symphonia::core::formats::{FormatOptions, TrackType};
        use symphonia::core::io::MediaSourceStream;
        use symphonia::core::meta::MetadataOptions;
        let mss = MediaSourceStream::new(Box::new(std::io::Cursor::new(bytes)), Default::default());
        let mut hint = Hint::new();
        hint.with_extension("flac");
        let mut format = symphonia::default::get_probe()
            .probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .unwrap();
        let track = format.default_track(TrackType::Audio).unwrap().clone();
        let params = track
            .codec_params
            .as_ref()
            .unwrap()
            .audio()
            .unwrap()
            .clone();
        let rate = params.sample_rate.unwrap();
        let mut decoder = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .unwrap();
        let mut channels: Vec<Vec<i32>> = Vec::new();
        while let Ok(Some(packet)) = format.next_packet() {
            let buf: GenericAudioBufferRef = decoder.decode(&packet).unwrap();
            let mut interleaved: Vec<i16> = Vec::new();
            buf.copy_to_vec_interleaved(&mut interleaved);
            let nc = buf.spec().channels().count();
            channels.resize(nc, Vec::new());
            for (i, v) in interleaved.into_iter().enumerate() {
                channels[i % nc].push(v as i32);
            }
        }
        (rate, channels)
    }

    #[test]
    fn crcs_match_the_standard_check_values() {
        // CRC-8/SMBUS and CRC-16/UMTS (the FLAC parameters) of "123456789".
        assert_eq!(crc8(b"123456789"), 0xF4);
        assert_eq!(crc16(b"123456789"), 0xFEE8);
    }

    #[test]
    fn coded_numbers_follow_the_utf8_pattern() {
        for (n, expected) in [
            (0x41u64, vec![0x41u8]),
            (0xE9, vec![0xC3, 0xA9]),
            (0x20AC, vec![0xE2, 0x82, 0xAC]),
        ] {
            let mut w = BitWriter::default();
            put_coded_number(&mut w, n);
            assert_eq!(w.finish(), expected, "{n:#x}");
        }
    }

    #[test]
    fn symphonia_decodes_what_we_encode() {
        let mut state = 12345u32;
        let mut noise = || {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            ((state >> 16) as i32 & 0x7FF) - 1024
        };
        let n = 10_000;
        let tone: Vec<i16> = (0..n)
            .map(|i| ((i as f64 * 0.03).sin() * 20_000.0) as i16 + noise() as i16)
            .collect();
        let extremes: Vec<i16> = (0..n)
            .map(|i| if i % 3 == 0 { i16::MIN } else { i16::MAX })
            .collect();
        let silence = vec![0i16; n];
        for channels in [
            vec![&tone[..]],
            vec![&extremes[..], &silence[..], &tone[..]],
        ] {
            let bytes = encode_flac_i16(&channels, 16_000).unwrap();
            let (rate, decoded) = decode(bytes);
            assert_eq!(rate, 16_000);
            assert_eq!(decoded.len(), channels.len());
            for (d, c) in decoded.iter().zip(&channels) {
                let expected: Vec<i32> = c.iter().map(|&v| v as i32).collect();
                assert_eq!(d, &expected);
            }
        }
        let short = [5i16, -3, 7];
        let (_, decoded) = decode(encode_flac_i16(&[&short[..]], 22_050).unwrap());
        assert_eq!(decoded[0], vec![5, -3, 7]);
    }

    #[test]
    fn estimated_rice_parameter_matches_the_exhaustive_search() {
        let mut state = 99u64;
        for scale in [0u32, 1, 3, 40, 1000, 30_000] {
            let residual: Vec<i32> = (0..512)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1);
                    let u = ((state >> 33) as f64) / (1u64 << 31) as f64;
                    // Laplacian-like magnitudes, the usual shape of prediction residuals.
                    let m = (-(1.0 - u).ln() * scale as f64) as i32;
                    if state & 1 == 0 {
                        m
                    } else {
                        -m
                    }
                })
                .collect();
            let (bits, order, _) = best_rice_coding(&residual, 512, 0);
            let folded: Vec<u32> = residual.iter().map(|&r| zigzag(r)).collect();
            let exhaustive = (0..=MAX_RICE_PARAM)
                .map(|k| rice_bits(&folded, k))
                .min()
                .unwrap();
            // At partition order 0 the estimate must be as good as trying every parameter.
            if order == 0 {
                assert_eq!(bits, 6 + 4 + exhaustive, "scale {scale}");
            } else {
                assert!(bits <= 6 + 4 + exhaustive, "scale {scale}");
            }
        }
    }

    #[test]
    fn unsupported_input_is_an_error_not_a_panic() {
        let x = [0i16; 4];
        assert!(encode_flac_i16(&[], 16_000).is_err());
        assert!(encode_flac_i16(&[&x[..]], 0).is_err());
        assert!(encode_flac_i16(&[&x[..], &x[..2]], 16_000).is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.flac");
        let message = write_flac(&path, &[0.0; 4], 0).unwrap_err().to_string();
        assert!(message.contains("bad.flac"), "{message}");
    }

    #[test]
    fn smooth_signals_compress() {
        let tone: Vec<i16> = (0..16_000)
            .map(|i| ((i as f64 * 0.02).sin() * 8000.0) as i16)
            .collect();
        let bytes = encode_flac_i16(&[&tone[..]], 16_000).unwrap();
        assert!(bytes.len() < tone.len(), "{} bytes", bytes.len());
    }
}

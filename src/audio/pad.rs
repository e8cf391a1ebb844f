//! Fixed-length model input by repetition, as the reference front ends build it.

/// Keep the first `num_samples` samples; tile a shorter clip end to end and cut it to
/// `num_samples`.
///
/// This reproduces `pad` in SSL_Anti-spoofing / dpda_ga: `x[:N]` when `len ≥ N`, otherwise
/// `np.tile(x, N // len + 1)[:N]` (no random crop, no zero padding). An empty clip, which the
/// reference would divide by zero on, gives `num_samples` zeros.
pub fn repeat_pad(samples: &[f32], num_samples: usize) -> Vec<f32> {
    if samples.is_empty() {
        return vec![0.0; num_samples];
    }
    if samples.len() >= num_samples {
        return samples[..num_samples].to_vec();
    }
    samples.iter().copied().cycle().take(num_samples).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference definition spelled out: tile `num_repeats = N / len + 1` times, cut to N.
    fn tile_reference(x: &[f32], n: usize) -> Vec<f32> {
        if x.len() >= n {
            return x[..n].to_vec();
        }
        let num_repeats = n / x.len() + 1;
        let mut tiled = Vec::with_capacity(num_repeats * x.len());
        for _ in 0..num_repeats {
            tiled.extend_from_slice(x);
        }
        tiled.truncate(n);
        tiled
    }

    #[test]
    fn repeat_pad_matches_tiling_definition() {
        for len in [1usize, 2, 3, 7, 100, 999, 1000, 1001, 5000] {
            let x: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            for n in [1usize, 5, 999, 1000, 1001, 4096] {
                let got = repeat_pad(&x, n);
                assert_eq!(got.len(), n);
                assert_eq!(got, tile_reference(&x, n), "len {len}, n {n}");
            }
        }
    }

    #[test]
    fn repeat_pad_len_one_is_constant() {
        assert_eq!(repeat_pad(&[0.25], 6), vec![0.25; 6]);
    }

    #[test]
    fn repeat_pad_values_wrap_around() {
        // np.tile([1, 2, 3], 3)[:7] = [1, 2, 3, 1, 2, 3, 1]
        assert_eq!(
            repeat_pad(&[1.0, 2.0, 3.0], 7),
            vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0]
        );
    }

    #[test]
    fn repeat_pad_empty_gives_zeros() {
        assert_eq!(repeat_pad(&[], 4), vec![0.0; 4]);
    }
}

//! BatchNorm with batch statistics (training) as fused candle custom ops: one pass for the
//! per-channel statistics, one for the normalised affine output; the backward is one reduction
//! pass and one output pass, returning the input, scale and shift gradients together.
//!
//! Called by [`super::batch_norm_train`]. The statistics are computed in f64 before the op is
//! built and travel inside it to the backward, which therefore needs no second statistics pass.

use candle_core::{CpuStorage, CustomOp1, CustomOp3, Layout, Result, Shape, Tensor, WithDType};
use rayon::prelude::*;

use super::{contiguous_slice, dispatch_float};

/// Enough elements per rayon task that tiny `[B, C]` inputs are not split element by element.
const MIN_TASK_ELEMS: usize = 4096;

/// `(batch, channels, elements per channel and batch item)` of `[B, C, ...]`.
fn bn_dims(dims: &[usize]) -> Result<(usize, usize, usize)> {
    if dims.len() < 2 {
        candle_core::bail!("batch norm needs [B, C, ...], got {dims:?}");
    }
    Ok((dims[0], dims[1], dims[2..].iter().product()))
}

fn min_planes(plane: usize) -> usize {
    MIN_TASK_ELEMS.div_ceil(plane.max(1))
}

/// Per-channel `(mean, biased variance)` of `[B, C, ...]` in f64, as `[2, C]`.
pub(crate) struct ChannelStatsOp;

fn channel_stats<T: WithDType>(x: &[T], (b, c, s): (usize, usize, usize)) -> Vec<f64> {
    let n = (b * s) as f64;
    let per_channel: Vec<(f64, f64)> = (0..c)
        .into_par_iter()
        .map(|ch| {
            let planes = || (0..b).map(move |bi| &x[(bi * c + ch) * s..(bi * c + ch + 1) * s]);
            let sum: f64 = planes().flat_map(|p| p.iter()).map(|v| v.to_f64()).sum();
            let mean = sum / n;
            // Two passes: the centred sum of squares keeps precision for large means.
            let ss: f64 = planes()
                .flat_map(|p| p.iter())
                .map(|v| {
                    let d = v.to_f64() - mean;
                    d * d
                })
                .sum();
            (mean, ss / n)
        })
        .collect();
    per_channel
        .iter()
        .map(|m| m.0)
        .chain(per_channel.iter().map(|m| m.1))
        .collect()
}

impl CustomOp1 for ChannelStatsOp {
    fn name(&self) -> &'static str {
        "dpda-channel-stats"
    }

    fn cpu_fwd(&self, st: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = bn_dims(l.dims())?;
        dispatch_float!(st, "batch-norm statistics", T => {
            let x = contiguous_slice::<T>(st, l)?;
            Ok((CpuStorage::F64(channel_stats(x, dims)), Shape::from_dims(&[2, dims.1])))
        })
    }
}

/// SELU's `α` and `λ` (Klambauer et al. 2017), as `torch.nn.SELU`.
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
/// SELU's output scale `λ`.
pub const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

/// `eˣ − 1` in the element type's own precision (f32 stays f32: it runs once per activation).
pub(crate) trait ExpM1: Copy {
    fn exp_m1(self) -> Self;
}

impl ExpM1 for f32 {
    fn exp_m1(self) -> Self {
        f32::exp_m1(self)
    }
}

impl ExpM1 for f64 {
    fn exp_m1(self) -> Self {
        f64::exp_m1(self)
    }
}

/// `λ·(x if x > 0 else α·(eˣ − 1))`.
#[inline]
fn selu<T: WithDType + ExpM1>(v: T, alpha: T, scale: T) -> T {
    if v > T::from_f64(0.0) {
        scale * v
    } else {
        scale * alpha * v.exp_m1()
    }
}

/// `(x [B,C,...], weight [C], bias [C]) → (x − mean)·invstd·weight + bias`, followed by SELU
/// when `selu`, with fixed per-channel `mean` and `invstd = 1/√(var + eps)` from the batch.
pub(crate) struct BatchNormTrainOp {
    pub mean: Vec<f64>,
    pub invstd: Vec<f64>,
    pub selu: bool,
}

impl CustomOp3 for BatchNormTrainOp {
    fn name(&self) -> &'static str {
        "dpda-batch-norm-train"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (_, c, s) = bn_dims(l1.dims())?;
        if l2.dims() != [c] || l3.dims() != [c] || self.mean.len() != c {
            candle_core::bail!(
                "batch norm over {c} channels got weight {:?}, bias {:?}",
                l2.dims(),
                l3.dims()
            );
        }
        dispatch_float!(s1, "batch norm", T => {
            let x = contiguous_slice::<T>(s1, l1)?;
            let w = contiguous_slice::<T>(s2, l2)?;
            let b = contiguous_slice::<T>(s3, l3)?;
            // y = x·scale + shift per channel.
            let scale: Vec<T> = (0..c).map(|ch| T::from_f64(self.invstd[ch] * w[ch].to_f64())).collect();
            let shift: Vec<T> = (0..c)
                .map(|ch| T::from_f64(b[ch].to_f64() - self.mean[ch] * self.invstd[ch] * w[ch].to_f64()))
                .collect();
            let mut y = vec![T::from_f64(0.0); x.len()];
            y.par_chunks_mut(s.max(1))
                .zip(x.par_chunks(s.max(1)))
                .with_min_len(min_planes(s))
                .enumerate()
                .for_each(|(plane, (y_p, x_p))| {
                    let ch = plane % c;
                    let (sc, sh) = (scale[ch], shift[ch]);
                    if self.selu {
                        let (alpha, lambda) = (T::from_f64(SELU_ALPHA), T::from_f64(SELU_SCALE));
                        for (o, &v) in y_p.iter_mut().zip(x_p) {
                            *o = selu(v * sc + sh, alpha, lambda);
                        }
                    } else {
                        for (o, &v) in y_p.iter_mut().zip(x_p) {
                            *o = v * sc + sh;
                        }
                    }
                });
            Ok((T::to_cpu_storage_owned(y), l1.shape().clone()))
        })
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let dy = grad_res.contiguous()?;
        // Through SELU first: its derivative follows from the output alone.
        let dy = if self.selu {
            dy.apply_op2_no_bwd(&res.contiguous()?, &SeluGradOp)?
        } else {
            dy
        };
        let flat = x.apply_op3_no_bwd(
            w,
            &dy,
            &BatchNormGradOp {
                mean: self.mean.clone(),
                invstd: self.invstd.clone(),
            },
        )?;
        let (n, c) = (x.elem_count(), w.elem_count());
        let dx = x
            .track_op()
            .then(|| flat.narrow(0, 0, n)?.reshape(x.dims()))
            .transpose()?;
        let dw = w.track_op().then(|| flat.narrow(0, n, c)).transpose()?;
        let db = b.track_op().then(|| flat.narrow(0, n + c, c)).transpose()?;
        Ok((dx, dw, db))
    }
}

/// `(dy, y) → dy·selu′` where `y = selu(z)`: `λ` for `y > 0`, else `λα·eᶻ = y + λα`.
pub(crate) struct SeluGradOp;

impl candle_core::CustomOp2 for SeluGradOp {
    fn name(&self) -> &'static str {
        "dpda-selu-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        if l1.dims() != l2.dims() {
            candle_core::bail!("selu gradient {:?} for output {:?}", l1.dims(), l2.dims());
        }
        dispatch_float!(s1, "selu gradient", T => {
            let dy = contiguous_slice::<T>(s1, l1)?;
            let y = contiguous_slice::<T>(s2, l2)?;
            let (scale, offset) = (T::from_f64(SELU_SCALE), T::from_f64(SELU_SCALE * SELU_ALPHA));
            let zero = T::from_f64(0.0);
            let mut dz = vec![zero; dy.len()];
            dz.par_chunks_mut(MIN_TASK_ELEMS)
                .zip(dy.par_chunks(MIN_TASK_ELEMS).zip(y.par_chunks(MIN_TASK_ELEMS)))
                .for_each(|(o, (g, v))| {
                    for ((o, &g), &v) in o.iter_mut().zip(g).zip(v) {
                        *o = g * if v > zero { scale } else { v + offset };
                    }
                });
            Ok((T::to_cpu_storage_owned(dz), l1.shape().clone()))
        })
    }
}

/// `(x, weight, dy) → [dx…, dweight…, dbias…]` flattened into one buffer of `numel + 2C`.
pub(crate) struct BatchNormGradOp {
    pub mean: Vec<f64>,
    pub invstd: Vec<f64>,
}

impl CustomOp3 for BatchNormGradOp {
    fn name(&self) -> &'static str {
        "dpda-batch-norm-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, c, s) = bn_dims(l1.dims())?;
        if l2.dims() != [c] || l3.dims() != l1.dims() || self.mean.len() != c {
            candle_core::bail!(
                "batch norm gradient: weight {:?}, dy {:?} for x {:?}",
                l2.dims(),
                l3.dims(),
                l1.dims()
            );
        }
        let numel = b * c * s;
        let n = (b * s) as f64;
        dispatch_float!(s1, "batch norm gradient", T => {
            let x = contiguous_slice::<T>(s1, l1)?;
            let w = contiguous_slice::<T>(s2, l2)?;
            let dy = contiguous_slice::<T>(s3, l3)?;
            // Σdy and Σdy·x̂ per channel, x̂ = (x − mean)·invstd.
            let sums: Vec<(f64, f64)> = (0..c)
                .into_par_iter()
                .map(|ch| {
                    let (m, is) = (self.mean[ch], self.invstd[ch]);
                    let mut sum_dy = 0.0;
                    let mut sum_dy_xhat = 0.0;
                    for bi in 0..b {
                        let range = (bi * c + ch) * s..(bi * c + ch + 1) * s;
                        for (&g, &v) in dy[range.clone()].iter().zip(&x[range]) {
                            let g = g.to_f64();
                            sum_dy += g;
                            sum_dy_xhat += g * (v.to_f64() - m) * is;
                        }
                    }
                    (sum_dy, sum_dy_xhat)
                })
                .collect();
            let mut out = vec![T::from_f64(0.0); numel + 2 * c];
            let (dx, params) = out.split_at_mut(numel);
            // dx = w·invstd·(dy − mean(dy) − x̂·mean(dy·x̂)), written as dy·a + x·k + d per channel.
            let coef: Vec<(T, T, T)> = (0..c)
                .map(|ch| {
                    let (m, is) = (self.mean[ch], self.invstd[ch]);
                    let g = w[ch].to_f64() * is;
                    let k = -g * sums[ch].1 / n * is;
                    let d = -g * sums[ch].0 / n - k * m;
                    (T::from_f64(g), T::from_f64(k), T::from_f64(d))
                })
                .collect();
            dx.par_chunks_mut(s.max(1))
                .zip(x.par_chunks(s.max(1)).zip(dy.par_chunks(s.max(1))))
                .with_min_len(min_planes(s))
                .enumerate()
                .for_each(|(plane, (dx_p, (x_p, dy_p)))| {
                    let (g, k, d) = coef[plane % c];
                    for ((o, &v), &gy) in dx_p.iter_mut().zip(x_p).zip(dy_p) {
                        *o = gy * g + v * k + d;
                    }
                });
            for ch in 0..c {
                params[ch] = T::from_f64(sums[ch].1);
                params[c + ch] = T::from_f64(sums[ch].0);
            }
            Ok((T::to_cpu_storage_owned(out), Shape::from_dims(&[numel + 2 * c])))
        })
    }
}

/// `eˣ` in f32 without libm: Cody–Waite reduction `x = n·ln 2 + r`, a degree-7 polynomial for
/// `eʳ` on |r| ≤ ln 2 / 2 and `2ⁿ` built in the exponent bits. Branch-free, so a loop over it
/// vectorises; within 2 ulp of `f32::exp` on [−87, 88] (the input is clamped there).
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5·2²³ rounds to an integer, which then sits in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0 / 5040.0;
    let p = p * r + 1.0 / 720.0;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    let p = p * r + 1.0;
    let p = p * r + 1.0;
    let n_int = t.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    p * f32::from_bits(((n_int + 127) as u32) << 23)
}

/// One `[S]` plane: `y = x·scale + shift`, then SELU when `selu`.
#[inline(always)]
fn affine_plane(x: &[f32], y: &mut [f32], scale: f32, shift: f32, selu: bool) {
    if selu {
        let (lambda, lambda_alpha) = (SELU_SCALE as f32, (SELU_SCALE * SELU_ALPHA) as f32);
        for (o, &v) in y.iter_mut().zip(x) {
            let z = v * scale + shift;
            let negative = lambda_alpha * (exp_f32(z.min(0.0)) - 1.0);
            *o = if z > 0.0 { lambda * z } else { negative };
        }
    } else {
        for (o, &v) in y.iter_mut().zip(x) {
            *o = v * scale + shift;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn affine_plane_avx2(x: &[f32], y: &mut [f32], scale: f32, shift: f32, selu: bool) {
    affine_plane(x, y, scale, shift, selu)
}

/// `[B, C, S]` f32 data `x` → `x·scale[c] + shift[c]`, then SELU when `selu`, planes in
/// parallel. The evaluation-time BatchNorm(+SELU) of scoring: libm's scalar `expm1f` took a
/// fifth of an AASIST forward pass, the polynomial [`exp_f32`] vectorises (AVX2 when the
/// processor has it).
pub(crate) fn affine_channels_f32(
    x: &[f32],
    (c, s): (usize, usize),
    scale: &[f32],
    shift: &[f32],
    selu: bool,
) -> Vec<f32> {
    let (c, s) = (c.max(1), s.max(1));
    let mut y = vec![0.0f32; x.len()];
    #[cfg(target_arch = "x86_64")]
    let avx2 =
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
    y.par_chunks_mut(s)
        .zip(x.par_chunks(s))
        .with_min_len(min_planes(s))
        .enumerate()
        .for_each(|(i, (y_p, x_p))| {
            let ch = i % c;
            #[cfg(target_arch = "x86_64")]
            if avx2 {
                // SAFETY: AVX2 and FMA were detected at run time just above.
                unsafe { affine_plane_avx2(x_p, y_p, scale[ch], shift[ch], selu) };
                return;
            }
            affine_plane(x_p, y_p, scale[ch], shift[ch], selu);
        });
    y
}

#[cfg(test)]
mod fast_exp_tests {
    use super::*;

    #[test]
    fn polynomial_exp_is_within_two_ulp_of_libm() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x <= 88.0 {
            let want = f64::from(x).exp();
            let got = f64::from(exp_f32(x));
            worst = worst.max((got - want).abs() / want);
            x += 0.001_37;
        }
        assert!(worst < 2.5e-7, "relative error {worst}");
        // Clamped far outside: finite, tiny or huge, never NaN.
        assert!(exp_f32(-1e4) >= 0.0 && exp_f32(-1e4) < 1e-37);
        assert!(exp_f32(1e4).is_finite());
    }

    #[test]
    fn affine_selu_planes_match_the_f64_formula() {
        let (b, c, s) = (3, 4, 37);
        let x: Vec<f32> = (0..b * c * s)
            .map(|i| ((i as f32) * 0.71).sin() * 6.0)
            .collect();
        let scale = [0.5f32, -1.5, 2.0, 1.0];
        let shift = [0.1f32, 0.0, -0.7, 3.0];
        for selu in [false, true] {
            let y = affine_channels_f32(&x, (c, s), &scale, &shift, selu);
            for (i, (&v, &got)) in x.iter().zip(&y).enumerate() {
                let ch = (i / s) % c;
                let z = f64::from(v * scale[ch] + shift[ch]);
                let want = if !selu {
                    z
                } else if z > 0.0 {
                    SELU_SCALE * z
                } else {
                    SELU_SCALE * SELU_ALPHA * z.exp_m1()
                };
                assert!(
                    (f64::from(got) - want).abs() <= 1e-6 * want.abs().max(1.0),
                    "{i}"
                );
            }
        }
    }
}

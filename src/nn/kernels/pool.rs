//! Max-pooling (window = stride, floor) and Max-Feature-Map as candle custom ops whose backward
//! routes each output gradient to the element that won the max, as PyTorch does.
//!
//! Called by [`super::max_pool2d`] and [`super::mfm`]. The backward ops recompute the winner from
//! the saved input instead of storing indices, which keeps the forward allocation-free beyond its
//! output. On ties the first element (row-major window order, or the first half for MFM) wins.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, WithDType};
use rayon::prelude::*;

use super::{contiguous_slice, dispatch_float};

/// `[B, C, H, W]` → `[B, C, ⌊H/kh⌋, ⌊W/kw⌋]`.
pub(crate) struct MaxPool2dOp {
    pub kernel: (usize, usize),
}

fn pool_dims(
    dims: &[usize],
    kernel: (usize, usize),
) -> Result<(usize, usize, usize, usize, usize)> {
    let &[b, c, h, w] = dims else {
        candle_core::bail!("max-pool expects [B, C, H, W], got {dims:?}");
    };
    let (kh, kw) = kernel;
    if kh == 0 || kw == 0 || h < kh || w < kw {
        candle_core::bail!("max-pool input {h}×{w} is smaller than the window {kh}×{kw}");
    }
    Ok((b * c, h, w, h / kh, w / kw))
}

/// Index within the plane of the first maximum of the window at output `(oy, ox)`.
#[inline]
fn argmax_in_window<T: WithDType>(
    plane: &[T],
    w: usize,
    kernel: (usize, usize),
    oy: usize,
    ox: usize,
) -> usize {
    let (kh, kw) = kernel;
    let mut best = oy * kh * w + ox * kw;
    let mut best_v = plane[best];
    for dy in 0..kh {
        let row = (oy * kh + dy) * w + ox * kw;
        for (dx, &v) in plane[row..row + kw].iter().enumerate() {
            if v > best_v {
                best_v = v;
                best = row + dx;
            }
        }
    }
    best
}

fn pool_forward<T: WithDType>(
    x: &[T],
    dims: (usize, usize, usize, usize, usize),
    kernel: (usize, usize),
) -> Vec<T> {
    let (planes, h, w, oh, ow) = dims;
    let mut y = vec![T::from_f64(0.0); planes * oh * ow];
    y.par_chunks_mut(oh * ow)
        .zip(x.par_chunks(h * w))
        .for_each(|(y_p, x_p)| {
            if kernel == (2, 2) {
                // The LCNN case: two rows at a time, pairs of columns.
                for oy in 0..oh {
                    let r0 = &x_p[2 * oy * w..2 * oy * w + 2 * ow];
                    let r1 = &x_p[(2 * oy + 1) * w..(2 * oy + 1) * w + 2 * ow];
                    for (ox, out) in y_p[oy * ow..(oy + 1) * ow].iter_mut().enumerate() {
                        let a = max(r0[2 * ox], r0[2 * ox + 1]);
                        let b = max(r1[2 * ox], r1[2 * ox + 1]);
                        *out = max(a, b);
                    }
                }
            } else {
                // Row by row over whole output rows (AASIST's (3, 3) and (1, 3) pools): the
                // same running maximum in the same window order as [`argmax_in_window`], so
                // the same value, without its per-output index arithmetic.
                let (kh, kw) = kernel;
                for (oy, out) in y_p.chunks_exact_mut(ow).enumerate() {
                    let first = &x_p[oy * kh * w..];
                    for (ox, o) in out.iter_mut().enumerate() {
                        *o = first[ox * kw];
                    }
                    for dy in 0..kh {
                        let start = (oy * kh + dy) * w;
                        let row = &x_p[start..start + ow * kw];
                        for (o, window) in out.iter_mut().zip(row.chunks_exact(kw)) {
                            for &v in window {
                                *o = max(*o, v);
                            }
                        }
                    }
                }
            }
        });
    y
}

/// The larger of two values, the first on ties (and when the second is NaN).
#[inline]
fn max<T: WithDType>(a: T, b: T) -> T {
    if b > a {
        b
    } else {
        a
    }
}

fn pool_backward<T: WithDType>(
    x: &[T],
    dy: &[T],
    dims: (usize, usize, usize, usize, usize),
    kernel: (usize, usize),
) -> Vec<T> {
    let (planes, h, w, oh, ow) = dims;
    let mut dx = vec![T::from_f64(0.0); planes * h * w];
    dx.par_chunks_mut(h * w)
        .zip(x.par_chunks(h * w))
        .zip(dy.par_chunks(oh * ow))
        .for_each(|((dx_p, x_p), dy_p)| {
            for oy in 0..oh {
                for ox in 0..ow {
                    dx_p[argmax_in_window(x_p, w, kernel, oy, ox)] = dy_p[oy * ow + ox];
                }
            }
        });
    dx
}

impl CustomOp1 for MaxPool2dOp {
    fn name(&self) -> &'static str {
        "dpda-max-pool2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = pool_dims(l.dims(), self.kernel)?;
        let shape = Shape::from_dims(&[l.dims()[0], l.dims()[1], dims.3, dims.4]);
        dispatch_float!(s, "max-pool", T => {
            let x = contiguous_slice::<T>(s, l)?;
            Ok((T::to_cpu_storage_owned(pool_forward(x, dims, self.kernel)), shape))
        })
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        if !arg.track_op() {
            return Ok(None);
        }
        let dy = grad_res.contiguous()?;
        Ok(Some(arg.apply_op2_no_bwd(
            &dy,
            &MaxPool2dGradOp {
                kernel: self.kernel,
            },
        )?))
    }
}

/// `(x, dy) → dx`: each output gradient lands on its window's maximum.
pub(crate) struct MaxPool2dGradOp {
    pub kernel: (usize, usize),
}

impl CustomOp2 for MaxPool2dGradOp {
    fn name(&self) -> &'static str {
        "dpda-max-pool2d-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dims = pool_dims(l1.dims(), self.kernel)?;
        if l2.dims() != [l1.dims()[0], l1.dims()[1], dims.3, dims.4] {
            candle_core::bail!(
                "max-pool gradient has shape {:?} for input {:?}",
                l2.dims(),
                l1.dims()
            );
        }
        dispatch_float!(s1, "max-pool gradient", T => {
            let x = contiguous_slice::<T>(s1, l1)?;
            let dy = contiguous_slice::<T>(s2, l2)?;
            Ok((T::to_cpu_storage_owned(pool_backward(x, dy, dims, self.kernel)), l1.shape().clone()))
        })
    }
}

/// `[B, 2C, ...]` → `[B, C, ...]`: element-wise max of the two channel halves.
pub(crate) struct MfmOp;

/// `(batch, half-channel block length)` of an MFM input: each batch item is two blocks.
fn mfm_dims(dims: &[usize]) -> Result<(usize, usize)> {
    if dims.len() < 2 || !dims[1].is_multiple_of(2) {
        candle_core::bail!("max-feature-map needs [B, C, ...] with an even C, got {dims:?}");
    }
    let inner: usize = dims[2..].iter().product();
    Ok((dims[0], dims[1] / 2 * inner))
}

impl CustomOp1 for MfmOp {
    fn name(&self) -> &'static str {
        "dpda-mfm"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, half) = mfm_dims(l.dims())?;
        let mut out_dims = l.dims().to_vec();
        out_dims[1] /= 2;
        dispatch_float!(s, "max-feature-map", T => {
            let x = contiguous_slice::<T>(s, l)?;
            let mut y = vec![T::from_f64(0.0); b * half];
            y.par_chunks_mut(half).zip(x.par_chunks(2 * half)).for_each(|(y_b, x_b)| {
                let (lo, hi) = x_b.split_at(half);
                for ((o, &a), &c) in y_b.iter_mut().zip(lo).zip(hi) {
                    *o = max(a, c);
                }
            });
            Ok((T::to_cpu_storage_owned(y), Shape::from_dims(&out_dims)))
        })
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        if !arg.track_op() {
            return Ok(None);
        }
        let dy = grad_res.contiguous()?;
        Ok(Some(arg.apply_op2_no_bwd(&dy, &MfmGradOp)?))
    }
}

/// `(x, dy) → dx`: the gradient goes to whichever half won.
pub(crate) struct MfmGradOp;

impl CustomOp2 for MfmGradOp {
    fn name(&self) -> &'static str {
        "dpda-mfm-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, half) = mfm_dims(l1.dims())?;
        if l2.shape().elem_count() != b * half {
            candle_core::bail!(
                "max-feature-map gradient has shape {:?} for input {:?}",
                l2.dims(),
                l1.dims()
            );
        }
        dispatch_float!(s1, "max-feature-map gradient", T => {
            let x = contiguous_slice::<T>(s1, l1)?;
            let dy = contiguous_slice::<T>(s2, l2)?;
            let zero = T::from_f64(0.0);
            let mut dx = vec![zero; 2 * b * half];
            dx.par_chunks_mut(2 * half)
                .zip(x.par_chunks(2 * half))
                .zip(dy.par_chunks(half))
                .for_each(|((dx_b, x_b), dy_b)| {
                    let (dlo, dhi) = dx_b.split_at_mut(half);
                    let (lo, hi) = x_b.split_at(half);
                    for i in 0..half {
                        if hi[i] > lo[i] {
                            dhi[i] = dy_b[i];
                        } else {
                            dlo[i] = dy_b[i];
                        }
                    }
                });
            Ok((T::to_cpu_storage_owned(dx), l1.shape().clone()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The row-wise forward gives exactly the value at the backward's winner index, with ties,
    /// NaNs, and sizes the window does not divide.
    #[test]
    fn forward_value_is_the_winner_of_the_backward() {
        for (h, w, kernel) in [
            (7, 10, (3, 3)),
            (5, 11, (1, 3)),
            (9, 8, (3, 2)),
            (4, 4, (2, 2)),
        ] {
            let x: Vec<f32> = (0..2 * h * w)
                .map(|i| match i % 13 {
                    0 => f32::NAN,
                    5 | 6 => 2.0,
                    k => ((i * 7919) % 17) as f32 - k as f32,
                })
                .collect();
            let (oh, ow) = (h / kernel.0, w / kernel.1);
            let y = pool_forward(&x, (2, h, w, oh, ow), kernel);
            for p in 0..2 {
                let plane = &x[p * h * w..(p + 1) * h * w];
                for oy in 0..oh {
                    for ox in 0..ow {
                        let want = plane[argmax_in_window(plane, w, kernel, oy, ox)];
                        let got = y[p * oh * ow + oy * ow + ox];
                        assert!(
                            got.to_bits() == want.to_bits(),
                            "{kernel:?} plane {p} ({oy}, {ox}): {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}

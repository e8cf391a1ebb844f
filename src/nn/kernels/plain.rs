//! The same layers composed from plain candle ops whose gradients match finite differences in
//! candle 0.11.1: the path on non-CPU devices and other dtypes, and the reference the custom ops
//! of [`super`] are tested against.

use candle_core::{Result, Tensor};

use super::BatchNormOutput;

/// Plain-op [`super::conv2d`].
pub fn conv2d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    padding: (usize, usize),
    stride: usize,
) -> Result<Tensor> {
    let (_, _, kh, kw) = weight.dims4()?;
    // Explicit zero padding (per axis, which candle's conv2d cannot express), then the input is
    // cropped to the span the strided kernel actually reads: candle's conv2d backward derives
    // its output padding from H only and fails when H and W leave different remainders.
    let x = x
        .pad_with_zeros(2, padding.0, padding.0)?
        .pad_with_zeros(3, padding.1, padding.1)?;
    let (_, _, h, w) = x.dims4()?;
    if h < kh || w < kw {
        candle_core::bail!(
            "conv2d input {h}×{w} (after padding) is smaller than the kernel {kh}×{kw}"
        );
    }
    let s = stride.max(1);
    let used_h = (h - kh) / s * s + kh;
    let used_w = (w - kw) / s * s + kw;
    let x = x.narrow(2, 0, used_h)?.narrow(3, 0, used_w)?;
    let y = x.conv2d(weight, 0, s, 1, 1)?;
    match bias {
        Some(b) => y.broadcast_add(&b.reshape((1, (), 1, 1))?),
        None => Ok(y),
    }
}

/// Plain-op [`super::conv1d`]: a 2-D convolution on `[B, C, 1, L]`, since candle's own conv1d
/// weight gradient is wrong on CPU.
pub fn conv1d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    padding: usize,
    stride: usize,
) -> Result<Tensor> {
    let (out_c, in_c, k) = weight.dims3()?;
    let x = x.pad_with_zeros(2, padding, padding)?;
    let len = x.dim(2)?;
    if len < k {
        candle_core::bail!(
            "conv1d input of {len} samples (after padding) is shorter than the kernel {k}"
        );
    }
    let s = stride.max(1);
    let used = (len - k) / s * s + k;
    let x = x.narrow(2, 0, used)?.unsqueeze(2)?; // [B, in, 1, used]
    let w = weight.reshape((out_c, in_c, 1, k))?;
    let y = x.conv2d(&w, 0, s, 1, 1)?.squeeze(2)?; // [B, out, L']
    match bias {
        Some(b) => y.broadcast_add(&b.reshape((1, (), 1))?),
        None => Ok(y),
    }
}

/// Plain-op [`super::max_pool2d`]: reshape into windows and take the max over the window axes
/// (candle's `max_pool2d` gradient is wrong).
pub fn max_pool2d(x: &Tensor, kernel: (usize, usize)) -> Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    let (kh, kw) = kernel;
    let (oh, ow) = (h / kh.max(1), w / kw.max(1));
    if kh == 0 || kw == 0 || oh == 0 || ow == 0 {
        candle_core::bail!("max-pool input {h}×{w} is smaller than the window {kh}×{kw}");
    }
    let x = if oh * kh != h || ow * kw != w {
        x.narrow(2, 0, oh * kh)?.narrow(3, 0, ow * kw)?
    } else {
        x.clone()
    };
    x.reshape((b, c, oh, kh, ow, kw))?.max(5)?.max(3)
}

/// Plain-op [`super::mfm`].
pub fn mfm(x: &Tensor) -> Result<Tensor> {
    let c = x.dim(1)?;
    if c % 2 != 0 {
        candle_core::bail!("max-feature-map needs an even channel count, got {c}");
    }
    let half = c / 2;
    x.narrow(1, 0, half)?.maximum(&x.narrow(1, half, half)?)
}

/// Plain-op [`super::conv2d_mfm`]: the three ops in a row.
pub fn conv2d_mfm(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    padding: (usize, usize),
    stride: usize,
    pool: Option<(usize, usize)>,
) -> Result<Tensor> {
    let y = mfm(&conv2d(x, weight, bias, padding, stride)?)?;
    match pool {
        Some(kernel) => max_pool2d(&y, kernel),
        None => Ok(y),
    }
}

/// SELU from candle's ELU: `λ·elu(x, α)`.
pub fn selu(x: &Tensor) -> Result<Tensor> {
    x.elu(super::norm::SELU_ALPHA)? * super::norm::SELU_SCALE
}

/// Plain-op [`super::batch_norm_train`].
pub fn batch_norm_train(
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> Result<BatchNormOutput> {
    let rank = x.rank();
    if rank < 2 {
        candle_core::bail!("batch norm needs [B, C, ...], got {:?}", x.dims());
    }
    let c = x.dim(1)?;
    let mut stat_shape = vec![1usize; rank];
    stat_shape[1] = c;
    let mut mean = x.clone();
    for d in (0..rank).rev().filter(|&d| d != 1) {
        mean = mean.mean_keepdim(d)?;
    }
    let centred = x.broadcast_sub(&mean)?;
    let mut var = centred.sqr()?;
    for d in (0..rank).rev().filter(|&d| d != 1) {
        var = var.mean_keepdim(d)?;
    }
    let y = centred.broadcast_div(&(&var + eps)?.sqrt()?)?;
    let y = match weight {
        Some(w) => y.broadcast_mul(&w.reshape(stat_shape.as_slice())?)?,
        None => y,
    };
    let y = match bias {
        Some(b) => y.broadcast_add(&b.reshape(stat_shape.as_slice())?)?,
        None => y,
    };
    Ok(BatchNormOutput {
        y,
        mean: mean.detach().flatten_all()?,
        var: var.detach().flatten_all()?,
    })
}

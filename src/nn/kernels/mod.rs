//! Fast CPU kernels for the layers the models spend their time in: convolution, BatchNorm with
//! batch statistics, max-pooling and Max-Feature-Map, as candle custom ops with exact backward
//! passes.
//!
//! [`super::layers`] calls the functions here; each checks whether its input lives on the CPU in
//! f32 or f64 and then runs a custom op (im2col/GEMM through the `gemm` crate, fused passes,
//! rayon over batch items or channels), otherwise the plain candle composition in [`plain`],
//! which is also the reference the tests compare the custom ops against. Every backward is
//! itself a custom op (or a view of one's output), never a candle op with a known CPU gradient
//! bug, and runs without recording a graph (`apply_op*_no_bwd`): a gradient that recorded its
//! op would hold the forward tensors and the incoming gradient it came from, and a parameter's
//! gradient lives until the step ends, so every large output gradient of a network would stay
//! alive through the whole backward pass (AASIST-L at batch 8: 11 GB peak instead of 6.6 GB).
//! Gradients of tensors that do not depend on a variable (input features) are not computed.

mod conv;
mod conv_mfm;
mod gemm;
mod norm;
pub mod plain;
mod pool;

use candle_core::{CpuStorage, DType, Layout, Result, Tensor, WithDType};

/// Runs `$body` with `$t` bound to the element type of the CPU storage `$s` (f32 or f64).
macro_rules! dispatch_float {
    ($s:expr, $what:expr, $t:ident => $body:block) => {
        match $s {
            candle_core::CpuStorage::F32(_) => {
                type $t = f32;
                $body
            }
            candle_core::CpuStorage::F64(_) => {
                type $t = f64;
                $body
            }
            _ => candle_core::bail!("{} supports f32 and f64 only", $what),
        }
    };
}
pub(crate) use dispatch_float;

/// The elements of a contiguous tensor's storage, in layout order.
pub(crate) fn contiguous_slice<'a, T: WithDType>(
    storage: &'a CpuStorage,
    layout: &Layout,
) -> Result<&'a [T]> {
    let data = T::cpu_storage_as_slice(storage)?;
    match layout.contiguous_offsets() {
        Some((start, end)) if end <= data.len() => Ok(&data[start..end]),
        _ => candle_core::bail!(
            "custom op input with shape {:?} is not contiguous",
            layout.dims()
        ),
    }
}

/// Peak resident set size of this process in MiB (`VmHWM` of `/proc/self/status`), for the
/// benchmarks' memory columns; `None` where the kernel does not report it.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Keeps memory that training frees inside the process for the next iteration instead of
/// handing it back to the kernel; returns whether the allocator accepted the setting.
///
/// glibc returns every large block (128 KiB and up, adapting to at most 32 MiB) with `munmap`,
/// so each iteration's activations and gradients fault their pages in again and the kernel
/// zeroes them: a quarter of an LCNN training step's time, half of AASIST's. Raising the mmap
/// and trim thresholds to 1 GiB (AASIST's encoder activations reach half a GiB) recycles those
/// blocks; the cost is that the process keeps its peak heap. Called once by the binary and the
/// benchmarks; does nothing off glibc.
pub fn retain_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; both are documented settings
        // (mallopt(3): M_MMAP_MAX 0 serves every block from the heap, M_TRIM_THRESHOLD −1
        // never shrinks it).
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 0) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, -1) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Whether `x` takes the custom-op path: a CPU tensor of f32 or f64.
pub fn uses_fast_path(x: &Tensor) -> bool {
    x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64)
}

/// 2-D convolution `x [B, Cin, H, W]` ⊛ `weight [Cout, Cin, kh, kw]` + `bias [Cout]` with zero
/// padding `(rows, columns)` and one stride, giving `[B, Cout, H', W']` (`torch.nn.Conv2d`,
/// groups 1, dilation 1).
pub fn conv2d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    padding: (usize, usize),
    stride: usize,
) -> Result<Tensor> {
    if !uses_fast_path(x) {
        return plain::conv2d(x, weight, bias, padding, stride);
    }
    apply_conv_op(x, weight, bias, conv::Conv2dOp { padding, stride })
}

/// Runs a convolution op on `(x, weight, bias)` made contiguous, a missing bias as zeros.
fn apply_conv_op(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    op: impl candle_core::CustomOp3 + Send + Sync + 'static,
) -> Result<Tensor> {
    let bias = match bias {
        Some(b) => b.contiguous()?,
        None => Tensor::zeros(weight.dim(0)?, x.dtype(), x.device())?,
    };
    x.contiguous()?.apply_op3(&weight.contiguous()?, &bias, op)
}

/// 1-D convolution `x [B, Cin, L]` ⊛ `weight [Cout, Cin, k]` + `bias`, zero padding on both ends,
/// giving `[B, Cout, L']` (`torch.nn.Conv1d`); runs as a 2-D convolution of height 1.
pub fn conv1d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    padding: usize,
    stride: usize,
) -> Result<Tensor> {
    if !uses_fast_path(x) {
        return plain::conv1d(x, weight, bias, padding, stride);
    }
    let (b, cin, len) = x.dims3()?;
    let (cout, wcin, k) = weight.dims3()?;
    let x4 = x.contiguous()?.reshape((b, cin, 1, len))?;
    let w4 = weight.contiguous()?.reshape((cout, wcin, 1, k))?;
    let y = conv2d(&x4, &w4, bias, (0, padding), stride)?; // [B, Cout, 1, L']
    let out_len = y.dim(3)?;
    y.reshape((b, cout, out_len))
}

/// One LCNN block, convolution → Max-Feature-Map → optional max-pool with stride equal to the
/// window: `x [B, Cin, H, W]` ⊛ `weight [2C, Cin, kh, kw]` + `bias [2C]` → `[B, C, H', W']`,
/// the same values and gradients as [`conv2d`], [`mfm`] and [`max_pool2d`] in a row.
pub fn conv2d_mfm(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    padding: (usize, usize),
    stride: usize,
    pool: Option<(usize, usize)>,
) -> Result<Tensor> {
    if !uses_fast_path(x) {
        return plain::conv2d_mfm(x, weight, bias, padding, stride, pool);
    }
    let op = conv_mfm::ConvMfmOp::new(padding, stride, pool.unwrap_or((1, 1)));
    apply_conv_op(x, weight, bias, op)
}

/// Max-pooling `[B, C, H, W]` → `[B, C, ⌊H/kh⌋, ⌊W/kw⌋]` with stride equal to the window; the
/// gradient goes to each window's maximum.
pub fn max_pool2d(x: &Tensor, kernel: (usize, usize)) -> Result<Tensor> {
    if !uses_fast_path(x) {
        return plain::max_pool2d(x, kernel);
    }
    x.contiguous()?.apply_op1(pool::MaxPool2dOp { kernel })
}

/// Max-Feature-Map: the element-wise max of the two halves of axis 1, `[B, 2C, ...]` →
/// `[B, C, ...]`.
pub fn mfm(x: &Tensor) -> Result<Tensor> {
    if !uses_fast_path(x) {
        return plain::mfm(x);
    }
    x.contiguous()?.apply_op1(pool::MfmOp)
}

/// BatchNorm with fixed statistics (the running ones, as in evaluation) and optionally SELU in
/// one pass over `x [B, C, ...]`: `(x − mean)·invstd·weight + bias` with `mean` and `invstd`
/// per channel. Inference only: the result records no backward (the op's own backward is the
/// batch-statistics one), so callers use it inside [`crate::nn::no_grad`]. Scoring spends a
/// large share of its time in these element-wise passes; the plain composition makes five.
pub fn batch_norm_fixed_no_grad(
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    mean: Vec<f64>,
    invstd: Vec<f64>,
    selu: bool,
) -> Result<Tensor> {
    let c = x.dim(1)?;
    if x.dtype() == DType::F32 && x.device().is_cpu() {
        let dims = x.dims().to_vec();
        let s: usize = dims[2..].iter().product();
        let values = |t: Option<&Tensor>, default: f32| -> Result<Vec<f64>> {
            match t {
                Some(t) => t.to_dtype(DType::F64)?.to_vec1::<f64>(),
                None => Ok(vec![f64::from(default); c]),
            }
        };
        let (w, b) = (values(weight, 1.0)?, values(bias, 0.0)?);
        if w.len() != c || b.len() != c || mean.len() != c || invstd.len() != c {
            candle_core::bail!("batch norm over {c} channels got {} weights", w.len());
        }
        // y = x·scale + shift per channel, the constants formed in f64.
        let scale: Vec<f32> = (0..c).map(|i| (invstd[i] * w[i]) as f32).collect();
        let shift: Vec<f32> = (0..c)
            .map(|i| (b[i] - mean[i] * invstd[i] * w[i]) as f32)
            .collect();
        let x = x.contiguous()?;
        let (storage, layout) = x.storage_and_layout();
        let y = match &*storage {
            candle_core::Storage::Cpu(cpu) => {
                let data = contiguous_slice::<f32>(cpu, layout)?;
                norm::affine_channels_f32(data, (c, s), &scale, &shift, selu)
            }
            _ => candle_core::bail!("batch norm: expected CPU storage"),
        };
        drop(storage);
        return Tensor::from_vec(y, dims, x.device());
    }
    let ones;
    let zeros;
    let weight = match weight {
        Some(w) => w.contiguous()?,
        None => {
            ones = Tensor::ones(c, x.dtype(), x.device())?;
            ones
        }
    };
    let bias = match bias {
        Some(b) => b.contiguous()?,
        None => {
            zeros = Tensor::zeros(c, x.dtype(), x.device())?;
            zeros
        }
    };
    let op = norm::BatchNormTrainOp { mean, invstd, selu };
    x.contiguous()?.apply_op3_no_bwd(&weight, &bias, &op)
}

/// The output of BatchNorm with batch statistics and the statistics themselves.
#[derive(Clone, Debug)]
pub struct BatchNormOutput {
    /// Normalised (and scaled/shifted) input, same shape as the input.
    pub y: Tensor,
    /// Per-channel batch mean `[C]`, outside the graph.
    pub mean: Tensor,
    /// Per-channel biased batch variance `[C]`, outside the graph.
    pub var: Tensor,
}

/// BatchNorm over axis 1 of `x [B, C, ...]` with the batch's statistics (training arithmetic),
/// `(x − mean)/√(var + eps)·weight + bias`, weight and bias `[C]` optional.
pub fn batch_norm_train(
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> Result<BatchNormOutput> {
    batch_norm_train_then(x, weight, bias, eps, false)
}

/// [`batch_norm_train`] followed by SELU (`torch.nn.SELU`) in the same pass; the backward
/// takes SELU's derivative from the output, so no pre-activation tensor is kept.
pub fn batch_norm_selu_train(
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> Result<BatchNormOutput> {
    batch_norm_train_then(x, weight, bias, eps, true)
}

fn batch_norm_train_then(
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
    selu: bool,
) -> Result<BatchNormOutput> {
    if !uses_fast_path(x) {
        let out = plain::batch_norm_train(x, weight, bias, eps)?;
        return if selu {
            Ok(BatchNormOutput {
                y: plain::selu(&out.y)?,
                ..out
            })
        } else {
            Ok(out)
        };
    }
    let x = x.contiguous()?;
    let c = x.dim(1)?;
    let stats = x
        .apply_op1_no_bwd(&norm::ChannelStatsOp)?
        .to_vec2::<f64>()?; // [2, C]
    let (mean, var) = (&stats[0], &stats[1]);
    let invstd = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    let weight = match weight {
        Some(w) => w.contiguous()?,
        None => Tensor::ones(c, x.dtype(), x.device())?,
    };
    let bias = match bias {
        Some(b) => b.contiguous()?,
        None => Tensor::zeros(c, x.dtype(), x.device())?,
    };
    let y = x.apply_op3(
        &weight,
        &bias,
        norm::BatchNormTrainOp {
            mean: mean.clone(),
            invstd,
            selu,
        },
    )?;
    Ok(BatchNormOutput {
        y,
        mean: Tensor::from_slice(mean, c, x.device())?.to_dtype(x.dtype())?,
        var: Tensor::from_slice(var, c, x.device())?.to_dtype(x.dtype())?,
    })
}

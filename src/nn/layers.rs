//! The layer set every model is built from, each layer using only ops whose gradients match finite
//! differences in candle 0.11.1.
//!
//! Models (`lcnn`, `lcnn-small`, AASIST) create their layers through a [`ParamBuilder`], which
//! draws PyTorch-default initial values from the project's [`Rng`] and registers every tensor in the
//! model's [`VarMap`] under a stable PyTorch-like name (`conv1.weight`, `bn1.running_mean`). Models
//! call these structs, never raw candle conv/pool/norm ops, so a layer can later be swapped for a
//! faster custom op without touching the models. Where candle's own op is wrong (conv1d weight
//! gradient, max-pool gradient, fused LayerNorm) the layer is written from primitives instead; the
//! finite-difference checks live in this file's tests.

use candle_core::{DType, Device, Result, Tensor, Var, D};
use candle_nn::VarMap;

use super::{param, Mode, NamedVar};
use crate::rng::Rng;

/// Creates named variables in a [`VarMap`] with PyTorch-default initialisation drawn from an [`Rng`].
pub struct ParamBuilder<'a> {
    varmap: &'a VarMap,
    rng: &'a mut Rng,
    device: Device,
    dtype: DType,
    trainable: Vec<NamedVar>,
}

impl<'a> ParamBuilder<'a> {
    /// A builder writing into `varmap`, drawing from `rng`, creating tensors of `dtype` on `device`.
    pub fn new(varmap: &'a VarMap, rng: &'a mut Rng, device: &Device, dtype: DType) -> Self {
        Self {
            varmap,
            rng,
            device: device.clone(),
            dtype,
            trainable: Vec::new(),
        }
    }

    /// The dtype of the variables created.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The device of the variables created.
    pub fn device(&self) -> &Device {
        &self.device
    }

    fn insert(
        &mut self,
        name: &str,
        values: Vec<f64>,
        shape: &[usize],
        train: bool,
    ) -> Result<Var> {
        let t = Tensor::from_vec(values, shape, &self.device)?.to_dtype(self.dtype)?;
        let var = Var::from_tensor(&t)?;
        let mut data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| candle_core::Error::Msg("variable map lock poisoned".into()))?;
        if data.contains_key(name) {
            candle_core::bail!("variable {name} is defined twice");
        }
        data.insert(name.to_string(), var.clone());
        if train {
            self.trainable.push(NamedVar {
                name: name.to_string(),
                var: var.clone(),
            });
        }
        Ok(var)
    }

    /// A trainable variable drawn from U(−bound, bound).
    pub fn uniform(&mut self, name: &str, shape: &[usize], bound: f64) -> Result<Var> {
        let n: usize = shape.iter().product();
        let values = (0..n).map(|_| self.rng.uniform(-bound, bound)).collect();
        self.insert(name, values, shape, true)
    }

    /// A trainable variable filled with `value`.
    pub fn constant(&mut self, name: &str, shape: &[usize], value: f64) -> Result<Var> {
        let n: usize = shape.iter().product();
        self.insert(name, vec![value; n], shape, true)
    }

    /// A non-trainable state tensor (BatchNorm running statistics) filled with `value`.
    pub fn buffer(&mut self, name: &str, shape: &[usize], value: f64) -> Result<Var> {
        let n: usize = shape.iter().product();
        self.insert(name, vec![value; n], shape, false)
    }

    /// The generator the builder draws from (for components with their own init scheme).
    pub fn rng(&mut self) -> &mut Rng {
        self.rng
    }

    /// The trainable variables created so far, sorted by name (the [`super::Model::trainable`] order).
    pub fn into_trainable(self) -> Vec<NamedVar> {
        let mut v = self.trainable;
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }
}

/// Joins a prefix and a name with a dot, skipping an empty prefix.
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// PyTorch's default weight bound: kaiming-uniform with a = √5 gives U(±1/√fan_in), the same
/// bound as its default bias init (`torch.nn.Linear/ConvNd.reset_parameters`).
fn default_bound(fan_in: usize) -> f64 {
    if fan_in == 0 {
        0.0
    } else {
        1.0 / (fan_in as f64).sqrt()
    }
}

/// Fully connected layer `y = x·Wᵀ + b` over the last axis (`torch.nn.Linear`).
#[derive(Clone, Debug)]
pub struct Linear {
    /// `[out, in]`.
    pub weight: Var,
    /// `[out]`.
    pub bias: Option<Var>,
}

impl Linear {
    /// `name.weight` `[out, in]` and optionally `name.bias` `[out]`, PyTorch-default init.
    pub fn new(
        pb: &mut ParamBuilder,
        name: &str,
        in_features: usize,
        out_features: usize,
        bias: bool,
    ) -> Result<Self> {
        let bound = default_bound(in_features);
        let weight = pb.uniform(&join(name, "weight"), &[out_features, in_features], bound)?;
        let bias = if bias {
            Some(pb.uniform(&join(name, "bias"), &[out_features], bound)?)
        } else {
            None
        };
        Ok(Self { weight, bias })
    }

    /// `[..., in]` → `[..., out]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = x.broadcast_matmul(&param(&self.weight).t()?)?;
        match &self.bias {
            Some(b) => y.broadcast_add(&param(b)),
            None => Ok(y),
        }
    }
}

/// 2-D convolution with zero padding, groups 1, dilation 1 (`torch.nn.Conv2d`).
#[derive(Clone, Debug)]
pub struct Conv2d {
    /// `[out, in, kh, kw]`.
    pub weight: Var,
    /// `[out]`.
    pub bias: Option<Var>,
    /// Zero padding `(top/bottom, left/right)`.
    pub padding: (usize, usize),
    /// Stride (same along both axes).
    pub stride: usize,
}

impl Conv2d {
    /// `name.weight` `[out, in, kh, kw]` and optionally `name.bias`, PyTorch-default init.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pb: &mut ParamBuilder,
        name: &str,
        in_channels: usize,
        out_channels: usize,
        kernel: (usize, usize),
        stride: usize,
        padding: (usize, usize),
        bias: bool,
    ) -> Result<Self> {
        let shape = [out_channels, in_channels, kernel.0, kernel.1];
        let (weight, bias) = conv_params(pb, name, &shape, bias)?;
        Ok(Self {
            weight,
            bias,
            padding,
            stride: stride.max(1),
        })
    }

    /// `[B, in, H, W]` → `[B, out, H', W']`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        super::kernels::conv2d(
            x,
            &param(&self.weight),
            self.bias.as_ref().map(param).as_ref(),
            self.padding,
            self.stride,
        )
    }

    /// The convolution followed by [`mfm`] and, when `pool` is given, a [`MaxPool2d`] of that
    /// window, as one fused op: `[B, in, H, W]` → `[B, out/2, H'/kh, W'/kw]`.
    pub fn forward_mfm(&self, x: &Tensor, pool: Option<(usize, usize)>) -> Result<Tensor> {
        super::kernels::conv2d_mfm(
            x,
            &param(&self.weight),
            self.bias.as_ref().map(param).as_ref(),
            self.padding,
            self.stride,
            pool,
        )
    }
}

/// `name.weight` of `shape` `[out, in, kernel…]` and optionally `name.bias` `[out]`, both
/// U(−b, b) with PyTorch's convolution bound for fan-in `in · Π kernel`.
fn conv_params(
    pb: &mut ParamBuilder,
    name: &str,
    shape: &[usize],
    bias: bool,
) -> Result<(Var, Option<Var>)> {
    let bound = default_bound(shape[1..].iter().product());
    let weight = pb.uniform(&join(name, "weight"), shape, bound)?;
    let bias = if bias {
        Some(pb.uniform(&join(name, "bias"), &shape[..1], bound)?)
    } else {
        None
    };
    Ok((weight, bias))
}

/// 1-D convolution computed as a 2-D convolution on `[B, C, 1, L]` (candle's conv1d weight
/// gradient is wrong on CPU); same parameters and names as `torch.nn.Conv1d`.
#[derive(Clone, Debug)]
pub struct Conv1d {
    /// `[out, in, k]`.
    pub weight: Var,
    /// `[out]`.
    pub bias: Option<Var>,
    /// Zero padding on both ends.
    pub padding: usize,
    /// Stride.
    pub stride: usize,
}

impl Conv1d {
    /// `name.weight` `[out, in, k]` and optionally `name.bias`, PyTorch-default init.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pb: &mut ParamBuilder,
        name: &str,
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        bias: bool,
    ) -> Result<Self> {
        let (weight, bias) = conv_params(pb, name, &[out_channels, in_channels, kernel], bias)?;
        Ok(Self {
            weight,
            bias,
            padding,
            stride: stride.max(1),
        })
    }

    /// `[B, in, L]` → `[B, out, L']`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        super::kernels::conv1d(
            x,
            &param(&self.weight),
            self.bias.as_ref().map(param).as_ref(),
            self.padding,
            self.stride,
        )
    }
}

/// Max-pooling with stride equal to the kernel, by reshaping into windows and taking the max over
/// the window axes (exact gradient, unlike candle's `max_pool2d`). Like PyTorch without padding
/// or ceil mode, trailing rows/columns that do not fill a window are dropped.
#[derive(Clone, Copy, Debug)]
pub struct MaxPool2d {
    /// Window `(kh, kw)`, also the stride.
    pub kernel: (usize, usize),
}

impl MaxPool2d {
    /// A pool with window and stride `kernel`.
    pub fn new(kernel: (usize, usize)) -> Self {
        Self { kernel }
    }

    /// `[B, C, H, W]` → `[B, C, ⌊H/kh⌋, ⌊W/kw⌋]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        super::kernels::max_pool2d(x, self.kernel)
    }
}

/// 1-D max-pooling over the last axis with stride equal to the kernel (floor behaviour).
#[derive(Clone, Copy, Debug)]
pub struct MaxPool1d {
    /// Window, also the stride.
    pub kernel: usize,
}

impl MaxPool1d {
    /// `[B, C, L]` → `[B, C, ⌊L/k⌋]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x4 = x.unsqueeze(2)?;
        MaxPool2d::new((1, self.kernel)).forward(&x4)?.squeeze(2)
    }
}

/// BatchNorm over axis 1 of `[B, C]`, `[B, C, L]` or `[B, C, H, W]` (`torch.nn.BatchNorm1d/2d`):
/// batch statistics in training (biased variance for normalising), running statistics updated
/// with momentum 0.1 and the unbiased variance, as PyTorch does; eps 1e-5.
#[derive(Clone, Debug)]
pub struct BatchNorm {
    /// `[C]` scale (absent when `affine = false`).
    pub weight: Option<Var>,
    /// `[C]` shift (absent when `affine = false`).
    pub bias: Option<Var>,
    /// `[C]`, not trainable.
    pub running_mean: Var,
    /// `[C]`, not trainable.
    pub running_var: Var,
    /// Added to the variance before the square root.
    pub eps: f64,
    /// Weight of the new batch statistic in the running average.
    pub momentum: f64,
}

impl BatchNorm {
    /// `name.weight/bias` (ones/zeros, when `affine`) and `name.running_mean/running_var`
    /// (zeros/ones) for `num_features` channels.
    pub fn new(
        pb: &mut ParamBuilder,
        name: &str,
        num_features: usize,
        affine: bool,
    ) -> Result<Self> {
        let (weight, bias) = if affine {
            (
                Some(pb.constant(&join(name, "weight"), &[num_features], 1.0)?),
                Some(pb.constant(&join(name, "bias"), &[num_features], 0.0)?),
            )
        } else {
            (None, None)
        };
        Ok(Self {
            weight,
            bias,
            running_mean: pb.buffer(&join(name, "running_mean"), &[num_features], 0.0)?,
            running_var: pb.buffer(&join(name, "running_var"), &[num_features], 1.0)?,
            eps: 1e-5,
            momentum: 0.1,
        })
    }

    /// Normalise `x` (channels on axis 1); in [`Mode::Train`] also update the running statistics.
    pub fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        self.forward_then(x, mode, false)
    }

    /// [`Self::forward`] followed by [`selu`], fused into one pass when training on the CPU.
    pub fn forward_selu(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        self.forward_then(x, mode, true)
    }

    fn forward_then(&self, x: &Tensor, mode: Mode, selu: bool) -> Result<Tensor> {
        let rank = x.rank();
        if rank < 2 {
            candle_core::bail!("batch norm needs [B, C, ...], got {:?}", x.dims());
        }
        let c = x.dim(1)?;
        let mut stat_shape = vec![1usize; rank];
        stat_shape[1] = c;
        if mode.is_training() {
            let n = x.elem_count() / c.max(1);
            if n < 2 {
                candle_core::bail!(
                    "batch norm in training needs more than one value per channel, got {:?}",
                    x.dims()
                );
            }
            let train = if selu {
                super::kernels::batch_norm_selu_train
            } else {
                super::kernels::batch_norm_train
            };
            let out = train(
                x,
                self.weight.as_ref().map(param).as_ref(),
                self.bias.as_ref().map(param).as_ref(),
                self.eps,
            )?;
            if mode == Mode::Train {
                let m = self.momentum;
                let unbiased = (out.var * (n as f64 / (n as f64 - 1.0)))?;
                let rm = ((&param(&self.running_mean) * (1.0 - m))? + (out.mean * m)?)?;
                let rv = ((&param(&self.running_var) * (1.0 - m))? + (unbiased * m)?)?;
                self.running_mean.set(&rm)?;
                self.running_var.set(&rv)?;
            }
            return Ok(out.y);
        }
        if super::is_grad_disabled() && super::kernels::uses_fast_path(x) {
            let to_f64 = |v: &Var| param(v).to_dtype(DType::F64)?.to_vec1::<f64>();
            let mean = to_f64(&self.running_mean)?;
            let invstd = to_f64(&self.running_var)?
                .into_iter()
                .map(|v| 1.0 / (v + self.eps).sqrt())
                .collect();
            return super::kernels::batch_norm_fixed_no_grad(
                x,
                self.weight.as_ref().map(param).as_ref(),
                self.bias.as_ref().map(param).as_ref(),
                mean,
                invstd,
                selu,
            );
        }
        let y = self.normalise_with_running_stats(x, &stat_shape)?;
        if selu {
            super::kernels::plain::selu(&y)
        } else {
            Ok(y)
        }
    }

    /// `(x − running mean)/√(running var + eps)·weight + bias`, the statistics shaped `stat_shape`.
    fn normalise_with_running_stats(&self, x: &Tensor, stat_shape: &[usize]) -> Result<Tensor> {
        let mean = param(&self.running_mean).reshape(stat_shape)?;
        let var = param(&self.running_var).reshape(stat_shape)?;
        let y = x
            .broadcast_sub(&mean)?
            .broadcast_div(&(var + self.eps)?.sqrt()?)?;
        let y = match &self.weight {
            Some(w) => y.broadcast_mul(&param(w).reshape(stat_shape)?)?,
            None => y,
        };
        match &self.bias {
            Some(b) => y.broadcast_add(&param(b).reshape(stat_shape)?),
            None => Ok(y),
        }
    }
}

/// Max-Feature-Map: the element-wise max of the two halves of axis 1 (LCNN's activation, as
/// `MaxFeatureMap2D` of the LFCC-LCNN baseline).
pub fn mfm(x: &Tensor) -> Result<Tensor> {
    let c = x.dim(1)?;
    if c % 2 != 0 {
        candle_core::bail!("max-feature-map needs an even channel count, got {c}");
    }
    super::kernels::mfm(x)
}

/// Inverted dropout: in training modes each element is zeroed with probability `p` (mask drawn
/// from the project's [`Rng`]) and the rest scaled by 1/(1−p); identity in [`Mode::Eval`].
#[derive(Clone, Copy, Debug)]
pub struct Dropout {
    /// Probability of zeroing an element, in [0, 1).
    pub p: f64,
}

impl Dropout {
    /// Dropout with drop probability `p`.
    pub fn new(p: f64) -> Self {
        Self { p }
    }

    /// Apply dropout to `x` in training modes.
    pub fn forward(&self, x: &Tensor, mode: Mode, rng: &mut Rng) -> Result<Tensor> {
        if !mode.is_training() || self.p <= 0.0 {
            return Ok(x.clone());
        }
        if self.p >= 1.0 {
            return x.zeros_like();
        }
        let scale = 1.0 / (1.0 - self.p);
        let mask: Vec<f64> = (0..x.elem_count())
            .map(|_| if rng.uniform01() < self.p { 0.0 } else { scale })
            .collect();
        let mask = Tensor::from_vec(mask, x.dims(), x.device())?.to_dtype(x.dtype())?;
        x * mask
    }
}

/// Layer normalisation over the last axis from primitives (candle's fused kernel cuts the graph),
/// `torch.nn.LayerNorm` semantics: biased variance, eps 1e-5, affine weight/bias.
#[derive(Clone, Debug)]
pub struct LayerNorm {
    /// `[D]`.
    pub weight: Var,
    /// `[D]`.
    pub bias: Var,
    /// Added to the variance before the square root.
    pub eps: f64,
}

impl LayerNorm {
    /// `name.weight` (ones) and `name.bias` (zeros) of width `dim`.
    pub fn new(pb: &mut ParamBuilder, name: &str, dim: usize) -> Result<Self> {
        Ok(Self {
            weight: pb.constant(&join(name, "weight"), &[dim], 1.0)?,
            bias: pb.constant(&join(name, "bias"), &[dim], 0.0)?,
            eps: 1e-5,
        })
    }

    /// `[..., D]` → `[..., D]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let centred = x.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
        centred
            .broadcast_div(&(var + self.eps)?.sqrt()?)?
            .broadcast_mul(&param(&self.weight))?
            .broadcast_add(&param(&self.bias))
    }
}

/// SELU with PyTorch's constants, valid in f32 and f64 (candle's `selu` builds an f32 constant).
pub fn selu(x: &Tensor) -> Result<Tensor> {
    super::kernels::plain::selu(x)
}

/// Leaky ReLU `max(x, 0) + slope·min(x, 0)`.
pub fn leaky_relu(x: &Tensor, negative_slope: f64) -> Result<Tensor> {
    let pos = x.relu()?;
    let neg = (x - &pos)?;
    pos + (neg * negative_slope)?
}

/// Mean over one axis (global average pooling over time or frequency).
pub fn mean_over(x: &Tensor, axis: usize) -> Result<Tensor> {
    x.mean(axis)
}

/// Average pooling with stride equal to the kernel over the last two axes, floor behaviour.
#[derive(Clone, Copy, Debug)]
pub struct AvgPool2d {
    /// Window `(kh, kw)`, also the stride.
    pub kernel: (usize, usize),
}

impl AvgPool2d {
    /// `[B, C, H, W]` → `[B, C, ⌊H/kh⌋, ⌊W/kw⌋]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let (kh, kw) = self.kernel;
        let (oh, ow) = (h / kh, w / kw);
        if oh == 0 || ow == 0 {
            candle_core::bail!("average-pool input {h}×{w} is smaller than the window {kh}×{kw}");
        }
        x.narrow(2, 0, oh * kh)?
            .narrow(3, 0, ow * kw)?
            .reshape((b, c, oh, kh, ow, kw))?
            .mean(5)?
            .mean(3)
    }
}

/// One direction of a single-layer LSTM over `[B, T, I]` (`torch.nn.LSTM` gate order i, f, g, o,
/// both biases, init U(±1/√H)), unrolled from matmuls and element-wise ops.
#[derive(Clone, Debug)]
pub struct LstmDirection {
    /// `[4H, I]`.
    pub weight_ih: Var,
    /// `[4H, H]`.
    pub weight_hh: Var,
    /// `[4H]`.
    pub bias_ih: Var,
    /// `[4H]`.
    pub bias_hh: Var,
    /// Hidden width H.
    pub hidden: usize,
    /// Process the sequence from the last frame to the first.
    pub reverse: bool,
}

impl LstmDirection {
    /// `name.weight_ih_l0{suffix}` etc., as PyTorch names them (`suffix` is `""` or `"_reverse"`).
    pub fn new(
        pb: &mut ParamBuilder,
        name: &str,
        input: usize,
        hidden: usize,
        reverse: bool,
    ) -> Result<Self> {
        let suffix = if reverse { "_reverse" } else { "" };
        let bound = default_bound(hidden);
        Ok(Self {
            weight_ih: pb.uniform(
                &join(name, &format!("weight_ih_l0{suffix}")),
                &[4 * hidden, input],
                bound,
            )?,
            weight_hh: pb.uniform(
                &join(name, &format!("weight_hh_l0{suffix}")),
                &[4 * hidden, hidden],
                bound,
            )?,
            bias_ih: pb.uniform(
                &join(name, &format!("bias_ih_l0{suffix}")),
                &[4 * hidden],
                bound,
            )?,
            bias_hh: pb.uniform(
                &join(name, &format!("bias_hh_l0{suffix}")),
                &[4 * hidden],
                bound,
            )?,
            hidden,
            reverse,
        })
    }

    /// `[B, T, I]` → `[B, T, H]` from zero initial states.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t_len, _) = x.dims3()?;
        let h_dim = self.hidden;
        // Input projections of every frame at once: [B, T, 4H].
        let xw = x
            .broadcast_matmul(&param(&self.weight_ih).t()?)?
            .broadcast_add(&(&param(&self.bias_ih) + &param(&self.bias_hh))?)?;
        let w_hh_t = param(&self.weight_hh).t()?;
        let mut h = Tensor::zeros((b, h_dim), x.dtype(), x.device())?;
        let mut c = h.clone();
        let mut outs = vec![h.clone(); t_len];
        for step in 0..t_len {
            let t = if self.reverse { t_len - 1 - step } else { step };
            let gates = (xw.narrow(1, t, 1)?.squeeze(1)? + h.matmul(&w_hh_t)?)?; // [B, 4H]
            let i = candle_nn::ops::sigmoid(&gates.narrow(1, 0, h_dim)?)?;
            let f = candle_nn::ops::sigmoid(&gates.narrow(1, h_dim, h_dim)?)?;
            let g = gates.narrow(1, 2 * h_dim, h_dim)?.tanh()?;
            let o = candle_nn::ops::sigmoid(&gates.narrow(1, 3 * h_dim, h_dim)?)?;
            c = ((f * &c)? + (i * g)?)?;
            h = (o * c.tanh()?)?;
            outs[t] = h.clone();
        }
        Tensor::stack(&outs, 1)
    }
}

/// Bidirectional single-layer LSTM: forward and reverse outputs concatenated, `[B, T, 2H]`.
#[derive(Clone, Debug)]
pub struct BiLstm {
    /// Left-to-right direction.
    pub forward_dir: LstmDirection,
    /// Right-to-left direction.
    pub reverse_dir: LstmDirection,
}

impl BiLstm {
    /// Both directions under `name` with PyTorch's parameter names.
    pub fn new(pb: &mut ParamBuilder, name: &str, input: usize, hidden: usize) -> Result<Self> {
        Ok(Self {
            forward_dir: LstmDirection::new(pb, name, input, hidden, false)?,
            reverse_dir: LstmDirection::new(pb, name, input, hidden, true)?,
        })
    }

    /// `[B, T, I]` → `[B, T, 2H]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Tensor::cat(
            &[self.forward_dir.forward(x)?, self.reverse_dir.forward(x)?],
            2,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{gradcheck, projection_loss, random_var, GradcheckOptions};

    const TOL: f64 = 1e-4;

    fn opts() -> GradcheckOptions {
        GradcheckOptions {
            samples_per_tensor: 10,
            ..GradcheckOptions::default()
        }
    }

    fn check<F>(f: F, vars: &[NamedVar], input: &Var)
    where
        F: FnMut() -> Result<Tensor>,
    {
        let report = gradcheck(f, vars, Some(input), &opts()).unwrap();
        assert!(report.failures(TOL).is_empty(), "{report:?}");
        assert_eq!(report.per_tensor.len(), vars.len() + 1);
    }

    fn builder<'a>(varmap: &'a VarMap, rng: &'a mut Rng) -> ParamBuilder<'a> {
        ParamBuilder::new(varmap, rng, &Device::Cpu, DType::F64)
    }

    #[test]
    fn linear_gradcheck_and_init_bounds() {
        let vm = VarMap::new();
        let mut rng = Rng::new(1);
        let mut pb = builder(&vm, &mut rng);
        let lin = Linear::new(&mut pb, "fc", 5, 3, true).unwrap();
        let vars = pb.into_trainable();
        assert_eq!(
            vars.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
            ["fc.bias", "fc.weight"]
        );
        let w = lin
            .weight
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let bound = 1.0 / 5f64.sqrt();
        assert!(w.iter().all(|v| v.abs() <= bound));
        assert!(w.iter().any(|v| v.abs() > bound / 2.0));
        let x = random_var(&[2, 4, 5], DType::F64, 2).unwrap();
        check(
            || projection_loss(&lin.forward(x.as_tensor())?, 3),
            &vars,
            &x,
        );
    }

    #[test]
    fn conv2d_matches_candle_forward_and_gradchecks() {
        for (stride, padding, kernel, hw) in [
            (1, (1, 1), (3, 3), (5, 6)),
            (1, (2, 2), (5, 5), (4, 7)),
            (2, (1, 0), (3, 3), (7, 8)),
            (1, (0, 0), (1, 1), (3, 4)),
        ] {
            let vm = VarMap::new();
            let mut rng = Rng::new(3);
            let mut pb = builder(&vm, &mut rng);
            let conv = Conv2d::new(&mut pb, "c", 2, 4, kernel, stride, padding, true).unwrap();
            let vars = pb.into_trainable();
            let x = random_var(&[2, 2, hw.0, hw.1], DType::F64, 4).unwrap();
            if padding.0 == padding.1 && stride == 1 {
                // candle's own forward (symmetric padding) is an independent reference.
                let reference = x
                    .as_tensor()
                    .conv2d(conv.weight.as_tensor(), padding.0, 1, 1, 1)
                    .unwrap()
                    .broadcast_add(
                        &conv
                            .bias
                            .as_ref()
                            .unwrap()
                            .as_tensor()
                            .reshape((1, 4, 1, 1))
                            .unwrap(),
                    )
                    .unwrap();
                let ours = conv.forward(x.as_tensor()).unwrap();
                let diff = (ours - reference)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap();
                assert!(diff.to_scalar::<f64>().unwrap() < 1e-12);
            }
            let y = conv.forward(x.as_tensor()).unwrap();
            let expect_h = (hw.0 + 2 * padding.0 - kernel.0) / stride + 1;
            let expect_w = (hw.1 + 2 * padding.1 - kernel.1) / stride + 1;
            assert_eq!(y.dims(), &[2, 4, expect_h, expect_w]);
            check(
                || projection_loss(&conv.forward(x.as_tensor())?, 5),
                &vars,
                &x,
            );
        }
    }

    #[test]
    fn conv1d_matches_candle_forward_and_gradchecks() {
        for (stride, padding, kernel, len) in [(1, 0, 3, 9), (1, 2, 5, 8), (3, 1, 4, 13)] {
            let vm = VarMap::new();
            let mut rng = Rng::new(5);
            let mut pb = builder(&vm, &mut rng);
            let conv = Conv1d::new(&mut pb, "c", 3, 2, kernel, stride, padding, true).unwrap();
            let vars = pb.into_trainable();
            let x = random_var(&[2, 3, len], DType::F64, 6).unwrap();
            // candle's conv1d forward is correct (only its weight gradient is not).
            let reference = x
                .as_tensor()
                .conv1d(conv.weight.as_tensor(), padding, stride, 1, 1)
                .unwrap()
                .broadcast_add(
                    &conv
                        .bias
                        .as_ref()
                        .unwrap()
                        .as_tensor()
                        .reshape((1, 2, 1))
                        .unwrap(),
                )
                .unwrap();
            let ours = conv.forward(x.as_tensor()).unwrap();
            assert_eq!(ours.dims(), reference.dims());
            let diff = (ours - reference)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap();
            assert!(diff.to_scalar::<f64>().unwrap() < 1e-12);
            check(
                || projection_loss(&conv.forward(x.as_tensor())?, 7),
                &vars,
                &x,
            );
        }
    }

    #[test]
    fn candle_conv1d_weight_gradient_is_caught() {
        // The hazard the Conv1d layer avoids: candle's own conv1d fails the check at batch 2.
        let x = random_var(&[2, 3, 9], DType::F64, 8).unwrap();
        let w = random_var(&[2, 3, 3], DType::F64, 9).unwrap();
        let vars = vec![NamedVar {
            name: "w".into(),
            var: w.clone(),
        }];
        let report = gradcheck(
            || projection_loss(&x.as_tensor().conv1d(w.as_tensor(), 0, 1, 1, 1)?, 1),
            &vars,
            None,
            &opts(),
        )
        .unwrap();
        assert!(report.max_rel_err() > 1e-2, "{report:?}");
    }

    #[test]
    fn max_pool_matches_candle_forward_floors_and_gradchecks() {
        let x = random_var(&[2, 3, 5, 7], DType::F64, 10).unwrap();
        let pool = MaxPool2d::new((2, 2));
        let ours = pool.forward(x.as_tensor()).unwrap();
        assert_eq!(ours.dims(), &[2, 3, 2, 3]);
        let cropped = x
            .as_tensor()
            .narrow(2, 0, 4)
            .unwrap()
            .narrow(3, 0, 6)
            .unwrap();
        let reference = cropped.max_pool2d(2).unwrap();
        let diff = (&ours - reference)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert_eq!(diff.to_scalar::<f64>().unwrap(), 0.0);
        check(
            || projection_loss(&pool.forward(x.as_tensor())?, 11),
            &[],
            &x,
        );

        let wide = MaxPool2d::new((1, 3));
        let y = wide.forward(x.as_tensor()).unwrap();
        assert_eq!(y.dims(), &[2, 3, 5, 2]);
        // Element (0,0,0,1) is the max of columns 3..6 of row 0.
        let row: Vec<f64> = x
            .as_tensor()
            .get(0)
            .unwrap()
            .get(0)
            .unwrap()
            .get(0)
            .unwrap()
            .to_vec1()
            .unwrap();
        let expect = row[3..6].iter().cloned().fold(f64::MIN, f64::max);
        let got: f64 = y
            .get(0)
            .unwrap()
            .get(0)
            .unwrap()
            .get(0)
            .unwrap()
            .get(1)
            .unwrap()
            .to_scalar()
            .unwrap();
        assert_eq!(got, expect);
        check(
            || projection_loss(&wide.forward(x.as_tensor())?, 12),
            &[],
            &x,
        );

        let x1 = random_var(&[2, 2, 7], DType::F64, 13).unwrap();
        let p1 = MaxPool1d { kernel: 3 };
        assert_eq!(p1.forward(x1.as_tensor()).unwrap().dims(), &[2, 2, 2]);
        check(
            || projection_loss(&p1.forward(x1.as_tensor())?, 14),
            &[],
            &x1,
        );
    }

    #[test]
    fn batch_norm_gradchecks_in_every_mode() {
        for (shape, affine) in [
            (vec![3usize, 4, 2, 3], true),
            (vec![5, 3], true),
            (vec![3, 2, 4], false),
        ] {
            let vm = VarMap::new();
            let mut rng = Rng::new(15);
            let mut pb = builder(&vm, &mut rng);
            let bn = BatchNorm::new(&mut pb, "bn", shape[1], affine).unwrap();
            let vars = pb.into_trainable();
            assert_eq!(vars.len(), if affine { 2 } else { 0 });
            // Non-trivial affine values so their gradients are not masked by ones/zeros.
            if let (Some(w), Some(b)) = (&bn.weight, &bn.bias) {
                w.set(
                    &random_var(&[shape[1]], DType::F64, 16)
                        .unwrap()
                        .as_tensor()
                        .affine(0.5, 1.0)
                        .unwrap(),
                )
                .unwrap();
                b.set(random_var(&[shape[1]], DType::F64, 17).unwrap().as_tensor())
                    .unwrap();
            }
            let x = random_var(&shape, DType::F64, 18).unwrap();
            for mode in [Mode::Train, Mode::TrainFrozenStats, Mode::Eval] {
                check(
                    || projection_loss(&bn.forward(x.as_tensor(), mode)?, 19),
                    &vars,
                    &x,
                );
            }
        }
    }

    /// Scoring's one-pass eval BatchNorm (+SELU) under no_grad gives the composed ops' values.
    #[test]
    fn fixed_statistics_pass_under_no_grad_matches_the_composition() {
        for (shape, affine) in [(vec![2usize, 3, 4, 5], true), (vec![3, 2, 7], false)] {
            let vm = VarMap::new();
            let mut rng = Rng::new(31);
            let mut pb = builder(&vm, &mut rng);
            let bn = BatchNorm::new(&mut pb, "bn", shape[1], affine).unwrap();
            let c = shape[1];
            bn.running_mean
                .set(random_var(&[c], DType::F64, 32).unwrap().as_tensor())
                .unwrap();
            bn.running_var
                .set(
                    &random_var(&[c], DType::F64, 33)
                        .unwrap()
                        .as_tensor()
                        .abs()
                        .unwrap()
                        .affine(1.0, 0.3)
                        .unwrap(),
                )
                .unwrap();
            if let (Some(w), Some(b)) = (&bn.weight, &bn.bias) {
                w.set(random_var(&[c], DType::F64, 34).unwrap().as_tensor())
                    .unwrap();
                b.set(random_var(&[c], DType::F64, 35).unwrap().as_tensor())
                    .unwrap();
            }
            let x = random_var(&shape, DType::F64, 36).unwrap();
            for selu in [false, true] {
                let run = |bn: &BatchNorm| {
                    if selu {
                        bn.forward_selu(x.as_tensor(), Mode::Eval)
                    } else {
                        bn.forward(x.as_tensor(), Mode::Eval)
                    }
                };
                let composed = run(&bn).unwrap();
                let fused = crate::nn::no_grad(|| run(&bn)).unwrap();
                let diff = (&composed - &fused)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .max(0)
                    .unwrap()
                    .to_scalar::<f64>()
                    .unwrap();
                assert!(
                    diff < 1e-12,
                    "{shape:?} affine {affine} selu {selu}: {diff}"
                );
                // f32 input (scoring's case) takes the vectorised pass with a polynomial exp.
                let x32 = x.as_tensor().to_dtype(DType::F32).unwrap();
                let fused32 = crate::nn::no_grad(|| {
                    if selu {
                        bn.forward_selu(&x32, Mode::Eval)
                    } else {
                        bn.forward(&x32, Mode::Eval)
                    }
                })
                .unwrap();
                let want: Vec<f64> = composed.flatten_all().unwrap().to_vec1().unwrap();
                let got: Vec<f32> = fused32.flatten_all().unwrap().to_vec1().unwrap();
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (f64::from(*g) - w).abs() < 1e-5 * w.abs().max(1.0),
                        "{g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn batch_norm_running_stats_follow_pytorch() {
        let vm = VarMap::new();
        let mut rng = Rng::new(20);
        let mut pb = builder(&vm, &mut rng);
        let bn = BatchNorm::new(&mut pb, "bn", 2, true).unwrap();
        let x = random_var(&[3, 2, 4], DType::F64, 21).unwrap();
        let xs: Vec<Vec<Vec<f64>>> = x.as_tensor().to_vec3().unwrap();
        // Per-channel mean and unbiased variance over batch and length, computed by hand.
        let mut expect_mean = [0.0; 2];
        let mut expect_var = [0.0; 2];
        for c in 0..2 {
            let vals: Vec<f64> = xs.iter().flat_map(|b| b[c].iter().cloned()).collect();
            let n = vals.len() as f64;
            let m = vals.iter().sum::<f64>() / n;
            let v = vals.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0);
            expect_mean[c] = 0.1 * m;
            expect_var[c] = 0.9 + 0.1 * v;
        }
        bn.forward(x.as_tensor(), Mode::TrainFrozenStats).unwrap();
        assert_eq!(
            bn.running_mean.as_tensor().to_vec1::<f64>().unwrap(),
            [0.0, 0.0]
        );
        assert_eq!(
            bn.running_var.as_tensor().to_vec1::<f64>().unwrap(),
            [1.0, 1.0]
        );
        bn.forward(x.as_tensor(), Mode::Eval).unwrap();
        assert_eq!(
            bn.running_mean.as_tensor().to_vec1::<f64>().unwrap(),
            [0.0, 0.0]
        );
        let y = bn.forward(x.as_tensor(), Mode::Train).unwrap();
        let rm = bn.running_mean.as_tensor().to_vec1::<f64>().unwrap();
        let rv = bn.running_var.as_tensor().to_vec1::<f64>().unwrap();
        for c in 0..2 {
            assert!((rm[c] - expect_mean[c]).abs() < 1e-12);
            assert!((rv[c] - expect_var[c]).abs() < 1e-12);
        }
        // Training output is normalised per channel: mean 0, biased variance 1/(1 + eps/var).
        let ys: Vec<Vec<Vec<f64>>> = y.to_vec3().unwrap();
        for c in 0..2 {
            let vals: Vec<f64> = ys.iter().flat_map(|b| b[c].iter().cloned()).collect();
            let m = vals.iter().sum::<f64>() / vals.len() as f64;
            assert!(m.abs() < 1e-12);
        }
        // Eval uses the running statistics: (x − rm) / √(rv + eps).
        let ye = bn
            .forward(x.as_tensor(), Mode::Eval)
            .unwrap()
            .to_vec3::<f64>()
            .unwrap();
        let expect = (xs[1][0][2] - rm[0]) / (rv[0] + 1e-5).sqrt();
        assert!((ye[1][0][2] - expect).abs() < 1e-12);
    }

    #[test]
    fn mfm_is_max_of_halves_and_gradchecks() {
        let x = random_var(&[2, 4, 3], DType::F64, 22).unwrap();
        let y = mfm(x.as_tensor()).unwrap();
        assert_eq!(y.dims(), &[2, 2, 3]);
        let xs: Vec<Vec<Vec<f64>>> = x.as_tensor().to_vec3().unwrap();
        let ys: Vec<Vec<Vec<f64>>> = y.to_vec3().unwrap();
        assert_eq!(ys[1][1][2], xs[1][1][2].max(xs[1][3][2]));
        assert!(mfm(&random_var(&[1, 3], DType::F64, 1)
            .unwrap()
            .as_tensor()
            .clone())
        .is_err());
        check(|| projection_loss(&mfm(x.as_tensor())?, 23), &[], &x);
    }

    #[test]
    fn dropout_mask_scale_and_gradcheck() {
        let x = random_var(&[4, 50], DType::F64, 24).unwrap();
        let d = Dropout::new(0.7);
        let y = d
            .forward(x.as_tensor(), Mode::Train, &mut Rng::new(1))
            .unwrap();
        let xs: Vec<f64> = x.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
        let ys: Vec<f64> = y.flatten_all().unwrap().to_vec1().unwrap();
        let kept = ys.iter().filter(|v| **v != 0.0).count();
        // 200 elements, keep probability 0.3: far outside 30..90 would mean a wrong mask.
        assert!((30..90).contains(&kept), "{kept}");
        for (a, b) in xs.iter().zip(&ys) {
            assert!(*b == 0.0 || (b - a / 0.3).abs() < 1e-12);
        }
        let same = d
            .forward(x.as_tensor(), Mode::Train, &mut Rng::new(1))
            .unwrap();
        assert_eq!(same.flatten_all().unwrap().to_vec1::<f64>().unwrap(), ys);
        let eval = d
            .forward(x.as_tensor(), Mode::Eval, &mut Rng::new(1))
            .unwrap();
        assert_eq!(eval.flatten_all().unwrap().to_vec1::<f64>().unwrap(), xs);
        check(
            || {
                projection_loss(
                    &d.forward(x.as_tensor(), Mode::Train, &mut Rng::new(2))?,
                    25,
                )
            },
            &[],
            &x,
        );
    }

    #[test]
    fn layer_norm_gradchecks_and_normalises() {
        let vm = VarMap::new();
        let mut rng = Rng::new(26);
        let mut pb = builder(&vm, &mut rng);
        let ln = LayerNorm::new(&mut pb, "ln", 6).unwrap();
        let vars = pb.into_trainable();
        let x = random_var(&[2, 3, 6], DType::F64, 27).unwrap();
        let y = ln.forward(x.as_tensor()).unwrap();
        let row: Vec<f64> = y.get(1).unwrap().get(2).unwrap().to_vec1().unwrap();
        let m = row.iter().sum::<f64>() / 6.0;
        let v = row.iter().map(|r| (r - m).powi(2)).sum::<f64>() / 6.0;
        assert!(m.abs() < 1e-12 && (v - 1.0).abs() < 1e-3);
        ln.weight
            .set(
                &random_var(&[6], DType::F64, 28)
                    .unwrap()
                    .as_tensor()
                    .clone(),
            )
            .unwrap();
        check(
            || projection_loss(&ln.forward(x.as_tensor())?, 29),
            &vars,
            &x,
        );
    }

    #[test]
    fn activations_and_avg_pool_gradcheck_in_f64() {
        let x = random_var(&[2, 3, 4, 6], DType::F64, 30).unwrap();
        // SELU against its definition (PyTorch constants).
        let y: Vec<f64> = selu(x.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let xs: Vec<f64> = x.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
        for (a, b) in xs.iter().zip(&y) {
            let expect = 1.0507009873554805
                * if *a > 0.0 {
                    *a
                } else {
                    1.6732632423543772 * (a.exp() - 1.0)
                };
            assert!((b - expect).abs() < 1e-12);
        }
        check(|| projection_loss(&selu(x.as_tensor())?, 31), &[], &x);
        check(
            || projection_loss(&leaky_relu(x.as_tensor(), 0.3)?, 32),
            &[],
            &x,
        );
        let pool = AvgPool2d { kernel: (2, 3) };
        assert_eq!(pool.forward(x.as_tensor()).unwrap().dims(), &[2, 3, 2, 2]);
        check(
            || projection_loss(&pool.forward(x.as_tensor())?, 33),
            &[],
            &x,
        );
        check(
            || projection_loss(&mean_over(x.as_tensor(), 3)?, 34),
            &[],
            &x,
        );
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let vm = VarMap::new();
        let mut rng = Rng::new(1);
        let mut pb = builder(&vm, &mut rng);
        Linear::new(&mut pb, "fc", 2, 2, true).unwrap();
        assert!(Linear::new(&mut pb, "fc", 2, 2, true).is_err());
    }

    #[test]
    fn bilstm_gradchecks_and_matches_a_scalar_recurrence() {
        let vm = VarMap::new();
        let mut rng = Rng::new(35);
        let mut pb = builder(&vm, &mut rng);
        let lstm = BiLstm::new(&mut pb, "blstm", 3, 2).unwrap();
        let vars = pb.into_trainable();
        assert_eq!(vars.len(), 8);
        assert!(vars.iter().any(|v| v.name == "blstm.weight_hh_l0_reverse"));
        let x = random_var(&[2, 4, 3], DType::F64, 36).unwrap();
        let y = lstm.forward(x.as_tensor()).unwrap();
        assert_eq!(y.dims(), &[2, 4, 4]);
        // First forward step of batch 0 by hand from the gate equations (h0 = c0 = 0).
        let wih: Vec<Vec<f64>> = lstm.forward_dir.weight_ih.as_tensor().to_vec2().unwrap();
        let bih: Vec<f64> = lstm.forward_dir.bias_ih.as_tensor().to_vec1().unwrap();
        let bhh: Vec<f64> = lstm.forward_dir.bias_hh.as_tensor().to_vec1().unwrap();
        let x0: Vec<f64> = x
            .as_tensor()
            .get(0)
            .unwrap()
            .get(0)
            .unwrap()
            .to_vec1()
            .unwrap();
        let pre =
            |r: usize| wih[r].iter().zip(&x0).map(|(w, v)| w * v).sum::<f64>() + bih[r] + bhh[r];
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        for k in 0..2 {
            let c = sig(pre(k)) * pre(4 + k).tanh();
            let h = sig(pre(6 + k)) * c.tanh();
            let got: f64 = y
                .get(0)
                .unwrap()
                .get(0)
                .unwrap()
                .get(k)
                .unwrap()
                .to_scalar()
                .unwrap();
            assert!((got - h).abs() < 1e-12, "{got} vs {h}");
        }
        check(
            || projection_loss(&lstm.forward(x.as_tensor())?, 37),
            &vars,
            &x,
        );
    }
}

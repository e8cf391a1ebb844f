//! Finite-difference gradient checking in f64.
//!
//! Every layer and model of [`crate::nn`] is tested with [`gradcheck`]: candle's autograd gradient
//! of a scalar loss is compared with central differences `(L(w+h) − L(w−h)) / 2h` on up to `k`
//! sampled entries of every parameter tensor (and of the input when asked). This is how the wrong
//! candle gradients (conv1d weights, max-pool) were found, and the tests prove the checker flags
//! them. The loss closure must be deterministic (same dropout mask every call) and should be run in
//! f64 so that a step of ~1e-6 leaves differences well above rounding noise.

use candle_core::{DType, Result, Tensor, Var};

use super::NamedVar;
use crate::rng::Rng;

/// Settings of a gradient check.
#[derive(Clone, Debug)]
pub struct GradcheckOptions {
    /// Central-difference step added to and subtracted from one entry.
    pub step: f64,
    /// Entries checked per tensor (all of them when the tensor is smaller).
    pub samples_per_tensor: usize,
    /// Seed of the entry sampling.
    pub seed: u64,
    /// Differences below this absolute value count as zero error (rounding noise of near-zero
    /// gradients).
    pub abs_floor: f64,
    /// Entries whose error exceeds this are re-measured with a step ten times smaller (a kink of
    /// a max within ±step spoils one estimate but rarely both).
    pub retry_above: f64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        Self {
            step: 1e-6,
            samples_per_tensor: 12,
            seed: 0,
            abs_floor: 1e-9,
            retry_above: 1e-6,
        }
    }
}

/// Worst relative error per checked tensor.
#[derive(Clone, Debug)]
pub struct GradcheckReport {
    /// `(tensor name, max relative error over its sampled entries)`; the input is named `input`.
    pub per_tensor: Vec<(String, f64)>,
}

impl GradcheckReport {
    /// The worst relative error over every checked tensor (0 when nothing was checked).
    pub fn max_rel_err(&self) -> f64 {
        self.per_tensor.iter().map(|(_, e)| *e).fold(0.0, f64::max)
    }

    /// The names and errors of tensors whose error is at or above `tolerance`.
    pub fn failures(&self, tolerance: f64) -> Vec<(String, f64)> {
        self.per_tensor
            .iter()
            .filter(|(_, e)| *e >= tolerance || e.is_nan())
            .cloned()
            .collect()
    }
}

/// The relative error `|a − n| / max(|a|, |n|, 1e-8)`, or 0 when `|a − n| < abs_floor`.
pub fn relative_error(analytic: f64, numeric: f64, abs_floor: f64) -> f64 {
    let diff = (analytic - numeric).abs();
    if diff < abs_floor {
        0.0
    } else {
        diff / analytic.abs().max(numeric.abs()).max(1e-8)
    }
}

fn scalar(loss: &Tensor) -> Result<f64> {
    loss.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()
}

fn values_f64(t: &Tensor) -> Result<Vec<f64>> {
    t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()
}

fn set_values(var: &Var, values: &[f64]) -> Result<()> {
    let t = Tensor::from_slice(values, var.dims(), var.device())?.to_dtype(var.dtype())?;
    var.set(&t)
}

/// Compare the autograd gradient of `loss_fn()` (a scalar) with central differences for every
/// tensor of `vars` and, when given, for `input` (a `Var` the closure reads). Values are restored
/// afterwards.
pub fn gradcheck<F>(
    mut loss_fn: F,
    vars: &[NamedVar],
    input: Option<&Var>,
    options: &GradcheckOptions,
) -> Result<GradcheckReport>
where
    F: FnMut() -> Result<Tensor>,
{
    let loss = loss_fn()?;
    let grads = loss.backward()?;
    let mut targets: Vec<(String, &Var)> = vars.iter().map(|v| (v.name.clone(), &v.var)).collect();
    if let Some(x) = input {
        targets.push(("input".to_string(), x));
    }
    let mut rng = Rng::new(options.seed);
    let mut per_tensor = Vec::with_capacity(targets.len());
    for (name, var) in targets {
        let len = var.elem_count();
        let analytic = match grads.get(var.as_tensor()) {
            Some(g) => values_f64(g)?,
            None => vec![0.0; len],
        };
        let original = values_f64(var.as_tensor())?;
        let indices: Vec<usize> = if len <= options.samples_per_tensor {
            (0..len).collect()
        } else {
            rng.choose_distinct(len, options.samples_per_tensor)
        };
        let mut worst = 0.0f64;
        let mut perturbed = original.clone();
        for i in indices {
            let mut central = |step: f64| -> Result<f64> {
                perturbed[i] = original[i] + step;
                set_values(var, &perturbed)?;
                let plus = scalar(&loss_fn()?)?;
                perturbed[i] = original[i] - step;
                set_values(var, &perturbed)?;
                let minus = scalar(&loss_fn()?)?;
                perturbed[i] = original[i];
                Ok((plus - minus) / (2.0 * step))
            };
            let mut err = relative_error(analytic[i], central(options.step)?, options.abs_floor);
            if err > options.retry_above {
                // A max (MFM, pooling) may switch within ±step: retry with a 10× smaller step and
                // keep the better estimate. A wrong gradient disagrees with both.
                let retry = central(options.step / 10.0)?;
                err = err.min(relative_error(analytic[i], retry, options.abs_floor));
            }
            worst = worst.max(err);
        }
        set_values(var, &original)?;
        per_tensor.push((name, worst));
    }
    Ok(GradcheckReport { per_tensor })
}

/// A scalar test loss `Σ y·P` with a fixed pseudo-random projection `P` (seeded by `seed`), so that
/// every output element matters with a different weight (a plain sum hides errors, e.g. after
/// BatchNorm whose outputs sum to zero).
pub fn projection_loss(y: &Tensor, seed: u64) -> Result<Tensor> {
    let mut rng = Rng::new(seed);
    let p: Vec<f64> = (0..y.elem_count())
        .map(|_| rng.uniform(-1.0, 1.0))
        .collect();
    let p = Tensor::from_vec(p, y.dims(), y.device())?.to_dtype(y.dtype())?;
    (y * p)?.sum_all()
}

/// A variable of the given shape with entries drawn from U(−1, 1) (test inputs).
pub fn random_var(shape: &[usize], dtype: DType, seed: u64) -> Result<Var> {
    let mut rng = Rng::new(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect();
    Var::from_tensor(&Tensor::from_vec(v, shape, &candle_core::Device::Cpu)?.to_dtype(dtype)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> GradcheckOptions {
        GradcheckOptions {
            samples_per_tensor: 24,
            ..GradcheckOptions::default()
        }
    }

    #[test]
    fn relative_error_definition() {
        assert_eq!(relative_error(1.0, 1.0, 1e-9), 0.0);
        assert!((relative_error(2.0, 1.0, 1e-9) - 0.5).abs() < 1e-12);
        assert_eq!(relative_error(1e-12, -1e-12, 1e-9), 0.0);
    }

    #[test]
    fn passes_a_correct_gradient() {
        let w = random_var(&[3, 4], DType::F64, 1).unwrap();
        let vars = vec![NamedVar {
            name: "w".into(),
            var: w.clone(),
        }];
        let report = gradcheck(
            || projection_loss(&w.as_tensor().tanh()?.sqr()?, 9),
            &vars,
            None,
            &opts(),
        )
        .unwrap();
        assert!(report.max_rel_err() < 1e-6, "{report:?}");
    }

    #[test]
    fn catches_candles_max_pool2d_gradient() {
        // candle 0.11.1 scales the max-pool gradient by 1/(k·k): the checker must flag it.
        let x = random_var(&[2, 2, 4, 6], DType::F64, 3).unwrap();
        let report = gradcheck(
            || projection_loss(&x.as_tensor().max_pool2d(2)?, 5),
            &[],
            Some(&x),
            &opts(),
        )
        .unwrap();
        assert_eq!(report.per_tensor[0].0, "input");
        assert!(report.max_rel_err() > 0.5, "{report:?}");
        assert_eq!(report.failures(1e-4).len(), 1);
    }

    #[test]
    fn catches_a_detached_branch() {
        // A gradient cut by `detach` is reported as zero where the loss does depend on the input.
        let x = random_var(&[5], DType::F64, 4).unwrap();
        let report = gradcheck(
            || projection_loss(&(x.as_tensor().detach().sqr()? + x.as_tensor())?, 2),
            &[],
            Some(&x),
            &opts(),
        )
        .unwrap();
        assert!(report.max_rel_err() > 1e-2, "{report:?}");
    }

    #[test]
    fn restores_values() {
        let w = random_var(&[6], DType::F64, 7).unwrap();
        let before = values_f64(w.as_tensor()).unwrap();
        let vars = vec![NamedVar {
            name: "w".into(),
            var: w.clone(),
        }];
        gradcheck(|| w.as_tensor().sqr()?.sum_all(), &vars, None, &opts()).unwrap();
        assert_eq!(values_f64(w.as_tensor()).unwrap(), before);
    }
}

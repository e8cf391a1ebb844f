//! Flattening trainable variables and their gradients into one `f32` vector and back.
//!
//! Gradient alignment (PCGrad, GradVac, CAGrad), SAM and the gradient-conflict statistics all work
//! on "all trainable parameters jointly" (see the method notes), so the trainer flattens the
//! gradient of every variable of [`Model::trainable`](super::Model::trainable) in that order into
//! one vector, does its vector algebra there, and writes the result back. [`FlatLayout`] records
//! where each tensor lives in such a vector so per-tensor figures (cosine per layer) can be read
//! off it. f64 models are converted to `f32` on the way out and back to their dtype on the way in.

use candle_core::backprop::GradStore;
use candle_core::{DType, Result, Tensor};

use super::NamedVar;

/// Where each trainable variable sits in a flattened parameter or gradient vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlatLayout {
    /// `(name, offset, len, shape)` per variable, in flattening order.
    pub entries: Vec<(String, usize, usize, Vec<usize>)>,
}

impl FlatLayout {
    /// The layout of `vars` in the given order (the order of [`gather_grads`] and [`read_params`]).
    pub fn new(vars: &[NamedVar]) -> Self {
        let mut entries = Vec::with_capacity(vars.len());
        let mut offset = 0;
        for v in vars {
            let len = v.var.elem_count();
            entries.push((v.name.clone(), offset, len, v.var.dims().to_vec()));
            offset += len;
        }
        Self { entries }
    }

    /// Total number of elements (the length of every flat vector of this layout).
    pub fn total_len(&self) -> usize {
        self.entries
            .last()
            .map_or(0, |(_, offset, len, _)| offset + len)
    }

    /// `(offset, len)` of a variable by name.
    pub fn span(&self, name: &str) -> Option<(usize, usize)> {
        self.entries
            .iter()
            .find(|(n, ..)| n == name)
            .map(|&(_, offset, len, _)| (offset, len))
    }
}

/// A tensor's elements as a flat `f32` vector in row-major order, whatever its dtype and device.
fn to_flat_f32(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()
}

/// The gradients of `vars` from `grads`, concatenated in order; a variable without a gradient
/// (unused in the forward) contributes zeros.
pub fn gather_grads(grads: &GradStore, vars: &[NamedVar]) -> Result<Vec<f32>> {
    let total: usize = vars.iter().map(|v| v.var.elem_count()).sum();
    let mut flat = Vec::with_capacity(total);
    for v in vars {
        match grads.get(v.var.as_tensor()) {
            Some(g) => {
                if g.dims() != v.var.dims() {
                    candle_core::bail!(
                        "gradient of {} has shape {:?}, the variable {:?}",
                        v.name,
                        g.dims(),
                        v.var.dims()
                    );
                }
                flat.extend(to_flat_f32(g)?);
            }
            None => flat.resize(flat.len() + v.var.elem_count(), 0.0),
        }
    }
    Ok(flat)
}

/// The current values of `vars`, concatenated in order.
pub fn read_params(vars: &[NamedVar]) -> Result<Vec<f32>> {
    let total: usize = vars.iter().map(|v| v.var.elem_count()).sum();
    let mut flat = Vec::with_capacity(total);
    for v in vars {
        flat.extend(to_flat_f32(v.var.as_tensor())?);
    }
    Ok(flat)
}

/// Sets `vars` from a flat vector laid out as [`read_params`] returns it; each variable keeps its
/// dtype and device.
pub fn write_params(vars: &[NamedVar], flat: &[f32]) -> Result<()> {
    let total: usize = vars.iter().map(|v| v.var.elem_count()).sum();
    if flat.len() != total {
        candle_core::bail!(
            "flat parameter vector has {} elements, the variables {total}",
            flat.len()
        );
    }
    let mut offset = 0;
    for v in vars {
        let len = v.var.elem_count();
        let values = Tensor::from_slice(&flat[offset..offset + len], v.var.dims(), v.var.device())?
            .to_dtype(v.var.dtype())?;
        v.var.set(&values)?;
        offset += len;
    }
    Ok(())
}

/// A [`GradStore`] holding `flat` (laid out as [`read_params`]) as the gradient of each of `vars`, in
/// each variable's dtype and device: the way back from aligned flat gradients to an optimizer step.
pub fn scatter_grads(vars: &[NamedVar], flat: &[f32]) -> Result<GradStore> {
    let total: usize = vars.iter().map(|v| v.var.elem_count()).sum();
    if flat.len() != total {
        candle_core::bail!(
            "flat gradient vector has {} elements, the variables {total}",
            flat.len()
        );
    }
    let mut store = GradStore::default();
    let mut offset = 0;
    for v in vars {
        let len = v.var.elem_count();
        let g = Tensor::from_slice(&flat[offset..offset + len], v.var.dims(), v.var.device())?
            .to_dtype(v.var.dtype())?;
        store.insert(v.var.as_tensor(), g);
        offset += len;
    }
    Ok(store)
}

/// Cosine similarity of two equal-length vectors, accumulated in f64; 0 when either is all zeros.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        (dot / (na.sqrt() * nb.sqrt())) as f32
    }
}

/// The cosine of `a` and `b` restricted to each tensor of `layout` (0 for a tensor where either
/// side is all zeros), in layout order.
pub fn per_tensor_cosine(layout: &FlatLayout, a: &[f32], b: &[f32]) -> Vec<(String, f32)> {
    layout
        .entries
        .iter()
        .map(|(name, offset, len, _)| {
            let end = (offset + len).min(a.len()).min(b.len());
            let start = (*offset).min(end);
            (name.clone(), cosine(&a[start..end], &b[start..end]))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn vars(dtype: DType) -> Vec<NamedVar> {
        let dev = Device::Cpu;
        let a = Var::from_tensor(
            &Tensor::new(&[[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]], &dev)
                .unwrap()
                .to_dtype(dtype)
                .unwrap(),
        )
        .unwrap();
        let b = Var::from_tensor(
            &Tensor::new(&[7.0f32, 8.0], &dev)
                .unwrap()
                .to_dtype(dtype)
                .unwrap(),
        )
        .unwrap();
        let c = Var::from_tensor(
            &Tensor::new(&[9.0f32], &dev)
                .unwrap()
                .to_dtype(dtype)
                .unwrap(),
        )
        .unwrap();
        vec![
            NamedVar {
                name: "a.weight".into(),
                var: a,
            },
            NamedVar {
                name: "b.bias".into(),
                var: b,
            },
            NamedVar {
                name: "unused".into(),
                var: c,
            },
        ]
    }

    #[test]
    fn layout_offsets_and_shapes() {
        let v = vars(DType::F32);
        let layout = FlatLayout::new(&v);
        assert_eq!(layout.total_len(), 9);
        let e = &layout.entries;
        assert_eq!(e[0], ("a.weight".to_string(), 0, 6, vec![2, 3]));
        assert_eq!(e[1], ("b.bias".to_string(), 6, 2, vec![2]));
        assert_eq!((e[2].1, e[2].2), (8, 1));
        assert_eq!(layout.span("b.bias"), Some((6, 2)));
        assert_eq!(layout.span("nope"), None);
    }

    #[test]
    fn gather_grads_matches_analytic_and_zero_fills() {
        for dtype in [DType::F32, DType::F64] {
            let v = vars(dtype);
            // loss = sum(a²) + 3·sum(b); `unused` takes no part: d/da = 2a, d/db = 3, d/dc = 0.
            let loss = (v[0].var.as_tensor().sqr().unwrap().sum_all().unwrap()
                + (v[1].var.as_tensor() * 3.0).unwrap().sum_all().unwrap())
            .unwrap();
            let grads = loss.backward().unwrap();
            let flat = gather_grads(&grads, &v).unwrap();
            assert_eq!(
                flat,
                vec![2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 3.0, 3.0, 0.0],
                "{dtype:?}"
            );
        }
    }

    #[test]
    fn read_write_round_trip_keeps_dtype() {
        for dtype in [DType::F32, DType::F64] {
            let v = vars(dtype);
            assert_eq!(
                read_params(&v).unwrap(),
                vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
            );
            let new: Vec<f32> = (0..9).map(|i| i as f32 * -0.5).collect();
            write_params(&v, &new).unwrap();
            assert_eq!(read_params(&v).unwrap(), new);
            assert_eq!(v[0].var.dtype(), dtype);
            assert_eq!(v[0].var.dims(), &[2, 3]);
            assert!(write_params(&v, &new[..8]).is_err());
        }
    }

    #[test]
    fn scatter_then_gather_is_identity() {
        let v = vars(DType::F64);
        let flat: Vec<f32> = (0..9).map(|i| i as f32 + 0.25).collect();
        let store = scatter_grads(&v, &flat).unwrap();
        assert_eq!(gather_grads(&store, &v).unwrap(), flat);
        assert_eq!(
            store.get(v[0].var.as_tensor()).map(|g| g.dtype()),
            Some(DType::F64)
        );
    }

    #[test]
    fn per_tensor_cosine_values() {
        let layout = FlatLayout::new(&vars(DType::F32));
        let a = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0];
        let b = [2.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, -1.0, 5.0];
        let cos = per_tensor_cosine(&layout, &a, &b);
        assert_eq!(cos.len(), 3);
        assert_eq!(cos[0].0, "a.weight");
        assert!((cos[0].1 - 1.0).abs() < 1e-7);
        assert!((cos[1].1 + 1.0).abs() < 1e-7);
        assert_eq!(cos[2].1, 0.0);
        // Orthogonal halves: cosine 0; a scaled copy: cosine 1.
        assert!(cosine(&[1.0, 0.0], &[0.0, 3.0]).abs() < 1e-7);
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-7);
    }
}

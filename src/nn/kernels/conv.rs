//! 2-D convolution (and 1-D through it) as candle custom ops: im2col + GEMM forward, GEMM +
//! col2im input gradient, im2col + GEMM weight gradient with the bias gradient in the same pass.
//!
//! Called by [`super::conv2d`]. Batch items run in parallel on rayon, each with its own column
//! buffer reused across the items that task handles; padding is applied while the columns are
//! gathered, so no padded copy of the input is ever made. 1×1 stride-1 convolutions skip im2col
//! (the input already is the column matrix).

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, WithDType};
use rayon::prelude::*;

use super::gemm::{matmul, View};
use super::{contiguous_slice, dispatch_float};

/// Shapes of one convolution: input `[b, cin, h, w]`, kernel `[cout, cin, kh, kw]`, zero padding
/// `(ph, pw)`, one stride for both axes, output `[b, cout, oh, ow]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConvGeom {
    pub b: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub kh: usize,
    pub kw: usize,
    pub ph: usize,
    pub pw: usize,
    pub stride: usize,
    pub oh: usize,
    pub ow: usize,
}

impl ConvGeom {
    /// The geometry of `x [B, Cin, H, W]` convolved with `w [Cout, Cin, kh, kw]`.
    pub fn new(
        x_dims: &[usize],
        w_dims: &[usize],
        padding: (usize, usize),
        stride: usize,
    ) -> Result<Self> {
        let (&[b, cin, h, w], &[cout, wcin, kh, kw]) = (x_dims, w_dims) else {
            candle_core::bail!(
                "conv2d expects [B, C, H, W] and [O, C, kh, kw], got {x_dims:?} and {w_dims:?}"
            );
        };
        if cin != wcin {
            candle_core::bail!("conv2d input has {cin} channels, the kernel expects {wcin}");
        }
        let stride = stride.max(1);
        let (hp, wp) = (h + 2 * padding.0, w + 2 * padding.1);
        if hp < kh || wp < kw || kh == 0 || kw == 0 {
            candle_core::bail!(
                "conv2d input {h}×{w} (padded {hp}×{wp}) is smaller than the kernel {kh}×{kw}"
            );
        }
        Ok(Self {
            b,
            cin,
            h,
            w,
            cout,
            kh,
            kw,
            ph: padding.0,
            pw: padding.1,
            stride,
            oh: (hp - kh) / stride + 1,
            ow: (wp - kw) / stride + 1,
        })
    }

    /// Rows of the column matrix: `cin·kh·kw`.
    pub(crate) fn k(&self) -> usize {
        self.cin * self.kh * self.kw
    }

    /// Output positions per channel: `oh·ow`.
    pub(crate) fn p(&self) -> usize {
        self.oh * self.ow
    }

    pub(crate) fn in_plane(&self) -> usize {
        self.cin * self.h * self.w
    }

    /// Whether the input already is the column matrix (1×1, stride 1, no padding).
    fn pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.ph == 0 && self.pw == 0 && self.stride == 1
    }
}

/// Output indices `o` in `[lo, hi)` with `0 ≤ o·stride + offset − pad < in_len`.
fn valid_range(
    out_len: usize,
    in_len: usize,
    offset: usize,
    pad: usize,
    stride: usize,
) -> (usize, usize) {
    let lo = if pad > offset {
        (pad - offset).div_ceil(stride)
    } else {
        0
    };
    let hi = if in_len + pad > offset {
        (in_len + pad - offset).div_ceil(stride)
    } else {
        0
    };
    let hi = hi.min(out_len);
    (lo.min(hi), hi)
}

/// Output positions per column block: the column matrix of a large feature map (AASIST's
/// encoder: hundreds of MB per item) is built a band of output rows at a time, so the buffer
/// stays within cache-friendly, reusable sizes.
const COL_BLOCK_POSITIONS: usize = 4096;

/// The bands of output rows `[r0, r1)` the column matrix is built in.
fn row_blocks(g: &ConvGeom) -> impl Iterator<Item = (usize, usize)> {
    let rows = (COL_BLOCK_POSITIONS / g.ow.max(1)).max(1);
    let oh = g.oh;
    (0..oh)
        .step_by(rows)
        .map(move |r0| (r0, (r0 + rows).min(oh)))
}

/// Gathers the output rows `[r0, r1)` of `x_b [cin, h, w]` into `col [cin·kh·kw, (r1−r0)·ow]`,
/// zeros where the kernel reads padding.
fn im2col<T: WithDType>(g: &ConvGeom, x_b: &[T], (r0, r1): (usize, usize), col: &mut [T]) {
    let zero = T::from_f64(0.0);
    let (pb, s) = ((r1 - r0) * g.ow, g.stride);
    for ci in 0..g.cin {
        let plane = &x_b[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ki in 0..g.kh {
            let (oh_lo, oh_hi) = valid_range(g.oh, g.h, ki, g.ph, s);
            let (oh_lo, oh_hi) = (oh_lo.clamp(r0, r1), oh_hi.clamp(r0, r1));
            for kj in 0..g.kw {
                let row_idx = (ci * g.kh + ki) * g.kw + kj;
                let row = &mut col[row_idx * pb..(row_idx + 1) * pb];
                let (ow_lo, ow_hi) = valid_range(g.ow, g.w, kj, g.pw, s);
                row[..(oh_lo - r0) * g.ow].fill(zero);
                row[(oh_hi.max(oh_lo) - r0) * g.ow..].fill(zero);
                for oh in oh_lo..oh_hi {
                    let ih = oh * s + ki - g.ph;
                    let src = &plane[ih * g.w..(ih + 1) * g.w];
                    let out = &mut row[(oh - r0) * g.ow..(oh - r0 + 1) * g.ow];
                    out[..ow_lo].fill(zero);
                    out[ow_hi..].fill(zero);
                    if ow_lo < ow_hi {
                        let iw0 = ow_lo * s + kj - g.pw;
                        if s == 1 {
                            out[ow_lo..ow_hi].copy_from_slice(&src[iw0..iw0 + ow_hi - ow_lo]);
                        } else {
                            for (o, v) in out[ow_lo..ow_hi]
                                .iter_mut()
                                .zip(src[iw0..].iter().step_by(s))
                            {
                                *o = *v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Scatter-adds `col [cin·kh·kw, (r1−r0)·ow]`, the output rows `[r0, r1)`, onto
/// `dx_b [cin, h, w]` (the adjoint of [`im2col`]).
fn col2im<T: WithDType>(g: &ConvGeom, col: &[T], (r0, r1): (usize, usize), dx_b: &mut [T]) {
    let (pb, s) = ((r1 - r0) * g.ow, g.stride);
    for ci in 0..g.cin {
        let plane = &mut dx_b[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ki in 0..g.kh {
            let (oh_lo, oh_hi) = valid_range(g.oh, g.h, ki, g.ph, s);
            let (oh_lo, oh_hi) = (oh_lo.clamp(r0, r1), oh_hi.clamp(r0, r1));
            for kj in 0..g.kw {
                let row_idx = (ci * g.kh + ki) * g.kw + kj;
                let row = &col[row_idx * pb..(row_idx + 1) * pb];
                let (ow_lo, ow_hi) = valid_range(g.ow, g.w, kj, g.pw, s);
                if ow_lo >= ow_hi {
                    continue;
                }
                for oh in oh_lo..oh_hi {
                    let ih = oh * s + ki - g.ph;
                    let dst = &mut plane[ih * g.w..(ih + 1) * g.w];
                    let src = &row[(oh - r0) * g.ow + ow_lo..(oh - r0) * g.ow + ow_hi];
                    let iw0 = ow_lo * s + kj - g.pw;
                    if s == 1 {
                        for (d, v) in dst[iw0..iw0 + src.len()].iter_mut().zip(src) {
                            *d += *v;
                        }
                    } else {
                        for (d, v) in dst[iw0..].iter_mut().step_by(s).zip(src) {
                            *d += *v;
                        }
                    }
                }
            }
        }
    }
}

/// The columns from `r0·ow` on of a row-major `[rows, p]` matrix (the band's width is the
/// product's `n`).
fn column_band<T>(m: &[T], p: usize, ow: usize, (r0, _): (usize, usize)) -> View<'_, T> {
    View {
        data: &m[r0 * ow..],
        row_stride: p,
        col_stride: 1,
    }
}

/// `y_b [cout, p] = W [cout, k] · cols(x_b) + bias`, `col` being the item's scratch buffer.
pub(crate) fn forward_item<T: WithDType>(
    g: &ConvGeom,
    x_b: &[T],
    w: &[T],
    bias: &[T],
    col: &mut Vec<T>,
    y_b: &mut [T],
) -> Result<()> {
    let (k, p) = (g.k(), g.p());
    // [cout, p] starts as the bias, the product is added onto it.
    for (row, &bv) in y_b.chunks_mut(p).zip(bias) {
        row.fill(bv);
    }
    if g.pointwise() {
        return matmul(
            g.cout,
            p,
            k,
            y_b,
            p,
            true,
            View::rows(w, k),
            View::rows(x_b, p),
        );
    }
    for band in row_blocks(g) {
        let pb = (band.1 - band.0) * g.ow;
        col.resize(k * pb, T::from_f64(0.0));
        im2col(g, x_b, band, col);
        matmul(
            g.cout,
            pb,
            k,
            &mut y_b[band.0 * g.ow..],
            p,
            true,
            View::rows(w, k),
            View::rows(col, pb),
        )?;
    }
    Ok(())
}

/// `dx_b [cin, h, w]` from `dy_b [cout, p]`: `dcol [k, p] = Wᵀ · dY_b`, then col2im.
pub(crate) fn input_grad_item<T: WithDType>(
    g: &ConvGeom,
    dy_b: &[T],
    w: &[T],
    col: &mut Vec<T>,
    dx_b: &mut [T],
) -> Result<()> {
    let (k, p) = (g.k(), g.p());
    if g.pointwise() {
        return matmul(
            k,
            p,
            g.cout,
            dx_b,
            p,
            false,
            View::transposed(w, k),
            View::rows(dy_b, p),
        );
    }
    dx_b.fill(T::from_f64(0.0));
    for band in row_blocks(g) {
        let pb = (band.1 - band.0) * g.ow;
        col.resize(k * pb, T::from_f64(0.0));
        matmul(
            k,
            pb,
            g.cout,
            col,
            pb,
            false,
            View::transposed(w, k),
            column_band(dy_b, p, g.ow, band),
        )?;
        col2im(g, col, band, dx_b);
    }
    Ok(())
}

/// `dw [cout, k] += dY_b · cols(x_b)ᵀ` and `db [cout] += Σ_p dY_b` for one batch item.
pub(crate) fn param_grad_item<T: WithDType>(
    g: &ConvGeom,
    x_b: &[T],
    dy_b: &[T],
    col: &mut Vec<T>,
    dw: &mut [T],
    db: &mut [f64],
) -> Result<()> {
    let (k, p) = (g.k(), g.p());
    if g.pointwise() {
        matmul(
            g.cout,
            k,
            p,
            dw,
            k,
            true,
            View::rows(dy_b, p),
            View::transposed(x_b, p),
        )?;
    } else {
        for band in row_blocks(g) {
            let pb = (band.1 - band.0) * g.ow;
            col.resize(k * pb, T::from_f64(0.0));
            im2col(g, x_b, band, col);
            matmul(
                g.cout,
                k,
                pb,
                dw,
                k,
                true,
                column_band(dy_b, p, g.ow, band),
                View::transposed(col, pb),
            )?;
        }
    }
    for (acc, row) in db.iter_mut().zip(dy_b.chunks(p)) {
        *acc += row.iter().map(|v| v.to_f64()).sum::<f64>();
    }
    Ok(())
}

/// Per-task `(dw, db)` partial sums reduced to `[cout·k + cout]` (weight, then bias), summed
/// in f64 so the result does not depend on how rayon split the batch.
pub(crate) fn reduce_param_partials<T: WithDType>(
    g: &ConvGeom,
    partials: impl IntoIterator<Item = (Vec<T>, Vec<f64>)>,
) -> Vec<T> {
    let mut dw = vec![0.0f64; g.cout * g.k()];
    let mut db = vec![0.0f64; g.cout];
    for (pdw, pdb) in partials {
        for (a, v) in dw.iter_mut().zip(pdw) {
            *a += v.to_f64();
        }
        for (a, v) in db.iter_mut().zip(pdb) {
            *a += v;
        }
    }
    dw.into_iter().chain(db).map(T::from_f64).collect()
}

fn forward<T: WithDType>(g: &ConvGeom, x: &[T], w: &[T], bias: &[T]) -> Result<Vec<T>> {
    let mut y = vec![T::from_f64(0.0); g.b * g.cout * g.p()];
    y.par_chunks_mut(g.cout * g.p())
        .zip(x.par_chunks(g.in_plane()))
        .try_for_each_init(Vec::new, |col: &mut Vec<T>, (y_b, x_b)| {
            forward_item(g, x_b, w, bias, col, y_b)
        })?;
    Ok(y)
}

fn input_grad<T: WithDType>(g: &ConvGeom, dy: &[T], w: &[T]) -> Result<Vec<T>> {
    let mut dx = vec![T::from_f64(0.0); g.b * g.in_plane()];
    dx.par_chunks_mut(g.in_plane())
        .zip(dy.par_chunks(g.cout * g.p()))
        .try_for_each_init(Vec::new, |col: &mut Vec<T>, (dx_b, dy_b)| {
            input_grad_item(g, dy_b, w, col, dx_b)
        })?;
    Ok(dx)
}

/// `[cout·k + cout]`: the weight gradient followed by the bias gradient.
fn param_grad<T: WithDType>(g: &ConvGeom, x: &[T], dy: &[T]) -> Result<Vec<T>> {
    let cout = g.cout;
    let partials = x
        .par_chunks(g.in_plane())
        .zip(dy.par_chunks(cout * g.p()))
        .try_fold(
            || {
                (
                    vec![T::from_f64(0.0); cout * g.k()],
                    vec![0.0f64; cout],
                    Vec::new(),
                )
            },
            |(mut dw, mut db, mut col), (x_b, dy_b)| {
                param_grad_item(g, x_b, dy_b, &mut col, &mut dw, &mut db)?;
                Ok::<_, candle_core::Error>((dw, db, col))
            },
        )
        .collect::<Result<Vec<_>>>()?;
    Ok(reduce_param_partials(
        g,
        partials.into_iter().map(|(dw, db, _)| (dw, db)),
    ))
}

/// Forward convolution with the bias fused: `(x [B,Cin,H,W], w [Cout,Cin,kh,kw], bias [Cout])`.
pub(crate) struct Conv2dOp {
    pub padding: (usize, usize),
    pub stride: usize,
}

impl CustomOp3 for Conv2dOp {
    fn name(&self) -> &'static str {
        "dpda-conv2d"
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
        let g = ConvGeom::new(l1.dims(), l2.dims(), self.padding, self.stride)?;
        if l3.dims() != [g.cout] {
            candle_core::bail!(
                "conv2d bias has shape {:?}, expected [{}]",
                l3.dims(),
                g.cout
            );
        }
        let shape = Shape::from_dims(&[g.b, g.cout, g.oh, g.ow]);
        dispatch_float!(s1, "conv2d", T => {
            let x = contiguous_slice::<T>(s1, l1)?;
            let w = contiguous_slice::<T>(s2, l2)?;
            let b = contiguous_slice::<T>(s3, l3)?;
            Ok((T::to_cpu_storage_owned(forward(&g, x, w, b)?), shape))
        })
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let g = ConvGeom::new(x.dims(), w.dims(), self.padding, self.stride)?;
        let dy = grad_res.contiguous()?;
        // Input data (features, waveforms) is not a variable: its gradient is never computed.
        let dx = if x.track_op() {
            Some(dy.apply_op2_no_bwd(w, &Conv2dInputGradOp { geom: g })?)
        } else {
            None
        };
        let (dw, db) = if w.track_op() || bias.track_op() {
            let flat = x.apply_op2_no_bwd(&dy, &Conv2dParamGradOp { geom: g })?;
            param_grads(&flat, 0, w, bias)?
        } else {
            (None, None)
        };
        Ok((dx, dw, db))
    }
}

/// The weight and bias gradients stored from `offset` on in a flat gradient buffer (weight
/// first), each only where that parameter takes part in the graph.
pub(crate) fn param_grads(
    flat: &Tensor,
    offset: usize,
    w: &Tensor,
    bias: &Tensor,
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    let nw = w.elem_count();
    let dw = flat.narrow(0, offset, nw)?.reshape(w.dims())?;
    let db = flat.narrow(0, offset + nw, bias.elem_count())?;
    Ok((w.track_op().then_some(dw), bias.track_op().then_some(db)))
}

/// The input gradient `(dy [B,Cout,oh,ow], w) → dx [B,Cin,H,W]`.
pub(crate) struct Conv2dInputGradOp {
    pub geom: ConvGeom,
}

impl CustomOp2 for Conv2dInputGradOp {
    fn name(&self) -> &'static str {
        "dpda-conv2d-input-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = &self.geom;
        if l1.dims() != [g.b, g.cout, g.oh, g.ow] {
            candle_core::bail!(
                "conv2d output gradient has shape {:?}, expected {:?}",
                l1.dims(),
                [g.b, g.cout, g.oh, g.ow]
            );
        }
        let shape = Shape::from_dims(&[g.b, g.cin, g.h, g.w]);
        dispatch_float!(s1, "conv2d input gradient", T => {
            let dy = contiguous_slice::<T>(s1, l1)?;
            let w = contiguous_slice::<T>(s2, l2)?;
            Ok((T::to_cpu_storage_owned(input_grad(g, dy, w)?), shape))
        })
    }
}

/// The parameter gradients `(x, dy) → [Cout·Cin·kh·kw + Cout]` (weight, then bias).
pub(crate) struct Conv2dParamGradOp {
    pub geom: ConvGeom,
}

impl CustomOp2 for Conv2dParamGradOp {
    fn name(&self) -> &'static str {
        "dpda-conv2d-param-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = &self.geom;
        if l2.dims() != [g.b, g.cout, g.oh, g.ow] || l1.dims() != [g.b, g.cin, g.h, g.w] {
            candle_core::bail!(
                "conv2d parameter gradient: unexpected shapes {:?} and {:?}",
                l1.dims(),
                l2.dims()
            );
        }
        let shape = Shape::from_dims(&[g.cout * g.k() + g.cout]);
        dispatch_float!(s1, "conv2d parameter gradient", T => {
            let x = contiguous_slice::<T>(s1, l1)?;
            let dy = contiguous_slice::<T>(s2, l2)?;
            Ok((T::to_cpu_storage_owned(param_grad(g, x, dy)?), shape))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_range_matches_brute_force() {
        for out_len in 1..6 {
            for in_len in 1..7 {
                for offset in 0..4 {
                    for pad in 0..3 {
                        for stride in 1..4 {
                            let ok: Vec<usize> = (0..out_len)
                                .filter(|&o| {
                                    let i = (o * stride + offset) as isize - pad as isize;
                                    i >= 0 && i < in_len as isize
                                })
                                .collect();
                            let (lo, hi) = valid_range(out_len, in_len, offset, pad, stride);
                            let got: Vec<usize> = (lo..hi).collect();
                            assert_eq!(got, ok, "{out_len} {in_len} {offset} {pad} {stride}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩ for every geometry: the input gradient relies on it.
        for (pad, stride, k) in [
            ((1, 2), 1, (3, 5)),
            ((0, 0), 2, (2, 3)),
            ((2, 1), 3, (3, 3)),
        ] {
            let g = ConvGeom::new(&[1, 2, 7, 9], &[1, 2, k.0, k.1], pad, stride).unwrap();
            let x: Vec<f64> = (0..g.in_plane()).map(|i| (i as f64 * 0.7).sin()).collect();
            let c: Vec<f64> = (0..g.k() * g.p()).map(|i| (i as f64 * 1.3).cos()).collect();
            let mut col = vec![0.0; g.k() * g.p()];
            im2col(&g, &x, (0, g.oh), &mut col);
            let mut back = vec![0.0; g.in_plane()];
            col2im(&g, &c, (0, g.oh), &mut back);
            let lhs: f64 = col.iter().zip(&c).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-10, "{lhs} vs {rhs}");
            // Bands of rows give the same columns and the same scatter as the whole map.
            let mut banded = vec![0.0; g.in_plane()];
            for band in [(0, 2), (2, 3), (3, g.oh)] {
                let pb = (band.1 - band.0) * g.ow;
                let mut part = vec![f64::NAN; g.k() * pb];
                im2col(&g, &x, band, &mut part);
                for r in 0..g.k() {
                    let whole = &col[r * g.p() + band.0 * g.ow..r * g.p() + band.1 * g.ow];
                    assert_eq!(&part[r * pb..(r + 1) * pb], whole);
                }
                let c_band: Vec<f64> = (0..g.k())
                    .flat_map(|r| c[r * g.p() + band.0 * g.ow..r * g.p() + band.1 * g.ow].to_vec())
                    .collect();
                col2im(&g, &c_band, band, &mut banded);
            }
            for (a, b) in banded.iter().zip(&back) {
                assert!((a - b).abs() < 1e-12);
            }
        }
    }
}

//! Convolution → Max-Feature-Map → optional max-pool as one custom op: the block every LCNN
//! layer is built from.
//!
//! Run as three ops, the block puts the 2C-channel convolution output (the largest tensor of
//! the model) and the MFM output into the graph, and in backward candle zero-fills and adds a
//! gradient for each of them on top of the ones MFM and pooling allocate. Fused, the
//! convolution output only ever lives in one batch item's scratch buffer: the op keeps one byte
//! per output element naming which of the `2·kh·kw` candidates won, and the backward rebuilds
//! the item's 2C-channel output gradient from it right before the convolution's own products.
//! Ties resolve as in the composition: the first half for MFM, then the first element of the
//! window in row-major order.

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, WithDType};
use rayon::prelude::*;

use super::conv::{
    forward_item, input_grad_item, param_grad_item, param_grads, reduce_param_partials, ConvGeom,
};
use super::{contiguous_slice, dispatch_float};

/// The block's shapes: the convolution's geometry (`cout` = 2C) and the pooling window
/// (`(1, 1)` without pooling) over the MFM output `[C, oh, ow]`, giving `[C, ph, pw]`.
#[derive(Clone, Copy, Debug)]
struct BlockGeom {
    conv: ConvGeom,
    kh: usize,
    kw: usize,
    ph: usize,
    pw: usize,
}

impl BlockGeom {
    fn new(
        x_dims: &[usize],
        w_dims: &[usize],
        padding: (usize, usize),
        stride: usize,
        pool: (usize, usize),
    ) -> Result<Self> {
        let conv = ConvGeom::new(x_dims, w_dims, padding, stride)?;
        if conv.cout % 2 != 0 {
            candle_core::bail!(
                "max-feature-map needs an even number of convolution outputs, got {}",
                conv.cout
            );
        }
        let (kh, kw) = pool;
        // Winner codes are one byte: window position · 2 + half.
        if kh == 0 || kw == 0 || kh * kw > 128 || conv.oh < kh || conv.ow < kw {
            candle_core::bail!(
                "max-pool window {kh}×{kw} does not fit the {}×{} feature map",
                conv.oh,
                conv.ow
            );
        }
        Ok(Self {
            conv,
            kh,
            kw,
            ph: conv.oh / kh,
            pw: conv.ow / kw,
        })
    }

    /// Output channels `C` (half the convolution's).
    fn channels(&self) -> usize {
        self.conv.cout / 2
    }

    /// Output elements of one batch item, `C·ph·pw`.
    fn out_len(&self) -> usize {
        self.channels() * self.ph * self.pw
    }

    /// Offset of each window position `dy·kw + dx` from the window's corner in an `[oh, ow]`
    /// plane, row-major (the tie-breaking order).
    fn window_offsets(&self) -> Vec<usize> {
        (0..self.kh)
            .flat_map(|dy| (0..self.kw).map(move |dx| dy * self.conv.ow + dx))
            .collect()
    }

    /// Offset of output `(py, px)`'s window corner in an `[oh, ow]` plane.
    #[inline]
    fn corner(&self, py: usize, px: usize) -> usize {
        py * self.kh * self.conv.ow + px * self.kw
    }
}

/// MFM and pooling of one item's convolution output `y2 [2C, oh, ow]` into `out [C, ph, pw]`,
/// recording each output's winner as `window position · 2 + half`.
fn select<T: WithDType>(g: &BlockGeom, y2: &[T], out: &mut [T], winners: &mut [u8]) {
    let plane = g.conv.oh * g.conv.ow;
    let (lo, hi) = y2.split_at(g.channels() * plane);
    if (g.kh, g.kw) == (1, 1) {
        for (((o, w), &a), &b) in out.iter_mut().zip(winners.iter_mut()).zip(lo).zip(hi) {
            let upper = b > a;
            *o = if upper { b } else { a };
            *w = u8::from(upper);
        }
        return;
    }
    let per_channel = g.ph * g.pw;
    if (g.kh, g.kw) == (2, 2) {
        // LCNN's window, in row pairs: candidates in order (0,0) (0,1) (1,0) (1,1).
        let ow = g.conv.ow;
        let mfm = |a: T, b: T, pos: u8| {
            if b > a {
                (b, pos << 1 | 1)
            } else {
                (a, pos << 1)
            }
        };
        for c in 0..g.channels() {
            for py in 0..g.ph {
                let r0 = c * plane + 2 * py * ow;
                let (lo0, lo1) = (&lo[r0..r0 + 2 * g.pw], &lo[r0 + ow..r0 + ow + 2 * g.pw]);
                let (hi0, hi1) = (&hi[r0..r0 + 2 * g.pw], &hi[r0 + ow..r0 + ow + 2 * g.pw]);
                let o = c * per_channel + py * g.pw;
                let rows = lo0
                    .chunks_exact(2)
                    .zip(lo1.chunks_exact(2))
                    .zip(hi0.chunks_exact(2).zip(hi1.chunks_exact(2)));
                for ((out_v, win), ((l0, l1), (h0, h1))) in out[o..o + g.pw]
                    .iter_mut()
                    .zip(&mut winners[o..o + g.pw])
                    .zip(rows)
                {
                    let mut best = mfm(l0[0], h0[0], 0);
                    for cand in [
                        mfm(l0[1], h0[1], 1),
                        mfm(l1[0], h1[0], 2),
                        mfm(l1[1], h1[1], 3),
                    ] {
                        if cand.0 > best.0 {
                            best = cand;
                        }
                    }
                    *out_v = best.0;
                    *win = best.1;
                }
            }
        }
        return;
    }
    let offsets = g.window_offsets();
    for c in 0..g.channels() {
        let lo_c = &lo[c * plane..(c + 1) * plane];
        let hi_c = &hi[c * plane..(c + 1) * plane];
        let out_c = &mut out[c * per_channel..(c + 1) * per_channel];
        let win_c = &mut winners[c * per_channel..(c + 1) * per_channel];
        for py in 0..g.ph {
            for px in 0..g.pw {
                let corner = g.corner(py, px);
                let mfm = |pos: usize| {
                    let (a, b) = (lo_c[corner + offsets[pos]], hi_c[corner + offsets[pos]]);
                    if b > a {
                        (b, (pos as u8) << 1 | 1)
                    } else {
                        (a, (pos as u8) << 1)
                    }
                };
                let mut best = mfm(0);
                for pos in 1..offsets.len() {
                    let cand = mfm(pos);
                    if cand.0 > best.0 {
                        best = cand;
                    }
                }
                out_c[py * g.pw + px] = best.0;
                win_c[py * g.pw + px] = best.1;
            }
        }
    }
}

/// The item's convolution-output gradient `dy2 [2C, oh, ow]`: each output gradient at its
/// winner, zero elsewhere. Every element is written once (no clearing pass).
fn expand_grad<T: WithDType>(g: &BlockGeom, dy: &[T], winners: &[u8], dy2: &mut [T]) {
    let zero = T::from_f64(0.0);
    let plane = g.conv.oh * g.conv.ow;
    let (lo, hi) = dy2.split_at_mut(g.channels() * plane);
    if (g.kh, g.kw) == (1, 1) {
        for (((l, h), &d), &w) in lo.iter_mut().zip(hi.iter_mut()).zip(dy).zip(winners) {
            let upper = w == 1;
            *l = if upper { zero } else { d };
            *h = if upper { d } else { zero };
        }
        return;
    }
    let offsets = g.window_offsets();
    let per_channel = g.ph * g.pw;
    let (used_rows, used_cols) = (g.ph * g.kh, g.pw * g.kw);
    for c in 0..g.channels() {
        let lo_c = &mut lo[c * plane..(c + 1) * plane];
        let hi_c = &mut hi[c * plane..(c + 1) * plane];
        // Rows and columns that no window covers (floor pooling) get no gradient.
        for half in [&mut *lo_c, &mut *hi_c] {
            half[used_rows * g.conv.ow..].fill(zero);
            if used_cols < g.conv.ow {
                for row in half[..used_rows * g.conv.ow].chunks_mut(g.conv.ow) {
                    row[used_cols..].fill(zero);
                }
            }
        }
        let dy_c = &dy[c * per_channel..(c + 1) * per_channel];
        let win_c = &winners[c * per_channel..(c + 1) * per_channel];
        if (g.kh, g.kw) == (2, 2) {
            let ow = g.conv.ow;
            for py in 0..g.ph {
                let r0 = 2 * py * ow;
                let (lo0, lo1) = lo_c[r0..r0 + 2 * ow].split_at_mut(ow);
                let (hi0, hi1) = hi_c[r0..r0 + 2 * ow].split_at_mut(ow);
                let src = dy_c[py * g.pw..(py + 1) * g.pw]
                    .iter()
                    .zip(&win_c[py * g.pw..(py + 1) * g.pw]);
                let dst = lo0
                    .chunks_exact_mut(2)
                    .zip(lo1.chunks_exact_mut(2))
                    .zip(hi0.chunks_exact_mut(2).zip(hi1.chunks_exact_mut(2)));
                for ((&d, &code), ((l0, l1), (h0, h1))) in src.zip(dst) {
                    let pick = |want: u8| if code == want { d } else { zero };
                    l0[0] = pick(0);
                    h0[0] = pick(1);
                    l0[1] = pick(2);
                    h0[1] = pick(3);
                    l1[0] = pick(4);
                    h1[0] = pick(5);
                    l1[1] = pick(6);
                    h1[1] = pick(7);
                }
            }
            continue;
        }
        for py in 0..g.ph {
            for px in 0..g.pw {
                let (d, code) = (dy_c[py * g.pw + px], win_c[py * g.pw + px]);
                let corner = g.corner(py, px);
                for (pos, &off) in offsets.iter().enumerate() {
                    let here = (pos as u8) << 1;
                    lo_c[corner + off] = if code == here { d } else { zero };
                    hi_c[corner + off] = if code == here | 1 { d } else { zero };
                }
            }
        }
    }
}

/// `(x [B,Cin,H,W], w [2C,Cin,kh,kw], bias [2C]) → [B, C, ph, pw]`.
pub(crate) struct ConvMfmOp {
    padding: (usize, usize),
    stride: usize,
    pool: (usize, usize),
    /// `[B, C, ph, pw]` winner codes of the last forward, for the backward.
    winners: Mutex<Option<Arc<Vec<u8>>>>,
}

impl ConvMfmOp {
    pub fn new(padding: (usize, usize), stride: usize, pool: (usize, usize)) -> Self {
        Self {
            padding,
            stride,
            pool,
            winners: Mutex::new(None),
        }
    }
}

fn forward<T: WithDType>(g: &BlockGeom, x: &[T], w: &[T], bias: &[T]) -> Result<(Vec<T>, Vec<u8>)> {
    let n = g.out_len();
    let mut out = vec![T::from_f64(0.0); g.conv.b * n];
    let mut winners = vec![0u8; g.conv.b * n];
    out.par_chunks_mut(n)
        .zip(winners.par_chunks_mut(n))
        .zip(x.par_chunks(g.conv.in_plane()))
        .try_for_each_init(
            || (Vec::new(), Vec::new()),
            |(col, y2): &mut (Vec<T>, Vec<T>), ((out_b, win_b), x_b)| {
                y2.resize(g.conv.cout * g.conv.p(), T::from_f64(0.0));
                forward_item(&g.conv, x_b, w, bias, col, y2)?;
                select(g, y2, out_b, win_b);
                Ok::<_, candle_core::Error>(())
            },
        )?;
    Ok((out, winners))
}

impl CustomOp3 for ConvMfmOp {
    fn name(&self) -> &'static str {
        "dpda-conv2d-mfm"
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
        let g = BlockGeom::new(l1.dims(), l2.dims(), self.padding, self.stride, self.pool)?;
        if l3.dims() != [g.conv.cout] {
            candle_core::bail!(
                "conv2d bias has shape {:?}, expected [{}]",
                l3.dims(),
                g.conv.cout
            );
        }
        let shape = Shape::from_dims(&[g.conv.b, g.channels(), g.ph, g.pw]);
        dispatch_float!(s1, "conv2d + max-feature-map", T => {
            let x = contiguous_slice::<T>(s1, l1)?;
            let w = contiguous_slice::<T>(s2, l2)?;
            let b = contiguous_slice::<T>(s3, l3)?;
            let (out, winners) = forward(&g, x, w, b)?;
            match self.winners.lock() {
                Ok(mut slot) => *slot = Some(Arc::new(winners)),
                Err(_) => candle_core::bail!("conv2d + max-feature-map state is poisoned"),
            }
            Ok((T::to_cpu_storage_owned(out), shape))
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
        // Input data (features) is not a variable: its gradient is never computed.
        let need_dx = x.track_op();
        let need_params = w.track_op() || bias.track_op();
        if !need_dx && !need_params {
            return Ok((None, None, None));
        }
        let winners = match self.winners.lock() {
            Ok(slot) => slot.clone(),
            Err(_) => None,
        };
        let Some(winners) = winners else {
            candle_core::bail!("conv2d + max-feature-map backward without a forward on the CPU");
        };
        let geom = BlockGeom::new(x.dims(), w.dims(), self.padding, self.stride, self.pool)?;
        let flat = x.apply_op3_no_bwd(
            &grad_res.contiguous()?,
            w,
            &ConvMfmGradOp {
                geom,
                winners,
                need_dx,
                need_params,
            },
        )?;
        let nx = if need_dx { x.elem_count() } else { 0 };
        let dx = if need_dx {
            Some(flat.narrow(0, 0, nx)?.reshape(x.dims())?)
        } else {
            None
        };
        let (dw, db) = if need_params {
            param_grads(&flat, nx, w, bias)?
        } else {
            (None, None)
        };
        Ok((dx, dw, db))
    }
}

/// `(x, dy [B, C, ph, pw], w) → [dx (B·Cin·H·W, when needed); dw; db (when needed)]`.
struct ConvMfmGradOp {
    geom: BlockGeom,
    winners: Arc<Vec<u8>>,
    need_dx: bool,
    need_params: bool,
}

/// One rayon task's scratch: weight and bias gradient partial sums, the column buffer and the
/// rebuilt convolution-output gradient.
struct Scratch<T> {
    dw: Vec<T>,
    db: Vec<f64>,
    col: Vec<T>,
    dy2: Vec<T>,
}

fn backward<T: WithDType>(op: &ConvMfmGradOp, x: &[T], dy: &[T], w: &[T]) -> Result<Vec<T>> {
    let g = &op.geom;
    let c = &g.conv;
    let zero = T::from_f64(0.0);
    let nx = if op.need_dx { c.b * c.in_plane() } else { 0 };
    let np = if op.need_params {
        c.cout * c.k() + c.cout
    } else {
        0
    };
    let mut out = vec![zero; nx + np];
    let (dx_all, params) = out.split_at_mut(nx);
    let dx_items: Vec<Option<&mut [T]>> = if op.need_dx {
        dx_all.chunks_mut(c.in_plane()).map(Some).collect()
    } else {
        (0..c.b).map(|_| None).collect()
    };
    let n = g.out_len();
    let partials = dx_items
        .into_par_iter()
        .zip(x.par_chunks(c.in_plane()))
        .zip(dy.par_chunks(n))
        .zip(op.winners.par_chunks(n))
        .try_fold(
            || Scratch {
                dw: if op.need_params {
                    vec![zero; c.cout * c.k()]
                } else {
                    Vec::new()
                },
                db: vec![0.0; c.cout],
                col: Vec::new(),
                dy2: vec![zero; c.cout * c.p()],
            },
            |mut s, (((dx_b, x_b), dy_b), win_b)| {
                expand_grad(g, dy_b, win_b, &mut s.dy2);
                if op.need_params {
                    param_grad_item(c, x_b, &s.dy2, &mut s.col, &mut s.dw, &mut s.db)?;
                }
                if let Some(dx_b) = dx_b {
                    input_grad_item(c, &s.dy2, w, &mut s.col, dx_b)?;
                }
                Ok::<_, candle_core::Error>(s)
            },
        )
        .collect::<Result<Vec<_>>>()?;
    if op.need_params {
        let reduced = reduce_param_partials(c, partials.into_iter().map(|s| (s.dw, s.db)));
        params.copy_from_slice(&reduced);
    }
    Ok(out)
}

impl CustomOp3 for ConvMfmGradOp {
    fn name(&self) -> &'static str {
        "dpda-conv2d-mfm-grad"
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
        let g = &self.geom;
        let c = &g.conv;
        if l1.dims() != [c.b, c.cin, c.h, c.w]
            || l2.dims() != [c.b, g.channels(), g.ph, g.pw]
            || self.winners.len() != c.b * g.out_len()
        {
            candle_core::bail!(
                "conv2d + max-feature-map gradient: unexpected shapes {:?} and {:?}",
                l1.dims(),
                l2.dims()
            );
        }
        dispatch_float!(s1, "conv2d + max-feature-map gradient", T => {
            let x = contiguous_slice::<T>(s1, l1)?;
            let dy = contiguous_slice::<T>(s2, l2)?;
            let w = contiguous_slice::<T>(s3, l3)?;
            let out = backward(self, x, dy, w)?;
            let len = out.len();
            Ok((T::to_cpu_storage_owned(out), Shape::from_dims(&[len])))
        })
    }
}

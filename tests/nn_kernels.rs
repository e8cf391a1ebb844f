//! The fast CPU kernels against the plain candle compositions (f32 forward and gradients to
//! 1e-5 relative) and against central finite differences in f64, for every geometry the models
//! use plus the awkward ones (strides with uneven remainders, asymmetric padding, floor pooling).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use candle_core::{DType, Result, Tensor, Var};
use dpda::nn::gradcheck::{gradcheck, projection_loss, random_var, GradcheckOptions};
use dpda::nn::kernels::{self, plain};
use dpda::nn::NamedVar;

/// f32 agreement between custom op and plain composition, relative to the largest magnitude.
const REL_TOL_F32: f64 = 1e-5;
/// Worst finite-difference error accepted in f64.
const GRADCHECK_TOL: f64 = 1e-5;

fn named(vars: &[&Var]) -> Vec<NamedVar> {
    vars.iter()
        .enumerate()
        .map(|(i, v)| NamedVar {
            name: format!("p{i}"),
            var: (*v).clone(),
        })
        .collect()
}

fn values(t: &Tensor) -> Vec<f64> {
    t.flatten_all()
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
        .to_vec1()
        .unwrap()
}

fn assert_close(what: &str, ours: &[f64], reference: &[f64]) {
    assert_eq!(ours.len(), reference.len(), "{what}: lengths differ");
    let scale = reference.iter().fold(1e-12f64, |m, v| m.max(v.abs()));
    let worst = ours
        .iter()
        .zip(reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f64, f64::max);
    assert!(
        worst / scale <= REL_TOL_F32,
        "{what}: max |diff| {worst} against scale {scale}"
    );
}

/// Output and gradients (input first, then `params`) of `projection_loss(f(x))`.
fn run<F>(f: F, x: &Var, params: &[&Var]) -> (Vec<f64>, Vec<Vec<f64>>)
where
    F: Fn(&Tensor) -> Result<Tensor>,
{
    let y = f(x.as_tensor()).unwrap();
    let grads = projection_loss(&y, 99).unwrap().backward().unwrap();
    let mut out = vec![values(grads.get(x.as_tensor()).expect("input gradient"))];
    for p in params {
        out.push(values(
            grads.get(p.as_tensor()).expect("parameter gradient"),
        ));
    }
    (values(&y), out)
}

/// Custom op and plain composition agree in f32; the custom op passes gradcheck in f64.
fn compare_and_check<F, G>(
    what: &str,
    fast: F,
    reference: G,
    x_shape: &[usize],
    p_shapes: &[&[usize]],
) where
    F: Fn(&Tensor, &[Tensor]) -> Result<Tensor>,
    G: Fn(&Tensor, &[Tensor]) -> Result<Tensor>,
{
    for (dtype, seed) in [(DType::F32, 1u64), (DType::F64, 2)] {
        let x = random_var(x_shape, dtype, seed).unwrap();
        let params: Vec<Var> = p_shapes
            .iter()
            .enumerate()
            .map(|(i, s)| random_var(s, dtype, seed * 10 + i as u64).unwrap())
            .collect();
        let refs: Vec<&Var> = params.iter().collect();
        let tensors = || {
            params
                .iter()
                .map(|p| p.as_tensor().clone())
                .collect::<Vec<_>>()
        };
        if dtype == DType::F32 {
            let (y_fast, g_fast) = run(|x| fast(x, &tensors()), &x, &refs);
            let (y_ref, g_ref) = run(|x| reference(x, &tensors()), &x, &refs);
            assert_close(&format!("{what} forward"), &y_fast, &y_ref);
            for (i, (a, b)) in g_fast.iter().zip(&g_ref).enumerate() {
                assert_close(&format!("{what} gradient {i}"), a, b);
            }
        } else {
            let vars = named(&refs);
            let report = gradcheck(
                || projection_loss(&fast(x.as_tensor(), &tensors())?, 7),
                &vars,
                Some(&x),
                &GradcheckOptions {
                    samples_per_tensor: 16,
                    ..GradcheckOptions::default()
                },
            )
            .unwrap();
            assert!(
                report.failures(GRADCHECK_TOL).is_empty(),
                "{what}: {report:?}"
            );
            assert_eq!(report.per_tensor.len(), params.len() + 1);
        }
    }
}

#[test]
fn conv2d_matches_plain_and_gradchecks() {
    // (input [B, C, H, W], kernel (O, kh, kw), padding, stride)
    type Case<'a> = (&'a [usize], (usize, usize, usize), (usize, usize), usize);
    let cases: [Case; 7] = [
        (&[2, 3, 9, 11], (4, 3, 3), (1, 1), 1),
        // Wide enough that the column matrix is built in bands of rows.
        (&[1, 2, 5, 2100], (3, 3, 3), (1, 1), 1),
        (&[3, 4, 6, 5], (6, 1, 1), (0, 0), 1),
        (&[2, 1, 12, 10], (5, 5, 5), (2, 2), 1),
        (&[2, 3, 9, 8], (2, 3, 2), (1, 0), 2),
        (&[1, 2, 10, 13], (3, 4, 3), (2, 1), 3),
        (&[2, 2, 5, 7], (3, 2, 3), (0, 2), 1),
    ];
    for (x_shape, (cout, kh, kw), padding, stride) in cases {
        let cin = x_shape[1];
        let w_shape = [cout, cin, kh, kw];
        compare_and_check(
            &format!("conv2d {x_shape:?} k{kh}×{kw} p{padding:?} s{stride}"),
            |x, p| kernels::conv2d(x, &p[0], Some(&p[1]), padding, stride),
            |x, p| plain::conv2d(x, &p[0], Some(&p[1]), padding, stride),
            x_shape,
            &[&w_shape, &[cout]],
        );
    }
}

#[test]
fn conv1d_matches_plain_and_gradchecks() {
    for (len, k, padding, stride) in [(17, 3, 1, 1), (23, 5, 0, 2), (19, 4, 2, 3)] {
        compare_and_check(
            &format!("conv1d L{len} k{k} p{padding} s{stride}"),
            |x, p| kernels::conv1d(x, &p[0], Some(&p[1]), padding, stride),
            |x, p| plain::conv1d(x, &p[0], Some(&p[1]), padding, stride),
            &[2, 3, len],
            &[&[4, 3, k], &[4]],
        );
    }
}

#[test]
fn conv_without_bias_matches_plain() {
    compare_and_check(
        "conv2d without bias",
        |x, p| kernels::conv2d(x, &p[0], None, (1, 1), 1),
        |x, p| plain::conv2d(x, &p[0], None, (1, 1), 1),
        &[2, 2, 6, 7],
        &[&[3, 2, 3, 3]],
    );
}

#[test]
fn max_pool_matches_plain_and_gradchecks() {
    for (shape, kernel) in [
        (&[2usize, 3, 8, 10][..], (2usize, 2usize)),
        (&[2, 2, 7, 9][..], (2, 2)),
        (&[1, 3, 5, 7][..], (1, 3)),
        (&[2, 1, 9, 8][..], (3, 2)),
    ] {
        compare_and_check(
            &format!("max-pool {shape:?} {kernel:?}"),
            |x, _| kernels::max_pool2d(x, kernel),
            |x, _| plain::max_pool2d(x, kernel),
            shape,
            &[],
        );
    }
}

#[test]
fn mfm_matches_plain_and_gradchecks() {
    for shape in [&[2usize, 4, 3, 5][..], &[3, 6, 7][..], &[4, 2][..]] {
        compare_and_check(
            &format!("mfm {shape:?}"),
            |x, _| kernels::mfm(x),
            |x, _| plain::mfm(x),
            shape,
            &[],
        );
    }
    let odd = Tensor::zeros((2, 3, 4), DType::F32, &candle_core::Device::Cpu).unwrap();
    assert!(kernels::mfm(&odd).is_err());
}

#[test]
fn batch_norm_matches_plain_and_gradchecks() {
    for shape in [&[3usize, 4, 5, 6][..], &[4, 3, 7][..], &[6, 5][..]] {
        let c = shape[1];
        compare_and_check(
            &format!("batch norm {shape:?} affine"),
            |x, p| Ok(kernels::batch_norm_train(x, Some(&p[0]), Some(&p[1]), 1e-5)?.y),
            |x, p| Ok(plain::batch_norm_train(x, Some(&p[0]), Some(&p[1]), 1e-5)?.y),
            shape,
            &[&[c], &[c]],
        );
        compare_and_check(
            &format!("batch norm + selu {shape:?} affine"),
            |x, p| Ok(kernels::batch_norm_selu_train(x, Some(&p[0]), Some(&p[1]), 1e-5)?.y),
            |x, p| plain::selu(&plain::batch_norm_train(x, Some(&p[0]), Some(&p[1]), 1e-5)?.y),
            shape,
            &[&[c], &[c]],
        );
        compare_and_check(
            &format!("batch norm {shape:?} plain"),
            |x, _| Ok(kernels::batch_norm_train(x, None, None, 1e-5)?.y),
            |x, _| Ok(plain::batch_norm_train(x, None, None, 1e-5)?.y),
            shape,
            &[],
        );
    }
}

#[test]
fn batch_norm_statistics_match_plain() {
    let x = random_var(&[4, 3, 5, 2], DType::F32, 3).unwrap();
    // Offset channels so a one-pass variance would lose precision.
    let x = (x.as_tensor() + 100.0).unwrap();
    let fast = kernels::batch_norm_train(&x, None, None, 1e-5).unwrap();
    let reference = plain::batch_norm_train(&x, None, None, 1e-5).unwrap();
    assert_eq!(fast.mean.dims(), &[3]);
    assert_close("batch mean", &values(&fast.mean), &values(&reference.mean));
    let (vf, vr) = (values(&fast.var), values(&reference.var));
    for (a, b) in vf.iter().zip(&vr) {
        // The plain f32 variance itself carries ~1e-4 relative rounding at this offset.
        assert!((a - b).abs() <= 1e-3 * b.abs(), "{a} vs {b}");
    }
}

#[test]
fn no_gradient_is_computed_for_input_data() {
    // Features are plain tensors: the conv's input gradient must not appear in the store.
    let x = random_var(&[2, 2, 6, 6], DType::F32, 4)
        .unwrap()
        .as_tensor()
        .detach();
    let w = random_var(&[3, 2, 3, 3], DType::F32, 5).unwrap();
    let y = kernels::conv2d(&x, w.as_tensor(), None, (1, 1), 1).unwrap();
    let grads = projection_loss(&y, 1).unwrap().backward().unwrap();
    assert!(grads.get(&x).is_none());
    assert!(grads.get(w.as_tensor()).is_some());
}

/// The gradients the kernels hand to candle's backward record no graph of their own. A gradient
/// that did would keep the forward tensors and the incoming gradient it was computed from alive
/// for as long as it lives, and parameter gradients live until the step ends: that held every
/// large output gradient of AASIST's encoder to the end of the backward pass (11 GB peak for a
/// batch of 8 instead of 6.6 GB).
#[test]
fn kernel_gradients_keep_no_graph_alive() {
    let x = random_var(&[2, 2, 6, 9], DType::F32, 4).unwrap();
    let w = random_var(&[4, 2, 2, 3], DType::F32, 5).unwrap();
    let b = random_var(&[4], DType::F32, 6).unwrap();
    let gamma = random_var(&[4], DType::F32, 7).unwrap();
    let beta = random_var(&[4], DType::F32, 8).unwrap();
    let y = kernels::conv2d(x.as_tensor(), w.as_tensor(), Some(b.as_tensor()), (1, 1), 1).unwrap();
    let y =
        kernels::batch_norm_selu_train(&y, Some(gamma.as_tensor()), Some(beta.as_tensor()), 1e-5)
            .unwrap()
            .y;
    let y = kernels::max_pool2d(&y, (1, 3)).unwrap();
    let y = kernels::mfm(&y).unwrap();
    let w2 = random_var(&[4, 2, 3, 3], DType::F32, 9).unwrap();
    let y = kernels::conv2d_mfm(&y, w2.as_tensor(), None, (1, 1), 1, Some((2, 1))).unwrap();
    let grads = projection_loss(&y, 2).unwrap().backward().unwrap();
    for (name, v) in [
        ("input", &x),
        ("conv weight", &w),
        ("conv bias", &b),
        ("bn weight", &gamma),
        ("bn bias", &beta),
        ("conv+mfm weight", &w2),
    ] {
        let g = grads
            .get(v.as_tensor())
            .unwrap_or_else(|| panic!("no {name} gradient"));
        assert!(!g.track_op(), "the {name} gradient records a graph");
    }
}

#[test]
fn fused_conv_mfm_pool_matches_plain_and_gradchecks() {
    // (input [B, C, H, W], kernel (2C, kh, kw), padding, stride, pool)
    type Case<'a> = (
        &'a [usize],
        (usize, usize, usize),
        (usize, usize),
        usize,
        Option<(usize, usize)>,
    );
    let cases: [Case; 7] = [
        (&[2, 1, 12, 10], (4, 5, 5), (2, 2), 1, Some((2, 2))),
        (&[1, 2, 6, 2100], (4, 3, 3), (1, 1), 1, Some((2, 2))),
        (&[2, 3, 9, 11], (6, 3, 3), (1, 1), 1, None),
        (&[3, 4, 6, 5], (4, 1, 1), (0, 0), 1, None),
        (&[2, 2, 9, 7], (4, 3, 3), (1, 1), 1, Some((2, 2))),
        (&[2, 3, 10, 9], (2, 3, 2), (1, 0), 2, Some((3, 1))),
        (&[1, 2, 8, 8], (6, 1, 1), (0, 0), 1, Some((2, 3))),
    ];
    for (x_shape, (cout, kh, kw), padding, stride, pool) in cases {
        let w_shape = [cout, x_shape[1], kh, kw];
        compare_and_check(
            &format!("conv2d+mfm {x_shape:?} k{kh}×{kw} p{padding:?} s{stride} pool {pool:?}"),
            |x, p| kernels::conv2d_mfm(x, &p[0], Some(&p[1]), padding, stride, pool),
            |x, p| plain::conv2d_mfm(x, &p[0], Some(&p[1]), padding, stride, pool),
            x_shape,
            &[&w_shape, &[cout]],
        );
    }
}

#[test]
fn fused_conv_mfm_without_input_gradient_and_bad_shapes() {
    // The first layer's input is data: only the parameters get gradients.
    let x = Tensor::randn(0f32, 1.0, (2, 1, 8, 6), &candle_core::Device::Cpu).unwrap();
    let w = random_var(&[4, 1, 3, 3], DType::F32, 3).unwrap();
    let y = kernels::conv2d_mfm(&x, w.as_tensor(), None, (1, 1), 1, Some((2, 2))).unwrap();
    assert_eq!(y.dims(), &[2, 2, 4, 3]);
    let grads = projection_loss(&y, 5).unwrap().backward().unwrap();
    let reference = plain::conv2d_mfm(&x, w.as_tensor(), None, (1, 1), 1, Some((2, 2))).unwrap();
    let ref_grads = projection_loss(&reference, 5).unwrap().backward().unwrap();
    assert_close(
        "weight gradient",
        &values(grads.get(w.as_tensor()).unwrap()),
        &values(ref_grads.get(w.as_tensor()).unwrap()),
    );
    assert!(grads.get(&x).is_none());
    // An odd channel count has no halves; a window larger than the map does not fit.
    let odd = random_var(&[3, 1, 3, 3], DType::F32, 4).unwrap();
    assert!(kernels::conv2d_mfm(&x, odd.as_tensor(), None, (1, 1), 1, None).is_err());
    assert!(kernels::conv2d_mfm(&x, w.as_tensor(), None, (0, 0), 1, Some((7, 2))).is_err());
}

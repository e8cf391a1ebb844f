//! Bounds-checked matrix products through the `gemm` crate, the only `unsafe` of the kernels.
//!
//! The convolution kernels call [`matmul`] on row-major buffers, with transposes expressed as
//! swapped strides. Each call checks that every index the product touches lies inside its slice,
//! which is what makes the raw-pointer call sound; the kernels run one product per rayon task,
//! so the product itself is single-threaded.

use candle_core::{Result, WithDType};

/// A strided read-only view of an `rows × cols` matrix inside a slice.
#[derive(Clone, Copy)]
pub(crate) struct View<'a, T> {
    /// The backing elements.
    pub data: &'a [T],
    /// Distance between consecutive rows, in elements.
    pub row_stride: usize,
    /// Distance between consecutive columns, in elements.
    pub col_stride: usize,
}

impl<'a, T> View<'a, T> {
    /// A row-major matrix with `cols` columns.
    pub fn rows(data: &'a [T], cols: usize) -> Self {
        Self {
            data,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose of a row-major matrix with `cols` columns.
    pub fn transposed(data: &'a [T], cols: usize) -> Self {
        Self {
            data,
            row_stride: 1,
            col_stride: cols,
        }
    }

    fn covers(&self, rows: usize, cols: usize) -> bool {
        rows == 0
            || cols == 0
            || (rows - 1) * self.row_stride + (cols - 1) * self.col_stride < self.data.len()
    }
}

/// `dst[m×n] (+)= a[m×k] · b[k×n]`, `dst` row-major with rows `dst_row_stride ≥ n` apart (a
/// band of columns of a wider matrix); adds to `dst` when `accumulate`, overwrites it otherwise.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul<T: WithDType>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [T],
    dst_row_stride: usize,
    accumulate: bool,
    a: View<'_, T>,
    b: View<'_, T>,
) -> Result<()> {
    if m == 0 || n == 0 {
        return Ok(());
    }
    let dst_len = (m - 1) * dst_row_stride + n;
    if dst_row_stride < n || dst.len() < dst_len || !a.covers(m, k) || !b.covers(k, n) {
        candle_core::bail!(
            "matmul {m}×{k} · {k}×{n}: operand buffers too small (dst {}, a {}, b {})",
            dst.len(),
            a.data.len(),
            b.data.len()
        );
    }
    if k == 0 {
        if !accumulate {
            for row in dst.chunks_mut(dst_row_stride).take(m) {
                row[..n].fill(T::from_f64(0.0));
            }
        }
        return Ok(());
    }
    // SAFETY: the checks above prove that every element the product reads (rows < m or k,
    // columns < k or n, at the given strides) lies inside `a.data` / `b.data`, and every element
    // it writes lies inside `dst[..dst_len]`; `dst` is borrowed mutably, so it cannot alias `a` or
    // `b`. gemm reads `dst` only when `read_dst` is true, and then it is initialised.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_row_stride as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            T::from_f64(1.0),
            T::from_f64(1.0),
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: &[f64], b: &[f64], at: bool, bt: bool) -> Vec<f64> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for l in 0..k {
                    let av = if at { a[l * m + i] } else { a[i * k + l] };
                    let bv = if bt { b[j * k + l] } else { b[l * n + j] };
                    out[i * n + j] += av * bv;
                }
            }
        }
        out
    }

    #[test]
    fn matches_a_naive_product_with_transposes_and_accumulation() {
        let (m, n, k) = (5, 7, 3);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.91).cos()).collect();
        for (at, bt) in [(false, false), (true, false), (false, true), (true, true)] {
            let av = if at {
                View::transposed(&a, m)
            } else {
                View::rows(&a, k)
            };
            let bv = if bt {
                View::transposed(&b, k)
            } else {
                View::rows(&b, n)
            };
            let expect = naive(m, n, k, &a, &b, at, bt);
            let mut dst = vec![1.0; m * n];
            matmul(m, n, k, &mut dst, n, false, av, bv).unwrap();
            for (d, e) in dst.iter().zip(&expect) {
                assert!((d - e).abs() < 1e-12);
            }
            matmul(m, n, k, &mut dst, n, true, av, bv).unwrap();
            for (d, e) in dst.iter().zip(&expect) {
                assert!((d - 2.0 * e).abs() < 1e-12);
            }
        }
        // A band of columns inside a wider destination leaves the other columns alone.
        let wide = n + 4;
        let mut dst = vec![7.0; m * wide];
        matmul(
            m,
            n,
            k,
            &mut dst[2..],
            wide,
            false,
            View::rows(&a, k),
            View::rows(&b, n),
        )
        .unwrap();
        let expect = naive(m, n, k, &a, &b, false, false);
        for i in 0..m {
            for j in 0..wide {
                let got = dst[i * wide + j];
                if (2..2 + n).contains(&j) {
                    assert!((got - expect[i * n + j - 2]).abs() < 1e-12);
                } else {
                    assert_eq!(got, 7.0);
                }
            }
        }
        let mut small = vec![0.0; 3];
        assert!(matmul(
            m,
            n,
            k,
            &mut small,
            n,
            false,
            View::rows(&a, k),
            View::rows(&b, n)
        )
        .is_err());
    }
}

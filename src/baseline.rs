//! A linear detector on LFCC statistics (a regularised Fisher discriminant).
//!
//! It needs no neural network and trains in milliseconds, so `dpda demo` uses it to run the whole
//! pipeline (corpus → RawBoost → LFCC → scores → EER) on the built-in corpus and to show, before any
//! deep model is involved, how augmenting the training data moves EER on attacks never seen in
//! training. Each clip becomes one embedding: the per-dimension mean and standard deviation of its
//! LFCC frames. Scores are `w·x + b`, higher = more bona fide, like every score in the workbench.

use crate::features::FrameMatrix;

/// Errors of fitting the baseline.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot fit the baseline: no {0} training clips")]
    EmptyClass(&'static str),
    #[error("embedding {index} has {found} dimensions, expected {expected}")]
    DimensionMismatch {
        index: usize,
        found: usize,
        expected: usize,
    },
    #[error("embedding {index} has a non-finite value")]
    NonFinite { index: usize },
    #[error("shrinkage must lie in (0, 1], got {0}")]
    Shrinkage(f64),
}

/// One clip's embedding: mean then standard deviation of each LFCC dimension over its frames
/// (`2 × num_dims` values). A clip with no frames gives zeros.
pub fn clip_embedding(frames: &FrameMatrix) -> Vec<f64> {
    let (num_frames, num_dims) = frames.shape();
    let mut sum = vec![0.0f64; num_dims];
    let mut sum_sq = vec![0.0f64; num_dims];
    for t in 0..num_frames {
        for (d, &v) in frames.row(t).iter().enumerate() {
            sum[d] += v as f64;
            sum_sq[d] += (v as f64) * (v as f64);
        }
    }
    let n = num_frames.max(1) as f64;
    let mut out = Vec::with_capacity(2 * num_dims);
    out.extend(sum.iter().map(|s| s / n));
    out.extend(
        sum.iter()
            .zip(&sum_sq)
            .map(|(s, q)| (q / n - (s / n) * (s / n)).max(0.0).sqrt()),
    );
    out
}

/// A fitted linear detector.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearDetector {
    /// Standardisation applied before the projection: `(x − centre) / scale`.
    centre: Vec<f64>,
    scale: Vec<f64>,
    weights: Vec<f64>,
    bias: f64,
}

impl LinearDetector {
    /// Fit on bona fide and spoof embeddings. Classes are weighted equally whatever their counts
    /// (spoofs outnumber bona fide in every SDD corpus), and the within-class covariance of the
    /// standardised features is shrunk towards the identity by `shrinkage` ∈ (0, 1] so that the
    /// solve stays well conditioned with few clips.
    pub fn fit(
        bonafide: &[Vec<f64>],
        spoof: &[Vec<f64>],
        shrinkage: f64,
    ) -> Result<Self, BaselineError> {
        if !(shrinkage > 0.0 && shrinkage <= 1.0) {
            return Err(BaselineError::Shrinkage(shrinkage));
        }
        let first = bonafide
            .first()
            .ok_or(BaselineError::EmptyClass("bona fide"))?;
        if spoof.is_empty() {
            return Err(BaselineError::EmptyClass("spoof"));
        }
        let dim = first.len();
        for (index, x) in bonafide.iter().chain(spoof).enumerate() {
            if x.len() != dim {
                return Err(BaselineError::DimensionMismatch {
                    index,
                    found: x.len(),
                    expected: dim,
                });
            }
            if x.iter().any(|v| !v.is_finite()) {
                return Err(BaselineError::NonFinite { index });
            }
        }
        let mean_b = mean(bonafide, dim);
        let mean_s = mean(spoof, dim);
        // Standardise with the class-balanced centre and the pooled within-class spread.
        let centre: Vec<f64> = mean_b
            .iter()
            .zip(&mean_s)
            .map(|(a, b)| 0.5 * (a + b))
            .collect();
        let var_b = variance(bonafide, &mean_b);
        let var_s = variance(spoof, &mean_s);
        let scale: Vec<f64> = var_b
            .iter()
            .zip(&var_s)
            .map(|(a, b)| (0.5 * (a + b)).sqrt().max(1e-9))
            .collect();
        let z = |x: &[f64]| -> Vec<f64> {
            x.iter()
                .zip(&centre)
                .zip(&scale)
                .map(|((v, c), s)| (v - c) / s)
                .collect()
        };
        let zb: Vec<Vec<f64>> = bonafide.iter().map(|x| z(x)).collect();
        let zs: Vec<Vec<f64>> = spoof.iter().map(|x| z(x)).collect();
        let mzb = mean(&zb, dim);
        let mzs = mean(&zs, dim);
        // Σ_w = ½(Σ_b + Σ_s), then (1 − λ)Σ_w + λI.
        let mut sw = vec![0.0f64; dim * dim];
        for (set, m) in [(&zb, &mzb), (&zs, &mzs)] {
            let w = 0.5 / set.len() as f64;
            for x in set.iter() {
                for i in 0..dim {
                    let di = x[i] - m[i];
                    for j in 0..=i {
                        sw[i * dim + j] += w * di * (x[j] - m[j]);
                    }
                }
            }
        }
        for i in 0..dim {
            for j in 0..=i {
                let v = (1.0 - shrinkage) * sw[i * dim + j] + if i == j { shrinkage } else { 0.0 };
                sw[i * dim + j] = v;
                sw[j * dim + i] = v;
            }
        }
        let delta: Vec<f64> = mzb.iter().zip(&mzs).map(|(a, b)| a - b).collect();
        let weights = cholesky_solve(&mut sw, dim, &delta);
        // Threshold half-way between the projected class means.
        let bias = -0.5
            * weights
                .iter()
                .zip(mzb.iter().zip(&mzs))
                .map(|(w, (a, b))| w * (a + b))
                .sum::<f64>();
        Ok(Self {
            centre,
            scale,
            weights,
            bias,
        })
    }

    /// Score of one embedding (higher = more bona fide).
    pub fn score(&self, x: &[f64]) -> f64 {
        x.iter()
            .zip(&self.centre)
            .zip(&self.scale)
            .zip(&self.weights)
            .map(|(((v, c), s), w)| w * (v - c) / s)
            .sum::<f64>()
            + self.bias
    }

    /// The discriminant direction in standardised feature space.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
}

fn mean(set: &[Vec<f64>], dim: usize) -> Vec<f64> {
    let mut m = vec![0.0; dim];
    for x in set {
        for (a, b) in m.iter_mut().zip(x) {
            *a += b;
        }
    }
    m.iter_mut().for_each(|a| *a /= set.len() as f64);
    m
}

fn variance(set: &[Vec<f64>], m: &[f64]) -> Vec<f64> {
    let mut v = vec![0.0; m.len()];
    for x in set {
        for ((a, b), c) in v.iter_mut().zip(x).zip(m) {
            *a += (b - c) * (b - c);
        }
    }
    v.iter_mut().for_each(|a| *a /= set.len() as f64);
    v
}

/// Solve `A x = b` for a symmetric positive definite `A` (row-major, overwritten by its Cholesky
/// factor). The shrinkage in [`LinearDetector::fit`] guarantees positive definiteness.
fn cholesky_solve(a: &mut [f64], n: usize, b: &[f64]) -> Vec<f64> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        let d = d.max(1e-300).sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    let mut y = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            y[i] -= a[i * n + k] * y[k];
        }
        y[i] /= a[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            y[i] -= a[k * n + i] * y[k];
        }
        y[i] /= a[i * n + i];
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Two Gaussian classes sharing the covariance diag(1, 4, 0.25) with means 0 and (1, 1, 1):
    /// the Bayes-optimal direction is Σ⁻¹Δμ = (1, 0.25, 4) in raw coordinates.
    fn gaussian_classes(n: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let mut rng = Rng::new(seed);
        let sd = [1.0, 2.0, 0.5];
        let mut draw =
            |shift: f64| -> Vec<f64> { (0..3).map(|d| shift + sd[d] * rng.normal()).collect() };
        let bona = (0..n).map(|_| draw(1.0)).collect();
        let spoof = (0..n).map(|_| draw(0.0)).collect();
        (bona, spoof)
    }

    #[test]
    fn finds_the_bayes_direction() {
        let (bona, spoof) = gaussian_classes(20_000, 5);
        let det = LinearDetector::fit(&bona, &spoof, 1e-6).unwrap();
        // Back to raw coordinates: w_raw = w / scale.
        let raw: Vec<f64> = det
            .weights
            .iter()
            .zip(&det.scale)
            .map(|(w, s)| w / s)
            .collect();
        let truth = [1.0, 0.25, 4.0];
        let dot: f64 = raw.iter().zip(&truth).map(|(a, b)| a * b).sum();
        let na = raw.iter().map(|a| a * a).sum::<f64>().sqrt();
        let nb = truth.iter().map(|a| a * a).sum::<f64>().sqrt();
        assert!(dot / (na * nb) > 0.999, "cosine {}", dot / (na * nb));
        // Scores are oriented: bona fide above spoof on average, threshold between the means.
        let mb: f64 = bona.iter().map(|x| det.score(x)).sum::<f64>() / bona.len() as f64;
        let ms: f64 = spoof.iter().map(|x| det.score(x)).sum::<f64>() / spoof.len() as f64;
        assert!(mb > 0.0 && ms < 0.0, "{mb} {ms}");
        assert!((mb + ms).abs() < 0.05 * (mb - ms), "{mb} {ms}");
    }

    #[test]
    fn full_shrinkage_gives_the_standardised_mean_difference() {
        let (bona, spoof) = gaussian_classes(2_000, 6);
        let det = LinearDetector::fit(&bona, &spoof, 1.0).unwrap();
        let mb = mean(&bona, 3);
        let ms = mean(&spoof, 3);
        for d in 0..3 {
            let expected = (mb[d] - ms[d]) / det.scale[d];
            assert!((det.weights[d] - expected).abs() < 1e-12);
        }
    }

    #[test]
    fn bad_inputs_are_refused() {
        let ok = vec![vec![0.0, 1.0]];
        assert!(matches!(
            LinearDetector::fit(&[], &ok, 0.1),
            Err(BaselineError::EmptyClass(_))
        ));
        assert!(matches!(
            LinearDetector::fit(&ok, &[vec![1.0]], 0.1),
            Err(BaselineError::DimensionMismatch { index: 1, .. })
        ));
        assert!(matches!(
            LinearDetector::fit(&ok, &[vec![f64::NAN, 0.0]], 0.1),
            Err(BaselineError::NonFinite { index: 1 })
        ));
        assert!(LinearDetector::fit(&ok, &ok, 0.0).is_err());
    }

    #[test]
    fn embedding_is_frame_mean_and_std() {
        let mut m = FrameMatrix::zeros(4, 2);
        // Column 0: 1, 2, 3, 4 (mean 2.5, population sd √1.25); column 1 constant 7.
        for t in 0..4 {
            m.values[t * 2] = (t + 1) as f32;
            m.values[t * 2 + 1] = 7.0;
        }
        let e = clip_embedding(&m);
        assert_eq!(e.len(), 4);
        assert!((e[0] - 2.5).abs() < 1e-12 && (e[1] - 7.0).abs() < 1e-12);
        assert!((e[2] - 1.25f64.sqrt()).abs() < 1e-12 && e[3].abs() < 1e-12);
    }
}

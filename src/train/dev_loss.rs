//! The dev-set loss rules: per-clip losses ([`ClipLoss`]) and how they become the one number that
//! picks the best epoch ([`DevLoss`], config key `train.dev_loss`). The step computes the clip
//! losses ([`super::step::evaluate`]); the config names the rule.

/// One clip's cross-entropy (negative log-likelihood of its label) and its class weight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClipLoss {
    pub nll: f64,
    pub weight: f64,
}

/// Which dev loss decides the best epoch, early stopping and the averaged checkpoints (config
/// key `train.dev_loss`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DevLoss {
    /// One class-weighted mean over the whole dev set, `Σ w·nll / Σ w` (the default): it does not
    /// depend on how the dev set is cut into batches.
    #[default]
    Weighted,
    /// dpda_ga's `evaluate_accuracy`: the dev set in protocol order cut into batches of
    /// [`DevLoss::REFERENCE_BATCH_SIZE`] (the last one shorter), each batch's class-weighted
    /// mean (torch's `CrossEntropyLoss(weight=…)`, `Σ w·nll / Σ w` within the batch), averaged
    /// over batches weighted by batch size. A batch of mostly spoof clips then counts as much as
    /// one holding bona fide clips with 9× their weight, so the two losses differ.
    Reference,
}

impl DevLoss {
    /// The names accepted in configs.
    pub const NAMES: [&'static str; 2] = ["weighted", "reference"];

    /// The reference's dev batch size: dpda_ga's `main.py` builds its dev `DataLoader` with a
    /// fixed `batch_size=8` (`shuffle=False`), whatever the training batch size. The batches
    /// only group the losses: eval-mode logits do not depend on the forward batch.
    pub const REFERENCE_BATCH_SIZE: usize = 8;

    /// The dev loss of per-clip losses in set order (NaN for no clips or no weight).
    pub fn of(self, clips: &[ClipLoss]) -> f64 {
        let mean = |clips: &[ClipLoss]| {
            let num: f64 = clips.iter().map(|c| c.weight * c.nll).sum();
            let den: f64 = clips.iter().map(|c| c.weight).sum();
            if den > 0.0 {
                num / den
            } else {
                f64::NAN
            }
        };
        match self {
            DevLoss::Weighted => mean(clips),
            DevLoss::Reference => {
                if clips.is_empty() {
                    return f64::NAN;
                }
                let total: f64 = clips
                    .chunks(Self::REFERENCE_BATCH_SIZE)
                    .map(|batch| mean(batch) * batch.len() as f64)
                    .sum();
                total / clips.len() as f64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(nll: f64, weight: f64) -> ClipLoss {
        ClipLoss { nll, weight }
    }

    #[test]
    fn the_weighted_dev_loss_is_one_mean_over_the_set() {
        let clips = [clip(1.0, 0.1), clip(2.0, 0.9), clip(3.0, 0.1)];
        let expected = (0.1 * 1.0 + 0.9 * 2.0 + 0.1 * 3.0) / 1.1;
        assert!((DevLoss::Weighted.of(&clips) - expected).abs() < 1e-15);
        assert!(DevLoss::Weighted.of(&[]).is_nan());
    }

    #[test]
    fn the_reference_dev_loss_averages_batches_of_eight_by_size() {
        assert_eq!(DevLoss::REFERENCE_BATCH_SIZE, 8);
        // 10 clips in set order: a batch of 8 (one bona fide clip, weight 0.9, loss 2; seven
        // spoof clips, weight 0.1, loss 1) and a batch of 2 (spoof, loss 4 and 6).
        let mut clips = vec![clip(2.0, 0.9)];
        clips.extend(std::iter::repeat_n(clip(1.0, 0.1), 7));
        clips.extend([clip(4.0, 0.1), clip(6.0, 0.1)]);
        // By hand: batch 1 = (0.9·2 + 0.7·1)/1.6 = 2.5/1.6 = 1.5625; batch 2 = 5;
        // (8·1.5625 + 2·5)/10 = 22.5/10 = 2.25.
        let reference = DevLoss::Reference.of(&clips);
        assert!((reference - 2.25).abs() < 1e-12, "{reference}");
        // One global mean instead: (1.8 + 0.7 + 1.0)/1.8 = 1.9444….
        let weighted = DevLoss::Weighted.of(&clips);
        assert!((weighted - 3.5 / 1.8).abs() < 1e-12, "{weighted}");
        // Batches are cut in set order: the same clips in another order give another loss.
        let mut reordered = clips.clone();
        reordered.swap(0, 9);
        assert!((DevLoss::Reference.of(&reordered) - reference).abs() > 0.1);
        assert!((DevLoss::Weighted.of(&reordered) - weighted).abs() < 1e-15);
        // One batch: both agree.
        assert!(
            (DevLoss::Reference.of(&clips[..8]) - DevLoss::Weighted.of(&clips[..8])).abs() < 1e-15
        );
    }
}

//! Learning-rate schedules: constant or cosine annealing, each with an optional linear warmup.
//!
//! The trainer builds an [`LrSchedule`] once from the run config (base rate and total number of
//! optimizer steps) and asks it for the rate before every step. The rates are the closed forms of
//! PyTorch's schedulers: warmup is `LinearLR(start_factor, 1.0, total_iters = warmup_steps)` and
//! the cosine part is `CosineAnnealingLR(T_max = total_steps − warmup_steps, eta_min)`, chained as
//! `SequentialLR` does at the warmup milestone. Unlike PyTorch's periodic cosine, the rate stays at
//! `eta_min` after `total_steps` (a resumed or extended run should not see the rate climb again).

use serde::{Deserialize, Serialize};

/// Why a schedule cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScheduleError {
    #[error("invalid schedule setting '{field}': {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

fn invalid(field: &'static str, message: impl Into<String>) -> ScheduleError {
    ScheduleError::Invalid {
        field,
        message: message.into(),
    }
}

/// Schedule settings as written in a run config.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ScheduleConfig {
    /// The base rate throughout (after the warmup, if any).
    Constant {
        /// Steps of linear warmup from `warmup_start_factor`·base to base.
        #[serde(default)]
        warmup_steps: u64,
        /// Fraction of the base rate at step 0 of the warmup (PyTorch's default 1/3).
        #[serde(default = "default_start_factor")]
        warmup_start_factor: f64,
    },
    /// Cosine annealing from the base rate to `eta_min` over the steps after the warmup.
    Cosine {
        /// The final rate.
        #[serde(default)]
        eta_min: f64,
        /// Steps of linear warmup from `warmup_start_factor`·base to base.
        #[serde(default)]
        warmup_steps: u64,
        /// Fraction of the base rate at step 0 of the warmup (PyTorch's default 1/3).
        #[serde(default = "default_start_factor")]
        warmup_start_factor: f64,
    },
}

fn default_start_factor() -> f64 {
    1.0 / 3.0
}

impl Default for ScheduleConfig {
    /// A constant rate without warmup (the paper's setting).
    fn default() -> Self {
        ScheduleConfig::Constant {
            warmup_steps: 0,
            warmup_start_factor: default_start_factor(),
        }
    }
}

/// A validated schedule: the learning rate for every optimizer step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    /// Rate after warmup (and at the start of the cosine).
    pub base_lr: f64,
    /// Optimizer steps the run is planned for.
    pub total_steps: u64,
    /// The shape of the schedule.
    pub config: ScheduleConfig,
}

impl ScheduleConfig {
    /// Checks the settings against the run's base rate and length.
    pub fn build(self, base_lr: f64, total_steps: u64) -> Result<LrSchedule, ScheduleError> {
        if !(base_lr.is_finite() && base_lr > 0.0) {
            return Err(invalid("lr", format!("{base_lr} must be positive")));
        }
        let (warmup_steps, start_factor) = match self {
            ScheduleConfig::Constant {
                warmup_steps,
                warmup_start_factor,
            } => (warmup_steps, warmup_start_factor),
            ScheduleConfig::Cosine {
                eta_min,
                warmup_steps,
                warmup_start_factor,
            } => {
                if !(eta_min.is_finite() && eta_min >= 0.0) {
                    return Err(invalid("eta_min", format!("{eta_min} must be >= 0")));
                }
                if warmup_steps >= total_steps {
                    return Err(invalid(
                        "warmup_steps",
                        format!(
                            "{warmup_steps} leaves no steps for the cosine (total {total_steps})"
                        ),
                    ));
                }
                (warmup_steps, warmup_start_factor)
            }
        };
        // LinearLR rejects the same range.
        if warmup_steps > 0 && !(start_factor > 0.0 && start_factor <= 1.0) {
            return Err(invalid(
                "warmup_start_factor",
                format!("{start_factor} is outside (0, 1]"),
            ));
        }
        Ok(LrSchedule {
            base_lr,
            total_steps,
            config: self,
        })
    }
}

impl LrSchedule {
    /// The learning rate for optimizer step `step` (0-based).
    pub fn lr_at(&self, step: u64) -> f64 {
        let (warmup_steps, start_factor) = match self.config {
            ScheduleConfig::Constant {
                warmup_steps,
                warmup_start_factor,
            }
            | ScheduleConfig::Cosine {
                warmup_steps,
                warmup_start_factor,
                ..
            } => (warmup_steps, warmup_start_factor),
        };
        if step < warmup_steps {
            let progress = step as f64 / warmup_steps as f64;
            return self.base_lr * (start_factor + (1.0 - start_factor) * progress);
        }
        match self.config {
            ScheduleConfig::Constant { .. } => self.base_lr,
            ScheduleConfig::Cosine { eta_min, .. } => {
                let period = (self.total_steps - warmup_steps) as f64;
                let t = ((step - warmup_steps) as f64).min(period);
                eta_min
                    + (self.base_lr - eta_min) * (1.0 + (std::f64::consts::PI * t / period).cos())
                        / 2.0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_is_constant_after_its_warmup() {
        let schedule = ScheduleConfig::Constant {
            warmup_steps: 4,
            warmup_start_factor: 0.2,
        }
        .build(1e-3, 100)
        .unwrap_or_else(|e| panic!("{e}"));
        assert!((schedule.lr_at(0) - 2e-4).abs() < 1e-15);
        assert!((schedule.lr_at(2) - 6e-4).abs() < 1e-15);
        assert_eq!(schedule.lr_at(4), 1e-3);
        assert_eq!(schedule.lr_at(1_000_000), 1e-3);
        let plain = ScheduleConfig::default().build(1e-6, 10);
        assert!(matches!(plain, Ok(s) if s.lr_at(0) == 1e-6));
    }

    #[test]
    fn cosine_ends_at_eta_min_and_stays_there() {
        let schedule = ScheduleConfig::Cosine {
            eta_min: 1e-5,
            warmup_steps: 0,
            warmup_start_factor: 1.0,
        }
        .build(1e-3, 10)
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(schedule.lr_at(0), 1e-3);
        assert!((schedule.lr_at(5) - (1e-5 + 0.5 * (1e-3 - 1e-5))).abs() < 1e-15);
        assert!((schedule.lr_at(10) - 1e-5).abs() < 1e-18);
        assert!((schedule.lr_at(25) - 1e-5).abs() < 1e-18);
    }

    #[test]
    fn invalid_settings_name_their_field() {
        let field_of = |result: Result<LrSchedule, ScheduleError>| match result {
            Err(ScheduleError::Invalid { field, .. }) => field,
            Ok(_) => "ok",
        };
        let cosine = |warmup_steps, warmup_start_factor, eta_min| ScheduleConfig::Cosine {
            eta_min,
            warmup_steps,
            warmup_start_factor,
        };
        assert_eq!(
            field_of(cosine(10, 0.5, 0.0).build(0.1, 10)),
            "warmup_steps"
        );
        assert_eq!(
            field_of(cosine(2, 0.0, 0.0).build(0.1, 10)),
            "warmup_start_factor"
        );
        assert_eq!(field_of(cosine(2, 0.5, -1.0).build(0.1, 10)), "eta_min");
        assert_eq!(field_of(cosine(2, 0.5, 0.0).build(0.0, 10)), "lr");
        assert_eq!(field_of(cosine(2, 0.5, 0.0).build(0.1, 10)), "ok");
        assert!(toml::from_str::<ScheduleConfig>("kind = \"constant\"\neta_min = 0.1").is_err());
        let parsed: Result<ScheduleConfig, _> =
            toml::from_str("kind = \"cosine\"\nwarmup_steps = 3");
        assert!(matches!(
            parsed,
            Ok(ScheduleConfig::Cosine { warmup_steps: 3, eta_min, .. }) if eta_min == 0.0
        ));
    }

    /// Rates of `torch.optim.lr_scheduler` recorded by `scripts/optim_reference.py`.
    #[derive(serde::Deserialize)]
    struct ScheduleFixture {
        cases: Vec<TorchSchedule>,
    }

    #[derive(serde::Deserialize)]
    struct TorchSchedule {
        base_lr: f64,
        eta_min: f64,
        total_steps: u64,
        warmup_steps: u64,
        warmup_start_factor: f64,
        lrs: Vec<f64>,
    }

    #[test]
    fn rates_match_torch_schedulers() {
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/optim/schedule.json"
        ));
        let fixture: ScheduleFixture =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("schedule.json: {e}"));
        for case in &fixture.cases {
            let schedule = ScheduleConfig::Cosine {
                eta_min: case.eta_min,
                warmup_steps: case.warmup_steps,
                warmup_start_factor: case.warmup_start_factor,
            }
            .build(case.base_lr, case.total_steps)
            .unwrap_or_else(|e| panic!("{e}"));
            for (step, &torch_lr) in case.lrs.iter().enumerate() {
                let lr = schedule.lr_at(step as u64);
                // torch's recursive updates drift from the closed form only in the last digits.
                assert!(
                    (lr - torch_lr).abs() <= 1e-9 * case.base_lr,
                    "step {step}: {lr} vs torch {torch_lr}"
                );
            }
        }
    }
}

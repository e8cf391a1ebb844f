//! TEMPORARY SHIM until the K-path aligners land.
#![allow(missing_docs, dead_code)]
use super::align::GradientAligner;
use crate::nn::flat::FlatLayout;

#[derive(Clone, Debug, Default)]
pub struct PathsStats {
    pub gram: Vec<f64>,
    pub adjusted: bool,
    pub norm_combined: f64,
}

impl GradientAligner {
    pub fn combine_paths(
        &mut self,
        grads: &[&[f32]],
        _losses: &[f64],
        _layout: &FlatLayout,
        out: &mut [f32],
    ) -> PathsStats {
        if grads.len() == 2 {
            self.combine(grads[0], grads[1], out);
        } else {
            let k = grads.len() as f32;
            for (i, o) in out.iter_mut().enumerate() {
                *o = grads.iter().map(|g| g[i]).sum::<f32>() / k;
            }
        }
        PathsStats::default()
    }
    pub fn needs_losses_after_step(&self) -> bool {
        false
    }
    pub fn after_step(&mut self, _losses_after: &[f64]) {}
}

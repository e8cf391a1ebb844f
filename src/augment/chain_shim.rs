//! TEMPORARY SHIM until the chain library lands.
#![allow(missing_docs, dead_code)]
use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::rng::Rng;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSpec {
    pub stages: Vec<StageSpec>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum StageSpec {
    Gain { gain_db: [f64; 2] },
}

#[derive(Debug, thiserror::Error)]
#[error("shim")]
pub struct ChainError;

#[derive(Clone, Debug, Default, Serialize)]
pub struct ChainReport;

#[derive(Clone, Debug)]
pub struct Chain;

impl ChainSpec {
    pub fn validate(&self) -> Result<(), ChainError> {
        Ok(())
    }
    pub fn prepare(&self, _base_dir: &Path) -> Result<Chain, ChainError> {
        Ok(Chain)
    }
}

impl Chain {
    pub fn apply(
        &self,
        x: &[f32],
        _sample_rate_hz: u32,
        _rng: &mut Rng,
    ) -> Result<(Vec<f32>, ChainReport), ChainError> {
        Ok((x.to_vec(), ChainReport))
    }
}

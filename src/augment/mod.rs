//! Augmentations applied to raw waveforms. RawBoost (Tak et al., ICASSP 2022) is reproduced with
//! the reference implementation's exact semantics; every draw comes from a caller-provided seed.

//! Stable Diffusion: noise, samplers (and, on the `diffusion` branch, the pipeline).

pub mod noise;
pub mod scheduler;

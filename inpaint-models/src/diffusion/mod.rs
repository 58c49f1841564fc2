//! Stable Diffusion: noise, samplers, the CLIP tokenizer (and, on the `diffusion` branch, the
//! pipeline).

pub mod noise;
pub mod scheduler;
pub mod tokenizer;

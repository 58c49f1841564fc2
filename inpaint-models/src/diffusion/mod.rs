//! Diffusion inpainting: Stable Diffusion 1.5 and SDXL from an Optimum ONNX folder
//! ([`StableDiffusion`], feature `onnx`), and the pure-Rust pieces it is made of — the CLIP
//! tokenizer, the noise source that reproduces PyTorch's CPU generator, diffusers' 19 samplers,
//! and the check that a model's weights fit in memory.

pub mod memory;
pub mod noise;
pub mod scheduler;
#[cfg(feature = "onnx")]
mod sd;
pub mod tokenizer;

#[cfg(feature = "onnx")]
#[cfg_attr(docsrs, doc(cfg(feature = "onnx")))]
pub use sd::{
    DiffusionFamily, DiffusionOptions, GuidanceBatching, StableDiffusion, UnetKind, unet_kind,
};

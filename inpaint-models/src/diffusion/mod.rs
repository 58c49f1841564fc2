//! Diffusion inpainting: Stable Diffusion 1.5 from an Optimum ONNX folder ([`StableDiffusion`],
//! feature `onnx`), and the pure-Rust pieces it is made of — the CLIP tokenizer, the noise
//! source that reproduces PyTorch's CPU generator, and diffusers' 19 samplers.

pub mod noise;
pub mod scheduler;
#[cfg(feature = "onnx")]
mod sd;
pub mod tokenizer;

#[cfg(feature = "onnx")]
#[cfg_attr(docsrs, doc(cfg(feature = "onnx")))]
pub use sd::{DiffusionOptions, GuidanceBatching, StableDiffusion, unet_channels};

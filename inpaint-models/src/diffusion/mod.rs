//! Stable Diffusion inpainting: the pieces that need no ONNX Runtime.

pub mod tokenizer;

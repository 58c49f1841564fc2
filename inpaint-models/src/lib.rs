//! Inpainting models for [`inpaint_core`]'s pipeline.
//!
//! Every model implements [`InpaintModel`](inpaint_core::InpaintModel) and runs through
//! [`inpaint_core::inpaint`], which pads, applies the HD strategy and pastes the result back
//! only inside the mask.
//!
//! | name | type | what | needs |
//! |---|---|---|---|
//! | `telea` (default) | [`classical::Telea`] | Telea's fast-marching method, as OpenCV's `INPAINT_TELEA` | nothing |
//! | `navier-stokes` | [`classical::NavierStokes`] | as OpenCV's `INPAINT_NS` | nothing |
//!
//! Neural models (LaMa, MI-GAN, MAT, FcF) on ONNX Runtime will come behind cargo features; this
//! release has none, and builds without ONNX Runtime.
#![warn(missing_docs)]

pub mod classical;

//! Integration tests of `inpaint-models`: one binary, one module per topic.
#![allow(
    clippy::unwrap_used,
    reason = "in tests, a panic is the failure report"
)]

mod classical;
mod concurrency;
mod diffusion;
#[cfg(feature = "onnx")]
mod onnx;
mod properties;
mod tokenizer;

//! Integration tests of `inpaint-core`: one binary, one module per topic.
#![allow(
    clippy::unwrap_used,
    reason = "in tests, a panic is the failure report"
)]

mod support;

mod buffer;
mod diffusion_options;
mod errors;
mod hostile;
mod io;
mod outpaint;
mod pipeline;
mod properties;

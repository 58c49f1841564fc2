//! Integration tests of `inpaint-registry`: one binary, one module per topic.
#![allow(
    clippy::unwrap_used,
    reason = "in tests, a panic is the failure report"
)]

mod config;
mod diffusion;
mod discovery;
mod manager;
mod probe;
mod remote;
mod resolution;
mod support;

//! Integration tests of `inpaint-core`: one binary, one module per topic.
#![allow(
    clippy::unwrap_used,
    reason = "in tests, a panic is the failure report"
)]

mod support;

mod errors;
mod io;
mod pipeline;
mod properties;

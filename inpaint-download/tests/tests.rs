//! Integration tests of `inpaint-download`, against a local HTTP server on 127.0.0.1 (no
//! network) and archives built on the fly. One test binary, one module per topic.
#![allow(
    clippy::unwrap_used,
    reason = "in tests, a panic is the failure report"
)]

mod support;

mod backends;
mod fetch;
mod folder;

//! Integration tests of `inpaint-openai`, against a fake `images/edits` server on 127.0.0.1
//! (`fake.rs`); nothing here can reach the internet.
#![allow(
    clippy::unwrap_used,
    reason = "in tests, a panic is the failure report"
)]

mod budget;
mod edits;
mod fake;

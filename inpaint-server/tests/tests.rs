//! Every route and every error of the server, against a real server on 127.0.0.1.
#![allow(
    clippy::unwrap_used,
    reason = "in tests, a panic is the failure report"
)]

mod api;
// The fake images/edits server of inpaint-openai's tests, shared rather than written twice.
#[path = "../../inpaint-openai/tests/fake.rs"]
#[allow(
    dead_code,
    reason = "inpaint-openai's tests use all of it, these only part"
)]
mod fake;
mod openai;
mod serving;
mod socket;
mod support;

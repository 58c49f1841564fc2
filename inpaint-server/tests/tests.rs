//! Every route and every error of the server, against a real server on 127.0.0.1.
#![allow(
    clippy::unwrap_used,
    reason = "in tests, a panic is the failure report"
)]

mod api;
mod serving;
mod socket;
mod support;

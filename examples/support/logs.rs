//! The examples' log output: the libraries' `tracing` spans and events on stderr, filtered by
//! `RUST_LOG` (`warn` when unset), with each span's time when it closes.
//!
//! `RUST_LOG=debug` shows every stage with sizes and timings; `RUST_LOG=inpaint_download=debug`
//! one crate; `RUST_LOG=info,ort=warn` the decisions without ONNX Runtime's own chatter.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Installs the subscriber; a malformed `RUST_LOG` is reported and replaced by `warn`.
pub(crate) fn init() {
    let filter = match std::env::var("RUST_LOG") {
        Err(_) => EnvFilter::new("warn"),
        Ok(text) => EnvFilter::try_new(&text).unwrap_or_else(|err| {
            eprintln!("warning: RUST_LOG={text:?} ignored: {err}");
            EnvFilter::new("warn")
        }),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::CLOSE)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

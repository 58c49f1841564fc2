//! The core of the `inpaint` crates: image and mask types, the [`InpaintModel`] trait, and the
//! one pipeline every model goes through. No ONNX Runtime, no network.
//!
//! # Brief overview
//!
//! * [`Image`] is an 8-bit RGB image; an alpha channel, if the input had one, is carried aside
//!   and restored on output. [`Mask`] is 8-bit, and a value above 127 means "fill", as in
//!   IOPaint. Both are validated once, at construction, against [`Limits`].
//! * An [`InpaintModel`] declares how it wants its input ([`ModelSpec`]: padding multiple,
//!   minimum size, square, fixed size, HD strategy, mask threshold) and implements `forward`
//!   on input already prepared that way.
//! * [`inpaint`] is the pipeline: it binarises the mask, applies the HD strategy
//!   ([`HdStrategy`]), pads, runs the model, and pastes the result back **only inside the
//!   mask**, so every other pixel is byte-identical to the input. It reproduces IOPaint's
//!   `InpaintModel.__call__`, minus its habit of writing into the caller's image.
//! * A [`Request`] carries what a caller asks of one run beyond the image and the mask: the
//!   prompt, sampler, seed, steps and strength of prompt-driven models (IOPaint's
//!   `InpaintRequest` fields and defaults), and a [`Progress`] callback that can cancel. Erase
//!   models ignore it.
//! * [`io`] loads and saves images with the limits checked before decoding.
//!
//! The models themselves (classical and neural) live in `inpaint-models`.
//!
//! # Conventions
//!
//! | what | convention |
//! |---|---|
//! | channel order | RGB, 8 bits per channel, everywhere |
//! | mask polarity | `> 127` = fill (repaint), `≤ 127` = keep |
//! | padding | bottom/right only, mirrored including the edge pixel (`BORDER_REFLECT`) |
//! | resizing | bicubic, OpenCV's `INTER_CUBIC` kernel |
//! | HD defaults | `Crop`, trigger 800, margin 128, resize limit 1280 (IOPaint's) |
//!
//! # Logs
//!
//! Every `inpaint-*` library reports what it does through [`tracing`], and is silent unless
//! the application installs a subscriber (the examples install `tracing-subscriber` with
//! `RUST_LOG`). No library prints to stdout or stderr; an error is returned, never logged as
//! well. The convention, for these crates and any crate added beside them:
//!
//! | level | for | examples |
//! |---|---|---|
//! | `error` | not used by libraries: the caller gets the error | |
//! | `warn` | something asked for did not happen and the run went on without it | an execution provider refused before falling back; a download retried |
//! | `info` | one line per decision a user would want in a log | ONNX Runtime loaded (version, path); the execution provider chosen; a model loaded or made active; a download finished (bytes, attempts, time); a backend installed |
//! | `debug` | stages, with sizes, and spans whose close gives their time | the pipeline (`inpaint`, `forward`), decoding and encoding, discovery (`scan`), each HTTP attempt |
//! | `trace` | per item, in loops | each file probed during discovery |
//!
//! Spans are named by the operation in `snake_case` (`inpaint`, `forward`, `decode`, `encode`,
//! `load`, `runtime`, `scan`, `sha256`, `manager_load`, `fetch`, `backend_install`): `info`
//! spans for what a user starts (a model load, a download), `debug` spans for the stages
//! inside. Fields are plain words (`width`, `height`, `model`, `device`, `path`, `url`,
//! `bytes`, `attempt`), paths and devices as `%` (Display), a duration as `elapsed` (`?`,
//! Debug). A span's own time comes from the subscriber (`FmtSpan::CLOSE`), so libraries do not
//! time stages by hand. Targets are the module paths, so `RUST_LOG=inpaint_download=debug`
//! selects one crate.
#![warn(missing_docs)]
#![warn(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a library speaks through `tracing` (see inpaint-core's Logs section), never on the terminal"
)]

pub mod buffer;
pub mod error;
pub mod io;
mod model;
mod ops;
mod pipeline;
mod request;
mod types;

pub use error::{Error, Result};
pub use image;
pub use model::{InpaintModel, ModelSpec};
pub use pipeline::{
    CropBox, FIXED_SIZE_CROP_MARGIN, HdStrategy, InpaintOptions, inpaint, inpaint_in_place,
};
pub use request::{Progress, ProgressStep, Request, Sampler};
pub use types::{Image, Limits, Mask};

/// The README's examples, compiled and run as doc tests so that they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

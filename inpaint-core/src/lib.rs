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
#![warn(missing_docs)]

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

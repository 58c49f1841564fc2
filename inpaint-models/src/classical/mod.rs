//! Classical inpainting, in pure Rust: no model file, no ONNX Runtime.
//!
//! Two algorithms, ported from OpenCV's `cv::inpaint` (`modules/photo/src/inpaint.cpp`), which
//! is what IOPaint's `cv2` model runs:
//!
//! * [`Telea`] (`INPAINT_TELEA`): A. Telea, "An Image Inpainting Technique Based on the Fast
//!   Marching Method", *Journal of Graphics Tools* 9(1), 2004. The hole is filled from its
//!   boundary inwards, in the order of the fast marching method (FMM); each pixel becomes a
//!   weighted average of the known pixels in a disc around it, each extrapolated along its
//!   image gradient. The weights favour pixels that are close, near the same level set of the
//!   distance to the boundary, and along the normal to it.
//! * [`NavierStokes`] (`INPAINT_NS`): after M. Bertalmio, A. L. Bertozzi, G. Sapiro,
//!   "Navier-Stokes, Fluid Dynamics, and Image and Video Inpainting", CVPR 2001. As OpenCV
//!   implements it, it shares the FMM order and the disc, and weights the known pixels by
//!   distance and by how well the offset to them aligns with the image's isophotes.
//!
//! Both follow OpenCV's code rather than the papers, quirks included, so that the output is
//! byte for byte that of `cv2.inpaint` (checked against opencv-python-headless 4.14 and 5.0;
//! OpenCV 4.10 changed the code):
//!
//! * the radius is rounded half to even and clamped to `1..=100`; the window is the disc
//!   `dk² + dl² ≤ range²`;
//! * arrival times start at `1e6`; the queue pops the smallest time first and, among equal
//!   times, the first pushed;
//! * the maths is `f32`, with `f64` exactly where OpenCV's build uses it;
//! * colours are rounded half to even and saturated; Telea adds half a level first, so a flat
//!   colour can drift by a level or two (OpenCV's `round_cast`: `saturate_cast(sat + 0.5)`);
//! * next to the first and last image rows and columns, the gradient stencils read shifted
//!   pixels, as OpenCV's `km`, `kp`, `lm`, `lp` do;
//! * a mask covering the whole image leaves it unchanged (no known pixel to start from);
//! * any non-zero mask value is a hole, hence the specs' mask threshold of 0.
//!
//! One difference: OpenCV reads outside the image for a single-row or single-column image; here
//! such an image reads its own pixels.
//!
//! Unlike OpenCV, the cost follows the mask, not the image: holes that cannot influence each
//! other are marched separately, in parallel, each on its bounding box grown by the window
//! radius, with a result identical to one run over the whole image.
//!
//! ```
//! use inpaint_core::image::{GrayImage, Luma, Rgb, RgbImage};
//! use inpaint_core::{InpaintModel, Mask, Request};
//! use inpaint_models::classical::{NavierStokes, Telea};
//!
//! let image = RgbImage::from_pixel(32, 32, Rgb([40, 90, 200]));
//! let square = |x: u32, y: u32| (10..20).contains(&x) && (10..20).contains(&y);
//! let mask = Mask::from_gray(GrayImage::from_fn(32, 32, |x, y| {
//!     Luma([if square(x, y) { 255 } else { 0 }])
//! }))?;
//!
//! // Navier–Stokes keeps a flat colour flat.
//! assert_eq!(NavierStokes::new().forward(&image, &mask, &Request::default())?, image);
//! // Telea nearly so: OpenCV's rounding lets it drift by a level or two.
//! let out = Telea::new().forward(&image, &mask, &Request::default())?;
//! let drift = out.iter().zip(image.iter()).map(|(a, b)| a.abs_diff(*b)).max();
//! assert!(drift <= Some(3));
//! # Ok::<(), inpaint_core::Error>(())
//! ```

use image::RgbImage;
use inpaint_core::{Error, Mask, Result};

mod fmm;
mod navier_stokes;
mod output;
mod queue;
mod roi;
mod telea;

pub use navier_stokes::NavierStokes;
pub use telea::Telea;

/// The default window radius, in pixels: IOPaint's default `cv2_radius`.
pub const DEFAULT_RADIUS: f64 = 4.0;

/// The largest radius OpenCV uses; larger ones are clamped there by OpenCV and refused here.
const MAX_RADIUS: f64 = 100.0;

/// Checks a radius given by the caller: a number in `(0, 100]`.
fn check_radius(radius: f64) -> Result<f64> {
    if radius > 0.0 && radius <= MAX_RADIUS {
        Ok(radius)
    } else {
        Err(Error::invalid_input(format!(
            "inpainting radius must be in (0, {MAX_RADIUS}], got {radius}"
        )))
    }
}

/// OpenCV's `range`: `cvRound(radius)` (half to even), clamped to `1..=100`.
fn range(radius: f64) -> usize {
    radius.round_ties_even().clamp(1.0, MAX_RADIUS) as usize
}

/// Checks that the mask has the image's size.
fn check_sizes(image: &RgbImage, mask: &Mask) -> Result<()> {
    if image.dimensions() == mask.dimensions() {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "mask is {}×{} but the image is {}×{}",
            mask.width(),
            mask.height(),
            image.width(),
            image.height()
        )))
    }
}

#[cfg(test)]
mod tests;

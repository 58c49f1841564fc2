//! The validated image and mask types, and the size [`Limits`] they are checked against.

use image::{DynamicImage, GrayImage, Luma, RgbImage, RgbaImage};

use crate::error::{Error, Result};

/// Size limits for untrusted inputs, checked before any pixel buffer is allocated.
///
/// The defaults admit a 100-megapixel camera file (11648×8736) and refuse a decompression bomb
/// such as a PNG whose header claims 100000×100000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest accepted width or height, in pixels.
    pub max_side: u32,
    /// Largest accepted `width × height`.
    pub max_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_side: 16_384,
            max_pixels: 128 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// Limits with this largest side and pixel count.
    pub fn new(max_side: u32, max_pixels: u64) -> Self {
        Limits {
            max_side,
            max_pixels,
        }
    }

    /// No limit at all: for callers that have already validated their input.
    pub fn none() -> Self {
        Limits {
            max_side: u32::MAX,
            max_pixels: u64::MAX,
        }
    }

    /// Checks declared dimensions: non-zero, and within these limits.
    pub fn check(&self, width: u64, height: u64) -> Result<()> {
        if width == 0 || height == 0 {
            return Err(Error::invalid_input(format!(
                "image is empty ({width}×{height})"
            )));
        }
        let exceeded = |limit: String| Error::LimitsExceeded {
            width,
            height,
            limit,
        };
        if width > u64::from(self.max_side) || height > u64::from(self.max_side) {
            return Err(exceeded(format!("max side {} px", self.max_side)));
        }
        if width.saturating_mul(height) > self.max_pixels {
            return Err(exceeded(format!("max {} pixels", self.max_pixels)));
        }
        Ok(())
    }
}

/// An 8-bit RGB image, with its alpha channel kept aside when the input had one.
///
/// Models only ever see the RGB part. The alpha channel is carried through the pipeline
/// untouched and re-attached to the result (IOPaint lost it: its issue #375).
///
/// Validated once, at construction: non-zero and within [`Limits`].
#[derive(Debug, PartialEq)]
pub struct Image {
    rgb: RgbImage,
    alpha: Option<GrayImage>,
}

impl Clone for Image {
    /// Large images are copied in parallel into huge-page-backed memory: for a small hole in a
    /// large photo, this copy is most of the pipeline's cost.
    fn clone(&self) -> Self {
        Image {
            rgb: crate::buffer::copy_image(&self.rgb),
            alpha: self.alpha.as_ref().map(crate::buffer::copy_image),
        }
    }
}

impl Image {
    /// An image from an RGB buffer, checked against the default [`Limits`].
    pub fn from_rgb(rgb: RgbImage) -> Result<Self> {
        Self::from_rgb_with_limits(rgb, &Limits::default())
    }

    /// An image from an RGB buffer, checked against `limits`.
    pub fn from_rgb_with_limits(rgb: RgbImage, limits: &Limits) -> Result<Self> {
        limits.check(rgb.width().into(), rgb.height().into())?;
        Ok(Image { rgb, alpha: None })
    }

    /// An image from an RGBA buffer; the alpha channel is kept aside and restored on output.
    pub fn from_rgba(rgba: RgbaImage) -> Result<Self> {
        Self::from_rgba_with_limits(rgba, &Limits::default())
    }

    /// Like [`from_rgba`](Self::from_rgba), checked against `limits`.
    pub fn from_rgba_with_limits(rgba: RgbaImage, limits: &Limits) -> Result<Self> {
        let (width, height) = rgba.dimensions();
        limits.check(width.into(), height.into())?;
        let mut rgb = Vec::new();
        let mut alpha = Vec::new();
        rgb.try_reserve_exact(pixel_count(width, height) * 3)
            .and_then(|()| alpha.try_reserve_exact(pixel_count(width, height)))
            .map_err(|_| out_of_memory(width, height))?;
        for px in rgba.pixels() {
            rgb.extend_from_slice(&px.0[..3]);
            alpha.push(px.0[3]);
        }
        Ok(Image {
            rgb: from_vec(width, height, rgb)?,
            alpha: Some(from_vec(width, height, alpha)?),
        })
    }

    /// An image from tightly packed RGB bytes (`width * height * 3` of them).
    pub fn from_raw_rgb(width: u32, height: u32, data: Vec<u8>) -> Result<Self> {
        Limits::default().check(width.into(), height.into())?;
        let expected = pixel_count(width, height) * 3;
        if data.len() != expected {
            return Err(Error::invalid_input(format!(
                "RGB buffer for {width}×{height} must hold {expected} bytes, got {}",
                data.len()
            )));
        }
        Self::from_rgb(from_vec(width, height, data)?)
    }

    /// Any decoded image: 16-bit and float samples are reduced to 8 bits, grey is expanded to
    /// RGB, and an alpha channel (grey+alpha or RGBA) is kept aside.
    pub fn from_dynamic(image: DynamicImage, limits: &Limits) -> Result<Self> {
        limits.check(image.width().into(), image.height().into())?;
        if image.color().has_alpha() {
            Self::from_rgba_with_limits(image.into_rgba8(), limits)
        } else {
            Self::from_rgb_with_limits(image.into_rgb8(), limits)
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.rgb.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.rgb.height()
    }

    /// `(width, height)`.
    pub fn dimensions(&self) -> (u32, u32) {
        self.rgb.dimensions()
    }

    /// The RGB pixels, which is all a model sees.
    pub fn rgb(&self) -> &RgbImage {
        &self.rgb
    }

    /// The alpha channel, if the input had one.
    pub fn alpha(&self) -> Option<&GrayImage> {
        self.alpha.as_ref()
    }

    /// The image as RGB8 or, when it has alpha, RGBA8.
    pub fn into_dynamic(self) -> DynamicImage {
        match self.alpha {
            None => DynamicImage::ImageRgb8(self.rgb),
            Some(alpha) => {
                let rgba = RgbaImage::from_fn(self.rgb.width(), self.rgb.height(), |x, y| {
                    let [r, g, b] = self.rgb.get_pixel(x, y).0;
                    image::Rgba([r, g, b, alpha.get_pixel(x, y).0[0]])
                });
                DynamicImage::ImageRgba8(rgba)
            }
        }
    }

    /// Splits into the RGB pixels and the alpha channel.
    pub fn into_parts(self) -> (RgbImage, Option<GrayImage>) {
        (self.rgb, self.alpha)
    }

    /// An image from parts the pipeline made (within the limits, alpha of the same size).
    pub(crate) fn from_parts_unchecked(rgb: RgbImage, alpha: Option<GrayImage>) -> Self {
        debug_assert!(
            alpha
                .as_ref()
                .is_none_or(|a| a.dimensions() == rgb.dimensions())
        );
        Image { rgb, alpha }
    }

    /// The RGB pixels, for the pipeline to write into (never resized).
    pub(crate) fn rgb_mut(&mut self) -> &mut RgbImage {
        &mut self.rgb
    }
}

/// Which pixels to repaint: 8-bit, a value above [`Mask::FILL_THRESHOLD`] (127) means "fill",
/// as in IOPaint. Anti-aliased brush edges are therefore cut at half intensity.
///
/// Validated once, at construction: non-zero and within [`Limits`]. That it matches its image's
/// size is checked by [`inpaint`](crate::inpaint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask(GrayImage);

impl Mask {
    /// A pixel is to be filled when its value is above this.
    pub const FILL_THRESHOLD: u8 = 127;

    /// A mask from an 8-bit grey buffer, checked against the default [`Limits`].
    pub fn from_gray(gray: GrayImage) -> Result<Self> {
        Self::from_gray_with_limits(gray, &Limits::default())
    }

    /// A mask from an 8-bit grey buffer, checked against `limits`.
    pub fn from_gray_with_limits(gray: GrayImage, limits: &Limits) -> Result<Self> {
        limits.check(gray.width().into(), gray.height().into())?;
        Ok(Mask(gray))
    }

    /// A mask from tightly packed bytes (`width * height` of them).
    pub fn from_raw(width: u32, height: u32, data: Vec<u8>) -> Result<Self> {
        Limits::default().check(width.into(), height.into())?;
        let expected = pixel_count(width, height);
        if data.len() != expected {
            return Err(Error::invalid_input(format!(
                "mask buffer for {width}×{height} must hold {expected} bytes, got {}",
                data.len()
            )));
        }
        Self::from_gray(from_vec(width, height, data)?)
    }

    /// A mask from any decoded image.
    ///
    /// Colour masks are reduced to luma. A mask with an alpha channel counts a pixel as fill
    /// only where it is both bright and opaque (`luma × alpha / 255`), so white strokes on a
    /// transparent background and white-on-black masks both work as drawn.
    pub fn from_dynamic(image: DynamicImage, limits: &Limits) -> Result<Self> {
        limits.check(image.width().into(), image.height().into())?;
        if image.color().has_alpha() {
            let la = image.into_luma_alpha8();
            let gray = GrayImage::from_fn(la.width(), la.height(), |x, y| {
                let [l, a] = la.get_pixel(x, y).0;
                // Exact: both factors are at most 255, so the quotient fits in a u8.
                Luma([((u16::from(l) * u16::from(a) + 127) / 255) as u8])
            });
            Self::from_gray_with_limits(gray, limits)
        } else {
            Self::from_gray_with_limits(image.into_luma8(), limits)
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.0.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.0.height()
    }

    /// `(width, height)`.
    pub fn dimensions(&self) -> (u32, u32) {
        self.0.dimensions()
    }

    /// The raw 8-bit values.
    pub fn as_gray(&self) -> &GrayImage {
        &self.0
    }

    /// Whether the pixel at `(x, y)` is to be filled; `None` outside the mask.
    pub fn is_fill(&self, x: u32, y: u32) -> Option<bool> {
        self.0
            .get_pixel_checked(x, y)
            .map(|p| p.0[0] > Self::FILL_THRESHOLD)
    }

    /// How many pixels are to be filled.
    pub fn fill_count(&self) -> u64 {
        self.0
            .as_raw()
            .iter()
            .filter(|&&v| v > Self::FILL_THRESHOLD)
            .count() as u64
    }

    /// Consumes the mask, returning its buffer.
    pub fn into_gray(self) -> GrayImage {
        self.0
    }

    /// A mask built by the pipeline from an already validated one (crops, resizes, pads).
    pub(crate) fn from_gray_unchecked(gray: GrayImage) -> Mask {
        Mask(gray)
    }
}

fn pixel_count(width: u32, height: u32) -> usize {
    // Callers have checked `Limits` first, and the largest limits fit in usize on 64-bit.
    (width as usize).saturating_mul(height as usize)
}

fn out_of_memory(width: u32, height: u32) -> Error {
    Error::LimitsExceeded {
        width: width.into(),
        height: height.into(),
        limit: "not enough memory for the pixel buffer".into(),
    }
}

fn from_vec<P: image::Pixel<Subpixel = u8>>(
    width: u32,
    height: u32,
    data: Vec<u8>,
) -> Result<image::ImageBuffer<P, Vec<u8>>> {
    image::ImageBuffer::from_raw(width, height, data)
        .ok_or_else(|| Error::invalid_input(format!("buffer too short for {width}×{height}")))
}

//! Image views: borrowed pixels from C, checked and copied into the library's types.

use inpaint_core::image::RgbaImage;
use inpaint_core::{Image, Limits, Mask};

use crate::ffi::Failure;
use crate::status::inpaint_status;

/// How the bytes of an `inpaint_image_view` are laid out: one of the
/// `INPAINT_PIXEL_FORMAT_*` values. A plain integer, so that any value C passes can be
/// checked; 0 is deliberately no format, so that a zeroed view is refused.
pub type inpaint_pixel_format = u32;

/// 3 bytes a pixel: red, green, blue.
pub const INPAINT_PIXEL_FORMAT_RGB8: inpaint_pixel_format = 1;
/// 4 bytes a pixel: red, green, blue, alpha (not premultiplied). Alpha is kept untouched.
pub const INPAINT_PIXEL_FORMAT_RGBA8: inpaint_pixel_format = 2;
/// 1 byte a pixel: grey. The format of masks (above 127 means "fill").
pub const INPAINT_PIXEL_FORMAT_GRAY8: inpaint_pixel_format = 3;

/// Borrowed 8-bit pixels: rows of `width` pixels, `stride` bytes apart (rows may be padded),
/// `height` rows, in `data[0..len]`.
///
/// Requirements, checked by every function taking a view: `width` and `height` non-zero,
/// `stride >= width * bytes_per_pixel` and `len >= (height - 1) * stride + width *
/// bytes_per_pixel`; `data` not NULL and valid for reading `len` bytes during the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct inpaint_image_view {
    /// The first byte of the first row.
    pub data: *const u8,
    /// How many bytes `data` may be read.
    pub len: usize,
    /// Pixels in a row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Bytes from the start of one row to the start of the next.
    pub stride: usize,
    /// One of the `INPAINT_PIXEL_FORMAT_*` values.
    pub format: inpaint_pixel_format,
}

/// A checked view: its pixel size and the bytes it spans.
#[derive(Debug)]
pub(crate) struct Checked<'a> {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) format: inpaint_pixel_format,
    pub(crate) bytes_per_pixel: usize,
    stride: usize,
    bytes: &'a [u8],
}

fn bytes_per_pixel(format: inpaint_pixel_format) -> Option<usize> {
    match format {
        INPAINT_PIXEL_FORMAT_RGB8 => Some(3),
        INPAINT_PIXEL_FORMAT_RGBA8 => Some(4),
        INPAINT_PIXEL_FORMAT_GRAY8 => Some(1),
        _ => None,
    }
}

impl inpaint_image_view {
    /// Checks the view (format, size limits, stride and length, with checked maths) and
    /// borrows the bytes it spans. `what` names it in messages.
    ///
    /// # Safety
    ///
    /// When `data` is not NULL it is valid for reading `len` bytes during `'a`.
    pub(crate) unsafe fn check<'a>(&self, what: &str) -> Result<Checked<'a>, Failure> {
        let bpp = bytes_per_pixel(self.format).ok_or_else(|| {
            Failure::invalid_input(format!(
                "{what}: unknown pixel format {} (expected INPAINT_PIXEL_FORMAT_RGB8, \
                 _RGBA8 or _GRAY8)",
                self.format
            ))
        })?;
        Limits::default()
            .check(self.width.into(), self.height.into())
            .map_err(|e| prefixed(what, e))?;
        let row = (self.width as usize)
            .checked_mul(bpp)
            .ok_or_else(|| Failure::invalid_input(format!("{what}: row size overflows")))?;
        if self.stride < row {
            return Err(Failure::invalid_input(format!(
                "{what}: stride {} is less than width × bytes per pixel ({} × {bpp} = {row})",
                self.stride, self.width
            )));
        }
        let needed = (self.height as usize - 1)
            .checked_mul(self.stride)
            .and_then(|n| n.checked_add(row))
            .filter(|&n| n <= isize::MAX as usize)
            .ok_or_else(|| Failure::invalid_input(format!("{what}: buffer size overflows")))?;
        if self.len < needed {
            return Err(Failure::invalid_input(format!(
                "{what}: len {} is less than the {needed} bytes that {} rows of stride {} span",
                self.len, self.height, self.stride
            )));
        }
        if self.data.is_null() {
            return Err(Failure::null(&format!("{what}->data")));
        }
        // SAFETY: not NULL, valid for `len >= needed` bytes by the caller's guarantee, and
        // `needed <= isize::MAX`.
        let bytes = unsafe { std::slice::from_raw_parts(self.data, needed) };
        Ok(Checked {
            width: self.width,
            height: self.height,
            format: self.format,
            bytes_per_pixel: bpp,
            stride: self.stride,
            bytes,
        })
    }
}

/// A core error about one of the views, with the view named.
fn prefixed(what: &str, error: inpaint_core::Error) -> Failure {
    let mut failure = Failure::from(error);
    failure.message = format!("{what}: {}", failure.message);
    failure
}

impl Checked<'_> {
    /// Bytes in the tightly packed copy.
    pub(crate) fn packed_len(&self) -> usize {
        // Cannot overflow: `check` bounded the spanned bytes, which are at least this many.
        self.width as usize * self.height as usize * self.bytes_per_pixel
    }

    /// The pixels, rows tightly packed.
    fn packed(&self) -> Result<Vec<u8>, Failure> {
        let mut out = Vec::new();
        out.try_reserve_exact(self.packed_len()).map_err(|_| {
            Failure::new(
                inpaint_status::LimitsExceeded,
                format!(
                    "{}×{} image: not enough memory for the pixel buffer",
                    self.width, self.height
                ),
            )
        })?;
        let row = self.width as usize * self.bytes_per_pixel;
        if self.stride == row {
            out.extend_from_slice(self.bytes);
        } else {
            for y in 0..self.height as usize {
                out.extend_from_slice(&self.bytes[y * self.stride..][..row]);
            }
        }
        Ok(out)
    }

    /// The view as an image: RGB8 and RGBA8 as they are (alpha kept aside), GRAY8 expanded to
    /// RGB.
    pub(crate) fn to_image(&self) -> Result<Image, Failure> {
        let (width, height) = (self.width, self.height);
        let packed = self.packed()?;
        let image = match self.format {
            INPAINT_PIXEL_FORMAT_RGB8 => Image::from_raw_rgb(width, height, packed),
            INPAINT_PIXEL_FORMAT_RGBA8 => RgbaImage::from_raw(width, height, packed)
                .ok_or_else(|| inpaint_core::Error::invalid_input("RGBA buffer too short"))
                .and_then(Image::from_rgba),
            _ => {
                let rgb = packed.iter().flat_map(|&v| [v, v, v]).collect();
                Image::from_raw_rgb(width, height, rgb)
            }
        };
        image.map_err(|e| prefixed("image", e))
    }

    /// The view as a mask, which must be GRAY8.
    pub(crate) fn to_mask(&self) -> Result<Mask, Failure> {
        if self.format != INPAINT_PIXEL_FORMAT_GRAY8 {
            return Err(Failure::invalid_input(format!(
                "mask: pixel format must be INPAINT_PIXEL_FORMAT_GRAY8 ({}), got {}",
                INPAINT_PIXEL_FORMAT_GRAY8, self.format
            )));
        }
        Mask::from_raw(self.width, self.height, self.packed()?).map_err(|e| prefixed("mask", e))
    }
}

/// Writes `image` into `out` (exactly `width × height × bytes per pixel` bytes, tightly
/// packed) in `format`: RGB8 as is, RGBA8 with the alpha kept aside, GRAY8 as the mean of
/// the channels (which are equal for every model today).
pub(crate) fn write_packed(image: Image, format: inpaint_pixel_format, out: &mut [u8]) {
    let (rgb, alpha) = image.into_parts();
    let rgb = rgb.as_raw();
    match (format, alpha) {
        (INPAINT_PIXEL_FORMAT_RGBA8, Some(alpha)) => {
            let pixels = out.chunks_exact_mut(4).zip(rgb.chunks_exact(3));
            for ((dst, src), &a) in pixels.zip(alpha.as_raw()) {
                dst[..3].copy_from_slice(src);
                dst[3] = a;
            }
        }
        (INPAINT_PIXEL_FORMAT_GRAY8, _) => {
            for (dst, src) in out.iter_mut().zip(rgb.chunks_exact(3)) {
                let sum: u16 = src.iter().map(|&v| u16::from(v)).sum();
                // The mean of three bytes fits in a byte.
                *dst = ((sum + 1) / 3) as u8;
            }
        }
        _ => out.copy_from_slice(rgb),
    }
}

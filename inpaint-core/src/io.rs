//! Loading and saving images, with [`Limits`] checked before any pixel is decoded.
//!
//! Loading reads the header first and refuses a size beyond the limits, so a 100000×100000
//! PNG costs a few bytes of reading, not 30 GB of memory. JPEG (and PNG/WebP) EXIF orientation
//! is applied. Animated GIF/WebP: the first frame. Saving picks the format from the extension,
//! writes to a temporary file beside the target and renames it into place, so a failed write
//! never leaves a truncated image under the requested name.

use std::io::{BufRead, Cursor, Seek};
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::error::{Error, Result};
use crate::types::{Image, Limits, Mask};

/// Loads an image file as an [`Image`] (RGB, alpha kept aside).
pub fn load_image(path: impl AsRef<Path>, limits: &Limits) -> Result<Image> {
    let path = path.as_ref();
    Image::from_dynamic(decode_file(path, limits)?, limits).map_err(|e| with_path(e, path))
}

/// Loads a mask file as a [`Mask`] (see [`Mask::from_dynamic`] for colour and alpha masks).
pub fn load_mask(path: impl AsRef<Path>, limits: &Limits) -> Result<Mask> {
    let path = path.as_ref();
    Mask::from_dynamic(decode_file(path, limits)?, limits).map_err(|e| with_path(e, path))
}

/// Decodes an in-memory image file (format guessed from its content).
pub fn decode_image(bytes: &[u8], limits: &Limits) -> Result<Image> {
    let reader = ImageReader::new(Cursor::new(bytes));
    Image::from_dynamic(decode(reader, Path::new(""), limits)?, limits)
}

/// Decodes an in-memory mask file (format guessed from its content).
pub fn decode_mask(bytes: &[u8], limits: &Limits) -> Result<Mask> {
    let reader = ImageReader::new(Cursor::new(bytes));
    Mask::from_dynamic(decode(reader, Path::new(""), limits)?, limits)
}

/// Decodes a file into whatever pixel type it holds, limits first, orientation applied.
pub fn decode_file(path: &Path, limits: &Limits) -> Result<DynamicImage> {
    let reader = ImageReader::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    decode(reader, path, limits)
}

fn decode<R: BufRead + Seek>(
    reader: ImageReader<R>,
    path: &Path,
    limits: &Limits,
) -> Result<DynamicImage> {
    let decode_error = |source| Error::Decode {
        path: path.to_owned(),
        source,
    };
    let mut reader = reader.with_guessed_format().map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    if reader.format().is_none() {
        return Err(with_path(
            Error::unsupported("not a PNG, JPEG, WebP, GIF or BMP file"),
            path,
        ));
    }
    // The header is read without the codec's limits so that an oversized image is reported
    // by ours, with its size; the codec's limits then guard the decoding itself.
    reader.no_limits();
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    limits
        .check(width.into(), height.into())
        .map_err(|e| with_path(e, path))?;
    let mut codec_limits = image::Limits::default();
    codec_limits.max_image_width = Some(limits.max_side);
    codec_limits.max_image_height = Some(limits.max_side);
    decoder.set_limits(codec_limits).map_err(decode_error)?;
    let orientation = decoder.orientation().map_err(decode_error)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// Saves an image, format from the extension (`png`, `jpg`/`jpeg`, `webp`, `bmp`, `gif`).
///
/// Formats without alpha (JPEG, BMP as written here) get the RGB pixels only. WebP is written
/// lossless. The file appears complete or not at all.
pub fn save_image(image: &Image, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let format = ImageFormat::from_path(path).map_err(|_| {
        Error::unsupported(format!(
            "{}: unknown output extension; use .png, .jpg, .webp or .bmp",
            path.display()
        ))
    })?;
    let dynamic = match format {
        ImageFormat::Jpeg | ImageFormat::Bmp => DynamicImage::ImageRgb8(image.rgb().clone()),
        _ => image.clone().into_dynamic(),
    };
    let mut encoded = Cursor::new(Vec::new());
    dynamic
        .write_to(&mut encoded, format)
        .map_err(|source| Error::Decode {
            path: path.to_owned(),
            source,
        })?;
    write_atomically(path, encoded.get_ref())
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io_error = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::invalid_input(format!("{}: not a file path", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    std::fs::write(&tmp, bytes).map_err(io_error)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_error(e)
    })
}

/// Adds the file name to an error about its content.
fn with_path(error: Error, path: &Path) -> Error {
    if path.as_os_str().is_empty() {
        return error;
    }
    let prefix = |message: String| format!("{}: {message}", path.display());
    match error {
        Error::InvalidInput { message } => Error::InvalidInput {
            message: prefix(message),
        },
        Error::Unsupported { message } => Error::Unsupported {
            message: prefix(message),
        },
        Error::LimitsExceeded {
            width,
            height,
            limit,
        } => Error::LimitsExceeded {
            width,
            height,
            limit: prefix(limit),
        },
        other => other,
    }
}

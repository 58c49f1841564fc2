//! Loading and saving images, with [`Limits`] checked before any pixel is decoded.
//!
//! Loading reads the header first and refuses a size beyond the limits, so a 100000×100000
//! PNG costs a few bytes of reading, not 30 GB of memory. JPEG (and PNG/WebP) EXIF orientation
//! is applied. Animated GIF/WebP: the first frame. Saving picks the format from the extension,
//! writes to a temporary file beside the target and renames it into place, so a failed write
//! never leaves a truncated image under the requested name.

use std::io::{BufRead, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use image::error::{DecodingError, ImageFormatHint};
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};
use tracing::{debug, debug_span};

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
    let _span = debug_span!("decode", path = %path.display()).entered();
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
    if reader.format() == Some(ImageFormat::Jpeg) {
        // `image` decodes JPEGs leniently: a file cut in its image data decodes without error,
        // the missing part grey. That would inpaint a half-grey photo, so it is refused here.
        let mut inner = reader.into_inner();
        let complete = jpeg_is_complete(&mut inner).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        if !complete {
            return Err(decode_error(ImageError::Decoding(DecodingError::new(
                ImageFormatHint::Exact(ImageFormat::Jpeg),
                "the file is truncated: no end-of-image marker after the image data",
            ))));
        }
        reader = ImageReader::with_format(inner, ImageFormat::Jpeg);
    }
    // The header is read without the codec's limits so that an oversized image is reported
    // by ours, with its size; the codec's limits then guard the decoding itself.
    reader.no_limits();
    let reader_format = reader.format();
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    debug!(format = ?reader_format, width, height, "header read");
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

/// Whether a JPEG stream has an end-of-image marker (`FF D9`) after its first start-of-scan
/// (`FF DA`): walks the header segments by their lengths (so that an EXIF thumbnail's own
/// markers do not count), then scans the entropy-coded data, in which `FF` is always followed
/// by `00`, a restart marker, or a marker between scans. Leaves `r` where it found it.
///
/// Anything malformed before the first scan counts as complete here: the decoder reports it.
/// Data after the end-of-image marker (camera trailers, motion photos) is allowed.
fn jpeg_is_complete<R: BufRead + Seek>(r: &mut R) -> std::io::Result<bool> {
    let start = r.stream_position()?;
    let complete = scan_jpeg(r);
    r.seek(SeekFrom::Start(start))?;
    complete
}

fn scan_jpeg<R: BufRead + Seek>(r: &mut R) -> std::io::Result<bool> {
    fn byte<R: Read>(r: &mut R) -> std::io::Result<Option<u8>> {
        let mut b = [0u8];
        match r.read_exact(&mut b) {
            Ok(()) => Ok(Some(b[0])),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        }
    }
    // SOI, then segments up to the first SOS.
    if (byte(r)?, byte(r)?) != (Some(0xFF), Some(0xD8)) {
        return Ok(true);
    }
    loop {
        if byte(r)? != Some(0xFF) {
            return Ok(true);
        }
        let mut marker = byte(r)?;
        while marker == Some(0xFF) {
            marker = byte(r)?;
        }
        match marker {
            None | Some(0xD9) => return Ok(true),
            Some(0xDA) => break,
            // Standalone markers: TEM and RST0–7.
            Some(0x01 | 0xD0..=0xD7) => {}
            Some(_) => {
                let (Some(hi), Some(lo)) = (byte(r)?, byte(r)?) else {
                    return Ok(true);
                };
                let length = u16::from_be_bytes([hi, lo]);
                if length < 2 {
                    return Ok(true);
                }
                r.seek(SeekFrom::Current(i64::from(length) - 2))?;
            }
        }
    }
    // The scans: an EOI anywhere after the first SOS.
    let mut after_ff = false;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(false);
        }
        for &b in buf {
            if after_ff && b == 0xD9 {
                return Ok(true);
            }
            after_ff = b == 0xFF;
        }
        let n = buf.len();
        r.consume(n);
    }
}

/// Saves an image, format from the extension (`png`, `jpg`/`jpeg`, `webp`, `bmp`, `gif`).
///
/// Formats without alpha (JPEG, BMP as written here) get the RGB pixels only. WebP is written
/// lossless. The file appears complete or not at all.
pub fn save_image(image: &Image, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let _span = debug_span!("encode", path = %path.display()).entered();
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

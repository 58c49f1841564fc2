//! Pictures in and out of HTTP: base64 data URLs, the input's format and metadata, and the
//! answer encoded like the input (IOPaint's `decode_base64_to_image` and `pil_to_bytes`).

use std::io::Cursor;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader};

use inpaint_core::{Image, Limits, Mask};

use crate::error::ApiError;

/// Standard base64, padded or not (browsers pad; hand-made requests often do not).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// JPEG answers are written at this quality, as IOPaint's `--quality` default.
pub(crate) const JPEG_QUALITY: u8 = 100;

/// The bytes of a base64 string or a `data:…;base64,` URL.
pub(crate) fn decode_base64(text: &str) -> Result<Vec<u8>, ApiError> {
    let payload = match text.strip_prefix("data:") {
        Some(url) => match url.split_once(',') {
            Some((header, payload)) if header.ends_with(";base64") => payload,
            _ => {
                return Err(ApiError::bad_request(
                    "a data URL must be `data:<type>;base64,<data>`",
                ));
            }
        },
        None => text,
    };
    let compact: String = payload
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    BASE64
        .decode(compact)
        .map_err(|err| ApiError::bad_request(format!("not valid base64: {err}")))
}

/// What of the input file goes back into the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Metadata {
    /// EXIF, with the orientation reset (the pixels were turned upright on decoding).
    pub(crate) exif: Option<Vec<u8>>,
    /// The ICC colour profile.
    pub(crate) icc: Option<Vec<u8>>,
    /// A PNG's `parameters` text (the prompt of a generated image), kept as IOPaint keeps it.
    pub(crate) parameters: Option<String>,
}

/// A decoded input picture.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// The pixels (alpha kept aside).
    pub(crate) image: Image,
    /// The file's format, which the answer uses.
    pub(crate) format: ImageFormat,
    /// Its metadata.
    pub(crate) metadata: Metadata,
}

/// The format of an encoded picture, if it is one this server reads.
fn format_of(bytes: &[u8]) -> Result<ImageFormat, ApiError> {
    match image::guess_format(bytes) {
        Ok(
            format @ (ImageFormat::Png
            | ImageFormat::Jpeg
            | ImageFormat::WebP
            | ImageFormat::Gif
            | ImageFormat::Bmp),
        ) => Ok(format),
        _ => Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "UnsupportedImage",
            "not a PNG, JPEG, WebP, GIF or BMP file",
        )),
    }
}

/// Decodes an input picture, its size checked against `limits` before any pixel is decoded.
pub(crate) fn decode_image(bytes: &[u8], limits: &Limits) -> Result<Decoded, ApiError> {
    let format = format_of(bytes)?;
    let image = inpaint_core::io::decode_image(bytes, limits)?;
    Ok(Decoded {
        image,
        format,
        metadata: read_metadata(bytes, format),
    })
}

/// Decodes a mask picture (see [`Mask::from_dynamic`]: bright and opaque means fill).
pub(crate) fn decode_mask(bytes: &[u8], limits: &Limits) -> Result<Mask, ApiError> {
    format_of(bytes)?;
    Ok(inpaint_core::io::decode_mask(bytes, limits)?)
}

/// Reads the metadata worth keeping. The pixels decoded already, so a failure here only
/// loses metadata, as PIL's `info` would lack it.
fn read_metadata(bytes: &[u8], format: ImageFormat) -> Metadata {
    let mut metadata = Metadata::default();
    if let Ok(mut decoder) = ImageReader::with_format(Cursor::new(bytes), format).into_decoder() {
        metadata.icc = decoder.icc_profile().ok().flatten();
        metadata.exif = decoder.exif_metadata().ok().flatten().map(|mut exif| {
            // The decoder applied the orientation; a viewer must not apply it again.
            let _ = Orientation::remove_from_exif_chunk(&mut exif);
            exif
        });
    }
    if format == ImageFormat::Png {
        metadata.parameters = png_text(bytes, "parameters");
    }
    metadata
}

/// A PNG text chunk (`tEXt`, `zTXt` or `iTXt`) by keyword.
pub(crate) fn png_text(bytes: &[u8], keyword: &str) -> Option<String> {
    let decoder = png::Decoder::new(Cursor::new(bytes));
    let reader = decoder.read_info().ok()?;
    let info = reader.info();
    info.uncompressed_latin1_text
        .iter()
        .find(|t| t.keyword == keyword)
        .map(|t| t.text.clone())
        .or_else(|| {
            info.compressed_latin1_text
                .iter()
                .find(|t| t.keyword == keyword)
                .and_then(|t| t.get_text().ok())
        })
        .or_else(|| {
            info.utf8_text
                .iter()
                .find(|t| t.keyword == keyword)
                .and_then(|t| t.get_text().ok())
        })
}

/// The MIME type IOPaint answers with for this format (`image/<ext>`).
pub(crate) fn mime(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "image/png",
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::WebP => "image/webp",
        ImageFormat::Gif => "image/gif",
        _ => "image/bmp",
    }
}

/// Encodes the answer in `format` with `metadata`: JPEG at [`JPEG_QUALITY`], WebP lossless,
/// alpha kept where the format holds it.
pub(crate) fn encode(
    image: Image,
    format: ImageFormat,
    metadata: &Metadata,
) -> Result<Vec<u8>, ApiError> {
    let encode_error = |err: image::ImageError| ApiError::internal(format!("encoding: {err}"));
    let mut out = Vec::new();
    let dynamic = image.into_dynamic();
    match format {
        ImageFormat::Jpeg => {
            let rgb = dynamic.into_rgb8();
            let mut encoder = JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
            attach(&mut encoder, metadata);
            encoder
                .write_image(
                    rgb.as_raw(),
                    rgb.width(),
                    rgb.height(),
                    image::ExtendedColorType::Rgb8,
                )
                .map_err(encode_error)?;
        }
        ImageFormat::Png => {
            let mut encoder = PngEncoder::new(&mut out);
            attach(&mut encoder, metadata);
            write_dynamic(encoder, &dynamic).map_err(encode_error)?;
            if let Some(parameters) = &metadata.parameters {
                out = with_png_text(out, "parameters", parameters);
            }
        }
        ImageFormat::WebP => {
            let mut encoder = WebPEncoder::new_lossless(&mut out);
            attach(&mut encoder, metadata);
            write_dynamic(encoder, &dynamic).map_err(encode_error)?;
        }
        other => {
            let dynamic = match other {
                ImageFormat::Bmp if !dynamic.color().has_alpha() => dynamic,
                ImageFormat::Bmp => DynamicImage::ImageRgba8(dynamic.into_rgba8()),
                _ => dynamic,
            };
            dynamic
                .write_to(&mut Cursor::new(&mut out), other)
                .map_err(encode_error)?;
        }
    }
    Ok(out)
}

fn attach(encoder: &mut impl ImageEncoder, metadata: &Metadata) {
    // A format that cannot hold a kind of metadata drops it, as PIL does.
    if let Some(icc) = &metadata.icc {
        let _ = encoder.set_icc_profile(icc.clone());
    }
    if let Some(exif) = &metadata.exif {
        let _ = encoder.set_exif_metadata(exif.clone());
    }
}

fn write_dynamic(encoder: impl ImageEncoder, image: &DynamicImage) -> image::ImageResult<()> {
    encoder.write_image(
        image.as_bytes(),
        image.width(),
        image.height(),
        image.color().into(),
    )
}

/// Inserts a `tEXt` chunk right after `IHDR` (Latin-1 text, as PIL writes it; characters
/// outside Latin-1 go into an `iTXt` chunk instead).
fn with_png_text(png: Vec<u8>, keyword: &str, text: &str) -> Vec<u8> {
    // Signature (8) + IHDR chunk (4 length + 4 type + 13 data + 4 CRC).
    const AFTER_IHDR: usize = 8 + 25;
    if png.len() < AFTER_IHDR {
        return png;
    }
    let (kind, data): (&[u8; 4], Vec<u8>) = match latin1(text) {
        Some(latin) => (b"tEXt", [keyword.as_bytes(), &[0], &latin].concat()),
        // iTXt: keyword, NUL, compression flag 0, method 0, empty language, NUL, empty
        // translated keyword, NUL, UTF-8 text.
        None => (
            b"iTXt",
            [keyword.as_bytes(), &[0, 0, 0, 0, 0], text.as_bytes()].concat(),
        ),
    };
    let Ok(length) = u32::try_from(data.len()) else {
        return png;
    };
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(&data);
    let mut out = Vec::new();
    out.extend_from_slice(&png[..AFTER_IHDR]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(&data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
    out.extend_from_slice(&png[AFTER_IHDR..]);
    out
}

fn latin1(text: &str) -> Option<Vec<u8>> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls_and_plain_base64() {
        assert_eq!(decode_base64("data:image/png;base64,aGk=").unwrap(), b"hi");
        assert_eq!(decode_base64("aGk").unwrap(), b"hi");
        assert_eq!(decode_base64("aG\nk=").unwrap(), b"hi");
        assert_eq!(decode_base64("%%%").unwrap_err().status().as_u16(), 400);
        assert_eq!(
            decode_base64("data:image/png,hi")
                .unwrap_err()
                .status()
                .as_u16(),
            400
        );
    }

    #[test]
    fn png_parameters_survive_a_round_trip() {
        let image = Image::from_raw_rgb(2, 2, vec![7; 12]).unwrap();
        for text in ["a cat\nNegative prompt: dog", "ein Hündchen ✓"] {
            let metadata = Metadata {
                parameters: Some(text.into()),
                ..Metadata::default()
            };
            let png = encode(image.clone(), ImageFormat::Png, &metadata).unwrap();
            assert_eq!(png_text(&png, "parameters").as_deref(), Some(text));
            let decoded = decode_image(&png, &Limits::default()).unwrap();
            assert_eq!(decoded.image, image);
            assert_eq!(decoded.metadata, metadata);
        }
    }
}

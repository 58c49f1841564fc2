//! Loading and saving: hostile headers, truncated files, formats, atomic writes.

use std::path::PathBuf;

use image::{DynamicImage, ImageFormat, Luma, LumaA, Rgb, RgbImage};
use inpaint_core::io::{decode_image, decode_mask, load_image, save_image};
use inpaint_core::{Error, Image, Limits};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("inpaint-core-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(&body);
    chunk.extend_from_slice(&crc32(&body).to_be_bytes());
    chunk
}

/// A well-formed PNG claiming `width × height` (8-bit RGB) with a few bytes of pixel data: what
/// a decompression bomb looks like to a decoder.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    png.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

#[test]
fn a_100k_by_100k_png_header_is_refused_by_limits() {
    let err = decode_image(&png_header(100_000, 100_000), &Limits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LimitsExceeded {
                width: 100_000,
                height: 100_000,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn truncated_files_are_decode_errors() {
    let png = encode(
        &DynamicImage::ImageRgb8(RgbImage::from_pixel(40, 40, Rgb([1, 2, 3]))),
        ImageFormat::Png,
    );
    let err = decode_image(&png[..png.len() / 2], &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    let jpeg = encode(
        &DynamicImage::ImageRgb8(RgbImage::from_pixel(40, 40, Rgb([1, 2, 3]))),
        ImageFormat::Jpeg,
    );
    let err = decode_image(&jpeg[..100], &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
}

#[test]
fn garbage_is_unsupported() {
    let err = decode_image(b"hello, not an image", &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let err = load_image("/nonexistent/photo.png", &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("/nonexistent/photo.png: "),
        "{err}"
    );
}

#[test]
fn sixteen_bit_and_grey_images_become_rgb8() {
    let grey16 = image::ImageBuffer::<Luma<u16>, _>::from_pixel(3, 2, Luma([65535]));
    let png = encode(&DynamicImage::ImageLuma16(grey16), ImageFormat::Png);
    let image = decode_image(&png, &Limits::default()).unwrap();
    assert_eq!(image.rgb().get_pixel(2, 1), &Rgb([255, 255, 255]));
    assert!(image.alpha().is_none());
}

#[test]
fn a_mask_with_alpha_fills_only_bright_opaque_pixels() {
    // White-transparent, white-opaque, black-opaque, grey-opaque.
    let la = image::ImageBuffer::from_vec(4, 1, vec![255, 0, 255, 255, 0, 255, 200, 255]).unwrap();
    let la: image::ImageBuffer<LumaA<u8>, _> = la;
    let png = encode(&DynamicImage::ImageLumaA8(la), ImageFormat::Png);
    let mask = decode_mask(&png, &Limits::default()).unwrap();
    let fills: Vec<_> = (0..4).map(|x| mask.is_fill(x, 0).unwrap()).collect();
    assert_eq!(fills, [false, true, false, true]);
}

#[test]
fn save_round_trips_rgba_png_and_writes_atomically() {
    let dir = temp_dir("save");
    let rgba = image::RgbaImage::from_fn(5, 4, |x, y| {
        image::Rgba([x as u8, y as u8, 3, 100 + x as u8])
    });
    let image = Image::from_rgba(rgba.clone()).unwrap();
    let path = dir.join("out.png");
    save_image(&image, &path).unwrap();
    let back = load_image(&path, &Limits::default()).unwrap();
    assert_eq!(back.into_dynamic().into_rgba8(), rgba);
    // Only the final file is left: no temporary beside it.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["out.png"]);
    let err = save_image(&image, dir.join("out.xyz")).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

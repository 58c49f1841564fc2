//! Hostile and unusual files through the library's loaders: each one a clear error or a defined
//! result, never a panic. The files are in `tests/data/hostile/`, made by
//! `scripts/make-hostile-files.py` (see the README there for what each one is).

use std::path::PathBuf;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use inpaint_core::io::{decode_image, load_image, load_mask};
use inpaint_core::{Error, Limits};

fn hostile(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/hostile")
        .join(name)
}

/// A PNG whose header claims 100000×100000 is refused by [`Limits`], with its size, after
/// reading the header only: as an image and as a mask.
#[test]
fn a_png_claiming_100000_by_100000_is_refused_by_limits() {
    let path = hostile("huge_100000x100000.png");
    for err in [
        load_image(&path, &Limits::default()).unwrap_err(),
        load_mask(&path, &Limits::default()).unwrap_err(),
    ] {
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
        let message = err.full_message();
        assert!(
            message.contains(&path.display().to_string())
                && message.contains("100000×100000")
                && message.contains("max side 16384 px"),
            "{message}"
        );
    }
}

/// Files cut in the middle of their pixel data are decode errors naming the file.
#[test]
fn truncated_png_and_jpeg_files_are_decode_errors() {
    for name in ["truncated.png", "truncated.jpg"] {
        let path = hostile(name);
        let err = load_image(&path, &Limits::default()).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{name}: {err:?}");
        assert!(
            err.full_message()
                .starts_with(&format!("{}: ", path.display())),
            "{}",
            err.full_message()
        );
    }
}

/// A PNG whose header says 0×0 is refused as empty, as an image and as a mask.
#[test]
fn a_0_by_0_png_is_refused() {
    let path = hostile("empty_0x0.png");
    for err in [
        load_image(&path, &Limits::default()).unwrap_err(),
        load_mask(&path, &Limits::default()).unwrap_err(),
    ] {
        assert!(
            matches!(err, Error::Decode { .. } | Error::InvalidInput { .. }),
            "{err:?}"
        );
        assert!(
            err.full_message()
                .starts_with(&format!("{}: ", path.display())),
            "{}",
            err.full_message()
        );
    }
}

#[test]
fn a_1_by_1_png_loads() {
    let image = load_image(hostile("one_pixel.png"), &Limits::default()).unwrap();
    assert_eq!(image.dimensions(), (1, 1));
    assert_eq!(image.rgb().get_pixel(0, 0), &Rgb([200, 100, 50]));
    let mask = load_mask(hostile("one_pixel_mask.png"), &Limits::default()).unwrap();
    assert_eq!(mask.fill_count(), 1);
}

/// Reads which of the 8 bands (4 px wide) of row 10 are fill; rows outside 6..14 must be keep.
fn bands(mask: &inpaint_core::Mask) -> Vec<bool> {
    assert_eq!(mask.dimensions(), (32, 24));
    for y in (0..6).chain(14..24) {
        for x in 0..32 {
            assert_eq!(mask.is_fill(x, y), Some(false), "({x},{y})");
        }
    }
    (0..8)
        .map(|band| {
            let fills: Vec<bool> = (band * 4..band * 4 + 4)
                .map(|x| mask.is_fill(x, 10).unwrap())
                .collect();
            assert!(fills.iter().all(|&f| f == fills[0]), "band {band} mixed");
            fills[0]
        })
        .collect()
}

/// A colour mask is reduced to luma (BT.709 weights, as `image` does): green and yellow fill,
/// red and blue keep, grey 128 fills and grey 127 keeps.
#[test]
fn an_rgb_mask_is_reduced_to_luma() {
    let mask = load_mask(hostile("mask_rgb.png"), &Limits::default()).unwrap();
    assert_eq!(
        bands(&mask),
        [false, false, true, false, true, true, true, false]
    );
}

/// An RGBA mask fills where luma × alpha / 255 > 127: opaque white and green, white at alpha
/// 128 and green at alpha 180 fill; transparent white, black, alpha 127 and green at 170 keep.
#[test]
fn an_rgba_mask_fills_where_bright_and_opaque() {
    let mask = load_mask(hostile("mask_rgba.png"), &Limits::default()).unwrap();
    assert_eq!(
        bands(&mask),
        [false, true, false, true, false, true, true, false]
    );
}

/// The 16-bit samples of `rgb16.png` (see the generator).
fn rgb16_value(x: u32, y: u32) -> [u16; 3] {
    [
        (x * 2047 + 13) as u16,
        (y * 2730 + 7) as u16,
        if (x + y) % 2 == 1 { 0x00FF } else { 0x8100 },
    ]
}

/// 16-bit PNGs are converted to 8 bits, rounded to nearest (`round(v · 255 / 65535)`), alpha
/// included (kept aside, as for 8-bit RGBA).
#[test]
fn sixteen_bit_pngs_are_rounded_to_8_bits() {
    let to8 = |v: u16| ((u32::from(v) + 128) / 257) as u8;
    for name in ["rgb16.png", "rgba16.png"] {
        let image = load_image(hostile(name), &Limits::default()).unwrap();
        assert_eq!(image.dimensions(), (32, 24));
        for (x, y, p) in image.rgb().enumerate_pixels() {
            assert_eq!(p.0, rgb16_value(x, y).map(to8), "{name} ({x},{y})");
        }
        // Rounded: 0x8100 gives 128 and 0x00FF gives 1; the high byte would be 129 and 0.
        assert_eq!(image.rgb().get_pixel(0, 0).0[2], 128);
        assert_eq!(image.rgb().get_pixel(1, 0).0[2], 1);
        match name {
            "rgb16.png" => assert!(image.alpha().is_none()),
            _ => {
                let alpha = image.alpha().unwrap();
                assert_eq!(alpha.get_pixel(0, 0).0, [128]);
                assert_eq!(alpha.get_pixel(1, 0).0, [255]);
            }
        }
    }
}

/// A CMYK JPEG (Adobe APP14, inverted as Photoshop and Pillow write it) becomes RGB with the
/// colours the file means: its left half red, its right half blue.
#[test]
fn a_cmyk_jpeg_becomes_rgb() {
    let image = load_image(hostile("cmyk.jpg"), &Limits::default()).unwrap();
    assert_eq!(image.dimensions(), (32, 24));
    assert!(image.alpha().is_none());
    let near = |got: [u8; 3], want: [u8; 3]| {
        got.iter()
            .zip(want)
            .all(|(&g, w)| (i16::from(g) - i16::from(w)).abs() <= 8)
    };
    for (x, y, p) in image.rgb().enumerate_pixels() {
        // JPEG's chroma blurs the boundary between the halves.
        if (12..20).contains(&x) {
            continue;
        }
        let want = if x < 16 { [255, 0, 0] } else { [0, 0, 255] };
        assert!(near(p.0, want), "({x},{y}) is {:?}, want {want:?}", p.0);
    }
}

/// An animated GIF or WebP is read as its first frame (red; the second is blue).
#[test]
fn animated_gif_and_webp_give_their_first_frame() {
    for name in ["animated.gif", "animated.webp"] {
        let image = load_image(hostile(name), &Limits::default()).unwrap();
        assert_eq!(image.dimensions(), (32, 24), "{name}");
        for p in image.rgb().pixels() {
            assert_eq!(p, &Rgb([255, 0, 0]), "{name}");
        }
    }
}

/// In-memory data has no path, and its errors do not start with one: `cannot decode …`, not
/// `: cannot decode …` (a regression test: the empty path used to leave a leading `: `).
#[test]
fn in_memory_decode_errors_have_no_empty_path_prefix() {
    let png = std::fs::read(hostile("truncated.png")).unwrap();
    let err = decode_image(&png, &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert_eq!(
        err.full_message(),
        "cannot decode or encode image: unexpected end of file"
    );
}

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let photo = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 7) as u8, (y * 5) as u8, (x * y) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(photo)
        .write_to(&mut out, ImageFormat::Jpeg)
        .unwrap();
    out.into_inner()
}

/// The truncation check walks the header segments: an EXIF-style APP1 segment holding a whole
/// thumbnail JPEG (with its own end-of-image marker) does not make a truncated photo pass, and
/// data after the end-of-image marker (camera trailers, motion photos) does not make a
/// complete one fail.
#[test]
fn the_jpeg_truncation_check_reads_segments_and_allows_trailers() {
    let photo = jpeg(64, 48);
    let thumbnail = jpeg(8, 8);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&thumbnail);
    let mut with_thumbnail = photo[..2].to_vec();
    with_thumbnail.extend_from_slice(&[0xFF, 0xE1]);
    with_thumbnail.extend_from_slice(&(app1.len() as u16 + 2).to_be_bytes());
    with_thumbnail.extend_from_slice(&app1);
    with_thumbnail.extend_from_slice(&photo[2..]);
    let limits = Limits::default();
    assert_eq!(
        decode_image(&with_thumbnail, &limits).unwrap().dimensions(),
        (64, 48)
    );
    let cut = &with_thumbnail[..with_thumbnail.len() - 200];
    let err = decode_image(cut, &limits).unwrap_err();
    assert!(
        err.full_message().contains("truncated"),
        "{}",
        err.full_message()
    );

    let mut trailer = photo.clone();
    trailer.extend_from_slice(b"\xFF\xDA trailing data, not JPEG \xFF\x00");
    assert_eq!(
        decode_image(&trailer, &limits).unwrap().dimensions(),
        (64, 48)
    );
    // Cut just before the end-of-image marker: refused.
    let err = decode_image(&photo[..photo.len() - 2], &limits).unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
}

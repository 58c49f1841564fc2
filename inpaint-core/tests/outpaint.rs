//! IOPaint's extender (outpainting), checked against what IOPaint 1.6.0 itself does.
//!
//! `tests/data/outpaint/` holds IOPaint's records, written by `scripts/make-outpaint-records.py`,
//! which runs IOPaint's own `DiffusionInpaintModel.__call__` (`_do_outpainting`,
//! `expand_image`, `_scaled_pad_forward`) with the stand-in model [`Standin`] computes: for each
//! case, the input, what the model was handed (the expanded image and mask, padded to 8) and the
//! final composition.

use std::path::{Path, PathBuf};

use image::{GrayImage, Rgb, RgbImage, RgbaImage};
use inpaint_core::{
    CropBox, Error, Image, InpaintModel, InpaintOptions, Mask, ModelSpec, Request, Result, inpaint,
    inpaint_in_place,
};

use crate::support::{Recorder, noise_rgb, rect_mask};

/// The stand-in diffusion model of the records: channel `c` of the pixel at `(x, y)` is
/// `3·v + 7·x + 11·y + 29·c + 64·[mask > 127]` modulo 256. It records what it is handed.
struct Standin {
    spec: ModelSpec,
    calls: Vec<(RgbImage, GrayImage)>,
}

impl Standin {
    fn new() -> Self {
        Standin {
            spec: ModelSpec::new("standin")
                .with_pad_multiple(8)
                .with_honours_hd_strategy(false)
                .with_takes_prompt(true),
            calls: Vec::new(),
        }
    }
}

impl InpaintModel for Standin {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn forward(&mut self, image: &RgbImage, mask: &Mask, _request: &Request) -> Result<RgbImage> {
        self.calls.push((image.clone(), mask.as_gray().clone()));
        Ok(RgbImage::from_fn(image.width(), image.height(), |x, y| {
            let filled = u32::from(mask.as_gray().get_pixel(x, y).0[0] > 127);
            let v = image.get_pixel(x, y).0;
            Rgb(std::array::from_fn(|c| {
                let c32 = c as u32;
                ((u32::from(v[c]) * 3 + x * 7 + y * 11 + c32 * 29 + filled * 64) % 256) as u8
            }))
        }))
    }
}

fn records() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/outpaint")
}

fn rgb(name: &str) -> RgbImage {
    image::open(records().join(name)).unwrap().into_rgb8()
}

fn gray(name: &str) -> GrayImage {
    image::open(records().join(name)).unwrap().into_luma8()
}

/// One line of `cases.txt`.
struct Case {
    name: String,
    extender: CropBox,
    blur: u32,
    keep_unmasked: bool,
    match_histograms: bool,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(records().join("cases.txt")).unwrap();
    let cases: Vec<Case> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(f.len(), 8, "{line}");
            Case {
                name: f[0].to_owned(),
                extender: CropBox {
                    x: f[1].parse().unwrap(),
                    y: f[2].parse().unwrap(),
                    width: f[3].parse().unwrap(),
                    height: f[4].parse().unwrap(),
                },
                blur: f[5].parse().unwrap(),
                keep_unmasked: f[6] == "1",
                match_histograms: f[7] == "1",
            }
        })
        .collect();
    assert!(cases.len() >= 5, "records missing");
    cases
}

/// The largest difference of one channel between two images of the same size.
fn max_difference(a: &RgbImage, b: &RgbImage) -> u8 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0)
}

/// The expanded image and mask the model is handed are IOPaint's, byte for byte, and so is the
/// final composition, except with `sd_mask_blur`: our Gaussian is computed in floating point and
/// rounded (within one level of OpenCV's fixed-point one), applied twice when outpainting, and
/// the blend rounds where IOPaint truncates; measured at most 2 levels on these records, 3
/// allowed.
#[test]
fn outpainting_is_iopaints() {
    for case in cases() {
        let name = &case.name;
        let input = rgb(&format!("{name}-input.png"));
        let (w, h) = input.dimensions();
        // IOPaint ignores the caller's mask when outpainting; so does the pipeline.
        let mask = rect_mask(w, h, &[(w / 3, h / 3, w / 6 + 1, h / 6 + 1)]);
        let options = InpaintOptions::default()
            .with_extender(Some(case.extender))
            .with_sd_mask_blur(case.blur)
            .with_sd_keep_unmasked_area(case.keep_unmasked)
            .with_sd_match_histograms(case.match_histograms);
        let mut model = Standin::new();
        let out = inpaint(
            &mut model,
            &Image::from_rgb(input).unwrap(),
            &mask,
            &options,
        )
        .unwrap();

        let expected = rgb(&format!("{name}-output.png"));
        assert_eq!(
            options.output_size(w, h).unwrap(),
            expected.dimensions(),
            "{name}"
        );
        if model.calls.is_empty() {
            // Nothing to paint and the unmasked area kept: IOPaint's model ran to no effect.
            assert!(case.keep_unmasked, "{name}: the model was not run");
        } else {
            assert_eq!(model.calls.len(), 1, "{name}");
            let (seen_image, seen_mask) = &model.calls[0];
            assert!(
                seen_image == &rgb(&format!("{name}-model-image.png")),
                "{name}: the expanded image differs from IOPaint's"
            );
            assert!(
                seen_mask == &gray(&format!("{name}-model-mask.png")),
                "{name}: the expanded mask differs from IOPaint's"
            );
        }
        let tolerance = if case.blur == 0 { 0 } else { 3 };
        let difference = max_difference(out.rgb(), &expected);
        assert!(
            difference <= tolerance,
            "{name}: differs from IOPaint's composition by {difference} (allowed {tolerance})"
        );
    }
}

fn diffusion_options(extender: CropBox) -> InpaintOptions {
    InpaintOptions::default().with_extender(Some(extender))
}

fn run(image: &RgbImage, options: &InpaintOptions) -> Result<(Image, Standin)> {
    let mut model = Standin::new();
    let (w, h) = image.dimensions();
    let out = inpaint(
        &mut model,
        &Image::from_rgb(image.clone()).unwrap(),
        &Mask::from_gray(GrayImage::new(w, h)).unwrap(),
        options,
    )?;
    Ok((out, model))
}

#[test]
fn the_original_pixels_are_kept_and_the_new_ones_painted() {
    let image = noise_rgb(30, 20, 9);
    let extender = CropBox::around(30, 20, 5, 6, 7, 8).unwrap();
    let (out, model) = run(&image, &diffusion_options(extender)).unwrap();
    assert_eq!(out.dimensions(), (42, 34));
    assert_eq!(model.calls[0].0.dimensions(), (48, 40), "padded to 8");
    for (x, y, p) in out.rgb().enumerate_pixels() {
        let inside = (5..35).contains(&x) && (6..26).contains(&y);
        if inside {
            assert_eq!(p, image.get_pixel(x - 5, y - 6), "({x}, {y}) changed");
        }
    }
    // A painted pixel is the model's.
    assert_ne!(out.rgb().get_pixel(0, 0), &Rgb([0, 0, 0]));
}

#[test]
fn in_place_replaces_the_image_with_the_canvas() {
    let image = noise_rgb(16, 8, 2);
    let mut target = Image::from_rgb(image.clone()).unwrap();
    let mask = Mask::from_gray(GrayImage::new(16, 8)).unwrap();
    let options = diffusion_options(CropBox {
        x: 0,
        y: 0,
        width: 16,
        height: 20,
    });
    inpaint_in_place(&mut Standin::new(), &mut target, &mask, &options).unwrap();
    assert_eq!(target.dimensions(), (16, 20));
    // On error the image is left as it was.
    let mut target = Image::from_rgb(image.clone()).unwrap();
    let bad = diffusion_options(CropBox {
        x: 16,
        y: 0,
        width: 4,
        height: 4,
    });
    assert!(inpaint_in_place(&mut Standin::new(), &mut target, &mask, &bad).is_err());
    assert_eq!(target.rgb(), &image);
}

#[test]
fn alpha_is_kept_over_the_image_and_opaque_elsewhere() {
    let rgba = RgbaImage::from_fn(8, 8, |x, _| image::Rgba([10, 20, 30, (x * 20) as u8]));
    let mut model = Standin::new();
    let out = inpaint(
        &mut model,
        &Image::from_rgba(rgba).unwrap(),
        &Mask::from_gray(GrayImage::new(8, 8)).unwrap(),
        &diffusion_options(CropBox::around(8, 8, 4, 0, 0, 0).unwrap()),
    )
    .unwrap();
    let alpha = out.alpha().unwrap();
    assert_eq!(alpha.dimensions(), (12, 8));
    assert_eq!(alpha.get_pixel(0, 3).0, [255]);
    assert_eq!(alpha.get_pixel(4, 3).0, [0]);
    assert_eq!(alpha.get_pixel(11, 3).0, [140]);
}

#[test]
fn bad_boxes_are_clear_errors() {
    let image = noise_rgb(20, 10, 4);
    let invalid = |extender: CropBox, needle: &str| {
        let options = diffusion_options(extender);
        for err in [
            run(&image, &options).err().unwrap(),
            options.output_size(20, 10).unwrap_err(),
        ] {
            assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
            assert!(err.to_string().contains(needle), "{err}");
        }
    };
    let b = |x, y, width, height| CropBox {
        x,
        y,
        width,
        height,
    };
    invalid(b(20, 0, 10, 10), "does not overlap");
    invalid(b(-10, 0, 10, 10), "does not overlap");
    invalid(b(0, 10, 10, 10), "does not overlap");
    invalid(b(0, 0, 0, 10), "no area");
    invalid(b(0, 0, 10, 0), "no area");
    invalid(
        b(i64::MIN, i64::MAX, u32::MAX, u32::MAX),
        "does not overlap",
    );
    // An absurd canvas is refused before anything is allocated.
    let huge = diffusion_options(b(-(1 << 31), 0, u32::MAX, 10));
    let err = run(&image, &huge).err().unwrap();
    assert!(matches!(err, Error::LimitsExceeded { .. }), "{err}");
    assert!(CropBox::around(u32::MAX, 1, 1, 0, 0, 0).is_err());
}

#[test]
fn the_extender_and_the_croper_do_not_combine() {
    let image = noise_rgb(20, 10, 5);
    let options = diffusion_options(CropBox::around(20, 10, 4, 0, 0, 0).unwrap()).with_croper(
        Some(CropBox {
            x: 0,
            y: 0,
            width: 8,
            height: 8,
        }),
    );
    let err = run(&image, &options).err().unwrap();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    assert!(err.to_string().contains("croper and the extender"), "{err}");
}

#[test]
fn the_extender_is_refused_for_other_models() {
    let image = Image::from_rgb(noise_rgb(16, 16, 1)).unwrap();
    let mask = rect_mask(16, 16, &[(4, 4, 4, 4)]);
    let options = diffusion_options(CropBox::around(16, 16, 8, 0, 0, 0).unwrap());
    for spec in [
        ModelSpec::new("erase"),
        ModelSpec::new("fixed")
            .with_fixed_size(Some(256))
            .with_honours_hd_strategy(false),
    ] {
        let mut model = Recorder::new(spec);
        let err = inpaint(&mut model, &image, &mask, &options).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
        assert!(err.to_string().contains("extender apply only"), "{err}");
        assert!(model.calls.is_empty());
    }
}

#[test]
fn a_box_inside_the_image_changes_nothing_unless_the_whole_box_is_wanted() {
    let image = noise_rgb(20, 10, 6);
    let inside = CropBox {
        x: 2,
        y: 2,
        width: 10,
        height: 5,
    };
    let (out, model) = run(&image, &diffusion_options(inside)).unwrap();
    assert!(
        model.calls.is_empty(),
        "nothing to paint: the model is not run"
    );
    assert_eq!(out.rgb(), &image);
    let whole = diffusion_options(inside).with_sd_keep_unmasked_area(false);
    let (out, model) = run(&image, &whole).unwrap();
    assert_eq!(model.calls.len(), 1);
    assert_ne!(out.rgb().get_pixel(2, 2), image.get_pixel(2, 2));
    assert_eq!(out.rgb().get_pixel(12, 2), image.get_pixel(12, 2));
}

#[test]
fn sd_scale_shrinks_the_box_the_model_sees() {
    let image = noise_rgb(32, 16, 7);
    let options =
        diffusion_options(CropBox::around(32, 16, 0, 8, 0, 8).unwrap()).with_sd_scale(0.5);
    let (out, model) = run(&image, &options).unwrap();
    assert_eq!(model.calls[0].0.dimensions(), (16, 16));
    assert_eq!(out.dimensions(), (32, 32));
    for (x, y, p) in image.enumerate_pixels() {
        assert_eq!(
            out.rgb().get_pixel(x, y + 8),
            p,
            "sd_scale resampled ({x}, {y})"
        );
    }
}

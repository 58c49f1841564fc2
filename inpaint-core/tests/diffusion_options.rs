//! IOPaint's diffusion options (`sd_scale`, the croper, `sd_mask_blur`, `sd_match_histograms`,
//! `sd_keep_unmasked_area`) on mock models that see the whole image, as diffusion models do.

use image::{Rgb, RgbImage};
use inpaint_core::{CropBox, Error, Image, InpaintOptions, ModelSpec, inpaint};

use crate::support::{Recorder, noise_rgb, rect_mask};

/// A diffusion model's spec: whole image, padded to 8 (as IOPaint's SD), no HD strategy.
fn diffusion_like() -> Recorder {
    Recorder::new(
        ModelSpec::new("sd-like")
            .with_pad_multiple(8)
            .with_honours_hd_strategy(false)
            .with_takes_prompt(true),
    )
}

fn changed(a: &RgbImage, b: &RgbImage, x: u32, y: u32) -> bool {
    a.get_pixel(x, y) != b.get_pixel(x, y)
}

#[test]
fn by_default_only_masked_pixels_change() {
    let image = noise_rgb(60, 40, 3);
    let mask = rect_mask(60, 40, &[(10, 10, 20, 10)]);
    let mut model = diffusion_like();
    let out = inpaint(
        &mut model,
        &Image::from_rgb(image.clone()).unwrap(),
        &mask,
        &InpaintOptions::default(),
    )
    .unwrap();
    for (x, y, p) in out.rgb().enumerate_pixels() {
        if mask.as_gray().get_pixel(x, y).0[0] == 0 {
            assert_eq!(p, image.get_pixel(x, y));
        }
    }
    assert_eq!(model.calls[0].0.dimensions(), (64, 40));
}

#[test]
fn croper_limits_what_the_model_sees_and_what_changes() {
    let image = noise_rgb(100, 80, 5);
    // Two holes, one inside the box, one outside it.
    let mask = rect_mask(100, 80, &[(30, 30, 10, 10), (80, 5, 10, 10)]);
    let mut model = diffusion_like();
    let options = InpaintOptions::default()
        .with_sd_keep_unmasked_area(false)
        .with_croper(Some(CropBox {
            x: -8,
            y: 20,
            width: 68,
            height: 40,
        }));
    let out = inpaint(
        &mut model,
        &Image::from_rgb(image.clone()).unwrap(),
        &mask,
        &options,
    )
    .unwrap();
    // The box clipped to the image: x 0..60, y 20..60, padded to 64×40.
    assert_eq!(model.calls.len(), 1);
    assert_eq!(model.calls[0].0.dimensions(), (64, 40));
    let out = out.rgb();
    assert!(changed(out, &image, 0, 20) && changed(out, &image, 59, 59));
    assert!(!changed(out, &image, 60, 59) && !changed(out, &image, 0, 19));
    // The hole outside the box is not filled.
    assert!(!changed(out, &image, 85, 10));
}

#[test]
fn sd_scale_shrinks_what_the_model_sees() {
    let image = noise_rgb(64, 48, 7);
    let mask = rect_mask(64, 48, &[(16, 16, 16, 16)]);
    let mut model = diffusion_like();
    let out = inpaint(
        &mut model,
        &Image::from_rgb(image.clone()).unwrap(),
        &mask,
        &InpaintOptions::default().with_sd_scale(0.5),
    )
    .unwrap();
    assert_eq!(model.calls[0].0.dimensions(), (32, 24));
    for (x, y, p) in out.rgb().enumerate_pixels() {
        if mask.as_gray().get_pixel(x, y).0[0] == 0 {
            assert_eq!(p, image.get_pixel(x, y), "sd_scale resampled ({x}, {y})");
        }
    }
}

#[test]
fn mask_blur_feathers_past_the_mask_only_when_asked() {
    let image = RgbImage::from_pixel(64, 64, Rgb([0, 0, 0]));
    let mask = rect_mask(64, 64, &[(24, 24, 16, 16)]);
    let mut model = diffusion_like();
    let out = inpaint(
        &mut model,
        &Image::from_rgb(image.clone()).unwrap(),
        &mask,
        &InpaintOptions::default().with_sd_mask_blur(4),
    )
    .unwrap();
    let out = out.rgb();
    // Just outside the hole: part of the result; far away: untouched.
    assert!(changed(out, &image, 22, 30), "no feathering");
    assert!(!changed(out, &image, 5, 5));
}

#[test]
fn match_histograms_remaps_the_result_onto_the_inputs_levels() {
    /// Returns its input brightened by 60: matching should bring it back.
    struct Brighter(ModelSpec);
    impl inpaint_core::InpaintModel for Brighter {
        fn spec(&self) -> &ModelSpec {
            &self.0
        }
        fn forward(
            &mut self,
            image: &RgbImage,
            _mask: &inpaint_core::Mask,
            _request: &inpaint_core::Request,
        ) -> inpaint_core::Result<RgbImage> {
            let mut out = image.clone();
            out.pixels_mut()
                .for_each(|p| p.0.iter_mut().for_each(|c| *c = c.saturating_add(60)));
            Ok(out)
        }
    }
    let image = RgbImage::from_fn(64, 32, |x, _| Rgb([(x * 2) as u8, 50, 100]));
    let mask = rect_mask(64, 32, &[(20, 8, 8, 8)]);
    let mut model = Brighter(diffusion_like().spec);
    let run = |model: &mut Brighter, matched: bool| {
        inpaint(
            model,
            &Image::from_rgb(image.clone()).unwrap(),
            &mask,
            &InpaintOptions::default().with_sd_match_histograms(matched),
        )
        .unwrap()
    };
    assert_eq!(
        run(&mut model, false).rgb().get_pixel(24, 10),
        &Rgb([108, 110, 160])
    );
    assert_eq!(
        run(&mut model, true).rgb().get_pixel(24, 10),
        &Rgb([48, 50, 100])
    );
}

#[test]
fn diffusion_options_are_refused_for_other_models() {
    let image = Image::from_rgb(noise_rgb(16, 16, 1)).unwrap();
    let mask = rect_mask(16, 16, &[(4, 4, 4, 4)]);
    let mut erase = Recorder::new(ModelSpec::new("erase"));
    let err = inpaint(
        &mut erase,
        &image,
        &mask,
        &InpaintOptions::default()
            .with_sd_mask_blur(11)
            .with_sd_keep_unmasked_area(false),
    )
    .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("sd_mask_blur, sd_keep_unmasked_area"),
        "{err}"
    );
    assert!(erase.calls.is_empty());
}

/// Diffusion options are checked before any early return: an empty mask (nothing to fill) and a
/// fixed-size model's crops must not let them through silently.
#[test]
fn diffusion_options_are_refused_before_any_early_return() {
    let image = Image::from_rgb(noise_rgb(24, 20, 2)).unwrap();
    let empty = rect_mask(24, 20, &[]);
    let hole = rect_mask(24, 20, &[(4, 4, 4, 4)]);
    let croper = Some(CropBox {
        x: 0,
        y: 0,
        width: 8,
        height: 8,
    });
    let cases = [
        ("erase", ModelSpec::new("erase"), &empty),
        (
            "fixed-size",
            ModelSpec::new("fixed-size").with_fixed_size(Some(16)),
            &hole,
        ),
        (
            "fixed-size",
            ModelSpec::new("fixed-size").with_fixed_size(Some(16)),
            &empty,
        ),
    ];
    let options = [
        (
            "sd_mask_blur",
            InpaintOptions::default().with_sd_mask_blur(11),
        ),
        ("croper", InpaintOptions::default().with_croper(croper)),
        ("sd_scale", InpaintOptions::default().with_sd_scale(0.5)),
        (
            "sd_match_histograms",
            InpaintOptions::default().with_sd_match_histograms(true),
        ),
        (
            "sd_keep_unmasked_area",
            InpaintOptions::default().with_sd_keep_unmasked_area(false),
        ),
    ];
    for (name, spec, mask) in &cases {
        for (option, options) in &options {
            let mut model = Recorder::new(spec.clone());
            let err = inpaint(&mut model, &image, mask, options).unwrap_err();
            assert!(matches!(err, Error::InvalidInput { .. }), "{name}: {err}");
            let expected = format!("{option} apply only to models that see the whole image");
            assert!(err.to_string().contains(&expected), "{name}: {err}");
            assert!(model.calls.is_empty(), "{name} ran with {option}");
            // What a server that ignores them for erase models passes instead.
            let without = options.clone().without_diffusion_options();
            assert_eq!(without, InpaintOptions::default());
            inpaint(&mut model, &image, mask, &without).unwrap();
        }
    }
}

/// The same options with a diffusion model and an empty mask are valid: nothing to fill.
#[test]
fn diffusion_options_with_an_empty_mask_leave_the_image_as_it_is() {
    let image = Image::from_rgb(noise_rgb(24, 20, 3)).unwrap();
    let empty = rect_mask(24, 20, &[]);
    let mut model = diffusion_like();
    let options = InpaintOptions::default()
        .with_sd_mask_blur(11)
        .with_sd_scale(0.5);
    let out = inpaint(&mut model, &image, &empty, &options).unwrap();
    assert_eq!(out, image);
    assert!(model.calls.is_empty());
}

//! The classical models through the shared pipeline: the outside-mask invariant over random
//! images, masks, odd sizes, strategies and radii, and what a fill looks like.

use inpaint_core::image::{GrayImage, Luma, Rgb, RgbImage, RgbaImage};
use inpaint_core::{HdStrategy, Image, InpaintOptions, Mask, inpaint};
use inpaint_models::{ModelOptions, by_name};

/// The models that take a radius.
const CLASSICAL: [&str; 2] = ["telea", "navier-stokes"];
use proptest::prelude::*;

fn noise(w: u32, h: u32, seed: u32) -> RgbImage {
    let mut s = seed.max(1);
    RgbImage::from_fn(w, h, |_, _| {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        let [a, b, c, _] = s.to_le_bytes();
        Rgb([a, b, c])
    })
}

prop_compose! {
    fn case()(w in 1u32..48, h in 1u32..48)(
        w in Just(w),
        h in Just(h),
        mask in proptest::collection::vec(any::<u8>(), (w * h) as usize),
        seed in 1u32..u32::MAX,
        alpha in any::<bool>(),
        model in 0..CLASSICAL.len(),
        radius in prop_oneof![Just(4.0), 0.5f64..12.0],
        strategy in prop_oneof![Just(HdStrategy::Original), Just(HdStrategy::Resize), Just(HdStrategy::Crop)],
        trigger in 0u32..60,
        limit in 1u32..60,
    ) -> (Image, Mask, usize, f64, InpaintOptions) {
        let rgb = noise(w, h, seed);
        let image = if alpha {
            Image::from_rgba(RgbaImage::from_fn(w, h, |x, y| {
                let [r, g, b] = rgb.get_pixel(x, y).0;
                image::Rgba([r, g, b, g])
            })).unwrap()
        } else {
            Image::from_rgb(rgb).unwrap()
        };
        let mask = Mask::from_gray(GrayImage::from_raw(w, h, mask).unwrap()).unwrap();
        let options = InpaintOptions::new(strategy)
            .with_crop_trigger_size(trigger)
            .with_crop_margin(8)
            .with_resize_limit(limit);
        (image, mask, model, radius, options)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn outside_mask_is_byte_identical_and_runs_are_deterministic(
        (image, mask, model, radius, options) in case()
    ) {
        let mut m = by_name(CLASSICAL[model], &ModelOptions::new().with_radius(radius)).unwrap();
        let out = inpaint(&mut m, &image, &mask, &options).unwrap();
        prop_assert_eq!(out.dimensions(), image.dimensions());
        prop_assert_eq!(out.alpha(), image.alpha());
        for (x, y, p) in image.rgb().enumerate_pixels() {
            if mask.is_fill(x, y) == Some(false) {
                prop_assert_eq!(out.rgb().get_pixel(x, y), p, "({}, {}) changed", x, y);
            }
        }
        let again = inpaint(&mut m, &image, &mask, &options).unwrap();
        prop_assert_eq!(out, again);
    }
}

/// A horizontal ramp with a hole in the middle: both models fill it close to the ramp.
#[test]
fn fills_a_smooth_ramp_closely() {
    let rgb = RgbImage::from_fn(64, 48, |x, _| {
        Rgb([(x * 4) as u8, 100, 255 - (x * 4) as u8])
    });
    let image = Image::from_rgb(rgb.clone()).unwrap();
    let mask = Mask::from_gray(GrayImage::from_fn(64, 48, |x, y| {
        Luma([if (28..36).contains(&x) && (20..28).contains(&y) {
            255
        } else {
            0
        }])
    }))
    .unwrap();
    for name in CLASSICAL {
        let out = inpaint(
            &mut by_name(name, &ModelOptions::new()).unwrap(),
            &image,
            &mask,
            &InpaintOptions::default(),
        )
        .unwrap();
        let mut worst = 0i32;
        for y in 20..28 {
            for x in 28..36 {
                for c in 0..3 {
                    let d = i32::from(out.rgb().get_pixel(x, y).0[c])
                        - i32::from(rgb.get_pixel(x, y).0[c]);
                    worst = worst.max(d.abs());
                }
            }
        }
        // The ramp changes by 4 per pixel; a fill from one side only would be off by ~16.
        assert!(worst <= 10, "{name}: worst error {worst}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// PatchMatch through the pipeline: the same invariants, with a small patch so that the
    /// debug build stays quick.
    #[test]
    fn patchmatch_keeps_outside_pixels_and_is_deterministic(
        (image, mask, _, _, options) in case(),
        seed in 0u64..4,
    ) {
        let model_options = ModelOptions::new().with_patch_size(3).with_seed(seed);
        let mut m = by_name("patchmatch", &model_options).unwrap();
        let out = inpaint(&mut m, &image, &mask, &options).unwrap();
        prop_assert_eq!(out.dimensions(), image.dimensions());
        prop_assert_eq!(out.alpha(), image.alpha());
        for (x, y, p) in image.rgb().enumerate_pixels() {
            if mask.is_fill(x, y) == Some(false) {
                prop_assert_eq!(out.rgb().get_pixel(x, y), p, "({}, {}) changed", x, y);
            }
        }
        let again = inpaint(&mut by_name("patchmatch", &model_options).unwrap(), &image, &mask, &options).unwrap();
        prop_assert_eq!(out, again);
    }
}

/// A diffusion option given to a classical model is an error even when the mask is empty (the
/// model would not run), so the same bad input always gets the same answer.
#[test]
fn diffusion_options_are_refused_even_with_an_empty_mask() {
    let image = Image::from_rgb(noise(20, 16, 5)).unwrap();
    let empty = Mask::from_gray(GrayImage::new(20, 16)).unwrap();
    let options = InpaintOptions::default().with_sd_mask_blur(11);
    for name in CLASSICAL {
        let mut model = by_name(name, &ModelOptions::new()).unwrap();
        let err = inpaint(&mut model, &image, &empty, &options).unwrap_err();
        assert!(
            matches!(err, inpaint_core::Error::InvalidInput { .. }),
            "{name}: {err}"
        );
        assert!(err.to_string().contains("sd_mask_blur"), "{name}: {err}");
    }
}

//! The pipeline's guarantees for every model, over random images, masks, odd sizes (1 px up)
//! and HD strategies: the output has the input's size and alpha, every pixel outside the
//! binarised mask is byte-identical, an empty mask returns the input unchanged, and the same
//! input with the same seed gives the same bytes, from the same instance and from another one.
//!
//! The classical models' outside-mask and determinism properties are in `classical.rs`; here
//! they get the empty-mask property. The ONNX models run the tiny graphs of
//! `tests/fixtures/onnx` (see its README) with few cases, as each case runs several graphs.

use image::{GrayImage, RgbaImage};
use inpaint_core::image::{Rgb, RgbImage};
use inpaint_core::{HdStrategy, Image, InpaintModel, InpaintOptions, Mask, inpaint};
use inpaint_models::{ModelOptions, by_name};
use proptest::prelude::*;

/// Every model `by_name` builds without weights.
const CLASSICAL: [&str; 3] = ["telea", "navier-stokes", "patchmatch"];

pub(crate) fn noise(w: u32, h: u32, seed: u32) -> RgbImage {
    let mut s = seed.max(1);
    RgbImage::from_fn(w, h, |_, _| {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        let [a, b, c, _] = s.to_le_bytes();
        Rgb([a, b, c])
    })
}

fn image_of(w: u32, h: u32, seed: u32, alpha: bool) -> Image {
    let rgb = noise(w, h, seed);
    if alpha {
        Image::from_rgba(RgbaImage::from_fn(w, h, |x, y| {
            let [r, g, b] = rgb.get_pixel(x, y).0;
            image::Rgba([r, g, b, r ^ g])
        }))
        .unwrap()
    } else {
        Image::from_rgb(rgb).unwrap()
    }
}

fn strategy() -> impl Strategy<Value = HdStrategy> {
    prop_oneof![
        Just(HdStrategy::Original),
        Just(HdStrategy::Resize),
        Just(HdStrategy::Crop)
    ]
}

prop_compose! {
    /// An image of odd or even size from 1 px; a mask of up to three rectangles, with every
    /// value random on its side of the threshold (so binarising is exercised at every pixel,
    /// while the crop strategy sees at most three regions), empty in about one case in four;
    /// and options whose trigger and limit are small enough for the crop and resize paths to
    /// run.
    fn case(max_side: u32)(w in 1u32..=max_side, h in 1u32..=max_side)(
        w in Just(w),
        h in Just(h),
        values in proptest::collection::vec(any::<u8>(), (w * h) as usize),
        rects in proptest::collection::vec((0..w, 0..h, 1..=w, 1..=h), 0..=3),
        empty in proptest::bool::weighted(0.25),
        seed in 1u32..u32::MAX,
        alpha in any::<bool>(),
        strategy in strategy(),
        trigger in 0u32..80,
        margin in 0u32..24,
        limit in 1u32..80,
    ) -> (Image, Mask, InpaintOptions) {
        let inside = |x: u32, y: u32| {
            !empty && rects.iter().any(|&(x0, y0, rw, rh)| {
                (x0..x0.saturating_add(rw)).contains(&x) && (y0..y0.saturating_add(rh)).contains(&y)
            })
        };
        let mask = GrayImage::from_fn(w, h, |x, y| {
            let v = values[(y * w + x) as usize];
            image::Luma([if inside(x, y) { v | 0x80 } else { v & 0x7F }])
        });
        let mask = Mask::from_gray(mask).unwrap();
        let options = InpaintOptions::new(strategy)
            .with_crop_trigger_size(trigger)
            .with_crop_margin(margin)
            .with_resize_limit(limit);
        (image_of(w, h, seed, alpha), mask, options)
    }
}

/// Runs `model` (and `twin`, another instance built the same way) and checks every property.
fn check(
    name: &str,
    model: &mut (impl InpaintModel + ?Sized),
    twin: &mut (impl InpaintModel + ?Sized),
    image: &Image,
    mask: &Mask,
    options: &InpaintOptions,
) -> Result<(), TestCaseError> {
    let out = inpaint(model, image, mask, options)
        .map_err(|e| TestCaseError::fail(format!("{name}: {}", e.full_message())))?;
    prop_assert_eq!(out.dimensions(), image.dimensions(), "{}", name);
    prop_assert_eq!(out.alpha(), image.alpha(), "{}", name);
    for (x, y, p) in image.rgb().enumerate_pixels() {
        if mask.is_fill(x, y) == Some(false) {
            prop_assert_eq!(
                out.rgb().get_pixel(x, y),
                p,
                "{}: ({}, {}) outside the mask changed",
                name,
                x,
                y
            );
        }
    }
    if mask.fill_count() == 0 {
        prop_assert!(&out == image, "{}: an empty mask changed the image", name);
    }
    let again = inpaint(model, image, mask, options).unwrap();
    prop_assert!(out == again, "{}: a second run differs", name);
    let other = inpaint(twin, image, mask, options).unwrap();
    prop_assert!(out == other, "{}: another instance differs", name);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The classical models with an empty mask: the input back, the model never run (so even a
    /// 1×1 image with a 1-px patch window is no special case). The mask's values go up to 127.
    #[test]
    fn classical_models_return_the_input_for_an_empty_mask(
        w in 1u32..40,
        h in 1u32..40,
        seed in 1u32..u32::MAX,
        keep in 0u8..=127,
        alpha in any::<bool>(),
        strategy in strategy(),
    ) {
        let image = image_of(w, h, seed, alpha);
        let mask = Mask::from_gray(GrayImage::from_pixel(w, h, image::Luma([keep]))).unwrap();
        for name in CLASSICAL {
            let mut model = by_name(name, &ModelOptions::new()).unwrap();
            let out = inpaint(&mut model, &image, &mask, &InpaintOptions::new(strategy)).unwrap();
            prop_assert!(out == image, "{}", name);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// PatchMatch with its default patch size (7) and a seed: the classical tests use patch 3.
    #[test]
    fn patchmatch_with_default_patch_and_a_seed_keeps_every_property(
        (image, mask, options) in case(40),
        seed in any::<u64>(),
    ) {
        let options_for = || ModelOptions::new().with_seed(seed);
        let mut model = by_name("patchmatch", &options_for()).unwrap();
        let mut twin = by_name("patchmatch", &options_for()).unwrap();
        check("patchmatch", &mut model, &mut twin, &image, &mask, &options)?;
    }
}

#[cfg(feature = "onnx")]
mod onnx {
    use std::cell::RefCell;
    use std::path::PathBuf;

    use inpaint_models::onnx::{Architecture, OnnxModel, OnnxOptions};
    use proptest::test_runner::{Config, TestRunner};

    use super::{case, check};

    fn load(file: &str, arch: Architecture) -> OnnxModel {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/onnx")
            .join(file);
        let options = OnnxOptions::default().with_seed(7);
        OnnxModel::load(&path, arch, &options)
            .unwrap_or_else(|e| panic!("{file}: {}", e.full_message()))
    }

    /// Runs `cases` random cases through each graph: twice on one instance, once on another.
    fn run(graphs: &[(&str, Architecture)], cases: u32) {
        let models: Vec<_> = graphs
            .iter()
            .map(|&(file, arch)| (file, RefCell::new((load(file, arch), load(file, arch)))))
            .collect();
        let mut runner = TestRunner::new(Config::with_cases(cases));
        runner
            .run(&case(72), |(image, mask, options)| {
                for (file, pair) in &models {
                    let (model, twin) = &mut *pair.borrow_mut();
                    check(file, model, twin, &image, &mask, &options)?;
                }
                Ok(())
            })
            .unwrap();
    }

    /// The graphs that run at the input's (padded) size: dynamic LaMa in float32 and float16,
    /// and the MI-GAN pipeline (uint8 in and out).
    #[test]
    fn dynamic_onnx_models_keep_every_property() {
        run(
            &[
                ("lama_dynamic.onnx", Architecture::LamaDynamic),
                ("lama_dynamic_fp16.onnx", Architecture::LamaDynamic),
                ("migan_pipeline.onnx", Architecture::MiganPipeline),
            ],
            32,
        );
    }

    /// The graphs fixed at 512×512, which every crop is resized and padded to: fewer cases,
    /// as each run converts 512×512 tensors in a debug build (about 0.2 s a run). MAT has the same
    /// path and its seeded noise is checked in `onnx.rs`.
    #[test]
    fn fixed_size_onnx_models_keep_every_property() {
        run(
            &[
                ("lama_fixed512.onnx", Architecture::Lama),
                ("migan.onnx", Architecture::Migan),
            ],
            4,
        );
    }
}

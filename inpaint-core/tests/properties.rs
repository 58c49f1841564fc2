//! Property tests: whatever the image, mask, size, strategy and spec, the pixels outside the
//! binarised mask come back byte-identical, the size and alpha are kept, and the call is
//! deterministic. The classical models get the same test in `inpaint-models`.

use image::{GrayImage, RgbaImage};
use inpaint_core::{HdStrategy, Image, InpaintOptions, Mask, ModelSpec, inpaint, inpaint_in_place};
use proptest::prelude::*;

use crate::pipeline::assert_outside_mask_unchanged;
use crate::support::{Recorder, noise_rgb};

fn specs() -> Vec<ModelSpec> {
    vec![
        ModelSpec::new("plain"),
        ModelSpec::new("lama-like")
            .with_pad_multiple(8)
            .with_mask_threshold(0),
        ModelSpec::new("mat-like")
            .with_pad_multiple(16)
            .with_min_size(Some(16))
            .with_pad_to_square(true),
        ModelSpec::new("migan-like")
            .with_pad_multiple(16)
            .with_min_size(Some(16))
            .with_pad_to_square(true)
            .with_fixed_size(Some(16))
            .with_mask_threshold(120),
    ]
}

prop_compose! {
    fn case()(w in 1u32..70, h in 1u32..70)(
        w in Just(w),
        h in Just(h),
        mask in proptest::collection::vec(any::<u8>(), (w * h) as usize),
        density in 0u8..=255,
        seed in 1u32..u32::MAX,
        alpha in any::<bool>(),
        spec in 0usize..4,
        strategy in prop_oneof![Just(HdStrategy::Original), Just(HdStrategy::Resize), Just(HdStrategy::Crop)],
        trigger in 0u32..80,
        margin in 0u32..24,
        limit in 1u32..80,
    ) -> (Image, Mask, usize, InpaintOptions) {
        let rgb = noise_rgb(w, h, seed);
        let image = if alpha {
            let rgba = RgbaImage::from_fn(w, h, |x, y| {
                let [r, g, b] = rgb.get_pixel(x, y).0;
                image::Rgba([r, g, b, r ^ b])
            });
            Image::from_rgba(rgba).unwrap()
        } else {
            Image::from_rgb(rgb).unwrap()
        };
        // Values straddle the threshold; `density` sets how many are fill.
        let values = mask.into_iter().map(|v| if v < density { v.saturating_add(128) } else { v / 2 }).collect();
        let mask = Mask::from_gray(GrayImage::from_raw(w, h, values).unwrap()).unwrap();
        let options = InpaintOptions::new(strategy)
            .with_crop_trigger_size(trigger)
            .with_crop_margin(margin)
            .with_resize_limit(limit);
        (image, mask, spec, options)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn outside_mask_is_byte_identical((image, mask, spec, options) in case()) {
        let mut model = Recorder::new(specs()[spec].clone());
        let out = inpaint(&mut model, &image, &mask, &options).unwrap();
        assert_outside_mask_unchanged(&image, &mask, &out);
        if mask.fill_count() == 0 {
            prop_assert_eq!(&out, &image);
            prop_assert!(model.calls.is_empty());
        }
        // Same input, same model state: same bytes.
        let again = inpaint(&mut Recorder::new(specs()[spec].clone()), &image, &mask, &options).unwrap();
        prop_assert_eq!(&out, &again);
        // In place: the same bytes, written into the caller's image.
        let mut in_place = image.clone();
        inpaint_in_place(&mut Recorder::new(specs()[spec].clone()), &mut in_place, &mask, &options).unwrap();
        prop_assert_eq!(out, in_place);
    }
}

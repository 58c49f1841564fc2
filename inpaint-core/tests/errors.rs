//! Every error path of the core types and the pipeline: a clear error, never a panic.

use image::{GrayImage, RgbImage};
use inpaint_core::{
    Error, HdStrategy, Image, InpaintModel, InpaintOptions, Limits, Mask, ModelSpec, Request,
    Result, inpaint,
};

use crate::support::{Recorder, noise_rgb, rect_mask};

#[test]
fn mask_of_another_size_is_refused() {
    let image = Image::from_rgb(noise_rgb(10, 8, 1)).unwrap();
    let mask = rect_mask(8, 10, &[(1, 1, 2, 2)]);
    let err = inpaint(
        &mut Recorder::new(ModelSpec::new("m")),
        &image,
        &mask,
        &InpaintOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "invalid input: mask is 8×10 but the image is 10×8; they must be the same size"
    );
}

#[test]
fn empty_images_are_refused() {
    assert!(matches!(
        Image::from_rgb(RgbImage::new(0, 0)),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        Image::from_raw_rgb(0, 5, vec![]),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        Mask::from_gray(GrayImage::new(3, 0)),
        Err(Error::InvalidInput { .. })
    ));
}

#[test]
fn raw_buffers_of_the_wrong_length_are_refused() {
    let err = Image::from_raw_rgb(2, 2, vec![0; 11]).unwrap_err();
    assert!(
        err.to_string().contains("must hold 12 bytes, got 11"),
        "{err}"
    );
    let err = Mask::from_raw(2, 2, vec![0; 5]).unwrap_err();
    assert!(
        err.to_string().contains("must hold 4 bytes, got 5"),
        "{err}"
    );
}

#[test]
fn limits_refuse_large_sizes_before_allocating() {
    let limits = Limits::default();
    let err = limits.check(100_000, 100_000).unwrap_err();
    assert!(
        matches!(err, Error::LimitsExceeded { width: 100_000, .. }),
        "{err:?}"
    );
    let tight = Limits::new(64, 1000);
    assert!(tight.check(64, 15).is_ok());
    assert!(matches!(
        tight.check(65, 1),
        Err(Error::LimitsExceeded { .. })
    ));
    assert!(matches!(
        tight.check(40, 40),
        Err(Error::LimitsExceeded { .. })
    ));
    let err = Image::from_rgb_with_limits(RgbImage::new(65, 1), &tight).unwrap_err();
    assert!(err.to_string().contains("max side 64 px"), "{err}");
}

#[test]
fn unknown_hd_strategy_lists_the_known_ones() {
    let err = "cropp".parse::<HdStrategy>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid input: unknown HD strategy `cropp`; known: original, resize, crop"
    );
    for name in HdStrategy::NAMES {
        assert_eq!(name.parse::<HdStrategy>().unwrap().to_string(), name);
    }
}

#[test]
fn invalid_options_and_specs_are_errors() {
    let image = Image::from_rgb(noise_rgb(4, 4, 1)).unwrap();
    let mask = rect_mask(4, 4, &[(1, 1, 1, 1)]);
    let run = |spec: ModelSpec, options: InpaintOptions| {
        inpaint(&mut Recorder::new(spec), &image, &mask, &options).unwrap_err()
    };
    let err = run(
        ModelSpec::new("m"),
        InpaintOptions::default().with_resize_limit(0),
    );
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    for (spec, why) in [
        (
            ModelSpec::new("m").with_pad_multiple(0),
            "pad_multiple is 0",
        ),
        (
            ModelSpec::new("m")
                .with_pad_multiple(8)
                .with_min_size(Some(12)),
            "not a multiple",
        ),
        (
            ModelSpec::new("m").with_fixed_size(Some(0)),
            "fixed_size is 0",
        ),
        (
            ModelSpec::new("m").with_mask_threshold(255),
            "nothing to fill",
        ),
    ] {
        let err = run(spec, InpaintOptions::default());
        assert!(matches!(err, Error::Model { .. }), "{err:?}");
        assert!(err.to_string().contains(why), "{err}");
    }
}

/// Returns an image of the wrong size.
struct Shrinker(ModelSpec);

impl InpaintModel for Shrinker {
    fn spec(&self) -> &ModelSpec {
        &self.0
    }
    fn forward(&mut self, image: &RgbImage, _mask: &Mask, _request: &Request) -> Result<RgbImage> {
        Ok(RgbImage::new(image.width() - 1, image.height()))
    }
}

#[test]
fn a_model_returning_the_wrong_size_is_a_model_error() {
    let image = Image::from_rgb(noise_rgb(9, 9, 1)).unwrap();
    let mask = rect_mask(9, 9, &[(1, 1, 1, 1)]);
    let mut model = Shrinker(ModelSpec::new("shrinker").with_pad_multiple(8));
    let err = inpaint(&mut model, &image, &mask, &InpaintOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "model `shrinker`: forward returned 15×16 for a 16×16 input"
    );
}

#[test]
fn a_failing_model_passes_its_error_through() {
    struct Failing(ModelSpec);
    impl InpaintModel for Failing {
        fn spec(&self) -> &ModelSpec {
            &self.0
        }
        fn forward(&mut self, _: &RgbImage, _: &Mask, _: &Request) -> Result<RgbImage> {
            Err(Error::model("failing", "runtime said no"))
        }
    }
    let image = Image::from_rgb(noise_rgb(3, 3, 1)).unwrap();
    let mask = rect_mask(3, 3, &[(1, 1, 1, 1)]);
    let mut model: Box<dyn InpaintModel + Send> = Box::new(Failing(ModelSpec::new("failing")));
    let err = inpaint(&mut model, &image, &mask, &InpaintOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "model `failing`: runtime said no");
}

#[test]
fn in_place_leaves_the_image_unchanged_when_a_later_region_fails() {
    /// Succeeds once, then fails.
    struct Flaky(ModelSpec, u32);
    impl InpaintModel for Flaky {
        fn spec(&self) -> &ModelSpec {
            &self.0
        }
        fn forward(&mut self, image: &RgbImage, _: &Mask, _request: &Request) -> Result<RgbImage> {
            self.1 += 1;
            if self.1 > 1 {
                return Err(Error::model("flaky", "second region failed"));
            }
            Ok(RgbImage::new(image.width(), image.height()))
        }
    }
    let original = Image::from_rgb(noise_rgb(1000, 900, 3)).unwrap();
    let mask = rect_mask(1000, 900, &[(10, 10, 5, 5), (900, 800, 5, 5)]);
    let mut image = original.clone();
    let mut model = Flaky(ModelSpec::new("flaky"), 0);
    let err =
        inpaint_core::inpaint_in_place(&mut model, &mut image, &mask, &InpaintOptions::default())
            .unwrap_err();
    assert_eq!(err.to_string(), "model `flaky`: second region failed");
    assert_eq!(model.1, 2, "both regions were tried");
    assert_eq!(image, original);
}

//! The pipeline's guarantee, on arbitrary small images, masks, options and classical models:
//! the output has the input's size, every pixel outside the binarised mask (> 127) and the
//! alpha channel are byte-identical to the input, and a valid request never fails.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use inpaint_core::image::{GrayImage, RgbImage, RgbaImage};
use inpaint_core::{
    Error, HdStrategy, Image, InpaintModel, InpaintOptions, Mask, ModelSpec, Request, Result,
    inpaint,
};
use inpaint_models::{ModelOptions, by_name};
use libfuzzer_sys::fuzz_target;

/// The largest side tried: big enough for every HD strategy and several regions, small enough
/// for a hundred or more runs a second under the sanitizer.
const MAX_SIDE: u32 = 64;

/// The Debug form (printed with a crash) gives the seeds the buffers were tiled from.
#[derive(Debug)]
struct Case {
    model: &'static str,
    options: ModelOptions,
    inpaint: InpaintOptions,
    width: u32,
    height: u32,
    alpha: bool,
    pixel_seed: Vec<u8>,
    mask_seed: Vec<u8>,
}

impl<'a> Arbitrary<'a> for Case {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let model = *u.choose(&inpaint_models::MODEL_NAMES)?;
        let mut options = ModelOptions::new();
        match model {
            "patchmatch" => {
                // Always a small patch (the default, 7, costs five times as much as 3), or
                // now and then an invalid one, which must be refused.
                options = options.with_patch_size(*u.choose(&[3, 3, 5, 1, 4, 13])?);
                if u.arbitrary()? {
                    options = options.with_seed(u.arbitrary()?);
                }
            }
            _ => {
                if u.arbitrary()? {
                    // Up to 16: larger radii are valid but only slow the search down.
                    let special = [0.0, -1.0, f64::NAN, f64::INFINITY, 1e300, 100.5];
                    let radius = if u.ratio(1, 8)? {
                        *u.choose(&special)?
                    } else {
                        f64::from(u.int_in_range(1..=128u8)?) / 8.0
                    };
                    options = options.with_radius(radius);
                }
            }
        }
        let strategy = *u.choose(&[HdStrategy::Original, HdStrategy::Resize, HdStrategy::Crop])?;
        let inpaint = InpaintOptions::new(strategy)
            .with_crop_trigger_size(u.int_in_range(0..=MAX_SIDE + 8)?)
            .with_crop_margin(u.int_in_range(0..=MAX_SIDE)?)
            .with_resize_limit(u.int_in_range(0..=MAX_SIDE + 8)?);
        let width = u.int_in_range(1..=MAX_SIDE)?;
        let height = u.int_in_range(1..=MAX_SIDE)?;
        let alpha = u.arbitrary()?;
        // Patterns rather than raw bytes, so that short inputs still give whole images with
        // structure (and masks with several regions).
        let pixel_seed: Vec<u8> = u.arbitrary()?;
        let mask_seed: Vec<u8> = u.arbitrary()?;
        Ok(Case {
            model,
            options,
            inpaint,
            width,
            height,
            alpha,
            pixel_seed,
            mask_seed,
        })
    }
}

/// Pixels the model may be asked to fill per case, summed over its `forward` calls: two
/// whole 64×64 images. The `Crop` strategy runs the model once per group of masked regions
/// whose crops overlap, so a speckled mask can still cost several crops; past this budget the
/// case is dropped, or one case could take seconds.
const PIXEL_BUDGET: u64 = 2 * 64 * 64;

/// The model under test, delegating everything, with `forward` refused past the budget.
struct Budgeted {
    inner: Box<dyn InpaintModel + Send>,
    left: u64,
    exhausted: bool,
}

impl InpaintModel for Budgeted {
    fn spec(&self) -> &ModelSpec {
        self.inner.spec()
    }

    fn forward(&mut self, image: &RgbImage, mask: &Mask, request: &Request) -> Result<RgbImage> {
        let pixels = u64::from(image.width()) * u64::from(image.height());
        if pixels > self.left {
            self.exhausted = true;
            return Err(Error::runtime("fuzz budget exhausted"));
        }
        self.left -= pixels;
        self.inner.forward(image, mask, request)
    }

    fn pad(&self, image: &RgbImage, mask: &Mask) -> (RgbImage, Mask) {
        self.inner.pad(image, mask)
    }

    fn resize(&self, image: &RgbImage, mask: &GrayImage) -> Option<(RgbImage, GrayImage)> {
        self.inner.resize(image, mask)
    }
}

/// `seed` repeated to `len` bytes (zeros when empty).
fn tile(seed: &[u8], len: usize) -> Vec<u8> {
    if seed.is_empty() {
        return vec![0; len];
    }
    seed.iter().copied().cycle().take(len).collect()
}

fuzz_target!(|case: Case| {
    let Case {
        model,
        options,
        inpaint: inpaint_options,
        width,
        height,
        alpha,
        pixel_seed,
        mask_seed,
    } = case;
    let channels = if alpha { 4 } else { 3 };
    let pixels = tile(&pixel_seed, (width * height * channels) as usize);
    let mask = tile(&mask_seed, (width * height) as usize);
    let image = if alpha {
        Image::from_rgba(RgbaImage::from_raw(width, height, pixels).expect("sized above"))
    } else {
        Image::from_rgb(RgbImage::from_raw(width, height, pixels).expect("sized above"))
    }
    .expect("a non-empty image within the default limits");
    let mask = Mask::from_gray(GrayImage::from_raw(width, height, mask).expect("sized above"))
        .expect("a non-empty mask within the default limits");

    let mut model = match by_name(model, &options) {
        Ok(inner) => Budgeted {
            inner,
            left: PIXEL_BUDGET,
            exhausted: false,
        },
        Err(_) => return, // an invalid radius or patch size: refused, as it should be
    };
    let result = inpaint(&mut model, &image, &mask, &inpaint_options);
    let out = match result {
        Ok(out) => out,
        Err(_) if model.exhausted => return,
        Err(err) if inpaint_options.resize_limit == 0 => {
            let _ = err.to_string();
            return;
        }
        Err(err) => panic!("valid request failed: {err} ({inpaint_options:?})"),
    };
    assert_eq!(out.dimensions(), image.dimensions(), "output size");
    assert_eq!(out.alpha(), image.alpha(), "alpha channel");
    for (x, y, m) in mask.as_gray().enumerate_pixels() {
        if m.0[0] <= 127 {
            let (before, after) = (image.rgb().get_pixel(x, y), out.rgb().get_pixel(x, y));
            assert_eq!(before, after, "pixel ({x}, {y}) outside the mask changed");
        }
    }
});

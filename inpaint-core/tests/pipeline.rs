//! The pipeline's behaviour, path by path, against a recording mock model.

use image::{GrayImage, Luma, Rgb, RgbImage, RgbaImage};
use inpaint_core::{
    HdStrategy, Image, InpaintModel, InpaintOptions, Mask, ModelSpec, Request, inpaint,
};

use crate::support::{Recorder, noise_rgb, rect_mask};

fn lama_like() -> ModelSpec {
    ModelSpec::new("lama-like")
        .with_pad_multiple(8)
        .with_mask_threshold(0)
}

/// A model that only takes 512×512, as MI-GAN.
fn migan_like() -> ModelSpec {
    ModelSpec::new("migan-like")
        .with_pad_multiple(512)
        .with_min_size(Some(512))
        .with_pad_to_square(true)
        .with_fixed_size(Some(512))
}

#[test]
fn empty_mask_returns_input_without_running_the_model() {
    let image = Image::from_rgb(noise_rgb(33, 17, 5)).unwrap();
    // Values up to 127 are "keep".
    let mask = Mask::from_gray(GrayImage::from_pixel(33, 17, Luma([127]))).unwrap();
    let mut model = Recorder::new(lama_like());
    let out = inpaint(&mut model, &image, &mask, &InpaintOptions::default()).unwrap();
    assert_eq!(out, image);
    assert!(model.calls.is_empty());
}

#[test]
fn original_pads_bottom_right_by_mirroring_to_the_multiple() {
    let rgb = noise_rgb(13, 6, 7);
    let image = Image::from_rgb(rgb.clone()).unwrap();
    let mask = rect_mask(13, 6, &[(2, 2, 3, 2)]);
    let mut model = Recorder::new(lama_like());
    let out = inpaint(&mut model, &image, &mask, &InpaintOptions::default()).unwrap();
    let [(seen, seen_mask)] = model.calls.as_slice() else {
        panic!("expected one call, got {}", model.calls.len())
    };
    assert_eq!(seen.dimensions(), (16, 8));
    // Column 13 mirrors column 12, 14 mirrors 11; row 6 mirrors 5, row 7 mirrors 4.
    for y in 0..6 {
        assert_eq!(seen.get_pixel(13, y), rgb.get_pixel(12, y));
        assert_eq!(seen.get_pixel(15, y), rgb.get_pixel(10, y));
    }
    assert_eq!(seen.get_pixel(0, 6), rgb.get_pixel(0, 5));
    assert_eq!(seen.get_pixel(0, 7), rgb.get_pixel(0, 4));
    assert_eq!(seen_mask.get_pixel(3, 3), &Luma([255]));
    assert_eq!(seen_mask.get_pixel(3, 5), &Luma([0]));
    assert_eq!(out.dimensions(), (13, 6));
    assert_ne!(
        out.rgb().get_pixel(3, 3),
        rgb.get_pixel(3, 3),
        "hole not filled"
    );
}

#[test]
fn min_size_and_square_follow_the_spec() {
    let spec = ModelSpec::new("mat-like")
        .with_pad_multiple(512)
        .with_min_size(Some(512))
        .with_pad_to_square(true);
    let image = Image::from_rgb(noise_rgb(700, 300, 1)).unwrap();
    let mask = rect_mask(700, 300, &[(10, 10, 5, 5)]);
    let mut model = Recorder::new(spec);
    let options = InpaintOptions::new(HdStrategy::Original);
    inpaint(&mut model, &image, &mask, &options).unwrap();
    assert_eq!(model.calls[0].0.dimensions(), (1024, 1024));
}

#[test]
fn crop_runs_one_box_per_region_with_margin() {
    let image = Image::from_rgb(noise_rgb(1000, 900, 2)).unwrap();
    // Two separate holes, one touching the left edge.
    let mask = rect_mask(1000, 900, &[(0, 400, 20, 10), (600, 100, 30, 40)]);
    let mut model = Recorder::new(ModelSpec::new("plain"));
    let out = inpaint(&mut model, &image, &mask, &InpaintOptions::default()).unwrap();
    let sizes: Vec<_> = model.calls.iter().map(|(i, _)| i.dimensions()).collect();
    // Later regions in raster order come first, as OpenCV's findContours lists them.
    // Box 1: 30×40 + 2×128 = 286×296. Box 2 at the edge: shifted right, 20+256 = 276 wide.
    assert_eq!(sizes, [(276, 266), (286, 296)]);
    assert_outside_mask_unchanged(&image, &mask, &out);
}

#[test]
fn crop_runs_overlapping_regions_once_not_once_each() {
    // Dust: 400 one-pixel holes 20 px apart. IOPaint would run 400 crops over the same pixels.
    let (w, h) = (1600, 1200);
    let image = Image::from_rgb(noise_rgb(w, h, 7)).unwrap();
    let dots: Vec<(u32, u32, u32, u32)> = (0..400)
        .map(|i| (400 + 20 * (i % 20), 300 + 20 * (i / 20), 1, 1))
        .collect();
    let mask = rect_mask(w, h, &dots);
    let mut model = Recorder::new(ModelSpec::new("plain"));
    let out = inpaint(&mut model, &image, &mask, &InpaintOptions::default()).unwrap();
    // The dots span 381×381; with the 128 px margin each side (IOPaint's centring rounds the
    // odd width down) that is one 636×636 crop.
    let sizes: Vec<_> = model.calls.iter().map(|(i, _)| i.dimensions()).collect();
    assert_eq!(sizes, [(636, 636)]);
    assert_outside_mask_unchanged(&image, &mask, &out);
    for &(x, y, _, _) in &dots {
        assert_ne!(out.rgb().get_pixel(x, y), image.rgb().get_pixel(x, y));
    }
}

#[test]
fn fixed_size_model_merges_overlapping_crops_only_up_to_its_size() {
    let spec = migan_like().with_mask_threshold(120);
    let (w, h) = (1600, 1200);
    let image = Image::from_rgb(noise_rgb(w, h, 8)).unwrap();
    // Dots every 50 px over 1000×800: 336 regions, each crop 257×257 overlapping its neighbours.
    let dots: Vec<(u32, u32, u32, u32)> = (0..21)
        .flat_map(|x| (0..16).map(move |y| (300 + 50 * x, 200 + 50 * y, 1, 1)))
        .collect();
    let mask = rect_mask(w, h, &dots);
    let mut model = Recorder::new(spec);
    let out = inpaint(&mut model, &image, &mask, &InpaintOptions::default()).unwrap();
    // Far fewer calls than dots, but not one: merged crops stay within 512 px a side (so that
    // none is shrunk), and it takes at least 3×3 of them to cover 1000×800.
    assert!(
        (9..=40).contains(&model.calls.len()),
        "{} calls",
        model.calls.len()
    );
    assert_outside_mask_unchanged(&image, &mask, &out);
}

#[test]
fn crop_below_trigger_runs_on_the_whole_image() {
    let image = Image::from_rgb(noise_rgb(800, 600, 3)).unwrap();
    let mask = rect_mask(800, 600, &[(0, 0, 4, 4), (700, 500, 4, 4)]);
    let mut model = Recorder::new(ModelSpec::new("plain"));
    inpaint(&mut model, &image, &mask, &InpaintOptions::default()).unwrap();
    assert_eq!(model.calls.len(), 1);
    assert_eq!(model.calls[0].0.dimensions(), (800, 600));
}

#[test]
fn resize_shrinks_the_longer_side_to_the_limit() {
    let image = Image::from_rgb(noise_rgb(2000, 1001, 4)).unwrap();
    let mask = rect_mask(2000, 1001, &[(100, 100, 300, 200)]);
    let mut model = Recorder::new(lama_like());
    let options = InpaintOptions::new(HdStrategy::Resize);
    let out = inpaint(&mut model, &image, &mask, &options).unwrap();
    // int(1001 * 0.64 + 0.5) = 641, padded to 648.
    assert_eq!(model.calls[0].0.dimensions(), (1280, 648));
    assert_eq!(out.dimensions(), (2000, 1001));
    assert_outside_mask_unchanged(&image, &mask, &out);
}

#[test]
fn fixed_size_model_crops_shrinks_pads_and_resizes_back() {
    let spec = migan_like().with_mask_threshold(120);
    let image = Image::from_rgb(noise_rgb(900, 700, 5)).unwrap();
    // A large region: its crop (400+256 wide) is shrunk to fit 512; a small one is not.
    let mask = rect_mask(900, 700, &[(100, 100, 400, 300), (800, 650, 10, 10)]);
    let mut model = Recorder::new(spec);
    // The caller's strategy does not apply to a fixed-size model.
    let options = InpaintOptions::new(HdStrategy::Original);
    let out = inpaint(&mut model, &image, &mask, &options).unwrap();
    assert_eq!(model.calls.len(), 2);
    assert!(
        model
            .calls
            .iter()
            .all(|(i, _)| i.dimensions() == (512, 512))
    );
    assert_outside_mask_unchanged(&image, &mask, &out);
}

#[test]
fn fixed_size_model_at_its_size_runs_once_on_the_whole_image() {
    let spec = migan_like();
    let image = Image::from_rgb(noise_rgb(512, 512, 6)).unwrap();
    let mask = rect_mask(512, 512, &[(1, 1, 3, 3), (300, 300, 3, 3)]);
    let mut model = Recorder::new(spec);
    inpaint(&mut model, &image, &mask, &InpaintOptions::default()).unwrap();
    assert_eq!(model.calls.len(), 1);
}

#[test]
fn mask_is_binarised_above_127() {
    let image = Image::from_rgb(RgbImage::from_pixel(4, 1, Rgb([1, 2, 3]))).unwrap();
    let mask = Mask::from_gray(GrayImage::from_raw(4, 1, vec![0, 127, 128, 255]).unwrap()).unwrap();
    let mut model = Recorder::new(ModelSpec::new("plain"));
    let out = inpaint(&mut model, &image, &mask, &InpaintOptions::default()).unwrap();
    assert_eq!(model.calls[0].1.as_raw(), &[0, 0, 255, 255]);
    assert_eq!(out.rgb().get_pixel(1, 0), &Rgb([1, 2, 3]));
    assert_ne!(out.rgb().get_pixel(2, 0), &Rgb([1, 2, 3]));
}

#[test]
fn rgba_alpha_is_kept_untouched() {
    let rgba = RgbaImage::from_fn(20, 10, |x, y| {
        image::Rgba([x as u8, y as u8, 7, (x * y) as u8])
    });
    let image = Image::from_rgba(rgba.clone()).unwrap();
    let mask = rect_mask(20, 10, &[(5, 2, 6, 6)]);
    let mut model = Recorder::new(lama_like());
    let out = inpaint(&mut model, &image, &mask, &InpaintOptions::default()).unwrap();
    let back = out.into_dynamic().into_rgba8();
    for (x, y, p) in back.enumerate_pixels() {
        assert_eq!(
            p.0[3],
            rgba.get_pixel(x, y).0[3],
            "alpha changed at {x},{y}"
        );
    }
}

pub(crate) fn assert_outside_mask_unchanged(image: &Image, mask: &Mask, out: &Image) {
    assert_eq!(out.dimensions(), image.dimensions());
    for (x, y, p) in image.rgb().enumerate_pixels() {
        if mask.is_fill(x, y) == Some(false) {
            assert_eq!(
                out.rgb().get_pixel(x, y),
                p,
                "pixel {x},{y} outside the mask changed"
            );
        }
    }
    assert_eq!(out.alpha(), image.alpha());
}

/// Pads with a constant colour and "resizes" to a 1×1 image: nothing the defaults would do.
struct OwnPreparation(ModelSpec);

impl InpaintModel for OwnPreparation {
    fn spec(&self) -> &ModelSpec {
        &self.0
    }

    fn forward(
        &mut self,
        image: &RgbImage,
        _mask: &Mask,
        _request: &Request,
    ) -> inpaint_core::Result<RgbImage> {
        Ok(image.clone())
    }

    fn pad(&self, image: &RgbImage, mask: &Mask) -> (RgbImage, Mask) {
        let padded = RgbImage::from_pixel(image.width() + 1, image.height(), Rgb([7, 7, 7]));
        (padded, mask.clone())
    }

    fn resize(&self, _image: &RgbImage, mask: &GrayImage) -> Option<(RgbImage, GrayImage)> {
        Some((RgbImage::new(1, 1), mask.clone()))
    }
}

#[test]
fn a_boxed_model_keeps_its_own_padding_and_resizing() {
    let image = noise_rgb(6, 5, 3);
    let mask = Mask::from_gray(GrayImage::new(6, 5)).unwrap();
    let boxed: Box<dyn InpaintModel + Send> = Box::new(OwnPreparation(ModelSpec::new("own")));
    let (padded, _) = boxed.pad(&image, &mask);
    assert_eq!(padded.dimensions(), (7, 5));
    assert_eq!(padded.get_pixel(0, 0), &Rgb([7, 7, 7]));
    let resized = boxed.resize(&image, mask.as_gray());
    assert_eq!(resized.map(|(i, _)| i.dimensions()), Some((1, 1)));
}

/// Keeps the prompt of every request it is handed.
struct Prompted {
    spec: ModelSpec,
    prompts: Vec<String>,
}

impl InpaintModel for Prompted {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn forward(
        &mut self,
        image: &RgbImage,
        _mask: &Mask,
        request: &Request,
    ) -> inpaint_core::Result<RgbImage> {
        self.prompts.push(request.prompt.clone());
        Ok(image.clone())
    }
}

#[test]
fn every_region_is_handed_the_callers_request() {
    let image = Image::from_rgb(RgbImage::from_pixel(1000, 900, Rgb([1, 2, 3]))).unwrap();
    // Two far-apart holes: `Crop` runs the model once for each.
    let mask = Mask::from_gray(GrayImage::from_fn(1000, 900, |x, y| {
        Luma([if (x < 10 && y < 10) || (x > 990 && y > 890) {
            255
        } else {
            0
        }])
    }))
    .unwrap();
    let mut model = Prompted {
        spec: ModelSpec::new("prompted").with_takes_prompt(true),
        prompts: Vec::new(),
    };
    let options = InpaintOptions::default().with_request(Request::new().with_prompt("a bench"));
    inpaint(&mut model, &image, &mask, &options).unwrap();
    assert_eq!(model.prompts, ["a bench", "a bench"]);
}

#[test]
fn a_bad_request_is_refused_only_by_a_model_that_reads_it() {
    let image = Image::from_rgb(RgbImage::from_pixel(8, 8, Rgb([1, 2, 3]))).unwrap();
    let mask = Mask::from_gray(GrayImage::from_pixel(8, 8, Luma([255]))).unwrap();
    let options = InpaintOptions::default().with_request(Request::new().with_steps(0));
    let mut erase = Prompted {
        spec: ModelSpec::new("erase"),
        prompts: Vec::new(),
    };
    inpaint(&mut erase, &image, &mask, &options).unwrap();
    let mut prompted = Prompted {
        spec: ModelSpec::new("prompted").with_takes_prompt(true),
        prompts: Vec::new(),
    };
    let err = inpaint(&mut prompted, &image, &mask, &options).unwrap_err();
    assert!(
        err.to_string().contains("steps must be at least 1"),
        "{err}"
    );
    assert!(prompted.prompts.is_empty());
}

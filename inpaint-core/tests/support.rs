//! Mock models that record what the pipeline hands them.

use image::{GrayImage, Luma, Rgb, RgbImage};
use inpaint_core::{InpaintModel, Mask, ModelSpec, Request, Result};

/// A model that checks its input against its spec, records every call, and returns noise
/// everywhere, so that anything it writes outside the mask would show.
pub(crate) struct Recorder {
    pub(crate) spec: ModelSpec,
    pub(crate) calls: Vec<(RgbImage, GrayImage)>,
    seed: u32,
}

impl Recorder {
    pub(crate) fn new(spec: ModelSpec) -> Self {
        Recorder {
            spec,
            calls: Vec::new(),
            seed: 1,
        }
    }
}

impl InpaintModel for Recorder {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn forward(&mut self, image: &RgbImage, mask: &Mask, _request: &Request) -> Result<RgbImage> {
        let (w, h) = image.dimensions();
        assert_eq!(mask.dimensions(), (w, h), "mask and image sizes differ");
        assert_eq!(
            self.spec.padded_size(w, h),
            (w, h),
            "input not padded to spec"
        );
        assert!(
            mask.as_gray()
                .pixels()
                .all(|p| p.0[0] == 0 || p.0[0] == 255),
            "mask given to forward is not binary"
        );
        self.calls.push((image.clone(), mask.as_gray().clone()));
        let mut state = self.seed;
        let out = RgbImage::from_fn(w, h, |_, _| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let [a, b, c, _] = state.to_le_bytes();
            Rgb([a, b, c])
        });
        self.seed = state;
        Ok(out)
    }
}

/// Deterministic noise image.
pub(crate) fn noise_rgb(w: u32, h: u32, seed: u32) -> RgbImage {
    let mut state = seed.max(1);
    RgbImage::from_fn(w, h, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [a, b, c, _] = state.to_le_bytes();
        Rgb([a, b, c])
    })
}

/// A mask with the given filled rectangles `(x, y, w, h)`.
pub(crate) fn rect_mask(w: u32, h: u32, rects: &[(u32, u32, u32, u32)]) -> Mask {
    let mut m = GrayImage::new(w, h);
    for &(x0, y0, rw, rh) in rects {
        for y in y0..y0 + rh {
            for x in x0..x0 + rw {
                m.put_pixel(x, y, Luma([255]));
            }
        }
    }
    Mask::from_gray(m).unwrap()
}

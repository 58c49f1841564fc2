//! The [`InpaintModel`] trait and the [`ModelSpec`] that tells the pipeline how to feed a model.

use image::{GrayImage, RgbImage};

use crate::error::{Error, Result};
use crate::ops::pad::{padded_size, reflect_pad};
use crate::ops::resize::resize_cubic;
use crate::request::Request;
use crate::types::Mask;

/// How a model wants its input prepared: padding, size and mask threshold.
///
/// These are IOPaint's class attributes (`pad_mod`, `min_size`, `pad_to_square`) plus what
/// IOPaint kept in code: whether the model has a fixed input size, whether it honours the HD
/// strategy, and how it re-thresholds the mask it is given.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelSpec {
    /// The model's name, as it appears in messages.
    pub name: String,
    /// Height and width are padded up to a multiple of this (≥ 1; 1 = no padding).
    pub pad_multiple: u32,
    /// After padding to the multiple, each side is at least this. Must be a multiple of
    /// `pad_multiple`.
    pub min_size: Option<u32>,
    /// After the above, pad to a square of the longer side.
    pub pad_to_square: bool,
    /// A model that only takes `n×n` input (MI-GAN and FcF: 512). The pipeline crops around
    /// each masked region (regions whose crops overlap share one, up to `n×n`), resizes the
    /// crop down to fit, pads, and resizes the result back.
    pub fixed_size: Option<u32>,
    /// Whether the caller's HD strategy applies. Fixed-size models ignore it, as in IOPaint.
    pub honours_hd_strategy: bool,
    /// The mask handed to [`InpaintModel::forward`] is 255 where the pipeline's mask is above
    /// this value, 0 elsewhere. It matters where the pipeline resized the mask (cubic, so not
    /// binary): LaMa takes `> 0`, MI-GAN and FcF `> 120`, MAT `> 127`.
    pub mask_threshold: u8,
    /// Whether the model paints from a prompt (IOPaint's `need_prompt`): apps show a prompt
    /// field for it. Models that take none ignore the request's prompt.
    pub takes_prompt: bool,
}

impl ModelSpec {
    /// A spec with no padding, no size constraint, honouring the HD strategy, threshold 127.
    pub fn new(name: impl Into<String>) -> Self {
        ModelSpec {
            name: name.into(),
            pad_multiple: 1,
            min_size: None,
            pad_to_square: false,
            fixed_size: None,
            honours_hd_strategy: true,
            mask_threshold: Mask::FILL_THRESHOLD,
            takes_prompt: false,
        }
    }

    /// Sets [`pad_multiple`](Self::pad_multiple).
    pub fn with_pad_multiple(mut self, multiple: u32) -> Self {
        self.pad_multiple = multiple;
        self
    }

    /// Sets [`min_size`](Self::min_size).
    pub fn with_min_size(mut self, min_size: Option<u32>) -> Self {
        self.min_size = min_size;
        self
    }

    /// Sets [`pad_to_square`](Self::pad_to_square).
    pub fn with_pad_to_square(mut self, square: bool) -> Self {
        self.pad_to_square = square;
        self
    }

    /// Sets [`fixed_size`](Self::fixed_size); a fixed-size model does not honour the HD
    /// strategy.
    pub fn with_fixed_size(mut self, side: Option<u32>) -> Self {
        self.fixed_size = side;
        if side.is_some() {
            self.honours_hd_strategy = false;
        }
        self
    }

    /// Sets [`honours_hd_strategy`](Self::honours_hd_strategy).
    pub fn with_honours_hd_strategy(mut self, honours: bool) -> Self {
        self.honours_hd_strategy = honours;
        self
    }

    /// Sets [`mask_threshold`](Self::mask_threshold).
    pub fn with_mask_threshold(mut self, threshold: u8) -> Self {
        self.mask_threshold = threshold;
        self
    }

    /// Sets [`takes_prompt`](Self::takes_prompt).
    pub fn with_takes_prompt(mut self, takes_prompt: bool) -> Self {
        self.takes_prompt = takes_prompt;
        self
    }

    /// Whether the model takes IOPaint's diffusion path (its `DiffusionInpaintModel`): it sees
    /// the whole image at any size, without the HD strategy. Only such a model takes the
    /// diffusion options of [`InpaintOptions`](crate::InpaintOptions) (`sd_scale` and after).
    pub fn sees_whole_image(&self) -> bool {
        !self.honours_hd_strategy && self.fixed_size.is_none()
    }

    /// Checks the spec is coherent; the pipeline calls this before every run.
    pub fn validate(&self) -> Result<()> {
        let fail = |what: String| Err(Error::model(&self.name, format!("invalid spec: {what}")));
        if self.pad_multiple == 0 {
            return fail("pad_multiple is 0".into());
        }
        if let Some(min) = self.min_size {
            if min % self.pad_multiple != 0 {
                return fail(format!(
                    "min_size {min} is not a multiple of pad_multiple {}",
                    self.pad_multiple
                ));
            }
        }
        if self.mask_threshold == u8::MAX {
            return fail("mask_threshold 255 would leave nothing to fill".into());
        }
        if self.fixed_size == Some(0) {
            return fail("fixed_size is 0".into());
        }
        Ok(())
    }

    /// The size `(width, height)` an input of this size is padded to.
    pub fn padded_size(&self, width: u32, height: u32) -> (u32, u32) {
        padded_size(
            width,
            height,
            self.pad_multiple,
            self.min_size,
            self.pad_to_square,
        )
    }
}

/// An inpainting model: something that fills the masked pixels of an RGB image.
///
/// # The contract
///
/// A model does one thing: [`forward`](Self::forward) takes an RGB image and a mask **already
/// prepared to its [`spec`](Self::spec)** and returns an RGB image of the same size. Everything
/// else is the pipeline's job, done once for every model by [`inpaint`](crate::inpaint):
///
/// * the caller's mask is binarised (`> 127` = fill); an empty mask returns the input without
///   calling the model;
/// * the HD strategy picks the region(s) the model sees: the whole image, a downscaled copy,
///   or one crop per masked region (regions whose crops overlap share one);
/// * each region is padded bottom/right by mirroring (OpenCV's `BORDER_REFLECT`) to
///   `pad_multiple`, then `min_size`, then a square, as the spec says ([`pad`](Self::pad));
/// * the mask given to `forward` is binary: 255 where the region's mask is above
///   [`ModelSpec::mask_threshold`], 0 elsewhere;
/// * the result is un-padded, resized back if needed, and pasted **only inside the binarised
///   mask**: every pixel outside it is byte-identical to the input.
///
/// The [`Request`] is the caller's, unchanged: prompt-driven models read the prompt, sampler,
/// seed and steps from it, and report each step to its progress callback (which may cancel);
/// erase models ignore it.
///
/// So a model never pads, never resizes, never blends, and sees only RGB: the alpha channel is
/// kept aside by the pipeline. It may write anything outside the mask; the pipeline discards it.
///
/// `forward` takes `&mut self` because runtimes such as ONNX Runtime do not support concurrent
/// runs on one session; use one model per thread. The trait is dyn-compatible, so a registry
/// can hand out `Box<dyn InpaintModel + Send>`.
pub trait InpaintModel {
    /// How this model wants its input prepared.
    fn spec(&self) -> &ModelSpec;

    /// Fills the masked pixels of `image` (255 in `mask` = fill), whose size already matches
    /// the spec, as `request` asks. Returns an image of the same size.
    fn forward(&mut self, image: &RgbImage, mask: &Mask, request: &Request) -> Result<RgbImage>;

    /// Pads an image and its mask bottom/right, by mirroring, to the size the spec asks for.
    fn pad(&self, image: &RgbImage, mask: &Mask) -> (RgbImage, Mask) {
        let (width, height) = self.spec().padded_size(image.width(), image.height());
        (
            reflect_pad(image, width, height),
            Mask::from_gray_unchecked(reflect_pad(mask.as_gray(), width, height)),
        )
    }

    /// For a fixed-size model, shrinks an image (and its mask) larger than the fixed size so
    /// that the longer side fits, bicubic, as IOPaint's `resize_max_size`. `None` when nothing
    /// needs resizing. The resized mask is no longer binary; the pipeline thresholds it at the
    /// spec's [`mask_threshold`](ModelSpec::mask_threshold).
    fn resize(&self, image: &RgbImage, mask: &GrayImage) -> Option<(RgbImage, GrayImage)> {
        let side = self.spec().fixed_size?;
        let (w, h) = fit_within(image.width(), image.height(), side)?;
        Some((resize_cubic(image, w, h), resize_cubic(mask, w, h)))
    }
}

/// IOPaint's `resize_max_size`: when the longer side exceeds `limit`, the size scaled so that it
/// equals `limit` (each side rounded half up, at least 1); `None` when no resize is needed.
pub(crate) fn fit_within(width: u32, height: u32, limit: u32) -> Option<(u32, u32)> {
    let longer = width.max(height);
    if longer <= limit {
        return None;
    }
    let ratio = f64::from(limit) / f64::from(longer);
    let scale = |side: u32| ((f64::from(side) * ratio + 0.5) as u32).max(1);
    Some((scale(width), scale(height)))
}

impl<M: InpaintModel + ?Sized> InpaintModel for Box<M> {
    fn spec(&self) -> &ModelSpec {
        (**self).spec()
    }

    fn forward(&mut self, image: &RgbImage, mask: &Mask, request: &Request) -> Result<RgbImage> {
        (**self).forward(image, mask, request)
    }

    // Forwarded too: without these, a boxed model's own padding or resizing would silently
    // give way to the defaults.
    fn pad(&self, image: &RgbImage, mask: &Mask) -> (RgbImage, Mask) {
        (**self).pad(image, mask)
    }

    fn resize(&self, image: &RgbImage, mask: &GrayImage) -> Option<(RgbImage, GrayImage)> {
        (**self).resize(image, mask)
    }
}

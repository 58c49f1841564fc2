//! [`OpenAiCompat`]: the `openai-compat` model.

use std::time::Duration;

use image::imageops::{self, FilterType};
use image::{GrayImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use inpaint_core::{InpaintModel, Mask, ModelSpec, ProgressStep, Request};
use sha2::{Digest, Sha256};

use crate::client::{Client, EditRequest, is_unanswered};
use crate::config::{ApiKey, OpenAiConfig, default_ledger_path};
use crate::error::{Error, Result};
use crate::ledger::{Ledger, NewRequest, Reservation};
use crate::prices::{ModelPrices, PriceTable, Size};

/// The model's name in the pipeline, the registry and the examples.
pub const MODEL_NAME: &str = "openai-compat";

/// How many times a request waits out the minimum interval before giving up (another process
/// keeps sending first).
const MAX_WAITS: u32 = 100;

/// The `openai-compat` model: sends each region to an OpenAI-compatible `images/edits` API,
/// within a budget.
///
/// Building it reads the price table, opens the ledger (reconciling requests that a crashed
/// process left pending) and takes the key from the config or the environment; it opens no
/// connection. Each [`forward`](InpaintModel::forward):
///
/// 1. pads the region (already fitted to one of the model's sizes by the pipeline through
///    [`InpaintModel::resize`]) bottom/right by mirroring to that size, and encodes it as an
///    RGBA PNG, with a mask PNG whose alpha is 0 exactly where the mask fills;
/// 2. estimates the cost from the price table and reserves it in the ledger, which refuses it
///    — before any byte is sent — if a cap would be crossed, or returns the stored result of
///    an identical request within the de-dup window;
/// 3. sends `image`, `mask`, `prompt`, `model`, `n=1`, `size` (and `response_format=b64_json`
///    for the models that take it, `quality` when configured), reads `data[0].b64_json` or
///    fetches `data[0].url`, and records the outcome (the actual cost when usage is
///    reported).
///
/// The pipeline then resizes the answer back and pastes it only inside the mask.
#[derive(Debug)]
pub struct OpenAiCompat {
    spec: ModelSpec,
    config: OpenAiConfig,
    prices: ModelPrices,
    key: ApiKey,
    client: Client,
    ledger: Ledger,
    session: String,
}

impl OpenAiCompat {
    /// Builds the model from `config` (see the type's docs). Errors: an invalid config, no
    /// key, a price table that cannot be read or does not list the model, a ledger that
    /// cannot be opened.
    pub fn new(config: OpenAiConfig) -> Result<Self> {
        config.validate()?;
        let key = config.api_key()?;
        let table = match &config.prices {
            Some(path) => PriceTable::load(path)?,
            None => PriceTable::builtin()?,
        };
        let prices = table.model(&config.model)?.clone();
        if let Some(quality) = &config.quality {
            // Refused now rather than at the first request.
            prices.estimate(prices.sizes()[0], Some(quality))?;
        }
        let ledger_path = match &config.budget.ledger {
            Some(path) => path.clone(),
            None => default_ledger_path().ok_or_else(|| {
                Error::config("no place for the budget ledger: set its path (--budget-db)")
            })?,
        };
        let ledger = Ledger::open(ledger_path)?;
        let side = prices
            .sizes()
            .iter()
            .map(|s| s.width.min(s.height))
            .max()
            .unwrap_or(1);
        let spec = ModelSpec::new(MODEL_NAME)
            .with_fixed_size(Some(side))
            .with_takes_prompt(true);
        let session = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        Ok(OpenAiCompat {
            spec,
            client: Client::new(&config.base_url, config.timeout),
            prices,
            key,
            ledger,
            session,
            config,
        })
    }

    /// The ledger (for its path, entries and spending).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// This instance's session id in the ledger.
    pub fn session(&self) -> &str {
        &self.session
    }

    /// The configuration.
    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    /// The size a `width`×`height` region is sent at.
    pub fn api_size(&self, width: u32, height: u32) -> Size {
        self.prices.fit(width, height)
    }

    /// [`forward`](InpaintModel::forward) with this crate's error: `image` must fit one of
    /// the model's sizes (the pipeline sees to it). An empty `prompt` sends the configured
    /// [`default_prompt`](OpenAiConfig::default_prompt).
    pub fn edit(&mut self, image: &RgbImage, mask: &Mask, prompt: &str) -> Result<RgbImage> {
        let (width, height) = image.dimensions();
        let size = self.prices.fit(width, height);
        if !size.holds(width, height) {
            return Err(Error::config(format!(
                "a {width}×{height} input fits none of `{}`'s sizes; run it through inpaint_core::inpaint, which fits it",
                self.config.model
            )));
        }
        let prompt = if prompt.trim().is_empty() {
            self.config.default_prompt.as_str()
        } else {
            prompt
        };
        let image_png = encode_png(&DynamicRgba::Image(image), size)?;
        let mask_png = encode_png(&DynamicRgba::Mask(mask.as_gray()), size)?;
        if let Some(max) = self.prices.max_upload_bytes {
            let largest = image_png.len().max(mask_png.len()) as u64;
            if largest >= max {
                // Refused here rather than by the server, which would answer 400 anyway.
                return Err(Error::UploadTooLarge {
                    size,
                    bytes: largest,
                    max,
                    model: self.config.model.clone(),
                });
            }
        }
        let quality = self.config.quality.as_deref();
        let estimate = self.prices.estimate(size, quality)?;
        let fingerprint = {
            let mut digest = Sha256::new();
            for part in [
                self.config.base_url.as_bytes(),
                self.config.model.as_bytes(),
                size.to_string().as_bytes(),
                quality.unwrap_or("").as_bytes(),
                prompt.as_bytes(),
                &image_png,
                &mask_png,
            ] {
                // Length-prefixed, so that no two different requests hash the same stream.
                digest.update((part.len() as u64).to_le_bytes());
                digest.update(part);
            }
            format!("{:x}", digest.finalize())
        };
        let request = NewRequest {
            session: self.session.clone(),
            model: self.config.model.clone(),
            size: size.to_string(),
            quality: self.config.quality.clone(),
            fingerprint,
            estimate,
            time_limit: self.client.time_limit(),
        };
        let budget = &self.config.budget;
        let mut waits = 0;
        let id = loop {
            match self.ledger.reserve(
                &request,
                &budget.caps,
                budget.dedup_window,
                budget.min_interval,
            )? {
                Reservation::Reserved(id) => break id,
                Reservation::Duplicate(stored) => {
                    return decode(&stored, size).map(|answer| crop(&answer, width, height));
                }
                Reservation::Wait(wait) if waits < MAX_WAITS => {
                    waits += 1;
                    std::thread::sleep(wait.min(Duration::from_secs(60)));
                }
                Reservation::Wait(_) => {
                    return Err(Error::config(
                        "other requests keep taking the minimum interval; try again later",
                    ));
                }
            }
        };
        let sent = EditRequest {
            model: &self.config.model,
            prompt,
            size,
            quality,
            response_format: self.prices.response_format,
            image_png: &image_png,
            mask_png: &mask_png,
        };
        let outcome = self
            .client
            .edit(&self.key, &sent)
            .and_then(|answer| Ok((decode(&answer.image, size)?, answer)));
        match outcome {
            Ok((decoded, answer)) => {
                let actual = answer.usage.and_then(|usage| self.prices.actual(&usage));
                let keep = !self.config.budget.dedup_window.is_zero();
                self.ledger
                    .succeed(id, actual, keep.then_some(answer.image.as_slice()))?;
                Ok(crop(&decoded, width, height))
            }
            Err(error) => {
                let detail = error.to_string();
                if is_unanswered(&error) || matches!(error, Error::BadAnswer { .. }) {
                    // The server may have done (and billed) the work.
                    self.ledger.interrupt(id, &detail)?;
                } else {
                    self.ledger.fail(id, &detail)?;
                }
                Err(error)
            }
        }
    }
}

impl InpaintModel for OpenAiCompat {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Sends the region with `request.prompt`, and reports it to `request.progress` as one
    /// finished step once answered. The images API has no negative prompt, so a non-empty one
    /// is refused rather than ignored; the diffusion parameters (steps, seed, …) do not apply
    /// to a remote model.
    fn forward(
        &mut self,
        image: &RgbImage,
        mask: &Mask,
        request: &Request,
    ) -> inpaint_core::Result<RgbImage> {
        if !request.negative_prompt.trim().is_empty() {
            return Err(inpaint_core::Error::invalid_input(format!(
                "`{MODEL_NAME}` takes no negative prompt (the images/edits API has none)"
            )));
        }
        let started = std::time::Instant::now();
        let result = self
            .edit(image, mask, &request.prompt)
            .map_err(|e| inpaint_core::Error::model_with(MODEL_NAME, e.to_string(), e))?;
        request.report(ProgressStep::new(1, 1, started.elapsed()))?;
        Ok(result)
    }

    /// Scales the region (up or down) to fill the size it will be sent at: the pipeline
    /// resizes the answer back.
    fn resize(&self, image: &RgbImage, mask: &GrayImage) -> Option<(RgbImage, GrayImage)> {
        let (width, height) = image.dimensions();
        let size = self.prices.fit(width, height);
        let scale = (f64::from(size.width) / f64::from(width))
            .min(f64::from(size.height) / f64::from(height));
        let scaled = |side: u32, max: u32| ((f64::from(side) * scale).round() as u32).clamp(1, max);
        let (w, h) = (scaled(width, size.width), scaled(height, size.height));
        if (w, h) == (width, height) {
            return None;
        }
        Some((
            imageops::resize(image, w, h, FilterType::CatmullRom),
            imageops::resize(mask, w, h, FilterType::CatmullRom),
        ))
    }
}

/// What [`encode_png`] writes: the image (alpha 255), or the mask (alpha 0 where it fills).
enum DynamicRgba<'a> {
    Image(&'a RgbImage),
    Mask(&'a GrayImage),
}

/// `i` reflected into `0..len` (OpenCV's `BORDER_REFLECT`, repeated for pads longer than
/// `len`).
fn reflect(i: u32, len: u32) -> u32 {
    let period = 2 * len;
    let k = i % period;
    if k < len { k } else { period - 1 - k }
}

/// An RGBA PNG of `size`: the source at the top left, mirrored bottom/right for an image;
/// kept (alpha 255) outside the source for a mask, so that the padding is never edited.
fn encode_png(source: &DynamicRgba<'_>, size: Size) -> Result<Vec<u8>> {
    let rgba = match source {
        DynamicRgba::Image(image) => {
            let (w, h) = image.dimensions();
            RgbaImage::from_fn(size.width, size.height, |x, y| {
                let Rgb([r, g, b]) = *image.get_pixel(reflect(x, w), reflect(y, h));
                Rgba([r, g, b, 255])
            })
        }
        DynamicRgba::Mask(mask) => {
            let (w, h) = mask.dimensions();
            RgbaImage::from_fn(size.width, size.height, |x, y| {
                let fill = x < w && y < h && mask.get_pixel(x, y).0[0] > Mask::FILL_THRESHOLD;
                Rgba([0, 0, 0, if fill { 0 } else { 255 }])
            })
        }
    };
    let mut png = Vec::new();
    rgba.write_to(&mut std::io::Cursor::new(&mut png), ImageFormat::Png)?;
    Ok(png)
}

/// Decodes an answer, which must be an image of exactly `size`.
fn decode(bytes: &[u8], size: Size) -> Result<RgbImage> {
    let format = image::guess_format(bytes).map_err(|_| {
        Error::bad_answer(format!(
            "not an image ({} bytes starting {:?})",
            bytes.len(),
            String::from_utf8_lossy(&bytes[..bytes.len().min(16)])
        ))
    })?;
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    // Generous, so that a wrong size gets its own message below, yet bounded: the answer
    // comes from the network.
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(size.width.max(8192));
    limits.max_image_height = Some(size.height.max(8192));
    reader.limits(limits);
    let decoded = reader
        .decode()
        .map_err(|e| Error::bad_answer(format!("not a {size} image: {e}")))?;
    if (decoded.width(), decoded.height()) != (size.width, size.height) {
        return Err(Error::bad_answer(format!(
            "asked for {size}, got {}x{}",
            decoded.width(),
            decoded.height()
        )));
    }
    Ok(decoded.to_rgb8())
}

/// The top-left `width`×`height` of an answer (the padding is dropped).
fn crop(answer: &RgbImage, width: u32, height: u32) -> RgbImage {
    if answer.dimensions() == (width, height) {
        return answer.clone();
    }
    imageops::crop_imm(answer, 0, 0, width, height).to_image()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_repeats_for_long_pads() {
        let got: Vec<u32> = (0..10).map(|i| reflect(i, 3)).collect();
        assert_eq!(got, [0, 1, 2, 2, 1, 0, 0, 1, 2, 2]);
    }

    #[test]
    fn the_mask_png_is_transparent_exactly_where_the_mask_fills() {
        let mask = GrayImage::from_fn(3, 2, |x, y| image::Luma([if x == y { 255 } else { 0 }]));
        let png = encode_png(&DynamicRgba::Mask(&mask), Size::new(4, 4)).unwrap();
        let decoded = image::load_from_memory(&png).unwrap().to_rgba8();
        for (x, y, p) in decoded.enumerate_pixels() {
            let fill = x < 3 && y < 2 && x == y;
            assert_eq!(p.0[3], if fill { 0 } else { 255 }, "({x}, {y})");
        }
    }
}

//! Inpainting models for [`inpaint_core`]'s pipeline.
//!
//! Every model implements [`InpaintModel`] and runs through
//! [`inpaint_core::inpaint`], which pads, applies the HD strategy and pastes the result back
//! only inside the mask.
//!
//! | name | type | what | needs |
//! |---|---|---|---|
//! | `patchmatch` (default) | [`patchmatch::PatchMatch`] | multi-scale PatchMatch with patch voting: fills with texture copied from the image | nothing |
//! | `telea` | [`classical::Telea`] | Telea's fast-marching method, as OpenCV's `INPAINT_TELEA` | nothing |
//! | `navier-stokes` | [`classical::NavierStokes`] | as OpenCV's `INPAINT_NS` | nothing |
//!
//! The default is `patchmatch` because it continues the photo's texture where `telea` smears
//! (BENCHMARKS.md, "The first model a new user sees"); `telea` is about 14× faster and as good
//! on thin scratches.
//!
//! Neural models (LaMa, MI-GAN, MAT, FcF) run on ONNX Runtime: see [`onnx`] (feature `onnx`, on
//! by default; without it the crate builds with no ONNX Runtime code at all).
//!
//! Stable Diffusion 1.5 and SDXL inpainting from an Optimum ONNX folder
//! (`diffusion::StableDiffusion`, feature `onnx`), with its samplers, CLIP tokenizer,
//! PyTorch-compatible seeded noise and memory check (which need no ONNX Runtime), is in
//! [`diffusion`].
//!
//! ```no_run
//! use inpaint_core::io::{load_image, load_mask, save_image};
//! use inpaint_core::{inpaint, InpaintOptions, Limits};
//!
//! let limits = Limits::default(); // refuses e.g. a 100000×100000 PNG before decoding it
//! let image = load_image("photo.jpg", &limits)?;
//! let mask = load_mask("mask.png", &limits)?;
//! let mut model = inpaint_models::by_name("telea", &inpaint_models::ModelOptions::new())?;
//! let result = inpaint(&mut model, &image, &mask, &InpaintOptions::default())?;
//! save_image(&result, "out.png")?;
//! # Ok::<(), inpaint_core::Error>(())
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a library speaks through `tracing` (see inpaint-core's Logs section), never on the terminal"
)]

pub mod classical;
pub mod diffusion;
#[cfg(feature = "onnx")]
#[cfg_attr(docsrs, doc(cfg(feature = "onnx")))]
pub mod onnx;
pub mod patchmatch;
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub mod remote;

use inpaint_core::error::unknown_name;
use inpaint_core::{Error, InpaintModel, Result};

/// The models this build can construct by name, the default first.
pub const MODEL_NAMES: [&str; 3] = ["patchmatch", "telea", "navier-stokes"];

/// The model used when the caller names none: it needs no weights.
pub const DEFAULT_MODEL: &str = MODEL_NAMES[0];

/// Parameters for [`by_name`]. Each applies to some models only; giving one to a model that
/// does not take it is an error, never silently ignored. `None` means the model's default.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ModelOptions {
    /// `telea`, `navier-stokes`: pixels around each hole pixel that it draws from
    /// (default [`classical::DEFAULT_RADIUS`], IOPaint's).
    pub radius: Option<f64>,
    /// `patchmatch`: the side of the compared patches, odd (default
    /// [`PatchMatchOptions::default`](patchmatch::PatchMatchOptions)'s).
    pub patch_size: Option<u32>,
    /// `patchmatch`: the seed of its random search; the same seed gives the same bytes.
    pub seed: Option<u64>,
}

impl ModelOptions {
    /// No parameter set: every model's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`radius`](Self::radius).
    pub fn with_radius(mut self, radius: f64) -> Self {
        self.radius = Some(radius);
        self
    }

    /// Sets [`patch_size`](Self::patch_size).
    pub fn with_patch_size(mut self, patch_size: u32) -> Self {
        self.patch_size = Some(patch_size);
        self
    }

    /// Sets [`seed`](Self::seed).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Refuses an option that `model` does not take.
    fn only(&self, model: &str, takes: &[&str]) -> Result<()> {
        let given = [
            ("radius", self.radius.is_some()),
            ("patch size", self.patch_size.is_some()),
            ("seed", self.seed.is_some()),
        ];
        match given
            .iter()
            .find(|(name, set)| *set && !takes.contains(name))
        {
            Some((name, _)) => Err(Error::invalid_input(format!(
                "the {name} option does not apply to `{model}`"
            ))),
            None => Ok(()),
        }
    }
}

/// Builds the model called `name` (one of [`MODEL_NAMES`]) with `options`.
///
/// An unknown name is an error that lists the known ones and the closest match; there is no
/// fallback to another model.
///
/// ```
/// use inpaint_models::{by_name, ModelOptions};
///
/// let model = by_name("navier-stokes", &ModelOptions::new().with_radius(5.0))?;
/// assert_eq!(model.spec().name, "navier-stokes");
/// let Err(err) = by_name("tela", &ModelOptions::new()) else { unreachable!() };
/// assert_eq!(
///     err.to_string(),
///     "unsupported: unknown model `tela`; known models: patchmatch, telea, navier-stokes (did you mean `telea`?)"
/// );
/// # Ok::<(), inpaint_core::Error>(())
/// ```
pub fn by_name(name: &str, options: &ModelOptions) -> Result<Box<dyn InpaintModel + Send>> {
    let radius = || options.radius.unwrap_or(classical::DEFAULT_RADIUS);
    match name {
        "telea" | "navier-stokes" => options.only(name, &["radius"])?,
        "patchmatch" => options.only(name, &["patch size", "seed"])?,
        _ => {}
    }
    match name {
        "telea" => Ok(Box::new(classical::Telea::with_radius(radius())?)),
        "navier-stokes" => Ok(Box::new(classical::NavierStokes::with_radius(radius())?)),
        "patchmatch" => {
            let mut pm = patchmatch::PatchMatchOptions::default();
            if let Some(size) = options.patch_size {
                pm = pm.with_patch_size(size);
            }
            if let Some(seed) = options.seed {
                pm = pm.with_seed(seed);
            }
            Ok(Box::new(patchmatch::PatchMatch::with_options(pm)?))
        }
        unknown => Err(Error::unsupported(unknown_name(
            "model",
            unknown,
            &MODEL_NAMES,
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(name: &str) -> Error {
        match by_name(name, &ModelOptions::new()) {
            Ok(model) => panic!("`{name}` built {}", model.spec().name),
            Err(err) => err,
        }
    }

    #[test]
    fn every_name_builds_the_model_of_that_name() {
        for name in MODEL_NAMES {
            assert_eq!(
                by_name(name, &ModelOptions::new()).unwrap().spec().name,
                name
            );
        }
    }

    #[test]
    fn unknown_names_list_the_known_ones_without_fallback() {
        let err = error_of("lama");
        assert!(matches!(err, Error::Unsupported { .. }));
        assert_eq!(
            err.to_string(),
            "unsupported: unknown model `lama`; known models: patchmatch, telea, navier-stokes"
        );
        let err = error_of("navier_stokes");
        assert!(
            err.to_string().ends_with("(did you mean `navier-stokes`?)"),
            "{err}"
        );
    }

    #[test]
    fn an_option_the_model_does_not_take_is_an_error() {
        let err = match by_name("patchmatch", &ModelOptions::new().with_radius(3.0)) {
            Ok(_) => panic!("radius accepted by patchmatch"),
            Err(err) => err,
        };
        assert_eq!(
            err.to_string(),
            "invalid input: the radius option does not apply to `patchmatch`"
        );
        assert!(by_name("telea", &ModelOptions::new().with_seed(1)).is_err());
        let model = by_name(
            "patchmatch",
            &ModelOptions::new().with_patch_size(7).with_seed(3),
        );
        assert_eq!(model.unwrap().spec().name, "patchmatch");
    }
}

/// The README's examples, compiled and run as doc tests so that they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

//! The per-call [`Request`]: what a caller asks of one run beyond the image and the mask.
//!
//! Erase models (the classical ones, LaMa, MI-GAN, …) take nothing from it; prompt-driven
//! models (Stable Diffusion, image-edit APIs) read the prompt, the sampler, the seed and the
//! rest. The fields and their defaults are IOPaint 1.6.0's `InpaintRequest` (`schema.py`), so
//! a request built from IOPaint's JSON means what it meant there.

use std::fmt;
use std::ops::ControlFlow;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};

/// What a caller asks of one run beyond the image and the mask: IOPaint's `InpaintRequest`
/// fields that reach a model. Erase models ignore it. The defaults are IOPaint's.
///
/// ```
/// use inpaint_core::{Request, Sampler};
///
/// let request = Request::new()
///     .with_prompt("a wooden bench")
///     .with_sampler("Euler a".parse()?)
///     .with_steps(25)
///     .with_seed(7);
/// assert_eq!(request.sampler, Sampler::EulerA);
/// assert_eq!(request.guidance_scale, 7.5);
/// request.validate()?;
/// # Ok::<(), inpaint_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Request {
    /// What to paint into the mask (IOPaint's `prompt`). Default: empty.
    pub prompt: String,
    /// What to steer away from (`negative_prompt`). Default: empty. An empty negative prompt is
    /// still encoded, as diffusers does when IOPaint passes `""`.
    pub negative_prompt: String,
    /// Denoising steps (`sd_steps`). Default: 50.
    pub steps: u32,
    /// Classifier-free guidance scale (`sd_guidance_scale`); at 1.0 or below the unconditional
    /// pass is skipped, as in diffusers. Default: 7.5.
    pub guidance_scale: f32,
    /// The sampler (`sd_sampler`). Default: [`Sampler::UniPc`].
    pub sampler: Sampler,
    /// The seed of every random draw of the run (`sd_seed`). Default: 42. IOPaint's `-1`
    /// ("random") is the caller's to resolve: pick a seed, use it, report it.
    pub seed: u64,
    /// How far the masked area is re-noised, in (0, 1] (`sd_strength`): 1.0 repaints it from
    /// noise, lower values keep more of what is there. Default: 1.0.
    pub strength: f32,
    /// Called after each step; it can cancel the run. Default: none.
    pub progress: Option<Progress>,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            prompt: String::new(),
            negative_prompt: String::new(),
            steps: 50,
            guidance_scale: 7.5,
            sampler: Sampler::default(),
            seed: 42,
            strength: 1.0,
            progress: None,
        }
    }
}

impl Request {
    /// IOPaint's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`prompt`](Self::prompt).
    pub fn with_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = prompt.into();
        self
    }

    /// Sets [`negative_prompt`](Self::negative_prompt).
    pub fn with_negative_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.negative_prompt = prompt.into();
        self
    }

    /// Sets [`steps`](Self::steps).
    pub fn with_steps(mut self, steps: u32) -> Self {
        self.steps = steps;
        self
    }

    /// Sets [`guidance_scale`](Self::guidance_scale).
    pub fn with_guidance_scale(mut self, scale: f32) -> Self {
        self.guidance_scale = scale;
        self
    }

    /// Sets [`sampler`](Self::sampler).
    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = sampler;
        self
    }

    /// Sets [`seed`](Self::seed).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets [`strength`](Self::strength).
    pub fn with_strength(mut self, strength: f32) -> Self {
        self.strength = strength;
        self
    }

    /// Sets [`progress`](Self::progress).
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Checks the values a prompt-driven model would use: at least one step, a finite guidance
    /// scale of at least 0, a strength in (0, 1]. The pipeline calls this before every run.
    pub fn validate(&self) -> Result<()> {
        if self.steps == 0 {
            return Err(Error::invalid_input("steps must be at least 1"));
        }
        if !(self.guidance_scale.is_finite() && self.guidance_scale >= 0.0) {
            return Err(Error::invalid_input(format!(
                "guidance scale must be a finite number of at least 0, not {}",
                self.guidance_scale
            )));
        }
        if !(self.strength > 0.0 && self.strength <= 1.0) {
            return Err(Error::invalid_input(format!(
                "strength must be in (0, 1], not {}",
                self.strength
            )));
        }
        Ok(())
    }

    /// Reports a finished step to [`progress`](Self::progress), if any: `Err(Error::Cancelled)`
    /// when it asks to stop. Models call this between steps.
    pub fn report(&self, step: ProgressStep) -> Result<()> {
        match &self.progress {
            Some(progress) => progress.report(&step),
            None => Ok(()),
        }
    }
}

/// A per-step callback, shared by clones of a [`Request`]. Returning
/// [`ControlFlow::Break`] cancels the run: the model stops before its next step and the
/// pipeline returns [`Error::Cancelled`], leaving the caller's image untouched.
///
/// ```
/// use std::ops::ControlFlow;
/// use inpaint_core::{Error, Progress, ProgressStep};
/// use std::time::Duration;
///
/// let stop_after_two = Progress::new(|step: &ProgressStep| {
///     if step.step >= 2 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
/// });
/// assert!(stop_after_two.report(&ProgressStep::new(1, 10, Duration::ZERO)).is_ok());
/// let err = stop_after_two.report(&ProgressStep::new(2, 10, Duration::ZERO)).unwrap_err();
/// assert!(matches!(err, Error::Cancelled));
/// ```
#[derive(Clone)]
pub struct Progress(Arc<ProgressFn>);

/// The callback behind a [`Progress`].
type ProgressFn = dyn Fn(&ProgressStep) -> ControlFlow<()> + Send + Sync;

impl Progress {
    /// Wraps a callback.
    pub fn new(
        callback: impl Fn(&ProgressStep) -> ControlFlow<()> + Send + Sync + 'static,
    ) -> Self {
        Progress(Arc::new(callback))
    }

    /// Calls the callback: `Err(Error::Cancelled)` when it asks to stop.
    pub fn report(&self, step: &ProgressStep) -> Result<()> {
        match (self.0)(step) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(()) => Err(Error::Cancelled),
        }
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Progress(..)")
    }
}

/// Two handles are equal when they share one callback: closures cannot be compared.
impl PartialEq for Progress {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// One finished step of a run, as [`Progress`] sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ProgressStep {
    /// Steps finished so far, from 1.
    pub step: u32,
    /// Steps the run will take (after strength has cut the schedule).
    pub total: u32,
    /// Time since the run started.
    pub elapsed: Duration,
}

impl ProgressStep {
    /// A step report.
    pub fn new(step: u32, total: u32, elapsed: Duration) -> Self {
        ProgressStep {
            step,
            total,
            elapsed,
        }
    }
}

/// IOPaint's samplers (`SDSampler`), each a diffusers scheduler configured as IOPaint does.
/// Names are IOPaint's, exactly ([`Sampler::NAMES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Sampler {
    /// "DPM++ 2M"
    DpmPp2m,
    /// "DPM++ 2M Karras"
    DpmPp2mKarras,
    /// "DPM++ 2M SDE"
    DpmPp2mSde,
    /// "DPM++ 2M SDE Karras"
    DpmPp2mSdeKarras,
    /// "DPM++ SDE"
    DpmPpSde,
    /// "DPM++ SDE Karras"
    DpmPpSdeKarras,
    /// "DPM2"
    Dpm2,
    /// "DPM2 Karras"
    Dpm2Karras,
    /// "DPM2 a"
    Dpm2A,
    /// "DPM2 a Karras"
    Dpm2AKarras,
    /// "Euler"
    Euler,
    /// "Euler a"
    EulerA,
    /// "Heun"
    Heun,
    /// "LMS"
    Lms,
    /// "LMS Karras"
    LmsKarras,
    /// "DDIM"
    Ddim,
    /// "PNDM"
    Pndm,
    /// "UniPC" (IOPaint's default)
    #[default]
    UniPc,
    /// "LCM"
    Lcm,
}

impl Sampler {
    /// Every sampler, in IOPaint's order.
    pub const ALL: [Sampler; 19] = [
        Sampler::DpmPp2m,
        Sampler::DpmPp2mKarras,
        Sampler::DpmPp2mSde,
        Sampler::DpmPp2mSdeKarras,
        Sampler::DpmPpSde,
        Sampler::DpmPpSdeKarras,
        Sampler::Dpm2,
        Sampler::Dpm2Karras,
        Sampler::Dpm2A,
        Sampler::Dpm2AKarras,
        Sampler::Euler,
        Sampler::EulerA,
        Sampler::Heun,
        Sampler::Lms,
        Sampler::LmsKarras,
        Sampler::Ddim,
        Sampler::Pndm,
        Sampler::UniPc,
        Sampler::Lcm,
    ];

    /// IOPaint's names, in the order of [`Sampler::ALL`].
    pub const NAMES: [&'static str; 19] = [
        "DPM++ 2M",
        "DPM++ 2M Karras",
        "DPM++ 2M SDE",
        "DPM++ 2M SDE Karras",
        "DPM++ SDE",
        "DPM++ SDE Karras",
        "DPM2",
        "DPM2 Karras",
        "DPM2 a",
        "DPM2 a Karras",
        "Euler",
        "Euler a",
        "Heun",
        "LMS",
        "LMS Karras",
        "DDIM",
        "PNDM",
        "UniPC",
        "LCM",
    ];

    /// IOPaint's name for this sampler.
    pub fn name(self) -> &'static str {
        let index = Sampler::ALL
            .iter()
            .position(|&s| s == self)
            .expect("every sampler is in ALL");
        Sampler::NAMES[index]
    }
}

impl FromStr for Sampler {
    type Err = Error;

    /// IOPaint's exact names; anything else is an error that lists them.
    fn from_str(s: &str) -> Result<Self> {
        match Sampler::NAMES.iter().position(|&name| name == s) {
            Some(index) => Ok(Sampler::ALL[index]),
            None => Err(Error::invalid_input(format!(
                "unknown sampler `{s}`; known: {}",
                Sampler::NAMES.join(", ")
            ))),
        }
    }
}

impl fmt::Display for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sampler_name_round_trips() {
        for (sampler, name) in Sampler::ALL.iter().zip(Sampler::NAMES) {
            assert_eq!(sampler.name(), name);
            assert_eq!(name.parse::<Sampler>().ok(), Some(*sampler));
            assert_eq!(sampler.to_string(), name);
        }
    }

    #[test]
    fn an_unknown_sampler_lists_the_known_ones() {
        let err = "euler a".parse::<Sampler>().unwrap_err().to_string();
        assert!(err.contains("unknown sampler `euler a`"), "{err}");
        assert!(err.contains("Euler a, Heun"), "{err}");
    }

    #[test]
    fn defaults_are_iopaints() {
        let request = Request::default();
        assert_eq!(
            (
                request.steps,
                request.guidance_scale,
                request.sampler,
                request.seed,
                request.strength
            ),
            (50, 7.5, Sampler::UniPc, 42, 1.0)
        );
        request.validate().unwrap();
    }

    #[test]
    fn out_of_range_values_are_refused() {
        for bad in [
            Request::new().with_steps(0),
            Request::new().with_strength(0.0),
            Request::new().with_strength(1.5),
            Request::new().with_strength(f32::NAN),
            Request::new().with_guidance_scale(-1.0),
            Request::new().with_guidance_scale(f32::INFINITY),
        ] {
            assert!(
                matches!(bad.validate(), Err(Error::InvalidInput { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_progress_callback_can_cancel() {
        let request = Request::new().with_progress(Progress::new(|step: &ProgressStep| {
            if step.step == step.total {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }));
        assert!(
            request
                .report(ProgressStep::new(1, 2, Duration::ZERO))
                .is_ok()
        );
        assert!(matches!(
            request.report(ProgressStep::new(2, 2, Duration::ZERO)),
            Err(Error::Cancelled)
        ));
        assert_eq!(request.clone(), request);
    }
}

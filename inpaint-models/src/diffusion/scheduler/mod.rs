//! The 19 samplers of IOPaint, as diffusers' schedulers compute them.
//!
//! A sampler turns the UNet's prediction at one timestep into the latents of the next. IOPaint
//! names 19 of them ([`Sampler`]); each is one of twelve diffusers scheduler classes, built from
//! the model's `scheduler_config.json` with a few overrides (Karras sigmas, the SDE variant) by
//! `iopaint/model/utils.py`'s `get_scheduler`. [`scheduler_for`] does the same, and each
//! [`Scheduler`] reproduces its diffusers class step for step — timesteps, sigmas, the
//! multistep history, the per-step noise of the ancestral and SDE samplers — so that given the
//! same model outputs and the same noise the latents agree with diffusers' to float32 rounding.
//!
//! | IOPaint name | diffusers class | overrides |
//! |---|---|---|
//! | DPM++ 2M (Karras) | `DPMSolverMultistepScheduler` | (`use_karras_sigmas`) |
//! | DPM++ 2M SDE (Karras) | `DPMSolverMultistepScheduler` | `algorithm_type = "sde-dpmsolver++"` (+ Karras) |
//! | DPM++ SDE (Karras) | `DPMSolverSinglestepScheduler` | (Karras) — no per-step noise despite the name |
//! | DPM2 (Karras) | `KDPM2DiscreteScheduler` | (Karras) |
//! | DPM2 a (Karras) | `KDPM2AncestralDiscreteScheduler` | (Karras) |
//! | Euler | `EulerDiscreteScheduler` | |
//! | Euler a | `EulerAncestralDiscreteScheduler` | |
//! | Heun | `HeunDiscreteScheduler` | |
//! | LMS (Karras) | `LMSDiscreteScheduler` | (Karras) |
//! | DDIM | `DDIMScheduler` | |
//! | PNDM | `PNDMScheduler` | |
//! | UniPC | `UniPCMultistepScheduler` | |
//! | LCM | `LCMScheduler` | |
//!
//! **Which diffusers.** The reference is current diffusers (0.39), not the 0.27.2 IOPaint 1.6.0
//! pins. They differ for two samplers, and both follow 0.39 here:
//! - UniPC's last step now goes to sigma 0 (`final_sigmas_type = "zero"`); 0.27.2 stopped at
//!   the smallest training sigma (≈ 0.029 for SD), leaving a little noise in the result.
//! - DPM2 a now draws noise only in the second half of each step, where it is used; 0.27.2 drew
//!   a tensor on every UNet call and threw half of them away, so from the second step on the same
//!   seed gives other noise.
//!
//! **Not implemented**, and refused with [`Error::Unsupported`] when a config asks for it (no
//! Stable Diffusion 1.x/2.x/XL config does): dynamic thresholding, `rescale_betas_zero_snr`,
//! exponential, beta, Lu or flow-matching sigmas, learned variance, continuous timesteps, Euler's
//! log-linear interpolation, and the SDE variants IOPaint never selects for the singlestep
//! solver. DDIM runs with `eta = 0`, as the pipelines call it. Step counts run from 1 to
//! `num_train_timesteps` (LCM: to `original_inference_steps`; PNDM without `skip_prk_steps`:
//! from 4).
//!
//! **Driving a scheduler** (what diffusers' inpainting pipeline does):
//! ```
//! use inpaint_models::diffusion::noise::{NoiseSource, TorchCpuNoise};
//! use inpaint_models::diffusion::scheduler::{scheduler_for, strength_begin_index, Sampler, SchedulerConfig};
//!
//! let config = SchedulerConfig::from_json(r#"{"beta_schedule": "scaled_linear",
//!     "beta_start": 0.00085, "beta_end": 0.012, "steps_offset": 1}"#)?;
//! let mut scheduler = scheduler_for(Sampler::EulerA, &config)?;
//! let (steps, strength, shape) = (20, 1.0, [1, 4, 8, 8]);
//! scheduler.set_timesteps(steps)?;
//! let begin = strength_begin_index(steps, strength, scheduler.order()).expect("at least one step");
//! scheduler.set_begin_index(begin);
//! let mut noise = TorchCpuNoise::new(42);
//! let mut latents: Vec<f32> = noise.randn(&shape)?;
//! let sigma = scheduler.init_noise_sigma();
//! latents.iter_mut().for_each(|x| *x *= sigma);
//! for t in scheduler.timesteps()[begin..].to_vec() {
//!     let input = scheduler.scale_model_input(&latents, t)?;
//!     let prediction: Vec<f32> = input.iter().map(|x| 0.5 * x).collect(); // the UNet
//!     latents = scheduler.step(&prediction, t, &latents, &shape, &mut noise)?;
//! }
//! # Ok::<(), inpaint_core::Error>(())
//! ```

/// The [`Scheduler`] methods a sampler answers from its schedule alone, a `run` field of type
/// [`schedule::SigmaSteps`] or [`schedule::SolverSteps`]: `timesteps`, `set_begin_index` and
/// `add_noise` (and, with `sigma`, `init_noise_sigma` and `scale_model_input`).
macro_rules! schedule_methods {
    () => {
        fn timesteps(&self) -> &[f32] {
            &self.run.timesteps
        }

        fn set_begin_index(&mut self, index: usize) {
            self.run.index.begin = Some(index);
        }

        fn add_noise(&self, original: &[f32], noise: &[f32], timestep: f32) -> Result<Vec<f32>> {
            self.run.add_noise(original, noise, timestep)
        }
    };
    (sigma) => {
        schedule_methods!();

        fn init_noise_sigma(&self) -> f32 {
            self.run.init_noise_sigma()
        }

        fn scale_model_input(&mut self, sample: &[f32], timestep: f32) -> Result<Vec<f32>> {
            self.run.scale_model_input(sample, timestep)
        }
    };
}

mod config;
mod ddim;
mod dpm_solver;
mod euler;
mod heun;
mod kdpm2;
mod lcm;
mod lms;
mod pndm;
mod schedule;
mod unipc;

use inpaint_core::{Error, Result};
use serde_json::Value;

pub use config::SchedulerConfig;
/// IOPaint's sampler names (re-exported from `inpaint-core`, where requests carry them).
pub use inpaint_core::Sampler;

use super::noise::{NoiseSource, element_count};

/// One diffusers scheduler: the timesteps of a run and the update from each UNet prediction.
///
/// A run: [`set_timesteps`](Self::set_timesteps); for img2img, [`set_begin_index`](Self::set_begin_index)
/// (see [`strength_begin_index`]); start from noise times [`init_noise_sigma`](Self::init_noise_sigma)
/// (or [`add_noise`](Self::add_noise) on the image latents); then for each of
/// [`timesteps`](Self::timesteps) from the begin index: [`scale_model_input`](Self::scale_model_input),
/// the UNet, [`step`](Self::step). Samples are flat float32 buffers in the latents' row-major
/// layout, all of the same length; a length mismatch, a timestep not in the schedule or a step
/// past its end is an error, never a panic.
pub trait Scheduler: std::fmt::Debug {
    /// Computes the schedule of a run of `steps` denoising steps and resets all run state.
    fn set_timesteps(&mut self, steps: usize) -> Result<()>;

    /// The values fed to the UNet's `timestep`, in loop order. Second-order samplers (Heun,
    /// DPM2) list about twice `steps` of them; PNDM repeats one.
    fn timesteps(&self) -> &[f32];

    /// diffusers' `scheduler.order`: 2 for Heun and DPM2, else 1 (the default). Img2img skips
    /// `order` entries of [`timesteps`](Self::timesteps) per skipped step.
    fn order(&self) -> usize {
        1
    }

    /// Starts the run at `timesteps()[index]` (img2img, `strength < 1`). A no-op for DDIM and
    /// PNDM, which find their place from the timestep (diffusers has no begin index for them).
    fn set_begin_index(&mut self, index: usize);

    /// The standard deviation of the initial noise: 1 (the default) for the variance-preserving
    /// samplers, the largest sigma for the sigma samplers (Euler, Heun, DPM2, LMS).
    fn init_noise_sigma(&self) -> f32 {
        1.0
    }

    /// The UNet's input at `timestep`: `sample / √(σ² + 1)` for the sigma samplers, `sample`
    /// itself for the others (the default).
    fn scale_model_input(&mut self, sample: &[f32], timestep: f32) -> Result<Vec<f32>> {
        let _ = timestep;
        Ok(sample.to_vec())
    }

    /// One denoising step: the latents after `timestep`, from the UNet's `model_output` for
    /// `sample`. `shape` is the latents' shape; ancestral, SDE and LCM samplers draw one noise
    /// tensor of that shape from `noise`.
    fn step(
        &mut self,
        model_output: &[f32],
        timestep: f32,
        sample: &[f32],
        shape: &[usize],
        noise: &mut dyn NoiseSource,
    ) -> Result<Vec<f32>>;

    /// `original` (clean latents) noised with `noise` to the level of `timestep`.
    fn add_noise(&self, original: &[f32], noise: &[f32], timestep: f32) -> Result<Vec<f32>>;
}

/// The scheduler IOPaint 1.6.0 uses for `sampler` with a model whose scheduler config is
/// `config`: `get_scheduler` in `iopaint/model/utils.py` — the config minus `use_karras_sigmas`
/// and `algorithm_type`, the sampler's overrides, the class's defaults for the rest.
///
/// Fails with [`Error::Unsupported`] when the config asks for something not implemented here
/// (say `thresholding` or `use_exponential_sigmas`), and [`Error::InvalidInput`] when a value is
/// malformed.
pub fn scheduler_for(
    sampler: Sampler,
    config: &SchedulerConfig,
) -> Result<Box<dyn Scheduler + Send>> {
    use Sampler as S;
    let karras = ("use_karras_sigmas", Value::Bool(true));
    let sde = ("algorithm_type", Value::from("sde-dpmsolver++"));
    let overrides = match sampler {
        S::DpmPp2mKarras | S::DpmPpSdeKarras | S::Dpm2Karras | S::Dpm2AKarras | S::LmsKarras => {
            vec![karras]
        }
        S::DpmPp2mSde => vec![sde],
        S::DpmPp2mSdeKarras => vec![sde, karras],
        _ => vec![],
    };
    let c = &config::ClassConfig::new(config, &overrides);
    Ok(match sampler {
        S::DpmPp2m | S::DpmPp2mKarras | S::DpmPp2mSde | S::DpmPp2mSdeKarras => {
            Box::new(dpm_solver::Multistep::new(c)?)
        }
        S::DpmPpSde | S::DpmPpSdeKarras => Box::new(dpm_solver::Singlestep::new(c)?),
        S::Dpm2 | S::Dpm2Karras => Box::new(kdpm2::Kdpm2::new(c, false)?),
        S::Dpm2A | S::Dpm2AKarras => Box::new(kdpm2::Kdpm2::new(c, true)?),
        S::Euler => Box::new(euler::Euler::new(c, false)?),
        S::EulerA => Box::new(euler::Euler::new(c, true)?),
        S::Heun => Box::new(heun::Heun::new(c)?),
        S::Lms | S::LmsKarras => Box::new(lms::Lms::new(c)?),
        S::Ddim => Box::new(ddim::Ddim::new(c)?),
        S::Pndm => Box::new(pndm::Pndm::new(c)?),
        S::UniPc => Box::new(unipc::UniPc::new(c)?),
        S::Lcm => Box::new(lcm::Lcm::new(c)?),
        // `Sampler` is non-exhaustive: a name added to inpaint-core before it is built here.
        other => {
            return Err(Error::Unsupported {
                message: format!("sampler `{other}` has no scheduler in this build"),
            });
        }
    })
}

/// diffusers' img2img `get_timesteps`: the index of [`Scheduler::timesteps`] a run of `steps`
/// steps at `strength` starts at (`(steps − ⌊steps·strength⌋) · order`), or `None` when
/// `strength` leaves no step to run.
///
/// `strength` is read as the decimal the caller wrote (0.7 as Python's 0.7, not as the nearest
/// `f32`), so that `⌊steps·strength⌋` agrees with IOPaint's double arithmetic.
pub fn strength_begin_index(steps: usize, strength: f32, order: usize) -> Option<usize> {
    // The shortest decimal that round-trips the f32 is what a user or a JSON request wrote.
    let strength: f64 = strength.to_string().parse().unwrap_or(f64::from(strength));
    let init = ((steps as f64 * strength).floor().max(0.0) as usize).min(steps);
    let start = steps - init;
    (init > 0).then_some(start * order)
}

/// Checks that `model_output` and `sample` both hold one latent tensor of `shape`.
fn check_step_input(model_output: &[f32], sample: &[f32], shape: &[usize]) -> Result<()> {
    let expected =
        element_count(shape).ok_or_else(|| invalid(format!("latent shape {shape:?} overflows")))?;
    if model_output.len() != expected || sample.len() != expected {
        return Err(invalid(format!(
            "scheduler step: model output has {} values and sample {}, shape {shape:?} needs {expected}",
            model_output.len(),
            sample.len()
        )));
    }
    Ok(())
}

/// Checks that two buffers to combine have the same length.
fn check_same_len(what: &str, a: &[f32], b: &[f32]) -> Result<()> {
    if a.len() != b.len() {
        return Err(invalid(format!(
            "{what}: {} values and {} values",
            a.len(),
            b.len()
        )));
    }
    Ok(())
}

/// A draw of per-step noise for `shape`, checked to match the latents.
fn draw_noise(noise: &mut dyn NoiseSource, shape: &[usize], len: usize) -> Result<Vec<f32>> {
    let values = noise.randn(shape)?;
    if values.len() != len {
        return Err(invalid(format!(
            "noise source returned {} values for shape {shape:?}",
            values.len()
        )));
    }
    Ok(values)
}

fn invalid(message: String) -> Error {
    Error::InvalidInput { message }
}

fn unsupported(what: &str) -> Error {
    Error::Unsupported {
        message: format!("scheduler config {what} is not implemented"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strength_reads_the_decimal_the_caller_wrote() {
        // Python: int(10 * 0.7) = 7; the nearest f32 to 0.7 times 10 is 6.99999…
        assert_eq!(strength_begin_index(10, 0.7, 1), Some(3));
        assert_eq!(strength_begin_index(10, 1.0, 2), Some(0));
        assert_eq!(strength_begin_index(4, 0.6, 2), Some(4));
        assert_eq!(strength_begin_index(1, 0.6, 1), None);
    }
}

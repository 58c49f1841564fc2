//! The pieces every sampler shares: the training noise schedule, timestep spacing, sigma
//! interpolation, Karras sigmas, sigma → timestep, and the step-index bookkeeping.
//!
//! Each mirrors one diffusers helper, with its precision: the training schedule is float32
//! (torch tensors), the inference schedule is float64 (numpy) until diffusers stores it as
//! float32, and rounding is numpy's (halves to even).

use inpaint_core::Result;

use super::config::{BetaSchedule, ClassConfig, Spacing};
use super::{invalid, unsupported};

/// The training schedule: `alphas_cumprod` (ᾱₜ) for each of the `num_train_timesteps`.
#[derive(Debug, Clone)]
pub(crate) struct TrainSchedule {
    /// ᾱₜ as torch computes it: float32 betas, cumulative product accumulated in double (bit
    /// for bit for SD's `scaled_linear` betas; within 2 ulp for `linear`, whose torch
    /// `linspace` rounds differently in its vectorised half).
    pub(crate) alphas_cumprod: Vec<f32>,
}

impl TrainSchedule {
    /// The betas of `config` (`trained_betas`, or `beta_schedule` from `beta_start` to
    /// `beta_end`) and their cumulative product of `1 − β`.
    pub(crate) fn new(config: &ClassConfig<'_>, defaults: BetaDefaults) -> Result<Self> {
        let train_steps = config.train_steps()?;
        let betas: Vec<f32> = match config.trained_betas()? {
            Some(betas) => {
                if betas.len() != train_steps {
                    return Err(invalid(format!(
                        "trained_betas has {} values, num_train_timesteps is {train_steps}",
                        betas.len()
                    )));
                }
                betas
            }
            None => {
                let start = config.f64("beta_start", defaults.start)?;
                let end = config.f64("beta_end", defaults.end)?;
                match config.beta_schedule(defaults.schedule)? {
                    BetaSchedule::Linear => {
                        torch_linspace_f32(start as f32, end as f32, train_steps)
                    }
                    BetaSchedule::ScaledLinear => {
                        torch_linspace_f32(start.sqrt() as f32, end.sqrt() as f32, train_steps)
                            .into_iter()
                            .map(|b| b * b)
                            .collect()
                    }
                    BetaSchedule::SquaredCosCapV2 => squared_cos_betas(train_steps),
                }
            }
        };
        if let Some(bad) = betas.iter().find(|b| !(0.0..1.0).contains(*b)) {
            return Err(invalid(format!(
                "beta {bad} from the scheduler config is outside [0, 1)"
            )));
        }
        if config.bool("rescale_betas_zero_snr", false)? {
            return Err(unsupported("rescale_betas_zero_snr = true"));
        }
        let mut product = 1.0f64;
        let alphas_cumprod = betas
            .iter()
            .map(|&beta| {
                product *= f64::from(1.0 - beta);
                product as f32
            })
            .collect();
        Ok(Self { alphas_cumprod })
    }

    /// `num_train_timesteps`.
    pub(crate) fn len(&self) -> usize {
        self.alphas_cumprod.len()
    }

    /// The training sigmas `√((1 − ᾱ) / ᾱ)`, ascending with t, in float32 as diffusers has them.
    pub(crate) fn sigmas(&self) -> Vec<f32> {
        self.alphas_cumprod
            .iter()
            .map(|&a| ((1.0 - a) / a).sqrt())
            .collect()
    }

    /// `final_sigmas_type = "sigma_min"`'s last sigma: the training sigma at t = 0.
    pub(crate) fn sigma_at_zero(&self) -> f64 {
        let a = self.alphas_cumprod[0];
        f64::from(((1.0 - a) / a).sqrt())
    }

    /// ᾱ "before" the first training step, where the last DDIM-like step lands: 1 with
    /// `set_alpha_to_one` (whose default differs by class), else ᾱ₀.
    pub(crate) fn final_alpha_cumprod(
        &self,
        config: &ClassConfig<'_>,
        default: bool,
    ) -> Result<f32> {
        Ok(if config.bool("set_alpha_to_one", default)? {
            1.0
        } else {
            self.alphas_cumprod[0]
        })
    }

    /// ᾱ at an integer timestep, an error when it is outside the training schedule.
    pub(crate) fn alpha_cumprod_at(&self, timestep: i64) -> Result<f32> {
        usize::try_from(timestep)
            .ok()
            .and_then(|t| self.alphas_cumprod.get(t).copied())
            .ok_or_else(|| {
                invalid(format!(
                    "timestep {timestep} is outside the training schedule (0..{})",
                    self.len()
                ))
            })
    }
}

/// A scheduler class's own defaults for the beta keys (they differ between classes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BetaDefaults {
    pub(crate) start: f64,
    pub(crate) end: f64,
    pub(crate) schedule: BetaSchedule,
}

impl BetaDefaults {
    /// Most classes: `linear` from 0.0001 to 0.02.
    pub(crate) const DDPM: Self = Self {
        start: 0.0001,
        end: 0.02,
        schedule: BetaSchedule::Linear,
    };
    /// KDPM2, KDPM2 ancestral and Heun: `linear` from 0.00085 to 0.012.
    pub(crate) const K_DIFFUSION: Self = Self {
        start: 0.00085,
        end: 0.012,
        schedule: BetaSchedule::Linear,
    };
    /// LCM: `scaled_linear` from 0.00085 to 0.012.
    pub(crate) const LCM: Self = Self {
        start: 0.00085,
        end: 0.012,
        schedule: BetaSchedule::ScaledLinear,
    };
}

/// `torch.linspace(start, end, steps, dtype=float32)` on the CPU: float arithmetic, the first
/// half counted up from `start`, the second half down from `end`.
fn torch_linspace_f32(start: f32, end: f32, steps: usize) -> Vec<f32> {
    if steps == 1 {
        return vec![start];
    }
    let step = (end - start) / (steps - 1) as f32;
    let halfway = steps / 2;
    (0..steps)
        .map(|i| {
            if i < halfway {
                start + step * i as f32
            } else {
                end - step * (steps - i - 1) as f32
            }
        })
        .collect()
}

/// diffusers' `betas_for_alpha_bar` with the cosine ᾱ of "Improved DDPM" (`squaredcos_cap_v2`).
fn squared_cos_betas(steps: usize) -> Vec<f32> {
    let alpha_bar = |t: f64| {
        ((t + 0.008) / 1.008 * std::f64::consts::PI / 2.0)
            .cos()
            .powi(2)
    };
    (0..steps)
        .map(|i| {
            let t1 = i as f64 / steps as f64;
            let t2 = (i + 1) as f64 / steps as f64;
            (1.0 - alpha_bar(t2) / alpha_bar(t1)).min(0.999) as f32
        })
        .collect()
}

/// `np.linspace(start, stop, num)`: `i · step + start`, the last value exactly `stop`.
pub(crate) fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 1 {
        return vec![start];
    }
    let step = (stop - start) / (num - 1) as f64;
    let mut out: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    if let Some(last) = out.last_mut() {
        *last = stop;
    }
    out
}

/// `np.arange(start, stop, step)` for a float step: `ceil((stop − start) / step)` values.
fn arange(start: f64, stop: f64, step: f64) -> Vec<f64> {
    let len = ((stop - start) / step).ceil().max(0.0) as usize;
    (0..len).map(|i| start + i as f64 * step).collect()
}

/// "trailing" spacing: `steps` timesteps counted down from `start` in strides of
/// `train_steps / steps`, rounded, minus one (so the first is `start − 1`).
pub(crate) fn trailing_timesteps(start: usize, train_steps: usize, steps: usize) -> Vec<f64> {
    arange(start as f64, 0.0, -(train_steps as f64 / steps as f64))
        .into_iter()
        .map(|t| t.round_ties_even() - 1.0)
        .collect()
}

/// The inference timesteps of the "sigma" samplers (Euler, Euler a, Heun, DPM2, DPM2 a, LMS):
/// `steps` values, descending, as float32.
pub(crate) fn sigma_timesteps(
    spacing: Spacing,
    train_steps: usize,
    steps: usize,
    offset: usize,
) -> Vec<f64> {
    let values: Vec<f64> = match spacing {
        Spacing::Linspace => linspace(0.0, (train_steps - 1) as f64, steps)
            .into_iter()
            .rev()
            .collect(),
        Spacing::Leading => {
            let ratio = train_steps / steps;
            (0..steps)
                .rev()
                .map(|i| (i * ratio) as f64 + offset as f64)
                .collect()
        }
        Spacing::Trailing => trailing_timesteps(train_steps, train_steps, steps),
    };
    // diffusers builds them as float32 arrays.
    values.into_iter().map(|t| f64::from(t as f32)).collect()
}

/// The inference timesteps of the multistep solvers (DPM-Solver++, UniPC): `steps + 1` points
/// spaced over `0..last_timestep`, the final one dropped, as integers.
pub(crate) fn solver_timesteps(
    spacing: Spacing,
    train_steps: usize,
    last_timestep: usize,
    steps: usize,
    offset: usize,
) -> Vec<f64> {
    match spacing {
        Spacing::Linspace => {
            let mut points: Vec<f64> = linspace(0.0, last_timestep as f64 - 1.0, steps + 1)
                .into_iter()
                .map(f64::round_ties_even)
                .collect();
            // Descending, without the smallest point.
            points.reverse();
            points.pop();
            points
        }
        Spacing::Leading => {
            let ratio = last_timestep / (steps + 1);
            (1..=steps)
                .rev()
                .map(|i| (i * ratio + offset) as f64)
                .collect()
        }
        Spacing::Trailing => trailing_timesteps(last_timestep, train_steps, steps),
    }
}

/// `np.interp(timesteps, arange(len(sigmas)), sigmas)`: the training sigmas (float32)
/// interpolated linearly at fractional timesteps, in float64.
pub(crate) fn interpolate_sigmas(train_sigmas: &[f32], timesteps: &[f64]) -> Vec<f64> {
    let last = train_sigmas.len() - 1;
    timesteps
        .iter()
        .map(|&t| {
            if t <= 0.0 {
                return f64::from(train_sigmas[0]);
            }
            if t >= last as f64 {
                return f64::from(train_sigmas[last]);
            }
            let low = t.floor() as usize;
            let (a, b) = (
                f64::from(train_sigmas[low]),
                f64::from(train_sigmas[low + 1]),
            );
            let w = t - low as f64;
            // numpy's interp: slope · (x − xₗ) + yₗ.
            (b - a) * w + a
        })
        .collect()
}

/// Karras et al. (2022)'s sigmas: `steps` values from `sigma_max` down to `sigma_min`, evenly
/// spaced in `σ^(1/7)`.
pub(crate) fn karras_sigmas(sigma_min: f64, sigma_max: f64, steps: usize) -> Vec<f64> {
    const RHO: f64 = 7.0;
    let min_inv_rho = sigma_min.powf(1.0 / RHO);
    let max_inv_rho = sigma_max.powf(1.0 / RHO);
    linspace(0.0, 1.0, steps)
        .into_iter()
        .map(|ramp| (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)).powf(RHO))
        .collect()
}

/// diffusers' `_sigma_to_t`: the fractional training timestep whose sigma is `sigma`,
/// interpolating linearly in log sigma. `log_sigmas` is `ln` of the training sigmas (float32).
pub(crate) fn sigma_to_t(sigma: f64, log_sigmas: &[f32]) -> f64 {
    let log_sigma = sigma.max(1e-10).ln();
    let low_idx = low_index(log_sigmas, |l| log_sigma - f64::from(l) >= 0.0);
    let (low, high) = (log_sigmas[low_idx], log_sigmas[low_idx + 1]);
    // numpy keeps `low − high` (two float32 scalars) in float32.
    let w = ((f64::from(low) - log_sigma) / f64::from(low - high)).clamp(0.0, 1.0);
    (1.0 - w) * low_idx as f64 + w * (low_idx + 1) as f64
}

/// [`sigma_to_t`] for a float32 sigma, all in float32 but the final blend, as numpy runs it
/// when DPM2 hands it torch tensors.
pub(crate) fn sigma_to_t_f32(sigma: f32, log_sigmas: &[f32]) -> f64 {
    let log_sigma = sigma.max(1e-10).ln();
    let low_idx = low_index(log_sigmas, |l| log_sigma - l >= 0.0);
    let (low, high) = (log_sigmas[low_idx], log_sigmas[low_idx + 1]);
    let w = ((low - log_sigma) / (low - high)).clamp(0.0, 1.0);
    f64::from(1.0 - w) * low_idx as f64 + f64::from(w) * (low_idx + 1) as f64
}

/// The last training step whose log sigma passes `at_most` (0 if none), kept below the end so
/// that the step after it exists.
fn low_index(log_sigmas: &[f32], at_most: impl Fn(f32) -> bool) -> usize {
    log_sigmas
        .iter()
        .rposition(|&l| at_most(l))
        .unwrap_or(0)
        .min(log_sigmas.len() - 2)
}

/// `ln` of each training sigma, in float32 (numpy's `np.log` of a float32 array).
pub(crate) fn log_sigmas(train_sigmas: &[f32]) -> Vec<f32> {
    train_sigmas.iter().map(|s| s.ln()).collect()
}

/// Where the sigma samplers find a timestep that is not in their schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    /// An error (Euler, Heun, DPM2, LMS, LCM: torch raises an `IndexError`).
    Error,
    /// The last step (DPM-Solver++, UniPC).
    Last,
}

/// diffusers' `index_for_timestep`: the position of `timestep` in `schedule`; when it occurs
/// twice (order-2 samplers repeat timesteps) the second, so that a run started mid-schedule
/// (img2img) does not skip a sigma.
pub(crate) fn index_for_timestep(
    schedule: &[f32],
    timestep: f32,
    missing: Missing,
) -> Result<usize> {
    let mut matches = schedule
        .iter()
        .enumerate()
        .filter(|&(_, &t)| t == timestep)
        .map(|(i, _)| i);
    let first = matches.next();
    match (first, matches.next()) {
        (_, Some(second)) => Ok(second),
        (Some(first), None) => Ok(first),
        (None, None) if missing == Missing::Last && !schedule.is_empty() => Ok(schedule.len() - 1),
        (None, None) => Err(invalid(format!(
            "timestep {timestep} is not in the scheduler's timesteps {schedule:?}"
        ))),
    }
}

/// diffusers' `_step_index` and `_begin_index`: where a stateful scheduler is in its schedule.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StepIndex {
    /// The step the next `step` call performs, once known.
    pub(crate) step: Option<usize>,
    /// The index the run starts at (set for img2img), if any.
    pub(crate) begin: Option<usize>,
}

impl StepIndex {
    /// Forgets the position (a new `set_timesteps`); the begin index too, as diffusers does.
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }

    /// The current step, initialised on first use from the begin index or from `timestep`'s
    /// position in `schedule` (diffusers' `_init_step_index`).
    pub(crate) fn current(
        &mut self,
        schedule: &[f32],
        timestep: f32,
        missing: Missing,
    ) -> Result<usize> {
        let step = match (self.step, self.begin) {
            (Some(step), _) => step,
            (None, Some(begin)) => begin,
            (None, None) => index_for_timestep(schedule, timestep, missing)?,
        };
        if step >= schedule.len() {
            return Err(invalid(format!(
                "step {step} asked of a schedule of {} timesteps: set_timesteps first, begin \
                 inside the schedule and step once per timestep",
                schedule.len()
            )));
        }
        self.step = Some(step);
        Ok(step)
    }

    /// Moves to the next step.
    pub(crate) fn advance(&mut self) {
        self.step = self.step.map(|s| s + 1);
    }

    /// The index `add_noise` uses for `timestep`: its position in `schedule` when no begin index
    /// is set, else the current step once stepping has started, else the begin index.
    pub(crate) fn for_add_noise(
        &self,
        schedule: &[f32],
        timestep: f32,
        missing: Missing,
    ) -> Result<usize> {
        match (self.begin, self.step) {
            (None, _) => index_for_timestep(schedule, timestep, missing),
            (Some(_), Some(step)) => Ok(step),
            (Some(begin), None) => Ok(begin),
        }
    }
}

/// A value of `values` by index, an error (not a panic) when the schedule is too short — a
/// caller stepping past the end, or stepping before `set_timesteps`.
pub(crate) fn at<T: Copy>(values: &[T], index: usize) -> Result<T> {
    values.get(index).copied().ok_or_else(|| {
        invalid(format!(
            "step {index} is past the end of the schedule ({} entries); call set_timesteps first \
             and step once per timestep",
            values.len()
        ))
    })
}

/// Karras sigmas for a sampler, if asked for (`use_karras_sigmas`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Karras {
    /// `use_karras_sigmas`.
    pub(crate) enabled: bool,
    /// The class's `sigma_min`/`sigma_max` config keys (Euler, UniPC), else the schedule's ends.
    pub(crate) sigma_min: Option<f64>,
    pub(crate) sigma_max: Option<f64>,
    /// Whether the timesteps found for the Karras sigmas are rounded to integers.
    pub(crate) round_timesteps: bool,
}

impl Karras {
    /// Replaces `sigmas` (descending) by `steps` Karras sigmas between the configured bounds
    /// (default: `ends`, the largest and smallest sigma) and returns them with their fractional
    /// training timesteps; `None` when Karras sigmas are off.
    pub(crate) fn apply(
        &self,
        ends: (f64, f64),
        steps: usize,
        train_sigmas: &[f32],
    ) -> Option<(Vec<f64>, Vec<f64>)> {
        if !self.enabled {
            return None;
        }
        let (largest, smallest) = ends;
        let sigmas = karras_sigmas(
            self.sigma_min.unwrap_or(smallest),
            self.sigma_max.unwrap_or(largest),
            steps,
        );
        let logs = log_sigmas(train_sigmas);
        let timesteps = sigmas
            .iter()
            .map(|&s| {
                let t = sigma_to_t(s, &logs);
                if self.round_timesteps {
                    t.round_ties_even()
                } else {
                    t
                }
            })
            .collect();
        Some((timesteps, sigmas))
    }
}

/// The schedule of the "sigma" samplers (Euler, Heun, DPM2, LMS): timesteps spaced over the
/// training range, their sigmas interpolated from the training sigmas — or Karras sigmas
/// between the interpolated ends and the timesteps they fall on. Both descending, `steps` long,
/// without the final sigma.
pub(crate) fn discrete_sigma_schedule(
    train: &TrainSchedule,
    spacing: Spacing,
    offset: usize,
    steps: usize,
    karras: &Karras,
) -> (Vec<f64>, Vec<f64>) {
    let timesteps = sigma_timesteps(spacing, train.len(), steps, offset);
    let train_sigmas = train.sigmas();
    let sigmas = interpolate_sigmas(&train_sigmas, &timesteps);
    let ends = (sigmas[0], sigmas[sigmas.len() - 1]);
    karras
        .apply(ends, steps, &train_sigmas)
        .unwrap_or((timesteps, sigmas))
}

/// Refuses a step count a schedule cannot have: 0, or more than the training timesteps.
pub(crate) fn check_steps(steps: usize, train: &TrainSchedule) -> Result<()> {
    if steps == 0 || steps > train.len() {
        return Err(invalid(format!(
            "{steps} inference steps: needs 1 to num_train_timesteps ({})",
            train.len()
        )));
    }
    Ok(())
}

/// What the sigma samplers share: their schedule in float32, where they are in it, and the
/// three operations that only depend on the sigma of a step.
#[derive(Debug, Clone, Default)]
pub(crate) struct SigmaSteps {
    /// The UNet timesteps, in loop order.
    pub(crate) timesteps: Vec<f32>,
    /// The sigma of each timestep, plus the final sigma.
    pub(crate) sigmas: Vec<f32>,
    pub(crate) index: StepIndex,
    /// `timestep_spacing` is "leading": the initial noise is then scaled by `√(σ_max² + 1)`.
    pub(crate) leading: bool,
}

impl SigmaSteps {
    /// Installs a new schedule and forgets the position.
    pub(crate) fn set(&mut self, timesteps: Vec<f32>, sigmas: Vec<f32>) {
        self.timesteps = timesteps;
        self.sigmas = sigmas;
        self.index.reset();
    }

    /// The step for `timestep`, initialised on first use.
    pub(crate) fn current(&mut self, timestep: f32) -> Result<usize> {
        self.index
            .current(&self.timesteps, timestep, Missing::Error)
    }

    /// The largest sigma, or `√(σ_max² + 1)` for "leading" spacing.
    pub(crate) fn init_noise_sigma(&self) -> f32 {
        let max = self.sigmas.iter().copied().fold(0.0f32, f32::max);
        if self.leading {
            (max * max + 1.0).sqrt()
        } else {
            max
        }
    }

    /// `sample / √(σ² + 1)` with the sigma of `timestep`'s step.
    pub(crate) fn scale_model_input(&mut self, sample: &[f32], timestep: f32) -> Result<Vec<f32>> {
        let index = self.current(timestep)?;
        Ok(Self::scale(sample, at(&self.sigmas, index)?))
    }

    /// `sample / √(σ² + 1)`.
    pub(crate) fn scale(sample: &[f32], sigma: f32) -> Vec<f32> {
        let scale = (sigma * sigma + 1.0).sqrt();
        sample.iter().map(|x| x / scale).collect()
    }

    /// `original + noise · σ` with the sigma that `add_noise` picks for `timestep`.
    pub(crate) fn add_noise(
        &self,
        original: &[f32],
        noise: &[f32],
        timestep: f32,
    ) -> Result<Vec<f32>> {
        super::check_same_len("add_noise", original, noise)?;
        let index = self
            .index
            .for_add_noise(&self.timesteps, timestep, Missing::Error)?;
        let sigma = at(&self.sigmas, index)?;
        Ok(original
            .iter()
            .zip(noise)
            .map(|(x, n)| x + n * sigma)
            .collect())
    }
}

/// x₀ predicted from the UNet output at noise level `sigma` (k-diffusion parametrisation,
/// `x = x₀ + σ·ε`), for the sigma samplers.
pub(crate) fn predict_original(
    prediction: super::config::Prediction,
    model_output: f32,
    sample: f32,
    sigma: f32,
) -> f32 {
    use super::config::Prediction;
    match prediction {
        Prediction::Epsilon => sample - sigma * model_output,
        Prediction::V => {
            model_output * (-sigma / (sigma * sigma + 1.0).sqrt()) + sample / (sigma * sigma + 1.0)
        }
        Prediction::Sample => model_output,
    }
}

/// A timestep of the integer-timestep samplers (DDIM, PNDM, LCM, DPM-Solver++, UniPC) as an
/// index, an error when it is not a whole number.
pub(crate) fn integer_timestep(timestep: f32) -> Result<i64> {
    if timestep.is_finite() && timestep.fract() == 0.0 {
        Ok(timestep as i64)
    } else {
        Err(invalid(format!(
            "timestep {timestep} is not a whole number; this sampler takes its timesteps() values"
        )))
    }
}

/// `√ᾱₜ · original + √(1 − ᾱₜ) · noise`: DDPM's forward process, the `add_noise` of the
/// samplers that index ᾱ by timestep (DDIM, PNDM, LCM).
pub(crate) fn alpha_add_noise(
    train: &TrainSchedule,
    original: &[f32],
    noise: &[f32],
    timestep: f32,
) -> Result<Vec<f32>> {
    super::check_same_len("add_noise", original, noise)?;
    let alpha = train.alpha_cumprod_at(integer_timestep(timestep)?)?;
    let (signal, noise_scale) = (alpha.sqrt(), (1.0 - alpha).sqrt());
    Ok(original
        .iter()
        .zip(noise)
        .map(|(x, n)| signal * x + noise_scale * n)
        .collect())
}

/// x₀ and ε from the UNet output in DDPM's parametrisation (`x = √ᾱ·x₀ + √(1−ᾱ)·ε`), as DDIM
/// and LCM compute them.
pub(crate) fn ddpm_predict(
    prediction: super::config::Prediction,
    model_output: f32,
    sample: f32,
    alpha: f32,
) -> (f32, f32) {
    use super::config::Prediction;
    let (a, b) = (alpha.sqrt(), (1.0 - alpha).sqrt());
    match prediction {
        Prediction::Epsilon => ((sample - b * model_output) / a, model_output),
        Prediction::Sample => (model_output, (sample - a * model_output) / b),
        Prediction::V => (a * sample - b * model_output, a * model_output + b * sample),
    }
}

/// The sigmas of the multistep solvers (DPM-Solver++, UniPC) at `timesteps`: interpolated from
/// the training sigmas, or Karras sigmas between the training sigmas' ends and the integer
/// timesteps they fall on. Returns `(timesteps, sigmas)`, without the final sigma.
pub(crate) fn solver_sigma_schedule(
    train: &TrainSchedule,
    timesteps: Vec<f64>,
    steps: usize,
    karras: &Karras,
) -> (Vec<f64>, Vec<f64>) {
    let train_sigmas = train.sigmas();
    let ends = (
        f64::from(train_sigmas[train_sigmas.len() - 1]),
        f64::from(train_sigmas[0]),
    );
    karras.apply(ends, steps, &train_sigmas).unwrap_or_else(|| {
        let sigmas = interpolate_sigmas(&train_sigmas, &timesteps);
        (timesteps, sigmas)
    })
}

/// The state the multistep solvers share: integer timesteps, sigmas (with the final one), the
/// step index, and the (α, σ, λ) of a sigma in the variance-preserving parametrisation.
#[derive(Debug, Clone, Default)]
pub(crate) struct SolverSteps {
    pub(crate) timesteps: Vec<f32>,
    pub(crate) sigmas: Vec<f32>,
    pub(crate) index: StepIndex,
}

/// A noise level as DPM-Solver sees it: `x = α·x₀ + σ·ε` with `α = 1/√(s² + 1)`, `σ = s·α`, and
/// the half log-SNR `λ = ln α − ln σ` (float32, as diffusers' tensors).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Level {
    pub(crate) alpha: f32,
    pub(crate) sigma: f32,
    pub(crate) lambda: f32,
}

impl SolverSteps {
    /// The current step for `timestep`, initialised on first use (an unknown timestep means the
    /// last step, as in diffusers).
    pub(crate) fn current(&mut self, timestep: f32) -> Result<usize> {
        self.index.current(&self.timesteps, timestep, Missing::Last)
    }

    /// The noise level of sigma `index`.
    pub(crate) fn level(&self, index: usize) -> Result<Level> {
        Ok(level_of(at(&self.sigmas, index)?))
    }

    /// `α·original + σ·noise` at the level `add_noise` picks for `timestep`.
    pub(crate) fn add_noise(
        &self,
        original: &[f32],
        noise: &[f32],
        timestep: f32,
    ) -> Result<Vec<f32>> {
        super::check_same_len("add_noise", original, noise)?;
        let index = self
            .index
            .for_add_noise(&self.timesteps, timestep, Missing::Last)?;
        let Level { alpha, sigma, .. } = self.level(index)?;
        Ok(original
            .iter()
            .zip(noise)
            .map(|(x, n)| alpha * x + sigma * n)
            .collect())
    }
}

/// The [`Level`] of sigma `s`.
pub(crate) fn level_of(s: f32) -> Level {
    let alpha = 1.0 / (s * s + 1.0).sqrt();
    let sigma = s * alpha;
    Level {
        alpha,
        sigma,
        lambda: alpha.ln() - sigma.ln(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_ends_exactly() {
        assert_eq!(linspace(0.0, 999.0, 4), vec![0.0, 333.0, 666.0, 999.0]);
        assert_eq!(linspace(0.0, 1.0, 1), vec![0.0]);
    }

    #[test]
    fn duplicated_timesteps_resolve_to_the_second() {
        let schedule = [999.0, 500.0, 500.0, 1.0];
        assert_eq!(
            index_for_timestep(&schedule, 500.0, Missing::Error).unwrap(),
            2
        );
        assert_eq!(
            index_for_timestep(&schedule, 1.0, Missing::Error).unwrap(),
            3
        );
        assert!(index_for_timestep(&schedule, 7.0, Missing::Error).is_err());
        assert_eq!(
            index_for_timestep(&schedule, 7.0, Missing::Last).unwrap(),
            3
        );
    }

    #[test]
    fn sigma_to_t_inverts_the_training_sigmas() {
        let sigmas: Vec<f32> = (1..=1000).map(|i| i as f32 / 100.0).collect();
        let logs = log_sigmas(&sigmas);
        assert!((sigma_to_t(f64::from(sigmas[300]), &logs) - 300.0).abs() < 1e-3);
        assert_eq!(sigma_to_t(1e-12, &logs), 0.0);
        assert_eq!(sigma_to_t(1e9, &logs), 999.0);
    }
}

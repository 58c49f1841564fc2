//! DPM2 ("DPM2", "DPM2 Karras") and DPM2 ancestral ("DPM2 a", "DPM2 a Karras"): diffusers'
//! `KDPM2DiscreteScheduler` and `KDPM2AncestralDiscreteScheduler`, k-diffusion's
//! `sample_dpm_2` and `sample_dpm_2_ancestral`.
//!
//! Each step is two UNet calls: an Euler half-step to the sigma half way (in log sigma) to the
//! next one, then the full step with the derivative found there. The ancestral variant aims the
//! full step below the next sigma and adds fresh noise back up (one draw per full step).

use inpaint_core::Result;

use super::config::{ClassConfig, Prediction, Spacing};
use super::schedule::{
    BetaDefaults, Karras, SigmaSteps, TrainSchedule, at, check_steps, discrete_sigma_schedule,
    log_sigmas, predict_original, sigma_to_t_f32,
};
use super::{NoiseSource, Scheduler, check_same_len, check_step_input, draw_noise};

#[derive(Debug, Clone)]
pub(crate) struct Kdpm2 {
    train: TrainSchedule,
    spacing: Spacing,
    offset: usize,
    prediction: Prediction,
    karras: Karras,
    ancestral: bool,
    /// `sigmas`, the timesteps and the step index (interleaved: each sigma twice).
    run: SigmaSteps,
    /// The midpoint sigma of each step, interleaved like `run.sigmas`.
    sigmas_interpol: Vec<f32>,
    /// Ancestral only: the noise added back and the sigma stepped down to, interleaved.
    sigmas_up: Vec<f32>,
    sigmas_down: Vec<f32>,
    /// The sample at the start of the step while its second half is pending.
    pending: Option<Vec<f32>>,
}

impl Kdpm2 {
    pub(crate) fn new(config: &ClassConfig<'_>, ancestral: bool) -> Result<Self> {
        let spacing = config.spacing(Spacing::Linspace)?;
        config.require_false(&["use_exponential_sigmas", "use_beta_sigmas"])?;
        Ok(Self {
            train: TrainSchedule::new(config, BetaDefaults::K_DIFFUSION)?,
            spacing,
            offset: config.usize("steps_offset", 0)?,
            // diffusers raises for "sample" in both.
            prediction: config.prediction(&[Prediction::Epsilon, Prediction::V])?,
            karras: Karras {
                enabled: config.bool("use_karras_sigmas", false)?,
                round_timesteps: true,
                ..Karras::default()
            },
            ancestral,
            run: SigmaSteps {
                leading: spacing == Spacing::Leading,
                ..SigmaSteps::default()
            },
            sigmas_interpol: Vec::new(),
            sigmas_up: Vec::new(),
            sigmas_down: Vec::new(),
            pending: None,
        })
    }

    /// Whether the next call is the first half of a step.
    fn first_half(&self) -> bool {
        self.pending.is_none()
    }
}

/// `[v₀, v₁, v₁, v₂, v₂, …, vₙ, vₙ, vₙ]`: diffusers' `cat([v[:1], v[1:].repeat_interleave(2), v[-1:]])`.
fn interleave(values: &[f32]) -> Vec<f32> {
    let mut out = Vec::new();
    out.push(values[0]);
    for &v in &values[1..] {
        out.extend([v, v]);
    }
    out.push(values[values.len() - 1]);
    out
}

/// The geometric mean of two sigmas as torch computes it: `exp(lerp(ln a, ln b, 0.5))` in float32
/// (torch's lerp at weight ½ is `end − (end − start)·½`; a zero sigma gives 0 or NaN as in torch).
fn log_midpoint(a: f32, b: f32) -> f32 {
    let (start, end) = (a.ln(), b.ln());
    (end - (end - start) * 0.5).exp()
}

impl Scheduler for Kdpm2 {
    schedule_methods!();

    fn init_noise_sigma(&self) -> f32 {
        self.run.init_noise_sigma()
    }

    fn set_timesteps(&mut self, steps: usize) -> Result<()> {
        check_steps(steps, &self.train)?;
        let (timesteps, sigmas) =
            discrete_sigma_schedule(&self.train, self.spacing, self.offset, steps, &self.karras);
        let sigmas: Vec<f32> = sigmas.iter().map(|&s| s as f32).chain([0.0]).collect();
        let n = sigmas.len();
        let logs = log_sigmas(&self.train.sigmas());
        let t_of = |sigma: f32| sigma_to_t_f32(sigma, &logs) as f32;
        let timesteps: Vec<f32> = timesteps.iter().map(|&t| t as f32).collect();
        let mut loop_timesteps = vec![timesteps[0]];
        let interpol: Vec<f32>;
        if self.ancestral {
            let next = |i: usize| if i + 1 < n { sigmas[i + 1] } else { 0.0 };
            let up: Vec<f32> = (0..n)
                .map(|i| {
                    let (s, sn) = (sigmas[i], next(i));
                    (sn * sn * (s * s - sn * sn) / (s * s)).sqrt()
                })
                .collect();
            let mut down: Vec<f32> = (0..n)
                .map(|i| (next(i) * next(i) - up[i] * up[i]).sqrt())
                .collect();
            down[n - 1] = 0.0;
            let mut mid: Vec<f32> = (0..n).map(|i| log_midpoint(sigmas[i], down[i])).collect();
            mid[n - 2] = 0.0;
            mid[n - 1] = 0.0;
            // Each step: its sigma's timestep, then the midpoint's.
            for (i, &t) in timesteps.iter().enumerate().skip(1) {
                loop_timesteps.extend([t_of(mid[i - 1]), t]);
            }
            self.sigmas_up = interleave(&up);
            self.sigmas_down = interleave(&down);
            interpol = mid;
        } else {
            let mid: Vec<f32> = (0..n)
                .map(|i| log_midpoint(sigmas[i], sigmas[(i + n - 1) % n]))
                .collect();
            for (i, &t) in timesteps.iter().enumerate().skip(1) {
                loop_timesteps.extend([t_of(mid[i]), t]);
            }
            interpol = mid;
        }
        self.sigmas_interpol = interleave(&interpol);
        self.run.set(loop_timesteps, interleave(&sigmas));
        self.pending = None;
        Ok(())
    }

    fn order(&self) -> usize {
        2
    }

    fn scale_model_input(&mut self, sample: &[f32], timestep: f32) -> Result<Vec<f32>> {
        let index = self.run.current(timestep)?;
        let sigma = match (self.first_half(), self.ancestral) {
            (true, _) => at(&self.run.sigmas, index)?,
            (false, false) => at(&self.sigmas_interpol, index)?,
            (false, true) => at(&self.sigmas_interpol, index.wrapping_sub(1))?,
        };
        Ok(SigmaSteps::scale(sample, sigma))
    }

    fn step(
        &mut self,
        model_output: &[f32],
        timestep: f32,
        sample: &[f32],
        shape: &[usize],
        noise: &mut dyn NoiseSource,
    ) -> Result<Vec<f32>> {
        check_step_input(model_output, sample, shape)?;
        let index = self.run.current(timestep)?;
        let prediction = self.prediction;
        let out = match self.pending.take() {
            None => {
                // Euler to the midpoint sigma.
                let sigma = at(&self.run.sigmas, index)?;
                let sigma_mid = if self.ancestral {
                    at(&self.sigmas_interpol, index)?
                } else {
                    at(&self.sigmas_interpol, index + 1)?
                };
                let dt = sigma_mid - sigma;
                let out = sample
                    .iter()
                    .zip(model_output)
                    .map(|(&x, &m)| {
                        x + (x - predict_original(prediction, m, x, sigma)) / sigma * dt
                    })
                    .collect();
                self.pending = Some(sample.to_vec());
                out
            }
            Some(start) => {
                // The full step from the start sample, with the midpoint's derivative.
                check_same_len("DPM2 second half", &start, sample)?;
                let before = index.wrapping_sub(1);
                let sigma = at(&self.run.sigmas, before)?;
                let (sigma_mid, target, sigma_up) = if self.ancestral {
                    (
                        at(&self.sigmas_interpol, before)?,
                        at(&self.sigmas_down, before)?,
                        Some(at(&self.sigmas_up, before)?),
                    )
                } else {
                    (
                        at(&self.sigmas_interpol, index)?,
                        at(&self.run.sigmas, index)?,
                        None,
                    )
                };
                let dt = target - sigma;
                let stepped = sample
                    .iter()
                    .zip(model_output)
                    .zip(&start)
                    .map(|((&x, &m), &x0)| {
                        x0 + (x - predict_original(prediction, m, x, sigma_mid)) / sigma_mid * dt
                    });
                match sigma_up {
                    Some(sigma_up) => {
                        let noise = draw_noise(noise, shape, sample.len())?;
                        stepped.zip(&noise).map(|(x, n)| x + n * sigma_up).collect()
                    }
                    None => stepped.collect(),
                }
            }
        };
        self.run.index.advance();
        Ok(out)
    }
}

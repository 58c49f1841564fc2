//! Heun ("Heun"): diffusers' `HeunDiscreteScheduler`, Karras et al. (2022) algorithm 1 — an
//! Euler step, then a correction with the derivative at its end (two UNet calls per step).

use inpaint_core::Result;

use super::config::{ClassConfig, Prediction, Spacing};
use super::schedule::{
    BetaDefaults, Karras, SigmaSteps, TrainSchedule, at, check_steps, discrete_sigma_schedule,
    predict_original,
};
use super::{NoiseSource, Scheduler, check_step_input};

/// The Euler half of a Heun step, kept for the correction.
#[derive(Debug, Clone)]
struct FirstHalf {
    derivative: Vec<f32>,
    dt: f32,
    sample: Vec<f32>,
}

#[derive(Debug, Clone)]
pub(crate) struct Heun {
    train: TrainSchedule,
    spacing: Spacing,
    offset: usize,
    prediction: Prediction,
    karras: Karras,
    /// `clip_sample`: the range x₀ is clamped to, if any.
    clip: Option<f32>,
    run: SigmaSteps,
    first_half: Option<FirstHalf>,
}

impl Heun {
    pub(crate) fn new(config: &ClassConfig<'_>) -> Result<Self> {
        let spacing = config.spacing(Spacing::Linspace)?;
        config.require_false(&["use_exponential_sigmas", "use_beta_sigmas"])?;
        Ok(Self {
            train: TrainSchedule::new(config, BetaDefaults::K_DIFFUSION)?,
            spacing,
            offset: config.usize("steps_offset", 0)?,
            prediction: config.prediction(&[
                Prediction::Epsilon,
                Prediction::V,
                Prediction::Sample,
            ])?,
            karras: Karras {
                enabled: config.bool("use_karras_sigmas", false)?,
                ..Karras::default()
            },
            clip: config.clip_range(false)?,
            run: SigmaSteps {
                leading: spacing == Spacing::Leading,
                ..SigmaSteps::default()
            },
            first_half: None,
        })
    }
}

impl Scheduler for Heun {
    schedule_methods!(sigma);

    fn set_timesteps(&mut self, steps: usize) -> Result<()> {
        check_steps(steps, &self.train)?;
        let (timesteps, sigmas) =
            discrete_sigma_schedule(&self.train, self.spacing, self.offset, steps, &self.karras);
        // Every sigma but the first and the final 0 is visited twice (Euler, then correction).
        let sigmas: Vec<f32> = sigmas.iter().map(|&s| s as f32).chain([0.0]).collect();
        let mut doubled = vec![sigmas[0]];
        for &s in &sigmas[1..sigmas.len() - 1] {
            doubled.extend([s, s]);
        }
        doubled.push(0.0);
        let mut doubled_timesteps = vec![timesteps[0] as f32];
        for &t in &timesteps[1..] {
            doubled_timesteps.extend([t as f32, t as f32]);
        }
        self.run.set(doubled_timesteps, doubled);
        self.first_half = None;
        Ok(())
    }

    fn order(&self) -> usize {
        2
    }

    fn step(
        &mut self,
        model_output: &[f32],
        timestep: f32,
        sample: &[f32],
        shape: &[usize],
        _noise: &mut dyn NoiseSource,
    ) -> Result<Vec<f32>> {
        check_step_input(model_output, sample, shape)?;
        let index = self.run.current(timestep)?;
        let (prediction, clip) = (self.prediction, self.clip);
        let x0 = |m: f32, x: f32, sigma: f32| {
            let x0 = predict_original(prediction, m, x, sigma);
            clip.map_or(x0, |r| x0.clamp(-r, r))
        };
        let out = match self.first_half.take() {
            None => {
                let sigma = at(&self.run.sigmas, index)?;
                let dt = at(&self.run.sigmas, index + 1)? - sigma;
                let derivative: Vec<f32> = sample
                    .iter()
                    .zip(model_output)
                    .map(|(&x, &m)| (x - x0(m, x, sigma)) / sigma)
                    .collect();
                let out = sample
                    .iter()
                    .zip(&derivative)
                    .map(|(x, d)| x + d * dt)
                    .collect();
                self.first_half = Some(FirstHalf {
                    derivative,
                    dt,
                    sample: sample.to_vec(),
                });
                out
            }
            Some(first) => {
                super::check_same_len("Heun correction", &first.sample, sample)?;
                let sigma_next = at(&self.run.sigmas, index)?;
                sample
                    .iter()
                    .zip(model_output)
                    .zip(first.derivative.iter().zip(&first.sample))
                    .map(|((&x, &m), (&d1, &x_start))| {
                        let d2 = (x - x0(m, x, sigma_next)) / sigma_next;
                        x_start + (d1 + d2) / 2.0 * first.dt
                    })
                    .collect()
            }
        };
        self.run.index.advance();
        Ok(out)
    }
}

//! Euler ("Euler") and Euler ancestral ("Euler a"): diffusers' `EulerDiscreteScheduler` and
//! `EulerAncestralDiscreteScheduler`, Karras et al. (2022) algorithm 2 without churn.

use inpaint_core::Result;
use serde_json::Value;

use super::config::{ClassConfig, Prediction, Spacing};
use super::schedule::{
    BetaDefaults, Karras, SigmaSteps, TrainSchedule, at, check_steps, discrete_sigma_schedule,
    predict_original,
};
use super::{NoiseSource, Scheduler, check_step_input, draw_noise};

/// Euler's method on the probability-flow ODE; the ancestral variant steps down to a lower sigma
/// and adds fresh noise back up (one draw per step, the last included).
#[derive(Debug, Clone)]
pub(crate) struct Euler {
    train: TrainSchedule,
    spacing: Spacing,
    offset: usize,
    prediction: Prediction,
    /// `EulerAncestralDiscreteScheduler`.
    ancestral: bool,
    karras: Karras,
    final_sigma_zero: bool,
    run: SigmaSteps,
}

impl Euler {
    pub(crate) fn new(config: &ClassConfig<'_>, ancestral: bool) -> Result<Self> {
        let train = TrainSchedule::new(config, BetaDefaults::DDPM)?;
        let spacing = config.spacing(Spacing::Linspace)?;
        let (prediction, karras, final_sigma_zero);
        if ancestral {
            // diffusers raises for "sample" in Euler a.
            prediction = config.prediction(&[Prediction::Epsilon, Prediction::V])?;
            karras = Karras::default();
            final_sigma_zero = true;
        } else {
            prediction =
                config.prediction(&[Prediction::Epsilon, Prediction::V, Prediction::Sample])?;
            config.require_false(&["use_exponential_sigmas", "use_beta_sigmas"])?;
            config.require_default("interpolation_type", &Value::from("linear"))?;
            config.require_default("timestep_type", &Value::from("discrete"))?;
            karras = Karras {
                enabled: config.bool("use_karras_sigmas", false)?,
                sigma_min: config.optional_f64("sigma_min")?,
                sigma_max: config.optional_f64("sigma_max")?,
                round_timesteps: false,
            };
            final_sigma_zero = config.final_sigma_is_zero()?;
        }
        Ok(Self {
            spacing,
            offset: config.usize("steps_offset", 0)?,
            prediction,
            ancestral,
            karras,
            final_sigma_zero,
            run: SigmaSteps {
                leading: spacing == Spacing::Leading,
                ..SigmaSteps::default()
            },
            train,
        })
    }
}

impl Scheduler for Euler {
    schedule_methods!(sigma);

    fn set_timesteps(&mut self, steps: usize) -> Result<()> {
        check_steps(steps, &self.train)?;
        let (timesteps, sigmas) =
            discrete_sigma_schedule(&self.train, self.spacing, self.offset, steps, &self.karras);
        let last = if self.final_sigma_zero {
            0.0
        } else {
            self.train.sigma_at_zero()
        };
        self.run.set(
            timesteps.iter().map(|&t| t as f32).collect(),
            sigmas.iter().chain([&last]).map(|&s| s as f32).collect(),
        );
        Ok(())
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
        let sigma = at(&self.run.sigmas, index)?;
        let sigma_next = at(&self.run.sigmas, index + 1)?;
        let prediction = self.prediction;
        let out = if self.ancestral {
            let sigma_up = (sigma_next * sigma_next * (sigma * sigma - sigma_next * sigma_next)
                / (sigma * sigma))
                .sqrt();
            let sigma_down = (sigma_next * sigma_next - sigma_up * sigma_up).sqrt();
            let dt = sigma_down - sigma;
            let noise = draw_noise(noise, shape, sample.len())?;
            sample
                .iter()
                .zip(model_output)
                .zip(&noise)
                .map(|((&x, &m), &n)| {
                    let derivative = (x - predict_original(prediction, m, x, sigma)) / sigma;
                    x + derivative * dt + n * sigma_up
                })
                .collect()
        } else {
            let dt = sigma_next - sigma;
            sample
                .iter()
                .zip(model_output)
                .map(|(&x, &m)| {
                    let derivative = (x - predict_original(prediction, m, x, sigma)) / sigma;
                    x + derivative * dt
                })
                .collect()
        };
        self.run.index.advance();
        Ok(out)
    }
}

//! DDIM ("DDIM"): diffusers' `DDIMScheduler` with the pipeline's `eta = 0` — the deterministic
//! implicit sampler of Song et al. (2020).

use inpaint_core::Result;

use super::config::{ClassConfig, Prediction, Spacing};
use super::schedule::{
    BetaDefaults, TrainSchedule, alpha_add_noise, check_steps, ddpm_predict, integer_timestep,
    linspace, trailing_timesteps,
};
use super::{NoiseSource, Scheduler, check_step_input};

#[derive(Debug, Clone)]
pub(crate) struct Ddim {
    train: TrainSchedule,
    spacing: Spacing,
    offset: usize,
    prediction: Prediction,
    /// `clip_sample` (true by default in this class): the range x₀ is clamped to.
    clip: Option<f32>,
    /// ᾱ before the first training step: 1 with `set_alpha_to_one` (the default), else ᾱ₀.
    final_alpha_cumprod: f32,
    timesteps: Vec<f32>,
    /// `num_train_timesteps / steps`, the distance to the previous timestep.
    ratio: i64,
}

impl Ddim {
    pub(crate) fn new(config: &ClassConfig<'_>) -> Result<Self> {
        let train = TrainSchedule::new(config, BetaDefaults::DDPM)?;
        config.require_false(&["thresholding"])?;
        let clip = config.clip_range(true)?;
        let final_alpha_cumprod = train.final_alpha_cumprod(config, true)?;
        Ok(Self {
            spacing: config.spacing(Spacing::Leading)?,
            offset: config.usize("steps_offset", 0)?,
            prediction: config.prediction(&[
                Prediction::Epsilon,
                Prediction::V,
                Prediction::Sample,
            ])?,
            clip,
            final_alpha_cumprod,
            timesteps: Vec::new(),
            ratio: 0,
            train,
        })
    }
}

impl Scheduler for Ddim {
    fn set_timesteps(&mut self, steps: usize) -> Result<()> {
        check_steps(steps, &self.train)?;
        let train_steps = self.train.len();
        let timesteps: Vec<f64> = match self.spacing {
            Spacing::Linspace => linspace(0.0, (train_steps - 1) as f64, steps)
                .into_iter()
                .rev()
                .map(f64::round_ties_even)
                .collect(),
            Spacing::Leading => (0..steps)
                .rev()
                .map(|i| (i * (train_steps / steps) + self.offset) as f64)
                .collect(),
            Spacing::Trailing => trailing_timesteps(train_steps, train_steps, steps),
        };
        self.timesteps = timesteps.into_iter().map(|t| t as f32).collect();
        self.ratio = (train_steps / steps) as i64;
        Ok(())
    }

    fn timesteps(&self) -> &[f32] {
        &self.timesteps
    }

    fn set_begin_index(&mut self, _index: usize) {}

    fn step(
        &mut self,
        model_output: &[f32],
        timestep: f32,
        sample: &[f32],
        shape: &[usize],
        _noise: &mut dyn NoiseSource,
    ) -> Result<Vec<f32>> {
        check_step_input(model_output, sample, shape)?;
        if self.ratio == 0 {
            return Err(super::invalid("DDIM step before set_timesteps".into()));
        }
        let t = integer_timestep(timestep)?;
        let alpha = self.train.alpha_cumprod_at(t)?;
        let prev = t - self.ratio;
        let alpha_prev = if prev >= 0 {
            self.train.alpha_cumprod_at(prev)?
        } else {
            self.final_alpha_cumprod
        };
        let (signal_prev, direction) = (alpha_prev.sqrt(), (1.0 - alpha_prev).sqrt());
        let (prediction, clip) = (self.prediction, self.clip);
        Ok(sample
            .iter()
            .zip(model_output)
            .map(|(&x, &m)| {
                let (x0, eps) = ddpm_predict(prediction, m, x, alpha);
                let x0 = clip.map_or(x0, |r| x0.clamp(-r, r));
                signal_prev * x0 + direction * eps
            })
            .collect())
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], timestep: f32) -> Result<Vec<f32>> {
        alpha_add_noise(&self.train, original, noise, timestep)
    }
}

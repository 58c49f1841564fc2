//! LCM ("LCM"): diffusers' `LCMScheduler`, multistep consistency sampling (Luo et al., 2023):
//! each step jumps to a denoised estimate and, except at the last step, re-noises it to the next
//! timestep with a fresh draw.

use inpaint_core::Result;

use super::config::{ClassConfig, Prediction};
use super::schedule::{
    BetaDefaults, Missing, StepIndex, TrainSchedule, alpha_add_noise, at, check_steps,
    ddpm_predict, integer_timestep, linspace,
};
use super::{NoiseSource, Scheduler, check_step_input, draw_noise, invalid};

/// The consistency model's data standard deviation (`sigma_data` in diffusers).
const SIGMA_DATA: f32 = 0.5;

#[derive(Debug, Clone)]
pub(crate) struct Lcm {
    train: TrainSchedule,
    prediction: Prediction,
    clip: Option<f32>,
    final_alpha_cumprod: f32,
    /// `original_inference_steps`: the distilled schedule the timesteps are picked from.
    original_steps: usize,
    /// `timestep_scaling`: scales the timestep in the boundary-condition coefficients.
    timestep_scaling: f32,
    timesteps: Vec<f32>,
    steps: usize,
    index: StepIndex,
}

impl Lcm {
    pub(crate) fn new(config: &ClassConfig<'_>) -> Result<Self> {
        let train = TrainSchedule::new(config, BetaDefaults::LCM)?;
        config.require_false(&["thresholding"])?;
        let clip = config.clip_range(false)?;
        let final_alpha_cumprod = train.final_alpha_cumprod(config, true)?;
        let original_steps = config.usize("original_inference_steps", 50)?;
        if original_steps == 0 || original_steps > train.len() {
            return Err(invalid(format!(
                "original_inference_steps {original_steps} must be 1 to num_train_timesteps"
            )));
        }
        Ok(Self {
            prediction: config.prediction(&[
                Prediction::Epsilon,
                Prediction::V,
                Prediction::Sample,
            ])?,
            clip,
            final_alpha_cumprod,
            original_steps,
            timestep_scaling: config.f64("timestep_scaling", 10.0)? as f32,
            timesteps: Vec::new(),
            steps: 0,
            index: StepIndex::default(),
            train,
        })
    }
}

impl Scheduler for Lcm {
    fn set_timesteps(&mut self, steps: usize) -> Result<()> {
        check_steps(steps, &self.train)?;
        let k = self.train.len() / self.original_steps;
        // The distilled schedule k−1, 2k−1, …, newest first; `steps` of them evenly picked.
        let origin: Vec<usize> = (1..=self.original_steps).rev().map(|i| i * k - 1).collect();
        if origin.len() / steps < 1 {
            return Err(invalid(format!(
                "LCM takes at most original_inference_steps ({}) steps, {steps} asked",
                self.original_steps
            )));
        }
        let picks = linspace(0.0, origin.len() as f64, steps + 1);
        self.timesteps = picks[..steps]
            .iter()
            .map(|&p| origin[p.floor() as usize] as f32)
            .collect();
        self.steps = steps;
        self.index.reset();
        Ok(())
    }

    fn timesteps(&self) -> &[f32] {
        &self.timesteps
    }

    fn set_begin_index(&mut self, index: usize) {
        self.index.begin = Some(index);
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
        let index = self
            .index
            .current(&self.timesteps, timestep, Missing::Error)?;
        let t = integer_timestep(timestep)?;
        let prev = match self.timesteps.get(index + 1) {
            Some(&next) => integer_timestep(next)?,
            None => t,
        };
        let alpha = self.train.alpha_cumprod_at(t)?;
        let alpha_prev = if prev >= 0 {
            self.train.alpha_cumprod_at(prev)?
        } else {
            self.final_alpha_cumprod
        };
        // The boundary-condition scalings c_skip, c_out of consistency models.
        let scaled = t as f32 * self.timestep_scaling;
        let c_skip = SIGMA_DATA * SIGMA_DATA / (scaled * scaled + SIGMA_DATA * SIGMA_DATA);
        let c_out = scaled / (scaled * scaled + SIGMA_DATA * SIGMA_DATA).sqrt();
        let (prediction, clip) = (self.prediction, self.clip);
        let denoised = sample.iter().zip(model_output).map(|(&x, &m)| {
            let x0 = ddpm_predict(prediction, m, x, alpha).0;
            let x0 = clip.map_or(x0, |r| x0.clamp(-r, r));
            c_out * x0 + c_skip * x
        });
        let out = if index + 1 != self.steps {
            let noise = draw_noise(noise, shape, sample.len())?;
            let (signal, noise_scale) = (alpha_prev.sqrt(), (1.0 - alpha_prev).sqrt());
            denoised
                .zip(&noise)
                .map(|(d, n)| signal * d + noise_scale * n)
                .collect()
        } else {
            denoised.collect()
        };
        at(&self.timesteps, index)?;
        self.index.advance();
        Ok(out)
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], timestep: f32) -> Result<Vec<f32>> {
        alpha_add_noise(&self.train, original, noise, timestep)
    }
}

//! PNDM ("PNDM"): diffusers' `PNDMScheduler` with `skip_prk_steps` (as Stable Diffusion's
//! configs set it): pseudo linear multistep (PLMS) steps of Liu et al. (2022).
//!
//! The first step runs twice at the same timestep (a second-order start), so a run of n steps
//! has n + 1 timesteps, the second-to-last one repeated in diffusers' order.

use inpaint_core::Result;

use super::config::{ClassConfig, Prediction, Spacing};
use super::schedule::{
    BetaDefaults, TrainSchedule, alpha_add_noise, check_steps, integer_timestep, linspace,
    trailing_timesteps,
};
use super::{NoiseSource, Scheduler, check_same_len, check_step_input, invalid, unsupported};

#[derive(Debug, Clone)]
pub(crate) struct Pndm {
    train: TrainSchedule,
    spacing: Spacing,
    offset: usize,
    prediction: Prediction,
    /// ᾱ before the first training step: ᾱ₀, or 1 with `set_alpha_to_one`.
    final_alpha_cumprod: f32,
    timesteps: Vec<f32>,
    /// `num_train_timesteps / steps`.
    ratio: i64,
    /// The last model outputs (newest last, at most 4).
    ets: Vec<Vec<f32>>,
    /// Calls to `step` since `set_timesteps`.
    counter: usize,
    /// The sample the first (two-call) step started from.
    start_sample: Option<Vec<f32>>,
}

impl Pndm {
    pub(crate) fn new(config: &ClassConfig<'_>) -> Result<Self> {
        let train = TrainSchedule::new(config, BetaDefaults::DDPM)?;
        if !config.bool("skip_prk_steps", false)? {
            // Stable Diffusion's configs all set it; the Runge–Kutta warm-up is not implemented.
            return Err(unsupported(
                "skip_prk_steps = false (PNDM's Runge-Kutta steps)",
            ));
        }
        let final_alpha_cumprod = train.final_alpha_cumprod(config, false)?;
        Ok(Self {
            spacing: config.spacing(Spacing::Leading)?,
            offset: config.usize("steps_offset", 0)?,
            prediction: config.prediction(&[Prediction::Epsilon, Prediction::V])?,
            final_alpha_cumprod,
            timesteps: Vec::new(),
            ratio: 0,
            ets: Vec::new(),
            counter: 0,
            start_sample: None,
            train,
        })
    }

    /// DDIM-like update from `t` to `prev` with the combined model output `eps` (formula (9) of
    /// the PNDM paper).
    fn prev_sample(&self, sample: &[f32], t: i64, prev: i64, eps: &[f32]) -> Result<Vec<f32>> {
        let alpha = self.train.alpha_cumprod_at(t)?;
        let alpha_prev = if prev >= 0 {
            self.train.alpha_cumprod_at(prev)?
        } else {
            self.final_alpha_cumprod
        };
        let (beta, beta_prev) = (1.0 - alpha, 1.0 - alpha_prev);
        let sample_coeff = (alpha_prev / alpha).sqrt();
        let denominator = alpha * beta_prev.sqrt() + (alpha * beta * alpha_prev).sqrt();
        let v = self.prediction == Prediction::V;
        Ok(sample
            .iter()
            .zip(eps)
            .map(|(&x, &e)| {
                let e = if v {
                    alpha.sqrt() * e + beta.sqrt() * x
                } else {
                    e
                };
                sample_coeff * x - (alpha_prev - alpha) * e / denominator
            })
            .collect())
    }
}

impl Scheduler for Pndm {
    fn set_timesteps(&mut self, steps: usize) -> Result<()> {
        check_steps(steps, &self.train)?;
        let train_steps = self.train.len();
        // Ascending, then the second-to-last repeated and the order reversed.
        let ascending: Vec<f64> = match self.spacing {
            Spacing::Linspace => linspace(0.0, (train_steps - 1) as f64, steps)
                .into_iter()
                .map(f64::round_ties_even)
                .collect(),
            Spacing::Leading => (0..steps)
                .map(|i| (i * (train_steps / steps) + self.offset) as f64)
                .collect(),
            Spacing::Trailing => {
                let mut ascending = trailing_timesteps(train_steps, train_steps, steps);
                ascending.reverse();
                ascending
            }
        };
        let n = ascending.len();
        let mut plms: Vec<f64> = ascending[..n - 1].to_vec();
        if n >= 2 {
            plms.push(ascending[n - 2]);
        }
        plms.push(ascending[n - 1]);
        plms.reverse();
        self.timesteps = plms.into_iter().map(|t| t as f32).collect();
        self.ratio = (train_steps / steps) as i64;
        self.ets.clear();
        self.counter = 0;
        self.start_sample = None;
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
            return Err(invalid("PNDM step before set_timesteps".into()));
        }
        if let Some(last) = self.ets.last() {
            check_same_len("PNDM history", last, sample)?;
        }
        let mut t = integer_timestep(timestep)?;
        let mut prev = t - self.ratio;
        if self.counter == 1 {
            // The second call of the first step: same target, from the first call's start.
            prev = t;
            t += self.ratio;
        } else {
            if self.ets.len() > 3 {
                self.ets.remove(0);
            }
            self.ets.push(model_output.to_vec());
        }
        let e = &self.ets;
        let n = e.len();
        let combine = |f: &dyn Fn(usize) -> f32| (0..sample.len()).map(f).collect::<Vec<f32>>();
        let (eps, from): (Vec<f32>, Vec<f32>) = match (n, self.counter) {
            (1, 0) => {
                self.start_sample = Some(sample.to_vec());
                (model_output.to_vec(), sample.to_vec())
            }
            (1, 1) => {
                let start = self
                    .start_sample
                    .take()
                    .ok_or_else(|| invalid("PNDM lost its first sample".into()))?;
                (combine(&|i| (model_output[i] + e[0][i]) / 2.0), start)
            }
            (2, _) => (
                combine(&|i| (3.0 * e[1][i] - e[0][i]) / 2.0),
                sample.to_vec(),
            ),
            (3, _) => (
                combine(&|i| (23.0 * e[2][i] - 16.0 * e[1][i] + 5.0 * e[0][i]) / 12.0),
                sample.to_vec(),
            ),
            _ => (
                combine(&|i| {
                    (1.0f64 / 24.0) as f32
                        * (55.0 * e[n - 1][i] - 59.0 * e[n - 2][i] + 37.0 * e[n - 3][i]
                            - 9.0 * e[n - 4][i])
                }),
                sample.to_vec(),
            ),
        };
        let out = self.prev_sample(&from, t, prev, &eps)?;
        self.counter += 1;
        Ok(out)
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], timestep: f32) -> Result<Vec<f32>> {
        alpha_add_noise(&self.train, original, noise, timestep)
    }
}

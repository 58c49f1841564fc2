//! PNDM ("PNDM"): diffusers' `PNDMScheduler`, the pseudo linear multistep (PLMS) steps of Liu
//! et al. (2022).
//!
//! With `skip_prk_steps` (as Stable Diffusion's configs set it) the first step runs twice at the
//! same timestep (a second-order start), so a run of n steps has n + 1 timesteps. Without it
//! (the class's default) the run starts with three pseudo Runge–Kutta steps of four UNet calls
//! each, n + 9 timesteps in all (and at least 4 steps, as in diffusers).

use inpaint_core::Result;

use super::config::{ClassConfig, Prediction, Spacing};
use super::schedule::{
    BetaDefaults, TrainSchedule, alpha_add_noise, check_steps, integer_timestep, linspace,
    trailing_timesteps,
};
use super::{NoiseSource, Scheduler, check_same_len, check_step_input, invalid};

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
    /// The sample the first (two-call) step, or the current Runge–Kutta step, started from.
    start_sample: Option<Vec<f32>>,
    /// `!skip_prk_steps`: the Runge–Kutta warm-up runs first.
    runge_kutta: bool,
    /// The warm-up's timesteps (empty with `skip_prk_steps`).
    prk_timesteps: Vec<i64>,
    /// The weighted sum of the current Runge–Kutta step's model outputs.
    rk_sum: Vec<f32>,
}

impl Pndm {
    pub(crate) fn new(config: &ClassConfig<'_>) -> Result<Self> {
        let train = TrainSchedule::new(config, BetaDefaults::DDPM)?;
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
            runge_kutta: !config.bool("skip_prk_steps", false)?,
            prk_timesteps: Vec::new(),
            rk_sum: Vec::new(),
            train,
        })
    }

    /// One call of the pseudo Runge–Kutta warm-up (diffusers' `step_prk`): four calls per step,
    /// at the step's timestep, its midpoint twice, and the next, their outputs weighted 1/6,
    /// 1/3, 1/3, 1/6 into the final one.
    fn step_runge_kutta(
        &mut self,
        model_output: &[f32],
        timestep: f32,
        sample: &[f32],
    ) -> Result<Vec<f32>> {
        let diff_to_prev = if self.counter % 2 == 1 {
            0
        } else {
            self.ratio / 2
        };
        let prev = integer_timestep(timestep)? - diff_to_prev;
        let t = self.prk_timesteps[self.counter / 4 * 4];
        let (sixth, third) = ((1.0f64 / 6.0) as f32, (1.0f64 / 3.0) as f32);
        let eps = match self.counter % 4 {
            0 => {
                self.rk_sum = model_output.iter().map(|m| sixth * m).collect();
                self.ets.push(model_output.to_vec());
                self.start_sample = Some(sample.to_vec());
                model_output.to_vec()
            }
            1 | 2 => {
                check_same_len("PNDM Runge-Kutta step", &self.rk_sum, model_output)?;
                for (sum, m) in self.rk_sum.iter_mut().zip(model_output) {
                    *sum += third * m;
                }
                model_output.to_vec()
            }
            _ => {
                check_same_len("PNDM Runge-Kutta step", &self.rk_sum, model_output)?;
                let eps = self
                    .rk_sum
                    .iter()
                    .zip(model_output)
                    .map(|(sum, m)| sum + sixth * m)
                    .collect();
                self.rk_sum.clear();
                eps
            }
        };
        let from = self.start_sample.clone().unwrap_or_else(|| sample.to_vec());
        check_same_len("PNDM Runge-Kutta step", &from, sample)?;
        let out = self.prev_sample(&from, t, prev, &eps)?;
        self.counter += 1;
        Ok(out)
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
        let ratio = (train_steps / steps) as i64;
        let mut plms: Vec<f64>;
        if self.runge_kutta {
            if n < 4 {
                return Err(invalid(format!(
                    "PNDM with Runge-Kutta steps (skip_prk_steps false) needs at least 4 steps, \
                     {steps} asked"
                )));
            }
            // The last four timesteps and their midpoints, each visited as diffusers orders them.
            let points: Vec<i64> = ascending[n - 4..]
                .iter()
                .flat_map(|&t| [t as i64, t as i64 + ratio / 2])
                .take(7)
                .collect();
            let doubled: Vec<i64> = points.iter().flat_map(|&t| [t, t]).collect();
            self.prk_timesteps = doubled[1..doubled.len() - 1]
                .iter()
                .rev()
                .copied()
                .collect();
            plms = ascending[..n - 3].to_vec();
        } else {
            self.prk_timesteps.clear();
            plms = ascending[..n - 1].to_vec();
            if n >= 2 {
                plms.push(ascending[n - 2]);
            }
            plms.push(ascending[n - 1]);
        }
        plms.reverse();
        self.timesteps = self
            .prk_timesteps
            .iter()
            .map(|&t| t as f32)
            .chain(plms.into_iter().map(|t| t as f32))
            .collect();
        self.ratio = ratio;
        self.rk_sum.clear();
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
        if self.counter < self.prk_timesteps.len() {
            return self.step_runge_kutta(model_output, timestep, sample);
        }
        if self.runge_kutta && self.ets.len() < 3 {
            return Err(invalid(
                "PNDM: a multistep step before the Runge-Kutta warm-up finished".into(),
            ));
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

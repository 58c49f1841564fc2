//! DPM-Solver++ (Lu et al., 2022): diffusers' `DPMSolverMultistepScheduler` ("DPM++ 2M",
//! "DPM++ 2M Karras", and with `algorithm_type = "sde-dpmsolver++"` "DPM++ 2M SDE (Karras)")
//! and `DPMSolverSinglestepScheduler` ("DPM++ SDE (Karras)" in IOPaint — which despite the name
//! is the deterministic singlestep solver).
//!
//! Both work on x₀ predictions in λ (half log-SNR) time. The multistep solver reuses the
//! previous steps' predictions; the singlestep one groups steps (orders 1, 2, 1, 2, …) and
//! restarts each group from the sample at its start.

use inpaint_core::Result;
use serde_json::Value;

use super::config::{ClassConfig, Prediction, Spacing};
use super::schedule::{
    BetaDefaults, Karras, Level, SolverSteps, TrainSchedule, check_steps, solver_sigma_schedule,
    solver_timesteps,
};
use super::{
    NoiseSource, Scheduler, check_same_len, check_step_input, draw_noise, invalid, unsupported,
};

/// What both solvers read from the config.
#[derive(Debug, Clone)]
struct SolverConfig {
    train: TrainSchedule,
    prediction: Prediction,
    solver_order: usize,
    /// `solver_type = "heun"` (else "midpoint") for the second-order update.
    heun: bool,
    karras: Karras,
    final_sigma_zero: bool,
    /// `lower_order_final`.
    lower_order_final: bool,
    /// The last timestep + 1 after `lambda_min_clipped` (all of them by default).
    last_timestep: usize,
}

impl SolverConfig {
    fn new(config: &ClassConfig<'_>, lower_order_final_default: bool) -> Result<Self> {
        let train = TrainSchedule::new(config, BetaDefaults::DDPM)?;
        config.require_false(&[
            "thresholding",
            "use_exponential_sigmas",
            "use_beta_sigmas",
            "use_lu_lambdas",
            "use_flow_sigmas",
            "use_dynamic_shifting",
        ])?;
        if !config.str("variance_type", "")?.is_empty() {
            return Err(unsupported("variance_type (learned variance)"));
        }
        let solver_order = config.usize("solver_order", 2)?;
        if !(1..=3).contains(&solver_order) {
            return Err(invalid(format!(
                "solver_order {solver_order} must be 1, 2 or 3"
            )));
        }
        // diffusers maps the other solvers' names onto "midpoint".
        let heun = match config.str("solver_type", "midpoint")? {
            "heun" => true,
            "midpoint" | "logrho" | "bh1" | "bh2" => false,
            other => {
                return Err(invalid(format!(
                    "solver_type {other:?} is not midpoint or heun"
                )));
            }
        };
        let lambda_min_clipped = config.f64("lambda_min_clipped", f64::NEG_INFINITY)?;
        // diffusers' searchsorted over λ (ascending once flipped): the noisiest steps whose λ is
        // below the clip are left out of the schedule.
        let clipped = train
            .alphas_cumprod
            .iter()
            .filter(|&&a| f64::from(a.sqrt().ln() - (1.0 - a).sqrt().ln()) < lambda_min_clipped)
            .count();
        Ok(Self {
            prediction: config.prediction(&[
                Prediction::Epsilon,
                Prediction::V,
                Prediction::Sample,
            ])?,
            solver_order,
            heun,
            karras: Karras {
                enabled: config.bool("use_karras_sigmas", false)?,
                round_timesteps: config.beta_schedule(BetaDefaults::DDPM.schedule)?
                    != super::config::BetaSchedule::SquaredCosCapV2,
                ..Karras::default()
            },
            final_sigma_zero: config.final_sigma_is_zero()?,
            lower_order_final: config.bool("lower_order_final", lower_order_final_default)?,
            last_timestep: train.len() - clipped,
            train,
        })
    }

    /// The schedule for `steps` timesteps spaced over `0..last_timestep`.
    fn schedule(&self, spacing: Spacing, offset: usize, steps: usize) -> Result<SolverSteps> {
        check_steps(steps, &self.train)?;
        let timesteps =
            solver_timesteps(spacing, self.train.len(), self.last_timestep, steps, offset);
        let (timesteps, sigmas) =
            solver_sigma_schedule(&self.train, timesteps, steps, &self.karras);
        let last = if self.final_sigma_zero {
            0.0
        } else {
            self.train.sigma_at_zero()
        };
        Ok(SolverSteps {
            timesteps: timesteps.iter().map(|&t| t as f32).collect(),
            sigmas: sigmas.iter().chain([&last]).map(|&s| s as f32).collect(),
            index: Default::default(),
        })
    }

    /// diffusers' `convert_model_output` for DPM-Solver++: the x₀ prediction.
    fn x0(&self, model_output: &[f32], sample: &[f32], level: Level) -> Vec<f32> {
        let Level { alpha, sigma, .. } = level;
        sample
            .iter()
            .zip(model_output)
            .map(|(&x, &m)| match self.prediction {
                Prediction::Epsilon => (x - sigma * m) / alpha,
                Prediction::Sample => m,
                Prediction::V => alpha * x - sigma * m,
            })
            .collect()
    }
}

/// The first-order update (DDIM in λ time) from level `s` to `t`, deterministic or SDE.
fn first_order(s: Level, t: Level, sample: &[f32], x0: &[f32], noise: Option<&[f32]>) -> Vec<f32> {
    let h = t.lambda - s.lambda;
    match noise {
        None => {
            let (c_x, c_0) = (t.sigma / s.sigma, t.alpha * ((-h).exp() - 1.0));
            sample
                .iter()
                .zip(x0)
                .map(|(x, d)| c_x * x - c_0 * d)
                .collect()
        }
        Some(noise) => {
            let (c_x, c_0, c_n) = sde_coefficients(s, t);
            sample
                .iter()
                .zip(x0)
                .zip(noise)
                .map(|((x, d), n)| c_x * x + c_0 * d + c_n * n)
                .collect()
        }
    }
}

/// Step `k − by`, an error (not an underflow) at the start of the schedule.
pub(crate) fn before(k: usize, by: usize) -> Result<usize> {
    k.checked_sub(by)
        .ok_or_else(|| invalid(format!("a step {by} before step {k} does not exist")))
}

/// `sde-dpmsolver++`'s weights of the sample, the x₀ term and the noise from `s` to `t`.
fn sde_coefficients(s: Level, t: Level) -> (f32, f32, f32) {
    let h = t.lambda - s.lambda;
    (
        t.sigma / s.sigma * (-h).exp(),
        t.alpha * (1.0 - (-2.0 * h).exp()),
        t.sigma * (1.0 - (-2.0 * h).exp()).sqrt(),
    )
}

/// `DPMSolverMultistepScheduler` with `algorithm_type` "dpmsolver++" or "sde-dpmsolver++".
#[derive(Debug, Clone)]
pub(crate) struct Multistep {
    config: SolverConfig,
    spacing: Spacing,
    offset: usize,
    sde: bool,
    euler_at_final: bool,
    run: SolverSteps,
    /// The last `solver_order` x₀ predictions, newest last.
    outputs: Vec<Vec<f32>>,
    lower_order_nums: usize,
}

impl Multistep {
    pub(crate) fn new(config: &ClassConfig<'_>) -> Result<Self> {
        let sde = match config.str("algorithm_type", "dpmsolver++")? {
            "dpmsolver++" | "deis" => false,
            "sde-dpmsolver++" => true,
            other => return Err(unsupported(&format!("algorithm_type = {other:?}"))),
        };
        Ok(Self {
            config: SolverConfig::new(config, true)?,
            spacing: config.spacing(Spacing::Linspace)?,
            offset: config.usize("steps_offset", 0)?,
            sde,
            euler_at_final: config.bool("euler_at_final", false)?,
            run: SolverSteps::default(),
            outputs: Vec::new(),
            lower_order_nums: 0,
        })
    }
}

impl Scheduler for Multistep {
    schedule_methods!();

    fn set_timesteps(&mut self, steps: usize) -> Result<()> {
        self.run = self.config.schedule(self.spacing, self.offset, steps)?;
        self.outputs.clear();
        self.lower_order_nums = 0;
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
        if let Some(last) = self.outputs.last() {
            check_same_len("DPM-Solver++ history", last, sample)?;
        }
        let k = self.run.current(timestep)?;
        let len = self.run.timesteps.len();
        let cfg = &self.config;
        let lower_order_final = k + 1 == len
            && (self.euler_at_final || (cfg.lower_order_final && len < 15) || cfg.final_sigma_zero);
        let lower_order_second = k + 2 == len && cfg.lower_order_final && len < 15;
        let x0 = cfg.x0(model_output, sample, self.run.level(k)?);
        if self.outputs.len() == cfg.solver_order {
            self.outputs.remove(0);
        }
        self.outputs.push(x0);
        let noise = if self.sde {
            Some(draw_noise(noise, shape, sample.len())?)
        } else {
            None
        };
        let noise = noise.as_deref();
        let (t, s0) = (self.run.level(k + 1)?, self.run.level(k)?);
        let m = &self.outputs;
        let n = m.len();
        let out = if cfg.solver_order == 1 || self.lower_order_nums < 1 || lower_order_final {
            first_order(s0, t, sample, &m[n - 1], noise)
        } else if cfg.solver_order == 2 || self.lower_order_nums < 2 || lower_order_second {
            let s1 = self.run.level(before(k, 1)?)?;
            second_order_multistep(cfg.heun, [s1, s0, t], sample, [&m[n - 2], &m[n - 1]], noise)
        } else {
            let (s1, s2) = (
                self.run.level(before(k, 1)?)?,
                self.run.level(before(k, 2)?)?,
            );
            third_order_multistep(
                [s2, s1, s0, t],
                sample,
                [&m[n - 3], &m[n - 2], &m[n - 1]],
                noise,
            )
        };
        self.lower_order_nums = (self.lower_order_nums + 1).min(cfg.solver_order);
        self.run.index.advance();
        Ok(out)
    }
}

/// `multistep_dpm_solver_second_order_update`: levels `[s1, s0, t]`, predictions `[m1, m0]`.
fn second_order_multistep(
    heun: bool,
    [s1, s0, t]: [Level; 3],
    sample: &[f32],
    [m1, m0]: [&[f32]; 2],
    noise: Option<&[f32]>,
) -> Vec<f32> {
    let (h, h_0) = (t.lambda - s0.lambda, s0.lambda - s1.lambda);
    let inv_r0 = 1.0 / (h_0 / h);
    let (c_x, c_0, c_1, c_n) = match noise {
        None => {
            let phi = t.alpha * ((-h).exp() - 1.0);
            let c_1 = if heun {
                t.alpha * (((-h).exp() - 1.0) / h + 1.0)
            } else {
                -(0.5 * phi)
            };
            (t.sigma / s0.sigma, -phi, c_1, 0.0)
        }
        Some(_) => {
            let (c_x, c_0, c_n) = sde_coefficients(s0, t);
            let c_1 = if heun {
                t.alpha * ((1.0 - (-2.0 * h).exp()) / (-2.0 * h) + 1.0)
            } else {
                0.5 * c_0
            };
            (c_x, c_0, c_1, c_n)
        }
    };
    (0..sample.len())
        .map(|i| {
            let d1 = inv_r0 * (m0[i] - m1[i]);
            let x = c_x * sample[i] + c_0 * m0[i] + c_1 * d1;
            match noise {
                Some(noise) => x + c_n * noise[i],
                None => x,
            }
        })
        .collect()
}

/// `multistep_dpm_solver_third_order_update`: levels `[s2, s1, s0, t]`, predictions `[m2, m1, m0]`.
fn third_order_multistep(
    [s2, s1, s0, t]: [Level; 4],
    sample: &[f32],
    [m2, m1, m0]: [&[f32]; 3],
    noise: Option<&[f32]>,
) -> Vec<f32> {
    let (h, h_0, h_1) = (
        t.lambda - s0.lambda,
        s0.lambda - s1.lambda,
        s1.lambda - s2.lambda,
    );
    let (r0, r1) = (h_0 / h, h_1 / h);
    let (c_x, c_0, c_1, c_2, c_n) = match noise {
        None => {
            let e = (-h).exp() - 1.0;
            (
                t.sigma / s0.sigma,
                -(t.alpha * e),
                t.alpha * (e / h + 1.0),
                -(t.alpha * ((e + h) / (h * h) - 0.5)),
                0.0,
            )
        }
        Some(_) => {
            let (x, zero, n) = sde_coefficients(s0, t);
            let e = 1.0 - (-2.0 * h).exp();
            (
                x,
                zero,
                t.alpha * (e / (-2.0 * h) + 1.0),
                t.alpha * ((e - 2.0 * h) / ((2.0 * h) * (2.0 * h)) - 0.5),
                n,
            )
        }
    };
    (0..sample.len())
        .map(|i| {
            let d1_0 = 1.0 / r0 * (m0[i] - m1[i]);
            let d1_1 = 1.0 / r1 * (m1[i] - m2[i]);
            let d1 = d1_0 + r0 / (r0 + r1) * (d1_0 - d1_1);
            let d2 = 1.0 / (r0 + r1) * (d1_0 - d1_1);
            let x = c_x * sample[i] + c_0 * m0[i] + c_1 * d1 + c_2 * d2;
            match noise {
                Some(noise) => x + c_n * noise[i],
                None => x,
            }
        })
        .collect()
}

/// `DPMSolverSinglestepScheduler` with "dpmsolver++" (IOPaint's "DPM++ SDE").
#[derive(Debug, Clone)]
pub(crate) struct Singlestep {
    config: SolverConfig,
    run: SolverSteps,
    /// The solver order of each step.
    orders: Vec<usize>,
    /// The last `solver_order` x₀ predictions, newest last.
    outputs: Vec<Vec<f32>>,
    /// The sample at the start of the current group of steps.
    group_start: Option<Vec<f32>>,
}

impl Singlestep {
    pub(crate) fn new(config: &ClassConfig<'_>) -> Result<Self> {
        // IOPaint removes `algorithm_type` from the model's config and sets none for this class.
        config.require_default("algorithm_type", &Value::from("dpmsolver++"))?;
        Ok(Self {
            config: SolverConfig::new(config, false)?,
            run: SolverSteps::default(),
            orders: Vec::new(),
            outputs: Vec::new(),
            group_start: None,
        })
    }

    /// diffusers' `get_order_list`.
    fn order_list(&self, steps: usize) -> Vec<usize> {
        let order = self.config.solver_order;
        let lower_order_final = self.config.lower_order_final;
        let cycle = |n: usize| (0..n).flat_map(|_| 1..=order);
        let mut orders: Vec<usize> = if lower_order_final {
            match (order, steps % order) {
                (1, _) => vec![1; steps],
                (2, 0) => cycle(steps / 2 - 1).chain([1, 1]).collect(),
                (2, _) => cycle(steps / 2).chain([1]).collect(),
                (_, 0) => cycle(steps / 3 - 1).chain([1, 2, 1]).collect(),
                (_, 1) => cycle(steps / 3).chain([1]).collect(),
                _ => cycle(steps / 3).chain([1, 2]).collect(),
            }
        } else {
            cycle(steps / order).collect()
        };
        if self.config.final_sigma_zero {
            if let Some(last) = orders.last_mut() {
                *last = 1;
            }
        }
        orders
    }
}

impl Scheduler for Singlestep {
    schedule_methods!();

    fn set_timesteps(&mut self, steps: usize) -> Result<()> {
        // This class always spaces linearly, whatever the config says.
        self.run = self.config.schedule(Spacing::Linspace, 0, steps)?;
        // diffusers switches `lower_order_final` on for good (in its config) when the steps do
        // not divide into groups or the final sigma is zero.
        if steps % self.config.solver_order != 0 || self.config.final_sigma_zero {
            self.config.lower_order_final = true;
        }
        self.orders = self.order_list(steps);
        self.outputs.clear();
        self.group_start = None;
        Ok(())
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
        if let Some(last) = self.outputs.last() {
            check_same_len("DPM-Solver++ history", last, sample)?;
        }
        let k = self.run.current(timestep)?;
        let x0 = self.config.x0(model_output, sample, self.run.level(k)?);
        if self.outputs.len() == self.config.solver_order {
            self.outputs.remove(0);
        }
        self.outputs.push(x0);
        // Lower the order while the history is too short (a run begun mid-schedule).
        let order = super::schedule::at(&self.orders, k)?.min(self.outputs.len());
        if order == 1 {
            self.group_start = Some(sample.to_vec());
        }
        let start = self
            .group_start
            .as_deref()
            .ok_or_else(|| invalid("DPM-Solver++ singlestep lost its group's start".into()))?;
        let m = &self.outputs;
        let n = m.len();
        let t = self.run.level(k + 1)?;
        let out = match order {
            1 => first_order(self.run.level(k)?, t, start, &m[n - 1], None),
            2 => {
                let (s0, s1) = (self.run.level(k)?, self.run.level(before(k, 1)?)?);
                let (h, h_0) = (t.lambda - s1.lambda, s0.lambda - s1.lambda);
                let inv_r0 = 1.0 / (h_0 / h);
                let e = (-h).exp() - 1.0;
                let c_x = t.sigma / s1.sigma;
                let c_0 = t.alpha * e;
                let c_1 = if self.config.heun {
                    t.alpha * (e / h + 1.0)
                } else {
                    -(0.5 * (t.alpha * e))
                };
                let (m1, m0) = (&m[n - 2], &m[n - 1]);
                (0..start.len())
                    .map(|i| c_x * start[i] - c_0 * m1[i] + c_1 * (inv_r0 * (m0[i] - m1[i])))
                    .collect()
            }
            _ => {
                let (s0, s1, s2) = (
                    self.run.level(k)?,
                    self.run.level(before(k, 1)?)?,
                    self.run.level(before(k, 2)?)?,
                );
                let (h, h_0, h_1) = (
                    t.lambda - s2.lambda,
                    s0.lambda - s2.lambda,
                    s1.lambda - s2.lambda,
                );
                let (r0, r1) = (h_0 / h, h_1 / h);
                let e = (-h).exp() - 1.0;
                let c_x = t.sigma / s2.sigma;
                let c_1 = t.alpha * (e / h + 1.0);
                let c_2 = t.alpha * ((e + h) / (h * h) - 0.5);
                let (m2, m1, m0) = (&m[n - 3], &m[n - 2], &m[n - 1]);
                let heun = self.config.heun;
                (0..start.len())
                    .map(|i| {
                        let d1_0 = 1.0 / r1 * (m1[i] - m2[i]);
                        let d1_1 = 1.0 / r0 * (m0[i] - m2[i]);
                        let base = c_x * start[i] - t.alpha * e * m2[i];
                        if heun {
                            let d1 = (r0 * d1_0 - r1 * d1_1) / (r0 - r1);
                            let d2 = 2.0 * (d1_1 - d1_0) / (r0 - r1);
                            base + c_1 * d1 - c_2 * d2
                        } else {
                            base + c_1 * d1_1
                        }
                    })
                    .collect()
            }
        };
        self.run.index.advance();
        Ok(out)
    }
}

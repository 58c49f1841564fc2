//! UniPC ("UniPC", IOPaint's default): diffusers' `UniPCMultistepScheduler`, the unified
//! predictor–corrector of Zhao et al. (2023) with the B(h) = eʰ − 1 variant ("bh2").
//!
//! Each step first corrects the previous step's result with the new model output (UniC), then
//! predicts the next sample from the history (UniP). Both solve a small linear system for their
//! weights.

use inpaint_core::Result;

use super::config::{ClassConfig, Prediction, Spacing};
use super::dpm_solver::before;
use super::schedule::{
    BetaDefaults, Karras, Level, SolverSteps, TrainSchedule, check_steps, solver_sigma_schedule,
    solver_timesteps,
};
use super::{NoiseSource, Scheduler, check_same_len, check_step_input, invalid};

#[derive(Debug, Clone)]
pub(crate) struct UniPc {
    train: TrainSchedule,
    spacing: Spacing,
    offset: usize,
    prediction: Prediction,
    solver_order: usize,
    /// `predict_x0`: the solver works on x₀ predictions (default) rather than noise.
    predict_x0: bool,
    /// `solver_type = "bh1"` (B(h) = h) rather than "bh2" (B(h) = eʰ − 1).
    bh1: bool,
    lower_order_final: bool,
    /// Steps whose following correction is skipped (`disable_corrector`).
    disable_corrector: Vec<usize>,
    karras: Karras,
    final_sigma_zero: bool,
    run: SolverSteps,
    /// The last `solver_order` converted model outputs, newest last.
    outputs: Vec<Vec<f32>>,
    lower_order_nums: usize,
    /// The order of the last prediction, used by the next correction.
    this_order: usize,
    /// The sample the last prediction started from.
    last_sample: Option<Vec<f32>>,
}

impl UniPc {
    pub(crate) fn new(config: &ClassConfig<'_>) -> Result<Self> {
        let train = TrainSchedule::new(config, BetaDefaults::DDPM)?;
        config.require_false(&[
            "thresholding",
            "use_exponential_sigmas",
            "use_beta_sigmas",
            "use_flow_sigmas",
            "use_dynamic_shifting",
        ])?;
        let solver_order = config.usize("solver_order", 2)?;
        if !(1..=3).contains(&solver_order) {
            return Err(invalid(format!(
                "solver_order {solver_order} must be 1, 2 or 3"
            )));
        }
        // diffusers maps the DPM-Solver names onto "bh2".
        let bh1 = match config.str("solver_type", "bh2")? {
            "bh1" => true,
            "bh2" | "midpoint" | "heun" | "logrho" => false,
            other => return Err(invalid(format!("solver_type {other:?} is not bh1 or bh2"))),
        };
        let disable_corrector = config.usize_list("disable_corrector")?;
        Ok(Self {
            spacing: config.spacing(Spacing::Linspace)?,
            offset: config.usize("steps_offset", 0)?,
            prediction: config.prediction(&[
                Prediction::Epsilon,
                Prediction::V,
                Prediction::Sample,
            ])?,
            solver_order,
            predict_x0: config.bool("predict_x0", true)?,
            bh1,
            lower_order_final: config.bool("lower_order_final", true)?,
            disable_corrector,
            karras: Karras {
                enabled: config.bool("use_karras_sigmas", false)?,
                sigma_min: config.optional_f64("sigma_min")?,
                sigma_max: config.optional_f64("sigma_max")?,
                round_timesteps: true,
            },
            final_sigma_zero: config.final_sigma_is_zero()?,
            run: SolverSteps::default(),
            outputs: Vec::new(),
            lower_order_nums: 0,
            this_order: 0,
            last_sample: None,
            train,
        })
    }

    /// diffusers' `convert_model_output`: x₀ (with `predict_x0`) or ε.
    fn convert(&self, model_output: &[f32], sample: &[f32], level: Level) -> Vec<f32> {
        let Level { alpha, sigma, .. } = level;
        let (x0, prediction) = (self.predict_x0, self.prediction);
        sample
            .iter()
            .zip(model_output)
            .map(|(&x, &m)| match (x0, prediction) {
                (true, Prediction::Epsilon) => (x - sigma * m) / alpha,
                (true, Prediction::Sample) | (false, Prediction::Epsilon) => m,
                (true, Prediction::V) => alpha * x - sigma * m,
                (false, Prediction::Sample) => (x - alpha * m) / sigma,
                (false, Prediction::V) => alpha * m + sigma * x,
            })
            .collect()
    }

    /// One UniP (`corrector = false`) or UniC update of `order` from `x` at level `s0` to `t`.
    ///
    /// `history` holds the earlier levels and outputs (`(λ_si, m_i)`, newest first) and `m0`
    /// the output at `s0`; the corrector also takes `model_t`, the output at `t`.
    #[expect(
        clippy::too_many_arguments,
        reason = "the solver's terms, named as in the paper"
    )]
    fn update(
        &self,
        order: usize,
        s0: Level,
        t: Level,
        x: &[f32],
        m0: &[f32],
        history: &[(f32, &[f32])],
        model_t: Option<&[f32]>,
    ) -> Result<Vec<f32>> {
        if history.len() + 1 < order {
            return Err(invalid(format!(
                "UniPC: order {order} needs {} earlier outputs, {} available",
                order - 1,
                history.len()
            )));
        }
        let h = t.lambda - s0.lambda;
        let rks: Vec<f32> = history
            .iter()
            .take(order - 1)
            .map(|&(lambda, _)| (lambda - s0.lambda) / h)
            .chain([1.0])
            .collect();
        let hh = if self.predict_x0 { -h } else { h };
        let h_phi_1 = hh.exp_m1();
        let mut h_phi_k = h_phi_1 / hh - 1.0;
        let mut factorial = 1.0f32;
        let b_h = if self.bh1 { hh } else { hh.exp_m1() };
        let mut r_rows: Vec<Vec<f64>> = Vec::new();
        let mut b: Vec<f64> = Vec::new();
        for i in 1..=order {
            r_rows.push(
                rks.iter()
                    .map(|&r| f64::from(r.powi(i as i32 - 1)))
                    .collect(),
            );
            b.push(f64::from(h_phi_k * factorial / b_h));
            factorial *= (i + 1) as f32;
            h_phi_k = h_phi_k / hh - 1.0 / factorial;
        }
        let d1s: Vec<Vec<f32>> = history
            .iter()
            .take(order - 1)
            .zip(&rks)
            .map(|(&(_, m), &rk)| m.iter().zip(m0).map(|(mi, m0)| (mi - m0) / rk).collect())
            .collect();
        // The weights of the history differences (and, for the corrector, of the new output).
        let rhos: Vec<f32> = match model_t {
            None if d1s.is_empty() => Vec::new(),
            None if order == 2 => vec![0.5],
            None => solve(&r_rows[..order - 1], &b[..order - 1])?,
            Some(_) if order == 1 => vec![0.5],
            Some(_) => solve(&r_rows, &b)?,
        };
        let (c_x, c_0, c_res) = if self.predict_x0 {
            (t.sigma / s0.sigma, t.alpha * h_phi_1, t.alpha * b_h)
        } else {
            (t.alpha / s0.alpha, t.sigma * h_phi_1, t.sigma * b_h)
        };
        Ok((0..x.len())
            .map(|i| {
                let base = c_x * x[i] - c_0 * m0[i];
                let res: f32 = d1s.iter().zip(&rhos).map(|(d, rho)| rho * d[i]).sum();
                match model_t {
                    None if d1s.is_empty() => base - c_res * 0.0,
                    None => base - c_res * res,
                    Some(model_t) => {
                        let rho_t = rhos[rhos.len() - 1];
                        base - c_res * (res + rho_t * (model_t[i] - m0[i]))
                    }
                }
            })
            .collect())
    }
}

/// Solves the small dense system `a · x = b` (Gaussian elimination with partial pivoting, in
/// double precision; torch solves it in float32, which the result is rounded to).
fn solve(a: &[Vec<f64>], b: &[f64]) -> Result<Vec<f32>> {
    let n = b.len();
    let mut m: Vec<Vec<f64>> = a
        .iter()
        .zip(b)
        .map(|(row, &bi)| row[..n].iter().copied().chain([bi]).collect())
        .collect();
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))
            .unwrap_or(col);
        if m[pivot][col] == 0.0 || !m[pivot][col].is_finite() {
            return Err(invalid(
                "UniPC: singular system for the solver weights".into(),
            ));
        }
        m.swap(col, pivot);
        let (done, rest) = m.split_at_mut(col + 1);
        let pivot_row = &done[col];
        for row in rest {
            let factor = row[col] / pivot_row[col];
            for (value, pivot) in row.iter_mut().zip(pivot_row).skip(col) {
                *value -= factor * pivot;
            }
        }
    }
    let mut x = vec![0.0f64; n];
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|k| m[row][k] * x[k]).sum();
        x[row] = (m[row][n] - tail) / m[row][row];
    }
    Ok(x.into_iter().map(|v| v as f32).collect())
}

impl Scheduler for UniPc {
    schedule_methods!();

    fn set_timesteps(&mut self, steps: usize) -> Result<()> {
        check_steps(steps, &self.train)?;
        let train_steps = self.train.len();
        let timesteps =
            solver_timesteps(self.spacing, train_steps, train_steps, steps, self.offset);
        let (timesteps, sigmas) =
            solver_sigma_schedule(&self.train, timesteps, steps, &self.karras);
        let last = match (self.final_sigma_zero, self.karras.enabled) {
            (true, _) => 0.0,
            // With Karras sigmas "sigma_min" repeats the last Karras sigma.
            (false, true) => sigmas[sigmas.len() - 1],
            (false, false) => self.train.sigma_at_zero(),
        };
        self.run = SolverSteps {
            timesteps: timesteps.iter().map(|&t| t as f32).collect(),
            sigmas: sigmas.iter().chain([&last]).map(|&s| s as f32).collect(),
            index: Default::default(),
        };
        self.outputs.clear();
        self.lower_order_nums = 0;
        self.this_order = 0;
        self.last_sample = None;
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
        if let Some(last) = &self.last_sample {
            check_same_len("UniPC history", last, sample)?;
        }
        let k = self.run.current(timestep)?;
        let converted = self.convert(model_output, sample, self.run.level(k)?);
        let corrected;
        let sample = match &self.last_sample {
            Some(last) if k > 0 && !self.disable_corrector.contains(&(k - 1)) => {
                // UniC: the previous step (from level k−1 to k) corrected with the new output.
                let m0 = &self.outputs[self.outputs.len() - 1];
                let history = self.history(before(k, 1)?)?;
                corrected = self.update(
                    self.this_order,
                    self.run.level(before(k, 1)?)?,
                    self.run.level(k)?,
                    last,
                    m0,
                    &history,
                    Some(&converted),
                )?;
                &corrected[..]
            }
            _ => sample,
        };
        if self.outputs.len() == self.solver_order {
            self.outputs.remove(0);
        }
        self.outputs.push(converted);
        let len = self.run.timesteps.len();
        let order = if self.lower_order_final {
            self.solver_order.min(len - k)
        } else {
            self.solver_order
        };
        self.this_order = order.min(self.lower_order_nums + 1);
        // UniP: predict the next sample from level k.
        let m0 = &self.outputs[self.outputs.len() - 1];
        let history = self.history(k)?;
        let out = self.update(
            self.this_order,
            self.run.level(k)?,
            self.run.level(k + 1)?,
            sample,
            m0,
            &history,
            None,
        )?;
        self.last_sample = Some(sample.to_vec());
        self.lower_order_nums = (self.lower_order_nums + 1).min(self.solver_order);
        self.run.index.advance();
        Ok(out)
    }
}

impl UniPc {
    /// The history before level `base`, newest first: `(λ of level base − i, output i back)` for
    /// the earlier outputs (the newest output belongs to `base` itself).
    fn history(&self, base: usize) -> Result<Vec<(f32, &[f32])>> {
        let n = self.outputs.len();
        (1..n)
            .map_while(|i| base.checked_sub(i).map(|level| (level, i)))
            .map(|(level, i)| Ok((self.run.level(level)?.lambda, &self.outputs[n - 1 - i][..])))
            .collect()
    }
}

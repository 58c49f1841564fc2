//! LMS ("LMS", "LMS Karras"): diffusers' `LMSDiscreteScheduler`, a linear multistep method of
//! order 4 on the probability-flow ODE (k-diffusion's `sample_lms`).

use std::collections::VecDeque;

use inpaint_core::Result;

use super::config::{ClassConfig, Prediction, Spacing};
use super::schedule::{
    BetaDefaults, Karras, SigmaSteps, TrainSchedule, at, check_steps, discrete_sigma_schedule,
    predict_original,
};
use super::{NoiseSource, Scheduler, check_step_input};

/// diffusers' `step(order=4)` default, which the pipeline keeps.
const LMS_ORDER: usize = 4;

#[derive(Debug, Clone)]
pub(crate) struct Lms {
    train: TrainSchedule,
    spacing: Spacing,
    offset: usize,
    prediction: Prediction,
    karras: Karras,
    run: SigmaSteps,
    /// The last derivatives, newest last, at most [`LMS_ORDER`].
    derivatives: VecDeque<Vec<f32>>,
}

impl Lms {
    pub(crate) fn new(config: &ClassConfig<'_>) -> Result<Self> {
        let spacing = config.spacing(Spacing::Linspace)?;
        config.require_false(&["use_exponential_sigmas", "use_beta_sigmas"])?;
        Ok(Self {
            train: TrainSchedule::new(config, BetaDefaults::DDPM)?,
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
            run: SigmaSteps {
                leading: spacing == Spacing::Leading,
                ..SigmaSteps::default()
            },
            derivatives: VecDeque::new(),
        })
    }

    /// The weight of the derivative `current` steps back: the integral from σₜ to σₜ₊₁ of the
    /// Lagrange basis polynomial through the last `order` sigmas. diffusers integrates it with
    /// `scipy.integrate.quad`; the integrand is a polynomial of degree < 4, which 4-point
    /// Gauss–Legendre integrates exactly.
    fn coefficient(&self, order: usize, t: usize, current: usize) -> Result<f64> {
        let sigma = |i: usize| at(&self.run.sigmas, i).map(f64::from);
        let nodes: Vec<f64> = (0..order).map(|k| sigma(t - k)).collect::<Result<_>>()?;
        let basis = |tau: f64| {
            (0..order)
                .filter(|&k| k != current)
                .map(|k| (tau - nodes[k]) / (nodes[current] - nodes[k]))
                .product::<f64>()
        };
        let (a, b) = (sigma(t)?, sigma(t + 1)?);
        Ok(gauss_legendre_4(basis, a, b))
    }
}

/// ∫ₐᵇ f with 4-point Gauss–Legendre quadrature: exact for polynomials of degree ≤ 7.
fn gauss_legendre_4(f: impl Fn(f64) -> f64, a: f64, b: f64) -> f64 {
    // Nodes ±√(3/7 ∓ 2/7·√(6/5)) and their weights (18 ± √30)/36.
    let inner = (3.0 / 7.0 - 2.0 / 7.0 * (6.0f64 / 5.0).sqrt()).sqrt();
    let outer = (3.0 / 7.0 + 2.0 / 7.0 * (6.0f64 / 5.0).sqrt()).sqrt();
    let w_inner = (18.0 + 30.0f64.sqrt()) / 36.0;
    let w_outer = (18.0 - 30.0f64.sqrt()) / 36.0;
    let (mid, half) = ((a + b) / 2.0, (b - a) / 2.0);
    let x = |u: f64| mid + half * u;
    half * (w_inner * (f(x(-inner)) + f(x(inner))) + w_outer * (f(x(-outer)) + f(x(outer))))
}

impl Scheduler for Lms {
    schedule_methods!(sigma);

    fn set_timesteps(&mut self, steps: usize) -> Result<()> {
        check_steps(steps, &self.train)?;
        let (timesteps, sigmas) =
            discrete_sigma_schedule(&self.train, self.spacing, self.offset, steps, &self.karras);
        self.run.set(
            timesteps.iter().map(|&t| t as f32).collect(),
            sigmas.iter().map(|&s| s as f32).chain([0.0]).collect(),
        );
        self.derivatives.clear();
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
        if self
            .derivatives
            .front()
            .is_some_and(|d| d.len() != sample.len())
        {
            self.derivatives.clear();
        }
        let index = self.run.current(timestep)?;
        let sigma = at(&self.run.sigmas, index)?;
        let prediction = self.prediction;
        self.derivatives.push_back(
            sample
                .iter()
                .zip(model_output)
                .map(|(&x, &m)| (x - predict_original(prediction, m, x, sigma)) / sigma)
                .collect(),
        );
        if self.derivatives.len() > LMS_ORDER {
            self.derivatives.pop_front();
        }
        let order = (index + 1).min(LMS_ORDER);
        // Like diffusers' zip: a run begun mid-schedule has fewer derivatives than `order`,
        // and only that many terms are summed.
        let mut sum = vec![0.0f32; sample.len()];
        for (current, derivative) in (0..order).zip(self.derivatives.iter().rev()) {
            let coefficient = self.coefficient(order, index, current)? as f32;
            for (s, d) in sum.iter_mut().zip(derivative) {
                *s += coefficient * d;
            }
        }
        self.run.index.advance();
        Ok(sample.iter().zip(&sum).map(|(x, s)| x + s).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::gauss_legendre_4;

    #[test]
    fn quadrature_is_exact_for_cubics() {
        let integral = gauss_legendre_4(|x| 4.0 * x * x * x - 3.0 * x * x + 2.0, 1.0, 3.0);
        // [x⁴ − x³ + 2x] from 1 to 3 = 60 − 2.
        assert!((integral - 58.0).abs() < 1e-12, "{integral}");
    }
}

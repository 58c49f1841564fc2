//! `scheduler_config.json` and diffusers' `from_config` semantics.

use std::path::Path;

use inpaint_core::{Error, Result};
use serde_json::{Map, Value};

use super::{invalid, unsupported};

/// A model's `scheduler/scheduler_config.json`: the keys diffusers' schedulers are built from.
///
/// Any scheduler class can be built from any model's config, as diffusers' `from_config` does:
/// each class reads the keys it knows and takes its own default for the others (so DDIM, whose
/// `clip_sample` defaults to true, gets false only where the file says so). A `null` value counts
/// as absent. Values a class would need but this crate does not implement (thresholding, beta or
/// exponential sigmas, flow matching, …) are reported as [`Error::Unsupported`] when the
/// scheduler is built, never ignored.
///
/// Note that a config saved by diffusers (an Optimum export, say) spells out the saving class's
/// defaults: DDIM's `timestep_spacing: "leading"` then applies to Euler as well, exactly as it
/// does when diffusers loads that file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SchedulerConfig {
    values: Map<String, Value>,
}

impl SchedulerConfig {
    /// Parses the JSON text of a `scheduler_config.json`.
    pub fn from_json(json: &str) -> Result<Self> {
        match serde_json::from_str(json) {
            Ok(Value::Object(values)) => Ok(Self { values }),
            Ok(_) => Err(invalid("scheduler config is not a JSON object".into())),
            Err(err) => Err(invalid(format!(
                "scheduler config is not valid JSON: {err}"
            ))),
        }
    }

    /// Reads and parses a `scheduler_config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text).map_err(|err| match err {
            Error::InvalidInput { message } => invalid(format!("{}: {message}", path.display())),
            other => other,
        })
    }

    /// The raw value of `key`, if the file has one. `null` counts as absent, and so does a key
    /// the file lists in `_use_default_values` (diffusers wrote those only because the class
    /// that saved the file defaults to them; another class takes its own default).
    pub fn get(&self, key: &str) -> Option<&Value> {
        let written_as_default = self
            .values
            .get("_use_default_values")
            .and_then(Value::as_array)
            .is_some_and(|keys| keys.iter().any(|k| k.as_str() == Some(key)));
        if written_as_default {
            return None;
        }
        self.values.get(key).filter(|v| !v.is_null())
    }
}

/// The most training timesteps a config may declare: far above any real model's (1000), low
/// enough that a hostile config cannot make the schedule's allocation abort the process.
const MAX_TRAIN_STEPS: usize = 100_000;

/// The keys IOPaint's `get_scheduler` removes from the model's config before `from_config`, so
/// that only its own per-sampler overrides set them (diffusers issue 4167).
const IOPAINT_POPPED_KEYS: [&str; 2] = ["use_karras_sigmas", "algorithm_type"];

/// One scheduler class's view of a config: IOPaint's overrides first, then the model's keys
/// (minus those IOPaint pops), then — in each getter — the class's own default.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClassConfig<'a> {
    config: &'a SchedulerConfig,
    overrides: &'a [(&'static str, Value)],
}

impl<'a> ClassConfig<'a> {
    pub(crate) fn new(config: &'a SchedulerConfig, overrides: &'a [(&'static str, Value)]) -> Self {
        Self { config, overrides }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        if let Some((_, value)) = self.overrides.iter().find(|(k, _)| *k == key) {
            return Some(value);
        }
        if IOPAINT_POPPED_KEYS.contains(&key) {
            return None;
        }
        self.config.get(key)
    }

    fn wrong_type(key: &str, value: &Value, expected: &str) -> Error {
        invalid(format!(
            "scheduler config `{key}` is {value}, expected {expected}"
        ))
    }

    pub(crate) fn f64(&self, key: &str, default: f64) -> Result<f64> {
        match self.get(key) {
            None => Ok(default),
            Some(value) => value
                .as_f64()
                .ok_or_else(|| Self::wrong_type(key, value, "a number")),
        }
    }

    pub(crate) fn optional_f64(&self, key: &str) -> Result<Option<f64>> {
        self.get(key)
            .map(|value| {
                value
                    .as_f64()
                    .ok_or_else(|| Self::wrong_type(key, value, "a number"))
            })
            .transpose()
    }

    pub(crate) fn usize(&self, key: &str, default: usize) -> Result<usize> {
        match self.get(key) {
            None => Ok(default),
            Some(value) => value
                .as_u64()
                .and_then(|v| usize::try_from(v).ok())
                .ok_or_else(|| Self::wrong_type(key, value, "a non-negative integer")),
        }
    }

    pub(crate) fn bool(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(value) => value
                .as_bool()
                .ok_or_else(|| Self::wrong_type(key, value, "true or false")),
        }
    }

    pub(crate) fn str(&self, key: &str, default: &'static str) -> Result<&'a str> {
        match self.get(key) {
            None => Ok(default),
            Some(value) => value
                .as_str()
                .ok_or_else(|| Self::wrong_type(key, value, "a string")),
        }
    }

    /// A list of non-negative integers (empty when absent).
    pub(crate) fn usize_list(&self, key: &str) -> Result<Vec<usize>> {
        let Some(value) = self.get(key) else {
            return Ok(Vec::new());
        };
        let expected = || Self::wrong_type(key, value, "a list of non-negative integers");
        value
            .as_array()
            .ok_or_else(expected)?
            .iter()
            .map(|v| {
                v.as_u64()
                    .and_then(|v| usize::try_from(v).ok())
                    .ok_or_else(expected)
            })
            .collect()
    }

    /// Refuses a key set to a value other than its default that this crate does not implement.
    pub(crate) fn require_default(&self, key: &str, default: &Value) -> Result<()> {
        match self.get(key) {
            Some(value) if value != default => Err(unsupported(&format!("{key} = {value}"))),
            _ => Ok(()),
        }
    }

    /// Refuses each boolean option in `keys` set to true (features this crate does not implement).
    pub(crate) fn require_false(&self, keys: &[&str]) -> Result<()> {
        for key in keys {
            if self.bool(key, false)? {
                return Err(unsupported(&format!("{key} = true")));
            }
        }
        Ok(())
    }

    /// `num_train_timesteps` (1000 by default), from 2 to [`MAX_TRAIN_STEPS`].
    pub(crate) fn train_steps(&self) -> Result<usize> {
        let steps = self.usize("num_train_timesteps", 1000)?;
        if !(2..=MAX_TRAIN_STEPS).contains(&steps) {
            return Err(invalid(format!(
                "num_train_timesteps is {steps}, needs 2 to {MAX_TRAIN_STEPS}"
            )));
        }
        Ok(steps)
    }

    pub(crate) fn trained_betas(&self) -> Result<Option<Vec<f32>>> {
        let Some(value) = self.get("trained_betas") else {
            return Ok(None);
        };
        let list = value
            .as_array()
            .ok_or_else(|| Self::wrong_type("trained_betas", value, "a list of numbers"))?;
        list.iter()
            .map(|v| {
                v.as_f64()
                    .filter(|b| (0.0..1.0).contains(b))
                    .map(|b| b as f32)
                    .ok_or_else(|| Self::wrong_type("trained_betas", v, "numbers in [0, 1)"))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    pub(crate) fn beta_schedule(&self, default: BetaSchedule) -> Result<BetaSchedule> {
        let name = match default {
            BetaSchedule::Linear => "linear",
            BetaSchedule::ScaledLinear => "scaled_linear",
            BetaSchedule::SquaredCosCapV2 => "squaredcos_cap_v2",
        };
        match self.str("beta_schedule", name)? {
            "linear" => Ok(BetaSchedule::Linear),
            "scaled_linear" => Ok(BetaSchedule::ScaledLinear),
            "squaredcos_cap_v2" => Ok(BetaSchedule::SquaredCosCapV2),
            other => Err(unsupported(&format!("beta_schedule = {other:?}"))),
        }
    }

    pub(crate) fn spacing(&self, default: Spacing) -> Result<Spacing> {
        let name = match default {
            Spacing::Linspace => "linspace",
            Spacing::Leading => "leading",
            Spacing::Trailing => "trailing",
        };
        match self.str("timestep_spacing", name)? {
            "linspace" => Ok(Spacing::Linspace),
            "leading" => Ok(Spacing::Leading),
            "trailing" => Ok(Spacing::Trailing),
            other => Err(invalid(format!(
                "timestep_spacing {other:?} is not one of linspace, leading, trailing"
            ))),
        }
    }

    /// `prediction_type`, of those in `accepted`.
    pub(crate) fn prediction(&self, accepted: &[Prediction]) -> Result<Prediction> {
        let prediction = match self.str("prediction_type", "epsilon")? {
            "epsilon" => Prediction::Epsilon,
            "v_prediction" => Prediction::V,
            "sample" => Prediction::Sample,
            other => return Err(unsupported(&format!("prediction_type = {other:?}"))),
        };
        if accepted.contains(&prediction) {
            Ok(prediction)
        } else {
            Err(unsupported(&format!(
                "prediction_type = {prediction:?} with this sampler"
            )))
        }
    }

    /// `clip_sample` (whose default differs by class) and `clip_sample_range`: the range the
    /// predicted x₀ is clamped to, if any.
    pub(crate) fn clip_range(&self, default: bool) -> Result<Option<f32>> {
        if self.bool("clip_sample", default)? {
            Ok(Some(self.f64("clip_sample_range", 1.0)? as f32))
        } else {
            Ok(None)
        }
    }

    /// `final_sigmas_type`: whether the last sigma is 0 (`"zero"`) or the smallest training
    /// sigma (`"sigma_min"`).
    pub(crate) fn final_sigma_is_zero(&self) -> Result<bool> {
        match self.str("final_sigmas_type", "zero")? {
            "zero" => Ok(true),
            "sigma_min" => Ok(false),
            other => Err(invalid(format!(
                "final_sigmas_type {other:?} is not one of zero, sigma_min"
            ))),
        }
    }
}

/// `beta_schedule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BetaSchedule {
    Linear,
    ScaledLinear,
    SquaredCosCapV2,
}

/// `timestep_spacing`: how inference timesteps are spread over the training ones (table 2 of
/// "Common Diffusion Noise Schedules and Sample Steps are Flawed").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spacing {
    Linspace,
    Leading,
    Trailing,
}

/// `prediction_type`: what the UNet predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prediction {
    /// The noise ε (SD 1.5, SDXL).
    Epsilon,
    /// v = α·ε − σ·x₀ (SD 2.x 768).
    V,
    /// The clean sample x₀.
    Sample,
}

//! IOPaint 1.6.0's request and response bodies (`iopaint/schema.py`), field for field.
//!
//! Requests are read leniently, as the web app writes them: unknown fields are ignored (as
//! pydantic does), `null` means the field's default, and the app's misspelled
//! `hd_strategy_crop_triger_size` and `hd_trategy_resize_imit` are read as the fields they mean
//! (IOPaint drops them, so the app's 640 and 2048 never reach it). A value of the wrong type
//! or out of range is a 422 naming the field.

use serde::Serialize;
use serde_json::{Map, Value};

use inpaint_core::{CropBox, HdStrategy, InpaintOptions, Request, Sampler};

use crate::error::ApiError;

/// IOPaint's `SDSampler` values, in its order (`GET /api/v1/samplers`).
pub const SAMPLERS: [&str; 19] = Sampler::NAMES;

/// IOPaint's `hd_strategy` values, as the app sends them.
const HD_STRATEGIES: [&str; 3] = ["Original", "Resize", "Crop"];

/// A JSON object read field by field with IOPaint's defaults.
pub(crate) struct Fields(Map<String, Value>);

impl Fields {
    /// Parses a request body that must be a JSON object.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, ApiError> {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Fields(map)),
            Ok(_) => Err(ApiError::validation("the body must be a JSON object")),
            Err(err) => Err(ApiError::validation(format!("the body is not JSON: {err}"))),
        }
    }

    /// The first of `names` that is present and not `null`.
    fn get<'n>(&self, names: &[&'n str]) -> Option<(&'n str, &Value)> {
        names
            .iter()
            .find_map(|&name| self.0.get(name).filter(|v| !v.is_null()).map(|v| (name, v)))
    }

    /// A string field; `None` when absent or `null`.
    pub(crate) fn string(&self, names: &[&str]) -> Result<Option<&str>, ApiError> {
        match self.get(names) {
            None => Ok(None),
            Some((_, Value::String(s))) => Ok(Some(s)),
            Some((name, other)) => Err(ApiError::validation(format!(
                "`{name}` must be a string, got {}",
                kind_of(other)
            ))),
        }
    }

    /// A required string field.
    pub(crate) fn required_string(&self, name: &str) -> Result<&str, ApiError> {
        self.string(&[name])?
            .ok_or_else(|| ApiError::validation(format!("`{name}` is required")))
    }

    /// An integer field (a float with no fraction counts, as pydantic's lax mode has it).
    pub(crate) fn integer(&self, names: &[&str], default: i64) -> Result<i64, ApiError> {
        match self.get(names) {
            None => Ok(default),
            Some((name, value)) => value
                .as_i64()
                .or_else(|| {
                    value
                        .as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                        .map(|f| f as i64)
                })
                .ok_or_else(|| {
                    ApiError::validation(format!(
                        "`{name}` must be an integer, got {}",
                        kind_of(value)
                    ))
                }),
        }
    }

    /// A number field.
    pub(crate) fn number(&self, names: &[&str], default: f64) -> Result<f64, ApiError> {
        match self.get(names) {
            None => Ok(default),
            Some((name, value)) => value.as_f64().ok_or_else(|| {
                ApiError::validation(format!("`{name}` must be a number, got {}", kind_of(value)))
            }),
        }
    }

    /// A boolean field.
    pub(crate) fn boolean(&self, names: &[&str], default: bool) -> Result<bool, ApiError> {
        match self.get(names) {
            None => Ok(default),
            Some((_, Value::Bool(b))) => Ok(*b),
            Some((name, other)) => Err(ApiError::validation(format!(
                "`{name}` must be a boolean, got {}",
                kind_of(other)
            ))),
        }
    }

    /// IOPaint's croper or extender box (`{prefix}_x`, `_y`, `_width`, `_height`), with its
    /// defaults; a width or height below 1 is refused.
    fn crop_box(&self, prefix: &str, default_side: i64) -> Result<CropBox, ApiError> {
        let field = |suffix: &str| format!("{prefix}_{suffix}");
        let x = self.integer(&[&field("x")], 0)?;
        let y = self.integer(&[&field("y")], 0)?;
        let side = |suffix: &str| {
            let name = field(suffix);
            self.integer_in(&[&name], default_side, 1, i64::from(u32::MAX))
                .map(|v| v as u32)
        };
        Ok(CropBox {
            x,
            y,
            width: side("width")?,
            height: side("height")?,
        })
    }

    /// An integer field that must lie in `min..=max`.
    pub(crate) fn integer_in(
        &self,
        names: &[&str],
        default: i64,
        min: i64,
        max: i64,
    ) -> Result<i64, ApiError> {
        let value = self.integer(names, default)?;
        if !(min..=max).contains(&value) {
            return Err(ApiError::validation(format!(
                "`{}` must be between {min} and {max}, got {value}",
                names[0]
            )));
        }
        Ok(value)
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What `POST /api/v1/inpaint` honours of IOPaint's `InpaintRequest` for the models served.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InpaintRequest {
    /// The image, base64 or a data URL.
    pub(crate) image: String,
    /// The mask, base64 or a data URL.
    pub(crate) mask: String,
    /// HD strategy, trigger size, margin and resize limit, the [`Request`] (prompts,
    /// sampler, steps, guidance, strength, seed) for models that read it, and the diffusion
    /// options (croper, extender, `sd_scale`, `sd_mask_blur`, `sd_match_histograms`,
    /// `sd_keep_unmasked_area`), with IOPaint's defaults: the server drops them for erase models.
    /// `sd_seed = -1` is already replaced by a random seed (reported in `X-Seed`).
    pub(crate) options: InpaintOptions,
}

impl InpaintRequest {
    /// Reads the request; defaults are IOPaint's `schema.py`.
    pub(crate) fn from_fields(fields: &Fields) -> Result<Self, ApiError> {
        let image = fields.required_string("image")?.to_owned();
        let mask = fields.required_string("mask")?.to_owned();
        let hd_strategy = match fields.string(&["hd_strategy"])?.unwrap_or("Crop") {
            "Original" => HdStrategy::Original,
            "Resize" => HdStrategy::Resize,
            "Crop" => HdStrategy::Crop,
            other => {
                return Err(ApiError::validation(format!(
                    "`hd_strategy` must be one of {}, got `{other}`",
                    HD_STRATEGIES.join(", ")
                )));
            }
        };
        let side = i64::from(u32::MAX);
        let trigger = fields.integer_in(
            &[
                "hd_strategy_crop_trigger_size",
                "hd_strategy_crop_triger_size",
            ],
            800,
            0,
            side,
        )?;
        let margin = fields.integer_in(&["hd_strategy_crop_margin"], 128, 0, side)?;
        let resize_limit = fields.integer_in(
            &["hd_strategy_resize_limit", "hd_trategy_resize_imit"],
            1280,
            1,
            side,
        )?;
        let seed = match fields.integer(&["sd_seed"], 42)? {
            -1 => rand::random_range(1..=99_999_999),
            seed if seed < 0 => {
                return Err(ApiError::validation(format!(
                    "`sd_seed` must be -1 (random) or at least 0, got {seed}"
                )));
            }
            seed => seed as u64,
        };
        let sampler = match fields.string(&["sd_sampler"])? {
            None => Sampler::default(),
            Some(name) => name
                .parse::<Sampler>()
                .map_err(|err| ApiError::validation(format!("`sd_sampler`: {err}")))?,
        };
        let steps = fields.integer_in(&["sd_steps"], 50, 0, i64::from(u32::MAX))?;
        // Range checks on the diffusion values are the pipeline's (`Request::validate`), made
        // only for models that read them, as IOPaint's erase models ignore them.
        let request = Request::new()
            .with_prompt(fields.string(&["prompt"])?.unwrap_or(""))
            .with_negative_prompt(fields.string(&["negative_prompt"])?.unwrap_or(""))
            .with_steps(u32::try_from(steps).unwrap_or(u32::MAX))
            .with_guidance_scale(fields.number(&["sd_guidance_scale"], 7.5)? as f32)
            .with_sampler(sampler)
            .with_strength(fields.number(&["sd_strength"], 1.0)? as f32)
            .with_seed(seed);
        // The ranges above were checked, so the conversions cannot fail.
        let to_u32 = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
        // IOPaint's DiffusionInpaintModel runs the croper when `use_croper` is set and the
        // extender only otherwise; its web app never sends both.
        let (croper, extender) = if fields.boolean(&["use_croper"], false)? {
            (Some(fields.crop_box("croper", 512)?), None)
        } else if fields.boolean(&["use_extender"], false)? {
            (None, Some(fields.crop_box("extender", 640)?))
        } else {
            (None, None)
        };
        // IOPaint's request validator: outpainting always paints from noise.
        let request = if extender.is_some() {
            request.with_strength(1.0)
        } else {
            request
        };
        // IOPaint's schema: 0 < sd_scale <= 1.
        let sd_scale = fields.number(&["sd_scale"], 1.0)?;
        if !(sd_scale > 0.0 && sd_scale <= 1.0) {
            return Err(ApiError::validation(format!(
                "`sd_scale` must be above 0 and at most 1, got {sd_scale}"
            )));
        }
        // IOPaint's default is 11 (its web app sends 12), so a diffusion model's result is
        // feathered past the mask as IOPaint's is; the library's default is 0. The upper bound
        // is the pipeline's; IOPaint fails (500) on a negative one.
        let sd_mask_blur = fields.integer_in(&["sd_mask_blur"], 11, 0, 4096)?;
        let options = InpaintOptions::new(hd_strategy)
            .with_crop_trigger_size(to_u32(trigger))
            .with_crop_margin(to_u32(margin))
            .with_resize_limit(to_u32(resize_limit))
            .with_request(request)
            .with_croper(croper)
            .with_extender(extender)
            .with_sd_scale(sd_scale as f32)
            .with_sd_mask_blur(to_u32(sd_mask_blur))
            .with_sd_match_histograms(fields.boolean(&["sd_match_histograms"], false)?)
            .with_sd_keep_unmasked_area(fields.boolean(&["sd_keep_unmasked_area"], true)?);
        Ok(InpaintRequest {
            image,
            mask,
            options,
        })
    }
}

/// IOPaint's `ModelType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelType {
    /// Erase models (LaMa, MAT, the classical ones): IOPaint's `inpaint`.
    Inpaint,
    /// Stable Diffusion pipelines with a plain (text-to-image) UNet: IOPaint's `diffusers_sd`.
    DiffusersSd,
    /// Stable Diffusion inpainting checkpoints: IOPaint's `diffusers_sd_inpaint`.
    DiffusersSdInpaint,
}

/// IOPaint's `ModelInfo` with its computed fields, as `GET /api/v1/model` and
/// `server-config.modelInfos` send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelInfo {
    /// The model's id (what `POST /api/v1/model` takes).
    pub name: String,
    /// Its file, or its id for a model without one.
    pub path: String,
    /// Which Settings tab the app shows it under.
    pub model_type: ModelType,
    /// Always false here.
    pub is_single_file_diffusers: bool,
    /// Whether the app shows the prompt box.
    pub need_prompt: bool,
    /// ControlNets offered (none).
    pub controlnets: Vec<String>,
    /// BrushNets offered (none).
    pub brushnets: Vec<String>,
    /// Whether `sd_strength` applies.
    pub support_strength: bool,
    /// Whether the app offers outpainting (its extender): the Stable Diffusion pipelines.
    pub support_outpainting: bool,
    /// LCM LoRA (none here).
    pub support_lcm_lora: bool,
    /// ControlNet (none here).
    pub support_controlnet: bool,
    /// BrushNet (none here).
    pub support_brushnet: bool,
    /// PowerPaint v2 (none here).
    pub support_powerpaint_v2: bool,
}

impl ModelInfo {
    /// An erase model (no prompt): what every model served today is.
    pub fn erase(name: impl Into<String>, path: impl Into<String>) -> Self {
        ModelInfo {
            name: name.into(),
            path: path.into(),
            model_type: ModelType::Inpaint,
            is_single_file_diffusers: false,
            need_prompt: false,
            controlnets: Vec::new(),
            brushnets: Vec::new(),
            support_strength: false,
            support_outpainting: false,
            support_lcm_lora: false,
            support_controlnet: false,
            support_brushnet: false,
            support_powerpaint_v2: false,
        }
    }
}

/// IOPaint's `ServerConfigResponse`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServerConfig {
    pub(crate) plugins: Vec<Value>,
    pub(crate) model_infos: Vec<ModelInfo>,
    #[serde(rename = "removeBGModel")]
    pub(crate) remove_bg_model: &'static str,
    #[serde(rename = "removeBGModels")]
    pub(crate) remove_bg_models: Vec<&'static str>,
    pub(crate) realesrgan_model: &'static str,
    pub(crate) realesrgan_models: Vec<&'static str>,
    pub(crate) interactive_seg_model: &'static str,
    pub(crate) interactive_seg_models: Vec<&'static str>,
    pub(crate) enable_file_manager: bool,
    pub(crate) enable_auto_saving: bool,
    pub(crate) enable_controlnet: bool,
    pub(crate) controlnet_method: Option<String>,
    pub(crate) disable_model_switch: bool,
    pub(crate) is_desktop: bool,
    pub(crate) samplers: Vec<&'static str>,
}

/// IOPaint's `GenInfoResponse`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct GenInfo {
    pub(crate) prompt: String,
    pub(crate) negative_prompt: String,
}

impl GenInfo {
    /// Splits a PNG's `parameters` text as IOPaint does (the A1111 convention).
    pub(crate) fn from_parameters(parameters: &str) -> Self {
        let mut parts = parameters.split("Negative prompt: ");
        let prompt = parts.next().unwrap_or("").trim().to_owned();
        let negative_prompt = parts
            .next()
            .map(|rest| rest.split('\n').next().unwrap_or("").trim().to_owned())
            .unwrap_or_default();
        GenInfo {
            prompt,
            negative_prompt,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: &str) -> Result<InpaintRequest, ApiError> {
        InpaintRequest::from_fields(&Fields::parse(json.as_bytes())?)
    }

    /// IOPaint's defaults: the library's, but for `sd_mask_blur` (IOPaint's 11, the library's 0).
    fn iopaint_defaults(hd_strategy: HdStrategy) -> InpaintOptions {
        InpaintOptions::new(hd_strategy).with_sd_mask_blur(11)
    }

    #[test]
    fn defaults_are_iopaints() {
        let r = request(r#"{"image":"a","mask":"b"}"#).unwrap();
        assert_eq!(r.options, iopaint_defaults(HdStrategy::Crop));
        assert_eq!(r.options.request.seed, 42);
        assert_eq!(r.options.sd_scale, 1.0);
        assert!(r.options.sd_keep_unmasked_area);
        assert!(!r.options.sd_match_histograms);
    }

    #[test]
    fn the_diffusion_options_reach_the_pipeline() {
        let r = request(
            r#"{"image":"a","mask":"b","sd_scale":0.5,"sd_mask_blur":12,
                "sd_match_histograms":true,"sd_keep_unmasked_area":false,
                "sd_outpainting_softness":20,"sd_lcm_lora":false}"#,
        )
        .unwrap();
        let expected = InpaintOptions::default()
            .with_sd_scale(0.5)
            .with_sd_mask_blur(12)
            .with_sd_match_histograms(true)
            .with_sd_keep_unmasked_area(false);
        assert_eq!(r.options, expected);
        let r = request(r#"{"image":"a","mask":"b","sd_mask_blur":0,"sd_scale":1}"#).unwrap();
        assert_eq!(r.options, InpaintOptions::default());
    }

    #[test]
    fn nulls_unknown_fields_and_the_apps_misspellings() {
        let r = request(
            r#"{"image":"a","mask":"b","sd_seed":null,"paint_by_example_example_image":null,
                "hd_strategy":"Resize","hd_strategy_crop_triger_size":640,
                "hd_trategy_resize_imit":2048,"no_such_field":[1]}"#,
        )
        .unwrap();
        assert_eq!(
            r.options,
            iopaint_defaults(HdStrategy::Resize)
                .with_crop_trigger_size(640)
                .with_resize_limit(2048)
        );
    }

    #[test]
    fn random_seed_for_minus_one() {
        let r = request(r#"{"image":"a","mask":"b","sd_seed":-1}"#).unwrap();
        let seed = r.options.request.seed;
        assert!((1..=99_999_999).contains(&seed), "{seed}");
    }

    #[test]
    fn the_diffusion_fields_reach_the_request() {
        let r = request(
            r#"{"image":"a","mask":"b","prompt":"a bench","negative_prompt":"people",
                "sd_steps":20,"sd_guidance_scale":5,"sd_sampler":"Euler a","sd_strength":0.75,
                "sd_seed":7}"#,
        )
        .unwrap();
        let expected = Request::new()
            .with_prompt("a bench")
            .with_negative_prompt("people")
            .with_steps(20)
            .with_guidance_scale(5.0)
            .with_sampler(Sampler::EulerA)
            .with_strength(0.75)
            .with_seed(7);
        assert_eq!(r.options.request, expected);
    }

    #[test]
    fn wrong_types_and_values_name_the_field() {
        for (json, field) in [
            (r#"{"mask":"b"}"#, "`image`"),
            (r#"{"image":"a","mask":3}"#, "`mask`"),
            (
                r#"{"image":"a","mask":"b","hd_strategy":"Big"}"#,
                "`hd_strategy`",
            ),
            (
                r#"{"image":"a","mask":"b","hd_strategy_crop_margin":-1}"#,
                "`hd_strategy_crop_margin`",
            ),
            (r#"{"image":"a","mask":"b","sd_seed":"x"}"#, "`sd_seed`"),
            (r#"{"image":"a","mask":"b","sd_seed":-5}"#, "`sd_seed`"),
            (
                r#"{"image":"a","mask":"b","sd_sampler":"Fast"}"#,
                "`sd_sampler`",
            ),
            (
                r#"{"image":"a","mask":"b","sd_strength":"max"}"#,
                "`sd_strength`",
            ),
            (r#"{"image":"a","mask":"b","sd_scale":0}"#, "`sd_scale`"),
            (r#"{"image":"a","mask":"b","sd_scale":1.5}"#, "`sd_scale`"),
            (
                r#"{"image":"a","mask":"b","sd_mask_blur":-1}"#,
                "`sd_mask_blur`",
            ),
            (
                r#"{"image":"a","mask":"b","sd_mask_blur":1.5}"#,
                "`sd_mask_blur`",
            ),
            (
                r#"{"image":"a","mask":"b","sd_match_histograms":1}"#,
                "`sd_match_histograms`",
            ),
            (
                r#"{"image":"a","mask":"b","sd_keep_unmasked_area":"no"}"#,
                "`sd_keep_unmasked_area`",
            ),
        ] {
            let err = request(json).unwrap_err();
            assert_eq!(err.status().as_u16(), 422, "{json}");
            assert!(err.message().contains(field), "{json}: {}", err.message());
        }
        assert_eq!(request("[1]").unwrap_err().status().as_u16(), 422);
        assert_eq!(request("{").unwrap_err().status().as_u16(), 422);
    }

    #[test]
    fn the_extender_and_the_croper_follow_iopaint() {
        let r = request(
            r#"{"image":"a","mask":"b","use_extender":true,"extender_x":-64,"extender_y":0,
                "extender_width":768,"extender_height":512,"sd_strength":0.5,
                "use_croper":false,"croper_x":5}"#,
        )
        .unwrap();
        let extender = CropBox {
            x: -64,
            y: 0,
            width: 768,
            height: 512,
        };
        assert_eq!(r.options.extender, Some(extender));
        assert_eq!(r.options.croper, None);
        assert_eq!(r.options.request.strength, 1.0, "IOPaint forces strength 1");
        // IOPaint's defaults for the box; the web app always sends the fields.
        let r = request(r#"{"image":"a","mask":"b","use_extender":true}"#).unwrap();
        let default_box = CropBox {
            x: 0,
            y: 0,
            width: 640,
            height: 640,
        };
        assert_eq!(r.options.extender, Some(default_box));
        // Off: the box fields the app sends anyway are ignored.
        let r =
            request(r#"{"image":"a","mask":"b","use_extender":false,"extender_x":-9}"#).unwrap();
        assert_eq!(r.options, iopaint_defaults(HdStrategy::Crop));
        // Both on: IOPaint runs the croper.
        let r = request(
            r#"{"image":"a","mask":"b","use_croper":true,"croper_x":1,"croper_y":2,
                "croper_width":30,"croper_height":40,"use_extender":true}"#,
        )
        .unwrap();
        assert_eq!(r.options.extender, None);
        let croper = CropBox {
            x: 1,
            y: 2,
            width: 30,
            height: 40,
        };
        assert_eq!(r.options.croper, Some(croper));
        for (json, field) in [
            (
                r#"{"image":"a","mask":"b","use_extender":true,"extender_width":0}"#,
                "`extender_width`",
            ),
            (
                r#"{"image":"a","mask":"b","use_extender":true,"extender_height":-5}"#,
                "`extender_height`",
            ),
            (
                r#"{"image":"a","mask":"b","use_extender":"yes"}"#,
                "`use_extender`",
            ),
            (
                r#"{"image":"a","mask":"b","use_extender":true,"extender_x":"left"}"#,
                "`extender_x`",
            ),
        ] {
            let err = request(json).unwrap_err();
            assert_eq!(err.status().as_u16(), 422, "{json}");
            assert!(err.message().contains(field), "{json}: {}", err.message());
        }
    }

    #[test]
    fn gen_info_splits_the_negative_prompt() {
        let info = GenInfo::from_parameters("a cat\nNegative prompt: dog, blur\nSteps: 20");
        assert_eq!(info.prompt, "a cat");
        assert_eq!(info.negative_prompt, "dog, blur");
        assert_eq!(GenInfo::from_parameters("").prompt, "");
    }
}

//! Stable Diffusion 1.5 inpainting on ONNX Runtime: an Optimum ONNX folder driven the way
//! diffusers' `StableDiffusionInpaintPipeline` drives its torch modules.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use half::f16;
use image::RgbImage;
use inpaint_core::{Error, InpaintModel, Mask, ModelSpec, Request, Result};
use ort::session::Session;
use ort::value::DynValue;

use super::noise::{NoiseSource, TorchCpuNoise};
use super::scheduler::{SchedulerConfig, scheduler_for};
use super::tokenizer::ClipTokenizer;
use crate::onnx::contract::{self, Dim, Element, Elements, Port, Spatial};
use crate::onnx::device::{ModelSource, build_session};
use crate::onnx::model::{graph_ports, tensor};
use crate::onnx::{ExecutionReport, OnnxOptions, Runtime};

/// The name this model has in messages.
const NAME: &str = "sd1.5";

/// The folder's graphs, in load order: (folder, what it is).
const GRAPHS: [&str; 4] = ["text_encoder", "unet", "vae_encoder", "vae_decoder"];

const ANY: Dim = Dim::Any;
const B: Dim = Dim::Batch;
const TEXT_INPUTS: [Port; 1] = [Port::new("input_ids", Elements::Int64, &[B, ANY])];
const TEXT_OUTPUTS: [Port; 1] = [Port::new(
    "last_hidden_state",
    Elements::Float,
    &[B, ANY, ANY],
)];
const UNET_INPUTS: [Port; 3] = [
    Port::new(
        "sample",
        Elements::Float,
        &[B, ANY, Dim::Spatial, Dim::Spatial],
    ),
    // Optimum exports the timestep as a scalar (rank 0).
    Port::new("timestep", Elements::Float, &[]),
    Port::new("encoder_hidden_states", Elements::Float, &[B, ANY, ANY]),
];
const UNET_OUTPUTS: [Port; 1] = [Port::new(
    "out_sample",
    Elements::Float,
    &[B, Dim::Fixed(4), Dim::Spatial, Dim::Spatial],
)];
const VAE_ENCODER_INPUTS: [Port; 1] = [Port::new(
    "sample",
    Elements::Float,
    &[B, Dim::Fixed(3), Dim::Spatial, Dim::Spatial],
)];
// Mean and log-variance of the 4 latent channels, concatenated: not a sampled latent.
const VAE_ENCODER_OUTPUTS: [Port; 1] = [Port::new(
    "latent_parameters",
    Elements::Float,
    &[B, Dim::Fixed(8), Dim::Spatial, Dim::Spatial],
)];
const VAE_DECODER_INPUTS: [Port; 1] = [Port::new(
    "latent_sample",
    Elements::Float,
    &[B, Dim::Fixed(4), Dim::Spatial, Dim::Spatial],
)];
const VAE_DECODER_OUTPUTS: [Port; 1] = [Port::new(
    "sample",
    Elements::Float,
    &[B, Dim::Fixed(3), Dim::Spatial, Dim::Spatial],
)];

/// Checks a UNet graph's ports (read from a session, or from the file without ONNX Runtime as
/// the registry does) against the contract of an Optimum SD 1.5 UNet: `sample` [B, 9 or 4, h,
/// w], a rank-0 `timestep`, `encoder_hidden_states` [B, S, D] in, `out_sample` [B, 4, h, w]
/// out, all float32 or all float16. Returns the number of input channels (9: inpainting, 4:
/// plain), or every mismatch in words.
pub fn unet_channels(
    inputs: &[crate::onnx::GraphPort],
    outputs: &[crate::onnx::GraphPort],
) -> std::result::Result<usize, String> {
    contract::check(
        inputs,
        outputs,
        &UNET_INPUTS,
        None,
        &UNET_OUTPUTS,
        Spatial::Dynamic,
    )?;
    let channels = inputs
        .iter()
        .find(|port| port.name == "sample")
        .and_then(|port| port.dims.get(1).copied())
        .unwrap_or(-1);
    match channels {
        4 => Ok(4),
        9 => Ok(9),
        other => Err(format!(
            "`sample` has {other} channels; SD inpainting takes 9 (an inpainting UNet) or 4 (a \
             plain one)"
        )),
    }
}

/// How classifier-free guidance runs the UNet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GuidanceBatching {
    /// One call with a batch of 2 (unconditional and conditional) when the graph's batch is
    /// symbolic, else two calls.
    #[default]
    Auto,
    /// Always two calls of batch 1.
    TwoCalls,
}

/// Options of a [`StableDiffusion`] beyond the session's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DiffusionOptions {
    /// Where ONNX Runtime is, which device, threads (shared with the other ONNX models).
    pub onnx: OnnxOptions,
    /// How guidance runs the UNet.
    pub guidance_batching: GuidanceBatching,
}

impl DiffusionOptions {
    /// Sets [`onnx`](Self::onnx).
    pub fn with_onnx(mut self, onnx: OnnxOptions) -> Self {
        self.onnx = onnx;
        self
    }

    /// Sets [`guidance_batching`](Self::guidance_batching).
    pub fn with_guidance_batching(mut self, batching: GuidanceBatching) -> Self {
        self.guidance_batching = batching;
        self
    }
}

/// One loaded graph with what its contract check found.
struct Graph {
    session: Session,
    float16: bool,
    /// Whether the batch dimension is symbolic (else 1).
    dynamic_batch: bool,
}

/// Stable Diffusion 1.5 inpainting from an Optimum ONNX folder.
///
/// The folder is what `optimum-cli export onnx --task inpainting` writes: `model_index.json`,
/// `text_encoder/`, `unet/` (its weights may sit in an external-data file beside `model.onnx`),
/// `vae_encoder/`, `vae_decoder/` (each `model.onnx` and `config.json`), `tokenizer/`
/// (`vocab.json`, `merges.txt`) and `scheduler/scheduler_config.json`. float32 and float16
/// exports both load; each graph's inputs and outputs are checked at load.
///
/// It runs diffusers' `StableDiffusionInpaintPipeline` step for step, so that a seed gives
/// diffusers' (and IOPaint's) picture on the same weights:
///
/// * a 9-channel UNet (the inpainting checkpoints) sees the latents, the mask and the masked
///   image's latents; a 4-channel UNet (a plain checkpoint) sees the latents only, and after
///   each step the known area is replaced by the image's latents re-noised to the next step;
/// * every random draw goes through one [`NoiseSource`] in diffusers' order: at strength 1 the
///   initial noise, then the masked image's VAE sample; below 1 (and always with a 4-channel
///   UNet) the image's VAE sample first; then the per-step draws of ancestral, SDE and LCM
///   samplers. [`InpaintModel::forward`] seeds [`TorchCpuNoise`] with the request's seed, as
///   IOPaint's `torch.manual_seed(seed)`;
/// * guidance above 1 runs the unconditional pass too (batched when the graph allows, see
///   [`GuidanceBatching`]); at 1 or below it is skipped, as in diffusers.
///
/// Its [`ModelSpec`] asks IOPaint's minimum of 512 pixels a side, but pads to what the loaded
/// UNet accepts rather than IOPaint's multiple of 8: an exported UNet halves the latent at each
/// down block and fails on sizes that do not divide through (SD 1.5: multiples of 64).
pub struct StableDiffusion {
    spec: ModelSpec,
    dir: PathBuf,
    text_encoder: Graph,
    unet: Graph,
    vae_encoder: Graph,
    vae_decoder: Graph,
    tokenizer: ClipTokenizer,
    scheduler_config: SchedulerConfig,
    unet_channels: usize,
    /// Pixels per latent cell (8 for SD).
    vae_scale: u32,
    scaling_factor: f32,
    batching: GuidanceBatching,
    report: ExecutionReport,
    runtime: Arc<Runtime>,
    session_time: Duration,
}

impl fmt::Debug for StableDiffusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StableDiffusion")
            .field("dir", &self.dir)
            .field("spec", &self.spec)
            .field("unet_channels", &self.unet_channels)
            .field("float16", &self.unet.float16)
            .field("device", &self.report)
            .finish_non_exhaustive()
    }
}

/// Reads a JSON file of the folder, naming it on failure.
fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text)
        .map_err(|err| Error::model(NAME, format!("{}: not valid JSON: {err}", path.display())))
}

/// `2^(levels − 1)` for a `config.json` listing `block_out_channels`: how many times the network
/// halves its input.
fn downsampling(config: &serde_json::Value, path: &Path) -> Result<u32> {
    let levels = config["block_out_channels"]
        .as_array()
        .map(Vec::len)
        .filter(|&n| (1..=8).contains(&n))
        .ok_or_else(|| {
            Error::model(
                NAME,
                format!("{}: no usable `block_out_channels`", path.display()),
            )
        })?;
    Ok(1 << (levels - 1))
}

impl StableDiffusion {
    /// Loads the Optimum ONNX folder at `dir`, checking every graph against its contract.
    ///
    /// A missing file is an [`Error::Io`] naming it; a graph with other inputs or outputs, or a
    /// UNet taking neither 4 nor 9 channels, is an [`Error::Model`] naming each mismatch.
    pub fn load(dir: impl AsRef<Path>, options: &DiffusionOptions) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let index = dir.join("model_index.json");
        read_json(&index)?;
        for graph in GRAPHS {
            let path = dir.join(graph).join("model.onnx");
            if !path.is_file() {
                return Err(missing(&path, &format!("the {graph} graph")));
            }
        }
        let tokenizer_dir = dir.join("tokenizer");
        for file in ["vocab.json", "merges.txt"] {
            let path = tokenizer_dir.join(file);
            if !path.is_file() && !tokenizer_dir.join("tokenizer.json").is_file() {
                return Err(missing(&path, "the tokenizer"));
            }
        }
        let scheduler_path = dir.join("scheduler").join("scheduler_config.json");
        if !scheduler_path.is_file() {
            return Err(missing(&scheduler_path, "the scheduler config"));
        }
        let tokenizer = ClipTokenizer::from_dir(&tokenizer_dir)?;
        let scheduler_config = SchedulerConfig::from_file(&scheduler_path)?;

        let unet_config_path = dir.join("unet").join("config.json");
        let unet_config = read_json(&unet_config_path)?;
        let decoder_config_path = dir.join("vae_decoder").join("config.json");
        let decoder_config = read_json(&decoder_config_path)?;
        let vae_scale = downsampling(&decoder_config, &decoder_config_path)?;
        let pad_multiple = vae_scale * downsampling(&unet_config, &unet_config_path)?;
        let scaling_factor = decoder_config["scaling_factor"].as_f64().unwrap_or(0.18215) as f32;

        let runtime = Runtime::load(&options.onnx.runtime)?;
        let mut report = None;
        let mut load = |graph: &str,
                        inputs: &[Port],
                        outputs: &[Port]|
         -> Result<(Graph, Vec<crate::onnx::GraphPort>)> {
            let path = dir.join(graph).join("model.onnx");
            let (session, graph_report) = build_session(
                &runtime,
                &format!("{NAME} {graph}"),
                ModelSource::File(&path),
                &options.onnx.device,
                &options.onnx.session,
                true,
            )?;
            let graph_inputs = graph_ports(session.inputs());
            let checked = contract::check(
                &graph_inputs,
                &graph_ports(session.outputs()),
                inputs,
                None,
                outputs,
                Spatial::Dynamic,
            )
            .map_err(|problems| {
                Error::model(
                    NAME,
                    format!(
                        "{} does not have the {graph} contract of an Optimum SD export: {problems}",
                        path.display()
                    ),
                )
            })?;
            let dynamic_batch = graph_inputs
                .first()
                .and_then(|port| port.dims.first())
                .is_some_and(|&d| d < 0);
            report.get_or_insert(graph_report);
            Ok((
                Graph {
                    session,
                    float16: checked.float == Element::Float16,
                    dynamic_batch,
                },
                graph_inputs,
            ))
        };
        let (text_encoder, _) = load("text_encoder", &TEXT_INPUTS, &TEXT_OUTPUTS)?;
        let (unet, unet_inputs) = load("unet", &UNET_INPUTS, &UNET_OUTPUTS)?;
        let (vae_encoder, _) = load("vae_encoder", &VAE_ENCODER_INPUTS, &VAE_ENCODER_OUTPUTS)?;
        let (vae_decoder, _) = load("vae_decoder", &VAE_DECODER_INPUTS, &VAE_DECODER_OUTPUTS)?;
        let unet_channels = unet_channels(&unet_inputs, &graph_ports(unet.session.outputs()))
            .map_err(|problem| {
                Error::model(
                    NAME,
                    format!(
                        "{}: {problem}",
                        dir.join("unet").join("model.onnx").display()
                    ),
                )
            })?;
        let report = report.ok_or_else(|| Error::runtime("no graph was loaded"))?;
        Ok(StableDiffusion {
            spec: ModelSpec::new(NAME)
                .with_pad_multiple(pad_multiple)
                .with_min_size(Some(512_u32.div_ceil(pad_multiple) * pad_multiple))
                .with_honours_hd_strategy(false)
                .with_takes_prompt(true),
            dir,
            text_encoder,
            unet,
            vae_encoder,
            vae_decoder,
            tokenizer,
            scheduler_config,
            unet_channels,
            vae_scale,
            scaling_factor,
            batching: options.guidance_batching,
            report,
            runtime,
            session_time: Duration::ZERO,
        })
    }

    /// The folder this model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// 9 for an inpainting UNet, 4 for a plain one.
    pub fn unet_channels(&self) -> usize {
        self.unet_channels
    }

    /// Whether the UNet is float16.
    pub fn is_f16(&self) -> bool {
        self.unet.float16
    }

    /// The device the graphs run on, and why others were refused.
    pub fn execution(&self) -> &ExecutionReport {
        &self.report
    }

    /// The ONNX Runtime this model runs on.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The time spent inside ONNX Runtime's `run` since the model was loaded.
    pub fn session_time(&self) -> Duration {
        self.session_time
    }

    /// Sets how guidance runs the UNet.
    pub fn set_guidance_batching(&mut self, batching: GuidanceBatching) {
        self.batching = batching;
    }

    /// Inpaints `image` (sides a multiple of the spec's `pad_multiple`) where `mask` is 255, as
    /// `request` says, drawing every random number from `noise`. Returns the decoded image (the
    /// whole of it: the pipeline pastes only the masked area back) and the final latents.
    pub fn generate(
        &mut self,
        image: &RgbImage,
        mask: &Mask,
        request: &Request,
        noise: &mut dyn NoiseSource,
    ) -> Result<(RgbImage, Vec<f32>)> {
        request.validate()?;
        let (width, height) = image.dimensions();
        let multiple = self.spec.pad_multiple;
        if width % multiple != 0 || height % multiple != 0 || (width, height) != mask.dimensions() {
            return Err(Error::invalid_input(format!(
                "{NAME} takes an image and mask of the same size with sides a multiple of \
                 {multiple}, got {width}×{height} and {}×{}",
                mask.dimensions().0,
                mask.dimensions().1
            )));
        }
        let started = Instant::now();
        let (lw, lh) = (
            (width / self.vae_scale) as usize,
            (height / self.vae_scale) as usize,
        );
        let latent_shape = [1, 4, lh, lw];
        let cells = lw * lh;

        let mut scheduler = scheduler_for(request.sampler, &self.scheduler_config)?;
        let steps = request.steps as usize;
        scheduler.set_timesteps(steps)?;
        // diffusers' get_timesteps. Python multiplies the float the user typed: go through its
        // shortest decimal form so that 0.7 × 10 is 7 there and here, not 6.99…
        let strength = format!("{}", request.strength)
            .parse::<f64>()
            .unwrap_or(f64::from(request.strength));
        let init_steps = ((steps as f64 * strength) as usize).min(steps);
        let t_start = steps - init_steps;
        let begin = t_start * scheduler.order();
        let timesteps: Vec<f32> = scheduler.timesteps().get(begin..).unwrap_or(&[]).to_vec();
        scheduler.set_begin_index(begin);
        if init_steps < 1 || timesteps.is_empty() {
            return Err(Error::invalid_input(format!(
                "strength {} leaves no step of {steps}",
                request.strength
            )));
        }
        let full_strength = strength == 1.0;

        let guided = request.guidance_scale > 1.0;
        let text = self.encode_text(&request.prompt)?;
        let uncond = if guided {
            Some(self.encode_text(&request.negative_prompt)?)
        } else {
            None
        };

        // The image in −1…1 (diffusers' preprocess), the binarised mask, the masked image.
        let plane = (width * height) as usize;
        let hole: Vec<bool> = mask.as_gray().as_raw().iter().map(|&m| m >= 128).collect();
        let mut pixels = vec![0.0f32; 3 * plane];
        let mut masked = vec![0.0f32; 3 * plane];
        for (i, rgb) in image.as_raw().chunks_exact(3).enumerate() {
            for c in 0..3 {
                let v = f32::from(rgb[c]) / 255.0 * 2.0 - 1.0;
                pixels[c * plane + i] = v;
                masked[c * plane + i] = if hole[i] { 0.0 } else { v };
            }
        }

        let needs_image_latents = self.unet_channels == 4 || !full_strength;
        let image_latents = if needs_image_latents {
            Some(self.encode_image(&pixels, width, height, noise)?)
        } else {
            None
        };
        let initial_noise = noise.randn(&latent_shape)?;
        let mut latents: Vec<f32> = match (&image_latents, full_strength) {
            (Some(known), false) => scheduler.add_noise(known, &initial_noise, timesteps[0])?,
            _ => {
                let sigma = scheduler.init_noise_sigma();
                initial_noise.iter().map(|n| n * sigma).collect()
            }
        };
        let masked_latents = self.encode_image(&masked, width, height, noise)?;
        // torch's `interpolate` (nearest) to latent size: each cell takes its block's top-left pixel.
        let scale = self.vae_scale as usize;
        let latent_mask: Vec<f32> = (0..cells)
            .map(|i| {
                let (y, x) = (i / lw * scale, i % lw * scale);
                if hole[y * width as usize + x] {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();

        let total = timesteps.len();
        for (i, &t) in timesteps.iter().enumerate() {
            let scaled = scheduler.scale_model_input(&latents, t)?;
            let mut input = scaled;
            if self.unet_channels == 9 {
                input.extend_from_slice(&latent_mask);
                input.extend_from_slice(&masked_latents);
            }
            let prediction = match &uncond {
                None => self.unet(&input, [1, lh, lw], t, &text)?,
                Some(uncond) => {
                    let (u, c) =
                        if self.unet.dynamic_batch && self.batching == GuidanceBatching::Auto {
                            let mut both = input.clone();
                            both.extend_from_slice(&input);
                            let mut states = uncond.clone();
                            states.extend_from_slice(&text);
                            let out = self.unet(&both, [2, lh, lw], t, &states)?;
                            let half = out.len() / 2;
                            (out[..half].to_vec(), out[half..].to_vec())
                        } else {
                            (
                                self.unet(&input, [1, lh, lw], t, uncond)?,
                                self.unet(&input, [1, lh, lw], t, &text)?,
                            )
                        };
                    let g = request.guidance_scale;
                    u.iter().zip(&c).map(|(u, c)| u + g * (c - u)).collect()
                }
            };
            latents = scheduler.step(&prediction, t, &latents, &latent_shape, noise)?;
            if let (4, Some(known)) = (self.unet_channels, &image_latents) {
                let proper = match timesteps.get(i + 1) {
                    Some(&next) => scheduler.add_noise(known, &initial_noise, next)?,
                    None => known.clone(),
                };
                for (channel, known) in latents
                    .chunks_exact_mut(cells)
                    .zip(proper.chunks_exact(cells))
                {
                    for ((latent, known), m) in channel.iter_mut().zip(known).zip(&latent_mask) {
                        *latent = (1.0 - m) * known + m * *latent;
                    }
                }
            }
            if let Some(bad) = latents.iter().find(|v| !v.is_finite()) {
                return Err(Error::model(
                    NAME,
                    format!("the latents hold {bad} after step {} of {total}", i + 1),
                ));
            }
            if let Some(progress) = &request.progress {
                progress.report(&inpaint_core::ProgressStep::new(
                    (i + 1) as u32,
                    total as u32,
                    started.elapsed(),
                ))?;
            }
        }

        let image = self.decode(&latents, width, height)?;
        Ok((image, latents))
    }

    /// The prompt's `last_hidden_state` [1, 77, D].
    fn encode_text(&mut self, prompt: &str) -> Result<Vec<f32>> {
        let ids = self.tokenizer.encode(prompt);
        let len = ids.len();
        let input = tensor([1, len], ids)?;
        let out = run(
            &mut self.text_encoder,
            &mut self.session_time,
            "text_encoder",
            vec![("input_ids", input)],
            "last_hidden_state",
        )?;
        Ok(out)
    }

    /// A VAE sample of an image in −1…1 (planar RGB), times the scaling factor: diffusers'
    /// `_encode_vae_image` with `retrieve_latents` in sample mode (one draw).
    fn encode_image(
        &mut self,
        planar: &[f32],
        width: u32,
        height: u32,
        noise: &mut dyn NoiseSource,
    ) -> Result<Vec<f32>> {
        let input = float_tensor(
            self.vae_encoder.float16,
            [1, 3, height as usize, width as usize],
            planar.to_vec(),
        )?;
        let parameters = run(
            &mut self.vae_encoder,
            &mut self.session_time,
            "vae_encoder",
            vec![("sample", input)],
            "latent_parameters",
        )?;
        let half = parameters.len() / 2;
        let (lw, lh) = (width / self.vae_scale, height / self.vae_scale);
        if half != 4 * (lw * lh) as usize {
            return Err(Error::model(
                NAME,
                format!(
                    "the VAE encoder gave {} values for a {width}×{height} image",
                    parameters.len()
                ),
            ));
        }
        let eps = noise.randn(&[1, 4, lh as usize, lw as usize])?;
        let (mean, logvar) = parameters.split_at(half);
        Ok(mean
            .iter()
            .zip(logvar)
            .zip(&eps)
            .map(|((m, lv), e)| {
                let std = (0.5 * lv.clamp(-30.0, 20.0)).exp();
                (m + std * e) * self.scaling_factor
            })
            .collect())
    }

    /// One UNet call on a batch of `batch` inputs of `[channels, lh, lw]`.
    fn unet(
        &mut self,
        sample: &[f32],
        [batch, lh, lw]: [usize; 3],
        t: f32,
        states: &[f32],
    ) -> Result<Vec<f32>> {
        let seq = self.tokenizer.max_length();
        let hidden = states.len() / (batch * seq);
        let float16 = self.unet.float16;
        let inputs = vec![
            (
                "sample",
                float_tensor(
                    float16,
                    [batch, self.unet_channels, lh, lw],
                    sample.to_vec(),
                )?,
            ),
            ("timestep", float_tensor(float16, [], vec![t])?),
            (
                "encoder_hidden_states",
                float_tensor(float16, [batch, seq, hidden], states.to_vec())?,
            ),
        ];
        run(
            &mut self.unet,
            &mut self.session_time,
            "unet",
            inputs,
            "out_sample",
        )
    }

    /// Decodes latents to RGB: `(x/2 + 0.5)` clamped to 0–1, then IOPaint's `(x·255).round()`.
    fn decode(&mut self, latents: &[f32], width: u32, height: u32) -> Result<RgbImage> {
        let (lw, lh) = (
            (width / self.vae_scale) as usize,
            (height / self.vae_scale) as usize,
        );
        let scaled: Vec<f32> = latents.iter().map(|v| v / self.scaling_factor).collect();
        let input = float_tensor(self.vae_decoder.float16, [1, 4, lh, lw], scaled)?;
        let planar = run(
            &mut self.vae_decoder,
            &mut self.session_time,
            "vae_decoder",
            vec![("latent_sample", input)],
            "sample",
        )?;
        let plane = (width * height) as usize;
        if planar.len() != 3 * plane {
            return Err(Error::model(
                NAME,
                format!(
                    "the VAE decoder gave {} values for a {width}×{height} image",
                    planar.len()
                ),
            ));
        }
        let mut rgb = vec![0u8; 3 * plane];
        for (i, pixel) in rgb.chunks_exact_mut(3).enumerate() {
            for c in 0..3 {
                let v = (planar[c * plane + i] / 2.0 + 0.5).clamp(0.0, 1.0);
                pixel[c] = (v * 255.0).round() as u8;
            }
        }
        RgbImage::from_raw(width, height, rgb)
            .ok_or_else(|| Error::model(NAME, "output buffer size".to_string()))
    }
}

/// The error for a file the folder lacks.
fn missing(path: &Path, what: &str) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{what} is missing from the Optimum ONNX folder"),
        ),
    }
}

/// A float input in the graph's precision.
fn float_tensor<const N: usize>(
    float16: bool,
    shape: [usize; N],
    data: Vec<f32>,
) -> Result<DynValue> {
    if float16 {
        tensor(shape, data.into_iter().map(f16::from_f32).collect())
    } else {
        tensor(shape, data)
    }
}

/// Runs `graph` and returns its output `output` as f32, refusing NaN and infinities.
fn run(
    graph: &mut Graph,
    session_time: &mut Duration,
    name: &str,
    inputs: Vec<(&'static str, DynValue)>,
    output: &str,
) -> Result<Vec<f32>> {
    let started = Instant::now();
    let outputs = graph.session.run(inputs);
    *session_time += started.elapsed();
    let outputs = outputs.map_err(|err| {
        Error::model_with(NAME, format!("ONNX Runtime failed in the {name}"), err)
    })?;
    let value = &outputs[output];
    let fail = |err: ort::Error| Error::model_with(NAME, format!("{name} output `{output}`"), err);
    let data: Vec<f32> = if graph.float16 {
        let (_, data) = value.try_extract_tensor::<f16>().map_err(fail)?;
        data.iter().map(|v| v.to_f32()).collect()
    } else {
        let (_, data) = value.try_extract_tensor::<f32>().map_err(fail)?;
        data.to_vec()
    };
    if let Some(bad) = data.iter().find(|v| !v.is_finite()) {
        return Err(Error::model(
            NAME,
            format!("the {name} output `{output}` holds {bad}"),
        ));
    }
    Ok(data)
}

impl InpaintModel for StableDiffusion {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn forward(&mut self, image: &RgbImage, mask: &Mask, request: &Request) -> Result<RgbImage> {
        let mut noise = TorchCpuNoise::new(request.seed);
        self.generate(image, mask, request, &mut noise)
            .map(|(image, _)| image)
    }
}

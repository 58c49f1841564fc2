//! Stable Diffusion inpainting on ONNX Runtime — SD 1.5 and SDXL: an Optimum ONNX folder driven
//! the way diffusers' `StableDiffusionInpaintPipeline` and `StableDiffusionXLInpaintPipeline`
//! drive their torch modules.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use half::f16;
use image::RgbImage;
use inpaint_core::{Error, InpaintModel, Mask, ModelSpec, Request, Result};
use ort::session::Session;
use ort::value::DynValue;

use super::memory::{self, MemoryLimit};
use super::noise::{NoiseSource, TorchCpuNoise};
use super::scheduler::{SchedulerConfig, scheduler_for};
use super::tokenizer::ClipTokenizer;
use crate::onnx::contract::{self, Dim, Element, Elements, Port, Spatial};
use crate::onnx::device::{ModelSource, build_session};
use crate::onnx::model::{graph_ports, tensor};
use crate::onnx::{ExecutionReport, GraphPort, OnnxOptions, Runtime};

const ANY: Dim = Dim::Any;
const B: Dim = Dim::Batch;
const TEXT_INPUTS: [Port; 1] = [Port::new("input_ids", Elements::Int64, &[B, ANY])];
const TEXT_OUTPUTS: [Port; 1] = [Port::new(
    "last_hidden_state",
    Elements::Float,
    &[B, ANY, ANY],
)];
/// SDXL's second text encoder (`CLIPTextModelWithProjection`) adds the projected pooled output.
const TEXT_2_OUTPUTS: [Port; 2] = [
    Port::new("last_hidden_state", Elements::Float, &[B, ANY, ANY]),
    Port::new("text_embeds", Elements::Float, &[B, ANY]),
];
const SAMPLE: Port = Port::new(
    "sample",
    Elements::Float,
    &[B, ANY, Dim::Spatial, Dim::Spatial],
);
// Optimum exports the timestep as a scalar (rank 0).
const TIMESTEP: Port = Port::new("timestep", Elements::Float, &[]);
const STATES: Port = Port::new("encoder_hidden_states", Elements::Float, &[B, ANY, ANY]);
const UNET_INPUTS: [Port; 3] = [SAMPLE, TIMESTEP, STATES];
/// SDXL's UNet also takes the pooled text embedding and the size conditioning.
const SDXL_UNET_INPUTS: [Port; 5] = [
    SAMPLE,
    TIMESTEP,
    STATES,
    Port::new("text_embeds", Elements::Float, &[B, ANY]),
    Port::new("time_ids", Elements::Float, &[B, ANY]),
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

/// IOPaint's `model/sdxl.py` asks diffusers for this strength when the request says 1.
const SDXL_FULL_STRENGTH: f32 = 0.999;
/// diffusers' SDXL defaults for the aesthetic-score conditioning (`requires_aesthetics_score`).
const AESTHETIC_SCORE: f32 = 6.0;
const NEGATIVE_AESTHETIC_SCORE: f32 = 2.5;

/// Which Stable Diffusion a folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiffusionFamily {
    /// Stable Diffusion 1.x (and 2.x without v-prediction specifics): one CLIP text encoder.
    Sd15,
    /// Stable Diffusion XL: two text encoders, a pooled text embedding and size conditioning.
    Sdxl,
}

impl DiffusionFamily {
    /// The short name (`sd1.5`, `sdxl`): the model's name in its [`ModelSpec`] and messages.
    pub fn name(self) -> &'static str {
        match self {
            DiffusionFamily::Sd15 => "sd1.5",
            DiffusionFamily::Sdxl => "sdxl",
        }
    }
}

impl fmt::Display for DiffusionFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DiffusionFamily::Sd15 => "Stable Diffusion 1.5",
            DiffusionFamily::Sdxl => "Stable Diffusion XL",
        })
    }
}

/// What a UNet graph's ports say about the pipeline it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnetKind {
    /// SD 1.5 (`sample`, `timestep`, `encoder_hidden_states`) or SDXL (also `text_embeds` and
    /// `time_ids`).
    pub family: DiffusionFamily,
    /// 9 for an inpainting UNet, 4 for a plain one.
    pub channels: usize,
}

/// Checks a UNet graph's ports (read from a session, or from the file without ONNX Runtime as
/// the registry does) against the contract of an Optimum UNet: `sample` [B, 9 or 4, h, w], a
/// rank-0 `timestep`, `encoder_hidden_states` [B, S, D] — and for SDXL `text_embeds` [B, P]
/// and `time_ids` [B, 6 or 5] — in, `out_sample` [B, 4, h, w] out, all float32 or all
/// float16. Returns the family and the number of input channels (9: inpainting, 4: plain), or
/// every mismatch in words.
pub fn unet_kind(
    inputs: &[GraphPort],
    outputs: &[GraphPort],
) -> std::result::Result<UnetKind, String> {
    let family = if inputs.iter().any(|port| port.name == "text_embeds") {
        DiffusionFamily::Sdxl
    } else {
        DiffusionFamily::Sd15
    };
    let expected: &[Port] = match family {
        DiffusionFamily::Sd15 => &UNET_INPUTS,
        DiffusionFamily::Sdxl => &SDXL_UNET_INPUTS,
    };
    contract::check(
        inputs,
        outputs,
        expected,
        None,
        &UNET_OUTPUTS,
        Spatial::Dynamic,
    )?;
    let dim = |name: &str, index: usize| {
        inputs
            .iter()
            .find(|port| port.name == name)
            .and_then(|port| port.dims.get(index).copied())
            .unwrap_or(-1)
    };
    if family == DiffusionFamily::Sdxl && !matches!(dim("time_ids", 1), -1 | 5 | 6) {
        return Err(format!(
            "`time_ids` has {} values; SDXL takes 6 (sizes and crop) or 5 (with the aesthetic \
             score)",
            dim("time_ids", 1)
        ));
    }
    match dim("sample", 1) {
        4 => Ok(UnetKind {
            family,
            channels: 4,
        }),
        9 => Ok(UnetKind {
            family,
            channels: 9,
        }),
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
    /// Where ONNX Runtime is, which device, threads, the CPU memory arena (shared with the
    /// other ONNX models).
    pub onnx: OnnxOptions,
    /// How guidance runs the UNet.
    pub guidance_batching: GuidanceBatching,
    /// Keep only the UNet loaded between runs: the text encoders and the VAE graphs are
    /// loaded for their stage of each run and dropped after it. Saves their memory (SDXL's
    /// text encoders are 1.6 GB in float32) for the time to load them on every run.
    pub load_stages_on_demand: bool,
    /// The memory the weights must fit in, checked before anything is loaded.
    pub memory_limit: MemoryLimit,
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

    /// Sets [`load_stages_on_demand`](Self::load_stages_on_demand).
    pub fn with_load_stages_on_demand(mut self, on_demand: bool) -> Self {
        self.load_stages_on_demand = on_demand;
        self
    }

    /// Sets [`memory_limit`](Self::memory_limit).
    pub fn with_memory_limit(mut self, limit: MemoryLimit) -> Self {
        self.memory_limit = limit;
        self
    }
}

/// One graph of the folder: what its contract check found, and its session while loaded.
struct Stage {
    /// The graph's folder name (`unet`, `vae_decoder`, …).
    name: &'static str,
    path: PathBuf,
    session: Option<Session>,
    float16: bool,
    /// Whether the batch dimension is symbolic (else 1).
    dynamic_batch: bool,
    /// The output read as the text encoder's hidden states (SDXL: the penultimate layer's).
    states_output: String,
}

/// What building a session again needs.
struct Loader {
    runtime: Arc<Runtime>,
    onnx: OnnxOptions,
    model: &'static str,
}

impl Loader {
    fn open(&self, path: &Path, graph: &str) -> Result<(Session, ExecutionReport)> {
        build_session(
            &self.runtime,
            &format!("{} {graph}", self.model),
            ModelSource::File(path),
            &self.onnx.device,
            &self.onnx.session,
            true,
        )
    }

    /// Loads the graph `name` of `dir` and checks it against its contract (plus, for a text
    /// encoder of SDXL, the hidden-state outputs).
    fn load(
        &self,
        dir: &Path,
        name: &'static str,
        inputs: &[Port],
        outputs: &[Port],
        family: DiffusionFamily,
    ) -> Result<(Stage, Vec<GraphPort>, ExecutionReport)> {
        let path = dir.join(name).join("model.onnx");
        let (session, report) = self.open(&path, name)?;
        let graph_inputs = graph_ports(session.inputs());
        let graph_outputs = graph_ports(session.outputs());
        let broken = |problems: String| {
            Error::model(
                self.model,
                format!(
                    "{} does not have the {name} contract of an Optimum {family} export: \
                     {problems}",
                    path.display()
                ),
            )
        };
        let checked = contract::check(
            &graph_inputs,
            &graph_outputs,
            inputs,
            None,
            outputs,
            Spatial::Dynamic,
        )
        .map_err(broken)?;
        let states_output = if name.starts_with("text_encoder") && family == DiffusionFamily::Sdxl {
            penultimate_states(&graph_outputs).map_err(broken)?
        } else {
            "last_hidden_state".to_string()
        };
        let dynamic_batch = graph_inputs
            .first()
            .and_then(|port| port.dims.first())
            .is_some_and(|&d| d < 0);
        Ok((
            Stage {
                name,
                path,
                session: Some(session),
                float16: checked.float == Element::Float16,
                dynamic_batch,
                states_output,
            },
            graph_inputs,
            report,
        ))
    }
}

/// SDXL conditions on the penultimate layer of each text encoder (diffusers'
/// `hidden_states[-2]`). Optimum exports `hidden_states.0` (the embeddings) to
/// `hidden_states.N` (the last layer before the final norm): the one wanted is `N − 1`.
fn penultimate_states(outputs: &[GraphPort]) -> std::result::Result<String, String> {
    let last = outputs
        .iter()
        .filter_map(|port| {
            port.name
                .strip_prefix("hidden_states.")?
                .parse::<usize>()
                .ok()
        })
        .max()
        .filter(|&n| n >= 1)
        .ok_or("no `hidden_states.N` outputs (export the text encoder with its hidden states)")?;
    let name = format!("hidden_states.{}", last - 1);
    match outputs.iter().find(|port| port.name == name) {
        Some(port) if port.dims.len() == 3 => Ok(name),
        _ => Err(format!("no output `{name}` of rank 3")),
    }
}

/// A text encoder with its tokenizer.
struct TextEncoder {
    stage: Stage,
    tokenizer: ClipTokenizer,
}

/// A prompt as the UNet takes it.
struct Conditioning {
    /// `encoder_hidden_states` [1, S, D]: SDXL's two encoders' states side by side per token.
    states: Vec<f32>,
    /// SDXL: the second encoder's `text_embeds` [1, P]; empty for SD 1.5.
    pooled: Vec<f32>,
    /// SDXL: `time_ids` [1, 6 or 5]; empty for SD 1.5.
    time_ids: Vec<f32>,
}

/// Stable Diffusion inpainting — SD 1.5 or SDXL — from an Optimum ONNX folder.
///
/// The folder is what `optimum-cli export onnx --task inpainting` writes: `model_index.json`,
/// `text_encoder/`, `unet/` (its weights may sit in an external-data file beside `model.onnx`),
/// `vae_encoder/`, `vae_decoder/` (each `model.onnx` and `config.json`), `tokenizer/`
/// (`vocab.json`, `merges.txt`) and `scheduler/scheduler_config.json`; SDXL adds
/// `text_encoder_2/` and `tokenizer_2/`. float32 and float16 exports both load; each graph's
/// inputs and outputs are checked at load, and before that the weights' size against the
/// memory available ([`DiffusionOptions::memory_limit`]).
///
/// It runs diffusers' `StableDiffusionInpaintPipeline` (SDXL: `StableDiffusionXLInpaintPipeline`)
/// step for step, so that a seed gives diffusers' (and IOPaint's) picture on the same weights:
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
///   [`GuidanceBatching`]); at 1 or below it is skipped, as in diffusers;
/// * SDXL: strength 1 is run as 0.999, as IOPaint's `model/sdxl.py` asks (one step fewer,
///   starting from the image's latents noised at the first step); the UNet is conditioned on
///   the penultimate hidden states of both text encoders, the second one's pooled projection,
///   and `time_ids` (the padded size as original and target size, crop 0, 0; or the size,
///   crop and aesthetic score 6 / 2.5 when `model_index.json` has `requires_aesthetics_score`).
///   A float16 VAE whose `config.json` has `force_upcast` (SDXL's own VAE, which overflows in
///   float16; diffusers runs it in float32) is refused at load: export the VAE in float32 or
///   use the fp16-fixed VAE (`madebyollin/sdxl-vae-fp16-fix`, as IOPaint does).
///
/// Its [`ModelSpec`] asks IOPaint's minimum of 512 pixels a side, but pads to what the loaded
/// UNet accepts rather than IOPaint's multiple of 8: an exported UNet halves the latent at each
/// down block and fails on sizes that do not divide through (SD 1.5: multiples of 64; SDXL: 32).
pub struct StableDiffusion {
    spec: ModelSpec,
    family: DiffusionFamily,
    dir: PathBuf,
    /// One for SD 1.5, two for SDXL.
    text_encoders: Vec<TextEncoder>,
    unet: Stage,
    vae_encoder: Stage,
    vae_decoder: Stage,
    scheduler_config: SchedulerConfig,
    unet_channels: usize,
    /// SDXL: `time_ids` carry the aesthetic score instead of the target size.
    aesthetic_score: bool,
    /// Pixels per latent cell (8 for SD).
    vae_scale: u32,
    scaling_factor: f32,
    /// The VAE's `latents_mean` and `latents_std` when its config has them (decoding only).
    latents_mean_std: Option<([f32; 4], [f32; 4])>,
    batching: GuidanceBatching,
    on_demand: bool,
    loader: Loader,
    report: ExecutionReport,
    session_time: Duration,
}

impl fmt::Debug for StableDiffusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StableDiffusion")
            .field("family", &self.family)
            .field("dir", &self.dir)
            .field("spec", &self.spec)
            .field("unet_channels", &self.unet_channels)
            .field("float16", &self.unet.float16)
            .field("load_stages_on_demand", &self.on_demand)
            .field("device", &self.report)
            .finish_non_exhaustive()
    }
}

/// Reads a JSON file of the folder, naming it on failure.
fn read_json(model: &str, path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text)
        .map_err(|err| Error::model(model, format!("{}: not valid JSON: {err}", path.display())))
}

/// `2^(levels − 1)` for a `config.json` listing `block_out_channels`: how many times the network
/// halves its input.
fn downsampling(model: &str, config: &serde_json::Value, path: &Path) -> Result<u32> {
    let levels = config["block_out_channels"]
        .as_array()
        .map(Vec::len)
        .filter(|&n| (1..=8).contains(&n))
        .ok_or_else(|| {
            Error::model(
                model,
                format!("{}: no usable `block_out_channels`", path.display()),
            )
        })?;
    Ok(1 << (levels - 1))
}

/// Four numbers from a VAE config key (`latents_mean`, `latents_std`), when present.
fn four(config: &serde_json::Value, key: &str) -> Option<[f32; 4]> {
    let values: Vec<f32> = config[key]
        .as_array()?
        .iter()
        .map(|v| v.as_f64().map(|v| v as f32))
        .collect::<Option<_>>()?;
    values.try_into().ok()
}

impl StableDiffusion {
    /// Loads the Optimum ONNX folder at `dir` (SD 1.5, or SDXL when it holds
    /// `text_encoder_2/`), checking every graph against its contract.
    ///
    /// A missing file is an [`Error::Io`] naming it; a graph with other inputs or outputs, or a
    /// UNet taking neither 4 nor 9 channels, is an [`Error::Model`] naming each mismatch;
    /// weights larger than [`DiffusionOptions::memory_limit`] allows are an
    /// [`Error::Runtime`] before anything is loaded.
    pub fn load(dir: impl AsRef<Path>, options: &DiffusionOptions) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let family = if dir.join("text_encoder_2").is_dir() {
            DiffusionFamily::Sdxl
        } else {
            DiffusionFamily::Sd15
        };
        let model = family.name();
        let index = read_json(model, &dir.join("model_index.json"))?;
        let (text_graphs, tokenizers): (&[&'static str], &[&str]) = match family {
            DiffusionFamily::Sd15 => (&["text_encoder"], &["tokenizer"]),
            DiffusionFamily::Sdxl => (
                &["text_encoder", "text_encoder_2"],
                &["tokenizer", "tokenizer_2"],
            ),
        };
        let graphs: Vec<&'static str> = text_graphs
            .iter()
            .copied()
            .chain(["unet", "vae_encoder", "vae_decoder"])
            .collect();
        for graph in &graphs {
            let path = dir.join(graph).join("model.onnx");
            if !path.is_file() {
                return Err(missing(&path, &format!("the {graph} graph")));
            }
        }
        for tokenizer in tokenizers {
            let tokenizer_dir = dir.join(tokenizer);
            for file in ["vocab.json", "merges.txt"] {
                let path = tokenizer_dir.join(file);
                if !path.is_file() && !tokenizer_dir.join("tokenizer.json").is_file() {
                    return Err(missing(&path, &format!("the {tokenizer}")));
                }
            }
        }
        let scheduler_path = dir.join("scheduler").join("scheduler_config.json");
        if !scheduler_path.is_file() {
            return Err(missing(&scheduler_path, "the scheduler config"));
        }
        let tokenizers = tokenizers
            .iter()
            .map(|name| ClipTokenizer::from_dir(&dir.join(name)))
            .collect::<Result<Vec<_>>>()?;
        let scheduler_config = SchedulerConfig::from_file(&scheduler_path)?;

        let unet_config_path = dir.join("unet").join("config.json");
        let unet_config = read_json(model, &unet_config_path)?;
        let decoder_config_path = dir.join("vae_decoder").join("config.json");
        let decoder_config = read_json(model, &decoder_config_path)?;
        let vae_scale = downsampling(model, &decoder_config, &decoder_config_path)?;
        let pad_multiple = vae_scale * downsampling(model, &unet_config, &unet_config_path)?;
        let scaling_factor = decoder_config["scaling_factor"].as_f64().unwrap_or(0.18215) as f32;
        let latents_mean_std =
            four(&decoder_config, "latents_mean").zip(four(&decoder_config, "latents_std"));
        let aesthetic_score = index["requires_aesthetics_score"].as_bool() == Some(true);

        // Before any session: the weights must fit (all of them, or the UNet and the largest
        // other graph when the others are loaded one stage at a time).
        let sizes = graphs
            .iter()
            .map(|graph| Ok((*graph, memory::graph_bytes(&dir.join(graph))?)))
            .collect::<Result<Vec<_>>>()?;
        memory::check_fits(
            model,
            &dir,
            &sizes,
            options.load_stages_on_demand,
            &options.memory_limit,
        )?;

        let loader = Loader {
            runtime: Runtime::load(&options.onnx.runtime)?,
            onnx: options.onnx.clone(),
            model,
        };
        let on_demand = options.load_stages_on_demand;
        // Loaded to check its contract; with on-demand stages, dropped again at once.
        let load = |name: &'static str, inputs: &[Port], outputs: &[Port], keep: bool| {
            let (mut stage, ports, report) = loader.load(&dir, name, inputs, outputs, family)?;
            if !keep {
                stage.session = None;
            }
            Ok::<_, Error>((stage, ports, report))
        };
        let mut text_encoders = Vec::new();
        for (name, tokenizer) in text_graphs.iter().zip(tokenizers) {
            let outputs: &[Port] = if *name == "text_encoder_2" {
                &TEXT_2_OUTPUTS
            } else {
                &TEXT_OUTPUTS
            };
            let (stage, _, _) = load(name, &TEXT_INPUTS, outputs, !on_demand)?;
            text_encoders.push(TextEncoder { stage, tokenizer });
        }
        let unet_inputs: &[Port] = match family {
            DiffusionFamily::Sd15 => &UNET_INPUTS,
            DiffusionFamily::Sdxl => &SDXL_UNET_INPUTS,
        };
        let (mut unet, unet_ports, report) = load("unet", unet_inputs, &UNET_OUTPUTS, true)?;
        let (vae_encoder, _, _) = load(
            "vae_encoder",
            &VAE_ENCODER_INPUTS,
            &VAE_ENCODER_OUTPUTS,
            !on_demand,
        )?;
        let (vae_decoder, _, _) = load(
            "vae_decoder",
            &VAE_DECODER_INPUTS,
            &VAE_DECODER_OUTPUTS,
            !on_demand,
        )?;
        let unet_path = dir.join("unet").join("model.onnx");
        let unet_session = unet
            .session
            .as_mut()
            .ok_or_else(|| Error::runtime("the UNet was not kept loaded"))?;
        let kind =
            unet_kind(&unet_ports, &graph_ports(unet_session.outputs())).map_err(|problem| {
                Error::model(model, format!("{}: {problem}", unet_path.display()))
            })?;
        if kind.family != family {
            return Err(Error::model(
                model,
                format!(
                    "{}: a {} UNet in a {family} folder",
                    unet_path.display(),
                    kind.family
                ),
            ));
        }
        if family == DiffusionFamily::Sdxl {
            check_time_ids(model, &unet_path, &unet_ports, aesthetic_score)?;
            for (stage, config) in [
                (&vae_encoder, dir.join("vae_encoder").join("config.json")),
                (&vae_decoder, decoder_config_path.clone()),
            ] {
                let upcast = read_json(model, &config)?["force_upcast"].as_bool() != Some(false);
                if stage.float16 && upcast {
                    return Err(Error::model(
                        model,
                        format!(
                            "{} is float16 but {} has `force_upcast` (SDXL's VAE overflows in \
                             float16, so diffusers runs it in float32): export the VAE in \
                             float32, or use the fp16-fixed VAE (madebyollin/sdxl-vae-fp16-fix, \
                             `force_upcast` false)",
                            stage.path.display(),
                            config.display()
                        ),
                    ));
                }
            }
        }
        Ok(StableDiffusion {
            spec: ModelSpec::new(model)
                .with_pad_multiple(pad_multiple)
                .with_min_size(Some(512_u32.div_ceil(pad_multiple) * pad_multiple))
                .with_honours_hd_strategy(false)
                .with_takes_prompt(true),
            family,
            dir,
            text_encoders,
            unet,
            vae_encoder,
            vae_decoder,
            scheduler_config,
            unet_channels: kind.channels,
            aesthetic_score,
            vae_scale,
            scaling_factor,
            latents_mean_std,
            batching: options.guidance_batching,
            on_demand,
            loader,
            report,
            session_time: Duration::ZERO,
        })
    }

    /// The folder this model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// SD 1.5 or SDXL.
    pub fn family(&self) -> DiffusionFamily {
        self.family
    }

    /// 9 for an inpainting UNet, 4 for a plain one.
    pub fn unet_channels(&self) -> usize {
        self.unet_channels
    }

    /// Whether the UNet is float16.
    pub fn is_f16(&self) -> bool {
        self.unet.float16
    }

    /// The graphs whose sessions are loaded now (the UNet always; the others too unless
    /// [`DiffusionOptions::load_stages_on_demand`]).
    pub fn loaded_graphs(&self) -> Vec<&'static str> {
        self.text_encoders
            .iter()
            .map(|encoder| &encoder.stage)
            .chain([&self.unet, &self.vae_encoder, &self.vae_decoder])
            .filter(|stage| stage.session.is_some())
            .map(|stage| stage.name)
            .collect()
    }

    /// The device the graphs run on, and why others were refused.
    pub fn execution(&self) -> &ExecutionReport {
        &self.report
    }

    /// The ONNX Runtime this model runs on.
    pub fn runtime(&self) -> &Runtime {
        &self.loader.runtime
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
        let result = self.generate_inner(image, mask, request, noise);
        if self.on_demand {
            // Also after a failed or cancelled run: the memory is what the option is for.
            self.release_stages();
        }
        result
    }

    fn generate_inner(
        &mut self,
        image: &RgbImage,
        mask: &Mask,
        request: &Request,
        noise: &mut dyn NoiseSource,
    ) -> Result<(RgbImage, Vec<f32>)> {
        request.validate()?;
        let model = self.family.name();
        let (width, height) = image.dimensions();
        let multiple = self.spec.pad_multiple;
        if width % multiple != 0 || height % multiple != 0 || (width, height) != mask.dimensions() {
            return Err(Error::invalid_input(format!(
                "{model} takes an image and mask of the same size with sides a multiple of \
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
        let asked = if self.family == DiffusionFamily::Sdxl && request.strength == 1.0 {
            SDXL_FULL_STRENGTH
        } else {
            request.strength
        };
        // diffusers' get_timesteps. Python multiplies the float the user typed: go through its
        // shortest decimal form so that 0.7 × 10 is 7 there and here, not 6.99…
        let strength = format!("{asked}")
            .parse::<f64>()
            .unwrap_or(f64::from(asked));
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
        let mut text = self.encode_text(&request.prompt)?;
        let mut uncond = if guided {
            Some(self.encode_text(&request.negative_prompt)?)
        } else {
            None
        };
        if self.on_demand {
            for encoder in &mut self.text_encoders {
                encoder.stage.session = None;
            }
        }
        if self.family == DiffusionFamily::Sdxl {
            // diffusers' _get_add_time_ids: original size = target size = the padded size,
            // crop top-left (0, 0).
            let (h, w) = (height as f32, width as f32);
            let ids = |score: f32| {
                if self.aesthetic_score {
                    vec![h, w, 0.0, 0.0, score]
                } else {
                    vec![h, w, 0.0, 0.0, h, w]
                }
            };
            text.time_ids = ids(AESTHETIC_SCORE);
            if let Some(uncond) = &mut uncond {
                uncond.time_ids = ids(NEGATIVE_AESTHETIC_SCORE);
            }
        }

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
        if self.on_demand {
            self.vae_encoder.session = None;
        }
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
                None => self.unet(&input, [lh, lw], t, &[&text])?,
                Some(uncond) => {
                    let (u, c) =
                        if self.unet.dynamic_batch && self.batching == GuidanceBatching::Auto {
                            let mut both = input.clone();
                            both.extend_from_slice(&input);
                            let out = self.unet(&both, [lh, lw], t, &[uncond, &text])?;
                            let half = out.len() / 2;
                            (out[..half].to_vec(), out[half..].to_vec())
                        } else {
                            (
                                self.unet(&input, [lh, lw], t, &[uncond])?,
                                self.unet(&input, [lh, lw], t, &[&text])?,
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
                    model,
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

    /// Drops the sessions of every graph but the UNet.
    fn release_stages(&mut self) {
        for encoder in &mut self.text_encoders {
            encoder.stage.session = None;
        }
        self.vae_encoder.session = None;
        self.vae_decoder.session = None;
    }

    /// The prompt as the UNet takes it. SD 1.5: the text encoder's `last_hidden_state`
    /// [1, 77, D]. SDXL: both encoders' penultimate hidden states side by side per token
    /// [1, 77, D₁ + D₂], and the second encoder's `text_embeds`.
    fn encode_text(&mut self, prompt: &str) -> Result<Conditioning> {
        let mut per_encoder = Vec::new();
        let mut pooled = Vec::new();
        let mut seq = 0;
        for encoder in &mut self.text_encoders {
            let ids = encoder.tokenizer.encode(prompt);
            seq = ids.len();
            let input = tensor([1, seq], ids)?;
            let states_output = encoder.stage.states_output.clone();
            let wanted: &[&str] = if encoder.stage.name == "text_encoder_2" {
                &[states_output.as_str(), "text_embeds"]
            } else {
                &[states_output.as_str()]
            };
            let mut outputs = run(
                &mut encoder.stage,
                &self.loader,
                &mut self.session_time,
                vec![("input_ids", input)],
                wanted,
            )?;
            if outputs.len() == 2 {
                pooled = outputs.pop().unwrap_or_default();
            }
            per_encoder.push(outputs.pop().unwrap_or_default());
        }
        let states = if let [single] = per_encoder.as_slice() {
            single.clone()
        } else {
            // torch.concat(..., dim=-1): per token, the first encoder's values then the second's.
            let widths: Vec<usize> = per_encoder.iter().map(|s| s.len() / seq.max(1)).collect();
            let mut states = Vec::new();
            for token in 0..seq {
                for (encoder, &width) in per_encoder.iter().zip(&widths) {
                    states.extend_from_slice(&encoder[token * width..(token + 1) * width]);
                }
            }
            states
        };
        Ok(Conditioning {
            states,
            pooled,
            time_ids: Vec::new(),
        })
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
        let model = self.family.name();
        let input = float_tensor(
            self.vae_encoder.float16,
            [1, 3, height as usize, width as usize],
            planar.to_vec(),
        )?;
        let parameters = run_one(
            &mut self.vae_encoder,
            &self.loader,
            &mut self.session_time,
            vec![("sample", input)],
            "latent_parameters",
        )?;
        let half = parameters.len() / 2;
        let (lw, lh) = (width / self.vae_scale, height / self.vae_scale);
        if half != 4 * (lw * lh) as usize {
            return Err(Error::model(
                model,
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

    /// One UNet call on a batch of one input of `[channels, lh, lw]` per conditioning (the
    /// same input repeated).
    fn unet(
        &mut self,
        sample: &[f32],
        [lh, lw]: [usize; 2],
        t: f32,
        conditions: &[&Conditioning],
    ) -> Result<Vec<f32>> {
        let batch = conditions.len();
        let float16 = self.unet.float16;
        let states: Vec<f32> = conditions
            .iter()
            .flat_map(|c| c.states.iter().copied())
            .collect();
        let seq = self.text_encoders[0].tokenizer.max_length();
        let hidden = states.len() / (batch * seq);
        let mut inputs = vec![
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
                float_tensor(float16, [batch, seq, hidden], states)?,
            ),
        ];
        if self.family == DiffusionFamily::Sdxl {
            let pooled: Vec<f32> = conditions
                .iter()
                .flat_map(|c| c.pooled.iter().copied())
                .collect();
            let time_ids: Vec<f32> = conditions
                .iter()
                .flat_map(|c| c.time_ids.iter().copied())
                .collect();
            let (p, n) = (pooled.len() / batch, time_ids.len() / batch);
            inputs.push(("text_embeds", float_tensor(float16, [batch, p], pooled)?));
            inputs.push(("time_ids", float_tensor(float16, [batch, n], time_ids)?));
        }
        run_one(
            &mut self.unet,
            &self.loader,
            &mut self.session_time,
            inputs,
            "out_sample",
        )
    }

    /// Decodes latents to RGB: `(x/2 + 0.5)` clamped to 0–1, then IOPaint's `(x·255).round()`.
    fn decode(&mut self, latents: &[f32], width: u32, height: u32) -> Result<RgbImage> {
        let model = self.family.name();
        let (lw, lh) = (
            (width / self.vae_scale) as usize,
            (height / self.vae_scale) as usize,
        );
        let cells = lw * lh;
        let scaled: Vec<f32> = match self.latents_mean_std {
            // diffusers: latents · std / scaling_factor + mean, per channel.
            Some((mean, std)) => latents
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let c = (i / cells.max(1)).min(3);
                    v * std[c] / self.scaling_factor + mean[c]
                })
                .collect(),
            None => latents.iter().map(|v| v / self.scaling_factor).collect(),
        };
        let input = float_tensor(self.vae_decoder.float16, [1, 4, lh, lw], scaled)?;
        let planar = run_one(
            &mut self.vae_decoder,
            &self.loader,
            &mut self.session_time,
            vec![("latent_sample", input)],
            "sample",
        )?;
        if self.on_demand {
            self.vae_decoder.session = None;
        }
        let plane = (width * height) as usize;
        if planar.len() != 3 * plane {
            return Err(Error::model(
                model,
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
            .ok_or_else(|| Error::model(model, "output buffer size".to_string()))
    }
}

/// SDXL's `time_ids` length must be what `model_index.json` asks: 5 values with
/// `requires_aesthetics_score`, else 6 (a symbolic length is taken on trust).
fn check_time_ids(
    model: &str,
    unet_path: &Path,
    ports: &[GraphPort],
    aesthetic_score: bool,
) -> Result<()> {
    let expected = if aesthetic_score { 5 } else { 6 };
    let found = ports
        .iter()
        .find(|port| port.name == "time_ids")
        .and_then(|port| port.dims.get(1).copied())
        .unwrap_or(-1);
    if found >= 0 && found != expected {
        return Err(Error::model(
            model,
            format!(
                "{}: `time_ids` takes {found} values, but model_index.json {} \
                 `requires_aesthetics_score`, which makes {expected}",
                unet_path.display(),
                if aesthetic_score {
                    "sets"
                } else {
                    "does not set"
                }
            ),
        ));
    }
    Ok(())
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

/// Runs `stage` (loading its session first if it was dropped) and returns the outputs
/// `wanted` as f32, in that order, refusing NaN and infinities.
fn run(
    stage: &mut Stage,
    loader: &Loader,
    session_time: &mut Duration,
    inputs: Vec<(&'static str, DynValue)>,
    wanted: &[&str],
) -> Result<Vec<Vec<f32>>> {
    let model = loader.model;
    let name = stage.name;
    let session = match &mut stage.session {
        Some(session) => session,
        slot @ None => slot.insert(loader.open(&stage.path, name)?.0),
    };
    let started = Instant::now();
    let outputs = session.run(inputs);
    *session_time += started.elapsed();
    let outputs = outputs.map_err(|err| {
        Error::model_with(model, format!("ONNX Runtime failed in the {name}"), err)
    })?;
    let mut results = Vec::new();
    for &output in wanted {
        let value = outputs
            .get(output)
            .ok_or_else(|| Error::model(model, format!("the {name} has no output `{output}`")))?;
        let fail =
            |err: ort::Error| Error::model_with(model, format!("{name} output `{output}`"), err);
        let data: Vec<f32> = if stage.float16 {
            let (_, data) = value.try_extract_tensor::<f16>().map_err(fail)?;
            data.iter().map(|v| v.to_f32()).collect()
        } else {
            let (_, data) = value.try_extract_tensor::<f32>().map_err(fail)?;
            data.to_vec()
        };
        if let Some(bad) = data.iter().find(|v| !v.is_finite()) {
            return Err(Error::model(
                model,
                format!("the {name} output `{output}` holds {bad}"),
            ));
        }
        results.push(data);
    }
    Ok(results)
}

/// [`run`] for one output.
fn run_one(
    stage: &mut Stage,
    loader: &Loader,
    session_time: &mut Duration,
    inputs: Vec<(&'static str, DynValue)>,
    output: &str,
) -> Result<Vec<f32>> {
    let mut outputs = run(stage, loader, session_time, inputs, &[output])?;
    Ok(outputs.pop().unwrap_or_default())
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

//! Inpaints a photo: fills the white part of a mask from the rest of the image.
//!
//! ```text
//! cargo run --release --example inpaint -- --image IN --mask MASK --output OUT \
//!     [--model ID] [--model-dir D] [--device NAME] [--radius N] [--patch-size N] [--seed N] \
//!     [--hd-strategy original|resize|crop]
//!
//! cargo run --release --example inpaint -- --model-file PATH.onnx \
//!     --arch lama|lama-dynamic|migan|migan-pipeline|mat|fcf \
//!     [--device cpu|cuda|tensorrt|coreml|directml|openvino|rocm|auto] [--ort-lib PATH] \
//!     [--output-range 0-1|0-255] [--seed N] --image IN --mask MASK --output OUT
//!
//! cargo run --release --example inpaint -- --remote URL --remote-model NAME \
//!     --arch ARCH [--remote-version V] [--output-range …] [--seed N] --image IN --mask MASK --output OUT
//! ```
//!
//! `--remote URL` runs the forward pass on an inference server that speaks the Open Inference
//! Protocol (Triton, KServe, …; see the README's "Scale out"); everything else runs here, as
//! for a local model. `--config FILE` reads a models config, whose entries may name remote
//! models (`--model lama-remote`).
//! `--model` also takes a Stable Diffusion 1.5 folder in Optimum's ONNX layout (the folder
//! holding `model_index.json`, `unet/`, `text_encoder/`, …), by its path or, found in the
//! model folders, by its id (its folder there, e.g. `--model sd15 --model-dir D`): then
//! `--prompt`, `--negative-prompt`, `--steps`, `--guidance`, `--sampler`, `--seed`,
//! `--strength` and `--mask-blur` apply, a progress bar shows the steps, and the seed used is
//! printed.
//!
//! ```text
//! cargo run --release --example inpaint -- --model path/to/sd15-onnx --prompt "a red bench" \
//!     --steps 20 --sampler "DPM++ 2M" --image IN --mask MASK --output OUT
//! ```
//!
//! Outpainting (IOPaint's extender) with a diffusion model: `--extend LEFT,TOP,RIGHT,BOTTOM`
//! adds that many pixels on each side, or `--extender-box X,Y,W,H` gives IOPaint's box in image
//! coordinates (`X`, `Y` may be negative). The output is the larger canvas; the model paints
//! the new pixels, and no `--mask` is needed (IOPaint ignores it there).
//!
//! ```text
//! cargo run --release --example inpaint -- --model path/to/sd15-onnx --prompt "a beach" \
//!     --extend 128,0,128,0 --image IN --output OUT
//! ```
//!
//! `--model ID` resolves through the registry (`inpaint-registry`): a catalog id or alias
//! (`patchmatch`, the default, `telea` and `navier-stokes` need no file; `lama`, `migan`, …
//! must be downloaded first, e.g. with the `models` example), or a model file found in
//! `--model-dir` (or the default model folders). An unknown name is an error listing the
//! known ones; nothing else runs in its place.
//!
//! A neural model runs on ONNX Runtime, found through `--ort-lib`, `ORT_DYLIB_PATH`, the
//! project's `.runtime/onnxruntime` folder (`scripts/fetch-onnxruntime.sh`), or the system
//! loader, in that order. `--device auto` tries this machine's accelerators, then the CPU; any
//! other device is required. The device that actually ran is printed.
//!
//! `--model openai-compat` sends each masked region, with `--prompt`, to an OpenAI-compatible
//! `images/edits` API (`--openai-base-url`, `--openai-model`; the key from
//! `INPAINT_OPENAI_API_KEY` or `OPENAI_API_KEY`), within a budget (`--budget-session`,
//! `--budget-day`, `--budget-month` in US dollars, `--budget-db` for the ledger): a request
//! that would cross a cap is refused before anything is sent. `models budget` shows the
//! spending.
//!
//! Reads PNG, JPEG (EXIF orientation applied), WebP, GIF (first frame) and BMP; writes by the
//! output's extension. The mask is white (> 127) where the image is to be filled.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{ArgGroup, CommandFactory, FromArgMatches, Parser};

#[path = "support/logs.rs"]
mod logs;

#[path = "openai_flags.rs"]
mod openai_flags;
use openai_flags::OpenAiFlags;

use inpaint_core::error::full_message;
use inpaint_core::image::GrayImage;
use inpaint_core::io::{load_image, load_mask, save_image};
use inpaint_core::{
    CropBox, HdStrategy, InpaintModel, InpaintOptions, Limits, Mask, Progress, Request, Sampler,
    inpaint,
};
use inpaint_models::onnx::{
    Architecture, Device, DevicePolicy, OnnxModel, OnnxOptions, OutputRange, RuntimeSearch,
};
use inpaint_models::remote::{RemoteModel, RemoteOptions};
use inpaint_models::{ModelOptions, classical::DEFAULT_RADIUS};
use inpaint_openai::OpenAiCompat;
use inpaint_registry::{
    CATALOG, ConfigFile, DEFAULT_MODEL, LoadPlan, Matched, ModelArchitecture, ModelManager,
    ModelRoot, Registry, Scanner,
};

/// Inpaints a photo: fills the white part of a mask from the rest of the image.
///
/// The model is a catalog name resolved through the registry (`--model`, the default `patchmatch`
/// needs no file), an ONNX file with its architecture (`--model-file` with `--arch`), or a
/// model on an inference server (`--remote` with `--remote-model` and `--arch`).
#[derive(Debug, Parser)]
#[command(name = "inpaint", version, args_override_self = true)]
#[command(group(ArgGroup::new("arch_source").args(["model_file", "remote"])))]
struct Cli {
    /// The photo to inpaint (PNG, JPEG, WebP, GIF or BMP).
    #[arg(long, value_name = "IN")]
    image: PathBuf,
    /// The mask: white (> 127) where the image is to be filled; the image's size. Not used,
    /// and not needed, with `--extend` or `--extender-box`.
    #[arg(long, value_name = "MASK", required_unless_present_any = ["extend", "extender_box"])]
    mask: Option<PathBuf>,
    /// Where to write the result; the format follows the extension.
    #[arg(long, value_name = "OUT")]
    output: PathBuf,
    /// A catalog id or alias, a model found in the model folders, or a Stable Diffusion folder
    /// in Optimum's ONNX layout (holding model_index.json); without it, the default model
    /// (named below).
    #[arg(long, value_name = "ID", conflicts_with = "model_file")]
    model: Option<String>,
    /// The project model folder (`D/<id>/<file>`) searched for `--model`; without it, the
    /// default folders (`INPAINT_MODELS_DIR` or ~/.cache/inpaint/models, then the Hugging Face
    /// cache).
    #[arg(long, value_name = "D", conflicts_with = "model_file")]
    model_dir: Option<PathBuf>,
    /// An ONNX model file to run, with `--arch`; not looked up in the registry.
    #[arg(long, value_name = "PATH.onnx", requires = "arch")]
    model_file: Option<PathBuf>,
    /// The architecture of `--model-file` or `--remote`: lama, lama-dynamic, migan,
    /// migan-pipeline, mat, fcf.
    #[arg(long, value_name = "ARCH", requires = "arch_source")]
    arch: Option<Architecture>,
    /// An inference server speaking the Open Inference Protocol (Triton, KServe, …) that runs
    /// the forward pass, with `--remote-model` and `--arch`; everything else runs here.
    #[arg(
        long,
        value_name = "URL",
        requires_all = ["remote_model", "arch"],
        conflicts_with_all = ["model", "model_dir", "model_file", "device", "ort_lib", "radius", "patch_size"]
    )]
    remote: Option<String>,
    /// The model's name on the `--remote` server.
    #[arg(long, value_name = "NAME", requires = "remote")]
    remote_model: Option<String>,
    /// The model's version on the `--remote` server (else the server's choice).
    #[arg(long, value_name = "V", requires = "remote")]
    remote_version: Option<String>,
    /// Where a neural model runs: cpu, cuda[:N], tensorrt, coreml, directml, openvino, rocm, or
    /// auto (this machine's accelerators, then the CPU); any but auto is required, never
    /// replaced.
    #[arg(long, value_name = "NAME", default_value_t = Device::Cpu)]
    device: Device,
    /// The ONNX Runtime library to load (before `ORT_DYLIB_PATH`, an installed backend, the
    /// project's .runtime folder and the system loader).
    #[arg(long, value_name = "PATH")]
    ort_lib: Option<PathBuf>,
    /// The range of a LaMa graph's output when its metadata does not say: 0-1 or 0-255.
    #[arg(long, value_name = "RANGE")]
    output_range: Option<OutputRange>,
    /// The search radius of telea and navier-stokes, in pixels [default: 4].
    #[arg(
        long,
        value_name = "N",
        allow_negative_numbers = true,
        conflicts_with = "model_file"
    )]
    radius: Option<f64>,
    /// PatchMatch's patch size, in pixels.
    #[arg(long, value_name = "N", conflicts_with = "model_file")]
    patch_size: Option<u32>,
    /// The random seed of PatchMatch, of MAT's noise, and of a diffusion model (IOPaint's
    /// `sd_seed`, default 42).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Diffusion: what to steer away from.
    #[arg(long, value_name = "TEXT", default_value = "")]
    negative_prompt: String,
    /// Diffusion: denoising steps.
    #[arg(long, value_name = "N", default_value_t = Request::default().steps)]
    steps: u32,
    /// Diffusion: classifier-free guidance scale; 1 or less skips the unconditional pass.
    #[arg(long, value_name = "SCALE", default_value_t = Request::default().guidance_scale)]
    guidance: f32,
    /// Diffusion: the sampler, by IOPaint's name (see the list below).
    #[arg(long, value_name = "NAME", default_value_t = Sampler::default())]
    sampler: Sampler,
    /// Diffusion: how much of the masked area is repainted, (0, 1]; below 1 starts from the
    /// image's own latents.
    #[arg(long, value_name = "S", default_value_t = Request::default().strength)]
    strength: f32,
    /// Diffusion: feather the paste with a Gaussian of 2·N+1 pixels. This changes pixels
    /// outside the mask (IOPaint's `sd_mask_blur`); 0, the default, leaves them untouched.
    #[arg(long, value_name = "N", default_value_t = 0)]
    mask_blur: u32,
    /// Diffusion: outpaint, adding this many pixels on each side (IOPaint's extender); the
    /// output is the larger canvas.
    #[arg(
        long,
        value_name = "LEFT,TOP,RIGHT,BOTTOM",
        value_parser = parse_margins,
        conflicts_with = "extender_box"
    )]
    extend: Option<[u32; 4]>,
    /// Diffusion: outpaint to IOPaint's extender box, in image coordinates (X and Y may be
    /// negative); the output is the canvas holding the image and the box.
    #[arg(
        long,
        value_name = "X,Y,W,H",
        value_parser = parse_box,
        allow_hyphen_values = true
    )]
    extender_box: Option<CropBox>,
    /// How large images are handled: original, resize or crop.
    #[arg(long, value_name = "NAME", default_value_t = HdStrategy::default())]
    hd_strategy: HdStrategy,
    /// What to paint, for the models that take a prompt (a diffusion folder, openai-compat);
    /// empty: the model's neutral default.
    #[arg(long, value_name = "TEXT", default_value = "")]
    prompt: String,
    #[command(flatten)]
    openai: OpenAiFlags,
}

/// What the extender flags ask for: pixels per side, or IOPaint's box.
#[derive(Debug, Clone, Copy)]
enum Extend {
    Margins([u32; 4]),
    Box(CropBox),
}

/// `LEFT,TOP,RIGHT,BOTTOM`, each a number of pixels.
fn parse_margins(text: &str) -> Result<[u32; 4], String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let numbers: Result<Vec<u32>, _> = parts.iter().map(|p| p.parse::<u32>()).collect();
    match numbers {
        Ok(n) if n.len() == 4 => Ok([n[0], n[1], n[2], n[3]]),
        _ => Err(format!(
            "expected LEFT,TOP,RIGHT,BOTTOM: four pixel counts of 0 or more, got `{text}`"
        )),
    }
}

/// `X,Y,W,H`: X and Y any integer, W and H at least 1.
fn parse_box(text: &str) -> Result<CropBox, String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let bad = || format!("expected X,Y,W,H (X, Y integers; W, H at least 1), got `{text}`");
    if parts.len() != 4 {
        return Err(bad());
    }
    let x = parts[0].parse::<i64>().map_err(|_| bad())?;
    let y = parts[1].parse::<i64>().map_err(|_| bad())?;
    let side = |p: &str| p.parse::<u32>().ok().filter(|&v| v > 0).ok_or_else(bad);
    Ok(CropBox {
        x,
        y,
        width: side(parts[2])?,
        height: side(parts[3])?,
    })
}

struct Args {
    image: PathBuf,
    /// `None` when outpainting without one.
    mask: Option<PathBuf>,
    output: PathBuf,
    /// The model by name; `None` is the default model.
    model: Option<String>,
    model_dir: Option<PathBuf>,
    /// The model as an ONNX file and its architecture.
    file: Option<(PathBuf, Architecture)>,
    /// The model on an inference server, and its architecture.
    remote: Option<(Remote, Architecture)>,
    /// A models config to resolve `--model` with.
    config: Option<PathBuf>,
    device: Device,
    /// Classical models' parameters.
    options: ModelOptions,
    /// ONNX models' settings (runtime, output range; the seed is moved here for them).
    onnx: OnnxOptions,
    hd_strategy: HdStrategy,
    /// What a diffusion model is asked (the seed is IOPaint's default unless given).
    request: Request,
    mask_blur: u32,
    extend: Option<Extend>,
    /// openai-compat's settings.
    openai: OpenAiFlags,
}

impl From<Cli> for Args {
    fn from(cli: Cli) -> Args {
        let mut options = ModelOptions::new();
        if let Some(radius) = cli.radius {
            options = options.with_radius(radius);
        }
        if let Some(patch_size) = cli.patch_size {
            options = options.with_patch_size(patch_size);
        }
        if let Some(seed) = cli.seed {
            options = options.with_seed(seed);
        }
        let mut onnx = OnnxOptions::default().with_runtime(runtime_search(cli.ort_lib));
        if let Some(range) = cli.output_range {
            onnx = onnx.with_output_range(range);
        }
        Args {
            image: cli.image,
            mask: cli.mask,
            output: cli.output,
            model: cli.model,
            model_dir: cli.model_dir,
            // clap's `requires` makes these come as pairs.
            file: cli.model_file.zip(cli.arch),
            remote: cli
                .remote
                .zip(cli.remote_model)
                .map(|(endpoint, name)| Remote {
                    endpoint,
                    name,
                    version: cli.remote_version,
                })
                .zip(cli.arch),
            config: cli.openai.budget.models_config.clone(),
            device: cli.device,
            options,
            onnx,
            hd_strategy: cli.hd_strategy,
            request: Request::new()
                .with_prompt(cli.prompt)
                .with_negative_prompt(cli.negative_prompt)
                .with_steps(cli.steps)
                .with_guidance_scale(cli.guidance)
                .with_sampler(cli.sampler)
                .with_strength(cli.strength)
                .with_seed(cli.seed.unwrap_or(Request::default().seed)),
            mask_blur: cli.mask_blur,
            extend: cli
                .extend
                .map(Extend::Margins)
                .or(cli.extender_box.map(Extend::Box)),
            openai: cli.openai,
        }
    }
}

/// The command line, with the known models, architectures and devices listed after `--help`.
fn parse_args() -> Args {
    let ids: Vec<&str> = CATALOG.iter().map(|entry| entry.id).collect();
    let lists = format!(
        "Models: {} (default {DEFAULT_MODEL})\nArchitectures: {}\nDevices: {}\nHD strategies: {}\n\
         Samplers: {}",
        ids.join(", "),
        Architecture::NAMES.join(", "),
        Device::NAMES.join(", "),
        HdStrategy::NAMES.join(", "),
        Sampler::NAMES.join(", ")
    );
    let matches = Cli::command().after_help(lists).get_matches();
    match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli.into(),
        Err(err) => err.exit(),
    }
}

/// Where ONNX Runtime is looked for: `--ort-lib`, then `ORT_DYLIB_PATH`, then the installed
/// backend that fits this machine (`models backend install`), then the project's
/// `.runtime/onnxruntime` folder and the system loader.
fn runtime_search(ort_lib: Option<PathBuf>) -> RuntimeSearch {
    let search = RuntimeSearch::from_env();
    if let Some(path) = ort_lib {
        return search.with_library(path);
    }
    if search.env_library.is_some() {
        return search;
    }
    match inpaint_download::Backends::from_env().and_then(|b| b.resolve_auto()) {
        Ok(backend) => search.with_library(backend.library),
        // None installed: the project folder and the system loader remain.
        Err(_) => search,
    }
}

/// A loaded model: owned, held by the registry's manager, or remote.
enum Loaded {
    Own(Box<dyn InpaintModel>),
    Managed(Box<ModelManager>),
    OpenAi(Box<OpenAiCompat>),
}

impl Loaded {
    fn model(&mut self) -> Result<&mut dyn InpaintModel, String> {
        match self {
            Loaded::Own(model) => Ok(model.as_mut()),
            Loaded::OpenAi(model) => Ok(model.as_mut()),
            Loaded::Managed(manager) => match manager.model_mut() {
                Some(model) => Ok(model),
                None => Err("no model is loaded".into()),
            },
        }
    }
}

/// What was loaded, in words: the model line and the device line.
struct Described {
    model: String,
    device: Option<String>,
}

/// A model on an inference server, as the command line names it.
struct Remote {
    endpoint: String,
    name: String,
    version: Option<String>,
}

/// Connects to the remote model: the server's metadata is checked against `arch`'s contract.
fn load_remote(
    remote: &Remote,
    arch: Architecture,
    onnx: &OnnxOptions,
    seed: Option<u64>,
) -> Result<(Loaded, Described), String> {
    let mut options =
        RemoteOptions::new(&remote.endpoint, &remote.name).with_seed(seed.unwrap_or(onnx.seed));
    if let Some(version) = &remote.version {
        options = options.with_version(version);
    }
    if let Some(range) = onnx.output_range {
        options = options.with_output_range(range);
    }
    let model = RemoteModel::connect(arch, &options).map_err(|e| e.full_message())?;
    let described = Described {
        model: format!("{arch} (`{}` on the server)", remote.name),
        device: Some(model.device_name()),
    };
    Ok((Loaded::Own(Box::new(model)), described))
}

fn load(args: &mut Args) -> Result<(Loaded, Described), String> {
    if let Some((remote, arch)) = &args.remote {
        return load_remote(remote, *arch, &args.onnx, args.options.seed);
    }
    let policy = DevicePolicy::for_flag(args.device);
    if let Some((file, arch)) = &args.file {
        let mut options = args.onnx.clone().with_device(policy);
        if let Some(seed) = args.options.seed {
            options = options.with_seed(seed);
        }
        let model = OnnxModel::load(file, *arch, &options).map_err(|e| e.full_message())?;
        let described = Described {
            model: format!("{arch} ({})", file.display()),
            device: Some(device_line(&model, args.device)),
        };
        return Ok((Loaded::Own(Box::new(model)), described));
    }

    let name = args.model.as_deref();
    let resolved = inpaint_registry::catalog::resolve(name).ok();
    if resolved
        .as_ref()
        .is_some_and(|r| matches!(r.entry.architecture, ModelArchitecture::Api(_)))
    {
        return load_openai(&args.openai);
    }
    if args.openai.any() {
        return Err(
            "the --openai-* and --budget-* flags apply to --model openai-compat only".into(),
        );
    }
    // A classical catalog model needs no scan of the model folders.
    let classical =
        resolved.filter(|r| matches!(r.entry.architecture, ModelArchitecture::Classical(_)));
    // A Stable Diffusion folder given by its path loads as a discovered one does.
    let folder = name.map(Path::new).filter(|p| is_diffusion_folder(p));
    let (plan, matched) = match (folder, classical) {
        (Some(dir), _) => (
            LoadPlan::from_file(dir, &mut Scanner::new()).map_err(|e| e.full_message())?,
            Matched::Id,
        ),
        (None, Some(resolved)) => (
            LoadPlan::classical(resolved.entry.id).map_err(|e| e.full_message())?,
            resolved.matched,
        ),
        (None, None) => {
            let roots = match &args.model_dir {
                Some(dir) => vec![ModelRoot::project(dir)],
                None => ModelRoot::defaults_from_env(),
            };
            let discovery = Scanner::new().scan(&roots);
            let config = match &args.config {
                Some(path) => Some(
                    ConfigFile::load(path)
                        .map_err(|e| e.full_message())?
                        .config()
                        .clone(),
                ),
                None => None,
            };
            let registry = Registry::new(config.as_ref(), Some(&discovery));
            let resolution = registry.resolve(name).map_err(|e| e.full_message())?;
            let plan = registry.plan(name).map_err(|e| e.full_message())?;
            (plan, resolution.matched)
        }
    };
    let mut onnx = args.onnx.clone();
    match plan.architecture {
        // The seed of an ONNX model is MAT's noise; radius and patch size stay in the plan,
        // where the manager refuses them for an ONNX model.
        ModelArchitecture::Onnx { .. } => {
            if let Some(seed) = args.options.seed.take() {
                onnx = onnx.with_seed(seed);
            }
        }
        // A diffusion model's seed travels in its request (IOPaint's `sd_seed`).
        ModelArchitecture::Diffusion { .. } => args.options.seed = None,
        _ => {}
    }
    let plan = plan.with_device(policy).with_options(args.options.clone());
    let mut manager = ModelManager::new().with_onnx_options(onnx);
    let active = manager.load(plan).map_err(|e| e.full_message())?;
    let how = match matched {
        Matched::Default { .. } => " (the default)".to_string(),
        Matched::Alias { alias } => format!(" (as `{alias}`)"),
        _ => String::new(),
    };
    let described = match &active.path {
        None if active.remote.is_some() => Described {
            model: format!(
                "{}{how} ({}, remote)",
                active.id,
                active.architecture.name()
            ),
            device: active.execution.clone(),
        },
        None => Described {
            model: format!(
                "{}{how} ({})",
                active.id,
                describe(&active.id, &args.options)
            ),
            device: None,
        },
        Some(path) => Described {
            model: format!(
                "{}{how} ({}, {})",
                active.id,
                active.architecture.name(),
                path.display()
            ),
            device: active
                .execution
                .as_ref()
                .map(|e| format!("{e} (asked: {})", args.device)),
        },
    };
    Ok((Loaded::Managed(Box::new(manager)), described))
}

/// Whether `path` is a diffusers/Optimum pipeline folder.
fn is_diffusion_folder(path: &Path) -> bool {
    path.join("model_index.json").is_file()
}

/// The `openai-compat` model, from the flags and `--config`; no connection is opened.
fn load_openai(flags: &OpenAiFlags) -> Result<(Loaded, Described), String> {
    let config = flags.config()?;
    let model = OpenAiCompat::new(config).map_err(|e| full_message(&e))?;
    let config = model.config();
    let caps = &config.budget.caps;
    let described = Described {
        model: format!(
            "openai-compat ({} at {}; caps: session {}, day {}, month {})",
            config.model,
            config.base_url,
            openai_flags::cap_text(caps.session),
            openai_flags::cap_text(caps.day),
            openai_flags::cap_text(caps.month)
        ),
        device: None,
    };
    Ok((Loaded::OpenAi(Box::new(model)), described))
}

fn device_line(model: &OnnxModel, asked: Device) -> String {
    let runtime = model.runtime();
    format!(
        "{} (asked: {asked}; ONNX Runtime {} from {})",
        model.execution(),
        runtime.version(),
        runtime.path().display()
    )
}

fn run(mut args: Args) -> Result<(), String> {
    // The model first: an unknown name or a wrong file fails before any decoding.
    let (mut loaded, described) = load(&mut args)?;
    let limits = Limits::default();
    let image = load_image(&args.image, &limits).map_err(|e| e.full_message())?;
    let (width, height) = image.dimensions();
    let mask = match &args.mask {
        Some(path) => load_mask(path, &limits).map_err(|e| e.full_message())?,
        // Outpainting: the new area is the mask.
        None => Mask::from_gray(GrayImage::new(width, height)).map_err(|e| e.full_message())?,
    };
    let extender = match args.extend {
        None => None,
        Some(Extend::Box(extender)) => Some(extender),
        Some(Extend::Margins([left, top, right, bottom])) => Some(
            CropBox::around(width, height, left, top, right, bottom)
                .map_err(|e| e.full_message())?,
        ),
    };
    let model = loaded.model()?;
    let takes_prompt = model.spec().takes_prompt;
    let mut request = args.request.clone();
    if takes_prompt {
        // A text progress bar on stderr, redrawn after each step.
        request = request.with_progress(Progress::new(|step| {
            let width = 30;
            let done = (step.step * width / step.total.max(1)) as usize;
            eprint!(
                "\rstep {:>3}/{} [{}{}] {:.1} s",
                step.step,
                step.total,
                "#".repeat(done),
                " ".repeat(width as usize - done),
                step.elapsed.as_secs_f64()
            );
            if step.step == step.total {
                eprintln!();
            }
            let _ = std::io::stderr().flush();
            ControlFlow::Continue(())
        }));
    }
    let options = InpaintOptions::new(args.hd_strategy)
        .with_request(request)
        .with_sd_mask_blur(args.mask_blur)
        .with_extender(extender);

    let started = Instant::now();
    let result = inpaint(model, &image, &mask, &options).map_err(|e| e.full_message())?;
    let elapsed = started.elapsed();
    save_image(&result, &args.output).map_err(|e| e.full_message())?;

    let filled = mask.fill_count();
    let percent = 100.0 * filled as f64 / (f64::from(width) * f64::from(height));
    println!("model:         {}", described.model);
    if let Some(device) = described.device {
        println!("device:        {device}");
    }
    println!("image:         {width}×{height}");
    match extender {
        Some(b) => {
            let (w, h) = result.dimensions();
            println!(
                "outpainted:    {w}×{h} (extender box x {}, y {}, {}×{})",
                b.x, b.y, b.width, b.height
            );
        }
        None => println!("masked pixels: {filled} ({percent:.2}%)"),
    }
    if takes_prompt {
        let r = &args.request;
        println!(
            "diffusion:     {} steps, {}, guidance {}, strength {}, seed {}",
            r.steps, r.sampler, r.guidance_scale, r.strength, r.seed
        );
    } else {
        println!("hd strategy:   {}", args.hd_strategy);
    }
    println!("time:          {:.1} ms", elapsed.as_secs_f64() * 1000.0);
    println!("output:        {}", args.output.display());
    if let Loaded::OpenAi(model) = &loaded {
        print_spending(model)?;
    }
    Ok(())
}

/// What this run's requests cost, from the ledger.
fn print_spending(model: &OpenAiCompat) -> Result<(), String> {
    let ledger = model.ledger();
    let entries = ledger.entries().map_err(|e| full_message(&e))?;
    for entry in entries.iter().filter(|e| e.session == model.session()) {
        let cost = match entry.actual {
            Some(actual) => format!("{actual} (estimated {})", entry.estimate),
            None => format!("estimated {}", entry.estimate),
        };
        println!(
            "request:       {} {} {}, {cost}",
            entry.status, entry.model, entry.size
        );
    }
    println!("ledger:        {}", ledger.path().display());
    Ok(())
}

/// The parameters a classical model ran with, defaults included.
fn describe(model: &str, options: &ModelOptions) -> String {
    match model {
        "telea" | "navier-stokes" => {
            format!("radius {}", options.radius.unwrap_or(DEFAULT_RADIUS))
        }
        "patchmatch" => {
            let defaults = inpaint_models::patchmatch::PatchMatchOptions::default();
            format!(
                "patch size {}, seed {}",
                options.patch_size.unwrap_or(defaults.patch_size),
                options.seed.unwrap_or(defaults.seed)
            )
        }
        _ => "defaults".into(),
    }
}

fn main() -> ExitCode {
    let args = parse_args();
    logs::init();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

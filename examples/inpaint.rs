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
//! Reads PNG, JPEG (EXIF orientation applied), WebP, GIF (first frame) and BMP; writes by the
//! output's extension. The mask is white (> 127) where the image is to be filled.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use inpaint_core::io::{load_image, load_mask, save_image};
use inpaint_core::{HdStrategy, InpaintModel, InpaintOptions, Limits, inpaint};
use inpaint_models::onnx::{
    Architecture, Device, DevicePolicy, OnnxModel, OnnxOptions, OutputRange, RuntimeSearch,
};
use inpaint_models::{ModelOptions, classical::DEFAULT_RADIUS};
use inpaint_registry::{
    CATALOG, DEFAULT_MODEL, LoadPlan, Matched, ModelArchitecture, ModelManager, ModelRoot,
    Registry, Scanner,
};

const USAGE: &str = "usage: inpaint --image IN --mask MASK --output OUT [--model ID] \
[--model-dir D] [--device NAME] [--radius N] [--patch-size N] [--seed N] \
[--hd-strategy original|resize|crop]
       inpaint --model-file PATH.onnx --arch lama|lama-dynamic|migan|migan-pipeline|mat|fcf \
[--device cpu|cuda|tensorrt|coreml|directml|openvino|rocm|auto] [--ort-lib PATH] \
[--output-range 0-1|0-255] [--seed N] [--hd-strategy …] --image IN --mask MASK --output OUT";

struct Args {
    image: PathBuf,
    mask: PathBuf,
    output: PathBuf,
    /// The model by name; `None` is the default model.
    model: Option<String>,
    model_dir: Option<PathBuf>,
    /// The model as an ONNX file and its architecture.
    file: Option<(PathBuf, Architecture)>,
    device: Device,
    /// Classical models' parameters.
    options: ModelOptions,
    /// ONNX models' settings (runtime, output range; the seed is moved here for them).
    onnx: OnnxOptions,
    hd_strategy: HdStrategy,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let (mut image, mut mask, mut output, mut model, mut model_dir) =
        (None, None, None, None, None);
    let (mut model_file, mut arch, mut device, mut ort_lib) = (None, None, None, None);
    let mut options = ModelOptions::new();
    let mut onnx = OnnxOptions::default();
    let mut hd_strategy = HdStrategy::default();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--image" => image = Some(PathBuf::from(value()?)),
            "--mask" => mask = Some(PathBuf::from(value()?)),
            "--output" => output = Some(PathBuf::from(value()?)),
            "--model" => model = Some(value()?),
            "--model-dir" => model_dir = Some(PathBuf::from(value()?)),
            "--model-file" => model_file = Some(PathBuf::from(value()?)),
            "--arch" => {
                arch = Some(
                    value()?
                        .parse::<Architecture>()
                        .map_err(|e| e.to_string())?,
                )
            }
            "--device" => device = Some(value()?.parse::<Device>().map_err(|e| e.to_string())?),
            "--ort-lib" => ort_lib = Some(PathBuf::from(value()?)),
            "--output-range" => {
                onnx = onnx
                    .with_output_range(value()?.parse::<OutputRange>().map_err(|e| e.to_string())?)
            }
            "--radius" => options = options.with_radius(number(&flag, &value()?)?),
            "--patch-size" => options = options.with_patch_size(number(&flag, &value()?)?),
            "--seed" => options = options.with_seed(number(&flag, &value()?)?),
            "--hd-strategy" => hd_strategy = value()?.parse().map_err(|e| format!("{e}"))?,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let missing = |name: &str| format!("{name} is required");
    let file = match (model_file, arch) {
        (Some(file), Some(arch)) => Some((file, arch)),
        (Some(_), None) => return Err(missing("--arch (with --model-file)")),
        (None, Some(_)) => return Err(missing("--model-file (with --arch)")),
        (None, None) => None,
    };
    if file.is_some() {
        if model.is_some() || model_dir.is_some() {
            return Err("--model/--model-dir and --model-file exclude each other".into());
        }
        if options.radius.is_some() || options.patch_size.is_some() {
            return Err("--radius and --patch-size apply to the classical models only".into());
        }
    }
    onnx = onnx.with_runtime(runtime_search(ort_lib));
    Ok(Some(Args {
        image: image.ok_or_else(|| missing("--image"))?,
        mask: mask.ok_or_else(|| missing("--mask"))?,
        output: output.ok_or_else(|| missing("--output"))?,
        model,
        model_dir,
        file,
        device: device.unwrap_or(Device::Cpu),
        options,
        onnx,
        hd_strategy,
    }))
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

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{flag}: `{text}` is not a valid number here"))
}

/// A loaded model: owned, or held by the registry's manager.
enum Loaded {
    Own(Box<dyn InpaintModel>),
    Managed(Box<ModelManager>),
}

impl Loaded {
    fn model(&mut self) -> Result<&mut dyn InpaintModel, String> {
        match self {
            Loaded::Own(model) => Ok(model.as_mut()),
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

fn load(args: &mut Args) -> Result<(Loaded, Described), String> {
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

    // A classical catalog model needs no scan of the model folders.
    let name = args.model.as_deref();
    let classical = inpaint_registry::catalog::resolve(name)
        .ok()
        .filter(|r| matches!(r.entry.architecture, ModelArchitecture::Classical(_)));
    let (plan, matched) = match classical {
        Some(resolved) => (
            LoadPlan::classical(resolved.entry.id).map_err(|e| e.full_message())?,
            resolved.matched,
        ),
        None => {
            let roots = match &args.model_dir {
                Some(dir) => vec![ModelRoot::project(dir)],
                None => ModelRoot::defaults_from_env(),
            };
            let discovery = Scanner::new().scan(&roots);
            let registry = Registry::new(None, Some(&discovery));
            let resolution = registry.resolve(name).map_err(|e| e.full_message())?;
            let plan = registry.plan(name).map_err(|e| e.full_message())?;
            (plan, resolution.matched)
        }
    };
    let mut onnx = args.onnx.clone();
    if matches!(plan.architecture, ModelArchitecture::Onnx { .. }) {
        // The seed of an ONNX model is MAT's noise; radius and patch size stay in the plan,
        // where the manager refuses them for an ONNX model.
        if let Some(seed) = args.options.seed.take() {
            onnx = onnx.with_seed(seed);
        }
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
    let mask = load_mask(&args.mask, &limits).map_err(|e| e.full_message())?;
    let options = InpaintOptions::new(args.hd_strategy);

    let started = Instant::now();
    let result = inpaint(loaded.model()?, &image, &mask, &options).map_err(|e| e.full_message())?;
    let elapsed = started.elapsed();
    save_image(&result, &args.output).map_err(|e| e.full_message())?;

    let (width, height) = image.dimensions();
    let filled = mask.fill_count();
    let percent = 100.0 * filled as f64 / (f64::from(width) * f64::from(height));
    println!("model:         {}", described.model);
    if let Some(device) = described.device {
        println!("device:        {device}");
    }
    println!("image:         {width}×{height}");
    println!("masked pixels: {filled} ({percent:.2}%)");
    println!("hd strategy:   {}", args.hd_strategy);
    println!("time:          {:.1} ms", elapsed.as_secs_f64() * 1000.0);
    println!("output:        {}", args.output.display());
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
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            let ids: Vec<&str> = CATALOG.iter().map(|entry| entry.id).collect();
            println!(
                "{USAGE}\nmodels: {} (default {DEFAULT_MODEL})\narchitectures: {}\ndevices: {}",
                ids.join(", "),
                Architecture::NAMES.join(", "),
                Device::NAMES.join(", ")
            );
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

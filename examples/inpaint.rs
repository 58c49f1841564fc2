//! Inpaints a photo: fills the white part of a mask from the rest of the image.
//!
//! ```text
//! cargo run --release --example inpaint -- --image IN --mask MASK --output OUT \
//!     [--model telea|navier-stokes|patchmatch] [--radius N] [--patch-size N] [--seed N] \
//!     [--hd-strategy original|resize|crop]
//!
//! cargo run --release --example inpaint -- --model-file PATH.onnx \
//!     --arch lama|lama-dynamic|migan|migan-pipeline|mat|fcf \
//!     [--device cpu|cuda|tensorrt|coreml|directml|openvino|rocm|auto] [--ort-lib PATH] \
//!     [--output-range 0-1|0-255] [--seed N] --image IN --mask MASK --output OUT
//! ```
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
use inpaint_models::{
    DEFAULT_MODEL, MODEL_NAMES, ModelOptions, by_name, classical::DEFAULT_RADIUS,
};

const USAGE: &str = "usage: inpaint --image IN --mask MASK --output OUT \
[--model telea|navier-stokes|patchmatch] [--radius N] [--patch-size N] [--seed N] \
[--hd-strategy original|resize|crop]
       inpaint --model-file PATH.onnx --arch lama|lama-dynamic|migan|migan-pipeline|mat|fcf \
[--device cpu|cuda|tensorrt|coreml|directml|openvino|rocm|auto] [--ort-lib PATH] \
[--output-range 0-1|0-255] [--seed N] [--hd-strategy …] --image IN --mask MASK --output OUT";

struct Args {
    image: PathBuf,
    mask: PathBuf,
    output: PathBuf,
    model: String,
    options: ModelOptions,
    hd_strategy: HdStrategy,
    /// Set when the model is an ONNX file.
    onnx: Option<OnnxArgs>,
}

struct OnnxArgs {
    file: PathBuf,
    arch: Architecture,
    device: Device,
    options: OnnxOptions,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let (mut image, mut mask, mut output) = (None, None, None);
    let mut model = DEFAULT_MODEL.to_owned();
    let mut options = ModelOptions::new();
    let mut hd_strategy = HdStrategy::default();
    let (mut model_file, mut arch, mut device, mut ort_lib, mut output_range) =
        (None, None, None, None, None);
    let mut model_named = false;
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--image" => image = Some(PathBuf::from(value()?)),
            "--mask" => mask = Some(PathBuf::from(value()?)),
            "--output" => output = Some(PathBuf::from(value()?)),
            "--model" => {
                model = value()?;
                model_named = true;
            }
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
                output_range = Some(value()?.parse::<OutputRange>().map_err(|e| e.to_string())?)
            }
            "--radius" => {
                let v = value()?;
                let radius = v
                    .parse()
                    .map_err(|_| format!("--radius: `{v}` is not a number"))?;
                options = options.with_radius(radius);
            }
            "--patch-size" => {
                let v = value()?;
                let size = v
                    .parse()
                    .map_err(|_| format!("--patch-size: `{v}` is not a positive integer"))?;
                options = options.with_patch_size(size);
            }
            "--seed" => {
                let v = value()?;
                let seed = v
                    .parse()
                    .map_err(|_| format!("--seed: `{v}` is not a non-negative integer"))?;
                options = options.with_seed(seed);
            }
            "--hd-strategy" => hd_strategy = value()?.parse().map_err(|e| format!("{e}"))?,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let missing = |name: &str| format!("{name} is required");
    let onnx = match (model_file, arch) {
        (Some(file), Some(arch)) => {
            if model_named {
                return Err("--model and --model-file exclude each other".into());
            }
            if options.radius.is_some() || options.patch_size.is_some() {
                return Err("--radius and --patch-size apply to the classical models only".into());
            }
            let device = device.unwrap_or(Device::Cpu);
            let mut runtime = RuntimeSearch::from_env();
            if let Some(path) = ort_lib {
                runtime = runtime.with_library(path);
            }
            let mut onnx = OnnxOptions::default()
                .with_runtime(runtime)
                .with_device(DevicePolicy::for_flag(device));
            if let Some(range) = output_range {
                onnx = onnx.with_output_range(range);
            }
            if let Some(seed) = options.seed.take() {
                onnx = onnx.with_seed(seed);
            }
            Some(OnnxArgs {
                file,
                arch,
                device,
                options: onnx,
            })
        }
        (Some(_), None) => return Err(missing("--arch (with --model-file)")),
        (None, Some(_)) => return Err(missing("--model-file (with --arch)")),
        (None, None) => {
            if device.is_some() || ort_lib.is_some() || output_range.is_some() {
                return Err(
                    "--device, --ort-lib and --output-range apply to --model-file only".into(),
                );
            }
            None
        }
    };
    Ok(Some(Args {
        image: image.ok_or_else(|| missing("--image"))?,
        mask: mask.ok_or_else(|| missing("--mask"))?,
        output: output.ok_or_else(|| missing("--output"))?,
        model,
        options,
        hd_strategy,
        onnx,
    }))
}

fn run(args: Args) -> Result<(), inpaint_core::Error> {
    // The model first: an unknown name or a wrong file fails before any decoding.
    let (mut model, description, device): (Box<dyn InpaintModel>, String, Option<String>) =
        match &args.onnx {
            None => (
                by_name(&args.model, &args.options)?,
                format!("{} ({})", args.model, describe(&args.model, &args.options)),
                None,
            ),
            Some(onnx) => {
                let model = OnnxModel::load(&onnx.file, onnx.arch, &onnx.options)?;
                let runtime = model.runtime();
                let device = format!(
                    "{} (asked: {}; ONNX Runtime {} from {})",
                    model.execution(),
                    onnx.device,
                    runtime.version(),
                    runtime.path().display()
                );
                let description = format!("{} ({})", onnx.arch, onnx.file.display());
                (Box::new(model), description, Some(device))
            }
        };
    let limits = Limits::default();
    let image = load_image(&args.image, &limits)?;
    let mask = load_mask(&args.mask, &limits)?;
    let options = InpaintOptions::new(args.hd_strategy);

    let started = Instant::now();
    let result = inpaint(&mut model, &image, &mask, &options)?;
    let elapsed = started.elapsed();
    save_image(&result, &args.output)?;

    let (width, height) = image.dimensions();
    let filled = mask.fill_count();
    let percent = 100.0 * filled as f64 / (f64::from(width) * f64::from(height));
    println!("model:         {description}");
    if let Some(device) = device {
        println!("device:        {device}");
    }
    println!("image:         {width}×{height}");
    println!("masked pixels: {filled} ({percent:.2}%)");
    println!("hd strategy:   {}", args.hd_strategy);
    println!("time:          {:.1} ms", elapsed.as_secs_f64() * 1000.0);
    println!("output:        {}", args.output.display());
    Ok(())
}

/// The parameters the model ran with, defaults included.
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
            println!(
                "{USAGE}\nmodels: {} (default {DEFAULT_MODEL})\narchitectures: {}\ndevices: {}",
                MODEL_NAMES.join(", "),
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
        Err(error) => {
            eprintln!("error: {}", error.full_message());
            ExitCode::FAILURE
        }
    }
}

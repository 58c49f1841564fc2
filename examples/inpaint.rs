//! Inpaints a photo: fills the white part of a mask from the rest of the image.
//!
//! ```text
//! cargo run --release --example inpaint -- --image IN --mask MASK --output OUT \
//!     [--model telea|navier-stokes|patchmatch] [--radius N] [--patch-size N] [--seed N] \
//!     [--hd-strategy original|resize|crop]
//! ```
//!
//! Reads PNG, JPEG (EXIF orientation applied), WebP, GIF (first frame) and BMP; writes by the
//! output's extension. The mask is white (> 127) where the image is to be filled.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use inpaint_core::io::{load_image, load_mask, save_image};
use inpaint_core::{HdStrategy, InpaintOptions, Limits, inpaint};
use inpaint_models::{
    DEFAULT_MODEL, MODEL_NAMES, ModelOptions, by_name, classical::DEFAULT_RADIUS,
};

const USAGE: &str = "usage: inpaint --image IN --mask MASK --output OUT \
[--model telea|navier-stokes|patchmatch] [--radius N] [--patch-size N] [--seed N] \
[--hd-strategy original|resize|crop]";

struct Args {
    image: PathBuf,
    mask: PathBuf,
    output: PathBuf,
    model: String,
    options: ModelOptions,
    hd_strategy: HdStrategy,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let (mut image, mut mask, mut output) = (None, None, None);
    let mut model = DEFAULT_MODEL.to_owned();
    let mut options = ModelOptions::new();
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
            "--model" => model = value()?,
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
    Ok(Some(Args {
        image: image.ok_or_else(|| missing("--image"))?,
        mask: mask.ok_or_else(|| missing("--mask"))?,
        output: output.ok_or_else(|| missing("--output"))?,
        model,
        options,
        hd_strategy,
    }))
}

fn run(args: Args) -> Result<(), inpaint_core::Error> {
    // The model first: an unknown name fails before any decoding.
    let mut model = by_name(&args.model, &args.options)?;
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
    println!(
        "model:         {} ({})",
        args.model,
        describe(&args.model, &args.options)
    );
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
                "{USAGE}\nmodels: {} (default {DEFAULT_MODEL})",
                MODEL_NAMES.join(", ")
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

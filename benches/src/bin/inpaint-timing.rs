//! Times `inpaint_core::inpaint` with a classical model on one image, for
//! `benches/compare_opencv.py`.
//!
//! ```text
//! inpaint-timing --image P --mask P --model NAME [--radius R] [--patch-size N] [--seed N] [--repeat N]
//!                [--output P] [--hd-strategy original|resize|crop] [--in-place]
//! ```
//!
//! `--in-place` times `inpaint_in_place` instead, on a fresh copy of the image each run (the
//! copy is not timed): the pipeline without the cost of allocating the output.
//!
//! Loads the image and mask once, runs the whole pipeline `N` times, and prints one JSON line:
//! `{"model":"telea","width":512,"height":512,"runs":5,"ms_min":12.3,"ms_median":12.9}`.
//! With `--output`, saves the last result. Errors: one line on stderr, exit code 1.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use inpaint_core::io::{load_image, load_mask, save_image};
use inpaint_core::{HdStrategy, InpaintOptions, Limits, inpaint, inpaint_in_place};
use inpaint_models::ModelOptions;

const USAGE: &str = "usage: inpaint-timing --image P --mask P --model NAME [--patch-size N] [--seed N] \
                     [--radius R] [--repeat N] [--output P] [--hd-strategy original|resize|crop] [--in-place]";

/// The parsed command line.
struct Args {
    image: PathBuf,
    mask: PathBuf,
    model: String,
    options: ModelOptions,
    repeat: usize,
    output: Option<PathBuf>,
    hd_strategy: HdStrategy,
    in_place: bool,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("inpaint-timing: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse_args(std::env::args().skip(1))?;
    let mut model =
        inpaint_models::by_name(&args.model, &args.options).map_err(|e| e.to_string())?;
    let limits = Limits::default();
    let image = load_image(&args.image, &limits).map_err(|e| e.to_string())?;
    let mask = load_mask(&args.mask, &limits).map_err(|e| e.to_string())?;
    let options = InpaintOptions::new(args.hd_strategy);

    let mut times_ms = Vec::new();
    let mut last = None;
    for _ in 0..args.repeat {
        let (out, elapsed) = if args.in_place {
            let mut out = image.clone();
            let start = Instant::now();
            inpaint_in_place(&mut *model, &mut out, &mask, &options).map_err(|e| e.to_string())?;
            (out, start.elapsed())
        } else {
            let start = Instant::now();
            let out = inpaint(&mut *model, &image, &mask, &options).map_err(|e| e.to_string())?;
            (out, start.elapsed())
        };
        times_ms.push(elapsed.as_secs_f64() * 1e3);
        last = Some(out);
    }
    if let (Some(path), Some(out)) = (&args.output, &last) {
        save_image(out, path).map_err(|e| e.to_string())?;
    }

    times_ms.sort_by(f64::total_cmp);
    let (width, height) = image.dimensions();
    println!(
        "{{\"model\":\"{}\",\"width\":{width},\"height\":{height},\"runs\":{},\
         \"ms_min\":{:.3},\"ms_median\":{:.3}}}",
        args.model,
        args.repeat,
        times_ms[0],
        median(&times_ms),
    );
    Ok(())
}

/// The median of sorted, non-empty values (the mean of the middle two for an even count).
fn median(sorted: &[f64]) -> f64 {
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut image, mut mask, mut model, mut output) = (None, None, None, None);
    let (mut options, mut repeat, mut hd_strategy) = (ModelOptions::new(), 1, HdStrategy::Original);
    let mut in_place = false;
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.into());
        }
        if flag == "--in-place" {
            in_place = true;
            continue;
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))?;
        match flag.as_str() {
            "--image" => image = Some(PathBuf::from(value)),
            "--mask" => mask = Some(PathBuf::from(value)),
            "--model" => model = Some(value),
            "--output" => output = Some(PathBuf::from(value)),
            "--radius" => {
                let radius = value
                    .parse()
                    .map_err(|_| format!("--radius: `{value}` is not a number"))?;
                options = options.with_radius(radius);
            }
            "--repeat" => {
                repeat = value
                    .parse()
                    .ok()
                    .filter(|&n: &usize| n > 0)
                    .ok_or_else(|| format!("--repeat: `{value}` is not a positive integer"))?;
            }
            "--patch-size" => {
                let size = value
                    .parse()
                    .map_err(|_| format!("--patch-size: `{value}` is not a positive integer"))?;
                options = options.with_patch_size(size);
            }
            "--seed" => {
                let seed = value
                    .parse()
                    .map_err(|_| format!("--seed: `{value}` is not a non-negative integer"))?;
                options = options.with_seed(seed);
            }
            "--hd-strategy" => hd_strategy = value.parse().map_err(|e| format!("{e}"))?,
            other => return Err(format!("unknown option `{other}`; {USAGE}")),
        }
    }
    let missing = |name: &str| format!("{name} is required; {USAGE}");
    Ok(Args {
        image: image.ok_or_else(|| missing("--image"))?,
        mask: mask.ok_or_else(|| missing("--mask"))?,
        model: model.ok_or_else(|| missing("--model"))?,
        options,
        repeat,
        output,
        hd_strategy,
        in_place,
    })
}

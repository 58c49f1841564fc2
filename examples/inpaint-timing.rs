//! Times `inpaint_core::inpaint` on one image, for `benches/compare_opencv.py`,
//! `benches/compare_pypatchmatch.py` and `benches/compare_torch.py`.
//!
//! ```text
//! inpaint-timing --image P --mask P (--model NAME | --model-file P.onnx --arch A) [--radius R]
//!                [--patch-size N] [--seed N] [--repeat N] [--output P]
//!                [--hd-strategy original|resize|crop] [--in-place]
//!                [--device D] [--intra-threads N] [--opt-level 0-3] [--output-range 0-1|0-255]
//!                [--serve]
//! ```
//!
//! `--model-file` with `--arch` loads an ONNX graph on ONNX Runtime (found as the examples find
//! it: `ORT_DYLIB_PATH`, then `.runtime/onnxruntime`), with the session options given.
//!
//! `--serve` keeps the loaded model for a driver that alternates it with other programs: after
//! loading it prints `ready`, then runs the pipeline once per line read on stdin and prints that
//! run's JSON line, until stdin closes. Each JSON line also has `session_ms`, the time inside
//! ONNX Runtime's `run` (ONNX models only).
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
use inpaint_core::{HdStrategy, InpaintModel, InpaintOptions, Limits, inpaint, inpaint_in_place};
use inpaint_models::ModelOptions;
use inpaint_models::onnx::{
    Architecture, Device, DevicePolicy, OnnxModel, OnnxOptions, OutputRange, SessionOptions,
};

const USAGE: &str = "usage: inpaint-timing --image P --mask P (--model NAME | --model-file P.onnx --arch A) \
                     [--patch-size N] [--seed N] [--radius R] [--repeat N] [--output P] \
                     [--hd-strategy original|resize|crop] [--in-place] [--device D] [--intra-threads N] \
                     [--opt-level 0-3] [--output-range 0-1|0-255] [--serve]";

/// An ONNX graph to load instead of a named model.
struct OnnxArgs {
    file: PathBuf,
    arch: Architecture,
    options: OnnxOptions,
}

/// The parsed command line.
struct Args {
    image: PathBuf,
    mask: PathBuf,
    model: String,
    onnx: Option<OnnxArgs>,
    options: ModelOptions,
    serve: bool,
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
    let mut model = Loaded::new(&args)?;
    let limits = Limits::default();
    let image = load_image(&args.image, &limits).map_err(|e| e.to_string())?;
    let mask = load_mask(&args.mask, &limits).map_err(|e| e.to_string())?;
    let options = InpaintOptions::new(args.hd_strategy);
    if args.serve {
        return serve(&args, &mut model, &image, &mask, &options);
    }

    let mut times_ms = Vec::new();
    let mut last = None;
    let session_before = model.session_ms();
    for _ in 0..args.repeat {
        let (out, elapsed) = if args.in_place {
            let mut out = image.clone();
            let start = Instant::now();
            inpaint_in_place(model.get(), &mut out, &mask, &options).map_err(|e| e.to_string())?;
            (out, start.elapsed())
        } else {
            let start = Instant::now();
            let out = inpaint(model.get(), &image, &mask, &options).map_err(|e| e.to_string())?;
            (out, start.elapsed())
        };
        times_ms.push(elapsed.as_secs_f64() * 1e3);
        last = Some(out);
    }
    if let (Some(path), Some(out)) = (&args.output, &last) {
        save_image(out, path).map_err(|e| e.to_string())?;
    }

    let session_ms = (model.session_ms() - session_before) / args.repeat as f64;
    times_ms.sort_by(f64::total_cmp);
    let (width, height) = image.dimensions();
    println!(
        "{{\"model\":\"{}\",\"width\":{width},\"height\":{height},\"runs\":{},\
         \"ms_min\":{:.3},\"ms_median\":{:.3},\"session_ms\":{session_ms:.3}}}",
        args.model,
        args.repeat,
        times_ms[0],
        median(&times_ms),
    );
    Ok(())
}

/// A named model, or an ONNX graph (which also counts the time inside ONNX Runtime).
enum Loaded {
    Named(Box<dyn InpaintModel + Send>),
    Onnx(Box<OnnxModel>),
}

impl Loaded {
    fn new(args: &Args) -> Result<Self, String> {
        match &args.onnx {
            Some(onnx) => OnnxModel::load(&onnx.file, onnx.arch, &onnx.options)
                .map(|m| Loaded::Onnx(Box::new(m)))
                .map_err(|e| e.full_message()),
            None => inpaint_models::by_name(&args.model, &args.options)
                .map(Loaded::Named)
                .map_err(|e| e.to_string()),
        }
    }

    fn get(&mut self) -> &mut dyn InpaintModel {
        match self {
            Loaded::Named(model) => model.as_mut(),
            Loaded::Onnx(model) => model.as_mut(),
        }
    }

    /// Time spent inside ONNX Runtime's `run` so far, in ms (0 for other models).
    fn session_ms(&self) -> f64 {
        match self {
            Loaded::Named(_) => 0.0,
            Loaded::Onnx(model) => model.session_time().as_secs_f64() * 1e3,
        }
    }
}

/// One run per line read on stdin, each printed as it ends (see the module docs).
fn serve(
    args: &Args,
    model: &mut Loaded,
    image: &inpaint_core::Image,
    mask: &inpaint_core::Mask,
    options: &InpaintOptions,
) -> Result<(), String> {
    use std::io::{BufRead, Write};
    let execution = match model {
        Loaded::Onnx(m) => m.execution().to_string(),
        Loaded::Named(_) => "cpu".to_string(),
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "ready {execution}").map_err(|e| e.to_string())?;
    stdout.flush().map_err(|e| e.to_string())?;
    for line in std::io::stdin().lock().lines() {
        line.map_err(|e| e.to_string())?;
        let before = model.session_ms();
        let start = Instant::now();
        let out = inpaint(model.get(), image, mask, options).map_err(|e| e.to_string())?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        let session_ms = model.session_ms() - before;
        if let Some(path) = &args.output {
            save_image(&out, path).map_err(|e| e.to_string())?;
        }
        writeln!(stdout, "{{\"ms\":{ms:.3},\"session_ms\":{session_ms:.3}}}")
            .map_err(|e| e.to_string())?;
        stdout.flush().map_err(|e| e.to_string())?;
    }
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
    let (mut in_place, mut serve) = (false, false);
    let (mut model_file, mut arch) = (None, None);
    let mut onnx = OnnxOptions::default();
    let mut session = SessionOptions::default();
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.into());
        }
        if flag == "--in-place" || flag == "--serve" {
            in_place |= flag == "--in-place";
            serve |= flag == "--serve";
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
            "--model-file" => model_file = Some(PathBuf::from(value)),
            "--arch" => {
                arch = Some(
                    value
                        .parse::<Architecture>()
                        .map_err(|e| format!("--arch: {e}"))?,
                );
            }
            "--device" => {
                let device: Device = value.parse().map_err(|e| format!("--device: {e}"))?;
                onnx = onnx.with_device(DevicePolicy::for_flag(device));
            }
            "--output-range" => {
                let range: OutputRange =
                    value.parse().map_err(|e| format!("--output-range: {e}"))?;
                onnx = onnx.with_output_range(range);
            }
            "--intra-threads" => {
                let threads = value
                    .parse()
                    .map_err(|_| format!("--intra-threads: `{value}` is not a count"))?;
                session = session.with_intra_threads(threads);
            }
            "--opt-level" => {
                let level = value
                    .parse()
                    .ok()
                    .filter(|&l: &u8| l <= 3)
                    .ok_or_else(|| format!("--opt-level: `{value}` is not 0 to 3"))?;
                session = session.with_optimization_level(level);
            }
            other => return Err(format!("unknown option `{other}`; {USAGE}")),
        }
    }
    let missing = |name: &str| format!("{name} is required; {USAGE}");
    let onnx = match (model_file, arch, &model) {
        (Some(file), Some(arch), None) => Some(OnnxArgs {
            file,
            arch,
            options: onnx.with_session(session),
        }),
        (None, None, Some(_)) => None,
        (Some(_), None, _) => return Err(missing("--arch (with --model-file)")),
        (None, Some(_), _) => return Err(missing("--model-file (with --arch)")),
        (Some(_), Some(_), Some(_)) => {
            return Err(format!("give --model or --model-file, not both; {USAGE}"));
        }
        (None, None, None) => return Err(missing("--model or --model-file")),
    };
    let model = match (&onnx, model) {
        (Some(onnx), _) => onnx.arch.to_string(),
        (None, model) => model.unwrap_or_default(),
    };
    Ok(Args {
        image: image.ok_or_else(|| missing("--image"))?,
        mask: mask.ok_or_else(|| missing("--mask"))?,
        model,
        onnx,
        serve,
        options,
        repeat,
        output,
        hd_strategy,
        in_place,
    })
}

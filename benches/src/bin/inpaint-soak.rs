//! Soak test: one loaded model, many runs, resident memory flat after warm-up.
//!
//! ```text
//! inpaint-soak (--model NAME | --model-file F --arch A) [--runs N] [--size WxH]
//!              [--hd-strategy original|resize|crop] [--warmup N] [--every N] [--max-growth-kib K]
//! ```
//!
//! Loads the model once (a classical one by name, or an ONNX file with its architecture; ONNX
//! Runtime is found as the `inpaint` example finds it, `ORT_DYLIB_PATH` included), generates a
//! photo and a mask (`inpaint_benches::photo`, `blobs_mask` at 10 %), and runs the whole
//! pipeline `N` times (default 1000) on them. Every `--every` runs (default 100) it reads the
//! resident set size (`VmRSS` in `/proc/self/status`) and prints one JSON line; at the end, a
//! summary line:
//!
//! ```text
//! {"sample":true,"run":100,"rss_kib":25432}
//! {"model":"telea","width":512,"height":512,"runs":1000,"warmup":100,"rss_start_kib":…,
//!  "rss_warmup_kib":…,"rss_end_kib":…,"rss_max_kib":…,"growth_kib":…,"max_growth_kib":2048,
//!  "ms_mean":…,"pass":true}
//! ```
//!
//! `growth_kib` is the largest RSS sampled after the warm-up minus the RSS at the end of the
//! warm-up (run `--warmup`, default 100). The program exits with code 1 when it exceeds
//! `--max-growth-kib` (default 2048: a leak of one 512×512 float tensor, 3 MiB, per run, or of
//! 2.3 KiB per run over 900 runs, fails; the allocator's own fluctuation, which is well under
//! 1 MiB here, passes). Also exit code 1 when an inpaint fails; errors are one line on stderr.
//! Linux only (`/proc`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use inpaint_benches::{blobs_mask, photo};
use inpaint_core::{HdStrategy, Image, InpaintModel, InpaintOptions, Mask, inpaint};
use inpaint_models::ModelOptions;
use inpaint_models::onnx::{Architecture, OnnxModel, OnnxOptions, RuntimeSearch};

const USAGE: &str = "usage: inpaint-soak (--model NAME | --model-file F --arch A) [--runs N] \
                     [--size WxH] [--hd-strategy original|resize|crop] [--warmup N] [--every N] \
                     [--max-growth-kib K]";

/// The parsed command line.
struct Args {
    model: Option<String>,
    model_file: Option<(PathBuf, Architecture)>,
    runs: usize,
    width: u32,
    height: u32,
    hd_strategy: HdStrategy,
    warmup: usize,
    every: usize,
    max_growth_kib: u64,
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("inpaint-soak: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The resident set size, in KiB, from `/proc/self/status`.
fn rss_kib() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS line in /proc/self/status".into())
}

fn run() -> Result<bool, String> {
    let args = parse_args(std::env::args().skip(1))?;
    let rss_start = rss_kib()?;
    let (mut model, name): (Box<dyn InpaintModel>, String) = match (&args.model, &args.model_file) {
        (Some(name), None) => (
            inpaint_models::by_name(name, &ModelOptions::new()).map_err(|e| e.full_message())?,
            name.clone(),
        ),
        (None, Some((path, arch))) => {
            let options = OnnxOptions::default().with_runtime(RuntimeSearch::from_env());
            let model = OnnxModel::load(path, *arch, &options).map_err(|e| e.full_message())?;
            let file = path.file_name().map_or_else(
                || path.display().to_string(),
                |f| f.to_string_lossy().into_owned(),
            );
            (Box::new(model), format!("{arch} ({file})"))
        }
        _ => return Err(format!("give --model or --model-file with --arch; {USAGE}")),
    };
    let image = Image::from_rgb(photo(args.width, args.height, 1)).map_err(|e| e.to_string())?;
    let mask =
        Mask::from_gray(blobs_mask(args.width, args.height, 0.1, 2)).map_err(|e| e.to_string())?;
    let options = InpaintOptions::new(args.hd_strategy);

    let mut rss_warmup = None;
    let mut rss_max_after = 0;
    let mut rss_end = 0;
    let started = Instant::now();
    for run in 1..=args.runs {
        let out = inpaint(&mut *model, &image, &mask, &options).map_err(|e| e.full_message())?;
        drop(out);
        if run % args.every == 0 || run == args.warmup || run == args.runs {
            let rss = rss_kib()?;
            println!("{{\"sample\":true,\"run\":{run},\"rss_kib\":{rss}}}");
            if run == args.warmup {
                rss_warmup = Some(rss);
            } else if run > args.warmup {
                rss_max_after = rss_max_after.max(rss);
            }
            rss_end = rss;
        }
    }
    let elapsed = started.elapsed();
    let rss_warmup = rss_warmup.unwrap_or(rss_end);
    let growth = rss_max_after.saturating_sub(rss_warmup);
    let pass = growth <= args.max_growth_kib;
    println!(
        "{{\"model\":\"{name}\",\"width\":{},\"height\":{},\"hd_strategy\":\"{}\",\"runs\":{},\
         \"warmup\":{},\"rss_start_kib\":{rss_start},\"rss_warmup_kib\":{rss_warmup},\
         \"rss_end_kib\":{rss_end},\"rss_max_kib\":{},\"growth_kib\":{growth},\
         \"max_growth_kib\":{},\"ms_mean\":{:.3},\"pass\":{pass}}}",
        args.width,
        args.height,
        args.hd_strategy,
        args.runs,
        args.warmup,
        rss_max_after.max(rss_warmup),
        args.max_growth_kib,
        elapsed.as_secs_f64() * 1e3 / args.runs as f64,
    );
    if !pass {
        eprintln!(
            "inpaint-soak: resident memory grew by {growth} KiB after the warm-up \
             (limit {} KiB)",
            args.max_growth_kib
        );
    }
    Ok(pass)
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        model: None,
        model_file: None,
        runs: 1000,
        width: 512,
        height: 512,
        hd_strategy: HdStrategy::Crop,
        warmup: 100,
        every: 100,
        max_growth_kib: 2048,
    };
    let mut file = None;
    let mut arch = None;
    let positive = |flag: &str, value: &str| {
        value
            .parse()
            .ok()
            .filter(|&n: &usize| n > 0)
            .ok_or_else(|| format!("{flag}: `{value}` is not a positive integer"))
    };
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.into());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))?;
        match flag.as_str() {
            "--model" => parsed.model = Some(value),
            "--model-file" => file = Some(PathBuf::from(value)),
            "--arch" => {
                arch = Some(value.parse::<Architecture>().map_err(|e| e.to_string())?);
            }
            "--runs" => parsed.runs = positive(&flag, &value)?,
            "--warmup" => parsed.warmup = positive(&flag, &value)?,
            "--every" => parsed.every = positive(&flag, &value)?,
            "--max-growth-kib" => {
                parsed.max_growth_kib = value
                    .parse()
                    .map_err(|_| format!("--max-growth-kib: `{value}` is not a number"))?;
            }
            "--size" => {
                let (w, h) = value
                    .split_once('x')
                    .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
                    .filter(|&(w, h): &(u32, u32)| w > 0 && h > 0)
                    .ok_or_else(|| format!("--size: `{value}` is not WxH"))?;
                (parsed.width, parsed.height) = (w, h);
            }
            "--hd-strategy" => parsed.hd_strategy = value.parse().map_err(|e| format!("{e}"))?,
            other => return Err(format!("unknown option `{other}`; {USAGE}")),
        }
    }
    match (file, arch) {
        (Some(file), Some(arch)) => parsed.model_file = Some((file, arch)),
        (None, None) => {}
        _ => return Err(format!("--model-file and --arch go together; {USAGE}")),
    }
    if parsed.warmup >= parsed.runs {
        return Err(format!(
            "--warmup ({}) must be below --runs ({})",
            parsed.warmup, parsed.runs
        ));
    }
    Ok(parsed)
}

//! Times Stable Diffusion steps (SD 1.5 or SDXL) on an Optimum ONNX folder, for
//! `benches/compare_diffusion.py`.
//!
//! ```text
//! sd-steps DIR [--size N] [--steps N] [--threads N] [--guidance G] [--two-calls] [--low-memory]
//!     [--no-cpu-arena]
//! ```
//!
//! Loads the folder on the CPU with `--threads` intra-op threads (default 2), inpaints a
//! synthetic `N×N` photo (default 512) with a centred square hole, Euler, seed 1, and prints one
//! JSON line: load time, the run's wall time, the time inside ONNX Runtime's `run` calls, the
//! share of wall time outside them, the seconds per step after the first (the first also
//! encodes the prompt and the image), and the peak resident set (`VmHWM`, Linux only).
//! `--two-calls` runs guidance as two UNet calls of batch 1 instead of one of batch 2;
//! `--low-memory` loads the text encoders and the VAE only for their stage
//! (`DiffusionOptions::load_stages_on_demand`); `--no-cpu-arena` turns ONNX Runtime's CPU arena
//! off. The size must be a multiple of what the UNet takes (64 for SD 1.5, 32 for SDXL).

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inpaint_benches::photo;
use inpaint_core::{Mask, Progress, Request, Sampler};
use inpaint_models::diffusion::noise::TorchCpuNoise;
use inpaint_models::diffusion::{DiffusionOptions, GuidanceBatching, StableDiffusion};
use inpaint_models::onnx::{OnnxOptions, SessionOptions};

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or(
        "usage: sd-steps DIR [--size N] [--steps N] [--threads N] [--guidance G] [--two-calls] \
         [--low-memory] [--no-cpu-arena]",
    )?;
    let (mut size, mut steps, mut threads, mut guidance, mut two_calls) =
        (512u32, 3u32, 2usize, 7.5f32, false);
    let (mut low_memory, mut arena) = (false, true);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--size" => size = value()?.parse().map_err(|e| format!("--size: {e}"))?,
            "--steps" => steps = value()?.parse().map_err(|e| format!("--steps: {e}"))?,
            "--threads" => threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--guidance" => guidance = value()?.parse().map_err(|e| format!("--guidance: {e}"))?,
            "--two-calls" => two_calls = true,
            "--low-memory" => low_memory = true,
            "--no-cpu-arena" => arena = false,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let options = DiffusionOptions::default()
        .with_onnx(
            OnnxOptions::default().with_session(
                SessionOptions::default()
                    .with_intra_threads(threads)
                    .with_cpu_arena(arena),
            ),
        )
        .with_load_stages_on_demand(low_memory)
        .with_guidance_batching(if two_calls {
            GuidanceBatching::TwoCalls
        } else {
            GuidanceBatching::Auto
        });
    let started = Instant::now();
    let mut model = StableDiffusion::load(&dir, &options).map_err(|e| e.full_message())?;
    let load = started.elapsed();

    let image = photo(size, size, 3);
    let hole = size / 4..size * 3 / 4;
    let mask = Mask::from_gray(image::GrayImage::from_fn(size, size, |x, y| {
        image::Luma([if hole.contains(&x) && hole.contains(&y) {
            255
        } else {
            0
        }])
    }))
    .map_err(|e| e.full_message())?;
    let marks: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let seen = Arc::clone(&marks);
    let request = Request::new()
        .with_prompt("a wooden bench in a park")
        .with_steps(steps)
        .with_guidance_scale(guidance)
        .with_sampler(Sampler::Euler)
        .with_progress(Progress::new(move |step| {
            if let Ok(mut marks) = seen.lock() {
                marks.push(step.elapsed);
            }
            std::ops::ControlFlow::Continue(())
        }));
    let before = model.session_time();
    let started = Instant::now();
    model
        .generate(&image, &mask, &request, &mut TorchCpuNoise::new(1))
        .map_err(|e| e.full_message())?;
    let wall = started.elapsed();
    let session = model.session_time() - before;
    let marks = marks.lock().map_err(|e| e.to_string())?.clone();
    let per_step = match (marks.first(), marks.last()) {
        (Some(first), Some(last)) if marks.len() > 1 => {
            (*last - *first).as_secs_f64() / (marks.len() - 1) as f64
        }
        _ => f64::NAN,
    };
    println!(
        "{{\"impl\":\"ours\",\"family\":\"{}\",\"size\":{size},\"steps\":{steps},\"threads\":{threads},\
         \"guidance\":{guidance},\"two_calls\":{two_calls},\"low_memory\":{low_memory},\"cpu_arena\":{arena},\"load_s\":{:.3},\"wall_s\":{:.3},\"session_s\":{:.3},\
         \"outside_share\":{:.5},\"per_step_s\":{per_step:.3},\"first_step_s\":{:.3},\"peak_rss_mib\":{:.0}}}",
        model.family().name(),
        load.as_secs_f64(),
        wall.as_secs_f64(),
        session.as_secs_f64(),
        1.0 - session.as_secs_f64() / wall.as_secs_f64(),
        marks.first().map_or(f64::NAN, Duration::as_secs_f64),
        peak_rss_mib().unwrap_or(f64::NAN),
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

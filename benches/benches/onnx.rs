//! A big-LaMa-shaped graph (random weights, the FFC ResNet of advimman/lama's big-lama config,
//! Carve's 512×512 contract) on ONNX Runtime's CPU provider: the whole `inpaint` pipeline
//! against the bare `session.run` on the same 512×512 tensors, so that what the pipeline adds
//! (tensor preparation, cropping, resizing, padding, reading the output, pasting) shows.
//!
//! * `onnx-lama/512`: a 512² photo with a 5 % blob mask (one run, no crop, no resize).
//! * `onnx-lama/2048`: a 2048² photo with one 400² hole, Crop strategy: a 656² crop is fitted
//!   to 512², run, and resized back.
//!
//! Before criterion's samples, each case also prints the share of the end-to-end time spent
//! outside ONNX Runtime, from [`OnnxModel::session_time`] within the same runs (a direct
//! measurement, unlike the difference of two noisy criterion estimates).
//!
//! The graph is generated on first use by `benches/make_big_lama.py` into `benches/output/`
//! (about 200 MB; `--fourier matmul`, as real exports avoid ONNX's slow `DFT` op). Needs
//! ONNX Runtime (`scripts/fetch-onnxruntime.sh`) and the Python environment
//! (`scripts/python-env.sh`). Several seconds per iteration: ten samples, a few minutes.
//!
//! Two environment variables, since criterion owns the command line:
//! * `INPAINT_BENCH_DEVICE`: the device, as `--device` takes it (`cpu`, `cuda`, `tensorrt`,
//!   `cuda:1`, …; default `cpu`); required, never a silent fallback. Build with the matching
//!   feature: `cargo bench -p inpaint-benches --features cuda --bench onnx`.
//! * `INPAINT_BENCH_GRAPH`: a 512×512 `lama` graph to use instead of generating one (how
//!   `scripts/gpu-bench.sh` runs it on a machine without the Python environment).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use inpaint_benches::{blobs_mask, photo, single_hole_mask};
use inpaint_core::{HdStrategy, Image, InpaintModel, InpaintOptions, Mask, inpaint};
use inpaint_models::onnx::{Architecture, Device, DevicePolicy, OnnxModel, OnnxOptions};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ is inside the repository")
        .to_path_buf()
}

/// `INPAINT_BENCH_GRAPH`, or the generated graph, made if missing.
fn big_lama() -> PathBuf {
    if let Some(path) = std::env::var_os("INPAINT_BENCH_GRAPH") {
        return PathBuf::from(path);
    }
    let root = repository();
    let path = root.join("benches/output/big-lama-matmul.onnx");
    if !path.is_file() {
        let status = Command::new(root.join("scripts/python-env.sh"))
            .status()
            .expect("run scripts/python-env.sh");
        assert!(status.success(), "scripts/python-env.sh failed");
        let status = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("benches/make_big_lama.py"))
            .args(["--fourier", "matmul", "--out"])
            .arg(&path)
            .status()
            .expect("run benches/make_big_lama.py");
        assert!(status.success(), "benches/make_big_lama.py failed");
    }
    path
}

/// Runs `inpaint` a few times and prints the share of the time outside ONNX Runtime.
fn report_overhead(
    label: &str,
    model: &mut OnnxModel,
    image: &Image,
    mask: &Mask,
    options: &InpaintOptions,
) {
    const RUNS: u32 = 3;
    let before = model.session_time();
    let started = Instant::now();
    for _ in 0..RUNS {
        inpaint(model, image, mask, options).expect("inpaint");
    }
    let total = started.elapsed();
    let inside = model.session_time() - before;
    let outside = total.saturating_sub(inside);
    println!(
        "{label}: {:.1} ms per image, {:.1} ms outside ONNX Runtime's run ({:.2} % of run)",
        total.as_secs_f64() * 1000.0 / f64::from(RUNS),
        outside.as_secs_f64() * 1000.0 / f64::from(RUNS),
        100.0 * outside.as_secs_f64() / inside.as_secs_f64()
    );
}

fn onnx_lama(c: &mut Criterion) {
    let graph = big_lama();
    let device: Device = std::env::var("INPAINT_BENCH_DEVICE")
        .unwrap_or_else(|_| "cpu".to_string())
        .parse()
        .unwrap_or_else(|err| panic!("INPAINT_BENCH_DEVICE: {err}"));
    let options = OnnxOptions::default().with_device(DevicePolicy::for_flag(device));
    let mut model = OnnxModel::load(&graph, Architecture::Lama, &options)
        .unwrap_or_else(|err| panic!("{}", err.full_message()));
    println!(
        "ONNX Runtime {} on {}",
        model.runtime().version(),
        model.execution()
    );

    let cases = [
        (
            512u32,
            Mask::from_gray(blobs_mask(512, 512, 0.05, 2)),
            HdStrategy::Original,
        ),
        (
            2048,
            Mask::from_gray(single_hole_mask(2048, 2048, 400)),
            HdStrategy::Crop,
        ),
    ];
    // The bare run's tensors: what the pipeline feeds for the 512² case.
    let small = Image::from_rgb(photo(512, 512, 1)).expect("photo");
    let small_mask = cases[0].1.as_ref().expect("mask").clone();
    let prepared = model.prepare(small.rgb(), &small_mask).expect("prepare");

    let mut group = c.benchmark_group("onnx-lama");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        // Seconds per iteration on the CPU; milliseconds on a GPU, where 5 s is plenty.
        .measurement_time(Duration::from_secs(if device == Device::Cpu {
            40
        } else {
            5
        }));
    group.bench_function("session.run/512", |b| {
        b.iter(|| model.run_prepared(black_box(&prepared)).expect("run"))
    });
    for (size, mask, strategy) in cases {
        let mask = mask.expect("mask");
        let image = Image::from_rgb(photo(size, size, 1)).expect("photo");
        let options = InpaintOptions::new(strategy);
        report_overhead(
            &format!("inpaint/{size} ({strategy})"),
            &mut model,
            &image,
            &mask,
            &options,
        );
        group.bench_function(format!("inpaint/{size}"), |b| {
            b.iter(|| black_box(inpaint(&mut model, &image, &mask, &options).expect("inpaint")))
        });
    }
    group.finish();
    assert_eq!(model.spec().fixed_size, Some(512));
}

criterion_group!(benches, onnx_lama);
criterion_main!(benches);

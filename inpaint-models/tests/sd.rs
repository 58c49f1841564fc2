//! Stable Diffusion 1.5 and SDXL on the tiny random-weight pipelines of
//! `tests/fixtures/diffusion`, made by `scripts/make-diffusion-fixtures.py`: diffusers' real
//! UNets (9 and 4 input channels; SDXL's shrunk config), VAE and CLIP text models with random
//! weights, exported by Optimum, and diffusers' own runs on them (Optimum's
//! `ORTStableDiffusionInpaintPipeline` and `ORTStableDiffusionXLInpaintPipeline`, the latter
//! called as IOPaint's `model/sdxl.py` calls it) with every noise draw recorded.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use inpaint_core::image::RgbImage;
use inpaint_core::{
    Error, InpaintModel, InpaintOptions, Mask, Progress, Request, Sampler, inpaint,
};
use inpaint_models::diffusion::memory::MemoryLimit;
use inpaint_models::diffusion::noise::{NoiseSource, RecordedNoise, TorchCpuNoise};
use inpaint_models::diffusion::{
    DiffusionFamily, DiffusionOptions, GuidanceBatching, StableDiffusion,
};
use inpaint_models::onnx::{OnnxOptions, SessionOptions};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diffusion")
}

fn load(kind: &str) -> StableDiffusion {
    StableDiffusion::load(
        fixtures().join(format!("sd15-tiny-{kind}")),
        &DiffusionOptions::default(),
    )
    .unwrap()
}

fn manifest() -> Value {
    read_manifest("cases.json")
}

fn read_manifest(file: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join(file)).unwrap()).unwrap()
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn input() -> (RgbImage, Mask) {
    input_named("")
}

/// `{prefix}input.png` and `{prefix}mask.png`.
fn input_named(prefix: &str) -> (RgbImage, Mask) {
    let image = image::open(fixtures().join(format!("{prefix}input.png")))
        .unwrap()
        .to_rgb8();
    let mask = image::open(fixtures().join(format!("{prefix}mask.png")))
        .unwrap()
        .to_luma8();
    (image, Mask::from_gray(mask).unwrap())
}

fn shape(value: &Value) -> Vec<usize> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

/// The recorded draws of a case, each with its shape.
fn draws(case: &Value) -> Vec<(Vec<usize>, Vec<f32>)> {
    draws_in("cases", case)
}

/// The recorded draws of a case in `dir`, each with its shape.
fn draws_in(dir: &str, case: &Value) -> Vec<(Vec<usize>, Vec<f32>)> {
    let name = case["name"].as_str().unwrap();
    let all = read_f32(&fixtures().join(format!("{dir}/{name}.noise.f32")));
    let mut offset = 0;
    case["draws"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let shape = shape(s);
            let n: usize = shape.iter().product();
            offset += n;
            (shape, all[offset - n..offset].to_vec())
        })
        .collect()
}

fn request(manifest: &Value, case: &Value) -> Request {
    Request::new()
        .with_prompt(manifest["prompt"].as_str().unwrap())
        .with_negative_prompt(manifest["negative_prompt"].as_str().unwrap())
        .with_steps(case["steps"].as_u64().unwrap() as u32)
        .with_guidance_scale(case["guidance_scale"].as_f64().unwrap() as f32)
        .with_strength(case["strength"].as_f64().unwrap() as f32)
        .with_seed(case["seed"].as_u64().unwrap())
        .with_sampler(
            case["sampler"]
                .as_str()
                .unwrap()
                .parse::<Sampler>()
                .unwrap(),
        )
}

/// Runs every case of `manifest` (`sd15` or `sdxl`) on the models fed the recorded draws and
/// returns what differs from diffusers: the latents beyond 1e-3, the image beyond one level
/// on average, the number or shapes of draws.
fn compare_with_diffusers(
    family: &str,
    manifest: &Value,
    models: &mut [(&str, StableDiffusion)],
) -> Vec<String> {
    let (prefix, cases_dir) = match family {
        "sd15" => ("", "cases"),
        _ => ("sdxl-", "sdxl-cases"),
    };
    let (image, mask) = input_named(prefix);
    let mut failures = Vec::new();
    for case in manifest["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let kind = case["model"]
            .as_str()
            .unwrap()
            .trim_start_matches(&format!("{family}-tiny-"));
        let model = &mut models.iter_mut().find(|(k, _)| *k == kind).unwrap().1;
        let mut noise = RecordedNoise::new(draws_in(cases_dir, case)).unwrap();
        let result = model.generate(&image, &mask, &request(manifest, case), &mut noise);
        let (out, latents) = match result {
            Ok(out) => out,
            Err(err) => {
                failures.push(format!("{name}: {err}"));
                continue;
            }
        };
        if noise.remaining() != 0 {
            failures.push(format!("{name}: {} draws left over", noise.remaining()));
        }
        let expected = read_f32(&fixtures().join(format!("{cases_dir}/{name}.latents.f32")));
        let latent_error = latents
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let reference = image::open(fixtures().join(format!("{cases_dir}/{name}.png")))
            .unwrap()
            .to_rgb8();
        let pixel_error = mean_level_difference(&out, &reference);
        if latents.len() != expected.len() || latent_error > 1e-3 || pixel_error > 1.0 {
            failures.push(format!(
                "{name}: latents differ by {latent_error:.2e}, pixels by {pixel_error:.3} on average"
            ));
        }
    }
    failures
}

fn mean_level_difference(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| f64::from(x.abs_diff(y)))
        .sum::<f64>()
        / a.as_raw().len() as f64
}

/// Every sampler, both UNet kinds, strengths 1 and 0.6, guidance 7.5 and 1: our pipeline, fed
/// diffusers' recorded draws, ends with diffusers' latents (within 1e-3) and image (within one
/// level on average), and takes exactly as many draws, of the same shapes, in the same order.
#[test]
fn every_sampler_matches_diffusers() {
    let manifest = manifest();
    assert_eq!(manifest["cases"].as_array().unwrap().len(), 19 * 4);
    let mut models = [("inpaint", load("inpaint")), ("plain", load("plain"))];
    let failures = compare_with_diffusers("sd15", &manifest, &mut models);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn load_xl(kind: &str, options: &DiffusionOptions) -> StableDiffusion {
    StableDiffusion::load(fixtures().join(format!("sdxl-tiny-{kind}")), options).unwrap()
}

/// SDXL (`sdxl-tiny-{inpaint,plain,aesthetic}`, `sdxl-cases.json`): every sampler on the
/// 9-channel UNet at strength 1 (run as IOPaint's 0.999) with guidance 7.5 and on the 4-channel
/// UNet at 0.6 without guidance, Euler a and DPM++ 2M on the two other pairings, and two runs
/// of the aesthetic-score variant (`requires_aesthetics_score`, 5 `time_ids`) — 44 runs of
/// diffusers' SDXL inpainting pipeline, matched as for SD 1.5 (latents 1e-3, images one level
/// on average, the same draws).
#[test]
fn sdxl_every_sampler_matches_diffusers() {
    let manifest = read_manifest("sdxl-cases.json");
    assert_eq!(manifest["cases"].as_array().unwrap().len(), 19 * 2 + 4 + 2);
    let options = DiffusionOptions::default();
    let mut models = [
        ("inpaint", load_xl("inpaint", &options)),
        ("plain", load_xl("plain", &options)),
        ("aesthetic", load_xl("aesthetic", &options)),
    ];
    assert_eq!(models[0].1.family(), DiffusionFamily::Sdxl);
    assert_eq!(models[0].1.unet_channels(), 9);
    assert_eq!(models[1].1.unet_channels(), 4);
    // Three UNet levels: sides a multiple of 8 · 4; IOPaint's minimum of 512.
    assert_eq!(models[0].1.spec().pad_multiple, 32);
    assert_eq!(models[0].1.spec().min_size, Some(512));
    let failures = compare_with_diffusers("sdxl", &manifest, &mut models);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// With the text encoders and the VAE loaded only for their stage, SDXL gives the same result
/// (latents equal, image equal), only the UNet stays loaded between runs, and a second run
/// loads them again. ONNX Runtime's CPU arena turned off gives the same result too.
#[test]
fn sdxl_stages_loaded_on_demand_give_the_same_result() {
    let manifest = read_manifest("sdxl-cases.json");
    let case = &manifest["cases"][0];
    let (image, mask) = input_named("sdxl-");
    let request = request(&manifest, case);
    let run = |model: &mut StableDiffusion| {
        let mut noise = RecordedNoise::new(draws_in("sdxl-cases", case)).unwrap();
        model.generate(&image, &mask, &request, &mut noise).unwrap()
    };
    let mut resident = load_xl("inpaint", &DiffusionOptions::default());
    assert_eq!(resident.loaded_graphs().len(), 5);
    let expected = run(&mut resident);
    drop(resident);
    let mut on_demand = load_xl(
        "inpaint",
        &DiffusionOptions::default().with_load_stages_on_demand(true),
    );
    assert_eq!(on_demand.loaded_graphs(), ["unet"]);
    for _ in 0..2 {
        let got = run(&mut on_demand);
        assert_eq!(on_demand.loaded_graphs(), ["unet"]);
        assert_eq!(got.1, expected.1);
        assert_eq!(got.0, expected.0);
    }
    drop(on_demand);
    let onnx = OnnxOptions::default().with_session(SessionOptions::default().with_cpu_arena(false));
    let mut no_arena = load_xl("inpaint", &DiffusionOptions::default().with_onnx(onnx));
    let got = run(&mut no_arena);
    assert_eq!(got.1, expected.1);
}

/// A memory limit below the weights' size is refused before anything is loaded, naming what
/// was needed; the same limit passes when it covers the UNet and the largest other graph and
/// the stages load on demand; and `Unchecked` turns the check off.
#[test]
fn memory_check_refuses_before_loading() {
    let dir = fixtures().join("sdxl-tiny-plain");
    let graph = |g: &str| {
        std::fs::metadata(dir.join(g).join("model.onnx"))
            .unwrap()
            .len()
    };
    let others = [
        "text_encoder",
        "text_encoder_2",
        "vae_encoder",
        "vae_decoder",
    ]
    .map(graph);
    let all: u64 = graph("unet") + others.iter().sum::<u64>();
    let on_demand = graph("unet") + others.iter().max().unwrap();
    let limit = MemoryLimit::Bytes(on_demand);
    let err = StableDiffusion::load(&dir, &DiffusionOptions::default().with_memory_limit(limit))
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Runtime { .. }), "{message}");
    assert!(message.contains("load_stages_on_demand"), "{message}");
    assert!(all > on_demand, "{all}");
    let model = StableDiffusion::load(
        &dir,
        &DiffusionOptions::default()
            .with_memory_limit(limit)
            .with_load_stages_on_demand(true),
    )
    .unwrap();
    assert_eq!(model.loaded_graphs(), ["unet"]);
    let err = StableDiffusion::load(
        &dir,
        &DiffusionOptions::default()
            .with_memory_limit(MemoryLimit::Bytes(on_demand - 1))
            .with_load_stages_on_demand(true),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Runtime { .. }), "{err}");
    StableDiffusion::load(
        &dir,
        &DiffusionOptions::default().with_memory_limit(MemoryLimit::Unchecked),
    )
    .unwrap();
}

/// The recorded SDXL draws are the seed's draws too.
#[test]
fn sdxl_recorded_draws_are_the_seeds_draws() {
    let manifest = read_manifest("sdxl-cases.json");
    for case in manifest["cases"].as_array().unwrap() {
        let mut noise = TorchCpuNoise::new(case["seed"].as_u64().unwrap());
        for (index, (shape, recorded)) in draws_in("sdxl-cases", case).iter().enumerate() {
            let ours = noise.randn(shape).unwrap();
            let error = ours
                .iter()
                .zip(recorded)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(error < 1e-5, "{} draw {index}: {error}", case["name"]);
        }
    }
}

/// The recorded draws are what our noise source gives for the seed: with `forward` (which
/// seeds `TorchCpuNoise`), a seed gives diffusers' picture.
#[test]
fn recorded_draws_are_the_seeds_draws() {
    let manifest = manifest();
    for case in manifest["cases"].as_array().unwrap() {
        let mut noise = TorchCpuNoise::new(case["seed"].as_u64().unwrap());
        for (index, (shape, recorded)) in draws(case).iter().enumerate() {
            let ours = noise.randn(shape).unwrap();
            let error = ours
                .iter()
                .zip(recorded)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(error < 1e-5, "{} draw {index}: {error}", case["name"]);
        }
    }
}

/// Guidance run as one batch of 2 and as two calls gives the same latents.
#[test]
fn batched_and_split_guidance_agree() {
    let (image, mask) = input();
    let mut model = load("inpaint");
    let request = Request::new()
        .with_prompt("a cat")
        .with_steps(2)
        .with_sampler(Sampler::Euler);
    let run = |model: &mut StableDiffusion| {
        model
            .generate(&image, &mask, &request, &mut TorchCpuNoise::new(3))
            .unwrap()
            .1
    };
    let batched = run(&mut model);
    model.set_guidance_batching(GuidanceBatching::TwoCalls);
    let split = run(&mut model);
    let error = batched
        .iter()
        .zip(&split)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(error < 1e-4, "{error}");
}

/// A copy of a fixture folder to break.
fn broken_copy(kind: &str, tag: &str) -> PathBuf {
    let from = fixtures().join(format!("sd15-tiny-{kind}"));
    let to = std::env::temp_dir().join(format!(
        "inpaint-sd-{tag}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&to);
    for entry in walk(&from) {
        let target = to.join(entry.strip_prefix(&from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &target).unwrap();
    }
    to
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A VAE decoder where the UNet should be is refused at load, each mismatch named.
#[test]
fn wrong_contract_graph_is_refused_at_load() {
    let dir = broken_copy("inpaint", "contract");
    std::fs::copy(
        dir.join("vae_decoder/model.onnx"),
        dir.join("unet/model.onnx"),
    )
    .unwrap();
    let err = StableDiffusion::load(&dir, &DiffusionOptions::default()).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Model { .. }), "{message}");
    for expected in [
        "unet contract",
        "no input named `timestep`",
        "no output named `out_sample`",
    ] {
        assert!(message.contains(expected), "{message}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A folder without a graph, or without its tokenizer, names the missing file.
#[test]
fn missing_files_are_named() {
    for (tag, file) in [
        ("graph", "vae_encoder/model.onnx"),
        ("tokenizer", "tokenizer/merges.txt"),
        ("scheduler", "scheduler/scheduler_config.json"),
        ("index", "model_index.json"),
    ] {
        let dir = broken_copy("plain", tag);
        std::fs::remove_file(dir.join(file)).unwrap();
        let err = StableDiffusion::load(&dir, &DiffusionOptions::default()).unwrap_err();
        let message = err.full_message();
        assert!(matches!(err, Error::Io { .. }), "{message}");
        assert!(message.contains(file), "{file}: {message}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// A UNet whose output is NaN (`nan_unet.onnx`, from the same script: the 4-channel UNet's
/// contract, output `sqrt(−|x| − 1)`) makes the run an error naming the graph, not a picture.
#[test]
fn nan_output_is_an_error() {
    let dir = broken_copy("plain", "nan");
    std::fs::copy(
        fixtures().join("nan_unet.onnx"),
        dir.join("unet/model.onnx"),
    )
    .unwrap();
    let mut model = StableDiffusion::load(&dir, &DiffusionOptions::default()).unwrap();
    let (image, mask) = input();
    let request = Request::new().with_steps(2).with_sampler(Sampler::Euler);
    let result = model.generate(&image, &mask, &request, &mut TorchCpuNoise::new(1));
    match result {
        Err(err @ Error::Model { .. }) => {
            assert!(
                err.to_string()
                    .contains("unet output `out_sample` holds NaN"),
                "{err}"
            )
        }
        Err(err) => panic!("{err}"),
        Ok(_) => panic!("a NaN run returned a picture"),
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The progress callback sees every step; breaking stops the run between steps.
#[test]
fn progress_reports_each_step_and_cancels() {
    let (image, mask) = input();
    let mut model = load("inpaint");
    let seen = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&seen);
    let request = Request::new()
        .with_steps(4)
        .with_sampler(Sampler::Euler)
        .with_progress(Progress::new(move |step| {
            assert_eq!(step.total, 4);
            counter.store(step.step, Ordering::SeqCst);
            if step.step == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }));
    let err = model
        .generate(&image, &mask, &request, &mut TorchCpuNoise::new(1))
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}

/// Through the shared pipeline (padded to 512, the model's minimum): the output has the
/// input's size and every pixel outside the mask is the input's.
#[test]
fn pixels_outside_the_mask_are_unchanged() {
    let mut model = load("inpaint");
    let (width, height) = (70, 45);
    let image = RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 3) as u8, (y * 5) as u8, ((x + y) * 2) as u8])
    });
    let mask = Mask::from_gray(image::GrayImage::from_fn(width, height, |x, y| {
        image::Luma([if (20..50).contains(&x) && (10..30).contains(&y) {
            255
        } else {
            0
        }])
    }))
    .unwrap();
    let options = InpaintOptions::default().with_request(
        Request::new()
            .with_steps(2)
            .with_sampler(Sampler::Euler)
            .with_guidance_scale(1.0),
    );
    let out = inpaint(
        &mut model,
        &inpaint_core::Image::from_rgb(image.clone()).unwrap(),
        &mask,
        &options,
    )
    .unwrap();
    let out = out.rgb();
    assert_eq!(out.dimensions(), image.dimensions());
    let mut changed_inside = 0;
    for (x, y, pixel) in out.enumerate_pixels() {
        if mask.as_gray().get_pixel(x, y).0[0] == 0 {
            assert_eq!(pixel, image.get_pixel(x, y), "({x}, {y})");
        } else if pixel != image.get_pixel(x, y) {
            changed_inside += 1;
        }
    }
    assert!(changed_inside > 0, "the model painted nothing");
}

/// The float16 path: `sd15-tiny-inpaint-fp16` is the inpainting folder converted to float16 by
/// the same script (ONNX Runtime's converter). It loads as float16 and ends within a level of
/// the float32 pipeline's image on average, same seed.
#[test]
fn float16_folder_runs_and_agrees_with_float32() {
    let (image, mask) = input();
    let mut fp16 = StableDiffusion::load(
        fixtures().join("sd15-tiny-inpaint-fp16"),
        &DiffusionOptions::default(),
    )
    .unwrap();
    assert!(fp16.is_f16());
    let mut fp32 = load("inpaint");
    assert!(!fp32.is_f16());
    let request = Request::new()
        .with_prompt("a cat")
        .with_steps(2)
        .with_sampler(Sampler::Euler);
    let run = |model: &mut StableDiffusion| {
        model
            .generate(&image, &mask, &request, &mut TorchCpuNoise::new(3))
            .unwrap()
            .0
    };
    let (a, b) = (run(&mut fp16), run(&mut fp32));
    let mean = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| f64::from(x.abs_diff(y)))
        .sum::<f64>()
        / a.as_raw().len() as f64;
    assert!(mean < 1.0, "float16 differs by {mean} levels on average");
}

/// SDXL's VAE overflows in float16, so diffusers runs a `force_upcast` VAE in float32: a float16
/// VAE graph whose config has `force_upcast` is refused at load, saying what to do; the same
/// graph with `force_upcast: false` (the fp16-fixed VAE's config) loads and runs beside the
/// float32 UNet. The float16 graph is `sd15-tiny-inpaint-fp16`'s decoder (the same tiny VAE
/// architecture, converted by ONNX Runtime's converter in the fixture script).
#[test]
fn sdxl_float16_vae_needs_the_fp16_fix() {
    let dir = std::env::temp_dir().join(format!("inpaint-sdxl-fp16-vae-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let from = fixtures().join("sdxl-tiny-plain");
    for entry in walk(&from) {
        let target = dir.join(entry.strip_prefix(&from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &target).unwrap();
    }
    std::fs::copy(
        fixtures().join("sd15-tiny-inpaint-fp16/vae_decoder/model.onnx"),
        dir.join("vae_decoder/model.onnx"),
    )
    .unwrap();
    let err = StableDiffusion::load(&dir, &DiffusionOptions::default()).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Model { .. }), "{message}");
    assert!(
        message.contains("force_upcast") && message.contains("sdxl-vae-fp16-fix"),
        "{message}"
    );

    let config_path = dir.join("vae_decoder/config.json");
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    config["force_upcast"] = Value::Bool(false);
    std::fs::write(&config_path, config.to_string()).unwrap();
    let mut model = StableDiffusion::load(&dir, &DiffusionOptions::default()).unwrap();
    let (image, mask) = input_named("sdxl-");
    let request = Request::new()
        .with_steps(2)
        .with_sampler(Sampler::Euler)
        .with_guidance_scale(1.0);
    let (out, _) = model
        .generate(&image, &mask, &request, &mut TorchCpuNoise::new(1))
        .unwrap();
    assert_eq!(out.dimensions(), image.dimensions());
    std::fs::remove_dir_all(dir).unwrap();
}

/// Outpaints a 40×30 gradient by `left`, `top`, `right` and `bottom` pixels with `model` (two
/// Euler steps, no guidance) through the shared pipeline; returns the image and the result.
fn outpaint_gradient(
    model: &mut StableDiffusion,
    (left, top, right, bottom): (u32, u32, u32, u32),
) -> (RgbImage, RgbImage) {
    let (width, height) = (40, 30);
    let image = RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 5) as u8, (y * 7) as u8, ((x + y) * 3) as u8])
    });
    let extender = inpaint_core::CropBox::around(width, height, left, top, right, bottom).unwrap();
    let options = InpaintOptions::default()
        .with_extender(Some(extender))
        .with_request(
            Request::new()
                .with_steps(2)
                .with_sampler(Sampler::Euler)
                .with_guidance_scale(1.0),
        );
    // The caller's mask is not used when outpainting.
    let mask = Mask::from_gray(image::GrayImage::new(width, height)).unwrap();
    let out = inpaint(
        model,
        &inpaint_core::Image::from_rgb(image.clone()).unwrap(),
        &mask,
        &options,
    )
    .unwrap();
    let (out_width, out_height) = out.rgb().dimensions();
    assert_eq!(
        options.output_size(width, height).unwrap(),
        (out_width, out_height)
    );
    (image, out.rgb().clone())
}

/// Outpainting (IOPaint's extender) through the shared pipeline on the tiny inpainting UNet:
/// the result is the canvas holding the image and the box, the image's pixels are kept where
/// IOPaint keeps them (everywhere, with `sd_keep_unmasked_area` on), and the new pixels are
/// painted, not left as the repeated border the model was handed.
#[test]
fn outpainting_keeps_the_image_and_paints_the_new_area() {
    // 12 pixels on the left, 6 above, 10 below: the box is 52×46 from (−12, −6).
    let (image, out) = outpaint_gradient(&mut load("inpaint"), (12, 6, 0, 10));
    let (width, height) = image.dimensions();
    assert_eq!(out.dimensions(), (52, 46));
    let mut painted = 0;
    for (x, y, pixel) in out.enumerate_pixels() {
        let (ix, iy) = (i64::from(x) - 12, i64::from(y) - 6);
        if (0..i64::from(width)).contains(&ix) && (0..i64::from(height)).contains(&iy) {
            assert_eq!(pixel, image.get_pixel(ix as u32, iy as u32), "({x}, {y})");
        } else {
            // The border pixel the model was handed there (BORDER_REPLICATE).
            let border = image.get_pixel(
                ix.clamp(0, i64::from(width) - 1) as u32,
                iy.clamp(0, i64::from(height) - 1) as u32,
            );
            painted += usize::from(pixel != border);
        }
    }
    let new_pixels = 52 * 46 - 40 * 30;
    assert!(
        painted > new_pixels / 2,
        "only {painted} of {new_pixels} new pixels were painted"
    );
}

/// Outpainting runs on SDXL through the same pipeline: the canvas holds the image and the box,
/// and the image's pixels are kept.
#[test]
fn sdxl_outpainting_keeps_the_image() {
    let mut model = load_xl("inpaint", &DiffusionOptions::default());
    let (image, out) = outpaint_gradient(&mut model, (0, 0, 24, 8));
    assert_eq!(out.dimensions(), (64, 38));
    for (x, y, pixel) in image.enumerate_pixels() {
        assert_eq!(out.get_pixel(x, y), pixel, "({x}, {y})");
    }
}

//! Stable Diffusion 1.5 on the tiny random-weight pipelines of `tests/fixtures/diffusion`, made
//! by `scripts/make-diffusion-fixtures.py`: diffusers' real UNet (9 and 4 input channels),
//! VAE and CLIP text model with random weights, exported by Optimum, and diffusers' own runs on
//! them (Optimum's `ORTStableDiffusionInpaintPipeline`) with every noise draw recorded.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use inpaint_core::image::RgbImage;
use inpaint_core::{Error, InpaintOptions, Mask, Progress, Request, Sampler, inpaint};
use inpaint_models::diffusion::noise::{NoiseSource, RecordedNoise, TorchCpuNoise};
use inpaint_models::diffusion::{DiffusionOptions, GuidanceBatching, StableDiffusion};
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
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("cases.json")).unwrap()).unwrap()
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn input() -> (RgbImage, Mask) {
    let image = image::open(fixtures().join("input.png")).unwrap().to_rgb8();
    let mask = image::open(fixtures().join("mask.png")).unwrap().to_luma8();
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
    let name = case["name"].as_str().unwrap();
    let all = read_f32(&fixtures().join(format!("cases/{name}.noise.f32")));
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

/// Every sampler, both UNet kinds, strengths 1 and 0.6, guidance 7.5 and 1: our pipeline, fed
/// diffusers' recorded draws, ends with diffusers' latents (within 1e-3) and image (within one
/// level on average), and takes exactly as many draws, of the same shapes, in the same order.
#[test]
fn every_sampler_matches_diffusers() {
    let manifest = manifest();
    let (image, mask) = input();
    let mut models = [("inpaint", load("inpaint")), ("plain", load("plain"))];
    let mut failures = Vec::new();
    let cases = manifest["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 19 * 4);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let kind = case["model"]
            .as_str()
            .unwrap()
            .trim_start_matches("sd15-tiny-");
        let model = &mut models.iter_mut().find(|(k, _)| *k == kind).unwrap().1;
        let mut noise = RecordedNoise::new(draws(case)).unwrap();
        let result = model.generate(&image, &mask, &request(&manifest, case), &mut noise);
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
        let expected = read_f32(&fixtures().join(format!("cases/{name}.latents.f32")));
        let latent_error = latents
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let reference = image::open(fixtures().join(format!("cases/{name}.png")))
            .unwrap()
            .to_rgb8();
        let pixel_error = out
            .as_raw()
            .iter()
            .zip(reference.as_raw())
            .map(|(&a, &b)| f64::from(a.abs_diff(b)))
            .sum::<f64>()
            / out.as_raw().len() as f64;
        if latents.len() != expected.len() || latent_error > 1e-3 || pixel_error > 1.0 {
            failures.push(format!(
                "{name}: latents differ by {latent_error:.2e}, pixels by {pixel_error:.3} on average"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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

/// Outpainting (IOPaint's extender) through the shared pipeline on the tiny inpainting UNet:
/// the result is the canvas holding the image and the box, the image's pixels are kept where
/// IOPaint keeps them (everywhere, with `sd_keep_unmasked_area` on), and the new pixels are
/// painted, not left as the repeated border the model was handed.
#[test]
fn outpainting_keeps_the_image_and_paints_the_new_area() {
    let mut model = load("inpaint");
    let (width, height) = (40, 30);
    let image = RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 5) as u8, (y * 7) as u8, ((x + y) * 3) as u8])
    });
    // 12 pixels on the left, 6 above, 10 below: the box is 52×46 from (−12, −6).
    let extender = inpaint_core::CropBox::around(width, height, 12, 6, 0, 10).unwrap();
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
        &mut model,
        &inpaint_core::Image::from_rgb(image.clone()).unwrap(),
        &mask,
        &options,
    )
    .unwrap();
    let out = out.rgb();
    assert_eq!(out.dimensions(), (52, 46));
    assert_eq!(options.output_size(width, height).unwrap(), (52, 46));
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

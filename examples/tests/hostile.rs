//! The `inpaint` example on hostile and unusual files (`inpaint-core/tests/data/hostile/`, made by
//! `scripts/make-hostile-files.py`): a refused file is one `error:` line on stderr and exit
//! code 1, within a time limit, with no output written; an unusual but valid one inpaints.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{Files, fixture, stderr_line};

fn hostile(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../inpaint-core/tests/data/hostile")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

/// Runs the example and fails the test if it takes longer than a minute (a hang), killing it.
fn run_bounded(args: &[&str]) -> Output {
    let mut child = Command::new(super::example_binary())
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("`inpaint {}` still running after 60 s", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // The output is small (a few lines), so the pipes cannot have filled while we polled.
    child.wait_with_output().unwrap()
}

/// Runs with `image` and `mask` and expects a refusal whose one line contains `needle`.
fn refused(image: &str, mask: &str, needle: &str) {
    let files = Files::new("hostile-refused");
    let output = files.path("out.png");
    let out = run_bounded(&["--image", image, "--mask", mask, "--output", &output]);
    assert_eq!(out.status.code(), Some(1), "{image} / {mask}");
    let line = stderr_line(&out);
    assert!(
        line.starts_with("error: ") && line.contains(needle),
        "{image} / {mask}: {line}"
    );
    assert!(!Path::new(&output).exists(), "{image}: wrote an output");
}

#[test]
fn a_png_claiming_100000_by_100000_is_refused_as_image_or_mask() {
    let huge = hostile("huge_100000x100000.png");
    let needle = "100000×100000 image exceeds the limits";
    refused(&huge, &hostile("mask.png"), needle);
    refused(&hostile("photo.png"), &huge, needle);
}

#[test]
fn truncated_and_empty_files_are_refused() {
    let mask = hostile("mask.png");
    for (name, needle) in [
        (
            "truncated.png",
            "cannot decode or encode image: unexpected end of file",
        ),
        ("truncated.jpg", "cannot decode or encode image"),
        ("empty_0x0.png", "Invalid image dimensions"),
    ] {
        let path = hostile(name);
        refused(&path, &mask, &format!("{path}: "));
        refused(&path, &mask, needle);
    }
    let truncated = hostile("truncated.jpg");
    refused(&truncated, &mask, "truncated: no end-of-image marker");
    // As a mask too.
    refused(&hostile("photo.png"), &truncated, "truncated");
}

/// Runs with `image` and `mask` and expects success; returns stdout and the output file.
fn inpainted(files: &Files, image: &str, mask: &str, extra: &[&str]) -> (String, String) {
    let output = files.path("out.png");
    let _ = std::fs::remove_file(&output);
    let args: Vec<&str> = ["--image", image, "--mask", mask, "--output", &output]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    let out = run_bounded(&args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (String::from_utf8_lossy(&out.stdout).into_owned(), output)
}

#[test]
fn a_1_by_1_image_inpaints_with_every_model() {
    let files = Files::new("hostile-1x1");
    let (image, mask) = (hostile("one_pixel.png"), hostile("one_pixel_mask.png"));
    let lama = fixture("lama_dynamic.onnx");
    let migan = fixture("migan.onnx");
    for extra in [
        vec!["--model", "telea"],
        vec!["--model", "navier-stokes"],
        vec!["--model", "patchmatch"],
        vec!["--model-file", &lama, "--arch", "lama-dynamic"],
        vec!["--model-file", &migan, "--arch", "migan"],
    ] {
        let (stdout, output) = inpainted(&files, &image, &mask, &extra);
        assert!(stdout.contains("image:         1×1"), "{extra:?}: {stdout}");
        assert!(stdout.contains("masked pixels: 1 (100.00%)"), "{stdout}");
        let result = image::open(&output).unwrap();
        assert_eq!((result.width(), result.height()), (1, 1), "{extra:?}");
    }
}

/// `mask_rgb.png` and `mask_rgba.png` each fill 4 bands of 4×8 pixels (see the core tests).
#[test]
fn colour_and_alpha_masks_are_reduced_as_documented() {
    let files = Files::new("hostile-masks");
    let photo = hostile("photo.png");
    for name in ["mask_rgb.png", "mask_rgba.png"] {
        let (stdout, output) = inpainted(&files, &photo, &hostile(name), &[]);
        assert!(
            stdout.contains("masked pixels: 128 (16.67%)"),
            "{name}: {stdout}"
        );
        let result = image::open(&output).unwrap().into_rgb8();
        let input = image::open(&photo).unwrap().into_rgb8();
        // Row 0 is outside every mask's bands.
        for x in 0..32 {
            assert_eq!(result.get_pixel(x, 0), input.get_pixel(x, 0), "{name}");
        }
    }
}

/// 16-bit, CMYK, animated GIF and WebP inputs inpaint; the output is an 8-bit PNG, RGBA where
/// the input had alpha (GIF always does), and animated files give their first frame (red).
#[test]
fn unusual_but_valid_images_inpaint() {
    let files = Files::new("hostile-valid");
    let mask = hostile("mask.png");
    for name in [
        "rgb16.png",
        "rgba16.png",
        "cmyk.jpg",
        "animated.gif",
        "animated.webp",
    ] {
        let (stdout, output) = inpainted(&files, &hostile(name), &mask, &[]);
        assert!(stdout.contains("image:         32×24"), "{name}: {stdout}");
        let result = image::open(&output).unwrap();
        // GIF decodes as RGBA (a palette may hold a transparent entry): the alpha is kept.
        let expected = if matches!(name, "rgba16.png" | "animated.gif") {
            image::ColorType::Rgba8
        } else {
            image::ColorType::Rgb8
        };
        assert_eq!(result.color(), expected, "{name}");
        if name.starts_with("animated") {
            assert_eq!(result.into_rgb8().get_pixel(0, 0).0, [255, 0, 0], "{name}");
        }
    }
}

//! The `inpaint` example as a user runs it: the exit code and the one line it prints for each
//! error, and a successful run on generated files.
//!
//! `cargo test` builds the examples before running tests, so the binary sits in
//! `target/<profile>/examples/` beside this test's own `deps/` folder.
#![allow(
    clippy::unwrap_used,
    reason = "in tests, a panic is the failure report"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use inpaint_core::image::{GrayImage, Luma, Rgb, RgbImage};

mod hostile;

fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    profile_dir
        .join("examples")
        .join(format!("inpaint{}", std::env::consts::EXE_SUFFIX))
}

fn run(args: &[&str]) -> Output {
    // The one-line error checks assume no log lines: the caller's RUST_LOG must not reach it.
    Command::new(example_binary())
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stderr_line(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(text.lines().count(), 1, "expected one line, got: {text}");
    text.trim_end().to_owned()
}

struct Files {
    dir: PathBuf,
}

impl Files {
    fn new(name: &str) -> Files {
        let dir = std::env::temp_dir().join(format!("inpaint-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Files { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_owned()
    }

    fn photo(&self, name: &str, w: u32, h: u32) -> String {
        let path = self.path(name);
        RgbImage::from_fn(w, h, |x, y| Rgb([x as u8, y as u8, (x + y) as u8]))
            .save(&path)
            .unwrap();
        path
    }

    fn mask(&self, name: &str, w: u32, h: u32) -> String {
        let path = self.path(name);
        GrayImage::from_fn(w, h, |x, y| {
            Luma([if (10..20).contains(&x) && (5..9).contains(&y) {
                255
            } else {
                0
            }])
        })
        .save(&path)
        .unwrap();
        path
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn inpaints_and_reports_what_it_did() {
    let files = Files::new("ok");
    let (image, mask, output) = (
        files.photo("in.png", 40, 30),
        files.mask("mask.png", 40, 30),
        files.path("out.png"),
    );
    for model in ["telea", "navier-stokes"] {
        let out = run(&[
            "--image", &image, "--mask", &mask, "--output", &output, "--model", model,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("model:         {model} (radius 4)")),
            "{stdout}"
        );
        assert!(stdout.contains("image:         40×30"), "{stdout}");
        assert!(stdout.contains("masked pixels: 40 (3.33%)"), "{stdout}");
        assert!(stdout.contains("time:"), "{stdout}");
        let result = image::open(&output).unwrap().into_rgb8();
        let input = image::open(&image).unwrap().into_rgb8();
        assert_eq!(result.get_pixel(0, 0), input.get_pixel(0, 0));
        assert_ne!(
            result.get_pixel(15, 7),
            input.get_pixel(15, 7),
            "hole not filled"
        );
    }
}

#[test]
fn a_missing_file_is_one_line_and_a_failure() {
    let files = Files::new("missing");
    let mask = files.mask("mask.png", 40, 30);
    let out = run(&[
        "--image",
        "/no/such/photo.png",
        "--mask",
        &mask,
        "--output",
        &files.path("o.png"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let line = stderr_line(&out);
    assert!(line.starts_with("error: /no/such/photo.png: "), "{line}");
}

#[test]
fn an_undecodable_image_is_one_line_and_a_failure() {
    let files = Files::new("garbage");
    let bad = files.path("bad.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\nthis is not really a png").unwrap();
    let mask = files.mask("mask.png", 40, 30);
    let out = run(&[
        "--image",
        &bad,
        "--mask",
        &mask,
        "--output",
        &files.path("o.png"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let line = stderr_line(&out);
    assert!(
        line.starts_with(&format!("error: {bad}: cannot decode or encode image")),
        "{line}"
    );
}

#[test]
fn a_mask_of_another_size_is_one_line_and_a_failure() {
    let files = Files::new("size");
    let image = files.photo("in.png", 40, 30);
    let mask = files.mask("mask.png", 30, 40);
    let out = run(&[
        "--image",
        &image,
        "--mask",
        &mask,
        "--output",
        &files.path("o.png"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_line(&out),
        "error: invalid input: mask is 30×40 but the image is 40×30; they must be the same size"
    );
    assert!(
        !Path::new(&files.path("o.png")).exists(),
        "no output on failure"
    );
}

#[test]
fn an_unknown_model_lists_the_known_ones_and_runs_nothing() {
    let files = Files::new("model");
    let image = files.photo("in.png", 40, 30);
    let mask = files.mask("mask.png", 40, 30);
    let output = files.path("o.png");
    let out = run(&[
        "--image", &image, "--mask", &mask, "--output", &output, "--model", "tela",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_line(&out),
        "error: unknown model `tela`; known models: lama, lama-fp16, lama-manga, migan, \
         migan-pipeline, navier-stokes, openai-compat, patchmatch, sd15-inpaint-fp16, telea (did \
         you mean `telea`?)"
    );
    assert!(!Path::new(&output).exists(), "no fallback to another model");

    // A known model that is not downloaded: says where it was expected and how to get it.
    let empty = files.path("models");
    let out = run(&[
        "--image",
        &image,
        "--mask",
        &mask,
        "--output",
        &output,
        "--model",
        "lama",
        "--model-dir",
        &empty,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let line = stderr_line(&out);
    assert!(
        line.starts_with("error: model `lama` is not installed")
            && line.contains("models download lama")
            && line.contains(&format!("missing {empty}/lama/lama_fp32.onnx")),
        "{line}"
    );
    assert!(!Path::new(&output).exists());
}

#[test]
fn bad_arguments_are_usage_errors() {
    let out = run(&["--image"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("error: a value is required for '--image <IN>'")
    );
    let out = run(&[
        "--image",
        "a",
        "--mask",
        "b",
        "--output",
        "c",
        "--hd-strategy",
        "big",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&[
        "--image", "a", "--mask", "b", "--output", "c", "--radius", "-3",
    ]);
    assert_eq!(out.status.code(), Some(1), "radius is checked by the model");
    assert!(run(&["--help"]).status.success());
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../inpaint-models/tests/fixtures/onnx")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

/// A Stable Diffusion folder (the tiny random-weight pipeline of inpaint-models' fixtures, made
/// by `scripts/make-diffusion-fixtures.py`) with the diffusion flags: the progress bar counts
/// the steps, the seed used is printed, and pixels outside the mask are the input's.
#[test]
fn runs_a_diffusion_folder_with_its_flags_and_prints_the_seed() {
    let files = Files::new("sd");
    let (image, mask, output) = (
        files.photo("in.png", 40, 30),
        files.mask("mask.png", 40, 30),
        files.path("out.png"),
    );
    let folder = format!(
        "{}/../inpaint-models/tests/fixtures/diffusion/sd15-tiny-inpaint",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = run(&[
        "--model",
        &folder,
        "--prompt",
        "a red bench",
        "--negative-prompt",
        "blurry",
        "--steps",
        "2",
        "--guidance",
        "3",
        "--sampler",
        "Euler a",
        "--seed",
        "9",
        "--strength",
        "1",
        "--image",
        &image,
        "--mask",
        &mask,
        "--output",
        &output,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("step   2/2"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("2 steps, Euler a, guidance 3, strength 1, seed 9"),
        "{stdout}"
    );
    let result = image::open(&output).unwrap().into_rgb8();
    let input = image::open(&image).unwrap().into_rgb8();
    assert_eq!(result.get_pixel(0, 0), input.get_pixel(0, 0));
}

/// Outpainting with the tiny Stable Diffusion folder: `--extend` (pixels per side) and IOPaint's
/// `--extender-box` give the same canvas, no `--mask` is needed, the image's pixels are kept;
/// bad boxes and non-diffusion models are one-line failures, malformed values usage errors.
#[test]
fn outpaints_with_extend_or_iopaints_box() {
    let files = Files::new("outpaint");
    let (image, output) = (files.photo("in.png", 40, 30), files.path("out.png"));
    let folder = format!(
        "{}/../inpaint-models/tests/fixtures/diffusion/sd15-tiny-inpaint",
        env!("CARGO_MANIFEST_DIR")
    );
    let input = image::open(&image).unwrap().into_rgb8();
    for flags in [["--extend", "8,0,0,4"], ["--extender-box", "-8,0,48,34"]] {
        let out = run(&[
            "--model", &folder, "--steps", "1", "--image", &image, "--output", &output, flags[0],
            flags[1],
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("outpainted:    48×34 (extender box x -8, y 0, 48×34)"),
            "{stdout}"
        );
        let result = image::open(&output).unwrap().into_rgb8();
        assert_eq!(result.dimensions(), (48, 34));
        for (x, y, p) in input.enumerate_pixels() {
            assert_eq!(result.get_pixel(x + 8, y), p, "({x}, {y}) changed");
        }
    }
    let out = run(&[
        "--model",
        &folder,
        "--steps",
        "1",
        "--image",
        &image,
        "--output",
        &output,
        "--extender-box",
        "40,0,10,10",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_line(&out).contains("does not overlap the 40×30 image"));
    let out = run(&[
        "--model", "telea", "--image", &image, "--output", &output, "--extend", "4,4,4,4",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_line(&out).contains("extender apply only to models that see the whole image"));
    for bad in [
        ["--extend", "1,2,3"],
        ["--extend", "-1,0,0,0"],
        ["--extender-box", "0,0,0,5"],
        ["--extender-box", "a,0,5,5"],
    ] {
        let out = run(&["--image", &image, "--output", &output, bad[0], bad[1]]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
    let out = run(&[
        "--image",
        &image,
        "--output",
        &output,
        "--extend",
        "1,1,1,1",
        "--extender-box",
        "0,0,5,5",
    ]);
    assert_eq!(out.status.code(), Some(2), "the two forms conflict");
    let out = run(&["--image", &image, "--output", &output]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--mask is needed without an extender"
    );
}

#[test]
fn runs_an_onnx_model_and_says_which_device_ran_it() {
    let files = Files::new("onnx");
    let (image, mask, output) = (
        files.photo("in.png", 40, 30),
        files.mask("mask.png", 40, 30),
        files.path("out.png"),
    );
    let lama = fixture("lama_dynamic.onnx");
    let out = run(&[
        "--model-file",
        &lama,
        "--arch",
        "lama-dynamic",
        "--device",
        "auto",
        "--image",
        &image,
        "--mask",
        &mask,
        "--output",
        &output,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("model:         lama-dynamic ("), "{stdout}");
    assert!(stdout.contains("device:        cpu"), "{stdout}");
    assert!(
        stdout.contains("asked: auto; ONNX Runtime 1.31"),
        "{stdout}"
    );
    let result = image::open(&output).unwrap().into_rgb8();
    let input = image::open(&image).unwrap().into_rgb8();
    assert_eq!(result.get_pixel(0, 0), input.get_pixel(0, 0));
    // The fixture fills with 255·C + m/4: red at least 153 whatever the known pixels' mean.
    assert!(
        result.get_pixel(15, 7)[0] >= 153,
        "{:?}",
        result.get_pixel(15, 7)
    );
}

#[test]
fn onnx_failures_are_one_line_and_a_failure() {
    let files = Files::new("onnx-bad");
    let (image, mask, output) = (
        files.photo("in.png", 40, 30),
        files.mask("mask.png", 40, 30),
        files.path("out.png"),
    );
    let fake_lib = files.path("libonnxruntime.so");
    std::fs::write(&fake_lib, b"not a shared library").unwrap();
    let lama = fixture("lama_fixed512.onnx");
    let wrong = fixture("wrong_size.onnx");
    let absent = fixture("absent.onnx");
    let common = ["--image", &image, "--mask", &mask, "--output", &output];
    let cases: [(Vec<&str>, &str); 5] = [
        (
            vec!["--model-file", &wrong, "--arch", "lama"],
            "does not have the `lama` contract: expected a fixed 512×512 input, found 256×256",
        ),
        (
            vec![
                "--model-file",
                &lama,
                "--arch",
                "lama",
                "--device",
                "tensorrt",
            ],
            "cannot use tensorrt: this build has no tensorrt support",
        ),
        (
            vec![
                "--model-file",
                &lama,
                "--arch",
                "lama",
                "--ort-lib",
                "/no/such/libonnxruntime.so",
            ],
            "the given library path /no/such/libonnxruntime.so is not a file",
        ),
        (
            vec![
                "--model-file",
                &lama,
                "--arch",
                "lama",
                "--ort-lib",
                &fake_lib,
            ],
            "cannot load ONNX Runtime 1.31 from",
        ),
        (
            vec!["--model-file", &absent, "--arch", "lama"],
            "absent.onnx: no such model file",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.into_iter().chain(common).collect();
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let line = stderr_line(&out);
        assert!(
            line.starts_with("error: ") && line.contains(needle),
            "{args:?}: {line}"
        );
        assert!(!Path::new(&output).exists(), "{args:?} wrote an output");
    }
}

#[test]
fn onnx_flags_are_checked_as_usage() {
    let lama = fixture("lama_fixed512.onnx");
    for (args, needle) in [
        (
            vec!["--model-file", lama.as_str()],
            "required arguments were not provided:\n  --arch <ARCH>",
        ),
        (
            vec!["--arch", "lama"],
            "required arguments were not provided:\n  <--model-file <PATH.onnx>|--remote <URL>>",
        ),
        (
            vec!["--model-file", lama.as_str(), "--arch", "lamma"],
            "did you mean `lama`",
        ),
        (vec!["--device", "cdua"], "did you mean `cuda`"),
        (
            vec![
                "--model-dir",
                "d",
                "--model-file",
                lama.as_str(),
                "--arch",
                "lama",
            ],
            "'--model-dir <D>' cannot be used with '--model-file <PATH.onnx>'",
        ),
        (
            vec![
                "--model-file",
                lama.as_str(),
                "--arch",
                "lama",
                "--radius",
                "3",
            ],
            "'--model-file <PATH.onnx>' cannot be used with '--radius <N>'",
        ),
        (
            vec![
                "--model-file",
                lama.as_str(),
                "--arch",
                "lama",
                "--model",
                "telea",
            ],
            "'--model-file <PATH.onnx>' cannot be used with '--model <ID>'",
        ),
    ] {
        let args: Vec<&str> = args
            .into_iter()
            .chain(["--image", "a.png", "--mask", "m.png", "--output", "o.png"])
            .collect();
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(text.contains(needle), "{args:?}: {text}");
    }
}

/// A Stable Diffusion folder in the model folder (a copy of the tiny pipeline of
/// inpaint-models' fixtures) runs by its id, through the registry and the model manager.
#[test]
fn a_diffusion_folder_runs_by_its_id_in_the_model_folder() {
    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            let target = to.join(path.file_name().unwrap());
            if path.is_dir() {
                copy_dir(&path, &target);
            } else {
                std::fs::copy(&path, &target).unwrap();
            }
        }
    }
    let files = Files::new("sd-id");
    let (image, mask, output) = (
        files.photo("in.png", 40, 30),
        files.mask("mask.png", 40, 30),
        files.path("out.png"),
    );
    let models = files.path("models");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../inpaint-models/tests/fixtures/diffusion/sd15-tiny-inpaint"),
        &Path::new(&models).join("sd15"),
    );
    let out = run(&[
        "--model",
        "sd15",
        "--model-dir",
        &models,
        "--prompt",
        "a red bench",
        "--steps",
        "2",
        "--seed",
        "5",
        "--image",
        &image,
        "--mask",
        &mask,
        "--output",
        &output,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("model:         sd15 (sd-inpaint, "),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 steps, ") && stdout.contains("seed 5"),
        "{stdout}"
    );
    let result = image::open(&output).unwrap().into_rgb8();
    let input = image::open(&image).unwrap().into_rgb8();
    assert_eq!(result.get_pixel(0, 0), input.get_pixel(0, 0));
}

#[test]
fn named_models_resolve_through_the_registry() {
    let files = Files::new("registry");
    let (image, mask, output) = (
        files.photo("in.png", 40, 30),
        files.mask("mask.png", 40, 30),
        files.path("out.png"),
    );
    // The project layout: <model folder>/<id>/<file>.
    let models = files.path("models");
    std::fs::create_dir_all(format!("{models}/migan")).unwrap();
    std::fs::copy(fixture("migan.onnx"), format!("{models}/migan/migan.onnx")).unwrap();
    let out = run(&[
        "--image",
        &image,
        "--mask",
        &mask,
        "--output",
        &output,
        "--model",
        "mi-gan",
        "--model-dir",
        &models,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("model:         migan (as `mi-gan`) (migan, "),
        "{stdout}"
    );
    assert!(
        stdout.contains("device:        cpu (asked: cpu)"),
        "{stdout}"
    );

    // No name: the default, and the output says so.
    let out = run(&["--image", &image, "--mask", &mask, "--output", &output]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("model:         patchmatch (the default) (patch size 7, seed 0)"),
        "{stdout}"
    );

    // A classical model cannot be required on a GPU.
    let out = run(&[
        "--image", &image, "--mask", &mask, "--output", &output, "--model", "telea", "--device",
        "cuda",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_line(&out).contains("runs on the CPU only"));
}

/// `--remote`: its flags go together, exclude a local model, and a server that cannot be
/// reached is an error naming it (exit 1), with nothing run locally instead. A models-config
/// entry with an `endpoint` loads the same way through `--config` and `--model`.
#[test]
fn remote_flags_and_config_entries_reach_the_server() {
    let base = ["--image", "a.png", "--mask", "b.png", "--output", "c.png"];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        run(&args)
    };
    for (extra, said) in [
        (
            &["--remote", "http://127.0.0.1:9"][..],
            "the following required arguments were not provided:\n  --remote-model <NAME>\n  --arch <ARCH>",
        ),
        (
            &["--remote", "http://127.0.0.1:9", "--remote-model", "lama"][..],
            "the following required arguments were not provided:\n  --arch <ARCH>",
        ),
        (
            &["--remote-version", "1"][..],
            "the following required arguments were not provided:\n  --remote-model <NAME>\n  --arch <ARCH>\n  <--model-file <PATH.onnx>|--remote <URL>>",
        ),
        (
            &[
                "--remote",
                "http://127.0.0.1:9",
                "--remote-model",
                "lama",
                "--arch",
                "lama",
                "--model",
                "telea",
            ][..],
            "the argument '--remote <URL>' cannot be used with '--model <ID>'",
        ),
        (
            &[
                "--remote",
                "http://127.0.0.1:9",
                "--remote-model",
                "lama",
                "--arch",
                "lama",
                "--radius",
                "3",
            ][..],
            "the argument '--remote <URL>' cannot be used with '--radius <N>'",
        ),
    ] {
        let out = with(extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with(&format!("error: {said}")),
            "{extra:?}: {stderr}"
        );
    }
    let out = with(&[
        "--remote",
        "http://127.0.0.1:9",
        "--remote-model",
        "lama",
        "--arch",
        "lama",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_line(&out)
            .contains("server http://127.0.0.1:9 model `lama`: server readiness: cannot connect"),
        "{}",
        stderr_line(&out)
    );

    let files = Files::new("remote-config");
    let config = files.path("models.toml");
    std::fs::write(
        &config,
        "[models.lama-remote]\narchitecture = \"lama\"\nendpoint = \"http://127.0.0.1:9\"\nremote_name = \"big\"\n",
    )
    .unwrap();
    let out = with(&[
        "--config",
        &config,
        "--model",
        "lama-remote",
        "--model-dir",
        &files.path("none"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_line(&out)
            .contains("server http://127.0.0.1:9 model `big`: server readiness: cannot connect"),
        "{}",
        stderr_line(&out)
    );
}

#[test]
fn help_documents_every_flag_and_version_prints_the_version() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--image <IN>",
        "--mask <MASK>",
        "--output <OUT>",
        "--model <ID>",
        "--model-dir <D>",
        "--model-file <PATH.onnx>",
        "--arch <ARCH>",
        "--device <NAME>",
        "--ort-lib <PATH>",
        "--output-range <RANGE>",
        "--radius <N>",
        "--patch-size <N>",
        "--seed <N>",
        "--hd-strategy <NAME>",
        "--remote <URL>",
        "--remote-model <NAME>",
        "--remote-version <V>",
        "--config <MODELS.toml>",
        "--prompt <TEXT>",
        "--negative-prompt <TEXT>",
        "--steps <N>",
        "--guidance <SCALE>",
        "--sampler <NAME>",
        "--strength <S>",
        "--mask-blur <N>",
        "--extend <LEFT,TOP,RIGHT,BOTTOM>",
        "--extender-box <X,Y,W,H>",
        "-V, --version",
    ] {
        // Long help puts each flag on its own line and its documentation on the next.
        let mut lines = help
            .lines()
            .skip_while(|l| !l.trim_start().starts_with(flag));
        assert!(
            lines.next().is_some(),
            "{flag} missing from --help:\n{help}"
        );
        let doc = lines.next().unwrap_or_default();
        assert!(
            doc.trim().len() > 10,
            "{flag} has no documentation:\n{help}"
        );
    }
    assert!(help.contains("Models: patchmatch,"), "{help}");

    let out = run(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end(),
        format!("inpaint {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_repeated_flag_takes_its_last_value_as_before() {
    let files = Files::new("repeat");
    let (image, mask, output) = (
        files.photo("in.png", 40, 30),
        files.mask("mask.png", 40, 30),
        files.path("out.png"),
    );
    let out = run(&[
        "--image",
        &image,
        "--mask",
        &mask,
        "--output",
        &output,
        "--model",
        "telea",
        "--model",
        "navier-stokes",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("model:         navier-stokes"), "{stdout}");
}

/// `RUST_LOG` turns on the libraries' logs on stderr: the pipeline's spans with sizes and their
/// times, and the model the manager made active; stdout keeps the report. Unset, a successful
/// run writes nothing to stderr.
#[test]
fn rust_log_shows_the_pipeline_stages_on_stderr() {
    let files = Files::new("logs");
    let (image, mask, output) = (
        files.photo("in.png", 40, 30),
        files.mask("mask.png", 40, 30),
        files.path("out.png"),
    );
    let args = [
        "--image", &image, "--mask", &mask, "--output", &output, "--model", "telea",
    ];
    let out = run(&args);
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = Command::new(example_binary())
        .args(args)
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for needle in [
        "inpaint{model=telea width=40 height=30}",
        "forward{width=40 height=30 padded_width=40 padded_height=30}: inpaint_core::pipeline: close time.busy=",
        "decode{path=",
        "model active architecture=\"telea\" device=cpu",
    ] {
        assert!(stderr.contains(needle), "no `{needle}` in:\n{stderr}");
    }
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour codes when stderr is not a terminal"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("model:         telea"), "{stdout}");
}

/// A refused execution provider is logged with its reason (debug when the device was required:
/// the error says it too), then the error line; a chosen one at info.
#[test]
fn rust_log_shows_execution_provider_refusals_and_choices() {
    let files = Files::new("logs-ep");
    let (image, mask, output) = (
        files.photo("in.png", 40, 30),
        files.mask("mask.png", 40, 30),
        files.path("out.png"),
    );
    let lama = fixture("lama_dynamic.onnx");
    let common = [
        "--image",
        &image,
        "--mask",
        &mask,
        "--output",
        &output,
        "--model-file",
        &lama,
        "--arch",
        "lama-dynamic",
    ];
    let logged = |device: &str| {
        Command::new(example_binary())
            .args(common)
            .args(["--device", device])
            .env("RUST_LOG", "inpaint_models=debug")
            .output()
            .unwrap()
    };
    let out = logged("tensorrt");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let refusal = stderr
        .lines()
        .find(|l| l.contains("execution provider refused"))
        .unwrap_or_else(|| panic!("no refusal in:\n{stderr}"));
    assert!(
        refusal.contains("device=tensorrt") && refusal.contains("no tensorrt support"),
        "{refusal}"
    );
    assert!(
        stderr
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("error: "),
        "{stderr}"
    );

    let out = logged("cpu");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("execution provider chosen device=cpu"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ONNX Runtime loaded version=1.31"),
        "{stderr}"
    );
    assert!(
        stderr.contains("session run model=\"lama-dynamic\""),
        "{stderr}"
    );
}

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

fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    profile_dir
        .join("examples")
        .join(format!("inpaint{}", std::env::consts::EXE_SUFFIX))
}

fn run(args: &[&str]) -> Output {
    Command::new(example_binary()).args(args).output().unwrap()
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
        "--image", &image, "--mask", &mask, "--output", &output, "--model", "lama",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_line(&out),
        "error: unsupported: unknown model `lama`; known models: telea, navier-stokes, patchmatch"
    );
    assert!(!Path::new(&output).exists(), "no fallback to another model");
}

#[test]
fn bad_arguments_are_usage_errors() {
    let out = run(&["--image"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: --image needs a value"));
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

//! The `models` example as a user runs it: list, scan and download (from a local HTTP server
//! on 127.0.0.1, through the `<ID>_MODEL_URL` override).
#![allow(
    clippy::unwrap_used,
    reason = "in tests, a panic is the failure report"
)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

// The download crate's HTTP server (Range, injectable faults, a request log), reused.
#[path = "../../inpaint-download/tests/support/mod.rs"]
#[expect(dead_code, reason = "only the server is used here")]
mod download_server;

fn models(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = example("models");
    command.args(args).env_remove("HF_HUB_OFFLINE");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

/// The example program `name`, beside this test's own folder.
fn example(name: &str) -> Command {
    let exe = std::env::current_exe().unwrap();
    let binary = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let mut command = Command::new(binary);
    // Log lines would break the one-line error checks: the caller's RUST_LOG must not reach it.
    command.env_remove("RUST_LOG");
    command
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../inpaint-models/tests/fixtures/onnx")
        .join(name)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("inpaint-models-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Serves `body` at any path on 127.0.0.1; returns the base URL and a request counter.
fn serve(body: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    serve_after_503s(body, 0)
}

/// [`serve`], answering the first `failures` requests with 503 Service Unavailable.
fn serve_after_503s(body: Vec<u8>, failures: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let seen = counter.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                line.clear();
            }
            if seen < failures {
                let refusal = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\
                               Connection: close\r\n\r\n";
                let _ = stream.write_all(refusal.as_bytes());
                continue;
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (url, count)
}

#[test]
fn list_shows_every_catalog_model_and_what_is_on_disk() {
    let dir = temp_dir("list");
    std::fs::create_dir_all(dir.join("migan")).unwrap();
    std::fs::copy(fixture("migan.onnx"), dir.join("migan/migan.onnx")).unwrap();
    let out = models(&["list", "--model-dir", dir.to_str().unwrap()], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for id in [
        "telea",
        "navier-stokes",
        "patchmatch",
        "lama",
        "lama-manga",
        "lama-fp16",
        "migan-pipeline",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(&format!("{id} "))),
            "{id} missing:\n{stdout}"
        );
    }
    let lama = stdout.lines().find(|l| l.starts_with("lama ")).unwrap();
    assert!(
        lama.contains("sha256") && lama.contains("not downloaded"),
        "{lama}"
    );
    let migan = stdout.lines().find(|l| l.starts_with("migan ")).unwrap();
    assert!(
        migan.contains("unverified") && migan.contains("present, no checksum"),
        "{migan}"
    );
}

#[test]
fn scan_identifies_files_by_content_and_says_why_not() {
    let dir = temp_dir("scan");
    std::fs::copy(fixture("migan_pipeline.onnx"), dir.join("renamed.onnx")).unwrap();
    std::fs::copy(fixture("wrong_names.onnx"), dir.join("lama.onnx")).unwrap();
    std::fs::write(dir.join("garbage.onnx"), b"\\x08\\x07 not protobuf at all").unwrap();
    std::fs::write(dir.join("half.onnx.partial"), b"partial").unwrap();
    let out = models(&["scan", dir.to_str().unwrap()], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("renamed.onnx: migan-pipeline"), "{stdout}");
    assert!(
        stdout.contains("lama.onnx: not usable — ") && stdout.contains("no input named `image`"),
        "{stdout}"
    );
    assert!(stdout.contains("garbage.onnx: not usable — "), "{stdout}");
    assert!(stdout.contains("half.onnx.partial: skipped"), "{stdout}");
}

/// A Stable Diffusion folder (copies of inpaint-models' tiny pipelines, SD 1.5 and SDXL) is one
/// model that needs a prompt, with its family and UNet kind; the graphs inside are not listed as
/// models of their own.
#[test]
fn scan_shows_diffusion_folders_as_prompt_models() {
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
    let dir = temp_dir("scan-sd");
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../inpaint-models/tests/fixtures/diffusion");
    copy_dir(&fixtures.join("sd15-tiny-inpaint"), &dir.join("sd-inpaint"));
    copy_dir(&fixtures.join("sd15-tiny-plain"), &dir.join("sd-plain"));
    copy_dir(&fixtures.join("sdxl-tiny-inpaint"), &dir.join("xl-inpaint"));
    copy_dir(&fixtures.join("sdxl-tiny-plain"), &dir.join("xl-plain"));
    let out = models(&["scan", dir.to_str().unwrap()], &[]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("sd-inpaint: sd-inpaint (Stable Diffusion 1.5, ONNX folder, 9-channel"),
        "{stdout}"
    );
    assert!(
        stdout.contains("sd-plain: sd (Stable Diffusion 1.5, ONNX folder, 4-channel"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "xl-inpaint: sdxl-inpaint (Stable Diffusion XL, ONNX folder, 9-channel inpainting"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("xl-plain: sdxl (Stable Diffusion XL, ONNX folder, 4-channel"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("needs a prompt").count(), 4, "{stdout}");
    assert!(!stdout.contains("model.onnx"), "{stdout}");

    // `list` shows them among the other models found in the model folder.
    let out = models(&["list", "--model-dir", dir.to_str().unwrap()], &[]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("sd-inpaint: "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        line.contains("present, no checksum to verify") && line.contains("needs a prompt"),
        "{line}"
    );
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("xl-inpaint: "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        line.contains("present, no checksum to verify")
            && line.contains("— sdxl-inpaint (Stable Diffusion XL"),
        "{line}"
    );
}

#[test]
fn a_download_with_the_wrong_bytes_fails_and_leaves_no_model_file() {
    let dir = temp_dir("bad-download");
    // 208,044,816 bytes are expected; this server sends a small file.
    let (url, count) = serve(b"not the model".to_vec());
    let override_url = format!("{url}/lama_fp32.onnx");
    let out = models(
        &["download", "lama", "--model-dir", dir.to_str().unwrap()],
        &[("LAMA_MODEL_URL", &override_url)],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.trim_end().lines().count() == 1 && stderr.starts_with("error: lama: "),
        "{stderr}"
    );
    assert!(
        count.load(Ordering::SeqCst) >= 1,
        "the server was never asked"
    );
    assert!(
        !dir.join("lama/lama_fp32.onnx").exists(),
        "a model file was left behind"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("lama"))
        .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        leftovers
            .iter()
            .all(|name| !name.to_string_lossy().ends_with(".onnx")),
        "{leftovers:?}"
    );
}

#[test]
fn an_unverified_download_needs_consent_then_lands_where_discovery_finds_it() {
    let dir = temp_dir("unverified");
    let (url, count) = serve(std::fs::read(fixture("migan.onnx")).unwrap());
    let override_url = format!("{url}/migan.onnx");
    let env = [("MIGAN_MODEL_URL", override_url.as_str())];
    let dir_arg = dir.to_str().unwrap();

    let out = models(&["download", "migan", "--model-dir", dir_arg], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unverified"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        count.load(Ordering::SeqCst),
        0,
        "refused before any request"
    );

    let out = models(
        &[
            "download",
            "migan",
            "--model-dir",
            dir_arg,
            "--allow-unverified",
        ],
        &env,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("NOT verified"));
    assert_eq!(
        std::fs::read(dir.join("migan/migan.onnx")).unwrap(),
        std::fs::read(fixture("migan.onnx")).unwrap()
    );

    // Offline, the file is there: no request.
    let before = count.load(Ordering::SeqCst);
    let out = models(
        &[
            "download",
            "migan",
            "--model-dir",
            dir_arg,
            "--allow-unverified",
            "--offline",
        ],
        &env,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count.load(Ordering::SeqCst), before);

    let out = models(&["list", "--model-dir", dir_arg], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("migan ") && l.contains("present")),
        "{stdout}"
    );
}

#[test]
fn unknown_ids_and_bad_arguments() {
    let out = models(&["download", "lamma"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `lama`"));
    for args in [
        &["frobnicate"][..],
        &["download"][..],
        &["scan"][..],
        &["list", "extra"][..],
    ] {
        let out = models(args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

/// Zips the project's ONNX Runtime library as a wheel would hold it; returns its sha256.
fn make_wheel(wheel: &Path) -> String {
    let library = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.runtime/onnxruntime/1.31.1/libonnxruntime.so.1.31.1");
    assert!(library.is_file(), "run scripts/fetch-onnxruntime.sh first");
    let script = "import hashlib, sys, zipfile\n\
        with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED) as z:\n\
        \x20   z.write(sys.argv[1], 'onnxruntime/capi/libonnxruntime.so.1.31.1')\n\
        \x20   z.writestr('onnxruntime/__init__.py', '')\n\
        print(hashlib.sha256(open(sys.argv[2], 'rb').read()).hexdigest())\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&library)
        .arg(wheel)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn an_installed_backend_runs_models_when_no_library_is_named() {
    let home = temp_dir("backends");
    let home_str = home.to_str().unwrap();
    let env = [("INPAINT_HOME", home_str)];
    let out = models(&["backend", "list"], &env);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("no backends installed") && stdout.contains("would use none"),
        "{stdout}"
    );

    let wheel = home.join("onnxruntime-1.31.1-test.whl");
    let sha256 = make_wheel(&wheel);
    let wheel_arg = wheel.to_str().unwrap();
    let install = |digest: &str| {
        models(
            &[
                "backend",
                "install",
                wheel_arg,
                "--sha256",
                digest,
                "--name",
                "ort-cpu",
                "--version",
                "1.31.1",
            ],
            &env,
        )
    };
    let out = install(&"0".repeat(64));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a wrong checksum installs nothing"
    );
    assert!(!home.join("backends/ort-cpu").exists());
    let out = install(&sha256);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The inpaint example, with no --ort-lib and no ORT_DYLIB_PATH, runs on that backend.
    let dir = temp_dir("backend-run");
    let image = dir.join("in.png");
    let mask = dir.join("mask.png");
    image::RgbImage::from_pixel(24, 16, image::Rgb([42, 121, 201]))
        .save(&image)
        .unwrap();
    image::GrayImage::from_fn(24, 16, |x, _| image::Luma([if x < 8 { 255 } else { 0 }]))
        .save(&mask)
        .unwrap();
    let exe = std::env::current_exe().unwrap();
    let inpaint = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/inpaint");
    let lama = fixture("lama_dynamic.onnx");
    let out = Command::new(inpaint)
        .args([
            "--model-file",
            lama.to_str().unwrap(),
            "--arch",
            "lama-dynamic",
        ])
        .args([
            "--image",
            image.to_str().unwrap(),
            "--mask",
            mask.to_str().unwrap(),
        ])
        .args(["--output", dir.join("out.png").to_str().unwrap()])
        .env("INPAINT_HOME", home_str)
        .env_remove("ORT_DYLIB_PATH")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let backend_dir = home.join("backends/ort-cpu");
    assert!(
        stdout.contains(&format!("from {}", backend_dir.display())),
        "{stdout}"
    );

    let out = models(&["backend", "remove", "ort-cpu"], &env);
    assert!(out.status.success());
    assert!(!backend_dir.exists());
}

/// `export-triton` writes `<name>/config.pbtxt` and `<name>/1/model.onnx` for a model found in
/// the model folder, and refuses a file of no known contract (scripts/test-remote.sh checks the
/// configs against Triton's schema and serves them).
#[test]
fn export_triton_writes_a_model_repository() {
    let dir = temp_dir("triton");
    let models_dir = dir.join("models");
    std::fs::create_dir_all(&models_dir).unwrap();
    for name in ["lama_dynamic.onnx", "wrong_names.onnx"] {
        std::fs::copy(fixture(name), models_dir.join(name)).unwrap();
    }
    let repo = dir.join("repo");
    let (models_arg, repo_arg) = (models_dir.to_str().unwrap(), repo.to_str().unwrap());
    let out = models(
        &[
            "export-triton",
            "lama_dynamic.onnx",
            repo_arg,
            "--model-dir",
            models_arg,
            "--name",
            "lama",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = std::fs::read_to_string(repo.join("lama/config.pbtxt")).unwrap();
    assert!(
        config.starts_with("name: \"lama\"\nbackend: \"onnxruntime\"\n"),
        "{config}"
    );
    assert!(config.contains("dims: [ 1, 1, -1, -1 ]"), "{config}");
    assert_eq!(
        std::fs::read(repo.join("lama/1/model.onnx")).unwrap(),
        std::fs::read(fixture("lama_dynamic.onnx")).unwrap()
    );
    let out = models(
        &[
            "export-triton",
            "wrong_names.onnx",
            repo_arg,
            "--model-dir",
            models_arg,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(!repo.join("wrong_names").exists());
    let out = models(&["export-triton", "lama_dynamic.onnx"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_documents_every_command_and_flag() {
    for (args, needles) in [
        (
            &["--help"][..],
            &[
                "list",
                "download",
                "scan",
                "export-triton",
                "backend",
                "-V, --version",
            ][..],
        ),
        (
            &["list", "--help"][..],
            &["--model-dir <D>", "--no-verify"][..],
        ),
        (
            &["download", "--help"][..],
            &[
                "<ID>",
                "--model-dir <D>",
                "--endpoint <URL>",
                "--allow-unverified",
                "--offline",
            ][..],
        ),
        (&["scan", "--help"][..], &["<DIR>"][..]),
        (
            &["export-triton", "--help"][..],
            &["<ID>", "<OUT_DIR>", "--model-dir <D>", "--name <NAME>"][..],
        ),
        (
            &["backend", "install", "--help"][..],
            &[
                "<FILE|URL>",
                "--sha256 <HEX>",
                "--name <N>",
                "--version <V>",
                "--providers",
                "--hardware",
            ][..],
        ),
        (&["backend", "remove", "--help"][..], &["<NAME>"][..]),
    ] {
        let out = models(args, &[]);
        assert!(out.status.success(), "{args:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        for needle in needles {
            let line = help.lines().find(|l| l.trim_start().starts_with(needle));
            // Each entry's one-line summary follows it on the same line.
            let documented = line.is_some_and(|l| l.trim().len() > needle.len() + 10);
            assert!(documented, "{args:?}: {needle} undocumented:\n{help}");
        }
    }
    let out = models(&["--version"], &[]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end(),
        format!("models {}", env!("CARGO_PKG_VERSION"))
    );
}

/// With `RUST_LOG`, the download says what it does on stderr: the fetch span, the retry after a
/// 503 (a warning), and the result; stdout keeps the example's own report.
#[test]
fn downloads_log_their_attempts_and_retries_under_rust_log() {
    let dir = temp_dir("logged");
    let (url, count) = serve_after_503s(std::fs::read(fixture("migan.onnx")).unwrap(), 1);
    let override_url = format!("{url}/migan.onnx");
    let args = [
        "download",
        "migan",
        "--model-dir",
        dir.to_str().unwrap(),
        "--allow-unverified",
    ];
    let env = [
        ("MIGAN_MODEL_URL", override_url.as_str()),
        ("RUST_LOG", "inpaint_download=debug"),
    ];
    let out = models(&args, &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(count.load(Ordering::SeqCst), 2, "one 503, then the file");
    let line = |needle: &str| {
        stderr
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{stderr}"))
    };
    assert!(
        line("transient failure; retrying").contains(" WARN "),
        "{stderr}"
    );
    assert!(
        line("transient failure; retrying").contains("attempt=1"),
        "{stderr}"
    );
    assert!(line("fetch{url=").contains(&override_url), "{stderr}");
    let done = line(" downloaded ");
    let size = std::fs::metadata(fixture("migan.onnx")).unwrap().len();
    assert!(
        done.contains(&format!("bytes={size}")) && done.contains("attempts=2"),
        "{done}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("fetch{"));
}

/// The `inpaint` example, beside `models`.
fn inpaint(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = example("inpaint");
    command
        .args(args)
        .env_remove("OPENAI_API_KEY")
        .env_remove("INPAINT_OPENAI_API_KEY");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

#[test]
fn openai_compat_is_listed_capped_before_sending_and_its_spending_shown() {
    use inpaint_core::image::{GrayImage, Luma, Rgb, RgbImage};

    let dir = temp_dir("openai");
    let out = models(
        &["list", "--no-verify", "--model-dir", dir.to_str().unwrap()],
        &[],
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    let line = listing
        .lines()
        .find(|l| l.starts_with("openai-compat"))
        .unwrap_or_else(|| panic!("not listed: {listing}"));
    assert!(line.contains("remote: needs a prompt"), "{line}");

    let (image, mask, output) = (
        dir.join("in.png"),
        dir.join("mask.png"),
        dir.join("out.png"),
    );
    RgbImage::from_pixel(64, 64, Rgb([10, 20, 30]))
        .save(&image)
        .unwrap();
    GrayImage::from_fn(64, 64, |x, _| Luma([if x < 8 { 255 } else { 0 }]))
        .save(&mask)
        .unwrap();
    let ledger = dir.join("ledger.sqlite3");
    let (url, requests) = serve(b"{}".to_vec());
    let base_url = format!("{url}/v1");
    let key = "sk-cli-secret-0000";
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec![
            "--image",
            image.to_str().unwrap(),
            "--mask",
            mask.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
            "--model",
            "openai-compat",
            "--prompt",
            "sand",
            "--openai-base-url",
            &base_url,
            "--openai-model",
            "dall-e-2",
            "--budget-db",
            ledger.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        inpaint(&args, env)
    };

    // No key: refused before anything is sent, saying where the key comes from.
    let out = run(&[], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("OPENAI_API_KEY"), "{stderr}");

    // dall-e-2 at 256×256 is estimated at $0.016: over a session cap of one cent.
    let out = run(&["--budget-session", "0.01"], &[("OPENAI_API_KEY", key)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    for part in ["session cap of $0.01", "$0.016", "nothing was sent"] {
        assert!(stderr.contains(part), "{stderr} lacks {part}");
    }
    assert!(!stderr.contains(key) && !String::from_utf8_lossy(&out.stdout).contains(key));
    assert_eq!(
        requests.load(Ordering::SeqCst),
        0,
        "a refused request reached the server"
    );

    // The same cap from the models config's [models.openai-compat] section.
    let config = dir.join("models.toml");
    std::fs::write(&config, "[models.openai-compat]\nbudget_session = 0.01\n").unwrap();
    let out = run(
        &["--config", config.to_str().unwrap()],
        &[("INPAINT_OPENAI_API_KEY", key)],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("session cap of $0.01"), "{stderr}");
    assert_eq!(requests.load(Ordering::SeqCst), 0);

    // The flags of the remote model are refused for another.
    let out = inpaint(
        &[
            "--image",
            image.to_str().unwrap(),
            "--mask",
            mask.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
            "--budget-day",
            "1",
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("openai-compat only"));

    let out = models(
        &[
            "budget",
            "--budget-db",
            ledger.to_str().unwrap(),
            "--budget-day",
            "0",
        ],
        &[],
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("day unlimited"), "{shown}");
    let month = shown
        .lines()
        .find(|l| l.len() > 7 && l.as_bytes()[4] == b'-' && l.as_bytes()[7] == b' ')
        .unwrap_or_else(|| panic!("no month line: {shown}"));
    // Spent, sent, refused, deduplicated.
    let columns: Vec<&str> = month.split_whitespace().collect();
    assert_eq!(columns[1..], ["$0.00", "0", "2", "0"], "{shown}");
}

/// A fake `images/edits` server on 127.0.0.1: reads each request whole, answers a grey
/// 256×256 PNG as `b64_json`, and keeps the prompts it was sent.
fn serve_edits() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use base64::Engine;
    use std::io::Read;

    let mut png = Vec::new();
    inpaint_core::image::RgbImage::from_pixel(256, 256, inpaint_core::image::Rgb([99, 99, 99]))
        .write_to(
            &mut std::io::Cursor::new(&mut png),
            inpaint_core::image::ImageFormat::Png,
        )
        .unwrap();
    let body = format!(
        "{{\"data\": [{{\"b64_json\": \"{}\"}}]}}",
        base64::engine::general_purpose::STANDARD.encode(&png)
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let prompts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&prompts);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut line, mut length) = (String::new(), 0);
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
                line.clear();
            }
            let mut request = vec![0; length];
            reader.read_exact(&mut request).unwrap();
            let text = String::from_utf8_lossy(&request);
            let marker = "name=\"prompt\"\r\n\r\n";
            let prompt = text
                .split(marker)
                .nth(1)
                .and_then(|rest| rest.split("\r\n").next());
            seen.lock().unwrap().push(prompt.unwrap_or("").to_string());
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
    });
    (url, prompts)
}

#[test]
fn openai_compat_inpaints_through_a_server_and_records_the_cost() {
    use inpaint_core::image::{GrayImage, Luma, Rgb, RgbImage};

    let dir = temp_dir("openai-run");
    let (image, mask, output) = (
        dir.join("in.png"),
        dir.join("mask.png"),
        dir.join("out.png"),
    );
    RgbImage::from_pixel(64, 48, Rgb([10, 20, 30]))
        .save(&image)
        .unwrap();
    GrayImage::from_fn(64, 48, |x, _| Luma([if x < 8 { 255 } else { 0 }]))
        .save(&mask)
        .unwrap();
    let ledger = dir.join("ledger.sqlite3");
    let (url, prompts) = serve_edits();
    let run = || {
        inpaint(
            &[
                "--image",
                image.to_str().unwrap(),
                "--mask",
                mask.to_str().unwrap(),
                "--output",
                output.to_str().unwrap(),
                "--model",
                "openai",
                "--prompt",
                "sand",
                "--openai-base-url",
                &url,
                "--openai-model",
                "dall-e-2",
                "--budget-db",
                ledger.to_str().unwrap(),
            ],
            &[("OPENAI_API_KEY", "sk-cli-run")],
        )
    };
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("request:       succeeded dall-e-2 256x256, estimated $0.016"),
        "{stdout}"
    );
    let result = inpaint_core::image::open(&output).unwrap().to_rgb8();
    assert_eq!(
        result.get_pixel(2, 2),
        &Rgb([99, 99, 99]),
        "inside the mask"
    );
    assert_eq!(
        result.get_pixel(40, 2),
        &Rgb([10, 20, 30]),
        "outside the mask"
    );
    // The same request again: answered from the ledger, not sent.
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("request:       deduplicated"), "{stdout}");
    assert_eq!(*prompts.lock().unwrap(), ["sand"]);

    let out = models(&["budget", "--budget-db", ledger.to_str().unwrap()], &[]);
    let shown = String::from_utf8_lossy(&out.stdout);
    let month = shown
        .lines()
        .find(|l| l.len() > 7 && l.as_bytes()[4] == b'-' && l.as_bytes()[7] == b' ')
        .unwrap_or_else(|| panic!("no month line: {shown}"));
    let columns: Vec<&str> = month.split_whitespace().collect();
    assert_eq!(columns[1..], ["$0.016", "1", "0", "1"], "{shown}");
}

/// `models download` of the catalog's SD 1.5 pipeline, served from 127.0.0.1 (`--endpoint`)
/// with the tiny pipeline's files at the catalog's paths: refused without consent (no
/// checksums), all-or-nothing when a file fails (nothing at `D/<id>/`, the error names the
/// file), a cut transfer resumed with `Range`, and the retry fetching only what is missing.
#[test]
fn a_diffusion_pipeline_downloads_all_or_nothing_and_resumes() {
    use download_server::{Fault, Server};

    let entry = inpaint_registry::catalog::entry("sd15-inpaint-fp16").unwrap();
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../inpaint-models/tests/fixtures/diffusion/sd15-tiny-inpaint");
    let server = Server::start();
    let url_path =
        |file: &str| format!("/jdp8/optimum-sd-inpainting-onnx-fp16/resolve/main/{file}");
    for file in entry.files {
        let body = std::fs::read(tiny.join(file.file_name)).unwrap();
        server.serve(&url_path(file.file_name), body);
    }
    let dir = temp_dir("sd-download");
    let dir_arg = dir.to_str().unwrap();
    let endpoint = server.url("");
    let args = [
        "download",
        "sd15-inpaint",
        "--model-dir",
        dir_arg,
        "--endpoint",
        &endpoint,
    ];
    let installed = dir.join(entry.id);

    let out = models(&args, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("without a sha256"), "{stderr}");
    assert_eq!(server.count(), 0, "refused before any request");

    // The UNet is cut once (resumed within the run); the VAE decoder is not found.
    server.fault_once(&url_path("unet/model.onnx"), Fault::CutAfter(300_000));
    server.fault_once(&url_path("vae_decoder/model.onnx"), Fault::Status(404));
    let consent = [&args[..], &["--allow-unverified"]].concat();
    let out = models(&consent, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sd15-inpaint-fp16: vae_decoder/model.onnx of ")
            && stderr.contains("HTTP 404"),
        "{stderr}"
    );
    assert!(!installed.exists(), "nothing in place after a failure");
    let out = models(&["list", "--model-dir", dir_arg], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("sd15-inpaint-fp16 "))
        .unwrap();
    assert!(
        line.contains("sd-inpaint") && line.contains("not downloaded"),
        "{line}"
    );

    let out = models(&consent, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("14 files, NOT verified"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for file in entry.files {
        assert_eq!(
            std::fs::read(installed.join(file.file_name)).unwrap(),
            std::fs::read(tiny.join(file.file_name)).unwrap(),
            "{}",
            file.file_name
        );
    }
    let seen = server.seen();
    let ranges = |file: &str| -> Vec<Option<String>> {
        seen.iter()
            .filter(|s| s.path == url_path(file))
            .map(|s| s.range.clone())
            .collect()
    };
    assert_eq!(
        ranges("unet/model.onnx"),
        [None, Some("bytes=300000-".to_string())]
    );
    // Fetched once, in the failed run, and reused from the staging folder; the missing one
    // asked for again.
    assert_eq!(ranges("model_index.json").len(), 1);
    assert_eq!(ranges("vae_decoder/model.onnx").len(), 2);

    let out = models(&["list", "--model-dir", dir_arg], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("sd15-inpaint-fp16 "))
        .unwrap();
    assert!(line.contains("present, no checksum"), "{line}");
    assert!(!stdout.contains("unusable"), "{stdout}");
}

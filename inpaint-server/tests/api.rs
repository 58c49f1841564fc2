//! The routes, one by one, with what IOPaint's web app sends and what it must not.

use image::{DynamicImage, ImageFormat};
use inpaint_server::ServerOptions;
use serde_json::json;

use crate::support::{TestServer, data_url, encode, fixture, inpaint_body, photo, rect_mask, rgba};

fn server() -> TestServer {
    TestServer::start(ServerOptions::new().with_model("telea"))
}

#[test]
fn server_config_lists_the_models_as_iopaint_model_infos() {
    let models = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("lama_dynamic.onnx"),
        models.path().join("tiny-lama.onnx"),
    )
    .unwrap();
    let output = tempfile::tempdir().unwrap();
    let server = TestServer::start(
        ServerOptions::new()
            .with_model_dir(models.path())
            .with_output_dir(output.path()),
    );
    let config = server.get("/api/v1/server-config").json();
    assert_eq!(config["plugins"], json!([]));
    assert_eq!(config["enableAutoSaving"], json!(true));
    assert_eq!(config["disableModelSwitch"], json!(false));
    assert_eq!(config["samplers"].as_array().unwrap().len(), 19);
    let infos = config["modelInfos"].as_array().unwrap();
    let names: Vec<&str> = infos.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "patchmatch",
            "telea",
            "navier-stokes",
            "tiny-lama.onnx",
            "openai-compat"
        ]
    );
    // The remote openai-compat is listed with the prompt box (tests/openai.rs); the rest:
    for info in &infos[..4] {
        // The app puts `inpaint` models under the erase tab and shows no prompt for them.
        assert_eq!(info["model_type"], "inpaint", "{info}");
        assert_eq!(info["need_prompt"], false);
        for key in [
            "path",
            "is_single_file_diffusers",
            "controlnets",
            "brushnets",
            "support_strength",
            "support_outpainting",
            "support_lcm_lora",
            "support_controlnet",
            "support_brushnet",
            "support_powerpaint_v2",
        ] {
            assert!(info.get(key).is_some(), "no `{key}` in {info}");
        }
    }
    assert!(
        infos[3]["path"]
            .as_str()
            .unwrap()
            .ends_with("tiny-lama.onnx")
    );
    // The default model (patchmatch) is served, and auto-saving is off without --output-dir.
    assert_eq!(server.get("/api/v1/model").json()["name"], "patchmatch");
    let plain = TestServer::start(ServerOptions::new());
    assert_eq!(
        plain.get("/api/v1/server-config").json()["enableAutoSaving"],
        json!(false)
    );
}

#[test]
fn samplers_are_iopaints() {
    let server = server();
    let samplers = server.get("/api/v1/samplers").json();
    assert_eq!(samplers[0], "DPM++ 2M");
    assert_eq!(samplers[17], "UniPC");
    assert_eq!(samplers.as_array().unwrap().len(), 19);
}

#[test]
fn inpaint_png_changes_only_the_mask_and_keeps_alpha_and_parameters() {
    let server = server();
    let picture = photo(96, 64);
    let mask = rect_mask(96, 64, (30, 20, 20, 12));
    let mask_png = encode(&DynamicImage::ImageLuma8(mask.clone()), ImageFormat::Png);

    // RGB PNG: the answer is a PNG of the same size, X-Seed is the request's.
    let reply = server.post_json(
        "/api/v1/inpaint",
        &inpaint_body(
            &encode(&DynamicImage::ImageRgb8(picture.clone()), ImageFormat::Png),
            &mask_png,
        ),
    );
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("content-type"), Some("image/png"));
    assert_eq!(reply.header("x-seed"), Some("42"));
    let out = image::load_from_memory(&reply.body).unwrap().into_rgb8();
    assert_eq!(out.dimensions(), picture.dimensions());
    let mut changed = 0;
    for (x, y, p) in out.enumerate_pixels() {
        if mask.get_pixel(x, y).0[0] == 0 {
            assert_eq!(
                p,
                picture.get_pixel(x, y),
                "({x}, {y}) outside the mask changed"
            );
        } else if p != picture.get_pixel(x, y) {
            changed += 1;
        }
    }
    assert!(
        changed > 200,
        "only {changed} pixels inside the mask changed"
    );

    // RGBA PNG with a prompt in `parameters`: both survive.
    let rgba_picture = rgba(&picture, 100);
    let mut png = encode(
        &DynamicImage::ImageRgba8(rgba_picture.clone()),
        ImageFormat::Png,
    );
    png = with_text_chunk(&png, "parameters", "a red boat\nNegative prompt: fog");
    let mut body = inpaint_body(&png, &mask_png);
    body["sd_seed"] = json!(-1);
    // A prompt for a model that takes none is fine (it is ignored, as in IOPaint).
    body["prompt"] = json!("a red boat");
    body["sd_sampler"] = json!("Euler a");
    let reply = server.post_json("/api/v1/inpaint", &body);
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let seed: i64 = reply.header("x-seed").unwrap().parse().unwrap();
    assert!((1..=99_999_999).contains(&seed), "{seed}");
    let out = image::load_from_memory(&reply.body).unwrap();
    assert!(out.color().has_alpha());
    let out = out.into_rgba8();
    for (x, y, p) in out.enumerate_pixels() {
        assert_eq!(
            p.0[3],
            rgba_picture.get_pixel(x, y).0[3],
            "alpha at ({x}, {y})"
        );
    }
    let info = server
        .post_file("/api/v1/gen-info", "out.png", &reply.body)
        .json();
    assert_eq!(
        info,
        json!({"prompt": "a red boat", "negative_prompt": "fog"})
    );
}

/// Inserts a tEXt chunk after IHDR, as an image generator would.
fn with_text_chunk(png: &[u8], keyword: &str, text: &str) -> Vec<u8> {
    let data = [keyword.as_bytes(), &[0], text.as_bytes()].concat();
    let mut crc = crc32fast::Hasher::new();
    crc.update(b"tEXt");
    crc.update(&data);
    [
        &png[..33],
        &(data.len() as u32).to_be_bytes(),
        b"tEXt",
        &data,
        &crc.finalize().to_be_bytes(),
        &png[33..],
    ]
    .concat()
}

#[test]
fn inpaint_jpeg_answers_jpeg_with_the_exif_kept() {
    let server = server();
    let picture = photo(80, 60);
    // A minimal big-endian EXIF block with one tag (Orientation = 1).
    let exif: Vec<u8> = vec![
        b'M', b'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0,
    ];
    let mut jpeg = Vec::new();
    {
        use image::ImageEncoder;
        let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95);
        encoder.set_exif_metadata(exif.clone()).unwrap();
        encoder
            .write_image(picture.as_raw(), 80, 60, image::ExtendedColorType::Rgb8)
            .unwrap();
    }
    let mask = encode(
        &DynamicImage::ImageLuma8(rect_mask(80, 60, (10, 10, 20, 20))),
        ImageFormat::Png,
    );
    let mut body = inpaint_body(&jpeg, &mask);
    body["image"] = json!(data_url(&jpeg, "image/jpeg"));
    let reply = server.post_json("/api/v1/inpaint", &body);
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("content-type"), Some("image/jpeg"));
    assert_eq!(&reply.body[..2], &[0xFF, 0xD8]);
    let mut decoder =
        image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(&reply.body)).unwrap();
    use image::ImageDecoder;
    assert_eq!(decoder.exif_metadata().unwrap(), Some(exif));
    assert_eq!(decoder.dimensions(), (80, 60));
}

#[test]
fn inpaint_errors_are_the_callers_4xx_in_iopaints_shape() {
    let server = server();
    let png = encode(&DynamicImage::ImageRgb8(photo(32, 32)), ImageFormat::Png);
    let mask = encode(
        &DynamicImage::ImageLuma8(rect_mask(32, 32, (4, 4, 8, 8))),
        ImageFormat::Png,
    );
    let other_mask = encode(
        &DynamicImage::ImageLuma8(rect_mask(16, 32, (4, 4, 8, 8))),
        ImageFormat::Png,
    );
    let with = |field: &str, value: serde_json::Value| {
        let mut body = inpaint_body(&png, &mask);
        body[field] = value;
        server.post_json("/api/v1/inpaint", &body)
    };
    // Garbage base64 is a 500 in IOPaint; here it is the caller's fault.
    assert!(
        with("image", json!("data:image/png;base64,@@@@"))
            .error(400)
            .starts_with("image: not valid base64")
    );
    assert!(with("mask", json!("%%")).error(400).starts_with("mask: "));
    assert!(
        with("image", json!(data_url(b"hello", "image/png")))
            .error(422)
            .contains("not a PNG, JPEG")
    );
    assert!(
        with("mask", json!(data_url(&other_mask, "image/png")))
            .error(400)
            .contains("32×32 but the mask is 16×32")
    );
    assert!(
        with("image", json!(null))
            .error(422)
            .contains("`image` is required")
    );
    assert!(
        with("hd_strategy", json!("Huge"))
            .error(422)
            .contains("`hd_strategy`")
    );
    assert!(
        with("hd_strategy_crop_margin", json!("wide"))
            .error(422)
            .contains("`hd_strategy_crop_margin`")
    );
    assert!(
        server
            .post("/api/v1/inpaint", b"not json")
            .error(422)
            .contains("not JSON")
    );
    assert!(
        server
            .post("/api/v1/inpaint", b"[1, 2]")
            .error(422)
            .contains("JSON object")
    );
    // A PNG whose header claims 100000×100000 is refused before decoding (no 30 GB buffer).
    let bomb = png_header(100_000, 100_000);
    assert!(
        with("image", json!(data_url(&bomb, "image/png")))
            .error(413)
            .contains("100000×100000")
    );
}

/// A PNG signature, an IHDR for `width`×`height` RGB, a token IDAT and IEND: what a
/// decompression bomb looks like before its pixel data.
pub(crate) fn png_header(width: u32, height: u32) -> Vec<u8> {
    let chunk = |kind: &[u8; 4], data: &[u8]| {
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        [
            &(data.len() as u32).to_be_bytes()[..],
            kind,
            data,
            &crc.finalize().to_be_bytes(),
        ]
        .concat()
    };
    let ihdr = [
        &width.to_be_bytes()[..],
        &height.to_be_bytes(),
        &[8, 2, 0, 0, 0],
    ]
    .concat();
    [
        &b"\x89PNG\r\n\x1a\n"[..],
        &chunk(b"IHDR", &ihdr),
        &chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]),
        &chunk(b"IEND", &[]),
    ]
    .concat()
}

#[test]
fn switching_models_and_failed_switches_keep_the_old_model() {
    let models = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("lama_dynamic.onnx"),
        models.path().join("tiny-lama.onnx"),
    )
    .unwrap();
    std::fs::copy(
        fixture("wrong_names.onnx"),
        models.path().join("broken.onnx"),
    )
    .unwrap();
    let server = TestServer::start(ServerOptions::new().with_model_dir(models.path()));
    let png = encode(&DynamicImage::ImageRgb8(photo(40, 40)), ImageFormat::Png);
    let mask = encode(
        &DynamicImage::ImageLuma8(rect_mask(40, 40, (10, 10, 10, 10))),
        ImageFormat::Png,
    );
    let run = || {
        let reply = server.post_json("/api/v1/inpaint", &inpaint_body(&png, &mask));
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.body
    };
    let telea = run();

    let switched = server.post_json("/api/v1/model", &json!({"name": "navier-stokes"}));
    assert_eq!(switched.status, 200);
    assert_eq!(switched.json()["name"], "navier-stokes");
    assert_eq!(server.get("/api/v1/model").json()["name"], "navier-stokes");
    let navier_stokes = run();
    assert_ne!(telea, navier_stokes);
    // The same model again is a no-op.
    assert_eq!(
        server
            .post_json("/api/v1/model", &json!({"name": "navier-stokes"}))
            .status,
        200
    );

    // Unknown: 404 naming the known ones; the old model still serves (IOPaint is left broken).
    let message = server
        .post_json("/api/v1/model", &json!({"name": "lamma"}))
        .error(404);
    assert!(
        message.contains("unknown model `lamma`") && message.contains("telea"),
        "{message}"
    );
    // Known but not downloaded, and a file that is no model: 422, old model kept.
    let message = server
        .post_json("/api/v1/model", &json!({"name": "lama"}))
        .error(422);
    assert!(message.contains("not installed"), "{message}");
    let message = server
        .post_json("/api/v1/model", &json!({"name": "broken.onnx"}))
        .error(422);
    assert!(
        message.contains("`broken.onnx` cannot be loaded"),
        "{message}"
    );
    assert!(
        server
            .post_json("/api/v1/model", &json!({}))
            .error(422)
            .contains("`name`")
    );
    assert_eq!(server.get("/api/v1/model").json()["name"], "navier-stokes");
    assert_eq!(run(), navier_stokes);

    // An ONNX model found by content in --model-dir (a tiny LaMa-contract graph).
    let reply = server.post_json("/api/v1/model", &json!({"name": "tiny-lama.onnx"}));
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert!(
        reply.json()["path"]
            .as_str()
            .unwrap()
            .ends_with("tiny-lama.onnx")
    );
    assert_ne!(run(), navier_stokes);
}

#[test]
fn input_image_serves_the_file_or_a_404() {
    let photo_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data/photo.jpg");
    let server = TestServer::start(ServerOptions::new().with_input(&photo_path));
    let reply = server.get("/api/v1/inputimage");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("image/jpeg"));
    assert_eq!(reply.body, std::fs::read(&photo_path).unwrap());
    let plain = TestServer::start(ServerOptions::new());
    assert!(
        plain
            .get("/api/v1/inputimage")
            .error(404)
            .contains("--input")
    );
}

#[test]
fn adjust_mask_answers_the_brush_coloured_picture() {
    let server = server();
    let dot = image::GrayImage::from_fn(21, 21, |x, y| {
        image::Luma([u8::from((x, y) == (10, 10)) * 255])
    });
    let mask = data_url(
        &encode(&DynamicImage::ImageLuma8(dot), ImageFormat::Png),
        "image/png",
    );
    let adjust = |operate: &str, kernel: i64| {
        server.post_json(
            "/api/v1/adjust_mask",
            &json!({"mask": mask, "operate": operate, "kernel_size": kernel}),
        )
    };
    let reply = adjust("expand", 2);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("image/png"));
    let picture = image::load_from_memory(&reply.body).unwrap().into_rgba8();
    let brush: Vec<_> = picture
        .enumerate_pixels()
        .filter(|(_, _, p)| p.0 == [255, 203, 0, 186])
        .collect();
    assert_eq!(brush.len(), 17);
    assert!(
        picture
            .pixels()
            .all(|p| p.0 == [255, 203, 0, 186] || p.0 == [0, 0, 0, 0])
    );
    let reversed = image::load_from_memory(&adjust("reverse", 5).body)
        .unwrap()
        .into_rgba8();
    assert_eq!(reversed.get_pixel(10, 10).0, [0, 0, 0, 0]);
    assert_eq!(reversed.get_pixel(0, 0).0, [255, 203, 0, 186]);
    let shrunk = image::load_from_memory(&adjust("shrink", 1).body)
        .unwrap()
        .into_rgba8();
    assert!(shrunk.pixels().all(|p| p.0[3] == 0));
    assert!(
        adjust("grow", 2)
            .error(422)
            .contains("expand, shrink, reverse")
    );
    assert!(adjust("expand", -1).error(422).contains("`kernel_size`"));
    let bad = server.post_json(
        "/api/v1/adjust_mask",
        &json!({"mask": "@@", "operate": "expand"}),
    );
    assert!(bad.error(400).starts_with("mask: "));
}

#[test]
fn gen_info_reads_the_prompt_or_nothing() {
    let server = server();
    let png = encode(&DynamicImage::ImageRgb8(photo(8, 8)), ImageFormat::Png);
    let tagged = with_text_chunk(
        &png,
        "parameters",
        "castle\nNegative prompt: people, cars\nSteps: 30",
    );
    assert_eq!(
        server
            .post_file("/api/v1/gen-info", "a.png", &tagged)
            .json(),
        json!({"prompt": "castle", "negative_prompt": "people, cars"})
    );
    assert_eq!(
        server.post_file("/api/v1/gen-info", "b.png", &png).json(),
        json!({"prompt": "", "negative_prompt": ""})
    );
    assert!(
        server
            .post_file("/api/v1/gen-info", "c.txt", b"hello")
            .error(422)
            .contains("not an image")
    );
    assert!(server.post("/api/v1/gen-info", b"{}").error(400).len() > 5);
}

#[test]
fn save_image_writes_whole_files_inside_the_output_dir_only() {
    let root = tempfile::tempdir().unwrap();
    let output = root.path().join("out");
    std::fs::create_dir(&output).unwrap();
    let server = TestServer::start(ServerOptions::new().with_output_dir(&output));
    let png = encode(&DynamicImage::ImageRgb8(photo(8, 8)), ImageFormat::Png);
    let reply = server.post_file("/api/v1/save_image", "result.png", &png);
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(std::fs::read(output.join("result.png")).unwrap(), png);
    for name in [
        "../escape.png",
        "..",
        "sub/x.png",
        "..\\x.png",
        ".hidden.png",
        "",
    ] {
        let message = server
            .post_file("/api/v1/save_image", name, &png)
            .error(400);
        assert!(message.contains("refused"), "{name}: {message}");
    }
    assert!(!root.path().join("escape.png").exists());
    assert!(
        server
            .post_file("/api/v1/save_image", "x.png", b"text")
            .error(422)
            .contains("not an image")
    );
    // Nothing else was written (no temporary files left behind).
    let names: Vec<_> = std::fs::read_dir(&output)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["result.png"]);
    let plain = TestServer::start(ServerOptions::new());
    assert!(
        plain
            .post_file("/api/v1/save_image", "x.png", &png)
            .error(400)
            .contains("--output-dir")
    );
}

#[test]
fn plugin_routes_unknown_routes_and_the_web_app() {
    let server = server();
    for route in [
        "run_plugin_gen_mask",
        "run_plugin_gen_image",
        "switch_plugin_model",
    ] {
        let reply = server.post_json(
            &format!("/api/v1/{route}"),
            &json!({"name": "RemoveBG", "image": "x"}),
        );
        assert!(reply.error(422).contains("no plugins"), "{route}");
    }
    assert!(
        server
            .get("/api/v1/medias")
            .error(404)
            .contains("/api/v1/medias")
    );
    // Without the web app, `/` says how to get it.
    let home = server.get("/");
    assert_eq!(home.status, 404);
    assert!(String::from_utf8_lossy(&home.body).contains("scripts/fetch-iopaint-web.sh"));

    let app = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("index.html"), "<title>IOPaint</title>").unwrap();
    std::fs::create_dir(app.path().join("assets")).unwrap();
    std::fs::write(app.path().join("assets/app.js"), "console.log(1)").unwrap();
    let with_app = TestServer::start(ServerOptions::new().with_web_app(app.path()));
    assert_eq!(with_app.get("/").body, b"<title>IOPaint</title>");
    let js = with_app.get("/assets/app.js");
    assert_eq!(
        (js.status, js.body.as_slice()),
        (200, &b"console.log(1)"[..])
    );
    assert!(js.header("content-type").unwrap().contains("javascript"));
}

/// Copies the tiny Stable Diffusion pipeline `kind` of `inpaint-models` (made by
/// `scripts/make-diffusion-fixtures.py`: real architectures, random weights) to `to`.
fn copy_sd_fixture(kind: &str, to: &std::path::Path) {
    copy_fixture_folder(&format!("sd15-tiny-{kind}"), to);
}

/// Copies the fixture folder `name` of `inpaint-models/tests/fixtures/diffusion` to `to`.
fn copy_fixture_folder(name: &str, to: &std::path::Path) {
    fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
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
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../inpaint-models/tests/fixtures/diffusion")
        .join(name);
    copy_dir(&from, to);
}

/// Stable Diffusion folders in the model folder are listed under the app's Stable Diffusion
/// tabs (IOPaint's `diffusers_sd_inpaint` for a 9-channel UNet, `diffusers_sd` for a plain
/// one; `diffusers_sdxl_inpaint` and `diffusers_sdxl` for SDXL) with the prompt box, and switching to one loads it through the model manager and
/// paints with a prompt.
#[test]
fn stable_diffusion_folders_are_listed_and_served() {
    let models = tempfile::tempdir().unwrap();
    copy_sd_fixture("inpaint", &models.path().join("sd-inpaint"));
    copy_sd_fixture("plain", &models.path().join("sd-plain"));
    copy_fixture_folder("sdxl-tiny-inpaint", &models.path().join("xl-inpaint"));
    copy_fixture_folder("sdxl-tiny-plain", &models.path().join("xl-plain"));
    let server = TestServer::start(
        ServerOptions::new()
            .with_model("telea")
            .with_model_dir(models.path()),
    );
    let config = server.get("/api/v1/server-config").json();
    let infos = config["modelInfos"].as_array().unwrap();
    let info = |name: &str| {
        infos
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {infos:?}"))
            .clone()
    };
    let (inpaint, plain) = (info("sd-inpaint"), info("sd-plain"));
    assert_eq!(inpaint["model_type"], "diffusers_sd_inpaint", "{inpaint}");
    assert_eq!(plain["model_type"], "diffusers_sd", "{plain}");
    let (xl_inpaint, xl_plain) = (info("xl-inpaint"), info("xl-plain"));
    assert_eq!(xl_inpaint["model_type"], "diffusers_sdxl_inpaint");
    assert_eq!(xl_plain["model_type"], "diffusers_sdxl");
    for sd in [&inpaint, &plain, &xl_inpaint, &xl_plain] {
        assert_eq!(sd["need_prompt"], true, "{sd}");
        assert_eq!(sd["support_strength"], true, "{sd}");
    }
    // The graphs inside the folders are not offered as models of their own.
    assert!(
        infos
            .iter()
            .all(|m| !m["name"].as_str().unwrap().contains("model.onnx")),
        "{infos:?}"
    );
    assert_eq!(info("telea")["need_prompt"], false);

    let switched = server.post_json("/api/v1/model", &json!({"name": "sd-inpaint"}));
    assert_eq!(switched.status, 200);
    let current = server.get("/api/v1/model").json();
    assert_eq!(current["name"], "sd-inpaint");
    assert_eq!(current["model_type"], "diffusers_sd_inpaint");
    assert_eq!(current["need_prompt"], true);

    let image = encode(&DynamicImage::ImageRgb8(photo(64, 64)), ImageFormat::Png);
    let mask = encode(
        &DynamicImage::ImageLuma8(rect_mask(64, 64, (16, 16, 32, 32))),
        ImageFormat::Png,
    );
    let mut body = inpaint_body(&image, &mask);
    body["prompt"] = json!("a wooden bench");
    body["sd_steps"] = json!(2);
    let reply = server.post_json("/api/v1/inpaint", &body);
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let out = image::load_from_memory(&reply.body).unwrap();
    assert_eq!((out.width(), out.height()), (64, 64));
}

/// IOPaint's extender through `/api/v1/inpaint` on the tiny Stable Diffusion pipeline: the app
/// is told the model outpaints, `use_extender` with its box answers the larger canvas with the
/// picture's pixels and alpha kept, a box off the picture is a 400, a canvas beyond the
/// server's limits a 413; an erase model ignores the extender, as IOPaint's do.
#[test]
fn use_extender_outpaints_with_a_diffusion_model_and_is_ignored_by_erase_models() {
    let models = tempfile::tempdir().unwrap();
    copy_sd_fixture("inpaint", &models.path().join("sd-inpaint"));
    let server = TestServer::start(
        ServerOptions::new()
            .with_model("sd-inpaint")
            .with_model_dir(models.path())
            .with_limits(inpaint_core::Limits::new(100, 100 * 100)),
    );
    let config = server.get("/api/v1/server-config").json();
    let infos = config["modelInfos"].as_array().unwrap();
    let outpaints = |name: &str| {
        infos.iter().find(|m| m["name"] == name).unwrap()["support_outpainting"].clone()
    };
    assert_eq!(outpaints("sd-inpaint"), true);
    assert_eq!(outpaints("telea"), false);

    let picture = rgba(&photo(48, 40), 200);
    let image = encode(&DynamicImage::ImageRgba8(picture.clone()), ImageFormat::Png);
    // The app sends an empty mask when only the extender is on.
    let mask = encode(
        &DynamicImage::ImageLuma8(image::GrayImage::new(48, 40)),
        ImageFormat::Png,
    );
    let mut body = inpaint_body(&image, &mask);
    body["sd_steps"] = json!(1);
    body["sd_strength"] = json!(0.3);
    // No feathering, so that the picture's pixels are kept exactly (with the app's 12 they
    // are blended near the new area, as in IOPaint).
    body["sd_mask_blur"] = json!(0);
    body["use_extender"] = json!(true);
    body["extender_x"] = json!(-16);
    body["extender_y"] = json!(0);
    body["extender_width"] = json!(64);
    body["extender_height"] = json!(48);
    let reply = server.post_json("/api/v1/inpaint", &body);
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let out = image::load_from_memory(&reply.body).unwrap().into_rgba8();
    assert_eq!(out.dimensions(), (64, 48));
    for (x, y, p) in picture.enumerate_pixels() {
        assert_eq!(out.get_pixel(x + 16, y), p, "({x}, {y}) changed");
    }
    assert_eq!(out.get_pixel(0, 0).0[3], 255, "the new area is opaque");
    assert_eq!(out.get_pixel(20, 45).0[3], 255, "the new area is opaque");

    let mut off = body.clone();
    off["extender_x"] = json!(48);
    let reply = server.post_json("/api/v1/inpaint", &off);
    assert!(reply.error(400).contains("does not overlap"));
    let mut huge = body.clone();
    huge["extender_width"] = json!(200);
    let reply = server.post_json("/api/v1/inpaint", &huge);
    assert!(reply.error(413).contains("max side 100"));

    let switched = server.post_json("/api/v1/model", &json!({"name": "telea"}));
    assert_eq!(switched.status, 200);
    let reply = server.post_json("/api/v1/inpaint", &body);
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let out = image::load_from_memory(&reply.body).unwrap();
    assert_eq!(
        (out.width(), out.height()),
        (48, 40),
        "telea ignores the extender"
    );
}

/// IOPaint's diffusion options on the tiny Stable Diffusion pipeline through
/// `/api/v1/inpaint`: `sd_mask_blur` (IOPaint's default 11 when absent) feathers past the
/// mask and 0 keeps every pixel outside it; `sd_keep_unmasked_area: false` returns the whole
/// output; `sd_scale` and `sd_match_histograms` change the fill; out-of-range values are 422s.
/// An erase model ignores all of them, as IOPaint's do.
#[test]
fn diffusion_options_follow_iopaint_and_are_ignored_by_erase_models() {
    let models = tempfile::tempdir().unwrap();
    copy_sd_fixture("inpaint", &models.path().join("sd-inpaint"));
    let server = TestServer::start(
        ServerOptions::new()
            .with_model("sd-inpaint")
            .with_model_dir(models.path()),
    );
    let picture = photo(64, 64);
    let image = encode(&DynamicImage::ImageRgb8(picture.clone()), ImageFormat::Png);
    let hole = (16, 16, 32, 32);
    let mask = encode(
        &DynamicImage::ImageLuma8(rect_mask(64, 64, hole)),
        ImageFormat::Png,
    );
    let inside = |x: u32, y: u32| (16..48).contains(&x) && (16..48).contains(&y);
    let mut body = inpaint_body(&image, &mask);
    body["sd_steps"] = json!(1);
    let run = |changes: &[(&str, serde_json::Value)]| {
        let mut body = body.clone();
        for (field, value) in changes {
            body[*field] = value.clone();
        }
        let reply = server.post_json("/api/v1/inpaint", &body);
        assert_eq!(
            reply.status,
            200,
            "{changes:?}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        image::load_from_memory(&reply.body).unwrap().into_rgb8()
    };
    let outside_changed = |out: &image::RgbImage| {
        out.enumerate_pixels()
            .filter(|&(x, y, p)| !inside(x, y) && picture.get_pixel(x, y) != p)
            .map(|(x, y, _)| (x, y))
            .collect::<Vec<_>>()
    };

    let sharp = run(&[("sd_mask_blur", json!(0))]);
    assert_eq!(
        outside_changed(&sharp),
        [],
        "sd_mask_blur 0 keeps the outside"
    );
    // IOPaint's default: feathered up to about 11 pixels past the mask, no further.
    let mut absent = body.clone();
    absent.as_object_mut().unwrap().remove("sd_mask_blur");
    let reply = server.post_json("/api/v1/inpaint", &absent);
    assert_eq!(reply.status, 200);
    let feathered = image::load_from_memory(&reply.body).unwrap().into_rgb8();
    let changed = outside_changed(&feathered);
    assert!(changed.contains(&(15, 30)), "no feathering: {changed:?}");
    assert!(
        changed
            .iter()
            .all(|&(x, y)| (4..60).contains(&x) && (4..60).contains(&y)),
        "{changed:?}"
    );
    let whole = run(&[
        ("sd_mask_blur", json!(0)),
        ("sd_keep_unmasked_area", json!(false)),
    ]);
    assert_ne!(whole.get_pixel(0, 0), picture.get_pixel(0, 0));
    for (field, value) in [
        ("sd_scale", json!(0.5)),
        ("sd_match_histograms", json!(true)),
    ] {
        let out = run(&[("sd_mask_blur", json!(0)), (field, value)]);
        assert_eq!(outside_changed(&out), [], "{field}");
        assert_ne!(out, sharp, "{field} changed nothing");
    }
    for (field, value) in [("sd_scale", json!(1.5)), ("sd_mask_blur", json!(-1))] {
        let mut bad = body.clone();
        bad[field] = value;
        let reply = server.post_json("/api/v1/inpaint", &bad);
        assert!(reply.error(422).contains(field));
    }

    let switched = server.post_json("/api/v1/model", &json!({"name": "telea"}));
    assert_eq!(switched.status, 200);
    let erased = run(&[
        ("sd_mask_blur", json!(12)),
        ("sd_keep_unmasked_area", json!(false)),
        ("sd_scale", json!(0.5)),
        ("sd_match_histograms", json!(true)),
        ("use_croper", json!(true)),
    ]);
    assert_eq!(outside_changed(&erased), [], "telea ignores them");
    assert_ne!(erased, picture, "telea filled the hole");
}

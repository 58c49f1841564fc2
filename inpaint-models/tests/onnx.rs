//! The neural architectures on ONNX Runtime, through the whole pipeline, with the tiny graphs of
//! `tests/fixtures/onnx` (see its README): each fills the hole with a colour computed from the
//! fill constant C and the mean of the known pixels, so every conversion is visible in the
//! result. Needs ONNX Runtime: `scripts/fetch-onnxruntime.sh` (the test command runs it).

use std::path::PathBuf;

use image::{Rgb, RgbImage};
use inpaint_core::{
    Error, HdStrategy, Image, InpaintModel, InpaintOptions, Mask, Request, inpaint,
};
use inpaint_models::onnx::{
    Architecture, Device, DevicePolicy, OnnxModel, OnnxOptions, OutputRange, RuntimeSearch,
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(name)
}

fn load(name: &str, arch: Architecture) -> OnnxModel {
    load_with(name, arch, &OnnxOptions::default())
}

fn load_with(name: &str, arch: Architecture, options: &OnnxOptions) -> OnnxModel {
    OnnxModel::load(fixture(name), arch, options)
        .unwrap_or_else(|err| panic!("{name} as {arch}: {}", err.full_message()))
}

fn load_error(name: &str, arch: Architecture) -> String {
    match OnnxModel::load(fixture(name), arch, &OnnxOptions::default()) {
        Ok(model) => panic!("{name} loaded as {arch}: {model:?}"),
        Err(err) => err.full_message(),
    }
}

/// The fill constant C of the fixtures, 0–1.
const C: [f64; 3] = [0.6, 0.1, 0.3];

/// The value the fixtures put in the hole, 0–255 before conversion to bytes, for a uniform
/// image of colour `p` (so the mean of the known pixels is `p` whatever the padding or resizing).
fn expected_fill(arch: Architecture, p: [u8; 3]) -> [f64; 3] {
    std::array::from_fn(|c| {
        let p = f64::from(p[c]);
        match arch {
            // 0–1 domain: 255·(C + p/255/4).
            Architecture::Lama | Architecture::LamaDynamic | Architecture::MiganPipeline => {
                255.0 * C[c] + 0.25 * p
            }
            // −1…1 domain: (2C − 1) + (p/127.5 − 1)/4, back to bytes.
            _ => ((2.0 * C[c] - 1.0) + 0.25 * (p / 127.5 - 1.0)) * 127.5 + 127.5,
        }
    })
}

/// A uniform image of colour `p` with a non-symmetric hole (an L and a square) in `holes`.
fn case(width: u32, height: u32, p: [u8; 3], holes: &[(u32, u32, u32, u32)]) -> (Image, Mask) {
    let image = Image::from_rgb(RgbImage::from_pixel(width, height, Rgb(p))).unwrap();
    let mut mask = image::GrayImage::new(width, height);
    for &(x0, y0, x1, y1) in holes {
        for y in y0..y1 {
            for x in x0..x1 {
                mask.put_pixel(x, y, image::Luma([255]));
            }
        }
    }
    (image, Mask::from_gray(mask).unwrap())
}

const L_HOLE: [(u32, u32, u32, u32); 2] = [(40, 30, 90, 100), (90, 80, 150, 100)];

/// Every pixel outside the mask is the input's; every pixel inside it is within one level of
/// `fill`, except within `edge` px of the hole's border (where a resize blends, and only
/// values between the input and the fill may appear).
fn assert_filled(result: &Image, input: &Image, mask: &Mask, fill: [f64; 3], edge: u32) {
    let (width, height) = result.dimensions();
    let p = input.rgb().get_pixel(0, 0).0;
    let is_hole = |x: i64, y: i64| {
        x >= 0
            && y >= 0
            && x < i64::from(width)
            && y < i64::from(height)
            && mask.is_fill(x as u32, y as u32) == Some(true)
    };
    let mut interior = 0;
    for y in 0..height {
        for x in 0..width {
            let got = result.rgb().get_pixel(x, y).0;
            if !is_hole(x.into(), y.into()) {
                assert_eq!(got, p, "outside the mask at ({x},{y})");
                continue;
            }
            let e = i64::from(edge);
            let deep =
                (-e..=e).all(|dy| (-e..=e).all(|dx| is_hole(i64::from(x) + dx, i64::from(y) + dy)));
            for c in 0..3 {
                let v = f64::from(got[c]);
                if deep {
                    assert!(
                        (v - fill[c]).abs() <= 1.0,
                        "channel {c} at ({x},{y}) is {v}, expected {:.2} (pixel {got:?})",
                        fill[c]
                    );
                } else {
                    // Bicubic resizing rings, most at corners (seen: 21% of the step).
                    let ring = 0.3 * (fill[c] - f64::from(p[c])).abs();
                    let lo = fill[c].min(f64::from(p[c])) - ring;
                    let hi = fill[c].max(f64::from(p[c])) + ring;
                    assert!(
                        v >= lo - 1.0 && v <= hi + 1.0,
                        "channel {c} at ({x},{y}) is {v}, outside {lo}..{hi}"
                    );
                }
            }
            interior += usize::from(deep);
        }
    }
    assert!(
        interior > 100,
        "only {interior} interior hole pixels checked"
    );
}

fn run(model: &mut OnnxModel, image: &Image, mask: &Mask) -> Image {
    inpaint(model, image, mask, &InpaintOptions::default())
        .unwrap_or_else(|err| panic!("{}", err.full_message()))
}

/// The colour of the uniform test images: 0.25·p has fractional parts away from .0, so one
/// level of tolerance still tells a wrong conversion from rounding.
const P: [u8; 3] = [42, 121, 201];

#[test]
fn each_architecture_fills_an_odd_sized_image_with_the_expected_colour() {
    let cases = [
        ("lama_fixed512.onnx", Architecture::Lama),
        ("lama_dynamic.onnx", Architecture::LamaDynamic),
        ("lama_dynamic_255.onnx", Architecture::LamaDynamic),
        ("lama_dynamic_fp16.onnx", Architecture::LamaDynamic),
        ("migan.onnx", Architecture::Migan),
        ("migan_pipeline.onnx", Architecture::MiganPipeline),
        ("mat.onnx", Architecture::Mat),
        ("mat_no_noise.onnx", Architecture::Mat),
        ("fcf.onnx", Architecture::Fcf),
    ];
    let (image, mask) = case(301, 187, P, &L_HOLE);
    for (file, arch) in cases {
        let mut model = load(file, arch);
        assert_eq!(model.architecture(), arch);
        assert_eq!(model.execution().device, Device::Cpu);
        let result = run(&mut model, &image, &mask);
        // No resize on this path (the crop fits in 512), so the fill is exact to the level.
        assert_filled(&result, &image, &mask, expected_fill(arch, P), 0);
    }
}

#[test]
fn the_fill_depends_on_the_known_pixels_in_each_channel() {
    // A channel swap or a wrong value range on the way in changes the mean the graph sees.
    let other = [202, 150, 90];
    let (image, mask) = case(97, 61, other, &[(10, 10, 40, 30)]);
    for (file, arch) in [
        ("lama_dynamic.onnx", Architecture::LamaDynamic),
        ("migan.onnx", Architecture::Migan),
        ("mat_no_noise.onnx", Architecture::Mat),
    ] {
        let mut model = load(file, arch);
        let result = run(&mut model, &image, &mask);
        assert_filled(&result, &image, &mask, expected_fill(arch, other), 0);
    }
}

#[test]
fn fixed_size_models_resize_large_crops_and_back() {
    // The crop around this hole is larger than 512, so it is shrunk, run and enlarged again.
    let holes = [(100, 200, 800, 700), (800, 650, 900, 700)];
    let (image, mask) = case(1201, 803, P, &holes);
    for (file, arch) in [
        ("lama_fixed512.onnx", Architecture::Lama),
        ("migan.onnx", Architecture::Migan),
    ] {
        let mut model = load(file, arch);
        let result = run(&mut model, &image, &mask);
        assert_filled(&result, &image, &mask, expected_fill(arch, P), 6);
    }
}

/// The diffusion options are refused for fixed-size models before their crop path and before
/// the empty-mask shortcut, which would otherwise drop them silently.
#[test]
fn fixed_size_models_refuse_diffusion_options_whatever_the_mask() {
    let croper = Some(inpaint_core::CropBox {
        x: 0,
        y: 0,
        width: 64,
        height: 64,
    });
    let options = [
        ("croper", InpaintOptions::default().with_croper(croper)),
        (
            "sd_mask_blur",
            InpaintOptions::default().with_sd_mask_blur(11),
        ),
    ];
    for (file, arch) in [
        ("migan.onnx", Architecture::Migan),
        ("fcf.onnx", Architecture::Fcf),
    ] {
        let mut model = load(file, arch);
        assert!(model.spec().fixed_size.is_some(), "{file}");
        for holes in [&L_HOLE[..], &[]] {
            let (image, mask) = case(301, 187, P, holes);
            for (name, options) in &options {
                let err = inpaint(&mut model, &image, &mask, options).unwrap_err();
                assert!(matches!(err, Error::InvalidInput { .. }), "{file}: {err}");
                assert!(err.to_string().contains(name), "{file}: {err}");
            }
        }
    }
}

#[test]
fn dynamic_lama_takes_each_hd_strategy() {
    let (image, mask) = case(1203, 805, P, &[(300, 200, 500, 330)]);
    let mut model = load("lama_dynamic.onnx", Architecture::LamaDynamic);
    for strategy in [HdStrategy::Original, HdStrategy::Crop, HdStrategy::Resize] {
        let options = InpaintOptions::default().with_hd_strategy(strategy);
        let result = inpaint(&mut model, &image, &mask, &options).unwrap();
        let edge = if strategy == HdStrategy::Resize { 4 } else { 0 };
        assert_filled(
            &result,
            &image,
            &mask,
            expected_fill(Architecture::LamaDynamic, P),
            edge,
        );
    }
}

#[test]
fn one_loaded_model_runs_several_images_in_a_row() {
    let mut model = load("lama_fixed512.onnx", Architecture::Lama);
    for (i, (width, height)) in [(301, 187), (512, 512), (64, 700), (33, 21)]
        .into_iter()
        .enumerate()
    {
        let p = [P[0], P[1].wrapping_add(4 * i as u8), P[2]];
        let (image, mask) = case(width, height, p, &[(5, 5, 20, 15)]);
        let result = run(&mut model, &image, &mask);
        assert_filled(
            &result,
            &image,
            &mask,
            expected_fill(Architecture::Lama, p),
            0,
        );
    }
}

#[test]
fn an_undeclared_output_range_is_checked_not_guessed() {
    let (image, mask) = case(64, 48, P, &[(8, 8, 30, 30)]);
    let mut model = load("lama_dynamic_undeclared.onnx", Architecture::LamaDynamic);
    let err = inpaint(&mut model, &image, &mask, &InpaintOptions::default()).unwrap_err();
    let message = err.full_message();
    assert!(
        message.contains("0-255") && message.contains("outside the assumed 0–1"),
        "{message}"
    );

    let options = OnnxOptions::default().with_output_range(OutputRange::Byte);
    let mut model = load_with(
        "lama_dynamic_undeclared.onnx",
        Architecture::LamaDynamic,
        &options,
    );
    let result = run(&mut model, &image, &mask);
    assert_filled(
        &result,
        &image,
        &mask,
        expected_fill(Architecture::LamaDynamic, P),
        0,
    );
}

#[test]
fn float16_graphs_are_fed_and_read_in_float16() {
    let model = load("lama_dynamic_fp16.onnx", Architecture::LamaDynamic);
    assert!(model.is_f16());
    assert!(!load("lama_dynamic.onnx", Architecture::LamaDynamic).is_f16());
}

#[test]
fn mat_noise_comes_from_the_seed() {
    let (image, mask) = case(120, 90, P, &[(20, 20, 70, 60)]);
    let result = |seed| {
        let options = OnnxOptions::default().with_seed(seed);
        let mut model = load_with("mat.onnx", Architecture::Mat, &options);
        run(&mut model, &image, &mask)
    };
    assert_eq!(result(240).rgb(), result(240).rgb());
}

#[test]
fn files_of_the_wrong_contract_are_refused_at_load_naming_the_mismatch() {
    let cases = [
        (
            "wrong_names.onnx",
            Architecture::Lama,
            "no input named `image`",
        ),
        (
            "wrong_size.onnx",
            Architecture::Lama,
            "expected a fixed 512×512 input, found 256×256",
        ),
        (
            "wrong_dtype.onnx",
            Architecture::Lama,
            "input `mask` float32 or float16 [batch,1,H/W,H/W] expected, found i64",
        ),
        (
            "wrong_rank.onnx",
            Architecture::Lama,
            "input `image` float32 or float16 [batch,3,H/W,H/W] expected, found f32 [3, 512, 512]",
        ),
        ("migan.onnx", Architecture::Lama, "no input named `image`"),
        (
            "lama_fixed512.onnx",
            Architecture::Migan,
            "no input named `input`",
        ),
        ("lama_fixed512.onnx", Architecture::LamaDynamic, ""),
        (
            "lama_dynamic.onnx",
            Architecture::Lama,
            "found symbolic height and width",
        ),
        ("mat.onnx", Architecture::Lama, "unexpected input `noise`"),
        (
            "migan_pipeline.onnx",
            Architecture::LamaDynamic,
            "expected, found u8",
        ),
        (
            "lama_dynamic.onnx",
            Architecture::MiganPipeline,
            "expected, found f32",
        ),
    ];
    for (file, arch, needle) in cases {
        if needle.is_empty() {
            // A fixed square graph is a valid dynamic LaMa: it then runs as a fixed-size model.
            let model = load(file, arch);
            assert_eq!(model.spec().fixed_size, Some(512));
            continue;
        }
        let message = load_error(file, arch);
        assert!(
            message.contains(&format!("does not have the `{arch}` contract"))
                && message.contains(needle),
            "{file} as {arch}: {message}"
        );
    }
}

#[test]
fn garbage_truncated_and_missing_files_are_errors() {
    // A file ONNX Runtime cannot parse is the model's fault (Error::Model), not the runtime's:
    // the caller must replace the file.
    let err = OnnxModel::from_bytes(
        b"not an onnx file",
        Architecture::Lama,
        &OnnxOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Model { .. }), "{err:?}");
    assert!(
        err.full_message()
            .contains("cannot load the model <16 bytes in memory>"),
        "{}",
        err.full_message()
    );

    let whole = std::fs::read(fixture("lama_dynamic.onnx")).unwrap();
    let err = OnnxModel::from_bytes(
        &whole[..whole.len() / 2],
        Architecture::LamaDynamic,
        &OnnxOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Model { .. }), "{err:?}");

    let err = OnnxModel::load(
        fixture("absent.onnx"),
        Architecture::Lama,
        &OnnxOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
}

#[test]
fn a_non_multiple_of_8_reaching_a_dynamic_graph_is_a_model_error_not_a_crash() {
    // The pipeline pads to 8, so this only happens when forward is called directly.
    let mut model = load("lama_dynamic.onnx", Architecture::LamaDynamic);
    let image = RgbImage::from_pixel(12, 20, Rgb(P));
    let mask = Mask::from_gray(image::GrayImage::from_pixel(12, 20, image::Luma([255]))).unwrap();
    let err = model
        .forward(&image, &mask, &Request::default())
        .unwrap_err();
    assert!(matches!(err, Error::Model { .. }), "{err:?}");
    assert!(
        err.full_message().contains("12×20"),
        "{}",
        err.full_message()
    );
}

#[test]
fn devices_are_required_or_preferred_never_swapped_silently() {
    let options = |policy| OnnxOptions::default().with_device(policy);
    #[cfg(not(feature = "cuda"))]
    {
        let err = OnnxModel::load(
            fixture("lama_dynamic.onnx"),
            Architecture::LamaDynamic,
            &options(DevicePolicy::Require(Device::Cuda { device_id: 0 })),
        )
        .unwrap_err();
        assert!(matches!(err, Error::Runtime { .. }), "{err:?}");
        let message = err.full_message();
        assert!(
            message.contains("cannot use cuda") && message.contains("`cuda` feature"),
            "{message}"
        );

        let model = load_with(
            "lama_dynamic.onnx",
            Architecture::LamaDynamic,
            &options(DevicePolicy::Prefer(vec![
                Device::Cuda { device_id: 0 },
                Device::Cpu,
            ])),
        );
        let report = model.execution();
        assert_eq!(report.device, Device::Cpu);
        assert_eq!(report.refused.len(), 1);
        assert_eq!(report.refused[0].0, Device::Cuda { device_id: 0 });
        assert!(
            report.to_string().starts_with("cpu (cuda refused: "),
            "{report}"
        );
    }
    let model = load_with(
        "lama_dynamic.onnx",
        Architecture::LamaDynamic,
        &options(DevicePolicy::for_flag(Device::Auto)),
    );
    // This machine has no accelerator this build can use: auto says so, and runs on the CPU.
    assert_eq!(model.execution().device, Device::Cpu);
}

#[test]
fn a_second_runtime_cannot_replace_the_loaded_one() {
    let _model = load("lama_dynamic.onnx", Architecture::LamaDynamic);
    let runtime = inpaint_models::onnx::Runtime::loaded().unwrap();
    assert!(
        runtime.version().starts_with("1.31"),
        "{}",
        runtime.version()
    );
    let bogus = std::env::temp_dir().join("no-such-libonnxruntime.so");
    let options =
        OnnxOptions::default().with_runtime(RuntimeSearch::default().with_library(&bogus));
    let err = OnnxModel::load(
        fixture("lama_dynamic.onnx"),
        Architecture::LamaDynamic,
        &options,
    )
    .unwrap_err();
    let message = err.full_message();
    assert!(
        matches!(err, Error::Runtime { .. }) && message.contains("already loaded"),
        "{message}"
    );
}

//! Calls the extern functions directly, as C would.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

use std::ffi::{CStr, c_char};
use std::ptr;

use inpaint_core::image::{GrayImage, Luma, Rgb, RgbImage, RgbaImage};
use inpaint_core::{Image, InpaintOptions, Mask, inpaint};
use inpaint_ffi::*;

type Model = *mut inpaint_model;

const W: u32 = 24;
const H: u32 = 18;

fn photo() -> RgbImage {
    RgbImage::from_fn(W, H, |x, y| {
        Rgb([(x * 10) as u8, (y * 13) as u8, ((x + y) * 5) as u8])
    })
}

fn hole() -> GrayImage {
    GrayImage::from_fn(W, H, |x, y| {
        Luma([if (8..14).contains(&x) && (6..11).contains(&y) {
            255
        } else {
            0
        }])
    })
}

fn view(data: &[u8], width: u32, height: u32, stride: usize, format: u32) -> inpaint_image_view {
    inpaint_image_view {
        data: data.as_ptr(),
        len: data.len(),
        width,
        height,
        stride,
        format,
    }
}

fn str_of(p: *const c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: the library returns NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned()
}

/// Takes the message out of an error object and frees it.
fn take_message(err: *mut inpaint_error) -> String {
    // SAFETY: a live error from the library.
    let message = str_of(unsafe { inpaint_error::inpaint_error_message(err) });
    // SAFETY: as above, freed once.
    unsafe { inpaint_error::inpaint_error_free(err) };
    message
}

fn load(name: &CStr) -> Model {
    let mut model = ptr::null_mut();
    // SAFETY: valid arguments.
    let status = unsafe {
        inpaint_model::inpaint_model_load_classical(name.as_ptr(), &mut model, ptr::null_mut())
    };
    assert_eq!(status, inpaint_status::Ok);
    model
}

fn free(model: Model) {
    // SAFETY: a live model, freed once.
    unsafe { inpaint_model::inpaint_model_free(model) };
}

/// Runs `model` and returns the status and the error message, if any.
fn run(
    model: Model,
    image: &inpaint_image_view,
    mask: &inpaint_image_view,
    out: &mut [u8],
    out_len: usize,
) -> (inpaint_status, Option<String>) {
    assert!(out_len <= out.len());
    let mut err = ptr::null_mut();
    // SAFETY: valid views over live slices, `out` writable for `out_len` bytes.
    let status = unsafe {
        inpaint_model::inpaint_model_run(model, image, mask, out.as_mut_ptr(), out_len, &mut err)
    };
    assert_eq!(status == inpaint_status::Ok, err.is_null());
    (status, (!err.is_null()).then(|| take_message(err)))
}

fn expected(name: &str, image: Image) -> Image {
    let mut model = inpaint_models::by_name(name, &inpaint_models::ModelOptions::new()).unwrap();
    let mask = Mask::from_gray(hole()).unwrap();
    inpaint(&mut model, &image, &mask, &InpaintOptions::default()).unwrap()
}

#[test]
fn version_matches_the_crate_and_the_header() {
    assert_eq!(str_of(inpaint_version()), env!("CARGO_PKG_VERSION"));
    let header = include_str!("../include/inpaint.h");
    for (part, value) in [
        ("MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        let line = format!("#define INPAINT_VERSION_{part} {value}\n");
        assert!(header.contains(&line), "header lacks `{line}`");
    }
}

#[test]
fn status_str_describes_every_number() {
    for status in inpaint_status::ALL {
        assert_eq!(inpaint_status::from_u32(status as u32), Some(status));
        assert_ne!(str_of(inpaint_status_str(status as u32)), "unknown status");
    }
    let numbers: Vec<u32> = inpaint_status::ALL.iter().map(|&s| s as u32).collect();
    assert_eq!(
        numbers,
        [
            0, 100, 110, 120, 130, 199, 200, 210, 300, 310, 900, 901, 902, 999
        ]
    );
    assert_eq!(
        str_of(inpaint_status_str(210)),
        "ONNX Runtime missing, too old, or the device refused"
    );
    assert_eq!(str_of(inpaint_status_str(0)), "ok");
    for unknown in [1, 101, 998, 12345, u32::MAX] {
        assert_eq!(str_of(inpaint_status_str(unknown)), "unknown status");
    }
}

#[test]
fn null_parameters_are_a_status() {
    let mut model = ptr::dangling_mut::<inpaint_model>();
    let mut err = ptr::null_mut();
    // SAFETY: NULL name, valid outputs.
    let status = unsafe {
        inpaint_model::inpaint_model_load(ptr::null(), ptr::null(), &mut model, &mut err)
    };
    assert_eq!(status, inpaint_status::NullParameter);
    assert!(model.is_null(), "model_out must be NULL after a failure");
    assert_eq!(take_message(err), "`name` must not be NULL");
    // SAFETY: NULL model_out and err_out are allowed to be passed.
    let status = unsafe {
        inpaint_model::inpaint_model_load(
            c"telea".as_ptr(),
            ptr::null(),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(status, inpaint_status::NullParameter);

    let model = load(c"telea");
    let image = photo();
    let mask = hole();
    let iv = view(
        image.as_raw(),
        W,
        H,
        W as usize * 3,
        INPAINT_PIXEL_FORMAT_RGB8,
    );
    let mv = view(mask.as_raw(), W, H, W as usize, INPAINT_PIXEL_FORMAT_GRAY8);
    let mut out = vec![0u8; image.len()];
    let n = out.len();
    // SAFETY: each call has exactly one NULL among otherwise valid arguments.
    unsafe {
        let o = out.as_mut_ptr();
        let e = ptr::null_mut();
        use inpaint_model as m;
        assert_eq!(
            m::inpaint_model_run(ptr::null_mut(), &iv, &mv, o, n, e),
            inpaint_status::NullParameter
        );
        assert_eq!(
            m::inpaint_model_run(model, ptr::null(), &mv, o, n, e),
            inpaint_status::NullParameter
        );
        assert_eq!(
            m::inpaint_model_run(model, &iv, ptr::null(), o, n, e),
            inpaint_status::NullParameter
        );
        assert_eq!(
            m::inpaint_model_run(model, &iv, &mv, ptr::null_mut(), n, e),
            inpaint_status::NullParameter
        );
        let null_data = inpaint_image_view {
            data: ptr::null(),
            ..iv
        };
        assert_eq!(
            m::inpaint_model_run(model, &null_data, &mv, o, n, e),
            inpaint_status::NullParameter
        );
        assert!(m::inpaint_model_name(ptr::null()).is_null());
        assert!(m::inpaint_model_device(ptr::null()).is_null());
        assert!(inpaint_error::inpaint_error_message(ptr::null()).is_null());
        assert_eq!(
            inpaint_error::inpaint_error_status(ptr::null()),
            inpaint_status::NullParameter
        );
        assert_eq!(
            inpaint_run_options::inpaint_run_options_set_crop_margin(ptr::null_mut(), 1),
            inpaint_status::NullParameter
        );
        assert_eq!(
            inpaint_model_options::inpaint_model_options_set_radius(ptr::null_mut(), 1.0),
            inpaint_status::NullParameter
        );
        // Freeing NULL is a no-op.
        m::inpaint_model_free(ptr::null_mut());
        inpaint_error::inpaint_error_free(ptr::null_mut());
        inpaint_run_options::inpaint_run_options_free(ptr::null_mut());
        inpaint_model_options::inpaint_model_options_free(ptr::null_mut());
    }
    assert!(out.iter().all(|&b| b == 0), "nothing written on failure");
    free(model);
}

#[test]
fn invalid_utf8_is_a_status() {
    let mut model = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: a NUL-terminated, non-UTF-8 name.
    let status = unsafe {
        inpaint_model::inpaint_model_load_classical(c"tel\xffa".as_ptr(), &mut model, &mut err)
    };
    assert_eq!(status, inpaint_status::InvalidUtf8);
    assert!(model.is_null());
    assert!(take_message(err).contains("not valid UTF-8"));
}

#[test]
fn unknown_names_list_the_known_ones() {
    let mut model = ptr::dangling_mut::<inpaint_model>();
    let mut err = ptr::null_mut();
    // SAFETY: valid arguments.
    let status = unsafe {
        inpaint_model::inpaint_model_load_classical(c"lama".as_ptr(), &mut model, &mut err)
    };
    assert_eq!(status, inpaint_status::Unsupported);
    assert!(model.is_null());
    // SAFETY: a live error.
    let status = unsafe { inpaint_error::inpaint_error_status(err) };
    assert_eq!(status, inpaint_status::Unsupported);
    let message = take_message(err);
    for name in inpaint_models::MODEL_NAMES {
        assert!(message.contains(name), "{message}");
    }
    assert_eq!(
        message.contains("openai-compat"),
        cfg!(feature = "openai"),
        "{message}"
    );
}

/// `inpaint_model_load_onnx` with these arguments: the status, the model (NULL on failure) and
/// the error message, if any.
fn load_onnx(
    path: *const c_char,
    arch: *const c_char,
    device: *const c_char,
) -> (inpaint_status, Model, Option<String>) {
    let mut model = ptr::dangling_mut::<inpaint_model>();
    let mut err = ptr::null_mut();
    // SAFETY: NULL or NUL-terminated strings; valid outputs.
    let status =
        unsafe { inpaint_model::inpaint_model_load_onnx(path, arch, device, &mut model, &mut err) };
    assert_eq!(status == inpaint_status::Ok, err.is_null());
    assert_eq!(status == inpaint_status::Ok, !model.is_null());
    (status, model, (!err.is_null()).then(|| take_message(err)))
}

/// The path of one of inpaint-models' ONNX test graphs (see their README), NUL-terminated.
#[cfg(feature = "onnx")]
fn fixture(name: &str) -> std::ffi::CString {
    let path = format!(
        "{}/../inpaint-models/tests/fixtures/onnx/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::ffi::CString::new(path).unwrap()
}

#[test]
fn onnx_checks_its_arguments() {
    let (status, model, message) = load_onnx(ptr::null(), c"lama".as_ptr(), c"cpu".as_ptr());
    assert_eq!(status, inpaint_status::NullParameter);
    assert!(model.is_null(), "model_out must be NULL after a failure");
    assert_eq!(message.unwrap(), "`path` must not be NULL");
    let (status, _, message) = load_onnx(c"lama.onnx".as_ptr(), ptr::null(), c"cpu".as_ptr());
    assert_eq!(status, inpaint_status::NullParameter);
    assert_eq!(message.unwrap(), "`arch` must not be NULL");
    let (status, _, _) = load_onnx(c"lama.onnx".as_ptr(), c"lama".as_ptr(), c"c\xffu".as_ptr());
    assert_eq!(status, inpaint_status::InvalidUtf8);
    // SAFETY: valid strings; NULL outputs are allowed to be passed.
    let status = unsafe {
        inpaint_model::inpaint_model_load_onnx(
            c"lama.onnx".as_ptr(),
            c"lama".as_ptr(),
            ptr::null(),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(status, inpaint_status::NullParameter);
}

#[cfg(not(feature = "onnx"))]
#[test]
fn onnx_is_unsupported_without_the_feature() {
    let (status, model, message) =
        load_onnx(c"lama.onnx".as_ptr(), c"lama".as_ptr(), c"cpu".as_ptr());
    assert_eq!(status, inpaint_status::Unsupported);
    assert!(model.is_null());
    let message = message.unwrap();
    assert!(message.contains("no ONNX support"), "{message}");
    assert!(message.contains("`onnx` feature"), "{message}");
    assert!(message.contains("telea"), "{message}");
}

#[cfg(feature = "onnx")]
#[test]
fn onnx_lama_dynamic_fills_the_hole() {
    // A uniform image of colour P: the fixture fills the hole with 255·C + 0.25·P, with
    // C = (0.6, 0.1, 0.3), and keeps every other pixel (see the fixtures' README).
    const P: [u8; 3] = [42, 121, 201];
    let fill: [f64; 3] =
        std::array::from_fn(|c| 255.0 * [0.6, 0.1, 0.3][c] + 0.25 * f64::from(P[c]));
    let image = RgbImage::from_pixel(W, H, Rgb(P));
    let mask = hole();
    let path = fixture("lama_dynamic.onnx");
    for device in [c"cpu".as_ptr(), ptr::null()] {
        let (status, model, message) = load_onnx(path.as_ptr(), c"lama-dynamic".as_ptr(), device);
        assert_eq!(status, inpaint_status::Ok, "{message:?}");
        // SAFETY: a live model.
        unsafe {
            assert_eq!(
                str_of(inpaint_model::inpaint_model_name(model)),
                "lama-dynamic"
            );
            assert_eq!(str_of(inpaint_model::inpaint_model_device(model)), "cpu");
        }
        let iv = view(
            image.as_raw(),
            W,
            H,
            W as usize * 3,
            INPAINT_PIXEL_FORMAT_RGB8,
        );
        let mv = view(mask.as_raw(), W, H, W as usize, INPAINT_PIXEL_FORMAT_GRAY8);
        let mut out = vec![0u8; image.len()];
        let n = out.len();
        assert_eq!(
            run(model, &iv, &mv, &mut out, n),
            (inpaint_status::Ok, None)
        );
        let mut holes = 0;
        for (i, (got, pixel)) in out.chunks(3).zip(mask.pixels()).enumerate() {
            let (x, y) = (i as u32 % W, i as u32 / W);
            if pixel.0[0] == 0 {
                assert_eq!(got, P, "outside the hole at ({x},{y})");
                continue;
            }
            holes += 1;
            for c in 0..3 {
                let v = f64::from(got[c]);
                assert!(
                    (v - fill[c]).abs() <= 1.0,
                    "channel {c} at ({x},{y}) is {v}, expected {:.2}",
                    fill[c]
                );
            }
        }
        assert_eq!(holes, 6 * 5);
        free(model);
    }
}

#[cfg(feature = "onnx")]
#[test]
fn onnx_a_wrong_contract_is_a_model_error() {
    let path = fixture("wrong_names.onnx");
    let (status, model, message) = load_onnx(path.as_ptr(), c"lama".as_ptr(), c"cpu".as_ptr());
    assert_eq!(status, inpaint_status::Model);
    assert_eq!(status as u32, 200);
    assert!(model.is_null());
    let message = message.unwrap();
    assert!(message.contains("no input named `image`"), "{message}");
}

#[cfg(feature = "onnx")]
#[test]
fn onnx_a_file_that_is_not_onnx_is_a_model_error_not_a_runtime_error() {
    let dir = std::env::temp_dir().join(format!("inpaint-ffi-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("corrupt.onnx");
    std::fs::write(&file, b"\x08\x07 not protobuf at all").unwrap();
    let path = std::ffi::CString::new(file.to_str().unwrap()).unwrap();
    let (status, model, message) = load_onnx(path.as_ptr(), c"lama".as_ptr(), c"cpu".as_ptr());
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(status, inpaint_status::Model, "{message:?}");
    assert!(model.is_null());
    assert!(message.unwrap().contains("corrupt.onnx"));
}

#[cfg(feature = "onnx")]
#[test]
fn onnx_a_missing_file_is_an_io_error() {
    let path = fixture("no_such_model.onnx");
    let (status, model, message) = load_onnx(path.as_ptr(), c"lama".as_ptr(), c"cpu".as_ptr());
    assert_eq!(status, inpaint_status::Io);
    assert!(model.is_null());
    assert!(message.unwrap().contains("no_such_model.onnx"));
}

#[cfg(feature = "onnx")]
#[test]
fn onnx_unknown_names_list_the_known_ones() {
    let path = fixture("lama_dynamic.onnx");
    let (status, model, message) = load_onnx(path.as_ptr(), c"lamma".as_ptr(), c"cpu".as_ptr());
    assert_eq!(status, inpaint_status::InvalidInput);
    assert!(model.is_null());
    let message = message.unwrap();
    for name in inpaint_models::onnx::Architecture::NAMES {
        assert!(message.contains(name), "{message}");
    }
    assert!(message.contains("did you mean `lama`"), "{message}");

    let (status, model, message) =
        load_onnx(path.as_ptr(), c"lama-dynamic".as_ptr(), c"cdua".as_ptr());
    assert_eq!(status, inpaint_status::InvalidInput);
    assert!(model.is_null());
    let message = message.unwrap();
    for name in inpaint_models::onnx::Device::NAMES {
        assert!(message.contains(name), "{message}");
    }
    let (status, _, _) = load_onnx(path.as_ptr(), c"lama-dynamic".as_ptr(), c"cpu:1".as_ptr());
    assert_eq!(status, inpaint_status::InvalidInput);
}

#[cfg(all(feature = "onnx", not(feature = "cuda")))]
#[test]
fn onnx_a_device_this_build_lacks_is_a_runtime_error() {
    let path = fixture("lama_dynamic.onnx");
    let (status, model, message) =
        load_onnx(path.as_ptr(), c"lama-dynamic".as_ptr(), c"cuda".as_ptr());
    assert_eq!(status, inpaint_status::Runtime);
    assert_eq!(status as u32, 210);
    assert!(model.is_null());
    let message = message.unwrap();
    assert!(message.contains("`cuda` feature"), "{message}");
}

#[cfg(feature = "onnx")]
#[test]
fn onnx_auto_falls_back_and_says_why() {
    let path = fixture("lama_dynamic.onnx");
    let (status, model, message) =
        load_onnx(path.as_ptr(), c"lama-dynamic".as_ptr(), c"auto".as_ptr());
    assert_eq!(status, inpaint_status::Ok, "{message:?}");
    // SAFETY: a live model.
    let device = str_of(unsafe { inpaint_model::inpaint_model_device(model) });
    // Whatever it got, the report names it first, as `inpaint_model_load_onnx` takes it.
    let name = device.split(' ').next().unwrap();
    assert!(
        name.parse::<inpaint_models::onnx::Device>().is_ok(),
        "{device}"
    );
    #[cfg(not(any(
        feature = "cuda",
        feature = "tensorrt",
        feature = "coreml",
        feature = "directml",
        feature = "openvino",
        feature = "rocm"
    )))]
    assert!(device.starts_with("cpu"), "{device}");
    free(model);
}

#[test]
fn names_and_device() {
    let count = inpaint_model::inpaint_model_name_count();
    let classical = inpaint_models::MODEL_NAMES.len();
    assert_eq!(count, classical + usize::from(cfg!(feature = "openai")));
    for (i, name) in inpaint_models::MODEL_NAMES.iter().enumerate() {
        assert_eq!(str_of(inpaint_model::inpaint_model_name_at(i)), *name);
        assert_eq!(inpaint_model::inpaint_model_needs_at(i), 0);
    }
    if cfg!(feature = "openai") {
        assert_eq!(
            str_of(inpaint_model::inpaint_model_name_at(classical)),
            "openai-compat"
        );
        assert_eq!(
            inpaint_model::inpaint_model_needs_at(classical),
            INPAINT_NEEDS_PROMPT | INPAINT_NEEDS_NETWORK
        );
    }
    assert!(inpaint_model::inpaint_model_name_at(count).is_null());
    assert_eq!(inpaint_model::inpaint_model_needs_at(count), 0);
    let model = load(c"navier-stokes");
    // SAFETY: a live model.
    unsafe {
        assert_eq!(
            str_of(inpaint_model::inpaint_model_name(model)),
            "navier-stokes"
        );
        assert_eq!(str_of(inpaint_model::inpaint_model_device(model)), "cpu");
    }
    free(model);
}

#[test]
fn a_run_matches_the_rust_pipeline_byte_for_byte() {
    for name in inpaint_models::MODEL_NAMES {
        let image = photo();
        let mask = hole();
        let want = expected(name, Image::from_rgb(image.clone()).unwrap());
        let model = load(&std::ffi::CString::new(name).unwrap());
        let iv = view(
            image.as_raw(),
            W,
            H,
            W as usize * 3,
            INPAINT_PIXEL_FORMAT_RGB8,
        );
        let mv = view(mask.as_raw(), W, H, W as usize, INPAINT_PIXEL_FORMAT_GRAY8);
        let mut out = vec![0u8; image.len()];
        let n = out.len();
        assert_eq!(
            run(model, &iv, &mv, &mut out, n),
            (inpaint_status::Ok, None)
        );
        assert_eq!(out, *want.rgb().as_raw(), "{name}");
        assert_ne!(out, *image.as_raw(), "{name} changed nothing");
        free(model);
    }
}

#[test]
fn padded_strides_are_read_row_by_row() {
    let image = photo();
    let mask = hole();
    let (istride, mstride) = (W as usize * 3 + 5, W as usize + 3);
    let mut padded = vec![0xAB; istride * (H as usize - 1) + W as usize * 3];
    for (y, row) in image.as_raw().chunks(W as usize * 3).enumerate() {
        padded[y * istride..][..row.len()].copy_from_slice(row);
    }
    let mut padded_mask = vec![0xFF; mstride * H as usize];
    for (y, row) in mask.as_raw().chunks(W as usize).enumerate() {
        padded_mask[y * mstride..][..row.len()].copy_from_slice(row);
    }
    let model = load(c"telea");
    let iv = view(&padded, W, H, istride, INPAINT_PIXEL_FORMAT_RGB8);
    let mv = view(&padded_mask, W, H, mstride, INPAINT_PIXEL_FORMAT_GRAY8);
    let mut out = vec![0u8; image.len()];
    let n = out.len();
    assert_eq!(run(model, &iv, &mv, &mut out, n).0, inpaint_status::Ok);
    assert_eq!(
        out,
        *expected("telea", Image::from_rgb(image).unwrap())
            .rgb()
            .as_raw()
    );
    free(model);
}

#[test]
fn rgba_keeps_its_alpha() {
    let rgba = RgbaImage::from_fn(W, H, |x, y| {
        let Rgb([r, g, b]) = *photo().get_pixel(x, y);
        inpaint_core::image::Rgba([r, g, b, (x * 7 + y) as u8])
    });
    let want = expected("telea", Image::from_rgba(rgba.clone()).unwrap())
        .into_dynamic()
        .into_rgba8();
    let mask = hole();
    let model = load(c"telea");
    let iv = view(
        rgba.as_raw(),
        W,
        H,
        W as usize * 4,
        INPAINT_PIXEL_FORMAT_RGBA8,
    );
    let mv = view(mask.as_raw(), W, H, W as usize, INPAINT_PIXEL_FORMAT_GRAY8);
    let mut out = vec![0u8; rgba.len()];
    let n = out.len();
    assert_eq!(run(model, &iv, &mv, &mut out, n).0, inpaint_status::Ok);
    assert_eq!(out, *want.as_raw());
    let alpha = |b: &[u8]| b.chunks(4).map(|p| p[3]).collect::<Vec<_>>();
    assert_eq!(alpha(&out), alpha(rgba.as_raw()));
    free(model);
}

#[test]
fn bad_sizes_are_refused_and_nothing_is_written() {
    let image = photo();
    let mask = hole();
    let model = load(c"telea");
    let row = W as usize * 3;
    let good = view(image.as_raw(), W, H, row, INPAINT_PIXEL_FORMAT_RGB8);
    let mv = view(mask.as_raw(), W, H, W as usize, INPAINT_PIXEL_FORMAT_GRAY8);
    let mut out = vec![0x5Au8; image.len() + 16];
    let n = image.len();
    let cases = [
        (
            inpaint_image_view {
                stride: row - 1,
                ..good
            },
            "stride",
        ),
        (
            inpaint_image_view {
                len: image.len() - 1,
                ..good
            },
            "len",
        ),
        (inpaint_image_view { width: 0, ..good }, "empty"),
        (inpaint_image_view { format: 0, ..good }, "pixel format"),
        (inpaint_image_view { format: 77, ..good }, "pixel format"),
        (
            inpaint_image_view {
                stride: usize::MAX,
                ..good
            },
            "overflows",
        ),
    ];
    for (bad, what) in cases {
        let (status, message) = run(model, &bad, &mv, &mut out, n);
        assert_eq!(status, inpaint_status::InvalidInput, "{what}");
        assert!(message.unwrap().contains(what), "{what}");
    }
    // A mask of another size, and a mask that is not GRAY8.
    let small = GrayImage::new(W - 1, H);
    let small = view(
        small.as_raw(),
        W - 1,
        H,
        W as usize - 1,
        INPAINT_PIXEL_FORMAT_GRAY8,
    );
    let (status, message) = run(model, &good, &small, &mut out, n);
    assert_eq!(status, inpaint_status::InvalidInput);
    assert!(message.unwrap().contains("same size"));
    assert_eq!(
        run(model, &good, &good, &mut out, n).0,
        inpaint_status::InvalidInput
    );
    // Too large for the limits.
    let huge = inpaint_image_view {
        width: 100_000,
        ..good
    };
    assert_eq!(
        run(model, &huge, &mv, &mut out, n).0,
        inpaint_status::LimitsExceeded
    );
    // A short output buffer: refused, nothing written, not even inside `out_len`.
    let (status, message) = run(model, &good, &mv, &mut out, n - 1);
    assert_eq!(status, inpaint_status::InsufficientSize);
    assert!(message.unwrap().contains(&n.to_string()));
    assert!(out.iter().all(|&b| b == 0x5A));
    // The right size writes exactly `n` bytes.
    assert_eq!(run(model, &good, &mv, &mut out, n).0, inpaint_status::Ok);
    assert!(out[n..].iter().all(|&b| b == 0x5A));
    free(model);
}

#[test]
fn options_objects() {
    // Model options: the radius is checked when loading.
    let opts = inpaint_model_options::inpaint_model_options_new();
    let mut model = ptr::null_mut();
    // SAFETY: live options and valid outputs.
    unsafe {
        assert_eq!(
            inpaint_model_options::inpaint_model_options_set_radius(opts, 7.0),
            inpaint_status::Ok
        );
        assert_eq!(
            inpaint_model::inpaint_model_load(c"telea".as_ptr(), opts, &mut model, ptr::null_mut()),
            inpaint_status::Ok
        );
        inpaint_model::inpaint_model_free(model);
        assert_eq!(
            inpaint_model_options::inpaint_model_options_set_radius(opts, -1.0),
            inpaint_status::Ok
        );
        let mut err = ptr::null_mut();
        let status =
            inpaint_model::inpaint_model_load(c"telea".as_ptr(), opts, &mut model, &mut err);
        assert_eq!(
            status,
            inpaint_status::InvalidInput,
            "{}",
            take_message(err)
        );
        assert!(model.is_null());
        inpaint_model_options::inpaint_model_options_free(opts);
    }

    // PatchMatch's options load patchmatch; a radius given to it is refused, not ignored.
    let opts = inpaint_model_options::inpaint_model_options_new();
    // SAFETY: live options and valid outputs.
    unsafe {
        assert_eq!(
            inpaint_model_options::inpaint_model_options_set_patch_size(opts, 5),
            inpaint_status::Ok
        );
        assert_eq!(
            inpaint_model_options::inpaint_model_options_set_seed(opts, 42),
            inpaint_status::Ok
        );
        assert_eq!(
            inpaint_model::inpaint_model_load(
                c"patchmatch".as_ptr(),
                opts,
                &mut model,
                ptr::null_mut()
            ),
            inpaint_status::Ok
        );
        inpaint_model::inpaint_model_free(model);
        model = ptr::null_mut();
        assert_eq!(
            inpaint_model_options::inpaint_model_options_set_patch_size(opts, 4),
            inpaint_status::Ok
        );
        let mut err = ptr::null_mut();
        let status =
            inpaint_model::inpaint_model_load(c"patchmatch".as_ptr(), opts, &mut model, &mut err);
        assert_eq!(
            status,
            inpaint_status::InvalidInput,
            "{}",
            take_message(err)
        );
        assert!(model.is_null());
        assert_eq!(
            inpaint_model_options::inpaint_model_options_set_radius(opts, 4.0),
            inpaint_status::Ok
        );
        let mut err = ptr::null_mut();
        let status =
            inpaint_model::inpaint_model_load(c"patchmatch".as_ptr(), opts, &mut model, &mut err);
        assert_eq!(status, inpaint_status::InvalidInput);
        assert!(take_message(err).contains("radius option does not apply"));
        inpaint_model_options::inpaint_model_options_free(opts);
    }

    // Run options: a bad strategy is refused with the known ones; a good one runs.
    let opts = inpaint_run_options::inpaint_run_options_new();
    let model = load(c"telea");
    let image = photo();
    let mask = hole();
    let iv = view(
        image.as_raw(),
        W,
        H,
        W as usize * 3,
        INPAINT_PIXEL_FORMAT_RGB8,
    );
    let mv = view(mask.as_raw(), W, H, W as usize, INPAINT_PIXEL_FORMAT_GRAY8);
    let mut out = vec![0u8; image.len()];
    // SAFETY: live options, model and views; `out` is writable.
    unsafe {
        use inpaint_run_options as r;
        let mut err = ptr::null_mut();
        assert_eq!(
            r::inpaint_run_options_set_hd_strategy(opts, c"bogus".as_ptr(), &mut err),
            inpaint_status::InvalidInput
        );
        assert!(take_message(err).contains("original, resize, crop"));
        assert_eq!(
            r::inpaint_run_options_set_hd_strategy(opts, c"resize".as_ptr(), &mut err),
            inpaint_status::Ok
        );
        assert!(err.is_null());
        assert_eq!(
            r::inpaint_run_options_set_resize_limit(opts, 10),
            inpaint_status::Ok
        );
        assert_eq!(
            r::inpaint_run_options_set_crop_trigger_size(opts, 10),
            inpaint_status::Ok
        );
        assert_eq!(
            r::inpaint_run_options_set_crop_margin(opts, 4),
            inpaint_status::Ok
        );
        let status = inpaint_model::inpaint_model_run_with_options(
            model,
            &iv,
            &mv,
            opts,
            out.as_mut_ptr(),
            out.len(),
            ptr::null_mut(),
        );
        assert_eq!(status, inpaint_status::Ok);
        assert_eq!(
            r::inpaint_run_options_set_resize_limit(opts, 0),
            inpaint_status::Ok
        );
        let status = inpaint_model::inpaint_model_run_with_options(
            model,
            &iv,
            &mv,
            opts,
            out.as_mut_ptr(),
            out.len(),
            ptr::null_mut(),
        );
        assert_eq!(status, inpaint_status::InvalidInput);
        r::inpaint_run_options_free(opts);
    }
    free(model);
}

#[test]
fn gray_images_are_inpainted_as_grey() {
    let gray = GrayImage::from_fn(W, H, |x, y| Luma([(x * 9 + y * 3) as u8]));
    let rgb = RgbImage::from_fn(W, H, |x, y| {
        let v = gray.get_pixel(x, y).0[0];
        Rgb([v, v, v])
    });
    let want = expected("telea", Image::from_rgb(rgb).unwrap());
    let mask = hole();
    let model = load(c"telea");
    let iv = view(gray.as_raw(), W, H, W as usize, INPAINT_PIXEL_FORMAT_GRAY8);
    let mv = view(mask.as_raw(), W, H, W as usize, INPAINT_PIXEL_FORMAT_GRAY8);
    let mut out = vec![0u8; gray.len()];
    let n = out.len();
    assert_eq!(run(model, &iv, &mv, &mut out, n).0, inpaint_status::Ok);
    let want: Vec<u8> = want.rgb().pixels().map(|p| p.0[0]).collect();
    assert_eq!(out, want);
    free(model);
}

/// `inpaint_model_load_remote` against a minimal Open Inference Protocol server on 127.0.0.1
/// (readiness and metadata of a MI-GAN pipeline; the remote backend's own tests, in
/// inpaint-models, cover inference): the device is `remote:<endpoint>`; a refused connection
/// is a runtime error naming the server; a wrong architecture is refused at load.
#[cfg(feature = "remote")]
#[test]
fn remote_models_load_and_report_their_server() {
    use std::io::{BufRead, BufReader, Write};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let body = if request.contains("/ready") {
                "{}".to_string()
            } else {
                r#"{"name":"mp","inputs":[{"name":"image","datatype":"UINT8","shape":[1,3,-1,-1]},{"name":"mask","datatype":"UINT8","shape":[1,1,-1,-1]}],"outputs":[{"name":"result","datatype":"UINT8","shape":[1,3,-1,-1]}]}"#.to_string()
            };
            let _ = write!(
                &stream,
                "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let load = |endpoint: &str, arch: &CStr| {
        let endpoint = std::ffi::CString::new(endpoint).unwrap();
        let mut model = ptr::null_mut();
        let mut err = ptr::null_mut();
        // SAFETY: NUL-terminated strings (version NULL); valid outputs.
        let status = unsafe {
            inpaint_model::inpaint_model_load_remote(
                endpoint.as_ptr(),
                c"mp".as_ptr(),
                ptr::null(),
                arch.as_ptr(),
                &mut model,
                &mut err,
            )
        };
        (status, model, (!err.is_null()).then(|| take_message(err)))
    };

    let (status, model, message) = load(&endpoint, c"migan-pipeline");
    assert_eq!(status, inpaint_status::Ok, "{message:?}");
    // SAFETY: a live model.
    let device = str_of(unsafe { inpaint_model::inpaint_model_device(model) });
    assert_eq!(device, format!("remote:{endpoint}"));
    free(model);

    let (status, model, message) = load(&endpoint, c"lama");
    assert_eq!(status, inpaint_status::Model);
    assert!(model.is_null());
    assert!(
        message
            .unwrap()
            .contains("does not have the `lama` contract"),
        "wrong contract"
    );

    let (status, _, message) = load("http://127.0.0.1:9", c"lama");
    assert_eq!(status, inpaint_status::Runtime);
    assert!(
        message
            .unwrap()
            .contains("server http://127.0.0.1:9 model `mp`: server readiness: cannot connect"),
    );
}

/// The tiny Stable Diffusion pipeline of inpaint-models' fixtures (made by
/// `scripts/make-diffusion-fixtures.py`), through the C ABI: loaded by folder, run with a prompt,
/// a sampler by name and few steps; the pixels outside the hole keep their values.
#[cfg(feature = "onnx")]
#[test]
fn diffusion_runs_with_a_prompt_and_a_sampler_by_name() {
    diffusion_folder_runs("sd15-tiny-inpaint");
}

/// The same for the tiny SDXL pipeline: an SDXL folder loads through the same function.
#[cfg(feature = "onnx")]
#[test]
fn sdxl_runs_with_a_prompt_and_a_sampler_by_name() {
    diffusion_folder_runs("sdxl-tiny-inpaint");
}

#[cfg(feature = "onnx")]
fn diffusion_folder_runs(fixture: &str) {
    let dir = std::ffi::CString::new(format!(
        "{}/../inpaint-models/tests/fixtures/diffusion/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut model = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: valid strings and outputs.
    let status = unsafe {
        inpaint_model::inpaint_model_load_diffusion(dir.as_ptr(), ptr::null(), &mut model, &mut err)
    };
    assert_eq!(status, inpaint_status::Ok, "{}", take_message(err));

    let opts = inpaint_run_options::inpaint_run_options_new();
    // SAFETY: live options; valid strings.
    unsafe {
        assert_eq!(
            inpaint_run_options::inpaint_run_options_set_sampler(opts, c"Eulr".as_ptr(), &mut err),
            inpaint_status::InvalidInput
        );
        assert!(take_message(err).contains("Euler a"));
        let status = inpaint_run_options::inpaint_run_options_set_sampler(
            opts,
            c"Euler a".as_ptr(),
            ptr::null_mut(),
        );
        assert_eq!(status, inpaint_status::Ok);
        let status = inpaint_run_options::inpaint_run_options_set_prompt(
            opts,
            c"a red bench".as_ptr(),
            ptr::null(),
            ptr::null_mut(),
        );
        assert_eq!(status, inpaint_status::Ok);
        assert_eq!(
            inpaint_run_options::inpaint_run_options_set_prompt(
                opts,
                ptr::null(),
                ptr::null(),
                ptr::null_mut()
            ),
            inpaint_status::NullParameter
        );
        assert_eq!(
            inpaint_run_options::inpaint_run_options_set_steps(opts, 2),
            inpaint_status::Ok
        );
        assert_eq!(
            inpaint_run_options::inpaint_run_options_set_seed(opts, 5),
            inpaint_status::Ok
        );
    }

    let image = photo();
    let mask = hole();
    let (width, height) = image.dimensions();
    let image_view = view(
        image.as_raw(),
        width,
        height,
        width as usize * 3,
        INPAINT_PIXEL_FORMAT_RGB8,
    );
    let mask_view = view(
        mask.as_raw(),
        width,
        height,
        width as usize,
        INPAINT_PIXEL_FORMAT_GRAY8,
    );
    let mut out = vec![0u8; image.as_raw().len()];
    // SAFETY: live model and options, valid views, `out` writable for its length.
    let status = unsafe {
        inpaint_model::inpaint_model_run_with_options(
            model,
            &image_view,
            &mask_view,
            opts,
            out.as_mut_ptr(),
            out.len(),
            &mut err,
        )
    };
    assert_eq!(status, inpaint_status::Ok, "{}", take_message(err));
    let mut changed = 0;
    for ((o, p), &m) in out
        .chunks_exact(3)
        .zip(image.as_raw().chunks_exact(3))
        .zip(mask.as_raw())
    {
        if m == 0 {
            assert_eq!(o, p, "a pixel outside the hole changed");
        } else if o != p {
            changed += 1;
        }
    }
    assert!(changed > 0, "nothing was painted");
    // SAFETY: live, freed once.
    unsafe {
        inpaint_run_options::inpaint_run_options_free(opts);
        inpaint_model::inpaint_model_free(model);
    }
}

/// The extender's setter checks its box, `inpaint_run_options_output_size` gives the canvas,
/// a short `out` is refused for the canvas's size, and a model that is not a diffusion model
/// refuses the extender (as the Rust pipeline does).
#[test]
fn extender_options_and_the_output_size() {
    use inpaint_run_options as o;
    let opts = o::inpaint_run_options_new();
    let mut err = ptr::null_mut();
    let (mut w, mut h) = (0u32, 0u32);
    // SAFETY: live options, valid outputs; NULLs where the test says so.
    unsafe {
        assert_eq!(
            o::inpaint_run_options_output_size(opts, W, H, &mut w, &mut h, ptr::null_mut()),
            inpaint_status::Ok
        );
        assert_eq!((w, h), (W, H));
        for (width, height) in [(0, 10), (10, -1), (i64::from(u32::MAX) + 1, 10)] {
            let status = o::inpaint_run_options_set_extender(opts, 0, 0, width, height, &mut err);
            assert_eq!(status, inpaint_status::InvalidInput);
            assert!(take_message(err).contains("between 1 and"));
        }
        assert_eq!(
            o::inpaint_run_options_set_extender(ptr::null_mut(), 0, 0, 1, 1, ptr::null_mut()),
            inpaint_status::NullParameter
        );
        // A box beside the image: accepted by the setter, refused once the image is known.
        let beside = i64::from(W) + 2;
        let status = o::inpaint_run_options_set_extender(opts, beside, 0, 4, 4, ptr::null_mut());
        assert_eq!(status, inpaint_status::Ok);
        let status = o::inpaint_run_options_output_size(opts, W, H, &mut w, &mut h, &mut err);
        assert_eq!(status, inpaint_status::InvalidInput);
        assert!(take_message(err).contains("does not overlap"));
        assert_eq!((w, h), (W, H), "written on failure");
        // 8 pixels left, 4 below.
        let status = o::inpaint_run_options_set_extender(
            opts,
            -8,
            0,
            i64::from(W) + 8,
            i64::from(H) + 4,
            ptr::null_mut(),
        );
        assert_eq!(status, inpaint_status::Ok);
        assert_eq!(
            o::inpaint_run_options_output_size(opts, W, H, &mut w, &mut h, ptr::null_mut()),
            inpaint_status::Ok
        );
        assert_eq!((w, h), (W + 8, H + 4));
        assert_eq!(
            o::inpaint_run_options_output_size(
                opts,
                W,
                H,
                ptr::null_mut(),
                &mut h,
                ptr::null_mut()
            ),
            inpaint_status::NullParameter
        );
    }

    let model = load(c"telea");
    let (image, mask) = (photo(), hole());
    let image_view = view(
        image.as_raw(),
        W,
        H,
        W as usize * 3,
        INPAINT_PIXEL_FORMAT_RGB8,
    );
    let mask_view = view(mask.as_raw(), W, H, W as usize, INPAINT_PIXEL_FORMAT_GRAY8);
    let mut out = vec![0u8; ((W + 8) * (H + 4) * 3) as usize];
    let run_with = |out: &mut [u8], len: usize, err: &mut *mut inpaint_error| {
        // SAFETY: live model and options, valid views, `out` writable for `len` bytes.
        unsafe {
            inpaint_model::inpaint_model_run_with_options(
                model,
                &image_view,
                &mask_view,
                opts,
                out.as_mut_ptr(),
                len,
                err,
            )
        }
    };
    // The image's own size is too short for the canvas.
    let status = run_with(&mut out, image.as_raw().len(), &mut err);
    assert_eq!(status, inpaint_status::InsufficientSize);
    assert!(take_message(err).contains("32×22 result"));
    let len = out.len();
    let status = run_with(&mut out, len, &mut err);
    assert_eq!(status, inpaint_status::InvalidInput);
    assert!(take_message(err).contains("extender apply only"));
    assert!(out.iter().all(|&v| v == 0), "written on failure");
    // SAFETY: live, freed once.
    unsafe {
        assert_eq!(
            o::inpaint_run_options_clear_extender(opts),
            inpaint_status::Ok
        );
        assert_eq!(
            o::inpaint_run_options_output_size(opts, W, H, &mut w, &mut h, ptr::null_mut()),
            inpaint_status::Ok
        );
        assert_eq!((w, h), (W, H));
        o::inpaint_run_options_free(opts);
    }
    free(model);
}

/// Outpainting through the C ABI on the tiny Stable Diffusion pipeline of inpaint-models'
/// fixtures (`scripts/make-diffusion-fixtures.py`): an RGBA image grown by 8 pixels on the
/// right keeps its pixels and alpha, and the new column is painted and opaque.
#[cfg(feature = "onnx")]
#[test]
fn diffusion_outpaints_through_the_c_abi() {
    let dir = std::ffi::CString::new(format!(
        "{}/../inpaint-models/tests/fixtures/diffusion/sd15-tiny-inpaint",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut model = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: valid strings and outputs.
    let status = unsafe {
        inpaint_model::inpaint_model_load_diffusion(dir.as_ptr(), ptr::null(), &mut model, &mut err)
    };
    assert_eq!(status, inpaint_status::Ok, "{}", take_message(err));
    let opts = inpaint_run_options::inpaint_run_options_new();
    // SAFETY: live options.
    unsafe {
        assert_eq!(
            inpaint_run_options::inpaint_run_options_set_steps(opts, 2),
            inpaint_status::Ok
        );
        assert_eq!(
            inpaint_run_options::inpaint_run_options_set_extender(
                opts,
                0,
                0,
                i64::from(W) + 8,
                i64::from(H),
                ptr::null_mut()
            ),
            inpaint_status::Ok
        );
    }
    let rgba = RgbaImage::from_fn(W, H, |x, y| {
        let [r, g, b] = photo().get_pixel(x, y).0;
        inpaint_core::image::Rgba([r, g, b, 100])
    });
    let image_view = view(
        rgba.as_raw(),
        W,
        H,
        W as usize * 4,
        INPAINT_PIXEL_FORMAT_RGBA8,
    );
    let mask = GrayImage::new(W, H);
    let mask_view = view(mask.as_raw(), W, H, W as usize, INPAINT_PIXEL_FORMAT_GRAY8);
    let out_w = W + 8;
    let mut out = vec![0u8; (out_w * H * 4) as usize];
    // SAFETY: live model and options, valid views, `out` writable for its length.
    let status = unsafe {
        inpaint_model::inpaint_model_run_with_options(
            model,
            &image_view,
            &mask_view,
            opts,
            out.as_mut_ptr(),
            out.len(),
            &mut err,
        )
    };
    assert_eq!(status, inpaint_status::Ok, "{}", take_message(err));
    for y in 0..H {
        for x in 0..out_w {
            let o = &out[((y * out_w + x) * 4) as usize..][..4];
            if x < W {
                assert_eq!(o, &rgba.get_pixel(x, y).0, "({x}, {y}) changed");
            } else {
                assert_eq!(o[3], 255, "({x}, {y}) not opaque");
            }
        }
    }
    assert!(
        (0..H).any(|y| out[((y * out_w + W) * 4) as usize..][..3] != [0, 0, 0]),
        "nothing was painted"
    );
    // SAFETY: live, freed once.
    unsafe {
        inpaint_run_options::inpaint_run_options_free(opts);
        inpaint_model::inpaint_model_free(model);
    }
}

/// The tiny SDXL inpainting pipeline of inpaint-models' fixtures
/// (`scripts/make-diffusion-fixtures.py`; inpaint-models' tests match it against diffusers),
/// loaded through the C ABI with its stages on demand, ONNX Runtime's CPU arena off and a
/// memory limit that holds only the UNet and the largest other graph, gives the Rust API's
/// bytes for a default-loaded pipeline (a stochastic sampler, one seed); the same limit
/// without the stages on demand is refused before loading, as a runtime error.
#[cfg(feature = "onnx")]
#[test]
fn sdxl_with_memory_options_matches_the_rust_api() {
    use inpaint_core::{Request, Sampler};
    use inpaint_models::diffusion::{DiffusionOptions, StableDiffusion};

    let fixture = format!(
        "{}/../inpaint-models/tests/fixtures/diffusion/sdxl-tiny-inpaint",
        env!("CARGO_MANIFEST_DIR")
    );
    let size = |graph: &str| {
        std::fs::metadata(format!("{fixture}/{graph}/model.onnx"))
            .unwrap()
            .len()
    };
    let largest_other = [
        "text_encoder",
        "text_encoder_2",
        "vae_encoder",
        "vae_decoder",
    ]
    .map(size)
    .into_iter()
    .max()
    .unwrap();
    let limit = size("unet") + largest_other;
    let dir = std::ffi::CString::new(fixture.clone()).unwrap();
    let opts = inpaint_model_options::inpaint_model_options_new();
    let mut model = ptr::null_mut();
    let mut err = ptr::null_mut();
    let load = |model: &mut Model, err: &mut *mut inpaint_error| {
        // SAFETY: a valid string, live options, valid outputs.
        unsafe {
            inpaint_model::inpaint_model_load_diffusion_with_options(
                dir.as_ptr(),
                c"cpu".as_ptr(),
                opts,
                model,
                err,
            )
        }
    };
    // SAFETY: live options.
    let status = unsafe {
        inpaint_model_options::inpaint_model_options_set_memory_limit(
            opts,
            INPAINT_MEMORY_LIMIT_BYTES,
            limit,
            ptr::null_mut(),
        )
    };
    assert_eq!(status, inpaint_status::Ok);
    assert_eq!(load(&mut model, &mut err), inpaint_status::Runtime);
    assert!(model.is_null());
    let message = take_message(err);
    assert!(message.contains("only while they run"), "{message}");
    // SAFETY: live options.
    unsafe {
        assert_eq!(
            inpaint_model_options::inpaint_model_options_set_load_stages_on_demand(opts, true),
            inpaint_status::Ok
        );
        assert_eq!(
            inpaint_model_options::inpaint_model_options_set_cpu_arena(opts, false),
            inpaint_status::Ok
        );
    }
    let status = load(&mut model, &mut err);
    assert_eq!(status, inpaint_status::Ok, "{}", take_message(err));

    let (image, mask) = (photo(), hole());
    let request = Request::new()
        .with_prompt("a red bench")
        .with_negative_prompt("blurry")
        .with_sampler(Sampler::DpmPp2mSdeKarras)
        .with_steps(2)
        .with_seed(11);
    let mut rust = StableDiffusion::load(&fixture, &DiffusionOptions::default()).unwrap();
    let want = inpaint(
        &mut rust,
        &Image::from_rgb(image.clone()).unwrap(),
        &Mask::from_gray(mask.clone()).unwrap(),
        &InpaintOptions::default().with_request(request),
    )
    .unwrap();

    let run_opts = inpaint_run_options::inpaint_run_options_new();
    // SAFETY: live options; valid strings.
    unsafe {
        use inpaint_run_options as o;
        let status = o::inpaint_run_options_set_prompt(
            run_opts,
            c"a red bench".as_ptr(),
            c"blurry".as_ptr(),
            ptr::null_mut(),
        );
        assert_eq!(status, inpaint_status::Ok);
        let status = o::inpaint_run_options_set_sampler(
            run_opts,
            c"DPM++ 2M SDE Karras".as_ptr(),
            ptr::null_mut(),
        );
        assert_eq!(status, inpaint_status::Ok);
        assert_eq!(
            o::inpaint_run_options_set_steps(run_opts, 2),
            inpaint_status::Ok
        );
        assert_eq!(
            o::inpaint_run_options_set_seed(run_opts, 11),
            inpaint_status::Ok
        );
    }
    let iv = view(
        image.as_raw(),
        W,
        H,
        W as usize * 3,
        INPAINT_PIXEL_FORMAT_RGB8,
    );
    let mv = view(mask.as_raw(), W, H, W as usize, INPAINT_PIXEL_FORMAT_GRAY8);
    let mut out = vec![0u8; image.as_raw().len()];
    // SAFETY: live model and options, valid views, `out` writable for its length.
    let status = unsafe {
        inpaint_model::inpaint_model_run_with_options(
            model,
            &iv,
            &mv,
            run_opts,
            out.as_mut_ptr(),
            out.len(),
            &mut err,
        )
    };
    assert_eq!(status, inpaint_status::Ok, "{}", take_message(err));
    assert_eq!(out, *want.rgb().as_raw());
    assert_ne!(out, *image.as_raw(), "nothing was painted");
    // SAFETY: live, freed once.
    unsafe {
        inpaint_run_options::inpaint_run_options_free(run_opts);
        inpaint_model_options::inpaint_model_options_free(opts);
    }
    free(model);
}

/// The memory settings' setters check what they can at once, and a model that is not a
/// diffusion pipeline refuses them when loading, as a pipeline refuses the classical models'
/// settings.
#[test]
fn memory_settings_apply_to_diffusion_pipelines_only() {
    use inpaint_model_options as o;
    let opts = o::inpaint_model_options_new();
    let mut err = ptr::null_mut();
    let mut model = ptr::null_mut();
    // SAFETY: live options or NULL where the test says so; valid outputs.
    unsafe {
        for (kind, bytes) in [
            (3, 0),
            (INPAINT_MEMORY_LIMIT_AVAILABLE, 1),
            (INPAINT_MEMORY_LIMIT_UNCHECKED, 9),
        ] {
            let status = o::inpaint_model_options_set_memory_limit(opts, kind, bytes, &mut err);
            assert_eq!(status, inpaint_status::InvalidInput, "{kind} {bytes}");
            assert!(take_message(err).contains("memory limit"));
        }
        assert_eq!(
            o::inpaint_model_options_set_load_stages_on_demand(ptr::null_mut(), true),
            inpaint_status::NullParameter
        );
        assert_eq!(
            o::inpaint_model_options_set_cpu_arena(ptr::null_mut(), true),
            inpaint_status::NullParameter
        );
        assert_eq!(
            o::inpaint_model_options_set_load_stages_on_demand(opts, false),
            inpaint_status::Ok
        );
        let status =
            inpaint_model::inpaint_model_load(c"telea".as_ptr(), opts, &mut model, &mut err);
        assert_eq!(status, inpaint_status::InvalidInput);
        assert!(model.is_null());
        let message = take_message(err);
        assert!(
            message.contains("load-stages-on-demand setting applies to diffusion"),
            "{message}"
        );
        o::inpaint_model_options_free(opts);

        let opts = o::inpaint_model_options_new();
        assert_eq!(
            o::inpaint_model_options_set_patch_size(opts, 5),
            inpaint_status::Ok
        );
        let status = inpaint_model::inpaint_model_load_diffusion_with_options(
            c"/nonexistent".as_ptr(),
            ptr::null(),
            opts,
            &mut model,
            &mut err,
        );
        assert_eq!(status, inpaint_status::InvalidInput);
        assert!(take_message(err).contains("patch size"));
        let status = inpaint_model::inpaint_model_load_diffusion_with_options(
            c"/nonexistent".as_ptr(),
            ptr::null(),
            opts,
            ptr::null_mut(),
            ptr::null_mut(),
        );
        assert_eq!(status, inpaint_status::NullParameter);
        o::inpaint_model_options_free(opts);
    }
}

/// "openai-compat"'s settings: checked when set where they can be, refused by other models,
/// and the model refuses the classical parameters. (Loading and running it against a fake
/// server is in the C tests, which control the environment's key: tests/c/test_inpaint.c.)
#[test]
fn openai_settings_apply_to_openai_compat_only() {
    let opts = inpaint_model_options::inpaint_model_options_new();
    let mut err = ptr::null_mut();
    let mut model = ptr::dangling_mut::<inpaint_model>();
    // SAFETY: live options, valid strings and out-pointers throughout.
    unsafe {
        assert_eq!(
            inpaint_model_options::inpaint_model_options_set_budget_cap(
                opts,
                c"week".as_ptr(),
                1.0,
                &mut err
            ),
            inpaint_status::InvalidInput
        );
        assert!(take_message(err).contains("session, day, month"));
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(
                inpaint_model_options::inpaint_model_options_set_budget_cap(
                    opts,
                    c"day".as_ptr(),
                    bad,
                    ptr::null_mut()
                ),
                inpaint_status::InvalidInput
            );
        }
        assert_eq!(
            inpaint_model_options::inpaint_model_options_set_openai_base_url(
                opts,
                ptr::null(),
                ptr::null_mut()
            ),
            inpaint_status::NullParameter
        );
        assert_eq!(
            inpaint_model_options::inpaint_model_options_set_dedup_window(opts, 0),
            inpaint_status::Ok
        );
        assert_eq!(
            inpaint_model::inpaint_model_load(c"telea".as_ptr(), opts, &mut model, &mut err),
            inpaint_status::InvalidInput
        );
        assert!(model.is_null());
        let message = take_message(err);
        assert!(message.contains("de-dup window"), "{message}");
        assert!(message.contains("openai-compat only"), "{message}");
        inpaint_model_options::inpaint_model_options_free(opts);

        let opts = inpaint_model_options::inpaint_model_options_new();
        assert_eq!(
            inpaint_model_options::inpaint_model_options_set_seed(opts, 3),
            inpaint_status::Ok
        );
        let status = inpaint_model::inpaint_model_load(
            c"openai-compat".as_ptr(),
            opts,
            &mut model,
            &mut err,
        );
        let message = take_message(err);
        if cfg!(feature = "openai") {
            assert_eq!(status, inpaint_status::InvalidInput, "{message}");
            assert!(
                message.contains("do not apply to openai-compat"),
                "{message}"
            );
        } else {
            assert_eq!(status, inpaint_status::Unsupported, "{message}");
        }
        assert!(model.is_null());
        inpaint_model_options::inpaint_model_options_free(opts);
    }
}

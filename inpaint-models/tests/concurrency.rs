//! Threads, each with its own model instance, give the bytes one thread gives. `forward` takes
//! `&mut self` (ONNX Runtime's `Run` is not to be called concurrently on one session), so the
//! supported way to use several cores is one instance per thread; there is no shared pool.
//! The ONNX models run the tiny graphs of `tests/fixtures/onnx` (see its README).

use image::GrayImage;
use inpaint_core::{HdStrategy, Image, InpaintModel, InpaintOptions, Mask, inpaint};
use inpaint_models::{ModelOptions, by_name};

use crate::properties::noise;

const THREADS: usize = 4;

/// A few different inputs: odd sizes, several holes, each HD strategy (with a small trigger and
/// limit so that crop and resize run).
fn inputs() -> Vec<(Image, Mask, InpaintOptions)> {
    let sizes = [(61, 37), (40, 40), (29, 70)];
    let strategies = [HdStrategy::Crop, HdStrategy::Resize, HdStrategy::Original];
    sizes
        .into_iter()
        .zip(strategies)
        .enumerate()
        .map(|(i, ((w, h), strategy))| {
            let image = Image::from_rgb(noise(w, h, 11 + i as u32)).unwrap();
            let mask = GrayImage::from_fn(w, h, |x, y| {
                let hole = (3..12).contains(&x) && (4..10).contains(&y)
                    || (w / 2..w / 2 + 7).contains(&x) && (h / 2..h - 3).contains(&y);
                image::Luma([if hole { 255 } else { 0 }])
            });
            let options = InpaintOptions::new(strategy)
                .with_crop_trigger_size(32)
                .with_crop_margin(4)
                .with_resize_limit(32);
            (image, Mask::from_gray(mask).unwrap(), options)
        })
        .collect()
}

/// Runs the first `count` inputs on `make()`'s model in one thread, then on `THREADS` threads
/// each with its own `make()`, and compares the bytes.
fn same_bytes_on_threads<M, F>(name: &str, count: usize, make: F)
where
    M: InpaintModel + Send,
    F: Fn() -> M + Sync,
{
    let mut inputs = inputs();
    inputs.truncate(count);
    let run_all = |model: &mut M| -> Vec<Image> {
        inputs
            .iter()
            .map(|(image, mask, options)| {
                inpaint(model, image, mask, options)
                    .unwrap_or_else(|e| panic!("{name}: {}", e.full_message()))
            })
            .collect()
    };
    let single = run_all(&mut make());
    let results: Vec<Vec<Image>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| scope.spawn(|| run_all(&mut make())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (thread, result) in results.iter().enumerate() {
        for (i, (got, want)) in result.iter().zip(&single).enumerate() {
            assert!(got == want, "{name}: thread {thread}, input {i} differs");
        }
    }
}

#[test]
fn classical_models_on_threads_give_the_single_thread_bytes() {
    for name in ["telea", "navier-stokes", "patchmatch"] {
        same_bytes_on_threads(name, 3, || by_name(name, &ModelOptions::new()).unwrap());
    }
}

#[cfg(feature = "onnx")]
#[test]
fn onnx_models_on_threads_give_the_single_thread_bytes() {
    use inpaint_models::onnx::{Architecture, OnnxModel, OnnxOptions};

    // A fixed-size graph converts 512×512 tensors per crop (slow in a debug build): one input.
    for (file, arch, count) in [
        ("lama_dynamic.onnx", Architecture::LamaDynamic, 3),
        ("migan_pipeline.onnx", Architecture::MiganPipeline, 3),
        ("lama_fixed512.onnx", Architecture::Lama, 1),
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/onnx")
            .join(file);
        same_bytes_on_threads(file, count, || {
            OnnxModel::load(&path, arch, &OnnxOptions::default())
                .unwrap_or_else(|e| panic!("{file}: {}", e.full_message()))
        });
    }
}

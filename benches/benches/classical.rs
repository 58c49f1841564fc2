//! The classical models (Telea, Navier-Stokes) through the whole `inpaint` pipeline.
//!
//! * `classical/<size>`: a synthetic photo at 512², 2048² and 4096² with blob masks covering
//!   about 1 %, 5 % and 20 % of it, `HdStrategy::Original` so that the model sees the whole
//!   image, as `cv2.inpaint` does. Throughput is in masked pixels per second.
//! * `classical/4096-hole64`: one 64×64 hole in a 4096² photo, with `Original` (the model
//!   walks the whole image) and with the default options (`Crop`: the model sees 320×320).
//!
//! Inputs are generated before timing. The large cases take seconds per iteration, so they use
//! ten flat samples; the whole run takes three to five minutes on two cores. Run one group
//! with, e.g., `cargo bench -p inpaint-benches --bench classical -- classical/512`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use inpaint_benches::{blobs_mask, photo, single_hole_mask};
use inpaint_core::{
    HdStrategy, Image, InpaintModel, InpaintOptions, Mask, inpaint, inpaint_in_place,
};
use inpaint_models::classical::{NavierStokes, Telea};

/// The models under test, by the names the CLI uses; both at their default radius (4).
fn models() -> [(&'static str, Box<dyn InpaintModel>); 2] {
    [
        ("telea", Box::new(Telea::new())),
        ("navier-stokes", Box::new(NavierStokes::new())),
    ]
}

const PHOTO_SEED: u64 = 1;
const MASK_SEED: u64 = 2;

fn blob_masks(c: &mut Criterion) {
    let options = InpaintOptions::new(HdStrategy::Original);
    for size in [512, 2048, 4096] {
        let image = Image::from_rgb(photo(size, size, PHOTO_SEED)).expect("valid photo");
        let mut group = c.benchmark_group(format!("classical/{size}"));
        group.warm_up_time(Duration::from_secs(1));
        if size <= 512 {
            // Milliseconds per iteration.
            group
                .sample_size(50)
                .measurement_time(Duration::from_secs(5));
        } else {
            // Up to seconds per iteration: ten samples of the same iteration count.
            group.sample_size(10).sampling_mode(SamplingMode::Flat);
        }
        for percent in [1, 5, 20] {
            if size > 512 {
                // Enough for ten iterations at ~1 M masked pixels/s (a two-core machine), so that
                // criterion does not stretch the time itself and warn.
                let masked = f64::from(size * size) * f64::from(percent) / 100.0;
                let seconds = (10.0 * masked / 1.0e6).clamp(3.0, 40.0);
                group.measurement_time(Duration::from_secs_f64(seconds));
            }
            let gray = blobs_mask(size, size, f64::from(percent) / 100.0, MASK_SEED);
            let mask = Mask::from_gray(gray).expect("valid mask");
            group.throughput(Throughput::Elements(mask.fill_count()));
            for (name, mut model) in models() {
                let id = BenchmarkId::new(name, format!("{percent}%"));
                group.bench_with_input(id, &mask, |b, mask| {
                    b.iter(|| black_box(inpaint(&mut model, &image, mask, &options)))
                });
            }
        }
        group.finish();
    }
}

fn single_hole(c: &mut Criterion) {
    let size = 4096;
    let image = Image::from_rgb(photo(size, size, PHOTO_SEED)).expect("valid photo");
    let mask = Mask::from_gray(single_hole_mask(size, size, 64)).expect("valid mask");
    let mut group = c.benchmark_group("classical/4096-hole64");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(mask.fill_count()));
    for (name, mut model) in models() {
        for strategy in [HdStrategy::Original, HdStrategy::Crop] {
            let options = InpaintOptions::new(strategy);
            let id = BenchmarkId::new(name, strategy);
            group.bench_function(id, |b| {
                b.iter(|| black_box(inpaint(&mut model, &image, &mask, &options)))
            });
            let id = BenchmarkId::new(name, format!("{strategy}-in-place"));
            group.bench_function(id, |b| {
                b.iter_batched_ref(
                    || image.clone(),
                    |target| black_box(inpaint_in_place(&mut model, target, &mask, &options)),
                    BatchSize::LargeInput,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, blob_masks, single_hole);
criterion_main!(benches);

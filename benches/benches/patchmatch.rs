//! The `patchmatch` model through the whole `inpaint` pipeline (`HdStrategy::Original`, so the
//! model sees the whole image, as PyPatchMatch does), at its defaults (patch side 7, seed 0).
//!
//! * `patchmatch/512`: a synthetic 512² photo with blob masks of about 1 %, 5 % and 20 %.
//! * `patchmatch/2048`: 2048² with a 1 % mask.
//!
//! Seconds per iteration at most, so ten flat samples; about a minute on two cores.
//! `benches/compare_pypatchmatch.py` has the side-by-side comparison with PyPatchMatch.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use inpaint_benches::{blobs_mask, photo};
use inpaint_core::{HdStrategy, Image, InpaintOptions, Mask, inpaint};
use inpaint_models::patchmatch::PatchMatch;

const PHOTO_SEED: u64 = 1;
const MASK_SEED: u64 = 2;

fn patchmatch(c: &mut Criterion) {
    let options = InpaintOptions::new(HdStrategy::Original);
    for (size, percents) in [(512u32, &[1u32, 5, 20][..]), (2048, &[1][..])] {
        let image = Image::from_rgb(photo(size, size, PHOTO_SEED)).expect("valid photo");
        let mut group = c.benchmark_group(format!("patchmatch/{size}"));
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(if size > 512 { 20 } else { 8 }));
        for &percent in percents {
            let gray = blobs_mask(size, size, f64::from(percent) / 100.0, MASK_SEED);
            let mask = Mask::from_gray(gray).expect("valid mask");
            group.throughput(Throughput::Elements(mask.fill_count()));
            let mut model = PatchMatch::new();
            group.bench_with_input(
                BenchmarkId::new("default", format!("{percent}%")),
                &mask,
                |b, mask| b.iter(|| black_box(inpaint(&mut model, &image, mask, &options))),
            );
        }
        group.finish();
    }
}

criterion_group!(benches, patchmatch);
criterion_main!(benches);

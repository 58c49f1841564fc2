//! The two post-processing steps of IOPaint's diffusion models: the feathered mask
//! (`sd_mask_blur`) and histogram matching (`sd_match_histograms`).

use image::{GrayImage, RgbImage};

/// OpenCV's `GaussianBlur(mask, (k, k), 0)` with `k = 2·blur + 1`, as IOPaint feathers its mask:
/// OpenCV's fixed kernels up to 7 taps, the sampled Gaussian with
/// `σ = 0.3·((k − 1)/2 − 1) + 0.8` beyond, borders mirrored without repeating the edge
/// (`BORDER_REFLECT_101`). Computed in floating point and rounded, so within one level of
/// OpenCV's fixed-point result.
pub(crate) fn gaussian_blur(mask: &GrayImage, blur: u32) -> GrayImage {
    let kernel = gaussian_kernel(2 * blur as usize + 1);
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    let radius = kernel.len() / 2;
    let reflect = |i: isize, n: usize| -> usize {
        if n == 1 {
            return 0;
        }
        let period = 2 * (n as isize - 1);
        let mut i = i.rem_euclid(period);
        if i >= n as isize {
            i = period - i;
        }
        i as usize
    };
    let src = mask.as_raw();
    let mut rows = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            rows[y * w + x] = kernel
                .iter()
                .enumerate()
                .map(|(k, &c)| {
                    let sx = reflect(x as isize + k as isize - radius as isize, w);
                    c * f32::from(src[y * w + sx])
                })
                .sum();
        }
    }
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let v: f32 = kernel
                .iter()
                .enumerate()
                .map(|(k, &c)| {
                    let sy = reflect(y as isize + k as isize - radius as isize, h);
                    c * rows[sy * w + x]
                })
                .sum();
            out[y * w + x] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    GrayImage::from_raw(mask.width(), mask.height(), out).expect("same size as the mask")
}

/// OpenCV's `getGaussianKernel(k, 0)`.
fn gaussian_kernel(k: usize) -> Vec<f32> {
    match k {
        1 => vec![1.0],
        3 => vec![0.25, 0.5, 0.25],
        5 => vec![0.0625, 0.25, 0.375, 0.25, 0.0625],
        7 => vec![
            0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125,
        ],
        _ => {
            let sigma = 0.3 * ((k as f64 - 1.0) * 0.5 - 1.0) + 0.8;
            let centre = (k as f64 - 1.0) / 2.0;
            let raw: Vec<f64> = (0..k)
                .map(|i| (-(i as f64 - centre).powi(2) / (2.0 * sigma * sigma)).exp())
                .collect();
            let sum: f64 = raw.iter().sum();
            raw.iter().map(|v| (v / sum) as f32).collect()
        }
    }
}

/// IOPaint's `_match_histograms`: each channel of `source` remapped so that its histogram over
/// the pixels where `mask` is 0 matches `reference`'s over the same pixels. The lookup applies
/// to every pixel.
pub(crate) fn match_histograms(
    source: &RgbImage,
    reference: &RgbImage,
    mask: &GrayImage,
) -> RgbImage {
    let mut out = source.clone();
    for channel in 0..3 {
        let histogram = |image: &RgbImage| {
            let mut counts = [0u64; 256];
            for (pixel, &m) in image.pixels().zip(mask.as_raw()) {
                if m == 0 {
                    counts[usize::from(pixel.0[channel])] += 1;
                }
            }
            counts
        };
        let source_cdf = cdf(&histogram(source));
        let reference_cdf = cdf(&histogram(reference));
        // As IOPaint: the first reference level whose CDF reaches the source's; when none
        // does (rounding), the previous level's answer stands.
        let mut lookup = [0u8; 256];
        let mut value = 0u8;
        for (level, &s) in source_cdf.iter().enumerate() {
            if let Some(found) = reference_cdf.iter().position(|&r| r >= s) {
                value = found as u8;
            }
            lookup[level] = value;
        }
        for pixel in out.pixels_mut() {
            pixel.0[channel] = lookup[usize::from(pixel.0[channel])];
        }
    }
    out
}

/// The cumulative histogram divided by its last value (NaN everywhere when it is empty, as
/// numpy's; then no level matches and the lookup maps everything to 0, as IOPaint's).
fn cdf(histogram: &[u64; 256]) -> [f64; 256] {
    let mut out = [0.0; 256];
    let mut total = 0u64;
    for (o, &count) in out.iter_mut().zip(histogram) {
        total += count;
        *o = total as f64;
    }
    let max = total as f64;
    for o in &mut out {
        *o /= max;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blur_spreads_a_point_as_opencv_does() {
        let mut mask = GrayImage::new(9, 1);
        mask.put_pixel(4, 0, image::Luma([255]));
        // One row: the vertical pass reflects onto the same row, so only the 3-tap kernel
        // [0.25, 0.5, 0.25] acts horizontally, and vertically sums to 1.
        let out = gaussian_blur(&mask, 1);
        assert_eq!(&out.as_raw()[3..6], &[64, 128, 64]);
        assert_eq!(out.as_raw()[0], 0);
    }

    #[test]
    fn large_kernels_sum_to_one() {
        for k in [9, 23, 41] {
            let sum: f32 = gaussian_kernel(k).iter().sum();
            assert!((sum - 1.0).abs() < 1e-5, "{k}: {sum}");
        }
    }

    #[test]
    fn histogram_matching_maps_levels_onto_the_reference() {
        let source = RgbImage::from_fn(4, 1, |x, _| image::Rgb([x as u8 * 10; 3]));
        let reference = RgbImage::from_fn(4, 1, |x, _| image::Rgb([x as u8 * 10 + 100; 3]));
        let mask = GrayImage::new(4, 1);
        let out = match_histograms(&source, &reference, &mask);
        let levels: Vec<u8> = out.pixels().map(|p| p.0[0]).collect();
        assert_eq!(levels, vec![100, 110, 120, 130]);
    }
}

//! Bicubic resizing with OpenCV's `INTER_CUBIC` kernel, which IOPaint uses everywhere.
//!
//! Kernel `a = −0.75`, pixel centres at `+0.5`, four taps per axis at any scale (no
//! anti-aliasing when shrinking, as OpenCV), replicated border. Computed in `f32`, so a value
//! can differ by one from OpenCV's fixed-point 8-bit path.

use image::{ImageBuffer, Pixel};

const A: f32 = -0.75;

fn cubic_weights(t: f32) -> [f32; 4] {
    let w0 = ((A * (t + 1.0) - 5.0 * A) * (t + 1.0) + 8.0 * A) * (t + 1.0) - 4.0 * A;
    let w1 = ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0;
    let w2 = ((A + 2.0) * (1.0 - t) - (A + 3.0)) * (1.0 - t) * (1.0 - t) + 1.0;
    [w0, w1, w2, 1.0 - w0 - w1 - w2]
}

/// For each destination index along one axis: the first of the four source taps (may be
/// negative) and their weights.
fn axis_taps(src_len: u32, dst_len: u32) -> Vec<(i64, [f32; 4])> {
    let scale = f64::from(src_len) / f64::from(dst_len);
    (0..dst_len)
        .map(|d| {
            let f = (f64::from(d) + 0.5) * scale - 0.5;
            let base = f.floor();
            (base as i64 - 1, cubic_weights((f - base) as f32))
        })
        .collect()
}

fn clamp_index(i: i64, len: u32) -> usize {
    i.clamp(0, i64::from(len) - 1) as usize
}

/// Resizes `src` to `width × height` (both ≥ 1) with OpenCV's bicubic kernel.
pub(crate) fn resize_cubic<P: Pixel<Subpixel = u8>>(
    src: &ImageBuffer<P, Vec<u8>>,
    width: u32,
    height: u32,
) -> ImageBuffer<P, Vec<u8>> {
    let (sw, sh) = src.dimensions();
    if (sw, sh) == (width, height) {
        return src.clone();
    }
    let ch = usize::from(P::CHANNEL_COUNT);
    let src = src.as_raw();

    // Horizontal pass, each source row once, into f32.
    let x_taps = axis_taps(sw, width);
    let row_len = width as usize * ch;
    let mut horizontal = vec![0f32; row_len * sh as usize];
    for (src_row, out_row) in src
        .chunks_exact(sw as usize * ch)
        .zip(horizontal.chunks_exact_mut(row_len))
    {
        for (out_px, (first, w)) in out_row.chunks_exact_mut(ch).zip(&x_taps) {
            for (k, wk) in w.iter().enumerate() {
                let sx = clamp_index(first + k as i64, sw) * ch;
                for (o, s) in out_px.iter_mut().zip(&src_row[sx..sx + ch]) {
                    *o += wk * f32::from(*s);
                }
            }
        }
    }

    // Vertical pass, rounded and saturated to u8.
    let y_taps = axis_taps(sh, height);
    let mut out = vec![0u8; row_len * height as usize];
    for (out_row, (first, w)) in out.chunks_exact_mut(row_len).zip(&y_taps) {
        let rows: [&[f32]; 4] = std::array::from_fn(|k| {
            let sy = clamp_index(first + k as i64, sh);
            &horizontal[sy * row_len..(sy + 1) * row_len]
        });
        for (i, o) in out_row.iter_mut().enumerate() {
            let v = w[0] * rows[0][i] + w[1] * rows[1][i] + w[2] * rows[2][i] + w[3] * rows[3][i];
            *o = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    ImageBuffer::from_raw(width, height, out).expect("buffer sized from its dimensions")
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma, RgbImage};

    #[test]
    fn weights_sum_to_one_and_interpolate() {
        for t in [0.0f32, 0.25, 0.5, 0.9] {
            let w = cubic_weights(t);
            assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        assert_eq!(cubic_weights(0.0), [0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn constant_stays_constant_and_sizes_match() {
        let src = RgbImage::from_pixel(37, 11, image::Rgb([200, 10, 99]));
        let out = resize_cubic(&src, 13, 40);
        assert_eq!(out.dimensions(), (13, 40));
        assert!(out.pixels().all(|p| p.0 == [200, 10, 99]));
    }

    #[test]
    fn upscale_by_two_of_a_ramp_matches_opencv_values() {
        // cv2.resize(np.array([[0, 100, 200]], np.uint8), (6, 1), interpolation=cv2.INTER_CUBIC)
        // (opencv-python-headless 4.12) gives these.
        let src = GrayImage::from_raw(3, 1, vec![0, 100, 200]).unwrap();
        let out = resize_cubic(&src, 6, 1);
        let got: Vec<u8> = out.pixels().map(|p: &Luma<u8>| p.0[0]).collect();
        assert_eq!(got, [0, 19, 67, 133, 181, 211]);
    }

    #[test]
    fn downscale_matches_opencv_values() {
        // cv2.resize(np.arange(0, 250, 10, dtype=np.uint8).reshape(5, 5), (3, 2),
        //            interpolation=cv2.INTER_CUBIC)
        let src = GrayImage::from_raw(5, 5, (0..25).map(|v| v * 10).collect()).unwrap();
        let out = resize_cubic(&src, 3, 2);
        assert_eq!(out.into_raw(), [36, 53, 71, 169, 187, 204]);
    }
}

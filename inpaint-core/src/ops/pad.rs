//! Padding to a model's size rules: bottom/right only, mirrored including the edge pixel.

use image::{ImageBuffer, Pixel};

/// IOPaint's `pad_img_to_modulo` size rule: each side up to a multiple of `multiple`, then at
/// least `min_size`, then both to the longer side when `square`.
pub(crate) fn padded_size(
    width: u32,
    height: u32,
    multiple: u32,
    min_size: Option<u32>,
    square: bool,
) -> (u32, u32) {
    let up = |side: u32| {
        let multiple = multiple.max(1);
        let padded = side.div_ceil(multiple).saturating_mul(multiple);
        min_size.map_or(padded, |min| padded.max(min))
    };
    let (w, h) = (up(width), up(height));
    if square {
        let side = w.max(h);
        (side, side)
    } else {
        (w, h)
    }
}

/// Where index `i` of a signal of length `len`, extended to the right by mirroring with the edge
/// sample repeated (`a b c | c b a | a b c …`, numpy's `symmetric`, OpenCV's `BORDER_REFLECT`),
/// reads from. Periodic with period `2 * len`, so pads longer than the signal keep mirroring as
/// numpy does.
pub(crate) fn reflect_index(i: u32, len: u32) -> u32 {
    let period = 2 * u64::from(len);
    let m = u64::from(i) % period;
    (if m < u64::from(len) {
        m
    } else {
        period - 1 - m
    }) as u32
}

/// Pads `src` to `width × height` (each at least the source's) on the bottom and right by
/// mirroring. Returns a copy even when no padding is needed.
pub(crate) fn reflect_pad<P: Pixel<Subpixel = u8>>(
    src: &ImageBuffer<P, Vec<u8>>,
    width: u32,
    height: u32,
) -> ImageBuffer<P, Vec<u8>> {
    let (sw, sh) = src.dimensions();
    debug_assert!(width >= sw && height >= sh);
    if (sw, sh) == (width, height) {
        return src.clone();
    }
    let channels = usize::from(P::CHANNEL_COUNT);
    let src_row_len = sw as usize * channels;
    let mut data = vec![0u8; width as usize * height as usize * channels];
    for (y, row) in data.chunks_exact_mut(width as usize * channels).enumerate() {
        let sy = reflect_index(y as u32, sh) as usize;
        let src_row = &src.as_raw()[sy * src_row_len..(sy + 1) * src_row_len];
        row[..src_row_len].copy_from_slice(src_row);
        for x in sw..width {
            let sx = reflect_index(x, sw) as usize * channels;
            let dst = x as usize * channels;
            row[dst..dst + channels].copy_from_slice(&src_row[sx..sx + channels]);
        }
    }
    ImageBuffer::from_raw(width, height, data).expect("buffer sized from its dimensions")
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma};

    #[test]
    fn sizes_follow_iopaint() {
        assert_eq!(padded_size(100, 50, 8, None, false), (104, 56));
        assert_eq!(padded_size(96, 50, 8, None, false), (96, 56));
        assert_eq!(padded_size(700, 500, 512, Some(512), true), (1024, 1024));
        assert_eq!(padded_size(100, 300, 512, Some(512), true), (512, 512));
        assert_eq!(padded_size(7, 3, 1, None, false), (7, 3));
        assert_eq!(padded_size(7, 3, 1, None, true), (7, 7));
    }

    #[test]
    fn reflect_index_mirrors_with_edge_and_repeats() {
        let got: Vec<u32> = (0..13).map(|i| reflect_index(i, 3)).collect();
        assert_eq!(got, [0, 1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0]);
        assert_eq!(reflect_index(5, 1), 0);
    }

    #[test]
    fn pads_bottom_right_only() {
        let src = GrayImage::from_fn(3, 2, |x, y| Luma([(10 * y + x) as u8]));
        let out = reflect_pad(&src, 5, 4);
        let rows: Vec<Vec<u8>> = out.rows().map(|r| r.map(|p| p.0[0]).collect()).collect();
        assert_eq!(
            rows,
            [
                vec![0, 1, 2, 2, 1],
                vec![10, 11, 12, 12, 11],
                vec![10, 11, 12, 12, 11],
                vec![0, 1, 2, 2, 1],
            ]
        );
    }
}

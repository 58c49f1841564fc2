//! `POST /api/v1/adjust_mask`: grow, shrink or invert a mask, answered as the picture the app
//! overlays (IOPaint's `helper.adjust_mask`).

use image::{GrayImage, Luma, Rgba, RgbaImage};

/// The app's brush colour, `#ffcc00bb` as IOPaint writes it: (255, 203, 0, 186).
pub(crate) const BRUSH: Rgba<u8> = Rgba([255, 203, 0, 186]);

/// What to do with the mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// Dilate with an ellipse of `2k+1` pixels.
    Expand,
    /// Erode with an ellipse of `2k+1` pixels.
    Shrink,
    /// Swap fill and keep.
    Reverse,
}

impl Operation {
    /// IOPaint's `AdjustMaskOperate` values.
    pub(crate) const NAMES: [&'static str; 3] = ["expand", "shrink", "reverse"];

    /// Parses one of [`NAMES`](Self::NAMES).
    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name {
            "expand" => Some(Operation::Expand),
            "shrink" => Some(Operation::Shrink),
            "reverse" => Some(Operation::Reverse),
            _ => None,
        }
    }
}

/// Binarises `mask` (≥ 127 is fill, IOPaint's cut here), applies `operation` with
/// OpenCV's elliptic structuring element of side `2 × kernel_size + 1`, and paints the fill
/// in [`BRUSH`] on a transparent picture.
pub(crate) fn adjust(mask: &GrayImage, kernel_size: u32, operation: Operation) -> RgbaImage {
    let (width, height) = mask.dimensions();
    let fill: Vec<bool> = mask.pixels().map(|p| p.0[0] >= 127).collect();
    let result = match operation {
        Operation::Reverse => fill.iter().map(|&f| !f).collect(),
        Operation::Expand => morph(&fill, width, height, kernel_size, true),
        Operation::Shrink => morph(&fill, width, height, kernel_size, false),
    };
    let gray = GrayImage::from_fn(width, height, |x, y| {
        Luma([u8::from(result[(y * width + x) as usize]) * 255])
    });
    RgbaImage::from_fn(width, height, |x, y| {
        if gray.get_pixel(x, y).0[0] > 128 {
            BRUSH
        } else {
            Rgba([0, 0, 0, 0])
        }
    })
}

/// The half-widths of OpenCV's `MORPH_ELLIPSE` element of side `2k+1`, row by row
/// (`getStructuringElement`: `dx = round(c·sqrt((r² − dy²)/r²))`).
fn ellipse_rows(k: u32) -> Vec<i64> {
    let r = i64::from(k);
    (-r..=r)
        .map(|dy| {
            if r == 0 {
                return 0;
            }
            let ratio = ((r * r - dy * dy) as f64) / ((r * r) as f64);
            (r as f64 * ratio.sqrt()).round() as i64
        })
        .collect()
}

/// Dilation (`grow`) or erosion of a binary image by the ellipse. Pixels outside the image
/// do not count, as OpenCV's default border for both.
fn morph(fill: &[bool], width: u32, height: u32, k: u32, grow: bool) -> Vec<bool> {
    let (w, h) = (i64::from(width), i64::from(height));
    // Per row, prefix counts of fill pixels: a window's count in O(1).
    let prefix: Vec<Vec<u32>> = (0..h)
        .map(|y| {
            let row = &fill[(y * w) as usize..((y + 1) * w) as usize];
            std::iter::once(0)
                .chain(row.iter().scan(0u32, |acc, &f| {
                    *acc += u32::from(f);
                    Some(*acc)
                }))
                .collect()
        })
        .collect();
    let rows = ellipse_rows(k);
    let r = i64::from(k);
    let mut out = vec![!grow; fill.len()];
    for y in 0..h {
        for x in 0..w {
            let mut hit = !grow;
            for (i, &dx) in rows.iter().enumerate() {
                let yy = y + i as i64 - r;
                if !(0..h).contains(&yy) {
                    continue;
                }
                let (x0, x1) = ((x - dx).max(0), (x + dx).min(w - 1));
                let ones =
                    prefix[yy as usize][(x1 + 1) as usize] - prefix[yy as usize][x0 as usize];
                let span = (x1 - x0 + 1) as u32;
                if grow && ones > 0 {
                    hit = true;
                    break;
                }
                if !grow && ones < span {
                    hit = false;
                    break;
                }
            }
            out[(y * w + x) as usize] = hit;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ellipse_is_opencvs() {
        // cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)) rows: 00100 11111 11111 11111 00100
        assert_eq!(ellipse_rows(2), vec![0, 2, 2, 2, 0]);
        // (11, 11): rows 0 and 10 are 00000100000, row 1 is 00111111100.
        let rows = ellipse_rows(5);
        assert_eq!((rows[0], rows[1], rows[5]), (0, 3, 5));
    }

    fn dot(size: u32, at: (u32, u32)) -> GrayImage {
        GrayImage::from_fn(size, size, |x, y| Luma([u8::from((x, y) == at) * 255]))
    }

    #[test]
    fn expand_grows_a_dot_into_the_ellipse_and_shrink_removes_it() {
        let grown = adjust(&dot(9, (4, 4)), 2, Operation::Expand);
        let painted: Vec<(u32, u32)> = grown
            .enumerate_pixels()
            .filter(|(_, _, p)| **p == BRUSH)
            .map(|(x, y, _)| (x, y))
            .collect();
        assert_eq!(painted.len(), 2 + 5 * 3, "{painted:?}");
        assert!(painted.contains(&(4, 2)) && painted.contains(&(6, 4)));
        assert!(!painted.contains(&(2, 2)));
        let shrunk = adjust(&dot(9, (4, 4)), 1, Operation::Shrink);
        assert!(shrunk.pixels().all(|p| p.0[3] == 0));
    }

    #[test]
    fn reverse_swaps_and_the_border_does_not_erode() {
        let full = GrayImage::from_pixel(4, 3, Luma([255]));
        assert!(
            adjust(&full, 3, Operation::Shrink)
                .pixels()
                .all(|p| *p == BRUSH)
        );
        assert!(
            adjust(&full, 0, Operation::Reverse)
                .pixels()
                .all(|p| p.0[3] == 0)
        );
    }
}

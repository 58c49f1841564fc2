//! IOPaint's extender (outpainting): where the image, the box and the canvas lie, and the
//! expanded image and mask the model paints (`_do_outpainting` and `expand_image`).

use image::{GrayImage, Luma, RgbImage};

use crate::ops::boxes::Rect;

/// Where an extender box meets a `width`×`height` image, in IOPaint's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extension {
    /// The box's left and top edges in image coordinates (negative: left of or above it).
    pub(crate) origin: (i64, i64),
    /// The box's size, which is also the size of the region the model paints.
    pub(crate) size: (u32, u32),
    /// The part of the image inside the box (IOPaint's `l, t, r, b`), in image coordinates.
    pub(crate) inside: Rect,
    /// The image's place on the canvas: the canvas holds the image and the box.
    pub(crate) image_at: (u32, u32),
    /// The box's place on the canvas (IOPaint's `paste_l, paste_t`).
    pub(crate) box_at: (u32, u32),
    /// The canvas's size, as `u64` so that an absurd box can be refused by the limits check
    /// rather than overflow.
    pub(crate) canvas: (u64, u64),
}

impl Extension {
    /// `None` when the box has no area or does not overlap the image (IOPaint's assertion
    /// `0 <= l < r and 0 <= t < b`).
    pub(crate) fn new(
        (x, y): (i64, i64),
        (box_w, box_h): (u32, u32),
        width: u32,
        height: u32,
    ) -> Option<Self> {
        // i128: the sums and negations below cannot overflow whatever the caller passed.
        let (x, y) = (i128::from(x), i128::from(y));
        let (right, bottom) = (x + i128::from(box_w), y + i128::from(box_h));
        let (w, h) = (i128::from(width), i128::from(height));
        let (l, t, r, b) = (x.max(0), y.max(0), right.min(w), bottom.min(h));
        if !(l < r && t < b) {
            return None;
        }
        let (pad_l, pad_t) = ((-x).max(0), (-y).max(0));
        let (pad_r, pad_b) = ((right - w).max(0), (bottom - h).max(0));
        // Each pad is below 2^64 + 2^32 and the canvas side below 2^66: saturate to u64, which
        // any limit refuses.
        let to_u64 = |v: i128| u64::try_from(v).unwrap_or(u64::MAX);
        let to_u32 = |v: i128| u32::try_from(v).unwrap_or(u32::MAX);
        Some(Extension {
            origin: (x as i64, y as i64),
            size: (box_w, box_h),
            // Inside the image, so within u32.
            inside: Rect {
                left: l as u32,
                top: t as u32,
                right: r as u32,
                bottom: b as u32,
            },
            image_at: (to_u32(pad_l), to_u32(pad_t)),
            box_at: (to_u32(x.max(0)), to_u32(y.max(0))),
            canvas: (to_u64(w + pad_l + pad_r), to_u64(h + pad_t + pad_b)),
        })
    }

    /// Whether the box reaches outside the image, so that there is something to paint.
    pub(crate) fn adds_pixels(&self) -> bool {
        (self.inside.width(), self.inside.height()) != self.size
    }

    /// IOPaint's `expand_image` on the part of `image` inside the box: that part, its border
    /// pixels repeated over the rest of the box (`BORDER_REPLICATE`), and the mask, 255 over
    /// the new pixels and 0 over the image's.
    pub(crate) fn expand(&self, image: &RgbImage) -> (RgbImage, GrayImage) {
        let (ox, oy) = self.origin;
        let r = self.inside;
        // The image pixel a box pixel repeats: the nearest one inside `r`.
        let source = |i: u32, from: i64, lo: u32, hi: u32| -> u32 {
            (from + i64::from(i)).clamp(i64::from(lo), i64::from(hi) - 1) as u32
        };
        let (w, h) = self.size;
        let expanded = RgbImage::from_fn(w, h, |i, j| {
            *image.get_pixel(
                source(i, ox, r.left, r.right),
                source(j, oy, r.top, r.bottom),
            )
        });
        let mask = GrayImage::from_fn(w, h, |i, j| {
            let (x, y) = (ox + i64::from(i), oy + i64::from(j));
            let inside = (i64::from(r.left)..i64::from(r.right)).contains(&x)
                && (i64::from(r.top)..i64::from(r.bottom)).contains(&y);
            Luma([if inside { 0 } else { 255 }])
        });
        (expanded, mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_around_the_image_pads_each_side() {
        let e = Extension::new((-2, -1), (8, 5), 4, 3).unwrap();
        assert_eq!(e.image_at, (2, 1));
        assert_eq!(e.box_at, (0, 0));
        assert_eq!(e.canvas, (8, 5));
        assert!(e.adds_pixels());
        let image = RgbImage::from_fn(4, 3, |x, y| image::Rgb([x as u8, y as u8, 0]));
        let (expanded, mask) = e.expand(&image);
        assert_eq!(expanded.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(expanded.get_pixel(7, 4).0, [3, 2, 0]);
        assert_eq!(expanded.get_pixel(3, 2).0, [1, 1, 0]);
        assert_eq!(mask.get_pixel(1, 1).0, [255]);
        assert_eq!(mask.get_pixel(2, 1).0, [0]);
        assert_eq!(mask.get_pixel(6, 3).0, [255]);
    }

    #[test]
    fn a_box_to_the_right_keeps_the_image_left_of_it() {
        let e = Extension::new((3, 0), (5, 3), 4, 3).unwrap();
        assert_eq!(
            e.inside,
            Rect {
                left: 3,
                top: 0,
                right: 4,
                bottom: 3
            }
        );
        assert_eq!((e.image_at, e.box_at, e.canvas), ((0, 0), (3, 0), (8, 3)));
    }

    #[test]
    fn a_box_inside_the_image_adds_nothing() {
        let e = Extension::new((1, 1), (2, 1), 4, 3).unwrap();
        assert!(!e.adds_pixels());
        assert_eq!(e.canvas, (4, 3));
    }

    #[test]
    fn no_overlap_or_no_area_is_none() {
        assert_eq!(Extension::new((4, 0), (5, 3), 4, 3), None);
        assert_eq!(Extension::new((-5, 0), (5, 3), 4, 3), None);
        assert_eq!(Extension::new((0, 0), (0, 3), 4, 3), None);
        assert_eq!(Extension::new((i64::MAX, 0), (u32::MAX, 3), 4, 3), None);
    }

    #[test]
    fn absurd_boxes_saturate_instead_of_overflowing() {
        let e = Extension::new((i64::MIN, 0), (u32::MAX, 3), 4, 3);
        assert_eq!(e, None);
        let e = Extension::new((-(1 << 40), 0), (u32::MAX, 3), 4, 3);
        assert_eq!(e, None, "the box ends before the image");
        let e = Extension::new((-(1 << 31), 0), (u32::MAX, 3), 4, 3).unwrap();
        assert_eq!(e.canvas.0, u64::from(u32::MAX));
        assert_eq!(e.image_at.0, 1 << 31);
    }
}

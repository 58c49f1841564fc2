//! Crop boxes for the `Crop` HD strategy: one box per masked region, grown by a margin.

use image::GrayImage;

/// A rectangle `[left, top, right, bottom)` in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rect {
    pub(crate) left: u32,
    pub(crate) top: u32,
    pub(crate) right: u32,
    pub(crate) bottom: u32,
}

impl Rect {
    pub(crate) fn width(&self) -> u32 {
        self.right - self.left
    }

    pub(crate) fn height(&self) -> u32 {
        self.bottom - self.top
    }

    /// The part both rectangles cover, if any.
    pub(crate) fn intersection(&self, other: &Rect) -> Option<Rect> {
        let (left, right) = (self.left.max(other.left), self.right.min(other.right));
        let (top, bottom) = (self.top.max(other.top), self.bottom.min(other.bottom));
        (left < right && top < bottom).then_some(Rect {
            left,
            top,
            right,
            bottom,
        })
    }

    fn overlaps(&self, other: &Rect) -> bool {
        self.left < other.right
            && other.left < self.right
            && self.top < other.bottom
            && other.top < self.bottom
    }

    fn union(&self, other: &Rect) -> Rect {
        Rect {
            left: self.left.min(other.left),
            top: self.top.min(other.top),
            right: self.right.max(other.right),
            bottom: self.bottom.max(other.bottom),
        }
    }
}

/// IOPaint's `boxes_from_mask`: the bounding rectangle of each *external* contour of a binary
/// mask (non-zero = fill), in the order OpenCV's `findContours(RETR_EXTERNAL)` lists them.
///
/// External contours are the outer boundaries of 8-connected regions that are not enclosed in a
/// hole of another region; a region inside a hole lies within its encloser's box anyway.
/// OpenCV lists them in reverse raster order of each region's first pixel, and since boxes that
/// overlap are pasted in turn (the later one wins), that order is kept.
///
/// `filled` bounds the non-zero pixels; work is confined to it plus a one-pixel ring, outside
/// which everything is background connected to the image's surroundings.
pub(crate) fn boxes_from_mask(mask: &GrayImage, filled: Rect) -> Vec<Rect> {
    let (img_w, img_h) = mask.dimensions();
    let x0 = filled.left.saturating_sub(1);
    let y0 = filled.top.saturating_sub(1);
    let (w, h) = (
        ((filled.right + 1).min(img_w) - x0) as usize,
        ((filled.bottom + 1).min(img_h) - y0) as usize,
    );
    let fill: Vec<bool> = (0..h)
        .flat_map(|y| {
            let row = (y0 as usize + y) * img_w as usize + x0 as usize;
            mask.as_raw()[row..row + w].iter().map(|&v| v != 0)
        })
        .collect();
    let outside = outside_background(&fill, w, h);
    let on_window_border = |p: usize| {
        let (x, y) = (p % w, p / w);
        x == 0 || y == 0 || x == w - 1 || y == h - 1
    };

    let mut seen = vec![false; w * h];
    let mut stack = Vec::new();
    let mut boxes = Vec::new();
    for start in 0..w * h {
        if !fill[start] || seen[start] {
            continue;
        }
        let (sx, sy) = ((start % w) as u32, (start / w) as u32);
        let mut rect = Rect {
            left: sx,
            top: sy,
            right: sx + 1,
            bottom: sy + 1,
        };
        // A foreground pixel on the window's border can only be on the image's border.
        let mut external = false;
        seen[start] = true;
        stack.push(start);
        while let Some(p) = stack.pop() {
            let (x, y) = ((p % w) as u32, (p / w) as u32);
            rect.left = rect.left.min(x);
            rect.right = rect.right.max(x + 1);
            rect.top = rect.top.min(y);
            rect.bottom = rect.bottom.max(y + 1);
            external |= on_window_border(p) || neighbours4(p, w, h).any(|q| outside[q]);
            for q in neighbours8(p, w, h) {
                if fill[q] && !seen[q] {
                    seen[q] = true;
                    stack.push(q);
                }
            }
        }
        if external {
            boxes.push(Rect {
                left: rect.left + x0,
                top: rect.top + y0,
                right: rect.right + x0,
                bottom: rect.bottom + y0,
            });
        }
    }
    boxes.reverse();
    boxes
}

/// Which background pixels (not `fill`) of a `w × h` window are 4-connected to its border:
/// outside the window there is only background, connected all around, and 4-connected
/// background is the dual of 8-connected foreground. Works on runs of background per row,
/// joined where they share a column with a run of the row above: a pixel-by-pixel flood fill
/// of a mostly empty 2048² window took about 60 ms, most of the `Crop` strategy's own cost.
fn outside_background(fill: &[bool], w: usize, h: usize) -> Vec<bool> {
    // Runs `(y, start, end)`, columns `start..end` of row y, in raster order;
    // `rows[y]..rows[y + 1]` are row y's.
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    let mut rows = vec![0usize];
    let mut parent: Vec<usize> = Vec::new();
    // The representative of run i's set (union–find with path halving).
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for (y, row) in fill.chunks_exact(w).enumerate() {
        let above = if y > 0 { rows[y - 1]..rows[y] } else { 0..0 };
        let mut next_above = above.start;
        let mut x = 0;
        while x < w {
            if row[x] {
                x += 1;
                continue;
            }
            let start = x;
            while x < w && !row[x] {
                x += 1;
            }
            let id = runs.len();
            runs.push((y, start, x));
            parent.push(id);
            // Runs above that end before this one starts share no column with it or later ones.
            while next_above < above.end && runs[next_above].2 <= start {
                next_above += 1;
            }
            let mut k = next_above;
            while k < above.end && runs[k].1 < x {
                let (a, b) = (root(&mut parent, k), root(&mut parent, id));
                parent[a.max(b)] = a.min(b);
                k += 1;
            }
        }
        rows.push(runs.len());
    }
    let mut touches_border = vec![false; runs.len()];
    for (id, &(y, start, end)) in runs.iter().enumerate() {
        if y == 0 || y + 1 == h || start == 0 || end == w {
            touches_border[root(&mut parent, id)] = true;
        }
    }
    let mut outside = vec![false; w * h];
    for (id, &(y, start, end)) in runs.iter().enumerate() {
        if touches_border[root(&mut parent, id)] {
            outside[y * w + start..y * w + end].fill(true);
        }
    }
    outside
}

fn neighbours4(p: usize, w: usize, h: usize) -> impl Iterator<Item = usize> {
    let (x, y) = (p % w, p / w);
    [
        (x > 0).then(|| p - 1),
        (x + 1 < w).then(|| p + 1),
        (y > 0).then(|| p - w),
        (y + 1 < h).then(|| p + w),
    ]
    .into_iter()
    .flatten()
}

fn neighbours8(p: usize, w: usize, h: usize) -> impl Iterator<Item = usize> {
    let (x, y) = ((p % w) as isize, (p / w) as isize);
    (-1isize..=1)
        .flat_map(move |dy| (-1isize..=1).map(move |dx| (dx, dy)))
        .filter(|&d| d != (0, 0))
        .filter_map(move |(dx, dy)| {
            let (nx, ny) = (x + dx, y + dy);
            (nx >= 0 && ny >= 0 && (nx as usize) < w && (ny as usize) < h)
                .then(|| ny as usize * w + nx as usize)
        })
}

/// IOPaint's `_crop_box`: the box grown by `margin` on each side around its centre, and where
/// that crosses an image edge, shifted the other way to keep as much context as possible, then
/// clamped to the image.
///
/// One deviation: IOPaint's centring (`cx ± w // 2`) drops the last row or column of an
/// odd-sized box when `margin` is 0, leaving those hole pixels unfilled; the result here always
/// contains the box. For any margin ≥ 1 it is IOPaint's box exactly.
pub(crate) fn crop_box(rect: Rect, margin: u32, img_w: u32, img_h: u32) -> Rect {
    let (img_w, img_h) = (i64::from(img_w), i64::from(img_h));
    let margin = i64::from(margin);
    let (l, t, r, b) = (
        i64::from(rect.left),
        i64::from(rect.top),
        i64::from(rect.right),
        i64::from(rect.bottom),
    );
    let (cx, cy) = ((l + r).div_euclid(2), (t + b).div_euclid(2));
    let (w, h) = (r - l + 2 * margin, b - t + 2 * margin);
    let (l0, r0, t0, b0) = (
        cx - w.div_euclid(2),
        cx + w.div_euclid(2),
        cy - h.div_euclid(2),
        cy + h.div_euclid(2),
    );
    let (mut l, mut r, mut t, mut b) = (l0.max(0), r0.min(img_w), t0.max(0), b0.min(img_h));
    if l0 < 0 {
        r += -l0;
    }
    if r0 > img_w {
        l -= r0 - img_w;
    }
    if t0 < 0 {
        b += -t0;
    }
    if b0 > img_h {
        t -= b0 - img_h;
    }
    Rect {
        left: rect.left.min(l.max(0) as u32),
        top: rect.top.min(t.max(0) as u32),
        right: rect.right.max(r.min(img_w) as u32),
        bottom: rect.bottom.max(b.min(img_h) as u32),
    }
}

/// The crops to run a model on for the regions `boxes` (in [`boxes_from_mask`]'s order): each
/// box's [`crop_box`], except that where two crops overlap and the crop of their boxes' union
/// is at most `max_side` on each side, that one crop replaces the two, again until no such
/// pair is left.
///
/// IOPaint runs one crop per region however much the crops overlap, so a speckled mask (dust,
/// a scratch broken into dots) runs the model thousands of times over the same pixels. Crops
/// that overlap nothing are IOPaint's, in its order; `max_side` keeps a merged crop within
/// what the strategy allows at full resolution (a larger single region keeps its own crop).
pub(crate) fn merged_crop_boxes(
    boxes: &[Rect],
    margin: u32,
    max_side: u32,
    img_w: u32,
    img_h: u32,
) -> Vec<Rect> {
    let crop = |rect: Rect| crop_box(rect, margin, img_w, img_h);
    let fits = |rect: &Rect| rect.width() <= max_side && rect.height() <= max_side;
    // (union of the boxes, their crop)
    let mut groups: Vec<(Rect, Rect)> = Vec::new();
    for &rect in boxes {
        let mut group = (rect, crop(rect));
        while let Some((i, merged)) = groups.iter().enumerate().find_map(|(i, (boxes, c))| {
            if !c.overlaps(&group.1) {
                return None;
            }
            let union = boxes.union(&group.0);
            let merged = (union, crop(union));
            fits(&merged.1).then_some((i, merged))
        }) {
            groups.remove(i);
            group = merged;
        }
        groups.push(group);
    }
    groups.into_iter().map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rect(x: u32, y: u32, w: u32, h: u32) -> Rect {
        Rect {
            left: x,
            top: y,
            right: x + w,
            bottom: y + h,
        }
    }

    fn boxes(m: &GrayImage) -> Vec<Rect> {
        let (w, h) = m.dimensions();
        let mut filled: Option<Rect> = None;
        for (x, y, p) in m.enumerate_pixels() {
            if p.0[0] != 0 {
                let r = filled.get_or_insert(rect(x, y, 1, 1));
                r.left = r.left.min(x);
                r.top = r.top.min(y);
                r.right = r.right.max(x + 1);
                r.bottom = r.bottom.max(y + 1);
            }
        }
        let got = boxes_from_mask(m, filled.expect("a non-empty mask"));
        // The window is only a shortcut: the whole image gives the same boxes.
        assert_eq!(got, boxes_from_mask(m, rect(0, 0, w, h)));
        got
    }

    #[test]
    fn boxes_match_opencv_find_contours_external() {
        // The same mask through cv2.findContours(RETR_EXTERNAL) + boundingRect gives
        // [(0,15,2,3), (5,10,2,2), (14,5,5,4), (10,1,2,2), (1,1,2,2)] (x, y, w, h).
        let mut m = GrayImage::new(20, 20);
        let mut fill = |x0: u32, x1: u32, y0: u32, y1: u32, v: u8| {
            for y in y0..y1 {
                for x in x0..x1 {
                    m.put_pixel(x, y, image::Luma([v]));
                }
            }
        };
        fill(1, 3, 1, 3, 255);
        fill(10, 12, 1, 3, 255);
        fill(5, 7, 10, 12, 255);
        fill(0, 2, 15, 18, 255);
        fill(14, 19, 5, 9, 255); // a ring…
        fill(15, 18, 6, 8, 0);
        fill(16, 17, 7, 8, 255); // …with a dot inside its hole, which is not external
        assert_eq!(
            boxes(&m),
            [
                rect(0, 15, 2, 3),
                rect(5, 10, 2, 2),
                rect(14, 5, 5, 4),
                rect(10, 1, 2, 2),
                rect(1, 1, 2, 2)
            ]
        );
    }

    proptest! {
        #[test]
        fn outside_background_is_what_a_flood_fill_from_the_border_reaches(
            (w, h, fill) in (1usize..40, 1usize..40).prop_flat_map(|(w, h)| {
                (Just(w), Just(h), proptest::collection::vec(proptest::bool::weighted(0.45), w * h))
            })
        ) {
            let mut reached = vec![false; w * h];
            let mut stack: Vec<usize> = (0..w * h)
                .filter(|&p| {
                    let (x, y) = (p % w, p / w);
                    !fill[p] && (x == 0 || y == 0 || x + 1 == w || y + 1 == h)
                })
                .collect();
            for &p in &stack {
                reached[p] = true;
            }
            while let Some(p) = stack.pop() {
                for q in neighbours4(p, w, h) {
                    if !fill[q] && !reached[q] {
                        reached[q] = true;
                        stack.push(q);
                    }
                }
            }
            prop_assert_eq!(outside_background(&fill, w, h), reached);
        }
    }

    #[test]
    fn diagonal_pixels_are_one_region() {
        let mut m = GrayImage::new(5, 5);
        for (x, y) in [(0, 0), (1, 1), (4, 4)] {
            m.put_pixel(x, y, image::Luma([255]));
        }
        assert_eq!(boxes(&m), [rect(4, 4, 1, 1), rect(0, 0, 2, 2)]);
    }

    #[test]
    fn crop_box_shifts_away_from_edges() {
        // A 10×10 hole at the top-left corner of a 1000×800 image, margin 128: the box would
        // start at -123, so it is shifted right/down to keep 266 pixels of context.
        let got = crop_box(rect(0, 0, 10, 10), 128, 1000, 800);
        assert_eq!(got, rect(0, 0, 266, 266));
        let centre = crop_box(rect(400, 300, 20, 40), 128, 1000, 800);
        assert_eq!(centre, rect(272, 172, 276, 296));
        // Margin 0 around a one-pixel box: IOPaint's crop would be empty.
        assert_eq!(crop_box(rect(7, 3, 1, 1), 0, 30, 20), rect(7, 3, 1, 1));
        assert_eq!(crop_box(rect(7, 3, 3, 5), 0, 30, 20), rect(7, 3, 3, 5));
        // Larger than the image: clamped to it.
        assert_eq!(
            crop_box(rect(5, 5, 10, 10), 500, 30, 20),
            rect(0, 0, 30, 20)
        );
    }

    #[test]
    fn crops_that_overlap_nothing_are_iopaints() {
        let boxes = [rect(600, 100, 30, 40), rect(0, 400, 20, 10)];
        let crops = merged_crop_boxes(&boxes, 128, 800, 1000, 900);
        let alone: Vec<Rect> = boxes.iter().map(|&b| crop_box(b, 128, 1000, 900)).collect();
        assert_eq!(crops, alone);
    }

    #[test]
    fn overlapping_crops_become_one_around_every_region() {
        // A speckled mask: 100 one-pixel holes 10 px apart, every crop overlapping the next.
        let boxes: Vec<Rect> = (0..100)
            .map(|i| rect(300 + 10 * (i % 10), 300 + 10 * (i / 10), 1, 1))
            .collect();
        let crops = merged_crop_boxes(&boxes, 128, 800, 1600, 1200);
        assert_eq!(crops, [crop_box(rect(300, 300, 91, 91), 128, 1600, 1200)]);
    }

    #[test]
    fn merged_crops_stay_within_the_largest_side_allowed() {
        // One-pixel holes every 100 px across a 1600×1200 image: one crop would be the image.
        let boxes: Vec<Rect> = (0..16)
            .flat_map(|x| (0..12).map(move |y| rect(100 * x + 50, 100 * y + 50, 1, 1)))
            .collect();
        let crops = merged_crop_boxes(&boxes, 128, 512, 1600, 1200);
        assert!(
            crops.len() > 1 && crops.len() < boxes.len() / 4,
            "{}",
            crops.len()
        );
        for c in &crops {
            assert!(c.width() <= 512 && c.height() <= 512, "{c:?}");
        }
        for b in &boxes {
            assert!(crops.iter().any(|c| c.union(b) == *c), "{b:?} in no crop");
        }
        // A region whose own crop is larger keeps it, unmerged.
        let big = [rect(0, 0, 600, 20), rect(700, 10, 2, 2)];
        let crops = merged_crop_boxes(&big, 128, 512, 1600, 1200);
        assert_eq!(crops.len(), 2);
        assert_eq!(crops[0], crop_box(big[0], 128, 1600, 1200));
    }
}
